//! Exact decimals on the wire.
//!
//! Money and points arrive as JSON strings or numbers and must never pass
//! through `f64`: the number's literal text is taken from serde_json's
//! `RawValue` and parsed as a decimal. They always leave as strings.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
use serde_json::value::RawValue;
use std::str::FromStr;

/// Money amounts (order totals, thresholds) in the program's currency.
pub type Money = Decimal;
/// Loyalty points.
pub type Points = Decimal;

/// Points are kept to two decimals, rounded half away from zero.
pub const POINTS_SCALE: u32 = 2;

pub fn round_points(value: Decimal) -> Points {
    value
        .round_dp_with_strategy(POINTS_SCALE, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// Parses the text of a JSON value (a string or a number literal) exactly.
pub fn parse_json_decimal(raw: &str) -> Result<Decimal, String> {
    let text = raw.trim();
    let literal = if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(|e| e.to_string())?
    } else {
        text.to_owned()
    };
    parse_decimal_text(&literal)
}

pub fn parse_decimal_text(literal: &str) -> Result<Decimal, String> {
    let literal = literal.trim();
    let parsed = if literal.contains(['e', 'E']) {
        Decimal::from_scientific(literal)
    } else {
        Decimal::from_str_exact(literal).or_else(|_| Decimal::from_str(literal))
    };
    parsed.map_err(|_| format!("`{literal}` is not a decimal number"))
}

pub mod exact {
    //! `#[serde(with = "exact")]` for a required decimal.
    use super::*;

    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.normalize().to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        parse_json_decimal(raw.get()).map_err(D::Error::custom)
    }
}

pub mod exact_opt {
    //! `#[serde(with = "exact_opt", default)]` for an optional decimal.
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&v.normalize().to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let raw: Option<Box<RawValue>> = Deserialize::deserialize(d)?;
        match raw {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => parse_json_decimal(raw.get())
                .map(Some)
                .map_err(D::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        #[serde(with = "exact")]
        v: Decimal,
    }

    #[test]
    fn numbers_and_strings_parse_exactly_without_floats() {
        let from_number: Holder =
            serde_json::from_str(r#"{"v": 0.1000000000000000055511}"#).unwrap();
        assert_eq!(from_number.v.to_string(), "0.1000000000000000055511");
        let from_string: Holder = serde_json::from_str(r#"{"v": "12.50"}"#).unwrap();
        assert_eq!(from_string.v, Decimal::new(1250, 2));
        let scientific: Holder = serde_json::from_str(r#"{"v": 1.5e3}"#).unwrap();
        assert_eq!(scientific.v, Decimal::new(1500, 0));
    }

    #[test]
    fn non_numbers_are_refused() {
        assert!(serde_json::from_str::<Holder>(r#"{"v": "ten"}"#).is_err());
        assert!(serde_json::from_str::<Holder>(r#"{"v": true}"#).is_err());
    }

    #[test]
    fn points_round_half_away_from_zero_to_cents() {
        assert_eq!(round_points(Decimal::new(12345, 3)), Decimal::new(1235, 2));
        assert_eq!(round_points(Decimal::new(400, 0)), Decimal::new(400, 0));
    }
}
