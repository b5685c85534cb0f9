//! Helpers the engine's test files share.

#![allow(dead_code)] // each test file uses its own part

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tier_engine::{
    AppliedOrder, AppliedReturn, CurrentRulesOnly, CustomerState, EngineError, Order, OrderRecord,
    OrderStatus, Program, Return, ReturnHistory, RuleBook,
};

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

/// Applies `ret` to its order among `records` (the customer's orders, the
/// returned one updated in place), judged under the current rules.
pub fn give_back_among(
    p: &Program,
    s: &mut CustomerState,
    records: &mut Vec<OrderRecord>,
    ret: &Return,
) -> Result<AppliedReturn, EngineError> {
    give_back_under(p, s, records, ret, &CurrentRulesOnly)
}

/// [`give_back_among`], each upgrade judged under the version of `rules`
/// it was decided under.
pub fn give_back_under(
    p: &Program,
    s: &mut CustomerState,
    records: &mut Vec<OrderRecord>,
    ret: &Return,
    rules: &dyn RuleBook,
) -> Result<AppliedReturn, EngineError> {
    let i = records
        .iter()
        .position(|r| r.order_id == ret.order_id)
        .unwrap();
    let mut record = records.remove(i);
    let history = ReturnHistory {
        orders: records,
        rules,
    };
    let out = p.apply_return_judged(s, &mut record, ret, &history);
    records.insert(i, record);
    out
}

/// The properties' orders, one every `hours` after 1 March, in time order.
pub fn orders_of(seeds: &[(i64, u32)]) -> Vec<Order> {
    let start = at("2026-03-01T00:00:00Z");
    let mut all: Vec<Order> = seeds
        .iter()
        .enumerate()
        .map(|(i, (hours, dollars))| {
            order(
                &format!("o{i}"),
                start + Duration::hours(*hours),
                &dollars.to_string(),
            )
        })
        .collect();
    all.sort_by_key(|o| o.placed_at);
    all
}

/// A program from 1 January 2026 in dollars: `tiers`, `trackers`, points
/// expiring as `expiry` says (null: never), a return of spent points taken
/// as `spent_points` says.
pub fn program_expiring(
    tiers: Value,
    trackers: Value,
    expiry: Value,
    spent_points: &str,
) -> Program {
    let mut config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "returnPolicy": {"spentPoints": spent_points},
        "trackers": trackers,
        "tiers": tiers,
    });
    if !expiry.is_null() {
        config["pointsExpiry"] = expiry;
    }
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

/// An upgrade rule.
pub fn rule(criteria: Value, condition: Value, upgrade_type: &str) -> Value {
    json!({"criteria": criteria, "condition": condition, "upgradeType": upgrade_type})
}

/// Criterion P: `min` current points.
pub fn current_points(min: u32) -> Value {
    json!({"id": "P", "kind": "currentPoints", "min": min})
}

/// Member and Silver, both earning `rate` a dollar, Silver by `silver`.
pub fn member_and_silver(rate: &str, silver: Value) -> Value {
    json!([{"name": "Member", "earnRate": rate}, {"name": "Silver", "earnRate": rate, "upgrade": silver}])
}

/// The first shapes of the expiry attacks (`which` below 3): Silver from
/// 1,000 current points, lazy, then eager, then from 700, dynamic.
pub fn silver_by_current_points(which: usize) -> Value {
    let (min, upgrade_type) = [(1000, "lazy"), (1000, "eager"), (700, "dynamic")][which];
    member_and_silver(
        "1",
        rule(json!([current_points(min)]), json!("all"), upgrade_type),
    )
}
