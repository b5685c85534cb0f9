//! A late order or return placed before a validity end already judged
//! (or while a grace runs). The state keeps the figures of the latest end
//! only (`rejudge.rs`), so every end after the event is judged again by
//! walking the customer's course anew from the last change of tier before
//! it, on the orders as they stood at each instant (`late_ends.rs`): each
//! end, grace, move down and lift by an order, with the late event
//! counted. Where that course parts from the one told, what the new course
//! does from there is told after it, as a late upgrade's course is: the
//! changes it supersedes stay published, and an entry dated before them
//! takes their place in the history (README "Older ends").

use crate::events::{OrderRecord, Return};
use crate::notice::{Notice, NoticeKind};
use crate::program::Program;
use crate::rejudge::LATE_ORDER;
use crate::state::{CustomerState, TierChange};
use crate::validity::{period_end, RENEWED, RETENTION};
use chrono::{DateTime, Utc};

/// Where a walk of the course starts: the history's standing changes, the
/// last change of tier before the event (`stint`), how many of the
/// changes it keeps, and whether it is the join rather than a change.
struct WalkStart {
    standing: Vec<TierChange>,
    stint: Step,
    kept: usize,
    from_the_join: bool,
}

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
    /// the grace's recovery reads), or, under a retention rule, before a
    /// return made since (in time it may have lifted an order's crossing
    /// that the return then undid).
    pub(crate) fn walks_course_for(&self, state: &CustomerState, placed: DateTime<Utc>) -> bool {
        state.grace_until.is_some()
            || state.judged.as_ref().is_some_and(|j| placed < j.at)
            || state.standing_changes().iter().any(|c| c.at > placed)
            || self.lapses && state.returned_at_or_after(placed)
    }

    /// [`Program::judge_older_ends_again`] for a return made before the
    /// customer's latest event (`orders` holds its record as updated).
    pub(crate) fn walks_after_return(
        &self,
        state: &mut CustomerState,
        orders: &[OrderRecord],
        record: &OrderRecord,
        ret: &Return,
    ) -> Option<Vec<TierChange>> {
        let late = state
            .last_event_at
            .is_some_and(|latest| ret.returned_at < latest);
        if !late {
            return None;
        }
        let all: Vec<&OrderRecord> = orders.iter().collect();
        let cause = format!("{LATE_ORDER} {}", record.order_id);
        self.judge_older_ends_again(state, &all, ret.returned_at, &cause)
    }

    /// Whether [`Program::judge_older_ends_again`] would walk the course
    /// for an event at `placed` (the judgment of the ends aside): a late
    /// order decided at a tier it would not reach otherwise asks first.
    pub(crate) fn walks_course_again(
        &self,
        state: &CustomerState,
        orders: &[&OrderRecord],
        placed: DateTime<Utc>,
    ) -> bool {
        self.course_walk_start(state, orders, placed).is_some()
    }

    /// Where the course before an event at `placed` is walked again from,
    /// or None when it is not (see [`Program::judge_older_ends_again`]).
    fn course_walk_start(
        &self,
        state: &CustomerState,
        orders: &[&OrderRecord],
        placed: DateTime<Utc>,
    ) -> Option<WalkStart> {
        if orders.is_empty()
            || self.walk_misses_current_points(state)
            || !self.walks_course_for(state, placed)
        {
            return None;
        }
        let standing: Vec<TierChange> = state.standing_changes().into_iter().cloned().collect();
        // The last change of tier before the event, read as one step an
        // instant (a move down set right at its instant is no change, but
        // one an order lifted back from at that instant starts the tier
        // anew, as a change of tier does); with none, the base tier held
        // from the join, when the history holds the whole course from
        // there.
        let stint = course(&standing)
            .into_iter()
            .rfind(|s| s.at < placed && (s.from != s.to || lifted_anew(&standing, s.at)));
        let from_the_join = stint.is_none();
        let stint = stint.or_else(|| self.base_tier_from_the_join(state))?;
        let kept = standing.partition_point(|c| c.at <= stint.at);
        // A return's move down names no config version: the orders' say
        // which rules judged it. Without ends, a late order before one is
        // decided as in time by `down_since.rs`, and a late return tells
        // its course by `late_return_course.rs`.
        let walked_makes = |c: &TierChange| {
            !c.admin
                && !c.is_reevaluation()
                && (self.lapses && c.by_a_return()
                    || c.config_version == Some(self.version())
                        && (judged_end(c) || c.by_an_order() || c.cause.starts_with(LATE_ORDER)))
        };
        if !standing[kept..].iter().all(walked_makes) {
            return None;
        }
        // The walk judges under the rules in force: every order since was
        // decided under them too.
        let current = |o: &OrderRecord| {
            o.placed_at <= stint.at || o.config_version.is_none_or(|v| v == self.version())
        };
        if !orders.iter().all(|o| current(o)) {
            return None;
        }
        Some(WalkStart {
            standing,
            stint,
            kept,
            from_the_join,
        })
    }

    /// Judges again the ends after a late event at `placed` (already
    /// counted in the state and in `orders`, every order of the customer):
    /// the history entries its telling added, None where it did not judge
    /// them. Not when the course since the change of tier
    /// before the event holds anything the walk does not make (an admin
    /// set, a re-evaluation, another config
    /// version), nor past one decision's notices: then only the latest
    /// end is judged again, as before.
    pub(crate) fn judge_older_ends_again(
        &self,
        state: &mut CustomerState,
        orders: &[&OrderRecord],
        placed: DateTime<Utc>,
        late_cause: &str,
    ) -> Option<Vec<TierChange>> {
        let WalkStart {
            standing,
            stint,
            kept,
            from_the_join,
        } = self.course_walk_start(state, orders, placed)?;
        let mut walked = state.clone();
        walked.outbox = Default::default();
        // The walk's course is read off its copy's history past `kept`:
        // a trim mid-walk would cut its start (a walk of months of ends
        // on a full history declined). Its notices bound what it adds.
        walked.outbox.put_off_trims(true);
        walked.history = standing[..kept].to_vec();
        walked.tier.clone_from(&stint.to);
        walked.tier_since = match from_the_join {
            true => state.joined(),
            false => stint.at,
        };
        walked.renewed_at = None;
        walked.grace_until = None;
        walked.judged = None;
        if self.lapses {
            walked.warned_through = Some(stint.at);
        }
        let top = self.tiers().len() - 1;
        if !self.judge_ends_after_late_upgrade(&mut walked, orders, stint.at, top) {
            return None;
        }
        if !self.lapses && walked.tier != state.tier {
            // Without ends, the walk only dates the lifts by orders again:
            // a tier it would change is the order's own decision's to make.
            return None;
        }
        let told = Told {
            program: self,
            joined: state.joined(),
            held_from: Some(stint.clone()),
            changes: &standing[kept..],
            steps: course(&standing[kept..]),
            tier: &state.tier,
            period_ends: [self.valid_until(state), state.grace_until],
            warned_through: state.warned_through,
            last_moved: last_change_of_tier(&state.history).map(|c| c.to.as_str()),
            last_named: state.history.last().map(|c| c.to.as_str()),
        };
        let anew = course(&walked.history[kept..]);
        let notices = walked.outbox.take();
        let telling =
            match self.tell_the_difference(&told, &anew, notices, &walked, &stint, late_cause) {
                Ok(telling) => telling,
                Err(notices) => {
                    // The same changes: the latest end may still have been
                    // judged otherwise (a grace leaves no change in the
                    // history, and a renewal it replaced stays there), which
                    // the notices from it tell.
                    let validity = |s: &CustomerState| (s.grace_until, s.renewed_at);
                    let since = state.judged.as_ref().map(|j| j.at);
                    let notices = match validity(state) == validity(&walked) {
                        true => Vec::new(),
                        false => notices
                            .into_iter()
                            .filter(|n| since.is_some_and(|at| n.at() >= at))
                            .collect(),
                    };
                    Telling::new(&told, Vec::new(), notices, &walked.tier, false)
                }
            };
        let added = state.trimming_once(|state| telling.tell(state));
        state.adopt_validity_of(walked);
        Some(added)
    }

    /// The base tier as a step just before the customer's join (so an
    /// order at the join may lift them), when the history starts there
    /// and holds every change since.
    fn base_tier_from_the_join(&self, state: &CustomerState) -> Option<Step> {
        let base = self.tier_name(0);
        let whole =
            !state.history_was_cut() && state.history.first().is_none_or(|c| c.from == base);
        whole.then(|| Step {
            at: state.joined() - chrono::Duration::nanoseconds(1),
            from: base.to_owned(),
            to: base.to_owned(),
        })
    }

    /// What the walk's new course (`anew`, its `notices`) tells after the
    /// `told` one; the notices back when the two have the same steps.
    fn tell_the_difference(
        &self,
        told: &Told<'_>,
        anew: &[Step],
        mut notices: Vec<Notice>,
        walked: &CustomerState,
        stint: &Step,
        late_cause: &str,
    ) -> Result<Telling, Vec<Notice>> {
        let Some(k) =
            (0..told.steps.len().max(anew.len())).find(|i| told.steps.get(*i) != anew.get(*i))
        else {
            return Err(notices);
        };
        // The new course's first step of its own, and the tier it held
        // up to there.
        let first_new = anew.get(k).map(|s| s.at);
        let held_anew = anew.get(k).map_or(&walked.tier, |s| &s.from);
        let parted = match (told.steps.get(k), first_new) {
            (Some(s), Some(n)) => s.at.min(n),
            (Some(s), None) => s.at,
            (None, Some(n)) => n,
            (None, None) => return Err(notices),
        };
        notices.retain(|n| n.at() >= parted);
        let set_right = |s: &Step, to: &String| TierChange {
            from: s.to.clone(),
            to: to.clone(),
            at: s.at,
            cause: late_cause.to_owned(),
            config_version: Some(self.version()),
            admin: false,
        };
        let mut corrections: Vec<(TierChange, Vec<String>)> = Vec::new();
        // A told step before the new course's first, or at its instant,
        // stays in the history; the first that leaves another tier than
        // the new course held there is set right at its instant (which
        // also sets aside every told step after it). At the new course's
        // own first step, the change goes where that step goes, and tells
        // it.
        let first_wrong = told.steps[k..]
            .iter()
            .take_while(|s| first_new.is_none_or(|n| s.at <= n))
            .find(|s| s.to != *held_anew);
        if let Some(s) = first_wrong {
            match anew.get(k).filter(|a| a.at == s.at) {
                Some(a) => {
                    let mut criteria = Vec::new();
                    notices.retain(|n| match &n.kind {
                        NoticeKind::Changed {
                            change,
                            criteria: c,
                        } if change.at == s.at => {
                            criteria.clone_from(c);
                            false
                        }
                        _ => true,
                    });
                    if s.to != a.to {
                        corrections.push((set_right(s, &a.to), criteria));
                    }
                }
                None => corrections.push((set_right(s, held_anew), Vec::new())),
            }
        }
        // The new course's changes set aside the told ones after its first
        // in the history, but a consumer of the feed reads the latest
        // change told as the tier held: the last told change of tier after
        // that first step is set right at its own instant too (the new
        // course's first change, dated before it, sets it aside in the
        // history).
        let anew_at = |at: DateTime<Utc>| {
            anew.iter()
                .rev()
                .find(|a| a.at <= at)
                .map_or(&stint.to, |a| &a.to)
        };
        // Not where the new course tells a move to that tier at that
        // instant itself: the two would tell one change twice (a renewal
        // there would leave the last change of tier on the told one).
        let tells_itself = |s: &Step| {
            notices.iter().any(|n| match &n.kind {
                NoticeKind::Changed { change, .. } => {
                    change.at == s.at
                        && change.from != change.to
                        && change.to == *anew_at(s.at)
                        && !told.holds(change)
                }
                NoticeKind::AtRisk { .. } => false,
            })
        };
        if let Some(s) = first_new.and_then(|n| {
            told.steps[k..]
                .iter()
                .rfind(|s| s.at > n && s.from != s.to)
                .filter(|s| s.to != *anew_at(s.at) && !tells_itself(s))
        }) {
            corrections.push((set_right(s, anew_at(s.at)), Vec::new()));
        }
        Ok(Telling::new(told, corrections, notices, &walked.tier, true))
    }
}

/// The course as told before the walk, after the change of tier it
/// starts from.
struct Told<'a> {
    program: &'a Program,
    joined: DateTime<Utc>,
    /// The tier held from before the first of `changes`, where known.
    held_from: Option<Step>,
    changes: &'a [TierChange],
    steps: Vec<Step>,
    /// The tier held, and its period's end and grace's, as told.
    tier: &'a str,
    period_ends: [Option<DateTime<Utc>>; 2],
    warned_through: Option<DateTime<Utc>>,
    /// The tier the feed named last before the walk, read in the order
    /// told: by its last change of tier, and by its last change.
    last_moved: Option<&'a str>,
    last_named: Option<&'a str>,
}

impl Told<'_> {
    /// Whether the same change was told already (from, to, instant and
    /// cause; a walk names a return by its order, not its id).
    fn holds(&self, change: &TierChange) -> bool {
        self.changes.iter().any(|c| {
            c.at == change.at
                && c.from == change.from
                && c.to == change.to
                && (c.cause == change.cause || c.by_a_return() && change.by_a_return())
        })
    }

    /// Whether a warning of `tier`'s end `on`, on day `at`, was told
    /// already: a warning day passed of the period running where it ends
    /// where the told one did (a grace's warning only where a told grace
    /// ends there: the grace a walk finds may end where the told period
    /// did, and its warning, told at the end that failed, was never told),
    /// or of a past end the told course judged.
    fn warned(&self, tier: &str, on: DateTime<Utc>, at: DateTime<Utc>, grace: bool) -> bool {
        let [period_end, grace_end] = self.period_ends;
        let ended_there = match grace {
            true => grace_end == Some(on),
            false => period_end == Some(on) || grace_end == Some(on),
        };
        let running =
            tier == self.tier && self.warned_through.is_some_and(|done| at <= done) && ended_there;
        running || self.judged_after_warning(tier, on, at, grace)
    }

    /// Whether the told course judged the end a warning of `tier` on day
    /// `at` was of, a period's end before the one running. The stint of
    /// the tier that day started at the last change into it before (not
    /// a renewal), and the told course judged its ends one by one from
    /// there, each by a renewal or a move down by retention at the end or
    /// in the grace after it (a renewal in a grace counting the next
    /// period from the end, one where the grace ran out from there): the
    /// warning's end must be one of them, or the next one where the stint
    /// was left otherwise (a lift, a return's move) or is still held, its
    /// day judged before, and its day after the judgment before it (a
    /// recovery in a grace judges the next period's days from its own
    /// instant). A stint left past an end it never judged (a
    /// return's move dated after ends a told course skipped) tells
    /// nothing of it. A day the told
    /// course met the condition on warned of nothing then: its warning,
    /// past, is left untold rather than told twice.
    fn judged_after_warning(
        &self,
        tier: &str,
        on: DateTime<Utc>,
        at: DateTime<Utc>,
        grace: bool,
    ) -> bool {
        let Some(r) = self.program.retention_named(tier) else {
            return false;
        };
        // A grace's warning came at the end it followed.
        let end = if grace { at } else { on };
        // The start, and the changes told after it (one at its own
        // instant too: a stint left as it began).
        let into_tier = self
            .changes
            .iter()
            .rposition(|c| c.to == tier && c.cause != RENEWED && c.at < at);
        let held_from = self
            .held_from
            .as_ref()
            .filter(|s| s.to == tier && s.at < at);
        let (start, after) = match (into_tier, held_from) {
            (Some(k), _) => (self.changes[k].at, &self.changes[k + 1..]),
            // The base tier from the join is held from the join itself.
            (None, Some(held)) => (held.at.max(self.joined), self.changes),
            (None, None) => return false,
        };
        let grace_length = chrono::Duration::days(r.grace_days.into());
        let Some(mut period_ends) = period_end(r, start, self.joined) else {
            return false;
        };
        // Each judgment judged the next period's warning days from its own
        // instant on (a renewal in a grace: those before it went untold).
        let mut judged_from = start;
        for c in after {
            if period_ends > end {
                return false;
            }
            let judges_it = judged_end(c)
                && c.from == tier
                && period_ends <= c.at
                && c.at <= period_ends + grace_length;
            if !judges_it {
                // Left before the next end, every end before judged: its
                // warning days up to then were.
                return c.at < period_ends && period_ends == end && judged_from < at && at < c.at;
            }
            if period_ends == end {
                // A grace's warning only where the told course judged the
                // end after it, in a grace: a renewal at the end itself
                // may have met the condition there (a late return can
                // fail it now), though an order of that instant may also
                // have recovered the grace it began, warned then.
                return judged_from < at && (!grace || c.at > period_ends);
            }
            if c.to != tier {
                return false;
            }
            let ran_out = r.grace_days > 0 && c.at == period_ends + grace_length;
            let next_from = if ran_out { c.at } else { period_ends };
            judged_from = c.at;
            match period_end(r, next_from, self.joined) {
                Some(next) => period_ends = next,
                None => return false,
            }
        }
        // Still held: its warning days up to the last judged.
        period_ends == end && judged_from < at && self.warned_through.is_some_and(|done| at <= done)
    }
}

/// What a walk tells: the told changes it sets right, then its own
/// notices, a change told already kept in the history only.
struct Telling {
    corrections: Vec<(TierChange, Vec<String>)>,
    notices: Vec<(NoticeKind, bool)>,
}

impl Telling {
    /// `silent_repeats`: a change of the new course told already is not
    /// told again, unless it is the last change of tier and nothing told
    /// after it names the tier held (a consumer reads the latest).
    fn new(
        told: &Told<'_>,
        corrections: Vec<(TierChange, Vec<String>)>,
        notices: Vec<Notice>,
        tier_now: &str,
        silent_repeats: bool,
    ) -> Self {
        let mut notices: Vec<(NoticeKind, bool)> = notices
            .into_iter()
            .filter(|n| match &n.kind {
                NoticeKind::AtRisk {
                    tier,
                    on,
                    at,
                    grace,
                    ..
                } => !told.warned(tier, *on, *at, *grace),
                NoticeKind::Changed { .. } => true,
            })
            .map(|n| {
                let publish = match &n.kind {
                    NoticeKind::Changed { change, .. } => !(silent_repeats && told.holds(change)),
                    NoticeKind::AtRisk { .. } => true,
                };
                (n.kind, publish)
            })
            .collect();
        let moves = |kind: &NoticeKind| match kind {
            NoticeKind::Changed { change, .. } if change.from != change.to => {
                Some(change.to.clone())
            }
            _ => None,
        };
        let names = |kind: &NoticeKind| match kind {
            NoticeKind::Changed { change, .. } => Some(change.to.clone()),
            NoticeKind::AtRisk { .. } => None,
        };
        // Read in the order told, the feed names the tier held twice over:
        // its last change of tier (a consumer of `TierChanged` alone) and
        // its last change of any kind (a renewal too, one told after the
        // move down it preceded in time naming the tier left).
        let last_published = |pick: &dyn Fn(&NoticeKind) -> Option<String>,
                              before: Option<&str>| {
            notices
                .iter()
                .rev()
                .filter(|(_, publish)| *publish)
                .find_map(|(kind, _)| pick(kind))
                .or_else(|| corrections.last().map(|(c, _)| c.to.clone()))
                .or_else(|| before.map(str::to_owned))
        };
        let astray = |named: Option<String>| named.is_some_and(|to| to != tier_now);
        if astray(last_published(&moves, told.last_moved))
            || astray(last_published(&names, told.last_named))
        {
            if let Some(last) = notices
                .iter_mut()
                .rev()
                .find(|(kind, _)| moves(kind).is_some())
            {
                last.1 = true;
            }
        }
        Telling {
            corrections,
            notices,
        }
    }

    /// Tells it; the history entries it added, in order.
    fn tell(self, state: &mut CustomerState) -> Vec<TierChange> {
        let mut added = Vec::with_capacity(self.corrections.len());
        for (change, criteria) in self.corrections {
            added.push(change.clone());
            state.record_change(change, criteria);
        }
        for (kind, publish) in self.notices {
            if let NoticeKind::Changed { change, .. } = &kind {
                added.push(change.clone());
            }
            match publish {
                true => state.retell(kind),
                false => state.keep_told(kind),
            }
        }
        added
    }
}

impl Program {
    /// Whether a rule, upgrade or retention, counts current points the
    /// orders do not tell as of an instant
    /// ([`Program::orders_tell_current_points`]).
    fn walk_misses_current_points(&self, state: &CustomerState) -> bool {
        (self.keeps_by_current_points() || self.counts_current_points())
            && !self.orders_tell_current_points(state)
    }
}

/// An entry of a validity end's judgment: a renewal or a move down by
/// retention.
fn judged_end(c: &TierChange) -> bool {
    c.cause == RENEWED || c.cause == RETENTION
}

/// Whether the last of `changes` (in time order) at `at` is an order's
/// lift: the tier it reached counts its period from there, even where a
/// move down at the same instant left the step on the tier it started
/// from (a retention end judged before an order of its instant). A walk
/// of months of such ends started years back and ran out of notices.
/// Not a late order's undoing of a return's move down (`down_since.rs`,
/// which names no config version): the tier keeps its start from before.
fn lifted_anew(changes: &[TierChange], at: DateTime<Utc>) -> bool {
    changes
        .iter()
        .rfind(|c| c.at == at)
        .is_some_and(|c| c.from != c.to && c.by_an_order() && c.config_version.is_some())
}

/// The last change of `history` that moved the customer (in the order
/// told).
fn last_change_of_tier(history: &[TierChange]) -> Option<&TierChange> {
    history.iter().rev().find(|c| c.from != c.to)
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

/// What a customer had told before a late order's decision: the changes
/// of its history that still stand (a course a later entry dated before
/// it set aside was told otherwise since), the period and grace it ran,
/// and the warning days it judged.
pub(crate) struct ToldBefore {
    standing: Vec<TierChange>,
    /// The tiers its feed named last: by its last change of tier, and by
    /// its last change.
    last_moved: Option<String>,
    last_named: Option<String>,
    tier: String,
    period_ends: [Option<DateTime<Utc>>; 2],
    warned_through: Option<DateTime<Utc>>,
    joined: DateTime<Utc>,
}

impl ToldBefore {
    pub(crate) fn of(program: &Program, state: &CustomerState) -> Self {
        ToldBefore {
            standing: state.standing_changes().into_iter().cloned().collect(),
            last_moved: last_change_of_tier(&state.history).map(|c| c.to.clone()),
            last_named: state.history.last().map(|c| c.to.clone()),
            tier: state.tier.clone(),
            period_ends: [program.valid_until(state), state.grace_until],
            warned_through: state.warned_through,
            joined: state.joined(),
        }
    }

    fn told<'a>(&'a self, program: &'a Program) -> Told<'a> {
        Told {
            program,
            joined: self.joined,
            held_from: None,
            changes: &self.standing,
            steps: course(&self.standing),
            tier: &self.tier,
            period_ends: self.period_ends,
            warned_through: self.warned_through,
            last_moved: self.last_moved.as_deref(),
            last_named: self.last_named.as_deref(),
        }
    }
}

impl Program {
    /// After a late order's decision judged ends on the state itself (a
    /// late upgrade's, or those it came before), from notice `from` (the
    /// customer's count then `sent`) on: what the customer had told
    /// before (`told`: a change its history holds, a warning of an end
    /// its course judged) is kept in the history only, as a walk of older
    /// ends keeps it, unless the feed would no longer name the tier held
    /// last.
    pub(crate) fn spare_the_retold(
        &self,
        state: &mut CustomerState,
        told: &ToldBefore,
        from: usize,
        sent: u64,
    ) {
        if state.outbox.notices().len() <= from {
            return;
        }
        let mut notices = state.outbox.take();
        let own = notices.split_off(from);
        // What the decision told before, the feed read last.
        let mut told = told.told(self);
        let changes = notices.iter().rev().filter_map(|n| match &n.kind {
            NoticeKind::Changed { change, .. } => Some(change),
            NoticeKind::AtRisk { .. } => None,
        });
        if let Some(named) = changes.clone().next() {
            told.last_named = Some(&named.to);
        }
        if let Some(moved) = changes.clone().find(|c| c.from != c.to) {
            told.last_moved = Some(&moved.to);
        }
        let telling = Telling::new(&told, Vec::new(), own, &state.tier, true);
        state.notices_sent = sent;
        for notice in notices {
            state.outbox.push(notice);
        }
        for (kind, publish) in telling.notices {
            if publish {
                state.publish(kind);
            }
        }
    }
}
