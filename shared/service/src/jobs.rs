//! Re-evaluation after a config change. A version that could upgrade
//! customers who already qualify (an upgrade rule or tracker changed) starts
//! a program-wide job: every customer is judged as of the change under that
//! version and upgraded if a higher tier's condition holds then (cause
//! `config vN`), points untouched, nobody demoted. The job walks the
//! program's customers with a parallel Scan whose cursors it stores with
//! its progress, so it resumes where it stopped, and judging a customer
//! twice changes nothing (a customer with an event after the change is
//! judged as of that event).

use crate::customers::timestamp;
use crate::error::ApiError;
use crate::programs::LoadedProgram;
use crate::transact::{Snapshot, Step, UseCase};
use crate::Service;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tier_engine::{Program, ProgramConfig};
use tier_store::{JobRecord, PageCursor, StoreError};

const KIND: &str = "reevaluation";
/// Scan segments the job walks (one after the other).
const SEGMENTS: u32 = 2;
/// A running job silent for longer lost its process; reading it resumes it.
const STALE_MS: u64 = 30_000;
/// Failures listed on the job (all are counted and logged).
const MAX_LISTED_FAILURES: usize = 20;
/// Attempts at a Scan page that fails transiently.
const SCAN_ATTEMPTS: u32 = 5;
/// How long one state machine step works pages for (inside the worker
/// function's 20 s).
const STEP_BUDGET: Duration = Duration::from_secs(10);

/// A step of the state machine that runs a re-evaluation on AWS: handed to
/// the worker and back until `more` is false.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReevaluationStep {
    pub program_id: String,
    pub job_id: String,
    #[serde(default)]
    pub more: bool,
}

/// Whether `new` could upgrade a customer `old` did not: an upgrade rule,
/// a tier or a tracker changed. Conservative: a version that only changes
/// earn rates, expiry or retention starts no job.
pub(crate) fn could_upgrade(old: &ProgramConfig, new: &ProgramConfig) -> bool {
    let rules = |c: &ProgramConfig| {
        serde_json::to_value(
            c.tiers
                .iter()
                .map(|t| (&t.name, &t.upgrade))
                .collect::<Vec<_>>(),
        )
        .ok()
    };
    let trackers = |c: &ProgramConfig| serde_json::to_value(&c.trackers).ok();
    rules(old) != rules(new) || trackers(old) != trackers(new) || old.start_date != new.start_date
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobRequest {
    config_version: u64,
    at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Segment {
    done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<PageCursor>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobFailure {
    pub customer_id: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Progress {
    customers_seen: u64,
    customers_upgraded: u64,
    customers_failed: u64,
    failures: Vec<JobFailure>,
}

/// `GET /programs/{programId}/jobs/{jobId}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub job_id: String,
    pub kind: String,
    /// running, done or failed.
    pub status: String,
    /// The config version whose change started it.
    pub config_version: u64,
    /// The instant customers are judged as of (the change).
    pub at: DateTime<Utc>,
    pub customers_seen: u64,
    pub customers_upgraded: u64,
    pub customers_failed: u64,
    /// The first failures, with why.
    pub failures: Vec<JobFailure>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

fn corrupt(e: serde_json::Error) -> ApiError {
    ApiError::new(500, "corrupt_job", e.to_string())
}

fn view(job: &JobRecord) -> Result<JobView, ApiError> {
    let request: JobRequest = serde_json::from_str(&job.request).map_err(corrupt)?;
    let progress: Progress = serde_json::from_str(&job.progress).map_err(corrupt)?;
    Ok(JobView {
        job_id: job.id.clone(),
        kind: job.kind.clone(),
        status: job.status.clone(),
        config_version: request.config_version,
        at: request.at,
        customers_seen: progress.customers_seen,
        customers_upgraded: progress.customers_upgraded,
        customers_failed: progress.customers_failed,
        failures: progress.failures,
        created_at: job.created_at.clone(),
        finished_at: job.finished_at.clone(),
    })
}

/// This process, as the owner of the jobs it runs.
fn owner() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(crate::router::new_request_id)
}

fn now_ms() -> u64 {
    Utc::now().timestamp_millis().max(0) as u64
}

/// A Lambda freezes once it answers, so no job runs in its background: on
/// AWS the state machine runs them (infra/template.yaml,
/// ReevaluationStateMachine).
fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// A job id: 32 lowercase hex digits (ours; any other id is unknown).
fn is_job_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Judges one customer for the job.
struct Reevaluate<'a> {
    customer: &'a str,
    at: DateTime<Utc>,
    version: &'a Program,
}

impl UseCase for Reevaluate<'_> {
    /// Whether the customer was upgraded under the job's version, by this
    /// run or an earlier one of the job (counted once whoever ran it).
    type Reply = bool;

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
    ) -> Result<Step<bool>, ApiError> {
        // The state comes aligned with the current version's trackers.
        let keys = |p: &Program| {
            p.trackers()
                .iter()
                .map(|t| t.key.clone())
                .collect::<Vec<_>>()
        };
        if keys(&loaded.program) != keys(self.version) {
            return Err(ApiError::new(
                409,
                "config_superseded",
                format!(
                    "version {} changed the trackers of version {} before the job reached this customer",
                    loaded.version,
                    self.version.version()
                ),
            ));
        }
        if !snapshot.exists {
            return Ok(Step::Answer(false));
        }
        let mut state = snapshot.state;
        // A customer with an event since the change is judged as of the
        // latest (the job or a redemption may have stamped it without
        // judging any upgrade); judging again changes nothing.
        let at = state
            .last_event_at
            .map_or(self.at, |last| last.max(self.at));
        match self.version.reevaluate(&mut state, at) {
            Some(_) => Ok(Step::Commit {
                state: Some(Box::new(state)),
                events: Vec::new(),
                reply: true,
            }),
            None => Ok(Step::Answer(
                state.reevaluated_under(self.version.version()),
            )),
        }
    }
}

impl Service {
    /// Starts the re-evaluation of every customer of `program_id` as of
    /// `at` under config `version`; answers its id.
    pub(crate) async fn start_reevaluation(
        &self,
        program_id: &str,
        version: u64,
        at: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let request = JobRequest {
            config_version: version,
            at,
        };
        let job = JobRecord {
            id: crate::router::new_request_id(),
            kind: KIND.into(),
            status: "running".into(),
            request: crate::json::to_string(&request)?,
            owner: owner().to_owned(),
            heartbeat_ms: now_ms(),
            cursors: crate::json::to_string(&vec![Segment::default(); SEGMENTS as usize])?,
            progress: crate::json::to_string(&Progress::default())?,
            created_at: timestamp(Utc::now()),
            finished_at: None,
        };
        if !self.store.create_job(program_id, &job).await? {
            return Err(ApiError::internal("a new job id was taken"));
        }
        self.spawn_job(program_id, job.clone());
        Ok(job.id)
    }

    /// Runs the job in the background with a service of its own (its own
    /// config cache), so the request that started it answers at once.
    fn spawn_job(&self, program_id: &str, job: JobRecord) {
        if in_lambda() {
            return;
        }
        let service = Arc::new(Service::with_config_ttl(
            self.store.clone(),
            self.config_ttl,
        ));
        let program_id = program_id.to_owned();
        tokio::spawn(async move {
            let id = job.id.clone();
            if let Err(e) = service.run_job(&program_id, job, None).await {
                tracing::error!(program = %program_id, job = %id, code = e.code,
                    error = %e.message, "a re-evaluation job stopped");
            }
        });
    }

    /// Works the job from where its cursors stand until it is done or, with
    /// a `deadline`, until a page ends after it. True when it is no longer
    /// running (done, failed, or taken over by another runner).
    async fn run_job(
        &self,
        program_id: &str,
        mut job: JobRecord,
        deadline: Option<std::time::Instant>,
    ) -> Result<bool, ApiError> {
        let request: JobRequest = serde_json::from_str(&job.request).map_err(corrupt)?;
        let mut segments: Vec<Segment> = serde_json::from_str(&job.cursors).map_err(corrupt)?;
        let mut progress: Progress = serde_json::from_str(&job.progress).map_err(corrupt)?;
        let Some(version) = self
            .program_version(program_id, request.config_version)
            .await?
        else {
            job.status = "failed".into();
            job.finished_at = Some(timestamp(Utc::now()));
            self.store.save_job(program_id, &job, owner()).await?;
            return Ok(true);
        };
        for segment in 0..SEGMENTS {
            let index = segment as usize;
            while !segments[index].done {
                let (customers, next) = self
                    .scan_page(program_id, segment, segments[index].after.clone())
                    .await?;
                for customer in customers {
                    progress.customers_seen += 1;
                    let mut use_case = Reevaluate {
                        customer: &customer,
                        at: request.at,
                        version: &version,
                    };
                    match self.run(program_id, &mut use_case).await {
                        Ok(true) => progress.customers_upgraded += 1,
                        Ok(false) => {}
                        Err(e) => {
                            tracing::error!(program = %program_id, customer = %customer,
                                code = e.code, error = %e.message, "re-evaluation skipped a customer");
                            progress.customers_failed += 1;
                            if progress.failures.len() < MAX_LISTED_FAILURES {
                                progress.failures.push(JobFailure {
                                    customer_id: customer.clone(),
                                    code: e.code.to_owned(),
                                    message: e.message,
                                });
                            }
                        }
                    }
                }
                segments[index] = Segment {
                    done: next.is_none(),
                    after: next,
                };
                job.cursors = crate::json::to_string(&segments)?;
                job.progress = crate::json::to_string(&progress)?;
                job.heartbeat_ms = now_ms();
                if !self.store.save_job(program_id, &job, owner()).await? {
                    // Another process took the job over: it goes on alone.
                    return Ok(true);
                }
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    return Ok(false);
                }
            }
        }
        job.status = "done".into();
        job.finished_at = Some(timestamp(Utc::now()));
        self.store.save_job(program_id, &job, owner()).await?;
        Ok(true)
    }

    /// One step of a re-evaluation run by the state machine on AWS (the
    /// stream carries each new job to it): takes the job over and works it
    /// for up to `STEP_BUDGET`; `more` while it is still running.
    pub(crate) async fn reevaluation_step(
        &self,
        step: ReevaluationStep,
    ) -> Result<ReevaluationStep, ApiError> {
        crate::check_path_id("programId", &step.program_id)?;
        if !is_job_id(&step.job_id) {
            return Err(ApiError::bad_request("`jobId` is not a job's id"));
        }
        let job = self
            .store
            .load_job(&step.program_id, &step.job_id)
            .await?
            .ok_or_else(|| ApiError::bad_request(format!("no job `{}`", step.job_id)))?;
        if job.status != "running" {
            return Ok(ReevaluationStep {
                more: false,
                ..step
            });
        }
        let now = now_ms();
        let claimed = self
            .store
            .claim_job(
                &step.program_id,
                &step.job_id,
                job.heartbeat_ms,
                owner(),
                now,
            )
            .await?;
        if !claimed {
            // Moved on meanwhile: the next step reads it again.
            return Ok(ReevaluationStep { more: true, ..step });
        }
        let mut job = job;
        job.owner = owner().to_owned();
        job.heartbeat_ms = now;
        let deadline = std::time::Instant::now() + STEP_BUDGET;
        let finished = self.run_job(&step.program_id, job, Some(deadline)).await?;
        Ok(ReevaluationStep {
            more: !finished,
            ..step
        })
    }

    async fn scan_page(
        &self,
        program_id: &str,
        segment: u32,
        after: Option<PageCursor>,
    ) -> Result<(Vec<String>, Option<PageCursor>), StoreError> {
        let mut attempt = 0;
        loop {
            match self
                .store
                .scan_program_customers(program_id, segment, SEGMENTS, after.clone())
                .await
            {
                Err(e) if e.is_transient() && attempt + 1 < SCAN_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// `GET /programs/{programId}/jobs/{jobId}`. A running job whose process
    /// stopped (silent for 30 s) is taken over here and resumes where its
    /// cursors stand.
    pub async fn get_job(&self, program_id: &str, id: &str) -> Result<JobView, ApiError> {
        crate::check_path_id("jobId", id)?;
        self.program(program_id).await?;
        let not_found = || ApiError::not_found("job_not_found", format!("no job `{id}`"));
        if !is_job_id(id) {
            return Err(not_found());
        }
        let job = self
            .store
            .load_job(program_id, id)
            .await?
            .ok_or_else(not_found)?;
        let now = now_ms();
        let stale = now.saturating_sub(job.heartbeat_ms) > STALE_MS;
        if job.status == "running" && stale && !in_lambda() {
            let claimed = self
                .store
                .claim_job(program_id, id, job.heartbeat_ms, owner(), now)
                .await?;
            if claimed {
                tracing::info!(program = %program_id, job = %id, "resuming a re-evaluation job");
                let mut resumed = job.clone();
                resumed.owner = owner().to_owned();
                resumed.heartbeat_ms = now;
                self.spawn_job(program_id, resumed);
            }
        }
        view(&job)
    }
}
