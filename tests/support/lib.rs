//! Test support: a local API of its own per test, on either engine, talked
//! to over HTTP like any client.

pub mod browser;
pub mod exchanges;
pub mod faults;
pub mod runtime_api;

use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

static TABLES: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone, Copy)]
pub enum Engine {
    /// dynoxide inside the local API process, in memory.
    Embedded,
    /// AWS's DynamoDB Local, started by scripts/test.sh.
    DynamoDbLocal,
}

pub struct Api {
    http: Http,
    /// The DynamoDB endpoint and table behind this API.
    pub dynamodb_endpoint: String,
    pub table: String,
    running: local_api::Running,
}

/// A client of a local API at `base`: one this test started in its own
/// process, or a binary it spawned.
#[derive(Clone)]
pub struct Http {
    pub base: String,
    client: reqwest::Client,
}

/// `api.get(..)`, `api.base`: an in-process API is talked to like any other.
impl std::ops::Deref for Api {
    type Target = Http;
    fn deref(&self) -> &Http {
        &self.http
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
}

impl Reply {
    /// The error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A table name no other test run meets: `scripts/test.sh` runs the test
/// binaries twice against one DynamoDB Local, which keeps every table, and
/// a process id alone repeats once the kernel's counter wraps (an existing
/// table is reused, data and all).
pub fn unique_table(prefix: &str) -> String {
    format!("{prefix}-{}-{:016x}", std::process::id(), fastrand::u64(..))
}

impl Api {
    /// An API that accepts events dated any time up to 2199: the suite
    /// replays fixed histories, many dated after today.
    pub async fn start(engine: Engine) -> Api {
        Api::start_with_event_lead(engine, u64::MAX).await
    }

    /// An API that refuses events dated more than `seconds` past its clock.
    pub async fn start_with_event_lead(engine: Engine, seconds: u64) -> Api {
        Api::start_configured(engine, seconds, None).await
    }

    /// An API (accepting any date) that dates every config version at
    /// `published` (RFC 3339) instead of its clock. Retention rules with
    /// trackers count from their publication; a test that replays a fixed
    /// history under one fixes the day, or its outcome would change once
    /// the calendar passes the history's dates.
    pub async fn start_published_at(engine: Engine, published: &str) -> Api {
        let at = published.parse().expect("an RFC 3339 instant");
        Api::start_configured(engine, u64::MAX, Some(at)).await
    }

    async fn start_configured(
        engine: Engine,
        seconds: u64,
        published: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Api {
        let table = unique_table(&format!("e2e-{}", TABLES.fetch_add(1, Ordering::Relaxed)));
        let dynamodb_endpoint = match engine {
            Engine::Embedded => None,
            Engine::DynamoDbLocal => Some(dynamodb_local_endpoint()),
        };
        let on_disk = std::env::var_os("E2E_ON_DISK").is_some();
        let data_dir = std::env::temp_dir().join(&table);
        let args = local_api::Args {
            port: 0,
            data_dir: if on_disk {
                data_dir
            } else {
                std::env::temp_dir()
            },
            in_memory: !on_disk,
            dynamodb_endpoint,
            table: table.clone(),
            remote: None,
            region: None,
            max_event_lead_seconds: seconds,
            config_published_at: published,
        };
        let running = local_api::start(&args).await.expect("local API starts");
        Api {
            http: Http::new(format!("http://{}", running.address)),
            dynamodb_endpoint: running.dynamodb_endpoint.clone(),
            table,
            running,
        }
    }

    /// The store under the API, to look at or damage what it keeps.
    pub fn store(&self) -> &tier_store::DynamoStore {
        self.running
            .store
            .as_ref()
            .expect("a local store under the API")
    }
}

impl Http {
    pub fn new(base: String) -> Http {
        Http {
            base,
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<String>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(b) = &body {
            request = request
                .header("content-type", "application/json")
                .body(b.clone());
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let text = response.text().await.unwrap();
        exchanges::record(exchanges::Exchange {
            method: method.as_str(),
            target: path,
            request_body: body.as_deref(),
            status,
            headers,
            response_body: &text,
        });
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("reply to {path} is not JSON ({e}): {text}"));
        Reply {
            status,
            body,
            retry_after,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body.to_string())).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, Some(body.to_string())).await
    }

    /// Stores a program config, asserting success.
    pub async fn program(&self, id: &str, config: &Value) {
        let r = self.put(&format!("/programs/{id}/config"), config).await;
        assert_eq!(r.status, 200, "config for {id} is accepted: {}", r.body);
    }

    /// Sends a completed order, asserting success.
    pub async fn order(
        &self,
        program: &str,
        customer: &str,
        id: &str,
        at: &str,
        amount: &str,
    ) -> Value {
        let r = self
            .post(
                &format!("/programs/{program}/orders"),
                &order(customer, id, at, amount),
            )
            .await;
        assert_eq!(r.status, 200, "order {id}: {}", r.body);
        r.body
    }

    /// Redeems `points` of the customer's at `at`, asserting success.
    pub async fn redeem(
        &self,
        program: &str,
        customer: &str,
        id: &str,
        points: &str,
        at: &str,
    ) -> Value {
        let r = self
            .post(
                &format!("/programs/{program}/customers/{customer}/redemptions"),
                &serde_json::json!({"redemptionId": id, "points": points, "at": at}),
            )
            .await;
        assert_eq!(r.status, 200, "redemption {id}: {}", r.body);
        r.body
    }

    /// Program `p`, Silver from 500 current points, and its customer `c`:
    /// A ($400) on 1 February, 300 points redeemed on 2 February, B ($450)
    /// on 3 February: 550, Silver by B. B's reply.
    pub async fn spender_silver_by_b(&self) -> Value {
        self.program("p", &silver_by_current_points("500")).await;
        self.order("p", "c", "A", "2026-02-01T00:00:00Z", "400")
            .await;
        self.redeem("p", "c", "x", "300", "2026-02-02T00:00:00Z")
            .await;
        let b = self
            .order("p", "c", "B", "2026-02-03T00:00:00Z", "450")
            .await;
        assert_eq!(b["tierAfter"], "Silver", "{b}");
        b
    }

    /// Runs the scheduled job at `time` as the schedule's event would,
    /// asserting success; its report.
    pub async fn run_scheduled(&self, time: &str) -> Value {
        let r = self.post("/_local/scheduled", &scheduled_event(time)).await;
        assert_eq!(r.status, 200, "the job at {time}: {}", r.body);
        r.body
    }

    /// Polls a re-evaluation job until it is no longer running.
    pub async fn finished_job(&self, program: &str, id: &str) -> Value {
        for _ in 0..200 {
            let r = self.get(&format!("/programs/{program}/jobs/{id}")).await;
            assert_eq!(r.status, 200, "{}", r.body);
            if r.body["status"] != "running" {
                return r.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("job {id} still running");
    }

    pub async fn status(&self, program: &str, customer: &str, as_of: &str) -> Value {
        let r = self
            .get(&format!(
                "/programs/{program}/customers/{customer}?asOf={as_of}"
            ))
            .await;
        assert_eq!(r.status, 200, "status of {customer}: {}", r.body);
        r.body
    }
}

/// AWS's DynamoDB Local, which scripts/test.sh starts.
pub fn dynamodb_local_endpoint() -> String {
    std::env::var("DYNAMODB_LOCAL_ENDPOINT").expect(
        "DYNAMODB_LOCAL_ENDPOINT is not set: run scripts/test.sh, which starts DynamoDB Local",
    )
}

/// A dynoxide server of this test's own, in memory, for tests that put
/// something between the store and the engine.
pub async fn embedded_endpoint() -> String {
    let db = dynoxide::Database::memory().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(dynoxide::server::serve_on(listener, db));
    endpoint
}

/// The local API binary of this build (`cargo build --bins`, which
/// scripts/test.sh runs).
pub fn local_api_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("local-api");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --bins` (scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// Starts the local API binary with `args` and reads the address it prints
/// (its stderr is piped, for tests that read the logs).
pub fn spawn_local_api(args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    let mut command = std::process::Command::new(local_api_binary());
    command.args(args).stderr(std::process::Stdio::piped());
    spawn_configured(command)
}

/// Starts a local API `command` the caller has configured (environment,
/// stderr) and reads the address it prints first.
pub fn spawn_configured(mut command: std::process::Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, address)
}

/// Percent-encodes everything but unreserved ASCII (for ids and cursors
/// in paths and queries).
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every event of the program's feed from the start, following `next`,
/// deduped on `eventId` (recent events come again until they settle).
pub async fn feed(api: &Api, program: &str, limit: usize) -> Vec<Value> {
    let mut events: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..500 {
        let query = match &after {
            Some(cursor) => format!("?limit={limit}&after={}", urlencode(cursor)),
            None => format!("?limit={limit}"),
        };
        let page = api
            .get(&format!("/programs/{}/events{query}", urlencode(program)))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let got = page.body["events"].as_array().unwrap().clone();
        let next = page.body["next"].as_str().map(str::to_owned);
        let seen_before = events.len();
        for e in got.iter() {
            if !events.iter().any(|seen| seen["eventId"] == e["eventId"]) {
                events.push(e.clone());
            }
        }
        // A page with nothing new: up to date (the last seconds come
        // again on every page until they settle).
        if got.len() < limit || next == after || events.len() == seen_before {
            return events;
        }
        after = next;
    }
    panic!("the feed never ended");
}

/// The EventBridge scheduled event the stack's schedule sends at `time`.
pub fn scheduled_event(time: &str) -> Value {
    serde_json::json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": time,
        "region": "us-east-1", "resources": [], "detail": {}})
}

/// Member, then Silver from `min` current points (lazy), both earning a
/// point a dollar.
pub fn silver_by_current_points(min: &str) -> Value {
    serde_json::json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [
            {"name": "Member", "earnRate": "1"},
            {"name": "Silver", "earnRate": "1", "upgrade": {
                "criteria": [{"id": "P", "kind": "currentPoints", "min": min}],
                "condition": "all", "upgradeType": "lazy"}}]
    })
}

pub fn order(customer: &str, id: &str, at: &str, amount: &str) -> Value {
    serde_json::json!({
        "orderId": id, "customerId": customer, "placedAt": at,
        "status": "completed", "amount": amount, "currency": "USD"
    })
}

/// Defines each listed async test fn (taking an `Api`) once per engine;
/// after `published_at = "<instant>";`, on APIs that date every config
/// version then ([`Api::start_published_at`]).
#[macro_export]
macro_rules! on_both_engines {
    (published_at = $at:literal; $($name:ident),* $(,)?) => {
        mod embedded_published {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::Api::start_published_at($crate::Engine::Embedded, $at).await).await
            }
            )*
        }
        mod dynamodb_local_published {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::Api::start_published_at($crate::Engine::DynamoDbLocal, $at).await).await
            }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Api::start($crate::Engine::Embedded).await).await }
            )*
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Api::start($crate::Engine::DynamoDbLocal).await).await }
            )*
        }
    };
}
