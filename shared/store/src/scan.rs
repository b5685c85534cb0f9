//! A program's stored history read by a Scan, and the items of the what-if
//! simulation job that reads it (docs/simulation.md, "Through the API").
//!
//! The table has no per-program index of customers, so the job scans the
//! table (in parallel segments) with a filter to the program's customer
//! partitions. DynamoDB bills a Scan for every item it reads, filtered out
//! or not: reading one program's history costs the whole table.
//!
//! The job's items live under the program's partition: `SIMULATION#<id>`
//! (request, status, progress, heartbeat, report), `SIMULATION` (the id
//! of the program's latest simulation: one runs at a time) and one
//! `SIMULATION#<id>#PART#<segment>` per Scan segment (its cursor, partial
//! report and counts, written together under a version, so that a job
//! resumes where any of its steps stopped).

use super::{
    classify, cursor_of, customer_of, event_of, get_n, get_s, key, key_of, keys, n, request_error,
    s,
};
use super::{DynamoStore, EventItem, Item, PageCursor, StoreError, StoredCustomer, MAX_ITEM_BYTES};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnConsumedCapacity, TransactWriteItem};
use std::io::{Read, Write};

/// The pointer to a program's latest simulation.
pub const SIMULATION_POINTER: &str = "SIMULATION";

pub fn simulation_sk(id: &str) -> String {
    format!("SIMULATION#{id}")
}

/// The prefix of every partition key of `program`'s customers.
pub fn customer_prefix(program: &str) -> String {
    format!("CUSTOMER#{}:{program}#", program.len())
}

/// A part of a simulation: one Scan segment's.
pub fn simulation_part_sk(id: &str, segment: u32) -> String {
    format!("SIMULATION#{id}#PART#{segment:03}")
}

/// One item of a customer's history as a Scan finds it.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryItem {
    State(Box<StoredCustomer>),
    Event(Box<EventItem>),
}

impl HistoryItem {
    /// The item's sort key.
    pub fn sk(&self) -> &str {
        match self {
            HistoryItem::State(_) => keys::STATE,
            HistoryItem::Event(e) => &e.sk,
        }
    }
}

/// The cursor a Scan of `program`'s history resumes from to read what
/// follows `customer`'s item `sk` (in its partition, then the partitions
/// after it): a Scan resumes after any key of its segment, not only the
/// last one it answered.
pub fn history_cursor(program: &str, customer: &str, sk: &str) -> PageCursor {
    PageCursor::from([
        ("pk".to_owned(), keys::customer_pk(program, customer)),
        ("sk".to_owned(), sk.to_owned()),
    ])
}

/// Whether `cursor` stands in `customer`'s partition (a Scan resumed from
/// it may still return some of that customer's items).
pub fn cursor_in_customer(program: &str, cursor: &PageCursor, customer: &str) -> bool {
    cursor.get("pk").map(String::as_str) == Some(keys::customer_pk(program, customer).as_str())
}

/// One page of a program's history: (customer id, item) in the order the
/// Scan returned them (a customer's items together, by sort key).
#[derive(Debug, Default)]
pub struct HistoryPage {
    pub items: Vec<(String, HistoryItem)>,
    /// Items DynamoDB read for the page, before the filter.
    pub scanned: u64,
    /// DynamoDB's last key read (None: the segment is read to its end).
    pub next: Option<PageCursor>,
}

/// One Scan segment's share of a simulation, as stored after each page: the
/// cursor is at a customer boundary (every customer before it is in
/// `report`, none after it), and the item is written only over the
/// `version` it was read at, so a step that runs twice counts nobody twice.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimulationPart {
    pub segment: u32,
    /// 0: not stored yet.
    pub version: u64,
    /// Where the segment goes on (None: at its start, or done).
    pub cursor: Option<PageCursor>,
    pub done: bool,
    /// The partial report (JSON) of the customers before the cursor.
    pub report: Option<String>,
    /// Customers in `report`.
    pub seen: u64,
    /// Items the segment's Scan read, re-reads included.
    pub scanned: u64,
    /// The segment's DynamoDB requests and capacity so far.
    pub requests: u64,
    pub read_units: f64,
    pub write_units: f64,
}

/// A simulation job as stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimulationRecord {
    pub id: String,
    /// queued, running, done or failed.
    pub status: String,
    /// The request as accepted (JSON: draft, window, current version).
    pub request: String,
    /// The process that runs it.
    pub owner: String,
    /// When the job last said it was alive (milliseconds since the epoch).
    pub heartbeat_ms: u64,
    pub customers_seen: u64,
    pub customers_total: Option<u64>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The report (JSON), once done.
    pub report: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// What the job read and wrote (JSON), once finished.
    pub usage: Option<String>,
}

/// How a job ends.
#[derive(Debug, Clone)]
pub enum SimulationEnd<'a> {
    Done {
        report: &'a str,
        customers: u64,
        usage: &'a str,
    },
    Failed {
        error: &'a str,
    },
}

fn deflate(json: &str) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), crate::codec::ITEM_LEVEL);
    e.write_all(json.as_bytes()).expect("writing to a Vec");
    e.finish().expect("writing to a Vec")
}

fn inflate(bytes: &[u8]) -> Result<String, StoreError> {
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(bytes)
        .read_to_string(&mut out)
        .map_err(|e| StoreError::Corrupt(format!("simulation report: {e}")))?;
    Ok(out)
}

fn part_of(item: &Item) -> Result<SimulationPart, StoreError> {
    let sk = get_s(item, "sk").unwrap_or_default();
    let segment = sk
        .rsplit_once("#PART#")
        .and_then(|(_, n)| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("simulation part `{sk}`")))?;
    let cursor = match get_s(item, "cursor") {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("simulation part cursor: {e}")))?,
        ),
        None => None,
    };
    let report = match item.get("report").and_then(|v| v.as_b().ok()) {
        Some(b) => Some(inflate(b.as_ref())?),
        None => None,
    };
    let float = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok(SimulationPart {
        segment,
        version: get_n(item, "version")?,
        cursor,
        done: item
            .get("done")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        report,
        seen: get_n(item, "seen").unwrap_or(0),
        scanned: get_n(item, "scanned").unwrap_or(0),
        requests: get_n(item, "requests").unwrap_or(0),
        read_units: float("readUnits"),
        write_units: float("writeUnits"),
    })
}

fn simulation_of(item: &Item) -> Result<SimulationRecord, StoreError> {
    let sk = get_s(item, "sk").unwrap_or_default();
    let report = match item.get("report").and_then(|v| v.as_b().ok()) {
        Some(b) => Some(inflate(b.as_ref())?),
        None => None,
    };
    Ok(SimulationRecord {
        id: sk
            .strip_prefix("SIMULATION#")
            .unwrap_or_default()
            .to_owned(),
        status: get_s(item, "status")
            .ok_or_else(|| StoreError::Corrupt("simulation without status".into()))?,
        request: get_s(item, "request").unwrap_or_default(),
        owner: get_s(item, "owner").unwrap_or_default(),
        heartbeat_ms: get_n(item, "heartbeat")?,
        customers_seen: get_n(item, "seen").unwrap_or(0),
        customers_total: get_n(item, "total").ok(),
        created_at: get_s(item, "createdAt").unwrap_or_default(),
        finished_at: get_s(item, "finishedAt"),
        report,
        error: get_s(item, "error"),
        usage: get_s(item, "usage"),
    })
}

impl DynamoStore {
    /// One page of segment `segment` of `segments` of a parallel Scan,
    /// keeping `program`'s customers' state, order, return and redemption
    /// items. Eventually consistent (half the read units of a strong read):
    /// the history of a program changes under a simulation anyway. `limit`:
    /// items read per page (None: DynamoDB's 1 MB pages).
    pub async fn scan_program_history(
        &self,
        program: &str,
        segment: u32,
        segments: u32,
        start: Option<PageCursor>,
        limit: Option<i32>,
    ) -> Result<HistoryPage, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment as i32)
            .total_segments(segments as i32)
            .filter_expression(
                "begins_with(pk, :prefix) AND (sk = :state OR begins_with(sk, :order) \
                 OR begins_with(sk, :ret) OR begins_with(sk, :redemption))",
            )
            .expression_attribute_values(":prefix", s(customer_prefix(program)))
            .expression_attribute_values(":state", s(keys::STATE))
            .expression_attribute_values(":order", s("ORDER#"))
            .expression_attribute_values(":ret", s("RETURN#"))
            .expression_attribute_values(":redemption", s("REDEMPTION#"))
            .set_exclusive_start_key(start.map(key_of))
            .set_limit(limit)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        self.metrics
            .count(false, out.consumed_capacity().into_iter());
        let prefix = customer_prefix(program);
        let mut items = Vec::with_capacity(out.items().len());
        for item in out.items() {
            let pk = get_s(item, "pk").unwrap_or_default();
            let Some(customer) = pk.strip_prefix(&prefix) else {
                continue;
            };
            let sk = get_s(item, "sk").unwrap_or_default();
            let decoded = if sk == keys::STATE {
                HistoryItem::State(Box::new(customer_of(item)?))
            } else {
                HistoryItem::Event(Box::new(event_of(item)?))
            };
            items.push((customer.to_owned(), decoded));
        }
        Ok(HistoryPage {
            items,
            scanned: out.scanned_count().max(0) as u64,
            next: out.last_evaluated_key.map(cursor_of).transpose()?,
        })
    }

    /// The id of the program's latest simulation.
    pub async fn latest_simulation(&self, program: &str) -> Result<Option<String>, StoreError> {
        let item = self
            .get(keys::program_pk(program), SIMULATION_POINTER)
            .await?;
        Ok(item.and_then(|i| get_s(&i, "active")))
    }

    pub async fn load_simulation(
        &self,
        program: &str,
        id: &str,
    ) -> Result<Option<SimulationRecord>, StoreError> {
        let item = self
            .get(keys::program_pk(program), &simulation_sk(id))
            .await?;
        item.map(|i| simulation_of(&i)).transpose()
    }

    /// Stores a new (queued) simulation and points the program at it, if
    /// the pointer still names `previous` (None: no simulation yet).
    /// `Ok(false)`: another simulation was started first.
    pub async fn create_simulation(
        &self,
        program: &str,
        record: &SimulationRecord,
        previous: Option<&str>,
    ) -> Result<bool, StoreError> {
        let pk = keys::program_pk(program);
        let mut item = key(pk.clone(), simulation_sk(&record.id));
        // Named in the clear for the stream's consumer (the state machine
        // that runs the job on AWS); a part item has no `simulationId`.
        item.insert("programId".into(), s(program));
        item.insert("simulationId".into(), s(&record.id));
        item.insert("status".into(), s(&record.status));
        item.insert("request".into(), s(&record.request));
        item.insert("owner".into(), s(&record.owner));
        item.insert("heartbeat".into(), n(record.heartbeat_ms));
        item.insert("seen".into(), n(0));
        item.insert("createdAt".into(), s(&record.created_at));
        if record.request.len() > MAX_ITEM_BYTES {
            return Err(StoreError::TooLarge {
                what: "the simulation request",
                bytes: record.request.len(),
            });
        }
        let job = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(request_error)?;
        let mut pointer = key(pk, SIMULATION_POINTER);
        pointer.insert("active".into(), s(&record.id));
        let pointer = match previous {
            None => Put::builder().condition_expression("attribute_not_exists(pk)"),
            Some(p) => Put::builder()
                .condition_expression("#active = :previous")
                .expression_attribute_names("#active", "active")
                .expression_attribute_values(":previous", s(p)),
        }
        .table_name(&self.table)
        .set_item(Some(pointer))
        .build()
        .map_err(request_error)?;
        self.conditional_transaction(vec![
            TransactWriteItem::builder().put(pointer).build(),
            TransactWriteItem::builder().put(job).build(),
        ])
        .await
    }

    /// Sets status, progress and heartbeat of a job `owner` still runs
    /// (queued or running). `Ok(false)`: it no longer does (the job was
    /// marked failed meanwhile): the job stops.
    pub async fn simulation_progress(
        &self,
        program: &str,
        id: &str,
        owner: &str,
        seen: u64,
        heartbeat_ms: u64,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::program_pk(program), simulation_sk(id))))
            .update_expression("SET #status = :running, #seen = :seen, #hb = :hb")
            .condition_expression("#owner = :owner AND #status IN (:queued, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#seen", "seen")
            .expression_attribute_names("#hb", "heartbeat")
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":queued", s("queued"))
            .expression_attribute_values(":seen", n(seen))
            .expression_attribute_values(":hb", n(heartbeat_ms))
            .expression_attribute_values(":owner", s(owner));
        self.conditional_update(update).await
    }

    /// Ends a job `owner` still runs: done with its report, or failed.
    pub async fn finish_simulation(
        &self,
        program: &str,
        id: &str,
        owner: &str,
        finished_at: &str,
        end: SimulationEnd<'_>,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::program_pk(program), simulation_sk(id))))
            .condition_expression("#owner = :owner AND #status IN (:queued, :running)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":queued", s("queued"))
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_names("#finished", "finishedAt")
            .expression_attribute_values(":finished", s(finished_at));
        update = match end {
            SimulationEnd::Done {
                report,
                customers,
                usage,
            } => {
                let data = deflate(report);
                // Room for the request beside it (checked at creation).
                if data.len() > MAX_ITEM_BYTES / 2 {
                    return Err(StoreError::TooLarge {
                        what: "the simulation report",
                        bytes: data.len(),
                    });
                }
                update
                    .update_expression(
                        "SET #status = :done, #finished = :finished, #report = :report, \
                         #seen = :n, #total = :n, #usage = :usage",
                    )
                    .expression_attribute_names("#total", "total")
                    .expression_attribute_names("#report", "report")
                    .expression_attribute_names("#seen", "seen")
                    .expression_attribute_names("#usage", "usage")
                    .expression_attribute_values(":done", s("done"))
                    .expression_attribute_values(":report", AttributeValue::B(Blob::new(data)))
                    .expression_attribute_values(":n", n(customers))
                    .expression_attribute_values(":usage", s(usage))
            }
            SimulationEnd::Failed { error } => update
                .update_expression("SET #status = :failed, #finished = :finished, #error = :error")
                .expression_attribute_names("#error", "error")
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":error", s(error)),
        };
        self.conditional_update(update).await
    }

    /// Takes over a job whose heartbeat is still `heartbeat_ms` (its owner
    /// stopped, or a state machine step ended): `owner` runs it from now.
    /// `Ok(false)`: somebody else beat first, or it ended.
    pub async fn claim_simulation(
        &self,
        program: &str,
        id: &str,
        heartbeat_ms: u64,
        owner: &str,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let claim = Claim {
            heartbeat_ms,
            owner,
            now_ms,
        };
        self.claim(program, simulation_sk(id), &["queued", "running"], claim)
            .await
    }

    /// Every stored part of a simulation, by segment (strongly consistent).
    pub async fn load_simulation_parts(
        &self,
        program: &str,
        id: &str,
    ) -> Result<Vec<SimulationPart>, StoreError> {
        let mut parts = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(keys::program_pk(program)))
                .expression_attribute_values(":prefix", s(format!("SIMULATION#{id}#PART#")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify(e, &self.table))?;
            self.metrics
                .count(false, out.consumed_capacity().into_iter());
            for item in out.items() {
                parts.push(part_of(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        parts.sort_by_key(|p| p.segment);
        Ok(parts)
    }

    /// Stores a segment's part as `part.version`, if the stored one is
    /// still `part.version - 1` (none for 1). `Ok(false)`: another step
    /// stored it first (this one stops: nothing is counted twice).
    pub async fn save_simulation_part(
        &self,
        program: &str,
        id: &str,
        part: &SimulationPart,
    ) -> Result<bool, StoreError> {
        let mut item = key(
            keys::program_pk(program),
            simulation_part_sk(id, part.segment),
        );
        item.insert("version".into(), n(part.version));
        item.insert("done".into(), AttributeValue::Bool(part.done));
        if let Some(cursor) = &part.cursor {
            let text = serde_json::to_string(cursor)
                .map_err(|e| StoreError::Request(format!("a cursor: {e}")))?;
            item.insert("cursor".into(), s(text));
        }
        if let Some(report) = &part.report {
            let data = deflate(report);
            if data.len() > MAX_ITEM_BYTES / 2 {
                return Err(StoreError::TooLarge {
                    what: "a simulation segment's report",
                    bytes: data.len(),
                });
            }
            item.insert("report".into(), AttributeValue::B(Blob::new(data)));
        }
        item.insert("seen".into(), n(part.seen));
        item.insert("scanned".into(), n(part.scanned));
        item.insert("requests".into(), n(part.requests));
        item.insert(
            "readUnits".into(),
            AttributeValue::N(format!("{:.3}", part.read_units)),
        );
        item.insert(
            "writeUnits".into(),
            AttributeValue::N(format!("{:.3}", part.write_units)),
        );
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = if part.version <= 1 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("#version = :previous")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":previous", n(part.version - 1))
        };
        self.conditional_put(put).await
    }

    /// Marks failed a job that has not said it was alive since
    /// `heartbeat_ms` (its process stopped). `Ok(false)`: it has since, or
    /// it ended.
    pub async fn fail_stale_simulation(
        &self,
        program: &str,
        id: &str,
        heartbeat_ms: u64,
        finished_at: &str,
        error: &str,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::program_pk(program), simulation_sk(id))))
            .update_expression("SET #status = :failed, #finished = :finished, #error = :error")
            .condition_expression("#hb = :hb AND #status IN (:queued, :running)")
            .expression_attribute_names("#hb", "heartbeat")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_names("#finished", "finishedAt")
            .expression_attribute_values(":hb", n(heartbeat_ms))
            .expression_attribute_values(":queued", s("queued"))
            .expression_attribute_values(":running", s("running"))
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":finished", s(finished_at))
            .expression_attribute_values(":error", s(error));
        self.conditional_update(update).await
    }

    /// Takes over a background job's item (a re-evaluation job or a
    /// simulation) whose heartbeat is still the one `claim` saw: of two
    /// processes that both saw it stale, exactly one wins.
    pub(crate) async fn claim(
        &self,
        program: &str,
        sk: String,
        live_statuses: &[&str],
        claim: Claim<'_>,
    ) -> Result<bool, StoreError> {
        let placeholders: Vec<String> = (0..live_statuses.len())
            .map(|i| format!(":live{i}"))
            .collect();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::program_pk(program), sk)))
            .update_expression("SET #owner = :owner, #hb = :now")
            .condition_expression(format!(
                "#hb = :seen AND #status IN ({})",
                placeholders.join(", ")
            ))
            .expression_attribute_names("#hb", "heartbeat")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":seen", n(claim.heartbeat_ms))
            .expression_attribute_values(":now", n(claim.now_ms))
            .expression_attribute_values(":owner", s(claim.owner));
        for (placeholder, status) in placeholders.iter().zip(live_statuses) {
            update = update.expression_attribute_values(placeholder, s(*status));
        }
        self.conditional_update(update).await
    }

    /// A transaction's outcome: true when written, false when it was
    /// cancelled (a condition failed, or it met another in flight: either
    /// way the caller reads again and decides).
    pub(crate) async fn conditional_transaction(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<bool, StoreError> {
        Ok(self.transaction(items).await?.is_ok())
    }

    /// Sends a transaction: `Ok(Err(_))` when DynamoDB cancelled it, with
    /// the reason for every item.
    pub(crate) async fn transaction(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), TransactionCanceledException>, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let e = match result {
            Ok(out) => {
                self.metrics.count(true, out.consumed_capacity().iter());
                return Ok(Ok(()));
            }
            Err(e) => e,
        };
        if let SdkError::ServiceError(ctx) = &e {
            self.metrics.count_request();
            if let TransactWriteItemsError::TransactionCanceledException(c) = ctx.err() {
                return Ok(Err(c.clone()));
            }
        }
        Err(classify(e, &self.table))
    }

    /// A put's outcome: true when written, false when its condition
    /// failed.
    pub(crate) async fn conditional_put(
        &self,
        put: aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        match put
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.metrics
                    .count(true, out.consumed_capacity().into_iter());
                Ok(true)
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                self.metrics.count_request();
                Ok(false)
            }
            Err(e) => Err(classify(e, &self.table)),
        }
    }

    /// An update's outcome: true when written, false when its condition
    /// failed.
    pub(crate) async fn conditional_update(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        match update
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.metrics
                    .count(true, out.consumed_capacity().into_iter());
                Ok(true)
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                self.metrics.count_request();
                Ok(false)
            }
            Err(e) => Err(classify(e, &self.table)),
        }
    }
}

/// The heartbeat a process saw on a job's item, and what it writes when it
/// takes the job over.
pub(crate) struct Claim<'a> {
    pub heartbeat_ms: u64,
    pub owner: &'a str,
    pub now_ms: u64,
}
