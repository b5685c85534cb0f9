//! The local API binary keeps its embedded engine's data across restarts,
//! even after being killed.

use std::process::Child;

fn local_api(data_dir: &std::path::Path) -> (Child, String) {
    e2e::spawn_local_api(&[
        "--port".as_ref(),
        "0".as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
    ])
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
