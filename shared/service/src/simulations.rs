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
//! "Retention rules: from when they count"). It runs as a background task
//! of the process that accepted it, writing its progress and a heartbeat
//! every second; a job whose heartbeat is older than the stale limit (its
//! process stopped) is answered, and stored, as failed. One simulation per program runs at a time.

use crate::error::ApiError;
use crate::json::decode;
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
    DynamoStore, HistoryItem, MetricsSnapshot, ScanCursor, SimulationEnd, SimulationRecord,
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
/// Attempts at a Scan page that fails transiently.
const SCAN_ATTEMPTS: u32 = 5;

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
    let draft = Program::validate(config).map_err(ApiError::invalid_config)?;
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
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                return Err(ApiError::bad_request(format!(
                    "from ({}) must be before to ({})",
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
        let draft = draft
            .with_version(loaded.version + 1)
            .published_over(&loaded.program, created);
        let stored = StoredRequest {
            from,
            to,
            end: to.unwrap_or(created),
            current_version: loaded.version,
            draft: draft.config().clone(),
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
        let job = Job {
            store: store.clone(),
            program_id: program_id.to_owned(),
            id: record.id.clone(),
            current: Arc::new(loaded.program.clone()),
            draft: Arc::new(draft),
            options: ReportOptions {
                as_of: Vec::new(),
                end: stored.end,
                sample: DEFAULT_SAMPLE,
            },
            from,
            to,
            seen: AtomicU64::new(0),
            scanned: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        };
        tokio::spawn(Arc::new(job).run());
        view(program_id, &record)
    }

    /// `GET /programs/{programId}/simulations/{simulationId}`.
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
        if is_stale(&found) {
            let reason = interrupted(&found);
            let now = timestamp(Utc::now());
            store
                .fail_stale_simulation(program_id, id, found.heartbeat_ms, &now, &reason)
                .await?;
            found = store
                .load_simulation(program_id, id)
                .await?
                .ok_or_else(|| ApiError::internal("a simulation disappeared"))?;
        }
        view(program_id, &found)
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

/// A running job and what it has done so far.
struct Job {
    store: DynamoStore,
    program_id: String,
    id: String,
    current: Arc<Program>,
    draft: Arc<Program>,
    options: ReportOptions,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    seen: AtomicU64,
    scanned: AtomicU64,
    /// Set when the job is no longer ours to finish (marked failed).
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

impl Job {
    async fn run(self: Arc<Self>) {
        let started = Instant::now();
        if !matches!(self.progress().await, Ok(true)) {
            return;
        }
        let beat = tokio::spawn(self.clone().heartbeat());
        // Its own task, so that a panic (a bug) ends as a failed job.
        let work = tokio::spawn(self.clone().replay());
        let outcome = work.await;
        beat.abort();
        let now = timestamp(Utc::now());
        let end = match &outcome {
            Ok(Ok((report, used))) => {
                let usage = Usage {
                    dynamodb_requests: used.requests,
                    read_units: used.read_units,
                    write_units: used.write_units,
                    items_scanned: self.scanned.load(Ordering::Relaxed),
                    seconds: started.elapsed().as_secs_f64(),
                };
                tracing::info!(
                    programId = %self.program_id,
                    simulationId = %self.id,
                    customers = report.customers,
                    readUnits = used.read_units,
                    seconds = usage.seconds,
                    "simulation done"
                );
                let report = serde_json::to_string(report).unwrap_or_default();
                let usage = serde_json::to_string(&usage).unwrap_or_default();
                let customers = self.seen.load(Ordering::Relaxed);
                (report, usage, customers)
            }
            Ok(Err(e)) => {
                tracing::warn!(programId = %self.program_id, simulationId = %self.id, error = %e, "simulation failed");
                (String::new(), e.clone(), u64::MAX)
            }
            Err(e) => {
                tracing::error!(programId = %self.program_id, simulationId = %self.id, error = %e, "simulation panicked");
                (
                    String::new(),
                    "the job failed on our side; it has been logged".into(),
                    u64::MAX,
                )
            }
        };
        let (report, text, customers) = end;
        let ending = if customers == u64::MAX {
            SimulationEnd::Failed { error: &text }
        } else {
            SimulationEnd::Done {
                report: &report,
                customers,
                usage: &text,
            }
        };
        let mut result = self
            .store
            .finish_simulation(&self.program_id, &self.id, instance(), &now, ending)
            .await;
        if let Err(e) = &result {
            // A report too large for its item, say: the job still ends.
            let error = format!("the report could not be stored: {e}");
            result = self
                .store
                .finish_simulation(
                    &self.program_id,
                    &self.id,
                    instance(),
                    &now,
                    SimulationEnd::Failed { error: &error },
                )
                .await;
        }
        if let Err(e) = result {
            tracing::error!(simulationId = %self.id, error = %e, "simulation end not stored");
        }
    }

    /// Progress and heartbeat; false when the job is no longer ours.
    async fn progress(&self) -> Result<bool, tier_store::StoreError> {
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

    /// Every segment at once, each in its own task (with its own request
    /// counters, added up), their reports merged.
    async fn replay(self: Arc<Self>) -> Result<(Report, MetricsSnapshot), String> {
        let segments = segments();
        let mut tasks = tokio::task::JoinSet::new();
        for segment in 0..segments {
            let job = self.clone();
            tasks.spawn(tier_store::measured(async move {
                job.segment(segment, segments).await
            }));
        }
        let mut report = Report::new(&self.options, &self.current, &self.draft);
        let mut used = MetricsSnapshot::default();
        while let Some(done) = tasks.join_next().await {
            let (part, u) = done.map_err(|e| format!("a segment failed: {e}"))?;
            report
                .merge(&part?)
                .map_err(|e| format!("merging the segments' reports: {e}"))?;
            used.requests += u.requests;
            used.read_units += u.read_units;
            used.write_units += u.write_units;
        }
        Ok((report, used))
    }

    async fn page(
        &self,
        segment: u32,
        segments: u32,
        start: Option<ScanCursor>,
    ) -> Result<tier_store::HistoryPage, String> {
        let mut wait = Duration::from_millis(100);
        for attempt in 1.. {
            match self
                .store
                .scan_program_history(&self.program_id, segment, segments, start.clone())
                .await
            {
                Ok(page) => return Ok(page),
                Err(e) if e.is_transient() && attempt < SCAN_ATTEMPTS => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => return Err(format!("reading the program's history: {e}")),
            }
        }
        unreachable!("the loop returns")
    }

    /// Replays complete customers on the blocking pool.
    fn replay_page(
        &self,
        complete: Vec<(String, Vec<CustomerItem>)>,
    ) -> tokio::task::JoinHandle<(Report, u64)> {
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

    /// One Scan segment, replayed page by page while the next page is read.
    /// A customer's items come together (DynamoDB keeps a partition's items
    /// together and a Scan reads them in order): the last customer of a
    /// page may go on in the next, and a customer seen again after another
    /// one is an error.
    async fn segment(&self, segment: u32, segments: u32) -> Result<Report, String> {
        let mut report = Report::new(&self.options, &self.current, &self.draft);
        let mut cursor = None;
        let mut open: Option<(String, Vec<CustomerItem>)> = None;
        let mut finished: HashSet<String> = HashSet::new();
        let mut replaying = None;
        loop {
            if let Some(pause) = page_delay() {
                tokio::time::sleep(pause).await;
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err("stopped: the job was marked failed".into());
            }
            let page = self.page(segment, segments, cursor).await?;
            self.scanned.fetch_add(page.scanned, Ordering::Relaxed);
            cursor = page.next;
            let mut complete: Vec<(String, Vec<CustomerItem>)> = Vec::new();
            for (customer, item) in page.items {
                let Some(item) = customer_item(item)
                    .map_err(|e| format!("customer `{customer}`: an item does not decode: {e}"))?
                else {
                    continue;
                };
                match &mut open {
                    Some((c, items)) if *c == customer => items.push(item),
                    _ => {
                        if finished.contains(&customer) {
                            return Err(format!(
                                "the Scan returned customer `{customer}`'s items apart"
                            ));
                        }
                        if let Some(done) = open.replace((customer, vec![item])) {
                            finished.insert(done.0.clone());
                            complete.push(done);
                        }
                    }
                }
            }
            if cursor.is_none() {
                complete.extend(open.take());
            }
            if let Some(previous) = replaying.replace(self.replay_page(complete)) {
                self.merge(&mut report, previous).await?;
            }
            if cursor.is_none() {
                if let Some(last) = replaying.take() {
                    self.merge(&mut report, last).await?;
                }
                return Ok(report);
            }
        }
    }

    async fn merge(
        &self,
        report: &mut Report,
        part: tokio::task::JoinHandle<(Report, u64)>,
    ) -> Result<(), String> {
        let (part, customers) = part.await.map_err(|e| format!("replay: {e}"))?;
        report
            .merge(&part)
            .map_err(|e| format!("merging a page's report: {e}"))?;
        self.seen.fetch_add(customers, Ordering::Relaxed);
        Ok(())
    }
}

/// A scanned item as the export reader gives it (the same functions).
fn customer_item(item: HistoryItem) -> Result<Option<CustomerItem>, export::ItemError> {
    match item {
        HistoryItem::State(stored) => Ok(Some(CustomerItem::State {
            last_event_at: stored.state.last_event_at,
        })),
        HistoryItem::Event(e) => export::event_item(
            &e.sk,
            e.status.as_deref(),
            e.at.as_deref(),
            &e.result,
            e.record.as_deref(),
        ),
    }
}
