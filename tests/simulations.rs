//! What-if through the API (issue 13): `POST /programs/{programId}/simulations`
//! and `GET .../simulations/{simulationId}` on both engines. The report is
//! the one `tier-sim` gives for the same history (the table scanned into an
//! export and replayed by the CLI's own functions, the draft's retention
//! rules dated as publishing it would date them); a draft is refused as
//! `PUT config` refuses it; hostile input is a 4xx with a code and writes
//! nothing; one simulation per program runs at a time; a job whose process
//! stopped is resumed from its stored parts by the next read, also across a
//! real restart of the local API; on AWS's terms, the job runs as steps.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use e2e::{on_both_engines, Api, Http};
use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::{Duration, Instant};
use tier_sim_core::ReportOptions;

fn ladder() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"months": 6},
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

/// Gold at 6,000 and 4 %, Silver dynamic: customers move both ways.
fn draft() -> Value {
    let mut d = ladder();
    d["tiers"][2]["earnRate"] = json!("0.04");
    d["tiers"][2]["upgrade"]["criteria"][0]["min"] = json!("6000");
    d["tiers"][1]["upgrade"]["criteria"][1]["min"] = json!("2500");
    d["tiers"][1]["upgrade"]["upgradeType"] = json!("dynamic");
    d
}

fn amount(rng: &mut fastrand::Rng) -> String {
    let cents = match rng.u8(0..20) {
        0 => 0,
        1 | 2 => rng.i64(150_000..400_000),
        _ => rng.i64(1..120_000),
    };
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// One customer's random history (as tools/tier-sim/tests/sim_exactness.rs
/// sends it): completed, pending then completed or cancelled, pending for
/// good; partial and whole returns, redemptions, a cancellation of a
/// completed order.
async fn history(api: &Api, program: &str, customer: &str, rng: &mut fastrand::Rng) {
    let post = |path: String, body: Value| async move {
        let r = api.post(&path, &body).await;
        assert!(
            r.status == 200 || r.status == 422,
            "{path} {body}: {} {}",
            r.status,
            r.body
        );
        r.status == 200
    };
    let orders_path = format!("/programs/{program}/orders");
    let start: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut minutes = rng.i64(0..20 * 24 * 60);
    let mut completed: Vec<(String, Value)> = Vec::new();
    let mut last = String::new();
    for i in 0..rng.usize(1..8) {
        minutes += rng.i64(1..25 * 24 * 60);
        let at = (start + chrono::Duration::minutes(minutes))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let id = format!("o{i}");
        let mut order = json!({"orderId": id, "customerId": customer, "placedAt": at,
            "status": "completed", "amount": amount(rng), "currency": "USD"});
        last.clone_from(&at);
        let kind = rng.u8(0..20);
        if kind < 5 {
            order["status"] = json!("pending");
            post(orders_path.clone(), order.clone()).await;
            match kind {
                0..=1 => order["status"] = json!("completed"),
                2..=3 => order["status"] = json!("cancelled"),
                _ => continue,
            }
        }
        if post(orders_path.clone(), order.clone()).await && order["status"] == "completed" {
            completed.push((id, order.clone()));
        }
    }
    if completed.is_empty() {
        return;
    }
    for r in 0..rng.usize(0..3) {
        let (order, body) = &completed[rng.usize(0..completed.len())];
        let total: f64 = body["amount"].as_str().unwrap().parse().unwrap();
        let mut body = json!({"returnId": format!("r{r}"), "orderId": order,
            "customerId": customer, "returnedAt": last});
        if rng.u8(0..4) > 0 {
            body["amount"] = json!(format!("{:.2}", (total * rng.f64()).max(0.01)));
        }
        post(format!("/programs/{program}/returns"), body).await;
    }
    for r in 0..rng.usize(0..3) {
        let body = json!({"redemptionId": format!("d{r}"),
            "points": format!("{}.{:02}", rng.u32(0..40), rng.u32(0..100)), "at": last});
        post(
            format!("/programs/{program}/customers/{customer}/redemptions"),
            body,
        )
        .await;
    }
    if rng.u8(0..4) == 0 {
        let (_, order) = &completed[rng.usize(0..completed.len())];
        let mut cancel = order.clone();
        cancel["status"] = json!("cancelled");
        post(orders_path.clone(), cancel).await;
    }
}

/// Polls a simulation until it is done or failed.
async fn finished(api: &Http, program: &str, id: &str) -> Value {
    watched_until_finished(api, program, id, |_| {}).await
}

/// Polls a simulation until it is done or failed, handing every answer to
/// `seen` on the way.
async fn watched_until_finished(
    api: &Http,
    program: &str,
    id: &str,
    mut seen: impl FnMut(&Value),
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = api
            .get(&format!("/programs/{program}/simulations/{id}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen(&r.body);
        let status = r.body["status"].as_str().unwrap().to_owned();
        assert!(
            ["queued", "running", "done", "failed"].contains(&status.as_str()),
            "{}",
            r.body
        );
        if status == "done" || status == "failed" {
            return r.body;
        }
        assert!(Instant::now() < deadline, "still {status}: {}", r.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// The whole table as an S3 export writes it (two data files).
async fn export(api: &Api, dir: &std::path::Path) {
    let data = dir.join("AWSDynamoDB/01234567890123-abcdefgh/data");
    std::fs::create_dir_all(&data).unwrap();
    let mut files: Vec<GzEncoder<std::fs::File>> = (0..2)
        .map(|i| {
            let f = std::fs::File::create(data.join(format!("part{i}.json.gz"))).unwrap();
            GzEncoder::new(f, Compression::default())
        })
        .collect();
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
            let m: Map<String, Value> = item
                .iter()
                .map(|(k, v)| (k.clone(), attribute(v)))
                .collect();
            writeln!(files[n % 2], "{}", json!({"Item": m})).unwrap();
            n += 1;
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    for f in files {
        f.finish().unwrap();
    }
}

/// The report `tier-sim --export` gives for `program` over the table as it
/// is now, with the simulation's window and `end`, the draft published at
/// the simulation's `createdAt` (`--published-at`).
async fn cli_report(api: &Api, program: &str, draft: &Value, simulation: &Value) -> Value {
    let dir = std::env::temp_dir().join(format!(
        "sim-api-{}-{}-{}",
        std::process::id(),
        api.table,
        simulation["simulationId"].as_str().unwrap()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    export(api, &dir).await;
    let files = tier_sim::data_files(&dir).unwrap();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let configs = tier_sim::partition_export(&files, program, &work, 4, false).unwrap();
    let instant = |field: &str| {
        simulation[field]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap())
    };
    // As the CLI builds them: the export's config with its retentionSince,
    // the draft dated as published at the simulation's instant.
    let (current, draft) = tier_sim::export_programs(
        program,
        &configs,
        None,
        &draft.to_string(),
        instant("createdAt").unwrap(),
    )
    .unwrap();
    let run = tier_sim::Run {
        current: &current,
        draft: &draft,
        options: ReportOptions {
            as_of: vec![],
            end: instant("end").unwrap(),
            sample: tier_sim_core::report::DEFAULT_SAMPLE,
        },
        from: instant("from"),
        to: instant("to"),
        progress: false,
        observer: None,
    };
    let (report, _) = tier_sim::replay_partitions(&run, &work, 4).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::to_value(&report).unwrap()
}

async fn start(api: &Http, program: &str, body: &Value) -> Value {
    let r = api
        .post(&format!("/programs/{program}/simulations"), body)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "queued", "{}", r.body);
    assert_eq!(r.body["progress"]["customersSeen"], 0);
    assert_eq!(r.body["progress"]["customersTotal"], Value::Null);
    r.body
}

async fn the_report_is_the_one_tier_sim_gives_for_the_same_history(api: Api) {
    api.program("ako", &ladder()).await;
    api.program("other", &ladder()).await;
    let mut rng = fastrand::Rng::with_seed(1313);
    for c in 0..60 {
        history(&api, "ako", &format!("c{c:03}"), &mut rng).await;
    }
    // Another program's customers (one id shared) are not ako's.
    for c in 55..70 {
        history(&api, "other", &format!("c{c:03}"), &mut rng).await;
    }
    let draft = draft();
    let accepted = start(&api, "ako", &json!({"config": draft})).await;
    let id = accepted["simulationId"].as_str().unwrap();
    let done = finished(&api, "ako", id).await;
    assert_eq!(done["status"], "done", "{done}");
    let report = &done["report"];
    let cli = cli_report(&api, "ako", &draft, &done).await;
    assert_eq!(
        report, &cli,
        "the API's report is the CLI's for the same history"
    );
    assert!(
        report["customers"].as_u64().unwrap() > 40,
        "ako's customers replayed: {report}"
    );
    let m = &report["movers"];
    assert!(
        m["higher"].as_u64().unwrap() + m["lower"].as_u64().unwrap() > 0,
        "the draft moves someone: {m}"
    );
    assert_eq!(
        done["progress"]["customersSeen"], done["progress"]["customersTotal"],
        "{done}"
    );
    assert!(done["usage"]["readUnits"].as_f64().unwrap() > 0.0, "{done}");

    // A window, from and to: the same again.
    let window = json!({"config": draft, "from": "2026-02-01T00:00:00Z",
        "to": "2026-05-01T12:00:00+02:00"});
    let accepted = start(&api, "ako", &window).await;
    assert_eq!(accepted["to"], "2026-05-01T10:00:00.000Z");
    let done = finished(&api, "ako", accepted["simulationId"].as_str().unwrap()).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["end"], "2026-05-01T10:00:00.000Z");
    let cli = cli_report(&api, "ako", &draft, &done).await;
    assert_eq!(done["report"], cli, "the windowed report is the CLI's");
    assert_ne!(done["report"]["events"], report["events"]);

    // Nothing of the live program changed.
    let config = api.get("/programs/ako/config").await;
    assert_eq!(config.body["version"], 1);
    let first = api.get(&format!("/programs/ako/simulations/{id}")).await;
    assert_eq!(first.body["report"], *report, "a done report is kept");
}

/// Silver kept by 2,000 of spending over 12 months; the rule's
/// `retentionSince` is the day it is configured (today, in the test).
fn retention() -> Value {
    json!({
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
    })
}

/// A program whose retention rule was configured today: customers reached
/// Silver some 300 days ago, some spent enough to keep it before today (it
/// does not count: they lapse), some after (it does), and each has an order
/// after their period's end (so the end is judged). The current config as
/// the draft moves nobody: the draft keeps the rule's day, as publishing it
/// would (undated, its rule would count the spending before today and renew
/// those the current config lets lapse). A draft that changes the rule dates
/// it at the simulation's instant. Both reports are the CLI's.
async fn a_draft_dates_its_retention_rules_as_publishing_would(api: Api) {
    api.program("keep", &retention()).await;
    let now = chrono::Utc::now();
    let iso =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let days = chrono::Duration::days;
    for c in 0..6i64 {
        let customer = format!("c{c}");
        let reached = now - days(300 + c);
        let end = reached + chrono::Months::new(12);
        let mut orders = vec![(reached, "3500")];
        match c % 3 {
            // Before the rule was configured: would renew were it counted.
            0 => orders.push((now - days(20), "2500")),
            // After it (before the period ends): renews.
            1 => orders.push((now + days(5), "2500")),
            // Too little either way: lapses.
            _ => orders.push((now - days(20), "100")),
        }
        orders.push((end + days(3), "10"));
        for (i, (at, amount)) in orders.iter().enumerate() {
            api.order("keep", &customer, &format!("o{i}"), &iso(*at), amount)
                .await;
        }
    }
    let to = iso(now + days(200));

    let same = retention();
    let accepted = start(&api, "keep", &json!({"config": same, "to": to})).await;
    let done = finished(&api, "keep", accepted["simulationId"].as_str().unwrap()).await;
    assert_eq!(done["status"], "done", "{done}");
    let report = &done["report"];
    assert_eq!(report["customers"], 6, "{report}");
    assert_eq!(
        report["current"]["tiers"],
        json!({"Member": 4, "Silver": 2}),
        "spending before the rule does not renew: {report}"
    );
    assert_eq!(report["movers"]["higher"], 0, "{}", report["movers"]);
    assert_eq!(report["movers"]["lower"], 0, "{}", report["movers"]);
    assert_eq!(report["draft"], report["current"]);
    assert_eq!(*report, cli_report(&api, "keep", &same, &done).await);

    // The rule changed (1,000 kept): it counts from the simulation's
    // instant, so the spending before it still renews nobody.
    let mut changed = retention();
    changed["tiers"][1]["retention"]["criteria"][0]["min"] = json!("1000");
    let accepted = start(&api, "keep", &json!({"config": changed, "to": to})).await;
    let done = finished(&api, "keep", accepted["simulationId"].as_str().unwrap()).await;
    assert_eq!(done["status"], "done", "{done}");
    let report = &done["report"];
    assert_eq!(
        report["draft"]["tiers"],
        json!({"Member": 4, "Silver": 2}),
        "{report}"
    );
    assert_eq!(report["movers"]["higher"], 0, "{}", report["movers"]);
    assert_eq!(*report, cli_report(&api, "keep", &changed, &done).await);
    assert_eq!(api.get("/programs/keep/config").await.body["version"], 1);
}

/// The items under the program's partition that a simulation writes.
async fn simulation_items(api: &Api, program: &str) -> usize {
    let out = api
        .store()
        .client()
        .query()
        .table_name(&api.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :s)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("PROGRAM#{program}")))
        .expression_attribute_values(":s", AttributeValue::S("SIMULATION".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().len()
}

async fn a_draft_is_refused_as_put_config_refuses_it(api: Api) {
    api.program("ako", &ladder()).await;
    api.program("mirror", &ladder()).await;
    let mut bad_rate = ladder();
    bad_rate["tiers"][1]["earnRate"] = json!("-1");
    let mut bad_type = ladder();
    bad_type["tiers"] = json!("Gold");
    let mut dropped = ladder();
    dropped["tiers"].as_array_mut().unwrap().pop();
    let mut unknown = ladder();
    unknown["colour"] = json!("gold");
    let mut expression = ladder();
    expression["tiers"][2]["upgrade"]["condition"] = json!("spent AND (");
    let mut long_name = ladder();
    long_name["tiers"][0]["name"] = json!("M".repeat(100_000));
    let mut no_tiers = ladder();
    no_tiers["tiers"] = json!([]);
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!({ "a": deep });
    }
    for draft in [
        bad_rate,
        bad_type,
        dropped,
        unknown,
        expression,
        long_name,
        no_tiers,
        deep,
        json!(null),
        json!(7),
        json!({}),
    ] {
        let put = api.put("/programs/mirror/config", &draft).await;
        assert!(put.status >= 400, "the draft is invalid: {draft}");
        let sim = api
            .post("/programs/ako/simulations", &json!({"config": draft}))
            .await;
        assert_eq!(
            (sim.status, sim.code()),
            (put.status, put.code()),
            "as PUT config: {}\n{}",
            sim.body,
            put.body
        );
        assert_eq!(sim.body["error"]["details"], put.body["error"]["details"]);
    }
    let sim = api
        .post(
            "/programs/ako/simulations",
            &json!({"config": {"tiers": []}}),
        )
        .await;
    assert_eq!(sim.status, 400, "{}", sim.body);
    assert_eq!(simulation_items(&api, "ako").await, 0, "nothing written");
    assert_eq!(api.get("/programs/ako/config").await.body["version"], 1);
}

async fn hostile_input_is_a_4xx_with_a_code_and_writes_nothing(api: Api) {
    api.program("ako", &ladder()).await;
    let config = ladder();
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let long_id = "p".repeat(200);
    let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("POST", "/programs/ako/simulations".into(), Some(String::new()), 400, "invalid_json"),
        ("POST", "/programs/ako/simulations".into(), Some("{".into()), 400, "invalid_json"),
        ("POST", "/programs/ako/simulations".into(), Some("[]".into()), 400, "invalid_request"),
        ("POST", "/programs/ako/simulations".into(), Some("{}".into()), 400, "invalid_request"),
        ("POST", "/programs/ako/simulations".into(), Some("\"config\"".into()), 400, "invalid_request"),
        // As PUT config answers `[[[...`: a sequence where an object is due.
        ("POST", "/programs/ako/simulations".into(), Some(deep.clone()), 400, "invalid_request"),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(format!("{{\"config\": {config}, \"from\": {deep}}}")),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(format!("{{\"config\": {deep}}}")),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "dryRun": true}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(format!("{{\"config\": {config}, \"config\": {config}}}")),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "from": 5}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "to": ["2026-01-01T00:00:00Z"]}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "from": "yesterday"}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "from": "2026-02-30T00:00:00Z"}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "from": "2026-01-01"}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "to": "2200-01-01T00:00:00Z"}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "from": "1969-12-31T23:59:59Z"}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(
                json!({"config": config, "from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"})
                    .to_string(),
            ),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(
                json!({"config": config, "from": "2026-03-01T01:00:00+01:00", "to": "2026-03-01T00:00:00Z"})
                    .to_string(),
            ),
            400,
            "invalid_request",
        ),
        // Without `to` it ends now: a `from` after now replays nothing.
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(json!({"config": config, "from": "2199-12-31T23:59:59Z"}).to_string()),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/programs/ako/simulations".into(),
            Some(format!("{{\"config\": {config}, \"pad\": \"{}\"}}", "x".repeat(3 << 20))),
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/programs/nobody/simulations".into(),
            Some(json!({"config": config}).to_string()),
            404,
            "program_not_found",
        ),
        (
            "POST",
            format!("/programs/{long_id}/simulations"),
            Some(json!({"config": config}).to_string()),
            400,
            "invalid_request",
        ),
        ("PUT", "/programs/ako/simulations".into(), Some("{}".into()), 405, "method_not_allowed"),
        ("GET", "/programs/ako/simulations".into(), None, 405, "method_not_allowed"),
        (
            "GET",
            "/programs/ako/simulations/0123456789abcdef0123456789abcdef".into(),
            None,
            404,
            "simulation_not_found",
        ),
        ("GET", "/programs/ako/simulations/x".into(), None, 404, "simulation_not_found"),
        (
            "GET",
            "/programs/ako/simulations/..%2F..%2Fconfig".into(),
            None,
            404,
            "simulation_not_found",
        ),
        (
            "GET",
            format!("/programs/ako/simulations/{}", "9".repeat(129)),
            None,
            400,
            "invalid_request",
        ),
        (
            "GET",
            "/programs/nobody/simulations/0123456789abcdef0123456789abcdef".into(),
            None,
            404,
            "program_not_found",
        ),
        (
            "DELETE",
            "/programs/ako/simulations/0123456789abcdef0123456789abcdef".into(),
            None,
            405,
            "method_not_allowed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let shown: String = body.clone().unwrap_or_default().chars().take(120).collect();
        let r = api.send(method, &path, body).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "{method} {path} {shown}: {}",
            r.body
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            r.body
        );
    }
    assert_eq!(simulation_items(&api, "ako").await, 0, "nothing written");
    assert_eq!(simulation_items(&api, "nobody").await, 0);
}

/// A job as another process would have stored it.
fn record(id: &str, heartbeat_ms: u64) -> tier_store::SimulationRecord {
    tier_store::SimulationRecord {
        id: id.to_owned(),
        status: "running".into(),
        request: json!({"to": "2026-06-01T00:00:00Z", "end": "2026-06-01T00:00:00Z",
            "currentVersion": 1, "draft": ladder()})
        .to_string(),
        owner: "another-process".into(),
        heartbeat_ms,
        created_at: "2026-06-01T00:00:00.000Z".into(),
        ..Default::default()
    }
}

fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis() as u64
}

async fn one_simulation_runs_at_a_time_and_a_silent_one_is_resumed(api: Api) {
    api.program("ako", &ladder()).await;
    api.order("ako", "ann", "o1", "2026-03-01T00:00:00Z", "3500")
        .await;
    let live = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert!(api
        .store()
        .create_simulation("ako", &record(live, now_ms()), None)
        .await
        .unwrap());
    let r = api
        .post("/programs/ako/simulations", &json!({"config": draft()}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "simulation_running"),
        "{}",
        r.body
    );
    assert!(
        r.body["error"]["message"].as_str().unwrap().contains(live),
        "{}",
        r.body
    );
    let shown = api.get(&format!("/programs/ako/simulations/{live}")).await;
    assert_eq!(shown.body["status"], "running", "{}", shown.body);

    // Silent for a minute: its process is gone. The next read takes it
    // over (one conditional write on its last heartbeat) and resumes it.
    api.program("bo", &ladder()).await;
    api.order("bo", "ann", "o1", "2026-03-01T00:00:00Z", "3500")
        .await;
    let silent = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    assert!(api
        .store()
        .create_simulation("bo", &record(silent, now_ms() - 60_000), None)
        .await
        .unwrap());
    let shown = api.get(&format!("/programs/bo/simulations/{silent}")).await;
    assert!(
        ["queued", "running", "done"].contains(&shown.body["status"].as_str().unwrap()),
        "resumed, not failed: {}",
        shown.body
    );
    let resumed = finished(&api, "bo", silent).await;
    assert_eq!(resumed["status"], "done", "{resumed}");
    assert_eq!(resumed["report"]["customers"], 1, "{resumed}");
    assert_eq!(
        resumed["report"]["draft"]["tiers"]["Silver"], 1,
        "{resumed}"
    );
    assert_eq!(resumed["progress"]["customersTotal"], 1, "{resumed}");
    // Asked again now with the same draft and end, the report is the same.
    let accepted = start(
        &api,
        "bo",
        &json!({"config": ladder(), "to": "2026-06-01T00:00:00Z"}),
    )
    .await;
    let done = finished(&api, "bo", accepted["simulationId"].as_str().unwrap()).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["report"], resumed["report"]);
    // A finished one does not block the next.
    let again = start(&api, "bo", &json!({"config": draft()})).await;
    let again = finished(&api, "bo", again["simulationId"].as_str().unwrap()).await;
    assert_eq!(again["status"], "done", "{again}");
    assert_eq!(again["report"]["draft"]["tiers"]["Silver"], 1, "{again}");

    // A silent job that can never finish (the config version it was asked
    // over is not stored) is resumed and ends failed, with why.
    api.program("cy", &ladder()).await;
    let broken = "cccccccccccccccccccccccccccccccc";
    let mut bad = record(broken, now_ms() - 60_000);
    bad.request =
        json!({"end": "2026-06-01T00:00:00Z", "currentVersion": 9, "draft": ladder()}).to_string();
    assert!(api
        .store()
        .create_simulation("cy", &bad, None)
        .await
        .unwrap());
    api.get(&format!("/programs/cy/simulations/{broken}")).await;
    let failed = finished(&api, "cy", broken).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["failureReason"]
            .as_str()
            .unwrap()
            .contains("config version 9 is not stored"),
        "{failed}"
    );
}

/// Steps a job as a state machine run does, from `first` until a step
/// answers `more: false`; how many steps it took.
async fn step_to_end(api: &Api, first: &Value) -> u32 {
    let mut step = first.clone();
    let mut steps = 0;
    loop {
        let r = api.post("/_local/scheduled", &step).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (&r.body["programId"], &r.body["simulationId"]),
            (
                &step["simulate"]["programId"],
                &step["simulate"]["simulationId"]
            )
        );
        steps += 1;
        if r.body["more"] != true {
            return steps;
        }
        assert!(steps < 100, "the steps end");
        step = json!({"simulate": r.body});
    }
}

/// On AWS a simulation runs as state machine steps (the stream carries a
/// new job to it): each step takes the job over and works it for up to its
/// budget, `more` while it runs. Driven here as the machine would, on a
/// job no process runs; two steps at once (a run started twice) count
/// nobody twice. A step that can never succeed is refused (4xx).
async fn a_simulation_runs_step_by_step_as_the_state_machine_calls_it(api: Api) {
    api.program("st", &ladder()).await;
    let mut rng = fastrand::Rng::with_seed(77);
    for c in 0..25 {
        history(&api, "st", &format!("c{c:03}"), &mut rng).await;
    }
    let stepped = "dddddddddddddddddddddddddddddddd";
    let mut job = record(stepped, now_ms());
    job.owner = "nobody".into();
    job.status = "queued".into();
    job.request = json!({"to": "2026-09-01T00:00:00Z", "end": "2026-09-01T00:00:00Z",
        "currentVersion": 1, "draft": draft()})
    .to_string();
    assert!(api
        .store()
        .create_simulation("st", &job, None)
        .await
        .unwrap());
    let first = json!({"simulate": {"programId": "st", "simulationId": stepped, "budgetMs": 0}});
    // Two runs step the job at once to its end (a run started twice): each
    // may lose a segment to the other, and neither may stop while the job
    // still runs.
    tokio::join!(step_to_end(&api, &first), step_to_end(&api, &first));
    let done = api
        .get(&format!("/programs/st/simulations/{stepped}"))
        .await
        .body;
    assert_eq!(done["status"], "done", "{done}");
    // The same request run by the API in one go gives the same report.
    let accepted = start(
        &api,
        "st",
        &json!({"config": draft(), "to": "2026-09-01T00:00:00Z"}),
    )
    .await;
    let whole = finished(&api, "st", accepted["simulationId"].as_str().unwrap()).await;
    assert_eq!(done["report"], whole["report"], "stepped as one go");
    assert!(done["report"]["customers"].as_u64().unwrap() > 20, "{done}");
    // A finished job's step says so at once.
    let again = api.post("/_local/scheduled", &first).await;
    assert_eq!((again.status, &again.body["more"]), (200, &json!(false)));
    for bad in [
        json!({"simulate": {"programId": "st", "simulationId": "nope"}}),
        json!({"simulate": {"programId": "st"}}),
        json!({"simulate": {"programId": "st", "simulationId": stepped, "x": 1}}),
        json!({"simulate": {"programId": "st", "simulationId": stepped, "budgetMs": 60001}}),
        json!({"simulate": "st"}),
        json!({"simulate": {"programId": "st", "simulationId": "0123456789abcdef0123456789abcdef"}}),
    ] {
        let r = api.post("/_local/scheduled", &bad).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{bad}: {}",
            r.body
        );
    }
    // A job that cannot finish is stored failed and ends the run.
    let broken = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    let mut bad = record(broken, now_ms());
    bad.request = json!({"end": "2026-09-01T00:00:00Z", "currentVersion": 1,
        "draft": {"currency": "USD", "startDate": "2026-01-01T00:00:00Z", "tiers": []}})
    .to_string();
    api.program("st2", &ladder()).await;
    assert!(api
        .store()
        .create_simulation("st2", &bad, None)
        .await
        .unwrap());
    let r = api
        .post(
            "/_local/scheduled",
            &json!({"simulate": {"programId": "st2", "simulationId": broken}}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["more"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
    let shown = api
        .get(&format!("/programs/st2/simulations/{broken}"))
        .await;
    assert_eq!(shown.body["status"], "failed", "{}", shown.body);
    assert!(
        shown.body["failureReason"]
            .as_str()
            .unwrap()
            .contains("draft does not validate"),
        "{}",
        shown.body
    );
}

/// An order whose stored record does not decode (in either stored form)
/// fails the job with why, as tier-sim refuses it; the service reads the
/// order as one without a record, so the customer keeps working.
async fn a_record_that_does_not_decode_fails_the_job_not_the_customer(api: Api) {
    api.program("rd", &ladder()).await;
    let mut rng = fastrand::Rng::with_seed(5);
    for c in 0..3 {
        history(&api, "rd", &format!("c{c}"), &mut rng).await;
    }
    let order = json!({"orderId": "broken", "customerId": "c9", "placedAt": "2026-02-01T00:00:00Z",
        "status": "completed", "amount": "40.00", "currency": "USD"});
    assert_eq!(api.post("/programs/rd/orders", &order).await.status, 200);
    let reply = r#"{"applied":true}"#;
    let json_form = {
        let pair = serde_json::to_vec(&(reply, Some(r#"{"orderId":1}"#))).unwrap();
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(&pair).unwrap();
        e.finish().unwrap()
    };
    let mut binary_form = tier_store::encode_event_as(reply, None, tier_store::ItemFormat::Binary);
    // A record of layout 9, which no release writes.
    binary_form.splice(1..2, [2, 9, 0]);
    for (form, data) in [("json", json_form), ("binary", binary_form)] {
        api.store()
            .client()
            .update_item()
            .table_name(api.store().table())
            .key(
                "pk",
                AttributeValue::S(tier_store::keys::customer_pk("rd", "c9")),
            )
            .key("sk", AttributeValue::S("ORDER#broken".into()))
            .update_expression("SET #d = :d")
            .expression_attribute_names("#d", "data")
            .expression_attribute_values(":d", AttributeValue::B(data.into()))
            .send()
            .await
            .unwrap();
        let accepted = start(&api, "rd", &json!({"config": draft()})).await;
        let done = finished(&api, "rd", accepted["simulationId"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed", "{form}: {done}");
        assert!(
            done["failureReason"]
                .as_str()
                .unwrap()
                .contains("order record does not decode"),
            "{form}: {done}"
        );
        let status = api.get("/programs/rd/customers/c9").await;
        assert_eq!(status.status, 200, "{form}: {}", status.body);
        let next = json!({"orderId": format!("after-{form}"), "customerId": "c9",
            "placedAt": "2026-03-01T00:00:00Z", "status": "completed", "amount": "10.00",
            "currency": "USD"});
        assert_eq!(
            api.post("/programs/rd/orders", &next).await.status,
            200,
            "{form}"
        );
    }
}

on_both_engines!(
    a_record_that_does_not_decode_fails_the_job_not_the_customer,
    the_report_is_the_one_tier_sim_gives_for_the_same_history,
    a_simulation_runs_step_by_step_as_the_state_machine_calls_it,
    a_draft_dates_its_retention_rules_as_publishing_would,
    a_draft_is_refused_as_put_config_refuses_it,
    hostile_input_is_a_4xx_with_a_code_and_writes_nothing,
    one_simulation_runs_at_a_time_and_a_silent_one_is_resumed,
);

/// A local API process, killed when dropped (a failed assertion too).
struct Process(std::process::Child);

impl Process {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The local API binary with the job slowed (a pause before every Scan
/// page of `delay_ms`, pages of 3 items, so customers span pages) and a
/// 2 s stale limit.
fn local_api(args: &[&std::ffi::OsStr], delay_ms: u64) -> (Process, Http) {
    let mut command = std::process::Command::new(e2e::local_api_binary());
    command
        .args(args)
        .env("TIER_SIMULATION_PAGE_DELAY_MS", delay_ms.to_string())
        .env("TIER_SIMULATION_PAGE_ITEMS", "3")
        .env("TIER_SIMULATION_STALE_SECS", "2")
        .stderr(std::process::Stdio::null());
    let (child, address) = e2e::spawn_configured(command);
    (Process(child), Http::new(address))
}

/// A local API killed (SIGKILL) in the middle of a job, with some of its
/// segments' parts stored: started again on the same data, the next read
/// of the job takes it over and resumes it from its parts; it ends `done`
/// with the report an uninterrupted run gives (nobody counted twice, nobody
/// missed: customers span the 3-item pages, and the kill falls between
/// pages), and customersSeen never goes back.
async fn a_restart_resumes_a_running_simulation(args: Vec<std::ffi::OsString>) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (mut first, api) = local_api(&args, 300);
    api.program("kept", &ladder()).await;
    for c in 0..16 {
        for o in 0..(c % 3 + 1) {
            let customer = format!("c{c:02}");
            let at = format!("2026-02-{:02}T00:00:00Z", o + 1 + c % 9);
            let amount = format!("{}", 700 * (c + 1) + 900 * o);
            api.order("kept", &customer, &format!("o{o}"), &at, &amount)
                .await;
        }
    }
    let body = json!({"config": draft(), "to": "2026-12-01T00:00:00Z"});
    let id = start(&api, "kept", &body).await["simulationId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Killed once some customers are stored, well before the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        let shown = api.get(&format!("/programs/kept/simulations/{id}")).await;
        assert_eq!(shown.status, 200, "{}", shown.body);
        let shown = shown.body;
        assert!(
            ["queued", "running"].contains(&shown["status"].as_str().unwrap()),
            "the kill comes before the end: {shown}"
        );
        let seen = shown["progress"]["customersSeen"].as_u64().unwrap();
        if seen >= 3 {
            break seen;
        }
        assert!(Instant::now() < deadline, "{shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.kill();

    let (mut second, api) = local_api(&args, 20);
    // Silent for the 2 s stale limit: the next read resumes it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut last_seen = before;
    let done = watched_until_finished(&api, "kept", &id, |shown| {
        let seen = shown["progress"]["customersSeen"].as_u64().unwrap();
        assert!(
            seen >= last_seen,
            "customersSeen went back to {seen}: {shown}"
        );
        last_seen = seen;
    })
    .await;
    assert_eq!(done["status"], "done", "resumed, not failed: {done}");
    assert_eq!(done["progress"]["customersTotal"], 16, "{done}");
    assert_eq!(done["progress"]["customersSeen"], 16, "{done}");

    // The same request, uninterrupted, in the second process.
    let again = start(&api, "kept", &body).await["simulationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let whole = finished(&api, "kept", &again).await;
    second.kill();
    assert_eq!(whole["status"], "done", "{whole}");
    assert_eq!(
        done["report"], whole["report"],
        "the resumed job's report is the uninterrupted run's"
    );
    assert_eq!(done["report"]["customers"], 16, "{done}");
    assert!(
        done["report"]["movers"]["higher"].as_u64().unwrap() > 0,
        "the draft moves someone: {done}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_the_embedded_local_api_resumes_a_running_simulation() {
    let dir = std::env::temp_dir().join(format!("tier-sim-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    a_restart_resumes_a_running_simulation(vec![
        "--port".into(),
        "0".into(),
        "--data-dir".into(),
        dir.clone().into(),
    ])
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_the_local_api_on_dynamodb_local_resumes_a_running_simulation() {
    let endpoint = e2e::dynamodb_local_endpoint();
    let table = e2e::unique_table("e2e-sim-restart");
    a_restart_resumes_a_running_simulation(vec![
        "--port".into(),
        "0".into(),
        "--dynamodb-endpoint".into(),
        endpoint.into(),
        "--table".into(),
        table.into(),
    ])
    .await;
}
