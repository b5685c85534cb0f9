//! The validity ends a late order's upgrade brought by the customer's
//! latest instant. In time, the upgrade started the new tier's validity at
//! its own instant, and the job and the orders placed after it judged each
//! end as it came: a move down, then the lift the next qualifying order
//! made, then that tier's own end. Once the late order counts, the same
//! course is followed here, in its own decision, on the figures as they
//! stand (README "Late events").

use crate::apply::kept_contribution;
use crate::config::Aggregate;
use crate::decimal::{Money, Points};
use crate::down_since::returned_most_at;
use crate::evaluate::Evaluator;
use crate::events::OrderRecord;
use crate::expired::ExpiredLot;
use crate::net_walk::{NetWalk, Parked};
use crate::notice::MAX_NOTICES_PER_DECISION;
use crate::period::day_of;
use crate::program::{Program, TierIndex};
use crate::returns::Downgrade;
use crate::reversal::CurrentRulesOnly;
use crate::series::Series;
use crate::state::{BestOrder, CustomerState, Lot, TierChange};
use crate::upgrade::Decision;
use crate::validity::period_end;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::cell::RefCell;
use std::collections::VecDeque;

/// Whether [`Program::tiers_over`] tells the tier amid an instant with a
/// return (its orders counted, its returns not yet made).
#[derive(Clone, Copy, PartialEq)]
enum Amid {
    Told,
    Untold,
}

/// Validity instants and warning days judged one by one at most, as
/// `expiry.rs` bounds them.
const MAX_INSTANTS: usize = 40_000;

/// Orders of one grace tried as its recovery at most: each counts every
/// order of the customer again (a grace holding thousands of orders took
/// seconds). Past them the grace runs out as if none recovered it.
const MAX_RECOVERY_TRIES: usize = 64;

impl Program {
    /// Keeps the upgrades of `decision` (dated among the orders) up to the
    /// first whose tier's validity, started at its instant, ends before the
    /// next one's instant: in time that end came between them, and what
    /// came after it is the lift an order made, which the course after the
    /// end finds. The highest tier the dating reached.
    pub(crate) fn cut_at_an_end_between(
        &self,
        decision: &mut Decision,
        joined: DateTime<Utc>,
    ) -> TierIndex {
        let reached = decision.tier_after;
        let cut = decision.upgrades.windows(2).position(|pair| {
            self.tiers()[pair[0].to]
                .retention
                .as_ref()
                .and_then(|r| period_end(r, pair[0].at, joined))
                .is_some_and(|end| end <= pair[1].at)
        });
        if let Some(i) = cut {
            decision.upgrades.truncate(i + 1);
            decision.tier_after = decision.upgrades[i].to;
        }
        reached
    }

    /// After a late upgrade whose last dated step came at `upgraded`: the
    /// validity instants and warning days the customer's tiers brought by
    /// their latest instant, and the lifts orders made between them, in
    /// time order, as the job and those orders had them in time. Each end
    /// is judged on the figures as they were just before it; each lift goes
    /// to the tier the orders, replayed, held then (at most `reached`).
    /// `orders`: every order of the customer, the late one among them;
    /// none read, the ends are judged on the figures as they stand and
    /// nothing lifts. Whether every end by the latest instant was judged
    /// (false: past one decision's notices, the rest stay due).
    pub(crate) fn judge_ends_after_late_upgrade(
        &self,
        state: &mut CustomerState,
        orders: &[&OrderRecord],
        upgraded: DateTime<Utc>,
        reached: TierIndex,
    ) -> bool {
        let Some(latest) = state.last_event_at else {
            return true;
        };
        if orders.is_empty() {
            self.catch_up_to_latest(state);
            return true;
        }
        let before = state.clone();
        if self.walk_ends_after_late_upgrade(state, orders, upgraded, reached, latest) {
            return true;
        }
        // Past one decision's notices: walked again without the warnings
        // of the ends it judges by the latest instant (their act-by date
        // is past, and each end's renewal or move down tells how it came
        // out), so that its changes reach that instant where they fit.
        *state = before;
        let told_every_warning = state.outbox.spare_warnings_of_ends_by(Some(latest));
        let caught_up = self.walk_ends_after_late_upgrade(state, orders, upgraded, reached, latest);
        state.outbox.spare_warnings_of_ends_by(told_every_warning);
        caught_up
    }

    /// [`Program::judge_ends_after_late_upgrade`] once, up to `latest`.
    fn walk_ends_after_late_upgrade(
        &self,
        state: &mut CustomerState,
        orders: &[&OrderRecord],
        upgraded: DateTime<Utc>,
        reached: TierIndex,
        latest: DateTime<Utc>,
    ) -> bool {
        let figures = Figures::of(self, state, orders);
        // The warning days of the tiers held from the upgrade on come in
        // this walk, though the tier held before warned later ones.
        if state.warned_through.is_some_and(|done| done > upgraded) {
            state.warned_through = Some(upgraded);
        }
        // Orders placed after this instant may lift the customer next;
        // returns made from `returns_from` on may move them down (a return
        // at an order's instant came after it).
        let mut after = upgraded;
        let mut returns_from = upgraded;
        let mut caught_up = true;
        for _ in 0..MAX_INSTANTS {
            let next = [self.next_validity_instant(state), self.next_warning(state)]
                .into_iter()
                .flatten()
                .min()
                .filter(|at| *at <= latest);
            let before = next.unwrap_or(latest + chrono::Duration::nanoseconds(1));
            let lift = self.next_lift(state, &figures, after, before, reached);
            let until = lift.map_or(before, |(at, _)| at);
            let down = self.next_move_down_by_return(state, &figures, returns_from, until);
            // In a grace, an order placed before the lift's instant (at it
            // the upgrade came first), or at or before a return's that
            // moves the customer down, may meet the condition and renew.
            let until = down.map_or(until, |(at, _)| at + chrono::Duration::nanoseconds(1));
            if let Some(at) = self.next_recovery(state, &figures, after, until) {
                if state.outbox.notices().len() >= MAX_NOTICES_PER_DECISION {
                    caught_up = false;
                    break;
                }
                self.recover_by_order(state, at);
                after = at;
                returns_from = at;
                continue;
            }
            if let Some((at, to)) = down.or(lift) {
                // One notice more: past the decision's, it waits with the
                // ends after it.
                if state.outbox.notices().len() >= MAX_NOTICES_PER_DECISION {
                    caught_up = false;
                    break;
                }
                match down.is_some() {
                    true => {
                        self.move_down_by_returns_at(state, figures.orders, at, to);
                        returns_from = at + chrono::Duration::nanoseconds(1);
                    }
                    false => {
                        self.lift(state, &figures, at, to);
                        returns_from = at;
                    }
                }
                after = at;
                continue;
            }
            let Some(at) = next else {
                break;
            };
            figures.as_of(self, state, at);
            if !self
                .expire_publishing_at_most(state, at, MAX_NOTICES_PER_DECISION)
                .1
            {
                caught_up = false;
                break;
            }
            // An order or a return at the end's own instant came after it.
            after = at - chrono::Duration::nanoseconds(1);
            returns_from = at;
        }
        figures.restore(state);
        caught_up
            && self
                .expire_publishing_at_most(state, latest, MAX_NOTICES_PER_DECISION)
                .1
    }

    /// The first instant of an order placed after `after` and before
    /// `before` at which the orders, replayed with the history as it
    /// stands, hold a tier above the one held now, and that tier (at most
    /// `reached`): one replay of the orders per stretch between returns.
    fn next_lift(
        &self,
        state: &CustomerState,
        figures: &Figures,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
        reached: TierIndex,
    ) -> Option<(DateTime<Utc>, TierIndex)> {
        let held = state.tier_index(self);
        if held >= reached {
            return None;
        }
        let instants = figures.instants_between(after, before);
        if instants.is_empty() {
            return None;
        }
        // Amid an instant too: an order lifts before a return of its
        // instant takes the customer back, as in time (up, then down).
        self.tiers_over(state, figures, &instants, before, Amid::Told)
            .map(|(at, tier)| (at, tier.min(reached)))
            .find(|(_, tier)| *tier > held)
    }

    /// The tier the orders, replayed with the history as it stands, hold
    /// just after each of `instants` (before `before`), its returns made;
    /// where `amid` is told, before them too, once its orders counted.
    fn tiers_over(
        &self,
        state: &CustomerState,
        figures: &Figures,
        instants: &[DateTime<Utc>],
        before: DateTime<Utc>,
        amid: Amid,
    ) -> impl Iterator<Item = (DateTime<Utc>, TierIndex)> {
        // Orders placed from `before` on change nothing the replay tells
        // before it.
        let placed = figures.by_time[..figures.placed_before(before)].to_vec();
        let course = self
            .in_time_of(state, placed, &CurrentRulesOnly)
            .course_over(instants);
        // An instant with a return is told twice, its orders counted and
        // then its returns made: the tier after it is the second.
        let told: Vec<bool> = (0..course.len())
            .map(|i| {
                amid == Amid::Told || course.get(i + 1).is_none_or(|next| next.0 != course[i].0)
            })
            .collect();
        course
            .into_iter()
            .zip(told)
            .filter_map(|(step, told)| told.then_some(step))
    }

    /// The first instant from `from` on, and before `before`, at which
    /// the returns made then take the customer below the tier held, and
    /// the tier they land on: the orders placed by then, as they stood
    /// just after it, replayed with the history as it stands (as the
    /// return, judged in time, found). One replay per return instant.
    fn next_move_down_by_return(
        &self,
        state: &mut CustomerState,
        figures: &Figures,
        from: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, TierIndex)> {
        let held = state.tier_index(self);
        let mut instants: Vec<DateTime<Utc>> = figures
            .returned
            .iter()
            .flat_map(|o| o.returns.iter().map(|r| r.at))
            .filter(|at| *at >= from && *at < before)
            .collect();
        if held == 0 || instants.is_empty() {
            return None;
        }
        instants.sort_unstable();
        instants.dedup();
        // The replay only lowers the tier at a mark; after one, orders
        // lift it. Where the held tier's own rule holds on the figures
        // just after a return, it held at the last order before it too
        // (windows only lose days, and the orders stood then as they stand
        // at the return), so the replay still reaches it: no replay needed.
        instants.retain(|at| {
            figures.just_after(self, state, *at);
            Evaluator::new(self, state, *at, 0, None)
                .holds(held, Decimal::ZERO, Decimal::ZERO)
                .is_none()
        });
        if instants.is_empty() {
            return None;
        }
        self.tiers_over(state, figures, &instants, before, Amid::Untold)
            .find(|(_, tier)| *tier < held)
    }

    /// Moves the customer down to `to` at `at`, as the returns made then
    /// did in time: each upgrade passed undone, told as the return of the
    /// order returned most then.
    fn move_down_by_returns_at(
        &self,
        state: &mut CustomerState,
        orders: &[&OrderRecord],
        at: DateTime<Utc>,
        to: TierIndex,
    ) {
        let cause = format!(
            "return of order {}",
            returned_most_at(orders.iter().copied(), at).unwrap_or_default()
        );
        let held = state.tier_index(self);
        for step in self.reversed_steps(state, held, to, at) {
            // The walk goes in time: the move came at the returns' instant,
            // though the history still holds changes told after it (the
            // course it replaces), which would date a late return's later.
            let step = Downgrade { at, ..step };
            state.record_change(self.move_down_by_return(&step, &cause), Vec::new());
        }
    }

    /// The first instant of an order placed after `after` and before
    /// `before`, in a grace, on whose figures (that order counted) the
    /// tier's retention condition holds. Leaves the state's figures as of
    /// the last instant tried.
    fn next_recovery(
        &self,
        state: &mut CustomerState,
        figures: &Figures,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let grace = state.grace_until?;
        let (tier, r) = self.retention_of(state)?;
        let mut instants = figures.instants_between(after, before.min(grace));
        instants.truncate(MAX_RECOVERY_TRIES);
        instants.into_iter().find(|at| {
            figures.just_after(self, state, *at);
            self.retention_outcome(state, tier, r, *at).0
        })
    }

    /// Lifts the customer to `to` at `at`, told as the order placed then
    /// (the first by id) would have, with the criteria of `to` its
    /// figures met.
    fn lift(&self, state: &mut CustomerState, figures: &Figures, at: DateTime<Utc>, to: TierIndex) {
        figures.just_after(self, state, at);
        let criteria = self.tiers()[to]
            .rule
            .as_ref()
            .map(|rule| {
                let met = Evaluator::new(self, state, at, 0, None).met(
                    rule,
                    Decimal::ZERO,
                    Decimal::ZERO,
                );
                rule.ids(met, true)
            })
            .unwrap_or_default();
        let cause = figures.by_time[figures.placed_before(at)
            ..figures.placed_before(at + chrono::Duration::nanoseconds(1))]
            .iter()
            .map(|o| o.order_id.as_str())
            .min()
            .unwrap_or_default();
        let change = TierChange {
            from: state.tier.clone(),
            to: self.tier_name(to).to_owned(),
            at,
            cause: format!("order {cause}"),
            config_version: Some(self.version()),
            admin: false,
        };
        state.record_change(change, criteria);
    }
}

/// The figures an end is judged on, as the customer's latest instant has
/// them, and the orders in time order: each end reads the orders placed
/// after it and the windows before it, not every order (a walk over years
/// of orders judges dozens of ends).
struct Figures<'a> {
    trackers: Vec<Series>,
    lifetime_purchases: Money,
    lifetime_points: Points,
    current_points: Points,
    /// The lots and what expiry took, as they stand: the walk expires the
    /// lots at each end against the figures then, and the customer's own
    /// expire from these once it is done (restoring current points alone
    /// left the lots that expired in the walk gone, their points kept).
    lots: VecDeque<Lot>,
    expired_lots: VecDeque<ExpiredLot>,
    best_orders: Vec<BestOrder>,
    orders: &'a [&'a OrderRecord],
    by_time: Vec<&'a OrderRecord>,
    /// What the orders from each index of `by_time` on count now (net of
    /// returns): purchases, then points.
    counted_from: Vec<(Money, Points)>,
    /// The orders something was returned from, in time order: as of an
    /// instant after one, it may not have been returned yet.
    returned: Vec<&'a OrderRecord>,
    /// Whether current points as of an instant are replayed with expiry
    /// on the orders' lots: a rule reads them, points expire, and the
    /// orders tell what expired (`Program::orders_tell_what_expired`).
    replays_expiry: bool,
    /// The latest walk of the figures as of an instant (an end, or just
    /// after an instant looked at for a lift or a recovery) with expiry
    /// replayed, where no order was returned (the orders stand the same
    /// at every instant): the next one, later, goes on from it instead of
    /// walking from the first order again.
    walked: RefCell<Option<Parked>>,
}

impl<'a> Figures<'a> {
    fn of(program: &Program, state: &CustomerState, orders: &'a [&'a OrderRecord]) -> Self {
        let mut by_time = orders.to_vec();
        by_time.sort_by_key(|o| o.placed_at);
        let replays_expiry = program.replays_expiry()
            && (program.keeps_by_current_points() || program.counts_current_points())
            && program.orders_tell_what_expired(state, &by_time);
        let mut counted_from = vec![(Decimal::ZERO, Decimal::ZERO); by_time.len() + 1];
        for (i, record) in by_time.iter().enumerate().rev() {
            let (purchases, points) = counted_from[i + 1];
            let bought = match record.counts_for_purchases {
                true => record.amount - record.returned_amount,
                false => Decimal::ZERO,
            };
            counted_from[i] = (
                purchases + bought,
                points + (record.points_awarded - record.points_reversed),
            );
        }
        let returned = by_time
            .iter()
            .copied()
            .filter(|o| o.returned_amount > Decimal::ZERO)
            .collect();
        Figures {
            trackers: state.trackers.clone(),
            lifetime_purchases: state.lifetime_purchases,
            lifetime_points: state.lifetime_points,
            current_points: state.current_points,
            lots: state.lots.clone(),
            expired_lots: state.expired_lots.clone(),
            best_orders: state.best_orders.clone(),
            orders,
            by_time,
            counted_from,
            returned,
            replays_expiry,
            walked: RefCell::new(None),
        }
    }

    /// How many orders were placed before `at`.
    fn placed_before(&self, at: DateTime<Utc>) -> usize {
        self.by_time.partition_point(|o| o.placed_at < at)
    }

    /// The instants orders were placed at after `after` and before
    /// `before`, once each, in time order.
    fn instants_between(&self, after: DateTime<Utc>, before: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let from = self.by_time.partition_point(|o| o.placed_at <= after);
        let to = self.placed_before(before).max(from);
        let mut instants: Vec<DateTime<Utc>> =
            self.by_time[from..to].iter().map(|o| o.placed_at).collect();
        instants.dedup();
        instants
    }

    /// Sets the state's figures to what they were just before `at`: the
    /// windows and the largest orders counted again from the orders placed
    /// before it, as they stood then, and the lifetime figures less what
    /// came at it or after.
    fn as_of(&self, program: &Program, state: &mut CustomerState, at: DateTime<Utc>) {
        self.as_of_spent_before(program, state, at, at);
    }

    /// [`Figures::as_of`] just after the orders (or returns) of `at`: a
    /// redemption of that instant came after them, but where one of them
    /// was decided after it.
    fn just_after(&self, program: &Program, state: &mut CustomerState, at: DateTime<Utc>) {
        let from = self.by_time.partition_point(|o| o.placed_at < at);
        let after_redemption = self.by_time[from..]
            .iter()
            .take_while(|o| o.placed_at == at)
            .any(|o| o.after_redemption);
        let spent_before = crate::redeemed::spent_by(at, after_redemption);
        self.as_of_spent_before(
            program,
            state,
            at + chrono::Duration::nanoseconds(1),
            spent_before,
        );
    }

    /// [`Figures::as_of`] `at`, with current points less the redemptions
    /// made before `spent_before`.
    fn as_of_spent_before(
        &self,
        program: &Program,
        state: &mut CustomerState,
        at: DateTime<Utc>,
        spent_before: DateTime<Utc>,
    ) {
        let placed = self.placed_before(at);
        let (later_purchases, later_points) = self.counted_from[placed];
        let mut purchases = self.lifetime_purchases - later_purchases;
        let mut points = self.lifetime_points - later_points;
        // Returns made at `at` or after, from orders placed before it.
        for record in self.returned.iter().take_while(|o| o.placed_at < at) {
            let then = record.as_it_stood(at);
            if record.counts_for_purchases {
                purchases += record.returned_amount - then.returned_amount;
            }
            points += record.points_reversed - then.points_reversed;
        }
        state.lifetime_purchases = purchases;
        state.lifetime_points = points;
        if self.replays_expiry {
            // What expired by then is in no figure: each order's lot, as
            // it stood then, expires as in time (`net_walk.rs`), and the
            // lots are those then, so that the end's own expiry takes
            // nothing twice. One walk from the first order an instant (a
            // late decision judges a few ends; where nothing was returned,
            // one walk on from the end before: docs/benchmarks.md).
            let (current_points, lots) = match self.returned.is_empty() {
                true => self.walked_on(program, state, at, spent_before),
                false => {
                    let stood: Vec<_> = self.by_time[..placed]
                        .iter()
                        .map(|o| o.as_it_stood(at))
                        .collect();
                    let mut walk = NetWalk::new(program, &stood, at, state);
                    while walk.step().is_some() {}
                    walk.spend_before(spent_before);
                    (walk.net.current_points, walk.net.lots)
                }
            };
            state.current_points = current_points;
            state.lots = lots;
        } else {
            // The walk reads current points only where nothing but the
            // redemptions read took from them alone
            // (`orders_tell_current_points`): they moved as lifetime points
            // did, less what was redeemed before the instant.
            // (Equal now, they are the same figure then, at the scale the
            // lifetime one has: a scale is never told.)
            let redemptions = state
                .redemptions
                .as_ref()
                .filter(|r| self.current_points == self.lifetime_points - r.total());
            state.current_points = match redemptions {
                Some(r) => points - r.before(spent_before),
                None if self.current_points == self.lifetime_points => points,
                None => self.current_points - (self.lifetime_points - points),
            };
        }
        // The largest orders placed before it, as they stood: a pass over
        // the orders at each end, so only when a rule reads them.
        if program.reads_single_orders() {
            state.best_orders.clear();
            for record in self
                .orders
                .iter()
                .filter(|o| o.placed_at < at && o.counts_for_purchases)
            {
                state.set_best_order(&record.order_id, record.as_it_stood(at).remaining());
            }
        }
        self.windows_as_of(program, state, placed, at);
    }

    /// Current points and lots just before `at` less the redemptions made
    /// before `spent_before`, expiry replayed on the orders' lots, none of
    /// them returned: the walk goes on from where the latest call left it
    /// when that was no later, as a walk from the first order would.
    fn walked_on(
        &self,
        program: &Program,
        state: &CustomerState,
        at: DateTime<Utc>,
        spent_before: DateTime<Utc>,
    ) -> (Points, VecDeque<Lot>) {
        let parked = self.walked.take().filter(|p| p.at <= at);
        let mut walk = match parked {
            Some(parked) => NetWalk::resume(program, &self.by_time, state, parked),
            None => NetWalk::new(program, &self.by_time, at, state),
        };
        walk.step_before(at);
        self.walked.replace(Some(walk.park(at)));
        walk.spend_before(spent_before);
        (walk.net.current_points, walk.net.lots)
    }

    /// The windows counted again from the orders placed before `at` (the
    /// first `placed` in time order), as they stood then.
    fn windows_as_of(
        &self,
        program: &Program,
        state: &mut CustomerState,
        placed: usize,
        at: DateTime<Utc>,
    ) {
        let day = day_of(at);
        let before = &self.by_time[..placed];
        for ((tracker, series), kept) in program
            .trackers()
            .iter()
            .zip(state.trackers.iter_mut())
            .zip(&self.trackers)
        {
            let first = tracker.kept_from(day);
            *series = Series::new(kept.key.clone());
            let from = before.partition_point(|o| day_of(o.placed_at) < first);
            for record in &before[from..] {
                let then = record.as_it_stood(at);
                let value = kept_contribution(tracker, &then, then.returned_amount);
                match tracker.aggregate {
                    Aggregate::Sum => series.add(day_of(record.placed_at), value),
                    Aggregate::Max => series.raise_max(day_of(record.placed_at), value),
                }
            }
        }
    }

    fn restore(self, state: &mut CustomerState) {
        state.trackers = self.trackers;
        state.lifetime_purchases = self.lifetime_purchases;
        state.lifetime_points = self.lifetime_points;
        state.current_points = self.current_points;
        state.lots = self.lots;
        state.expired_lots = self.expired_lots;
        state.best_orders = self.best_orders;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Order, OrderStatus};
    use crate::redeemed::{spent_by, Redeemed, Redemptions};
    use chrono::Duration;
    use proptest::prelude::*;

    fn program(expiry_days: u32) -> Program {
        let config = serde_json::json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "pointsExpiry": {"days": expiry_days},
            "tiers": [{"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "currentPoints", "min": 1_000_000}],
                    "condition": "all", "upgradeType": "lazy"}}]
        });
        Program::validate(serde_json::from_value(config).unwrap()).unwrap()
    }

    fn order(i: usize, at: DateTime<Utc>, dollars: u32) -> Order {
        Order {
            order_id: format!("o{i}"),
            customer_id: "c".into(),
            placed_at: at,
            status: OrderStatus::Completed,
            amount: Decimal::from(dollars),
            gross_amount: None,
            currency: None,
            line_items: vec![],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

        /// Judging ends one after another (at times going back), each
        /// walk going on from the one before gives what a walk from the
        /// first order gives.
        #[test]
        fn a_walk_gone_on_from_the_end_before_is_a_walk_from_the_first_order(
            expiry_days in 1u32..40,
            orders in proptest::collection::vec((0i64..90, 1u32..500), 1..12),
            spent in proptest::collection::vec((0i64..90, 1u32..200, any::<bool>()), 0..4),
            ends in proptest::collection::vec((0i64..100, 0u8..3), 1..8),
            after_redemption in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let p = program(expiry_days);
            let start: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
            let day = |d: i64| start + Duration::days(d);
            let mut state = CustomerState::new(&p, start);
            let mut placed: Vec<_> = orders.iter().map(|(d, dollars)| (day(*d), *dollars)).collect();
            placed.sort();
            // Some decided after a redemption of their instant (as a late
            // order is): the walk spends it before them.
            let records: Vec<OrderRecord> = placed
                .iter()
                .enumerate()
                .map(|(i, (at, dollars))| {
                    let mut record = p.apply_order(&mut state, &order(i, *at, *dollars)).unwrap().record;
                    record.after_redemption = after_redemption[i];
                    record
                })
                .collect();
            let redeemed = spent
                .iter()
                .map(|(d, points, on_an_order)| Redeemed {
                    at: if *on_an_order { placed[*d as usize % placed.len()].0 } else { day(*d) + Duration::hours(5) },
                    points: Decimal::from(*points),
                })
                .collect();
            state.redemptions = Some(Redemptions::new(redeemed));
            let refs: Vec<&OrderRecord> = records.iter().collect();
            let figures = Figures::of(&p, &state, &refs);
            for (d, how) in ends {
                // At an order's instant, just after its orders, or between.
                let at = match how {
                    0 => placed[d as usize % placed.len()].0,
                    1 => placed[d as usize % placed.len()].0 + Duration::nanoseconds(1),
                    _ => day(d) + Duration::hours(3),
                };
                let spent_before = match how {
                    1 => spent_by(at - Duration::nanoseconds(1), d % 2 == 0),
                    _ => at,
                };
                let gone_on = figures.walked_on(&p, &state, at, spent_before);
                let before = &figures.by_time[..figures.placed_before(at)];
                let mut fresh = NetWalk::new(&p, before, at, &state);
                while fresh.step().is_some() {}
                fresh.spend_before(spent_before);
                prop_assert_eq!(gone_on.0, fresh.net.current_points, "at {}", at);
                prop_assert_eq!(gone_on.1, fresh.net.lots, "lots at {}", at);
            }
        }
    }
}
