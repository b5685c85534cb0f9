//! Current points the orders no longer tell once they moved apart from
//! lifetime points, even where the two are equal again (README "Current
//! points the orders tell"). Found by the twenty-sixth session's review:
//! under `withinBalance`, or with points that expired, a return takes
//! from lifetime points more than from current points, so a customer who
//! spent points can end with the two equal; a later config version with
//! neither then read them as never spent, and counted as current points,
//! at an instant before the return, points spent or expired by then.

use serde_json::{json, Value};
use tier_engine::*;

mod common;
#[allow(dead_code)]
mod standing;
use common::{at, d};
use standing::course;

/// `base` with `extra`'s keys set, as config version `version`.
fn program(mut base: Value, extra: Value, version: u64) -> Program {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    Program::validate(serde_json::from_value(base).unwrap())
        .unwrap()
        .with_version(version)
}

/// Silver from 1,000 current points (lazy), nothing to keep it.
fn silver_by_current_points() -> Value {
    json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "U", "kind": "currentPoints", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    })
}

struct Customer {
    s: CustomerState,
    records: Vec<OrderRecord>,
}

impl Customer {
    fn new(p: &Program) -> Self {
        Customer {
            s: CustomerState::new(p, at("2024-01-01T00:00:00Z")),
            records: Vec::new(),
        }
    }
    fn order(&mut self, p: &Program, id: &str, when: &str, amount: &str) {
        let o = common::order(id, at(when), amount);
        let applied = common::apply_as_served(p, &mut self.s, &self.records, &o);
        self.records.push(applied.record);
    }
    fn redeem(&mut self, p: &Program, when: &str, points: &str) {
        let r = Redemption {
            redemption_id: format!("x{when}"),
            points: d(points),
            at: at(when),
        };
        p.redeem(&mut self.s, &r).unwrap();
    }
    fn give_back(&mut self, p: &Program, order: &str, when: &str, amount: Option<&str>) {
        let r = Return {
            return_id: format!("r{order}"),
            order_id: order.into(),
            customer_id: "c1".into(),
            returned_at: at(when),
            amount: amount.map(d),
        };
        common::give_back_among(p, &mut self.s, &mut self.records, &r).unwrap();
    }
}

/// A ($900) on 1 January, its 900 points spent (v1: redeemed; or expired
/// after a day), A returned whole on 5 January: nothing left to take from
/// current points, so both figures are 0. L ($200) placed 3 January comes
/// under v2 (neither `withinBalance` nor expiry): in time the customer
/// held 200 current points then, short of Silver; read as lifetime points
/// as they stood (A not yet returned: 1,100) they would make Silver on 3
/// January and Member again on 5 January.
#[test]
fn a_late_order_before_a_return_counts_no_points_spent_before_it() {
    let v2 = program(silver_by_current_points(), json!({}), 2);
    let within = json!({"returnPolicy": {"spentPoints": "withinBalance"}});
    let expiring = json!({"pointsExpiry": {"days": 1}});
    for (label, extra, redeems) in [("withinBalance", within, true), ("expiry", expiring, false)] {
        let v1 = program(silver_by_current_points(), extra, 1);
        let feed = |late: bool| {
            let mut c = Customer::new(&v1);
            c.order(&v1, "A", "2024-01-01T10:00:00Z", "900");
            match redeems {
                true => c.redeem(&v1, "2024-01-02T00:00:00Z", "900"),
                false => {
                    v1.expire(&mut c.s, at("2024-01-02T12:00:00Z"));
                }
            }
            if !late {
                c.order(&v1, "L", "2024-01-03T00:00:00Z", "200");
            }
            c.give_back(&v1, "A", "2024-01-05T00:00:00Z", None);
            if late {
                c.order(&v2, "L", "2024-01-03T00:00:00Z", "200");
            }
            c
        };
        let (in_time, late) = (feed(false), feed(true));
        assert_eq!(late.s.current_points, late.s.lifetime_points, "{label}");
        assert!(late.s.points_apart, "{label}");
        assert!(in_time.s.history.is_empty(), "{label}");
        assert!(late.s.history.is_empty(), "{label}: {:?}", late.s.history);
    }
}

/// Silver on one visit in 12 months, kept monthly from its start by 500
/// current points, with 20 days of grace. S ($1,000) upgrades on 1
/// January; its 1,000 points are redeemed on 2 January; the end of 1
/// February fails (a grace, no history entry); $999.999 of S returned on
/// 5 February takes its 1,000 points from lifetime points only (v1:
/// `withinBalance`, nothing left): both 0. L ($100) placed 10 January
/// comes under v2: in time the end saw 100 points and the grace ran; read
/// as lifetime points as they stood (1,100) the end would renew Silver.
#[test]
fn an_end_walked_again_counts_no_points_spent_before_it() {
    let base = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "visits", "measure": "visits", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "U", "kind": "tracker", "tracker": "visits", "min": 1}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "currentPoints", "min": 500}],
                "condition": "all", "onFail": "oneDown", "graceDays": 20}}
        ]
    });
    let within = json!({"returnPolicy": {"spentPoints": "withinBalance"}});
    let v1 = program(base.clone(), within, 1);
    let v2 = program(base, json!({}), 2);
    let feed = |late: bool| {
        let mut c = Customer::new(&v1);
        c.order(&v1, "S", "2024-01-01T10:00:00Z", "1000");
        c.redeem(&v1, "2024-01-02T00:00:00Z", "1000");
        if !late {
            c.order(&v1, "L", "2024-01-10T00:00:00Z", "100");
        }
        v1.expire(&mut c.s, at("2024-02-01T12:00:00Z"));
        c.give_back(&v1, "S", "2024-02-05T00:00:00Z", Some("999.999"));
        if late {
            c.order(&v2, "L", "2024-01-10T00:00:00Z", "100");
        }
        c
    };
    let (in_time, late) = (feed(false), feed(true));
    assert_eq!(late.s.current_points, late.s.lifetime_points);
    assert!(in_time.s.grace_until.is_some(), "in time the end failed");
    assert_eq!(late.s.grace_until, in_time.s.grace_until);
    assert_eq!(late.s.renewed_at, in_time.s.renewed_at);
    assert_eq!(course(&late.s.history), course(&in_time.s.history));
}

/// The mark is kept through the stored form, and a state without it (one
/// written before it was kept) reads as never apart. A redemption sets it
/// only where points expire: elsewhere the redemption items tell what it
/// took (`redeemed.rs`).
#[test]
fn the_mark_survives_a_json_round_trip_and_old_states_read_without_it() {
    let plain = program(silver_by_current_points(), json!({}), 1);
    let mut c = Customer::new(&plain);
    c.order(&plain, "A", "2024-01-01T10:00:00Z", "900");
    c.redeem(&plain, "2024-01-02T00:00:00Z", "100");
    assert!(!c.s.points_apart, "told by the redemption items");
    let p = program(
        silver_by_current_points(),
        json!({"pointsExpiry": {"days": 30}}),
        1,
    );
    let mut c = Customer::new(&p);
    c.order(&p, "A", "2024-01-01T10:00:00Z", "900");
    let text = serde_json::to_string(&c.s).unwrap();
    assert!(!text.contains("pointsApart"), "{text}");
    c.redeem(&p, "2024-01-02T00:00:00Z", "100");
    let text = serde_json::to_string(&c.s).unwrap();
    let back: CustomerState = serde_json::from_str(&text).unwrap();
    assert!(back.points_apart);
    let old = text.replace(",\"pointsApart\":true", "");
    assert_ne!(old, text);
    let back: CustomerState = serde_json::from_str(&old).unwrap();
    assert!(!back.points_apart);
}
