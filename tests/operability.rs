//! What an operator sees: health, version, request ids, one JSON log line
//! per request, graceful shutdown, clear startup errors, one local API per
//! data directory, and a config cache that follows a new version.

use e2e::{on_both_engines, Api};
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Child, Command};
use std::time::Duration;

fn binary() -> std::path::PathBuf {
    e2e::local_api_binary()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tier-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn spawn(args: &[&str]) -> (Child, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    e2e::spawn_local_api(&args)
}

/// All a finished child wrote to its (piped) stderr.
fn stderr_of(child: &mut Child) -> String {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Told to write an item form it does not know, the local API refuses to
/// start and says why, as a deployed function does.
#[test]
fn an_unknown_item_form_stops_the_start() {
    for env in [tier_store::STATE_FORMAT_ENV, tier_store::EVENT_FORMAT_ENV] {
        let mut child = Command::new(binary())
            .args(["--in-memory", "--port", "0"])
            .env(env, "bson")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                panic!("{env}: the local API started with an unknown form");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(1), "{env}");
        let stderr = stderr_of(&mut child);
        assert!(
            stderr.contains(&format!("{env} is \"bson\": expected json or binary")),
            "{env}: {stderr}"
        );
    }
}

#[test]
fn version_is_printed() {
    let out = Command::new(binary()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("local-api {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn one_json_log_line_per_request_and_a_graceful_stop() {
    let dir = temp_dir("logs");
    let dir_arg = dir.to_string_lossy().to_string();
    let (mut child, address) = spawn(&["--port", "0", "--data-dir", &dir_arg]);
    let client = reqwest::Client::new();
    let health: Value = client
        .get(format!("{address}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Base", "earnRate": "0.1"},
                  {"name": "Gold", "earnRate": "0.2", "upgrade": {"criteria": [
                      {"id": "A", "kind": "lifetimePurchases", "min": "100"}],
                      "condition": "all", "upgradeType": "lazy"}}]});
    e2e::Http::new(address.clone())
        .program("logs", &config)
        .await;
    let order = json!({"orderId": "o1", "customerId": "ann", "placedAt": "2026-02-01T00:00:00Z",
        "status": "completed", "amount": "250"});
    let r = client
        .post(format!("{address}/programs/logs/orders"))
        .header("x-request-id", "trace-me-1")
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-me-1", "echoed");
    // Placed before the upgrade, decided at Base (its `tierBefore`), and a
    // replay of the first: neither changes the customer's tier now.
    let late = json!({"orderId": "o0", "customerId": "ann", "placedAt": "2026-01-15T00:00:00Z",
        "status": "completed", "amount": "10"});
    for body in [&late, &order] {
        let r = client
            .post(format!("{address}/programs/logs/orders"))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = client
        .get(format!("{address}/programs/logs/customers/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 32, "a new id when none was sent");

    terminate(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "a SIGTERM stops it cleanly: {status}");
    let stderr = stderr_of(&mut child);
    assert!(stderr.contains("local-api: stopped"), "{stderr}");
    let requests: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 5, "one line per API request: {stderr}");
    let order_line = &requests[1];
    assert_eq!(order_line["requestId"], "trace-me-1");
    assert_eq!(order_line["route"], "/programs/{programId}/orders");
    assert_eq!(order_line["status"], 200);
    assert_eq!(order_line["programId"], "logs");
    assert_eq!(order_line["customerId"], "ann");
    assert_eq!(order_line["tierChange"], "Base -> Gold");
    assert!(order_line["latencyMs"].as_f64().unwrap() > 0.0);
    assert_eq!(
        order_line["dynamodbRequests"], 3,
        "the config (first use after its PUT), the customer, one transaction"
    );
    assert!(order_line["writeUnits"].as_f64().unwrap() > 0.0);
    for unchanged in &requests[2..4] {
        assert_eq!(unchanged["customerId"], "ann");
        assert!(unchanged.get("tierChange").is_none(), "{unchanged}");
    }
    let missing = &requests[4];
    assert_eq!(missing["status"], 404);
    assert_eq!(missing["errorCode"], "customer_not_found");
    assert_eq!(missing["requestId"], generated);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_second_local_api_on_the_same_data_is_refused_and_a_busy_port_is_named() {
    let dir = temp_dir("lock");
    let dir_arg = dir.to_string_lossy().to_string();
    let (mut first, address) = spawn(&["--port", "0", "--data-dir", &dir_arg]);
    let second = Command::new(binary())
        .args(["--port", "0", "--data-dir", &dir_arg])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("another local API is already using"),
        "{message}"
    );
    assert!(!message.contains("Os {"), "no Debug dump: {message}");
    let port = address.rsplit(':').next().unwrap();
    let busy = Command::new(binary())
        .args(["--port", port, "--in-memory"])
        .output()
        .unwrap();
    assert!(!busy.status.success());
    let message = String::from_utf8_lossy(&busy.stderr);
    assert!(
        message.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && message.contains("--port"),
        "{message}"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A warm status container must see a new config version within its TTL
/// (it never commits, so no version check would tell it).
async fn a_cached_config_follows_a_new_version(api: Api) {
    let config = |min: &str| {
        json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "tiers": [{"name": "Base", "earnRate": "0.1"},
                      {"name": "Gold", "earnRate": "0.2", "upgrade": {"criteria": [
                          {"id": "A", "kind": "lifetimePurchases", "min": min}],
                          "condition": "all", "upgradeType": "lazy"}}]})
    };
    api.program("p", &config("1000")).await;
    api.order("p", "c", "o1", "2026-02-01T00:00:00Z", "100")
        .await;
    let required = |s: &tier_service::wire::StatusResponse| s.progress[0].criteria[0].required.0;
    // Two warm containers, each loading version 1 first: one whose TTL no
    // slow machine outlasts between two reads (300 ms was once spent by
    // the PUT and a read alone, under load on DynamoDB Local), and one
    // whose short TTL the test sleeps past.
    let long_ttl =
        tier_service::Service::with_config_ttl(api.store().clone(), Duration::from_secs(600));
    let ttl = Duration::from_millis(300);
    let short_ttl = tier_service::Service::with_config_ttl(api.store().clone(), ttl);
    for container in [&long_ttl, &short_ttl] {
        let before = container
            .status("p", "c", Some("2026-02-02T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(required(&before).to_string(), "1000");
    }
    api.program("p", &config("2000")).await;
    let cached = long_ttl
        .status("p", "c", Some("2026-02-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(required(&cached).to_string(), "1000", "within the TTL");
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let fresh = short_ttl
        .status("p", "c", Some("2026-02-02T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(required(&fresh).to_string(), "2000", "after the TTL");
}

/// A wrong table name is a configuration error, answered at once, not a
/// 503 retried until the deadline.
async fn a_missing_table_is_a_configuration_error_at_once(api: Api) {
    let wrong =
        tier_store::DynamoStore::new(api.store().client().clone(), "no-such-table-anywhere");
    let service = tier_service::Service::new(wrong);
    let started = std::time::Instant::now();
    let e = service
        .status("p", "c", Some("2026-02-02T00:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code), (500, "configuration_error"));
    assert!(
        e.message.contains("no-such-table-anywhere"),
        "{}",
        e.message
    );
    let order = json!({"orderId": "o1", "customerId": "c", "placedAt": "2026-02-01T00:00:00Z",
        "status": "completed", "amount": "1"});
    let e = service
        .ingest_order("p", order.to_string().as_bytes())
        .await
        .unwrap_err();
    assert_eq!(e.code, "configuration_error");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered without retrying: {:?}",
        started.elapsed()
    );
}

on_both_engines!(
    a_cached_config_follows_a_new_version,
    a_missing_table_is_a_configuration_error_at_once
);
