//! Status and progress: for every tier above the customer's, each criterion's
//! required and actual value and what remains ("spend $1,000 more to reach
//! Diamond"). Visits count whole visits: `>4` in the reference is `min: 5`.

use crate::config::{Aggregate, CriterionKind};
use crate::evaluate::Evaluator;
use crate::period::day_of;
use crate::program::{Program, TierIndex};
use crate::state::CustomerState;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub tier: TierIndex,
    /// Every tracker's value over its window ending at the moment asked.
    pub trackers: Vec<(String, Decimal)>,
    /// Tiers above the customer's, nearest first.
    pub progress: Vec<TierProgress>,
    /// When the tier lapses unless its retention condition holds then
    /// (None: it never lapses).
    pub valid_until: Option<DateTime<Utc>>,
    /// Set while the condition failed at the end of the validity and the
    /// tier's grace runs.
    pub in_grace_until: Option<DateTime<Utc>>,
    pub at_risk: Option<crate::validity::AtRisk>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TierProgress {
    pub tier: TierIndex,
    pub qualifies: bool,
    pub criteria: Vec<CriterionProgress>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CriterionProgress {
    pub id: String,
    pub kind: CriterionKind,
    pub required: Decimal,
    pub actual: Decimal,
    pub remaining: Decimal,
    pub met: bool,
    /// What it takes, in words, where `remaining` alone would mislead: a
    /// single-order criterion needs one order of the size, not a sum.
    pub needs: Option<String>,
}

/// What is still missing for `c` at `actual`: for `gt`, one unit more than
/// the threshold (a visit, or a cent); for a single order, an order of the
/// whole threshold.
fn remaining(c: &crate::program::Criterion, actual: Decimal, unit: Decimal) -> Decimal {
    if c.met_by(actual) {
        return Decimal::ZERO;
    }
    if c.kind == CriterionKind::SingleOrder {
        return if c.strict { c.min + unit } else { c.min };
    }
    let gap = (c.min - actual).max(Decimal::ZERO);
    if c.strict {
        gap + unit
    } else {
        gap
    }
}

impl Program {
    pub fn status(&self, state: &CustomerState, as_of: DateTime<Utc>) -> Status {
        let tier = state.tier_index(self);
        let day = day_of(as_of);
        let trackers = self
            .trackers()
            .iter()
            .zip(&state.trackers)
            .map(|(t, s)| {
                let first = t.period.window_first_day(day);
                let value = match t.aggregate {
                    Aggregate::Sum => s.sum(first, day),
                    Aggregate::Max => s.max(first, day),
                };
                (t.id.clone(), value.normalize())
            })
            .collect();
        let eval = Evaluator::new(self, state, as_of, tier, None);
        let progress = (tier + 1..self.tiers().len())
            .filter_map(|t| {
                let rule = self.tiers()[t].rule.as_ref()?;
                let met = eval.met(rule, Decimal::ZERO, Decimal::ZERO);
                let criteria = rule
                    .criteria
                    .iter()
                    .enumerate()
                    .map(|(i, c)| self.criterion_progress(&eval, c, met & (1 << i) != 0))
                    .collect();
                Some(TierProgress {
                    tier: t,
                    qualifies: rule.table.holds(met),
                    criteria,
                })
            })
            .collect();
        Status {
            tier,
            trackers,
            progress,
            valid_until: self.valid_until(state),
            in_grace_until: self.in_grace_until(state),
            at_risk: self.at_risk(state, as_of),
        }
    }

    /// How far criterion `c` is from being met, as of the evaluator's
    /// instant.
    pub(crate) fn criterion_progress(
        &self,
        eval: &Evaluator<'_>,
        c: &crate::program::Criterion,
        met: bool,
    ) -> CriterionProgress {
        let actual = eval.value(c, Decimal::ZERO, Decimal::ZERO);
        let visits = c
            .tracker
            .is_some_and(|t| self.trackers()[t].measure == crate::config::Measure::Visits);
        let unit = if visits {
            Decimal::ONE
        } else {
            Decimal::new(1, 2)
        };
        let more = if c.strict { "more than" } else { "at least" };
        let needs = (c.kind == CriterionKind::SingleOrder).then(|| {
            format!(
                "one order of {more} {}; best so far {}",
                c.min.normalize(),
                actual.normalize()
            )
        });
        CriterionProgress {
            id: c.id.clone(),
            kind: c.kind,
            required: c.min,
            actual: actual.normalize(),
            remaining: remaining(c, actual, unit).normalize(),
            met,
            needs,
        }
    }
}
