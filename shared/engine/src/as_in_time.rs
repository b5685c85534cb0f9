//! Which late path decides an order, and what it decided. An order placed
//! before events already counted is decided as it would have been in time:
//! at the tier held at its instant (before a judged end it comes before,
//! `rejudge.rs`; before a move down since, `down_since.rs`; below a tier
//! reached since, `held_then.rs`; before returns made since), and with its
//! upgrades dated when they would have come (`late_upgrade.rs`). An order
//! in time takes none of these paths and is decided on the state as it is.

use crate::down_since::Undone;
use crate::events::{Order, OrderRecord};
use crate::held_then::{others_as_they_stood, HeldThen};
use crate::program::{Program, TierIndex};
use crate::rejudge::Rewound;
use crate::state::CustomerState;
use crate::upgrade::{Decision, Upgrade};
use chrono::{DateTime, Utc};
use smallvec::SmallVec;
use std::borrow::Cow;

/// An order decided as in time, with what applying it needs from the path
/// that decided it.
pub(crate) struct DecidedAsInTime {
    pub(crate) decision: Decision,
    /// A judged end after the order, set aside while it is decided and
    /// restored once it counts (None when its upgrade superseded the end).
    pub(crate) rewound: Option<Rewound>,
    /// The tier held now, which the order's upgrade is told from, when
    /// that upgrade superseded a judged end after it.
    pub(crate) superseded: Option<String>,
    /// Decided at a lower tier held at its instant.
    pub(crate) held_then: Option<HeldThen>,
    /// Decided at a higher tier held at its instant, upgrading nobody
    /// there (the walk of the course says where the customer lands).
    pub(crate) decided_higher: bool,
    /// Moves down since its instant that the order, counted then, undoes.
    pub(crate) undone: Option<Undone>,
    /// A return made since moved the customer below the tier held then.
    pub(crate) moved_down_sign: bool,
    /// Placed before a return already made, the customer's tier unchanged
    /// since.
    pub(crate) returns_since: bool,
    /// Decided on the orders as they stood at its instant.
    pub(crate) decided_then: bool,
    /// Its upgrades reach past a tier the customer reached since.
    pub(crate) crossed_since: bool,
    /// Its upgrades may be dated among the orders.
    pub(crate) could_date: bool,
    /// The highest tier its dated upgrades reached, though the decision
    /// keeps only those up to a validity end between two of them
    /// (`late_ends.rs`).
    pub(crate) reached: TierIndex,
    /// Its dated upgrades to tiers the customer reached since, when it
    /// also upgrades past them: in time they came at these instants (no
    /// validity end or return since to take them back in between).
    pub(crate) reached_earlier: SmallVec<[Upgrade; 1]>,
    /// The tier held at its instant, when its first upgrade jumps past a
    /// tier the customer reached since in one step (the history tells it
    /// from there, so it chains where it is dated).
    pub(crate) jumped_from: Option<TierIndex>,
}

impl Program {
    /// Decides `order` (`late`: placed before the customer's latest event)
    /// as in time, among the customer's other `orders` (empty when not
    /// read). The state is as it was once this returns, but for a judged
    /// end set aside (`rewound`, or one its upgrade replaced).
    pub(crate) fn decide_as_in_time(
        &self,
        state: &mut CustomerState,
        order: &Order,
        orders: &[OrderRecord],
        late: bool,
    ) -> DecidedAsInTime {
        let moot_end = self.lapses && state.judged.is_some() && !self.judged_end_stands(state);
        let mut rewound = self
            .lapses
            .then(|| self.rewind_for(state, order.placed_at))
            .flatten();
        // Held a tier at its instant that a return made since took away
        // (`down_since.rs`); at the instant of the latest return too: it
        // came after the order. Looked for before the step back, which
        // counts a return at the order's instant before it.
        let moved_down = match &rewound {
            // Among the orders, only where they tell current points.
            None if late || state.returned_at_or_after(order.placed_at) => self
                .moved_down_since(state, order.placed_at)
                .filter(|_| orders.is_empty() || !self.upgrades_on_untold_points(state)),
            _ => None,
        };
        let mut held_then = match (&rewound, &moved_down) {
            (None, None) => self.step_back_for(state, order.placed_at),
            (Some(_), None) => self.step_back_before_an_end(state, order.placed_at),
            _ => None,
        };
        let moved_down_sign = moved_down.is_some();
        let mut undone = None;
        let held_higher = match (&rewound, &moved_down, &held_then) {
            (None, None, None) if late && self.lapses => {
                self.decided_at_a_higher_tier_held_then(state, order, orders)
            }
            _ => None,
        };
        let decided_higher = held_higher.is_some();
        let mut decision = held_higher.unwrap_or_else(|| self.decide(state, order));
        // Where expiry is replayed (`replays_expiry`), the figures as
        // they stand miss what expired or was spent since its instant, and
        // count its own points though they may have expired by now: it is
        // decided on the orders placed up to it, at the tier held then.
        let replays_expiry =
            late && !orders.is_empty() && self.counts_current_points() && self.replays_expiry();
        if replays_expiry && moved_down.is_none() && held_then.is_none() && !decided_higher {
            if let Some(mut now) = HeldThen::at_tier_held_now(self, state) {
                // Returns made since would have judged what it reached on
                // the orders as they stand (`reversal.rs`): decided so.
                let then = match state.returned_at_or_after(order.placed_at) {
                    true => self.decided_among_as_they_stand(state, &mut now, order, orders),
                    false => self.decided_among(state, &mut now, order, orders),
                };
                if let Some(then) = then {
                    decision = then;
                }
            }
        }
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
                if let Some(mut then) =
                    self.decided_before_returns(state, &h, order, &as_they_stood)
                {
                    let record = self.record_of(state, order, &then);
                    self.date_late_upgrades(state, &mut then, &record, &as_they_stood);
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
            if let Some(then) = self.decided_among(state, h, order, orders) {
                decision = then;
                decided_then = true;
            }
            h.restore(state);
            crossed_since = !h.keep_upgrades_past(&mut decision).dropped.is_empty();
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
        if late && superseded.is_none() && rewound.is_none() {
            // The end its upgrade replaced is set aside: the upgrade is
            // dated among the orders as where no end was judged.
            self.set_aside_an_end_a_late_upgrade_replaced(state, moot_end, &decision.upgrades);
        }
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
        let mut reached = decision.tier_after;
        let mut reached_earlier = SmallVec::new();
        let mut jumped_from = None;
        if !orders.is_empty() && could_date && !dated_before_returns {
            // The record as `record_of` makes it, before the upgrades are
            // dated (it reads no instant of theirs).
            let record = self.record_of(state, order, &decision);
            self.date_late_upgrades(state, &mut decision, &record, orders);
            if let Some(h) = &held_then {
                let kept = h.keep_upgrades_past(&mut decision);
                let stands = |at: DateTime<Utc>| !self.lapses && !state.returned_at_or_after(at);
                match (kept.dropped.first(), decision.upgrades.first()) {
                    (Some(first), Some(_)) if stands(first.at) => reached_earlier = kept.dropped,
                    (None, Some(first)) if stands(first.at) => jumped_from = kept.jumped_from,
                    _ => {}
                }
            }
            if self.lapses {
                reached = self.cut_at_an_end_between(&mut decision, state.joined());
            }
        }
        DecidedAsInTime {
            decision,
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
        }
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
