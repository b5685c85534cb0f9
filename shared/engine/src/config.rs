//! The program configuration exactly as brands send it (camelCase JSON).
//! Nothing here is trusted: [`crate::Program::validate`] turns it into a
//! validated [`crate::Program`].

use crate::decimal::{exact, Money};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgramConfig {
    pub currency: String,
    pub start_date: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_expiry: Option<Period>,
    #[serde(default)]
    pub trackers: Vec<TrackerConfig>,
    pub tiers: Vec<TierConfig>,
    /// What a return may do to a balance whose points were already spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_policy: Option<ReturnPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReturnPolicy {
    pub spent_points: SpentPoints,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SpentPoints {
    /// The return takes the points back anyway: the balance may go below
    /// zero (the customer owes them).
    #[default]
    NegativeBalance,
    /// The return takes back at most the balance; the rest is reported as
    /// a shortfall.
    WithinBalance,
}

/// A rolling window of `days` or `months`, or the current calendar `year`,
/// `quarter` or `month` (UTC): exactly one of the three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Period {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<Calendar>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Calendar {
    Year,
    Quarter,
    Month,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackerConfig {
    pub id: String,
    pub measure: Measure,
    #[serde(default)]
    pub aggregate: Aggregate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<TrackerFilter>,
    pub period: Period,
}

/// Which orders a tracker counts: those with an item of `category`, those
/// of at least `minOrderAmount` (the reference's "purchases over $1000"),
/// or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackerFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(
        default,
        with = "crate::decimal::exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_order_amount: Option<Money>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Measure {
    BillAmount,
    GrossBillAmount,
    Points,
    LineItemPrice,
    Visits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Aggregate {
    #[default]
    Sum,
    Max,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierConfig {
    pub name: String,
    #[serde(with = "exact")]
    pub earn_rate: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeRuleConfig>,
    /// How long the tier lasts once reached and what keeps it (absent: it
    /// never lapses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
}

/// What keeps a customer in a tier: at the end of each validity period the
/// condition is judged as of that instant; met, the tier renews, otherwise
/// (after any grace) the customer moves as `onFail` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionConfig {
    pub validity: Validity,
    pub criteria: Vec<CriterionConfig>,
    pub condition: ConditionConfig,
    pub on_fail: OnFail,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub grace_days: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warn_days_before: Vec<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validity {
    pub months: u32,
    pub from: ValidityFrom,
}

/// Where validity periods are counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ValidityFrom {
    /// The instant the tier was reached or last renewed.
    TierStart,
    /// The customer's first event: periods end on its anniversaries.
    ProgramJoin,
    /// A day of the year (`"--01-01"`), at 00:00 UTC.
    FixedDate(MonthDay),
}

/// A day of the year in ISO 8601's `--MM-DD` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthDay {
    pub month: u32,
    pub day: u32,
}

impl Serialize for MonthDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("--{:02}-{:02}", self.month, self.day))
    }
}

impl<'de> Deserialize<'de> for MonthDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bad = || {
            let shown: String = text.chars().take(32).collect();
            serde::de::Error::custom(format!(
                "`{shown}` is not a day of the year as --MM-DD (every year has it: not --02-29)"
            ))
        };
        let rest = text.strip_prefix("--").ok_or_else(bad)?;
        let (m, d) = rest.split_once('-').ok_or_else(bad)?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(m) || !two_digits(d) {
            return Err(bad());
        }
        let month: u32 = m.parse().map_err(|_| bad())?;
        let day: u32 = d.parse().map_err(|_| bad())?;
        // 2001 is not a leap year: a day it lacks is not in every year.
        chrono::NaiveDate::from_ymd_opt(2001, month, day).ok_or_else(bad)?;
        Ok(MonthDay { month, day })
    }
}

/// Where a customer goes when a tier's retention condition fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnFail {
    /// The tier just below.
    OneDown,
    /// The highest tier whose upgrade condition holds then (never higher).
    Qualified,
    /// The base tier.
    Base,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradeRuleConfig {
    pub criteria: Vec<CriterionConfig>,
    pub condition: ConditionConfig,
    pub upgrade_type: UpgradeType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CriterionConfig {
    pub id: String,
    pub kind: CriterionKind,
    #[serde(with = "exact")]
    pub min: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_type: Option<UpgradeType>,
    /// `gte` (default: at least `min`) or `gt` (more than `min`).
    #[serde(default, skip_serializing_if = "Op::is_default")]
    pub op: Op,
    /// A tracker criterion's own window over the tracker's series (the
    /// tracker's period when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    #[default]
    Gte,
    Gt,
}

impl Op {
    pub fn is_default(&self) -> bool {
        *self == Op::Gte
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CriterionKind {
    CurrentPoints,
    LifetimePoints,
    LifetimePurchases,
    Tracker,
    SingleOrder,
}

/// `"all"`, `{"any": k}` or `{"custom": "(A AND B) OR C"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConditionConfig {
    All,
    Any(u32),
    Custom(String),
}

/// How the points of the order that crosses a threshold are issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UpgradeType {
    /// Issue points at the old tier, then upgrade.
    Lazy,
    /// Upgrade, then issue points at the new tier.
    Eager,
    /// Split the order where the threshold is crossed.
    Dynamic,
}

impl CriterionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CriterionKind::CurrentPoints => "currentPoints",
            CriterionKind::LifetimePoints => "lifetimePoints",
            CriterionKind::LifetimePurchases => "lifetimePurchases",
            CriterionKind::Tracker => "tracker",
            CriterionKind::SingleOrder => "singleOrder",
        }
    }
}

impl UpgradeType {
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeType::Lazy => "lazy",
            UpgradeType::Eager => "eager",
            UpgradeType::Dynamic => "dynamic",
        }
    }
}
