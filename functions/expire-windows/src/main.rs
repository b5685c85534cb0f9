//! The expire-windows Lambda: an EventBridge schedule expires points and
//! tracker windows as of each event's `time`.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;
use tier_service::{lambda, Service};
use tier_store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let service = Arc::new(Service::new(DynamoStore::from_env().await?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let service = service.clone();
            async move { lambda::serve_scheduled(&service, event.payload).await }
        },
    ))
    .await
}
