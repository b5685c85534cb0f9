//! What a return does to the tier: every upgrade in the customer's history
//! is judged again with the returned amounts removed, each as of its own
//! instant and under the rules it was decided under.
//!
//! The reference: "If a customer returns a transaction that resulted in a
//! tier upgrade, the upgrade will be reversed, and the customer will be
//! downgraded to the previous eligible tier." Judging every upgrade (not
//! only the returned order's own) closes the gap where returning the older,
//! upgrading orders first kept the top tier with nothing bought. Judging
//! each on its own instant's windows means a window that rolled off since
//! never demotes through a return (demotion by time is the lifecycle's
//! job). Judging under the upgrade's own config version means a threshold
//! raised since never demotes anyone through a return either.
//!
//! For criteria on purchases, trackers and single orders this is exactly
//! the tier a fresh customer reaches by replaying only the net (unreturned)
//! amounts in time order (tests/properties.rs proves it on random
//! histories). Points criteria are judged on the net points of the orders
//! placed up to the instant. Current points are spent by the redemptions
//! made before it when those were read (`redeemed.rs`), and, where points
//! expire, by what expired by then of what remains of the orders
//! (`net_walk.rs`).

use crate::evaluate::Evaluator;
use crate::events::OrderRecord;
use crate::net_walk::NetWalk;
use crate::period::day_of;
use crate::program::{Program, TierIndex};
use crate::state::{CustomerState, TierChange};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::borrow::Cow;

/// Config versions a replay of expiry asks at most: each is one read the
/// first time a process needs it, so a customer whose first event came
/// more versions ago than this is judged without expiry (generous).
const MAX_VERSIONS_ASKED: u64 = 32;

/// The program versions a customer's upgrades were decided under.
pub trait RuleBook {
    /// The program as it was at config version `version`, if known.
    fn version(&self, version: u64) -> Option<&Program>;
}

/// Only the current program: every upgrade is judged under today's rules.
pub struct CurrentRulesOnly;

impl RuleBook for CurrentRulesOnly {
    fn version(&self, _version: u64) -> Option<&Program> {
        None
    }
}

/// What a return is judged against beside the customer's state.
pub struct ReturnHistory<'a> {
    /// Every completed order of the customer (their stored records).
    pub orders: &'a [OrderRecord],
    pub rules: &'a dyn RuleBook,
}

impl Program {
    pub(crate) fn rules_for<'a>(
        &'a self,
        version: Option<u64>,
        book: &'a dyn RuleBook,
    ) -> &'a Program {
        match version {
            Some(v) if v != self.version() => book.version(v).unwrap_or(self),
            _ => self,
        }
    }

    /// Whether points expired under today's `pointsExpiry` all along: every
    /// config version from the first the customer's orders and history
    /// name up to today's (any of them may have been in force when points
    /// expired, named by nothing of the customer's) expired them after the
    /// same period, as far as the book tells (a version it does not hold
    /// tells nothing). A replay counts expiry only then: what expired under
    /// another period is in nothing it reads, and counting none is
    /// generous, as before.
    pub(crate) fn expired_as_now(
        &self,
        state: &CustomerState,
        sorted: &[&OrderRecord],
        book: &dyn RuleBook,
    ) -> bool {
        let period = self.config().points_expiry;
        let first = sorted
            .iter()
            .filter_map(|o| o.config_version)
            .chain(state.history.iter().filter_map(|c| c.config_version))
            .min()
            .unwrap_or(self.version());
        period.is_some()
            && self.version() - first.min(self.version()) <= MAX_VERSIONS_ASKED
            && (first..self.version()).all(|v| {
                book.version(v)
                    .is_some_and(|p| p.config().points_expiry == period)
            })
    }

    /// The config versions [`Program::expired_as_now`] asks about, where a
    /// replay counts expiry: from the first `named` up to today's.
    pub fn versions_expiry_asks(&self, named: impl Iterator<Item = u64>) -> std::ops::Range<u64> {
        let replays = self.config().points_expiry.is_some() && self.counts_current_points();
        match named.min() {
            Some(first)
                if replays && self.version() - first.min(self.version()) <= MAX_VERSIONS_ASKED =>
            {
                first..self.version()
            }
            _ => 0..0,
        }
    }

    fn same_trackers(&self, other: &Program) -> bool {
        self.trackers().len() == other.trackers().len()
            && self
                .trackers()
                .iter()
                .zip(other.trackers())
                .all(|(a, b)| a.key == b.key)
    }

    /// The tier the customer's history earns with every order at what
    /// remains of it: the history replayed in time order, where each order
    /// lifts the customer to the highest tier whose rule (of the config
    /// version the order was decided under) holds with what remains of the
    /// orders placed so far, and each admin action and each move down by the
    /// validity rules sets the tier.
    pub fn rejudged_tier(
        &self,
        state: &CustomerState,
        orders: &[OrderRecord],
        book: &dyn RuleBook,
    ) -> TierIndex {
        self.in_time(state, orders, book).rejudged()
    }

    /// The customer's orders and history, to tell the tier held in time
    /// at any instant.
    pub(crate) fn in_time<'a>(
        &'a self,
        state: &'a CustomerState,
        orders: &'a [OrderRecord],
        book: &'a dyn RuleBook,
    ) -> InTime<'a> {
        self.in_time_of(state, orders.iter().collect(), book)
    }

    /// [`Program::in_time`] on orders borrowed from anywhere.
    pub(crate) fn in_time_of<'a>(
        &'a self,
        state: &'a CustomerState,
        mut sorted: Vec<&'a OrderRecord>,
        book: &'a dyn RuleBook,
    ) -> InTime<'a> {
        sorted.sort_by_key(|o| o.placed_at);
        InTime {
            program: self,
            state,
            sorted,
            book,
        }
    }

    /// The tier a replay of the customer's history starts from: the base,
    /// or, for a history cut at its limit, the lower end of its first
    /// entry. The replay only lifts between marks, so its start is a
    /// floor: where the first entry kept is a move down (a return's),
    /// the tier it left was no floor then, and starting there kept a
    /// customer on a tier every order of which was returned (an
    /// adversary's in-time Gold, 51 returns in).
    pub(crate) fn replay_start(&self, state: &CustomerState) -> TierIndex {
        match state.history.first() {
            Some(first) if state.history_was_cut() => {
                let from = self.tier_index(&first.from).unwrap_or(0);
                let to = self.tier_index(&first.to).unwrap_or(0);
                from.min(to)
            }
            _ => 0,
        }
    }

    /// [`Program::rejudged_tier`] on `sorted` (by `placed_at`), counting
    /// only the history's changes made up to `until`.
    fn replayed_until(
        &self,
        state: &CustomerState,
        sorted: &[&OrderRecord],
        book: &dyn RuleBook,
        until: Option<DateTime<Utc>>,
    ) -> TierIndex {
        Replay::new(self, state, sorted, book).advance(until)
    }

    /// The highest tier above `tier` whose rule (of config `version`) holds
    /// at `at` with what remains of `orders` (`running` holds them).
    fn lifted(
        &self,
        tier: TierIndex,
        version: Option<u64>,
        book: &dyn RuleBook,
        running: &CustomerState,
        orders: &[&OrderRecord],
        at: DateTime<Utc>,
    ) -> TierIndex {
        let rules = self.rules_for(version, book);
        let fresh;
        let net = if self.same_trackers(rules) {
            running
        } else {
            fresh = CustomerState {
                // The same orders' points, less what the walk spent.
                current_points: running.current_points,
                ..net_state_at(rules, orders, at)
            };
            &fresh
        };
        let eval = Evaluator::new(rules, net, at, 0, None);
        // Called at every instant of a replay: the tiers are matched by
        // name only when another version's rules judge.
        let same_rules = std::ptr::eq(rules, self);
        let in_rules = |t: TierIndex| match same_rules {
            true => Some(t),
            false => rules.tier_index(self.tier_name(t)),
        };
        (tier + 1..self.tiers().len())
            .rev()
            .find(|t| {
                in_rules(*t)
                    .is_some_and(|rt| eval.holds(rt, Decimal::ZERO, Decimal::ZERO).is_some())
            })
            .unwrap_or(tier)
    }

    /// Adds what remains of `order` to a replayed customer.
    pub(crate) fn add_net(&self, state: &mut CustomerState, order: &OrderRecord) {
        if order.fully_returned() {
            return;
        }
        let net = order.remaining();
        if order.placed_at >= self.start_date() {
            state.lifetime_purchases += net;
            state.set_best_order(&order.order_id, net);
        }
        // A lot of the order's day, for a walk that replays expiry.
        let points = order.points_awarded - order.points_reversed;
        state.add_points(day_of(order.placed_at), points);
        self.count_in_trackers(state, order, None, &[]);
    }
}

/// [`Program::rejudged_tier`] as a walk that can stop at an instant and go
/// on from there: the tier at each of several instants in one pass
/// through the orders.
struct Replay<'a> {
    program: &'a Program,
    book: &'a dyn RuleBook,
    tier: TierIndex,
    /// Admin sets and moves down by the validity rules set the tier at
    /// their instant whatever the orders say; a re-evaluation after a
    /// config change judges, at its instant and under its version, what
    /// remains of the orders placed before it. A move a late upgrade dated
    /// before it superseded never happened. A change a late order's walk
    /// told sets the tier too where tiers lapse (an end judged anew);
    /// where none does it is only an order's lift told again, which the
    /// orders, as they stand, judge (a return after it may undo it).
    marks: Vec<&'a TierChange>,
    next_mark: usize,
    walk: NetWalk<'a, 'a, &'a OrderRecord>,
}

impl<'a> Replay<'a> {
    fn new(
        program: &'a Program,
        state: &'a CustomerState,
        sorted: &'a [&'a OrderRecord],
        book: &'a dyn RuleBook,
    ) -> Self {
        let mut marks: Vec<&TierChange> = state
            .standing_changes()
            .into_iter()
            .filter(|c| {
                c.admin
                    || (c.cause == crate::validity::RETENTION && c.from != c.to)
                    || program.lapses && c.cause.starts_with(crate::rejudge::LATE_ORDER)
                    || c.is_reevaluation()
            })
            .collect();
        marks.sort_by_key(|c| c.at);
        let walk = NetWalk::new(program, sorted, state.tier_since, state);
        Replay {
            program,
            book,
            tier: program.replay_start(state),
            marks,
            next_mark: 0,
            walk: walk.counting_expiry(program.expired_as_now(state, sorted, book)),
        }
    }

    /// The tier once the orders placed up to `until` (all: None) and the
    /// history's changes made by then count; a later call goes on from
    /// there (`until` ascending).
    fn advance(&mut self, until: Option<DateTime<Utc>>) -> TierIndex {
        let within = |at: DateTime<Utc>| until.is_none_or(|until| at <= until);
        while let Some(at) = self.walk.next_instant().filter(|at| within(*at)) {
            // An admin set at an order's instant comes first; a
            // re-evaluation at it came after the order.
            while let Some(change) = self
                .marks
                .get(self.next_mark)
                .copied()
                .filter(|c| c.at < at || (c.at == at && !c.is_reevaluation()))
            {
                self.tier = self.mark(change);
                self.next_mark += 1;
            }
            self.walk.step();
            let counted = self.walk.counted();
            let version = counted.last().and_then(|o| o.config_version);
            self.tier =
                self.program
                    .lifted(self.tier, version, self.book, &self.walk.net, counted, at);
        }
        while let Some(change) = self
            .marks
            .get(self.next_mark)
            .copied()
            .filter(|c| within(c.at))
        {
            self.tier = self.mark(change);
            self.next_mark += 1;
        }
        self.tier
    }

    fn mark(&mut self, change: &TierChange) -> TierIndex {
        if change.is_reevaluation() {
            self.walk.spend_before(change.at);
            self.program.lifted(
                self.tier,
                change.config_version,
                self.book,
                &self.walk.net,
                self.walk.counted(),
                change.at,
            )
        } else {
            self.program.tier_index(&change.to).unwrap_or(self.tier)
        }
    }
}

/// A fresh customer holding, at `at`, what remains of `orders` (all placed
/// at or before `at`), counted by `rules`' own trackers.
pub(crate) fn net_state_at(
    rules: &Program,
    orders: &[&OrderRecord],
    at: DateTime<Utc>,
) -> CustomerState {
    let mut state = CustomerState::new(rules, at);
    for order in orders {
        rules.add_net(&mut state, order);
    }
    state
}

/// The tier a customer held in time at each instant, from their orders as
/// they stood then (returns made later not yet made) and the history's
/// changes made by then: what a late return is dated by.
pub(crate) struct InTime<'a> {
    program: &'a Program,
    state: &'a CustomerState,
    sorted: Vec<&'a OrderRecord>,
    book: &'a dyn RuleBook,
}

impl InTime<'_> {
    /// [`Program::rejudged_tier`]: the tier after every order as it stands.
    pub(crate) fn rejudged(&self) -> TierIndex {
        self.program
            .replayed_until(self.state, &self.sorted, self.book, None)
    }

    /// Every instant at which an order was placed, a return made or the
    /// history changed, in order, each once.
    pub(crate) fn instants(&self) -> Vec<DateTime<Utc>> {
        let mut instants: Vec<DateTime<Utc>> = self
            .sorted
            .iter()
            .flat_map(|o| std::iter::once(o.placed_at).chain(o.returns.iter().map(|r| r.at)))
            .chain(self.state.history.iter().map(|c| c.at))
            .collect();
        instants.sort_unstable();
        instants.dedup();
        instants
    }

    /// The tier held at each of `instants` (from [`InTime::instants`]):
    /// at one with a return, first once its orders counted, then after its
    /// returns. The orders stand the same between two return instants, so
    /// each such stretch is one replay of the orders, not one per instant.
    pub(crate) fn course_over(
        &self,
        instants: &[DateTime<Utc>],
    ) -> Vec<(DateTime<Utc>, TierIndex)> {
        let mut returned: Vec<DateTime<Utc>> = self
            .sorted
            .iter()
            .flat_map(|o| o.returns.iter().map(|r| r.at))
            .collect();
        returned.sort_unstable();
        returned.dedup();
        // Each step: the instant, and the instant the orders stood at.
        let mut steps: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for at in instants {
            if returned.binary_search(at).is_ok() {
                steps.push((*at, *at));
            }
            steps.push((*at, *at + chrono::Duration::nanoseconds(1)));
        }
        let made_before = |stood: DateTime<Utc>| returned.partition_point(|r| *r < stood);
        let mut course = Vec::with_capacity(steps.len());
        for stretch in steps.chunk_by(|a, b| made_before(a.1) == made_before(b.1)) {
            let stood: Vec<Cow<'_, OrderRecord>> = self
                .sorted
                .iter()
                .map(|o| o.as_it_stood(stretch[0].1))
                .collect();
            let stood: Vec<&OrderRecord> = stood.iter().map(|o| o.as_ref()).collect();
            let mut replay = Replay::new(self.program, self.state, &stood, self.book);
            course.extend(
                stretch
                    .iter()
                    .map(|(at, _)| (*at, replay.advance(Some(*at)))),
            );
        }
        course
    }

    /// The tier held just after `at`: returns made at it count there.
    pub(crate) fn tier_after(&self, at: DateTime<Utc>) -> TierIndex {
        self.tier_as_of(at, at + chrono::Duration::nanoseconds(1))
    }

    /// The tier held at `at` once its orders counted, before its returns
    /// (in time an order is decided before a return of the same instant),
    /// when a return was made then; None otherwise (it is `tier_after`).
    pub(crate) fn tier_amid(&self, at: DateTime<Utc>) -> Option<TierIndex> {
        let returned_then = self
            .sorted
            .iter()
            .any(|o| o.returns.iter().any(|r| r.at == at));
        returned_then.then(|| self.tier_as_of(at, at))
    }

    /// The tier after the orders placed up to `at`, as they stood at
    /// `stood` (returns made at it or later not yet made).
    fn tier_as_of(&self, at: DateTime<Utc>, stood: DateTime<Utc>) -> TierIndex {
        let stood: Vec<Cow<'_, OrderRecord>> = self
            .sorted
            .iter()
            .take_while(|o| o.placed_at <= at)
            .map(|o| o.as_it_stood(stood))
            .collect();
        let stood: Vec<&OrderRecord> = stood.iter().map(|o| o.as_ref()).collect();
        self.program
            .replayed_until(self.state, &stood, self.book, Some(at))
    }
}
