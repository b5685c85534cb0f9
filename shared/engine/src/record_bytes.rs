//! An order's record as bytes: the form the store keeps in an order's item
//! when it writes events in binary (`EVENT_FORMAT=binary`), read again by
//! the store and by the replay of a table export. An export replays every
//! order's record, and its JSON (escaped inside the item's deflated JSON)
//! cost more than the replay itself (docs/simulation.md); this form reads
//! without inflating or parsing text, and is smaller than the deflated
//! JSON it replaces for a typical order (docs/benchmarks.md,
//! "`EVENT_FORMAT`", has the sizes, and the cases where it is not).
//!
//! The order's id is not kept: whoever holds the bytes knows it (it is the
//! item's sort key), and a second copy, which the deflated JSON gets
//! nearly free, would cost the uncompressed form up to 512 bytes.
//!
//! Layout: a version byte (1; 2 for an order decided after a redemption of
//! its instant; 3 and 4 the same, the order's arrival after the fields;
//! 5 to 8 the same four, each return's mark followed by its arrival; 9 to
//! 16 the same eight, each return's mark followed last by its shortfall:
//! a decimal, or a single byte no decimal opens with, 0x7E for a whole
//! zero (the usual shortfall) and 0x7F for none), then the fields in
//! declaration order. Strings
//! and lists are a varint length and their contents; instants are seconds
//! (zigzag varint) and nanoseconds (varint); decimals are a byte (scale,
//! plus 0x80 when negative, so that `-0` stays `-0`) and the magnitude of
//! the mantissa (varint); the config version is a varint of version + 1,
//! 0 for none. A record reads back exactly as its JSON form reads back
//! (each decimal at its own scale; a negative zero, which the JSON form
//! reads as zero, as zero), and any other input is an error, never a
//! panic.

use crate::events::{OrderRecord, ReturnMark};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// The first byte of this layout.
const VERSION_1: u8 = 1;
/// The same layout, of an order decided after a redemption of its instant
/// (`OrderRecord::after_redemption`): the flag costs no byte.
const VERSION_2: u8 = 2;
/// Versions 1 and 2 followed by the order's arrival (a varint), which
/// orders of one instant are told apart by (`OrderRecord::arrival`).
const VERSION_3: u8 = 3;
const VERSION_4: u8 = 4;
/// Versions 1 to 4 plus this: each return mark followed by its arrival
/// (a varint of arrival + 1, 0 for none), which a return of an order's
/// instant is told apart from that order by (`ReturnMark::arrival`).
const MARKS_WITH_ARRIVALS: u8 = 4;
/// Versions 1 to 8 plus this: each return mark followed last by its
/// shortfall (`ReturnMark::shortfall`).
const MARKS_WITH_SHORTFALLS: u8 = 8;
const NEGATIVE: u8 = 0x80;
/// A return mark's shortfall of zero points at scale 0, in one byte (a
/// decimal's first byte is its scale, at most 28, and the sign).
const NOT_SHORT: u8 = 0x7E;
/// A return mark that keeps no shortfall (written before marks kept it).
const SHORTFALL_UNKNOWN: u8 = 0x7F;

/// `record` appended to `out`, all but its `order_id`.
pub fn write(record: &OrderRecord, out: &mut Vec<u8>) {
    let version = match (record.after_redemption, record.arrival.is_some()) {
        (false, false) => VERSION_1,
        (true, false) => VERSION_2,
        (false, true) => VERSION_3,
        (true, true) => VERSION_4,
    };
    let marks_arrive = record.returns.iter().any(|m| m.arrival.is_some());
    let marks_short = record.returns.iter().any(|m| m.shortfall.is_some());
    out.push(
        version
            + MARKS_WITH_ARRIVALS * u8::from(marks_arrive)
            + MARKS_WITH_SHORTFALLS * u8::from(marks_short),
    );
    put_instant(out, record.placed_at);
    put_decimal(out, record.amount);
    put_decimal(out, record.gross_amount);
    put_decimal(out, record.line_items_total);
    put_varint(out, record.categories.len() as u128);
    for (category, total) in &record.categories {
        put_str(out, category);
        put_decimal(out, *total);
    }
    out.push(u8::from(record.counts_for_purchases));
    put_decimal(out, record.points_awarded);
    put_decimal(out, record.returned_amount);
    put_varint(out, record.returns.len() as u128);
    for mark in &record.returns {
        put_instant(out, mark.at);
        put_decimal(out, mark.amount);
        if marks_arrive {
            put_varint(out, mark.arrival.map_or(0, |a| u128::from(a) + 1));
        }
        if marks_short {
            match mark.shortfall {
                None => out.push(SHORTFALL_UNKNOWN),
                Some(points) if points.is_zero() && points.scale() == 0 => out.push(NOT_SHORT),
                Some(points) => put_decimal(out, points),
            }
        }
    }
    put_decimal(out, record.points_reversed);
    put_str(out, &record.tier_before);
    put_str(out, &record.tier_after);
    put_varint(out, record.config_version.map_or(0, |v| u128::from(v) + 1));
    if let Some(arrival) = record.arrival {
        put_varint(out, u128::from(arrival));
    }
}

/// The record of order `order_id` that `bytes` hold, all of them.
pub fn read(order_id: &str, bytes: &[u8]) -> Result<OrderRecord, String> {
    let mut r = ByteReader::new(bytes, "the record");
    let layout = r.byte()?;
    if !(VERSION_1..=VERSION_4 + MARKS_WITH_ARRIVALS + MARKS_WITH_SHORTFALLS).contains(&layout) {
        return Err(format!(
            "record layout {layout} is not one this release reads"
        ));
    }
    // Versions 1 to 4, plus what the return marks carry.
    let marks = (layout - 1) / VERSION_4 * VERSION_4;
    let marks_arrive = marks & MARKS_WITH_ARRIVALS != 0;
    let marks_short = marks & MARKS_WITH_SHORTFALLS != 0;
    let version = layout - marks;
    let after_redemption = version == VERSION_2 || version == VERSION_4;
    let with_arrival = version >= VERSION_3;
    let order_id = order_id.to_owned();
    let placed_at = r.instant()?;
    let amount = r.decimal()?;
    let gross_amount = r.decimal()?;
    let line_items_total = r.decimal()?;
    let categories = (0..r.count()?)
        .map(|_| Ok((r.string()?, r.decimal()?)))
        .collect::<Result<_, String>>()?;
    let counts_for_purchases = match r.byte()? {
        0 => false,
        1 => true,
        other => return Err(format!("{other} is not a flag")),
    };
    let points_awarded = r.decimal()?;
    let returned_amount = r.decimal()?;
    let returns = (0..r.count()?)
        .map(|_| {
            let (at, amount) = (r.instant()?, r.decimal()?);
            let arrival = match marks_arrive {
                true => match r.varint()? {
                    0 => None,
                    a => Some(u64::try_from(a - 1).map_err(|_| "the arrival is too large")?),
                },
                false => None,
            };
            let shortfall = match marks_short {
                true => r.shortfall()?,
                false => None,
            };
            Ok(ReturnMark {
                at,
                amount,
                arrival,
                shortfall,
            })
        })
        .collect::<Result<_, String>>()?;
    let points_reversed = r.decimal()?;
    let tier_before = r.string()?;
    let tier_after = r.string()?;
    let config_version = match r.varint()? {
        0 => None,
        v => Some(u64::try_from(v - 1).map_err(|_| "the config version is too large")?),
    };
    let arrival = match with_arrival {
        true => Some(u64::try_from(r.varint()?).map_err(|_| "the arrival is too large")?),
        false => None,
    };
    if r.left() > 0 {
        return Err(format!("{} bytes after the record", r.left()));
    }
    Ok(OrderRecord {
        order_id,
        placed_at,
        amount,
        gross_amount,
        line_items_total,
        categories,
        counts_for_purchases,
        points_awarded,
        returned_amount,
        returns,
        points_reversed,
        tier_before,
        tier_after,
        config_version,
        after_redemption,
        arrival,
    })
}

/// `v` as an unsigned LEB128 varint: seven bits a byte, low bits first,
/// the top bit set on every byte but the last. The store's other binary
/// forms write their lengths and figures the same way.
pub fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varint `bytes` open with and how many bytes it took; Err when they
/// end before it does ("ends early") or it passes 128 bits ("overflows").
pub fn varint(bytes: &[u8]) -> Result<(u128, usize), &'static str> {
    let mut v = 0u128;
    for (i, &b) in bytes.iter().take(19).enumerate() {
        let shift = 7 * i as u32;
        let bits = u128::from(b & 0x7f);
        if shift > 0 && bits >> (128 - shift) != 0 {
            return Err("a varint overflows");
        }
        v |= bits << shift;
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err(if bytes.len() < 19 {
        "a varint ends early"
    } else {
        "a varint overflows"
    })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u128);
    out.extend_from_slice(s.as_bytes());
}

fn put_instant(out: &mut Vec<u8>, at: DateTime<Utc>) {
    let seconds = i128::from(at.timestamp());
    put_varint(out, ((seconds << 1) ^ (seconds >> 127)) as u128);
    put_varint(out, u128::from(at.timestamp_subsec_nanos()));
}

fn put_decimal(out: &mut Vec<u8>, d: Decimal) {
    out.push(d.scale() as u8 | if d.is_sign_negative() { NEGATIVE } else { 0 });
    put_varint(out, d.mantissa().unsigned_abs());
}

/// A cursor over bytes in this module's conventions, for the store's
/// other binary forms too: every read is checked, and a count is never
/// more than the bytes left (each counted thing takes at least one byte),
/// so that no input asks for a large allocation.
pub struct ByteReader<'a> {
    bytes: &'a [u8],
    /// What the bytes are, for errors: "the record", "the state".
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        ByteReader { bytes, what }
    }

    /// The bytes not read yet.
    pub fn left(&self) -> usize {
        self.bytes.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(format!("{} ends early", self.what));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub fn varint(&mut self) -> Result<u128, String> {
        let (v, n) = varint(self.bytes).map_err(|e| format!("{}: {e}", self.what))?;
        self.bytes = &self.bytes[n..];
        Ok(v)
    }

    /// A count, at most the bytes left.
    pub fn count(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "a count of {n} with {} bytes left in {}",
                    self.left(),
                    self.what
                )
            })
    }
}

/// The record's own reads.
impl ByteReader<'_> {
    fn string(&mut self) -> Result<String, String> {
        let n = self.count()?;
        let text = self.take(n)?;
        std::str::from_utf8(text)
            .map(str::to_owned)
            .map_err(|e| format!("a string is not UTF-8: {e}"))
    }

    fn instant(&mut self) -> Result<DateTime<Utc>, String> {
        let zigzag = self.varint()?;
        let seconds = ((zigzag >> 1) as i128) ^ -((zigzag & 1) as i128);
        let nanos = self.varint()?;
        i64::try_from(seconds)
            .ok()
            .zip(u32::try_from(nanos).ok())
            .and_then(|(s, n)| DateTime::from_timestamp(s, n))
            .ok_or_else(|| format!("{seconds} s and {nanos} ns is not an instant"))
    }

    /// A return mark's shortfall ([`NOT_SHORT`], [`SHORTFALL_UNKNOWN`]
    /// or a decimal).
    fn shortfall(&mut self) -> Result<Option<Decimal>, String> {
        match self.bytes.first() {
            Some(&NOT_SHORT) => {
                self.byte()?;
                Ok(Some(Decimal::ZERO))
            }
            Some(&SHORTFALL_UNKNOWN) => {
                self.byte()?;
                Ok(None)
            }
            _ => self.decimal().map(Some),
        }
    }

    fn decimal(&mut self) -> Result<Decimal, String> {
        let head = self.byte()?;
        let scale = u32::from(head & !NEGATIVE);
        let magnitude = self.varint()?;
        let mut d = i128::try_from(magnitude)
            .ok()
            .and_then(|m| Decimal::try_from_i128_with_scale(m, scale).ok())
            .ok_or_else(|| format!("{magnitude} at scale {scale} is not a decimal"))?;
        // As rust_decimal reads "-0" from the JSON form: zero.
        d.set_sign_negative(head & NEGATIVE != 0 && !d.is_zero());
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decimal() -> impl Strategy<Value = Decimal> {
        (any::<i128>(), 0u32..=28, any::<bool>()).prop_map(|(m, scale, negative)| {
            let mut d = Decimal::try_from_i128_with_scale(m % (1i128 << 96), scale)
                .expect("within 96 bits");
            d.set_sign_negative(negative);
            d
        })
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (-62_000_000_000i64..250_000_000_000, 0u32..2_000_000_000)
            .prop_filter_map("an instant", |(s, n)| DateTime::from_timestamp(s, n))
    }

    fn record() -> impl Strategy<Value = OrderRecord> {
        (
            (".{0,40}", instant(), decimal(), decimal(), decimal()),
            prop::collection::vec((".{0,20}", decimal()), 0..4),
            (any::<bool>(), decimal(), decimal()),
            prop::collection::vec(
                (
                    instant(),
                    decimal(),
                    any::<Option<u64>>(),
                    // A whole zero has a byte of its own.
                    prop::option::of(prop_oneof![
                        Just(Decimal::ZERO),
                        Just(Decimal::new(0, 2)),
                        decimal()
                    ]),
                ),
                0..40,
            ),
            (
                decimal(),
                ".{0,16}",
                ".{0,16}",
                any::<Option<u64>>(),
                any::<bool>(),
                any::<Option<u64>>(),
            ),
        )
            .prop_map(|(head, categories, counts, returns, tail)| OrderRecord {
                order_id: head.0,
                placed_at: head.1,
                amount: head.2,
                gross_amount: head.3,
                line_items_total: head.4,
                categories,
                counts_for_purchases: counts.0,
                points_awarded: counts.1,
                returned_amount: counts.2,
                returns: returns
                    .into_iter()
                    .map(|(at, amount, arrival, shortfall)| ReturnMark {
                        at,
                        amount,
                        arrival,
                        shortfall,
                    })
                    .collect(),
                points_reversed: tail.0,
                tier_before: tail.1,
                tier_after: tail.2,
                config_version: tail.3,
                after_redemption: tail.4,
                arrival: tail.5,
            })
    }

    fn bytes_of(record: &OrderRecord) -> Vec<u8> {
        let mut out = Vec::new();
        write(record, &mut out);
        out
    }

    /// As JSON text: `==` on decimals ignores their scale and sign.
    fn text(record: &OrderRecord) -> String {
        serde_json::to_string(record).unwrap()
    }

    proptest! {
        /// Every field comes back as the JSON form gives it back, each
        /// decimal at its own scale.
        #[test]
        fn a_record_reads_back_as_its_json_form_does(record in record()) {
            let back = read(&record.order_id, &bytes_of(&record)).expect("reads");
            let from_json: OrderRecord = serde_json::from_str(&text(&record)).unwrap();
            prop_assert_eq!(text(&back), text(&from_json));
            prop_assert_eq!(back, record);
        }

        /// Cut short, extended, or with any byte changed: an error or a
        /// record, never a panic.
        #[test]
        fn damaged_bytes_never_panic(record in record(), at in any::<prop::sample::Index>(),
                                     with in any::<u8>(), cut in any::<bool>()) {
            let mut bytes = bytes_of(&record);
            let i = at.index(bytes.len());
            if cut {
                bytes.truncate(i);
                prop_assert!(read("o", &bytes).is_err());
            } else {
                bytes[i] = with;
                let _ = read("o", &bytes);
            }
            bytes.push(0);
            let _ = read("o", &bytes);
        }

        #[test]
        fn noise_never_panics(noise in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = read("o", &noise);
        }
    }

    fn order() -> OrderRecord {
        OrderRecord {
            order_id: "o1".into(),
            placed_at: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            amount: Decimal::new(12345, 2),
            gross_amount: Decimal::new(12345, 2),
            line_items_total: Decimal::ZERO,
            categories: vec![],
            counts_for_purchases: true,
            points_awarded: Decimal::new(123, 0),
            returned_amount: Decimal::ZERO,
            returns: vec![],
            points_reversed: Decimal::ZERO,
            tier_before: "Member".into(),
            tier_after: "Silver".into(),
            config_version: Some(3),
            after_redemption: false,
            arrival: None,
        }
    }

    #[test]
    fn what_does_not_read_is_named() {
        let record = order();
        let bytes = bytes_of(&record);
        assert!(bytes.len() < 40, "{} bytes", bytes.len());
        assert_eq!(read("o1", &bytes).unwrap(), record);
        let mut flagged = bytes.clone();
        flagged[0] = VERSION_2;
        assert!(read("o1", &flagged).unwrap().after_redemption);
        let mut arrived = bytes.clone();
        arrived[0] = VERSION_4;
        arrived.push(7);
        let back = read("o1", &arrived).unwrap();
        assert_eq!((back.after_redemption, back.arrival), (true, Some(7)));
        for layout in [0, 17, 255] {
            let mut other = bytes.clone();
            other[0] = layout;
            let refused = read("o1", &other).unwrap_err();
            assert!(refused.contains(&format!("layout {layout} ")), "{refused}");
        }
        let mut missing = bytes.clone();
        missing[0] = VERSION_3;
        assert!(read("o1", &missing).is_err());
        let mut longer = bytes.clone();
        longer.push(7);
        assert!(read("o1", &longer)
            .unwrap_err()
            .contains("after the record"));
        let start = |out: &mut Vec<u8>| {
            out.push(VERSION_1);
            put_instant(out, record.placed_at);
        };
        // A scale beyond 28.
        let mut scaled = Vec::new();
        start(&mut scaled);
        scaled.extend([29, 1]);
        assert!(read("o1", &scaled).unwrap_err().contains("scale 29"));
        // A mantissa beyond 96 bits.
        let mut wide = Vec::new();
        start(&mut wide);
        wide.push(0);
        put_varint(&mut wide, 1u128 << 96);
        assert!(read("o1", &wide).unwrap_err().contains("not a decimal"));
        // A count longer than what is left.
        let mut long = Vec::new();
        start(&mut long);
        long.extend([0, 1, 0, 1, 0, 1]);
        put_varint(&mut long, u128::MAX);
        assert!(read("o1", &long)
            .unwrap_err()
            .contains("bytes left in the record"));
        // A varint past 128 bits.
        let mut endless = vec![VERSION_1];
        endless.extend([0xff; 18]);
        endless.push(0x7f);
        assert!(read("o1", &endless).unwrap_err().contains("overflows"));
    }

    #[test]
    fn a_negative_zero_reads_as_zero_as_from_json() {
        let mut zero = order();
        zero.points_reversed = Decimal::new(0, 2);
        zero.points_reversed.set_sign_negative(true);
        let back = read("o1", &bytes_of(&zero)).unwrap();
        let json: OrderRecord = serde_json::from_str(&text(&zero)).unwrap();
        assert_eq!(back.points_reversed.to_string(), "0.00");
        assert_eq!(text(&back), text(&json));
    }
}
