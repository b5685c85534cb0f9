//! Requests and consumed capacity, counted from DynamoDB's own answers
//! (`ReturnConsumedCapacity::Total`), for the cost-per-order figures.

use aws_sdk_dynamodb::types::ConsumedCapacity;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    read_milliunits: AtomicU64,
    write_milliunits: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub requests: u64,
    pub read_units: f64,
    pub write_units: f64,
}

impl Metrics {
    /// Counts one request; its capacity is read or write units by `write`
    /// (engines do not always split the total).
    pub(crate) fn count<'a>(
        &self,
        write: bool,
        consumed: impl Iterator<Item = &'a ConsumedCapacity>,
    ) {
        self.count_request();
        let units: f64 = consumed.map(|c| c.capacity_units().unwrap_or(0.0)).sum();
        let counter = if write {
            &self.write_milliunits
        } else {
            &self.read_milliunits
        };
        counter.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            read_units: self.read_milliunits.load(Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milliunits.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}
