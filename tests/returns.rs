//! Returns reverse every upgrade that no longer holds, whatever the order
//! of returns, judged under the rules each upgrade was decided under.

use e2e::{on_both_engines, Api};
use serde_json::{json, Value};

fn ladder(gold: &str, diamond: &str) -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Silver", "earnRate": "0.01"},
            {"name": "Gold", "earnRate": "0.02", "upgrade": {
                "criteria": [{"id": "P", "kind": "lifetimePurchases", "min": gold}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Diamond", "earnRate": "0.03", "upgrade": {
                "criteria": [{"id": "P", "kind": "lifetimePurchases", "min": diamond}],
                "condition": "all", "upgradeType": "lazy"}}]
    })
}

async fn give_back(api: &Api, id: &str, order: &str, amount: Option<&str>) -> Value {
    let mut body = json!({"returnId": id, "orderId": order, "customerId": "c",
        "returnedAt": "2026-03-01T00:00:00Z"});
    if let Some(a) = amount {
        body["amount"] = json!(a);
    }
    let r = api.post("/programs/p/returns", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn steps(reply: &Value) -> Vec<(String, String)> {
    reply["downgrades"]
        .as_array()
        .expect("downgrades is always a list")
        .iter()
        .map(|d| {
            (
                d["from"].as_str().unwrap().to_owned(),
                d["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn returning_the_older_upgrading_order_first_takes_back_both_upgrades(api: Api) {
    api.program("p", &ladder("10000", "15000")).await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "10000")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-02T00:00:00Z", "5000")
        .await;
    assert_eq!(b["tierAfter"], "Diamond");
    let back = give_back(&api, "rA", "A", None).await;
    assert_eq!(back["tierAfter"], "Silver");
    assert_eq!(
        steps(&back),
        vec![
            ("Diamond".to_owned(), "Gold".to_owned()),
            ("Gold".to_owned(), "Silver".to_owned())
        ]
    );
    let back = give_back(&api, "rB", "B", None).await;
    assert_eq!(back["tierAfter"], "Silver");
    assert_eq!(
        steps(&back),
        Vec::<(String, String)>::new(),
        "an empty list"
    );
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(status["tier"], "Silver");
    assert_eq!(status["lifetimePurchases"], "0");
    let causes: Vec<&str> = status["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["cause"].as_str().unwrap())
        .collect();
    assert_eq!(
        causes,
        vec![
            "order A",
            "order B",
            "return rA of order A",
            "return rA of order A"
        ]
    );
}

async fn a_jump_returned_in_two_parts_steps_down_twice(api: Api) {
    api.program("p", &ladder("10000", "15000")).await;
    api.order("p", "c", "o1", "2026-02-01T00:00:00Z", "9000")
        .await;
    let jump = api
        .order("p", "c", "o2", "2026-02-02T00:00:00Z", "7000")
        .await;
    assert_eq!(jump["tierAfter"], "Diamond");
    let back = give_back(&api, "r1", "o2", Some("3000")).await;
    assert_eq!(back["tierAfter"], "Gold");
    let back = give_back(&api, "r2", "o2", None).await;
    assert_eq!(back["tierAfter"], "Silver", "$9,000 does not hold Gold");
    assert_eq!(steps(&back), vec![("Gold".to_owned(), "Silver".to_owned())]);
}

/// A threshold raised after an upgrade never demotes through a return: the
/// upgrade is judged under the version it was decided under.
async fn upgrades_are_judged_under_their_own_config_version(api: Api) {
    api.program("p", &ladder("1000", "15000")).await;
    let up = api
        .order("p", "c", "o1", "2026-02-01T00:00:00Z", "1500")
        .await;
    assert_eq!(up["tierAfter"], "Gold");
    api.program("p", &ladder("2000", "15000")).await;
    let back = give_back(&api, "r1", "o1", Some("100")).await;
    assert_eq!(
        back["tierAfter"], "Gold",
        "$1,400 still holds Gold at $1,000"
    );
    let back = give_back(&api, "r2", "o1", Some("500")).await;
    assert_eq!(back["tierAfter"], "Silver", "$900 does not");
}

/// Cancelling a completed order is a whole return, judged the same way.
async fn cancelling_an_upgrading_order_reverses_every_upgrade_it_held_up(api: Api) {
    api.program("p", &ladder("10000", "15000")).await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "10000")
        .await;
    api.order("p", "c", "B", "2026-02-02T00:00:00Z", "5000")
        .await;
    let cancel = json!({"orderId": "A", "customerId": "c", "placedAt": "2026-02-01T00:00:00Z",
        "status": "cancelled", "amount": "10000", "currency": "USD"});
    let r = api.post("/programs/p/orders", &cancel).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tierAfter"], "Silver");
    assert_eq!(r.body["downgrades"].as_array().unwrap().len(), 2);
}

on_both_engines!(
    returning_the_older_upgrading_order_first_takes_back_both_upgrades,
    a_jump_returned_in_two_parts_steps_down_twice,
    upgrades_are_judged_under_their_own_config_version,
    cancelling_an_upgrading_order_reverses_every_upgrade_it_held_up,
    status_before_the_last_change_is_refused_with_the_earliest_instant,
    the_return_policy_applies_to_spent_points,
    returning_the_five_largest_orders_leaves_the_sixth_as_the_best,
    late_returns_and_redemptions_do_not_take_points_expiry_took,
    a_return_judges_an_upgrade_on_the_points_left_after_redemptions,
    a_redemption_keeps_its_place_within_the_second,
    a_return_judges_an_upgrade_on_the_points_left_after_expiry,
    a_return_replays_expiry_across_the_versions_the_history_names,
);

/// Customer c of the test above, Silver kept a month at a time by 1 current
/// point: the orders under version 1, the renewal on 10 March under
/// version 2, the return under version 3, all with points lasting 30 days.
/// The judgment replays expiry only where every version the customer's
/// orders and history name expired points alike, so the service reads the
/// version the renewal names too (it read only those of the orders and
/// re-evaluations, and the judgment kept Silver on 1,750).
async fn a_return_replays_expiry_across_the_versions_the_history_names(api: Api) {
    let version = |n: u32| {
        let mut config = e2e::silver_by_current_points("1000");
        config["pointsExpiry"] = json!({"days": 30});
        config["tiers"][1]["retention"] = json!({
            "validity": {"months": 1, "from": "tierStart"},
            "criteria": [{"id": "K", "kind": "currentPoints", "min": 1}],
            "condition": "all", "onFail": "oneDown", "graceDays": n});
        config
    };
    api.program("p", &version(1)).await;
    api.order("p", "c", "A", "2026-01-02T00:00:00Z", "800")
        .await;
    api.order("p", "c", "C", "2026-02-05T00:00:00Z", "300")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-10T00:00:00Z", "750")
        .await;
    assert_eq!(b["tierAfter"], "Silver", "{b}");
    api.program("p", &version(2)).await;
    api.run_scheduled("2026-03-10T12:00:00Z").await;
    let renewed = api.status("p", "c", "2026-03-10T12:00:00Z").await;
    assert_eq!(renewed["tier"], "Silver", "{renewed}");
    api.program("p", &version(3)).await;
    let r = api
        .post(
            "/programs/p/returns",
            &json!({"returnId": "rB", "orderId": "B", "customerId": "c",
                "returnedAt": "2026-03-11T00:00:00Z", "amount": "100"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tierAfter"], "Member", "{}", r.body);
}

/// Silver from 1,000 current points; points last 30 days. Customer c: A
/// (800) on 2 January expires on 1 February; C (300) on 5 February; B
/// (750) on 10 February: 1,050, Silver. Customer d: A (800) on 1 February,
/// 600 redeemed on 2 February, B (900) on 3 February: 1,100, Silver. Each
/// returns $100 or $200 of B: in time B left 950 and 900, short of Silver.
/// Before the thirty-second session the judgment counted current points as
/// lifetime points where points expire (1,750 and 1,500 at B) and both
/// kept Silver; d's needs the redemption read with the orders.
async fn a_return_judges_an_upgrade_on_the_points_left_after_expiry(api: Api) {
    let mut config = e2e::silver_by_current_points("1000");
    config["pointsExpiry"] = json!({"days": 30});
    api.program("p", &config).await;
    for (customer, a_at, redeemed, c, b_at, b, back) in [
        (
            "c",
            "2026-01-02T00:00:00Z",
            None,
            Some(("2026-02-05T00:00:00Z", "300")),
            "2026-02-10T00:00:00Z",
            "750",
            "100",
        ),
        (
            "d",
            "2026-02-01T00:00:00Z",
            Some(("2026-02-02T00:00:00Z", "600")),
            None,
            "2026-02-03T00:00:00Z",
            "900",
            "200",
        ),
    ] {
        api.order("p", customer, "A", a_at, "800").await;
        if let Some((at, points)) = redeemed {
            api.redeem("p", customer, "x", points, at).await;
        }
        if let Some((at, amount)) = c {
            api.order("p", customer, "C", at, amount).await;
        }
        let crossing = api.order("p", customer, "B", b_at, b).await;
        assert_eq!(crossing["tierAfter"], "Silver", "{customer}: {crossing}");
        let r = api
            .post(
                "/programs/p/returns",
                &json!({"returnId": "rB", "orderId": "B", "customerId": customer,
                    "returnedAt": "2026-02-20T00:00:00Z", "amount": back}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["tierAfter"], "Member", "{customer}: {}", r.body);
        assert_eq!(
            steps(&r.body),
            vec![("Silver".to_owned(), "Member".to_owned())]
        );
        let status = api.status("p", customer, "2026-02-21T00:00:00Z").await;
        assert_eq!(status["tier"], "Member", "{customer}: {status}");
    }
}

/// Silver from 500 current points. A (400) on 1 February; B (150) at
/// 10:00:00.3 on 2 February: 550, Silver; 300 points redeemed at
/// 10:00:00.7, after B. $10 of B returned: at B the customer held 540,
/// Silver. The redemption item's instant was written to the second
/// (10:00:00), before B, and the replay judged B on 240.
async fn a_redemption_keeps_its_place_within_the_second(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-02T10:00:00.3Z", "150")
        .await;
    assert_eq!(b["tierAfter"], "Silver");
    api.redeem("p", "c", "x", "300", "2026-02-02T10:00:00.7Z")
        .await;
    let back = give_back(&api, "rB", "B", Some("10")).await;
    assert_eq!(back["tierAfter"], "Silver", "{back}");
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["currentPoints"]),
        (&json!("Silver"), &json!("240"))
    );
}

/// Silver from 500 current points. A (400) on 1 February, 300 points
/// redeemed on 2 February, B (450) on 3 February: 550, Silver. $100 of B
/// returned: in time B left 100 + 350 = 450, short of Silver. Before the
/// service read the redemptions with the orders, the return judged B's
/// upgrade on 750 (lifetime points) and the customer kept Silver.
async fn a_return_judges_an_upgrade_on_the_points_left_after_redemptions(api: Api) {
    api.spender_silver_by_b().await;
    let back = give_back(&api, "rB", "B", Some("100")).await;
    assert_eq!(back["tierAfter"], "Member", "{back}");
    assert_eq!(
        steps(&back),
        vec![("Silver".to_owned(), "Member".to_owned())]
    );
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["currentPoints"]),
        (&json!("Member"), &json!("450"))
    );
}

/// The state keeps the five largest orders for `singleOrder` criteria; once
/// all five are returned the sixth is the best order, as a customer with
/// only that order would have it (an adversarial review found it read 0).
async fn returning_the_five_largest_orders_leaves_the_sixth_as_the_best(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {
                "criteria": [{"id": "B", "kind": "singleOrder", "min": "1500"}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "0.03", "upgrade": {
                "criteria": [{"id": "B", "kind": "singleOrder", "min": "5000"}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    api.program("p", &config).await;
    for (i, amount) in ["2000", "1900", "1800", "1700", "1600", "1550"]
        .iter()
        .enumerate()
    {
        let placed = format!("2026-02-0{}T10:00:00Z", i + 1);
        api.order("p", "c", &format!("o{i}"), &placed, amount).await;
    }
    for i in 0..5 {
        give_back(&api, &format!("r{i}"), &format!("o{i}"), None).await;
    }
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(status["tier"], "Silver", "{status}");
    let gold = &status["progress"][0];
    assert_eq!(gold["tier"], "Gold", "{status}");
    assert_eq!(gold["criteria"][0]["actual"], "1550", "{status}");
}

/// `asOf` before the customer's last applied change is refused, naming the
/// earliest instant allowed; at that instant it is answered.
async fn status_before_the_last_change_is_refused_with_the_earliest_instant(api: Api) {
    api.program("p", &ladder("10000", "15000")).await;
    api.order("p", "c", "o1", "2026-02-01T00:00:00Z", "100")
        .await;
    api.order("p", "c", "o2", "2026-02-03T12:00:00Z", "100")
        .await;
    let r = api
        .get("/programs/p/customers/c?asOf=2026-02-03T11:59:59Z")
        .await;
    assert_eq!((r.status, r.code()), (422, "as_of_before_last_change"));
    assert_eq!(
        r.body["error"]["details"][0]["earliest"],
        "2026-02-03T12:00:00Z"
    );
    let at_last = api.status("p", "c", "2026-02-03T12:00:00Z").await;
    assert_eq!(at_last["lifetimePurchases"], "200");
    // The message names the instant to the fraction (found by an
    // adversary: rounded down to the second, asking as of it was refused).
    api.order("p", "c", "o3", "2026-02-04T10:00:00.7Z", "100")
        .await;
    let r = api
        .get("/programs/p/customers/c?asOf=2026-02-04T09:00:00Z")
        .await;
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("changed last at 2026-02-04T10:00:00.700Z;"),
        "{message}"
    );
    api.status("p", "c", "2026-02-04T10:00:00.700Z").await;
    // A late order placed before the last change does not move it back.
    api.order("p", "c", "o0", "2026-01-15T00:00:00Z", "50")
        .await;
    let r = api
        .get("/programs/p/customers/c?asOf=2026-02-02T00:00:00Z")
        .await;
    assert_eq!(r.code(), "as_of_before_last_change");
}

/// `withinBalance` stops at zero and reports the shortfall; the default
/// owes the spent points.
async fn the_return_policy_applies_to_spent_points(api: Api) {
    for (policy, current, shortfall) in [(None, "-40", "0"), (Some("withinBalance"), "0", "40")] {
        let mut config = ladder("10000", "15000");
        config["tiers"][0]["earnRate"] = json!("0.1");
        if let Some(p) = policy {
            config["returnPolicy"] = json!({ "spentPoints": p });
        }
        api.program("p", &config).await;
        let customer = format!("c-{}", policy.unwrap_or("default"));
        api.order("p", &customer, "o1", "2026-02-01T00:00:00Z", "500")
            .await;
        let r = api
            .post(
                &format!("/programs/p/customers/{customer}/redemptions"),
                &json!({"redemptionId": "x", "points": "40", "at": "2026-02-02T00:00:00Z"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = api
            .post(
                "/programs/p/returns",
                &json!({"returnId": "r", "orderId": "o1",
                "customerId": customer, "returnedAt": "2026-02-03T00:00:00Z"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["pointsReversed"], "50");
        assert_eq!(r.body["pointsShortfall"], shortfall, "{policy:?}");
        let status = api.status("p", &customer, "2026-02-03T00:00:00Z").await;
        assert_eq!(status["currentPoints"], current, "{policy:?}");
    }
    let mut bad = ladder("10000", "15000");
    bad["returnPolicy"] = json!({"spentPoints": "sometimes"});
    let r = api.put("/programs/p/config", &bad).await;
    assert_eq!(r.status, 400);
}

/// A return and a redemption made before points expired, arriving after
/// the job expired them: in time they would have taken those points from
/// the lot before it expired, so they do not take them from current points
/// a second time (before the fix the customer lost them twice).
async fn late_returns_and_redemptions_do_not_take_points_expiry_took(api: Api) {
    let mut config = ladder("10000", "15000");
    config["tiers"][0]["earnRate"] = json!("1");
    config["pointsExpiry"] = json!({"days": 30});
    api.program("p", &config).await;
    api.order("p", "c", "o1", "2026-01-01T10:00:00Z", "100")
        .await;
    api.order("p", "c", "o2", "2026-01-02T10:00:00Z", "80")
        .await;
    api.order("p", "c", "o3", "2026-01-20T10:00:00Z", "50")
        .await;
    // o1's and o2's 180 points expire on 31 January and 1 February.
    let job = api
        .post(
            "/_local/scheduled",
            &e2e::scheduled_event("2026-02-03T00:00:00Z"),
        )
        .await;
    assert_eq!(job.body["pointsExpired"], "180", "{}", job.body);
    let r = api
        .post(
            "/programs/p/returns",
            &json!({"returnId": "r1", "orderId": "o1", "customerId": "c",
                    "returnedAt": "2026-01-10T10:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["pointsReversed"], &r.body["pointsShortfall"]),
        (&json!("100"), &json!("0"))
    );
    // Only 50 points now; spent on 15 January, 60 came from o2's lot.
    let x = api
        .post(
            "/programs/p/customers/c/redemptions",
            &json!({"redemptionId": "x1", "points": "60", "at": "2026-01-15T10:00:00Z"}),
        )
        .await;
    assert_eq!(x.status, 200, "{}", x.body);
    let status = api.status("p", "c", "2026-02-04T00:00:00Z").await;
    assert_eq!(
        (&status["currentPoints"], &status["lifetimePoints"]),
        (&json!("50"), &json!("130")),
        "{status}"
    );
    // What was left of the expiry (20) covers no more than that.
    let x = api
        .post(
            "/programs/p/customers/c/redemptions",
            &json!({"redemptionId": "x2", "points": "71", "at": "2026-01-16T10:00:00Z"}),
        )
        .await;
    assert_eq!(x.status, 422, "{}", x.body);
    assert_eq!(x.code(), "insufficient_points");
}
