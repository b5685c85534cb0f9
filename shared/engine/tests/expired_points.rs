//! A return judges every upgrade on the current points the customer held
//! then (`reversal.rs`). Where points expire, what had expired by then is
//! in no order: before the thirty-second session the judgment counted
//! current points as lifetime points there, so a customer who crossed a
//! `currentPoints` threshold with an order and returned part of it kept a
//! tier the points left never reached. The walk now replays expiry on what
//! remains of the orders, with the redemptions read beside them.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use tier_engine::*;

mod common;
mod spenders;
#[allow(dead_code)]
mod standing;
use common::{at, d, order, program_expiring};
use spenders::{
    after_returns, feed, feed_returning, orders_of, redemptions_of,
    the_last_order_is_explained_as_decided, Served, Versions,
};
use standing::course;

/// Silver from `min` current points (every tier earns 1 point a dollar),
/// points expiring `expiry_days` after the day they were earned.
fn silver_at(min: u32, upgrade_type: &str, expiry_days: u32) -> Program {
    program(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": min}],
                "condition": "all", "upgradeType": upgrade_type}}
        ]),
        json!([]),
        expiry_days,
    )
}

fn program(tiers: Value, trackers: Value, expiry_days: u32) -> Program {
    program_expiring(
        tiers,
        trackers,
        json!({"days": expiry_days}),
        "negativeBalance",
    )
}

/// Current points rules under each upgrade type, alone and with a window,
/// over two tiers.
fn shape(which: usize, expiry_days: u32, spent_points: &str) -> Program {
    let silver = |min: u32, upgrade_type: &str| {
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": min}],
                "condition": "all", "upgradeType": upgrade_type}}
        ])
    };
    let (tiers, trackers) = match which {
        0 => (silver(1000, "lazy"), json!([])),
        1 => (silver(1000, "eager"), json!([])),
        2 => (silver(700, "dynamic"), json!([])),
        3 => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 600}],
                    "condition": "all", "upgradeType": "dynamic"}},
                {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 1200}],
                    "condition": "all", "upgradeType": "dynamic"}}
            ]),
            json!([]),
        ),
        _ => (
            json!([
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 600},
                    {"id": "S", "kind": "tracker", "tracker": "spend30d", "min": 500}],
                    "condition": "all", "upgradeType": "lazy"}}
            ]),
            json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]),
        ),
    };
    program_expiring(tiers, trackers, json!({"days": expiry_days}), spent_points)
}

/// Silver from 1,000 current points; points last 30 days. A (800) on 2
/// January expires on 1 February; C (300) on 5 February; B (750) on 10
/// February: 1,050 points, Silver. $100 of B comes back: in time B left
/// 300 + 650 = 950, short of Silver, and so does the customer now. Counting
/// current points as lifetime points (1,750 at B) kept Silver. Nothing was
/// redeemed, so the redemptions need not be read.
#[test]
fn a_return_judges_an_upgrade_on_the_points_left_after_expiry() {
    let p = silver_at(1000, "lazy", 30);
    for reads in [true, false] {
        let mut c = Served::new(&p, reads);
        c.order(&order("A", at("2026-01-02T00:00:00Z"), "800"));
        c.order(&order("C", at("2026-02-05T00:00:00Z"), "300"));
        c.order(&order("B", at("2026-02-10T00:00:00Z"), "750"));
        assert_eq!(
            (c.s.tier.as_str(), c.s.current_points),
            ("Silver", d("1050"))
        );
        assert!(c.give_back("B", at("2026-02-12T00:00:00Z"), d("100")));
        assert_eq!(c.s.current_points, d("950"));
        assert_eq!(c.s.tier, "Member", "redemptions read: {reads}");
        let change = c.s.history.last().unwrap();
        assert_eq!(
            (change.from.as_str(), change.to.as_str()),
            ("Silver", "Member")
        );
    }
}

/// Points that expired after the upgrade never cost it through a return:
/// A (1,200) on 2 January reaches Silver at 1,000 and expires on 1
/// February; $100 of A returned on 5 February leaves 1,100 at A's instant.
#[test]
fn points_that_expired_after_an_upgrade_never_cost_it_through_a_return() {
    let p = silver_at(1000, "lazy", 30);
    let mut c = Served::new(&p, true);
    c.order(&order("A", at("2026-01-02T00:00:00Z"), "1200"));
    assert!(c.give_back("A", at("2026-02-05T00:00:00Z"), d("100")));
    assert_eq!(c.s.current_points, d("0"));
    assert_eq!(c.s.tier, "Silver");
    assert_eq!(c.s.history.len(), 1);
}

/// A redemption spends the oldest lots first, so expiry takes only what it
/// left. Silver from 1,000; points last 30 days. A (600) on 2 January; 500
/// redeemed on 10 January (100 of A left); C (400) on 20 January; A's 100
/// expire on 1 February; B (600) on 5 February: 1,000, Silver. $50 of B
/// back: 950 in time, Member. Lifetime less redeemed (1,050) would keep
/// Silver; lifetime less redeemed less A's whole lot (450) would have
/// refused it even before the return.
#[test]
fn a_return_judges_expiry_after_the_redemptions_spent_the_oldest_lots() {
    let p = silver_at(1000, "lazy", 30);
    let mut c = Served::new(&p, true);
    c.order(&order("A", at("2026-01-02T00:00:00Z"), "600"));
    assert!(c.redeem("x", at("2026-01-10T00:00:00Z"), d("500")));
    c.order(&order("C", at("2026-01-20T00:00:00Z"), "400"));
    c.order(&order("B", at("2026-02-05T00:00:00Z"), "600"));
    assert_eq!(
        (c.s.tier.as_str(), c.s.current_points),
        ("Silver", d("1000"))
    );
    assert!(c.give_back("B", at("2026-02-06T00:00:00Z"), d("50")));
    assert_eq!(c.s.tier, "Member");
    // Without the redemption read, the judgment is generous (never
    // harsher): A's lot expires whole and nothing is spent, 1,000 at B.
    let mut unread = Served::new(&p, false);
    unread.order(&order("A", at("2026-01-02T00:00:00Z"), "600"));
    assert!(unread.redeem("x", at("2026-01-10T00:00:00Z"), d("500")));
    unread.order(&order("C", at("2026-01-20T00:00:00Z"), "400"));
    unread.order(&order("B", at("2026-02-05T00:00:00Z"), "600"));
    assert!(unread.give_back("B", at("2026-02-06T00:00:00Z"), d("50")));
    assert_eq!(unread.s.tier, "Silver");
}

/// The session-31 case in a program where points expire after a year:
/// A (400), 300 redeemed, B (450) gives 550 and Silver at 500; $100 of B
/// back leaves 450 at B's instant.
#[test]
fn a_return_judges_an_upgrade_on_the_points_left_after_redemptions_where_points_expire() {
    let p = silver_at(500, "lazy", 365);
    let mut c = Served::new(&p, true);
    c.order(&order("A", at("2026-01-02T00:00:00Z"), "400"));
    assert!(c.redeem("x", at("2026-01-03T00:00:00Z"), d("300")));
    c.order(&order("B", at("2026-01-04T00:00:00Z"), "450"));
    assert_eq!(c.s.tier, "Silver");
    assert!(c.give_back("B", at("2026-01-05T00:00:00Z"), d("100")));
    assert_eq!(c.s.tier, "Member");
}

/// Orders decided under another expiry period than today's: what expired
/// under it is in nothing the judgment reads, so it counts no expiry (the
/// generous judgment of before), and so where that version is unknown.
/// Under the same period in another version, as the first test.
#[test]
fn a_return_replays_expiry_only_where_every_version_expired_points_alike() {
    let customer = |p: &Program| {
        let mut s = CustomerState::new(p, at("2026-01-01T00:00:00Z"));
        let mut records = Vec::new();
        for (id, when, amount) in [
            ("A", "2026-01-02T00:00:00Z", "800"),
            ("C", "2026-02-05T00:00:00Z", "300"),
            ("B", "2026-02-10T00:00:00Z", "750"),
        ] {
            let applied =
                common::apply_as_served(p, &mut s, &records, &order(id, at(when), amount));
            records.push(applied.record);
        }
        (s, records)
    };
    let then = silver_at(1000, "lazy", 30).with_version(1);
    // Today's version, its period, whether the book holds the versions
    // before it, and the tier after the return. Past 32 versions since the
    // customer's first event none is asked (each is a read).
    for (version, now_days, book_holds_then, kept) in [
        (2, 60, true, "Silver"),
        (2, 30, true, "Member"),
        (2, 30, false, "Silver"),
        (2, 60, false, "Silver"),
        (33, 30, true, "Member"),
        (34, 30, true, "Silver"),
    ] {
        let now = silver_at(1000, "lazy", now_days).with_version(version);
        let (mut s, mut records) = customer(&then);
        assert_eq!(s.tier, "Silver");
        let book = Versions(match book_holds_then {
            true => (1..version)
                .map(|v| silver_at(1000, "lazy", 30).with_version(v))
                .collect(),
            false => vec![],
        });
        let ret = Return {
            return_id: "r".into(),
            order_id: "B".into(),
            customer_id: "c1".into(),
            returned_at: at("2026-02-12T00:00:00Z"),
            amount: Some(d("100")),
        };
        common::give_back_under(&now, &mut s, &mut records, &ret, &book).unwrap();
        assert_eq!(
            s.tier, kept,
            "version {version}, today {now_days} days, earlier known: {book_holds_then}"
        );
    }
}

/// Silver from 1,000 current points; points last 30 days. A (800) on 2
/// January expires on 1 February; B (750) on 10 February leaves 750, and
/// B was decided short. Its explanation judged it on 1,550 (A's points as
/// if they had never expired) and said B met the rule; it needed $1,000.
#[test]
fn an_order_is_explained_on_the_points_left_after_expiry() {
    let p = silver_at(1000, "lazy", 30);
    let mut c = Served::new(&p, true);
    c.order(&order("A", at("2026-01-02T00:00:00Z"), "800"));
    c.order(&order("B", at("2026-02-10T00:00:00Z"), "750"));
    assert_eq!(c.s.tier, "Member");
    let record = c.records.iter().find(|r| r.order_id == "B").unwrap();
    let why = p
        .explain_order_of(&c.s, record, &c.records, &CurrentRulesOnly, Some("Silver"))
        .unwrap();
    assert_eq!(
        why.needed,
        Needed::Amount {
            smallest: d("1000"),
            extra: d("250")
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 100_000, .. ProptestConfig::default() })]

    /// Any orders and redemptions in time over two months, points lasting
    /// 5 to 45 days, then returns of parts of some orders once every point
    /// expired: the customer holds the tier a fresh customer reaches with
    /// what remains of each order and the same redemptions at their
    /// instants (where every one of them still fits), under either
    /// treatment of a return of spent points.
    #[test]
    fn after_returns_a_customer_holds_what_the_remaining_orders_reach_as_points_expire(
        which in 0usize..5,
        expiry_days in 5u32..45,
        within_balance in any::<bool>(),
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 1..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..300), 0..4),
        returns in proptest::collection::vec((0usize..8, 1u32..=100, any::<bool>()), 1..4),
    ) {
        let owed = if within_balance { "withinBalance" } else { "negativeBalance" };
        let p = shape(which, expiry_days, owed);
        let all = orders_of(&orders);
        let redemptions = redemptions_of(&spent);
        let Some(mut c) = feed(&p, &all, &redemptions, None) else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        // Returns soon after the orders, or once every point expired.
        let returns: Vec<(usize, u32, DateTime<Utc>)> = returns
            .iter()
            .enumerate()
            .map(|(k, (which, percent, soon))| {
                let from = if *soon { "2026-05-01T00:00:00Z" } else { "2026-07-01T00:00:00Z" };
                (*which, *percent, at(from) + Duration::hours(k as i64))
            })
            .collect();
        let Some(fresh) = after_returns(&p, &mut c, &all, &redemptions, &returns)? else {
            return Err(TestCaseError::reject("a redemption no longer fits"));
        };
        prop_assert_eq!(&c.s.tier, &fresh.s.tier);
    }

    /// The explanation of the last order, with the redemptions read,
    /// agrees with how it was decided: met exactly when it reached Silver,
    /// and the smallest amount it would have needed reaches it where a
    /// cent less does not.
    #[test]
    fn an_order_is_explained_as_it_was_decided_as_points_expire(
        which in 0usize..5,
        expiry_days in 5u32..45,
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 1..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..300), 0..4),
    ) {
        let p = shape(which, expiry_days, "negativeBalance");
        the_last_order_is_explained_as_decided(&p, &orders, &spent)?;
    }

    /// Any orders and redemptions over two months, points lasting 5 to 45
    /// days, one order late (no return): the late customer holds the tier
    /// the customer in time holds, from the same instant, with the same
    /// course in the history.
    #[test]
    fn a_late_order_reaches_its_tier_as_in_time_as_points_expire(
        which in 0usize..5,
        expiry_days in 5u32..45,
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 2..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..300), 0..4),
        late in 0usize..8,
    ) {
        let p = shape(which, expiry_days, "negativeBalance");
        let all = orders_of(&orders);
        let redemptions = redemptions_of(&spent);
        let late = late % all.len();
        let (Some(in_time), Some(late_customer)) =
            (feed(&p, &all, &redemptions, None), feed(&p, &all, &redemptions, Some(late)))
        else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        let (in_time, late_customer) = (in_time.s, late_customer.s);
        prop_assert_eq!(
            (&late_customer.tier, late_customer.tier_since),
            (&in_time.tier, in_time.tier_since)
        );
        prop_assert_eq!(course(&late_customer.history), course(&in_time.history));
    }

    /// [`a_late_order_reaches_its_tier_as_in_time_as_points_expire`] where
    /// the tier lapses: one order late among any orders over three months,
    /// redemptions before its instant, then the job at 1 July. The late
    /// customer holds the in-time tier and points. Before the thirty-third
    /// session such an order was decided on the points left now (generous
    /// within a few cases: the orders placed since counted at its
    /// instant), and the validity ends its upgrade brought read current
    /// points as those now less what was earned since.
    #[test]
    fn a_late_order_where_tiers_lapse_reaches_its_tier_as_in_time_as_points_expire(
        which in 0usize..6,
        expiry_days in 5u32..45,
        orders in proptest::collection::vec((0i64..90 * 24, 1u32..700), 2..8),
        spent in proptest::collection::vec((0i64..90 * 24, 1u32..300), 0..3),
        late in 0usize..8,
    ) {
        let p = lapsing(which, expiry_days);
        let all = orders_of(&orders);
        let late = late % all.len();
        // A redemption after its instant would in time have spent its lot
        // first (docs/late-events.md, "Not exact" 3).
        let redemptions: Vec<_> = redemptions_of(&spent)
            .into_iter()
            .filter(|r| r.0 < all[late].placed_at)
            .collect();
        let (Some(mut in_time), Some(mut late_customer)) =
            (feed(&p, &all, &redemptions, None), feed(&p, &all, &redemptions, Some(late)))
        else {
            return Err(TestCaseError::reject("a redemption refused"));
        };
        let end = at("2026-07-01T00:00:00Z");
        p.expire(&mut in_time.s, end);
        p.expire(&mut late_customer.s, end);
        prop_assert_eq!(&late_customer.s.tier, &in_time.s.tier);
        prop_assert_eq!(late_customer.s.current_points, in_time.s.current_points);
    }

    /// [`a_late_order_reaches_its_tier_as_in_time_as_points_expire`] for a
    /// customer who returned parts of other orders, before or after the
    /// late order's instant, each return taking its points from its own
    /// order's lot (made before that lot expired, no redemption since the
    /// order): the late customer holds the tier the customer in time holds.
    #[test]
    fn a_late_order_of_a_customer_who_returned_reaches_its_tier_as_in_time(
        which in 0usize..5,
        expiry_days in 5u32..45,
        within_balance in any::<bool>(),
        orders in proptest::collection::vec((0i64..60 * 24, 1u32..700), 2..8),
        spent in proptest::collection::vec((0i64..60 * 24, 1u32..300), 0..4),
        returns in proptest::collection::vec((0usize..8, 1u32..=100, 1i64..40 * 24), 1..4),
        late in 0usize..8,
    ) {
        let owed = if within_balance { "withinBalance" } else { "negativeBalance" };
        let p = shape(which, expiry_days, owed);
        let all = orders_of(&orders);
        let redemptions = redemptions_of(&spent);
        let late = late % all.len();
        // The late order is returned in neither (no record before it arrives).
        let returns: Vec<_> = returns
            .into_iter()
            .filter(|r| r.0 % all.len() != late)
            .filter(|r| from_its_own_lot(&all[r.0 % all.len()], r.2, expiry_days, &redemptions))
            .collect();
        let (Some(in_time), Some(late_customer)) = (
            feed_returning(&p, &all, &redemptions, &returns, None),
            feed_returning(&p, &all, &redemptions, &returns, Some(late)),
        ) else {
            return Err(TestCaseError::reject("a redemption or return refused"));
        };
        prop_assert_eq!(&late_customer.s.tier, &in_time.s.tier);
        // From the same instant where no return moved either customer. A
        // return after the late order's instant judged the tier on what
        // remained then (`reversal.rs`) and kept it dated where it was
        // reached; the late order is dated where the orders as they stood
        // crossed, where each return since kept that crossing on what
        // remained by its own instant. Left out: a return at an order's
        // instant (whether it came before or after that order is kept
        // nowhere, so the dating takes the later crossing), and a dip by a
        // return between two crossings after the late order's instant,
        // which stays in the history (docs/late-events.md, "Not exact" 4).
        let returned_at_an_order = late_customer
            .records
            .iter()
            .flat_map(|r| &r.returns)
            .any(|r| all.iter().any(|o| o.placed_at == r.at));
        let by_returns = |s: &CustomerState| s.history.iter().any(|c| c.cause.starts_with("return"));
        if !returned_at_an_order && !by_returns(&in_time.s) && !by_returns(&late_customer.s) {
            prop_assert_eq!(late_customer.s.tier_since, in_time.s.tier_since);
        }
    }
}

/// Silver from 1,000 current points under each upgrade type, kept a month
/// at a time by 400 current points or $300 in 30 days (to the base tier
/// otherwise), points expiring `expiry_days` after the day they were
/// earned.
fn lapsing(which: usize, expiry_days: u32) -> Program {
    let keep = match which % 2 {
        0 => json!({"id": "K", "kind": "currentPoints", "min": 400}),
        _ => json!({"id": "K", "kind": "tracker", "tracker": "spend30d", "min": 300}),
    };
    let upgrade_type = ["lazy", "eager", "dynamic"][which / 2 % 3];
    program(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": 1000}],
                "condition": "all", "upgradeType": upgrade_type},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [keep], "condition": "all", "onFail": "base"}}
        ]),
        json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]),
        expiry_days,
    )
}

/// Whether a return `hours` after `order` takes its points from the order's
/// own lot: made before the lot expires, no redemption since the order.
fn from_its_own_lot(
    order: &Order,
    hours: i64,
    expiry_days: u32,
    redemptions: &[(DateTime<Utc>, rust_decimal::Decimal)],
) -> bool {
    let at = order.placed_at + Duration::hours(hours);
    let expires = order.placed_at.date_naive() + chrono::Days::new(expiry_days.into());
    at.date_naive() < expires
        && !redemptions
            .iter()
            .any(|(when, _)| order.placed_at <= *when && *when <= at)
}

/// Silver from 1,000 current points or 5 visits in 30 days (any one);
/// points last 10 days. o1 ($600) on 1 March; L ($10) on 5 March; o2
/// ($395) on 6 March: 1,005 current points, Silver by P. Told late, o1
/// and o2 expired by 16 March and o3 ($1,000) on 21 March lifted the
/// customer by P; then L arrives and the lift is dated back to o2 on 6
/// March, its criteria as in time: P (the walk's figures read current
/// points as those now less the lifetime points earned since, 10, and
/// named none).
#[test]
fn a_lift_dated_back_names_the_criteria_met_as_points_expire() {
    let p = program(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": 1000},
                {"id": "V", "kind": "tracker", "tracker": "visits30d", "min": 5}],
                "condition": {"any": 1}, "upgradeType": "lazy"}}
        ]),
        json!([{"id": "visits30d", "measure": "visits", "period": {"days": 30}}]),
        10,
    );
    let criteria_at = |c: &mut Served<'_>, when: &str| -> Option<Vec<String>> {
        std::mem::take(&mut c.told)
            .into_iter()
            .find_map(|n| match n.kind {
                NoticeKind::Changed { change, criteria }
                    if change.at == at(when) && change.to == "Silver" =>
                {
                    Some(criteria)
                }
                _ => None,
            })
    };
    let orders = [
        ("o1", "2026-03-01T00:00:00Z", "600"),
        ("L", "2026-03-05T00:00:00Z", "10"),
        ("o2", "2026-03-06T00:00:00Z", "395"),
        ("o3", "2026-03-21T00:00:00Z", "1000"),
    ];
    let mut in_time = Served::new(&p, true);
    for (id, when, amount) in orders {
        in_time.order(&order(id, at(when), amount));
    }
    assert_eq!(in_time.s.tier_since, at("2026-03-06T00:00:00Z"));
    let told = criteria_at(&mut in_time, "2026-03-06T00:00:00Z");
    assert_eq!(told, Some(vec!["P".to_owned()]));
    let mut late = Served::new(&p, true);
    for (id, when, amount) in orders.iter().filter(|o| o.0 != "L") {
        late.order(&order(id, at(when), amount));
    }
    assert_eq!(late.s.tier_since, at("2026-03-21T00:00:00Z"));
    late.told.clear();
    late.order(&order("L", at("2026-03-05T00:00:00Z"), "10"));
    assert_eq!(late.s.tier_since, at("2026-03-06T00:00:00Z"));
    assert_eq!(criteria_at(&mut late, "2026-03-06T00:00:00Z"), told);
}

/// Silver from 1,000 current points; points last 30 days. A ($600) on 1
/// January, B ($500) on 3 January, 500 points redeemed on 4 January (from
/// A's lot, the oldest), C ($400) on 10 January, then $300 of A returned on
/// 20 January: A's lot held 100, so the return took the other 200 from the
/// newest lot, C's. B's lot expired on 2 February: 200 points left. L
/// ($700, placed 5 February) made 900 in time, a Member. The orders as
/// they remain replay 300 of A spent by the redemption, B's lot 300 and
/// C's 400: told late, L would have made 1,100 on them. Such a customer's
/// late order is decided on the points left now, as before.
#[test]
fn a_return_that_took_from_newer_lots_leaves_the_replay_of_expiry_out() {
    let p = silver_at(1000, "lazy", 30);
    let l = order("L", at("2026-02-05T00:00:00Z"), "700");
    let fed = |late: bool| {
        let mut c = Served::new(&p, true);
        c.order(&order("A", at("2026-01-01T00:00:00Z"), "600"));
        c.order(&order("B", at("2026-01-03T00:00:00Z"), "500"));
        assert!(c.redeem("x", at("2026-01-04T00:00:00Z"), d("500")));
        c.order(&order("C", at("2026-01-10T00:00:00Z"), "400"));
        assert!(c.give_back("A", at("2026-01-20T00:00:00Z"), d("300")));
        if !late {
            c.order(&l);
        }
        c.order(&order("E", at("2026-02-08T00:00:00Z"), "1"));
        if late {
            c.order(&l);
        }
        c
    };
    let (in_time, told_late) = (fed(false), fed(true));
    assert_eq!(in_time.s.tier, "Member");
    assert_eq!(told_late.s.tier, "Member");
    assert_eq!(told_late.s.current_points, in_time.s.current_points);
}

/// Silver from 1,000 lifetime points, kept a month at a time by $100 spent
/// in 30 days; points last 30 days. A ($600) on 1 January, B ($10) on 20
/// March, then L ($500, placed 5 January) arrives: Silver on 5 January,
/// down on 5 February, Silver again by B; every point but B's expired
/// before B. The ends
/// its upgrade brought are judged on the figures of their instants, and
/// the lots expired in that walk were gone once it restored current
/// points: before the thirty-third session the customer kept L's 500
/// points, which never expired.
#[test]
fn a_late_upgrades_ends_leave_no_expired_points_behind() {
    let p = program(
        json!([
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "L", "kind": "lifetimePoints", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend30d", "min": 100}],
                "condition": "all", "onFail": "base"}}
        ]),
        json!([{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}]),
        30,
    );
    let mut c = Served::new(&p, true);
    c.order(&order("A", at("2026-01-01T00:00:00Z"), "600"));
    c.order(&order("B", at("2026-03-20T00:00:00Z"), "10"));
    c.order(&order("L", at("2026-01-05T00:00:00Z"), "500"));
    let moves: Vec<(&str, DateTime<Utc>)> =
        c.s.history.iter().map(|h| (h.to.as_str(), h.at)).collect();
    assert_eq!(
        moves,
        [
            ("Silver", at("2026-01-05T00:00:00Z")),
            ("Member", at("2026-02-05T00:00:00Z")),
            ("Silver", at("2026-03-20T00:00:00Z"))
        ]
    );
    p.expire(&mut c.s, at("2026-03-21T00:00:00Z"));
    assert_eq!(
        (c.s.current_points, c.s.lifetime_points),
        (d("10"), d("1110"))
    );
}

/// Silver from 600, Gold from 1,200 current points (dynamic); points last
/// 7 days. In time: L $549 on 1 March, o5 $695 on 1 March 01:00 (1,244:
/// Silver and Gold at once), three orders ($275) on 5 March 21:00, $48 of
/// o5 returned on 5 March 22:00, judged on what remains: Gold again on 5
/// March 21:00, so it stands, dated 1 March 01:00. Told last, L was dated
/// where what remains now crosses 1,200 (5 March 21:00); the orders as
/// they stood crossed both tiers at 01:00 in one step, which the return
/// kept.
#[test]
fn a_late_order_crossing_two_tiers_at_once_is_dated_where_the_orders_stood() {
    let p = shape(3, 7, "negativeBalance");
    let all = [
        order("L", at("2026-03-01T00:00:00Z"), "549"),
        order("o5", at("2026-03-01T01:00:00Z"), "695"),
        order("o0", at("2026-03-05T21:00:00Z"), "1"),
        order("o1", at("2026-03-05T21:00:00Z"), "273"),
        order("o3", at("2026-03-05T21:00:00Z"), "1"),
        order("o4", at("2026-03-11T00:00:00Z"), "1"),
    ];
    // o5 is the second order; its return 117 hours after it.
    let returns = [(1, 7, 117)];
    let (Some(in_time), Some(late)) = (
        feed_returning(&p, &all, &[], &returns, None),
        feed_returning(&p, &all, &[], &returns, Some(0)),
    ) else {
        panic!("refused");
    };
    assert_eq!(in_time.s.tier, "Gold");
    assert_eq!(in_time.s.tier_since, at("2026-03-01T01:00:00Z"));
    assert_eq!(
        (&late.s.tier, late.s.tier_since),
        (&in_time.s.tier, in_time.s.tier_since)
    );
}
