//! Loading a customer's state ready for a decision: aligned with the current
//! program, and with trackers that the program gained since rebuilt from the
//! customer's retained order history.

use crate::programs::LoadedProgram;
use crate::{ApiError, Service};
use chrono::{DateTime, SecondsFormat, Utc};
use tier_engine::period::{date_of, day_of};
use tier_engine::{CustomerState, OrderRecord};
use tier_store::{StoreError, StoredCustomer};

pub(crate) struct Prepared {
    pub version: Option<u64>,
    pub state: CustomerState,
    pub indexed_expiry: Option<chrono::NaiveDate>,
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An event item's `at`: the whole instant, so that a replay of the
/// customer's events (current points from the redemptions, a table export)
/// puts it where it was among events of the same second. Whole seconds
/// read as [`timestamp`] writes them.
pub(crate) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An `asOf` query parameter: an RFC 3339 instant within the supported
/// dates.
pub(crate) fn parse_as_of(text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let at = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            let shown: String = text.chars().take(64).collect();
            ApiError::bad_request(format!("asOf `{shown}` is not an RFC 3339 time: {e}"))
        })?;
    tier_engine::events::check_time("asOf", at)?;
    Ok(Some(at))
}

/// The instant a read judges the customer at. The store keeps the customer
/// as of its latest event only: an earlier instant is refused rather than
/// answered with today's tier and balances (docs: "asOf").
pub(crate) fn judged_instant(
    customer: &str,
    asked: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, ApiError> {
    match (asked, last) {
        (Some(t), Some(last)) if t < last => Err(ApiError::new(
            422,
            "as_of_before_last_change",
            format!(
                "customer `{customer}` changed last at {}; ask as of that instant or later",
                // To the nanosecond: asked as of an instant rounded down,
                // the status would refuse again.
                last.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ),
        )
        .with_details(vec![serde_json::json!({ "earliest": last })])),
        (Some(t), _) => Ok(t),
        (None, Some(last)) => Ok(Utc::now().max(last)),
        (None, None) => Ok(Utc::now()),
    }
}

impl Service {
    /// A stored customer, or 404 `customer_not_found`.
    pub(crate) async fn stored_customer(
        &self,
        program_id: &str,
        customer: &str,
    ) -> Result<StoredCustomer, ApiError> {
        self.store
            .load_customer(program_id, customer)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(
                    "customer_not_found",
                    format!("no customer `{customer}` in program `{program_id}`"),
                )
            })
    }

    pub(crate) async fn prepare(
        &self,
        loaded: &LoadedProgram,
        program_id: &str,
        customer_id: &str,
        stored: Option<StoredCustomer>,
        at: DateTime<Utc>,
    ) -> Result<Prepared, StoreError> {
        let program = &loaded.program;
        let (version, mut state, indexed_expiry) = match stored {
            Some(s) => (Some(s.version), s.state, s.indexed_expiry),
            None => (None, CustomerState::new(program, at), None),
        };
        let missing = state.align(program);
        if !missing.is_empty() && state.orders_applied > 0 {
            let first = date_of(program.earliest_tracked_day(day_of(at)));
            let since = timestamp(first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
            let items = self
                .store
                .orders_since(program_id, customer_id, &since)
                .await?;
            let records: Vec<OrderRecord> = items.iter().filter_map(|i| i.record.clone()).collect();
            for tracker in missing {
                program.rebuild_tracker(&mut state, tracker, &records, at);
            }
        }
        Ok(Prepared {
            version,
            state,
            indexed_expiry,
        })
    }
}

/// A `limit` query parameter: a whole number from 1 to `most`.
pub(crate) fn parse_limit(
    limit: Option<&str>,
    default: usize,
    most: usize,
) -> Result<usize, ApiError> {
    let Some(text) = limit else {
        return Ok(default);
    };
    Some(text)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|n| (1..=most).contains(n))
        .ok_or_else(|| {
            let shown: String = text.chars().take(32).collect();
            ApiError::bad_request(format!(
                "limit `{shown}` must be a whole number from 1 to {most}"
            ))
        })
}

/// Orders listed when no `limit` is asked, and the most one page holds.
const DEFAULT_ORDERS: usize = 100;
const MOST_ORDERS: usize = 1000;

impl Service {
    /// The customer's latest orders, newest first, with what returns took.
    pub async fn orders(
        &self,
        program_id: &str,
        customer: &str,
        limit: Option<&str>,
    ) -> Result<crate::wire::CustomerOrdersResponse, ApiError> {
        use crate::wire::CustomerOrderOut;
        crate::check_path_id("customerId", customer)?;
        let limit = parse_limit(limit, DEFAULT_ORDERS, MOST_ORDERS)?;
        self.program(program_id).await?;
        self.stored_customer(program_id, customer).await?;
        let items = self.store.orders_since(program_id, customer, "0").await?;
        let mut orders: Vec<CustomerOrderOut> = items
            .into_iter()
            .map(|item| {
                let placed_at = item
                    .placed_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                let id = item
                    .sk
                    .strip_prefix("ORDER#")
                    .unwrap_or(&item.sk)
                    .to_owned();
                let status = item.status.clone().unwrap_or_else(|| "completed".into());
                match item.record {
                    Some(r) => CustomerOrderOut {
                        order_id: r.order_id,
                        status,
                        placed_at: Some(r.placed_at),
                        amount: Some(r.amount.into()),
                        returned_amount: Some(r.returned_amount.into()),
                        points_awarded: Some(r.points_awarded.into()),
                        points_reversed: Some(r.points_reversed.into()),
                        tier_before: Some(r.tier_before),
                        tier_after: Some(r.tier_after),
                        config_version: r.config_version,
                    },
                    None => CustomerOrderOut {
                        order_id: id,
                        status,
                        placed_at,
                        amount: None,
                        returned_amount: None,
                        points_awarded: None,
                        points_reversed: None,
                        tier_before: None,
                        tier_after: None,
                        config_version: None,
                    },
                }
            })
            .collect();
        orders.sort_by(|a, b| {
            b.placed_at
                .cmp(&a.placed_at)
                .then(b.order_id.cmp(&a.order_id))
        });
        let total = orders.len() as u64;
        orders.truncate(limit);
        Ok(crate::wire::CustomerOrdersResponse {
            program_id: program_id.to_owned(),
            customer_id: customer.to_owned(),
            total,
            orders,
        })
    }
}
