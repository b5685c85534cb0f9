//! A program's upgrade rules compiled for the screen ([`crate::screen`]):
//! every tier's criteria in one flat list, each naming the figure it reads
//! by a small index and carrying its threshold in fixed point, so a decision
//! follows indexes instead of the validated rules' strings, `Decimal`s and
//! options. Built once per program; `None` when a threshold, rate or
//! minimum has no fixed-point form (the exact path decides then).

use crate::config::{Aggregate, CriterionKind, Measure, Period};
use crate::expression::TruthTable;
use crate::fixed;
use crate::program::{Program, TierIndex};

/// A figure a criterion compares with its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Source {
    /// One of the state's own figures, by [`Figure`] index.
    State(Figure),
    /// Tracker `.0` over its own window.
    Tracker(u8),
    /// Tracker `.0` over the criterion's own window.
    TrackerOver(u8, Period),
}

/// The state's figures a criterion may read, as indexes into the memo of
/// those converted for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Figure {
    CurrentPoints = 0,
    LifetimePoints = 1,
    LifetimePurchases = 2,
    SingleOrder = 3,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    pub(crate) source: Source,
    pub(crate) min: i128,
    pub(crate) strict: bool,
    /// Bit m set when this criterion can change its tier's outcome once
    /// the criteria before it are known with met mask m
    /// ([`TruthTable::matters`]): a figure that cannot is never computed.
    pub(crate) matters_after: u8,
}

impl Step {
    #[inline]
    pub(crate) fn met_by(&self, value: i128) -> bool {
        if self.strict {
            value > self.min
        } else {
            value >= self.min
        }
    }
}

/// One tier: its rate and where its criteria are in [`Plan::steps`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct TierPlan {
    /// Earn rate in 10^-6 points per unit.
    pub(crate) rate: i128,
    pub(crate) first: u16,
    /// Criteria count; zero for a tier without an upgrade rule.
    pub(crate) len: u8,
    pub(crate) table: TruthTable,
}

#[derive(Debug, Clone)]
pub(crate) struct TrackerPlan {
    pub(crate) measure: Measure,
    pub(crate) aggregate: Aggregate,
    pub(crate) category: Option<Box<str>>,
    pub(crate) min_order: Option<i128>,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) tiers: Vec<TierPlan>,
    pub(crate) steps: Vec<Step>,
    pub(crate) trackers: Vec<TrackerPlan>,
}

impl Plan {
    pub(crate) fn of(program: &Program) -> Option<Self> {
        let mut tiers = Vec::with_capacity(program.tiers.len());
        let mut steps = Vec::new();
        for tier in &program.tiers {
            let first = u16::try_from(steps.len()).ok()?;
            let (len, table) = match &tier.rule {
                Some(rule) => {
                    let n = rule.criteria.len();
                    for (i, c) in rule.criteria.iter().enumerate() {
                        steps.push(Step {
                            source: source_of(c.kind, c.tracker, c.period)?,
                            min: fixed::of(c.min)?,
                            strict: c.strict,
                            matters_after: matters_after(rule.table, n, i),
                        });
                    }
                    (u8::try_from(rule.criteria.len()).ok()?, rule.table)
                }
                // Holds for no figures, as a tier without a rule.
                None => (0, TruthTable::from_fn(0, |_| false)),
            };
            tiers.push(TierPlan {
                rate: fixed::rate_of(tier.earn_rate)?,
                first,
                len,
                table,
            });
        }
        let trackers = program
            .trackers
            .iter()
            .map(|t| {
                Some(TrackerPlan {
                    measure: t.measure,
                    aggregate: t.aggregate,
                    category: t.category.as_deref().map(Box::from),
                    min_order: match t.min_order {
                        Some(m) => Some(fixed::of(m)?),
                        None => None,
                    },
                })
            })
            .collect::<Option<_>>()?;
        Some(Plan {
            tiers,
            steps,
            trackers,
        })
    }

    /// Tier `tier`'s criteria, in rule order.
    #[inline]
    pub(crate) fn steps(&self, tier: TierIndex) -> (&TierPlan, &[Step]) {
        let t = &self.tiers[tier];
        let first = usize::from(t.first);
        (t, &self.steps[first..first + usize::from(t.len)])
    }
}

/// [`Step::matters_after`] of criterion `i` of `n`.
fn matters_after(table: TruthTable, n: usize, i: usize) -> u8 {
    (0..1u8 << i)
        .filter(|&met| table.matters(n, i, met))
        .fold(0, |bits, met| bits | 1 << met)
}

fn source_of(
    kind: CriterionKind,
    tracker: Option<usize>,
    period: Option<Period>,
) -> Option<Source> {
    Some(match kind {
        CriterionKind::CurrentPoints => Source::State(Figure::CurrentPoints),
        CriterionKind::LifetimePoints => Source::State(Figure::LifetimePoints),
        CriterionKind::LifetimePurchases => Source::State(Figure::LifetimePurchases),
        CriterionKind::SingleOrder => Source::State(Figure::SingleOrder),
        CriterionKind::Tracker => {
            let i = u8::try_from(tracker?).ok()?;
            match period {
                Some(period) => Source::TrackerOver(i, period),
                None => Source::Tracker(i),
            }
        }
    })
}
