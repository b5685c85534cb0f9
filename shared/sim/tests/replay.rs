//! `reread_trackers` (the per-event read-back the replay does) gives the
//! state `as_stored` (a JSON round trip of the whole state) gives.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use tier_engine::{CustomerState, LineItem, Order, OrderStatus, Program, ProgramConfig};
use tier_sim_core::replay::{as_stored, reread_trackers};

fn program() -> Program {
    let config: ProgramConfig = serde_json::from_str(
        r#"{
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"months": 3},
        "trackers": [
            {"id": "visits", "measure": "visits", "period": {"months": 3}},
            {"id": "spend", "measure": "billAmount", "period": {"days": 60}},
            {"id": "best", "measure": "lineItemPrice", "filter": {"category": "shoes"}, "period": {"months": 6}}],
        "tiers": [
            {"name": "Base", "earnRate": "0.01"},
            {"name": "Gold", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "V", "kind": "tracker", "tracker": "visits", "min": 3},
                {"id": "S", "kind": "lifetimePurchases", "min": "2000"}],
                "condition": {"any": 1}, "upgradeType": "eager"}},
            {"name": "Diamond", "earnRate": "0.03", "upgrade": {"criteria": [
                {"id": "B", "kind": "tracker", "tracker": "spend", "min": "3000"},
                {"id": "H", "kind": "tracker", "tracker": "best", "min": "200"}],
                "condition": {"any": 1}, "upgradeType": "dynamic"}}]
    }"#,
    )
    .expect("a config");
    Program::validate(config)
        .expect("a valid config")
        .with_version(3)
}

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, lo: i64, hi: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + ((self.0 >> 33) % (hi - lo) as u64) as i64
    }
}

fn order(i: u64, at: DateTime<Utc>, cents: i64) -> Order {
    let amount = Decimal::new(cents, 2);
    Order {
        order_id: format!("o{i:04}"),
        customer_id: "c".into(),
        placed_at: at,
        status: OrderStatus::Completed,
        amount,
        gross_amount: Some(amount),
        currency: None,
        line_items: vec![LineItem {
            sku: "s".into(),
            category: Some(if i.is_multiple_of(3) { "shoes" } else { "hats" }.into()),
            price: amount,
            quantity: Decimal::ONE,
        }],
    }
}

#[test]
fn rereading_the_trackers_is_reading_the_whole_state_back() {
    let program = program();
    let mut rng = Lcg(13);
    let mut at = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
    let mut state = CustomerState::new(&program, at);
    for i in 0..400 {
        // Gaps up to 40 days, so days keep leaving every window.
        at += Duration::hours(rng.below(1, 960));
        program
            .apply_order(&mut state, &order(i, at, rng.below(1, 150_000)))
            .expect("an order applies");
        let whole = as_stored(&state);
        let mut part = state.clone();
        reread_trackers(&mut part);
        assert_eq!(part, whole, "after order {i}");
        assert_eq!(
            serde_json::to_string(&part).unwrap(),
            serde_json::to_string(&whole).unwrap(),
            "after order {i}"
        );
        state = whole;
    }
}

#[test]
fn a_state_without_trackers_reads_back_as_it_is() {
    let config: ProgramConfig = serde_json::from_str(
        r#"{"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "tiers": [{"name": "Member", "earnRate": "0.01"},
                      {"name": "Gold", "earnRate": "0.03", "upgrade": {"criteria": [
                         {"id": "s", "kind": "lifetimePurchases", "min": "1000"}],
                         "condition": "all", "upgradeType": "lazy"}}]}"#,
    )
    .expect("a config");
    let program = Program::validate(config).expect("valid").with_version(1);
    let mut rng = Lcg(7);
    let mut at = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
    let mut state = CustomerState::new(&program, at);
    for i in 0..200 {
        at += Duration::hours(rng.below(1, 500));
        program
            .apply_order(&mut state, &order(i, at, rng.below(1, 150_000)))
            .expect("an order applies");
        state.config_version = Some(1);
        let mut part = state.clone();
        reread_trackers(&mut part);
        assert_eq!(part, as_stored(&state), "after order {i}");
    }
}

/// Whether the read-back changes any decision: the same orders on a state
/// never read back and on one read back before every order. (The engine
/// should not care; if this ever fails, the series' stored form loses
/// something a decision reads: an engine bug, not a replay one.)
#[test]
fn the_engine_decides_the_same_on_a_state_read_back_or_not() {
    let program = program();
    let mut rng = Lcg(29);
    let mut at = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
    let mut kept = CustomerState::new(&program, at);
    let mut read = kept.clone();
    for i in 0..600 {
        at += Duration::hours(rng.below(1, 1500));
        let o = order(i, at, rng.below(1, 250_000));
        reread_trackers(&mut read);
        let a = program.apply_order(&mut kept, &o).expect("applies");
        let b = program.apply_order(&mut read, &o).expect("applies");
        assert_eq!(a.decision, b.decision, "decision on order {i}");
        assert_eq!(kept, read, "state after order {i}");
    }
}

/// The replay reads a spender's redemptions where the service does: A
/// (400), 300 points redeemed, B (450) reaches Silver on 500 current
/// points; $100 of B returned leaves 450 at B, and the customer falls back
/// to Member, as the service decides (e2e `returns.rs`
/// `a_return_judges_an_upgrade_on_the_points_left_after_redemptions`).
#[test]
fn a_spenders_return_is_judged_on_the_points_left_as_the_service_judges_it() {
    use tier_engine::{Redemption, Return};
    use tier_sim_core::history::{Action, CustomerHistory, Event};
    let config: ProgramConfig = serde_json::from_str(
        r#"{
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "P", "kind": "currentPoints", "min": "500"}],
                "condition": "all", "upgradeType": "lazy"}}]
    }"#,
    )
    .expect("a config");
    let program = Program::validate(config).expect("a valid config");
    let day = |d: u32| Utc.with_ymd_and_hms(2026, 2, d, 0, 0, 0).unwrap();
    let plain = |id: &str, at: DateTime<Utc>, dollars: i64| Order {
        order_id: id.into(),
        line_items: vec![],
        gross_amount: None,
        ..order(0, at, dollars * 100)
    };
    let events = vec![
        Action::Order(plain("A", day(1), 400)),
        Action::Redemption(Redemption {
            redemption_id: "x".into(),
            points: Decimal::from(300),
            at: day(2),
        }),
        Action::Order(plain("B", day(3), 450)),
        Action::Return(Return {
            return_id: "r".into(),
            order_id: "B".into(),
            customer_id: "c".into(),
            returned_at: day(4),
            amount: Some(Decimal::from(100)),
        }),
    ];
    let history = CustomerHistory {
        customer_id: "c".into(),
        events: events
            .into_iter()
            .enumerate()
            .map(|(i, action)| Event {
                at: day(i as u32 + 1),
                seq: i as u64,
                action,
            })
            .collect(),
    };
    let run = tier_sim_core::replay::replay(&program, &history, &[day(3) + Duration::hours(1)]);
    assert_eq!(run.tiers_at, vec![Some(1)], "Silver after B");
    let state = run.state.expect("a customer");
    assert_eq!(state.tier, "Member");
    assert_eq!(state.current_points, Decimal::from(450));
    assert_eq!(run.refused, 0);
}

/// Two orders of one instant, b ($900) then a ($300), Silver (eager, twice
/// the rate) from 1,000 lifetime points: in production a crossed and
/// earned 600, 1,500 in all. Replayed by id, a came first and b crossed
/// with 1,800 (2,100). The records keep the order they came in
/// (`arrival`), and an export replays them so.
#[test]
fn orders_of_one_instant_replay_in_the_order_they_came() {
    use tier_sim_core::export::{assemble, CustomerItem};
    use tier_sim_core::replay::replay;
    let config: ProgramConfig = serde_json::from_str(
        r#"{"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "L", "kind": "lifetimePoints", "min": "1000"}],
                "condition": "all", "upgradeType": "eager"}}]}"#,
    )
    .unwrap();
    let program = Program::validate(config).unwrap().with_version(1);
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut state = CustomerState::new(&program, at);
    let mut items = Vec::new();
    for (id, cents) in [("o9", 90_000), ("o1", 30_000)] {
        let mut o = order(0, at, cents);
        o.order_id = id.into();
        let applied = program.apply_order(&mut state, &o).unwrap();
        items.push(CustomerItem::Order {
            id: id.into(),
            status: OrderStatus::Completed,
            record: Some(applied.record),
            at: None,
        });
    }
    assert_eq!(state.current_points, Decimal::from(1_500));
    items.push(CustomerItem::State {
        last_event_at: state.last_event_at,
    });
    let run = replay(&program, &assemble("c", items), &[]);
    let replayed = run.state.expect("a customer");
    assert_eq!(replayed.current_points, state.current_points);
    assert_eq!(replayed.tier, state.tier);
}
