//! An adversary of the spender's replays through HTTP: redemptions read
//! with the orders (`transact.rs` `redemptions`, `explain.rs`), raced,
//! many, late, hostile and damaged.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{on_both_engines, Api, Http};
use futures::future::join_all;
use serde_json::{json, Value};
use std::time::Instant;

fn ret(customer: &str, id: &str, order: &str, amount: &str) -> Value {
    json!({"returnId": id, "orderId": order, "customerId": customer,
        "returnedAt": "2026-03-01T00:00:00Z", "amount": amount})
}

async fn redeem_raw(http: &Http, customer: &str, id: &str, points: &str, at: &str) -> e2e::Reply {
    http.post(
        &format!("/programs/p/customers/{customer}/redemptions"),
        &json!({"redemptionId": id, "points": points, "at": at}),
    )
    .await
}

/// The customer's tier, current and lifetime points as of `as_of`.
async fn standing(api: &Api, customer: &str, as_of: &str) -> [String; 3] {
    let status = api.status("p", customer, as_of).await;
    ["tier", "currentPoints", "lifetimePoints"].map(|field| {
        status[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {status}"))
            .to_owned()
    })
}

fn int(v: &Value) -> i64 {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string: {v}"))
        .parse()
        .unwrap_or_else(|_| panic!("whole points: {v}"))
}

/// Silver from 500 current points. A (400) 1 Feb, B (450) 3 Feb: Silver.
/// Fifteen redemptions of 23 points dated 2 Feb (before B) race a return
/// of $100 of B. Whatever the commit order, the return judges B on what
/// the redemptions committed before it left: 750 - 23k (k committed
/// before it), Silver iff k <= 10. A redemption's reply tells which side
/// of the return it committed on (850 - 23j before, 750 - 23j after).
/// Each late redemption is checked by the replay in time, so once all
/// have committed the customer stands as in time: 405, a Member.
async fn redemptions_racing_a_return_leave_points_as_in_commit_order_and_the_tier_as_in_time(
    api: Api,
) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    for round in 0..3 {
        let c = format!("c{round}");
        api.order("p", &c, "A", "2026-02-01T00:00:00Z", "400").await;
        let b = api.order("p", &c, "B", "2026-02-03T00:00:00Z", "450").await;
        assert_eq!(b["tierAfter"], "Silver");
        let http: Http = (*api).clone();
        let mut redemptions = Vec::new();
        for i in 0..15 {
            let (http, c) = (http.clone(), c.clone());
            redemptions.push(tokio::spawn(async move {
                let at = format!("2026-02-02T00:{i:02}:00Z");
                redeem_raw(&http, &c, &format!("r{i}"), "23", &at).await
            }));
        }
        let back = {
            let (http, c) = (http.clone(), c.clone());
            tokio::spawn(async move {
                http.post("/programs/p/returns", &ret(&c, "rB", "B", "100"))
                    .await
            })
        };
        let replies: Vec<e2e::Reply> = join_all(redemptions)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let back = back.await.unwrap();
        assert_eq!(back.status, 200, "{}", back.body);
        let mut before = Vec::new();
        let mut after = Vec::new();
        for r in &replies {
            assert_eq!(r.status, 200, "{}", r.body);
            let current = int(&r.body["currentPoints"]);
            let (b850, b750) = (850 - current, 750 - current);
            if b850 % 23 == 0 {
                before.push(b850 / 23);
            } else if b750 % 23 == 0 {
                after.push(b750 / 23);
            } else {
                panic!("a redemption's current points tell no order: {}", r.body);
            }
        }
        let k = before.len() as i64;
        let mut seen: Vec<_> = before.iter().chain(&after).copied().collect();
        seen.sort();
        let want: Vec<i64> = (1..=15).collect();
        assert_eq!(seen, want, "each redemption counted once, in one order");
        let expected = if 750 - 23 * k >= 500 {
            "Silver"
        } else {
            "Member"
        };
        eprintln!("return race {round}: {k} redemptions committed before the return");
        assert_eq!(back.body["tierAfter"], expected, "k = {k}: {}", back.body);
        assert_eq!(
            standing(&api, &c, "2026-03-02T00:00:00Z").await,
            ["Member", "405", "750"],
            "k = {k}"
        );
    }
}

/// Silver from 500 current points. A (400) 1 Feb, B (60) 10 Feb: 460.
/// Fifteen redemptions of 23 dated 5 Feb race a late order L ($50, 3 Feb).
/// In commit order: L before every redemption reaches 510 at B, Silver;
/// after any, short. A redemption's reply tells which side (460 - 23j
/// before L, 510 - 23j after). Each late redemption is checked by the
/// replay in time, so once all have committed the customer stands as in
/// time: never Silver.
async fn redemptions_racing_a_late_order_leave_points_as_in_commit_order_and_the_tier_as_in_time(
    api: Api,
) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    for round in 0..4u64 {
        let c = format!("c{round}");
        api.order("p", &c, "A", "2026-02-01T00:00:00Z", "400").await;
        api.order("p", &c, "B", "2026-02-10T00:00:00Z", "60").await;
        let http: Http = (*api).clone();
        // The late order first, the redemptions staggered: every side wins
        // some rounds.
        let late = {
            let (http, c) = (http.clone(), c.clone());
            tokio::spawn(async move {
                http.post(
                    "/programs/p/orders",
                    &e2e::order(&c, "L", "2026-02-03T00:00:00Z", "50"),
                )
                .await
            })
        };
        let mut redemptions = Vec::new();
        for i in 0..15u64 {
            let (http, c) = (http.clone(), c.clone());
            redemptions.push(tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i * round * 3)).await;
                let at = format!("2026-02-05T00:{i:02}:00Z");
                redeem_raw(&http, &c, &format!("r{i}"), "23", &at).await
            }));
        }
        let replies: Vec<e2e::Reply> = join_all(redemptions)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let late = late.await.unwrap();
        assert_eq!(late.status, 200, "{}", late.body);
        let mut k = 0;
        for r in &replies {
            assert_eq!(r.status, 200, "{}", r.body);
            let current = int(&r.body["currentPoints"]);
            if (460 - current) % 23 == 0 {
                k += 1;
            } else {
                assert!((510 - current) % 23 == 0, "{}", r.body);
            }
        }
        let expected = if k == 0 { "Silver" } else { "Member" };
        eprintln!("late order race {round}: {k} redemptions committed before the late order");
        assert_eq!(late.body["tierAfter"], expected, "k = {k}: {}", late.body);
        assert_eq!(
            standing(&api, &c, "2026-03-02T00:00:00Z").await,
            ["Member", "165", "510"],
            "k = {k}"
        );
    }
}

/// A (400) 1 Feb, 2,000 redemptions of 0.15 (300) on 2 Feb, B (450)
/// 3 Feb: 550, Silver. $100 of B returned: 450 left at B, Member, as with
/// one redemption of 300. The return, an explanation and a late order
/// each read 2,000 redemption items: timed.
async fn two_thousand_redemptions_then_a_return(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    let started = Instant::now();
    for i in 0..2000 {
        let at = format!(
            "2026-02-02T{:02}:{:02}:{:02}Z",
            i / 3600,
            (i / 60) % 60,
            i % 60
        );
        let r = redeem_raw(&api, "c", &format!("r{i}"), "0.15", &at).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    eprintln!("2,000 redemptions: {:?}", started.elapsed());
    let b = api
        .order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
        .await;
    assert_eq!(b["tierAfter"], "Silver", "{b}");
    let t = Instant::now();
    let explained = api.get("/programs/p/customers/c/explain?orderId=B").await;
    let explain_took = t.elapsed();
    assert_eq!(explained.status, 200, "{}", explained.body);
    let t = Instant::now();
    let back = api
        .post("/programs/p/returns", &ret("c", "rB", "B", "100"))
        .await;
    let return_took = t.elapsed();
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.body["tierAfter"], "Member", "{}", back.body);
    let t = Instant::now();
    let late = api
        .post(
            "/programs/p/orders",
            &e2e::order("c", "L", "2026-02-01T12:00:00Z", "40"),
        )
        .await;
    let late_took = t.elapsed();
    assert_eq!(late.status, 200, "{}", late.body);
    eprintln!(
        "{}: with 2,000 redemption items: explain {explain_took:?}, return {return_took:?}, late order {late_took:?}",
        api.dynamodb_endpoint
    );
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(
        (&status["currentPoints"], &status["lifetimePoints"]),
        (&json!("490"), &json!("790")),
        "{status}"
    );
}

/// Redemptions dated before every order (1970, before the program's
/// start), then a return and a late order: no 5xx, and the return judges
/// B on what the redemption left (400 - 300 + 350 = 450: Member), as in
/// time.
async fn redemptions_dated_before_every_order_then_a_return_and_a_late_order(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
        .await;
    assert_eq!(b["tierAfter"], "Silver");
    api.redeem("p", "c", "old", "300", "1970-01-01T00:00:00Z")
        .await;
    let late = api
        .post(
            "/programs/p/orders",
            &e2e::order("c", "L", "2025-06-01T00:00:00Z", "1"),
        )
        .await;
    assert_eq!(late.status, 200, "{}", late.body);
    let back = api
        .post("/programs/p/returns", &ret("c", "rB", "B", "101"))
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    // 1 + 400 - 300 + 349 = 450 at B.
    assert_eq!(back.body["tierAfter"], "Member", "{}", back.body);
    assert_eq!(
        standing(&api, "c", "2026-03-02T00:00:00Z").await,
        ["Member", "450", "750"]
    );
}

/// A (300) 1 Feb; 300 redeemed at 3 Feb 00:00 (current 0); then B ($450)
/// placed at that same instant: 450, Member (the redemption was decided
/// first). A late order of $10 (2 Feb) changes nothing in commit order:
/// 310, then 10 after the redemption, then 460 with B. Before B's record
/// told that it came after the redemption, the replays placed the
/// redemption after B (760): the late order lifted the customer to a
/// Silver nobody held.
async fn a_redemption_decided_before_an_order_of_its_instant_is_not_replayed_after_it(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "300")
        .await;
    api.redeem("p", "c", "x", "300", "2026-02-03T00:00:00Z")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
        .await;
    assert_eq!(b["tierAfter"], "Member", "{b}");
    let late = api
        .post(
            "/programs/p/orders",
            &e2e::order("c", "C", "2026-02-02T00:00:00Z", "10"),
        )
        .await;
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.body["tierAfter"], "Member", "{}", late.body);
    assert_eq!(
        standing(&api, "c", "2026-03-02T00:00:00Z").await,
        ["Member", "460", "760"]
    );
    let r = api.get("/programs/p/customers/c/explain?orderId=B").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["order"]["outcome"], &r.body["order"]["extraAmount"]),
        (&json!("amount"), &json!("40")),
        "B needed $40 more on 10 + 450 (C counted before it): {}",
        r.body
    );
}

/// A (300) 1 Feb; 300 redeemed at 3 Feb 00:00 (current 0); then B ($450)
/// placed at that same instant: 450, Member (the redemption was decided
/// first).
/// Then $1 of A returned: in commit order B still
/// reads 299 - 300 + 450 = 449, Member; nothing upgrades on a return.
async fn a_return_after_a_redemption_at_an_orders_instant_does_not_upgrade(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "300")
        .await;
    api.redeem("p", "c", "x", "300", "2026-02-03T00:00:00Z")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
        .await;
    assert_eq!(b["tierAfter"], "Member", "{b}");
    let back = api
        .post("/programs/p/returns", &ret("c", "rA", "A", "1"))
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.body["tierAfter"], "Member", "{}", back.body);
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["currentPoints"]),
        (&json!("Member"), &json!("449")),
        "{status}"
    );
}

/// A (400) 1 Feb, B (450) 3 Feb: Silver, B met the rule. Then 400 points
/// redeemed, dated 2 Feb (late). The explanation judges B as in time
/// (README, "explain"): on 450 it fell $50 short, while its record still
/// tells the decision it got (Silver). A return would judge it the same.
async fn the_explanation_of_an_order_counts_a_late_redemption_dated_before_it(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    let b = api
        .order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
        .await;
    assert_eq!(b["tierAfter"], "Silver", "{b}");
    api.redeem("p", "c", "x", "400", "2026-02-02T00:00:00Z")
        .await;
    let r = api.get("/programs/p/customers/c/explain?orderId=B").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["order"]["tierAfter"], "Silver", "{}", r.body);
    assert_eq!(
        (&r.body["order"]["outcome"], &r.body["order"]["extraAmount"]),
        (&json!("amount"), &json!("50")),
        "{}",
        r.body
    );
}

/// Hostile redemption bodies answer 4xx JSON errors and write nothing;
/// the customer's return still judges on the one real redemption.
async fn hostile_redemptions_write_nothing_and_a_return_still_works(api: Api) {
    api.spender_silver_by_b().await;
    let ok_at = json!("2026-02-04T00:00:00Z");
    let bodies = vec![
        json!({"redemptionId": "h1", "points": "0.001", "at": ok_at}),
        json!({"redemptionId": "h2", "points": "1.0000000000000000000000000001", "at": ok_at}),
        json!({"redemptionId": "h3", "points": "79228162514264337593543950335", "at": ok_at}),
        json!({"redemptionId": "h4", "points": "79228162514264337593543950336", "at": ok_at}),
        json!({"redemptionId": "h5", "points": "1e400", "at": ok_at}),
        json!({"redemptionId": "h6", "points": 1e300, "at": ok_at}),
        json!({"redemptionId": "h7", "points": "0", "at": ok_at}),
        json!({"redemptionId": "h8", "points": "-5", "at": ok_at}),
        json!({"redemptionId": "h9", "points": -0.0, "at": ok_at}),
        json!({"redemptionId": "h10", "points": null, "at": ok_at}),
        json!({"redemptionId": "h11", "points": true, "at": ok_at}),
        json!({"redemptionId": "h12", "points": ["5"], "at": ok_at}),
        json!({"redemptionId": "h13", "points": {"v": "5"}, "at": ok_at}),
        json!({"redemptionId": "h14", "points": "NaN", "at": ok_at}),
        json!({"redemptionId": "h15", "points": " 5", "at": ok_at}),
        json!({"redemptionId": "h16", "points": "5", "at": "2026-02-30T00:00:00Z"}),
        json!({"redemptionId": "h17", "points": "5", "at": "2026-02-04"}),
        json!({"redemptionId": "h18", "points": "5", "at": "2200-01-01T00:00:00Z"}),
        json!({"redemptionId": "h19", "points": "5", "at": "1969-12-31T23:59:59Z"}),
        json!({"redemptionId": "h20", "points": "5", "at": 1770000000}),
        json!({"redemptionId": "h21", "points": "5", "at": null}),
        json!({"redemptionId": "h22", "points": "5"}),
        json!({"redemptionId": "h23", "points": "5", "at": "+275760-09-13T00:00:00Z"}),
        json!({"redemptionId": "h24", "points": "5", "at": "2026-02-04T00:00:00"}),
        json!({"redemptionId": "", "points": "5", "at": ok_at}),
        json!({"redemptionId": 7, "points": "5", "at": ok_at}),
        json!({"redemptionId": "x", "points": "5", "at": ok_at}),
        json!({"redemptionId": "h27", "points": "5", "at": ok_at, "extra": 1}),
        json!({"redemptionId": "h28", "points": "1000", "at": ok_at}),
    ];
    for body in &bodies {
        let r = api.post("/programs/p/customers/c/redemptions", body).await;
        assert!(
            (400..500).contains(&r.status),
            "{body} answered {}: {}",
            r.status,
            r.body
        );
        assert!(
            r.body["error"]["code"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
                && r.body["error"]["message"].is_string(),
            "{body}: {}",
            r.body
        );
    }
    // Raw bodies that are not JSON objects.
    for raw in ["", "null", "[]", "{", "{\"points\":\"5\"", "\u{feff}{}"] {
        let r = api
            .send(
                "POST",
                "/programs/p/customers/c/redemptions",
                Some(raw.to_owned()),
            )
            .await;
        assert!(
            (400..500).contains(&r.status),
            "{raw:?}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body["error"]["code"].is_string(), "{raw:?}: {}", r.body);
    }
    assert_eq!(
        standing(&api, "c", "2026-02-05T00:00:00Z").await,
        ["Silver", "550", "850"],
        "nothing written"
    );
    let back = api
        .post("/programs/p/returns", &ret("c", "rB", "B", "100"))
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.body["tierAfter"], "Member", "{}", back.body);
}

/// Rewrites the stored item of redemption `id` of customer c with `data`
/// (or removes its `at` when `data` is None).
async fn damage(api: &Api, id: &str, data: Option<Vec<u8>>) {
    let store = api.store();
    let update = store
        .client()
        .update_item()
        .table_name(store.table())
        .key(
            "pk",
            AttributeValue::S(tier_store::keys::customer_pk("p", "c")),
        )
        .key("sk", AttributeValue::S(tier_store::keys::redemption_sk(id)));
    let update = match data {
        Some(data) => update
            .update_expression("SET #d = :d")
            .expression_attribute_names("#d", "data")
            .expression_attribute_values(":d", AttributeValue::B(data.into())),
        None => update
            .update_expression("REMOVE #a")
            .expression_attribute_names("#a", "at"),
    };
    update
        .condition_expression("attribute_exists(pk)")
        .send()
        .await
        .unwrap();
}

async fn damaged_redemption_then_a_return(api: &Api, id: &str, data: Option<Vec<u8>>) {
    api.spender_silver_by_b().await;
    damage(api, id, data).await;
    // Without the redemptions: the decision made before they were read
    // (B judged on the state as it stands, 550 - 100 = 450 now).
    let back = api
        .post("/programs/p/returns", &ret("c", "rB", "B", "100"))
        .await;
    let explained = api.get("/programs/p/customers/c/explain?orderId=B").await;
    let late = api
        .post(
            "/programs/p/orders",
            &e2e::order("c", "L", "2026-02-01T12:00:00Z", "10"),
        )
        .await;
    let statuses = [back.status, explained.status, late.status];
    assert_eq!(
        statuses,
        [200, 200, 200],
        "return, explain, late order: {} / {} / {}",
        back.body,
        explained.body,
        late.body
    );
}

/// A redemption item whose reply lacks `pointsRedeemed`.
async fn a_redemption_item_without_points_redeemed_is_set_aside(api: Api) {
    let reply = json!({"programId": "p", "customerId": "c", "redemptionId": "x",
        "duplicate": false, "currentPoints": "100"})
    .to_string();
    let data = tier_store::encode_event_as(&reply, None, tier_store::ItemFormat::events());
    damaged_redemption_then_a_return(&api, "x", Some(data)).await;
}

/// A redemption item without its `at` attribute.
async fn a_redemption_item_without_at_is_set_aside(api: Api) {
    damaged_redemption_then_a_return(&api, "x", None).await;
}

/// A redemption item whose data does not decode at all (README: "an item
/// that does not read, too" goes without the redemptions).
async fn a_redemption_item_that_does_not_decode_is_set_aside(api: Api) {
    damaged_redemption_then_a_return(&api, "x", Some(vec![1, 2, 3])).await;
}

/// Redemption items whose `pointsRedeemed` are each half the largest
/// decimal: their sum would overflow (held: a literal past 22 integer
/// digits does not read, so the replays go without the redemptions).
async fn a_redemption_item_with_the_largest_points_does_not_overflow(api: Api) {
    let big = |id: &str| {
        let reply = json!({"programId": "p", "customerId": "c", "redemptionId": id,
            "duplicate": false, "pointsRedeemed": "50000000000000000000000000000",
            "currentPoints": "100"})
        .to_string();
        tier_store::encode_event_as(&reply, None, tier_store::ItemFormat::events())
    };
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    api.redeem("p", "c", "x", "300", "2026-02-02T00:00:00Z")
        .await;
    api.redeem("p", "c", "y", "1", "2026-02-02T00:00:01Z").await;
    let b = api
        .order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
        .await;
    assert_eq!(b["tierAfter"], "Silver");
    damage(&api, "x", Some(big("x"))).await;
    damage(&api, "y", Some(big("y"))).await;
    let back = api
        .post("/programs/p/returns", &ret("c", "rB", "B", "100"))
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    let explained = api.get("/programs/p/customers/c/explain?orderId=B").await;
    assert!(
        explained.status < 500,
        "{}: {}",
        explained.status,
        explained.body
    );
}

/// Eight redemptions, each sent twice at once, race a return of $100 of
/// B: each counted once (a duplicate answers the first's reply), 200s.
async fn redemptions_sent_twice_racing_a_return_count_once(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    api.order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
        .await;
    let http: Http = (*api).clone();
    let mut all = Vec::new();
    for i in 0..16 {
        let http = http.clone();
        all.push(tokio::spawn(async move {
            let id = format!("r{}", i / 2);
            let at = format!("2026-02-02T00:{:02}:00Z", i / 2);
            redeem_raw(&http, "c", &id, "23", &at).await
        }));
    }
    let back = api
        .post("/programs/p/returns", &ret("c", "rB", "B", "100"))
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    for r in join_all(all).await {
        let r = r.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(
        (&status["currentPoints"], &status["lifetimePoints"]),
        (&json!("566"), &json!("750")),
        "{status}"
    );
}

/// A (400) 1 Feb, 300 redeemed 1 Mar (100 left), then 1 point redeemed
/// late, dated 1 Jan: `latestRedemptionAt` stays 1 Mar. A late order of
/// $150 dated 15 Feb: in time 549 then, Silver from 15 Feb.
async fn a_late_redemption_does_not_hide_a_later_one_from_a_late_order(api: Api) {
    api.program("p", &e2e::silver_by_current_points("500"))
        .await;
    api.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
        .await;
    api.redeem("p", "c", "x", "300", "2026-03-01T00:00:00Z")
        .await;
    api.redeem("p", "c", "y", "1", "2026-01-01T00:00:00Z").await;
    let late = api
        .post(
            "/programs/p/orders",
            &e2e::order("c", "L", "2026-02-15T00:00:00Z", "150"),
        )
        .await;
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.body["tierAfter"], "Silver", "{}", late.body);
    assert_eq!(
        late.body["upgrades"][0]["at"], "2026-02-15T00:00:00Z",
        "{}",
        late.body
    );
    let r = api.get("/programs/p/customers/c/explain?orderId=L").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["order"]["outcome"], "met", "{}", r.body);
}

on_both_engines!(
    redemptions_racing_a_return_leave_points_as_in_commit_order_and_the_tier_as_in_time,
    redemptions_racing_a_late_order_leave_points_as_in_commit_order_and_the_tier_as_in_time,
    two_thousand_redemptions_then_a_return,
    redemptions_dated_before_every_order_then_a_return_and_a_late_order,
    a_return_after_a_redemption_at_an_orders_instant_does_not_upgrade,
    the_explanation_of_an_order_counts_a_late_redemption_dated_before_it,
    hostile_redemptions_write_nothing_and_a_return_still_works,
    a_redemption_decided_before_an_order_of_its_instant_is_not_replayed_after_it,
    a_redemption_item_without_points_redeemed_is_set_aside,
    a_redemption_item_without_at_is_set_aside,
    a_redemption_item_that_does_not_decode_is_set_aside,
    a_redemption_item_with_the_largest_points_does_not_overflow,
    redemptions_sent_twice_racing_a_return_count_once,
    a_late_redemption_does_not_hide_a_later_one_from_a_late_order,
);
