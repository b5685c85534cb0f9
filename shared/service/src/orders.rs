//! Order ingestion. Uncontended, an order costs one consistent read of the
//! customer and one transaction: the order item (must not exist), the state
//! (must still be the version read) and a check of the program version.
//! What a repeated order id means is the engine's order lifecycle.

use crate::customers::timestamp;
use crate::error::ApiError;
use crate::json::{self, decode, digest, replay};
use crate::programs::LoadedProgram;
use crate::transact::{Dated, Snapshot, Step, UseCase};
use crate::wire::*;
use crate::Service;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tier_engine::{
    transition, Decision, Order, OrderRecord, OrderStatus, Program, ReturnHistory, Transition,
};
use tier_store::{keys, EventItem, EventWrite};

pub(crate) fn upgrades_out(program: &Program, decision: &Decision) -> Vec<UpgradeOut> {
    decision
        .upgrades
        .iter()
        .map(|u| UpgradeOut {
            from: program.tier_name(u.from).to_owned(),
            to: program.tier_name(u.to).to_owned(),
            at: u.at,
            upgrade_type: u.upgrade_type.as_str().to_owned(),
            criteria: program.tiers()[u.to]
                .rule
                .iter()
                .flat_map(|r| r.criteria.iter().enumerate())
                .filter(|(i, _)| u.met & (1 << i) != 0)
                .map(|(_, c)| c.id.clone())
                .collect(),
        })
        .collect()
}

struct IngestOrder<'a> {
    program_id: &'a str,
    order: &'a Order,
    body_hash: String,
    /// The order's item, once a commit found it there.
    known_item: Option<EventItem>,
    /// An order placed before the customer's latest event upgraded: its
    /// upgrades are dated among the customer's other orders.
    with_orders: bool,
}

impl UseCase for IngestOrder<'_> {
    type Reply = OrderResponse;

    fn customer(&self) -> &str {
        &self.order.customer_id
    }

    fn at(&self) -> DateTime<Utc> {
        self.order.placed_at
    }

    fn dated(&self) -> Option<Dated> {
        Some(Dated {
            field: "placedAt",
            at: self.order.placed_at,
            sk: keys::order_sk(&self.order.order_id),
        })
    }

    /// Cancelling a completed order returns it: every upgrade is judged.
    /// A late order the engine asks them for is decided among the others.
    fn needs_orders(&self) -> bool {
        self.with_orders
            || self.order.status == OrderStatus::Cancelled
                && self
                    .known_item
                    .as_ref()
                    .is_some_and(|i| i.status.as_deref() == Some(OrderStatus::Completed.as_str()))
    }

    fn decide(
        &mut self,
        loaded: &LoadedProgram,
        snapshot: Snapshot,
    ) -> Result<Step<OrderResponse>, ApiError> {
        let order = self.order;
        let seen = self.known_item.as_ref().map(|item| {
            let previous = item.status.as_deref().and_then(OrderStatus::from_name);
            transition(previous, item.payload_hash == self.body_hash, order.status)
        });
        match (seen, &self.known_item) {
            (Some(Transition::Duplicate), Some(item)) => {
                return replay(item, &self.body_hash, "order", &order.order_id).map(Step::Answer)
            }
            (Some(Transition::Conflict), _) => {
                return Err(ApiError::idempotency_conflict("order", &order.order_id))
            }
            _ => {}
        }
        loaded.program.accepts(order)?;
        let history = ReturnHistory {
            orders: &snapshot.orders,
            rules: &snapshot.rules,
        };
        self.plan(loaded, snapshot.state, seen, &history)
    }

    fn event_exists(
        &mut self,
        _index: usize,
        existing: Option<EventItem>,
    ) -> Result<Option<OrderResponse>, ApiError> {
        self.known_item = existing;
        Ok(None)
    }
}

impl IngestOrder<'_> {
    fn plan(
        &mut self,
        loaded: &LoadedProgram,
        mut state: tier_engine::CustomerState,
        seen: Option<Transition>,
        history: &ReturnHistory<'_>,
    ) -> Result<Step<OrderResponse>, ApiError> {
        let program = &loaded.program;
        let order = self.order;
        let existing = self.known_item.as_ref();
        let tier = program.tier_name(state.tier_index(program)).to_owned();
        let mut response = OrderResponse {
            program_id: self.program_id.to_owned(),
            customer_id: order.customer_id.clone(),
            order_id: order.order_id.clone(),
            applied: false,
            duplicate: false,
            status: order.status.as_str().to_owned(),
            tier_before: tier.clone(),
            tier_after: tier.clone(),
            points_awarded: Decimal::ZERO.into(),
            points_segments: vec![],
            upgrades: vec![],
            points_reversed: None,
            downgrades: vec![],
            tier_on_arrival: Some(tier),
        };
        let mut item = EventItem {
            unreadable_record: None,
            sk: keys::order_sk(&order.order_id),
            payload_hash: self.body_hash.clone(),
            status: Some(order.status.as_str().to_owned()),
            result: String::new(),
            record: None,
            placed_at: Some(timestamp(order.placed_at)),
            at: None,
            item_version: existing.map_or(1, |e| e.item_version + 1),
        };
        let mut changed_state = false;
        match (seen, order.status) {
            (None | Some(Transition::Complete), OrderStatus::Completed) => {
                let applied = match self.with_orders {
                    true => program.apply_order_among(&mut state, order, history.orders)?,
                    false => program.apply_order(&mut state, order)?,
                };
                if applied.wants_orders && !self.with_orders {
                    // One query of the customer's orders, as a return
                    // makes, only for a late order the engine asks them for
                    // (once: a customer with none asks again).
                    self.with_orders = true;
                    return Ok(Step::ReadMore);
                }
                let d = &applied.decision;
                response.applied = true;
                // A validity that ran out by the order's time moved the
                // customer before the order was decided.
                response.tier_before = program.tier_name(d.tier_before).to_owned();
                response.tier_after = program.tier_name(d.tier_after).to_owned();
                response.points_awarded = d.points.into();
                response.points_segments = d
                    .segments
                    .iter()
                    .map(|s| SegmentOut {
                        tier: program.tier_name(s.tier).to_owned(),
                        amount: s.amount.into(),
                        rate: s.rate.into(),
                        points: s.points.into(),
                    })
                    .collect();
                response.upgrades = upgrades_out(program, d);
                item.record = Some(applied.record.clone());
                changed_state = true;
            }
            (Some(Transition::CancelCompleted), _) => {
                let mut record: OrderRecord = existing
                    .and_then(|e| e.record.clone())
                    .ok_or_else(|| {
                        tracing::error!(order = %order.order_id, "completed order item without its record");
                        ApiError::internal("the stored order is unreadable; it has been logged")
                    })?;
                let now = Utc::now();
                item.at = Some(crate::customers::instant(now));
                if let Some(back) =
                    program.cancel_completed(&mut state, &mut record, now, history)?
                {
                    response.tier_after = program.tier_name(back.tier_after).to_owned();
                    response.points_reversed = Some(back.points_reversed.into());
                    response.downgrades = crate::returns::downgrades_out(program, &back);
                    changed_state = true;
                }
                item.record = Some(record);
            }
            // First sighting of a pending or cancelled order, or a pending
            // order cancelled: recorded, nothing counted.
            _ => {}
        }
        item.result = json::to_string(&response)?;
        let event = match existing {
            Some(e) => EventWrite::Replace {
                item,
                expected: e.item_version,
            },
            None => EventWrite::Create(item),
        };
        Ok(Step::Commit {
            state: changed_state.then(|| Box::new(state)),
            events: vec![event],
            reply: response,
        })
    }
}

impl Service {
    pub async fn ingest_order(
        &self,
        program_id: &str,
        body: &[u8],
    ) -> Result<OrderResponse, ApiError> {
        let order: Order = decode(body, "order")?;
        order.check()?;
        // The payload without its status: a pending order completed later
        // is the same order.
        let body_hash = digest(&Order {
            status: OrderStatus::Completed,
            ..order.clone()
        });
        let mut use_case = IngestOrder {
            program_id,
            order: &order,
            body_hash,
            known_item: None,
            with_orders: false,
        };
        self.run(program_id, &mut use_case).await
    }
}
