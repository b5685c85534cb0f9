//! The scheduled job's rules: points expire `pointsExpiry` after the day they
//! were earned (oldest first), and tracker days that have left every window
//! are dropped. Expiring twice for the same moment changes nothing more.

use crate::period::{date_of, day_of, DayNumber};
use crate::program::Program;
use crate::state::CustomerState;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    pub points: Decimal,
    pub tracker_days: usize,
}

impl Expired {
    pub fn changed(&self) -> bool {
        !self.points.is_zero() || self.tracker_days > 0
    }
}

impl Program {
    pub fn expire(&self, state: &mut CustomerState, now: DateTime<Utc>) -> Expired {
        let today = day_of(now);
        state.saw_event(now);
        let mut expired = Expired::default();
        if let Some(period) = self.config().points_expiry {
            while let Some(lot) = state.lots.front() {
                if period.forward_from(lot.day) > today {
                    break;
                }
                let gone = lot.points.min(state.current_points.max(Decimal::ZERO));
                state.current_points -= gone;
                expired.points += gone;
                state.lots.pop_front();
            }
        }
        for (tracker, series) in self.trackers().iter().zip(state.trackers.iter_mut()) {
            let first = tracker.kept_from(today);
            let before = series.len();
            if series.drop_before(first) {
                expired.tracker_days += before - series.len();
            }
        }
        expired
    }

    /// The customer's points by the day they expire, soonest first (points
    /// expire oldest first, so a day's figure is at most what is left).
    pub fn expiring_points(&self, state: &CustomerState) -> Vec<(NaiveDate, Decimal)> {
        let Some(period) = self.config().points_expiry else {
            return Vec::new();
        };
        let mut left = state.current_points.max(Decimal::ZERO);
        let mut out: Vec<(NaiveDate, Decimal)> = Vec::new();
        for lot in &state.lots {
            let points = lot.points.min(left);
            if points <= Decimal::ZERO {
                break;
            }
            left -= points;
            let on = date_of(period.forward_from(lot.day));
            match out.last_mut() {
                Some((day, sum)) if *day == on => *sum += points,
                _ => out.push((on, points)),
            }
        }
        out
    }

    /// The first day on which something of this customer expires: the key of
    /// the sparse index the scheduled job reads instead of scanning.
    pub fn next_expiry(&self, state: &CustomerState) -> Option<NaiveDate> {
        let points = self
            .config()
            .points_expiry
            .and_then(|p| state.lots.front().map(|l| p.forward_from(l.day)));
        let trackers = self
            .trackers()
            .iter()
            .zip(&state.trackers)
            .filter_map(|(t, s)| s.first_day().map(|d| t.leaves_all(d)));
        points
            .into_iter()
            .chain(trackers)
            .min()
            .map(|d: DayNumber| date_of(d))
    }
}
