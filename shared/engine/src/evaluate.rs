//! Criterion values and conditions at one moment, optionally with (a prefix
//! of) the order being applied. Everything here runs on the hot path: no
//! allocation, tracker windows answered from the series' running totals.

use crate::config::{Aggregate, CriterionKind, Measure};
use crate::decimal::{Money, Points};
use crate::events::Order;
use crate::expression::MetMask;
use crate::period::{day_of, DayNumber};
use crate::program::{Criterion, Program, Rule, TierIndex, MAX_TRACKERS};
use crate::state::CustomerState;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// The order as eligibility sees it.
pub(crate) struct OrderFacts {
    pub amount: Money,
    pub counts_for_purchases: bool,
    /// Bit i: the order counts for tracker i (its filter matched).
    matches: u32,
    /// Each tracker's contribution of the whole order (points excluded: they
    /// depend on the rate the order earns at).
    full: [Decimal; MAX_TRACKERS],
}

pub(crate) struct Evaluator<'a> {
    pub program: &'a Program,
    pub state: &'a CustomerState,
    /// Each used tracker's window value before the order.
    base: [Decimal; MAX_TRACKERS],
    order: Option<OrderFacts>,
}

impl<'a> Evaluator<'a> {
    /// Evaluates at `at`, computing only the trackers the rules of tiers
    /// above `from` use.
    pub fn new(
        program: &'a Program,
        state: &'a CustomerState,
        at: DateTime<Utc>,
        from: TierIndex,
        order: Option<&Order>,
    ) -> Self {
        let day = day_of(at);
        let used = program.trackers_used_above(from);
        let mut base = [Decimal::ZERO; MAX_TRACKERS];
        let mut matches = 0u32;
        let mut full = [Decimal::ZERO; MAX_TRACKERS];
        // Trackers often share a period: compute each window start once.
        let mut firsts: [(Option<crate::config::Period>, DayNumber); MAX_TRACKERS] =
            [(None, 0); MAX_TRACKERS];
        for (i, tracker) in program.trackers.iter().enumerate() {
            if used & (1 << i) == 0 {
                continue;
            }
            if let Some(series) = state.trackers.get(i) {
                let first = match firsts.iter().find(|(p, _)| *p == Some(tracker.period)) {
                    Some((_, first)) => *first,
                    None => {
                        let first = tracker.period.window_first_day(day);
                        firsts[i] = (Some(tracker.period), first);
                        first
                    }
                };
                base[i] = match tracker.aggregate {
                    Aggregate::Sum => series.sum(first, day),
                    Aggregate::Max => series.max(first, day),
                };
            }
            if let Some(order) = order {
                let category = tracker.category.as_deref();
                let matched = category.is_none()
                    || order
                        .line_items
                        .iter()
                        .any(|item| item.category.as_deref() == category);
                if matched {
                    matches |= 1 << i;
                    full[i] = match tracker.measure {
                        Measure::BillAmount => order.amount,
                        Measure::GrossBillAmount => order.gross_amount.unwrap_or(order.amount),
                        Measure::LineItemPrice => order.line_total(category).0,
                        Measure::Visits => Decimal::ONE,
                        Measure::Points => Decimal::ZERO,
                    };
                }
            }
        }
        let order = order.map(|o| OrderFacts {
            amount: o.amount,
            counts_for_purchases: o.placed_at >= program.start_date,
            matches,
            full,
        });
        Evaluator {
            program,
            state,
            base,
            order,
        }
    }

    /// A criterion's value with the first `prefix` of the order counted and
    /// `points` earned by it.
    pub fn value(&self, c: &Criterion, prefix: Money, points: Points) -> Decimal {
        let counted = match &self.order {
            Some(o) if o.counts_for_purchases => prefix,
            _ => Decimal::ZERO,
        };
        match c.kind {
            CriterionKind::CurrentPoints => self.state.current_points + points,
            CriterionKind::LifetimePoints => self.state.lifetime_points + points,
            CriterionKind::LifetimePurchases => self.state.lifetime_purchases + counted,
            CriterionKind::SingleOrder => self.state.best_order().max(counted),
            CriterionKind::Tracker => {
                let i = c.tracker.unwrap_or(0);
                let add = self.contribution(i, prefix, points);
                match self.program.trackers[i].aggregate {
                    Aggregate::Sum => self.base[i] + add,
                    Aggregate::Max => self.base[i].max(add),
                }
            }
        }
    }

    fn contribution(&self, tracker: usize, prefix: Money, points: Points) -> Decimal {
        let Some(o) = &self.order else {
            return Decimal::ZERO;
        };
        if o.matches & (1 << tracker) == 0 {
            return Decimal::ZERO;
        }
        let full = o.full[tracker];
        match self.program.trackers[tracker].measure {
            Measure::Visits => Decimal::ONE,
            Measure::Points => points,
            Measure::BillAmount => prefix,
            Measure::GrossBillAmount | Measure::LineItemPrice if prefix == o.amount => full,
            Measure::GrossBillAmount | Measure::LineItemPrice => full * prefix / o.amount,
        }
    }

    pub fn met(&self, rule: &Rule, prefix: Money, points: Points) -> MetMask {
        let mut met = 0;
        for (i, c) in rule.criteria.iter().enumerate() {
            if self.value(c, prefix, points) >= c.min {
                met |= 1 << i;
            }
        }
        met
    }

    /// Whether tier `tier`'s condition holds, and which criteria were met.
    pub fn holds(&self, tier: TierIndex, prefix: Money, points: Points) -> Option<MetMask> {
        let rule = self.program.tiers[tier].rule.as_ref()?;
        let met = self.met(rule, prefix, points);
        rule.table.holds(met).then_some(met)
    }

    /// The highest tier above `above` whose condition holds.
    pub fn highest_holding(
        &self,
        above: TierIndex,
        prefix: Money,
        points: Points,
    ) -> Option<(TierIndex, MetMask)> {
        (above + 1..self.program.tiers.len())
            .rev()
            .find_map(|t| self.holds(t, prefix, points).map(|m| (t, m)))
    }
}

impl Program {
    /// Bit i set when some tier above `from` has a criterion on tracker i.
    pub(crate) fn trackers_used_above(&self, from: TierIndex) -> u32 {
        let mut used = 0u32;
        for tier in self.tiers.iter().skip(from + 1) {
            if let Some(rule) = &tier.rule {
                for c in &rule.criteria {
                    if let Some(t) = c.tracker {
                        used |= 1 << t;
                    }
                }
            }
        }
        used
    }
}
