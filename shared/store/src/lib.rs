//! The DynamoDB adapter: one implementation for AWS, AWS's DynamoDB Local and
//! the local API's embedded dynoxide. It speaks the service's language
//! (`load_customer`, `commit`); every `AttributeValue`, expression string and
//! cancellation reason stays in here.

mod codec;
mod jobs;
pub mod keys;
mod metrics;
mod scan;
mod table;

pub use codec::{
    decode_event, decode_state, encode_event_as, encode_state, encode_state_as, ItemFormat,
    BINARY_V1, EVENT_BINARY_V1, EVENT_FORMAT_ENV, ITEM_LEVEL, STATE_FORMAT_ENV,
};
pub use jobs::{job_sk, JobRecord};
pub use metrics::{measured, measured_so_far, Metrics, MetricsSnapshot};
pub use scan::{
    cursor_in_customer, history_cursor, simulation_part_sk, simulation_sk, HistoryItem,
    HistoryPage, SimulationEnd, SimulationPart, SimulationRecord, SIMULATION_POINTER,
};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::Arc;
use tier_engine::{CustomerState, OrderRecord};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// May succeed if tried again: throttling, a timeout, a dropped
    /// connection, a transaction conflict, a 5xx of the service.
    #[error("DynamoDB is busy or unreachable: {0}")]
    Transient(String),
    /// Will fail the same way every time (a request DynamoDB refuses).
    #[error("DynamoDB refused the request: {0}")]
    Request(String),
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
    /// An item would pass DynamoDB's 400 KB limit: refused before writing,
    /// with the size, instead of a transaction that fails every time.
    #[error("{what} would be {bytes} bytes, over the {MAX_ITEM_BYTES} bytes an item may hold")]
    TooLarge { what: &'static str, bytes: usize },
    /// The deployment is wrong (no such table, no TABLE_NAME, no access).
    #[error("configuration: {0}")]
    Config(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

fn request_error<E: std::error::Error + 'static>(e: E) -> StoreError {
    StoreError::Request(DisplayErrorContext(e).to_string())
}

/// Largest encoded state or event an item may carry: DynamoDB's 400 KB less
/// room for keys and the other attributes.
pub const MAX_ITEM_BYTES: usize = 350 * 1024;

fn check_size(what: &'static str, bytes: &[u8]) -> Result<(), StoreError> {
    if bytes.len() > MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge {
            what,
            bytes: bytes.len(),
        });
    }
    Ok(())
}

/// Error codes DynamoDB answers that a later attempt may not get.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

/// Error codes that mean the deployment, not the request, is wrong.
const CONFIG_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
];

/// Sorts an SDK failure into what a retry can fix and what it cannot.
fn classify<E>(e: SdkError<E, HttpResponse>, table: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            if CONFIG_CODES.contains(&code) {
                return StoreError::Config(format!("table `{table}`: {}", DisplayErrorContext(&e)));
            }
            TRANSIENT_CODES.contains(&code) || ctx.raw().status().is_server_error()
        }
        _ => false,
    };
    let text = DisplayErrorContext(&e).to_string();
    if transient {
        StoreError::Transient(text)
    } else {
        StoreError::Request(text)
    }
}

/// Where a paged read goes on: the last key read, as strings.
pub type PageCursor = std::collections::BTreeMap<String, String>;

/// A paged read's last key as a cursor (every key of the table and its
/// index is a string).
fn cursor_of(key: Item) -> Result<PageCursor, StoreError> {
    key.into_iter()
        .map(|(name, value)| match value {
            AttributeValue::S(text) => Ok((name, text)),
            _ => Err(StoreError::Corrupt(format!("key `{name}` is not a string"))),
        })
        .collect()
}

/// A cursor as the key a paged read starts after.
fn key_of(cursor: PageCursor) -> Item {
    cursor
        .into_iter()
        .map(|(name, value)| (name, s(value)))
        .collect()
}

/// A program configuration version as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfig {
    pub version: u64,
    pub config_json: String,
    /// When each tier's retention rule was configured as it is (JSON: tier
    /// name to RFC 3339 instant); absent in versions stored before it was
    /// kept.
    pub retention_since: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredCustomer {
    pub version: u64,
    pub state: CustomerState,
    /// The day under which the customer is in the expiry index.
    pub indexed_expiry: Option<NaiveDate>,
}

/// An order, return or redemption item: the idempotency record of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventItem {
    pub sk: String,
    /// Digest of the event's payload, to tell a replay from a conflict.
    pub payload_hash: String,
    /// The order's status, for orders.
    pub status: Option<String>,
    /// The response first returned for the event (JSON).
    pub result: String,
    /// The order's recorded contribution, for completed orders.
    pub record: Option<OrderRecord>,
    /// Why the stored record did not decode, when it did not (`record` is
    /// then None). The service reads such an order as one without a
    /// record, as it always has; a replay refuses it. Never written.
    pub unreadable_record: Option<String>,
    /// When the order was placed (RFC 3339), for range reads of history.
    pub placed_at: Option<String>,
    /// When the event was decided at, where `placed_at` does not tell: a
    /// return's or redemption's instant, a completed order's cancellation.
    /// A replay from a table export needs it to be exact.
    pub at: Option<String>,
    /// Bumped on every change of the item (a return updates its order).
    pub item_version: u64,
}

/// One event item to write in a customer commit.
#[derive(Debug, Clone)]
pub enum EventWrite {
    /// A first sighting: fails with [`CommitError::EventExists`] if present.
    Create(EventItem),
    /// A change of an existing item whose `item_version` was `expected`.
    Replace { item: EventItem, expected: u64 },
}

/// A notice (tier change, renewal, warning) written as its own item in the
/// commit that decided it: DynamoDB Streams carry it to the event bus, and
/// the feed reads it locally. Its attributes are flat strings because the
/// bus's input template reads them by name.
#[derive(Debug, Clone)]
pub struct NoticeItem {
    pub seq: u64,
    pub fields: Vec<(&'static str, String)>,
}

/// A notice as the feed reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedNotice {
    /// Where the feed stands after this notice (opaque to clients).
    pub cursor: String,
    pub fields: HashMap<String, String>,
}

/// The notice items' TTL attribute: epoch seconds after which DynamoDB may
/// delete the item (the table's `TimeToLiveSpecification` names it). No
/// other item carries it.
pub const NOTICE_TTL_ATTRIBUTE: &str = "expiresAt";
/// The environment variable that sets how many days a notice item is kept
/// ([`DynamoStore::from_env`] reads it; unset: 90).
pub const NOTICE_RETENTION_ENV: &str = "NOTICE_RETENTION_DAYS";
pub const DEFAULT_NOTICE_RETENTION_DAYS: u32 = 90;
/// The longest retention accepted (the engine's longest period, 100 years):
/// a typo of a few more digits is refused rather than kept forever.
pub const MAX_NOTICE_RETENTION_DAYS: u32 = 36_600;

/// Days a notice is kept, from the text of [`NOTICE_RETENTION_ENV`] (None:
/// unset, the default): a whole number from 1 to
/// [`MAX_NOTICE_RETENTION_DAYS`], digits only.
pub fn notice_retention_days(value: Option<&str>) -> Result<u32, StoreError> {
    let Some(text) = value else {
        return Ok(DEFAULT_NOTICE_RETENTION_DAYS);
    };
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse::<u32>().ok())
        .flatten()
        .filter(|days| (1..=MAX_NOTICE_RETENTION_DAYS).contains(days))
        .ok_or_else(|| {
            StoreError::Config(format!(
                "{NOTICE_RETENTION_ENV} is `{text}`: it must be a whole number of days \
                 from 1 to {MAX_NOTICE_RETENTION_DAYS}"
            ))
        })
}

/// Notices one commit writes at most: with the event items (two at most:
/// a return and the order it changes), the state and its index entry, a
/// transaction stays inside DynamoDB's 100 items. The engine stops judging
/// ends owed a little below ([`tier_engine::MAX_NOTICES_PER_DECISION`]),
/// and a customer idle for years under a monthly validity is caught up a
/// commit of notices at a time before the event is decided
/// ([`tier_engine::MAX_NOTICES_OWED_BEFORE_A_DECISION`]). Should a caller
/// hand more, the newest are written and the gap shows in their `seq`.
pub const MAX_NOTICES_PER_COMMIT: usize = 96;

/// Event items one commit of the service writes at most (a return and its
/// order); a caller writing more events hands fewer notices.
const MAX_EVENTS_PER_COMMIT: usize = 2;

const _: () = assert!(MAX_EVENTS_PER_COMMIT + 2 + MAX_NOTICES_PER_COMMIT <= 100);
const _: () = assert!(tier_engine::MAX_NOTICES_PER_DECISION < MAX_NOTICES_PER_COMMIT);

/// Everything one event changes for one customer, written atomically.
#[derive(Debug, Clone)]
pub struct CustomerCommit<'a> {
    pub program: &'a str,
    pub customer: &'a str,
    /// The state version read (None: the customer was new).
    pub expected_version: Option<u64>,
    /// The new state and the day something of it next expires.
    pub state: Option<(&'a CustomerState, Option<NaiveDate>)>,
    /// The expiry day the stored state was indexed under: the index item is
    /// only rewritten when the day changes, so most orders do not touch it.
    pub indexed_expiry: Option<NaiveDate>,
    pub events: Vec<EventWrite>,
    /// Written only with a state (`state` is Some).
    pub notices: Vec<NoticeItem>,
}

// `Conflict` carries the state read back from the cancellation (about 470
// bytes against 180): a commit fails with it at most once an attempt, and
// boxing it would change every caller's match for nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CommitError {
    /// An event item already exists (index into `events`), with the stored
    /// item taken from the cancellation reason when the engine returned it.
    EventExists {
        index: usize,
        existing: Option<EventItem>,
    },
    /// Somebody else changed the customer (or the event item) first.
    Conflict {
        current: Option<StoredCustomer>,
    },
    Store(StoreError),
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> Self {
        CommitError::Store(e)
    }
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    metrics: Arc<Metrics>,
    /// How long after it is written a notice item expires (its TTL) and
    /// stops being served by the feed.
    notice_retention: std::time::Duration,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("missing number `{name}`")))
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            metrics: Arc::new(Metrics::default()),
            notice_retention: std::time::Duration::from_secs(
                u64::from(DEFAULT_NOTICE_RETENTION_DAYS) * 86_400,
            ),
        }
    }

    /// The same store with notices kept for `retention` (whole seconds;
    /// the default is [`DEFAULT_NOTICE_RETENTION_DAYS`]).
    pub fn with_notice_retention(mut self, retention: std::time::Duration) -> Self {
        self.notice_retention = retention;
        self
    }

    pub fn notice_retention(&self) -> std::time::Duration {
        self.notice_retention
    }

    /// Timeouts on every call, so a hung connection becomes a transient
    /// failure that the service's retry policy handles within its deadline
    /// (the SDK has none by default).
    pub fn timeouts() -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
        aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(2))
            .operation_attempt_timeout(std::time::Duration::from_secs(3))
            .operation_timeout(std::time::Duration::from_secs(8))
            .build()
    }

    /// The production wiring: region and credentials from the environment,
    /// `TABLE_NAME`, `NOTICE_RETENTION_DAYS` (unset: 90; anything but a
    /// whole number from 1 to 36,600 is refused, so a function with a bad
    /// value fails to start rather than keeping notices for a surprise),
    /// and `DYNAMODB_ENDPOINT` when set (DynamoDB Local).
    pub async fn from_env() -> Result<Self, StoreError> {
        let table = std::env::var("TABLE_NAME")
            .map_err(|_| StoreError::Config("TABLE_NAME is not set".into()))?;
        let retention = match std::env::var(NOTICE_RETENTION_ENV) {
            Ok(text) => notice_retention_days(Some(&text))?,
            Err(std::env::VarError::NotPresent) => notice_retention_days(None)?,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(StoreError::Config(format!(
                    "{NOTICE_RETENTION_ENV} is not valid UTF-8"
                )))
            }
        };
        // A function told to write a form it does not know refuses to
        // start rather than write one nobody chose.
        check_item_formats().map_err(StoreError::Config)?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(Self::timeouts());
        if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        Ok(
            Self::new(Client::new(&config), table).with_notice_retention(
                std::time::Duration::from_secs(u64::from(retention) * 86_400),
            ),
        )
    }

    /// A client for a local engine (dynoxide or DynamoDB Local): any static
    /// credentials and region do.
    pub fn local(endpoint: &str, table: impl Into<String>) -> Self {
        let config = aws_sdk_dynamodb::config::Builder::new()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "local",
            ))
            .endpoint_url(endpoint)
            .timeout_config(Self::timeouts())
            .build();
        Self::new(Client::from_conf(config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        self.metrics
            .count(false, out.consumed_capacity().into_iter());
        Ok(out.item)
    }

    // ---------------------------------------------------------- programs

    pub async fn load_config(&self, program: &str) -> Result<Option<StoredConfig>, StoreError> {
        let item = self
            .get(keys::program_pk(program), keys::CONFIG_POINTER)
            .await?;
        item.map(|i| config_of(&i)).transpose()
    }

    /// Version `version` of a program's config, as it was stored.
    pub async fn load_config_version(
        &self,
        program: &str,
        version: u64,
    ) -> Result<Option<StoredConfig>, StoreError> {
        let item = self
            .get(keys::program_pk(program), &keys::config_version_sk(version))
            .await?;
        item.map(|i| config_of(&i)).transpose()
    }

    /// Stores `config_json` as version `expected + 1` (1 for a new program).
    /// Returns `Ok(None)` when another writer got there first.
    pub async fn put_config(
        &self,
        program: &str,
        expected: Option<u64>,
        config_json: &str,
    ) -> Result<Option<u64>, StoreError> {
        self.put_config_since(program, expected, config_json, None)
            .await
    }

    /// [`DynamoStore::put_config`] with when each tier's retention rule was
    /// configured (see [`StoredConfig::retention_since`]).
    pub async fn put_config_since(
        &self,
        program: &str,
        expected: Option<u64>,
        config_json: &str,
        retention_since: Option<&str>,
    ) -> Result<Option<u64>, StoreError> {
        let version = expected.unwrap_or(0) + 1;
        let pk = keys::program_pk(program);
        let mut pointer = key(pk.clone(), keys::CONFIG_POINTER);
        pointer.insert("version".into(), n(version));
        pointer.insert("config".into(), s(config_json));
        pointer.insert("programId".into(), s(program));
        let mut history = key(pk.clone(), keys::config_version_sk(version));
        history.insert("version".into(), n(version));
        history.insert("config".into(), s(config_json));
        if let Some(since) = retention_since {
            pointer.insert("retentionSince".into(), s(since));
            history.insert("retentionSince".into(), s(since));
        }
        let mut guard = key(pk, keys::CONFIG_VERSION);
        guard.insert("version".into(), n(version));
        let guard_put = self.versioned_put(guard, "version", expected)?;
        let pointer_put = self.versioned_put(pointer, "version", expected)?;
        let history_put = self.versioned_put(history, "version", None)?;
        let written = self
            .conditional_transaction(vec![
                TransactWriteItem::builder().put(pointer_put).build(),
                TransactWriteItem::builder().put(history_put).build(),
                TransactWriteItem::builder().put(guard_put).build(),
            ])
            .await?;
        Ok(written.then_some(version))
    }

    // ---------------------------------------------------------- customers

    pub async fn load_customer(
        &self,
        program: &str,
        customer: &str,
    ) -> Result<Option<StoredCustomer>, StoreError> {
        let item = self
            .get(keys::customer_pk(program, customer), keys::STATE)
            .await?;
        item.map(|i| customer_of(&i)).transpose()
    }

    pub async fn load_event(
        &self,
        program: &str,
        customer: &str,
        sk: &str,
    ) -> Result<Option<EventItem>, StoreError> {
        let item = self.get(keys::customer_pk(program, customer), sk).await?;
        item.map(|i| event_of(&i)).transpose()
    }

    /// The customer's order items placed at or after `since` (RFC 3339), for
    /// rebuilding a tracker added to a live program.
    pub async fn orders_since(
        &self,
        program: &str,
        customer: &str,
        since: &str,
    ) -> Result<Vec<EventItem>, StoreError> {
        self.customer_events(program, customer, "ORDER#", Some(since))
            .await
    }

    /// The customer's redemption items, for replaying current points
    /// beside the orders.
    pub async fn redemptions(
        &self,
        program: &str,
        customer: &str,
    ) -> Result<Vec<EventItem>, StoreError> {
        self.customer_events(program, customer, "REDEMPTION#", None)
            .await
    }

    /// The customer's event items whose sort key starts with `prefix`
    /// (orders: placed at or after `placed_since`, RFC 3339), read
    /// consistently, every page.
    async fn customer_events(
        &self,
        program: &str,
        customer: &str,
        prefix: &str,
        placed_since: Option<&str>,
    ) -> Result<Vec<EventItem>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(keys::customer_pk(program, customer)))
                .expression_attribute_values(":prefix", s(prefix));
            if let Some(since) = placed_since {
                query = query
                    .filter_expression("placedAt >= :since")
                    .expression_attribute_values(":since", s(since));
            }
            let page = query
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify(e, &self.table))?;
            self.metrics
                .count(false, page.consumed_capacity().into_iter());
            for item in page.items() {
                out.push(event_of(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Writes an event's items and the customer's state, all or nothing.
    /// Every item is the customer's own: no item is shared with another
    /// customer's transactions (no program-wide hot item, no
    /// `TransactionConflict` between customers).
    pub async fn commit(&self, commit: CustomerCommit<'_>) -> Result<(), CommitError> {
        let pk = keys::customer_pk(commit.program, commit.customer);
        let mut items = Vec::new();
        for event in &commit.events {
            items.push(
                TransactWriteItem::builder()
                    .put(self.event_put(&pk, event)?)
                    .build(),
            );
        }
        let state_index = items.len();
        if let Some((state, expires)) = commit.state {
            let put = self.state_put(&pk, &commit, state, expires)?;
            items.push(TransactWriteItem::builder().put(put).build());
            if expires != commit.indexed_expiry {
                items.push(self.expiry_write(&pk, &commit, expires)?);
            }
            let skip = commit.notices.len().saturating_sub(MAX_NOTICES_PER_COMMIT);
            let now = chrono::Utc::now();
            let written = feed_cursor_at(now);
            let expires_at = now.timestamp().saturating_add(self.notice_retention_secs());
            for notice in &commit.notices[skip..] {
                let put = self.notice_put(&pk, commit.program, notice, &written, expires_at)?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
        }
        match self.transaction(items).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(cancelled)) => Err(cancellation(cancelled.cancellation_reasons(), state_index)),
            Err(e) => Err(CommitError::Store(e)),
        }
    }

    fn event_put(&self, pk: &str, event: &EventWrite) -> Result<Put, StoreError> {
        let (item, expected) = match event {
            EventWrite::Create(item) => (item, None),
            EventWrite::Replace { item, expected } => (item, Some(*expected)),
        };
        let mut attrs = key(pk.to_owned(), item.sk.clone());
        attrs.insert("hash".into(), s(&item.payload_hash));
        if let Some(record) = &item.record {
            // The binary form keeps the id only in the sort key.
            if item.sk.strip_prefix("ORDER#") != Some(record.order_id.as_str()) {
                return Err(StoreError::Corrupt(format!(
                    "a record of order `{}` written to item `{}`",
                    record.order_id, item.sk
                )));
            }
        }
        let data = codec::encode_event(&item.result, item.record.as_ref());
        check_size("the event item", &data)?;
        attrs.insert("data".into(), AttributeValue::B(Blob::new(data)));
        attrs.insert("itemVersion".into(), n(item.item_version));
        if let Some(v) = &item.status {
            attrs.insert("status".into(), s(v));
        }
        if let Some(v) = &item.placed_at {
            attrs.insert("placedAt".into(), s(v));
        }
        if let Some(v) = &item.at {
            attrs.insert("at".into(), s(v));
        }
        self.versioned_put(attrs, "itemVersion", expected)
    }

    fn notice_put(
        &self,
        pk: &str,
        program: &str,
        notice: &NoticeItem,
        written: &str,
        expires_at: i64,
    ) -> Result<Put, StoreError> {
        let mut attrs = key(pk.to_owned(), keys::notice_sk(notice.seq));
        for (name, value) in &notice.fields {
            attrs.insert((*name).to_owned(), s(value));
        }
        // DynamoDB deletes the item some time after this (up to days
        // later: the feed filters on it). The deletion is a REMOVE record
        // on the stream, which neither pipe passes (both take INSERT only).
        attrs.insert(
            NOTICE_TTL_ATTRIBUTE.into(),
            AttributeValue::N(expires_at.to_string()),
        );
        attrs.insert("expiryShard".into(), s(keys::feed_shard_of(program, pk)));
        attrs.insert(
            "expiresOn".into(),
            s(notice_cursor(written, notice.seq, pk)),
        );
        // Each seq is written once: the state's version check already
        // ensures it, this makes a double publish impossible.
        self.versioned_put(attrs, "version", None)
    }

    /// Up to `limit` of a program's notices written after `after` (a
    /// cursor from an earlier page; None: from the first), in the order
    /// they were written. Only notices whose TTL has not passed: DynamoDB
    /// deletes an expired item up to days later, so each one read is
    /// checked, and the read goes on past expired ones until `limit` are
    /// found or the feed ends (a page of expired notices never stalls a
    /// reader). The feed starts no earlier than the retention period ago:
    /// what was written before had its TTL pass (with the retention as
    /// configured now), so a reader far behind does not read every expired
    /// item DynamoDB has yet to delete.
    pub async fn notices_after(
        &self,
        program: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<FeedNotice>, StoreError> {
        let now = chrono::Utc::now();
        let horizon = chrono::Duration::try_seconds(self.notice_retention_secs())
            .and_then(|retention| now.checked_sub_signed(retention))
            .map(feed_cursor_at)
            .unwrap_or_default();
        let mut from = match after {
            Some(cursor) if cursor > horizon.as_str() => cursor.to_owned(),
            _ => horizon,
        };
        let mut out = Vec::with_capacity(limit.min(1000));
        while out.len() < limit {
            let need = limit - out.len();
            let found = self.notice_keys_after(program, &from, need).await?;
            let exhausted = found.len() < need;
            for (cursor, pk, sk) in found {
                from.clone_from(&cursor);
                let Some(item) = self.get(pk, &sk).await? else {
                    continue;
                };
                if notice_expired(&item, now.timestamp()) {
                    continue;
                }
                let fields = item
                    .into_iter()
                    .filter(|(name, _)| !INTERNAL_ATTRIBUTES.contains(&name.as_str()))
                    .filter_map(|(name, v)| v.as_s().ok().cloned().map(|v| (name, v)))
                    .collect();
                out.push(FeedNotice { cursor, fields });
            }
            if exhausted {
                break;
            }
        }
        Ok(out)
    }

    /// The first `limit` keys of a program's notices after `from` in the
    /// feed's order, over every feed shard: (cursor, pk, sk).
    async fn notice_keys_after(
        &self,
        program: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut keys_found: Vec<(String, String, String)> = Vec::new();
        for shard in 0..keys::EXPIRY_SHARDS {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::EXPIRY_INDEX)
                .key_condition_expression("expiryShard = :shard AND expiresOn > :after")
                .expression_attribute_values(":shard", s(keys::feed_shard(program, shard)))
                .expression_attribute_values(":after", s(from))
                .limit(limit.clamp(1, 1000) as i32)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify(e, &self.table))?;
            self.metrics
                .count(false, out.consumed_capacity().into_iter());
            for item in out.items() {
                if let (Some(pk), Some(sk), Some(at)) = (
                    get_s(item, "pk"),
                    get_s(item, "sk"),
                    get_s(item, "expiresOn"),
                ) {
                    keys_found.push((at, pk, sk));
                }
            }
        }
        keys_found.sort();
        keys_found.truncate(limit);
        Ok(keys_found)
    }

    fn notice_retention_secs(&self) -> i64 {
        i64::try_from(self.notice_retention.as_secs()).unwrap_or(i64::MAX)
    }

    fn state_put(
        &self,
        pk: &str,
        commit: &CustomerCommit<'_>,
        state: &CustomerState,
        expires: Option<NaiveDate>,
    ) -> Result<Put, StoreError> {
        let version = commit.expected_version.unwrap_or(0) + 1;
        let mut attrs = key(pk.to_owned(), keys::STATE);
        attrs.insert("version".into(), n(version));
        let encoded = encode_state(state);
        check_size("the customer's state", &encoded)?;
        attrs.insert("state".into(), AttributeValue::B(Blob::new(encoded)));
        if let Some(day) = expires {
            attrs.insert("nextExpiry".into(), s(day.format("%Y-%m-%d").to_string()));
        }
        self.versioned_put(attrs, "version", commit.expected_version)
    }

    /// A put that succeeds only while `attribute` still holds the version
    /// read (`None`: only if the item is new), returning the stored item when
    /// it fails so that a retry needs no read.
    fn versioned_put(
        &self,
        item: Item,
        attribute: &str,
        expected: Option<u64>,
    ) -> Result<Put, StoreError> {
        match expected {
            None => Put::builder().condition_expression("attribute_not_exists(pk)"),
            Some(v) => Put::builder()
                .condition_expression(format!("{attribute} = :v"))
                .expression_attribute_values(":v", n(v)),
        }
        .table_name(&self.table)
        .set_item(Some(item))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(request_error)
    }

    /// The customer's entry in the sparse expiry index: its own small item,
    /// so the state item carries no index key and its writes cost no index
    /// write.
    fn expiry_write(
        &self,
        pk: &str,
        commit: &CustomerCommit<'_>,
        expires: Option<NaiveDate>,
    ) -> Result<TransactWriteItem, StoreError> {
        let Some(day) = expires else {
            let delete = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk.to_owned(), keys::EXPIRY)))
                .build()
                .map_err(request_error)?;
            return Ok(TransactWriteItem::builder().delete(delete).build());
        };
        let mut attrs = key(pk.to_owned(), keys::EXPIRY);
        attrs.insert("programId".into(), s(commit.program));
        attrs.insert("customerId".into(), s(commit.customer));
        attrs.insert("expiryShard".into(), s(keys::expiry_shard(pk)));
        attrs.insert("expiresOn".into(), s(day.format("%Y-%m-%d").to_string()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(attrs))
            .build()
            .map_err(request_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// One page of customers of `shard` with something due on or before
    /// `day`, from the sparse index, and where the next page starts (None:
    /// the shard is done). The cursor is plain strings, so a job can carry
    /// it between invocations.
    pub async fn due_customers(
        &self,
        shard: u32,
        day: NaiveDate,
        page_size: i32,
        start: Option<PageCursor>,
    ) -> Result<(Vec<(String, String)>, Option<PageCursor>), StoreError> {
        let start = start.map(key_of);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::EXPIRY_INDEX)
            .key_condition_expression("expiryShard = :shard AND expiresOn <= :day")
            .expression_attribute_values(":shard", s(format!("E#{shard}")))
            .expression_attribute_values(":day", s(day.format("%Y-%m-%d").to_string()))
            .limit(page_size)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| classify(e, &self.table))?;
        self.metrics
            .count(false, out.consumed_capacity().into_iter());
        let customers = out
            .items()
            .iter()
            .filter_map(|i| Some((get_s(i, "programId")?, get_s(i, "customerId")?)))
            .collect();
        let next = out.last_evaluated_key.map(cursor_of).transpose()?;
        Ok((customers, next))
    }
}

/// Attributes of a notice item that are keys or its TTL, not what it tells.
const INTERNAL_ATTRIBUTES: &[&str] =
    &["pk", "sk", "expiryShard", "expiresOn", NOTICE_TTL_ATTRIBUTE];

/// Whether a notice's TTL has passed at `now` (epoch seconds): DynamoDB may
/// delete it any time from then on. A notice written before notices had a
/// TTL has none and never expires.
fn notice_expired(item: &Item, now: i64) -> bool {
    item.get(NOTICE_TTL_ATTRIBUTE)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|expires_at| expires_at <= now)
}

const FEED_INSTANT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";
/// Cursors are the index keys of notices: an instant, a sequence and a
/// 16-digit name of the customer (under 64 bytes; room to spare).
const MAX_FEED_CURSOR_BYTES: usize = 200;

/// The feed cursor of a notice written at `instant`: every notice written
/// before it sorts before.
pub fn feed_cursor_at(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.format(FEED_INSTANT).to_string()
}

/// A notice's index key in the feed, which is its cursor: the instant its
/// commit was written, its sequence and its customer's short name.
fn notice_cursor(written: &str, seq: u64, pk: &str) -> String {
    format!("{written}#{seq:012}#{}", keys::short_name(pk))
}

/// The feed position written as `cursor`, when it has the shape of one the
/// feed hands out: an instant as [`feed_cursor_at`] writes it, alone (a
/// settle point) or followed by a notice's sequence and customer name, as
/// `notice_put` writes its index key. `None` for any other text.
pub fn feed_cursor_instant(cursor: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    const INSTANT: usize = "2026-01-01T00:00:00.000000Z".len();
    if cursor.len() > MAX_FEED_CURSOR_BYTES || !cursor.is_ascii() || cursor.len() < INSTANT {
        return None;
    }
    let (instant, key) = cursor.split_at(INSTANT);
    let at = chrono::NaiveDateTime::parse_from_str(instant, FEED_INSTANT)
        .ok()?
        .and_utc();
    if feed_cursor_at(at) != instant {
        return None;
    }
    let field = |part: Option<&str>, len: usize, radix: u32| {
        part.is_some_and(|p| {
            p.len() == len
                && p.chars()
                    .all(|c| c.is_digit(radix) && !c.is_ascii_uppercase())
        })
    };
    let mut parts = key.split('#');
    let shaped = key.is_empty()
        || (parts.next() == Some("")
            && field(parts.next(), 12, 10)
            && field(parts.next(), 16, 16)
            && parts.next().is_none());
    shaped.then_some(at)
}

fn config_of(item: &Item) -> Result<StoredConfig, StoreError> {
    Ok(StoredConfig {
        version: get_n(item, "version")?,
        config_json: get_s(item, "config")
            .ok_or_else(|| StoreError::Corrupt("config item without config".into()))?,
        retention_since: get_s(item, "retentionSince"),
    })
}

/// The item forms this process is told to write (`STATE_FORMAT`,
/// `EVENT_FORMAT`) are ones it knows: a process told otherwise refuses to
/// start rather than write one nobody chose.
pub fn check_item_formats() -> Result<(), String> {
    for env in [codec::STATE_FORMAT_ENV, codec::EVENT_FORMAT_ENV] {
        let format = std::env::var(env).ok();
        ItemFormat::parse(env, format.as_deref())?;
    }
    Ok(())
}

fn customer_of(item: &Item) -> Result<StoredCustomer, StoreError> {
    let bytes = item
        .get("state")
        .and_then(|v| v.as_b().ok())
        .ok_or_else(|| StoreError::Corrupt("state item without state".into()))?;
    Ok(StoredCustomer {
        version: get_n(item, "version")?,
        state: decode_state(bytes.as_ref()).map_err(StoreError::Corrupt)?,
        indexed_expiry: get_s(item, "nextExpiry")
            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
    })
}

fn event_of(item: &Item) -> Result<EventItem, StoreError> {
    let data = item
        .get("data")
        .and_then(|v| v.as_b().ok())
        .ok_or_else(|| StoreError::Corrupt("event item without data".into()))?;
    let sk = get_s(item, "sk").unwrap_or_default();
    let order_id = sk.strip_prefix("ORDER#").unwrap_or(&sk);
    let (result, record) =
        codec::decode_event(data.as_ref(), order_id).map_err(StoreError::Corrupt)?;
    let (record, unreadable_record) = match record {
        Ok(record) => (record, None),
        Err(e) => {
            tracing::error!(sk = %sk, error = %e, "an order's stored record does not decode");
            (None, Some(e))
        }
    };
    Ok(EventItem {
        sk,
        payload_hash: get_s(item, "hash").unwrap_or_default(),
        status: get_s(item, "status"),
        result,
        record,
        unreadable_record,
        placed_at: get_s(item, "placedAt"),
        at: get_s(item, "at"),
        item_version: get_n(item, "itemVersion")?,
    })
}

fn cancellation(
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    state_index: usize,
) -> CommitError {
    let failed =
        |r: &aws_sdk_dynamodb::types::CancellationReason| r.code().is_some_and(|c| c != "None");
    for (i, r) in reasons.iter().enumerate() {
        if !failed(r) {
            continue;
        }
        match r.code() {
            Some("ConditionalCheckFailed") => {}
            // Another transaction on one of the items, or throttling: the
            // same write can succeed on a later attempt.
            Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded") => {
                return CommitError::Conflict { current: None }
            }
            // A validation error (an item over 400 KB, a bad attribute)
            // fails again on every attempt.
            code => {
                return CommitError::Store(StoreError::Request(format!(
                    "transaction cancelled: {} ({})",
                    code.unwrap_or("unknown"),
                    r.message().unwrap_or_default()
                )))
            }
        }
        if i < state_index {
            // An event put: a first sighting that already exists, or a
            // replace whose item changed meanwhile.
            let existing = r.item().map(event_of).and_then(Result::ok);
            return CommitError::EventExists { index: i, existing };
        }
        let current = (i == state_index)
            .then(|| r.item().map(customer_of).and_then(Result::ok))
            .flatten();
        return CommitError::Conflict { current };
    }
    CommitError::Conflict { current: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every cursor the feed hands out reads back as its instant: a
    /// notice's key and a settle point, at the ends of the instants the
    /// API takes.
    #[test]
    fn feed_cursors_read_back_as_their_instant() {
        for at in [
            "1970-01-01T00:00:00Z",
            "2026-12-01T08:00:00.123456Z",
            "2199-12-31T23:59:59.999999Z",
        ] {
            let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
            let written = feed_cursor_at(at);
            assert_eq!(feed_cursor_instant(&written), Some(at));
            for seq in [0, 1, 999_999_999_999] {
                let key = notice_cursor(&written, seq, "CUSTOMER#1:p#c");
                assert_eq!(feed_cursor_instant(&key), Some(at), "{key}");
            }
        }
    }

    #[test]
    fn notice_retention_is_whole_days_from_one_to_the_bound() {
        assert_eq!(notice_retention_days(None).unwrap(), 90);
        assert_eq!(notice_retention_days(Some("1")).unwrap(), 1);
        assert_eq!(notice_retention_days(Some("365")).unwrap(), 365);
        assert_eq!(notice_retention_days(Some("36600")).unwrap(), 36_600);
        for bad in [
            "",
            "0",
            "-1",
            "+5",
            " 90",
            "90 ",
            "90d",
            "1.5",
            "36601",
            "99999999999",
        ] {
            let e = notice_retention_days(Some(bad)).unwrap_err();
            assert!(matches!(e, StoreError::Config(_)), "{bad}: {e}");
            assert!(e.to_string().contains(NOTICE_RETENTION_ENV), "{e}");
        }
    }

    #[test]
    fn a_notice_is_expired_from_its_ttl_on_and_one_without_a_ttl_never() {
        let with =
            |v: &str| Item::from([(NOTICE_TTL_ATTRIBUTE.to_owned(), AttributeValue::N(v.into()))]);
        assert!(!notice_expired(&with("101"), 100));
        assert!(notice_expired(&with("100"), 100));
        assert!(notice_expired(&with("99"), 100));
        assert!(!notice_expired(&Item::new(), 100));
    }
}
