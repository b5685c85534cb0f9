//! A customer replayed from what remains of their orders, one instant at a
//! time.
//!
//! A return judging the upgrades it may undo, a late order finding the tier
//! held at its instant, and a late order dating the upgrades it completes
//! all ask the orders the same question: what did the customer hold at each
//! instant, counting what remains of the orders placed up to it? They
//! differ only in which tiers may be reached and at which instants; the
//! walk through the orders is this one. Current points also count the
//! redemptions made before each instant, when they were read
//! (`redeemed.rs`); a redemption at an order's instant came after it, as a
//! return does. Where points expire, each order's points are a lot of its
//! day that expires as the customer's own lots do, and redemptions spend
//! the lots oldest first.

use crate::events::{OrderRecord, ReturnMark};
use crate::period::{date_of, day_of, DayNumber};
use crate::program::Program;
use crate::redeemed::{spent_by, Redemptions};
use crate::state::CustomerState;
use chrono::{DateTime, NaiveTime, Utc};
use std::borrow::Borrow;

/// Where a walk stood: its orders counted and redemptions spent up to an
/// instant, to go on from there over the same orders
/// ([`NetWalk::resume`]).
pub(crate) struct Parked {
    pub(crate) at: DateTime<Utc>,
    counted: usize,
    spent: usize,
    expires: bool,
    net: CustomerState,
}

/// Orders sorted by `placed_at`, counted into a fresh customer as the
/// instants advance, so a replay over many orders costs one pass.
pub(crate) struct NetWalk<'p, 'o, O> {
    program: &'p Program,
    sorted: &'o [O],
    counted: usize,
    redemptions: Option<Redemptions>,
    /// How many of the redemptions current points count.
    spent: usize,
    /// Whether points expire as the instants advance.
    expires: bool,
    pub(crate) net: CustomerState,
}

impl<'p, 'o, O: Borrow<OrderRecord>> NetWalk<'p, 'o, O> {
    /// A walk over `sorted` (by `placed_at`) from a customer at the base
    /// tier since `since`, spending what `customer` redeemed (when read).
    pub(crate) fn new(
        program: &'p Program,
        sorted: &'o [O],
        since: DateTime<Utc>,
        customer: &CustomerState,
    ) -> Self {
        debug_assert!(sorted
            .windows(2)
            .all(|w| w[0].borrow().placed_at <= w[1].borrow().placed_at));
        NetWalk {
            program,
            sorted,
            counted: 0,
            redemptions: customer.redemptions.clone(),
            spent: 0,
            expires: program.config().points_expiry.is_some(),
            net: CustomerState::new(program, since),
        }
    }

    /// The walk `parked` left, over the same `sorted` orders and the
    /// redemptions of the same `customer`.
    pub(crate) fn resume(
        program: &'p Program,
        sorted: &'o [O],
        customer: &CustomerState,
        parked: Parked,
    ) -> Self {
        debug_assert!(parked.counted <= sorted.len());
        NetWalk {
            program,
            sorted,
            counted: parked.counted,
            redemptions: customer.redemptions.clone(),
            spent: parked.spent,
            expires: parked.expires,
            net: parked.net,
        }
    }

    /// Where the walk stands, kept as of `at` (no order placed at or after
    /// it counted yet), to resume it there.
    pub(crate) fn park(&self, at: DateTime<Utc>) -> Parked {
        debug_assert!(self
            .counted()
            .last()
            .is_none_or(|o| o.borrow().placed_at < at));
        Parked {
            at,
            counted: self.counted,
            spent: self.spent,
            expires: self.expires,
            net: self.net.clone(),
        }
    }

    /// Counts the orders placed before `at`, an instant at a time.
    pub(crate) fn step_before(&mut self, at: DateTime<Utc>) {
        while self.next_instant().is_some_and(|next| next < at) {
            self.step();
        }
    }

    /// The same walk, counting no expiry unless `expiry` (where another
    /// config version may have expired points otherwise).
    pub(crate) fn counting_expiry(mut self, expiry: bool) -> Self {
        self.expires &= expiry;
        self
    }

    /// Takes from current points what was redeemed and what expired before
    /// `at` (instants ascending from call to call).
    pub(crate) fn spend_before(&mut self, at: DateTime<Utc>) {
        self.spend_redeemed_before(at);
        self.expire_by(at);
    }

    /// Spends the redemptions made before `at`, each after what expired by
    /// its instant, oldest lots first.
    fn spend_redeemed_before(&mut self, at: DateTime<Utc>) {
        let Some(redemptions) = self.redemptions.take() else {
            return;
        };
        let upto = redemptions.count_before(at).max(self.spent);
        for r in &redemptions.as_slice()[self.spent..upto] {
            self.expire_by(r.at);
            self.net.spend_points(r.points);
        }
        self.spent = upto;
        self.redemptions = Some(redemptions);
    }

    pub(crate) fn expire_by(&mut self, at: DateTime<Utc>) {
        if self.expires {
            self.program.expire_points_by(&mut self.net, at);
        }
    }

    /// Takes from current points what was redeemed before an order placed
    /// `at` that is decided now: after every redemption stored, those of
    /// its instant too (as its record tells).
    pub(crate) fn spend_before_the_order(&mut self, at: DateTime<Utc>) {
        self.spend_before(spent_by(at, true));
    }

    /// Takes from current points every redemption: the customer as they
    /// stand, for a decision on every order.
    pub(crate) fn spend_all(&mut self) {
        self.spend_redeemed_before(DateTime::<Utc>::MAX_UTC);
    }

    /// The instant of the next orders not yet counted.
    pub(crate) fn next_instant(&self) -> Option<DateTime<Utc>> {
        self.sorted.get(self.counted).map(|o| o.borrow().placed_at)
    }

    /// Counts the orders of the next instant together (an upgrade between
    /// orders of one instant has no instant of its own) and returns it.
    pub(crate) fn step(&mut self) -> Option<DateTime<Utc>> {
        let at = self.next_instant()?;
        self.spend_before(at);
        let mut after_redemption = false;
        while let Some(order) = self.sorted.get(self.counted) {
            let order = order.borrow();
            if order.placed_at != at {
                break;
            }
            after_redemption |= order.after_redemption;
            self.program.add_net(&mut self.net, order);
            self.counted += 1;
        }
        self.spend_before(spent_by(at, after_redemption));
        Some(at)
    }

    /// The orders counted so far.
    pub(crate) fn counted(&self) -> &'o [O] {
        &self.sorted[..self.counted]
    }
}

/// The days the lots of some orders expire on, ascending, and whether the
/// walks may read the events of an instant in another order than they
/// came ([`read_out_of_order`]).
struct LotExpiries {
    days: Vec<DayNumber>,
    out_of_order: bool,
}

impl LotExpiries {
    /// Of `orders`, and of an order placed at `also` not among them (the
    /// late order being decided, which came after every event of its
    /// instant).
    fn of(
        program: &Program,
        state: &CustomerState,
        orders: &[&OrderRecord],
        also: Option<DateTime<Utc>>,
    ) -> Self {
        let Some(period) = program.config().points_expiry else {
            return LotExpiries {
                days: Vec::new(),
                out_of_order: false,
            };
        };
        let mut days: Vec<_> = orders
            .iter()
            .map(|o| o.placed_at)
            .chain(also)
            .map(|at| period.forward_from(day_of(at)))
            .collect();
        days.sort_unstable();
        days.dedup();
        LotExpiries {
            days,
            out_of_order: read_out_of_order(state, orders, also),
        }
    }

    /// Whether a return of the order placed `placed` that took from other
    /// lots than its own (`Program::untold_return_of`) may show by the
    /// customer's latest instant. Current points are the same whichever
    /// lots gave a return or a redemption until one of them expires, so
    /// such a return changes nothing a walk counts while no lot has
    /// expired since the order was placed (the lots older than its own
    /// too: a return may have reached them once every newer lot was
    /// empty). The order's own lot expires no later than any newer lot
    /// that may differ, so the days of the orders tell when the first that
    /// may differ does.
    fn one_expired_since(&self, placed: DateTime<Utc>, state: &CustomerState) -> bool {
        let Some(now) = state.last_event_at else {
            return true;
        };
        let first = self.days.partition_point(|&day| day <= day_of(placed));
        self.out_of_order || self.days.get(first).is_some_and(|&day| day <= day_of(now))
    }
}

/// Whether the walks may count some events of one instant in another order
/// than they came: they count a redemption or a return at an order's
/// instant after that order (unless its record says it was decided after
/// a redemption, which an order decided in time where points expire never
/// reads), and a redemption at a return's instant either side of it. Where
/// they may, the walks stand apart from the customer at that instant, and
/// a return from other lots than its order's is left untold as before
/// (docs/late-events.md, "A return from newer lots before any lot
/// expired").
fn read_out_of_order(
    state: &CustomerState,
    orders: &[&OrderRecord],
    also: Option<DateTime<Utc>>,
) -> bool {
    let redeemed_at = |at: DateTime<Utc>| state.after_a_redemption_at(at);
    let mut placed: Vec<(DateTime<Utc>, Option<u64>)> =
        orders.iter().map(|o| (o.placed_at, o.arrival)).collect();
    placed.sort_unstable();
    // The late order came after every event of its instant.
    let late = also.map(|at| (at, Some(u64::MAX)));
    let came_after = |r: &ReturnMark| {
        let from = placed.partition_point(|(at, _)| *at < r.at);
        placed[from..]
            .iter()
            .take_while(|(at, _)| *at == r.at)
            .chain(late.iter().filter(|(at, _)| *at == r.at))
            .any(|(_, arrival)| match (arrival, r.arrival) {
                (Some(order), Some(ret)) => *order >= ret,
                (None, Some(_)) => false,
                // A mark written before arrivals were kept.
                (_, None) => true,
            })
    };
    placed
        .iter()
        .map(|(at, _)| *at)
        .chain(also)
        .any(redeemed_at)
        || orders
            .iter()
            .flat_map(|o| o.returns.iter())
            .any(|r| redeemed_at(r.at) || came_after(r))
}

impl Program {
    /// Whether what remains of `orders` tells what expired as of any
    /// instant: the same expiry all along the config versions they name
    /// (`Program::expired_as_now`), and every return took from its own
    /// order's lot.
    pub(crate) fn orders_tell_what_expired<O: Borrow<OrderRecord>>(
        &self,
        state: &CustomerState,
        orders: &[O],
    ) -> bool {
        let borrowed: Vec<&OrderRecord> = orders.iter().map(Borrow::borrow).collect();
        self.returns_took_their_own_lots(state, &borrowed)
            && self.expired_as_now(state, &borrowed, &crate::reversal::CurrentRulesOnly)
    }

    /// Whether what remains of the orders placed up to `at` tells what
    /// expired by then: [`Program::orders_tell_what_expired`] where a
    /// return of a later order, which took from newer lots, changes
    /// nothing the walk counts up to `at` (the dating walk stops after
    /// that return's instant: [`Program::untold_from_on`]), nor does one of
    /// an order placed up to `at` that took every point it took back from
    /// current points, as the walk does, while no lot has expired since
    /// that order ([`LotExpiries::one_expired_since`]), in a program where
    /// no tier lapses.
    pub(crate) fn orders_tell_what_expired_up_to(
        &self,
        state: &CustomerState,
        orders: &[OrderRecord],
        at: DateTime<Utc>,
    ) -> bool {
        // Where tiers lapse, the ends a late upgrade brought and the older
        // ends walked again read current points past that return too,
        // where the orders no longer tell them (generous; the adversary of
        // 04e15e3, `newer_lots_attack.rs`): every order must tell them.
        if self.lapses {
            return self.orders_tell_what_expired(state, orders);
        }
        let borrowed: Vec<&OrderRecord> = orders.iter().collect();
        // Read only for a customer with such a return: most have none.
        let mut expiries: Option<LotExpiries> = None;
        let mut told = |o: &OrderRecord| {
            self.untold_return_of(state, o).is_none_or(|_| {
                self.returns_took_every_point(o)
                    && !expiries
                        .get_or_insert_with(|| LotExpiries::of(self, state, &borrowed, Some(at)))
                        .one_expired_since(o.placed_at, state)
            })
        };
        self.expired_as_now(state, &borrowed, &crate::reversal::CurrentRulesOnly)
            && orders.iter().filter(|o| o.placed_at <= at).all(&mut told)
    }

    /// Whether every return of `orders` took its points from its own
    /// order's lot, which the walk takes them from since the order's day,
    /// or took nothing: no redemption from the order to the return or to
    /// the lot's expiry, whichever came first (redemptions spend the oldest
    /// lots first), its instant kept. A return made once the lot had
    /// expired takes nothing from current points (`returns.rs`), and the
    /// walk, whose lot of that order expired as whole then, counts
    /// nothing after it either. Otherwise a return took from the newest
    /// lots too, and after it the orders tell current points the customer
    /// no longer had (docs/late-events.md, "Not exact").
    pub(crate) fn returns_took_their_own_lots<O: Borrow<OrderRecord>>(
        &self,
        state: &CustomerState,
        orders: &[O],
    ) -> bool {
        orders
            .iter()
            .all(|o| self.untold_return_of(state, o.borrow()).is_none())
    }

    /// The first instant from `from` on from which what remains of
    /// `orders` (a decision admitted them:
    /// [`Program::orders_tell_what_expired_up_to`]) no longer tells
    /// current points where points expire: the first return at or after
    /// `from` that took from other lots than its own order's (see
    /// [`Program::returns_took_their_own_lots`]). The walk that dates a
    /// late order's crossings stops there even before a lot expired
    /// ([`LotExpiries::one_expired_since`]): past it, it counts what
    /// remains of the returned order as though it was returned all
    /// along, where the course as told counted it whole. One made before
    /// `from` was admitted only while no lot has expired since its order,
    /// and from `from` on its order stands as the walk counts it.
    pub(crate) fn untold_from_on<O: Borrow<OrderRecord>>(
        &self,
        state: &CustomerState,
        orders: &[O],
        from: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        orders
            .iter()
            .filter_map(|o| self.untold_return_since(state, o.borrow(), from))
            .min()
    }

    /// Whether every return of `order` took from current points every
    /// point it took back, as a walk over what remains of the orders
    /// does. Under `withinBalance` a return may have found the balance
    /// short (a redemption between spent its points) and taken less; its
    /// mark keeps by how much. A mark that keeps none (written under
    /// `negativeBalance`, or before marks kept it), or one lost past the
    /// latest [`crate::events::MARKED_RETURNS`], tells only where returns
    /// take their points whatever the balance.
    fn returns_took_every_point(&self, order: &OrderRecord) -> bool {
        let below_zero = self.returns_spend_below_zero();
        (order.unmarked().is_zero() || below_zero)
            && order.returns.iter().all(|r| match r.shortfall {
                Some(short) => short.is_zero(),
                None => below_zero,
            })
    }

    /// Whether a return takes its points back whatever the balance
    /// (`negativeBalance`), so that current points lose them all.
    pub(crate) fn returns_spend_below_zero(&self) -> bool {
        let policy = self.config().return_policy.unwrap_or_default();
        policy.spent_points == crate::config::SpentPoints::NegativeBalance
    }

    /// The instant of the first return of `order` that took from other
    /// lots than its own; its own instant where the marks lost some
    /// return's (every return came at or after it).
    fn untold_return_of(
        &self,
        state: &CustomerState,
        order: &OrderRecord,
    ) -> Option<DateTime<Utc>> {
        self.untold_return_since(state, order, DateTime::<Utc>::MIN_UTC)
    }

    /// [`Program::untold_return_of`] among the returns made at or after
    /// `since` (its own instant still where the marks lost some).
    fn untold_return_since(
        &self,
        state: &CustomerState,
        order: &OrderRecord,
        since: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let period = self.config().points_expiry?;
        if order.returns.is_empty() && order.returned_amount.is_zero() {
            return None;
        }
        if !order.unmarked().is_zero() {
            return Some(order.placed_at);
        }
        let expires = date_of(period.forward_from(day_of(order.placed_at)))
            .and_time(NaiveTime::MIN)
            .and_utc();
        let redeemed_between = |from: DateTime<Utc>, to: DateTime<Utc>| {
            state
                .redemptions
                .as_ref()
                .is_some_and(|r| r.before(spent_by(to, true)) != r.before(from))
        };
        // A redemption at its instant that came before it spent no lot of
        // its own.
        let from = spent_by(order.placed_at, order.after_redemption);
        order
            .returns
            .iter()
            .filter(|r| r.at >= since && redeemed_between(from, r.at.min(expires)))
            .map(|r| r.at)
            .min()
    }

    /// After a late order counted among `orders` (every order of the
    /// customer, its own record among them): its points were added as a
    /// lot of its day, but the redemptions made since its instant spent
    /// the oldest lots then, which in time would have been its own. Where
    /// the orders tell current points (the returns took from their own
    /// lots, the same expiry all along) and the walk leaves the points
    /// held now, the lots are the walk's, as in time: only which lots hold
    /// the points, and so when they expire, changes. Where the two differ
    /// on the points held now, what expired or was spent in time differs
    /// too, and current points only move through an expiry or event that
    /// tells it (docs/late-events.md, "Not exact" 3).
    pub(crate) fn lots_as_in_time(&self, state: &mut CustomerState, orders: &[&OrderRecord]) {
        let Some(now) = state.last_event_at else {
            return;
        };
        let mut sorted = orders.to_vec();
        sorted.sort_by_key(|o| o.placed_at);
        if !self.orders_tell_what_expired(state, &sorted) {
            return;
        }
        let mut walk = NetWalk::new(self, &sorted, state.joined(), state);
        while walk.step().is_some() {}
        walk.spend_all();
        walk.expire_by(now);
        if walk.net.current_points == state.current_points
            && walk.net.lifetime_points == state.lifetime_points
        {
            state.lots = walk.net.lots;
        }
    }
}
