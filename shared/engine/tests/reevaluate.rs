//! Re-evaluation after a config change: customers who qualify under a new
//! version are upgraded as of the change, points untouched, nobody demoted,
//! once; a return that takes the qualification away reverses it as it would
//! an upgrade by an order.

use serde_json::json;
use tier_engine::*;

mod common;
use common::{at, d, order};

/// Member -> Gold at `gold` dollars of lifetime purchases, lazy.
fn program(gold: u32, version: u64) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "lifetimePurchases", "min": gold}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    });
    Program::validate(serde_json::from_value(config).unwrap())
        .unwrap()
        .with_version(version)
}

struct Book(Program);

impl RuleBook for Book {
    fn version(&self, version: u64) -> Option<&Program> {
        (version == self.0.version()).then_some(&self.0)
    }
}

fn customer_with(p: &Program, amounts: &[&str]) -> (CustomerState, Vec<OrderRecord>) {
    let mut s = CustomerState::new(p, at("2026-02-01T00:00:00Z"));
    let records = amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| {
            let when = at("2026-02-01T00:00:00Z") + chrono::Duration::days(i as i64);
            p.apply_order(&mut s, &order(&format!("o{i}"), when, amount))
                .unwrap()
                .record
        })
        .collect();
    (s, records)
}

#[test]
fn a_lowered_threshold_upgrades_who_qualifies_as_of_the_change_once() {
    let v1 = program(10000, 1);
    let (mut s, _) = customer_with(&v1, &["5000", "3000"]);
    assert_eq!(s.tier, "Silver");
    s.outbox.take();
    let points = (s.current_points, s.lifetime_points);
    let v2 = program(7500, 2);
    let change = v2.reevaluate(&mut s, at("2026-03-01T00:00:00Z")).unwrap();
    assert_eq!(
        (
            change.from.as_str(),
            change.to.as_str(),
            change.cause.as_str()
        ),
        ("Silver", "Gold", "config v2")
    );
    assert_eq!(s.tier, "Gold");
    assert_eq!((s.current_points, s.lifetime_points), points, "points stay");
    let notices = s.outbox.take();
    assert_eq!(notices.len(), 1);
    match &notices[0].kind {
        NoticeKind::Changed { criteria, .. } => assert_eq!(criteria, &["G".to_owned()]),
        other => panic!("{other:?}"),
    }
    // Again: nothing more.
    assert_eq!(v2.reevaluate(&mut s, at("2026-03-01T00:00:00Z")), None);
    assert_eq!(s.history.len(), 2);
}

#[test]
fn a_customer_who_does_not_qualify_is_left_and_nobody_is_demoted() {
    let v1 = program(10000, 1);
    let (mut s, _) = customer_with(&v1, &["5000"]);
    let before = s.clone();
    assert_eq!(
        program(7500, 2).reevaluate(&mut s, at("2026-03-01T00:00:00Z")),
        None
    );
    let (mut gold, _) = customer_with(&v1, &["6000", "5000"]);
    assert_eq!(gold.tier, "Gold");
    assert_eq!(
        program(20000, 2).reevaluate(&mut gold, at("2026-03-01T00:00:00Z")),
        None
    );
    assert_eq!(gold.tier, "Gold");
    s.last_event_at = before.last_event_at;
    assert_eq!(s, before);
}

#[test]
fn a_return_that_takes_the_qualification_away_reverses_the_reevaluation() {
    let v1 = program(10000, 1);
    let v2 = program(7500, 2);
    let book = Book(v1.clone());
    for (returned, tier) in [("400", "Gold"), ("600", "Silver")] {
        let (mut s, mut records) = customer_with(&v1, &["5000", "3000"]);
        v2.reevaluate(&mut s, at("2026-03-01T00:00:00Z")).unwrap();
        let ret = Return {
            return_id: "r".into(),
            order_id: "o1".into(),
            customer_id: "c".into(),
            returned_at: at("2026-03-02T00:00:00Z"),
            amount: Some(d(returned)),
        };
        let all = records.clone();
        let history = ReturnHistory {
            orders: &all,
            rules: &book,
        };
        v2.apply_return_judged(&mut s, &mut records[1], &ret, &history)
            .unwrap();
        assert_eq!(s.tier, tier, "$8,000 less {returned} against v2's $7,500");
    }
}
