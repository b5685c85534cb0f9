//! Which tier an order lands the customer in, and at which rates its points
//! are issued (the reference's lazy, eager and dynamic upgrade types).
//!
//! Eligibility after an order counts the order's points at the rate of the
//! tier the customer holds when it arrives; the upgrade type only decides the
//! rate the order is paid at.

use crate::config::UpgradeType;
use crate::decimal::{round_points, Money, Points};
use crate::evaluate::Evaluator;
use crate::events::Order;
use crate::expression::MetMask;
use crate::program::{Program, TierIndex};
use crate::state::CustomerState;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use smallvec::SmallVec;

/// Part of an order paid at one tier's rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub tier: TierIndex,
    pub amount: Money,
    pub rate: Decimal,
    pub points: Points,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub from: TierIndex,
    pub to: TierIndex,
    pub at: DateTime<Utc>,
    pub upgrade_type: UpgradeType,
    /// The target tier's criteria that held (bit i: criterion i).
    pub met: MetMask,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub tier_before: TierIndex,
    pub tier_after: TierIndex,
    pub segments: SmallVec<[Segment; 1]>,
    pub upgrades: SmallVec<[Upgrade; 1]>,
    pub points: Points,
}

impl Decision {
    /// An order of `amount` paid at `tier`, upgrading nobody.
    pub(crate) fn paid_at(program: &Program, tier: TierIndex, amount: Money) -> Decision {
        let mut decision = Decision {
            tier_before: tier,
            tier_after: tier,
            segments: SmallVec::new(),
            upgrades: SmallVec::new(),
            points: Decimal::ZERO,
        };
        decision.pay(program, tier, amount);
        decision
    }

    fn pay(&mut self, program: &Program, tier: TierIndex, amount: Money) -> Points {
        let points = round_points(amount * program.tiers[tier].earn_rate);
        self.pay_computed(program, tier, amount, points)
    }

    fn pay_computed(
        &mut self,
        program: &Program,
        tier: TierIndex,
        amount: Money,
        points: Points,
    ) -> Points {
        let rate = program.tiers[tier].earn_rate;
        if amount > Decimal::ZERO {
            self.segments.push(Segment {
                tier,
                amount,
                rate,
                points,
            });
            self.points += points;
        }
        points
    }

    fn upgrade(
        &mut self,
        from: TierIndex,
        to: TierIndex,
        order: &Order,
        kind: UpgradeType,
        met: MetMask,
    ) {
        self.upgrades.push(Upgrade {
            from,
            to,
            at: order.placed_at,
            upgrade_type: kind,
            met,
        });
        self.tier_after = to;
    }
}

impl Program {
    /// Decides a completed order for a customer whose tracker series are
    /// aligned with this program. Pure: the state is not changed.
    pub fn decide(&self, state: &CustomerState, order: &Order) -> Decision {
        let from = state.tier_index(self);
        let points = self
            .screen(state, order, from)
            .and_then(crate::fixed::cents_to_decimal);
        if let Some(points) = points {
            // As `pay_computed` would: one segment, unless the order is free.
            let mut segments = SmallVec::new();
            if order.amount.is_sign_positive() && !order.amount.is_zero() {
                segments.push(Segment {
                    tier: from,
                    amount: order.amount,
                    rate: self.tiers[from].earn_rate,
                    points,
                });
            }
            return Decision {
                tier_before: from,
                tier_after: from,
                points: if segments.is_empty() {
                    Decimal::ZERO
                } else {
                    points
                },
                segments,
                upgrades: SmallVec::new(),
            };
        }
        self.decide_exactly(state, order, from)
    }

    /// The decision in `Decimal`, for every order: the one [`Program::decide`]
    /// takes when an order may cross a threshold.
    pub(crate) fn decide_exactly(
        &self,
        state: &CustomerState,
        order: &Order,
        from: TierIndex,
    ) -> Decision {
        let eval = Evaluator::new(self, state, order.placed_at, from, Some(order));
        let mut decision = Decision {
            tier_before: from,
            tier_after: from,
            segments: SmallVec::new(),
            upgrades: SmallVec::new(),
            points: Decimal::ZERO,
        };
        let amount = order.amount;
        // From `start` on, the order is paid at `tier`; `earned` is what the
        // part before `start` earned.
        let mut start = Decimal::ZERO;
        let mut earned = Decimal::ZERO;
        let mut tier = from;
        loop {
            let rest = amount - start;
            let rest_at_tier = round_points(rest * self.tiers[tier].earn_rate);
            let Some((target, met)) = eval.highest_holding(tier, amount, earned + rest_at_tier)
            else {
                decision.pay_computed(self, tier, rest, rest_at_tier);
                break;
            };
            let kind = self.tiers[target]
                .rule
                .as_ref()
                .map_or(UpgradeType::Lazy, |r| r.upgrade_type);
            match kind {
                UpgradeType::Lazy => {
                    decision.pay_computed(self, tier, rest, rest_at_tier);
                    decision.upgrade(tier, target, order, kind, met);
                    break;
                }
                UpgradeType::Eager => {
                    decision.pay(self, target, rest);
                    decision.upgrade(tier, target, order, kind, met);
                    break;
                }
                UpgradeType::Dynamic => {
                    let cut = self.crossing_point(&eval, tier, start, earned, amount);
                    let part_points = round_points((cut - start) * self.tiers[tier].earn_rate);
                    let (next, met) = eval
                        .highest_holding(tier, cut, earned + part_points)
                        .unwrap_or((target, met));
                    decision.pay(self, tier, cut - start);
                    decision.upgrade(tier, next, order, kind, met);
                    earned += part_points;
                    start = cut;
                    tier = next;
                    if start >= amount {
                        break;
                    }
                }
            }
        }
        decision
    }

    /// The smallest prefix of the order, on the amount's smallest unit (a
    /// cent at least), at which some tier above `tier` holds. Every criterion
    /// grows with the prefix, so the condition is monotone in it and a binary
    /// search over the units of `(start, amount]` finds it exactly.
    fn crossing_point(
        &self,
        eval: &Evaluator<'_>,
        tier: TierIndex,
        start: Money,
        earned: Points,
        amount: Money,
    ) -> Money {
        let rate = self.tiers[tier].earn_rate;
        // On exact points: rounding first would move the cut off the exact
        // cent (900 points + 10 % of $999.95 rounds to 1,000.00).
        let holds_at = |prefix: Money| {
            let points = earned + (prefix - start) * rate;
            eval.any_holds(tier, prefix, points)
        };
        if holds_at(start) {
            return start;
        }
        let unit = Decimal::new(1, amount.scale().max(2));
        let units = ((amount - start) / unit).ceil();
        let (mut lo, mut hi) = (Decimal::ZERO, units);
        while hi - lo > Decimal::ONE {
            let mid = ((lo + hi) / Decimal::TWO).floor();
            if holds_at((start + mid * unit).min(amount)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        (start + hi * unit).min(amount)
    }
}
