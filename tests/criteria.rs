//! The criteria beyond the worked examples, end to end on both engines.

use e2e::{on_both_engines, Api};
use serde_json::json;

async fn qualifying_orders_strict_thresholds_own_periods_and_calendar_windows(api: Api) {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [
            {"id": "big", "measure": "visits", "period": {"months": 6}, "filter": {"minOrderAmount": "1000"}},
            {"id": "spend", "measure": "billAmount", "period": {"calendar": "year"}}],
        "tiers": [
            {"name": "Base", "earnRate": "0.01"},
            {"name": "Gold", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "B", "kind": "tracker", "tracker": "big", "min": 1, "op": "gt"},
                {"id": "M", "kind": "tracker", "tracker": "spend", "min": "2500", "period": {"days": 30}}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Diamond", "earnRate": "0.03", "upgrade": {"criteria": [
                {"id": "S", "kind": "singleOrder", "min": "5000"}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    api.program("p", &config).await;
    let r = api.get("/programs/p/config").await;
    assert_eq!(
        r.body["config"]["tiers"][1]["upgrade"]["criteria"][0]["op"],
        "gt"
    );
    assert_eq!(
        r.body["config"]["trackers"][0]["filter"]["minOrderAmount"],
        "1000"
    );
    let first = api
        .order("p", "c", "o1", "2026-03-01T00:00:00Z", "1500")
        .await;
    assert_eq!(
        first["tierAfter"], "Base",
        "one big order is not more than one"
    );
    let second = api
        .order("p", "c", "o2", "2026-03-10T00:00:00Z", "999")
        .await;
    assert_eq!(second["tierAfter"], "Base", "$999 is not a big order");
    let third = api
        .order("p", "c", "o3", "2026-03-20T00:00:00Z", "1000")
        .await;
    assert_eq!(
        third["tierAfter"], "Gold",
        "two big orders, $3,499 in 30 days"
    );
    let status = api.status("p", "c", "2026-03-20T00:00:00Z").await;
    assert_eq!(status["trackers"]["big"], "2");
    assert_eq!(status["trackers"]["spend"], "3499");
    let diamond = &status["progress"][0]["criteria"][0];
    assert_eq!(diamond["remaining"], "5000");
    assert_eq!(
        diamond["needs"],
        "one order of at least 5000; best so far 1500"
    );
}

on_both_engines!(qualifying_orders_strict_thresholds_own_periods_and_calendar_windows);
