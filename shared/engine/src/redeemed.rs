//! The customer's redemptions, read beside their orders when a rule counts
//! current points.
//!
//! A redemption takes from current points alone, so once a customer spent
//! points their orders no longer tell their current points as of an
//! instant. In a program where no points expire and a return of spent
//! points is owed (`negativeBalance`), nothing else takes from one figure
//! alone: current points at any instant are the lifetime points the orders
//! tell then less what was redeemed before it. The service reads the
//! redemption items with the orders for such a customer; every replay of
//! the orders (`net_walk.rs`, `late_ends.rs`) then counts them at their
//! instants.
//!
//! A redemption of an order's very instant comes after the order, but
//! where the order was decided after it (`OrderRecord::after_redemption`:
//! the redemption was the customer's latest event of that instant then).

use crate::decimal::Points;
use crate::period::{day_of, DayNumber};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// One redemption as stored: its instant and the points it spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redeemed {
    pub at: DateTime<Utc>,
    pub points: Points,
}

/// Every redemption of a customer, by instant: what a decision read, never
/// stored with the state. What the first `n` spent is kept for every `n`:
/// the replays ask it at every instant they judge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redemptions {
    list: Arc<[Redeemed]>,
    /// What the first `i + 1` spent, at `i`.
    spent_through: Arc<[Points]>,
}

impl Redemptions {
    pub fn new(mut redeemed: Vec<Redeemed>) -> Self {
        redeemed.sort_by_key(|r| r.at);
        let spent_through = redeemed
            .iter()
            .scan(Points::ZERO, |spent, r| {
                *spent += r.points;
                Some(*spent)
            })
            .collect();
        Redemptions {
            list: redeemed.into(),
            spent_through,
        }
    }

    /// What every redemption spent.
    pub fn total(&self) -> Points {
        self.spent_through.last().copied().unwrap_or_default()
    }

    /// What the redemptions made before `at` spent.
    pub fn before(&self, at: DateTime<Utc>) -> Points {
        match self.count_before(at) {
            0 => Points::ZERO,
            n => self.spent_through[n - 1],
        }
    }

    /// Whether one was made on a day before `day`.
    pub(crate) fn any_before_day(&self, day: DayNumber) -> bool {
        self.list.first().is_some_and(|r| day_of(r.at) < day)
    }

    /// Whether one was made at `at`.
    pub(crate) fn any_at(&self, at: DateTime<Utc>) -> bool {
        self.list[self.count_before(at)..]
            .first()
            .is_some_and(|r| r.at == at)
    }

    /// How many were made before `at`.
    pub(crate) fn count_before(&self, at: DateTime<Utc>) -> usize {
        self.list.partition_point(|r| r.at < at)
    }

    pub(crate) fn as_slice(&self) -> &[Redeemed] {
        &self.list
    }
}

/// The instant before which the redemptions count against an order placed
/// `at`: those of its instant too when it was decided after one.
pub(crate) fn spent_by(at: DateTime<Utc>, after_redemption: bool) -> DateTime<Utc> {
    match after_redemption {
        true => at + Duration::nanoseconds(1),
        false => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept sums answer what summing the redemptions again would, at
    /// every instant between, at and around theirs, ties included.
    #[test]
    fn the_kept_sums_are_the_sums() {
        let at = |h: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::hours(h);
        let list: Vec<Redeemed> = [(5, "1.5"), (1, "2"), (5, "0.25"), (9, "10")]
            .iter()
            .map(|(h, p)| Redeemed {
                at: at(*h),
                points: p.parse().unwrap(),
            })
            .collect();
        let r = Redemptions::new(list.clone());
        for h in 0..12 {
            let plain: Points = list.iter().filter(|x| x.at < at(h)).map(|x| x.points).sum();
            assert_eq!(r.before(at(h)), plain, "before hour {h}");
            assert_eq!(
                r.any_at(at(h)),
                list.iter().any(|x| x.at == at(h)),
                "at hour {h}"
            );
        }
        assert_eq!(r.total(), "13.75".parse::<Points>().unwrap());
        assert_eq!(Redemptions::new(vec![]).total(), Points::ZERO);
        assert_eq!(Redemptions::new(vec![]).before(at(3)), Points::ZERO);
    }
}
