//! A late order that completes an upgrade is dated when the threshold would
//! have been crossed in time (`src/late_upgrade.rs`): the customer is run
//! twice, every order in time in one, and in the other one order only after
//! the rest, and the tier and the instant it was reached must agree.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use tier_engine::*;

mod common;
use common::{at, order};

/// Member -> Gold under one criterion (lazy: the crossing order earns at
/// the old rate, in time or late).
fn program(criterion: Value, trackers: Value) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": trackers,
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [criterion],
                "condition": "all", "upgradeType": "lazy"}},
        ]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

/// Member -> Silver ($1,000) -> Gold ($1,800 lifetime, or $1,200 in 30
/// days), dynamic: one order may cross both.
fn ladder() -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": 1000}],
                "condition": "all", "upgradeType": "dynamic"}},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": 1800},
                {"id": "B", "kind": "tracker", "tracker": "spend30d", "min": 1200}],
                "condition": {"any": 1}, "upgradeType": "dynamic"}}
        ]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

/// Silver by 700 lifetime points, paid at twice the rate once reached
/// (`dynamic`, or `eager` for `which` 6): the crossing order's rate.
fn by_points(upgrade_type: &str) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePoints", "min": 700}],
                "condition": "all", "upgradeType": upgrade_type}}
        ]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

fn shape(which: usize) -> Program {
    match which {
        4 => return ladder(),
        5 => return by_points("dynamic"),
        6 => return by_points("eager"),
        _ => {}
    }
    let trackers = json!([
        {"id": "spend30d", "measure": "billAmount", "period": {"days": 30}},
        {"id": "visits30d", "measure": "visits", "period": {"days": 30}}
    ]);
    let criterion = match which {
        0 => json!({"id": "A", "kind": "lifetimePurchases", "min": 1000}),
        1 => json!({"id": "A", "kind": "tracker", "tracker": "spend30d", "min": 1000}),
        2 => json!({"id": "A", "kind": "tracker", "tracker": "visits30d", "min": 4}),
        _ => json!({"id": "A", "kind": "lifetimePoints", "min": 1000}),
    };
    program(criterion, trackers)
}

/// Applies `orders` in the order given, each with the records of those
/// applied before it, as the service does.
fn run(p: &Program, orders: &[Order]) -> (CustomerState, Vec<OrderRecord>) {
    let mut s = CustomerState::new(p, at("2026-01-01T00:00:00Z"));
    let mut records: Vec<OrderRecord> = Vec::new();
    for o in orders {
        let applied = p.apply_order_among(&mut s, o, &records).unwrap();
        records.push(applied.record);
    }
    (s, records)
}

#[test]
fn a_late_order_completing_the_threshold_with_a_later_one_is_dated_at_the_later_one() {
    let p = shape(0);
    let a = order("a", at("2026-03-01T10:00:00Z"), "600");
    let late = order("late", at("2026-03-05T10:00:00Z"), "300");
    let b = order("b", at("2026-03-08T10:00:00Z"), "200");
    let c = order("c", at("2026-03-20T10:00:00Z"), "50");
    let (in_time, _) = run(&p, &[a.clone(), late.clone(), b.clone(), c.clone()]);
    assert_eq!(
        (in_time.tier.as_str(), in_time.tier_since),
        ("Silver", at("2026-03-08T10:00:00Z"))
    );
    let (s, _) = run(&p, &[a, b, c, late]);
    assert_eq!(
        (s.tier.as_str(), s.tier_since),
        ("Silver", in_time.tier_since)
    );
    let change = s.history.last().unwrap();
    assert_eq!(
        (change.at, change.cause.as_str()),
        (at("2026-03-08T10:00:00Z"), "order late")
    );
    // Without the others' records (the engine's plain entry point) the
    // upgrade is dated at the order's own instant, as before.
    let mut plain = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    for o in ["a", "b", "c", "late"] {
        let o = match o {
            "a" => order("a", at("2026-03-01T10:00:00Z"), "600"),
            "b" => order("b", at("2026-03-08T10:00:00Z"), "200"),
            "c" => order("c", at("2026-03-20T10:00:00Z"), "50"),
            _ => order("late", at("2026-03-05T10:00:00Z"), "300"),
        };
        p.apply_order(&mut plain, &o).unwrap();
    }
    assert_eq!(plain.tier_since, at("2026-03-05T10:00:00Z"));
}

#[test]
fn a_late_order_that_crosses_on_its_own_keeps_its_instant() {
    let p = shape(0);
    let a = order("a", at("2026-03-01T10:00:00Z"), "600");
    let late = order("late", at("2026-03-05T10:00:00Z"), "450");
    let b = order("b", at("2026-03-08T10:00:00Z"), "200");
    let (s, _) = run(&p, &[a, b, late]);
    assert_eq!(s.tier_since, at("2026-03-05T10:00:00Z"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, max_global_rejects: 100_000, .. ProptestConfig::default() })]
    /// Any orders, any one of them late: when the customer had not reached
    /// the tier before the late order came, the late customer holds the
    /// same tier from the same instant as the customer in time (lifetime,
    /// window, visit, two-tier and points rules under each upgrade type).
    #[test]
    fn a_late_upgrade_starts_when_it_would_have_in_time(
        which in 0usize..7,
        orders in proptest::collection::vec((0i64..90 * 24, 1u32..600), 2..9),
        late in 0usize..9,
    ) {
        let p = shape(which);
        let start = at("2026-03-01T00:00:00Z");
        let mut all: Vec<Order> = orders
            .iter()
            .enumerate()
            .map(|(i, (hours, dollars))| {
                order(&format!("o{i}"), start + Duration::hours(*hours), &dollars.to_string())
            })
            .collect();
        all.sort_by_key(|o| o.placed_at);
        let late = late % all.len();
        let (in_time, _) = run(&p, &all);
        let mut arrival = all.clone();
        let late_order = arrival.remove(late);
        let (before, _) = run(&p, &arrival);
        prop_assume!(before.tier == "Member");
        arrival.push(late_order);
        let (s, _) = run(&p, &arrival);
        let seen = |s: &CustomerState| -> (String, DateTime<Utc>) { (s.tier.clone(), s.tier_since) };
        prop_assert_eq!(seen(&s), seen(&in_time));
    }

    /// Any orders, any one of them late: when the customer rose after the
    /// late order's instant before it came, it is decided at the tier held
    /// then on the orders placed up to it, so it earns exactly what it
    /// would have in time, under each upgrade type.
    #[test]
    fn a_late_order_placed_before_an_upgrade_earns_what_it_would_have_in_time(
        which in 0usize..7,
        orders in proptest::collection::vec((0i64..90 * 24, 1u32..600), 2..9),
        late in 0usize..9,
    ) {
        let p = shape(which);
        let start = at("2026-03-01T00:00:00Z");
        let mut all: Vec<Order> = orders
            .iter()
            .enumerate()
            .map(|(i, (hours, dollars))| {
                order(&format!("o{i}"), start + Duration::hours(*hours), &dollars.to_string())
            })
            .collect();
        all.sort_by_key(|o| o.placed_at);
        let late = late % all.len();
        let mut arrival = all.clone();
        let late_order = arrival.remove(late);
        // Orders at the late one's instant came before it, in time too.
        let mut in_order = arrival.clone();
        let place = in_order.partition_point(|o| o.placed_at <= late_order.placed_at);
        in_order.insert(place, late_order.clone());
        let (_, in_time) = run(&p, &in_order);
        let (before, _) = run(&p, &arrival);
        prop_assume!(before.history.iter().any(|c| c.at > late_order.placed_at));
        let id = late_order.order_id.clone();
        arrival.push(late_order);
        let (_, records) = run(&p, &arrival);
        let points = |records: &[OrderRecord]| {
            records.iter().find(|r| r.order_id == id).map(|r| r.points_awarded)
        };
        prop_assert_eq!(points(&records), points(&in_time));
    }
}

/// The late order was paid Silver's rate on the part above the threshold
/// only because the later order let it cross; at its own instant its
/// points count at Member's rate, so Silver comes with the later order.
#[test]
fn a_late_order_paid_a_higher_rate_counts_its_points_at_the_rate_held_before() {
    let p = shape(5);
    let late = order("late", at("2026-03-01T00:00:00Z"), "492");
    let b = order("b", at("2026-03-01T01:00:00Z"), "416");
    let (in_time, _) = run(&p, &[late.clone(), b.clone()]);
    assert_eq!(in_time.tier_since, at("2026-03-01T01:00:00Z"));
    let (s, _) = run(&p, &[b, late]);
    assert_eq!(s.tier_since, in_time.tier_since);
}
