//! Tier validity and retention: renewal, each `onFail`, grace and recovery,
//! fixed-date and anniversary periods, warnings, and that judging in many
//! steps or in one gives the same customer.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use tier_engine::*;

mod common;
use common::{at, d, order};

/// Member -> Silver ($3,000 spent) -> Gold ($10,000 spent), lazy; Silver
/// and Gold are kept by `keep_silver` / `keep_gold` dollars spent over the
/// last 12 months, with `retention` merged into both rules.
fn program(keep_silver: u32, keep_gold: u32, retention: Value) -> Program {
    let rule = |keep: u32| {
        let mut r = json!({
            "validity": {"months": 12, "from": "tierStart"},
            "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend12m", "min": keep}],
            "condition": "all",
            "onFail": "oneDown"
        });
        for (k, v) in retention.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": rule(keep_silver)},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "lifetimePurchases", "min": 10000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": rule(keep_gold)}
        ]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

struct Customer<'a> {
    p: &'a Program,
    s: CustomerState,
    n: usize,
}

impl<'a> Customer<'a> {
    fn new(p: &'a Program, first: &str) -> Self {
        Customer {
            p,
            s: CustomerState::new(p, at(first)),
            n: 0,
        }
    }

    fn buy(&mut self, when: &str, amount: &str) -> AppliedOrder {
        self.n += 1;
        self.p
            .apply_order(
                &mut self.s,
                &order(&format!("o{}", self.n), at(when), amount),
            )
            .unwrap()
    }

    fn job(&mut self, when: &str) -> Expired {
        self.p.expire(&mut self.s, at(when))
    }

    fn tier(&self) -> &str {
        self.p.tier_name(self.s.tier_index(self.p))
    }

    fn last(&self) -> (&str, &str, DateTime<Utc>, &str) {
        let h = self.s.history.last().unwrap();
        (&h.from, &h.to, h.at, &h.cause)
    }
}

#[test]
fn a_tier_whose_condition_holds_at_the_end_renews_for_another_period() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(p.valid_until(&c.s), Some(at("2027-02-01T10:00:00Z")));
    c.buy("2026-09-01T00:00:00Z", "2000");
    let e = c.job("2027-02-01T10:00:00Z");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(e.changes.len(), 1);
    assert_eq!(
        c.last(),
        ("Silver", "Silver", at("2027-02-01T10:00:00Z"), "renewed")
    );
    // Renewed, not reached again.
    assert_eq!(c.s.tier_since, at("2026-02-01T10:00:00Z"));
    assert_eq!(p.valid_until(&c.s), Some(at("2028-02-01T10:00:00Z")));
    // The same instant again changes nothing.
    let again = c.s.clone();
    assert!(!c.job("2027-02-01T10:00:00Z").changed());
    assert_eq!(c.s, again);
}

#[test]
fn the_end_is_judged_as_of_its_instant_not_when_the_job_runs() {
    // $2,000 spent on 2026-02-02 is still in the 12-month window on
    // 2027-02-01 but has left it by 2027-03-01, when the job runs late.
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-02-02T00:00:00Z", "2000");
    c.job("2027-03-01T00:00:00Z");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(c.last().3, "renewed");
    assert_eq!(c.last().2, at("2027-02-01T10:00:00Z"));
}

#[test]
fn one_down_moves_a_customer_who_missed_one_tier_down() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-01-05T00:00:00Z");
    c.buy("2026-01-05T00:00:00Z", "10000");
    assert_eq!(c.tier(), "Gold");
    // Nothing more: at 2027-01-05 the window holds the $10,000 of
    // 2026-01-05? No: the 12-month window ending 2027-01-05 starts on
    // 2026-01-06.
    c.job("2027-01-05T00:00:00Z");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(
        c.last(),
        ("Gold", "Silver", at("2027-01-05T00:00:00Z"), "retention")
    );
    // Silver's own period starts at the move.
    assert_eq!(p.valid_until(&c.s), Some(at("2028-01-05T00:00:00Z")));
    // And a year later Silver lapses too.
    c.job("2028-01-05T00:00:00Z");
    assert_eq!(c.tier(), "Member");
    assert_eq!(p.valid_until(&c.s), None);
}

#[test]
fn base_moves_a_customer_who_missed_to_the_base_tier() {
    let p = program(2000, 8000, json!({"onFail": "base"}));
    let mut c = Customer::new(&p, "2026-01-05T00:00:00Z");
    c.buy("2026-01-05T00:00:00Z", "10000");
    c.buy("2026-06-01T00:00:00Z", "5000");
    c.job("2027-01-05T00:00:00Z");
    assert_eq!(c.tier(), "Member");
    assert_eq!(c.last().3, "retention");
}

/// Member -> Silver ($3,000 over 12 months) -> Gold ($10,000 over 12
/// months); Gold is kept by $8,000 over 12 months, else `qualified`.
fn windowed() -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "tracker", "tracker": "spend12m", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "tracker", "tracker": "spend12m", "min": 10000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend12m", "min": 8000}],
                "condition": "all", "onFail": "qualified"}}
        ]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

#[test]
fn qualified_moves_to_the_highest_tier_whose_upgrade_condition_holds_then() {
    let p = windowed();
    let mut c = Customer::new(&p, "2026-01-05T00:00:00Z");
    c.buy("2026-01-05T00:00:00Z", "10000");
    c.buy("2026-12-01T00:00:00Z", "3500");
    c.job("2027-01-05T00:00:00Z");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(
        c.last(),
        ("Gold", "Silver", at("2027-01-05T00:00:00Z"), "retention")
    );
}

#[test]
fn qualified_for_the_tier_itself_is_a_new_period_not_a_move() {
    // The program of `program`: Gold's upgrade rule (lifetime purchases)
    // still holds when its retention rule fails.
    let p = program(2000, 8000, json!({"onFail": "qualified"}));
    let mut c = Customer::new(&p, "2026-01-05T00:00:00Z");
    c.buy("2026-01-05T00:00:00Z", "10000");
    c.job("2027-01-05T00:00:00Z");
    assert_eq!(c.tier(), "Gold");
    assert_eq!(
        c.last(),
        ("Gold", "Gold", at("2027-01-05T00:00:00Z"), "renewed")
    );
    assert_eq!(p.valid_until(&c.s), Some(at("2028-01-05T00:00:00Z")));
}

#[test]
fn qualified_can_skip_tiers_when_no_upgrade_rule_holds() {
    let p = windowed();
    let mut c = Customer::new(&p, "2026-01-05T00:00:00Z");
    c.buy("2026-01-05T00:00:00Z", "10000");
    assert_eq!(c.tier(), "Gold");
    c.job("2027-01-05T00:00:00Z");
    assert_eq!(c.tier(), "Member");
    assert_eq!(
        c.last(),
        ("Gold", "Member", at("2027-01-05T00:00:00Z"), "retention")
    );
}

#[test]
fn grace_then_recovery_keeps_the_tier_renewed_from_the_end_of_the_period() {
    let p = program(2000, 8000, json!({"graceDays": 30}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    let e = c.job("2027-02-01T10:00:00Z");
    assert!(e.changes.is_empty());
    assert_eq!(e.graces_started, 1);
    assert_eq!(c.job("2027-02-01T10:00:00Z").graces_started, 0);
    assert_eq!(c.tier(), "Silver");
    assert_eq!(p.in_grace_until(&c.s), Some(at("2027-03-03T10:00:00Z")));
    let risk = p.at_risk(&c.s, at("2027-02-02T00:00:00Z")).unwrap();
    assert_eq!(risk.on, at("2027-03-03T10:00:00Z"));
    assert_eq!(risk.criteria[0].remaining, d("2000"));
    // $1,500 is not enough, $600 more is.
    c.buy("2027-02-10T00:00:00Z", "1500");
    assert_eq!(p.in_grace_until(&c.s), Some(at("2027-03-03T10:00:00Z")));
    assert_eq!(
        p.at_risk(&c.s, at("2027-02-10T00:00:00Z"))
            .unwrap()
            .criteria[0]
            .remaining,
        d("500")
    );
    c.buy("2027-02-20T00:00:00Z", "600");
    assert_eq!(p.in_grace_until(&c.s), None);
    assert_eq!(
        c.last(),
        ("Silver", "Silver", at("2027-02-20T00:00:00Z"), "renewed")
    );
    assert_eq!(p.valid_until(&c.s), Some(at("2028-02-01T10:00:00Z")));
    assert!(p.at_risk(&c.s, at("2027-02-20T00:00:00Z")).is_none());
    c.job("2027-03-04T00:00:00Z");
    assert_eq!(c.tier(), "Silver");
}

#[test]
fn grace_that_runs_out_moves_the_customer_at_its_end() {
    let p = program(2000, 8000, json!({"graceDays": 30}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2027-02-10T00:00:00Z", "100");
    assert_eq!(c.tier(), "Silver");
    // An order after the grace ended is decided from the tier below; its
    // lifetime purchases qualify again for Silver (a lazy upgrade).
    let applied = c.buy("2027-03-10T00:00:00Z", "100");
    assert_eq!(applied.decision.tier_before, 0);
    let moves: Vec<_> =
        c.s.history
            .iter()
            .map(|h| (h.to.as_str(), h.at, h.cause.as_str()))
            .collect();
    assert_eq!(
        moves[1..],
        [
            ("Member", at("2027-03-03T10:00:00Z"), "retention"),
            ("Silver", at("2027-03-10T00:00:00Z"), "order o3"),
        ]
    );
    // Member's points rate applies to it: 100 x 1.
    assert_eq!(applied.decision.points, d("100"));
}

#[test]
fn a_fixed_date_validity_ends_on_that_date_a_whole_period_or_more_after_the_start() {
    let p = program(
        2000,
        8000,
        json!({"validity": {"months": 12, "from": {"fixedDate": "--01-01"}}}),
    );
    let mut c = Customer::new(&p, "2026-03-15T12:00:00Z");
    c.buy("2026-03-15T12:00:00Z", "3000");
    assert_eq!(p.valid_until(&c.s), Some(at("2028-01-01T00:00:00Z")));
    c.buy("2027-06-01T00:00:00Z", "2500");
    c.job("2028-01-01T00:00:00Z");
    assert_eq!(c.last().3, "renewed");
    assert_eq!(p.valid_until(&c.s), Some(at("2029-01-01T00:00:00Z")));
}

#[test]
fn an_anniversary_validity_ends_on_the_first_anniversary_of_the_join_after_the_start() {
    let p = program(
        2000,
        8000,
        json!({"validity": {"months": 12, "from": "programJoin"}}),
    );
    let mut c = Customer::new(&p, "2026-01-31T08:00:00Z");
    c.buy("2026-01-31T08:00:00Z", "100");
    c.buy("2026-06-01T00:00:00Z", "2900");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(p.valid_until(&c.s), Some(at("2027-01-31T08:00:00Z")));
    c.buy("2026-12-01T00:00:00Z", "2000");
    c.job("2027-01-31T08:00:00Z");
    assert_eq!(c.last().3, "renewed");
    assert_eq!(p.valid_until(&c.s), Some(at("2028-01-31T08:00:00Z")));
}

#[test]
fn monthly_anniversaries_keep_the_day_of_the_join() {
    let p = program(
        1,
        8000,
        json!({"validity": {"months": 1, "from": "programJoin"}}),
    );
    let mut c = Customer::new(&p, "2026-01-31T00:00:00Z");
    c.buy("2026-01-31T00:00:00Z", "3000");
    assert_eq!(p.valid_until(&c.s), Some(at("2026-02-28T00:00:00Z")));
    c.job("2026-02-28T00:00:00Z");
    assert_eq!(p.valid_until(&c.s), Some(at("2026-03-31T00:00:00Z")));
}

#[test]
fn warnings_start_the_configured_days_before_the_end() {
    let p = program(2000, 8000, json!({"warnDaysBefore": [30, 7]}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-03-01T00:00:00Z", "500");
    let end = at("2027-02-01T10:00:00Z");
    assert!(p
        .at_risk(&c.s, end - Duration::days(30) - Duration::seconds(1))
        .is_none());
    let risk = p.at_risk(&c.s, end - Duration::days(30)).unwrap();
    assert_eq!(risk.tier, 1);
    assert_eq!(risk.on, end);
    assert_eq!(risk.criteria.len(), 1);
    assert_eq!(risk.criteria[0].id, "A");
    assert_eq!(risk.criteria[0].required, d("2000"));
    assert_eq!(risk.criteria[0].actual, d("500"));
    assert_eq!(risk.criteria[0].remaining, d("1500"));
    let status = p.status(&c.s, end - Duration::days(7));
    assert_eq!(status.at_risk.unwrap().criteria[0].remaining, d("1500"));
    assert_eq!(status.valid_until, Some(end));
    // Met again: no longer at risk.
    c.buy("2027-01-20T00:00:00Z", "1500");
    assert!(p.at_risk(&c.s, end - Duration::days(7)).is_none());
}

/// The at-risk notices in the customer's outbox: (when, the end they warn of).
fn warnings(s: &mut CustomerState) -> Vec<(DateTime<Utc>, DateTime<Utc>, String)> {
    s.outbox
        .take()
        .into_iter()
        .filter_map(|n| match n.kind {
            NoticeKind::AtRisk { at, on, tier, .. } => Some((at, on, tier)),
            NoticeKind::Changed { .. } => None,
        })
        .collect()
}

#[test]
fn each_warning_day_warns_once_while_the_tier_is_at_risk() {
    let p = program(
        2000,
        8000,
        json!({"warnDaysBefore": [30, 7], "graceDays": 10}),
    );
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-03-01T00:00:00Z", "500");
    warnings(&mut c.s);
    let end = at("2027-02-01T10:00:00Z");
    // The job wakes the customer on the first warning day.
    assert_eq!(
        p.next_expiry(&c.s),
        Some((end - Duration::days(30)).date_naive())
    );
    assert!(!c.job("2027-01-02T09:59:59Z").changed());
    let first = c.job("2027-01-02T10:00:00Z");
    assert_eq!((first.warning_days, first.warnings), (1, 1));
    assert_eq!(
        warnings(&mut c.s),
        vec![(end - Duration::days(30), end, "Silver".to_owned())]
    );
    // Again before the next warning day: nothing more.
    assert!(!c.job("2027-01-20T00:00:00Z").changed());
    assert!(warnings(&mut c.s).is_empty());
    let second = c.job("2027-01-30T00:00:00Z");
    assert_eq!((second.warning_days, second.warnings), (1, 1));
    assert_eq!(warnings(&mut c.s)[0].0, end - Duration::days(7));
    // The end: a grace begins, which warns with its own end.
    c.job("2027-02-01T10:00:00Z");
    let grace_end = end + Duration::days(10);
    assert_eq!(
        warnings(&mut c.s),
        vec![(end, grace_end, "Silver".to_owned())]
    );
    assert_eq!(c.s.notices_sent, 4, "upgrade and three warnings");
}

/// Found by the late-ends property with warnings: a grace longer than the
/// time left between a warning day and the end puts the renewed period's
/// warning day before the order that renewed it in the grace. The renewal
/// passes it; once came a warning dated before the renewal, by the next job.
#[test]
fn a_renewal_in_a_grace_passes_the_warning_days_before_it() {
    let p = program(
        2000,
        8000,
        json!({"warnDaysBefore": [330], "graceDays": 60}),
    );
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-03-01T00:00:00Z", "500");
    c.job("2027-02-01T10:00:00Z");
    assert_eq!(p.in_grace_until(&c.s), Some(at("2027-04-02T10:00:00Z")));
    warnings(&mut c.s);
    c.buy("2027-03-20T00:00:00Z", "2000");
    assert_eq!(
        c.last(),
        ("Silver", "Silver", at("2027-03-20T00:00:00Z"), "renewed")
    );
    // The renewed period ends 2028-02-01; 330 days before is 2027-03-08.
    assert_eq!(p.valid_until(&c.s), Some(at("2028-02-01T10:00:00Z")));
    assert_eq!(p.next_warning(&c.s), None);
    assert!(!c.job("2027-04-01T00:00:00Z").changed());
    assert!(warnings(&mut c.s).is_empty());
}

#[test]
fn a_warning_day_passes_quietly_when_the_tier_is_safe() {
    let p = program(2000, 8000, json!({"warnDaysBefore": [30]}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-12-01T00:00:00Z", "2500");
    warnings(&mut c.s);
    let day = c.job("2027-01-05T00:00:00Z");
    assert_eq!((day.warning_days, day.warnings), (1, 0));
    assert!(warnings(&mut c.s).is_empty());
    // It was recorded: the next run does not judge it again.
    assert!(!c.job("2027-01-06T00:00:00Z").changed());
}

#[test]
fn tier_changes_name_the_criteria_that_decided_them() {
    let p = program(2000, 8000, json!({"graceDays": 0}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.job("2027-02-01T10:00:00Z");
    let changes: Vec<(u64, String, String, Vec<String>)> =
        c.s.outbox
            .take()
            .into_iter()
            .filter_map(|n| match n.kind {
                NoticeKind::Changed { change, criteria } => {
                    Some((n.seq, change.to, change.cause, criteria))
                }
                NoticeKind::AtRisk { .. } => None,
            })
            .collect();
    assert_eq!(
        changes,
        vec![
            (1, "Silver".into(), "order o1".into(), vec!["S".to_owned()]),
            // Spend of the last 12 months fell to 0 at the end: A missed.
            (2, "Member".into(), "retention".into(), vec!["A".to_owned()]),
        ]
    );
}

#[test]
fn a_rule_configured_later_counts_its_trackers_from_the_day_it_was_configured() {
    for (since, renewed) in [(None, true), (Some("2026-06-01T00:00:00Z"), false)] {
        let mut p = program(2000, 8000, json!({"warnDaysBefore": [30]}));
        if let Some(since) = since {
            p = p.with_retention_since(&[("Silver".to_owned(), at(since))]);
        }
        let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
        c.buy("2026-02-01T10:00:00Z", "3000");
        // In the window at the end, but before the rule existed.
        c.buy("2026-04-01T00:00:00Z", "2500");
        let risk = p.at_risk(&c.s, at("2027-01-05T00:00:00Z"));
        assert_eq!(risk.is_none(), renewed, "{since:?}");
        if let Some(risk) = risk {
            assert_eq!(
                risk.criteria[0].actual,
                d("0"),
                "April's spending is not counted"
            );
        }
        c.job("2027-02-01T10:00:00Z");
        assert_eq!(
            c.tier(),
            if renewed { "Silver" } else { "Member" },
            "{since:?}"
        );
    }
    // Spending after the rule was configured counts.
    let p = program(2000, 8000, json!({}))
        .with_retention_since(&[("Silver".to_owned(), at("2026-06-01T00:00:00Z"))]);
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-07-01T00:00:00Z", "2500");
    c.job("2027-02-01T10:00:00Z");
    assert_eq!(c.tier(), "Silver");
}

#[test]
fn an_upgrade_during_a_period_starts_the_new_tiers_validity() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-07-01T00:00:00Z", "7000");
    assert_eq!(c.tier(), "Gold");
    assert_eq!(p.valid_until(&c.s), Some(at("2027-07-01T00:00:00Z")));
    // Silver's end no longer applies.
    c.job("2027-02-01T10:00:00Z");
    assert_eq!(c.tier(), "Gold");
}

#[test]
fn a_return_before_the_end_counts_when_the_end_is_judged() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    let applied = c.buy("2026-09-01T00:00:00Z", "2000");
    let mut record = applied.record;
    let ret = Return {
        return_id: "r1".into(),
        order_id: record.order_id.clone(),
        customer_id: "c1".into(),
        returned_at: at("2026-10-01T00:00:00Z"),
        amount: Some(d("500")),
    };
    p.apply_return(&mut c.s, &mut record, &ret, &[]).unwrap();
    c.job("2027-02-01T10:00:00Z");
    assert_eq!(c.tier(), "Member");
    assert_eq!(c.last().3, "retention");
}

#[test]
fn a_tier_without_retention_never_lapses() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    // Member has no rule, and reaching Silver then losing it leaves
    // Member for good.
    c.job("2030-01-01T00:00:00Z");
    assert_eq!(c.tier(), "Member");
    assert_eq!(p.valid_until(&c.s), None);
    assert!(p.at_risk(&c.s, at("2030-01-01T00:00:00Z")).is_none());
}

#[test]
fn the_job_sees_the_customer_due_on_the_day_the_validity_ends() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-12-20T00:00:00Z", "2000");
    // The tracker's oldest day leaves the window on 2027-02-02; the
    // validity ends first.
    assert_eq!(
        p.next_expiry(&c.s),
        Some(chrono::NaiveDate::from_ymd_opt(2027, 2, 1).unwrap())
    );
}

#[test]
fn retention_rules_are_validated() {
    let bad = |tier1_retention: Value| {
        let config = json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
            "tiers": [
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                    {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                    "condition": "all", "upgradeType": "lazy"},
                 "retention": tier1_retention}
            ]
        });
        match serde_json::from_value::<ProgramConfig>(config) {
            Err(e) => vec![format!("parse: {e}")],
            Ok(c) => match Program::validate(c) {
                Ok(_) => vec![],
                Err(ps) => ps
                    .into_iter()
                    .map(|p| format!("{} {}", p.path, p.code))
                    .collect(),
            },
        }
    };
    let good = json!({
        "validity": {"months": 12, "from": "tierStart"},
        "criteria": [{"id": "A", "kind": "tracker", "tracker": "spend12m", "min": 2000}],
        "condition": "all", "onFail": "oneDown", "graceDays": 30, "warnDaysBefore": [30, 7]
    });
    assert_eq!(bad(good.clone()), Vec::<String>::new());
    let with = |k: &str, v: Value| {
        let mut r = good.clone();
        r[k] = v;
        bad(r)
    };
    assert_eq!(
        with("validity", json!({"months": 0, "from": "tierStart"})),
        ["/tiers/1/retention/validity/months invalid_validity"]
    );
    assert_eq!(
        with("graceDays", json!(367)),
        ["/tiers/1/retention/graceDays invalid_grace"]
    );
    assert_eq!(
        with("warnDaysBefore", json!([7, 7])),
        ["/tiers/1/retention/warnDaysBefore/1 invalid_warnings"]
    );
    assert_eq!(
        with("warnDaysBefore", json!([0])),
        ["/tiers/1/retention/warnDaysBefore/0 invalid_warnings"]
    );
    assert_eq!(
        with("warnDaysBefore", json!([1, 2, 3, 4, 5, 6])),
        ["/tiers/1/retention/warnDaysBefore invalid_warnings"]
    );
    // Past the bound, entries are not read one by one (each would be a
    // duplicate of the first).
    assert_eq!(
        with("warnDaysBefore", json!(vec![7; 10_000])),
        ["/tiers/1/retention/warnDaysBefore invalid_warnings"]
    );
    assert_eq!(
        with("criteria", json!([])),
        ["/tiers/1/retention/criteria no_criteria"]
    );
    assert_eq!(
        with(
            "criteria",
            json!([{"id": "A", "kind": "tracker", "tracker": "nope", "min": 1}])
        ),
        ["/tiers/1/retention/criteria/0/tracker unknown_tracker"]
    );
    assert_eq!(
        with("condition", json!({"custom": "A OR"})),
        ["/tiers/1/retention/condition invalid_expression"]
    );
    for date in ["--02-29", "--13-01", "01-01", "--1-01", "--00-10", "x"] {
        let r = with(
            "validity",
            json!({"months": 12, "from": {"fixedDate": date}}),
        );
        assert!(r.len() == 1 && r[0].starts_with("parse:"), "{date}: {r:?}");
    }
    assert!(with("onFail", json!("sideways"))[0].starts_with("parse:"));
    // The base tier has nothing to lose.
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1", "retention": good}]
    });
    let ps = Program::validate(serde_json::from_value(config).unwrap()).unwrap_err();
    assert_eq!(ps[0].code, "base_tier_retention");
}

/// Judged at 2027-02-01T10:00 (a year after Silver): $600 in the window
/// against the $2,000 Silver asks, so the end fails unless something more
/// was bought before it.
fn judged_short(p: &Program) -> Customer<'_> {
    let mut c = Customer::new(p, "2026-02-01T10:00:00Z");
    c.buy("2026-02-01T10:00:00Z", "3000");
    c.buy("2026-09-01T00:00:00Z", "600");
    c
}

fn with_grace(days: u32) -> Program {
    program(2000, 8000, json!({"graceDays": days}))
}

/// A late order: placed at `when`, applied now.
fn late(c: &mut Customer<'_>, id: &str, when: &str, amount: &str) -> AppliedOrder {
    c.p.apply_order(&mut c.s, &order(id, at(when), amount))
        .unwrap()
}

fn changes_out(s: &mut CustomerState) -> Vec<(String, String, DateTime<Utc>, String)> {
    s.outbox
        .take()
        .into_iter()
        .filter_map(|n| match n.kind {
            NoticeKind::Changed { change, .. } => {
                Some((change.from, change.to, change.at, change.cause))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_late_order_placed_before_the_end_undoes_the_move_down_it_would_have_prevented() {
    let p = with_grace(0);
    let mut c = judged_short(&p);
    let end = at("2027-02-01T10:00:00Z");
    c.job("2027-02-10T00:00:00Z");
    assert_eq!(c.tier(), "Member");
    c.s.outbox.take();

    let applied = late(&mut c, "late1", "2027-01-15T00:00:00Z", "1500");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(c.p.tier_name(applied.decision.tier_after), "Silver");
    assert_eq!(applied.record.tier_after, "Silver");
    assert_eq!(c.last(), ("Member", "Silver", end, "late order late1"));
    // As if it had come in time: renewed at the end, the next end a year on,
    // the tier held since it was reached.
    assert_eq!(c.s.tier_since, at("2026-02-01T10:00:00Z"));
    assert_eq!(c.s.renewed_at, Some(end));
    assert_eq!(c.p.valid_until(&c.s), Some(at("2028-02-01T10:00:00Z")));
    assert_eq!(
        changes_out(&mut c.s),
        vec![(
            "Member".into(),
            "Silver".into(),
            end,
            "late order late1".into()
        )]
    );

    // Another late order changes nothing more: the end is undone once.
    let before = c.s.history.len();
    late(&mut c, "late2", "2027-01-20T00:00:00Z", "100");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(c.s.history.len(), before);
    assert!(changes_out(&mut c.s).is_empty());
}

/// The history as (from, to, at, cause).
fn history_of(s: &CustomerState) -> Vec<(String, String, DateTime<Utc>, String)> {
    s.history
        .iter()
        .map(|h| (h.from.clone(), h.to.clone(), h.at, h.cause.clone()))
        .collect()
}

#[test]
fn a_late_upgrade_whose_validity_ended_before_the_latest_event_is_judged_at_once() {
    // Silver is kept by $3,000 over 12 months: the late order's $2,500 is
    // all of it, so the period it starts on 2026-03-01 fails a year on,
    // before the customer's latest order (2027-06-01), which lifts them
    // back (lifetime purchases $3,600).
    let p = program(3000, 8000, json!({}));
    let mut in_time = Customer::new(&p, "2026-02-01T10:00:00Z");
    in_time.buy("2026-02-01T10:00:00Z", "1000");
    in_time.buy("2026-03-01T00:00:00Z", "2500");
    in_time.buy("2027-06-01T00:00:00Z", "100");
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    let first = c.buy("2026-02-01T10:00:00Z", "1000").record;
    let latest = c.buy("2027-06-01T00:00:00Z", "100").record;
    c.s.outbox.take();

    let late = order("late1", at("2026-03-01T00:00:00Z"), "2500");
    let applied = p
        .apply_order_among(&mut c.s, &late, &[first, latest])
        .unwrap();
    let end = at("2027-03-01T00:00:00Z");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(applied.record.tier_after, "Silver");
    // Published by the order's own write, not left to the next job.
    let expected = vec![
        (
            "Member".into(),
            "Silver".into(),
            at("2026-03-01T00:00:00Z"),
            "order late1".into(),
        ),
        ("Silver".into(), "Member".into(), end, "retention".into()),
        (
            "Member".into(),
            "Silver".into(),
            at("2027-06-01T00:00:00Z"),
            "order o2".into(),
        ),
    ];
    assert_eq!(changes_out(&mut c.s), expected);
    assert_eq!(history_of(&c.s), expected);
    let moves = |s: &CustomerState| -> Vec<_> {
        history_of(s)
            .into_iter()
            .map(|(f, t, at, _)| (f, t, at))
            .collect()
    };
    assert_eq!(moves(&c.s), moves(&in_time.s));
    assert_eq!(c.s.tier_since, in_time.s.tier_since);
    assert_eq!(p.valid_until(&c.s), p.valid_until(&in_time.s));
    // The job at the latest instant has nothing left to judge.
    assert!(c.job("2027-06-01T00:00:00Z").changes.is_empty());
}

#[test]
fn ends_beyond_one_decisions_notices_are_left_due_and_published_once_by_the_job() {
    // A monthly validity that always renews: a late upgrade ten years
    // before the latest order owes 120 renewals.
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "onFail": "oneDown"}}
        ]
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let latest = "2036-03-15T00:00:00Z";
    let mut in_time = Customer::new(&p, "2026-02-01T00:00:00Z");
    in_time.buy("2026-03-01T00:00:00Z", "3000");
    in_time.buy(latest, "10");
    let mut c = Customer::new(&p, "2026-02-01T00:00:00Z");
    c.buy(latest, "10");
    c.s.outbox.take();

    late(&mut c, "late1", "2026-03-01T00:00:00Z", "3000");
    let first = c.s.outbox.take();
    assert!(first.len() <= MAX_NOTICES_PER_DECISION, "{}", first.len());
    assert!(first.len() > 80, "as many as fit: {}", first.len());
    assert!(
        c.p.valid_until(&c.s).unwrap() <= at(latest),
        "the rest is due"
    );
    c.job(latest);
    let rest = c.s.outbox.take();
    let renewals = |n: &[Notice]| {
        n.iter()
            .filter(|n| matches!(&n.kind, NoticeKind::Changed { change, .. } if change.cause == "renewed"))
            .count()
    };
    assert_eq!(renewals(&first) + renewals(&rest), 120);
    let seqs: Vec<u64> = first.iter().chain(&rest).map(|n| n.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(c.p.valid_until(&c.s), in_time.p.valid_until(&in_time.s));
    assert_eq!(history_of(&c.s)[1..], history_of(&in_time.s)[1..]);
}

#[test]
fn late_orders_add_up_against_the_end_they_precede() {
    let p = with_grace(0);
    let mut c = judged_short(&p);
    c.job("2027-02-10T00:00:00Z");
    late(&mut c, "late1", "2026-12-01T00:00:00Z", "800");
    assert_eq!(c.tier(), "Member", "$1,400 of $2,000");
    late(&mut c, "late2", "2026-12-02T00:00:00Z", "500");
    assert_eq!(c.tier(), "Member", "$1,900");
    // Outside the end's window (before 2026-02-02): it does not count.
    late(&mut c, "old", "2026-02-01T12:00:00Z", "5000");
    assert_eq!(c.tier(), "Member");
}

#[test]
fn two_late_orders_that_together_meet_the_condition_undo_the_move_down() {
    let p = with_grace(0);
    let mut c = judged_short(&p);
    c.job("2027-02-10T00:00:00Z");
    late(&mut c, "late1", "2026-12-01T00:00:00Z", "800");
    assert_eq!(c.tier(), "Member");
    late(&mut c, "late2", "2026-12-02T00:00:00Z", "700");
    assert_eq!(c.tier(), "Silver", "$600 + $800 + $700 = $2,100");
    assert_eq!(c.last().3, "late order late2");
}

#[test]
fn an_order_placed_after_the_end_does_not_judge_it_again() {
    let p = with_grace(0);
    let mut c = judged_short(&p);
    c.job("2027-02-10T00:00:00Z");
    late(&mut c, "after", "2027-02-05T00:00:00Z", "100");
    // Back at Silver by its upgrade rule ($3,700 bought in all), from the
    // order's own instant: a new period, not the old one renewed.
    assert_eq!(c.last().3, "order after");
    assert_eq!(c.p.valid_until(&c.s), Some(at("2028-02-05T00:00:00Z")));
}

#[test]
fn a_late_order_during_a_running_grace_renews_as_of_the_end() {
    let p = with_grace(30);
    let mut c = judged_short(&p);
    let end = at("2027-02-01T10:00:00Z");
    c.job("2027-02-05T00:00:00Z");
    assert_eq!(c.p.in_grace_until(&c.s), Some(end + Duration::days(30)));
    c.s.outbox.take();
    late(&mut c, "late1", "2027-01-15T00:00:00Z", "1500");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(c.p.in_grace_until(&c.s), None);
    assert_eq!(c.s.renewed_at, Some(end));
    assert_eq!(c.last(), ("Silver", "Silver", end, "renewed"));
    assert_eq!(
        changes_out(&mut c.s),
        vec![("Silver".into(), "Silver".into(), end, "renewed".into())]
    );
}

#[test]
fn a_late_order_before_the_end_undoes_the_move_at_the_end_of_the_grace_too() {
    let p = with_grace(30);
    let mut c = judged_short(&p);
    let end = at("2027-02-01T10:00:00Z");
    c.job("2027-03-10T00:00:00Z");
    assert_eq!(c.tier(), "Member");
    assert_eq!(c.last().2, end + Duration::days(30));
    late(&mut c, "late1", "2027-01-15T00:00:00Z", "1500");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(
        c.last(),
        (
            "Member",
            "Silver",
            end + Duration::days(30),
            "late order late1"
        )
    );
    // Renewed from the end of the period that had run out.
    assert_eq!(c.p.valid_until(&c.s), Some(at("2028-02-01T10:00:00Z")));
}

#[test]
fn a_move_down_the_customer_has_moved_on_from_is_not_undone() {
    let p = with_grace(0);
    let mut c = judged_short(&p);
    c.job("2027-02-10T00:00:00Z");
    c.buy("2027-03-01T00:00:00Z", "7000");
    assert_eq!(c.tier(), "Gold", "lifetime $10,600");
    late(&mut c, "late1", "2027-01-15T00:00:00Z", "1500");
    assert_eq!(c.tier(), "Gold");
    assert_eq!(c.last().3, "order o3");
}

#[test]
fn a_late_return_made_before_the_end_fails_the_renewal_it_would_have_failed() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    let end = at("2027-02-01T10:00:00Z");
    let first = c.buy("2026-02-01T10:00:00Z", "3000").record;
    let big = c.buy("2026-09-01T00:00:00Z", "1500").record;
    let mut small = c.buy("2026-10-01T00:00:00Z", "600").record;
    c.job("2027-02-10T00:00:00Z");
    assert_eq!(c.last(), ("Silver", "Silver", end, "renewed"));
    c.s.outbox.take();

    let ret = Return {
        return_id: "r1".into(),
        order_id: small.order_id.clone(),
        customer_id: "c1".into(),
        returned_at: at("2027-01-20T00:00:00Z"),
        amount: Some(d("200")),
    };
    let orders = [first, big];
    let history = ReturnHistory {
        orders: &orders,
        rules: &CurrentRulesOnly,
    };
    let back = p
        .apply_return_judged(&mut c.s, &mut small, &ret, &history)
        .unwrap();
    assert_eq!(c.tier(), "Member", "$1,900 of $2,000 at the end");
    assert_eq!(p.tier_name(back.tier_after), "Member");
    assert_eq!(c.last(), ("Silver", "Member", end, "retention"));
    assert_eq!(c.s.tier_since, end);
    assert_eq!(
        changes_out(&mut c.s),
        vec![("Silver".into(), "Member".into(), end, "retention".into())]
    );
    // And a late order that makes up for it renews it again, once.
    late(&mut c, "late1", "2027-01-25T00:00:00Z", "100");
    assert_eq!(c.tier(), "Silver");
    assert_eq!(c.p.valid_until(&c.s), Some(at("2028-02-01T10:00:00Z")));
}

/// One customer's orders and return, applied in time order or with some
/// of them only after the period end was judged.
struct Replayed<'a> {
    p: &'a Program,
    s: CustomerState,
    records: Vec<OrderRecord>,
}

impl<'a> Replayed<'a> {
    fn new(p: &'a Program, start: DateTime<Utc>) -> Self {
        let mut r = Replayed {
            p,
            s: CustomerState::new(p, start),
            records: Vec::new(),
        };
        r.order(&order("first", start, "3000"));
        r
    }

    fn order(&mut self, o: &Order) {
        let applied = self.p.apply_order(&mut self.s, o).unwrap();
        self.records.push(applied.record);
    }

    fn give_back(&mut self, ret: &Return) {
        let i = self
            .records
            .iter()
            .position(|r| r.order_id == ret.order_id)
            .unwrap();
        let mut record = self.records.remove(i);
        let history = ReturnHistory {
            orders: &self.records,
            rules: &CurrentRulesOnly,
        };
        self.p
            .apply_return_judged(&mut self.s, &mut record, ret, &history)
            .unwrap();
        self.records.insert(i, record);
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::Order(o) => self.order(o),
            Event::Return(ret) => self.give_back(ret),
        }
    }

    fn seen(&self) -> Seen {
        let s = &self.s;
        Seen {
            tier: s.tier.clone(),
            tier_since: s.tier_since,
            valid_until: self.p.valid_until(s),
            in_grace_until: self.p.in_grace_until(s),
        }
    }
}

#[derive(Debug, Clone)]
enum Event {
    Order(Order),
    Return(Return),
}

/// What a customer's validity looks like from outside.
#[derive(Debug, PartialEq)]
struct Seen {
    tier: String,
    tier_since: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
    in_grace_until: Option<DateTime<Utc>>,
}

proptest! {
    /// Orders and a return placed before a period end give the same
    /// customer whether they came in time or after the end was judged (and
    /// any grace ran out), in any order: tier, tier start, validity and
    /// grace alike.
    #[test]
    fn late_events_before_an_end_leave_the_customer_as_in_time_ones(
        orders in proptest::collection::vec((30i64..365, 1u32..900, any::<bool>()), 1..8),
        give_back in proptest::option::of((0usize..8, 1u32..100, 0i64..60, any::<bool>())),
        grace in prop_oneof![Just(0u32), 1u32..40],
        on_fail in 0usize..3,
        reverse in any::<bool>(),
    ) {
        let on_fail = ["oneDown", "qualified", "base"][on_fail];
        let p = program(2000, 8000, json!({"graceDays": grace, "onFail": on_fail}));
        let start = at("2026-02-01T10:00:00Z");
        let end = at("2027-02-01T10:00:00Z");
        let mut in_time = Replayed::new(&p, start);
        let mut with_late = Replayed::new(&p, start);
        // (instant, event, whether it comes only after the end was judged)
        let mut events: Vec<(DateTime<Utc>, Event, bool)> = orders
            .iter()
            .enumerate()
            .map(|(i, (day, dollars, delayed))| {
                let o = order(&format!("o{i}"), start + Duration::days(*day), &dollars.to_string());
                (o.placed_at, Event::Order(o), *delayed)
            })
            .collect();
        if let Some((which, percent, after, delayed)) = give_back {
            let which = which % events.len();
            let Event::Order(o) = events[which].1.clone() else { unreachable!() };
            let returned_at = (o.placed_at + Duration::days(after)).min(end - Duration::hours(1));
            let amount = (o.amount * rust_decimal::Decimal::from(percent) / rust_decimal::Decimal::from(100)).round_dp(2);
            if returned_at >= o.placed_at && amount > rust_decimal::Decimal::ZERO {
                let ret = Return {
                    return_id: "r1".into(),
                    order_id: o.order_id.clone(),
                    customer_id: "c1".into(),
                    returned_at,
                    amount: Some(amount),
                };
                // The order comes in time; its return perhaps late.
                events[which].2 = false;
                events.push((returned_at, Event::Return(ret), delayed));
            }
        }
        events.sort_by_key(|(at, event, _)| (*at, matches!(event, Event::Return(_))));
        let mut delayed = Vec::new();
        for (_, event, is_late) in &events {
            in_time.apply(event);
            if *is_late {
                delayed.push(event.clone());
            } else {
                with_late.apply(event);
            }
        }
        let after = at("2027-04-01T00:00:00Z");
        p.expire(&mut with_late.s, after);
        // Orders in any order; a return after its order.
        if reverse {
            delayed.reverse();
            delayed.sort_by_key(|event| matches!(event, Event::Return(_)));
        }
        for event in &delayed {
            with_late.apply(event);
        }
        p.expire(&mut in_time.s, after);
        p.expire(&mut with_late.s, after);
        prop_assert_eq!(with_late.seen(), in_time.seen());
    }
}

proptest! {
    /// Running the job at any increasing times, between orders, gives the
    /// same customer as running it once at the last time.
    #[test]
    fn judging_in_steps_or_at_once_gives_the_same_customer(
        orders in proptest::collection::vec((0i64..900, 1u32..6000), 1..12),
        steps in proptest::collection::vec(0i64..1200, 0..8),
        grace in 0u32..40,
        on_fail in 0usize..3,
        from in 0usize..3,
        warn in 0usize..3,
    ) {
        let on_fail = ["oneDown", "qualified", "base"][on_fail];
        let validity = [
            json!({"months": 6, "from": "tierStart"}),
            json!({"months": 3, "from": "programJoin"}),
            json!({"months": 4, "from": {"fixedDate": "--03-01"}}),
        ][from].clone();
        let warn = [json!([]), json!([30]), json!([60, 7, 1])][warn].clone();
        let p = program(1500, 6000, json!({
            "graceDays": grace, "onFail": on_fail, "validity": validity, "warnDaysBefore": warn
        }));
        let start = at("2026-01-01T00:00:00Z");
        let mut orders = orders;
        orders.sort();
        let last = start + Duration::days(1300);
        let mut once = CustomerState::new(&p, start);
        let mut stepped = once.clone();
        let mut steps = steps;
        steps.sort();
        let mut step = steps.into_iter().peekable();
        for (i, (day, dollars)) in orders.iter().enumerate() {
            let when = start + Duration::days(*day) + Duration::hours(i as i64 % 24);
            while let Some(s) = step.peek().copied().filter(|s| start + Duration::days(*s) <= when) {
                p.expire(&mut stepped, start + Duration::days(s));
                step.next();
            }
            let o = order(&format!("o{i}"), when, &dollars.to_string());
            let a = p.apply_order(&mut once, &o).unwrap();
            let b = p.apply_order(&mut stepped, &o).unwrap();
            prop_assert_eq!(a.decision, b.decision);
        }
        for s in step {
            p.expire(&mut stepped, start + Duration::days(s).max(Duration::zero()));
        }
        let at_last = |mut s: CustomerState| {
            p.expire(&mut s, last);
            s.last_event_at = None;
            let notices = s.outbox.take();
            (s, notices)
        };
        // The same notices too, each once: what is published does not
        // depend on when the job ran.
        prop_assert_eq!(at_last(once), at_last(stepped));
    }
}

proptest! {
    /// Judging years of monthly periods in rounds of at most `most`
    /// notices, the outbox written between rounds, gives the same customer
    /// and the same notices, in the same order, as one run: a commit never
    /// has to drop any.
    #[test]
    fn the_job_in_bounded_rounds_publishes_what_one_run_does(
        most in 2usize..25,
        grace in prop_oneof![Just(0u32), 1u32..20],
        keep in prop_oneof![Just(1u32), Just(100_000u32)],
    ) {
        let p = program(keep, 100_000, json!({
            "validity": {"months": 1, "from": "programJoin"},
            "graceDays": grace, "onFail": "qualified", "warnDaysBefore": [20, 10, 5]
        }));
        let start = at("2026-01-31T10:00:00Z");
        let mut once = CustomerState::new(&p, start);
        p.apply_order(&mut once, &order("o1", start, "3000")).unwrap();
        let mut rounds = once.clone();
        let later = at("2029-06-01T00:00:00Z");
        p.expire(&mut once, later);
        let all = once.outbox.take();
        prop_assert!(all.len() > 100, "{}", all.len());
        let mut published = Vec::new();
        for _ in 0..10_000 {
            let (_, done) = p.expire_publishing_at_most(&mut rounds, later, most);
            let batch = rounds.outbox.take();
            prop_assert!(batch.len() <= most, "{} > {most}", batch.len());
            published.extend(batch);
            if done {
                break;
            }
        }
        prop_assert_eq!(published, all);
        prop_assert_eq!(rounds, once);
    }
}

#[test]
fn an_admin_set_is_a_floor_until_its_own_period_ends() {
    let p = program(2000, 8000, json!({}));
    let mut c = Customer::new(&p, "2026-02-01T10:00:00Z");
    p.set_tier(
        &mut c.s,
        "Gold",
        at("2026-03-01T00:00:00Z"),
        "VIP migration",
    )
    .unwrap();
    let mut record = c.buy("2026-04-01T00:00:00Z", "500").record;
    let ret = Return {
        return_id: "r1".into(),
        order_id: record.order_id.clone(),
        customer_id: "c1".into(),
        returned_at: at("2026-05-01T00:00:00Z"),
        amount: None,
    };
    let history = ReturnHistory {
        orders: &[],
        rules: &CurrentRulesOnly,
    };
    p.apply_return_judged(&mut c.s, &mut record, &ret, &history)
        .unwrap();
    assert_eq!(
        c.tier(),
        "Gold",
        "a return never goes below the admin's set"
    );
    // The set tier has a period of its own, judged at its end like any.
    assert_eq!(p.valid_until(&c.s), Some(at("2027-03-01T00:00:00Z")));
    c.job("2027-03-02T00:00:00Z");
    assert_eq!(
        c.last(),
        ("Gold", "Silver", at("2027-03-01T00:00:00Z"), "retention")
    );
}

#[test]
fn a_late_redemption_made_before_the_end_fails_a_renewal_on_current_points() {
    let p = program(
        0,
        0,
        json!({"criteria": [{"id": "P", "kind": "currentPoints", "min": 2000}]}),
    );
    let redemption = Redemption {
        redemption_id: "x1".into(),
        points: d("1500"),
        at: at("2026-12-01T00:00:00Z"),
    };
    let mut in_time = Customer::new(&p, "2026-02-01T10:00:00Z");
    let mut late = Customer::new(&p, "2026-02-01T10:00:00Z");
    for c in [&mut in_time, &mut late] {
        c.buy("2026-02-01T10:00:00Z", "3000");
    }
    p.redeem(&mut in_time.s, &redemption).unwrap();
    for c in [&mut in_time, &mut late] {
        c.job("2027-02-05T00:00:00Z");
    }
    assert_eq!(late.last().3, "renewed", "3,000 points at the end");
    p.redeem(&mut late.s, &redemption).unwrap();
    assert_eq!(in_time.tier(), "Member", "1,500 points at the end");
    assert_eq!(late.tier(), "Member");
    assert_eq!(late.s.tier_since, in_time.s.tier_since);
    assert_eq!(late.last(), in_time.last());
}
