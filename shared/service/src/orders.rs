//! Order ingestion. Uncontended, an order costs one consistent read of the
//! customer and one transaction: the order item (must not exist), the state
//! (must still be the version read) and a check of the program version.

use crate::customers::{timestamp, Prepared};
use crate::error::ApiError;
use crate::json::{decode, digest, replay};
use crate::programs::LoadedProgram;
use crate::retry::{backoff, MAX_ATTEMPTS};
use crate::wire::*;
use crate::Service;
use chrono::Utc;
use rust_decimal::Decimal;
use std::sync::Arc;
use tier_engine::{Decision, Order, OrderRecord, OrderStatus, Program, Return};
use tier_store::{keys, CommitError, CustomerCommit, EventItem, EventWrite, StoredCustomer};

fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Completed => "completed",
        OrderStatus::Pending => "pending",
        OrderStatus::Cancelled => "cancelled",
    }
}

/// What a known order item means for an incoming event of the same id.
enum Seen {
    Duplicate,
    Conflict,
    Complete,
    CancelPending,
    CancelCompleted,
}

fn classify(existing: &EventItem, body_hash: &str, status: OrderStatus) -> Seen {
    if existing.payload_hash != body_hash {
        return Seen::Conflict;
    }
    match (existing.status.as_deref(), status) {
        (Some(old), new) if old == status_name(new) => Seen::Duplicate,
        (Some("pending"), OrderStatus::Completed) => Seen::Complete,
        (Some("pending"), OrderStatus::Cancelled) => Seen::CancelPending,
        (Some("completed"), OrderStatus::Cancelled) => Seen::CancelCompleted,
        _ => Seen::Conflict,
    }
}

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

struct Plan {
    version: Option<u64>,
    indexed_expiry: Option<chrono::NaiveDate>,
    state: Option<tier_engine::CustomerState>,
    event: EventWrite,
    response: OrderResponse,
}

impl Service {
    pub async fn ingest_order(
        &self,
        program_id: &str,
        body: &[u8],
    ) -> Result<OrderResponse, ApiError> {
        let order: Order = decode(body, "order")?;
        order.check()?;
        let mut loaded = self.program(program_id).await?;
        let body_hash = digest(&Order {
            status: OrderStatus::Completed,
            ..order.clone()
        });
        let mut known_state: Option<Option<StoredCustomer>> = None;
        let mut known_item: Option<EventItem> = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let seen = known_item
                .as_ref()
                .map(|i| classify(i, &body_hash, order.status));
            match (&seen, &known_item) {
                (Some(Seen::Duplicate), Some(item)) => {
                    return replay(item, &body_hash, "order", &order.order_id)
                }
                (Some(Seen::Conflict), _) => {
                    return Err(ApiError::idempotency_conflict("order", &order.order_id))
                }
                _ => {}
            }
            if let Some(c) = &order.currency {
                if c != loaded.program.currency() {
                    return Err(tier_engine::EngineError::CurrencyMismatch {
                        expected: loaded.program.currency().to_owned(),
                        got: c.clone(),
                    }
                    .into());
                }
            }
            let stored = match known_state.take() {
                Some(s) => s,
                None => {
                    self.store
                        .load_customer(program_id, &order.customer_id)
                        .await?
                }
            };
            let prepared = self
                .prepare(
                    &loaded,
                    program_id,
                    &order.customer_id,
                    stored,
                    order.placed_at,
                )
                .await?;
            let plan = self.plan(
                &loaded,
                program_id,
                &order,
                &body_hash,
                prepared,
                seen,
                known_item.as_ref(),
            )?;
            let next_expiry = plan
                .state
                .as_ref()
                .and_then(|s| loaded.program.next_expiry(s));
            let commit = CustomerCommit {
                program: program_id,
                customer: &order.customer_id,
                config_version: plan.state.as_ref().map(|_| loaded.version),
                expected_version: plan.version,
                indexed_expiry: plan.indexed_expiry,
                state: plan.state.as_ref().map(|s| (s, next_expiry)),
                events: vec![plan.event],
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok(plan.response),
                Err(CommitError::EventExists { existing, .. }) => {
                    known_item = match existing {
                        Some(item) => Some(item),
                        None => self.load_order_item(program_id, &order).await?,
                    };
                }
                Err(CommitError::Conflict { current }) => known_state = current.map(Some),
                Err(CommitError::ConfigChanged) => loaded = self.reload_program(program_id).await?,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(ApiError::busy())
    }

    async fn load_order_item(
        &self,
        program_id: &str,
        order: &Order,
    ) -> Result<Option<EventItem>, ApiError> {
        Ok(self
            .store
            .load_event(
                program_id,
                &order.customer_id,
                &keys::order_sk(&order.order_id),
            )
            .await?)
    }

    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        loaded: &Arc<LoadedProgram>,
        program_id: &str,
        order: &Order,
        body_hash: &str,
        prepared: Prepared,
        seen: Option<Seen>,
        existing: Option<&EventItem>,
    ) -> Result<Plan, ApiError> {
        let program = &loaded.program;
        let Prepared {
            version,
            mut state,
            indexed_expiry,
        } = prepared;
        let tier = program.tier_name(state.tier_index(program)).to_owned();
        let mut response = OrderResponse {
            program_id: program_id.to_owned(),
            customer_id: order.customer_id.clone(),
            order_id: order.order_id.clone(),
            applied: false,
            duplicate: false,
            status: status_name(order.status).to_owned(),
            tier_before: tier.clone(),
            tier_after: tier,
            points_awarded: Decimal::ZERO.into(),
            points_segments: vec![],
            upgrades: vec![],
            points_reversed: None,
            downgrades: vec![],
        };
        let mut item = EventItem {
            sk: keys::order_sk(&order.order_id),
            payload_hash: body_hash.to_owned(),
            status: Some(status_name(order.status).to_owned()),
            result: String::new(),
            record: None,
            placed_at: Some(timestamp(order.placed_at)),
            item_version: existing.map_or(1, |e| e.item_version + 1),
        };
        let mut changed_state = false;
        match (seen, order.status) {
            (None | Some(Seen::Complete), OrderStatus::Completed) => {
                let applied = program.apply_order(&mut state, order)?;
                let d = &applied.decision;
                response.applied = true;
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
                item.record = Some(serde_json::to_string(&applied.record).unwrap_or_default());
                changed_state = true;
            }
            (Some(Seen::CancelCompleted), _) => {
                let Some(existing) = existing else {
                    return Err(ApiError::new(
                        500,
                        "corrupt_order",
                        "cancellation without the order item",
                    ));
                };
                let mut record: OrderRecord = existing
                    .record
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .ok_or_else(|| {
                        ApiError::new(500, "corrupt_order", "order item without its record")
                    })?;
                if record.remaining() > Decimal::ZERO {
                    let ret = Return {
                        return_id: format!("cancel:{}", order.order_id),
                        order_id: order.order_id.clone(),
                        customer_id: order.customer_id.clone(),
                        returned_at: Utc::now().max(order.placed_at),
                        amount: None,
                    };
                    let back = program.apply_return(&mut state, &mut record, &ret)?;
                    response.tier_after = program.tier_name(back.tier_after).to_owned();
                    response.points_reversed = Some(back.points_reversed.into());
                    response.downgrades = crate::returns::downgrades_out(program, &back);
                    changed_state = true;
                }
                item.record = Some(serde_json::to_string(&record).unwrap_or_default());
            }
            // First sighting of a pending or cancelled order, or a pending
            // order cancelled: recorded, nothing counted.
            _ => {}
        }
        item.result = serde_json::to_string(&response).unwrap_or_default();
        let event = match existing {
            Some(e) => EventWrite::Replace {
                item,
                expected: e.item_version,
            },
            None => EventWrite::Create(item),
        };
        Ok(Plan {
            version,
            indexed_expiry,
            state: changed_state.then_some(state),
            event,
            response,
        })
    }
}
