//! A customer replayed in time after a late order or a return: every event
//! the customer had, the new one in its place, applied again on a fresh
//! state from the join, as the service applied them in time (an order alone, then
//! among the others when it asks for them; the redemptions beside them
//! where a rule counts current points). The figures as of every instant
//! then follow from the events themselves, not from what the state kept of
//! them, so every end, grace, move and lift comes out as in time.
//!
//! Only where the stored events tell the whole course (docs/late-events.md,
//! "The replay"): every return of every order still marked with its
//! instant, the redemptions read where a rule counts current points, one
//! config version throughout, no admin set or re-evaluation, and no two
//! events of one instant whose order in time nothing kept (a return and a
//! redemption or another order's return; a return made before returns kept
//! their arrival and an order other than its own; two orders of one
//! instant neither of which kept its arrival). Elsewhere a late order
//! or return is decided by the paths of `as_in_time.rs` and `returns.rs`
//! alone.

use crate::apply::AppliedOrder;
use crate::course_set_right::{changes_setting_right, told_in_time_after};
use crate::error::EngineError;
use crate::events::{Order, OrderRecord, OrderStatus, Redemption, Return};
use crate::notice::{NoticeKind, MAX_NOTICES_PER_DECISION};
use crate::older_ends::ToldBefore;
use crate::program::Program;
use crate::redeemed::{Redeemed, Redemptions};
use crate::rejudge::LATE_ORDER;
use crate::reversal::CurrentRulesOnly;
use crate::state::{CustomerState, TierChange};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// Events one replay applies at most: a late order of a customer with more
/// is decided by the other paths alone (each event is an engine decision,
/// and the late order's commit must stay well inside a Lambda's budget).
pub const MAX_REPLAYED_EVENTS: usize = 2_000;

/// What the ids of the returns and redemptions a replay makes start with
/// (the marks keep no id).
pub(crate) const REPLAYED: &str = "replayed-";

/// What a replay set right of a decision: the tier or its validity, and
/// the course the history tells (told as in time from where it parted).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SetRight {
    pub(crate) tier: bool,
    pub(crate) course: bool,
}

/// The customer replayed in time, and what they had told before the
/// decision the replay checks.
pub(crate) struct Replayed {
    in_time: CustomerState,
    told: Told,
    /// The replay's warnings of the end the customer runs to at the latest
    /// instant (the period's, or the grace's): the ones a decision it sets
    /// right may not have told.
    running_warnings: Vec<NoticeKind>,
    /// Everything the replay told, in the order told: the course in time
    /// told where the history's line parts from it, and the warnings of
    /// ends past that a decision whose telling is taken back told as in
    /// time.
    told_in_time: Vec<NoticeKind>,
}

/// How far a customer's telling went before a decision: what lies past it
/// is the decision's own.
struct Told {
    /// The changes it had told, which the course set right does not tell
    /// again (`Program::spare_the_retold`).
    before: ToldBefore,
    tier: String,
    history: usize,
    history_trims: u64,
    notices: usize,
    notices_sent: u64,
    /// The grace the customer ran, the last warning day judged and the
    /// latest end judged: what earlier commits may have warned of.
    grace_until: Option<DateTime<Utc>>,
    warned_through: Option<DateTime<Utc>>,
    judged_end: Option<DateTime<Utc>>,
}

impl Told {
    fn of(program: &Program, state: &CustomerState) -> Self {
        Told {
            before: ToldBefore::of(program, state),
            tier: state.tier.clone(),
            history: state.history.len(),
            history_trims: state.outbox.history_trims(),
            notices: state.outbox.notices().len(),
            notices_sent: state.notices_sent,
            grace_until: state.grace_until,
            warned_through: state.warned_through,
            judged_end: state.judged.as_ref().map(|j| j.at),
        }
    }

    /// Takes back the decision's own warnings of an end after the
    /// customer's latest instant other than the one `in_time` runs to
    /// (`Program::warns_of_the_end_run_to`): they warned of a period the
    /// replay moved, or of a grace it never began. The decision's notices
    /// after them are numbered on from where it started.
    fn take_back_warnings_of_other_ends(
        &self,
        program: &Program,
        state: &mut CustomerState,
        in_time: &CustomerState,
    ) {
        let latest = state.last_event_at;
        let other_end = |kind: &NoticeKind| {
            matches!(kind, NoticeKind::AtRisk { on, .. }
                if latest.is_some_and(|latest| *on > latest))
                && !program.warns_of_the_end_run_to(in_time, kind)
        };
        let notices = state.outbox.notices();
        if notices.len() < self.notices
            || !notices[self.notices..].iter().any(|n| other_end(&n.kind))
        {
            return;
        }
        let mut notices = state.outbox.take();
        let own = notices.split_off(self.notices);
        for notice in notices {
            state.outbox.push(notice);
        }
        state.notices_sent = self.notices_sent;
        for notice in own {
            if !other_end(&notice.kind) {
                state.publish(notice.kind);
            }
        }
    }

    /// Whether the warning may have been told before the decision: a
    /// warning day the customer had judged (in whichever course was told
    /// then: the same day may have warned of the same end, and which ends
    /// earlier commits warned of is kept nowhere); the warning a grace
    /// begins with, where the customer ran that grace or had judged an end
    /// at or after its start. Such a warning is left untold rather than
    /// told twice.
    fn warned(&self, warning: &NoticeKind) -> bool {
        let NoticeKind::AtRisk { on, at, grace, .. } = warning else {
            return false;
        };
        let judged_by = |done: Option<DateTime<Utc>>| done.is_some_and(|done| *at <= done);
        match grace {
            true => self.grace_until == Some(*on) || judged_by(self.judged_end),
            false => judged_by(self.warned_through),
        }
    }

    /// Whether the decision told a change (from, to, at) that `in_time`'s
    /// course does not hold.
    fn told_what_never_came(&self, state: &CustomerState, in_time: &CustomerState) -> bool {
        let own = state.history.get(self.history..).unwrap_or_default();
        own.iter().any(|told| {
            !in_time
                .history
                .iter()
                .any(|c| (&c.from, &c.to, c.at) == (&told.from, &told.to, told.at))
        })
    }

    /// Takes back what the decision told (history and notices) and gives
    /// its warnings. None, and nothing taken, where the history was
    /// trimmed during the decision (its own entries no longer lie past
    /// where it stood).
    fn take_back(&self, state: &mut CustomerState) -> Option<Vec<NoticeKind>> {
        let trimmed = state.outbox.history_trims() != self.history_trims;
        if trimmed
            || state.history.len() < self.history
            || state.outbox.notices().len() < self.notices
        {
            return None;
        }
        state.history.truncate(self.history);
        let mut notices = state.outbox.take();
        let own = notices.split_off(self.notices);
        state.notices_sent = self.notices_sent;
        for notice in notices {
            state.outbox.push(notice);
        }
        let warnings = own.into_iter().map(|n| n.kind);
        Some(
            warnings
                .filter(|k| matches!(k, NoticeKind::AtRisk { .. }))
                .collect(),
        )
    }
}

/// Tells the warnings of the end the customer runs to that the replay told
/// and neither the decision nor any before it did: the decision may have
/// judged no warning day of that period (a walk that told its course
/// otherwise, a change set right), and in time they were told, and still
/// run. Only of days the customer's state has judged (a grace's, while it
/// runs; the job would tell the others), within one decision's notices.
fn tell_running_warnings(state: &mut CustomerState, told: &Told, replayed: Vec<NoticeKind>) {
    for warning in replayed {
        let NoticeKind::AtRisk { on, at, grace, .. } = &warning else {
            continue;
        };
        let judged = match grace {
            true => state.grace_until == Some(*on),
            false => state.warned_through.is_some_and(|done| *at <= done),
        };
        let notices = state.outbox.notices();
        let told_now = notices[told.notices.min(notices.len())..]
            .iter()
            .any(|n| n.kind.same_warning(&warning));
        let room = notices.len() < MAX_NOTICES_PER_DECISION;
        if judged && room && !told_now && !told.warned(&warning) {
            state.publish(warning);
        }
    }
}

/// The customer every replayed event names: events are checked to name
/// one, and a replay's are never stored.
const REPLAYED_CUSTOMER: &str = "replayed";

enum Event<'a> {
    Order(Order),
    Return(&'a str, DateTime<Utc>, Decimal),
    Redemption(usize, DateTime<Utc>, Decimal),
}

impl Program {
    /// The customer `before` the new event as they would stand had every
    /// event come in time, brought to `latest`: the new event is the late
    /// order `late` beside the records of every other order (`others`), or,
    /// without one, a return already marked in its order's record among
    /// `others`. None where the stored events do not tell the whole course
    /// (module doc).
    pub(crate) fn replayed_in_time(
        &self,
        before: &CustomerState,
        late: Option<&Order>,
        others: &[OrderRecord],
        latest: Option<DateTime<Utc>>,
    ) -> Option<Replayed> {
        let told = Told::of(self, before);
        let events = self.events_in_time(before, late, others)?;
        let reads_redemptions = self.counts_current_points() || self.keeps_by_current_points();
        let mut state = CustomerState::new(self, before.joined());
        let mut records: Vec<OrderRecord> = Vec::with_capacity(others.len() + 1);
        let mut redeemed = Vec::new();
        for event in events {
            match event {
                Event::Order(order) => {
                    let undecided = state.clone();
                    let mut applied = self.apply_order(&mut state, &order).ok()?;
                    if applied.wants_orders {
                        state = undecided;
                        if reads_redemptions && self.wants_redemptions(&state) {
                            state.redemptions = Some(Redemptions::new(redeemed.clone()));
                        }
                        applied = self.apply_order_among(&mut state, &order, &records).ok()?;
                    }
                    state.redemptions = None;
                    records.push(applied.record);
                }
                Event::Return(order_id, at, amount) => {
                    if reads_redemptions && self.wants_redemptions(&state) {
                        state.redemptions = Some(Redemptions::new(redeemed.clone()));
                    }
                    let i = records.iter().position(|r| r.order_id == order_id)?;
                    let ret = Return {
                        return_id: format!("{REPLAYED}{order_id}"),
                        order_id: order_id.to_owned(),
                        customer_id: REPLAYED_CUSTOMER.to_owned(),
                        returned_at: at,
                        amount: Some(amount),
                    };
                    // The returned record last, the others in their order,
                    // as the paths read them; put back in place after.
                    records[i..].rotate_left(1);
                    // The paths alone: each return in its place is no
                    // late event, and the replay is not replayed again.
                    let done =
                        self.return_by_paths(&mut state, &mut records, &ret, &CurrentRulesOnly);
                    records[i..].rotate_right(1);
                    state.redemptions = None;
                    done.ok()?;
                }
                Event::Redemption(n, at, points) => {
                    let redemption = Redemption {
                        redemption_id: format!("{REPLAYED}{n}"),
                        points,
                        at,
                    };
                    self.redeem(&mut state, &redemption).ok()?;
                    redeemed.push(crate::redeemed::Redeemed { at, points });
                }
            }
        }
        if let Some(latest) = latest {
            self.expire(&mut state, latest);
        }
        // A warning of an end the customer no longer runs to (a renewal in
        // the grace it warned of) is past: only those of the end ahead.
        let told_in_time: Vec<NoticeKind> =
            state.outbox.take().into_iter().map(|n| n.kind).collect();
        let running_warnings = told_in_time
            .iter()
            .filter(|kind| self.warns_of_the_end_run_to(&state, kind))
            .cloned()
            .collect();
        state.outbox = Default::default();
        Some(Replayed {
            in_time: state,
            told,
            running_warnings,
            told_in_time,
        })
    }

    /// Whether a return of `record` (not yet marked) by the customer
    /// `state`, among `orders`, may be replayed: every order read and the
    /// events within the bound. Checked before the return is decided, so
    /// that a customer it turns away costs a count, not a copy of their
    /// state; the replay checks the rest.
    pub(crate) fn return_may_replay(
        &self,
        state: &CustomerState,
        record: &OrderRecord,
        orders: &[OrderRecord],
    ) -> bool {
        let others = orders.iter().filter(|o| o.order_id != record.order_id);
        let marks = record.returns.len() + 1;
        self.may_replay(state, std::iter::once(record).chain(others), marks)
    }

    /// Whether a late order of the customer `state` may be checked by the
    /// replay in time once the orders are read: within the bound, the
    /// history told by events alone. A customer's second late event asks
    /// for them even where its paths alone would decide it, since what
    /// they leave of the first one's course (a start the replay moved
    /// silently, the history still telling the paths') only the replay
    /// sets right; a first one asks only on a sign, as before, which
    /// spares a read of every order to the late orders of customers
    /// otherwise in time.
    pub(crate) fn replay_may_take(&self, state: &CustomerState) -> bool {
        state.orders_applied < MAX_REPLAYED_EVENTS as u64 && state.history_told_by_events()
    }

    /// Whether `orders` are every order of the customer `state` and, with
    /// their returns, the redemptions read and `more` events, within the
    /// bound, with no admin set or re-evaluation in the history.
    fn may_replay<'o>(
        &self,
        state: &CustomerState,
        orders: impl Iterator<Item = &'o OrderRecord>,
        more: usize,
    ) -> bool {
        let (mut count, mut events) = (0usize, more);
        for o in orders {
            count += 1;
            events += 1 + o.returns.len();
        }
        let redeemed = state.redemptions.as_ref().map_or(0, |r| r.as_slice().len());
        count as u64 == state.orders_applied
            && events + redeemed < MAX_REPLAYED_EVENTS
            && state.history_told_by_events()
    }

    /// Whether a redemption at `at` asks for the customer's orders (and
    /// their redemptions), to be checked by the replay in time
    /// ([`Program::redeem_among`]): placed before the customer's latest
    /// event, in a program where a rule counts current points (elsewhere a
    /// redemption moves no tier, late or not), of a customer the replay
    /// may take.
    pub fn redemption_wants_orders(&self, state: &CustomerState, at: DateTime<Utc>) -> bool {
        let reads = self.counts_current_points() || self.keeps_by_current_points();
        reads
            && state.last_event_at.is_some_and(|last| at < last)
            && state.orders_applied < MAX_REPLAYED_EVENTS as u64
            && state.history_told_by_events()
    }

    /// [`Program::redeem`] of a late redemption with every order of the
    /// customer read (`orders`, the redemptions on the state): checked
    /// against the customer replayed in time with the redemption in its
    /// place, where the stored events tell the whole course. The tier and
    /// its validity are the replay's where they differ, a different tier
    /// one change with the cause `redemption <id>`: an upgrade the
    /// redemption would have prevented in time is undone, as a return
    /// undoes one that no longer holds.
    pub fn redeem_among(
        &self,
        state: &mut CustomerState,
        redemption: &Redemption,
        orders: &[OrderRecord],
    ) -> Result<(), EngineError> {
        let before = self
            .may_replay(state, orders.iter(), 1)
            .then(|| state.clone());
        self.redeem(state, redemption)?;
        let Some(mut before) = before else {
            return Ok(());
        };
        // In time it came among those read; one of an order's or a
        // return's instant came before or after it, which nothing kept.
        let tied = orders.iter().any(|o| {
            o.placed_at == redemption.at || o.returns.iter().any(|r| r.at == redemption.at)
        });
        let read = match before.redemptions.take() {
            Some(read) => read.as_slice().to_vec(),
            // None read: none made, where nothing says one was.
            None if before.latest_redemption_at.is_none() && !before.points_apart => Vec::new(),
            None => return Ok(()),
        };
        if tied {
            return Ok(());
        }
        let mut redeemed = read;
        redeemed.push(Redeemed {
            at: redemption.at,
            points: redemption.points,
        });
        before.redemptions = Some(Redemptions::new(redeemed));
        let latest = state.last_event_at;
        if let Some(replayed) = self.replayed_in_time(&before, None, orders, latest) {
            let cause = format!("redemption {}", redemption.redemption_id);
            self.set_right_as_replayed(state, replayed, &cause);
        }
        Ok(())
    }

    /// Sets the tier, its validity and the course the history tells right
    /// where the paths left them otherwise than the replay in time. What
    /// the decision told of its own is taken back where it ended in
    /// another tier, or told a change that never came in time (their
    /// course, which the replay replaces, may tell a change twice, leave a
    /// tier never held, date a lift where later orders made it, or renew a
    /// period that never ran), unless its line holds the tier held in time
    /// at every instant. From the first instant at which the history's line
    /// then parts from the line in time, the course in time is told
    /// (`course_set_right.rs`); where the history was cut, one change from
    /// the tier told to the tier held in time, dated where it was reached
    /// then (an entry dated before those it supersedes, as every late
    /// event's), with `cause`. Whether the tier or its validity was set
    /// right.
    pub(crate) fn set_right_as_replayed(
        &self,
        state: &mut CustomerState,
        replayed: Replayed,
        cause: &str,
    ) -> SetRight {
        let Replayed {
            in_time,
            told,
            running_warnings,
            told_in_time,
        } = replayed;
        let same = |state: &CustomerState| {
            state.tier == in_time.tier
                && state.tier_since == in_time.tier_since
                && state.renewed_at == in_time.renewed_at
                && state.grace_until == in_time.grace_until
        };
        let version = self.version();
        // Whether the history's line holds the tier held in time at every
        // instant (None: it was cut, and tells no course from the join).
        // Where the tier and its validity came out as in time, the line may
        // still part (a start moved without a change of its own, a dip in
        // time never came): the course alone is set right.
        let holds_as_in_time = changes_setting_right(state, &state.tier, &in_time, cause, version)
            .map(|changes| changes.is_empty());
        let held_as_in_time = same(state);
        if held_as_in_time {
            if holds_as_in_time != Some(false) {
                tell_running_warnings(state, &told, running_warnings);
                return SetRight::default();
            }
        } else {
            // The replay judged every end up to the latest instant; the
            // decision may have left some to the job, which is compared as
            // the job would leave it (as far as one commit's notices go).
            let mut judged = state.clone();
            self.catch_up_to_latest(&mut judged);
            let caught_up = self
                .next_validity_instant(&judged)
                .is_none_or(|next| judged.last_event_at.is_none_or(|latest| next > latest));
            let room = state.outbox.notices().len() < MAX_NOTICES_PER_DECISION;
            if same(&judged) || !caught_up || !room {
                return SetRight::default();
            }
        }
        // A telling whose line holds as in time stands; one whose line
        // parts is taken back, the course in time told in its place. Where
        // the history was cut (no line to compare), one that ended in the
        // tier held in time and told only changes that came in time stands
        // (a change dated back among it tells the new start).
        let moved = state.tier != in_time.tier;
        let retell = match holds_as_in_time {
            Some(holds) => !holds,
            None => moved || told.told_what_never_came(state, &in_time),
        };
        let warnings = retell.then(|| told.take_back(state)).flatten();
        // The course goes on from the tier told before the decision, or
        // from the paths' where their telling stands. One that could not be
        // taken back (the history was trimmed during the decision) is not
        // told again beside it.
        let tier_told = match warnings {
            Some(_) => told.tier.clone(),
            None => state.tier.clone(),
        };
        let setting_right = warnings
            .as_ref()
            .and_then(|_| changes_setting_right(state, &tier_told, &in_time, cause, version))
            .filter(|changes| {
                state.outbox.notices().len() + changes.len() <= MAX_NOTICES_PER_DECISION
            });
        let course = setting_right
            .as_ref()
            .is_some_and(|changes| !changes.is_empty());
        match setting_right {
            Some(changes) => {
                let (from, sent) = (state.outbox.notices().len(), state.notices_sent);
                // From the first change on, everything told in time (its
                // renewals and warnings too) where one decision's notices
                // hold it; else its moves alone.
                let mut changes = changes.into_iter();
                let first = changes.next();
                // The running end's warnings are told below, as ever.
                let past: Vec<NoticeKind> = told_in_time
                    .iter()
                    .filter(|kind| !running_warnings.iter().any(|w| w.same_warning(kind)))
                    .cloned()
                    .collect();
                let after = first
                    .as_ref()
                    .map(|first| told_in_time_after(first.at, &past, state))
                    .filter(|after| from + 1 + after.len() <= MAX_NOTICES_PER_DECISION);
                state.trimming_once(|state| {
                    if let Some(first) = first {
                        state.record_change(first, Vec::new());
                    }
                    match after {
                        Some(after) => after.into_iter().for_each(|kind| state.retell(kind)),
                        None => changes.for_each(|change| state.record_change(change, Vec::new())),
                    }
                });
                // The feed's last word names the tier held in time.
                state.tier.clone_from(&in_time.tier);
                self.spare_the_retold(state, &told.before, from, sent);
            }
            // One change to the tier held in time, where it was reached.
            None if tier_told != in_time.tier => {
                let change = TierChange {
                    from: tier_told,
                    to: in_time.tier.clone(),
                    at: in_time.tier_since,
                    cause: cause.to_owned(),
                    config_version: Some(version),
                    admin: false,
                };
                state.record_change(change, Vec::new());
            }
            None => {}
        }
        let warnings = warnings.unwrap_or_default();
        // A warning the decision gave still stands where it is about the
        // tier held in time and the end it really runs to, or one past the
        // replay told too; others warned of what the replay took back.
        let at_risk_on = self.next_validity_instant(&in_time);
        for warning in warnings {
            let stands = matches!(&warning, NoticeKind::AtRisk { tier, on, .. }
                if *tier == in_time.tier && Some(*on) == at_risk_on)
                || told_in_time.iter().any(|w| w.same_warning(&warning));
            let told_now = state.outbox.notices()[told.notices.min(state.outbox.notices().len())..]
                .iter()
                .any(|n| n.kind.same_warning(&warning));
            if stands && !told_now {
                state.publish(warning);
            }
        }
        told.take_back_warnings_of_other_ends(self, state, &in_time);
        state.adopt_validity_of(in_time);
        tell_running_warnings(state, &told, running_warnings);
        SetRight {
            tier: !held_as_in_time,
            course,
        }
    }

    /// Whether `kind` warns of the end `state` runs to: of its tier and
    /// its grace's end while one runs, else its period's; the warning a
    /// grace begins with only of a grace it runs (a warning day's is of
    /// whichever end comes next).
    fn warns_of_the_end_run_to(&self, state: &CustomerState, kind: &NoticeKind) -> bool {
        matches!(kind, NoticeKind::AtRisk { tier, on, grace, .. }
            if *tier == state.tier
                && Some(*on) == self.next_validity_instant(state)
                && (!*grace || state.grace_until == Some(*on)))
    }

    /// [`Program::set_right_as_replayed`] after the late order `applied`.
    pub(crate) fn set_order_right(
        &self,
        state: &mut CustomerState,
        applied: &mut AppliedOrder,
        replayed: Replayed,
    ) {
        let cause = format!("{LATE_ORDER} {}", applied.record.order_id);
        let set_right = self.set_right_as_replayed(state, replayed, &cause);
        if set_right.tier {
            applied.decision.tier_after = state.tier_index(self);
        }
        applied.course_set_right = set_right.course;
    }

    /// Every event of the customer in time order, the late order (if any)
    /// in its place; None where the stored ones do not tell the whole
    /// course.
    fn events_in_time<'a>(
        &self,
        before: &CustomerState,
        late: Option<&Order>,
        others: &'a [OrderRecord],
    ) -> Option<Vec<Event<'a>>> {
        // A customer past the bound costs one comparison, not a walk.
        if others.len() >= MAX_REPLAYED_EVENTS {
            return None;
        }
        let version = Some(self.version());
        // Every order read (none when they were not: a decision alone).
        let told_by_events = others.len() as u64 == before.orders_applied
            && before.config_version.is_none_or(|v| Some(v) == version)
            && before.history_told_by_events()
            && others.iter().all(|o| {
                o.config_version == version
                    && late.is_none_or(|l| o.order_id != l.order_id)
                    && o.returns.iter().map(|r| r.amount).sum::<Decimal>() == o.returned_amount
            });
        let reads_redemptions = self.counts_current_points() || self.keeps_by_current_points();
        let redeemed: &[crate::redeemed::Redeemed] = match (&before.redemptions, reads_redemptions)
        {
            (Some(r), true) => r.as_slice(),
            // Not read, of a customer who may have redeemed: where points
            // expire the instant of a redemption is not kept, only that
            // something took from current points alone.
            (None, true) if before.latest_redemption_at.is_some() || before.points_apart => {
                return None
            }
            _ => &[],
        };
        let returns = others.iter().map(|o| o.returns.len()).sum::<usize>();
        if !told_by_events || others.len() + returns + redeemed.len() >= MAX_REPLAYED_EVENTS {
            return None;
        }
        let mut sorted: Vec<&OrderRecord> = others.iter().collect();
        sorted.sort_by(|a, b| match (a.decided_before(b), b.decided_before(a)) {
            (true, _) => std::cmp::Ordering::Less,
            (_, true) => std::cmp::Ordering::Greater,
            _ => a.placed_at.cmp(&b.placed_at),
        });
        let orders_at = |at: DateTime<Utc>| sorted.iter().filter(move |o| o.placed_at == at);
        // Two orders of one instant neither of which knows it came first.
        let unordered = sorted
            .windows(2)
            .any(|w| w[0].placed_at == w[1].placed_at && !w[0].decided_before(w[1]));
        // A return of another order's instant is placed among that
        // instant's orders by its arrival; one made before arrivals were
        // kept, or tied to a redemption or another order's return, by
        // nothing.
        let ambiguous_return = others.iter().any(|o| {
            o.returns.iter().any(|r| {
                r.arrival.is_none() && orders_at(r.at).any(|p| p.order_id != o.order_id)
                    || late.is_some_and(|l| r.at == l.placed_at)
                    || redeemed.iter().any(|x| x.at == r.at)
                    || others
                        .iter()
                        .any(|p| p.order_id != o.order_id && p.returns.iter().any(|q| q.at == r.at))
            })
        });
        let ambiguous_order = late.is_some_and(|l| {
            orders_at(l.placed_at).next().is_some() || redeemed.iter().any(|x| x.at == l.placed_at)
        });
        if unordered || ambiguous_return || ambiguous_order {
            return None;
        }
        // At one instant, by slot: the redemptions first where one of its
        // orders was decided after a redemption of it, as every walk of
        // the orders counts them (`redeemed.rs`), else last; its orders in
        // the order they were decided (the k-th at 2k + 2); a return after
        // the j orders of its instant counted before it (at 2j + 1: an
        // order without an arrival was the first of its instant, a return
        // without one came after its own order, the only one there).
        let (redeemed_first, redeemed_last) = (0, u64::MAX);
        let mut events: Vec<(DateTime<Utc>, u64, Event<'a>)> = Vec::new();
        let mut slot = (None, 0);
        for o in &sorted {
            let k = match slot {
                (Some(at), k) if at == o.placed_at => k + 1,
                _ => 0,
            };
            slot = (Some(o.placed_at), k);
            events.push((
                o.placed_at,
                2 * k + 2,
                Event::Order(o.order_as_decided(REPLAYED_CUSTOMER, OrderStatus::Completed)),
            ));
            for r in &o.returns {
                let before = |p: &&&OrderRecord| match (p.arrival, r.arrival) {
                    (Some(n), Some(m)) => n < m,
                    _ => true,
                };
                let j = orders_at(r.at).filter(before).count() as u64;
                events.push((r.at, 2 * j + 1, Event::Return(&o.order_id, r.at, r.amount)));
            }
        }
        if let Some(late) = late {
            events.push((late.placed_at, 2, Event::Order(late.clone())));
        }
        for (n, x) in redeemed.iter().enumerate() {
            let first = orders_at(x.at).any(|o| o.after_redemption);
            let slot = if first { redeemed_first } else { redeemed_last };
            events.push((x.at, slot, Event::Redemption(n, x.at, x.points)));
        }
        // Stable: the returns of one order stay in the order they came.
        events.sort_by_key(|e| (e.0, e.1));
        Some(events.into_iter().map(|e| e.2).collect())
    }
}
