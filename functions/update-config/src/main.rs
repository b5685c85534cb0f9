//! The update-config Lambda: API Gateway requests for the routes of this function.

use tier_service::{lambda, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::run_http(Function::UpdateConfig).await
}
