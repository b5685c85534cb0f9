//! Current points of a customer who spent some, told by their orders and
//! redemptions read together (`redeemed.rs`): a return judges each upgrade
//! on the points left then, and a late order is dated where its tier was
//! reached in time. Before the thirty-first session the replays counted
//! current points as lifetime points (a return kept a tier the points left
//! never reached) or left a spender's late order undated.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod spenders;
#[allow(dead_code)]
mod standing;
use common::{at, d, order};
use spenders::{
    after_returns, feed, feed_ties, orders_of, redemptions_of,
    the_last_order_is_explained_as_decided, Served,
};
use standing::course;

/// Tiers that all earn 1 point a dollar, so an order's points never depend
/// on when its tier was reached (points stay as issued).
fn program(tiers: Value, trackers: Value) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": trackers,
        "tiers": tiers,
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

fn silver_at(min: u32, upgrade_type: &str) -> Program {
    program(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": min}],
                "condition": "all", "upgradeType": upgrade_type}}
        ]),
        json!([]),
    )
}

/// The six shapes below where a return of spent points is owed
/// (`negativeBalance`, the default), then the same six where it stays
/// within the balance (`withinBalance`): a customer no return took less
/// from has current points the orders and redemptions tell either way.
fn shape(which: usize) -> Program {
    let p = shape_owed(which % 6);
    if which < 6 {
        return p;
    }
    let mut config = serde_json::to_value(p.config()).unwrap();
    config["returnPolicy"] = json!({"spentPoints": "withinBalance"});
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

fn shape_owed(which: usize) -> Program {
    match which {
        0 => silver_at(1000, "lazy"),
        1 => silver_at(1000, "eager"),
        2 => silver_at(1000, "dynamic"),
        3 => program(
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 800}],
                    "condition": "all", "upgradeType": "dynamic"}},
                {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 1600}],
                    "condition": "all", "upgradeType": "dynamic"}}
            ]),
            json!([]),
        ),
        4 => program(
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 600},
                    {"id": "S", "kind": "tracker", "tracker": "spend30d", "min": 500}],
                    "condition": "all", "upgradeType": "lazy"}}
            ]),
            json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]),
        ),
        _ => program(
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 900},
                    {"id": "V", "kind": "tracker", "tracker": "visits30d", "min": 5}],
                    "condition": {"any": 1}, "upgradeType": "eager"}}
            ]),
            json!([{"id": "visits30d", "measure": "visits", "period": {"days": 30}}]),
        ),
    }
}

/// Silver from 500 current points. A (400) on 2 January, 300 points
/// redeemed on 3 January, B (450) on 4 January: 550 points, Silver. $100
/// of B comes back on 5 January: in time B left 100 + 350 = 450, short of
/// Silver, and so does the customer now. Counting current points as
/// lifetime points (750 at B) kept Silver.
#[test]
fn a_return_judges_an_upgrade_on_the_points_left_after_redemptions() {
    let p = silver_at(500, "lazy");
    for reads in [true, false] {
        let mut c = Served::new(&p, reads);
        c.order(&order("A", at("2026-01-02T00:00:00Z"), "400"));
        assert!(c.redeem("x", at("2026-01-03T00:00:00Z"), d("300")));
        c.order(&order("B", at("2026-01-04T00:00:00Z"), "450"));
        assert_eq!(c.s.tier, "Silver");
        assert!(c.give_back("B", at("2026-01-05T00:00:00Z"), d("100")));
        assert_eq!(c.s.current_points, d("450"));
        let expected = if reads { "Member" } else { "Silver" };
        assert_eq!(c.s.tier, expected, "redemptions read: {reads}");
        if reads {
            let change = c.s.history.last().unwrap();
            assert_eq!(
                (change.from.as_str(), change.to.as_str()),
                ("Silver", "Member")
            );
        }
    }
}

/// Points redeemed after the upgrade never cost it through a return: A
/// (600) on 2 January reaches Silver at 500; 550 points redeemed on 3
/// January; $50 of A returned on 4 January leaves 550 at A's instant, as
/// in time.
#[test]
fn points_redeemed_after_an_upgrade_never_cost_it_through_a_return() {
    let p = silver_at(500, "lazy");
    let mut c = Served::new(&p, true);
    c.order(&order("A", at("2026-01-02T00:00:00Z"), "600"));
    assert!(c.redeem("x", at("2026-01-03T00:00:00Z"), d("550")));
    assert!(c.give_back("A", at("2026-01-04T00:00:00Z"), d("50")));
    assert_eq!(c.s.current_points, d("0"));
    assert_eq!(c.s.tier, "Silver");
    assert_eq!(c.s.history.len(), 1);
}

/// A (300) on 1 January, 200 points redeemed on 2 January, B (300) on 5
/// January: 400 points. L (200), placed 3 January, comes last: in time L
/// left 300 (Member) and B made 500 (Silver on 5 January), which is where
/// the late customer's Silver starts. Without the redemptions the upgrade
/// stayed at L's own instant.
#[test]
fn a_spenders_late_order_is_dated_where_the_tier_came_in_time() {
    let p = silver_at(500, "lazy");
    for reads in [true, false] {
        let mut c = Served::new(&p, reads);
        c.order(&order("A", at("2026-01-01T00:00:00Z"), "300"));
        assert!(c.redeem("x", at("2026-01-02T00:00:00Z"), d("200")));
        c.order(&order("B", at("2026-01-05T00:00:00Z"), "300"));
        assert_eq!(c.s.tier, "Member");
        c.order(&order("L", at("2026-01-03T00:00:00Z"), "200"));
        assert_eq!(c.s.tier, "Silver");
        let expected = match reads {
            true => at("2026-01-05T00:00:00Z"),
            false => at("2026-01-03T00:00:00Z"),
        };
        assert_eq!(c.s.tier_since, expected, "redemptions read: {reads}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 100_000, .. ProptestConfig::default() })]

    /// Any orders and redemptions, one order late: the late customer holds
    /// the tier the customer in time holds, from the same instant, with the
    /// same course in the history (current points rules under each upgrade
    /// type, alone and with a window or visits).
    #[test]
    fn a_spenders_late_order_reaches_its_tier_when_it_would_have_in_time(
        which in 0usize..12,
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 2..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..300), 1..4),
        late in 0usize..8,
    ) {
        let p = shape(which);
        let all = orders_of(&orders);
        let redemptions = redemptions_of(&spent);
        let late = late % all.len();
        let in_time = feed(&p, &all, &redemptions, None);
        let late_customer = feed(&p, &all, &redemptions, Some(late));
        let (Some(in_time), Some(late_customer)) = (in_time, late_customer) else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        let (in_time, late_customer) = (in_time.s, late_customer.s);
        prop_assert_eq!(&late_customer.current_points, &in_time.current_points);
        prop_assert_eq!(
            (&late_customer.tier, late_customer.tier_since),
            (&in_time.tier, in_time.tier_since)
        );
        prop_assert_eq!(course(&late_customer.history), course(&in_time.history));
    }

    /// Any orders and redemptions in time, then returns of parts of some
    /// orders: the customer holds the tier a fresh customer reaches with
    /// what remains of each order and the same redemptions at their
    /// instants (where every one of them still fits).
    #[test]
    fn a_spender_after_returns_holds_what_the_remaining_orders_and_redemptions_reach(
        which in 0usize..12,
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 1..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..300), 1..4),
        returns in proptest::collection::vec((0usize..8, 1u32..=100), 1..4),
    ) {
        let p = shape(which);
        let all = orders_of(&orders);
        let redemptions = redemptions_of(&spent);
        let Some(mut c) = feed(&p, &all, &redemptions, None) else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        let back_at = at("2026-06-01T00:00:00Z");
        let returns: Vec<(usize, u32, DateTime<Utc>)> = returns
            .iter()
            .enumerate()
            .map(|(k, (which, percent))| (*which, *percent, back_at + Duration::hours(k as i64)))
            .collect();
        // A fresh customer: what remains of each order, the same
        // redemptions, in time.
        let Some(fresh) = after_returns(&p, &mut c, &all, &redemptions, &returns)? else {
            return Err(TestCaseError::reject("a redemption no longer fits"));
        };
        prop_assert_eq!(&c.s.tier, &fresh.s.tier);
    }

    /// The same with every redemption at an order's instant, taken before
    /// or after the orders of that instant as drawn: the late customer
    /// holds the tier the customer in time holds, from the same instant.
    #[test]
    fn a_spenders_late_order_reaches_its_tier_as_in_time_with_redemptions_at_order_instants(
        which in 0usize..12,
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 2..8),
        spent in proptest::collection::vec((0usize..8, 1u32..300), 1..4),
        late in 0usize..8,
        redemptions_first in any::<bool>(),
    ) {
        let p = shape(which);
        let all = orders_of(&orders);
        let redemptions: Vec<(DateTime<Utc>, Decimal)> = spent
            .iter()
            .map(|(i, points)| (all[i % all.len()].placed_at, Decimal::from(*points)))
            .collect();
        let late = late % all.len();
        // The late order arrives after every redemption of its instant,
        // whichever way the feed in time takes that instant's others.
        prop_assume!(redemptions.iter().all(|r| r.0 != all[late].placed_at));
        let in_time = feed_ties(&p, &all, &redemptions, None, redemptions_first);
        let late_customer = feed_ties(&p, &all, &redemptions, Some(late), redemptions_first);
        let (Some(in_time), Some(late_customer)) = (in_time, late_customer) else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        let (in_time, late_customer) = (in_time.s, late_customer.s);
        prop_assert_eq!(&late_customer.current_points, &in_time.current_points);
        prop_assert_eq!(
            (&late_customer.tier, late_customer.tier_since),
            (&in_time.tier, in_time.tier_since)
        );
    }

    /// The explanation of a spender's last order, with their redemptions
    /// read, agrees with how it was decided: met exactly when it reached
    /// Silver, and the smallest amount it would have needed reaches it
    /// where a cent less does not.
    #[test]
    fn a_spenders_order_is_explained_as_it_was_decided(
        which in 0usize..12,
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 1..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..300), 1..4),
    ) {
        let p = shape(which);
        the_last_order_is_explained_as_decided(&p, &orders, &spent)?;
    }

    /// The same with orders on a few days only, most of them placed at
    /// one instant with others (a batch sent with the day's date): the
    /// explanation counts the orders of its instant decided before it.
    /// Before the thirty-third session it counted none of them.
    #[test]
    fn an_order_of_an_instant_shared_with_others_is_explained_as_decided(
        which in 0usize..12,
        orders in proptest::collection::vec((0i64..4, 1u32..700), 2..8),
        spent in proptest::collection::vec((0i64..4 * 24, 1u32..300), 0..3),
    ) {
        let p = shape(which);
        let orders: Vec<(i64, u32)> = orders.into_iter().map(|(day, dollars)| (day * 24, dollars)).collect();
        the_last_order_is_explained_as_decided(&p, &orders, &spent)?;
    }
}

/// The sign that asks for a spender's orders looks only where a
/// redemption came at or after the late order's instant: A (300), 200
/// points redeemed on 2 January, B (300) on 5 January: 400 points, Member
/// under Silver at 500. L (50) upgrades nobody on the points as they
/// stand (450). Placed 4 January, after the redemption, those are at
/// least what it met at any instant since: nothing is read. Placed 1
/// January 12:00, before it, current points read as lifetime points (650)
/// could have crossed: the orders and redemptions are read.
#[test]
fn a_spenders_late_order_asks_for_the_orders_only_before_a_redemption() {
    let p = silver_at(500, "lazy");
    for (placed, asks) in [
        ("2026-01-04T00:00:00Z", false),
        ("2026-01-01T12:00:00Z", true),
    ] {
        let mut c = Served::new(&p, true);
        c.order(&order("A", at("2026-01-01T00:00:00Z"), "300"));
        assert!(c.redeem("x", at("2026-01-02T00:00:00Z"), d("200")));
        c.order(&order("B", at("2026-01-05T00:00:00Z"), "300"));
        assert_eq!(c.s.latest_redemption_at, Some(at("2026-01-02T00:00:00Z")));
        let mut alone = c.s.clone();
        let applied = p
            .apply_order(&mut alone, &order("L", at(placed), "50"))
            .unwrap();
        assert!(applied.decision.upgrades.is_empty());
        assert_eq!(applied.wants_orders, asks, "placed {placed}");
    }
}

/// A redemption and an order of one instant T, in the order they came.
/// A ($300) on 1 January; at T (3 January) 300 points redeemed and B
/// ($450). Redemption first: B left 450, Member; a late C ($10, 2 January)
/// and a return of $1 of A leave them so (before B recorded that it came
/// after the redemption, the replays counted the redemption after B: 760,
/// and the late $10 lifted the customer to a Silver nobody held). B first:
/// 750, Silver; the redemption after it never costs it, through the same
/// late order and return either.
#[test]
fn a_redemption_and_an_order_of_one_instant_replay_in_the_order_they_came() {
    let p = silver_at(500, "lazy");
    let t = at("2026-01-03T00:00:00Z");
    for redemption_first in [true, false] {
        let mut c = Served::new(&p, true);
        c.order(&order("A", at("2026-01-01T00:00:00Z"), "300"));
        if redemption_first {
            assert!(c.redeem("x", t, d("300")));
        }
        c.order(&order("B", t, "450"));
        if !redemption_first {
            assert!(c.redeem("x", t, d("300")));
        }
        let tier = if redemption_first { "Member" } else { "Silver" };
        assert_eq!(c.s.tier, tier, "redemption first: {redemption_first}");
        c.order(&order("C", at("2026-01-02T00:00:00Z"), "10"));
        assert_eq!(c.s.tier, tier, "redemption first: {redemption_first}");
        assert!(c.give_back("A", at("2026-01-05T00:00:00Z"), d("1")));
        assert_eq!(c.s.tier, tier, "redemption first: {redemption_first}");
        assert_eq!(c.s.current_points, d("459"));
    }
}
