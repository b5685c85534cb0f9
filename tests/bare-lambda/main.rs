//! The baseline for cold starts: a Lambda that only loads aws-config, builds
//! a DynamoDB client and runs lambda_runtime (echoing its event). Our
//! functions are measured beside it (`loadgen coldstart`).

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let _client = client.clone();
        async move { Ok::<Value, lambda_runtime::Error>(event.payload) }
    }))
    .await
}
