//! The forty-second session's adversary of a late order's telling:
//! 291a8d7 (a late order leaves the move down by a return made since to
//! the walk of the ends its lift brought) and 19ef950 (a walk's
//! correction left out where its new course tells a move to the same tier
//! at that instant), and a move down by returns a walk dated after
//! changes it replaced. Every commit of a customer fed late is checked
//! against the same events fed in time: the state, the feed's last word
//! read in order both ways, and no change told twice in one commit. Each
//! test failed on the commit it names.

use chrono::{DateTime, Duration, Months, Utc};
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod spenders;
#[allow(dead_code)]
mod standing;
use common::{at, d, order, program_expiring, rule};
use spenders::Served;

/// One event: ("order" | "return", order id, instant, amount).
type Ev = spenders::Event;

fn ev(kind: &'static str, id: &str, when: DateTime<Utc>, amount: &str) -> Ev {
    (kind, id.to_owned(), when, amount.to_owned())
}

/// Fed in time (sorted by instant, listed order among ties), or with the
/// orders in `late` (and every return of them) told after every other
/// event, each late order followed by its returns. Then expiry to the
/// latest instant. The feed's last word checked after every commit.
struct Fed<'a> {
    c: Served<'a>,
    /// (commit, last change's to, last change of tier's to, tier)
    words: Vec<(String, String, String, String)>,
    /// Changes (from, to, at) told twice in one commit.
    twice: Vec<String>,
}

fn feed<'a>(p: &'a Program, events: &[Ev], late: &[&str]) -> Fed<'a> {
    let order_list = spenders::told_order(events, late);
    let mut c = Served::new(p, true);
    let mut words = Vec::new();
    let mut twice = Vec::new();
    let (mut last_any, mut last_move) = (p.tier_name(0).to_owned(), p.tier_name(0).to_owned());
    let latest = events.iter().map(|e| e.2).max().unwrap();
    for e in order_list {
        let before = c.told.len();
        match e.0 {
            "order" => c.order(&order(&e.1, e.2, &e.3)),
            "redeem" => assert!(c.redeem(&e.1, e.2, d(&e.3)), "redemption {} refused", e.1),
            _ => assert!(c.give_back(&e.1, e.2, d(&e.3)), "return of {} refused", e.1),
        }
        let mut seen = Vec::new();
        for n in &c.told[before..] {
            if let NoticeKind::Changed { change, .. } = &n.kind {
                let k = (change.from.clone(), change.to.clone(), change.at);
                if change.from != change.to && seen.contains(&k) {
                    twice.push(format!("{} {}: {} -> {} at {}", e.0, e.1, k.0, k.1, k.2));
                }
                seen.push(k);
                last_any.clone_from(&change.to);
                if change.from != change.to {
                    last_move.clone_from(&change.to);
                }
            }
        }
        words.push((
            format!("{} {} {}", e.0, e.1, e.2),
            last_any.clone(),
            last_move.clone(),
            c.s.tier.clone(),
        ));
    }
    c.p.expire(&mut c.s, latest);
    let notices = c.s.outbox.take();
    c.told.extend(notices);
    Fed { c, words, twice }
}

/// Tier, its start, the renewal and the grace.
type Standing = (
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn key(s: &CustomerState) -> Standing {
    (s.tier.clone(), s.tier_since, s.renewed_at, s.grace_until)
}

fn show(label: &str, f: &Fed<'_>) {
    let s = &f.c.s;
    eprintln!(
        "{label}: {} since {} renewed {:?} grace {:?} cur {} notices {}",
        s.tier,
        s.tier_since,
        s.renewed_at,
        s.grace_until,
        s.current_points,
        f.c.told.len()
    );
    for h in &s.history {
        eprintln!("   {} -> {} at {} ({})", h.from, h.to, h.at, h.cause);
    }
}

fn changes(ns: &[Notice]) -> Vec<String> {
    ns.iter()
        .map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } => format!(
                "#{} {} -> {} at {} ({})",
                n.seq, change.from, change.to, change.at, change.cause
            ),
            NoticeKind::AtRisk { tier, on, .. } => format!("#{} at risk {tier} on {on}", n.seq),
        })
        .collect()
}

/// Silver from $1,000 in 30 days (`upgrade`), kept a month from its start
/// by $100 in 30 days, warned 1 to 5 days before each end, else the base.
fn warned_silver(upgrade: &str) -> Program {
    warned_silver_with_grace(upgrade, 0)
}

/// [`warned_silver`] with `grace_days` of grace (none: 0).
fn warned_silver_with_grace(upgrade: &str, grace_days: u32) -> Program {
    let by_spend = json!({"id": "S", "kind": "tracker", "tracker": "spend", "min": 1000});
    silver_kept_by_spend(by_spend, upgrade, [30, 100], "base", grace_days)
}

/// Silver by the criterion `upgrade` (of type `upgrade_type`), kept a
/// month at a time by `min` spent over the last `days` days (tracker
/// `spend`), warned one to five days before each end; `on_fail` and
/// `grace_days` (none: 0) as given.
fn silver_kept_by_spend(
    upgrade: Value,
    upgrade_type: &str,
    [days, min]: [u32; 2],
    on_fail: &str,
    grace_days: u32,
) -> Program {
    let spend = json!([{"id": "spend", "measure": "billAmount", "period": {"days": days}}]);
    let s = json!({"id": "S", "kind": "tracker", "tracker": "spend", "min": min});
    let mut retention = json!({"validity": {"months": 1, "from": "tierStart"}, "criteria": [s],
                               "condition": "all", "onFail": on_fail, "warnDaysBefore": [1, 2, 3, 4, 5]});
    if grace_days > 0 {
        retention["graceDays"] = json!(grace_days);
    }
    program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1",
             "upgrade": rule(json!([upgrade]), json!("all"), upgrade_type),
             "retention": retention}
        ]),
        spend,
        Value::Null,
        "negativeBalance",
    )
}

/// o0 $900 (5 Jan 2026), the late order oL $200 (10 Jan: Silver, told
/// late), two keepers a month just before each end ($60 each, after the
/// warnings), and o0 returned whole at `returned`.
fn many_ends(months: u32, returned: DateTime<Utc>) -> Vec<Ev> {
    many_ends_kept_at(months, returned, [-12, -6])
}

/// [`many_ends`] with the keepers `hours` from each end.
fn many_ends_kept_at(months: u32, returned: DateTime<Utc>, hours: [i64; 2]) -> Vec<Ev> {
    let lift = at("2026-01-10T00:00:00Z");
    let mut evs = vec![
        ev("order", "o0", at("2026-01-05T00:00:00Z"), "900"),
        ev("order", "oL", lift, "200"),
    ];
    for k in 1..=months {
        let end = lift.checked_add_months(Months::new(k)).unwrap();
        evs.push(ev(
            "order",
            &format!("k{k}a"),
            end + Duration::hours(hours[0]),
            "60",
        ));
        evs.push(ev(
            "order",
            &format!("k{k}b"),
            end + Duration::hours(hours[1]),
            "60",
        ));
    }
    evs.push(ev("return", "o0", returned, "900"));
    evs
}

/// Silver from 1,000 current points (`upgrade`), kept a month from its
/// start by 400 current points, else the base (`newer_lots_attack.rs`'s
/// `lapsing(4)` for dynamic).
fn silver_by_points(upgrade: &str, expiry_days: u32, spent: &str) -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1",
             "upgrade": rule(json!([{"id": "P", "kind": "currentPoints", "min": 1000}]), json!("all"), upgrade),
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                           "criteria": [{"id": "K", "kind": "currentPoints", "min": 400}],
                           "condition": "all", "onFail": "base"}}
        ]),
        spend30d,
        json!({"days": expiry_days}),
        spent,
    )
}

fn words_wrong(f: &Fed<'_>) -> Vec<String> {
    f.words
        .iter()
        .filter(|w| w.1 != w.3 || w.2 != w.3)
        .map(|w| {
            format!(
                "after {}: last change names {}, last change of tier names {}, tier {}",
                w.0, w.1, w.2, w.3
            )
        })
        .collect()
}

/// F2 (19ef950). Silver from 1,000 current points (dynamic), kept a month
/// from its start by 400 current points, else the base; points last 35
/// days. In time: o0 $451 (1 Mar), o1 $370 (8 Mar), o2 $60 (10 Mar), o3
/// $142 (10 Mar 21:00: Silver) returned whole at `o3_back` (Member), o4
/// $364 (16 Mar: Silver), o5 $99 (14 Mar), $185 of o4 returned on 23 Apr.
/// The 16 April end renews Silver on o4 and o5 (463 points). Told late:
/// o5. Without it the end had moved the customer down (`Silver -> Member`,
/// retention, told); o5's walk renews Silver there and told the renewal
/// (`Silver -> Silver`) but not the move back: the correction `Member ->
/// Silver` at 16 April was left out because the new course told a change
/// to the same tier at that instant (the renewal, which moves nobody).
/// Read in order, the last change of tier named Member with the customer
/// Silver. Only a move told there stands for the correction now.
fn renewal_hides_the_move_back(o3_back: &str) -> (Vec<Ev>, Program) {
    let p = silver_by_points("dynamic", 35, "negativeBalance");
    let evs = vec![
        ev("order", "o0", at("2026-03-01T00:00:00Z"), "451"),
        ev("order", "o1", at("2026-03-08T10:00:00Z"), "370"),
        ev("order", "o2", at("2026-03-10T00:00:00Z"), "60"),
        ev("order", "o3", at("2026-03-10T21:00:00Z"), "142"),
        ev("return", "o3", at(o3_back), "142"),
        ev("order", "o4", at("2026-03-16T00:00:00Z"), "364"),
        ev("order", "o5", at("2026-03-14T00:00:00Z"), "99"),
        ev("return", "o4", at("2026-04-23T20:00:00Z"), "185"),
    ];
    (evs, p)
}

fn check_renewal_hides(o3_back: &str) {
    let (evs, p) = renewal_hides_the_move_back(o3_back);
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["o5"]);
    show("in time", &t);
    show("late", &l);
    eprintln!("told: {:#?}", changes(&l.c.told));
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert!(words_wrong(&t).is_empty());
    assert_eq!(words_wrong(&l), Vec::<String>::new());
}

#[test]
fn f2_a_late_orders_renewal_at_an_end_told_down_leaves_the_last_tier_change_on_member() {
    check_renewal_hides("2026-03-10T21:00:00Z");
}

/// F1 (291a8d7). Silver from $1,000 in 30 days (eager), kept a month from
/// its start by $100 in 30 days, warned 1 to 5 days before each end, else
/// the base; points never expire. o0 $900 (5 Jan 2026), oL $200 (10 Jan:
/// Silver), two $60 keepers just before each monthly end (renewals, each
/// end warned up to five times), o0 returned whole on `returned`: in
/// time the return takes Silver away (Member). oL is told last. Its lift
/// is dated 10 January; the walk of the ends it brought tells a
/// decision's 90 notices before it reaches the return and stops (the
/// rest stay due), and `returned_since`, left to that walk by 291a8d7,
/// made no move down: the customer kept Silver. Before 291a8d7 the late
/// customer ended as in time; where the walk stops now, the returns'
/// moves down are made first again, as then.
fn keeps_silver_a_return_took(keepers: u32, returned: &str) {
    let p = warned_silver("eager");
    let evs = many_ends(keepers, at(returned));
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["oL"]);
    show("in time", &t);
    show("late", &l);
    assert_eq!(t.c.s.tier, "Member");
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(words_wrong(&l), Vec::<String>::new());
}

#[test]
fn f1_a_late_lift_whose_ends_walk_stops_at_the_notice_bound_keeps_a_tier_a_return_took() {
    // Keepers through 9 June 2027; o0 returned on 25 June 2027.
    keeps_silver_a_return_took(17, "2027-06-25T00:00:00Z");
}

/// F1 past the bound by renewals alone (60 monthly ends, the warnings of
/// all but the first few spared): the returns' moves down are made first.
#[test]
fn f1d_past_the_bound_by_renewals_alone_the_return_still_takes_silver() {
    keeps_silver_a_return_took(60, "2031-01-25T00:00:00Z");
}

/// F1, then the customer's next events in time: an order on 1 July 2027
/// and the job on 1 August. In time Member throughout; told late, the
/// customer stays Silver until the 10 July end, moved down there by
/// retention, not by the return.
#[test]
fn f1b_the_tier_stays_until_the_next_end() {
    let p = warned_silver("eager");
    let evs = many_ends(17, at("2027-06-25T00:00:00Z"));
    let mut t = feed(&p, &evs, &[]);
    let mut l = feed(&p, &evs, &["oL"]);
    let next = order("n1", at("2027-07-01T00:00:00Z"), "60");
    t.c.order(&next);
    l.c.order(&next);
    let l_after_order = key(&l.c.s);
    for c in [&mut t.c, &mut l.c] {
        let p = c.p;
        p.expire(&mut c.s, at("2027-08-01T00:00:00Z"));
        let n = c.s.outbox.take();
        c.told.extend(n);
    }
    show("in time", &t);
    show("late", &l);
    assert_eq!(t.c.s.tier, "Member");
    assert_eq!(
        l_after_order.0, "Member",
        "after the order of 1 July: {l_after_order:?}"
    );
    assert_eq!(key(&l.c.s), key(&t.c.s));
}

/// Three tiers by current points (Silver 600, Gold 1,200, eager), each
/// kept a month from its start by $300 / $600 in 30 days, warned 10 and
/// 3 days before, else the tier qualified for after 7 days' grace.
fn three_qualified(expiry_days: u32) -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    let p = |min: u32| json!({"id": "P", "kind": "currentPoints", "min": min});
    let ks = |min: u32| json!({"id": "K", "kind": "tracker", "tracker": "spend30d", "min": min});
    let ret = |keep: Value| {
        json!({"validity": {"months": 1, "from": "tierStart"}, "criteria": [keep],
               "condition": "all", "onFail": "qualified", "graceDays": 7, "warnDaysBefore": [3, 10]})
    };
    program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": rule(json!([p(600)]), json!("all"), "eager"), "retention": ret(ks(300))},
            {"name": "Gold", "earnRate": "1", "upgrade": rule(json!([p(1200)]), json!("all"), "eager"), "retention": ret(ks(600))}
        ]),
        spend30d,
        json!({"days": expiry_days}),
        "negativeBalance",
    )
}

/// F2c (19ef950), no two events at one instant. Three tiers by current
/// points, `qualified` after 7 days' grace, points last 72 days. In time:
/// o0 $866 (1 Mar: Silver), o1 $754 (16 Mar: Gold), o2 $878, o3 $385,
/// $43 of o0 returned on 30 Apr, 26 points redeemed on 1 May, o4 $721 (9
/// May), $627 of o4 returned on 15 Jun, o5 $873 (28 Jun). Told late: o4
/// with its return, then o1. Before o1 arrives the customer is Gold by o2
/// (19 Mar), moved down at the end of grace on 2 June, and lifted to
/// Silver by o5 (told). o4's walk renews Gold at 26 May and in the grace
/// by o5 on 28 June (`Gold -> Gold`, renewed): the correction of the told
/// `Member -> Silver` at 28 June is left out, because the new course tells
/// a change "to Gold at that instant" (the renewal). The last change of
/// tier told names Silver; the customer is Gold.
#[test]
fn f2c_a_renewal_in_grace_at_a_told_lift_leaves_the_last_tier_change_on_silver() {
    let p = three_qualified(72);
    let evs = vec![
        ev("order", "o0", at("2026-03-01T00:00:00Z"), "866"),
        ev("order", "o1", at("2026-03-16T00:00:00Z"), "754"),
        ev("order", "o2", at("2026-03-19T05:00:00Z"), "878"),
        ev("order", "o3", at("2026-03-22T00:00:00Z"), "385"),
        ev("return", "o0", at("2026-04-30T00:15:00Z"), "43"),
        ev("redeem", "x0", at("2026-05-01T06:30:00Z"), "26"),
        ev("order", "o4", at("2026-05-09T00:00:00Z"), "721"),
        ev("return", "o4", at("2026-06-15T11:15:00Z"), "627"),
        ev("order", "o5", at("2026-06-28T22:00:00Z"), "873"),
    ];
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["o4", "o1"]);
    show("in time", &t);
    show("late", &l);
    eprintln!("told: {:#?}", changes(&l.c.told));
    assert!(words_wrong(&t).is_empty());
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(words_wrong(&l), Vec::<String>::new());
}

/// Three tiers by current points (Silver 600, Gold 1,200, dynamic), kept
/// a month from their start by 300 / 700, else one down after 10 days'
/// grace (`newer_lots_attack.rs`'s `lapsing(6)`).
fn three_one_down(expiry_days: u32) -> Program {
    let p = |min: u32| json!({"id": "P", "kind": "currentPoints", "min": min});
    let k = |min: u32| json!({"id": "K", "kind": "currentPoints", "min": min});
    let ret = |keep: Value| {
        json!({"validity": {"months": 1, "from": "tierStart"}, "criteria": [keep],
               "condition": "all", "onFail": "oneDown", "graceDays": 10})
    };
    program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": rule(json!([p(600)]), json!("all"), "dynamic"), "retention": ret(k(300))},
            {"name": "Gold", "earnRate": "1", "upgrade": rule(json!([p(1200)]), json!("all"), "dynamic"), "retention": ret(k(700))}
        ]),
        json!([]),
        json!({"days": expiry_days}),
        "negativeBalance",
    )
}

fn told_twice_events(o2_back: &str) -> Vec<Ev> {
    vec![
        ev("order", "o0", at("2026-03-03T16:00:00Z"), "508"),
        ev("order", "o1", at("2026-03-14T00:00:00Z"), "264"),
        ev("order", "o2", at("2026-04-09T00:00:00Z"), "175"),
        ev("return", "o2", at(o2_back), "131"),
        ev("return", "o0", at("2026-04-26T00:00:00Z"), "508"),
        ev("order", "o3", at("2026-04-27T00:00:00Z"), "568"),
        ev("return", "o2", at("2026-05-14T01:00:00Z"), "44"),
    ]
}

fn check_told_twice(o2_back: &str) {
    let p = three_one_down(32);
    let evs = told_twice_events(o2_back);
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["o1"]);
    show("in time", &t);
    show("late", &l);
    eprintln!("told: {:#?}", changes(&l.c.told));
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(l.twice, Vec::<String>::new());
    // The move down by o0's return is dated where it was in time.
    assert!(
        l.c.s
            .history
            .iter()
            .any(|h| h.at == at("2026-04-26T00:00:00Z") && h.to == "Member"),
        "no move down on 26 April"
    );
}

/// F3 (not new: before both fixes too). Three tiers by current points
/// (Silver 600, dynamic), kept a month by 300 points, else one down after
/// 10 days' grace; points last 32 days. In time: o0 $508 (3 Mar), o1 $264
/// (14 Mar: Silver), o2 $175 (9 Apr) with $131 of it returned at its
/// instant, the 14 April end renews, o0 returned whole on 26 April
/// (Member), o3 $568 (27 Apr: Silver), o2's last $44 returned on 14 May
/// (Member). Told late: o1, whose lift a return made since took back. Its
/// one commit told `Silver -> Member` at 14 May twice (once as "return of
/// order o0", dated at o2's return, not at o0's on 26 April): the walk of
/// the ends dated its move down by the history, which still held the
/// course told after it.
#[test]
fn f3_a_late_lift_taken_back_by_a_return_tells_a_move_down_twice_at_a_later_return() {
    check_told_twice("2026-04-09T00:00:00Z");
}

#[test]
fn f3b_the_same_with_o2s_first_return_an_hour_after_it() {
    check_told_twice("2026-04-09T01:00:00Z");
}

/// A change told: from, to, at.
type Told = (String, String, DateTime<Utc>);
/// A warning told: tier, end, day.
type Warned = (String, DateTime<Utc>, DateTime<Utc>);

/// The changes and warnings notices tell, sorted.
fn changes_and_warnings(ns: &[Notice]) -> (Vec<Told>, Vec<Warned>) {
    let (mut changed, mut warned) = (Vec::new(), Vec::new());
    for n in ns {
        match &n.kind {
            NoticeKind::Changed { change, .. } => {
                changed.push((change.from.clone(), change.to.clone(), change.at))
            }
            NoticeKind::AtRisk { tier, on, at, .. } => warned.push((tier.clone(), *on, *at)),
        }
    }
    changed.sort();
    warned.sort();
    (changed, warned)
}

/// A late lift's walk past half a decision's notices spares the warnings
/// of the ends it judges by the latest instant and tells every change of
/// the course in time: F1's customer, told late, heard of Silver, its 17
/// renewals and the return's move down (before, the walk stopped at the
/// bound with 90 notices, and the returns' moves down, made first, left a
/// history that never held Silver).
fn tells_the_course_in_time(p: &Program, evs: &[Ev], course: &[(&str, &str)]) {
    let t = feed(p, evs, &[]);
    let l = feed(p, evs, &["oL"]);
    show("in time", &t);
    show("late", &l);
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(words_wrong(&l), Vec::<String>::new());
    let moves = |s: &CustomerState| -> Vec<(String, String)> {
        s.history
            .iter()
            .filter(|h| h.from != h.to)
            .map(|h| (h.from.clone(), h.to.clone()))
            .collect()
    };
    let course: Vec<(String, String)> = course
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(moves(&t.c.s), course);
    assert_eq!(moves(&l.c.s), course);
    let (changed_in_time, warned_in_time) = changes_and_warnings(&t.c.told);
    let (changed_late, warned_late) = changes_and_warnings(&l.c.told);
    assert_eq!(changed_late, changed_in_time);
    assert!(changed_late.len() > 17, "{changed_late:?}");
    assert!(warned_late.len() < warned_in_time.len());
    assert!(
        warned_late.iter().all(|w| warned_in_time.contains(w)),
        "{warned_late:?}"
    );
    // The late order's commit: one decision's notices at most.
    let late_commit = l.c.told.len() - t_before_late(p, evs);
    assert!(late_commit <= MAX_NOTICES_PER_DECISION, "{late_commit}");
    assert!(l.twice.is_empty(), "{:?}", l.twice);
}

/// Notices told before the late order oL is.
fn t_before_late(p: &Program, evs: &[Ev]) -> usize {
    let others: Vec<Ev> = evs.iter().filter(|e| e.1 != "oL").cloned().collect();
    let mut c = Served::new(p, true);
    let mut sorted: Vec<&Ev> = others.iter().collect();
    sorted.sort_by_key(|e| e.2);
    for e in sorted {
        match e.0 {
            "order" => c.order(&order(&e.1, e.2, &e.3)),
            _ => assert!(c.give_back(&e.1, e.2, d(&e.3))),
        }
    }
    c.told.len()
}

#[test]
fn f1c_a_late_lift_walks_past_the_warnings_of_ends_it_judged_and_tells_the_course() {
    let p = warned_silver("eager");
    let evs = many_ends(17, at("2027-06-25T00:00:00Z"));
    tells_the_course_in_time(&p, &evs, &[("Member", "Silver"), ("Silver", "Member")]);
}

/// Silver from $950 and Gold from $1,000 in 30 days (eager), each kept a
/// month from its start by $100 in 30 days, warned 1 to 5 days before
/// each end, else one down.
fn warned_silver_and_gold() -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    let s = |min: u32| json!({"id": "S", "kind": "tracker", "tracker": "spend30d", "min": min});
    let ret = json!({"validity": {"months": 1, "from": "tierStart"}, "criteria": [s(100)],
                     "condition": "all", "onFail": "oneDown", "warnDaysBefore": [1, 2, 3, 4, 5]});
    program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": rule(json!([s(950)]), json!("all"), "eager"), "retention": ret},
            {"name": "Gold", "earnRate": "1", "upgrade": rule(json!([s(1000)]), json!("all"), "eager"), "retention": ret}
        ]),
        spend30d,
        Value::Null,
        "negativeBalance",
    )
}

/// G1's shape (the forty-second session's second adversary): the late
/// order lifts to Gold, kept 17 months, and $120 of o0 returned takes it
/// down to Silver. Told late, the course was `Member -> Silver` at the
/// return, as the late order's: Gold was never heard of.
#[test]
fn g1_a_late_gold_lift_a_partial_return_takes_to_silver_is_told_as_in_time() {
    let p = warned_silver_and_gold();
    let mut evs = many_ends(17, at("2027-06-25T00:00:00Z"));
    evs.last_mut().unwrap().3 = "120".into();
    tells_the_course_in_time(&p, &evs, &[("Member", "Gold"), ("Gold", "Silver")]);
}

/// G2 and G3's shape (the same adversary): F1 with ten days' grace, the
/// keepers before each end (G2) or inside each grace (G3: every end
/// starts a grace, warned, and a keeper renews in it). Past the bound the
/// returns' moves down were made first, at the late order's own instant,
/// and the walk lifted the customer again: the end state was dated at a
/// retention move that never happened (G2), or one move down was told
/// twice (G3).
#[test]
fn g2_a_late_lift_with_a_grace_walks_to_the_return_as_in_time() {
    let p = warned_silver_with_grace("eager", 10);
    let evs = many_ends(17, at("2027-06-25T00:00:00Z"));
    tells_the_course_in_time(&p, &evs, &[("Member", "Silver"), ("Silver", "Member")]);
}

#[test]
fn g3_a_late_lift_renewed_in_every_grace_walks_to_the_return_as_in_time() {
    let p = warned_silver_with_grace("eager", 10);
    let evs = many_ends_kept_at(17, at("2027-06-25T00:00:00Z"), [12, 18]);
    tells_the_course_in_time(&p, &evs, &[("Member", "Silver"), ("Silver", "Member")]);
}

/// Silver from $1,000 and Gold from $1,500 in 30 days (eager), each kept a
/// month from the join by $100 / $200 in 30 days, warned 1, 2 and 5 days
/// before, else one down after ten days' grace.
fn joined_silver_and_gold() -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    let s = |min: u32| json!({"id": "S", "kind": "tracker", "tracker": "spend30d", "min": min});
    let ret = |keep: u32| {
        json!({"validity": {"months": 1, "from": "programJoin"}, "criteria": [s(keep)],
               "condition": "all", "onFail": "oneDown", "graceDays": 10, "warnDaysBefore": [1, 2, 5]})
    };
    program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": rule(json!([s(1000)]), json!("all"), "eager"), "retention": ret(100)},
            {"name": "Gold", "earnRate": "1", "upgrade": rule(json!([s(1500)]), json!("all"), "eager"), "retention": ret(200)}
        ]),
        spend30d,
        Value::Null,
        "negativeBalance",
    )
}

/// Found by the forty-third session's adversary (1,558 of 40,000 long
/// histories): the reply of a late return whose walk told the course
/// named every move down the walk told, chained or not, though the
/// customer ended in the tier held before. o0 $566 (5 Jan 2026), oL $968
/// (8 Jan: Gold, told late) returned whole on 1 February (told last: in
/// time Gold -> Member there), two $120 keepers a month, $1,300 on 27
/// June: Gold again there. The return's reply named `Gold -> Member` on
/// 1 February with the customer Gold; it names no step now
/// (`Served::give_back` checks every reply's chain).
#[test]
fn a_late_returns_reply_names_no_move_down_the_customer_no_longer_holds() {
    let p = joined_silver_and_gold();
    let mut evs = vec![
        ev("order", "o0", at("2026-01-05T23:00:00Z"), "566"),
        ev("order", "oL", at("2026-01-08T09:00:00Z"), "968"),
        ev("return", "oL", at("2026-02-01T07:00:00Z"), "968"),
        ev("order", "big", at("2026-06-27T12:00:00Z"), "1300"),
    ];
    let start = at("2026-02-03T05:00:00Z");
    for m in 0..7 {
        let day = start.checked_add_months(Months::new(m)).unwrap();
        evs.push(ev("order", &format!("k{m}a"), day, "120"));
        evs.push(ev(
            "order",
            &format!("k{m}b"),
            day + Duration::hours(30),
            "120",
        ));
    }
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["oL"]);
    show("in time", &t);
    show("late", &l);
    assert_eq!(t.c.s.tier, "Gold");
    assert_eq!(key(&l.c.s), key(&t.c.s));
    let back = l.c.returned.last().unwrap();
    assert_eq!((back.tier_before, back.tier_after), (2, 2));
    assert_eq!(back.downgrades, Vec::new());
}

/// A monthly Silver held five years, then two late lifts, each a few
/// days before the last, that start the tier and every end of it earlier:
/// each walk tells 60 renewals anew, which with the 60 they supersede
/// pass the history's 100 entries. The history lets go of what no longer
/// stands first, so the course stays whole from the join and the second
/// lift is walked from there too (before, the first walk declined past
/// the limit, and only the latest end was judged again).
#[test]
fn late_lifts_that_retell_years_of_renewals_keep_the_course_in_the_history() {
    let p = warned_silver_with_grace("eager", 0);
    let lift = at("2026-01-10T00:00:00Z");
    let mut evs = vec![ev("order", "o1", lift, "1000")];
    for k in 1..=60 {
        let end = lift.checked_add_months(Months::new(k)).unwrap();
        for (keeper, hours) in [("a", 12), ("b", 6)] {
            let id = format!("k{k}{keeper}");
            evs.push(ev("order", &id, end - Duration::hours(hours), "60"));
        }
    }
    evs.push(ev("order", "oE", at("2026-01-05T00:00:00Z"), "1000"));
    evs.push(ev("order", "oF", at("2026-01-02T00:00:00Z"), "1000"));
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["oE", "oF"]);
    show("in time", &t);
    show("late", &l);
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(t.c.s.tier_since, at("2026-01-02T00:00:00Z"));
    assert_eq!(t.c.s.history.len(), 61);
    assert_eq!(
        standing::course(&l.c.s.history),
        vec![(
            "Member".to_owned(),
            "Silver".to_owned(),
            at("2026-01-02T00:00:00Z")
        )]
    );
    assert_eq!(
        standing::course(&l.c.s.history),
        standing::course(&t.c.s.history)
    );
    assert!(l.c.s.history.len() <= tier_engine::state::HISTORY_KEPT);
    assert_eq!(words_wrong(&l), Vec::<String>::new());
    assert!(l.twice.is_empty(), "{:?}", l.twice);
}

/// The forty-fifth session's trace of a long history (seed 43, draw
/// 19807): each month's end finds too little spent and moves the customer
/// down, and an order placed at the end's own instant (after it) lifts
/// them back, so every step of the course is Silver to Silver. A late
/// order at one of those ends was walked from the last step that changed
/// the tier, the first lift four years back, ran out of one decision's
/// notices and was judged as before. An order's lift at an end's instant
/// starts the tier anew: the walk starts from the month before.
#[test]
fn a_late_order_at_one_of_years_of_ends_an_order_lifted_back_from_walks_from_the_month_before() {
    late_order_at_an_end_lifted_back_from(48, "k46a");
}

/// The same past the history's 100 entries: the walk's own copy of the
/// history passes them with its first months. Its start must stay (a trim
/// mid-walk cut it, and the walk declined).
#[test]
fn a_late_order_at_an_end_lifted_back_from_walks_past_the_historys_limit() {
    late_order_at_an_end_lifted_back_from(60, "k55a");
}

/// [`a_late_order_at_one_of_years_of_ends_an_order_lifted_back_from_walks_from_the_month_before`]
/// over `months` ends, the order `late` told after every other event.
fn late_order_at_an_end_lifted_back_from(months: u32, late: &str) {
    let p = silver_kept_by_spend(common::current_points(1000), "eager", [30, 200], "base", 0);
    let lift = at("2026-01-10T00:00:00Z");
    let mut evs = vec![ev("order", "o1", lift, "1000")];
    for k in 1..=months {
        let end = lift.checked_add_months(Months::new(k)).unwrap();
        evs.push(ev(
            "order",
            &format!("k{k}b"),
            end - Duration::hours(6),
            "100",
        ));
        evs.push(ev("order", &format!("k{k}a"), end, "100"));
    }
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &[late]);
    show("in time", &t);
    show("late", &l);
    let last_end = lift.checked_add_months(Months::new(months)).unwrap();
    assert_eq!(key(&t.c.s), ("Silver".to_owned(), last_end, None, None));
    // More changes than one decision's notices since the first lift.
    assert!(t.c.s.history.len() > 90, "{}", t.c.s.history.len());
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(
        standing::course(&l.c.s.history),
        standing::course(&t.c.s.history)
    );
    assert_eq!(words_wrong(&l), Vec::<String>::new());
    assert!(l.twice.is_empty(), "{:?}", l.twice);
}

/// Seed 82, draw 2953, traced in the forty-fifth session: told without the
/// late order, a grace ran out and the customer requalified, so the
/// periods counted from the grace's end, a week later than in time. In
/// time, a later end fails and its grace ends exactly where the told
/// period did. The walk's warning of that grace, told at the end that
/// failed, was taken for one of the told period's warnings (told before
/// its instant, of a period ending there) and left untold.
#[test]
fn a_walks_grace_ending_where_a_told_period_did_tells_its_warning() {
    let p = silver_kept_by_spend(
        common::current_points(1000),
        "eager",
        [14, 100],
        "qualified",
        7,
    );
    let evs = vec![
        ev("order", "o1", at("2026-01-10T00:00:00Z"), "1000"),
        // In the grace after 10 February: with L, the two recover it.
        ev("order", "k1", at("2026-02-11T00:00:00Z"), "60"),
        ev("order", "L", at("2026-02-12T00:00:00Z"), "60"),
        // In the grace after 10 March (in time): too little to recover.
        ev("order", "k2", at("2026-03-16T12:00:00Z"), "10"),
    ];
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["L"]);
    show("in time", &t);
    show("late", &l);
    let grace_warning = |f: &Fed<'_>| {
        f.c.told.iter().any(|n| {
            matches!(&n.kind, NoticeKind::AtRisk { on, at: when, grace: true, .. }
                if *on == at("2026-03-17T00:00:00Z") && *when == at("2026-03-10T00:00:00Z"))
        })
    };
    assert!(
        grace_warning(&t),
        "in time the end of 10 March starts a grace"
    );
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(
        key(&t.c.s),
        (
            "Silver".to_owned(),
            at("2026-01-10T00:00:00Z"),
            Some(at("2026-02-10T00:00:00Z")),
            Some(at("2026-03-17T00:00:00Z"))
        )
    );
    assert!(grace_warning(&l), "the walk's grace warning goes untold");
    assert_eq!(words_wrong(&l), Vec::<String>::new());
    assert!(l.twice.is_empty(), "{:?}", l.twice);
}

/// The review of the forty-fifth session's walk start: a late order that
/// undoes a return's move down records its lift at the return's instant
/// (cause `order L`) and gives the tier back its start from before. That
/// lift starts nothing: a later late order's walk must not start there,
/// or the tier's start moves to the return's instant. The customer's
/// first 2,000 orders (a cent each) are past what the replay in time
/// takes, which would set the start right after the walk.
#[test]
fn a_lift_that_undoes_a_returns_move_down_starts_no_walk() {
    let gold = json!({"validity": {"months": 1, "from": "tierStart"},
                      "criteria": [common::current_points(5000)],
                      "condition": "all", "onFail": "oneDown"});
    let p = program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1",
             "upgrade": rule(json!([common::current_points(1000)]), json!("all"), "eager")},
            {"name": "Gold", "earnRate": "1",
             "upgrade": rule(json!([common::current_points(5000)]), json!("all"), "eager"),
             "retention": gold}
        ]),
        json!([]),
        Value::Null,
        "negativeBalance",
    );
    // replay.rs `MAX_REPLAYED_EVENTS`.
    let mut evs: Vec<Ev> = (0..2_000)
        .map(|i| {
            let when = at("2026-01-01T00:00:00Z") + Duration::minutes(i as i64);
            ev("order", &format!("cent{i}"), when, "0.01")
        })
        .collect();
    evs.extend([
        ev("order", "o1", at("2026-01-10T00:00:00Z"), "1000"),
        ev("order", "L", at("2026-01-12T00:00:00Z"), "1000"),
        ev("return", "o1", at("2026-01-15T00:00:00Z"), "1000"),
        ev("order", "o2", at("2026-01-20T00:00:00Z"), "100"),
        ev("order", "M", at("2026-01-22T00:00:00Z"), "10"),
        ev("return", "o2", at("2026-01-25T00:00:00Z"), "50"),
    ]);
    let t = feed(&p, &evs, &[]);
    let once = feed(&p, &evs, &["L"]);
    let twice = feed(&p, &evs, &["L", "M"]);
    show("in time", &t);
    show("L late", &once);
    show("L and M late", &twice);
    assert_eq!(
        key(&t.c.s),
        ("Silver".to_owned(), at("2026-01-10T00:00:00Z"), None, None)
    );
    assert_eq!(key(&once.c.s), key(&t.c.s));
    assert_eq!(key(&twice.c.s), key(&t.c.s));
}

/// Seed 43, draw 21717, traced in the forty-fifth session: an order lifts
/// the customer and a return of another order at its very instant (after
/// it) takes them back. Told late, after the return and a later order,
/// the late order's walk read each instant's tier once its returns were
/// made, saw no lift, and told nothing: the tier's start stayed at the
/// join. In time it is up and down at that instant.
#[test]
fn a_late_order_lifted_and_taken_back_at_its_own_instant_is_told_so() {
    let by_spend = json!({"id": "S", "kind": "tracker", "tracker": "spend", "min": 1000});
    let p = silver_kept_by_spend(by_spend, "eager", [30, 100], "base", 0);
    let lifted = at("2026-01-09T02:00:00Z");
    let evs = vec![
        ev("order", "o0", at("2026-01-05T16:00:00Z"), "560"),
        ev("order", "oL", lifted, "497"),
        ev("return", "o0", lifted, "560"),
        ev("order", "k1", at("2026-02-01T00:00:00Z"), "50"),
    ];
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["oL"]);
    show("in time", &t);
    show("late", &l);
    assert_eq!(key(&t.c.s), ("Member".to_owned(), lifted, None, None));
    assert_eq!(key(&l.c.s), key(&t.c.s));
    let moves = |f: &Fed<'_>| {
        f.c.s
            .history
            .iter()
            .map(|c| (c.from.clone(), c.to.clone(), c.at))
            .collect::<Vec<_>>()
    };
    assert_eq!(moves(&l), moves(&t));
    assert_eq!(words_wrong(&l), Vec::<String>::new());
    assert!(l.twice.is_empty(), "{:?}", l.twice);
}

/// Found by review: warnings told before a late event are not told again
/// by the warnings of the replay in time. o1's Silver ran to 5 February
/// and was warned on 31 January, 1 and 2 February; a return on the 2nd
/// took the customer down and o2 up again the next day. L, told late,
/// keeps the first Silver from 5 January in time: the replay warns of the
/// 5 February end on those same days, already told (before, they were
/// told again, the state before the decision running to 3 March).
#[test]
fn a_late_order_that_restores_an_older_start_tells_no_warning_again() {
    let by_spend = json!({"id": "S", "kind": "tracker", "tracker": "spend", "min": 1000});
    let p = silver_kept_by_spend(by_spend, "eager", [30, 100], "base", 0);
    let l = order("L", at("2026-01-04T10:00:00Z"), "200");
    let o1 = order("o1", at("2026-01-05T10:00:00Z"), "1000");
    let o2 = order("o2", at("2026-02-03T10:00:00Z"), "200");
    let fed = |late: bool| {
        let mut c = Served::new(&p, true);
        if !late {
            c.order(&l);
        }
        c.order(&o1);
        p.expire(&mut c.s, at("2026-02-01T12:00:00Z"));
        let told = c.s.outbox.take();
        c.told.extend(told);
        assert!(c.give_back("o1", at("2026-02-02T12:00:00Z"), d("100")));
        c.order(&o2);
        if late {
            c.order(&l);
        }
        c
    };
    let (t, l) = (fed(false), fed(true));
    assert_eq!(key(&l.s), key(&t.s));
    let warnings: Vec<_> = l
        .told
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::AtRisk {
                tier,
                on,
                at,
                grace,
                ..
            } => Some((tier, on, at, grace)),
            NoticeKind::Changed { .. } => None,
        })
        .collect();
    let once: std::collections::HashSet<_> = warnings.iter().collect();
    assert_eq!(once.len(), warnings.len(), "{warnings:?}");
    assert!(!warnings.is_empty());
}

/// Warnings told more than once across the feed: (tier, end, day).
fn warnings_told_again(ns: &[Notice]) -> Vec<Warned> {
    let mut seen: Vec<Warned> = Vec::new();
    let mut again = Vec::new();
    for n in ns {
        if let NoticeKind::AtRisk { tier, on, at, .. } = &n.kind {
            let w = (tier.clone(), *on, *at);
            match seen.contains(&w) {
                true => again.push(w),
                false => seen.push(w),
            }
        }
    }
    again
}

/// Long histories' seed 82, draw 30 (the forty-seventh session): Silver
/// from 1,000 current points, kept a month at a time from the join by
/// 400, warned 1 to 5 days before each end, points expiring after 74
/// days. Told without oL, the customer reached Silver on 14 February,
/// renewed four times, was warned four times and fell to Member on 1
/// July. oL, told last, lifts them a month earlier: the walk of the ends
/// that lift brought told the whole course again, the four renewals,
/// the warnings and the move down. Only what differs is told now (the
/// lift and the renewal of 1 February) and the move down again, which
/// the feed must name last.
#[test]
fn h1_a_late_lift_before_a_told_course_tells_no_renewal_or_warning_again() {
    let tiers = json!([
        {"name": "Member", "earnRate": "1"},
        {"name": "Silver", "earnRate": "1",
         "upgrade": rule(json!([{"id": "P", "kind": "currentPoints", "min": 1000}]), json!("all"), "eager"),
         "retention": {"validity": {"months": 1, "from": "programJoin"},
                       "criteria": [{"id": "K", "kind": "currentPoints", "min": 400}],
                       "condition": "all", "onFail": "base", "warnDaysBefore": [1, 2, 3, 4, 5]}}
    ]);
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    let p = program_expiring(tiers, spend30d, json!({"days": 74}), "negativeBalance");
    let mut evs = vec![
        ev("order", "o0", at("2026-01-05T00:00:00Z"), "801"),
        ev("order", "oL", at("2026-01-16T07:00:00Z"), "345"),
    ];
    for (id, when, amount) in [
        ("k1b", "2026-02-12T21:00:00Z", "120"),
        ("k1a", "2026-02-14T02:00:00Z", "120"),
        ("k2a", "2026-03-14T14:00:00Z", "120"),
        ("k2b", "2026-03-16T02:00:00Z", "120"),
        ("k3a", "2026-04-12T00:00:00Z", "120"),
        ("k3b", "2026-04-14T04:00:00Z", "120"),
        ("k4b", "2026-05-13T16:00:00Z", "120"),
        ("k4a", "2026-05-15T23:00:00Z", "120"),
        ("k5a", "2026-06-11T19:00:00Z", "120"),
        ("k5b", "2026-06-15T17:00:00Z", "21"),
        ("k6a", "2026-07-11T23:00:00Z", "18"),
        ("k6b", "2026-07-13T07:00:00Z", "120"),
        ("k7a", "2026-08-11T13:00:00Z", "120"),
        ("k7b", "2026-08-14T18:00:00Z", "120"),
        ("k8b", "2026-09-10T21:00:00Z", "120"),
        ("k8a", "2026-09-14T20:00:00Z", "120"),
        ("k9a", "2026-10-13T22:00:00Z", "35"),
        ("k9b", "2026-10-14T22:00:00Z", "120"),
        ("k10a", "2026-11-11T01:00:00Z", "120"),
        ("k10b", "2026-11-13T05:00:00Z", "120"),
        ("k11a", "2026-12-13T10:00:00Z", "120"),
        ("k11b", "2026-12-15T17:00:00Z", "120"),
        ("k12a", "2027-01-11T14:00:00Z", "120"),
        ("k12b", "2027-01-12T09:00:00Z", "40"),
    ] {
        evs.push(ev("order", id, at(when), amount));
    }
    evs.push(ev("return", "k11b", at("2026-12-25T14:00:00Z"), "120"));
    evs.push(ev("return", "k12b", at("2027-01-23T03:00:00Z"), "40"));
    let t = feed(&p, &evs, &[]);
    let l = feed(&p, &evs, &["k11b", "oL"]);
    show("in time", &t);
    show("late", &l);
    assert_eq!(key(&l.c.s), key(&t.c.s));
    assert_eq!(words_wrong(&l), Vec::<String>::new());
    assert_eq!(warnings_told_again(&t.c.told), Vec::<Warned>::new());
    assert_eq!(warnings_told_again(&l.c.told), Vec::<Warned>::new());
    let late_commit = t_before_late(&p, &evs);
    assert_eq!(
        changes(&l.c.told[late_commit..]),
        [
            "#11 Member -> Silver at 2026-01-16 07:00:00 UTC (order oL)",
            "#12 Silver -> Silver at 2026-02-01 00:00:00 UTC (renewed)",
            "#13 Silver -> Member at 2026-07-01 00:00:00 UTC (retention)",
        ]
    );
}

/// Fed with oL told last, the customer ends as in time and has heard
/// every warning told in time.
fn ends_as_in_time_telling_every_warning(p: &Program, evs: &[Ev]) {
    let t = feed(p, evs, &[]);
    let l = feed(p, evs, &["oL"]);
    show("in time", &t);
    show("late", &l);
    assert_eq!(key(&l.c.s), key(&t.c.s));
    let (_, in_time) = changes_and_warnings(&t.c.told);
    let (_, late) = changes_and_warnings(&l.c.told);
    let never: Vec<Warned> = in_time.into_iter().filter(|w| !late.contains(w)).collect();
    assert_eq!(never, Vec::<Warned>::new());
}

/// The review of the forty-seventh session (helper-86): Silver from $1,000
/// and Gold from $2,000 in 30 days, kept a month from the join by $1,500
/// and $2,500, warned 1 to 5 days before each end. Without oL the customer
/// held Silver and heard Silver's warnings of the 1 February end; oL, told
/// last, lifts them to Gold on 20 January, whose end falls on the same
/// instant. A rule that took a warning of the running end for told
/// whatever its tier left every Gold warning untold.
#[test]
fn h2_a_late_lift_tells_the_running_ends_warnings_of_the_tier_it_reached() {
    let ret = |min: u32| {
        json!({"validity": {"months": 1, "from": "programJoin"},
               "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": min}],
               "condition": "all", "onFail": "base", "warnDaysBefore": [1, 2, 3, 4, 5]})
    };
    let up = |min: u32| json!([{"id": "S", "kind": "tracker", "tracker": "spend", "min": min}]);
    let tiers = json!([
        {"name": "Member", "earnRate": "1"},
        {"name": "Silver", "earnRate": "1", "upgrade": rule(up(1000), json!("all"), "eager"), "retention": ret(1500)},
        {"name": "Gold", "earnRate": "1", "upgrade": rule(up(2000), json!("all"), "eager"), "retention": ret(2500)}
    ]);
    let spend = json!([{"id": "spend", "measure": "billAmount", "period": {"days": 30}}]);
    let p = program_expiring(tiers, spend, Value::Null, "negativeBalance");
    let evs = vec![
        ev("order", "o0", at("2026-01-05T00:00:00Z"), "1000"),
        ev("order", "oL", at("2026-01-20T00:00:00Z"), "1000"),
        ev("order", "x1", at("2026-01-31T12:00:00Z"), "10"),
    ];
    ends_as_in_time_telling_every_warning(&p, &evs);
}

/// The same review: Silver from $1,000 in 30 days, kept a month from its
/// start by $100, 29 days' grace. Without oL the 10 March end began a
/// grace that r1 recovered on 7 April at noon, which judged the next
/// period's warning days from then on only: none of its end (10 April)
/// was told. oL, told last, renews at 10 March, and the new course warns
/// on 5 to 7 April: a rule that took the end's renewal for a told
/// judgment of those days left them untold.
#[test]
fn h3_warning_days_a_recovery_in_grace_skipped_are_told_by_a_late_order() {
    let by_spend = json!({"id": "S", "kind": "tracker", "tracker": "spend", "min": 1000});
    let p = silver_kept_by_spend(by_spend, "eager", [30, 100], "base", 29);
    let evs = vec![
        ev("order", "o0", at("2026-01-10T00:00:00Z"), "1000"),
        ev("order", "k1", at("2026-02-05T00:00:00Z"), "100"),
        ev("order", "oL", at("2026-03-01T00:00:00Z"), "100"),
        ev("order", "r1", at("2026-04-07T12:00:00Z"), "100"),
        ev("order", "z1", at("2026-05-05T00:00:00Z"), "100"),
        ev("order", "z2", at("2026-06-05T00:00:00Z"), "100"),
    ];
    ends_as_in_time_telling_every_warning(&p, &evs);
}
