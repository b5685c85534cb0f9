//! `cargo run --release -p local-api`: see `local_api::Args` for the options.

use clap::Parser;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,dynoxide=error")),
        )
        .init();
    let args = local_api::Args::parse();
    let running = local_api::start(&args).await?;
    println!(
        "local-api listening on http://{} (DynamoDB at {})",
        running.address, running.dynamodb_endpoint
    );
    running.server.await??;
    Ok(())
}
