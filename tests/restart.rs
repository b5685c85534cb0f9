//! The local API binary keeps its embedded engine's data across restarts,
//! even after being killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn local_api(data_dir: &std::path::Path) -> (Child, String) {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("local-api");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --bins` (scripts/test.sh does)",
        binary.display()
    );
    let mut child = Command::new(binary)
        .args(["--port", "0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, address)
}

#[tokio::test]
async fn data_survives_a_killed_local_api() {
    let dir = std::env::temp_dir().join(format!("tier-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let client = reqwest::Client::new();
    let (mut first, address) = local_api(&dir);
    let config = serde_json::json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Base", "earnRate": "0.1"}]});
    let r = client
        .put(format!("{address}/programs/kept/config"))
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let order = serde_json::json!({"orderId": "o1", "customerId": "c", "placedAt": "2026-02-01T00:00:00Z", "status": "completed", "amount": "250"});
    let r = client
        .post(format!("{address}/programs/kept/orders"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, address) = local_api(&dir);
    let status: serde_json::Value = client
        .get(format!(
            "{address}/programs/kept/customers/c?asOf=2026-02-02T00:00:00Z"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status["lifetimePurchases"], "250", "{status}");
    assert_eq!(status["currentPoints"], "25");
}
