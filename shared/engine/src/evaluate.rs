//! Criterion values and conditions at one moment, optionally with (a prefix
//! of) the order being applied. Everything here runs on the hot path: no
//! allocation, tracker windows answered from the series' running totals.

use crate::config::{Aggregate, CriterionKind, Measure};
use crate::decimal::{Money, Points};
use crate::events::{Order, OrderRecord};
use crate::expression::MetMask;
use crate::period::{day_of, DayNumber};
use crate::program::{Criterion, Program, Rule, TierIndex, MAX_TRACKERS};
use crate::state::CustomerState;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::cell::Cell;

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

impl OrderFacts {
    /// A stored order as eligibility sees it, resized to `amount` (what
    /// the order would have needed): the figures that follow the bill (gross
    /// amount, line items) grow or shrink with it in proportion.
    pub fn of_record(program: &Program, record: &OrderRecord, amount: Money) -> Self {
        let resized = |figure: Decimal| {
            if amount == record.amount || record.amount.is_zero() {
                figure
            } else {
                figure
                    .checked_mul(amount)
                    .map_or_else(|| figure * (amount / record.amount), |p| p / record.amount)
            }
        };
        let mut matches = 0u32;
        let mut full = [Decimal::ZERO; MAX_TRACKERS];
        for (i, tracker) in program.trackers.iter().enumerate() {
            let line_total = match &tracker.category {
                Some(c) => match record.category_total(c) {
                    Some(total) => total,
                    None => continue,
                },
                None => record.line_items_total,
            };
            matches |= 1 << i;
            full[i] = match tracker.measure {
                Measure::BillAmount => amount,
                Measure::GrossBillAmount => resized(record.gross_amount),
                Measure::LineItemPrice => resized(line_total),
                Measure::Visits => Decimal::ONE,
                Measure::Points => Decimal::ZERO,
            };
        }
        OrderFacts {
            amount,
            counts_for_purchases: record.counts_for_purchases,
            matches,
            full,
        }
    }
}

pub(crate) struct Evaluator<'a> {
    pub program: &'a Program,
    pub state: &'a CustomerState,
    day: DayNumber,
    /// Each tracker's window value before the order, computed on first use
    /// (bit i of `known`): a condition decided early never pays for it.
    base: [Cell<Decimal>; MAX_TRACKERS],
    known: Cell<u32>,
    order: Option<OrderFacts>,
    /// Tracker days before this one are not counted (a retention rule's
    /// configuration day).
    floor: Option<DayNumber>,
}

impl<'a> Evaluator<'a> {
    /// Evaluates at `at`, with the order's per-tracker figures for the
    /// trackers the rules of tiers above `from` use.
    pub fn new(
        program: &'a Program,
        state: &'a CustomerState,
        at: DateTime<Utc>,
        from: TierIndex,
        order: Option<&Order>,
    ) -> Self {
        let order = order.map(|order| {
            let used = program.trackers_above.get(from).copied().unwrap_or(0);
            let mut matches = 0u32;
            let mut full = [Decimal::ZERO; MAX_TRACKERS];
            for (i, tracker) in program.trackers.iter().enumerate() {
                if used & (1 << i) == 0 {
                    continue;
                }
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
            OrderFacts {
                amount: order.amount,
                counts_for_purchases: order.placed_at >= program.start_date,
                matches,
                full,
            }
        });
        Self::with_facts(program, state, at, order)
    }

    /// Evaluates at `at` with an order's figures already worked out.
    pub fn with_facts(
        program: &'a Program,
        state: &'a CustomerState,
        at: DateTime<Utc>,
        order: Option<OrderFacts>,
    ) -> Self {
        Evaluator {
            program,
            state,
            day: day_of(at),
            base: Default::default(),
            known: Cell::new(0),
            order,
            floor: None,
        }
    }

    /// Counts tracker days from `floor` on (the later of it and each
    /// window's start).
    pub fn counting_from(mut self, floor: Option<DayNumber>) -> Self {
        self.floor = floor;
        self
    }

    fn first_counted(&self, window_first: DayNumber) -> DayNumber {
        self.floor.map_or(window_first, |f| f.max(window_first))
    }

    fn base(&self, tracker: usize) -> Decimal {
        if self.known.get() & (1 << tracker) != 0 {
            return self.base[tracker].get();
        }
        let t = &self.program.trackers[tracker];
        let value = self
            .state
            .trackers
            .get(tracker)
            .map_or(Decimal::ZERO, |series| {
                let first = self.first_counted(t.window_first_day(self.day));
                match t.aggregate {
                    Aggregate::Sum => series.sum(first, self.day),
                    Aggregate::Max => series.max(first, self.day),
                }
            });
        self.base[tracker].set(value);
        self.known.set(self.known.get() | (1 << tracker));
        value
    }

    /// Tracker `tracker`'s value over a criterion's own window (not cached:
    /// few criteria have one).
    fn window(&self, tracker: usize, period: crate::config::Period) -> Decimal {
        let t = &self.program.trackers[tracker];
        self.state
            .trackers
            .get(tracker)
            .map_or(Decimal::ZERO, |series| {
                let first = self.first_counted(period.window_first_day(self.day));
                match t.aggregate {
                    Aggregate::Sum => series.sum(first, self.day),
                    Aggregate::Max => series.max(first, self.day),
                }
            })
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
                let base = match c.period {
                    Some(period) => self.window(i, period),
                    None => self.base(i),
                };
                match self.program.trackers[i].aggregate {
                    Aggregate::Sum => base + add,
                    Aggregate::Max => base.max(add),
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
        // A minimum order amount counts the order once (the prefix of) it
        // reaches the minimum, so the value still grows with the prefix.
        if self.program.trackers[tracker]
            .min_order
            .is_some_and(|min| prefix < min)
        {
            return Decimal::ZERO;
        }
        match self.program.trackers[tracker].measure {
            Measure::Visits => Decimal::ONE,
            Measure::Points => points,
            Measure::BillAmount => prefix,
            Measure::GrossBillAmount | Measure::LineItemPrice if prefix == o.amount => full,
            Measure::GrossBillAmount | Measure::LineItemPrice => {
                crate::decimal::share(full, prefix, o.amount)
            }
        }
    }

    pub fn met(&self, rule: &Rule, prefix: Money, points: Points) -> MetMask {
        let mut met = 0;
        for (i, c) in rule.criteria.iter().enumerate() {
            if c.met_by(self.value(c, prefix, points)) {
                met |= 1 << i;
            }
        }
        met
    }

    /// Whether tier `tier`'s condition holds, and which criteria were met.
    /// Criteria are evaluated in order only until the condition is decided;
    /// all of them only when it holds (to report which were met).
    pub fn holds(&self, tier: TierIndex, prefix: Money, points: Points) -> Option<MetMask> {
        let rule = self.program.tiers[tier].rule.as_ref()?;
        self.decides(tier, prefix, points)
            .then(|| self.met(rule, prefix, points))
    }

    /// Whether tier `tier`'s condition holds, evaluating criteria in order
    /// only until the condition is decided.
    #[inline]
    pub fn decides(&self, tier: TierIndex, prefix: Money, points: Points) -> bool {
        let Some(rule) = self.program.tiers[tier].rule.as_ref() else {
            return false;
        };
        let n = rule.criteria.len();
        let mut met = 0;
        for (i, c) in rule.criteria.iter().enumerate() {
            if c.met_by(self.value(c, prefix, points)) {
                met |= 1 << i;
            }
            if let Some(outcome) = rule.table.decided(n, i + 1, met) {
                return outcome;
            }
        }
        rule.table.holds(met)
    }

    /// Whether any tier above `above` holds.
    pub fn any_holds(&self, above: TierIndex, prefix: Money, points: Points) -> bool {
        (above + 1..self.program.tiers.len()).any(|t| self.decides(t, prefix, points))
    }

    /// The highest tier above `above` whose condition holds.
    pub fn highest_holding(
        &self,
        above: TierIndex,
        prefix: Money,
        points: Points,
    ) -> Option<(TierIndex, MetMask)> {
        self.highest_holding_up_to(above, self.program.tiers.len() - 1, prefix, points)
    }

    /// The highest tier above `above`, up to `up_to`, whose condition
    /// holds.
    pub fn highest_holding_up_to(
        &self,
        above: TierIndex,
        up_to: TierIndex,
        prefix: Money,
        points: Points,
    ) -> Option<(TierIndex, MetMask)> {
        let tier = (above + 1..=up_to)
            .rev()
            .find(|t| self.decides(*t, prefix, points))?;
        let rule = self.program.tiers[tier].rule.as_ref()?;
        Some((tier, self.met(rule, prefix, points)))
    }
}
