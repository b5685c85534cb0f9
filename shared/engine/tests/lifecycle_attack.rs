//! Adversarial engine tests of notices around renewals, upgrades, grace and
//! re-evaluation: each warning once, seqs without gaps, the same notices
//! whether the job runs in steps or at once.

use chrono::Duration;
use serde_json::json;
use tier_engine::*;

mod common;
use common::{at, order};

fn program(version: u64, gold: u32) -> Program {
    let retention = |keep: &str| {
        json!({"validity": {"months": 2, "from": "tierStart"},
            "criteria": [{"id": keep, "kind": "tracker", "min": "1000", "tracker": "spend"}],
            "condition": "all", "onFail": "oneDown", "graceDays": 5, "warnDaysBefore": [20, 3]})
    };
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"months": 2}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 300}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": retention("keepS")},
            {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "G", "kind": "lifetimePurchases", "min": gold}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": retention("keepG")}
        ]
    });
    Program::validate(serde_json::from_value(config).unwrap())
        .unwrap()
        .with_version(version)
}

fn kinds(notices: &[Notice]) -> Vec<(u64, String, String)> {
    notices
        .iter()
        .map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } => (
                n.seq,
                format!("{}->{}", change.from, change.to),
                change.at.to_rfc3339(),
            ),
            NoticeKind::AtRisk {
                tier, at, grace, ..
            } => (
                n.seq,
                format!("{tier} at risk{}", if *grace { " (grace)" } else { "" }),
                at.to_rfc3339(),
            ),
        })
        .collect()
}

/// Orders, a re-evaluation and the job at many instants, against the same
/// without the intermediate job runs: the same notices, each seq once.
#[test]
fn notices_around_an_upgrade_a_reevaluation_and_grace_are_the_same_in_steps() {
    let v1 = program(1, 900);
    let v2 = program(2, 500);
    let start = at("2026-03-01T10:00:00Z");
    let run = |job_days: &[i64]| {
        let mut s = CustomerState::new(&v1, start);
        let mut all = Vec::new();
        v1.apply_order(&mut s, &order("o1", start, "400")).unwrap();
        all.extend(s.outbox.take());
        // Silver until 05-01T10:00; warned 04-11 and 04-28.
        for day in job_days {
            v1.expire(&mut s, start + Duration::days(*day));
            all.extend(s.outbox.take());
        }
        // An order in Silver's last month, then v2 lowers Gold to 500.
        let o2 = start + Duration::days(50);
        v1.apply_order(&mut s, &order("o2", o2, "50")).unwrap();
        all.extend(s.outbox.take());
        let change = v2.reevaluate(&mut s, start + Duration::days(52));
        assert_eq!(change, None, "450 is not 500");
        all.extend(s.outbox.take());
        v1.apply_order(&mut s, &order("o3", start + Duration::days(53), "60"))
            .unwrap();
        all.extend(s.outbox.take());
        assert_eq!(s.tier, "Silver");
        let change = v2.reevaluate(&mut s, start + Duration::days(54)).unwrap();
        assert_eq!(change.to, "Gold");
        all.extend(s.outbox.take());
        // Gold's own period, its warnings, grace and lapse.
        for day in job_days.iter().map(|d| d + 54) {
            v2.expire(&mut s, start + Duration::days(54) + Duration::days(day));
            all.extend(s.outbox.take());
        }
        v2.expire(&mut s, start + Duration::days(400));
        all.extend(s.outbox.take());
        (s, all)
    };
    let (once, once_notices) = run(&[]);
    let (steps, step_notices) = run(&[10, 40, 41, 41, 45, 48, 49]);
    assert_eq!(kinds(&step_notices), kinds(&once_notices));
    assert_eq!(once.tier, steps.tier);
    let seqs: Vec<u64> = once_notices.iter().map(|n| n.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    // No Silver warning while Gold is held (Silver's 3-day warning of
    // 04-28 falls after the upgrade of 04-24 and is skipped).
    let gold_at = start + Duration::days(54);
    let gold_lapse = at("2026-06-29T10:00:00Z");
    assert!(
        !once_notices.iter().any(|n| matches!(&n.kind,
            NoticeKind::AtRisk { tier, at, .. }
                if tier == "Silver" && *at > gold_at && *at < gold_lapse)),
        "{:?}",
        kinds(&once_notices)
    );
    // Every history entry has its notice.
    let changes = once_notices
        .iter()
        .filter(|n| matches!(n.kind, NoticeKind::Changed { .. }))
        .count();
    assert_eq!(changes, once.history.len(), "{:?}", kinds(&once_notices));
}

/// A customer idle for years under a two-month validity: every end judged
/// once, in order, warning days included, nothing twice when the job runs
/// again at the same instant.
#[test]
fn an_idle_customer_is_judged_once_per_end_and_warned_once_per_day() {
    let p = program(1, 900);
    let start = at("2026-03-01T10:00:00Z");
    let mut s = CustomerState::new(&p, start);
    p.apply_order(&mut s, &order("o1", start, "2000")).unwrap();
    s.outbox.take();
    let later = at("2030-03-01T00:00:00Z");
    p.expire(&mut s, later);
    let first = s.outbox.take();
    let again = p.expire(&mut s, later);
    assert!(!again.changed(), "{again:?}");
    assert!(s.outbox.take().is_empty());
    let mut prev = None;
    for n in &first {
        assert!(prev.is_none_or(|p| p <= n.at()), "{:?}", kinds(&first));
        prev = Some(n.at());
    }
    // Gold (2000 >= 900) lapses one tier at a time: Gold warned twice,
    // graced, down to Silver, Silver warned twice, graced, down to Member.
    let tiers: Vec<String> = kinds(&first).into_iter().map(|k| k.1).collect();
    assert_eq!(
        tiers,
        [
            "Gold at risk",
            "Gold at risk",
            "Gold at risk (grace)",
            "Gold->Silver",
            "Silver at risk",
            "Silver at risk",
            "Silver at risk (grace)",
            "Silver->Member"
        ],
        "{:?}",
        kinds(&first)
    );
}
