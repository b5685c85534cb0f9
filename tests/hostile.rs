//! Single hostile requests that used to abort or wedge the service, each a
//! regression test on both engines: every one is answered 4xx with a JSON
//! code (or served correctly), nothing is written by a refused one, and the
//! server and every customer keep working afterwards.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{on_both_engines, order, Api, Engine};
use serde_json::{json, Value};

fn config() -> Value {
    json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "tiers": [{"name": "Base", "earnRate": "1"},
                  {"name": "Gold", "earnRate": "2", "upgrade": {
                      "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 1000}],
                      "condition": "all", "upgradeType": "lazy"}}]
    })
}

async fn still_serving(api: &Api) {
    let r = api.get("/health").await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
}

/// `bad` is refused 422 `invalid_config` by `validate` and by `PUT
/// config`: the first problem each named.
async fn refused_as_invalid_config(api: &Api, bad: &Value) -> Vec<Value> {
    let mut details = Vec::new();
    for (method, path) in [
        ("POST", "/programs/p/config/validate"),
        ("PUT", "/programs/p/config"),
    ] {
        let r = api.send(method, path, Some(bad.to_string())).await;
        assert_eq!(
            (r.status, r.code()),
            (422, "invalid_config"),
            "{method} {path}"
        );
        details.push(r.body["error"]["details"][0].clone());
    }
    details
}

async fn absurd_expressions_are_422_and_the_server_stays_up(api: Api) {
    let deep = format!("{}A{}", "(".repeat(6000), ")".repeat(6000));
    let long = vec!["A"; 100_000].join(" AND ");
    for source in [deep, long] {
        let mut bad = config();
        bad["tiers"][1]["upgrade"]["condition"] = json!({ "custom": source });
        for detail in refused_as_invalid_config(&api, &bad).await {
            assert_eq!(detail["path"], "/tiers/1/upgrade/condition");
            assert!(
                detail["message"]
                    .as_str()
                    .unwrap()
                    .contains("256 characters"),
                "names the limit: {detail}"
            );
        }
        still_serving(&api).await;
    }
    let mut nested = config();
    nested["tiers"][1]["upgrade"]["condition"] =
        json!({"custom": format!("{}A{}", "(".repeat(17), ")".repeat(17))});
    let r = api.post("/programs/p/config/validate", &nested).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["details"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nested deeper than 16"));
}

/// Found by an adversary: 290,000 warning days (1.9 MB, under the body
/// limit) took 79 s to refuse, each compared with those before it, kept
/// `/health` waiting behind it, and answered 42 MB of problems. Past five
/// the entries are not read one by one, and a reply lists 100 problems at
/// most (its message counts them all).
async fn a_long_list_in_a_config_is_refused_at_once_in_a_short_reply(api: Api) {
    let mut warned = config();
    warned["tiers"][1]["retention"] = json!({
        "validity": {"months": 12, "from": "tierStart"},
        "criteria": [{"id": "K", "kind": "lifetimePurchases", "min": 1}],
        "condition": "all", "onFail": "oneDown",
        "warnDaysBefore": vec![7; 250_000]
    });
    let r = api
        .send(
            "POST",
            "/programs/p/config/validate",
            Some(warned.to_string()),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_config"));
    let details = r.body["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0]["path"], "/tiers/1/retention/warnDaysBefore");
    // A problem in each of 5,000 tiers: the first 100 are told.
    let mut tiers = vec![json!({"name": "Base", "earnRate": "1"})];
    tiers.extend((0..5_000).map(|_| json!({"name": "", "earnRate": "1"})));
    let mut many = config();
    many["tiers"] = json!(tiers);
    let r = api
        .send("PUT", "/programs/p/config", Some(many.to_string()))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_config"));
    assert_eq!(r.body["error"]["details"].as_array().unwrap().len(), 100);
    let message = r.body["error"]["message"].as_str().unwrap();
    let total: usize = message
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap();
    assert!(total > 5_000, "{message}");
    assert_eq!(api.get("/programs/p/config").await.status, 404);
    still_serving(&api).await;
}

/// Found by an adversary: the local API's own routes (health, the job, the
/// console, the contract) answered another method with an empty 405. The
/// documented ones are checked here (the contract check holds every path
/// outside openapi.yaml to a 404).
async fn another_method_on_a_local_route_is_a_json_405(api: Api) {
    for (method, path) in [
        ("DELETE", "/health"),
        ("GET", "/_local/scheduled"),
        ("POST", "/_local/metrics"),
    ] {
        let r = api.send(method, path, None).await;
        assert_eq!(
            (r.status, r.code()),
            (405, "method_not_allowed"),
            "{method} {path}"
        );
    }
    still_serving(&api).await;
}

async fn the_largest_figures_are_served_exactly(api: Api) {
    api.program("p", &config()).await;
    // Earn rate 1 on 10^15: a partial return used to overflow 10^15 x 10^15.
    let placed = api
        .order("p", "c", "big", "2026-01-01T00:00:00Z", "1000000000000000")
        .await;
    assert_eq!(placed["pointsAwarded"], "1000000000000000");
    let r = api
        .post(
            "/programs/p/returns",
            &json!({"returnId": "r1", "orderId": "big",
            "customerId": "c", "returnedAt": "2026-01-02T00:00:00Z", "amount": "1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pointsReversed"], "1");
    let r = api
        .post("/programs/p/returns", &json!({"returnId": "r2", "orderId": "big",
            "customerId": "c", "returnedAt": "2026-01-02T00:00:00Z", "amount": "333333333333333.333333"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pointsReversed"], "333333333333333.33");

    // A dynamic upgrade on a gross amount tracker of 5 x 10^14, crossed by
    // an order of 10^15: the split used to multiply 10^15 by 10^15.
    let dynamic = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "gross", "measure": "grossBillAmount", "period": {"months": 12}}],
        "tiers": [{"name": "Base", "earnRate": "1"},
                  {"name": "Gold", "earnRate": "2", "upgrade": {
                      "criteria": [{"id": "G", "kind": "tracker", "tracker": "gross", "min": "500000000000000"}],
                      "condition": "all", "upgradeType": "dynamic"}}]
    });
    api.program("d", &dynamic).await;
    let mut big = order("c", "o1", "2026-01-01T00:00:00Z", "1000000000000000");
    big["grossAmount"] = json!("1000000000000000");
    let r = api.post("/programs/d/orders", &big).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tierAfter"], "Gold");
    assert_eq!(r.body["pointsAwarded"], "1500000000000000");
    still_serving(&api).await;
}

async fn line_items_beyond_the_limit_are_refused_and_nothing_is_written(api: Api) {
    let with_tracker = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "lines", "measure": "lineItemPrice", "period": {"months": 12}}],
        "tiers": [{"name": "Base", "earnRate": "1"},
                  {"name": "Gold", "earnRate": "2", "upgrade": {
                      "criteria": [{"id": "L", "kind": "tracker", "tracker": "lines", "min": "100"}],
                      "condition": "all", "upgradeType": "dynamic"}}]
    });
    api.program("p", &with_tracker).await;
    let mut o = order("c", "o1", "2026-01-01T00:00:00Z", "10");
    o["lineItems"] = Value::Array(
        (0..100)
            .map(|i| json!({"sku": format!("s{i}"), "price": "1000000000000000", "quantity": 1000000}))
            .collect(),
    );
    let r = api.post("/programs/p/orders", &o).await;
    assert_eq!((r.status, r.code()), (422, "amount_out_of_range"));
    assert_eq!(r.body["error"]["details"][0]["field"], "lineItems");
    let r = api.get("/programs/p/customers/c").await;
    assert_eq!(r.code(), "customer_not_found", "nothing was written");
    let mut decimals = order("c", "o2", "2026-01-01T00:00:00Z", "10");
    decimals["amount"] = json!("1.0000000000000000000000000001");
    let r = api.post("/programs/p/orders", &decimals).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("more than 6 decimals"));
}

/// Config v1 without trackers, a large line-item order, a partial return,
/// then v2 adding a `lineItemPrice` tracker: every later read, order and
/// job run for that customer used to kill the server.
async fn a_tracker_added_later_rebuilds_from_the_largest_orders(api: Api) {
    api.program("p", &config()).await;
    let mut o = order("c", "o1", "2026-06-01T00:00:00Z", "1000000000000000");
    o["lineItems"] = Value::Array(
        (0..100)
            .map(|i| json!({"sku": format!("s{i}"), "price": "100000000", "quantity": 100000}))
            .collect(),
    );
    let r = api.post("/programs/p/orders", &o).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .post(
            "/programs/p/returns",
            &json!({"returnId": "r1", "orderId": "o1",
            "customerId": "c", "returnedAt": "2026-06-02T00:00:00Z", "amount": "1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut v2 = config();
    v2["trackers"] = json!([{"id": "lines", "measure": "lineItemPrice", "period": {"months": 12}}]);
    v2["tiers"][1]["upgrade"]["criteria"] =
        json!([{"id": "L", "kind": "tracker", "tracker": "lines", "min": "100"}]);
    api.program("p", &v2).await;
    let status = api.status("p", "c", "2026-06-03T00:00:00Z").await;
    assert_eq!(status["trackers"]["lines"], "999999999999999");
    api.order("p", "c", "o2", "2026-06-04T00:00:00Z", "5").await;
    let job = api
        .post(
            "/_local/scheduled",
            &json!({"time": "2027-07-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(job.status, 200, "{}", job.body);
    assert_eq!(job.body["customersFailed"], 0);
    still_serving(&api).await;
}

async fn long_texts_and_ids_are_refused_and_the_customer_keeps_working(api: Api) {
    api.program("p", &config()).await;
    let r = api
        .put(
            "/programs/p/customers/c/tier",
            &json!({"tier": "Gold", "reason": "x".repeat(560 * 1024)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1000"));
    for i in 0..3 {
        let r = api
            .put(
                "/programs/p/customers/c/tier",
                &json!({"tier": if i % 2 == 0 { "Gold" } else { "Base" }, "reason": "y".repeat(1000)}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    api.order("p", "c", "o1", "2026-01-01T00:00:00Z", "10")
        .await;
    let r = api
        .get(&format!("/programs/p/customers/{}", "c".repeat(3000)))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "not a 503");
    let r = api
        .get(&format!(
            "/programs/p/customers/c?asOf={}",
            "9".repeat(5000)
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"].as_str().unwrap().len() < 300);
}

async fn only_the_documented_decimals_and_dates_are_read(api: Api) {
    api.program("p", &config()).await;
    for amount in ["1E+3", "1_000", "+5", ".5", "5.", " 5 ", "1e3", "0x10"] {
        let r = api
            .post(
                "/programs/p/orders",
                &order("c", "o", "2026-01-01T00:00:00Z", amount),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "amount {amount:?}"
        );
    }
    // A JSON number literal follows the same grammar (sent as raw text:
    // serde_json's Value would rewrite it).
    let number = order("c", "o", "2026-01-01T00:00:00Z", "1")
        .to_string()
        .replace(r#""amount":"1""#, r#""amount":1.5e3"#);
    assert!(number.contains("1.5e3"));
    let r = api.send("POST", "/programs/p/orders", Some(number)).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    for at in [
        "0000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "9999-12-31T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
    ] {
        let r = api
            .post("/programs/p/orders", &order("c", "o", at, "5"))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "placedAt {at}"
        );
    }
    let r = api.get("/programs/p/customers/c").await;
    assert_eq!(r.code(), "customer_not_found", "nothing was written");
    let mut start = config();
    start["startDate"] = json!("9999-01-01T00:00:00Z");
    assert_eq!(api.put("/programs/q/config", &start).await.status, 422);
    for edge in ["1970-01-01T00:00:00Z", "2199-12-31T23:59:59Z"] {
        let r = api
            .post("/programs/p/orders", &order("edge", edge, edge, "5"))
            .await;
        assert_eq!(r.status, 200, "{edge}: {}", r.body);
    }
}

async fn free_orders_count_as_visits_and_earn_nothing(api: Api) {
    let visits = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "v", "measure": "visits", "period": {"days": 30}}],
        "tiers": [{"name": "Base", "earnRate": "1"},
                  {"name": "Gold", "earnRate": "2", "upgrade": {
                      "criteria": [{"id": "V", "kind": "tracker", "tracker": "v", "min": 2}],
                      "condition": "all", "upgradeType": "lazy"}}]
    });
    api.program("p", &visits).await;
    let first = api
        .order("p", "c", "o1", "2026-01-01T00:00:00Z", "0.00")
        .await;
    assert_eq!(first["pointsAwarded"], "0");
    let second = api.order("p", "c", "o2", "2026-01-02T00:00:00Z", "0").await;
    assert_eq!(second["tierAfter"], "Gold", "two free visits reach Gold");
    let status = api.status("p", "c", "2026-01-03T00:00:00Z").await;
    assert_eq!(status["trackers"]["v"], "2");
    assert_eq!(status["currentPoints"], "0");
    let r = api
        .post(
            "/programs/p/returns",
            &json!({"returnId": "r", "orderId": "o1",
            "customerId": "c", "returnedAt": "2026-01-04T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "return_exceeds_order"),
        "nothing to return"
    );
}

/// A customer whose stored state cannot be read is reported and skipped by
/// the job; the others are processed.
async fn the_job_skips_a_broken_customer_and_goes_on(api: Api) {
    let expiring = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z", "pointsExpiry": {"days": 30},
        "tiers": [{"name": "Base", "earnRate": "1"}]
    });
    api.program("p", &expiring).await;
    api.order("p", "good", "o1", "2026-01-01T00:00:00Z", "10")
        .await;
    api.order("p", "bad", "o1", "2026-01-01T00:00:00Z", "10")
        .await;
    let store = api.store();
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key(
            "pk",
            AttributeValue::S(tier_store::keys::customer_pk("p", "bad")),
        )
        .key("sk", AttributeValue::S(tier_store::keys::STATE.into()))
        .update_expression("SET #s = :garbage")
        .expression_attribute_names("#s", "state")
        .expression_attribute_values(":garbage", AttributeValue::B(vec![1, 2, 3].into()))
        .send()
        .await
        .unwrap();
    let job = api
        .post(
            "/_local/scheduled",
            &json!({"time": "2026-03-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(job.status, 200, "{}", job.body);
    assert_eq!(job.body["customersDue"], 2);
    assert_eq!(job.body["customersChanged"], 1);
    assert_eq!(job.body["customersFailed"], 1);
    assert_eq!(job.body["failures"][0]["customerId"], "bad");
    assert_eq!(job.body["failures"][0]["code"], "internal");
    let good = api.status("p", "good", "2026-03-01T00:00:00Z").await;
    assert_eq!(
        good["currentPoints"], "0",
        "the good customer's points expired"
    );
    let r = api.get("/programs/p/customers/bad").await;
    assert_eq!((r.status, r.code()), (500, "internal"));
    still_serving(&api).await;
}

/// The scheduled route reads a free-form event: a key given twice was
/// read as its last value (`{"shard": 0, "shard": 9}` ran shard 9), where
/// every typed body refuses it. Refused, nothing run, the API goes on.
async fn a_scheduled_event_naming_a_key_twice_is_refused(api: Api) {
    api.program("p", &config()).await;
    api.order("p", "c", "o1", "2026-06-01T00:00:00Z", "50")
        .await;
    let before = api.get("/programs/p/events").await;
    for twice in [
        r#"{"time": "2026-06-02T00:00:00Z", "time": "2030-01-01T00:00:00Z"}"#,
        r#"{"shard": 0, "time": "2030-01-01T00:00:00Z", "shard": 0}"#,
        r#"{"time": "2030-01-01T00:00:00Z", "detail": {"a": 1, "a": 2}}"#,
    ] {
        let r = api
            .send("POST", "/_local/scheduled", Some(twice.to_string()))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "{twice}: {}",
            r.body
        );
        assert!(r.body.to_string().contains("given twice"), "{}", r.body);
    }
    let after = api.get("/programs/p/events").await;
    assert_eq!(before.body, after.body, "a refused job changed nothing");
    still_serving(&api).await;
}

/// A body over the local API's 2 MiB limit is a JSON 413, on every route
/// that takes one, and the API goes on.
async fn a_body_over_the_limit_is_a_json_413(api: Api) {
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    for path in [
        "/programs/p/orders",
        "/programs/p/config",
        "/console/api/programs/p/orders",
        "/_local/scheduled",
    ] {
        let method = if path.ends_with("/config") {
            "PUT"
        } else {
            "POST"
        };
        let reply = api.send(method, path, Some(huge.clone())).await;
        assert_eq!(
            (reply.status, reply.code()),
            (413, "payload_too_large"),
            "{path}"
        );
    }
    still_serving(&api).await;
}

/// Eight trackers over 100 years each were a valid config, and daily
/// orders then grew a customer's state past the item limit, after which
/// every order and admin action of that customer was refused for good.
/// A config may keep at most `MAX_KEPT_DAYS` days of figures in all
/// (trackers' longest windows plus the points expiry period): beyond, it
/// is refused before anything is stored, the version in force keeps
/// serving, and a config at the bound is taken.
async fn a_config_whose_state_could_outgrow_an_item_is_refused(api: Api) {
    api.program("p", &config()).await;
    let with_trackers = |days: u32, expiry_months: Option<u32>| {
        let mut c = config();
        c["trackers"] = json!((0..8)
            .map(|i| json!({"id": format!("t{i}"), "measure": "billAmount", "period": {"days": days}}))
            .collect::<Vec<_>>());
        if let Some(m) = expiry_months {
            c["pointsExpiry"] = json!({"months": m});
        }
        c
    };
    for bad in [with_trackers(36_600, None), with_trackers(1_500, Some(1))] {
        for detail in refused_as_invalid_config(&api, &bad).await {
            assert_eq!(detail["code"], "too_many_kept_days", "{detail}");
            assert!(
                detail["message"].as_str().unwrap().contains("12000"),
                "{detail}"
            );
        }
        let r = api
            .post("/programs/p/simulations", &json!({"config": bad}))
            .await;
        assert_eq!((r.status, r.code()), (422, "invalid_config"), "a draft too");
    }
    let r = api.get("/programs/p/config").await;
    assert_eq!(r.body["version"], 1, "nothing was stored");
    api.order("p", "c1", "o1", "2026-01-01T00:00:00Z", "1500")
        .await;
    // At the bound: 8 x 1,500 days + a month of expiry (counted as 31
    // days) = 12,031 is over; 8 x 1,496 + 31 = 11,999 is not.
    let r = api
        .put("/programs/p/config", &with_trackers(1_496, Some(1)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    still_serving(&api).await;
}

/// A tier name with control characters was published, then refused by
/// the routes that take a tier by name and carried into history and
/// events as it was.
async fn a_tier_name_with_control_characters_is_refused(api: Api) {
    for name in ["G\u{0}", "Gold\u{1b}[31m", "Go\nld"] {
        let mut bad = config();
        bad["tiers"][1]["name"] = json!(name);
        for detail in refused_as_invalid_config(&api, &bad).await {
            assert_eq!(detail["path"], "/tiers/1/name", "{name:?}");
        }
    }
    let r = api.get("/programs/p/config").await;
    assert_eq!(r.status, 404, "nothing was stored: {}", r.body);
    still_serving(&api).await;
}

/// An order, return or redemption dated past the API's clock plus the
/// default lead is refused before anything is read or written: accepted,
/// it would have run the customer's clock ahead.
async fn events_dated_past_the_lead_are_refused_and_nothing_is_written(engine: Engine) {
    let api = Api::start_with_event_lead(engine, tier_service::DEFAULT_EVENT_LEAD_SECONDS).await;
    let mut program = config();
    program["pointsExpiry"] = json!({"months": 1});
    api.program("p", &program).await;
    let now = chrono::Utc::now();
    let at = |offset: chrono::Duration| {
        (now + offset).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let past = at(-chrono::Duration::hours(1));
    let r = api
        .post("/programs/p/orders", &order("c", "o1", &past, "100"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let before = api.get("/programs/p/customers/c").await.body;

    // A day ahead, and a year ahead: the lead is minutes, not a day.
    for ahead in [chrono::Duration::days(1), chrono::Duration::days(400)] {
        let when = at(ahead);
        let refusals = [
            (
                "/programs/p/orders".to_owned(),
                order("c", "o2", &when, "5000"),
                "placedAt",
            ),
            (
                "/programs/p/orders".to_owned(),
                order("new", "o3", &when, "5"),
                "placedAt",
            ),
            (
                "/programs/p/returns".to_owned(),
                json!({"returnId": "r", "orderId": "o1", "customerId": "c", "returnedAt": when}),
                "returnedAt",
            ),
            (
                "/programs/p/customers/c/redemptions".to_owned(),
                json!({"redemptionId": "x", "points": "1", "at": when}),
                "at",
            ),
        ];
        for (path, body, field) in refusals {
            let r = api.post(&path, &body).await;
            assert_eq!(
                (r.status, r.code()),
                (422, "event_in_future"),
                "{path} {when}: {}",
                r.body
            );
            assert_eq!(r.body["error"]["details"][0]["field"], field, "{}", r.body);
        }
    }
    let after = api.get("/programs/p/customers/c").await.body;
    for field in [
        "tier",
        "tierSince",
        "currentPoints",
        "lifetimePurchases",
        "history",
        "expiringPoints",
    ] {
        assert_eq!(after[field], before[field], "{field}: nothing was written");
    }
    let orders = api.get("/programs/p/customers/c/orders").await.body;
    assert_eq!(
        orders["orders"].as_array().map(Vec::len),
        Some(1),
        "{orders}"
    );
    assert_eq!(
        api.get("/programs/p/customers/new").await.code(),
        "customer_not_found"
    );
    assert_eq!(
        api.get("/programs/p/events").await.body["events"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // Within the lead, a till whose clock runs a minute fast is served, and
    // the events refused above count once their day has come.
    let fast = at(chrono::Duration::minutes(1));
    let r = api
        .post("/programs/p/orders", &order("c", "o4", &fast, "1000"))
        .await;
    assert_eq!(
        (r.status, r.body["tierAfter"].as_str()),
        (200, Some("Gold")),
        "{}",
        r.body
    );
    let r = api
        .post(
            "/programs/p/customers/c/redemptions",
            &json!({"redemptionId": "x", "points": "1", "at": fast}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // An admin acting at the clock comes after the order dated a minute
    // ahead, not before the upgrade it overrules.
    let r = api
        .put(
            "/programs/p/customers/c/tier",
            &json!({"tier": "Base", "reason": "review"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["changed"].as_bool()),
        (200, Some(true)),
        "{}",
        r.body
    );
    let status = api.get("/programs/p/customers/c").await.body;
    let dates: Vec<&str> = status["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["at"].as_str().unwrap())
        .collect();
    let instants: Vec<chrono::DateTime<chrono::Utc>> =
        dates.iter().map(|d| d.parse().unwrap()).collect();
    assert!(instants.is_sorted(), "{dates:?}");
    assert_eq!(
        status["tierSince"].as_str(),
        dates.last().copied(),
        "{status}"
    );
    still_serving(&api).await;
}

/// An event accepted under a longer lead (another container, a lead
/// lowered since) is stored: sent again to an API with the default lead it
/// is answered as stored (a replay, a conflict, a cancellation), not
/// refused as if nothing had been written. A new one is refused.
async fn an_event_stored_under_a_longer_lead_is_answered_as_stored(engine: Engine) {
    let api = Api::start_with_event_lead(engine, 3_600).await;
    api.program("p", &config()).await;
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(30))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let placed = order("c", "o1", &soon, "1500");
    let redeem = json!({"redemptionId": "x", "points": "10", "at": soon});
    let ret = json!({"returnId": "r", "orderId": "o1", "customerId": "c",
                     "returnedAt": soon, "amount": "100"});
    for (path, body) in [
        ("/programs/p/orders", &placed),
        ("/programs/p/customers/c/redemptions", &redeem),
        ("/programs/p/returns", &ret),
    ] {
        let r = api.post(path, body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let strict = local_api::serve(
        tier_service::Service::new(api.store().clone())
            .with_event_lead(tier_service::DEFAULT_EVENT_LEAD_SECONDS),
        0,
        "the same store",
    )
    .await
    .unwrap();
    let strict = e2e::Http::new(format!("http://{}", strict.address));
    for (path, body) in [
        ("/programs/p/orders", &placed),
        ("/programs/p/customers/c/redemptions", &redeem),
        ("/programs/p/returns", &ret),
    ] {
        let r = strict.post(path, body).await;
        assert_eq!(
            (r.status, r.body["duplicate"].as_bool()),
            (200, Some(true)),
            "{path}: {}",
            r.body
        );
    }
    let mut changed = placed.clone();
    changed["amount"] = json!("1600");
    let r = strict.post("/programs/p/orders", &changed).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "idempotency_conflict"),
        "{}",
        r.body
    );
    let r = strict
        .post("/programs/p/orders", &order("c", "o2", &soon, "5"))
        .await;
    assert_eq!((r.status, r.code()), (422, "event_in_future"), "{}", r.body);
    let mut cancel = placed.clone();
    cancel["status"] = json!("cancelled");
    let r = strict.post("/programs/p/orders", &cancel).await;
    assert_eq!(
        (r.status, r.body["tierAfter"].as_str()),
        (200, Some("Base")),
        "{}",
        r.body
    );
    let status = strict.get("/programs/p/customers/c").await.body;
    assert_eq!(status["lifetimePurchases"], "0", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stored_under_a_longer_lead_is_answered_as_stored_on_the_embedded_engine() {
    an_event_stored_under_a_longer_lead_is_answered_as_stored(Engine::Embedded).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stored_under_a_longer_lead_is_answered_as_stored_on_dynamodb_local() {
    an_event_stored_under_a_longer_lead_is_answered_as_stored(Engine::DynamoDbLocal).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_dated_past_the_lead_are_refused_on_the_embedded_engine() {
    events_dated_past_the_lead_are_refused_and_nothing_is_written(Engine::Embedded).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_dated_past_the_lead_are_refused_on_dynamodb_local() {
    events_dated_past_the_lead_are_refused_and_nothing_is_written(Engine::DynamoDbLocal).await
}

on_both_engines!(
    a_tier_name_with_control_characters_is_refused,
    a_config_whose_state_could_outgrow_an_item_is_refused,
    a_body_over_the_limit_is_a_json_413,
    absurd_expressions_are_422_and_the_server_stays_up,
    a_long_list_in_a_config_is_refused_at_once_in_a_short_reply,
    another_method_on_a_local_route_is_a_json_405,
    a_scheduled_event_naming_a_key_twice_is_refused,
    the_largest_figures_are_served_exactly,
    line_items_beyond_the_limit_are_refused_and_nothing_is_written,
    a_tracker_added_later_rebuilds_from_the_largest_orders,
    long_texts_and_ids_are_refused_and_the_customer_keeps_working,
    only_the_documented_decimals_and_dates_are_read,
    free_orders_count_as_visits_and_earn_nothing,
    the_job_skips_a_broken_customer_and_goes_on,
);
