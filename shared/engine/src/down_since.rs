//! A late order placed while the customer held a tier that returns made
//! since took away.
//!
//! In time the order was paid at the tier held at its instant, and the
//! returns were judged with it counted: enough to keep the tier, and the
//! move down never happened. Decided at the tier held now, as before, it
//! was paid at the lower rate, and an upgrade it made was dated at its
//! instant, before the move down it would have prevented (the history out
//! of time order; found by the eighteenth session's adversary, D1 and
//! m4). It is decided at the tier held then, on the orders as they stood
//! then; the customer's course in time from its instant, with it counted,
//! says where they land, and a move down it would have prevented is undone
//! at the instant of the latest one, so the history stays in time order.
//!
//! The order is paid exactly as in time, and the customer lands on the
//! tier, since the instant, they would hold in time. The history follows
//! the course from the latest change since on (the latest move down, or a
//! later order's lift), from the tier held now: a change at that instant
//! when the course is above it there, and one at each later instant the
//! course changes (a later order that, with the late one counted, crossed;
//! a later return that still moved them). What the course did between the
//! order and that change (a move down that in time never came, an upgrade
//! in between, a lift back by a later order) is not told again: the feed
//! already holds what was published then, and a change dated before it
//! would break its time order.
//!
//! Only where that is exact: a move down by a return since its instant and
//! every change since a return's or an order's, no judged end after it, no
//! retention rule on the tiers it may restore nor, when held then and now,
//! on that tier (their validity periods would run from another start), a
//! course in time that starts where the order took the customer and, from
//! the latest change since on, never falls below the tier held now, and no
//! more than [`COURSE_INSTANTS`] instants to replay. Anything else is
//! decided at the tier held now, as before (docs/late-events.md).

use crate::events::{Order, OrderRecord};
use crate::held_then::{others_up_to_it_as_they_stood, HeldThen};
use crate::net_walk::NetWalk;
use crate::program::{Program, TierIndex};
use crate::reversal::CurrentRulesOnly;
use crate::state::{CustomerState, TierChange};
use crate::upgrade::Decision;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// Instants after a late order's own that its course in time is replayed
/// at (each a replay of every order); past them the order is decided at
/// the tier held now.
const COURSE_INSTANTS: usize = 32;

/// A customer whom returns made since a late order's instant moved down
/// from the tier they held then (and orders since may have lifted again).
pub(crate) struct MovedDownSince {
    pub(crate) then: TierIndex,
    /// When they reached `then`.
    reached: DateTime<Utc>,
    /// The latest change since (a move down, or an order's lift).
    last_change: DateTime<Utc>,
}

/// What the order, counted in time, makes of the moves down.
pub(crate) struct Undone {
    moved: MovedDownSince,
    /// The changes of the course in time (each instant's tier after its
    /// returns) from the latest change since on, starting from the tier
    /// held now: only the instants where the tier differs from the one
    /// before, each with its cause.
    course: Vec<Step>,
    /// Since when they hold the tier the course ends at, in time.
    since: DateTime<Utc>,
}

/// A change of the course in time from the tier held now.
struct Step {
    at: DateTime<Utc>,
    tier: TierIndex,
    cause: String,
}

impl Undone {
    /// The tier the order was decided at: held at its instant.
    pub(crate) fn held_then(&self) -> TierIndex {
        self.moved.then
    }
}

impl TierChange {
    /// A move down by a return (its own judgment, or one made after a late
    /// order upgraded).
    pub(crate) fn by_a_return(&self) -> bool {
        !self.admin && self.cause.starts_with("return")
    }

    /// An upgrade by an order, or a move back by a late one: what the
    /// orders, replayed, tell again.
    pub(crate) fn by_an_order(&self) -> bool {
        !self.admin && self.cause.starts_with("order ")
    }
}

impl Program {
    /// The sign: a return moved the customer down since `placed` from the
    /// tier held then, and every change since is a return's or an order's
    /// (a later order, or a late one that moved them back, may have lifted
    /// them to it again: then is now). As everywhere, a return at the
    /// order's own instant came after it, any other change of that instant
    /// before it.
    pub(crate) fn moved_down_since(
        &self,
        state: &CustomerState,
        placed: DateTime<Utc>,
    ) -> Option<MovedDownSince> {
        if self.upgrades_on_points_never_told(state)
            || state.judged.as_ref().is_some_and(|j| j.at >= placed)
        {
            return None;
        }
        let line = state.standing_changes();
        if line.last()?.to != state.tier {
            return None;
        }
        let first_after = line
            .iter()
            .position(|c| c.at > placed || (c.at == placed && c.by_a_return()))?;
        let (before, since) = line.split_at(first_after);
        if !since.iter().any(|c| c.by_a_return())
            || !since.iter().all(|c| c.by_a_return() || c.by_an_order())
        {
            return None;
        }
        // No change before it: the base tier, held since they joined.
        let (then, reached) = match before.last() {
            Some(held) => (self.tier_index(&held.to)?, held.at),
            None => (0, state.joined()),
        };
        let now = state.tier_index(self);
        // Held then and now since before it: an earlier late order already
        // set when they reached it in time, which the history may not tell
        // (its crossing had no change of its own).
        let reached = match then == now && state.tier_since <= placed {
            true => state.tier_since,
            false => reached,
        };
        // Held now, `tierSince` may move back: its validity would too.
        let first_restored = if then == now { now } else { now + 1 };
        if then < now || (first_restored..=then).any(|t| self.tiers[t].retention.is_some()) {
            return None;
        }
        Some(MovedDownSince {
            then,
            reached,
            last_change: since.last()?.at,
        })
    }

    /// The order decided at the tier held at its instant, on the orders
    /// placed up to it as they stood then, and the course in time with it
    /// counted; None where that is not exact (the module's list). The
    /// decision's upgrades are not changes of their own: in time the
    /// returns judged the tier they reached, and the changes made are the
    /// moves back from the tier held now, from the latest change since on.
    pub(crate) fn decided_before_moves_down(
        &self,
        state: &CustomerState,
        order: &Order,
        orders: &[OrderRecord],
        moved: MovedDownSince,
    ) -> Option<(Decision, Undone)> {
        let as_they_stood = others_up_to_it_as_they_stood(orders, order);
        let held = HeldThen::at_tier(self, moved.then);
        let mut walk = NetWalk::new(self, &as_they_stood, order.placed_at, state);
        let mut decision = self.decided_at_its_instant(&held, order, &mut walk);
        let record = self.record_of(state, order, &decision);
        let all: Vec<&OrderRecord> = orders
            .iter()
            .filter(|o| o.order_id != order.order_id)
            .chain([&record])
            .collect();
        let in_time = self.in_time_of(state, all, &CurrentRulesOnly);
        let instants = in_time.instants();
        let after = &instants[instants.partition_point(|t| *t < order.placed_at)..];
        if after.len() > COURSE_INSTANTS + 1 {
            return None;
        }
        let course = in_time.course_over(after);
        // It starts where the order took the customer.
        if course.first().map(|(_, tier)| *tier) != Some(decision.tier_after) {
            return None;
        }
        // Where it last changed: unchanged, held from the order's own
        // crossing, or from when the tier held then was reached.
        let since = course.windows(2).rev().find(|w| w[0].1 != w[1].1).map_or(
            match decision.upgrades.is_empty() {
                true => moved.reached,
                false => order.placed_at,
            },
            |w| w[1].0,
        );
        // From the latest change since on: each instant's tier after its
        // returns, never below the tier held now (the move down stands).
        let mut from_down: Vec<(DateTime<Utc>, TierIndex)> = Vec::new();
        for (at, tier) in course
            .into_iter()
            .filter(|(at, _)| *at >= moved.last_change)
        {
            match from_down.last_mut() {
                Some(last) if last.0 == at => last.1 = tier,
                _ => from_down.push((at, tier)),
            }
        }
        let now = state.tier_index(self);
        let highest = from_down.iter().map(|(_, t)| *t).max()?;
        if from_down.iter().any(|(_, t)| *t < now)
            || (now + 1..=highest.max(decision.tier_after))
                .any(|t| self.tiers[t].retention.is_some())
        {
            return None;
        }
        decision.upgrades.clear();
        let course = self.steps_from(now, from_down, orders, &record)?;
        Some((
            decision,
            Undone {
                moved,
                course,
                since,
            },
        ))
    }

    /// The course's changes from the tier held now, each with its cause: a
    /// step up the late order's (counted, an order crossed), a step down
    /// a return's made at its instant (in time, returns moved them then;
    /// of several orders returned at it, the one returned most, then the
    /// first by id, so a retried commit names the same). None when a step
    /// down has no return at its instant: the course would be told wrong.
    fn steps_from(
        &self,
        now: TierIndex,
        course: Vec<(DateTime<Utc>, TierIndex)>,
        orders: &[OrderRecord],
        late: &OrderRecord,
    ) -> Option<Vec<Step>> {
        let mut held = now;
        let mut steps = Vec::new();
        for (at, tier) in course {
            if tier == held {
                continue;
            }
            let cause = match tier < held {
                true => format!("return of order {}", returned_most_at(orders, at)?),
                false => format!("order {}", late.order_id),
            };
            steps.push(Step { at, tier, cause });
            held = tier;
        }
        Some(steps)
    }

    /// Undoes the moves down the order would have prevented, following its
    /// course from the tier held now: a change at the latest change since
    /// when the course is above it there, and one at each later instant
    /// the course changes (an order that, with it counted, crossed, or a
    /// return that still moved them). Held then and now with no change to
    /// make, they hold it since the course says: a dip and lift that in
    /// time never came stay published, as does everything before the
    /// latest change.
    pub(crate) fn undo_moves_down(&self, state: &mut CustomerState, undone: Undone) {
        // Since when they hold the tier the course ends at: also when no
        // change is made (the course stays at the tier held now, reached in
        // time at another instant), unless that tier's validity would move.
        let now = state.tier_index(self);
        let moved = !undone.course.is_empty() || self.tiers[now].retention.is_none();
        for step in undone.course {
            let from = self.tier_name(state.tier_index(self)).to_owned();
            state.record_change(
                TierChange {
                    from,
                    to: self.tier_name(step.tier).to_owned(),
                    at: step.at,
                    cause: step.cause,
                    config_version: None,
                    admin: false,
                },
                Vec::new(),
            );
        }
        if moved {
            state.tier_since = undone.since;
        }
    }
}

/// The id of the order returned most at `at` (the first by id of those
/// returned alike), None when no order was returned then.
pub(crate) fn returned_most_at<'o>(
    orders: impl IntoIterator<Item = &'o OrderRecord>,
    at: DateTime<Utc>,
) -> Option<&'o str> {
    orders
        .into_iter()
        .filter_map(|o| {
            let amount: Decimal = o
                .returns
                .iter()
                .filter(|r| r.at == at)
                .map(|r| r.amount)
                .sum();
            (!amount.is_zero()).then_some((amount, o.order_id.as_str()))
        })
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, id)| id)
}
