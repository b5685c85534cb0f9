//! One customer's standing in one program: everything a decision reads.

use crate::decimal::{Money, Points};
use crate::events::OrderRecord;
use crate::expired::ExpiredLot;
pub use crate::expired::EXPIRED_KEPT_DAYS;
use crate::notice::{Notice, NoticeKind, Outbox};
use crate::period::DayNumber;
use crate::program::{Program, TierIndex};
use crate::progress::CriterionProgress;
use crate::series::Series;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many of the largest orders are kept for `singleOrder` criteria: enough
/// that returning the best one still leaves the next ones to qualify with.
pub const BEST_ORDERS_KEPT: usize = 5;
/// Tier changes kept in the state item; older ones stay in the order items.
pub const HISTORY_KEPT: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerState {
    pub tier: String,
    pub tier_since: DateTime<Utc>,
    pub current_points: Points,
    pub lifetime_points: Points,
    pub lifetime_purchases: Money,
    /// Points still to expire, by the UTC day they were earned, oldest first
    /// (a deque: the oldest leave from the front without moving the rest).
    #[serde(default, with = "delta_lots")]
    pub lots: VecDeque<Lot>,
    /// What expiry took of each day's lot, kept a while for returns and
    /// redemptions that arrive after it (see [`crate::expired`]).
    #[serde(
        default,
        with = "crate::expired::delta_expired",
        skip_serializing_if = "VecDeque::is_empty"
    )]
    pub expired_lots: VecDeque<ExpiredLot>,
    /// One series per program tracker, in the program's tracker order once
    /// [`CustomerState::align`] has run.
    #[serde(default)]
    pub trackers: Vec<Series>,
    /// The largest completed orders (net of returns), largest first.
    #[serde(default)]
    pub best_orders: Vec<BestOrder>,
    #[serde(default)]
    pub history: Vec<TierChange>,
    /// Completed orders ever applied: zero means there is no history to read.
    #[serde(default)]
    pub orders_applied: u64,
    /// The latest instant of any event applied (an order's `placedAt`, a
    /// return's `returnedAt`, a redemption's `at`, an admin action, the
    /// job's time): status is only told as of this or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<DateTime<Utc>>,
    /// The newest config version an event of this customer was decided
    /// under: a later event is never decided under an older one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
    /// The customer's first event: `programJoin` validity counts from it.
    /// Absent in states written before it was kept (see
    /// [`CustomerState::joined`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<DateTime<Utc>>,
    /// When the tier was last renewed: its validity counts from here
    /// (absent: from `tier_since`, when it was reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_at: Option<DateTime<Utc>>,
    /// Set while the tier's retention condition failed at the end of its
    /// validity and its grace runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<DateTime<Utc>>,
    /// The latest warning day of the current validity already handled, so
    /// each warning goes out once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warned_through: Option<DateTime<Utc>>,
    /// The latest end of a validity judged, with the figures it was
    /// judged on, so a late event placed before it judges it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<crate::rejudge::Judged>,
    /// The latest instant a return (or cancellation) was made at: a late
    /// order placed before it may have crossed a threshold in time that
    /// the return then undid, which only the orders can tell. None for a
    /// customer with no return since this was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_return_at: Option<DateTime<Utc>>,
    /// The latest instant a redemption was made at: a late order placed
    /// before it may have crossed a current-points threshold in time on
    /// points spent since, which only the orders and redemptions can tell.
    /// None for a customer with no redemption since this was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_redemption_at: Option<DateTime<Utc>>,
    /// Notices ever published for this customer: the next one's `seq` is
    /// one more.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub notices_sent: u64,
    /// Set once current and lifetime points moved apart by other than a
    /// redemption the redemption items tell (an expiry, a redemption under
    /// `pointsExpiry`, a return that took less from current points than
    /// from lifetime points): from then on the orders do not tell current
    /// points as of an instant, even where the two are equal again (a
    /// return under `withinBalance` or of expired points can make them
    /// so, and a later config may have neither). Before the thirty-first
    /// session every redemption set it too. A state written before it was
    /// kept reads false; the two being equal is then the only sign.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub points_apart: bool,
    /// Set by the first event placed before the latest one seen (a late
    /// event). Until then the paths alone decide a return made in time
    /// exactly, and the replay in time, whose cost grows with the returns
    /// among the events, is spared (`replay.rs`). Written only once set,
    /// so an in-time customer's state item grows by nothing; a state
    /// written before it was kept reads as in time (the history's `late
    /// order` entries still tell most late events there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub late_seen: bool,
    /// Whether the history ever let go of an entry that still stood
    /// (its oldest), once it reached its limit: a cut history holds fewer
    /// than [`HISTORY_KEPT`] entries once superseded ones leave too, so its
    /// length does not tell. Written only once the history reaches its
    /// limit; absent, the length is the only sign (a state written before
    /// it was kept reads cut at the limit, whole below it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_cut: Option<bool>,
    /// The customer's redemptions, when the service read them for this
    /// decision (`redeemed.rs`): with them the orders tell current points
    /// as of an instant for a customer who spent points. Never stored.
    #[serde(skip)]
    pub redemptions: Option<crate::redeemed::Redemptions>,
    /// Notices of the decision in progress, for the service to write with
    /// the state.
    #[serde(skip)]
    pub outbox: Outbox,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lot {
    pub day: DayNumber,
    pub points: Points,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BestOrder {
    pub order_id: String,
    pub net: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierChange {
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
    pub cause: String,
    /// The config version an upgrade was decided under, so a return judges
    /// it under the same rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
    /// Set by the admin tier action: a return never goes below it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

impl CustomerState {
    /// A customer who has just joined: base tier, nothing earned.
    pub fn new(program: &Program, at: DateTime<Utc>) -> Self {
        CustomerState {
            tier: program.tier_name(0).to_owned(),
            tier_since: at,
            current_points: Decimal::ZERO,
            lifetime_points: Decimal::ZERO,
            lifetime_purchases: Decimal::ZERO,
            lots: VecDeque::new(),
            expired_lots: VecDeque::new(),
            trackers: program
                .trackers()
                .iter()
                .map(|t| Series::new(t.key.clone()))
                .collect(),
            best_orders: Vec::new(),
            history: Vec::new(),
            orders_applied: 0,
            last_event_at: None,
            config_version: None,
            joined_at: Some(at),
            renewed_at: None,
            grace_until: None,
            warned_through: None,
            judged: None,
            latest_return_at: None,
            latest_redemption_at: None,
            notices_sent: 0,
            points_apart: false,
            late_seen: false,
            history_cut: None,
            redemptions: None,
            outbox: Outbox::default(),
        }
    }

    /// The customer's first event. States written before it was kept fall
    /// back to the earliest instant they still know of.
    pub fn joined(&self) -> DateTime<Utc> {
        self.joined_at
            .or_else(|| self.history.first().map(|h| h.at.min(self.tier_since)))
            .unwrap_or(self.tier_since)
    }

    /// Where the current tier's validity counts from.
    pub fn valid_from(&self) -> DateTime<Utc> {
        self.renewed_at.unwrap_or(self.tier_since)
    }

    /// The customer's tier in `program`. A tier the program no longer has
    /// (the service refuses such config changes) counts as the base tier.
    pub fn tier_index(&self, program: &Program) -> TierIndex {
        program.tier_index(&self.tier).unwrap_or(0)
    }

    /// Puts the tracker series in the program's order, dropping series of
    /// trackers the program no longer has. Returns the indexes of program
    /// trackers that had no series: they must be rebuilt from order history
    /// (see [`Program::rebuild_tracker`]) before the next decision.
    pub fn align(&mut self, program: &Program) -> Vec<usize> {
        let already = self.trackers.len() == program.trackers().len()
            && self
                .trackers
                .iter()
                .zip(program.trackers())
                .all(|(s, t)| s.key == t.key);
        if already {
            return Vec::new();
        }
        let mut old = std::mem::take(&mut self.trackers);
        let mut missing = Vec::new();
        for (i, t) in program.trackers().iter().enumerate() {
            match old.iter().position(|s| s.key == t.key) {
                Some(p) => self.trackers.push(old.swap_remove(p)),
                None => {
                    self.trackers.push(Series::new(t.key.clone()));
                    missing.push(i);
                }
            }
        }
        missing
    }

    pub(crate) fn saw_redemption(&mut self, at: DateTime<Utc>) {
        if self.latest_redemption_at.is_none_or(|latest| latest < at) {
            self.latest_redemption_at = Some(at);
        }
    }

    /// Whether an order placed `at`, decided now, comes after a redemption
    /// of its very instant: one among those read, or, when none were read,
    /// the latest (an older one of that instant goes unseen then).
    pub(crate) fn after_a_redemption_at(&self, at: DateTime<Utc>) -> bool {
        self.latest_redemption_at == Some(at)
            || self.redemptions.as_ref().is_some_and(|r| r.any_at(at))
    }

    pub(crate) fn saw_return(&mut self, at: DateTime<Utc>) {
        if self.latest_return_at.is_none_or(|latest| latest < at) {
            self.latest_return_at = Some(at);
        }
    }

    /// Whether a return was made at `at` or after it (one at the same
    /// instant came after an order of it, as `OrderRecord::as_it_stood`
    /// counts it).
    pub(crate) fn returned_at_or_after(&self, at: DateTime<Utc>) -> bool {
        self.latest_return_at.is_some_and(|latest| latest >= at)
    }

    pub(crate) fn saw_event(&mut self, at: DateTime<Utc>) {
        match self.last_event_at {
            Some(last) if at < last => self.late_seen = true,
            Some(last) if at == last => {}
            _ => self.last_event_at = Some(at),
        }
    }

    /// Whether every tier change came from the customer's own events: no
    /// admin set and no re-evaluation, which no order, return or
    /// redemption tells, so a replay of the events could not rebuild them.
    /// Unknown, so no, once the history was cut at its limit: what was cut
    /// may have been one (an adversary's late redemption undid an admin's
    /// setting cut from the history).
    pub(crate) fn history_told_by_events(&self) -> bool {
        !self.history_was_cut()
            && self
                .history
                .iter()
                .all(|c| !c.admin && !c.is_reevaluation())
    }

    /// Whether the history let go of an entry that still stood: its first
    /// entry may then be no change from the join, and an admin set or a
    /// re-evaluation may be among what left.
    pub(crate) fn history_was_cut(&self) -> bool {
        self.history_cut
            .unwrap_or(self.history.len() >= HISTORY_KEPT)
    }

    pub fn best_order(&self) -> Money {
        self.best_orders.first().map_or(Decimal::ZERO, |b| b.net)
    }

    pub(crate) fn set_best_order(&mut self, order_id: &str, net: Money) {
        keep_best(&mut self.best_orders, order_id, net);
    }

    /// A return lowered `record`'s net. When it was one of the largest kept,
    /// an order beyond them may now be among the largest: `others` (the
    /// customer's other orders' records, all of them on the service's path)
    /// fill the list again, so returning the kept ones never leaves a
    /// customer's other orders uncounted.
    pub(crate) fn lower_best_order(&mut self, record: &OrderRecord, others: &[OrderRecord]) {
        let was_kept = self
            .best_orders
            .iter()
            .any(|b| b.order_id == record.order_id);
        keep_best(&mut self.best_orders, &record.order_id, record.remaining());
        if !was_kept {
            return;
        }
        let counted = others
            .iter()
            .filter(|o| o.order_id != record.order_id && o.counts_for_purchases);
        for other in counted {
            keep_best(&mut self.best_orders, &other.order_id, other.remaining());
        }
    }

    /// A renewal: history only, the tier and its `tier_since` stay.
    pub(crate) fn record_renewal(&mut self, change: TierChange, criteria: Vec<String>) {
        self.keep_in_history(change.clone());
        self.publish(NoticeKind::Changed { change, criteria });
    }

    pub(crate) fn publish(&mut self, kind: NoticeKind) {
        self.notices_sent += 1;
        let seq = self.notices_sent;
        self.outbox.push(Notice { seq, kind });
    }

    pub(crate) fn warn(
        &mut self,
        at: DateTime<Utc>,
        on: DateTime<Utc>,
        criteria: Vec<CriterionProgress>,
    ) {
        if self.outbox.spares_warning_of(on) {
            return;
        }
        let tier = self.tier.clone();
        let grace = self.grace_until == Some(on);
        self.publish(NoticeKind::AtRisk {
            tier,
            on,
            at,
            criteria,
            grace,
        });
    }

    fn keep_in_history(&mut self, change: TierChange) {
        if self.outbox.trims_put_off() {
            return self.history.push(change);
        }
        self.settle_cut_mark();
        self.history.push(change);
        self.trim_history();
    }

    /// Runs `tell`, which may add several entries, trimming the history
    /// once after it: an entry added early must not cut the oldest before
    /// a later one's superseding makes room.
    pub(crate) fn trimming_once<T>(&mut self, tell: impl FnOnce(&mut Self) -> T) -> T {
        self.settle_cut_mark();
        let put_off = self.outbox.put_off_trims(true);
        let told = tell(self);
        self.outbox.put_off_trims(put_off);
        if !put_off {
            self.trim_history();
        }
        told
    }

    /// A state that reached the limit before the mark was kept may have
    /// been cut: it is taken as cut from now on.
    fn settle_cut_mark(&mut self) {
        if self.history_cut.is_none() && self.history.len() >= HISTORY_KEPT {
            self.history_cut = Some(true);
        }
    }

    /// Past its limit the history first lets go of the changes that no
    /// longer stand (a later entry dated before them took their place;
    /// they were told, and the feed keeps them), then of its oldest: the
    /// course a late event's walk starts from is the last thing cut. Its
    /// first entry stays while it can, as the tier held before every kept
    /// change (`held_then.rs`) and the floor a replay starts from; an
    /// admin set or a re-evaluation stays too, as what no event tells.
    fn trim_history(&mut self) {
        if self.history.len() < HISTORY_KEPT {
            return;
        }
        if self.history.len() > HISTORY_KEPT {
            self.outbox.count_history_trim();
            let mut stands = standing_flags(&self.history).into_iter();
            let mut first = true;
            self.history.retain(|c| {
                let stands = stands.next().unwrap_or(true);
                std::mem::take(&mut first) || stands || c.admin || c.is_reevaluation()
            });
        }
        if self.history.len() > HISTORY_KEPT {
            let excess = self.history.len() - HISTORY_KEPT;
            self.history.drain(..excess);
            self.history_cut = Some(true);
        }
        self.history_cut.get_or_insert(false);
    }

    /// The changes that still stand, in time order: an entry dated before
    /// the one listed before it (a late order's upgrade superseding a later
    /// move, or one dated back among the orders) replaces what came after
    /// its instant.
    pub(crate) fn standing_changes(&self) -> smallvec::SmallVec<[&TierChange; 8]> {
        standing_line(&self.history)
    }

    /// Tells again what a walk of the customer's course found
    /// (`older_ends.rs`), a change kept in the history too; the walk sets
    /// the tier and its validity.
    pub(crate) fn retell(&mut self, kind: NoticeKind) {
        if let NoticeKind::Changed { change, .. } = &kind {
            self.keep_in_history(change.clone());
        }
        self.publish(kind);
    }

    /// A change a walk of the customer's course found that was told
    /// already: kept in the history, not told again.
    pub(crate) fn keep_told(&mut self, kind: NoticeKind) {
        if let NoticeKind::Changed { change, .. } = kind {
            self.keep_in_history(change);
        }
    }

    /// The tier and its validity as a walk of the customer's course left
    /// them (`older_ends.rs`).
    pub(crate) fn adopt_validity_of(&mut self, walked: CustomerState) {
        self.tier = walked.tier;
        self.tier_since = walked.tier_since;
        self.renewed_at = walked.renewed_at;
        self.grace_until = walked.grace_until;
        self.warned_through = walked.warned_through;
        self.judged = walked.judged;
    }

    pub(crate) fn record_change(&mut self, change: TierChange, criteria: Vec<String>) {
        self.tier.clone_from(&change.to);
        self.tier_since = change.at;
        // A new tier starts a validity period of its own.
        self.renewed_at = None;
        self.grace_until = None;
        self.keep_in_history(change.clone());
        self.publish(NoticeKind::Changed { change, criteria });
    }

    pub(crate) fn add_points(&mut self, day: DayNumber, points: Points) {
        if points.is_zero() {
            return;
        }
        self.current_points += points;
        self.lifetime_points += points;
        // Usually the newest day: no search through the year's lots.
        match self.lots.back_mut() {
            Some(lot) if lot.day == day => return lot.points += points,
            Some(lot) if lot.day > day => {}
            _ => return self.lots.push_back(Lot { day, points }),
        }
        let at = self.lots.partition_point(|l| l.day < day);
        match self.lots.get_mut(at) {
            Some(lot) if lot.day == day => lot.points += points,
            _ => self.lots.insert(at, Lot { day, points }),
        }
    }

    /// Takes points back for a return: `lifetime` from lifetime points and
    /// `current` from current points, from the order's own day's lot first,
    /// then the newest. Current points may go below zero when the points
    /// were already spent: the customer owes them.
    pub(crate) fn reverse_points(&mut self, day: DayNumber, lifetime: Points, current: Points) {
        self.lifetime_points -= lifetime;
        self.current_points -= current;
        self.points_apart |= lifetime != current;
        let mut left = current;
        take_from_lots(&mut left, self.lots.iter_mut().filter(|l| l.day == day));
        take_from_lots(&mut left, self.lots.iter_mut().rev());
        self.lots.retain(|l| !l.points.is_zero());
    }

    /// Spends points oldest first. It moves current points apart from
    /// lifetime points by a redemption, which the redemption items tell
    /// (`redeemed.rs`), so it leaves `points_apart` alone.
    pub(crate) fn spend_points(&mut self, points: Points) {
        self.current_points -= points;
        let mut left = points;
        take_from_lots(&mut left, self.lots.iter_mut());
        self.lots.retain(|l| !l.points.is_zero());
    }
}

/// Takes up to `left` from `lots` in the order given, lowering `left` by
/// what it took.
fn take_from_lots<'a>(left: &mut Points, lots: impl Iterator<Item = &'a mut Lot>) {
    for lot in lots {
        if left.is_zero() {
            break;
        }
        let take = (*left).min(lot.points);
        lot.points -= take;
        *left -= take;
    }
}

/// Counts an order of `net` in the largest orders kept, largest first.
fn keep_best(best: &mut Vec<BestOrder>, order_id: &str, net: Money) {
    // A full list as the engine leaves it, without this order: then the
    // order either stays out (most orders are smaller than the smallest
    // kept one; the stable sort would put it last and cut it) or takes the
    // smallest one's place, where that sort would put it (after every kept
    // one at least as large), with no sort and no growing past five. Any
    // other list goes the long way, which puts it right.
    let ordinary = best.len() == BEST_ORDERS_KEPT
        && best.windows(2).all(|w| w[0].net >= w[1].net)
        && best.iter().all(|b| b.order_id != order_id);
    if ordinary && best.last().is_some_and(|b| net <= b.net) {
        return;
    }
    if ordinary && net > Decimal::ZERO {
        let at = best.partition_point(|b| b.net >= net);
        best.pop();
        let order_id = order_id.to_owned();
        best.insert(at, BestOrder { order_id, net });
        return;
    }
    keep_best_by_sorting(best, order_id, net);
}

fn keep_best_by_sorting(best: &mut Vec<BestOrder>, order_id: &str, net: Money) {
    best.retain(|b| b.order_id != order_id);
    if net > Decimal::ZERO {
        best.push(BestOrder {
            order_id: order_id.to_owned(),
            net,
        });
        best.sort_by_key(|b| std::cmp::Reverse(b.net));
        best.truncate(BEST_ORDERS_KEPT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn two_tiers() -> CustomerState {
        let config = serde_json::json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "tiers": [{"name": "Member", "earnRate": "1"},
                {"name": "Silver", "earnRate": "1", "upgrade": {"criteria": [
                    {"id": "P", "kind": "lifetimePoints", "min": 100}],
                    "condition": "all", "upgradeType": "lazy"}}]
        });
        let program = Program::validate(serde_json::from_value(config).unwrap()).unwrap();
        CustomerState::new(&program, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
    }

    fn day(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(n)
    }

    /// Up or down on day `n`, as the order lifting or the return taking it.
    fn change(n: i64, up: bool) -> TierChange {
        let (from, to) = match up {
            true => ("Member", "Silver"),
            false => ("Silver", "Member"),
        };
        TierChange {
            from: from.into(),
            to: to.into(),
            at: day(n),
            cause: format!("order o{n}"),
            config_version: Some(1),
            admin: false,
        }
    }

    /// A history of `n` changes on days 1..=n, alternating up and down.
    fn moved(state: &mut CustomerState, n: i64) {
        for i in 1..=n {
            state.record_change(change(i, i % 2 == 1), Vec::new());
        }
    }

    #[test]
    fn a_history_at_its_limit_that_never_let_go_reads_whole() {
        let mut state = two_tiers();
        moved(&mut state, HISTORY_KEPT as i64);
        assert_eq!(state.history.len(), HISTORY_KEPT);
        assert!(!state.history_was_cut());
        assert!(state.history_told_by_events());
        let stored: CustomerState =
            serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
        assert!(!stored.history_was_cut());
    }

    #[test]
    fn a_history_at_its_limit_stored_before_the_mark_reads_cut() {
        let mut state = two_tiers();
        moved(&mut state, HISTORY_KEPT as i64);
        state.history_cut = None;
        assert!(state.history_was_cut());
        state.record_change(change(HISTORY_KEPT as i64 + 1, false), Vec::new());
        assert_eq!(state.history_cut, Some(true));
    }

    #[test]
    fn a_cut_history_stays_cut_when_superseded_entries_leave_it_shorter() {
        let mut state = two_tiers();
        moved(&mut state, HISTORY_KEPT as i64 + 1);
        assert_eq!(state.history_cut, Some(true));
        assert_eq!(state.history.first().map(|c| c.at), Some(day(2)));
        // A late order's upgrade dated before the last ten changes
        // supersedes them: the next trim lets them go, and the history,
        // shorter than its limit, was still cut at its front.
        let mut late = change(HISTORY_KEPT as i64 - 9, true);
        late.at -= Duration::hours(1);
        state.record_change(late, Vec::new());
        assert!(
            state.history.len() < HISTORY_KEPT,
            "{}",
            state.history.len()
        );
        assert!(state.history_was_cut());
        assert!(!state.history_told_by_events());
    }

    #[test]
    fn the_first_entry_and_an_admin_set_outlast_superseded_ones() {
        let mut state = two_tiers();
        let first = change(2, true);
        state.record_change(first.clone(), Vec::new());
        let mut admin = change(3, false);
        admin.admin = true;
        admin.cause = "admin".into();
        state.record_change(admin.clone(), Vec::new());
        let gone = change(4, true);
        state.record_change(gone.clone(), Vec::new());
        // Dated back before all three: none of them stands any more.
        let mut back = change(0, true);
        back.at += Duration::hours(1);
        state.record_change(back.clone(), Vec::new());
        for i in 5..=HISTORY_KEPT as i64 + 1 {
            state.record_change(change(i, i % 2 == 0), Vec::new());
        }
        assert_eq!(state.history.len(), HISTORY_KEPT);
        assert_eq!(state.history[..3], [first, admin, back]);
        assert!(!state.history.contains(&gone));
        assert_eq!(state.history_cut, Some(false));
        assert!(!state.history_told_by_events(), "the admin set is kept");
    }

    #[test]
    fn one_telling_trims_once_after_all_its_entries() {
        let mut state = two_tiers();
        moved(&mut state, HISTORY_KEPT as i64);
        let oldest = state.history[0].clone();
        let second = state.history[1].clone();
        let trims = state.outbox.history_trims();
        state.trimming_once(|state| {
            // A correction first, then a change dated back before the
            // correction and the last entry: once both are in, the two
            // superseded make room, and nothing that stands is cut.
            state.record_change(change(HISTORY_KEPT as i64 + 1, true), Vec::new());
            let mut back = change(HISTORY_KEPT as i64, false);
            back.at -= Duration::hours(1);
            state.keep_told(NoticeKind::Changed {
                change: back,
                criteria: Vec::new(),
            });
        });
        assert_eq!(state.outbox.history_trims(), trims + 1);
        assert_eq!(state.history[0], oldest);
        assert_eq!(state.history[1], second);
        assert!(!state.history_was_cut());
    }

    proptest! {
        /// Any list, ordinary or not, ends as sorting it would leave it.
        #[test]
        fn the_best_orders_end_as_sorting_leaves_them(
            start in prop::collection::vec((0u8..12, -3i64..40, 0u32..3), 0..8),
            orders in prop::collection::vec((0u8..12, -3i64..40, 0u32..3), 0..40),
        ) {
            let figure = |id: u8, n: i64, scale: u32| BestOrder {
                order_id: format!("o{id}"),
                net: Decimal::new(n * 10i64.pow(scale), scale),
            };
            let mut fast: Vec<BestOrder> = start.iter().map(|&(i, n, s)| figure(i, n, s)).collect();
            let mut slow = fast.clone();
            for (i, n, s) in orders {
                let o = figure(i, n, s);
                keep_best(&mut fast, &o.order_id, o.net);
                keep_best_by_sorting(&mut slow, &o.order_id, o.net);
                prop_assert_eq!(&fast, &slow);
                prop_assert_eq!(
                    fast.iter().map(|b| b.net.scale()).collect::<Vec<_>>(),
                    slow.iter().map(|b| b.net.scale()).collect::<Vec<_>>()
                );
            }
        }
    }
}

mod delta_lots {
    //! Lots stored as `[day difference, points]` pairs: small and sorted.
    use super::Lot;
    use crate::period::DayNumber;
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::VecDeque;

    pub fn serialize<S: Serializer>(lots: &VecDeque<Lot>, s: S) -> Result<S::Ok, S::Error> {
        let mut previous = 0;
        let pairs: Vec<(DayNumber, Decimal)> = lots
            .iter()
            .map(|l| {
                let delta = l.day - previous;
                previous = l.day;
                (delta, l.points)
            })
            .collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VecDeque<Lot>, D::Error> {
        let pairs: Vec<(DayNumber, Decimal)> = Deserialize::deserialize(d)?;
        let mut day = 0;
        Ok(pairs
            .into_iter()
            .map(|(delta, points)| {
                day += delta;
                Lot { day, points }
            })
            .collect())
    }
}

/// Which entries of `history` stand (see [`standing_line`]).
fn standing_flags(history: &[TierChange]) -> Vec<bool> {
    let mut flags = vec![false; history.len()];
    let mut line: Vec<usize> = Vec::with_capacity(history.len());
    for (i, change) in history.iter().enumerate() {
        while line
            .last()
            .is_some_and(|&kept| history[kept].at > change.at)
        {
            line.pop();
        }
        line.push(i);
    }
    for i in line {
        flags[i] = true;
    }
    flags
}

/// [`CustomerState::standing_changes`] of any history.
pub(crate) fn standing_line(history: &[TierChange]) -> smallvec::SmallVec<[&TierChange; 8]> {
    let mut line: smallvec::SmallVec<[&TierChange; 8]> = smallvec::SmallVec::new();
    for change in history {
        while line.last().is_some_and(|kept| kept.at > change.at) {
            line.pop();
        }
        line.push(change);
    }
    line
}
