//! When the base tier was reached, as a late event leaves it: found by
//! the twenty-sixth session's census of late events (random histories,
//! one event late, against the customer fed in time).

use chrono::Duration;
use serde_json::json;
use tier_engine::*;

mod common;
use common::{at, d};

/// Member, then Silver at `silver` dollars spent (lazy).
fn silver_at(silver: u32) -> Program {
    Program::validate(
        serde_json::from_value(json!({
            "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
            "tiers": [
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1.5", "upgrade": {"criteria": [
                    {"id": "U", "kind": "lifetimePurchases", "min": silver}],
                    "condition": "all", "upgradeType": "lazy"}}
            ]
        }))
        .unwrap(),
    )
    .unwrap()
}

/// An order, or a whole return of one.
enum Ev {
    Order(String, chrono::DateTime<chrono::Utc>, &'static str),
    Return(&'static str, chrono::DateTime<chrono::Utc>),
}

fn feed(p: &Program, events: &[&Ev]) -> CustomerState {
    let first = match events[0] {
        Ev::Order(_, when, _) | Ev::Return(_, when) => *when,
    };
    let mut s = CustomerState::new(p, first);
    let mut records: Vec<OrderRecord> = Vec::new();
    for e in events {
        match e {
            Ev::Order(id, when, amount) => {
                let o = common::order(id, *when, amount);
                records.push(common::apply_as_served(p, &mut s, &records, &o).record);
            }
            Ev::Return(order, when) => {
                let r = Return {
                    return_id: format!("r{order}"),
                    order_id: (*order).into(),
                    customer_id: "c1".into(),
                    returned_at: *when,
                    amount: None,
                };
                common::give_back_among(p, &mut s, &mut records, &r).unwrap();
            }
        }
    }
    s
}

/// The customer's first order arrives after their second: in time they
/// held Member from the first, and still do.
#[test]
fn a_late_first_order_starts_the_base_tier_at_its_instant() {
    let p = silver_at(1000);
    let (first, second) = (
        Ev::Order("o1".into(), at("2024-01-02T08:00:00Z"), "300"),
        Ev::Order("o2".into(), at("2024-01-17T08:00:00Z"), "300"),
    );
    let in_time = feed(&p, &[&first, &second]);
    let late = feed(&p, &[&second, &first]);
    assert_eq!(in_time.tier_since, at("2024-01-02T08:00:00Z"));
    assert_eq!(late.tier_since, in_time.tier_since);
    assert_eq!(late.joined(), in_time.joined());
}

/// Twenty weekly $100 orders, a whole return of the last made two days
/// after it but arriving after a $200 order three days later (which, the
/// return not yet counted, made Silver at $2,150): the return takes the
/// customer back to Member, held since joining, as in time. The walk back
/// looks 16 instants far; the history says the rest.
#[test]
fn a_late_return_back_to_the_base_tier_dates_it_from_the_join() {
    let p = silver_at(2150);
    let start = at("2025-01-01T10:00:00Z");
    let mut orders: Vec<Ev> = (0..20)
        .map(|i| Ev::Order(format!("o{i}"), start + Duration::days(7 * i), "100"))
        .collect();
    let last = start + Duration::days(7 * 19);
    let ret = Ev::Return("o19", last + Duration::days(2));
    orders.push(Ev::Order("o20".into(), last + Duration::days(5), "200"));
    let mut in_time: Vec<&Ev> = orders.iter().collect();
    in_time.insert(20, &ret);
    let mut late: Vec<&Ev> = orders.iter().collect();
    late.push(&ret);
    let (in_time, late) = (feed(&p, &in_time), feed(&p, &late));
    assert_eq!(
        (in_time.tier.as_str(), late.tier.as_str()),
        ("Member", "Member")
    );
    assert_eq!(in_time.tier_since, start);
    assert_eq!(late.tier_since, in_time.tier_since);
    assert_eq!(late.lifetime_purchases, d("2100"));
}
