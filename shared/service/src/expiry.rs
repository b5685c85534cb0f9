//! The scheduled job: expire points and tracker windows as of the event's
//! time. It reads the sparse expiry index, never the whole table, and writes
//! each due customer with the same conditional write as every other event,
//! so it can run beside live traffic and again for the same time.

use crate::error::ApiError;
use crate::retry::{backoff, MAX_ATTEMPTS};
use crate::wire::ExpiryReport;
use crate::Service;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tier_store::{keys, CommitError, CustomerCommit};

const PAGE: i32 = 100;

impl Service {
    pub async fn expire(&self, time: DateTime<Utc>) -> Result<ExpiryReport, ApiError> {
        let today = time.date_naive();
        let mut report = ExpiryReport {
            time,
            customers_due: 0,
            customers_changed: 0,
            points_expired: Decimal::ZERO.into(),
            tracker_days_dropped: 0,
        };
        let mut points = Decimal::ZERO;
        for shard in 0..keys::EXPIRY_SHARDS {
            let mut start = None;
            loop {
                let (page, next) = self.store.due_customers(shard, today, PAGE, start).await?;
                for (program_id, customer) in page {
                    report.customers_due += 1;
                    if let Some((p, days)) =
                        self.expire_customer(&program_id, &customer, time).await?
                    {
                        report.customers_changed += 1;
                        points += p;
                        report.tracker_days_dropped += days as u64;
                    }
                }
                start = next;
                if start.is_none() {
                    break;
                }
            }
        }
        report.points_expired = points.into();
        Ok(report)
    }

    async fn expire_customer(
        &self,
        program_id: &str,
        customer: &str,
        time: DateTime<Utc>,
    ) -> Result<Option<(Decimal, usize)>, ApiError> {
        let mut loaded = self.program(program_id).await?;
        let mut known = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let stored = match known.take() {
                Some(s) => Some(s),
                None => self.store.load_customer(program_id, customer).await?,
            };
            let Some(stored) = stored else {
                return Ok(None);
            };
            let stored_version = stored.version;
            let indexed_expiry = stored.indexed_expiry;
            let prepared = self
                .prepare(&loaded, program_id, customer, Some(stored), time)
                .await?;
            let mut state = prepared.state;
            let program = &loaded.program;
            let expired = program.expire(&mut state, time);
            let next = program.next_expiry(&state);
            let commit = CustomerCommit {
                program: program_id,
                customer,
                config_version: Some(loaded.version),
                expected_version: Some(stored_version),
                indexed_expiry,
                state: Some((&state, next)),
                events: vec![],
            };
            // A customer due by the index but with nothing left to expire
            // still gets its index date moved forward.
            match self.store.commit(commit).await {
                Ok(()) => {
                    return Ok(expired
                        .changed()
                        .then_some((expired.points, expired.tracker_days)))
                }
                Err(CommitError::Conflict { current }) => known = current,
                Err(CommitError::ConfigChanged) => loaded = self.reload_program(program_id).await?,
                Err(CommitError::EventExists { .. }) => {}
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(ApiError::busy())
    }
}
