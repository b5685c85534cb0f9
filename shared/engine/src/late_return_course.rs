//! A late return told as the course in time since its instant.
//!
//! Judged now, with every later event counted, a late return lands the
//! customer on a tier; the dating of `returns.rs` says when the move down
//! came and since when the tier is held, but tells one move only, and a
//! return that leaves the tier held tells nothing. In time the return may
//! have moved them down at its instant and an order placed since lifted
//! them back (the tier held anew from that order), put off an upgrade a
//! later order made after all, or brought forward a move down a later
//! return made. The course in time since its instant, replayed on the
//! orders as they stood at each instant ([`InTime`]), says each: where it
//! parts from the course told, a told change it no longer makes is set
//! right at its instant (the return undoes it, never before it, as a late
//! return's move is dated), and the course's own changes follow, each with
//! its cause (an order's lift, a return's move down undoing the upgrades
//! it passes). The changes told after the parting stay published; the new
//! ones, dated before them, set them aside in the history, and the last
//! one names the tier held, so a reader of the feed lands where the state
//! does. The tier is held since the course's last change.
//!
//! Only where that is exact: every change told since the return's instant
//! an order's or a return's (no admin set, no end judged, no grace, no
//! late order's move, no re-evaluation), no retention rule on a tier the
//! courses pass through (validity periods would run from other starts),
//! the replay agreeing with the history on the tier held before the
//! return, and within the bounds a late return's dating keeps (instants
//! replayed, one decision's notices, the history's entries). Anything else
//! is dated as before (README "Returns").

use crate::down_since::returned_most_at;
use crate::events::{OrderRecord, Return};
use crate::notice::MAX_NOTICES_PER_DECISION;
use crate::program::{Program, TierIndex};
use crate::returns::LATE_RETURN_INSTANTS;
use crate::reversal::InTime;
use crate::state::{standing_line, CustomerState, TierChange, HISTORY_KEPT};
use chrono::{DateTime, Utc};

/// A change of tier at an instant: to `to` from the tier held before.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Move {
    at: DateTime<Utc>,
    from: TierIndex,
    to: TierIndex,
}

/// `moves` with the steps one instant makes in one direction as one (a
/// return undoing two upgrades at once, an order crossing two tiers), so
/// a told course compares with a replayed one.
fn merged(moves: impl IntoIterator<Item = Move>) -> Vec<Move> {
    let mut out: Vec<Move> = Vec::new();
    for m in moves {
        match out.last_mut() {
            Some(last) if last.at == m.at && (last.to > last.from) == (m.to > m.from) => {
                last.to = m.to;
            }
            _ => out.push(m),
        }
    }
    out.retain(|m| m.from != m.to);
    out
}

impl Program {
    /// The changes that tell the course in time since the late return
    /// `ret` (of order `returned_order`), which lands on `landing`, where
    /// it parts from the course told, and since when `landing` is held in
    /// time. None where the module's list says it is not exact, or when
    /// the two courses agree. `orders`: every order of the customer as it
    /// stands, the returned one updated.
    pub(crate) fn late_return_course(
        &self,
        state: &CustomerState,
        in_time: &InTime<'_>,
        ret: &Return,
        returned_order: &str,
        orders: &[OrderRecord],
        landing: TierIndex,
    ) -> Option<(Vec<TierChange>, DateTime<Utc>)> {
        let returned = ret.returned_at;
        if state.last_event_at.is_none_or(|last| last <= returned)
            || state.grace_until.is_some()
            || state.judged.as_ref().is_some_and(|j| j.at >= returned)
        {
            return None;
        }
        let line = state.standing_changes();
        let (before_line, since_line) = line.split_at(line.partition_point(|c| c.at < returned));
        if !since_line
            .iter()
            .all(|c| c.by_a_return() || c.by_an_order())
        {
            return None;
        }
        let told_start = match before_line.last() {
            Some(c) => self.tier_index(&c.to)?,
            None => self.replay_start(state),
        };
        let told = merged(
            since_line
                .iter()
                .map(|c| {
                    Some(Move {
                        at: c.at,
                        from: self.tier_index(&c.from)?,
                        to: self.tier_index(&c.to)?,
                    })
                })
                .collect::<Option<Vec<Move>>>()?,
        );
        let instants = in_time.instants();
        let (before, after) = instants.split_at(instants.partition_point(|t| *t < returned));
        if after.len() > LATE_RETURN_INSTANTS {
            return None;
        }
        // The instant before it rides along in the one replay: its last
        // tier is the one held when the return came.
        let mut course_before = in_time.course_over(&instants[before.len().saturating_sub(1)..]);
        let course =
            course_before.split_off(course_before.partition_point(|(at, _)| *at < returned));
        let start = course_before
            .last()
            .map_or_else(|| self.replay_start(state), |(_, tier)| *tier);
        if start != told_start || course.last().map(|(_, tier)| *tier) != Some(landing) {
            return None;
        }
        let mut tier = start;
        let mut anew: Vec<Move> = Vec::new();
        for (at, to) in course {
            anew.push(Move { at, from: tier, to });
            tier = to;
        }
        let anew = merged(anew);
        let passes_a_retention_rule = anew.iter().chain(&told).any(|m| {
            self.tiers[m.to].retention.is_some() || self.tiers[m.from].retention.is_some()
        });
        if passes_a_retention_rule {
            return None;
        }
        // Held in time since the course's last change, or since they
        // reached it before the return (the state says so while nothing
        // was told since).
        let since = match (anew.last(), since_line.is_empty()) {
            (Some(m), _) => m.at,
            (None, true) => state.tier_since,
            (None, false) => self.reached(
                state,
                in_time,
                before,
                landing,
                self.replay_start(state),
                returned,
            ),
        };
        let tier_after = |moves: &[Move], at: DateTime<Utc>| {
            moves
                .iter()
                .rfind(|m| m.at <= at)
                .map_or(told_start, |m| m.to)
        };
        let mut instants: Vec<DateTime<Utc>> = told.iter().chain(&anew).map(|m| m.at).collect();
        instants.sort_unstable();
        instants.dedup();
        // The first instant after which the two courses hold different
        // tiers. None: they differ at most within an instant (an order's
        // lift and a return's move down at one instant, told or not), and
        // only the tier's start may move.
        let Some(parted) = instants
            .into_iter()
            .find(|at| tier_after(&told, *at) != tier_after(&anew, *at))
        else {
            return (since != state.tier_since).then_some((Vec::new(), since));
        };
        let late_cause = format!("return {} of order {returned_order}", ret.return_id);
        let told_then = told.iter().any(|m| m.at == parted);
        // What the new changes chain to: the history as a reader of it has
        // it up to there (the new changes, dated before the told ones after
        // it, set those aside).
        let mut telling = state.clone();
        telling.history = line
            .iter()
            .filter(|c| c.at <= parted)
            .map(|c| (*c).clone())
            .collect();
        let mut changes: Vec<TierChange> = Vec::new();
        // A told change of that instant the course in time did not make is
        // set right at its instant: the late return undoes it there (never
        // before it, as a late return's move is dated). Else the course's
        // own changes start there.
        let first_new = match told_then {
            true => {
                let (was, is) = (tier_after(&told, parted), tier_after(&anew, parted));
                if is > was {
                    return None;
                }
                let change = TierChange {
                    from: self.tier_name(was).to_owned(),
                    to: self.tier_name(is).to_owned(),
                    at: parted,
                    cause: late_cause.clone(),
                    config_version: None,
                    admin: false,
                };
                telling.record_change(change.clone(), Vec::new());
                changes.push(change);
                anew.partition_point(|m| m.at <= parted)
            }
            false => anew.partition_point(|m| m.at < parted),
        };
        for m in &anew[first_new..] {
            let made = self.moves_at(&telling, *m, ret, &late_cause, orders)?;
            for change in made {
                telling.record_change(change.clone(), Vec::new());
                changes.push(change);
            }
        }
        if !reads_as(
            state,
            &changes,
            self.tier_name(told_start),
            self.tier_name(landing),
        ) {
            return None;
        }
        let fits = state.history.len() + changes.len() <= HISTORY_KEPT
            && state.outbox.notices().len() + changes.len() <= MAX_NOTICES_PER_DECISION;
        fits.then_some((changes, since))
    }

    /// The changes one step of the course in time makes: a move down
    /// undoes the upgrades it passes, as a return in time did (the late
    /// return's own at its instant, else the return of the order returned
    /// most then); a lift is the order's placed then. None when no return
    /// or order of that instant made it, or the history would not chain it
    /// at that instant.
    fn moves_at(
        &self,
        telling: &CustomerState,
        m: Move,
        ret: &Return,
        late_cause: &str,
        orders: &[OrderRecord],
    ) -> Option<Vec<TierChange>> {
        if m.to > m.from {
            let order = orders.iter().find(|o| o.placed_at == m.at)?;
            return Some(vec![TierChange {
                from: self.tier_name(m.from).to_owned(),
                to: self.tier_name(m.to).to_owned(),
                at: m.at,
                cause: format!("order {}", order.order_id),
                config_version: Some(self.version()),
                admin: false,
            }]);
        }
        let cause = match m.at == ret.returned_at {
            true => late_cause.to_owned(),
            false => format!("return of order {}", returned_most_at(orders, m.at)?),
        };
        self.reversed_steps(telling, m.from, m.to, m.at)
            .into_iter()
            .map(|step| (step.at == m.at).then(|| self.move_down_by_return(&step, &cause)))
            .collect()
    }
}

/// Whether the history with `changes` added reads, as a reader of it
/// takes it (the changes that still stand), as one chain through the new
/// changes (the first from `start` when nothing told stands before it)
/// that ends on `landing`.
fn reads_as(state: &CustomerState, changes: &[TierChange], start: &str, landing: &str) -> bool {
    if changes.is_empty() {
        return true;
    }
    let history: Vec<TierChange> = state.history.iter().chain(changes).cloned().collect();
    let line = standing_line(&history);
    let first_new = line.len() - changes.len();
    let joins = match first_new.checked_sub(1) {
        Some(before) => line[before].to == line[first_new].from,
        None => line[0].from == start,
    };
    let chained = line[first_new..].windows(2).all(|w| w[0].to == w[1].from);
    joins && chained && line.last().is_some_and(|c| c.to == landing)
}
