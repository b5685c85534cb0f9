//! Tier validity: when a tier's period ends, whether it renews, grace, and
//! where a customer goes when it does not.
//!
//! Period ends are judged in time order with everything else that falls due
//! ([`Program::expire`] runs before every event and in the scheduled job), so
//! the condition at an end sees the customer exactly as of that instant:
//! every event before it counted, nothing after it. Judging again for the
//! same instant changes nothing more.

use crate::config::{OnFail, ValidityFrom};
use crate::evaluate::Evaluator;
use crate::expression::MetMask;
use crate::program::{Program, Retention, TierIndex};
use crate::progress::CriterionProgress;
use crate::rejudge::{Judged, Outcome};
use crate::state::{CustomerState, TierChange};
use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use rust_decimal::Decimal;

/// History cause of a renewal (`from` and `to` are the same tier).
pub const RENEWED: &str = "renewed";
/// History cause of a move down because retention failed.
pub const RETENTION: &str = "retention";

/// The customer's tier will lapse unless its condition is met by `on`.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRisk {
    pub tier: TierIndex,
    /// The end of the validity, or of the grace when it runs.
    pub on: DateTime<Utc>,
    pub criteria: Vec<CriterionProgress>,
}

impl Program {
    pub(crate) fn retention_of(&self, state: &CustomerState) -> Option<(TierIndex, &Retention)> {
        let tier = state.tier_index(self);
        self.tiers[tier].retention.as_ref().map(|r| (tier, r))
    }

    /// When the customer's tier lapses unless its condition holds then
    /// (None: it never lapses, or the end is past the supported dates).
    pub fn valid_until(&self, state: &CustomerState) -> Option<DateTime<Utc>> {
        let (_, r) = self.retention_of(state)?;
        period_end(r, state.valid_from(), state.joined())
    }

    /// The end of the grace, while one runs.
    pub fn in_grace_until(&self, state: &CustomerState) -> Option<DateTime<Utc>> {
        self.retention_of(state).and(state.grace_until)
    }

    /// The next instant something about the tier's validity is decided: the
    /// end of the grace while one runs, else the end of the period.
    pub fn next_validity_instant(&self, state: &CustomerState) -> Option<DateTime<Utc>> {
        self.in_grace_until(state)
            .or_else(|| self.valid_until(state))
    }

    /// Whether the tier's retention condition holds at `at`, and which of
    /// its criteria are met.
    pub(crate) fn retention_outcome(
        &self,
        state: &CustomerState,
        tier: TierIndex,
        r: &Retention,
        at: DateTime<Utc>,
    ) -> (bool, MetMask) {
        let eval = Evaluator::new(self, state, at, tier, None).counting_from(r.counted_from);
        let met = eval.met(&r.rule, Decimal::ZERO, Decimal::ZERO);
        (r.rule.table.holds(met), met)
    }

    /// Each of the rule's criterion values at `at` (kept with the
    /// judgment, see [`crate::rejudge`]).
    fn retention_figures(
        &self,
        state: &CustomerState,
        tier: TierIndex,
        r: &Retention,
        at: DateTime<Utc>,
    ) -> Vec<Decimal> {
        let eval = Evaluator::new(self, state, at, tier, None).counting_from(r.counted_from);
        r.rule
            .criteria
            .iter()
            .map(|c| eval.value(c, Decimal::ZERO, Decimal::ZERO))
            .collect()
    }

    /// Decides what falls due at `at`, which must be
    /// [`Program::next_validity_instant`], with the state brought to `at`.
    pub(crate) fn judge_validity_at(
        &self,
        state: &mut CustomerState,
        at: DateTime<Utc>,
        changes: &mut Vec<TierChange>,
    ) {
        let Some((tier, r)) = self.retention_of(state) else {
            return;
        };
        let (holds, met) = self.retention_outcome(state, tier, r, at);
        let missed = r.rule.ids(met, false);
        let judged = |state: &CustomerState, outcome: Outcome, renews_from| Judged {
            at,
            tier: self.tier_name(tier).to_owned(),
            version: self.version(),
            figures: self.retention_figures(state, tier, r, at),
            outcome,
            renews_from,
            renewed_before: state.renewed_at,
            tier_since_before: state.tier_since,
            end_figures: Vec::new(),
            landing: match r.on_fail {
                OnFail::Qualified => self.upgrade_figures(state, tier, at),
                _ => Vec::new(),
            },
        };
        if state.grace_until.is_some() {
            // The grace ran out without the condition being met. A renewal
            // undoing it counts from the end of the period that had run out.
            let Some(period_end) = period_end(r, state.valid_from(), state.joined()) else {
                return;
            };
            let mut record = judged(state, Outcome::Renewed, period_end);
            record.end_figures = state
                .judged
                .take()
                .filter(|j| j.at == period_end)
                .map(|j| j.figures)
                .unwrap_or_default();
            record.outcome = self.fail(state, tier, r, at, missed, changes);
            state.judged = Some(record);
            return;
        }
        let mut record = judged(state, Outcome::Renewed, at);
        if holds {
            self.renew(state, tier, at, at, r.rule.ids(met, true), changes);
        } else {
            record.outcome = self.judge_failed(state, tier, r, at, missed, changes);
        }
        state.judged = Some(record);
    }

    /// Each upgrade criterion's value at `at` for the tiers above the base
    /// up to `tier` (empty for a tier without an upgrade rule).
    fn upgrade_figures(
        &self,
        state: &CustomerState,
        tier: TierIndex,
        at: DateTime<Utc>,
    ) -> Vec<Vec<Decimal>> {
        let eval = Evaluator::new(self, state, at, 0, None);
        self.tiers[1..=tier]
            .iter()
            .map(|t| {
                t.rule
                    .iter()
                    .flat_map(|rule| &rule.criteria)
                    .map(|c| eval.value(c, Decimal::ZERO, Decimal::ZERO))
                    .collect()
            })
            .collect()
    }

    /// The retention rule of the tier named `tier`, if it has one.
    pub(crate) fn retention_named(&self, tier: &str) -> Option<&Retention> {
        self.tiers
            .iter()
            .find(|t| t.name == tier)
            .and_then(|t| t.retention.as_ref())
    }

    /// The condition failed at the end of a period: grace if the tier has
    /// one, else the move down.
    pub(crate) fn judge_failed(
        &self,
        state: &mut CustomerState,
        tier: TierIndex,
        r: &Retention,
        at: DateTime<Utc>,
        missed: Vec<String>,
        changes: &mut Vec<TierChange>,
    ) -> Outcome {
        if r.grace_days == 0 {
            return self.fail(state, tier, r, at, missed, changes);
        }
        let until = at + Duration::days(r.grace_days.into());
        state.grace_until = Some(until);
        if let Some(risk) = self.at_risk(state, at) {
            state.warn(at, risk.on, risk.criteria);
        }
        Outcome::Grace { until }
    }

    /// A late order met the condition of the end that had started a grace:
    /// renewed as of that end.
    pub(crate) fn renew_judged(
        &self,
        state: &mut CustomerState,
        tier: TierIndex,
        judged: &Judged,
        criteria: Vec<String>,
    ) {
        let mut changes = Vec::with_capacity(1);
        self.renew(
            state,
            tier,
            judged.renews_from,
            judged.at,
            criteria,
            &mut changes,
        );
    }

    /// An order placed at `at` during grace: a customer it lets meet the
    /// condition keeps the tier ([`Program::recover_in_grace`]), and the
    /// renewed period's warning days before the order have passed (a grace
    /// longer than the time from a warning day to the end puts some there):
    /// a warning now would come after the fact.
    pub(crate) fn recover_by_order(&self, state: &mut CustomerState, at: DateTime<Utc>) {
        if self.recover_in_grace(state, at).is_some()
            && state.warned_through.is_none_or(|done| done < at)
        {
            state.warned_through = Some(at);
        }
    }

    /// After an event during grace: a customer who meets the condition now
    /// keeps the tier, renewed as from the end of the period that had run
    /// out (so its anniversaries do not move).
    pub(crate) fn recover_in_grace(
        &self,
        state: &mut CustomerState,
        at: DateTime<Utc>,
    ) -> Option<TierChange> {
        let grace = state.grace_until?;
        let (tier, r) = self.retention_of(state)?;
        if at >= grace {
            return None;
        }
        let (holds, met) = self.retention_outcome(state, tier, r, at);
        if !holds {
            return None;
        }
        let criteria = r.rule.ids(met, true);
        // Renewed as from the last period end passed by now: with a grace
        // longer than the period, more than one end has gone by.
        let joined = state.joined();
        let mut from = period_end(r, state.valid_from(), joined)?;
        while let Some(next) = period_end(r, from, joined).filter(|next| *next <= at) {
            from = next;
        }
        let mut changes = Vec::with_capacity(1);
        self.renew(state, tier, from, at, criteria, &mut changes);
        changes.pop()
    }

    fn renew(
        &self,
        state: &mut CustomerState,
        tier: TierIndex,
        period_from: DateTime<Utc>,
        at: DateTime<Utc>,
        criteria: Vec<String>,
        changes: &mut Vec<TierChange>,
    ) {
        state.renewed_at = Some(period_from);
        state.grace_until = None;
        let change = self.validity_change(tier, tier, at, RENEWED);
        state.record_renewal(change.clone(), criteria);
        changes.push(change);
    }

    pub(crate) fn fail(
        &self,
        state: &mut CustomerState,
        tier: TierIndex,
        r: &Retention,
        at: DateTime<Utc>,
        missed: Vec<String>,
        changes: &mut Vec<TierChange>,
    ) -> Outcome {
        let to = match r.on_fail {
            OnFail::OneDown => tier.saturating_sub(1),
            OnFail::Base => 0,
            OnFail::Qualified => Evaluator::new(self, state, at, 0, None)
                .highest_holding(0, Decimal::ZERO, Decimal::ZERO)
                .map_or(0, |(t, _)| t)
                .min(tier),
        };
        if to == tier {
            // Still qualified for the tier itself: a new period from now,
            // decided by its upgrade criteria.
            let upgrade = Evaluator::new(self, state, at, 0, None)
                .holds(tier, Decimal::ZERO, Decimal::ZERO)
                .zip(self.tiers[tier].rule.as_ref())
                .map(|(met, rule)| rule.ids(met, true))
                .unwrap_or_default();
            self.renew(state, tier, at, at, upgrade, changes);
            return Outcome::Requalified;
        }
        let change = self.validity_change(tier, to, at, RETENTION);
        state.record_change(change.clone(), missed);
        changes.push(change);
        Outcome::Down {
            to: self.tier_name(to).to_owned(),
        }
    }

    /// The next warning day of the current period not handled yet: each
    /// `warnDaysBefore` day before the end that falls after the period began
    /// (none during grace, whose start warns by itself).
    pub fn next_warning(&self, state: &CustomerState) -> Option<DateTime<Utc>> {
        if state.grace_until.is_some() {
            return None;
        }
        let (_, r) = self.retention_of(state)?;
        if r.warn_days_before.is_empty() {
            return None;
        }
        let from = state.valid_from();
        let end = period_end(r, from, state.joined())?;
        r.warn_days_before
            .iter()
            .map(|days| end - Duration::days((*days).into()))
            .filter(|w| *w > from && state.warned_through.is_none_or(|done| *w > done))
            .min()
    }

    /// A warning day `at` came ([`Program::next_warning`], the state brought
    /// to `at`): a warning goes out if the tier is at risk then.
    pub(crate) fn warn_at(&self, state: &mut CustomerState, at: DateTime<Utc>) -> bool {
        state.warned_through = Some(at);
        match self.at_risk(state, at) {
            Some(risk) => {
                state.warn(at, risk.on, risk.criteria);
                true
            }
            None => false,
        }
    }

    fn validity_change(
        &self,
        from: TierIndex,
        to: TierIndex,
        at: DateTime<Utc>,
        cause: &str,
    ) -> TierChange {
        TierChange {
            from: self.tier_name(from).to_owned(),
            to: self.tier_name(to).to_owned(),
            at,
            cause: cause.to_owned(),
            config_version: Some(self.version()),
            admin: false,
        }
    }

    /// From the first warning day before the end of the validity (and
    /// throughout grace) while the condition would not hold at that end:
    /// what is missing. It is judged as of the end with what is known now,
    /// so spending that will have left a window by then does not count.
    pub fn at_risk(&self, state: &CustomerState, now: DateTime<Utc>) -> Option<AtRisk> {
        let (tier, r) = self.retention_of(state)?;
        let on = match state.grace_until {
            Some(grace) => grace,
            None => {
                let end = period_end(r, state.valid_from(), state.joined())?;
                let earliest = *r.warn_days_before.first()?;
                if now < end - Duration::days(earliest.into()) {
                    return None;
                }
                end
            }
        };
        let eval =
            Evaluator::new(self, state, on.max(now), tier, None).counting_from(r.counted_from);
        let met = eval.met(&r.rule, Decimal::ZERO, Decimal::ZERO);
        if r.rule.table.holds(met) {
            return None;
        }
        let criteria = r
            .rule
            .criteria
            .iter()
            .enumerate()
            .map(|(i, c)| self.criterion_progress(&eval, c, met & (1 << i) != 0))
            .collect();
        Some(AtRisk { tier, on, criteria })
    }
}

/// The end of a validity period that started at `from`.
pub(crate) fn period_end(
    r: &Retention,
    from: DateTime<Utc>,
    joined: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let months = r.validity_months;
    match r.from {
        ValidityFrom::TierStart => from.checked_add_months(Months::new(months)),
        ValidityFrom::ProgramJoin => {
            // The first anniversary after `from`, counted from the join
            // itself so that a 31st stays a 31st where the month has one.
            let anniversary =
                |k: u32| joined.checked_add_months(Months::new(k.checked_mul(months)?));
            let elapsed =
                (from.year() - joined.year()) * 12 + from.month() as i32 - joined.month() as i32;
            let mut k = (elapsed.max(0) as u32 / months).max(1);
            loop {
                let end = anniversary(k)?;
                if end > from {
                    return Some(end);
                }
                k += 1;
            }
        }
        ValidityFrom::FixedDate(day) => {
            // The first such date at least a whole validity after `from`.
            let earliest = from.checked_add_months(Months::new(months))?;
            let on = |year: i32| {
                Utc.with_ymd_and_hms(year, day.month, day.day, 0, 0, 0)
                    .single()
            };
            let this_year = on(earliest.year())?;
            if this_year >= earliest {
                Some(this_year)
            } else {
                on(earliest.year() + 1)
            }
        }
    }
}
