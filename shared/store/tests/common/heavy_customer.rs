//! A customer of loadgen's program after many orders: what the state size
//! test and the codec bench measure.

use serde_json::json;
use tier_engine::*;

/// The state of a customer with `per_year` evenly spread orders a year for
/// `years` years, on loadgen's program (12- and 6-month visit trackers, a
/// 365-day `max` of the bill, points expiring after 12 months: after the
/// first year, a lot expires every day).
pub fn state_after(per_year: usize, years: usize) -> CustomerState {
    let config: serde_json::Value =
        serde_json::from_str(include_str!("../../../../tests/loadgen/program.json")).unwrap();
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let start: chrono::DateTime<chrono::Utc> = "2025-11-01T09:00:00Z".parse().unwrap();
    {
        let mut s = CustomerState::new(&p, start);
        let step = 365 * 86_400 / per_year as i64;
        for id in 0..=per_year * years {
            let at = start + chrono::Duration::seconds(step * id as i64);
            let amount = format!("{}.{:02}", 20 + id % 180, id % 100);
            let o: Order = serde_json::from_value(json!({
                "orderId": format!("o{id}"), "customerId": "c",
                "placedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "status": "completed", "amount": amount, "currency": "USD",
                "lineItems": [{"sku": "a", "category": "shirts", "price": amount, "quantity": 1}]
            }))
            .unwrap();
            p.apply_order(&mut s, &o).unwrap();
        }
        s
    }
}
