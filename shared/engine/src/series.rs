//! A tracker's values in UTC day buckets, kept incrementally.
//!
//! Sums are answered from running totals (`cumulative`) with two binary
//! searches; maxima of a window that reaches the newest bucket from running
//! suffix maxima. Both are derived, rebuilt when a series is loaded, and kept
//! up to date in O(1) amortised when orders arrive in time order.

use crate::period::DayNumber;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub day: DayNumber,
    /// Sum of the day's contributions (for `sum` trackers; visits count 1 each).
    pub sum: Decimal,
    /// One value per order of the day, for `max` trackers only: a return must
    /// be able to take its order's value out again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Decimal>,
}

impl Bucket {
    fn max(&self) -> Decimal {
        self.values.iter().copied().max().unwrap_or(Decimal::ZERO)
    }

    fn is_empty(&self) -> bool {
        self.sum.is_zero() && self.values.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "StoredSeries", into = "StoredSeries")]
pub struct Series {
    /// The tracker definition this series was counted for (`Tracker::key`).
    pub key: String,
    buckets: Vec<Bucket>,
    /// The buckets' days, contiguous, for cache-friendly binary searches.
    days: Vec<DayNumber>,
    cumulative: Vec<Decimal>,
    suffix_max: Vec<Decimal>,
}

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
}

#[derive(Serialize, Deserialize)]
struct StoredBucket(
    DayNumber,
    Decimal,
    #[serde(default, skip_serializing_if = "Vec::is_empty")] Vec<Decimal>,
);

impl From<StoredSeries> for Series {
    fn from(s: StoredSeries) -> Self {
        let mut day = 0;
        let buckets = s
            .buckets
            .into_iter()
            .map(|StoredBucket(delta, sum, values)| {
                day += delta;
                Bucket { day, sum, values }
            })
            .collect();
        let mut series = Series {
            key: s.key,
            buckets,
            ..Default::default()
        };
        series.buckets.sort_by_key(|b| b.day);
        series.reindex_from(0);
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
                StoredBucket(delta, b.sum, b.values)
            })
            .collect();
        StoredSeries {
            key: s.key,
            buckets,
        }
    }
}

impl Series {
    pub fn new(key: String) -> Self {
        Series {
            key,
            ..Default::default()
        }
    }

    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Adds `delta` to the day's sum (negative to take back), and for `max`
    /// trackers `insert`s or `remove`s one order's value.
    pub fn change(
        &mut self,
        day: DayNumber,
        delta: Decimal,
        remove: Option<Decimal>,
        insert: Option<Decimal>,
    ) {
        let at = self.buckets.partition_point(|b| b.day < day);
        let exists = self.buckets.get(at).is_some_and(|b| b.day == day);
        if !exists {
            if delta.is_zero() && insert.is_none() {
                return;
            }
            self.buckets.insert(
                at,
                Bucket {
                    day,
                    sum: Decimal::ZERO,
                    values: Vec::new(),
                },
            );
        }
        let appended = !exists && at + 1 == self.buckets.len();
        let bucket = &mut self.buckets[at];
        bucket.sum += delta;
        let mut shrank = false;
        if let Some(value) = remove {
            if let Some(pos) = bucket.values.iter().position(|v| *v == value) {
                bucket.values.swap_remove(pos);
                shrank = true;
            }
        }
        if let Some(value) = insert {
            bucket.values.push(value);
        }
        if bucket.is_empty() {
            self.buckets.remove(at);
            self.reindex_from(at);
        } else if appended {
            // A new newest day: extend the indexes instead of rebuilding them.
            let running = self.cumulative.last().copied().unwrap_or(Decimal::ZERO);
            self.days.push(day);
            self.cumulative.push(running);
            self.suffix_max.push(Decimal::ZERO);
            self.extend_last(delta, insert);
        } else if !exists || shrank || at + 1 != self.buckets.len() {
            self.reindex_from(at);
        } else {
            self.extend_last(delta, insert);
        }
    }

    /// Fast path: the newest bucket changed by `delta` and maybe one new value.
    fn extend_last(&mut self, delta: Decimal, insert: Option<Decimal>) {
        let last = self.cumulative.len() - 1;
        self.cumulative[last] += delta;
        if let Some(v) = insert {
            for m in self.suffix_max.iter_mut().rev() {
                if *m >= v {
                    break;
                }
                *m = v;
            }
        }
    }

    fn reindex_from(&mut self, from: usize) {
        self.days.truncate(from);
        self.days.extend(self.buckets[from..].iter().map(|b| b.day));
        self.cumulative.truncate(from);
        let mut running = self.cumulative.last().copied().unwrap_or(Decimal::ZERO);
        for b in &self.buckets[from..] {
            running += b.sum;
            self.cumulative.push(running);
        }
        self.suffix_max.clear();
        self.suffix_max.resize(self.buckets.len(), Decimal::ZERO);
        let mut best = Decimal::ZERO;
        for (i, b) in self.buckets.iter().enumerate().rev() {
            best = best.max(b.max());
            self.suffix_max[i] = best;
        }
    }

    /// Index one past the last bucket on or before `last`: usually the end,
    /// as orders mostly arrive in time order, so that case skips the search.
    fn end_of(&self, last: DayNumber) -> usize {
        match self.days.last() {
            Some(day) if *day <= last => self.days.len(),
            _ => self.days.partition_point(|d| *d <= last),
        }
    }

    /// Sum of the buckets with `first <= day <= last`.
    pub fn sum(&self, first: DayNumber, last: DayNumber) -> Decimal {
        let hi = self.end_of(last);
        let lo = self.days[..hi].partition_point(|d| *d < first);
        if hi <= lo {
            return Decimal::ZERO;
        }
        let before = if lo == 0 {
            Decimal::ZERO
        } else {
            self.cumulative[lo - 1]
        };
        self.cumulative[hi - 1] - before
    }

    /// Largest single value in the buckets with `first <= day <= last`.
    pub fn max(&self, first: DayNumber, last: DayNumber) -> Decimal {
        let hi = self.end_of(last);
        let lo = self.days[..hi].partition_point(|d| *d < first);
        if hi <= lo {
            Decimal::ZERO
        } else if hi == self.buckets.len() {
            self.suffix_max[lo]
        } else {
            self.buckets[lo..hi]
                .iter()
                .map(Bucket::max)
                .max()
                .unwrap_or(Decimal::ZERO)
        }
    }

    /// Drops buckets before `first`: they can no longer fall in any window.
    pub fn drop_before(&mut self, first: DayNumber) -> bool {
        let cut = self.buckets.partition_point(|b| b.day < first);
        if cut == 0 {
            return false;
        }
        self.buckets.drain(..cut);
        self.reindex_from(0);
        true
    }

    pub fn first_day(&self) -> Option<DayNumber> {
        self.buckets.first().map(|b| b.day)
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
            s.change(day, d(v), None, None);
        }
        assert_eq!(s.sum(11, 15), d(11));
        assert_eq!(s.sum(0, 100), d(16));
        assert_eq!(s.sum(13, 14), d(0));
        s.change(12, d(-10), None, None);
        assert_eq!(s.sum(0, 100), d(6));
        assert_eq!(s.buckets().len(), 2, "an emptied bucket is dropped");
    }

    #[test]
    fn maxima_survive_removal_of_the_largest_value() {
        let mut s = Series::new("t".into());
        s.change(1, d(0), None, Some(d(900)));
        s.change(2, d(0), None, Some(d(300)));
        s.change(3, d(0), None, Some(d(500)));
        assert_eq!(s.max(1, 3), d(900));
        assert_eq!(s.max(2, 3), d(500));
        assert_eq!(s.max(1, 2), d(900));
        s.change(1, d(0), Some(d(900)), None);
        assert_eq!(s.max(1, 3), d(500));
    }

    #[test]
    fn stored_form_rebuilds_the_running_totals() {
        let mut s = Series::new("t".into());
        s.change(3, d(2), None, None);
        s.change(1, d(4), None, None);
        let back: Series = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.sum(0, 2), d(4));
        assert_eq!(back.sum(0, 3), d(6));
    }
}
