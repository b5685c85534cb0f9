//! Redemptions, the admin "upgrade-to-tier" action and status queries.

use crate::error::ApiError;
use crate::json::{decode, digest, replay};
use crate::retry::{backoff, MAX_ATTEMPTS};
use crate::wire::*;
use crate::Service;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tier_engine::{EngineError, Redemption};
use tier_store::{keys, CommitError, CustomerCommit, EventItem, EventWrite, StoredCustomer};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetTier {
    pub tier: String,
    pub reason: String,
}

impl Service {
    pub async fn redeem(
        &self,
        program_id: &str,
        customer: &str,
        body: &[u8],
    ) -> Result<RedemptionResponse, ApiError> {
        crate::check_path_id("customerId", customer)?;
        let redemption: Redemption = decode(body, "redemption")?;
        redemption.check()?;
        let hash = digest(&redemption);
        let sk = keys::redemption_sk(&redemption.redemption_id);
        let mut loaded = self.program(program_id).await?;
        let mut known_state: Option<Option<StoredCustomer>> = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let stored = match known_state.take() {
                Some(s) => s,
                None => self.store.load_customer(program_id, customer).await?,
            };
            let Some(stored) = stored else {
                return Err(ApiError::not_found(
                    "customer_not_found",
                    format!("no customer `{customer}` in program `{program_id}`"),
                ));
            };
            let prepared = self
                .prepare(&loaded, program_id, customer, Some(stored), redemption.at)
                .await?;
            let mut state = prepared.state;
            let program = &loaded.program;
            if let Err(e) = program.redeem(&mut state, &redemption) {
                if matches!(e, EngineError::InsufficientPoints { .. }) {
                    if let Some(item) = self.store.load_event(program_id, customer, &sk).await? {
                        return replay(&item, &hash, "redemption", &redemption.redemption_id);
                    }
                }
                return Err(e.into());
            }
            let response = RedemptionResponse {
                program_id: program_id.to_owned(),
                customer_id: customer.to_owned(),
                redemption_id: redemption.redemption_id.clone(),
                duplicate: false,
                points_redeemed: redemption.points.into(),
                current_points: state.current_points.into(),
            };
            let item = EventItem {
                sk: sk.clone(),
                payload_hash: hash.clone(),
                status: None,
                result: serde_json::to_string(&response).unwrap_or_default(),
                record: None,
                placed_at: None,
                item_version: 1,
            };
            let next_expiry = program.next_expiry(&state);
            let commit = CustomerCommit {
                program: program_id,
                customer,
                config_version: Some(loaded.version),
                expected_version: prepared.version,
                indexed_expiry: prepared.indexed_expiry,
                state: Some((&state, next_expiry)),
                events: vec![EventWrite::Create(item)],
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok(response),
                Err(CommitError::EventExists { existing, .. }) => {
                    let existing = match existing {
                        Some(e) => Some(e),
                        None => self.store.load_event(program_id, customer, &sk).await?,
                    };
                    if let Some(e) = existing {
                        return replay(&e, &hash, "redemption", &redemption.redemption_id);
                    }
                }
                Err(CommitError::Conflict { current }) => known_state = current.map(Some),
                Err(CommitError::ConfigChanged) => loaded = self.reload_program(program_id).await?,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(ApiError::busy())
    }

    /// Sets a customer's tier whatever the rules say (creating the customer
    /// if new, as a migration would).
    pub async fn set_tier(
        &self,
        program_id: &str,
        customer: &str,
        body: &[u8],
    ) -> Result<TierSetResponse, ApiError> {
        crate::check_path_id("customerId", customer)?;
        let request: SetTier = decode(body, "tier change")?;
        let mut loaded = self.program(program_id).await?;
        let now = Utc::now();
        let mut known_state: Option<Option<StoredCustomer>> = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let stored = match known_state.take() {
                Some(s) => s,
                None => self.store.load_customer(program_id, customer).await?,
            };
            let prepared = self
                .prepare(&loaded, program_id, customer, stored, now)
                .await?;
            let mut state = prepared.state;
            let program = &loaded.program;
            let before = state.tier.clone();
            let change = program.set_tier(&mut state, &request.tier, now, &request.reason)?;
            let response = TierSetResponse {
                program_id: program_id.to_owned(),
                customer_id: customer.to_owned(),
                tier_before: before,
                tier: request.tier.clone(),
                changed: change.is_some(),
            };
            if change.is_none() && prepared.version.is_some() {
                return Ok(response);
            }
            let next_expiry = program.next_expiry(&state);
            let commit = CustomerCommit {
                program: program_id,
                customer,
                config_version: Some(loaded.version),
                expected_version: prepared.version,
                indexed_expiry: prepared.indexed_expiry,
                state: Some((&state, next_expiry)),
                events: vec![],
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok(response),
                Err(CommitError::Conflict { current }) => known_state = current.map(Some),
                Err(CommitError::ConfigChanged) => loaded = self.reload_program(program_id).await?,
                Err(CommitError::EventExists { .. }) => {}
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(ApiError::busy())
    }

    pub async fn status(
        &self,
        program_id: &str,
        customer: &str,
        as_of: Option<&str>,
    ) -> Result<StatusResponse, ApiError> {
        let as_of = match as_of {
            None => Utc::now(),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::bad_request(format!("asOf `{text}` is not an RFC 3339 time: {e}"))
                })?,
        };
        let loaded = self.program(program_id).await?;
        let stored = self.store.load_customer(program_id, customer).await?;
        let Some(stored) = stored else {
            return Err(ApiError::not_found(
                "customer_not_found",
                format!("no customer `{customer}` in program `{program_id}`"),
            ));
        };
        let prepared = self
            .prepare(&loaded, program_id, customer, Some(stored), as_of)
            .await?;
        let state = prepared.state;
        let program = &loaded.program;
        let status = program.status(&state, as_of);
        Ok(StatusResponse {
            program_id: program_id.to_owned(),
            customer_id: customer.to_owned(),
            as_of,
            tier: program.tier_name(status.tier).to_owned(),
            tier_since: state.tier_since,
            current_points: state.current_points.into(),
            lifetime_points: state.lifetime_points.into(),
            lifetime_purchases: state.lifetime_purchases.into(),
            trackers: status
                .trackers
                .into_iter()
                .map(|(id, v)| (id, v.into()))
                .collect(),
            progress: status
                .progress
                .into_iter()
                .map(|t| ProgressOut {
                    tier: program.tier_name(t.tier).to_owned(),
                    qualifies: t.qualifies,
                    criteria: t
                        .criteria
                        .into_iter()
                        .map(|c| CriterionOut {
                            id: c.id,
                            kind: c.kind.as_str().to_owned(),
                            required: c.required.into(),
                            actual: c.actual.into(),
                            remaining: c.remaining.into(),
                            met: c.met,
                        })
                        .collect(),
                })
                .collect(),
            history: state
                .history
                .iter()
                .map(|h| HistoryOut {
                    from: h.from.clone(),
                    to: h.to.clone(),
                    at: h.at,
                    cause: h.cause.clone(),
                })
                .collect(),
        })
    }
}
