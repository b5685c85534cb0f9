//! Re-evaluation after a config change: a version that lowers a threshold
//! or adds a criterion may make customers qualify who placed no order since.
//! Each is upgraded as of the change, points untouched, nobody demoted.

use crate::evaluate::Evaluator;
use crate::program::Program;
use crate::state::{CustomerState, TierChange};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// The history cause of an upgrade by re-evaluation starts so: `config v7`.
pub const REEVALUATION: &str = "config v";

impl TierChange {
    /// Made by a re-evaluation after a config change.
    pub fn is_reevaluation(&self) -> bool {
        !self.admin && self.cause.starts_with(REEVALUATION)
    }
}

impl Program {
    /// Lifts the customer to the highest tier whose upgrade condition holds
    /// as of `at` (this program's version being the one published then),
    /// after what fell due by then. Returns the change, if any; again for
    /// the same `at` it changes nothing.
    pub fn reevaluate(&self, state: &mut CustomerState, at: DateTime<Utc>) -> Option<TierChange> {
        self.expire(state, at);
        let current = state.tier_index(self);
        let (to, met) = Evaluator::new(self, state, at, 0, None).highest_holding(
            current,
            Decimal::ZERO,
            Decimal::ZERO,
        )?;
        let criteria = self.tiers[to]
            .rule
            .as_ref()
            .map(|rule| rule.ids(met, true))
            .unwrap_or_default();
        let change = TierChange {
            from: state.tier.clone(),
            to: self.tier_name(to).to_owned(),
            at,
            cause: format!("{REEVALUATION}{}", self.version()),
            config_version: Some(self.version()),
            admin: false,
        };
        state.saw_event(at);
        state.record_change(change.clone(), criteria);
        Some(change)
    }
}
