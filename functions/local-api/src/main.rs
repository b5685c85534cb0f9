//! `cargo run --profile local -p local-api`: see `local_api::Args` for the options.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ctrl-C or SIGTERM (what `docker stop`, systemd and CI send).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[tokio::main]
async fn main() {
    // The same JSON log lines as the Lambdas, on stderr.
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,dynoxide=error")),
        )
        .init();
    let args = local_api::Args::parse();
    let running = match local_api::start(&args).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("local-api: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "local-api listening on http://{} (DynamoDB: {})",
        running.address, running.dynamodb_endpoint
    );
    stop_signal().await;
    eprintln!("local-api: stopping; finishing the requests in flight");
    match running.stop().await {
        Ok(()) => eprintln!("local-api: stopped; the store is closed"),
        Err(e) => {
            eprintln!("local-api: stopped with an error: {e}");
            std::process::exit(1);
        }
    }
}
