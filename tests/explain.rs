//! The explanation API end to end on both engines: "why was my customer
//! not upgraded", per criterion, written out left to right, and what a
//! past order would have needed under the rules it was decided under.

use e2e::{on_both_engines, Api};
use serde_json::{json, Value};

fn config(gold_purchases: &str) -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "visits", "measure": "visits", "period": {"days": 365}}],
        "tiers": [
            {"name": "Base", "earnRate": "0.1"},
            {"name": "Gold", "earnRate": "0.2", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": gold_purchases},
                {"id": "B", "kind": "tracker", "tracker": "visits", "min": 3},
                {"id": "C", "kind": "singleOrder", "min": "5000", "op": "gt"}],
                "condition": {"custom": "A AND B OR C"}, "upgradeType": "lazy"}},
            {"name": "Diamond", "earnRate": "0.3", "upgrade": {"criteria": [
                {"id": "V", "kind": "tracker", "tracker": "visits", "min": 10}],
                "condition": "all", "upgradeType": "eager"}}]
    })
}

async fn explains_the_next_tier_and_what_an_order_needed(api: Api) {
    api.program("p", &config("1000")).await;
    api.order("p", "c", "o1", "2026-03-01T00:00:00Z", "700")
        .await;
    api.order("p", "c", "o2", "2026-03-02T00:00:00Z", "200")
        .await;

    // As of a day the visits are in their window (now, they leave it).
    let r = api
        .get("/programs/p/customers/c/explain?asOf=2026-03-15T00:00:00Z")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = r.body;
    assert_eq!(e["tier"], "Gold");
    assert_eq!(e["customerTier"], "Base");
    assert_eq!(e["configVersion"], 1);
    assert_eq!(e["qualifies"], false);
    assert_eq!(e["condition"], "(A AND B) OR C");
    assert_eq!(
        e["evaluation"],
        json!([
            "(A AND B) OR C",
            "(false AND false) OR false",
            "false OR false",
            "false"
        ])
    );
    assert_eq!(
        e["criteria"],
        json!([
            {"id": "A", "kind": "lifetimePurchases", "op": "gte", "required": "1000", "actual": "900", "met": false},
            {"id": "B", "kind": "tracker", "tracker": "visits", "op": "gte", "required": "3", "actual": "2", "met": false},
            {"id": "C", "kind": "singleOrder", "op": "gt", "required": "5000", "actual": "700", "met": false}
        ])
    );

    // o2 would have needed $5,000.01 (C), as A and B could not both hold
    // with two visits.
    let r = api.get("/programs/p/customers/c/explain?orderId=o2").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["asOf"], "2026-03-02T00:00:00Z");
    assert_eq!(
        r.body["order"],
        json!({"orderId": "o2", "placedAt": "2026-03-02T00:00:00Z", "amount": "200",
               "tierBefore": "Base", "tierAfter": "Base", "outcome": "amount",
               "smallestAmount": "5000.01", "extraAmount": "4800.01"})
    );

    // A third visit: now $100 more on o3 would have done it through A AND B.
    api.order("p", "c", "o3", "2026-03-03T00:00:00Z", "0").await;
    let r = api
        .get("/programs/p/customers/c/explain?orderId=o3&tier=Gold")
        .await;
    assert_eq!(r.body["order"]["outcome"], "amount", "{}", r.body);
    assert_eq!(r.body["order"]["smallestAmount"], "100");
    let upgraded = api
        .order("p", "c", "o4", "2026-03-04T00:00:00Z", "100")
        .await;
    assert_eq!(upgraded["tierAfter"], "Gold");
    let r = api
        .get("/programs/p/customers/c/explain?orderId=o4&tier=Gold")
        .await;
    assert_eq!(r.body["order"]["outcome"], "met");
    assert_eq!(
        r.body["evaluation"].as_array().unwrap().last().unwrap(),
        "true"
    );

    // Diamond counts visits only: no amount of o4 could have reached it.
    let r = api
        .get("/programs/p/customers/c/explain?orderId=o4&tier=Diamond")
        .await;
    assert_eq!(r.body["tier"], "Diamond");
    assert_eq!(r.body["order"]["outcome"], "noAmount");
    let reasons = r.body["order"]["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0]
        .as_str()
        .unwrap()
        .contains("counts visits (4 of 10"));

    // A later config raises A: the order stays judged under its own rules,
    // the customer now under the new ones.
    api.program("p", &config("2000")).await;
    let r = api.get("/programs/p/customers/c/explain?orderId=o2").await;
    assert_eq!(r.body["configVersion"], 1);
    assert_eq!(r.body["criteria"][0]["required"], "1000");
    let r = api.get("/programs/p/customers/c/explain?tier=Gold").await;
    assert_eq!(r.body["configVersion"], 2);
    assert_eq!(r.body["customerTier"], "Gold");
    assert_eq!(r.body["criteria"][0]["required"], "2000");
    assert_eq!(r.body["qualifies"], false);
}

async fn refuses_what_it_cannot_explain_and_writes_nothing(api: Api) {
    api.program("p", &config("1000")).await;
    api.order("p", "c", "o1", "2026-03-01T00:00:00Z", "700")
        .await;
    let before = api.get("/programs/p/customers/c").await.body;
    let long = "x".repeat(10_000);
    let cases = [
        ("?tier=Platinum".to_owned(), 422, "unknown_tier"),
        ("?tier=Base".to_owned(), 422, "tier_has_no_rule"),
        (format!("?tier={long}"), 400, "invalid_request"),
        ("?orderId=nope".to_owned(), 404, "order_not_found"),
        (format!("?orderId={long}"), 400, "invalid_request"),
        (
            "?orderId=o1&asOf=2026-04-01T00:00:00Z".to_owned(),
            400,
            "invalid_request",
        ),
        ("?asOf=yesterday".to_owned(), 400, "invalid_request"),
        (
            "?asOf=2026-02-01T00:00:00Z".to_owned(),
            422,
            "as_of_before_last_change",
        ),
        (
            "?asOf=%2B10000-01-01T00:00:00Z".to_owned(),
            400,
            "invalid_request",
        ),
    ];
    for (query, status, code) in cases {
        let r = api
            .get(&format!("/programs/p/customers/c/explain{query}"))
            .await;
        let shown: String = query.chars().take(60).collect();
        assert_eq!((r.status, r.code()), (status, code), "{shown}: {}", r.body);
    }
    let r = api.get("/programs/p/customers/nobody/explain").await;
    assert_eq!((r.status, r.code()), (404, "customer_not_found"));
    let r = api.get("/programs/nope/customers/c/explain").await;
    assert_eq!(r.status, 404, "{}", r.body);
    // In the top tier, nothing is above: name a tier.
    for (i, day) in (2..12).enumerate() {
        api.order(
            "p",
            "c",
            &format!("v{i}"),
            &format!("2026-03-{day:02}T00:00:00Z"),
            "0",
        )
        .await;
    }
    let r = api
        .get("/programs/p/customers/c/explain?asOf=2026-03-15T00:00:00Z")
        .await;
    assert_eq!((r.status, r.code()), (422, "no_tier_above"), "{}", r.body);
    let r = api
        .get("/programs/p/customers/c/explain?tier=Diamond&asOf=2026-03-15T00:00:00Z")
        .await;
    assert_eq!(r.body["qualifies"], true);
    let after = api.get("/programs/p/customers/c").await.body;
    assert_eq!(after["history"].as_array().unwrap().len(), 1);
    assert_eq!(before["lifetimePurchases"], after["lifetimePurchases"]);
}

on_both_engines!(
    explains_the_next_tier_and_what_an_order_needed,
    refuses_what_it_cannot_explain_and_writes_nothing,
    an_order_of_a_customer_who_redeemed_is_explained_on_the_points_left,
    an_order_is_explained_on_the_points_left_after_expiry,
    orders_of_one_instant_are_explained_in_the_order_they_came
);

/// Silver from 1,000 current points. A ($600), then B ($500) and C ($300),
/// all placed at midnight on 10 January (a batch sent with the day's date):
/// B reached Silver on A's points and its own (1,100), C was decided at
/// Silver. A would have needed $1,000. Before the thirty-third session the
/// explanation counted no order of B's instant and said B needed $1,000.
async fn orders_of_one_instant_are_explained_in_the_order_they_came(api: Api) {
    api.program("p", &e2e::silver_by_current_points("1000"))
        .await;
    let day = "2026-01-10T00:00:00Z";
    for (id, amount) in [("A", "600"), ("B", "500"), ("C", "300")] {
        api.order("p", "c", id, day, amount).await;
    }
    let outcome = |r: &e2e::Reply| {
        (
            r.body["order"]["outcome"].clone(),
            r.body["order"]["smallestAmount"].clone(),
        )
    };
    let explained = |id: &'static str| {
        let api = &api;
        async move {
            let r = api
                .get(&format!(
                    "/programs/p/customers/c/explain?orderId={id}&tier=Silver"
                ))
                .await;
            assert_eq!(r.status, 200, "{id}: {}", r.body);
            r
        }
    };
    let b = explained("B").await;
    assert_eq!(outcome(&b), (json!("met"), Value::Null), "{}", b.body);
    assert_eq!(b.body["criteria"][0]["actual"], "1100", "{}", b.body);
    let a = explained("A").await;
    assert_eq!(outcome(&a), (json!("amount"), json!("1000")), "{}", a.body);
    let c = explained("C").await;
    assert_eq!(c.body["order"]["outcome"], "heldBefore", "{}", c.body);
}

/// Silver from 1,000 current points; points last 30 days. A (800) on 2
/// January expires on 1 February; B (750) on 10 February leaves 750, no
/// upgrade: B would have needed $1,000. Before the thirty-second session
/// the explanation counted A's expired points and said B met the rule
/// (1,550).
async fn an_order_is_explained_on_the_points_left_after_expiry(api: Api) {
    let mut config = e2e::silver_by_current_points("1000");
    config["pointsExpiry"] = json!({"days": 30});
    api.program("p", &config).await;
    api.order("p", "c", "A", "2026-01-02T00:00:00Z", "800")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-10T00:00:00Z", "750")
        .await;
    assert_eq!(b["tierAfter"], "Member");
    let r = api.get("/programs/p/customers/c/explain?orderId=B").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            &r.body["order"]["outcome"],
            &r.body["order"]["smallestAmount"],
            &r.body["order"]["extraAmount"]
        ),
        (&json!("amount"), &json!("1000"), &json!("250")),
        "{}",
        r.body
    );
    assert_eq!(r.body["criteria"][0]["actual"], "750", "{}", r.body);
}

/// Silver from 500 current points. A (400), 300 points redeemed, B (350):
/// 450, no upgrade. B would have needed $400 (50 more): 100 left + 400.
/// Before the explanation read the redemptions it said B met the rule
/// (400 + 350 = 750), contradicting the decision.
async fn an_order_of_a_customer_who_redeemed_is_explained_on_the_points_left(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    api.redeem("p", "c", "x", "300", "2026-02-02T00:00:00Z")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-03T00:00:00Z", "350")
        .await;
    assert_eq!(b["tierAfter"], "Member");
    let r = api.get("/programs/p/customers/c/explain?orderId=B").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            &r.body["order"]["outcome"],
            &r.body["order"]["smallestAmount"],
            &r.body["order"]["extraAmount"]
        ),
        (&json!("amount"), &json!("400"), &json!("50")),
        "{}",
        r.body
    );
    assert_eq!(r.body["criteria"][0]["actual"], "450", "{}", r.body);
}
