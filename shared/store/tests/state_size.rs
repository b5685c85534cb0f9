//! The state item is read and written with every order, and DynamoDB bills
//! it per started KB (4 KB per read unit, 1 KB per write unit, twice that in
//! a transaction): its size must not grow with the number of orders.

#[path = "common/heavy_customer.rs"]
mod heavy_customer;

use heavy_customer::state_after;
use serde_json::json;
use tier_engine::*;

/// The state as the store encodes it, and what DynamoDB counts of the state
/// item (attribute names and values, a number as one byte per two
/// significant digits plus one) as the store writes it: `pk`, `sk`,
/// `version`, `state` and `nextExpiry`, for loadgen's customer of program
/// `load` (`CUSTOMER#4:load#c10000`).
fn state_item_bytes(per_year: usize, years: usize) -> (usize, usize) {
    item_bytes(&state_after(per_year, years), per_year)
}

/// [`state_item_bytes`] of `state`, customer `c{per_year}`.
fn item_bytes(state: &CustomerState, per_year: usize) -> (usize, usize) {
    // The binary form, as a store configured `STATE_FORMAT=binary` writes
    // it (every test here sets the same value before any state is encoded).
    std::env::set_var("STATE_FORMAT", "binary");
    let state = state.clone();
    let encoded = tier_store::encode_state(&state);
    let back = tier_store::decode_state(&encoded).unwrap();
    assert_eq!(back, state);
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        serde_json::to_string(&state).unwrap(),
        "every figure keeps its scale"
    );
    let pk = tier_store::keys::customer_pk("load", &format!("c{per_year}"));
    let version = (state.orders_applied + 1).to_string();
    let item = "pk".len()
        + pk.len()
        + "sk".len()
        + tier_store::keys::STATE.len()
        + "version".len()
        + version.len().div_ceil(2)
        + 1
        + "state".len()
        + encoded.len()
        + "nextExpiry".len()
        + "2026-11-01".len();
    (encoded.len(), item)
}

/// One figure per day and tracker, whatever the number of orders that day,
/// stored as columns of integers (the binary form): the item at 10,000
/// orders a year is at most 2 KB as DynamoDB counts it (4 write units in a
/// transaction, 6 with the order item). Ten times the orders of 1,000 cost
/// less than twice the bytes: the figures grow by a few bits a day, not by
/// a value an order. Before the binary form: 3,159 bytes of deflated JSON
/// at 10,000 orders (8 write units). The same holds after a second year,
/// when the points of the first expire day by day.
#[test]
fn the_state_item_stays_flat_in_order_count() {
    let (fifty_encoded, fifty) = state_item_bytes(50, 1);
    let (thousand_encoded, thousand) = state_item_bytes(1_000, 1);
    let (encoded, ten_thousand) = state_item_bytes(10_000, 1);
    let (steady_encoded, steady) = state_item_bytes(10_000, 2);
    // The figures of docs/benchmarks.md (`-- --nocapture`).
    eprintln!(
        "state (binary form) / state item as DynamoDB counts it: 50 orders {fifty_encoded} / {fifty} B, \
         1,000 {thousand_encoded} / {thousand} B, 10,000 {encoded} / {ten_thousand} B, \
         10,000 a year for two years {steady_encoded} / {steady} B"
    );
    assert!(
        ten_thousand <= 2_048,
        "{ten_thousand} bytes: more than 2 KB, 6 write units in a transaction instead of 4"
    );
    // After a year, a lot expires every day and what each took is kept
    // for `EXPIRED_KEPT_DAYS` (late returns and redemptions read it).
    assert!(steady <= 2_048, "two years: {steady} bytes, more than 2 KB");
    assert!(
        ten_thousand <= thousand * 2,
        "1,000 orders: {thousand} bytes, 10,000: {ten_thousand}"
    );
}

/// The same customer after a redemption (loadgen's points expire, so the
/// redemption marks the figures apart and keeps no instant of its own):
/// still within 2 KB. Keeping `latestRedemptionAt` there too took it to
/// 2,061 bytes.
#[test]
fn a_redemption_keeps_the_heaviest_state_item_within_2_kb() {
    let mut state = state_after(10_000, 2);
    let config: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/loadgen/program.json")).unwrap();
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let redemption = Redemption {
        redemption_id: "x".into(),
        points: "1234.56".parse().unwrap(),
        at: state.last_event_at.unwrap(),
    };
    p.redeem(&mut state, &redemption).unwrap();
    assert!(state.points_apart);
    let (_, item) = item_bytes(&state, 10_000);
    eprintln!("after a redemption: {item} B");
    assert!(item <= 2_048, "{item} bytes, more than 2 KB");
}

/// The largest state a config can make a customer keep: every tracker and
/// the points expiry at the configured bound of kept days
/// (`MAX_KEPT_DAYS`), half the trackers `max`, an order every day of the
/// longest window with amounts of the largest size and precision the API
/// takes, a line in every tracker's category. Both
/// stored forms must fit in an item with room to spare, so that no valid
/// config lets a customer's state outgrow what the store can write.
#[test]
fn the_largest_state_a_valid_config_allows_fits_in_an_item() {
    let expiry_months = 24u32;
    let per_tracker = (MAX_KEPT_DAYS - expiry_months * 31) / 8;
    let trackers: Vec<_> = (0..8)
        .map(|i| {
            json!({"id": format!("t{i}"), "aggregate": if i % 2 == 0 { "sum" } else { "max" },
                   "measure": "lineItemPrice",
                   "filter": {"category": format!("c{i}")}, "period": {"days": per_tracker}})
        })
        .collect();
    let config = json!({
        "currency": "USD", "startDate": "2000-01-01T00:00:00Z",
        "pointsExpiry": {"months": expiry_months},
        "trackers": trackers,
        "tiers": [
            {"name": "Blue", "earnRate": "1.123456"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "A", "kind": "tracker", "tracker": "t0", "min": "1000000000000000"}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    let p = Program::validate_new(serde_json::from_value(config.clone()).unwrap()).unwrap();
    assert!(p.kept_days() <= u64::from(MAX_KEPT_DAYS));
    // One day more is refused when published.
    let mut over = config;
    over["trackers"][0]["period"]["days"] =
        json!(per_tracker + (MAX_KEPT_DAYS - p.kept_days() as u32) + 1);
    assert!(Program::validate_new(serde_json::from_value(over).unwrap()).is_err());

    let start: chrono::DateTime<chrono::Utc> = "2001-01-01T09:00:00Z".parse().unwrap();
    let mut s = CustomerState::new(&p, start);
    let mut rng = 15u64;
    let days = i64::from(per_tracker.max(expiry_months * 31));
    for day in 0..days {
        // 15 integer digits and 6 decimals, digits at random: they do not
        // compress.
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            rng >> 11
        };
        // A line in each tracker's category, so that no two trackers hold
        // the same figures (which deflate would fold together).
        let prices: Vec<(u64, u64)> = (0..8)
            .map(|_| (next() % 100_000_000_000_000, next() % 1_000_000))
            .collect();
        let micros: u128 = prices
            .iter()
            .map(|(units, micros)| u128::from(*units) * 1_000_000 + u128::from(*micros))
            .sum();
        let amount = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        let lines: Vec<_> = prices
            .iter()
            .enumerate()
            .map(|(i, (units, micros))| {
                json!({"sku": "a", "category": format!("c{i}"),
                       "price": format!("{units}.{micros:06}"), "quantity": 1})
            })
            .collect();
        let at = start + chrono::Duration::days(day);
        let o: Order = serde_json::from_value(json!({
            "orderId": format!("o{day}"), "customerId": "c",
            "placedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "status": "completed", "amount": amount, "currency": "USD",
            "lineItems": lines
        }))
        .unwrap();
        p.apply_order(&mut s, &o).unwrap();
    }
    let binary = tier_store::encode_state_as(&s, tier_store::ItemFormat::Binary).len();
    let json_form = tier_store::encode_state_as(&s, tier_store::ItemFormat::Json).len();
    eprintln!(
        "the largest state: {} lots, binary {binary} B, JSON {json_form} B (item limit {} B)",
        s.lots.len(),
        tier_store::MAX_ITEM_BYTES
    );
    for (form, bytes) in [("binary", binary), ("JSON", json_form)] {
        assert!(
            bytes <= tier_store::MAX_ITEM_BYTES * 3 / 4,
            "{form}: {bytes} bytes, too close to the item limit"
        );
    }
}
