//! How often a late order asks for the customer's orders (one query of
//! their order items in the service), on a workload of customers who order
//! every few days over two years, a nightly job, and a share of orders
//! arriving up to three days late. Counts, not times: run it at two
//! commits to compare what a sign costs. A second workload has customers
//! who spend points under a current-points rule: there it also counts how
//! many of the reads (orders and redemptions) changed the decision.
//!
//! Run: `cargo bench -p tier-engine --bench late_asks`

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use tier_engine::*;

/// Silver at $1,000 over 30 days, Gold at 120 visits over 12 months.
fn program() -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2025-01-01T00:00:00Z",
        "trackers": [
            {"id": "spend30d", "measure": "billAmount", "period": {"days": 30}},
            {"id": "visits12m", "measure": "visits", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1.5", "upgrade": {"criteria": [
                {"id": "A", "kind": "tracker", "tracker": "spend30d", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "A", "kind": "tracker", "tracker": "visits12m", "min": 120}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

/// A fixed-seed generator: the counts are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Silver at 1,000 current points, Gold at 3,000 (1 point a dollar).
fn spenders_program() -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2025-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

enum Event {
    Order(Order),
    Job,
}

#[derive(Default)]
struct Counts {
    orders: usize,
    late: usize,
    late_across_a_job: usize,
    asked: usize,
    /// Of those asked, how many the orders (and redemptions) changed.
    changed: usize,
    redemptions: usize,
}

fn main() {
    let visits = run(&program(), false);
    report("windows and visits", &visits);
    let spenders = run(&spenders_program(), true);
    report("current points, spenders", &spenders);
}

fn report(name: &str, counts: &Counts) {
    let Counts {
        orders,
        late,
        late_across_a_job,
        asked,
        changed,
        redemptions,
    } = counts;
    println!(
        "{name}: orders {orders}, redemptions {redemptions}, late {late} (across a job run \
         {late_across_a_job}), asked for the orders {asked} ({:.1} % of late orders, {:.2} % \
         of orders), of which the orders changed {changed}",
        100.0 * *asked as f64 / (*late).max(1) as f64,
        100.0 * *asked as f64 / (*orders).max(1) as f64,
    );
}

/// What a decision shows: tier, its start, the order's points, the history.
fn outcome(
    state: &CustomerState,
    applied: &AppliedOrder,
) -> (String, DateTime<Utc>, Decimal, usize) {
    (
        state.tier.clone(),
        state.tier_since,
        applied.decision.points,
        state.history.len(),
    )
}

/// The workload under `p`; with `spend`, a customer holding 900 points or
/// more redeems 600 of them after one order in four.
fn run(p: &Program, spend: bool) -> Counts {
    let start: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let mut rng = Lcg(7);
    let mut counts = Counts::default();
    for customer in 0..300 {
        // (arrival, placed, event): orders every 1 to 6 days, 5 % of them
        // arriving 1 to 72 hours late; the job every midnight.
        let mut events: Vec<(DateTime<Utc>, Event)> = (1..730)
            .map(|day| (start + Duration::days(day), Event::Job))
            .collect();
        let mut placed = start + Duration::hours(rng.below(48) as i64);
        let mut n = 0;
        while placed < start + Duration::days(730) {
            let delay = if rng.below(100) < 5 {
                Duration::hours(1 + rng.below(72) as i64)
            } else {
                Duration::zero()
            };
            let order = Order {
                order_id: format!("c{customer}-{n}"),
                customer_id: format!("c{customer}"),
                placed_at: placed,
                status: OrderStatus::Completed,
                amount: Decimal::new(2_000 + rng.below(30_000) as i64, 2),
                gross_amount: None,
                currency: None,
                line_items: vec![],
            };
            events.push((placed + delay, Event::Order(order)));
            placed += Duration::hours(24 + rng.below(5 * 24) as i64);
            n += 1;
        }
        events.sort_by_key(|(arrival, _)| *arrival);
        let mut state = CustomerState::new(p, start);
        let mut last_job: Option<DateTime<Utc>> = None;
        let mut records: Vec<OrderRecord> = Vec::new();
        let mut redeemed: Vec<Redeemed> = Vec::new();
        for (arrival, event) in events {
            match event {
                Event::Job => {
                    p.expire(&mut state, arrival);
                    last_job = Some(arrival);
                }
                Event::Order(order) => {
                    counts.orders += 1;
                    let late = state
                        .last_event_at
                        .is_some_and(|last| order.placed_at < last);
                    counts.late += usize::from(late);
                    counts.late_across_a_job +=
                        usize::from(late && last_job.is_some_and(|job| order.placed_at < job));
                    let before = state.clone();
                    let mut applied = p.apply_order(&mut state, &order).unwrap();
                    if applied.wants_orders {
                        counts.asked += 1;
                        let alone = outcome(&state, &applied);
                        state = before;
                        if p.wants_redemptions(&state) {
                            state.redemptions = Some(Redemptions::new(redeemed.clone()));
                        }
                        applied = p.apply_order_among(&mut state, &order, &records).unwrap();
                        state.redemptions = None;
                        counts.changed += usize::from(outcome(&state, &applied) != alone);
                    }
                    records.push(applied.record);
                    let points = Decimal::from(600);
                    if spend && state.current_points >= Decimal::from(900) && rng.below(4) == 0 {
                        let r = Redemption {
                            redemption_id: format!("x{}", redeemed.len()),
                            points,
                            at: arrival,
                        };
                        if p.redeem(&mut state, &r).is_ok() {
                            counts.redemptions += 1;
                            redeemed.push(Redeemed {
                                at: arrival,
                                points,
                            });
                        }
                    }
                }
            }
        }
    }
    counts
}
