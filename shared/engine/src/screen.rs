//! The common case of a decision, in fixed point: with the whole order
//! counted and paid at the customer's tier, does any tier above hold? Most
//! orders cross no threshold, and for them this is the whole decision, with
//! no `Decimal` arithmetic, tiers and criteria by index and each tracker's
//! window found once.
//!
//! It answers only when it is sure: a figure outside fixed point's range
//! ([`crate::fixed`]) or a tier that holds sends the order down the exact
//! path ([`crate::evaluate::Evaluator`]), which decides every crossing and
//! split. The two agree on every order this one answers (a property test
//! below holds them to it).

use crate::config::{Aggregate, CriterionKind, Measure};
use crate::events::Order;
use crate::fixed;
use crate::period::{day_of, DayNumber};
use crate::program::{Criterion, Program, TierIndex, MAX_TRACKERS};
use crate::state::CustomerState;
use smallvec::SmallVec;

/// A program's thresholds and rates in fixed point, when all have one.
#[derive(Debug, Clone)]
pub(crate) struct ScreenRules {
    /// Each tier's earn rate in 10^-6 points per unit.
    rates: Vec<i128>,
    /// Each tier's criteria's thresholds, in rule order.
    mins: Vec<SmallVec<[i128; 3]>>,
    /// Each tracker's minimum order amount, if any.
    min_orders: Vec<Option<i128>>,
}

impl ScreenRules {
    pub(crate) fn of(program: &Program) -> Option<Self> {
        let rates = program
            .tiers
            .iter()
            .map(|t| fixed::rate_of(t.earn_rate))
            .collect::<Option<_>>()?;
        let mins = program
            .tiers
            .iter()
            .map(|t| {
                t.rule.as_ref().map_or(Some(SmallVec::new()), |r| {
                    r.criteria.iter().map(|c| fixed::of(c.min)).collect()
                })
            })
            .collect::<Option<_>>()?;
        let min_orders = program
            .trackers
            .iter()
            .map(|t| match t.min_order {
                Some(m) => fixed::of(m).map(Some),
                None => Some(None),
            })
            .collect::<Option<_>>()?;
        Some(ScreenRules {
            rates,
            mins,
            min_orders,
        })
    }
}

/// What the order and the customer's standing come to, in fixed point.
struct Facts<'a> {
    program: &'a Program,
    rules: &'a ScreenRules,
    state: &'a CustomerState,
    order: &'a Order,
    day: DayNumber,
    amount: i128,
    /// The amount as purchases count it (zero before the program's start).
    counted: i128,
    points: i128,
    /// Each tracker's window before the order, found on first use (bit i
    /// of `known`).
    windows: [i128; MAX_TRACKERS],
    known: u32,
}

impl Program {
    /// The points of `order` paid at tier `from`, in cents, when no tier
    /// above `from` holds with the whole order counted; `None` when one may.
    pub(crate) fn screen(
        &self,
        state: &CustomerState,
        order: &Order,
        from: TierIndex,
    ) -> Option<i128> {
        let rules = self.screen.as_ref()?;
        let amount = fixed::of(order.amount)?;
        let cents = fixed::points_cents(order.amount, rules.rates[from])?;
        let mut facts = Facts {
            program: self,
            rules,
            state,
            order,
            day: day_of(order.placed_at),
            amount,
            counted: if order.placed_at >= self.start_date {
                amount
            } else {
                0
            },
            points: fixed::of_cents(cents),
            windows: [0; MAX_TRACKERS],
            known: 0,
        };
        for tier in from + 1..self.tiers.len() {
            if facts.holds(tier)? {
                return None;
            }
        }
        Some(cents)
    }
}

impl Facts<'_> {
    /// Whether `tier`'s condition holds, criteria evaluated in order only
    /// until the condition is decided (as `Evaluator::decides`).
    fn holds(&mut self, tier: TierIndex) -> Option<bool> {
        let Some(rule) = self.program.tiers[tier].rule.as_ref() else {
            return Some(false);
        };
        let n = rule.criteria.len();
        let mut met = 0;
        for (i, c) in rule.criteria.iter().enumerate() {
            let min = self.rules.mins[tier][i];
            let value = self.value(c)?;
            if if c.strict { value > min } else { value >= min } {
                met |= 1 << i;
            }
            if let Some(outcome) = rule.table.decided(n, i + 1, met) {
                return Some(outcome);
            }
        }
        Some(rule.table.holds(met))
    }

    fn value(&mut self, c: &Criterion) -> Option<i128> {
        let s = self.state;
        let value = match c.kind {
            CriterionKind::CurrentPoints => fixed::of(s.current_points)? + self.points,
            CriterionKind::LifetimePoints => fixed::of(s.lifetime_points)? + self.points,
            CriterionKind::LifetimePurchases => fixed::of(s.lifetime_purchases)? + self.counted,
            CriterionKind::SingleOrder => fixed::of(s.best_order())?.max(self.counted),
            CriterionKind::Tracker => {
                let i = c.tracker?;
                let base = match c.period {
                    Some(period) => self.window(i, period.window_first_day(self.day))?,
                    None if self.known & (1 << i) != 0 => self.windows[i],
                    None => {
                        let first = self.program.trackers[i].window_first_day(self.day);
                        let v = self.window(i, first)?;
                        self.windows[i] = v;
                        self.known |= 1 << i;
                        v
                    }
                };
                let add = self.contribution(i)?;
                match self.program.trackers[i].aggregate {
                    Aggregate::Sum => base + add,
                    Aggregate::Max => base.max(add),
                }
            }
        };
        fixed::bounded(value)
    }

    fn window(&self, tracker: usize, first: DayNumber) -> Option<i128> {
        let Some(series) = self.state.trackers.get(tracker) else {
            return Some(0);
        };
        match self.program.trackers[tracker].aggregate {
            Aggregate::Sum => series.sum_fixed(first, self.day),
            Aggregate::Max => series.max_fixed(first, self.day),
        }
    }

    /// What the whole order adds to tracker `tracker`.
    fn contribution(&self, tracker: usize) -> Option<i128> {
        let t = &self.program.trackers[tracker];
        let category = t.category.as_deref();
        let matched = category.is_none()
            || self
                .order
                .line_items
                .iter()
                .any(|item| item.category.as_deref() == category);
        if !matched {
            return Some(0);
        }
        if self.rules.min_orders[tracker].is_some_and(|min| self.amount < min) {
            return Some(0);
        }
        Some(match t.measure {
            Measure::Visits => fixed::whole(1),
            Measure::Points => self.points,
            Measure::BillAmount => self.amount,
            Measure::GrossBillAmount => {
                fixed::of(self.order.gross_amount.unwrap_or(self.order.amount))?
            }
            Measure::LineItemPrice => self.line_total(category)?,
        })
    }

    /// `Order::line_total` in fixed point.
    fn line_total(&self, category: Option<&str>) -> Option<i128> {
        let mut total = 0i128;
        for item in &self.order.line_items {
            if category.is_none() || item.category.as_deref() == category {
                total = total.checked_add(fixed::product(item.price, item.quantity)?)?;
            }
        }
        fixed::bounded(total)
    }
}

#[cfg(test)]
mod tests {
    use crate::events::{LineItem, Order, OrderStatus};
    use crate::program::Program;
    use crate::state::CustomerState;
    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use serde_json::json;

    /// Four tiers over every criterion kind and tracker measure, with
    /// thresholds drawn small enough that random histories reach them.
    fn program(kind: &str, scale: i64, strict: bool, start: &str) -> Program {
        let op = if strict { "gt" } else { "gte" };
        let min = |n: i64| (Decimal::new(n * scale, 2)).to_string();
        let config = json!({
            "currency": "USD", "startDate": start, "pointsExpiry": {"months": 6},
            "trackers": [
                {"id": "visits", "measure": "visits", "period": {"months": 3}},
                {"id": "shoes", "measure": "lineItemPrice", "filter": {"category": "shoes"}, "period": {"days": 30}},
                {"id": "big", "measure": "billAmount", "aggregate": "max", "period": {"months": 12}},
                {"id": "gross", "measure": "grossBillAmount", "filter": {"minOrderAmount": "20"}, "period": {"calendar": "quarter"}},
                {"id": "pts", "measure": "points", "period": {"days": 60}}],
            "tiers": [
                {"name": "Blue", "earnRate": "0.05"},
                {"name": "Silver", "earnRate": "0.125", "upgrade": {"criteria": [
                    {"id": "A", "kind": "lifetimePurchases", "min": min(500), "op": op},
                    {"id": "B", "kind": "tracker", "tracker": "visits", "min": 3 + scale % 5}],
                    "condition": {"any": 1}, "upgradeType": kind}},
                {"name": "Gold", "earnRate": "0.2", "upgrade": {"criteria": [
                    {"id": "A", "kind": "lifetimePoints", "min": min(60)},
                    {"id": "B", "kind": "tracker", "tracker": "shoes", "min": min(300), "op": op},
                    {"id": "C", "kind": "singleOrder", "min": min(900)}],
                    "condition": {"custom": "(A AND B) OR C"}, "upgradeType": kind}},
                {"name": "Diamond", "earnRate": "0.333333", "upgrade": {"criteria": [
                    {"id": "A", "kind": "tracker", "tracker": "gross", "min": min(2000)},
                    {"id": "B", "kind": "tracker", "tracker": "big", "min": min(700), "period": {"days": 45}},
                    {"id": "C", "kind": "currentPoints", "min": min(150)}],
                    "condition": {"any": 2}, "upgradeType": kind}}]
        });
        Program::validate(serde_json::from_value(config).unwrap()).unwrap()
    }

    fn order(id: usize, at: DateTime<Utc>, cents: i64, shoe_cents: i64, quantity: i64) -> Order {
        let amount = Decimal::new(cents, 2);
        let mut line_items = vec![LineItem {
            sku: "a".into(),
            category: Some("shirts".into()),
            price: amount,
            quantity: Decimal::ONE,
        }];
        if shoe_cents > 0 {
            line_items.push(LineItem {
                sku: "s".into(),
                category: Some("shoes".into()),
                price: Decimal::new(shoe_cents, 3),
                quantity: Decimal::new(quantity, 1),
            });
        }
        Order {
            order_id: format!("o{id}"),
            customer_id: "c".into(),
            placed_at: at,
            status: OrderStatus::Completed,
            amount,
            gross_amount: (cents % 3 == 0).then(|| amount + Decimal::new(cents % 700, 2)),
            currency: None,
            line_items,
        }
    }

    type Spec = (i64, i64, i64, i64);

    fn spec() -> impl Strategy<Value = Spec> {
        (0i64..90 * 24, 0i64..60_000, 0i64..200_000, 1i64..30)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_screen_agrees_with_the_exact_decision(
            kind in prop::sample::select(vec!["lazy", "eager", "dynamic"]),
            scale in 1i64..40,
            strict in any::<bool>(),
            late_start in any::<bool>(),
            past in prop::collection::vec(spec(), 0..40),
            next in spec(),
        ) {
            let start = if late_start { "2026-02-15T00:00:00Z" } else { "2025-01-01T00:00:00Z" };
            let p = program(kind, scale, strict, start);
            let origin: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
            let mut state = CustomerState::new(&p, origin);
            let mut past = past;
            past.sort_by_key(|s| s.0);
            let (mut answered, mut total) = (0, 0);
            for (i, (hours, cents, shoes, quantity)) in past.iter().chain([&next]).enumerate() {
                let o = order(i, origin + Duration::hours(*hours), *cents, *shoes, *quantity);
                p.expire(&mut state, o.placed_at);
                let from = state.tier_index(&p);
                let exact = p.decide_exactly(&state, &o, from);
                if let Some(cents) = p.screen(&state, &o, from) {
                    answered += 1;
                    prop_assert!(exact.upgrades.is_empty(), "the screen missed an upgrade: {exact:?}");
                    prop_assert_eq!(crate::fixed::cents_to_decimal(cents), Some(exact.points));
                }
                prop_assert_eq!(p.decide(&state, &o), exact);
                p.apply_order(&mut state, &o).unwrap();
                total += 1;
            }
            prop_assert!(answered <= total);
        }
    }

    #[test]
    fn an_order_that_crosses_nothing_is_answered_by_the_screen_alone() {
        let p = program("dynamic", 20, false, "2025-01-01T00:00:00Z");
        let origin: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut state = CustomerState::new(&p, origin);
        p.apply_order(&mut state, &order(1, origin, 1_000, 500, 10))
            .unwrap();
        let small = order(2, origin + Duration::days(1), 2_000, 300, 10);
        assert_eq!(
            p.screen(&state, &small, 0)
                .and_then(crate::fixed::cents_to_decimal),
            Some(Decimal::ONE),
            "5 % of $20"
        );
        let crossing = order(3, origin + Duration::days(1), 5_000_000, 0, 10);
        assert_eq!(
            p.screen(&state, &crossing, 0),
            None,
            "one order of $50,000 reaches Diamond"
        );
        assert_eq!(p.decide(&state, &crossing).tier_after, 3);
    }
}
