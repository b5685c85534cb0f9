//! The expire-windows Lambda: the scheduled job's worker. The state
//! machine (infra/template.yaml) calls it once per shard page and once for
//! the run's totals; a scheduled event sent directly runs the whole job.

use tier_service::lambda;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda::run_scheduled().await
}
