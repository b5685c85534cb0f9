//! Fault injection between the service and the engine: an HTTP client for
//! the SDK that wraps the real one and, on a share of the calls, answers a
//! throttling error, times out, drops the connection before sending, or
//! sends the request and then loses the reply (the write was applied but
//! the service never hears so). It works on any engine.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A 400 ThrottlingException, as DynamoDB answers when throttled.
    Throttle,
    /// The attempt times out before anything is sent.
    Timeout,
    /// The connection drops before anything is sent.
    Drop,
    /// The request is sent and applied; its reply is lost.
    LoseReply,
}

/// How many calls saw each fault, to show the run really exercised them.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub calls: AtomicU64,
    pub throttled: AtomicU64,
    pub timed_out: AtomicU64,
    pub dropped: AtomicU64,
    pub lost_replies: AtomicU64,
}

/// Every `TransactWriteItems` sent, as the (pk, sk) of its items, and the
/// items of those still in flight: DynamoDB cancels a transaction with
/// `TransactionConflict` when an item of it is part of another transaction
/// in flight, which neither local engine does by itself.
/// An item's (pk, sk).
pub type ItemKey = (String, String);

#[derive(Debug, Default)]
pub struct Transactions {
    pub sent: Mutex<Vec<Vec<ItemKey>>>,
    in_flight: Mutex<Vec<(u64, Vec<ItemKey>)>>,
    pub conflicts: AtomicU64,
}

/// Injects faults into one call in `one_in` (seeded, so a run repeats), and
/// cancels transactions that share an item with one in flight.
#[derive(Debug, Clone)]
pub struct FaultyClient {
    inner: SharedHttpClient,
    one_in: u64,
    seed: u64,
    pub counts: Arc<FaultCounts>,
    pub transactions: Arc<Transactions>,
}

impl FaultyClient {
    /// `one_in` 0: no injected faults, only the transaction rules.
    pub fn new(inner: SharedHttpClient, one_in: u64, seed: u64) -> Self {
        FaultyClient {
            inner,
            one_in,
            seed,
            counts: Arc::default(),
            transactions: Arc::default(),
        }
    }
}

/// The (pk, sk) of every item of a `TransactWriteItems` request body.
fn transaction_items(body: &[u8]) -> Vec<(String, String)> {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let key = |k: &serde_json::Value| {
        Some((
            k["pk"]["S"].as_str()?.to_owned(),
            k["sk"]["S"].as_str()?.to_owned(),
        ))
    };
    request["TransactItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            if let Some(put) = item.get("Put") {
                return key(&put["Item"]);
            }
            ["ConditionCheck", "Delete", "Update"]
                .iter()
                .find_map(|kind| item.get(*kind).and_then(|x| key(&x["Key"])))
        })
        .collect()
}

fn conflict() -> aws_smithy_runtime_api::http::Response<SdkBody> {
    let mut response = aws_smithy_runtime_api::http::Response::new(
        400u16.try_into().expect("a status code"),
        SdkBody::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#,
        ),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}

impl HttpClient for FaultyClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            one_in: self.one_in,
            seed: self.seed,
            counts: self.counts.clone(),
            transactions: self.transactions.clone(),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    one_in: u64,
    seed: u64,
    counts: Arc<FaultCounts>,
    transactions: Arc<Transactions>,
}

impl FaultyConnector {
    /// The fault for call `n`, if any: a fixed hash of (seed, n).
    fn fault(&self, n: u64) -> Option<Fault> {
        if self.one_in == 0 {
            return None;
        }
        let mut x = self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        if !x.is_multiple_of(self.one_in) {
            return None;
        }
        Some(match (x >> 8) % 4 {
            0 => Fault::Throttle,
            1 => Fault::Timeout,
            2 => Fault::Drop,
            _ => Fault::LoseReply,
        })
    }
}

fn throttled() -> aws_smithy_runtime_api::http::Response<SdkBody> {
    let mut response = aws_smithy_runtime_api::http::Response::new(
        400u16.try_into().expect("a status code"),
        SdkBody::from(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"injected throttling"}"#,
        ),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let n = self.counts.calls.fetch_add(1, Ordering::Relaxed);
        let is_transaction = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with("TransactWriteItems"));
        if is_transaction {
            let items = transaction_items(request.body().bytes().unwrap_or_default());
            let log = self.transactions.clone();
            log.sent.lock().unwrap().push(items.clone());
            {
                let mut in_flight = log.in_flight.lock().unwrap();
                let shared = in_flight
                    .iter()
                    .any(|(_, other)| other.iter().any(|k| items.contains(k)));
                if shared {
                    log.conflicts.fetch_add(1, Ordering::Relaxed);
                    return HttpConnectorFuture::ready(Ok(conflict()));
                }
                in_flight.push((n, items));
            }
            let sent = match self.fault(n) {
                None => self.inner.call(request),
                Some(_) => self.inject(n, request),
            };
            return HttpConnectorFuture::new(async move {
                let reply = sent.await;
                log.in_flight.lock().unwrap().retain(|(id, _)| *id != n);
                reply
            });
        }
        match self.fault(n) {
            None => self.inner.call(request),
            Some(_) => self.inject(n, request),
        }
    }
}

impl FaultyConnector {
    fn inject(&self, n: u64, request: HttpRequest) -> HttpConnectorFuture {
        let counts = self.counts.clone();
        match self.fault(n) {
            None => self.inner.call(request),
            Some(Fault::Throttle) => {
                counts.throttled.fetch_add(1, Ordering::Relaxed);
                HttpConnectorFuture::ready(Ok(throttled()))
            }
            Some(Fault::Timeout) => {
                counts.timed_out.fetch_add(1, Ordering::Relaxed);
                HttpConnectorFuture::ready(Err(ConnectorError::timeout("injected timeout".into())))
            }
            Some(Fault::Drop) => {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
                HttpConnectorFuture::ready(Err(ConnectorError::io(
                    "injected connection reset".into(),
                )))
            }
            Some(Fault::LoseReply) => {
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _applied = sent.await;
                    counts.lost_replies.fetch_add(1, Ordering::Relaxed);
                    Err(ConnectorError::io("injected: the reply was lost".into()))
                })
            }
        }
    }
}
