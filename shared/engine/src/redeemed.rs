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
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// One redemption as stored: its instant and the points it spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redeemed {
    pub at: DateTime<Utc>,
    pub points: Points,
}

/// Every redemption of a customer, by instant: what a decision read, never
/// stored with the state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redemptions(Arc<[Redeemed]>);

impl Redemptions {
    pub fn new(mut redeemed: Vec<Redeemed>) -> Self {
        redeemed.sort_by_key(|r| r.at);
        Redemptions(redeemed.into())
    }

    /// What every redemption spent.
    pub fn total(&self) -> Points {
        self.0.iter().map(|r| r.points).sum()
    }

    /// What the redemptions made before `at` spent.
    pub fn before(&self, at: DateTime<Utc>) -> Points {
        self.0[..self.count_before(at)]
            .iter()
            .map(|r| r.points)
            .sum()
    }

    /// Whether one was made at `at`.
    pub(crate) fn any_at(&self, at: DateTime<Utc>) -> bool {
        self.0[self.count_before(at)..]
            .first()
            .is_some_and(|r| r.at == at)
    }

    /// How many were made before `at`.
    pub(crate) fn count_before(&self, at: DateTime<Utc>) -> usize {
        self.0.partition_point(|r| r.at < at)
    }

    pub(crate) fn as_slice(&self) -> &[Redeemed] {
        &self.0
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
