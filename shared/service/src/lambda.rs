//! Mapping between Lambda's events and the service, so each function's
//! `main` is only wiring.

use crate::router::{ApiRequest, Function, Serves};
use crate::Service;
use lambda_http::{Body, Request, RequestExt, Response};

/// JSON logs for CloudWatch at the level `RUST_LOG` names (default info):
/// a plain level, not a directive list, which keeps the regex engine out of
/// the binaries.
pub fn init_tracing() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_max_level(level)
        .with_current_span(false)
        .without_time()
        .init();
}

/// The service a function serves with, configured from its environment:
/// the store's settings ([`tier_store::DynamoStore::from_env`]) and
/// [`crate::EVENT_LEAD_ENV`]. A bad value stops the function at its cold
/// start rather than serving under a limit nobody chose.
pub async fn service_from_env() -> Result<Service, lambda_http::Error> {
    let lead = match std::env::var(crate::EVENT_LEAD_ENV) {
        Ok(text) => crate::event_lead_seconds(Some(&text))?,
        Err(std::env::VarError::NotPresent) => crate::event_lead_seconds(None)?,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(format!("{} is not valid UTF-8", crate::EVENT_LEAD_ENV).into())
        }
    };
    let store = tier_store::DynamoStore::from_env().await?;
    Ok(Service::new(store).with_event_lead(lead))
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
    let request_id = match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
    .unwrap_or_else(crate::router::new_request_id);
    ApiRequest {
        request_id,
        method: request.method().as_str().to_owned(),
        path: request.raw_http_path().to_owned(),
        query,
        body: request.body().to_vec(),
    }
}

/// Runs the Lambda of an API function: the service is built once per cold
/// start and shared by every invocation of the container, and each request
/// is served as `function` (other routes answer 404).
pub async fn run_http(function: Function) -> Result<(), lambda_http::Error> {
    init_tracing();
    let service = std::sync::Arc::new(service_from_env().await?);
    lambda_http::run(lambda_http::service_fn(move |request| {
        let service = service.clone();
        async move { serve_http(&service, Serves::Only(function), request).await }
    }))
    .await
}

/// Runs the scheduled job's worker Lambda (shard steps and totals from the
/// state machine, or a whole run for a scheduled event sent directly).
pub async fn run_scheduled() -> Result<(), lambda_http::Error> {
    init_tracing();
    let service = std::sync::Arc::new(service_from_env().await?);
    lambda_http::lambda_runtime::run(lambda_http::lambda_runtime::service_fn(
        move |event: lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>| {
            let service = service.clone();
            // Boxed: the step's future nested in the runtime's is deeper
            // than the compiler lays out by default.
            async move { Box::pin(serve_scheduled(&service, event)).await }
        },
    ))
    .await
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

/// The `errorType` of a step the worker refuses: the step as sent can never
/// succeed (an unknown job, a malformed cursor), so the state machines end
/// it at once instead of retrying and restarting it for hours.
pub const REFUSED: &str = "Refused";

/// The `errorType` of any other failed step (the store unavailable, a bug
/// fixed by a deploy): worth another attempt later.
const STEP_FAILED: &str = "StepFailed";

/// Runs one step of the scheduled job: a shard step or the totals from the
/// state machine, or a whole run for an EventBridge scheduled event.
pub async fn serve_scheduled(
    service: &Service,
    event: lambda_http::lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_http::lambda_runtime::Diagnostic> {
    // What the invocation has left: a simulation step works half of it.
    let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
    let left = deadline.duration_since(std::time::SystemTime::now()).ok();
    let left = left.or(Some(std::time::Duration::ZERO));
    service
        .handle_worker(&event.payload, left)
        .await
        .map_err(|e| {
            let error_type = if (400..500).contains(&e.status) {
                REFUSED
            } else {
                STEP_FAILED
            };
            lambda_http::lambda_runtime::Diagnostic {
                error_type: error_type.into(),
                error_message: format!("{}: {}", e.code, e.message),
            }
        })
}
