//! Every route of the product on 127.0.0.1, over an embedded dynoxide engine
//! (its SQLite file kept under --data-dir), or over any DynamoDB endpoint
//! with --dynamodb-endpoint. The same service code as the Lambdas serves it.
//!
//! One process serves every program, so no request may take it down: the
//! `local` build profile unwinds, and each request runs under
//! `catch_unwind`, so a panic (a bug) is answered 500 `internal` and logged
//! while the server goes on. (The Lambdas build with `panic = "abort"`:
//! Lambda replaces a crashed container by itself.)

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use clap::Parser;
use futures::FutureExt;
use remote::RemoteApi;
use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use tier_service::{ApiError, ApiRequest, ApiResponse, Serves, Service};
use tier_store::DynamoStore;
use tokio::sync::watch;

mod console;
mod docs;
pub mod embedded;
pub mod remote;
mod same_origin;
mod server;

#[derive(Parser, Debug, Clone)]
#[command(version, about = "The loyalty-tier engine's HTTP API on localhost")]
pub struct Args {
    /// Port on 127.0.0.1 (0 picks a free one; the chosen address is printed).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Where the embedded engine keeps its SQLite file.
    #[arg(long, default_value = ".local-data")]
    pub data_dir: PathBuf,
    /// A throw-away embedded database.
    #[arg(long)]
    pub in_memory: bool,
    /// Use this DynamoDB endpoint (DynamoDB Local, say) instead of the embedded engine.
    #[arg(long)]
    pub dynamodb_endpoint: Option<String>,
    #[arg(long, default_value = "tier-engine")]
    pub table: String,
    /// Serve the console against a deployed stack instead of a local store:
    /// its API URL with the stage (https://{id}.execute-api.{region}.amazonaws.com/prod).
    /// Every call is signed with SigV4 from your own AWS credentials.
    #[arg(long)]
    pub remote: Option<String>,
    /// The deployed API's region (default: read from --remote's URL, else AWS_REGION).
    #[arg(long, requires = "remote")]
    pub region: Option<String>,
    /// How far past this machine's clock an order, return or redemption
    /// may be dated, in seconds; later ones are refused (`event_in_future`).
    #[arg(long, env = tier_service::EVENT_LEAD_ENV,
          default_value_t = tier_service::DEFAULT_EVENT_LEAD_SECONDS,
          value_parser = lead_seconds)]
    pub max_event_lead_seconds: u64,
    /// Date every config version this API publishes at this instant
    /// (RFC 3339) instead of its clock: a retention rule's trackers count
    /// from it and a re-evaluation judges as of it. For replaying a fixed
    /// history the same on any day; unset, the clock.
    #[arg(long, env = "CONFIG_PUBLISHED_AT")]
    pub config_published_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn lead_seconds(text: &str) -> Result<u64, String> {
    tier_service::event_lead_seconds(Some(text))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A startup failure, worded for the person who ran the command.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

struct Engine {
    client: aws_sdk_dynamodb::Client,
    /// Held for the process's life: a second local API on the same data
    /// directory would corrupt it, so it is refused.
    _lock: Option<File>,
}

fn lock_data_dir(args: &Args) -> Result<File, StartError> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| {
        StartError(format!(
            "cannot create the data directory {}: {e}; pass --data-dir PATH or --in-memory",
            dir.display()
        ))
    })?;
    let path = dir.join("local-api.lock");
    let file = File::create(&path).map_err(|e| {
        StartError(format!(
            "cannot write {}: {e}; pass --data-dir PATH or --in-memory",
            path.display()
        ))
    })?;
    file.try_lock().map_err(|_| {
        StartError(format!(
            "another local API is already using {}: stop it first, or pass another \
             --data-dir (or --in-memory)",
            dir.display()
        ))
    })?;
    Ok(file)
}

async fn embedded_engine(args: &Args) -> Result<Engine, StartError> {
    let (db, lock) = if args.in_memory {
        // SQLite's temporary database (the empty name), not `:memory:`: it
        // stays in memory while it fits SQLite's page cache and spills to a
        // file SQLite deleted at once, so nothing outlives the process. An
        // in-memory database holds every page in that cache, and each
        // commit's truncate of the cache walks all of it: ingest slowed by
        // a seventh over 100,000 orders (docs/benchmarks.md).
        let db = dynoxide::Database::new("")
            .map_err(|e| StartError(format!("cannot start the in-memory engine: {e}")))?;
        (db, None)
    } else {
        let lock = lock_data_dir(args)?;
        let file = args.data_dir.join("tier-engine.sqlite");
        let db = dynoxide::Database::new(&file.to_string_lossy()).map_err(|e| {
            StartError(format!(
                "cannot open {}: {e}; pass another --data-dir (or --in-memory)",
                file.display()
            ))
        })?;
        (db, Some(lock))
    };
    // In process, behind the SDK's HTTP client: no port that another local
    // process could reach, and no HTTP hop per call (src/embedded.rs).
    Ok(Engine {
        client: embedded::client(db),
        _lock: lock,
    })
}

fn to_response(reply: ApiResponse) -> Response {
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), v);
        }
    }
    response
}

fn error_response(e: &ApiError) -> Response {
    let mut response = (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.body(),
    )
        .into_response();
    response.headers_mut().insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The caller's `x-request-id` when it is a sane one, else a new id.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(tier_service::router::new_request_id)
}

async fn api(State(service): State<Arc<Service>>, Incoming(request): Incoming) -> Response {
    to_response(serve_request(&service, request).await)
}

/// An API request as the service takes it (method, path, query, body and
/// request id); a body that cannot be read is refused as a JSON error.
pub(crate) struct Incoming(pub ApiRequest);

impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let method = parts.method.to_string();
        let path = parts.uri.path().to_owned();
        let query = parse_query(parts.uri.query().map(str::to_owned));
        let request_id = request_id(&parts.headers);
        let body = read_body(Request::from_parts(parts, body), state)
            .await
            .map_err(|refused| *refused)?;
        Ok(Incoming(ApiRequest {
            request_id,
            method,
            path,
            query,
            body: body.to_vec(),
        }))
    }
}

/// How long a request's body may take to arrive after its head: a client
/// that announces more than it sends would otherwise hold its connection
/// for ever (the head has its own limit, `server::HEADER_READ_TIMEOUT`).
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The request body, or the JSON error for one that could not be read: over
/// the 2 MiB limit (413 `payload_too_large`), cut short, or not all there
/// within [`BODY_READ_TIMEOUT`] (400 `invalid_request`).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Box<Response>> {
    let Ok(body) =
        tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(request, state)).await
    else {
        let message = format!(
            "the request body did not arrive within {} s",
            BODY_READ_TIMEOUT.as_secs()
        );
        return Err(Box::new(unread(ApiError::new(
            400,
            "invalid_request",
            message,
        ))));
    };
    body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "invalid_request"
        };
        Box::new(unread(ApiError::new(
            status.as_u16(),
            code,
            rejection.body_text(),
        )))
    })
}

/// The answer to a request whose body was not read to its end: the
/// connection cannot carry another request, so the client must not pool
/// it.
fn unread(e: ApiError) -> Response {
    let mut response = error_response(&e);
    response.headers_mut().insert(
        HeaderName::from_static("connection"),
        HeaderValue::from_static("close"),
    );
    response
}

fn parse_query(query: Option<String>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .unwrap_or_default()
}

/// Serves one API request; a panic becomes a logged 500, never the end of
/// the process (every program is served here).
async fn serve_request(service: &Service, request: ApiRequest) -> ApiResponse {
    let request_id = request.request_id.clone();
    let path = request.path.clone();
    let served = AssertUnwindSafe(service.handle(request, Serves::All))
        .catch_unwind()
        .await;
    match served {
        Ok(reply) => reply,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(requestId = %request_id, panic = %what, path = %path, "request panicked");
            let e = ApiError::internal("the request failed on our side; it has been logged");
            ApiResponse {
                status: e.status,
                headers: vec![
                    ("content-type", "application/json".into()),
                    ("x-request-id", request_id),
                ],
                body: e.body(),
            }
        }
    }
}

/// Runs the expiry job as the EventBridge schedule would.
async fn scheduled(State(service): State<Arc<Service>>, request: Request) -> Response {
    let body = match read_body(request, &()).await {
        Ok(b) => b,
        Err(refused) => return *refused,
    };
    let event = match tier_service::decode_event(&body, "the scheduled event") {
        Ok(v) => v,
        Err(refused) => return error_response(&refused),
    };
    let ran = AssertUnwindSafe(service.handle_scheduled(&event))
        .catch_unwind()
        .await;
    match ran {
        Ok(Ok(report)) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            serde_json::to_string(&report).unwrap_or_default(),
        )
            .into_response(),
        Ok(Err(e)) => error_response(&e),
        Err(_) => {
            tracing::error!("the scheduled job panicked");
            error_response(&ApiError::internal(
                "the scheduled job failed; it has been logged",
            ))
        }
    }
}

/// DynamoDB requests and consumed capacity so far, counted from the engine's answers.
async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let m = service.store().metrics().snapshot();
    let body = serde_json::json!({"requests": m.requests, "readUnits": m.read_units, "writeUnits": m.write_units});
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn health() -> Response {
    let body = serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")});
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A running local API.
pub struct Running {
    /// Where the API listens (127.0.0.1 and the port chosen).
    pub address: std::net::SocketAddr,
    /// The DynamoDB it stores to: an endpoint, or the embedded engine.
    pub dynamodb_endpoint: String,
    /// The store it serves from (for tests and tools that look underneath);
    /// none in `--remote` mode.
    pub store: Option<DynamoStore>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    stop: watch::Sender<bool>,
    _engine: Option<Engine>,
}

impl Running {
    /// Stops accepting, lets the requests in flight finish, then returns.
    pub async fn stop(self) -> Result<(), BoxError> {
        let _ = self.stop.send(true);
        self.server.await??;
        Ok(())
    }
}

/// Starts the engine (unless an endpoint is given), creates the table if
/// missing, binds the port and serves in the background.
pub async fn start(args: &Args) -> Result<Running, BoxError> {
    if let Some(url) = &args.remote {
        let remote = RemoteApi::new(url, args.region.clone())
            .await
            .map_err(StartError)?;
        return serve_remote(remote, args.port).await;
    }
    tier_store::check_item_formats().map_err(StartError)?;
    let (store, endpoint, engine) = match &args.dynamodb_endpoint {
        Some(e) => (DynamoStore::local(e, args.table.clone()), e.clone(), None),
        None => {
            let engine = embedded_engine(args).await?;
            let store = DynamoStore::new(engine.client.clone(), args.table.clone());
            let name = if args.in_memory {
                "embedded, in memory".to_owned()
            } else {
                format!("embedded, {}", args.data_dir.display())
            };
            (store, name, Some(engine))
        }
    };
    let mut service = Service::new(store).with_event_lead(args.max_event_lead_seconds);
    if let Some(at) = args.config_published_at {
        service = service.with_configs_published_at(at);
    }
    let mut running = serve(service, args.port, &endpoint).await?;
    running._engine = engine;
    Ok(running)
}

/// Serves every route of `service` (creating its store's table if
/// missing) on 127.0.0.1:`port`; `endpoint` only names the store in
/// messages.
pub async fn serve(service: Service, port: u16, endpoint: &str) -> Result<Running, BoxError> {
    let store = service.store().clone();
    store.ensure_table().await.map_err(|e| {
        StartError(format!(
            "cannot reach or create table `{}` at {endpoint}: {e}",
            store.table()
        ))
    })?;
    let service = Arc::new(service);
    let backend = Arc::new(console::Backend::Local(service.clone()));
    let app = Router::new()
        .route("/health", get(health))
        .route("/_local/scheduled", post(scheduled))
        .route("/_local/metrics", get(metrics))
        .fallback(api)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service)
        .merge(pages(backend));
    let (address, server, stop) = listen(app, port).await?;
    Ok(Running {
        address,
        dynamodb_endpoint: endpoint.to_owned(),
        store: Some(store),
        server,
        stop,
        _engine: None,
    })
}

/// The console, the contract and its reference, over `backend`.
fn pages(backend: Arc<console::Backend>) -> Router {
    Router::new()
        .route("/openapi.yaml", get(docs::spec))
        .route("/docs", get(docs::page))
        .route("/docs/redoc.standalone.js", get(docs::bundle))
        .route("/console", get(console::page))
        .route("/console/", get(console::page))
        .route("/console/console.js", get(console::script))
        .route("/console/console.css", get(console::style))
        .route("/console/api/{*path}", any(console::api))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(backend)
}

/// A route of the local API's own (not the service's) called with another
/// method: the JSON 405 the service's routes answer, instead of an empty
/// body.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    error_response(&ApiError::new(
        405,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    ))
}

type Served = (
    std::net::SocketAddr,
    tokio::task::JoinHandle<std::io::Result<()>>,
    watch::Sender<bool>,
);

async fn listen(app: Router, port: u16) -> Result<Served, BoxError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            StartError(format!(
                "cannot listen on 127.0.0.1:{port}: {e}; pass --port N (0 picks a free port)"
            ))
        })?;
    let address = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let app = app.layer(axum::middleware::from_fn(same_origin::same_origin_only));
    let server = tokio::spawn(server::serve(listener, app, stopped, Default::default()));
    Ok((address, server, stop))
}

/// `--remote`: the console and a signing proxy in front of a deployed API;
/// no local store.
pub async fn serve_remote(remote: RemoteApi, port: u16) -> Result<Running, BoxError> {
    let remote = Arc::new(remote);
    let endpoint = format!("remote API {}", remote.base());
    let backend = Arc::new(console::Backend::Remote(remote));
    let app = Router::new()
        .route("/health", get(health))
        .fallback(proxy)
        .with_state(backend.clone())
        .merge(pages(backend));
    let (address, server, stop) = listen(app, port).await?;
    Ok(Running {
        address,
        dynamodb_endpoint: endpoint,
        store: None,
        server,
        stop,
        _engine: None,
    })
}

/// Any API route, in remote mode: signed and forwarded as it came.
async fn proxy(
    State(backend): State<Arc<console::Backend>>,
    Incoming(request): Incoming,
) -> Response {
    to_response(backend.serve(request).await)
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::Parser;

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("local-api").chain(flags.iter().copied()))
    }

    #[test]
    fn a_publication_instant_is_rfc3339_or_refused() {
        let fixed = parse(&["--config-published-at", "2026-11-30T02:00:00+02:00"]).unwrap();
        assert_eq!(
            fixed.config_published_at.map(|at| at.to_rfc3339()),
            Some("2026-11-30T00:00:00+00:00".to_owned())
        );
        assert_eq!(parse(&[]).unwrap().config_published_at, None);
        for bad in [
            "",
            "2026-11-30",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "+275760-09-13T00:00:00Z",
        ] {
            assert!(parse(&["--config-published-at", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_event_lead_is_whole_seconds() {
        assert_eq!(
            parse(&["--max-event-lead-seconds", "0"])
                .unwrap()
                .max_event_lead_seconds,
            0
        );
        for bad in ["-1", "1.5", "300s", "", "99999999999999999999999"] {
            assert!(
                parse(&["--max-event-lead-seconds", bad]).is_err(),
                "{bad:?}"
            );
        }
    }
}
