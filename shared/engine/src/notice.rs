//! What a change of a customer tells the world: every tier change, renewal
//! and at-risk warning, collected while the engine decides, so that the
//! service writes each one in the same transaction as the state it belongs
//! to (published once, or not at all when that write loses a race).

use crate::progress::CriterionProgress;
use crate::state::TierChange;
use chrono::{DateTime, Utc};

/// Notices one decision leaves in the outbox at most when it has the
/// choice: validity ends that a late upgrade or a re-judged end makes due
/// by the customer's latest instant are judged only while they fit, the
/// rest when the customer is next caught up (the job, or the next event
/// placed after them); a lift after a move down is made only while it
/// fits. What a re-judged end adds after them is a few more, which the
/// store's bound per commit leaves room for.
pub const MAX_NOTICES_PER_DECISION: usize = 90;

/// Notices owed from before an event (the validity ends and warnings of a
/// customer idle since) that the event's own decision carries at most:
/// when more are owed, they are written first, a commit of this many at a
/// time, so that what the decision adds itself (an order crossing every
/// tier above the base publishes one change a tier) still fits.
pub const MAX_NOTICES_OWED_BEFORE_A_DECISION: usize = 45;

const _: () = assert!(
    MAX_NOTICES_OWED_BEFORE_A_DECISION + crate::program::MAX_TIERS <= MAX_NOTICES_PER_DECISION
);

#[derive(Debug, Clone, PartialEq)]
pub enum NoticeKind {
    /// An upgrade, a move down (retention or a return), an admin set, or a
    /// renewal (`from` and `to` the same tier).
    Changed {
        change: TierChange,
        /// The criteria that decided: those met for an upgrade or a
        /// renewal, those missed for a move down by retention (empty for an
        /// admin set and a return).
        criteria: Vec<String>,
    },
    /// The tier lapses unless its retention condition holds by `on`: a
    /// warning day came, or a grace began.
    AtRisk {
        tier: String,
        on: DateTime<Utc>,
        at: DateTime<Utc>,
        criteria: Vec<CriterionProgress>,
        /// A grace began (`on` is its end) rather than a warning day came.
        grace: bool,
    },
}

impl NoticeKind {
    /// Whether both warn of the same end on the same day (the figures
    /// they carry may have been read otherwise).
    pub(crate) fn same_warning(&self, other: &NoticeKind) -> bool {
        match (self, other) {
            (
                NoticeKind::AtRisk {
                    tier,
                    on,
                    at,
                    grace,
                    ..
                },
                NoticeKind::AtRisk {
                    tier: other_tier,
                    on: other_on,
                    at: other_at,
                    grace: other_grace,
                    ..
                },
            ) => tier == other_tier && on == other_on && at == other_at && grace == other_grace,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The customer's count of notices so far, this one included: with the
    /// program and customer, the notice's identity (consumers dedupe on it).
    pub seq: u64,
    pub kind: NoticeKind,
}

impl Notice {
    /// When what the notice tells happened.
    pub fn at(&self) -> DateTime<Utc> {
        match &self.kind {
            NoticeKind::Changed { change, .. } => change.at,
            NoticeKind::AtRisk { at, .. } => *at,
        }
    }
}

/// The notices of the decision in progress, and how often the history let
/// go of entries meanwhile. Not stored and not part of what a state is: two
/// states that hold the same standing are equal whatever they still have
/// to tell.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    notices: Vec<Notice>,
    /// Counts every time the history let go of entries, so that a decision
    /// taking back its own entries by position can tell none moved.
    history_trims: u64,
    /// While a late event's walk that would run out of notices judges ends
    /// again up to this instant: the at-risk warnings of those ends go
    /// untold (each end's own renewal or move down tells how it came out,
    /// and their act-by date is past), so that the walk's changes reach
    /// the latest instant inside one decision's notices.
    spare_warnings_of_ends_by: Option<DateTime<Utc>>,
    /// While one telling adds its entries, the history is trimmed once
    /// after it (`CustomerState::trimming_once`).
    trims_put_off: bool,
}

impl PartialEq for Outbox {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Outbox {
    pub(crate) fn push(&mut self, notice: Notice) {
        self.notices.push(notice);
    }

    /// Takes every notice, oldest first, leaving the outbox empty.
    pub fn take(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    /// Spares the warnings of ends by `by` (none: tells every warning);
    /// what was spared before.
    pub(crate) fn spare_warnings_of_ends_by(
        &mut self,
        by: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        std::mem::replace(&mut self.spare_warnings_of_ends_by, by)
    }

    pub(crate) fn count_history_trim(&mut self) {
        self.history_trims += 1;
    }

    pub(crate) fn history_trims(&self) -> u64 {
        self.history_trims
    }

    /// Puts trims off (or not); whether they were put off before.
    pub(crate) fn put_off_trims(&mut self, put_off: bool) -> bool {
        std::mem::replace(&mut self.trims_put_off, put_off)
    }

    pub(crate) fn trims_put_off(&self) -> bool {
        self.trims_put_off
    }

    /// Whether a warning of the end `on` goes untold.
    pub(crate) fn spares_warning_of(&self, on: DateTime<Utc>) -> bool {
        self.spare_warnings_of_ends_by.is_some_and(|by| on <= by)
    }
}
