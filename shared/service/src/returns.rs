//! Return reversal: the return item (must not exist), the order item (its
//! record, at the version read) and the state, in one transaction.

use crate::error::ApiError;
use crate::json::{decode, digest, replay};
use crate::retry::{backoff, MAX_ATTEMPTS};
use crate::wire::*;
use crate::Service;
use tier_engine::{AppliedReturn, EngineError, OrderRecord, Program, Return};
use tier_store::{keys, CommitError, CustomerCommit, EventItem, EventWrite, StoredCustomer};

pub(crate) fn downgrades_out(program: &Program, back: &AppliedReturn) -> Vec<DowngradeOut> {
    back.downgrade
        .iter()
        .map(|d| DowngradeOut {
            from: program.tier_name(d.from).to_owned(),
            to: program.tier_name(d.to).to_owned(),
            at: d.at,
        })
        .collect()
}

impl Service {
    pub async fn reverse_return(
        &self,
        program_id: &str,
        body: &[u8],
    ) -> Result<ReturnResponse, ApiError> {
        let ret: Return = decode(body, "return")?;
        ret.check()?;
        let hash = digest(&ret);
        let mut loaded = self.program(program_id).await?;
        let customer = ret.customer_id.as_str();
        let return_sk = keys::return_sk(&ret.return_id);
        let mut known_state: Option<Option<StoredCustomer>> = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let order_sk = keys::order_sk(&ret.order_id);
            let (stored, order_item) = match known_state.take() {
                Some(s) => (
                    s,
                    self.store
                        .load_event(program_id, customer, &order_sk)
                        .await?,
                ),
                None => tokio::try_join!(
                    self.store.load_customer(program_id, customer),
                    self.store.load_event(program_id, customer, &order_sk)
                )?,
            };
            let Some(stored) = stored else {
                return Err(ApiError::not_found(
                    "customer_not_found",
                    format!("no customer `{customer}` in program `{program_id}`"),
                ));
            };
            let Some(order_item) = order_item else {
                return Err(ApiError::not_found(
                    "order_not_found",
                    format!("no order `{}` for customer `{customer}`", ret.order_id),
                ));
            };
            let Some(mut record) = order_item
                .record
                .as_deref()
                .and_then(|r| serde_json::from_str::<OrderRecord>(r).ok())
            else {
                if let Some(dup) = self
                    .replayed_return(program_id, customer, &return_sk, &hash)
                    .await?
                {
                    return Ok(dup);
                }
                return Err(ApiError::new(
                    422,
                    "order_not_completed",
                    format!(
                        "order `{}` is {} and has nothing to return",
                        ret.order_id,
                        order_item.status.as_deref().unwrap_or("unknown")
                    ),
                ));
            };
            let prepared = self
                .prepare(&loaded, program_id, customer, Some(stored), ret.returned_at)
                .await?;
            let program = &loaded.program;
            let mut state = prepared.state;
            let back = match program.apply_return(&mut state, &mut record, &ret) {
                Ok(back) => back,
                Err(e @ EngineError::ReturnExceedsRemaining { .. }) => {
                    // A replay of a return that emptied the order lands here.
                    if let Some(dup) = self
                        .replayed_return(program_id, customer, &return_sk, &hash)
                        .await?
                    {
                        return Ok(dup);
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            let response = ReturnResponse {
                program_id: program_id.to_owned(),
                customer_id: customer.to_owned(),
                order_id: ret.order_id.clone(),
                return_id: ret.return_id.clone(),
                duplicate: false,
                amount_returned: back.returned.into(),
                points_reversed: back.points_reversed.into(),
                tier_before: program.tier_name(back.tier_before).to_owned(),
                tier_after: program.tier_name(back.tier_after).to_owned(),
                downgrades: downgrades_out(program, &back),
            };
            let return_item = EventItem {
                sk: return_sk.clone(),
                payload_hash: hash.clone(),
                status: None,
                result: serde_json::to_string(&response).unwrap_or_default(),
                record: None,
                placed_at: None,
                item_version: 1,
            };
            let updated_order = EventItem {
                record: Some(serde_json::to_string(&record).unwrap_or_default()),
                item_version: order_item.item_version + 1,
                ..order_item.clone()
            };
            let next_expiry = program.next_expiry(&state);
            let commit = CustomerCommit {
                program: program_id,
                customer,
                config_version: Some(loaded.version),
                expected_version: prepared.version,
                indexed_expiry: prepared.indexed_expiry,
                state: Some((&state, next_expiry)),
                events: vec![
                    EventWrite::Create(return_item),
                    EventWrite::Replace {
                        item: updated_order,
                        expected: order_item.item_version,
                    },
                ],
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok(response),
                Err(CommitError::EventExists { index: 0, existing }) => {
                    let existing = match existing {
                        Some(e) => Some(e),
                        None => {
                            self.store
                                .load_event(program_id, customer, &return_sk)
                                .await?
                        }
                    };
                    if let Some(e) = existing {
                        return replay(&e, &hash, "return", &ret.return_id);
                    }
                }
                // The order item changed under us: read everything again.
                Err(CommitError::EventExists { .. }) => {}
                Err(CommitError::Conflict { current }) => known_state = current.map(Some),
                Err(CommitError::ConfigChanged) => loaded = self.reload_program(program_id).await?,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(ApiError::busy())
    }

    async fn replayed_return(
        &self,
        program_id: &str,
        customer: &str,
        sk: &str,
        hash: &str,
    ) -> Result<Option<ReturnResponse>, ApiError> {
        match self.store.load_event(program_id, customer, sk).await? {
            Some(e) => replay(&e, hash, "return", sk.trim_start_matches("RETURN#")).map(Some),
            None => Ok(None),
        }
    }
}
