//! Properties over random histories, orders and expressions.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use tier_engine::expression::{compile, parse};
use tier_engine::*;

fn base_time() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// Four tiers and three trackers; thresholds on purchases, trackers, points
/// and single orders, so random orders cross them in every way.
fn program(kind: &str) -> Program {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z", "pointsExpiry": {"months": 12},
        "trackers": [
            {"id": "visits", "measure": "visits", "period": {"months": 3}},
            {"id": "shoes", "measure": "lineItemPrice", "filter": {"category": "shoes"}, "period": {"days": 90}},
            {"id": "big", "measure": "billAmount", "aggregate": "max", "period": {"months": 12}}],
        "tiers": [
            {"name": "Blue", "earnRate": "0.05"},
            {"name": "Silver", "earnRate": "0.10", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "1000"},
                {"id": "B", "kind": "tracker", "tracker": "visits", "min": 4}],
                "condition": {"any": 1}, "upgradeType": kind}},
            {"name": "Gold", "earnRate": "0.20", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "3000"},
                {"id": "B", "kind": "tracker", "tracker": "shoes", "min": "800"},
                {"id": "C", "kind": "singleOrder", "min": "2500"}],
                "condition": {"custom": "A AND B OR C"}, "upgradeType": kind}},
            {"name": "Diamond", "earnRate": "0.30", "upgrade": {"criteria": [
                {"id": "A", "kind": "lifetimePurchases", "min": "6000"},
                {"id": "B", "kind": "tracker", "tracker": "big", "min": "2000"}],
                "condition": "all", "upgradeType": kind}}]
    });
    Program::validate(serde_json::from_value(config).unwrap()).unwrap()
}

#[derive(Debug, Clone)]
struct Spec {
    day: i64,
    cents: i64,
    shoes_cents: i64,
}

fn spec() -> impl Strategy<Value = Spec> {
    (0i64..400, 1i64..300_000, 0i64..100_000).prop_map(|(day, cents, shoes)| Spec {
        day,
        cents,
        shoes_cents: shoes.min(cents),
    })
}

fn order(id: usize, s: &Spec) -> Order {
    let amount = Decimal::new(s.cents, 2);
    let shoes = Decimal::new(s.shoes_cents, 2);
    let mut line_items = vec![LineItem {
        sku: "other".into(),
        category: Some("other".into()),
        price: amount - shoes,
        quantity: Decimal::ONE,
    }];
    if s.shoes_cents > 0 {
        line_items.push(LineItem {
            sku: "shoe".into(),
            category: Some("shoes".into()),
            price: shoes,
            quantity: Decimal::ONE,
        });
    }
    Order {
        order_id: format!("o{id}"),
        customer_id: "c".into(),
        placed_at: base_time() + Duration::days(s.day) + Duration::hours(12),
        status: OrderStatus::Completed,
        amount,
        gross_amount: Some(amount + Decimal::ONE),
        currency: Some("USD".into()),
        line_items,
    }
}

/// The customer after `specs` in time order, with the orders' records.
fn history(p: &Program, specs: &[Spec]) -> (CustomerState, Vec<OrderRecord>) {
    let mut state = CustomerState::new(p, base_time());
    let mut sorted = specs.to_vec();
    sorted.sort_by_key(|s| s.day);
    let mut records = Vec::new();
    for (i, s) in sorted.iter().enumerate() {
        records.push(p.apply_order(&mut state, &order(i, s)).unwrap().record);
    }
    (state, records)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn an_order_and_its_whole_return_restore_balances_and_trackers_exactly(
        kind in prop::sample::select(vec!["lazy", "eager", "dynamic"]),
        past in prop::collection::vec(spec(), 0..12),
        new in spec(),
    ) {
        let p = program(kind);
        let (mut state, others) = history(&p, &past);
        let mut o = order(999, &new);
        o.placed_at = o.placed_at.max(base_time() + Duration::days(400));
        // What expires by the order's time expires before it is decided.
        let mut before = state.clone();
        p.expire(&mut before, o.placed_at);
        let applied = p.apply_order(&mut state, &o).unwrap();
        let mut record = applied.record;
        let ret = Return { return_id: "r".into(), order_id: o.order_id.clone(), customer_id: "c".into(), returned_at: o.placed_at, amount: None };
        let back = p.apply_return(&mut state, &mut record, &ret, &others).unwrap();
        prop_assert_eq!(back.points_reversed, applied.decision.points);
        prop_assert_eq!(state.current_points, before.current_points);
        prop_assert_eq!(state.lifetime_points, before.lifetime_points);
        prop_assert_eq!(state.lifetime_purchases, before.lifetime_purchases);
        prop_assert_eq!(&state.trackers, &before.trackers);
        prop_assert_eq!(&state.lots, &before.lots);
        prop_assert_eq!(state.best_order(), before.best_order());
        // Never a tier the customer would not hold without that order: either
        // the tier held before, or one the restored state qualifies for.
        let after = state.tier_index(&p);
        let held = before.tier_index(&p);
        prop_assert!(after >= held);
        if after > held {
            let qualifies = p.status(&before, o.placed_at).progress.iter().any(|t| t.tier == after && t.qualifies);
            prop_assert!(qualifies, "left in {} without qualifying", p.tier_name(after));
        }
    }

    #[test]
    fn partial_returns_never_reverse_more_than_was_awarded(
        past in prop::collection::vec(spec(), 0..6),
        new in spec(),
        parts in prop::collection::vec(1u32..100, 1..5),
    ) {
        let p = program("dynamic");
        let (mut state, others) = history(&p, &past);
        let o = order(999, &new);
        let applied = p.apply_order(&mut state, &o).unwrap();
        let mut record = applied.record;
        let total: u32 = parts.iter().sum();
        let mut reversed = Decimal::ZERO;
        for (i, part) in parts.iter().enumerate() {
            let amount = (o.amount * Decimal::from(*part) / Decimal::from(total)).round_dp(2);
            let amount = amount.min(record.remaining());
            if amount <= Decimal::ZERO { continue; }
            let r = Return { return_id: format!("r{i}"), order_id: o.order_id.clone(), customer_id: "c".into(), returned_at: o.placed_at, amount: Some(amount) };
            reversed += p.apply_return(&mut state, &mut record, &r, &others).unwrap().points_reversed;
            prop_assert!(reversed <= applied.decision.points);
        }
        if record.remaining() > Decimal::ZERO {
            let r = Return { return_id: "last".into(), order_id: o.order_id.clone(), customer_id: "c".into(), returned_at: o.placed_at, amount: None };
            reversed += p.apply_return(&mut state, &mut record, &r, &others).unwrap().points_reversed;
        }
        prop_assert_eq!(reversed, applied.decision.points, "a full return in parts takes back exactly what was awarded");
    }

    /// The state keeps the five largest orders only; returns in any order,
    /// whole or in part, still leave the largest of what remains, however
    /// many orders there are beyond the five.
    #[test]
    fn the_best_order_is_the_largest_remaining_after_any_returns(
        past in prop::collection::vec(spec(), 1..14),
        returns in prop::collection::vec((0usize..14, 1u32..=100), 1..12),
    ) {
        let p = program("lazy");
        let (mut state, mut records) = history(&p, &past);
        let last = records.iter().map(|r| r.placed_at).max().unwrap();
        for (n, (which, percent)) in returns.iter().enumerate() {
            let k = which % records.len();
            let remaining = records[k].remaining();
            let amount = (remaining * Decimal::from(*percent) / Decimal::from(100)).round_dp(2);
            if amount <= Decimal::ZERO { continue; }
            let ret = Return {
                return_id: format!("r{n}"), order_id: records[k].order_id.clone(), customer_id: "c".into(),
                returned_at: last + Duration::hours(n as i64), amount: Some(amount),
            };
            let mut record = records[k].clone();
            p.apply_return(&mut state, &mut record, &ret, &records).unwrap();
            records[k] = record;
            let largest = records.iter().filter(|r| r.counts_for_purchases)
                .map(|r| r.remaining()).max().unwrap_or(Decimal::ZERO);
            prop_assert_eq!(state.best_order(), largest, "after return {} of {:?}", n, returns);
        }
    }

    #[test]
    fn dynamic_points_lie_between_lazy_and_eager(
        past in prop::collection::vec(spec(), 0..12),
        new in spec(),
    ) {
        let points = |kind: &str| {
            let p = program(kind);
            let (state, _) = history(&p, &past);
            (p.decide(&state, &order(999, &new)), p)
        };
        let (lazy, _) = points("lazy");
        let (eager, _) = points("eager");
        let (dynamic, _) = points("dynamic");
        // Each segment rounds to a cent on its own.
        let slack = Decimal::new(dynamic.segments.len() as i64, 2);
        prop_assert!(lazy.points <= dynamic.points + slack, "lazy {} > dynamic {}", lazy.points, dynamic.points);
        prop_assert!(dynamic.points <= eager.points + slack, "dynamic {} > eager {}", dynamic.points, eager.points);
        prop_assert_eq!(lazy.tier_after, eager.tier_after);
        let total: Decimal = dynamic.segments.iter().map(|s| s.amount).sum();
        prop_assert_eq!(total, order(999, &new).amount, "segments cover the whole order");
    }
}

/// One step of a random history: an order (the next by date) or a return
/// of `share`/100 of what remains of an order already placed (all of it at
/// 100 or more), in any order.
#[derive(Debug, Clone)]
enum Step {
    Order,
    Return { pick: usize, share: u32 },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(Step::Order),
            2 => (any::<usize>(), 1u32..150).prop_map(|(pick, share)| Step::Return { pick, share }),
        ],
        1..30,
    )
}

/// What remains of a placed order, as the order a fresh customer would
/// place: the same day, the amount and shoe share net of returns.
fn net_order(record: &OrderRecord, original: &Order) -> Option<Order> {
    if record.remaining() <= Decimal::ZERO {
        return None;
    }
    let shoes = original
        .line_items
        .iter()
        .find(|i| i.category.as_deref() == Some("shoes"))
        .map_or(Decimal::ZERO, |i| i.price);
    let kept_shoes =
        shoes - (shoes * record.returned_amount / record.amount).round_dp(shoes.scale().max(2));
    let kept_shoes = if record.returned_amount.is_zero() {
        shoes
    } else {
        kept_shoes
    };
    let remaining = record.remaining();
    let mut line_items = vec![LineItem {
        sku: "other".into(),
        category: Some("other".into()),
        price: (remaining - kept_shoes).max(Decimal::ZERO),
        quantity: Decimal::ONE,
    }];
    if kept_shoes > Decimal::ZERO {
        line_items.push(LineItem {
            sku: "shoe".into(),
            category: Some("shoes".into()),
            price: kept_shoes,
            quantity: Decimal::ONE,
        });
    }
    Some(Order {
        amount: remaining,
        gross_amount: Some(remaining + Decimal::ONE),
        line_items,
        ..original.clone()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A return reverses every upgrade that no longer holds, whatever the
    /// order of returns: after every step the tier is the one a fresh
    /// customer reaches by replaying only the net amounts in time order.
    #[test]
    fn after_any_returns_the_tier_is_what_the_net_history_earns(
        kind in prop::sample::select(vec!["lazy", "eager", "dynamic"]),
        specs in prop::collection::vec(spec(), 1..20),
        plan in steps(),
    ) {
        let p = program(kind);
        let mut specs = specs;
        specs.sort_by_key(|s| s.day);
        let mut state = CustomerState::new(&p, base_time());
        let mut placed: Vec<(Order, OrderRecord)> = Vec::new();
        let mut next = 0;
        for (n, step) in plan.iter().enumerate() {
            match step {
                Step::Order if next < specs.len() => {
                    let o = order(next, &specs[next]);
                    next += 1;
                    let applied = p.apply_order(&mut state, &o).unwrap();
                    placed.push((o, applied.record));
                }
                Step::Return { pick, share } if !placed.is_empty() => {
                    let i = pick % placed.len();
                    let remaining = placed[i].1.remaining();
                    if remaining <= Decimal::ZERO {
                        continue;
                    }
                    let amount = if *share >= 100 {
                        None
                    } else {
                        Some((remaining * Decimal::from(*share) / Decimal::ONE_HUNDRED).round_dp(2).max(Decimal::new(1, 2)).min(remaining))
                    };
                    let last_placed = placed.iter().map(|(o, _)| o.placed_at).max().unwrap();
                    let ret = Return { return_id: format!("r{n}"), order_id: placed[i].0.order_id.clone(), customer_id: "c".into(), returned_at: last_placed, amount };
                    let records: Vec<OrderRecord> = placed.iter().map(|(_, r)| r.clone()).collect();
                    let mut record = placed[i].1.clone();
                    let history = ReturnHistory { orders: &records, rules: &CurrentRulesOnly };
                    let back = p.apply_return_judged(&mut state, &mut record, &ret, &history).unwrap();
                    placed[i].1 = record;
                    prop_assert_eq!(back.tier_after, state.tier_index(&p));
                    let chained = back.downgrades.windows(2).all(|w| w[0].to == w[1].from);
                    prop_assert!(chained, "{:?}", back.downgrades);
                    if let (Some(first), Some(last)) = (back.downgrades.first(), back.downgrades.last()) {
                        prop_assert_eq!((first.from, last.to), (back.tier_before, back.tier_after));
                    } else {
                        prop_assert_eq!(back.tier_before, back.tier_after);
                    }
                }
                _ => continue,
            }
            let mut fresh = CustomerState::new(&p, base_time());
            for (o, record) in &placed {
                if let Some(net) = net_order(record, o) {
                    p.apply_order(&mut fresh, &net).unwrap();
                }
            }
            prop_assert_eq!(
                p.tier_name(state.tier_index(&p)),
                p.tier_name(fresh.tier_index(&p)),
                "after step {} ({:?}); purchases {} vs {}", n, step, state.lifetime_purchases, fresh.lifetime_purchases
            );
        }
    }
}

/// A random expression: operands separated by operators, where an operand is
/// a label or a parenthesised sub-expression.
#[derive(Debug, Clone)]
enum Gen {
    Label(usize),
    Seq(Vec<Gen>, Vec<bool>), // operands, and for each operator: true = AND
}

fn gen_expr() -> impl Strategy<Value = Gen> {
    let leaf = (0usize..3).prop_map(Gen::Label);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec(inner, 1..5).prop_flat_map(|ops| {
            let n = ops.len();
            (Just(ops), prop::collection::vec(any::<bool>(), n - 1))
                .prop_map(|(ops, ands)| Gen::Seq(ops, ands))
        })
    })
}

const LABELS: [&str; 3] = ["A", "B", "C"];

fn as_typed(g: &Gen, spelling: usize) -> String {
    match g {
        Gen::Label(i) => LABELS[*i].to_owned(),
        Gen::Seq(ops, ands) => {
            let mut s = format!("({}", as_typed(&ops[0], spelling));
            for (op, and) in ops[1..].iter().zip(ands) {
                let word = match (and, spelling % 3) {
                    (true, 0) => "AND",
                    (true, 1) => "&&",
                    (true, _) => "and",
                    (false, 0) => "OR",
                    (false, 1) => "||",
                    (false, _) => "Or",
                };
                s.push_str(&format!(" {word} {}", as_typed(op, spelling + 1)));
            }
            s + ")"
        }
    }
}

/// The same expression with every left-to-right step in its own parentheses.
fn fully_parenthesised(g: &Gen) -> String {
    match g {
        Gen::Label(i) => LABELS[*i].to_owned(),
        Gen::Seq(ops, ands) => {
            let mut s = fully_parenthesised(&ops[0]);
            for (op, and) in ops[1..].iter().zip(ands) {
                s = format!(
                    "({s} {} {})",
                    if *and { "AND" } else { "OR" },
                    fully_parenthesised(op)
                );
            }
            s
        }
    }
}

fn fold(g: &Gen, met: u8) -> bool {
    match g {
        Gen::Label(i) => met >> i & 1 == 1,
        Gen::Seq(ops, ands) => {
            ops[1..]
                .iter()
                .zip(ands)
                .fold(fold(&ops[0], met), |acc, (op, and)| {
                    if *and {
                        acc && fold(op, met)
                    } else {
                        acc || fold(op, met)
                    }
                })
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn left_to_right_agrees_with_the_fully_parenthesised_reference(g in gen_expr(), spelling in 0usize..3) {
        let typed = as_typed(&g, spelling);
        let flat = compile(&typed, &LABELS).unwrap();
        let reference = compile(&fully_parenthesised(&g), &LABELS).unwrap();
        for met in 0u8..8 {
            prop_assert_eq!(flat.holds(met), reference.holds(met), "{} on {:03b}", typed, met);
            prop_assert_eq!(flat.holds(met), fold(&g, met), "{} on {:03b}", typed, met);
        }
    }

    #[test]
    fn parsing_never_panics_on_random_input(s in "[ABCD()&|! aAnNdDoOrR\u{e9}\u{1F600}]{0,40}") {
        let _ = parse(&s, &LABELS);
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse(&s, &LABELS);
    }

    #[test]
    fn validation_never_panics_on_random_configs(
        rate in "-?[0-9]{0,3}(\\.[0-9]{0,3})?",
        any in 0u32..6,
        custom in "[ABC()&| ANDOR]{0,12}",
        months in 0u32..30,
    ) {
        let config = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "trackers": [{"id": "t", "measure": "visits", "period": {"months": months}}],
            "tiers": [{"name": "B", "earnRate": rate},
              {"name": "P", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "A", "kind": "tracker", "tracker": "t", "min": 1},
                {"id": "B", "kind": "currentPoints", "min": 1}], "condition": {"any": any}, "upgradeType": "dynamic"}},
              {"name": "Q", "earnRate": "1", "upgrade": {"criteria": [
                {"id": "A", "kind": "currentPoints", "min": 1}], "condition": {"custom": custom}, "upgradeType": "lazy"}}]});
        if let Ok(c) = serde_json::from_value::<ProgramConfig>(config) {
            let _ = Program::validate(c);
        }
    }
}
