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
//! [`crate::reversal`]); where some of that was returned only later, at
//! the first instant the orders as they stood then cross, when each
//! return since would have kept the crossing (in time a return keeps an
//! upgrade where it was reached when what remains reaches its tier by
//! the return's instant). The points stay as decided: under `lazy` they are
//! what they would have been in time (neither the order nor the one that
//! crossed in time earns the new rate); under `eager` and `dynamic` the
//! new rate was paid on this order's amount rather than on the later one's.

use crate::config::{CriterionKind, UpgradeType};
use crate::decimal::round_points;
use crate::evaluate::Evaluator;
use crate::events::OrderRecord;
use crate::net_walk::NetWalk;
use crate::period::{date_of, day_of, DayNumber};
use crate::program::TierIndex;
use crate::redeemed::spent_by;
use crate::state::CustomerState;
use crate::upgrade::{Decision, Upgrade};
use crate::Program;
use chrono::{DateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use smallvec::SmallVec;
use std::borrow::Borrow;

/// Stretches between instants with returns since a late order (the last
/// ending at the crossing on what remains, so 15 such instants between the
/// two datings) past which its crossings stay dated on what remains of the
/// orders now (one walk over the orders for each:
/// [`Program::crossings_as_they_stood`]).
const MAX_RETURN_INSTANTS: usize = 16;

/// The instants a walk for crossings judges: from `from`, after `after`,
/// up to `until` (each bound when set).
#[derive(Clone, Copy)]
struct Crossings {
    from: DateTime<Utc>,
    after: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

impl Program {
    /// Dates the upgrades of `decision` (decided for `late`, whose orders
    /// placed later are among `orders`) as they would have come in time:
    /// from the tier held before the order, at its instant and then at each
    /// later order's, the customer rises to the highest tier whose rule
    /// holds on what remains of the orders placed up to then. It also
    /// takes back a crossing at the order's instant that the orders placed
    /// up to it do not make (the figures as they stand count later ones).
    /// This also
    /// finds upgrades the decision could not see: a window as of the order's
    /// day that the state had already trimmed (also when no order was
    /// placed after it), or a later order's window
    /// that the late order completes. The decision stands as made when a
    /// rule counts current points the orders do not tell (points spent or
    /// expired by then are in none), or when the orders alone reach less
    /// than it did.
    pub(crate) fn date_late_upgrades(
        &self,
        state: &CustomerState,
        decision: &mut Decision,
        late: &OrderRecord,
        orders: &[impl Borrow<OrderRecord>],
    ) {
        let others = orders
            .iter()
            .map(Borrow::borrow)
            .filter(|o| o.order_id != late.order_id);
        // With no order placed after it, its own instant is the only one,
        // which the decision judged, unless on windows that miss days the
        // state dropped (the latest placed order is late after a job run,
        // a redemption or a return), or on current points less what was
        // redeemed after it (one of its instant came before it: it is
        // decided now).
        let placed_last = !others.clone().any(|o| o.placed_at > late.placed_at);
        let spent_since = state
            .redemptions
            .as_ref()
            .is_some_and(|r| r.before(spent_by(late.placed_at, true)) != r.total());
        if placed_last
            && !spent_since
            && !self.windows_read_dropped(decision.tier_before, state, late.placed_at)
            || self.upgrades_on_untold_points(state)
        {
            return;
        }
        // Its points as the tier held before it pays them: eligibility
        // counts an order's points at that rate (the upgrade type only
        // decides what it is paid), and a higher rate it was paid because
        // later orders let it cross is no part of what held at its instant.
        let mut late = late.clone();
        if !decision.upgrades.is_empty() && late.amount > Decimal::ZERO {
            late.points_awarded =
                round_points(late.amount * self.tiers()[decision.tier_before].earn_rate);
        }
        let mut sorted: Vec<&OrderRecord> = others.chain([&late]).collect();
        sorted.sort_by_key(|o| o.placed_at);
        // Past a return that took from newer lots the orders no longer
        // tell current points (`Program::untold_from_on`): a crossing
        // there is left to the next event, decided on the points as they
        // stand. At its instant they tell what its own judgment replayed
        // then (what remains, each return from its own lot), so that
        // instant is walked (a window crossing there,
        // `newer_lots_attack.rs`). One made before the order's instant
        // does not stop the walk, which starts after it.
        let untold = match self.counts_current_points() && self.replays_expiry() {
            true => self.untold_from_on(state, &sorted, late.placed_at),
            false => None,
        };
        let mut held = decision.tier_before;
        let mut upgrades: SmallVec<[Upgrade; 1]> = SmallVec::new();
        let remains = Crossings {
            from: late.placed_at,
            after: None,
            until: untold,
        };
        self.walk_crossings(state, &sorted, remains, &mut held, &mut upgrades);
        if held >= decision.tier_after {
            if let Some(stood) = self.crossings_as_they_stood(state, &sorted, remains, &upgrades) {
                upgrades = stood;
            }
        }
        let crossed_at_its_instant =
            |u: &[Upgrade]| u.first().is_some_and(|u| u.at == late.placed_at);
        if held >= decision.tier_after {
            decision.tier_after = held;
            decision.upgrades = upgrades;
        } else if crossed_at_its_instant(&decision.upgrades)
            && !crossed_at_its_instant(&upgrades)
            && !state.returned_at_or_after(late.placed_at)
        {
            // Decided on figures that count orders placed after it (the
            // lifetime figures, under a rule that also reads a window): in
            // time it crossed nothing at its instant and was paid at the
            // tier held then; what the orders after it crossed with it
            // counted is dated as any. Not after a return since: the
            // replay counts what remains of each order now, less than
            // stood at its instant.
            *decision = Decision {
                tier_after: held,
                upgrades,
                ..Decision::paid_at(self, decision.tier_before, late.amount)
            };
        }
    }

    /// Lifts the customer from `held` at each instant of `within`, on
    /// what remains of `sorted` (as given) placed up to it.
    fn walk_crossings<O: Borrow<OrderRecord>>(
        &self,
        state: &CustomerState,
        sorted: &[O],
        within: Crossings,
        held: &mut TierIndex,
        upgrades: &mut SmallVec<[Upgrade; 1]>,
    ) {
        let mut walk = NetWalk::new(self, sorted, within.from, state);
        while let Some(at) = walk.step() {
            if at < within.from || within.after.is_some_and(|after| at <= after) {
                continue;
            }
            if within.until.is_some_and(|until| at > until) {
                break;
            }
            let eval = Evaluator::new(self, &walk.net, at, 0, None);
            if let Some((to, met)) = eval.highest_holding(*held, Decimal::ZERO, Decimal::ZERO) {
                upgrades.push(Upgrade {
                    from: *held,
                    to,
                    at,
                    upgrade_type: self.tiers()[to]
                        .rule
                        .as_ref()
                        .map_or(UpgradeType::Lazy, |rule| rule.upgrade_type),
                    met,
                });
                *held = to;
            }
        }
    }

    /// The crossings `on_what_remains` (the walk of `within` on what
    /// remains of the orders now) as they came in time, where returns
    /// made since the late order's instant came later: at each instant
    /// the orders count as they stood then. In time each such return
    /// judged the upgrades again on what remains (`reversal.rs`) and kept
    /// them, dated where they were reached, when what remained then
    /// reached each tier before its instant: certainly where it came at
    /// or after the crossing on what remains now (less remained then at
    /// no instant); one between the two is walked on what remained then.
    /// A return that undid a step in time moved the customer back down, and
    /// the step is dated where the orders after it crossed again. None
    /// where such a return undid part of a step, where the orders as they
    /// stood reach a tier what remains does not (returns took it back in
    /// time), or past [`MAX_RETURN_INSTANTS`] instants with returns: the
    /// crossings stay dated on what remains.
    fn crossings_as_they_stood(
        &self,
        state: &CustomerState,
        sorted: &[&OrderRecord],
        within: Crossings,
        on_what_remains: &[Upgrade],
    ) -> Option<SmallVec<[Upgrade; 1]>> {
        let (first, last) = (on_what_remains.first()?, on_what_remains.last()?);
        // Only the orders the walks count up to the last crossing, and
        // their returns since the late order's instant, tell them apart.
        let returned_since = || {
            sorted
                .iter()
                .take_while(|o| o.placed_at <= last.at)
                .flat_map(|o| o.returns.iter().map(|r| r.at))
                .filter(|at| *at >= within.from)
        };
        returned_since().next()?;
        // Up to the last crossing on what remains, the orders stood alike
        // between two instants with returns: one walk for each stretch,
        // counting the returns made before its end.
        let mut ends: Vec<DateTime<Utc>> = returned_since()
            .filter(|at| *at < last.at)
            .chain([last.at])
            .collect();
        ends.sort_unstable();
        ends.dedup();
        if ends.len() > MAX_RETURN_INSTANTS {
            return None;
        }
        // A return between the two datings of a step judged it on what
        // remained then, up to its instant: kept where that reached the
        // step's tier by the return. The orders of its instant count only
        // where each was returned then (a return comes after its own
        // order; whether it came before or after another order of its
        // instant is kept nowhere).
        let reached_by = |returned: DateTime<Utc>| {
            let just_after = returned + chrono::Duration::nanoseconds(1);
            let stood: Vec<_> = sorted.iter().map(|o| o.as_it_stood(just_after)).collect();
            let own_orders_only = sorted
                .iter()
                .filter(|o| o.placed_at == returned)
                .all(|o| o.returns.iter().any(|r| r.at == returned));
            let upto_instant = match own_orders_only {
                true => returned,
                false => returned - chrono::Duration::nanoseconds(1),
            };
            let upto = Crossings {
                after: None,
                until: Some(within.until.map_or(upto_instant, |u| u.min(upto_instant))),
                ..within
            };
            let (mut held, mut reached) = (first.from, SmallVec::new());
            self.walk_crossings(state, &stood, upto, &mut held, &mut reached);
            held
        };
        let crossed_on_what_remains = |step: &Upgrade| {
            on_what_remains
                .iter()
                .find(|u| u.to >= step.to)
                .map_or(last.at, |u| u.at)
        };
        let mut held = first.from;
        let mut stood_upgrades: SmallVec<[Upgrade; 1]> = SmallVec::new();
        let mut after = None;
        for &end in &ends {
            let stood: Vec<_> = sorted.iter().map(|o| o.as_it_stood(end)).collect();
            let stretch = Crossings {
                after,
                until: Some(within.until.map_or(end, |u| u.min(end))),
                ..within
            };
            self.walk_crossings(state, &stood, stretch, &mut held, &mut stood_upgrades);
            after = Some(end);
            let judged = |step: &Upgrade| step.at <= end && end < crossed_on_what_remains(step);
            if !stood_upgrades.iter().any(judged) {
                continue;
            }
            // A return that undid steps moved the customer back down to
            // what remained then reached (`reversal.rs`); the orders after
            // it cross again, and those steps are dated where they did.
            // One that undid part of a step (a jump over several tiers,
            // partly kept) is left to the dating on what remains.
            let kept = reached_by(end);
            if kept >= held {
                continue;
            }
            let undone = |step: &Upgrade| step.to > kept;
            if stood_upgrades
                .iter()
                .any(|step| undone(step) && (step.from < kept || !judged(step)))
            {
                return None;
            }
            stood_upgrades.retain(|step| !undone(step));
            held = kept;
        }
        // Up to then the orders as they stood reach at least what remains
        // reaches (returns only take away): the same tier in the end, or
        // the returns took some of it back in time.
        if held != last.to {
            return None;
        }
        Some(stood_upgrades)
    }

    /// Whether a late order that upgrades nobody as decided shows signs
    /// that it would in time have let a later order cross, so that only the
    /// orders can tell (the dating replay on them decides):
    /// - the window as of a later day with orders, close enough to reach
    ///   back to its day, holds a tier above the one held now on the
    ///   state's figures (its lifetime figures count every order, so this
    ///   may say yes for nothing, at the cost of a read);
    /// - or its day is older than every day the series keep (the windows
    ///   reaching back to it are gone from the state).
    ///
    /// A window that reads days the state dropped is
    /// [`Program::windows_read_dropped`]'s sign.
    pub(crate) fn later_windows_may_cross(
        &self,
        state: &CustomerState,
        placed: DateTime<Utc>,
    ) -> bool {
        let held = state.tier_index(self);
        let used = self.trackers_above.get(held).copied().unwrap_or(0);
        let Some(last) = state.last_event_at else {
            return false;
        };
        if used == 0 {
            return false;
        }
        let first = day_of(placed);
        let last = day_of(last);
        let trackers = || {
            self.trackers()
                .iter()
                .zip(&state.trackers)
                .enumerate()
                .filter(|(i, _)| used & (1 << i) != 0)
                .map(|(_, pair)| pair)
        };
        if trackers().any(|(t, _)| first < t.kept_from(last)) {
            return true;
        }
        let mut days: Vec<DayNumber> = trackers()
            .flat_map(|(_, series)| series.buckets().map(|b| b.day))
            .filter(|day| *day > first && *day <= last)
            .collect();
        days.sort_unstable();
        days.dedup();
        days.into_iter()
            .take_while(|day| trackers().any(|(t, _)| t.kept_from(*day) <= first))
            .any(|day| {
                let at = date_of(day).and_time(NaiveTime::MIN).and_utc();
                Evaluator::new(self, state, at, held, None).any_holds(
                    held,
                    Decimal::ZERO,
                    Decimal::ZERO,
                )
            })
    }

    /// Whether a late order that upgrades nobody as decided may have let
    /// itself or a later order cross in time on current points the
    /// customer spent since: only with a redemption made at or after its
    /// instant (or one made before that instant was kept). Current points
    /// are at most the lifetime points at any instant, so the sign is a
    /// tier above holding with current points read as lifetime points
    /// (now, on the windows of its own day, or on a later window as
    /// [`Program::later_windows_may_cross`] reads them). Its own day's
    /// windows count an order placed later that day, which a window now
    /// may have let roll out: that order may have crossed in time on
    /// points that expired since.
    pub(crate) fn spent_points_may_hide_a_crossing(
        &self,
        state: &CustomerState,
        placed: DateTime<Utc>,
    ) -> bool {
        if !self.counts_current_points()
            || state.current_points >= state.lifetime_points
            || state.latest_redemption_at.is_some_and(|r| r < placed)
        {
            return false;
        }
        let Some(last) = state.last_event_at else {
            return false;
        };
        let mut unspent = state.clone();
        unspent.current_points = state.lifetime_points;
        let held = state.tier_index(self);
        let holds_at = |at: DateTime<Utc>| {
            Evaluator::new(self, &unspent, at, held, None).any_holds(
                held,
                Decimal::ZERO,
                Decimal::ZERO,
            )
        };
        holds_at(last) || holds_at(placed) || self.later_windows_may_cross(&unspent, placed)
    }

    /// Whether a window of the rules above `tier`, ending on the day of
    /// `placed`, reaches back to a day whose figures the state dropped
    /// (each series keeps its newest dropped day): only the orders still
    /// hold them. Windows ending later start later, so this one asks for
    /// them all. A day dropped with nothing on it is never a sign, so
    /// orders a little late across a job run seldom ask.
    pub(crate) fn windows_read_dropped(
        &self,
        tier: TierIndex,
        state: &CustomerState,
        placed: DateTime<Utc>,
    ) -> bool {
        let used = self.trackers_above.get(tier).copied().unwrap_or(0);
        let first = day_of(placed);
        self.trackers()
            .iter()
            .zip(&state.trackers)
            .enumerate()
            .any(|(i, (t, series))| {
                used & (1 << i) != 0
                    && series
                        .newest_dropped()
                        .is_some_and(|dropped| t.kept_from(first) <= dropped)
            })
    }

    /// Whether the orders, with the redemptions when read, tell the
    /// customer's current points as of any instant. Where points expire
    /// ([`Program::replays_expiry`]): the walks replay expiry on the
    /// orders' lots, and a decision among the orders checks first that
    /// they tell what expired ([`Program::orders_tell_what_expired`]).
    /// Elsewhere: nothing but a redemption
    /// took from one figure more than from the other (no return did:
    /// `points_apart`; under `withinBalance` a return that found the
    /// balance short), and the redemptions read account for the whole gap
    /// between the two now (none read: the two equal, which is also the
    /// only sign for a state written before the mark was kept). Then
    /// current points are, at every instant, the lifetime points the
    /// orders tell less what was redeemed before it; otherwise what was
    /// spent or expired by then is in no order.
    pub(crate) fn orders_tell_current_points(&self, state: &CustomerState) -> bool {
        if self.replays_expiry() {
            // What expired by an instant is replayed on the orders' lots
            // (`net_walk.rs`), what was spent from the redemptions read:
            // none are needed where nothing moved the two figures apart.
            return state.redemptions.is_some() || state.current_points == state.lifetime_points;
        }
        let redeemed = state
            .redemptions
            .as_ref()
            .map_or(Decimal::ZERO, |r| r.total());
        self.orders_may_tell_current_points(state)
            && state.current_points == state.lifetime_points - redeemed
    }

    /// Whether the orders tell current points once the redemptions are
    /// read ([`Program::orders_tell_current_points`] but for the gap).
    fn orders_may_tell_current_points(&self, state: &CustomerState) -> bool {
        self.config().points_expiry.is_none() && !state.points_apart || self.replays_expiry()
    }

    /// Whether the replays of a late order count expiry: points expire.
    /// The orders and the redemptions then tell current points at any
    /// instant, expiry replayed on the lots of the orders' days, as long
    /// as every return took from its own order's lot: a decision among the
    /// orders checks that first ([`Program::returns_took_their_own_lots`]).
    /// Before the thirty-third session only for a customer who never
    /// returned anything, in a program where no tier lapses (the ends a
    /// walk judges read current points as lifetime points moved since; they
    /// replay expiry too now, `late_ends.rs`).
    pub(crate) fn replays_expiry(&self) -> bool {
        self.config().points_expiry.is_some()
    }

    /// Whether a decision among the customer's orders also needs their
    /// redemptions: the customer's two figures moved apart, and either an
    /// upgrade rule counts current points (a return judges every upgrade
    /// on what remains of the orders less what was redeemed, and expired,
    /// before it, in any program: `reversal.rs`), or a retention rule does
    /// and with the redemptions the orders would tell them
    /// ([`Program::orders_tell_current_points`]). Where points expire,
    /// a customer something took from once (`points_apart`) may hold the
    /// two equal only until the decision expires a late order's lot:
    /// whether a redemption made the gap then is only in the redemptions.
    pub fn wants_redemptions(&self, state: &CustomerState) -> bool {
        let apart = state.current_points != state.lifetime_points
            || self.replays_expiry() && state.points_apart;
        state.redemptions.is_none()
            && apart
            && (self.counts_current_points()
                || self.keeps_by_current_points() && self.orders_may_tell_current_points(state))
    }

    /// Whether an upgrade rule counts current points the orders do not
    /// tell ([`Program::orders_tell_current_points`]).
    pub(crate) fn upgrades_on_untold_points(&self, state: &CustomerState) -> bool {
        self.counts_current_points() && !self.orders_tell_current_points(state)
    }

    /// Whether an upgrade rule counts current points the orders would not
    /// tell even with the redemptions read: what a decision that has read
    /// neither yet asks before it asks for both.
    pub(crate) fn upgrades_on_points_never_told(&self, state: &CustomerState) -> bool {
        self.counts_current_points() && !self.orders_may_tell_current_points(state)
    }

    /// Whether a retention rule counts current points.
    pub(crate) fn keeps_by_current_points(&self) -> bool {
        self.tiers()
            .iter()
            .filter_map(|t| t.retention.as_ref())
            .flat_map(|r| &r.rule.criteria)
            .any(|c| c.kind == CriterionKind::CurrentPoints)
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

    /// Whether an upgrade or retention rule reads the largest order.
    pub(crate) fn reads_single_orders(&self) -> bool {
        self.tiers()
            .iter()
            .flat_map(|t| t.rule.iter().chain(t.retention.iter().map(|r| &r.rule)))
            .flat_map(|rule| &rule.criteria)
            .any(|c| c.kind == CriterionKind::SingleOrder)
    }
}
