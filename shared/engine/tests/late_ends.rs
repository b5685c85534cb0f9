//! A late order that upgrades a customer whose latest event came after the
//! new tier's validity ran out: the ends that validity brought by then are
//! judged by the order's own decision, as the in-time customer had them
//! judged, with each lift a later order made after a move down. Each
//! customer runs twice, as the service feeds the engine: every order in
//! time in one, and in the other the late order only after the rest.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod standing;
use common::{apply_as_served, at, give_back_among, order};
use standing::{course, twins, Fed, Move};

/// Member, then Silver from $1,000 spent, kept a month at a time from when
/// it was reached by `keep` spent over the `window` tracker (`onFail`), and
/// `more` tiers above.
fn silver_kept_monthly(window: Value, keep: u32, on_fail: &str, more: &[Value]) -> Program {
    let by_spend = json!({"id": "K", "kind": "tracker", "tracker": "spend", "min": keep});
    silver_kept_by(window, by_spend, on_fail, more)
}

/// [`silver_kept_monthly`] with any retention criterion.
fn silver_kept_by(window: Value, criterion: Value, on_fail: &str, more: &[Value]) -> Program {
    silver_kept_with_grace(window, criterion, on_fail, 0, more)
}

/// [`silver_kept_by`] with `grace_days` of grace after a failed end.
fn silver_kept_with_grace(
    window: Value,
    criterion: Value,
    on_fail: &str,
    grace_days: u32,
    more: &[Value],
) -> Program {
    let monthly = json!({"months": 1, "from": "tierStart"});
    silver_kept_warning(window, criterion, on_fail, grace_days, &[], monthly, more)
}

/// [`silver_kept_with_grace`] with at-risk warnings `warn` days before
/// each end.
fn silver_kept_warning(
    window: Value,
    criterion: Value,
    on_fail: &str,
    grace_days: u32,
    warn: &[u32],
    validity: Value,
    more: &[Value],
) -> Program {
    let mut tiers = vec![
        json!({"name": "Member", "earnRate": "1"}),
        json!({"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
            {"id": "U", "kind": "lifetimePurchases", "min": 1000}],
            "condition": "all", "upgradeType": "lazy"},
         "retention": {"validity": validity,
            "criteria": [criterion],
            "condition": "all", "onFail": on_fail, "graceDays": grace_days,
            "warnDaysBefore": warn}}),
    ];
    tiers.extend(more.iter().cloned());
    let config = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": window}],
        "tiers": tiers
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

struct Customer {
    s: CustomerState,
    records: Vec<OrderRecord>,
    /// Every tier change published, in order.
    published: Vec<Move>,
    /// The most notices one decision left.
    most_notices: usize,
    /// When each at-risk warning published came.
    warned: Vec<DateTime<Utc>>,
    /// The criteria each published change and renewal names.
    criteria: Vec<Vec<String>>,
}

impl Customer {
    fn new(p: &Program) -> Self {
        Customer {
            s: CustomerState::new(p, at("2024-01-01T00:00:00Z")),
            records: Vec::new(),
            published: Vec::new(),
            most_notices: 0,
            warned: Vec::new(),
            criteria: Vec::new(),
        }
    }

    fn order(&mut self, p: &Program, (id, when, amount): (&str, &str, &str)) {
        let applied = apply_as_served(p, &mut self.s, &self.records, &order(id, at(when), amount));
        self.records.push(applied.record);
        self.publish();
    }

    fn give_back(&mut self, p: &Program, ret: &Return) {
        give_back_among(p, &mut self.s, &mut self.records, ret).unwrap();
        self.publish();
    }

    fn publish(&mut self) {
        let notices = self.s.outbox.take();
        self.most_notices = self.most_notices.max(notices.len());
        for n in notices {
            match n.kind {
                NoticeKind::Changed { change, criteria } => {
                    self.criteria.push(criteria);
                    if change.from != change.to {
                        self.published.push((change.from, change.to, change.at));
                    }
                }
                NoticeKind::AtRisk { at, .. } => self.warned.push(at),
            }
        }
    }

    fn moves(&self) -> Vec<Move> {
        self.s
            .history
            .iter()
            .filter(|c| c.from != c.to)
            .map(|c| (c.from.clone(), c.to.clone(), c.at))
            .collect()
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

/// The late customer moved, and published, as the in-time one did, and
/// holds the same tier from the same instant until the same end.
fn assert_as_in_time(p: &Program, [in_time, late]: &[Customer; 2]) {
    assert_eq!(late.moves(), in_time.moves());
    assert_eq!(late.published, late.moves(), "every change published once");
    assert_eq!(late.s.tier, in_time.s.tier);
    assert_eq!(late.s.tier_since, in_time.s.tier_since);
    assert_eq!(p.valid_until(&late.s), p.valid_until(&in_time.s));
}

fn m(from: &str, to: &str, when: &str) -> Move {
    (from.into(), to.into(), at(when))
}

/// Found by an adversary: only the first lift after a move down was made,
/// so the lifted tier's own ends, and the lifts after them, never came.
#[test]
fn each_move_down_is_followed_by_the_lift_after_it_and_that_tiers_own_end() {
    let p = silver_kept_monthly(json!({"months": 1}), 100, "oneDown", &[]);
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o1", "2024-01-10T00:00:00Z", "10"),
            ("o2", "2024-05-01T00:00:00Z", "50"),
            ("o3", "2024-08-01T00:00:00Z", "50"),
            ("o4", "2024-10-01T00:00:00Z", "10"),
        ],
        ("L", "2024-01-15T00:00:00Z", "1000"),
    );
    assert_eq!(
        customers[0].moves(),
        vec![
            m("Member", "Silver", "2024-01-15T00:00:00Z"),
            m("Silver", "Member", "2024-02-15T00:00:00Z"),
            m("Member", "Silver", "2024-05-01T00:00:00Z"),
            m("Silver", "Member", "2024-06-01T00:00:00Z"),
            m("Member", "Silver", "2024-08-01T00:00:00Z"),
            m("Silver", "Member", "2024-09-01T00:00:00Z"),
            m("Member", "Silver", "2024-10-01T00:00:00Z"),
        ]
    );
    assert_as_in_time(&p, &customers);
}

/// An order placed in a grace the walk started meets the condition: in
/// time it renewed the tier as from the end, so the next end comes a
/// period later and the move down only after it.
#[test]
fn an_order_in_a_grace_the_late_upgrade_brought_renews_the_tier() {
    let p = silver_kept_with_grace(
        json!({"days": 30}),
        json!({"id": "K", "kind": "tracker", "tracker": "spend", "min": 100}),
        "base",
        10,
        &[],
    );
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o1", "2024-01-10T00:00:00Z", "10"),
            ("o2", "2024-02-20T00:00:00Z", "150"),
            ("o3", "2024-06-01T00:00:00Z", "10"),
        ],
        ("L", "2024-01-15T00:00:00Z", "1000"),
    );
    assert_eq!(
        customers[0].moves(),
        vec![
            m("Member", "Silver", "2024-01-15T00:00:00Z"),
            m("Silver", "Member", "2024-04-25T00:00:00Z"),
            m("Member", "Silver", "2024-06-01T00:00:00Z"),
        ]
    );
    let renewals = |c: &Customer| {
        c.s.history
            .iter()
            .filter(|c| c.from == c.to)
            .map(|c| c.at)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        renewals(&customers[1]),
        vec![at("2024-02-20T00:00:00Z"), at("2024-03-15T00:00:00Z")]
    );
    assert_eq!(renewals(&customers[1]), renewals(&customers[0]));
    assert_as_in_time(&p, &customers);
}

/// Found by review: a grace that ran out with the tier still qualified
/// (`qualified`) renews it at the grace's end; a late order placed before
/// the period's end then lets that end hold, and the period restored from
/// the end warns on its own warning days, as in time, though the renewal
/// at the grace's end came after them.
#[test]
fn a_period_restored_from_its_end_warns_on_the_days_before_the_graces_end() {
    let monthly = json!({"months": 1, "from": "tierStart"});
    let p = silver_kept_warning(
        json!({"days": 30}),
        json!({"id": "K", "kind": "tracker", "tracker": "spend", "min": 500}),
        "qualified",
        30,
        &[20],
        monthly,
        &[],
    );
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o1", "2024-01-01T00:00:00Z", "1000"),
            ("o2", "2024-03-05T00:00:00Z", "1"),
        ],
        ("L", "2024-01-20T00:00:00Z", "600"),
    );
    let in_time = &customers[0].warned;
    assert_eq!(
        in_time,
        &[
            at("2024-01-12T00:00:00Z"),
            at("2024-02-10T00:00:00Z"),
            at("2024-03-01T00:00:00Z")
        ]
    );
    // The late customer's grace began on 1 February (a warning of its
    // own, published before the late order came), then as in time.
    let mut late = in_time.clone();
    late.insert(1, at("2024-02-01T00:00:00Z"));
    assert_eq!(customers[1].warned, late);
}

/// Found by an adversary: the end a month after the late order read a
/// 30-day window whose days the state had dropped (it keeps what windows
/// as of the latest day read), so a renewal that held in time failed.
#[test]
fn an_end_judged_after_the_fact_reads_the_days_the_state_had_dropped() {
    let p = silver_kept_monthly(json!({"days": 30}), 100, "base", &[]);
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o1", "2024-01-01T00:00:00Z", "10"),
            ("o2", "2024-02-01T00:00:00Z", "150"),
            ("o3", "2024-06-01T00:00:00Z", "10"),
        ],
        ("L", "2024-01-10T00:00:00Z", "1000"),
    );
    assert_eq!(
        customers[0].moves(),
        vec![
            m("Member", "Silver", "2024-01-10T00:00:00Z"),
            m("Silver", "Member", "2024-03-10T00:00:00Z"),
            m("Member", "Silver", "2024-06-01T00:00:00Z"),
        ]
    );
    assert_as_in_time(&p, &customers);
}

/// Found by an adversary: a late order's upgrades dated at its own instant
/// and at a later order's left the first tier's end between them unjudged.
#[test]
fn an_end_between_two_dated_upgrades_comes_before_the_second() {
    let p = silver_kept_monthly(json!({"months": 1}), 50, "base", &[gold()]);
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o0", "2024-01-01T00:00:00Z", "100"),
            ("o1", "2024-06-01T00:00:00Z", "500"),
        ],
        ("L", "2024-01-10T00:00:00Z", "1000"),
    );
    assert_eq!(
        customers[0].moves(),
        vec![
            m("Member", "Silver", "2024-01-10T00:00:00Z"),
            m("Silver", "Member", "2024-02-10T00:00:00Z"),
            m("Member", "Gold", "2024-06-01T00:00:00Z"),
        ]
    );
    assert_as_in_time(&p, &customers);
}

/// Found by review: with a rule counting current points the orders do not
/// tell (points expire here) the service reads no orders, and the ends
/// were judged on windows counted from the late order alone (Silver moved
/// down at an end it renewed in time). They are judged on the figures as
/// they stand.
#[test]
fn without_the_orders_the_ends_are_judged_on_the_figures_as_they_stand() {
    let config = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "pointsExpiry": {"months": 12},
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"months": 1}}],
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "U", "kind": "currentPoints", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": 100}],
                "condition": "all", "onFail": "base"}}]
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o1", "2024-01-25T00:00:00Z", "150"),
            ("o2", "2024-02-12T00:00:00Z", "10"),
        ],
        ("L", "2024-01-05T00:00:00Z", "1000"),
    );
    assert_eq!(
        customers[0].moves(),
        vec![m("Member", "Silver", "2024-01-05T00:00:00Z")],
        "renewed on 5 February"
    );
    assert_as_in_time(&p, &customers);
}

/// Found by review: lifts after the last end that fitted one decision's
/// notices were made anyway, and a commit dropped the oldest notices past
/// its bound. A lift is made only while it fits; the rest wait, judged by
/// the job. 87 monthly renewals of T1, a move down, then eight orders
/// that would lift the customer a tier each.
#[test]
fn lifts_past_one_decisions_notices_wait_with_the_ends_after_them() {
    let mut tiers = vec![json!({"name": "Member", "earnRate": "1"})];
    for k in 1..=8 {
        tiers.push(
            json!({"name": format!("T{k}"), "earnRate": "1", "upgrade": {"criteria": [
            {"id": "U", "kind": "tracker", "tracker": "spend", "min": 100 * k},
            {"id": "S", "kind": "singleOrder", "min": 800}],
            "condition": "all", "upgradeType": "lazy"},
         "retention": {"validity": {"months": 1, "from": "tierStart"},
            "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": 30}],
            "condition": "all", "onFail": "base"}}),
        );
    }
    let config = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"months": 1}}],
        "tiers": tiers
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let start = at("2024-01-15T00:00:00Z");
    let mut base: Vec<(String, String, String)> = (0..87u32)
        .map(|i| {
            let when = start.checked_add_months(chrono::Months::new(i)).unwrap();
            (format!("m{i}"), when.to_rfc3339(), "40".to_owned())
        })
        .collect();
    let gap = at("2024-01-02T00:00:00Z")
        .checked_add_months(chrono::Months::new(88))
        .unwrap();
    for k in 0..8 {
        let when = gap + chrono::Duration::days(k);
        base.push((format!("x{k}"), when.to_rfc3339(), "100".to_owned()));
    }
    let base: Vec<(&str, &str, &str)> = base
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    let [_, late]: [Customer; 2] = twins(&p, &base, ("L", "2024-01-01T12:00:00Z", "800"));
    assert!(
        late.most_notices <= MAX_NOTICES_PER_DECISION,
        "{} notices in one decision",
        late.most_notices
    );
    assert_eq!(late.published, late.moves(), "every change published once");
}

/// Found by an adversary: the lift was looked for at 32 order instants
/// after a move down, and past them never came. Forty orders of $1 come
/// before the one that lifts the customer.
#[test]
fn a_lift_after_many_orders_that_lift_nobody_still_comes() {
    let config = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "U", "kind": "lifetimePurchases", "min": 1000},
                {"id": "W", "kind": "tracker", "tracker": "spend", "min": 100}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": 100}],
                "condition": "all", "onFail": "base"}}]
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let start = at("2024-02-20T00:00:00Z");
    let mut base: Vec<(String, String, String)> = vec![(
        "o".to_owned(),
        "2024-01-01T00:00:00Z".to_owned(),
        "1".to_owned(),
    )];
    for i in 0..40 {
        let when = start + chrono::Duration::days(i);
        base.push((format!("d{i}"), when.to_rfc3339(), "1".to_owned()));
    }
    base.push((
        "big".to_owned(),
        "2024-04-10T05:00:00Z".to_owned(),
        "150".to_owned(),
    ));
    let base: Vec<(&str, &str, &str)> = base
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    let customers: [Customer; 2] = twins(&p, &base, ("L", "2024-01-15T00:00:00Z", "1000"));
    assert_eq!(
        customers[0].moves(),
        vec![
            m("Member", "Silver", "2024-01-15T00:00:00Z"),
            m("Silver", "Member", "2024-02-15T00:00:00Z"),
            m("Member", "Silver", "2024-04-10T05:00:00Z"),
        ]
    );
    assert_as_in_time(&p, &customers);
}

/// Found by an adversary: the tier held before the late upgrade had warned
/// of its end on 7 December, so the new tier's warning days before then
/// were taken as sent and never came.
#[test]
fn the_new_tiers_warnings_come_though_the_tier_before_warned_later() {
    let config = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "U", "kind": "lifetimePurchases", "min": 300}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "lifetimePurchases", "min": 1}],
                "condition": "all", "onFail": "base", "warnDaysBefore": [25]}},
            {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "U", "kind": "lifetimePurchases", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 3, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": 100}],
                "condition": "all", "onFail": "base", "warnDaysBefore": [7, 25]}}]
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o0", "2024-01-01T00:00:00Z", "300"),
            ("o2", "2024-09-01T00:00:00Z", "5"),
            ("o3", "2024-12-13T00:00:00Z", "5"),
        ],
        ("L", "2024-01-20T00:00:00Z", "700"),
    );
    let [in_time, late] = &customers;
    assert!(!in_time.warned.is_empty());
    let warned_since = |c: &Customer| -> Vec<DateTime<Utc>> {
        c.warned
            .iter()
            .copied()
            .filter(|w| *w > at("2024-01-20T00:00:00Z"))
            .collect()
    };
    assert_eq!(warned_since(late), warned_since(in_time));
    assert_as_in_time(&p, &customers);
}

/// The late customer, whose late event came before an older end than the
/// latest judged, holds the in-time course, tier, start and validity.
fn assert_course_as_in_time(p: &Program, [in_time, late]: &[Customer; 2]) {
    assert_eq!(course(&late.s.history), course(&in_time.s.history));
    assert_eq!(late.s.tier, in_time.s.tier);
    assert_eq!(late.s.tier_since, in_time.s.tier_since);
    assert_eq!(p.valid_until(&late.s), p.valid_until(&in_time.s));
    assert_eq!(late.s.grace_until, in_time.s.grace_until);
    // A consumer of the feed reads the tier held from the last change told,
    // or from the latest dated (of one instant, the last told).
    if let Some(last) = late.published.last() {
        assert_eq!(last.1, late.s.tier, "last told");
    }
    let latest = late
        .published
        .iter()
        .enumerate()
        .max_by_key(|(i, m)| (m.2, *i));
    if let Some((_, latest)) = latest {
        assert_eq!(latest.1, late.s.tier, "latest dated");
    }
}

/// A late order placed before an older end than the latest judged one: in
/// time it renewed Silver there, so the customer never fell to Member nor
/// climbed back, and held Silver from its first upgrade. Before, only the
/// latest end was judged again, which the order's window does not reach.
#[test]
fn a_late_order_before_an_older_end_renews_it_and_the_ends_after_follow() {
    let p = silver_kept_monthly(json!({"months": 1}), 100, "oneDown", &[]);
    let customers: [Customer; 2] = twins(
        &p,
        &[
            ("o0", "2024-01-10T00:00:00Z", "1000"),
            ("o1", "2024-03-05T00:00:00Z", "1000"),
            ("o2", "2024-03-20T00:00:00Z", "150"),
            ("o3", "2024-04-20T00:00:00Z", "10"),
        ],
        ("L", "2024-02-01T00:00:00Z", "150"),
    );
    assert_eq!(
        course(&customers[0].s.history),
        vec![m("Member", "Silver", "2024-01-10T00:00:00Z")]
    );
    assert_eq!(customers[1].s.tier_since, at("2024-01-10T00:00:00Z"));
    assert_course_as_in_time(&p, &customers);
}

/// A Silver program drawn by a property: the tracker's window (30 days,
/// a month, three months), the criterion that keeps Silver (spend of
/// `keep` over the window, lifetime purchases of $1,000 and `keep`, or one
/// order of `keep`), `onFail`, the grace (none, 10 or 40 days), the
/// warnings (none, 7, or 20 and 3 days before) and the validity (a month
/// from the tier's start, from the join, or on the first 1 January a month
/// or more after the start), each by its index.
struct Shape {
    window: usize,
    kind: usize,
    keep: u32,
    on_fail: usize,
    grace: usize,
    warn: usize,
    from: usize,
}

impl Shape {
    fn program(&self, more: &[Value]) -> Program {
        let window = [
            json!({"days": 30}),
            json!({"months": 1}),
            json!({"months": 3}),
        ][self.window]
            .clone();
        let keep = self.keep;
        let criterion = match self.kind {
            0 => json!({"id": "K", "kind": "tracker", "tracker": "spend", "min": keep}),
            1 => json!({"id": "K", "kind": "lifetimePurchases", "min": 1000 + keep}),
            _ => json!({"id": "K", "kind": "singleOrder", "min": keep}),
        };
        let on_fail = ["oneDown", "base", "qualified"][self.on_fail];
        let grace_days = [0, 10, 40][self.grace];
        let warn: &[u32] = [&[][..], &[7][..], &[20, 3][..]][self.warn];
        let validity = [
            json!({"months": 1, "from": "tierStart"}),
            json!({"months": 1, "from": "programJoin"}),
            json!({"months": 1, "from": {"fixedDate": "--01-01"}}),
        ][self.from]
            .clone();
        silver_kept_warning(window, criterion, on_fail, grace_days, warn, validity, more)
    }
}

fn gold() -> Value {
    json!({"name": "Gold", "earnRate": "2", "upgrade": {"criteria": [
        {"id": "U", "kind": "lifetimePurchases", "min": 1500}],
        "condition": "all", "upgradeType": "lazy"}})
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
    /// A customer who never reached Silver without the late order (the
    /// other orders add up to less than $1,000), over a year and more of
    /// orders: the late order's $1,000 takes them there at its instant, and
    /// the ends, moves down, lifts (to Gold too) and renewals after it are
    /// as in time, each published once, whether Silver is kept by spend
    /// over a window, by lifetime purchases or by one large order.
    #[test]
    fn a_late_upgrade_followed_by_ends_moves_as_in_time(
        days in proptest::collection::vec(0u32..500, 1..8),
        amounts in proptest::collection::vec(1u32..140, 8),
        late_day in 0u32..200,
        window in 0usize..3,
        keep in 20u32..200,
        kind in 0usize..3,
        on_fail in 0usize..3,
        grace in 0usize..3,
        warn in 0usize..3,
        from in 0usize..3,
        with_gold in proptest::bool::ANY,
    ) {
        // Lazy: a `dynamic` order crossing two tiers in time tells each, a
        // lift after a move down one change to the tier it reaches (README).
        let more: Vec<Value> = with_gold.then(gold).into_iter().collect();
        let shape = Shape { window, kind, keep, on_fail, grace, warn, from };
        let p = shape.program(&more);
        let start = at("2024-01-01T00:00:00Z");
        // Each order at an instant of its own (two at one instant are
        // told apart by arrival, which the twins do not share).
        let when = |day: u32, hour: usize| {
            (start + chrono::Duration::days(i64::from(day)) + chrono::Duration::hours(hour as i64))
                .to_rfc3339()
        };
        let base: Vec<(String, String, String)> = days
            .iter()
            .enumerate()
            .map(|(i, day)| (format!("o{i}"), when(*day, i), amounts[i].to_string()))
            .collect();
        let late_at = when(late_day, 12);
        // Placed before some order (each at hour 0 to 7 of its day).
        proptest::prop_assume!(days.iter().any(|d| *d > late_day));
        let base: Vec<(&str, &str, &str)> =
            base.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
        let customers: [Customer; 2] = twins(&p, &base, ("L", &late_at, "1000"));
        assert_as_in_time(&p, &customers);
        // A warning the in-time customer had between two of the late
        // order's dated upgrades is not told: after the upgrade that passed
        // it, it would warn of losing a tier already left (README).
        let late_steps: Vec<DateTime<Utc>> = customers[1]
            .s
            .history
            .iter()
            .filter(|c| c.cause == "order L")
            .map(|c| c.at)
            .collect();
        // One on the later step's own instant too: in time it came first.
        let passed = |w: &&DateTime<Utc>| {
            late_steps.first().is_some_and(|first| *w > first)
                && late_steps.last().is_some_and(|last| *w <= last)
        };
        let in_time_warned: Vec<_> =
            customers[0].warned.iter().filter(|w| !passed(w)).collect();
        let late_warned: Vec<_> = customers[1].warned.iter().collect();
        proptest::prop_assert_eq!(late_warned, in_time_warned);
        proptest::prop_assert_eq!(&customers[1].criteria, &customers[0].criteria);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        max_global_rejects: 1_000_000,
        ..proptest::prelude::ProptestConfig::with_cases(1000)
    })]
    /// A Silver customer (from a $1,000 first order) kept a month at a
    /// time, with orders over most of a year, and one more order of up to
    /// $300 that comes last though placed among them, before ends already
    /// judged: the course, tier, start, validity and grace are as in time.
    #[test]
    fn a_late_order_before_older_ends_leaves_the_course_as_in_time(
        days in proptest::collection::vec(1u32..300, 1..8),
        amounts in proptest::collection::vec(1u32..200, 8),
        late_day in 1u32..250,
        late_amount in 1u32..300,
        window in 0usize..3,
        keep in 20u32..200,
        kind in 0usize..3,
        on_fail in 0usize..3,
        grace in 0usize..3,
        from in 0usize..3,
        warn in 0usize..3,
        with_gold in proptest::bool::ANY,
    ) {
        // Gold by $1,500 lifetime: a later order may reach it with the
        // late order's help (walked too).
        let more: Vec<Value> = with_gold.then(gold).into_iter().collect();
        let shape = Shape { window, kind, keep, on_fail, grace, warn, from };
        let p = shape.program(&more);
        let start = at("2024-01-01T00:00:00Z");
        let when = |day: u32, hour: usize| {
            (start + chrono::Duration::days(i64::from(day)) + chrono::Duration::hours(hour as i64))
                .to_rfc3339()
        };
        let mut base: Vec<(String, String, String)> = vec![("first".into(), when(0, 1), "1000".into())];
        base.extend(
            days.iter()
                .enumerate()
                .map(|(i, day)| (format!("o{i}"), when(*day, i), amounts[i].to_string())),
        );
        // Only the one order comes late.
        base.sort_by_key(|o| at(&o.1));
        let late_at = when(late_day, 12);
        proptest::prop_assume!(days.iter().any(|d| *d > late_day));
        let base: Vec<(&str, &str, &str)> =
            base.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
        let amount = late_amount.to_string();
        let customers: [Customer; 2] = twins(&p, &base, ("L", &late_at, &amount));
        // An order that upgraded in time, or upgrades on the figures as
        // they stand when it comes, is a late upgrade, which
        // `late_upgrade.rs` dates (README "Late events": not walked).
        for customer in &customers {
            let l = customer.records.iter().find(|r| r.order_id == "L").unwrap();
            let upgraded = customer.s.history.iter().any(|c| c.cause == "order L");
            proptest::prop_assume!(l.tier_before == l.tier_after && !upgraded);
        }
        assert_course_as_in_time(&p, &customers);
    }
}

/// As the API's own scenario has it: the end started a grace, the job
/// moved the customer down at its end, and a late order placed before the
/// end would have renewed Silver there. The history reads as the renewal;
/// the feed, whose latest change told was the move down, tells a change
/// back at that instant (before, the renewal was told after the move, and
/// a consumer reading the latest change held the customer at Member).
#[test]
fn a_late_order_that_renews_before_a_graces_move_down_tells_the_tier_last() {
    let p = silver_kept_with_grace(
        json!({"months": 1}),
        json!({"id": "K", "kind": "tracker", "tracker": "spend", "min": 100}),
        "oneDown",
        10,
        &[],
    );
    let mut late = Customer::new(&p);
    late.order(&p, ("o0", "2024-01-10T00:00:00Z", "1000"));
    late.order(&p, ("o1", "2024-02-01T00:00:00Z", "10"));
    p.expire(&mut late.s, at("2024-02-25T00:00:00Z"));
    late.publish();
    assert_eq!(late.s.tier, "Member");
    late.order(&p, ("L", "2024-01-20T00:00:00Z", "150"));
    assert_eq!(
        course(&late.s.history),
        vec![m("Member", "Silver", "2024-01-10T00:00:00Z")]
    );
    assert_eq!(p.valid_until(&late.s), Some(at("2024-03-10T00:00:00Z")));
    assert_eq!(
        late.published.last(),
        Some(&m("Member", "Silver", "2024-02-20T00:00:00Z"))
    );
}

/// A return of `percent` % of order `id` made at `when`.
fn part_return(id: &str, when: DateTime<Utc>, percent: u32, records: &[OrderRecord]) -> Return {
    let amount = records.iter().find(|r| r.order_id == id).unwrap().amount;
    Return {
        return_id: format!("r-{id}"),
        order_id: id.into(),
        customer_id: "c1".into(),
        returned_at: when,
        amount: Some(
            (amount * rust_decimal::Decimal::from(percent) / rust_decimal::Decimal::from(100))
                .round_dp(2),
        ),
    }
}

/// A late return placed before an older end than the latest judged one:
/// in time it failed Silver's renewal there.
#[test]
fn a_late_return_before_an_older_end_fails_it_and_the_ends_after_follow() {
    let p = silver_kept_monthly(json!({"months": 1}), 100, "oneDown", &[]);
    let orders = [
        ("o0", "2024-01-10T00:00:00Z", "1000"),
        ("o1", "2024-02-01T00:00:00Z", "150"),
        ("o2", "2024-03-01T00:00:00Z", "150"),
        ("o3", "2024-03-20T00:00:00Z", "150"),
        ("o4", "2024-04-20T00:00:00Z", "10"),
    ];
    let mut in_time = Customer::new(&p);
    let mut late = Customer::new(&p);
    for o in &orders[..2] {
        in_time.order(&p, *o);
        late.order(&p, *o);
    }
    let ret = part_return("o1", at("2024-02-05T00:00:00Z"), 100, &in_time.records);
    in_time.give_back(&p, &ret);
    for o in &orders[2..] {
        in_time.order(&p, *o);
        late.order(&p, *o);
    }
    late.give_back(&p, &ret);
    // In time: Member at the first end, Silver again with the next order.
    assert_eq!(
        course(&in_time.s.history),
        vec![
            m("Member", "Silver", "2024-01-10T00:00:00Z"),
            m("Silver", "Member", "2024-02-10T00:00:00Z"),
            m("Member", "Silver", "2024-03-01T00:00:00Z"),
        ]
    );
    assert_course_as_in_time(&p, &[in_time, late]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        max_global_rejects: 1_000_000,
        ..proptest::prelude::ProptestConfig::with_cases(1000)
    })]
    /// [`a_late_order_before_older_ends_leaves_the_course_as_in_time`]
    /// with a return instead: part of one order, made some days after it,
    /// comes after every order.
    #[test]
    fn a_late_return_before_older_ends_leaves_the_course_as_in_time(
        days in proptest::collection::vec(1u32..300, 1..8),
        amounts in proptest::collection::vec(1u32..200, 8),
        returned in 0usize..8,
        percent in 1u32..=100,
        after in 0u32..40,
        window in 0usize..3,
        keep in 20u32..200,
        kind in 0usize..3,
        on_fail in 0usize..3,
        grace in 0usize..3,
        from in 0usize..3,
    ) {
        // No tier above: a late order that lets a later one reach it is
        // dated by `late_upgrade.rs`, not walked (README "Late events").
        let shape = Shape { window, kind, keep, on_fail, grace, warn: 0, from };
        let p = shape.program(&[]);
        let start = at("2024-01-01T00:00:00Z");
        let when = |day: u32, hour: usize| {
            start + chrono::Duration::days(i64::from(day)) + chrono::Duration::hours(hour as i64)
        };
        let mut base: Vec<(String, DateTime<Utc>, String)> =
            vec![("first".into(), when(0, 1), "1000".into())];
        base.extend(
            days.iter()
                .enumerate()
                .map(|(i, day)| (format!("o{i}"), when(*day, i), amounts[i].to_string())),
        );
        base.sort_by_key(|o| o.1);
        // One of the orders after the first, returned `after` days later
        // (at hour 12), before the last order.
        let (id, placed) = {
            let o = &base[1 + returned % (base.len() - 1)];
            (o.0.clone(), o.1)
        };
        let returned_at = placed + chrono::Duration::days(i64::from(after)) + chrono::Duration::hours(12);
        proptest::prop_assume!(base.iter().any(|o| o.1 > returned_at));
        let texts: Vec<(String, String, String)> =
            base.iter().map(|(a, b, c)| (a.clone(), b.to_rfc3339(), c.clone())).collect();
        let orders: Vec<(&str, &str, &str)> =
            texts.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
        let mut in_time = Customer::new(&p);
        let mut late = Customer::new(&p);
        let mut ret = None;
        for (o, (_, placed_at, _)) in orders.iter().zip(&base) {
            if ret.is_none() && *placed_at > returned_at {
                let r = part_return(&id, returned_at, percent, &in_time.records);
                in_time.give_back(&p, &r);
                ret = Some(r);
            }
            in_time.order(&p, *o);
            late.order(&p, *o);
        }
        late.give_back(&p, ret.as_ref().unwrap());
        // A return that moves the customer down is dated by `returns.rs`
        // (`late_dates`), not walked.
        let down_by_return = |c: &Customer| c.s.history.iter().any(|h| h.cause.starts_with("return "));
        proptest::prop_assume!(!down_by_return(&in_time) && !down_by_return(&late));
        assert_course_as_in_time(&p, &[in_time, late]);
    }
}
