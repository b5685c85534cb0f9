//! Our table as a DynamoDB S3 export: one JSON object per line,
//! `{"Item": {"pk": {"S": ..}, "sk": {"S": ..}, "data": {"B": <base64>}, ..}}`
//! (see `shared/store/src/keys.rs`, `lib.rs` and `codec.rs` for the layout).
//!
//! - `PROGRAM#<program>` / `CONFIG`: the current config (`config`, `version`,
//!   `retentionSince`: when each tier's retention rule was configured, see
//!   [`crate::config`]); `CONFIG#<version>`: every version published.
//! - `CUSTOMER#<len>:<program>#<customer>` / `STATE`: the customer's state
//!   (deflated JSON in `state`, or the store's binary form); `ORDER#<id>`,
//!   `RETURN#<id>`, `REDEMPTION#<id>`: event items, whose `data` is the
//!   deflated JSON pair `[reply, record]` (the record only for orders that
//!   completed), or the store's binary form: a tag byte, the record's
//!   bytes (`tier_engine::record_bytes`), the reply deflated. An order's
//!   reply is never read here, so in the binary form nothing of an order
//!   is inflated.
//!
//! What the items keep, and so what a replay from an export can know:
//! an order's record (amount, gross amount, line-item totals per category,
//! `placedAt`) and its final status; a return's order, id and amount; a
//! redemption's id and points. The store does not keep the instant a return,
//! a redemption or a cancellation was decided at. An item carrying an `at`
//! attribute (RFC 3339) is replayed at that instant; without it
//! [`assemble`] places those events after the customer's last order:
//! returns, then redemptions, at that order's `placedAt`, then cancellations
//! at the state's `lastEventAt` (docs/simulation.md, "What an export cannot
//! tell").

use crate::history::{Action, CustomerHistory, Event};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use tier_engine::{Order, OrderRecord, OrderStatus, Redemption, Return};

/// Largest inflated event or state accepted (the store refuses items over
/// 350 KB deflated; JSON deflates about 4:1).
const MAX_INFLATED: u64 = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct ItemError(pub String);

fn bad(message: impl Into<String>) -> ItemError {
    ItemError(message.into())
}

/// One item of the export that the replay reads.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportItem {
    Config {
        program: String,
        version: u64,
        config_json: String,
        /// The `retentionSince` attribute as stored (JSON: tier name to
        /// RFC 3339 instant); None on versions stored before it was kept.
        retention_since: Option<String>,
        /// The `CONFIG` pointer (the current version), not a history item.
        current: bool,
    },
    Customer {
        program: String,
        customer: String,
        /// Boxed: an order item with its record is far larger than the
        /// other variants.
        item: Box<CustomerItem>,
    },
    /// Anything else (the config guard, expiry index entries).
    Other,
}

/// A customer's item, reduced to what the replay needs: this is also the
/// form the CLI writes to its partition files (externally tagged: an
/// internally tagged enum is buffered whole before it is decoded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
// Not boxed: most items are orders, so a box would be one more allocation
// per order on the replay's hot path, and only one partition's customers are
// held at a time.
#[allow(clippy::large_enum_variant)]
pub enum CustomerItem {
    Order {
        id: String,
        status: OrderStatus,
        /// Present when the order completed (even if cancelled since).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<OrderRecord>,
        /// When a cancellation was decided, if the item says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    Return {
        id: String,
        order: String,
        amount: Decimal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    Redemption {
        id: String,
        points: Decimal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    State {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_event_at: Option<DateTime<Utc>>,
    },
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "Item", borrow)]
    item: Attributes<'a>,
}

#[derive(Deserialize)]
struct Attributes<'a> {
    #[serde(borrow)]
    pk: Value<'a>,
    #[serde(borrow)]
    sk: Value<'a>,
    #[serde(default, borrow)]
    data: Option<Value<'a>>,
    #[serde(default, borrow)]
    state: Option<Value<'a>>,
    #[serde(default, borrow)]
    status: Option<Value<'a>>,
    #[serde(default, borrow)]
    config: Option<Value<'a>>,
    #[serde(default, borrow)]
    version: Option<Value<'a>>,
    #[serde(default, borrow)]
    at: Option<Value<'a>>,
    #[serde(rename = "retentionSince", default, borrow)]
    retention_since: Option<Value<'a>>,
}

/// A DynamoDB JSON attribute value, of the types our table uses.
#[derive(Deserialize)]
struct Value<'a> {
    #[serde(rename = "S", default, borrow)]
    s: Option<Cow<'a, str>>,
    #[serde(rename = "N", default, borrow)]
    n: Option<Cow<'a, str>>,
    #[serde(rename = "B", default, borrow)]
    b: Option<Cow<'a, str>>,
}

fn string<'v>(v: Option<&'v Value<'_>>, name: &str) -> Result<&'v str, ItemError> {
    v.and_then(|v| v.s.as_deref())
        .ok_or_else(|| bad(format!("`{name}` is not a string attribute")))
}

fn binary(v: Option<&Value<'_>>, name: &str, out: &mut Vec<u8>) -> Result<(), ItemError> {
    let text = v
        .and_then(|v| v.b.as_deref())
        .ok_or_else(|| bad(format!("`{name}` is not a binary attribute")))?;
    out.clear();
    base64::engine::general_purpose::STANDARD
        .decode_vec(text, out)
        .map_err(|e| bad(format!("`{name}` is not base64: {e}")))
}

thread_local! {
    /// One inflater and its buffers (base64-decoded, inflated) per thread:
    /// a fresh decoder per item allocated and zeroed its tables every time,
    /// and a fresh output buffer cost an allocation and its growth.
    static INFLATER: std::cell::RefCell<(flate2::Decompress, Vec<u8>, Vec<u8>)> =
        std::cell::RefCell::new((flate2::Decompress::new(false), Vec::new(), Vec::new()));
}

/// The base64 attribute `name` of `v`, inflated, handed to `read`.
fn inflated<T>(
    v: Option<&Value<'_>>,
    name: &str,
    read: impl FnOnce(&[u8]) -> Result<T, ItemError>,
) -> Result<T, ItemError> {
    INFLATER.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (decoder, raw, out) = &mut *guard;
        binary(v, name, raw)?;
        // The store's binary state form: a tag byte, then a deflated body
        // that opens with the length of the state's JSON part (the rest
        // are columns of figures the replay does not read).
        let tagged = usize::from(name == "state" && raw.first() == Some(&BINARY_STATE));
        inflate_into(decoder, &raw[tagged..], out, name)?;
        if tagged == 0 {
            return read(out);
        }
        let (length, at) = varint(out).ok_or_else(|| bad("`state` has no JSON length"))?;
        let json = usize::try_from(length)
            .ok()
            .and_then(|n| out.get(at..at.checked_add(n)?))
            .ok_or_else(|| bad("`state` is shorter than its JSON length"))?;
        read(json)
    })
}

/// `deflated` inflated into `out`: by libdeflate when it can, else by the
/// streaming inflater, which decides every failure.
fn inflate_into(
    decoder: &mut flate2::Decompress,
    deflated: &[u8],
    out: &mut Vec<u8>,
    name: &str,
) -> Result<(), ItemError> {
    if !fast_inflate(deflated, out) {
        streamed_inflate(decoder, deflated, out, name)?;
    }
    Ok(())
}

#[cfg(feature = "libdeflate")]
thread_local! {
    static LIBDEFLATE: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// `deflated` inflated whole into `out` by libdeflate, which builds its
/// tables for an item's one small block several times faster than a
/// streaming inflater. False when it cannot (bad data, or more than
/// [`MAX_INFLATED`]): the streaming inflater then decides, with its errors.
#[cfg(feature = "libdeflate")]
fn fast_inflate(deflated: &[u8], out: &mut Vec<u8>) -> bool {
    LIBDEFLATE.with(|cell| {
        let mut decompressor = cell.borrow_mut();
        let max = MAX_INFLATED as usize;
        let mut size = (deflated.len() * 4 + 64).min(max);
        loop {
            out.clear();
            out.resize(size, 0);
            match decompressor.deflate_decompress(deflated, out) {
                Ok(n) => {
                    out.truncate(n);
                    return true;
                }
                Err(libdeflater::DecompressionError::InsufficientSpace) if size < max => {
                    size = (size * 2).min(max);
                }
                Err(_) => return false,
            }
        }
    })
}

#[cfg(not(feature = "libdeflate"))]
fn fast_inflate(_: &[u8], _: &mut Vec<u8>) -> bool {
    false
}

/// `deflated` inflated into `out`, at most [`MAX_INFLATED`] bytes of it.
fn streamed_inflate(
    decoder: &mut flate2::Decompress,
    deflated: &[u8],
    out: &mut Vec<u8>,
    name: &str,
) -> Result<(), ItemError> {
    out.clear();
    out.reserve(deflated.len() * 4 + 64);
    decoder.reset(false);
    loop {
        if out.len() == out.capacity() {
            if out.len() as u64 >= MAX_INFLATED {
                break;
            }
            out.reserve(out.len().max(1024));
        }
        let consumed = decoder.total_in() as usize;
        let written = out.len();
        let status = decoder
            .decompress_vec(&deflated[consumed..], out, flate2::FlushDecompress::None)
            .map_err(|e| bad(format!("`{name}` is not deflated: {e}")))?;
        if status == flate2::Status::StreamEnd {
            break;
        }
        if out.len() < out.capacity()
            && decoder.total_in() as usize == consumed
            && out.len() == written
        {
            return Err(bad(format!(
                "`{name}` is not deflated: the stream ends early"
            )));
        }
    }
    out.truncate(MAX_INFLATED as usize);
    Ok(())
}

/// The first byte of a state item in the store's binary form
/// (`tier_store::codec::BINARY_V1`; no deflate stream starts with it).
const BINARY_STATE: u8 = 0xF6;

/// The first byte of an event item's `data` in the store's binary form
/// (`tier_store::codec::EVENT_BINARY_V1`): the record's length and bytes
/// (`tier_engine::record_bytes`), then the reply deflated.
const BINARY_EVENT: u8 = 0xF6;

/// An unsigned LEB128 varint at the start of `bytes`, and where it ends;
/// None past 64 bits (as the store, which reads up to 128, refuses such a
/// length too).
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let (v, n) = tier_engine::record_bytes::varint(bytes).ok()?;
    Some((u64::try_from(v).ok()?, n))
}

fn instant(v: Option<&Value<'_>>) -> Result<Option<DateTime<Utc>>, ItemError> {
    let Some(text) = v.and_then(|v| v.s.as_deref()) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| bad(format!("`at` is not an RFC 3339 instant: {e}")))
}

/// `CUSTOMER#<len>:<program>#<customer>` -> (program, customer).
pub fn parse_customer_pk(pk: &str) -> Option<(&str, &str)> {
    let rest = pk.strip_prefix("CUSTOMER#")?;
    let (len, rest) = rest.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let program = rest.get(..len)?;
    let customer = rest.get(len..)?.strip_prefix('#')?;
    Some((program, customer))
}

/// The program and customer of a line, without decoding the rest: how the
/// CLI partitions an export by customer cheaply. None for program items.
pub fn customer_key(line: &str) -> Result<Option<(String, String)>, ItemError> {
    let parsed: Line<'_> =
        serde_json::from_str(line).map_err(|e| bad(format!("not an export line: {e}")))?;
    let pk = string(Some(&parsed.item.pk), "pk")?;
    Ok(parse_customer_pk(pk).map(|(p, c)| (p.to_owned(), c.to_owned())))
}

/// Decodes one export line. Items of programs other than `program` (when
/// given) come back as [`ExportItem::Other`] without their data decoded.
pub fn parse_line(line: &str, program: Option<&str>) -> Result<ExportItem, ItemError> {
    decode_line(line, program, None)
}

/// As [`parse_line`], except that an order's record is not decoded: it is
/// left in `record_text` as stored (None for any other item, and for an
/// order that never completed) and the item's `record` is None until the
/// caller sets it ([`RecordText::record`]). The CLI writes it to its
/// partition files ([`RecordText::write_to`]) and decodes it once, when
/// it replays them ([`deferred_record`]).
pub fn parse_line_deferring_record(
    line: &str,
    program: Option<&str>,
    record_text: &mut Option<RecordText>,
) -> Result<ExportItem, ItemError> {
    *record_text = None;
    decode_line(line, program, Some(record_text))
}

fn decode_line(
    line: &str,
    program: Option<&str>,
    deferred: Option<&mut Option<RecordText>>,
) -> Result<ExportItem, ItemError> {
    let parsed: Line<'_> =
        serde_json::from_str(line).map_err(|e| bad(format!("not an export line: {e}")))?;
    let a = &parsed.item;
    let pk = string(Some(&a.pk), "pk")?;
    let sk = string(Some(&a.sk), "sk")?;
    if let Some(p) = pk.strip_prefix("PROGRAM#") {
        if program.is_some_and(|want| want != p) {
            return Ok(ExportItem::Other);
        }
        let current = sk == "CONFIG";
        if !current && !sk.starts_with("CONFIG#") {
            return Ok(ExportItem::Other);
        }
        let version = a
            .version
            .as_ref()
            .and_then(|v| v.n.as_deref())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("config item without a numeric `version`"))?;
        return Ok(ExportItem::Config {
            program: p.to_owned(),
            version,
            config_json: string(a.config.as_ref(), "config")?.to_owned(),
            // As the store reads it: a string, else none.
            retention_since: a
                .retention_since
                .as_ref()
                .and_then(|v| v.s.as_deref())
                .map(str::to_owned),
            current,
        });
    }
    let Some((p, customer)) = parse_customer_pk(pk) else {
        return Ok(ExportItem::Other);
    };
    if program.is_some_and(|want| want != p) {
        return Ok(ExportItem::Other);
    }
    let item = if sk == "STATE" {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct LastEvent {
            #[serde(default)]
            last_event_at: Option<DateTime<Utc>>,
        }
        let s: LastEvent = inflated(a.state.as_ref(), "state", |json| {
            serde_json::from_slice(json).map_err(|e| bad(format!("state does not decode: {e}")))
        })?;
        CustomerItem::State {
            last_event_at: s.last_event_at,
        }
    } else if let Some(id) = sk.strip_prefix("ORDER#") {
        let status = string(a.status.as_ref(), "status")?;
        let record = order_data(a.data.as_ref())?;
        let at = instant(a.at.as_ref())?;
        match deferred {
            Some(text) => {
                *text = record;
                order_item(id, status, None, at)?
            }
            None => {
                let record = record.map(|r| r.record(id)).transpose()?;
                order_item(id, status, record, at)?
            }
        }
    } else if let Some(id) = sk.strip_prefix("RETURN#") {
        let reply = reply_text(a, "return")?;
        return_item(id, &reply, instant(a.at.as_ref())?)?
    } else if let Some(id) = sk.strip_prefix("REDEMPTION#") {
        let reply = reply_text(a, "redemption")?;
        redemption_item(id, &reply, instant(a.at.as_ref())?)?
    } else {
        return Ok(ExportItem::Other);
    };
    Ok(ExportItem::Customer {
        program: p.to_owned(),
        customer: customer.to_owned(),
        item: Box::new(item),
    })
}

/// An order's record as its item keeps it, not decoded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordText {
    /// Its JSON, from the deflated pair.
    Json(String),
    /// Its bytes (`tier_engine::record_bytes`), from the binary form.
    Bytes(Vec<u8>),
}

/// The letters [`RecordText::write_to`] puts before a record's text.
const JSON: u8 = b'j';
const BYTES: u8 = b'b';

impl RecordText {
    /// The record of order `order_id`.
    pub fn record(&self, order_id: &str) -> Result<OrderRecord, ItemError> {
        match self {
            RecordText::Json(json) => order_record(json),
            RecordText::Bytes(bytes) => tier_engine::record_bytes::read(order_id, bytes)
                .map_err(|e| bad(format!("order record does not decode: {e}"))),
        }
    }

    /// Whether its text has no line break (JSON may; base64 never does).
    pub fn is_one_line(&self) -> bool {
        match self {
            RecordText::Json(json) => !json.contains('\n'),
            RecordText::Bytes(_) => true,
        }
    }

    /// As one line of text [`deferred_record`] reads: `j` and its JSON, or
    /// `b` and its bytes in base64.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        match self {
            RecordText::Json(json) => {
                w.write_all(&[JSON])?;
                w.write_all(json.as_bytes())
            }
            RecordText::Bytes(bytes) => {
                w.write_all(&[BYTES])?;
                let text = base64::engine::general_purpose::STANDARD.encode(bytes);
                w.write_all(text.as_bytes())
            }
        }
    }
}

/// The record of order `order_id` from the text [`RecordText::write_to`]
/// wrote.
pub fn deferred_record(order_id: &str, text: &str) -> Result<OrderRecord, ItemError> {
    match text.as_bytes().first() {
        Some(&JSON) => order_record(&text[1..]),
        Some(&BYTES) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&text[1..])
                .map_err(|e| bad(format!("order record is not base64: {e}")))?;
            RecordText::Bytes(bytes).record(order_id)
        }
        _ => Err(bad("an order record's text names no form")),
    }
}

/// The record an order item keeps, taken without inflating the reply
/// beside it in the binary form: the replay never reads an order's reply,
/// so there damage confined to the reply goes unseen here (the store,
/// which reads it, refuses the item).
fn order_data(v: Option<&Value<'_>>) -> Result<Option<RecordText>, ItemError> {
    INFLATER.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (decoder, raw, out) = &mut *guard;
        binary(v, "data", raw)?;
        if let Some((&BINARY_EVENT, body)) = raw.split_first() {
            let (record, _) = binary_parts(body)?;
            return Ok((!record.is_empty()).then(|| RecordText::Bytes(record.to_vec())));
        }
        inflate_into(decoder, raw, out, "data")?;
        let (_, record): (serde::de::IgnoredAny, Option<String>) = serde_json::from_slice(out)
            .map_err(|e| bad(format!("order data does not decode: {e}")))?;
        Ok(record.map(RecordText::Json))
    })
}

/// The reply an event item keeps: the first of its deflated pair, or the
/// deflated rest of the binary form.
fn reply_text(a: &Attributes<'_>, what: &str) -> Result<String, ItemError> {
    INFLATER.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (decoder, raw, out) = &mut *guard;
        binary(a.data.as_ref(), "data", raw)?;
        if let Some((&BINARY_EVENT, body)) = raw.split_first() {
            let (_, reply) = binary_parts(body)?;
            inflate_into(decoder, reply, out, "data")?;
            return String::from_utf8(out.clone())
                .map_err(|e| bad(format!("{what} reply is not UTF-8: {e}")));
        }
        inflate_into(decoder, raw, out, "data")?;
        let (reply, _): (String, serde::de::IgnoredAny) = serde_json::from_slice(out)
            .map_err(|e| bad(format!("{what} data does not decode: {e}")))?;
        Ok(reply)
    })
}

/// A binary event body (after its tag): the record's bytes (empty for
/// none) and the deflated reply.
fn binary_parts(body: &[u8]) -> Result<(&[u8], &[u8]), ItemError> {
    let (length, at) = varint(body).ok_or_else(|| bad("`data` has no record length"))?;
    usize::try_from(length)
        .ok()
        .and_then(|n| at.checked_add(n))
        .filter(|end| *end <= body.len())
        .map(|end| (&body[at..end], &body[end..]))
        .ok_or_else(|| bad("`data` is shorter than its record"))
}

/// An order item from its parts as stored: the `status` attribute, the
/// record (JSON) of its `data` pair, and its `at`. The export reader and
/// the API's simulation job (which reads the table with a Scan) both build
/// their items here, so that both replay the same history.
pub fn order_item(
    id: &str,
    status: &str,
    record: Option<OrderRecord>,
    at: Option<DateTime<Utc>>,
) -> Result<CustomerItem, ItemError> {
    let status = OrderStatus::from_name(status)
        .ok_or_else(|| bad(format!("order status `{status}` is not one of ours")))?;
    Ok(CustomerItem::Order {
        id: id.to_owned(),
        status,
        record,
        at,
    })
}

/// An order's record from its JSON text as stored.
pub fn order_record(text: &str) -> Result<OrderRecord, ItemError> {
    serde_json::from_str(text).map_err(|e| bad(format!("order record does not decode: {e}")))
}

/// A return item from its stored reply (JSON) and `at`.
pub fn return_item(
    id: &str,
    reply: &str,
    at: Option<DateTime<Utc>>,
) -> Result<CustomerItem, ItemError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Reply {
        order_id: String,
        amount_returned: Decimal,
    }
    let reply: Reply = serde_json::from_str(reply)
        .map_err(|e| bad(format!("return reply does not decode: {e}")))?;
    Ok(CustomerItem::Return {
        id: id.to_owned(),
        order: reply.order_id,
        amount: reply.amount_returned,
        at,
    })
}

/// A redemption item from its stored reply (JSON) and `at`.
pub fn redemption_item(
    id: &str,
    reply: &str,
    at: Option<DateTime<Utc>>,
) -> Result<CustomerItem, ItemError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Reply {
        points_redeemed: Decimal,
    }
    let reply: Reply = serde_json::from_str(reply)
        .map_err(|e| bad(format!("redemption reply does not decode: {e}")))?;
    Ok(CustomerItem::Redemption {
        id: id.to_owned(),
        points: reply.points_redeemed,
        at,
    })
}

/// An event item of a customer from its stored parts (sort key, `status`,
/// `at`, and the reply and record of its `data`): None for a sort key that
/// is not an order, return or redemption.
pub fn event_item(
    sk: &str,
    status: Option<&str>,
    at: Option<&str>,
    reply: &str,
    record: Option<OrderRecord>,
) -> Result<Option<CustomerItem>, ItemError> {
    let at = at
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| bad(format!("`at` is not an RFC 3339 instant: {e}")))
        })
        .transpose()?;
    if let Some(id) = sk.strip_prefix("ORDER#") {
        let status = status.ok_or_else(|| bad("`status` is not a string attribute"))?;
        order_item(id, status, record, at).map(Some)
    } else if let Some(id) = sk.strip_prefix("RETURN#") {
        return_item(id, reply, at).map(Some)
    } else if let Some(id) = sk.strip_prefix("REDEMPTION#") {
        redemption_item(id, reply, at).map(Some)
    } else {
        Ok(None)
    }
}

/// The order a record was made from, as far as any decision can tell
/// ([`OrderRecord::order_as_decided`]).
pub fn order_of(customer: &str, record: &OrderRecord, status: OrderStatus) -> Order {
    record.order_as_decided(customer, status)
}

/// A customer's history from their items (any order). Events the items
/// date are placed at their instant; the rest as the module says.
pub fn assemble(customer: &str, mut items: Vec<CustomerItem>) -> CustomerHistory {
    items.sort_by(|a, b| item_id(a).cmp(item_id(b)));
    // Orders of one instant in the order they came where their records
    // tell it (the replay's sort is stable): one without an arrival came
    // first, then by arrival, the rest by id.
    items.sort_by_key(arrival_rank);
    let last_order = items
        .iter()
        .filter_map(|i| match i {
            CustomerItem::Order {
                record: Some(r), ..
            } => Some(r.placed_at),
            _ => None,
        })
        .max();
    let last_event = items.iter().find_map(|i| match i {
        CustomerItem::State { last_event_at } => *last_event_at,
        _ => None,
    });
    let mut events = Vec::with_capacity(items.len());
    for item in items {
        match item {
            CustomerItem::Order {
                status,
                record: Some(record),
                at,
                ..
            } => {
                let completed = order_of(customer, &record, OrderStatus::Completed);
                if status == OrderStatus::Cancelled {
                    let when = at.or(last_event).or(last_order).unwrap_or(record.placed_at);
                    let mut cancelled = completed.clone();
                    cancelled.status = OrderStatus::Cancelled;
                    events.push(Event {
                        at: when,
                        seq: 3,
                        action: Action::Order(cancelled),
                    });
                }
                events.push(Event {
                    at: record.placed_at,
                    seq: 0,
                    action: Action::Order(completed),
                });
            }
            // Never completed: counted by no config.
            CustomerItem::Order { record: None, .. } | CustomerItem::State { .. } => {}
            CustomerItem::Return {
                id,
                order,
                amount,
                at,
            } => {
                let Some(when) = at.or(last_order) else {
                    continue;
                };
                events.push(Event {
                    at: when,
                    seq: 1,
                    action: Action::Return(Return {
                        return_id: id,
                        order_id: order,
                        customer_id: customer.to_owned(),
                        returned_at: when,
                        amount: Some(amount),
                    }),
                });
            }
            CustomerItem::Redemption { id, points, at } => {
                let Some(when) = at.or(last_order) else {
                    continue;
                };
                events.push(Event {
                    at: when,
                    seq: 2,
                    action: Action::Redemption(Redemption {
                        redemption_id: id,
                        points,
                        at: when,
                    }),
                });
            }
        }
    }
    let mut history = CustomerHistory {
        customer_id: customer.to_owned(),
        events,
    };
    history.sort();
    history
}

/// 0 for an order whose record keeps no arrival (and for other items),
/// else one past its arrival.
fn arrival_rank(item: &CustomerItem) -> u64 {
    match item {
        CustomerItem::Order {
            record: Some(record),
            ..
        } => record.arrival.map_or(0, |n| n.saturating_add(1)),
        _ => 0,
    }
}

fn item_id(item: &CustomerItem) -> &str {
    match item {
        CustomerItem::Order { id, .. }
        | CustomerItem::Return { id, .. }
        | CustomerItem::Redemption { id, .. } => id,
        CustomerItem::State { .. } => "",
    }
}
