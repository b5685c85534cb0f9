//! Load and cost measurements through the local API, on either engine.
//!
//!   loadgen cost  [--engine embedded|dynamodb-local]
//!   loadgen load  [--engine embedded|dynamodb-local] [--seconds 5] [--clients 1,8,32]
//!   loadgen load  --url http://127.0.0.1:3999 [--seconds 5] [--clients 1,8,32]
//!   loadgen sustain [--engine embedded|dynamodb-local] [--orders 100000] [--clients 8] [--block 10000] [--assign balanced|modulo]
//!   loadgen coldstart BINARY... [--runs 20]
//!   loadgen job [--engine embedded|dynamodb-local] [--customers 100000] [--clients 8] [--days 7]
//!
//! `cost` counts the DynamoDB requests and capacity units of one uncontended
//! order (from the engine's own ReturnConsumedCapacity answers) for customers
//! with 50 and with 10,000 orders in the past year, with the state item's
//! size. `load` drives 1, 8 and 32 concurrent clients through the HTTP API
//! and, in the same run, the raw ceiling: the GetItem and the
//! TransactWriteItems the API's store sends for an uncontended order (the
//! same items, conditions and sizes) straight to the engine. `sustain`
//! replays a seeded history of many customers through the API and prints
//! the throughput of each block of orders, to show whether it stays flat.
//! DynamoDB Local's endpoint comes from DYNAMODB_LOCAL_ENDPOINT
//! (scripts/dynamodb-local.sh start).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use e2e::{Api, Engine};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The program every load run and the state size test use.
fn program() -> Value {
    serde_json::from_str(include_str!("program.json")).expect("loadgen's program is JSON")
}

fn order(customer: &str, id: usize, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "orderId": format!("o{id}"), "customerId": customer,
        "placedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "status": "completed", "amount": format!("{}.{:02}", 20 + id % 180, id % 100), "currency": "USD",
        "lineItems": [{"sku": "a", "category": "shirts", "price": format!("{}.{:02}", 20 + id % 180, id % 100), "quantity": 1}]
    })
}

async fn metrics(api: &Api) -> (f64, f64, f64) {
    let m = api.get("/_local/metrics").await.body;
    (
        m["requests"].as_f64().unwrap(),
        m["readUnits"].as_f64().unwrap(),
        m["writeUnits"].as_f64().unwrap(),
    )
}

async fn cost(engine: Engine) {
    let api = Api::start(engine).await;
    api.program("cost", &program()).await;
    let start: chrono::DateTime<chrono::Utc> = "2025-11-01T09:00:00Z".parse().unwrap();
    println!("| orders in the past year | DynamoDB requests | read units | write units | state item (deflated JSON) |");
    println!("|---|---|---|---|---|");
    for per_year in [50usize, 10_000] {
        let customer = format!("c{per_year}");
        let step = Duration::from_secs(365 * 86_400 / per_year as u64);
        for i in 0..per_year {
            let at = start + chrono::Duration::from_std(step * i as u32).unwrap();
            let r = api
                .post("/programs/cost/orders", &order(&customer, i, at))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let before = metrics(&api).await;
        let at = start + chrono::Duration::days(365);
        let r = api
            .post("/programs/cost/orders", &order(&customer, per_year + 1, at))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let after = metrics(&api).await;
        let size = state_size(&api, "cost", &customer).await;
        println!(
            "| {per_year} | {} | {} | {} | {size} bytes |",
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2
        );
    }
}

async fn state_size(api: &Api, program: &str, customer: &str) -> usize {
    let store = api.store().clone();
    let state = store
        .load_customer(program, customer)
        .await
        .unwrap()
        .unwrap()
        .state;
    tier_store::encode_state(&state).len()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// CPU seconds this process has used so far (user and system, all
/// threads: load generator, server and engine), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        // utime and stime, in clock ticks of 1/100 s on Linux.
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn load(engine: Engine, seconds: u64, patterns: &[usize]) {
    println!("| clients | raw ops/s | API orders/s | API / raw | raw CPU ms/op | API CPU ms/order | raw p50 ms | raw p99 ms | API p50 ms | API p99 ms | HTTP floor req/s | floor CPU ms/req |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut shapes = Vec::new();
    for &clients in patterns {
        // Each pattern gets a fresh engine per harness, so neither pays for
        // what the other left behind (dynoxide's kept idempotency tokens, on
        // DynamoDB Local; a larger table).
        let api = std::sync::Arc::new(Api::start(engine).await);
        api.program("load", &program()).await;
        let shape = Shape::probe(&api).await;
        let cpu = cpu_seconds();
        let (orders, api_lat) = through_api(&api.base, "load", clients, seconds).await;
        let api_cpu = (cpu_seconds() - cpu) / api_lat.len() as f64;
        let shape = shape.measured(&api, clients).await;
        drop(api);
        let raw_api = Api::start(engine).await;
        raw_api.program("load", &program()).await;
        let cpu = cpu_seconds();
        let (raw, raw_lat) = raw_ceiling(&raw_api, &shape, clients, seconds).await;
        let raw_cpu = (cpu_seconds() - cpu) / raw_lat.len() as f64;
        drop(raw_api);
        let floor = HttpFloor::start(shape.reply.clone()).await;
        let cpu = cpu_seconds();
        let (floor_rate, floor_lat) = through_api(&floor.base, "load", clients, seconds).await;
        let floor_cpu = (cpu_seconds() - cpu) / floor_lat.len() as f64;
        drop(floor);
        println!(
            "| {clients} | {raw:.0} | {orders:.0} | {:.0} % | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {floor_rate:.0} | {:.3} |",
            100.0 * orders / raw,
            raw_cpu * 1000.0,
            api_cpu * 1000.0,
            percentile(&raw_lat, 0.5),
            percentile(&raw_lat, 0.99),
            percentile(&api_lat, 0.5),
            percentile(&api_lat, 0.99),
            floor_cpu * 1000.0
        );
        shapes.push((clients, shape));
    }
    println!();
    println!("Raw transaction per order, as the API's (sizes from its items in the same pattern):");
    for (clients, shape) in shapes {
        println!(
            "- {clients} clients: GetItem (consistent) + TransactWriteItems of {} items \
             (order put if absent: {} bytes of data; state put on its version: {} bytes \
             after the first order, +{:.2} bytes per order), the first per customer also \
             putting the expiry index item",
            if shape.expiry_item { "2 or 3" } else { "2" },
            shape.order_data,
            shape.state_first,
            shape.state_growth
        );
    }
}

/// The HTTP floor: the same client sending the same orders to a server on
/// the same stack (axum over hyper, in this process) that only parses each
/// order's JSON and answers the bytes the API answered. What an order
/// costs before any decision or store call; the API's share of the raw
/// ceiling cannot be higher than this leaves room for.
struct HttpFloor {
    base: String,
    server: tokio::task::JoinHandle<()>,
}

impl HttpFloor {
    async fn start(reply: bytes::Bytes) -> HttpFloor {
        let app = axum::Router::new().fallback(move |body: bytes::Bytes| {
            let reply = reply.clone();
            async move {
                let order: Value = serde_json::from_slice(&body).expect("an order");
                assert!(order["orderId"].is_string(), "an order: {order}");
                ([("content-type", "application/json")], reply)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        HttpFloor { base, server }
    }
}

impl Drop for HttpFloor {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the API's transaction for an uncontended order writes (see
/// `tier_store::DynamoStore::commit`): the order item, created if absent,
/// and the state item, put on the version read; the first order of a
/// customer also puts its expiry index item. Sizes are taken from the
/// items the API wrote in the same pattern.
#[derive(Clone)]
struct Shape {
    /// Length of the order item's deflated `data` (reply and record).
    order_data: usize,
    /// Length of the state blob after a customer's first order.
    state_first: usize,
    /// Growth of the state blob per order (the `max` tracker keeps a value
    /// per order).
    state_growth: f64,
    /// Whether the first order wrote an expiry index item.
    expiry_item: bool,
    /// The API's reply to the probe's order, for the HTTP floor.
    reply: bytes::Bytes,
}

async fn item(api: &Api, pk: &str, sk: &str) -> Option<HashMap<String, AttributeValue>> {
    api.store()
        .client()
        .get_item()
        .table_name(&api.table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn blob_len(item: &HashMap<String, AttributeValue>, name: &str) -> usize {
    item[name].as_b().unwrap().as_ref().len()
}

impl Shape {
    /// One order of a probe customer through the API: the first order's
    /// items.
    async fn probe(api: &Api) -> Shape {
        let at = "2026-01-01T00:00:00Z".parse().unwrap();
        let r = api
            .post("/programs/load/orders", &order("probe", 0, at))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let pk = tier_store::keys::customer_pk("load", "probe");
        let state = item(api, &pk, tier_store::keys::STATE).await.unwrap();
        let order = item(api, &pk, &tier_store::keys::order_sk("o0"))
            .await
            .unwrap();
        Shape {
            order_data: blob_len(&order, "data"),
            state_first: blob_len(&state, "state"),
            state_growth: 0.0,
            expiry_item: item(api, &pk, tier_store::keys::EXPIRY).await.is_some(),
            reply: serde_json::to_vec(&r.body).unwrap().into(),
        }
    }

    /// The state's growth per order and the order item's size, from what
    /// the clients of a pattern wrote through the API.
    async fn measured(mut self, api: &Api, clients: usize) -> Shape {
        let mut growth = Vec::new();
        let mut data = Vec::new();
        for c in 0..clients {
            let pk = tier_store::keys::customer_pk("load", &format!("load{c}"));
            let state = item(api, &pk, tier_store::keys::STATE).await.unwrap();
            let version: f64 = state["version"].as_n().unwrap().parse().unwrap();
            let size = blob_len(&state, "state") as f64;
            if version > 1.0 {
                growth.push((size - self.state_first as f64) / (version - 1.0));
            }
            let last = format!("o{}", version as u64 - 1);
            let order = item(api, &pk, &tier_store::keys::order_sk(&last))
                .await
                .unwrap();
            data.push(blob_len(&order, "data") as f64);
        }
        self.state_growth = if growth.is_empty() {
            0.0
        } else {
            median(&mut growth).max(0.0)
        };
        self.order_data = median(&mut data) as usize;
        self
    }

    fn state_len(&self, orders: usize) -> usize {
        self.state_first + (self.state_growth * orders as f64) as usize
    }
}

/// A client of its own that posts orders to the `load` program and checks
/// each is applied, and does nothing else: the tests' `Api` helper also
/// copies the headers, parses every reply into a `Value` and looks for a
/// file to record the exchange in, which is the load generator's CPU, not
/// the API's, on the same two cores.
struct Poster {
    client: reqwest::Client,
    url: String,
}

impl Poster {
    fn new(api: &Api) -> Poster {
        Poster::at(&api.base, "load")
    }

    fn at(base: &str, program: &str) -> Poster {
        Poster {
            client: reqwest::Client::new(),
            url: format!("{base}/programs/{program}/orders"),
        }
    }

    async fn order(&self, body: String) {
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the order is answered");
        let status = response.status().as_u16();
        let reply = response.bytes().await.expect("the reply is read");
        let needle = b"\"applied\":true";
        let applied = reply.windows(needle.len()).any(|w| w == needle);
        assert!(
            status == 200 && applied,
            "{status}: {}",
            String::from_utf8_lossy(&reply)
        );
    }
}

async fn through_api(
    base: &str,
    program: &str,
    clients: usize,
    seconds: u64,
) -> (f64, Vec<Duration>) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let poster = Poster::at(base, program);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let body = order(
                    &format!("load{c}"),
                    i,
                    start + chrono::Duration::minutes(i as i64),
                );
                let body = body.to_string();
                let t = Instant::now();
                poster.order(body).await;
                lat.push(t.elapsed());
                i += 1;
            }
            lat
        }));
    }
    collect(tasks, seconds).await
}

/// The raw ceiling: per order, the requests the API's store sends for an
/// uncontended order (`DynamoStore::load_customer` and `commit`), with the
/// same keys, conditions, options and sizes, straight to the engine.
async fn raw_ceiling(
    api: &Api,
    shape: &Shape,
    clients: usize,
    seconds: u64,
) -> (f64, Vec<Duration>) {
    let store = api.store().clone();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // Deflated data does not compress; neither do these bytes.
    let mut rng = fastrand::Rng::with_seed(15);
    let noise: std::sync::Arc<Vec<u8>> = std::sync::Arc::new(
        (0..shape.state_len(1_000_000).max(shape.order_data) + 64)
            .map(|_| rng.u8(..))
            .collect(),
    );
    let start: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = store.client().clone();
        let table = api.table.clone();
        let shape = shape.clone();
        let noise = noise.clone();
        tasks.push(tokio::spawn(async move {
            use aws_sdk_dynamodb::types::{
                ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure,
            };
            let customer = format!("raw{c}");
            let pk = tier_store::keys::customer_pk("load", &customer);
            let s = |v: &str| AttributeValue::S(v.to_owned());
            let mut version = 0u64;
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let i = version as usize;
                let placed_at = (start + chrono::Duration::minutes(i as i64))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let t = Instant::now();
                client
                    .get_item()
                    .table_name(&table)
                    .key("pk", s(&pk))
                    .key("sk", s(tier_store::keys::STATE))
                    .consistent_read(true)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .unwrap();
                let order = Put::builder()
                    .table_name(&table)
                    .item("pk", s(&pk))
                    .item("sk", s(&tier_store::keys::order_sk(&format!("o{i}"))))
                    .item(
                        "hash",
                        s("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                    )
                    .item(
                        "data",
                        AttributeValue::B(Blob::new(&noise[i % 64..i % 64 + shape.order_data])),
                    )
                    .item("itemVersion", AttributeValue::N("1".into()))
                    .item("status", s("completed"))
                    .item("placedAt", s(&placed_at))
                    .condition_expression("attribute_not_exists(pk)")
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .unwrap();
                let state_len = shape.state_len(i + 1);
                let mut state_put = Put::builder()
                    .table_name(&table)
                    .item("pk", s(&pk))
                    .item("sk", s(tier_store::keys::STATE))
                    .item("version", AttributeValue::N((version + 1).to_string()))
                    .item(
                        "state",
                        AttributeValue::B(Blob::new(&noise[i % 64..i % 64 + state_len])),
                    )
                    .item("nextExpiry", s("2027-01-01"))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    );
                state_put = if version == 0 {
                    state_put.condition_expression("attribute_not_exists(pk)")
                } else {
                    state_put
                        .condition_expression("version = :v")
                        .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
                };
                let mut transaction = client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().put(order).build())
                    .transact_items(
                        TransactWriteItem::builder()
                            .put(state_put.build().unwrap())
                            .build(),
                    )
                    .return_consumed_capacity(ReturnConsumedCapacity::Total);
                if version == 0 && shape.expiry_item {
                    let expiry = Put::builder()
                        .table_name(&table)
                        .item("pk", s(&pk))
                        .item("sk", s(tier_store::keys::EXPIRY))
                        .item("programId", s("load"))
                        .item("customerId", s(&customer))
                        .item("expiryShard", s(&tier_store::keys::expiry_shard(&pk)))
                        .item("expiresOn", s("2027-01-01"))
                        .build()
                        .unwrap();
                    transaction = transaction
                        .transact_items(TransactWriteItem::builder().put(expiry).build());
                }
                transaction.send().await.unwrap();
                lat.push(t.elapsed());
                version += 1;
            }
            lat
        }));
    }
    collect(tasks, seconds).await
}

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>,
    seconds: u64,
) -> (f64, Vec<Duration>) {
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (all.len() as f64 / seconds as f64, all)
}

/// Orders per second through a local API already running at `base` (for
/// example the `local` profile's binary, `--in-memory`): the same orders
/// as `load`'s API side, without the raw ceiling.
async fn load_url(base: &str, seconds: u64, patterns: &[usize]) {
    println!("| clients | API orders/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for &clients in patterns {
        // A program of its own per pattern, so every pattern starts with
        // new customers.
        let id = format!("load{}", fastrand::u64(..));
        let r = reqwest::Client::new()
            .put(format!("{base}/programs/{id}/config"))
            .header("content-type", "application/json")
            .body(program().to_string())
            .send()
            .await
            .expect("the config is answered");
        assert!(r.status().is_success(), "config: {}", r.status());
        let (orders, lat) = through_api(base, &id, clients, seconds).await;
        println!(
            "| {clients} | {orders:.0} | {:.2} | {:.2} |",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
}

/// A history to replay: `orders` orders of many customers (1 to 19 each,
/// 10 on average), each customer's in time order over 18 months, all of
/// them in time order; seeded, so every run replays the same history.
fn history(orders: usize) -> Vec<(usize, Value)> {
    let mut rng = fastrand::Rng::with_seed(15);
    let start: chrono::DateTime<chrono::Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let mut all = Vec::with_capacity(orders);
    let mut customer = 0;
    while all.len() < orders {
        let count = (1 + rng.usize(..19)).min(orders - all.len());
        let mut at = start + chrono::Duration::seconds(rng.i64(0..365 * 86_400));
        for i in 0..count {
            // Mostly everyday amounts; one order in 500 large enough for
            // Gold's single-order criterion (a dynamic upgrade).
            let cents = if rng.usize(..500) == 0 {
                rng.u64(2_500_000..3_000_000)
            } else {
                rng.u64(1_000..40_000)
            };
            let amount = format!("{}.{:02}", cents / 100, cents % 100);
            let body = json!({
                "orderId": format!("o{i}"), "customerId": format!("cust{customer:06}"),
                "placedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "status": "completed", "amount": amount, "currency": "USD",
                "lineItems": [{"sku": "a", "category": "shirts", "price": amount, "quantity": 1}]
            });
            all.push((at, customer, body));
            at += chrono::Duration::seconds(rng.i64(3_600..40 * 86_400));
        }
        customer += 1;
    }
    all.sort_by_key(|(at, customer, _)| (*at, *customer));
    all.into_iter().map(|(_, c, body)| (c, body)).collect()
}

/// How `sustain` gives customers to clients (each customer's orders go
/// through one client, in order).
#[derive(Debug, Clone, Copy)]
enum Assign {
    /// Customer number modulo the clients: queues differ by a few hundred
    /// orders, so the last block runs partly with fewer clients.
    Modulo,
    /// Largest customers first, each to the client with the fewest orders
    /// so far: queues within one customer's orders of each other.
    Balanced,
}

impl Assign {
    fn clients_of(
        self,
        history: &[(usize, Value)],
        customers: usize,
        clients: usize,
    ) -> Vec<usize> {
        match self {
            Assign::Modulo => (0..customers).map(|c| c % clients).collect(),
            Assign::Balanced => {
                let mut counts = vec![0usize; customers];
                for (c, _) in history {
                    counts[*c] += 1;
                }
                let mut by_size: Vec<usize> = (0..customers).collect();
                by_size.sort_by_key(|c| (std::cmp::Reverse(counts[*c]), *c));
                let mut load = vec![0usize; clients];
                let mut client_of = vec![0; customers];
                for c in by_size {
                    let lightest = (0..clients).min_by_key(|k| (load[*k], *k)).unwrap_or(0);
                    load[lightest] += counts[c];
                    client_of[c] = lightest;
                }
                client_of
            }
        }
    }
}

/// Replays [`history`] through the API with `clients` concurrent clients,
/// each serving its own customers (so each customer's orders arrive in
/// order), and prints the throughput of each consecutive block of orders.
async fn sustain(engine: Engine, orders: usize, clients: usize, block: usize, assign: Assign) {
    let history = history(orders);
    let customers = history.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
    let client_of = assign.clients_of(&history, customers, clients);
    let mut queues: Vec<Vec<String>> = vec![Vec::new(); clients];
    for (customer, body) in history {
        queues[client_of[customer]].push(body.to_string());
    }
    let lengths: Vec<usize> = queues.iter().map(Vec::len).collect();
    let api = std::sync::Arc::new(Api::start(engine).await);
    api.program("load", &program()).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let marks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let started_cpu = cpu_seconds();
    let mut tasks = Vec::new();
    for queue in queues {
        let (poster, done, marks) = (Poster::new(&api), done.clone(), marks.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(queue.len());
            for body in queue {
                let t = Instant::now();
                poster.order(body).await;
                let now = Instant::now();
                lat.push((now, now - t));
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if n % block == 0 {
                    marks.lock().unwrap().push((n, now, cpu_seconds()));
                }
            }
            (lat, Instant::now())
        }));
    }
    let mut lat = Vec::new();
    let mut finished = Vec::new();
    for t in tasks {
        let (client_lat, at) = t.await.unwrap();
        lat.extend(client_lat);
        finished.push(at);
    }
    let elapsed = started.elapsed();
    // Orders answered after the first client ran out of orders went at
    // less than full concurrency: the tail of the last block.
    let first_done = finished.iter().min().copied().unwrap_or(started);
    let in_tail = lat.iter().filter(|(end, _)| *end > first_done).count();
    let mut marks = marks.lock().unwrap().clone();
    marks.sort_by_key(|(n, _, _)| *n);
    println!(
        "{orders} orders of {customers} customers, {clients} clients ({assign:?}: {} to {} \
         orders each; {in_tail} orders answered after the first client had none left), \
         {:?} engine",
        lengths.iter().min().unwrap_or(&0),
        lengths.iter().max().unwrap_or(&0),
        engine
    );
    println!();
    println!("| orders | orders/s | CPU ms/order | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    let mut rates = Vec::new();
    let mut from = (0, started, started_cpu);
    for (n, at, cpu) in marks {
        let mut in_block: Vec<Duration> = lat
            .iter()
            .filter(|(end, _)| *end > from.1 && *end <= at)
            .map(|(_, d)| *d)
            .collect();
        in_block.sort();
        let rate = (n - from.0) as f64 / (at - from.1).as_secs_f64();
        rates.push(rate);
        println!(
            "| {}-{} | {rate:.0} | {:.3} | {:.2} | {:.2} |",
            from.0 + 1,
            n,
            (cpu - from.2) * 1000.0 / (n - from.0) as f64,
            percentile(&in_block, 0.5),
            percentile(&in_block, 0.99)
        );
        from = (n, at, cpu);
    }
    println!();
    println!(
        "Overall: {orders} orders in {:.1} s, {:.0} orders/s; last block / first block: {:.2}",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64(),
        rates.last().unwrap_or(&0.0) / rates.first().unwrap_or(&1.0)
    );
}

/// The day the `job` benchmark's runs start: a tenth of its customers'
/// Silver periods end on it.
const JOB_DAY: &str = "2026-06-01T00:00:00Z";

fn job_program() -> Value {
    json!({
        "currency": "USD", "startDate": "2025-01-01T00:00:00Z",
        "trackers": [{"id": "spend12m", "measure": "billAmount", "period": {"months": 12}}],
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "2", "upgrade": {"criteria": [
                {"id": "S", "kind": "lifetimePurchases", "min": "10"}],
                "condition": "all", "upgradeType": "lazy"},
             "retention": {"validity": {"months": 12, "from": "tierStart"},
                "criteria": [{"id": "K", "kind": "tracker", "tracker": "spend12m", "min": "50"}],
                "condition": "all", "onFail": "oneDown"}}
        ]
    })
}

/// `customers` customers with 1 to 3 orders each over the year before
/// [`JOB_DAY`]; a tenth placed their first order (and reached Silver)
/// exactly a year before it. Seeded. Returns each customer's orders.
fn job_history(customers: usize) -> Vec<Vec<(chrono::DateTime<chrono::Utc>, Value)>> {
    let mut rng = fastrand::Rng::with_seed(12);
    let day: chrono::DateTime<chrono::Utc> = JOB_DAY.parse().unwrap();
    let year_before = day - chrono::Months::new(12);
    (0..customers)
        .map(|c| {
            let first = if c % 10 == 0 {
                year_before + chrono::Duration::seconds(rng.i64(0..3_600))
            } else {
                year_before + chrono::Duration::seconds(rng.i64(86_400..364 * 86_400))
            };
            let mut at = first;
            (0..1 + rng.usize(..3))
                .map(|i| {
                    if i > 0 {
                        at += chrono::Duration::seconds(
                            rng.i64(3_600..(day - at).num_seconds().max(3_601)),
                        );
                        at = at.min(day - chrono::Duration::seconds(1));
                    }
                    let amount = format!("{}.00", 20 + rng.u32(..80));
                    let body = json!({
                        "orderId": format!("o{i}"), "customerId": format!("j{c:06}"),
                        "placedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "status": "completed", "amount": amount, "currency": "USD",
                        "lineItems": [{"sku": "a", "price": amount, "quantity": 1}]
                    });
                    (at, body)
                })
                .collect()
        })
        .collect()
}

/// The scheduled job over many customers, a run a day: customers due,
/// changed, time and DynamoDB work of each run, beside how many customers
/// the rule before 9adc53d would have woken that day (one whose order day
/// leaves its 12-month window is due), counted from the same history.
async fn job(engine: Engine, customers: usize, clients: usize, days: u32) {
    let history = job_history(customers);
    let api = std::sync::Arc::new(Api::start(engine).await);
    api.program("load", &job_program()).await;
    let started = Instant::now();
    let mut queues: Vec<Vec<String>> = vec![Vec::new(); clients];
    let mut orders = 0;
    for (c, customer) in history.iter().enumerate() {
        for (_, body) in customer {
            queues[c % clients].push(body.to_string());
            orders += 1;
        }
    }
    let mut tasks = Vec::new();
    for queue in queues {
        let poster = Poster::new(&api);
        tasks.push(tokio::spawn(async move {
            for body in queue {
                poster.order(body).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "{customers} customers, {orders} orders loaded in {:.0} s ({engine:?} engine)",
        started.elapsed().as_secs_f64()
    );
    let day: chrono::DateTime<chrono::Utc> = JOB_DAY.parse().unwrap();
    println!();
    println!("| run (day) | due | changed | wall s | ms per due customer | requests | RCU | WCU | due by the old rule |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for d in 0..days {
        let at = day + chrono::Duration::days(d.into()) + chrono::Duration::seconds(86_399);
        let today = at.date_naive();
        let old_rule = history
            .iter()
            .filter(|orders| {
                orders
                    .iter()
                    .any(|(placed, _)| (placed.date_naive() + chrono::Months::new(12)) == today)
            })
            .count();
        let before = metrics(&api).await;
        let t = Instant::now();
        let event = json!({"time": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)});
        let report = api.post("/_local/scheduled", &event).await;
        let wall = t.elapsed().as_secs_f64();
        assert_eq!(report.status, 200, "{}", report.body);
        let after = metrics(&api).await;
        let due = report.body["customersDue"].as_u64().unwrap_or(0);
        println!(
            "| {today} | {due} | {} | {wall:.2} | {:.2} | {:.0} | {:.0} | {:.0} | {old_rule} |",
            report.body["customersChanged"],
            wall * 1000.0 / due.max(1) as f64,
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2,
        );
    }
}

/// Init time of each Lambda binary: from exec to its first request for an
/// event on a local Runtime API, median of `runs` starts, with the
/// environment Lambda gives (aws-config resolves region and credentials from
/// it, as in production).
async fn coldstart(binaries: &[&String], runs: usize) {
    println!("| binary | stripped size | init median ms | min | max |");
    println!("|---|---|---|---|---|");
    for binary in binaries {
        let mut times = Vec::new();
        for _ in 0..runs {
            let running = e2e::runtime_api::RuntimeApi::start().await;
            let started = Instant::now();
            let mut child = std::process::Command::new(binary)
                .env_clear()
                .env("AWS_LAMBDA_RUNTIME_API", &running.address)
                .env("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coldstart")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "local")
                .env("AWS_SECRET_ACCESS_KEY", "local")
                .env("AWS_SESSION_TOKEN", "local")
                .env("TABLE_NAME", "coldstart")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("binary starts");
            let polled = tokio::time::timeout(Duration::from_secs(10), running.api.first_poll())
                .await
                .expect("the binary asks for an event within 10 s");
            times.push(polled - started);
            let _ = child.kill();
            let _ = child.wait();
        }
        times.sort();
        let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
        // cargo lambda names every binary `bootstrap`: show its directory.
        let path = std::path::Path::new(binary.as_str());
        let name = match path.file_name().and_then(|n| n.to_str()) {
            Some("bootstrap") => path
                .parent()
                .and_then(|p| p.file_name())
                .unwrap_or_default(),
            _ => path.file_name().unwrap_or_default(),
        }
        .to_string_lossy();
        println!(
            "| {name} | {:.1} MB | {:.1} | {:.1} | {:.1} |",
            size as f64 / 1e6,
            percentile(&times, 0.5),
            times[0].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: usize| {
        flag(name)
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("{name} {s}: not a number"))
            })
            .unwrap_or(default)
    };
    let engine = match flag("--engine").as_deref() {
        Some("dynamodb-local") => Engine::DynamoDbLocal,
        _ => Engine::Embedded,
    };
    let seconds = number("--seconds", 5) as u64;
    let patterns: Vec<usize> = flag("--clients")
        .unwrap_or_else(|| "1,8,32".into())
        .split(',')
        .map(|c| c.parse().expect("--clients N[,N...]"))
        .collect();
    match args.get(1).map(String::as_str) {
        Some("cost") => cost(engine).await,
        Some("load") if flag("--url").is_some() => {
            load_url(&flag("--url").unwrap_or_default(), seconds, &patterns).await
        }
        Some("load") => load(engine, seconds, &patterns).await,
        Some("sustain") => {
            let block = number("--block", 10_000);
            let assign = match flag("--assign").as_deref() {
                Some("modulo") => Assign::Modulo,
                _ => Assign::Balanced,
            };
            sustain(
                engine,
                number("--orders", 100_000),
                number("--clients", 8),
                block,
                assign,
            )
            .await
        }
        Some("job") => {
            job(
                engine,
                number("--customers", 100_000),
                number("--clients", 8),
                number("--days", 7) as u32,
            )
            .await
        }
        Some("coldstart") => {
            let runs = number("--runs", 20);
            let binaries: Vec<&String> = args[2..]
                .iter()
                .take_while(|a| !a.starts_with("--"))
                .collect();
            coldstart(&binaries, runs).await
        }
        _ => eprintln!(
            "usage: loadgen cost|load|sustain|job|coldstart [--engine embedded|dynamodb-local] \
             [--seconds N] [--clients N[,N...]] [--orders N] [--block N] [--assign balanced|modulo] \
             [--customers N] [--days N]"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_lengths(assign: Assign, history: &[(usize, Value)], clients: usize) -> Vec<usize> {
        let customers = history.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
        let client_of = assign.clients_of(history, customers, clients);
        assert_eq!(client_of.len(), customers, "every customer has one client");
        let mut lengths = vec![0; clients];
        for (customer, _) in history {
            lengths[client_of[*customer]] += 1;
        }
        lengths
    }

    #[test]
    fn balanced_queues_differ_by_at_most_one_customers_orders() {
        // history() gives a customer at most 19 orders.
        for (orders, clients) in [(20_000, 8), (5_003, 3), (997, 32), (19, 8)] {
            let history = history(orders);
            let lengths = queue_lengths(Assign::Balanced, &history, clients);
            assert_eq!(lengths.iter().sum::<usize>(), orders);
            let (min, max) = (lengths.iter().min().unwrap(), lengths.iter().max().unwrap());
            assert!(
                max - min <= 19,
                "{orders} orders over {clients}: {lengths:?}"
            );
        }
    }

    #[test]
    fn modulo_is_what_the_runs_before_balancing_measured() {
        let history = history(20_000);
        let lengths = queue_lengths(Assign::Modulo, &history, 8);
        let by_hand = (0..8)
            .map(|k| history.iter().filter(|(c, _)| c % 8 == k).count())
            .collect::<Vec<_>>();
        assert_eq!(lengths, by_hand);
    }
}
