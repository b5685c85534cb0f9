//! The contract and its rendered reference, built into the binary:
//! `/openapi.yaml` (the repository's openapi.yaml) and `/docs` (Redoc's
//! standalone bundle from the pinned npm package, see build.rs).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub const SPEC: &str = include_str!("../../../openapi.yaml");
pub const REDOC: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/redoc.standalone.js"));

/// Served without a script of its own beyond the bundle's start call, so
/// the page works from a file-less binary and offline.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Loyalty-tier engine API reference</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; font-family: system-ui, sans-serif; }</style>
</head>
<body>
<div id="reference"></div>
<script src="/docs/redoc.standalone.js"></script>
<script>
Redoc.init("/openapi.yaml", {
  hideDownloadButton: false,
  expandResponses: "200",
  theme: { typography: { fontFamily: "system-ui, sans-serif", headings: { fontFamily: "system-ui, sans-serif" } } }
}, document.getElementById("reference"));
</script>
</body>
</html>
"#;

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API reference not built in</title></head>
<body><p>This local API was built without npm, so the rendered API reference
is not built in. The contract itself is at <a href="/openapi.yaml">/openapi.yaml</a>.</p></body></html>
"#;

pub async fn spec() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        SPEC,
    )
        .into_response()
}

pub async fn page() -> Response {
    let body = if REDOC.is_empty() { NOT_BUILT } else { PAGE };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub async fn bundle() -> Response {
    if REDOC.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        REDOC,
    )
        .into_response()
}
