//! Helpers the engine's test files share.

#![allow(dead_code)] // each test file uses its own part

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tier_engine::{Order, OrderStatus};

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
