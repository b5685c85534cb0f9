//! A customer who spends points, fed as the service feeds the engine
//! (`shared/service/src/transact.rs`): an order alone first, and again
//! among the other orders when the engine asks for them; a return among
//! them all; with the orders, the redemptions when the engine wants them
//! (`reads`), set on the state for that one decision and never stored.

#![allow(dead_code)] // each test file uses its own part

use super::common::{self, at};
use chrono::{DateTime, Utc};
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
    }

    /// Whether the redemption was accepted.
    pub fn redeem(&mut self, id: &str, when: DateTime<Utc>, points: Decimal) -> bool {
        let r = Redemption {
            redemption_id: id.into(),
            points,
            at: when,
        };
        let ok = self.p.redeem(&mut self.s, &r).is_ok();
        if ok {
            self.redeemed.push(Redeemed { at: when, points });
        }
        ok
    }

    /// Whether the return was accepted.
    pub fn give_back(&mut self, order_id: &str, when: DateTime<Utc>, amount: Decimal) -> bool {
        if !self.records.iter().any(|r| r.order_id == order_id) {
            return false;
        }
        self.read_redemptions();
        let r = Return {
            return_id: format!("r-{order_id}-{when}"),
            order_id: order_id.into(),
            customer_id: "c1".into(),
            returned_at: when,
            amount: Some(amount),
        };
        let ok = common::give_back_among(self.p, &mut self.s, &mut self.records, &r).is_ok();
        self.s.redemptions = None;
        ok
    }
}
