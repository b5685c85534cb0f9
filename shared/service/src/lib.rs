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
pub use json::decode_event;
pub use router::{ApiRequest, ApiResponse, Function, Serves, ROUTES};
pub use tier_engine::events::DEFAULT_EVENT_LEAD_SECONDS;

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
    /// How far past this process's clock an order, return or redemption
    /// may be dated ([`EVENT_LEAD_ENV`]).
    event_lead: chrono::Duration,
    /// The instant every config version is dated at instead of the clock
    /// ([`Service::with_configs_published_at`]).
    configs_published_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The environment variable that sets, in whole seconds, how far past the
/// clock an event may be dated (unset: 300).
pub const EVENT_LEAD_ENV: &str = "MAX_EVENT_LEAD_SECONDS";

/// Seconds of lead from the text of [`EVENT_LEAD_ENV`] (None: unset, the
/// default): digits only, so a typo is refused rather than read as no limit.
pub fn event_lead_seconds(value: Option<&str>) -> Result<u64, String> {
    let Some(text) = value else {
        return Ok(DEFAULT_EVENT_LEAD_SECONDS);
    };
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            format!("{EVENT_LEAD_ENV} is `{text}`: it must be a whole number of seconds")
        })
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
            event_lead: lead(DEFAULT_EVENT_LEAD_SECONDS),
            configs_published_at: None,
        }
    }

    /// The same service accepting events dated up to `seconds` past its
    /// clock (a lead beyond the years events may carry is no limit).
    pub fn with_event_lead(mut self, seconds: u64) -> Self {
        self.event_lead = lead(seconds);
        self
    }

    /// The same service dating every config version it publishes at `at`
    /// instead of its clock: a retention rule's trackers count from it and
    /// a re-evaluation judges as of it. For replaying a fixed history whose
    /// outcome must not depend on the day it is replayed (the local API's
    /// `--config-published-at`).
    pub fn with_configs_published_at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.configs_published_at = Some(at);
        self
    }

    /// When a config version stored now counts as published.
    pub(crate) fn publication_instant(&self) -> chrono::DateTime<chrono::Utc> {
        self.configs_published_at.unwrap_or_else(chrono::Utc::now)
    }

    /// Refuses an event dated past the clock plus the lead allowed.
    pub(crate) fn check_dated(
        &self,
        field: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ApiError> {
        tier_engine::events::check_not_ahead(field, at, chrono::Utc::now(), self.event_lead)
            .map_err(ApiError::from)
    }

    pub fn store(&self) -> &DynamoStore {
        &self.store
    }
}

fn lead(seconds: u64) -> chrono::Duration {
    i64::try_from(seconds)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .unwrap_or(chrono::Duration::MAX)
}

pub(crate) fn check_path_id(field: &str, id: &str) -> Result<(), ApiError> {
    tier_engine::events::check_id(field, id).map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_lead_is_whole_seconds_and_a_huge_one_is_no_limit() {
        assert_eq!(event_lead_seconds(None), Ok(DEFAULT_EVENT_LEAD_SECONDS));
        assert_eq!(event_lead_seconds(Some("0")), Ok(0));
        assert_eq!(event_lead_seconds(Some("86400")), Ok(86_400));
        assert_eq!(
            event_lead_seconds(Some("18446744073709551615")),
            Ok(u64::MAX)
        );
        for typo in [
            "",
            " 300",
            "300s",
            "-1",
            "3e2",
            "18446744073709551616",
            "５",
        ] {
            assert!(event_lead_seconds(Some(typo)).is_err(), "{typo:?}");
        }
        assert_eq!(lead(300), chrono::Duration::seconds(300));
        assert_eq!(lead(u64::MAX), chrono::Duration::MAX);
        assert_eq!(
            lead(i64::MAX as u64),
            chrono::Duration::MAX,
            "beyond chrono's seconds"
        );
    }
}
