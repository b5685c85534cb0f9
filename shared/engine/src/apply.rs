//! Applying events to a customer's state. Each function either changes the
//! state completely or returns an error having changed nothing.

use crate::config::{Aggregate, Measure, SpentPoints};
use crate::decimal::{Money, Points};
use crate::error::EngineError;
use crate::evaluate::Evaluator;
use crate::events::{Order, OrderRecord, OrderStatus, Redemption, Return};
use crate::expired::Cover;
use crate::held_then::{others_as_they_stood, HeldThen};
use crate::period::{day_of, DayNumber};
use crate::program::{Program, TierIndex, Tracker};
use crate::rejudge::Late;
use crate::reversal::InTime;
use crate::reversal::{ReturnHistory, RuleBook};
use crate::state::{CustomerState, TierChange};
use crate::upgrade::Decision;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub struct AppliedOrder {
    pub decision: Decision,
    pub record: OrderRecord,
    /// Decided without the customer's other orders, though they would
    /// date or decide it as in time: an order placed before the customer's
    /// latest event that upgrades, that crossed a tier the customer reached
    /// since from the lower tier held then, or whose day a later order's
    /// window may have crossed with (`late_upgrade.rs`). Apply it again, on
    /// the state as it was, with [`Program::apply_order_among`].
    pub wants_orders: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downgrade {
    pub from: TierIndex,
    pub to: TierIndex,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppliedReturn {
    pub returned: Money,
    pub points_reversed: Points,
    /// Points the return could not take back under a `withinBalance` policy.
    pub points_shortfall: Points,
    pub tier_before: TierIndex,
    pub tier_after: TierIndex,
    /// From the tier before to the tier after, when they differ.
    pub downgrade: Option<Downgrade>,
    /// Every tier change the return made: one per upgrade it reversed,
    /// highest first (empty when the tier stands).
    pub downgrades: Vec<Downgrade>,
}

/// Orders one customer may count. With every figure of an order at most
/// 10^15 (10^18 points at the highest earn rate), no total of a customer can
/// pass 10^27, inside `Decimal`'s 7.9 x 10^28: no sum can overflow.
pub const MAX_ORDERS_PER_CUSTOMER: u64 = 1_000_000_000;

/// The share of `value` that `returned` out of `amount` takes back: exact
/// once everything is returned, so a whole return restores every figure.
fn taken(value: Decimal, returned: Money, amount: Money) -> Decimal {
    if returned.is_zero() {
        Decimal::ZERO
    } else if returned >= amount {
        value
    } else {
        crate::decimal::share(value, returned, amount).round_dp(value.scale().max(2))
    }
}

/// What the order contributes to `tracker` once `returned` of it is gone.
pub(crate) fn kept_contribution(
    tracker: &Tracker,
    record: &OrderRecord,
    returned: Money,
) -> Decimal {
    // An order the returns bring below the tracker's minimum no longer
    // qualifies.
    if tracker
        .min_order
        .is_some_and(|min| record.amount - returned.min(record.amount) < min)
    {
        return Decimal::ZERO;
    }
    let category_total = match &tracker.category {
        Some(c) => match record.category_total(c) {
            Some(total) => total,
            None => return Decimal::ZERO,
        },
        None => record.line_items_total,
    };
    let keep = |v: Decimal| v - taken(v, returned, record.amount);
    match tracker.measure {
        // A free order stays a visit: nothing of it can be returned.
        Measure::Visits if returned > Decimal::ZERO && returned >= record.amount => Decimal::ZERO,
        Measure::Visits => Decimal::ONE,
        Measure::BillAmount => record.amount - returned.min(record.amount),
        Measure::GrossBillAmount => keep(record.gross_amount),
        Measure::LineItemPrice => keep(category_total),
        Measure::Points => {
            record.points_awarded - taken(record.points_awarded, returned, record.amount)
        }
    }
}

/// Instants a late return walks back to find when the customer reached the
/// tier it lands on; each is a replay of the customer's orders.
const REACHED_LOOKBACK: usize = 16;

/// Events after a late return's instant it replays the customer's orders
/// at, to date its move as in time; a return later than that is dated
/// by the upgrades it undoes (README).
const LATE_RETURN_INSTANTS: usize = 32;

impl Program {
    /// Whether the program takes this order at all, whatever its status: a
    /// well-formed order in the program's currency.
    pub fn accepts(&self, order: &Order) -> Result<(), EngineError> {
        order.check()?;
        match &order.currency {
            Some(currency) if currency != self.currency() => Err(EngineError::CurrencyMismatch {
                expected: self.currency().to_owned(),
                got: currency.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Cancelling a completed order returns what remains of it, effective
    /// `at` (never before the order); None when nothing remains.
    pub fn cancel_completed(
        &self,
        state: &mut CustomerState,
        record: &mut OrderRecord,
        at: DateTime<Utc>,
        history: &ReturnHistory<'_>,
    ) -> Result<Option<AppliedReturn>, EngineError> {
        if record.remaining() <= Decimal::ZERO {
            return Ok(None);
        }
        let ret = Return {
            // Short: the order's own id may already use the length limit.
            return_id: String::from("cancellation"),
            order_id: record.order_id.clone(),
            customer_id: String::from("-"),
            returned_at: at.max(record.placed_at),
            amount: None,
        };
        self.apply_return_judged(state, record, &ret, history)
            .map(Some)
    }

    /// Applies a completed order. The customer's series must be aligned.
    /// An upgrade is dated at the order's `placedAt`; see
    /// [`Program::apply_order_among`] for an order placed before others.
    pub fn apply_order(
        &self,
        state: &mut CustomerState,
        order: &Order,
    ) -> Result<AppliedOrder, EngineError> {
        self.apply_order_among(state, order, &[])
    }

    /// [`Program::apply_order`] with the customer's other orders (their
    /// stored records): an upgrade of an order placed before some of them
    /// is dated when it would have come in time (`late_upgrade.rs`), and an
    /// order placed before the customer's latest upgrade is decided on the
    /// orders placed up to it (`held_then.rs`).
    pub fn apply_order_among(
        &self,
        state: &mut CustomerState,
        order: &Order,
        orders: &[OrderRecord],
    ) -> Result<AppliedOrder, EngineError> {
        self.accepts(order)?;
        if order.status != OrderStatus::Completed {
            return Err(EngineError::NotCompleted);
        }
        if state.orders_applied >= MAX_ORDERS_PER_CUSTOMER {
            return Err(EngineError::OutOfRange {
                field: "customerId".into(),
                message: format!("a customer counts at most {MAX_ORDERS_PER_CUSTOMER} orders"),
            });
        }
        // Points due to expire by the order's time no longer count toward
        // its decision, whether or not the scheduled job has run.
        self.expire(state, order.placed_at);
        let late = state
            .last_event_at
            .is_some_and(|last| order.placed_at < last);
        let arrived = state.tier_index(self);
        state.saw_event(order.placed_at);
        if order.placed_at < state.joined() {
            // In time it was the customer's first event: `programJoin`
            // anniversaries count from it.
            state.joined_at = Some(order.placed_at);
        }
        let mut rewound = self
            .lapses
            .then(|| self.rewind_for(state, order.placed_at))
            .flatten();
        let mut held_then = match rewound {
            Some(_) => None,
            None => self.step_back_for(state, order.placed_at),
        };
        // Held a higher tier at its instant, which returns made since took
        // away (`down_since.rs`).
        // (At the instant of the latest return too: it came after the order.)
        let moved_down = match (&rewound, &held_then) {
            (None, None) if late || state.returned_at_or_after(order.placed_at) => {
                self.moved_down_since(state, order.placed_at)
            }
            _ => None,
        };
        let moved_down_sign = moved_down.is_some();
        let mut undone = None;
        let mut decision = self.decide(state, order);
        if let Some(moved) = moved_down.filter(|_| !orders.is_empty()) {
            if let Some((then, un)) = self.decided_before_moves_down(state, order, orders, moved) {
                decision = then;
                undone = Some(un);
            }
        }
        let mut crossed_since = false;
        let mut decided_then = false;
        // An order placed before (or at) a return already made, of a
        // customer whose tier has not changed since its instant (nor at
        // it: a return of that instant came after it), that on
        // the figures as they stand upgrades nobody: on the orders as they
        // stood then it may have crossed, and the return undone the
        // crossing (in time: up at the order, down at the return).
        let returns_since = rewound.is_none()
            && held_then.is_none()
            && decision.upgrades.is_empty()
            && state.returned_at_or_after(order.placed_at)
            && state.history.iter().all(|c| c.at < order.placed_at)
            && state
                .judged
                .as_ref()
                .is_none_or(|j| order.placed_at >= j.at);
        // The other orders as they stood at its instant, sorted.
        let as_they_stood: Vec<Cow<'_, OrderRecord>> = match returns_since {
            true => others_as_they_stood(orders, order),
            false => Vec::new(),
        };
        // Decided and dated so only when the returns made since take the
        // customer back below what it reached, with no order placed after
        // them that could have lifted them again in time (that walk through
        // the returns and orders after it is left to the figures as they
        // stand, README "Returns made since").
        let mut dated_before_returns = false;
        if returns_since {
            if let Some(h) = HeldThen::at_tier_held_now(self, state) {
                if let Some(mut then) = self.decided_before_returns(&h, order, &as_they_stood) {
                    let record = self.record_of(state, order, &then);
                    self.date_late_upgrades(&mut then, &record, &as_they_stood);
                    if then.tier_after > decision.tier_after
                        && nothing_placed_after_the_returns(order, orders)
                        && self.taken_back_below(state, &record, orders, then.tier_after)
                    {
                        decision = then;
                        decided_then = true;
                        dated_before_returns = true;
                        held_then = Some(h);
                    }
                }
            }
        } else if let Some(h) = &mut held_then {
            if let Some(then) = self.decided_among(h, order, orders) {
                decision = then;
                decided_then = true;
            }
            h.restore(state);
            crossed_since = h.keep_upgrades_past(&mut decision);
        }
        // An order that upgrades past the tier held before the end started
        // the new tier's validity then, so that end never came: the order
        // earns and upgrades as decided at the tier held then, and the
        // customer holds the new tier from the order on. The change is
        // told from the tier held now, the one the end's move left.
        let superseded = match rewound.take() {
            Some(r) if !decision.upgrades.is_empty() => Some(r.into_tier()),
            kept => {
                rewound = kept;
                None
            }
        };
        let before_an_end = state
            .judged
            .as_ref()
            .is_some_and(|j| order.placed_at < j.at);
        // An admin tier set made after the order's instant stands, as it
        // would have over the order in time: the order counts in the
        // figures and is paid as decided, but moves no tier, and no dating
        // replay (which knows nothing of admin sets) runs for it.
        let admin_since = late
            && rewound.is_none()
            && superseded.is_none()
            && state
                .history
                .iter()
                .any(|c| c.admin && c.at > order.placed_at);
        if admin_since {
            decision.upgrades.clear();
            decision.tier_after = state.tier_index(self);
        }
        let could_date = superseded.is_none() && !before_an_end && !admin_since && undone.is_none();
        if !orders.is_empty() && could_date && !dated_before_returns {
            // The record as `record_of` makes it, before the upgrades are
            // dated (it reads no instant of theirs).
            let record = self.record_of(state, order, &decision);
            self.date_late_upgrades(&mut decision, &record, orders);
            if let Some(h) = &held_then {
                h.keep_upgrades_past(&mut decision);
            }
        }
        let mut record = self.record_of(state, order, &decision);
        if let Some(h) = &held_then {
            h.mark(self, &mut record, &decision);
        }
        let day = day_of(order.placed_at);
        if record.counts_for_purchases {
            state.lifetime_purchases += order.amount;
            state.set_best_order(&order.order_id, order.amount);
        }
        state.add_points(day, decision.points);
        self.count_in_trackers(state, &record, None, &[]);
        let was_superseded = superseded.is_some();
        let mut held_now = superseded;
        for u in &decision.upgrades {
            let criteria = self.tiers[u.to]
                .rule
                .as_ref()
                .map(|rule| rule.ids(u.met, true))
                .unwrap_or_default();
            state.record_change(
                TierChange {
                    from: held_now
                        .take()
                        .unwrap_or_else(|| self.tier_name(u.from).to_owned()),
                    to: self.tier_name(u.to).to_owned(),
                    at: u.at,
                    cause: format!("order {}", order.order_id),
                    config_version: Some(self.version()),
                    admin: false,
                },
                criteria,
            );
        }
        if let Some(undone) = undone {
            // The record tells what the order decided at its instant.
            record.tier_before = self.tier_name(undone.held_then()).to_owned();
            self.undo_moves_down(state, undone);
            decision.tier_after = state.tier_index(self);
        }
        if decided_then && !decision.upgrades.is_empty() {
            let upgraded_at = decision.upgrades.last().map_or(order.placed_at, |u| u.at);
            self.returned_since(state, &record, orders, arrived, upgraded_at);
            decision.tier_after = state.tier_index(self);
            record.tier_after = state.tier.clone();
        }
        state.orders_applied += 1;
        // Decided at a lower tier held then, on windows that may miss days:
        // only the orders tell whether it crossed at its own instant.
        let then_misses_days = held_then
            .as_ref()
            .is_some_and(|h| self.windows_miss_days(h.then, state, order.placed_at));
        // Neither dating nor deciding among the orders can use them when a
        // rule counts current points (spent and expired points are not in
        // the orders).
        let wants_orders = (late || returns_since || moved_down_sign)
            && orders.is_empty()
            && !self.counts_current_points()
            && (crossed_since
                || then_misses_days
                || returns_since
                || moved_down_sign
                || could_date
                    && (!decision.upgrades.is_empty()
                        || self.later_windows_may_cross(state, order.placed_at)));
        let mut applied = AppliedOrder {
            decision,
            record,
            wants_orders,
        };
        if let Some(r) = rewound {
            r.restore(state);
        }
        if was_superseded {
            // The new tier's period may have ended by now (an order later
            // than its validity): judged as the job would have.
            if let Some(now) = state.last_event_at {
                self.expire(state, now);
            }
        }
        if self.lapses {
            let late = state
                .judged
                .as_ref()
                .is_some_and(|j| order.placed_at < j.at);
            if late {
                self.rejudge_late(state, Late::Order(&applied.record), order.placed_at);
                // Decided at the tier held then; after it, the customer
                // holds what the end, judged again, says.
                let tier = state.tier_index(self);
                applied.decision.tier_after = tier;
                applied.record.tier_after = self.tier_name(tier).to_owned();
            } else {
                self.recover_in_grace(state, order.placed_at);
            }
        }
        Ok(applied)
    }

    pub(crate) fn record_of(
        &self,
        state: &CustomerState,
        order: &Order,
        decision: &Decision,
    ) -> OrderRecord {
        let mut categories: Vec<(String, Money)> = Vec::new();
        // Summed here as `Order::line_total` sums them (the same products
        // added in the same order, so the same figure), instead of
        // multiplying every line again.
        let mut line_items_total = Decimal::ZERO;
        for item in &order.line_items {
            let line = item.price * item.quantity;
            line_items_total += line;
            if let Some(c) = &item.category {
                match categories.iter_mut().find(|(name, _)| name == c) {
                    Some((_, total)) => *total += line,
                    None => categories.push((c.clone(), line)),
                }
            }
        }
        OrderRecord {
            order_id: order.order_id.clone(),
            placed_at: order.placed_at,
            amount: order.amount,
            gross_amount: order.gross_amount.unwrap_or(order.amount),
            line_items_total,
            categories,
            counts_for_purchases: order.placed_at >= self.start_date,
            points_awarded: decision.points,
            returned_amount: Decimal::ZERO,
            returns: Vec::new(),
            points_reversed: Decimal::ZERO,
            tier_before: state.tier.clone(),
            tier_after: self.tier_name(decision.tier_after).to_owned(),
            config_version: Some(self.version()),
        }
    }

    /// Moves the record's contribution in every tracker from what it was with
    /// `returned_before` (None: not counted yet) to what it is now.
    /// `others` are the customer's other orders (at least those of the
    /// record's day): a return that shrinks a day's largest order leaves the
    /// day's maximum to the largest of what remains of them.
    pub(crate) fn count_in_trackers(
        &self,
        state: &mut CustomerState,
        record: &OrderRecord,
        returned_before: Option<Money>,
        others: &[OrderRecord],
    ) {
        let day = day_of(record.placed_at);
        for (i, tracker) in self.trackers.iter().enumerate() {
            let before =
                returned_before.map_or(Decimal::ZERO, |r| kept_contribution(tracker, record, r));
            let after = kept_contribution(tracker, record, record.returned_amount);
            let series = &mut state.trackers[i];
            match (tracker.aggregate, returned_before) {
                (Aggregate::Sum, _) => series.add(day, after - before),
                (Aggregate::Max, None) => series.raise_max(day, after),
                (Aggregate::Max, Some(_)) => {
                    let held = series.day_max(day);
                    // Nothing to work out when the order did not lead its
                    // day, or when the day has left every window already.
                    if after >= before || before < held || held.is_zero() {
                        continue;
                    }
                    let rest = others
                        .iter()
                        .filter(|o| o.order_id != record.order_id && day_of(o.placed_at) == day)
                        .map(|o| kept_contribution(tracker, o, o.returned_amount))
                        .fold(after, Decimal::max);
                    series.set_max(day, rest);
                }
            }
        }
    }

    /// Counts an order of the customer's history into tracker `tracker`
    /// (a tracker added to a live program, or whose definition changed), if
    /// it falls on or after `since`.
    pub fn rebuild_tracker(
        &self,
        state: &mut CustomerState,
        tracker: usize,
        history: &[OrderRecord],
        now: DateTime<Utc>,
    ) {
        let t = &self.trackers[tracker];
        let first = t.kept_from(day_of(now));
        for record in history {
            let day = day_of(record.placed_at);
            if day < first {
                continue;
            }
            let kept = kept_contribution(t, record, record.returned_amount);
            let series = &mut state.trackers[tracker];
            match t.aggregate {
                Aggregate::Sum => series.add(day, kept),
                Aggregate::Max => series.raise_max(day, kept),
            }
        }
    }

    /// Applies a return of `record` (the order's stored contribution, which
    /// is updated too), judging only the upgrade the returned order caused
    /// (while the customer still holds it): what a return did before every
    /// upgrade was judged again. Tests of one order's own reversal use it;
    /// the service applies [`Program::apply_return_judged`]. `others` are
    /// the customer's other orders, for the day's maximum of `max` trackers
    /// (see `count_in_trackers`).
    pub fn apply_return(
        &self,
        state: &mut CustomerState,
        record: &mut OrderRecord,
        ret: &Return,
        others: &[OrderRecord],
    ) -> Result<AppliedReturn, EngineError> {
        let mut back = self.take_back(state, record, ret, others)?;
        back.downgrade = self.reverse_upgrade(state, record, ret);
        back.downgrades = back.downgrade.iter().cloned().collect();
        back.tier_after = state.tier_index(self);
        Ok(back)
    }

    /// Applies a return of `record` (updated too) and reverses every upgrade
    /// of the customer's history that no longer holds (see
    /// [`crate::reversal`]): the customer lands on the highest tier still
    /// earned, never above the tier held and never below an admin's setting.
    pub fn apply_return_judged(
        &self,
        state: &mut CustomerState,
        record: &mut OrderRecord,
        ret: &Return,
        history: &ReturnHistory<'_>,
    ) -> Result<AppliedReturn, EngineError> {
        let mut back = self.take_back(state, record, ret, history.orders)?;
        state.saw_return(ret.returned_at);
        let mut orders: Vec<OrderRecord> = history
            .orders
            .iter()
            .filter(|o| o.order_id != record.order_id)
            .cloned()
            .collect();
        orders.push(record.clone());
        let current = state.tier_index(self);
        let in_time = self.in_time(state, &orders, history.rules);
        let landing = in_time.rejudged().min(current);
        if landing < current {
            let (down_at, since) = self.late_dates(state, &in_time, ret.returned_at, landing);
            let steps = self.reversed_steps(state, current, landing, down_at);
            for step in &steps {
                state.record_change(
                    TierChange {
                        from: self.tier_name(step.from).to_owned(),
                        to: self.tier_name(step.to).to_owned(),
                        at: step.at,
                        cause: format!("return {} of order {}", ret.return_id, record.order_id),
                        config_version: None,
                        admin: false,
                    },
                    Vec::new(),
                );
            }
            if let Some(since) = since {
                state.tier_since = since;
            }
            back.downgrade = Some(Downgrade {
                from: current,
                to: landing,
                at: steps.first().map_or(ret.returned_at, |step| step.at),
            });
            back.downgrades = steps;
        } else if self.lapses
            && state
                .judged
                .as_ref()
                .is_some_and(|j| ret.returned_at < j.at)
        {
            let late = Late::Return {
                record,
                returned_before: record.returned_amount - back.returned,
                points: back.points_reversed,
                from_current: back.points_reversed - back.points_shortfall,
                others: history.orders,
            };
            let before = state.tier_index(self);
            if self.rejudge_late(state, late, ret.returned_at) {
                self.lift_after_the_end(state, &orders, history.rules, before);
            }
        }
        back.tier_after = state.tier_index(self);
        Ok(back)
    }

    /// Whether the customer's orders with `record` among them, as they
    /// stand (the returns made), hold a tier below `reached` in the end.
    fn taken_back_below(
        &self,
        state: &CustomerState,
        record: &OrderRecord,
        orders: &[OrderRecord],
        reached: TierIndex,
    ) -> bool {
        let all: Vec<&OrderRecord> = orders
            .iter()
            .filter(|o| o.order_id != record.order_id)
            .chain([record])
            .collect();
        self.in_time_of(state, all, &crate::reversal::CurrentRulesOnly)
            .rejudged()
            < reached
    }

    /// A late order decided, as in time, on the orders as they stood at
    /// its instant upgraded the customer: returns made since, which in time
    /// came after the upgrade, move them down as they would have then, but
    /// never below `arrived`, the tier held when it came (an order only
    /// adds; the replay judges every order under the current rules, which
    /// may have been raised since the others were decided). The move is
    /// dated after `upgraded_at`, the instant of its last upgrade.
    fn returned_since(
        &self,
        state: &mut CustomerState,
        record: &OrderRecord,
        orders: &[OrderRecord],
        arrived: TierIndex,
        upgraded_at: DateTime<Utc>,
    ) {
        let placed = record.placed_at;
        if !orders
            .iter()
            .any(|o| o.returns.iter().any(|r| r.at >= placed))
        {
            return;
        }
        let all: Vec<&OrderRecord> = orders
            .iter()
            .filter(|o| o.order_id != record.order_id)
            .chain([record])
            .collect();
        let current = state.tier_index(self);
        let rules = &crate::reversal::CurrentRulesOnly;
        let in_time = self.in_time_of(state, all.clone(), rules);
        let with_returns = in_time.rejudged();
        let landing = with_returns.max(arrived).min(current);
        if landing >= current {
            return;
        }
        // The replay counts each order's points as awarded, which may judge
        // the crossing otherwise than the decision did (an eager crossing
        // paid at a lower rate): only what the returns themselves take away
        // moves the customer.
        let stood: Vec<Cow<'_, OrderRecord>> = all.iter().map(|o| o.as_it_stood(placed)).collect();
        let without_returns = self
            .in_time_of(state, stood.iter().map(|o| o.as_ref()).collect(), rules)
            .rejudged();
        if with_returns >= without_returns {
            return;
        }
        // Held from its last upgrade on, until a return took it away.
        let (down_at, since) = self.late_dates(state, &in_time, upgraded_at, landing);
        let cause = all
            .iter()
            .find(|o| o.returns.iter().any(|r| r.at == down_at))
            .map_or_else(
                || format!("returns made after order {}", record.order_id),
                |o| format!("return of order {}", o.order_id),
            );
        for step in self.reversed_steps(state, current, landing, down_at) {
            state.record_change(
                TierChange {
                    from: self.tier_name(step.from).to_owned(),
                    to: self.tier_name(step.to).to_owned(),
                    at: step.at,
                    cause: cause.clone(),
                    config_version: None,
                    admin: false,
                },
                Vec::new(),
            );
        }
        if let Some(since) = since {
            state.tier_since = since;
        }
    }

    /// After a late return moved the customer down as of a judged end: the
    /// orders counted since, at the tier held before (up to `before`), may
    /// lift them again, as the first to do so would have at its instant.
    fn lift_after_the_end(
        &self,
        state: &mut CustomerState,
        orders: &[OrderRecord],
        book: &dyn RuleBook,
        before: TierIndex,
    ) {
        let (Some(end), held) = (state.judged.as_ref().map(|j| j.at), state.tier_index(self))
        else {
            return;
        };
        let in_time = self.in_time(state, orders, book);
        let lifted = in_time.rejudged().min(before);
        if lifted <= held {
            return;
        }
        let instants = in_time.instants();
        let after = &instants[instants.partition_point(|t| *t <= end)..];
        // Each instant is a replay of the orders: past the bound, the lift
        // is dated at the latest.
        let at = match after.len() {
            0 => return,
            n if n > LATE_RETURN_INSTANTS => after[n - 1],
            _ => match after.iter().find(|t| in_time.tier_after(**t) >= lifted) {
                Some(at) => *at,
                None => return,
            },
        };
        // Not a cause the replay reads as setting the tier: the orders
        // tell this lift again.
        let cause = orders.iter().find(|o| o.placed_at == at).map_or_else(
            || String::from("orders"),
            |o| format!("order {}", o.order_id),
        );
        let change = TierChange {
            from: self.tier_name(held).to_owned(),
            to: self.tier_name(lifted).to_owned(),
            at,
            cause,
            config_version: Some(self.version()),
            admin: false,
        };
        state.record_change(change, Vec::new());
    }

    /// For an event at `returned` that arrived after events placed later (a
    /// late return, or a late order that returns made since move down) and
    /// moves the customer to `landing`: when, in time, a return first took
    /// them below the tier they hold now, and since when they have held
    /// `landing` then. An event in time: its own instant, and the instant
    /// of the change.
    fn late_dates(
        &self,
        state: &CustomerState,
        in_time: &InTime<'_>,
        returned: DateTime<Utc>,
        landing: TierIndex,
    ) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        if state.last_event_at.is_none_or(|last| last <= returned) {
            return (returned, None);
        }
        let current = state.tier_index(self);
        let instants = in_time.instants();
        let (before, after) = instants.split_at(instants.partition_point(|t| *t < returned));
        if after.len() > LATE_RETURN_INSTANTS {
            // Each instant is a replay of the orders: past the bound, each
            // step is dated at the later of the return and its upgrade.
            return (returned, None);
        }
        let start = self.replay_start(state);
        let mut tier = before.last().map_or(start, |t| in_time.tier_after(*t));
        let mut down_at = None;
        let mut changed_at = None;
        for (at, then) in in_time.course_over(after) {
            if then != tier {
                tier = then;
                changed_at = Some(at);
            }
            if then < current {
                down_at.get_or_insert(at);
            }
        }
        let down_at = down_at.unwrap_or(returned);
        let since = changed_at
            .unwrap_or_else(|| self.reached(state, in_time, before, landing, start, returned));
        // Under a retention rule of the landing tier its start is where its
        // validity counts from; the periods that would have run from an
        // earlier start are not replayed, so it stays no earlier than the
        // return. A tier without one has no periods to run.
        let since = if self.tiers[landing].retention.is_some() {
            since.max(returned)
        } else {
            since
        };
        (down_at, Some(since))
    }

    /// When the customer reached `landing`, held in time through the last
    /// of `before` (else `returned`): walking back while it was held then,
    /// up to [`REACHED_LOOKBACK`] instants (beyond, the history says).
    fn reached(
        &self,
        state: &CustomerState,
        in_time: &InTime<'_>,
        before: &[DateTime<Utc>],
        landing: TierIndex,
        start: TierIndex,
        returned: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let mut reached = None;
        for (looked, at) in before.iter().rev().enumerate() {
            if in_time.tier_after(*at) != landing {
                return reached.unwrap_or(returned);
            }
            // An order of the instant lifted them, its return took them
            // back: they came to `landing` then.
            if in_time.tier_amid(*at).is_some_and(|amid| amid != landing) {
                return *at;
            }
            reached = Some(*at);
            if looked + 1 >= REACHED_LOOKBACK {
                return match self.tier_held_at(state, *at) {
                    Some((tier, Some(since))) if tier == landing => since,
                    _ => *at,
                };
            }
        }
        // Held through every instant: from the start, or the first one
        // lifted them there.
        match reached {
            Some(first) if landing != start => first,
            _ => state.joined(),
        }
    }

    /// The upgrades between `landing` and `current` undone one by one, most
    /// recent first (Diamond -> Gold, then Gold -> Silver), or one step when
    /// the history does not chain them (an admin setting between). Each is
    /// dated at `at`, or at the upgrade it undoes if that came later (a late
    /// return).
    fn reversed_steps(
        &self,
        state: &CustomerState,
        current: TierIndex,
        landing: TierIndex,
        at: DateTime<Utc>,
    ) -> Vec<Downgrade> {
        let mut steps: Vec<Downgrade> = Vec::new();
        let mut top = current;
        for change in state.history.iter().rev() {
            if top == landing {
                break;
            }
            let (Some(from), Some(to)) =
                (self.tier_index(&change.from), self.tier_index(&change.to))
            else {
                break;
            };
            if change.admin || from >= to {
                break;
            }
            if to != top {
                continue;
            }
            let down_to = from.max(landing);
            steps.push(Downgrade {
                from: top,
                to: down_to,
                at: at.max(change.at),
            });
            top = down_to;
        }
        if top != landing {
            // Not before any change the history holds (a late return).
            let latest = state.history.iter().map(|c| c.at).max();
            return vec![Downgrade {
                from: current,
                to: landing,
                at: latest.map_or(at, |latest| at.max(latest)),
            }];
        }
        steps
    }

    /// How much of `points` a return takes from current points, and the
    /// shortfall left: expired points are never taken back (lifetime points
    /// still drop by all of them); spent ones are taken per the program's
    /// return policy. A return made before the order's points expired but
    /// arriving after takes what expiry has taken of them since from that
    /// expiry instead (see [`Program::cover_late`]).
    fn points_to_take_back(
        &self,
        state: &mut CustomerState,
        record: &OrderRecord,
        ret: &Return,
        points: Points,
    ) -> (Points, Points) {
        let expired = self.config().points_expiry.is_some_and(|period| {
            period.forward_from(day_of(record.placed_at)) <= day_of(ret.returned_at)
        });
        if expired {
            return (Decimal::ZERO, Decimal::ZERO);
        }
        let own_lot = Cover::Return {
            own_day: day_of(record.placed_at),
        };
        let covered: Points = self
            .cover_late(state, points, ret.returned_at, own_lot)
            .iter()
            .map(|(_, p)| *p)
            .sum();
        let points = points - covered;
        let policy = self.config().return_policy.unwrap_or_default();
        match policy.spent_points {
            SpentPoints::NegativeBalance => (points, Decimal::ZERO),
            SpentPoints::WithinBalance => {
                let taken = points.min(state.current_points.max(Decimal::ZERO));
                (taken, points - taken)
            }
        }
    }

    /// Of `points` taken by an event at `at` that arrives after points
    /// expired which were still there at `at`: the part those lots would
    /// have given (see [`crate::expired::Cover`]), by the day each expired.
    /// Expiry already took that part from current points, so the event
    /// must not take it again; in time the lots would have given it and
    /// expired that much less.
    pub(crate) fn cover_late(
        &self,
        state: &mut CustomerState,
        points: Points,
        at: DateTime<Utc>,
        cover: Cover,
    ) -> Vec<(DayNumber, Points)> {
        match self.config().points_expiry {
            Some(_) => state.cover_from_expired(points, day_of(at), cover),
            None => Vec::new(),
        }
    }

    /// Takes back what `ret` returns of `record`: amounts, points, trackers.
    fn take_back(
        &self,
        state: &mut CustomerState,
        record: &mut OrderRecord,
        ret: &Return,
        others: &[OrderRecord],
    ) -> Result<AppliedReturn, EngineError> {
        ret.check()?;
        let remaining = record.remaining();
        let amount = ret.amount.unwrap_or(remaining);
        if amount > remaining || remaining.is_zero() {
            return Err(EngineError::ReturnExceedsRemaining {
                requested: amount,
                remaining,
            });
        }
        if ret.returned_at < record.placed_at {
            return Err(EngineError::invalid(
                "returnedAt",
                format!(
                    "{} is before the order was placed ({})",
                    ret.returned_at.to_rfc3339(),
                    record.placed_at.to_rfc3339()
                ),
            ));
        }
        // What fell due by the return's instant is judged before it counts
        // (an end between the last event and the return sees the order
        // still whole).
        self.expire(state, ret.returned_at);
        state.saw_event(ret.returned_at);
        let tier_before = state.tier_index(self);
        let returned_before = record.returned_amount;
        record.returned_amount += amount;
        record.mark_return(ret.returned_at, amount);
        // Never more than were awarded: the share taken is capped by `taken`.
        let points_taken = taken(record.points_awarded, record.returned_amount, record.amount);
        let points_reversed = points_taken - record.points_reversed;
        record.points_reversed = points_taken;

        if record.counts_for_purchases {
            state.lifetime_purchases -= amount;
            state.lower_best_order(record, others);
        }
        let (from_current, shortfall) =
            self.points_to_take_back(state, record, ret, points_reversed);
        state.reverse_points(day_of(record.placed_at), points_reversed, from_current);
        self.count_in_trackers(state, record, Some(returned_before), others);
        Ok(AppliedReturn {
            returned: amount,
            points_reversed,
            points_shortfall: shortfall,
            tier_before,
            tier_after: tier_before,
            downgrade: None,
            downgrades: Vec::new(),
        })
    }

    /// The reference: "If a customer returns a transaction that resulted in
    /// a tier upgrade, the upgrade will be reversed, and the customer will be
    /// downgraded to the previous eligible tier." Only the upgrade this order
    /// caused is reconsidered, and only while the customer still holds it.
    fn reverse_upgrade(
        &self,
        state: &mut CustomerState,
        record: &OrderRecord,
        ret: &Return,
    ) -> Option<Downgrade> {
        let current = state.tier_index(self);
        let floor = self.tier_index(&record.tier_before)?;
        let caused = self.tier_index(&record.tier_after)?;
        if caused <= floor || current != caused {
            return None;
        }
        let eval = Evaluator::new(self, state, ret.returned_at, floor, None);
        if eval.holds(current, Decimal::ZERO, Decimal::ZERO).is_some() {
            return None;
        }
        let landing = eval
            .highest_holding_up_to(floor, current - 1, Decimal::ZERO, Decimal::ZERO)
            .map_or(floor, |(t, _)| t);
        state.record_change(
            TierChange {
                from: self.tier_name(current).to_owned(),
                to: self.tier_name(landing).to_owned(),
                at: ret.returned_at,
                cause: format!("return {} of order {}", ret.return_id, record.order_id),
                config_version: None,
                admin: false,
            },
            Vec::new(),
        );
        Some(Downgrade {
            from: current,
            to: landing,
            at: ret.returned_at,
        })
    }

    /// Spends current points; never below zero.
    pub fn redeem(
        &self,
        state: &mut CustomerState,
        redemption: &Redemption,
    ) -> Result<(), EngineError> {
        redemption.check()?;
        // Expired points cannot be spent; a refusal changes nothing.
        let mut next = state.clone();
        self.expire(&mut next, redemption.at);
        next.saw_event(redemption.at);
        // A redemption made before points expired that arrives after
        // spends those first, oldest first, as it would have in time.
        let covered = self.cover_late(
            &mut next,
            redemption.points,
            redemption.at,
            Cover::Redemption,
        );
        let from_expired: Points = covered.iter().map(|(_, p)| *p).sum();
        let from_current = redemption.points - from_expired;
        if from_current > next.current_points {
            return Err(EngineError::InsufficientPoints {
                requested: redemption.points,
                available: next.current_points.max(Decimal::ZERO) + from_expired,
            });
        }
        next.spend_points(from_current);
        *state = next;
        if self.lapses {
            let late = Late::Redemption {
                points: redemption.points,
                covered: &covered,
            };
            self.rejudge_late(state, late, redemption.at);
        }
        Ok(())
    }

    /// The admin "upgrade-to-tier" action: sets the tier whatever the rules say.
    pub fn set_tier(
        &self,
        state: &mut CustomerState,
        tier: &str,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<Option<TierChange>, EngineError> {
        let index = self
            .tier_index(tier)
            .ok_or_else(|| EngineError::UnknownTier(tier.to_owned()))?;
        // The admin acts after everything the state counts: an order dated
        // a little past the clock (within the lead) moved the customer at
        // its own instant, and a setting dated before it would read as
        // overruled by it.
        let latest = [state.last_event_at, state.history.last().map(|c| c.at)]
            .into_iter()
            .flatten()
            .max();
        // Strictly after: a replay applies an admin setting before the
        // orders of its own instant.
        let at = match latest {
            Some(latest) if latest >= at => latest + chrono::Duration::milliseconds(1),
            _ => at,
        };
        // What fell due by then is judged first, as before every event.
        self.expire(state, at);
        if state.tier_index(self) == index && state.tier == tier {
            return Ok(None);
        }
        state.saw_event(at);
        let change = TierChange {
            from: state.tier.clone(),
            to: tier.to_owned(),
            at,
            cause: format!("set by admin: {reason}"),
            config_version: Some(self.version()),
            admin: true,
        };
        state.record_change(change.clone(), Vec::new());
        Ok(Some(change))
    }
}

/// Whether every other order was placed no later than the first return
/// made at or after `order`'s instant.
fn nothing_placed_after_the_returns(order: &Order, orders: &[OrderRecord]) -> bool {
    let first_return = orders
        .iter()
        .flat_map(|o| o.returns.iter().map(|r| r.at))
        .filter(|at| *at >= order.placed_at)
        .min();
    first_return.is_some_and(|first| {
        orders
            .iter()
            .all(|o| o.order_id == order.order_id || o.placed_at <= first)
    })
}
