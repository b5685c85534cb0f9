//! Adversary of 04e15e3: a late order of a customer one of whose later
//! orders was returned after its own lot expired, or after a redemption
//! (the return "took from newer lots"), where points expire. Since
//! 04e15e3 such a late order, placed before every order those returns
//! touched, is decided among the orders (the walk up to its instant), and
//! the walk that dates a crossing a later order completes stops at the
//! first such return. Attacked here: tiers that lapse (retention rules,
//! validity ends judged after the late upgrade), two and three late
//! orders, returns at the late order's instant, redemptions, both
//! `spentPoints` policies, every upgrade type; the late customer against
//! the same customer fed every event in time.
//!
//! Kept: tiers that never lapse are never generous and, where nothing
//! moved in time from the first newer-lots return on, exact; points agree;
//! nothing panics. Its findings 1 to 4 (tiers that lapse: the course after
//! the late order walked on figures that no longer replay expiry past such
//! a return) are mended by admitting such returns only where no tier
//! lapses; finding 5 (a crossing at the return's instant lost) by walking
//! that instant too. Its finding 6 (a lift a return undid kept, where
//! tiers lapse) was older: the return came once its lot had expired,
//! which takes nothing from current points and so tells the walk all it
//! did; since the thirty-fifth session such returns admit the late order
//! (properties `returns_once_their_lots_expired_*` and the hand cases at
//! the end).

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod drawn_history;
mod spenders;
#[allow(dead_code)]
mod standing;
use common::{at, current_points, d, member_and_silver, order, program_expiring, rule};
use drawn_history::*;
use spenders::Served;

// ---------------------------------------------------------------------
// Programs
// ---------------------------------------------------------------------

/// Shapes whose tiers never lapse (one rate each), as in
/// `returns_expiry_attack.rs`: 0..=2 Silver from current points (lazy
/// 1,000, eager 1,000, dynamic 700); 3 two criteria any (eager); 4 three
/// tiers, Gold also by a window (lazy); 5 both criteria (dynamic).
const PLAIN: usize = 6;
/// Shapes whose tiers lapse (retention rules), one rate each.
const LAPSING: usize = 9;

fn plain(which: usize, expiry_days: u32, spent_points: &str) -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    let p = current_points;
    let s = |min: u32| json!({"id": "S", "kind": "tracker", "tracker": "spend30d", "min": min});
    let (tiers, trackers) = match which {
        0..=2 => (common::silver_by_current_points(which), json!([])),
        3 => (
            member_and_silver(
                "1",
                rule(json!([p(900), s(1200)]), json!({"any": 1}), "eager"),
            ),
            spend30d,
        ),
        4 => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": rule(json!([p(500)]), json!("all"), "eager")},
                {"name": "Gold", "earnRate": "1", "upgrade": rule(json!([p(1000), s(800)]), json!("all"), "lazy")}
            ]),
            spend30d,
        ),
        _ => (
            member_and_silver("1", rule(json!([p(600), s(900)]), json!("all"), "dynamic")),
            spend30d,
        ),
    };
    program_expiring(tiers, trackers, json!({"days": expiry_days}), spent_points)
}

fn retention(months: u32, from: Value, keep: Value, on_fail: &str, grace: u32) -> Value {
    json!({"validity": {"months": months, "from": from}, "criteria": keep,
           "condition": "all", "onFail": on_fail, "graceDays": grace})
}

/// Shapes whose tiers lapse: 0..=5 `lapsing` of `expired_points.rs`
/// (Silver from 1,000 current points, lazy / eager / dynamic, kept a
/// month from its start by 400 current points or $300 in 30 days, else
/// back to the base); 6 three tiers by current points (600 / 1,200,
/// dynamic), kept a month by 300 / 700 current points, one down after a
/// 10-day grace; 7 Silver from 700 (lazy), kept from the join by 500
/// current points, else the tier qualified for; 8 Silver from 500 current
/// points or $700 in 30 days (eager), kept a month by $200 in 30 days,
/// 5 days' grace.
fn lapsing(which: usize, expiry_days: u32, spent_points: &str) -> Program {
    lapsing_expiring(which, json!({"days": expiry_days}), spent_points)
}

/// [`lapsing`] with the program's `pointsExpiry` (null: never).
fn lapsing_expiring(which: usize, expiry: Value, spent_points: &str) -> Program {
    let spend30d = json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]);
    let p = current_points;
    let s = |min: u32| json!({"id": "S", "kind": "tracker", "tracker": "spend30d", "min": min});
    let k = |min: u32| json!({"id": "K", "kind": "currentPoints", "min": min});
    let ks = |min: u32| json!({"id": "K", "kind": "tracker", "tracker": "spend30d", "min": min});
    let (tiers, trackers) = match which {
        0..=5 => {
            let keep = match which % 2 {
                0 => k(400),
                _ => ks(300),
            };
            let upgrade_type = ["lazy", "eager", "dynamic"][which / 2 % 3];
            (
                json!([
                    {"name": "Member", "earnRate": "1"},
                    {"name": "Silver", "earnRate": "1",
                     "upgrade": rule(json!([p(1000)]), json!("all"), upgrade_type),
                     "retention": retention(1, json!("tierStart"), json!([keep]), "base", 0)}
                ]),
                spend30d,
            )
        }
        6 => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1",
                 "upgrade": rule(json!([p(600)]), json!("all"), "dynamic"),
                 "retention": retention(1, json!("tierStart"), json!([k(300)]), "oneDown", 10)},
                {"name": "Gold", "earnRate": "1",
                 "upgrade": rule(json!([p(1200)]), json!("all"), "dynamic"),
                 "retention": retention(1, json!("tierStart"), json!([k(700)]), "oneDown", 10)}
            ]),
            json!([]),
        ),
        7 => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1",
                 "upgrade": rule(json!([p(700)]), json!("all"), "lazy"),
                 "retention": retention(1, json!("programJoin"), json!([k(500)]), "qualified", 0)}
            ]),
            json!([]),
        ),
        _ => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1",
                 "upgrade": rule(json!([p(500), s(700)]), json!({"any": 1}), "eager"),
                 "retention": retention(1, json!("tierStart"), json!([ks(200)]), "base", 5)}
            ]),
            spend30d,
        ),
    };
    program_expiring(tiers, trackers, expiry, spent_points)
}

/// Shape `which` of every one (plain ones first, then lapsing ones).
fn shape(which: usize, expiry_days: u32, within: bool) -> Program {
    let spent = if within {
        "withinBalance"
    } else {
        "negativeBalance"
    };
    match which < PLAIN {
        true => plain(which, expiry_days, spent),
        false => lapsing(which - PLAIN, expiry_days, spent),
    }
}

// ---------------------------------------------------------------------
// Histories
// ---------------------------------------------------------------------

prop_compose! {
    /// `returns_expiry_attack.rs`'s histories, up to `max_late` late
    /// orders drawn among the first `early` (so that later orders, whose
    /// returns may take from newer lots, follow them), returns of later
    /// orders often long after them (past their lots' expiry).
    fn drawn(max_late: usize, early: usize)(
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700, any::<bool>()), 3..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..400, 0u8..4, any::<bool>()), 0..4),
        returns in proptest::collection::vec((0usize..8, prop_oneof![Just(100u32), 1u32..=100], 0u8..5, 0i64..45 * 24, any::<bool>()), 1..5),
        picks in proptest::collection::vec(0usize..8, 1..=max_late),
    ) -> Drawn {
        // Coarse orders fall on midnights: orders of one instant.
        let mut all: Vec<Order> = orders
            .iter()
            .enumerate()
            .map(|(i, (hours, dollars, coarse))| {
                let h = if *coarse { hours / 24 / 3 * 72 } else { *hours };
                order(&format!("o{i}"), start() + Duration::hours(h), &dollars.to_string())
            })
            .collect();
        all.sort_by_key(|o| o.placed_at);
        for (i, o) in all.iter_mut().enumerate() {
            o.order_id = format!("o{i}");
        }
        let n = all.len();
        let mut late: Vec<usize> = Vec::new();
        for l in &picks {
            let l = l % early.min(n);
            if !late.contains(&l) {
                late.push(l);
            }
        }
        let redemptions = spent
            .iter()
            .map(|(hours, points, tie, before)| {
                let when = match tie {
                    0 | 1 => all[*hours as usize % n].placed_at,
                    _ => start() + Duration::hours(*hours) + Duration::minutes(30),
                };
                (when, Decimal::from(*points), if *before { 0 } else { 2 })
            })
            .collect::<Vec<_>>();
        let returns = returns
            .iter()
            .filter(|r| !late.contains(&(r.0 % n)))
            .map(|(o, percent, kind, hours, before)| {
                let o = o % n;
                let placed = all[o].placed_at;
                let when = match kind {
                    0 => placed + Duration::hours(*hours),
                    // Long after (past a short expiry).
                    4 => placed + Duration::hours(*hours) + Duration::days(10),
                    1 => {
                        // At another order's instant (a late one's too).
                        let other = all[*hours as usize % n].placed_at;
                        if other >= placed { other } else { placed + Duration::hours(*hours) }
                    }
                    2 if !redemptions.is_empty() => {
                        let r = redemptions[*hours as usize % redemptions.len()].0;
                        if r >= placed { r } else { placed + Duration::hours(*hours) }
                    }
                    _ => placed,
                };
                let rank = if when == placed || !*before { 3 } else { 0 };
                (o, *percent, when, rank)
            })
            .collect();
        Drawn { orders: all, redemptions, returns, late }
    }
}

/// When the lot of order `o` expires.
fn lot_expires(w: &Drawn, o: usize, expiry_days: u32) -> DateTime<Utc> {
    let day = w.orders[o].placed_at.date_naive() + chrono::Days::new(expiry_days.into());
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Whether the `k`th return took from its own order's lot: made before the
/// lot expires, no redemption from the order's instant to the return's.
/// (Those made once it had expired, which take nothing, went by the
/// fallback when these properties were written.)
fn from_own_lot(w: &Drawn, k: usize, expiry_days: u32) -> bool {
    let (o, _, when, _) = w.returns[k];
    when < lot_expires(w, o, expiry_days) && told(w, k, expiry_days)
}

/// Whether the `k`th return took from its own order's lot, or nothing
/// (made once that lot had expired): no redemption from the order's
/// instant to the return's or the lot's expiry, whichever came first.
fn told(w: &Drawn, k: usize, expiry_days: u32) -> bool {
    let (o, _, when, _) = w.returns[k];
    let placed = w.orders[o].placed_at;
    let until = when.min(lot_expires(w, o, expiry_days));
    !w.redemptions
        .iter()
        .any(|(r, _, _)| placed <= *r && *r <= until)
}

/// Whether the `k`th return came once its order's lot had expired.
fn after_its_lot_expired(w: &Drawn, k: usize, expiry_days: u32) -> bool {
    let (o, _, when, _) = w.returns[k];
    when >= lot_expires(w, o, expiry_days)
}

/// The first return that took from newer lots, if any.
fn untold_from(w: &Drawn, expiry_days: u32) -> Option<DateTime<Utc>> {
    (0..w.returns.len())
        .filter(|k| !from_own_lot(w, *k, expiry_days))
        .map(|k| w.returns[k].2)
        .min()
}

/// Whether every return from newer lots is of an order placed after every
/// late order (the shape 04e15e3 newly decides among the orders), and
/// there is one.
fn newer_lots_after_the_late_orders(w: &Drawn, expiry_days: u32) -> bool {
    let last_late = w.late.iter().map(|&l| w.orders[l].placed_at).max().unwrap();
    let untold: Vec<usize> = (0..w.returns.len())
        .filter(|k| !from_own_lot(w, *k, expiry_days))
        .collect();
    !untold.is_empty()
        && untold
            .iter()
            .all(|k| w.orders[w.returns[*k].0].placed_at > last_late)
}

/// The known exclusions: a redemption ranked before an order of its
/// instant; a late order sharing its instant with an order or redemption;
/// under `withinBalance` a redemption after a late order's instant.
fn known(w: &Drawn, within: bool) -> bool {
    redemption_before_order(w) || late_ties_but_returns(w) || within && redeemed_after_late(w)
}

/// Whether the in-time customer's tier moved at or after `from`.
fn moved_since(c: &Served<'_>, from: DateTime<Utc>) -> bool {
    c.s.history.iter().any(|h| h.from != h.to && h.at >= from)
}

/// The late customer ends at the in-time tier where nothing moved it in
/// time from the first return from newer lots on (none: rejected), and
/// every order returned from newer lots was placed after the in-time
/// customer's last change of tier.
fn exact_before_the_first_newer_lots_return(
    which: usize,
    expiry_days: u32,
    within: bool,
    w: &Drawn,
) -> Result<(), TestCaseError> {
    prop_assume!(newer_lots_after_the_late_orders(w, expiry_days));
    prop_assume!(!known(w, within));
    // Known harsh ("Not exact" 3): a redemption after the late order's
    // instant spent another lot than in time.
    prop_assume!(!redeemed_after_late(w));
    let p = shape(which, expiry_days, within);
    let Some((t, l)) = both(&p, w) else {
        return Err(TestCaseError::reject("refused"));
    };
    let from = untold_from(w, expiry_days).unwrap();
    prop_assume!(!moved_since(&t, from));
    // An order returned from newer lots placed up to the in-time
    // customer's last change of tier: what remains of it after the return
    // may cross only after the return in the walk (harsh by design, the
    // dating walk stops there).
    let settled =
        t.s.history
            .iter()
            .filter(|h| h.from != h.to)
            .map(|h| h.at)
            .max();
    prop_assume!(settled.is_none_or(|settled| (0..w.returns.len())
        .filter(|k| !from_own_lot(w, *k, expiry_days))
        .all(|k| w.orders[w.returns[k].0].placed_at > settled)));
    prop_assert_eq!(
        &l.s.tier,
        &t.s.tier,
        "late vs in time (first newer-lots return {})",
        from
    );
    Ok(())
}

/// `w` fed to `p` in time and late, where every return took from its own
/// lot or from nothing and one at least came once its lot had expired
/// (none of the known exclusions).
fn told_with_one_after_expiry<'a>(
    p: &'a Program,
    expiry_days: u32,
    within: bool,
    w: &Drawn,
) -> Result<(Served<'a>, Served<'a>), TestCaseError> {
    prop_assume!((0..w.returns.len()).all(|k| told(w, k, expiry_days)));
    prop_assume!((0..w.returns.len()).any(|k| after_its_lot_expired(w, k, expiry_days)));
    prop_assume!(!known(w, within) && !late_ties(w) && !redeemed_after_late(w));
    both(p, w).ok_or_else(|| TestCaseError::reject("refused"))
}

/// Whether a return moved the customer from the first late order's
/// instant on before the late orders came.
fn moved_by_a_return_before_they_came(p: &Program, w: &Drawn) -> bool {
    let first_late = w.late.iter().map(|&l| w.orders[l].placed_at).min().unwrap();
    feed_but_late(p, w, true).is_some_and(|c| {
        c.s.history
            .iter()
            .any(|h| h.cause.starts_with("return") && h.at >= first_late)
    })
}

/// Whether a return shares its instant with an event whose order in time
/// against it nothing kept: a late order, a redemption, or another order's
/// return (an order in time is told apart by the arrivals).
fn returns_tied(w: &Drawn) -> bool {
    w.returns.iter().any(|r| {
        w.late.iter().any(|&l| w.orders[l].placed_at == r.2)
            || w.redemptions.iter().any(|x| x.0 == r.2)
            || w.returns.iter().any(|q| q.0 != r.0 && q.2 == r.2)
    })
}

/// `w`'s events fed in time, the `k`-th return told after every other
/// event when `late` (each return gives back its share of what remained
/// of its order in time either way); expiry run to the latest event. None
/// when a redemption or a return is refused.
fn feed_return_late<'a>(p: &'a Program, w: &Drawn, k: usize, late: bool) -> Option<Served<'a>> {
    let steps = timeline(w);
    let mut remaining: Vec<Decimal> = w.orders.iter().map(|o| o.amount).collect();
    let mut amounts = vec![Decimal::ZERO; w.returns.len()];
    for (_, _, _, step) in &steps {
        if let Step::Return(j) = *step {
            let (o, percent, _, _) = w.returns[j];
            amounts[j] = (remaining[o] * Decimal::from(percent) / Decimal::from(100)).floor();
            remaining[o] -= amounts[j];
        }
    }
    let mut c = Served::new(p, true);
    let give_back = |c: &mut Served<'a>, j: usize| {
        let (o, _, when, _) = w.returns[j];
        amounts[j].is_zero() || c.give_back(&w.orders[o].order_id, when, amounts[j])
    };
    for (when, _, _, step) in &steps {
        let done = match *step {
            Step::Order(i) => {
                c.order(&w.orders[i]);
                true
            }
            Step::Redeem(i) => c.redeem(&format!("x{i}"), *when, w.redemptions[i].1),
            Step::Return(j) => late && j == k || give_back(&mut c, j),
        };
        if !done {
            return None;
        }
    }
    if late && !give_back(&mut c, k) {
        return None;
    }
    p.expire(&mut c.s, steps.last()?.0);
    Some(c)
}

/// `w`'s events fed in time, the `k`-th redemption told after every
/// other event when `late`; expiry run to the latest event. None when a
/// redemption or a return is refused.
fn feed_redemption_late<'a>(p: &'a Program, w: &Drawn, k: usize, late: bool) -> Option<Served<'a>> {
    let steps = timeline(w);
    let mut c = Served::new(p, true);
    let mut remaining: Vec<Decimal> = w.orders.iter().map(|o| o.amount).collect();
    for (when, _, _, step) in &steps {
        let done = match *step {
            Step::Order(i) => {
                c.order(&w.orders[i]);
                true
            }
            Step::Redeem(i) if late && i == k => true,
            Step::Redeem(i) => c.redeem(&format!("x{i}"), *when, w.redemptions[i].1),
            Step::Return(j) => {
                let (o, percent, _, _) = w.returns[j];
                let amount = (remaining[o] * Decimal::from(percent) / Decimal::from(100)).floor();
                remaining[o] -= amount;
                amount.is_zero() || c.give_back(&w.orders[o].order_id, *when, amount)
            }
        };
        if !done {
            return None;
        }
    }
    let (when, points, _) = w.redemptions[k];
    if late && !c.redeem(&format!("x{k}"), when, points) {
        return None;
    }
    p.expire(&mut c.s, steps.last()?.0);
    Some(c)
}

fn both<'a>(p: &'a Program, w: &Drawn) -> Option<(Served<'a>, Served<'a>)> {
    Some((feed(p, w, false)?, feed(p, w, true)?))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_global_rejects: 100_000_000,
        max_shrink_iters: 20_000,
        .. ProptestConfig::default()
    })]

    /// Tiers that never lapse, up to three late orders, returns at their
    /// instants allowed: never generous.
    #[test]
    fn three_late_orders_before_newer_lots_are_never_generous(
        which in 0usize..PLAIN,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(3, 3),
    ) {
        prop_assume!(newer_lots_after_the_late_orders(&w, expiry_days));
        prop_assume!(!known(&w, within));
        let p = shape(which, expiry_days, within);
        // Known generous (docs/late-events.md "Not exact" 2, found at
        // 100,000 cases in the thirty-fifth session): a move down by a
        // return whose order's lot a redemption had spent, before the late
        // orders came; the path through that move down walks past it.
        prop_assume!(w.redemptions.is_empty() || !moved_by_a_return_before_they_came(&p, &w));
        let Some((t, l)) = both(&p, &w) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert!(tier_of(&p, &l.s) <= tier_of(&p, &t.s), "generous: {} vs {} in time", l.s.tier, t.s.tier);
    }

    /// Tiers that never lapse: where the in-time customer's tier never
    /// moved from the first return from newer lots on (the dating walk,
    /// which stops there, has nothing to miss), and no order returned from
    /// newer lots was placed up to the in-time customer's last change of
    /// tier (what remains of such an order may cross only after the
    /// return, where the dating walk stops), the late customer ends at the
    /// in-time tier.
    #[test]
    fn nothing_moved_past_the_first_newer_lots_return_the_tiers_agree(
        which in 0usize..PLAIN,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(3, 3),
    ) {
        exact_before_the_first_newer_lots_return(which, expiry_days, within, &w)?;
    }

    /// [`nothing_moved_past_the_first_newer_lots_return_the_tiers_agree`]
    /// with a return at a late order's very instant.
    #[test]
    fn a_return_at_the_late_orders_instant_the_tiers_agree(
        which in 0usize..PLAIN,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(2, 3),
        pick in 0usize..8,
        percent in prop_oneof![Just(100u32), 1u32..=100],
        before in any::<bool>(),
    ) {
        // A return of an order placed before the first late order, at a
        // late order's instant (before or after it in time).
        let mut w = w;
        let l = w.late[pick % w.late.len()];
        let when = w.orders[l].placed_at;
        let earlier: Vec<usize> = (0..w.orders.len())
            .filter(|i| !w.late.contains(i) && w.orders[*i].placed_at < when)
            .collect();
        prop_assume!(!earlier.is_empty());
        w.returns.push((earlier[pick % earlier.len()], percent, when, if before { 0 } else { 3 }));
        prop_assume!(return_at_a_late_instant(&w));
        exact_before_the_first_newer_lots_return(which, expiry_days, within, &w)?;
    }

    /// Every shape, negativeBalance, no redemptions: the late customer's
    /// current and lifetime points are the in-time ones.
    #[test]
    fn newer_lots_after_the_late_orders_points_agree(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        w in drawn(3, 3),
    ) {
        prop_assume!(w.redemptions.is_empty());
        prop_assume!(newer_lots_after_the_late_orders(&w, expiry_days));
        prop_assume!(!late_ties_but_returns(&w));
        let p = shape(which, expiry_days, false);
        let Some((t, l)) = both(&p, &w) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert_eq!(l.s.lifetime_points, t.s.lifetime_points, "lifetime");
        prop_assert_eq!(l.s.current_points, t.s.current_points, "current");
    }

    /// Tiers that never lapse: where every return took from its own lot or
    /// from nothing (one at least made once its lot had expired, which
    /// takes nothing from current points: `returns.rs`), the late
    /// customer ends at the in-time tier. Before, such a return sent the
    /// late order to the points left now (generous and harsh). Left out:
    /// a customer a return moved from the first late order's instant on
    /// before the late orders came (with two late orders the second one
    /// meets that move down, older: docs/late-events.md "Not exact" 4).
    #[test]
    fn returns_once_their_lots_expired_leave_the_late_orders_exact(
        which in 0usize..PLAIN,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(2, 3),
    ) {
        let p = shape(which, expiry_days, within);
        let (t, l) = told_with_one_after_expiry(&p, expiry_days, within, &w)?;
        prop_assume!(!moved_by_a_return_before_they_came(&p, &w));
        prop_assert_eq!(&l.s.tier, &t.s.tier, "late vs in time");
    }

    /// [`returns_once_their_lots_expired_leave_the_late_orders_exact`]
    /// where tiers lapse: never generous, where no return moved the
    /// customer from the first late order's instant on (in time, or
    /// before the late orders came) and no validity end was judged from
    /// then on before they came, nor did an order that renewed a grace in
    /// time come back (older, left: docs/late-events.md "Not exact" 2 and
    /// 4). One late order: a second one meets the moves the first one's
    /// course made (the same).
    #[test]
    fn returns_once_their_lots_expired_where_tiers_lapse_are_never_generous(
        which in PLAIN..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(1, 3),
    ) {
        let first_late = w.late.iter().map(|&l| w.orders[l].placed_at).min().unwrap();
        let p = shape(which, expiry_days, within);
        let (t, l) = told_with_one_after_expiry(&p, expiry_days, within, &w)?;
        prop_assume!(!t.s.history.iter().any(|h| h.cause.starts_with("return") && h.at >= first_late));
        prop_assume!(!moved_by_a_return_before_they_came(&p, &w));
        // In time a grace recovered by an order stands after that order's
        // return (item 4); the late course walks what remains.
        prop_assume!(!t.s.history.iter().any(|h| h.cause == "renewed"
            && w.returns.iter().any(|r| w.orders[r.0].placed_at == h.at)));
        let before = feed_but_late(&p, &w, true).unwrap();
        prop_assume!(before.s.judged.as_ref().is_none_or(|j| j.at < first_late));
        prop_assert!(tier_of(&p, &l.s) <= tier_of(&p, &t.s), "generous: {} vs {} in time", l.s.tier, t.s.tier);
    }

    /// Every shape, up to three late orders anywhere, no return, no other
    /// event at a late instant, redemptions only before the late orders
    /// and after the orders of their instant (the known exclusions): the
    /// late customer ends as in time, tier, its start and current points.
    /// Failed before the thirty-sixth session where tiers lapse (a late
    /// order before a move down that stands decided on the figures now; a
    /// late upgrade before an end an order's lift since made moot, or
    /// past its tier: about 4 in 28,000 draws of one late order); with
    /// two, before the thirty-seventh (a crossing a later order completed
    /// in time on points expired since: about 1 in 150,000 draws), the
    /// hand cases below.
    #[test]
    fn late_orders_alone_end_as_in_time(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(3, 8),
    ) {
        let mut w = w;
        w.returns.clear();
        prop_assume!(!late_ties(&w) && !known(&w, within) && !redeemed_after_late(&w));
        let p = shape(which, expiry_days, within);
        let Some((t, l)) = both(&p, &w) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert_eq!(
            (&l.s.tier, l.s.tier_since, l.s.current_points),
            (&t.s.tier, t.s.tier_since, t.s.current_points)
        );
    }

    /// Every shape, up to three late orders among any returns and
    /// redemptions, where the stored events tell the whole course (no
    /// return shares its instant with a redemption, another order's
    /// return or a late order): the replay in time
    /// (`replay.rs`) leaves the tier and its start as in time. Before it,
    /// over 30,000 draws each with one, two and three late orders (6,353,
    /// 6,269 and 6,555 kept): 8, 10 and 6 tiers and 362, 330 and 291
    /// starts of a tier differed; none after.
    #[test]
    fn late_orders_whose_events_tell_all_end_as_in_time(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(3, 3),
    ) {
        prop_assume!(!late_ties(&w) && !known(&w, within) && !redeemed_after_late(&w));
        prop_assume!(!returns_tied(&w));
        let p = shape(which, expiry_days, within);
        let Some((t, l)) = both(&p, &w) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    }

    /// Every shape, up to three late orders, no exclusion: read in the
    /// order told, the feed names the tier held after every commit, in
    /// time and late. Before a walk counted a renewal it told among what
    /// the feed names last, over 30,000 kept draws of one late order 7
    /// commits ended at a tier the customer had left (a renewal told after
    /// the move down it preceded in time, the move down kept untold).
    #[test]
    fn the_feed_read_in_order_names_the_tier_held(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(3, 3),
    ) {
        let p = shape(which, expiry_days, within);
        let (Some(t), Some(mut l)) = (feed_but_late(&p, &w, false), feed_but_late(&p, &w, true)) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert_eq!(last_told_tier(&p, &t), t.s.tier.as_str());
        prop_assert_eq!(last_told_tier(&p, &l), l.s.tier.as_str());
        for &i in &w.late {
            l.order(&w.orders[i]);
            prop_assert_eq!(last_told_tier(&p, &l), l.s.tier.as_str(), "after {}", w.orders[i].order_id);
        }
    }

    /// [`the_feed_read_in_order_names_the_tier_held`], one late order then
    /// its whole return, made before the latest event and told after it.
    /// Before a walk that told nothing compared the tier the feed named
    /// last, the return of a late order that had lifted the customer back
    /// at an end left the feed there with the customer moved down.
    #[test]
    fn the_feed_names_the_tier_held_after_a_late_return_of_a_late_order(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(1, 3),
        hours in 1i64..45 * 24,
    ) {
        let p = shape(which, expiry_days, within);
        let Some(mut l) = feed_but_late(&p, &w, true) else {
            return Err(TestCaseError::reject("refused"));
        };
        let late = &w.orders[w.late[0]];
        l.order(late);
        prop_assert_eq!(last_told_tier(&p, &l), l.s.tier.as_str());
        let when = late.placed_at + Duration::hours(hours);
        prop_assume!(l.s.last_event_at.is_some_and(|latest| when < latest));
        prop_assert!(l.give_back(&late.order_id, when, late.amount));
        prop_assert_eq!(last_told_tier(&p, &l), l.s.tier.as_str());
    }

    /// [`late_orders_whose_events_tell_all_end_as_in_time`] with one late
    /// order, given back whole a day after every other event once it came:
    /// the return is judged, and the replay in time checks it
    /// (`replay.rs`), as on a customer who had every event in time. Before
    /// returns were replayed, over 30,000 draws (7,237 kept), 20 customers
    /// differed from in time in their tier or its start (the late order's
    /// lift, told by its walk, set the tier in the return's replay of the
    /// history, so the return left a tier it had earned); none after.
    #[test]
    fn a_late_orders_whole_return_after_it_ends_as_in_time(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(1, 3),
    ) {
        prop_assume!(!late_ties(&w) && !known(&w, within) && !redeemed_after_late(&w));
        prop_assume!(!returns_tied(&w));
        let p = shape(which, expiry_days, within);
        let Some((mut t, mut l)) = both(&p, &w) else {
            return Err(TestCaseError::reject("refused"));
        };
        let when = timeline(&w).last().unwrap().0 + Duration::days(1);
        let late = &w.orders[w.late[0]];
        for c in [&mut t, &mut l] {
            prop_assert!(c.give_back(&late.order_id, when, late.amount));
            p.expire(&mut c.s, when);
        }
        prop_assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    }

    /// Every shape, one return told after every other event (the orders
    /// all in time), where the stored events tell the whole course (no
    /// return shares its instant with a redemption or another order's
    /// return, nor the late one with another order's instant, where
    /// whether it came before that order is kept nowhere): the replay in
    /// time leaves the tier and its start as in time. Before returns were
    /// replayed, over 60,000 draws (11,574 kept), 395 customers differed
    /// in the tier or its start and 53 in the tier (51 below it); none
    /// after.
    #[test]
    fn late_returns_whose_events_tell_all_end_as_in_time(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(1, 3),
    ) {
        let mut w = w;
        prop_assume!(!w.returns.is_empty());
        let k = w.late[0] % w.returns.len();
        w.late.clear();
        prop_assume!(!known(&w, within) && !returns_tied(&w));
        let (o, _, when, _) = w.returns[k];
        prop_assume!(when < timeline(&w).last().unwrap().0);
        prop_assume!(w.orders.iter().enumerate().all(|(i, x)| i == o || x.placed_at != when));
        let p = shape(which, expiry_days, within);
        let (Some(t), Some(l)) = (feed_return_late(&p, &w, k, false), feed_return_late(&p, &w, k, true)) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    }

    /// A customer whose every event came in time has each return decided
    /// by the paths alone (the replay's cost spared): the replay, which
    /// applies the same events in the same order, would leave the same
    /// tier, validity and reply.
    #[test]
    fn in_time_returns_end_as_the_replay_leaves_them(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(1, 3),
    ) {
        // The replay misorders a redemption tied to an order where points
        // expire (`an_in_time_return_is_not_replayed_past_a_redemption_tied_to_an_order`).
        prop_assume!(!redemption_before_order(&w));
        let p = shape(which, expiry_days, within);
        let mut replaying = Served::new(&p, true);
        replaying.replay_every_return = true;
        let (Some(t), Some(r)) = (
            feed_but_late_to(Served::new(&p, true), &w, false),
            feed_but_late_to(replaying, &w, false),
        ) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert!(!t.s.late_seen);
        prop_assert_eq!(
            (&r.s.tier, r.s.tier_since, r.s.renewed_at, r.s.grace_until),
            (&t.s.tier, t.s.tier_since, t.s.renewed_at, t.s.grace_until)
        );
        prop_assert_eq!(&r.returned, &t.returned);
    }

    /// Every shape, one redemption told after every other event (the
    /// orders all in time), where the stored events tell the whole course
    /// (no order or return at its instant: whether it came before them is
    /// kept nowhere): the replay in time (`Program::redeem_among`) leaves
    /// the tier and its start as in time. Before late redemptions were
    /// replayed, over 60,000 draws (5,120 kept), 674 customers differed in
    /// the tier or its start and 245 in the tier (238 above it: an upgrade
    /// the redemption would have prevented in time, or an end it would
    /// have failed); none after. Left out since (a seed saved by another
    /// property drew one): a redemption told more than 31 days after the
    /// lots it spent expired, which expiry's memory no longer tells
    /// (README, "Points expiry"; docs/late-events.md, item 3).
    #[test]
    fn late_redemptions_whose_events_tell_all_end_as_in_time(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(1, 3),
    ) {
        let mut w = w;
        prop_assume!(!w.redemptions.is_empty());
        let k = w.late[0] % w.redemptions.len();
        w.late.clear();
        prop_assume!(!known(&w, within) && !returns_tied(&w));
        let when = w.redemptions[k].0;
        let latest = timeline(&w).last().unwrap().0;
        prop_assume!(when < latest);
        // What expiry took is remembered 31 days (README, "Points
        // expiry"): a lot the redemption spent may be forgotten past that.
        // It spends the oldest lot alive at its instant first, which
        // expires before the redemption's day plus the period.
        let expires = |o: &Order| o.placed_at.date_naive() + chrono::Days::new(expiry_days.into());
        let first_spent = w
            .orders
            .iter()
            .filter(|o| o.placed_at <= when && expires(o) > when.date_naive())
            .map(expires)
            .min();
        prop_assume!(first_spent.is_none_or(|e| e + chrono::Days::new(31) >= latest.date_naive()));
        prop_assume!(!w.orders.iter().any(|o| o.placed_at == when));
        prop_assume!(!w.returns.iter().any(|r| r.2 == when));
        let p = shape(which, expiry_days, within);
        let (Some(t), Some(l)) = (feed_redemption_late(&p, &w, k, false), feed_redemption_late(&p, &w, k, true)) else {
            return Err(TestCaseError::reject("refused"));
        };
        prop_assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    }

    /// Every shape, any history (late orders anywhere, any returns,
    /// redemptions, ties): nothing panics.
    #[test]
    fn nothing_panics(
        which in 0usize..PLAIN + LAPSING,
        expiry_days in 1u32..=60,
        within in any::<bool>(),
        w in drawn(3, 8),
    ) {
        let p = shape(which, expiry_days, within);
        let _ = both(&p, &w);
    }
}

// ---------------------------------------------------------------------
// Hand-written cases
// ---------------------------------------------------------------------

/// Finding 1, mended (generous, new with 04e15e3). Three tiers by current points
/// (Silver 600, Gold 1,200, dynamic), Silver kept a month from its start
/// by 300 current points, else one down after a 10-day grace; points last
/// 19 days. In time: L $566 on 7 March (566 points, Member); A $617 on 11
/// March 21:00 (1,183: Silver); L's lot expires 26 March, A's 30 March
/// (0 points); the Silver end on 11 April fails (0 < 300), grace to 21
/// April 21:00, then Member; B $487 on 24 April; $536 of A returned on 24
/// April 01:00 (A's lot had expired: from newer lots). Member. Told last,
/// L ($566, before A) walks the course again (`older_ends.rs`) on the
/// end's figures, which, since the orders no longer tell what expired,
/// read current points as those now less the lifetime points earned
/// since (487 - (1,134 - 1,183) = 536, A counted as it stood before its
/// return): the 11 April end renews, Silver. Before 04e15e3 the order was
/// decided without the orders (the return sent it to the fallback) and
/// the customer stayed a Member.
#[test]
fn a_late_order_before_a_newer_lots_return_renews_an_end_on_points_that_expired() {
    for within in [false, true] {
        let p = lapsing(
            6,
            19,
            if within {
                "withinBalance"
            } else {
                "negativeBalance"
            },
        );
        let ev = [
            ("order", "L", "2026-03-07T00:00:00Z", "566"),
            ("order", "A", "2026-03-11T21:00:00Z", "617"),
            ("order", "B", "2026-04-24T00:00:00Z", "487"),
            ("return", "A", "2026-04-24T01:00:00Z", "536"),
        ];
        let (t, l) = hand(&p, &ev, &["L"]);
        assert_eq!(t.s.tier, "Member");
        assert_eq!(l.s.tier, t.s.tier, "within {within}");
    }
}

/// Finding 2, mended (harsh before the newer-lots return, new with 04e15e3).
/// Silver from 1,000 current points (eager), kept a month from its start
/// by 400 current points, else back to the base; points last 33 days. In
/// time: L $148 on 12 April; A $637 on 15 April 21:00; B $637 on 18 April
/// (1,422 points: Silver); C $43 on 20 April 23:00; on 18 May L and A
/// have expired and the end renews on 680 points; C returned whole on 23
/// May 04:00 (its lot expired that day: from newer lots), which keeps
/// Silver. Silver. Without L the customer crosses on 18 April all the
/// same, and renews. Told last, L (which upgrades nobody) walks the course
/// again and the 18 May end is judged on current points read as those now
/// less the lifetime points earned since (0 - (1,422 - 1,465) = 43 < 400):
/// down to Member on 18 May, five days before the return. An order told
/// late took away a tier the customer held without it. Before 04e15e3:
/// Silver.
#[test]
fn a_late_order_before_a_newer_lots_return_moves_an_end_down_on_points_read_from_now() {
    let p = lapsing(2, 33, "negativeBalance");
    let ev = [
        ("order", "L", "2026-04-12T00:00:00Z", "148"),
        ("order", "A", "2026-04-15T21:00:00Z", "637"),
        ("order", "B", "2026-04-18T00:00:00Z", "637"),
        ("order", "C", "2026-04-20T23:00:00Z", "43"),
        ("return", "C", "2026-05-23T04:00:00Z", "43"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(t.s.tier, "Silver");
    assert_eq!(l.s.tier, t.s.tier);
}

/// Finding 3, mended (generous, new with 04e15e3). Silver from 500 current points
/// or $700 in 30 days (eager), kept a month from its start by $200 in 30
/// days, else back to the base after a 5-day grace; points last 29 days.
/// In time: L $294 on 22 March 02:00; A $226 on 31 March (520 points:
/// Silver); L's lot expires 20 April; B $226 on 22 April; the 30 April
/// end renews ($226 in the window); A's lot expires 29 April; $176 of A
/// returned on 7 May 07:00 (from newer lots): on what remains A never
/// crossed (294 + 50 = 344), Member. Told last, L is dated Silver on 31
/// March and the course after it (`late_ends.rs`) moves the customer down
/// at the return, then lifts them again "by order B" on 22 April: Silver,
/// though on what remains the customer held 276 points and $276 in 30
/// days then. With points lasting 40 days (the return from A's own lot)
/// both end at Silver; before 04e15e3, Member.
#[test]
fn a_late_upgrade_before_a_newer_lots_return_is_lifted_again_by_an_order_before_it() {
    let p = lapsing(8, 29, "negativeBalance");
    let ev = [
        ("order", "L", "2026-03-22T02:00:00Z", "294"),
        ("order", "A", "2026-03-31T00:00:00Z", "226"),
        ("order", "B", "2026-04-22T13:00:00Z", "226"),
        ("return", "A", "2026-05-07T07:00:00Z", "176"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(t.s.tier, "Member");
    assert_eq!(l.s.tier, t.s.tier);
}

/// Finding 4, mended (generous, new with 04e15e3): two late orders. Finding 1's
/// program (three tiers, Silver kept by 300 current points, one down after
/// 10 days' grace), points last one day. In time: L0 $1 on 1 March, L1
/// $136 on 6 March, A $600 on 13 March (Silver; its lot expires 14
/// March); the 13 April end fails, grace to 23 April, then Member; B $163
/// on 13 April, returned whole on 23 April 01:00 (from newer lots: its lot
/// expired 14 April). Member. Told last, L1 then L0: L0 judges the end
/// again and renews it (13 April) and lifts the customer back on 23 April
/// ("late order L0"): Silver. With L0 alone late, Member.
#[test]
fn two_late_orders_before_a_newer_lots_return_renew_an_end_that_failed() {
    let p = lapsing(6, 1, "negativeBalance");
    let ev = [
        ("order", "L0", "2026-03-01T00:00:00Z", "1"),
        ("order", "L1", "2026-03-06T10:00:00Z", "136"),
        ("order", "A", "2026-03-13T00:00:00Z", "600"),
        ("order", "B", "2026-04-13T00:00:00Z", "163"),
        ("return", "B", "2026-04-23T01:00:00Z", "163"),
    ];
    let (t, l) = hand(&p, &ev, &["L1", "L0"]);
    assert_eq!(t.s.tier, "Member");
    assert_eq!(l.s.tier, t.s.tier);
}

/// Finding 5, mended (harsh before the newer-lots return, new with 04e15e3; a
/// tier that never lapses). Silver from 900 current points or $1,200 in
/// 30 days (eager), points last one day. In time: L $671 on 24 April; A
/// $229 on 24 April 01:00 (900 points: Silver); B $529 on 25 April; A
/// returned whole on 25 April, after B (A's lot expired then: from newer
/// lots), judged on what remains then: $1,200 in 30 days (L and B), Silver
/// holds. Silver. Told last, L's dating walk counts A as it stands now
/// (nothing left: 671 on 24 April 01:00) and stops at the return's
/// instant, which B shares: the crossing of 24 April is lost and B's
/// is never seen. Member. Before 04e15e3 (decided on the points as they
/// stand): Silver.
#[test]
fn a_crossing_before_a_newer_lots_return_is_lost_to_the_net_walk() {
    let p = plain(3, 1, "negativeBalance");
    let ev = [
        ("order", "L", "2026-04-24T00:00:00Z", "671"),
        ("order", "A", "2026-04-24T01:00:00Z", "229"),
        ("order", "B", "2026-04-25T00:00:00Z", "529"),
        ("return", "A", "2026-04-25T00:00:00Z", "229"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(t.s.tier, "Silver");
    assert_eq!(l.s.tier, t.s.tier);
}

/// Raised by review (traced by hand, not reproduced): a late order before
/// a later order's return from newer lots that moved the customer down,
/// then an order: the path through that move down (`down_since.rs`)
/// walks past the return, where the orders tell points the customer no
/// longer had, and could lift them. Silver from current points (each
/// PLAIN shape 0 to 2), points last 30 days: L on 1 March, B $1,000 on 2
/// March (Silver), part of B returned on 5 April (its lot expired on 1
/// April: from newer lots), C on 6 April; L told last ends where the
/// customer in time does, over a grid of amounts.
#[test]
fn a_late_order_before_a_move_down_by_a_return_from_newer_lots_lifts_nobody() {
    let mut bad = Vec::new();
    for which in 0..3 {
        for ret in ["100", "300", "500", "700", "900", "1000"] {
            for c in ["200", "500", "700", "900", "1000", "1500"] {
                for l in ["100", "600"] {
                    let p = plain(which, 30, "negativeBalance");
                    let ev = [
                        ("order", "L", "2026-03-01T00:00:00Z", l),
                        ("order", "B", "2026-03-02T00:00:00Z", "1000"),
                        ("return", "B", "2026-04-05T00:00:00Z", ret),
                        ("order", "C", "2026-04-06T00:00:00Z", c),
                    ];
                    let (t, lc) = hand(&p, &ev, &["L"]);
                    if lc.s.tier != t.s.tier {
                        bad.push((which, ret, c, l, lc.s.tier.clone(), t.s.tier.clone()));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}

// ---------------------------------------------------------------------
// Returns made once their order's lot had expired (thirty-fifth session)
// ---------------------------------------------------------------------

/// Finding 6, mended (generous, older than 04e15e3). Silver from 700
/// current points (lazy), kept from the join by 500 current points, else
/// the tier qualified for; points last 8 days. In time: A $120 on 1
/// March, L $581 on 4 March (701: Silver); on 1 April everything has
/// expired: Member; B $163 on 8 April, C $537 on 15 April (700: Silver);
/// B returned whole on 16 April, the day its lot expired (the return
/// takes nothing from current points), judged on what remains: Member.
/// Told last, L went by the points left now (the return counted as one
/// from newer lots) and the course after it renewed the 1 April end on
/// them: Silver. Such a return tells the walk all it took (nothing), so L
/// is decided and its ends judged among the orders.
#[test]
fn a_late_upgrade_before_a_return_once_its_lot_expired_renews_no_end_on_points_now() {
    let p = lapsing(7, 8, "negativeBalance");
    let ev = [
        ("order", "A", "2026-03-01T00:00:00Z", "120"),
        ("order", "L", "2026-03-04T00:00:00Z", "581"),
        ("order", "B", "2026-04-08T00:00:00Z", "163"),
        ("order", "C", "2026-04-15T00:00:00Z", "537"),
        ("return", "B", "2026-04-16T00:00:00Z", "163"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(t.s.tier, "Member");
    assert_eq!(l.s.tier, t.s.tier);
}

/// Silver from 1,000 current points (lazy), kept a month from its start
/// by $300 in 30 days, else back to the base; points last 38 days. In
/// time: o0 $328 on 1 March 16:00, L $505 on 4 March, o2 $167 on 8 March
/// (1,000: Silver); o3 $168 on 27 March, o4 $299 on 4 April; $3 of o0
/// returned (on 7 April from its own lot, or on 8 April once it had
/// expired), judged on what remains: Silver was reached again on 27
/// March, so it stands, dated 8 March; the 8 April end renews ($467),
/// the 8 May end fails ($1, o4 returned whole that day): Member. Told
/// last, L's crossing was dated where what remains now crosses (27
/// March), so its ends came on 27 April (renewed on $300) and not yet
/// again: Silver. Dated where the orders as they stood crossed, each
/// return since keeping it, L lands on the in-time ends.
#[test]
fn a_late_crossing_before_a_later_return_is_dated_where_the_orders_stood() {
    for returned in ["2026-04-07T00:00:00Z", "2026-04-08T00:00:00Z"] {
        let p = lapsing(1, 38, "negativeBalance");
        let ev = [
            ("order", "o0", "2026-03-01T16:00:00Z", "328"),
            ("order", "L", "2026-03-04T00:00:00Z", "505"),
            ("order", "o2", "2026-03-08T00:00:00Z", "167"),
            ("order", "o3", "2026-03-27T21:00:00Z", "168"),
            ("order", "o4", "2026-04-04T04:00:00Z", "299"),
            ("return", "o0", returned, "3"),
            ("order", "o5", "2026-04-09T00:00:00Z", "1"),
            ("return", "o4", "2026-05-08T00:00:00Z", "299"),
        ];
        let (t, l) = hand(&p, &ev, &["L"]);
        assert_eq!(t.s.tier, "Member");
        assert_eq!(
            (&l.s.tier, l.s.tier_since),
            (&t.s.tier, t.s.tier_since),
            "returned {returned}"
        );
    }
}

/// Silver from 1,000 current points (eager), kept a month from its start
/// by 400 current points, else back to the base; points last 11 days. In
/// time: L $587 on 2 March, o1 $412 on 4 March, o2 $1 on 4 March 01:00
/// (1,000: Silver), o3 $413 on 6 March 01:00; o1 returned whole on 15
/// March, the day its lot expired, judged on what remains: Silver again
/// by o3 on 6 March, it stands; the 4 April end fails (everything
/// expired): Member. Told last, L went by the points left now and
/// upgraded nobody: Member, though never Silver and held since January.
/// Decided among the orders but dated on what remains now, it crossed on
/// 6 March and its end on 6 April 01:00 had not come by the latest
/// instant: Silver. Dated where the orders stood: Member from 4 April, as
/// in time.
#[test]
fn a_return_once_its_lot_expired_after_the_crossing_leaves_the_end_where_it_was() {
    let p = lapsing(2, 11, "negativeBalance");
    let ev = [
        ("order", "L", "2026-03-02T00:00:00Z", "587"),
        ("order", "o1", "2026-03-04T00:00:00Z", "412"),
        ("order", "o2", "2026-03-04T01:00:00Z", "1"),
        ("order", "o3", "2026-03-06T01:00:00Z", "413"),
        ("return", "o1", "2026-03-15T00:00:00Z", "412"),
        ("order", "o4", "2026-04-06T00:00:00Z", "1"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(t.s.tier, "Member");
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
}

/// Left by the thirty-fifth session, mended in the thirty-sixth (generous).
/// Three tiers by current points (Silver 600, Gold 1,200, dynamic), Silver
/// kept a month from its start by 300 current points, else one down after
/// a 10-day grace; points last 3 days. In time: L $600 on 1 March
/// (Silver), o1 $1 an hour later, o2 $554 on 13 March, o3 $46 on 14 March
/// (600 points, Silver held already); the 1 April end fails (nothing
/// left), grace to 11 April, then Member; o2 returned whole on 14 April;
/// o4 $300 on 24 April. Member since 11 April. Told last: without L, o3
/// crossed to Silver on 14 March, its 14 April end went into a grace and
/// the return then took Silver back. L, placed before that end, had the
/// end judged again (moot: the return had moved the customer since), and
/// the 1 April end its upgrade brings was left to the job, which judged
/// it on the figures now (o4's 300 points): renewed, Silver. The end a
/// return undid no longer holds anyone: the course from L's upgrade
/// judges the ends it brings, as where no end was judged.
#[test]
fn a_late_upgrade_before_a_period_a_return_ended_judges_its_own_ends() {
    let p = lapsing(6, 3, "negativeBalance");
    let ev = [
        ("order", "L", "2026-03-01T00:00:00Z", "600"),
        ("order", "o1", "2026-03-01T01:00:00Z", "1"),
        ("order", "o2", "2026-03-13T00:00:00Z", "554"),
        ("order", "o3", "2026-03-14T00:00:00Z", "46"),
        ("return", "o2", "2026-04-14T00:00:00Z", "554"),
        ("order", "o4", "2026-04-24T00:00:00Z", "300"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(t.s.tier, "Member");
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
}

/// Found by the thirty-sixth session (generous). Three tiers by current
/// points (Silver 600, Gold 1,200, dynamic), each kept a month from its
/// start by 300 / 700 current points, else one down after a 10-day grace;
/// points last 20 days. No return, no redemption. In time: o0 $416 on 1
/// March, o1 $310 on 4 March (Silver), L $692 on 10 March (Gold); the 10
/// April end fails (175 points left), the grace ends on 20 April: Silver;
/// o5 $561 on 21 April. Told last: without L, Silver's 4 April end failed
/// and its grace took the customer down on 14 April, o5 lifted them back
/// to Silver. L's upgrade to Gold had that end judged again (moot: o5's
/// lift holds the customer) and the 10 April end of Gold left to the job,
/// which judged it on the figures now (736 points): renewed, Gold.
#[test]
fn a_late_upgrade_past_an_end_a_lift_since_made_moot_judges_its_own_ends() {
    let p = lapsing(6, 20, "negativeBalance");
    let ev = [
        ("order", "o0", "2026-03-01T06:00:00Z", "416"),
        ("order", "o1", "2026-03-04T00:00:00Z", "310"),
        ("order", "L", "2026-03-10T00:00:00Z", "692"),
        ("order", "o3", "2026-04-05T06:00:00Z", "48"),
        ("order", "o4", "2026-04-06T00:00:00Z", "127"),
        ("order", "o5", "2026-04-21T08:00:00Z", "561"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-04-20T00:00:00Z"))
    );
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
}

/// Found by the thirty-sixth session (generous). The same program, points
/// lasting 8 days. No return, no redemption. In time: o0 $639 on 1 March
/// (Silver), o1 $506 on 19 March; the 1 April end fails (nothing left),
/// grace to 11 April; L $636 on 3 April meets the condition in the grace:
/// renewed; o5 $548 and o6 $51 on 27 April (599 points). Silver since 1
/// March. Told last: without L the grace ran out (Member from 11 April).
/// L, placed before that move down, which stands, was decided at Silver on
/// the figures now, which count the 599 points of 27 April: 1,235, Gold.
/// Decided among the orders with expiry replayed (as where no end was
/// judged), it renews Silver as in time.
#[test]
fn a_late_order_before_a_move_down_that_stands_is_decided_among_the_orders() {
    let p = lapsing(6, 8, "negativeBalance");
    let ev = [
        ("order", "o0", "2026-03-01T00:00:00Z", "639"),
        ("order", "o1", "2026-03-19T00:00:00Z", "506"),
        ("order", "L", "2026-04-03T00:00:00Z", "636"),
        ("order", "o3", "2026-04-12T00:00:00Z", "394"),
        ("order", "o4", "2026-04-16T20:00:00Z", "17"),
        ("order", "o5", "2026-04-27T00:00:00Z", "548"),
        ("order", "o6", "2026-04-27T00:00:00Z", "51"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-03-01T00:00:00Z"))
    );
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
}

/// From the review of the thirty-fifth session's dating (mutating the
/// check that each return since kept the crossing passed every test
/// before). Silver from 1,000 current points (lazy), no expiry. In time:
/// O1 $600 on 1 March, L $300 on 2 March, A $200 on 3 March (1,100:
/// Silver), A returned whole on 5 March (900: back to Member), E $100 on 7
/// March (1,000: Silver again). Told last, the orders as they stood
/// crossed on 3 March, but the return undid that crossing: L is dated
/// where what remains crosses, 7 March.
#[test]
fn a_crossing_a_return_since_undid_is_dated_where_what_remains_crosses() {
    let p = program_expiring(
        common::silver_by_current_points(0),
        json!([]),
        Value::Null,
        "negativeBalance",
    );
    let ev = [
        ("order", "O1", "2026-03-01T00:00:00Z", "600"),
        ("order", "L", "2026-03-02T00:00:00Z", "300"),
        ("order", "A", "2026-03-03T00:00:00Z", "200"),
        ("return", "A", "2026-03-05T00:00:00Z", "200"),
        ("order", "E", "2026-03-07T00:00:00Z", "100"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-03-07T00:00:00Z"))
    );
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
}

/// Found with two late orders (harsh, older than the thirty-sixth
/// session). Silver from 500 current points (eager), Gold from 1,000 and
/// $800 in 30 days (lazy); points last 31 days. In time: A $284 on 13
/// March, L1 $216 on 16 March (500: Silver), L2 $482 on 12 April (982),
/// B $102 on 12 April 01:00 (1,084 points, $800 since 14 March: Gold), C
/// $1 on 15 April. Told L1 then L2: L2, decided on the figures now (A's
/// lot expired on 13 April: 801 points), crosses nothing, and nothing
/// asked for the orders: with current points read as lifetime points,
/// Gold held neither now (the window of 15 April has lost L1's day) nor
/// on a later window. Now its own day's windows are read too, where B,
/// which crossed in time, still counts. Told L2 alone it was exact: the
/// state had dropped a day its windows read.
#[test]
fn a_crossing_a_later_order_completed_on_points_expired_since_is_found_with_two_late_orders() {
    let p = plain(4, 31, "negativeBalance");
    let ev = [
        ("order", "A", "2026-03-13T00:00:00Z", "284"),
        ("order", "L1", "2026-03-16T00:00:00Z", "216"),
        ("order", "L2", "2026-04-12T00:00:00Z", "482"),
        ("order", "B", "2026-04-12T01:00:00Z", "102"),
        ("order", "C", "2026-04-15T00:00:00Z", "1"),
    ];
    for late in [&["L2"][..], &["L1", "L2"], &["L2", "L1"]] {
        let (t, l) = hand(&p, &ev, late);
        assert_eq!(
            (t.s.tier.as_str(), t.s.tier_since),
            ("Gold", at("2026-04-12T01:00:00Z"))
        );
        assert_eq!(
            (&l.s.tier, l.s.tier_since, l.s.current_points),
            (&t.s.tier, t.s.tier_since, t.s.current_points),
            "told late: {late:?}"
        );
    }
}

/// Silver from 1,000 current points (lazy); points last 30 days. A $600
/// on 1 March (its lot expires 31 March), B $100 on 1 April, 10 points
/// redeemed on 5 April (from B's lot: A's had expired), $50 of A
/// returned on 10 April (takes nothing from current points: its lot had
/// expired), then L ($500, placed 2 March). In time L reached Silver on 2
/// March (1,100), and what remains (1,050) kept it. The redemption came
/// after A's lot expired, so it spent nothing the return could have
/// taken from: the return is told by the orders, and L is decided among
/// them. Read up to the return instead (the review's open point of the
/// thirty-fifth session), the redemption made it a return from newer
/// lots, and L was decided on the 590 points left now: a Member.
#[test]
fn a_redemption_after_a_lot_expired_leaves_a_later_return_of_its_order_told() {
    for within in [false, true] {
        let p = plain(
            0,
            30,
            if within {
                "withinBalance"
            } else {
                "negativeBalance"
            },
        );
        let ev = [
            ("order", "A", "2026-03-01T00:00:00Z", "600"),
            ("order", "L", "2026-03-02T00:00:00Z", "500"),
            ("order", "B", "2026-04-01T00:00:00Z", "100"),
            ("redeem", "x", "2026-04-05T00:00:00Z", "10"),
            ("return", "A", "2026-04-10T00:00:00Z", "50"),
        ];
        let (t, l) = hand(&p, &ev, &["L"]);
        assert_eq!(
            (t.s.tier.as_str(), t.s.tier_since),
            ("Silver", at("2026-03-02T00:00:00Z"))
        );
        assert_eq!(
            (&l.s.tier, l.s.tier_since, l.s.current_points),
            (&t.s.tier, t.s.tier_since, t.s.current_points),
            "within {within}"
        );
    }
}

/// Silver from 500 current points or $700 in 30 days (eager), kept a
/// month from its start by $200 in 30 days, else the base after 5 days'
/// grace; points last 19 days. In time: o0 $693 on 12 March (Silver), L
/// $535 on 20 March, the 12 April end renews on L's spend, o2 $607 on 18
/// April returned whole at once, o3 $161 on 27 April: Silver since 12
/// March. Without L the end failed, the grace ran out on 17 April, o2
/// lifted the customer and its return took Silver back. Told late, L was
/// decided at the tier held now (a Member), crossed to Silver on 20 March,
/// and that period's own end (20 April, nothing spent since) sent the
/// customer back: a Member. Now it is decided at the tier held then
/// (Silver), upgrades nobody, and the course from o0's upgrade is walked
/// again with it counted (`older_ends.rs`): renewed on 12 April.
#[test]
fn a_late_order_while_a_tier_since_lost_was_held_walks_the_course_from_there() {
    let p = lapsing(8, 19, "withinBalance");
    let ev = [
        ("order", "o0", "2026-03-12T08:00:00Z", "693"),
        ("order", "L", "2026-03-20T01:00:00Z", "535"),
        ("order", "o2", "2026-04-18T00:00:00Z", "607"),
        ("return", "o2", "2026-04-18T00:00:00Z", "607"),
        ("order", "o3", "2026-04-27T00:00:00Z", "161"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-03-12T08:00:00Z"))
    );
    assert_eq!(
        (
            &l.s.tier,
            l.s.tier_since,
            l.s.current_points,
            p.valid_until(&l.s),
            l.s.grace_until
        ),
        (
            &t.s.tier,
            t.s.tier_since,
            t.s.current_points,
            p.valid_until(&t.s),
            t.s.grace_until
        )
    );
    let record = l.records.iter().find(|r| r.order_id == "L").unwrap();
    assert_eq!(
        (record.tier_before.as_str(), record.tier_after.as_str()),
        ("Silver", "Silver")
    );
}

/// Three tiers by current points (600 / 1,200, dynamic), kept a month by
/// 300 / 700 current points, one down after 10 days' grace; points last
/// 18 days. In time o2 ($668, 26 March) lifts the customer to Gold, and
/// the return of o0 on 21 April moves them to Silver: Silver since 21
/// April. Told late, o2 was decided at the Member tier the returns had
/// left, crossed to Silver on 26 March and renewed there a month later:
/// the tier right, its start (and so its validity) five weeks early. The
/// replay in time sets the start where it was.
#[test]
fn a_late_order_whose_tier_returns_took_down_starts_the_tier_where_it_did_in_time() {
    let p = lapsing(6, 18, "withinBalance");
    let ev = [
        ("order", "o0", "2026-03-13T00:00:00Z", "652"),
        ("order", "o1", "2026-03-19T14:00:00Z", "163"),
        ("order", "o2", "2026-03-26T10:00:00Z", "668"),
        ("return", "o1", "2026-04-07T03:00:00Z", "163"),
        ("order", "o3", "2026-04-21T19:00:00Z", "407"),
        ("return", "o0", "2026-04-21T20:00:00Z", "652"),
        ("order", "o4", "2026-04-23T11:00:00Z", "435"),
        ("return", "o4", "2026-05-08T15:00:00Z", "435"),
    ];
    let (t, l) = hand(&p, &ev, &["o2"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-04-21T20:00:00Z"))
    );
    assert_eq!(
        (
            &l.s.tier,
            l.s.tier_since,
            p.valid_until(&l.s),
            l.s.grace_until
        ),
        (
            &t.s.tier,
            t.s.tier_since,
            p.valid_until(&t.s),
            t.s.grace_until
        )
    );
}

/// Silver from 700 current points (dynamic); points last 16 days. L $286
/// on 13 March; on 28 March o1 $414 (700 points: Silver), o2 $286 and o2
/// returned whole, all at midnight; on 12 April $1 and $286. Told late, L
/// upgrades nobody on the points left now (its lot long expired), and the
/// replay in time, which would date Silver on 28 March, could not place
/// o2's return among the orders of its instant: whether o1 came before it
/// or after was kept nowhere, so Silver was dated on 12 April. A return
/// keeps its arrival (the orders counted when it was made) since the
/// thirty-eighth session: o1 came before it.
#[test]
fn a_return_at_another_orders_instant_is_placed_among_its_orders_by_arrival() {
    let p = plain(2, 16, "negativeBalance");
    let ev = [
        ("order", "L", "2026-03-13T00:00:00Z", "286"),
        ("order", "o1", "2026-03-28T00:00:00Z", "414"),
        ("order", "o2", "2026-03-28T00:00:00Z", "286"),
        ("return", "o2", "2026-03-28T00:00:00Z", "286"),
        ("order", "o3", "2026-04-12T00:00:00Z", "1"),
        ("order", "o4", "2026-04-12T00:00:00Z", "286"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-03-28T00:00:00Z"))
    );
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
}

/// Three tiers by current points (Silver 600, Gold 1,200, dynamic), Silver
/// kept a month by 300 current points, else one down after a 10-day
/// grace; points last 44 days, a return takes only what the balance
/// holds. o0 $227 on 10 March, o1 $400 on 5 April (627 points: Silver),
/// L $385 on 8 April, $111 of o0 returned on 26 April (901 points: Silver
/// stands), L returned whole on 27 April (516: Member). Told after the
/// return of o0, L lifted the customer again (Member since 26 April, back
/// to Silver), a lift its walk told with the cause `late order`; the
/// return of L then replayed the history with that lift setting the tier,
/// and left Silver, which in time the same return took away. The return
/// is checked by the replay in time since the thirty-ninth session.
#[test]
fn a_late_orders_return_after_it_undoes_the_tier_it_gave_as_in_time() {
    let p = lapsing(6, 44, "withinBalance");
    let ev = [
        ("order", "o0", "2026-03-10T00:00:00Z", "227"),
        ("order", "o1", "2026-04-05T09:00:00Z", "400"),
        ("order", "L", "2026-04-08T16:00:00Z", "385"),
        ("return", "o0", "2026-04-26T18:00:00Z", "111"),
        ("arrive", "", "", ""),
        ("return", "L", "2026-04-27T18:00:00Z", "385"),
    ];
    let (t, l) = hand(&p, &ev, &["L"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Member", at("2026-04-27T18:00:00Z"))
    );
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
}

/// Silver from 1,000 current points, no retention: a redemption of 200
/// on 5 March told after the order of 10 March that lifted the customer on
/// 1,100 undoes the lift (900 in time), as a return undoes one that no
/// longer holds; told as one change with the redemption's cause.
#[test]
fn a_late_redemption_undoes_the_lift_it_would_have_prevented() {
    let silver = rule(json!([current_points(1000)]), json!("all"), "lazy");
    let p = program_expiring(
        member_and_silver("1", silver),
        json!([]),
        Value::Null,
        "negativeBalance",
    );
    let ev = [
        ("order", "a", "2026-03-01T00:00:00Z", "600"),
        ("redeem", "x", "2026-03-05T00:00:00Z", "200"),
        ("order", "b", "2026-03-10T00:00:00Z", "500"),
    ];
    let (t, _) = hand(&p, &ev, &[]);
    assert_eq!(t.s.tier, "Member");
    let mut l = Served::new(&p, true);
    l.order(&order("a", at("2026-03-01T00:00:00Z"), "600"));
    l.order(&order("b", at("2026-03-10T00:00:00Z"), "500"));
    assert_eq!(l.s.tier, "Silver");
    assert!(l.redeem("x", at("2026-03-05T00:00:00Z"), d("200")));
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    let last = l.told.last().unwrap();
    assert!(
        matches!(&last.kind, NoticeKind::Changed { change, .. }
            if change.from == "Silver" && change.to == "Member" && change.cause == "redemption x"),
        "{last:?}"
    );
}

/// A customer is in time until an event placed before the latest one
/// seen (one of the same instant is not); the mark is written only once
/// set, so an in-time customer's state grows by nothing (the heaviest
/// state item keeps within 2 KB), and a state written before it reads as
/// in time.
#[test]
fn a_customer_is_in_time_until_an_event_placed_before_the_latest() {
    let p = lapsing(4, 23, "negativeBalance");
    let mut c = Served::new(&p, true);
    assert!(!c.s.late_seen);
    c.order(&order("o1", at("2026-03-10T09:00:00Z"), "100"));
    c.order(&order("o2", at("2026-03-10T09:00:00Z"), "100"));
    assert!(c.give_back("o1", at("2026-03-10T09:00:00Z"), d("10")));
    assert!(!c.s.late_seen);
    let stored = serde_json::to_value(&c.s).unwrap();
    assert!(stored.get("lateSeen").is_none(), "{stored}");
    c.order(&order("o3", at("2026-03-09T09:00:00Z"), "100"));
    assert!(c.s.late_seen);
    let stored = serde_json::to_value(&c.s).unwrap();
    assert_eq!(stored["lateSeen"], json!(true));
    let read: CustomerState = serde_json::from_value(stored).unwrap();
    assert!(read.late_seen);
}

/// A late order the replay set right tells one change: the paths' own
/// course (the lift, a move down by retention that never happened in
/// time, the lift again) is taken back. Found by the same adversary.
#[test]
fn a_late_order_the_replay_sets_right_tells_its_change_once() {
    let p = lapsing(3, 54, "negativeBalance");
    let ev = [
        ("order", "o0", "2026-03-01T00:00:00Z", "585"),
        ("order", "o1", "2026-03-04T00:00:00Z", "641"),
        ("order", "o2", "2026-03-06T01:00:00Z", "264"),
        ("redeem", "x0", "2026-03-12T15:30:00Z", "362"),
        ("order", "o3", "2026-03-28T22:00:00Z", "47"),
        ("return", "o0", "2026-04-01T20:00:00Z", "403"),
        ("order", "o4", "2026-04-13T16:00:00Z", "450"),
    ];
    let (t, l) = hand(&p, &ev, &["o1"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since, t.s.renewed_at),
        (
            "Silver",
            at("2026-03-04T00:00:00Z"),
            Some(at("2026-04-04T00:00:00Z"))
        )
    );
    assert_eq!(
        (&l.s.tier, l.s.tier_since, l.s.renewed_at, l.s.grace_until),
        (&t.s.tier, t.s.tier_since, t.s.renewed_at, t.s.grace_until)
    );
    let moves: Vec<(&str, &str, DateTime<Utc>)> = l
        .told
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } if change.from != change.to => {
                Some((change.from.as_str(), change.to.as_str(), change.at))
            }
            _ => None,
        })
        .collect();
    assert_eq!(moves, [("Member", "Silver", at("2026-03-04T00:00:00Z"))]);
}

/// A return the replay set right replies from the tier before it and tells
/// the one change the replay made, the paths' own telling taken back.
/// Here the paths lift the customer, a return raising the tier; the
/// replay keeps them where they were, so the reply names no move down and
/// the commit tells nothing. Found by an adversary of the thirty-ninth
/// session's replay: its reply named a Silver to Member downgrade from a
/// tier it said the customer was not in, and the commit told the lift and
/// the fall.
#[test]
fn a_late_return_the_replay_sets_right_replies_and_tells_from_the_tier_before() {
    let p = lapsing(4, 23, "negativeBalance");
    let ev = [
        ("order", "o0", "2026-03-10T09:00:00Z", "461"),
        ("redeem", "x0", "2026-03-11T04:30:00Z", "189"),
        ("order", "o1", "2026-03-19T23:00:00Z", "325"),
        ("order", "o2", "2026-03-31T00:00:00Z", "623"),
        ("late return", "o0", "2026-04-09T12:00:00Z", "73"),
        ("order", "o3", "2026-04-27T20:00:00Z", "406"),
        ("return", "o3", "2026-06-03T19:00:00Z", "406"),
    ];
    let (t, l) = hand(&p, &ev, &[]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Member", at("2026-05-30T00:00:00Z"))
    );
    assert_eq!(
        (&l.s.tier, l.s.tier_since, l.s.renewed_at, l.s.grace_until),
        (&t.s.tier, t.s.tier_since, t.s.renewed_at, t.s.grace_until)
    );
    let reply = l.returned.last().unwrap();
    assert_eq!((reply.tier_before, reply.tier_after), (0, 0));
    assert_eq!((&reply.downgrade, &reply.downgrades), (&None, &Vec::new()));
    let moves: Vec<(&str, &str)> = l
        .told
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } if change.from != change.to => {
                Some((change.from.as_str(), change.to.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(moves, [("Member", "Silver"), ("Silver", "Member")]);
}

/// Three tiers by current points (Silver 600, Gold 1,200, dynamic), Gold
/// kept a month from its start by 700 current points, else one down after
/// a 10-day grace; points last 29 days, a return may leave the balance
/// negative. Orders from 4 March to 27 April (Gold on 28 March), 330
/// points redeemed in April, $308 of o1 (14 March) returned on 11 April,
/// o5 returned whole on 26 May. In time the Gold end of 28 April renews.
/// Told after every other event, the return of o1 judged that end anew on
/// figures that no longer replay what expired (o1's lot had been spent
/// and had expired by then), found it failed, and moved the customer to
/// Silver after the grace. The replay in time, which applies every event
/// again in its place, keeps Gold renewed, since the thirty-ninth session.
#[test]
fn a_late_return_leaves_an_end_renewed_as_in_time() {
    let p = lapsing(6, 29, "negativeBalance");
    let ev = [
        ("order", "o0", "2026-03-04T00:00:00Z", "261"),
        ("order", "o1", "2026-03-14T14:00:00Z", "490"),
        ("order", "o2", "2026-03-28T20:00:00Z", "643"),
        ("order", "o3", "2026-04-01T19:00:00Z", "497"),
        ("redeem", "x0", "2026-04-01T19:00:00Z", "14"),
        ("order", "o4", "2026-04-06T00:00:00Z", "209"),
        ("redeem", "x1", "2026-04-06T00:00:00Z", "316"),
        ("late return", "o1", "2026-04-11T14:00:00Z", "308"),
        ("order", "o5", "2026-04-21T00:00:00Z", "338"),
        ("order", "o6", "2026-04-27T00:00:00Z", "250"),
        ("return", "o5", "2026-05-26T08:00:00Z", "338"),
    ];
    let (t, l) = hand(&p, &ev, &[]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since, t.s.renewed_at),
        (
            "Gold",
            at("2026-03-28T20:00:00Z"),
            Some(at("2026-04-28T20:00:00Z"))
        )
    );
    assert_eq!(
        (&l.s.tier, l.s.tier_since, l.s.renewed_at, l.s.grace_until),
        (&t.s.tier, t.s.tier_since, t.s.renewed_at, t.s.grace_until)
    );
}

/// Where points expire no redemption's instant is kept, so an order of its
/// instant does not know it came after it, and the replay puts the
/// redemption after the order: it would date Silver back to 31 March (999
/// points in time, 1,000 replayed). A customer whose every event came in
/// time has their returns decided by the paths alone, which are exact.
/// Found by `in_time_returns_end_as_the_replay_leaves_them`; fails where
/// every return is replayed.
#[test]
fn an_in_time_return_is_not_replayed_past_a_redemption_tied_to_an_order() {
    let p = shape(0, 4, false);
    let mut c = Served::new(&p, true);
    c.order(&order("o0", at("2026-03-28T00:00:00Z"), "369"));
    assert!(c.redeem("x0", at("2026-03-31T00:00:00Z"), d("1")));
    c.order(&order("o1", at("2026-03-31T00:00:00Z"), "631"));
    c.order(&order("o2", at("2026-04-03T00:00:00Z"), "369"));
    c.order(&order("o3", at("2026-04-03T00:00:00Z"), "1"));
    assert!(c.give_back("o2", at("2026-04-03T00:00:00Z"), d("369")));
    assert_eq!(
        (c.s.tier.as_str(), c.s.tier_since),
        ("Silver", at("2026-04-03T00:00:00Z"))
    );
}

/// The tier a customer's feed names last, read in the order told.
/// Every change told from the `first` notice on: from, to, instant.
fn changes_told<'c>(c: &'c Served<'_>, first: usize) -> Vec<(&'c str, &'c str, DateTime<Utc>)> {
    c.told[first..]
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } => {
                Some((change.from.as_str(), change.to.as_str(), change.at))
            }
            _ => None,
        })
        .collect()
}

fn last_told_tier<'c>(p: &'c Program, c: &'c Served<'_>) -> &'c str {
    c.told
        .iter()
        .rev()
        .find_map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } => Some(change.to.as_str()),
            _ => None,
        })
        .unwrap_or(p.tier_name(0))
}

/// Silver kept a month, else one down. The late order o2, placed while
/// Silver was held and renewing it at the end of 10 April, was told after
/// the return of o1 had moved the customer down on 23 April; its commit
/// told the renewal last, dated before the move down, so a consumer
/// reading the feed in order held Silver while the customer was Member.
/// Where the replay in time stands, a decision whose telling ends away
/// from the tier held tells one change instead (none here: Member
/// throughout the feed's last word). Found counting one late order over
/// 12,000 drawn histories: 2 such commits.
#[test]
fn a_late_orders_commit_never_tells_a_tier_last_that_is_not_held() {
    let p = lapsing(8, 32, "withinBalance");
    let ev = [
        ("order", "o0", "2026-03-10T14:00:00Z", "542"),
        ("return", "o0", "2026-04-03T09:00:00Z", "542"),
        ("order", "o1", "2026-04-03T09:00:00Z", "574"),
        ("order", "o2", "2026-04-09T05:00:00Z", "264"),
        ("order", "o3", "2026-04-17T07:00:00Z", "126"),
        ("return", "o1", "2026-04-23T22:00:00Z", "574"),
        ("order", "o4", "2026-04-24T00:00:00Z", "61"),
        ("return", "o3", "2026-05-25T09:00:00Z", "126"),
    ];
    let (t, l) = hand(&p, &ev, &["o2"]);
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    assert_eq!(last_told_tier(&p, &t), t.s.tier);
    assert_eq!(last_told_tier(&p, &l), l.s.tier);
}

/// Silver from 1,000 current points (lazy), kept a month by $300 in 30
/// days, else the base; points last 41 days. The late order o3 lifted the
/// customer back at the 14 May end (told `Member -> Silver` last); its
/// whole return, late too, walked the course again, whose move down at
/// that end the feed already held, so the walk told nothing and the feed
/// ended at Silver with the customer Member. A walk that tells nothing
/// now compares the tier the feed named last before it. Found by the
/// forty-first session's adversary (5 of 2,134 late-order draws).
#[test]
fn a_late_return_of_a_late_order_leaves_the_feed_at_the_tier_held() {
    let p = lapsing(1, 41, "negativeBalance");
    let ev = [
        ("order", "o0", "2026-03-09T00:00:00Z", "461"),
        ("order", "o1", "2026-03-16T00:00:00Z", "452"),
        ("order", "o2", "2026-04-14T04:00:00Z", "469"),
        ("order", "o3", "2026-04-21T00:00:00Z", "387"),
        ("late return", "o3", "2026-05-03T20:15:00Z", "387"),
        ("return", "o2", "2026-05-29T11:00:00Z", "365"),
    ];
    let (t, l) = hand(&p, &ev, &["o3"]);
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    assert_eq!(last_told_tier(&p, &l), l.s.tier);
}

/// Silver from 1,000 current points (eager), kept a month by 400, else
/// the base; points last 59 days. Told late: 221 points redeemed on 11
/// March, then o4 (6 April). The redemption's replay moved the tier's
/// start silently (the paths' course stays in the history); o4, decided
/// alone at the tier that history told held at its instant, set nothing
/// right, and the customer ended Silver since 18 April where in time
/// since 6 April. Each late event alone ends as in time. A late order now
/// reads the orders wherever the replay may check it. Found by the
/// forty-first session's adversary (1 of 2,740 draws); F4 of the
/// fortieth (two late orders) is the same.
#[test]
fn a_late_order_after_a_late_redemption_starts_the_tier_as_in_time() {
    let p = lapsing(2, 59, "negativeBalance");
    let feed = |late: bool| {
        let mut c = Served::new(&p, true);
        let redeem =
            |c: &mut Served<'_>| assert!(c.redeem("x0", at("2026-03-11T22:30:00Z"), d("221")));
        let o4 = order("o4", at("2026-04-06T00:00:00Z"), "545");
        c.order(&order("o0", at("2026-03-07T00:00:00Z"), "585"));
        if !late {
            redeem(&mut c);
        }
        c.order(&order("o1", at("2026-03-23T08:00:00Z"), "607"));
        assert!(c.give_back("o0", at("2026-03-23T08:00:00Z"), d("526")));
        c.order(&order("o2", at("2026-03-25T00:00:00Z"), "252"));
        c.order(&order("o3", at("2026-03-31T00:00:00Z"), "82"));
        if !late {
            c.order(&o4);
        }
        c.order(&order("o5", at("2026-04-18T00:00:00Z"), "452"));
        if late {
            redeem(&mut c);
            c.order(&o4);
        }
        p.expire(&mut c.s, at("2026-04-18T00:00:00Z"));
        c
    };
    let (t, l) = (feed(false), feed(true));
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-04-06T00:00:00Z"))
    );
    assert_eq!(
        (&l.s.tier, l.s.tier_since, l.s.renewed_at, l.s.grace_until),
        (&t.s.tier, t.s.tier_since, t.s.renewed_at, t.s.grace_until)
    );
}

/// Member, Silver from 10,000 current points, Gold from 20,000 (lazy),
/// one point a dollar; nothing lapses, points never expire.
fn three_by_current_points() -> Program {
    program_expiring(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1",
             "upgrade": rule(json!([current_points(10000)]), json!("all"), "lazy")},
            {"name": "Gold", "earnRate": "1",
             "upgrade": rule(json!([current_points(20000)]), json!("all"), "lazy")}
        ]),
        json!([]),
        Value::Null,
        "negativeBalance",
    )
}

/// Every event in time: $100 on 1 March, then each day a $20,000 order
/// (Gold) returned whole an hour later (Member). Once the history was cut
/// at its 100 entries, its first kept entry a move down from Gold, the
/// return's replay of the history started at Gold, a floor it only lifts
/// from, and the customer stayed Gold on 100 points from the 51st return
/// on. Found by the forty-first session's adversary.
#[test]
fn a_whole_return_undoes_gold_once_the_history_is_cut() {
    let p = three_by_current_points();
    let base = at("2026-03-01T00:00:00Z");
    let mut c = Served::new(&p, true);
    c.order(&order("first", base, "100"));
    for k in 0..60 {
        let when = base + Duration::days(1 + k);
        c.order(&order(&format!("g{k}"), when, "20000"));
        assert_eq!(c.s.tier, "Gold", "cycle {k}");
        assert!(c.give_back(&format!("g{k}"), when + Duration::hours(1), d("20000")));
        assert_eq!(c.s.tier, "Member", "cycle {k}");
    }
    assert_eq!(c.s.history.len(), tier_engine::state::HISTORY_KEPT);
}

/// $100 on 1 March, Silver set by the admin at noon, then 50 days of a
/// $20,000 order (Gold) returned whole an hour later (back to Silver, the
/// admin's floor): the admin's entry is cut from the history. A late
/// event placed on 1 March 18:00 (10 points redeemed, or $10 of the first
/// order returned) was replayed from the join as if no admin had set
/// anything and moved the customer to Member; in time, Silver stands. A
/// history cut at its limit no longer admits the replay. Found by the
/// forty-first session's adversary.
#[test]
fn late_events_keep_an_admin_setting_cut_from_the_history() {
    let p = three_by_current_points();
    let base = at("2026-03-01T00:00:00Z");
    let placed = base + Duration::hours(18);
    for redeemed in [true, false] {
        let late_event = |c: &mut Served<'_>| match redeemed {
            true => assert!(c.redeem("x", placed, d("10"))),
            false => assert!(c.give_back("first", placed, d("10"))),
        };
        let run = |late: bool| {
            let mut c = Served::new(&p, true);
            c.order(&order("first", base, "100"));
            p.set_tier(&mut c.s, "Silver", base + Duration::hours(12), "by hand")
                .unwrap();
            if !late {
                late_event(&mut c);
            }
            for k in 0..50 {
                let when = base + Duration::days(1 + k);
                c.order(&order(&format!("g{k}"), when, "20000"));
                assert!(c.give_back(&format!("g{k}"), when + Duration::hours(1), d("20000")));
                assert_eq!(c.s.tier, "Silver", "cycle {k}");
            }
            assert!(!c.s.history.iter().any(|h| h.admin));
            if late {
                late_event(&mut c);
            }
            c
        };
        let (t, l) = (run(false), run(true));
        assert_eq!(t.s.tier, "Silver");
        assert_eq!(
            (&l.s.tier, l.s.tier_since),
            (&t.s.tier, t.s.tier_since),
            "redeemed {redeemed}"
        );
    }
}

/// Silver from 1,000 current points (lazy), kept a month by $300 in 30
/// days, else the base; points outlast the events. In time o2 lifted the
/// customer on 17 April and the return of $245 of it took Silver back on
/// 4 May (o3 on 21 April never held it alone). Told late, o1 dates that
/// lift, its return's move down is told, and the walk of the ends from
/// the lift began from the tier held after that move: it told a lift by
/// o3 that never happened and the move down again, in one commit. Found
/// by the forty-first session's adversary (G3: 15 of 2,134 late-order
/// draws).
#[test]
fn a_late_orders_commit_tells_each_change_of_its_course_once() {
    let p = lapsing_expiring(1, Value::Null, "negativeBalance");
    let mut late_commit = 0;
    let feed = |late: bool, late_commit: &mut usize| {
        let mut c = Served::new(&p, true);
        let o1 = order("o1", at("2026-04-06T00:00:00Z"), "467");
        c.order(&order("o0", at("2026-03-04T15:00:00Z"), "255"));
        if !late {
            c.order(&o1);
        }
        assert!(c.redeem("x0", at("2026-04-16T02:30:00Z"), d("172")));
        c.order(&order("o2", at("2026-04-17T04:00:00Z"), "455"));
        assert!(c.redeem("x1", at("2026-04-18T01:30:00Z"), d("182")));
        assert!(c.redeem("x2", at("2026-04-20T08:30:00Z"), d("154")));
        c.order(&order("o3", at("2026-04-21T00:00:00Z"), "458"));
        assert!(c.give_back("o2", at("2026-05-04T04:00:00Z"), d("245")));
        if late {
            *late_commit = c.told.len();
            c.order(&o1);
        }
        c
    };
    let t = feed(false, &mut late_commit);
    let l = feed(true, &mut late_commit);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Member", at("2026-05-04T04:00:00Z"))
    );
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    assert_eq!(
        changes_told(&l, late_commit),
        [
            ("Member", "Silver", at("2026-04-17T04:00:00Z")),
            ("Silver", "Member", at("2026-05-04T04:00:00Z")),
        ]
    );
}

/// Silver from 1,000 current points (eager), kept a month by $300 in 30
/// days, else the base; points last 90 days. In time o2 ($395 on 21
/// March) left the customer at 983 points and o3 ($351, 1 April) lifted
/// them. Told after a redemption and a return of o3, o2 was decided on the
/// points held now and its lift told at its own instant, with a renewal a
/// month on; the replay in time set the tier's start right (1 April) but
/// kept that telling, since the tier was the same: a lift and a renewal
/// that never came were published. Found by the fifty-first session in
/// the review harness (draw 8 of seed 1).
#[test]
fn a_late_order_whose_lift_a_later_order_made_tells_no_lift_or_renewal_that_never_came() {
    let p = lapsing_expiring(1, json!({"days": 90}), "negativeBalance");
    let ev = [
        ("order", "o1", "2026-03-15T16:00:00Z", "588"),
        ("order", "o2", "2026-03-21T00:01:00Z", "395"),
        ("order", "o3", "2026-04-01T04:03:00Z", "351"),
        ("redeem", "x0", "2026-04-09T09:20:00Z", "140"),
        ("order", "o4", "2026-04-09T18:02:00Z", "9"),
        ("return", "o3", "2026-04-25T04:43:00Z", "49"),
    ];
    let (t, l) = hand(&p, &ev, &["o2"]);
    let lift = [("Member", "Silver", at("2026-04-01T04:03:00Z"))];
    assert_eq!(changes_told(&t, 0), lift);
    assert_eq!((&l.s.tier, l.s.tier_since), (&t.s.tier, t.s.tier_since));
    // Told without o2 the customer never changed tier: every change told
    // is the late commit's.
    assert_eq!(changes_told(&l, 0), lift);
    assert_eq!(l.s.history.len(), 1);
}

/// Silver from 600 current points, Gold from 1,200 (dynamic), each kept a
/// month by 300 and 700 points, else one down after 10 days' grace;
/// points last 46 days. Told late, o0 lets o1 lift the customer to Silver
/// a day before o2, which now reaches Gold where it reached Silver. The
/// walk's new course tells both lifts; it also set the told `Member ->
/// Silver` of o2 right at its instant, `Silver -> Gold` as `late order`:
/// one change told twice in one commit (2 of 2,134 clean late-order draws
/// of the forty-first session's adversary, after its G3 was fixed).
#[test]
fn a_walk_sets_no_told_change_right_that_its_new_course_tells() {
    let p = lapsing(6, 46, "negativeBalance");
    let mut late_commit = 0;
    let feed = |late: bool, late_commit: &mut usize| {
        let mut c = Served::new(&p, true);
        let o0 = order("o0", at("2026-03-16T00:00:00Z"), "579");
        if !late {
            c.order(&o0);
        }
        c.order(&order("o1", at("2026-03-17T12:00:00Z"), "425"));
        c.order(&order("o2", at("2026-03-18T17:00:00Z"), "264"));
        assert!(c.redeem("x1", at("2026-03-19T15:30:00Z"), d("329")));
        c.order(&order("o3", at("2026-03-23T12:00:00Z"), "597"));
        assert!(c.redeem("x2", at("2026-03-29T11:30:00Z"), d("268")));
        assert!(c.redeem("x0", at("2026-04-01T01:30:00Z"), d("213")));
        c.order(&order("o4", at("2026-04-09T19:00:00Z"), "12"));
        c.order(&order("o5", at("2026-04-27T00:00:00Z"), "192"));
        c.order(&order("o6", at("2026-04-28T17:00:00Z"), "474"));
        assert!(c.give_back("o6", at("2026-05-07T22:00:00Z"), d("379")));
        if late {
            *late_commit = c.told.len();
            c.order(&o0);
        }
        c
    };
    let t = feed(false, &mut late_commit);
    let l = feed(true, &mut late_commit);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Gold", at("2026-03-18T17:00:00Z"))
    );
    assert_eq!(
        (&l.s.tier, l.s.tier_since, l.s.renewed_at),
        (&t.s.tier, t.s.tier_since, t.s.renewed_at)
    );
    assert_eq!(
        changes_told(&l, late_commit),
        [
            ("Member", "Silver", at("2026-03-17T12:00:00Z")),
            ("Silver", "Gold", at("2026-03-18T17:00:00Z")),
            ("Gold", "Gold", at("2026-04-18T17:00:00Z")),
        ]
    );
}

/// Found by the review's harness of the forty-eighth session (seed 1, draw
/// 10393): Silver from 1,000 current points (dynamic), kept by $300 in 30
/// days each month from the tier's start; points last 30 days. A
/// redemption at an order's instant that came before it (o5, 10 April
/// 20:00, returned whole at once) was read as spending that order's own
/// lot, so its return counted as one from newer lots, and the walk that
/// dates the late order's lift stopped at it: Silver since 3 April, in
/// time since 22 March. A redemption before the order at its instant
/// spends no lot of its own (`OrderRecord::after_redemption`).
#[test]
fn a_redemption_before_an_order_of_its_instant_spends_none_of_its_lot() {
    let p = shape(11, 30, false);
    let ev = [
        ("order", "o0", "2026-03-01T00:00:00Z", "241"),
        ("order", "o1", "2026-03-04T00:00:00Z", "235"),
        ("order", "o2", "2026-03-13T00:00:00Z", "101"),
        ("order", "o3", "2026-03-22T00:00:00Z", "601"),
        ("order", "o4", "2026-04-03T00:00:00Z", "403"),
        ("redeem", "x0", "2026-04-10T20:00:00Z", "6"),
        ("return", "o1", "2026-04-10T20:00:00Z", "47"),
        ("order", "o5", "2026-04-10T20:00:00Z", "247"),
        ("return", "o5", "2026-04-10T20:00:00Z", "247"),
        ("order", "o6", "2026-04-14T11:00:00Z", "78"),
    ];
    let (t, l) = hand(&p, &ev, &["o0"]);
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-03-22T00:00:00Z"))
    );
    assert_eq!(
        (&l.s.tier, l.s.tier_since, l.s.current_points),
        (&t.s.tier, t.s.tier_since, t.s.current_points)
    );
}

/// Guards for a rule tried and withdrawn in the forty-eighth session (a
/// late return whose own lot nothing took from between takes what that
/// lot lacks now from current points; docs/late-events.md, "A late
/// return whose own lot a redemption spent since"): its reviews (helpers
/// 87 and 88) found these customers, exact without it, made to lose Silver
/// they reached in time. Silver from 1,000 current points (eager) or 700
/// (dynamic), points last 25 days. A: o1's lot drained by the return of
/// o0, whose own lot a redemption had spent; B: the redemption that spent
/// o0's lot since would in time have spent o1's, expired since; C: a debt
/// left by an earlier return let an older lot expire less in time; D: a
/// later return of another order took the returned order's lot in time.
#[test]
fn a_late_return_owes_nothing_for_lots_that_expired_in_time() {
    let drained = [
        ("order", "o0", "2026-03-01T00:00:00Z", "100"),
        ("redeem", "x0", "2026-03-02T00:00:00Z", "100"),
        ("order", "o1", "2026-03-03T00:00:00Z", "100"),
        ("return", "o0", "2026-03-04T00:00:00Z", "100"),
        ("order", "o2", "2026-03-05T00:00:00Z", "100"),
        ("late return", "o1", "2026-03-06T00:00:00Z", "100"),
    ];
    let spent_newer = [
        ("order", "o0", "2026-03-01T00:00:00Z", "100"),
        ("order", "o1", "2026-03-02T00:00:00Z", "100"),
        ("late return", "o0", "2026-03-03T00:00:00Z", "100"),
        ("redeem", "x0", "2026-03-04T00:00:00Z", "100"),
    ];
    let debt = [
        ("order", "c", "2026-02-20T00:00:00Z", "100"),
        ("redeem", "x0", "2026-02-21T00:00:00Z", "100"),
        ("return", "c", "2026-02-22T00:00:00Z", "100"),
        ("order", "o0", "2026-03-01T00:00:00Z", "100"),
        ("order", "o1", "2026-03-03T00:00:00Z", "100"),
        ("late return", "o1", "2026-03-04T00:00:00Z", "100"),
    ];
    let returned_after = [
        ("order", "o1", "2026-03-01T00:00:00Z", "100"),
        ("redeem", "x0", "2026-03-02T00:00:00Z", "100"),
        ("order", "o0", "2026-03-03T00:00:00Z", "100"),
        ("order", "o2", "2026-03-05T00:00:00Z", "100"),
        ("late return", "o2", "2026-03-06T00:00:00Z", "100"),
        ("return", "o1", "2026-03-07T00:00:00Z", "100"),
    ];
    let both = ["negativeBalance", "withinBalance"];
    // (Silver's rule, the history, its last two orders' days, the last
    // order's dollars, the policies, the points held in time)
    let cases = [
        (
            1,
            &drained[..],
            ["2026-04-04", "2026-04-05"],
            "999",
            &both[..],
            "1000",
        ),
        (
            1,
            &spent_newer[..],
            ["2026-04-04", "2026-04-05"],
            "999",
            &both[..],
            "1000",
        ),
        (
            2,
            &debt[..],
            ["2026-03-30", "2026-04-01"],
            "699",
            &both[..1],
            "700",
        ),
        (
            2,
            &returned_after[..],
            ["2026-04-19", "2026-04-20"],
            "699",
            &both[..],
            "700",
        ),
    ];
    for (which, history, [before, last], dollars, policies, held) in cases {
        for &spent in policies {
            let p = program_expiring(
                common::silver_by_current_points(which),
                json!([]),
                json!({"days": 25}),
                spent,
            );
            let (before, last) = (format!("{before}T00:00:00Z"), format!("{last}T00:00:00Z"));
            let mut ev = history.to_vec();
            ev.extend([
                ("order", "y", before.as_str(), "1"),
                ("arrive", "", "", ""),
                ("order", "z", last.as_str(), dollars),
            ]);
            let (t, l) = hand(&p, &ev, &[]);
            assert_eq!((t.s.tier.as_str(), t.s.current_points), ("Silver", d(held)));
            assert_eq!(
                (&l.s.tier, l.s.tier_since, l.s.current_points),
                (&t.s.tier, t.s.tier_since, t.s.current_points),
                "{spent} {:?}",
                history[0]
            );
        }
    }
}

/// A late order placed while the customer held Silver, before a return
/// that moved them down which it would have prevented: the redemption
/// between the returned order and its return took from that order's lot,
/// so the return counted as one from newer lots, and the order was decided
/// without the orders, at the tier held now (paid Member's rate, its
/// upgrade from Member). Nothing expired by the customer's latest instant,
/// so which lots gave the return changes no current points a walk counts:
/// decided at Silver, held then, and the course restored at the return
/// (the forty-eighth session's review, c1b and c1c: the return marked so
/// came after the late order, or before it).
#[test]
fn a_return_from_newer_lots_before_any_lot_expired_leaves_the_late_order_its_tier_held_then() {
    let earlier_return = [
        ("order", "o9", "2026-02-20T00:00:00Z", "50"),
        ("redeem", "x9", "2026-02-21T00:00:00Z", "10"),
        // Not more than the 40 points left: never short.
        ("return", "o9", "2026-02-22T00:00:00Z", "30"),
    ];
    let moved_down = [
        ("order", "o0", "2026-03-01T00:00:00Z", "1100"),
        ("order", "L", "2026-03-02T00:00:00Z", "100"),
        ("redeem", "x0", "2026-03-03T00:00:00Z", "10"),
        ("return", "o0", "2026-03-04T00:00:00Z", "150"),
    ];
    let tiers = json!([
        {"name": "Member", "earnRate": "1"},
        {"name": "Silver", "earnRate": "2",
         "upgrade": rule(json!([current_points(1000)]), json!("all"), "lazy")},
    ]);
    // Under `withinBalance` the balance was not short at the return: its
    // mark says so (a return that found it short: the next case).
    for spent in ["negativeBalance", "withinBalance"] {
        let p = program_expiring(tiers.clone(), json!([]), json!({"days": 25}), spent);
        for before in [false, true] {
            let mut ev = if before {
                earlier_return.to_vec()
            } else {
                vec![]
            };
            ev.extend(moved_down);
            eprintln!("== {spent}, a marked return before: {before}");
            let (t, l) = hand(&p, &ev, &["L"]);
            let late = |c: &spenders::Served<'_>| {
                let r = c.records.iter().find(|r| r.order_id == "L").unwrap();
                (r.tier_before.clone(), r.points_awarded)
            };
            assert_eq!(late(&t), ("Silver".to_string(), d("200")));
            assert_eq!(late(&l), late(&t));
            assert_eq!(
                (&l.s.tier, l.s.tier_since, l.s.current_points),
                (&t.s.tier, t.s.tier_since, t.s.current_points)
            );
            assert_eq!(
                standing::course(&l.s.history),
                standing::course(&t.s.history)
            );
        }
    }
}

/// Silver from 750 current points (lazy, earning 2), points lasting 25
/// days: the fiftieth session's cases.
fn silver_at_750_points_lasting_25_days(spent_points: &str) -> Program {
    let tiers = json!([
        {"name": "Member", "earnRate": "1"},
        {"name": "Silver", "earnRate": "2",
         "upgrade": rule(json!([current_points(750)]), json!("all"), "lazy")},
    ]);
    program_expiring(tiers, json!([]), json!({"days": 25}), spent_points)
}

/// $50 on 25 February, $600 on 1 March, `redeemed` points on 2 March, on
/// 3 March the $50 returned and $100 of the $600, L ($800) on 4 March
/// (to be told late), $300 on 5 March. The two returns of one instant
/// keep the replay of every event out: which came first is kept nowhere.
fn two_returns_before_a_late_order(redeemed: &str) -> Vec<(&str, &str, &str, &str)> {
    vec![
        ("order", "o2", "2026-02-25T00:00:00Z", "50"),
        ("order", "o0", "2026-03-01T00:00:00Z", "600"),
        ("redeem", "x0", "2026-03-02T00:00:00Z", redeemed),
        ("return", "o2", "2026-03-03T00:00:00Z", "50"),
        ("return", "o0", "2026-03-03T00:00:00Z", "100"),
        ("order", "L", "2026-03-04T00:00:00Z", "800"),
        ("order", "o1", "2026-03-05T00:00:00Z", "300"),
    ]
}

/// The shortfall the first return of `order_id` marked.
fn first_shortfall(c: &Served<'_>, order_id: &str) -> Option<Decimal> {
    let record = c.records.iter().find(|r| r.order_id == order_id).unwrap();
    record.returns[0].shortfall
}

/// In time and late, Silver from L on.
fn silver_from_l_in_time_and_late(t: &Served<'_>, l: &Served<'_>, spent_points: &str) {
    assert_eq!(
        (t.s.tier.as_str(), t.s.tier_since),
        ("Silver", at("2026-03-04T00:00:00Z"))
    );
    let late = (&l.s.tier, l.s.tier_since);
    assert_eq!(late, (&t.s.tier, t.s.tier_since), "{spent_points}");
}

/// A return from newer lots that found the balance short under
/// `withinBalance` took fewer points than a walk over what remains of the
/// orders takes: its mark keeps the shortfall, and the late order after it
/// is not decided on that walk, which held 720 points at its instant where
/// the customer held 800 (decided so, L crossed nothing at its instant,
/// and Silver was dated at the next order, 5 March). 580 redeemed: the
/// $100 return takes back 20 points, 80 short. In time L crossed at its
/// instant.
#[test]
fn a_return_that_found_the_balance_short_leaves_a_late_order_after_it_to_the_points_held() {
    let p = silver_at_750_points_lasting_25_days("withinBalance");
    let (t, l) = hand(&p, &two_returns_before_a_late_order("580"), &["L"]);
    assert_eq!(first_shortfall(&l, "o0"), Some(d("80")));
    silver_from_l_in_time_and_late(&t, &l, "withinBalance");
}

/// A return told after later events meets another balance than it met in
/// time, so its mark keeps no shortfall (the review of the fiftieth
/// session, helper-90: told after $300 came, the $100 return found 320
/// points and marked 0, where in time it found 20 and fell 80 short).
#[test]
fn a_return_told_late_keeps_no_shortfall() {
    let p = silver_at_750_points_lasting_25_days("withinBalance");
    let ev = [
        ("order", "o0", "2026-03-01T00:00:00Z", "600"),
        ("redeem", "x0", "2026-03-02T00:00:00Z", "580"),
        ("late return", "o0", "2026-03-03T00:00:00Z", "100"),
        ("order", "o1", "2026-03-05T00:00:00Z", "300"),
    ];
    let (t, l) = hand(&p, &ev, &[]);
    assert_eq!(
        (first_shortfall(&t, "o0"), first_shortfall(&l, "o0")),
        (Some(d("80")), None)
    );
}

/// A late order decided among the orders after a return from newer lots
/// made before it (no lot expired since, the return not short) keeps the
/// crossing it makes at its own instant: the walk dating its crossings
/// starts after that return, so the return does not stop it (the review
/// of the fiftieth session, helper-90: the walk stopped at the return's
/// instant, walked nothing, and the decision fell back to Member; a
/// Member late, Silver in time). 500 redeemed: neither return is short.
#[test]
fn a_return_from_newer_lots_before_a_late_order_leaves_it_its_own_crossing() {
    for spent in ["negativeBalance", "withinBalance"] {
        let p = silver_at_750_points_lasting_25_days(spent);
        let (t, l) = hand(&p, &two_returns_before_a_late_order("500"), &["L"]);
        silver_from_l_in_time_and_late(&t, &l, spent);
    }
}

/// Where events of one instant may be read in another order than they
/// came, a return from other lots than its order's stays untold, as before
/// the rule above: a redemption before an order of its instant (which an
/// order decided in time where points expire cannot record), read after
/// it, lifted the late customer at that instant and back down at once by
/// the returns of that instant (found on drawn histories, forty-ninth
/// session).
#[test]
fn a_redemption_before_an_order_of_its_instant_leaves_a_return_from_newer_lots_untold() {
    let redeemed_before_the_order = [
        ("order", "o0", "2026-03-19T00:00:00Z", "601"),
        ("order", "L", "2026-03-22T11:00:00Z", "88"),
        ("redeem", "x0", "2026-04-01T17:30:00Z", "238"),
        ("redeem", "x1", "2026-04-09T00:00:00Z", "59"),
        ("order", "o2", "2026-04-09T00:00:00Z", "580"),
        ("return", "o2", "2026-04-09T00:00:00Z", "145"),
        ("return", "o2", "2026-04-09T00:00:00Z", "343"),
        ("redeem", "x2", "2026-04-12T15:30:00Z", "142"),
        ("return", "o0", "2026-04-24T18:00:00Z", "54"),
    ];
    let p = program_expiring(
        common::silver_by_current_points(1),
        json!([]),
        json!({"days": 45}),
        "negativeBalance",
    );
    let (t, l) = hand(&p, &redeemed_before_the_order, &["L"]);
    assert!(t.s.history.is_empty());
    assert_eq!(
        (&l.s.tier, l.s.tier_since, l.s.current_points),
        (&t.s.tier, t.s.tier_since, t.s.current_points)
    );
}

/// The same for a return before an order of its instant, which the walks
/// count after it: the customer told every event in time was lifted by
/// the order and moved back down at once by that return.
#[test]
fn a_return_before_an_order_of_its_instant_leaves_a_return_from_newer_lots_untold() {
    let returned_before_the_order = [
        ("order", "o0", "2026-03-05T14:00:00Z", "112"),
        ("order", "o1", "2026-03-30T13:00:00Z", "103"),
        ("order", "o2", "2026-04-01T13:00:00Z", "553"),
        ("redeem", "x0", "2026-04-01T16:30:00Z", "354"),
        ("order", "o3", "2026-04-06T15:00:00Z", "483"),
        ("return", "o2", "2026-04-09T00:00:00Z", "348"),
        ("order", "o4", "2026-04-09T00:00:00Z", "558"),
        ("return", "o2", "2026-04-17T02:00:00Z", "37"),
        ("return", "o2", "2026-05-07T21:00:00Z", "51"),
    ];
    let p = program_expiring(
        common::silver_by_current_points(0),
        json!([]),
        json!({"days": 25}),
        "negativeBalance",
    );
    let (t, _) = hand(&p, &returned_before_the_order, &[]);
    assert!(t.s.history.is_empty(), "{:?}", t.s.history);
}
