//! The state's binary stored form (before deflate): the figures that grow
//! with a customer's history (the points lots and every tracker's days) as
//! columns of integers, the rest as JSON.
//!
//! ```text
//! body    := json-length json lots trackers
//! json    := the state without lots and trackers, CustomerState's own
//!            serde form (every other field, as the JSON format has it;
//!            `expiredLots` too, so a release before them, which ignores
//!            the field, still reads a state that has them)
//! lots    := count days(count) decimals(count)
//! trackers:= count (key-length key-bytes count days(count))* then, over
//!            every tracker's buckets in order, decimals(all) of the sums
//!            and decimals(all) of the maxima
//! days    := zig-zag varints of each day less the one before (the first
//!            less day 0)
//! decimals:= mode, then
//!            mode 0 | 1: scale S, one byte per value (its scale, +32 when
//!            negative), then planes of the values as integers of 10^-S,
//!            zig-zag: of each less the one before (0) or of each (1);
//!            mode 2 (when a value has no 10^-S integer within i128): the
//!            byte per value, then planes of each mantissa, zig-zag
//! planes  := width W in bytes of the largest integer, then W planes: every
//!            integer's lowest byte, then every one's next byte, ...
//! ```
//!
//! Counts, lengths and days are unsigned LEB128 varints. Each decimal keeps its
//! mantissa, scale and sign (a negative zero too), so a state reads back
//! exactly as it was, down to the scale of each figure. Days of a series
//! must increase and its buckets must not be empty (as a series always
//! holds them); anything else is refused, as is every malformed input:
//! decoding garbage returns an error and never panics.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use tier_engine::expired::ExpiredLot;
use tier_engine::period::{day_of, DayNumber};
use tier_engine::record_bytes::{put_varint, ByteReader};
use tier_engine::rejudge::Judged;
use tier_engine::series::{Bucket, Series};
use tier_engine::state::{BestOrder, Lot, TierChange};
use tier_engine::CustomerState;

/// Decimal column modes.
const DELTA: u8 = 0;
const PLAIN: u8 = 1;
const UNSCALED: u8 = 2;
/// Added to a value's scale byte when it is negative.
const NEGATIVE: u8 = 32;
/// The largest scale a `Decimal` has.
const MAX_SCALE: u32 = 28;

/// Every field but the lots and the trackers, borrowed, written as
/// `CustomerState`'s serde form writes them so that its `Deserialize` reads
/// them back (the two it misses default to empty and are filled in after).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rest<'a> {
    tier: &'a str,
    tier_since: &'a DateTime<Utc>,
    current_points: &'a Decimal,
    lifetime_points: &'a Decimal,
    lifetime_purchases: &'a Decimal,
    #[serde(
        skip_serializing_if = "VecDeque::is_empty",
        serialize_with = "tier_engine::expired::delta_expired::serialize"
    )]
    expired_lots: &'a VecDeque<ExpiredLot>,
    best_orders: &'a [BestOrder],
    history: &'a [TierChange],
    orders_applied: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_at: Option<&'a DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_version: Option<&'a u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    joined_at: Option<&'a DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    renewed_at: Option<&'a DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grace_until: Option<&'a DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warned_through: Option<&'a DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    judged: Option<&'a Judged>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_return_at: Option<&'a DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_redemption_at: Option<&'a DateTime<Utc>>,
    notices_sent: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    points_apart: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    late_seen: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    history_cut: Option<bool>,
    /// Each tracker's newest dropped day where reading the state back
    /// would not infer it ([`inferred_dropped`]), in the trackers' order
    /// (empty when none needs it), as days before the series' first kept
    /// day (or the customer's latest day, when it keeps none), or
    /// [`NONE_DROPPED`]. A customer
    /// who orders every day drops the day before the first kept one, which
    /// is inferred, so the state item of the heaviest customers does not
    /// grow past 2 KB. Among the JSON fields, which a release before it
    /// ignores, rather than in the columns, which it would refuse.
    #[serde(rename = "td", skip_serializing_if = "Vec::is_empty")]
    tracker_dropped: Vec<Option<DayNumber>>,
}

/// The day [`Rest::tracker_dropped`] counts back from.
fn dropped_from(series: &Series, last_event_at: Option<&DateTime<Utc>>) -> Option<DayNumber> {
    series
        .first_day()
        .or_else(|| last_event_at.map(|at| day_of(*at)))
}

/// A series' newest dropped day as read back when none is written: the
/// day before its first kept day, for a customer who joined before it
/// (the latest day a figure can have been dropped, so a late order asks
/// whenever one could have been; states stored before the day was kept
/// read this way too). Nothing for a customer who joined on it or after.
fn inferred_dropped(series: &Series, joined: DayNumber) -> Option<DayNumber> {
    let first = series.first_day()?;
    (joined < first).then(|| first - 1)
}

/// Written for a series that dropped nothing where a day would be
/// inferred (a gap is no such number: a late order's day may come before
/// the dropped one, so gaps may be negative, but never by 5 million
/// years).
const NONE_DROPPED: DayNumber = DayNumber::MIN;

/// What [`Rest::tracker_dropped`] keeps of `series`: nothing where the day
/// read back would be inferred right.
fn written_gap(
    series: &Series,
    joined: DayNumber,
    last_event_at: Option<&DateTime<Utc>>,
) -> Option<DayNumber> {
    let inferred = inferred_dropped(series, joined);
    match series.newest_dropped() {
        dropped if dropped == inferred => None,
        None => Some(NONE_DROPPED),
        Some(dropped) => Some(dropped_from(series, last_event_at)? - dropped),
    }
}

/// The one field of [`Rest`] `CustomerState`'s serde form does not read.
#[derive(Deserialize)]
struct TrackerDropped {
    #[serde(rename = "td", default)]
    tracker_dropped: Vec<Option<DayNumber>>,
}

pub(super) fn write(state: &CustomerState, out: &mut Vec<u8>) {
    // Destructured without `..`: a field added to the state does not
    // compile until it is written here.
    let CustomerState {
        tier,
        tier_since,
        current_points,
        lifetime_points,
        lifetime_purchases,
        lots,
        expired_lots,
        trackers,
        best_orders,
        history,
        orders_applied,
        last_event_at,
        config_version,
        joined_at,
        renewed_at,
        grace_until,
        warned_through,
        judged,
        latest_return_at,
        latest_redemption_at,
        notices_sent,
        points_apart,
        late_seen,
        history_cut,
        // Not stored: the service writes it with the state.
        outbox: _,
        // Not stored: read with the orders for one decision.
        redemptions: _,
    } = state;
    let rest = Rest {
        tier,
        tier_since,
        current_points,
        lifetime_points,
        lifetime_purchases,
        expired_lots,
        best_orders,
        history,
        orders_applied: *orders_applied,
        last_event_at: last_event_at.as_ref(),
        config_version: config_version.as_ref(),
        joined_at: joined_at.as_ref(),
        renewed_at: renewed_at.as_ref(),
        grace_until: grace_until.as_ref(),
        warned_through: warned_through.as_ref(),
        judged: judged.as_ref(),
        latest_return_at: latest_return_at.as_ref(),
        latest_redemption_at: latest_redemption_at.as_ref(),
        notices_sent: *notices_sent,
        points_apart: *points_apart,
        late_seen: *late_seen,
        history_cut: *history_cut,
        tracker_dropped: {
            let joined = day_of(state.joined());
            let gaps: Vec<Option<DayNumber>> = trackers
                .iter()
                .map(|t| written_gap(t, joined, last_event_at.as_ref()))
                .collect();
            match gaps.iter().any(Option::is_some) {
                true => gaps,
                false => Vec::new(),
            }
        },
    };
    let json = serde_json::to_vec(&rest).expect("state serialises");
    put_len(out, json.len());
    out.extend_from_slice(&json);

    put_len(out, lots.len());
    put_days(out, lots.iter().map(|l| l.day));
    put_decimals(out, lots.iter().map(|l| l.points));

    put_len(out, trackers.len());
    for series in trackers {
        put_len(out, series.key.len());
        out.extend_from_slice(series.key.as_bytes());
        put_len(out, series.len());
        put_days(out, series.buckets().map(|b| b.day));
    }
    let buckets = || trackers.iter().flat_map(|s| s.buckets());
    put_decimals(out, buckets().map(|b| b.sum));
    put_decimals(out, buckets().map(|b| b.max));
}

pub(super) fn read(bytes: &[u8]) -> Result<CustomerState, String> {
    let mut r = Reader {
        bytes: ByteReader::new(bytes, "the state"),
    };
    let json_len = r.count()?;
    let json = r.take(json_len)?;
    let mut state: CustomerState =
        serde_json::from_slice(json).map_err(|e| format!("state fields: {e}"))?;
    if !state.lots.is_empty() || !state.trackers.is_empty() {
        return Err("lots or trackers among the JSON fields".into());
    }
    let TrackerDropped { tracker_dropped } =
        serde_json::from_slice(json).map_err(|e| format!("state fields: {e}"))?;

    let count = r.count()?;
    let days = r.days(count)?;
    let points = r.decimals(count)?;
    state.lots = days
        .into_iter()
        .zip(points)
        .map(|(day, points)| Lot { day, points })
        .collect::<VecDeque<_>>();

    let series = r.count()?;
    let mut keys = Vec::with_capacity(series.min(r.left()));
    let mut all_days = Vec::new();
    for _ in 0..series {
        let key_len = r.count()?;
        let key = std::str::from_utf8(r.take(key_len)?)
            .map_err(|_| "a tracker key is not UTF-8")?
            .to_owned();
        let count = r.count()?;
        let days = r.days(count)?;
        if days.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("tracker {key}: days out of order"));
        }
        keys.push((key, days.len()));
        all_days.extend(days);
    }
    let sums = r.decimals(all_days.len())?;
    let maxima = r.decimals(all_days.len())?;
    if r.left() > 0 {
        return Err(format!("{} bytes after the state", r.left()));
    }
    let mut buckets = all_days
        .into_iter()
        .zip(sums.into_iter().zip(maxima))
        .map(|(day, (sum, max))| Bucket { day, sum, max });
    for (key, count) in keys {
        let mine: Vec<Bucket> = buckets.by_ref().take(count).collect();
        if mine.iter().any(|b| b.sum.is_zero() && b.max.is_zero()) {
            return Err(format!("tracker {key}: an empty day"));
        }
        state.trackers.push(Series::from_buckets(key, mine));
    }
    let gaps = match tracker_dropped.len() {
        0 => vec![None; state.trackers.len()],
        n if n == state.trackers.len() => tracker_dropped,
        _ => return Err("a dropped day for each tracker, or none".into()),
    };
    let joined = day_of(state.joined());
    let last_event_at = state.last_event_at;
    for (series, gap) in state.trackers.iter_mut().zip(gaps) {
        let dropped = match (gap, dropped_from(series, last_event_at.as_ref())) {
            (None, _) => inferred_dropped(series, joined),
            (Some(NONE_DROPPED), _) => None,
            (Some(gap), Some(from)) => {
                // Days are dropped at or before the customer's latest day,
                // never before the calendar's first.
                let latest = last_event_at.map(day_of);
                let day = from
                    .checked_sub(gap)
                    .filter(|day| *day >= 0 && latest.is_some_and(|latest| *day <= latest))
                    .ok_or("a dropped day out of range")?;
                Some(day)
            }
            (Some(_), None) => return Err("a dropped day with no day to count from".into()),
        };
        series.set_newest_dropped(dropped);
    }
    Ok(state)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_varint(out, n as u128);
}

fn zigzag(v: i128) -> u128 {
    ((v << 1) ^ (v >> 127)) as u128
}

fn unzigzag(v: u128) -> i128 {
    ((v >> 1) as i128) ^ -((v & 1) as i128)
}

fn put_days(out: &mut Vec<u8>, days: impl Iterator<Item = DayNumber>) {
    let mut previous = 0i128;
    for day in days {
        let day = i128::from(day);
        put_varint(out, zigzag(day - previous));
        previous = day;
    }
}

fn scale_byte(d: &Decimal) -> u8 {
    d.scale() as u8 + if d.is_sign_negative() { NEGATIVE } else { 0 }
}

const fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// `units` of 10^-s as units of 10^-(s - `below`), if it is a whole number
/// of them. Most figures have their column's scale, and most fit an i64:
/// an i128 division costs several times an i64 one, and a state decode
/// divides once per figure.
fn unscale(units: i128, below: u32) -> Option<i128> {
    if below == 0 {
        return Some(units);
    }
    let factor = pow10(below);
    match (i64::try_from(units), i64::try_from(factor)) {
        (Ok(units), Ok(factor)) => (units % factor == 0).then(|| i128::from(units / factor)),
        _ => (units % factor == 0).then(|| units / factor),
    }
}

/// The values as integers of 10^-`scale` (their largest scale), when every
/// one has such an integer within i128 and so do the differences of
/// consecutive ones.
fn common_units(values: &[Decimal]) -> Option<(u32, Vec<i128>)> {
    let scale = values.iter().map(|d| d.scale()).max().unwrap_or(0);
    let units = values
        .iter()
        .map(|d| d.mantissa().checked_mul(pow10(scale - d.scale())))
        .collect::<Option<Vec<i128>>>()?;
    let mut previous = 0i128;
    for u in &units {
        u.checked_sub(previous)?;
        previous = *u;
    }
    Some((scale, units))
}

fn put_decimals(out: &mut Vec<u8>, values: impl Iterator<Item = Decimal>) {
    let values: Vec<Decimal> = values.collect();
    let Some((scale, units)) = common_units(&values) else {
        out.push(UNSCALED);
        out.extend(values.iter().map(scale_byte));
        put_planes(out, values.iter().map(|d| zigzag(d.mantissa())).collect());
        return;
    };
    let mut previous = 0i128;
    let deltas: Vec<u128> = units
        .iter()
        .map(|u| {
            let delta = u - previous;
            previous = *u;
            zigzag(delta)
        })
        .collect();
    let plain: Vec<u128> = units.iter().map(|u| zigzag(*u)).collect();
    // Whichever is shorter: differences suit figures that move little
    // from day to day, the values themselves figures that scatter.
    let size = |v: &[u128]| v.iter().map(|u| 128 - u.leading_zeros()).sum::<u32>();
    let (mode, integers) = if size(&deltas) <= size(&plain) {
        (DELTA, deltas)
    } else {
        (PLAIN, plain)
    };
    out.push(mode);
    out.push(scale as u8);
    out.extend(values.iter().map(scale_byte));
    put_planes(out, integers);
}

/// The integers as byte planes: the width in bytes of the largest (0 when
/// all are zero), then every integer's lowest byte, every one's next byte,
/// and so on. Deflate codes each plane's bytes well (the low ones scatter,
/// the high ones barely vary), better than varints that mix them.
fn put_planes(out: &mut Vec<u8>, integers: Vec<u128>) {
    let largest = integers.iter().max().copied().unwrap_or(0);
    let width = (128 - largest.leading_zeros()).div_ceil(8);
    out.push(width as u8);
    for plane in 0..width {
        out.extend(integers.iter().map(|v| (v >> (8 * plane)) as u8));
    }
}

/// The state's own reads on top of the shared byte reader.
struct Reader<'a> {
    bytes: ByteReader<'a>,
}

impl<'a> std::ops::Deref for Reader<'a> {
    type Target = ByteReader<'a>;
    fn deref(&self) -> &ByteReader<'a> {
        &self.bytes
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.bytes
    }
}

impl Reader<'_> {
    fn days(&mut self, count: usize) -> Result<Vec<DayNumber>, String> {
        let mut day = 0i128;
        let mut days = Vec::with_capacity(count.min(self.left()));
        for _ in 0..count {
            day = day
                .checked_add(unzigzag(self.varint()?))
                .ok_or("a day out of range")?;
            days.push(DayNumber::try_from(day).map_err(|_| "a day out of range")?);
        }
        Ok(days)
    }

    fn planes(&mut self, count: usize) -> Result<Vec<u128>, String> {
        let width = usize::from(self.byte()?);
        if width > 16 {
            return Err(format!("integers of {width} bytes"));
        }
        let bytes = self.take(count.checked_mul(width).ok_or("too many integers")?)?;
        let mut integers = vec![0u128; count];
        for (plane, bytes) in bytes.chunks_exact(count.max(1)).enumerate() {
            for (v, b) in integers.iter_mut().zip(bytes) {
                *v |= u128::from(*b) << (8 * plane);
            }
        }
        Ok(integers)
    }

    fn decimals(&mut self, count: usize) -> Result<Vec<Decimal>, String> {
        let mode = self.byte()?;
        let common = match mode {
            DELTA | PLAIN => {
                let scale = u32::from(self.byte()?);
                if scale > MAX_SCALE {
                    return Err(format!("a scale of {scale}"));
                }
                Some(scale)
            }
            UNSCALED => None,
            _ => return Err(format!("decimal column mode {mode}")),
        };
        let signs = self.take(count)?;
        let integers = self.planes(count)?;
        let mut values = Vec::with_capacity(count);
        let mut previous = 0i128;
        for (&sign, integer) in signs.iter().zip(integers) {
            let negative = sign >= NEGATIVE;
            let scale = u32::from(sign % NEGATIVE);
            if sign >= 2 * NEGATIVE || scale > MAX_SCALE {
                return Err(format!("a scale byte of {sign}"));
            }
            let raw = unzigzag(integer);
            let mantissa = match common {
                None => raw,
                Some(common) => {
                    let units = if mode == DELTA {
                        previous.checked_add(raw).ok_or("a figure out of range")?
                    } else {
                        raw
                    };
                    previous = units;
                    let below = common
                        .checked_sub(scale)
                        .ok_or("a scale above the column's")?;
                    unscale(units, below).ok_or("a figure finer than its scale")?
                }
            };
            if (mantissa < 0) != (negative && mantissa != 0) {
                return Err("a figure's sign does not match".into());
            }
            let mut d = Decimal::try_from_i128_with_scale(mantissa, scale)
                .map_err(|e| format!("a figure out of range: {e}"))?;
            if negative && mantissa == 0 {
                d.set_sign_negative(true);
            }
            values.push(d);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The i64 path and the i128 path agree, and both refuse a figure finer
    /// than the scale it is read at.
    #[test]
    fn unscaling_is_exact_on_both_paths() {
        assert_eq!(unscale(1234500, 0), Some(1234500));
        assert_eq!(unscale(1234500, 2), Some(12345));
        assert_eq!(unscale(-1234500, 2), Some(-12345));
        assert_eq!(unscale(1234501, 2), None);
        let wide = i128::from(i64::MAX) * 1000;
        assert_eq!(unscale(wide, 3), Some(i128::from(i64::MAX)));
        assert_eq!(unscale(-wide, 3), Some(-i128::from(i64::MAX)));
        assert_eq!(unscale(wide + 1, 3), None);
        assert_eq!(unscale(pow10(28), 28), Some(1));
        assert_eq!(unscale(i128::from(i64::MIN), 1), None);
        assert_eq!(
            unscale(i128::from(i64::MIN) + 8, 1),
            Some((i128::from(i64::MIN) + 8) / 10)
        );
    }
}
