//! `local-api --remote`: the console and a signing proxy in front of a
//! deployed API. A stand-in for API Gateway checks every call's SigV4
//! signature (recomputed with the secret, as IAM would) before passing it
//! to a real local API; a call signed with another secret is refused 403.

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use e2e::{order, Api, Engine};
use serde_json::json;
use std::sync::Arc;

const REGION: &str = "eu-west-1";
const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct Gateway {
    backend: String,
    client: reqwest::Client,
}

/// The signature API Gateway would compute for this request with `SECRET`.
fn expected_authorization(
    method: &Method,
    uri: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let signed: Vec<&str> = auth
        .split("SignedHeaders=")
        .nth(1)?
        .split(',')
        .next()?
        .split(';')
        .collect();
    let date = headers.get("x-amz-date")?.to_str().ok()?;
    let time = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .ok()?
        .and_utc();
    let identity = Credentials::new(KEY, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("execute-api")
        .time(time.into())
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    let pairs: Vec<(&str, &str)> = signed
        .iter()
        .filter(|h| **h != "host" && **h != "x-amz-date")
        .filter_map(|h| Some((*h, headers.get(*h)?.to_str().ok()?)))
        .collect();
    let request = SignableRequest::new(
        method.as_str(),
        uri,
        pairs.into_iter(),
        SignableBody::Bytes(body),
    )
    .ok()?;
    let (instructions, _) = sign(request, &params).ok()?.into_parts();
    let mut rebuilt = http::Request::builder().uri(uri).body(()).ok()?;
    instructions.apply_to_request_http1x(&mut rebuilt);
    Some(
        rebuilt
            .headers()
            .get("authorization")?
            .to_str()
            .ok()?
            .to_owned(),
    )
}

async fn gateway(
    State(gw): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let full = format!("http://{host}{uri}");
    let given = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let expected = expected_authorization(&method, &full, &headers, &body);
    if given.is_none() || given != expected {
        let message = json!({"message": "The request signature we calculated does not match the signature you provided."});
        return (StatusCode::FORBIDDEN, message.to_string()).into_response();
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Some(path) = path.strip_prefix("/prod") else {
        return (
            StatusCode::FORBIDDEN,
            r#"{"message":"Missing Authentication Token"}"#,
        )
            .into_response();
    };
    let reply = gw
        .client
        .request(method, format!("{}{path}", gw.backend))
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(reply.status().as_u16()).unwrap();
    (
        status,
        [("content-type", "application/json")],
        reply.text().await.unwrap(),
    )
        .into_response()
}

async fn start_gateway(backend: &str) -> String {
    let gw = Arc::new(Gateway {
        backend: backend.to_owned(),
        client: reqwest::Client::new(),
    });
    let app = axum::Router::new().fallback(gateway).with_state(gw);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/prod")
}

async fn remote_console(gateway: &str, secret: &str) -> local_api::Running {
    let credentials =
        SharedCredentialsProvider::new(Credentials::new(KEY, secret, None, None, "operator"));
    let remote =
        local_api::remote::RemoteApi::with_credentials(gateway, REGION.into(), credentials)
            .await
            .expect("remote mode starts");
    local_api::serve_remote(remote, 0)
        .await
        .expect("remote mode serves")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_against_a_deployed_api_with_signed_calls() {
    let deployed = Api::start(Engine::Embedded).await;
    let gateway = start_gateway(&deployed.base).await;
    let local = remote_console(&gateway, SECRET).await;
    let base = format!("http://{}", local.address);
    let client = reqwest::Client::new();

    // The console's envelope route, signed and forwarded.
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1"},
                  {"name": "Gold", "earnRate": "2", "upgrade": {"criteria": [
                      {"id": "A", "kind": "lifetimePurchases", "min": "100"}],
                      "condition": "all", "upgradeType": "lazy"}}]});
    let put: serde_json::Value = client
        .put(format!("{base}/console/api/programs/shop/config"))
        .body(config.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(put["status"], 200, "{put}");
    assert_eq!(put["body"]["version"], 1);

    // Any API route through the signing proxy, with a query string.
    let sent = client
        .post(format!("{base}/programs/shop/orders"))
        .body(order("ann", "o1", "2026-03-01T00:00:00Z", "150").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let status: serde_json::Value = client
        .get(format!(
            "{base}/console/api/programs/shop/customers/ann?asOf=2026-03-02T00:00:00Z"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], 200, "{status}");
    assert_eq!(status["body"]["tier"], "Gold");
    // It really reached the deployed API's store.
    assert_eq!(
        deployed.get("/programs/shop/customers/ann").await.body["tier"],
        "Gold"
    );
    // The console's pages come from the local binary.
    let page = client.get(format!("{base}/console")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    local.stop().await.unwrap();

    // Signed with another secret: the gateway refuses, and says so.
    let wrong = remote_console(&gateway, "not-the-secret").await;
    let refused: serde_json::Value = client
        .get(format!(
            "http://{}/console/api/programs/shop/config",
            wrong.address
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["status"], 403, "{refused}");
    assert!(refused["body"]["message"]
        .as_str()
        .unwrap()
        .contains("signature"));
    wrong.stop().await.unwrap();
}
