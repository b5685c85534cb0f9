//! One order against a customer with a year of daily history, on a 4-tier
//! program with 3 trackers (visits, category line-item price, max bill).
//!
//! Also a late order dated among 10,000 others (`late_upgrade`), and one
//! decided at the tier held then among 10,000 others (`held_then`).
//!
//! Run: `cargo bench -p tier-engine --bench apply_order`

use chrono::{DateTime, Duration, Utc};
use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tier_engine::*;

fn program(kind: &str) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2025-01-01T00:00:00Z", "pointsExpiry": {"months": 12},
        "trackers": [
            {"id": "visits", "measure": "visits", "period": {"months": 12}},
            {"id": "shoes", "measure": "lineItemPrice", "filter": {"category": "shoes"}, "period": {"days": 90}},
            {"id": "big", "measure": "billAmount", "aggregate": "max", "period": {"months": 12}}],
        "tiers": [
            {"name": "Blue", "earnRate": "0.05"},
            {"name": "Silver", "earnRate": "0.10", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "1000"},
                {"id": "B", "kind": "tracker", "tracker": "visits", "min": 4}],
                "condition": {"any": 1}, "upgradeType": kind}},
            {"name": "Gold", "earnRate": "0.20", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "50000"},
                {"id": "B", "kind": "tracker", "tracker": "shoes", "min": "8000"},
                {"id": "C", "kind": "singleOrder", "min": "2500"}],
                "condition": {"custom": "(A AND B) OR C"}, "upgradeType": kind}},
            {"name": "Diamond", "earnRate": "0.30", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "100000"},
                {"id": "B", "kind": "tracker", "tracker": "big", "min": "3000"},
                {"id": "C", "kind": "currentPoints", "min": "20000"}],
                "condition": {"any": 2}, "upgradeType": kind}}]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

fn order(id: usize, placed_at: DateTime<Utc>, cents: i64) -> Order {
    let amount = Decimal::new(cents, 2);
    let shoes = Decimal::new(cents / 3, 2);
    Order {
        order_id: format!("o{id}"),
        customer_id: "c".into(),
        placed_at,
        status: OrderStatus::Completed,
        amount,
        gross_amount: None,
        currency: Some("USD".into()),
        line_items: vec![
            LineItem {
                sku: "a".into(),
                category: Some("shirts".into()),
                price: amount - shoes,
                quantity: Decimal::ONE,
            },
            LineItem {
                sku: "b".into(),
                category: Some("shoes".into()),
                price: shoes,
                quantity: Decimal::ONE,
            },
        ],
    }
}

/// A customer with one order a day for the past year.
fn customer(p: &Program) -> (CustomerState, DateTime<Utc>) {
    let start: DateTime<Utc> = "2025-11-01T09:00:00Z".parse().unwrap();
    let mut state = CustomerState::new(p, start);
    for day in 0..365 {
        let o = order(
            day,
            start + Duration::days(day as i64),
            4_000 + (day as i64 * 37) % 6_000,
        );
        p.apply_order(&mut state, &o).unwrap();
    }
    (state, start + Duration::days(365))
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("order");
    group.throughput(Throughput::Elements(1));
    let p = program("dynamic");
    let (state, now) = customer(&p);
    assert_eq!(p.tier_name(state.tier_index(&p)), "Silver");
    let next = order(1000, now, 12_345);
    group.bench_function("decide", |b| {
        b.iter(|| black_box(p.decide(black_box(&state), black_box(&next))))
    });

    let crossing = order(1001, now, 260_000);
    group.bench_function("decide_dynamic_crossing", |b| {
        b.iter(|| black_box(p.decide(black_box(&state), black_box(&crossing))))
    });

    group.bench_function("apply_order", |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| black_box(p.apply_order(s, black_box(&next)).unwrap()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A late order that lifts a customer with 10,000 orders two tiers, its
/// upgrades dated among those orders (`apply_order_among`), against the
/// same order decided alone.
fn late_upgrade(c: &mut Criterion) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": 1000000}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "A", "kind": "tracker", "tracker": "spend30d", "min": 1000000}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let (state, records) = with_orders(&p, start, 10_000);
    let late = order(10_000, start + Duration::minutes(5), 99_900_000);
    assert_eq!(
        p.apply_order_among(&mut state.clone(), &late, &records)
            .unwrap()
            .decision
            .tier_after,
        2
    );
    let mut group = c.benchmark_group("late_upgrade");
    late_order(
        &mut group,
        "among_10000_orders",
        &p,
        &state,
        &late,
        Some(&records),
    );
    late_order(&mut group, "alone", &p, &state, &late, None);
    group.finish();
}

/// A customer with 10,000 orders of $10 whose first 16 orders were
/// returned whole, one just after each of orders 9,984 to 9,999.
fn with_16_returned(p: &Program, start: DateTime<Utc>) -> (CustomerState, Vec<OrderRecord>) {
    let (mut state, mut records) = with_orders(p, start, 10_000);
    for k in 0..16 {
        let at = start + Duration::minutes(50 * (9_984 + k) + 1);
        let back = return_of(&records[k as usize], at, None);
        let (record, others) = {
            let (before, rest) = records.split_at_mut(k as usize);
            let (record, after) = rest.split_first_mut().unwrap();
            let others: Vec<OrderRecord> = before.iter().chain(after.iter()).cloned().collect();
            (record, others)
        };
        let history = ReturnHistory {
            orders: &others,
            rules: &CurrentRulesOnly,
        };
        p.apply_return_judged(&mut state, record, &back, &history)
            .unwrap();
    }
    (state, records)
}

/// A late $10 order of a customer with 10,000 orders of $10 (Silver at
/// $99,850, lazy) whose first 16 orders were returned whole, one just
/// after each of orders 9,984 to 9,999: the orders as they stood cross
/// with order 9,983, what remains only with the last, and the 15 returns
/// before it came between the two, so the dating walks each stretch
/// between returns and judges each of those returns again (32 walks over
/// the orders; the case's name counts the 16th return too, made after the
/// crossing). Against a customer with 9,984 orders and nothing returned,
/// whose late order is dated by one walk. And the same returns with 31
/// tiers $10 apart from $99,850 and a late $310 order: the orders as they
/// stood cross one tier at each of orders 9,953 to 9,983, what remains at
/// each of orders 9,969 to 9,999, so each of the last 15 steps is judged
/// against the returns between its two datings (each return instant
/// walked once, however many steps it judges).
fn late_crossing_returned_since(c: &mut Criterion) {
    let p = by_purchases("lazy", &[("Silver", 99_850)]);
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let (returned_state, returned) = with_16_returned(&p, start);
    assert_eq!(returned_state.tier, "Member");
    let (state, records) = with_orders(&p, start, 9_984);
    let late = order(10_000, start + Duration::minutes(5), 1_000);
    let dated = |p: &Program, late: &Order, s: &CustomerState, r: &[OrderRecord]| {
        let a = p.apply_order_among(&mut s.clone(), late, r).unwrap();
        (
            a.decision.upgrades.first().map(|u| u.at),
            a.decision.tier_after,
        )
    };
    assert_eq!(
        dated(&p, &late, &state, &records).0,
        Some(start + Duration::minutes(50 * 9_983))
    );
    assert_eq!(
        dated(&p, &late, &returned_state, &returned).0,
        Some(start + Duration::minutes(50 * 9_983))
    );
    let names: Vec<String> = (1..=31).map(|k| format!("T{k}")).collect();
    let tiers: Vec<(&str, u32)> = names
        .iter()
        .zip(0..)
        .map(|(name, j)| (name.as_str(), 99_850 + 10 * j))
        .collect();
    let many = by_purchases("lazy", &tiers);
    let (many_state, many_records) = with_16_returned(&many, start);
    assert_eq!(many_state.tier, "Member");
    let late_310 = order(10_000, start + Duration::minutes(5), 31_000);
    assert_eq!(
        dated(&many, &late_310, &many_state, &many_records),
        (Some(start + Duration::minutes(50 * 9_953)), 31)
    );
    // Nothing returned: 31 tiers $10 apart from $99,700, each reached by
    // one of orders 9,969 to 9,999, all after the late $10 order, which
    // moves each of those lifts one order earlier: the course since it is
    // walked again (`older_ends.rs`), its lifts dated on the orders.
    let lifted: Vec<(&str, u32)> = names
        .iter()
        .zip(0..)
        .map(|(name, j)| (name.as_str(), 99_700 + 10 * j))
        .collect();
    let lifted = by_purchases("lazy", &lifted);
    let (many_kept, many_kept_records) = with_orders(&lifted, start, 10_000);
    assert_eq!(many_kept.tier, "T31");
    let walked = lifted
        .apply_order_among(&mut many_kept.clone(), &late, &many_kept_records)
        .unwrap();
    assert_eq!(walked.decision.tier_after, 31);
    let mut group = c.benchmark_group("late_crossing_returned_since");
    late_order(
        &mut group,
        "nothing_returned",
        &p,
        &state,
        &late,
        Some(&records),
    );
    late_order(
        &mut group,
        "16_returned_between_the_datings",
        &p,
        &returned_state,
        &late,
        Some(&returned),
    );
    late_order(
        &mut group,
        "31_tiers_one_step_each_16_returned",
        &many,
        &many_state,
        &late_310,
        Some(&many_records),
    );
    late_order(
        &mut group,
        "31_tiers_lifted_since",
        &lifted,
        &many_kept,
        &late,
        Some(&many_kept_records),
    );
    group.finish();
}

/// A late order placed before the customer's upgrade, decided at the tier
/// held then: on the figures as they stand it would cross the tier reached
/// since, so the engine asks for the orders (`wants_orders`) and decides it
/// on those placed up to it.
fn held_then(c: &mut Criterion) {
    let p = by_purchases("eager", &[("Silver", 50_000)]);
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let (state, records) = with_orders(&p, start, 10_000);
    assert_eq!(state.tier, "Silver");
    let late = order(10_000, start + Duration::minutes(5), 1_000);
    let alone = p.apply_order(&mut state.clone(), &late).unwrap();
    assert!(alone.wants_orders);
    let among = p
        .apply_order_among(&mut state.clone(), &late, &records)
        .unwrap();
    assert_eq!(among.decision.points, Decimal::from(10));
    // Placed just before the order that crossed: 4,999 orders before it
    // are read as they stood and replayed.
    let midway = order(10_001, start + Duration::minutes(50 * 4_998 + 5), 1_000);
    assert!(
        p.apply_order(&mut state.clone(), &midway)
            .unwrap()
            .wants_orders
    );
    let mut group = c.benchmark_group("held_then");
    late_order(
        &mut group,
        "among_10000_orders",
        &p,
        &state,
        &late,
        Some(&records),
    );
    late_order(
        &mut group,
        "midway_among_10000_orders",
        &p,
        &state,
        &midway,
        Some(&records),
    );
    late_order(&mut group, "alone", &p, &state, &late, None);
    group.finish();
}

/// A $10 return of the first of 10,000 orders of $10 that undoes Gold
/// (at $99,995, reached by the last order): made just before the last 30
/// orders but arriving after them (a late return, dated by replaying the
/// orders at each later instant), against the same return made after them.
fn late_return(c: &mut Criterion) {
    let p = by_purchases("lazy", &[("Silver", 50_000), ("Gold", 99_995)]);
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let (state, records) = with_orders(&p, start, 10_000);
    assert_eq!(state.tier, "Gold");
    let (first, others) = records.split_first().unwrap();
    let history = ReturnHistory {
        orders: others,
        rules: &CurrentRulesOnly,
    };
    let give_back = |minutes: i64, amount: Option<Decimal>| {
        return_of(first, start + Duration::minutes(minutes), amount)
    };
    let late = give_back(50 * 9_970 + 1, None);
    let in_time = give_back(50 * 10_000, None);
    // $1 back: still Gold, reached at the same order in time.
    let leaves_the_tier = give_back(50 * 9_970 + 1, Some(Decimal::ONE));
    let mut group = c.benchmark_group("late_return");
    for (name, ret, lands) in [
        ("made_before_30_of_10000_orders", &late, 1),
        ("in_time", &in_time, 1),
        (
            "leaving_the_tier_made_before_30_of_10000",
            &leaves_the_tier,
            2,
        ),
    ] {
        let mut s = state.clone();
        let back = p
            .apply_return_judged(&mut s, &mut first.clone(), ret, &history)
            .unwrap();
        assert_eq!(back.tier_after, lands, "{name}");
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || (state.clone(), first.clone()),
                |(s, record)| black_box(p.apply_return_judged(s, record, black_box(ret), &history)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// Member at rate 1, then each tier at the next rate, reached by lifetime
/// purchases of its dollars.
fn by_purchases(upgrade_type: &str, tiers: &[(&str, u32)]) -> Program {
    let above = tiers.iter().zip(2..).map(|((name, min), rate)| {
        json!({"name": name, "earnRate": rate.to_string(), "upgrade": {"criteria": [
            {"id": "A", "kind": "lifetimePurchases", "min": min}],
            "condition": "all", "upgradeType": upgrade_type}})
    });
    let all: Vec<Value> = std::iter::once(json!({"name": "Member", "earnRate": "1"}))
        .chain(above)
        .collect();
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z", "tiers": all});
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

/// A customer who placed `n` orders of $10, 50 minutes apart from `start`,
/// and the orders' records.
fn with_orders(p: &Program, start: DateTime<Utc>, n: usize) -> (CustomerState, Vec<OrderRecord>) {
    let mut state = CustomerState::new(p, start);
    let records = (0..n)
        .map(|i| {
            let o = order(i, start + Duration::minutes(50 * i as i64), 1_000);
            p.apply_order(&mut state, &o).unwrap().record
        })
        .collect();
    (state, records)
}

/// A return of `amount` (all of it: None) of the customer's first order,
/// made at `at`, judged among the other orders.
fn return_first(
    p: &Program,
    state: &mut CustomerState,
    records: &mut [OrderRecord],
    at: DateTime<Utc>,
    amount: Option<Decimal>,
) {
    let (first, others) = records.split_first_mut().unwrap();
    let history = ReturnHistory {
        orders: others,
        rules: &CurrentRulesOnly,
    };
    let back = return_of(first, at, amount);
    p.apply_return_judged(state, first, &back, &history)
        .unwrap();
}

/// A return of `amount` (all of it: None) of `order`, made at `at`.
fn return_of(order: &OrderRecord, at: DateTime<Utc>, amount: Option<Decimal>) -> Return {
    Return {
        return_id: "r".into(),
        order_id: order.order_id.clone(),
        customer_id: "c".into(),
        returned_at: at,
        amount,
    }
}

/// `back` of `record` judged on copies of `state` among `history`.
fn return_judged(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: String,
    p: &Program,
    (state, record): (&CustomerState, &OrderRecord),
    back: &Return,
    history: &ReturnHistory<'_>,
) {
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || (state.clone(), record.clone()),
            |(s, record)| black_box(p.apply_return_judged(s, record, black_box(back), history)),
            BatchSize::SmallInput,
        )
    });
}

/// `late` applied to copies of `state`, among `records` or alone (as the
/// service first applies it).
fn late_order(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    p: &Program,
    state: &CustomerState,
    late: &Order,
    records: Option<&[OrderRecord]>,
) {
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| {
                black_box(match records {
                    Some(records) => p.apply_order_among(s, black_box(late), records),
                    None => p.apply_order(s, black_box(late)),
                })
                .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
}

/// A late order placed midway through 10,000 orders of $10, after which
/// the customer returned a whole order: on the orders as they stood at its
/// instant it crosses Silver, and the return undoes the crossing (up at
/// the order, down at the return). Against the same order among the same
/// orders without the return (crossing as they stand, dated among them).
fn returned_since(c: &mut Criterion) {
    let p = by_purchases("eager", &[("Silver", 50_000)]);
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let (without_return, records_without) = with_orders(&p, start, 4_999);
    let (mut state, mut records) = (without_return.clone(), records_without.clone());
    let late = order(10_000, start + Duration::minutes(50 * 2_500 + 5), 1_000);
    let last = records.last().unwrap().placed_at;
    return_first(
        &p,
        &mut state,
        &mut records,
        last + Duration::minutes(1),
        None,
    );
    assert!(
        p.apply_order(&mut state.clone(), &late)
            .unwrap()
            .wants_orders
    );
    let mut s = state.clone();
    let among = p.apply_order_among(&mut s, &late, &records).unwrap();
    assert_eq!(
        (among.decision.upgrades.len(), s.tier.as_str()),
        (1, "Member")
    );
    // Without the return it crosses on the figures as they stand, and is
    // dated among the orders as before.
    let mut s = without_return.clone();
    let dated = p
        .apply_order_among(&mut s, &late, &records_without)
        .unwrap();
    assert_eq!(
        (dated.decision.upgrades.len(), s.tier.as_str()),
        (1, "Silver")
    );
    let mut group = c.benchmark_group("returned_since");
    late_order(
        &mut group,
        "midway_among_5000_orders",
        &p,
        &state,
        &late,
        Some(&records),
    );
    late_order(
        &mut group,
        "without_the_return_among_5000_orders",
        &p,
        &without_return,
        &late,
        Some(&records_without),
    );
    late_order(&mut group, "alone", &p, &state, &late, None);
    group.finish();
}

/// A customer at Silver since their first order ($30,000), then 4,999
/// orders of $1; a return of $26,000 of the first, after them all, moved
/// them down. A $25,000 order placed before the last 20 comes after the
/// return: it is decided at Silver, held then, and the course from its
/// instant with it counted (21 instants, each a replay of the 5,000
/// orders) keeps Silver, so the move down is undone. Against the same
/// order without the return (held Silver then and now).
fn moved_down_since(c: &mut Criterion) {
    let p = by_purchases("lazy", &[("Silver", 30_000)]);
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let mut state = CustomerState::new(&p, start);
    let mut records: Vec<OrderRecord> = (0..5_000)
        .map(|i| {
            let cents = if i == 0 { 3_000_000 } else { 100 };
            let o = order(i, start + Duration::minutes(50 * i as i64), cents);
            p.apply_order(&mut state, &o).unwrap().record
        })
        .collect();
    let (without_return, records_without) = (state.clone(), records.clone());
    let last = records.last().unwrap().placed_at;
    let late = order(10_000, last - Duration::minutes(50 * 20 - 5), 2_500_000);
    let returned_at = last + Duration::minutes(1);
    return_first(
        &p,
        &mut state,
        &mut records,
        returned_at,
        Some(Decimal::from(26_000)),
    );
    assert_eq!(state.tier, "Member");
    assert!(
        p.apply_order(&mut state.clone(), &late)
            .unwrap()
            .wants_orders
    );
    let mut s = state.clone();
    let among = p.apply_order_among(&mut s, &late, &records).unwrap();
    assert_eq!(
        (among.decision.points, s.tier.as_str()),
        (Decimal::from(50_000), "Silver"),
        "paid at Silver's rate, the move down undone"
    );
    let mut group = c.benchmark_group("moved_down_since");
    late_order(
        &mut group,
        "before_the_last_20_of_5000_orders",
        &p,
        &state,
        &late,
        Some(&records),
    );
    late_order(
        &mut group,
        "without_the_return_among_5000_orders",
        &p,
        &without_return,
        &late,
        Some(&records_without),
    );
    late_order(&mut group, "alone", &p, &state, &late, None);
    group.finish();
}

/// Silver at $100,000 spent, kept a month at a time from when it was
/// reached by `keep` dollars over a month's tracker (`oneDown`, after
/// `grace_days`).
fn silver_kept_monthly(keep: u32, grace_days: u32) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": {"months": 1}}],
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "U", "kind": "lifetimePurchases", "min": 100_000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": keep}],
                "condition": "all", "onFail": "oneDown", "graceDays": grace_days}}]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

const TWO_YEARS_FROM: &str = "2026-01-02T00:00:00Z";

/// 2,000 orders of $10 over two years (one every 8 h 46 min), in time.
fn two_years_of_orders(p: &Program) -> (CustomerState, Vec<OrderRecord>) {
    first_of_two_years_of_orders(p, 2_000)
}

/// The first `n` of [`two_years_of_orders`].
fn first_of_two_years_of_orders(p: &Program, n: usize) -> (CustomerState, Vec<OrderRecord>) {
    let start: DateTime<Utc> = TWO_YEARS_FROM.parse().unwrap();
    let mut state = CustomerState::new(p, start);
    let records = (0..n)
        .map(|i| {
            let o = order(i, start + Duration::minutes(526) * i as i32, 1_000);
            p.apply_order(&mut state, &o).unwrap().record
        })
        .collect();
    (state, records)
}

/// $100,000 placed a day after the first of [`two_years_of_orders`].
fn late_upgrade_order() -> Order {
    let start: DateTime<Utc> = TWO_YEARS_FROM.parse().unwrap();
    order(10_000, start + Duration::days(1), 10_000_000)
}

/// A late $100,000 order placed a day after the first of 2,000 orders of
/// $10 spread over two years (one every 8 h 46 min): Silver from its
/// instant, and the 23 monthly ends its validity brought by the
/// latest order judged in its own decision (`late_ends.rs`), each on the
/// windows counted again from the orders. Kept by $200 a month, it renews
/// 23 times; by $1,000, it moves down at each end and the next order lifts
/// it again. Against the same order among the same orders
/// under a program without retention (dated, nothing to judge after it).
fn late_ends(c: &mut Criterion) {
    let run = two_years_of_orders;
    let late = late_upgrade_order();
    let mut group = c.benchmark_group("late_ends");
    // Kept by a sum never reached, with a year of grace: each grace holds
    // about 1,000 orders, each of which could have renewed the tier.
    for (name, keep, grace_days, least_changes) in [
        ("renewed_23_times", 200, 0, 20),
        ("down_and_lifted_23_times", 1_000, 0, 20),
        ("in_graces_nothing_recovers", 1_000_000, 366, 2),
    ] {
        let p = silver_kept_monthly(keep, grace_days);
        let (state, records) = run(&p);
        let mut s = state.clone();
        p.apply_order_among(&mut s, &late, &records).unwrap();
        let changes = s.history.len();
        assert!(changes > least_changes, "{name}: {changes} changes");
        late_order(&mut group, name, &p, &state, &late, Some(&records));
    }
    // Just under the replay's bound of 2,000 events (`replay.rs`): the
    // same decision, then every order applied again in time.
    let p = silver_kept_monthly(200, 0);
    let (state, records) = first_of_two_years_of_orders(&p, 1_999);
    late_order(
        &mut group,
        "renewed_23_times_1999_orders",
        &p,
        &state,
        &late,
        Some(&records),
    );
    let p = by_purchases("lazy", &[("Silver", 100_000)]);
    let (state, records) = run(&p);
    late_order(
        &mut group,
        "without_retention",
        &p,
        &state,
        &late,
        Some(&records),
    );
    group.finish();
}

/// Silver from 100,000 current points, kept a month at a time by 1,000
/// current points; points last 60 days when `expiring`.
fn silver_kept_by_current_points(expiring: bool) -> Program {
    let mut config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "U", "kind": "currentPoints", "min": 100_000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "currentPoints", "min": 1_000}],
                "condition": "all", "onFail": "oneDown"}}]
    });
    if expiring {
        config["pointsExpiry"] = json!({"days": 60});
    }
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

/// [`late_ends`]' late order and orders where both rules read current
/// points: with points lasting 60 days, each of the 23 ends is judged on
/// current points with expiry replayed on the lots of the orders placed
/// before it (`late_ends.rs`'s `Figures`: nothing returned, one walk on
/// from end to end); without expiry, on lifetime points less what was
/// spent.
/// Renewed 23 times either way (60 days of orders hold about 1,600
/// points).
fn late_ends_as_points_expire(c: &mut Criterion) {
    let late = late_upgrade_order();
    let mut group = c.benchmark_group("late_ends_by_current_points");
    for (name, expiring) in [("points_expire", true), ("points_last", false)] {
        let p = silver_kept_by_current_points(expiring);
        let (mut state, records) = two_years_of_orders(&p);
        // As the service reads them (`wants_redemptions`): none made.
        if p.wants_redemptions(&state) {
            state.redemptions = Some(Redemptions::new(Vec::new()));
        }
        let mut s = state.clone();
        p.apply_order_among(&mut s, &late, &records).unwrap();
        let renewed = s.history.len() > 20 && s.history.iter().all(|c| c.to == "Silver");
        assert!(renewed, "{name}: {:?}", s.history);
        late_order(&mut group, name, &p, &state, &late, Some(&records));
    }
    group.finish();
}

/// A Silver customer (a first order of $100,000) with `count` orders of $10
/// over `years`, kept monthly by `keep` dollars with `grace_days`.
fn silver_over_years(
    count: usize,
    years: i64,
    keep: u32,
    grace_days: u32,
) -> (Program, CustomerState, Vec<OrderRecord>) {
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let every = Duration::minutes(years * 365 * 24 * 60 / count as i64);
    let p = silver_kept_monthly(keep, grace_days);
    let mut state = CustomerState::new(&p, start);
    let records: Vec<OrderRecord> = (0..count)
        .map(|i| {
            let cents = if i == 0 { 10_000_000 } else { 1_000 };
            let o = order(i, start + every * i as i32, cents);
            p.apply_order(&mut state, &o).unwrap().record
        })
        .collect();
    (p, state, records)
}

/// A late $10 order placed a day after the first of a Silver customer's
/// orders comes before every judged end, and the course from the upgrade
/// is walked again (`older_ends.rs`): 2,000 orders over two years, kept by
/// $200 a month (renewed 23 times); 20,000 orders over seven years (83
/// renewals); 20,000 orders over five years kept by $5,000 with 40 days of
/// grace (no order recovers: 25 graces, each a move down at its end and a
/// lift by the next order). Each walk stays within one decision's 90
/// notices (83 and 76), past which it would be dropped whole. Against one
/// placed after the latest judged end of the first (at the latest order's
/// instant less an hour), which is not walked, in the same run.
fn older_ends(c: &mut Criterion) {
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let mut group = c.benchmark_group("older_ends");
    let two_years = silver_over_years(2_000, 2, 200, 0);
    let latest = two_years.1.last_event_at.unwrap();
    let cases = [
        ("walked_over_23_ends", &two_years, start + Duration::days(1)),
        (
            "after_the_latest_end",
            &two_years,
            latest - Duration::hours(1),
        ),
    ];
    let eight_years = silver_over_years(20_000, 7, 200, 0);
    let in_graces = silver_over_years(20_000, 5, 5_000, 40);
    let cases = cases.into_iter().chain([
        (
            "walked_over_83_ends",
            &eight_years,
            start + Duration::days(1),
        ),
        (
            "walked_over_25_graces",
            &in_graces,
            start + Duration::days(1),
        ),
    ]);
    for (name, (p, state, records), placed_at) in cases {
        // The walk retells the course it finds (here the one told): past
        // one decision's notices it is dropped, and only the latest end
        // judged again.
        assert!(
            (state.notices_sent as usize) < MAX_NOTICES_PER_DECISION,
            "{name}: {} notices",
            state.notices_sent
        );
        let late = order(100_000, placed_at, 1_000);
        let mut s = state.clone();
        let applied = p.apply_order_among(&mut s, &late, records).unwrap();
        assert_eq!(applied.record.tier_after, "Silver", "{name}");
        late_order(&mut group, name, p, state, &late, Some(records));
    }
    group.finish();
}

/// [`silver_over_years`] with a $1 return, a minute after it, of one
/// order in every 240 (about one a week), each applied in time.
fn silver_over_years_with_returns(
    count: usize,
    years: i64,
    keep: u32,
) -> (Program, CustomerState, Vec<OrderRecord>) {
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let every = Duration::minutes(years * 365 * 24 * 60 / count as i64);
    let p = silver_kept_monthly(keep, 0);
    let mut state = CustomerState::new(&p, start);
    let mut records: Vec<OrderRecord> = Vec::with_capacity(count);
    for i in 0..count {
        let cents = if i == 0 { 10_000_000 } else { 1_000 };
        let o = order(i, start + every * i as i32, cents);
        let mut record = p.apply_order(&mut state, &o).unwrap().record;
        if i % 240 == 1 {
            let ret = Return {
                return_id: format!("r{i}"),
                order_id: record.order_id.clone(),
                customer_id: "c".into(),
                returned_at: o.placed_at + Duration::minutes(1),
                amount: Some(Decimal::ONE),
            };
            let history = ReturnHistory {
                orders: &records,
                rules: &CurrentRulesOnly,
            };
            p.apply_return_judged(&mut state, &mut record, &ret, &history)
                .unwrap();
        }
        records.push(record);
    }
    (p, state, records)
}

/// A late $1 return of the second order, made a day after the first, of
/// the 20,000-order Silver customer over seven years (83 monthly ends)
/// with a $1 return about every week: under a retention rule it walks
/// the course again (`older_ends.rs`), each step looking for a move down
/// by the returns made before the next (a replay of the orders each).
/// Against the same customer's late $10 order placed then, also walked.
fn late_return_walked(c: &mut Criterion) {
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let (p, state, records) = silver_over_years_with_returns(20_000, 7, 200);
    let mut group = c.benchmark_group("late_return_walked");
    let (second, others): (Vec<OrderRecord>, Vec<OrderRecord>) =
        records.iter().cloned().partition(|r| r.order_id == "o1");
    let ret = Return {
        return_id: "late".into(),
        order_id: "o1".into(),
        customer_id: "c".into(),
        returned_at: start + Duration::days(1),
        amount: Some(Decimal::ONE),
    };
    let history = ReturnHistory {
        orders: &others,
        rules: &CurrentRulesOnly,
    };
    let mut s = state.clone();
    let back = p
        .apply_return_judged(&mut s, &mut second[0].clone(), &ret, &history)
        .unwrap();
    assert_eq!(back.tier_after, 1);
    group.bench_function("return_over_83_ends_with_returns", |b| {
        b.iter_batched_ref(
            || (state.clone(), second[0].clone()),
            |(s, record)| black_box(p.apply_return_judged(s, record, black_box(&ret), &history)),
            BatchSize::SmallInput,
        )
    });
    let late = order(100_000, start + Duration::days(1), 1_000);
    late_order(
        &mut group,
        "order_over_83_ends_with_returns",
        &p,
        &state,
        &late,
        Some(&records),
    );
    group.finish();
}

/// A return's judgment under a `currentPoints` rule, among 10,000 orders
/// of $10 50 minutes apart: where points last 30 days (the walk replays
/// each order's lot expiring) against the same program where they never
/// expire (current points are the orders' points). Silver from 8,000
/// current points, reached within the first month either way; the whole
/// first order comes back after the last.
fn return_judged_as_points_expire(c: &mut Criterion) {
    let silver = |expiry: Option<Value>| {
        let mut config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "tiers": [{"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 8000}],
                    "condition": "all", "upgradeType": "lazy"}}]});
        if let Some(expiry) = expiry {
            config["pointsExpiry"] = expiry;
        }
        Program::validate(serde_json::from_value(config).unwrap()).unwrap()
    };
    let start: DateTime<Utc> = "2026-01-02T00:00:00Z".parse().unwrap();
    let mut group = c.benchmark_group("return_judged");
    for (name, p) in [
        ("points_never_expire_10000_orders", silver(None)),
        (
            "points_expire_after_30_days_10000_orders",
            silver(Some(json!({"days": 30}))),
        ),
    ] {
        let (state, records) = with_orders(&p, start, 10_000);
        assert_eq!(state.tier, "Silver", "{name}");
        let (first, others) = records.split_first().unwrap();
        let history = ReturnHistory {
            orders: others,
            rules: &CurrentRulesOnly,
        };
        let back = return_of(first, start + Duration::minutes(50 * 10_000), None);
        let mut s = state.clone();
        let judged = p
            .apply_return_judged(&mut s, &mut first.clone(), &back, &history)
            .unwrap();
        assert_eq!(p.tier_name(judged.tier_after), "Silver", "{name}");
        return_judged(
            &mut group,
            name.to_string(),
            &p,
            (&state, first),
            &back,
            &history,
        );
    }
    group.finish();
}

/// A return of $1 of a $100,000 order placed a day after the first of
/// 1,997 orders of $10 over two years (Silver, kept a month at a time by
/// $200 and renewed 23 times), judged and then checked by the replay in
/// time of every order (`replay.rs`): made after every order, and made a
/// day after the big one but told after every order (a late return).
/// Against the same on 1,999 orders of $10 (with the return, past the
/// replay's bound of 2,000 events).
fn return_replayed(c: &mut Criterion) {
    let p = silver_kept_monthly(200, 0);
    let start: DateTime<Utc> = TWO_YEARS_FROM.parse().unwrap();
    let customer = |small: usize| {
        let mut orders: Vec<Order> = (0..small)
            .map(|i| order(i, start + Duration::minutes(526) * i as i32, 1_000))
            .collect();
        orders.push(late_upgrade_order());
        orders.sort_by_key(|o| o.placed_at);
        let mut state = CustomerState::new(&p, start);
        let records: Vec<OrderRecord> = orders
            .iter()
            .map(|o| p.apply_order(&mut state, o).unwrap().record)
            .collect();
        assert_eq!(state.tier, "Silver");
        (state, records)
    };
    let mut group = c.benchmark_group("return_replayed");
    for (name, small) in [
        ("1998_orders", 1_997),
        ("2000_orders_past_the_bound", 1_999),
    ] {
        let (state, records) = customer(small);
        let big = records
            .iter()
            .find(|r| r.order_id == late_upgrade_order().order_id)
            .unwrap()
            .clone();
        let others: Vec<OrderRecord> = records
            .iter()
            .filter(|r| r.order_id != big.order_id)
            .cloned()
            .collect();
        let history = ReturnHistory {
            orders: &others,
            rules: &CurrentRulesOnly,
        };
        let latest = records.iter().map(|r| r.placed_at).max().unwrap();
        for (when, at) in [
            ("in_time", latest + Duration::minutes(1)),
            ("late", big.placed_at + Duration::days(1)),
        ] {
            let back = return_of(&big, at, Some(Decimal::ONE));
            let mut s = state.clone();
            let judged = p
                .apply_return_judged(&mut s, &mut big.clone(), &back, &history)
                .unwrap();
            assert_eq!(p.tier_name(judged.tier_after), "Silver", "{name} {when}");
            let name = format!("{when}_{name}");
            return_judged(&mut group, name, &p, (&state, &big), &back, &history);
        }
    }
    group.finish();
}

/// The replay of a late return where returns are among the events: the
/// big order (Silver, kept by $200 a month) and `n` orders of $10 after
/// it, each returned by $1 an hour later, in time; then $1 of the big
/// order returned, made a day after it. Each return inside the replay is
/// decided by its paths, which read every order, so the cost grows with
/// returns times orders (`MAX_REPLAYED_EVENTS` counts events alone).
fn return_replayed_among_returns(c: &mut Criterion) {
    let p = silver_kept_monthly(200, 0);
    let start: DateTime<Utc> = TWO_YEARS_FROM.parse().unwrap();
    let mut group = c.benchmark_group("return_replayed_among_returns");
    group.sample_size(10);
    for n in [250usize, 500, 998] {
        let mut state = CustomerState::new(&p, start);
        let big = p
            .apply_order(&mut state, &late_upgrade_order())
            .unwrap()
            .record;
        // Every order read, the big one too: without it each $1 return
        // undid the lift its order made, a tier change per event.
        let mut records = vec![big.clone()];
        for i in 0..n {
            let placed = start + Duration::days(2) + Duration::minutes(526) * i as i32;
            let mut record = p
                .apply_order(&mut state, &order(i, placed, 1_000))
                .unwrap()
                .record;
            let back = return_of(&record, placed + Duration::hours(1), Some(Decimal::ONE));
            let history = ReturnHistory {
                orders: &records,
                rules: &CurrentRulesOnly,
            };
            p.apply_return_judged(&mut state, &mut record, &back, &history)
                .unwrap();
            records.push(record);
        }
        let history = ReturnHistory {
            orders: &records,
            rules: &CurrentRulesOnly,
        };
        assert!(state.history.len() < 20, "{n}: {}", state.history.len());
        let back = return_of(&big, big.placed_at + Duration::days(1), Some(Decimal::ONE));
        let name = format!("{}_orders_{n}_returns", n + 1);
        return_judged(&mut group, name, &p, (&state, &big), &back, &history);
    }
    group.finish();
}

criterion_group!(
    benches,
    bench,
    late_upgrade,
    late_crossing_returned_since,
    held_then,
    late_return,
    returned_since,
    moved_down_since,
    late_ends,
    late_ends_as_points_expire,
    older_ends,
    late_return_walked,
    return_judged_as_points_expire,
    return_replayed,
    return_replayed_among_returns
);
criterion_main!(benches);
