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

impl CustomerState {
    /// Whether a re-evaluation under config `version` upgraded the customer:
    /// a job run twice, resumed after its process stopped, or stepped while
    /// another runner works it judges them again and finds nothing to do,
    /// yet counts them as its own (while the history keeps the change).
    pub fn reevaluated_under(&self, version: u64) -> bool {
        self.history
            .iter()
            .any(|c| c.is_reevaluation() && c.config_version == Some(version))
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
