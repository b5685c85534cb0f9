//! The scheduled job: expire points and tracker windows as of the event's
//! time. It reads the sparse expiry index, never the whole table, and writes
//! each due customer with the same conditional write as every other event,
//! so it can run beside live traffic and again for the same time. A customer
//! that cannot be processed is reported and skipped: one bad customer never
//! stops the others.

use crate::error::ApiError;
use crate::programs::LoadedProgram;
use crate::transact::{Snapshot, Step, UseCase};
use crate::wire::{ExpiryFailure, ExpiryReport};
use crate::Service;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tier_store::keys;

const PAGE: i32 = 100;
/// Failures listed in the report (all are counted and logged).
const MAX_LISTED_FAILURES: usize = 100;

struct Expire<'a> {
    customer: &'a str,
    time: DateTime<Utc>,
}

impl UseCase for Expire<'_> {
    /// Points expired and tracker days dropped, when anything changed.
    type Reply = Option<(Decimal, usize)>;

    fn customer(&self) -> &str {
        self.customer
    }

    fn at(&self) -> DateTime<Utc> {
        self.time
    }

    fn decide(
        &mut self,
        loaded: &LoadedProgram,
        snapshot: Snapshot,
    ) -> Result<Step<Self::Reply>, ApiError> {
        if !snapshot.exists {
            return Ok(Step::Answer(None));
        }
        let mut state = snapshot.state;
        let expired = loaded.program.expire(&mut state, self.time);
        // A customer due by the index but with nothing left to expire still
        // gets its index date moved forward.
        Ok(Step::Commit {
            state: Some(Box::new(state)),
            events: vec![],
            reply: expired
                .changed()
                .then_some((expired.points, expired.tracker_days)),
        })
    }
}

impl Service {
    pub async fn expire(&self, time: DateTime<Utc>) -> Result<ExpiryReport, ApiError> {
        tier_engine::events::check_time("time", time)?;
        let today = time.date_naive();
        let mut report = ExpiryReport {
            time,
            customers_due: 0,
            customers_changed: 0,
            customers_failed: 0,
            points_expired: Decimal::ZERO.into(),
            tracker_days_dropped: 0,
            failures: Vec::new(),
        };
        let mut points = Decimal::ZERO;
        for shard in 0..keys::EXPIRY_SHARDS {
            let mut start = None;
            loop {
                let (page, next) = self.store.due_customers(shard, today, PAGE, start).await?;
                for (program_id, customer) in page {
                    report.customers_due += 1;
                    let mut use_case = Expire {
                        customer: &customer,
                        time,
                    };
                    match self.run(&program_id, &mut use_case).await {
                        Ok(Some((p, days))) => {
                            report.customers_changed += 1;
                            points += p;
                            report.tracker_days_dropped += days as u64;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(
                                program = %program_id, customer = %customer, code = e.code,
                                error = %e.message, "expiry skipped a customer"
                            );
                            report.customers_failed += 1;
                            if report.failures.len() < MAX_LISTED_FAILURES {
                                report.failures.push(ExpiryFailure {
                                    program_id,
                                    customer_id: customer,
                                    code: e.code.to_owned(),
                                    message: e.message,
                                });
                            }
                        }
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
}
