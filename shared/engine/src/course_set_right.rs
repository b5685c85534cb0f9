//! The changes a replay in time tells to set a customer's course right.
//!
//! A late event's decision may tell a course that never came (a lift dated
//! at the late order's own instant where a later order crossed, a renewal
//! of a period that never ran, a dip that in time never came). Once its
//! own telling is taken back, the history tells the course as it was told
//! before. From the first instant at which the tier that history's
//! standing line holds parts from the tier held in time, the in-time
//! course is told: first the change at that instant (an entry dated before
//! those it supersedes, as every late event's, so the line drops what the
//! told history holds after it), then each later move in time at its own
//! instant. The line then holds what it held in time at every instant,
//! which later late orders read to be paid at the tier held then.

use crate::notice::NoticeKind;
use crate::replay::REPLAYED;
use crate::state::{standing_line, CustomerState, TierChange};
use chrono::{DateTime, Utc};

/// The moves of a history's standing line (a renewal holds the tier).
fn moves(history: &[TierChange]) -> Vec<&TierChange> {
    let mut line = standing_line(history);
    line.retain(|c| c.from != c.to);
    line.into_vec()
}

/// The tier `line` holds at `at`: `before` until its first move.
fn held_at<'a>(line: &[&'a TierChange], at: DateTime<Utc>, before: &'a str) -> &'a str {
    line.iter()
        .rev()
        .find(|c| c.at <= at)
        .map_or(before, |c| c.to.as_str())
}

/// The changes to tell after `told`'s history (ending in `told_tier`) for
/// its line to hold what `in_time`'s holds at every instant; empty where
/// it does. Each is dated and caused as it came in time; a first one where
/// nothing moved in time (it takes back a move of the told line) has
/// `cause`, under config `version`. None where either history was cut or
/// its line does not end in its customer's tier: then neither tells its
/// course from the join.
pub(crate) fn changes_setting_right(
    told: &CustomerState,
    told_tier: &str,
    in_time: &CustomerState,
    cause: &str,
    version: u64,
) -> Option<Vec<TierChange>> {
    if told.history_was_cut() || in_time.history_was_cut() {
        return None;
    }
    let first_held = |state: &CustomerState, tier: &str| {
        state
            .history
            .first()
            .map_or(tier.to_owned(), |c| c.from.clone())
    };
    let (told_before, in_time_before) = (
        first_held(told, told_tier),
        first_held(in_time, &in_time.tier),
    );
    let (told_line, in_time_line) = (moves(&told.history), moves(&in_time.history));
    let last = DateTime::<Utc>::MAX_UTC;
    let ends_in_its_tier = held_at(&told_line, last, &told_before) == told_tier
        && held_at(&in_time_line, last, &in_time_before) == in_time.tier;
    if !ends_in_its_tier {
        return None;
    }
    let mut instants: Vec<DateTime<Utc>> = told_line
        .iter()
        .chain(&in_time_line)
        .map(|c| c.at)
        .collect();
    instants.sort_unstable();
    instants.dedup();
    let parting = instants.into_iter().find(|&at| {
        held_at(&told_line, at, &told_before) != held_at(&in_time_line, at, &in_time_before)
    });
    let Some(parting) = parting else {
        return Some(Vec::new());
    };
    // The in-time move at the parting instant, if any, tells why it came
    // (the paths read causes: a lift by an order, a move down by retention);
    // else the told line moved there and `cause` takes it back.
    let at_parting = in_time_line.iter().rev().find(|c| c.at == parting);
    let first = TierChange {
        from: held_at(&told_line, parting, &told_before).to_owned(),
        to: held_at(&in_time_line, parting, &in_time_before).to_owned(),
        at: parting,
        cause: at_parting.map_or(cause.to_owned(), |c| cause_as_told(c, &told.history)),
        config_version: at_parting.map_or(Some(version), |c| c.config_version),
        admin: false,
    };
    let later = in_time_line
        .iter()
        .filter(|c| c.at > parting)
        .map(|&c| TierChange {
            cause: cause_as_told(c, &told.history),
            ..c.clone()
        });
    Some(std::iter::once(first).chain(later).collect())
}

/// What the replay told after `parting` (its notices `in_time`, in the
/// order told): its changes, renewals too, each caused as in
/// [`changes_setting_right`], and its warnings. Told after the change at
/// `parting`, they tell the course in time on from there.
pub(crate) fn told_in_time_after(
    parting: DateTime<Utc>,
    in_time: &[NoticeKind],
    told: &CustomerState,
) -> Vec<NoticeKind> {
    in_time
        .iter()
        .filter_map(|kind| match kind {
            NoticeKind::Changed { change, criteria } if change.at > parting => {
                Some(NoticeKind::Changed {
                    change: TierChange {
                        cause: cause_as_told(change, &told.history),
                        ..change.clone()
                    },
                    criteria: criteria.clone(),
                })
            }
            NoticeKind::AtRisk { at, .. } if *at > parting => Some(kind.clone()),
            _ => None,
        })
        .collect()
}

/// The cause of a change of the replay: a return it made is named as the
/// told history names a return of that order at that instant, else by its
/// order alone (the replay knows no return's id).
fn cause_as_told(change: &TierChange, told: &[TierChange]) -> String {
    let replayed_return = format!("return {REPLAYED}");
    let Some(named) = change.cause.strip_prefix(&replayed_return) else {
        return change.cause.clone();
    };
    let of_order = named.find(" of order ").map_or("", |i| &named[i..]);
    told.iter()
        .find(|c| {
            c.at == change.at && c.cause.starts_with("return ") && c.cause.ends_with(of_order)
        })
        .map_or_else(|| format!("return{of_order}"), |c| c.cause.clone())
}
