//! What-if through the API (issue 13): `POST /programs/{programId}/simulations`
//! takes a draft config (validated as `PUT config` validates it, nothing of
//! the live program changes) and starts a job over the program's stored
//! history; `GET .../simulations/{simulationId}` shows its progress and,
//! once done, the report `tier-sim` would print for the same history.
//!
//! The job (docs/simulation.md, "Through the API"): a Scan of the table
//! (in [`SEGMENTS`] parallel segments) filtered to the program's customers; each
//! customer's items (together in a Scan) assembled into a history as the
//! CLI assembles an export's (`tier_sim_core::export::assemble`), replayed
//! under both configs on the blocking pool while the next page is read, and
//! the reports merged. The draft's retention rules are dated as publishing
//! it when the simulation is asked would date them (docs/simulation.md,
//! "Retention rules: from when they count"). One simulation per program
//! runs at a time.
//!
//! The job is a sequence of resumable steps: after every page, a segment
//! stores its part (`SIMULATION#<id>#PART#<segment>`: the Scan cursor at a
//! customer boundary, the partial report, the counts) in one write
//! conditional on the version it read, so a step run twice counts nobody
//! twice; once every segment is done the parts are merged
//! (`Report::merge`) into the report. Locally the process that accepted
//! the job works it to the end (segments in parallel), writing a heartbeat
//! every second; a job whose heartbeat is older than the stale limit (its
//! process stopped) is taken over by the next read of it and resumed from
//! its parts. On AWS a state machine calls the worker with
//! `{"simulate": {"programId", "simulationId"}}` while it answers `more`
//! (`simulation_step`), each step bounded in time.

use crate::error::ApiError;
use crate::json::decode;
use crate::retry;
use crate::Service;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tier_engine::{Program, ProgramConfig};
use tier_sim_core::export::{self, CustomerItem};
use tier_sim_core::report::DEFAULT_SAMPLE;
use tier_sim_core::whatif::Run;
use tier_sim_core::{Report, ReportOptions};
use tier_store::{
    cursor_in_customer, history_cursor, DynamoStore, HistoryItem, MetricsSnapshot, PageCursor,
    SimulationEnd, SimulationPart, SimulationRecord, StoreError,
};

/// Parallel Scan segments a job reads at once by default (the
/// `TIER_SIMULATION_SEGMENTS` environment variable, 1 to 64, overrides it).
/// Each segment already replays a page while it reads the next. Two: the
/// embedded engine sorts what is left of its segment for every page, so
/// more segments do less work in all, but from 8 they hold the engine long
/// enough that other requests time out (docs/simulation.md, measured).
pub const SEGMENTS: u32 = 2;

fn segments() -> u32 {
    std::env::var("TIER_SIMULATION_SEGMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(SEGMENTS)
}
/// How often a running job writes its progress and heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A job silent for longer has lost its process (default; the
/// `TIER_SIMULATION_STALE_SECS` environment variable overrides it).
const STALE_AFTER: Duration = Duration::from_secs(30);
/// How long one state machine step works pages for at most (less in a
/// function with less time left: half of it).
pub const STEP_BUDGET: Duration = Duration::from_secs(60);
/// The most a step's `budgetMs` may ask.
const MOST_STEP_BUDGET_MS: u64 = 60_000;

/// A step of the state machine that runs a simulation on AWS: handed to
/// the worker and back until `more` is false. `budgetMs` (for tests and
/// operators) shortens the step's work.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulationStep {
    pub program_id: String,
    pub simulation_id: String,
    #[serde(default)]
    pub more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_ms: Option<u64>,
}

impl SimulationStep {
    /// When the step stops taking pages: its budget, at most half of what
    /// the invocation has left.
    pub(crate) fn deadline(&self, left: Option<Duration>) -> Result<Instant, ApiError> {
        let budget = match self.budget_ms {
            Some(ms) if ms > MOST_STEP_BUDGET_MS => {
                return Err(ApiError::bad_request(format!(
                    "budgetMs is at most {MOST_STEP_BUDGET_MS}"
                )))
            }
            Some(ms) => Duration::from_millis(ms),
            None => STEP_BUDGET,
        };
        let budget = left.map_or(budget, |left| budget.min(left / 2));
        Ok(Instant::now() + budget)
    }
}

/// A Lambda freezes once it answers, so no job runs in its background: on
/// AWS the state machine runs them (infra/template.yaml,
/// SimulationStateMachine).
fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Scan items per page, for tests that need many pages of few items
/// (`TIER_SIMULATION_PAGE_ITEMS`), never set in production (DynamoDB's
/// 1 MB pages).
fn page_items() -> Option<i32> {
    std::env::var("TIER_SIMULATION_PAGE_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
}

fn stale_after() -> Duration {
    std::env::var("TIER_SIMULATION_STALE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(STALE_AFTER, Duration::from_secs)
}

/// A pause before every Scan page: a seam for tests that need a job still
/// running (`TIER_SIMULATION_PAGE_DELAY_MS`), never set in production.
fn page_delay() -> Option<Duration> {
    std::env::var("TIER_SIMULATION_PAGE_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// A job this process may work in the background: the table names the
/// store, as one process can serve several (the e2e tests run both engines
/// in one process, with the same program and job ids).
type JobKey = (String, String, String);

/// The jobs this process is working in the background: one whose heartbeat
/// is late because the store is slow is still ours, and is not taken over a
/// second time here.
fn worked() -> std::sync::MutexGuard<'static, HashSet<JobKey>> {
    static WORKING: OnceLock<std::sync::Mutex<HashSet<JobKey>>> = OnceLock::new();
    WORKING
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn job_key(store: &DynamoStore, program_id: &str, id: &str) -> JobKey {
    (
        store.table().to_owned(),
        program_id.to_owned(),
        id.to_owned(),
    )
}

fn working(key: &JobKey) -> bool {
    worked().contains(key)
}

/// A job marked as worked here until this is dropped: when its task ends,
/// and also when the task is dropped unfinished (its runtime shut down), so
/// a mark never outlives the work and blocks every later resume.
struct Working(JobKey);

impl Working {
    fn mark(key: JobKey) -> Option<Working> {
        // Lazily: a mark made for a job already marked would, dropped,
        // unmark the job it lost to.
        let inserted = worked().insert(key.clone());
        inserted.then(|| Working(key))
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        worked().remove(&self.0);
    }
}

/// This process, as the owner of the jobs it runs.
fn instance() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(crate::router::new_request_id)
}

fn now_ms() -> u64 {
    Utc::now().timestamp_millis().max(0) as u64
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A simulation id: 32 lowercase hex digits (ours; any other id is unknown).
fn is_simulation_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulationBody {
    config: Box<RawValue>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// What the job was asked, as stored with it (the draft too, so that a
/// worker elsewhere could run it: the draft's retention dates follow from
/// the current version's stored ones and the record's `createdAt`, see
/// `Program::published_over`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<DateTime<Utc>>,
    /// Balances are told as of this instant: `to`, else when it was asked.
    end: DateTime<Utc>,
    current_version: u64,
    draft: ProgramConfig,
    /// Scan segments, fixed for the job's life (its parts are per segment).
    #[serde(default = "default_segments")]
    segments: u32,
}

fn default_segments() -> u32 {
    SEGMENTS
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub customers_seen: u64,
    /// Known once the job is done (a Scan cannot tell it before).
    pub customers_total: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulationView {
    pub simulation_id: String,
    pub program_id: String,
    /// queued, running, done or failed.
    pub status: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub end: String,
    pub current_version: u64,
    pub progress: Progress,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// What the job read and wrote, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
}

fn view(program_id: &str, record: &SimulationRecord) -> Result<SimulationView, ApiError> {
    let request: StoredRequest = serde_json::from_str(&record.request)
        .map_err(|e| ApiError::new(500, "corrupt_event", format!("simulation request: {e}")))?;
    let parse = |text: &str, what: &str| -> Result<Value, ApiError> {
        serde_json::from_str(text)
            .map_err(|e| ApiError::new(500, "corrupt_event", format!("simulation {what}: {e}")))
    };
    Ok(SimulationView {
        simulation_id: record.id.clone(),
        program_id: program_id.to_owned(),
        status: record.status.clone(),
        created_at: record.created_at.clone(),
        finished_at: record.finished_at.clone(),
        from: request.from.map(timestamp),
        to: request.to.map(timestamp),
        end: timestamp(request.end),
        current_version: request.current_version,
        progress: Progress {
            customers_seen: record.customers_seen,
            customers_total: record.customers_total,
        },
        report: record
            .report
            .as_deref()
            .map(|r| parse(r, "report"))
            .transpose()?,
        failure_reason: record.error.clone(),
        usage: record
            .usage
            .as_deref()
            .map(|u| parse(u, "usage"))
            .transpose()?,
    })
}

/// `from` or `to`: an RFC 3339 instant within the supported dates.
fn instant(field: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    let at = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            let shown: String = text.chars().take(64).collect();
            ApiError::bad_request(format!("{field} `{shown}` is not an RFC 3339 time: {e}"))
                .with_details(vec![serde_json::json!({ "field": field })])
        })?;
    tier_engine::events::check_time(field, at)?;
    Ok(Some(at))
}

/// The draft, validated exactly as `PUT config` validates a new version:
/// the config's own problems, then no tier of the current version dropped
/// (`tier_engine::publish::removed_tiers`, which the CLI refuses too).
fn validate_draft(raw: &RawValue, current: &Program, version: u64) -> Result<Program, ApiError> {
    let config: ProgramConfig = decode(raw.get().as_bytes(), "config")?;
    let draft = Program::validate_new(config).map_err(ApiError::invalid_config)?;
    let dropped = tier_engine::publish::removed_tiers(current.config(), version, &draft);
    if !dropped.is_empty() {
        return Err(ApiError::invalid_config(dropped));
    }
    Ok(draft)
}

fn running(record: &SimulationRecord) -> bool {
    matches!(record.status.as_str(), "queued" | "running")
}

fn is_stale(record: &SimulationRecord) -> bool {
    running(record)
        && now_ms().saturating_sub(record.heartbeat_ms) > stale_after().as_millis() as u64
}

fn interrupted(record: &SimulationRecord) -> String {
    format!(
        "interrupted: no progress since {} (the process running it stopped); start it again",
        DateTime::from_timestamp_millis(record.heartbeat_ms as i64)
            .map(timestamp)
            .unwrap_or_default()
    )
}

impl Service {
    /// `POST /programs/{programId}/simulations`: 202 with the queued job.
    pub async fn start_simulation(
        &self,
        program_id: &str,
        body: &[u8],
    ) -> Result<SimulationView, ApiError> {
        let request: SimulationBody = decode(body, "simulation")?;
        let from = instant("from", request.from.as_deref())?;
        let to = instant("to", request.to.as_deref())?;
        if let Some(f) = from {
            // Without `to` the simulation ends now: a `from` after it would
            // replay nothing and report an empty run as done.
            let (t, named) = match to {
                Some(t) => (t, "to"),
                None => (Utc::now(), "now, the default to"),
            };
            if f >= t {
                return Err(ApiError::bad_request(format!(
                    "from ({}) must be before {named} ({})",
                    timestamp(f),
                    timestamp(t)
                ))
                .with_details(vec![serde_json::json!({ "field": "from" })]));
            }
        }
        let loaded = self.reload_program(program_id).await?;
        let draft = validate_draft(&request.config, &loaded.program, loaded.version)?;
        let store = self.store();
        let previous = store.latest_simulation(program_id).await?;
        if let Some(id) = &previous {
            if let Some(record) = store.load_simulation(program_id, id).await? {
                if running(&record) {
                    if !is_stale(&record) {
                        return Err(busy(id));
                    }
                    if !in_lambda() {
                        // Its process stopped: this one goes on with it.
                        self.resume_simulation(program_id, &record).await?;
                        return Err(busy(id));
                    }
                    // On AWS its state machine runs it; silent this long, a
                    // new request replaces it (its run stops at its next step).
                    store
                        .fail_stale_simulation(
                            program_id,
                            id,
                            record.heartbeat_ms,
                            &timestamp(Utc::now()),
                            &interrupted(&record),
                        )
                        .await?;
                }
            }
        }
        // To the millisecond: the instant shown is the one replayed.
        let created =
            DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now);
        // Dated as `PUT config` would date it, published now (the instant
        // shown as `createdAt`): an unchanged retention rule keeps the
        // current version's day, a new or changed one counts from `created`.
        // The job dates it again from what is stored (`Job::of`).
        let draft = draft
            .with_version(loaded.version + 1)
            .published_over(&loaded.program, created);
        let stored = StoredRequest {
            from,
            to,
            end: to.unwrap_or(created),
            current_version: loaded.version,
            draft: draft.config().clone(),
            segments: segments(),
        };
        let record = SimulationRecord {
            id: crate::router::new_request_id(),
            status: "queued".into(),
            request: crate::json::to_string(&stored)?,
            owner: instance().to_owned(),
            heartbeat_ms: now_ms(),
            created_at: timestamp(created),
            ..SimulationRecord::default()
        };
        if !store
            .create_simulation(program_id, &record, previous.as_deref())
            .await?
        {
            return Err(busy("another"));
        }
        self.spawn_simulation(program_id, record.clone());
        view(program_id, &record)
    }

    /// `GET /programs/{programId}/simulations/{simulationId}`. Locally, a
    /// job whose process stopped (silent for longer than the stale limit)
    /// is taken over here and resumes from its stored parts.
    pub async fn get_simulation(
        &self,
        program_id: &str,
        id: &str,
    ) -> Result<SimulationView, ApiError> {
        crate::check_path_id("simulationId", id)?;
        let store = self.store();
        let mut record = if is_simulation_id(id) {
            store.load_simulation(program_id, id).await?
        } else {
            None
        };
        let Some(mut found) = record.take() else {
            // Not found for the right reason: no program, or no such job.
            self.program(program_id).await?;
            return Err(ApiError::not_found(
                "simulation_not_found",
                format!(
                    "program `{program_id}` has no simulation `{}`",
                    id.chars().take(64).collect::<String>()
                ),
            ));
        };
        if is_stale(&found) && !in_lambda() && self.resume_simulation(program_id, &found).await? {
            found = store
                .load_simulation(program_id, id)
                .await?
                .ok_or_else(|| ApiError::internal("a simulation disappeared"))?;
        }
        view(program_id, &found)
    }

    /// Takes over a job whose process stopped and works it here (the
    /// conditional write on its last heartbeat lets one process only);
    /// false if another process took it first.
    async fn resume_simulation(
        &self,
        program_id: &str,
        record: &SimulationRecord,
    ) -> Result<bool, ApiError> {
        if working(&job_key(&self.store, program_id, &record.id)) {
            // Ours, only late with its heartbeat (the store is busy).
            return Ok(false);
        }
        let now = now_ms();
        let claimed = self
            .store
            .claim_simulation(program_id, &record.id, record.heartbeat_ms, instance(), now)
            .await?;
        if claimed {
            tracing::info!(programId = %program_id, simulationId = %record.id,
                "resuming a simulation from its stored parts");
            let mut ours = record.clone();
            ours.owner = instance().to_owned();
            ours.heartbeat_ms = now;
            self.spawn_simulation(program_id, ours);
        }
        Ok(claimed)
    }

    /// Works a job this process owns in the background, to its end, with a
    /// service of its own (its own config cache). Not in a Lambda: it
    /// freezes once it answers; there the state machine steps the job
    /// (`simulation_step`).
    fn spawn_simulation(&self, program_id: &str, record: SimulationRecord) {
        if in_lambda() {
            return;
        }
        let Some(mark) = Working::mark(job_key(&self.store, program_id, &record.id)) else {
            return;
        };
        let service = Service::with_config_ttl(self.store.clone(), self.config_ttl);
        let program_id = program_id.to_owned();
        tokio::spawn(async move {
            if let Err(e) = service.work_simulation(&program_id, record, None).await {
                tracing::warn!(programId = %program_id, error = %e,
                    "a simulation paused on a store failure; the next read of it resumes it");
            }
            drop(mark);
        });
    }

    /// One step of a simulation run by the state machine on AWS (the
    /// stream carries each new job to it): takes the job over and works it
    /// until `deadline` at most; `more` while it is not finished. A step
    /// that can never succeed (a malformed step, an unknown simulation) is
    /// refused (4xx: the run ends at once); a job that cannot be finished
    /// (its stored request unreadable, its report too large) is stored
    /// `failed` and answered `more: false`; a store failure is an error
    /// (5xx: the run retries it).
    pub(crate) async fn simulation_step(
        &self,
        step: SimulationStep,
        deadline: Instant,
    ) -> Result<SimulationStep, ApiError> {
        crate::check_path_id("programId", &step.program_id)?;
        if !is_simulation_id(&step.simulation_id) {
            return Err(ApiError::bad_request(
                "`simulationId` is not a simulation's id",
            ));
        }
        let (program_id, id) = (step.program_id.as_str(), step.simulation_id.as_str());
        let record = retry::store_call(|| self.store.load_simulation(program_id, id))
            .await
            .map_err(|e| match e {
                // An item that does not read never will: refused.
                StoreError::Corrupt(_) => {
                    ApiError::bad_request(format!("simulation `{id}` does not read: {e}"))
                }
                e => e.into(),
            })?
            .ok_or_else(|| {
                ApiError::bad_request(format!("program `{program_id}` has no simulation `{id}`"))
            })?;
        let ended = |more| SimulationStep {
            more,
            ..step.clone()
        };
        if !running(&record) {
            return Ok(ended(false));
        }
        let now = now_ms();
        let claimed = retry::store_call(|| {
            self.store
                .claim_simulation(program_id, id, record.heartbeat_ms, instance(), now)
        })
        .await?;
        if !claimed {
            // Moved on meanwhile: the next step reads it again.
            return Ok(ended(true));
        }
        let mut ours = record;
        ours.owner = instance().to_owned();
        ours.heartbeat_ms = now;
        let finished = self
            .work_simulation(program_id, ours, Some(deadline))
            .await
            .map_err(|e| ApiError::new(503, "simulation_step_failed", e))?;
        if !finished {
            return Ok(ended(true));
        }
        // Done, failed, or lost to another step: two runs stepping one job
        // at once can each lose a segment to the other, and a run that
        // stopped there would leave the job running with nobody on it. The
        // run goes on while the job is running, whoever works it now.
        let after = retry::store_call(|| self.store.load_simulation(program_id, id)).await?;
        Ok(ended(after.as_ref().is_some_and(running)))
    }

    /// Works a job this process owns from its stored parts until it ends
    /// or, with a `deadline`, until a page after it; Ok(true) when it is
    /// no longer running here (done, failed, or taken over). An error is a
    /// store failure that outlasted the retries: the job keeps its parts
    /// and goes on at the next step or resume.
    async fn work_simulation(
        &self,
        program_id: &str,
        record: SimulationRecord,
        deadline: Option<Instant>,
    ) -> Result<bool, String> {
        let job = match Job::of(self, program_id, &record).await {
            Ok(job) => Arc::new(job),
            Err(Stop::Fail(reason)) => {
                Job::fail(&self.store, program_id, &record.id, &reason).await;
                return Ok(true);
            }
            Err(Stop::Retry(e)) => return Err(e),
            Err(Stop::Lost) => return Ok(true),
        };
        match job.clone().run(deadline).await {
            Ok(finished) => Ok(finished),
            Err(Stop::Fail(reason)) => {
                Job::fail(&self.store, program_id, &record.id, &reason).await;
                Ok(true)
            }
            Err(Stop::Retry(e)) => Err(e),
            Err(Stop::Lost) => Ok(true),
        }
    }
}

fn busy(id: &str) -> ApiError {
    ApiError::new(
        409,
        "simulation_running",
        format!(
            "simulation {id} of this program is still running; wait for it to finish \
             (one simulation per program at a time)"
        ),
    )
}

/// Why a job's work stopped before its end.
#[derive(Debug)]
enum Stop {
    /// May pass on a later attempt (the store throttled, unreachable or
    /// misconfigured): the job keeps its parts.
    Retry(String),
    /// Never will: the job is stored failed, with this reason.
    Fail(String),
    /// No longer this process's job (marked failed, or taken over).
    Lost,
}

impl Stop {
    fn store(what: &str, e: StoreError) -> Stop {
        match e {
            StoreError::Transient(_) | StoreError::Config(_) => Stop::Retry(format!("{what}: {e}")),
            e => Stop::Fail(format!("{what}: {e}")),
        }
    }
}

/// A job as worked by this process: what it replays, from its stored
/// request, and what it has done so far.
struct Job {
    store: DynamoStore,
    program_id: String,
    id: String,
    current: Arc<Program>,
    draft: Arc<Program>,
    options: ReportOptions,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    segments: u32,
    created: DateTime<Utc>,
    /// Customers in the stored parts and the pages merged since.
    seen: AtomicU64,
    /// Set when the job is no longer ours to finish (marked failed, or
    /// taken over).
    stop: AtomicBool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    dynamodb_requests: u64,
    read_units: f64,
    write_units: f64,
    items_scanned: u64,
    seconds: f64,
}

/// What a page's replay brings to its segment's part.
enum Checkpoint {
    /// Customers up to this key are replayed: the part goes on after it.
    At(PageCursor),
    /// The segment is read to its end.
    End,
    /// No customer was completed (one customer's items go on): nothing to
    /// store.
    Same,
}

type Replayed = tokio::task::JoinHandle<(Report, u64)>;

impl Job {
    /// The job a stored record asks for: the current program at its stored
    /// version, the draft dated as published at `createdAt`
    /// (`Program::published_over`, as when it was asked).
    async fn of(
        service: &Service,
        program_id: &str,
        record: &SimulationRecord,
    ) -> Result<Job, Stop> {
        let request: StoredRequest = serde_json::from_str(&record.request)
            .map_err(|e| Stop::Fail(format!("the stored request does not read: {e}")))?;
        let created = DateTime::parse_from_rfc3339(&record.created_at)
            .map_err(|e| Stop::Fail(format!("the stored createdAt does not read: {e}")))?
            .with_timezone(&Utc);
        let current = service
            .program_version(program_id, request.current_version)
            .await
            .map_err(|e| Stop::store("loading the current config", e))?
            .ok_or_else(|| {
                Stop::Fail(format!(
                    "config version {} is not stored or does not validate",
                    request.current_version
                ))
            })?;
        let draft = Program::validate(request.draft)
            .map_err(|_| Stop::Fail("the stored draft does not validate".into()))?
            .with_version(request.current_version + 1)
            .published_over(&current, created);
        Ok(Job {
            store: service.store.clone(),
            program_id: program_id.to_owned(),
            id: record.id.clone(),
            current,
            draft: Arc::new(draft),
            options: ReportOptions {
                as_of: Vec::new(),
                end: request.end,
                sample: DEFAULT_SAMPLE,
            },
            from: request.from,
            to: request.to,
            segments: request.segments.clamp(1, 64),
            created,
            seen: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Stores the job failed (if it still runs).
    async fn fail(store: &DynamoStore, program_id: &str, id: &str, reason: &str) {
        tracing::warn!(programId = %program_id, simulationId = %id, error = %reason, "simulation failed");
        let now = timestamp(Utc::now());
        let ending = SimulationEnd::Failed { error: reason };
        if let Err(e) = store
            .finish_simulation(program_id, id, instance(), &now, ending)
            .await
        {
            tracing::error!(simulationId = %id, error = %e, "simulation end not stored");
        }
    }

    fn empty_report(&self) -> Report {
        Report::new(&self.options, &self.current, &self.draft)
    }

    /// Every unfinished segment at once, each in its own task (counting its
    /// own requests), from its stored part; once all are done, the parts
    /// merged into the job's report. Ok(false): paused at the deadline.
    async fn run(self: Arc<Self>, deadline: Option<Instant>) -> Result<bool, Stop> {
        let stored =
            retry::store_call(|| self.store.load_simulation_parts(&self.program_id, &self.id))
                .await
                .map_err(|e| Stop::store("loading the job's parts", e))?;
        let parts: Vec<SimulationPart> = (0..self.segments)
            .map(|segment| {
                stored
                    .iter()
                    .find(|p| p.segment == segment)
                    .cloned()
                    .unwrap_or(SimulationPart {
                        segment,
                        ..SimulationPart::default()
                    })
            })
            .collect();
        self.seen
            .store(parts.iter().map(|p| p.seen).sum(), Ordering::Relaxed);
        if !self
            .progress()
            .await
            .map_err(|e| Stop::store("the job's heartbeat", e))?
        {
            return Err(Stop::Lost);
        }
        let beat = tokio::spawn(self.clone().heartbeat());
        let mut tasks = tokio::task::JoinSet::new();
        for part in parts.into_iter().filter(|p| !p.done) {
            let job = self.clone();
            tasks.spawn(async move { tier_store::measured(job.segment(part, deadline)).await.0 });
        }
        let mut outcome: Result<bool, Stop> = Ok(true);
        while let Some(done) = tasks.join_next().await {
            let ended = done.unwrap_or_else(|e| {
                tracing::error!(simulationId = %self.id, error = %e, "a simulation segment panicked");
                Err(Stop::Fail("the job failed on our side; it has been logged".into()))
            });
            // The gravest outcome wins: failed, lost, retry, paused.
            outcome = match (outcome, ended) {
                (Err(Stop::Fail(r)), _) | (_, Err(Stop::Fail(r))) => Err(Stop::Fail(r)),
                (Err(Stop::Lost), _) | (_, Err(Stop::Lost)) => Err(Stop::Lost),
                (Err(Stop::Retry(r)), _) | (_, Err(Stop::Retry(r))) => Err(Stop::Retry(r)),
                (Ok(a), Ok(b)) => Ok(a && b),
            };
        }
        beat.abort();
        if outcome? {
            self.finish().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Every segment is done: the parts as stored, merged into the report.
    async fn finish(&self) -> Result<(), Stop> {
        let parts =
            retry::store_call(|| self.store.load_simulation_parts(&self.program_id, &self.id))
                .await
                .map_err(|e| Stop::store("loading the job's parts", e))?;
        if parts.len() != self.segments as usize || parts.iter().any(|p| !p.done) {
            return Err(Stop::Fail("a segment's part is missing".into()));
        }
        let mut report = self.empty_report();
        let mut used = MetricsSnapshot::default();
        let (mut customers, mut scanned) = (0, 0);
        for part in &parts {
            report
                .merge(&part_report(self, part)?)
                .map_err(|e| Stop::Fail(format!("merging the segments' reports: {e}")))?;
            used.requests += part.requests;
            used.read_units += part.read_units;
            used.write_units += part.write_units;
            customers += part.seen;
            scanned += part.scanned;
        }
        let finished = Utc::now();
        let usage = Usage {
            dynamodb_requests: used.requests,
            read_units: used.read_units,
            write_units: used.write_units,
            items_scanned: scanned,
            seconds: (finished - self.created).num_milliseconds().max(0) as f64 / 1000.0,
        };
        tracing::info!(
            programId = %self.program_id,
            simulationId = %self.id,
            customers = report.customers,
            readUnits = used.read_units,
            seconds = usage.seconds,
            "simulation done"
        );
        let report = serde_json::to_string(&report).unwrap_or_default();
        let usage = serde_json::to_string(&usage).unwrap_or_default();
        let now = timestamp(finished);
        let ending = SimulationEnd::Done {
            report: &report,
            customers,
            usage: &usage,
        };
        match self
            .store
            .finish_simulation(&self.program_id, &self.id, instance(), &now, ending)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(Stop::Lost),
            // A report too large for its item, say: the job still ends.
            Err(e) if !e.is_transient() => {
                Err(Stop::Fail(format!("the report could not be stored: {e}")))
            }
            Err(e) => Err(Stop::store("storing the report", e)),
        }
    }

    /// Progress and heartbeat; false when the job is no longer ours.
    async fn progress(&self) -> Result<bool, StoreError> {
        let ours = self
            .store
            .simulation_progress(
                &self.program_id,
                &self.id,
                instance(),
                self.seen.load(Ordering::Relaxed),
                now_ms(),
            )
            .await?;
        if !ours {
            self.stop.store(true, Ordering::Relaxed);
        }
        Ok(ours)
    }

    async fn heartbeat(self: Arc<Self>) {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            match self.progress().await {
                Ok(true) => {}
                Ok(false) => return,
                // A missed beat is tried again at the next.
                Err(e) => tracing::warn!(simulationId = %self.id, error = %e, "heartbeat"),
            }
        }
    }

    /// Replays complete customers on the blocking pool.
    fn replay_page(&self, complete: Vec<(String, Vec<CustomerItem>)>) -> Replayed {
        let (current, draft) = (self.current.clone(), self.draft.clone());
        let (options, from, to) = (self.options.clone(), self.from, self.to);
        tokio::task::spawn_blocking(move || {
            let run = Run {
                current: &current,
                draft: &draft,
                as_of: &options.as_of,
                from,
                to,
            };
            let mut part = Report::new(&options, &current, &draft);
            let customers = complete.len() as u64;
            for (customer, items) in complete {
                run.customer(export::assemble(&customer, items), &mut part, None);
            }
            (part, customers)
        })
    }

    /// One Scan segment from its stored part, page by page, each page
    /// replayed while the next is read. A customer's items come together
    /// (DynamoDB keeps a partition's items together and a Scan reads them
    /// in order): the last customer of a page may go on in the next, and a
    /// customer seen again after another one is an error. After each page
    /// the part is stored with its cursor at the last customer boundary
    /// (after the last item of the last complete customer, or DynamoDB's
    /// own last key once the Scan has left the open customer's partition),
    /// so that the customer still open is read again, whole, by whoever
    /// goes on. Ok(true): the segment is done; Ok(false): paused at the
    /// deadline (at a boundary that moved).
    async fn segment(
        &self,
        mut part: SimulationPart,
        deadline: Option<Instant>,
    ) -> Result<bool, Stop> {
        let mut report = part_report(self, &part)?;
        let stored_usage = (part.requests, part.read_units, part.write_units);
        let mut read_from = part.cursor.clone();
        let mut open: Option<(String, Vec<CustomerItem>, String)> = None;
        let mut finished: HashSet<String> = HashSet::new();
        let mut pending: Option<(Replayed, Checkpoint)> = None;
        loop {
            if let Some(pause) = page_delay() {
                tokio::time::sleep(pause).await;
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err(Stop::Lost);
            }
            let page = retry::store_call(|| {
                self.store.scan_program_history(
                    &self.program_id,
                    part.segment,
                    self.segments,
                    read_from.clone(),
                    page_items(),
                )
            })
            .await
            .map_err(|e| Stop::store("reading the program's history", e))?;
            part.scanned += page.scanned;
            let mut complete: Vec<(String, Vec<CustomerItem>)> = Vec::new();
            let mut boundary = None;
            for (customer, item) in page.items {
                let sk = item.sk().to_owned();
                let item = customer_item(item).map_err(|e| {
                    Stop::Fail(format!(
                        "customer `{customer}`: an item does not decode: {e}"
                    ))
                })?;
                match &mut open {
                    Some((c, items, last)) if *c == customer => {
                        items.extend(item);
                        *last = sk;
                    }
                    _ => {
                        if finished.contains(&customer) {
                            return Err(Stop::Fail(format!(
                                "the Scan returned customer `{customer}`'s items apart"
                            )));
                        }
                        let next = (customer, item.into_iter().collect(), sk);
                        if let Some((c, items, last)) = open.replace(next) {
                            boundary = Some(history_cursor(&self.program_id, &c, &last));
                            finished.insert(c.clone());
                            complete.push((c, items));
                        }
                    }
                }
            }
            let checkpoint = match &page.next {
                None => {
                    complete.extend(open.take().map(|(c, items, _)| (c, items)));
                    Checkpoint::End
                }
                // The Scan has left the open customer's partition: complete.
                Some(next)
                    if open
                        .as_ref()
                        .is_none_or(|(c, ..)| !cursor_in_customer(&self.program_id, next, c)) =>
                {
                    if let Some((c, items, _)) = open.take() {
                        finished.insert(c.clone());
                        complete.push((c, items));
                    }
                    Checkpoint::At(next.clone())
                }
                Some(_) => boundary.map_or(Checkpoint::Same, Checkpoint::At),
            };
            read_from = page.next;
            let at_end = matches!(checkpoint, Checkpoint::End);
            let moved = !matches!(checkpoint, Checkpoint::Same);
            let replaying = self.replay_page(complete);
            if let Some(previous) = pending.replace((replaying, checkpoint)) {
                self.settle(&mut part, &mut report, previous, stored_usage, false)
                    .await?;
            }
            let pause = moved && deadline.is_some_and(|d| Instant::now() >= d);
            if at_end || pause {
                if let Some(last) = pending.take() {
                    self.settle(&mut part, &mut report, last, stored_usage, true)
                        .await?;
                }
                return Ok(at_end);
            }
        }
    }

    /// Merges a page's replay into the segment's report and stores the
    /// part at the page's checkpoint (`force`: even if it did not move),
    /// over the version it was read at.
    async fn settle(
        &self,
        part: &mut SimulationPart,
        report: &mut Report,
        (replaying, checkpoint): (Replayed, Checkpoint),
        stored_usage: (u64, f64, f64),
        force: bool,
    ) -> Result<(), Stop> {
        let (page, customers) = replaying
            .await
            .map_err(|e| Stop::Fail(format!("replay: {e}")))?;
        report
            .merge(&page)
            .map_err(|e| Stop::Fail(format!("merging a page's report: {e}")))?;
        part.seen += customers;
        match checkpoint {
            Checkpoint::At(cursor) => part.cursor = Some(cursor),
            Checkpoint::End => {
                part.cursor = None;
                part.done = true;
            }
            Checkpoint::Same if !force => {
                // No customer completed, so none is left uncounted in `seen`.
                debug_assert_eq!(customers, 0);
                return Ok(());
            }
            Checkpoint::Same => {}
        }
        let used = tier_store::measured_so_far().unwrap_or_default();
        part.requests = stored_usage.0 + used.requests;
        part.read_units = stored_usage.1 + used.read_units;
        part.write_units = stored_usage.2 + used.write_units;
        part.report = Some(
            serde_json::to_string(&*report)
                .map_err(|e| Stop::Fail(format!("a segment's report: {e}")))?,
        );
        part.version += 1;
        let part: &SimulationPart = part;
        let saved = retry::store_call(|| {
            self.store
                .save_simulation_part(&self.program_id, &self.id, part)
        })
        .await
        .map_err(|e| match e {
            StoreError::TooLarge { .. } => {
                Stop::Fail(format!("the report could not be stored: {e}"))
            }
            e => Stop::store("storing a segment's part", e),
        })?;
        if saved {
            // Counted once stored: the heartbeat shows `seen`, and a job
            // resumed from its parts must never show fewer than it did.
            self.seen.fetch_add(customers, Ordering::Relaxed);
            Ok(())
        } else {
            // Another step stored this segment first: it goes on alone.
            Err(Stop::Lost)
        }
    }
}

/// A part's report as stored (a part not stored yet: empty).
fn part_report(job: &Job, part: &SimulationPart) -> Result<Report, Stop> {
    match &part.report {
        None => Ok(job.empty_report()),
        Some(json) => serde_json::from_str(json)
            .map_err(|e| Stop::Fail(format!("segment {}'s stored report: {e}", part.segment))),
    }
}

/// A scanned item as the export reader gives it (the same functions).
fn customer_item(item: HistoryItem) -> Result<Option<CustomerItem>, export::ItemError> {
    match item {
        HistoryItem::State(stored) => Ok(Some(CustomerItem::State {
            last_event_at: stored.state.last_event_at,
        })),
        // A record that does not decode stops the job, as it stops tier-sim
        // (the service reads such an order as one without a record).
        HistoryItem::Event(e) if e.unreadable_record.is_some() => Err(export::ItemError(format!(
            "order record does not decode: {}",
            e.unreadable_record.unwrap_or_default()
        ))),
        HistoryItem::Event(e) => export::event_item(
            &e.sk,
            e.status.as_deref(),
            e.at.as_deref(),
            &e.result,
            e.record,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime shut down under a running job (a test ending, a process
    /// stopping) drops its task unfinished: the mark goes with it, or every
    /// later read would think the job still worked here and never resume it.
    #[test]
    fn a_mark_goes_with_its_task_when_the_runtime_stops() {
        let key: JobKey = ("t".into(), "p".into(), "a".repeat(32));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mark = Working::mark(key.clone()).expect("not marked yet");
            tokio::spawn(async move {
                let _mark = mark;
                std::future::pending::<()>().await
            });
        });
        assert!(working(&key));
        assert!(Working::mark(key.clone()).is_none(), "one mark at a time");
        drop(runtime);
        assert!(!working(&key));
    }
}
