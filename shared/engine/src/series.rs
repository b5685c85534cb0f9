//! A tracker's values in UTC day buckets, kept incrementally.
//!
//! A day holds the sum of its orders' contributions (`sum` trackers) or the
//! largest single one (`max` trackers): one figure per day whatever the
//! number of orders, so the state item stays flat in order count. A return
//! that takes back a day's largest order has the day's maximum worked out
//! again from the day's other orders (see `Program::count_in_trackers`).
//!
//! Window sums are answered from running totals, window maxima that reach
//! the newest day from the days that peak over every later one, both in
//! fixed point
//! ([`crate::fixed`]). Both are derived: rebuilt when a series is loaded,
//! and kept up to date in O(1) when orders arrive in time order and the
//! oldest days leave (the deques drop their front without moving the rest).

use crate::fixed;
use crate::period::DayNumber;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub day: DayNumber,
    /// Sum of the day's contributions (for `sum` trackers; visits count 1 each).
    pub sum: Decimal,
    /// The day's largest single contribution (for `max` trackers).
    pub max: Decimal,
}

impl Bucket {
    fn is_empty(&self) -> bool {
        self.sum.is_zero() && self.max.is_zero()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "StoredSeries", into = "StoredSeries")]
pub struct Series {
    /// The tracker definition this series was counted for (`Tracker::key`).
    pub key: String,
    buckets: VecDeque<Bucket>,
    /// The buckets' days, contiguous, for cache-friendly searches.
    days: VecDeque<DayNumber>,
    /// `cumulative[i]`: the sums of the buckets before bucket `i`, in fixed
    /// point (one more entry than buckets; the first covers days dropped).
    cumulative: VecDeque<i128>,
    /// The days whose maximum is larger than every later day's, oldest
    /// first (so their maxima decrease): the largest maximum of a window
    /// that reaches the newest day is that of its first peak.
    peaks: VecDeque<(DayNumber, i128)>,
    /// Whether every figure has a fixed-point form (always, for figures the
    /// API accepts); when not, answers are summed from the buckets.
    indexed: bool,
    /// The newest day whose figures were dropped: a window reaching back
    /// to it (a late event's) misses what only the orders still tell.
    newest_dropped: Option<DayNumber>,
}

/// What the customer's windows read, not how far back the state was
/// trimmed: a customer fed late holds what one fed in time holds.
impl PartialEq for Series {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.buckets == other.buckets
    }
}

/// The stored form: days as differences from the previous bucket (the first
/// from day 0), so a year of daily buckets is mostly one-digit numbers and
/// the state item stays small (DynamoDB bills writes per started KB).
#[derive(Serialize, Deserialize)]
struct StoredSeries {
    #[serde(rename = "k")]
    key: String,
    #[serde(rename = "b")]
    buckets: Vec<StoredBucket>,
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    newest_dropped: Option<DayNumber>,
}

#[derive(Serialize, Deserialize)]
struct StoredBucket(
    DayNumber,
    Decimal,
    #[serde(default, skip_serializing_if = "StoredMax::is_none")] StoredMax,
);

/// A day's maximum, written as a one-value list; states written before it
/// was one figure per day hold every order's value, of which the largest is
/// the day's maximum.
#[derive(Serialize, Deserialize, Default)]
#[serde(untagged)]
enum StoredMax {
    #[default]
    None,
    One(Decimal),
    PerOrder(Vec<Decimal>),
}

impl StoredMax {
    fn is_none(&self) -> bool {
        matches!(self, StoredMax::None)
    }

    fn value(self) -> Decimal {
        match self {
            StoredMax::None => Decimal::ZERO,
            StoredMax::One(v) => v,
            StoredMax::PerOrder(values) => values.into_iter().max().unwrap_or(Decimal::ZERO),
        }
    }
}

impl From<StoredSeries> for Series {
    fn from(s: StoredSeries) -> Self {
        let mut day = 0;
        let buckets = s.buckets.into_iter().map(|StoredBucket(delta, sum, max)| {
            day += delta;
            Bucket {
                day,
                sum,
                max: max.value(),
            }
        });
        let mut series = Series::from_buckets(s.key, buckets);
        series.newest_dropped = s.newest_dropped;
        series
    }
}

impl From<Series> for StoredSeries {
    fn from(s: Series) -> Self {
        let mut previous = 0;
        let buckets = s
            .buckets
            .into_iter()
            .map(|b| {
                let delta = b.day - previous;
                previous = b.day;
                // A one-value list, as states were written when they kept
                // every order's value: a rolled-back engine still reads it.
                let max = if b.max.is_zero() {
                    StoredMax::None
                } else {
                    StoredMax::PerOrder(vec![b.max])
                };
                StoredBucket(delta, b.sum, max)
            })
            .collect();
        StoredSeries {
            key: s.key,
            buckets,
            newest_dropped: s.newest_dropped,
        }
    }
}

impl Series {
    pub fn new(key: String) -> Self {
        let mut series = Series {
            key,
            ..Default::default()
        };
        series.reindex();
        series
    }

    /// A series of `buckets`, as a stored form other than serde's is loaded
    /// (the store's binary state): buckets out of day order, empty or on
    /// one day are put right as [`Series`]'s serde form puts them right,
    /// so a series read back equals the one whose buckets were written.
    pub fn from_buckets(key: String, buckets: impl IntoIterator<Item = Bucket>) -> Self {
        let mut buckets: Vec<Bucket> = buckets.into_iter().filter(|b| !b.is_empty()).collect();
        buckets.sort_by_key(|b| b.day);
        buckets.dedup_by(|later, earlier| {
            let same = later.day == earlier.day;
            if same {
                earlier.sum += later.sum;
                earlier.max = earlier.max.max(later.max);
            }
            same
        });
        let mut series = Series {
            key,
            buckets: buckets.into(),
            ..Default::default()
        };
        series.reindex();
        series
    }

    pub fn buckets(&self) -> impl ExactSizeIterator<Item = &Bucket> {
        self.buckets.iter()
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Adds `delta` to the day's sum (negative to take back).
    pub fn add(&mut self, day: DayNumber, delta: Decimal) {
        if delta.is_zero() {
            return;
        }
        self.update(day, |b| b.sum += delta);
    }

    /// Counts one order's `value` in the day's maximum.
    pub fn raise_max(&mut self, day: DayNumber, value: Decimal) {
        if value <= self.day_max(day) {
            return;
        }
        self.update(day, |b| b.max = value);
    }

    /// Sets the day's maximum (worked out again after a return).
    pub fn set_max(&mut self, day: DayNumber, value: Decimal) {
        if value == self.day_max(day) {
            return;
        }
        self.update(day, |b| b.max = value);
    }

    /// The day's maximum (zero for a day without orders).
    pub fn day_max(&self, day: DayNumber) -> Decimal {
        let at = self.position(day);
        match self.buckets.get(at) {
            Some(b) if b.day == day => b.max,
            _ => Decimal::ZERO,
        }
    }

    /// Index of the first bucket on or after `day`; usually the newest or
    /// past it (orders mostly arrive in time order), found without a search.
    fn position(&self, day: DayNumber) -> usize {
        match self.days.back() {
            None => 0,
            Some(last) if *last < day => self.days.len(),
            Some(last) if *last == day => self.days.len() - 1,
            _ => self.days.partition_point(|d| *d < day),
        }
    }

    fn update(&mut self, day: DayNumber, change: impl FnOnce(&mut Bucket)) {
        let at = self.position(day);
        let exists = self.buckets.get(at).is_some_and(|b| b.day == day);
        if !exists {
            let mut bucket = Bucket {
                day,
                sum: Decimal::ZERO,
                max: Decimal::ZERO,
            };
            change(&mut bucket);
            if bucket.is_empty() {
                return;
            }
            if at == self.buckets.len() {
                self.push_newest(bucket);
            } else {
                self.buckets.insert(at, bucket);
                self.reindex();
            }
            return;
        }
        let bucket = &mut self.buckets[at];
        let (sum_before, max_before) = (bucket.sum, bucket.max);
        change(bucket);
        let bucket = &self.buckets[at];
        if bucket.is_empty() {
            self.buckets.remove(at);
            self.reindex();
            return;
        }
        let (sum_after, max_after) = (bucket.sum, bucket.max);
        if self.indexed && !self.reindex_at(at, sum_after - sum_before, max_before, max_after) {
            self.reindex();
        }
    }

    /// A new newest day: the indexes grow by one entry each.
    fn push_newest(&mut self, bucket: Bucket) {
        let (sum, max) = (bucket.sum, bucket.max);
        self.days.push_back(bucket.day);
        self.buckets.push_back(bucket);
        if !self.indexed {
            return self.reindex();
        }
        let running = self.cumulative.back().copied().unwrap_or(0);
        match (
            fixed::of_any(sum).and_then(|s| running.checked_add(s)),
            fixed::of_any(max),
        ) {
            (Some(total), Some(max)) => {
                self.cumulative.push_back(total);
                self.peak(self.days.len() - 1, max);
            }
            _ => self.reindex(),
        }
    }

    /// Bucket `at`, the newest, now has maximum `max`: days that no longer
    /// peak over it leave the peaks.
    fn peak(&mut self, at: usize, max: i128) {
        while self.peaks.back().is_some_and(|(_, m)| *m <= max) {
            self.peaks.pop_back();
        }
        if max > 0 {
            self.peaks.push_back((self.days[at], max));
        }
    }

    /// Bucket `at` changed: its sum by `delta`, its maximum from `before` to
    /// `after`. False when a figure has no fixed-point form.
    fn reindex_at(&mut self, at: usize, delta: Decimal, before: Decimal, after: Decimal) -> bool {
        if !delta.is_zero() {
            let Some(delta) = fixed::of_any(delta) else {
                return false;
            };
            for total in self.cumulative.range_mut(at + 1..) {
                match total.checked_add(delta) {
                    Some(t) => *total = t,
                    None => return false,
                }
            }
        }
        if after == before {
            return true;
        }
        if at + 1 == self.buckets.len() && after > before {
            let Some(max) = fixed::of_any(after) else {
                return false;
            };
            self.peak(at, max);
            return true;
        }
        // An older day's maximum changed, or the newest's fell: the peaks
        // are worked out again.
        self.build_peaks().is_some()
    }

    fn reindex(&mut self) {
        self.days = self.buckets.iter().map(|b| b.day).collect();
        self.indexed = self.build_indexes().is_some();
        if !self.indexed {
            self.cumulative.clear();
            self.peaks.clear();
        }
    }

    fn build_indexes(&mut self) -> Option<()> {
        self.cumulative.clear();
        let mut running = 0i128;
        self.cumulative.push_back(running);
        for b in &self.buckets {
            running = running.checked_add(fixed::of_any(b.sum)?)?;
            self.cumulative.push_back(running);
        }
        self.build_peaks()
    }

    fn build_peaks(&mut self) -> Option<()> {
        self.peaks.clear();
        for at in 0..self.buckets.len() {
            let max = fixed::of_any(self.buckets[at].max)?;
            self.peak(at, max);
        }
        Some(())
    }

    /// The buckets with `first <= day <= last`, as an index range.
    #[inline]
    fn range(&self, first: DayNumber, last: DayNumber) -> (usize, usize) {
        // Usually every bucket is on or before `last` (orders mostly arrive
        // in time order): no search for the end.
        let hi = match self.days.back() {
            Some(day) if *day <= last => self.days.len(),
            _ => self.days.partition_point(|d| *d <= last),
        };
        if hi == 0 {
            return (0, 0);
        }
        // Days are distinct and increasing, so no bucket before `guess` can
        // be on or after `first`; with a bucket every day, `guess` is it.
        let span = i64::from(self.days[hi - 1]) - i64::from(first) + 1;
        let guess = hi.saturating_sub(usize::try_from(span.max(0)).unwrap_or(usize::MAX));
        if guess == hi || self.days[guess] >= first {
            return (guess, hi);
        }
        let (front, back) = self.days.as_slices();
        let lo = if guess < front.len() && hi <= front.len() {
            guess + front[guess..hi].partition_point(|d| *d < first)
        } else if guess >= front.len() {
            let (from, to) = (guess - front.len(), hi - front.len());
            guess + back[from..to].partition_point(|d| *d < first)
        } else {
            self.days.partition_point(|d| *d < first)
        };
        (lo, hi)
    }

    /// Sum of the buckets with `first <= day <= last`, in fixed point, when
    /// it is within the range where it agrees with `Decimal`.
    #[inline]
    pub(crate) fn sum_fixed(&self, first: DayNumber, last: DayNumber) -> Option<i128> {
        if !self.indexed {
            return None;
        }
        let (lo, hi) = self.range(first, last);
        if hi <= lo {
            return Some(0);
        }
        fixed::bounded(self.cumulative[hi] - self.cumulative[lo])
    }

    /// Largest day maximum of the buckets with `first <= day <= last`, in
    /// fixed point, when it is within range.
    #[inline]
    pub(crate) fn max_fixed(&self, first: DayNumber, last: DayNumber) -> Option<i128> {
        if !self.indexed {
            return None;
        }
        let (lo, hi) = self.range(first, last);
        if hi <= lo {
            return Some(0);
        }
        if hi == self.buckets.len() {
            let first = self.days[lo];
            // Usually the oldest peak is in the window already (a window as
            // long as the series' retention): no search.
            let peak = match self.peaks.front() {
                Some((day, m)) if *day >= first => Some(m),
                _ => {
                    let at = self.peaks.partition_point(|(day, _)| *day < first);
                    self.peaks.get(at).map(|(_, m)| m)
                }
            };
            return fixed::bounded(peak.map_or(0, |m| *m));
        }
        let mut best = 0i128;
        for b in self.buckets.range(lo..hi) {
            best = best.max(fixed::of(b.max)?);
        }
        Some(best)
    }

    /// Sum of the buckets with `first <= day <= last`.
    pub fn sum(&self, first: DayNumber, last: DayNumber) -> Decimal {
        if let Some(sum) = self.sum_fixed(first, last).and_then(fixed::to_decimal) {
            return sum;
        }
        self.buckets
            .iter()
            .filter(|b| (first..=last).contains(&b.day))
            .map(|b| b.sum)
            .sum()
    }

    /// Largest single value in the buckets with `first <= day <= last`.
    pub fn max(&self, first: DayNumber, last: DayNumber) -> Decimal {
        if let Some(max) = self.max_fixed(first, last).and_then(fixed::to_decimal) {
            return max;
        }
        self.buckets
            .iter()
            .filter(|b| (first..=last).contains(&b.day))
            .map(|b| b.max)
            .max()
            .unwrap_or(Decimal::ZERO)
    }

    /// Drops buckets before `first`: they can no longer fall in any window.
    /// The running totals stay valid (each window is a difference of two),
    /// and so do the peaks of the days kept.
    pub fn drop_before(&mut self, first: DayNumber) -> bool {
        let mut dropped = false;
        while self.days.front().is_some_and(|d| *d < first) {
            // A day older than one dropped before can come back (a late
            // return taking from it) and leave again: the newest stays.
            self.newest_dropped = self.newest_dropped.max(self.days.pop_front());
            self.buckets.pop_front();
            if self.indexed {
                self.cumulative.pop_front();
            }
            dropped = true;
        }
        while self.peaks.front().is_some_and(|(day, _)| *day < first) {
            self.peaks.pop_front();
        }
        dropped
    }

    pub fn first_day(&self) -> Option<DayNumber> {
        self.days.front().copied()
    }

    /// The newest day whose figures the series dropped (kept with the
    /// state; `None` for series stored before it was kept).
    pub fn newest_dropped(&self) -> Option<DayNumber> {
        self.newest_dropped
    }

    /// Restores [`Series::newest_dropped`] as a stored form other than
    /// serde's keeps it; never moves it back.
    pub fn set_newest_dropped(&mut self, day: Option<DayNumber>) {
        self.newest_dropped = self.newest_dropped.max(day);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }

    #[test]
    fn window_sums_count_only_days_inside() {
        let mut s = Series::new("t".into());
        for (day, v) in [(10, 5), (12, 7), (15, 1), (12, 3)] {
            s.add(day, d(v));
        }
        assert_eq!(s.sum(11, 15), d(11));
        assert_eq!(s.sum(0, 100), d(16));
        assert_eq!(s.sum(13, 14), d(0));
        s.add(12, d(-10));
        assert_eq!(s.sum(0, 100), d(6));
        assert_eq!(s.buckets().len(), 2, "an emptied bucket is dropped");
    }

    #[test]
    fn maxima_survive_the_largest_day_leaving() {
        let mut s = Series::new("t".into());
        s.raise_max(1, d(900));
        s.raise_max(2, d(300));
        s.raise_max(3, d(500));
        assert_eq!(s.max(1, 3), d(900));
        assert_eq!(s.max(2, 3), d(500));
        assert_eq!(s.max(1, 2), d(900));
        s.set_max(1, d(0));
        assert_eq!(s.max(1, 3), d(500));
    }

    #[test]
    fn stored_form_rebuilds_the_running_totals() {
        let mut s = Series::new("t".into());
        s.add(3, d(2));
        s.add(1, d(4));
        let back: Series = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.sum(0, 2), d(4));
        assert_eq!(back.sum(0, 3), d(6));
    }

    #[test]
    fn states_stored_with_every_orders_value_load_as_day_maxima() {
        let old = r#"{"k":"t","b":[[5,"0",["3","9"]],[1,"0",["4"]],[2,"7"]]}"#;
        let s: Series = serde_json::from_str(old).unwrap();
        assert_eq!(s.max(5, 6), d(9));
        assert_eq!(s.day_max(6), d(4));
        assert_eq!(s.sum(0, 10), d(7));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"k":"t","b":[[5,"0",["9"]],[1,"0",["4"]],[2,"7"]]}"#
        );
    }

    #[test]
    fn windows_are_found_in_sparse_and_dense_series_alike() {
        let mut s = Series::new("t".into());
        for day in (100..200).chain([205, 230, 231, 260]) {
            s.add(day, d(1));
        }
        for (first, last) in [
            (150, 199),
            (150, 260),
            (201, 229),
            (0, 99),
            (231, 400),
            (100, 100),
        ] {
            let expected = s
                .buckets()
                .filter(|b| (first..=last).contains(&b.day))
                .count();
            assert_eq!(s.sum(first, last), d(expected as i64), "{first}..={last}");
        }
        s.drop_before(150);
        assert_eq!(s.sum(0, 1000), d(54), "dropping old days keeps the totals");
        s.add(151, d(2));
        assert_eq!(s.sum(151, 151), d(3));
    }

    /// Found by a property: a late return took from a day already dropped
    /// (the day comes back, negative) and the next drop took it again; the
    /// newest day dropped is still the one dropped first.
    #[test]
    fn a_day_older_than_one_dropped_leaves_the_newest_dropped_as_it_was() {
        let mut s = Series::new("t".into());
        s.add(10, d(5));
        s.add(20, d(5));
        s.add(40, d(1));
        s.drop_before(30);
        assert_eq!(s.newest_dropped(), Some(20));
        s.add(10, d(-1));
        s.drop_before(30);
        assert_eq!(s.newest_dropped(), Some(20));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(DayNumber, i64),
        Raise(DayNumber, i64),
        Set(DayNumber, i64),
        Drop(DayNumber),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0i32..60, -500i64..2_000).prop_map(|(d, v)| Op::Add(d, v)),
            4 => (0i32..60, 0i64..2_000).prop_map(|(d, v)| Op::Raise(d, v)),
            2 => (0i32..60, 0i64..2_000).prop_map(|(d, v)| Op::Set(d, v)),
            1 => (0i32..60).prop_map(Op::Drop),
        ]
    }

    proptest::proptest! {
        /// The running totals and peaks answer every window as a sum or
        /// maximum over the days would, whatever the order of changes.
        #[test]
        fn windows_match_the_days_after_any_changes(
            ops in proptest::collection::vec(op(), 0..80),
            windows in proptest::collection::vec((0i32..70, 0i32..70), 1..12),
        ) {
            let cents = |v: i64| Decimal::new(v, 2);
            let mut s = Series::new("t".into());
            let mut days: std::collections::BTreeMap<DayNumber, (Decimal, Decimal)> = Default::default();
            let mut dropped_before = 0;
            let mut newest_dropped: Option<DayNumber> = None;
            for op in ops {
                match op {
                    Op::Add(day, v) if day >= dropped_before => {
                        s.add(day, cents(v));
                        days.entry(day).or_default().0 += cents(v);
                    }
                    Op::Raise(day, v) if day >= dropped_before => {
                        s.raise_max(day, cents(v));
                        let e = days.entry(day).or_default();
                        e.1 = e.1.max(cents(v));
                    }
                    Op::Set(day, v) if day >= dropped_before => {
                        s.set_max(day, cents(v));
                        days.entry(day).or_default().1 = cents(v);
                    }
                    Op::Drop(day) => {
                        s.drop_before(day);
                        newest_dropped = newest_dropped.max(days.range(..day).next_back().map(|(d, _)| *d));
                        days.retain(|d, _| *d >= day);
                        dropped_before = dropped_before.max(day);
                    }
                    _ => {}
                }
                days.retain(|_, (sum, max)| !(sum.is_zero() && max.is_zero()));
            }
            proptest::prop_assert_eq!(s.len(), days.len());
            proptest::prop_assert_eq!(s.newest_dropped(), newest_dropped);
            for (a, b) in windows {
                let (first, last) = (a.min(b), a.max(b));
                let inside = days.range(first..=last);
                let sum: Decimal = inside.clone().map(|(_, (v, _))| *v).sum();
                let max = inside.map(|(_, (_, m))| *m).max().unwrap_or(Decimal::ZERO);
                proptest::prop_assert_eq!(s.sum(first, last), sum, "sum {}..={}", first, last);
                proptest::prop_assert_eq!(s.max(first, last), max, "max {}..={}", first, last);
            }
            let back: Series = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
            proptest::prop_assert_eq!(&back, &s);
        }
    }
}
