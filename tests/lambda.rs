//! The function binaries run as Lambdas: each `bootstrap` is started against
//! a local Lambda Runtime API and invoked with real API Gateway proxy events
//! and a real EventBridge scheduled event, storing to DynamoDB Local. This is
//! the wiring the local API bypasses (lambda_http/lambda_runtime, event
//! mapping, aws-config from the environment).
//!
//! scripts/test.sh builds the bootstraps with `cargo lambda build` first
//! (for this machine's architecture: the deployed arm64 ones cannot run here).

use e2e::runtime_api::RuntimeApi;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn binary(name: &str) -> PathBuf {
    // tests run from <target>/debug/deps; the binaries are in <target>/debug.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` (scripts/test.sh does)",
        path.display()
    );
    path
}

struct Function {
    child: Child,
    runtime: RuntimeApi,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(name: &str, table: &str) -> Function {
    let endpoint = e2e::dynamodb_local_endpoint();
    let running = RuntimeApi::start().await;
    let child = Command::new(binary(name))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &running.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("TABLE_NAME", table)
        .env("DYNAMODB_ENDPOINT", endpoint)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Function {
        child,
        runtime: running.api,
    }
}

fn proxy_event(
    method: &str,
    resource: &str,
    path: &str,
    query: Option<Value>,
    body: Option<Value>,
) -> Value {
    let mut event: Value = serde_json::from_str(include_str!("events/apigw-proxy.json")).unwrap();
    event["httpMethod"] = json!(method);
    event["resource"] = json!(resource);
    event["path"] = json!(path);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["resourcePath"] = json!(resource);
    event["requestContext"]["path"] = json!(format!("/prod{path}"));
    if let Some(q) = query {
        event["queryStringParameters"] = q.clone();
        event["multiValueQueryStringParameters"] = Value::Object(
            q.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), json!([v])))
                .collect(),
        );
    }
    event["body"] = body.map_or(Value::Null, |b| json!(b.to_string()));
    event
}

/// (status, parsed body) of an API Gateway proxy response.
fn reply(response: Result<Value, Value>) -> (u64, Value) {
    let response = response.unwrap_or_else(|e| panic!("the function reported an error: {e}"));
    let body = response["body"].as_str().unwrap_or("null");
    (
        response["statusCode"].as_u64().unwrap(),
        serde_json::from_str(body).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_answers_real_events_as_a_lambda() {
    let table = e2e::unique_table("lambda");
    let endpoint = e2e::dynamodb_local_endpoint();
    tier_store::DynamoStore::local(&endpoint, table.clone())
        .ensure_table()
        .await
        .unwrap();

    let config = start("update-config", &table).await;
    let program = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z", "pointsExpiry": {"months": 12},
        "tiers": [{"name": "Silver", "earnRate": "0.10"},
                  {"name": "Gold", "earnRate": "0.20", "upgrade": {
                      "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 10000}],
                      "condition": "all", "upgradeType": "dynamic"}}]});
    let (status, body) = reply(
        config
            .runtime
            .invoke(proxy_event(
                "PUT",
                "/programs/{programId}/config",
                "/programs/lp/config",
                None,
                Some(program),
            ))
            .await,
    );
    assert_eq!((status, body["version"].as_u64()), (200, Some(1)), "{body}");

    let orders = start("ingest-order", &table).await;
    let order = json!({"orderId": "o1", "customerId": "c1", "placedAt": "2026-01-10T10:00:00Z", "status": "completed", "amount": "12000", "currency": "USD"});
    let (status, body) = reply(
        orders
            .runtime
            .invoke(proxy_event(
                "POST",
                "/programs/{programId}/orders",
                "/programs/lp/orders",
                None,
                Some(order),
            ))
            .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["pointsAwarded"], "1400",
        "dynamic: 10000 at 10% + 2000 at 20%"
    );
    assert_eq!(body["tierAfter"], "Gold");
    let (status, body) = reply(
        orders
            .runtime
            .invoke(proxy_event(
                "POST",
                "/programs/{programId}/orders",
                "/programs/lp/orders",
                None,
                None,
            ))
            .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    // The function runs under the stack's default lead: an order dated
    // years ahead would run the customer's clock ahead, and is refused.
    let ahead = json!({"orderId": "o9", "customerId": "c1", "placedAt": "2199-01-01T00:00:00Z", "status": "completed", "amount": "1", "currency": "USD"});
    let (status, body) = reply(
        orders
            .runtime
            .invoke(proxy_event(
                "POST",
                "/programs/{programId}/orders",
                "/programs/lp/orders",
                None,
                Some(ahead),
            ))
            .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("event_in_future")),
        "{body}"
    );
    let (status, _) = reply(
        orders
            .runtime
            .invoke(proxy_event(
                "GET",
                "/programs/{programId}/customers/{customerId}",
                "/programs/lp/customers/c1",
                None,
                None,
            ))
            .await,
    );
    assert_eq!(status, 404, "ingest-order serves only its own routes");

    let returns = start("reverse-return", &table).await;
    let ret = json!({"returnId": "r1", "orderId": "o1", "customerId": "c1", "returnedAt": "2026-01-11T00:00:00Z", "amount": "3000"});
    let (status, body) = reply(
        returns
            .runtime
            .invoke(proxy_event(
                "POST",
                "/programs/{programId}/returns",
                "/programs/lp/returns",
                None,
                Some(ret),
            ))
            .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["tierAfter"].as_str(), body["pointsReversed"].as_str()),
        (Some("Silver"), Some("350"))
    );

    let status_fn = start("query-status", &table).await;
    let (status, body) = reply(
        status_fn
            .runtime
            .invoke(proxy_event(
                "GET",
                "/programs/{programId}/customers/{customerId}",
                "/programs/lp/customers/c1",
                Some(json!({"asOf": "2026-01-12T00:00:00Z"})),
                None,
            ))
            .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["lifetimePurchases"].as_str(),
            body["currentPoints"].as_str()
        ),
        (Some("9000"), Some("1050"))
    );
    assert_eq!(body["progress"][0]["criteria"][0]["remaining"], "1000");

    let expiry = start("expire-windows", &table).await;
    let scheduled: Value =
        serde_json::from_str(include_str!("events/eventbridge-scheduled.json")).unwrap();
    let report = expiry.runtime.invoke(scheduled.clone()).await.unwrap();
    assert_eq!(
        (
            report["customersDue"].as_u64(),
            report["pointsExpired"].as_str()
        ),
        (Some(1), Some("1050")),
        "{report}"
    );
    let again = expiry.runtime.invoke(scheduled).await.unwrap();
    assert_eq!(
        again["customersChanged"], 0,
        "the same time twice changes nothing"
    );
    // A step that can never succeed is refused with an errorType the state
    // machines end the run on (no retries, no restarts).
    let unknown =
        json!({"reevaluate": {"programId": "ako", "jobId": "0123456789abcdef0123456789abcdef"}});
    let refused = expiry.runtime.invoke(unknown).await.unwrap_err();
    assert_eq!(
        refused["errorType"],
        tier_service::lambda::REFUSED,
        "{refused}"
    );
    assert!(
        refused["errorMessage"].as_str().unwrap().contains("no job"),
        "{refused}"
    );

    // A what-if simulation on AWS: the API function only stores the job
    // (a Lambda freezes once it answers, so nothing runs it there); the
    // worker, stepped as the state machine steps it, works it to the end.
    let draft = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z", "pointsExpiry": {"months": 12},
        "tiers": [{"name": "Silver", "earnRate": "0.10"},
                  {"name": "Gold", "earnRate": "0.20", "upgrade": {
                      "criteria": [{"id": "A", "kind": "lifetimePurchases", "min": 5000}],
                      "condition": "all", "upgradeType": "dynamic"}}]});
    let (status, accepted) = reply(
        config
            .runtime
            .invoke(proxy_event(
                "POST",
                "/programs/{programId}/simulations",
                "/programs/lp/simulations",
                None,
                Some(json!({"config": draft, "to": "2026-06-01T00:00:00Z"})),
            ))
            .await,
    );
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["simulationId"].as_str().unwrap().to_owned();
    let show = |id: String| {
        proxy_event(
            "GET",
            "/programs/{programId}/simulations/{simulationId}",
            &format!("/programs/lp/simulations/{id}"),
            None,
            None,
        )
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, shown) = reply(config.runtime.invoke(show(id.clone())).await);
    assert_eq!(
        shown["status"], "queued",
        "no run in the API function: {shown}"
    );
    let mut step = json!({"simulate": {"programId": "lp", "simulationId": id}});
    for _ in 0..20 {
        let answer = expiry.runtime.invoke(step.clone()).await.unwrap();
        assert_eq!(answer["simulationId"], json!(id), "{answer}");
        if answer["more"] == false {
            break;
        }
        step = json!({"simulate": answer});
    }
    let (_, done) = reply(config.runtime.invoke(show(id.clone())).await);
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        (
            &done["report"]["customers"],
            &done["report"]["draft"]["tiers"]
        ),
        (&json!(1), &json!({"Gold": 1})),
        "{done}"
    );
    let unknown = json!({"simulate": {"programId": "lp",
        "simulationId": "0123456789abcdef0123456789abcdef"}});
    let refused = expiry.runtime.invoke(unknown).await.unwrap_err();
    assert_eq!(
        refused["errorType"],
        tier_service::lambda::REFUSED,
        "an unknown simulation ends the run at once: {refused}"
    );
}
