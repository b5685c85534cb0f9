//! The store's contract, run against both engines: dynoxide (embedded here)
//! and AWS's DynamoDB Local (started by scripts/test.sh, which exports
//! DYNAMODB_LOCAL_ENDPOINT). Each test works in a fresh table.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use std::sync::atomic::{AtomicU32, Ordering};
use tier_engine::{CustomerState, Program, ProgramConfig};
use tier_store::*;

static TABLES: AtomicU32 = AtomicU32::new(0);

async fn dynoxide_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let db = dynoxide::Database::memory().unwrap();
    tokio::spawn(dynoxide::server::serve_on(listener, db));
    format!("http://{address}")
}

fn dynamodb_local_endpoint() -> String {
    std::env::var("DYNAMODB_LOCAL_ENDPOINT").expect(
        "DYNAMODB_LOCAL_ENDPOINT is not set: run scripts/test.sh, which starts DynamoDB Local",
    )
}

/// Nanoseconds since the epoch at the first table this run made.
fn run_started() -> u128 {
    static STARTED: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    *STARTED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    })
}

async fn store(endpoint: String) -> DynamoStore {
    // The process id and the start of the run: `scripts/test.sh` runs the
    // tests twice against one DynamoDB Local, which keeps every table, and
    // a process id alone repeats once the kernel's counter wraps.
    let table = format!(
        "conformance-{}-{}-{}",
        std::process::id(),
        run_started(),
        TABLES.fetch_add(1, Ordering::Relaxed)
    );
    let store = DynamoStore::local(&endpoint, table);
    store.ensure_table().await.unwrap();
    store
}

fn state() -> CustomerState {
    let config: ProgramConfig = serde_json::from_value(serde_json::json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Base", "earnRate": "0.1"}]
    }))
    .unwrap();
    let program = Program::validate(config).unwrap();
    CustomerState::new(&program, "2026-01-01T00:00:00Z".parse().unwrap())
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

fn commit<'a>(
    customer: &'a str,
    expected: Option<u64>,
    state: &'a CustomerState,
    events: Vec<EventWrite>,
) -> CustomerCommit<'a> {
    CustomerCommit {
        program: "p",
        customer,
        expected_version: expected,
        state: Some((state, None)),
        indexed_expiry: None,
        events,
        notices: Vec::new(),
    }
}

async fn config_versions_are_conditional(store: DynamoStore) {
    assert_eq!(
        store.put_config("p", None, "{\"v\":1}").await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.put_config("p", None, "{\"v\":1}").await.unwrap(),
        None,
        "second create loses"
    );
    assert_eq!(
        store.put_config("p", Some(1), "{\"v\":2}").await.unwrap(),
        Some(2)
    );
    assert_eq!(
        store.put_config("p", Some(1), "{\"v\":3}").await.unwrap(),
        None,
        "stale version loses"
    );
    let current = store.load_config("p").await.unwrap().unwrap();
    assert_eq!(
        (current.version, current.config_json.as_str()),
        (2, "{\"v\":2}")
    );
    assert_eq!(store.load_config("other").await.unwrap(), None);
}

async fn duplicates_come_back_from_the_cancellation_reason(store: DynamoStore) {
    let s = state();
    store
        .commit(commit(
            "c",
            None,
            &s,
            vec![EventWrite::Create(event("ORDER#1", "h1"))],
        ))
        .await
        .unwrap();
    let again = store
        .commit(commit(
            "c",
            Some(1),
            &s,
            vec![EventWrite::Create(event("ORDER#1", "h2"))],
        ))
        .await;
    match again {
        Err(CommitError::EventExists {
            index: 0,
            existing: Some(item),
        }) => {
            assert_eq!(item.payload_hash, "h1", "the stored item, not the new one");
        }
        other => panic!("expected EventExists with the stored item, got {other:?}"),
    }
    let stored = store.load_customer("p", "c").await.unwrap().unwrap();
    assert_eq!(
        stored.version, 1,
        "nothing of the failed commit was written"
    );
}

async fn version_conflicts_return_the_current_state(store: DynamoStore) {
    let mut s = state();
    store.commit(commit("c", None, &s, vec![])).await.unwrap();
    s.lifetime_points = 7.into();
    store
        .commit(commit("c", Some(1), &s, vec![]))
        .await
        .unwrap();
    let stale = store
        .commit(commit(
            "c",
            Some(1),
            &s,
            vec![EventWrite::Create(event("ORDER#9", "h"))],
        ))
        .await;
    match stale {
        Err(CommitError::Conflict {
            current: Some(current),
        }) => {
            assert_eq!(current.version, 2);
            assert_eq!(current.state.lifetime_points, 7.into());
        }
        other => panic!("expected a conflict carrying version 2, got {other:?}"),
    }
    assert_eq!(
        store.load_event("p", "c", "ORDER#9").await.unwrap(),
        None,
        "the order item of a failed transaction is not written"
    );
}

async fn replacing_an_event_checks_its_item_version(store: DynamoStore) {
    let s = state();
    store
        .commit(commit(
            "c",
            None,
            &s,
            vec![EventWrite::Create(event("ORDER#1", "h1"))],
        ))
        .await
        .unwrap();
    let mut changed = event("ORDER#1", "h1");
    changed.item_version = 2;
    changed.status = Some("cancelled".into());
    store
        .commit(commit(
            "c",
            Some(1),
            &s,
            vec![EventWrite::Replace {
                item: changed.clone(),
                expected: 1,
            }],
        ))
        .await
        .unwrap();
    let stale = store
        .commit(commit(
            "c",
            Some(2),
            &s,
            vec![EventWrite::Replace {
                item: changed,
                expected: 1,
            }],
        ))
        .await;
    assert!(
        matches!(stale, Err(CommitError::EventExists { index: 0, .. })),
        "{stale:?}"
    );
    let item = store
        .load_event("p", "c", "ORDER#1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (item.item_version, item.status.as_deref()),
        (2, Some("cancelled"))
    );
}

async fn the_sparse_index_pages_through_due_customers_once_each(store: DynamoStore) {
    let s = state();
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
    for i in 0..23u32 {
        let name = format!("due{i}");
        let mut c = commit(&name, None, &s, vec![]);
        c.state = Some((&s, Some(day(1 + i % 10))));
        store.commit(c).await.unwrap();
    }
    for i in 0..5 {
        let name = format!("later{i}");
        let mut c = commit(&name, None, &s, vec![]);
        c.state = Some((&s, Some(day(20))));
        store.commit(c).await.unwrap();
        let name = format!("never{i}");
        store.commit(commit(&name, None, &s, vec![])).await.unwrap();
    }
    let mut seen = Vec::new();
    for shard in 0..keys::EXPIRY_SHARDS {
        let mut start = None;
        loop {
            let (page, next) = store.due_customers(shard, day(15), 4, start).await.unwrap();
            assert!(page.len() <= 4);
            seen.extend(page.into_iter().map(|(_, c)| c));
            start = next;
            if start.is_none() {
                break;
            }
        }
    }
    seen.sort();
    let mut expected: Vec<String> = (0..23).map(|i| format!("due{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

/// A customer's redemption items, every one and nothing else (not their
/// orders or returns, not another customer's), with their instant and
/// reply.
async fn redemption_items_are_read_back_alone(store: DynamoStore) {
    let s = state();
    let mut events = vec![
        EventWrite::Create(event("ORDER#o1", "h")),
        EventWrite::Create(event("RETURN#r1", "h")),
    ];
    for i in 0..3 {
        let mut e = event(&format!("REDEMPTION#x{i}"), "h");
        e.placed_at = None;
        e.status = None;
        e.at = Some(format!("2026-03-0{}T00:00:00Z", i + 1));
        e.result = format!("{{\"pointsRedeemed\":\"{}\"}}", 10 * (i + 1));
        events.push(EventWrite::Create(e));
    }
    store.commit(commit("c", None, &s, events)).await.unwrap();
    let other = vec![EventWrite::Create(event("REDEMPTION#y", "h"))];
    store.commit(commit("d", None, &s, other)).await.unwrap();
    let mut read: Vec<(String, Option<String>, String)> = store
        .redemptions("p", "c")
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.sk, e.at, e.result))
        .collect();
    read.sort();
    let expected: Vec<(String, Option<String>, String)> = (0..3)
        .map(|i| {
            (
                format!("REDEMPTION#x{i}"),
                Some(format!("2026-03-0{}T00:00:00Z", i + 1)),
                format!("{{\"pointsRedeemed\":\"{}\"}}", 10 * (i + 1)),
            )
        })
        .collect();
    assert_eq!(read, expected);
    assert!(store.redemptions("p", "nobody").await.unwrap().is_empty());
}

async fn order_items_are_read_back_by_date(store: DynamoStore) {
    let s = state();
    let mut events = Vec::new();
    for (i, placed) in [
        "2026-01-05T00:00:00Z",
        "2026-03-01T00:00:00Z",
        "2026-06-30T23:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let mut e = event(&format!("ORDER#o{i}"), "h");
        e.placed_at = Some((*placed).into());
        e.record = Some(record(&format!("o{i}"), placed));
        events.push(EventWrite::Create(e));
    }
    events.push(EventWrite::Create(event("RETURN#r1", "h")));
    store.commit(commit("c", None, &s, events)).await.unwrap();
    let since = store
        .orders_since("p", "c", "2026-03-01T00:00:00Z")
        .await
        .unwrap();
    let mut read: Vec<_> = since
        .iter()
        .map(|e| (e.sk.clone(), e.record.clone().map(|r| r.order_id)))
        .collect();
    read.sort();
    assert_eq!(
        read,
        [
            ("ORDER#o1".into(), Some("o1".into())),
            ("ORDER#o2".into(), Some("o2".into()))
        ]
    );
    assert_eq!(
        since[0].record,
        Some(record(
            &since[0].sk[6..],
            &since[0].placed_at.clone().unwrap()
        ))
    );
    // Written in the form EVENT_FORMAT chooses (the suite runs both).
    let raw = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(keys::customer_pk("p", "c")))
        .key("sk", AttributeValue::S("ORDER#o1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let data = raw["data"].as_b().unwrap().as_ref();
    assert_eq!(
        data[0] == tier_store::EVENT_BINARY_V1,
        tier_store::ItemFormat::events() == tier_store::ItemFormat::Binary
    );
}

/// An order's record with every kind of field set.
fn record(id: &str, placed: &str) -> tier_engine::OrderRecord {
    let placed: chrono::DateTime<chrono::Utc> = placed.parse().unwrap();
    tier_engine::OrderRecord {
        order_id: id.into(),
        placed_at: placed,
        amount: "120.50".parse().unwrap(),
        gross_amount: "130".parse().unwrap(),
        line_items_total: "120.50".parse().unwrap(),
        categories: vec![("shoes".into(), "100.5".parse().unwrap())],
        counts_for_purchases: true,
        points_awarded: "241".parse().unwrap(),
        returned_amount: "20".parse().unwrap(),
        returns: vec![tier_engine::ReturnMark {
            at: placed + chrono::Duration::days(3),
            amount: "20".parse().unwrap(),
            arrival: Some(1),
            shortfall: Some("12.5".parse().unwrap()),
        }],
        points_reversed: "40".parse().unwrap(),
        tier_before: "Member".into(),
        tier_after: "Silver".into(),
        config_version: Some(2),
        after_redemption: false,
        arrival: Some(3),
    }
}

fn notice(seq: u64, customer: &str) -> NoticeItem {
    NoticeItem {
        seq,
        fields: vec![
            ("eventId", format!("{customer}-{seq}")),
            ("customerId", customer.to_owned()),
        ],
    }
}

async fn notices_are_written_with_the_state_once_and_read_in_written_order(store: DynamoStore) {
    let s = state();
    let mut first = commit("c1", None, &s, vec![]);
    first.notices = vec![notice(1, "c1"), notice(2, "c1")];
    store.commit(first).await.unwrap();
    // A writer that lost the race for the state writes none of its notices.
    let mut stale = commit("c1", None, &s, vec![]);
    stale.notices = vec![notice(3, "c1")];
    assert!(matches!(
        store.commit(stale).await,
        Err(CommitError::Conflict { .. })
    ));
    let mut other = commit("c2", None, &s, vec![]);
    other.notices = vec![notice(1, "c2")];
    store.commit(other).await.unwrap();
    // The same seq twice is refused even if the state check were passed.
    let mut again = commit("c2", Some(1), &s, vec![]);
    again.notices = vec![notice(1, "c2")];
    assert!(store.commit(again).await.is_err());
    // Another program's notices are not in this feed.
    let mut elsewhere = commit("c1", None, &s, vec![]);
    elsewhere.program = "q";
    elsewhere.notices = vec![notice(1, "c1")];
    store.commit(elsewhere).await.unwrap();
    let ids = |page: &[FeedNotice]| -> Vec<String> {
        page.iter().map(|n| n.fields["eventId"].clone()).collect()
    };
    let all = store.notices_after("p", None, 10).await.unwrap();
    assert_eq!(ids(&all), ["c1-1", "c1-2", "c2-1"]);
    assert_eq!(all[0].fields.len(), 2, "only what the notice tells");
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.notices_after("p", after.as_deref(), 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.cursor.clone());
        paged.extend(ids(&page));
    }
    assert_eq!(paged, ids(&all));
    assert_eq!(
        ids(&store.notices_after("q", None, 10).await.unwrap()),
        ["c1-1"]
    );
}

/// A notice item as stored (None: not there).
async fn notice_item(
    store: &DynamoStore,
    customer: &str,
    seq: u64,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    store
        .client()
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(keys::customer_pk("p", customer)))
        .key("sk", AttributeValue::S(keys::notice_sk(seq)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// A notice item's TTL (`expiresAt`, epoch seconds) as stored.
async fn stored_ttl(store: &DynamoStore, customer: &str, seq: u64) -> Option<i64> {
    let item = notice_item(store, customer, seq)
        .await
        .expect("the notice item is there");
    item.get(NOTICE_TTL_ATTRIBUTE)
        .map(|v| v.as_n().expect("a number").parse().expect("whole seconds"))
}

/// Sets (Some) or removes (None) a stored notice's TTL, as DynamoDB would
/// see an item it has not deleted yet, or one written before notices had
/// a TTL.
async fn set_ttl(store: &DynamoStore, customer: &str, seq: u64, ttl: Option<i64>) {
    let update = store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(keys::customer_pk("p", customer)))
        .key("sk", AttributeValue::S(keys::notice_sk(seq)))
        .expression_attribute_names("#ttl", NOTICE_TTL_ATTRIBUTE);
    let update = match ttl {
        Some(at) => update
            .update_expression("SET #ttl = :at")
            .expression_attribute_values(":at", AttributeValue::N(at.to_string())),
        None => update.update_expression("REMOVE #ttl"),
    };
    update.send().await.unwrap();
}

/// `kept`: the engine never deletes expired items (dynoxide's server runs
/// no TTL sweep), so the feed's own check is what hides them; DynamoDB
/// Local deletes them now and then, as DynamoDB does, and the feed must
/// hide them whether or not it has yet.
async fn notices_expire_and_the_feed_serves_none_whose_ttl_has_passed(
    store: DynamoStore,
    kept: bool,
) {
    // The table has TTL on the notices' attribute, as the template sets it.
    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some(NOTICE_TTL_ATTRIBUTE));
    assert_eq!(
        ttl.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
    let s = state();
    let before = chrono::Utc::now().timestamp();
    let mut first = commit("c1", None, &s, vec![]);
    first.notices = vec![notice(1, "c1"), notice(2, "c1")];
    store.commit(first).await.unwrap();
    let after = chrono::Utc::now().timestamp();
    // Written with the default retention of 90 days, in epoch seconds.
    let days90 = 90 * 86_400;
    for seq in [1, 2] {
        let at = stored_ttl(&store, "c1", seq).await.expect("a TTL");
        assert!(
            (before + days90..=after + days90).contains(&at),
            "{at} not 90 days after {before}..{after}"
        );
    }
    // Another store with a retention of one second writes c2's notice;
    // c1's second notice has its TTL pass (DynamoDB deletes up to days
    // later, so the item stays); c3's is written with the default.
    let brief = store
        .clone()
        .with_notice_retention(std::time::Duration::from_secs(1));
    let mut second = commit("c2", None, &s, vec![]);
    second.notices = vec![notice(1, "c2")];
    brief.commit(second).await.unwrap();
    set_ttl(&store, "c1", 2, Some(chrono::Utc::now().timestamp() - 1)).await;
    let mut third = commit("c3", None, &s, vec![]);
    third.notices = vec![notice(1, "c3")];
    store.commit(third).await.unwrap();
    // A notice written before notices had a TTL is kept and served.
    set_ttl(&store, "c1", 1, None).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    if kept {
        let now = chrono::Utc::now().timestamp();
        assert!(stored_ttl(&store, "c2", 1).await.unwrap() <= now);
        assert!(stored_ttl(&store, "c1", 2).await.unwrap() <= now);
    }
    let ids = |page: &[FeedNotice]| -> Vec<String> {
        page.iter().map(|n| n.fields["eventId"].clone()).collect()
    };
    // The feed order is c1-1, c1-2, c2-1, c3-1: the two expired ones are
    // not served, and a page goes on past them to fill its limit.
    let all = store.notices_after("p", None, 10).await.unwrap();
    assert_eq!(ids(&all), ["c1-1", "c3-1"]);
    assert!(all
        .iter()
        .all(|n| !n.fields.contains_key(NOTICE_TTL_ATTRIBUTE)));
    assert_eq!(
        ids(&store.notices_after("p", None, 2).await.unwrap()),
        ["c1-1", "c3-1"]
    );
    // A reader whose next page starts at expired notices is not held up
    // by them: its page of one is the next live notice.
    let first_page = store.notices_after("p", None, 1).await.unwrap();
    assert_eq!(ids(&first_page), ["c1-1"]);
    let next = store
        .notices_after("p", Some(&first_page[0].cursor), 1)
        .await
        .unwrap();
    assert_eq!(ids(&next), ["c3-1"]);
    assert!(store
        .notices_after("p", Some(&next[0].cursor), 1)
        .await
        .unwrap()
        .is_empty());
    // With a retention of one second, everything here was written longer
    // ago than that: the feed starts after it, whatever the items say.
    assert!(brief.notices_after("p", None, 10).await.unwrap().is_empty());
}

/// A simulation's parts are stored only over the version they were read
/// at (a step run twice stores once), read back whole and by segment; a
/// job is taken over only from the heartbeat the taker read.
async fn simulation_parts_are_stored_over_the_version_read(store: DynamoStore) {
    let id = "0123456789abcdef0123456789abcdef";
    let job = SimulationRecord {
        id: id.into(),
        status: "running".into(),
        request: "{}".into(),
        owner: "a".into(),
        heartbeat_ms: 1000,
        created_at: "2026-11-30T00:00:00.000Z".into(),
        ..SimulationRecord::default()
    };
    assert!(store.create_simulation("p", &job, None).await.unwrap());
    let mut part = SimulationPart {
        segment: 1,
        version: 1,
        cursor: Some(history_cursor("p", "c#1", "STATE")),
        report: Some("{\"customers\":3}".into()),
        seen: 3,
        scanned: 40,
        requests: 2,
        read_units: 1.5,
        write_units: 0.25,
        ..SimulationPart::default()
    };
    assert!(store.save_simulation_part("p", id, &part).await.unwrap());
    assert!(
        !store.save_simulation_part("p", id, &part).await.unwrap(),
        "a second version 1"
    );
    part.version = 2;
    part.seen = 5;
    part.done = true;
    part.cursor = None;
    assert!(store.save_simulation_part("p", id, &part).await.unwrap());
    assert!(!store.save_simulation_part("p", id, &part).await.unwrap());
    let first = SimulationPart {
        segment: 0,
        version: 1,
        ..SimulationPart::default()
    };
    assert!(store.save_simulation_part("p", id, &first).await.unwrap());
    // Another job's part is not this one's.
    let other = SimulationPart {
        segment: 0,
        version: 1,
        ..SimulationPart::default()
    };
    assert!(store
        .save_simulation_part("p", "0123456789abcdef0123456789abcdee", &other)
        .await
        .unwrap());
    let parts = store.load_simulation_parts("p", id).await.unwrap();
    assert_eq!(parts, vec![first, part]);
    // The job item carries its ids for the stream's consumer; a part none.
    let item = |sk: String| {
        let store = store.clone();
        async move {
            store
                .client()
                .get_item()
                .table_name(store.table())
                .key("pk", AttributeValue::S("PROGRAM#p".into()))
                .key("sk", AttributeValue::S(sk))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let stored = item(simulation_sk(id)).await;
    assert_eq!(stored["simulationId"], AttributeValue::S(id.into()));
    assert_eq!(stored["programId"], AttributeValue::S("p".into()));
    assert!(!item(simulation_part_sk(id, 1))
        .await
        .contains_key("simulationId"));
    // Taken over only from the heartbeat read.
    assert!(!store
        .claim_simulation("p", id, 999, "b", 2000)
        .await
        .unwrap());
    assert!(store
        .claim_simulation("p", id, 1000, "b", 2000)
        .await
        .unwrap());
    assert!(!store
        .claim_simulation("p", id, 1000, "c", 3000)
        .await
        .unwrap());
    let claimed = store.load_simulation("p", id).await.unwrap().unwrap();
    assert_eq!((claimed.owner.as_str(), claimed.heartbeat_ms), ("b", 2000));
}

/// A job is taken over only from the heartbeat its taker read, and only
/// while it runs: of two takers, one wins; a finished job stays finished.
async fn a_stale_job_is_claimed_once(store: DynamoStore) {
    let job = |status: &str| JobRecord {
        id: "j1".into(),
        kind: "reevaluation".into(),
        status: status.into(),
        request: "{}".into(),
        owner: "a".into(),
        heartbeat_ms: 1000,
        cursors: "{}".into(),
        progress: "{}".into(),
        created_at: "2026-12-01T00:00:00Z".into(),
        finished_at: None,
    };
    assert!(store.create_job("p", &job("running")).await.unwrap());
    assert!(!store.claim_job("p", "j1", 999, "b", 2000).await.unwrap());
    assert!(store.claim_job("p", "j1", 1000, "b", 2000).await.unwrap());
    assert!(!store.claim_job("p", "j1", 1000, "c", 3000).await.unwrap());
    let claimed = store.load_job("p", "j1").await.unwrap().unwrap();
    assert_eq!((claimed.owner.as_str(), claimed.heartbeat_ms), ("b", 2000));

    assert!(store.create_job("q", &job("done")).await.unwrap());
    assert!(!store.claim_job("q", "j1", 1000, "b", 2000).await.unwrap());
    let finished = store.load_job("q", "j1").await.unwrap().unwrap();
    assert_eq!(
        (finished.owner.as_str(), finished.status.as_str()),
        ("a", "done")
    );
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod dynoxide_engine {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::store(super::dynoxide_endpoint().await).await).await }
            )*
        }
        mod dynamodb_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::store(super::dynamodb_local_endpoint()).await).await }
            )*
        }
    };
}

on_both_engines!(
    config_versions_are_conditional,
    duplicates_come_back_from_the_cancellation_reason,
    version_conflicts_return_the_current_state,
    replacing_an_event_checks_its_item_version,
    the_sparse_index_pages_through_due_customers_once_each,
    order_items_are_read_back_by_date,
    redemption_items_are_read_back_alone,
    notices_are_written_with_the_state_once_and_read_in_written_order,
    simulation_parts_are_stored_over_the_version_read,
    a_stale_job_is_claimed_once,
);

/// The TTL test on both engines, told whether the engine keeps expired
/// items.
mod notice_ttl {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynoxide_engine() {
        let store = super::store(super::dynoxide_endpoint().await).await;
        super::notices_expire_and_the_feed_serves_none_whose_ttl_has_passed(store, true).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamodb_local() {
        let store = super::store(super::dynamodb_local_endpoint()).await;
        super::notices_expire_and_the_feed_serves_none_whose_ttl_has_passed(store, false).await
    }
}
