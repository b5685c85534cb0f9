//! Applying orders, redemptions and admin tier sets to a customer's state
//! (returns: [`crate::returns`]). Each function either changes the state
//! completely or returns an error having changed nothing.

use crate::as_in_time::DecidedAsInTime;
use crate::config::{Aggregate, Measure};
use crate::decimal::{Money, Points};
use crate::error::EngineError;
use crate::events::{Order, OrderRecord, OrderStatus, Redemption};
use crate::expired::Cover;
use crate::older_ends::ToldBefore;
use crate::period::day_of;
use crate::program::{Program, TierIndex, Tracker};
use crate::redeemed::Redemptions;
use crate::rejudge::{Late, LATE_ORDER};
use crate::reversal::CurrentRulesOnly;
use crate::state::{CustomerState, TierChange};
use crate::upgrade::{Decision, Upgrade};
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
    /// The replay in time told the customer's course where the history's
    /// line parted from it (`course_set_right.rs`): the changes this order
    /// told are dated where they came in time, which may be before changes
    /// told already.
    pub course_set_right: bool,
}

/// Orders one customer may count. With every figure of an order at most
/// 10^15 (10^18 points at the highest earn rate), no total of a customer can
/// pass 10^27, inside `Decimal`'s 7.9 x 10^28: no sum can overflow.
pub const MAX_ORDERS_PER_CUSTOMER: u64 = 1_000_000_000;

/// The share of `value` that `returned` out of `amount` takes back: exact
/// once everything is returned, so a whole return restores every figure.
pub(crate) fn taken(value: Decimal, returned: Money, amount: Money) -> Decimal {
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

/// What a late order brings to the ends it changes: the highest tier its
/// dated upgrades reached and, where the moves down by returns made since
/// its lift were left to the walk of the ends that lift brought, the tier
/// held when it came (below which those returns never move the customer).
struct LateUpgrade {
    reached: TierIndex,
    returns_left: Option<TierIndex>,
    /// What the customer had told before the order came.
    told: ToldBefore,
}

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
    /// stored records): an order placed before some of them is decided as
    /// it would have been in time (`as_in_time.rs` chooses how), then
    /// counted, and the validity ends it changes are judged.
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
        // Orders read for a customer whose current points they do not
        // tell under an upgrade rule that counts them (a spender whose
        // redemptions were not read, or do not account for the gap): they
        // would replay current points as lifetime points. Decided without
        // them, as before the redemptions were read.
        // Nor where expiry is replayed and an order was decided under
        // another config version, which may have expired points otherwise,
        // or a return of an order placed up to it took points from lots
        // other than its order's (one of a later order changes nothing
        // up to its instant; the dating walk stops after that return;
        // where tiers lapse, any such return, the ends walked after it
        // reading past it).
        // Where the stored events tell the whole course, the customer
        // replayed in time checks what the paths below decide (`replay.rs`).
        let replayed = match state
            .last_event_at
            .is_some_and(|last| order.placed_at < last)
        {
            true => self.replayed_in_time(state, Some(order), orders, state.last_event_at),
            false => None,
        };
        let other_expiry = || {
            self.replays_expiry()
                && self.counts_current_points()
                && !self.orders_tell_what_expired_up_to(state, orders, order.placed_at)
        };
        let orders = match self.upgrades_on_untold_points(state) || other_expiry() {
            true => &[][..],
            false => orders,
        };
        // Current points equal to lifetime points, and nothing ever took
        // from the one alone (a redemption or an expiry marks the customer
        // apart where points expire; returns of every order could bring
        // both back to zero after one): nothing was redeemed, so the
        // redemptions are known though not read, and stay known once this
        // order's own lot has expired in a replay.
        let none_redeemed = self.replays_expiry()
            && state.redemptions.is_none()
            && !state.points_apart
            && state.current_points == state.lifetime_points;
        if none_redeemed {
            state.redemptions = Some(Redemptions::new(Vec::new()));
        }
        // Once a late event was checked by the replay, the history may no
        // longer tell the course it set right (a start moved silently):
        // only the replay checks another late order then. Read before
        // anything of this order marks the customer.
        let late_seen_before = state.late_seen;
        // Points due to expire by the order's time no longer count toward
        // its decision, whether or not the scheduled job has run.
        self.expire(state, order.placed_at);
        let late = state
            .last_event_at
            .is_some_and(|last| order.placed_at < last);
        let told_before = late.then(|| ToldBefore::of(self, state));
        // Orders of its instant may have come before it only when it is
        // not past the customer's latest event: then its record keeps its
        // arrival. One placed after it was the first of its instant, so a
        // record without one came before any that has one.
        let arrival = state
            .last_event_at
            .is_some_and(|last| order.placed_at <= last)
            .then_some(state.orders_applied);
        let arrived = state.tier_index(self);
        let late_again = late && late_seen_before;
        state.saw_event(order.placed_at);
        if order.placed_at < state.joined() {
            // In time it was the customer's first event: `programJoin`
            // anniversaries count from it, and a customer who never
            // changed tier has held the base tier since.
            if state.history.is_empty() && state.tier_since == state.joined() {
                state.tier_since = order.placed_at;
            }
            state.joined_at = Some(order.placed_at);
        }
        let DecidedAsInTime {
            mut decision,
            rewound,
            superseded,
            held_then,
            decided_higher,
            undone,
            moved_down_sign,
            returns_since,
            decided_then,
            crossed_since,
            could_date,
            reached,
            reached_earlier,
            jumped_from,
        } = self.decide_as_in_time(state, order, orders, late);
        let mut record = self.record_of(state, order, &decision);
        record.arrival = arrival;
        if let Some(h) = &held_then {
            h.mark(self, &mut record, &decision);
        }
        if decided_higher {
            // It upgraded nobody from the tier held then: a return of it
            // reverses nothing.
            record.tier_before = self.tier_name(decision.tier_before).to_owned();
        }
        let day = day_of(order.placed_at);
        if record.counts_for_purchases {
            state.lifetime_purchases += order.amount;
            state.set_best_order(&order.order_id, order.amount);
        }
        state.add_points(day, decision.points);
        self.count_in_trackers(state, &record, None, &[]);
        let was_superseded = superseded.is_some();
        self.tell_reached_earlier(state, &order.order_id, &reached_earlier);
        let told_from = superseded.or_else(|| {
            let (first, from) = (decision.upgrades.first()?, jumped_from?);
            let held = self.tier_held_at(state, first.at)?.0;
            (held == from).then(|| self.tier_name(from).to_owned())
        });
        self.record_upgrades(state, &order.order_id, &decision.upgrades, told_from);
        if let Some(undone) = undone {
            // The record tells what the order decided at its instant.
            record.tier_before = self.tier_name(undone.held_then()).to_owned();
            self.undo_moves_down(state, undone);
            decision.tier_after = state.tier_index(self);
        }
        // Where the ends its upgrade brought are walked next, the walk
        // makes the returns' moves down among them, from the tier the
        // upgrade reached: made here first, the walk would start below it
        // and lift the customer again where they held that tier already.
        let ends_walk_moves_down = late
            && self.walks_ends_after_late_upgrade(state, order, &decision, was_superseded, orders);
        if decided_then && !decision.upgrades.is_empty() && !ends_walk_moves_down {
            let upgraded_at = decision.upgrades.last().map_or(order.placed_at, |u| u.at);
            self.returned_since(state, &record, orders, arrived, upgraded_at);
            decision.tier_after = state.tier_index(self);
            record.tier_after = state.tier.clone();
        }
        state.orders_applied += 1;
        // Decided (at the tier held then, or now) on windows that miss
        // days the state dropped: only the orders tell whether it crossed
        // at its own instant.
        let reads_dropped = late
            && self.windows_read_dropped(decision.tier_before.min(arrived), state, order.placed_at);
        // Neither dating nor deciding among the orders can use them when a
        // rule counts current points they do not tell, even with the
        // redemptions (expired points are in none).
        let wants_orders = (late || returns_since || moved_down_sign)
            && orders.is_empty()
            && !self.upgrades_on_points_never_told(state)
            && (crossed_since
                || late_again && self.replay_may_take(state)
                || late && self.walks_course_for(state, order.placed_at)
                || reads_dropped
                || returns_since
                || moved_down_sign
                || could_date
                    && (!decision.upgrades.is_empty()
                        || self.later_windows_may_cross(state, order.placed_at)
                        || self.spent_points_may_hide_a_crossing(state, order.placed_at)));
        let mut applied = AppliedOrder {
            decision,
            record,
            wants_orders,
            course_set_right: false,
        };
        if let Some(r) = rewound {
            r.restore(state);
        }
        if late && !orders.is_empty() && self.replays_expiry() {
            self.lots_as_in_time(state, &others_and(orders, &applied.record));
        }
        let late_upgrade = told_before.map(|told| LateUpgrade {
            reached,
            returns_left: (decided_then && ends_walk_moves_down).then_some(arrived),
            told,
        });
        self.judge_ends_since(
            state,
            order,
            orders,
            &mut applied,
            late_upgrade,
            was_superseded,
        );
        if none_redeemed {
            state.redemptions = None;
        }
        if let Some(in_time) = replayed {
            self.set_order_right(state, &mut applied, in_time);
        }
        Ok(applied)
    }

    /// Whether [`Program::judge_ends_since`] walks the ends a late order's
    /// upgrades brought on its orders (its conditions, read before the
    /// order is counted).
    fn walks_ends_after_late_upgrade(
        &self,
        state: &CustomerState,
        order: &Order,
        decision: &Decision,
        was_superseded: bool,
        orders: &[OrderRecord],
    ) -> bool {
        let before_a_judged_end = state
            .judged
            .as_ref()
            .is_some_and(|j| order.placed_at < j.at);
        let first_upgrade = decision.upgrades.first().map(|u| u.at);
        self.lapses
            && !was_superseded
            && !before_a_judged_end
            && !orders.is_empty()
            && first_upgrade
                .zip(state.last_event_at)
                .is_some_and(|(from, latest)| from < latest)
    }

    /// Tells the steps of a late order's course up to a tier the customer
    /// reached later without it, where the history's line holds a lower
    /// tier at their instant: its upgrades past that tier follow, so the
    /// walk that dates such a start (`older_ends.rs`) leaves them to it.
    fn tell_reached_earlier(&self, state: &mut CustomerState, order_id: &str, steps: &[Upgrade]) {
        for step in steps {
            let below = self
                .tier_held_at(state, step.at)
                .is_some_and(|(held, _)| held < step.to);
            if !below {
                continue;
            }
            self.record_upgrades(state, order_id, std::slice::from_ref(step), None);
        }
    }

    /// Records each of an order's `upgrades`, the first told from
    /// `superseded` (the tier held now) when the order's upgrade
    /// superseded a judged end after it.
    fn record_upgrades(
        &self,
        state: &mut CustomerState,
        order_id: &str,
        upgrades: &[Upgrade],
        superseded: Option<String>,
    ) {
        let mut held_now = superseded;
        for u in upgrades {
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
                    cause: format!("order {order_id}"),
                    config_version: Some(self.version()),
                    admin: false,
                },
                criteria,
            );
        }
    }

    /// The validity ends an order just counted changes: a judged end it
    /// came before is judged again; ends its upgrade brought by the
    /// customer's latest instant are judged as the job would have
    /// (`late_ends.rs`). `late`: placed before the customer's latest event;
    /// what it judges on the state itself tells nothing told before
    /// (a walk of older ends tells its difference itself).
    fn judge_ends_since(
        &self,
        state: &mut CustomerState,
        order: &Order,
        orders: &[OrderRecord],
        applied: &mut AppliedOrder,
        late: Option<LateUpgrade>,
        was_superseded: bool,
    ) {
        let (from, sent) = (state.outbox.notices().len(), state.notices_sent);
        let walked =
            self.judge_each_end_since(state, order, orders, applied, late.as_ref(), was_superseded);
        if let (Some(late), false) = (late, walked) {
            self.spare_the_retold(state, &late.told, from, sent);
        }
    }

    /// [`Program::judge_ends_since`]; whether the course was walked again
    /// (`older_ends.rs`).
    fn judge_each_end_since(
        &self,
        state: &mut CustomerState,
        order: &Order,
        orders: &[OrderRecord],
        applied: &mut AppliedOrder,
        late: Option<&LateUpgrade>,
        was_superseded: bool,
    ) -> bool {
        if was_superseded {
            // The new tier's period may have ended by now (an order later
            // than its validity): judged as the job would have.
            self.catch_up_to_latest(state);
        }
        let before_a_judged_end = state
            .judged
            .as_ref()
            .is_some_and(|j| order.placed_at < j.at);
        let all = others_and(orders, &applied.record);
        // Neither upgrading nor superseding: the course from before it is
        // walked again on the orders (`older_ends.rs`).
        let walked = late.is_some()
            && applied.decision.upgrades.is_empty()
            && !was_superseded
            && self
                .judge_older_ends_again(
                    state,
                    &all,
                    order.placed_at,
                    &format!("{LATE_ORDER} {}", order.order_id),
                )
                .is_some();
        if !self.lapses {
            // No ends to judge: a walk only dated the lifts by orders anew
            // (the tier held now stays), and the order keeps what its own
            // decision reached.
            return walked;
        }
        if walked || before_a_judged_end {
            if !walked {
                self.rejudge_late(state, Late::Order(&applied.record), order.placed_at);
            }
            // Decided at the tier held then; after it, the customer holds
            // what the ends, judged again, say.
            let tier = state.tier_index(self);
            applied.decision.tier_after = tier;
            applied.record.tier_after = self.tier_name(tier).to_owned();
        } else {
            let returns_left = late.and_then(|l| l.returns_left);
            let before = returns_left.map(|_| state.clone());
            let upgrades = &applied.decision.upgrades;
            let reached = late.map(|l| l.reached);
            let walk = |state: &mut CustomerState| {
                self.judge_ends_after_late_order(
                    state,
                    order,
                    &all,
                    upgrades,
                    reached,
                    was_superseded,
                )
            };
            let mut ends_walked = walk(state);
            if let (Some(false), Some(before), Some(arrived)) = (ends_walked, before, returns_left)
            {
                // Past one decision's notices the walk stopped before the
                // returns' moves down it was left: made first, as before
                // the walk was left them, they stand (its telling coarser).
                *state = before;
                let upgraded_at = upgrades.last().map_or(order.placed_at, |u| u.at);
                self.returned_since(state, &applied.record, orders, arrived, upgraded_at);
                ends_walked = walk(state);
            }
            if ends_walked.is_some() {
                // As for an end judged again: the customer holds what the
                // ends say.
                let tier = state.tier_index(self);
                applied.decision.tier_after = tier;
                applied.record.tier_after = self.tier_name(tier).to_owned();
            }
        }
        walked
    }

    /// The ends of a lapsing program after an order decided in time or
    /// upgrading late (not before a judged end): a grace it recovers, and
    /// the ends a late upgrade brought by the customer's latest instant.
    /// Whether every end by then was judged, where they were walked
    /// (false: the walk stopped at one decision's notices).
    fn judge_ends_after_late_order(
        &self,
        state: &mut CustomerState,
        order: &Order,
        all: &[&OrderRecord],
        upgrades: &[Upgrade],
        reached: Option<TierIndex>,
        was_superseded: bool,
    ) -> Option<bool> {
        let in_grace = state.grace_until.is_some();
        self.recover_by_order(state, order.placed_at);
        if in_grace && state.grace_until.is_none() {
            // Renewed as from an end before it: the period renewed may
            // have ended by the latest instant, judged as the job would.
            self.catch_up_to_latest(state);
        }
        // An upgrade dated before the customer's latest instant starts
        // a validity that may have ended by then, as it would have in
        // time.
        let latest = state.last_event_at;
        let first_upgrade = upgrades.first().map(|u| u.at);
        let (Some(reached), Some(from), false) = (reached, first_upgrade, was_superseded) else {
            return None;
        };
        if latest.is_none_or(|latest| from >= latest) {
            return None;
        }
        // None read (a rule counts current points): the ends are judged
        // on the figures as they stand, not on this order alone.
        let reached = reached.max(state.tier_index(self));
        let upgraded = upgrades.last().map_or(from, |u| u.at);
        Some(self.judge_ends_after_late_upgrade(state, all, upgraded, reached))
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
            after_redemption: state.after_a_redemption_at(order.placed_at),
            arrival: None,
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
        let rules = &CurrentRulesOnly;
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
            state.record_change(self.move_down_by_return(&step, &cause), Vec::new());
        }
        if let Some(since) = since {
            state.tier_since = since;
        }
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
        match self.config().points_expiry {
            // Spent among lots that expire, its instant among the expiries
            // tells what it spent; the redemption items tell only the
            // points. Nor is its instant kept: only a replay of current
            // points asks for it (and the heaviest customers' state item
            // stays within 2 KB).
            Some(_) => next.points_apart = true,
            None => next.saw_redemption(redemption.at),
        }
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

/// The customer's `orders` (none when not read) with `record` in place of
/// its stored version.
fn others_and<'a>(orders: &'a [OrderRecord], record: &'a OrderRecord) -> Vec<&'a OrderRecord> {
    match orders.is_empty() {
        true => Vec::new(),
        false => orders
            .iter()
            .filter(|o| o.order_id != record.order_id)
            .chain([record])
            .collect(),
    }
}
