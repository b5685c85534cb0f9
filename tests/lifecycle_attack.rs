//! Adversarial tests of the tier lifecycle through the local API: the event
//! feed, the scheduled job's shard steps and totals, and re-evaluation after
//! a config change. Tests marked `// Was a bug:` each showed a defect (the
//! comment above it says which), fixed since; they stay as guards.

use e2e::{feed, on_both_engines, urlencode, Api};
use serde_json::{json, Value};

fn ladder() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 300}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "keepS", "kind": "tracker", "min": "100000", "tracker": "spend12m"}],
                "condition": "all", "onFail": "oneDown", "graceDays": 3, "warnDaysBefore": [10, 2]}},
            {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "G", "kind": "lifetimePurchases", "min": 600}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "keepG", "kind": "tracker", "min": "100000", "tracker": "spend12m"}],
                "condition": "all", "onFail": "oneDown", "graceDays": 3, "warnDaysBefore": [10, 2]}},
            {"name": "Diamond", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "D", "kind": "lifetimePurchases", "min": 900}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    })
}

/// The feed holds exactly one event per history entry (TierChanged and
/// TierRenewed) of each customer, each seq once, seqs without gaps.
async fn assert_feed_matches_history(
    api: &Api,
    program: &str,
    customers: &[String],
    as_of: Option<&str>,
) {
    let events = feed(api, program, 7).await;
    for customer in customers {
        let status = api
            .get(&format!(
                "/programs/{}/customers/{}{}",
                urlencode(program),
                urlencode(customer),
                as_of.map(|t| format!("?asOf={t}")).unwrap_or_default()
            ))
            .await;
        assert_eq!(status.status, 200, "{}", status.body);
        let history: Vec<(String, String, String)> = status.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["from"].as_str().unwrap_or("").to_owned(),
                    h["to"].as_str().unwrap().to_owned(),
                    h["at"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mine: Vec<&Value> = events
            .iter()
            .filter(|e| e["customerId"] == customer.as_str())
            .collect();
        let mut seqs: Vec<u64> = mine
            .iter()
            .map(|e| e["seq"].as_str().unwrap().parse().unwrap())
            .collect();
        seqs.sort();
        let expected: Vec<u64> = (1..=mine.len() as u64).collect();
        assert_eq!(seqs, expected, "{customer}: every seq once, no gap");
        let mut changes: Vec<(String, String, String)> = mine
            .iter()
            .filter(|e| e["type"] != "TierAtRisk")
            .map(|e| {
                (
                    e["from"].as_str().unwrap().to_owned(),
                    e["to"].as_str().unwrap().to_owned(),
                    e["at"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        // The first history entry of a new customer may have no `from`.
        let mut history = history;
        for h in history.iter_mut() {
            if h.0.is_empty() {
                h.0 = "Member".into();
            }
        }
        // To the second: the event's `at` drops the fraction (see
        // an_events_at_is_the_changes_instant).
        let secs = |t: &mut (String, String, String)| {
            t.2 = chrono::DateTime::parse_from_rfc3339(&t.2)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        };
        changes.iter_mut().for_each(secs);
        history.iter_mut().for_each(secs);
        changes.sort_by(|a, b| a.2.cmp(&b.2));
        history.sort_by(|a, b| a.2.cmp(&b.2));
        assert_eq!(changes, history, "{customer}: one event per history entry");
    }
}

/// Many orders of one customer at once, crossing every tier, each sent
/// twice concurrently: one event per history entry, never two.
async fn concurrent_and_duplicate_orders_publish_each_change_once(api: Api) {
    api.program("cc", &ladder()).await;
    let mut sends = Vec::new();
    for i in 0..12 {
        for _dup in 0..2 {
            let body = e2e::order(
                "c1",
                &format!("o{i}"),
                &format!("2026-03-01T10:{i:02}:00Z"),
                "100",
            );
            let api = &api;
            sends.push(async move { api.post("/programs/cc/orders", &body).await });
        }
    }
    for r in futures::future::join_all(sends).await {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let status = api.get("/programs/cc/customers/c1").await;
    assert_eq!(status.body["tier"], "Diamond", "{}", status.body);
    assert_feed_matches_history(&api, "cc", &["c1".to_owned()], Some("2026-03-01T10:30:00Z")).await;
}

/// The job run twice at once, concurrently with orders of the customers it
/// judges: every warning, grace, lapse and renewal once.
async fn concurrent_job_runs_and_orders_publish_each_notice_once(api: Api) {
    api.program("cj", &ladder()).await;
    let customers: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
    for (i, c) in customers.iter().enumerate() {
        api.order("cj", c, &format!("{c}-a"), "2026-03-01T10:00:00Z", "700")
            .await;
        let _ = i;
    }
    for day in ["2026-03-20", "2026-03-28", "2026-04-01", "2026-04-03"] {
        let time = format!("{day}T12:00:00Z");
        let mut calls = Vec::new();
        for _ in 0..2 {
            let api = &api;
            let time = time.clone();
            calls.push(async move {
                api.run_scheduled(&time).await;
            });
        }
        let orders = customers.iter().take(2).map(|c| {
            let api = &api;
            let body = e2e::order(c, &format!("{c}-{day}"), &format!("{day}T11:00:00Z"), "1");
            async move {
                let r = api.post("/programs/cj/orders", &body).await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
        });
        futures::future::join(
            futures::future::join_all(calls),
            futures::future::join_all(orders),
        )
        .await;
    }
    let events = feed(&api, "cj", 100).await;
    let warnings = events
        .iter()
        .filter(|e| e["type"] == "TierAtRisk" && e["cause"] == "warning")
        .count();
    // Gold from 2026-03-01T10:00: warned on 03-22 and 03-30 (10 and 2 days
    // before 04-01T10:00) once each, per customer.
    assert_eq!(warnings, 2 * customers.len(), "{events:#?}");
    let graces = events
        .iter()
        .filter(|e| e["type"] == "TierAtRisk" && e["cause"] == "grace")
        .count();
    assert_eq!(graces, customers.len(), "{events:#?}");
    assert_feed_matches_history(&api, "cj", &customers, Some("2026-04-03T12:00:00Z")).await;
}

/// Hostile `after` and `limit` values on the feed: always a 4xx JSON error
/// or a page, never a 5xx.
async fn hostile_feed_cursors_are_refused_or_served(api: Api) {
    api.program("hf", &ladder()).await;
    api.order("hf", "c1", "o1", "2026-03-01T10:00:00Z", "400")
        .await;
    let first = api.get("/programs/hf/events").await;
    let real = first.body["next"].as_str().unwrap().to_owned();
    let cursors = [
        "0".to_owned(),
        "~".to_owned(),
        "\u{10FFFF}".repeat(3),
        "%".to_owned(),
        "9999-12-31T00:00:00.000000Z#999999999999#CUSTOMER#2:hf#zzz".to_owned(),
        format!("{real}#"),
        "N#2:hf#0".to_owned(),
        "'\" OR 1=1 --".to_owned(),
        "é".repeat(350),
        "\u{1F600}".repeat(10),
    ];
    // None of them is a cursor a page hands out: each would have served
    // empty pages with itself as `next`, hiding every event for good.
    for cursor in &cursors {
        let r = api
            .get(&format!("/programs/hf/events?after={}", urlencode(cursor)))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "after={cursor:?}: {}",
            r.body
        );
    }
    let r = api
        .get(&format!("/programs/hf/events?after={}", urlencode(&real)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for limit in [
        "1e3",
        "99999999999999999999999",
        "1.0",
        " 1",
        "%F0%9F%98%80",
        "0x10",
        "+5",
    ] {
        let r = api.get(&format!("/programs/hf/events?limit={limit}")).await;
        assert_eq!(r.status, 400, "limit={limit}: {}", r.body);
    }
}

// Was a bug: a cursor of 700 four-byte characters (2,800 bytes) passes the
// length check (characters, not bytes) and reaches DynamoDB as a key
// condition value on the index's sort key, whose limit is 1,024 bytes:
// DynamoDB refuses the query with a ValidationException, answered 500
// `internal` instead of 400 (shared/service/src/notices.rs, the
// `MAX_CURSOR_CHARS` check at line 143 counts chars, not bytes).
async fn a_feed_cursor_over_the_key_size_is_400_not_500(api: Api) {
    api.program("hk", &ladder()).await;
    let cursor = "\u{1F600}".repeat(700);
    let r = api
        .get(&format!("/programs/hk/events?after={}", urlencode(&cursor)))
        .await;
    assert!(r.status < 500, "{} {}", r.status, r.body);
}

/// Hostile shard steps: cursors pointing elsewhere, junk nested in the
/// report, other programs' keys: 4xx JSON errors, never 5xx, nothing
/// written.
async fn hostile_shard_steps_are_4xx(api: Api) {
    api.program("hs", &ladder()).await;
    api.order("hs", "c1", "o1", "2026-03-01T10:00:00Z", "400")
        .await;
    let time = "2026-03-25T00:00:00Z";
    let before = api.status("hs", "c1", time).await;
    let report = |extra: Value| {
        let mut r = json!({"time": time, "customersDue": 0, "customersChanged": 0,
            "customersFailed": 0, "pointsExpired": "0", "trackerDaysDropped": 0, "failures": []});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    };
    let steps = [
        json!({"shard": 0, "time": time, "report": report(json!({"failures": "x"}))}),
        json!({"shard": 0, "time": time, "report": report(json!({"pointsExpired": "1e3"}))}),
        json!({"shard": 0, "time": time, "report": report(json!({"customersDue": -1}))}),
        json!({"shard": 0, "time": time, "report": report(json!({"customersDue": 1.5}))}),
        json!({"shard": 0, "time": time, "pageSize": 101}),
        json!({"shard": 0, "time": time, "pageSize": -5}),
        json!({"shard": 0, "time": time, "budgetMs": -1}),
        json!({"shard": 0, "time": time, "budgetMs": u64::MAX}),
        json!({"shard": 4294967295u64, "time": time}),
        json!({"shard": 4294967296u64, "time": time}),
        json!({"shard": "0", "time": time}),
        json!({"shard": 0, "time": time, "after": {"expiryShard": "E#0", "expiresOn": "",
            "pk": "x", "sk": "y"}}),
        json!({"shard": 0, "time": time, "after": {"expiryShard": "E#0",
            "expiresOn": "2026-01-01", "pk": "x", "sk": "y", "more": "z"}}),
        json!({"shard": 0, "time": time, "after": {"expiryShard": "E#0",
            "expiresOn": "2026-01-01", "pk": 1, "sk": "y"}}),
        json!({"shard": 0, "time": time, "after": [1, 2]}),
        json!({"shard": null, "time": time}),
        json!({"time": time, "totals": [{"shard": 0, "time": time, "report": report(json!({"time": 5}))}]}),
        json!({"time": "x", "totals": []}),
        json!({"time": time, "totals": [], "shard": 0}),
        json!({"time": 5}),
        json!({"time": "2026-03-25"}),
        json!({"time": "1969-12-31T00:00:00Z"}),
        json!([]),
        json!("x"),
    ];
    for step in steps {
        let r = api.post("/_local/scheduled", &step).await;
        assert!(
            (400..500).contains(&r.status),
            "{step}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body["error"]["code"].is_string(), "{step}: {}", r.body);
    }
    assert_eq!(
        api.status("hs", "c1", time).await,
        before,
        "nothing written"
    );
}

// Was a bug: the totals step adds the runs' u64 counters it is handed with `+=`
// (shared/service/src/expiry.rs:264-267 in `totals`, and `+= 1` in
// `expire_customer` at line 134 for a step's `report`): two runs each
// claiming u64::MAX customers due overflow, which panics in a build with
// overflow checks (this test's: answered 500) and wraps silently in the
// release profiles (a wrong total, metric and alarm). Fix: bound the
// figures when a step or totals is decoded (e.g. at most 10^12 customers,
// 400 beyond), or add with checked_add and answer 400.
async fn totals_with_huge_figures_are_400_not_500(api: Api) {
    let time = "2026-03-25T00:00:00Z";
    let run = json!({"shard": 0, "time": time, "report": {"time": time,
        "customersDue": u64::MAX, "customersChanged": 0, "customersFailed": 0,
        "pointsExpired": "0",
        "trackerDaysDropped": 0, "failures": []}});
    let mut second = run.clone();
    second["shard"] = json!(1);
    let r = api
        .post(
            "/_local/scheduled",
            &json!({"time": time, "totals": [run, second]}),
        )
        .await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
}

// Was a bug: a step's `after` whose `expiresOn` lies past the step's day (or is
// longer than the index's 1,024-byte sort key) is accepted by
// `check_cursor` (shared/service/src/expiry.rs:228 checks only the names,
// non-empty values of at most 2,048 bytes and the shard) and sent as the
// Query's ExclusiveStartKey; DynamoDB refuses it (the start key is outside
// the key condition `expiresOn <= :day`, or too large) and the step is
// answered 500 `internal`. Fix: in check_cursor, require `expiresOn` to be
// a `%Y-%m-%d` date no later than the step's day, `sk` to be `EXPIRY` and
// `pk` a customer key (`CUSTOMER#...`) of at most 2,048 bytes.
async fn a_shard_cursor_outside_the_query_is_400_not_500(api: Api) {
    api.program("hc", &ladder()).await;
    api.order("hc", "c1", "o1", "2026-03-01T10:00:00Z", "400")
        .await;
    let time = "2026-03-25T00:00:00Z";
    for after in [
        json!({"expiryShard": "E#0", "expiresOn": "9999-12-31", "pk": "CUSTOMER#2:hc#c1", "sk": "EXPIRY"}),
        json!({"expiryShard": "E#0", "expiresOn": "2".repeat(2000), "pk": "CUSTOMER#2:hc#c1", "sk": "EXPIRY"}),
    ] {
        let step = json!({"shard": 0, "time": time, "after": after});
        let r = api.post("/_local/scheduled", &step).await;
        assert!(
            (400..500).contains(&r.status),
            "{step}: {} {}",
            r.status,
            r.body
        );
    }
}

/// Ids of 128 four-byte characters are valid ids (1 to 128 characters):
/// the customer's upgrade must be stored and published like any other.
// Was a bug (DynamoDB): a notice item's index sort key `expiresOn` is
// `<instant>#<seq>#<pk>` (shared/store/src/lib.rs:603-604), and pk
// `CUSTOMER#<n>:<program>#<customer>` is over 1,030 bytes for such ids:
// past the 1,024 bytes DynamoDB allows an index sort key, so the whole
// transaction (the order, the state, the notice) is refused: the customer
// can never be upgraded (500 on every order that changes the tier).
// Fix: key the feed's sort key on a fixed-size digest of pk (or the
// customer's shard-local hash), e.g. `<instant>#<seq>#<sha256(pk)[..32]>`,
// and read pk/sk from the item as now.
async fn long_unicode_ids_are_upgraded_and_published(api: Api) {
    // 100 emoji each: the feed key is 855 bytes and all is well; 128 each
    // (still valid ids): 1,079 bytes, and the upgrade cannot be written.
    for n in [100, 128] {
        let program = "\u{1F600}".repeat(n);
        let customer = "\u{1F601}".repeat(n);
        let path = urlencode(&program);
        let r = api
            .put(&format!("/programs/{path}/config"), &ladder())
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // An order that changes no tier is stored: the ids themselves are
        // fine.
        let r = api
            .post(
                &format!("/programs/{path}/orders"),
                &e2e::order(&customer, "o0", "2026-03-01T09:00:00Z", "100"),
            )
            .await;
        assert_eq!(r.status, 200, "{n}: {}", r.body);
        let r = api
            .post(
                &format!("/programs/{path}/orders"),
                &e2e::order(&customer, "o1", "2026-03-01T10:00:00Z", "300"),
            )
            .await;
        assert_eq!(r.status, 200, "{n}: {}", r.body);
        let events = feed(&api, &program, 10).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["customerId"], customer.as_str());
    }
}

/// Re-evaluation: a config published twice quickly (two jobs), a return
/// after the job's upgrade, and the feed: one TierChanged per history
/// entry, the return's reversal included.
async fn reevaluation_twice_quickly_then_a_return(api: Api) {
    let config = |gold: u32| {
        let mut c = ladder();
        c["tiers"][2]["upgrade"]["criteria"][0]["min"] = json!(gold);
        c
    };
    api.program("rv", &config(600)).await;
    let customers: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    for c in &customers {
        api.order("rv", c, &format!("{c}-a"), "2026-03-01T10:00:00Z", "350")
            .await;
        api.order("rv", c, &format!("{c}-b"), "2026-03-02T10:00:00Z", "150")
            .await;
    }
    // Silver at 500; Gold at 500 by v2, then Gold at 450 by v3 at once.
    let v2 = api.put("/programs/rv/config", &config(500)).await;
    assert_eq!(v2.status, 200, "{}", v2.body);
    let v3 = api.put("/programs/rv/config", &config(450)).await;
    assert_eq!(v3.status, 200, "{}", v3.body);
    for reply in [&v2, &v3] {
        let id = reply.body["jobId"].as_str().expect("a job").to_owned();
        let mut done = false;
        for _ in 0..200 {
            let r = api.get(&format!("/programs/rv/jobs/{id}")).await;
            assert_eq!(r.status, 200, "{}", r.body);
            if r.body["status"] != "running" {
                assert_eq!(r.body["status"], "done", "{}", r.body);
                assert_eq!(r.body["customersFailed"], 0, "{}", r.body);
                done = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(done);
    }
    for c in &customers {
        let s = api.get(&format!("/programs/rv/customers/{c}")).await.body;
        assert_eq!(s["tier"], "Gold", "{s}");
        let ups = s["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["to"] == "Gold")
            .count();
        assert_eq!(ups, 1, "upgraded once: {s}");
    }
    // A return of the later order after the job: 350 left, Gold's rule of
    // the version that decided it (500 under v2 or 450 under v3) no longer
    // holds, Silver's (300) does.
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let ret = api
        .post(
            "/programs/rv/returns",
            &json!({"returnId": "r1", "orderId": "c0-b", "customerId": "c0",
                "returnedAt": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "amount": "150"}),
        )
        .await;
    assert_eq!(ret.status, 200, "{}", ret.body);
    let s = api.get("/programs/rv/customers/c0").await.body;
    assert_eq!(s["tier"], "Silver", "{s}");
    assert_feed_matches_history(&api, "rv", &customers, None).await;
}

/// The event's `at` is the instant of the change it tells, as the history
/// (and the status's `asOf`) know it.
// Was a bug: notice items format `at` and `on` with `SecondsFormat::Secs`
// (shared/service/src/notices.rs:47 and :81, `timestamp`), dropping the
// fraction: an order placed at 10:00:00.5 publishes `at` 10:00:00, half a
// second before the change, and a re-evaluation (stamped with the
// publication's wall time, nanoseconds) always publishes an `at` earlier
// than its history entry. A consumer that asks the status `asOf` the
// event's `at` is refused (422 `as_of_before_last_change`). Fix: format
// with `SecondsFormat::AutoSi` as the status does (the Pipe forwards the
// string as is).
async fn an_events_at_is_the_changes_instant(api: Api) {
    api.program("ea", &ladder()).await;
    api.order("ea", "c1", "o1", "2026-03-01T10:00:00.500Z", "400")
        .await;
    let status = api
        .get("/programs/ea/customers/c1?asOf=2026-03-01T11:00:00Z")
        .await;
    let history_at = status.body["history"][0]["at"].as_str().unwrap().to_owned();
    let events = feed(&api, "ea", 10).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let at = events[0]["at"].as_str().unwrap();
    let asked = api
        .get(&format!("/programs/ea/customers/c1?asOf={}", urlencode(at)))
        .await;
    assert_eq!(
        asked.status, 200,
        "status as of the event's at: {}",
        asked.body
    );
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(at).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&history_at).unwrap()
    );
}

/// A return re-judges a `config vN` upgrade under version N, as it does
/// an order's, even after a later version raised the threshold again.
// Was a bug: the return's rule book holds only the versions its orders were
// decided under (shared/service/src/transact.rs:253-272,
// `order_history`), and `rules_for` falls back to the current version
// when a version is missing (shared/engine/src/reversal.rs:58). An
// upgrade by re-evaluation under v2 (Gold at 500) is then judged under v3
// (Gold at 600 again) by any later return: a return of 50 that leaves 500
// (still Gold under v2) demotes the customer to Silver. Fix: in
// order_history, also load the versions named by the history's changes
// (`TierChange::config_version` of the re-evaluations in
// `state.history`), and make a missing version an error (500
// configuration) rather than a silent fallback.
async fn a_return_judges_a_reevaluation_under_its_own_version(api: Api) {
    let config = |gold: u32| {
        let mut c = ladder();
        c["tiers"][2]["upgrade"]["criteria"][0]["min"] = json!(gold);
        // No validity: only the upgrade rules matter here.
        for t in [1, 2] {
            c["tiers"][t].as_object_mut().unwrap().remove("retention");
        }
        c
    };
    api.program("rb", &config(600)).await;
    api.order("rb", "c", "a", "2026-03-01T10:00:00Z", "350")
        .await;
    api.order("rb", "c", "b", "2026-03-02T10:00:00Z", "150")
        .await;
    api.order("rb", "c", "x", "2026-03-03T10:00:00Z", "50")
        .await;
    let v2 = api.put("/programs/rb/config", &config(500)).await;
    assert_eq!(v2.status, 200, "{}", v2.body);
    assert_eq!(
        api.finished_job("rb", v2.body["jobId"].as_str().expect("a job"))
            .await["customersUpgraded"],
        1
    );
    let v3 = api.put("/programs/rb/config", &config(600)).await;
    assert_eq!(v3.status, 200, "{}", v3.body);
    assert_eq!(
        api.finished_job("rb", v3.body["jobId"].as_str().expect("a job"))
            .await["status"],
        "done"
    );
    assert_eq!(
        api.get("/programs/rb/customers/c").await.body["tier"],
        "Gold"
    );
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let ret = api
        .post(
            "/programs/rb/returns",
            &json!({"returnId": "r1", "orderId": "x", "customerId": "c",
                "returnedAt": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}),
        )
        .await;
    assert_eq!(ret.status, 200, "{}", ret.body);
    // 500 remain, placed before v2's publication: Gold under v2.
    assert_eq!(ret.body["downgrades"], json!([]), "{}", ret.body);
    assert_eq!(
        api.get("/programs/rb/customers/c").await.body["tier"],
        "Gold"
    );
}

/// Every customer who qualifies as of the change is upgraded by its job,
/// whatever else touches them meanwhile without judging upgrades (the
/// scheduled job expiring their points).
// Was a bug: the job skips a customer whose state names the version already or
// whose last event is after the change (shared/service/src/jobs.rs:186-189,
// `judged` and `later`), but the scheduled job's commit stamps the state
// with the current version (transact.rs:209, `s.config_version =
// Some(loaded.version)`) and its time as the last event
// (engine expiry.rs:48, `saw_event(now)`) without judging any upgrade.
// A customer the scheduled job reaches before the re-evaluation does is
// skipped and stays below the tier they qualify for until their next
// order (on AWS, where a job advances only while its container serves
// requests, for days). The same holds for a redemption. Fix: record the
// last version whose upgrade rules were judged for the customer
// separately (say `judged_version`, set by orders, returns and the
// re-evaluation only) and skip on it alone; for a customer with a later
// event, judge as of that event's instant rather than skip (or judge at
// max(at, last_event_at), which never moves them back in time).
async fn the_scheduled_job_racing_a_reevaluation_does_not_cost_an_upgrade(api: Api) {
    let config = |gold: u32| {
        let mut c = ladder();
        c["tiers"][2]["upgrade"]["criteria"][0]["min"] = json!(gold);
        for t in [1, 2] {
            c["tiers"][t].as_object_mut().unwrap().remove("retention");
        }
        c["pointsExpiry"] = json!({"months": 1});
        c
    };
    api.program("rs", &config(600)).await;
    let customers: Vec<String> = (0..150).map(|i| format!("c{i}")).collect();
    for c in &customers {
        api.order("rs", c, &format!("{c}-a"), "2026-03-01T10:00:00Z", "350")
            .await;
        api.order("rs", c, &format!("{c}-b"), "2026-03-02T10:00:00Z", "200")
            .await;
    }
    let v2 = api.put("/programs/rs/config", &config(500)).await;
    assert_eq!(v2.status, 200, "{}", v2.body);
    let time = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    api.run_scheduled(&time).await;
    let done = api
        .finished_job("rs", v2.body["jobId"].as_str().expect("a job"))
        .await;
    assert_eq!(done["status"], "done", "{done}");
    let mut silver = Vec::new();
    for c in &customers {
        let s = api
            .get(&format!("/programs/rs/customers/{c}?asOf={time}"))
            .await
            .body;
        if s["tier"] != "Gold" {
            silver.push(c.clone());
        }
    }
    assert!(
        silver.is_empty(),
        "{} of {} customers qualify for Gold under v2 (550 >= 500) but were \
         skipped: {done}",
        silver.len(),
        customers.len()
    );
}

/// A reader following the feed while many customers' changes are being
/// written sees every event (once settled), whatever its page size.
async fn a_reader_following_the_feed_during_a_burst_misses_nothing(api: Api) {
    let mut config = ladder();
    for t in [1, 2] {
        config["tiers"][t]
            .as_object_mut()
            .unwrap()
            .remove("retention");
    }
    api.program("fb", &config).await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        // Customers at once, each one's orders in turn.
        let customers = (0..60).map(|c| {
            let api = &api;
            async move {
                for i in 0..3 {
                    let body = e2e::order(
                        &format!("c{c}"),
                        &format!("c{c}-o{i}"),
                        &format!("2026-03-01T10:00:0{i}Z"),
                        "300",
                    );
                    let r = api.post("/programs/fb/orders", &body).await;
                    assert_eq!(r.status, 200, "{}", r.body);
                }
            }
        });
        futures::future::join_all(customers).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = async {
        let mut seen = std::collections::HashSet::new();
        let mut after: Option<String> = None;
        let mut finished_at: Option<std::time::Instant> = None;
        loop {
            let query = match &after {
                Some(cursor) => format!("?limit=1&after={}", urlencode(cursor)),
                None => "?limit=1".to_owned(),
            };
            let page = api.get(&format!("/programs/fb/events{query}")).await;
            assert_eq!(page.status, 200, "{}", page.body);
            for e in page.body["events"].as_array().unwrap() {
                seen.insert(e["eventId"].as_str().unwrap().to_owned());
            }
            if let Some(next) = page.body["next"].as_str() {
                after = Some(next.to_owned());
            }
            if page.body["events"].as_array().unwrap().is_empty() {
                // Caught up: a short pause leaves the writers the CPU (on
                // a starved core the reader's spin stretched the test to
                // 15 minutes), and the reader still reads during the burst.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                let since = *finished_at.get_or_insert_with(std::time::Instant::now);
                // Past the settle time, and at the end of the feed.
                if since.elapsed() > std::time::Duration::from_secs(12)
                    && page.body["events"].as_array().unwrap().is_empty()
                {
                    return seen;
                }
            }
        }
    };
    let ((), seen) = futures::future::join(writers, reader).await;
    let all = feed(&api, "fb", 1000).await;
    assert_eq!(all.len(), 180, "60 customers, 3 upgrades each");
    let missed: Vec<&Value> = all
        .iter()
        .filter(|e| !seen.contains(e["eventId"].as_str().unwrap()))
        .collect();
    assert!(
        missed.is_empty(),
        "{} events never served: {missed:?}",
        missed.len()
    );
}

/// A job whose config version cannot be read fails (and says so) rather
/// than judging under another; hostile job ids are 404 JSON.
async fn a_job_of_an_unreadable_version_fails_and_hostile_ids_are_404(api: Api) {
    api.program("jv", &ladder()).await;
    api.order("jv", "c1", "o1", "2026-03-01T10:00:00Z", "400")
        .await;
    let before = api.status("jv", "c1", "2026-03-02T00:00:00Z").await;
    let stalled = tier_store::JobRecord {
        id: "0123456789abcdef0123456789abcdef".into(),
        kind: "reevaluation".into(),
        status: "running".into(),
        request: json!({"configVersion": 99, "at": "2026-03-01T12:00:00Z"}).to_string(),
        owner: "a process that died".into(),
        heartbeat_ms: (chrono::Utc::now().timestamp_millis() - 60_000) as u64,
        cursors: json!([{"done": false}, {"done": false}]).to_string(),
        progress: "{}".into(),
        created_at: "2026-11-30T00:00:00Z".into(),
        finished_at: None,
    };
    assert!(api.store().create_job("jv", &stalled).await.unwrap());
    let mut status = Value::Null;
    for _ in 0..100 {
        let r = api.get(&format!("/programs/jv/jobs/{}", stalled.id)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        status = r.body;
        if status["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(api.status("jv", "c1", "2026-03-02T00:00:00Z").await, before);
    // Another program's job is not this one's.
    api.program("jw", &ladder()).await;
    let r = api.get(&format!("/programs/jw/jobs/{}", stalled.id)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    for id in [
        "0123456789ABCDEF0123456789ABCDEF",
        "x",
        "%F0%9F%98%80",
        "..%2F..%2Fconfig",
        "0123456789abcdef0123456789abcdef0",
    ] {
        let r = api.get(&format!("/programs/jv/jobs/{id}")).await;
        assert!(
            (400..500).contains(&r.status),
            "{id}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body["error"]["code"].is_string(), "{id}: {}", r.body);
    }
    let long = "a".repeat(5000);
    let r = api.get(&format!("/programs/jv/jobs/{long}")).await;
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
}

/// A version that adds a tracker and a tier criterion on it: the job
/// rebuilds the tracker from the customer's orders and upgrades who
/// qualifies; a customer whose orders left the window does not.
async fn a_new_tracker_criterion_upgrades_through_the_job(api: Api) {
    let v1 = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Gold", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "G", "kind": "lifetimePurchases", "min": 10000}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    });
    api.program("nt", &v1).await;
    let recent = (chrono::Utc::now() - chrono::Duration::days(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let old = (chrono::Utc::now() - chrono::Duration::days(400))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    api.order("nt", "recent", "r1", &recent, "600").await;
    api.order("nt", "old", "o1", &old, "600").await;
    let mut v2 = v1.clone();
    v2["trackers"] = json!([{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}]);
    v2["tiers"][1]["upgrade"] = json!({"criteria": [
        {"id": "T", "kind": "tracker", "tracker": "spend12m", "min": "500"}],
        "condition": "all", "upgradeType": "lazy"});
    let r = api.put("/programs/nt/config", &v2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = api
        .finished_job("nt", r.body["jobId"].as_str().expect("a job"))
        .await;
    assert_eq!(
        (
            &done["status"],
            &done["customersUpgraded"],
            &done["customersFailed"]
        ),
        (&json!("done"), &json!(1), &json!(0)),
        "{done}"
    );
    assert_eq!(
        api.get("/programs/nt/customers/recent").await.body["tier"],
        "Gold"
    );
    assert_eq!(
        api.get("/programs/nt/customers/old").await.body["tier"],
        "Member"
    );
    let events = feed(&api, "nt", 10).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["cause"], "config v2");
    assert_eq!(events[0]["criteria"], "[\"T\"]");
}

// Was a bug: a step sent to `/_local/scheduled` while the job ran in the
// background gave it a second runner; each counted only the customers it
// upgraded itself, and the last save won (an adversary saw 217 of 400).
/// A re-evaluation stepped while it already runs counts every customer its
/// version upgraded once, and ends done.
async fn a_step_sent_to_a_running_reevaluation_counts_each_upgrade_once(api: Api) {
    let config = |gold: u32| {
        let mut c = ladder();
        c["tiers"][2]["upgrade"]["criteria"][0]["min"] = json!(gold);
        for t in [1, 2] {
            c["tiers"][t].as_object_mut().unwrap().remove("retention");
        }
        c
    };
    api.program("rr", &config(600)).await;
    let customers: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
    for c in &customers {
        api.order("rr", c, &format!("{c}-a"), "2026-03-01T10:00:00Z", "550")
            .await;
    }
    let v2 = api.put("/programs/rr/config", &config(500)).await;
    assert_eq!(v2.status, 200, "{}", v2.body);
    let job = v2.body["jobId"].as_str().expect("a job").to_owned();
    let mut step = json!({"reevaluate": {"programId": "rr", "jobId": job}});
    for _ in 0..3 {
        let r = api.post("/_local/scheduled", &step).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["more"] == false {
            break;
        }
        step = json!({"reevaluate": r.body});
    }
    let done = api.finished_job("rr", &job).await;
    assert_eq!(
        (
            &done["status"],
            &done["customersSeen"],
            &done["customersUpgraded"],
            &done["customersFailed"]
        ),
        (&json!("done"), &json!(200), &json!(200), &json!(0)),
        "{done}"
    );
    // Done stays done, whoever finishes last.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let later = api.get(&format!("/programs/rr/jobs/{job}")).await.body;
    assert_eq!(later, done);
    assert_feed_matches_history(&api, "rr", &customers, None).await;
}

on_both_engines!(
    a_step_sent_to_a_running_reevaluation_counts_each_upgrade_once,
    a_new_tracker_criterion_upgrades_through_the_job,
    a_job_of_an_unreadable_version_fails_and_hostile_ids_are_404,
    a_reader_following_the_feed_during_a_burst_misses_nothing,
    the_scheduled_job_racing_a_reevaluation_does_not_cost_an_upgrade,
    a_return_judges_a_reevaluation_under_its_own_version,
    an_events_at_is_the_changes_instant,
    concurrent_and_duplicate_orders_publish_each_change_once,
    concurrent_job_runs_and_orders_publish_each_notice_once,
    hostile_feed_cursors_are_refused_or_served,
    a_feed_cursor_over_the_key_size_is_400_not_500,
    hostile_shard_steps_are_4xx,
    totals_with_huge_figures_are_400_not_500,
    a_shard_cursor_outside_the_query_is_400_not_500,
    long_unicode_ids_are_upgraded_and_published,
    reevaluation_twice_quickly_then_a_return,
);
