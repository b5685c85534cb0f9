//! The customer state's stored form, deflated. The state item is read and
//! written on every order, and DynamoDB bills writes per started KB, so its
//! size is the cost driver (see docs/benchmarks.md).
//!
//! Two forms are read: deflated JSON (every state written before the binary
//! form, and by a store configured `STATE_FORMAT=json`), and the binary
//! form ([`binary`]): the tag byte [`BINARY_V1`], then the deflated body.
//! The tag cannot begin a deflate stream (its block type bits are 11, a
//! type deflate reserves), so the first byte tells the forms apart. Which
//! form is written is [`ItemFormat::configured`].

mod binary;

use flate2::{bufread::DeflateDecoder, write::DeflateEncoder, Compression};
use std::cell::RefCell;
use std::io::{Read, Write};
use tier_engine::record_bytes::{put_varint, varint};
use tier_engine::{CustomerState, OrderRecord};

/// The deflate level of every stored item. Items are billed per started
/// KB and a write unit costs far more than the CPU of compressing, so the
/// smaller output wins: zlib's level 9 writes what miniz_oxide's default
/// level wrote (the backend before zlib-rs) and still takes less time
/// (docs/benchmarks.md, eleventh session).
pub const ITEM_LEVEL: Compression = Compression::new(9);

thread_local! {
    /// One compressor per thread, reset between items: a new one allocates
    /// and zeroes a few hundred KB (zlib's window, hash chains and
    /// buffers), which cost more than compressing a state or an order item.
    /// A reset compressor writes the same bytes as a new one.
    static ENCODER: RefCell<Option<DeflateEncoder<Vec<u8>>>> = const { RefCell::new(None) };
}

/// `input` deflated, after `tag` when there is one.
fn deflate(input: &[u8], tag: Option<u8>) -> Vec<u8> {
    // Taken out while in use: a panic mid-stream drops it rather than
    // leaving a half-written stream for the next item.
    let mut encoder = ENCODER
        .with(|cell| cell.borrow_mut().take())
        .unwrap_or_else(|| DeflateEncoder::new(Vec::new(), ITEM_LEVEL));
    let mut out = Vec::with_capacity(input.len() / 3 + 1);
    out.extend(tag);
    *encoder.get_mut() = out;
    encoder.write_all(input).expect("writing to a Vec");
    // Finishes the stream, resets the compressor, hands back the output.
    let out = encoder.reset(Vec::new()).expect("writing to a Vec");
    ENCODER.with(|cell| *cell.borrow_mut() = Some(encoder));
    out
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut json = Vec::with_capacity(bytes.len() * 4);
    // The slice is read in place (no second buffer).
    DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("item data is not deflated JSON: {e}"))?;
    Ok(json)
}

/// The first byte of a binary state: bits 1 and 2 set, the block type
/// deflate reserves, so no deflated JSON state starts with it.
pub const BINARY_V1: u8 = 0xF6;

/// The first byte of a binary event item ([`encode_event`]), for the same
/// reason as [`BINARY_V1`]: no deflated pair starts with it.
pub const EVENT_BINARY_V1: u8 = 0xF6;

/// The environment variable that chooses the form states are written in:
/// `json` (unset: the default) or `binary`. Both forms are always read.
pub const STATE_FORMAT_ENV: &str = "STATE_FORMAT";

/// The same for event items: `json` (unset: the default) or `binary`.
pub const EVENT_FORMAT_ENV: &str = "EVENT_FORMAT";

/// The form an item is written in. Both are always read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFormat {
    /// Deflated JSON: what every release reads.
    Json,
    /// A tag byte and a binary body: read by the release that added it
    /// and later ones only.
    Binary,
}

impl ItemFormat {
    /// The value of the environment variable `env`: unset or empty is
    /// JSON, so a release that adds a binary reader writes what the
    /// release before it reads, and a rollback of it is safe.
    pub fn parse(env: &str, value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") | Some("json") => Ok(ItemFormat::Json),
            Some("binary") => Ok(ItemFormat::Binary),
            Some(other) => Err(format!("{env} is {other:?}: expected json or binary")),
        }
    }

    /// The form this process writes states in ([`STATE_FORMAT_ENV`]).
    pub fn states() -> Self {
        static FORMAT: std::sync::OnceLock<ItemFormat> = std::sync::OnceLock::new();
        *FORMAT.get_or_init(|| Self::configured(STATE_FORMAT_ENV))
    }

    /// The form this process writes event items in ([`EVENT_FORMAT_ENV`]).
    pub fn events() -> Self {
        static FORMAT: std::sync::OnceLock<ItemFormat> = std::sync::OnceLock::new();
        *FORMAT.get_or_init(|| Self::configured(EVENT_FORMAT_ENV))
    }

    /// Read from the environment once. A value that is neither is logged
    /// and JSON written (the form every release reads); the store refuses
    /// to start with one (`DynamoStore::from_env`), so this is for tools.
    fn configured(env: &str) -> Self {
        let value = std::env::var(env).ok();
        ItemFormat::parse(env, value.as_deref()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "writing JSON");
            ItemFormat::Json
        })
    }
}

/// The state in the configured form ([`ItemFormat::states`]).
pub fn encode_state(state: &CustomerState) -> Vec<u8> {
    encode_state_as(state, ItemFormat::states())
}

pub fn encode_state_as(state: &CustomerState, format: ItemFormat) -> Vec<u8> {
    match format {
        ItemFormat::Json => deflate(&serde_json::to_vec(state).expect("state serialises"), None),
        ItemFormat::Binary => {
            let mut body = Vec::with_capacity(4096);
            binary::write(state, &mut body);
            deflate(&body, Some(BINARY_V1))
        }
    }
}

/// A state in either form.
pub fn decode_state(bytes: &[u8]) -> Result<CustomerState, String> {
    match bytes.split_first() {
        Some((&BINARY_V1, body)) => {
            let body = inflate(body).map_err(|e| format!("binary state: {e}"))?;
            binary::read(&body).map_err(|e| format!("state item does not decode: {e}"))
        }
        _ => serde_json::from_slice(&inflate(bytes)?)
            .map_err(|e| format!("state item does not decode: {e}")),
    }
}

/// An event item's reply and the order's record in the configured form
/// ([`ItemFormat::events`]). The order item is written with every order,
/// so it is kept under 1 KB:
/// - JSON: the pair `[reply, record JSON]`, deflated;
/// - binary: [`EVENT_BINARY_V1`], the record's length (varint, 0 for none)
///   and its bytes (`tier_engine::record_bytes`), then the reply deflated.
///   A replay reads the record without inflating anything or parsing JSON.
pub fn encode_event(result: &str, record: Option<&OrderRecord>) -> Vec<u8> {
    encode_event_as(result, record, ItemFormat::events())
}

pub fn encode_event_as(result: &str, record: Option<&OrderRecord>, format: ItemFormat) -> Vec<u8> {
    match format {
        ItemFormat::Json => {
            let record = record.map(|r| serde_json::to_string(r).expect("a record serialises"));
            deflate(
                &serde_json::to_vec(&(result, record)).expect("strings serialise"),
                None,
            )
        }
        ItemFormat::Binary => {
            let mut body = Vec::with_capacity(128);
            if let Some(record) = record {
                tier_engine::record_bytes::write(record, &mut body);
            }
            let mut out = Vec::with_capacity(body.len() + result.len() / 2 + 8);
            out.push(EVENT_BINARY_V1);
            put_varint(&mut out, body.len() as u128);
            out.extend_from_slice(&body);
            out.extend_from_slice(&deflate(result.as_bytes(), None));
            out
        }
    }
}

/// What an event item keeps: the reply, and the order's record, which
/// either decodes, is absent (`Ok(None)`), or does not decode (`Err`, why).
pub type DecodedEvent = (String, Result<Option<OrderRecord>, String>);

/// An event item's reply and record, in either form; `order_id` is the
/// order's (its sort key's) for the binary form, which does not keep it.
/// Err when the item itself does not decode; a record that does not is
/// told apart in the result, for the caller to decide (the service reads
/// it as none, as it always read a record whose JSON did not parse, so
/// that the customer keeps working; a replay refuses it).
pub fn decode_event(bytes: &[u8], order_id: &str) -> Result<DecodedEvent, String> {
    match bytes.split_first() {
        Some((&EVENT_BINARY_V1, rest)) => {
            let (length, at) =
                varint(rest).map_err(|e| format!("event item's record length: {e}"))?;
            let body = usize::try_from(length)
                .ok()
                .and_then(|n| rest.get(at..at.checked_add(n)?))
                .ok_or("event item shorter than its record")?;
            let reply = inflate(&rest[at + body.len()..])?;
            let reply = String::from_utf8(reply)
                .map_err(|e| format!("event item's reply is not UTF-8: {e}"))?;
            let record = (!body.is_empty())
                .then(|| tier_engine::record_bytes::read(order_id, body))
                .transpose();
            Ok((reply, record))
        }
        _ => {
            let (reply, record): (String, Option<String>) =
                serde_json::from_slice(&inflate(bytes)?)
                    .map_err(|e| format!("event item does not decode: {e}"))?;
            let record = record
                .map(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
                .transpose();
            Ok((reply, record))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a new encoder writes, as before the compressor was reused.
    fn fresh(json: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), ITEM_LEVEL);
        encoder.write_all(json).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_reused_compressor_writes_what_a_new_one_writes_and_miniz_reads_it() {
        let mut rng = 15u64;
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new(), b"{}".to_vec()];
        for n in [10usize, 300, 4_000, 70_000, 300_000] {
            // JSON-like text with repeats, and bytes without any.
            let text: String = (0..n / 20)
                .map(|i| format!("{{\"d\":{i},\"v\":\"{}.{:02}\"}},", i % 97, i % 100))
                .collect();
            inputs.push(text.into_bytes());
            inputs.push(
                (0..n)
                    .map(|_| {
                        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (rng >> 56) as u8
                    })
                    .collect(),
            );
        }
        // Twice over, so every input follows a larger and a smaller one.
        for input in inputs.iter().chain(inputs.iter().rev()) {
            let out = deflate(input, None);
            assert_eq!(out, fresh(input), "{} bytes in", input.len());
            assert_eq!(inflate(&out).unwrap(), *input);
            // A release before zlib-rs (miniz_oxide) reads it too, so a
            // rollback reads every item written since.
            assert_eq!(
                miniz_oxide::inflate::decompress_to_vec(&out).unwrap(),
                *input,
                "{} bytes in, read by miniz_oxide",
                input.len()
            );
            // And what such a release wrote reads here.
            let before = miniz_oxide::deflate::compress_to_vec(input, 6);
            assert_eq!(inflate(&before).unwrap(), *input);
        }
        assert!(inflate(b"not deflate").is_err());
    }
}

#[cfg(test)]
mod state_forms {
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde_json::json;
    use tier_engine::{Order, OrderRecord, OrderStatus, Program, Redemption, Return};

    /// Visits, spend and the largest order, points that expire, and tiers
    /// kept by a retention rule with a grace and warnings, so states get
    /// lots, days of every kind, history, a judged end and each option.
    fn program() -> Program {
        let keep = |min: u32| {
            json!({"validity": {"months": 2, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": min}],
                "condition": "all", "onFail": "oneDown", "graceDays": 9,
                "warnDaysBefore": [5]})
        };
        let config = json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "pointsExpiry": {"months": 2},
            "trackers": [
                {"id": "visits", "measure": "visits", "period": {"months": 3}},
                {"id": "spend", "measure": "billAmount", "period": {"months": 2}},
                {"id": "big", "measure": "billAmount", "aggregate": "max", "period": {"days": 40}}],
            "tiers": [
                {"name": "Member", "earnRate": "0.37"},
                {"name": "Silver", "earnRate": "1.5", "upgrade": {"criteria": [
                    {"id": "S", "kind": "tracker", "tracker": "spend", "min": 300}],
                    "condition": "all", "upgradeType": "dynamic"},
                 "retention": keep(200)},
                {"name": "Gold", "earnRate": "2.25", "upgrade": {"criteria": [
                    {"id": "G", "kind": "tracker", "tracker": "big", "min": 900},
                    {"id": "V", "kind": "tracker", "tracker": "visits", "min": 12}],
                    "condition": {"any": 1}, "upgradeType": "eager"},
                 "retention": keep(600)}]
        });
        Program::validate(serde_json::from_value(config).unwrap()).unwrap()
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// Hours after the latest event (before it when late), cents, and
        /// how many decimals the amount is written with.
        Order(i64, bool, i64, u32),
        /// Which earlier order, and the percent of what is left (0: all).
        Return(usize, i64),
        Redeem(i64),
        /// The scheduled job, hours after the latest event.
        Job(i64),
        SetTier(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (0i64..120, proptest::bool::weighted(0.15), 0i64..150_000, 0u32..4)
                .prop_map(|(h, late, c, s)| Step::Order(h, late, c, s)),
            2 => (0usize..50, 0i64..100).prop_map(|(i, p)| Step::Return(i, p)),
            1 => (1i64..50_000).prop_map(Step::Redeem),
            2 => (0i64..2_000).prop_map(Step::Job),
            1 => (0usize..3).prop_map(Step::SetTier),
        ]
    }

    /// A customer's state after `steps`, through the engine's public API.
    fn state_after(steps: &[Step]) -> tier_engine::CustomerState {
        let p = program();
        let start: DateTime<Utc> = "2026-01-03T08:00:00Z".parse().unwrap();
        let mut s = tier_engine::CustomerState::new(&p, start);
        let mut now = start;
        let mut records: Vec<OrderRecord> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Step::Order(hours, late, cents, scale) => {
                    let at = if late {
                        now - Duration::hours(hours)
                    } else {
                        now += Duration::hours(hours);
                        now
                    };
                    // 12.3 written as 12, 12.3, 12.30 or 12.300.
                    let amount = Decimal::new(cents, 2).round_dp(scale.min(2));
                    let amount = Decimal::new(amount.mantissa() as i64, amount.scale());
                    let mut amount = amount;
                    if scale == 3 {
                        amount.rescale(3);
                    }
                    let order = Order {
                        order_id: format!("o{n}"),
                        customer_id: "c".into(),
                        placed_at: at,
                        status: OrderStatus::Completed,
                        amount,
                        gross_amount: None,
                        currency: None,
                        line_items: vec![],
                    };
                    if let Ok(applied) = p.apply_order(&mut s, &order) {
                        records.push(applied.record);
                    }
                }
                Step::Return(which, percent) if !records.is_empty() => {
                    let i = which % records.len();
                    let left = records[i].remaining();
                    let amount =
                        (percent > 0).then(|| (left * Decimal::new(percent, 2)).round_dp(2));
                    now += Duration::hours(1);
                    let ret = Return {
                        return_id: format!("r{n}"),
                        order_id: records[i].order_id.clone(),
                        customer_id: "c".into(),
                        returned_at: now,
                        amount: amount.filter(|a| *a > Decimal::ZERO),
                    };
                    let mut record = records[i].clone();
                    let others: Vec<OrderRecord> = records
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, r)| r.clone())
                        .collect();
                    if p.apply_return(&mut s, &mut record, &ret, &others).is_ok() {
                        records[i] = record;
                    }
                }
                Step::Redeem(cents) => {
                    now += Duration::minutes(5);
                    let redemption = Redemption {
                        redemption_id: format!("x{n}"),
                        points: Decimal::new(cents, 2),
                        at: now,
                    };
                    let _ = p.redeem(&mut s, &redemption);
                }
                Step::Job(hours) => {
                    now += Duration::hours(hours);
                    p.expire(&mut s, now);
                }
                Step::SetTier(tier) => {
                    now += Duration::minutes(1);
                    let _ = p.set_tier(&mut s, p.tier_name(tier), now, "test");
                }
                Step::Return(..) => {}
            }
        }
        s.outbox.take();
        s
    }

    fn assert_reads_back(state: &tier_engine::CustomerState, format: ItemFormat) {
        let encoded = encode_state_as(state, format);
        assert_eq!(encoded[0] == BINARY_V1, format == ItemFormat::Binary);
        let back = decode_state(&encoded).unwrap();
        assert_eq!(&back, state, "{format:?}");
        // Not part of a series' equality (what its windows read).
        let dropped = |s: &tier_engine::CustomerState| -> Vec<_> {
            s.trackers.iter().map(|t| t.newest_dropped()).collect()
        };
        assert_eq!(dropped(&back), dropped(state), "{format:?}");
        // Equal decimals may differ in scale: the text tells them apart.
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(state).unwrap(),
            "{format:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any state the engine builds reads back equal, every figure with
        /// its scale, from either form.
        #[test]
        fn every_state_reads_back_exactly(steps in proptest::collection::vec(step(), 0..120)) {
            let state = state_after(&steps);
            assert_reads_back(&state, ItemFormat::Binary);
            assert_reads_back(&state, ItemFormat::Json);
        }

        /// Bytes that are no state are refused, never a panic: random
        /// bytes, random bodies behind the tag, and real bodies cut short
        /// or with bytes changed.
        #[test]
        fn garbage_is_refused_without_a_panic(
            noise in proptest::collection::vec(any::<u8>(), 0..600),
            steps in proptest::collection::vec(step(), 0..40),
            cut in any::<proptest::sample::Index>(),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let _ = decode_state(&noise);
            let _ = decode_state(&[&[BINARY_V1][..], &noise].concat());
            let _ = decode_state(&deflate(&noise, Some(BINARY_V1)));
            let _ = binary::read(&noise);
            let mut body = Vec::new();
            binary::write(&state_after(&steps), &mut body);
            prop_assert!(binary::read(&body[..cut.index(body.len())]).is_err());
            for (at, byte) in flips {
                let at = at.index(body.len());
                body[at] ^= byte | 1;
            }
            let _ = binary::read(&body);
            let _ = decode_state(&deflate(&body, Some(BINARY_V1)));
        }
    }

    /// `state`'s binary body with its JSON fields changed by `change`.
    fn with_json_fields(
        state: &tier_engine::CustomerState,
        change: impl FnOnce(&mut serde_json::Value),
    ) -> Vec<u8> {
        let mut body = Vec::new();
        binary::write(state, &mut body);
        let (len, at) = varint(&body).unwrap();
        let json_end = at + len as usize;
        let mut fields: serde_json::Value = serde_json::from_slice(&body[at..json_end]).unwrap();
        change(&mut fields);
        let json = serde_json::to_vec(&fields).unwrap();
        let mut changed = Vec::new();
        put_varint(&mut changed, json.len() as u128);
        changed.extend_from_slice(&json);
        changed.extend_from_slice(&body[json_end..]);
        changed
    }

    /// A dropped day after the customer's latest day, or before the
    /// calendar's first, is no state's: refused (found by helper-64).
    #[test]
    fn a_dropped_day_out_of_range_is_refused() {
        let state = state_after(&vec![Step::Order(72, false, 10_000, 2); 60]);
        for gap in [i32::MAX, -10_000, i32::MIN + 1] {
            let body = with_json_fields(&state, |fields| {
                let trackers = fields["td"].as_array().unwrap().len();
                fields["td"] = serde_json::json!(vec![gap; trackers]);
            });
            assert!(binary::read(&body).is_err(), "{gap}");
        }
    }

    /// A state written before each series kept its newest dropped day
    /// (no `td` among the binary form's JSON fields) reads with the latest
    /// day that can have been dropped, the day before the first kept one:
    /// never earlier than the day dropped, so a late order asks for the
    /// orders whenever it must. A customer with an order every third day
    /// drops days further back, which the new form writes.
    #[test]
    fn a_state_from_before_dropped_days_were_kept_infers_the_latest() {
        let steps = vec![Step::Order(72, false, 10_000, 2); 60];
        let state = state_after(&steps);
        let old = with_json_fields(&state, |fields| {
            assert!(fields["td"].is_array(), "{fields}");
            fields.as_object_mut().unwrap().remove("td");
        });
        let read = binary::read(&old).unwrap();
        let mut earlier = 0;
        for (read, kept) in read.trackers.iter().zip(&state.trackers) {
            let first = kept.first_day().unwrap();
            assert_eq!(read.newest_dropped(), Some(first - 1));
            earlier += usize::from(kept.newest_dropped().unwrap() < first - 1);
        }
        assert!(earlier > 0);
    }

    /// A state as the release before the binary form wrote it (deflated
    /// JSON, lots as day differences, a `max` day as a one-value list)
    /// still reads, and so does any state written as JSON now.
    #[test]
    fn states_written_as_json_still_read() {
        let old = br#"{"tier":"Silver","tierSince":"2026-03-01T10:00:00Z","currentPoints":"12.5","lifetimePoints":"40.50","lifetimePurchases":"300.10","lots":[[20500,"2.5"],[3,"10.00"]],"trackers":[{"k":"a1","b":[[20500,"2"],[3,"1"]]},{"k":"b2","b":[[20500,"0",["120.10"]],[3,"0",["80"]]]}],"bestOrders":[{"orderId":"o1","net":"120.10"}],"history":[{"from":"Member","to":"Silver","at":"2026-03-01T10:00:00Z","cause":"order o1","configVersion":3}],"ordersApplied":2,"lastEventAt":"2026-03-04T09:00:00Z","configVersion":3,"joinedAt":"2026-02-01T00:00:00Z","noticesSent":1}"#;
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(old).unwrap();
        let stored = encoder.finish().unwrap();
        assert_ne!(stored[0], BINARY_V1);
        let state = decode_state(&stored).unwrap();
        assert_eq!(state.lots[1].day, 20503);
        assert_eq!(state.lots[1].points.to_string(), "10.00");
        assert_eq!(state.trackers[1].day_max(20503).to_string(), "80");
        assert_eq!(state.lifetime_points.to_string(), "40.50");
        assert_eq!(state.config_version, Some(3));
        assert_reads_back(&state, ItemFormat::Binary);
        // What the JSON form writes now, the previous release's reader
        // (inflate, then serde_json) reads.
        let steps: Vec<Step> = (0..60)
            .map(|i| Step::Order(7 * (i % 5), false, 1_000 + 37 * i, (i % 4) as u32))
            .collect();
        let state = state_after(&steps);
        let json = encode_state_as(&state, ItemFormat::Json);
        let back: tier_engine::CustomerState =
            serde_json::from_slice(&inflate(&json).unwrap()).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn the_binary_tag_cannot_start_a_deflate_stream() {
        // Bit 0 is BFINAL, bits 1 and 2 the block type: 11 is reserved.
        assert_eq!((BINARY_V1 >> 1) & 0b11, 0b11);
        assert!(inflate(&[BINARY_V1, 0, 0, 0]).is_err());
    }

    #[test]
    fn the_format_is_json_unless_told_binary() {
        assert_eq!(
            ItemFormat::parse("STATE_FORMAT", None),
            Ok(ItemFormat::Json)
        );
        assert_eq!(
            ItemFormat::parse("STATE_FORMAT", Some("")),
            Ok(ItemFormat::Json)
        );
        assert_eq!(
            ItemFormat::parse("STATE_FORMAT", Some("json")),
            Ok(ItemFormat::Json)
        );
        assert_eq!(
            ItemFormat::parse("STATE_FORMAT", Some(" binary ")),
            Ok(ItemFormat::Binary)
        );
        assert!(ItemFormat::parse("STATE_FORMAT", Some("bin")).is_err());
    }

    /// Figures no API event makes: a negative zero, 28 decimals, the
    /// largest mantissa, mixed scales in one column (the unscaled mode).
    /// (The fields kept as JSON read back as the JSON form reads them,
    /// where a negative zero is read as zero.)
    #[test]
    fn extreme_figures_read_back_exactly() {
        let mut state = state_after(&[
            Step::Order(1, false, 5_000, 2),
            Step::Order(30, false, 7, 1),
        ]);
        let mut negative_zero = Decimal::new(0, 3);
        negative_zero.set_sign_negative(true);
        let extremes = [
            negative_zero,
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::from_i128_with_scale(-7_922_816_251_426_433_759_354_395_033, 28),
            Decimal::new(-5, 0),
        ];
        state.lots = extremes
            .iter()
            .enumerate()
            .map(|(i, &points)| tier_engine::state::Lot {
                day: i as i32 * 1000 - 2500,
                points,
            })
            .collect();
        assert_reads_back(&state, ItemFormat::Binary);
        let back = decode_state(&encode_state_as(&state, ItemFormat::Binary)).unwrap();
        assert!(back.lots[0].points.is_sign_negative());
        assert_eq!(back.lots[0].points.scale(), 3);
    }
}

#[cfg(test)]
mod event_forms {
    use super::*;
    use chrono::DateTime;
    use rust_decimal::Decimal;
    use tier_engine::ReturnMark;

    fn record() -> OrderRecord {
        let at = |s| DateTime::from_timestamp(s, 250_000_000).unwrap();
        OrderRecord {
            order_id: "order-2026-0001".into(),
            placed_at: at(1_780_000_000),
            amount: Decimal::new(129_990, 2),
            gross_amount: Decimal::new(141_690, 2),
            line_items_total: Decimal::new(129_990, 2),
            categories: vec![("shoes".into(), Decimal::new(89_990, 2))],
            counts_for_purchases: true,
            points_awarded: Decimal::new(259_980, 2),
            returned_amount: Decimal::new(10_000, 2),
            returns: vec![ReturnMark {
                at: at(1_780_100_000),
                amount: Decimal::new(10_000, 2),
                arrival: Some(2),
                shortfall: None,
            }],
            points_reversed: Decimal::new(20_000, 2),
            tier_before: "Silver".into(),
            tier_after: "Gold".into(),
            config_version: Some(4),
            after_redemption: false,
            arrival: Some(3),
        }
    }

    const REPLY: &str = r#"{"programId":"ako","customerId":"c1","orderId":"order-2026-0001","applied":true,"duplicate":false,"status":"completed","tierBefore":"Silver","tierAfter":"Gold","pointsAwarded":"2599.8","pointsSegments":[{"tier":"Silver","points":"2599.8"}],"upgrades":[{"from":"Silver","to":"Gold"}]}"#;

    #[test]
    fn both_forms_read_back_the_same_reply_and_record() {
        let record = record();
        for r in [Some(&record), None] {
            let json = encode_event_as(REPLY, r, ItemFormat::Json);
            let binary = encode_event_as(REPLY, r, ItemFormat::Binary);
            assert_eq!(binary[0], EVENT_BINARY_V1);
            assert_ne!(json[0], EVENT_BINARY_V1);
            for bytes in [&json, &binary] {
                let (reply, back) = decode_event(bytes, "order-2026-0001").unwrap();
                let back = back.unwrap();
                assert_eq!((reply.as_str(), &back), (REPLY, &r.cloned()));
                // As JSON text: `==` on decimals ignores their scale.
                let text = |r: Option<&OrderRecord>| serde_json::to_string(&r).unwrap();
                assert_eq!(text(back.as_ref()), text(r));
            }
        }
    }

    /// What a release before the binary form wrote, and still writes with
    /// `EVENT_FORMAT=json`: the deflated pair of the reply and the
    /// record's JSON text.
    #[test]
    fn the_json_form_is_the_bytes_of_the_release_before() {
        let record = record();
        let text = serde_json::to_string(&record).unwrap();
        let before = deflate(&serde_json::to_vec(&(REPLY, Some(text))).unwrap(), None);
        assert_eq!(
            encode_event_as(REPLY, Some(&record), ItemFormat::Json),
            before
        );
    }

    /// The order item is written with every order and billed per started
    /// KB. Sizes of `data` in both forms for a typical order and for the
    /// largest ids, tier names, categories and return marks the API
    /// takes: the binary form is no larger for a typical order, and
    /// neither form passes 1 KB with the largest ids, but for an order at
    /// every limit at once, 32 times returned under `withinBalance`, whose
    /// marks keep their shortfalls (all sizes are in docs/benchmarks.md).
    #[test]
    fn sizes_of_the_two_forms() {
        let reply_for = |r: &OrderRecord| {
            REPLY
                .replace("order-2026-0001", &r.order_id)
                .replace("Silver", &r.tier_before)
                .replace("Gold", &r.tier_after)
        };
        let sizes = |r: &OrderRecord| {
            let reply = reply_for(r);
            let json = encode_event_as(&reply, Some(r), ItemFormat::Json).len();
            let binary = encode_event_as(&reply, Some(r), ItemFormat::Binary).len();
            (json, binary)
        };
        let typical = record();
        let (json, binary) = sizes(&typical);
        assert!(binary <= json, "typical: {binary} > {json}");
        // Ids that do not repeat themselves (deflate makes little of them).
        let mut seed = 7u64;
        let mut id = |alphabet: &dyn Fn(u64) -> char| -> String {
            (0..128)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet(seed >> 33)
                })
                .collect()
        };
        let ascii =
            |x: u64| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789-_"[(x % 38) as usize]);
        let emoji = |x: u64| char::from_u32(0x1F600 + (x % 80) as u32).unwrap();
        let mut long_ids = record();
        long_ids.order_id = id(&ascii);
        let mut wide_ids = record();
        wide_ids.order_id = id(&emoji);
        let mut marked = long_ids.clone();
        marked.returns = (0..32)
            .map(|i| ReturnMark {
                at: marked.placed_at + chrono::Duration::minutes(i * 7 + 1),
                amount: Decimal::new(100 + i, 2),
                arrival: u64::try_from(i).ok(),
                shortfall: None,
            })
            .collect();
        // Under `withinBalance` each mark keeps its shortfall: short by a
        // few points, or (as returns mark it) by a whole zero.
        let within = |r: &OrderRecord| {
            let mut r = r.clone();
            for (i, mark) in (0i64..).zip(&mut r.returns) {
                mark.shortfall = Some(Decimal::new((i % 3) * 12_345, 2).normalize());
            }
            r
        };
        let marked_within = within(&marked);
        let mut categories = long_ids.clone();
        categories.categories = (0..10)
            .map(|i| (format!("category-{i}"), Decimal::new(1000 + i, 2)))
            .collect();
        let mut everything = categories.clone();
        everything.order_id = wide_ids.order_id.clone();
        everything.returns = marked.returns.clone();
        everything.returned_amount = marked.returns.iter().map(|r| r.amount).sum();
        let everything_within = within(&everything);
        for (what, r, units) in [
            ("typical", &typical, 1),
            ("128-char id", &long_ids, 1),
            ("128 four-byte chars", &wide_ids, 1),
            ("128-char id, 32 return marks", &marked, 1),
            ("the same, withinBalance", &marked_within, 1),
            ("128-char id, 10 categories", &categories, 1),
            (
                "128 four-byte chars, 10 categories, 32 marks",
                &everything,
                1,
            ),
            // The marks' shortfalls pass the first KB here.
            ("the same, withinBalance", &everything_within, 2),
        ] {
            let (json, binary) = sizes(r);
            println!("{what}: json {json} B, binary {binary} B");
            assert!(json.max(binary) < 1024 * units, "{what}: {json} / {binary}");
        }
    }

    /// A record that does not decode is read as none (the reply still
    /// answers a repeat); an item whose frame is broken is an error.
    #[test]
    fn a_damaged_item_is_an_error_or_reads_without_its_record() {
        let binary = encode_event_as(REPLY, Some(&record()), ItemFormat::Binary);
        let (length, at) = varint(&binary[1..]).unwrap();
        let mut bad_record = binary.clone();
        bad_record[1 + at] = 99; // the record's layout byte
        let (reply, record) = decode_event(&bad_record, "o").unwrap();
        assert_eq!(reply, REPLY);
        assert!(record.unwrap_err().contains("layout 99"));
        let json_text = deflate(&serde_json::to_vec(&(REPLY, Some("{}"))).unwrap(), None);
        assert!(decode_event(&json_text, "o").unwrap().1.is_err());
        for cut in [1, 2, 1 + at + length as usize - 1, binary.len() - 1] {
            assert!(decode_event(&binary[..cut], "o").is_err(), "cut at {cut}");
        }
        let mut long = binary[..1].to_vec();
        put_varint(&mut long, u128::MAX);
        assert!(decode_event(&long, "o").is_err());
        assert!(decode_event(&[], "o").is_err());
    }
}
