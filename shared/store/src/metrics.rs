//! Requests and consumed capacity, counted from DynamoDB's own answers
//! (`ReturnConsumedCapacity::Total`), for the cost-per-order figures.

use aws_sdk_dynamodb::types::ConsumedCapacity;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

tokio::task_local! {
    /// The counters of the request being served, beside the process's own.
    static REQUEST: Arc<Metrics>;
}

/// Runs `work` with its own counters and returns them with its output: the
/// DynamoDB requests and capacity of one API request, for its log line.
pub async fn measured<F: Future>(work: F) -> (F::Output, MetricsSnapshot) {
    let metrics = Arc::new(Metrics::default());
    let output = REQUEST.scope(metrics.clone(), work).await;
    (output, metrics.snapshot())
}

/// The counters of the [`measured`] work this is called from, so far (None
/// outside one): a long job stores what it has used with its progress.
pub fn measured_so_far() -> Option<MetricsSnapshot> {
    REQUEST.try_with(|m| m.snapshot()).ok()
}

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
        let units: f64 = consumed.map(|c| c.capacity_units().unwrap_or(0.0)).sum();
        let milliunits = (units * 1000.0).round() as u64;
        self.add(write, milliunits);
        let _ = REQUEST.try_with(|request| request.add(write, milliunits));
    }

    pub(crate) fn count_request(&self) {
        self.add(false, 0);
        let _ = REQUEST.try_with(|request| request.add(false, 0));
    }

    fn add(&self, write: bool, milliunits: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = if write {
            &self.write_milliunits
        } else {
            &self.read_milliunits
        };
        counter.fetch_add(milliunits, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            read_units: self.read_milliunits.load(Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milliunits.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}
