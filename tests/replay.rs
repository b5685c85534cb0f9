//! A generated purchase history of thousands of customers replayed through
//! the local API, compared customer by customer with a second, deliberately
//! simple implementation of the same rules written here.

use e2e::{on_both_engines, Api};
use futures::future::join_all;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;
use std::collections::BTreeMap;

const CUSTOMERS: usize = 2_000;
const WORKERS: usize = 8;

/// Member -> Silver at $3,000 spent or one order of $1,500 -> Gold at
/// $10,000 spent; lazy upgrades; 1 %, 2 %, 3 %.
fn config() -> serde_json::Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "spent", "kind": "lifetimePurchases", "min": "3000"},
                {"id": "one", "kind": "singleOrder", "min": "1500"}],
                "condition": {"any": 1}, "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "0.03", "upgrade": {"criteria": [
                {"id": "spent", "kind": "lifetimePurchases", "min": "10000"}],
                "condition": "all", "upgradeType": "lazy"}}]
    })
}

#[derive(Debug, Clone)]
struct Purchase {
    id: String,
    at: String,
    cents: i64,
}

/// A fixed pseudo-random history: a few orders per customer, some free.
fn history() -> BTreeMap<String, Vec<Purchase>> {
    let mut rng = fastrand::Rng::with_seed(20_261_130);
    let mut out = BTreeMap::new();
    for c in 0..CUSTOMERS {
        let n = rng.usize(1..5);
        let mut day = rng.u32(0..30);
        let purchases = (0..n)
            .map(|i| {
                day += rng.u32(0..40);
                let cents = match rng.u8(0..20) {
                    0 => 0,
                    1 => rng.i64(150_000..400_000),
                    _ => rng.i64(1..120_000),
                };
                Purchase {
                    id: format!("o{i}"),
                    at: format!("2026-{:02}-{:02}T12:00:00Z", 1 + day / 28, 1 + day % 28),
                    cents,
                }
            })
            .collect();
        out.insert(format!("cust{c:05}"), purchases);
    }
    out
}

/// The rules, simply: each order earns at the rate of the tier held before
/// it (lazy), rounded to the cent half away from zero; then the customer
/// moves to the highest tier whose threshold holds.
fn expected(purchases: &[Purchase]) -> (&'static str, Decimal, Decimal) {
    let rates = [Decimal::new(1, 2), Decimal::new(2, 2), Decimal::new(3, 2)];
    let (mut tier, mut spent, mut points, mut best) =
        (0usize, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for p in purchases {
        let amount = Decimal::new(p.cents, 2);
        points += (amount * rates[tier])
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        spent += amount;
        best = best.max(amount);
        if spent >= Decimal::from(10_000) {
            tier = 2;
        } else if tier < 1 && (spent >= Decimal::from(3_000) || best >= Decimal::from(1_500)) {
            tier = 1;
        }
    }
    (["Member", "Silver", "Gold"][tier], spent, points)
}

async fn a_generated_history_replays_exactly(api: Api) {
    api.program("h", &config()).await;
    let history = history();
    let customers: Vec<(&String, &Vec<Purchase>)> = history.iter().collect();
    let api = &api;
    let chunks: Vec<Vec<(&String, &Vec<Purchase>)>> = (0..WORKERS)
        .map(|w| customers.iter().skip(w).step_by(WORKERS).cloned().collect())
        .collect();
    join_all(chunks.into_iter().map(|chunk| async move {
        for (customer, purchases) in chunk {
            for p in purchases {
                let amount = Decimal::new(p.cents, 2).to_string();
                api.order("h", customer, &p.id, &p.at, &amount).await;
            }
        }
    }))
    .await;
    let orders: usize = history.values().map(Vec::len).sum();
    let free = history.values().flatten().filter(|p| p.cents == 0).count();
    assert!(orders > 4_000 && free > 100, "{orders} orders, {free} free");
    let chunks: Vec<Vec<(&String, &Vec<Purchase>)>> = (0..WORKERS)
        .map(|w| customers.iter().skip(w).step_by(WORKERS).cloned().collect())
        .collect();
    join_all(chunks.into_iter().map(|chunk| async move {
        for (customer, purchases) in chunk {
            let (tier, spent, points) = expected(purchases);
            let status = api.status("h", customer, "2026-12-31T00:00:00Z").await;
            assert_eq!(status["tier"], tier, "{customer}");
            assert_eq!(
                status["lifetimePurchases"],
                spent.normalize().to_string(),
                "{customer}"
            );
            assert_eq!(
                status["currentPoints"],
                points.normalize().to_string(),
                "{customer}"
            );
        }
    }))
    .await;
}

on_both_engines!(a_generated_history_replays_exactly);
