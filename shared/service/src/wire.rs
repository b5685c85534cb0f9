//! Response bodies, camelCase; decimals leave as strings.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A decimal rendered as a JSON string without trailing zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dec(#[serde(with = "tier_engine::decimal::exact")] pub Decimal);

impl From<Decimal> for Dec {
    fn from(d: Decimal) -> Self {
        Dec(d.normalize())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentOut {
    pub tier: String,
    pub amount: Dec,
    pub rate: Dec,
    pub points: Dec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeOut {
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
    pub upgrade_type: String,
    /// Ids of the target tier's criteria that held.
    pub criteria: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DowngradeOut {
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderResponse {
    pub program_id: String,
    pub customer_id: String,
    pub order_id: String,
    pub applied: bool,
    pub duplicate: bool,
    pub status: String,
    pub tier_before: String,
    pub tier_after: String,
    pub points_awarded: Dec,
    pub points_segments: Vec<SegmentOut>,
    pub upgrades: Vec<UpgradeOut>,
    /// Only for a `cancelled` event of a completed order (a whole return).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_reversed: Option<Dec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downgrades: Vec<DowngradeOut>,
    /// The tier the customer held when the order arrived, for the log: a
    /// late order's `tier_before` is the tier held at its instant, which
    /// names no change made now. Neither served nor stored (a replay
    /// changes nothing).
    #[serde(skip)]
    pub tier_on_arrival: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnResponse {
    pub program_id: String,
    pub customer_id: String,
    pub order_id: String,
    pub return_id: String,
    pub duplicate: bool,
    pub amount_returned: Dec,
    pub points_reversed: Dec,
    /// Points a `withinBalance` return policy could not take back.
    pub points_shortfall: Dec,
    pub tier_before: String,
    pub tier_after: String,
    pub downgrades: Vec<DowngradeOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionResponse {
    pub program_id: String,
    pub customer_id: String,
    pub redemption_id: String,
    pub duplicate: bool,
    pub points_redeemed: Dec,
    pub current_points: Dec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierSetResponse {
    pub program_id: String,
    pub customer_id: String,
    pub tier_before: String,
    pub tier: String,
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriterionOut {
    pub id: String,
    pub kind: String,
    pub required: Dec,
    pub actual: Dec,
    pub remaining: Dec,
    pub met: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressOut {
    pub tier: String,
    pub qualifies: bool,
    pub criteria: Vec<CriterionOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryOut {
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
    pub cause: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub program_id: String,
    pub customer_id: String,
    pub as_of: DateTime<Utc>,
    pub tier: String,
    pub tier_since: DateTime<Utc>,
    pub current_points: Dec,
    pub lifetime_points: Dec,
    pub lifetime_purchases: Dec,
    pub trackers: BTreeMap<String, Dec>,
    pub progress: Vec<ProgressOut>,
    pub history: Vec<HistoryOut>,
    /// Current points by the day they expire, soonest first (empty without
    /// `pointsExpiry`).
    pub expiring_points: Vec<ExpiringOut>,
    /// When the tier lapses unless its retention condition holds then
    /// (absent: the tier never lapses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// Set while the retention condition failed and the tier's grace runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_grace_until: Option<DateTime<Utc>>,
    /// From the first warning day before the end, while the condition
    /// would not hold then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_risk: Option<AtRiskOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AtRiskOut {
    pub tier: String,
    /// The end of the validity, or of the grace while it runs.
    pub on: DateTime<Utc>,
    /// Each retention criterion as it would stand at `on` with what is
    /// known now.
    pub criteria: Vec<CriterionOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiringOut {
    pub on: chrono::NaiveDate,
    pub points: Dec,
}

/// One order of a customer, as the console's order list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerOrderOut {
    pub order_id: String,
    /// `completed`, `pending` or `cancelled`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_at: Option<DateTime<Utc>>,
    /// The figures of a completed order (absent while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Dec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned_amount: Option<Dec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_awarded: Option<Dec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_reversed: Option<Dec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerOrdersResponse {
    pub program_id: String,
    pub customer_id: String,
    /// How many orders the customer has in all.
    pub total: u64,
    /// The latest `limit` of them, newest first.
    pub orders: Vec<CustomerOrderOut>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryReport {
    pub time: DateTime<Utc>,
    pub customers_due: u64,
    pub customers_changed: u64,
    /// Customers that could not be processed: reported, logged and skipped.
    pub customers_failed: u64,
    pub points_expired: Dec,
    pub tracker_days_dropped: u64,
    /// The first failures, with why.
    pub failures: Vec<ExpiryFailure>,
    /// Shards whose worker kept failing (the state machine's fan-out): their
    /// due customers wait for the next run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shards_failed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One shard's run of the job, handed from one worker step to the next by
/// the state machine: where it stands and its figures so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShardRun {
    pub shard: u32,
    pub time: DateTime<Utc>,
    /// Where the shard's next page starts: absent at the start, and in a
    /// reply when the shard is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<tier_store::PageCursor>,
    /// Customers per index page (1 to 100; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i32>,
    /// How long a step takes pages for (at most 15,000; default 10,000; 0:
    /// one page a step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_ms: Option<u64>,
    /// The shard's figures so far (absent at the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ExpiryReport>,
    /// Set by the state machine for a shard whose worker kept failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

impl ShardRun {
    pub fn start(time: DateTime<Utc>, shard: u32) -> Self {
        ShardRun {
            shard,
            time,
            after: None,
            page_size: None,
            budget_ms: None,
            report: None,
            failed: false,
        }
    }
}

impl ExpiryReport {
    pub fn empty(time: DateTime<Utc>) -> Self {
        ExpiryReport {
            time,
            customers_due: 0,
            customers_changed: 0,
            customers_failed: 0,
            points_expired: rust_decimal::Decimal::ZERO.into(),
            tracker_days_dropped: 0,
            failures: Vec::new(),
            shards_failed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryFailure {
    pub program_id: String,
    pub customer_id: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriterionTruthOut {
    pub id: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracker: Option<String>,
    /// `gte` (at least `required`) or `gt` (more than `required`).
    pub op: String,
    pub required: Dec,
    pub actual: Dec,
    pub met: bool,
}

/// What a past order would have needed to reach the tier explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderNeedOut {
    pub order_id: String,
    pub placed_at: DateTime<Utc>,
    pub amount: Dec,
    pub tier_before: String,
    pub tier_after: String,
    /// `heldBefore`, `met`, `amount` or `noAmount`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smallest_amount: Option<Dec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_amount: Option<Dec>,
    /// Why no amount could (`noAmount`), one line per criterion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExplainResponse {
    pub program_id: String,
    pub customer_id: String,
    /// The instant judged: `asOf` (default now), or the order's `placedAt`.
    pub as_of: DateTime<Utc>,
    /// The config version whose rules were applied.
    pub config_version: u64,
    /// The customer's tier at that instant (before the order, with one).
    pub customer_tier: String,
    pub tier: String,
    pub qualifies: bool,
    pub criteria: Vec<CriterionTruthOut>,
    pub condition: String,
    pub evaluation: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderNeedOut>,
}
