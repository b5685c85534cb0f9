//! Loading a customer's state ready for a decision: aligned with the current
//! program, and with trackers that the program gained since rebuilt from the
//! customer's retained order history.

use crate::programs::LoadedProgram;
use crate::Service;
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

impl Service {
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
