//! A generated export of one program, in the S3 export format of our table
//! (for benchmarks): each customer's orders decided by the engine under the
//! given config, written as the store writes them (order items with the
//! deflated `[reply, record]` pair, a partial return for one customer in
//! 20, the state item, the config items; no redemptions), spread over the
//! data files at random so that no file is sorted by customer.

use crate::SimError;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::Compression;
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use tier_engine::{CustomerState, Order, OrderRecord, OrderStatus, Return};

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    #[arg(long)]
    pub program: String,
    /// The program's config (JSON), stored as version 1.
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub customers: u64,
    /// Orders in all (spread over customers at random, about evenly).
    #[arg(long)]
    pub orders: u64,
    /// Data files to write.
    #[arg(long, default_value_t = 16)]
    pub files: usize,
    /// The export directory (data files go to `data/`).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 13)]
    pub seed: u64,
    /// The form of the order and return items, as the store's
    /// `EVENT_FORMAT` chooses it: `json` (the deflated pair) or `binary`.
    #[arg(long, value_enum, default_value_t = EventForm::Json)]
    pub event_format: EventForm,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventForm {
    Json,
    Binary,
}

/// An event item's `data` as the store writes it in `form`
/// (`tier_store::encode_event_as`).
fn event_data(reply: &str, record: Option<&OrderRecord>, form: EventForm) -> Vec<u8> {
    match form {
        EventForm::Json => {
            let record = record.map(|r| serde_json::to_string(r).expect("a record"));
            deflate(&serde_json::to_vec(&(reply, record)).expect("json"))
        }
        EventForm::Binary => {
            let mut body = Vec::new();
            if let Some(record) = record {
                tier_engine::record_bytes::write(record, &mut body);
            }
            let mut out = vec![0xF6];
            tier_engine::record_bytes::put_varint(&mut out, body.len() as u128);
            out.extend_from_slice(&body);
            out.extend_from_slice(&deflate(reply.as_bytes()));
            out
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn deflate(json: &[u8]) -> Vec<u8> {
    // The store's `ITEM_LEVEL` (tests/generate.rs holds the bytes equal).
    let mut e = DeflateEncoder::new(Vec::new(), Compression::best());
    e.write_all(json).expect("a Vec");
    e.finish().expect("a Vec")
}

fn customer_pk(program: &str, customer: &str) -> String {
    format!("CUSTOMER#{}:{program}#{customer}", program.len())
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn generate(args: &GenerateArgs) -> Result<(), SimError> {
    let config_json = crate::read_config_file(&args.config)?;
    let program = crate::program_of("the config", &config_json, 1)?;
    let data = args.out.join("data");
    std::fs::create_dir_all(&data)
        .map_err(|e| SimError::Output(format!("{}: {e}", data.display())))?;
    let workers = rayon::current_num_threads().max(1);
    let files_per_worker = args.files.div_ceil(workers).max(1);
    let per_customer = (args.orders as f64 / args.customers.max(1) as f64).max(1.0);
    let start: DateTime<Utc> = program.start_date();
    (0..workers).into_par_iter().try_for_each(|w| -> Result<(), SimError> {
        let mut rng = fastrand::Rng::with_seed(args.seed ^ (w as u64).wrapping_mul(0x9e3779b97f4a7c15));
        let mut files: Vec<BufWriter<GzEncoder<File>>> = (0..files_per_worker)
            .map(|f| {
                let path = data.join(format!("w{w:02}-{f:04}.json.gz"));
                File::create(&path)
                    .map(|file| BufWriter::with_capacity(1 << 20, GzEncoder::new(file, Compression::fast())))
                    .map_err(|e| SimError::Output(format!("{}: {e}", path.display())))
            })
            .collect::<Result<_, _>>()?;
        let mut put = |rng: &mut fastrand::Rng, line: String| -> Result<(), SimError> {
            let f = rng.usize(0..files.len());
            writeln!(files[f], "{line}").map_err(|e| SimError::Output(e.to_string()))
        };
        if w == 0 {
            let pk = format!("PROGRAM#{}", args.program);
            for sk in ["CONFIG".to_owned(), "CONFIG#000000000001".to_owned()] {
                let line = json!({"Item": {"pk": {"S": pk}, "sk": {"S": sk}, "version": {"N": "1"},
                    "config": {"S": config_json}, "programId": {"S": args.program}}});
                put(&mut rng, line.to_string())?;
            }
        }
        let mut c = w as u64;
        while c < args.customers {
            let customer = format!("c{c:08}");
            let pk = customer_pk(&args.program, &customer);
            let n = rng.u64(1..=(2.0 * per_customer - 1.0).round().max(1.0) as u64);
            let mut state = CustomerState::new(&program, start);
            let mut at = start + Duration::minutes(rng.i64(0..60 * 24 * 60));
            let mut records = Vec::new();
            for i in 0..n {
                at += Duration::minutes(rng.i64(1..60 * 24 * 20));
                let cents = if rng.u8(0..30) == 0 { rng.i64(100_000..400_000) } else { rng.i64(500..40_000) };
                let order = Order {
                    order_id: format!("o{i}"),
                    customer_id: customer.clone(),
                    placed_at: at,
                    status: OrderStatus::Completed,
                    amount: Decimal::new(cents, 2),
                    gross_amount: None,
                    currency: Some(program.currency().to_owned()),
                    line_items: vec![],
                };
                let applied = program.apply_order(&mut state, &order).map_err(|e| SimError::Input(e.to_string()))?;
                let reply = json!({"programId": args.program, "customerId": customer, "orderId": order.order_id,
                    "applied": true, "duplicate": false, "status": "completed",
                    "tierBefore": applied.record.tier_before, "tierAfter": applied.record.tier_after,
                    "pointsAwarded": applied.decision.points.to_string(), "pointsSegments": [], "upgrades": []});
                records.push(applied.record);
                let blob = event_data(&reply.to_string(), records.last(), args.event_format);
                let line = json!({"Item": {"pk": {"S": pk}, "sk": {"S": format!("ORDER#{}", order.order_id)},
                    "hash": {"S": format!("{:064x}", rng.u128(..))}, "data": {"B": b64(&blob)},
                    "itemVersion": {"N": "1"}, "status": {"S": "completed"}, "placedAt": {"S": stamp(at)}}});
                put(&mut rng, line.to_string())?;
            }
            // One customer in 20 returns half of an order after the last one.
            if rng.u8(0..20) == 0 {
                let k = rng.usize(0..records.len());
                let amount = (records[k].amount / Decimal::TWO).round_dp(2);
                if amount > Decimal::ZERO {
                    let ret = Return { return_id: "r0".into(), order_id: records[k].order_id.clone(),
                        customer_id: customer.clone(), returned_at: at, amount: Some(amount) };
                    let mut record = records[k].clone();
                    let orders = records.clone();
                    let history = tier_engine::ReturnHistory { orders: &orders, rules: &tier_engine::CurrentRulesOnly };
                    if let Ok(back) = program.apply_return_judged(&mut state, &mut record, &ret, &history) {
                        let reply = json!({"programId": args.program, "customerId": customer, "orderId": ret.order_id,
                            "returnId": "r0", "duplicate": false, "amountReturned": amount.to_string(),
                            "pointsReversed": back.points_reversed.to_string(), "pointsShortfall": "0",
                            "tierBefore": "", "tierAfter": "", "downgrades": []});
                        let blob = event_data(&reply.to_string(), None, args.event_format);
                        let line = json!({"Item": {"pk": {"S": pk}, "sk": {"S": "RETURN#r0"},
                            "hash": {"S": "0"}, "data": {"B": b64(&blob)}, "itemVersion": {"N": "1"}}});
                        put(&mut rng, line.to_string())?;
                    }
                }
            }
            state.config_version = Some(1);
            let blob = deflate(&serde_json::to_vec(&state).expect("a state"));
            let line = json!({"Item": {"pk": {"S": pk}, "sk": {"S": "STATE"}, "version": {"N": n.to_string()},
                "state": {"B": b64(&blob)}}});
            put(&mut rng, line.to_string())?;
            c += workers as u64;
        }
        for f in files {
            f.into_inner()
                .map_err(|e| SimError::Output(e.to_string()))?
                .finish()
                .map_err(|e| SimError::Output(e.to_string()))?;
        }
        Ok(())
    })
}
