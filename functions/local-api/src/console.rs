//! The console for the people who run a program, served at `/console`
//! (its three assets are built into the binary; nothing is fetched from
//! the internet). The page talks to `/console/api/...`: the same routes as
//! the API, answered inside an envelope `{"status", "body"}` with HTTP 200,
//! so that an expected refusal (a program not created yet, a config with
//! problems) is data for the page rather than a failed load in the
//! browser's log.

use crate::remote::RemoteApi;
use crate::{serve_request, Incoming};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tier_service::{ApiRequest, ApiResponse, Service};

/// Who answers the console's calls: this process's own service, or a
/// deployed stack (`--remote`).
pub enum Backend {
    Local(Arc<Service>),
    Remote(Arc<RemoteApi>),
}

impl Backend {
    pub async fn serve(&self, request: ApiRequest) -> ApiResponse {
        match self {
            Backend::Local(service) => serve_request(service, request).await,
            Backend::Remote(remote) => remote.forward(request).await,
        }
    }
}

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn api(State(backend): State<Arc<Backend>>, Incoming(mut request): Incoming) -> Response {
    request.path = request
        .path
        .strip_prefix("/console/api")
        .unwrap_or("/")
        .to_owned();
    let reply = backend.serve(request).await;
    let body = serde_json::from_str::<serde_json::Value>(&reply.body)
        .unwrap_or(serde_json::Value::String(reply.body));
    let envelope = serde_json::json!({"status": reply.status, "body": body});
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        envelope.to_string(),
    )
        .into_response()
}
