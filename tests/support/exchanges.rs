//! Every request the end-to-end tests send through [`crate::Api`] and the
//! reply it got, written as JSON lines to `$E2E_EXCHANGES_DIR` when set
//! (scripts/test.sh sets it), for tests/contract/validate.py to check
//! against openapi.yaml with a real OpenAPI validator.

use serde_json::{json, Value};
use std::io::Write;
use std::sync::Mutex;

/// Request bodies larger than this are left out of the record: only the
/// hostile tests send them, and they are refused; the reply is still
/// checked.
const LARGEST_BODY_KEPT: usize = 64 * 1024;

static FILE: Mutex<()> = Mutex::new(());

pub struct Exchange<'a> {
    pub method: &'a str,
    /// Path and query, as sent.
    pub target: &'a str,
    pub request_body: Option<&'a str>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub response_body: &'a str,
}

pub fn record(exchange: Exchange<'_>) {
    let Some(dir) = std::env::var_os("E2E_EXCHANGES_DIR") else {
        return;
    };
    let (path, query) = exchange
        .target
        .split_once('?')
        .unwrap_or((exchange.target, ""));
    let body = exchange.request_body.map(|b| {
        if b.len() > LARGEST_BODY_KEPT {
            Value::Null
        } else {
            Value::String(b.to_owned())
        }
    });
    let line = json!({
        "test": std::thread::current().name().unwrap_or("?"),
        "method": exchange.method,
        "path": path,
        "query": query,
        "requestBody": body,
        "requestBodyOmitted": exchange.request_body.is_some_and(|b| b.len() > LARGEST_BODY_KEPT),
        "status": exchange.status,
        "headers": exchange
            .headers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<serde_json::Map<String, Value>>(),
        "responseBody": exchange.response_body,
    });
    let file = std::path::Path::new(&dir).join(format!("exchanges-{}.jsonl", std::process::id()));
    let _one_writer = FILE.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .unwrap_or_else(|e| panic!("cannot record to {}: {e}", file.display()));
    writeln!(out, "{line}").expect("exchange recorded");
}
