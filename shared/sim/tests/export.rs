//! Export items whose data is not what it should be are refused, never a
//! panic or a hang; good ones decode the same however many come through
//! one thread's inflater.

use base64::Engine as _;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::Write;
use tier_sim_core::export::{parse_line, CustomerItem, ExportItem};

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn line(data: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    format!(
        r#"{{"Item":{{"pk":{{"S":"CUSTOMER#3:ako#c1"}},"sk":{{"S":"ORDER#o1"}},"status":{{"S":"completed"}},"data":{{"B":"{b64}"}}}}}}"#
    )
}

const PAIR: &str = r#"["{\"applied\":true}","{\"orderId\":\"o1\",\"placedAt\":\"2026-02-23T05:30:00Z\",\"amount\":\"82.91\",\"grossAmount\":\"82.91\",\"lineItemsTotal\":\"0\",\"countsForPurchases\":true,\"pointsAwarded\":\"0.83\",\"returnedAmount\":\"0\",\"pointsReversed\":\"0\",\"tierBefore\":\"Member\",\"tierAfter\":\"Member\",\"configVersion\":1}"]"#;

#[test]
fn good_items_decode_again_and_again() {
    let good = line(&deflate(PAIR.as_bytes()));
    // A large one (more than one output buffer) between small ones.
    let padding = "x".repeat(200_000);
    let big = format!(r#"["{padding}",{}"#, &PAIR[PAIR.find(',').unwrap() + 1..]);
    let big = line(&deflate(big.as_bytes()));
    for l in [&good, &big, &good, &big, &good] {
        match parse_line(l, Some("ako")).expect("decodes") {
            ExportItem::Customer { item, .. } => match *item {
                CustomerItem::Order { record, .. } => {
                    assert_eq!(record.expect("a record").order_id, "o1")
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn broken_data_is_refused() {
    let whole = deflate(PAIR.as_bytes());
    for data in [
        whole[..whole.len() / 2].to_vec(),
        Vec::new(),
        b"not deflate at all, not at all".to_vec(),
        deflate(b"[1, 2"),
    ] {
        assert!(parse_line(&line(&data), Some("ako")).is_err(), "{data:?}");
        // And the next good item still decodes.
        assert!(parse_line(&line(&whole), Some("ako")).is_ok());
    }
    let not_base64 = line(b"").replace(r#""B":"""#, r#""B":"***""#);
    assert!(parse_line(&not_base64, Some("ako")).is_err());
}

#[test]
fn config_items_keep_their_retention_since() {
    let since = r#"{\"Silver\":\"2026-06-01T00:00:00Z\"}"#;
    for (sk, current) in [("CONFIG", true), ("CONFIG#000000000002", false)] {
        let with = format!(
            r#"{{"Item":{{"pk":{{"S":"PROGRAM#ako"}},"sk":{{"S":"{sk}"}},"version":{{"N":"2"}},"config":{{"S":"{{}}"}},"retentionSince":{{"S":"{since}"}}}}}}"#
        );
        let without = with.replace(&format!(r#","retentionSince":{{"S":"{since}"}}"#), "");
        assert!(!without.contains("retentionSince"));
        for (line, want) in [
            (&with, Some(r#"{"Silver":"2026-06-01T00:00:00Z"}"#)),
            (&without, None),
        ] {
            assert_eq!(
                parse_line(line, Some("ako")).unwrap(),
                ExportItem::Config {
                    program: "ako".into(),
                    version: 2,
                    config_json: "{}".into(),
                    retention_since: want.map(str::to_owned),
                    current,
                },
                "{line}"
            );
        }
    }
}

#[test]
fn retention_dates_read_as_the_service_reads_them() {
    use tier_sim_core::config::{kept_retention_since, retention_since};
    let june: chrono::DateTime<chrono::Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
    assert_eq!(
        retention_since(Some(r#"{"Silver":"2026-06-01T00:00:00Z"}"#)),
        vec![("Silver".to_owned(), june)]
    );
    assert_eq!(retention_since(Some("{}")), vec![]);
    assert_eq!(retention_since(Some("[1]")), vec![], "does not read: none");
    assert_eq!(retention_since(None), vec![]);

    let config = |min: &str| -> tier_engine::ProgramConfig {
        serde_json::from_value(serde_json::json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "trackers": [{"id": "t", "measure": "billAmount", "period": {"months": 12}}],
            "tiers": [{"name": "Member", "earnRate": "0.01"},
                {"name": "Silver", "earnRate": "0.02",
                 "upgrade": {"criteria": [{"id": "S", "kind": "lifetimePurchases", "min": "3000"}],
                    "condition": "all", "upgradeType": "lazy"},
                 "retention": {"validity": {"months": 12, "from": "tierStart"},
                    "criteria": [{"id": "K", "kind": "tracker", "tracker": "t", "min": min}],
                    "condition": "all", "onFail": "oneDown"}}]
        }))
        .unwrap()
    };
    let since = vec![("Silver".to_owned(), june), ("Gone".to_owned(), june)];
    assert_eq!(
        kept_retention_since(&config("2000"), &config("2000"), &since),
        vec![("Silver".to_owned(), june)],
        "the same rule keeps its date"
    );
    assert_eq!(
        kept_retention_since(&config("1000"), &config("2000"), &since),
        vec![],
        "a changed rule has none"
    );
}

#[test]
fn a_draft_is_dated_as_publishing_it_would_date_it() {
    use tier_sim_core::config::{published_program, removed_tiers};
    let at = |t: &str| -> chrono::DateTime<chrono::Utc> { t.parse().unwrap() };
    let program = |min: &str, gold: bool| -> tier_engine::Program {
        let mut config = serde_json::json!({
            "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
            "trackers": [{"id": "t", "measure": "billAmount", "period": {"months": 12}}],
            "tiers": [{"name": "Member", "earnRate": "0.01"},
                {"name": "Silver", "earnRate": "0.02",
                 "upgrade": {"criteria": [{"id": "S", "kind": "lifetimePurchases", "min": "3000"}],
                    "condition": "all", "upgradeType": "lazy"},
                 "retention": {"validity": {"months": 12, "from": "tierStart"},
                    "criteria": [{"id": "K", "kind": "tracker", "tracker": "t", "min": min}],
                    "condition": "all", "onFail": "oneDown"}}]
        });
        if gold {
            config["tiers"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!(
                {"name": "Gold", "earnRate": "0.03",
                 "upgrade": {"criteria": [{"id": "G", "kind": "lifetimePurchases", "min": "9000"}],
                    "condition": "all", "upgradeType": "lazy"},
                 "retention": {"validity": {"months": 12, "from": "tierStart"},
                    "criteria": [{"id": "K", "kind": "tracker", "tracker": "t", "min": "5000"}],
                    "condition": "all", "onFail": "oneDown"}}));
        }
        tier_engine::Program::validate(serde_json::from_value(config).unwrap()).unwrap()
    };
    // The engine keeps a day: read back as its start.
    let current = program("2000", false)
        .with_retention_since(&[("Silver".to_owned(), at("2026-06-01T15:30:00Z"))]);
    assert_eq!(
        current.retention_dates(),
        vec![("Silver".to_owned(), at("2026-06-01T00:00:00Z"))]
    );
    assert_eq!(program("2000", false).retention_dates(), vec![]);

    let published = at("2026-11-30T12:00:00Z");
    let day = at("2026-11-30T00:00:00Z");
    // The same rule keeps the current day; a new tier's rule is published.
    let draft = published_program(program("2000", true), &current, published);
    assert_eq!(
        draft.retention_dates(),
        vec![
            ("Silver".to_owned(), at("2026-06-01T00:00:00Z")),
            ("Gold".to_owned(), day)
        ]
    );
    // A changed rule is published.
    let draft = published_program(program("1000", false), &current, published);
    assert_eq!(draft.retention_dates(), vec![("Silver".to_owned(), day)]);
    // The same rule without a date keeps none, as `PUT config` keeps it.
    let draft = published_program(program("2000", false), &program("2000", false), published);
    assert_eq!(draft.retention_dates(), vec![]);

    // Dropping a tier: PUT config's problem.
    let problems = removed_tiers(program("2000", true).config(), 4, &current);
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (problems[0].path.as_str(), problems[0].code),
        ("/tiers", "tier_removed")
    );
    assert_eq!(
        problems[0].message,
        "tier `Gold` is in version 4: customers may hold it, so it must stay"
    );
    assert!(removed_tiers(current.config(), 4, &program("1000", true)).is_empty());
}

/// A state item as the store writes it, in either form: the replay reads
/// the customer's `lastEventAt` from both (the binary form keeps it in its
/// JSON part, after a tag byte and inside the deflated body).
#[test]
fn state_items_of_both_stored_forms_are_read() {
    use tier_store::{encode_state_as, ItemFormat};
    let program = tier_engine::Program::validate(
        serde_json::from_str(
            r#"{"currency": "USD", "startDate": "2026-01-01T00:00:00Z",
                "trackers": [{"id": "t", "measure": "billAmount", "period": {"months": 12}}],
                "tiers": [{"name": "Member", "earnRate": "1"}]}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let at: chrono::DateTime<chrono::Utc> = "2026-03-04T05:06:07.089Z".parse().unwrap();
    let mut state = tier_engine::CustomerState::new(&program, at);
    for day in 0..300 {
        let order = tier_engine::Order {
            order_id: format!("o{day}"),
            customer_id: "c1".into(),
            placed_at: at + chrono::Duration::days(day),
            status: tier_engine::OrderStatus::Completed,
            amount: "12.34".parse().unwrap(),
            gross_amount: None,
            currency: None,
            line_items: vec![],
        };
        program.apply_order(&mut state, &order).unwrap();
    }
    let last = state.last_event_at;
    assert!(last.is_some());
    for format in [ItemFormat::Json, ItemFormat::Binary] {
        let data = encode_state_as(&state, format);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let l = format!(
            r#"{{"Item":{{"pk":{{"S":"CUSTOMER#3:ako#c1"}},"sk":{{"S":"STATE"}},"state":{{"B":"{b64}"}}}}}}"#
        );
        match parse_line(&l, Some("ako")).expect("decodes") {
            ExportItem::Customer { item, .. } => match *item {
                CustomerItem::State { last_event_at } => {
                    assert_eq!(last_event_at, last, "{format:?}")
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        // Cut short, it is refused.
        let cut = base64::engine::general_purpose::STANDARD.encode(&data[..data.len() / 2]);
        let l = l.replace(&b64, &cut);
        assert!(parse_line(&l, Some("ako")).is_err(), "{format:?}");
    }
}

/// Order and return items as the store writes them, in either form
/// (`tier_store::encode_event_as`): the reader gives the same record and
/// reply from both, read at once or deferred to pass 2 as the CLI reads
/// them, and refuses a binary item cut short.
#[test]
fn event_items_of_both_stored_forms_are_read() {
    use tier_sim_core::export::{deferred_record, parse_line_deferring_record};
    use tier_store::{encode_event_as, ItemFormat};
    let record: tier_engine::OrderRecord =
        serde_json::from_str(&serde_json::from_str::<(String, String)>(PAIR).unwrap().1).unwrap();
    let mut marked = record.clone();
    marked.returns.push(tier_engine::ReturnMark {
        at: "2026-02-24T00:00:00.5Z".parse().unwrap(),
        amount: "10.50".parse().unwrap(),
        arrival: Some(4),
        shortfall: Some("0".parse().unwrap()),
    });
    let reply = r#"{"orderId":"o1","amountReturned":"10.50"}"#;
    for format in [ItemFormat::Json, ItemFormat::Binary] {
        for record in [&record, &marked] {
            let data = encode_event_as("{\"applied\":true}", Some(record), format);
            let order = line(&data);
            let read = |item: ExportItem| match item {
                ExportItem::Customer { item, .. } => *item,
                other => panic!("{other:?}"),
            };
            // As JSON text: `==` on decimals ignores their scale.
            let text = |r: &tier_engine::OrderRecord| serde_json::to_string(r).unwrap();
            match read(parse_line(&order, Some("ako")).expect("decodes")) {
                CustomerItem::Order { record: r, .. } => {
                    assert_eq!(text(&r.expect("a record")), text(record), "{format:?}")
                }
                other => panic!("{other:?}"),
            }
            let mut text_of = None;
            let item = parse_line_deferring_record(&order, Some("ako"), &mut text_of).unwrap();
            assert!(matches!(
                read(item),
                CustomerItem::Order { record: None, .. }
            ));
            let deferred = text_of.expect("the record, not decoded");
            assert_eq!(
                text(&deferred.record("o1").unwrap()),
                text(record),
                "{format:?}"
            );
            // As the CLI writes it to a partition file and reads it back.
            let mut written = Vec::new();
            deferred.write_to(&mut written).unwrap();
            let written = String::from_utf8(written).unwrap();
            assert!(!written.contains(['\n', '\t']), "{written}");
            let back = deferred_record("o1", &written).unwrap();
            assert_eq!(text(&back), text(record), "{format:?}");
            let cut = line(&data[..data.len() / 2]);
            assert!(parse_line(&cut, Some("ako")).is_err(), "{format:?}");
        }
        let data = encode_event_as(reply, None, format);
        let ret = line(&data).replace("ORDER#o1", "RETURN#r1");
        match parse_line(&ret, Some("ako")).expect("decodes") {
            ExportItem::Customer { item, .. } => match *item {
                CustomerItem::Return { order, amount, .. } => {
                    assert_eq!((order.as_str(), amount.to_string()), ("o1", "10.50".into()))
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }
    // A record length past 64 bits is refused, as the store refuses it
    // (not cut to its low bits).
    let mut overlong = vec![0xF6];
    overlong.extend([0x80; 9]);
    overlong.push(2);
    overlong.extend(deflate(b"{}"));
    assert!(parse_line(&line(&overlong), Some("ako")).is_err());
    for text in ["", "{}", "j{}", "b***", "bAAAA", " j{}"] {
        assert!(deferred_record("o1", text).is_err(), "{text}");
    }
}
