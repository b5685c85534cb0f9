//! The customer state's stored form: JSON, deflated. The state item is read
//! and written on every order, and DynamoDB bills writes per started KB, so
//! its size is the cost driver (see docs/benchmarks.md).

use flate2::{read::DeflateDecoder, write::DeflateEncoder, Compression};
use std::io::{Read, Write};
use tier_engine::CustomerState;

pub fn encode_state(state: &CustomerState) -> Vec<u8> {
    let json = serde_json::to_vec(state).expect("state serialises");
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(json.len() / 3), Compression::best());
    encoder.write_all(&json).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

pub fn decode_state(bytes: &[u8]) -> Result<CustomerState, String> {
    let mut json = Vec::with_capacity(bytes.len() * 4);
    DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("state item is not deflated JSON: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("state item does not decode: {e}"))
}
