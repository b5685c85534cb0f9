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
    let (mut first, address) = local_api(&dir);
    let api = e2e::Http::new(address);
    let config = serde_json::json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Base", "earnRate": "0.1"}]});
    api.program("kept", &config).await;
    api.order("kept", "c", "o1", "2026-02-01T00:00:00Z", "250")
        .await;
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, address) = local_api(&dir);
    let status = e2e::Http::new(address)
        .status("kept", "c", "2026-02-02T00:00:00Z")
        .await;
    second.kill().unwrap();
    second.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status["lifetimePurchases"], "250", "{status}");
    assert_eq!(status["currentPoints"], "25");
}
