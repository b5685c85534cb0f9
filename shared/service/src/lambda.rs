//! Mapping between Lambda's events and the service, so each function's
//! `main` is only wiring.

use crate::router::{ApiRequest, Serves};
use crate::Service;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_http::{Body, Request, RequestExt, Response};

/// JSON logs for CloudWatch, level from `RUST_LOG` (default info).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .init();
}

pub fn api_request(request: &Request) -> ApiRequest {
    let query = request
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    ApiRequest {
        method: request.method().as_str().to_owned(),
        path: request.raw_http_path().to_owned(),
        query,
        body: request.body().to_vec(),
    }
}

/// Serves one API Gateway request.
pub async fn serve_http(
    service: &Service,
    serves: Serves,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let reply = service.handle(api_request(&request), serves).await;
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    Ok(builder.body(Body::Text(reply.body))?)
}

/// Runs the expiry job for one EventBridge scheduled event.
pub async fn serve_scheduled(
    service: &Service,
    event: EventBridgeEvent<serde_json::Value>,
) -> Result<crate::wire::ExpiryReport, lambda_http::Error> {
    let time = event.time.ok_or("a scheduled event carries its `time`")?;
    service
        .expire(time)
        .await
        .map_err(|e| format!("{}: {}", e.code, e.message).into())
}
