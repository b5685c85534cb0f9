//! Late events and the validity end they precede.
//!
//! An order placed before a period end that was judged already (the point
//! of sale uploaded it days later), or a return made before it, may change
//! that end's outcome. The end's criterion values are kept with its outcome
//! ([`Judged`]), so the late event moves them exactly as it would have had
//! it come in time, and the end is judged again on them: a downgrade or a
//! grace that should not have happened is undone (renewed as of the end),
//! a renewal that should not have happened fails as of the end (grace or
//! the move down). Each judgment keeps its own values, so a second late
//! event moves them further and nothing is undone twice.
//!
//! Only the latest end is judged again, and only while its outcome still
//! stands (no tier change since; a running grace still runs): a later end
//! or tier change already judged the customer on what came after. Points
//! issued between the end and the late event stay as they were issued, as
//! for a re-evaluation.

use crate::apply::kept_contribution;
use crate::config::OnFail;
use crate::config::{Aggregate, CriterionKind};
use crate::decimal::{Money, Points};
use crate::events::OrderRecord;
use crate::period::DayNumber;
use crate::program::{Criterion, Program, Retention, Rule, TierIndex};
use crate::state::{CustomerState, TierChange};
use crate::validity::RETENTION;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// History cause of a move back up to a tier a late order kept after all.
pub const LATE_ORDER: &str = "late order";

/// The latest judgment of a validity end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Judged {
    pub at: DateTime<Utc>,
    /// The tier whose retention rule was judged.
    pub tier: String,
    pub version: u64,
    /// Each criterion's value at `at`, in the rule's order.
    pub figures: Vec<Decimal>,
    pub outcome: Outcome,
    /// Where a renewal by this judgment counts its new period from: the
    /// period end (also when the judgment was the end of its grace).
    pub renews_from: DateTime<Utc>,
    /// `renewed_at` before the judgment, to judge it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_before: Option<DateTime<Utc>>,
    /// `tier_since` before the judgment.
    pub tier_since_before: DateTime<Utc>,
    /// When this judgment ended a grace: the figures of the period end
    /// that started it. A late order that meets the condition on them
    /// would have renewed the tier at that end, without a grace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub end_figures: Vec<Decimal>,
    /// `onFail: qualified`: each upgrade criterion's value at `at` for the
    /// tiers from the first above the base up to the judged tier (empty
    /// where a tier has no upgrade rule), so a late event can move where
    /// the customer lands too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub landing: Vec<Vec<Decimal>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Outcome {
    Renewed,
    /// The condition failed, but the customer qualified for the tier again
    /// by its upgrade rule (`onFail: qualified`): a new period from the
    /// judgment.
    Requalified,
    Grace {
        until: DateTime<Utc>,
    },
    Down {
        to: String,
    },
}

/// An event placed before the judged end that arrived after it.
pub(crate) enum Late<'a> {
    /// A completed order, counted whole.
    Order(&'a OrderRecord),
    /// A return of `record` (already updated) that took `points` back,
    /// `from_current` of them from current points. `others` are the
    /// customer's other orders, for maxima the returned order held.
    Return {
        record: &'a OrderRecord,
        returned_before: Money,
        points: Points,
        from_current: Points,
        others: &'a [OrderRecord],
    },
    /// A redemption of `points`, `covered` of them by lots that expired
    /// after it (by the day each expired): in time, each of those expired
    /// that much less.
    Redemption {
        points: Points,
        covered: &'a [(DayNumber, Points)],
    },
}

impl Late<'_> {
    fn record(&self) -> Option<&OrderRecord> {
        match self {
            Late::Order(record) | Late::Return { record, .. } => Some(record),
            Late::Redemption { .. } => None,
        }
    }

    /// The cause of a tier a late event gives back (only an order does).
    fn cause(&self) -> String {
        let id = self.record().map_or("", |r| r.order_id.as_str());
        format!("{LATE_ORDER} {id}")
    }
}

/// The validity fields of a customer moved down by the latest end, kept
/// while an order placed before that end is decided at the tier held then.
pub(crate) struct Rewound {
    tier: String,
    tier_since: DateTime<Utc>,
    renewed_at: Option<DateTime<Utc>>,
}

impl Rewound {
    /// The tier the customer held before the rewind.
    pub(crate) fn into_tier(self) -> String {
        self.tier
    }

    pub(crate) fn restore(self, state: &mut CustomerState) {
        state.tier = self.tier;
        state.tier_since = self.tier_since;
        state.renewed_at = self.renewed_at;
    }
}

impl Program {
    /// Before deciding an order placed before the latest end, which moved
    /// the customer down and still stands: puts the customer back at the
    /// tier held then, so the order earns and upgrades as it would have in
    /// time. [`Rewound::restore`] undoes it.
    pub(crate) fn rewind_for(
        &self,
        state: &mut CustomerState,
        placed: DateTime<Utc>,
    ) -> Option<Rewound> {
        let judged = state.judged.as_ref().filter(|j| placed < j.at)?;
        let Outcome::Down { to } = &judged.outcome else {
            return None;
        };
        if !self.down_stands(state, judged, to) || self.rule_of(judged).is_none() {
            return None;
        }
        let rewound = Rewound {
            tier: std::mem::replace(&mut state.tier, judged.tier.clone()),
            tier_since: std::mem::replace(&mut state.tier_since, judged.tier_since_before),
            renewed_at: std::mem::replace(&mut state.renewed_at, judged.renewed_before),
        };
        Some(rewound)
    }

    /// The retention rule that judged `judged`, if it is still the rule
    /// in force: judged under this version, or configured before the end.
    fn rule_of(&self, judged: &Judged) -> Option<(TierIndex, &Retention)> {
        let tier = self.tier_index(&judged.tier)?;
        let r = self.tiers()[tier].retention.as_ref()?;
        let same = judged.version == self.version()
            || r.counted_from
                .is_some_and(|d| d <= crate::period::day_of(judged.at));
        (same && r.rule.criteria.len() == judged.figures.len()).then_some((tier, r))
    }

    /// Judges the latest validity end again after a late event (placed
    /// before it), which the state already counts. Returns whether the
    /// outcome changed.
    pub(crate) fn rejudge_late(
        &self,
        state: &mut CustomerState,
        late: Late<'_>,
        placed: DateTime<Utc>,
    ) -> bool {
        let Some(mut judged) = state.judged.take() else {
            return false;
        };
        if placed >= judged.at {
            state.judged = Some(judged);
            return false;
        }
        let Some((tier, r)) = self.rule_of(&judged) else {
            // The rule changed since: the end was judged under another.
            return false;
        };
        for (c, figure) in r.rule.criteria.iter().zip(judged.figures.iter_mut()) {
            *figure = self.moved(c, r.counted_from, *figure, &late, placed, judged.at);
        }
        for (c, figure) in r.rule.criteria.iter().zip(judged.end_figures.iter_mut()) {
            *figure = self.moved(
                c,
                r.counted_from,
                *figure,
                &late,
                placed,
                judged.renews_from,
            );
        }
        // Upgrade rules are compared under the version that judged.
        let landing_known = r.on_fail == OnFail::Qualified
            && judged.version == self.version()
            && !judged.landing.is_empty();
        if landing_known {
            for (t, figures) in (1..).zip(judged.landing.iter_mut()) {
                let Some(rule) = self.tiers().get(t).and_then(|t| t.rule.as_ref()) else {
                    continue;
                };
                for (c, figure) in rule.criteria.iter().zip(figures.iter_mut()) {
                    *figure = self.moved(c, None, *figure, &late, placed, judged.at);
                }
            }
        }
        let mut met = met_on(&r.rule, &judged.figures);
        let mut holds = r.rule.table.holds(met);
        if !holds && !judged.end_figures.is_empty() {
            met = met_on(&r.rule, &judged.end_figures);
            holds = r.rule.table.holds(met);
        }
        let changed = match (&judged.outcome, holds) {
            (Outcome::Grace { until }, true) if state.grace_until == Some(*until) => {
                let criteria = r.rule.ids(met, true);
                self.renew_judged(state, tier, &judged, criteria);
                judged.outcome = Outcome::Renewed;
                true
            }
            (Outcome::Down { to }, true) if self.down_stands(state, &judged, to) => {
                let from = self.tier_index(to).unwrap_or(0);
                let change = TierChange {
                    from: self.tier_name(from).to_owned(),
                    to: self.tier_name(tier).to_owned(),
                    at: judged.at,
                    cause: late.cause(),
                    config_version: Some(self.version()),
                    admin: false,
                };
                state.record_change(change, r.rule.ids(met, true));
                state.tier_since = judged.tier_since_before;
                state.renewed_at = Some(judged.renews_from);
                judged.outcome = Outcome::Renewed;
                true
            }
            (Outcome::Requalified, true)
                if state.tier_index(self) == tier
                    && state.grace_until.is_none()
                    && state.renewed_at == Some(judged.at) =>
            {
                // Renewed at the end after all: the period counts from it.
                state.renewed_at = Some(judged.renews_from);
                judged.outcome = Outcome::Renewed;
                true
            }
            (Outcome::Down { to }, false)
                if landing_known && self.down_stands(state, &judged, to) =>
            {
                let to = self.tier_index(to).unwrap_or(0);
                let lands = self.landing_on(&judged, tier);
                if lands == to {
                    false
                } else {
                    let cause = match lands > to {
                        true => late.cause(),
                        false => RETENTION.to_owned(),
                    };
                    judged.outcome = self.land(state, &judged, to, lands, cause);
                    true
                }
            }
            (Outcome::Requalified, false)
                if landing_known
                    && state.tier_index(self) == tier
                    && state.grace_until.is_none()
                    && state.renewed_at == Some(judged.at) =>
            {
                let lands = self.landing_on(&judged, tier);
                if lands == tier {
                    false
                } else {
                    state.renewed_at = judged.renewed_before;
                    state.tier_since = judged.tier_since_before;
                    judged.outcome = self.land(state, &judged, tier, lands, RETENTION.to_owned());
                    true
                }
            }
            (Outcome::Renewed, false) if self.renewal_stands(state, &judged, tier) => {
                state.renewed_at = judged.renewed_before;
                state.tier_since = judged.tier_since_before;
                let mut changes = Vec::new();
                let missed = r.rule.ids(met, false);
                // The end of a grace fails at once: the grace has run.
                judged.outcome = if judged.end_figures.is_empty() {
                    self.judge_failed(state, tier, r, judged.at, missed, &mut changes)
                } else {
                    self.fail(state, tier, r, judged.at, missed, &mut changes)
                };
                true
            }
            _ => false,
        };
        let in_grace = matches!(judged.outcome, Outcome::Grace { .. });
        let end = judged.at;
        state.judged = Some(judged);
        let now = state.last_event_at;
        // Events counted after the end, during its grace, may meet the
        // condition once the late one counts: in time the first of them to
        // do so renewed the tier. Judged on the figures of the latest
        // instant known when the grace still runs then (nothing counted
        // came after it). Past the grace, only for a rule of windows, on
        // the figures of the last instant before the grace's last day
        // (windows count whole days, and that day may hold orders placed
        // after the grace): between events a window only loses days, so
        // the condition holds then only if it held at one of the grace's
        // events, while a lifetime figure would count orders placed after
        // the grace. The renewal is dated there, as from the end; as in
        // time, the judgment keeps its grace outcome.
        let recovered = match (in_grace, now, state.grace_until) {
            (true, Some(now), Some(grace)) if now < grace => {
                now > end && self.recovers_by(state, now)
            }
            (true, Some(_), Some(grace)) if self.windows_only(state) => {
                let last_day = grace
                    .date_naive()
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc();
                let by = last_day - chrono::Duration::nanoseconds(1);
                by > end && self.recovers_by(state, by)
            }
            _ => false,
        };
        if changed || recovered {
            // What the new outcome makes due by now (a grace that ran out,
            // the warnings of a period restored) is judged in time order.
            self.catch_up_to_latest(state);
        }
        changed || recovered
    }

    /// Whether the grace is recovered as of `by`, once the points due to
    /// expire by then (a late order's lot among them) have expired.
    fn recovers_by(&self, state: &mut CustomerState, by: DateTime<Utc>) -> bool {
        self.expire(state, by);
        self.recover_in_grace(state, by).is_some()
    }

    /// Whether the retention rule of the tier held counts windows only.
    fn windows_only(&self, state: &CustomerState) -> bool {
        self.retention_of(state).is_some_and(|(_, r)| {
            r.rule
                .criteria
                .iter()
                .all(|c| c.kind == CriterionKind::Tracker)
        })
    }

    /// Whether the latest judged end still holds the customer where it
    /// left them: a change since (a return's move down, an order's lift)
    /// makes it moot, and judging it again changes nothing.
    pub(crate) fn judged_end_stands(&self, state: &CustomerState) -> bool {
        let Some(judged) = &state.judged else {
            return false;
        };
        let Some(tier) = self.tier_index(&judged.tier) else {
            return false;
        };
        match &judged.outcome {
            Outcome::Down { to } => self.down_stands(state, judged, to),
            Outcome::Renewed => self.renewal_stands(state, judged, tier),
            Outcome::Requalified => {
                state.tier_index(self) == tier
                    && state.grace_until.is_none()
                    && state.renewed_at == Some(judged.at)
            }
            Outcome::Grace { until } => {
                state.tier_index(self) == tier && state.grace_until == Some(*until)
            }
        }
    }

    /// Sets aside the latest judged end when a late order's `upgrades`
    /// came before it and, in time, it never came as judged: they went past
    /// its tier (that tier's period ended at the upgrade), or the end was
    /// `moot` when the order came (a return's move or an order's lift
    /// since held the customer elsewhere) and they came before the period
    /// it judged began. The course from the upgrade then judges the ends it
    /// brings, as where no end was judged; judged again instead, the end
    /// would change little or nothing, and the ends the upgrade brings
    /// would be left to the job, on the figures now.
    pub(crate) fn set_aside_an_end_a_late_upgrade_replaced(
        &self,
        state: &mut CustomerState,
        moot: bool,
        upgrades: &[crate::upgrade::Upgrade],
    ) {
        let (Some(judged), Some(first), Some(last)) =
            (state.judged.as_ref(), upgrades.first(), upgrades.last())
        else {
            return;
        };
        let past_its_tier = self.tier_index(&judged.tier).is_some_and(|t| last.to > t);
        let replaced =
            first.at < judged.at && (past_its_tier || moot && first.at < judged.tier_since_before);
        if replaced {
            state.judged = None;
        }
    }

    /// A move down still stands while nothing changed the tier after it.
    fn down_stands(&self, state: &CustomerState, judged: &Judged, to: &str) -> bool {
        state.tier == to
            && state.history.last().is_some_and(|last| {
                last.at == judged.at
                    && last.to == to
                    && (last.cause == RETENTION || last.cause.starts_with(LATE_ORDER))
            })
    }

    /// Where `onFail: qualified` lands on the judgment's (moved) upgrade
    /// figures: the highest tier up to `tier` whose upgrade condition holds
    /// on them, else the base.
    fn landing_on(&self, judged: &Judged, tier: TierIndex) -> TierIndex {
        (1..=tier)
            .rev()
            .find(|t| {
                let rule = self.tiers()[*t].rule.as_ref();
                let figures = judged.landing.get(t - 1);
                rule.zip(figures)
                    .is_some_and(|(rule, figures)| rule.table.holds(met_on(rule, figures)))
            })
            .unwrap_or(0)
    }

    /// Moves a customer from `from` (where the judgment left them) to
    /// `lands` as of the judgment: the tier itself again is a new period
    /// from the end, as `qualified` gives in time.
    fn land(
        &self,
        state: &mut CustomerState,
        judged: &Judged,
        from: TierIndex,
        lands: TierIndex,
        cause: String,
    ) -> Outcome {
        let change = TierChange {
            from: self.tier_name(from).to_owned(),
            to: self.tier_name(lands).to_owned(),
            at: judged.at,
            cause,
            config_version: Some(self.version()),
            admin: false,
        };
        state.record_change(change, Vec::new());
        let judged_tier = self.tier_index(&judged.tier).unwrap_or(0);
        if lands == judged_tier {
            state.tier_since = judged.tier_since_before;
            state.renewed_at = Some(judged.at);
            return Outcome::Requalified;
        }
        Outcome::Down {
            to: self.tier_name(lands).to_owned(),
        }
    }

    fn renewal_stands(&self, state: &CustomerState, judged: &Judged, tier: TierIndex) -> bool {
        state.tier_index(self) == tier
            && state.grace_until.is_none()
            && state.renewed_at == Some(judged.renews_from)
            && state.history.last().is_some_and(|last| {
                last.at == judged.at
                    && (last.cause == crate::validity::RENEWED
                        || last.cause.starts_with(LATE_ORDER))
            })
    }

    /// Criterion `c`'s value at `at` moved by the late event, which
    /// happened at `happened` (an event at or after `at` does not count
    /// there: an order placed during a grace is not the period end's).
    fn moved(
        &self,
        c: &Criterion,
        floor: Option<DayNumber>,
        figure: Decimal,
        late: &Late<'_>,
        happened: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Decimal {
        if happened >= at {
            return figure;
        }
        let Some(record) = late.record() else {
            // A redemption spends current points only. What it took from
            // lots that expired by the end, they did not lose at expiry.
            return match (c.kind, late) {
                (CriterionKind::CurrentPoints, Late::Redemption { points, covered }) => {
                    let end = crate::period::day_of(at);
                    let spared: Points = covered
                        .iter()
                        .filter(|(expired, _)| *expired <= end)
                        .map(|(_, p)| *p)
                        .sum();
                    figure - *points + spared
                }
                _ => figure,
            };
        };
        let kept_at_end = self.config().points_expiry.is_none_or(|period| {
            period.forward_from(crate::period::day_of(record.placed_at)) > crate::period::day_of(at)
        });
        let purchases = |returned: Money| {
            if record.counts_for_purchases {
                record.amount - returned.min(record.amount)
            } else {
                Decimal::ZERO
            }
        };
        match (c.kind, late) {
            (CriterionKind::CurrentPoints, Late::Order(_)) if kept_at_end => {
                figure + record.points_awarded
            }
            (CriterionKind::CurrentPoints, Late::Return { from_current, .. }) if kept_at_end => {
                figure - *from_current
            }
            (CriterionKind::CurrentPoints, _) => figure,
            (CriterionKind::LifetimePoints, Late::Order(_)) => figure + record.points_awarded,
            (CriterionKind::LifetimePoints, Late::Return { points, .. }) => figure - *points,
            (CriterionKind::LifetimePurchases, Late::Order(_)) => figure + purchases(Money::ZERO),
            (
                CriterionKind::LifetimePurchases,
                Late::Return {
                    returned_before, ..
                },
            ) => {
                let (with, without) = returned_at_end(record, *returned_before, at);
                figure - (purchases(without) - purchases(with))
            }
            (CriterionKind::SingleOrder, Late::Order(_)) => figure.max(purchases(Money::ZERO)),
            (
                CriterionKind::SingleOrder,
                Late::Return {
                    returned_before,
                    others,
                    ..
                },
            ) => {
                let (with, without) = returned_at_end(record, *returned_before, at);
                if purchases(without) < figure {
                    return figure;
                }
                others
                    .iter()
                    .filter(|o| o.order_id != record.order_id && o.placed_at < at)
                    .filter(|o| o.counts_for_purchases)
                    .map(|o| o.amount - o.returned_before(at))
                    .fold(purchases(with), Decimal::max)
            }
            (CriterionKind::Tracker, _) => self.moved_tracker(c, floor, figure, late, at),
            (_, Late::Redemption { .. }) => figure,
        }
    }

    fn moved_tracker(
        &self,
        c: &Criterion,
        floor: Option<DayNumber>,
        figure: Decimal,
        late: &Late<'_>,
        at: DateTime<Utc>,
    ) -> Decimal {
        let i = c.tracker.unwrap_or(0);
        let tracker = &self.trackers()[i];
        let end = crate::period::day_of(at);
        let window_first = c.period.map_or_else(
            || tracker.window_first_day(end),
            |p| p.window_first_day(end),
        );
        let first = floor.map_or(window_first, |f| f.max(window_first));
        let in_window = |o: &OrderRecord| {
            let day = crate::period::day_of(o.placed_at);
            day >= first && day <= end && o.placed_at < at
        };
        let Some(record) = late.record().filter(|r| in_window(r)) else {
            return figure;
        };
        match (tracker.aggregate, late) {
            (Aggregate::Sum, Late::Order(_)) => {
                figure + kept_contribution(tracker, record, Money::ZERO)
            }
            (Aggregate::Max, Late::Order(_)) => {
                figure.max(kept_contribution(tracker, record, Money::ZERO))
            }
            (
                Aggregate::Sum,
                Late::Return {
                    returned_before, ..
                },
            ) => {
                let (with, without) = returned_at_end(record, *returned_before, at);
                figure
                    - (kept_contribution(tracker, record, without)
                        - kept_contribution(tracker, record, with))
            }
            (
                Aggregate::Max,
                Late::Return {
                    returned_before,
                    others,
                    ..
                },
            ) => {
                let (with, without) = returned_at_end(record, *returned_before, at);
                if kept_contribution(tracker, record, without) < figure {
                    return figure;
                }
                // The returned order held the maximum: the largest of what
                // the window's orders had left at the end takes its place.
                others
                    .iter()
                    .filter(|o| o.order_id != record.order_id && in_window(o))
                    .map(|o| kept_contribution(tracker, o, o.returned_before(at)))
                    .fold(kept_contribution(tracker, record, with), Decimal::max)
            }
            (_, Late::Redemption { .. }) => figure,
        }
    }
}

/// Which of `rule`'s criteria `figures` meet.
/// What a late return's order had had returned by the end `at`: with the
/// late return, and without it (`returned_before` is the order's returned
/// amount before it; returns made after the end did not count there).
fn returned_at_end(
    record: &OrderRecord,
    returned_before: Money,
    at: DateTime<Utc>,
) -> (Money, Money) {
    let with = record.returned_before(at);
    (with, with - (record.returned_amount - returned_before))
}

fn met_on(rule: &Rule, figures: &[Decimal]) -> crate::expression::MetMask {
    rule.criteria
        .iter()
        .zip(figures)
        .enumerate()
        .filter(|(_, (c, figure))| c.met_by(**figure))
        .fold(0, |mask, (i, _)| mask | (1 << i))
}
