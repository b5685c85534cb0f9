//! The tier a late order is decided at: the one held at its instant.
//!
//! An order placed before the customer's latest upgrade (a point of sale
//! that uploads days late) would in time have been decided at the tier the
//! customer held then, on the orders placed up to it: paid at that tier's
//! rate, and judged for upgrades from there. It is decided so now, on the
//! customer's orders when they were read ([`crate::AppliedOrder::wants_orders`]
//! asks for them when the figures as they stand, which count the orders
//! placed after it, would let it cross). Only the upgrades past the tier
//! held now change the customer; one to a tier they reached since, by
//! other orders, is no change of theirs (see the README for what that
//! leaves). A customer who held a higher tier then (moved down since) is
//! decided at the tier held now, except after a judged end
//! ([`crate::rejudge`]).

use crate::evaluate::Evaluator;
use crate::events::{Order, OrderRecord};
use crate::net_walk::NetWalk;
use crate::program::{Program, TierIndex};
use crate::state::{CustomerState, TierChange};
use crate::upgrade::{Decision, Upgrade};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use smallvec::SmallVec;
use std::borrow::Cow;

/// What [`HeldThen::keep_upgrades_past`] set aside.
pub(crate) struct Kept {
    /// The upgrades to tiers the customer reached since.
    pub(crate) dropped: SmallVec<[Upgrade; 1]>,
    /// The tier the first upgrade kept crossed from, when it jumped past
    /// the tier held now in one step.
    pub(crate) jumped_from: Option<TierIndex>,
}

/// A customer put back at the lower tier they held at a late order's
/// instant, for the order's decision.
pub(crate) struct HeldThen {
    now: TierIndex,
    now_name: String,
    pub(crate) then: TierIndex,
    /// The instant of the history's change that left `then` (None: held
    /// from before every kept change).
    since: Option<DateTime<Utc>>,
}

impl Program {
    /// The tier held at `at` by the history's standing changes
    /// ([`CustomerState::standing_changes`]), and since when, or None when
    /// the history does not end at the tier held now. A change that
    /// replaced later ones has the `from` held when it was recorded, not
    /// then, so before every kept change the customer held the first
    /// entry's `from`.
    pub(crate) fn tier_held_at(
        &self,
        state: &CustomerState,
        at: DateTime<Utc>,
    ) -> Option<(TierIndex, Option<DateTime<Utc>>)> {
        self.held_on_the_line(state, at, |last| &last.to)
    }

    /// [`Program::tier_held_at`] where the history's last standing change
    /// names the tier held now by `names_now` (its `to`, or for a rewound
    /// end its `from`).
    fn held_on_the_line(
        &self,
        state: &CustomerState,
        at: DateTime<Utc>,
        names_now: fn(&TierChange) -> &String,
    ) -> Option<(TierIndex, Option<DateTime<Utc>>)> {
        let line = state.standing_changes();
        if *names_now(line.last()?) != state.tier {
            return None;
        }
        let (held, since) = match line.iter().rposition(|c| c.at <= at) {
            Some(i) => (&line[i].to, Some(line[i].at)),
            None => (&state.history.first()?.from, None),
        };
        Some((self.tier_index(held)?, since))
    }

    /// Puts a customer who has risen since `placed` back at the tier they
    /// held then; [`HeldThen::restore`] undoes it once the order is decided.
    pub(crate) fn step_back_for(
        &self,
        state: &mut CustomerState,
        placed: DateTime<Utc>,
    ) -> Option<HeldThen> {
        // The history's last entry is the latest change unless a later
        // one was dated back; only an order before it can need this.
        if state.history.last().is_none_or(|c| c.at <= placed) {
            return None;
        }
        let (then, since) = self.tier_held_at(state, placed)?;
        self.put_back(state, then, since)
    }

    /// [`Program::step_back_for`] for a customer put back at the tier held
    /// before a judged end's move down (`rejudge.rs` rewinds the tier, not
    /// the history, which still ends with that move): an order placed
    /// before the upgrade to that tier is decided at the tier held then,
    /// as in time, not at the one the end judged.
    pub(crate) fn step_back_before_an_end(
        &self,
        state: &mut CustomerState,
        placed: DateTime<Utc>,
    ) -> Option<HeldThen> {
        let (then, since) = self.held_on_the_line(state, placed, |last| &last.from)?;
        self.put_back(state, then, since)
    }

    /// Puts the customer at `then`, held since `since`, when it is below
    /// the tier held now.
    fn put_back(
        &self,
        state: &mut CustomerState,
        then: TierIndex,
        since: Option<DateTime<Utc>>,
    ) -> Option<HeldThen> {
        let now = state.tier_index(self);
        if then >= now {
            return None;
        }
        let now_name = std::mem::replace(&mut state.tier, self.tier_name(then).to_owned());
        Some(HeldThen {
            now,
            now_name,
            then,
            since,
        })
    }

    /// A late order placed while the customer held a higher tier than now
    /// (moved down since by an end or a return, perhaps lifted and moved
    /// again), where the course from before it is walked again
    /// (`older_ends.rs`): decided at the tier held then, on the orders as
    /// they stood, as in time. Only where it upgrades nobody from there:
    /// the walk then judges every end and move since with it counted.
    /// Decided at the tier held now, it crossed to the tier it already
    /// held, and the course from that crossing judged ends of a period
    /// that never began (docs/late-events.md, "Not exact" 4, harsh).
    pub(crate) fn decided_at_a_higher_tier_held_then(
        &self,
        state: &CustomerState,
        order: &Order,
        orders: &[OrderRecord],
    ) -> Option<Decision> {
        let (then, _) = self.tier_held_at(state, order.placed_at)?;
        if orders.is_empty() || then <= state.tier_index(self) {
            return None;
        }
        let all: Vec<&OrderRecord> = orders.iter().collect();
        if !self.walks_course_again(state, &all, order.placed_at) {
            return None;
        }
        let decision =
            self.decided_among(state, &mut HeldThen::at_tier(self, then), order, orders)?;
        decision.upgrades.is_empty().then_some(decision)
    }

    /// The order decided as in time: on the orders placed up to it, as
    /// they stood then (returns made since not yet made), at the tier held
    /// then. The state's figures count the orders placed after it too,
    /// which would let it cross a threshold a later order crossed. None
    /// when a rule counts current points the orders do not tell (spent
    /// and expired points are in none) or no orders were read.
    pub(crate) fn decided_among(
        &self,
        state: &CustomerState,
        held: &mut HeldThen,
        order: &Order,
        orders: &[OrderRecord],
    ) -> Option<Decision> {
        self.decided_among_these(state, held, order, orders, others_up_to_it_as_they_stood)
    }

    /// [`Program::decided_among`] on the orders placed up to it as they
    /// stand, the returns made since taken back: the tier a return's
    /// judgment replays (`reversal.rs`), which in time would have undone
    /// what the order reached on the figures before the returns.
    pub(crate) fn decided_among_as_they_stand(
        &self,
        state: &CustomerState,
        held: &mut HeldThen,
        order: &Order,
        orders: &[OrderRecord],
    ) -> Option<Decision> {
        self.decided_among_these(state, held, order, orders, others_up_to_it_as_they_stand)
    }

    fn decided_among_these<'o>(
        &self,
        state: &CustomerState,
        held: &mut HeldThen,
        order: &Order,
        orders: &'o [OrderRecord],
        before_it: fn(&'o [OrderRecord], &Order) -> Vec<Cow<'o, OrderRecord>>,
    ) -> Option<Decision> {
        if orders.is_empty() || self.upgrades_on_untold_points(state) {
            return None;
        }
        let before = before_it(orders, order);
        let mut walk = NetWalk::new(self, &before, order.placed_at, state);
        held.then = self.risen_by_orders(held, &mut walk);
        walk.spend_before_the_order(order.placed_at);
        let mut then = walk.net;
        then.tier = self.tier_name(held.then).to_owned();
        Some(self.decide(&then, order))
    }

    /// The order decided, for a customer who held the tier held now at its
    /// instant, on every other order as it stood then: the returns made
    /// since not yet made, so the figures it would have met in time before
    /// them (a crossing a later order completes included, dated by
    /// [`Program::date_late_upgrades`] on the same orders, and paid as
    /// decided on them all; crossing on the orders placed up to it alone,
    /// exactly as in time). None as for
    /// [`Program::decided_among`].
    pub(crate) fn decided_before_returns(
        &self,
        state: &CustomerState,
        held: &HeldThen,
        order: &Order,
        as_they_stood: &[Cow<'_, OrderRecord>],
    ) -> Option<Decision> {
        if as_they_stood.is_empty() || self.upgrades_on_untold_points(state) {
            return None;
        }
        // On the orders placed up to it first: crossing there, it is paid
        // exactly as in time; the later ones could only complete it.
        let mut walk = NetWalk::new(self, as_they_stood, order.placed_at, state);
        let at_its_instant = self.decided_at_its_instant(held, order, &mut walk);
        // Where expiry is replayed, the figures after the later orders
        // count its own lot though it may have expired by then: a crossing
        // they complete is the dating walk's, which replays expiry.
        let expires = self.counts_current_points() && self.replays_expiry();
        if !at_its_instant.upgrades.is_empty() || expires {
            return Some(at_its_instant);
        }
        while walk.step().is_some() {}
        walk.spend_all();
        Some(self.decided_on(held, order, &walk.net))
    }

    /// The order decided at `held.now` exactly as in time: on the orders
    /// of `walk` placed up to it (the walk is left there).
    pub(crate) fn decided_at_its_instant(
        &self,
        held: &HeldThen,
        order: &Order,
        walk: &mut NetWalk<'_, '_, Cow<'_, OrderRecord>>,
    ) -> Decision {
        while walk.next_instant().is_some_and(|at| at <= order.placed_at) {
            walk.step();
        }
        walk.spend_before_the_order(order.placed_at);
        self.decided_on(held, order, &walk.net)
    }

    fn decided_on(&self, held: &HeldThen, order: &Order, net: &CustomerState) -> Decision {
        let mut then = net.clone();
        then.tier = self.tier_name(held.now).to_owned();
        self.decide(&then, order)
    }

    /// The tier held then, where the orders show more than the history: an
    /// order that crossed a tier in time but came late, after the customer
    /// had reached it by another, left no change of its own. From the
    /// history's tier, at each order's instant after its change, the
    /// customer rises to the highest tier (up to the one held now) whose
    /// rule holds on the orders placed up to then; the walk ends with them
    /// all counted.
    fn risen_by_orders(
        &self,
        held: &HeldThen,
        walk: &mut NetWalk<'_, '_, Cow<'_, OrderRecord>>,
    ) -> TierIndex {
        let mut tier = held.then;
        while let Some(at) = walk.step() {
            if tier >= held.now || held.since.is_some_and(|since| at <= since) {
                continue;
            }
            let eval = Evaluator::new(self, &walk.net, at, 0, None);
            if let Some((to, _)) =
                eval.highest_holding_up_to(tier, held.now, Decimal::ZERO, Decimal::ZERO)
            {
                tier = to;
            }
        }
        tier
    }
}

/// The customer's orders other than `order`, as they stood at its
/// instant (returns made since not yet made), by `placed_at`.
pub(crate) fn others_as_they_stood<'o>(
    orders: &'o [OrderRecord],
    order: &Order,
) -> Vec<Cow<'o, OrderRecord>> {
    others_stood_where(orders, order, |_| true)
}

/// [`others_as_they_stood`], of those placed up to its instant only (the
/// later ones are never copied).
pub(crate) fn others_up_to_it_as_they_stood<'o>(
    orders: &'o [OrderRecord],
    order: &Order,
) -> Vec<Cow<'o, OrderRecord>> {
    others_stood_where(orders, order, |o| o.placed_at <= order.placed_at)
}

/// The customer's orders other than `order` placed up to its instant, as
/// they stand (every return made), by `placed_at`.
fn others_up_to_it_as_they_stand<'o>(
    orders: &'o [OrderRecord],
    order: &Order,
) -> Vec<Cow<'o, OrderRecord>> {
    let mut stand: Vec<Cow<'o, OrderRecord>> = orders
        .iter()
        .filter(|o| o.order_id != order.order_id && o.placed_at <= order.placed_at)
        .map(Cow::Borrowed)
        .collect();
    stand.sort_by_key(|o| o.placed_at);
    stand
}

fn others_stood_where<'o>(
    orders: &'o [OrderRecord],
    order: &Order,
    kept: impl Fn(&OrderRecord) -> bool,
) -> Vec<Cow<'o, OrderRecord>> {
    let mut stood: Vec<Cow<'o, OrderRecord>> = orders
        .iter()
        .filter(|o| o.order_id != order.order_id && kept(o))
        .map(|o| o.as_it_stood(order.placed_at))
        .collect();
    stood.sort_by_key(|o| o.placed_at);
    stood
}

impl HeldThen {
    /// The customer at the tier held now, for a late order to be decided
    /// on the orders as they stood at its instant although they held no
    /// other tier then (returns made since lowered the figures).
    pub(crate) fn at_tier_held_now(program: &Program, state: &CustomerState) -> Option<HeldThen> {
        Some(HeldThen {
            now: program.tier_index(&state.tier)?,
            now_name: state.tier.clone(),
            then: program.tier_index(&state.tier)?,
            since: None,
        })
    }

    /// The customer at `tier`, held at a late order's instant, for the
    /// order to be decided there on the orders as they stood then.
    pub(crate) fn at_tier(program: &Program, tier: TierIndex) -> HeldThen {
        HeldThen {
            now: tier,
            now_name: program.tier_name(tier).to_owned(),
            then: tier,
            since: None,
        }
    }

    pub(crate) fn restore(&self, state: &mut CustomerState) {
        state.tier.clone_from(&self.now_name);
    }

    /// Keeps the decision's upgrades past the tier held now, the first of
    /// them counted from it: the customer holds that tier already.
    pub(crate) fn keep_upgrades_past(&self, decision: &mut Decision) -> Kept {
        let past = decision.upgrades.partition_point(|u| u.to <= self.now);
        let dropped = decision.upgrades.drain(..past).collect();
        let mut jumped_from = None;
        if let Some(first) = decision.upgrades.first_mut() {
            jumped_from = (first.from < self.now).then_some(first.from);
            first.from = self.now;
        }
        decision.tier_after = decision.tier_after.max(self.now);
        Kept {
            dropped,
            jumped_from,
        }
    }

    /// The order's record: one that upgraded nobody caused no tier (a
    /// return of it reverses nothing), and was decided at the tier held
    /// then; one that upgraded past the tier held now stands on it.
    pub(crate) fn mark(&self, program: &Program, record: &mut OrderRecord, decision: &Decision) {
        if decision.upgrades.is_empty() {
            let then = program.tier_name(self.then);
            record.tier_before = then.to_owned();
            record.tier_after = then.to_owned();
        }
    }
}
