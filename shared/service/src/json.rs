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
        // Whatever the error's category says, the body's own syntax tells
        // the code: serde_json calls some shape errors syntax errors (`{}`
        // or `true` where an enum such as `condition` is expected), and a
        // shape error (an unknown field, a key given twice) may come before
        // the syntax error further on. Skipping a value does not check its
        // strings' UTF-8, so that is checked first: bytes that are not
        // UTF-8 are not JSON.
        let parses = std::str::from_utf8(body).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        let code = if parses {
            "invalid_request"
        } else {
            "invalid_json"
        };
        ApiError::new(400, code, format!("{what}: {e}"))
    })
}

/// A free-form event (the scheduled job's, which names its kind by the
/// keys it holds) as a JSON value, refusing a key given twice in one
/// object: `serde_json::Value` keeps the last, so `{"shard": 0, "shard":
/// 9}` would run a shard the sender may not have meant, where a typed body
/// is refused (serde's derive rejects duplicate fields).
pub fn decode_event(body: &[u8], what: &str) -> Result<serde_json::Value, ApiError> {
    decode::<UniqueKeys>(body, what).map(|v| v.0)
}

/// A JSON value whose objects name each key once.
struct UniqueKeys(serde_json::Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "the key `{key}` is given twice"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(value)) = seq.next_element()? {
            items.push(value);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|UniqueKeys(v)| v)
    }
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
    fn an_event_naming_a_key_twice_is_refused_at_any_depth() {
        for twice in [
            r#"{"shard": 0, "shard": 9}"#,
            r#"{"reevaluate": {"jobId": "a", "jobId": "b"}}"#,
            r#"[{"a": 1}, {"b": [{"c": 1, "c": 1}]}]"#,
        ] {
            let refused = super::decode_event(twice.as_bytes(), "the event").unwrap_err();
            assert_eq!(
                (refused.status, refused.code),
                (400, "invalid_request"),
                "{twice}"
            );
            assert!(
                refused.message.contains("given twice"),
                "{}",
                refused.message
            );
        }
    }

    #[test]
    fn an_event_with_each_key_once_reads_as_serde_json_reads_it() {
        let text = r#"{"shard": 3, "time": "2026-01-01T00:00:00Z", "n": [1, -2, 2.5, 18446744073709551615, true, null, {"x": {}}], "e": ""}"#;
        let plain: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            super::decode_event(text.as_bytes(), "the event").unwrap(),
            plain
        );
        let broken = super::decode_event(b"{\"shard\": ", "the event").unwrap_err();
        assert_eq!(broken.code, "invalid_json");
    }

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
        // A shape error before the syntax error: still not JSON.
        for broken in [r#"{"bogus": 1, "#, r#"{"condition": "some", }"#] {
            assert_eq!(code(broken), "invalid_json", "{broken}");
        }
        let twice = decode_event(br#"{"a": 1, "a""#, "event").unwrap_err();
        assert_eq!(twice.code, "invalid_json", "{}", twice.message);
        let not_utf8 = b"{\"condition\": \"a\xffl\"}";
        let e = decode::<Body>(not_utf8, "config").unwrap_err();
        assert_eq!(e.code, "invalid_json", "{}", e.message);
        assert!(decode::<Body>(br#"{"condition": "all"}"#, "config").is_ok());
    }
}
