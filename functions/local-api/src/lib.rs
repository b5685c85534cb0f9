//! Every route of the product on 127.0.0.1, over an embedded dynoxide engine
//! (its SQLite file kept under --data-dir), or over any DynamoDB endpoint
//! with --dynamodb-endpoint. The same service code as the Lambdas serves it.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;
use tier_service::{ApiRequest, ApiResponse, Serves, Service};
use tier_store::DynamoStore;

#[derive(Parser, Debug, Clone)]
#[command(about = "The loyalty-tier engine's HTTP API on localhost")]
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
}

async fn embedded_engine(args: &Args) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let db = if args.in_memory {
        dynoxide::Database::memory()?
    } else {
        std::fs::create_dir_all(&args.data_dir)?;
        let file = args.data_dir.join("tier-engine.sqlite");
        dynoxide::Database::new(&file.to_string_lossy())?
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(dynoxide::server::serve_on(listener, db));
    Ok(format!("http://{address}"))
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

async fn api(
    State(service): State<Arc<Service>>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let query = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .unwrap_or_default();
    let request = ApiRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query,
        body: body.to_vec(),
    };
    to_response(service.handle(request, Serves::All).await)
}

/// Runs the expiry job as the EventBridge schedule would.
async fn scheduled(State(service): State<Arc<Service>>, body: Bytes) -> Response {
    let event: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let error = tier_service::ApiError::new(400, "invalid_json", e.to_string());
            return (StatusCode::BAD_REQUEST, error.body()).into_response();
        }
    };
    match service.handle_scheduled(&event).await {
        Ok(report) => (
            StatusCode::OK,
            serde_json::to_string(&report).unwrap_or_default(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.body(),
        )
            .into_response(),
    }
}

/// DynamoDB requests and consumed capacity so far, counted from the engine's answers.
async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let m = service.store().metrics().snapshot();
    let body = serde_json::json!({"requests": m.requests, "readUnits": m.read_units, "writeUnits": m.write_units});
    (StatusCode::OK, body.to_string()).into_response()
}

/// A running local API.
pub struct Running {
    /// Where the API listens (127.0.0.1 and the port chosen).
    pub address: std::net::SocketAddr,
    /// The DynamoDB endpoint it stores to.
    pub dynamodb_endpoint: String,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the engine (unless an endpoint is given), creates the table if
/// missing, binds the port and serves in the background.
pub async fn start(args: &Args) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let endpoint = match &args.dynamodb_endpoint {
        Some(e) => e.clone(),
        None => embedded_engine(args).await?,
    };
    let store = DynamoStore::local(&endpoint, args.table.clone());
    store.ensure_table().await?;
    let service = Arc::new(Service::new(store));
    let app = Router::new()
        .route("/_local/scheduled", post(scheduled))
        .route("/_local/metrics", get(metrics))
        .fallback(api)
        .with_state(service);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running {
        address,
        dynamodb_endpoint: endpoint,
        server,
    })
}
