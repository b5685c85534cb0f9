//! The expire-windows Lambda: the scheduled job's worker. The state
//! machine (infra/template.yaml) calls it once per shard page and once for
//! the run's totals; a scheduled event sent directly runs the whole job.

use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;
use tier_service::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let service = Arc::new(lambda::service_from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let service = service.clone();
        async move { lambda::serve_scheduled(&service, event).await }
    }))
    .await
}
