//! The references' examples and the idempotency contract, through HTTP.

use e2e::{feed, on_both_engines, order, scheduled_event, Api};
use serde_json::{json, Value};

fn ako() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {
                "criteria": [
                    {"id": "entryGoal", "kind": "lifetimePurchases", "min": 3000},
                    {"id": "singleOrder", "kind": "singleOrder", "min": 1500}],
                "condition": {"any": 1}, "upgradeType": "lazy"}}]
    })
}

fn silver_gold_diamond(kind: &str) -> Value {
    json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "tiers": [
            {"name": "Silver", "earnRate": "0.10"},
            {"name": "Gold", "earnRate": "0.20", "upgrade": {
                "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 10000}],
                "condition": "all", "upgradeType": kind}},
            {"name": "Diamond", "earnRate": "0.30", "upgrade": {
                "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 15000}],
                "condition": "all", "upgradeType": kind}}]
    })
}

fn segments(reply: &Value) -> Vec<(String, String, String)> {
    reply["pointsSegments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["tier"].as_str().unwrap().into(),
                s["amount"].as_str().unwrap().into(),
                s["points"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn seg(t: &str, a: &str, p: &str) -> (String, String, String) {
    (t.into(), a.into(), p.into())
}

async fn ako_silver_by_entry_goal_or_single_order(api: Api) {
    api.program("ako", &ako()).await;
    let first = api
        .order("ako", "ann", "a1", "2026-03-01T10:00:00Z", "1000")
        .await;
    assert_eq!(first["tierAfter"], "Member");
    let second = api
        .order("ako", "ann", "a2", "2026-03-02T10:00:00Z", "1200")
        .await;
    assert_eq!(
        second["tierAfter"], "Member",
        "2200 of 3000, no single order of 1500"
    );
    let third = api
        .order("ako", "ann", "a3", "2026-03-02T11:00:00Z", "800")
        .await;
    assert_eq!(
        (third["tierBefore"].as_str(), third["tierAfter"].as_str()),
        (Some("Member"), Some("Silver"))
    );
    assert_eq!(third["upgrades"][0]["criteria"], json!(["entryGoal"]));
    let status = api.status("ako", "ann", "2026-03-03T00:00:00Z").await;
    assert_eq!(status["tier"], "Silver");
    assert_eq!(status["lifetimePurchases"], "3000");
    assert_eq!(
        status["currentPoints"], "30",
        "1% of 1000, 1200 and 800 (lazy)"
    );
    assert_eq!(status["progress"], json!([]), "no tier above Silver");

    let big = api
        .order("ako", "bob", "b1", "2026-03-01T10:00:00Z", "1500")
        .await;
    assert_eq!(
        big["tierAfter"], "Silver",
        "one order of 1500 unlocks Silver at once"
    );
    assert_eq!(big["upgrades"][0]["criteria"], json!(["singleOrder"]));
    let small = api
        .order("ako", "cy", "c1", "2026-03-01T10:00:00Z", "1499.99")
        .await;
    assert_eq!(small["tierAfter"], "Member");
    let progress = api.status("ako", "cy", "2026-03-02T00:00:00Z").await["progress"][0].clone();
    assert_eq!(progress["tier"], "Silver");
    assert_eq!(progress["criteria"][0]["remaining"], "1500.01");
    // No later order adds to a single order: it needs one of $1,500.
    assert_eq!(progress["criteria"][1]["remaining"], "1500");
    assert_eq!(
        progress["criteria"][1]["needs"],
        "one order of at least 1500; best so far 1499.99"
    );
}

async fn capillary_upgrade_types_award_400_600_and_200_plus_300(api: Api) {
    for (kind, expected) in [
        ("lazy", vec![seg("Gold", "2000", "400")]),
        ("eager", vec![seg("Diamond", "2000", "600")]),
        (
            "dynamic",
            vec![seg("Gold", "1000", "200"), seg("Diamond", "1000", "300")],
        ),
    ] {
        api.program(kind, &silver_gold_diamond(kind)).await;
        let to_gold = api
            .order(kind, "c", "o1", "2026-01-10T00:00:00Z", "14000")
            .await;
        assert_eq!(to_gold["tierAfter"], "Gold");
        let crossing = api
            .order(kind, "c", "o2", "2026-01-11T00:00:00Z", "2000")
            .await;
        assert_eq!(segments(&crossing), expected, "{kind}");
        assert_eq!(crossing["tierAfter"], "Diamond");
        assert_eq!(crossing["upgrades"][0]["upgradeType"], kind);
    }
    api.program("three", &silver_gold_diamond("dynamic")).await;
    api.order("three", "c", "o1", "2026-01-10T00:00:00Z", "9000")
        .await;
    let split = api
        .order("three", "c", "o2", "2026-01-11T00:00:00Z", "7000")
        .await;
    assert_eq!(
        segments(&split),
        vec![
            seg("Silver", "1000", "100"),
            seg("Gold", "5000", "1000"),
            seg("Diamond", "1000", "300")
        ]
    );
    assert_eq!(split["pointsAwarded"], "1400");
}

async fn capillary_progress_shows_what_remains(api: Api) {
    let one = |kind: &str, min: u32| {
        json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "visits", "measure": "visits", "period": {"months": 12}}],
        "tiers": [{"name": "Base", "earnRate": "1"},
                  {"name": "Next", "earnRate": "1", "upgrade": {
                      "criteria": [if kind == "tracker" { json!({"id": "A", "kind": "tracker", "tracker": "visits", "min": min}) } else { json!({"id": "A", "kind": kind, "min": min}) }],
                      "condition": "all", "upgradeType": "lazy"}}]})
    };
    for (kind, min, orders, actual, remaining) in [
        ("currentPoints", 1000, vec!["900"], "900", "100"),
        ("lifetimePoints", 5000, vec!["3500"], "3500", "1500"),
        ("lifetimePurchases", 5000, vec!["4000"], "4000", "1000"),
        ("tracker", 5, vec!["10", "10", "10", "10"], "4", "1"),
    ] {
        api.program(kind, &one(kind, min)).await;
        for (i, amount) in orders.iter().enumerate() {
            api.order(
                kind,
                "c",
                &format!("o{i}"),
                &format!("2026-0{}-15T00:00:00Z", i + 1),
                amount,
            )
            .await;
        }
        let status = api.status(kind, "c", "2026-10-15T00:00:00Z").await;
        let c = &status["progress"][0]["criteria"][0];
        assert_eq!(
            (
                c["actual"].as_str(),
                c["remaining"].as_str(),
                c["met"].as_bool()
            ),
            (Some(actual), Some(remaining), Some(false)),
            "{kind}"
        );
        assert_eq!(status["progress"][0]["qualifies"], false);
    }
}

async fn capillary_returning_the_fifth_visit_reverses_the_upgrade(api: Api) {
    api.program(
        "gym",
        &json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "visits", "measure": "visits", "period": {"months": 12}}],
        "tiers": [{"name": "Regular", "earnRate": "0.1"},
                  {"name": "Frequent", "earnRate": "0.2", "upgrade": {
                      "criteria": [{"id": "A", "kind": "tracker", "tracker": "visits", "min": 5}],
                      "condition": "all", "upgradeType": "lazy"}}]}),
    )
    .await;
    for i in 0..4 {
        api.order(
            "gym",
            "c",
            &format!("v{i}"),
            &format!("2026-0{}-10T00:00:00Z", i * 2 + 1),
            "50",
        )
        .await;
    }
    let fifth = api
        .order("gym", "c", "v5", "2026-10-01T00:00:00Z", "50")
        .await;
    assert_eq!(fifth["tierAfter"], "Frequent", "the fifth visit upgrades");
    let back = api.post("/programs/gym/returns", &json!({"returnId": "r5", "orderId": "v5", "customerId": "c", "returnedAt": "2026-10-02T00:00:00Z"})).await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.body["tierAfter"], "Regular");
    assert_eq!(back.body["pointsReversed"], "5");
    assert_eq!(
        back.body["downgrades"],
        json!([{"from": "Frequent", "to": "Regular", "at": "2026-10-02T00:00:00Z"}])
    );
    let status = api.status("gym", "c", "2026-10-03T00:00:00Z").await;
    assert_eq!(status["trackers"]["visits"], "4");
    assert_eq!(status["tier"], "Regular");
    let history: Vec<_> = status["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(history, vec!["Frequent", "Regular"]);
}

async fn capillary_conditions_any_all_and_custom(api: Api) {
    api.program("travel", &json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [
            {"id": "flights", "measure": "visits", "filter": {"category": "flight"}, "period": {"months": 12}},
            {"id": "hotels", "measure": "visits", "filter": {"category": "partnerHotel"}, "period": {"months": 12}}],
        "tiers": [{"name": "Gold", "earnRate": "0.05"},
                  {"name": "Platinum", "earnRate": "0.1", "upgrade": {"criteria": [
                      {"id": "A", "kind": "lifetimePoints", "min": 1500},
                      {"id": "B", "kind": "tracker", "tracker": "flights", "min": 5},
                      {"id": "C", "kind": "tracker", "tracker": "hotels", "min": 3}],
                      "condition": {"any": 1}, "upgradeType": "eager"}}]})).await;
    for i in 0..3 {
        let mut o = order("t", &format!("h{i}"), "2026-02-01T00:00:00Z", "100");
        o["lineItems"] =
            json!([{"sku": "room", "category": "partnerHotel", "price": "100", "quantity": 1}]);
        let r = api.post("/programs/travel/orders", &o).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["tierAfter"],
            if i < 2 { "Gold" } else { "Platinum" },
            "ANY 1: the third partner hotel stay suffices"
        );
    }

    api.program(
        "shop",
        &json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "purchases6m", "measure": "visits", "period": {"months": 6}}],
        "tiers": [{"name": "Standard", "earnRate": "1"},
                  {"name": "Plus", "earnRate": "2", "upgrade": {"criteria": [
                      {"id": "A", "kind": "currentPoints", "min": 3000},
                      {"id": "B", "kind": "tracker", "tracker": "purchases6m", "min": 5},
                      {"id": "C", "kind": "singleOrder", "min": 1000}],
                      "condition": {"custom": "(A AND B) OR C"}, "upgradeType": "eager"}}]}),
    )
    .await;
    for i in 0..4 {
        let r = api
            .order("shop", "s", &format!("o{i}"), "2026-02-01T00:00:00Z", "750")
            .await;
        assert_eq!(r["tierAfter"], "Standard", "A without B is not enough");
    }
    let fifth = api
        .order("shop", "s", "o5", "2026-02-02T00:00:00Z", "10")
        .await;
    assert_eq!(fifth["tierAfter"], "Plus", "A AND B");
    let big = api
        .order("shop", "x", "big", "2026-02-02T00:00:00Z", "1000")
        .await;
    assert_eq!(big["tierAfter"], "Plus", "C alone");
    assert_eq!(big["pointsAwarded"], "2000", "eager: at Plus's rate");

    api.program("gym", &json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [
            {"id": "workouts", "measure": "visits", "filter": {"category": "workout"}, "period": {"months": 3}},
            {"id": "accessories", "measure": "lineItemPrice", "filter": {"category": "accessory"}, "period": {"months": 3}}],
        "tiers": [{"name": "Pro", "earnRate": "10"},
                  {"name": "Ultimate", "earnRate": "20", "upgrade": {"criteria": [
                      {"id": "A", "kind": "currentPoints", "min": 2000},
                      {"id": "B", "kind": "tracker", "tracker": "workouts", "min": 15},
                      {"id": "C", "kind": "tracker", "tracker": "accessories", "min": 500}],
                      "condition": "all", "upgradeType": "lazy"}}]})).await;
    let workouts: Vec<_> = (0..15)
        .map(|i| {
            let mut o = order(
                "g",
                &format!("w{i}"),
                &format!("2026-04-{:02}T07:00:00Z", i + 1),
                "20",
            );
            o["lineItems"] =
                json!([{"sku": "class", "category": "workout", "price": "20", "quantity": 1}]);
            o
        })
        .collect();
    for o in &workouts {
        assert_eq!(
            api.post("/programs/gym/orders", o).await.body["tierAfter"],
            "Pro"
        );
    }
    let mut gear = order("g", "gear", "2026-04-20T07:00:00Z", "500");
    gear["lineItems"] =
        json!([{"sku": "gloves", "category": "accessory", "price": "250", "quantity": 2}]);
    let r = api.post("/programs/gym/orders", &gear).await;
    assert_eq!(
        r.body["tierAfter"], "Ultimate",
        "ALL three: 8000 points, 15 workouts, 500 of accessories"
    );
}

async fn replays_answer_the_original_and_changed_payloads_conflict(api: Api) {
    api.program("p", &silver_gold_diamond("lazy")).await;
    let first = api
        .order("p", "c", "o1", "2026-01-10T00:00:00Z", "100")
        .await;
    let again = api
        .post(
            "/programs/p/orders",
            &order("c", "o1", "2026-01-10T00:00:00Z", "100.00"),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["pointsAwarded"], first["pointsAwarded"]);
    let changed = api
        .post(
            "/programs/p/orders",
            &order("c", "o1", "2026-01-10T00:00:00Z", "101"),
        )
        .await;
    assert_eq!(
        (changed.status, changed.code()),
        (409, "idempotency_conflict")
    );
    let status = api.status("p", "c", "2026-01-11T00:00:00Z").await;
    assert_eq!(status["lifetimePurchases"], "100", "counted once");

    let ret = json!({"returnId": "r1", "orderId": "o1", "customerId": "c", "returnedAt": "2026-01-12T00:00:00Z", "amount": "40"});
    assert_eq!(
        api.post("/programs/p/returns", &ret).await.body["pointsReversed"],
        "4"
    );
    let replay = api.post("/programs/p/returns", &ret).await;
    assert_eq!(
        (replay.status, replay.body["duplicate"].as_bool()),
        (200, Some(true))
    );
    let mut other = ret.clone();
    other["amount"] = json!("41");
    assert_eq!(
        api.post("/programs/p/returns", &other).await.code(),
        "idempotency_conflict"
    );

    let redeem = json!({"redemptionId": "x1", "points": "5", "at": "2026-01-13T00:00:00Z"});
    let r = api
        .post("/programs/p/customers/c/redemptions", &redeem)
        .await;
    assert_eq!(
        (r.status, r.body["currentPoints"].as_str()),
        (200, Some("1"))
    );
    let r = api
        .post("/programs/p/customers/c/redemptions", &redeem)
        .await;
    assert_eq!(
        (r.status, r.body["duplicate"].as_bool()),
        (200, Some(true)),
        "a replay even though only 1 point is left"
    );
    let status = api.status("p", "c", "2026-01-14T00:00:00Z").await;
    assert_eq!(
        (
            status["currentPoints"].as_str(),
            status["lifetimePurchases"].as_str()
        ),
        (Some("1"), Some("60"))
    );
}

async fn pending_orders_count_when_completed_and_cancellation_returns_them(api: Api) {
    api.program("p", &silver_gold_diamond("lazy")).await;
    let mut o = order("c", "o1", "2026-01-10T00:00:00Z", "12000");
    o["status"] = json!("pending");
    let pending = api.post("/programs/p/orders", &o).await;
    assert_eq!(
        (pending.status, pending.body["applied"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(
        api.get("/programs/p/customers/c").await.code(),
        "customer_not_found",
        "a pending order counts for nothing"
    );
    o["status"] = json!("completed");
    let done = api.post("/programs/p/orders", &o).await;
    assert_eq!(
        (
            done.body["applied"].as_bool(),
            done.body["tierAfter"].as_str()
        ),
        (Some(true), Some("Gold"))
    );
    o["status"] = json!("cancelled");
    let cancelled = api.post("/programs/p/orders", &o).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["pointsReversed"], "1200");
    assert_eq!(
        cancelled.body["tierAfter"], "Silver",
        "the upgrade the order caused is reversed"
    );
    // The cancellation happened now (wall time): the status as of now.
    let status = api.get("/programs/p/customers/c").await.body;
    assert_eq!(
        (
            status["lifetimePurchases"].as_str(),
            status["currentPoints"].as_str()
        ),
        (Some("0"), Some("0"))
    );
    o["status"] = json!("completed");
    assert_eq!(
        api.post("/programs/p/orders", &o).await.code(),
        "idempotency_conflict",
        "a cancelled order cannot complete again"
    );
}

async fn config_versions_and_admin_tier_changes(api: Api) {
    api.program("p", &silver_gold_diamond("lazy")).await;
    let r = api.get("/programs/p/config").await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(1)));
    api.order("p", "c", "o1", "2026-01-10T00:00:00Z", "12000")
        .await;
    let mut raised = silver_gold_diamond("lazy");
    raised["tiers"][1]["upgrade"]["criteria"][0]["min"] = json!(20000);
    let r = api.put("/programs/p/config", &raised).await;
    assert_eq!(r.body["version"], 2);
    assert_eq!(
        api.status("p", "c", "2026-01-11T00:00:00Z").await["tier"],
        "Gold",
        "a config change never demotes"
    );
    let fresh = api
        .order("p", "d", "o1", "2026-01-10T00:00:00Z", "12000")
        .await;
    assert_eq!(
        fresh["tierAfter"], "Silver",
        "new rules apply to future events"
    );
    let mut dropped = raised.clone();
    dropped["tiers"].as_array_mut().unwrap().pop();
    let r = api.put("/programs/p/config", &dropped).await;
    assert_eq!((r.status, r.code()), (422, "invalid_config"));
    assert_eq!(r.body["error"]["details"][0]["code"], "tier_removed");
    let r = api
        .put(
            "/programs/p/customers/d/tier",
            &json!({"tier": "Diamond", "reason": "VIP migration"}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["tier"].as_str(),
            r.body["changed"].as_bool()
        ),
        (200, Some("Diamond"), Some(true))
    );
    let status = api.get("/programs/p/customers/d").await.body;
    assert_eq!(status["tier"], "Diamond");
    assert!(status["history"][0]["cause"]
        .as_str()
        .unwrap()
        .contains("VIP migration"));
    let valid = api.post("/programs/p/config/validate", &raised).await;
    assert_eq!(
        (valid.status, valid.body.clone()),
        (200, json!({"valid": true}))
    );
}

async fn the_expiry_job_twice_gives_the_same_state(api: Api) {
    let mut config = silver_gold_diamond("lazy");
    config["pointsExpiry"] = json!({"months": 12});
    config["trackers"] = json!([{"id": "visits", "measure": "visits", "period": {"days": 30}}]);
    api.program("p", &config).await;
    api.order("p", "c", "o1", "2026-01-10T00:00:00Z", "1000")
        .await;
    api.order("p", "c", "o2", "2026-06-10T00:00:00Z", "500")
        .await;
    let event = scheduled_event("2027-01-10T03:00:00Z");
    let first = api.post("/_local/scheduled", &event).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        (
            first.body["customersChanged"].as_u64(),
            first.body["pointsExpired"].as_str()
        ),
        (Some(1), Some("100"))
    );
    let after_first = api.status("p", "c", "2027-01-10T04:00:00Z").await;
    assert_eq!(after_first["currentPoints"], "50");
    assert_eq!(after_first["lifetimePoints"], "150");
    let second = api.post("/_local/scheduled", &event).await;
    assert_eq!(
        (
            second.body["customersDue"].as_u64(),
            second.body["customersChanged"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        api.status("p", "c", "2027-01-10T04:00:00Z").await,
        after_first
    );
}

/// The suite's API dates config versions at 2026-11-30 (`published_at`
/// below): an order in the window but before that day does not count for
/// the retention rule, one after it does, whatever day the suite runs (on
/// the clock, publication on the day this test was written, 2026-12-02,
/// would leave out the order of 1 December too).
async fn a_fixed_publication_day_is_where_retention_trackers_start(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "keep", "kind": "tracker", "min": "9000", "tracker": "spend12m"}],
                "condition": "all", "onFail": "oneDown", "warnDaysBefore": [30]}}
        ]
    });
    api.program("fixed", &config).await;
    api.order("fixed", "c", "before", "2026-11-01T10:00:00Z", "3000")
        .await;
    api.order("fixed", "c", "after", "2026-12-01T10:00:00Z", "2500")
        .await;
    let risk = api.status("fixed", "c", "2027-10-15T00:00:00Z").await["atRisk"].clone();
    assert_eq!(
        (&risk["on"], &risk["criteria"][0]["actual"]),
        (&json!("2027-11-01T10:00:00Z"), &json!("2500")),
        "{risk}"
    );
}

async fn a_tier_warns_gives_grace_and_lapses_through_the_api(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "eager"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "keep", "kind": "tracker", "min": "2000", "tracker": "spend12m"}],
                "condition": "all", "onFail": "oneDown", "graceDays": 10, "warnDaysBefore": [30]}}
        ]
    });
    api.program("p", &config).await;
    let stored = api.get("/programs/p/config").await;
    assert_eq!(
        stored.body["config"]["tiers"][1]["retention"],
        config["tiers"][1]["retention"]
    );
    api.order("p", "c", "o1", "2026-02-01T10:00:00Z", "3000")
        .await;
    let early = api.status("p", "c", "2026-06-01T00:00:00Z").await;
    assert_eq!(
        (&early["tier"], &early["validUntil"], early.get("atRisk")),
        (&json!("Silver"), &json!("2027-02-01T10:00:00Z"), None)
    );
    let warned = api.status("p", "c", "2027-01-05T00:00:00Z").await;
    assert_eq!(
        warned["atRisk"],
        json!({"tier": "Silver", "on": "2027-02-01T10:00:00Z", "criteria": [
            {"id": "keep", "kind": "tracker", "required": "2000", "actual": "0",
             "remaining": "2000", "met": false}]})
    );
    let first = api.run_scheduled("2027-02-01T12:00:00Z").await;
    // The grace that began is a change the status shows.
    assert_eq!(first["customersChanged"], 1, "{first}");
    let grace = api.status("p", "c", "2027-02-02T00:00:00Z").await;
    assert_eq!(
        (
            &grace["tier"],
            &grace["inGraceUntil"],
            &grace["atRisk"]["on"]
        ),
        (
            &json!("Silver"),
            &json!("2027-02-11T10:00:00Z"),
            &json!("2027-02-11T10:00:00Z")
        )
    );
    let second = api.run_scheduled("2027-02-12T00:00:00Z").await;
    assert_eq!(second["customersChanged"], 1, "{second}");
    let after = api.status("p", "c", "2027-02-12T00:00:00Z").await;
    assert_eq!(after["tier"], "Member");
    assert_eq!(
        after["history"].as_array().unwrap().last().unwrap(),
        &json!({"from": "Silver", "to": "Member", "at": "2027-02-11T10:00:00Z", "cause": "retention"})
    );
    assert_eq!(after.get("validUntil"), None);
    let again = api.run_scheduled("2027-02-12T00:00:00Z").await;
    assert_eq!(again["customersChanged"], 0, "{again}");
    assert_eq!(api.status("p", "c", "2027-02-12T00:00:00Z").await, after);

    // The point of sale uploads an order placed before the end: $2,500 in
    // the window would have renewed Silver there. The move down is undone
    // (a change back at its instant, so that the latest change told is
    // right), the tier renewed at the end (the history reads as that
    // renewal, README "Older ends"), once, however often it is sent.
    for _ in 0..2 {
        let late = api
            .order("p", "c", "late1", "2027-01-20T00:00:00Z", "2500")
            .await;
        assert_eq!(late["tierAfter"], "Silver", "{late}");
    }
    let undone = api.status("p", "c", "2027-02-12T00:00:00Z").await;
    assert_eq!(undone["tier"], "Silver");
    assert_eq!(undone["validUntil"], "2028-02-01T10:00:00Z");
    assert_eq!(undone.get("inGraceUntil"), None);
    let history = undone["history"].as_array().unwrap();
    assert_eq!(
        &history[history.len() - 3..],
        &[
            json!({"from": "Silver", "to": "Member", "at": "2027-02-11T10:00:00Z", "cause": "retention"}),
            json!({"from": "Member", "to": "Silver", "at": "2027-02-11T10:00:00Z", "cause": "late order late1"}),
            json!({"from": "Silver", "to": "Silver", "at": "2027-02-01T10:00:00Z", "cause": "renewed"}),
        ]
    );
    let published: Vec<Value> = feed(&api, "p", 100)
        .await
        .into_iter()
        .filter(|e| e["cause"] == "late order late1")
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(
        (
            &published[0]["type"],
            &published[0]["from"],
            &published[0]["to"]
        ),
        (&json!("TierChanged"), &json!("Member"), &json!("Silver"))
    );
}

/// The scheduled job as the state machine runs it: a step per shard page
/// (`pageSize` 1 and `budgetMs` 0: one customer a step), `after` handed
/// back until each shard is done, then the totals.
async fn the_job_in_shard_steps_adds_up_to_one_run(api: Api) {
    let mut config = silver_gold_diamond("lazy");
    config["pointsExpiry"] = json!({"months": 12});
    api.program("p", &config).await;
    for i in 0..6 {
        api.order(
            "p",
            &format!("c{i}"),
            &format!("o{i}"),
            "2026-01-10T00:00:00Z",
            "100",
        )
        .await;
    }
    let time = "2027-01-11T00:00:00Z";
    let mut runs = Vec::new();
    let mut steps = 0;
    for shard in 0..tier_store::keys::EXPIRY_SHARDS {
        let mut step = json!({"shard": shard, "time": time, "pageSize": 1, "budgetMs": 0});
        loop {
            let r = api.post("/_local/scheduled", &step).await;
            assert_eq!(r.status, 200, "{}", r.body);
            steps += 1;
            step = r.body.clone();
            if r.body.get("after").is_none() {
                break;
            }
            // Handed back as the state machine does, with the knobs kept.
            step["pageSize"] = json!(1);
            step["budgetMs"] = json!(0);
        }
        runs.push(step);
    }
    assert!(steps > 8, "some shard took more than one step");
    let totals = api
        .post("/_local/scheduled", &json!({"time": time, "totals": runs}))
        .await;
    assert_eq!(totals.status, 200, "{}", totals.body);
    assert_eq!(
        (
            &totals.body["customersDue"],
            &totals.body["customersChanged"],
            &totals.body["customersFailed"],
            &totals.body["pointsExpired"]
        ),
        (&json!(6), &json!(6), &json!(0), &json!("60"))
    );
    assert_eq!(totals.body.get("shardsFailed"), None);
    // A shard the state machine gave up on is counted, not added.
    let mut with_failed = runs.clone();
    with_failed[0] = json!({"shard": 0, "time": time, "failed": true});
    let failed = api
        .post(
            "/_local/scheduled",
            &json!({"time": time, "totals": with_failed}),
        )
        .await;
    assert_eq!(failed.body["shardsFailed"], 1, "{}", failed.body);
    let whole = api.post("/_local/scheduled", &json!({"time": time})).await;
    assert_eq!(
        whole.body["customersDue"], 0,
        "nothing left: {}",
        whole.body
    );
    assert_eq!(api.status("p", "c3", time).await["currentPoints"], "0");
    let bad_cursor = json!({"expiryShard": "E#1", "expiresOn": "2027-01-01", "pk": "x", "sk": "y"});
    for bad in [
        json!({"shard": 8, "time": time}),
        json!({"shard": -1, "time": time}),
        json!({"shard": 0}),
        json!({"shard": 0, "time": time, "pageSize": 0}),
        json!({"shard": 0, "time": time, "budgetMs": 15001}),
        json!({"shard": 0, "time": time, "after": bad_cursor}),
        json!({"shard": 0, "time": time, "after": {"pk": "x"}}),
        json!({"shard": 0, "time": "9999-01-01T00:00:00Z"}),
        json!({"time": time, "totals": "all"}),
        json!({"time": time, "totals": [{"shard": 0}]}),
        json!({"shard": 0, "time": time, "report": {"time": "2020-01-01T00:00:00Z", "customersDue": 1,
            "customersChanged": 0, "customersFailed": 0, "pointsExpired": "0", "trackerDaysDropped": 0, "failures": []}}),
        json!({"shard": 0, "time": time, "extra": 1}),
        json!({"shard": 0, "time": time, "failed": true}),
    ] {
        let r = api.post("/_local/scheduled", &bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_request", "{bad}");
    }
}

fn gold_at(threshold: u32) -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "3", "upgrade": {"criteria": [
                {"id": "G", "kind": "lifetimePurchases", "min": threshold}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    })
}

async fn a_config_that_lowers_a_threshold_upgrades_who_qualifies_now(api: Api) {
    api.program("rv", &gold_at(10000)).await;
    for (customer, amount) in [("c1", "8000"), ("c2", "5000"), ("c3", "11000")] {
        api.order(
            "rv",
            customer,
            &format!("o-{customer}"),
            "2026-02-01T10:00:00Z",
            amount,
        )
        .await;
    }
    let before = api.status("rv", "c1", "2026-02-01T10:00:00Z").await;
    assert_eq!(before["tier"], "Silver");
    let put = api.put("/programs/rv/config", &gold_at(7500)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let job_id = put.body["jobId"]
        .as_str()
        .expect("the reply names the job")
        .to_owned();
    let job = api.finished_job("rv", &job_id).await;
    assert_eq!(
        (
            &job["status"],
            &job["kind"],
            &job["configVersion"],
            &job["customersSeen"],
            &job["customersUpgraded"],
            &job["customersFailed"]
        ),
        (
            &json!("done"),
            &json!("reevaluation"),
            &json!(2),
            &json!(3),
            &json!(1),
            &json!(0)
        ),
        "{job}"
    );
    let r = api.get("/programs/rv/customers/c1").await;
    assert_eq!(r.body["tier"], "Gold");
    assert_eq!(
        r.body["currentPoints"], before["currentPoints"],
        "points stay"
    );
    let last = r.body["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&last["from"], &last["to"], &last["cause"]),
        (&json!("Silver"), &json!("Gold"), &json!("config v2"))
    );
    assert_eq!(last["at"], job["at"], "as of the change");
    let events = feed(&api, "rv", 100).await;
    let upgrade = events
        .iter()
        .find(|e| e["cause"] == "config v2")
        .expect("published");
    assert_eq!(
        (&upgrade["customerId"], &upgrade["criteria"]),
        (&json!("c1"), &json!("[\"G\"]"))
    );
    // A version that only changes earn rates can upgrade nobody: no job.
    let mut rates = gold_at(7500);
    rates["tiers"][1]["earnRate"] = json!("2.5");
    let put = api.put("/programs/rv/config", &rates).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(put.body.get("jobId").is_none(), "{}", put.body);
    // Lowering again judges again: c1 and c3 are Gold already, c2 now too.
    let put = api.put("/programs/rv/config", &gold_at(5000)).await;
    let job = api
        .finished_job("rv", put.body["jobId"].as_str().unwrap())
        .await;
    assert_eq!(
        (&job["customersSeen"], &job["customersUpgraded"]),
        (&json!(3), &json!(1)),
        "{job}"
    );
    assert_eq!(
        api.get("/programs/rv/customers/c2").await.body["tier"],
        "Gold"
    );
    for (path, code) in [
        (
            "/programs/rv/jobs/0123456789abcdef0123456789abcdef",
            "job_not_found",
        ),
        ("/programs/rv/jobs/nope", "job_not_found"),
        (
            "/programs/none/jobs/0123456789abcdef0123456789abcdef",
            "program_not_found",
        ),
    ] {
        let r = api.get(path).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (404, Some(code)),
            "{path}"
        );
    }
}

/// A job whose process stopped (here: stored as running, silent for a
/// minute, its cursors at the start, nothing saved of what it did) is
/// resumed by the next read of it and finishes; customers it judged
/// already are not judged twice, and still count as upgraded (found by an
/// adversary: a resumed job counted fewer than it upgraded).
async fn a_reevaluation_left_by_a_stopped_process_resumes_when_read(api: Api) {
    api.program("rs", &gold_at(10000)).await;
    api.order("rs", "c1", "o1", "2026-02-01T10:00:00Z", "8000")
        .await;
    let put = api.put("/programs/rs/config", &gold_at(7500)).await;
    let done = api
        .finished_job("rs", put.body["jobId"].as_str().unwrap())
        .await;
    assert_eq!(done["customersUpgraded"], 1);
    let stalled = tier_store::JobRecord {
        id: "00000000000000000000000000000001".into(),
        kind: "reevaluation".into(),
        status: "running".into(),
        request: json!({"configVersion": 2, "at": done["at"]}).to_string(),
        owner: "a process that died".into(),
        heartbeat_ms: (chrono::Utc::now().timestamp_millis() - 60_000) as u64,
        cursors: json!([{"done": false}, {"done": false}]).to_string(),
        progress: "{}".into(),
        created_at: "2026-11-30T00:00:00Z".into(),
        finished_at: None,
    };
    assert!(api.store().create_job("rs", &stalled).await.unwrap());
    let resumed = api.finished_job("rs", &stalled.id).await;
    assert_eq!(
        (
            &resumed["status"],
            &resumed["customersSeen"],
            &resumed["customersUpgraded"]
        ),
        (&json!("done"), &json!(1), &json!(1)),
        "{resumed}"
    );
    let history = api.get("/programs/rs/customers/c1").await.body["history"].clone();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
}

/// A retention rule added to a live program judges spending from the day it
/// was published, not from before it existed; a version that keeps the rule
/// keeps that day. (Dates count from the test's own clock: publication is
/// now.)
async fn a_retention_rule_added_later_counts_from_its_publication(api: Api) {
    let now = chrono::Utc::now();
    let iso =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let reached = now - chrono::Duration::days(300);
    let end = reached + chrono::Months::new(12);
    let mut config = json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    });
    api.program("late", &config).await;
    for (customer, order) in [("c1", "o1"), ("c2", "o2")] {
        api.order("late", customer, order, &iso(reached), "3000")
            .await;
        // In the window at the end of the period, but before the rule.
        let before = now - chrono::Duration::days(200);
        api.order("late", customer, &format!("{order}b"), &iso(before), "2500")
            .await;
    }
    config["tiers"][1]["retention"] = json!({"validity": {"months": 12, "from": "tierStart"},
        "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend12m", "min": "2000"}],
        "condition": "all", "onFail": "oneDown", "warnDaysBefore": [30]});
    api.program("late", &config).await;
    // Another version keeping the rule keeps its day.
    config["tiers"][1]["earnRate"] = json!("2.5");
    api.program("late", &config).await;
    let warned = end - chrono::Duration::days(10);
    let risk = api.status("late", "c1", &iso(warned)).await["atRisk"].clone();
    assert_eq!(risk["criteria"][0]["actual"], "0", "{risk}");
    // c2 spends after the publication.
    api.order(
        "late",
        "c2",
        "o3",
        &iso(now + chrono::Duration::days(5)),
        "2500",
    )
    .await;
    let after_end = end + chrono::Duration::days(1);
    let r = api
        .post("/_local/scheduled", &json!({"time": iso(after_end)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        api.status("late", "c1", &iso(after_end)).await["tier"],
        "Member"
    );
    assert_eq!(
        api.status("late", "c2", &iso(after_end)).await["tier"],
        "Silver"
    );
}

/// On AWS a re-evaluation runs as state machine steps (the stream carries a
/// new job to it): each step takes the job over and works it, `more` while
/// it runs. Driven here as the machine would, on a job no process runs.
async fn a_reevaluation_runs_step_by_step_as_the_state_machine_calls_it(api: Api) {
    api.program("st", &gold_at(10000)).await;
    for i in 0..5 {
        api.order("st", &format!("c{i}"), "o", "2026-02-01T10:00:00Z", "8000")
            .await;
    }
    // Published without a job in this process: the PUT below starts one,
    // which is left to finish; a second, stalled job is then stepped.
    let put = api.put("/programs/st/config", &gold_at(7500)).await;
    let first = api
        .finished_job("st", put.body["jobId"].as_str().unwrap())
        .await;
    let stalled = tier_store::JobRecord {
        id: "00000000000000000000000000000002".into(),
        kind: "reevaluation".into(),
        status: "running".into(),
        request: json!({"configVersion": 2, "at": first["at"]}).to_string(),
        owner: "nobody".into(),
        heartbeat_ms: chrono::Utc::now().timestamp_millis() as u64,
        cursors: json!([{"done": false}, {"done": false}]).to_string(),
        progress: "{}".into(),
        created_at: "2026-11-30T00:00:00Z".into(),
        finished_at: None,
    };
    assert!(api.store().create_job("st", &stalled).await.unwrap());
    let mut step = json!({"reevaluate": {"programId": "st", "jobId": stalled.id}});
    for _ in 0..20 {
        let r = api.post("/_local/scheduled", &step).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (&r.body["programId"], &r.body["jobId"]),
            (&json!("st"), &json!(stalled.id))
        );
        if r.body["more"] == false {
            break;
        }
        step = json!({"reevaluate": r.body});
    }
    let done = api
        .get(&format!("/programs/st/jobs/{}", stalled.id))
        .await
        .body;
    assert_eq!(
        (
            &done["status"],
            &done["customersSeen"],
            &done["customersUpgraded"]
        ),
        (&json!("done"), &json!(5), &json!(5)),
        "the first run upgraded them all; judging again changes nothing, and counts them once: {done}"
    );
    let history = api.get("/programs/st/customers/c0").await.body["history"].clone();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    // A finished job's step says so at once.
    let again = api
        .post(
            "/_local/scheduled",
            &json!({"reevaluate": {"programId": "st", "jobId": stalled.id}}),
        )
        .await;
    assert_eq!(again.body["more"], false);
    for bad in [
        json!({"reevaluate": {"programId": "st", "jobId": "nope"}}),
        json!({"reevaluate": {"programId": "st"}}),
        json!({"reevaluate": {"programId": "st", "jobId": stalled.id, "x": 1}}),
        json!({"reevaluate": "st"}),
    ] {
        let r = api.post("/_local/scheduled", &bad).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
    let missing = api
        .post("/_local/scheduled", &json!({"reevaluate": {"programId": "st", "jobId": "0123456789abcdef0123456789abcdef"}}))
        .await;
    assert_eq!(missing.status, 400, "{}", missing.body);
}

async fn tier_events_are_written_with_the_change_and_published_once(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "eager"},
             // Lifetime purchases, not a tracker: a retention rule's tracker
             // counts from the day the rule was published, the day this test
             // runs, which would drop o3 (dated 2026-12-01) from the
             // day after on.
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "keep", "kind": "lifetimePurchases", "min": "5000"}],
                "condition": "all", "onFail": "oneDown", "graceDays": 0, "warnDaysBefore": [30, 7]}}
        ]
    });
    api.program("ev", &config).await;
    let none = api.get("/programs/ev/events").await;
    assert_eq!(none.status, 200, "{}", none.body);
    assert_eq!(none.body, json!({"events": []}));
    api.order("ev", "c1", "o1", "2026-02-01T10:00:00Z", "3000")
        .await;
    // A second customer who keeps the tier: renewed, never warned.
    api.order("ev", "c2", "o2", "2026-02-01T11:00:00Z", "3000")
        .await;
    api.order("ev", "c2", "o3", "2026-12-01T00:00:00Z", "2500")
        .await;
    // The job at every day of the period's last month, twice each time:
    // each warning goes out once, on its day.
    for day in [
        "2027-01-01",
        "2027-01-02",
        "2027-01-10",
        "2027-01-25",
        "2027-01-25",
        "2027-02-02",
    ] {
        api.run_scheduled(&format!("{day}T12:00:00Z")).await;
    }
    let events = feed(&api, "ev", 2).await;
    let summary: Vec<(String, String, String, String, String, String)> = events
        .iter()
        .map(|e| {
            let f = |k: &str| {
                e[k].as_str()
                    .unwrap_or_else(|| panic!("{k} in {e}"))
                    .to_owned()
            };
            (
                f("type"),
                f("customerId"),
                f("from"),
                f("to"),
                f("at"),
                f("cause"),
            )
        })
        .collect();
    let row = |t: &str, c: &str, from: &str, to: &str, at: &str, cause: &str| {
        (
            t.into(),
            c.into(),
            from.into(),
            to.into(),
            at.into(),
            cause.into(),
        )
    };
    let mut expected = vec![
        row(
            "TierChanged",
            "c1",
            "Member",
            "Silver",
            "2026-02-01T10:00:00Z",
            "order o1",
        ),
        row(
            "TierChanged",
            "c2",
            "Member",
            "Silver",
            "2026-02-01T11:00:00Z",
            "order o2",
        ),
        row(
            "TierAtRisk",
            "c1",
            "Silver",
            "",
            "2027-01-02T10:00:00Z",
            "warning",
        ),
        row(
            "TierAtRisk",
            "c1",
            "Silver",
            "",
            "2027-01-25T10:00:00Z",
            "warning",
        ),
        row(
            "TierChanged",
            "c1",
            "Silver",
            "Member",
            "2027-02-01T10:00:00Z",
            "retention",
        ),
        row(
            "TierRenewed",
            "c2",
            "Silver",
            "Silver",
            "2027-02-01T11:00:00Z",
            "renewed",
        ),
    ];
    // The feed is in the order events were written; customers' events
    // written by one job run may interleave either way.
    let mut got = summary.clone();
    got.sort_by(|a, b| (&a.4, &a.1).cmp(&(&b.4, &b.1)));
    expected.sort_by(|a, b| (&a.4, &a.1).cmp(&(&b.4, &b.1)));
    assert_eq!(got, expected);
    let ids: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
    let upgrade = &events[0];
    assert_eq!(upgrade["programId"], "ev");
    assert_eq!(upgrade["seq"], "1");
    assert_eq!(upgrade["criteria"], "[\"S\"]");
    let warning = events.iter().find(|e| e["type"] == "TierAtRisk").unwrap();
    assert_eq!(warning["on"], "2027-02-01T10:00:00Z");
    let criteria: Value = serde_json::from_str(warning["criteria"].as_str().unwrap()).unwrap();
    assert_eq!(criteria[0]["id"], "keep");
    assert_eq!(criteria[0]["remaining"], "2000");
    let lapse = events.iter().find(|e| e["cause"] == "retention").unwrap();
    assert_eq!(lapse["criteria"], "[\"keep\"]", "the criterion missed");
    // Pages of one and of a hundred tell the same feed.
    assert_eq!(feed(&api, "ev", 1).await, events);
    assert_eq!(feed(&api, "ev", 100).await, events);
    for bad in ["limit=0", "limit=1001", "limit=x", "limit=-1", "after="] {
        let r = api.get(&format!("/programs/ev/events?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let long = "x".repeat(5000);
    let r = api.get(&format!("/programs/ev/events?after={long}")).await;
    assert_eq!(r.body["error"]["code"], "invalid_request");
    assert_eq!(api.get("/programs/nope/events").await.status, 404);
}

/// A Silver customer idle for three years under a monthly validity: 36
/// renewals owed at once, more than one commit writes (20). The order that
/// wakes the customer publishes every one of them, each seq once and in
/// order, before it is decided itself. (The warning days pass quietly: the
/// tier is never at risk.)
/// Silver from $3,000 spent, kept a month at a time (from the customer's
/// first event) by any purchase: it renews every month.
fn monthly_silver() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "programJoin"},
                "criteria": [{"id": "keep", "kind": "lifetimePurchases", "min": "1"}],
                "condition": "all", "onFail": "oneDown", "warnDaysBefore": [20, 10, 5]}}
        ]
    })
}

/// `events` (one customer's) are numbered 1 to `count` without a gap, and
/// `renewals` of them are renewals.
fn assert_numbered_with_renewals(events: &[Value], count: u64, renewals: usize) {
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=count).collect::<Vec<_>>());
    let renewed = events.iter().filter(|e| e["type"] == "TierRenewed").count();
    assert_eq!(renewed, renewals, "one a month");
}

/// The feed of a `monthly_silver` customer who joined on 2026-01-15 and
/// reached Silver then, as of 2029-01-20: the upgrade and 36 renewals,
/// each once.
async fn assert_upgrade_and_36_renewals(api: &Api, program: &str) {
    let events = feed(api, program, 1000).await;
    assert_numbered_with_renewals(&events, 37, 36);
    let status = api.status(program, "c", "2029-01-20T00:00:00Z").await;
    assert_eq!(status["validUntil"], "2029-02-15T10:00:00Z");
}

async fn a_customer_idle_for_years_publishes_every_event_it_owes(api: Api) {
    api.program("idle", &monthly_silver()).await;
    api.order("idle", "c", "o1", "2026-01-15T10:00:00Z", "3000")
        .await;
    let r = api
        .order("idle", "c", "o2", "2029-01-20T00:00:00Z", "10")
        .await;
    assert_eq!(r["tierAfter"], "Silver", "{r}");
    assert_upgrade_and_36_renewals(&api, "idle").await;
}

/// Was a bug: a late order that upgraded a customer whose latest event was
/// years later left the renewals its validity brought by then to the next
/// scheduled run. It publishes them itself, as the in-time order's
/// customer did at their latest event.
async fn a_late_upgrade_publishes_the_renewals_owed_by_the_latest_event(api: Api) {
    api.program("lateidle", &monthly_silver()).await;
    api.order("lateidle", "c", "o1", "2026-01-15T10:00:00Z", "1000")
        .await;
    api.order("lateidle", "c", "o2", "2029-01-20T00:00:00Z", "10")
        .await;
    let r = api
        .order("lateidle", "c", "late", "2026-01-16T00:00:00Z", "2000")
        .await;
    assert_eq!(r["tierAfter"], "Silver", "{r}");
    assert_upgrade_and_36_renewals(&api, "lateidle").await;
    // The job at the latest instant owes nothing more.
    api.run_scheduled("2029-01-20T00:00:00Z").await;
    assert_eq!(feed(&api, "lateidle", 1000).await.len(), 37);
}

/// Was a bug: one commit wrote at most 20 notices and dropped the oldest,
/// so an order crossing 31 tiers at once published only the last 20.
async fn an_order_that_crosses_every_tier_publishes_each_change(api: Api) {
    let tiers = dynamic_ladder_of_32_tiers();
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z", "tiers": tiers});
    api.program("steep", &config).await;
    let r = api
        .order("steep", "c", "o1", "2026-02-01T00:00:00Z", "1000")
        .await;
    assert_eq!(r["tierAfter"], "T31", "{r}");
    let events = feed(&api, "steep", 1000).await;
    let moves: Vec<(u64, String)> = events
        .iter()
        .map(|e| {
            let seq = e["seq"].as_str().unwrap().parse().unwrap();
            (seq, e["to"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected: Vec<(u64, String)> = (1..32).map(|i| (i, format!("T{i}"))).collect();
    assert_eq!(moves, expected);
}

/// T0 to T31, each tier from $10 more spent than the one below, dynamic:
/// one order of $310 crosses all 31 above the base, one change each.
fn dynamic_ladder_of_32_tiers() -> Vec<Value> {
    let mut tiers = vec![json!({"name": "T0", "earnRate": "1"})];
    for i in 1..32 {
        tiers.push(
            json!({"name": format!("T{i}"), "earnRate": "1", "upgrade": {
            "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": i * 10}],
            "condition": "all", "upgradeType": "dynamic"}}),
        );
    }
    tiers
}

/// Was a bug: a customer idle for six years under a monthly validity owed
/// 72 renewals, which fitted one commit, and the order that woke them
/// crossed 30 more tiers: the commit dropped the oldest notices. The
/// renewals owed go first, a commit of them at a time, when the decision
/// could not add its own to them.
async fn an_idle_customer_crossing_many_tiers_publishes_every_notice(api: Api) {
    let mut tiers = dynamic_ladder_of_32_tiers();
    tiers[1]["retention"] = json!({"validity": {"months": 1, "from": "programJoin"},
        "criteria": [{"id": "keep", "kind": "lifetimePurchases", "min": "1"}],
        "condition": "all", "onFail": "oneDown"});
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z", "tiers": tiers});
    api.program("steepidle", &config).await;
    api.order("steepidle", "c", "o1", "2026-01-15T10:00:00Z", "10")
        .await;
    let r = api
        .order("steepidle", "c", "o2", "2032-01-20T00:00:00Z", "1000")
        .await;
    assert_eq!(r["tierAfter"], "T31", "{r}");
    let events = feed(&api, "steepidle", 1000).await;
    assert_numbered_with_renewals(&events, 103, 72);
    assert_eq!(events[102]["to"], "T31");
}

/// Was a bug (found by an adversarial review): a request dated years after
/// a customer's last event, for a customer owing more notices than one
/// commit holds, wrote the renewals and the points expiry owed up to its
/// date before it was checked, and was then refused. A refused request
/// writes nothing; a pending order, which counts nothing, moves nobody's
/// clock; the first accepted event then publishes what is owed.
async fn a_refused_request_dated_years_ahead_writes_nothing(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"months": 12},
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 500}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "keep", "kind": "lifetimePurchases", "min": "500"}],
                "condition": "all", "onFail": "base"}}
        ]
    });
    api.program("ahead", &config).await;
    api.order("ahead", "c", "o1", "2026-03-01T10:00:00Z", "1000")
        .await;
    let as_of = "2026-03-02T00:00:00Z";
    let before = api.status("ahead", "c", as_of).await;
    let later = "2030-02-28T10:00:00Z";
    let refused = [
        (
            "/programs/ahead/orders",
            json!({"orderId": "o9", "customerId": "c", "placedAt": later,
                "status": "completed", "amount": "1", "currency": "EUR"}),
            "currency_mismatch",
        ),
        (
            "/programs/ahead/orders",
            e2e::order("c", "o1", later, "1000"),
            "idempotency_conflict",
        ),
        (
            "/programs/ahead/returns",
            json!({"returnId": "r1", "orderId": "nope", "customerId": "c",
                "returnedAt": later, "amount": "1"}),
            "order_not_found",
        ),
        (
            "/programs/ahead/returns",
            json!({"returnId": "r2", "orderId": "o1", "customerId": "c",
                "returnedAt": later, "amount": "5000"}),
            "return_exceeds_order",
        ),
        (
            "/programs/ahead/customers/c/redemptions",
            json!({"redemptionId": "x1", "points": "999999", "at": later}),
            "insufficient_points",
        ),
    ];
    for (path, body, code) in &refused {
        let r = api.post(path, body).await;
        assert!(r.status >= 400 && r.status < 500, "{code}: {}", r.body);
        assert_eq!(r.body["error"]["code"], *code, "{}", r.body);
        assert_eq!(
            api.status("ahead", "c", as_of).await["history"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "after {code}"
        );
    }
    let pending = json!({"orderId": "p1", "customerId": "c", "placedAt": later,
        "status": "pending", "amount": "10", "currency": "USD"});
    let r = api.post("/programs/ahead/orders", &pending).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.status("ahead", "c", as_of).await, before);
    assert_eq!(
        feed(&api, "ahead", 1000).await.len(),
        1,
        "the upgrade alone"
    );
    // Accepted, the order then publishes every renewal owed.
    let r = api.order("ahead", "c", "o2", later, "10").await;
    assert_eq!(r["tierAfter"], "Silver", "{r}");
    let renewals = feed(&api, "ahead", 1000)
        .await
        .iter()
        .filter(|e| e["type"] == "TierRenewed")
        .count();
    assert_eq!(renewals, 47, "monthly from 2026-04-01 to 2030-02-01");
}

on_both_engines!(
    an_idle_customer_crossing_many_tiers_publishes_every_notice,
    a_late_upgrade_publishes_the_renewals_owed_by_the_latest_event,
    an_order_that_crosses_every_tier_publishes_each_change,
    a_refused_request_dated_years_ahead_writes_nothing,
    a_customer_idle_for_years_publishes_every_event_it_owes,
    a_reevaluation_runs_step_by_step_as_the_state_machine_calls_it,
    a_retention_rule_added_later_counts_from_its_publication,
    a_config_that_lowers_a_threshold_upgrades_who_qualifies_now,
    a_reevaluation_left_by_a_stopped_process_resumes_when_read,
    the_job_in_shard_steps_adds_up_to_one_run,
    tier_events_are_written_with_the_change_and_published_once,
    ako_silver_by_entry_goal_or_single_order,
    capillary_upgrade_types_award_400_600_and_200_plus_300,
    capillary_progress_shows_what_remains,
    capillary_returning_the_fifth_visit_reverses_the_upgrade,
    capillary_conditions_any_all_and_custom,
    replays_answer_the_original_and_changed_payloads_conflict,
    pending_orders_count_when_completed_and_cancellation_returns_them,
    config_versions_and_admin_tier_changes,
    the_expiry_job_twice_gives_the_same_state,
);

// Their retention rules count trackers from the day the rule was published:
// fixed, so these histories end the same whatever day the suite runs.
on_both_engines!(
    published_at = "2026-11-30T00:00:00Z";
    a_tier_warns_gives_grace_and_lapses_through_the_api,
    a_fixed_publication_day_is_where_retention_trackers_start,
);
