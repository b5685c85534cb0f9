//! A retention rule counts its tracker criteria from the day it was
//! configured (`retentionSince` on the config items, written by
//! `PUT config`): an export whose rule was configured after some of the
//! spending it would count replays under the current config as the engine
//! judges with `Program::with_retention_since`, not as if the rule had
//! always been there. The draft is dated as publishing it would date it,
//! as the API's simulation job dates it (docs/simulation.md): a rule left
//! alone keeps the current date, a new or changed one counts from the
//! publication (`--published-at`).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use flate2::write::DeflateEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use tier_engine::{CustomerState, Order, OrderStatus, Program, ProgramConfig};
use tier_sim::{ExportConfigs, Run};
use tier_sim_core::{CustomerRun, ReportOptions};

const PROGRAM: &str = "ret";
/// When the Silver rule was configured: after the April orders below.
const SINCE: &str = "2026-06-01T00:00:00Z";
/// When the draft is taken as published (`--published-at`), unless a test
/// says otherwise: after every order below.
const PUBLISHED: &str = "2027-06-01T00:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn config() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "S", "kind": "tracker", "tracker": "spend12m", "min": "3000"}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend12m", "min": "2000"}],
                "condition": "all", "onFail": "oneDown"}}]
    })
}

/// An order: id, placedAt, amount.
type Placed = (&'static str, &'static str, &'static str);

/// Each customer's orders. Silver is reached on 2026-02-01 and its period
/// ends on 2027-02-01; the last order of each comes after that end, so the
/// replay judges the end before it.
fn customers() -> Vec<(&'static str, Vec<Placed>)> {
    vec![
        // Spent in April, before the rule existed: nothing counts.
        (
            "c1",
            vec![
                ("o1", "2026-02-01T10:00:00Z", "3000"),
                ("o2", "2026-04-01T00:00:00Z", "2500"),
                ("o3", "2027-02-05T10:00:00Z", "10"),
            ],
        ),
        // Spent in July, after the rule: counts either way.
        (
            "c2",
            vec![
                ("o1", "2026-02-01T10:00:00Z", "3000"),
                ("o2", "2026-07-01T00:00:00Z", "2500"),
                ("o3", "2027-02-05T10:00:00Z", "10"),
            ],
        ),
        // Never reaches Silver.
        ("c3", vec![("o1", "2026-03-01T10:00:00Z", "100")]),
    ]
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The engine's program as the service loads it: version 1, Silver's rule
/// counting from [`SINCE`].
fn engine_program() -> Program {
    let config: ProgramConfig = serde_json::from_value(config()).unwrap();
    Program::validate(config)
        .unwrap()
        .with_version(1)
        .with_retention_since(&[("Silver".to_owned(), at(SINCE))])
}

/// An export of the program as the store writes it: the config pointer
/// and its history item with `retentionSince` (or without, for a table
/// written before it was kept), each customer's order items (records
/// decided by the engine) and state.
fn write_export(dir: &Path, retention_since: Option<&str>) {
    let data = dir.join("AWSDynamoDB/0123-abcd/data");
    std::fs::create_dir_all(&data).unwrap();
    let mut lines = Vec::new();
    let config_json = config().to_string();
    for sk in ["CONFIG", "CONFIG#000000000001"] {
        let mut item = json!({"pk": {"S": format!("PROGRAM#{PROGRAM}")}, "sk": {"S": sk},
            "version": {"N": "1"}, "config": {"S": config_json}});
        if let Some(since) = retention_since {
            item["retentionSince"] = json!({"S": since});
        }
        lines.push(json!({ "Item": item }));
    }
    let program = engine_program();
    for (customer, orders) in customers() {
        let pk = format!("CUSTOMER#{}:{PROGRAM}#{customer}", PROGRAM.len());
        let mut state: Option<CustomerState> = None;
        for (id, placed, amount) in orders {
            let order = Order {
                order_id: id.into(),
                customer_id: customer.into(),
                placed_at: at(placed),
                status: OrderStatus::Completed,
                amount: amount.parse().unwrap(),
                gross_amount: None,
                currency: Some("USD".into()),
                line_items: vec![],
            };
            let s = state.get_or_insert_with(|| CustomerState::new(&program, order.placed_at));
            let applied = program.apply_order(s, &order).unwrap();
            let record = serde_json::to_string(&applied.record).unwrap();
            let pair = serde_json::to_vec(&(r#"{"applied":true}"#, Some(record))).unwrap();
            lines.push(
                json!({"Item": {"pk": {"S": pk}, "sk": {"S": format!("ORDER#{id}")},
                "status": {"S": "completed"}, "data": {"B": b64(&deflate(&pair))}}}),
            );
        }
        let mut state = state.unwrap();
        state.config_version = Some(1);
        let blob = deflate(&serde_json::to_vec(&state).unwrap());
        lines.push(json!({"Item": {"pk": {"S": pk}, "sk": {"S": "STATE"},
            "version": {"N": "1"}, "state": {"B": b64(&blob)}}}));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(data.join("part0.json"), text).unwrap();
}

fn options() -> ReportOptions {
    ReportOptions {
        as_of: vec![at("2027-01-01T00:00:00Z"), at("2027-03-01T00:00:00Z")],
        end: at("2027-06-01T00:00:00Z"),
        sample: 10,
    }
}

/// Partitions the export, builds the programs with `build`, replays;
/// returns the report (JSON) and each customer's tier under both.
fn run(
    dir: &Path,
    work: &str,
    build: impl FnOnce(&ExportConfigs) -> (Program, Program),
) -> (Value, HashMap<String, (String, String)>) {
    let files = tier_sim::data_files(dir).unwrap();
    let work = dir.join(work);
    std::fs::create_dir_all(&work).unwrap();
    let configs = tier_sim::partition_export(&files, PROGRAM, &work, 3, false).unwrap();
    let (current, draft) = build(&configs);
    let tiers: Mutex<HashMap<String, (String, String)>> = Mutex::default();
    let tier = |p: &Program, r: &CustomerRun| {
        let s = r.state.as_ref().unwrap();
        p.tier_name(s.tier_index(p)).to_owned()
    };
    let observe = |customer: &str, c: &CustomerRun, d: &CustomerRun| {
        tiers
            .lock()
            .unwrap()
            .insert(customer.to_owned(), (tier(&current, c), tier(&draft, d)));
    };
    let run = Run {
        current: &current,
        draft: &draft,
        options: options(),
        from: None,
        to: None,
        progress: false,
        observer: Some(&observe),
    };
    let (report, _) = tier_sim::replay_partitions(&run, &work, 3).unwrap();
    (
        serde_json::to_value(&report).unwrap(),
        tiers.into_inner().unwrap(),
    )
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tier-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_current_config_counts_a_retention_rule_from_its_stored_day() {
    let dir = temp("retention-since");
    let since = json!({ "Silver": SINCE }).to_string();
    write_export(&dir, Some(&since));
    let draft_json = config().to_string();

    // The CLI's way: the export's config with its retentionSince.
    let (cli, tiers) = run(&dir, "cli", |configs| {
        assert_eq!(configs.current_retention_since.as_deref(), Some(&*since));
        tier_sim::export_programs(PROGRAM, configs, None, &draft_json, at(PUBLISHED)).unwrap()
    });
    // The engine with the date (both sides: the draft is the same config,
    // its rule keeps the date), and the engine without it.
    let dated = engine_program();
    let undated = tier_sim::program_of("undated", &config().to_string(), 1).unwrap();
    let (engine, _) = run(&dir, "engine", |_| (dated.clone(), dated.clone()));
    let (ignored, ignored_tiers) = run(&dir, "ignored", |_| (undated.clone(), undated.clone()));

    assert_eq!(
        cli, engine,
        "the replay under both configs is the engine's with the date"
    );
    assert_ne!(
        cli["current"], ignored["current"],
        "and not what ignoring the date gives"
    );
    // c1 spent before the rule existed: Silver lapses at its end (as the
    // engine judges it); without the date that spending would renew it.
    let tier = |t: &HashMap<String, (String, String)>, c: &str| t[c].clone();
    assert_eq!(tier(&tiers, "c1").0, "Member", "{tiers:?}");
    assert_eq!(tier(&ignored_tiers, "c1").0, "Silver", "{ignored_tiers:?}");
    assert_eq!(tier(&tiers, "c2").0, "Silver", "{tiers:?}");
    assert_eq!(tier(&tiers, "c3").0, "Member", "{tiers:?}");
    // The draft (the same config) keeps the rule's stored date, as
    // publishing it would: c1 lapses under it too, and nobody moves.
    assert_eq!(tier(&tiers, "c1").1, "Member", "{tiers:?}");
    assert_eq!(cli["draft"], cli["current"]);
    assert_eq!(cli["movers"]["higher"], 0, "{}", cli["movers"]);
    assert_eq!(cli["movers"]["lower"], 0, "{}", cli["movers"]);

    // `--current` with the same config keeps the stored date; with the rule
    // changed, the stored date no longer applies.
    let (same, _) = run(&dir, "same", |configs| {
        tier_sim::export_programs(
            PROGRAM,
            configs,
            Some(&config().to_string()),
            &draft_json,
            at(PUBLISHED),
        )
        .unwrap()
    });
    assert_eq!(same, cli);
    let mut changed = config();
    changed["tiers"][1]["retention"]["criteria"][0]["min"] = json!("1000");
    let (current, _) = tier_sim::export_programs(
        PROGRAM,
        &ExportConfigs {
            current: Some((1, config().to_string())),
            current_retention_since: Some(since.clone()),
            versions: vec![],
        },
        Some(&changed.to_string()),
        &draft_json,
        at(PUBLISHED),
    )
    .unwrap();
    let (_, changed_tiers) = run(&dir, "changed", |_| (current.clone(), current.clone()));
    assert_eq!(tier(&changed_tiers, "c1").0, "Silver", "{changed_tiers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_config_stored_without_retention_since_counts_from_the_windows_start() {
    let dir = temp("retention-none");
    write_export(&dir, None);
    let draft_json = config().to_string();
    let (cli, tiers) = run(&dir, "cli", |configs| {
        assert_eq!(configs.current_retention_since, None);
        tier_sim::export_programs(PROGRAM, configs, None, &draft_json, at(PUBLISHED)).unwrap()
    });
    assert_eq!(tiers["c1"].0, "Silver", "{tiers:?}");
    assert_eq!(cli["movers"]["higher"], 0, "{}", cli["movers"]);
    // A date that does not read is no date, as the service reads it.
    write_export(&dir, Some("not json"));
    let (unreadable, _) = run(&dir, "bad", |configs| {
        tier_sim::export_programs(PROGRAM, configs, None, &draft_json, at(PUBLISHED)).unwrap()
    });
    assert_eq!(unreadable, cli);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A draft that changes the rule (Silver kept at 1,000 instead of 2,000):
/// the changed rule counts from the publication, as `PUT config` dates it,
/// exactly as the engine judges with that date; published after the
/// spending, the spending does not count (nobody renews who does not under
/// the current config), published before it, it does.
#[test]
fn a_changed_rule_in_the_draft_counts_from_the_publication() {
    let dir = temp("retention-published");
    let since = json!({ "Silver": SINCE }).to_string();
    write_export(&dir, Some(&since));
    let mut changed = config();
    changed["tiers"][1]["retention"]["criteria"][0]["min"] = json!("1000");
    let draft_json = changed.to_string();
    let engine_draft = |published: &str| {
        let config: ProgramConfig = serde_json::from_value(changed.clone()).unwrap();
        Program::validate(config)
            .unwrap()
            .with_version(2)
            .with_retention_since(&[("Silver".to_owned(), at(published))])
    };

    // Published after every order: the rule counts none of them.
    let (late, late_tiers) = run(&dir, "late", |configs| {
        tier_sim::export_programs(PROGRAM, configs, None, &draft_json, at(PUBLISHED)).unwrap()
    });
    assert_eq!(late_tiers["c1"], ("Member".into(), "Member".into()));
    assert_eq!(late_tiers["c2"], ("Silver".into(), "Member".into()));
    let (engine, _) = run(&dir, "late-engine", |_| {
        (engine_program(), engine_draft(PUBLISHED))
    });
    assert_eq!(late, engine, "the engine's with the publication's day");

    // Published in May: c1's April spending still does not count, c2's
    // July spending (2,500, over the draft's 1,000) does.
    let may = "2026-05-01T12:00:00Z";
    let (_, may_tiers) = run(&dir, "may", |configs| {
        tier_sim::export_programs(PROGRAM, configs, None, &draft_json, at(may)).unwrap()
    });
    assert_eq!(may_tiers["c1"], ("Member".into(), "Member".into()));
    assert_eq!(may_tiers["c2"], ("Silver".into(), "Silver".into()));

    // Published in March: c1's April spending counts under the draft.
    let march = "2026-03-01T00:00:00Z";
    let (early, early_tiers) = run(&dir, "march", |configs| {
        tier_sim::export_programs(PROGRAM, configs, None, &draft_json, at(march)).unwrap()
    });
    assert_eq!(early_tiers["c1"], ("Member".into(), "Silver".into()));
    assert_eq!(early["movers"]["higher"], 1, "{}", early["movers"]);
    assert_eq!(early["movers"]["sample"][0]["customerId"], "c1");
    let (engine, _) = run(&dir, "march-engine", |_| {
        (engine_program(), engine_draft(march))
    });
    assert_eq!(early, engine);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A draft that drops a tier of the current config is refused as the API
/// refuses it: `tier_removed` on `/tiers`, the same message, exit code 2.
#[test]
fn a_draft_that_drops_a_tier_is_refused() {
    let configs = ExportConfigs {
        current: Some((3, config().to_string())),
        current_retention_since: None,
        versions: vec![],
    };
    let mut dropped = config();
    dropped["tiers"].as_array_mut().unwrap().pop();
    let refused = |result: Result<(Program, Program), tier_sim::SimError>| {
        let e = result.expect_err("refused");
        assert_eq!(e.exit_code(), 2, "{e}");
        let tier_sim::SimError::InvalidConfig { what, problems } = &e else {
            panic!("{e}");
        };
        assert_eq!(what, "the draft");
        assert_eq!(problems.len(), 1, "{problems:?}");
        (problems[0].clone(), e.to_string())
    };
    let (problem, shown) = refused(tier_sim::export_programs(
        PROGRAM,
        &configs,
        None,
        &dropped.to_string(),
        at(PUBLISHED),
    ));
    assert_eq!(
        (problem.path.as_str(), problem.code),
        ("/tiers", "tier_removed")
    );
    assert_eq!(
        problem.message,
        "tier `Silver` is in version 3: customers may hold it, so it must stay"
    );
    assert!(shown.contains("(tier_removed)"), "{shown}");
    // Against `--current`, and over an orders file with `--current`.
    let (problem, _) = refused(tier_sim::export_programs(
        PROGRAM,
        &configs,
        Some(&config().to_string()),
        &dropped.to_string(),
        at(PUBLISHED),
    ));
    assert_eq!(problem.code, "tier_removed");
    let (problem, _) = refused(tier_sim::orders_programs(
        Some(&config().to_string()),
        &dropped.to_string(),
    ));
    assert_eq!(
        problem.message,
        "tier `Silver` is in version 1: customers may hold it, so it must stay"
    );
    // Adding a tier is fine.
    let mut added = config();
    added["tiers"].as_array_mut().unwrap().push(
        json!({"name": "Gold", "earnRate": "0.03", "upgrade": {"criteria": [
            {"id": "G", "kind": "lifetimePurchases", "min": "9000"}],
            "condition": "all", "upgradeType": "lazy"}}),
    );
    tier_sim::export_programs(PROGRAM, &configs, None, &added.to_string(), at(PUBLISHED)).unwrap();
}

/// The binary: a draft that drops a tier exits 2 naming `tier_removed`
/// (nothing written); the current config as the draft, published at any
/// instant, moves nobody; `--published-at` does not go with `--orders`.
#[test]
fn the_cli_refuses_a_dropped_tier_and_dates_the_draft() {
    let dir = temp("retention-cli");
    let since = json!({ "Silver": SINCE }).to_string();
    write_export(&dir, Some(&since));
    let bin = env!("CARGO_BIN_EXE_tier-sim");
    // Beside the export, not in it (its *.json files are data files).
    let files = temp("retention-cli-files");
    std::fs::create_dir_all(&files).unwrap();
    let mut dropped = config();
    dropped["tiers"].as_array_mut().unwrap().pop();
    std::fs::write(files.join("dropped.json"), dropped.to_string()).unwrap();
    std::fs::write(files.join("same.json"), config().to_string()).unwrap();
    let tier_sim = |draft: &str, extra: &[&str]| {
        std::process::Command::new(bin)
            .args([
                "--program",
                PROGRAM,
                "--quiet",
                "--to",
                "2027-06-01T00:00:00Z",
            ])
            .arg("--draft")
            .arg(files.join(draft))
            .arg("--out")
            .arg(files.join(format!("out-{draft}")))
            .args(extra)
            .output()
            .unwrap()
    };
    let export = dir.to_str().unwrap().to_owned();
    let out = tier_sim("dropped.json", &["--export", &export]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "/tiers: tier `Silver` is in version 1: customers may hold it, so it must stay (tier_removed)"
        ),
        "{stderr}"
    );
    assert!(!files.join("out-dropped.json").exists(), "nothing written");

    for published in [None, Some("2026-03-01T00:00:00Z")] {
        let mut args = vec!["--export", &export];
        args.extend(published.iter().flat_map(|p| ["--published-at", *p]));
        let out = tier_sim("same.json", &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(
            &std::fs::read(files.join("out-same.json/report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(report["customers"], 3, "{report}");
        assert_eq!(report["movers"]["higher"], 0, "{published:?}: {report}");
        assert_eq!(report["movers"]["lower"], 0, "{published:?}: {report}");
        assert_eq!(report["draft"], report["current"]);
    }

    std::fs::write(
        files.join("orders.jsonl"),
        r#"{"orderId":"o1","customerId":"c1","placedAt":"2026-02-01T10:00:00Z","status":"completed","amount":"3000","currency":"USD"}"#,
    )
    .unwrap();
    let orders = files.join("orders.jsonl").to_str().unwrap().to_owned();
    let out = tier_sim(
        "same.json",
        &[
            "--orders",
            &orders,
            "--published-at",
            "2026-03-01T00:00:00Z",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let current = files.join("same.json").to_str().unwrap().to_owned();
    let out = tier_sim(
        "dropped.json",
        &["--orders", &orders, "--current", &current],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("(tier_removed)"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&files);
}
