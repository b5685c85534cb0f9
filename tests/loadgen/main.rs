//! Load and cost measurements through the local API, on either engine.
//!
//!   loadgen cost  [--engine embedded|dynamodb-local]
//!   loadgen load  [--engine embedded|dynamodb-local] [--seconds 5]
//!   loadgen coldstart BINARY... [--runs 20]
//!
//! `cost` counts the DynamoDB requests and capacity units of one uncontended
//! order (from the engine's own ReturnConsumedCapacity answers) for customers
//! with 50 and with 10,000 orders in the past year, with the state item's
//! size. `load` drives 1, 8 and 32 concurrent clients through the HTTP API
//! and, in the same run, the raw ceiling: one GetItem plus one
//! TransactWriteItems of the same items straight to the engine.
//! DynamoDB Local's endpoint comes from DYNAMODB_LOCAL_ENDPOINT
//! (scripts/dynamodb-local.sh start).

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use e2e::{Api, Engine};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn program() -> Value {
    json!({
        "currency": "USD", "startDate": "2025-01-01T00:00:00Z", "pointsExpiry": {"months": 12},
        "trackers": [
            {"id": "visits", "measure": "visits", "period": {"months": 12}},
            {"id": "purchases6m", "measure": "visits", "period": {"months": 6}},
            {"id": "bigOrder", "measure": "billAmount", "aggregate": "max", "period": {"days": 365}}],
        "tiers": [
            {"name": "Blue", "earnRate": "0.05"},
            {"name": "Silver", "earnRate": "0.10", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "100000"},
                {"id": "B", "kind": "tracker", "tracker": "visits", "min": 400}],
                "condition": {"any": 1}, "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "0.20", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "500000"},
                {"id": "B", "kind": "tracker", "tracker": "purchases6m", "min": 500},
                {"id": "C", "kind": "singleOrder", "min": "25000"}],
                "condition": {"custom": "(A AND B) OR C"}, "upgradeType": "dynamic"}},
            {"name": "Diamond", "earnRate": "0.30", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "1000000"},
                {"id": "B", "kind": "tracker", "tracker": "bigOrder", "min": "30000"}],
                "condition": "all", "upgradeType": "eager"}}]
    })
}

fn order(customer: &str, id: usize, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "orderId": format!("o{id}"), "customerId": customer,
        "placedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "status": "completed", "amount": format!("{}.{:02}", 20 + id % 180, id % 100), "currency": "USD",
        "lineItems": [{"sku": "a", "category": "shirts", "price": format!("{}.{:02}", 20 + id % 180, id % 100), "quantity": 1}]
    })
}

async fn metrics(api: &Api) -> (f64, f64, f64) {
    let m = api.get("/_local/metrics").await.body;
    (
        m["requests"].as_f64().unwrap(),
        m["readUnits"].as_f64().unwrap(),
        m["writeUnits"].as_f64().unwrap(),
    )
}

async fn cost(engine: Engine) {
    let api = Api::start(engine).await;
    api.program("cost", &program()).await;
    let start: chrono::DateTime<chrono::Utc> = "2025-11-01T09:00:00Z".parse().unwrap();
    println!("| orders in the past year | DynamoDB requests | read units | write units | state item (deflated JSON) |");
    println!("|---|---|---|---|---|");
    for per_year in [50usize, 10_000] {
        let customer = format!("c{per_year}");
        let step = Duration::from_secs(365 * 86_400 / per_year as u64);
        for i in 0..per_year {
            let at = start + chrono::Duration::from_std(step * i as u32).unwrap();
            let r = api
                .post("/programs/cost/orders", &order(&customer, i, at))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let before = metrics(&api).await;
        let at = start + chrono::Duration::days(365);
        let r = api
            .post("/programs/cost/orders", &order(&customer, per_year + 1, at))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let after = metrics(&api).await;
        let size = state_size(&api, "cost", &customer).await;
        println!(
            "| {per_year} | {} | {} | {} | {size} bytes |",
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2
        );
    }
}

async fn state_size(api: &Api, program: &str, customer: &str) -> usize {
    let store = api.store().clone();
    let state = store
        .load_customer(program, customer)
        .await
        .unwrap()
        .unwrap()
        .state;
    tier_store::encode_state(&state).len()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn load(engine: Engine, seconds: u64) {
    println!("| pattern | clients | ops/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for clients in [1usize, 8, 32] {
        // Each pattern gets a fresh engine: dynoxide keeps every
        // transaction's idempotency token for ten minutes and scans them all
        // on each transaction, so a pattern run second would pay for the first.
        let raw_api = Api::start(engine).await;
        raw_api.program("load", &program()).await;
        let raw = raw_ceiling(&raw_api, clients, seconds).await;
        drop(raw_api);
        let api = std::sync::Arc::new(Api::start(engine).await);
        api.program("load", &program()).await;
        let orders = through_api(api.clone(), clients, seconds).await;
        for (name, (ops, lat)) in [
            ("GetItem + TransactWriteItems (raw)", raw),
            ("POST /orders through the API", orders),
        ] {
            println!(
                "| {name} | {clients} | {:.0} | {:.2} | {:.2} |",
                ops,
                percentile(&lat, 0.5),
                percentile(&lat, 0.99)
            );
        }
    }
}

async fn through_api(
    api: std::sync::Arc<Api>,
    clients: usize,
    seconds: u64,
) -> (f64, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let body = order(
                    &format!("load{c}"),
                    i,
                    start + chrono::Duration::minutes(i as i64),
                );
                let t = Instant::now();
                let r = api.post("/programs/load/orders", &body).await;
                assert_eq!(r.status, 200, "{}", r.body);
                lat.push(t.elapsed());
                i += 1;
            }
            lat
        }));
    }
    collect(tasks, seconds).await
}

async fn raw_ceiling(api: &Api, clients: usize, seconds: u64) -> (f64, Vec<Duration>) {
    let store = api.store().clone();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = store.client().clone();
        let table = api.table.clone();
        tasks.push(tokio::spawn(async move {
            let pk = format!("RAW#{c}");
            let mut version = 0u64;
            let mut lat = Vec::new();
            let state = Blob::new(vec![7u8; 400]);
            while Instant::now() < deadline {
                let t = Instant::now();
                let s = |v: &str| AttributeValue::S(v.to_owned());
                client
                    .get_item()
                    .table_name(&table)
                    .key("pk", s(&pk))
                    .key("sk", s("STATE"))
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap();
                let order = Put::builder()
                    .table_name(&table)
                    .item("pk", s(&pk))
                    .item("sk", s(&format!("ORDER#{version}")))
                    .item(
                        "hash",
                        s("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                    )
                    .item("result", s(&"x".repeat(420)))
                    .item("record", s(&"y".repeat(300)))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .unwrap();
                let cond = if version == 0 {
                    "attribute_not_exists(pk)"
                } else {
                    "version = :v"
                };
                let mut state_put = Put::builder()
                    .table_name(&table)
                    .item("pk", s(&pk))
                    .item("sk", s("STATE"))
                    .item("version", AttributeValue::N((version + 1).to_string()))
                    .item("state", AttributeValue::B(state.clone()))
                    .condition_expression(cond);
                if version > 0 {
                    state_put = state_put
                        .expression_attribute_values(":v", AttributeValue::N(version.to_string()));
                }
                let check = ConditionCheck::builder()
                    .table_name(&table)
                    .key("pk", s("PROGRAM#load"))
                    .key("sk", s("CONFIG_VERSION"))
                    .condition_expression("version = :cv")
                    .expression_attribute_values(":cv", AttributeValue::N("1".into()))
                    .build()
                    .unwrap();
                client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(order).build())
                    .transact_items(
                        TransactWriteItem::builder()
                            .put(state_put.build().unwrap())
                            .build(),
                    )
                    .transact_items(TransactWriteItem::builder().condition_check(check).build())
                    .send()
                    .await
                    .unwrap();
                lat.push(t.elapsed());
                version += 1;
            }
            lat
        }));
    }
    collect(tasks, seconds).await
}

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>,
    seconds: u64,
) -> (f64, Vec<Duration>) {
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (all.len() as f64 / seconds as f64, all)
}

/// Init time of each Lambda binary: from exec to its first request for an
/// event on a local Runtime API, median of `runs` starts, with the
/// environment Lambda gives (aws-config resolves region and credentials from
/// it, as in production).
async fn coldstart(binaries: &[&String], runs: usize) {
    println!("| binary | stripped size | init median ms | min | max |");
    println!("|---|---|---|---|---|");
    for binary in binaries {
        let mut times = Vec::new();
        for _ in 0..runs {
            let running = e2e::runtime_api::RuntimeApi::start().await;
            let started = Instant::now();
            let mut child = std::process::Command::new(binary)
                .env_clear()
                .env("AWS_LAMBDA_RUNTIME_API", &running.address)
                .env("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coldstart")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "local")
                .env("AWS_SECRET_ACCESS_KEY", "local")
                .env("AWS_SESSION_TOKEN", "local")
                .env("TABLE_NAME", "coldstart")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("binary starts");
            let polled = tokio::time::timeout(Duration::from_secs(10), running.api.first_poll())
                .await
                .expect("the binary asks for an event within 10 s");
            times.push(polled - started);
            let _ = child.kill();
            let _ = child.wait();
        }
        times.sort();
        let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
        // cargo lambda names every binary `bootstrap`: show its directory.
        let path = std::path::Path::new(binary.as_str());
        let name = match path.file_name().and_then(|n| n.to_str()) {
            Some("bootstrap") => path
                .parent()
                .and_then(|p| p.file_name())
                .unwrap_or_default(),
            _ => path.file_name().unwrap_or_default(),
        }
        .to_string_lossy();
        println!(
            "| {name} | {:.1} MB | {:.1} | {:.1} | {:.1} |",
            size as f64 / 1e6,
            percentile(&times, 0.5),
            times[0].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let engine = match flag("--engine").as_deref() {
        Some("dynamodb-local") => Engine::DynamoDbLocal,
        _ => Engine::Embedded,
    };
    let seconds = flag("--seconds").and_then(|s| s.parse().ok()).unwrap_or(5);
    match args.get(1).map(String::as_str) {
        Some("cost") => cost(engine).await,
        Some("load") => load(engine, seconds).await,
        Some("coldstart") => {
            let runs = flag("--runs").and_then(|s| s.parse().ok()).unwrap_or(20);
            let binaries: Vec<&String> = args[2..]
                .iter()
                .take_while(|a| !a.starts_with("--"))
                .collect();
            coldstart(&binaries, runs).await
        }
        _ => eprintln!("usage: loadgen cost|load [--engine embedded|dynamodb-local] [--seconds N]"),
    }
}
