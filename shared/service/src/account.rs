//! Redemptions, the admin "upgrade-to-tier" action and status queries.

use crate::error::ApiError;
use crate::json::{self, decode, digest, replay};
use crate::programs::LoadedProgram;
use crate::transact::{Dated, Snapshot, Step, UseCase};
use crate::wire::*;
use crate::Service;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tier_engine::{EngineError, Redemption};
use tier_store::{keys, EventItem, EventWrite};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetTier {
    pub tier: String,
    pub reason: String,
}

struct Redeem<'a> {
    program_id: &'a str,
    customer: &'a str,
    redemption: &'a Redemption,
    hash: String,
    /// Also read the redemption's item: too few points may mean a replay.
    check_replay: bool,
    /// Also read every order (and the redemptions): a late redemption is
    /// checked against the customer replayed in time.
    with_orders: bool,
}

impl Redeem<'_> {
    fn sk(&self) -> String {
        keys::redemption_sk(&self.redemption.redemption_id)
    }

    fn replayed(&self, item: Option<&EventItem>) -> Result<Option<RedemptionResponse>, ApiError> {
        item.map(|e| replay(e, &self.hash, "redemption", &self.redemption.redemption_id))
            .transpose()
    }
}

impl UseCase for Redeem<'_> {
    type Reply = RedemptionResponse;

    fn customer(&self) -> &str {
        self.customer
    }

    fn at(&self) -> DateTime<Utc> {
        self.redemption.at
    }

    fn dated(&self) -> Option<Dated> {
        Some(Dated {
            field: "at",
            at: self.redemption.at,
            sk: keys::redemption_sk(&self.redemption.redemption_id),
        })
    }

    fn reads(&self) -> Vec<String> {
        if self.check_replay {
            vec![self.sk()]
        } else {
            vec![]
        }
    }

    fn needs_orders(&self) -> bool {
        self.with_orders
    }

    fn decide(
        &mut self,
        loaded: &LoadedProgram,
        snapshot: Snapshot,
    ) -> Result<Step<RedemptionResponse>, ApiError> {
        if !snapshot.exists {
            return Err(ApiError::not_found(
                "customer_not_found",
                format!(
                    "no customer `{}` in program `{}`",
                    self.customer, self.program_id
                ),
            ));
        }
        let mut state = snapshot.state;
        let program = &loaded.program;
        if !self.with_orders && program.redemption_wants_orders(&state, self.redemption.at) {
            self.with_orders = true;
            return Ok(Step::ReadMore);
        }
        let redeemed = match self.with_orders {
            true => program.redeem_among(&mut state, self.redemption, &snapshot.orders),
            false => program.redeem(&mut state, self.redemption),
        };
        if let Err(e) = redeemed {
            if matches!(e, EngineError::InsufficientPoints { .. }) {
                if !self.check_replay {
                    self.check_replay = true;
                    return Ok(Step::ReadMore);
                }
                let item = snapshot.items.first().and_then(Option::as_ref);
                if let Some(reply) = self.replayed(item)? {
                    return Ok(Step::Answer(reply));
                }
            }
            return Err(e.into());
        }
        let response = RedemptionResponse {
            program_id: self.program_id.to_owned(),
            customer_id: self.customer.to_owned(),
            redemption_id: self.redemption.redemption_id.clone(),
            duplicate: false,
            points_redeemed: self.redemption.points.into(),
            current_points: state.current_points.into(),
        };
        let item = EventItem {
            unreadable_record: None,
            sk: self.sk(),
            payload_hash: self.hash.clone(),
            status: None,
            result: json::to_string(&response)?,
            record: None,
            placed_at: None,
            at: Some(crate::customers::instant(self.redemption.at)),
            item_version: 1,
        };
        Ok(Step::Commit {
            state: Some(Box::new(state)),
            events: vec![EventWrite::Create(item)],
            reply: response,
        })
    }

    fn event_exists(
        &mut self,
        _index: usize,
        existing: Option<EventItem>,
    ) -> Result<Option<RedemptionResponse>, ApiError> {
        self.replayed(existing.as_ref())
    }
}

struct SetTierAction<'a> {
    program_id: &'a str,
    customer: &'a str,
    request: &'a SetTier,
    at: DateTime<Utc>,
}

impl UseCase for SetTierAction<'_> {
    type Reply = TierSetResponse;

    fn customer(&self) -> &str {
        self.customer
    }

    fn at(&self) -> DateTime<Utc> {
        self.at
    }

    fn decide(
        &mut self,
        loaded: &LoadedProgram,
        snapshot: Snapshot,
    ) -> Result<Step<TierSetResponse>, ApiError> {
        let mut state = snapshot.state;
        // A validity that ran out by then moved the customer first.
        let expired = loaded.program.expire(&mut state, self.at);
        let before = state.tier.clone();
        let change = loaded.program.set_tier(
            &mut state,
            &self.request.tier,
            self.at,
            &self.request.reason,
        )?;
        let reply = TierSetResponse {
            program_id: self.program_id.to_owned(),
            customer_id: self.customer.to_owned(),
            tier_before: before,
            tier: self.request.tier.clone(),
            changed: change.is_some(),
        };
        if change.is_none() && snapshot.exists && !expired.changed() {
            return Ok(Step::Answer(reply));
        }
        Ok(Step::Commit {
            state: Some(Box::new(state)),
            events: vec![],
            reply,
        })
    }
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
        let mut use_case = Redeem {
            program_id,
            customer,
            redemption: &redemption,
            hash: digest(&redemption),
            check_replay: false,
            with_orders: false,
        };
        self.run(program_id, &mut use_case).await
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
        tier_engine::events::check_text("reason", &request.reason)?;
        let mut use_case = SetTierAction {
            program_id,
            customer,
            request: &request,
            at: Utc::now(),
        };
        self.run(program_id, &mut use_case).await
    }

    pub async fn status(
        &self,
        program_id: &str,
        customer: &str,
        as_of: Option<&str>,
    ) -> Result<StatusResponse, ApiError> {
        crate::check_path_id("customerId", customer)?;
        let asked = crate::customers::parse_as_of(as_of)?;
        let loaded = self.program(program_id).await?;
        let stored = self.stored_customer(program_id, customer).await?;
        let as_of = crate::customers::judged_instant(customer, asked, stored.state.last_event_at)?;
        let prepared = self
            .prepare(&loaded, program_id, customer, Some(stored), as_of)
            .await?;
        let mut state = prepared.state;
        let program = &loaded.program;
        // Points and tracker days due by then show as expired, whether or
        // not the scheduled job has run (nothing is written here).
        program.expire(&mut state, as_of);
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
                    criteria: t.criteria.into_iter().map(criterion_out).collect(),
                })
                .collect(),
            valid_until: status.valid_until,
            in_grace_until: status.in_grace_until,
            at_risk: status.at_risk.map(|r| AtRiskOut {
                tier: program.tier_name(r.tier).to_owned(),
                on: r.on,
                criteria: r.criteria.into_iter().map(criterion_out).collect(),
            }),
            expiring_points: program
                .expiring_points(&state)
                .into_iter()
                .map(|(on, points)| ExpiringOut {
                    on,
                    points: points.into(),
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

pub(crate) fn criterion_out(c: tier_engine::CriterionProgress) -> CriterionOut {
    CriterionOut {
        id: c.id,
        kind: c.kind.as_str().to_owned(),
        required: c.required.into(),
        actual: c.actual.into(),
        remaining: c.remaining.into(),
        met: c.met,
        needs: c.needs,
    }
}
