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
use std::sync::Arc;

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

/// Injects faults into one call in `one_in` (seeded, so a run repeats).
#[derive(Debug, Clone)]
pub struct FaultyClient {
    inner: SharedHttpClient,
    one_in: u64,
    seed: u64,
    pub counts: Arc<FaultCounts>,
}

impl FaultyClient {
    pub fn new(inner: SharedHttpClient, one_in: u64, seed: u64) -> Self {
        FaultyClient {
            inner,
            one_in,
            seed,
            counts: Arc::default(),
        }
    }
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
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    one_in: u64,
    seed: u64,
    counts: Arc<FaultCounts>,
}

impl FaultyConnector {
    /// The fault for call `n`, if any: a fixed hash of (seed, n).
    fn fault(&self, n: u64) -> Option<Fault> {
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
