//! Every example of the two product references (`shared/reference/`), with
//! their exact numbers.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use tier_engine::*;

mod common;
use common::{at, d, order};

fn program(config: serde_json::Value) -> Program {
    let config: ProgramConfig = serde_json::from_value(config).expect("config parses");
    Program::validate(config).expect("config is valid")
}

fn with_items(mut o: Order, items: &[(&str, &str)]) -> Order {
    o.line_items = items
        .iter()
        .enumerate()
        .map(|(i, (category, price))| LineItem {
            sku: format!("sku{i}"),
            category: Some((*category).into()),
            price: d(price),
            quantity: Decimal::ONE,
        })
        .collect();
    o
}

fn whole_return(id: &str, order_id: &str, returned_at: DateTime<Utc>) -> Return {
    Return {
        return_id: id.into(),
        order_id: order_id.into(),
        customer_id: "c1".into(),
        returned_at,
        amount: None,
    }
}

fn tier_of(p: &Program, s: &CustomerState) -> String {
    p.tier_name(s.tier_index(p)).to_owned()
}

// ---------------------------------------------------------------- Ako

fn ako_silver() -> Program {
    program(json!({
        "currency": "USD",
        "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {
                "criteria": [
                    {"id": "entryGoal", "kind": "lifetimePurchases", "min": 3000},
                    {"id": "singleOrder", "kind": "singleOrder", "min": 1500}],
                "condition": {"any": 1}, "upgradeType": "lazy"}}
        ]
    }))
}

#[test]
fn ako_silver_is_reached_by_spending_3000_across_several_orders() {
    let p = ako_silver();
    let mut s = CustomerState::new(&p, at("2026-02-01T00:00:00Z"));
    for (i, amount) in ["1000", "1000"].iter().enumerate() {
        let r = p
            .apply_order(
                &mut s,
                &order(&format!("o{i}"), at("2026-02-02T10:00:00Z"), amount),
            )
            .unwrap();
        assert!(
            r.decision.upgrades.is_empty(),
            "2000 of 3000 spent must not upgrade"
        );
    }
    let third = p
        .apply_order(&mut s, &order("o3", at("2026-02-03T10:00:00Z"), "1000"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Silver",
        "3000 since the start date reaches the entry goal"
    );
    assert_eq!(third.decision.upgrades.len(), 1);
    assert_eq!(
        third.decision.upgrades[0].met, 0b01,
        "the entry goal held, not the single order"
    );
}

#[test]
fn ako_silver_is_reached_at_once_by_one_order_of_1500() {
    let p = ako_silver();
    let mut s = CustomerState::new(&p, at("2026-02-01T00:00:00Z"));
    let r = p
        .apply_order(&mut s, &order("big", at("2026-02-02T10:00:00Z"), "1500"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Silver",
        "one order of exactly 1500 qualifies (inclusive)"
    );
    assert_eq!(r.decision.upgrades[0].met, 0b10);
    assert_eq!(
        s.lifetime_purchases,
        d("1500"),
        "the entry goal is still 1500 short"
    );
}

#[test]
fn ako_an_order_of_1499_99_alone_does_not_qualify_but_the_entry_goal_still_can() {
    let p = ako_silver();
    let mut s = CustomerState::new(&p, at("2026-02-01T00:00:00Z"));
    p.apply_order(&mut s, &order("a", at("2026-02-02T10:00:00Z"), "1499.99"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Member");
    p.apply_order(&mut s, &order("b", at("2026-02-03T10:00:00Z"), "1500.01"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Silver",
        "whichever requirement is met first upgrades"
    );
}

#[test]
fn ako_spending_before_the_start_date_does_not_count_toward_the_entry_goal() {
    let p = ako_silver();
    let mut s = CustomerState::new(&p, at("2025-12-01T00:00:00Z"));
    p.apply_order(&mut s, &order("old", at("2025-12-15T10:00:00Z"), "2999"))
        .unwrap();
    assert_eq!(s.lifetime_purchases, d("0"));
    p.apply_order(&mut s, &order("new", at("2026-01-02T10:00:00Z"), "1000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Member", "only 1000 since the start date");
}

#[test]
fn ako_changes_apply_to_future_qualification_and_keep_upgraded_customers() {
    let p = ako_silver();
    let mut s = CustomerState::new(&p, at("2026-02-01T00:00:00Z"));
    p.apply_order(&mut s, &order("big", at("2026-02-02T10:00:00Z"), "1500"))
        .unwrap();
    let raised = program(json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "0.01"},
            {"name": "Silver", "earnRate": "0.02", "upgrade": {
                "criteria": [{"id": "singleOrder", "kind": "singleOrder", "min": 5000}],
                "condition": "all", "upgradeType": "lazy"}}]
    }));
    raised
        .apply_order(&mut s, &order("small", at("2026-03-02T10:00:00Z"), "10"))
        .unwrap();
    assert_eq!(
        tier_of(&raised, &s),
        "Silver",
        "a customer already upgraded keeps the tier"
    );
}

// ---------------------------------------------------------- Capillary criteria

fn one_criterion(kind: &str, min: &str) -> Program {
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "tiers": [
            {"name": "Base", "earnRate": "1"},
            {"name": "Higher", "earnRate": "1", "upgrade": {
                "criteria": [{"id": "A", "kind": kind, "min": min}],
                "condition": "all", "upgradeType": "lazy"}}]
    }))
}

fn progress_of(p: &Program, s: &CustomerState) -> CriterionProgress {
    p.status(s, at("2026-06-01T00:00:00Z")).progress[0].criteria[0].clone()
}

#[test]
fn capillary_current_points_900_of_1000_leaves_100() {
    let p = one_criterion("currentPoints", "1000");
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    s.current_points = d("900");
    let c = progress_of(&p, &s);
    assert_eq!(
        (c.required, c.actual, c.remaining, c.met),
        (d("1000"), d("900"), d("100"), false)
    );
    p.apply_order(&mut s, &order("o", at("2026-06-01T00:00:00Z"), "100"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Higher",
        "earning 100 more active points upgrades"
    );
}

#[test]
fn capillary_lifetime_points_3500_of_5000_leaves_1500() {
    let p = one_criterion("lifetimePoints", "5000");
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    s.lifetime_points = d("3500");
    let c = progress_of(&p, &s);
    assert_eq!((c.actual, c.remaining), (d("3500"), d("1500")));
    p.apply_order(&mut s, &order("o", at("2026-06-01T00:00:00Z"), "1499"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Base");
    p.apply_order(&mut s, &order("o2", at("2026-06-01T00:00:00Z"), "1"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Higher",
        "reaching 5000 lifetime points upgrades"
    );
}

#[test]
fn capillary_lifetime_purchases_4000_of_5000_leaves_1000() {
    let p = one_criterion("lifetimePurchases", "5000");
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o", at("2026-02-01T00:00:00Z"), "4000"))
        .unwrap();
    let c = progress_of(&p, &s);
    assert_eq!((c.actual, c.remaining), (d("4000"), d("1000")));
    p.apply_order(&mut s, &order("o2", at("2026-03-01T00:00:00Z"), "1000"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Higher",
        "a purchase of at least 1000 more upgrades"
    );
}

fn visit_program() -> Program {
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "visits", "measure": "visits", "period": {"months": 12}}],
        "tiers": [
            {"name": "Regular", "earnRate": "0.1"},
            {"name": "Frequent", "earnRate": "0.2", "upgrade": {
                "criteria": [{"id": "A", "kind": "tracker", "tracker": "visits", "min": 5}],
                "condition": "all", "upgradeType": "lazy"}}]
    }))
}

#[test]
fn capillary_four_visits_in_ten_months_need_one_more_within_twelve() {
    let p = visit_program();
    let start = at("2026-01-10T12:00:00Z");
    let mut s = CustomerState::new(&p, start);
    for i in 0..4 {
        let placed = start + Duration::days(i * 75); // four visits over ~7.5 of 10 months
        p.apply_order(&mut s, &order(&format!("v{i}"), placed, "50"))
            .unwrap();
    }
    let status = p.status(&s, at("2026-11-10T12:00:00Z"));
    let c = &status.progress[0].criteria[0];
    assert_eq!(
        (c.actual, c.required, c.remaining),
        (d("4"), d("5"), d("1"))
    );
    assert_eq!(status.trackers, vec![("visits".to_owned(), d("4"))]);
    // Two months later the first visit has left the 12-month window.
    let later = p.status(&s, at("2027-01-11T12:00:00Z"));
    assert_eq!(later.trackers[0].1, d("3"));
}

#[test]
fn capillary_returning_the_fifth_visit_reverses_the_upgrade() {
    let p = visit_program();
    let start = at("2026-01-10T12:00:00Z");
    let mut s = CustomerState::new(&p, start);
    for i in 0..4 {
        p.apply_order(
            &mut s,
            &order(&format!("v{i}"), start + Duration::days(i * 60), "50"),
        )
        .unwrap();
    }
    assert_eq!(tier_of(&p, &s), "Regular");
    let fifth = p
        .apply_order(&mut s, &order("v5", at("2026-11-01T12:00:00Z"), "50"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Frequent", "the fifth visit upgrades");
    let mut record = fifth.record;
    let back = p
        .apply_return(
            &mut s,
            &mut record,
            &whole_return("r5", "v5", at("2026-11-05T12:00:00Z")),
            &[],
        )
        .unwrap();
    assert_eq!(
        p.status(&s, at("2026-11-05T12:00:00Z")).trackers[0].1,
        d("4"),
        "back to four visits"
    );
    assert_eq!(
        tier_of(&p, &s),
        "Regular",
        "downgraded to the previous tier"
    );
    let down = back.downgrade.expect("a downgrade");
    assert_eq!(
        (p.tier_name(down.from), p.tier_name(down.to)),
        ("Frequent", "Regular")
    );
}

// ------------------------------------------------------ Capillary conditions

fn travel() -> Program {
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [
            {"id": "flights", "measure": "visits", "filter": {"category": "flight"}, "period": {"months": 12}},
            {"id": "hotels", "measure": "visits", "filter": {"category": "partnerHotel"}, "period": {"months": 12}}],
        "tiers": [
            {"name": "Gold", "earnRate": "0.05"},
            {"name": "Platinum", "earnRate": "0.1", "upgrade": {
                "criteria": [
                    {"id": "A", "kind": "lifetimePoints", "min": 1500},
                    {"id": "B", "kind": "tracker", "tracker": "flights", "min": 5},
                    {"id": "C", "kind": "tracker", "tracker": "hotels", "min": 3}],
                "condition": {"any": 1}, "upgradeType": "eager"}}]
    }))
}

#[test]
fn capillary_travel_any_1_five_flights_alone_reach_platinum() {
    let p = travel();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    for i in 0..4 {
        let o = with_items(
            order(
                &format!("f{i}"),
                at("2026-03-01T00:00:00Z") + Duration::days(i * 20),
                "200",
            ),
            &[("flight", "200")],
        );
        p.apply_order(&mut s, &o).unwrap();
    }
    assert_eq!(
        tier_of(&p, &s),
        "Gold",
        "four flights, 40 points, no hotel: nothing met"
    );
    let fifth = with_items(
        order("f5", at("2026-06-01T00:00:00Z"), "200"),
        &[("flight", "200")],
    );
    let r = p.apply_order(&mut s, &fifth).unwrap();
    assert_eq!(tier_of(&p, &s), "Platinum");
    assert_eq!(
        r.decision.upgrades[0].met, 0b010,
        "only the flights criterion held"
    );
}

#[test]
fn capillary_travel_any_1_three_hotel_stays_or_1500_points_also_suffice() {
    let p = travel();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    for i in 0..3 {
        let o = with_items(
            order(&format!("h{i}"), at("2026-03-01T00:00:00Z"), "100"),
            &[("partnerHotel", "100")],
        );
        p.apply_order(&mut s, &o).unwrap();
    }
    assert_eq!(tier_of(&p, &s), "Platinum", "three partner hotel stays");
    let mut rich = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    rich.lifetime_points = d("1490");
    p.apply_order(&mut rich, &order("car", at("2026-03-01T00:00:00Z"), "200"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &rich),
        "Platinum",
        "1490 + 10 points = 1500 lifetime points"
    );
}

fn gym() -> Program {
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [
            {"id": "workouts", "measure": "visits", "filter": {"category": "workout"}, "period": {"months": 3}},
            {"id": "accessories", "measure": "lineItemPrice", "filter": {"category": "accessory"}, "period": {"months": 3}}],
        "tiers": [
            {"name": "Pro", "earnRate": "1"},
            {"name": "Elite", "earnRate": "1.5", "upgrade": {
                "criteria": [{"id": "A", "kind": "currentPoints", "min": 500}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Ultimate", "earnRate": "2", "upgrade": {
                "criteria": [
                    {"id": "A", "kind": "currentPoints", "min": 2000},
                    {"id": "B", "kind": "tracker", "tracker": "workouts", "min": 15},
                    {"id": "C", "kind": "tracker", "tracker": "accessories", "min": 500}],
                "condition": "all", "upgradeType": "lazy"}}]
    }))
}

#[test]
fn capillary_gym_all_needs_points_workouts_and_accessories_together() {
    let p = gym();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    s.current_points = d("2500");
    s.tier = "Elite".into();
    let day0 = at("2026-04-01T07:00:00Z");
    for i in 0..15 {
        let o = with_items(
            order(&format!("w{i}"), day0 + Duration::days(i * 5), "10"),
            &[("workout", "10")],
        );
        p.apply_order(&mut s, &o).unwrap();
    }
    assert_eq!(
        tier_of(&p, &s),
        "Elite",
        "points and workouts met, accessories (0 of 500) not"
    );
    let status = p.status(&s, day0 + Duration::days(75));
    let c = &status.progress[0].criteria[2];
    assert_eq!((c.actual, c.remaining), (d("0"), d("500")));
    let gear = with_items(
        order("gear", day0 + Duration::days(76), "520"),
        &[("accessory", "499"), ("drink", "21")],
    );
    p.apply_order(&mut s, &gear).unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Elite",
        "499 of accessories is one short of 500"
    );
    let more = with_items(
        order("gear2", day0 + Duration::days(77), "1"),
        &[("accessory", "1")],
    );
    p.apply_order(&mut s, &more).unwrap();
    assert_eq!(tier_of(&p, &s), "Ultimate", "all three criteria hold");
}

fn ecommerce() -> Program {
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "trackers": [{"id": "purchases6m", "measure": "visits", "period": {"months": 6}}],
        "tiers": [
            {"name": "Standard", "earnRate": "1"},
            {"name": "Plus", "earnRate": "2", "upgrade": {
                "criteria": [
                    {"id": "A", "kind": "currentPoints", "min": 3000},
                    {"id": "B", "kind": "tracker", "tracker": "purchases6m", "min": 5},
                    {"id": "C", "kind": "singleOrder", "min": 1000}],
                "condition": {"custom": "(A AND B) OR C"}, "upgradeType": "eager"}}]
    }))
}

#[test]
fn capillary_ecommerce_custom_a_and_b_qualifies() {
    let p = ecommerce();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    for i in 0..4 {
        p.apply_order(
            &mut s,
            &order(
                &format!("o{i}"),
                at("2026-02-01T00:00:00Z") + Duration::days(i * 10),
                "700",
            ),
        )
        .unwrap();
    }
    assert_eq!(s.current_points, d("2800"));
    assert_eq!(
        tier_of(&p, &s),
        "Standard",
        "2800 points and four purchases: neither A nor B"
    );
    p.apply_order(&mut s, &order("o5", at("2026-03-15T00:00:00Z"), "200"))
        .unwrap();
    assert_eq!(
        tier_of(&p, &s),
        "Plus",
        "3000 points and five purchases in six months"
    );
}

#[test]
fn capillary_ecommerce_custom_c_alone_qualifies_and_a_alone_does_not() {
    let p = ecommerce();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    s.current_points = d("5000");
    p.apply_order(
        &mut s,
        &order("small", at("2026-02-01T00:00:00Z"), "999.99"),
    )
    .unwrap();
    assert_eq!(tier_of(&p, &s), "Standard", "A without B does not qualify");
    let r = p
        .apply_order(&mut s, &order("big", at("2026-02-02T00:00:00Z"), "1000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Plus", "one transaction of 1000 is C");
    assert_eq!(
        r.decision.points,
        d("2000"),
        "eager: the whole order at Plus's rate"
    );
}

#[test]
fn capillary_expressions_are_read_left_to_right() {
    // A OR B AND C is (A OR B) AND C: with only A met (5000 points, one purchase,
    // a small order) the customer must not qualify, as conventional precedence would say.
    let mut config: serde_json::Value = serde_json::to_value(ecommerce().config()).unwrap();
    config["tiers"][1]["upgrade"]["condition"] = json!({"custom": "A OR B AND C"});
    let p = program(config);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    s.current_points = d("5000");
    p.apply_order(&mut s, &order("small", at("2026-02-01T00:00:00Z"), "10"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Standard");
    p.apply_order(&mut s, &order("big", at("2026-02-01T00:00:00Z"), "1000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Plus", "A and C met: (A OR B) AND C holds");
}

// ------------------------------------------------------ Capillary upgrade types

fn silver_gold_diamond(kind: &str) -> Program {
    program(json!({
        "currency": "USD", "startDate": "2020-01-01T00:00:00Z",
        "tiers": [
            {"name": "Silver", "earnRate": "0.10"},
            {"name": "Gold", "earnRate": "0.20", "upgrade": {
                "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 10000}],
                "condition": "all", "upgradeType": kind}},
            {"name": "Diamond", "earnRate": "0.30", "upgrade": {
                "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 15000}],
                "condition": "all", "upgradeType": kind}}]
    }))
}

fn gold_at_14000(p: &Program) -> CustomerState {
    let mut s = CustomerState::new(p, at("2026-01-01T00:00:00Z"));
    s.tier = "Gold".into();
    s.lifetime_purchases = d("14000");
    s
}

fn segments(p: &Program, r: &AppliedOrder) -> Vec<(String, Decimal, Decimal)> {
    r.decision
        .segments
        .iter()
        .map(|g| (p.tier_name(g.tier).to_owned(), g.amount, g.points))
        .collect()
}

#[test]
fn capillary_lazy_awards_400_at_gold_then_upgrades() {
    let p = silver_gold_diamond("lazy");
    let mut s = gold_at_14000(&p);
    let r = p
        .apply_order(&mut s, &order("o", at("2026-05-01T00:00:00Z"), "2000"))
        .unwrap();
    assert_eq!(segments(&p, &r), vec![("Gold".into(), d("2000"), d("400"))]);
    assert_eq!(tier_of(&p, &s), "Diamond");
}

#[test]
fn capillary_eager_upgrades_then_awards_600_at_diamond() {
    let p = silver_gold_diamond("eager");
    let mut s = gold_at_14000(&p);
    let r = p
        .apply_order(&mut s, &order("o", at("2026-05-01T00:00:00Z"), "2000"))
        .unwrap();
    assert_eq!(
        segments(&p, &r),
        vec![("Diamond".into(), d("2000"), d("600"))]
    );
    assert_eq!(tier_of(&p, &s), "Diamond");
}

#[test]
fn capillary_dynamic_awards_200_for_the_first_1000_and_300_for_the_rest() {
    let p = silver_gold_diamond("dynamic");
    let mut s = gold_at_14000(&p);
    let r = p
        .apply_order(&mut s, &order("o", at("2026-05-01T00:00:00Z"), "2000"))
        .unwrap();
    assert_eq!(
        segments(&p, &r),
        vec![
            ("Gold".into(), d("1000"), d("200")),
            ("Diamond".into(), d("1000"), d("300"))
        ]
    );
    assert_eq!(r.decision.points, d("500"));
    assert_eq!(tier_of(&p, &s), "Diamond");
}

#[test]
fn dynamic_splits_one_order_across_two_thresholds() {
    let p = silver_gold_diamond("dynamic");
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    s.lifetime_purchases = d("9000");
    let r = p
        .apply_order(&mut s, &order("o", at("2026-05-01T00:00:00Z"), "7000"))
        .unwrap();
    assert_eq!(
        segments(&p, &r),
        vec![
            ("Silver".into(), d("1000"), d("100")),
            ("Gold".into(), d("5000"), d("1000")),
            ("Diamond".into(), d("1000"), d("300"))
        ]
    );
    let path: Vec<_> = r
        .decision
        .upgrades
        .iter()
        .map(|u| (p.tier_name(u.from), p.tier_name(u.to)))
        .collect();
    assert_eq!(path, vec![("Silver", "Gold"), ("Gold", "Diamond")]);
}

#[test]
fn lazy_and_eager_skip_straight_to_the_highest_tier_that_holds() {
    for (kind, expected) in [("lazy", "800"), ("eager", "2400")] {
        let p = silver_gold_diamond(kind);
        let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
        let r = p
            .apply_order(&mut s, &order("o", at("2026-05-01T00:00:00Z"), "7000"))
            .unwrap();
        assert_eq!(
            r.decision.points,
            d("700"),
            "{kind}: no threshold crossed at 7000"
        );
        let r = p
            .apply_order(&mut s, &order("o2", at("2026-05-01T00:00:00Z"), "8000"))
            .unwrap();
        assert_eq!(
            r.decision.points,
            d(expected),
            "{kind}: 8000 crossing Gold and Diamond"
        );
        assert_eq!(
            r.decision.upgrades.len(),
            1,
            "{kind}: one upgrade from Silver to Diamond"
        );
        assert_eq!(tier_of(&p, &s), "Diamond");
    }
}

#[test]
fn returning_the_order_that_crossed_into_diamond_lands_on_the_highest_tier_still_held() {
    let p = silver_gold_diamond("lazy");
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("a", at("2026-02-01T00:00:00Z"), "9000"))
        .unwrap();
    let crossing = p
        .apply_order(&mut s, &order("b", at("2026-03-01T00:00:00Z"), "6000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Diamond");
    let mut record = crossing.record;
    let partial = Return {
        amount: Some(d("4000")),
        ..whole_return("r1", "b", at("2026-03-05T00:00:00Z"))
    };
    let r = p.apply_return(&mut s, &mut record, &partial, &[]).unwrap();
    assert_eq!(s.lifetime_purchases, d("11000"));
    assert_eq!(
        tier_of(&p, &s),
        "Gold",
        "11000 still holds Gold, not Diamond"
    );
    assert_eq!(
        r.points_reversed,
        d("400"),
        "4000 of 6000 returned takes back 2/3 of 600 points"
    );
    let err = p.apply_return(
        &mut s,
        &mut record,
        &Return {
            amount: Some(d("2000.01")),
            ..whole_return("r2", "b", at("2026-03-06T00:00:00Z"))
        },
        &[],
    );
    assert!(matches!(
        err,
        Err(EngineError::ReturnExceedsRemaining { .. })
    ));
}

#[test]
fn redemptions_spend_current_points_but_never_below_zero() {
    let p = silver_gold_diamond("lazy");
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("a", at("2026-02-01T00:00:00Z"), "1000"))
        .unwrap();
    let spend = |points: &str| Redemption {
        redemption_id: "r".into(),
        points: d(points),
        at: at("2026-02-02T00:00:00Z"),
    };
    assert!(matches!(
        p.redeem(&mut s, &spend("100.01")),
        Err(EngineError::InsufficientPoints { .. })
    ));
    p.redeem(&mut s, &spend("60")).unwrap();
    assert_eq!((s.current_points, s.lifetime_points), (d("40"), d("100")));
}

#[test]
fn points_expire_oldest_first_after_the_expiry_period_and_twice_is_once() {
    let mut config = serde_json::to_value(silver_gold_diamond("lazy").config()).unwrap();
    config["pointsExpiry"] = json!({"months": 12});
    let p = program(config);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("a", at("2026-02-01T00:00:00Z"), "1000"))
        .unwrap();
    p.apply_order(&mut s, &order("b", at("2026-06-01T00:00:00Z"), "500"))
        .unwrap();
    assert_eq!(p.next_expiry(&s).unwrap().to_string(), "2027-02-01");
    assert!(!p.expire(&mut s, at("2027-01-31T23:59:59Z")).changed());
    let first = p.expire(&mut s, at("2027-02-01T00:00:00Z"));
    assert_eq!(first.points, d("100"));
    let after_once = s.clone();
    assert!(!p.expire(&mut s, at("2027-02-01T00:00:00Z")).changed());
    assert_eq!(s, after_once);
    assert_eq!((s.current_points, s.lifetime_points), (d("50"), d("150")));
}

#[test]
fn a_tracker_added_to_a_live_program_counts_earlier_orders() {
    let p = one_criterion("lifetimePurchases", "999999");
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    let mut history = Vec::new();
    for i in 0..4 {
        history.push(
            p.apply_order(
                &mut s,
                &order(&format!("o{i}"), at("2026-03-01T00:00:00Z"), "10"),
            )
            .unwrap()
            .record,
        );
    }
    let p2 = visit_program();
    s.tier = "Regular".into();
    let missing = s.align(&p2);
    assert_eq!(missing, vec![0]);
    for t in missing {
        p2.rebuild_tracker(&mut s, t, &history, at("2026-04-01T00:00:00Z"));
    }
    p2.apply_order(&mut s, &order("fifth", at("2026-04-01T00:00:00Z"), "10"))
        .unwrap();
    assert_eq!(
        tier_of(&p2, &s),
        "Frequent",
        "four earlier visits + this one = 5"
    );
}

/// The dynamic split on a points threshold lands on the exact cent: Silver
/// earns 10 %, Gold needs 1,000 current points, the customer holds 900 and
/// orders $2,000: $1,000 at Silver (100 points) and $1,000 at Gold (200).
#[test]
fn dynamic_split_on_a_points_threshold_lands_on_the_exact_cent() {
    let p = program(json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Silver", "earnRate": "0.10"},
            {"name": "Gold", "earnRate": "0.20", "upgrade": {
                "criteria": [{"id": "P", "kind": "currentPoints", "min": "1000"}],
                "condition": "all", "upgradeType": "dynamic"}}]
    }));
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    let first = p
        .apply_order(&mut s, &order("o1", at("2026-01-02T00:00:00Z"), "9000"))
        .unwrap();
    assert_eq!(first.decision.points, d("900"));
    assert_eq!(tier_of(&p, &s), "Silver");
    let second = p
        .apply_order(&mut s, &order("o2", at("2026-01-03T00:00:00Z"), "2000"))
        .unwrap();
    let segments: Vec<(String, Decimal, Decimal)> = second
        .decision
        .segments
        .iter()
        .map(|seg| (p.tier_name(seg.tier).to_owned(), seg.amount, seg.points))
        .collect();
    assert_eq!(
        segments,
        vec![
            ("Silver".to_owned(), d("1000"), d("100")),
            ("Gold".to_owned(), d("1000"), d("200"))
        ]
    );
    assert_eq!(second.decision.points, d("300"));
    assert_eq!(tier_of(&p, &s), "Gold");
}

fn ladder() -> Program {
    program(json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Silver", "earnRate": "0.01"},
            {"name": "Gold", "earnRate": "0.02", "upgrade": {
                "criteria": [{"id": "P", "kind": "lifetimePurchases", "min": "10000"}],
                "condition": "all", "upgradeType": "lazy"}},
            {"name": "Diamond", "earnRate": "0.03", "upgrade": {
                "criteria": [{"id": "P", "kind": "lifetimePurchases", "min": "15000"}],
                "condition": "all", "upgradeType": "lazy"}}]
    }))
}

/// Applies a return judged against every order placed so far.
fn judged_return(
    p: &Program,
    s: &mut CustomerState,
    records: &mut [OrderRecord],
    index: usize,
    ret: &Return,
) -> AppliedReturn {
    let all = records.to_vec();
    let history = ReturnHistory {
        orders: &all,
        rules: &CurrentRulesOnly,
    };
    p.apply_return_judged(s, &mut records[index], ret, &history)
        .unwrap()
}

fn names(p: &Program, downs: &[Downgrade]) -> Vec<(String, String)> {
    downs
        .iter()
        .map(|d| (p.tier_name(d.from).to_owned(), p.tier_name(d.to).to_owned()))
        .collect()
}

/// Returning the older, upgrading order first no longer keeps the top tier.
#[test]
fn returning_the_upgrading_orders_in_any_order_reverses_every_upgrade() {
    let p = ladder();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    let a = p
        .apply_order(&mut s, &order("A", at("2026-02-01T00:00:00Z"), "10000"))
        .unwrap();
    let b = p
        .apply_order(&mut s, &order("B", at("2026-02-02T00:00:00Z"), "5000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Diamond");
    let mut records = vec![a.record, b.record];
    let back = judged_return(
        &p,
        &mut s,
        &mut records,
        0,
        &whole_return("rA", "A", at("2026-02-03T00:00:00Z")),
    );
    assert_eq!(tier_of(&p, &s), "Silver", "$5,000 left earns nothing");
    assert_eq!(
        names(&p, &back.downgrades),
        vec![
            ("Diamond".to_owned(), "Gold".to_owned()),
            ("Gold".to_owned(), "Silver".to_owned())
        ],
        "each reversed upgrade, most recent first"
    );
    let back = judged_return(
        &p,
        &mut s,
        &mut records,
        1,
        &whole_return("rB", "B", at("2026-02-04T00:00:00Z")),
    );
    assert!(back.downgrades.is_empty());
    assert_eq!(tier_of(&p, &s), "Silver");
    assert_eq!(s.lifetime_purchases, d("0"));
    let causes: Vec<&str> = s.history.iter().map(|h| h.cause.as_str()).collect();
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

/// A jump half returned lands on the middle tier; the rest returned, on the
/// tier the first order alone earns.
#[test]
fn a_partly_returned_jump_keeps_only_what_still_holds() {
    let p = ladder();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    let first = p
        .apply_order(&mut s, &order("o1", at("2026-02-01T00:00:00Z"), "9000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Silver");
    let jump = p
        .apply_order(&mut s, &order("o2", at("2026-02-02T00:00:00Z"), "7000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Diamond");
    let mut records = vec![first.record, jump.record];
    let mut partial = whole_return("r1", "o2", at("2026-02-03T00:00:00Z"));
    partial.amount = Some(d("3000"));
    let back = judged_return(&p, &mut s, &mut records, 1, &partial);
    assert_eq!(tier_of(&p, &s), "Gold", "$13,000 still holds Gold");
    assert_eq!(
        names(&p, &back.downgrades),
        vec![("Diamond".to_owned(), "Gold".to_owned())]
    );
    let rest = whole_return("r2", "o2", at("2026-02-04T00:00:00Z"));
    let back = judged_return(&p, &mut s, &mut records, 1, &rest);
    assert_eq!(tier_of(&p, &s), "Silver", "$9,000 does not hold Gold");
    assert_eq!(
        names(&p, &back.downgrades),
        vec![("Gold".to_owned(), "Silver".to_owned())]
    );
    assert_eq!(s.lifetime_purchases, d("9000"));
}

/// An admin's setting is a floor a return never goes below.
#[test]
fn a_return_never_goes_below_an_admin_setting() {
    let p = ladder();
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.set_tier(&mut s, "Gold", at("2026-01-15T00:00:00Z"), "migrated")
        .unwrap();
    let a = p
        .apply_order(&mut s, &order("A", at("2026-02-01T00:00:00Z"), "15000"))
        .unwrap();
    assert_eq!(tier_of(&p, &s), "Diamond");
    let mut records = vec![a.record];
    judged_return(
        &p,
        &mut s,
        &mut records,
        0,
        &whole_return("rA", "A", at("2026-02-03T00:00:00Z")),
    );
    assert_eq!(tier_of(&p, &s), "Gold");
}

fn expiring(policy: Option<&str>) -> Program {
    let mut config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z", "pointsExpiry": {"days": 30},
        "tiers": [
            {"name": "Base", "earnRate": "0.1"},
            {"name": "Gold", "earnRate": "0.2", "upgrade": {
                "criteria": [{"id": "P", "kind": "currentPoints", "min": "100"}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    if let Some(p) = policy {
        config["returnPolicy"] = json!({ "spentPoints": p });
    }
    program(config)
}

/// Points due to expire by an order's time do not count toward it, whether
/// or not the scheduled job ran.
#[test]
fn due_points_expire_before_the_decision() {
    let p = expiring(None);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut s, &order("o1", at("2026-01-01T10:00:00Z"), "900"))
        .unwrap();
    assert_eq!(s.current_points, d("90"));
    // 30 days later the 90 points are gone: 90 + 20 would have made Gold.
    let late = p
        .apply_order(&mut s, &order("o2", at("2026-01-31T10:00:00Z"), "200"))
        .unwrap();
    assert_eq!(p.tier_name(late.decision.tier_after), "Base");
    assert_eq!(s.current_points, d("20"));
    assert_eq!(s.lifetime_points, d("110"));
    // A day earlier they still counted.
    let mut t = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    p.apply_order(&mut t, &order("o1", at("2026-01-01T10:00:00Z"), "900"))
        .unwrap();
    p.apply_order(&mut t, &order("o2", at("2026-01-30T10:00:00Z"), "200"))
        .unwrap();
    assert_eq!(tier_of(&p, &t), "Gold");
    let spent = Redemption {
        redemption_id: "x".into(),
        points: d("90"),
        at: at("2026-02-05T00:00:00Z"),
    };
    assert!(
        p.redeem(&mut s, &spent).is_err(),
        "expired points cannot be redeemed"
    );
}

/// Expired points are never taken back: lifetime points drop by the full
/// amount, current points by nothing.
#[test]
fn a_return_takes_back_only_points_still_held() {
    let p = expiring(None);
    let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
    let o = p
        .apply_order(&mut s, &order("o1", at("2026-01-01T10:00:00Z"), "500"))
        .unwrap();
    p.apply_order(&mut s, &order("o2", at("2026-02-10T10:00:00Z"), "100"))
        .unwrap();
    assert_eq!(s.current_points, d("10"), "o1's 50 points expired");
    let mut record = o.record;
    let back = p
        .apply_return(
            &mut s,
            &mut record,
            &whole_return("r", "o1", at("2026-02-11T00:00:00Z")),
            &[],
        )
        .unwrap();
    assert_eq!(back.points_reversed, d("50"));
    assert_eq!(
        s.current_points,
        d("10"),
        "nothing of the expired 50 is taken"
    );
    assert_eq!(s.lifetime_points, d("10"));
}

/// Spent points: `negativeBalance` (the default) owes them, `withinBalance`
/// stops at zero and reports the shortfall.
#[test]
fn the_return_policy_decides_what_happens_to_spent_points() {
    for (policy, current, shortfall) in [
        (None, "-40", "0"),
        (Some("negativeBalance"), "-40", "0"),
        (Some("withinBalance"), "0", "40"),
    ] {
        let p = expiring(policy);
        let mut s = CustomerState::new(&p, at("2026-01-01T00:00:00Z"));
        let o = p
            .apply_order(&mut s, &order("o1", at("2026-01-01T10:00:00Z"), "500"))
            .unwrap();
        let spend = Redemption {
            redemption_id: "x".into(),
            points: d("40"),
            at: at("2026-01-02T00:00:00Z"),
        };
        p.redeem(&mut s, &spend).unwrap();
        let mut record = o.record;
        let back = p
            .apply_return(
                &mut s,
                &mut record,
                &whole_return("r", "o1", at("2026-01-03T00:00:00Z")),
                &[],
            )
            .unwrap();
        assert_eq!(back.points_reversed, d("50"), "{policy:?}");
        assert_eq!(s.current_points, d(current), "{policy:?}");
        assert_eq!(back.points_shortfall, d(shortfall), "{policy:?}");
        assert_eq!(s.lifetime_points, d("0"), "{policy:?}");
    }
}

/// A `max` tracker keeps one figure per day: returning the day's largest
/// order leaves the largest of what remains of the day's other orders.
#[test]
fn returning_a_days_largest_order_leaves_the_next_largest_of_that_day() {
    let config = serde_json::json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "big", "measure": "billAmount", "aggregate": "max", "period": {"days": 30}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Gold", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "A", "kind": "tracker", "tracker": "big", "min": "900"}],
                "condition": "all", "upgradeType": "lazy"}}]
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let mut s = CustomerState::new(&p, at("2026-03-01T00:00:00Z"));
    let mut records = Vec::new();
    for (id, time, amount) in [
        ("a", "2026-03-01T09:00:00Z", "300"),
        ("b", "2026-03-01T10:00:00Z", "700"),
        ("c", "2026-03-01T11:00:00Z", "500"),
        ("d", "2026-03-02T11:00:00Z", "200"),
    ] {
        records.push(
            p.apply_order(&mut s, &order(id, at(time), amount))
                .unwrap()
                .record,
        );
    }
    let window = |s: &CustomerState| p.status(s, at("2026-03-03T00:00:00Z")).trackers[0].1;
    assert_eq!(window(&s), d("700"));
    let others = records.clone();
    p.apply_return(
        &mut s,
        &mut records[1],
        &whole_return("r1", "b", at("2026-03-03T00:00:00Z")),
        &others,
    )
    .unwrap();
    assert_eq!(window(&s), d("500"), "c is the day's largest now");
    let partial = Return {
        amount: Some(d("450")),
        ..whole_return("r2", "c", at("2026-03-03T00:00:00Z"))
    };
    let others = records.clone();
    p.apply_return(&mut s, &mut records[2], &partial, &others)
        .unwrap();
    assert_eq!(window(&s), d("300"), "a beats what is left of c (50)");
    let stored: CustomerState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(window(&stored), d("300"), "one figure per day round-trips");
}

/// A day that has left every window stays gone when one of its orders is
/// returned later: the return does not bring the day's other orders back.
#[test]
fn a_return_after_its_day_left_the_window_does_not_bring_the_day_back() {
    let config = serde_json::json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "trackers": [{"id": "big", "measure": "billAmount", "aggregate": "max", "period": {"days": 14}}],
        "tiers": [{"name": "Member", "earnRate": "1"}]
    });
    let p = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
    let mut s = CustomerState::new(&p, at("2026-01-02T00:00:00Z"));
    let mut records: Vec<OrderRecord> = ["0.50", "0.40"]
        .iter()
        .enumerate()
        .map(|(i, amount)| {
            p.apply_order(
                &mut s,
                &order(&format!("o{i}"), at("2026-01-02T10:00:00Z"), amount),
            )
            .unwrap()
            .record
        })
        .collect();
    let others = records.clone();
    p.apply_return(
        &mut s,
        &mut records[0],
        &whole_return("r", "o0", at("2026-01-20T00:00:00Z")),
        &others,
    )
    .unwrap();
    assert_eq!(s.trackers[0].len(), 0, "{:?}", s.trackers[0]);
}
