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
use e2e::{Api, Engine};
use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use tier_engine::CustomerState;
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
        let work = dir.join(format!("work-{id}"));
        std::fs::create_dir_all(&work).unwrap();
        let configs = tier_sim::partition_export(&files, id, &work, 5, false).unwrap();
        let (version, json) = configs.current.expect("the export holds the config");
        let program = tier_sim::program_of("stored", &json, version).unwrap();
        let replayed: Mutex<HashMap<String, Option<CustomerState>>> = Mutex::default();
        let observe = |customer: &str,
                       current: &tier_sim_core::CustomerRun,
                       _: &tier_sim_core::CustomerRun| {
            replayed
                .lock()
                .unwrap()
                .insert(customer.to_owned(), current.state.clone());
        };
        let run = Run {
            current: &program,
            draft: &program,
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
        assert!(movers.is_empty(), "a config against itself moves nobody");
        let replayed = replayed.into_inner().unwrap();
        for ((p, customer), want) in stored.iter().filter(|((p, _), _)| p == id) {
            let got = replayed
                .get(customer)
                .and_then(Option::as_ref)
                .unwrap_or_else(|| panic!("{p}/{customer} is stored but not replayed"));
            let context = format!("{p}/{customer}: stored {want:?}\nreplayed {got:?}");
            assert_eq!(got.tier, want.tier, "tier of {context}");
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
    }
    assert!(compared > 80, "{compared} customers compared");
    let _ = std::fs::remove_dir_all(&dir);
}
