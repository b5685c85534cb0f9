//! `tier-sim`: replay a program's history under a draft config beside the
//! current one, from a DynamoDB table export or a plain orders file, and
//! report what would change. See docs/simulation.md.
//!
//! Exit codes: 0 done; 2 bad arguments or an invalid config (the engine's
//! validation problems are printed; a draft that drops a tier of the
//! current config too, `tier_removed`, as the API refuses it); 3 unreadable
//! or malformed input (file and line named); 4 the report could not be
//! written.

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Instant;
use tier_sim::{Run, SimError};
use tier_sim_core::ReportOptions;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tier-sim",
    version,
    about = "What-if: replay real history under a draft config"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a generated export of one program (for benchmarks).
    Generate(tier_sim::generate::GenerateArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The program id (as in the table's keys).
    #[arg(long)]
    program: Option<String>,
    /// The draft config (JSON, as for PUT config).
    #[arg(long)]
    draft: Option<PathBuf>,
    /// A DynamoDB S3 export directory (DynamoDB JSON, *.json.gz data files).
    #[arg(long, conflicts_with = "orders")]
    export: Option<PathBuf>,
    /// A plain orders file: .jsonl or .csv (docs/simulation.md).
    #[arg(long)]
    orders: Option<PathBuf>,
    /// The current config (JSON); from an export, the export's own by default.
    #[arg(long)]
    current: Option<PathBuf>,
    /// Replay only events at or after this instant (RFC 3339).
    #[arg(long)]
    from: Option<DateTime<Utc>>,
    /// Replay only events before this instant; balances are told as of it
    /// (default: now).
    #[arg(long)]
    to: Option<DateTime<Utc>>,
    /// When the draft is taken as published (RFC 3339; default: now): a
    /// retention rule the draft adds or changes counts from this instant,
    /// as `PUT config` dates it (an unchanged rule keeps the current
    /// config's date). The API's simulation publishes at its `createdAt`.
    /// Exports only (an orders file has no published config).
    #[arg(long = "published-at", conflicts_with = "orders")]
    published_at: Option<DateTime<Utc>>,
    /// Also count customers per tier as of this instant (repeatable).
    #[arg(long = "as-of")]
    as_of: Vec<DateTime<Utc>>,
    /// Where report.json and movers.csv go.
    #[arg(long, default_value = "tier-sim-report")]
    out: PathBuf,
    /// Partition files of an export (default: one per 16 MB of data files,
    /// at least 8).
    #[arg(long)]
    partitions: Option<usize>,
    /// Movers listed in the report (all go to movers.csv).
    #[arg(long, default_value_t = tier_sim_core::report::DEFAULT_SAMPLE)]
    sample: usize,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Generate(args)) => tier_sim::generate::generate(&args),
        None => simulate(cli.run),
    };
    if let Err(e) = result {
        eprintln!("tier-sim: {e}");
        std::process::exit(e.exit_code());
    }
}

fn simulate(args: RunArgs) -> Result<(), SimError> {
    let started = Instant::now();
    let program_id = args
        .program
        .ok_or_else(|| SimError::Usage("--program is required".into()))?;
    let draft_path = args
        .draft
        .ok_or_else(|| SimError::Usage("--draft is required".into()))?;
    if args.export.is_none() && args.orders.is_none() {
        return Err(SimError::Usage(
            "one of --export DIR or --orders FILE is required".into(),
        ));
    }
    if let (Some(f), Some(t)) = (args.from, args.to) {
        if f >= t {
            return Err(SimError::Usage("--from must be before --to".into()));
        }
    }
    let mut as_of = args.as_of.clone();
    as_of.sort();
    // One "now" for the balances' end and the draft's publication.
    let now = Utc::now();
    let options = ReportOptions {
        as_of,
        end: args.to.unwrap_or(now),
        sample: args.sample,
    };
    let draft_json = tier_sim::read_config_file(&draft_path)?;
    let current_json = args
        .current
        .as_deref()
        .map(tier_sim::read_config_file)
        .transpose()?;
    let progress = !args.quiet;
    let (report, movers) = if let Some(dir) = &args.export {
        let files = tier_sim::data_files(dir)?;
        let bytes: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let partitions = args
            .partitions
            .unwrap_or((bytes / (16 << 20)) as usize)
            .clamp(8, 4096);
        let work = std::env::temp_dir().join(format!("tier-sim-{}", std::process::id()));
        std::fs::create_dir_all(&work)
            .map_err(|e| SimError::Output(format!("{}: {e}", work.display())))?;
        let result = (|| {
            // The draft is checked before the long pass (its tiers against
            // the current config's once pass 1 has read the export's).
            tier_sim::program_of("the draft", &draft_json, 0)?;
            let configs =
                tier_sim::partition_export(&files, &program_id, &work, partitions, progress)?;
            if progress {
                eprintln!("partitioned in {:.1} s", started.elapsed().as_secs_f64());
            }
            let (current, draft) = tier_sim::export_programs(
                &program_id,
                &configs,
                current_json.as_deref(),
                &draft_json,
                args.published_at.unwrap_or(now),
            )?;
            let run = Run {
                current: &current,
                draft: &draft,
                options,
                from: args.from,
                to: args.to,
                progress,
                observer: None,
            };
            tier_sim::replay_partitions(&run, &work, partitions)
        })();
        let _ = std::fs::remove_dir_all(&work);
        result?
    } else {
        let path = args.orders.as_deref().expect("checked above");
        // A brand not on us yet has no current config: the draft alone.
        let (current, draft) = tier_sim::orders_programs(current_json.as_deref(), &draft_json)?;
        let histories = tier_sim::read_orders_file(path)?;
        let run = Run {
            current: &current,
            draft: &draft,
            options,
            from: args.from,
            to: args.to,
            progress,
            observer: None,
        };
        tier_sim::replay_histories(&run, histories)?
    };
    tier_sim::write_outputs(&args.out, &report, &movers)?;
    print!("{}", tier_sim::summary(&report));
    println!(
        "wrote {} and {} in {:.1} s",
        args.out.join("report.json").display(),
        args.out.join("movers.csv").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
