//! The scheduled job's rules: points expire `pointsExpiry` after the day they
//! were earned (oldest first), and tracker days that have left every window
//! are dropped. Expiring twice for the same moment changes nothing more.

use crate::notice::MAX_NOTICES_PER_DECISION;
use crate::period::{date_of, day_of, DayNumber};
use crate::program::Program;
use crate::state::{CustomerState, TierChange};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

/// Period ends judged in one call at most, a bound that valid data never
/// reaches: events fall in 1970..2200, so a monthly validity has at most
/// 2,760 ends there, each with at most one grace end (5,520 instants). A
/// bad state stops here instead of looping.
/// With up to five warning days per period, 5,520 + 13,800 = 19,320.
const MAX_VALIDITY_STEPS: usize = 40_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expired {
    pub points: Decimal,
    pub tracker_days: usize,
    /// Renewals and moves down, in time order.
    pub changes: Vec<TierChange>,
    /// Graces that began (the condition failed at the end of a validity):
    /// the status shows them, so the job reports the customer changed.
    pub graces_started: usize,
    /// Warning days that came (each is recorded so it warns once).
    pub warning_days: usize,
    /// Warnings that went out on them (the tier was at risk).
    pub warnings: usize,
}

impl Expired {
    pub fn changed(&self) -> bool {
        !self.points.is_zero()
            || self.tracker_days > 0
            || !self.changes.is_empty()
            || self.graces_started > 0
            || self.warning_days > 0
    }
}

impl Program {
    /// Everything due by `now`, in time order: points and tracker days, and
    /// each end of a tier's validity or grace judged as of its instant (with
    /// what expired before it gone and nothing after it).
    pub fn expire(&self, state: &mut CustomerState, now: DateTime<Utc>) -> Expired {
        self.expire_publishing_at_most(state, now, usize::MAX).0
    }

    /// [`Program::expire`] up to the customer's latest instant, as far as
    /// one decision's notices go ([`MAX_NOTICES_PER_DECISION`]): after a
    /// decision that moved the tier at an earlier instant, the ends that
    /// tier's validity brings by now, judged as the job would have.
    pub(crate) fn catch_up_to_latest(&self, state: &mut CustomerState) {
        if let Some(now) = state.last_event_at {
            self.expire_publishing_at_most(state, now, MAX_NOTICES_PER_DECISION);
        }
    }

    /// [`Program::expire`], stopping before a validity instant once judging
    /// it could leave more than `most` notices in the outbox (one commit
    /// writes a bounded number): whether it got to `now`. What it did judge
    /// is exactly what `expire` judges up to there, so calling it again after
    /// the outbox is written carries on where it stopped.
    pub fn expire_publishing_at_most(
        &self,
        state: &mut CustomerState,
        now: DateTime<Utc>,
        most: usize,
    ) -> (Expired, bool) {
        let mut expired = Expired::default();
        // A validity instant publishes at most two notices (the change, and
        // the warning of a grace that begins); a warning day one.
        let room = |state: &CustomerState| state.outbox.notices().len().saturating_add(2) <= most;
        // A grace left by a rule a later config removed ends with the rule:
        // it must not come back if a rule is added again.
        if state.grace_until.is_some() && self.in_grace_until(state).is_none() {
            state.grace_until = None;
        }
        if self.lapses {
            for _ in 0..MAX_VALIDITY_STEPS {
                let due = |at: &DateTime<Utc>| *at <= now;
                let validity = self.next_validity_instant(state).filter(due);
                let warning = self.next_warning(state).filter(due);
                if (warning.is_some() || validity.is_some()) && !room(state) {
                    return (expired, false);
                }
                let at = match (warning, validity) {
                    (Some(w), v) if v.is_none_or(|v| w < v) => {
                        self.expire_by(state, w, &mut expired);
                        expired.warning_days += 1;
                        if self.warn_at(state, w) {
                            expired.warnings += 1;
                        }
                        continue;
                    }
                    (_, Some(at)) => at,
                    (_, None) => break,
                };
                self.expire_by(state, at, &mut expired);
                let in_grace = state.grace_until.is_some();
                self.judge_validity_at(state, at, &mut expired.changes);
                if !in_grace && state.grace_until.is_some() {
                    expired.graces_started += 1;
                }
            }
        }
        state.saw_event(now);
        self.expire_by(state, now, &mut expired);
        (expired, true)
    }

    fn expire_by(&self, state: &mut CustomerState, now: DateTime<Utc>, expired: &mut Expired) {
        let today = day_of(now);
        expired.points += self.expire_points_by(state, now);
        for (tracker, series) in self.trackers().iter().zip(state.trackers.iter_mut()) {
            let first = tracker.kept_from(today);
            let before = series.len();
            if series.drop_before(first) {
                expired.tracker_days += before - series.len();
            }
        }
    }

    /// Takes the lots due by `now` from current points, oldest first (never
    /// below zero): what expired.
    pub(crate) fn expire_points_by(
        &self,
        state: &mut CustomerState,
        now: DateTime<Utc>,
    ) -> Decimal {
        let Some(period) = self.config().points_expiry else {
            return Decimal::ZERO;
        };
        let today = day_of(now);
        let mut expired = Decimal::ZERO;
        while let Some(lot) = state.lots.front() {
            if period.forward_from(lot.day) > today {
                break;
            }
            let gone = lot.points.min(state.current_points.max(Decimal::ZERO));
            let day = lot.day;
            state.current_points -= gone;
            state.points_apart |= !gone.is_zero();
            expired += gone;
            state.lots.pop_front();
            state.note_expired(day, period.forward_from(day), gone);
        }
        state.forget_expired(today);
        expired
    }

    /// The customer's points by the day they expire, soonest first (points
    /// expire oldest first, so a day's figure is at most what is left).
    pub fn expiring_points(&self, state: &CustomerState) -> Vec<(NaiveDate, Decimal)> {
        let Some(period) = self.config().points_expiry else {
            return Vec::new();
        };
        let mut left = state.current_points.max(Decimal::ZERO);
        let mut out: Vec<(NaiveDate, Decimal)> = Vec::new();
        for lot in &state.lots {
            let points = lot.points.min(left);
            if points <= Decimal::ZERO {
                break;
            }
            left -= points;
            let on = date_of(period.forward_from(lot.day));
            match out.last_mut() {
                Some((day, sum)) if *day == on => *sum += points,
                _ => out.push((on, points)),
            }
        }
        out
    }

    /// The first day on which something observable happens to this
    /// customer: points expire, a validity or grace ends, a warning day
    /// comes. The key of the sparse index the scheduled job reads instead of
    /// scanning. A tracker day leaving its window is not one: windows are
    /// computed as of any instant, and the days that left are trimmed on
    /// the customer's next write, so with 12-month trackers a customer is
    /// not due every day (docs/benchmarks.md, "The job").
    pub fn next_expiry(&self, state: &CustomerState) -> Option<NaiveDate> {
        let points = self
            .config()
            .points_expiry
            .and_then(|p| state.lots.front().map(|l| p.forward_from(l.day)));
        // The day a validity or grace ends, or a warning day: the job
        // judges it then.
        let validity = self
            .lapses
            .then(|| {
                let end = self.next_validity_instant(state);
                let warning = self.next_warning(state);
                end.into_iter().chain(warning).min()
            })
            .flatten()
            .map(day_of);
        points
            .into_iter()
            .chain(validity)
            .min()
            .map(|d: DayNumber| date_of(d))
    }
}
