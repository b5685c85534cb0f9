//! A customer's history as the service heard it: each event with the
//! instant it arrived, in arrival order.

use chrono::{DateTime, Utc};
use tier_engine::{Order, Redemption, Return};

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An order event with the status it arrived with: a first sighting, a
    /// pending order completing, or an order cancelled (a completed one is
    /// then returned in full, effective the event's instant).
    Order(Order),
    Return(Return),
    Redemption(Redemption),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When the service decided the event: an order's `placedAt`, a
    /// return's `returnedAt`, a redemption's `at`, a cancellation's arrival.
    pub at: DateTime<Utc>,
    /// Ties at one instant are taken in this order.
    pub seq: u64,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerHistory {
    pub customer_id: String,
    pub events: Vec<Event>,
}

impl CustomerHistory {
    /// Puts the events in the order they are replayed: by instant, then
    /// by `seq`.
    pub fn sort(&mut self) {
        self.events.sort_by_key(|e| (e.at, e.seq));
    }

    /// Only the events at or after `from` and before `to`.
    pub fn window(&mut self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) {
        self.events
            .retain(|e| from.is_none_or(|f| e.at >= f) && to.is_none_or(|t| e.at < t));
    }
}
