//! Exactness: a real table, made by the local API (on its embedded engine)
//! from a random history of orders (completed, pending then completed,
//! pending then cancelled, pending for good), partial returns, redemptions
//! and cancellations of completed orders, scanned into a directory in the
//! S3 export format, replayed by tier-sim under the stored config: every
//! stored customer's tier, balances, lots, best orders and trackers come
//! out exactly as stored, and no customer the store lacks comes out.
//!
//! The store keeps no instant for returns, redemptions and cancellations
//! (see docs/simulation.md), so this history gives every customer's
//! returns and redemptions at the instant of their last order and sends
//! cancellations last: the placement the export reader assumes.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use chrono::Timelike;
use e2e::{Api, Engine};
use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use tier_engine::{CustomerState, Program};
use tier_sim::Run;
use tier_sim_core::ReportOptions;

fn ladder() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "spent", "kind": "lifetimePurchases", "min": "3000"},
                {"id": "one", "kind": "singleOrder", "min": "1500"}],
                "condition": {"any": 1}, "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "0.03", "upgrade": {"criteria": [
                {"id": "spent", "kind": "lifetimePurchases", "min": "10000"}],
                "condition": "all", "upgradeType": "lazy"}}]
    })
}

fn trackers() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"months": 3},
        "returnPolicy": {"spentPoints": "withinBalance"},
        "trackers": [
            {"id": "visits", "measure": "visits", "period": {"months": 3}},
            {"id": "spend", "measure": "billAmount", "period": {"days": 60}},
            {"id": "best", "measure": "lineItemPrice", "filter": {"category": "shoes"}, "period": {"months": 6}}],
        "tiers": [
            {"name": "Base", "earnRate": "0.01"},
            {"name": "Gold", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "V", "kind": "tracker", "tracker": "visits", "min": 3},
                {"id": "S", "kind": "lifetimePurchases", "min": "2000"}],
                "condition": {"any": 1}, "upgradeType": "eager"}},
            {"name": "Diamond", "earnRate": "0.03", "upgrade": {"criteria": [
                {"id": "B", "kind": "tracker", "tracker": "spend", "min": "3000"},
                {"id": "H", "kind": "tracker", "tracker": "best", "min": "200"}],
                "condition": {"any": 1}, "upgradeType": "dynamic"}}]
    })
}

fn amount(rng: &mut fastrand::Rng) -> String {
    let cents = match rng.u8(0..20) {
        0 => 0,
        1 | 2 => rng.i64(150_000..400_000),
        _ => rng.i64(1..120_000),
    };
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Sends one customer's random history; returns how many requests the
/// API took (200).
async fn history(api: &Api, program: &str, customer: &str, rng: &mut fastrand::Rng) -> usize {
    let mut taken = 0;
    let post = |path: String, body: Value| {
        let api = &api;
        async move {
            let r = api.post(&path, &body).await;
            assert!(
                r.status == 200 || r.status == 422,
                "{path} {body}: {} {}",
                r.status,
                r.body
            );
            r.status == 200
        }
    };
    let orders_path = format!("/programs/{program}/orders");
    // Orders arrive in the order they were placed: the store keeps no
    // arrival order (docs/simulation.md).
    let mut minutes = rng.i64(0..20 * 24 * 60);
    let mut completed: Vec<(String, Value)> = Vec::new();
    let mut last = String::new();
    for i in 0..rng.usize(1..8) {
        minutes += rng.i64(1..25 * 24 * 60);
        let start: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = (start + chrono::Duration::minutes(minutes))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let id = format!("o{i}");
        let mut order = json!({"orderId": id, "customerId": customer, "placedAt": at,
            "status": "completed", "amount": amount(rng), "currency": "USD"});
        if rng.bool() {
            let price = order["amount"].as_str().unwrap().to_owned();
            let category = if rng.bool() { "shoes" } else { "hats" };
            order["lineItems"] =
                json!([{"sku": "s1", "category": category, "price": price, "quantity": "1"}]);
        }
        last.clone_from(&at);
        let kind = rng.u8(0..20);
        if kind < 5 {
            order["status"] = json!("pending");
            taken += usize::from(post(orders_path.clone(), order.clone()).await);
            match kind {
                0..=1 => order["status"] = json!("completed"),
                2..=3 => order["status"] = json!("cancelled"),
                _ => continue,
            }
        }
        if post(orders_path.clone(), order.clone()).await {
            taken += 1;
            if order["status"] == "completed" {
                completed.push((id, order.clone()));
            }
        }
    }
    if completed.is_empty() {
        return taken;
    }
    for r in 0..rng.usize(0..3) {
        let (order, body) = &completed[rng.usize(0..completed.len())];
        let total: f64 = body["amount"].as_str().unwrap().parse().unwrap();
        let mut body = json!({"returnId": format!("r{r}"), "orderId": order,
            "customerId": customer, "returnedAt": last});
        if rng.u8(0..4) > 0 {
            body["amount"] = json!(format!("{:.2}", (total * rng.f64()).max(0.01)));
        }
        taken += usize::from(post(format!("/programs/{program}/returns"), body).await);
    }
    for r in 0..rng.usize(0..3) {
        let body = json!({"redemptionId": format!("d{r}"),
            "points": format!("{}.{:02}", rng.u32(0..40), rng.u32(0..100)), "at": last});
        let path = format!("/programs/{program}/customers/{customer}/redemptions");
        taken += usize::from(post(path, body).await);
    }
    if rng.u8(0..4) == 0 {
        // Cancelled with the payload it was completed with: what remains
        // of it is returned, at the instant the service hears of it.
        let (_, order) = &completed[rng.usize(0..completed.len())];
        let mut cancel = order.clone();
        cancel["status"] = json!("cancelled");
        taken += usize::from(post(orders_path.clone(), cancel).await);
    }
    taken
}

fn attribute(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::B(b) => {
            json!({"B": base64::engine::general_purpose::STANDARD.encode(b.as_ref())})
        }
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        other => panic!("an attribute type the table does not use: {other:?}"),
    }
}

/// The whole table, as an S3 export writes it: `data/*.json.gz`, one
/// `{"Item": ...}` per line, items spread over three files.
async fn export(api: &Api, dir: &std::path::Path) -> HashMap<(String, String), CustomerState> {
    let data = dir.join("AWSDynamoDB/01234567890123-abcdefgh/data");
    std::fs::create_dir_all(&data).unwrap();
    let mut files: Vec<GzEncoder<std::fs::File>> = (0..3)
        .map(|i| {
            let f = std::fs::File::create(data.join(format!("part{i}.json.gz"))).unwrap();
            GzEncoder::new(f, Compression::default())
        })
        .collect();
    let mut states = HashMap::new();
    let mut start = None;
    let mut n = 0usize;
    loop {
        let page = api
            .store()
            .client()
            .scan()
            .table_name(&api.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let mut m = Map::new();
            for (k, v) in item {
                m.insert(k.clone(), attribute(v));
            }
            writeln!(files[n % 3], "{}", json!({"Item": m})).unwrap();
            n += 1;
            let pk = item["pk"].as_s().unwrap();
            if item["sk"].as_s().unwrap() == "STATE" {
                let (p, c) = tier_sim_core::export::parse_customer_pk(pk).unwrap();
                let state =
                    tier_store::decode_state(item["state"].as_b().unwrap().as_ref()).unwrap();
                states.insert((p.to_owned(), c.to_owned()), state);
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    for f in files {
        f.finish().unwrap();
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_lazy_ladder_history_gives_every_stored_state() {
    exact(&[("ladder", ladder())]).await
}

/// Fails today on one customer in 120: the stored `spend` tracker holds a
/// negative day (-304.12) where the replay holds the order's 167.43, every
/// other figure equal (docs/simulation.md, "Known difference").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_tracker_program_history_gives_every_stored_state() {
    exact(&[("trackers", trackers())]).await
}

/// The current program and the draft as tier-sim builds them from the
/// export (`export_programs`: the stored version and its `retentionSince`;
/// the draft dated as published at `published`, default now); the draft is
/// the current config itself unless given.
fn programs_of(
    files: &[std::path::PathBuf],
    dir: &std::path::Path,
    id: &str,
    draft: Option<&Value>,
    published: Option<chrono::DateTime<chrono::Utc>>,
) -> (Program, Program) {
    let work = dir.join(format!("configs-{id}"));
    std::fs::create_dir_all(&work).unwrap();
    let configs = tier_sim::partition_export(files, id, &work, 1, false).unwrap();
    let (_, json) = configs
        .current
        .clone()
        .expect("the export holds the config");
    let draft = draft.map_or(json, Value::to_string);
    let published = published.unwrap_or_else(chrono::Utc::now);
    let programs = tier_sim::export_programs(id, &configs, None, &draft, published).unwrap();
    let _ = std::fs::remove_dir_all(&work);
    programs
}

/// Every customer of program `id` in the export replayed under `program`
/// (as both configs), and the report.
fn replayed_states(
    files: &[std::path::PathBuf],
    dir: &std::path::Path,
    id: &str,
    program: &Program,
) -> (
    HashMap<String, Option<CustomerState>>,
    tier_sim_core::Report,
) {
    let work = dir.join(format!("work-{id}"));
    std::fs::create_dir_all(&work).unwrap();
    tier_sim::partition_export(files, id, &work, 5, false).unwrap();
    let replayed: Mutex<HashMap<String, Option<CustomerState>>> = Mutex::default();
    let observe =
        |customer: &str, current: &tier_sim_core::CustomerRun, _: &tier_sim_core::CustomerRun| {
            replayed
                .lock()
                .unwrap()
                .insert(customer.to_owned(), current.state.clone());
        };
    let run = Run {
        current: program,
        draft: program,
        options: ReportOptions {
            as_of: vec![],
            end: "2027-01-01T00:00:00Z".parse().unwrap(),
            sample: 5,
        },
        from: None,
        to: None,
        progress: false,
        observer: Some(&observe),
    };
    let (report, movers) = tier_sim::replay_partitions(&run, &work, 5).unwrap();
    let _ = std::fs::remove_dir_all(&work);
    assert!(movers.is_empty(), "a config against itself moves nobody");
    let replayed = replayed.into_inner().unwrap();
    (replayed, report)
}

/// Replays program `id` of the export under `program` (as both configs)
/// and compares every stored customer's state with the replayed one;
/// returns how many were compared.
fn compare(
    files: &[std::path::PathBuf],
    dir: &std::path::Path,
    id: &str,
    program: &Program,
    stored: &HashMap<(String, String), CustomerState>,
) -> usize {
    let (replayed, report) = replayed_states(files, dir, id, program);
    let mut compared = 0;
    for ((p, customer), want) in stored.iter().filter(|((p, _), _)| p == id) {
        let got = replayed
            .get(customer)
            .and_then(Option::as_ref)
            .unwrap_or_else(|| panic!("{p}/{customer} is stored but not replayed"));
        let context = format!("{p}/{customer}: stored {want:?}\nreplayed {got:?}");
        assert_eq!(got.tier, want.tier, "tier of {context}");
        // Tier changes (renewals and lapses included), their instants to
        // the second: the service writes a cancellation's `at` to the
        // second but decides it at the full instant.
        let changes = |s: &CustomerState| -> Vec<tier_engine::state::TierChange> {
            s.history
                .iter()
                .map(|h| {
                    let mut h = h.clone();
                    h.at = h.at.with_nanosecond(0).unwrap();
                    h
                })
                .collect()
        };
        assert_eq!(changes(got), changes(want), "tier changes of {context}");
        assert_eq!(
            got.current_points, want.current_points,
            "current points of {context}"
        );
        assert_eq!(
            got.lifetime_points, want.lifetime_points,
            "lifetime points of {context}"
        );
        assert_eq!(
            got.lifetime_purchases, want.lifetime_purchases,
            "purchases of {context}"
        );
        assert_eq!(got.lots, want.lots, "lots of {context}");
        let buckets = |s: &CustomerState| -> Vec<(String, Vec<tier_engine::series::Bucket>)> {
            s.trackers
                .iter()
                .map(|t| (t.key.clone(), t.buckets().cloned().collect()))
                .collect()
        };
        assert_eq!(buckets(got), buckets(want), "trackers of {context}");
        assert_eq!(
            got.best_orders, want.best_orders,
            "best orders of {context}"
        );
        assert_eq!(
            got.orders_applied, want.orders_applied,
            "orders of {context}"
        );
        assert_eq!(
            got.config_version, want.config_version,
            "version of {context}"
        );
        compared += 1;
    }
    for (customer, state) in &replayed {
        if state.is_some() {
            assert!(
                stored.contains_key(&(id.to_string(), customer.clone())),
                "{id}/{customer} replayed into a state the store does not have"
            );
        }
    }
    let customers = stored.keys().filter(|(p, _)| p == id).count() as u64;
    assert_eq!(report.current.customers, customers);
    compared
}

/// A retention rule configured after spending it would count: the
/// program is created now (its rule's `retentionSince` is today, the
/// service's clock) with Silver reached 200 to 340 days ago, spending
/// before today and after it, and an order after each Silver period ends
/// (so the end is judged). The replay under the export's config gives
/// every stored state (renewals and lapses included), which ignoring the
/// stored day does not; and the API's simulation report is the CLI's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_rule_counts_from_its_stored_day_as_in_production() {
    let api = Api::start(Engine::Embedded).await;
    let id = "retention";
    let mut config = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "S", "kind": "tracker", "tracker": "spend12m", "min": "3000"}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend12m", "min": "2000"}],
                "condition": "all", "onFail": "oneDown"}}]
    });
    api.program(id, &config).await;
    let now = chrono::Utc::now();
    let iso =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let days = |d: i64| chrono::Duration::days(d);
    let mut rng = fastrand::Rng::with_seed(13);
    for c in 0..40 {
        let customer = format!("cust{c:04}");
        let reached = now - days(rng.i64(200..340)) - chrono::Duration::minutes(rng.i64(0..1440));
        let end = reached + chrono::Months::new(12);
        let mut orders = vec![(reached, "3500.00".to_owned())];
        // Before the rule (cust0000: 2,500 more, enough were it counted;
        // cust0001 spends as much after it).
        for _ in 0..rng.usize(0..3) {
            orders.push((
                reached + days(rng.i64(1..(now - reached).num_days() - 2)),
                amount(&mut rng),
            ));
        }
        if c == 0 {
            orders.push((now - days(20), "2500".to_owned()));
        } else if c == 1 {
            orders.push((now + days(5), "2500".to_owned()));
        } else {
            // After it.
            for _ in 0..rng.usize(0..3) {
                orders.push((
                    now + days(rng.i64(2..(end - now).num_days() - 2)),
                    amount(&mut rng),
                ));
            }
        }
        orders.push((end + days(rng.i64(1..20)), "10".to_owned()));
        orders.sort();
        for (i, (at, amount)) in orders.iter().enumerate() {
            api.order(id, &customer, &format!("o{i}"), &iso(*at), amount)
                .await;
        }
    }
    let dir = std::env::temp_dir().join(format!("sim-exactness-{}-{id}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let stored = export(&api, &dir).await;
    let files = tier_sim::data_files(&dir).unwrap();
    let causes = |cause: &str| {
        stored
            .values()
            .filter(|s| s.history.iter().any(|h| h.cause == cause))
            .count()
    };
    assert!(
        causes("retention") > 0 && causes("renewed") > 0,
        "lapses and renewals both"
    );

    let (current, _) = programs_of(&files, &dir, id, None, None);
    assert_eq!(compare(&files, &dir, id, &current, &stored), 40);
    // The store's own reading of the stored day gives the same program.
    let kept = api.store().load_config(id).await.unwrap().unwrap();
    let since: std::collections::BTreeMap<String, chrono::DateTime<chrono::Utc>> =
        serde_json::from_str(kept.retention_since.as_deref().unwrap()).unwrap();
    assert_eq!(since.keys().collect::<Vec<_>>(), ["Silver"]);
    let engine = tier_sim::program_of("stored", &kept.config_json, kept.version)
        .unwrap()
        .with_retention_since(&since.into_iter().collect::<Vec<_>>());
    // Ignoring the day, the replay differs from production: cust0000's
    // spending before the rule would renew Silver.
    let ignoring = tier_sim::program_of("ignoring", &kept.config_json, kept.version).unwrap();
    let (ignored, _) = replayed_states(&files, &dir, id, &ignoring);
    let history = |c: &str| ignored[c].as_ref().map(|s| s.history.clone());
    let differ: Vec<&String> = stored
        .iter()
        .filter(|((p, c), want)| p == id && history(c).as_ref() != Some(&want.history))
        .map(|((_, c), _)| c)
        .collect();
    assert!(
        differ.iter().any(|c| *c == "cust0000"),
        "ignoring retentionSince is not what production did: {differ:?}"
    );

    // The API's simulation and the CLI give the same report; the draft (an
    // earn rate changed, the rule as it is) keeps the rule's stored day, as
    // publishing it would (the API's job and the CLI date it alike, the CLI
    // published at the simulation's `createdAt`).
    config["tiers"][1]["earnRate"] = json!("0.03");
    let to = iso(now + days(500));
    let r = api
        .post(
            &format!("/programs/{id}/simulations"),
            &json!({"config": config, "to": to}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let sim = r.body["simulationId"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let done = loop {
        let r = api.get(&format!("/programs/{id}/simulations/{sim}")).await;
        match r.body["status"].as_str().unwrap() {
            "done" => break r.body,
            "failed" => panic!("{}", r.body),
            _ => {}
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let created = done["createdAt"].as_str().unwrap().parse().unwrap();
    let (cli_current, cli_draft) = programs_of(&files, &dir, id, Some(&config), Some(created));
    let work = dir.join("work-api");
    std::fs::create_dir_all(&work).unwrap();
    let reports = |current: &Program, draft: &Program, work: &std::path::Path| {
        tier_sim::partition_export(&files, id, work, 4, false).unwrap();
        let run = Run {
            current,
            draft,
            options: ReportOptions {
                as_of: vec![],
                end: to.parse().unwrap(),
                sample: tier_sim_core::report::DEFAULT_SAMPLE,
            },
            from: None,
            to: Some(to.parse().unwrap()),
            progress: false,
            observer: None,
        };
        let (report, _) = tier_sim::replay_partitions(&run, work, 4).unwrap();
        serde_json::to_value(&report).unwrap()
    };
    let cli = reports(&cli_current, &cli_draft, &work);
    assert_eq!(done["report"], cli, "the API's report is the CLI's");
    assert_eq!(
        cli,
        reports(&engine, &cli_draft, &work),
        "the current side is the engine's with the stored day"
    );
    assert_ne!(
        cli["current"],
        reports(&ignoring, &cli_draft, &work)["current"]
    );
    // The rule left alone: the draft renews and lapses exactly as the
    // current config (only the earn rate differs), so nobody moves.
    assert_eq!(cli["movers"]["higher"], 0, "{}", cli["movers"]);
    assert_eq!(cli["movers"]["lower"], 0, "{}", cli["movers"]);
    assert_eq!(cli["draft"]["tiers"], cli["current"]["tiers"]);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn exact(programs: &[(&str, Value)]) {
    let api = Api::start(Engine::Embedded).await;
    let mut rng = fastrand::Rng::with_seed(13);
    let mut taken = 0;
    for (id, config) in programs {
        api.program(id, config).await;
        for c in 0..120 {
            taken += history(&api, id, &format!("cust{c:04}"), &mut rng).await;
        }
    }
    assert!(
        taken > 250,
        "the history is substantial: {taken} events taken"
    );
    let dir = std::env::temp_dir().join(format!(
        "sim-exactness-{}-{}",
        std::process::id(),
        programs[0].0
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let stored = export(&api, &dir).await;
    assert!(stored.len() > 80, "{} customers stored", stored.len());
    let files = tier_sim::data_files(&dir).unwrap();
    assert_eq!(files.len(), 3);
    let mut compared = 0;
    for (id, _) in programs {
        let (program, _) = programs_of(&files, &dir, id, None, None);
        compared += compare(&files, &dir, id, &program, &stored);
    }
    assert!(compared > 80, "{compared} customers compared");
    let _ = std::fs::remove_dir_all(&dir);
}
