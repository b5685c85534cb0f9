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
//! tier, since the instant, they would hold in time. The history gets one
//! change, from the tier held now to that tier, at the latest move down:
//! an upgrade the order (or a later order, with it counted) would have
//! made in time before that move is not a change of its own.
//!
//! Only where that is exact: every change since its instant a move down by
//! a return, no judged end after it, no retention rule on the tiers it may
//! restore (their validity periods would have run from the earlier start),
//! a course in time that starts where the order took the customer, and
//! no more than [`COURSE_INSTANTS`] instants to replay. Anything else is
//! decided at the tier held now, as before (docs/late-events.md).

use crate::events::{Order, OrderRecord};
use crate::held_then::HeldThen;
use crate::net_walk::NetWalk;
use crate::program::{Program, TierIndex};
use crate::reversal::{CurrentRulesOnly, InTime};
use crate::state::{CustomerState, TierChange};
use crate::upgrade::Decision;
use chrono::{DateTime, Utc};
use std::borrow::Cow;

/// Instants after a late order's own that its course in time is replayed
/// at (each a replay of every order); past them the order is decided at
/// the tier held now.
const COURSE_INSTANTS: usize = 32;

/// A customer whom returns made since a late order's instant moved down
/// from the tier they held then.
pub(crate) struct MovedDownSince {
    pub(crate) then: TierIndex,
    /// When they reached `then`.
    reached: DateTime<Utc>,
    /// The latest move down.
    last_down: DateTime<Utc>,
}

/// What the order, counted in time, makes of the moves down.
pub(crate) struct Undone {
    moved: MovedDownSince,
    landing: TierIndex,
    /// Since when they hold `landing` in time.
    since: DateTime<Utc>,
}

impl TierChange {
    /// A move down by a return (its own judgment, or one made after a late
    /// order upgraded).
    fn by_a_return(&self) -> bool {
        !self.admin && self.cause.starts_with("return")
    }
}

impl Program {
    /// The sign: the customer held a higher tier at `placed`, and every
    /// change since is a move down by a return.
    pub(crate) fn moved_down_since(
        &self,
        state: &CustomerState,
        placed: DateTime<Utc>,
    ) -> Option<MovedDownSince> {
        if self.counts_current_points() || state.judged.as_ref().is_some_and(|j| j.at >= placed) {
            return None;
        }
        let line = state.standing_changes();
        let first_after = line.partition_point(|c| c.at < placed);
        let since = &line[first_after..];
        // A change at the order's own instant: which came first is not told.
        if since.is_empty() || since[0].at == placed || !since.iter().all(|c| c.by_a_return()) {
            return None;
        }
        let (then, reached) = self.tier_held_at(state, placed)?;
        let now = state.tier_index(self);
        if then <= now || (now + 1..=then).any(|t| self.tiers[t].retention.is_some()) {
            return None;
        }
        Some(MovedDownSince {
            then,
            reached: reached?,
            last_down: since.last()?.at,
        })
    }

    /// The order decided at the tier held at its instant, on the orders
    /// placed up to it as they stood then, and where the course in time
    /// with it counted lands; None where that is not exact (the module's
    /// list). The decision's upgrades are not changes of their own: in time
    /// the return judged the tier they reached, and the one change made is
    /// the move back from the tier held now.
    pub(crate) fn decided_before_moves_down(
        &self,
        state: &CustomerState,
        order: &Order,
        orders: &[OrderRecord],
        moved: MovedDownSince,
    ) -> Option<(Decision, Undone)> {
        let mut as_they_stood: Vec<Cow<'_, OrderRecord>> = orders
            .iter()
            .filter(|o| o.order_id != order.order_id)
            .map(|o| o.as_it_stood(order.placed_at))
            .collect();
        as_they_stood.sort_by_key(|o| o.placed_at);
        let held = HeldThen::at_tier(self, moved.then);
        let mut walk = NetWalk::new(self, &as_they_stood, order.placed_at);
        let mut decision = self.decided_at_its_instant(&held, order, &mut walk);
        let record = self.record_of(state, order, &decision);
        let all: Vec<&OrderRecord> = orders
            .iter()
            .filter(|o| o.order_id != order.order_id)
            .chain([&record])
            .collect();
        let in_time = self.in_time_of(state, all, &CurrentRulesOnly);
        let (landing, changed) = course_from(&in_time, order.placed_at, decision.tier_after)?;
        let now = state.tier_index(self);
        let restored = landing.max(decision.tier_after);
        if landing < now || (now + 1..=restored).any(|t| self.tiers[t].retention.is_some()) {
            return None;
        }
        decision.upgrades.clear();
        let since = changed.unwrap_or(moved.reached);
        Some((
            decision,
            Undone {
                moved,
                landing,
                since,
            },
        ))
    }

    /// Undoes the moves down the order would have prevented: one change
    /// from the tier held now, at the latest of them.
    pub(crate) fn undo_moves_down(
        &self,
        state: &mut CustomerState,
        undone: Undone,
        order_id: &str,
    ) {
        let now = state.tier_index(self);
        if undone.landing <= now {
            return;
        }
        state.record_change(
            TierChange {
                from: self.tier_name(now).to_owned(),
                to: self.tier_name(undone.landing).to_owned(),
                at: undone.moved.last_down,
                cause: format!("order {order_id}"),
                config_version: None,
                admin: false,
            },
            Vec::new(),
        );
        state.tier_since = undone.since;
    }
}

/// The tier held in time from `placed` on, at each instant an order was
/// placed, a return made or the history changed: where it ends, and the
/// instant of its last change. None unless it starts at `reached`, the
/// tier the order left the customer at, or past [`COURSE_INSTANTS`].
fn course_from(
    in_time: &InTime<'_>,
    placed: DateTime<Utc>,
    reached: TierIndex,
) -> Option<(TierIndex, Option<DateTime<Utc>>)> {
    let instants = in_time.instants();
    let after = &instants[instants.partition_point(|t| *t < placed)..];
    if after.len() > COURSE_INSTANTS + 1 {
        return None;
    }
    let mut tier = None;
    let mut changed = None;
    for at in after {
        for held in in_time
            .tier_amid(*at)
            .into_iter()
            .chain([in_time.tier_after(*at)])
        {
            match tier {
                None if held != reached => return None,
                Some(t) if held != t => changed = Some(*at),
                _ => {}
            }
            tier = Some(held);
        }
    }
    Some((tier?, changed))
}
