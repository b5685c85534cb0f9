//! A stored config version as the service builds its program: the config,
//! its version, and the day each tier's retention rule was configured
//! (`retentionSince` on the `CONFIG` pointer and on every `CONFIG#<n>`
//! item, written by `PUT config`).
//!
//! The service's own functions (`shared/service/src/programs.rs`,
//! `retention_since_of` and the `Program` it loads) live in tier-service,
//! which the sim may not depend on; these mirror them.

use chrono::{DateTime, NaiveTime, Utc};
use std::collections::BTreeMap;
use tier_engine::config::TierConfig;
use tier_engine::{Problem, Program, ProgramConfig};

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

/// Whether `tier` has a retention rule and `stored` has the same rule on
/// the tier of the same name (`PUT config` then keeps the rule's date).
fn same_rule(tier: &TierConfig, stored: &ProgramConfig) -> bool {
    tier.retention.is_some()
        && stored
            .tiers
            .iter()
            .any(|t| t.name == tier.name && t.retention == tier.retention)
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
        .filter(|tier| same_rule(tier, stored))
        .filter_map(|tier| since.iter().find(|(name, _)| *name == tier.name).cloned())
        .collect()
}

/// The dates `program`'s retention rules count from, as the engine holds
/// them (a UTC day, given here as the start of that day: the engine reads
/// no more of a date than its day).
pub fn program_retention_since(program: &Program) -> Vec<(String, DateTime<Utc>)> {
    program
        .tiers()
        .iter()
        .filter_map(|tier| {
            let day = tier.retention.as_ref()?.counted_from?;
            let start = tier_engine::period::date_of(day).and_time(NaiveTime::MIN);
            Some((tier.name.clone(), start.and_utc()))
        })
        .collect()
}

/// `draft` dated as publishing it over `current` at `published` would date
/// it (`PUT config`, `retention_since` in
/// `shared/service/src/programs.rs`): a tier whose retention rule is the
/// same as the current config's keeps the current program's date (none if
/// it has none, [`kept_retention_since`]); a new or changed rule counts
/// from `published`. The API's simulation job publishes at the instant the
/// simulation was asked, the CLI at `--published-at` (default: now);
/// docs/simulation.md, "Retention rules: from when they count".
pub fn published_program(draft: Program, current: &Program, published: DateTime<Utc>) -> Program {
    let mut since = kept_retention_since(
        draft.config(),
        current.config(),
        &program_retention_since(current),
    );
    since.extend(
        draft
            .config()
            .tiers
            .iter()
            .filter(|tier| tier.retention.is_some() && !same_rule(tier, current.config()))
            .map(|tier| (tier.name.clone(), published)),
    );
    draft.with_retention_since(&since)
}

/// The tiers of `current` (stored as version `version`) that `draft`
/// drops, as `PUT config` refuses them (code `tier_removed`, path
/// `/tiers`, the same message): customers may hold them. Empty when the
/// draft keeps every tier.
pub fn removed_tiers(current: &ProgramConfig, version: u64, draft: &Program) -> Vec<Problem> {
    current
        .tiers
        .iter()
        .filter(|t| draft.tier_index(&t.name).is_none())
        .map(|t| Problem {
            path: "/tiers".into(),
            code: "tier_removed",
            message: format!(
                "tier `{}` is in version {version}: customers may hold it, so it must stay",
                t.name
            ),
            position: None,
        })
        .collect()
}
