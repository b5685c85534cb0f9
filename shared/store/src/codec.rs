//! The customer state's stored form: JSON, deflated. The state item is read
//! and written on every order, and DynamoDB bills writes per started KB, so
//! its size is the cost driver (see docs/benchmarks.md).

use flate2::{read::DeflateDecoder, write::DeflateEncoder, Compression};
use std::io::{Read, Write};
use tier_engine::CustomerState;

fn deflate(json: &[u8]) -> Vec<u8> {
    let mut encoder =
        DeflateEncoder::new(Vec::with_capacity(json.len() / 3), Compression::default());
    encoder.write_all(json).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut json = Vec::with_capacity(bytes.len() * 4);
    DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("item data is not deflated JSON: {e}"))?;
    Ok(json)
}

pub fn encode_state(state: &CustomerState) -> Vec<u8> {
    deflate(&serde_json::to_vec(state).expect("state serialises"))
}

pub fn decode_state(bytes: &[u8]) -> Result<CustomerState, String> {
    serde_json::from_slice(&inflate(bytes)?).map_err(|e| format!("state item does not decode: {e}"))
}

/// An event item's reply and record (both JSON), deflated together: the
/// order item is written with every order, so it is kept under 1 KB.
pub fn encode_event(result: &str, record: Option<&str>) -> Vec<u8> {
    deflate(&serde_json::to_vec(&(result, record)).expect("strings serialise"))
}

pub fn decode_event(bytes: &[u8]) -> Result<(String, Option<String>), String> {
    serde_json::from_slice(&inflate(bytes)?).map_err(|e| format!("event item does not decode: {e}"))
}
