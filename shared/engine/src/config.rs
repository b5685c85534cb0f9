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
