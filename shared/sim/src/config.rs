//! A stored config version as the service builds its program: the config,
//! its version, and the day each tier's retention rule was configured
//! (`retentionSince` on the `CONFIG` pointer and on every `CONFIG#<n>`
//! item, written by `PUT config`).
//!
//! The service's own functions (`shared/service/src/programs.rs`,
//! `retention_since_of` and the `Program` it loads) live in tier-service,
//! which the sim may not depend on; these mirror them.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tier_engine::{Program, ProgramConfig};

/// A stored version's retention dates (tier name, instant) from its
/// `retentionSince` attribute (JSON: tier name to RFC 3339 instant), read
/// as the service reads them: none when the attribute is absent (a version
/// stored before it was kept) or does not read; the rules then count from
/// their windows' start.
pub fn retention_since(json: Option<&str>) -> Vec<(String, DateTime<Utc>)> {
    json.and_then(|json| serde_json::from_str::<BTreeMap<String, DateTime<Utc>>>(json).ok())
        .map(|map| map.into_iter().collect())
        .unwrap_or_default()
}

/// The program of a stored version, as the service loads it: `program`
/// (the validated config) known as `version`, its retention rules counting
/// from the dates of `retention_since` (the item's attribute, as stored).
pub fn stored_program(program: Program, version: u64, retention_since: Option<&str>) -> Program {
    program
        .with_version(version)
        .with_retention_since(&self::retention_since(retention_since))
}

/// The dates of a stored version (`stored`, with its dates `since`) that
/// hold for `config`: a tier keeps its date when its retention rule is the
/// same as in `stored` (as `PUT config` keeps it for a new version); a rule
/// that is new or changed gets none here (it counts from its windows'
/// start).
pub fn kept_retention_since(
    config: &ProgramConfig,
    stored: &ProgramConfig,
    since: &[(String, DateTime<Utc>)],
) -> Vec<(String, DateTime<Utc>)> {
    config
        .tiers
        .iter()
        .filter(|tier| {
            tier.retention.is_some()
                && stored
                    .tiers
                    .iter()
                    .any(|t| t.name == tier.name && t.retention == tier.retention)
        })
        .filter_map(|tier| since.iter().find(|(name, _)| *name == tier.name).cloned())
        .collect()
}
