//! A local Lambda Runtime API (the endpoints a `bootstrap` polls), enough to
//! run our function binaries as Lambda would: hand out events, collect
//! responses, and note when a process first asks for work (its init time).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{oneshot, Notify};

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Value)>,
    waiting: HashMap<String, oneshot::Sender<Result<Value, Value>>>,
    first_poll: Option<Instant>,
}

#[derive(Clone, Default)]
pub struct RuntimeApi {
    inner: Arc<Mutex<Inner>>,
    ready: Arc<Notify>,
    polled: Arc<Notify>,
}

pub struct Running {
    pub api: RuntimeApi,
    /// `host:port`, for AWS_LAMBDA_RUNTIME_API.
    pub address: String,
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    loop {
        let ready = api.ready.notified();
        {
            let mut inner = api.inner.lock().unwrap();
            if inner.first_poll.is_none() {
                inner.first_poll = Some(Instant::now());
                api.polled.notify_waiters();
            }
            if let Some((id, event)) = inner.queue.pop_front() {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 30_000;
                let mut headers = HeaderMap::new();
                headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
                headers.insert(
                    "lambda-runtime-deadline-ms",
                    deadline.to_string().parse().unwrap(),
                );
                headers.insert(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:local"
                        .parse()
                        .unwrap(),
                );
                headers.insert(
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000".parse().unwrap(),
                );
                return (StatusCode::OK, headers, event.to_string()).into_response();
            }
        }
        ready.await;
    }
}

async fn respond(State(api): State<RuntimeApi>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(tx) = api.inner.lock().unwrap().waiting.remove(&id) {
        let _ = tx.send(Ok(value));
    }
    StatusCode::ACCEPTED
}

async fn error(State(api): State<RuntimeApi>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(tx) = api.inner.lock().unwrap().waiting.remove(&id) {
        let _ = tx.send(Err(value));
    }
    StatusCode::ACCEPTED
}

async fn init_error(body: Bytes) -> StatusCode {
    eprintln!("function init error: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    pub async fn start() -> Running {
        let api = RuntimeApi::default();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Running { api, address }
    }

    /// Sends one event to the function and waits for its reply (Err: the
    /// function reported an invocation error).
    pub async fn invoke(&self, event: Value) -> Result<Value, Value> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = format!(
            "req-{}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock().unwrap();
            inner.waiting.insert(id.clone(), tx);
            inner.queue.push_back((id, event));
        }
        self.ready.notify_waiters();
        rx.await.expect("the function answers")
    }

    /// When the function first asked for an event.
    pub async fn first_poll(&self) -> Instant {
        loop {
            let polled = self.polled.notified();
            if let Some(t) = self.inner.lock().unwrap().first_poll {
                return t;
            }
            polled.await;
        }
    }
}
