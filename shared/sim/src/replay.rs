//! One customer's history through the engine, as the service runs it.
//!
//! Each step mirrors a use case of `shared/service` on the data that use
//! case would have read:
//!
//! - an order event (orders.rs): the order id's stored status and the
//!   event's status give the lifecycle move (`tier_engine::transition`);
//!   the program must accept the order; a first sighting or a pending
//!   order completing applies it (`apply_order`, which expires what is due
//!   by `placedAt` first; one placed before the customer's latest event
//!   that upgrades is applied again among every stored order record,
//!   `apply_order_among`, which dates its upgrades); a completed order cancelled returns what remains
//!   of it at the event's instant (`cancel_completed`, judged against every
//!   stored order record); a pending or cancelled first sighting, or a
//!   pending order cancelled, is recorded and counts nothing;
//! - a return (returns.rs): the customer and the order's record must be
//!   stored; `apply_return_judged` against every stored order record;
//! - a redemption (account.rs): the customer must be stored; `redeem`;
//! - wherever the service reads the order records, it also reads the
//!   redemptions when the engine wants them (`wants_redemptions`), set on
//!   the state for that one decision (transact.rs);
//! - every committed state carries the version of the config it was decided
//!   under (transact.rs).
//!
//! A new customer starts as `CustomerState::new(program, at)` with the
//! event's instant, as `prepare` does. An event the service would refuse
//! (a currency it does not take, a return of more than remains, too few
//! points) changes nothing and is counted as refused. Every order in the
//! replay is decided under the one program replayed, so the rule book of
//! past versions is that program alone.

use crate::history::{Action, CustomerHistory};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use tier_engine::{
    transition, CurrentRulesOnly, CustomerState, OrderRecord, OrderStatus, Points, Program,
    Redeemed, Redemptions, ReturnHistory, TierIndex, Transition,
};

/// What one customer's history came to under one program.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRun {
    /// None when nothing of the history was ever stored for the customer
    /// (only pending or refused events).
    pub state: Option<CustomerState>,
    pub points_awarded: Points,
    pub points_reversed: Points,
    pub points_redeemed: Points,
    /// The instant of every upgrade the orders decided.
    pub upgrades: Vec<DateTime<Utc>>,
    /// Events that changed the customer (or recorded an order).
    pub applied: u64,
    /// Events the service would have refused.
    pub refused: u64,
    /// The tier held as of each asked instant (None: not a customer yet).
    pub tiers_at: Vec<Option<TierIndex>>,
}

/// The order items the service keeps for the customer: status and record.
struct OrderItem {
    status: OrderStatus,
    record: Option<OrderRecord>,
}

/// Replays `history` (sorted: see [`CustomerHistory::sort`]) under
/// `program`, noting the tier held as of each of `as_of` (ascending).
pub fn replay(
    program: &Program,
    history: &CustomerHistory,
    as_of: &[DateTime<Utc>],
) -> CustomerRun {
    let mut run = CustomerRun {
        state: None,
        points_awarded: Decimal::ZERO,
        points_reversed: Decimal::ZERO,
        points_redeemed: Decimal::ZERO,
        upgrades: Vec::new(),
        applied: 0,
        refused: 0,
        tiers_at: Vec::with_capacity(as_of.len()),
    };
    let mut items: BTreeMap<String, OrderItem> = BTreeMap::new();
    let mut returns: HashSet<String> = HashSet::new();
    let mut redemptions: HashSet<String> = HashSet::new();
    let mut redeemed: Vec<Redeemed> = Vec::new();
    for event in &history.events {
        // The service reads the state the store kept, not the one it
        // decided on last: read it back the same way (see `as_stored`).
        if let Some(state) = run.state.as_mut() {
            reread_trackers(state);
        }
        while run.tiers_at.len() < as_of.len() && as_of[run.tiers_at.len()] < event.at {
            let tier = run.state.as_ref().map(|s| s.tier_index(program));
            run.tiers_at.push(tier);
        }
        let done = match &event.action {
            Action::Order(order) => {
                order_event(program, &mut run, &mut items, &redeemed, order, event.at)
            }
            Action::Return(ret) => {
                if !returns.insert(ret.return_id.clone()) {
                    // A replay of a return answers what it answered.
                    continue;
                }
                let done = return_event(program, &mut run, &mut items, &redeemed, ret);
                if !done {
                    returns.remove(&ret.return_id);
                }
                done
            }
            Action::Redemption(r) => {
                if redemptions.contains(&r.redemption_id) {
                    continue;
                }
                let done = match run.state.as_mut() {
                    Some(state) => program.redeem(state, r).is_ok(),
                    None => false,
                };
                if done {
                    redemptions.insert(r.redemption_id.clone());
                    redeemed.push(Redeemed {
                        at: r.at,
                        points: r.points,
                    });
                    run.points_redeemed += r.points;
                    stamp(program, &mut run.state);
                }
                done
            }
        };
        if done {
            run.applied += 1;
        } else {
            run.refused += 1;
        }
    }
    while run.tiers_at.len() < as_of.len() {
        let tier = run.state.as_ref().map(|s| s.tier_index(program));
        run.tiers_at.push(tier);
    }
    run
}

/// The state as the store gives it back: written as JSON and read again
/// (the store's codec only deflates that JSON). Not the identity: a tracker
/// series forgets, on the way, what it knew of days that left its windows
/// (`Series::from(StoredSeries)` reindexes from the kept buckets), and a
/// return of an order on such a day could then land differently than on
/// the series in memory. Production reads before every event, so the
/// replay does too, on the series only ([`reread_trackers`]). (Measured
/// 2026-11-30: tests/sim_exactness.rs and tests/replay.rs also pass with
/// no read-back at all; it is kept so that the replay stays exact by
/// construction should the stored form ever lose something a decision
/// reads.)
pub fn as_stored(state: &CustomerState) -> CustomerState {
    let json = serde_json::to_vec(state).expect("a state serialises");
    serde_json::from_slice(&json).expect("a serialised state reads back")
}

/// [`as_stored`] in place, on the only part whose stored form is not the
/// identity: the tracker series. Every other field of `CustomerState`
/// reads back as written (strings, instants to the nanosecond, decimals as
/// strings with their scale, lots as day differences), so reading back the
/// series alone gives the state `as_stored` gives (tests/replay.rs checks
/// it), without writing and parsing the whole state before every event. A
/// program without trackers has no series: nothing to do.
pub fn reread_trackers(state: &mut CustomerState) {
    if state.trackers.is_empty() {
        return;
    }
    let json = serde_json::to_vec(&state.trackers).expect("series serialise");
    state.trackers = serde_json::from_slice(&json).expect("serialised series read back");
}

/// The config version every committed state carries.
fn stamp(program: &Program, state: &mut Option<CustomerState>) {
    if let Some(s) = state.as_mut() {
        s.config_version = Some(program.version());
    }
}

/// Every stored order record, in the order the store lists them (by id).
fn records(items: &BTreeMap<String, OrderItem>) -> Vec<OrderRecord> {
    items.values().filter_map(|i| i.record.clone()).collect()
}

/// The redemptions read beside the order records, as the service reads
/// them: only when the engine wants them, never kept with the state.
fn read_redemptions(program: &Program, state: &mut CustomerState, redeemed: &[Redeemed]) {
    if program.wants_redemptions(state) {
        state.redemptions = Some(Redemptions::new(redeemed.to_vec()));
    }
}

fn order_event(
    program: &Program,
    run: &mut CustomerRun,
    items: &mut BTreeMap<String, OrderItem>,
    redeemed: &[Redeemed],
    order: &tier_engine::Order,
    at: DateTime<Utc>,
) -> bool {
    let seen = items
        .get(&order.order_id)
        .map(|item| transition(Some(item.status), true, order.status));
    match seen {
        // Answered as the first time: nothing changes, nothing is refused.
        Some(Transition::Duplicate) => return true,
        Some(Transition::Conflict) => return false,
        _ => {}
    }
    if program.accepts(order).is_err() {
        return false;
    }
    match (seen, order.status) {
        (None | Some(Transition::Complete), OrderStatus::Completed) => {
            let was_new = run.state.is_none();
            let mut state = run
                .state
                .take()
                .unwrap_or_else(|| CustomerState::new(program, order.placed_at));
            // As the service: a late order the engine wants the customer's
            // orders for is decided again among them.
            // Only an order placed before the customer's latest event, or
            // at or before their latest return, can want them: the copy to
            // decide it again from is for it alone.
            let placed = order.placed_at;
            let before = (state.last_event_at.is_some_and(|last| placed < last)
                || state
                    .latest_return_at
                    .is_some_and(|latest| placed <= latest))
            .then(|| state.clone());
            let outcome = match (program.apply_order(&mut state, order), before) {
                (Ok(a), Some(before)) if a.wants_orders => {
                    state = before;
                    read_redemptions(program, &mut state, redeemed);
                    program.apply_order_among(&mut state, order, &records(items))
                }
                (other, _) => other,
            };
            state.redemptions = None;
            match outcome {
                Ok(applied) => {
                    run.points_awarded += applied.decision.points;
                    run.upgrades
                        .extend(applied.decision.upgrades.iter().map(|u| u.at));
                    items.insert(
                        order.order_id.clone(),
                        OrderItem {
                            status: OrderStatus::Completed,
                            record: Some(applied.record),
                        },
                    );
                    state.config_version = Some(program.version());
                    run.state = Some(state);
                    true
                }
                Err(_) => {
                    // apply_order refuses before it changes anything.
                    if !was_new {
                        run.state = Some(state);
                    }
                    false
                }
            }
        }
        (Some(Transition::CancelCompleted), _) => {
            let Some(mut record) = items.get(&order.order_id).and_then(|i| i.record.clone()) else {
                return false;
            };
            let orders = records(items);
            let history = ReturnHistory {
                orders: &orders,
                rules: &CurrentRulesOnly,
            };
            let mut state = run
                .state
                .clone()
                .unwrap_or_else(|| CustomerState::new(program, order.placed_at));
            read_redemptions(program, &mut state, redeemed);
            let outcome = program.cancel_completed(&mut state, &mut record, at, &history);
            state.redemptions = None;
            match outcome {
                Ok(back) => {
                    if let Some(back) = back {
                        run.points_reversed += back.points_reversed;
                        state.config_version = Some(program.version());
                        run.state = Some(state);
                    }
                    items.insert(
                        order.order_id.clone(),
                        OrderItem {
                            status: OrderStatus::Cancelled,
                            record: Some(record),
                        },
                    );
                    true
                }
                Err(_) => false,
            }
        }
        // A first sighting of a pending or cancelled order, or a pending
        // order cancelled: recorded, nothing counted.
        _ => {
            let item = items.entry(order.order_id.clone()).or_insert(OrderItem {
                status: order.status,
                record: None,
            });
            item.status = order.status;
            true
        }
    }
}

fn return_event(
    program: &Program,
    run: &mut CustomerRun,
    items: &mut BTreeMap<String, OrderItem>,
    redeemed: &[Redeemed],
    ret: &tier_engine::Return,
) -> bool {
    let Some(state) = run.state.as_ref() else {
        return false;
    };
    let Some(mut record) = items.get(&ret.order_id).and_then(|i| i.record.clone()) else {
        return false;
    };
    let orders = records(items);
    let history = ReturnHistory {
        orders: &orders,
        rules: &CurrentRulesOnly,
    };
    let mut next = state.clone();
    read_redemptions(program, &mut next, redeemed);
    let outcome = program.apply_return_judged(&mut next, &mut record, ret, &history);
    next.redemptions = None;
    match outcome {
        Ok(back) => {
            run.points_reversed += back.points_reversed;
            next.config_version = Some(program.version());
            run.state = Some(next);
            if let Some(item) = items.get_mut(&ret.order_id) {
                item.record = Some(record);
            }
            true
        }
        Err(_) => false,
    }
}
