//! A late event placed before an older validity end than the latest one
//! judged. The state keeps the figures of the latest end only
//! (`rejudge.rs`), so an older end is judged again by walking the
//! customer's course anew from the last change of tier before the event,
//! on the orders as they stood at each instant (`late_ends.rs`): each end,
//! grace, move down and lift by an order, with the late event counted.
//! Where that course parts from the one told, what the new course does from
//! there is told after it, as a late upgrade's course is: the changes it
//! supersedes stay published, and an entry dated before them takes their
//! place in the history (README "Late events").

use crate::events::{OrderRecord, Return};
use crate::notice::NoticeKind;
use crate::program::Program;
use crate::rejudge::LATE_ORDER;
use crate::state::{CustomerState, TierChange, HISTORY_KEPT};
use crate::validity::{RENEWED, RETENTION};
use chrono::{DateTime, Utc};

/// What happened at one instant of a course: the tier held before it and
/// after it (the same tier for a renewal).
#[derive(Debug, Clone, PartialEq)]
struct Step {
    at: DateTime<Utc>,
    from: String,
    to: String,
}

impl Program {
    /// Whether the course from before an event placed at `placed` is
    /// walked again (it needs the customer's orders): the event comes
    /// before the latest judged end or before a renewal in a grace, or
    /// while a grace runs (the state's windows may have dropped the days
    /// the grace's recovery reads).
    pub(crate) fn walks_course_for(&self, state: &CustomerState, placed: DateTime<Utc>) -> bool {
        self.lapses
            && (state.grace_until.is_some()
                || state.judged.as_ref().is_some_and(|j| placed < j.at)
                || state
                    .standing_changes()
                    .iter()
                    .any(|c| c.at > placed && judged_end(c)))
    }

    /// [`Program::judge_older_ends_again`] for a return made before the
    /// customer's latest event (`orders` holds its record as updated).
    pub(crate) fn walks_after_return(
        &self,
        state: &mut CustomerState,
        orders: &[OrderRecord],
        record: &OrderRecord,
        ret: &Return,
    ) -> bool {
        let late = state
            .last_event_at
            .is_some_and(|latest| ret.returned_at < latest);
        let all: Vec<&OrderRecord> = orders.iter().collect();
        let cause = format!("{LATE_ORDER} {}", record.order_id);
        late && self.judge_older_ends_again(state, &all, ret.returned_at, &cause)
    }

    /// Judges again the ends after a late event at `placed` (already
    /// counted in the state and in `orders`, every order of the customer):
    /// whether it did. Not when the course since the change of tier
    /// before the event holds anything the walk does not make (an admin
    /// set, a re-evaluation, a move down by a return, another config
    /// version), nor past one decision's notices: then only the latest
    /// end is judged again, as before.
    pub(crate) fn judge_older_ends_again(
        &self,
        state: &mut CustomerState,
        orders: &[&OrderRecord],
        placed: DateTime<Utc>,
        late_cause: &str,
    ) -> bool {
        if orders.is_empty()
            || self.counts_current_points()
            || self.keeps_by_current_points()
            || state.history.len() >= HISTORY_KEPT
            || !self.walks_course_for(state, placed)
        {
            return false;
        }
        let standing: Vec<TierChange> = state.standing_changes().into_iter().cloned().collect();
        let Some(start) = standing
            .iter()
            .rposition(|c| c.at < placed && c.from != c.to)
        else {
            return false;
        };
        let kept = start + 1;
        let walked_makes = |c: &TierChange| {
            !c.admin
                && !c.is_reevaluation()
                && c.config_version == Some(self.version())
                && (judged_end(c)
                    || c.cause.starts_with("order ")
                    || c.cause.starts_with(LATE_ORDER))
        };
        if !standing[kept..].iter().all(walked_makes) {
            return false;
        }
        let stint = &standing[start];
        // The walk judges under the rules in force: every order since was
        // decided under them too.
        let current = |o: &OrderRecord| {
            o.placed_at <= stint.at || o.config_version.is_none_or(|v| v == self.version())
        };
        if !orders.iter().all(|o| current(o)) {
            return false;
        }
        let mut walked = state.clone();
        walked.outbox = Default::default();
        walked.history = standing[..kept].to_vec();
        walked.tier.clone_from(&stint.to);
        walked.tier_since = stint.at;
        walked.renewed_at = None;
        walked.grace_until = None;
        walked.judged = None;
        walked.warned_through = Some(stint.at);
        let top = self.tiers().len() - 1;
        if !self.judge_ends_after_late_upgrade(&mut walked, orders, stint.at, top) {
            return false;
        }
        let told = course(&standing[kept..]);
        let anew = course(&walked.history[kept..]);
        let Some(k) = (0..told.len().max(anew.len())).find(|i| told.get(*i) != anew.get(*i)) else {
            // The same course: only what the latest end was judged on, or a
            // grace, may differ, and nothing more is told.
            state.adopt_validity_of(walked);
            return true;
        };
        // The new course's first step of its own, and the tier it held
        // up to there.
        let first_new = anew.get(k).map(|s| s.at);
        let held_anew = anew.get(k).map_or(&walked.tier, |s| &s.from);
        let parted = told
            .get(k)
            .map_or(first_new, |s| Some(first_new.map_or(s.at, |n| n.min(s.at))));
        let Some(parted) = parted else {
            return false;
        };
        // A told step before the new course's first, or at its instant,
        // stays in the history; the first that leaves another tier than
        // the new course held there is set right at its instant (which
        // also sets aside every told step after it).
        let correction = told[k..]
            .iter()
            .take_while(|s| first_new.is_none_or(|n| s.at <= n))
            .find(|s| s.to != *held_anew)
            .map(|s| TierChange {
                from: s.to.clone(),
                to: held_anew.clone(),
                at: s.at,
                cause: late_cause.to_owned(),
                config_version: Some(self.version()),
                admin: false,
            });
        let mut notices = walked.outbox.take();
        notices.retain(|n| n.at() >= parted);
        if let Some(change) = correction {
            // A renewal of the tier set right, at its instant, is told by
            // the change itself (as `rejudge.rs` undoes a move down).
            let renewal = notices.iter().position(|n| {
                matches!(&n.kind, NoticeKind::Changed { change: c, .. }
                    if c.at == change.at && c.from == c.to && c.to == change.to)
            });
            let criteria = match renewal.map(|i| notices.remove(i).kind) {
                Some(NoticeKind::Changed { criteria, .. }) => criteria,
                _ => Vec::new(),
            };
            state.record_change(change, criteria);
        }
        for notice in notices {
            state.retell(notice.kind);
        }
        state.adopt_validity_of(walked);
        true
    }
}

impl Program {
    /// Whether a retention rule counts current points, which the orders do
    /// not tell as of an instant (spent and expired points are not in them).
    fn keeps_by_current_points(&self) -> bool {
        self.tiers()
            .iter()
            .filter_map(|t| t.retention.as_ref())
            .flat_map(|r| &r.rule.criteria)
            .any(|c| c.kind == crate::config::CriterionKind::CurrentPoints)
    }
}

/// An entry of a validity end's judgment: a renewal or a move down by
/// retention.
fn judged_end(c: &TierChange) -> bool {
    c.cause == RENEWED || c.cause == RETENTION
}

/// The steps of `changes` (in time order), one an instant: an order that
/// crosses two tiers at once, and a move down set right at its instant,
/// are one step.
fn course(changes: &[TierChange]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::with_capacity(changes.len());
    for c in changes {
        match steps.last_mut() {
            Some(last) if last.at == c.at => last.to.clone_from(&c.to),
            _ => steps.push(Step {
                at: c.at,
                from: c.from.clone(),
                to: c.to.clone(),
            }),
        }
    }
    steps
}
