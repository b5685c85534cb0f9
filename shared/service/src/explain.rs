//! `GET .../customers/{customerId}/explain`: why a customer is or is not in
//! a tier, and what a past order would have needed (the engine's
//! `explain` module answers; this maps the request and the reply).

use crate::customers::{judged_instant, parse_as_of};
use crate::error::ApiError;
use crate::wire::{CriterionTruthOut, ExplainResponse, OrderNeedOut};
use crate::Service;
use tier_engine::{ExplainError, Explanation, Needed, Program};

/// The explain route's query: `tier`, `orderId`, `asOf`.
#[derive(Debug, Default)]
pub struct ExplainQuery<'a> {
    pub tier: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub as_of: Option<&'a str>,
}

impl From<ExplainError> for ApiError {
    fn from(e: ExplainError) -> Self {
        let code = match e {
            ExplainError::UnknownTier(_) => "unknown_tier",
            ExplainError::NoRule(_) => "tier_has_no_rule",
            ExplainError::NoTierAbove(_) => "no_tier_above",
        };
        ApiError::new(422, code, e.to_string())
    }
}

impl Service {
    pub async fn explain(
        &self,
        program_id: &str,
        customer: &str,
        query: ExplainQuery<'_>,
    ) -> Result<ExplainResponse, ApiError> {
        crate::check_path_id("customerId", customer)?;
        if let Some(tier) = query.tier {
            tier_engine::events::check_id("tier", tier)?;
        }
        if let Some(order_id) = query.order_id {
            crate::check_path_id("orderId", order_id)?;
            if query.as_of.is_some() {
                return Err(ApiError::bad_request(
                    "asOf and orderId cannot be combined: an order is judged as of its own placedAt",
                ));
            }
        }
        let asked = parse_as_of(query.as_of)?;
        let loaded = self.program(program_id).await?;
        let program = &loaded.program;
        let stored = self.stored_customer(program_id, customer).await?;
        let reply = |rules: &Program, e: Explanation, held, as_of, version| ExplainResponse {
            program_id: program_id.to_owned(),
            customer_id: customer.to_owned(),
            as_of,
            config_version: version,
            customer_tier: rules.tier_name(held).to_owned(),
            tier: rules.tier_name(e.tier).to_owned(),
            qualifies: e.qualifies,
            criteria: e
                .criteria
                .into_iter()
                .map(|c| CriterionTruthOut {
                    id: c.id,
                    kind: c.kind.as_str().to_owned(),
                    tracker: c.tracker,
                    op: if c.strict { "gt" } else { "gte" }.to_owned(),
                    required: c.required.into(),
                    actual: c.actual.into(),
                    met: c.met,
                })
                .collect(),
            condition: e.condition,
            evaluation: e.evaluation,
            order: None,
        };

        let Some(order_id) = query.order_id else {
            let as_of = judged_instant(customer, asked, stored.state.last_event_at)?;
            let prepared = self
                .prepare(&loaded, program_id, customer, Some(stored), as_of)
                .await?;
            let mut state = prepared.state;
            program.expire(&mut state, as_of);
            let held = state.tier_index(program);
            let tier = program.tier_to_explain(query.tier, held)?;
            let e = program.explain(&state, tier, as_of);
            return Ok(reply(program, e, held, as_of, loaded.version));
        };

        let named = crate::transact::versions_named(&stored.state);
        let (orders, versions) = self
            .order_history(program_id, customer, &loaded, &named)
            .await?;
        let Some(record) = orders.iter().find(|o| o.order_id == order_id) else {
            return Err(ApiError::not_found(
                "order_not_found",
                format!("customer `{customer}` has no completed order `{order_id}`"),
            ));
        };
        // A spender's current points before the order, where their
        // redemptions tell them.
        let mut customer_state = stored.state;
        if program.wants_redemptions(&customer_state) {
            customer_state.redemptions = self.redemptions(program_id, customer).await?;
        }
        let why =
            program.explain_order_of(&customer_state, record, &orders, &versions, query.tier)?;
        let rules =
            tier_engine::RuleBook::version(&versions, why.config_version).unwrap_or(program);
        let (outcome, smallest, extra, reasons) = match why.needed {
            Needed::HeldBefore => ("heldBefore", None, None, Vec::new()),
            Needed::Met => ("met", None, None, Vec::new()),
            Needed::Amount { smallest, extra } => (
                "amount",
                Some(smallest.into()),
                Some(extra.into()),
                Vec::new(),
            ),
            Needed::NoAmount { reasons } => ("noAmount", None, None, reasons),
        };
        let mut out = reply(
            rules,
            why.explanation,
            why.tier_before,
            record.placed_at,
            why.config_version,
        );
        out.order = Some(OrderNeedOut {
            order_id: record.order_id.clone(),
            placed_at: record.placed_at,
            amount: record.amount.into(),
            tier_before: record.tier_before.clone(),
            tier_after: record.tier_after.clone(),
            outcome: outcome.to_owned(),
            smallest_amount: smallest,
            extra_amount: extra,
            reasons,
        });
        Ok(out)
    }
}
