//! Exact decimals on the wire.
//!
//! Money and points arrive as JSON strings or numbers and must never pass
//! through `f64`: the number's literal text is taken from serde_json's
//! `RawValue` and parsed as a decimal. They always leave as strings.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
use serde_json::value::RawValue;

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

/// `value x part / whole` for `0 <= part <= whole` (so the result is at most
/// `value`): exact while the product fits, which it does for every realistic
/// figure; beyond (10^15 x 10^15) taken through the ratio, which keeps 28
/// significant digits instead of overflowing.
pub fn share(value: Decimal, part: Decimal, whole: Decimal) -> Decimal {
    match value.checked_mul(part) {
        Some(product) => product / whole,
        None => value * (part / whole),
    }
}

/// Parses the text of a JSON value (a string or a number literal) exactly.
pub fn parse_json_decimal(raw: &str) -> Result<Decimal, String> {
    let text = raw.trim();
    if text.starts_with('"') {
        let literal = serde_json::from_str::<String>(text).map_err(|e| e.to_string())?;
        parse_decimal_text(&literal)
    } else {
        parse_decimal_text(text)
    }
}

/// Most decimals any figure may carry: enough for every currency's minor
/// unit and for fractional rates and quantities, and small enough that a
/// product of two figures keeps every digit.
pub const MAX_DECIMALS: usize = 6;
/// Most integer digits a literal may carry before it is refused unread;
/// values between 10^15 and this are read so that the range check can name
/// the limit (`amount_out_of_range`).
const MAX_INTEGER_DIGITS: usize = 22;

/// The one decimal grammar of the API, for strings and JSON numbers alike:
/// `-?[0-9]+(\.[0-9]{1,6})?`. No exponent, sign `+`, separators, spaces or
/// bare `.`: openapi.yaml's `Decimal` pattern says the same.
pub fn parse_decimal_text(literal: &str) -> Result<Decimal, String> {
    let shown: String = literal.chars().take(48).collect();
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return Err(format!(
            "`{shown}` is not a decimal number (digits, an optional leading `-` and \
             an optional `.` with 1 to {MAX_DECIMALS} decimals; no exponent, `+` or spaces)"
        ));
    }
    if frac.is_some_and(|f| f.len() > MAX_DECIMALS) {
        return Err(format!("`{shown}` has more than {MAX_DECIMALS} decimals"));
    }
    if int.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
        return Err(format!("`{shown}` is out of range (at most 10^15)"));
    }
    Decimal::from_str_exact(literal).map_err(|_| format!("`{shown}` is not a decimal number"))
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
        let from_number: Holder = serde_json::from_str(r#"{"v": 0.100001}"#).unwrap();
        assert_eq!(from_number.v.to_string(), "0.100001", "no float on the way");
        let from_string: Holder = serde_json::from_str(r#"{"v": "12.50"}"#).unwrap();
        assert_eq!(from_string.v, Decimal::new(1250, 2));
        let number: Holder = serde_json::from_str(r#"{"v": -1500.25}"#).unwrap();
        assert_eq!(number.v, Decimal::new(-150025, 2));
    }

    #[test]
    fn only_the_documented_grammar_is_read() {
        for bad in [
            "1E+3",
            "1e3",
            "1_000",
            "+5",
            ".5",
            "5.",
            " 5 ",
            "5 ",
            "",
            "-",
            "1,5",
            "0x10",
            "1.2345678",
            "NaN",
            "inf",
            "--1",
            "1.2.3",
            "\u{661}",
        ] {
            let json = format!(r#"{{"v": "{bad}"}}"#);
            assert!(
                serde_json::from_str::<Holder>(&json).is_err(),
                "`{bad}` must be refused"
            );
        }
        for bad in ["1.5e3", "1E2", "-0.1234567"] {
            let json = format!(r#"{{"v": {bad}}}"#);
            assert!(serde_json::from_str::<Holder>(&json).is_err(), "{bad}");
        }
        let long = format!(r#"{{"v": "{}"}}"#, "9".repeat(5000));
        let e = serde_json::from_str::<Holder>(&long)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("out of range"), "{e}");
        assert!(e.len() < 200, "the message quotes a bounded prefix: {e}");
        let six: Holder = serde_json::from_str(r#"{"v": "0.000001"}"#).unwrap();
        assert_eq!(six.v, Decimal::new(1, 6));
        let big: Holder =
            serde_json::from_str(r#"{"v": "9999999999999999999999.999999"}"#).unwrap();
        assert!(big.v > Decimal::from(crate::events::MAX_FIGURE));
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
