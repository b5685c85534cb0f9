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

use crate::config::{Aggregate, Measure};
use crate::events::Order;
use crate::fixed;
use crate::period::{day_of, DayNumber};
use crate::plan::{Figure, Plan, Source, TrackerPlan};
use crate::program::{Program, TierIndex, MAX_TRACKERS};
use crate::state::CustomerState;

const TRACKER_BIT: usize = 8;

/// What the order and the customer's standing come to, in fixed point,
/// each figure converted at most once per decision however many tiers'
/// criteria read it.
struct Facts<'a> {
    plan: &'a Plan,
    state: &'a CustomerState,
    order: &'a Order,
    day: DayNumber,
    amount: i128,
    /// The amount as purchases count it (zero before the program's start).
    counted: i128,
    points: i128,
    /// The state's figures with the order counted, for [`Figure`] f when
    /// bit f of `known` is set.
    figures: [i128; 4],
    /// Each tracker's figure with the order counted, over its own window,
    /// for tracker i when bit `TRACKER_BIT + i` of `known` is set.
    trackers: [i128; MAX_TRACKERS],
    /// One word for both: as a byte, it was written narrow and read wide,
    /// which stalls the read until the write has left the store buffer.
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
        let plan = self.plan.as_ref()?;
        let amount = fixed::of(order.amount)?;
        let cents = fixed::points_cents(order.amount, plan.tiers[from].rate)?;
        let mut facts = Facts {
            plan,
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
            figures: [0; 4],
            trackers: [0; MAX_TRACKERS],
            known: 0,
        };
        for tier in from + 1..plan.tiers.len() {
            if facts.holds(self, tier)? {
                return None;
            }
        }
        Some(cents)
    }
}

impl Facts<'_> {
    /// Whether `tier`'s condition holds, criteria evaluated in order only
    /// until the condition is decided (as `Evaluator::decides`).
    #[inline]
    fn holds(&mut self, program: &Program, tier: TierIndex) -> Option<bool> {
        let (t, steps) = self.plan.steps(tier);
        let n = steps.len();
        let mut met = 0;
        for (i, step) in steps.iter().enumerate() {
            if (step.matters_after >> met) & 1 == 0 {
                // Its figure cannot change the outcome: left unmet, unread.
                continue;
            }
            let value = match step.source {
                Source::State(f) => self.figure(f)?,
                Source::Tracker(i) => self.tracker(program, usize::from(i))?,
                Source::TrackerOver(i, period) => {
                    let i = usize::from(i);
                    let first = period.window_first_day(self.day);
                    let base = self.window(i, first)?;
                    self.with_order(i, base)?
                }
            };
            if step.met_by(value) {
                met |= 1 << i;
            }
            if let Some(outcome) = t.table.decided(n, i + 1, met) {
                return Some(outcome);
            }
        }
        Some(t.table.holds(met))
    }

    fn figure(&mut self, f: Figure) -> Option<i128> {
        let bit = 1 << f as u32;
        if self.known & bit != 0 {
            return Some(self.figures[f as usize]);
        }
        let s = self.state;
        let value = fixed::bounded(match f {
            Figure::CurrentPoints => fixed::of(s.current_points)? + self.points,
            Figure::LifetimePoints => fixed::of(s.lifetime_points)? + self.points,
            Figure::LifetimePurchases => fixed::of(s.lifetime_purchases)? + self.counted,
            Figure::SingleOrder => fixed::of(s.best_order())?.max(self.counted),
        })?;
        self.figures[f as usize] = value;
        self.known |= bit;
        Some(value)
    }

    /// Tracker `i` over its own window, with the order counted.
    fn tracker(&mut self, program: &Program, i: usize) -> Option<i128> {
        let bit = 1 << (TRACKER_BIT + i);
        if self.known & bit != 0 {
            return Some(self.trackers[i]);
        }
        let first = program.trackers[i].window_first_day(self.day);
        let base = self.window(i, first)?;
        let value = self.with_order(i, base)?;
        self.trackers[i] = value;
        self.known |= bit;
        Some(value)
    }

    /// `base`, a window of tracker `i` before the order, with the order.
    fn with_order(&self, i: usize, base: i128) -> Option<i128> {
        let t = &self.plan.trackers[i];
        let add = self.contribution(t)?;
        fixed::bounded(match t.aggregate {
            Aggregate::Sum => base + add,
            Aggregate::Max => base.max(add),
        })
    }

    fn window(&self, tracker: usize, first: DayNumber) -> Option<i128> {
        let Some(series) = self.state.trackers.get(tracker) else {
            return Some(0);
        };
        match self.plan.trackers[tracker].aggregate {
            Aggregate::Sum => series.sum_fixed(first, self.day),
            Aggregate::Max => series.max_fixed(first, self.day),
        }
    }

    /// What the whole order adds to tracker `t`.
    fn contribution(&self, t: &TrackerPlan) -> Option<i128> {
        if t.min_order.is_some_and(|min| self.amount < min) {
            return Some(0);
        }
        let category = t.category.as_deref();
        // One pass over the lines: whether any is in the category, and for
        // line-item trackers their total (`Order::line_total`). A product
        // out of range is only reached when a line matches, as the total
        // would be taken then.
        let lines = t.measure == Measure::LineItemPrice;
        let mut matched = category.is_none();
        let mut total = 0i128;
        for item in &self.order.line_items {
            if category.is_none() || item.category.as_deref() == category {
                matched = true;
                if lines {
                    total = total.checked_add(fixed::product(item.price, item.quantity)?)?;
                }
            }
        }
        if !matched {
            return Some(0);
        }
        Some(match t.measure {
            Measure::Visits => fixed::whole(1),
            Measure::Points => self.points,
            Measure::BillAmount => self.amount,
            Measure::GrossBillAmount => {
                fixed::of(self.order.gross_amount.unwrap_or(self.order.amount))?
            }
            Measure::LineItemPrice => fixed::bounded(total)?,
        })
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
    /// Conditions over three criteria, each read left to right.
    const CONDITIONS: [&str; 8] = [
        r#""all""#,
        r#"{"any": 1}"#,
        r#"{"any": 2}"#,
        r#"{"custom": "C AND B OR A"}"#,
        r#"{"custom": "(A AND B) OR C"}"#,
        r#"{"custom": "A OR B AND C"}"#,
        r#"{"custom": "C || A"}"#,
        r#"{"custom": "B AND (C OR A)"}"#,
    ];

    fn program(kind: &str, scale: i64, strict: bool, start: &str) -> Program {
        program_with(kind, scale, strict, start, (4, 2))
    }

    /// `conditions`: Gold's and Diamond's, as indexes into [`CONDITIONS`].
    fn program_with(
        kind: &str,
        scale: i64,
        strict: bool,
        start: &str,
        conditions: (usize, usize),
    ) -> Program {
        let condition =
            |i: usize| serde_json::from_str::<serde_json::Value>(CONDITIONS[i]).unwrap();
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
                    "condition": condition(conditions.0), "upgradeType": kind}},
                {"name": "Diamond", "earnRate": "0.333333", "upgrade": {"criteria": [
                    {"id": "A", "kind": "tracker", "tracker": "gross", "min": min(2000)},
                    {"id": "B", "kind": "tracker", "tracker": "big", "min": min(700), "period": {"days": 45}},
                    {"id": "C", "kind": "currentPoints", "min": min(150)}],
                    "condition": condition(conditions.1), "upgradeType": kind}}]
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
            conditions in (0..CONDITIONS.len(), 0..CONDITIONS.len()),
        ) {
            let start = if late_start { "2026-02-15T00:00:00Z" } else { "2025-01-01T00:00:00Z" };
            let p = program_with(kind, scale, strict, start, conditions);
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

    /// A stored figure far beyond anything orders can reach (a corrupted or
    /// hand-edited state) must not wrap into a small one that the screen
    /// reads as below the threshold.
    #[test]
    fn a_figure_too_large_for_fixed_point_goes_to_the_exact_path() {
        let p = program("lazy", 20, false, "2025-01-01T00:00:00Z");
        let origin: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut state = CustomerState::new(&p, origin);
        state.lifetime_purchases =
            Decimal::from_i128_with_scale(340_282_366_920_938_463_463_374_608, 0);
        let small = order(1, origin, 100, 0, 1);
        assert_eq!(p.screen(&state, &small, 0), None);
        let exact = p.decide_exactly(&state, &small, 0);
        assert_eq!(exact.tier_after, 1, "lifetime purchases reach Silver");
        assert_eq!(p.decide(&state, &small), exact);
    }
}
