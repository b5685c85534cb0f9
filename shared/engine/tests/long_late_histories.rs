//! Long histories (1 to 6 years of monthly or quarterly ends, warned,
//! with graces, keepers before, at or inside the ends, a big order now
//! and then, partial and whole returns), each fed in time and with one
//! or two orders told after every other event (their returns after
//! them): the forty-third session's adversary (helper-82). Every draw
//! must keep what both engines of that session kept on 40,000 draws: no
//! commit past one decision's notices, `seq` without gaps, no change told
//! twice in a commit, the feed's last change naming the tier held, every
//! return's reply chained (`Served::give_back`), no panic, the same
//! returns refused. What is not exact yet (the end state, the running
//! period's warnings untold, or told by the last event though never in
//! time, the job after the latest instant, a warning told twice, a past
//! warning told in time never told late: docs/late-events.md, "The
//! warnings of ends a walk judged", "What was told, told once") is
//! counted and printed.
//! `SEED`, `DRAWS` (default 1,000), `FROM`; `OUT=<file>` writes one line a
//! draw; `ONLY=<draw>` prints one draw in full, `COMMITS` each commit.

use chrono::{DateTime, Duration, Months, Utc};
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod spenders;
use common::{at, d, order, program_expiring, rule};
use spenders::Served;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize].clone()
    }
}

/// ("order" | "return", id, instant, amount)
type Ev = spenders::Event;

fn ev(kind: &'static str, id: &str, when: DateTime<Utc>, amount: i64) -> Ev {
    (kind, id.to_owned(), when, amount.to_string())
}

struct Draw {
    tiers: Value,
    expiry: Value,
    events: Vec<Ev>,
    late: Vec<String>,
}

fn draw(seed: u64, i: u64) -> Draw {
    let mut r = Rng(seed.wrapping_mul(1_000_003).wrapping_add(i));
    for _ in 0..3 {
        r.next();
    }
    let three = r.chance(50);
    let by_points = r.chance(35);
    let upgrade_type = if r.chance(75) { "eager" } else { "dynamic" };
    let quarterly = r.chance(20);
    let from = if r.chance(70) {
        "tierStart"
    } else {
        "programJoin"
    };
    let mut warn: Vec<u32> = (1..=5).filter(|_| r.chance(60)).collect();
    if warn.is_empty() || r.chance(40) {
        warn = vec![1, 2, 3, 4, 5];
    }
    let grace = r.pick(&[0u32, 0, 7, 10]);
    let on_fail = r.pick(&["base", "oneDown", "qualified"]);
    let keep_by_points = r.chance(20);
    let expiry: Value = if keep_by_points || r.chance(30) {
        json!({"days": r.range(35, 120)})
    } else {
        Value::Null
    };
    let up = |min: i64| -> Value {
        if by_points {
            json!({"id": "P", "kind": "currentPoints", "min": min})
        } else {
            json!({"id": "S", "kind": "tracker", "tracker": "spend30d", "min": min})
        }
    };
    let keep = |min: i64| -> Value {
        if keep_by_points {
            json!({"id": "K", "kind": "currentPoints", "min": min * 4})
        } else {
            json!({"id": "K", "kind": "tracker", "tracker": "spend30d", "min": min})
        }
    };
    let ret = |min: i64| -> Value {
        let mut v = json!({"validity": {"months": if quarterly {3} else {1}, "from": from},
            "criteria": [keep(min)], "condition": "all", "onFail": on_fail,
            "warnDaysBefore": warn.clone()});
        if grace > 0 {
            v["graceDays"] = json!(grace);
        }
        v
    };
    let mut tiers = vec![
        json!({"name": "Member", "earnRate": "1"}),
        json!({"name": "Silver", "earnRate": "1", "upgrade": rule(json!([up(1000)]), json!("all"), upgrade_type), "retention": ret(100)}),
    ];
    if three {
        tiers.push(json!({"name": "Gold", "earnRate": "1", "upgrade": rule(json!([up(1500)]), json!("all"), upgrade_type), "retention": ret(200)}));
    }
    // Events.
    let years = r.range(1, 6);
    let start = at("2026-01-05T00:00:00Z") + Duration::hours(r.range(0, 48));
    let o0 = r.range(500, 950);
    let lift = start + Duration::hours(r.range(24, 24 * 12));
    let target = if three && r.chance(50) { 1500 } else { 1000 };
    let ol = (target - o0 + r.range(0, 150)).max(60);
    let mut evs = vec![ev("order", "o0", start, o0), ev("order", "oL", lift, ol)];
    let step = if quarterly && r.chance(50) { 3 } else { 1 };
    let months = (years * 12) as u32;
    let skip_pct = r.pick(&[0u64, 0, 3, 8, 15]);
    let mode = r.below(4); // 0 before, 1 at, 2 inside grace, 3 mixed
    let keeper = r.pick(&[60i64, 60, 80, 120]);
    let mut kids = Vec::new();
    let mut k = step;
    while k <= months {
        let end = lift.checked_add_months(Months::new(k)).unwrap();
        if !r.chance(skip_pct) {
            for j in 0..2 {
                let m = if mode == 3 { r.below(3) } else { mode };
                let off = match m {
                    0 => -r.range(1, 24 * 6),
                    1 => {
                        if j == 0 {
                            0
                        } else {
                            -r.range(1, 12)
                        }
                    }
                    _ => {
                        if grace > 0 {
                            r.range(1, grace as i64 * 24 - 1)
                        } else {
                            r.range(-48, 48)
                        }
                    }
                };
                let amt = if r.chance(85) {
                    keeper * if three { 2 } else { 1 }
                } else {
                    r.range(10, 40)
                };
                let id = format!("k{k}{}", if j == 0 { "a" } else { "b" });
                evs.push(ev("order", &id, end + Duration::hours(off), amt));
                kids.push((id, end + Duration::hours(off), amt));
            }
        }
        if r.chance(4) {
            // A big order (a lift again after a move down).
            let id = format!("big{k}");
            let when = end + Duration::hours(r.range(24, 24 * 20));
            let amt = r.range(800, 1600);
            evs.push(ev("order", &id, when, amt));
            kids.push((id, when, amt));
        }
        k += step;
    }
    let last_order = evs.iter().map(|e| e.2).max().unwrap();
    // Returns of o0: whole or partial, late in the history (as F1) or
    // anywhere.
    if r.chance(75) {
        let amt = if r.chance(50) { o0 } else { r.range(50, o0) };
        let when = if r.chance(60) {
            last_order + Duration::hours(r.range(1, 24 * 20))
        } else {
            start + Duration::hours(r.range(1, (last_order - start).num_hours().max(2)))
        };
        evs.push(ev("return", "o0", when, amt));
    }
    // Returns of oL (fed after it when it is late).
    if r.chance(25) {
        let amt = if r.chance(40) { ol } else { r.range(10, ol) };
        let when =
            lift + Duration::hours(r.range(1, (last_order - lift).num_hours().max(2) + 24 * 10));
        evs.push(ev("return", "oL", when, amt));
    }
    // Returns of keepers.
    let n_kr = r.below(4);
    for _ in 0..n_kr {
        if kids.is_empty() {
            break;
        }
        let (id, when, amt) = r.pick(&kids);
        if evs.iter().any(|e| e.0 == "return" && e.1 == id) {
            continue;
        }
        let back = if r.chance(50) { amt } else { r.range(1, amt) };
        evs.push(ev(
            "return",
            &id,
            when + Duration::hours(r.range(0, 24 * 40)),
            back,
        ));
    }
    // One or two late orders.
    let mut late = vec!["oL".to_owned()];
    if r.chance(35) && !kids.is_empty() {
        let (id, _, _) = r.pick(&kids);
        if r.chance(50) {
            late.push(id);
        } else {
            late.insert(0, id);
        }
    }
    let tiers = Value::Array(tiers);
    Draw {
        tiers,
        expiry,
        events: evs,
        late,
    }
}

fn program(d: &Draw) -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    program_expiring(
        d.tiers.clone(),
        spend30d,
        d.expiry.clone(),
        "negativeBalance",
    )
}

struct Fed<'a> {
    c: Served<'a>,
    over90: Vec<String>,
    twice: Vec<String>,
    words: Vec<String>,
    refused: usize,
    /// Notices told up to and including expiry to the latest instant.
    told_by_latest: usize,
    /// Notices told before the last event came (a late order's return
    /// when it has one): what was told before it was right on what was
    /// known then.
    told_before_last: usize,
}

fn feed<'a>(p: &'a Program, events: &[Ev], late: &[String]) -> Fed<'a> {
    let list = spenders::told_order(events, late);
    let mut c = Served::new(p, true);
    let (mut over90, mut twice, mut words) = (Vec::new(), Vec::new(), Vec::new());
    let mut refused = 0;
    let (mut last_any, mut last_move) = (p.tier_name(0).to_owned(), p.tier_name(0).to_owned());
    let latest = events.iter().map(|e| e.2).max().unwrap();
    let mut check = |c: &Served<'_>, before: usize, label: String| {
        let n = c.told.len() - before;
        if n > MAX_NOTICES_PER_DECISION {
            over90.push(format!("{label}: {n} notices"));
        }
        let mut seen = Vec::new();
        for x in &c.told[before..] {
            if let NoticeKind::Changed { change, .. } = &x.kind {
                let k = (change.from.clone(), change.to.clone(), change.at);
                if change.from != change.to && seen.contains(&k) {
                    twice.push(format!("{label}: {} -> {} at {}", k.0, k.1, k.2));
                }
                seen.push(k);
                last_any.clone_from(&change.to);
                if change.from != change.to {
                    last_move.clone_from(&change.to);
                }
            }
        }
        if last_any != c.s.tier || last_move != c.s.tier {
            words.push(format!(
                "after {label}: last change names {last_any}, last move {last_move}, tier {}",
                c.s.tier
            ));
        }
    };
    let mut told_before_last = 0;
    for e in list {
        let before = c.told.len();
        told_before_last = before;
        match e.0 {
            "order" => c.order(&order(&e.1, e.2, &e.3)),
            _ => {
                if !c.give_back(&e.1, e.2, d(&e.3)) {
                    refused += 1;
                }
            }
        }
        check(&c, before, format!("{} {} {}", e.0, e.1, e.2));
        if std::env::var("COMMITS").is_ok() && c.told.len() > before {
            eprintln!(
                "commit {} {} {}: #{}..#{} tier {}",
                e.0,
                e.1,
                e.2,
                before + 1,
                c.told.len(),
                c.s.tier
            );
        }
    }
    // The job to the latest instant, one commit of at most 90 at a time.
    for _ in 0..1000 {
        let before = c.told.len();
        let (_, done) = p.expire_publishing_at_most(&mut c.s, latest, MAX_NOTICES_PER_DECISION);
        let n = c.s.outbox.take();
        c.told.extend(n);
        check(&c, before, format!("job to {latest}"));
        if done {
            break;
        }
    }
    let told_by_latest = c.told.len();
    Fed {
        c,
        over90,
        twice,
        words,
        refused,
        told_by_latest,
        told_before_last,
    }
}

type Standing = (
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);
fn key(s: &CustomerState) -> Standing {
    (s.tier.clone(), s.tier_since, s.renewed_at, s.grace_until)
}

fn seq_ok(ns: &[Notice]) -> bool {
    ns.iter().enumerate().all(|(i, n)| n.seq == i as u64 + 1)
}

/// A notice as a line: a change (from, to, instant) or a warning.
fn describe(kind: &NoticeKind) -> String {
    match kind {
        NoticeKind::Changed { change, .. } => {
            format!("{} -> {} at {}", change.from, change.to, change.at)
        }
        NoticeKind::AtRisk {
            tier,
            on,
            at,
            grace,
            ..
        } => format!("at risk {tier} on {on} at {at} grace {grace}"),
    }
}

fn show(ns: &[Notice]) -> Vec<String> {
    ns.iter()
        .map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } => {
                format!("#{} {} ({})", n.seq, describe(&n.kind), change.cause)
            }
            NoticeKind::AtRisk { .. } => format!("#{} {}", n.seq, describe(&n.kind)),
        })
        .collect()
}

/// Warnings (tier, on, at) with on > latest.
fn warnings_after(
    ns: &[Notice],
    latest: DateTime<Utc>,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut w: Vec<_> = ns
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::AtRisk { tier, on, at, .. } if *on > latest => {
                Some((tier.clone(), *on, *at))
            }
            _ => None,
        })
        .collect();
    w.sort();
    w.dedup();
    w
}

/// Warnings (tier, on, day) told more than once, in any commits.
fn retold_warnings(ns: &[Notice]) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut seen = Vec::new();
    let mut again = Vec::new();
    for n in ns {
        if let NoticeKind::AtRisk { tier, on, at, .. } = &n.kind {
            let k = (tier.clone(), *on, *at);
            if seen.contains(&k) {
                if !again.contains(&k) {
                    again.push(k);
                }
            } else {
                seen.push(k);
            }
        }
    }
    again
}

/// What the job tells from `s` up to `until`: (warnings, changes).
fn job(p: &Program, s: &CustomerState, until: DateTime<Utc>) -> Vec<String> {
    let mut s = s.clone();
    let mut out = Vec::new();
    for _ in 0..1000 {
        let (_, done) = p.expire_publishing_at_most(&mut s, until, MAX_NOTICES_PER_DECISION);
        out.extend(s.outbox.take().iter().map(|n| describe(&n.kind)));
        if done {
            break;
        }
    }
    out
}

/// Flags of a draw: what is not exact yet, counted.
const STATE_OTHERWISE: u32 = 1;
const RUNNING_WARNING_UNTOLD: u32 = 32;
const JOB_OTHERWISE: u32 = 64;
const RUNNING_WARNING_NEVER_IN_TIME: u32 = 4096;
const WARNING_RETOLD: u32 = 8192;
const PAST_WARNING_NEVER_TOLD: u32 = 16384;
/// What every draw keeps, late (2 to 16, 128) and in time (256 to 2048).
const PANICKED: u32 = 128;
const REFUSED_OTHERWISE: u32 = 0x8000;
const MUST_HOLD: u32 = 2 | 4 | 8 | 16 | PANICKED | 256 | 512 | 1024 | 2048 | REFUSED_OTHERWISE;

fn run_draw(seed: u64, i: u64, verbose: bool) -> (u32, String) {
    run(&draw(seed, i), verbose)
}

fn run(dr: &Draw, verbose: bool) -> (u32, String) {
    let p = program(dr);
    let latest = dr.events.iter().map(|e| e.2).max().unwrap();
    if verbose {
        eprintln!("tiers: {}", dr.tiers);
        eprintln!("expiry: {}", dr.expiry);
        eprintln!("late: {:?}", dr.late);
        let mut evs = dr.events.clone();
        evs.sort_by_key(|e| e.2);
        for e in &evs {
            eprintln!("  {:?}", e);
        }
    }
    let t = feed(&p, &dr.events, &[]);
    let l = feed(&p, &dr.events, &dr.late);
    let mut flags = 0u32;
    let mut why = Vec::new();
    if t.refused != l.refused {
        return (
            REFUSED_OTHERWISE,
            format!("refused {} vs {}", t.refused, l.refused),
        );
    }
    if key(&l.c.s) != key(&t.c.s) {
        flags |= STATE_OTHERWISE;
        why.push(format!(
            "state late {:?} in time {:?}",
            key(&l.c.s),
            key(&t.c.s)
        ));
    }
    if !l.over90.is_empty() {
        flags |= 2;
        why.push(format!("over90 {:?}", l.over90));
    }
    if !seq_ok(&l.c.told) {
        flags |= 4;
    }
    if !l.twice.is_empty() {
        flags |= 8;
        why.push(format!("twice {:?}", l.twice));
    }
    if !l.words.is_empty() {
        flags |= 16;
        why.push(format!("words {:?}", l.words.last()));
    }
    let wt = warnings_after(&t.c.told[..t.told_by_latest], latest);
    let wl = warnings_after(&l.c.told[..l.told_by_latest], latest);
    // Of the end the customer runs to at the latest instant: a warning of
    // one a renewal in its grace superseded is no longer running.
    let running_end = p.next_validity_instant(&t.c.s);
    let running =
        |w: &&(String, DateTime<Utc>, DateTime<Utc>)| w.0 == t.c.s.tier && Some(w.1) == running_end;
    let missing: Vec<_> = wt
        .iter()
        .filter(running)
        .filter(|w| !wl.contains(w))
        .collect();
    if !missing.is_empty() {
        flags |= RUNNING_WARNING_UNTOLD;
        why.push(format!("missing warnings after latest {:?}", missing));
    }
    // Told by the last event and the job after it: what was told before
    // was right on what was known then.
    let wl_late = warnings_after(&l.c.told[l.told_before_last..l.told_by_latest], latest);
    let never: Vec<_> = wl_late.iter().filter(|w| !wt.contains(w)).collect();
    if !never.is_empty() {
        flags |= RUNNING_WARNING_NEVER_IN_TIME;
        why.push(format!(
            "warnings after latest never told in time {:?}",
            never
        ));
    }
    let past = |ns: &[Notice]| -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
        ns.iter()
            .filter_map(|n| match &n.kind {
                NoticeKind::AtRisk { tier, on, at, .. } if *on <= latest => {
                    Some((tier.clone(), *on, *at))
                }
                _ => None,
            })
            .collect()
    };
    let past_late = past(&l.c.told[..l.told_by_latest]);
    let past_untold: Vec<_> = past(&t.c.told[..t.told_by_latest])
        .into_iter()
        .filter(|w| !past_late.contains(w))
        .collect();
    if !past_untold.is_empty() {
        flags |= PAST_WARNING_NEVER_TOLD;
        why.push(format!("past warnings never told late {:?}", past_untold));
    }
    let retold = retold_warnings(&l.c.told[..l.told_by_latest]);
    let retold_in_time = retold_warnings(&t.c.told[..t.told_by_latest]);
    let retold: Vec<_> = retold
        .into_iter()
        .filter(|w| !retold_in_time.contains(w))
        .collect();
    if !retold.is_empty() {
        flags |= WARNING_RETOLD;
        why.push(format!("warnings told again {:?}", retold));
    }
    if flags & STATE_OTHERWISE == 0 {
        let horizon = latest + Duration::days(400);
        let jt = job(&p, &t.c.s, horizon);
        let jl = job(&p, &l.c.s, horizon);
        if jt != jl {
            flags |= JOB_OTHERWISE;
            why.push(format!("job differs: in time {:?} late {:?}", jt, jl));
        }
    }
    if !t.over90.is_empty() {
        flags |= 256;
    }
    if !t.words.is_empty() {
        flags |= 512;
    }
    if !t.twice.is_empty() {
        flags |= 1024;
    }
    if !seq_ok(&t.c.told) {
        flags |= 2048;
    }
    if verbose {
        eprintln!("in time: {:?}", key(&t.c.s));
        for h in &t.c.s.history {
            eprintln!("   {} -> {} at {} ({})", h.from, h.to, h.at, h.cause);
        }
        eprintln!("late: {:?}", key(&l.c.s));
        for h in &l.c.s.history {
            eprintln!("   {} -> {} at {} ({})", h.from, h.to, h.at, h.cause);
        }
        eprintln!("late told ({}):", l.c.told.len());
        for x in show(&l.c.told) {
            eprintln!("  {x}");
        }
        eprintln!("in time told ({}):", t.c.told.len());
        for x in show(&t.c.told) {
            eprintln!("  {x}");
        }
    }
    let n_ev = dr.events.len();
    (
        flags,
        format!(
            "events={n_ev} told_late={} told_time={} {}",
            l.c.told.len(),
            t.c.told.len(),
            why.join(" | ")
        ),
    )
}

#[test]
fn long_histories_fed_late_keep_the_bounds_the_feed_and_the_replies() {
    let env = |k: &str, dflt: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(dflt)
    };
    let seed = env("SEED", 43);
    if let Ok(only) = std::env::var("ONLY") {
        let i: u64 = only.parse().unwrap();
        let (f, why) = run_draw(seed, i, true);
        eprintln!("D {i} {f} {why}");
        return;
    }
    let (from, draws) = (env("FROM", 0), env("DRAWS", 1000));
    let mut lines = Vec::new();
    let mut broken = Vec::new();
    let mut counted = [0usize; 6];
    for i in from..from + draws {
        let (f, why) = std::panic::catch_unwind(|| run_draw(seed, i, false)).unwrap_or_else(|e| {
            let text = e
                .downcast_ref::<String>()
                .cloned()
                .or(e.downcast_ref::<&str>().map(|s| s.to_string()));
            (PANICKED, format!("panic {text:?}"))
        });
        for (n, flag) in [
            STATE_OTHERWISE,
            RUNNING_WARNING_UNTOLD,
            JOB_OTHERWISE,
            RUNNING_WARNING_NEVER_IN_TIME,
            WARNING_RETOLD,
            PAST_WARNING_NEVER_TOLD,
        ]
        .into_iter()
        .enumerate()
        {
            counted[n] += usize::from(f & flag != 0);
        }
        if f & MUST_HOLD != 0 {
            broken.push(format!("draw {i} (flags {f}): {why}"));
        }
        lines.push(format!("D {i} {f} {why}"));
    }
    if let Ok(out) = std::env::var("OUT") {
        std::fs::write(out, lines.join("\n") + "\n").unwrap();
    }
    eprintln!(
        "seed {seed}, draws {from}..{}: end state otherwise {}, a running period's warning untold {}, \
         the job otherwise {}, a running period's warning never told in time {}, \
         a warning told again {}, a past warning told in time never told late {}",
        from + draws,
        counted[0],
        counted[1],
        counted[2],
        counted[3],
        counted[4],
        counted[5]
    );
    assert_eq!(broken, Vec::<String>::new());
}

/// Draws the sessions traced and mended, each kept as it ends in time: no
/// difference counted, nor a warning told late that was never told in
/// time, nor one told twice (docs/late-events.md, the sections named);
/// those marked kept also every past warning told in time, which a rule
/// sparing what was told before took for told.
#[test]
fn the_draws_traced_stay_as_in_time() {
    let past = PAST_WARNING_NEVER_TOLD;
    for (seed, i, mended, also) in [
        (43, 37115, "A return of a lot expired since", 0),
        (82, 6738, "A lift a return undid, told late", 0),
        (
            82,
            20719,
            "The running period's warnings the replay told",
            0,
        ),
        (
            43,
            17055,
            "The running period's warnings the replay told",
            0,
        ),
        (
            43,
            13263,
            "The running period's warnings the replay told",
            0,
        ),
        (82, 6640, "The running period's warnings the replay told", 0),
        (82, 30, "What was told, told once", 0),
        (82, 17242, "What was told, told once", 0),
        (82, 1201, "What was told, told once", 0),
        (82, 111, "What was told, told once", 0),
        (82, 260, "What was told, told once", 0),
        (82, 6628, "What was told, told once", 0),
        (82, 391, "What was told, told once", past),
        (82, 469, "What was told, told once", past),
        (82, 699, "What was told, told once", past),
        (82, 6576, "What was told, told once", past),
        (82, 10744, "What was told, told once", past),
    ] {
        let (flags, why) = run_draw(seed, i, false);
        let counted = STATE_OTHERWISE
            | RUNNING_WARNING_UNTOLD
            | JOB_OTHERWISE
            | RUNNING_WARNING_NEVER_IN_TIME
            | WARNING_RETOLD;
        assert_eq!(
            flags & (counted | MUST_HOLD | also),
            0,
            "seed {seed} draw {i} ({mended}): {why}"
        );
    }
}
