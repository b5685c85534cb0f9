//! A customer who spends points, fed as the service feeds the engine
//! (`shared/service/src/transact.rs`): an order alone first, and again
//! among the other orders when the engine asks for them; a return among
//! them all; with the orders, the redemptions when the engine wants them
//! (`reads`), set on the state for that one decision and never stored.

#![allow(dead_code)] // each test file uses its own part

use super::common::{self, at, d};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use tier_engine::*;

pub struct Served<'a> {
    pub p: &'a Program,
    pub s: CustomerState,
    pub records: Vec<OrderRecord>,
    pub redeemed: Vec<Redeemed>,
    reads: bool,
    /// How many decisions read the redemptions.
    pub read_count: usize,
    /// Every notice published, each decision's taken from the outbox as
    /// the service's commit takes them.
    pub told: Vec<Notice>,
    /// The reply to every return accepted.
    pub returned: Vec<AppliedReturn>,
    /// Each return decided as for a customer who had a late event, so
    /// that the replay in time checks it.
    pub replay_every_return: bool,
}

impl<'a> Served<'a> {
    pub fn new(p: &'a Program, reads: bool) -> Self {
        Served {
            p,
            s: CustomerState::new(p, at("2026-01-01T00:00:00Z")),
            records: Vec::new(),
            redeemed: Vec::new(),
            reads,
            read_count: 0,
            told: Vec::new(),
            returned: Vec::new(),
            replay_every_return: false,
        }
    }

    /// The redemptions, read beside the orders as the service reads them.
    fn read_redemptions(&mut self) {
        if self.reads && self.p.wants_redemptions(&self.s) {
            self.s.redemptions = Some(Redemptions::new(self.redeemed.clone()));
            self.read_count += 1;
        }
    }

    pub fn order(&mut self, o: &Order) {
        let before = self.s.clone();
        let mut applied = self.p.apply_order(&mut self.s, o).unwrap();
        if applied.wants_orders {
            self.s = before;
            self.read_redemptions();
            applied = self
                .p
                .apply_order_among(&mut self.s, o, &self.records)
                .unwrap();
        }
        self.s.redemptions = None;
        self.records.push(applied.record);
        self.commit();
    }

    fn commit(&mut self) {
        let notices = self.s.outbox.take();
        self.told.extend(notices);
    }

    /// Whether the redemption was accepted.
    pub fn redeem(&mut self, id: &str, when: DateTime<Utc>, points: Decimal) -> bool {
        let r = Redemption {
            redemption_id: id.into(),
            points,
            at: when,
        };
        // A late one among the orders where it asks for them, as the
        // service decides it.
        let ok = match self.p.redemption_wants_orders(&self.s, when) {
            true => {
                self.read_redemptions();
                let ok = self.p.redeem_among(&mut self.s, &r, &self.records).is_ok();
                self.s.redemptions = None;
                ok
            }
            false => self.p.redeem(&mut self.s, &r).is_ok(),
        };
        if ok {
            self.redeemed.push(Redeemed { at: when, points });
        }
        self.commit();
        ok
    }

    /// Whether the return was accepted.
    pub fn give_back(&mut self, order_id: &str, when: DateTime<Utc>, amount: Decimal) -> bool {
        if !self.records.iter().any(|r| r.order_id == order_id) {
            return false;
        }
        self.read_redemptions();
        if self.replay_every_return {
            self.s.late_seen = true;
        }
        let r = Return {
            return_id: format!("r-{order_id}-{when}"),
            order_id: order_id.into(),
            customer_id: "c1".into(),
            returned_at: when,
            amount: Some(amount),
        };
        let reply = common::give_back_among(self.p, &mut self.s, &mut self.records, &r);
        self.s.redemptions = None;
        self.commit();
        let ok = reply.is_ok();
        if let Ok(back) = &reply {
            assert_chains(back);
        }
        self.returned.extend(reply.ok());
        ok
    }
}

/// A return's reply names its moves down as one chain from the tier before
/// (each step from the tier the one before it reached), ending in the tier
/// after where it moved the customer down; the reply's `downgrade` spans it.
pub fn assert_chains(back: &AppliedReturn) {
    let steps = &back.downgrades;
    let chained = steps.windows(2).all(|w| w[0].to == w[1].from);
    assert!(chained, "reply steps do not chain: {steps:?}");
    if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
        assert_eq!(first.from, back.tier_before, "{steps:?}");
        assert!(
            last.to >= back.tier_after,
            "{steps:?} to {}",
            back.tier_after
        );
        let span = back.downgrade.as_ref().map(|d| (d.from, d.to));
        assert_eq!(span, Some((first.from, last.to)), "{steps:?}");
    }
}

/// `orders` and `redemptions` (instant, points) fed in time order, an
/// instant's orders before its redemptions. `late`: the order that
/// arrives after every other event instead. None when a redemption is
/// refused.
pub fn feed<'a>(
    p: &'a Program,
    orders: &[Order],
    redemptions: &[(DateTime<Utc>, Decimal)],
    late: Option<usize>,
) -> Option<Served<'a>> {
    feed_ties(p, orders, redemptions, late, false)
}

/// [`feed`], an instant's redemptions first when `redemptions_first`.
pub fn feed_ties<'a>(
    p: &'a Program,
    orders: &[Order],
    redemptions: &[(DateTime<Utc>, Decimal)],
    late: Option<usize>,
    redemptions_first: bool,
) -> Option<Served<'a>> {
    let mut c = Served::new(p, true);
    let mut events: Vec<(DateTime<Utc>, u8, usize)> = orders
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != late)
        .map(|(i, o)| (o.placed_at, u8::from(redemptions_first), i))
        .chain(
            redemptions
                .iter()
                .enumerate()
                .map(|(i, r)| (r.0, u8::from(!redemptions_first), i)),
        )
        .collect();
    events.sort();
    for (_, kind, i) in events {
        match kind == u8::from(redemptions_first) {
            true => c.order(&orders[i]),
            _ => {
                let (when, points) = redemptions[i];
                if !c.redeem(&format!("x{i}"), when, points) {
                    return None;
                }
            }
        }
    }
    if let Some(i) = late {
        c.order(&orders[i]);
    }
    Some(c)
}

/// [`feed`] with returns in time among the other events: each (order,
/// percent of what remains of it, hours after it) gives back that share,
/// rounded down to the dollar (none: skipped); a return of the late order
/// is refused (no record before it arrives). None when a redemption or a
/// return is refused.
pub fn feed_returning<'a>(
    p: &'a Program,
    orders: &[Order],
    redemptions: &[(DateTime<Utc>, Decimal)],
    returns: &[(usize, u32, i64)],
    late: Option<usize>,
) -> Option<Served<'a>> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Event {
        Order(usize),
        Redemption(usize),
        Return(usize),
    }
    let mut events: Vec<(DateTime<Utc>, Event)> = orders
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != late)
        .map(|(i, o)| (o.placed_at, Event::Order(i)))
        .chain(
            redemptions
                .iter()
                .enumerate()
                .map(|(i, r)| (r.0, Event::Redemption(i))),
        )
        .chain(returns.iter().enumerate().map(|(i, (which, _, hours))| {
            let o = &orders[which % orders.len()];
            (o.placed_at + Duration::hours(*hours), Event::Return(i))
        }))
        .collect();
    events.sort();
    let mut c = Served::new(p, true);
    let mut remaining: Vec<Decimal> = orders.iter().map(|o| o.amount).collect();
    for (when, event) in events {
        match event {
            Event::Order(i) => c.order(&orders[i]),
            Event::Redemption(i) => {
                if !c.redeem(&format!("x{i}"), when, redemptions[i].1) {
                    return None;
                }
            }
            Event::Return(i) => {
                let (which, percent, _) = returns[i];
                let o = which % orders.len();
                let amount = (remaining[o] * Decimal::from(percent) / Decimal::from(100)).floor();
                if amount.is_zero() {
                    continue;
                }
                remaining[o] -= amount;
                if !c.give_back(&orders[o].order_id, when, amount) {
                    return None;
                }
            }
        }
    }
    if let Some(i) = late {
        c.order(&orders[i]);
    }
    Some(c)
}

pub use super::common::orders_of;

/// Redemptions at half past an hour, never at an order's instant (an
/// order and a redemption of one instant come in the order they arrive).
pub fn redemptions_of(seeds: &[(i64, u32)]) -> Vec<(DateTime<Utc>, Decimal)> {
    let start = at("2026-03-01T00:30:00Z");
    seeds
        .iter()
        .map(|(hours, points)| (start + Duration::hours(*hours), Decimal::from(*points)))
        .collect()
}

/// Orders and redemptions drawn as [`orders_of`] and [`redemptions_of`]
/// draw them, fed in time: the explanation of the last order (for the
/// tier above the base), with the redemptions read, agrees with how it was
/// decided: met exactly when it reached that tier, and the smallest amount
/// it would have needed reaches it where a cent less does not (each fed
/// afresh). Orders of one instant count in each other's decisions in the
/// order they arrived, as their records keep it (`arrival`): the last
/// order drawn arrives last among them.
pub fn the_last_order_is_explained_as_decided(
    p: &Program,
    order_seeds: &[(i64, u32)],
    spent_seeds: &[(i64, u32)],
) -> Result<(), TestCaseError> {
    let orders = orders_of(order_seeds);
    let redemptions = redemptions_of(spent_seeds);
    let Some(c) = feed(p, &orders, &redemptions, None) else {
        return Err(TestCaseError::reject("a redemption refused"));
    };
    let last = orders.last().unwrap();
    let record = c
        .records
        .iter()
        .find(|r| r.order_id == last.order_id)
        .unwrap();
    let mut customer = c.s.clone();
    customer.redemptions = Some(Redemptions::new(c.redeemed.clone()));
    let asked = p.tier_name(1);
    let why = p
        .explain_order_of(
            &customer,
            record,
            &c.records,
            &CurrentRulesOnly,
            Some(asked),
        )
        .unwrap();
    let base = p.tier_name(0);
    let reached = |amount: Decimal| {
        let mut orders = orders.clone();
        orders.last_mut().unwrap().amount = amount;
        feed(p, &orders, &redemptions, None).map(|c| c.s.tier != base)
    };
    match &why.needed {
        Needed::HeldBefore => prop_assert_ne!(&record.tier_before, base),
        Needed::Met => {
            prop_assert_ne!(&record.tier_after, base);
            prop_assert_eq!(reached(last.amount), Some(true));
        }
        Needed::Amount { smallest, extra } => {
            prop_assert_eq!(*extra, *smallest - last.amount);
            prop_assert_eq!(&record.tier_after, base);
            prop_assert_eq!(
                reached(*smallest),
                Some(true),
                "not reached at {}",
                smallest
            );
            let below = reached(*smallest - d("0.01"));
            prop_assert!(below != Some(true), "reached below {}", smallest);
        }
        Needed::NoAmount { .. } => prop_assert_eq!(&record.tier_after, base),
    }
    Ok(())
}

/// Gives back, at each drawn instant, `percent` of what remains of order
/// `which` (modulo the orders), rounded down to the dollar (none: skipped);
/// a fresh customer fed what remains of each order and the same
/// redemptions in time. None when a redemption no longer fits.
pub fn after_returns<'a>(
    p: &'a Program,
    c: &mut Served<'_>,
    orders: &[Order],
    redemptions: &[(DateTime<Utc>, Decimal)],
    returns: &[(usize, u32, DateTime<Utc>)],
) -> Result<Option<Served<'a>>, TestCaseError> {
    let mut remaining: Vec<Decimal> = orders.iter().map(|o| o.amount).collect();
    for (which, percent, when) in returns {
        let i = which % orders.len();
        let amount = (remaining[i] * Decimal::from(*percent) / Decimal::from(100)).floor();
        if amount.is_zero() {
            continue;
        }
        remaining[i] -= amount;
        prop_assert!(c.give_back(&orders[i].order_id, *when, amount));
    }
    let net: Vec<Order> = orders
        .iter()
        .zip(&remaining)
        .filter(|(_, left)| !left.is_zero())
        .map(|(o, left)| Order {
            amount: *left,
            ..o.clone()
        })
        .collect();
    Ok(feed(p, &net, redemptions, None))
}

/// The config versions a return may read: those given, by version.
pub struct Versions(pub Vec<Program>);

impl RuleBook for Versions {
    fn version(&self, version: u64) -> Option<&Program> {
        self.0.iter().find(|p| p.version() == version)
    }
}

/// An event of a drawn or hand-written history: ("order" | "return" |
/// "redeem", order id, instant, amount).
pub type Event = (&'static str, String, DateTime<Utc>, String);

/// `events` in the order they are told: in time (by instant, listed order
/// among ties), but the orders named in `late` (and every return of them)
/// after every other event, each late order followed by its returns.
pub fn told_order<'e>(events: &'e [Event], late: &[impl AsRef<str>]) -> Vec<&'e Event> {
    let mut sorted: Vec<(usize, &Event)> = events.iter().enumerate().collect();
    sorted.sort_by_key(|(i, e)| (e.2, *i));
    let sorted: Vec<&Event> = sorted.into_iter().map(|(_, e)| e).collect();
    let is_late = |e: &Event| late.iter().any(|l| l.as_ref() == e.1);
    let mut told: Vec<&Event> = sorted.iter().copied().filter(|e| !is_late(e)).collect();
    for l in late {
        for kind in ["order", "return"] {
            told.extend(
                sorted
                    .iter()
                    .copied()
                    .filter(|e| e.1 == l.as_ref() && e.0 == kind),
            );
        }
    }
    told
}
