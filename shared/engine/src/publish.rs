//! What publishing a new config version over the one before decides, the
//! same for `PUT config`, a simulation's draft and `tier-sim`: which tiers it
//! may not drop, and from when each retention rule counts.

use crate::config::{ProgramConfig, TierConfig};
use crate::program::{Problem, Program};
use chrono::{DateTime, NaiveTime, Utc};
use std::collections::BTreeMap;

/// A tier's name and the instant its retention rule was configured as it
/// is (the engine counts from that instant's UTC day).
pub type RetentionDate = (String, DateTime<Utc>);

/// The tiers of `previous` (stored as `version`) that `next` drops:
/// customers may hold them, so a new version must keep them (`tier_removed`
/// at `/tiers`). Empty when every tier stays.
pub fn removed_tiers(previous: &ProgramConfig, version: u64, next: &Program) -> Vec<Problem> {
    previous
        .tiers
        .iter()
        .filter(|t| next.tier_index(&t.name).is_none())
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

/// Whether `tier` has a retention rule that `previous` has too, unchanged,
/// on the tier of the same name.
pub fn same_retention_rule(tier: &TierConfig, previous: &ProgramConfig) -> bool {
    tier.retention.is_some()
        && previous
            .tiers
            .iter()
            .any(|t| t.name == tier.name && t.retention == tier.retention)
}

/// When each retention rule of `config`, published at `published` over
/// `previous` (its config and dates), counts from: a rule the same as
/// before keeps its date (none if it had none: a version stored before
/// dates were kept counts from its windows' start); a new or changed rule
/// counts from the publication.
pub fn retention_dates(
    config: &ProgramConfig,
    previous: Option<(&ProgramConfig, &[RetentionDate])>,
    published: DateTime<Utc>,
) -> Vec<RetentionDate> {
    config
        .tiers
        .iter()
        .filter(|tier| tier.retention.is_some())
        .filter_map(|tier| match previous {
            Some((config, dates)) if same_retention_rule(tier, config) => {
                dates.iter().find(|(name, _)| *name == tier.name).cloned()
            }
            _ => Some((tier.name.clone(), published)),
        })
        .collect()
}

/// Retention dates as stored beside a config version (JSON: tier name to
/// RFC 3339 instant). None when absent or unreadable: the rules then count
/// from their windows' start.
pub fn parse_retention_dates(json: Option<&str>) -> Vec<RetentionDate> {
    json.and_then(|json| serde_json::from_str::<BTreeMap<String, DateTime<Utc>>>(json).ok())
        .map(|map| map.into_iter().collect())
        .unwrap_or_default()
}

impl Program {
    /// The dates this program's retention rules count from, as it holds
    /// them (a UTC day, given as the start of that day).
    pub fn retention_dates(&self) -> Vec<RetentionDate> {
        self.tiers()
            .iter()
            .filter_map(|tier| {
                let day = tier.retention.as_ref()?.counted_from?;
                let start = crate::period::date_of(day).and_time(NaiveTime::MIN);
                Some((tier.name.clone(), start.and_utc()))
            })
            .collect()
    }

    /// This program published over `previous` at `published`: its retention
    /// rules dated as [`retention_dates`] dates them.
    pub fn published_over(self, previous: &Program, published: DateTime<Utc>) -> Program {
        let dates = retention_dates(
            self.config(),
            Some((previous.config(), &previous.retention_dates())),
            published,
        );
        self.with_retention_since(&dates)
    }
}
