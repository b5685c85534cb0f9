//! Transient failures between the service and the engine (throttling,
//! timeouts, dropped connections, replies lost after the write was applied)
//! on both engines: clients that retry what they are told to retry (503)
//! end with every order counted exactly once, and nothing else is ever
//! answered 5xx.

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use e2e::faults::FaultyClient;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tier_store::DynamoStore;

const CLIENTS: usize = 8;
const ORDERS_PER_CLIENT: usize = 20;
const CUSTOMERS: usize = 4;

async fn every_order_counts_once_through_injected_faults(endpoint: String, label: &str) {
    let table = e2e::unique_table(&format!("faults-{label}"));
    let clean = DynamoStore::local(&endpoint, table.clone());
    clean.ensure_table().await.unwrap();
    let faulty = FaultyClient::new(
        aws_smithy_http_client::Builder::new().build_http(),
        5,
        0x5eed,
    );
    let config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "local"))
        .endpoint_url(&endpoint)
        .timeout_config(DynamoStore::timeouts())
        // Only the service's own policy retries here, so every fault
        // reaches it.
        .retry_config(RetryConfig::disabled())
        .http_client(faulty.clone())
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    // The table exists, so the start-up check is one DescribeTable; a fault
    // there is a start-up error, so try until one start succeeds.
    let mut running = None;
    for _ in 0..20 {
        if let Ok(r) =
            local_api::serve(tier_service::Service::new(store.clone()), 0, &endpoint).await
        {
            running = Some(r);
            break;
        }
    }
    let running = running.expect("the faulty API starts within 20 tries");
    let base = format!("http://{}", running.address);
    let http = reqwest::Client::new();

    // Sends until answered with anything but 503 (what clients are told to
    // retry), and returns that answer.
    let send = |method: reqwest::Method, path: String, body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            for _ in 0..200 {
                let r = http
                    .request(method.clone(), &url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap();
                if status != 503 {
                    return (status, body);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("still 503 after 200 tries: {url}");
        }
    };

    let program = json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Base", "earnRate": "0.1"},
                  {"name": "Gold", "earnRate": "0.2", "upgrade": {"criteria": [
                      {"id": "A", "kind": "lifetimePurchases", "min": "1000000"}],
                      "condition": "all", "upgradeType": "lazy"}}]});
    let (status, body) = send(reqwest::Method::PUT, "/programs/f/config".into(), program).await;
    assert_eq!(status, 200, "{body}");

    let workers = (0..CLIENTS).map(|client| {
        let send = &send;
        async move {
            for i in 0..ORDERS_PER_CLIENT {
                let customer = format!("c{}", (client + i) % CUSTOMERS);
                let order = json!({"orderId": format!("o{client}-{i}"), "customerId": customer,
                    "placedAt": "2026-02-01T00:00:00Z", "status": "completed",
                    "amount": format!("{}", 10 + client)});
                let (status, body) =
                    send(reqwest::Method::POST, "/programs/f/orders".into(), order).await;
                assert_eq!(status, 200, "order o{client}-{i}: {body}");
            }
        }
    });
    futures::future::join_all(workers).await;

    let mut total = 0u64;
    for c in 0..CUSTOMERS {
        let expected: u64 = (0..CLIENTS)
            .flat_map(|client| (0..ORDERS_PER_CLIENT).map(move |i| (client, i)))
            .filter(|(client, i)| (client + i) % CUSTOMERS == c)
            .map(|(client, _)| 10 + client as u64)
            .sum();
        total += expected;
        let (status, body) = send(
            reqwest::Method::GET,
            format!("/programs/f/customers/c{c}?asOf=2026-02-02T00:00:00Z"),
            json!(null),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["lifetimePurchases"],
            expected.to_string(),
            "customer c{c}: every order counted exactly once"
        );
        let points = rust_decimal::Decimal::from(expected) / rust_decimal::Decimal::TEN;
        assert_eq!(body["currentPoints"], points.normalize().to_string());
    }
    assert_eq!(
        total,
        (0..CLIENTS as u64)
            .map(|c| (10 + c) * ORDERS_PER_CLIENT as u64)
            .sum::<u64>()
    );
    let counts = &faulty.counts;
    for (name, n) in [
        ("throttled", counts.throttled.load(Ordering::Relaxed)),
        ("timed out", counts.timed_out.load(Ordering::Relaxed)),
        ("dropped", counts.dropped.load(Ordering::Relaxed)),
        ("lost replies", counts.lost_replies.load(Ordering::Relaxed)),
    ] {
        assert!(n > 0, "the run injected no `{name}` fault: {counts:?}");
    }
    running.stop().await.unwrap();
}

/// Orders of many customers at once, with a config change among them,
/// through a store that cancels any transaction sharing an item with one
/// in flight (as DynamoDB does): no transaction touches an item of another
/// customer or of the program, so none is ever cancelled.
async fn no_item_is_shared_by_two_customers_transactions(endpoint: String, label: &str) {
    let table = e2e::unique_table(&format!("shared-{label}"));
    let clean = DynamoStore::local(&endpoint, table.clone());
    clean.ensure_table().await.unwrap();
    let recording = FaultyClient::new(aws_smithy_http_client::Builder::new().build_http(), 0, 0);
    let config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "local"))
        .endpoint_url(&endpoint)
        .timeout_config(DynamoStore::timeouts())
        .http_client(recording.clone())
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    let running = local_api::serve(tier_service::Service::new(store), 0, &endpoint)
        .await
        .unwrap();
    let base = format!("http://{}", running.address);
    let http = reqwest::Client::new();
    let program = |min: &str| {
        json!({"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "tiers": [{"name": "Base", "earnRate": "0.1"},
                      {"name": "Gold", "earnRate": "0.2", "upgrade": {"criteria": [
                          {"id": "A", "kind": "lifetimePurchases", "min": min}],
                          "condition": "all", "upgradeType": "lazy"}}]})
    };
    let put = |body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{base}/programs/s/config");
        async move {
            http.put(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(put(program("1000")).await, 200);
    let workers = (0..CLIENTS).map(|client| {
        let http = http.clone();
        let base = base.clone();
        async move {
            for i in 0..ORDERS_PER_CLIENT {
                let order = json!({"orderId": format!("o{i}"), "customerId": format!("c{client}-{}", i % 5),
                    "placedAt": "2026-02-01T00:00:00Z", "status": "completed", "amount": "300"});
                let r = http
                    .post(format!("{base}/programs/s/orders"))
                    .json(&order)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            }
        }
    });
    let change = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(put(program("2000")).await, 200);
    };
    futures::join!(futures::future::join_all(workers), change);
    let log = &recording.transactions;
    let sent = log.sent.lock().unwrap().clone();
    let customers: Vec<&Vec<(String, String)>> = sent
        .iter()
        .filter(|items| items.iter().any(|(pk, _)| pk.starts_with("CUSTOMER#")))
        .collect();
    assert_eq!(
        customers.len(),
        CLIENTS * ORDERS_PER_CLIENT,
        "one transaction an order"
    );
    let mut owner: std::collections::HashMap<&(String, String), &str> = Default::default();
    for items in &customers {
        let pk = items[0].0.as_str();
        for item in items.iter() {
            assert_eq!(
                item.0, pk,
                "a transaction touches only its customer's items: {items:?}"
            );
            let first = owner.entry(item).or_insert(pk);
            assert_eq!(*first, pk, "{item:?} is in two customers' transactions");
        }
    }
    assert_eq!(
        log.conflicts.load(Ordering::Relaxed),
        0,
        "no transaction was cancelled"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_shared_item_on_the_embedded_engine() {
    no_item_is_shared_by_two_customers_transactions(e2e::embedded_endpoint().await, "embedded")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_shared_item_on_dynamodb_local() {
    no_item_is_shared_by_two_customers_transactions(
        e2e::dynamodb_local_endpoint(),
        "dynamodb-local",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_the_embedded_engine() {
    every_order_counts_once_through_injected_faults(e2e::embedded_endpoint().await, "embedded")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_on_dynamodb_local() {
    every_order_counts_once_through_injected_faults(
        e2e::dynamodb_local_endpoint(),
        "dynamodb-local",
    )
    .await;
}
