//! The generator writes items as the store writes them, in either event
//! form, and the replay of an export reads the same history from both:
//! reports and movers byte for byte.

use base64::Engine as _;
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::Path;
use std::process::Command;
use tier_store::{decode_event, encode_event_as, ItemFormat};

fn tier_sim(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_tier-sim"))
        .args(args)
        .output()
        .expect("tier-sim runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Member, Silver at 3,000 spent (lazy), Gold at `gold` spent (dynamic).
fn ladder(gold: u32) -> Value {
    let tier = |name: &str, rate: &str, upgrade: Option<(u32, &str)>| {
        let mut tier = json!({"name": name, "earnRate": rate});
        if let Some((min, kind)) = upgrade {
            let spent = json!({"id": "spent", "kind": "lifetimePurchases", "min": min.to_string()});
            tier["upgrade"] = json!({"criteria": [spent], "condition": "all", "upgradeType": kind});
        }
        tier
    };
    json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z", "tiers": [
        tier("Member", "0.01", None),
        tier("Silver", "0.02", Some((3000, "lazy"))),
        tier("Gold", "0.03", Some((gold, "dynamic"))),
    ]})
}

/// Every event item of the export: its sort key and `data` bytes.
fn event_items(export: &Path) -> Vec<(String, Vec<u8>)> {
    let mut items = Vec::new();
    for file in std::fs::read_dir(export.join("data")).unwrap() {
        let file = std::fs::File::open(file.unwrap().path()).unwrap();
        let lines = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file)).lines();
        for line in lines {
            let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
            let item = &line["Item"];
            if let Some(data) = item["data"]["B"].as_str() {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap();
                items.push((item["sk"]["S"].as_str().unwrap().to_owned(), bytes));
            }
        }
    }
    items.sort();
    items
}

#[test]
fn both_event_forms_are_the_stores_and_replay_the_same() {
    let dir = std::env::temp_dir().join(format!("tier-sim-generate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    std::fs::write(path("current.json"), ladder(10_000).to_string()).unwrap();
    std::fs::write(path("draft.json"), ladder(12_000).to_string()).unwrap();
    let mut reports = Vec::new();
    for (form, format) in [("json", ItemFormat::Json), ("binary", ItemFormat::Binary)] {
        let export = path(&format!("export-{form}"));
        tier_sim(&[
            "generate",
            "--program",
            "ako",
            "--config",
            &path("current.json"),
            "--customers",
            "400",
            "--orders",
            "6000",
            "--files",
            "3",
            "--seed",
            "5",
            "--out",
            &export,
            "--event-format",
            form,
        ]);
        let items = event_items(Path::new(&export));
        assert!(items.len() > 6000, "{}", items.len());
        assert!(items.iter().any(|(sk, _)| sk.starts_with("RETURN#")));
        for (sk, data) in &items {
            let id = sk.strip_prefix("ORDER#").unwrap_or(sk);
            let (reply, record) = decode_event(data, id).unwrap();
            let record = record.unwrap();
            assert_eq!(record.is_some(), sk.starts_with("ORDER#"), "{sk}");
            assert_eq!(
                &encode_event_as(&reply, record.as_ref(), format),
                data,
                "{form} {sk}: not what the store writes"
            );
        }
        let out = path(&format!("out-{form}"));
        tier_sim(&[
            "--program",
            "ako",
            "--draft",
            &path("draft.json"),
            "--export",
            &export,
            "--out",
            &out,
            "--quiet",
            "--to",
            "2030-01-01T00:00:00Z",
            "--published-at",
            "2029-06-01T00:00:00Z",
        ]);
        let read = |name: &str| std::fs::read_to_string(Path::new(&out).join(name)).unwrap();
        reports.push((read("report.json"), read("movers.csv")));
    }
    assert_eq!(reports[0], reports[1]);
    let report: Value = serde_json::from_str(&reports[0].0).unwrap();
    assert_eq!(report["customers"], 400, "{report}");
    assert!(reports[0].1.lines().count() > 1, "somebody moves");
    std::fs::remove_dir_all(&dir).unwrap();
}
