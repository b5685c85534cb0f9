//! Every client error with its status and code; none of them writes anything.

use e2e::{on_both_engines, order, Api};
use serde_json::{json, Value};

fn config() -> Value {
    json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "tiers": [{"name": "Base", "earnRate": "0.1"},
                  {"name": "Gold", "earnRate": "0.2", "upgrade": {
                      "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 1000}],
                      "condition": "all", "upgradeType": "lazy"}}]
    })
}

async fn bad_requests_are_400_with_a_code(api: Api) {
    api.program("p", &config()).await;
    let post = |body: String| {
        let api = &api;
        async move { api.send("POST", "/programs/p/orders", Some(body)).await }
    };
    let r = post("{not json".into()).await;
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    let r = post(String::new()).await;
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    let mut missing = order("c", "o", "2026-01-01T00:00:00Z", "10");
    missing.as_object_mut().unwrap().remove("placedAt");
    let r = api.post("/programs/p/orders", &missing).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("placedAt"));
    let mut mistyped = order("c", "o", "2026-01-01T00:00:00Z", "10");
    mistyped["amount"] = json!(true);
    assert_eq!(api.post("/programs/p/orders", &mistyped).await.status, 400);
    mistyped["amount"] = json!("12abc");
    assert_eq!(api.post("/programs/p/orders", &mistyped).await.status, 400);
    for amount in ["-5", "-0.01"] {
        let r = api
            .post(
                "/programs/p/orders",
                &order("c", "o", "2026-01-01T00:00:00Z", amount),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_request"),
            "amount {amount}"
        );
    }
    let mut many = order("c", "o", "2026-01-01T00:00:00Z", "10");
    many["lineItems"] = Value::Array(
        (0..1001)
            .map(|i| json!({"sku": format!("s{i}"), "price": "0.01", "quantity": 1}))
            .collect(),
    );
    let r = api.post("/programs/p/orders", &many).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1000"));
    let long = "x".repeat(129);
    let r = api
        .post(
            "/programs/p/orders",
            &order(&long, "o", "2026-01-01T00:00:00Z", "10"),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let r = api
        .post(
            "/programs/p/orders",
            &order("c\u{7}", "o", "2026-01-01T00:00:00Z", "10"),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let r = api.get("/programs/p/customers/c?asOf=yesterday").await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let r = api
        .post(
            "/programs/p/customers/c/redemptions",
            &json!({"redemptionId": "r", "points": "-1", "at": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        api.get("/programs/p/customers/c").await.code(),
        "customer_not_found",
        "nothing was written"
    );
}

async fn unknown_things_are_404(api: Api) {
    let r = api
        .post(
            "/programs/nope/orders",
            &order("c", "o", "2026-01-01T00:00:00Z", "10"),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "program_not_found"));
    assert_eq!(
        api.get("/programs/nope/config").await.code(),
        "program_not_found"
    );
    api.program("p", &config()).await;
    let r = api.get("/programs/p/customers/ghost").await;
    assert_eq!((r.status, r.code()), (404, "customer_not_found"));
    api.order("p", "c", "o1", "2026-01-01T00:00:00Z", "10")
        .await;
    let r = api.post("/programs/p/returns", &json!({"returnId": "r", "orderId": "missing", "customerId": "c", "returnedAt": "2026-01-02T00:00:00Z"})).await;
    assert_eq!((r.status, r.code()), (404, "order_not_found"));
    let r = api.post("/programs/p/returns", &json!({"returnId": "r", "orderId": "o1", "customerId": "ghost", "returnedAt": "2026-01-02T00:00:00Z"})).await;
    assert_eq!((r.status, r.code()), (404, "customer_not_found"));
    let r = api.get("/nowhere").await;
    assert_eq!((r.status, r.code()), (404, "route_not_found"));
}

async fn business_rule_violations_are_422(api: Api) {
    let mut bad = config();
    bad["tiers"][1]["upgrade"]["condition"] = json!({"custom": "A & A"});
    bad["tiers"][0]["earnRate"] = json!("0");
    let r = api.put("/programs/p/config", &bad).await;
    assert_eq!((r.status, r.code()), (422, "invalid_config"));
    let paths: Vec<&str> = r.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec!["/tiers/0/earnRate", "/tiers/1/upgrade/condition"],
        "every problem with its path"
    );
    assert_eq!(
        api.post("/programs/p/config/validate", &bad).await.status,
        422
    );
    assert_eq!(
        api.get("/programs/p/config").await.code(),
        "program_not_found",
        "an invalid config is not stored"
    );

    api.program("p", &config()).await;
    let mut euro = order("c", "o", "2026-01-01T00:00:00Z", "10");
    euro["currency"] = json!("EUR");
    let r = api.post("/programs/p/orders", &euro).await;
    assert_eq!((r.status, r.code()), (422, "currency_mismatch"));
    api.order("p", "c", "o1", "2026-01-01T00:00:00Z", "100")
        .await;
    let r = api.post("/programs/p/returns", &json!({"returnId": "r", "orderId": "o1", "customerId": "c", "returnedAt": "2026-01-02T00:00:00Z", "amount": "100.01"})).await;
    assert_eq!((r.status, r.code()), (422, "return_exceeds_order"));
    let r = api
        .post(
            "/programs/p/customers/c/redemptions",
            &json!({"redemptionId": "x", "points": "10.01", "at": "2026-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "insufficient_points"));
    let r = api
        .put(
            "/programs/p/customers/c/tier",
            &json!({"tier": "Platinum", "reason": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "unknown_tier"));
    let status = api.status("p", "c", "2026-01-03T00:00:00Z").await;
    assert_eq!(
        (
            status["currentPoints"].as_str(),
            status["lifetimePurchases"].as_str()
        ),
        (Some("10"), Some("100")),
        "no partial write"
    );
}

on_both_engines!(
    bad_requests_are_400_with_a_code,
    unknown_things_are_404,
    business_rule_violations_are_422
);

/// Figures beyond any real order are refused before any arithmetic could
/// overflow (an overflow would abort the process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_figures_are_refused_not_a_crash() {
    let api = Api::start(e2e::Engine::Embedded).await;
    api.program("p", &config()).await;
    let r = api
        .post(
            "/programs/p/orders",
            &order(
                "c",
                "o",
                "2026-01-01T00:00:00Z",
                "79228162514264337593543950335",
            ),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "unread");
    let r = api
        .post(
            "/programs/p/orders",
            &order("c", "o", "2026-01-01T00:00:00Z", "1000000000000000.01"),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "amount_out_of_range"));
    assert_eq!(r.body["error"]["details"][0]["field"], "amount");
    let mut huge_items = order("c", "o", "2026-01-01T00:00:00Z", "10");
    huge_items["lineItems"] =
        json!([{"sku": "s", "price": "999999999999999", "quantity": "99999999"}]);
    let r = api.post("/programs/p/orders", &huge_items).await;
    assert_eq!((r.status, r.code()), (422, "amount_out_of_range"));
    let mut rate = config();
    rate["tiers"][0]["earnRate"] = json!("79228162514264337593543950335");
    assert_eq!(
        api.put("/programs/q/config", &rate).await.status,
        400,
        "unread"
    );
    rate["tiers"][0]["earnRate"] = json!("1000.000001");
    assert_eq!(api.put("/programs/q/config", &rate).await.status, 422);
    let ok = api
        .post(
            "/programs/p/orders",
            &order("c", "o", "2026-01-01T00:00:00Z", "1000000000000000"),
        )
        .await;
    assert_eq!(
        ok.status, 200,
        "the largest accepted amount still works: {}",
        ok.body
    );
}
