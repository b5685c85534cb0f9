//! The scheduled job: expire points and tracker windows as of the event's
//! time. It reads the sparse expiry index, never the whole table, and writes
//! each due customer with the same conditional write as every other event,
//! so it can run beside live traffic and again for the same time. A customer
//! that cannot be processed is reported and skipped: one bad customer never
//! stops the others.

use crate::error::ApiError;
use crate::json;
use crate::programs::LoadedProgram;
use crate::transact::{Snapshot, Step, UseCase};
use crate::wire::{ExpiryFailure, ExpiryReport, ShardRun};
use crate::Service;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::time::{Duration, Instant};
use tier_store::keys;

pub(crate) const PAGE: i32 = 100;
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

/// How long one worker invocation takes pages for, by default: inside the
/// function's 20 s timeout with room for the page in hand.
const DEFAULT_BUDGET_MS: u64 = 10_000;
const MOST_BUDGET_MS: u64 = 15_000;

impl Service {
    /// The whole job at `time`: every shard of the index at once, each to
    /// its end (the local API's `POST /_local/scheduled`, and a scheduled
    /// event sent to the function directly).
    pub async fn expire(&self, time: DateTime<Utc>) -> Result<ExpiryReport, ApiError> {
        tier_engine::events::check_time("time", time)?;
        let shards = (0..keys::EXPIRY_SHARDS).map(|shard| async move {
            let mut run = ShardRun::start(time, shard);
            loop {
                run = self.expire_shard(run, None).await?;
                if run.after.is_none() {
                    return Ok::<_, ApiError>(run);
                }
            }
        });
        let runs = futures::future::try_join_all(shards).await?;
        Ok(totals(time, runs))
    }

    /// One worker step of the fan-out (the state machine's map runs one per
    /// shard and calls it again while `after` comes back): pages of the
    /// shard's due customers until the budget is spent, added to the run's
    /// totals so far. A customer that fails is reported and skipped; a
    /// store that fails fails the step, which the state machine retries.
    pub async fn expire_shard(
        &self,
        mut run: ShardRun,
        budget: Option<Duration>,
    ) -> Result<ShardRun, ApiError> {
        let time = run.time;
        tier_engine::events::check_time("time", time)?;
        let started = Instant::now();
        let page_size = run.page_size.unwrap_or(PAGE);
        let today = time.date_naive();
        let mut report = run
            .report
            .take()
            .unwrap_or_else(|| ExpiryReport::empty(time));
        let mut points: Decimal = report.points_expired.0;
        loop {
            let (page, next) = self
                .store
                .due_customers(run.shard, today, page_size, run.after.take())
                .await?;
            for (program_id, customer) in page {
                self.expire_customer(&mut report, &mut points, program_id, customer)
                    .await;
            }
            run.after = next;
            let spent = budget.is_some_and(|b| started.elapsed() >= b);
            if run.after.is_none() || spent {
                break;
            }
        }
        report.points_expired = points.into();
        run.report = Some(report);
        Ok(run)
    }

    async fn expire_customer(
        &self,
        report: &mut ExpiryReport,
        points: &mut Decimal,
        program_id: String,
        customer: String,
    ) {
        report.customers_due += 1;
        let mut use_case = Expire {
            customer: &customer,
            time: report.time,
        };
        match self.run(&program_id, &mut use_case).await {
            Ok(Some((p, days))) => {
                report.customers_changed += 1;
                *points += p;
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

    /// What the scheduler sends: a shard step (`shard`), the run's totals
    /// (`totals`: the map's results), or a scheduled event (`time`) for the
    /// whole job at once.
    pub async fn handle_scheduled(
        &self,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, ApiError> {
        self.handle_worker(event, None).await
    }

    /// [`Self::handle_scheduled`] in an invocation with `left` to run: a
    /// simulation step (`simulate`) works at most half of it.
    pub async fn handle_worker(
        &self,
        event: &serde_json::Value,
        left: Option<Duration>,
    ) -> Result<serde_json::Value, ApiError> {
        let reply = if let Some(step) = event.get("simulate") {
            let step: crate::simulations::SimulationStep = decode_step(step, "a simulation step")?;
            let deadline = step.deadline(left)?;
            // Boxed: the job's future is deep, and this one is in every worker.
            json::to_value(&Box::pin(self.simulation_step(step, deadline)).await?)?
        } else if let Some(step) = event.get("reevaluate") {
            let step: crate::jobs::ReevaluationStep = decode_step(step, "a re-evaluation step")?;
            json::to_value(&self.reevaluation_step(step).await?)?
        } else if event.get("shard").is_some() {
            let run: ShardRun = decode_step(event, "a shard step")?;
            let budget = match run.budget_ms {
                Some(ms) if ms > MOST_BUDGET_MS => {
                    return Err(ApiError::bad_request(format!(
                        "budgetMs is at most {MOST_BUDGET_MS}"
                    )))
                }
                ms => Duration::from_millis(ms.unwrap_or(DEFAULT_BUDGET_MS)),
            };
            if run.shard >= keys::EXPIRY_SHARDS {
                return Err(ApiError::bad_request(format!(
                    "shard {} is not one of 0..{}",
                    run.shard,
                    keys::EXPIRY_SHARDS
                )));
            }
            if let Some(after) = &run.after {
                check_cursor(after, run.shard, run.time)?;
            }
            if let Some(report) = &run.report {
                check_report(report)?;
            }
            if run.report.as_ref().is_some_and(|r| r.time != run.time) {
                return Err(ApiError::bad_request(
                    "a step's report is of its own run's `time`",
                ));
            }
            if run.failed {
                return Err(ApiError::bad_request("a failed shard is for the totals"));
            }
            if run.page_size.is_some_and(|n| !(1..=PAGE).contains(&n)) {
                return Err(ApiError::bad_request(format!(
                    "pageSize is from 1 to {PAGE}"
                )));
            }
            json::to_value(&self.expire_shard(run, Some(budget)).await?)?
        } else if event.get("totals").is_some() {
            let step: Totals = decode_step(event, "the run's totals")?;
            check_totals(&step)?;
            let report = totals(step.time, step.totals);
            // One line in CloudWatch's embedded metric format: the run's
            // figures become metrics without an API call.
            println!("{}", metric_line(&report));
            json::to_value(&report)?
        } else {
            let time = event
                .get("time")
                .and_then(|t| t.as_str())
                .ok_or_else(|| ApiError::bad_request("a scheduled event carries its `time`"))?;
            let time = chrono::DateTime::parse_from_rfc3339(time)
                .map_err(|e| ApiError::bad_request(format!("`time` {time}: {e}")))?
                .with_timezone(&Utc);
            json::to_value(&self.expire(time).await?)?
        };
        Ok(reply)
    }
}

/// A cursor a step hands back is the index's own key of one of this
/// shard's entries due by the step's day; any other is refused before it
/// reaches the store.
fn check_cursor(
    after: &tier_store::PageCursor,
    shard: u32,
    time: DateTime<Utc>,
) -> Result<(), ApiError> {
    let names: Vec<&str> = after.keys().map(String::as_str).collect();
    let due_by_then = |day: &str| {
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok_and(|day| day <= time.date_naive())
    };
    let well_formed = names == ["expiresOn", "expiryShard", "pk", "sk"]
        && after.values().all(|v| v.len() <= 1024)
        && after["expiryShard"] == format!("E#{shard}")
        && after["sk"] == keys::EXPIRY
        && after["pk"].starts_with("CUSTOMER#")
        && due_by_then(&after["expiresOn"]);
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "`after` must be the `after` of this shard's previous step",
        ))
    }
}

/// More than any real run counts (a trillion customers): a step's figures
/// beyond it are not the job's own, and adding them must not overflow.
const MOST_COUNTED: u64 = 1_000_000_000_000;

fn check_report(report: &ExpiryReport) -> Result<(), ApiError> {
    let counts = [
        report.customers_due,
        report.customers_changed,
        report.customers_failed,
        report.tracker_days_dropped,
        report.shards_failed,
    ];
    if counts.iter().any(|n| *n > MOST_COUNTED) || report.failures.len() > MAX_LISTED_FAILURES {
        return Err(ApiError::bad_request(
            "a step's report holds figures no run of the job reaches",
        ));
    }
    Ok(())
}

/// The totals are the map's results: each shard once, of the run's time.
fn check_totals(step: &Totals) -> Result<(), ApiError> {
    let mut seen = [false; keys::EXPIRY_SHARDS as usize];
    for run in &step.totals {
        let slot = seen.get_mut(run.shard as usize).ok_or_else(|| {
            ApiError::bad_request(format!("shard {} is not one of the index's", run.shard))
        })?;
        if std::mem::replace(slot, true) {
            return Err(ApiError::bad_request(format!(
                "shard {} is in the totals twice",
                run.shard
            )));
        }
        if run.time != step.time {
            return Err(ApiError::bad_request(
                "every shard's run is of the totals' `time`",
            ));
        }
        if let Some(report) = &run.report {
            check_report(report)?;
            if report.time != step.time {
                return Err(ApiError::bad_request(
                    "every shard's report is of the totals' `time`",
                ));
            }
        }
    }
    Ok(())
}

fn decode_step<T: serde::de::DeserializeOwned>(
    event: &serde_json::Value,
    what: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(event.clone()).map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// The state machine's last step: the map's results, one per shard.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Totals {
    time: DateTime<Utc>,
    totals: Vec<ShardRun>,
}

/// The shards' figures added up (the first failures of each, up to the
/// report's limit).
fn totals(time: DateTime<Utc>, runs: Vec<ShardRun>) -> ExpiryReport {
    let mut report = ExpiryReport::empty(time);
    let mut points = Decimal::ZERO;
    report.shards_failed = runs.iter().filter(|run| run.failed).count() as u64;
    for r in runs.into_iter().filter_map(|run| run.report) {
        report.customers_due += r.customers_due;
        report.customers_changed += r.customers_changed;
        report.customers_failed += r.customers_failed;
        report.tracker_days_dropped += r.tracker_days_dropped;
        points += r.points_expired.0;
        let room = MAX_LISTED_FAILURES.saturating_sub(report.failures.len());
        report.failures.extend(r.failures.into_iter().take(room));
    }
    report.points_expired = points.into();
    report
}

fn metric_line(report: &ExpiryReport) -> serde_json::Value {
    let millis = Utc::now().timestamp_millis();
    serde_json::json!({
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": "TierEngine",
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": "JobCustomersDue", "Unit": "Count"},
                    {"Name": "JobCustomersChanged", "Unit": "Count"},
                    {"Name": "JobCustomersFailed", "Unit": "Count"},
                    {"Name": "JobShardsFailed", "Unit": "Count"}
                ]
            }]
        },
        "JobCustomersDue": report.customers_due,
        "JobCustomersChanged": report.customers_changed,
        "JobCustomersFailed": report.customers_failed,
        "JobShardsFailed": report.shards_failed,
        "time": report.time,
    })
}
