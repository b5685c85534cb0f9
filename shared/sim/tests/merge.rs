//! Merging the reports of any split of the customers gives the report of
//! the whole; the orders-file reader refuses hostile lines with their line
//! number and never panics.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use tier_engine::{Order, OrderStatus, Program};
use tier_sim_core::{replay, Action, CustomerHistory, Event, Report, ReportOptions};

fn program(gold: &str) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z", "pointsExpiry": {"months": 6},
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {"criteria": [
                {"id": "spent", "kind": "lifetimePurchases", "min": "300"}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Gold", "earnRate": "0.03", "upgrade": {"criteria": [
                {"id": "spent", "kind": "lifetimePurchases", "min": gold}],
                "condition": "all", "upgradeType": "eager"}}]});
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

fn histories(raw: &[(u8, Vec<(u16, u32)>)]) -> Vec<CustomerHistory> {
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    raw.iter()
        .enumerate()
        .map(|(i, (_, orders))| {
            let customer = format!("c{i:03}");
            let mut h = CustomerHistory {
                customer_id: customer.clone(),
                events: orders
                    .iter()
                    .enumerate()
                    .map(|(k, (day, cents))| {
                        let at = start + Duration::days(i64::from(*day));
                        Event {
                            at,
                            seq: k as u64,
                            action: Action::Order(Order {
                                order_id: format!("o{k}"),
                                customer_id: customer.clone(),
                                placed_at: at,
                                status: OrderStatus::Completed,
                                amount: Decimal::new(i64::from(*cents), 2),
                                gross_amount: None,
                                currency: None,
                                line_items: vec![],
                            }),
                        }
                    })
                    .collect(),
            };
            h.sort();
            h
        })
        .collect()
}

fn report_of(
    hs: &[CustomerHistory],
    options: &ReportOptions,
    current: &Program,
    draft: &Program,
) -> Report {
    let mut report = Report::new(options, current, draft);
    for h in hs {
        let c = replay(current, h, &options.as_of);
        let d = replay(draft, h, &options.as_of);
        report.add(&h.customer_id, h.events.len(), (current, &c), (draft, &d));
    }
    report
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merging_the_reports_of_any_split_gives_the_report_of_the_whole(
        raw in prop::collection::vec((0u8..4, prop::collection::vec((0u16..400, 0u32..60_000), 0..8)), 0..40),
        sample in 0usize..6,
    ) {
        let current = program("1000");
        let draft = program("700");
        let options = ReportOptions {
            as_of: vec!["2026-03-01T00:00:00Z".parse().unwrap(), "2026-09-01T00:00:00Z".parse().unwrap()],
            end: "2027-01-01T00:00:00Z".parse().unwrap(),
            sample,
        };
        let hs = histories(&raw);
        let whole = report_of(&hs, &options, &current, &draft);
        // Each customer goes to the part its first number names.
        let mut merged = Report::new(&options, &current, &draft);
        for part in 0..4u8 {
            let mine: Vec<CustomerHistory> = hs.iter().zip(&raw)
                .filter(|(_, (p, _))| *p == part).map(|(h, _)| h.clone()).collect();
            merged.merge(&report_of(&mine, &options, &current, &draft)).unwrap();
        }
        prop_assert_eq!(&merged, &whole);
        prop_assert_eq!(serde_json::to_string(&merged).unwrap(), serde_json::to_string(&whole).unwrap());
        prop_assert_eq!(whole.movers.higher + whole.movers.lower + whole.movers.unchanged, whole.customers);
    }

    #[test]
    fn hostile_jsonl_lines_are_refused_with_their_line_never_a_panic(
        junk in prop_oneof![
            Just(r#"{"orderId": 5}"#.to_owned()),
            Just(r#"{"orderId":"a","customerId":"c","placedAt":"2026-01-01T00:00:00Z","status":"completed","amount":"1e400"}"#.to_owned()),
            Just(r#"{"orderId":"a","customerId":"c","placedAt":"2026-01-01T00:00:00Z","status":"completed","amount":"1.0000001"}"#.to_owned()),
            Just(r#"{"orderId":"a","customerId":"c","placedAt":"2026-01-01T00:00:00Z","status":"completed","amount":"99999999999999999999"}"#.to_owned()),
            Just(r#"{"orderId":"a","customerId":"c","placedAt":"2300-01-01T00:00:00Z","status":"completed","amount":"1"}"#.to_owned()),
            Just(r#"{"orderId":"a","customerId":"c","placedAt":"yesterday","status":"completed","amount":"1"}"#.to_owned()),
            "[a-z]{129}".prop_map(|id| format!(r#"{{"orderId":"{id}","customerId":"c","placedAt":"2026-01-01T00:00:00Z","status":"completed","amount":"1"}}"#)),
            ".*",
        ],
        good_before in 0usize..3,
    ) {
        let good = r#"{"orderId":"g","customerId":"c","placedAt":"2026-01-01T00:00:00Z","status":"completed","amount":"1"}"#;
        let mut text = String::new();
        for _ in 0..good_before { text.push_str(good); text.push('\n'); }
        text.push_str(&junk);
        let result: Result<Vec<Order>, _> = tier_sim_core::orders::read_jsonl(text.as_bytes()).collect();
        if let Err(e) = result {
            prop_assert_eq!(e.line, good_before as u64 + 1, "{}", e);
        } else {
            // Only blank (or by chance valid) junk passes.
            let ok = junk.trim().is_empty() || junk.trim_start().starts_with('\x7b');
            prop_assert!(ok, "accepted junk");
        }
    }
}

#[test]
fn a_csv_with_line_items_reads_one_order_per_id() {
    let csv = "orderId,customerId,placedAt,status,amount,currency,sku,category,price,quantity\n\
               o1,c,2026-01-01T00:00:00Z,completed,30,USD,s1,shoes,10,1\n\
               o1,c,2026-01-01T00:00:00Z,completed,30,USD,s2,,10,2\n\
               o2,c,2026-01-02T00:00:00Z,pending,5,USD,s3,,5,1\n";
    let orders = tier_sim_core::orders::read_csv(csv.as_bytes()).unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].line_items.len(), 2);
    assert_eq!(orders[0].line_total(Some("shoes")).0, Decimal::from(10));
    let bad = "orderId,customerId,placedAt,status,amount\no1,c,2026-01-01T00:00:00Z,completed,1.1234567\n";
    let e = tier_sim_core::orders::read_csv(bad.as_bytes()).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
}
