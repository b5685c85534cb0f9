//! Helpers the engine's test files share.

#![allow(dead_code)] // each test file uses its own part

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tier_engine::{AppliedOrder, CustomerState, Order, OrderRecord, OrderStatus, Program};

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A completed order of customer `c1` without line items.
pub fn order(id: &str, placed_at: DateTime<Utc>, amount: &str) -> Order {
    Order {
        order_id: id.into(),
        customer_id: "c1".into(),
        placed_at,
        status: OrderStatus::Completed,
        amount: d(amount),
        gross_amount: None,
        currency: None,
        line_items: vec![],
    }
}

/// Applies `o` as the service does: alone first, and again on the state as
/// it was, among the customer's other orders (`records`), when the engine
/// asks for them.
pub fn apply_as_served(
    p: &Program,
    s: &mut CustomerState,
    records: &[OrderRecord],
    o: &Order,
) -> AppliedOrder {
    let before = s.clone();
    let applied = p.apply_order(s, o).unwrap();
    if !applied.wants_orders {
        return applied;
    }
    *s = before;
    p.apply_order_among(s, o, records).unwrap()
}
