//! Adversarial tests of tier validity: long idle customers, stale grace,
//! returns after a move down, grace longer than a period, odd fixed dates,
//! states stored before the validity fields existed, and judging in steps
//! or at once over several tiers that all lapse.

use chrono::Duration;
use proptest::prelude::*;
use serde_json::{json, Value};
use tier_engine::*;

mod common;
use common::{at, d, order};

fn build(config: Value) -> Program {
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

fn tier(p: &Program, s: &CustomerState) -> String {
    p.tier_name(s.tier_index(p)).to_owned()
}

/// Silver and Gold by 12-month spend; both kept by `keep` (merged over a
/// rule kept by $1 of lifetime purchases, monthly from the tier start).
fn three_tiers(start: &str, silver: Value, gold: Value) -> Program {
    let rule = |over: &Value| {
        let mut r = json!({
            "validity": {"months": 1, "from": "tierStart"},
            "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 1}],
            "condition": "all",
            "onFail": "oneDown"
        });
        for (k, v) in over.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    build(json!({
        "currency": "USD", "startDate": start,
        "trackers": [
            {"id": "spend12m", "measure": "billAmount", "period": {"months": 12}},
            {"id": "spend1m", "measure": "billAmount", "period": {"months": 1}}
        ],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "tracker", "tracker": "spend12m", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": rule(&silver)},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "tracker", "tracker": "spend12m", "min": 10000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": rule(&gold)}
        ]
    }))
}

// ---------------------------------------------------------------- bugs

/// A customer idle from 1970 to 2199 with a monthly validity that always
/// renews has ~2,760 period ends to judge; one `expire` must leave the
/// customer judged up to `now`, and a second `expire` at the same instant
/// must change nothing.
#[test]
fn an_idle_customer_over_the_whole_supported_range_is_judged_up_to_now() {
    let p = three_tiers("1970-01-01T00:00:00Z", json!({}), json!({}));
    let mut s = CustomerState::new(&p, at("1970-01-02T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", at("1970-01-02T00:00:00Z"), "3000"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Silver");
    let now = at("2199-12-01T00:00:00Z");
    p.expire(&mut s, now);
    let until = p.valid_until(&s).unwrap();
    assert!(until > now, "valid until {until}, in the past of {now}");
    let again = p.expire(&mut s, now);
    assert!(
        !again.changed(),
        "a second expire at {now} changed {again:?}"
    );
}

/// A recovery during a grace longer than the period renews "as from the end
/// of the period that ran out": the next end is then already past, and the
/// customer who just met the condition is judged again at an instant
/// before their recovering order.
#[test]
fn a_recovery_in_a_grace_longer_than_the_period_leaves_an_end_in_the_past() {
    let keep = json!({
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend1m", "min": 1000}],
        "graceDays": 60
    });
    let p = three_tiers("2026-01-01T00:00:00Z", keep.clone(), keep);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", at("2026-01-01T00:00:00Z"), "3000"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Silver");
    // Ends 2026-02-01 with nothing in the last month: grace to 2026-04-02.
    p.expire(&mut s, at("2026-02-01T00:00:00Z"));
    assert_eq!(p.in_grace_until(&s), Some(at("2026-04-02T00:00:00Z")));
    let when = at("2026-03-15T00:00:00Z");
    p.apply_order(&mut s, &order("o2", when, "1000")).unwrap();
    assert_eq!(p.in_grace_until(&s), None, "recovered");
    let next = p.next_validity_instant(&s).unwrap();
    assert!(
        next > when,
        "renewed at {when} but the next end is {next}, already past"
    );
}

/// A customer moved down by retention who is upgraded again by a new order
/// and returns that order: the return must take back the upgrade it caused.
/// `rejudged_tier` replays orders and admin actions only, so the earlier
/// orders lift the replay back to the old tier and the return changes
/// nothing.
#[test]
fn returning_the_order_that_re_upgraded_after_a_retention_move_takes_it_back() {
    let gold_keep = json!({
        "validity": {"months": 12, "from": "tierStart"},
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend12m", "min": 8000}],
        "onFail": "qualified"
    });
    let p = three_tiers("2026-01-01T00:00:00Z", json!({}), gold_keep);
    let mut s = CustomerState::new(&p, at("2026-01-05T00:00:00Z"));
    let o1 = p
        .apply_order(&mut s, &order("o1", at("2026-01-05T00:00:00Z"), "10000"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold");
    p.expire(&mut s, at("2027-01-05T00:00:00Z"));
    assert_eq!(tier(&p, &s), "Member");
    let o2 = p
        .apply_order(&mut s, &order("o2", at("2027-02-01T00:00:00Z"), "10000"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold");
    let mut record = o2.record.clone();
    let orders = vec![o1.record.clone(), o2.record.clone()];
    let ret = Return {
        return_id: "r1".into(),
        order_id: "o2".into(),
        customer_id: "c1".into(),
        returned_at: at("2027-02-10T00:00:00Z"),
        amount: None,
    };
    let history = ReturnHistory {
        orders: &orders,
        rules: &CurrentRulesOnly,
    };
    p.apply_return_judged(&mut s, &mut record, &ret, &history)
        .unwrap();
    // Nothing spent in the last 12 months and the upgrading order returned.
    assert_eq!(tier(&p, &s), "Member");
}

// ---------------------------------------------------------- held attacks

#[test]
fn fixed_dates_at_the_edges_of_the_year_end_on_that_day() {
    for (day, reached, first_end, second_end) in [
        (
            "--12-31",
            "2026-12-31T00:00:00Z",
            "2027-12-31T00:00:00Z",
            "2028-12-31T00:00:00Z",
        ),
        (
            "--12-31",
            "2026-12-31T00:00:01Z",
            "2028-12-31T00:00:00Z",
            "2029-12-31T00:00:00Z",
        ),
        (
            "--01-01",
            "2026-12-31T23:59:59Z",
            "2028-01-01T00:00:00Z",
            "2029-01-01T00:00:00Z",
        ),
        (
            "--02-28",
            "2027-02-28T12:00:00Z",
            "2029-02-28T00:00:00Z",
            "2030-02-28T00:00:00Z",
        ),
        (
            "--02-28",
            "2027-03-01T00:00:00Z",
            "2029-02-28T00:00:00Z",
            "2030-02-28T00:00:00Z",
        ),
    ] {
        let silver = json!({"validity": {"months": 12, "from": {"fixedDate": day}}});
        let p = three_tiers("2026-01-01T00:00:00Z", silver, json!({}));
        let mut s = CustomerState::new(&p, at(reached));
        p.apply_order(&mut s, &order("o1", at(reached), "3000"))
            .unwrap();
        assert_eq!(p.valid_until(&s), Some(at(first_end)), "{day} {reached}");
        let e = p.expire(&mut s, at(first_end));
        assert_eq!(e.changes.len(), 1);
        assert_eq!(e.changes[0].cause, "renewed");
        assert_eq!(p.valid_until(&s), Some(at(second_end)), "{day} {reached}");
    }
}

#[test]
fn validity_ends_past_the_supported_dates_never_panic() {
    for from in [
        json!("tierStart"),
        json!("programJoin"),
        json!({"fixedDate": "--12-31"}),
        json!({"fixedDate": "--01-01"}),
    ] {
        let silver = json!({"validity": {"months": 1200, "from": from}, "graceDays": 366,
            "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend12m", "min": 1}],
            "warnDaysBefore": [366, 1]});
        let p = three_tiers("1970-01-01T00:00:00Z", silver, json!({}));
        let mut s = CustomerState::new(&p, at("2199-12-31T23:59:59Z"));
        p.apply_order(&mut s, &order("o1", at("2199-12-31T23:59:59Z"), "3000"))
            .unwrap();
        assert_eq!(tier(&p, &s), "Silver");
        let end = p.valid_until(&s).unwrap();
        assert!(end > at("2299-12-01T00:00:00Z"));
        // The job long after: judged, grace, moved down.
        let far = end + Duration::days(400);
        let e = p.expire(&mut s, far);
        assert_eq!(tier(&p, &s), "Member", "{from}: {e:?}");
        let _ = p.status(&s, far);
        assert!(p.next_expiry(&s).is_none());
    }
}

#[test]
fn odd_fixed_date_strings_are_refused_by_the_parser() {
    for date in [
        "",
        "--",
        "---",
        "--01",
        "--01-",
        "--01-1",
        "--1-01",
        "--001-01",
        "--01-001",
        "--00-01",
        "--01-00",
        "--01-32",
        "--02-29",
        "--02-30",
        "--04-31",
        "--13-01",
        "--99-99",
        "01-01",
        "-01-01",
        "---01-01",
        "--01-01 ",
        " --01-01",
        "--01-01T00",
        "--０１-01",
        "--é-01",
        "--01--1",
        "--0x-01",
        "--01/01",
        "2026-01-01",
        "--+1-01",
        "--01-+1",
        "--\u{0}1-01",
    ] {
        let v = json!({"months": 12, "from": {"fixedDate": date}});
        let r = serde_json::from_value::<Validity>(v);
        assert!(r.is_err(), "{date:?} accepted as {r:?}");
    }
    for (date, m, dd) in [("--01-01", 1, 1), ("--12-31", 12, 31), ("--02-28", 2, 28)] {
        let v = json!({"months": 12, "from": {"fixedDate": date}});
        let r: Validity = serde_json::from_value(v).unwrap();
        assert_eq!(
            r.from,
            ValidityFrom::FixedDate(MonthDay { month: m, day: dd })
        );
    }
}

#[test]
fn hostile_retention_shapes_are_refused_without_panicking() {
    let good = json!({
        "validity": {"months": 12, "from": "tierStart"},
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend12m", "min": 2000}],
        "condition": "all", "onFail": "oneDown"
    });
    let hostile: Vec<(&str, Value)> = vec![
        ("validity", json!({"months": -1, "from": "tierStart"})),
        (
            "validity",
            json!({"months": 4294967296u64, "from": "tierStart"}),
        ),
        ("validity", json!({"months": 1201, "from": "tierStart"})),
        (
            "validity",
            json!({"months": 4294967295u32, "from": "programJoin"}),
        ),
        ("validity", json!({"months": 1.5, "from": "tierStart"})),
        ("validity", json!({"months": "12", "from": "tierStart"})),
        ("validity", json!({"months": 12})),
        (
            "validity",
            json!({"months": 12, "from": "tierStart", "x": 1}),
        ),
        (
            "validity",
            json!({"months": 12, "from": {"fixedDate": 101}}),
        ),
        (
            "validity",
            json!({"months": 12, "from": {"fixedDate": null}}),
        ),
        (
            "validity",
            json!({"months": 12, "from": {"fixedDate": "--01-01", "x": 1}}),
        ),
        (
            "validity",
            json!({"months": 12, "from": {"other": "--01-01"}}),
        ),
        ("validity", json!({"months": 12, "from": "fixedDate"})),
        ("validity", json!([12, "tierStart"])),
        ("validity", json!(null)),
        ("graceDays", json!(-1)),
        ("graceDays", json!(4294967295u32)),
        ("graceDays", json!(1e300)),
        ("warnDaysBefore", json!([4294967295u32])),
        ("warnDaysBefore", json!([-1])),
        ("warnDaysBefore", json!(7)),
        ("onFail", json!("ONEDOWN")),
        ("onFail", json!(null)),
        ("criteria", json!({})),
        (
            "criteria",
            json!([{"id": "A", "kind": "tracker", "tracker": "spend12m", "min": 1, "upgradeType": "lazy"}]),
        ),
        ("condition", json!({"custom": "B"})),
        ("extra", json!(1)),
    ];
    for (k, v) in hostile {
        let mut r = good.clone();
        r[k] = v.clone();
        let config = json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
            "tiers": [
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "2", "retention": r}
            ]
        });
        let ok = serde_json::from_value::<ProgramConfig>(config)
            .ok()
            .map(Program::validate);
        assert!(!matches!(ok, Some(Ok(_))), "{k} = {v} accepted");
    }
}

/// A state item written before `joinedAt`, `renewedAt` and `graceUntil`
/// existed loads, and anniversaries count from the earliest instant it
/// knows.
#[test]
fn a_state_stored_before_the_validity_fields_loads_and_lapses_sensibly() {
    let silver = json!({"validity": {"months": 12, "from": "programJoin"}});
    let p = three_tiers("2026-01-01T00:00:00Z", silver, json!({}));
    let old = json!({
        "tier": "Silver",
        "tierSince": "2026-05-20T00:00:00Z",
        "currentPoints": "6000",
        "lifetimePoints": "6000",
        "lifetimePurchases": "3000",
        "history": [{"from": "Member", "to": "Silver", "at": "2026-05-20T00:00:00Z",
                     "cause": "order o1", "configVersion": 0}],
        "ordersApplied": 1
    });
    let mut s: CustomerState = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(s.joined_at, None);
    assert_eq!(s.renewed_at, None);
    assert_eq!(s.grace_until, None);
    s.align(&p);
    assert_eq!(s.joined(), at("2026-05-20T00:00:00Z"));
    assert_eq!(p.valid_until(&s), Some(at("2027-05-20T00:00:00Z")));
    // Lifetime purchases keep it (the default rule of `three_tiers`).
    let e = p.expire(&mut s, at("2027-05-20T00:00:00Z"));
    assert_eq!(e.changes.len(), 1);
    assert_eq!(e.changes[0].cause, "renewed");
    assert_eq!(p.valid_until(&s), Some(at("2028-05-20T00:00:00Z")));
    // Written back, the new fields round-trip; unknown old ones absent.
    let back: CustomerState = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    // An old state with no history at all.
    let mut bare = old;
    bare["history"] = json!([]);
    let s: CustomerState = serde_json::from_value(bare).unwrap();
    assert_eq!(s.joined(), at("2026-05-20T00:00:00Z"));
}

/// Grace crossing another period end of a tier below: Gold fails into
/// grace, the grace runs out, Silver is reached at the grace end and its
/// own period starts there; each move is dated at its own instant.
#[test]
fn an_on_fail_chain_through_tiers_that_all_lapse_dates_each_move_at_its_instant() {
    let keep = json!({
        "validity": {"months": 1, "from": "tierStart"},
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend1m", "min": 1000}],
        "graceDays": 10
    });
    let p = three_tiers("2026-01-01T00:00:00Z", keep.clone(), keep);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", at("2026-01-01T00:00:00Z"), "10000"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold");
    let e = p.expire(&mut s, at("2030-01-01T00:00:00Z"));
    let moves: Vec<_> = e
        .changes
        .iter()
        .map(|c| (c.from.as_str(), c.to.as_str(), c.at))
        .collect();
    assert_eq!(
        moves,
        [
            ("Gold", "Silver", at("2026-02-11T00:00:00Z")),
            ("Silver", "Member", at("2026-03-21T00:00:00Z")),
        ]
    );
    assert_eq!(tier(&p, &s), "Member");
}

/// An admin set during grace starts the set tier's own period and ends the
/// grace; an upgrade by an order during grace too.
#[test]
fn an_admin_set_or_an_upgrade_during_grace_ends_the_grace() {
    let keep = json!({
        "validity": {"months": 12, "from": "tierStart"},
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend1m", "min": 1000}],
        "graceDays": 30
    });
    let p = three_tiers("2026-01-01T00:00:00Z", keep.clone(), keep);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", at("2026-01-01T00:00:00Z"), "3000"))
        .unwrap();
    p.expire(&mut s, at("2027-01-01T00:00:00Z"));
    assert!(p.in_grace_until(&s).is_some());
    let mut admin = s.clone();
    p.set_tier(&mut admin, "Gold", at("2027-01-10T00:00:00Z"), "vip")
        .unwrap();
    assert_eq!(p.in_grace_until(&admin), None);
    assert_eq!(p.valid_until(&admin), Some(at("2028-01-10T00:00:00Z")));
    p.expire(&mut admin, at("2027-12-01T00:00:00Z"));
    assert_eq!(tier(&p, &admin), "Gold");
    // An order that upgrades to Gold during grace.
    p.apply_order(&mut s, &order("o2", at("2027-01-15T00:00:00Z"), "10000"))
        .unwrap();
    assert_eq!(tier(&p, &s), "Gold");
    assert_eq!(p.in_grace_until(&s), None);
    assert_eq!(p.valid_until(&s), Some(at("2028-01-15T00:00:00Z")));
    // A redemption during grace neither recovers nor ends it.
    let mut r = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut r, &order("o1", at("2026-01-01T00:00:00Z"), "3000"))
        .unwrap();
    p.expire(&mut r, at("2027-01-01T00:00:00Z"));
    let grace = p.in_grace_until(&r);
    p.redeem(
        &mut r,
        &Redemption {
            redemption_id: "x".into(),
            points: d("10"),
            at: at("2027-01-05T00:00:00Z"),
        },
    )
    .unwrap();
    assert_eq!(p.in_grace_until(&r), grace);
    p.expire(&mut r, grace.unwrap());
    assert_eq!(tier(&p, &r), "Member");
}

// ---------------------------------------------------------- properties

fn validity(i: usize) -> Value {
    [
        json!({"months": 1, "from": "tierStart"}),
        json!({"months": 1, "from": "programJoin"}),
        json!({"months": 2, "from": "programJoin"}),
        json!({"months": 1, "from": {"fixedDate": "--12-31"}}),
        json!({"months": 3, "from": {"fixedDate": "--02-28"}}),
        json!({"months": 12, "from": {"fixedDate": "--01-01"}}),
        json!({"months": 5, "from": "tierStart"}),
    ][i]
        .clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Both tiers lapse (monthly anniversaries of a 31st join, odd fixed
    /// dates, grace up to a year): the job at any increasing times gives
    /// the same customer as at once, a second run at the same instant
    /// changes nothing, and a run never leaves an end at or before its own
    /// time.
    #[test]
    fn steps_or_once_over_two_lapsing_tiers_give_the_same_customer(
        orders in proptest::collection::vec((0i64..900, 1u32..12000), 1..10),
        steps in proptest::collection::vec(0i64..1300, 0..10),
        silver_grace in 0u32..20,
        gold_grace in 0u32..20,
        on_fail in (0usize..3, 0usize..3),
        from in (0usize..7, 0usize..7),
    ) {
        let fails = ["oneDown", "qualified", "base"];
        let keep = |grace: u32, f: usize, v: usize| json!({
            "validity": validity(v),
            "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend1m", "min": 1500}],
            "graceDays": grace, "onFail": fails[f]
        });
        let p = three_tiers(
            "2026-01-01T00:00:00Z",
            keep(silver_grace, on_fail.0, from.0),
            keep(gold_grace, on_fail.1, from.1),
        );
        let start = at("2026-01-31T00:00:00Z");
        let last = start + Duration::days(1400);
        let mut orders = orders;
        orders.sort();
        let mut steps = steps;
        steps.sort();
        let mut once = CustomerState::new(&p, start);
        let mut stepped = once.clone();
        let mut step = steps.into_iter().peekable();
        for (i, (day, dollars)) in orders.iter().enumerate() {
            let when = start + Duration::days(*day) + Duration::hours(i as i64 % 24);
            while let Some(sd) = step.peek().copied().filter(|sd| start + Duration::days(*sd) <= when) {
                let now = start + Duration::days(sd);
                p.expire(&mut stepped, now);
                let snapshot = stepped.clone();
                prop_assert!(!p.expire(&mut stepped, now).changed());
                prop_assert_eq!(&snapshot, &stepped);
                if let Some(next) = p.next_validity_instant(&stepped) {
                    prop_assert!(next > now, "next {} after a run at {}", next, now);
                }
                step.next();
            }
            let o = order(&format!("o{i}"), when, &dollars.to_string());
            let a = p.apply_order(&mut once, &o).unwrap();
            let b = p.apply_order(&mut stepped, &o).unwrap();
            prop_assert_eq!(a.decision, b.decision);
        }
        for sd in step {
            p.expire(&mut stepped, start + Duration::days(sd));
        }
        let at_last = |mut s: CustomerState| {
            p.expire(&mut s, last);
            s.last_event_at = None;
            s
        };
        let once = at_last(once);
        let stepped = at_last(stepped);
        // History in time order.
        for w in once.history.windows(2) {
            prop_assert!(w[0].at <= w[1].at, "{:?}", once.history);
        }
        prop_assert_eq!(once, stepped);
    }
}

/// The admin tier action is an event like any other: a validity end that
/// fell due before it (the job not having run yet) is judged first, so the
/// history shows the move down before the admin's setting.
#[test]
fn an_admin_set_after_an_unjudged_end_judges_that_end_first() {
    let keep = json!({
        "validity": {"months": 12, "from": "tierStart"},
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend1m", "min": 1000}]
    });
    let p = three_tiers("2026-01-01T00:00:00Z", keep.clone(), keep);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", at("2026-01-01T00:00:00Z"), "3000"))
        .unwrap();
    // Silver lapsed on 2027-01-01; nobody ran the job.
    let change = p
        .set_tier(&mut s, "Gold", at("2027-03-01T00:00:00Z"), "vip")
        .unwrap()
        .unwrap();
    let moves: Vec<_> = s
        .history
        .iter()
        .map(|h| (h.from.as_str(), h.to.as_str(), h.at))
        .collect();
    assert_eq!(
        moves[1..],
        [
            ("Silver", "Member", at("2027-01-01T00:00:00Z")),
            ("Member", "Gold", at("2027-03-01T00:00:00Z")),
        ],
        "admin change {change:?}"
    );
}

/// What the customer of the grace-longer-than-a-period case sees a day
/// after recovering: back in grace, for an end before the recovery.
#[test]
fn a_customer_who_recovered_in_grace_is_not_back_in_grace_the_next_day() {
    let keep = json!({
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend1m", "min": 1000}],
        "graceDays": 60
    });
    let p = three_tiers("2026-01-01T00:00:00Z", keep.clone(), keep);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", at("2026-01-01T00:00:00Z"), "3000"))
        .unwrap();
    p.expire(&mut s, at("2026-02-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o2", at("2026-03-15T00:00:00Z"), "1000"))
        .unwrap();
    let e = p.expire(&mut s, at("2026-03-16T00:00:00Z"));
    assert_eq!(
        p.in_grace_until(&s),
        None,
        "renewed on 2026-03-15, in grace again on 2026-03-16 ({e:?})"
    );
}
