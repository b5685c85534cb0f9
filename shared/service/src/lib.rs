//! Use cases and HTTP/event mapping shared by every Lambda function and the
//! local API. Decisions come from `tier-engine`, storage from `tier-store`.

mod account;
mod customers;
pub mod error;
mod expiry;
pub mod explain;
pub mod jobs;
mod json;
pub mod lambda;
pub mod notices;
mod orders;
pub mod programs;
mod retry;
mod returns;
pub mod router;
pub mod simulations;
mod transact;
pub mod wire;

pub use error::ApiError;
pub use router::{ApiRequest, ApiResponse, Function, Serves, ROUTES};

use programs::LoadedProgram;
use std::collections::HashMap;
use std::sync::Arc;
use tier_store::DynamoStore;
use tokio::sync::RwLock;

/// Built once per container (or local process) and shared by every request.
pub struct Service {
    store: DynamoStore,
    cache: RwLock<HashMap<String, Arc<LoadedProgram>>>,
    /// Past config versions a return judges upgrades under.
    versions: RwLock<HashMap<(String, u64), Arc<tier_engine::Program>>>,
    config_ttl: std::time::Duration,
}

impl Service {
    pub fn new(store: DynamoStore) -> Self {
        Self::with_config_ttl(store, programs::CONFIG_TTL)
    }

    /// A service whose cached configs are re-read after `config_ttl`.
    pub fn with_config_ttl(store: DynamoStore, config_ttl: std::time::Duration) -> Self {
        Service {
            store,
            cache: RwLock::new(HashMap::new()),
            versions: RwLock::new(HashMap::new()),
            config_ttl,
        }
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }
}

pub(crate) fn check_path_id(field: &str, id: &str) -> Result<(), ApiError> {
    tier_engine::events::check_id(field, id).map_err(ApiError::from)
}
