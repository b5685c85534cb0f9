//! The validated program: the only form the rest of the engine accepts.
//! It can only be built by [`Program::validate`], which reports every problem
//! of a configuration at once, each with a JSON-pointer-like path.

use crate::config::*;
use crate::expression::{self, TruthTable};
use crate::period::DayNumber;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use smallvec::SmallVec;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

/// Position of a tier in the program, base tier first.
pub type TierIndex = usize;

/// At most this many criteria per upgrade rule (the references' limit).
pub const MAX_CRITERIA: usize = 3;
/// At most this many trackers per program, so per-order tracker figures fit
/// in a small fixed array on the stack (the references allow three per tier).
pub const MAX_TRACKERS: usize = 8;
/// At most this many tiers per program.
pub const MAX_TIERS: usize = 32;
/// Longest period (tracker window, points expiry) accepted: 100 years.
pub const MAX_PERIOD_DAYS: u32 = 36_600;
pub const MAX_PERIOD_MONTHS: u32 = 1_200;
/// Highest earn rate (points per unit of money) accepted.
pub const MAX_EARN_RATE: i64 = 1000;
/// Days of figures a customer's state may keep in all: each tracker's
/// longest window and the points expiry period, summed. Each kept day is a
/// figure per tracker (and a points lot), so this bounds the state item:
/// `shared/store/tests/state_size.rs` holds the largest state a config
/// within it allows under the store's item limit. Without it, eight
/// 100-year trackers let daily orders grow a state past the limit, after
/// which every order of that customer was refused.
pub const MAX_KEPT_DAYS: u32 = 12_000;

#[derive(Debug, Clone)]
pub struct Program {
    config: ProgramConfig,
    /// The config version this program was stored as (0 when not stored).
    version: u64,
    pub(crate) tiers: Vec<Tier>,
    pub(crate) trackers: Vec<Tracker>,
    pub(crate) start_date: DateTime<Utc>,
    /// For each tier, bit i set when a tier above it has a criterion on
    /// tracker i: the trackers a decision for a customer there may read.
    pub(crate) trackers_above: Vec<u32>,
    /// The upgrade rules compiled for the common case of a decision
    /// (`None` when a figure has no fixed-point form).
    pub(crate) plan: Option<crate::plan::Plan>,
    /// Whether any tier has a retention rule (else nothing ever lapses and
    /// no event pays to look).
    pub(crate) lapses: bool,
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub name: String,
    pub earn_rate: Decimal,
    pub rule: Option<Rule>,
    /// What keeps a customer in the tier (None: it never lapses).
    pub retention: Option<Retention>,
}

impl Rule {
    /// The ids of the criteria whose bit in `mask` is `met`.
    pub fn ids(&self, mask: crate::expression::MetMask, met: bool) -> Vec<String> {
        self.criteria
            .iter()
            .enumerate()
            .filter(|(i, _)| (mask & (1 << i) != 0) == met)
            .map(|(_, c)| c.id.clone())
            .collect()
    }
}

/// A validated retention rule (see [`RetentionConfig`]).
#[derive(Debug, Clone)]
pub struct Retention {
    pub validity_months: u32,
    pub from: ValidityFrom,
    /// The condition, compiled as upgrade conditions are (its upgrade type
    /// is never read).
    pub rule: Rule,
    pub on_fail: OnFail,
    pub grace_days: u32,
    /// Largest first.
    pub warn_days_before: Vec<u32>,
    /// The day the rule was configured as it is: its tracker criteria
    /// count from then (the later of it and their window's start), so a
    /// rule added to a live program does not judge spending from before it
    /// existed. None: from the window's start (the publication is unknown).
    pub counted_from: Option<DayNumber>,
}

/// Longest grace and earliest warning, in days.
pub const MAX_RETENTION_DAYS: u32 = 366;
/// At most this many warning days per tier.
pub const MAX_WARNINGS: usize = 5;

#[derive(Debug, Clone)]
pub struct Rule {
    pub criteria: SmallVec<[Criterion; MAX_CRITERIA]>,
    pub table: TruthTable,
    pub upgrade_type: UpgradeType,
}

#[derive(Debug, Clone)]
pub struct Criterion {
    pub id: String,
    pub kind: CriterionKind,
    pub min: Decimal,
    /// `op: gt`: the value must be more than `min`.
    pub strict: bool,
    /// Index into [`Program::trackers`] for `tracker` criteria.
    pub tracker: Option<usize>,
    /// The criterion's own window over its tracker's series.
    pub period: Option<Period>,
}

impl Criterion {
    pub fn met_by(&self, value: Decimal) -> bool {
        if self.strict {
            value > self.min
        } else {
            value >= self.min
        }
    }
}

/// The last window start a tracker computed, as `(day << 32) | first`: every
/// decision needs each tracker's window start on the order's day, orders
/// mostly come on the same day as the one before, and a month's start is
/// calendar arithmetic. Shared by the threads deciding with one program.
#[derive(Debug)]
pub(crate) struct WindowMemo(AtomicU64);

impl WindowMemo {
    fn new(period: Period) -> Self {
        let memo = WindowMemo(AtomicU64::new(0));
        memo.store(-1, period.window_first_day(-1));
        memo
    }

    /// A memo that answers nothing yet: `i32::MIN` is no day of any
    /// instant (chrono's dates end within 10^8 days of day 0).
    fn unset() -> Self {
        let memo = WindowMemo(AtomicU64::new(0));
        memo.store(DayNumber::MIN, 0);
        memo
    }

    fn store(&self, day: DayNumber, first: DayNumber) {
        let packed = (u64::from(day as u32) << 32) | u64::from(first as u32);
        self.0.store(packed, Ordering::Relaxed);
    }

    fn get(&self, day: DayNumber) -> Option<DayNumber> {
        let packed = self.0.load(Ordering::Relaxed);
        ((packed >> 32) as u32 as i32 == day).then_some(packed as u32 as i32)
    }
}

impl Clone for WindowMemo {
    fn clone(&self) -> Self {
        WindowMemo(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl Tracker {
    /// The first day of the tracker's own window ending on `day`.
    #[inline]
    pub fn window_first_day(&self, day: DayNumber) -> DayNumber {
        if let Some(first) = self.window_memo.get(day) {
            return first;
        }
        let first = self.period.window_first_day(day);
        self.window_memo.store(day, first);
        first
    }

    /// The first day any window over the series still reads, for windows
    /// ending on `day`.
    pub fn kept_from(&self, day: DayNumber) -> DayNumber {
        // Every order expires first, and asks this of every tracker: month
        // arithmetic per retained period per order, memoised as windows are.
        if let Some(first) = self.kept_memo.get(day) {
            return first;
        }
        let first = self
            .retention
            .iter()
            .map(|p| p.window_first_day(day))
            .min()
            .unwrap_or(day);
        self.kept_memo.store(day, first);
        first
    }
}

#[derive(Debug, Clone)]
pub struct Tracker {
    pub id: String,
    pub measure: Measure,
    pub aggregate: Aggregate,
    pub category: Option<String>,
    /// Only orders of at least this amount count.
    pub min_order: Option<Decimal>,
    pub period: Period,
    /// Every window read over the series (the tracker's own and those of
    /// criteria with their own `period`): days are kept while any holds them.
    pub retention: Vec<Period>,
    /// Identifies what the tracker counts; a customer's stored series is only
    /// reused while this is unchanged, otherwise it is rebuilt from history.
    pub key: String,
    pub(crate) window_memo: WindowMemo,
    /// `kept_from`'s last answer (it depends on `retention`, which grows
    /// while the program is validated, so it starts empty).
    pub(crate) kept_memo: WindowMemo,
}

/// One problem of a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub code: &'static str,
    pub message: String,
    /// For an expression: the 1-based character of the text at `path`
    /// where the problem is (an editor puts its caret there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

impl Program {
    pub fn config(&self) -> &ProgramConfig {
        &self.config
    }

    /// The same program, known as stored config version `version`.
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// When each tier's retention rule (by tier name) was configured as it
    /// is; tiers not named count from their windows' start.
    pub fn with_retention_since(mut self, since: &[(String, DateTime<Utc>)]) -> Self {
        for tier in &mut self.tiers {
            if let Some(r) = tier.retention.as_mut() {
                r.counted_from = since
                    .iter()
                    .find(|(name, _)| *name == tier.name)
                    .map(|(_, at)| crate::period::day_of(*at));
            }
        }
        self
    }

    /// Whether any tier has a retention rule (its tier can lapse).
    pub fn lapses(&self) -> bool {
        self.lapses
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    pub fn trackers(&self) -> &[Tracker] {
        &self.trackers
    }

    pub fn tier_index(&self, name: &str) -> Option<TierIndex> {
        self.tiers.iter().position(|t| t.name == name)
    }

    pub fn tier_name(&self, tier: TierIndex) -> &str {
        &self.tiers[tier].name
    }

    pub fn currency(&self) -> &str {
        &self.config.currency
    }

    pub fn start_date(&self) -> DateTime<Utc> {
        self.start_date
    }

    /// The longest tracker window, in days back from `day`: how far history
    /// must reach to rebuild any tracker.
    pub fn earliest_tracked_day(&self, day: DayNumber) -> DayNumber {
        self.trackers
            .iter()
            .map(|t| t.kept_from(day))
            .min()
            .unwrap_or(day)
    }

    /// [`Program::validate`] for a config about to be published: also
    /// within [`MAX_KEPT_DAYS`], and tier names without control
    /// characters. Stored versions are read back with
    /// `validate` alone, so a version stored before the bound still loads.
    pub fn validate_new(config: ProgramConfig) -> Result<Program, Vec<Problem>> {
        let program = Program::validate(config)?;
        let mut problems = Problems::default();
        for (i, tier) in program.config.tiers.iter().enumerate() {
            // Names travel in history, events and URLs (`explain?tier=`),
            // which refuse control characters.
            if tier.name.chars().any(char::is_control) {
                problems.add(
                    format!("/tiers/{i}/name"),
                    "invalid_name",
                    "a tier name must not contain control characters",
                );
            }
        }
        let kept = program.kept_days();
        if kept > u64::from(MAX_KEPT_DAYS) {
            problems.add(
                "/trackers",
                "too_many_kept_days",
                format!(
                    "the trackers' longest windows and the points expiry period keep \
                     {kept} days of figures in all, over the {MAX_KEPT_DAYS} a customer's \
                     state can hold: shorten the longest periods"
                ),
            );
        }
        if !problems.0.is_empty() {
            return Err(problems.0);
        }
        Ok(program)
    }

    /// At most how many days of figures a customer's state keeps: every
    /// tracker's longest window plus the points expiry period.
    pub fn kept_days(&self) -> u64 {
        let trackers: u64 = self
            .trackers
            .iter()
            .map(|t| {
                t.retention
                    .iter()
                    .map(|p| p.longest_days())
                    .max()
                    .unwrap_or(0)
            })
            .sum();
        trackers + self.config.points_expiry.map_or(0, |p| p.longest_days())
    }

    pub fn validate(config: ProgramConfig) -> Result<Program, Vec<Problem>> {
        let mut problems = Problems::default();
        check_currency(&config.currency, &mut problems);
        if let Err(e) = crate::events::check_time("startDate", config.start_date) {
            problems.add("/startDate", "invalid_start_date", e.to_string());
        }
        if let Some(p) = config.points_expiry {
            check_period(p, "/pointsExpiry", &mut problems);
            if p.calendar.is_some() {
                problems.add(
                    "/pointsExpiry",
                    "invalid_period",
                    "points expire after `days` or `months`; calendar periods are for trackers",
                );
            }
        }
        let trackers = build_trackers(&config.trackers, &mut problems);
        let tiers = build_tiers(&config.tiers, &config.trackers, &mut problems);
        if !problems.0.is_empty() {
            return Err(problems.0);
        }
        let mut trackers = trackers;
        let retention_rules = tiers
            .iter()
            .filter_map(|t| t.retention.as_ref().map(|r| &r.rule));
        for rule in tiers
            .iter()
            .filter_map(|t| t.rule.as_ref())
            .chain(retention_rules)
        {
            for c in &rule.criteria {
                if let (Some(t), Some(p)) = (c.tracker, c.period) {
                    if !trackers[t].retention.contains(&p) {
                        trackers[t].retention.push(p);
                    }
                }
            }
        }
        let start_date = config.start_date;
        let trackers_above = (0..tiers.len())
            .map(|from| {
                tiers
                    .iter()
                    .skip(from + 1)
                    .filter_map(|t| t.rule.as_ref())
                    .flat_map(|r| r.criteria.iter().filter_map(|c| c.tracker))
                    .fold(0u32, |used, t| used | (1 << t))
            })
            .collect();
        let mut program = Program {
            version: 0,
            start_date,
            trackers_above,
            lapses: tiers.iter().any(|t| t.retention.is_some()),
            tiers,
            trackers,
            config,
            plan: None,
        };
        program.plan = crate::plan::Plan::of(&program);
        Ok(program)
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            code,
            message: message.into(),
            position: None,
        });
    }

    fn add_at(&mut self, path: String, code: &'static str, message: String, position: usize) {
        self.0.push(Problem {
            path,
            code,
            message,
            position: Some(position),
        });
    }
}

fn check_currency(currency: &str, problems: &mut Problems) {
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        problems.add(
            "/currency",
            "invalid_currency",
            format!("`{currency}` is not a three-letter ISO 4217 code such as USD"),
        );
    }
}

fn check_period(period: Period, path: &str, problems: &mut Problems) {
    match (period.days, period.months, period.calendar) {
        (Some(0), None, None) | (None, Some(0), None) => problems.add(
            path,
            "invalid_period",
            "a period must be at least 1 day or month",
        ),
        (Some(d), None, None) if d > MAX_PERIOD_DAYS => problems.add(
            path,
            "invalid_period",
            format!("a period is at most {MAX_PERIOD_DAYS} days (100 years)"),
        ),
        (None, Some(m), None) if m > MAX_PERIOD_MONTHS => problems.add(
            path,
            "invalid_period",
            format!("a period is at most {MAX_PERIOD_MONTHS} months (100 years)"),
        ),
        (Some(_), None, None) | (None, Some(_), None) | (None, None, Some(_)) => {}
        _ => problems.add(
            path,
            "invalid_period",
            "a period needs exactly one of `days`, `months` or `calendar`",
        ),
    }
}

fn check_id(id: &str, path: &str, what: &str, problems: &mut Problems) {
    let well_formed = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed {
        problems.add(
            path,
            "invalid_id",
            format!("{what} `{id}` must be 1 to 64 letters, digits, `_` or `-`"),
        );
    }
}

fn build_trackers(configs: &[TrackerConfig], problems: &mut Problems) -> Vec<Tracker> {
    if configs.len() > MAX_TRACKERS {
        problems.add(
            "/trackers",
            "too_many_trackers",
            format!("at most {MAX_TRACKERS} trackers per program"),
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(configs.len());
    for (i, t) in configs.iter().enumerate() {
        let path = format!("/trackers/{i}");
        check_id(&t.id, &format!("{path}/id"), "tracker id", problems);
        if !seen.insert(t.id.as_str()) {
            problems.add(
                format!("{path}/id"),
                "duplicate_id",
                format!("tracker id `{}` is used twice", t.id),
            );
        }
        check_period(t.period, &format!("{path}/period"), problems);
        if t.measure == Measure::Visits && t.aggregate == Aggregate::Max {
            problems.add(
                format!("{path}/aggregate"),
                "invalid_aggregate",
                "`max` of visits is always 1; use `sum` to count visits",
            );
        }
        if let Some(f) = &t.filter {
            if f.category.as_ref().is_some_and(|c| c.is_empty()) {
                problems.add(
                    format!("{path}/filter/category"),
                    "invalid_filter",
                    "the category must not be empty",
                );
            }
            if f.category.is_none() && f.min_order_amount.is_none() {
                problems.add(
                    format!("{path}/filter"),
                    "invalid_filter",
                    "a filter names a `category`, a `minOrderAmount`, or both",
                );
            }
            if let Some(m) = f.min_order_amount {
                if m < Decimal::ZERO || m > Decimal::from(crate::events::MAX_FIGURE) {
                    problems.add(
                        format!("{path}/filter/minOrderAmount"),
                        "invalid_filter",
                        format!(
                            "a minimum order amount is from 0 to {}",
                            crate::events::MAX_FIGURE
                        ),
                    );
                }
            }
        }
        let mut key = serde_json::to_string(&(
            &t.measure,
            &t.aggregate,
            &t.filter,
            t.period.days,
            t.period.months,
        ))
        .unwrap_or_default();
        // Appended only when present, so existing trackers keep their key
        // (and their stored series).
        if let Some(c) = t.period.calendar {
            key.push_str(&format!(":{c:?}"));
        }
        out.push(Tracker {
            id: t.id.clone(),
            measure: t.measure,
            aggregate: t.aggregate,
            category: t.filter.as_ref().and_then(|f| f.category.clone()),
            min_order: t.filter.as_ref().and_then(|f| f.min_order_amount),
            period: t.period,
            retention: vec![t.period],
            key: fingerprint(&format!("{}:{key}", t.id)),
            window_memo: WindowMemo::new(t.period),
            kept_memo: WindowMemo::unset(),
        });
    }
    out
}

/// FNV-1a 64 of a tracker's definition: stored with every series, so short.
fn fingerprint(definition: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in definition.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

fn build_tiers(
    configs: &[TierConfig],
    trackers: &[TrackerConfig],
    problems: &mut Problems,
) -> Vec<Tier> {
    if configs.is_empty() {
        problems.add(
            "/tiers",
            "no_tiers",
            "a program needs at least its base tier",
        );
    }
    if configs.len() > MAX_TIERS {
        problems.add(
            "/tiers",
            "too_many_tiers",
            format!("at most {MAX_TIERS} tiers per program"),
        );
    }
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(configs.len());
    for (i, tier) in configs.iter().enumerate() {
        let path = format!("/tiers/{i}");
        if tier.name.trim().is_empty() || tier.name.len() > 128 {
            problems.add(
                format!("{path}/name"),
                "invalid_name",
                "a tier name must be 1 to 128 characters",
            );
        }
        if !names.insert(tier.name.as_str()) {
            problems.add(
                format!("{path}/name"),
                "duplicate_name",
                format!("tier name `{}` is used twice", tier.name),
            );
        }
        if tier.earn_rate <= Decimal::ZERO || tier.earn_rate > Decimal::from(MAX_EARN_RATE) {
            problems.add(
                format!("{path}/earnRate"),
                "invalid_earn_rate",
                format!(
                    "earn rate must be positive and at most {MAX_EARN_RATE}, got {}",
                    tier.earn_rate
                ),
            );
        }
        let rule = match (&tier.upgrade, i) {
            (Some(_), 0) => {
                problems.add(
                    format!("{path}/upgrade"),
                    "base_tier_upgrade",
                    "the base tier (first) is where every customer starts; it has no upgrade rule",
                );
                None
            }
            (None, 0) => None,
            (None, _) => {
                problems.add(
                    format!("{path}/upgrade"),
                    "unreachable_tier",
                    format!(
                        "tier `{}` has no upgrade rule, so nobody can reach it",
                        tier.name
                    ),
                );
                None
            }
            (Some(rule), _) => build_rule(rule, &format!("{path}/upgrade"), trackers, problems),
        };
        let retention = tier.retention.as_ref().and_then(|r| {
            if i == 0 {
                problems.add(
                    format!("{path}/retention"),
                    "base_tier_retention",
                    "the base tier is the lowest: there is nothing to keep or lose",
                );
                return None;
            }
            build_retention(r, &format!("{path}/retention"), trackers, problems)
        });
        out.push(Tier {
            name: tier.name.clone(),
            earn_rate: tier.earn_rate,
            rule,
            retention,
        });
    }
    out
}

fn build_retention(
    config: &RetentionConfig,
    path: &str,
    trackers: &[TrackerConfig],
    problems: &mut Problems,
) -> Option<Retention> {
    let before = problems.0.len();
    let months = config.validity.months;
    if months == 0 || months > MAX_PERIOD_MONTHS {
        problems.add(
            format!("{path}/validity/months"),
            "invalid_validity",
            format!("a validity period is 1 to {MAX_PERIOD_MONTHS} months, got {months}"),
        );
    }
    if config.grace_days > MAX_RETENTION_DAYS {
        problems.add(
            format!("{path}/graceDays"),
            "invalid_grace",
            format!(
                "grace is 0 to {MAX_RETENTION_DAYS} days, got {}",
                config.grace_days
            ),
        );
    }
    let warnings = &config.warn_days_before;
    // Past the bound the entries are not looked at one by one: a body of
    // hundreds of thousands of them once took over a minute (each compared
    // with those before it) and answered one problem each.
    let listed = if warnings.len() > MAX_WARNINGS {
        problems.add(
            format!("{path}/warnDaysBefore"),
            "invalid_warnings",
            format!(
                "at most {MAX_WARNINGS} warning days, got {}",
                warnings.len()
            ),
        );
        &[][..]
    } else {
        &warnings[..]
    };
    for (j, days) in listed.iter().enumerate() {
        if *days == 0 || *days > MAX_RETENTION_DAYS {
            problems.add(
                format!("{path}/warnDaysBefore/{j}"),
                "invalid_warnings",
                format!(
                    "a warning comes 1 to {MAX_RETENTION_DAYS} days before the end, got {days}"
                ),
            );
        }
        if listed[..j].contains(days) {
            problems.add(
                format!("{path}/warnDaysBefore/{j}"),
                "invalid_warnings",
                format!("{days} days is listed twice"),
            );
        }
    }
    for (j, c) in config.criteria.iter().enumerate() {
        if c.upgrade_type.is_some() {
            problems.add(
                format!("{path}/criteria/{j}/upgradeType"),
                "unexpected_upgrade_type",
                "a retention criterion keeps a tier; it issues no points and has no upgrade type",
            );
        }
    }
    let rule = if config.criteria.is_empty() {
        problems.add(
            format!("{path}/criteria"),
            "no_criteria",
            "a retention rule needs at least one criterion (leave `retention` out for a tier that never lapses)",
        );
        None
    } else {
        let as_upgrade = UpgradeRuleConfig {
            criteria: config.criteria.clone(),
            condition: config.condition.clone(),
            upgrade_type: UpgradeType::Lazy,
        };
        build_rule(&as_upgrade, path, trackers, problems)
    };
    if problems.0.len() > before {
        return None;
    }
    let mut warn_days_before = warnings.clone();
    warn_days_before.sort_unstable_by(|a, b| b.cmp(a));
    rule.map(|rule| Retention {
        validity_months: months,
        from: config.validity.from,
        rule,
        on_fail: config.on_fail,
        grace_days: config.grace_days,
        warn_days_before,
        counted_from: None,
    })
}

fn build_rule(
    rule: &UpgradeRuleConfig,
    path: &str,
    trackers: &[TrackerConfig],
    problems: &mut Problems,
) -> Option<Rule> {
    let before = problems.0.len();
    let n = rule.criteria.len();
    if n == 0 {
        problems.add(
            format!("{path}/criteria"),
            "unreachable_tier",
            "an upgrade rule needs at least one criterion",
        );
    }
    if n > MAX_CRITERIA {
        problems.add(
            format!("{path}/criteria"),
            "too_many_criteria",
            format!("at most {MAX_CRITERIA} criteria per tier, got {n}"),
        );
    }
    let mut ids = HashSet::new();
    let mut criteria = SmallVec::new();
    for (j, c) in rule.criteria.iter().enumerate() {
        let cpath = format!("{path}/criteria/{j}");
        check_id(&c.id, &format!("{cpath}/id"), "criterion id", problems);
        if matches!(c.id.to_ascii_uppercase().as_str(), "AND" | "OR") {
            problems.add(
                format!("{cpath}/id"),
                "invalid_id",
                "AND and OR are operators, not criterion ids",
            );
        }
        if !ids.insert(c.id.as_str()) {
            problems.add(
                format!("{cpath}/id"),
                "duplicate_id",
                format!("criterion id `{}` is used twice in this rule", c.id),
            );
        }
        if c.min <= Decimal::ZERO || c.min > Decimal::from(crate::events::MAX_FIGURE) {
            problems.add(
                format!("{cpath}/min"),
                "invalid_min",
                format!(
                    "a threshold must be positive and at most {}, got {}",
                    crate::events::MAX_FIGURE,
                    c.min
                ),
            );
        }
        let tracker = match (c.kind, &c.tracker) {
            (CriterionKind::Tracker, Some(name)) => {
                let found = trackers.iter().position(|t| &t.id == name);
                match found {
                    None => problems.add(
                        format!("{cpath}/tracker"),
                        "unknown_tracker",
                        format!("no tracker `{name}` in /trackers"),
                    ),
                    Some(t)
                        if trackers[t].measure == Measure::Visits && !c.min.fract().is_zero() =>
                    {
                        problems.add(
                            format!("{cpath}/min"),
                            "invalid_min",
                            "a visit count threshold must be a whole number",
                        )
                    }
                    Some(_) => {}
                }
                found
            }
            (CriterionKind::Tracker, None) => {
                problems.add(
                    format!("{cpath}/tracker"),
                    "missing_tracker",
                    "a `tracker` criterion names its tracker",
                );
                None
            }
            (_, Some(_)) => {
                problems.add(
                    format!("{cpath}/tracker"),
                    "unexpected_tracker",
                    format!(
                        "only `tracker` criteria name a tracker, this is `{}`",
                        c.kind.as_str()
                    ),
                );
                None
            }
            (_, None) => None,
        };
        if let Some(own) = c.upgrade_type {
            if own != rule.upgrade_type && !matches!(rule.condition, ConditionConfig::All) {
                problems.add(
                    format!("{cpath}/upgradeType"),
                    "mixed_upgrade_types",
                    format!(
                        "under an any or custom condition every criterion uses the rule's upgrade type `{}`; \
                         with `{}` here the engine could not know whose upgrade type applies",
                        rule.upgrade_type.as_str(),
                        own.as_str()
                    ),
                );
            }
        }
        if let Some(p) = c.period {
            check_period(p, &format!("{cpath}/period"), problems);
            if c.kind != CriterionKind::Tracker {
                problems.add(
                    format!("{cpath}/period"),
                    "unexpected_period",
                    "only `tracker` criteria take a `period`",
                );
            }
        }
        criteria.push(Criterion {
            id: c.id.clone(),
            kind: c.kind,
            min: c.min,
            strict: c.op == Op::Gt,
            tracker,
            period: c.period,
        });
    }
    let n = n.min(MAX_CRITERIA);
    let table = match &rule.condition {
        ConditionConfig::All => Some(TruthTable::all(n)),
        ConditionConfig::Any(k) => {
            if *k < 1 || (*k as usize) >= n.max(1) {
                problems.add(
                    format!("{path}/condition"),
                    "invalid_any",
                    format!(
                        "`any` needs 1 <= k <= N-1 = {} for {n} criteria (k = N is `all`), got {k}",
                        n.saturating_sub(1)
                    ),
                );
                None
            } else {
                Some(TruthTable::any(n, *k))
            }
        }
        ConditionConfig::Custom(source) => {
            let labels: Vec<&str> = rule
                .criteria
                .iter()
                .take(n)
                .map(|c| c.id.as_str())
                .collect();
            match expression::compile(source, &labels) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.add_at(
                        format!("{path}/condition"),
                        "invalid_expression",
                        e.to_string(),
                        e.position,
                    );
                    None
                }
            }
        }
    };
    if problems.0.len() > before {
        return None;
    }
    table.map(|table| Rule {
        criteria,
        table,
        upgrade_type: rule.upgrade_type,
    })
}
