//! The customer state's stored form: JSON, deflated. The state item is read
//! and written on every order, and DynamoDB bills writes per started KB, so
//! its size is the cost driver (see docs/benchmarks.md).

use flate2::{bufread::DeflateDecoder, write::DeflateEncoder, Compression};
use std::cell::RefCell;
use std::io::{Read, Write};
use tier_engine::CustomerState;

thread_local! {
    /// One compressor per thread, reset between items: a new one allocates
    /// and zeroes about 300 KB (miniz_oxide's dictionary, hash chains and
    /// buffers), which cost more than compressing a state or an order item.
    /// A reset compressor writes the same bytes as a new one.
    static ENCODER: RefCell<Option<DeflateEncoder<Vec<u8>>>> = const { RefCell::new(None) };
}

fn deflate(json: &[u8]) -> Vec<u8> {
    // Taken out while in use: a panic mid-stream drops it rather than
    // leaving a half-written stream for the next item.
    let mut encoder = ENCODER
        .with(|cell| cell.borrow_mut().take())
        .unwrap_or_else(|| DeflateEncoder::new(Vec::new(), Compression::default()));
    *encoder.get_mut() = Vec::with_capacity(json.len() / 3);
    encoder.write_all(json).expect("writing to a Vec");
    // Finishes the stream, resets the compressor, hands back the output.
    let out = encoder.reset(Vec::new()).expect("writing to a Vec");
    ENCODER.with(|cell| *cell.borrow_mut() = Some(encoder));
    out
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut json = Vec::with_capacity(bytes.len() * 4);
    // The slice is read in place (no second buffer).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a new encoder writes, as before the compressor was reused.
    fn fresh(json: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(json).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_reused_compressor_writes_what_a_new_one_writes() {
        let mut rng = 15u64;
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new(), b"{}".to_vec()];
        for n in [10usize, 300, 4_000, 70_000, 300_000] {
            // JSON-like text with repeats, and bytes without any.
            let text: String = (0..n / 20)
                .map(|i| format!("{{\"d\":{i},\"v\":\"{}.{:02}\"}},", i % 97, i % 100))
                .collect();
            inputs.push(text.into_bytes());
            inputs.push(
                (0..n)
                    .map(|_| {
                        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                        (rng >> 56) as u8
                    })
                    .collect(),
            );
        }
        // Twice over, so every input follows a larger and a smaller one.
        for input in inputs.iter().chain(inputs.iter().rev()) {
            let out = deflate(input);
            assert_eq!(out, fresh(input), "{} bytes in", input.len());
            assert_eq!(inflate(&out).unwrap(), *input);
        }
        assert!(inflate(b"not deflate").is_err());
    }
}
