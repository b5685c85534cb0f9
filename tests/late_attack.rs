//! Adversarial tests of late orders and returns (placed before the latest
//! judged validity end, arriving after it) through the local API, on both
//! engines: the events feed publishes each change once, replays are
//! answered from the stored result, hostile requests get 4xx JSON and
//! write nothing, and a customer owing many notices is caught up.

use e2e::{feed, on_both_engines, order, silver_by_current_points, urlencode, Api};
use serde_json::{json, Value};

/// Silver by $3,000 lifetime, kept by $2,000 over 12 months (the end a year
/// after it was reached), `graceDays` of grace.
fn silver(grace: u32) -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 3000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "keep", "kind": "tracker", "min": "2000", "tracker": "spend12m"}],
                "condition": "all", "onFail": "oneDown", "graceDays": grace}}
        ]
    })
}

/// Member, then `tiers` at $1,000, $5,000 (and so on) of spend over 30
/// days, lazy, at rates 2, 3 (and so on).
fn by_30_day_spend(tiers: &[&str]) -> Value {
    let mut all = vec![json!({"name": "Member", "earnRate": "1"})];
    for (i, name) in tiers.iter().enumerate() {
        let min = [1000, 5000, 20000][i];
        all.push(
            json!({"name": name, "earnRate": (i + 2).to_string(), "upgrade": {
            "criteria": [{"id": "W", "kind": "tracker", "tracker": "spend30d", "min": min}],
            "condition": "all", "upgradeType": "lazy"}}),
        );
    }
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": all
    })
}

/// Each `TierChanged` of program `p` published so far: (to, at).
async fn tier_changes(api: &Api, p: &str) -> Vec<(String, String)> {
    feed(api, p, 20)
        .await
        .iter()
        .filter(|e| e["type"] == "TierChanged")
        .map(|e| {
            (
                e["to"].as_str().unwrap().to_owned(),
                e["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn give_back(
    api: &Api,
    p: &str,
    id: &str,
    order: &str,
    at: &str,
    amount: Option<&str>,
) -> (u16, Value) {
    let mut body = json!({"returnId": id, "orderId": order, "customerId": "c",
        "returnedAt": at});
    if let Some(a) = amount {
        body["amount"] = json!(a);
    }
    let r = api.post(&format!("/programs/{p}/returns"), &body).await;
    (r.status, r.body)
}

/// The customer's events in the feed (type, from, to, at, cause).
async fn published(api: &Api, p: &str) -> Vec<(String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    feed(api, p, 50)
        .await
        .iter()
        .filter(|e| e["customerId"] == "c")
        .map(|e| {
            (
                s(&e["type"]),
                s(&e["from"]),
                s(&e["to"]),
                s(&e["at"]),
                s(&e["cause"]),
            )
        })
        .collect()
}

/// Every seq of customer `c` once, without gaps.
async fn seqs_without_gaps(api: &Api, p: &str) -> usize {
    let events = feed(api, p, 7).await;
    let mut seqs: Vec<u64> = events
        .iter()
        .filter(|e| e["customerId"] == "c")
        .map(|e| e["seq"].as_str().unwrap().parse().unwrap())
        .collect();
    seqs.sort();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every seq once, no gap");
    seqs.len()
}

/// A late return fails the renewal (grace, then the move down at its end
/// since the grace has run by now), a replay of it changes nothing, a late
/// order undoes the move; each change is published once.
async fn a_late_return_then_a_late_order_publish_each_change_once(api: Api) {
    api.program("p", &silver(10)).await;
    api.order("p", "c", "o1", "2030-02-01T10:00:00Z", "3000")
        .await;
    api.order("p", "c", "o2", "2030-09-01T00:00:00Z", "1500")
        .await;
    api.order("p", "c", "o3", "2030-10-01T00:00:00Z", "600")
        .await;
    api.run_scheduled("2031-02-03T00:00:00Z").await;
    let renewed = api.status("p", "c", "2031-03-01T00:00:00Z").await;
    assert_eq!(renewed["tier"], "Silver");
    assert_eq!(renewed["validUntil"], "2032-02-01T10:00:00Z");
    let before = published(&api, "p").await;

    // Returned before the end: $1,900 at the end. The renewal fails as of
    // the end: grace to 02-11 (the customer's latest event, the job at
    // 02-03, is inside it).
    for _ in 0..2 {
        let (status, body) =
            give_back(&api, "p", "r1", "o3", "2031-01-20T00:00:00Z", Some("200")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["tierAfter"], "Silver", "{body}");
    }
    let failed = api.status("p", "c", "2031-02-05T00:00:00Z").await;
    assert_eq!(failed["inGraceUntil"], "2031-02-11T10:00:00Z", "{failed}");
    let after_return = published(&api, "p").await;
    let new: Vec<_> = after_return[before.len()..].to_vec();
    assert_eq!(
        new.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["TierAtRisk"],
        "the grace that began, once: {new:?}"
    );

    // A late order makes up for it: renewed at the end after all, once.
    for _ in 0..2 {
        let late = api
            .order("p", "c", "late1", "2031-01-25T00:00:00Z", "100")
            .await;
        assert_eq!(late["tierAfter"], "Silver", "{late}");
    }
    let back = api.status("p", "c", "2031-03-01T00:00:00Z").await;
    assert_eq!(back["tier"], "Silver");
    assert_eq!(back["validUntil"], "2032-02-01T10:00:00Z");
    assert_eq!(back.get("inGraceUntil"), None);
    let all = published(&api, "p").await;
    let new: Vec<_> = all[after_return.len()..].to_vec();
    assert_eq!(
        new.iter()
            .map(|e| (e.0.as_str(), e.3.as_str()))
            .collect::<Vec<_>>(),
        [("TierRenewed", "2031-02-01T10:00:00Z")],
        "{new:?}"
    );
    // And the job after it changes nothing more.
    api.run_scheduled("2031-03-01T00:00:00Z").await;
    assert_eq!(published(&api, "p").await, all);
    seqs_without_gaps(&api, "p").await;
}

/// The same late order id with another payload is a conflict, and a
/// hostile late order gets a 4xx JSON error; neither writes anything.
async fn changed_or_hostile_late_orders_write_nothing(api: Api) {
    api.program("p", &silver(0)).await;
    api.order("p", "c", "o1", "2026-02-01T10:00:00Z", "3000")
        .await;
    api.run_scheduled("2027-02-05T00:00:00Z").await;
    api.order("p", "c", "late1", "2027-01-20T00:00:00Z", "1000")
        .await;
    let status = api.status("p", "c", "2027-03-01T00:00:00Z").await;
    let events = published(&api, "p").await;

    let mut changed = order("c", "late1", "2027-01-20T00:00:00Z", "2500");
    let r = api.post("/programs/p/orders", &changed).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "idempotency_conflict"),
        "{}",
        r.body
    );
    changed["placedAt"] = json!("2027-01-21T00:00:00Z");
    changed["amount"] = json!("1000");
    let r = api.post("/programs/p/orders", &changed).await;
    assert_eq!(r.status, 409, "{}", r.body);

    for amount in [
        json!("-2500"),
        json!("1e30"),
        json!("99999999999999999999999999"),
        json!("2500.0000000000000000000000001"),
        json!("NaN"),
        json!(""),
    ] {
        let mut hostile = order("c", "late2", "2027-01-20T00:00:00Z", "1");
        hostile["amount"] = amount.clone();
        let r = api.post("/programs/p/orders", &hostile).await;
        assert!(
            (400..500).contains(&r.status) && r.body.get("error").is_some()
                || (400..500).contains(&r.status) && r.body.is_object(),
            "{amount}: {} {}",
            r.status,
            r.body
        );
    }
    for placed in [
        "2027-01-20",
        "0000-01-01T00:00:00Z",
        "2027-01-20T00:00:00+25:00",
    ] {
        let mut hostile = order("c", "late3", "2027-01-20T00:00:00Z", "2500");
        hostile["placedAt"] = json!(placed);
        let r = api.post("/programs/p/orders", &hostile).await;
        assert!(
            (400..500).contains(&r.status),
            "{placed}: {} {}",
            r.status,
            r.body
        );
        assert!(r.body.is_object(), "{}", r.body);
    }
    assert_eq!(api.status("p", "c", "2027-03-01T00:00:00Z").await, status);
    assert_eq!(published(&api, "p").await, events);
}

/// Late orders of many customers arriving after the job, each sent twice at
/// once: each customer's move down undone exactly once in the feed.
async fn many_customers_late_orders_sent_twice_at_once(api: Api) {
    api.program("p", &silver(0)).await;
    let n = 8;
    for i in 0..n {
        let c = format!("c{i}");
        api.order(
            "p",
            &c,
            &format!("first-{i}"),
            "2026-02-01T10:00:00Z",
            "3000",
        )
        .await;
    }
    api.run_scheduled("2027-02-05T00:00:00Z").await;
    let mut sends = Vec::new();
    for i in 0..n {
        for _ in 0..2 {
            let body = order(
                &format!("c{i}"),
                &format!("late-{i}"),
                "2027-01-20T00:00:00Z",
                "2500",
            );
            let api = &api;
            sends.push(async move { api.post("/programs/p/orders", &body).await });
        }
    }
    for r in futures::future::join_all(sends).await {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["tierAfter"], "Silver", "{}", r.body);
    }
    let events = feed(&api, "p", 20).await;
    for i in 0..n {
        let c = format!("c{i}");
        let status = api.status("p", &c, "2027-03-01T00:00:00Z").await;
        assert_eq!(status["tier"], "Silver", "{status}");
        assert_eq!(status["validUntil"], "2028-02-01T10:00:00Z");
        let mine: Vec<&Value> = events
            .iter()
            .filter(|e| e["customerId"] == c.as_str())
            .collect();
        let undone = mine
            .iter()
            .filter(|e| e["cause"] == format!("late order late-{i}").as_str())
            .count();
        assert_eq!(undone, 1, "{c}: {mine:?}");
        let mut seqs: Vec<u64> = mine
            .iter()
            .map(|e| e["seq"].as_str().unwrap().parse().unwrap())
            .collect();
        seqs.sort();
        assert_eq!(seqs, (1..=mine.len() as u64).collect::<Vec<_>>(), "{c}");
    }
}

/// A customer owing more notices than one commit writes: monthly validity
/// with two warning days, silent for three years, then a late order. Every
/// notice reaches the feed, seqs without gaps, one per history entry.
async fn a_customer_owing_many_notices_is_caught_up_by_a_late_order(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend1m", "measure": "billAmount", "period": {"months": 1}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 300}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "keep", "kind": "lifetimePurchases", "min": "300"}],
                "condition": "all", "onFail": "oneDown", "warnDaysBefore": [10, 2]}}
        ]
    });
    api.program("m", &config).await;
    api.order("m", "c", "o1", "2026-01-05T00:00:00Z", "300")
        .await;
    // Renewed every month for three years (36 renewals), never warned
    // (lifetime purchases keep it). Then an order placed "late", before the
    // latest end the order itself finds.
    api.order("m", "c", "o2", "2029-01-10T00:00:00Z", "1").await;
    let late = api
        .order("m", "c", "late", "2029-01-04T00:00:00Z", "1")
        .await;
    assert_eq!(late["tierAfter"], "Silver");
    let status = api
        .get(&format!(
            "/programs/m/customers/c?asOf={}",
            urlencode("2029-01-10T00:00:00Z")
        ))
        .await;
    assert_eq!(status.status, 200, "{}", status.body);
    let events = feed(&api, "m", 7).await;
    let mine: Vec<&Value> = events.iter().filter(|e| e["customerId"] == "c").collect();
    let renewals = mine.iter().filter(|e| e["type"] == "TierRenewed").count();
    assert_eq!(renewals, 36, "every monthly renewal once");
    let mut seqs: Vec<u64> = mine
        .iter()
        .map(|e| e["seq"].as_str().unwrap().parse().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=mine.len() as u64).collect::<Vec<_>>());
}

/// Was a bug, fixed: a late order that does not undo the move down is decided
/// rewound at the tier held before the end (Silver), and the reply's
/// `tierAfter` (and the stored record's) is that rewound tier, though the
/// customer stays Member: `apply_order` only rewrites `tier_after` when
/// `rejudge_late` changed the outcome.
async fn a_late_order_that_undoes_nothing_reports_the_tier_the_customer_has(api: Api) {
    api.program("p", &silver(0)).await;
    api.order("p", "c", "o1", "2026-02-01T10:00:00Z", "3000")
        .await;
    api.run_scheduled("2027-02-05T00:00:00Z").await;
    let late = api
        .order("p", "c", "late1", "2027-01-20T00:00:00Z", "1000")
        .await;
    let status = api.status("p", "c", "2027-03-01T00:00:00Z").await;
    assert_eq!(status["tier"], "Member", "$1,000 of $2,000 at the end");
    assert_eq!(late["tierAfter"], status["tier"], "{late}");
}

/// Was a bug, fixed: a return dated before the order it returns, and before the
/// latest end, is accepted and judged as a late return of an order the end
/// never saw: the renewal fails (lifetime purchases are the rule here).
async fn a_return_dated_before_its_order_is_refused_or_changes_no_past_end(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "keep", "kind": "lifetimePurchases", "min": "2000"}],
                "condition": "all", "onFail": "oneDown"}}
        ]
    });
    api.program("p", &config).await;
    api.order("p", "c", "o1", "2026-02-01T10:00:00Z", "1000")
        .await;
    api.order("p", "c", "o2", "2026-06-01T00:00:00Z", "1200")
        .await;
    api.run_scheduled("2027-02-03T00:00:00Z").await;
    api.order("p", "c", "after", "2027-02-05T00:00:00Z", "500")
        .await;
    let status = api.status("p", "c", "2027-03-01T00:00:00Z").await;
    assert_eq!(status["tier"], "Silver");
    let (code, body) = give_back(&api, "p", "r1", "after", "2027-01-20T00:00:00Z", None).await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    let now = api.status("p", "c", "2027-03-01T00:00:00Z").await;
    assert_eq!(now, status, "a refused return writes nothing");
}

/// A late order whose crossing a return made since undid (in time: up at
/// the order, down at the return) is decided on the orders as they stood
/// then, paid at the tier it crossed to (eager), and both changes are
/// published once, dated as in time; sent again, it is a replay.
async fn a_late_order_whose_crossing_a_return_since_undid_goes_up_then_down(api: Api) {
    api.program(
        "ud",
        &json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "tiers": [{"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                    {"id": "S", "kind": "lifetimePurchases", "min": 1000}],
                    "condition": "all", "upgradeType": "eager"}}]}),
    )
    .await;
    api.order("ud", "c", "a", "2026-02-01T10:00:00Z", "600")
        .await;
    let (status, body) = give_back(&api, "ud", "r", "a", "2026-03-01T10:00:00Z", None).await;
    assert_eq!(status, 200, "{body}");
    let late = api
        .order("ud", "c", "late", "2026-02-10T10:00:00Z", "500")
        .await;
    assert_eq!(
        (
            &late["pointsAwarded"],
            &late["tierAfter"],
            &late["upgrades"][0]["at"]
        ),
        (
            &json!("1000"),
            &json!("Member"),
            &json!("2026-02-10T10:00:00Z")
        ),
        "{late}"
    );
    let again = api
        .order("ud", "c", "late", "2026-02-10T10:00:00Z", "500")
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    let changes = customer_moves(&api, "ud").await;
    let change = |from: &str, to: &str, at: &str| (from.to_owned(), to.to_owned(), at.to_owned());
    assert_eq!(
        changes,
        vec![
            change("Member", "Silver", "2026-02-10T10:00:00Z"),
            change("Silver", "Member", "2026-03-01T10:00:00Z")
        ]
    );
    let status = api.get("/programs/ud/customers/c").await.body;
    assert_eq!(
        (
            &status["tier"],
            &status["lifetimePurchases"],
            &status["currentPoints"]
        ),
        (&json!("Member"), &json!("500"), &json!("1000")),
        "{status}"
    );
}

/// Silver at $1,000 of lifetime purchases (lazy), earning 2 a dollar.
fn silver_at_1000() -> Value {
    json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"}}]})
}

/// Customer `c`'s tier changes in the feed: (from, to, at).
async fn customer_moves(api: &Api, p: &str) -> Vec<(String, String, String)> {
    published(api, p)
        .await
        .into_iter()
        .filter(|e| e.0 == "TierChanged")
        .map(|(_, from, to, at, _)| (from, to, at))
        .collect()
}

/// A late order placed while the customer held Silver, which a return made
/// since took away: in time it was paid at Silver's rate and counted when
/// the return was judged, which then kept Silver. The move down is undone
/// at its own instant (the feed stays in time order), published once; sent
/// again, the order is a replay.
async fn a_late_order_placed_before_a_move_down_by_a_return_undoes_it(api: Api) {
    api.program("md", &silver_at_1000()).await;
    api.order("md", "c", "a", "2026-02-01T10:00:00Z", "1200")
        .await;
    let (status, back) = give_back(&api, "md", "r", "a", "2026-03-01T10:00:00Z", Some("400")).await;
    assert_eq!(
        (status, &back["tierAfter"]),
        (200, &json!("Member")),
        "{back}"
    );
    let late = api
        .order("md", "c", "late", "2026-02-10T10:00:00Z", "300")
        .await;
    assert_eq!(
        (
            &late["pointsAwarded"],
            &late["tierBefore"],
            &late["tierAfter"]
        ),
        (&json!("600"), &json!("Silver"), &json!("Silver")),
        "{late}"
    );
    let again = api
        .order("md", "c", "late", "2026-02-10T10:00:00Z", "300")
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    let change = |from: &str, to: &str, at: &str| (from.to_owned(), to.to_owned(), at.to_owned());
    assert_eq!(
        customer_moves(&api, "md").await,
        vec![
            change("Member", "Silver", "2026-02-01T10:00:00Z"),
            change("Silver", "Member", "2026-03-01T10:00:00Z"),
            change("Member", "Silver", "2026-03-01T10:00:00Z"),
        ]
    );
    let status = api.get("/programs/md/customers/c").await.body;
    assert_eq!(
        (
            &status["tier"],
            &status["tierSince"],
            &status["lifetimePurchases"],
            &status["currentPoints"]
        ),
        (
            &json!("Silver"),
            &json!("2026-02-01T10:00:00Z"),
            &json!("1100"),
            &json!("1400")
        ),
        "{status}"
    );
}

/// The same after a cancellation, which takes effect when it arrives: the
/// late order keeps Silver, and the move back up is dated at the move down.
async fn a_late_order_placed_before_a_cancellation_that_moved_the_customer_down(api: Api) {
    api.program("mc", &silver_at_1000()).await;
    let mut a = order("c", "a", "2026-02-01T10:00:00Z", "1200");
    api.post("/programs/mc/orders", &a).await;
    a["status"] = json!("cancelled");
    let cancelled = api.post("/programs/mc/orders", &a).await;
    assert_eq!(cancelled.body["tierAfter"], "Member", "{}", cancelled.body);
    let late = api
        .order("mc", "c", "late", "2026-02-10T10:00:00Z", "1000")
        .await;
    assert_eq!(
        (&late["pointsAwarded"], &late["tierAfter"]),
        (&json!("2000"), &json!("Silver")),
        "{late}"
    );
    let changes = customer_moves(&api, "mc").await;
    let moves: Vec<(&str, &str)> = changes
        .iter()
        .map(|(from, to, _)| (from.as_str(), to.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            ("Member", "Silver"),
            ("Silver", "Member"),
            ("Member", "Silver")
        ]
    );
    assert_eq!(changes[2].2, changes[1].2, "back up where it went down");
}

/// A late order at the very instant of the return that moved the customer
/// down came before it: paid at Silver, and the return, judged with it,
/// keeps Silver. The move down is undone at that instant.
async fn a_late_order_at_the_instant_of_the_return_that_moved_the_customer_down(api: Api) {
    api.program("mi", &silver_at_1000()).await;
    api.order("mi", "c", "a", "2026-02-01T10:00:00Z", "1200")
        .await;
    let (status, back) = give_back(&api, "mi", "r", "a", "2026-03-01T10:00:00Z", Some("400")).await;
    assert_eq!(
        (status, &back["tierAfter"]),
        (200, &json!("Member")),
        "{back}"
    );
    let late = api
        .order("mi", "c", "late", "2026-03-01T10:00:00Z", "300")
        .await;
    assert_eq!(
        (&late["pointsAwarded"], &late["tierAfter"]),
        (&json!("600"), &json!("Silver")),
        "{late}"
    );
    let status = api.get("/programs/mi/customers/c").await.body;
    assert_eq!(
        (
            &status["tier"],
            &status["tierSince"],
            &status["currentPoints"]
        ),
        (
            &json!("Silver"),
            &json!("2026-02-01T10:00:00Z"),
            &json!("1400")
        ),
        "{status}"
    );
    let last = customer_moves(&api, "mi").await.pop().unwrap();
    assert_eq!(
        last,
        (
            "Member".into(),
            "Silver".into(),
            "2026-03-01T10:00:00Z".into()
        )
    );
}

/// Found by an adversary: a late order's upgrade whose monthly validity ran
/// out before the customer's latest order. In time: up at the late order,
/// down a month on, lifted by the next order, down a month after, and so
/// on. The late order's own write publishes each of them (it once made
/// only the first lift, and the lifted tier's end never came).
async fn a_late_upgrade_moves_down_and_up_with_the_orders_after_it_as_in_time(api: Api) {
    let config = silver_kept_monthly(json!({"months": 1}), "oneDown", 0);
    let others = [
        ("o1", "2027-01-10T00:00:00Z", "10"),
        ("o2", "2027-05-01T00:00:00Z", "50"),
        ("o3", "2027-08-01T00:00:00Z", "50"),
        ("o4", "2027-10-01T00:00:00Z", "10"),
    ];
    let late = ("L", "2027-01-15T00:00:00Z", "1000");
    let events = late_and_in_time_twins(&api, "lift", &config, &others, late).await;
    assert_eq!(
        events.moves,
        moves_of(&[
            ("Member", "Silver", "2027-01-15T00:00:00Z"),
            ("Silver", "Member", "2027-02-15T00:00:00Z"),
            ("Member", "Silver", "2027-05-01T00:00:00Z"),
            ("Silver", "Member", "2027-06-01T00:00:00Z"),
            ("Member", "Silver", "2027-08-01T00:00:00Z"),
            ("Silver", "Member", "2027-09-01T00:00:00Z"),
            ("Member", "Silver", "2027-10-01T00:00:00Z"),
        ])
    );
}

/// The late upgrade's first end starts a grace, and an order placed in it
/// meets the condition: in time it renewed Silver as from the end, so the
/// move down came two periods later. The late order's write tells the
/// renewal and that move (the grace's end once moved the customer down).
async fn an_order_in_a_grace_the_late_upgrade_brought_renews_silver(api: Api) {
    let config = silver_kept_monthly(json!({"days": 30}), "base", 10);
    let others = [
        ("o1", "2027-01-10T00:00:00Z", "10"),
        ("o2", "2027-02-20T00:00:00Z", "150"),
        ("o3", "2027-06-01T00:00:00Z", "10"),
    ];
    let late = ("L", "2027-01-15T00:00:00Z", "1000");
    let events = late_and_in_time_twins(&api, "grace", &config, &others, late).await;
    assert_eq!(
        events.moves,
        moves_of(&[
            ("Member", "Silver", "2027-01-15T00:00:00Z"),
            ("Silver", "Member", "2027-04-25T00:00:00Z"),
            ("Member", "Silver", "2027-06-01T00:00:00Z"),
        ])
    );
    assert_eq!(
        events.renewals,
        vec![
            "2027-02-20T00:00:00Z".to_owned(),
            "2027-03-15T00:00:00Z".to_owned()
        ]
    );
}

/// A late order placed before an older end than the latest judged one (in
/// time it renewed Silver there), then a late return placed before
/// another (in time it failed Silver there). Each walks the customer's
/// course again: the status as in time, and the feed tells, after what it
/// told before, the step set right and the course from there.
async fn late_events_before_older_ends_leave_the_customer_as_in_time(api: Api) {
    let config = silver_kept_monthly(json!({"months": 1}), "oneDown", 0);
    api.program("older", &config).await;
    let orders = [
        ("o0", "2027-01-10T00:00:00Z", "1000"),
        ("L", "2027-02-01T00:00:00Z", "150"),
        ("o1", "2027-03-05T00:00:00Z", "1000"),
        ("o2", "2027-03-20T00:00:00Z", "150"),
        ("o3", "2027-04-20T00:00:00Z", "10"),
    ];
    let told_before = late_order_l_after_the_rest(&api, "older", &orders).await;
    let latest = "2027-04-20T00:00:00Z";
    let told = published(&api, "older").await;
    let at = |t: &str, from: &str, to: &str, when: &str, cause: &str| {
        (t.into(), from.into(), to.into(), when.into(), cause.into())
    };
    assert_eq!(
        told[told_before..],
        [
            at(
                "TierChanged",
                "Member",
                "Silver",
                "2027-02-10T00:00:00Z",
                "late order L"
            ),
            at(
                "TierRenewed",
                "Silver",
                "Silver",
                "2027-03-10T00:00:00Z",
                "renewed"
            ),
            at(
                "TierRenewed",
                "Silver",
                "Silver",
                "2027-04-10T00:00:00Z",
                "renewed"
            ),
        ]
    );
    // Sent again, the order is answered from its record: nothing more told.
    api.order("older", "c", "L", "2027-02-01T00:00:00Z", "150")
        .await;
    assert_eq!(published(&api, "older").await.len(), told.len());
    // A return of all of L, made before the first end: in time the end
    // failed after all, and o1 lifted the customer back.
    let (status, back) = give_back(&api, "older", "r", "L", "2027-02-05T00:00:00Z", None).await;
    assert_eq!(status, 200, "{back}");
    let body = json!({"returnId": "r", "orderId": "L", "customerId": "in",
        "returnedAt": "2027-02-05T00:00:00Z"});
    for (id, at, amount) in orders {
        api.order("older", "in2", id, at, amount).await;
        if id == "L" {
            let mut b = body.clone();
            b["customerId"] = json!("in2");
            let r = api.post("/programs/older/returns", &b).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    let (now, then) = (
        api.status("older", "in2", latest).await,
        api.status("older", "c", latest).await,
    );
    for field in ["tier", "tierSince", "validUntil", "inGraceUntil"] {
        assert_eq!(then[field], now[field], "{field}");
    }
    assert_eq!(then["tierSince"], json!("2027-03-05T00:00:00Z"), "{then}");
}

/// Silver from 1,000 current points, kept a month at a time from when it
/// was reached by 1,100 current points, and a customer who never spent a
/// point: their current points are what the orders tell at every instant,
/// so a late order placed before an older end walks the course again as
/// under a lifetime-points rule. In time L renews Silver on 10 February
/// and the customer keeps it; told late, the customer went down on 10
/// February and o1 lifted them on 5 March: the walk sets that right.
async fn a_late_order_under_a_current_points_rule_walks_older_ends(api: Api) {
    api.program("cur", &silver_kept_by_current_points()).await;
    let orders = [
        ("o0", "2027-01-10T00:00:00Z", "1000"),
        ("L", "2027-02-01T00:00:00Z", "150"),
        ("o1", "2027-03-05T00:00:00Z", "100"),
        ("o2", "2027-04-20T00:00:00Z", "10"),
    ];
    let told_before = late_order_l_after_the_rest(&api, "cur", &orders).await;
    let told = published(&api, "cur").await;
    assert!(
        told[told_before..].contains(&(
            "TierChanged".into(),
            "Member".into(),
            "Silver".into(),
            "2027-02-10T00:00:00Z".into(),
            "late order L".into()
        )),
        "{:?}",
        &told[told_before..]
    );
}

/// The same for a customer who spent 300 points on 20 January: the
/// service reads their redemptions with the orders, and current points as
/// of the end of 10 February are 1,300 + 150 - 300 = 1,150 with L (in
/// time: Silver renewed), 1,000 without (told late: down on 10 February,
/// up with o1 on 5 March). The walk sets it right as for a customer who
/// never spent, whether a return of spent points is owed or kept within
/// the balance (`withinBalance` decided as before until the thirty-second
/// session).
async fn a_spenders_late_order_under_a_current_points_rule_walks_older_ends(api: Api) {
    for (program, spent_points) in [("spent", "negativeBalance"), ("within", "withinBalance")] {
        let mut config = silver_kept_by_current_points();
        config["returnPolicy"] = json!({"spentPoints": spent_points});
        api.program(program, &config).await;
        let orders = [
            ("o0", "2027-01-10T00:00:00Z", "1300"),
            ("L", "2027-02-01T00:00:00Z", "150"),
            ("o1", "2027-03-05T00:00:00Z", "100"),
            ("o2", "2027-04-20T00:00:00Z", "10"),
        ];
        let (first, rest) = orders.split_first().unwrap();
        for customer in ["in", "c"] {
            api.order(program, customer, first.0, first.1, first.2)
                .await;
            api.redeem(program, customer, "x", "300", "2027-01-20T00:00:00Z")
                .await;
        }
        let told_before = late_order_l_after_the_rest(&api, program, rest).await;
        let told = published(&api, program).await;
        assert!(
            told[told_before..].contains(&(
                "TierChanged".into(),
                "Member".into(),
                "Silver".into(),
                "2027-02-10T00:00:00Z".into(),
                "late order L".into()
            )),
            "{spent_points}: {:?}",
            &told[told_before..]
        );
        let status = api.status(program, "c", "2027-04-20T00:00:00Z").await;
        assert_eq!(status["currentPoints"], json!("1260"), "{status}");
    }
}

/// Silver from 1,000 current points, kept a month at a time from when it
/// was reached by 1,100 current points.
fn silver_kept_by_current_points() -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1",
             "upgrade": {"criteria": [{"id": "U", "kind": "currentPoints", "min": 1000}],
                         "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                 "criteria": [{"id": "K", "kind": "currentPoints", "min": 1100}],
                 "condition": "all", "onFail": "oneDown"}}]
    })
}

/// Feeds `orders` (the last placed at 20 April 2027) to customer `in` in
/// time order and to `c` with `L` last, as Silver from 10 January 2027;
/// asserts both end as in time (tier, start, validity, grace, points) and
/// returns how many notices the feed held before `L` came late.
async fn late_order_l_after_the_rest(
    api: &Api,
    program: &str,
    orders: &[(&str, &str, &str)],
) -> usize {
    for (id, at, amount) in orders {
        api.order(program, "in", id, at, amount).await;
    }
    for (id, at, amount) in orders.iter().filter(|o| o.0 != "L") {
        api.order(program, "c", id, at, amount).await;
    }
    let told_before = published(api, program).await.len();
    let (_, at, amount) = orders.iter().find(|o| o.0 == "L").unwrap();
    let late = api.order(program, "c", "L", at, amount).await;
    assert_eq!(late["tierAfter"], json!("Silver"), "{late}");
    let latest = "2027-04-20T00:00:00Z";
    let (now, then) = (
        api.status(program, "in", latest).await,
        api.status(program, "c", latest).await,
    );
    let fields = ["tier", "tierSince", "validUntil", "inGraceUntil"];
    for field in fields.into_iter().chain(["currentPoints"]) {
        assert_eq!(then[field], now[field], "{field}");
    }
    assert_eq!(then["tierSince"], json!("2027-01-10T00:00:00Z"), "{then}");
    told_before
}

/// Member, then Silver from $1,000 spent (lazy), kept a month at a time
/// from when it was reached by $100 spent over the `window` tracker.
fn silver_kept_monthly(window: Value, on_fail: &str, grace_days: u32) -> Value {
    json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "spend", "measure": "billAmount", "period": window}],
        "tiers": [{"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1",
             "upgrade": {"criteria": [{"id": "U", "kind": "lifetimePurchases", "min": 1000}],
                         "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                 "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend", "min": 100}],
                 "condition": "all", "onFail": on_fail, "graceDays": grace_days}}]
    })
}

type Moves = Vec<(String, String, String)>;

fn moves_of(moves: &[(&str, &str, &str)]) -> Moves {
    moves
        .iter()
        .map(|(f, t, a)| (f.to_string(), t.to_string(), a.to_string()))
        .collect()
}

/// What the feed told of a customer, once it is the same for both twins.
struct Told {
    moves: Moves,
    /// When each `TierRenewed` came.
    renewals: Vec<String>,
}

/// Feeds the orders to customer `in` in time order, and to `late` with
/// `late` last, under `config` published as `program`; asserts the feed
/// tells both the same and their status agrees, and returns what it told.
async fn late_and_in_time_twins(
    api: &Api,
    program: &str,
    config: &Value,
    others: &[(&str, &str, &str)],
    late: (&str, &str, &str),
) -> Told {
    api.program(program, config).await;
    let mut in_order = others.to_vec();
    in_order.push(late);
    in_order.sort_by_key(|o| o.1);
    for (id, at, amount) in in_order {
        api.order(program, "in", id, at, amount).await;
    }
    for (id, at, amount) in others {
        api.order(program, "late", id, at, amount).await;
    }
    let (id, at, amount) = late;
    let reply = api.order(program, "late", id, at, amount).await;
    let events = feed(api, program, 100).await;
    let told = |customer: &str| {
        let of = |kind: &'static str| {
            events
                .iter()
                .filter(move |e| e["customerId"] == customer && e["type"] == kind)
        };
        let s = |e: &Value, k: &str| e[k].as_str().unwrap().to_owned();
        Told {
            moves: of("TierChanged")
                .map(|e| (s(e, "from"), s(e, "to"), s(e, "at")))
                .collect(),
            renewals: of("TierRenewed").map(|e| s(e, "at")).collect(),
        }
    };
    let (in_time, told_late) = (told("in"), told("late"));
    assert_eq!(told_late.moves, in_time.moves);
    assert_eq!(told_late.renewals, in_time.renewals);
    let latest = others.iter().map(|o| o.1).max().unwrap();
    let status = |c| api.status(program, c, latest);
    let (now, then) = (status("in").await, status("late").await);
    for field in ["tier", "tierSince", "validUntil", "inGraceUntil"] {
        assert_eq!(then[field], now[field], "{field}");
    }
    // The late order's reply tells the tier its ends left the customer in.
    assert_eq!(reply["tierAfter"], then["tier"], "{reply}");
    told_late
}

/// Silver from 1,000 current points. $600 on 1 March, 200 points redeemed
/// on 5 March, $500 on 10 March: 900 in time, a Member. The redemption is
/// told after the second order, which lifted the customer to Silver on
/// 1,100: the redemption reads the orders and the customer replayed in
/// time undoes the lift it would have prevented, told as one change with
/// the redemption's cause.
async fn a_late_redemption_undoes_the_lift_it_would_have_prevented(api: Api) {
    api.program("lr", &silver_by_current_points("1000")).await;
    api.order("lr", "c", "a", "2027-03-01T00:00:00Z", "600")
        .await;
    let lifted = api
        .order("lr", "c", "b", "2027-03-10T00:00:00Z", "500")
        .await;
    assert_eq!(lifted["tierAfter"], "Silver", "{lifted}");
    let redeemed = api
        .redeem("lr", "c", "x", "200", "2027-03-05T00:00:00Z")
        .await;
    assert_eq!(redeemed["currentPoints"], "900", "{redeemed}");
    let status = api.status("lr", "c", "2027-03-10T00:00:00Z").await;
    assert_eq!(status["tier"], "Member", "{status}");
    let changes: Vec<(Value, Value, Value)> = feed(&api, "lr", 100)
        .await
        .into_iter()
        .filter(|e| e["from"] != e["to"])
        .map(|e| (e["from"].clone(), e["to"].clone(), e["cause"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (json!("Member"), json!("Silver"), json!("order b")),
            (json!("Silver"), json!("Member"), json!("redemption x")),
        ]
    );
    // Told again, it is a duplicate and changes nothing.
    let again = api
        .redeem("lr", "c", "x", "200", "2027-03-05T00:00:00Z")
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    let status = api.status("lr", "c", "2027-03-10T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["currentPoints"]),
        (&json!("Member"), &json!("900")),
        "{status}"
    );
}

on_both_engines!(
    a_late_redemption_undoes_the_lift_it_would_have_prevented,
    a_late_order_where_points_expire_reaches_its_tier_as_in_time,
    a_late_order_where_points_expire_counts_the_returns_made,
    a_second_late_order_finds_the_crossing_a_later_order_completed_on_points_expired_since,
    a_late_order_before_a_return_from_newer_lots_is_decided_as_in_time,
    a_late_order_where_tiers_lapse_and_points_expire_is_decided_as_in_time,
    a_late_order_before_a_return_once_its_lot_expired_is_decided_as_in_time,
    a_late_upgrade_before_a_period_a_return_ended_judges_its_own_ends,
    a_late_return_then_a_late_order_publish_each_change_once,
    changed_or_hostile_late_orders_write_nothing,
    a_customer_owing_many_notices_is_caught_up_by_a_late_order,
    a_return_dated_before_its_order_is_refused_or_changes_no_past_end,
    a_late_order_that_undoes_nothing_reports_the_tier_the_customer_has,
    a_late_order_completing_an_upgrade_is_dated_when_it_would_have_come,
    a_late_order_placed_before_an_upgrade_earns_the_rate_held_then,
    a_late_order_a_later_orders_window_completes_upgrades_from_that_order,
    a_customer_set_by_the_admin_takes_in_orders_placed_before_the_set,
    a_late_return_dates_no_move_down_before_the_upgrade_it_undoes,
    a_late_return_that_moved_down_before_an_order_lifted_back_tells_both,
    a_late_order_completing_a_crossing_a_return_since_undid_tells_both,
    a_late_return_under_a_retention_rule_walks_the_course,
    a_late_order_whose_crossing_a_return_since_undid_goes_up_then_down,
    a_late_order_placed_before_a_move_down_by_a_return_undoes_it,
    a_late_order_placed_before_a_cancellation_that_moved_the_customer_down,
    a_late_order_at_the_instant_of_the_return_that_moved_the_customer_down,
    a_late_order_whose_window_reads_a_day_the_state_dropped_crosses_as_in_time,
);

/// Silver from 500 current points (eager), Gold from 1,000 and $800 in 30
/// days (lazy); points last 31 days. A $284 on 13 March, B $102 on 12
/// April 01:00 and C $1 on 15 April arrive in time; then L1 ($216, 16
/// March) and L2 ($482, 12 April). In time B took the customer to Gold
/// (1,084 points, $800 since 14 March). Before, L2 upgraded nobody on the
/// points left now (A's had expired) and never asked for the orders: the
/// customer stayed Silver.
async fn a_second_late_order_finds_the_crossing_a_later_order_completed_on_points_expired_since(
    api: Api,
) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"days": 31},
        "trackers": [{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {
                "criteria": [{"id": "P", "kind": "currentPoints", "min": 500}],
                "condition": "all", "upgradeType": "eager"}},
            {"name": "Gold", "earnRate": "1", "upgrade": {
                "criteria": [{"id": "P", "kind": "currentPoints", "min": 1000},
                             {"id": "S", "kind": "tracker", "tracker": "spend30d", "min": 800}],
                "condition": "all", "upgradeType": "lazy"}}
        ]
    });
    api.program("p", &config).await;
    for (id, at, amount) in [
        ("A", "2026-03-13T00:00:00Z", "284"),
        ("B", "2026-04-12T01:00:00Z", "102"),
        ("C", "2026-04-15T00:00:00Z", "1"),
        ("L1", "2026-03-16T00:00:00Z", "216"),
    ] {
        api.order("p", "c", id, at, amount).await;
    }
    let l2 = api
        .order("p", "c", "L2", "2026-04-12T00:00:00Z", "482")
        .await;
    assert_eq!(l2["tierAfter"], "Gold", "{l2}");
    let status = api.status("p", "c", "2026-04-15T00:00:00Z").await;
    assert_eq!(
        (
            &status["tier"],
            &status["tierSince"],
            &status["currentPoints"]
        ),
        (
            &json!("Gold"),
            &json!("2026-04-12T01:00:00Z"),
            &json!("801")
        ),
        "{status}"
    );
}

/// Silver from 500 current points or $700 in 30 days (eager), kept a month
/// from its start by $200 in 30 days, else the base after 5 days' grace;
/// points last 19 days. o0 $693 on 12 March (Silver), o2 $607 on 18 April
/// returned whole at once, o3 $161 on 27 April; then L ($535, placed 20
/// March). Without L the 12 April end failed, the grace ran out on 17
/// April, o2 lifted the customer and its return took Silver back. In time
/// L renewed Silver on 12 April. Before, L was decided at the tier held
/// now, crossed to Silver on 20 March, and that period's end sent the
/// customer back to Member.
async fn a_late_order_while_a_tier_since_lost_was_held_renews_it(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2027-01-01T00:00:00Z",
        "pointsExpiry": {"days": 19},
        "returnPolicy": {"spentPoints": "withinBalance"},
        "trackers": [{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1",
             "upgrade": {"criteria": [{"id": "P", "kind": "currentPoints", "min": 500},
                                      {"id": "S", "kind": "tracker", "tracker": "spend30d", "min": 700}],
                         "condition": {"any": 1}, "upgradeType": "eager"},
             "retention": {"validity": {"months": 1, "from": "tierStart"},
                           "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend30d", "min": 200}],
                           "condition": "all", "onFail": "base", "graceDays": 5}}
        ]
    });
    api.program("held", &config).await;
    api.order("held", "c", "o0", "2027-03-12T08:00:00Z", "693")
        .await;
    api.order("held", "c", "o2", "2027-04-18T00:00:00Z", "607")
        .await;
    let (code, body) = give_back(&api, "held", "r1", "o2", "2027-04-18T00:00:00Z", None).await;
    assert_eq!(code, 200, "{body}");
    api.order("held", "c", "o3", "2027-04-27T00:00:00Z", "161")
        .await;
    let before = api.status("held", "c", "2027-04-27T00:00:00Z").await;
    assert_eq!(before["tier"], "Member", "{before}");
    let l = api
        .order("held", "c", "L", "2027-03-20T01:00:00Z", "535")
        .await;
    assert_eq!(l["tierAfter"], "Silver", "{l}");
    let status = api.status("held", "c", "2027-04-27T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"], &status["validUntil"]),
        (
            &json!("Silver"),
            &json!("2027-03-12T08:00:00Z"),
            &json!("2027-05-12T08:00:00Z")
        ),
        "{status}"
    );
}

/// Three tiers by current points (Silver 600, Gold 1,200, dynamic), each
/// kept a month from its start by 300 / 700 current points, else one down
/// after a 10-day grace; points last `expiry_days`.
fn three_tiers_kept_by_current_points(expiry_days: u32, spent_points: &str) -> Value {
    let keep = |min: u32| {
        json!({"validity": {"months": 1, "from": "tierStart"},
               "criteria": [{"id": "K", "kind": "currentPoints", "min": min}],
               "condition": "all", "onFail": "oneDown", "graceDays": 10})
    };
    let up = |min: u32| {
        json!({"criteria": [{"id": "P", "kind": "currentPoints", "min": min}],
               "condition": "all", "upgradeType": "dynamic"})
    };
    json!({
        "currency": "USD", "startDate": "2027-01-01T00:00:00Z",
        "pointsExpiry": {"days": expiry_days},
        "returnPolicy": {"spentPoints": spent_points},
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": up(600), "retention": keep(300)},
            {"name": "Gold", "earnRate": "1", "upgrade": up(1200), "retention": keep(700)}
        ]
    })
}

/// Three tiers by current points (600 / 1,200, dynamic), kept a month by
/// 300 / 700 current points, one down after 10 days' grace; points last
/// 18 days. In time the late $668 of 26 March lifts the customer to Gold,
/// and the return of the $652 on 21 April moves them to Silver: Silver
/// since 21 April, valid to 21 May. Before the replay in time, the late
/// order was decided at the Member tier the returns had left, crossed to
/// Silver on 26 March and renewed there a month later: the tier right, its
/// start and validity five weeks early.
async fn a_late_order_whose_tier_returns_took_down_starts_the_tier_as_in_time(api: Api) {
    let config = three_tiers_kept_by_current_points(18, "withinBalance");
    api.program("start", &config).await;
    api.order("start", "c", "o0", "2027-03-13T00:00:00Z", "652")
        .await;
    api.order("start", "c", "o1", "2027-03-19T14:00:00Z", "163")
        .await;
    let give = |id: &'static str, order: &'static str, at: &'static str| {
        let api = &api;
        async move {
            let (code, body) = give_back(api, "start", id, order, at, None).await;
            assert_eq!(code, 200, "{body}");
        }
    };
    give("r1", "o1", "2027-04-07T03:00:00Z").await;
    api.order("start", "c", "o3", "2027-04-21T19:00:00Z", "407")
        .await;
    give("r2", "o0", "2027-04-21T20:00:00Z").await;
    api.order("start", "c", "o4", "2027-04-23T11:00:00Z", "435")
        .await;
    give("r3", "o4", "2027-05-08T15:00:00Z").await;
    let late = api
        .order("start", "c", "o2", "2027-03-26T10:00:00Z", "668")
        .await;
    assert_eq!(late["tierAfter"], "Silver", "{late}");
    let status = api.status("start", "c", "2027-05-08T15:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"], &status["validUntil"]),
        (
            &json!("Silver"),
            &json!("2027-04-21T20:00:00Z"),
            &json!("2027-05-21T20:00:00Z")
        ),
        "{status}"
    );
}

/// Three tiers by current points (Silver 600, Gold 1,200, dynamic), Gold
/// kept a month from its start by 700 current points, else one down after
/// a 10-day grace; points last 29 days. Gold on 28 March; 330 points
/// redeemed in April; $308 of o1 (14 March) returned on 11 April but told
/// after every other event. In time the Gold end of 28 April renews. The
/// return, judged alone, read that end anew on figures that no longer
/// replay what expired and moved the customer to Silver after its grace;
/// the replay in time (engine `replay.rs`) keeps Gold renewed to 28 May.
async fn a_late_return_leaves_an_end_renewed_as_in_time(api: Api) {
    let config = three_tiers_kept_by_current_points(29, "negativeBalance");
    api.program("renew", &config).await;
    for (id, at, amount) in [
        ("o0", "2027-03-04T00:00:00Z", "261"),
        ("o1", "2027-03-14T14:00:00Z", "490"),
        ("o2", "2027-03-28T20:00:00Z", "643"),
        ("o3", "2027-04-01T19:00:00Z", "497"),
    ] {
        api.order("renew", "c", id, at, amount).await;
    }
    api.redeem("renew", "c", "x0", "14", "2027-04-01T19:00:00Z")
        .await;
    api.order("renew", "c", "o4", "2027-04-06T00:00:00Z", "209")
        .await;
    api.redeem("renew", "c", "x1", "316", "2027-04-06T00:00:00Z")
        .await;
    api.order("renew", "c", "o5", "2027-04-21T00:00:00Z", "338")
        .await;
    api.order("renew", "c", "o6", "2027-04-27T00:00:00Z", "250")
        .await;
    let give = |id: &'static str, order: &'static str, at: &'static str, amount| {
        let api = &api;
        async move {
            let (code, body) = give_back(api, "renew", id, order, at, amount).await;
            assert_eq!(code, 200, "{body}");
            body
        }
    };
    give("r5", "o5", "2027-05-26T08:00:00Z", None).await;
    let late = give("r1", "o1", "2027-04-11T14:00:00Z", Some("308")).await;
    assert_eq!(
        (&late["tierAfter"], &late["downgrades"]),
        (&json!("Gold"), &json!([])),
        "{late}"
    );
    let status = api.status("renew", "c", "2027-05-26T08:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"], &status["validUntil"]),
        (
            &json!("Gold"),
            &json!("2027-03-28T20:00:00Z"),
            &json!("2027-05-28T20:00:00Z")
        ),
        "{status}"
    );
    assert!(
        status.get("inGraceUntil").is_none_or(Value::is_null),
        "{status}"
    );
}

// Their retention rules count trackers from the day the rule was published:
// fixed, so these histories end the same whatever day the suite runs.
on_both_engines!(
    published_at = "2026-11-30T00:00:00Z";
    a_late_upgrade_moves_down_and_up_with_the_orders_after_it_as_in_time,
    a_late_order_while_a_tier_since_lost_was_held_renews_it,
    a_late_order_whose_tier_returns_took_down_starts_the_tier_as_in_time,
    a_late_return_leaves_an_end_renewed_as_in_time,
    an_order_in_a_grace_the_late_upgrade_brought_renews_silver,
    late_events_before_older_ends_leave_the_customer_as_in_time,
    a_late_order_under_a_current_points_rule_walks_older_ends,
    a_spenders_late_order_under_a_current_points_rule_walks_older_ends,
    many_customers_late_orders_sent_twice_at_once,
    what_came_after_an_end_a_late_return_fails_counts_as_in_time,
);

/// Silver at $1,000 over 30 days. The $600 of 1 March left the stored
/// state when the order of 15 April came (no window ending then reads it);
/// the late $500 of 20 March reads it in its own window, so in time Silver
/// came then. The write reads the orders for it and tells that crossing.
async fn a_late_order_whose_window_reads_a_day_the_state_dropped_crosses_as_in_time(api: Api) {
    let others = [
        ("a", "2026-03-01T10:00:00Z", "600"),
        ("b", "2026-04-15T10:00:00Z", "10"),
    ];
    let late = ("late", "2026-03-20T10:00:00Z", "500");
    let told = late_and_in_time_twins(
        &api,
        "dropped",
        &by_30_day_spend(&["Silver"]),
        &others,
        late,
    )
    .await;
    assert_eq!(
        told.moves,
        moves_of(&[("Member", "Silver", "2026-03-20T10:00:00Z")])
    );
}

/// Silver at $3,000 (lazy) and a validity of a year from the tier's start.
/// The $1,000 order placed on 5 March comes after the $800 of 8 March: in
/// time, 8 March completed the $3,000, so Silver starts then (and its year
/// with it), not on 5 March; the response and the `TierChanged` say so.
async fn a_late_order_completing_an_upgrade_is_dated_when_it_would_have_come(api: Api) {
    api.program("p", &silver(0)).await;
    api.order("p", "c", "a", "2026-03-01T10:00:00Z", "1200")
        .await;
    api.order("p", "c", "b", "2026-03-08T10:00:00Z", "800")
        .await;
    let late = api
        .order("p", "c", "late", "2026-03-05T10:00:00Z", "1000")
        .await;
    assert_eq!(late["tierAfter"], "Silver", "{late}");
    assert_eq!(late["upgrades"][0]["at"], "2026-03-08T10:00:00Z", "{late}");
    // Lazy: the order earns at the tier it was decided at, as in time.
    assert_eq!(late["pointsAwarded"], "1000");
    let status = api.status("p", "c", "2026-03-09T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"], &status["validUntil"]),
        (
            &json!("Silver"),
            &json!("2026-03-08T10:00:00Z"),
            &json!("2027-03-08T10:00:00Z")
        ),
        "{status}"
    );
    let changes = tier_changes(&api, "p").await;
    assert_eq!(
        changes,
        vec![("Silver".to_owned(), "2026-03-08T10:00:00Z".to_owned())]
    );
    // Sent again, it answers what it answered.
    let again = api
        .order("p", "c", "late", "2026-03-05T10:00:00Z", "1000")
        .await;
    assert_eq!(again["upgrades"], late["upgrades"]);
}

/// Silver at $3,000 (eager, twice the rate). The $200 order placed on 5
/// March, while the customer was a Member, comes after the $2,900 of 8
/// March took them to Silver. Counted with the figures as they stand it
/// would complete the $3,000 and, under `eager`, earn Silver's rate; on the
/// orders placed up to it ($1,000) it crosses nothing. It earns Member's
/// rate, as in time, the response says it was decided at Member, and a
/// return of it reverses nothing.
async fn a_late_order_placed_before_an_upgrade_earns_the_rate_held_then(api: Api) {
    let mut program = silver(0);
    program["tiers"][1]["upgrade"]["upgradeType"] = json!("eager");
    api.program("p", &program).await;
    api.order("p", "c", "a", "2026-03-01T10:00:00Z", "1000")
        .await;
    let b = api
        .order("p", "c", "b", "2026-03-08T10:00:00Z", "2900")
        .await;
    assert_eq!(b["tierAfter"], "Silver", "{b}");
    let late = api
        .order("p", "c", "late", "2026-03-05T10:00:00Z", "200")
        .await;
    assert_eq!(
        (
            &late["tierBefore"],
            &late["tierAfter"],
            &late["pointsAwarded"]
        ),
        (&json!("Member"), &json!("Silver"), &json!("200")),
        "{late}"
    );
    assert_eq!(late["upgrades"], json!([]), "{late}");
    let status = api.status("p", "c", "2026-03-09T00:00:00Z").await;
    assert_eq!(
        (
            &status["tier"],
            &status["tierSince"],
            &status["currentPoints"]
        ),
        (
            &json!("Silver"),
            &json!("2026-03-08T10:00:00Z"),
            &json!("7000")
        ),
        "{status}"
    );
    let (code, back) = give_back(&api, "p", "r1", "late", "2026-03-09T00:00:00Z", None).await;
    assert_eq!(code, 200, "{back}");
    assert_eq!(back["downgrades"], json!([]), "{back}");
    let after = api.status("p", "c", "2026-03-10T00:00:00Z").await;
    assert_eq!(
        (&after["tier"], &after["currentPoints"]),
        (&json!("Silver"), &json!("6800")),
        "{after}"
    );
    // Sent again, it answers what it answered.
    let again = api
        .order("p", "c", "late", "2026-03-05T10:00:00Z", "200")
        .await;
    assert_eq!(again["pointsAwarded"], late["pointsAwarded"]);
}

/// Silver at $1,000 over 30 days. The $400 of 5 March arrives after the
/// $700 of 1 April and the $10 of 20 April. As of its own day its window
/// holds $400; in time the window of 1 April held both ($1,100), so the
/// customer was Silver from then. No figure the state keeps shows it (the
/// days before 21 March are gone from the series), so the service reads
/// the orders and the replay on them finds it.
async fn a_late_order_a_later_orders_window_completes_upgrades_from_that_order(api: Api) {
    api.program("p", &by_30_day_spend(&["Silver"])).await;
    api.order("p", "c", "b", "2026-04-01T10:00:00Z", "700")
        .await;
    api.order("p", "c", "c", "2026-04-20T10:00:00Z", "10").await;
    let late = api
        .order("p", "c", "late", "2026-03-05T10:00:00Z", "400")
        .await;
    assert_eq!(late["tierAfter"], "Silver", "{late}");
    assert_eq!(late["upgrades"][0]["at"], "2026-04-01T10:00:00Z", "{late}");
    assert_eq!(late["pointsAwarded"], "400", "{late}");
    let status = api.status("p", "c", "2026-04-21T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"]),
        (&json!("Silver"), &json!("2026-04-01T10:00:00Z")),
        "{status}"
    );
    let changes = tier_changes(&api, "p").await;
    assert_eq!(
        changes,
        vec![("Silver".to_owned(), "2026-04-01T10:00:00Z".to_owned())]
    );
}

/// Found by review: a customer the admin set to Silver (as a migration
/// would, dated now) has no orders. Backfilled orders are placed before the
/// set: one that would cross Silver from the tier held then, and one whose
/// windows miss days. The engine asks for the orders; the read finds none,
/// and asking again made the service give up with a 500 after four reads.
/// Each is taken in once, at the tier held then.
async fn a_customer_set_by_the_admin_takes_in_orders_placed_before_the_set(api: Api) {
    api.program("p", &by_30_day_spend(&["Silver", "Gold"]))
        .await;
    for (customer, amount) in [("c", "1200"), ("d", "10")] {
        let set = api
            .put(
                &format!("/programs/p/customers/{customer}/tier"),
                &json!({"tier": "Silver", "reason": "migration"}),
            )
            .await;
        assert_eq!(set.status, 200, "{}", set.body);
        let r = api
            .post(
                "/programs/p/orders",
                &order(customer, "o1", "2026-03-05T10:00:00Z", amount),
            )
            .await;
        assert_eq!(r.status, 200, "{customer}: {}", r.body);
        assert_eq!(
            (
                &r.body["tierBefore"],
                &r.body["tierAfter"],
                &r.body["upgrades"]
            ),
            (&json!("Member"), &json!("Silver"), &json!([])),
            "{customer}: {}",
            r.body
        );
        assert_eq!(r.body["pointsAwarded"], json!(amount), "{customer}");
        let again = api
            .post(
                "/programs/p/orders",
                &order(customer, "o1", "2026-03-05T10:00:00Z", amount),
            )
            .await;
        assert_eq!(again.body["duplicate"], true, "{}", again.body);
    }
}

/// Found by an adversarial review: Silver at $2,000, Gold at $5,000. A
/// $1,000 return of o1 made on 5 March arrives after o2 (10 March) took the
/// customer to Gold. In time the return moved them to Member on 5 March and
/// o2 lifted them to Silver on 10 March; the late return dated its
/// Gold -> Silver on 5 March, before the Gold it undid, and the customer
/// held Silver "since" 5 March.
async fn a_late_return_dates_no_move_down_before_the_upgrade_it_undoes(api: Api) {
    let rule = |min: u32| {
        json!({"criteria": [{"id": "S", "kind": "lifetimePurchases", "min": min}],
            "condition": "all", "upgradeType": "lazy"})
    };
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1"},
                  {"name": "Silver", "earnRate": "2", "upgrade": rule(2000)},
                  {"name": "Gold", "earnRate": "3", "upgrade": rule(5000)}]});
    api.program("p", &config).await;
    api.order("p", "c", "o1", "2026-03-01T10:00:00Z", "2500")
        .await;
    api.order("p", "c", "o2", "2026-03-10T10:00:00Z", "2500")
        .await;
    let (code, r) = give_back(&api, "p", "r1", "o1", "2026-03-05T10:00:00Z", Some("1000")).await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        r["downgrades"],
        json!([{"from": "Gold", "to": "Silver", "at": "2026-03-10T10:00:00Z"}]),
        "{r}"
    );
    let status = api.status("p", "c", "2026-03-11T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"]),
        (&json!("Silver"), &json!("2026-03-10T10:00:00Z")),
        "{status}"
    );
    let changes = tier_changes(&api, "p").await;
    assert_eq!(
        changes.last().unwrap(),
        &("Silver".to_owned(), "2026-03-10T10:00:00Z".to_owned())
    );
}

/// A late return that leaves the customer on Silver, though in time it
/// moved them to Member and a later order lifted them back: Silver is
/// held since that order, and the feed tells the move down and the lift at
/// their instants, once each (sent again, the return is a replay).
async fn a_late_return_that_moved_down_before_an_order_lifted_back_tells_both(api: Api) {
    api.program("dip", &silver_at_1000()).await;
    api.order("dip", "c", "o1", "2026-03-10T10:00:00Z", "1000")
        .await;
    api.order("dip", "c", "o2", "2026-04-01T10:00:00Z", "600")
        .await;
    for _ in 0..2 {
        let (code, r) =
            give_back(&api, "dip", "r1", "o1", "2026-03-20T10:00:00Z", Some("500")).await;
        assert_eq!(code, 200, "{r}");
        assert_eq!(
            (&r["tierAfter"], &r["downgrades"]),
            (&json!("Silver"), &json!([])),
            "{r}"
        );
    }
    let status = api.get("/programs/dip/customers/c").await.body;
    assert_eq!(
        (&status["tier"], &status["tierSince"]),
        (&json!("Silver"), &json!("2026-04-01T10:00:00Z")),
        "{status}"
    );
    let change = |from: &str, to: &str, at: &str| (from.to_owned(), to.to_owned(), at.to_owned());
    assert_eq!(
        customer_moves(&api, "dip").await,
        vec![
            change("Member", "Silver", "2026-03-10T10:00:00Z"),
            change("Silver", "Member", "2026-03-20T10:00:00Z"),
            change("Member", "Silver", "2026-04-01T10:00:00Z"),
        ]
    );
}

/// Under a retention rule: a late order that crosses nothing on the
/// figures as they stand, placed before an order whose crossing it
/// completes in time, which a return made since then undid. In time:
/// Silver at o2, Member again at the return; the walk of the course tells
/// both, once each (sent again, the order is a replay).
async fn a_late_order_completing_a_crossing_a_return_since_undid_tells_both(api: Api) {
    api.program("cr", &silver(0)).await;
    api.order("cr", "c", "o1", "2026-02-01T10:00:00Z", "2000")
        .await;
    api.order("cr", "c", "o2", "2026-04-01T10:00:00Z", "900")
        .await;
    let (code, r) = give_back(&api, "cr", "r2", "o2", "2026-04-02T10:00:00Z", Some("300")).await;
    assert_eq!(code, 200, "{r}");
    for _ in 0..2 {
        let late = api
            .order("cr", "c", "late", "2026-03-01T10:00:00Z", "200")
            .await;
        assert_eq!(late["tierAfter"], "Member", "{late}");
    }
    let status = api.get("/programs/cr/customers/c").await.body;
    assert_eq!(
        (&status["tier"], &status["tierSince"]),
        (&json!("Member"), &json!("2026-04-02T10:00:00Z")),
        "{status}"
    );
    let change = |from: &str, to: &str, at: &str| (from.to_owned(), to.to_owned(), at.to_owned());
    assert_eq!(
        customer_moves(&api, "cr").await,
        vec![
            change("Member", "Silver", "2026-04-01T10:00:00Z"),
            change("Silver", "Member", "2026-04-02T10:00:00Z"),
        ]
    );
}

/// Silver at $1,000 and Gold at $2,000, each kept a month at a time by
/// any purchase. A $200 return of o0 made on 5 March arrives after o1 (10
/// March) took the customer to Gold: in time they stayed on Silver from 1
/// March (the return left $1,000) and o1's $900 fell short of Gold. The
/// course walked again gives the late customer `c` the tier, its start and
/// its validity the customer `in`, fed in time, has; the last change told
/// names Silver.
async fn a_late_return_under_a_retention_rule_walks_the_course(api: Api) {
    let tier = |name: &str, min: u32| {
        json!({"name": name, "earnRate": "1",
            "upgrade": {"criteria": [{"id": "S", "kind": "lifetimePurchases", "min": min}],
                "condition": "all", "upgradeType": "lazy"},
            "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "lifetimePurchases", "min": "1"}],
                "condition": "all", "onFail": "oneDown"}})
    };
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1"}, tier("Silver", 1000), tier("Gold", 2000)]});
    api.program("wr", &config).await;
    let body = |customer: &str| {
        json!({"returnId": "r", "orderId": "o0", "customerId": customer,
            "returnedAt": "2027-03-05T10:00:00Z", "amount": "200"})
    };
    api.order("wr", "in", "o0", "2027-03-01T10:00:00Z", "1200")
        .await;
    let r = api.post("/programs/wr/returns", &body("in")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    api.order("wr", "in", "o1", "2027-03-10T10:00:00Z", "900")
        .await;
    api.order("wr", "c", "o0", "2027-03-01T10:00:00Z", "1200")
        .await;
    let up = api
        .order("wr", "c", "o1", "2027-03-10T10:00:00Z", "900")
        .await;
    assert_eq!(up["tierAfter"], "Gold", "{up}");
    let r = api.post("/programs/wr/returns", &body("c")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tierAfter"], "Silver", "{}", r.body);
    let (in_time, late) = (
        api.status("wr", "in", "2027-03-20T00:00:00Z").await,
        api.status("wr", "c", "2027-03-20T00:00:00Z").await,
    );
    for field in ["tier", "tierSince", "validUntil", "inGraceUntil"] {
        assert_eq!(late[field], in_time[field], "{field}: {late}");
    }
    assert_eq!(late["tierSince"], json!("2027-03-01T10:00:00Z"), "{late}");
    let last_told = customer_moves(&api, "wr").await.pop().unwrap();
    assert_eq!(last_told.1, "Silver", "{last_told:?}");
}

/// Found by an adversarial fuzz: r2, made before Silver's end on 10
/// February, arrives after o3 (15 February). With a grace, o3 met the
/// condition in it and renewed Silver in time; without one, the customer
/// fell to Member at the end and o3 lifted them back. Program `g<grace>`,
/// customers `in` (in time) and `late`.
async fn what_came_after_an_end_a_late_return_fails_counts_as_in_time(api: Api) {
    for grace in [10, 0] {
        let p = format!("g{grace}");
        let config = json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "trackers": [{"id": "s1", "measure": "billAmount", "period": {"months": 1}}],
            "tiers": [{"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1",
                 "upgrade": {"criteria": [{"id": "u", "kind": "singleOrder", "min": "1000"}],
                             "condition": "all", "upgradeType": "lazy"},
                 "retention": {"validity": {"months": 1, "from": "tierStart"},
                     "criteria": [{"id": "r", "kind": "tracker", "tracker": "s1", "min": "500"}],
                     "condition": "all", "onFail": "oneDown", "graceDays": grace}}]
        });
        api.program(&p, &config).await;
        let ret = |customer: &str| {
            json!({"returnId": "r2", "orderId": "o2", "customerId": customer,
                   "returnedAt": "2027-02-08T10:00:00Z"})
        };
        let o3 = "2027-02-15T10:00:00Z";
        for (customer, late) in [("in", false), ("late", true)] {
            api.order(&p, customer, "o1", "2027-01-10T10:00:00Z", "1000")
                .await;
            api.order(&p, customer, "o2", "2027-02-05T10:00:00Z", "600")
                .await;
            if !late {
                let r = api
                    .post(&format!("/programs/{p}/returns"), &ret(customer))
                    .await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
            api.order(&p, customer, "o3", o3, "1000").await;
            if late {
                let r = api
                    .post(&format!("/programs/{p}/returns"), &ret(customer))
                    .await;
                assert_eq!(r.status, 200, "{}", r.body);
            }
        }
        api.run_scheduled("2027-03-01T00:00:00Z").await;
        let seen =
            |s: &Value| ["tier", "tierSince", "validUntil", "inGraceUntil"].map(|f| s[f].clone());
        let in_time = api.status(&p, "in", "2027-03-01T00:00:00Z").await;
        let late = api.status(&p, "late", "2027-03-01T00:00:00Z").await;
        assert_eq!(in_time["tier"], "Silver", "{in_time}");
        assert_eq!(seen(&late), seen(&in_time), "grace {grace}: {late}");
        if grace == 0 {
            assert_eq!(in_time["tierSince"], o3, "{in_time}");
        }
    }
}

/// Where tiers lapse (Silver kept a month at a time) and points expire.
/// Program p: Silver from 1,000 lifetime points, kept by $100 in 30 days,
/// points last 30 days; A ($600) on 1 January, B ($10) on 20 March, then L
/// ($500, placed 5 January): Silver on 5 January, down on 5 February,
/// Silver again by B, and by then every point but B's had expired. Before
/// the thirty-third session the walk of the ends L's upgrade brought left
/// L's 500 points unexpired for good. Program q: Silver from 1,000
/// current points, kept by 400 of them, points last 20 days; C ($1) on 1
/// March, D ($316) on 13 May, E ($103) on 21 May, then L ($581, placed 1
/// April): in time 581 at most, a Member; before, L was decided on the
/// points left now, 419 + 581, and made Silver on 1 April.
async fn a_late_order_where_tiers_lapse_and_points_expire_is_decided_as_in_time(api: Api) {
    let kept = |criterion: Value| {
        json!({"validity": {"months": 1, "from": "tierStart"},
            "criteria": [criterion], "condition": "all", "onFail": "base"})
    };
    let mut p = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"days": 30},
        "trackers": [{"id": "spend30d", "measure": "billAmount", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {
                "criteria": [{"id": "L", "kind": "lifetimePoints", "min": 1000}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": kept(json!({"id": "K", "kind": "tracker", "tracker": "spend30d", "min": 100}))}]
    });
    api.program("p", &p).await;
    api.order("p", "c", "A", "2026-01-01T00:00:00Z", "600")
        .await;
    api.order("p", "c", "B", "2026-03-20T00:00:00Z", "10").await;
    api.order("p", "c", "L", "2026-01-05T00:00:00Z", "500")
        .await;
    let status = api.status("p", "c", "2026-03-21T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["currentPoints"]),
        (&json!("Silver"), &json!("10")),
        "{status}"
    );
    p["pointsExpiry"] = json!({"days": 20});
    p["tiers"][1]["upgrade"]["criteria"] =
        json!([{"id": "P", "kind": "currentPoints", "min": 1000}]);
    p["tiers"][1]["retention"] = kept(json!({"id": "K", "kind": "currentPoints", "min": 400}));
    api.program("q", &p).await;
    for (id, at, amount) in [
        ("C", "2026-03-01T00:00:00Z", "1"),
        ("D", "2026-05-13T00:00:00Z", "316"),
        ("E", "2026-05-21T00:00:00Z", "103"),
        ("L", "2026-04-01T01:00:00Z", "581"),
    ] {
        api.order("q", "c", id, at, amount).await;
    }
    let status = api.status("q", "c", "2026-05-22T00:00:00Z").await;
    assert_eq!(status["tier"], "Member", "{status}");
}

/// Where tiers lapse and points expire, returns made once their order's
/// lot had expired (they take nothing from current points). Program p:
/// Silver from 700 current points (lazy), kept from the join a month at a
/// time by 500 of them, else the tier qualified for; points last 8 days.
/// A ($120) on 1 March, B ($163) on 8 April, C ($537) on 15 April, B
/// returned on 16 April (its lot expired that day), then L ($581, placed
/// 4 March): in time Silver on 4 March, a Member from 1 April (nothing
/// left), Silver again by C, a Member again by the return. Before the
/// thirty-fifth session L was decided on the points left now and the 1
/// April end renewed on them: Silver. Program q: Silver from 1,000
/// current points (eager), kept a month from its start by 400 of them,
/// else the base; points last 11 days. o1 ($412) on 4 March, o2 ($1) an
/// hour later, o3 ($413) on 6 March 01:00, o1 returned on 15 March (its
/// lot expired), o4 ($1) on 6 April, then L ($587, placed 2 March): in
/// time Silver from 4 March 01:00 (o2 crossed; the return kept it, o3
/// having crossed again by then) and a Member from 4 April. Dated where
/// what remains crosses (o3), the end came on 6 April 01:00, after the
/// latest event: Silver.
async fn a_late_order_before_a_return_once_its_lot_expired_is_decided_as_in_time(api: Api) {
    let kept = |from: &str, min: u32, on_fail: &str| {
        json!({"validity": {"months": 1, "from": from},
            "criteria": [{"id": "K", "kind": "currentPoints", "min": min}],
            "condition": "all", "onFail": on_fail})
    };
    let program = |min: u32, upgrade_type: &str, days: u32, retention: Value| {
        json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "pointsExpiry": {"days": days},
            "tiers": [
                {"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {
                    "criteria": [{"id": "P", "kind": "currentPoints", "min": min}],
                    "condition": "all", "upgradeType": upgrade_type},
                 "retention": retention}]
        })
    };
    api.program(
        "p",
        &program(700, "lazy", 8, kept("programJoin", 500, "qualified")),
    )
    .await;
    api.order("p", "c", "A", "2026-03-01T00:00:00Z", "120")
        .await;
    api.order("p", "c", "B", "2026-04-08T00:00:00Z", "163")
        .await;
    api.order("p", "c", "C", "2026-04-15T00:00:00Z", "537")
        .await;
    let (code, body) = give_back(&api, "p", "r1", "B", "2026-04-16T00:00:00Z", Some("163")).await;
    assert_eq!(code, 200, "{body}");
    api.order("p", "c", "L", "2026-03-04T00:00:00Z", "581")
        .await;
    let status = api.status("p", "c", "2026-04-20T00:00:00Z").await;
    assert_eq!(status["tier"], "Member", "{status}");

    api.program(
        "q",
        &program(1000, "eager", 11, kept("tierStart", 400, "base")),
    )
    .await;
    for (id, at, amount) in [
        ("o1", "2026-03-04T00:00:00Z", "412"),
        ("o2", "2026-03-04T01:00:00Z", "1"),
        ("o3", "2026-03-06T01:00:00Z", "413"),
    ] {
        api.order("q", "c", id, at, amount).await;
    }
    let (code, body) = give_back(&api, "q", "r1", "o1", "2026-03-15T00:00:00Z", Some("412")).await;
    assert_eq!(code, 200, "{body}");
    api.order("q", "c", "o4", "2026-04-06T00:00:00Z", "1").await;
    api.order("q", "c", "L", "2026-03-02T00:00:00Z", "587")
        .await;
    let status = api.status("q", "c", "2026-04-06T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"]),
        (&json!("Member"), &json!("2026-04-04T01:00:00Z")),
        "{status}"
    );
}

/// Silver and Gold from 600 and 1,200 current points (dynamic), each kept
/// a month from its start by 300 / 700 current points, else one down after
/// 10 days' grace; points last 3 days. o1 $1, o2 $554 on 13 March, o3 $46
/// on 14 March (Silver), o2 returned on 14 April (the end that day had
/// started a grace; the return took Silver back), o4 $300 on 24 April;
/// then L ($600, placed 1 March). In time L reached Silver on 1 March, its
/// 1 April end failed (nothing left), and the grace ran out on 11 April.
/// Before, the 1 April end was left to the job, which renewed it on o4's
/// 300 points.
async fn a_late_upgrade_before_a_period_a_return_ended_judges_its_own_ends(api: Api) {
    let tier = |name: &str, min: u32, keep: u32| {
        json!({"name": name, "earnRate": "1",
            "upgrade": {"criteria": [{"id": "P", "kind": "currentPoints", "min": min}],
                        "condition": "all", "upgradeType": "dynamic"},
            "retention": {"validity": {"months": 1, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "currentPoints", "min": keep}],
                "condition": "all", "onFail": "oneDown", "graceDays": 10}})
    };
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "pointsExpiry": {"days": 3},
        "tiers": [{"name": "Member", "earnRate": "1"}, tier("Silver", 600, 300), tier("Gold", 1200, 700)]
    });
    api.program("p", &config).await;
    for (id, at, amount) in [
        ("o1", "2026-03-01T01:00:00Z", "1"),
        ("o2", "2026-03-13T00:00:00Z", "554"),
        ("o3", "2026-03-14T00:00:00Z", "46"),
    ] {
        api.order("p", "c", id, at, amount).await;
    }
    let (code, body) = give_back(&api, "p", "r1", "o2", "2026-04-14T00:00:00Z", None).await;
    assert_eq!(code, 200, "{body}");
    api.order("p", "c", "o4", "2026-04-24T00:00:00Z", "300")
        .await;
    let before = api.status("p", "c", "2026-04-24T00:00:00Z").await;
    assert_eq!(before["tier"], "Member", "{before}");
    api.order("p", "c", "L", "2026-03-01T00:00:00Z", "600")
        .await;
    let status = api.status("p", "c", "2026-04-24T00:00:00Z").await;
    assert_eq!(
        (&status["tier"], &status["tierSince"]),
        (&json!("Member"), &json!("2026-04-11T00:00:00Z")),
        "{status}"
    );
}

/// Silver from 1,000 current points; points last 30 days. A ($900) on 10
/// January, $50 of it returned (in program p on 11 January, before L's
/// instant; in program q $150 on 20 January, after it), B ($10) on 15
/// February, then L ($200, placed 12 January) arrives. In time: 1,050 and
/// Silver on 12 January in p; in q 1,100 then, but the return left 950 and
/// took Silver back. Before the thirty-third session both were decided on
/// the 10 points left on 15 February (a customer who had returned anything
/// was never replayed with expiry).
async fn a_late_order_where_points_expire_counts_the_returns_made(api: Api) {
    let mut config = e2e::silver_by_current_points("1000");
    config["pointsExpiry"] = json!({"days": 30});
    for (p, returned, on, tier) in [
        ("p", "50", "2026-01-11T00:00:00Z", "Silver"),
        ("q", "150", "2026-01-20T00:00:00Z", "Member"),
    ] {
        api.program(p, &config).await;
        api.order(p, "c", "A", "2026-01-10T00:00:00Z", "900").await;
        let (code, body) = give_back(&api, p, "r1", "A", on, Some(returned)).await;
        assert_eq!(code, 200, "{p}: {body}");
        api.order(p, "c", "B", "2026-02-15T00:00:00Z", "10").await;
        let l = api.order(p, "c", "L", "2026-01-12T00:00:00Z", "200").await;
        assert_eq!(l["tierAfter"], tier, "{p}: {l}");
        let status = api.status(p, "c", "2026-02-16T00:00:00Z").await;
        assert_eq!(status["tier"], tier, "{p}: {status}");
        if tier == "Silver" {
            assert_eq!(status["tierSince"], "2026-01-12T00:00:00Z", "{p}: {status}");
        }
    }
}

/// A return that took from newer lots (its own lot had expired) of an
/// order placed after the late one. Program p: Silver from 1,000 current
/// points, points last 30 days; L ($500, 1 March), B ($600, 20 April), $1
/// of B returned on 25 May, C ($600, 26 May), L told last: in time never
/// more than 600 points. Program q: Silver from 500, points last a day;
/// L0 ($1, 1 March), L1 ($492, 2 March), B ($1, 25 March) returned on 26
/// March, C ($29, 24 April), L0 and L1 told last: never more than 492.
/// Both were decided on the points as they stood (Silver) before the
/// thirty-fourth session.
async fn a_late_order_before_a_return_from_newer_lots_is_decided_as_in_time(api: Api) {
    let histories = [
        (
            "p",
            "1000",
            30,
            vec![("L", "2026-03-01", "500"), ("B", "2026-04-20", "600")],
            ("B", "2026-05-25", "1"),
            vec![("C", "2026-05-26", "600")],
            vec!["L"],
        ),
        (
            "q",
            "500",
            1,
            vec![
                ("L0", "2026-03-01", "1"),
                ("L1", "2026-03-02", "492"),
                ("B", "2026-03-25", "1"),
            ],
            ("B", "2026-03-26", "1"),
            vec![("C", "2026-04-24", "29")],
            vec!["L0", "L1"],
        ),
    ];
    for (p, min, days, before, (returned, on, amount), after, late) in histories {
        let mut config = e2e::silver_by_current_points(min);
        config["pointsExpiry"] = json!({"days": days});
        api.program(p, &config).await;
        let at = |day: &str| format!("{day}T00:00:00Z");
        let mut told_late = Vec::new();
        for (id, day, dollars) in &before {
            if late.contains(id) {
                told_late.push((*id, at(day), *dollars));
            } else {
                api.order(p, "c", id, &at(day), dollars).await;
            }
        }
        let (code, body) = give_back(&api, p, "r1", returned, &at(on), Some(amount)).await;
        assert_eq!(code, 200, "{p}: {body}");
        for (id, day, dollars) in &after {
            api.order(p, "c", id, &at(day), dollars).await;
        }
        for (id, placed, dollars) in told_late {
            let reply = api.order(p, "c", id, &placed, dollars).await;
            assert_eq!(reply["tierAfter"], "Member", "{p} {id}: {reply}");
        }
        let status = api.status(p, "c", "2026-06-01T00:00:00Z").await;
        assert_eq!(status["tier"], "Member", "{p}: {status}");
    }
}

/// Silver from 1,000 current points; points last 30 days. Customer c: A
/// ($900) on 10 January, B ($10) on 15 February, then L ($200, placed 12
/// January) arrives. Customer d spent 100 points on 11 January and L is
/// $300. In time L made 1,100 and Silver on 12 January; before the
/// thirty-second session it was decided on the points left on 15
/// February (10) and both stayed Members.
async fn a_late_order_where_points_expire_reaches_its_tier_as_in_time(api: Api) {
    let mut config = e2e::silver_by_current_points("1000");
    config["pointsExpiry"] = json!({"days": 30});
    api.program("p", &config).await;
    for (customer, redeemed, late) in [("c", None, "200"), ("d", Some("100"), "300")] {
        api.order("p", customer, "A", "2026-01-10T00:00:00Z", "900")
            .await;
        if let Some(points) = redeemed {
            api.redeem("p", customer, "x", points, "2026-01-11T00:00:00Z")
                .await;
        }
        api.order("p", customer, "B", "2026-02-15T00:00:00Z", "10")
            .await;
        let l = api
            .order("p", customer, "L", "2026-01-12T00:00:00Z", late)
            .await;
        assert_eq!(l["tierAfter"], "Silver", "{customer}: {l}");
        let status = api.status("p", customer, "2026-02-16T00:00:00Z").await;
        assert_eq!(
            (&status["tier"], &status["tierSince"]),
            (&json!("Silver"), &json!("2026-01-12T00:00:00Z")),
            "{customer}: {status}"
        );
    }
}
