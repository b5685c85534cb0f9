//! One order against a customer with a year of daily history, on a 4-tier
//! program with 3 trackers (visits, category line-item price, max bill).
//!
//! Run: `cargo bench -p tier-engine --bench apply_order`

use chrono::{DateTime, Duration, Utc};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rust_decimal::Decimal;
use serde_json::json;
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

criterion_group!(benches, bench);
criterion_main!(benches);
