//! Config validation reports every problem at once, each with its path.

use serde_json::json;
use tier_engine::*;

fn problems(config: serde_json::Value) -> Vec<(String, &'static str)> {
    let config: ProgramConfig = serde_json::from_value(config).expect("config parses");
    match Program::validate(config) {
        Ok(_) => vec![],
        Err(ps) => ps.into_iter().map(|p| (p.path, p.code)).collect(),
    }
}

fn has(ps: &[(String, &str)], path: &str, code: &str) -> bool {
    ps.iter().any(|(p, c)| p == path && *c == code)
}

#[test]
fn the_issue_example_config_is_valid() {
    let ps = problems(json!({
      "currency": "USD",
      "startDate": "2026-01-01T00:00:00Z",
      "pointsExpiry": {"months": 12},
      "trackers": [
        {"id": "flights", "measure": "visits", "filter": {"category": "flight"}, "period": {"months": 12}},
        {"id": "purchases6m", "measure": "visits", "period": {"months": 6}},
        {"id": "bigOrder", "measure": "billAmount", "aggregate": "max", "period": {"days": 365}}
      ],
      "tiers": [
        {"name": "Silver", "earnRate": "0.10"},
        {"name": "Gold", "earnRate": "0.20", "upgrade": {
          "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": "10000"}],
          "condition": "all", "upgradeType": "lazy"}},
        {"name": "Plus", "earnRate": "0.30", "upgrade": {
          "criteria": [
            {"id": "A", "kind": "currentPoints", "min": "3000"},
            {"id": "B", "kind": "tracker", "tracker": "purchases6m", "min": "5"},
            {"id": "C", "kind": "singleOrder", "min": "1000"}],
          "condition": {"custom": "(A AND B) OR C"}, "upgradeType": "eager"}}
      ]
    }));
    assert_eq!(ps, vec![]);
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let ps = problems(json!({
      "currency": "usd",
      "startDate": "2026-01-01T00:00:00Z",
      "trackers": [
        {"id": "t", "measure": "visits", "period": {"months": 12}},
        {"id": "t", "measure": "billAmount", "period": {"days": 0}}
      ],
      "tiers": [
        {"name": "Base", "earnRate": "0"},
        {"name": "Base", "earnRate": "-1"},
        {"name": "Gold", "earnRate": "0.2", "upgrade": {
          "criteria": [
            {"id": "A", "kind": "tracker", "tracker": "nope", "min": "5"},
            {"id": "A", "kind": "currentPoints", "min": "10"}],
          "condition": {"any": 2}, "upgradeType": "lazy"}},
        {"name": "Plus", "earnRate": "0.3", "upgrade": {
          "criteria": [
            {"id": "A", "kind": "currentPoints", "min": "10"},
            {"id": "B", "kind": "lifetimePoints", "min": "10", "upgradeType": "eager"}],
          "condition": {"custom": "A & B"}, "upgradeType": "lazy"}}
      ]
    }));
    for (path, code) in [
        ("/currency", "invalid_currency"),
        ("/trackers/1/id", "duplicate_id"),
        ("/trackers/1/period", "invalid_period"),
        ("/tiers/0/earnRate", "invalid_earn_rate"),
        ("/tiers/1/name", "duplicate_name"),
        ("/tiers/1/earnRate", "invalid_earn_rate"),
        ("/tiers/1/upgrade", "unreachable_tier"),
        ("/tiers/2/upgrade/criteria/0/tracker", "unknown_tracker"),
        ("/tiers/2/upgrade/criteria/1/id", "duplicate_id"),
        ("/tiers/2/upgrade/condition", "invalid_any"),
        (
            "/tiers/3/upgrade/criteria/1/upgradeType",
            "mixed_upgrade_types",
        ),
        ("/tiers/3/upgrade/condition", "invalid_expression"),
    ] {
        assert!(
            has(&ps, path, code),
            "expected {code} at {path}, got {ps:?}"
        );
    }
}

#[test]
fn a_single_ampersand_is_reported_with_its_position_and_token() {
    let config: ProgramConfig = serde_json::from_value(json!({
      "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
      "tiers": [
        {"name": "Base", "earnRate": "1"},
        {"name": "Plus", "earnRate": "2", "upgrade": {
          "criteria": [
            {"id": "A", "kind": "currentPoints", "min": "10"},
            {"id": "B", "kind": "lifetimePoints", "min": "10"}],
          "condition": {"custom": "(A | B)"}, "upgradeType": "lazy"}}]
    }))
    .unwrap();
    let ps = Program::validate(config).unwrap_err();
    assert_eq!(ps.len(), 1);
    assert!(ps[0].message.contains("position 4"), "{}", ps[0].message);
    assert!(ps[0].message.contains("`|`"), "{}", ps[0].message);
}

#[test]
fn any_must_lie_between_1_and_n_minus_1_and_criteria_are_at_most_three() {
    let rule = |criteria: serde_json::Value, condition: serde_json::Value| {
        json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
          "tiers": [{"name": "B", "earnRate": "1"},
                    {"name": "P", "earnRate": "1", "upgrade": {"criteria": criteria, "condition": condition, "upgradeType": "lazy"}}]})
    };
    let c = |id: &str| json!({"id": id, "kind": "currentPoints", "min": 1});
    assert!(problems(rule(json!([c("A"), c("B")]), json!({"any": 1}))).is_empty());
    assert!(has(
        &problems(rule(json!([c("A"), c("B")]), json!({"any": 2}))),
        "/tiers/1/upgrade/condition",
        "invalid_any"
    ));
    assert!(has(
        &problems(rule(json!([c("A"), c("B")]), json!({"any": 0}))),
        "/tiers/1/upgrade/condition",
        "invalid_any"
    ));
    assert!(has(
        &problems(rule(json!([c("A")]), json!({"any": 1}))),
        "/tiers/1/upgrade/condition",
        "invalid_any"
    ));
    assert!(has(
        &problems(rule(json!([c("A"), c("B"), c("C"), c("D")]), json!("all"))),
        "/tiers/1/upgrade/criteria",
        "too_many_criteria"
    ));
    assert!(has(
        &problems(rule(json!([]), json!("all"))),
        "/tiers/1/upgrade/criteria",
        "unreachable_tier"
    ));
}

#[test]
fn the_base_tier_has_no_upgrade_and_non_increasing_rates_are_allowed() {
    let ps = problems(
        json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
      "tiers": [
        {"name": "B", "earnRate": "0.5", "upgrade": {"criteria": [{"id": "A", "kind": "currentPoints", "min": 1}], "condition": "all", "upgradeType": "lazy"}},
        {"name": "P", "earnRate": "0.1", "upgrade": {"criteria": [{"id": "A", "kind": "currentPoints", "min": 1}], "condition": "all", "upgradeType": "lazy"}}]}),
    );
    assert_eq!(
        ps,
        vec![("/tiers/0/upgrade".to_owned(), "base_tier_upgrade")]
    );
}

#[test]
fn unknown_fields_are_refused_so_typos_do_not_pass_silently() {
    let r: Result<ProgramConfig, _> = serde_json::from_value(
        json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z", "tiers": [], "tier": []}),
    );
    assert!(r.is_err());
}

/// An editor puts its caret where the expression goes wrong.
#[test]
fn an_expression_problem_names_its_character() {
    let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
      "tiers": [{"name": "B", "earnRate": "1"},
                {"name": "P", "earnRate": "1", "upgrade": {
                  "criteria": [{"id": "A", "kind": "currentPoints", "min": 1},
                               {"id": "B", "kind": "currentPoints", "min": 2}],
                  "condition": {"custom": "A AND & B"}, "upgradeType": "lazy"}}]});
    let config: ProgramConfig = serde_json::from_value(config).unwrap();
    let problems = Program::validate(config).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "/tiers/1/upgrade/condition");
    assert_eq!(problems[0].position, Some(7), "{}", problems[0].message);
    let other = &problems[0];
    assert_eq!(serde_json::to_value(other).unwrap()["position"], 7);
}

#[test]
fn a_bad_line_item_is_named_by_its_path_and_field() {
    let order = |items: serde_json::Value| -> Order {
        serde_json::from_value(json!({
            "orderId": "o1", "customerId": "c", "placedAt": "2026-03-01T10:00:00Z",
            "status": "completed", "amount": "10", "lineItems": items
        }))
        .expect("order parses")
    };
    let ok = json!({"sku": "a", "category": "shoes", "price": "5", "quantity": "1"});
    let cases = [
        (
            json!({"sku": "", "price": "5", "quantity": "1"}),
            "lineItems/1/sku",
            false,
        ),
        (
            json!({"sku": "b", "category": "", "price": "5", "quantity": "1"}),
            "lineItems/1/category",
            false,
        ),
        (
            json!({"sku": "b", "price": "-5", "quantity": "1"}),
            "lineItems/1/price",
            false,
        ),
        (
            json!({"sku": "b", "price": "5", "quantity": "0"}),
            "lineItems/1/quantity",
            false,
        ),
        (
            json!({"sku": "b", "price": "5", "quantity": "1000001"}),
            "lineItems/1/quantity",
            true,
        ),
        (
            json!({"sku": "b", "price": "1000000000000001", "quantity": "1"}),
            "lineItems/1/price",
            true,
        ),
    ];
    for (bad, path, out_of_range) in cases {
        let got = order(json!([ok, bad])).check();
        match got {
            Err(EngineError::InvalidInput { field, .. }) if !out_of_range => {
                assert_eq!(field, path)
            }
            Err(EngineError::OutOfRange { field, .. }) if out_of_range => assert_eq!(field, path),
            other => panic!("expected an error about {path}, got {other:?}"),
        }
    }
    assert_eq!(order(json!([ok, ok])).check(), Ok(()));
}

#[test]
fn an_id_is_limited_in_characters_not_bytes() {
    use tier_engine::events::{check_id, MAX_ID_LEN};
    let two_bytes_each = "é".repeat(MAX_ID_LEN);
    assert_eq!(
        check_id("orderId", &two_bytes_each),
        Ok(()),
        "128 characters in 256 bytes"
    );
    assert!(
        check_id("orderId", &"é".repeat(MAX_ID_LEN + 1)).is_err(),
        "129 characters"
    );
    assert!(
        check_id("orderId", &"a".repeat(MAX_ID_LEN + 1)).is_err(),
        "129 bytes"
    );
    assert_eq!(check_id("orderId", &"a".repeat(MAX_ID_LEN)), Ok(()));
}
