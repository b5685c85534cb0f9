//! The what-if report: sums over customers, so that the reports of any
//! split of the customers merge into the report of the whole
//! ([`Report::merge`]).

use crate::replay::CustomerRun;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tier_engine::{Points, Program};

/// Movers listed in the report itself (all of them go to the CSV).
pub const DEFAULT_SAMPLE: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Instants at which customers per tier are also counted (ascending).
    pub as_of: Vec<DateTime<Utc>>,
    /// The instant balances are told at: points due by then have expired.
    pub end: DateTime<Utc>,
    /// How many movers the report lists (the first by customer id).
    pub sample: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub end: DateTime<Utc>,
    pub sample_size: usize,
    /// Customers with any event in the replayed history.
    pub customers: u64,
    /// Events replayed (each counted once, under both configs).
    pub events: u64,
    pub current: SideReport,
    pub draft: SideReport,
    pub as_of: Vec<TiersAsOf>,
    pub movers: Movers,
}

/// A figure as the report prints it: without trailing zeros, so that a sum
/// prints the same whichever parts it was added from ("0" whether from 0 or
/// from 0.00).
fn normalized<S: serde::Serializer>(figure: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&figure.normalize(), s)
}

/// One config's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SideReport {
    /// The program's tiers, lowest first.
    pub ladder: Vec<String>,
    /// Customers stored at the end (at least one event counted).
    pub customers: u64,
    /// Customers per tier at the end.
    pub tiers: BTreeMap<String, u64>,
    /// Points the orders earned.
    #[serde(serialize_with = "normalized")]
    pub points_awarded: Decimal,
    /// Points returns and cancellations took back.
    #[serde(serialize_with = "normalized")]
    pub points_reversed: Decimal,
    /// Points redemptions spent.
    #[serde(serialize_with = "normalized")]
    pub points_redeemed: Decimal,
    /// Current points at `end`, after what is due by then has expired.
    #[serde(serialize_with = "normalized")]
    pub points_outstanding: Decimal,
    /// Upgrades by the month (UTC, `YYYY-MM`) they happened in.
    pub upgrades_per_month: BTreeMap<String, u64>,
    /// Events the service would refuse under this config (a redemption of
    /// more points than the draft gave, a currency it does not take).
    pub events_refused: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TiersAsOf {
    pub at: DateTime<Utc>,
    pub current: BTreeMap<String, u64>,
    pub draft: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Movers {
    pub higher: u64,
    /// Lower under the draft: the customers the draft would demote if it
    /// were applied retroactively (informational: publishing never demotes).
    pub lower: u64,
    pub unchanged: u64,
    /// The first movers by customer id.
    pub sample: Vec<Mover>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    Higher,
    Lower,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Higher => "higher",
            Direction::Lower => "lower",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mover {
    pub customer_id: String,
    pub direction: Direction,
    /// None: not a customer under that config.
    pub current_tier: Option<String>,
    pub draft_tier: Option<String>,
    pub current_points: Points,
    pub draft_points: Points,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("the reports are of different runs: {0} differ")]
    Different(&'static str),
}

impl SideReport {
    fn new(program: &Program) -> Self {
        SideReport {
            ladder: program.tiers().iter().map(|t| t.name.clone()).collect(),
            customers: 0,
            tiers: BTreeMap::new(),
            points_awarded: Decimal::ZERO,
            points_reversed: Decimal::ZERO,
            points_redeemed: Decimal::ZERO,
            points_outstanding: Decimal::ZERO,
            upgrades_per_month: BTreeMap::new(),
            events_refused: 0,
        }
    }

    /// Adds one customer's run; returns the tier held at the end and the
    /// current points at `end`.
    fn add(
        &mut self,
        program: &Program,
        run: &CustomerRun,
        end: DateTime<Utc>,
    ) -> (Option<String>, Points) {
        self.points_awarded += run.points_awarded;
        self.points_reversed += run.points_reversed;
        self.points_redeemed += run.points_redeemed;
        self.events_refused += run.refused;
        for at in &run.upgrades {
            *self
                .upgrades_per_month
                .entry(at.format("%Y-%m").to_string())
                .or_default() += 1;
        }
        let Some(state) = &run.state else {
            return (None, Decimal::ZERO);
        };
        self.customers += 1;
        let mut at_end = state.clone();
        program.expire(&mut at_end, end);
        self.points_outstanding += at_end.current_points;
        let tier = program.tier_name(state.tier_index(program)).to_owned();
        *self.tiers.entry(tier.clone()).or_default() += 1;
        (Some(tier), at_end.current_points)
    }

    fn merge(&mut self, other: &SideReport) -> Result<(), MergeError> {
        if self.ladder != other.ladder {
            return Err(MergeError::Different("tier ladders"));
        }
        self.customers += other.customers;
        add_counts(&mut self.tiers, &other.tiers);
        self.points_awarded += other.points_awarded;
        self.points_reversed += other.points_reversed;
        self.points_redeemed += other.points_redeemed;
        self.points_outstanding += other.points_outstanding;
        add_counts(&mut self.upgrades_per_month, &other.upgrades_per_month);
        self.events_refused += other.events_refused;
        Ok(())
    }
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// Where a tier stands for comparing the two configs: its place in the
/// current ladder when the current ladder has a tier of that name, else its
/// place in the draft's own ladder. Not a customer: below every tier.
fn rank(current: &Program, program: &Program, tier: Option<&str>) -> i64 {
    let Some(name) = tier else { return -1 };
    current
        .tier_index(name)
        .or_else(|| program.tier_index(name))
        .map_or(-1, |i| i as i64)
}

impl Report {
    pub fn new(options: &ReportOptions, current: &Program, draft: &Program) -> Self {
        Report {
            end: options.end,
            sample_size: options.sample,
            customers: 0,
            events: 0,
            current: SideReport::new(current),
            draft: SideReport::new(draft),
            as_of: options
                .as_of
                .iter()
                .map(|at| TiersAsOf {
                    at: *at,
                    current: BTreeMap::new(),
                    draft: BTreeMap::new(),
                })
                .collect(),
            movers: Movers {
                higher: 0,
                lower: 0,
                unchanged: 0,
                sample: Vec::new(),
            },
        }
    }

    /// Adds one customer's two runs (over `events` events); returns the
    /// customer as a mover when the draft puts them on another tier.
    pub fn add(
        &mut self,
        customer_id: &str,
        events: usize,
        (current, current_run): (&Program, &CustomerRun),
        (draft, draft_run): (&Program, &CustomerRun),
    ) -> Option<Mover> {
        self.customers += 1;
        self.events += events as u64;
        let (current_tier, current_points) = self.current.add(current, current_run, self.end);
        let (draft_tier, draft_points) = self.draft.add(draft, draft_run, self.end);
        for (i, slot) in self.as_of.iter_mut().enumerate() {
            if let Some(Some(t)) = current_run.tiers_at.get(i) {
                *slot
                    .current
                    .entry(current.tier_name(*t).to_owned())
                    .or_default() += 1;
            }
            if let Some(Some(t)) = draft_run.tiers_at.get(i) {
                *slot
                    .draft
                    .entry(draft.tier_name(*t).to_owned())
                    .or_default() += 1;
            }
        }
        let before = rank(current, current, current_tier.as_deref());
        let after = rank(current, draft, draft_tier.as_deref());
        let direction = match after.cmp(&before) {
            std::cmp::Ordering::Equal => {
                self.movers.unchanged += 1;
                return None;
            }
            std::cmp::Ordering::Greater => {
                self.movers.higher += 1;
                Direction::Higher
            }
            std::cmp::Ordering::Less => {
                self.movers.lower += 1;
                Direction::Lower
            }
        };
        let mover = Mover {
            customer_id: customer_id.to_owned(),
            direction,
            current_tier,
            draft_tier,
            current_points,
            draft_points,
        };
        self.keep_sample(std::slice::from_ref(&mover));
        Some(mover)
    }

    /// Keeps the first `sample_size` movers by customer id.
    fn keep_sample(&mut self, movers: &[Mover]) {
        let sample = &mut self.movers.sample;
        for m in movers {
            if sample.len() >= self.sample_size
                && sample
                    .last()
                    .is_some_and(|last| last.customer_id <= m.customer_id)
            {
                continue;
            }
            let at = sample.partition_point(|s| s.customer_id < m.customer_id);
            sample.insert(at, m.clone());
            sample.truncate(self.sample_size);
        }
    }

    /// Adds the report of other customers of the same run (same configs,
    /// instants and sample size). Merging the reports of any split of the
    /// customers gives the report of the whole.
    pub fn merge(&mut self, other: &Report) -> Result<(), MergeError> {
        if self.end != other.end {
            return Err(MergeError::Different("end instants"));
        }
        if self.sample_size != other.sample_size {
            return Err(MergeError::Different("sample sizes"));
        }
        if self.as_of.len() != other.as_of.len()
            || self
                .as_of
                .iter()
                .zip(&other.as_of)
                .any(|(a, b)| a.at != b.at)
        {
            return Err(MergeError::Different("asOf instants"));
        }
        // Check both ladders before changing anything.
        if self.current.ladder != other.current.ladder || self.draft.ladder != other.draft.ladder {
            return Err(MergeError::Different("tier ladders"));
        }
        self.customers += other.customers;
        self.events += other.events;
        self.current.merge(&other.current)?;
        self.draft.merge(&other.draft)?;
        for (a, b) in self.as_of.iter_mut().zip(&other.as_of) {
            add_counts(&mut a.current, &b.current);
            add_counts(&mut a.draft, &b.draft);
        }
        self.movers.higher += other.movers.higher;
        self.movers.lower += other.movers.lower;
        self.movers.unchanged += other.movers.unchanged;
        self.keep_sample(&other.movers.sample);
        Ok(())
    }
}

/// The movers CSV's header; [`mover_row`] writes one row.
pub const MOVERS_HEADER: [&str; 6] = [
    "customerId",
    "direction",
    "currentTier",
    "draftTier",
    "currentPoints",
    "draftPoints",
];

pub fn mover_row(m: &Mover) -> [String; 6] {
    [
        m.customer_id.clone(),
        m.direction.as_str().to_owned(),
        m.current_tier.clone().unwrap_or_default(),
        m.draft_tier.clone().unwrap_or_default(),
        m.current_points.to_string(),
        m.draft_points.to_string(),
    ]
}
