//! Histories of orders, redemptions and returns drawn by the expiry
//! adversaries (`returns_expiry_attack.rs`, `newer_lots_attack.rs`), fed in
//! time or with some orders told last, and hand-written ones.

#![allow(dead_code)] // each test file uses its own part

use crate::common::{at, d, order};
use crate::spenders::Served;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tier_engine::*;

/// One history: orders, redemptions and returns, each with its rank among
/// the events of its instant (orders are rank 1).
#[derive(Clone)]
pub struct Drawn {
    pub orders: Vec<Order>,
    /// (instant, points, rank 0 or 2)
    pub redemptions: Vec<(DateTime<Utc>, Decimal, u8)>,
    /// (order, percent of what remains, instant, rank 0 or 3)
    pub returns: Vec<(usize, u32, DateTime<Utc>, u8)>,
    /// Orders that arrive after every other event, in this order.
    pub late: Vec<usize>,
}

impl std::fmt::Debug for Drawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f)?;
        for (i, o) in self.orders.iter().enumerate() {
            writeln!(
                f,
                "  order #{i} {} {} ${}{}",
                o.order_id,
                o.placed_at,
                o.amount,
                if self.late.contains(&i) { " LATE" } else { "" }
            )?;
        }
        for r in &self.redemptions {
            writeln!(f, "  redeem {} {} pts rank {}", r.0, r.1, r.2)?;
        }
        for r in &self.returns {
            writeln!(f, "  return #{} {}% at {} rank {}", r.0, r.1, r.2, r.3)?;
        }
        writeln!(f, "  late arrival {:?}", self.late)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Step {
    Order(usize),
    Redeem(usize),
    Return(usize),
}

pub fn timeline(w: &Drawn) -> Vec<(DateTime<Utc>, u8, usize, Step)> {
    let mut ev = Vec::new();
    for (i, o) in w.orders.iter().enumerate() {
        ev.push((o.placed_at, 1, i, Step::Order(i)));
    }
    for (i, r) in w.redemptions.iter().enumerate() {
        ev.push((r.0, r.2, i, Step::Redeem(i)));
    }
    for (i, r) in w.returns.iter().enumerate() {
        ev.push((r.2, r.3, i, Step::Return(i)));
    }
    ev.sort_by_key(|e| (e.0, e.1, e.2));
    ev
}

/// Fed in time (`late` false) or with `w.late` arriving last. None when a
/// redemption or return is refused.
pub fn feed<'a>(p: &'a Program, w: &Drawn, late: bool) -> Option<Served<'a>> {
    let mut c = feed_but_late(p, w, late)?;
    if late {
        for &i in &w.late {
            c.order(&w.orders[i]);
        }
    }
    // Expiry as of the latest event, as a job would run it.
    let last = timeline(w).last().unwrap().0;
    p.expire(&mut c.s, last);
    Some(c)
}

/// The customer the late orders arrive at: every other event of `w` fed
/// in time (`late`: all but `w.late`), no job run after.
pub fn feed_but_late<'a>(p: &'a Program, w: &Drawn, late: bool) -> Option<Served<'a>> {
    feed_but_late_to(Served::new(p, true), w, late)
}

/// [`feed_but_late`] to the customer `c`.
pub fn feed_but_late_to<'a>(mut c: Served<'a>, w: &Drawn, late: bool) -> Option<Served<'a>> {
    let mut remaining: Vec<Decimal> = w.orders.iter().map(|o| o.amount).collect();
    for (when, _, _, step) in timeline(w) {
        match step {
            Step::Order(i) if late && w.late.contains(&i) => {}
            Step::Order(i) => c.order(&w.orders[i]),
            Step::Redeem(i) => {
                if !c.redeem(&format!("x{i}"), when, w.redemptions[i].1) {
                    return None;
                }
            }
            Step::Return(k) => {
                let (o, percent, _, _) = w.returns[k];
                let amount = (remaining[o] * Decimal::from(percent) / Decimal::from(100)).floor();
                if amount.is_zero() {
                    continue;
                }
                remaining[o] -= amount;
                if !c.give_back(&w.orders[o].order_id, when, amount) {
                    return None;
                }
            }
        }
    }
    Some(c)
}

pub fn start() -> DateTime<Utc> {
    at("2026-03-01T00:00:00Z")
}

/// Whether a late order shares its instant with another order or a
/// redemption (returns of its instant allowed).
pub fn late_ties_but_returns(w: &Drawn) -> bool {
    w.late.iter().any(|&l| {
        let t = w.orders[l].placed_at;
        w.orders
            .iter()
            .enumerate()
            .any(|(i, o)| i != l && o.placed_at == t)
            || w.redemptions.iter().any(|r| r.0 == t)
    })
}

/// Whether a redemption ranks before an order of its instant.
pub fn redemption_before_order(w: &Drawn) -> bool {
    w.redemptions
        .iter()
        .any(|r| r.2 == 0 && w.orders.iter().any(|o| o.placed_at == r.0))
}

/// Whether a redemption came after a late order's instant: in time it
/// would have spent that order's (older) lot, which then expired with
/// less in it (docs "Not exact" 3, harsh; an order placed after every
/// event is decided on those points).
pub fn redeemed_after_late(w: &Drawn) -> bool {
    w.late
        .iter()
        .any(|&l| w.redemptions.iter().any(|r| r.0 >= w.orders[l].placed_at))
}

pub fn tier_of(p: &Program, s: &CustomerState) -> usize {
    p.tier_index(&s.tier).unwrap()
}

pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

pub fn dump(label: &str, c: &Served<'_>) {
    eprintln!(
        "{label}: tier {} since {} current {} lifetime {}",
        c.s.tier, c.s.tier_since, c.s.current_points, c.s.lifetime_points
    );
    for h in &c.s.history {
        eprintln!("   {} -> {} at {} ({})", h.from, h.to, h.at, h.cause);
    }
    for r in &c.records {
        eprintln!(
            "   rec {} {} tier {}->{} returned {}",
            r.order_id, r.placed_at, r.tier_before, r.tier_after, r.returned_amount
        );
    }
}

/// Orders (id, instant, dollars), redemptions (instant, points) and
/// returns (order id, instant, dollars) in the order listed as in time;
/// `late` order ids and returns listed as `late return` arrive last
/// (the orders in the order of `late`, then the returns), or where an
/// `arrive` entry stands.
pub fn hand<'a>(
    p: &'a Program,
    events: &[(&str, &str, &str, &str)],
    late: &[&str],
) -> (Served<'a>, Served<'a>) {
    let run = |told_late: bool| {
        let mut c = Served::new(p, true);
        let mut held: Vec<(&str, &str, &str, &str)> = Vec::new();
        let mut last = None;
        let arrive = |c: &mut Served<'a>, held: &mut Vec<(&str, &str, &str, &str)>| {
            for id in late {
                if let Some(i) = held.iter().position(|h| h.0 == "order" && h.1 == *id) {
                    let (_, id, when, amount) = held.remove(i);
                    c.order(&order(id, at(when), amount));
                }
            }
            for (_, id, when, amount) in held.drain(..) {
                assert!(c.give_back(id, at(when), d(amount)), "late return {id}");
            }
        };
        for event in events {
            let (kind, id, when, amount) = *event;
            if kind == "arrive" {
                if told_late {
                    arrive(&mut c, &mut held);
                }
                continue;
            }
            last = last.max(Some(at(when)));
            match kind {
                "order" | "late return" if told_late && (kind != "order" || late.contains(&id)) => {
                    held.push(*event)
                }
                "order" => c.order(&order(id, at(when), amount)),
                "redeem" => assert!(c.redeem(id, at(when), d(amount)), "redeem {id}"),
                _ => assert!(c.give_back(id, at(when), d(amount)), "return {id}"),
            }
        }
        arrive(&mut c, &mut held);
        p.expire(&mut c.s, last.unwrap());
        c
    };
    let (t, l) = (run(false), run(true));
    dump("in time", &t);
    dump("late", &l);
    (t, l)
}

/// Whether a return comes at a late order's instant.
pub fn return_at_a_late_instant(w: &Drawn) -> bool {
    w.late
        .iter()
        .any(|&l| w.returns.iter().any(|r| r.2 == w.orders[l].placed_at))
}

/// Whether a late order shares its instant with another event.
pub fn late_ties(w: &Drawn) -> bool {
    late_ties_but_returns(w) || return_at_a_late_instant(w)
}
