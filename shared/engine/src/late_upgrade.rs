//! When a late order's upgrade would have come in time.
//!
//! An order placed before orders already counted (a point of sale that
//! uploads days late) is decided against the customer as they stand, so
//! the figures it completes count the orders placed after it too. In time,
//! the threshold was crossed on whichever order completed it: the order
//! itself only when the orders placed up to it were enough, otherwise a
//! later one. Each upgrade is dated at the first instant, from the order's
//! own, at which its tier's rule holds on what remains of the orders placed
//! up to then (the same net replay a return judges upgrades on,
//! [`crate::reversal`]). The points stay as decided: under `lazy` they are
//! what they would have been in time (neither the order nor the one that
//! crossed in time earns the new rate); under `eager` and `dynamic` the
//! new rate was paid on this order's amount rather than on the later one's.

use crate::config::CriterionKind;
use crate::decimal::round_points;
use crate::evaluate::Evaluator;
use crate::events::OrderRecord;
use crate::period::day_of;
use crate::state::CustomerState;
use crate::upgrade::{Decision, Upgrade};
use crate::Program;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use smallvec::SmallVec;

impl Program {
    /// Dates the upgrades of `decision` (decided for `late`, whose orders
    /// placed later are among `orders`) as they would have come in time:
    /// from the tier held before the order, at its instant and then at each
    /// later order's, the customer rises to the highest tier whose rule
    /// holds on what remains of the orders placed up to then. This also
    /// finds upgrades the decision could not see: a window as of the order's
    /// day that the state had already trimmed, or a later order's window
    /// that the late order completes. The decision stands as made when a
    /// rule counts current points (points spent or expired by then are not
    /// in the orders), or when the orders alone reach less than it did.
    pub(crate) fn date_late_upgrades(
        &self,
        decision: &mut Decision,
        late: &OrderRecord,
        orders: &[OrderRecord],
    ) {
        let mut others: Vec<&OrderRecord> = orders
            .iter()
            .filter(|o| o.order_id != late.order_id)
            .collect();
        let any_later = others.iter().any(|o| o.placed_at > late.placed_at);
        if !any_later || self.counts_current_points() {
            return;
        }
        others.sort_by_key(|o| o.placed_at);
        // Its points as the tier held before it pays them: eligibility
        // counts an order's points at that rate (the upgrade type only
        // decides what it is paid), and a higher rate it was paid because
        // later orders let it cross is no part of what held at its instant.
        let mut late = late.clone();
        if !decision.upgrades.is_empty() && late.amount > Decimal::ZERO {
            late.points_awarded =
                round_points(late.amount * self.tiers()[decision.tier_before].earn_rate);
        }
        let late = &late;
        // The orders are counted once each as the instants advance: a late
        // order of a customer with many orders costs one pass, not one per
        // later order.
        let mut net = CustomerState::new(self, late.placed_at);
        self.add_net(&mut net, late);
        let mut counted = 0;
        let mut held = decision.tier_before;
        let mut upgrades: SmallVec<[Upgrade; 1]> = SmallVec::new();
        let mut at = late.placed_at;
        loop {
            while counted < others.len() && others[counted].placed_at <= at {
                self.add_net(&mut net, others[counted]);
                counted += 1;
            }
            let eval = Evaluator::new(self, &net, at, 0, None);
            let lifted = (held + 1..self.tiers().len()).rev().find_map(|to| {
                let met = eval.holds(to, Decimal::ZERO, Decimal::ZERO)?;
                let upgrade_type = self.tiers()[to].rule.as_ref()?.upgrade_type;
                Some(Upgrade {
                    from: held,
                    to,
                    at,
                    upgrade_type,
                    met,
                })
            });
            if let Some(upgrade) = lifted {
                held = upgrade.to;
                upgrades.push(upgrade);
            }
            match others.get(counted) {
                Some(next) => at = next.placed_at,
                None => break,
            }
        }
        if held >= decision.tier_after {
            decision.tier_after = held;
            decision.upgrades = upgrades;
        }
    }

    /// Whether a late order that upgrades nobody as decided may still, in
    /// time, have upgraded: by its own window or a later order's, over days
    /// the state no longer keeps. The series keep only the days a window
    /// ending on the customer's latest day reads, so every window ending on
    /// an earlier day (the order's own, and later orders' that reach back
    /// to it) may miss days. Then only the orders can tell, and the dating
    /// replay on them decides; a program whose rules above the tier held
    /// count no tracker never needs them (its lifetime figures, counting
    /// every order, would have upgraded the order as decided).
    pub(crate) fn windows_may_miss_days(
        &self,
        state: &CustomerState,
        placed: DateTime<Utc>,
    ) -> bool {
        let Some(last) = state.last_event_at else {
            return false;
        };
        let used = self
            .trackers_above
            .get(state.tier_index(self))
            .copied()
            .unwrap_or(0);
        let (first, last) = (day_of(placed), day_of(last));
        first < last
            && self
                .trackers()
                .iter()
                .enumerate()
                .any(|(i, t)| used & (1 << i) != 0 && t.kept_from(first) < t.kept_from(last))
    }

    pub(crate) fn counts_current_points(&self) -> bool {
        self.tiers()
            .iter()
            .filter_map(|t| t.rule.as_ref())
            .any(|rule| {
                rule.criteria
                    .iter()
                    .any(|c| c.kind == CriterionKind::CurrentPoints)
            })
    }
}
