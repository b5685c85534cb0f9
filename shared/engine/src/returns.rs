//! Applying a return: the returned share of the order's amount, points and
//! tracker contributions taken back, then every upgrade of the customer's
//! history that no longer holds reversed, each move dated when in time the
//! return made it (see [`crate::reversal`]).

use crate::apply::taken;
use crate::config::SpentPoints;
use crate::decimal::{Money, Points};
use crate::error::EngineError;
use crate::evaluate::Evaluator;
use crate::events::{OrderRecord, Return};
use crate::expired::Cover;
use crate::period::{day_of, DayNumber};
use crate::program::{Program, TierIndex};
use crate::rejudge::{Late, LATE_ORDER};
use crate::reversal::InTime;
use crate::reversal::{ReturnHistory, RuleBook};
use crate::state::{CustomerState, TierChange};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// Instants a late return walks back to find when the customer reached the
/// tier it lands on; each is a replay of the customer's orders.
const REACHED_LOOKBACK: usize = 16;

/// Events after a late return's instant it replays the customer's orders
/// at, to date its move as in time; a return later than that is dated
/// by the upgrades it undoes (README).
pub(crate) const LATE_RETURN_INSTANTS: usize = 32;

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

impl Program {
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
        // Where the stored events tell the whole course, the customer
        // replayed in time checks what the paths decide (`replay.rs`): a
        // return late among other events, or one made after a late event
        // whose paths left the history telling it (a lift a late order
        // told sets the tier in a replay of the history).
        // A return made in time by a customer whose every event came in
        // time is decided by the paths as the replay would (the same
        // events in the same order) and spared its cost.
        let late = state
            .last_event_at
            .is_some_and(|last| ret.returned_at < last);
        let late_before = state.late_seen || history_tells_a_late_order(state);
        let replays =
            (late || late_before) && self.return_may_replay(state, record, history.orders);
        let before = replays.then(|| state.clone());
        let mut orders = others_and_record(history.orders, record);
        let decided = self.return_by_paths(state, &mut orders, ret, history.rules);
        if let Some(returned) = orders.last() {
            record.clone_from(returned);
        }
        let mut back = decided?;
        let Some(before) = before else {
            return Ok(back);
        };
        let latest = state.last_event_at;
        let Some(replayed) = self.replayed_in_time(&before, None, &orders, latest) else {
            return Ok(back);
        };
        let cause = return_cause(ret, record);
        if self.set_right_as_replayed(state, replayed, &cause).tier {
            self.reply_chained_to(&mut back, state.tier_index(self), state.tier_since);
        }
        Ok(back)
    }

    /// The reply of a return whose customer ends in `landing` (reached at
    /// `since`) by more than its own reversals (a replay set it right, or a
    /// walk told a course): the steps down that lie between the tier
    /// before and `landing`, where they still make a chain from the tier
    /// before, and a step on to `landing`.
    fn reply_chained_to(&self, back: &mut AppliedReturn, landing: TierIndex, since: DateTime<Utc>) {
        let tier_before = back.tier_before;
        back.downgrades
            .retain(|d| d.from <= tier_before && d.from > landing);
        for step in &mut back.downgrades {
            step.to = step.to.max(landing);
        }
        let chained = back
            .downgrades
            .first()
            .is_none_or(|d| d.from == tier_before)
            && back.downgrades.windows(2).all(|w| w[0].to == w[1].from);
        if !chained {
            back.downgrades.clear();
        }
        let reached = back.downgrades.last().map_or(tier_before, |d| d.to);
        if landing < reached {
            back.downgrades.push(Downgrade {
                from: reached,
                to: landing,
                at: since,
            });
        }
        back.downgrade = (landing < tier_before).then(|| Downgrade {
            from: tier_before,
            to: landing,
            at: back.downgrades.first().map_or(since, |d| d.at),
        });
        back.tier_after = landing;
    }

    /// [`Program::apply_return_judged`] by the paths alone: the return
    /// taken back, and the upgrades that no longer hold reversed as the
    /// history and the orders tell them. `orders` are every order of the
    /// customer, the returned one's record last (marked here); taken as
    /// one slice so that a replay of many returns copies none of them.
    pub(crate) fn return_by_paths(
        &self,
        state: &mut CustomerState,
        orders: &mut [OrderRecord],
        ret: &Return,
        rules: &dyn RuleBook,
    ) -> Result<AppliedReturn, EngineError> {
        let no_order = || EngineError::invalid("orderId", "no order to return");
        let (record, others) = orders.split_last_mut().ok_or_else(no_order)?;
        let mut back = self.take_back(state, record, ret, others)?;
        state.saw_return(ret.returned_at);
        let orders: &[OrderRecord] = orders;
        let (record, others) = orders.split_last().ok_or_else(no_order)?;
        let history = ReturnHistory {
            orders: others,
            rules,
        };
        let current = state.tier_index(self);
        let walked = match self.lapses {
            true => self.walks_after_return(state, orders, record, ret),
            false => None,
        };
        if let Some(told) = walked {
            // Late under a retention rule: the course from before it walked
            // again (`older_ends.rs`), its own move down among the rest.
            // The reply names the moves down the walk told, where they
            // chain (a walk's telling may leave out a step its new course
            // tells, or move up between two).
            back.downgrades = told
                .iter()
                .filter_map(|c| {
                    let (from, to) = (self.tier_index(&c.from)?, self.tier_index(&c.to)?);
                    (to < from).then_some(Downgrade { from, to, at: c.at })
                })
                .collect();
            self.reply_chained_to(&mut back, state.tier_index(self), state.tier_since);
            return Ok(back);
        }
        let in_time = self.in_time(state, orders, history.rules);
        let landing = in_time.rejudged().min(current);
        if let Some((changes, since)) =
            self.late_return_course(state, &in_time, ret, &record.order_id, orders, landing)
        {
            // Told as the course in time since its instant
            // (`late_return_course.rs`). The reply names the upgrades of
            // the tier held that it reversed, each dated no earlier than
            // the upgrade it undoes, as for any late return; the history
            // tells the course.
            let first_down = changes
                .iter()
                .find(|c| self.tier_index(&c.to) < self.tier_index(&c.from))
                .map_or(ret.returned_at, |c| c.at);
            let steps = match landing < current {
                true => self.reversed_steps(state, current, landing, first_down),
                false => Vec::new(),
            };
            for change in changes {
                state.record_change(change, Vec::new());
            }
            state.tier_since = since;
            if let Some(first) = steps.first() {
                back.downgrade = Some(Downgrade {
                    from: current,
                    to: landing,
                    at: first.at,
                });
            }
            back.downgrades = steps;
        } else if landing < current {
            let (down_at, since) = self.late_dates(state, &in_time, ret.returned_at, landing);
            let steps = self.reversed_steps(state, current, landing, down_at);
            let cause = return_cause(ret, record);
            for step in &steps {
                state.record_change(self.move_down_by_return(step, &cause), Vec::new());
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
                self.lift_after_the_end(state, orders, history.rules, before);
            }
        }
        back.tier_after = state.tier_index(self);
        Ok(back)
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
    pub(crate) fn late_dates(
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
    pub(crate) fn reached(
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
                    // Held before the history's first change, which a
                    // history not cut at its limit starts at the join.
                    Some((tier, None)) if tier == landing && !state.history_was_cut() => {
                        state.joined()
                    }
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

    /// The history's entry for one step a return moved the customer down.
    pub(crate) fn move_down_by_return(&self, step: &Downgrade, cause: &str) -> TierChange {
        TierChange {
            from: self.tier_name(step.from).to_owned(),
            to: self.tier_name(step.to).to_owned(),
            at: step.at,
            cause: cause.to_owned(),
            config_version: None,
            admin: false,
        }
    }

    /// The upgrades between `landing` and `current` undone one by one, most
    /// recent first (Diamond -> Gold, then Gold -> Silver), or one step when
    /// the history does not chain them (an admin setting between). Each is
    /// dated at `at`, or at the upgrade it undoes if that came later (a late
    /// return).
    pub(crate) fn reversed_steps(
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
        let points = match self.own_lot_expired_since_unspent(state, record) {
            true => Decimal::ZERO,
            false => points - covered,
        };
        let policy = self.config().return_policy.unwrap_or_default();
        match policy.spent_points {
            SpentPoints::NegativeBalance => (points, Decimal::ZERO),
            SpentPoints::WithinBalance => {
                let taken = points.min(state.current_points.max(Decimal::ZERO));
                (taken, points - taken)
            }
        }
    }

    /// Whether the order's own lot, still there when the return was made
    /// (the caller checked), has expired since with nothing of it spent
    /// before: in time the return took its points from that lot, which
    /// then expired that much less, and current points hold none of it now
    /// (expiry took the whole lot, or never let a late order's lot count).
    /// What expiry took is remembered only [`crate::expired::EXPIRED_KEPT_DAYS`]
    /// (and never for a late order's lot expired on arrival); past that,
    /// the redemptions tell whether the lot was spent, so they must have
    /// been read, none made before the lot expired. Without them a return
    /// arriving so late takes from current points (docs/late-events.md).
    /// Only for an order decided under today's config: under an earlier
    /// one, another `pointsExpiry` may have been in force when its lot
    /// expired, and a redemption before that expiry spent from it.
    fn own_lot_expired_since_unspent(&self, state: &CustomerState, record: &OrderRecord) -> bool {
        let Some(period) = self.config().points_expiry else {
            return false;
        };
        if record.config_version != Some(self.version()) {
            return false;
        }
        let own_day = day_of(record.placed_at);
        let expired_on = period.forward_from(own_day);
        let latest = state.last_event_at.map(day_of);
        latest.is_some_and(|latest| expired_on <= latest)
            && state.lots.iter().all(|lot| lot.day != own_day)
            && state
                .redemptions
                .as_ref()
                .is_some_and(|r| !r.any_before_day(expired_on))
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
        // Told after later events, it meets another balance than in time.
        let told_in_time = state
            .last_event_at
            .is_none_or(|last| ret.returned_at >= last);
        state.saw_event(ret.returned_at);
        let tier_before = state.tier_index(self);
        let returned_before = record.returned_amount;
        record.returned_amount += amount;
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
        // Kept where a return may fall short, and only as it fell in time
        // (a late return's is unknown): normalized, a whole zero (the usual
        // one) takes a byte in the binary record.
        let short =
            (!self.returns_spend_below_zero() && told_in_time).then(|| shortfall.normalize());
        record.mark_return(ret.returned_at, amount, state.orders_applied, short);
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
        let step = Downgrade {
            from: current,
            to: landing,
            at: ret.returned_at,
        };
        let cause = return_cause(ret, record);
        state.record_change(self.move_down_by_return(&step, &cause), Vec::new());
        Some(step)
    }
}

/// The customer's orders with `record` as its return left it.
fn others_and_record(orders: &[OrderRecord], record: &OrderRecord) -> Vec<OrderRecord> {
    let others = orders.iter().filter(|o| o.order_id != record.order_id);
    others.chain([record]).cloned().collect()
}

/// The cause a change a return makes is told with.
fn return_cause(ret: &Return, record: &OrderRecord) -> String {
    format!("return {} of order {}", ret.return_id, record.order_id)
}

/// Whether the history tells a late order's change: the sign of a late
/// event in a state written before `late_seen` was kept.
fn history_tells_a_late_order(state: &CustomerState) -> bool {
    state
        .history
        .iter()
        .any(|c| c.cause.starts_with(LATE_ORDER))
}
