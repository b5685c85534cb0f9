//! Program configs: validation, versions, and a per-container cache. An order
//! uses the cached version and its commit checks that version, so a change is
//! never missed and costs no read per order.

use crate::error::ApiError;
use crate::json::decode;
use crate::Service;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tier_engine::{publish, Program, ProgramConfig};

/// How long a container trusts its cached config for reads.
pub const CONFIG_TTL: Duration = Duration::from_secs(5);

pub struct LoadedProgram {
    pub version: u64,
    pub program: Program,
    loaded_at: Instant,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigResponse {
    pub program_id: String,
    pub version: u64,
    pub config: ProgramConfig,
    /// The re-evaluation this version started (`GET .../jobs/{jobId}`):
    /// only a version that could upgrade customers starts one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

fn parse_config(body: &[u8]) -> Result<Program, ApiError> {
    let config: ProgramConfig = decode(body, "config")?;
    Program::validate_new(config).map_err(ApiError::invalid_config)
}

impl Service {
    /// The program as cached, loading it on first use and again once the
    /// cached copy is older than the service's config TTL. Writes never
    /// depend on the TTL (their commit checks the version); reads that
    /// commit nothing (status queries) see a new version within it.
    pub async fn program(&self, program_id: &str) -> Result<Arc<LoadedProgram>, ApiError> {
        if let Some(p) = self.cache.read().await.get(program_id) {
            if p.loaded_at.elapsed() < self.config_ttl {
                return Ok(p.clone());
            }
        }
        self.reload_program(program_id).await
    }

    pub async fn reload_program(&self, program_id: &str) -> Result<Arc<LoadedProgram>, ApiError> {
        let stored = self.store.load_config(program_id).await?.ok_or_else(|| {
            ApiError::not_found("program_not_found", format!("no program `{program_id}`"))
        })?;
        let config: ProgramConfig = serde_json::from_str(&stored.config_json)
            .map_err(|e| ApiError::new(500, "corrupt_config", e.to_string()))?;
        let program = Program::validate(config)
            .map_err(|_| {
                ApiError::new(500, "corrupt_config", "a stored config no longer validates")
            })?
            .with_version(stored.version)
            .with_retention_since(&retention_since_of(&stored));
        let loaded = Arc::new(LoadedProgram {
            version: stored.version,
            program,
            loaded_at: Instant::now(),
        });
        self.cache
            .write()
            .await
            .insert(program_id.to_owned(), loaded.clone());
        Ok(loaded)
    }

    /// The program as stored at config version `version` (immutable, so
    /// cached for good).
    pub(crate) async fn program_version(
        &self,
        program_id: &str,
        version: u64,
    ) -> Result<Option<Arc<Program>>, tier_store::StoreError> {
        let key = (program_id.to_owned(), version);
        if let Some(p) = self.versions.read().await.get(&key) {
            return Ok(Some(p.clone()));
        }
        let Some(stored) = self.store.load_config_version(program_id, version).await? else {
            return Ok(None);
        };
        let Some(program) = serde_json::from_str::<ProgramConfig>(&stored.config_json)
            .ok()
            .and_then(|c| Program::validate(c).ok())
        else {
            return Ok(None);
        };
        let program = Arc::new(
            program
                .with_version(version)
                .with_retention_since(&retention_since_of(&stored)),
        );
        self.versions.write().await.insert(key, program.clone());
        Ok(Some(program))
    }

    pub fn validate_config(&self, body: &[u8]) -> Result<serde_json::Value, ApiError> {
        parse_config(body)?;
        Ok(serde_json::json!({ "valid": true }))
    }

    pub async fn get_config(
        &self,
        program_id: &str,
        version: Option<&str>,
    ) -> Result<ConfigResponse, ApiError> {
        if let Some(text) = version {
            return self.get_config_version(program_id, text).await;
        }
        let loaded = self.reload_program(program_id).await?;
        Ok(ConfigResponse {
            program_id: program_id.to_owned(),
            version: loaded.version,
            config: loaded.program.config().clone(),
            job_id: None,
        })
    }

    /// A stored config version, as it was published (for history and
    /// diffs).
    async fn get_config_version(
        &self,
        program_id: &str,
        text: &str,
    ) -> Result<ConfigResponse, ApiError> {
        let version: u64 = Some(text)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .filter(|v| *v >= 1)
            .ok_or_else(|| {
                let shown: String = text.chars().take(32).collect();
                ApiError::bad_request(format!(
                    "version `{shown}` is not a version number (1, 2, ...)"
                ))
            })?;
        let stored = self.store.load_config_version(program_id, version).await?;
        if stored.is_none() {
            // Not found for the right reason: no program at all, or no
            // such version of it.
            self.program(program_id).await?;
        }
        let config = stored
            .and_then(|s| serde_json::from_str::<ProgramConfig>(&s.config_json).ok())
            .ok_or_else(|| {
                ApiError::not_found(
                    "config_version_not_found",
                    format!("program `{program_id}` has no config version {version}"),
                )
            })?;
        Ok(ConfigResponse {
            program_id: program_id.to_owned(),
            version,
            config,
            job_id: None,
        })
    }

    /// Stores a new version. Customers keep the tiers they hold, so a new
    /// version may not drop or rename a tier the previous one had.
    pub async fn put_config(
        &self,
        program_id: &str,
        body: &[u8],
    ) -> Result<ConfigResponse, ApiError> {
        crate::check_path_id("programId", program_id)?;
        let program = parse_config(body)?;
        let json = crate::json::to_string(program.config())?;
        let mut retry = crate::retry::Retry::new();
        loop {
            let previous = self.store.load_config(program_id).await?;
            let old = previous
                .as_ref()
                .and_then(|p| serde_json::from_str::<ProgramConfig>(&p.config_json).ok());
            if let Some((old, prev)) = old.as_ref().zip(previous.as_ref()) {
                let dropped = publish::removed_tiers(old, prev.version, &program);
                if !dropped.is_empty() {
                    return Err(ApiError::invalid_config(dropped));
                }
            }
            let reevaluate = old
                .as_ref()
                .is_some_and(|old| crate::jobs::could_upgrade(old, program.config()));
            let published = self.publication_instant();
            let before = previous
                .as_ref()
                .map(retention_since_of)
                .unwrap_or_default();
            let since: BTreeMap<String, DateTime<Utc>> = publish::retention_dates(
                program.config(),
                old.as_ref().map(|old| (old, before.as_slice())),
                published,
            )
            .into_iter()
            .collect();
            let since = crate::json::to_string(&since)?;
            let expected = previous.map(|p| p.version);
            let stored = self
                .store
                .put_config_since(program_id, expected, &json, Some(&since))
                .await?;
            if let Some(version) = stored {
                self.cache.write().await.remove(program_id);
                let job_id = match reevaluate {
                    true => Some(
                        self.start_reevaluation(program_id, version, published)
                            .await?,
                    ),
                    false => None,
                };
                return Ok(ConfigResponse {
                    program_id: program_id.to_owned(),
                    version,
                    config: program.config().clone(),
                    job_id,
                });
            }
            retry.wait(crate::retry::Cause::Contention).await?;
        }
    }
}

/// A stored version's retention dates (none if it has none or they do not
/// read: the rules then count from their windows' start).
fn retention_since_of(stored: &tier_store::StoredConfig) -> Vec<publish::RetentionDate> {
    publish::parse_retention_dates(stored.retention_since.as_deref())
}
