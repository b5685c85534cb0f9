//! "Why was my customer not upgraded", answered from data: each criterion's
//! truth, the condition written out left to right, and what a past order
//! would have needed. Every smallest amount is checked against the engine
//! itself: an order of that amount upgrades, a cent less does not.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tier_engine::*;

fn program(config: Value) -> Program {
    let config: ProgramConfig = serde_json::from_value(config).expect("config parses");
    Program::validate(config).expect("config is valid")
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn order(id: &str, day: u32, amount: &str, categories: &[&str]) -> Order {
    Order {
        order_id: id.into(),
        customer_id: "c".into(),
        placed_at: at(&format!("2026-03-{day:02}T12:00:00Z")),
        status: OrderStatus::Completed,
        amount: d(amount),
        gross_amount: None,
        currency: None,
        line_items: categories
            .iter()
            .map(|c| LineItem {
                sku: "s".into(),
                price: d(amount),
                quantity: Decimal::ONE,
                category: Some((*c).into()),
            })
            .collect(),
    }
}

fn gold(criteria: Value, condition: Value) -> Program {
    ladder(criteria, condition, true)
}

/// Base, Gold on `criteria`, and (if `diamond`) Diamond at $100,000 bought.
fn ladder(criteria: Value, condition: Value, diamond: bool) -> Program {
    let mut tiers = vec![
        json!({"name": "Base", "earnRate": "0.1"}),
        json!({"name": "Gold", "earnRate": "0.2", "upgrade": {
            "criteria": criteria, "condition": condition, "upgradeType": "lazy"}}),
    ];
    if diamond {
        tiers.push(json!({"name": "Diamond", "earnRate": "0.3", "upgrade": {
            "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": "100000"}],
            "condition": "all", "upgradeType": "lazy"}}));
    }
    program(json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [
            {"id": "visits", "measure": "visits", "period": {"days": 365}},
            {"id": "shoes", "measure": "lineItemPrice", "period": {"days": 365},
             "filter": {"category": "shoes"}}
        ],
        "tiers": tiers
    }))
}

/// Applies the orders in turn; returns the state and their records.
fn history(p: &Program, orders: &[Order]) -> (CustomerState, Vec<OrderRecord>) {
    let mut state = CustomerState::new(p, at("2026-01-01T00:00:00Z"));
    let records = orders
        .iter()
        .map(|o| p.apply_order(&mut state, o).unwrap().record)
        .collect();
    (state, records)
}

/// The tier a customer reaches when the last of `orders` has `amount`.
fn tier_with_last_at(p: &Program, orders: &[Order], amount: Decimal) -> String {
    let mut orders = orders.to_vec();
    let last = orders.last_mut().unwrap();
    // Resized as the explanation resizes an order: its lines in proportion,
    // and a free order's lines as they are (their share of it is unknown).
    if !last.amount.is_zero() {
        for item in &mut last.line_items {
            item.price = item.price * amount / last.amount;
        }
    }
    last.amount = amount;
    let (state, _) = history(p, &orders);
    p.tier_name(state.tier_index(p)).to_owned()
}

#[test]
fn a_customer_sees_each_criterion_and_the_condition_written_out() {
    let p = gold(
        json!([
            {"id": "A", "kind": "lifetimePurchases", "min": "1000"},
            {"id": "B", "kind": "tracker", "tracker": "visits", "min": 3},
            {"id": "C", "kind": "singleOrder", "min": "5000", "op": "gt"}
        ]),
        json!({"custom": "A AND B OR C"}),
    );
    let (state, _) = history(
        &p,
        &[order("o1", 1, "700", &[]), order("o2", 2, "400", &[])],
    );
    let gold = p.tier_to_explain(None, state.tier_index(&p)).unwrap();
    assert_eq!(p.tier_name(gold), "Gold");
    let e = p.explain(&state, gold, at("2026-03-03T00:00:00Z"));
    let truths: Vec<(&str, Decimal, Decimal, bool)> = e
        .criteria
        .iter()
        .map(|c| (c.id.as_str(), c.required, c.actual, c.met))
        .collect();
    assert_eq!(
        truths,
        [
            ("A", d("1000"), d("1100"), true),
            ("B", d("3"), d("2"), false),
            ("C", d("5000"), d("700"), false)
        ]
    );
    assert!(e.criteria[2].strict);
    assert_eq!(e.criteria[1].tracker.as_deref(), Some("visits"));
    assert_eq!(e.condition, "(A AND B) OR C");
    assert_eq!(
        e.evaluation,
        [
            "(A AND B) OR C",
            "(true AND false) OR false",
            "false OR false",
            "false"
        ]
    );
    assert!(!e.qualifies);
}

#[test]
fn tiers_to_explain_are_named_or_the_next_one() {
    let p = gold(
        json!([{"id": "A", "kind": "lifetimePurchases", "min": "1000"}]),
        json!("all"),
    );
    assert_eq!(p.tier_to_explain(Some("Diamond"), 0), Ok(2));
    assert_eq!(
        p.tier_to_explain(Some("Platinum"), 0),
        Err(ExplainError::UnknownTier("Platinum".into()))
    );
    assert_eq!(
        p.tier_to_explain(Some("Base"), 0),
        Err(ExplainError::NoRule("Base".into()))
    );
    assert_eq!(
        p.tier_to_explain(None, 2),
        Err(ExplainError::NoTierAbove("Diamond".into()))
    );
}

#[test]
fn an_order_short_of_the_threshold_needed_the_difference_to_the_cent() {
    let p = gold(
        json!([{"id": "A", "kind": "lifetimePurchases", "min": "1000.01"}]),
        json!("all"),
    );
    let orders = [order("o1", 1, "400", &[]), order("o2", 2, "300", &[])];
    let (_, records) = history(&p, &orders);
    let why = p
        .explain_order(&records[1], &records, &CurrentRulesOnly, None)
        .unwrap();
    assert_eq!(p.tier_name(why.tier_before), "Base");
    assert_eq!(p.tier_name(why.explanation.tier), "Gold");
    assert_eq!(why.explanation.criteria[0].actual, d("700"));
    assert_eq!(why.explanation.evaluation, ["A", "false"]);
    assert_eq!(
        why.needed,
        Needed::Amount {
            smallest: d("600.01"),
            extra: d("300.01")
        }
    );
    assert_eq!(tier_with_last_at(&p, &orders, d("600.01")), "Gold");
    assert_eq!(tier_with_last_at(&p, &orders, d("600.00")), "Base");
}

#[test]
fn points_criteria_need_the_amount_that_earns_the_points_at_the_held_rate() {
    let p = gold(
        json!([{"id": "P", "kind": "currentPoints", "min": "100"}]),
        json!("all"),
    );
    let orders = [order("o1", 1, "500", &[]), order("o2", 2, "100", &[])];
    let (_, records) = history(&p, &orders);
    let why = p
        .explain_order(&records[1], &records, &CurrentRulesOnly, Some("Gold"))
        .unwrap();
    // 50 points so far at 0.1 a dollar: 50 more need $500 (rounding to
    // cents lets $499.95 earn 49.995 -> 50.00 points).
    let Needed::Amount { smallest, .. } = why.needed else {
        panic!("an amount helps: {:?}", why.needed)
    };
    assert_eq!(smallest, d("499.95"));
    assert_eq!(tier_with_last_at(&p, &orders, smallest), "Gold");
    assert_eq!(tier_with_last_at(&p, &orders, d("499.94")), "Base");
}

#[test]
fn visits_and_categories_are_why_no_amount_could() {
    let p = gold(
        json!([
            {"id": "V", "kind": "tracker", "tracker": "visits", "min": 5},
            {"id": "S", "kind": "tracker", "tracker": "shoes", "min": "200"},
            {"id": "A", "kind": "lifetimePurchases", "min": "1000"}
        ]),
        json!("all"),
    );
    let orders = [
        order("o1", 1, "50", &["shoes"]),
        order("o2", 2, "80", &["hats"]),
    ];
    let (_, records) = history(&p, &orders);
    let why = p
        .explain_order(&records[1], &records, &CurrentRulesOnly, None)
        .unwrap();
    let Needed::NoAmount { reasons } = why.needed else {
        panic!("no amount helps: {:?}", why.needed)
    };
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("V: tracker `visits` counts visits (2 of 5"));
    assert!(reasons[1].contains("category `shoes`"), "{}", reasons[1]);
}

#[test]
fn the_upgrading_order_met_it_and_a_lower_tier_was_held_before() {
    let p = gold(
        json!([{"id": "A", "kind": "lifetimePurchases", "min": "1000"}]),
        json!("all"),
    );
    let orders = [order("o1", 1, "1200", &[]), order("o2", 2, "10", &[])];
    let (_, records) = history(&p, &orders);
    let first = p
        .explain_order(&records[0], &records, &CurrentRulesOnly, None)
        .unwrap();
    assert_eq!(first.needed, Needed::Met);
    assert!(first.explanation.qualifies);
    let second = p
        .explain_order(&records[1], &records, &CurrentRulesOnly, Some("Gold"))
        .unwrap();
    assert_eq!(second.needed, Needed::HeldBefore);
    let diamond = p
        .explain_order(&records[1], &records, &CurrentRulesOnly, None)
        .unwrap();
    assert_eq!(p.tier_name(diamond.explanation.tier), "Diamond");
    assert_eq!(
        diamond.needed,
        Needed::Amount {
            smallest: d("98800"),
            extra: d("98790")
        }
    );
}

#[test]
fn earlier_orders_count_for_what_remains_of_them() {
    let p = gold(
        json!([{"id": "A", "kind": "lifetimePurchases", "min": "1000"}]),
        json!("all"),
    );
    let orders = [order("o1", 1, "900", &[]), order("o2", 2, "50", &[])];
    let (mut state, mut records) = history(&p, &orders);
    let ret = Return {
        return_id: "r1".into(),
        order_id: "o1".into(),
        customer_id: "c".into(),
        returned_at: at("2026-03-05T00:00:00Z"),
        amount: Some(d("400")),
    };
    let all = records.clone();
    let applied = p
        .apply_return_judged(
            &mut state,
            &mut records[0],
            &ret,
            &ReturnHistory {
                orders: &all,
                rules: &CurrentRulesOnly,
            },
        )
        .unwrap();
    assert!(applied.downgrades.is_empty());
    let why = p
        .explain_order(&records[1], &records, &CurrentRulesOnly, None)
        .unwrap();
    assert_eq!(
        why.needed,
        Needed::Amount {
            smallest: d("500"),
            extra: d("450")
        }
    );
}

mod random {
    use super::*;
    use proptest::prelude::*;

    fn criterion() -> impl Strategy<Value = Value> {
        prop_oneof![
            (1u32..3000).prop_map(|m| json!({"kind": "lifetimePurchases", "min": m.to_string()})),
            (1u32..300).prop_map(|m| json!({"kind": "currentPoints", "min": m.to_string()})),
            (1u32..6).prop_map(|m| json!({"kind": "tracker", "tracker": "visits", "min": m})),
            (1u32..900)
                .prop_map(|m| json!({"kind": "tracker", "tracker": "shoes", "min": m.to_string()})),
            (1u32..2000)
                .prop_map(|m| json!({"kind": "singleOrder", "min": m.to_string(), "op": "gt"})),
        ]
    }

    fn amount() -> impl Strategy<Value = String> {
        (0u32..80_000).prop_map(|cents| format!("{}.{:02}", cents / 100, cents % 100))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the criteria and history: the order resized to the
        /// smallest amount named reaches the tier, a cent less does not;
        /// "no amount" means the largest accepted does not either; "met"
        /// means the order as placed did.
        #[test]
        fn the_smallest_amount_is_exactly_what_the_engine_needs(
            criteria in prop::collection::vec(criterion(), 1..=3),
            any in any::<bool>(),
            amounts in prop::collection::vec((amount(), any::<bool>()), 1..6),
        ) {
            let criteria: Vec<Value> = criteria
                .into_iter()
                .zip(["A", "B", "C"])
                .map(|(mut c, id)| { c["id"] = json!(id); c })
                .collect();
            let condition = if any && criteria.len() > 1 { json!({"any": 1}) } else { json!("all") };
            // Without a tier above Gold, reaching a tier is meeting Gold's
            // condition.
            let p = ladder(Value::Array(criteria), condition, false);
            let orders: Vec<Order> = amounts
                .iter()
                .enumerate()
                .map(|(i, (a, shoes))| {
                    let id = format!("o{i}");
                    order(&id, i as u32 + 1, a, if *shoes { &["shoes"] } else { &[] })
                })
                .collect();
            let (_, records) = history(&p, &orders);
            let last = records.last().unwrap();
            let why = p.explain_order(last, &records, &CurrentRulesOnly, Some("Gold")).unwrap();
            let reached = |amount: Decimal| {
                let tier = tier_with_last_at(&p, &orders, amount);
                p.tier_index(&tier).unwrap() >= 1
            };
            match why.needed {
                Needed::HeldBefore => prop_assert!(why.tier_before >= 1),
                Needed::Met => {
                    prop_assert!(why.explanation.qualifies);
                    prop_assert!(reached(last.amount));
                }
                Needed::Amount { smallest, extra } => {
                    prop_assert_eq!(extra, smallest - last.amount);
                    prop_assert!(!why.explanation.qualifies);
                    prop_assert!(reached(smallest), "not reached at {}", smallest);
                    prop_assert!(!reached(smallest - d("0.01")), "reached below {}", smallest);
                }
                Needed::NoAmount { reasons } => {
                    prop_assert!(!reasons.is_empty());
                    prop_assert!(!reached(Decimal::from(tier_engine::events::MAX_FIGURE)));
                }
            }
        }
    }
}
