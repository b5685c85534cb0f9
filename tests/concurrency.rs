//! Concurrent invocations never lose or double-count anything.

use e2e::{on_both_engines, order, Api};
use futures::future::join_all;
use serde_json::json;

fn config() -> serde_json::Value {
    json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "visits", "measure": "visits", "period": {"months": 12}}],
        "tiers": [{"name": "Base", "earnRate": "0.1"},
                  {"name": "Gold", "earnRate": "0.2", "upgrade": {
                      "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 1000}],
                      "condition": "all", "upgradeType": "lazy"}}]
    })
}

async fn thirty_two_simultaneous_orders_for_one_customer_all_count_once(api: Api) {
    api.program("p", &config()).await;
    let orders: Vec<_> = (0..32)
        .map(|i| order("hot", &format!("o{i}"), "2026-03-01T10:00:00Z", "10"))
        .collect();
    let replies = join_all(orders.iter().map(|o| api.post("/programs/p/orders", o))).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["duplicate"], false);
    }
    let status = api.status("p", "hot", "2026-03-02T00:00:00Z").await;
    assert_eq!(status["lifetimePurchases"], "320");
    assert_eq!(status["currentPoints"], "32");
    assert_eq!(status["trackers"]["visits"], "32");
}

async fn the_same_order_sent_eight_times_at_once_is_applied_once(api: Api) {
    api.program("p", &config()).await;
    let o = order("c", "same", "2026-03-01T10:00:00Z", "1500");
    let replies = join_all((0..8).map(|_| api.post("/programs/p/orders", &o))).await;
    let applied = replies
        .iter()
        .filter(|r| r.status == 200 && r.body["duplicate"] == false)
        .count();
    let duplicates = replies
        .iter()
        .filter(|r| r.status == 200 && r.body["duplicate"] == true)
        .count();
    assert_eq!((applied, duplicates), (1, 7), "{replies:?}");
    for r in &replies {
        assert_eq!(
            r.body["pointsAwarded"], "150",
            "every reply carries the original result"
        );
    }
    let status = api.status("p", "c", "2026-03-02T00:00:00Z").await;
    assert_eq!(
        (
            status["lifetimePurchases"].as_str(),
            status["tier"].as_str()
        ),
        (Some("1500"), Some("Gold"))
    );
}

async fn concurrent_returns_of_one_order_never_take_back_more_than_it_had(api: Api) {
    api.program("p", &config()).await;
    api.order("p", "c", "o1", "2026-03-01T10:00:00Z", "100")
        .await;
    let returns: Vec<_> = (0..6)
        .map(|i| json!({"returnId": format!("r{i}"), "orderId": "o1", "customerId": "c", "returnedAt": "2026-03-02T00:00:00Z", "amount": "30"}))
        .collect();
    let replies = join_all(returns.iter().map(|r| api.post("/programs/p/returns", r))).await;
    let accepted = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies
        .iter()
        .filter(|r| r.status == 422 && r.code() == "return_exceeds_order")
        .count();
    assert_eq!((accepted, refused), (3, 3), "{replies:?}");
    let status = api.status("p", "c", "2026-03-03T00:00:00Z").await;
    assert_eq!(
        (
            status["lifetimePurchases"].as_str(),
            status["currentPoints"].as_str()
        ),
        (Some("10"), Some("1"))
    );
}

on_both_engines!(
    thirty_two_simultaneous_orders_for_one_customer_all_count_once,
    the_same_order_sent_eight_times_at_once_is_applied_once,
    concurrent_returns_of_one_order_never_take_back_more_than_it_had,
);

/// AWS's billing rules, as dynoxide reports them: a warm container's order
/// for a known customer is one consistent read (<= 4 KB) and one transaction
/// of the order item and the state item (<= 1 KB each, 2 units per KB
/// transactional); no program-wide item is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncontended_order_costs_one_read_unit_and_four_write_units() {
    let api = Api::start(e2e::Engine::Embedded).await;
    let mut program = config();
    program["pointsExpiry"] = json!({"months": 12});
    api.program("p", &program).await;
    for i in 0..20 {
        api.order(
            "p",
            "c",
            &format!("o{i}"),
            &format!("2026-03-{:02}T10:00:00Z", i + 1),
            "10",
        )
        .await;
    }
    let before = api.get("/_local/metrics").await.body;
    api.order("p", "c", "next", "2026-03-25T10:00:00Z", "10")
        .await;
    let after = api.get("/_local/metrics").await.body;
    let delta = |k: &str| after[k].as_f64().unwrap() - before[k].as_f64().unwrap();
    assert_eq!(
        (delta("requests"), delta("readUnits"), delta("writeUnits")),
        (2.0, 1.0, 4.0)
    );
}
