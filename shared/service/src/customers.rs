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
                timestamp(last)
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
            let records: Vec<OrderRecord> = items
                .iter()
                .filter_map(|i| i.record.as_deref())
                .filter_map(|r| serde_json::from_str(r).ok())
                .collect();
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
