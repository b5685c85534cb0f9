//! Request decoding: malformed JSON and missing or mistyped fields are 400s
//! that say where; payload digests for idempotency.

use crate::error::ApiError;
use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write;
use tier_store::EventItem;

pub fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            400,
            "invalid_json",
            format!("the {what} body is empty"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde_json calls some shape errors syntax errors (`{}` or `true`
        // where an enum such as `condition` is expected), so JSON that
        // parses is a wrong shape, whatever the error's category says.
        // Skipping a value does not check its strings' UTF-8, so that is
        // checked first: bytes that are not UTF-8 are not JSON.
        let parses = || {
            std::str::from_utf8(body).is_ok()
                && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
        };
        let code = if (e.is_syntax() || e.is_eof()) && !parses() {
            "invalid_json"
        } else {
            "invalid_request"
        };
        ApiError::new(400, code, format!("{what}: {e}"))
    })
}

/// SHA-256 of the event's canonical JSON (typed, so `10` and `"10.00"`
/// are the same payload).
pub fn digest<T: Serialize>(event: &T) -> String {
    let canonical = serde_json::to_vec(event).unwrap_or_default();
    let hash = Sha256::digest(&canonical);
    let mut hex = String::with_capacity(2 * hash.len());
    for b in hash {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Encodes what we store; our own types always encode, so a failure is a
/// bug, answered 500 rather than stored as an empty string.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| {
        tracing::error!(error = %e, "could not encode a stored value");
        ApiError::internal("could not encode the result; it has been logged")
    })
}

/// As [`to_string`], for a reply built as a JSON value.
pub fn to_value<T: Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| {
        tracing::error!(error = %e, "could not encode a reply");
        ApiError::internal("could not encode the result; it has been logged")
    })
}

/// The reply first given for an event, marked as a replay; a different
/// payload under the same id is a conflict.
pub fn replay<T: DeserializeOwned>(
    item: &EventItem,
    hash: &str,
    what: &str,
    id: &str,
) -> Result<T, ApiError> {
    if item.payload_hash != hash {
        return Err(ApiError::idempotency_conflict(what, id));
    }
    let corrupt = |e: serde_json::Error| ApiError::new(500, "corrupt_event", e.to_string());
    let mut reply: serde_json::Value = serde_json::from_str(&item.result).map_err(corrupt)?;
    reply["duplicate"] = serde_json::Value::Bool(true);
    // Through text again: decimals are read from their literal text.
    serde_json::from_str(&reply.to_string()).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_is_the_lowercase_hex_sha256_of_the_json() {
        // Stored items keep these digests: the text must never change.
        assert_eq!(
            super::digest(&serde_json::json!({"a": 1})),
            "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
        );
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "camelCase")]
    enum Shape {
        All,
        Any(u32),
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        condition: Shape,
    }

    #[test]
    fn json_of_the_wrong_shape_is_invalid_request_and_broken_json_invalid_json() {
        let code = |body: &str| decode::<Body>(body.as_bytes(), "config").unwrap_err().code;
        for wrong in [
            r#"{"condition": {}}"#,
            r#"{"condition": true}"#,
            r#"{"condition": {"any": 1, "all": null}}"#,
            r#"{"condition": "some"}"#,
            r#"{"condition": 3}"#,
        ] {
            assert_eq!(code(wrong), "invalid_request", "{wrong}");
        }
        for broken in [r#"{"condition": "#, r#"{"condition": all}"#, "{", "  "] {
            assert_eq!(code(broken), "invalid_json", "{broken}");
        }
        let not_utf8 = b"{\"condition\": \"a\xffl\"}";
        let e = decode::<Body>(not_utf8, "config").unwrap_err();
        assert_eq!(e.code, "invalid_json", "{}", e.message);
        assert!(decode::<Body>(br#"{"condition": "all"}"#, "config").is_ok());
    }
}
