//! The embedded engine served to the AWS SDK in process: no port.
//!
//! [`client`] builds an `aws_sdk_dynamodb::Client` whose HTTP client never
//! sends anything. Each request the SDK would put on the wire (`POST /`, an
//! `x-amz-target: DynamoDB_20120810.<Operation>` header, a JSON body) is read
//! here and handed to dynoxide's `Database` on the engine's thread, and its
//! answer comes back as the response dynoxide's own HTTP server
//! (`dynoxide::server`) would have written: the same status, the same JSON
//! body (errors from `DynoxideError::to_json`, so `CancellationReasons` with
//! each `Item` that `ReturnValuesOnConditionCheckFailure=ALL_OLD` asked for),
//! `content-type: application/x-amz-json-1.0`, `x-amzn-requestid`,
//! `x-amz-crc32` and `content-length`.
//!
//! So the SDK (its serializers, errors, retries) and every line of
//! `tier_store` are the same as against DynamoDB, but no other process can
//! reach the data, and a call costs no loopback HTTP round trip.
//!
//! What dynoxide's server does and this does not (none of it can change an
//! answer to a request the SDK builds):
//!
//! - Signatures and auth headers are not looked at: only this process holds
//!   the client, which is the point.
//! - The server's `pub(crate)` steps before its own dispatch are out of reach:
//!   `pre_check_and_read_layer` (JSON type checks of fields dynoxide reads as
//!   `serde_json::Value`, which the SDK's serializers always write with the
//!   right types, and the choice of the "older" validation layer, which
//!   changes only how a malformed number string is refused in the write
//!   batches and transactions, or a request holding a boolean written as a
//!   string or a value with two types, which the SDK cannot write),
//!   `boolean_numbers_as_written` (the wording of the error for a number
//!   given as a boolean) and `deep_nesting` (JSON nested deeper than 128
//!   levels is answered a bare `SerializationException` here).
//! - A request body serde refuses on a type mismatch gets serde's message
//!   (position stripped) where the server translates it to Java's wording
//!   ("NUMBER_VALUE cannot be converted to String"); every other refusal
//!   (marked values, missing fields, empty or multi-typed values, malformed
//!   JSON) is classified as the server classifies it. A body that is not
//!   UTF-8 gets a bare `SerializationException` (the server: axum's 400 text).
//! - `GET /` (the health check), CORS and the `server` and
//!   `x-dynoxide-version` headers: the SDK uses none of them. Other methods
//!   and paths get the server's 404 `<UnknownOperationException/>`.
//! - `ClientRequestToken` of TransactWriteItems is dropped (see
//!   `dispatch`); ExecuteTransaction's is kept.
//! - A request whose future the SDK drops (a timeout) still runs to the end
//!   on the engine's thread, as the server finishes a request whose client
//!   went away.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use dynoxide::{Database, DynoxideError};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The endpoint the client is configured with. Nothing listens there and
/// nothing connects to it: the SDK needs an endpoint to build its requests.
pub const ENDPOINT: &str = "http://in-process.dynoxide";

/// A DynamoDB client served by `db` in this process.
///
/// Behavior version latest, region us-east-1, static credentials (signed and
/// never checked) and the SDK's default retries. Calls need a Tokio runtime,
/// as any SDK call does; the engine runs on a thread of its own, which
/// stops when the last clone of the client is dropped.
pub fn client(db: Database) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "in-process",
            "in-process",
            None,
            None,
            "in-process",
        ))
        .endpoint_url(ENDPOINT)
        .http_client(InProcessClient {
            connector: SharedHttpConnector::new(Engine::new(db)),
        })
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

const JSON_1_0: &str = "application/x-amz-json-1.0";
const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";
/// What dynoxide's server answers a method or path it does not serve.
const NOT_FOUND_BODY: &str = "<UnknownOperationException/>\n";

/// Every operation dynoxide's server dispatches (`dynoxide::server`'s
/// `dispatch_operation`), each served the same way here.
const OPERATIONS: &[&str] = &[
    "CreateTable",
    "DeleteTable",
    "DescribeTable",
    "ListTables",
    "UpdateTable",
    "PutItem",
    "GetItem",
    "DeleteItem",
    "UpdateItem",
    "Query",
    "Scan",
    "SearchVectors",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "ListStreams",
    "DescribeStream",
    "GetShardIterator",
    "GetRecords",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "ExecuteStatement",
    "ExecuteTransaction",
    "BatchExecuteStatement",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
];

/// The SDK's `HttpClient`: one connector for every setting (there is no
/// connection to time out).
struct InProcessClient {
    connector: SharedHttpConnector,
}

impl fmt::Debug for InProcessClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcessClient")
    }
}

impl HttpClient for InProcessClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector.clone()
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("dynoxide-in-process", None))
    }
}

/// Answers each request from the database, on a thread of its own.
///
/// The connection is one and every call holds its lock, so calls run one
/// at a time whatever runs them. One thread that takes them from a queue
/// does that without the cost of the alternative it replaced: a blocking
/// pool thread per call, all of them but one asleep on the lock, each
/// woken and put to sleep again (docs/benchmarks.md, twelfth session).
///
/// A call is queued when the SDK makes it, and runs to the end whether or
/// not its future is still awaited.
struct Engine {
    /// Always `Some` until dropped.
    queue: Option<std::sync::mpsc::Sender<Call>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One request for the engine's thread: the work, and where its reply goes.
type Call = Box<dyn FnOnce(&Database) + Send>;

impl Engine {
    fn new(db: Database) -> Self {
        let (queue, calls) = std::sync::mpsc::channel::<Call>();
        let thread = std::thread::Builder::new()
            .name("embedded-engine".into())
            .spawn(move || {
                // Ends once the engine is dropped and every queued call ran.
                for call in calls {
                    // A call that panics drops its reply channel unanswered
                    // as it unwinds; the thread goes on to the next call.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(&db)));
                }
            })
            .expect("starting the embedded engine's thread");
        Engine {
            queue: Some(queue),
            thread: Some(thread),
        }
    }
}

impl Drop for Engine {
    /// Closes the database before returning: once the last client is
    /// dropped the data directory's lock is released and the process may
    /// exit, and neither may happen with the file still open. The calls
    /// already queued run first.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            // No call holds the engine, so this never runs on its thread;
            // checked anyway, since joining itself would never return.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Engine")
    }
}

impl HttpConnector for Engine {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let (operation, content_type) = match route(&mut request) {
            Ok(routed) => routed,
            Err(reply) => return HttpConnectorFuture::ready(Ok(reply.into_response())),
        };
        let body = request.take_body();
        if body.bytes().is_none() {
            // The SDK gives DynamoDB requests an in-memory body.
            return HttpConnectorFuture::ready(Err(ConnectorError::user(
                "the in-process engine takes in-memory request bodies only".into(),
            )));
        }
        let (reply_to, reply) = futures::channel::oneshot::channel();
        let call: Call = Box::new(move |db: &Database| {
            let bytes = body.bytes().unwrap_or_default();
            // The caller may have stopped waiting: the work is done anyway.
            let _ = reply_to.send(execute(db, operation, content_type, bytes));
        });
        let sent = match &self.queue {
            Some(queue) => queue.send(call).is_ok(),
            None => false,
        };
        HttpConnectorFuture::new(async move {
            let reply = match sent {
                true => reply.await.ok(),
                false => None,
            };
            // No answer, as a dropped connection would give none: the engine
            // panicked or has stopped. Not retried: the same request would
            // panic again.
            let reply = reply.ok_or_else(|| {
                ConnectorError::other("the embedded engine gave no answer".into(), None)
            })?;
            Ok(reply.into_response())
        })
    }
}

/// A response before it becomes the SDK's.
struct Reply {
    status: u16,
    content_type: Option<&'static str>,
    body: String,
}

impl Reply {
    fn json(status: u16, content_type: &'static str, body: String) -> Self {
        Reply {
            status,
            content_type: Some(content_type),
            body,
        }
    }

    fn not_found() -> Self {
        Reply {
            status: 404,
            content_type: None,
            body: NOT_FOUND_BODY.to_owned(),
        }
    }

    /// `SerializationException` with no message: a body that is not JSON.
    fn bare_serialization(content_type: &'static str) -> Self {
        Reply::json(
            400,
            content_type,
            r#"{"__type":"com.amazon.coral.service#SerializationException"}"#.to_owned(),
        )
    }

    fn unknown_operation(content_type: &'static str) -> Self {
        Reply::json(
            400,
            content_type,
            r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#.to_owned(),
        )
    }

    fn into_response(self) -> HttpResponse {
        let status = StatusCode::try_from(self.status)
            .unwrap_or_else(|_| StatusCode::try_from(500).expect("500 is a status code"));
        let crc = crc32fast::hash(self.body.as_bytes()).to_string();
        let length = self.body.len().to_string();
        let mut response = HttpResponse::new(status, SdkBody::from(self.body));
        let headers = response.headers_mut();
        if let Some(content_type) = self.content_type {
            headers.insert("content-type", content_type);
        }
        headers.insert("x-amzn-requestid", request_id());
        headers.insert("x-amz-crc32", crc);
        headers.insert("content-length", length);
        response
    }
}

/// 52 characters of `[0-9A-Z]`, as DynamoDB's: a per-process prefix and a
/// counter, unique within the process.
fn request_id() -> String {
    static PREFIX: OnceLock<u128> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        now ^ (u128::from(std::process::id()) << 96)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:036X}{n:016X}")
}

/// The checks dynoxide's server makes before it dispatches, in its order:
/// the operation and the response content type, or the answer.
fn route(request: &mut HttpRequest) -> Result<(&'static str, &'static str), Reply> {
    if request.method() != "POST" || request.uri_mut().path() != "/" {
        return Err(Reply::not_found());
    }
    // The response echoes the request's media type; neither JSON type (with a
    // body or a content type at all) is not a DynamoDB request.
    let raw_type = request.headers().get("content-type").unwrap_or("");
    let base_type = raw_type.split(';').next().unwrap_or("").trim();
    let content_type = if base_type.eq_ignore_ascii_case(JSON_1_0) {
        JSON_1_0
    } else if base_type.eq_ignore_ascii_case("application/json") {
        "application/json"
    } else {
        let empty = request.body().bytes().is_some_and(<[u8]>::is_empty);
        if !empty || !raw_type.is_empty() {
            return Err(Reply::not_found());
        }
        "application/json"
    };
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|t| {
            t.strip_prefix(TARGET_PREFIX)
                .or_else(|| t.strip_prefix(STREAMS_TARGET_PREFIX))
        })
        .and_then(|op| OPERATIONS.iter().copied().find(|known| *known == op));
    match operation {
        Some(operation) => Ok((operation, content_type)),
        None => {
            // The server reads the body as JSON before it looks at the
            // target: a body that is not JSON is refused first. (A known
            // operation's body is read once, typed, on the engine's thread.)
            let bytes = request.body().bytes().unwrap_or_default();
            if !bytes.is_empty() {
                if let Err(e) = serde_json::from_slice::<serde_json::Value>(bytes) {
                    if !is_depth_failure(&e) {
                        return Err(Reply::bare_serialization(content_type));
                    }
                }
            }
            Err(Reply::unknown_operation(content_type))
        }
    }
}

fn is_depth_failure(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("recursion limit exceeded")
}

/// Runs one request on the database (blocking) and writes the answer.
fn execute(db: &Database, operation: &str, content_type: &'static str, body: &[u8]) -> Reply {
    if body.is_empty() {
        return Reply::bare_serialization(content_type);
    }
    let Ok(body) = std::str::from_utf8(body) else {
        return Reply::bare_serialization(content_type);
    };
    match dispatch(db, operation, body) {
        Ok(json) => Reply::json(200, content_type, json),
        Err(Refusal::NotJson) => Reply::bare_serialization(content_type),
        Err(Refusal::Engine(e)) => {
            let e = as_on_the_wire(operation, e);
            Reply::json(e.status_code(), content_type, error_json(operation, &e))
        }
    }
}

enum Refusal {
    /// The body is not JSON: a bare `SerializationException`.
    NotJson,
    Engine(DynoxideError),
}

impl From<DynoxideError> for Refusal {
    fn from(e: DynoxideError) -> Self {
        Refusal::Engine(e)
    }
}

/// The response's JSON (as the server's `serialize`).
macro_rules! encode {
    ($response:expr) => {
        serde_json::to_string(&$response)
            .map_err(|e| Refusal::Engine(DynoxideError::InternalServerError(e.to_string())))
    };
}

/// Reads `body` as the request of `$method`, runs it and writes its response.
macro_rules! serve {
    ($db:expr, $operation:expr, $body:expr, $method:ident) => {{
        let request = serde_json::from_str($body).map_err(|e| request_error($operation, &e))?;
        let response = $db.$method(request)?;
        encode!(response)
    }};
}

/// `dynoxide::server`'s `dispatch_operation`, with the typed request types of
/// `dynoxide::actions` and the `Database` methods.
fn dispatch(db: &Database, operation: &str, body: &str) -> Result<String, Refusal> {
    match operation {
        "CreateTable" => serve!(db, operation, body, create_table),
        "DeleteTable" => serve!(db, operation, body, delete_table),
        "DescribeTable" => serve!(db, operation, body, describe_table),
        "ListTables" => serve!(db, operation, body, list_tables),
        "UpdateTable" => serve!(db, operation, body, update_table),
        "PutItem" => serve!(db, operation, body, put_item),
        "GetItem" => serve!(db, operation, body, get_item),
        "DeleteItem" => serve!(db, operation, body, delete_item),
        "UpdateItem" => serve!(db, operation, body, update_item),
        "Query" => serve!(db, operation, body, query),
        "Scan" => serve!(db, operation, body, scan),
        "SearchVectors" => serve!(db, operation, body, search_vectors),
        "BatchGetItem" => serve!(db, operation, body, batch_get_item),
        "BatchWriteItem" => serve!(db, operation, body, batch_write_item),
        "TransactWriteItems" => {
            let mut request: dynoxide::actions::transact_write_items::TransactWriteItemsRequest =
                serde_json::from_str(body).map_err(|e| request_error(operation, &e))?;
            // The SDK puts a fresh ClientRequestToken on every
            // TransactWriteItems. dynoxide keeps each token (and the result)
            // for 10 minutes and, under one lock, scans every kept token on
            // each transaction that carries one, so the longer the local API
            // runs under load the slower every transaction gets. Our store
            // needs no token: each of its transactions holds a conditional
            // put (a version check or attribute_not_exists), so a retried
            // event is refused, never applied twice. Dropped here, the
            // transaction runs as one sent without a token (no replay of an
            // earlier result, no IdempotentParameterMismatchException).
            request.client_request_token = None;
            encode!(db.transact_write_items(request)?)
        }
        "TransactGetItems" => serve!(db, operation, body, transact_get_items),
        "ListStreams" => serve!(db, operation, body, list_streams),
        "DescribeStream" => serve!(db, operation, body, describe_stream),
        "GetShardIterator" => serve!(db, operation, body, get_shard_iterator),
        "GetRecords" => serve!(db, operation, body, get_records),
        "UpdateTimeToLive" => serve!(db, operation, body, update_time_to_live),
        "DescribeTimeToLive" => serve!(db, operation, body, describe_time_to_live),
        "ExecuteStatement" => serve!(db, operation, body, execute_statement),
        "ExecuteTransaction" => serve!(db, operation, body, execute_transaction),
        "BatchExecuteStatement" => serve!(db, operation, body, batch_execute_statement),
        "TagResource" => serve!(db, operation, body, tag_resource),
        "UntagResource" => serve!(db, operation, body, untag_resource),
        "ListTagsOfResource" => serve!(db, operation, body, list_tags_of_resource),
        // `route` lets only the operations above through.
        _ => Err(Refusal::Engine(DynoxideError::SerializationException(
            "UnknownOperationException".to_owned(),
        ))),
    }
}

/// A request body serde refused, classified as dynoxide's
/// `serde_errors::deserialize` classifies it (markers its own `Deserialize`
/// impls put on a message select the error class).
fn request_error(operation: &str, e: &serde_json::Error) -> Refusal {
    use serde_json::error::Category;
    if matches!(
        e.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return Refusal::NotJson;
    }
    let msg = e.to_string();
    if let Some(as_read) = msg.strip_prefix("SERIALIZATION_AS_READ:") {
        return DynoxideError::SerializationException(as_read.to_owned()).into();
    }
    if let Some(as_read) = msg.strip_prefix("VALIDATION_AS_READ:") {
        return DynoxideError::ValidationException(as_read.to_owned()).into();
    }
    if let Some(rest) = msg.strip_prefix("SERIALIZATION:") {
        return DynoxideError::SerializationException(strip_position(rest).to_owned()).into();
    }
    if let Some(rest) = msg.strip_prefix("VALIDATION_REQUEST:") {
        let e = DynoxideError::EnvelopedValidation(strip_position(rest).to_owned());
        return as_on_the_wire(operation, e).into();
    }
    if let Some(rest) = msg.strip_prefix("VALIDATION:") {
        return DynoxideError::ValidationException(strip_position(rest).to_owned()).into();
    }
    if msg.contains("missing field")
        || msg.contains("unknown variant")
        || msg.contains("invalid type: null")
    {
        DynoxideError::ValidationException(msg).into()
    } else if msg.contains("empty AttributeValue") {
        DynoxideError::ValidationException(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
                .to_owned(),
        )
        .into()
    } else if msg.contains("Supplied AttributeValue") {
        DynoxideError::ValidationException(strip_position(&msg).to_owned()).into()
    } else {
        // The server rewords serde's type mismatches in Java's words; the
        // SDK's serializers never write one.
        DynoxideError::SerializationException(strip_position(&msg).to_owned()).into()
    }
}

/// serde_json's " at line N column N" suffix off.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(at) if msg[at..].contains("column") => &msg[..at],
        _ => msg,
    }
}

/// The error as the server puts it on the wire for `operation`
/// (`validation::resolve_request_validation_tag` and
/// `errors::for_operation`): PutItem, UpdateItem and DeleteItem wrap a
/// request-validation error in "1 validation error detected: ", every other
/// operation reports it bare; ExecuteStatement's condition failure carrying
/// an item has its own shape.
fn as_on_the_wire(operation: &str, e: DynoxideError) -> DynoxideError {
    match (operation, e) {
        ("PutItem" | "UpdateItem" | "DeleteItem", DynoxideError::EnvelopedValidation(m)) => {
            DynoxideError::ValidationException(format!("1 validation error detected: {m}"))
        }
        (_, DynoxideError::EnvelopedValidation(m)) => DynoxideError::ValidationException(m),
        ("ExecuteStatement", DynoxideError::ConditionalCheckFailedException(m, Some(item))) => {
            DynoxideError::StatementConditionalCheckFailed(m, item)
        }
        (_, e) => e,
    }
}

/// `DynoxideError::to_json`, but SearchVectors writes a
/// `SerializationException` with a lowercase `message` (the server's
/// `to_json_for`).
fn error_json(operation: &str, e: &DynoxideError) -> String {
    match e {
        DynoxideError::SerializationException(_) if operation == "SearchVectors" => {
            let mut m = serde_json::Map::new();
            m.insert("__type".into(), e.error_type().into());
            let message = e.to_string();
            if !message.is_empty() {
                m.insert("message".into(), message.into());
            }
            serde_json::Value::Object(m).to_string()
        }
        _ => e.to_json(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use aws_sdk_dynamodb::operation::RequestId;
    use aws_sdk_dynamodb::types::{
        AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    };
    use aws_sdk_dynamodb::Client;
    use std::collections::HashMap;
    use tier_store::{keys, CommitError, CustomerCommit, DynamoStore, EventItem, EventWrite};

    type Item = HashMap<String, AttributeValue>;

    const TABLE: &str = "tier-engine";

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    /// A fresh engine with the store's table, created by the store.
    async fn engine() -> (Client, DynamoStore) {
        let client = client(Database::memory().unwrap());
        let store = DynamoStore::new(client.clone(), TABLE);
        store.ensure_table().await.unwrap();
        (client, store)
    }

    /// The same over dynoxide's HTTP server on a loopback port.
    async fn over_http() -> (Client, DynamoStore) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(dynoxide::server::serve_on(
            listener,
            Database::memory().unwrap(),
        ));
        let store = DynamoStore::local(&format!("http://{address}"), TABLE);
        store.ensure_table().await.unwrap();
        (store.client().clone(), store)
    }

    /// Status, content type and body of an error's response.
    fn raw<E>(e: &SdkError<E, HttpResponse>) -> (u16, String, String) {
        let r = e.raw_response().expect("a response");
        (
            r.status().as_u16(),
            r.headers().get("content-type").unwrap_or("").to_owned(),
            String::from_utf8(r.body().bytes().unwrap().to_vec()).unwrap(),
        )
    }

    fn event(sk: &str, hash: &str) -> EventItem {
        EventItem {
            sk: sk.into(),
            payload_hash: hash.into(),
            status: Some("completed".into()),
            result: format!("{{\"hash\":\"{hash}\"}}"),
            record: None,
            unreadable_record: None,
            placed_at: Some("2026-03-01T00:00:00Z".into()),
            at: None,
            item_version: 1,
        }
    }

    #[tokio::test]
    async fn the_store_creates_its_table_and_versions_configs() {
        let (client, store) = engine().await;
        let table = client
            .describe_table()
            .table_name(TABLE)
            .send()
            .await
            .unwrap();
        let table = table.table().unwrap();
        assert_eq!(table.table_name(), Some(TABLE));
        let index = &table.global_secondary_indexes()[0];
        assert_eq!(index.index_name(), Some(keys::EXPIRY_INDEX));
        // ensure_table again: the table is found.
        store.ensure_table().await.unwrap();

        assert_eq!(store.load_config("p").await.unwrap(), None);
        assert_eq!(
            store.put_config("p", None, "{\"v\":1}").await.unwrap(),
            Some(1)
        );
        // A second writer who read no config loses: the transaction is cancelled.
        assert_eq!(
            store.put_config("p", None, "{\"v\":9}").await.unwrap(),
            None
        );
        assert_eq!(
            store.put_config("p", Some(1), "{\"v\":2}").await.unwrap(),
            Some(2)
        );
        let config = store.load_config("p").await.unwrap().unwrap();
        assert_eq!(
            (config.version, config.config_json.as_str()),
            (2, "{\"v\":2}")
        );
        // 2 GetItems, 3 TransactWriteItems (one cancelled) counted by the store.
        assert_eq!(store.metrics().snapshot().requests, 5);
    }

    #[tokio::test]
    async fn put_get_and_a_refused_conditional_put() {
        let (client, _) = engine().await;
        let stored = item(&[
            ("pk", s("A")),
            ("sk", s("B")),
            ("n", AttributeValue::N("42".into())),
            ("b", AttributeValue::B(vec![0u8, 1, 2, 255].into())),
            (
                "l",
                AttributeValue::L(vec![s("x"), AttributeValue::Bool(true)]),
            ),
        ]);
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(stored.clone()))
            .send()
            .await
            .unwrap();
        let got = client
            .get_item()
            .table_name(TABLE)
            .key("pk", s("A"))
            .key("sk", s("B"))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert_eq!(got.item(), Some(&stored));
        let missing = client
            .get_item()
            .table_name(TABLE)
            .key("pk", s("A"))
            .key("sk", s("nothing"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.item(), None);

        let err = client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(item(&[
                ("pk", s("A")),
                ("sk", s("B")),
                ("n", s("new")),
            ])))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .unwrap_err();
        let (status, content_type, _) = raw(&err);
        assert_eq!((status, content_type.as_str()), (400, JSON_1_0));
        assert_eq!(err.request_id().map(str::len), Some(52));
        match err.into_service_error() {
            PutItemError::ConditionalCheckFailedException(e) => {
                assert_eq!(e.message(), Some("The conditional request failed"));
                assert_eq!(e.item(), Some(&stored));
            }
            other => panic!("expected ConditionalCheckFailed, got {other:?}"),
        }
        // Unchanged.
        let got = client
            .get_item()
            .table_name(TABLE)
            .key("pk", s("A"))
            .key("sk", s("B"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.item(), Some(&stored));
    }

    fn put(pairs: &[(&str, AttributeValue)], condition: &str) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(TABLE)
            .set_item(Some(item(pairs)))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .unwrap();
        TransactWriteItem::builder().put(put).build()
    }

    #[tokio::test]
    async fn a_cancelled_transaction_carries_its_reasons_and_the_old_item() {
        let (client, store) = engine().await;
        let old = item(&[
            ("pk", s("C")),
            ("sk", s("1")),
            ("v", AttributeValue::N("1".into())),
        ]);
        client
            .put_item()
            .table_name(TABLE)
            .set_item(Some(old.clone()))
            .send()
            .await
            .unwrap();
        let err = client
            .transact_write_items()
            .transact_items(put(
                &[
                    ("pk", s("C")),
                    ("sk", s("1")),
                    ("v", AttributeValue::N("2".into())),
                ],
                "attribute_not_exists(pk)",
            ))
            .transact_items(put(
                &[("pk", s("C")), ("sk", s("2"))],
                "attribute_not_exists(pk)",
            ))
            .send()
            .await
            .unwrap_err();
        assert_eq!(raw(&err).0, 400);
        match err.into_service_error() {
            TransactWriteItemsError::TransactionCanceledException(e) => {
                assert_eq!(
                    e.message(),
                    Some(
                        "Transaction cancelled, please refer cancellation reasons for specific \
                         reasons [ConditionalCheckFailed, None]"
                    )
                );
                let reasons = e.cancellation_reasons();
                assert_eq!(reasons.len(), 2);
                assert_eq!(reasons[0].code(), Some("ConditionalCheckFailed"));
                assert_eq!(reasons[0].message(), Some("The conditional request failed"));
                assert_eq!(reasons[0].item(), Some(&old));
                assert_eq!(reasons[1].code(), Some("None"));
                assert_eq!(reasons[1].item(), None);
            }
            other => panic!("expected TransactionCanceled, got {other:?}"),
        }
        // All or nothing: the second put was not applied.
        let second = client
            .get_item()
            .table_name(TABLE)
            .key("pk", s("C"))
            .key("sk", s("2"))
            .send()
            .await
            .unwrap();
        assert_eq!(second.item(), None);

        // The store reads the stored event back from the reason.
        let first = event("ORDER#o1", "h1");
        let commit = |e: EventItem| CustomerCommit {
            program: "p",
            customer: "c",
            expected_version: None,
            state: None,
            indexed_expiry: None,
            events: vec![EventWrite::Create(e)],
            notices: Vec::new(),
        };
        store.commit(commit(first.clone())).await.unwrap();
        match store.commit(commit(event("ORDER#o1", "h2"))).await {
            Err(CommitError::EventExists { index, existing }) => {
                assert_eq!(index, 0);
                assert_eq!(existing, Some(first));
            }
            other => panic!("expected EventExists, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn client_request_tokens_are_not_kept() {
        let (client, _) = engine().await;
        let write = || {
            client
                .transact_write_items()
                .client_request_token("the-same-token")
                .transact_items(put(
                    &[("pk", s("T")), ("sk", s("1"))],
                    "attribute_not_exists(pk)",
                ))
                .send()
        };
        write().await.unwrap();
        // With the token kept, dynoxide would replay the first result; without
        // it the write runs again and its condition refuses it.
        match write().await.unwrap_err().into_service_error() {
            TransactWriteItemsError::TransactionCanceledException(e) => {
                assert_eq!(
                    e.cancellation_reasons()[0].code(),
                    Some("ConditionalCheckFailed")
                );
            }
            other => panic!("expected TransactionCanceled, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn query_on_the_expiry_index() {
        let (client, store) = engine().await;
        let entries = [
            ("c1", "E#3", "2026-05-02"),
            ("c2", "E#3", "2026-05-01"),
            ("c3", "E#3", "2026-05-09"),
            ("c4", "E#4", "2026-05-01"),
        ];
        for (customer, shard, day) in entries {
            client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item(&[
                    ("pk", s(&keys::customer_pk("p", customer))),
                    ("sk", s(keys::EXPIRY)),
                    ("programId", s("p")),
                    ("customerId", s(customer)),
                    ("expiryShard", s(shard)),
                    ("expiresOn", s(day)),
                ])))
                .send()
                .await
                .unwrap();
        }
        // A NaiveDate, inferred from due_customers' parameter (chrono is not
        // a dependency of this crate).
        let day = || "2026-05-02".parse().unwrap();
        let (due, next) = store.due_customers(3, day(), 10, None).await.unwrap();
        assert_eq!(
            due,
            vec![
                ("p".to_owned(), "c2".to_owned()),
                ("p".to_owned(), "c1".to_owned())
            ]
        );
        assert_eq!(next, None);
        // Pages: one at a time, then the rest.
        let (page, next) = store.due_customers(3, day(), 1, None).await.unwrap();
        assert_eq!(page, vec![("p".to_owned(), "c2".to_owned())]);
        let (page, _) = store.due_customers(3, day(), 1, next).await.unwrap();
        assert_eq!(page, vec![("p".to_owned(), "c1".to_owned())]);
    }

    #[tokio::test]
    async fn a_missing_table_and_a_bad_key() {
        let (client, _) = engine().await;
        match client
            .describe_table()
            .table_name("nope")
            .send()
            .await
            .unwrap_err()
            .into_service_error()
        {
            DescribeTableError::ResourceNotFoundException(e) => {
                assert_eq!(
                    e.message(),
                    Some("Requested resource not found: Table: nope not found")
                );
            }
            other => panic!("expected ResourceNotFound, got {other:?}"),
        }
        let err = client
            .get_item()
            .table_name(TABLE)
            .key("pk", s("A"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(raw(&err).0, 400);
        let err: GetItemError = err.into_service_error();
        assert_eq!(err.code(), Some("ValidationException"));
        assert_eq!(
            err.message(),
            Some("The provided key element does not match the schema")
        );
    }

    /// A call that panics on the engine's thread is answered with nothing
    /// (a connector error, as a dropped connection), and the thread serves
    /// the calls after it; calls from many tasks at once are each answered.
    #[tokio::test]
    async fn a_panicking_call_leaves_the_engine_serving() {
        let engine = Engine::new(Database::memory().unwrap());
        let (reply_to, reply) = futures::channel::oneshot::channel::<Reply>();
        engine
            .queue
            .as_ref()
            .unwrap()
            .send(Box::new(move |_: &Database| {
                let _keep = reply_to;
                panic!("a call that panics");
            }))
            .unwrap();
        assert!(reply.await.is_err(), "no answer to the panicking call");
        let list = || {
            let mut request = HttpRequest::new(SdkBody::from("{}"));
            request.set_method("POST").unwrap();
            request.set_uri(format!("{ENDPOINT}/")).unwrap();
            request
                .headers_mut()
                .insert("x-amz-target", "DynamoDB_20120810.ListTables");
            request.headers_mut().insert("content-type", JSON_1_0);
            engine.call(request)
        };
        let replies = futures::future::join_all((0..32).map(|_| list())).await;
        for response in replies {
            let response = response.expect("served after the panic");
            assert_eq!(response.status().as_u16(), 200);
            assert_eq!(response.body().bytes(), Some(&b"{\"TableNames\":[]}"[..]));
        }
    }

    /// Dropping the last client closes the database before the drop
    /// returns: SQLite removes the write-ahead log only when the last
    /// connection to the file closes.
    #[tokio::test]
    async fn dropping_the_client_closes_the_database() {
        let dir = std::env::temp_dir().join(format!("engine-close-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("close.sqlite");
        for round in 0..5 {
            let db = Database::new(&file.to_string_lossy()).unwrap();
            let client = client(db);
            let tables = client.list_tables().send().await.unwrap();
            assert!(tables.table_names().is_empty());
            let wal = dir.join("close.sqlite-wal");
            assert!(wal.exists(), "round {round}: the database is open");
            drop(client);
            assert!(!wal.exists(), "round {round}: still open after the drop");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A request straight to the connector, as the SDK would send it.
    async fn send(target: Option<&str>, content_type: &str, body: &str) -> (u16, String, String) {
        let engine = Engine::new(Database::memory().unwrap());
        let mut request = HttpRequest::new(SdkBody::from(body));
        request.set_method("POST").unwrap();
        request.set_uri(format!("{ENDPOINT}/")).unwrap();
        if let Some(target) = target {
            request
                .headers_mut()
                .insert("x-amz-target", target.to_owned());
        }
        if !content_type.is_empty() {
            request
                .headers_mut()
                .insert("content-type", content_type.to_owned());
        }
        let response = engine.call(request).await.unwrap();
        let body = String::from_utf8(response.body().bytes().unwrap().to_vec()).unwrap();
        assert_eq!(
            response.headers().get("x-amz-crc32"),
            Some(crc32fast::hash(body.as_bytes()).to_string().as_str())
        );
        assert_eq!(
            response.headers().get("content-length"),
            Some(body.len().to_string().as_str())
        );
        let content_type = response
            .headers()
            .get("content-type")
            .unwrap_or("")
            .to_owned();
        (response.status().as_u16(), content_type, body)
    }

    #[tokio::test]
    async fn unknown_operations_and_unreadable_bodies() {
        let unknown = r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#;
        let bare = r#"{"__type":"com.amazon.coral.service#SerializationException"}"#;
        let json = JSON_1_0;
        let expect = |status: u16, body: &str| (status, json.to_owned(), body.to_owned());
        assert_eq!(
            send(Some("DynamoDB_20120810.Frobnicate"), json, "{}").await,
            expect(400, unknown)
        );
        assert_eq!(send(None, json, "{}").await, expect(400, unknown));
        assert_eq!(
            send(Some("Other.GetItem"), json, "{}").await,
            expect(400, unknown)
        );
        // The body is read as JSON before the target is looked at.
        assert_eq!(
            send(Some("DynamoDB_20120810.Frobnicate"), json, "{").await,
            expect(400, bare)
        );
        assert_eq!(
            send(Some("DynamoDB_20120810.GetItem"), json, "{").await,
            expect(400, bare)
        );
        assert_eq!(
            send(Some("DynamoDB_20120810.GetItem"), json, "").await,
            expect(400, bare)
        );
        // The response echoes the request's media type.
        assert_eq!(
            send(
                Some("DynamoDB_20120810.ListTables"),
                "application/json",
                "{}"
            )
            .await,
            (
                200,
                "application/json".to_owned(),
                r#"{"TableNames":[]}"#.to_owned()
            )
        );
        assert_eq!(
            send(Some("DynamoDB_20120810.ListTables"), "text/plain", "{}").await,
            (404, String::new(), NOT_FOUND_BODY.to_owned())
        );
        let missing = send(
            Some("DynamoDB_20120810.GetItem"),
            json,
            r#"{"TableName":"tier-engine","Key":{"pk":{"S":"a"}}}"#,
        )
        .await;
        assert_eq!(missing.0, 400);
        assert!(
            missing.2.contains("ResourceNotFoundException"),
            "{}",
            missing.2
        );
    }

    #[tokio::test]
    async fn errors_are_answered_as_the_http_server_answers_them() {
        let (local, _) = engine().await;
        let (remote, _) = over_http().await;
        for client in [&local, &remote] {
            client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item(&[
                    ("pk", s("A")),
                    ("sk", s("B")),
                    ("v", s("old")),
                ])))
                .send()
                .await
                .unwrap();
        }
        async fn failures(client: &Client) -> Vec<(u16, String, String)> {
            let mut out = Vec::new();
            let e = client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item(&[("pk", s("A")), ("sk", s("B"))])))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            let e = client
                .transact_write_items()
                .transact_items(put(
                    &[("pk", s("A")), ("sk", s("B"))],
                    "attribute_not_exists(pk)",
                ))
                .transact_items(put(
                    &[("pk", s("A")), ("sk", s("C"))],
                    "attribute_not_exists(pk)",
                ))
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            let e = client
                .get_item()
                .table_name("nope")
                .key("pk", s("A"))
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            let e = client
                .get_item()
                .table_name(TABLE)
                .key("pk", s("A"))
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            let e = client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item(&[
                    ("pk", s("A")),
                    ("sk", AttributeValue::N("1".into())),
                ])))
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            let e = client
                .query()
                .table_name(TABLE)
                .key_condition_expression("pk = :pk AND")
                .expression_attribute_values(":pk", s("A"))
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            let e = client
                .create_table()
                .table_name(TABLE)
                .attribute_definitions(
                    aws_sdk_dynamodb::types::AttributeDefinition::builder()
                        .attribute_name("pk")
                        .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    aws_sdk_dynamodb::types::KeySchemaElement::builder()
                        .attribute_name("pk")
                        .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                        .build()
                        .unwrap(),
                )
                .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            let e = client
                .put_item()
                .table_name(TABLE)
                .set_item(Some(item(&[
                    ("pk", s("A")),
                    ("sk", s("D")),
                    ("n", AttributeValue::N("not a number".into())),
                ])))
                .send()
                .await
                .unwrap_err();
            out.push(raw(&e));
            out
        }
        let here = failures(&local).await;
        let there = failures(&remote).await;
        assert_eq!(here.len(), there.len());
        for (h, t) in here.iter().zip(&there) {
            // Byte for byte, but for the order of an item's attributes (a
            // HashMap's, which differs between any two answers).
            assert_eq!((h.0, &h.1), (t.0, &t.1));
            if h.2 != t.2 {
                assert!(h.2.contains("\"Item"), "{} != {}", h.2, t.2);
                let value = |b: &str| serde_json::from_str::<serde_json::Value>(b).unwrap();
                assert_eq!(value(&h.2), value(&t.2));
            }
        }
        // Successful answers decode the same.
        let get = |c: &Client| {
            c.get_item()
                .table_name(TABLE)
                .key("pk", s("A"))
                .key("sk", s("B"))
                .send()
        };
        assert_eq!(
            get(&local).await.unwrap().item(),
            get(&remote).await.unwrap().item()
        );
    }
}
