//! The criteria the references name beyond their worked examples: trackers
//! of qualifying orders only, strict thresholds, a tracking period chosen
//! per criterion, calendar windows, and single-order progress.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tier_engine::*;

fn program(config: Value) -> Program {
    let config: ProgramConfig = serde_json::from_value(config).expect("config parses");
    Program::validate(config).expect("config is valid")
}

fn problems(config: Value) -> Vec<(String, &'static str)> {
    let config: ProgramConfig = serde_json::from_value(config).expect("config parses");
    Program::validate(config)
        .expect_err("config is invalid")
        .into_iter()
        .map(|p| (p.path, p.code))
        .collect()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn order(id: &str, placed_at: &str, amount: &str) -> Order {
    Order {
        order_id: id.into(),
        customer_id: "c".into(),
        placed_at: at(placed_at),
        status: OrderStatus::Completed,
        amount: d(amount),
        gross_amount: None,
        currency: None,
        line_items: vec![],
    }
}

fn tier(p: &Program, s: &CustomerState) -> String {
    p.tier_name(s.tier_index(p)).to_owned()
}

fn two_tiers(trackers: Value, criteria: Value) -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": trackers,
        "tiers": [
            {"name": "Base", "earnRate": "0.01"},
            {"name": "Gold", "earnRate": "0.02", "upgrade": {
                "criteria": criteria, "condition": "all", "upgradeType": "lazy"}}]
    })
}

/// "3 orders of at least $1,000 in 6 months" is one criterion; an order a
/// return brings below the minimum stops counting.
#[test]
fn a_tracker_counts_only_orders_of_the_minimum_amount() {
    let p = program(two_tiers(
        json!([{"id": "big", "measure": "visits", "period": {"months": 6},
                "filter": {"minOrderAmount": "1000"}}]),
        json!([{"id": "B", "kind": "tracker", "tracker": "big", "min": 3}]),
    ));
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    let mut records = Vec::new();
    for (id, day, amount) in [
        ("o1", "2026-02-01T00:00:00Z", "1200"),
        ("o2", "2026-02-02T00:00:00Z", "999.99"),
        ("o3", "2026-02-03T00:00:00Z", "1500"),
    ] {
        records.push(
            p.apply_order(&mut s, &order(id, day, amount))
                .unwrap()
                .record,
        );
    }
    assert_eq!(tier(&p, &s), "Base", "two qualifying orders");
    let status = p.status(&s, at("2026-02-03T00:00:00Z"));
    assert_eq!(status.trackers, vec![("big".to_owned(), d("2"))]);
    records.push(
        p.apply_order(&mut s, &order("o4", "2026-02-04T00:00:00Z", "1000"))
            .unwrap()
            .record,
    );
    assert_eq!(tier(&p, &s), "Gold", "the third order of at least $1,000");
    let all = records.clone();
    let ret = Return {
        return_id: "r".into(),
        order_id: "o3".into(),
        customer_id: "c".into(),
        returned_at: at("2026-02-05T00:00:00Z"),
        amount: Some(d("600")),
    };
    let history = ReturnHistory {
        orders: &all,
        rules: &CurrentRulesOnly,
    };
    p.apply_return_judged(&mut s, &mut records[2], &ret, &history)
        .unwrap();
    assert_eq!(
        p.status(&s, at("2026-02-05T00:00:00Z")).trackers[0].1,
        d("2"),
        "$900 left of o3 no longer qualifies"
    );
    assert_eq!(tier(&p, &s), "Base");
}

/// "More than 4 visits": `op: gt`; progress asks for one more.
#[test]
fn a_strict_threshold_needs_more_than_the_minimum() {
    let p = program(two_tiers(
        json!([{"id": "visits", "measure": "visits", "period": {"months": 12}}]),
        json!([{"id": "V", "kind": "tracker", "tracker": "visits", "min": 4, "op": "gt"}]),
    ));
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    for i in 1..=4 {
        p.apply_order(
            &mut s,
            &order(&format!("o{i}"), &format!("2026-02-0{i}T00:00:00Z"), "10"),
        )
        .unwrap();
    }
    assert_eq!(tier(&p, &s), "Base", "4 is not more than 4");
    let progress = &p.status(&s, at("2026-02-05T00:00:00Z")).progress[0].criteria[0];
    assert_eq!((progress.actual, progress.remaining), (d("4"), d("1")));
    p.apply_order(&mut s, &order("o5", "2026-02-05T00:00:00Z", "10"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold");
    let money = program(two_tiers(
        json!([]),
        json!([{"id": "P", "kind": "lifetimePurchases", "min": "1000", "op": "gt"}]),
    ));
    let mut m = CustomerState::new(&money, at("2026-01-01T00:00:00Z"));
    money
        .apply_order(&mut m, &order("o1", "2026-02-01T00:00:00Z", "1000"))
        .unwrap();
    assert_eq!(tier(&money, &m), "Base", "$1,000 is not over $1,000");
    let progress = &money.status(&m, at("2026-02-01T00:00:00Z")).progress[0].criteria[0];
    assert_eq!(progress.remaining, d("0.01"));
    money
        .apply_order(&mut m, &order("o2", "2026-02-02T00:00:00Z", "0.01"))
        .unwrap();
    assert_eq!(tier(&money, &m), "Gold");
}

/// Two criteria read one tracker's series over their own periods: a second
/// period costs no state.
#[test]
fn criteria_choose_their_own_tracking_period_over_one_series() {
    let p = program(two_tiers(
        json!([{"id": "spend", "measure": "billAmount", "period": {"months": 12}}]),
        json!([
            {"id": "Y", "kind": "tracker", "tracker": "spend", "min": "1000"},
            {"id": "M", "kind": "tracker", "tracker": "spend", "min": "500", "period": {"days": 30}}]),
    ));
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", "2026-02-01T00:00:00Z", "800"))
        .unwrap();
    p.apply_order(&mut s, &order("o2", "2026-05-01T00:00:00Z", "300"))
        .unwrap();
    assert_eq!(
        tier(&p, &s),
        "Base",
        "$1,100 in 12 months, only $300 in 30 days"
    );
    assert_eq!(s.trackers.len(), 1, "one stored series");
    let criteria = &p.status(&s, at("2026-05-01T00:00:00Z")).progress[0].criteria;
    assert_eq!(
        (criteria[0].actual, criteria[1].actual),
        (d("1100"), d("300"))
    );
    p.apply_order(&mut s, &order("o3", "2026-05-20T00:00:00Z", "200"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold", "$500 within 30 days");
}

/// A longer criterion period keeps the days the tracker's own window
/// would have dropped.
#[test]
fn a_longer_criterion_period_keeps_its_days_through_expiry() {
    let p = program(two_tiers(
        json!([{"id": "spend", "measure": "billAmount", "period": {"days": 30}}]),
        json!([{"id": "Y", "kind": "tracker", "tracker": "spend", "min": "1000", "period": {"days": 365}}]),
    ));
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", "2026-02-01T00:00:00Z", "600"))
        .unwrap();
    p.expire(&mut s, at("2026-06-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o2", "2026-06-02T00:00:00Z", "400"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold");
}

/// Calendar windows: this year (quarter, month) in UTC, not a rolling one.
#[test]
fn calendar_windows_restart_with_the_period() {
    let p = program(two_tiers(
        json!([{"id": "year", "measure": "billAmount", "period": {"calendar": "year"}},
               {"id": "quarter", "measure": "billAmount", "period": {"calendar": "quarter"}}]),
        json!([{"id": "Y", "kind": "tracker", "tracker": "year", "min": "1000"}]),
    ));
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", "2026-12-30T00:00:00Z", "700"))
        .unwrap();
    p.apply_order(&mut s, &order("o2", "2027-01-02T00:00:00Z", "400"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Base", "December's $700 is last year's");
    let status = p.status(&s, at("2027-01-02T00:00:00Z"));
    assert_eq!(
        status.trackers,
        vec![
            ("year".to_owned(), d("400")),
            ("quarter".to_owned(), d("400"))
        ]
    );
    // December's day left with the January order's write; January's leaves
    // the quarter on 1 April, which is no reason to wake the customer: the
    // windows are as of any instant, and the next write trims it.
    assert_eq!(p.next_expiry(&s), None);
    assert_eq!(
        p.status(&s, at("2027-04-01T00:00:00Z")).trackers[1].1,
        d("0")
    );
    p.apply_order(&mut s, &order("o3", "2027-03-31T00:00:00Z", "600"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold");
    let status = p.status(&s, at("2027-04-01T00:00:00Z"));
    assert_eq!(status.trackers[1].1, d("0"), "a new quarter");
}

/// A single order's progress says what it needs, not a sum to add to.
#[test]
fn single_order_progress_says_what_it_needs() {
    let p = program(two_tiers(
        json!([]),
        json!([{"id": "S", "kind": "singleOrder", "min": "1500"}]),
    ));
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", "2026-02-01T00:00:00Z", "1000"))
        .unwrap();
    let c = &p.status(&s, at("2026-02-01T00:00:00Z")).progress[0].criteria[0];
    assert_eq!((c.actual, c.remaining), (d("1000"), d("1500")));
    assert_eq!(
        c.needs.as_deref(),
        Some("one order of at least 1500; best so far 1000")
    );
}

#[test]
fn new_criteria_settings_are_validated_with_paths() {
    let found = problems(two_tiers(
        json!([{"id": "t", "measure": "visits", "period": {"days": 30, "calendar": "year"},
                "filter": {}},
               {"id": "u", "measure": "visits", "period": {"months": 1},
                "filter": {"minOrderAmount": "-1"}}]),
        json!([{"id": "P", "kind": "lifetimePurchases", "min": "1", "period": {"days": 3}},
               {"id": "T", "kind": "tracker", "tracker": "t", "min": 1, "period": {"calendar": "month", "months": 2}}]),
    ));
    assert_eq!(
        found,
        vec![
            ("/trackers/0/period".to_owned(), "invalid_period"),
            ("/trackers/0/filter".to_owned(), "invalid_filter"),
            (
                "/trackers/1/filter/minOrderAmount".to_owned(),
                "invalid_filter"
            ),
            (
                "/tiers/1/upgrade/criteria/0/period".to_owned(),
                "unexpected_period"
            ),
            (
                "/tiers/1/upgrade/criteria/1/period".to_owned(),
                "invalid_period"
            ),
        ]
    );
    let mut calendar_expiry = two_tiers(
        json!([]),
        json!([{"id": "P", "kind": "lifetimePurchases", "min": "1"}]),
    );
    calendar_expiry["pointsExpiry"] = json!({"calendar": "year"});
    assert_eq!(
        problems(calendar_expiry),
        vec![("/pointsExpiry".to_owned(), "invalid_period")]
    );
    let bad_op: Result<ProgramConfig, _> = serde_json::from_value(two_tiers(
        json!([]),
        json!([{"id": "P", "kind": "lifetimePurchases", "min": "1", "op": "lt"}]),
    ));
    assert!(bad_op.is_err());
}
