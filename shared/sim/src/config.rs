//! A stored config version as the service builds its program: the config,
//! its version, and the day each tier's retention rule was configured
//! (`retentionSince` on the `CONFIG` pointer and on every `CONFIG#<n>`
//! item, written by `PUT config`).
//!
//! The rules themselves are the engine's (`tier_engine::publish`), shared
//! with the service's `PUT config`.

use chrono::{DateTime, Utc};
use tier_engine::publish::{parse_retention_dates, same_retention_rule, RetentionDate};
use tier_engine::{Program, ProgramConfig};

pub use tier_engine::publish::removed_tiers;

/// A stored version's retention dates from its `retentionSince` attribute,
/// read as the service reads them ([`parse_retention_dates`]).
pub fn retention_since(json: Option<&str>) -> Vec<RetentionDate> {
    parse_retention_dates(json)
}

/// The program of a stored version, as the service loads it: `program`
/// (the validated config) known as `version`, its retention rules counting
/// from the dates of `retention_since` (the item's attribute, as stored).
pub fn stored_program(program: Program, version: u64, retention_since: Option<&str>) -> Program {
    program
        .with_version(version)
        .with_retention_since(&parse_retention_dates(retention_since))
}

/// The dates of a stored version (`stored`, with its dates `since`) that
/// hold for `config`: a tier keeps its date when its retention rule is the
/// same as in `stored`; a rule that is new or changed gets none here (it
/// counts from its windows' start). For a `--current` config given beside
/// an export.
pub fn kept_retention_since(
    config: &ProgramConfig,
    stored: &ProgramConfig,
    since: &[RetentionDate],
) -> Vec<RetentionDate> {
    config
        .tiers
        .iter()
        .filter(|tier| same_retention_rule(tier, stored))
        .filter_map(|tier| since.iter().find(|(name, _)| *name == tier.name).cloned())
        .collect()
}

/// `draft` dated as publishing it over `current` at `published` would date
/// it ([`Program::published_over`], the rule `PUT config` applies). The
/// API's simulation job publishes at the instant the simulation was asked,
/// the CLI at `--published-at` (default: now); docs/simulation.md,
/// "Retention rules: from when they count".
pub fn published_program(draft: Program, current: &Program, published: DateTime<Utc>) -> Program {
    draft.published_over(current, published)
}
