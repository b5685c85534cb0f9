//! Attacks on the walk of a customer's course after a late order
//! (`older_ends.rs`), each found by the twenty-third session's review: a
//! customer whose orders all come in time against one whose order comes
//! late.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod standing;
use common::{apply_as_served, at, d, order};
use standing::{course, twins, Fed, Move};

fn program(config: Value) -> Program {
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

/// From, to, instant and cause of a change told.
type ToldChange = (String, String, DateTime<Utc>, String);

#[derive(Clone)]
struct Customer {
    s: CustomerState,
    records: Vec<OrderRecord>,
    notices: Vec<Notice>,
    most_notices: usize,
}

impl Customer {
    fn new(p: &Program) -> Self {
        Customer {
            s: CustomerState::new(p, at("2024-01-01T00:00:00Z")),
            records: Vec::new(),
            notices: Vec::new(),
            most_notices: 0,
        }
    }
    fn order(&mut self, p: &Program, (id, when, amount): (&str, &str, &str)) -> AppliedOrder {
        let applied = apply_as_served(p, &mut self.s, &self.records, &order(id, at(when), amount));
        self.records.push(applied.record.clone());
        self.publish();
        applied
    }
    fn job(&mut self, p: &Program, when: &str) {
        p.expire(&mut self.s, at(when));
        self.publish();
    }
    fn publish(&mut self) {
        let n = self.s.outbox.take();
        self.most_notices = self.most_notices.max(n.len());
        self.notices.extend(n);
    }
    /// Tier changes published (from != to), in order.
    fn published(&self) -> Vec<Move> {
        self.notices
            .iter()
            .filter_map(|n| match &n.kind {
                NoticeKind::Changed { change, .. } if change.from != change.to => {
                    Some((change.from.clone(), change.to.clone(), change.at))
                }
                _ => None,
            })
            .collect()
    }
    /// Every change published (renewals too).
    fn changes(&self) -> Vec<TierChange> {
        self.notices
            .iter()
            .filter_map(|n| match &n.kind {
                NoticeKind::Changed { change, .. } => Some(change.clone()),
                _ => None,
            })
            .collect()
    }
    /// (tier, on, at) of each warning published.
    fn warned(&self) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
        self.notices
            .iter()
            .filter_map(|n| match &n.kind {
                NoticeKind::AtRisk { tier, on, at, .. } => Some((tier.clone(), *on, *at)),
                _ => None,
            })
            .collect()
    }
    fn moves(&self) -> Vec<Move> {
        self.s
            .history
            .iter()
            .filter(|c| c.from != c.to)
            .map(|c| (c.from.clone(), c.to.clone(), c.at))
            .collect()
    }
    fn seqs_ok(&self) -> bool {
        self.notices
            .iter()
            .enumerate()
            .all(|(i, n)| n.seq == i as u64 + 1)
    }
}

impl Fed for Customer {
    fn fresh(p: &Program) -> Self {
        Customer::new(p)
    }

    fn feed(&mut self, p: &Program, order: (&str, &str, &str)) {
        self.order(p, order);
    }
}

fn dump(label: &str, c: &Customer) {
    eprintln!(
        "== {label}: tier {} since {} renewed {:?} grace {:?}",
        c.s.tier, c.s.tier_since, c.s.renewed_at, c.s.grace_until
    );
    for n in &c.notices {
        match &n.kind {
            NoticeKind::Changed { change, .. } => eprintln!(
                "  #{} change {}->{} at {} ({})",
                n.seq, change.from, change.to, change.at, change.cause
            ),
            NoticeKind::AtRisk {
                tier,
                on,
                at,
                grace,
                ..
            } => eprintln!("  #{} warn {tier} on {on} at {at} grace={grace}", n.seq),
        }
    }
    eprintln!("  history:");
    for h in &c.s.history {
        eprintln!("    {}->{} at {} ({})", h.from, h.to, h.at, h.cause);
    }
}

fn m(from: &str, to: &str, when: &str) -> Move {
    (from.into(), to.into(), at(when))
}

/// Member, then Silver from $1,000 lifetime, kept by `keep` over a
/// `window` tracker, with `validity`, `warn` days, `grace` days, `on_fail`.
fn silver(
    window: Value,
    keep: u32,
    validity: Value,
    warn: &[u32],
    grace: u32,
    on_fail: &str,
    more: &[Value],
) -> Program {
    let mut tiers = vec![
        json!({"name": "Member", "earnRate": "1"}),
        json!({"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
            {"id": "U", "kind": "lifetimePurchases", "min": 1000}],
            "condition": "all", "upgradeType": "lazy"},
         "retention": {"validity": validity,
            "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": keep}],
            "condition": "all", "onFail": on_fail, "graceDays": grace,
            "warnDaysBefore": warn}}),
    ];
    tiers.extend(more.iter().cloned());
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": window}],
        "tiers": tiers
    }))
}

/// Validity from the join: the end after the lift the told course made is
/// the end the new course renews to, so the warning day before it is the
/// same warning, already published before the late order came.
#[test]
fn a_warning_told_before_the_late_order_is_not_told_again() {
    let p = silver(
        json!({"days": 14}),
        100,
        json!({"months": 1, "from": "programJoin"}),
        &[7],
        0,
        "oneDown",
        &[],
    );
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o0", "2024-01-10T00:00:00Z", "1000"),
            ("o2", "2024-02-15T00:00:00Z", "10"),
            ("o3", "2024-02-25T00:00:00Z", "10"),
        ],
        ("L", "2024-01-20T00:00:00Z", "150"),
    );
    dump("in time", &customers[0]);
    dump("late", &customers[1]);
    let [in_time, late] = &customers;
    assert_eq!(course(&late.s.history), course(&in_time.s.history));
    let feb23 = at("2024-02-23T00:00:00Z");
    let told = |c: &Customer| c.warned().iter().filter(|w| w.2 == feb23).count();
    assert_eq!(told(in_time), 1);
    assert_eq!(
        told(late),
        1,
        "the warning of 23 February (on 1 March) told once"
    );
}

/// Two late orders one after the other, each before an end judged: the
/// second walk starts from the first's correction (a change of tier
/// dated at the end it set right) and takes its instant as the tier's
/// start.
#[test]
fn a_second_late_order_keeps_the_tiers_start() {
    second_late_order("programJoin");
}

#[test]
fn a_second_late_order_keeps_the_tiers_start_from_tier_start() {
    second_late_order("tierStart");
}

fn second_late_order(from: &str) {
    {
        let p = silver(
            json!({"days": 14}),
            100,
            json!({"months": 1, "from": from}),
            &[],
            0,
            "oneDown",
            &[],
        );
        let base = [
            ("o0", "2024-01-10T00:00:00Z", "1000"),
            ("o2", "2024-02-15T00:00:00Z", "10"),
            ("o3", "2024-03-20T00:00:00Z", "10"),
        ];
        // Before the first end (1 February, or 10 February from the tier's
        // start) and before the second (1 March, or 10 March).
        let (l1, l2) = match from {
            "programJoin" => (
                ("L1", "2024-01-25T00:00:00Z", "150"),
                ("L2", "2024-02-28T00:00:00Z", "150"),
            ),
            _ => (
                ("L1", "2024-02-01T00:00:00Z", "150"),
                ("L2", "2024-03-05T00:00:00Z", "150"),
            ),
        };
        let mut in_time = Customer::new(&p);
        let mut all = base.to_vec();
        all.extend([l1, l2]);
        all.sort_by_key(|o| o.1);
        for o in all {
            in_time.order(&p, o);
        }
        let mut late = Customer::new(&p);
        for o in base {
            late.order(&p, o);
        }
        late.order(&p, l1);
        late.order(&p, l2);
        dump(&format!("{from} in time"), &in_time);
        dump(&format!("{from} late"), &late);
        assert_eq!(
            course(&late.s.history),
            course(&in_time.s.history),
            "{from}"
        );
        assert_eq!(late.s.tier, in_time.s.tier, "{from}");
        assert_eq!(
            late.s.tier_since, in_time.s.tier_since,
            "{from}: Silver since 10 January"
        );
        assert_eq!(p.valid_until(&late.s), p.valid_until(&in_time.s), "{from}");
    }
}

/// Gold, kept a month by $800 over 14 days, lands where the customer
/// qualifies when it fails; Silver by $300 over 14 days.
fn gold_qualified() -> Program {
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"days": 14}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "S", "kind": "tracker", "tracker": "spend", "min": 300}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "G", "kind": "tracker", "tracker": "spend", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": 800}],
                "condition": "all", "onFail": "qualified"}}
        ]
    }))
}

/// A late order that changes where a failed end lands (Silver, not
/// Member): the correction tells a move back up to Gold, a tier the new
/// course never holds after that end, then Gold -> Silver.
#[test]
fn a_late_order_that_changes_the_landing_tells_no_tier_never_held() {
    let p = gold_qualified();
    let base = [
        ("o0", "2024-01-10T00:00:00Z", "1000"),
        ("o2", "2024-03-01T00:00:00Z", "10"),
    ];
    let mut late = Customer::new(&p);
    for o in base {
        late.order(&p, o);
    }
    let before = late.notices.len();
    let mut in_time = Customer::new(&p);
    let mut all = base.to_vec();
    all.push(("L", "2024-02-01T00:00:00Z", "350"));
    all.sort_by_key(|o| o.1);
    for o in all {
        in_time.order(&p, o);
    }
    late.order(&p, ("L", "2024-02-01T00:00:00Z", "350"));
    dump("in time", &in_time);
    dump("late", &late);
    assert_eq!(course(&late.s.history), course(&in_time.s.history));
    let told: Vec<Move> = late.notices[before..]
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } => {
                Some((change.from.clone(), change.to.clone(), change.at))
            }
            _ => None,
        })
        .collect();
    assert_eq!(told, vec![m("Member", "Silver", "2024-02-10T00:00:00Z")]);
}

/// The walk after L1 tells again the move down on 1 March and the lift on
/// 20 March, each told already as the same change (same from, to, instant
/// and cause) before the late order came.
#[test]
fn a_change_the_new_course_shares_with_the_told_one_is_not_published_twice() {
    let p = silver(
        json!({"days": 14}),
        100,
        json!({"months": 1, "from": "programJoin"}),
        &[],
        0,
        "oneDown",
        &[],
    );
    let [_, late]: [Customer; 2] = twins(
        &p,
        &[
            ("o0", "2024-01-10T00:00:00Z", "1000"),
            ("o2", "2024-02-15T00:00:00Z", "10"),
            ("o3", "2024-03-20T00:00:00Z", "10"),
        ],
        ("L1", "2024-01-25T00:00:00Z", "150"),
    );
    dump("late", &late);
    let changes: Vec<_> = late
        .changes()
        .into_iter()
        .map(|c| (c.from, c.to, c.at, c.cause))
        .collect();
    let mut twice: Vec<_> = changes
        .iter()
        .filter(|c| changes.iter().filter(|d| d == c).count() > 1)
        .cloned()
        .collect();
    twice.dedup();
    assert_eq!(twice, vec![], "published twice");
}

/// Monthly orders of $150 on the 25th keep Silver (20-day window, $100,
/// a month from the join on 1 January) for `months` months, but the one
/// of 25 January is missing, and `extra` orders of $1 come each month.
/// The late order of 20 January renews the end of 1 February.
fn monthly_customer(
    p: &Program,
    months: u32,
    extra: u32,
    late: bool,
) -> (Customer, std::time::Duration) {
    let mut c = Customer::new(p);
    c.order(p, ("o0", "2024-01-10T00:00:00Z", "1000"));
    let start = at("2024-01-25T00:00:00Z");
    let mut texts = Vec::new();
    for i in 1..months {
        let month = start.checked_add_months(chrono::Months::new(i)).unwrap();
        for k in 0..extra {
            let when =
                month - chrono::Duration::days(20) + chrono::Duration::minutes(i64::from(k) * 7);
            texts.push((format!("x{i}-{k}"), when.to_rfc3339(), "1"));
        }
        texts.push((format!("m{i}"), month.to_rfc3339(), "150"));
    }
    for (id, when, amount) in &texts {
        c.order(p, (id, when, amount));
    }
    let t = std::time::Instant::now();
    if late {
        c.order(p, ("L", "2024-01-20T00:00:00Z", "150"));
    }
    (c, t.elapsed())
}

fn in_time_of(p: &Program, late: &Customer) -> Customer {
    let mut in_time = Customer::new(p);
    let mut all: Vec<(String, String, String)> = late
        .records
        .iter()
        .map(|r| {
            (
                r.order_id.clone(),
                r.placed_at.to_rfc3339(),
                r.amount.to_string(),
            )
        })
        .collect();
    all.sort_by_key(|o| at(&o.1));
    for (a, b, c) in &all {
        in_time.order(p, (a, b, c));
    }
    in_time
}

/// Past one decision's notices the walk gives up whole: the notices of the
/// late order's decision stay within the bound, seqs have no gap, every
/// change the history holds was published, and one it let go of no longer
/// stands (a change published after it is dated before it).
#[test]
fn a_walk_past_the_notice_bound_gives_up_whole() {
    let join = json!({"months": 1, "from": "programJoin"});
    let p = silver(json!({"days": 20}), 100, join, &[10], 0, "oneDown", &[]);
    let (late, took) = monthly_customer(&p, 60, 0, true);
    eprintln!(
        "late order took {took:?}, most notices {}",
        late.most_notices
    );
    assert!(late.most_notices <= MAX_NOTICES_PER_DECISION);
    assert!(late.seqs_ok());
    let (published, kept) = (late.published(), late.moves());
    assert!(kept.iter().all(|m| published.contains(m)), "{kept:?}");
    for (i, gone) in published.iter().enumerate() {
        let superseded = published[i + 1..].iter().any(|later| later.2 < gone.2);
        assert!(
            kept.contains(gone) || superseded,
            "{gone:?} of {published:?}"
        );
    }
    let in_time = in_time_of(&p, &late);
    eprintln!("in time course {:?}", course(&in_time.s.history));
    eprintln!("late course {:?}", course(&late.s.history));
}

/// Fifty-five monthly ends after the one the late order renews: the walk
/// tells the move down it undoes set right and retells the 53 renewals
/// after it, which with the changes they supersede pass the history's 100
/// entries. The history lets go of what no longer stands first, so it
/// keeps the customer's upgrade of 10 January (cutting its oldest instead
/// read the course as a move up on 1 February), and the course is the one
/// in time (before, the walk declined whole, and the customer kept a move
/// down and back that in time never happened).
#[test]
fn a_walk_past_the_historys_limit_keeps_its_start_and_the_course_in_time() {
    let join = json!({"months": 1, "from": "programJoin"});
    let p = silver(json!({"days": 20}), 100, join, &[], 0, "oneDown", &[]);
    let (late, _) = monthly_customer(&p, 55, 0, true);
    let in_time = in_time_of(&p, &late);
    assert!(late.s.history.len() <= tier_engine::state::HISTORY_KEPT);
    assert_eq!(
        course(&late.s.history),
        vec![m("Member", "Silver", "2024-01-10T00:00:00Z")]
    );
    assert_eq!(course(&late.s.history), course(&in_time.s.history));
    assert_eq!(
        (late.s.tier_since, late.s.renewed_at),
        (in_time.s.tier_since, in_time.s.renewed_at)
    );
    assert!(late.seqs_ok());
}

/// `spend`: the tracker's window, sum (0) or max, and the sum or maximum
/// that keeps Silver (Gold: twice it).
fn three_tiers(
    (window, kind, keep): (Value, usize, u32),
    validity: Value,
    grace: u32,
    on_fail: &str,
    up: &str,
    warn: &[u32],
) -> Program {
    let (measure_agg, crit) = match kind {
        0 => (
            "sum",
            json!({"id": "K", "kind": "tracker", "tracker": "spend", "min": keep}),
        ),
        _ => (
            "max",
            json!({"id": "K", "kind": "tracker", "tracker": "spend", "min": keep}),
        ),
    };
    let ret = |k: Value| {
        json!({"validity": validity, "criteria": [k], "condition": "all",
        "onFail": on_fail, "graceDays": grace, "warnDaysBefore": warn})
    };
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": window, "aggregate": measure_agg}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 1000}],
                "condition": "all", "upgradeType": up},
             "retention": ret(crit.clone())},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "singleOrder", "min": 1200}],
                "condition": "all", "upgradeType": up},
             "retention": ret(json!({"id": "K2", "kind": "tracker", "tracker": "spend", "min": keep * 2}))}
        ]
    }))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        max_global_rejects: 1_000_000,
        ..proptest::prelude::ProptestConfig::with_cases(1000)
    })]
    #[test]
    fn wider_shapes(
        days in proptest::collection::vec(1u32..300, 1..9),
        amounts in proptest::collection::vec(1u32..1500, 9),
        late_days in proptest::collection::vec(1u32..250, 1..3),
        late_amounts in proptest::collection::vec(1u32..300, 2),
        window in 0usize..3,
        kind in 0usize..2,
        keep in 20u32..200,
        on_fail in 0usize..3,
        grace in 0usize..3,
        from in 0usize..3,
        up in 0usize..3,
        warn in 0usize..2,
        job_day in proptest::option::of(1u32..320),
    ) {
        let window = [json!({"days": 30}), json!({"months": 1}), json!({"months": 3})][window].clone();
        let on_fail = ["oneDown", "base", "qualified"][on_fail];
        let grace_days = [0, 10, 40][grace];
        let validity = [
            json!({"months": 1, "from": "tierStart"}),
            json!({"months": 1, "from": "programJoin"}),
            json!({"months": 1, "from": {"fixedDate": "--01-01"}}),
        ][from].clone();
        let up = ["lazy", "eager", "dynamic"][up];
        let warn: &[u32] = [&[][..], &[7][..]][warn];
        let p = three_tiers((window, kind, keep), validity, grace_days, on_fail, up, warn);
        let start = at("2024-01-01T00:00:00Z");
        let when = |day: u32, hour: usize| {
            (start + chrono::Duration::days(i64::from(day)) + chrono::Duration::hours(hour as i64)).to_rfc3339()
        };
        let mut base: Vec<(String, String, String)> = vec![("first".into(), when(0, 1), "1000".into())];
        base.extend(days.iter().enumerate().map(|(i, day)| (format!("o{i}"), when(*day, i), amounts[i].to_string())));
        base.sort_by_key(|o| at(&o.1));
        let lates: Vec<(String, String, String)> = late_days.iter().enumerate()
            .map(|(i, d)| (format!("L{i}"), when(*d, 12 + i), late_amounts[i].to_string())).collect();
        let last = base.iter().map(|o| at(&o.1)).max().unwrap();
        proptest::prop_assume!(lates.iter().all(|l| at(&l.1) < last));
        let job = job_day.map(|d| start + chrono::Duration::days(i64::from(d)));
        // In time: every order in order, the job at its day.
        let mut in_time = Customer::new(&p);
        let mut all: Vec<(String, String, String)> = base.iter().chain(&lates).cloned().collect();
        all.sort_by_key(|o| at(&o.1));
        let mut job_done = false;
        for (a, b, c) in &all {
            if let Some(j) = job { if !job_done && at(b) > j { in_time.job(&p, &j.to_rfc3339()); job_done = true; } }
            in_time.order(&p, (a, b, c));
        }
        let mut late = Customer::new(&p);
        let mut job_done = false;
        for (a, b, c) in &base {
            if let Some(j) = job { if !job_done && at(b) > j { late.job(&p, &j.to_rfc3339()); job_done = true; } }
            late.order(&p, (a, b, c));
        }
        for (a, b, c) in &lates {
            late.order(&p, (a, b, c));
        }
        for c in [&in_time, &late] {
            for l in &lates {
                let r = c.records.iter().find(|r| r.order_id == l.0).unwrap();
                let upgraded = c.s.history.iter().any(|h| h.cause == format!("order {}", l.0));
                proptest::prop_assume!(r.tier_before == r.tier_after && !upgraded);
            }
        }
        proptest::prop_assert!(late.seqs_ok());
        proptest::prop_assert!(late.most_notices <= MAX_NOTICES_PER_DECISION);
        proptest::prop_assert_eq!(course(&late.s.history), course(&in_time.s.history));
        proptest::prop_assert_eq!(&late.s.tier, &in_time.s.tier);
        proptest::prop_assert_eq!(p.valid_until(&late.s), p.valid_until(&in_time.s));
        proptest::prop_assert_eq!(late.s.grace_until, in_time.s.grace_until);
        proptest::prop_assert_eq!(late.s.tier_since, in_time.s.tier_since);
        // A change is told again only when a change told after it named
        // another tier (a consumer reads the latest as the tier held). The
        // last change of tier told names the tier held.
        // A renewal, after a grace told since (the end judged otherwise).
        let told: Vec<Option<ToldChange>> = late
            .notices
            .iter()
            .map(|n| match &n.kind {
                NoticeKind::Changed { change, .. } => {
                    Some((change.from.clone(), change.to.clone(), change.at, change.cause.clone()))
                }
                NoticeKind::AtRisk { .. } => None,
            })
            .collect();
        for (i, c) in told.iter().enumerate() {
            let Some(c) = c else { continue };
            if let Some(j) = told[..i].iter().rposition(|d| d.as_ref() == Some(c)) {
                let between = &late.notices[j + 1..i];
                let named_another = between.iter().any(|n| matches!(&n.kind,
                    NoticeKind::Changed { change, .. } if change.from != change.to && change.to != c.1));
                let grace_since = c.0 == c.1
                    && between.iter().any(|n| matches!(&n.kind, NoticeKind::AtRisk { grace: true, .. }));
                // Or a change dated before it, told since, set it aside.
                let set_aside = between.iter().any(|n| matches!(&n.kind,
                    NoticeKind::Changed { change, .. } if change.at < c.2));
                proptest::prop_assert!(named_another || grace_since || set_aside, "told again: {:?}", c);
            }
        }
        if let Some(last) = late.published().last() {
            proptest::prop_assert_eq!(&last.1, &late.s.tier);
        }
    }
}

/// Found by the review's `wider_shapes` with Gold by $3,000 lifetime: a
/// late order that lets a later order reach Gold, no validity end judged
/// (fixed date). In time Gold came with o1; the walk, taken by a late order
/// placed before any change told since, dates it there.
#[test]
fn a_late_order_that_lets_a_later_one_reach_gold() {
    let p = program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": {"fixedDate": "--01-01"}},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": 20}],
                "condition": "all", "onFail": "oneDown"}},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    }));
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("first", "2024-01-01T01:00:00Z", "1000"),
            ("o0", "2024-01-02T00:00:00Z", "1058"),
            ("o1", "2024-06-04T01:00:00Z", "793"),
            ("o2", "2024-08-09T02:00:00Z", "149"),
        ],
        ("L", "2024-01-02T12:00:00Z", "149"),
    );
    dump("in time", &customers[0]);
    dump("late", &customers[1]);
    assert_eq!(
        course(&customers[1].s.history),
        course(&customers[0].s.history)
    );
}

impl Customer {
    /// Returns a third of `percent` of order `id`'s amount at `when`: up
    /// to three returns of an order fit it, whatever order they come in.
    fn give_back(&mut self, p: &Program, id: &str, when: DateTime<Utc>, percent: u32) {
        let record = self.records.iter().find(|r| r.order_id == id).unwrap();
        let amount = (record.amount * rust_decimal::Decimal::from(percent)
            / rust_decimal::Decimal::from(300))
        .round_dp(2);
        if amount <= rust_decimal::Decimal::ZERO {
            return;
        }
        let ret = Return {
            return_id: format!("r-{id}-{}", when.timestamp()),
            order_id: id.into(),
            customer_id: "c".into(),
            returned_at: when,
            amount: Some(amount),
        };
        common::give_back_among(p, &mut self.s, &mut self.records, &ret).unwrap();
        self.publish();
    }
}

/// One event of a customer's history: an order (id, placed at, amount), or
/// a return of `percent` of an order at an instant.
#[derive(Clone, Debug)]
enum Event {
    Order(String, String, String),
    Return(String, DateTime<Utc>, u32),
}

impl Event {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Event::Order(_, when, _) => at(when),
            Event::Return(_, when, _) => *when,
        }
    }

    fn feed(&self, p: &Program, c: &mut Customer) {
        match self {
            Event::Order(id, when, amount) => {
                c.order(p, (id, when, amount));
            }
            Event::Return(id, when, percent) => c.give_back(p, id, *when, *percent),
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        max_global_rejects: 1_000_000,
        ..proptest::prelude::ProptestConfig::with_cases(1000)
    })]
    /// `wider_shapes` with up to two returns among the orders, made in
    /// time: a late order placed before a return's move down walks the
    /// course with it.
    #[test]
    fn wider_shapes_with_returns(
        days in proptest::collection::vec(1u32..300, 1..9),
        amounts in proptest::collection::vec(1u32..1500, 9),
        late_day in 1u32..250,
        late_amount in 1u32..300,
        returns in proptest::collection::vec((0usize..9, 1u32..=100, 0u32..400), 1..3),
        window in 0usize..3,
        keep in 20u32..200,
        on_fail in 0usize..3,
        grace in 0usize..3,
        from in 0usize..3,
        up in 0usize..3,
    ) {
        let window = [json!({"days": 30}), json!({"months": 1}), json!({"months": 3})][window].clone();
        let on_fail = ["oneDown", "base", "qualified"][on_fail];
        let grace_days = [0, 10, 40][grace];
        let validity = [
            json!({"months": 1, "from": "tierStart"}),
            json!({"months": 1, "from": "programJoin"}),
            json!({"months": 1, "from": {"fixedDate": "--01-01"}}),
        ][from].clone();
        let up = ["lazy", "eager", "dynamic"][up];
        let p = three_tiers((window, 0, keep), validity, grace_days, on_fail, up, &[]);
        let start = at("2024-01-01T00:00:00Z");
        let when = |day: u32, hour: usize| {
            start + chrono::Duration::days(i64::from(day)) + chrono::Duration::hours(hour as i64)
        };
        let mut orders: Vec<(String, DateTime<Utc>, String)> = vec![("first".into(), when(0, 1), "1000".into())];
        orders.extend(days.iter().enumerate().map(|(i, day)| (format!("o{i}"), when(*day, i), amounts[i].to_string())));
        orders.sort_by_key(|o| o.1);
        let mut base: Vec<Event> = orders.iter().map(|(id, at, amount)| Event::Order(id.clone(), at.to_rfc3339(), amount.clone())).collect();
        for (which, percent, hours) in &returns {
            let (id, placed, _) = &orders[which % orders.len()];
            base.push(Event::Return(id.clone(), *placed + chrono::Duration::hours(i64::from(*hours)) + chrono::Duration::minutes(30), *percent));
        }
        base.sort_by_key(|e| e.at());
        let late = Event::Order("L".into(), when(late_day, 12).to_rfc3339(), late_amount.to_string());
        let last = base.iter().map(Event::at).max().unwrap();
        proptest::prop_assume!(late.at() < last);
        let mut in_time = Customer::new(&p);
        let mut all = base.clone();
        all.push(late.clone());
        all.sort_by_key(|e| e.at());
        for e in &all {
            e.feed(&p, &mut in_time);
        }
        let mut late_one = Customer::new(&p);
        for e in &base {
            e.feed(&p, &mut late_one);
        }
        late.feed(&p, &mut late_one);
        for c in [&in_time, &late_one] {
            let r = c.records.iter().find(|r| r.order_id == "L").unwrap();
            let upgraded = c.s.history.iter().any(|h| h.cause == "order L");
            proptest::prop_assume!(r.tier_before == r.tier_after && !upgraded);
        }
        let moved_by_a_return = in_time.s.history.iter().any(|h| h.cause.starts_with("return"));
        proptest::prop_assume!(moved_by_a_return);
        proptest::prop_assert!(late_one.seqs_ok());
        proptest::prop_assert_eq!(course(&late_one.s.history), course(&in_time.s.history));
        proptest::prop_assert_eq!(&late_one.s.tier, &in_time.s.tier);
        proptest::prop_assert_eq!(p.valid_until(&late_one.s), p.valid_until(&in_time.s));
        proptest::prop_assert_eq!(late_one.s.grace_until, in_time.s.grace_until);
        proptest::prop_assert_eq!(late_one.s.tier_since, in_time.s.tier_since);
        if let Some(last) = late_one.published().last() {
            proptest::prop_assert_eq!(&last.1, &late_one.s.tier);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        max_global_rejects: 1_000_000,
        ..proptest::prelude::ProptestConfig::with_cases(1000)
    })]
    /// Under a retention rule (the shapes of `wider_shapes_with_returns`),
    /// one of up to three returns arrives after every other event: the
    /// walk of the course gives the course, tier, start, validity and
    /// grace the customer in time has, and the last change told names the
    /// tier held.
    #[test]
    fn a_late_return_under_a_retention_rule_moves_as_in_time(
        days in proptest::collection::vec(1u32..300, 1..9),
        amounts in proptest::collection::vec(1u32..1500, 9),
        returns in proptest::collection::vec((0usize..9, 1u32..=100, 0u32..400), 1..4),
        late in 0usize..4,
        window in 0usize..3,
        keep in 20u32..200,
        on_fail in 0usize..3,
        grace in 0usize..3,
        from in 0usize..3,
        up in 0usize..3,
    ) {
        let window = [json!({"days": 30}), json!({"months": 1}), json!({"months": 3})][window].clone();
        let validity = [
            json!({"months": 1, "from": "tierStart"}),
            json!({"months": 1, "from": "programJoin"}),
            json!({"months": 1, "from": {"fixedDate": "--01-01"}}),
        ][from].clone();
        let p = three_tiers(
            (window, 0, keep),
            validity,
            [0, 10, 40][grace],
            ["oneDown", "base", "qualified"][on_fail],
            ["lazy", "eager", "dynamic"][up],
            &[],
        );
        let start = at("2024-01-01T00:00:00Z");
        let when = |day: u32, hour: usize| {
            start + chrono::Duration::days(i64::from(day)) + chrono::Duration::hours(hour as i64)
        };
        let mut orders: Vec<(String, DateTime<Utc>, String)> = vec![("first".into(), when(0, 1), "1000".into())];
        orders.extend(days.iter().enumerate().map(|(i, day)| (format!("o{i}"), when(*day, i), amounts[i].to_string())));
        orders.sort_by_key(|o| o.1);
        let mut base: Vec<Event> = orders.iter().map(|(id, at, amount)| Event::Order(id.clone(), at.to_rfc3339(), amount.clone())).collect();
        let mut made: Vec<Event> = returns.iter().map(|(which, percent, hours)| {
            let (id, placed, _) = &orders[which % orders.len()];
            Event::Return(id.clone(), *placed + chrono::Duration::hours(i64::from(*hours)) + chrono::Duration::minutes(30), *percent)
        }).collect();
        let late = made.remove(late % made.len());
        base.extend(made);
        base.sort_by_key(|e| e.at());
        proptest::prop_assume!(base.iter().any(|e| e.at() > late.at()));
        let mut in_time = Customer::new(&p);
        let mut all = base.clone();
        all.push(late.clone());
        all.sort_by_key(|e| e.at());
        for e in &all {
            e.feed(&p, &mut in_time);
        }
        let mut late_one = Customer::new(&p);
        for e in &base {
            e.feed(&p, &mut late_one);
        }
        late.feed(&p, &mut late_one);
        proptest::prop_assert!(late_one.seqs_ok());
        proptest::prop_assert_eq!(course(&late_one.s.history), course(&in_time.s.history));
        proptest::prop_assert_eq!(&late_one.s.tier, &in_time.s.tier);
        proptest::prop_assert_eq!(p.valid_until(&late_one.s), p.valid_until(&in_time.s));
        proptest::prop_assert_eq!(late_one.s.grace_until, in_time.s.grace_until);
        proptest::prop_assert_eq!(late_one.s.tier_since, in_time.s.tier_since);
        if let Some(last) = late_one.published().last() {
            proptest::prop_assert_eq!(&last.1, &late_one.s.tier);
        }
    }
}

/// Found by the twenty-eighth session's census: o0, placed on 28 February
/// while the customer was a Member, arrives after o1 took them to Gold on
/// 7 April and Gold's end (a grace, then the base tier on 17 June) took it
/// back. The end, judged again, was rewound to Gold for the order's
/// decision, and o0 was paid at Gold's rate (543 points); in time it was
/// paid at Member's (181). It is decided at the tier held at its instant.
#[test]
fn a_late_order_placed_before_an_upgrade_a_judged_end_took_back_earns_the_rate_held_then() {
    let kept = |min: u32| {
        json!({"validity": {"months": 2, "from": "tierStart"},
            "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend30d", "min": min}],
            "condition": "all", "onFail": "base", "graceDays": 10, "warnDaysBefore": [7]})
    };
    let p = program(json!({
        "currency": "USD", "startDate": "2025-06-01T00:00:00Z",
        "trackers": [{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 1000}],
                "condition": "all", "upgradeType": "eager"}, "retention": kept(200)},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "singleOrder", "min": 600},
                {"id": "G2", "kind": "lifetimePurchases", "min": 2500}],
                "condition": {"any": 1}, "upgradeType": "eager"}, "retention": kept(400)}
        ]
    }));
    let late = ("o0", "2026-02-28T08:25:00Z", "181");
    let others = [
        ("o1", "2026-04-07T08:54:00Z", "1003"),
        ("o2", "2026-04-15T04:06:00Z", "867"),
    ];
    let mut in_time = Customer::new(&p);
    in_time.order(&p, late);
    for o in others {
        in_time.order(&p, o);
    }
    in_time.job(&p, "2026-09-23T00:00:00Z");
    let mut told = Customer::new(&p);
    for o in others {
        told.order(&p, o);
    }
    told.job(&p, "2026-09-23T00:00:00Z");
    assert_eq!(told.s.tier, "Member");
    let applied = told.order(&p, late);
    assert_eq!(
        (
            applied.record.points_awarded,
            applied.record.tier_before.as_str()
        ),
        (d("181"), "Member")
    );
    assert_eq!(told.s.current_points, in_time.s.current_points);
    assert_eq!(course(&told.s.history), course(&in_time.s.history));
    assert_eq!(
        (&told.s.tier, told.s.tier_since),
        (&in_time.s.tier, in_time.s.tier_since)
    );
}
