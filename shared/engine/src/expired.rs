//! What expiry took, remembered a while for events that arrive late.
//!
//! A return or redemption made before points expired but arriving after
//! the expiry (the job or a later event expired them first) would, in time,
//! have taken points that then did not expire. Expiry has already taken
//! them from current points, so the late event must not take them again.
//! The state keeps, for [`EXPIRED_KEPT_DAYS`] after each expiry, how many
//! points it took of each day's lot and the day it took them
//! ([`ExpiredLot`]); a late event takes from those first
//! ([`CustomerState::cover_from_expired`]), each part once.

use crate::decimal::Points;
use crate::period::DayNumber;
use crate::state::CustomerState;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How long after an expiry what it took is remembered: a late return or
/// redemption arriving within this many days of the expiry is counted as in
/// time (docs/late-events.md). A customer who earns every day keeps about
/// this many entries.
pub const EXPIRED_KEPT_DAYS: DayNumber = 31;

/// Points expiry took of one day's lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiredLot {
    /// The day the points were earned.
    pub day: DayNumber,
    /// The day they expired, as the period in force then had it (a later
    /// config with another period does not move it).
    pub expired_on: DayNumber,
    pub points: Points,
}

/// How a late event took its points in time, to tell which part came from
/// lots that have expired since.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cover {
    /// A return of an order earned on `own_day` takes that lot first, then
    /// the newest lots there were when it was made. What they could not
    /// give was owed: a balance below zero may have let lots earned after
    /// it expire less (expiry takes no more than the balance), by how much
    /// depends on the balance at each expiry, which is not kept, so the
    /// owed part is taken from current points.
    Return { own_day: DayNumber },
    /// A redemption spends the lots there were when it was made, oldest
    /// first.
    Redemption,
}

impl CustomerState {
    /// Notes that expiry took `points` of the lot earned on `day`, on
    /// `expired_on`: at most one entry for each day, and nothing that
    /// [`CustomerState::forget_expired`] would forget at once.
    pub(crate) fn note_expired(&mut self, day: DayNumber, expired_on: DayNumber, points: Points) {
        if points <= Decimal::ZERO || expired_on < self.expired_horizon(expired_on) {
            return;
        }
        let at = self.expired_lots.partition_point(|l| l.day < day);
        match self.expired_lots.get_mut(at) {
            Some(lot) if lot.day == day => lot.points += points,
            _ => self.expired_lots.insert(
                at,
                ExpiredLot {
                    day,
                    expired_on,
                    points,
                },
            ),
        }
    }

    /// Forgets what expired more than [`EXPIRED_KEPT_DAYS`] before `today`
    /// or the customer's latest instant, whichever is later (so late events
    /// at old instants keep nothing that old).
    pub(crate) fn forget_expired(&mut self, today: DayNumber) {
        if self.expired_lots.is_empty() {
            return;
        }
        let horizon = self.expired_horizon(today);
        self.expired_lots.retain(|l| l.expired_on >= horizon);
    }

    fn expired_horizon(&self, today: DayNumber) -> DayNumber {
        let latest = self
            .last_event_at
            .map_or(today, crate::period::day_of)
            .max(today);
        latest.saturating_sub(EXPIRED_KEPT_DAYS)
    }

    /// Of `points` taken by an event made on day `on` that arrives late,
    /// the part that lots which expired after `on` would have given (see
    /// [`Cover`]); the rest comes from lots still there, or current points.
    /// Each part given is gone from the record, so nothing is covered
    /// twice. Returns the parts by the day each lot expired.
    pub(crate) fn cover_from_expired(
        &mut self,
        points: Points,
        on: DayNumber,
        cover: Cover,
    ) -> Vec<(DayNumber, Points)> {
        let mut left = points.max(Decimal::ZERO);
        let since = |l: &ExpiredLot| l.expired_on > on;
        let mut covered = Vec::new();
        let mut take = |lots: &mut VecDeque<ExpiredLot>,
                        pick: &dyn Fn(&ExpiredLot) -> bool,
                        newest_first: bool,
                        left: &mut Points| {
            let mut order: Vec<usize> = (0..lots.len()).filter(|i| pick(&lots[*i])).collect();
            if newest_first {
                order.reverse();
            }
            for i in order {
                if left.is_zero() {
                    break;
                }
                let lot = &mut lots[i];
                let part = (*left).min(lot.points.max(Decimal::ZERO));
                lot.points -= part;
                *left -= part;
                if !part.is_zero() {
                    covered.push((lot.expired_on, part));
                }
            }
        };
        match cover {
            Cover::Redemption => {
                take(
                    &mut self.expired_lots,
                    &|l| since(l) && l.day <= on,
                    false,
                    &mut left,
                );
            }
            Cover::Return { own_day } => {
                // The lots still there give first, as in time: the own lot,
                // then those of the days up to the return.
                let live = |pick: &dyn Fn(DayNumber) -> bool| -> Points {
                    self.lots
                        .iter()
                        .filter(|l| pick(l.day))
                        .map(|l| l.points)
                        .sum()
                };
                left -= left.min(live(&|d| d == own_day));
                take(
                    &mut self.expired_lots,
                    &|l| since(l) && l.day == own_day,
                    false,
                    &mut left,
                );
                left -= left.min(live(&|d| d != own_day && d <= on));
                take(
                    &mut self.expired_lots,
                    &|l| since(l) && l.day <= on,
                    true,
                    &mut left,
                );
            }
        }
        self.expired_lots.retain(|l| l.points > Decimal::ZERO);
        covered
    }
}

/// Stored as `[day difference, days to the expiry, points]` triples: small,
/// and the middle figure is the same for every lot of one period.
pub mod delta_expired {
    use super::ExpiredLot;
    use crate::period::DayNumber;
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::VecDeque;

    pub fn serialize<S: Serializer>(lots: &VecDeque<ExpiredLot>, s: S) -> Result<S::Ok, S::Error> {
        let mut previous: DayNumber = 0;
        let triples: Vec<(i64, i64, Decimal)> = lots
            .iter()
            .map(|l| {
                let delta = i64::from(l.day) - i64::from(previous);
                previous = l.day;
                (delta, i64::from(l.expired_on) - i64::from(l.day), l.points)
            })
            .collect();
        triples.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VecDeque<ExpiredLot>, D::Error> {
        let triples: Vec<(i64, i64, Decimal)> = Deserialize::deserialize(d)?;
        let mut day: i64 = 0;
        let mut out = Vec::with_capacity(triples.len());
        for (delta, to_expiry, points) in triples {
            day = day
                .checked_add(delta)
                .ok_or_else(|| serde::de::Error::custom("expired lot day out of range"))?;
            let expired_on = day
                .checked_add(to_expiry)
                .ok_or_else(|| serde::de::Error::custom("expired lot day out of range"))?;
            let in_range = |n: i64| DayNumber::try_from(n).ok();
            let (Some(day), Some(expired_on)) = (in_range(day), in_range(expired_on)) else {
                return Err(serde::de::Error::custom("expired lot day out of range"));
            };
            out.push(ExpiredLot {
                day,
                expired_on,
                points,
            });
        }
        // What the engine writes is sorted, one entry a day, all positive.
        // Anything else (a damaged item) is read as the nearest such list
        // rather than refused: the customer must stay readable.
        let mut lots: Vec<ExpiredLot> = out
            .into_iter()
            .filter(|l| l.points > Decimal::ZERO)
            .collect();
        lots.sort_by_key(|l| l.day);
        lots.dedup_by(|later, kept| {
            let same = later.day == kept.day;
            if same {
                kept.points += later.points;
            }
            same
        });
        Ok(lots.into())
    }
}
