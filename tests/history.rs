//! What the console reads beside the status, end to end on both engines:
//! a published config version by number, a customer's orders with what
//! returns took, and the points due to expire.

use e2e::{on_both_engines, order, Api};
use serde_json::json;

fn config(silver: &str) -> serde_json::Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"months": 12},
        "tiers": [
            {"name": "Member", "earnRate": "0.1"},
            {"name": "Silver", "earnRate": "0.2", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": silver}],
                "condition": "all", "upgradeType": "lazy"}}]
    })
}

async fn versions_orders_and_expiring_points(api: Api) {
    api.program("p", &config("1000")).await;
    api.program("p", &config("2000")).await;
    let v1 = api.get("/programs/p/config?version=1").await;
    assert_eq!(v1.status, 200, "{}", v1.body);
    assert_eq!(v1.body["version"], 1);
    assert_eq!(
        v1.body["config"]["tiers"][1]["upgrade"]["criteria"][0]["min"],
        "1000"
    );
    let current = api.get("/programs/p/config").await;
    assert_eq!(current.body["version"], 2);
    for (query, status, code) in [
        ("?version=3", 404, "config_version_not_found"),
        ("?version=0", 400, "invalid_request"),
        ("?version=-1", 400, "invalid_request"),
        ("?version=99999999999999999999999", 400, "invalid_request"),
        ("?version=one", 400, "invalid_request"),
        ("?version=%2B1", 400, "invalid_request"),
    ] {
        let r = api.get(&format!("/programs/p/config{query}")).await;
        assert_eq!((r.status, r.code()), (status, code), "{query}: {}", r.body);
    }

    api.order("p", "c", "o1", "2026-03-01T10:00:00Z", "1500")
        .await;
    api.order("p", "c", "o2", "2026-04-01T10:00:00Z", "600")
        .await;
    let mut pending = order("c", "o3", "2026-05-01T10:00:00Z", "50");
    pending["status"] = json!("pending");
    assert_eq!(api.post("/programs/p/orders", &pending).await.status, 200);
    let ret = json!({"returnId": "r1", "orderId": "o1", "customerId": "c",
                     "returnedAt": "2026-05-02T00:00:00Z", "amount": "500"});
    assert_eq!(api.post("/programs/p/returns", &ret).await.status, 200);

    let r = api.get("/programs/p/customers/c/orders").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["total"], 3);
    let orders = r.body["orders"].as_array().unwrap();
    let ids: Vec<&str> = orders
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["o3", "o2", "o1"], "newest first");
    assert_eq!(orders[0]["status"], "pending");
    assert!(orders[0].get("amount").is_none());
    assert_eq!(
        orders[2],
        json!({"orderId": "o1", "status": "completed", "placedAt": "2026-03-01T10:00:00Z",
               "amount": "1500", "returnedAmount": "500", "pointsAwarded": "150",
               "pointsReversed": "50", "tierBefore": "Member", "tierAfter": "Member",
               "configVersion": 2})
    );
    let r = api.get("/programs/p/customers/c/orders?limit=1").await;
    assert_eq!(r.body["orders"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["total"], 3);
    let r = api.get("/programs/nope/config?version=1").await;
    assert_eq!((r.status, r.code()), (404, "program_not_found"));
    for limit in ["0", "1001", "x", "-1", "%2B5", ""] {
        let r = api
            .get(&format!("/programs/p/customers/c/orders?limit={limit}"))
            .await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{limit}");
    }
    let r = api.get("/programs/p/customers/nobody/orders").await;
    assert_eq!((r.status, r.code()), (404, "customer_not_found"));

    // 100 points from March, 60 from April, 50 of March's taken back.
    let status = api.status("p", "c", "2026-06-01T00:00:00Z").await;
    assert_eq!(
        status["expiringPoints"],
        json!([{"on": "2027-03-01", "points": "100"}, {"on": "2027-04-01", "points": "60"}])
    );
    let later = api.status("p", "c", "2027-03-15T00:00:00Z").await;
    assert_eq!(
        later["expiringPoints"],
        json!([{"on": "2027-04-01", "points": "60"}])
    );
}

on_both_engines!(versions_orders_and_expiring_points);
