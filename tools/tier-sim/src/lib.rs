//! The `tier-sim` CLI's work: read a draft (and current) config, read a
//! DynamoDB export or a plain orders file, replay, write the report.
//!
//! An export is read in two passes so that memory stays bounded by the
//! largest partition, not by the export: pass 1 decodes every line of every
//! data file (files in parallel) and appends the customer's item, reduced
//! to what the replay needs, to one of N partition files chosen by a hash
//! of the customer id; pass 2 replays the partitions in parallel, each
//! grouped by customer in memory, and merges their reports.

pub mod generate;

use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tier_engine::{Order, OrderStatus, Problem, Program, ProgramConfig};
use tier_sim_core::config;
use tier_sim_core::export::{self, CustomerItem, ExportItem};
use tier_sim_core::{
    replay, Action, CustomerHistory, CustomerRun, Event, Mover, Report, ReportOptions,
};

/// Why a run stopped, and the exit code that says so.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Usage(String),
    #[error("{what} is not a valid config:\n{}", problems.iter().map(|p| format!("  {}: {} ({})", p.path, p.message, p.code)).collect::<Vec<_>>().join("\n"))]
    InvalidConfig {
        what: String,
        problems: Vec<Problem>,
    },
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Output(String),
}

impl SimError {
    /// 2: bad arguments or an invalid config; 3: unreadable or malformed
    /// input; 4: the report could not be written.
    pub fn exit_code(&self) -> i32 {
        match self {
            SimError::Usage(_) | SimError::InvalidConfig { .. } => 2,
            SimError::Input(_) => 3,
            SimError::Output(_) => 4,
        }
    }
}

fn input(what: impl std::fmt::Display, e: impl std::fmt::Display) -> SimError {
    SimError::Input(format!("{what}: {e}"))
}

/// Validates a config's JSON text as `PUT config` does.
pub fn program_of(what: &str, json: &str, version: u64) -> Result<Program, SimError> {
    let config: ProgramConfig =
        serde_json::from_str(json).map_err(|e| SimError::InvalidConfig {
            what: what.to_owned(),
            problems: vec![Problem {
                path: String::new(),
                code: "invalid_json",
                message: e.to_string(),
                position: None,
            }],
        })?;
    Program::validate(config)
        .map(|p| p.with_version(version))
        .map_err(|problems| SimError::InvalidConfig {
            what: what.to_owned(),
            problems,
        })
}

pub fn read_config_file(path: &Path) -> Result<String, SimError> {
    std::fs::read_to_string(path).map_err(|e| input(path.display(), e))
}

/// What one customer came to under both configs, for callers that look
/// at states (the exactness test).
pub type Observer<'a> = &'a (dyn Fn(&str, &CustomerRun, &CustomerRun) + Sync);

/// Both programs and the report's options.
pub struct Run<'a> {
    pub current: &'a Program,
    pub draft: &'a Program,
    pub options: ReportOptions,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub progress: bool,
    pub observer: Option<Observer<'a>>,
}

/// Replays one customer under both programs into `report`.
fn replay_customer(
    run: &Run<'_>,
    mut history: CustomerHistory,
    report: &mut Report,
) -> Option<Mover> {
    history.window(run.from, run.to);
    if history.events.is_empty() {
        return None;
    }
    let current = replay(run.current, &history, &run.options.as_of);
    let draft = replay(run.draft, &history, &run.options.as_of);
    if let Some(observe) = run.observer {
        observe(&history.customer_id, &current, &draft);
    }
    report.add(
        &history.customer_id,
        history.events.len(),
        (run.current, &current),
        (run.draft, &draft),
    )
}

fn bar(show: bool, len: u64, what: &str, bytes: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let template = if bytes {
        "{msg:>10} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})"
    } else {
        "{msg:>10} [{bar:40}] {pos}/{len} (eta {eta})"
    };
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    b.set_message(what.to_owned());
    b
}

/// The data files of an export directory: every `*.json.gz` (or `*.json`)
/// under it, e.g. `AWSDynamoDB/<export id>/data/*.json.gz`.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>, SimError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| input(d.display(), e))?;
        for entry in entries {
            let path = entry.map_err(|e| input(d.display(), e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.ends_with(".json.gz") || (n.ends_with(".json") && !n.starts_with("manifest"))
            }) {
                out.push(path);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(SimError::Input(format!(
            "{}: no *.json.gz data files (an S3 export keeps them under AWSDynamoDB/<id>/data/)",
            dir.display()
        )));
    }
    Ok(out)
}

fn open_data(path: &Path) -> Result<Box<dyn BufRead>, SimError> {
    let file = File::open(path).map_err(|e| input(path.display(), e))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file)))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}

/// FNV-1a: the same partition for a customer on every run and platform.
fn partition_of(customer: &str, partitions: usize) -> usize {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in customer.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    (hash % partitions as u64) as usize
}

/// The configs an export holds for a program.
#[derive(Debug, Default, Clone)]
pub struct ExportConfigs {
    /// The current version and its JSON (the `CONFIG` pointer).
    pub current: Option<(u64, String)>,
    /// The pointer's `retentionSince` as stored (JSON: tier name to RFC
    /// 3339 instant), when it has one.
    pub current_retention_since: Option<String>,
    pub versions: Vec<(u64, String)>,
}

/// The current program and the draft of a run over an export, as the
/// service builds them (docs/simulation.md, "Retention rules: from when
/// they count"):
/// - the current config is the export's (`current_json`, from `--current`,
///   replaces its text and keeps its version, 1 when the export has none),
///   known as its stored version, each tier's retention rule counting from
///   the stored `retentionSince` as the service loads it
///   (`tier_sim_core::config::stored_program`); for a `--current` config,
///   only the rules the same as the export's keep their date;
/// - the draft is version + 1, refused when it drops a tier of the current
///   config (`tier_removed`, as the API refuses it), and dated as
///   publishing it over the current config at `published` would date it
///   (`tier_sim_core::config::published_program`: an unchanged rule keeps
///   the current date, a new or changed one counts from `published`), as
///   the API's simulation job does with the instant it was asked, so that
///   both reports stay the same.
pub fn export_programs(
    program_id: &str,
    configs: &ExportConfigs,
    current_json: Option<&str>,
    draft_json: &str,
    published: DateTime<Utc>,
) -> Result<(Program, Program), SimError> {
    let stored = configs.current.as_ref();
    let stored_since = configs.current_retention_since.as_deref();
    let current = match (current_json, stored) {
        (None, Some((version, json))) => {
            let program = program_of("the current config", json, *version)?;
            config::stored_program(program, *version, stored_since)
        }
        (Some(json), stored) => {
            let version = stored.map_or(1, |s| s.0);
            let program = program_of("the current config", json, version)?;
            let kept = stored
                .and_then(|(_, json)| serde_json::from_str::<ProgramConfig>(json).ok())
                .map(|old| {
                    config::kept_retention_since(
                        program.config(),
                        &old,
                        &config::retention_since(stored_since),
                    )
                })
                .unwrap_or_default();
            program.with_retention_since(&kept)
        }
        (None, None) => {
            return Err(SimError::Input(format!(
                "the export holds no config of program `{program_id}`; pass --current"
            )))
        }
    };
    let draft = config::published_program(draft_of(&current, draft_json)?, &current, published);
    Ok((current, draft))
}

/// The current program and the draft of a run over an orders file: the
/// current config (`current_json`, the draft itself when not given) as
/// version 1, the draft as version 2, refused when it drops a tier of the
/// current config (`tier_removed`); no retention dates on either side
/// (nothing was published: every rule counts from its windows' start).
pub fn orders_programs(
    current_json: Option<&str>,
    draft_json: &str,
) -> Result<(Program, Program), SimError> {
    let current = program_of("the current config", current_json.unwrap_or(draft_json), 1)?;
    let draft = draft_of(&current, draft_json)?;
    Ok((current, draft))
}

/// The draft, validated as `PUT config` validates a new version over
/// `current`: its own problems, then every tier of the current config kept
/// (else [`SimError::InvalidConfig`] with a `tier_removed` problem per tier
/// dropped, the API's code, path and message; exit code 2).
pub fn draft_of(current: &Program, draft_json: &str) -> Result<Program, SimError> {
    let draft = program_of("the draft", draft_json, current.version() + 1)?;
    let problems = config::removed_tiers(current.config(), current.version(), &draft);
    if !problems.is_empty() {
        return Err(SimError::InvalidConfig {
            what: "the draft".into(),
            problems,
        });
    }
    Ok(draft)
}

/// Pass 1: every data file's items of `program` into `partitions` files
/// under `work`, and the program's configs.
pub fn partition_export(
    files: &[PathBuf],
    program: &str,
    work: &Path,
    partitions: usize,
    progress: bool,
) -> Result<ExportConfigs, SimError> {
    let threads = rayon::current_num_threads();
    let writers: Vec<Mutex<Vec<BufWriter<File>>>> = (0..threads)
        .map(|t| {
            (0..partitions)
                .map(|p| {
                    let path = work.join(format!("part-{p:05}-{t:03}"));
                    File::create(&path)
                        .map(|f| BufWriter::with_capacity(64 * 1024, f))
                        .map_err(|e| SimError::Output(format!("{}: {e}", path.display())))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Mutex::new)
        })
        .collect::<Result<_, _>>()?;
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    // Pass 2 names a data file by its place in this list (see below).
    let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    std::fs::write(work.join(FILES), list)
        .map_err(|e| SimError::Output(format!("{}: {e}", work.display())))?;
    let bar = bar(progress, total, "partition", true);
    let configs = Mutex::new(ExportConfigs::default());
    files
        .par_iter()
        .enumerate()
        .try_for_each(|(file, path)| -> Result<(), SimError> {
            let mut reader = open_data(path)?;
            let t = rayon::current_thread_index().unwrap_or(0) % threads;
            let mut out = writers[t].lock().expect("a writer set per thread");
            let mut line = String::new();
            let mut record_text = None;
            let mut number = 0u64;
            loop {
                line.clear();
                let n = reader
                    .read_line(&mut line)
                    .map_err(|e| input(format!("{} line {}", path.display(), number + 1), e))?;
                if n == 0 {
                    break;
                }
                number += 1;
                if line.trim().is_empty() {
                    continue;
                }
                let at = |e| input(format!("{} line {number}", path.display()), e);
                let item =
                    export::parse_line_deferring_record(&line, Some(program), &mut record_text)
                        .map_err(at)?;
                match item {
                    ExportItem::Config {
                        version,
                        config_json,
                        retention_since,
                        current,
                        ..
                    } => {
                        let mut c = configs.lock().expect("configs");
                        if current {
                            c.current = Some((version, config_json));
                            c.current_retention_since = retention_since;
                        } else {
                            c.versions.push((version, config_json));
                        }
                    }
                    ExportItem::Customer {
                        customer, mut item, ..
                    } => {
                        let p = partition_of(&customer, partitions);
                        let w = &mut out[p];
                        // An order's record goes as the export holds it,
                        // after the item, decoded only in pass 2: decoding
                        // it here and serialising it again cost more than
                        // the rest of the line. Text with a line break in
                        // it is decoded here and serialised instead.
                        let raw = match (&mut *item, record_text.take()) {
                            (CustomerItem::Order { id, record, .. }, Some(text)) => {
                                if text.is_one_line() {
                                    Some(text)
                                } else {
                                    *record = Some(text.record(id).map_err(at)?);
                                    None
                                }
                            }
                            _ => None,
                        };
                        let written = (|| {
                            w.write_all(customer.as_bytes())?;
                            w.write_all(b"\t")?;
                            serde_json::to_writer(&mut *w, &item)?;
                            if let Some(text) = &raw {
                                write!(w, "\t{file}:{number}\t")?;
                                text.write_to(&mut *w)?;
                            }
                            w.write_all(b"\n")
                        })();
                        written.map_err(|e| SimError::Output(format!("partition {p}: {e}")))?;
                    }
                    ExportItem::Other => {}
                }
            }
            bar.inc(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
            Ok(())
        })?;
    for set in writers {
        for mut w in set.into_inner().expect("writers") {
            w.flush().map_err(|e| SimError::Output(e.to_string()))?;
        }
    }
    bar.finish_and_clear();
    Ok(configs.into_inner().expect("configs"))
}

/// The list of data files pass 1 read, in the work directory.
const FILES: &str = "files";

/// `<file>:<line>` of a partition line as the data file's path and line,
/// for an error (the file's place in the list pass 1 wrote).
fn export_line(work: &Path, source: &str) -> String {
    let (file, line) = source.split_once(':').unwrap_or((source, "?"));
    let list = std::fs::read_to_string(work.join(FILES)).unwrap_or_default();
    let path = file
        .parse::<usize>()
        .ok()
        .and_then(|i| list.lines().nth(i))
        .unwrap_or("a data file");
    format!("{path} line {line}")
}

/// Pass 2: every partition replayed (in parallel), reports merged, movers
/// sorted by customer id.
pub fn replay_partitions(
    run: &Run<'_>,
    work: &Path,
    partitions: usize,
) -> Result<(Report, Vec<Mover>), SimError> {
    let threads = rayon::current_num_threads();
    let bar = bar(run.progress, partitions as u64, "replay", false);
    let parts: Vec<(Report, Vec<Mover>)> = (0..partitions)
        .into_par_iter()
        .map(|p| -> Result<(Report, Vec<Mover>), SimError> {
            let mut by_customer: HashMap<String, Vec<CustomerItem>> = HashMap::new();
            for t in 0..threads {
                let path = work.join(format!("part-{p:05}-{t:03}"));
                let file = File::open(&path).map_err(|e| input(path.display(), e))?;
                let mut reader = BufReader::with_capacity(1 << 20, file);
                let mut line = String::new();
                for i in 1.. {
                    line.clear();
                    let n = reader
                        .read_line(&mut line)
                        .map_err(|e| input(path.display(), e))?;
                    if n == 0 {
                        break;
                    }
                    let at = |e: &dyn std::fmt::Display| {
                        input(format!("{} line {i}", path.display()), e)
                    };
                    let (customer, rest) = line
                        .trim_end_matches('\n')
                        .split_once('\t')
                        .ok_or_else(|| at(&"no customer"))?;
                    // The item, then (for an order) where the export holds
                    // it and its record as found there.
                    let (json, record) = match rest.split_once('\t') {
                        Some((json, record)) => (json, record.split_once('\t')),
                        None => (rest, None),
                    };
                    let mut item: CustomerItem = serde_json::from_str(json).map_err(|e| at(&e))?;
                    if let (
                        CustomerItem::Order {
                            id, record: slot, ..
                        },
                        Some((source, text)),
                    ) = (&mut item, record)
                    {
                        let record = export::deferred_record(id, text)
                            .map_err(|e| input(export_line(work, source), e))?;
                        *slot = Some(record);
                    }
                    match by_customer.get_mut(customer) {
                        Some(items) => items.push(item),
                        None => {
                            by_customer.insert(customer.to_owned(), vec![item]);
                        }
                    }
                }
                let _ = std::fs::remove_file(&path);
            }
            let mut customers: Vec<(String, Vec<CustomerItem>)> = by_customer.into_iter().collect();
            customers.sort_by(|a, b| a.0.cmp(&b.0));
            let mut report = Report::new(&run.options, run.current, run.draft);
            let mut movers = Vec::new();
            for (customer, items) in customers {
                let history = export::assemble(&customer, items);
                movers.extend(replay_customer(run, history, &mut report));
            }
            bar.inc(1);
            Ok((report, movers))
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();
    let mut report = Report::new(&run.options, run.current, run.draft);
    let mut movers = Vec::new();
    for (r, m) in parts {
        report
            .merge(&r)
            .map_err(|e| SimError::Output(format!("merging partitions: {e}")))?;
        movers.extend(m);
    }
    movers.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    Ok((report, movers))
}

/// A plain orders file into customers' histories: completed orders count
/// at `placedAt`; pending and cancelled ones are recorded and count nothing.
pub fn read_orders_file(path: &Path) -> Result<Vec<CustomerHistory>, SimError> {
    let file = File::open(path).map_err(|e| input(path.display(), e))?;
    let name = path.display().to_string();
    let orders: Vec<Order> = if name.ends_with(".csv") {
        tier_sim_core::orders::read_csv(BufReader::new(file)).map_err(|e| input(&name, e))?
    } else {
        tier_sim_core::orders::read_jsonl(BufReader::new(file))
            .collect::<Result<_, _>>()
            .map_err(|e| input(&name, e))?
    };
    let mut by_customer: HashMap<String, Vec<Order>> = HashMap::new();
    for o in orders {
        by_customer
            .entry(o.customer_id.clone())
            .or_default()
            .push(o);
    }
    let mut out: Vec<CustomerHistory> = by_customer
        .into_iter()
        .map(|(customer_id, orders)| {
            let mut h = CustomerHistory {
                customer_id,
                events: orders
                    .into_iter()
                    .enumerate()
                    .map(|(i, o)| Event {
                        at: o.placed_at,
                        seq: i as u64,
                        action: Action::Order(o),
                    })
                    .collect(),
            };
            h.sort();
            h
        })
        .collect();
    out.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    Ok(out)
}

/// Replays orders-file histories (in parallel).
pub fn replay_histories(
    run: &Run<'_>,
    histories: Vec<CustomerHistory>,
) -> Result<(Report, Vec<Mover>), SimError> {
    let bar = bar(run.progress, histories.len() as u64, "replay", false);
    let chunk = histories
        .len()
        .div_ceil(rayon::current_num_threads() * 8)
        .max(1);
    let parts: Vec<(Report, Vec<Mover>)> = histories
        .par_chunks(chunk)
        .map(|hs| {
            let mut report = Report::new(&run.options, run.current, run.draft);
            let mut movers = Vec::new();
            for h in hs {
                movers.extend(replay_customer(run, h.clone(), &mut report));
                bar.inc(1);
            }
            (report, movers)
        })
        .collect();
    bar.finish_and_clear();
    let mut report = Report::new(&run.options, run.current, run.draft);
    let mut movers = Vec::new();
    for (r, m) in parts {
        report
            .merge(&r)
            .map_err(|e| SimError::Output(format!("merging: {e}")))?;
        movers.extend(m);
    }
    Ok((report, movers))
}

/// Writes report.json and movers.csv into `dir`.
pub fn write_outputs(dir: &Path, report: &Report, movers: &[Mover]) -> Result<(), SimError> {
    let out = |e: &dyn std::fmt::Display| SimError::Output(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| out(&e))?;
    let json = serde_json::to_string_pretty(report).expect("a report serialises");
    std::fs::write(dir.join("report.json"), json).map_err(|e| out(&e))?;
    let mut csv = csv::Writer::from_path(dir.join("movers.csv")).map_err(|e| out(&e))?;
    csv.write_record(tier_sim_core::report::MOVERS_HEADER)
        .map_err(|e| out(&e))?;
    for m in movers {
        csv.write_record(tier_sim_core::report::mover_row(m))
            .map_err(|e| out(&e))?;
    }
    csv.flush().map_err(|e| out(&e))?;
    Ok(())
}

/// The report as tables for a terminal.
pub fn summary(report: &Report) -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
    let mut out = String::new();
    let mut tiers = Table::new();
    tiers.load_preset(UTF8_FULL_CONDENSED);
    tiers.set_header(vec!["tier", "current", "draft", "change"]);
    let mut names: Vec<&String> = report.current.ladder.iter().collect();
    for t in &report.draft.ladder {
        if !names.contains(&t) {
            names.push(t);
        }
    }
    for t in names {
        let c = report.current.tiers.get(t).copied().unwrap_or(0);
        let d = report.draft.tiers.get(t).copied().unwrap_or(0);
        tiers.add_row(vec![
            t.clone(),
            c.to_string(),
            d.to_string(),
            format!("{:+}", d as i64 - c as i64),
        ]);
    }
    out.push_str(&format!(
        "{} customers, {} events replayed; balances as of {}\n{tiers}\n",
        report.customers,
        report.events,
        report.end.to_rfc3339()
    ));
    let mut points = Table::new();
    points.load_preset(UTF8_FULL_CONDENSED);
    points.set_header(vec!["points", "current", "draft"]);
    for (name, c, d) in [
        (
            "awarded",
            report.current.points_awarded,
            report.draft.points_awarded,
        ),
        (
            "reversed",
            report.current.points_reversed,
            report.draft.points_reversed,
        ),
        (
            "redeemed",
            report.current.points_redeemed,
            report.draft.points_redeemed,
        ),
        (
            "outstanding",
            report.current.points_outstanding,
            report.draft.points_outstanding,
        ),
    ] {
        points.add_row(vec![name.to_owned(), c.to_string(), d.to_string()]);
    }
    points.add_row(vec![
        "events refused".to_owned(),
        report.current.events_refused.to_string(),
        report.draft.events_refused.to_string(),
    ]);
    out.push_str(&format!("{points}\n"));
    let m = &report.movers;
    out.push_str(&format!(
        "movers: {} higher, {} lower, {} unchanged; the draft would demote {} customers if applied retroactively (informational: publishing never demotes)\n",
        m.higher, m.lower, m.unchanged, m.lower
    ));
    if !m.sample.is_empty() {
        let mut movers = Table::new();
        movers.load_preset(UTF8_FULL_CONDENSED);
        movers.set_header(vec!["customer", "move", "current", "draft"]);
        for s in &m.sample {
            movers.add_row(vec![
                s.customer_id.clone(),
                s.direction.as_str().to_owned(),
                s.current_tier.clone().unwrap_or_else(|| "-".into()),
                s.draft_tier.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        out.push_str(&format!("{movers}\n"));
    }
    let mut months: Vec<&String> = report.current.upgrades_per_month.keys().collect();
    for k in report.draft.upgrades_per_month.keys() {
        if !months.contains(&k) {
            months.push(k);
        }
    }
    months.sort();
    if !months.is_empty() {
        let mut up = Table::new();
        up.load_preset(UTF8_FULL_CONDENSED);
        up.set_header(vec!["upgrades in", "current", "draft"]);
        for k in months {
            up.add_row(vec![
                k.clone(),
                report
                    .current
                    .upgrades_per_month
                    .get(k)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                report
                    .draft
                    .upgrades_per_month
                    .get(k)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            ]);
        }
        out.push_str(&format!("{up}\n"));
    }
    for a in &report.as_of {
        let row = |m: &std::collections::BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "as of {}: current {{{}}}, draft {{{}}}\n",
            a.at.to_rfc3339(),
            row(&a.current),
            row(&a.draft)
        ));
    }
    out
}

/// Statuses an orders file may carry, for the docs and errors.
pub const STATUSES: [OrderStatus; 3] = [
    OrderStatus::Completed,
    OrderStatus::Pending,
    OrderStatus::Cancelled,
];
