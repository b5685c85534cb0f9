//! The update-config Lambda: API Gateway requests for the routes of this function.

use std::sync::Arc;
use tier_service::{lambda, Function, Serves};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    // Built once per cold start, shared by every invocation of the container.
    let service = Arc::new(lambda::service_from_env().await?);
    lambda_http::run(lambda_http::service_fn(move |request| {
        let service = service.clone();
        async move { lambda::serve_http(&service, Serves::Only(Function::UpdateConfig), request).await }
    }))
    .await
}
