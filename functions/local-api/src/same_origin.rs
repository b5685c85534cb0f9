//! Requests from other web pages. A page open in the operator's browser can
//! POST to localhost without a preflight (an HTML form, or `text/plain`
//! from `fetch`), and in `--remote` mode the proxy would sign what it sends
//! with the operator's own AWS credentials. Two checks keep such pages out:
//! - Browsers name the sending page's origin on every such request, so a
//!   request that can change something and names an origin other than this
//!   server's is refused.
//! - A page can also point a name of its own at 127.0.0.1 (DNS rebinding):
//!   the browser then sees the API as that page's own origin, and would let
//!   it read answers too. The `Host` it sends is that name, so any request
//!   whose `Host` is not a loopback name is refused.
//!
//! Clients that are not browsers (curl, SDKs, the tests) send a loopback
//! `Host` and no `Origin`, and are not affected.

use crate::error_response;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tier_service::ApiError;

pub(crate) async fn same_origin_only(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST);
    if host.is_some_and(|host| !is_loopback(host)) {
        return refused(
            "the local API answers only requests sent to a loopback name \
             (localhost, 127.0.0.1, [::1])",
        );
    }
    if names_another_origin(&request) {
        return refused(
            "a request from another web page is refused: the local API only takes \
             changes from its own console or from clients that send no Origin",
        );
    }
    next.run(request).await
}

fn refused(message: &str) -> Response {
    error_response(&ApiError::new(403, "cross_origin", message))
}

/// `localhost`, a name under `.localhost`, `127.0.0.1` or `[::1]`, with
/// any port.
fn is_loopback(host: &HeaderValue) -> bool {
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name == "127.0.0.1" || name == "[::1]"
}

/// Reads change nothing, and another page cannot read their answers (no
/// CORS headers are sent), so only the other methods are checked.
fn names_another_origin(request: &Request) -> bool {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return false;
    }
    let headers = request.headers();
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    // This server's origin as the browser sees it: the Host it was sent
    // to (127.0.0.1:port and localhost:port are both the console's own).
    let own = headers
        .get(header::HOST)
        .map(|host| [b"http://", host.as_bytes()].concat());
    own.is_none_or(|own| origin.as_bytes() != own.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    async fn status(method: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let app = Router::new()
            .route("/programs/p/orders", post(|| async { "applied" }))
            .route(
                "/programs/p/orders",
                axum::routing::get(|| async { "read" }),
            )
            .layer(axum::middleware::from_fn(same_origin_only));
        let mut request = Request::builder().method(method).uri("/programs/p/orders");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = app
            .oneshot(request.body(Body::from("{}")).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_post_from_another_page_is_refused_with_a_json_code() {
        for origin in [
            "http://evil.example",
            "null",
            "http://127.0.0.1:3001",
            "https://127.0.0.1:3000",
        ] {
            let (status, body) = status(
                "POST",
                &[
                    ("host", "127.0.0.1:3000"),
                    ("origin", origin),
                    ("content-type", "text/plain"),
                ],
            )
            .await;
            assert_eq!(status, 403, "{origin}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], "cross_origin", "{origin}");
        }
        let (status, _) = status("PUT", &[("origin", "http://evil.example")]).await;
        assert_eq!(status, 403, "no Host to compare with");
    }

    #[tokio::test]
    async fn a_name_pointed_at_loopback_by_another_page_is_refused_even_for_reads() {
        // DNS rebinding: the page's own origin, so Origin matches Host.
        let rebound = [
            ("host", "evil.example:3000"),
            ("origin", "http://evil.example:3000"),
        ];
        for method in ["GET", "POST"] {
            let (status, body) = status(method, &rebound).await;
            assert_eq!(status, 403, "{method}");
            assert!(body.contains("cross_origin"), "{body}");
        }
        for host in [
            "127.0.0.2:3000",
            "localhost.evil.example",
            "0.0.0.0:3000",
            "[::2]:3000",
        ] {
            assert_eq!(status("GET", &[("host", host)]).await.0, 403, "{host}");
        }
        for host in [
            "localhost",
            "LOCALHOST:80",
            "app.localhost:3000",
            "127.0.0.1",
            "[::1]:3000",
        ] {
            assert_eq!(status("GET", &[("host", host)]).await.0, 200, "{host}");
        }
    }

    #[tokio::test]
    async fn the_console_itself_clients_without_origin_and_reads_pass() {
        let own = [
            ("host", "localhost:3000"),
            ("origin", "http://localhost:3000"),
        ];
        assert_eq!(status("POST", &own).await, (200, "applied".into()));
        assert_eq!(status("POST", &[("host", "127.0.0.1:3000")]).await.0, 200);
        let other = [
            ("host", "127.0.0.1:3000"),
            ("origin", "http://evil.example"),
        ];
        assert_eq!(status("GET", &other).await, (200, "read".into()));
    }
}
