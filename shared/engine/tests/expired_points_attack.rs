//! Attacks on the replay of expiry in a return's judgment (`net_walk.rs`,
//! `reversal.rs`): after any history in time, the tier after a return is
//! the tier a fresh customer reaches fed in time with what remains of each
//! order and the same redemptions at the same instants, and never lower.
//!
//! The adversary of the thirty-second session wrote these on ba849a2. Two
//! of its findings are fixed and kept here as tests (each says so); six
//! it found are limits told in docs/late-events.md ("Not exact", item 7),
//! not kept as tests.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod spenders;
use common::{
    at, current_points, d, member_and_silver, order, program_expiring, rule,
    silver_by_current_points,
};
use spenders::{Served, Versions};

/// Silver from `min` current points, every tier earning `rate`.
fn silver(min: &str, upgrade_type: &str, rate: &str, expiry: Value) -> Program {
    program_expiring(
        json!([
            {"name": "Member", "earnRate": rate},
            {"name": "Silver", "earnRate": rate, "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": min}],
                "condition": "all", "upgradeType": upgrade_type}}
        ]),
        json!([]),
        expiry,
        "negativeBalance",
    )
}

fn days(n: u32) -> Value {
    json!({ "days": n })
}

fn months(n: u32) -> Value {
    json!({ "months": n })
}

/// A customer served by one program: the events in the order given.
#[derive(Clone, Debug)]
enum Ev {
    Order(&'static str, &'static str, &'static str),
    Redeem(&'static str, &'static str),
    Return(&'static str, &'static str, &'static str),
    Job(&'static str),
}

fn serve<'a>(p: &'a Program, events: &[Ev]) -> Served<'a> {
    let mut c = Served::new(p, true);
    for (k, e) in events.iter().enumerate() {
        match e {
            Ev::Order(id, when, amount) => c.order(&order(id, at(when), amount)),
            Ev::Redeem(when, points) => {
                assert!(c.redeem(&format!("x{k}"), at(when), d(points)), "{e:?}")
            }
            Ev::Return(id, when, amount) => assert!(c.give_back(id, at(when), d(amount)), "{e:?}"),
            Ev::Job(when) => {
                p.expire(&mut c.s, at(when));
            }
        }
    }
    c
}

/// The same history with every return folded into its order (what
/// remains of it) and no return made: the customer in time.
fn fresh<'a>(p: &'a Program, events: &[Ev]) -> Served<'a> {
    let returned = |id: &str| -> Decimal {
        events
            .iter()
            .filter_map(|e| match e {
                Ev::Return(o, _, a) if *o == id => Some(d(a)),
                _ => None,
            })
            .sum()
    };
    let mut c = Served::new(p, true);
    for (k, e) in events.iter().enumerate() {
        match e {
            Ev::Order(id, when, amount) => {
                let left = d(amount) - returned(id);
                if !left.is_zero() {
                    c.order(&order(id, at(when), &left.to_string()));
                }
            }
            Ev::Redeem(when, points) => {
                assert!(c.redeem(&format!("x{k}"), at(when), d(points)), "{e:?}")
            }
            Ev::Return(..) => {}
            Ev::Job(when) => {
                p.expire(&mut c.s, at(when));
            }
        }
    }
    c
}

// ---------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------

/// The history above where points last 30 days or a month: Silver kept
/// (the walk counts the redemption of the instant after judging it).
#[test]
fn orders_of_one_instant_around_a_redemption_keep_the_tier_where_points_expire() {
    for expiry in [days(30), months(1)] {
        let p = silver("1000", "lazy", "1", expiry);
        let t = "2026-03-01T10:00:00Z";
        let events = [
            Ev::Order("O1", t, "1000"),
            Ev::Redeem(t, "900"),
            Ev::Order("O2", t, "100"),
            Ev::Return("O2", "2026-03-02T00:00:00Z", "1"),
        ];
        assert_eq!(fresh(&p, &events).s.tier, "Silver");
        assert_eq!(serve(&p, &events).s.tier, "Silver");
    }
}

/// Was harsh (found by the adversary, fixed): a config version that no
/// order and no history entry names was never asked, though its
/// `pointsExpiry` ran in between; every version from the first named on
/// is asked now. Silver
/// from 1,000 current points. v1 (points last 30 days): A $550 on 2 Jan, C
/// $400 on 15 Jan (950). v2 (60 days) from 20 Jan: 300 redeemed on 5 Feb,
/// which spends A (A expires on 3 Mar under v2; 250 left). v3 (30 days
/// again) from 8 Feb: B $800 on 10 Feb; A's 250 expire, C 400 + B 800 =
/// 1,200, Silver. $150 of B back on 11 Feb: 1,050 in time (the customer's
/// own current points say so too), Silver. The orders and history name
/// v1 and v3, both 30 days, so the walk expires A whole on 1 Feb, the
/// redemption spends 300 of C, and B leaves 100 + 650 = 750: moved down
/// to Member, though the book holds every version.
#[test]
fn a_version_no_order_names_that_expired_otherwise_is_asked_too() {
    let v1 = silver("1000", "lazy", "1", days(30)).with_version(1);
    let v2 = silver("1000", "lazy", "1", days(60)).with_version(2);
    let v3 = silver("1000", "lazy", "1", days(30)).with_version(3);
    let mut s = CustomerState::new(&v1, at("2026-01-01T00:00:00Z"));
    let mut records: Vec<OrderRecord> = Vec::new();
    for (id, when, amount) in [
        ("A", "2026-01-02T00:00:00Z", "550"),
        ("C", "2026-01-15T00:00:00Z", "400"),
    ] {
        let applied = common::apply_as_served(&v1, &mut s, &records, &order(id, at(when), amount));
        records.push(applied.record);
    }
    let r = Redemption {
        redemption_id: "x".into(),
        points: d("300"),
        at: at("2026-02-05T00:00:00Z"),
    };
    v2.redeem(&mut s, &r).unwrap();
    let redeemed = vec![Redeemed {
        at: r.at,
        points: r.points,
    }];
    let b = order("B", at("2026-02-10T00:00:00Z"), "800");
    let applied = common::apply_as_served(&v3, &mut s, &records, &b);
    records.push(applied.record);
    assert_eq!((s.tier.as_str(), s.current_points), ("Silver", d("1200")));
    let book = Versions(vec![v1.clone(), v2.clone()]);
    let i = records.iter().position(|r| r.order_id == "B").unwrap();
    let mut record = records.remove(i);
    let ret = Return {
        return_id: "r".into(),
        order_id: "B".into(),
        customer_id: "c1".into(),
        returned_at: at("2026-02-11T00:00:00Z"),
        amount: Some(d("150")),
    };
    if v3.wants_redemptions(&s) {
        s.redemptions = Some(Redemptions::new(redeemed));
    }
    let history = ReturnHistory {
        orders: &records,
        rules: &book,
    };
    v3.apply_return_judged(&mut s, &mut record, &ret, &history)
        .unwrap();
    s.redemptions = None;
    assert_eq!(s.current_points, d("1050"));
    assert_eq!(s.tier, "Silver", "in time 1,050 points at B");
    assert_eq!(s.history.len(), 1);
}

// ---------------------------------------------------------------------
// Hand-written cases that hold
// ---------------------------------------------------------------------

/// Points lasting a month from 31 January expire on 28 February (the
/// month's last day), as the customer's own lots do: an order on 27
/// February still counts them, one on 28 February does not; a return
/// after judges each as in time (Silver from 1,000, lazy: A $600 on 31
/// Jan, B $450; $10 of B back keeps Silver only where A counted, $60
/// never).
#[test]
fn a_month_from_the_31st_ends_on_the_months_last_day_in_the_walk_as_in_time() {
    let p = silver("1000", "lazy", "1", months(1));
    for (b_day, silver_then) in [
        ("2026-02-27T23:00:00Z", true),
        ("2026-02-28T00:00:00Z", false),
    ] {
        let events = [
            Ev::Order("A", "2026-01-31T12:00:00Z", "600"),
            Ev::Order("B", b_day, "450"),
            Ev::Return("B", "2026-03-01T00:00:00Z", "10"),
        ];
        let in_time = fresh(&p, &events);
        assert_eq!(in_time.s.tier == "Silver", silver_then, "1,040 or 440");
        let c = serve(&p, &events);
        assert_eq!(c.s.tier, in_time.s.tier, "B on {b_day}");
        let events = [
            Ev::Order("A", "2026-01-31T12:00:00Z", "600"),
            Ev::Order("B", b_day, "450"),
            Ev::Return("B", "2026-03-01T00:00:00Z", "60"),
        ];
        let c = serve(&p, &events);
        let in_time = fresh(&p, &events);
        assert_eq!(in_time.s.tier, "Member", "990 or 390");
        assert_eq!(c.s.tier, in_time.s.tier, "B on {b_day}");
    }
}

/// An order placed on the very day an older lot expires does not count
/// it, in time and in the walk; a job run between changes nothing.
#[test]
fn an_order_on_the_day_a_lot_expires_counts_it_in_neither() {
    let p = silver("1000", "eager", "1", days(30));
    for job in [false, true] {
        let mut events = vec![Ev::Order("A", "2026-01-02T10:00:00Z", "700")];
        if job {
            events.push(Ev::Job("2026-02-01T00:00:00Z"));
        }
        events.extend([
            Ev::Order("B", "2026-02-01T00:00:00Z", "1000"),
            Ev::Return("B", "2026-02-01T12:00:00Z", "1"),
        ]);
        let in_time = fresh(&p, &events);
        assert_eq!(in_time.s.tier, "Member");
        let c = serve(&p, &events);
        assert_eq!(c.s.tier, "Member");
        // A day earlier A still counts: 1,699, Silver.
        let events = [
            Ev::Order("A", "2026-01-02T10:00:00Z", "700"),
            Ev::Order("B", "2026-01-31T23:59:59Z", "1000"),
            Ev::Return("B", "2026-02-01T12:00:00Z", "400"),
        ];
        assert_eq!(fresh(&p, &events).s.tier, "Silver");
        assert_eq!(serve(&p, &events).s.tier, "Silver");
    }
}

/// A redemption placed before a lot expired that arrives after the job
/// expired it (covered from what expired, `expired.rs`): the walk spends
/// it at its instant, as in time.
#[test]
fn a_late_redemption_covered_from_expired_lots_is_judged_as_in_time() {
    let p = silver("1000", "lazy", "1", days(30));
    let in_time_events = [
        Ev::Order("A", "2026-01-02T00:00:00Z", "800"),
        Ev::Redeem("2026-01-20T00:00:00Z", "500"),
        Ev::Order("C", "2026-01-25T00:00:00Z", "600"),
        Ev::Order("B", "2026-02-03T00:00:00Z", "450"),
        Ev::Return("B", "2026-02-04T00:00:00Z", "1"),
    ];
    let in_time = fresh(&p, &in_time_events);
    assert_eq!(in_time.s.tier, "Silver");
    let late = [
        Ev::Order("A", "2026-01-02T00:00:00Z", "800"),
        Ev::Order("C", "2026-01-25T00:00:00Z", "600"),
        Ev::Job("2026-02-02T00:00:00Z"),
        Ev::Redeem("2026-01-20T00:00:00Z", "500"),
        Ev::Order("B", "2026-02-03T00:00:00Z", "450"),
        Ev::Return("B", "2026-02-04T00:00:00Z", "1"),
    ];
    let c = serve(&p, &late);
    assert_eq!(c.s.current_points, in_time.s.current_points);
    assert_eq!(c.s.tier, "Silver");
    // Returned down to 1,000 in time ($50 of B): still Silver; $51: Member.
    for (back, tier) in [("50", "Silver"), ("51", "Member")] {
        let mut events = late.to_vec();
        events[5] = Ev::Return("B", "2026-02-04T00:00:00Z", back);
        let mut timed = in_time_events.to_vec();
        timed[4] = Ev::Return("B", "2026-02-04T00:00:00Z", back);
        assert_eq!(fresh(&p, &timed).s.tier, tier);
        assert_eq!(serve(&p, &events).s.tier, tier, "${back} back");
    }
}

/// Was harsh (found by the adversary, fixed by the late orders' replay of
/// expiry): a late order placed before an expiry that already ran was
/// decided on the state's current points, which no longer hold the lots
/// that expired since its instant, and not among the orders: it never
/// reached the tier it reached in time, and no return lifts. Silver from 1,000 current points (eager), points last 30 days.
/// A $600 on 2 Jan (expires 1 Feb); C $300 on 10 Mar; L $500 placed on 5
/// Jan arrives after C: Member, no history (current points 800: L's lot
/// of 5 Jan, due on 4 Feb, is counted until the next event expires it).
/// $50 of L back on 11 Mar: Member. In time: A 600 + L 500 = 1,100 on 5
/// Jan, Silver; with $50 of L back, 1,050 at L: Silver.
#[test]
fn a_late_order_placed_before_an_expiry_that_ran_reaches_its_tier() {
    let p = silver("1000", "eager", "1", days(30));
    let events = [
        Ev::Order("A", "2026-01-02T00:00:00Z", "600"),
        Ev::Order("C", "2026-03-10T00:00:00Z", "300"),
        Ev::Order("L", "2026-01-05T00:00:00Z", "500"),
        Ev::Return("L", "2026-03-11T00:00:00Z", "50"),
    ];
    let in_time = fresh(
        &p,
        &[
            Ev::Order("A", "2026-01-02T00:00:00Z", "600"),
            Ev::Order("L", "2026-01-05T00:00:00Z", "500"),
            Ev::Order("C", "2026-03-10T00:00:00Z", "300"),
            Ev::Return("L", "2026-03-11T00:00:00Z", "50"),
        ],
    );
    assert_eq!(in_time.s.tier, "Silver");
    let c = serve(&p, &events);
    assert_eq!(c.s.tier, in_time.s.tier);
}

/// Versions: one with another period, or none, named by an order gives
/// the generous judgment (the tier kept); the same period replays expiry.
#[test]
fn a_named_version_without_expiry_or_with_months_is_judged_generously() {
    for (then_expiry, kept) in [
        (Value::Null, "Silver"),
        (months(1), "Silver"),
        (days(31), "Silver"),
        (days(30), "Member"),
    ] {
        let then = silver("1000", "lazy", "1", then_expiry.clone()).with_version(1);
        let now = silver("1000", "lazy", "1", days(30)).with_version(2);
        let mut s = CustomerState::new(&then, at("2026-01-01T00:00:00Z"));
        let mut records = Vec::new();
        for (p, id, when, amount) in [
            (&then, "A", "2026-01-02T00:00:00Z", "800"),
            (&now, "C", "2026-02-05T00:00:00Z", "300"),
            (&now, "B", "2026-02-10T00:00:00Z", "750"),
        ] {
            let applied =
                common::apply_as_served(p, &mut s, &records, &order(id, at(when), amount));
            records.push(applied.record);
        }
        let book = Versions(vec![then.clone()]);
        let ret = Return {
            return_id: "r".into(),
            order_id: "B".into(),
            customer_id: "c1".into(),
            returned_at: at("2026-02-12T00:00:00Z"),
            amount: Some(d("100")),
        };
        common::give_back_under(&now, &mut s, &mut records, &ret, &book).unwrap();
        assert_eq!(s.tier, kept, "then {then_expiry}");
    }
}

/// withinBalance: a return of spent points leaves a shortfall; the walk
/// counts what remains of the orders and the redemptions, not the
/// balance: Silver from 1,000. A $900 on 2 Jan, 850 redeemed on 3 Jan, B
/// $960 on 4 Jan (1,010, Silver); $500 of A back on 5 Jan (50 taken, 450
/// short): in time A $400 and the redemption of 850 does not fit; $20 of
/// A back instead: in time 880 - 850 + 960 = 990, Member.
#[test]
fn within_balance_shortfalls_never_count_in_the_walk() {
    let mut config = serde_json::to_value(silver("1000", "lazy", "1", days(30)).config()).unwrap();
    config["returnPolicy"] = json!({"spentPoints": "withinBalance"});
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let events = [
        Ev::Order("A", "2026-01-02T00:00:00Z", "900"),
        Ev::Redeem("2026-01-03T00:00:00Z", "850"),
        Ev::Order("B", "2026-01-04T00:00:00Z", "960"),
        Ev::Return("A", "2026-01-05T00:00:00Z", "20"),
    ];
    assert_eq!(fresh(&p, &events).s.tier, "Member");
    assert_eq!(serve(&p, &events).s.tier, "Member");
}

// ---------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------

/// Program shapes whose tiers all earn one rate (so an order's points never
/// depend on the tier it was placed at), each with current points in an
/// upgrade rule.
fn shape(which: usize, expiry: Value, spent_points: &str) -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    let p = current_points;
    let two = member_and_silver;
    let (tiers, trackers) = match which {
        0..=2 => (silver_by_current_points(which), json!([])),
        3 => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": rule(json!([p(500)]), json!("all"), "dynamic")},
                {"name": "Gold", "earnRate": "1", "upgrade": rule(json!([p(900)]), json!("all"), "dynamic")},
                {"name": "Platinum", "earnRate": "1", "upgrade": rule(json!([p(1300)]), json!("all"), "dynamic")}
            ]),
            json!([]),
        ),
        4 => (
            two(
                "1",
                rule(
                    json!([p(900), {"id": "S", "kind": "tracker", "tracker": "spend30d", "min": 1200}]),
                    json!({"any": 1}),
                    "lazy",
                ),
            ),
            spend30d,
        ),
        5 => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": rule(
                    json!([p(600),
                           {"id": "S", "kind": "tracker", "tracker": "spend30d", "min": 500},
                           {"id": "L", "kind": "lifetimePurchases", "min": 2500}]),
                    json!({"custom": "P AND S OR L"}), "eager")},
                {"name": "Gold", "earnRate": "1", "upgrade": rule(json!([p(1200)]), json!("all"), "dynamic")}
            ]),
            spend30d,
        ),
        _ => (
            json!([
                {"name": "Member", "earnRate": "1.5"},
                {"name": "Silver", "earnRate": "1.5", "upgrade": rule(json!([p(1500)]), json!("all"), "lazy")},
                {"name": "Gold", "earnRate": "1.5", "upgrade": rule(json!([p(2400)]), json!("all"), "dynamic")}
            ]),
            json!([]),
        ),
    };
    program_expiring(tiers, trackers, expiry, spent_points)
}

const SHAPES: usize = 7;

fn expiry_of(kind: u8, n: u32) -> Value {
    match kind {
        0 => days(5 + n % 41),
        1 => months(1 + n % 2),
        _ => days(1 + n % 3),
    }
}

/// One drawn history: orders, redemptions (some at an order's instant,
/// before or after it), job runs, and one order that may arrive last.
#[derive(Debug, Clone)]
struct Drawn {
    orders: Vec<Order>,
    /// (instant, points, rank among the instant's events)
    redemptions: Vec<(DateTime<Utc>, Decimal, u8)>,
    jobs: Vec<DateTime<Utc>>,
    late: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Order(usize),
    Redeem(usize),
    Job(usize),
    /// A return of `percent` of what remains of an order, at an instant.
    Return(usize, u32),
}

/// The events in time order: at one instant, orders (rank 1) and
/// redemptions by their rank (0 before the orders, 2 after), jobs last.
fn timeline(
    w: &Drawn,
    returns: &[(usize, u32, DateTime<Utc>)],
) -> Vec<(DateTime<Utc>, u8, usize, Step)> {
    let mut events: Vec<(DateTime<Utc>, u8, usize, Step)> = Vec::new();
    for (i, o) in w.orders.iter().enumerate() {
        events.push((o.placed_at, 1, i, Step::Order(i)));
    }
    for (i, r) in w.redemptions.iter().enumerate() {
        events.push((r.0, r.2, i, Step::Redeem(i)));
    }
    for (i, j) in w.jobs.iter().enumerate() {
        events.push((*j, 3, i, Step::Job(i)));
    }
    for (k, (which, percent, when)) in returns.iter().enumerate() {
        events.push((*when, 4, k, Step::Return(*which, *percent)));
    }
    events.sort_by_key(|e| (e.0, e.1, e.2));
    events
}

/// Feeds the drawn history with `returns` among its events (each at its
/// instant), then the late order (after every other event), then the
/// returns `at_end`; and a fresh customer the same history in time with
/// every order at what remains of it and no return. None when a
/// redemption is refused in either.
fn run<'a>(
    p: &'a Program,
    w: &Drawn,
    returns: &[(usize, u32, DateTime<Utc>)],
    at_end: &[(usize, u32, DateTime<Utc>)],
) -> Result<Option<(Served<'a>, Served<'a>)>, TestCaseError> {
    let mut c = Served::new(p, true);
    let mut remaining: Vec<Decimal> = w.orders.iter().map(|o| o.amount).collect();
    let give = |c: &mut Served<'_>,
                remaining: &mut Vec<Decimal>,
                which: usize,
                percent: u32,
                when: DateTime<Utc>|
     -> Result<(), TestCaseError> {
        let i = which % w.orders.len();
        if Some(i) == w.late && !c.records.iter().any(|r| r.order_id == w.orders[i].order_id) {
            return Ok(());
        }
        if w.orders[i].placed_at > when {
            return Ok(());
        }
        let amount = (remaining[i] * Decimal::from(percent) / Decimal::from(100)).floor();
        if amount.is_zero() {
            return Ok(());
        }
        remaining[i] -= amount;
        prop_assert!(c.give_back(&w.orders[i].order_id, when, amount));
        Ok(())
    };
    for (when, _, _, step) in timeline(w, returns) {
        match step {
            Step::Order(i) if Some(i) == w.late => {}
            Step::Order(i) => c.order(&w.orders[i]),
            Step::Redeem(i) => {
                let (at, points, _) = w.redemptions[i];
                if !c.redeem(&format!("x{i}"), at, points) {
                    return Ok(None);
                }
            }
            Step::Job(i) => {
                p.expire(&mut c.s, w.jobs[i]);
            }
            Step::Return(which, percent) => give(&mut c, &mut remaining, which, percent, when)?,
        }
    }
    if let Some(i) = w.late {
        c.order(&w.orders[i]);
    }
    for (which, percent, when) in at_end {
        give(&mut c, &mut remaining, *which, *percent, *when)?;
    }
    // In time, what remains.
    let mut f = Served::new(p, true);
    for (_, _, _, step) in timeline(w, &[]) {
        match step {
            Step::Order(i) => {
                if !remaining[i].is_zero() {
                    f.order(&Order {
                        amount: remaining[i],
                        ..w.orders[i].clone()
                    });
                }
            }
            Step::Redeem(i) => {
                let (at, points, _) = w.redemptions[i];
                if !f.redeem(&format!("x{i}"), at, points) {
                    return Ok(None);
                }
            }
            Step::Job(i) => {
                p.expire(&mut f.s, w.jobs[i]);
            }
            Step::Return(..) => {}
        }
    }
    Ok(Some((c, f)))
}

/// Whether a redemption came between order `o` and its return at `when`
/// while the order's lot was still there (`expiry` as `expiry_of` gives
/// it): the return may then have taken from newer lots.
fn spent_before_returned(w: &Drawn, expiry: &Value, o: usize, when: DateTime<Utc>) -> bool {
    let placed = w.orders[o].placed_at;
    let day = placed.date_naive();
    let expires = match (expiry["days"].as_u64(), expiry["months"].as_u64()) {
        (Some(d), _) => day + chrono::Days::new(d),
        (_, Some(m)) => day + chrono::Months::new(m as u32),
        _ => return true,
    };
    let until = when.min(expires.and_time(chrono::NaiveTime::MIN).and_utc());
    w.redemptions
        .iter()
        .any(|(at, _, _)| placed <= *at && *at <= until)
}

fn start() -> DateTime<Utc> {
    at("2026-01-29T00:00:00Z")
}

prop_compose! {
    fn drawn(max_orders: usize, with_redemptions: bool)(
        orders in proptest::collection::vec((0i64..70 * 24, 1u32..700), 1..max_orders),
        spent in proptest::collection::vec((0i64..70 * 24, 1u32..400, 0u8..3, any::<bool>()), 0..if with_redemptions { 5 } else { 1 }),
        jobs in proptest::collection::vec(0i64..80 * 24, 0..4),
        late in proptest::option::of(0usize..8),
    ) -> Drawn {
        let mut all: Vec<Order> = orders
            .iter()
            .enumerate()
            .map(|(i, (hours, dollars))| order(&format!("o{i}"), start() + Duration::hours(*hours), &dollars.to_string()))
            .collect();
        all.sort_by_key(|o| o.placed_at);
        let redemptions = if with_redemptions {
            spent
                .iter()
                .map(|(hours, points, rank, tie)| {
                    // At an order's instant (before or after it), or at half
                    // past an hour.
                    let when = match (*tie, all.get(*hours as usize % 8)) {
                        (true, Some(o)) => o.placed_at,
                        _ => start() + Duration::hours(*hours) + Duration::minutes(30),
                    };
                    (when, Decimal::from(*points), if *rank == 1 { 2 } else { *rank })
                })
                .collect()
        } else {
            Vec::new()
        };
        let late = late.filter(|i| *i < all.len());
        Drawn {
            orders: all,
            redemptions,
            jobs: jobs.iter().map(|h| start() + Duration::hours(*h) + Duration::minutes(15)).collect(),
            late,
        }
    }
}

fn tier_of(p: &Program, s: &CustomerState) -> usize {
    p.tier_index(&s.tier).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1000),
        max_global_rejects: 1_000_000,
        .. ProptestConfig::default()
    })]

    /// Orders, redemptions (ties with orders either way), job runs at any
    /// times, points lasting days or months, then returns (several of one
    /// order, soon or once everything expired) after every event: the
    /// customer holds what a fresh customer reaches in time with what
    /// remains of each order and the same redemptions (where they fit).
    /// No late order (a late order's own property is in
    /// `expired_points.rs`).
    #[test]
    fn after_returns_at_the_end_the_tier_is_the_tier_in_time(
        which in 0usize..SHAPES,
        expiry_kind in 0u8..3,
        n in 0u32..100,
        within in any::<bool>(),
        w in drawn(9, true),
        returns in proptest::collection::vec((0usize..8, 1u32..=100, 0u8..3), 1..5),
    ) {
        let p = shape(which, expiry_of(expiry_kind, n), if within { "withinBalance" } else { "negativeBalance" });
        let w = Drawn { late: None, ..w };
        let last = w.orders.iter().map(|o| o.placed_at).chain(w.redemptions.iter().map(|r| r.0)).chain(w.jobs.iter().copied()).max().unwrap();
        let at_end: Vec<(usize, u32, DateTime<Utc>)> = returns
            .iter()
            .enumerate()
            .map(|(k, (o, percent, when))| {
                let after = match when { 0 => Duration::hours(1), 1 => Duration::days(40), _ => Duration::days(200) };
                (*o, *percent, last + after + Duration::minutes(k as i64))
            })
            .collect();
        let Some((c, f)) = run(&p, &w, &[], &at_end)? else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        // A redemption before an order of its instant: where points
        // expire no record keeps that the order came after it, and the
        // walk judges the instant before spending it (generous;
        // docs/late-events.md, "Not exact", item 7).
        let tie_before = w.redemptions.iter().any(|r| r.2 == 0 && w.orders.iter().any(|o| o.placed_at == r.0));
        prop_assert!(tier_of(&p, &c.s) >= tier_of(&p, &f.s), "harsher: {} vs {} in time", c.s.tier, f.s.tier);
        if !tie_before {
            prop_assert_eq!(&c.s.tier, &f.s.tier, "engine vs in time");
        }
    }

    /// Returns between the orders too (at any instant after their order),
    /// job runs, no redemptions: the returns take from each order's own
    /// lot, so the customer's points are the points in time, and after the
    /// last return the tier is the tier in time.
    #[test]
    fn returns_between_orders_without_redemptions_leave_the_tier_in_time(
        which in 0usize..SHAPES,
        expiry_kind in 0u8..3,
        n in 0u32..100,
        within in any::<bool>(),
        w in drawn(9, false),
        returns in proptest::collection::vec((0usize..8, 1u32..=100, 0i64..90 * 24), 1..5),
        last in (0usize..8, 1u32..=100),
    ) {
        let p = shape(which, expiry_of(expiry_kind, n), if within { "withinBalance" } else { "negativeBalance" });
        let w = Drawn { late: None, ..w };
        let between: Vec<(usize, u32, DateTime<Utc>)> = returns
            .iter()
            .map(|(o, percent, h)| (*o, *percent, start() + Duration::hours(*h) + Duration::minutes(45)))
            .collect();
        let end = start() + Duration::days(100);
        let expiry = expiry_of(expiry_kind, n);
        prop_assume!(between
            .iter()
            .chain([&(last.0, last.1, end)])
            .all(|(o, _, when)| !spent_before_returned(&w, &expiry, o % w.orders.len(), *when)));
        let Some((c, f)) = run(&p, &w, &between, &[(last.0, last.1, end)])? else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        prop_assert_eq!(&c.s.tier, &f.s.tier, "engine vs in time");
        let (mut c, mut f) = (c, f);
        p.expire(&mut c.s, end);
        p.expire(&mut f.s, end);
        prop_assert_eq!(c.s.current_points, f.s.current_points);
    }

    /// With a late order too (placed before others, maybe long enough ago
    /// that its lot expired before it arrived), redemptions and returns
    /// between the orders: nothing panics (the tier may fall below the
    /// tier in time: the findings on late orders and on a return's lots).
    #[test]
    fn nothing_panics_with_late_orders_returns_and_jobs(
        which in 0usize..SHAPES,
        expiry_kind in 0u8..3,
        n in 0u32..100,
        within in any::<bool>(),
        w in drawn(9, true),
        returns in proptest::collection::vec((0usize..8, 1u32..=100, 0i64..90 * 24), 0..4),
        last in (0usize..8, 1u32..=100),
    ) {
        let p = shape(which, expiry_of(expiry_kind, n), if within { "withinBalance" } else { "negativeBalance" });
        let between: Vec<(usize, u32, DateTime<Utc>)> = returns
            .iter()
            .map(|(o, percent, h)| (*o, *percent, start() + Duration::hours(*h) + Duration::minutes(45)))
            .collect();
        let end = start() + Duration::days(100);
        let _ = run(&p, &w, &between, &[(last.0, last.1, end)])?;
    }

    /// Returns between the orders, redemptions (ties either way), job
    /// runs, no late order: never below the tier in time, where no return
    /// took from newer lots than its own order's (a redemption spent its
    /// lot before the return or its expiry): such a return is a known
    /// counterexample (docs/late-events.md, "Not exact", item 7), which
    /// these draws hit about once in a few thousand cases.
    #[test]
    fn returns_between_orders_with_redemptions_are_not_harsher_on_random_draws(
        which in 0usize..SHAPES,
        expiry_kind in 0u8..3,
        n in 0u32..100,
        within in any::<bool>(),
        w in drawn(9, true),
        returns in proptest::collection::vec((0usize..8, 1u32..=100, 0i64..90 * 24), 0..4),
        last in (0usize..8, 1u32..=100),
    ) {
        let p = shape(which, expiry_of(expiry_kind, n), if within { "withinBalance" } else { "negativeBalance" });
        let w = Drawn { late: None, ..w };
        let between: Vec<(usize, u32, DateTime<Utc>)> = returns
            .iter()
            .map(|(o, percent, h)| (*o, *percent, start() + Duration::hours(*h) + Duration::minutes(45)))
            .collect();
        let end = start() + Duration::days(100);
        let expiry = expiry_of(expiry_kind, n);
        prop_assume!(between
            .iter()
            .chain([&(last.0, last.1, end)])
            .all(|(o, _, when)| !spent_before_returned(&w, &expiry, o % w.orders.len(), *when)));
        let Some((c, f)) = run(&p, &w, &between, &[(last.0, last.1, end)])? else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        prop_assert!(tier_of(&p, &c.s) >= tier_of(&p, &f.s), "harsher: {} vs {} in time", c.s.tier, f.s.tier);
    }
}
