//! Why a customer is or is not in a tier: each criterion's required and
//! actual value and truth, and the tier's condition evaluated step by step,
//! strictly left to right as the reference reads it. For a past order, also
//! what that order would have needed to upgrade: the smallest amount, or why
//! no amount could.

use crate::config::{ConditionConfig, CriterionKind, Measure};
use crate::decimal::{round_points, Money, Points};
use crate::evaluate::{Evaluator, OrderFacts};
use crate::events::{OrderRecord, MAX_FIGURE};
use crate::expression::{self, Expr};
use crate::net_walk::NetWalk;
use crate::program::{Criterion, Program, TierIndex};
use crate::redeemed::spent_by;
use crate::reversal::RuleBook;
use crate::state::CustomerState;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct CriterionTruth {
    pub id: String,
    pub kind: CriterionKind,
    /// `op: gt`: the value must be more than `required`.
    pub strict: bool,
    pub tracker: Option<String>,
    pub required: Decimal,
    pub actual: Decimal,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub tier: TierIndex,
    pub criteria: Vec<CriterionTruth>,
    /// The condition as written out with criterion ids, e.g. `(A AND B) OR C`.
    pub condition: String,
    /// The condition with each id replaced by its truth, then reduced one
    /// operation at a time from the left, ending in `true` or `false`.
    pub evaluation: Vec<String>,
    pub qualifies: bool,
}

/// What a past order would have needed to reach a tier.
#[derive(Debug, Clone, PartialEq)]
pub enum Needed {
    /// The customer held the tier (or a higher one) before the order.
    HeldBefore,
    /// The order as placed met the tier's condition.
    Met,
    /// The smallest order amount that would have met it.
    Amount { smallest: Money, extra: Money },
    /// No amount up to the largest accepted would have: why, per criterion.
    NoAmount { reasons: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderExplanation {
    /// The config version the order was decided under (whose rules judge it).
    pub config_version: u64,
    pub tier_before: TierIndex,
    /// The tier's condition as of the order, with the order counted.
    pub explanation: Explanation,
    pub needed: Needed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainError {
    UnknownTier(String),
    /// The base tier: nothing to qualify for.
    NoRule(String),
    /// The customer is in the top tier and none was asked.
    NoTierAbove(String),
}

impl std::fmt::Display for ExplainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExplainError::UnknownTier(t) => write!(f, "the program has no tier `{t}`"),
            ExplainError::NoRule(t) => {
                write!(f, "tier `{t}` is the base tier: it has no upgrade rule")
            }
            ExplainError::NoTierAbove(t) => {
                write!(f, "`{t}` is the top tier; name a tier to explain")
            }
        }
    }
}

impl Program {
    /// The tier to explain: the one asked, or the next above `held`.
    pub fn tier_to_explain(
        &self,
        asked: Option<&str>,
        held: TierIndex,
    ) -> Result<TierIndex, ExplainError> {
        let tier = match asked {
            Some(name) => self
                .tier_index(name)
                .ok_or_else(|| ExplainError::UnknownTier(name.to_owned()))?,
            None if held + 1 < self.tiers.len() => held + 1,
            None => return Err(ExplainError::NoTierAbove(self.tier_name(held).to_owned())),
        };
        match self.tiers[tier].rule {
            Some(_) => Ok(tier),
            None => Err(ExplainError::NoRule(self.tier_name(tier).to_owned())),
        }
    }

    /// Tier `tier`'s condition for the customer at `at` (after any due
    /// expiry the caller applied). `tier` must have a rule.
    pub fn explain(
        &self,
        state: &CustomerState,
        tier: TierIndex,
        at: DateTime<Utc>,
    ) -> Explanation {
        let eval = Evaluator::new(self, state, at, 0, None);
        self.explained(&eval, tier, Decimal::ZERO, Decimal::ZERO)
    }

    fn explained(
        &self,
        eval: &Evaluator<'_>,
        tier: TierIndex,
        prefix: Money,
        points: Decimal,
    ) -> Explanation {
        let Some(rule) = self.tiers[tier].rule.as_ref() else {
            return Explanation {
                tier,
                criteria: Vec::new(),
                condition: String::new(),
                evaluation: Vec::new(),
                qualifies: false,
            };
        };
        let criteria: Vec<CriterionTruth> = rule
            .criteria
            .iter()
            .map(|c| {
                let actual = eval.value(c, prefix, points);
                CriterionTruth {
                    id: c.id.clone(),
                    kind: c.kind,
                    strict: c.strict,
                    tracker: c.tracker.map(|t| self.trackers[t].id.clone()),
                    required: c.min,
                    actual: actual.normalize(),
                    met: c.met_by(actual),
                }
            })
            .collect();
        let ids: Vec<&str> = rule.criteria.iter().map(|c| c.id.as_str()).collect();
        let truths: Vec<bool> = criteria.iter().map(|c| c.met).collect();
        let condition = self.condition_of(tier, &ids);
        let met = truths
            .iter()
            .enumerate()
            .fold(0u8, |m, (i, t)| if *t { m | (1 << i) } else { m });
        Explanation {
            tier,
            condition: condition.render(&ids),
            evaluation: condition.evaluate(&ids, &truths),
            criteria,
            qualifies: rule.table.holds(met),
        }
    }

    fn condition_of(&self, tier: TierIndex, ids: &[&str]) -> Condition {
        let labels = || (0..ids.len()).map(Condition::Label);
        let config = self
            .config()
            .tiers
            .get(tier)
            .and_then(|t| t.upgrade.as_ref())
            .map(|u| &u.condition);
        match config {
            Some(ConditionConfig::Any(k)) => Condition::AtLeast(*k, labels().collect()),
            Some(ConditionConfig::Custom(source)) => match expression::parse(source, ids) {
                Ok(expr) => Condition::from(&expr),
                // Validated when stored: unreachable, and "all" is the
                // conservative reading.
                Err(_) => Condition::all(ids.len()),
            },
            _ => Condition::all(ids.len()),
        }
    }

    /// What `record` would have needed to reach tier `asked` (default: the
    /// one above the tier held before it), judged under the rules it was
    /// decided under against what remains of the orders placed before it.
    pub fn explain_order(
        &self,
        record: &OrderRecord,
        orders: &[OrderRecord],
        book: &dyn RuleBook,
        asked: Option<&str>,
    ) -> Result<OrderExplanation, ExplainError> {
        self.explain_order_holding(None, record, orders, book, asked)
    }

    /// [`Program::explain_order`] for `customer`: current points before
    /// the order are those a return's judgment replays (`reversal.rs`):
    /// what remains of the earlier orders, less what the customer redeemed
    /// before it where their redemptions were read, and less what had
    /// expired by then where points expire as they did all along.
    pub fn explain_order_of(
        &self,
        customer: &CustomerState,
        record: &OrderRecord,
        orders: &[OrderRecord],
        book: &dyn RuleBook,
        asked: Option<&str>,
    ) -> Result<OrderExplanation, ExplainError> {
        let at = record.placed_at;
        let mut earlier: Vec<&OrderRecord> =
            orders.iter().filter(|o| o.decided_before(record)).collect();
        earlier.sort_by_key(|o| o.placed_at);
        let mut walk = NetWalk::new(self, &earlier, at, customer)
            .counting_expiry(self.expired_as_now(customer, &earlier, book));
        while walk.step().is_some() {}
        walk.spend_before(spent_by(at, record.after_redemption));
        let current = walk.net.current_points;
        self.explain_order_holding(Some(current), record, orders, book, asked)
    }

    /// Judged with `current` points before the order (None: what remains
    /// of the earlier orders, as lifetime points).
    fn explain_order_holding(
        &self,
        current: Option<Points>,
        record: &OrderRecord,
        orders: &[OrderRecord],
        book: &dyn RuleBook,
        asked: Option<&str>,
    ) -> Result<OrderExplanation, ExplainError> {
        let rules = self.rules_for(record.config_version, book);
        let before = rules.tier_index(&record.tier_before).unwrap_or(0);
        let tier = rules.tier_to_explain(asked, before)?;
        let at = record.placed_at;
        let earlier: Vec<&OrderRecord> =
            orders.iter().filter(|o| o.decided_before(record)).collect();
        let mut state = crate::reversal::net_state_at(rules, &earlier, at);
        if let Some(current) = current {
            state.current_points = current;
        }
        let rate = rules.tiers[before].earn_rate;
        let holds_at = |amount: Money| {
            let facts = OrderFacts::of_record(rules, record, amount);
            let eval = Evaluator::with_facts(rules, &state, at, Some(facts));
            eval.decides(tier, amount, round_points(amount * rate))
        };
        let explanation = {
            let facts = OrderFacts::of_record(rules, record, record.amount);
            let eval = Evaluator::with_facts(rules, &state, at, Some(facts));
            rules.explained(
                &eval,
                tier,
                record.amount,
                round_points(record.amount * rate),
            )
        };
        let largest = Decimal::from(MAX_FIGURE);
        let needed = if tier <= before {
            Needed::HeldBefore
        } else if holds_at(record.amount) {
            Needed::Met
        } else if record.amount >= largest || !holds_at(largest) {
            let facts = OrderFacts::of_record(rules, record, largest);
            let eval = Evaluator::with_facts(rules, &state, at, Some(facts));
            let points = round_points(largest * rate);
            let reasons = rules.tiers[tier]
                .rule
                .iter()
                .flat_map(|r| r.criteria.iter())
                .filter(|c| !c.met_by(eval.value(c, largest, points)))
                .map(|c| rules.why_no_amount(c, record, before, &eval, largest, points))
                .collect();
            Needed::NoAmount { reasons }
        } else {
            let smallest = smallest_holding(record.amount, largest, holds_at);
            Needed::Amount {
                smallest,
                extra: smallest - record.amount,
            }
        };
        Ok(OrderExplanation {
            config_version: rules.version(),
            tier_before: before,
            explanation,
            needed,
        })
    }

    fn why_no_amount(
        &self,
        c: &Criterion,
        record: &OrderRecord,
        before: TierIndex,
        eval: &Evaluator<'_>,
        largest: Money,
        points: Decimal,
    ) -> String {
        let id = &c.id;
        let actual = eval.value(c, largest, points).normalize();
        let required = c.min.normalize();
        let points_kind = matches!(
            c.kind,
            CriterionKind::CurrentPoints | CriterionKind::LifetimePoints
        );
        if matches!(
            c.kind,
            CriterionKind::LifetimePurchases | CriterionKind::SingleOrder
        ) && !record.counts_for_purchases
        {
            return format!(
                "{id}: the order was placed before the program's start date, so it counts for no purchases"
            );
        }
        let earns_nothing = self.tiers[before].earn_rate.is_zero();
        if let Some(t) = c.tracker {
            let tracker = &self.trackers[t];
            let name = &tracker.id;
            if tracker.measure == Measure::Visits {
                return format!(
                    "{id}: tracker `{name}` counts visits ({actual} of {required} with this one); an order counts once whatever its amount"
                );
            }
            if let Some(category) = &tracker.category {
                if record.category_total(category).is_none() {
                    return format!(
                        "{id}: tracker `{name}` counts category `{category}` and the order has no line item in it"
                    );
                }
            }
            if tracker.measure == Measure::Points && earns_nothing {
                return format!(
                    "{id}: tier `{}` earns no points, so no amount adds to tracker `{name}`",
                    self.tier_name(before)
                );
            }
            if matches!(
                tracker.measure,
                Measure::GrossBillAmount | Measure::LineItemPrice
            ) && (record.amount.is_zero() || actual.is_zero())
            {
                return format!(
                    "{id}: tracker `{name}` counts the order's line items or gross amount, which are 0 for this order"
                );
            }
        }
        if points_kind && earns_nothing {
            return format!(
                "{id}: tier `{}` earns no points, so no amount earns any",
                self.tier_name(before)
            );
        }
        format!(
            "{id}: {actual} of {required} even with an order of {largest}, the largest accepted"
        )
    }
}

/// The smallest amount in `(from, to]`, on the cent (or the order's own
/// finer unit), at which `holds` turns true. `holds` is monotone in the
/// amount (every criterion grows with it) and true at `to`.
fn smallest_holding(from: Money, to: Money, holds: impl Fn(Money) -> bool) -> Money {
    let unit = Decimal::new(1, from.scale().max(2));
    let units = ((to - from) / unit).ceil();
    let (mut lo, mut hi) = (Decimal::ZERO, units);
    while hi - lo > Decimal::ONE {
        let mid = lo + ((hi - lo) / Decimal::TWO).floor();
        if holds((from + mid * unit).min(to)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (from + hi * unit).min(to)
}

/// A condition as a tree the evaluation can be written out from.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Label(usize),
    Value(bool),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    AtLeast(u32, Vec<Condition>),
}

impl From<&Expr> for Condition {
    fn from(expr: &Expr) -> Self {
        match expr {
            Expr::Label(i) => Condition::Label(*i),
            Expr::And(a, b) => Condition::And(Box::new((&**a).into()), Box::new((&**b).into())),
            Expr::Or(a, b) => Condition::Or(Box::new((&**a).into()), Box::new((&**b).into())),
        }
    }
}

impl Condition {
    /// `A AND B AND C`, read left to right.
    fn all(n: usize) -> Self {
        (1..n).fold(Condition::Label(0), |acc, i| {
            Condition::And(Box::new(acc), Box::new(Condition::Label(i)))
        })
    }

    fn is_binary(&self) -> bool {
        matches!(self, Condition::And(..) | Condition::Or(..))
    }

    /// Left to right needs no parentheses on a left operand; they are
    /// written where the operator changes all the same, so that a reader
    /// used to AND binding first is not misled. A binary right operand is
    /// always a parenthesised group.
    fn render(&self, ids: &[&str]) -> String {
        let side = |c: &Condition, parens: bool| {
            if parens {
                format!("({})", c.render(ids))
            } else {
                c.render(ids)
            }
        };
        match self {
            Condition::Label(i) => ids.get(*i).copied().unwrap_or("?").to_owned(),
            Condition::Value(v) => v.to_string(),
            Condition::And(a, b) => format!(
                "{} AND {}",
                side(a, matches!(**a, Condition::Or(..))),
                side(b, b.is_binary())
            ),
            Condition::Or(a, b) => format!(
                "{} OR {}",
                side(a, matches!(**a, Condition::And(..))),
                side(b, b.is_binary())
            ),
            Condition::AtLeast(k, items) => {
                let items: Vec<String> = items.iter().map(|c| c.render(ids)).collect();
                format!("at least {k} of ({})", items.join(", "))
            }
        }
    }

    fn substitute(&self, truths: &[bool]) -> Condition {
        match self {
            Condition::Label(i) => Condition::Value(truths.get(*i).copied().unwrap_or(false)),
            Condition::Value(v) => Condition::Value(*v),
            Condition::And(a, b) => Condition::And(
                Box::new(a.substitute(truths)),
                Box::new(b.substitute(truths)),
            ),
            Condition::Or(a, b) => Condition::Or(
                Box::new(a.substitute(truths)),
                Box::new(b.substitute(truths)),
            ),
            Condition::AtLeast(k, items) => {
                Condition::AtLeast(*k, items.iter().map(|c| c.substitute(truths)).collect())
            }
        }
    }

    /// Reduces the leftmost operation whose operands are all values; false
    /// once the whole condition is a value.
    fn reduce_once(&mut self) -> bool {
        let value = |c: &Condition| match c {
            Condition::Value(v) => Some(*v),
            _ => None,
        };
        let reduced = match self {
            Condition::Label(_) | Condition::Value(_) => return false,
            Condition::And(a, b) | Condition::Or(a, b) => {
                if a.reduce_once() || b.reduce_once() {
                    return true;
                }
                let (Some(x), Some(y)) = (value(a), value(b)) else {
                    return false;
                };
                if matches!(self, Condition::And(..)) {
                    x && y
                } else {
                    x || y
                }
            }
            Condition::AtLeast(k, items) => {
                for item in items.iter_mut() {
                    if item.reduce_once() {
                        return true;
                    }
                }
                let met = items.iter().filter(|c| value(c) == Some(true)).count();
                met as u64 >= u64::from(*k)
            }
        };
        *self = Condition::Value(reduced);
        true
    }

    /// The written-out evaluation: the condition, its truths, each
    /// reduction, the outcome.
    fn evaluate(&self, ids: &[&str], truths: &[bool]) -> Vec<String> {
        let mut steps = vec![self.render(ids)];
        let mut current = self.substitute(truths);
        loop {
            let text = current.render(ids);
            if steps.last() != Some(&text) {
                steps.push(text);
            }
            if !current.reduce_once() {
                break;
            }
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: [&str; 3] = ["A", "B", "C"];

    fn steps(source: &str, truths: [bool; 3]) -> Vec<String> {
        let expr = expression::parse(source, &ABC).unwrap();
        Condition::from(&expr).evaluate(&ABC, &truths)
    }

    #[test]
    fn a_custom_condition_is_written_out_left_to_right() {
        assert_eq!(
            steps("(A AND B) OR C", [true, false, false]),
            [
                "(A AND B) OR C",
                "(true AND false) OR false",
                "false OR false",
                "false"
            ]
        );
        // The reference: `A OR B AND C` is `(A OR B) AND C`.
        assert_eq!(
            steps("A OR B AND C", [true, false, false]),
            [
                "(A OR B) AND C",
                "(true OR false) AND false",
                "true AND false",
                "false"
            ]
        );
        assert_eq!(
            steps("A AND (B OR C)", [true, false, true]),
            [
                "A AND (B OR C)",
                "true AND (false OR true)",
                "true AND true",
                "true"
            ]
        );
    }

    #[test]
    fn all_and_any_are_written_out_too() {
        assert_eq!(
            Condition::all(3).evaluate(&ABC, &[true, true, false]),
            [
                "A AND B AND C",
                "true AND true AND false",
                "true AND false",
                "false"
            ]
        );
        let any = Condition::AtLeast(2, (0..3).map(Condition::Label).collect());
        assert_eq!(
            any.evaluate(&ABC, &[true, false, true]),
            [
                "at least 2 of (A, B, C)",
                "at least 2 of (true, false, true)",
                "true"
            ]
        );
        assert_eq!(Condition::all(1).evaluate(&ABC, &[true]), ["A", "true"]);
    }

    #[test]
    fn the_smallest_amount_is_found_on_the_cent() {
        let threshold = Decimal::new(100_001, 2);
        let found = smallest_holding(Decimal::new(300, 0), Decimal::from(MAX_FIGURE), |a| {
            a >= threshold
        });
        assert_eq!(found, threshold);
        let found = smallest_holding(Decimal::new(3005, 3), Decimal::new(10, 0), |a| {
            a >= Decimal::new(4, 0)
        });
        assert_eq!(found, Decimal::new(4, 0));
    }
}
