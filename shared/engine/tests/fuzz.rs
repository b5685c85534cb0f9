//! Fuzz targets for everything the engine takes from outside ("Never falls
//! over").
//!
//! Coverage-guided fuzzing (cargo-fuzz, libFuzzer) needs a nightly compiler
//! and this workspace builds on stable only, so these are proptest runs of
//! comparable size, over generators that mix well-formed inputs with hostile
//! ones. Every target asserts that nothing panics (a panic is caught and
//! reported as a failure with its message and source location, then shrunk
//! to a minimal input) and makes checks that can fail:
//!
//! - an input that breaks a documented rule (README "Limits", the decimal
//!   grammar of openapi.yaml, the configuration rules) is refused with `Err`;
//! - an input made only of well-formed parts is accepted;
//! - an accepted input keeps the documented limits and survives a round
//!   trip through its own JSON encoding;
//! - an event the engine refuses leaves the customer's state unchanged, and
//!   an accepted one keeps the engine's invariants (points, tiers, trackers).
//!
//! Cases per target: `PROPTEST_CASES`, or a default that runs in a few
//! seconds in a debug build. No failure-persistence files are written. The
//! long runs and their results are in docs/fuzzing.md:
//!
//! ```text
//! CARGO_PROFILE_LOCAL_OVERFLOW_CHECKS=true PROPTEST_CASES=10000000 \
//!   cargo test --profile local -p tier-engine --test fuzz fuzz_order_decoder -- --nocapture
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::Union;
use proptest::test_runner::TestRunner;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{de::DeserializeOwned, Serialize};
use tier_engine::events::{MAX_FIGURE, MAX_ID_LEN, MAX_LINE_ITEMS, MAX_QUANTITY};
use tier_engine::expression::{compile, parse, MAX_EXPRESSION_CHARS, MAX_NESTING};
use tier_engine::period::day_of;
use tier_engine::program::{
    MAX_CRITERIA, MAX_EARN_RATE, MAX_PERIOD_DAYS, MAX_PERIOD_MONTHS, MAX_TIERS, MAX_TRACKERS,
};
use tier_engine::*;

// ---------------------------------------------------------------------------
// Harness: case count from PROPTEST_CASES, panics turned into failures that
// name their location, a summary line per target.
// ---------------------------------------------------------------------------

fn case_count(default: u32) -> u32 {
    match std::env::var("PROPTEST_CASES") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("PROPTEST_CASES={v} is not a number")),
        Err(_) => default,
    }
}

fn runner_config(default_cases: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    let max_shrink_iters = if base.max_shrink_iters == u32::MAX {
        100_000
    } else {
        base.max_shrink_iters
    };
    let max_shrink_time = if base.max_shrink_time == 0 {
        600_000
    } else {
        base.max_shrink_time
    };
    ProptestConfig {
        cases: case_count(default_cases),
        // No `.proptest-regressions` files: a failure found here is kept as
        // a named regression test in this file instead.
        failure_persistence: None,
        max_shrink_iters,
        max_shrink_time,
        ..base
    }
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Keeps the message and location of panics inside a fuzz case (instead of
/// printing each one while shrinking); every other panic is printed as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic payload>".to_owned());
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = format!("{message} (at {at})"));
            } else {
                default(info);
            }
        }));
    });
}

type CaseResult = Result<(), TestCaseError>;

fn fail(message: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(message.into())
}

/// Runs one case; a panic becomes a failure naming its message and location.
fn catching(body: impl FnOnce() -> CaseResult) -> CaseResult {
    CATCHING.with(|c| c.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    CATCHING.with(|c| c.set(false));
    outcome.unwrap_or_else(|_| {
        Err(fail(format!(
            "PANIC: {}",
            LAST_PANIC.with(|p| p.borrow().clone())
        )))
    })
}

/// What a target saw, for its summary line (and a progress line every 2^20
/// runs in long runs).
struct Tally {
    name: &'static str,
    labels: &'static [&'static str],
    counts: [Cell<u64>; 9],
    runs: Cell<u64>,
    started: Instant,
}

impl Tally {
    fn new(name: &'static str, labels: &'static [&'static str]) -> Self {
        assert!(labels.len() <= 9);
        Tally {
            name,
            labels,
            counts: Default::default(),
            runs: Cell::new(0),
            started: Instant::now(),
        }
    }

    fn add(&self, i: usize) {
        self.counts[i].set(self.counts[i].get() + 1);
    }

    fn tick(&self) {
        let runs = self.runs.get() + 1;
        self.runs.set(runs);
        if runs.is_multiple_of(1 << 20) {
            eprintln!("[fuzz] {}", self.line(runs));
        }
    }

    fn line(&self, runs: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let counts: Vec<String> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{l} {}", self.counts[i].get()))
            .collect();
        format!(
            "{}: {runs} runs in {secs:.1} s ({:.0}/s); {}",
            self.name,
            runs as f64 / secs.max(1e-9),
            counts.join(", ")
        )
    }
}

fn fuzz<S>(
    name: &'static str,
    default_cases: u32,
    labels: &'static [&'static str],
    strategy: S,
    test: impl Fn(S::Value, &Tally) -> CaseResult,
) where
    S: Strategy,
    S::Value: fmt::Debug,
{
    install_panic_hook();
    let config = runner_config(default_cases);
    let cases = config.cases;
    let tally = Tally::new(name, labels);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        tally.tick();
        catching(|| test(value, &tally))
    });
    eprintln!(
        "[fuzz] done, {cases} cases {}: {}",
        if result.is_ok() { "passed" } else { "FAILED" },
        tally.line(tally.runs.get())
    );
    if let Err(e) = result {
        panic!("[fuzz] {name}: {e}");
    }
}

// ---------------------------------------------------------------------------
// Strategy helpers.
// ---------------------------------------------------------------------------

fn weighted<T: fmt::Debug + 'static>(arms: Vec<(u32, BoxedStrategy<T>)>) -> BoxedStrategy<T> {
    Union::new_weighted(arms).boxed()
}

fn pick<T: Clone + fmt::Debug + 'static>(items: &[T]) -> BoxedStrategy<T> {
    prop::sample::select(items.to_vec()).boxed()
}

fn maybe<T: Clone + fmt::Debug + 'static>(
    percent: u32,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    weighted(vec![
        (100 - percent, Just(None).boxed()),
        (percent, s.prop_map(Some).boxed()),
    ])
}

fn digits(len: std::ops::RangeInclusive<usize>) -> BoxedStrategy<String> {
    prop::collection::vec(0u8..10, len)
        .prop_map(|d| d.into_iter().map(|d| char::from(b'0' + d)).collect())
        .boxed()
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

fn max_figure() -> Decimal {
    Decimal::from(MAX_FIGURE)
}

/// A decimal of `scale` decimals and roughly `magnitude` integer digits,
/// at most `10^15` (log-uniform over the range rather than mostly huge).
fn log_uniform(scale: u32, magnitude: u32, random: u128, at_least_one_unit: bool) -> Decimal {
    let exponent = magnitude.min(15 + scale);
    let bound = 10u128.pow(exponent);
    let mantissa = if at_least_one_unit {
        1 + random % bound
    } else {
        random % (bound + 1)
    };
    Decimal::from_i128_with_scale(mantissa as i128, scale).min(max_figure())
}

fn clip(s: &str) -> String {
    const KEEP: usize = 400;
    if s.len() <= 2 * KEEP + 64 {
        return s.to_owned();
    }
    let head = (0..=KEEP).rev().find(|i| s.is_char_boundary(*i)).unwrap();
    let tail = (s.len() - KEEP..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap();
    format!("{}<...{} bytes...>{}", &s[..head], tail - head, &s[tail..])
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Every character as a `\uXXXX` escape (UTF-16 pairs beyond the BMP).
fn json_string_escaped(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()
}

fn latest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2199, 12, 31)
        .unwrap()
        .and_hms_nano_opt(23, 59, 59, 999_999_999)
        .unwrap()
        .and_utc()
}

fn leap_second() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2016, 12, 31)
        .unwrap()
        .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
        .unwrap()
        .and_utc()
}

fn shift(t: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    t.checked_add_signed(Duration::seconds(seconds))
        .unwrap_or(t)
        .clamp(earliest(), latest())
}

fn in_event_range(t: DateTime<Utc>) -> bool {
    (1970..2200).contains(&t.year())
}

// ---------------------------------------------------------------------------
// The documented rules, written out independently of the engine (oracles).
// ---------------------------------------------------------------------------

/// Whether an input must be accepted (`Good`), must be refused (`Bad`), or
/// is only checked for not panicking and for the invariants (`Unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Good,
    Bad,
    Unknown,
}
use Expect::{Bad, Good, Unknown};

impl Expect {
    fn and(self, other: Expect) -> Expect {
        match (self, other) {
            (Bad, _) | (_, Bad) => Bad,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Good,
        }
    }

    fn bad_if(bad: bool) -> Expect {
        if bad {
            Bad
        } else {
            Good
        }
    }
}

/// An event id: 1 to 128 characters, no control characters (README "Limits").
fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= MAX_ID_LEN && !s.chars().any(char::is_control)
}

/// A configuration id (tracker, criterion): 1 to 64 of `[A-Za-z0-9_-]`.
fn config_id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// RFC 8259's number grammar.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// The API's decimal grammar `-?[0-9]+(\.[0-9]{1,6})?` (openapi.yaml), read
/// exactly. `None` outside the grammar, or beyond 10^16 (out of every range).
fn api_decimal(s: &str) -> Option<Decimal> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !frac.is_none_or(|f| all_digits(f) && f.len() <= 6) {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > 16 {
        return None;
    }
    let int = if int.is_empty() { "0" } else { int };
    let text = match frac {
        Some(f) => format!("{int}.{f}"),
        None => int.to_owned(),
    };
    let v = Decimal::from_str_exact(&text).ok()?;
    Some(if negative { -v } else { v })
}

#[derive(Clone, Copy, Debug)]
enum Range {
    /// `0 <= v <= 10^15`: amounts, prices.
    Amount,
    /// `0 < v <= 10^15`: return amounts, thresholds.
    Positive,
    /// `0 < v <= 10^6`.
    Quantity,
    /// `0 < v <= 10^15` with at most two decimals (once normalized).
    Points,
    /// `0 < v <= 1000`.
    EarnRate,
}

impl Range {
    fn accepts(self, v: Decimal) -> bool {
        let max = max_figure();
        match self {
            Range::Amount => v >= Decimal::ZERO && v <= max,
            Range::Positive => v > Decimal::ZERO && v <= max,
            Range::Quantity => v > Decimal::ZERO && v <= Decimal::from(MAX_QUANTITY),
            Range::Points => v > Decimal::ZERO && v <= max && v.normalize().scale() <= 2,
            Range::EarnRate => v > Decimal::ZERO && v <= Decimal::from(MAX_EARN_RATE),
        }
    }

    fn specials(self) -> &'static [&'static str] {
        match self {
            Range::Amount | Range::Positive => &[
                "0",
                "0.000001",
                "1000000000000000",
                "1000000000000000.000001",
                "999999999999999.999999",
                "1000000000000000.000000",
                "1000000000000001",
            ],
            Range::Quantity => &[
                "1000000",
                "1000000.000001",
                "1000001",
                "0.000001",
                "0",
                "999999.999999",
            ],
            Range::Points => &[
                "0.01",
                "0.001",
                "0.010",
                "1.000000",
                "1000000000000000",
                "1000000000000000.01",
                "0",
            ],
            Range::EarnRate => &["1000", "1000.000001", "0.000001", "0", "999.999999", "1001"],
        }
    }
}

// ---------------------------------------------------------------------------
// JSON fragments: a value's text and whether the field it goes in must
// accept it.
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Frag {
    json: String,
    expect: Expect,
    /// The decimal a well-formed fragment stands for (a line item: its
    /// price x quantity).
    value: Option<Decimal>,
}

impl Frag {
    fn new(json: impl Into<String>, expect: Expect) -> Frag {
        Frag {
            json: json.into(),
            expect,
            value: None,
        }
    }
}

impl fmt::Debug for Frag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", clip(&self.json), self.expect)
    }
}

const HOSTILE_DECIMALS: &[&str] = &[
    " 5",
    "5 ",
    "\u{661}\u{662}\u{663}",
    "\u{ff11}\u{ff12}",
    "5_000",
    "1,5",
    ".5",
    "5.",
    "",
    "-",
    "--1",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "0x10",
    "1.2.3",
    "\u{0}",
    "1e3",
    "1E+3",
    "-0",
    "-0.000000",
    "0.0000001",
    "1e15",
    "1.5e308",
    "4.9e-324",
    "\t1",
    "1\n",
    "\u{663}.\u{665}",
    "\u{1d7d3}",
    "+0",
    "0.",
    "00.5",
    "-.5",
    "5..0",
    "\u{221e}",
    "1e-7",
    "-1",
    "-0.000001",
    "0.1000000000000000055511151231257827",
    "79228162514264337593543950335.5",
];

fn decimal_text(range: Range) -> BoxedStrategy<String> {
    let int_part = weighted(vec![
        (6, digits(1..=4)),
        (3, digits(5..=16)),
        (
            2,
            pick(&[
                "0",
                "1",
                "999999999999999",
                "1000000000000000",
                "1000000000000001",
                "10000000000000000",
                "1000000",
                "1000001",
                "1000",
                "1001",
                "9999999999999999999999",
                "99999999999999999999999",
                "79228162514264337593543950335",
                "79228162514264337593543950336",
                "0000000000000000000000000000001",
            ])
            .prop_map(String::from)
            .boxed(),
        ),
    ]);
    let frac = weighted(vec![
        (6, Just(None).boxed()),
        (6, digits(1..=6).prop_map(Some).boxed()),
        (1, digits(7..=30).prop_map(Some).boxed()),
        (
            1,
            pick(&["", "000001", "999999", "0000001", "5", "50", "005"])
                .prop_map(|s| Some(s.to_owned()))
                .boxed(),
        ),
    ]);
    let sign = pick(&["", "", "", "", "", "", "", "-", "-", "+", "--"]);
    let exponent = pick(&[
        "", "", "", "", "", "", "", "", "", "", "", "", "e5", "E-3", "e+400", "e-400", "E0", "e",
    ]);
    let canonical = (sign, int_part, frac, exponent).prop_map(|(s, i, f, e)| match f {
        Some(f) => format!("{s}{i}.{f}{e}"),
        None => format!("{s}{i}{e}"),
    });
    let long = (
        prop_oneof![pick(&[1usize, 10, 23, 29, 100, 1000, 100_000]), 1usize..=40],
        0u8..5,
    )
        .prop_map(|(n, form)| match form {
            0 => "9".repeat(n),
            1 => format!("{}1", "0".repeat(n)),
            2 => format!("0.{}1", "0".repeat(n)),
            3 => format!("1{}", "0".repeat(n)),
            _ => format!("-{}", "9".repeat(n)),
        });
    weighted(vec![
        (20, canonical.boxed()),
        (3, pick(range.specials()).prop_map(String::from).boxed()),
        (3, pick(HOSTILE_DECIMALS).prop_map(String::from).boxed()),
        (2, "[-+0-9.eE _,]{0,12}".boxed()),
        (1, "\\PC{0,6}".boxed()),
        (1, long.boxed()),
    ])
}

/// What a decimal field must do with `text` placed in the document as is.
fn raw_decimal_expect(text: &str, range: Range, optional: bool) -> (Expect, Option<Decimal>) {
    let literal = text.trim_matches([' ', '\t', '\n', '\r']);
    if is_json_number(literal) {
        return judge_decimal(api_decimal(literal), range);
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(s)) => judge_decimal(api_decimal(&s), range),
        Ok(serde_json::Value::Null) if optional => (Good, None),
        Ok(_) => (Bad, None),
        // Not one JSON value: without structural characters the document
        // cannot parse; with them it might parse as something else.
        Err(_) if !text.contains(['"', ',', ':', '{', '}', '[', ']']) => (Bad, None),
        Err(_) => (Unknown, None),
    }
}

fn judge_decimal(value: Option<Decimal>, range: Range) -> (Expect, Option<Decimal>) {
    match value {
        Some(v) if range.accepts(v) => (Good, Some(v)),
        _ => (Bad, None),
    }
}

/// A well-formed value of the range.
fn clean_decimal(range: Range) -> BoxedStrategy<Decimal> {
    match range {
        Range::Amount => weighted(vec![
            (
                3,
                (0i64..=10_000_000).prop_map(|c| Decimal::new(c, 2)).boxed(),
            ),
            (
                1,
                (0u32..=6, 0u32..=21, any::<u128>())
                    .prop_map(|(s, d, r)| log_uniform(s, d, r, false))
                    .boxed(),
            ),
        ]),
        Range::Positive => threshold(),
        Range::Quantity => weighted(vec![
            (3, (1i64..=5).prop_map(Decimal::from).boxed()),
            (
                1,
                (1i64..=1_000_000_000_000)
                    .prop_map(|m| Decimal::new(m, 6))
                    .boxed(),
            ),
        ]),
        Range::Points => (1i64..=10_000_000).prop_map(|m| Decimal::new(m, 2)).boxed(),
        Range::EarnRate => earn_rate(),
    }
}

/// A decimal field: mostly well-formed (as a JSON string or number), else
/// anything `decimal_text` makes, or a wrong type.
fn decimal_frag(range: Range, optional: bool) -> BoxedStrategy<Frag> {
    let clean = (clean_decimal(range), any::<bool>()).prop_map(move |(v, as_string)| {
        let text = v.to_string();
        Frag {
            json: if as_string { json_string(&text) } else { text },
            expect: Expect::bad_if(!range.accepts(v)),
            value: Some(v),
        }
    });
    weighted(vec![
        (6, clean.boxed()),
        (1, hostile_decimal_frag(range, optional)),
    ])
}

fn hostile_decimal_frag(range: Range, optional: bool) -> BoxedStrategy<Frag> {
    let as_string = decimal_text(range).prop_map(move |t| {
        let (expect, value) = judge_decimal(api_decimal(&t), range);
        Frag {
            json: json_string(&t),
            expect,
            value,
        }
    });
    let escaped = decimal_text(range).prop_map(move |t| {
        let (expect, value) = judge_decimal(api_decimal(&t), range);
        Frag {
            json: json_string_escaped(&t),
            expect,
            value,
        }
    });
    // The text as is, where a JSON number goes: most often a number literal,
    // but random text can also be another JSON value (`"0"` is a string).
    let as_number = decimal_text(range).prop_map(move |t| {
        let (expect, value) = raw_decimal_expect(&t, range, optional);
        Frag {
            json: t,
            expect,
            value,
        }
    });
    let null = if optional { Good } else { Bad };
    let wrong = prop::sample::select(vec![
        ("true", Bad),
        ("false", Bad),
        ("null", null),
        ("[]", Bad),
        ("{}", Bad),
        ("[1]", Bad),
        ("[\"1\"]", Bad),
        ("{\"$numberDecimal\":\"1\"}", Bad),
        ("\"\"", Bad),
        ("\"\\u0031\\u0030\"", Good),
    ])
    .prop_map(move |(j, e)| {
        let value = (j == "\"\\u0031\\u0030\"").then(|| Decimal::from(10));
        let e = if value.is_some() && !range.accepts(Decimal::from(10)) {
            Bad
        } else {
            e
        };
        Frag {
            json: j.to_owned(),
            expect: e,
            value,
        }
    });
    weighted(vec![
        (10, as_string.boxed()),
        (1, escaped.boxed()),
        (8, as_number.boxed()),
        (1, wrong.boxed()),
    ])
}

fn id_content() -> BoxedStrategy<String> {
    weighted(vec![
        (12, "[a-zA-Z0-9_-]{1,12}".boxed()),
        (
            3,
            pick(&[
                "",
                " ",
                "\u{e9}",
                "\u{1f600}",
                "\u{202e}rtl",
                "\u{200b}",
                "a\u{0}b",
                "a\nb",
                "\t",
                "\u{7f}",
                "\u{85}",
                "\u{9f}",
                "\u{a0}",
                "\u{13c3}\u{13c3}",
                "'; DROP TABLE x; --",
                "\\",
                "\"",
                "</script>",
                "\u{fffd}",
                "\u{feff}",
                "null",
                "0",
                "A AND B",
            ])
            .prop_map(String::from)
            .boxed(),
        ),
        (
            2,
            (
                pick(&["x", "\u{e9}", "\u{1f600}", "ab\u{1}"]),
                pick(&[127usize, 128, 129, 256, 1000, 100_000]),
            )
                .prop_map(|(c, n)| c.repeat(n).chars().take(n).collect())
                .boxed(),
        ),
        (2, any::<String>().boxed()),
    ])
}

/// An event id field (required, or optional where `null` means absent).
fn id_frag(optional: bool) -> BoxedStrategy<Frag> {
    let null = if optional { Good } else { Bad };
    weighted(vec![
        (
            60,
            "[a-zA-Z0-9_-]{1,10}"
                .prop_map(|s| Frag::new(json_string(&s), Good))
                .boxed(),
        ),
        (
            20,
            id_content()
                .prop_map(|s| Frag::new(json_string(&s), Expect::bad_if(!id_ok(&s))))
                .boxed(),
        ),
        (
            1,
            id_content()
                .prop_map(|s| Frag::new(json_string_escaped(&s), Expect::bad_if(!id_ok(&s))))
                .boxed(),
        ),
        (
            1,
            prop::sample::select(vec![
                ("\"\\ud800\"", Bad),
                ("\"a\\udc00\"", Bad),
                ("\"\\u0000\"", Bad),
                ("\"\\uD83D\\uDE00\"", Good),
                ("\"\\q\"", Bad),
                ("\"a", Bad),
                ("5", Bad),
                ("null", null),
                ("true", Bad),
                ("[]", Bad),
                ("{}", Bad),
                ("[\"a\"]", Bad),
            ])
            .prop_map(|(j, e)| Frag::new(j, e))
            .boxed(),
        ),
    ])
}

#[derive(Clone, Copy, Debug)]
enum Zone {
    Z,
    LowerZ,
    Offset(i32, u32),
    Missing,
}

#[allow(clippy::too_many_arguments)]
fn date_expect(
    y: i32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    frac: &Option<String>,
    zone: Zone,
) -> Expect {
    if !(0..=9999).contains(&y) {
        // Far outside 1970..2200 whatever a parser makes of it.
        return Bad;
    }
    if s == 60
        || matches!(zone, Zone::LowerZ | Zone::Missing)
        || frac.as_ref().is_some_and(|f| f.len() > 9)
    {
        // Leap seconds and lenient spellings: up to chrono.
        return Unknown;
    }
    let Some(date) = NaiveDate::from_ymd_opt(y, mo, d) else {
        return Bad;
    };
    let nanos = frac
        .as_ref()
        .map_or(0, |f| format!("{f:0<9}").parse::<u32>().unwrap());
    let Some(local) = date.and_hms_nano_opt(h, mi, s, nanos) else {
        return Bad;
    };
    let offset = match zone {
        Zone::Offset(hh, mm) => {
            let seconds = i64::from(hh.unsigned_abs()) * 3600 + i64::from(mm) * 60;
            if hh < 0 {
                -seconds
            } else {
                seconds
            }
        }
        _ => 0,
    };
    let utc = local - Duration::seconds(offset);
    Expect::bad_if(!(1970..2200).contains(&utc.year()))
}

const DATE_SPECIALS: &[(&str, Expect)] = &[
    ("\"+10000-01-01T00:00:00Z\"", Bad),
    ("\"-0001-01-01T00:00:00Z\"", Bad),
    ("\"0000-01-01T00:00:00Z\"", Bad),
    ("\"9999-12-31T23:59:59Z\"", Bad),
    ("\"1969-12-31T23:59:59Z\"", Bad),
    ("\"1969-12-31T23:59:59.999999999Z\"", Bad),
    ("\"1970-01-01T00:00:00Z\"", Good),
    ("\"2199-12-31T23:59:59.999999999Z\"", Good),
    ("\"2200-01-01T00:00:00Z\"", Bad),
    ("\"2200-01-01T00:30:00+01:00\"", Good),
    ("\"2199-12-31T23:30:00-01:00\"", Bad),
    ("\"1969-12-31T23:00:00-01:00\"", Good),
    ("\"1970-01-01T00:30:00+01:00\"", Bad),
    ("\"2016-12-31T23:59:60Z\"", Unknown),
    ("\"2199-12-31T23:59:60Z\"", Unknown),
    ("\"1969-12-31T23:59:60Z\"", Unknown),
    ("\"2016-12-31T23:59:60.999999999Z\"", Unknown),
    ("\"2024-02-29T12:00:00Z\"", Good),
    ("\"2023-02-29T12:00:00Z\"", Bad),
    ("\"2026-01-01\"", Bad),
    ("\"2026-01-01T00:00:00\"", Unknown),
    ("\"2026-01-01 00:00:00Z\"", Unknown),
    ("\"2026-1-1T0:0:0Z\"", Unknown),
    ("\"262143-12-31T23:59:59Z\"", Bad),
    ("\"+262143-12-31T23:59:59Z\"", Bad),
    ("\"-262144-01-01T00:00:00Z\"", Bad),
    ("\"2026-01-01T00:00:00.123456789123Z\"", Unknown),
    ("\"2026-01-01T00:00:00+24:00\"", Bad),
    ("\"2026-01-01T00:00:00+99:99\"", Bad),
    ("\"\"", Bad),
    ("\"now\"", Bad),
    ("1767225600", Bad),
    ("-1", Bad),
    ("null", Bad),
    ("[]", Bad),
    ("{}", Bad),
];

fn date_frag() -> BoxedStrategy<Frag> {
    let year = weighted(vec![
        (6, (1970i32..2200).boxed()),
        (2, (0i32..=9999).boxed()),
        (
            1,
            pick(&[
                0i32, 1, 1969, 1970, 2199, 2200, 9999, -1, 10000, 262143, -262144,
            ]),
        ),
    ]);
    let month = weighted(vec![(12, (1u32..=12).boxed()), (1, pick(&[0u32, 13]))]);
    let day = weighted(vec![
        (10, (1u32..=28).boxed()),
        (3, (29u32..=31).boxed()),
        (1, pick(&[0u32, 32])),
    ]);
    let hour = weighted(vec![(12, (0u32..=23).boxed()), (1, Just(24u32).boxed())]);
    let minute = weighted(vec![(12, (0u32..=59).boxed()), (1, Just(60u32).boxed())]);
    let second = weighted(vec![(20, (0u32..=59).boxed()), (1, pick(&[60u32, 61]))]);
    let frac = weighted(vec![
        (4, Just(None).boxed()),
        (3, digits(1..=9).prop_map(Some).boxed()),
        (1, digits(10..=12).prop_map(Some).boxed()),
    ]);
    let zone = weighted(vec![
        (10, Just(Zone::Z).boxed()),
        (
            4,
            ((-23i32..=23), pick(&[0u32, 30, 45, 59]))
                .prop_map(|(h, m)| Zone::Offset(h, m))
                .boxed(),
        ),
        (1, Just(Zone::LowerZ).boxed()),
        (1, Just(Zone::Missing).boxed()),
    ]);
    let parts = (year, month, day, hour, minute, second, frac, zone).prop_map(
        |(y, mo, d, h, mi, s, frac, zone)| {
            let frac_text = frac.as_ref().map(|f| format!(".{f}")).unwrap_or_default();
            let zone_text = match zone {
                Zone::Z => "Z".to_owned(),
                Zone::LowerZ => "z".to_owned(),
                Zone::Missing => String::new(),
                Zone::Offset(hh, mm) => {
                    format!("{}{:02}:{mm:02}", if hh < 0 { '-' } else { '+' }, hh.abs())
                }
            };
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac_text}{zone_text}");
            Frag::new(
                json_string(&text),
                date_expect(y, mo, d, h, mi, s, &frac, zone),
            )
        },
    );
    let specials = pick(DATE_SPECIALS).prop_map(|(j, e)| Frag::new(j, e));
    let clean = (
        0i64..(2200 - 1970) * 365 * 86_400,
        0u32..1_000_000_000,
        any::<bool>(),
    )
        .prop_map(|(s, nanos, fraction)| {
            let t = shift(earliest(), s);
            let text = if fraction {
                format!("{}.{nanos:09}Z", t.format("%Y-%m-%dT%H:%M:%S"))
            } else {
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            };
            Frag::new(json_string(&text), Good)
        });
    weighted(vec![
        (30, clean.boxed()),
        (12, parts.boxed()),
        (3, specials.boxed()),
    ])
}

fn status_frag() -> BoxedStrategy<Frag> {
    pick(&[
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"completed\"", Good),
        ("\"pending\"", Good),
        ("\"cancelled\"", Good),
        ("\"pending\"", Good),
        ("\"cancelled\"", Good),
        ("\"pending\"", Good),
        ("\"cancelled\"", Good),
        ("\"Completed\"", Bad),
        ("\"COMPLETED\"", Bad),
        ("\"canceled\"", Bad),
        ("\"\"", Bad),
        ("\"refunded\"", Bad),
        ("0", Bad),
        ("null", Bad),
        ("[]", Bad),
        ("{\"completed\":null}", Unknown),
    ])
    .prop_map(|(j, e)| Frag::new(j, e))
    .boxed()
}

/// Deeply nested arrays or objects in place of a field's value.
fn nested_frag() -> BoxedStrategy<Frag> {
    (
        pick(&[2usize, 127, 128, 129, 10_000, 100_000]),
        any::<bool>(),
    )
        .prop_map(|(depth, arrays)| {
            let json = if arrays {
                format!("{}{}", "[".repeat(depth), "]".repeat(depth))
            } else {
                format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
            };
            Frag::new(json, Bad)
        })
        .boxed()
}

struct Field {
    key: &'static str,
    required: bool,
    frag: BoxedStrategy<Frag>,
}

impl Field {
    fn new(key: &'static str, required: bool, frag: BoxedStrategy<Frag>) -> Field {
        Field {
            key,
            required,
            frag: weighted(vec![(200, frag), (1, nested_frag())]),
        }
    }
}

#[derive(Clone, Debug)]
struct Shape {
    perm: Vec<usize>,
    drop: Option<usize>,
    unknown: Option<usize>,
    duplicate: Option<usize>,
    seq_form: bool,
    spacing: &'static str,
}

fn shape(n: usize) -> BoxedStrategy<Shape> {
    (
        Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
        maybe(2, 0..n),
        maybe(2, 0..=n),
        maybe(2, 0..n),
        prop::bool::weighted(0.01),
        pick(&["", "", "", " ", "\n\t "]),
    )
        .prop_map(
            |(perm, drop, unknown, duplicate, seq_form, spacing)| Shape {
                perm,
                drop,
                unknown,
                duplicate,
                seq_form,
                spacing,
            },
        )
        .boxed()
}

/// A JSON object built from fields, with what it must do.
#[derive(Clone, Debug)]
struct Built {
    json: String,
    expect: Expect,
    values: Vec<(&'static str, Option<Decimal>)>,
}

fn object_of(fields: Vec<Field>) -> BoxedStrategy<Built> {
    let n = fields.len();
    let keys: Vec<(&'static str, bool)> = fields.iter().map(|f| (f.key, f.required)).collect();
    let values: Vec<BoxedStrategy<(bool, Frag)>> = fields
        .into_iter()
        .map(|f| {
            let present = if f.required {
                Just(true).boxed()
            } else {
                prop::bool::weighted(0.6).boxed()
            };
            (present, f.frag).boxed()
        })
        .collect();
    (values, shape(n))
        .prop_map(move |(vals, shape)| build_object(&keys, &vals, &shape))
        .boxed()
}

fn build_object(keys: &[(&'static str, bool)], vals: &[(bool, Frag)], shape: &Shape) -> Built {
    let mut expect = Good;
    let mut entries = Vec::new();
    let mut values = Vec::new();
    for &i in &shape.perm {
        let (key, required) = keys[i];
        let (present, frag) = &vals[i];
        if !*present || shape.drop == Some(i) {
            if required {
                expect = Bad;
            }
            continue;
        }
        expect = expect.and(frag.expect);
        values.push((key, frag.value));
        entries.push(format!(
            "{}:{}{}",
            json_string(key),
            shape.spacing,
            frag.json
        ));
    }
    if let Some(at) = shape.unknown {
        entries.insert(at.min(entries.len()), "\"unexpected\":1".to_owned());
        expect = Bad;
    }
    if let Some(d) = shape.duplicate {
        if !entries.is_empty() {
            let again = entries[d % entries.len()].clone();
            entries.push(again);
            expect = Bad;
        }
    }
    let json = if shape.seq_form {
        // serde also reads a struct from an array of its fields in order.
        expect = Unknown;
        let items: Vec<&str> = vals
            .iter()
            .filter(|(present, _)| *present)
            .map(|(_, f)| f.json.as_str())
            .collect();
        format!("[{}]", items.join(","))
    } else {
        format!("{{{}}}", entries.join(&format!(",{}", shape.spacing)))
    };
    Built {
        json,
        expect,
        values,
    }
}

fn line_item_frag() -> BoxedStrategy<Frag> {
    object_of(vec![
        Field::new("sku", true, id_frag(false)),
        Field::new("category", false, id_frag(true)),
        Field::new("price", true, decimal_frag(Range::Amount, false)),
        Field::new("quantity", true, decimal_frag(Range::Quantity, false)),
    ])
    .prop_map(|b| {
        let get = |k: &str| {
            b.values
                .iter()
                .find(|(key, _)| *key == k)
                .and_then(|(_, v)| *v)
        };
        let value = match (b.expect, get("price"), get("quantity")) {
            (Good, Some(p), Some(q)) => Some(p * q),
            _ => None,
        };
        Frag {
            json: b.json,
            expect: b.expect,
            value,
        }
    })
    .boxed()
}

fn line_items_frag() -> BoxedStrategy<Frag> {
    // Many items repeat one (or a few) small item: 1,000 distinct ones would
    // cost more to generate than to decode.
    let small = |f: &Frag| f.json.len() <= 2000;
    let items = weighted(vec![
        (12, prop::collection::vec(line_item_frag(), 0..=4).boxed()),
        (
            1,
            (line_item_frag(), 995usize..=1005)
                .prop_map(move |(item, n)| {
                    if small(&item) {
                        vec![item; n]
                    } else {
                        vec![item]
                    }
                })
                .boxed(),
        ),
        (
            1,
            (
                prop::collection::vec(line_item_frag(), 1..=3),
                990usize..=1003,
            )
                .prop_map(move |(v, n)| {
                    if v.iter().all(small) {
                        v.iter().cycle().take(n).cloned().collect()
                    } else {
                        v
                    }
                })
                .boxed(),
        ),
    ]);
    let array = items.prop_map(|items| {
        let json = format!(
            "[{}]",
            items
                .iter()
                .map(|f| f.json.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut expect = items.iter().fold(Good, |e, f| e.and(f.expect));
        if items.len() > MAX_LINE_ITEMS {
            expect = Bad;
        } else if expect == Good {
            let total: Decimal = items.iter().map(|f| f.value.unwrap()).sum();
            if total > max_figure() {
                expect = Bad;
            }
        }
        Frag::new(json, expect)
    });
    let wrong =
        pick(&["null", "{}", "\"\"", "0", "[1]", "[null]", "[[]]"]).prop_map(|j| Frag::new(j, Bad));
    weighted(vec![(30, array.boxed()), (1, wrong.boxed())])
}

/// A whole input: bytes for the decoder, and what it must do.
#[derive(Clone)]
struct Doc {
    bytes: Vec<u8>,
    expect: Expect,
    values: Vec<(&'static str, Option<Decimal>)>,
    how: String,
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Doc {{ expect: {:?}, how: {}, text ({} bytes): {} }}",
            self.expect,
            self.how,
            self.bytes.len(),
            clip(&String::from_utf8_lossy(&self.bytes))
        )
    }
}

impl Doc {
    fn unknown(bytes: Vec<u8>, how: &str) -> Doc {
        Doc {
            bytes,
            expect: Unknown,
            values: Vec::new(),
            how: how.to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    None,
    Bytes(Vec<(Index, u8, u8)>),
    Truncate(Index),
    Wrap(usize),
    Trailing(&'static str),
    Bom,
}

fn mutation() -> BoxedStrategy<Mutation> {
    weighted(vec![
        (85, Just(Mutation::None).boxed()),
        (
            8,
            prop::collection::vec((any::<Index>(), 0u8..4, any::<u8>()), 1..=4)
                .prop_map(Mutation::Bytes)
                .boxed(),
        ),
        (3, any::<Index>().prop_map(Mutation::Truncate).boxed()),
        (
            2,
            pick(&[1usize, 2, 127, 128, 129, 5000])
                .prop_map(Mutation::Wrap)
                .boxed(),
        ),
        (
            2,
            pick(&[" ", "\n", "x", "{}", ",", "\u{0}", "]"])
                .prop_map(Mutation::Trailing)
                .boxed(),
        ),
        (1, Just(Mutation::Bom).boxed()),
    ])
}

const INTERESTING_BYTES: &[u8] = b"\"{}[],:\\-.e0 \xff\xc3\x00";

fn mutate(built: Built, m: &Mutation) -> Doc {
    let mut bytes = built.json.into_bytes();
    let mut expect = built.expect;
    let how;
    match m {
        Mutation::None => how = "as built".to_owned(),
        Mutation::Bytes(edits) => {
            for (at, op, byte) in edits {
                let len = bytes.len();
                match op {
                    0 if len > 0 => bytes[at.index(len)] = *byte,
                    1 => bytes.insert(at.index(len + 1), *byte),
                    2 if len > 0 => {
                        bytes.remove(at.index(len));
                    }
                    _ if len > 0 => {
                        bytes[at.index(len)] =
                            INTERESTING_BYTES[*byte as usize % INTERESTING_BYTES.len()]
                    }
                    _ => {}
                }
            }
            expect = Unknown;
            how = "bytes edited".to_owned();
        }
        Mutation::Truncate(at) => {
            let len = bytes.len();
            bytes.truncate(at.index(len.max(1)));
            if bytes.len() < len {
                expect = Bad;
            }
            how = format!("truncated to {}", bytes.len());
        }
        Mutation::Wrap(depth) => {
            let mut wrapped = "[".repeat(*depth).into_bytes();
            wrapped.extend_from_slice(&bytes);
            wrapped.extend_from_slice("]".repeat(*depth).as_bytes());
            bytes = wrapped;
            expect = Bad;
            how = format!("wrapped in {depth} arrays");
        }
        Mutation::Trailing(t) => {
            bytes.extend_from_slice(t.as_bytes());
            if !t.trim_matches([' ', '\n']).is_empty() {
                expect = Bad;
            }
            how = format!("followed by {t:?}");
        }
        Mutation::Bom => {
            let mut with = "\u{feff}".as_bytes().to_vec();
            with.extend_from_slice(&bytes);
            bytes = with;
            expect = Bad;
            how = "with a byte-order mark".to_owned();
        }
    }
    Doc {
        bytes,
        expect,
        values: built.values,
        how,
    }
}

fn document(object: BoxedStrategy<Built>) -> BoxedStrategy<Doc> {
    weighted(vec![
        (
            40,
            (object, mutation())
                .prop_map(|(b, m)| mutate(b, &m))
                .boxed(),
        ),
        (
            1,
            prop::collection::vec(any::<u8>(), 0..=300)
                .prop_map(|b| Doc::unknown(b, "random bytes"))
                .boxed(),
        ),
        (
            1,
            "[\\[\\]{}\":,0-9a-zA-Z.\\- ]{0,64}"
                .prop_map(|s| Doc::unknown(s.into_bytes(), "random JSON-ish text"))
                .boxed(),
        ),
    ])
}

fn check_verdict<T>(expect: Expect, verdict: &Result<T, String>) -> CaseResult {
    match (expect, verdict) {
        (Good, Err(e)) => Err(fail(format!(
            "an input made only of well-formed parts was refused: {}",
            clip(e)
        ))),
        (Bad, Ok(_)) => Err(fail("an input that breaks a documented rule was accepted")),
        _ => Ok(()),
    }
}

/// For a well-formed document: the decoded decimals are the ones sent.
fn check_values(doc: &Doc, decoded: &[(&str, Option<Decimal>)]) -> CaseResult {
    if doc.expect != Good {
        return Ok(());
    }
    for (key, got) in decoded {
        if let Some((_, Some(sent))) = doc.values.iter().find(|(k, _)| k == key) {
            prop_assert_eq!(*got, Some(*sent), "{} decoded differently", key);
        }
    }
    Ok(())
}

/// An accepted value survives its own JSON encoding and still passes.
fn round_trip<T>(value: &T, check: impl Fn(&T) -> Result<(), EngineError>) -> CaseResult
where
    T: Serialize + DeserializeOwned + PartialEq + fmt::Debug,
{
    let text = serde_json::to_string(value)
        .map_err(|e| fail(format!("an accepted value cannot be encoded: {e}")))?;
    let back: T = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "an accepted value's own encoding is refused: {e}: {}",
            clip(&text)
        ))
    })?;
    prop_assert_eq!(&back, value, "re-read from {}", clip(&text));
    check(&back).map_err(|e| fail(format!("the re-read value fails its check: {e}")))?;
    Ok(())
}

fn check_decimal(field: &str, v: Decimal, range: Range) -> CaseResult {
    prop_assert!(
        range.accepts(v) && v.scale() <= 6,
        "accepted {} = {} outside {:?} (or more than 6 decimals)",
        field,
        v,
        range
    );
    Ok(())
}

fn check_id(field: &str, id: &str) -> CaseResult {
    prop_assert!(id_ok(id), "accepted {} {:?}", field, clip(id));
    Ok(())
}

fn check_time(field: &str, t: DateTime<Utc>) -> CaseResult {
    prop_assert!(in_event_range(t), "accepted {} {}", field, t);
    Ok(())
}

fn check_order_limits(o: &Order) -> CaseResult {
    check_id("orderId", &o.order_id)?;
    check_id("customerId", &o.customer_id)?;
    if let Some(c) = &o.currency {
        check_id("currency", c)?;
    }
    check_time("placedAt", o.placed_at)?;
    check_decimal("amount", o.amount, Range::Amount)?;
    if let Some(g) = o.gross_amount {
        check_decimal("grossAmount", g, Range::Amount)?;
    }
    prop_assert!(o.line_items.len() <= MAX_LINE_ITEMS);
    let mut total = Decimal::ZERO;
    for item in &o.line_items {
        check_id("sku", &item.sku)?;
        if let Some(c) = &item.category {
            check_id("category", c)?;
        }
        check_decimal("price", item.price, Range::Amount)?;
        check_decimal("quantity", item.quantity, Range::Quantity)?;
        total += item.price * item.quantity;
    }
    prop_assert!(total <= max_figure(), "line items total {}", total);
    Ok(())
}

// ---------------------------------------------------------------------------
// Targets 1-3: the event decoders.
// ---------------------------------------------------------------------------

fn order_doc() -> BoxedStrategy<Doc> {
    document(object_of(vec![
        Field::new("orderId", true, id_frag(false)),
        Field::new("customerId", true, id_frag(false)),
        Field::new("placedAt", true, date_frag()),
        Field::new("status", true, status_frag()),
        Field::new("amount", true, decimal_frag(Range::Amount, false)),
        Field::new("grossAmount", false, decimal_frag(Range::Amount, true)),
        Field::new("currency", false, id_frag(true)),
        Field::new("lineItems", false, line_items_frag()),
    ]))
}

fn return_doc() -> BoxedStrategy<Doc> {
    document(object_of(vec![
        Field::new("returnId", true, id_frag(false)),
        Field::new("orderId", true, id_frag(false)),
        Field::new("customerId", true, id_frag(false)),
        Field::new("returnedAt", true, date_frag()),
        Field::new("amount", false, decimal_frag(Range::Positive, true)),
    ]))
}

fn redemption_doc() -> BoxedStrategy<Doc> {
    document(object_of(vec![
        Field::new("redemptionId", true, id_frag(false)),
        Field::new("points", true, decimal_frag(Range::Points, false)),
        Field::new("at", true, date_frag()),
    ]))
}

/// Decodes and checks an event the way the service does.
fn decode_event<T: DeserializeOwned>(
    bytes: &[u8],
    check: impl Fn(&T) -> Result<(), EngineError>,
) -> Result<T, String> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| format!("decoding: {e}"))?;
    check(&value).map_err(|e| format!("check: {e}"))?;
    Ok(value)
}

#[test]
fn fuzz_order_decoder() {
    fuzz(
        "fuzz_order_decoder",
        2000,
        &["accepted", "refused"],
        order_doc(),
        |doc, tally| {
            let verdict = decode_event::<Order>(&doc.bytes, Order::check);
            check_verdict(doc.expect, &verdict)?;
            match verdict {
                Ok(order) => {
                    tally.add(0);
                    check_order_limits(&order)?;
                    check_values(
                        &doc,
                        &[
                            ("amount", Some(order.amount)),
                            ("grossAmount", order.gross_amount),
                        ],
                    )?;
                    round_trip(&order, Order::check)?;
                }
                Err(_) => tally.add(1),
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_return_decoder() {
    fuzz(
        "fuzz_return_decoder",
        3000,
        &["accepted", "refused"],
        return_doc(),
        |doc, tally| {
            let verdict = decode_event::<Return>(&doc.bytes, Return::check);
            check_verdict(doc.expect, &verdict)?;
            match verdict {
                Ok(ret) => {
                    tally.add(0);
                    check_id("returnId", &ret.return_id)?;
                    check_id("orderId", &ret.order_id)?;
                    check_id("customerId", &ret.customer_id)?;
                    check_time("returnedAt", ret.returned_at)?;
                    if let Some(a) = ret.amount {
                        check_decimal("amount", a, Range::Positive)?;
                    }
                    check_values(&doc, &[("amount", ret.amount)])?;
                    round_trip(&ret, Return::check)?;
                }
                Err(_) => tally.add(1),
            }
            Ok(())
        },
    );
}

#[test]
fn fuzz_redemption_decoder() {
    fuzz(
        "fuzz_redemption_decoder",
        3000,
        &["accepted", "refused"],
        redemption_doc(),
        |doc, tally| {
            let verdict = decode_event::<Redemption>(&doc.bytes, Redemption::check);
            check_verdict(doc.expect, &verdict)?;
            match verdict {
                Ok(r) => {
                    tally.add(0);
                    check_id("redemptionId", &r.redemption_id)?;
                    check_time("at", r.at)?;
                    check_decimal("points", r.points, Range::Points)?;
                    check_values(&doc, &[("points", Some(r.points))])?;
                    round_trip(&r, Redemption::check)?;
                }
                Err(_) => tally.add(1),
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Expressions: a reference parser written from the documented grammar.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum RefExpr {
    Label(usize),
    And(Box<RefExpr>, Box<RefExpr>),
    Or(Box<RefExpr>, Box<RefExpr>),
}

impl RefExpr {
    fn eval(&self, met: u32) -> bool {
        match self {
            RefExpr::Label(i) => (met >> i) & 1 == 1,
            RefExpr::And(a, b) => a.eval(met) && b.eval(met),
            RefExpr::Or(a, b) => a.eval(met) || b.eval(met),
        }
    }
}

#[derive(Debug, PartialEq)]
enum RefToken {
    Word(String),
    And,
    Or,
    Open,
    Close,
}

/// The documented grammar: operands (criterion ids or parenthesised
/// sequences) joined by `AND`/`OR` (any case), `&&`, `||`, folded strictly
/// left to right; at most 256 characters and 16 levels of parentheses.
fn reference_parse(source: &str, labels: &[&str]) -> Option<RefExpr> {
    if source.chars().count() > MAX_EXPRESSION_CHARS {
        return None;
    }
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            tokens.push(if c == '(' {
                RefToken::Open
            } else {
                RefToken::Close
            });
            i += 1;
        } else if c == '&' || c == '|' {
            if chars.get(i + 1) != Some(&c) {
                return None;
            }
            tokens.push(if c == '&' {
                RefToken::And
            } else {
                RefToken::Or
            });
            i += 2;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut word = String::new();
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                word.push(chars[i]);
                i += 1;
            }
            tokens.push(match word.to_ascii_uppercase().as_str() {
                "AND" => RefToken::And,
                "OR" => RefToken::Or,
                _ => RefToken::Word(word),
            });
        } else {
            return None;
        }
    }
    fn sequence(t: &[RefToken], at: &mut usize, depth: usize, labels: &[&str]) -> Option<RefExpr> {
        let mut left = operand(t, at, depth, labels)?;
        while let Some(tok) = t.get(*at) {
            let and = match tok {
                RefToken::And => true,
                RefToken::Or => false,
                RefToken::Close => break,
                _ => return None,
            };
            *at += 1;
            let right = operand(t, at, depth, labels)?;
            left = if and {
                RefExpr::And(Box::new(left), Box::new(right))
            } else {
                RefExpr::Or(Box::new(left), Box::new(right))
            };
        }
        Some(left)
    }
    fn operand(t: &[RefToken], at: &mut usize, depth: usize, labels: &[&str]) -> Option<RefExpr> {
        match t.get(*at)? {
            RefToken::Word(w) => {
                let i = labels.iter().position(|l| l == w)?;
                *at += 1;
                Some(RefExpr::Label(i))
            }
            RefToken::Open if depth < MAX_NESTING => {
                *at += 1;
                let inner = sequence(t, at, depth + 1, labels)?;
                if t.get(*at) != Some(&RefToken::Close) {
                    return None;
                }
                *at += 1;
                Some(inner)
            }
            _ => None,
        }
    }
    if tokens.is_empty() {
        return None;
    }
    let mut at = 0;
    let expr = sequence(&tokens, &mut at, 0, labels)?;
    (at == tokens.len()).then_some(expr)
}

/// A random well-formed expression: operands separated by operators, where
/// an operand is a label or a parenthesised sub-expression.
#[derive(Debug, Clone)]
enum Gen {
    Label(usize),
    Seq(Vec<Gen>, Vec<bool>),
}

fn gen_expr() -> BoxedStrategy<Gen> {
    (0usize..4)
        .prop_map(Gen::Label)
        .prop_recursive(4, 24, 4, |inner| {
            prop::collection::vec(inner, 1..5).prop_flat_map(|ops| {
                let n = ops.len();
                (Just(ops), prop::collection::vec(any::<bool>(), n - 1))
                    .prop_map(|(ops, ands)| Gen::Seq(ops, ands))
            })
        })
        .boxed()
}

fn render(g: &Gen, names: &[&str], spelling: usize) -> String {
    match g {
        Gen::Label(i) => names[i % names.len()].to_owned(),
        Gen::Seq(ops, ands) => {
            let mut s = format!("({}", render(&ops[0], names, spelling + 1));
            for (op, and) in ops[1..].iter().zip(ands) {
                let word = match (and, spelling % 4) {
                    (true, 0) => "AND",
                    (true, 1) => "&&",
                    (true, 2) => "and",
                    (true, _) => "aNd",
                    (false, 0) => "OR",
                    (false, 1) => "||",
                    (false, 2) => "or",
                    (false, _) => "Or",
                };
                s.push_str(&format!(" {word} {}", render(op, names, spelling + 1)));
            }
            s + ")"
        }
    }
}

const LABEL_SETS: &[&[&str]] = &[
    &[],
    &["A"],
    &["A", "B"],
    &["A", "B", "C"],
    &["A", "B", "C", "D"],
    &["a", "B", "c_1"],
];

const EXPR_TOKENS: &[&str] = &[
    "A",
    "B",
    "C",
    "D",
    "(",
    ")",
    "AND",
    "OR",
    "and",
    "or",
    "&&",
    "||",
    "&",
    "|",
    " ",
    " ",
    " ",
    "  ",
    "\t",
    "\n",
    "aNd",
    "Or",
    "AB",
    "A1",
    "_",
    "c_1",
    "a",
    "\u{e9}",
    "\u{3000}",
    "\u{0}",
    "\u{1f600}",
    "\u{ff21}\u{ff2e}\u{ff24}",
    "A_",
    "1",
    "!",
    "NOT",
    "ANDOR",
    "&&&",
    "|||",
];

#[derive(Clone, Debug)]
struct ExprInput {
    source: String,
    labels: usize,
}

fn expr_input() -> BoxedStrategy<ExprInput> {
    let token = weighted(vec![
        (20, pick(EXPR_TOKENS).prop_map(String::from).boxed()),
        (2, any::<char>().prop_map(String::from).boxed()),
        (1, "\\PC{1,3}".boxed()),
    ]);
    let soup = prop::collection::vec(token.clone(), 0..=100).prop_map(|t| t.concat());
    // Well-formed expressions over the labels they are parsed against.
    let valid = (gen_expr(), 0usize..4, 1..LABEL_SETS.len())
        .prop_map(|(g, s, l)| (render(&g, LABEL_SETS[l], s), Some(l)));
    let nested = (
        0usize..=40,
        0usize..=40,
        prop::collection::vec(token, 0..=8),
    )
        .prop_map(|(open, close, inner)| {
            format!(
                "{}{}{}",
                "(".repeat(open),
                inner.concat(),
                ")".repeat(close)
            )
        });
    let deep = (
        pick(&[15usize, 16, 17, 100, 127, 128, 1000, 100_000]),
        pick(&["A", "A AND B", ""]),
    )
        .prop_map(|(d, inner)| format!("{}{inner}{}", "(".repeat(d), ")".repeat(d)));
    let long = prop_oneof![40usize..=60, pick(&[10_000usize, 20_000])]
        .prop_map(|n| format!("{}A", "A AND ".repeat(n)));
    let padded = (
        (gen_expr(), 0usize..4).prop_map(|(g, s)| render(&g, &["A", "B", "C"], s)),
        250usize..=262,
        any::<bool>(),
    )
        .prop_map(|(e, len, front)| {
            let pad = " ".repeat(len.saturating_sub(e.chars().count()));
            let source = if front {
                format!("{pad}{e}")
            } else {
                format!("{e}{pad}")
            };
            (source, Some(3))
        });
    let text = |s: BoxedStrategy<String>| s.prop_map(|s| (s, None)).boxed();
    let source = weighted(vec![
        (10, text(soup.boxed())),
        (6, valid.boxed()),
        (3, text(nested.boxed())),
        (1, text(deep.boxed())),
        (1, text(long.boxed())),
        (1, padded.boxed()),
        (1, text(any::<String>().boxed())),
    ]);
    (source, 0..LABEL_SETS.len())
        .prop_map(|((source, forced), labels)| ExprInput {
            source,
            labels: forced.unwrap_or(labels),
        })
        .boxed()
}

fn check_expression(input: &ExprInput, tally: &Tally) -> CaseResult {
    let labels = LABEL_SETS[input.labels];
    let chars = input.source.chars().count();
    let reference = reference_parse(&input.source, labels);
    match parse(&input.source, labels) {
        Ok(expr) => {
            tally.add(0);
            prop_assert!(
                chars <= MAX_EXPRESSION_CHARS,
                "a {} character expression was parsed",
                chars
            );
            let Some(reference) = &reference else {
                return Err(fail("parsed an expression the documented grammar refuses"));
            };
            for met in 0u8..(1u8 << labels.len()) {
                prop_assert_eq!(
                    expr.eval(met),
                    reference.eval(u32::from(met)),
                    "not read left to right on {:04b}",
                    met
                );
            }
        }
        Err(e) => {
            tally.add(1);
            prop_assert!(
                reference.is_none(),
                "refused an expression of the documented grammar: {}",
                e
            );
            if chars > MAX_EXPRESSION_CHARS {
                prop_assert_eq!(e.position, MAX_EXPRESSION_CHARS + 1);
            } else {
                prop_assert!(
                    (1..=chars + 1).contains(&e.position),
                    "error position {} outside 1..={}",
                    e.position,
                    chars + 1
                );
            }
            prop_assert!(!e.to_string().is_empty());
        }
    }
    if labels.len() <= MAX_CRITERIA {
        match (compile(&input.source, labels), &reference) {
            (Ok(table), Some(reference)) => {
                for met in 0u8..(1u8 << labels.len()) {
                    prop_assert_eq!(table.holds(met), reference.eval(u32::from(met)));
                }
            }
            (Err(_), None) => {}
            (compiled, _) => {
                return Err(fail(format!(
                    "compile disagrees with parse: {:?}",
                    compiled.map(|_| "compiled")
                )))
            }
        }
    }
    Ok(())
}

#[test]
fn fuzz_expression_parser() {
    fuzz(
        "fuzz_expression_parser",
        5000,
        &["parsed", "refused"],
        expr_input(),
        |input, tally| check_expression(&input, tally),
    );
}

// ---------------------------------------------------------------------------
// Valid programs (for the config target's well-formed arm and the decision
// target).
// ---------------------------------------------------------------------------

const MEASURES: &[Measure] = &[
    Measure::BillAmount,
    Measure::GrossBillAmount,
    Measure::Points,
    Measure::LineItemPrice,
    Measure::Visits,
];
const KINDS: &[CriterionKind] = &[
    CriterionKind::CurrentPoints,
    CriterionKind::LifetimePoints,
    CriterionKind::LifetimePurchases,
    CriterionKind::Tracker,
    CriterionKind::SingleOrder,
];
const UPGRADE_TYPES: &[UpgradeType] =
    &[UpgradeType::Lazy, UpgradeType::Eager, UpgradeType::Dynamic];
const CATEGORIES: &[Option<&str>] = &[None, Some("shoes"), Some("food")];

fn valid_period() -> BoxedStrategy<Period> {
    let days = |d: u32| Period {
        days: Some(d),
        months: None,
        calendar: None,
    };
    let months = |m: u32| Period {
        days: None,
        months: Some(m),
        calendar: None,
    };
    weighted(vec![
        (4, (1u32..=400).prop_map(days).boxed()),
        (4, (1u32..=24).prop_map(months).boxed()),
        (
            1,
            prop_oneof![pick(&[1u32, MAX_PERIOD_DAYS]), 1u32..=MAX_PERIOD_DAYS]
                .prop_map(days)
                .boxed(),
        ),
        (
            1,
            prop_oneof![pick(&[1u32, MAX_PERIOD_MONTHS]), 1u32..=MAX_PERIOD_MONTHS]
                .prop_map(months)
                .boxed(),
        ),
    ])
}

#[derive(Clone, Debug)]
struct TrackerSeed {
    measure: Measure,
    aggregate: Aggregate,
    category: Option<&'static str>,
    period: Period,
}

fn tracker_seed() -> BoxedStrategy<TrackerSeed> {
    (
        pick(MEASURES),
        pick(&[Aggregate::Sum, Aggregate::Max]),
        pick(CATEGORIES),
        valid_period(),
    )
        .prop_map(|(measure, aggregate, category, period)| TrackerSeed {
            measure,
            aggregate: if measure == Measure::Visits {
                Aggregate::Sum
            } else {
                aggregate
            },
            category,
            period,
        })
        .boxed()
}

fn tracker_config(id: String, t: &TrackerSeed) -> TrackerConfig {
    TrackerConfig {
        id,
        measure: t.measure,
        aggregate: t.aggregate,
        filter: t.category.map(|c| TrackerFilter {
            category: Some(c.to_owned()),
            min_order_amount: None,
        }),
        period: t.period,
    }
}

/// A threshold from 0.000001 to 10^15, mostly where random orders reach it.
fn threshold() -> BoxedStrategy<Decimal> {
    weighted(vec![
        (
            6,
            (1i64..=100_000, 0u32..=2)
                .prop_map(|(m, s)| Decimal::new(m, s))
                .boxed(),
        ),
        (
            3,
            (0u32..=6, 0u32..=21, any::<u128>())
                .prop_map(|(s, d, r)| log_uniform(s, d, r, true))
                .boxed(),
        ),
        (
            1,
            pick(&[
                "0.000001",
                "1000000000000000",
                "999999999999999.999999",
                "1",
            ])
            .prop_map(dec)
            .boxed(),
        ),
    ])
}

fn earn_rate() -> BoxedStrategy<Decimal> {
    weighted(vec![
        (
            6,
            pick(&["0.05", "0.1", "0.2", "0.3", "1", "2", "10"])
                .prop_map(dec)
                .boxed(),
        ),
        (
            2,
            (1i64..=1_000_000_000)
                .prop_map(|m| Decimal::new(m, 6))
                .boxed(),
        ),
        (
            1,
            pick(&["0.000001", "1000", "999.999999"])
                .prop_map(dec)
                .boxed(),
        ),
    ])
}

#[derive(Clone, Debug)]
struct CritSeed {
    kind: CriterionKind,
    tracker: usize,
    min: Decimal,
    own_type: Option<UpgradeType>,
}

#[derive(Clone, Debug)]
enum CondSeed {
    All,
    Any(u32),
    Custom(Gen, usize),
}

#[derive(Clone, Debug)]
struct TierSeed {
    earn: Decimal,
    criteria: Vec<CritSeed>,
    condition: CondSeed,
    upgrade_type: UpgradeType,
}

#[derive(Clone, Debug)]
struct ProgramSeed {
    currency: &'static str,
    start: DateTime<Utc>,
    expiry: Option<Period>,
    trackers: Vec<TrackerSeed>,
    tiers: Vec<TierSeed>,
}

fn crit_seed() -> BoxedStrategy<CritSeed> {
    (
        pick(KINDS),
        0usize..8,
        threshold(),
        maybe(30, pick(UPGRADE_TYPES)),
    )
        .prop_map(|(kind, tracker, min, own_type)| CritSeed {
            kind,
            tracker,
            min,
            own_type,
        })
        .boxed()
}

fn tier_seed() -> BoxedStrategy<TierSeed> {
    let condition = weighted(vec![
        (4, Just(CondSeed::All).boxed()),
        (3, (0u32..8).prop_map(CondSeed::Any).boxed()),
        (
            3,
            (gen_expr(), 0usize..4)
                .prop_map(|(g, s)| CondSeed::Custom(g, s))
                .boxed(),
        ),
    ]);
    (
        earn_rate(),
        prop::collection::vec(crit_seed(), 1..=MAX_CRITERIA),
        condition,
        pick(UPGRADE_TYPES),
    )
        .prop_map(|(earn, criteria, condition, upgrade_type)| TierSeed {
            earn,
            criteria,
            condition,
            upgrade_type,
        })
        .boxed()
}

fn start_date() -> BoxedStrategy<DateTime<Utc>> {
    weighted(vec![
        (
            6,
            Just(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()).boxed(),
        ),
        (
            2,
            (0i64..(2199 - 1970) * 365 * 86_400)
                .prop_map(|s| shift(earliest(), s))
                .boxed(),
        ),
        (
            1,
            pick(&[
                earliest(),
                Utc.with_ymd_and_hms(2199, 12, 31, 0, 0, 0).unwrap(),
                latest(),
                leap_second(),
            ]),
        ),
    ])
}

fn program_seed() -> BoxedStrategy<ProgramSeed> {
    (
        pick(&["USD", "EUR", "JPY"]),
        start_date(),
        maybe(70, valid_period()),
        weighted(vec![
            (6, prop::collection::vec(tracker_seed(), 0..=4).boxed()),
            (
                1,
                prop::collection::vec(tracker_seed(), 5..=MAX_TRACKERS).boxed(),
            ),
        ]),
        weighted(vec![
            (8, prop::collection::vec(tier_seed(), 1..=5).boxed()),
            (1, prop::collection::vec(tier_seed(), 6..=MAX_TIERS).boxed()),
        ]),
    )
        .prop_map(|(currency, start, expiry, trackers, tiers)| ProgramSeed {
            currency,
            start,
            expiry,
            trackers,
            tiers,
        })
        .boxed()
}

const IDS: [&str; 3] = ["A", "B", "C"];

fn config_of(seed: &ProgramSeed) -> ProgramConfig {
    let trackers: Vec<TrackerConfig> = seed
        .trackers
        .iter()
        .enumerate()
        .map(|(i, t)| tracker_config(format!("t{i}"), t))
        .collect();
    let tiers = seed
        .tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let n = t.criteria.len();
            let condition = match &t.condition {
                CondSeed::Any(k) if n >= 2 => ConditionConfig::Any(1 + k % (n as u32 - 1)),
                CondSeed::Custom(g, spelling) => {
                    let text = render(g, &IDS[..n], *spelling);
                    if text.chars().count() <= MAX_EXPRESSION_CHARS {
                        ConditionConfig::Custom(text)
                    } else {
                        ConditionConfig::All
                    }
                }
                _ => ConditionConfig::All,
            };
            let all = condition == ConditionConfig::All;
            let criteria = t
                .criteria
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let (kind, tracker) = match c.kind {
                        CriterionKind::Tracker if !trackers.is_empty() => {
                            (CriterionKind::Tracker, Some(c.tracker % trackers.len()))
                        }
                        CriterionKind::Tracker => (CriterionKind::LifetimePurchases, None),
                        k => (k, None),
                    };
                    let visits = tracker.is_some_and(|k| trackers[k].measure == Measure::Visits);
                    CriterionConfig {
                        id: IDS[j].to_owned(),
                        kind,
                        min: if visits {
                            c.min.trunc().max(Decimal::ONE)
                        } else {
                            c.min
                        },
                        tracker: tracker.map(|k| trackers[k].id.clone()),
                        upgrade_type: if all { c.own_type } else { None },
                        op: tier_engine::Op::Gte,
                        period: None,
                    }
                })
                .collect();
            TierConfig {
                name: format!("T{i}"),
                earn_rate: t.earn,
                upgrade: (i > 0).then_some(UpgradeRuleConfig {
                    criteria,
                    condition,
                    upgrade_type: t.upgrade_type,
                }),
                retention: None,
            }
        })
        .collect();
    ProgramConfig {
        currency: seed.currency.to_owned(),
        start_date: seed.start,
        points_expiry: seed.expiry,
        trackers,
        tiers,
        return_policy: None,
    }
}

// ---------------------------------------------------------------------------
// Target 4: configuration decoding and validation.
// ---------------------------------------------------------------------------

/// A JSON value and what it decodes to (`None`: it does not decode).
#[derive(Clone)]
struct Leaf<T> {
    json: String,
    value: Option<T>,
}

impl<T: fmt::Debug> fmt::Debug for Leaf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} => {:?}", clip(&self.json), self.value)
    }
}

fn leaf<T: Clone>(json: &str, value: Option<T>) -> Leaf<T> {
    Leaf {
        json: json.to_owned(),
        value,
    }
}

fn string_leaf(s: &str) -> Leaf<String> {
    Leaf {
        json: json_string(s),
        value: Some(s.to_owned()),
    }
}

#[derive(Clone, Debug)]
struct TrackerPlan {
    id: Leaf<String>,
    measure: Leaf<Measure>,
    aggregate: Option<Leaf<Aggregate>>,
    /// Absent; `Some(None)` is `null` (no filter); the category otherwise.
    filter: Option<Leaf<Option<String>>>,
    period: Leaf<Period>,
}

#[derive(Clone, Debug)]
struct CritPlan {
    id: Leaf<String>,
    kind: Leaf<CriterionKind>,
    min: Frag,
    tracker: Option<String>,
    own_type: Option<Leaf<UpgradeType>>,
}

#[derive(Clone, Debug)]
struct RulePlan {
    criteria: Vec<CritPlan>,
    condition: Leaf<ConditionConfig>,
    upgrade_type: Leaf<UpgradeType>,
}

#[derive(Clone, Debug)]
struct TierPlan {
    name: Leaf<String>,
    earn: Frag,
    upgrade: Option<RulePlan>,
}

#[derive(Clone, Debug)]
struct ConfigPlan {
    currency: Leaf<String>,
    start: Frag,
    expiry: Option<Leaf<Period>>,
    trackers: Vec<TrackerPlan>,
    tiers: Vec<TierPlan>,
    extra_key: bool,
}

fn period_ok(p: &Period) -> bool {
    match (p.days, p.months) {
        (Some(d), None) => (1..=MAX_PERIOD_DAYS).contains(&d),
        (None, Some(m)) => (1..=MAX_PERIOD_MONTHS).contains(&m),
        _ => false,
    }
}

fn period_leaf() -> BoxedStrategy<Leaf<Period>> {
    let count: BoxedStrategy<Leaf<Option<u32>>> = weighted(vec![
        (
            8,
            (1u32..=400)
                .prop_map(|n| leaf(&n.to_string(), Some(Some(n))))
                .boxed(),
        ),
        (
            2,
            pick(&[0u32, 1, 1200, 1201, 36_600, 36_601, u32::MAX])
                .prop_map(|n| leaf(&n.to_string(), Some(Some(n))))
                .boxed(),
        ),
        (
            1,
            pick(&[
                ("-1", None),
                ("1.5", None),
                ("4294967296", None),
                ("1e2", None),
                ("\"30\"", None),
                ("null", Some(None)),
                ("[]", None),
            ])
            .prop_map(|(j, v)| leaf(j, v))
            .boxed(),
        ),
    ]);
    let one = |key: &'static str| {
        let days = key == "days";
        move |c: Leaf<Option<u32>>| Leaf {
            json: format!("{{\"{key}\":{}}}", c.json),
            value: c.value.map(|n| Period {
                days: if days { n } else { None },
                months: if days { None } else { n },
                calendar: None,
            }),
        }
    };
    weighted(vec![
        (6, count.clone().prop_map(one("days")).boxed()),
        (6, count.clone().prop_map(one("months")).boxed()),
        (
            1,
            (count.clone(), count)
                .prop_map(|(d, m)| Leaf {
                    json: format!("{{\"days\":{},\"months\":{}}}", d.json, m.json),
                    value: d.value.zip(m.value).map(|(d, m)| Period {
                        days: d,
                        months: m,
                        calendar: None,
                    }),
                })
                .boxed(),
        ),
        (
            1,
            pick(&[
                (
                    "{}",
                    Some(Period {
                        days: None,
                        months: None,
                        calendar: None,
                    }),
                ),
                ("{\"weeks\":2}", None),
                ("\"30d\"", None),
                ("30", None),
                ("null", None),
            ])
            .prop_map(|(j, v)| leaf(j, v))
            .boxed(),
        ),
    ])
}

/// Mostly in range, sometimes anything `decimal_frag` makes.
fn config_decimal(range: Range) -> BoxedStrategy<Frag> {
    let good = match range {
        Range::EarnRate => earn_rate(),
        _ => threshold(),
    };
    weighted(vec![
        (
            8,
            (good, any::<bool>())
                .prop_map(move |(v, as_string)| {
                    let text = v.to_string();
                    Frag {
                        json: if as_string { json_string(&text) } else { text },
                        expect: Expect::bad_if(!range.accepts(v)),
                        value: Some(v),
                    }
                })
                .boxed(),
        ),
        (1, decimal_frag(range, false)),
    ])
}

fn config_string_leaf(
    good: BoxedStrategy<String>,
    hostile: &'static [&'static str],
) -> BoxedStrategy<Leaf<String>> {
    weighted(vec![
        (12, good.prop_map(|s| string_leaf(&s)).boxed()),
        (2, pick(hostile).prop_map(string_leaf).boxed()),
        (
            1,
            pick(&["x", "\u{e9}", "A"])
                .prop_flat_map(|c| {
                    pick(&[63usize, 64, 65, 128, 129, 100_000])
                        .prop_map(move |n| string_leaf(&c.repeat(n)))
                })
                .boxed(),
        ),
        (1, id_content().prop_map(|s| string_leaf(&s)).boxed()),
        (
            1,
            pick(&["null", "5", "[]", "{}", "true"])
                .prop_map(|j| leaf(j, None))
                .boxed(),
        ),
    ])
}

fn tracker_plan() -> BoxedStrategy<TrackerPlan> {
    let measure = weighted(vec![
        (
            10,
            pick(MEASURES)
                .prop_map(|m| leaf(&serde_json::to_string(&m).unwrap(), Some(m)))
                .boxed(),
        ),
        (
            1,
            pick(&["\"Visits\"", "\"bill_amount\"", "\"amount\"", "1", "null"])
                .prop_map(|j| leaf(j, None))
                .boxed(),
        ),
    ]);
    let aggregate = weighted(vec![
        (4, Just(None).boxed()),
        (
            8,
            pick(&[Aggregate::Sum, Aggregate::Max])
                .prop_map(|a| Some(leaf(&serde_json::to_string(&a).unwrap(), Some(a))))
                .boxed(),
        ),
        (
            1,
            pick(&["\"avg\"", "\"MAX\"", "null", "0"])
                .prop_map(|j| Some(leaf(j, None)))
                .boxed(),
        ),
    ]);
    let filter = weighted(vec![
        (6, Just(None).boxed()),
        (
            4,
            pick(&["shoes", "food", ""])
                .prop_map(|c| {
                    Some(Leaf {
                        json: format!("{{\"category\":{}}}", json_string(c)),
                        value: Some(Some(c.to_owned())),
                    })
                })
                .boxed(),
        ),
        (
            1,
            pick(&[
                ("null", Some(None)),
                ("{}", None),
                ("{\"category\":1}", None),
                ("{\"category\":\"a\",\"x\":1}", None),
                ("\"shoes\"", None),
            ])
            .prop_map(|(j, v)| Some(leaf(j, v)))
            .boxed(),
        ),
    ]);
    (
        config_string_leaf(
            Just("t".to_owned()).boxed(),
            &["", "t-1", "t_1", "a b", "t.1", "AND"],
        ),
        measure,
        aggregate,
        filter,
        period_leaf(),
    )
        .prop_map(|(id, measure, aggregate, filter, period)| TrackerPlan {
            id,
            measure,
            aggregate,
            filter,
            period,
        })
        .boxed()
}

fn enum_leaf<T: Serialize + Clone + fmt::Debug + 'static>(
    good: &[T],
    hostile: &'static [&'static str],
) -> BoxedStrategy<Leaf<T>> {
    weighted(vec![
        (
            12,
            pick(good)
                .prop_map(|v| leaf(&serde_json::to_string(&v).unwrap(), Some(v)))
                .boxed(),
        ),
        (1, pick(hostile).prop_map(|j| leaf(j, None)).boxed()),
    ])
}

#[derive(Clone, Debug)]
enum TrackerRef {
    Pick(usize),
    Named(&'static str),
}

fn crit_plan() -> BoxedStrategy<(CritPlan, Option<TrackerRef>, bool)> {
    let tracker = weighted(vec![
        (
            10,
            (0usize..10).prop_map(|i| Some(TrackerRef::Pick(i))).boxed(),
        ),
        (1, Just(None).boxed()),
        (
            1,
            pick(&["nope", "", "T0"])
                .prop_map(|n| Some(TrackerRef::Named(n)))
                .boxed(),
        ),
    ]);
    (
        config_string_leaf(
            pick(&["A", "B", "C", "X1"]).prop_map(String::from).boxed(),
            &["D", "AND", "or", "a b", "", "A-1", "A"],
        ),
        prop::bool::weighted(0.9),
        enum_leaf(KINDS, &["\"points\"", "\"Tracker\"", "null", "1"]),
        config_decimal(Range::Positive),
        tracker,
        prop::bool::weighted(0.05),
        maybe(25, enum_leaf(UPGRADE_TYPES, &["\"fast\"", "\"LAZY\"", "0"])),
    )
        .prop_map(
            |(id, positional, kind, min, tracker, odd_tracker, own_type)| {
                // Tracker criteria name a tracker, others none, except when odd.
                let is_tracker = kind.value == Some(CriterionKind::Tracker);
                let tracker = if is_tracker != odd_tracker {
                    tracker
                } else {
                    None
                };
                (
                    CritPlan {
                        id,
                        kind,
                        min,
                        tracker: None,
                        own_type,
                    },
                    tracker,
                    positional,
                )
            },
        )
        .boxed()
}

/// A condition, or a well-formed custom expression to render over the
/// rule's criterion ids once they are known.
type ConditionPlan = (Leaf<ConditionConfig>, Option<(Gen, usize)>);

fn condition_leaf() -> BoxedStrategy<ConditionPlan> {
    weighted(vec![
        (
            4,
            Just((leaf("\"all\"", Some(ConditionConfig::All)), None)).boxed(),
        ),
        (
            3,
            prop_oneof![0u32..=4, pick(&[u32::MAX])]
                .prop_map(|k| {
                    (
                        leaf(&format!("{{\"any\":{k}}}"), Some(ConditionConfig::Any(k))),
                        None,
                    )
                })
                .boxed(),
        ),
        (
            4,
            (gen_expr(), 0usize..4)
                .prop_map(|(g, s)| (leaf("", None), Some((g, s))))
                .boxed(),
        ),
        (
            1,
            expr_input()
                .prop_map(|e| {
                    let c = ConditionConfig::Custom(e.source);
                    (leaf(&serde_json::to_string(&c).unwrap(), Some(c)), None)
                })
                .boxed(),
        ),
        (
            1,
            pick(&[
                "\"any\"",
                "{\"any\":-1}",
                "{\"any\":1.5}",
                "{\"any\":4294967296}",
                "{\"custom\":5}",
                "null",
                "\"ALL\"",
                "{\"any\":1,\"custom\":\"A\"}",
            ])
            .prop_map(|j| (leaf(j, None), None))
            .boxed(),
        ),
    ])
}

fn rule_plan() -> BoxedStrategy<(RulePlan, Vec<Option<TrackerRef>>)> {
    (
        weighted(vec![
            (12, prop::collection::vec(crit_plan(), 1..=3).boxed()),
            (1, prop::collection::vec(crit_plan(), 0..=5).boxed()),
        ]),
        condition_leaf(),
        enum_leaf(UPGRADE_TYPES, &["\"Lazy\"", "\"instant\"", "null"]),
    )
        .prop_map(|(criteria, (mut condition, custom), upgrade_type)| {
            let mut refs = Vec::new();
            let mut out = Vec::new();
            for (j, (mut c, r, positional)) in criteria.into_iter().enumerate() {
                if positional {
                    c.id = string_leaf(["A", "B", "C", "D", "E"][j]);
                }
                refs.push(r);
                out.push(c);
            }
            if let Some((g, spelling)) = custom {
                let names: Vec<&str> = out
                    .iter()
                    .map(|c| c.id.value.as_deref().unwrap_or("?"))
                    .collect();
                let names = if names.is_empty() { vec!["A"] } else { names };
                let c = ConditionConfig::Custom(render(&g, &names, spelling));
                condition = leaf(&serde_json::to_string(&c).unwrap(), Some(c));
            }
            (
                RulePlan {
                    criteria: out,
                    condition,
                    upgrade_type,
                },
                refs,
            )
        })
        .boxed()
}

fn tier_plan() -> BoxedStrategy<(TierPlan, Vec<Option<TrackerRef>>, bool)> {
    (
        config_string_leaf(
            pick(&["Gold", "Silver", "T9"])
                .prop_map(String::from)
                .boxed(),
            &["", " ", "Gold", "T0", "\u{0}", "\u{540d}\u{524d}", "\t\n"],
        ),
        prop::bool::weighted(0.9),
        config_decimal(Range::EarnRate),
        maybe(97, rule_plan()),
    )
        .prop_map(|(name, positional, earn, rule)| {
            let (upgrade, refs) = match rule {
                Some((r, refs)) => (Some(r), refs),
                None => (None, Vec::new()),
            };
            (
                TierPlan {
                    name,
                    earn,
                    upgrade,
                },
                refs,
                positional,
            )
        })
        .boxed()
}

fn config_plan() -> BoxedStrategy<ConfigPlan> {
    let currency = weighted(vec![
        (
            10,
            pick(&["USD", "EUR", "JPY"]).prop_map(string_leaf).boxed(),
        ),
        (
            2,
            pick(&[
                "usd",
                "US",
                "USDD",
                "",
                "\u{20ac}\u{20ac}\u{20ac}",
                "\u{dc}SD",
                "U$D",
                "123",
            ])
            .prop_map(string_leaf)
            .boxed(),
        ),
        (
            1,
            pick(&["null", "840", "[]"])
                .prop_map(|j| leaf(j, None))
                .boxed(),
        ),
    ]);
    (
        currency,
        weighted(vec![
            (
                8,
                pick(&[
                    "\"2026-01-01T00:00:00Z\"",
                    "\"1970-01-01T00:00:00Z\"",
                    "\"2199-12-31T23:59:59Z\"",
                ])
                .prop_map(|j| Frag::new(j, Good))
                .boxed(),
            ),
            (2, date_frag()),
        ]),
        maybe(50, period_leaf()),
        weighted(vec![
            (
                10,
                prop::collection::vec((tracker_plan(), prop::bool::weighted(0.9)), 0..=3).boxed(),
            ),
            (
                1,
                prop::collection::vec((tracker_plan(), prop::bool::weighted(0.9)), 0..=10).boxed(),
            ),
        ]),
        weighted(vec![
            (10, prop::collection::vec(tier_plan(), 1..=4).boxed()),
            (1, prop::collection::vec(tier_plan(), 0..=40).boxed()),
        ]),
        prop::bool::weighted(0.95),
        prop::bool::weighted(0.02),
    )
        .prop_map(
            |(currency, start, expiry, trackers, tiers, base_plain, extra_key)| {
                let trackers: Vec<TrackerPlan> = trackers
                    .into_iter()
                    .enumerate()
                    .map(|(i, (mut t, positional))| {
                        if positional {
                            t.id = string_leaf(&format!("t{i}"));
                        }
                        t
                    })
                    .collect();
                let tracker_ids: Vec<String> = trackers
                    .iter()
                    .map(|t| t.id.value.clone().unwrap_or_default())
                    .collect();
                let tiers = tiers
                    .into_iter()
                    .enumerate()
                    .map(|(i, (mut t, refs, positional))| {
                        if positional {
                            t.name = string_leaf(&format!("T{i}"));
                        }
                        if i == 0 && base_plain {
                            t.upgrade = None;
                        }
                        if let Some(rule) = &mut t.upgrade {
                            for (c, r) in rule.criteria.iter_mut().zip(refs) {
                                c.tracker = r.map(|r| match r {
                                    TrackerRef::Pick(k) if !tracker_ids.is_empty() => {
                                        tracker_ids[k % tracker_ids.len()].clone()
                                    }
                                    TrackerRef::Pick(_) => "t0".to_owned(),
                                    TrackerRef::Named(n) => n.to_owned(),
                                });
                            }
                        }
                        t
                    })
                    .collect();
                ConfigPlan {
                    currency,
                    start,
                    expiry,
                    trackers,
                    tiers,
                    extra_key,
                }
            },
        )
        .boxed()
}

fn config_json(p: &ConfigPlan) -> String {
    let mut fields = vec![
        format!("\"currency\":{}", p.currency.json),
        format!("\"startDate\":{}", p.start.json),
    ];
    if let Some(x) = &p.expiry {
        fields.push(format!("\"pointsExpiry\":{}", x.json));
    }
    let trackers: Vec<String> = p
        .trackers
        .iter()
        .map(|t| {
            let mut f = vec![
                format!("\"id\":{}", t.id.json),
                format!("\"measure\":{}", t.measure.json),
            ];
            if let Some(a) = &t.aggregate {
                f.push(format!("\"aggregate\":{}", a.json));
            }
            if let Some(x) = &t.filter {
                f.push(format!("\"filter\":{}", x.json));
            }
            f.push(format!("\"period\":{}", t.period.json));
            format!("{{{}}}", f.join(","))
        })
        .collect();
    fields.push(format!("\"trackers\":[{}]", trackers.join(",")));
    let tiers: Vec<String> = p
        .tiers
        .iter()
        .map(|t| {
            let mut f = vec![
                format!("\"name\":{}", t.name.json),
                format!("\"earnRate\":{}", t.earn.json),
            ];
            if let Some(r) = &t.upgrade {
                let criteria: Vec<String> = r
                    .criteria
                    .iter()
                    .map(|c| {
                        let mut f = vec![
                            format!("\"id\":{}", c.id.json),
                            format!("\"kind\":{}", c.kind.json),
                            format!("\"min\":{}", c.min.json),
                        ];
                        if let Some(t) = &c.tracker {
                            f.push(format!("\"tracker\":{}", json_string(t)));
                        }
                        if let Some(u) = &c.own_type {
                            f.push(format!("\"upgradeType\":{}", u.json));
                        }
                        format!("{{{}}}", f.join(","))
                    })
                    .collect();
                f.push(format!(
                    "\"upgrade\":{{\"criteria\":[{}],\"condition\":{},\"upgradeType\":{}}}",
                    criteria.join(","),
                    r.condition.json,
                    r.upgrade_type.json
                ));
            }
            format!("{{{}}}", f.join(","))
        })
        .collect();
    fields.push(format!("\"tiers\":[{}]", tiers.join(",")));
    if p.extra_key {
        fields.push("\"version\":2".to_owned());
    }
    format!("{{{}}}", fields.join(","))
}

/// The configuration rules (README "Limits", docs of `Program::validate`),
/// written out: whether the plan must be accepted or refused.
fn config_expect(p: &ConfigPlan) -> Expect {
    let mut e = p.start.expect;
    let mut bad = |cond: bool| {
        if cond {
            e = Bad;
        }
    };
    match &p.currency.value {
        Some(c) => bad(!(c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase()))),
        None => bad(true),
    }
    if let Some(x) = &p.expiry {
        // `null` is no expiry, like an absent key.
        bad(x.json != "null" && !x.value.as_ref().is_some_and(period_ok));
    }
    bad(p.extra_key);
    bad(p.trackers.len() > MAX_TRACKERS);
    let mut ids = HashSet::new();
    for t in &p.trackers {
        match &t.id.value {
            Some(id) => bad(!config_id_ok(id) || !ids.insert(id.clone())),
            None => bad(true),
        }
        let aggregate = match &t.aggregate {
            None => Some(Aggregate::Sum),
            Some(a) => a.value,
        };
        bad(t.measure.value.is_none() || aggregate.is_none());
        bad(t.measure.value == Some(Measure::Visits) && aggregate == Some(Aggregate::Max));
        if let Some(f) = &t.filter {
            match &f.value {
                None => bad(true),
                Some(Some(c)) => bad(c.is_empty()),
                Some(None) => {}
            }
        }
        bad(!t.period.value.as_ref().is_some_and(period_ok));
    }
    bad(p.tiers.is_empty() || p.tiers.len() > MAX_TIERS);
    let mut names = HashSet::new();
    let mut decimals = Good;
    for (i, tier) in p.tiers.iter().enumerate() {
        match &tier.name.value {
            Some(n) => bad(n.trim().is_empty() || n.len() > 128 || !names.insert(n.clone())),
            None => bad(true),
        }
        decimals = decimals.and(tier.earn.expect);
        let rule = match (&tier.upgrade, i) {
            (Some(_), 0) | (None, 1..) => {
                bad(true);
                continue;
            }
            (None, 0) => continue,
            (Some(rule), _) => rule,
        };
        let n = rule.criteria.len();
        bad(n == 0 || n > MAX_CRITERIA);
        bad(rule.upgrade_type.value.is_none());
        let Some(condition) = &rule.condition.value else {
            bad(true);
            continue;
        };
        let mut crit_ids = HashSet::new();
        for c in &rule.criteria {
            match &c.id.value {
                Some(id) => bad(!config_id_ok(id)
                    || matches!(id.to_ascii_uppercase().as_str(), "AND" | "OR")
                    || !crit_ids.insert(id.clone())),
                None => bad(true),
            }
            decimals = decimals.and(c.min.expect);
            match (c.kind.value, &c.tracker) {
                (None, _) => bad(true),
                (Some(CriterionKind::Tracker), None) => bad(true),
                (Some(CriterionKind::Tracker), Some(name)) => {
                    match p
                        .trackers
                        .iter()
                        .find(|t| t.id.value.as_ref() == Some(name))
                    {
                        None => bad(true),
                        Some(t) => bad(t.measure.value == Some(Measure::Visits)
                            && c.min.value.is_some_and(|m| !m.fract().is_zero())),
                    }
                }
                (Some(_), Some(_)) => bad(true),
                (Some(_), None) => {}
            }
            if let Some(own) = &c.own_type {
                match own.value {
                    None => bad(true),
                    Some(own) => {
                        bad(Some(own) != rule.upgrade_type.value
                            && *condition != ConditionConfig::All)
                    }
                }
            }
        }
        let n = n.min(MAX_CRITERIA);
        match condition {
            ConditionConfig::All => {}
            ConditionConfig::Any(k) => bad(*k < 1 || *k as usize >= n.max(1)),
            ConditionConfig::Custom(source) => {
                let labels: Vec<&str> = rule
                    .criteria
                    .iter()
                    .take(n)
                    .map(|c| c.id.value.as_deref().unwrap_or(""))
                    .collect();
                bad(reference_parse(source, &labels).is_none());
            }
        }
    }
    e.and(decimals)
}

#[derive(Clone)]
struct ConfigInput {
    text: Vec<u8>,
    expect: Expect,
    how: &'static str,
}

impl fmt::Debug for ConfigInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ConfigInput {{ expect: {:?}, how: {}, text ({} bytes): {} }}",
            self.expect,
            self.how,
            self.text.len(),
            clip(&String::from_utf8_lossy(&self.text))
        )
    }
}

fn config_input() -> BoxedStrategy<ConfigInput> {
    let valid_text = program_seed().prop_map(|s| serde_json::to_string(&config_of(&s)).unwrap());
    weighted(vec![
        (
            12,
            config_plan()
                .prop_map(|p| ConfigInput {
                    text: config_json(&p).into_bytes(),
                    expect: config_expect(&p),
                    how: "planned",
                })
                .boxed(),
        ),
        (
            4,
            valid_text
                .clone()
                .prop_map(|t| ConfigInput {
                    text: t.into_bytes(),
                    expect: Good,
                    how: "valid program",
                })
                .boxed(),
        ),
        (
            2,
            (valid_text, mutation())
                .prop_map(|(t, m)| {
                    let doc = mutate(
                        Built {
                            json: t,
                            expect: Good,
                            values: Vec::new(),
                        },
                        &m,
                    );
                    ConfigInput {
                        text: doc.bytes,
                        expect: doc.expect,
                        how: "valid program, mutated",
                    }
                })
                .boxed(),
        ),
        (
            1,
            prop::collection::vec(any::<u8>(), 0..=300)
                .prop_map(|b| ConfigInput {
                    text: b,
                    expect: Unknown,
                    how: "random bytes",
                })
                .boxed(),
        ),
    ])
}

/// What `Program::validate` promises of a program it accepts.
fn check_program(config: &ProgramConfig, p: &Program) -> CaseResult {
    prop_assert_eq!(p.config(), config);
    let n = p.tiers().len();
    prop_assert!((1..=MAX_TIERS).contains(&n));
    prop_assert_eq!(n, config.tiers.len());
    prop_assert!(p.trackers().len() <= MAX_TRACKERS);
    prop_assert_eq!(p.trackers().len(), config.trackers.len());
    prop_assert!(p.currency().len() == 3 && p.currency().chars().all(|c| c.is_ascii_uppercase()));
    check_time("startDate", p.start_date())?;
    if let Some(x) = &config.points_expiry {
        prop_assert!(period_ok(x), "points expiry {:?}", x);
    }
    let mut ids = HashSet::new();
    for t in p.trackers() {
        prop_assert!(
            config_id_ok(&t.id) && ids.insert(t.id.clone()),
            "tracker id {:?}",
            t.id
        );
        prop_assert!(period_ok(&t.period), "tracker period {:?}", t.period);
        prop_assert!(!(t.measure == Measure::Visits && t.aggregate == Aggregate::Max));
        prop_assert!(t.category.as_ref().is_none_or(|c| !c.is_empty()));
    }
    let mut names = HashSet::new();
    for (i, tier) in p.tiers().iter().enumerate() {
        prop_assert!(
            !tier.name.trim().is_empty()
                && tier.name.len() <= 128
                && names.insert(tier.name.clone())
        );
        prop_assert!(
            Range::EarnRate.accepts(tier.earn_rate),
            "earn rate {}",
            tier.earn_rate
        );
        prop_assert_eq!(
            tier.rule.is_none(),
            i == 0,
            "only the base tier has no rule"
        );
        if let Some(rule) = &tier.rule {
            prop_assert!((1..=MAX_CRITERIA).contains(&rule.criteria.len()));
            for c in &rule.criteria {
                prop_assert!(Range::Positive.accepts(c.min), "threshold {}", c.min);
                prop_assert_eq!(c.kind == CriterionKind::Tracker, c.tracker.is_some());
                if let Some(k) = c.tracker {
                    prop_assert!(k < p.trackers().len());
                    if p.trackers()[k].measure == Measure::Visits {
                        prop_assert!(c.min.fract().is_zero());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Runs a few orders, a status and an expiry through a validated program:
/// any program `validate` accepts must work.
fn exercise(p: &Program) -> CaseResult {
    let start = p.start_date();
    let mut state = CustomerState::new(p, start);
    let categories: Vec<String> = p
        .trackers()
        .iter()
        .filter_map(|t| t.category.clone())
        .collect();
    let times = [
        start,
        shift(start, 86_400),
        shift(start, -86_400),
        shift(start, 400 * 86_400),
    ];
    let amounts = ["0", "0.01", "999.99", "1000000000000000"];
    for (i, (at, amount)) in times.iter().zip(amounts).enumerate() {
        let mut line_items: Vec<LineItem> = categories
            .iter()
            .map(|c| LineItem {
                sku: "s".into(),
                category: Some(c.clone()),
                price: dec("0.01"),
                quantity: Decimal::ONE,
            })
            .collect();
        line_items.push(LineItem {
            sku: "s".into(),
            category: None,
            price: dec(amount).min(dec("1000")),
            quantity: Decimal::TWO,
        });
        let order = Order {
            order_id: format!("o{i}"),
            customer_id: "c".into(),
            placed_at: *at,
            status: OrderStatus::Completed,
            amount: dec(amount),
            gross_amount: Some(dec(amount)),
            currency: Some(p.currency().to_owned()),
            line_items,
        };
        let applied = p
            .apply_order(&mut state, &order)
            .map_err(|e| fail(format!("a valid order was refused by a valid program: {e}")))?;
        prop_assert!(applied.decision.points >= Decimal::ZERO);
        prop_assert!(applied.decision.tier_after < p.tiers().len());
        let status = p.status(&state, *at);
        prop_assert!(status.tier < p.tiers().len());
    }
    p.expire(&mut state, latest());
    let _ = p.next_expiry(&state);
    prop_assert!(state.tier_index(p) < p.tiers().len());
    Ok(())
}

#[test]
fn fuzz_config_validation() {
    fuzz(
        "fuzz_config_validation",
        1000,
        &["valid", "refused at decoding", "refused by validation"],
        config_input(),
        |input, tally| {
            let verdict = match serde_json::from_slice::<ProgramConfig>(&input.text) {
                Err(e) => {
                    tally.add(1);
                    Err(format!("decoding: {e}"))
                }
                Ok(config) => match Program::validate(config.clone()) {
                    Ok(p) => Ok((config, p)),
                    Err(problems) => {
                        tally.add(2);
                        prop_assert!(!problems.is_empty(), "refused without a problem");
                        for pr in &problems {
                            prop_assert!(pr.path.starts_with('/'), "problem path {:?}", pr.path);
                            prop_assert!(!pr.code.is_empty() && !pr.message.is_empty());
                        }
                        Err(format!("{problems:?}"))
                    }
                },
            };
            check_verdict(input.expect, &verdict)?;
            if let Ok((config, p)) = verdict {
                tally.add(0);
                check_program(&config, &p)?;
                let text = serde_json::to_string(&config).unwrap();
                let back: ProgramConfig = serde_json::from_str(&text)
                    .map_err(|e| fail(format!("a valid config's own encoding is refused: {e}")))?;
                prop_assert_eq!(&back, &config);
                prop_assert!(Program::validate(back).is_ok());
                exercise(&p)?;
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Target 6: decisions over random programs and event sequences.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ItemSeed {
    category: Option<&'static str>,
    price: Decimal,
    quantity: Decimal,
}

#[derive(Clone, Debug)]
enum When {
    After(i64),
    Before(i64),
    Start,
    JustBeforeStart,
    At(DateTime<Utc>),
}

#[derive(Clone, Debug)]
enum Gross {
    None,
    Same,
    Plus(Decimal),
    Zero,
    Max,
    TooBig,
}

#[derive(Clone, Debug)]
struct OrderSeed {
    when: When,
    amount: Decimal,
    gross: Gross,
    /// 0: none, 1: the program's, 2: another.
    currency: u8,
    status: OrderStatus,
    items: Vec<ItemSeed>,
}

#[derive(Clone, Debug)]
enum ReturnHow {
    Whole,
    Part(u16),
    TooMuch,
    Zero,
    Tiny,
    Huge,
}

#[derive(Clone, Debug)]
enum RedeemHow {
    Fraction(u16),
    All,
    TooMany,
    ThreeDecimals,
    Negative,
    Zero,
}

#[derive(Clone, Debug)]
enum Op {
    Order(OrderSeed),
    Return {
        pick: Index,
        how: ReturnHow,
        after: i64,
    },
    Redeem(RedeemHow),
    Expire(i64),
    Status(i64),
    AddTracker(TrackerSeed, Option<(Decimal, UpgradeType)>),
}

/// 0 to 10^15 with up to 6 decimals, mostly everyday amounts; sometimes
/// beyond the limits (those orders must be refused).
fn amount() -> BoxedStrategy<Decimal> {
    weighted(vec![
        (
            18,
            (0i64..=10_000_000).prop_map(|c| Decimal::new(c, 2)).boxed(),
        ),
        (
            9,
            (0u32..=6, 0u32..=21, any::<u128>())
                .prop_map(|(s, d, r)| log_uniform(s, d, r, false))
                .boxed(),
        ),
        (
            3,
            pick(&[
                "0",
                "0.000001",
                "0.01",
                "1000000000000000",
                "999999999999999.999999",
            ])
            .prop_map(dec)
            .boxed(),
        ),
        (
            1,
            pick(&["1000000000000000.000001", "-0.01", "10000000000000000"])
                .prop_map(dec)
                .boxed(),
        ),
    ])
}

fn item_seed() -> BoxedStrategy<ItemSeed> {
    let price = weighted(vec![
        (
            6,
            (0i64..=1_000_000).prop_map(|c| Decimal::new(c, 2)).boxed(),
        ),
        (
            1,
            (0u32..=6, 0u32..=21, any::<u128>())
                .prop_map(|(s, d, r)| log_uniform(s, d, r, false))
                .boxed(),
        ),
        (
            1,
            pick(&["0", "1000000000000000", "0.000001", "1000000000"])
                .prop_map(dec)
                .boxed(),
        ),
    ]);
    let quantity = weighted(vec![
        (6, (1i64..=5).prop_map(Decimal::from).boxed()),
        (
            2,
            (1i64..=1_000_000_000_000)
                .prop_map(|m| Decimal::new(m, 6))
                .boxed(),
        ),
        (
            1,
            pick(&["1000000", "0.000001", "1", "1", "1", "1000000.000001", "0"])
                .prop_map(dec)
                .boxed(),
        ),
    ]);
    (
        pick(&[None, Some("shoes"), Some("food"), Some("other")]),
        price,
        quantity,
    )
        .prop_map(|(category, price, quantity)| ItemSeed {
            category,
            price,
            quantity,
        })
        .boxed()
}

fn order_seed() -> BoxedStrategy<OrderSeed> {
    let when = weighted(vec![
        (6, (0i64..=3 * 86_400).prop_map(When::After).boxed()),
        (2, (0i64..=400 * 86_400).prop_map(When::After).boxed()),
        (2, (0i64..=100 * 86_400).prop_map(When::Before).boxed()),
        (1, Just(When::Start).boxed()),
        (1, Just(When::JustBeforeStart).boxed()),
        (
            1,
            pick(&[earliest(), latest(), leap_second()])
                .prop_map(When::At)
                .boxed(),
        ),
    ]);
    let gross = weighted(vec![
        (6, Just(Gross::None).boxed()),
        (3, Just(Gross::Same).boxed()),
        (
            2,
            (0i64..=10_000)
                .prop_map(|c| Gross::Plus(Decimal::new(c, 2)))
                .boxed(),
        ),
        (1, pick(&[Gross::Zero, Gross::Max, Gross::TooBig])),
    ]);
    let items = weighted(vec![
        (12, prop::collection::vec(item_seed(), 0..=3).boxed()),
        (
            1,
            (item_seed(), 990usize..=1001)
                .prop_map(|(i, n)| vec![i; n])
                .boxed(),
        ),
    ]);
    (
        when,
        amount(),
        gross,
        weighted(vec![
            (15, Just(0u8).boxed()),
            (14, Just(1u8).boxed()),
            (1, Just(2u8).boxed()),
        ]),
        weighted(vec![
            (28, Just(OrderStatus::Completed).boxed()),
            (1, Just(OrderStatus::Pending).boxed()),
            (1, Just(OrderStatus::Cancelled).boxed()),
        ]),
        items,
    )
        .prop_map(|(when, amount, gross, currency, status, items)| OrderSeed {
            when,
            amount,
            gross,
            currency,
            status,
            items,
        })
        .boxed()
}

fn op() -> BoxedStrategy<Op> {
    let how = weighted(vec![
        (4, Just(ReturnHow::Whole).boxed()),
        (5, (1u16..=1000).prop_map(ReturnHow::Part).boxed()),
        (
            1,
            pick(&[
                ReturnHow::TooMuch,
                ReturnHow::Zero,
                ReturnHow::Tiny,
                ReturnHow::Huge,
            ]),
        ),
    ]);
    let redeem = weighted(vec![
        (4, (0u16..=1000).prop_map(RedeemHow::Fraction).boxed()),
        (1, Just(RedeemHow::All).boxed()),
        (
            1,
            pick(&[
                RedeemHow::TooMany,
                RedeemHow::ThreeDecimals,
                RedeemHow::Negative,
                RedeemHow::Zero,
            ]),
        ),
    ]);
    weighted(vec![
        (10, order_seed().prop_map(Op::Order).boxed()),
        (
            4,
            (any::<Index>(), how, -86_400i64..=60 * 86_400)
                .prop_map(|(pick, how, after)| Op::Return { pick, how, after })
                .boxed(),
        ),
        (2, redeem.prop_map(Op::Redeem).boxed()),
        (
            2,
            prop_oneof![
                0i64..=100 * 86_400,
                0i64..=40 * 365 * 86_400,
                -30 * 86_400i64..=0
            ]
            .prop_map(Op::Expire)
            .boxed(),
        ),
        (
            1,
            (-400 * 86_400i64..=400 * 86_400)
                .prop_map(Op::Status)
                .boxed(),
        ),
        (
            1,
            (
                tracker_seed(),
                maybe(60, (threshold(), pick(UPGRADE_TYPES))),
            )
                .prop_map(|(t, tier)| Op::AddTracker(t, tier))
                .boxed(),
        ),
    ])
}

fn build_order(
    seed: &OrderSeed,
    step: usize,
    config: &ProgramConfig,
    previous: DateTime<Utc>,
) -> Order {
    let placed_at = match &seed.when {
        When::After(s) => shift(previous, *s),
        When::Before(s) => shift(previous, -*s),
        When::Start => config.start_date,
        When::JustBeforeStart => config
            .start_date
            .checked_sub_signed(Duration::nanoseconds(1))
            .unwrap_or(config.start_date)
            .clamp(earliest(), latest()),
        When::At(t) => *t,
    };
    let gross_amount = match &seed.gross {
        Gross::None => None,
        Gross::Same => Some(seed.amount),
        Gross::Plus(x) => Some(seed.amount + x),
        Gross::Zero => Some(Decimal::ZERO),
        Gross::Max => Some(max_figure()),
        Gross::TooBig => Some(max_figure() + Decimal::ONE),
    };
    Order {
        order_id: format!("o{step}"),
        customer_id: "c".into(),
        placed_at,
        status: seed.status,
        amount: seed.amount,
        gross_amount,
        currency: match seed.currency {
            0 => None,
            1 => Some(config.currency.clone()),
            _ => Some("XXX".into()),
        },
        line_items: seed
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| LineItem {
                sku: format!("s{i}"),
                category: it.category.map(str::to_owned),
                price: it.price,
                quantity: it.quantity,
            })
            .collect(),
    }
}

/// README "Limits" and the order rules, written out.
fn order_acceptable(o: &Order, config: &ProgramConfig) -> bool {
    let max = max_figure();
    let figure = |v: Decimal| v >= Decimal::ZERO && v <= max;
    o.status == OrderStatus::Completed
        && o.currency.as_ref().is_none_or(|c| *c == config.currency)
        && figure(o.amount)
        && o.gross_amount.is_none_or(figure)
        && o.line_items.len() <= MAX_LINE_ITEMS
        && o.line_items.iter().all(|i| {
            figure(i.price)
                && i.quantity > Decimal::ZERO
                && i.quantity <= Decimal::from(MAX_QUANTITY)
        })
        && o.line_items
            .iter()
            .map(|i| i.price * i.quantity)
            .sum::<Decimal>()
            <= max
        && in_event_range(o.placed_at)
}

fn round_points(v: Decimal) -> Decimal {
    v.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn check_decision(
    p: &Program,
    before: &CustomerState,
    after: &CustomerState,
    order: &Order,
    orders: &[OrderRecord],
    applied: &AppliedOrder,
) -> CaseResult {
    let d = &applied.decision;
    let n = p.tiers().len();
    prop_assert!(d.points >= Decimal::ZERO, "negative points {}", d.points);
    let held_now = before.tier_index(p);
    // A late order is decided at the lower tier held at its instant, after
    // which the customer changed tier (the history's tier then, or one the
    // orders show a late order crossed to in time).
    // One placed while a higher tier was held, which a return took away
    // since, is decided at that tier (src/down_since.rs): a move down by a
    // return since its instant, and every change since a return's or an
    // order's (a later order may have lifted them to it again: held then
    // and now). Its changes, if any, move the customer back from the tier
    // held now, from the latest change since on.
    // A change dated before the one listed before it replaces what came
    // after its instant (README, "a change dated back").
    let mut standing: Vec<&TierChange> = Vec::new();
    for c in &before.history {
        while standing.last().is_some_and(|kept| kept.at > c.at) {
            standing.pop();
        }
        standing.push(c);
    }
    // A return at the order's instant came after it, any other change of
    // that instant before it.
    let by_a_return = |c: &TierChange| !c.admin && c.cause.starts_with("return");
    let by_an_order = |c: &TierChange| !c.admin && c.cause.starts_with("order ");
    let first_after = standing
        .iter()
        .position(|c| c.at > order.placed_at || (c.at == order.placed_at && by_a_return(c)));
    let (then, since) = match first_after {
        Some(i) => (i.checked_sub(1).map(|b| standing[b]), &standing[i..]),
        None => (standing.last().copied(), &standing[standing.len()..]),
    };
    let no_end_after = before
        .judged
        .as_ref()
        .is_none_or(|j| j.at < order.placed_at);
    let sign = no_end_after
        && since.iter().any(|c| by_a_return(c))
        && since.iter().all(|c| by_a_return(c) || by_an_order(c));
    let held_then_and_now = sign
        // With no change before it, the base tier.
        && then.map_or(p.tier_name(0), |c| c.to.as_str()) == before.tier
        && d.tier_before == held_now
        && d.upgrades.is_empty();
    let moved_down_since = d.tier_before > held_now || held_then_and_now;
    // The replay in time set the tier right (`replay.rs`): the decision's
    // own changes taken back, its change ends the history, or nothing is
    // told where the tier held in time is the one told before.
    let replays_change = after
        .history
        .last()
        .is_some_and(|c| c.cause == format!("late order {}", order.order_id))
        && after.history.len() > before.history.len();
    let upgrades_taken_back = !d.upgrades.is_empty() && after.history == before.history;
    // Or it told the course in time where the history's line parted from
    // it (`course_set_right.rs`): dated where each change came in time,
    // setting aside what was told after, and ending on the tier held.
    if applied.course_set_right {
        prop_assert_eq!(&after.history[..before.history.len()], &before.history[..]);
        let mut line: Vec<&TierChange> = Vec::new();
        for c in &after.history {
            while line.last().is_some_and(|kept| kept.at > c.at) {
                line.pop();
            }
            line.push(c);
        }
        prop_assert!(
            line.last().is_some_and(|c| c.to == after.tier),
            "the course told ends on the tier held: {:?}",
            after.history
        );
    }
    let set_right = replays_change || upgrades_taken_back || applied.course_set_right;
    if moved_down_since {
        // Late, or at the instant of the latest return (which came after).
        prop_assert!(before
            .last_event_at
            .is_some_and(|last| order.placed_at <= last));
        prop_assert!(
            sign,
            "decided at a higher tier without a move down by a return since: {:?}",
            before.history
        );
        prop_assert!(d.upgrades.is_empty());
        // The moves back: the changes this order published, from the tier
        // held now, in time order from the latest change since; a step up
        // the order's, a step down a return's made at its instant (in time
        // it moved them). They end the history.
        let moves_back: Vec<&TierChange> = after
            .outbox
            .notices()
            .iter()
            .filter(|n| n.seq > before.notices_sent)
            .filter_map(|n| match &n.kind {
                NoticeKind::Changed { change, .. } => Some(change),
                NoticeKind::AtRisk { .. } => None,
            })
            .collect();
        let tail = &after.history[after.history.len().saturating_sub(moves_back.len())..];
        prop_assert!(
            applied.course_set_right || tail.iter().eq(moves_back.iter().copied()),
            "the moves back end the history: {:?}",
            after.history
        );
        let mut at = since.last().unwrap().at;
        let (mut tier, checked_in_order) = match applied.course_set_right {
            // Checked above, as every course told as in time.
            true => (p.tier_name(d.tier_after), &[][..]),
            false => (p.tier_name(held_now), &moves_back[..]),
        };
        for c in checked_in_order {
            prop_assert!(c.from != c.to, "no renewal among the moves back: {:?}", c);
            if set_right && std::ptr::eq(*c, *moves_back.last().unwrap()) {
                // The replay's change, dated where the tier was reached in
                // time.
                prop_assert_eq!(&c.cause, &format!("late order {}", order.order_id));
                tier = c.to.as_str();
                continue;
            }
            if p.tier_index(&c.to) > p.tier_index(&c.from) {
                prop_assert_eq!(&c.cause, &format!("order {}", order.order_id));
            } else {
                let returned = c
                    .cause
                    .strip_prefix("return of order ")
                    .and_then(|id| orders.iter().find(|o| o.order_id == id));
                prop_assert!(
                    returned.is_some_and(|o| o.returns.iter().any(|r| r.at == c.at)),
                    "a step down names an order returned at its instant: {:?}",
                    c
                );
            }
            prop_assert_eq!(c.from.as_str(), tier);
            prop_assert!(c.at >= at, "moves back in time order: {:?}", after.history);
            tier = c.to.as_str();
            at = c.at;
        }
        prop_assert_eq!(tier, p.tier_name(d.tier_after));
    }
    if d.tier_before < held_now {
        prop_assert!(before
            .last_event_at
            .is_some_and(|last| order.placed_at < last));
        prop_assert!(
            before.history.iter().any(|c| c.at > order.placed_at),
            "decided at a lower tier with no change after its instant"
        );
    }
    prop_assert!(d.tier_after < n && (d.tier_after >= held_now || set_right));
    let paid: Decimal = d.segments.iter().map(|s| s.points).sum();
    prop_assert_eq!(d.points, paid, "points are the segments' points");
    let covered: Decimal = d.segments.iter().map(|s| s.amount).sum();
    prop_assert_eq!(covered, order.amount, "segments cover the order");
    let mut tier = d.tier_before;
    for s in &d.segments {
        prop_assert!(s.amount > Decimal::ZERO && s.points >= Decimal::ZERO);
        prop_assert!(s.tier < n && s.tier >= tier, "segment tiers only go up");
        prop_assert_eq!(s.rate, p.tiers()[s.tier].earn_rate);
        tier = s.tier;
    }
    // Upgrades change the customer from the tier held now.
    let mut at = held_now;
    for u in &d.upgrades {
        prop_assert_eq!(u.from, at, "upgrades chain");
        prop_assert!(u.to > u.from && u.to < n);
        at = u.to;
    }
    if at != d.tier_after && !moved_down_since && !set_right {
        // A late order decided on the orders as they stood at its instant
        // upgraded, and returns made since move the customer down again:
        // the upgrades stand in the history, followed by the move.
        prop_assert!(d.tier_after < at);
        let last = after.history.last();
        prop_assert!(
            last.is_some_and(|c| c.to == p.tier_name(d.tier_after) && c.cause.contains("return")),
            "an upgraded order ends below its upgrades without a move by returns: {:?}",
            last
        );
    }
    if d.upgrades.is_empty() && d.tier_before < held_now {
        // In time it may have crossed to a tier reached since.
        prop_assert!(d.segments.iter().all(|s| s.tier <= held_now));
    } else if d.upgrades.is_empty() && !moved_down_since {
        prop_assert!(d.segments.iter().all(|s| s.tier == d.tier_before));
        let expected = round_points(order.amount * p.tiers()[d.tier_before].earn_rate);
        prop_assert_eq!(d.points, expected, "points at the held tier's rate");
    }
    prop_assert_eq!(&after.tier, p.tier_name(d.tier_after));
    let r = &applied.record;
    prop_assert_eq!(r.points_awarded, d.points);
    prop_assert_eq!(r.amount, order.amount);
    prop_assert!(r.returned_amount.is_zero() && r.points_reversed.is_zero());
    let counted = if order.placed_at >= p.start_date() {
        order.amount
    } else {
        Decimal::ZERO
    };
    prop_assert_eq!(r.counts_for_purchases, order.placed_at >= p.start_date());
    prop_assert_eq!(
        after.lifetime_purchases,
        before.lifetime_purchases + counted
    );
    prop_assert_eq!(after.lifetime_points, before.lifetime_points + d.points);
    prop_assert_eq!(after.orders_applied, before.orders_applied + 1);
    Ok(())
}

/// Invariants of any state the engine produced.
fn check_state(
    p: &Program,
    s: &CustomerState,
    redeemed: Decimal,
    expired: Decimal,
    unrecovered: Decimal,
) -> CaseResult {
    prop_assert!(
        p.tier_index(&s.tier).is_some(),
        "tier {:?} is not in the program",
        s.tier
    );
    prop_assert!(s.tier_index(p) < p.tiers().len());
    prop_assert_eq!(s.trackers.len(), p.trackers().len());
    for (series, t) in s.trackers.iter().zip(p.trackers()) {
        prop_assert_eq!(&series.key, &t.key);
    }
    prop_assert_eq!(
        s.current_points,
        s.lifetime_points - redeemed - expired + unrecovered,
        "current = lifetime - redeemed - expired + returned points that had expired"
    );
    prop_assert!(s.lifetime_points >= Decimal::ZERO);
    prop_assert!(s.lifetime_purchases >= Decimal::ZERO);
    prop_assert!(
        s.lots.iter().all(|l| l.points > Decimal::ZERO),
        "lots {:?}",
        s.lots
    );
    prop_assert!(s
        .lots
        .iter()
        .zip(s.lots.iter().skip(1))
        .all(|(a, b)| a.day < b.day));
    prop_assert!(s.best_orders.windows(2).all(|w| w[0].net >= w[1].net));
    prop_assert!(s.best_orders.iter().all(|b| b.net > Decimal::ZERO));
    Ok(())
}

/// A tracker's window value at `now`, from the order records alone; `None`
/// where it would need the rounding of a partial return's share.
fn expected_tracker(
    t: &tier_engine::program::Tracker,
    records: &[OrderRecord],
    now: DateTime<Utc>,
) -> Option<Decimal> {
    let today = day_of(now);
    let first = t.period.window_first_day(today);
    let (mut sum, mut max) = (Decimal::ZERO, Decimal::ZERO);
    for r in records {
        let day = day_of(r.placed_at);
        if day < first || day > today {
            continue;
        }
        let category_total = match &t.category {
            Some(c) => match r.category_total(c) {
                Some(v) => v,
                None => continue,
            },
            None => r.line_items_total,
        };
        let whole = r.returned_amount > Decimal::ZERO && r.returned_amount >= r.amount;
        let untouched = r.returned_amount.is_zero();
        let share = |v: Decimal| {
            if untouched {
                Some(v)
            } else if whole {
                Some(Decimal::ZERO)
            } else {
                None
            }
        };
        let kept = match t.measure {
            Measure::Visits => {
                if whole {
                    Decimal::ZERO
                } else {
                    Decimal::ONE
                }
            }
            Measure::BillAmount => r.amount - r.returned_amount.min(r.amount),
            Measure::GrossBillAmount => share(r.gross_amount)?,
            Measure::LineItemPrice => share(category_total)?,
            Measure::Points => share(r.points_awarded)?,
        };
        sum += kept;
        max = max.max(kept);
    }
    Some(match t.aggregate {
        Aggregate::Sum => sum,
        Aggregate::Max => max,
    })
}

fn check_trackers(
    p: &Program,
    s: &CustomerState,
    records: &[OrderRecord],
    now: DateTime<Utc>,
) -> CaseResult {
    let status = p.status(s, now);
    for (t, (id, value)) in p.trackers().iter().zip(&status.trackers) {
        prop_assert_eq!(&t.id, id);
        if let Some(expected) = expected_tracker(t, records, now) {
            prop_assert_eq!(
                *value,
                expected,
                "tracker {} ({:?} {:?} {:?}) at {}",
                id,
                t.measure,
                t.aggregate,
                t.category,
                now
            );
        }
    }
    Ok(())
}

fn check_status(p: &Program, s: &CustomerState, st: &Status) -> CaseResult {
    let n = p.tiers().len();
    prop_assert_eq!(st.tier, s.tier_index(p));
    prop_assert_eq!(st.trackers.len(), p.trackers().len());
    let mut previous = st.tier;
    for tp in &st.progress {
        prop_assert!(
            tp.tier > previous && tp.tier < n,
            "progress tiers above, in order"
        );
        previous = tp.tier;
        for c in &tp.criteria {
            prop_assert!(c.remaining >= Decimal::ZERO);
            prop_assert_eq!(c.met, c.actual >= c.required, "criterion {} met", &c.id);
            if c.met {
                prop_assert!(c.remaining.is_zero());
            } else if c.kind == CriterionKind::SingleOrder {
                // One order of the whole threshold: no order adds to another.
                prop_assert_eq!(c.remaining, c.required);
                prop_assert!(c.needs.is_some());
            } else {
                prop_assert_eq!(c.remaining, c.required - c.actual);
            }
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
struct DecisionInput {
    program: ProgramSeed,
    ops: Vec<Op>,
}

fn decision_input() -> BoxedStrategy<DecisionInput> {
    (program_seed(), prop::collection::vec(op(), 1..=24))
        .prop_map(|(program, ops)| DecisionInput { program, ops })
        .boxed()
}

const DECISION_LABELS: &[&str] = &[
    "orders applied",
    "orders refused",
    "returns applied",
    "upgrades",
    "downgrades",
    "redemptions",
    "trackers rebuilt",
    "points expired",
    "late orders decided at the tier held then",
];

fn run_decision(input: &DecisionInput, tally: &Tally) -> CaseResult {
    let mut config = config_of(&input.program);
    let mut p = Program::validate(config.clone())
        .map_err(|ps| fail(format!("a valid program was refused: {ps:?}")))?;
    let mut state = CustomerState::new(&p, config.start_date);
    let mut records: Vec<OrderRecord> = Vec::new();
    // The latest instant any event or job carried so far.
    let mut clock = config.start_date;
    let mut previous = config.start_date;
    let (mut redeemed, mut expired) = (Decimal::ZERO, Decimal::ZERO);
    // Points a return reversed from lifetime points only: they had expired.
    let mut unrecovered = Decimal::ZERO;
    // The engine expires what is due before every event; doing it here
    // first keeps the books (its own expiry then finds nothing more).
    fn expire_before(
        p: &Program,
        state: &mut CustomerState,
        at: DateTime<Utc>,
        expired: &mut Decimal,
    ) {
        *expired += p.expire(state, at).points;
    }
    let mut added = 0;
    for (step, op) in input.ops.iter().enumerate() {
        match op {
            Op::Order(seed) => {
                let order = build_order(seed, step, &config, previous);
                let acceptable = order_acceptable(&order, &config);
                if acceptable {
                    expire_before(&p, &mut state, order.placed_at, &mut expired);
                }
                let before = state.clone();
                // As the service: decided again among the customer's
                // orders when the engine wants them.
                let outcome = match p.apply_order(&mut state, &order) {
                    Ok(a) if a.wants_orders => {
                        state = before.clone();
                        p.apply_order_among(&mut state, &order, &records)
                    }
                    other => other,
                };
                match outcome {
                    Ok(applied) => {
                        prop_assert!(
                            acceptable,
                            "an order beyond the documented rules was applied"
                        );
                        check_decision(&p, &before, &state, &order, &records, &applied)?;
                        tally.add(0);
                        if !applied.decision.upgrades.is_empty() {
                            tally.add(3);
                        }
                        if applied.decision.tier_before < before.tier_index(&p) {
                            tally.add(8);
                        }
                        records.push(applied.record);
                        clock = clock.max(order.placed_at);
                        previous = order.placed_at;
                    }
                    Err(e) => {
                        tally.add(1);
                        prop_assert!(!acceptable, "a valid order was refused: {}", e);
                        prop_assert_eq!(&state, &before, "a refused order changed the state");
                    }
                }
            }
            Op::Return { pick, how, after } => {
                if records.is_empty() {
                    continue;
                }
                let i = pick.index(records.len());
                let remaining = records[i].remaining();
                let amount = match how {
                    ReturnHow::Whole => None,
                    ReturnHow::Part(pm) => {
                        Some((remaining * Decimal::from(*pm) / Decimal::from(1000)).round_dp(6))
                    }
                    ReturnHow::TooMuch => Some(remaining + dec("0.000001")),
                    ReturnHow::Zero => Some(Decimal::ZERO),
                    ReturnHow::Tiny => Some(dec("0.000001")),
                    ReturnHow::Huge => Some(max_figure() + Decimal::ONE),
                };
                let returned_at = shift(records[i].placed_at, *after);
                // A return before its order was placed is refused.
                let acceptable = returned_at >= records[i].placed_at
                    && match amount {
                        None => remaining > Decimal::ZERO,
                        Some(a) => a > Decimal::ZERO && a <= max_figure() && a <= remaining,
                    };
                let ret = Return {
                    return_id: format!("r{step}"),
                    order_id: records[i].order_id.clone(),
                    customer_id: "c".into(),
                    returned_at,
                    amount,
                };
                if acceptable {
                    expire_before(&p, &mut state, ret.returned_at, &mut expired);
                }
                let before = state.clone();
                let record_before = records[i].clone();
                let others = records.clone();
                match p.apply_return(&mut state, &mut records[i], &ret, &others) {
                    Ok(back) => {
                        prop_assert!(acceptable, "a return beyond the rules was applied");
                        tally.add(2);
                        let from_current = before.current_points - state.current_points;
                        let had_expired = p.config().points_expiry.is_some_and(|e| {
                            e.window_leaves(record_before.placed_at.date_naive().num_days_from_ce())
                                <= ret.returned_at.date_naive().num_days_from_ce()
                        });
                        if had_expired {
                            prop_assert_eq!(
                                from_current,
                                Decimal::ZERO,
                                "expired points are never taken back"
                            );
                            unrecovered += back.points_reversed;
                        } else {
                            // Made before its points expired but applied
                            // after: what expiry took since is not taken
                            // from current points again.
                            let remembered = |s: &CustomerState| -> Decimal {
                                s.expired_lots.iter().map(|l| l.points).sum()
                            };
                            let covered = remembered(&before) - remembered(&state);
                            prop_assert!(covered >= Decimal::ZERO);
                            prop_assert!(covered <= back.points_reversed);
                            prop_assert_eq!(from_current + covered, back.points_reversed);
                            unrecovered += covered;
                        }
                        check_return(
                            &p,
                            &before,
                            &state,
                            &record_before,
                            &records[i],
                            &back,
                            amount,
                        )?;
                        if back.downgrade.is_some() {
                            tally.add(4);
                        }
                        clock = clock.max(ret.returned_at);
                    }
                    Err(e) => {
                        prop_assert!(!acceptable, "a valid return was refused: {}", e);
                        prop_assert_eq!(&state, &before, "a refused return changed the state");
                        prop_assert_eq!(
                            &records[i],
                            &record_before,
                            "a refused return changed the record"
                        );
                    }
                }
            }
            Op::Redeem(how) => {
                expire_before(&p, &mut state, clock, &mut expired);
                let current = state.current_points;
                let points = match how {
                    RedeemHow::Fraction(f) => (current.max(Decimal::ZERO) * Decimal::from(*f)
                        / Decimal::from(1000))
                    .round_dp_with_strategy(2, RoundingStrategy::ToZero),
                    RedeemHow::All => current,
                    RedeemHow::TooMany => current.max(Decimal::ZERO) + dec("0.01"),
                    RedeemHow::ThreeDecimals => dec("0.001"),
                    RedeemHow::Negative => -Decimal::ONE,
                    RedeemHow::Zero => Decimal::ZERO,
                };
                let acceptable = Range::Points.accepts(points) && points <= current;
                let r = Redemption {
                    redemption_id: format!("x{step}"),
                    points,
                    at: clock,
                };
                let before = state.clone();
                match p.redeem(&mut state, &r) {
                    Ok(()) => {
                        prop_assert!(
                            acceptable,
                            "a redemption beyond the rules was applied: {}",
                            points
                        );
                        tally.add(5);
                        prop_assert_eq!(state.current_points, before.current_points - points);
                        prop_assert!(state.current_points >= Decimal::ZERO);
                        prop_assert_eq!(state.lifetime_points, before.lifetime_points);
                        redeemed += points;
                    }
                    Err(e) => {
                        prop_assert!(
                            !acceptable,
                            "a valid redemption of {} was refused: {}",
                            points,
                            e
                        );
                        prop_assert_eq!(&state, &before, "a refused redemption changed the state");
                    }
                }
            }
            Op::Expire(seconds) => {
                let now = shift(clock, *seconds);
                let before = state.clone();
                let e = p.expire(&mut state, now);
                prop_assert!(e.points >= Decimal::ZERO);
                prop_assert_eq!(state.current_points, before.current_points - e.points);
                prop_assert_eq!(state.lifetime_points, before.lifetime_points);
                prop_assert_eq!(&state.tier, &before.tier, "expiry never changes the tier");
                if !e.points.is_zero() {
                    tally.add(7);
                }
                expired += e.points;
                let once = state.clone();
                let again = p.expire(&mut state, now);
                prop_assert!(
                    !again.changed(),
                    "expiring twice for the same moment: {:?}",
                    again
                );
                prop_assert_eq!(&state, &once);
                let _ = p.next_expiry(&state);
                clock = clock.max(now);
            }
            Op::Status(seconds) => {
                let at = shift(clock, *seconds);
                let st = p.status(&state, at);
                check_status(&p, &state, &st)?;
            }
            Op::AddTracker(seed, tier) => {
                let id = format!("n{added}");
                added += 1;
                let mut next = config.clone();
                next.trackers.push(tracker_config(id.clone(), seed));
                if let Some((min, kind)) = tier {
                    let min = if seed.measure == Measure::Visits {
                        min.trunc().max(Decimal::ONE)
                    } else {
                        *min
                    };
                    next.tiers.push(TierConfig {
                        name: format!("N{added}"),
                        earn_rate: Decimal::ONE,
                        upgrade: Some(UpgradeRuleConfig {
                            criteria: vec![CriterionConfig {
                                id: "A".into(),
                                kind: CriterionKind::Tracker,
                                min,
                                tracker: Some(id),
                                upgrade_type: None,
                                op: tier_engine::Op::Gte,
                                period: None,
                            }],
                            condition: ConditionConfig::All,
                            upgrade_type: *kind,
                        }),
                        retention: None,
                    });
                }
                let too_many = next.trackers.len() > MAX_TRACKERS || next.tiers.len() > MAX_TIERS;
                match Program::validate(next.clone()) {
                    Err(ps) => {
                        prop_assert!(too_many, "adding a valid tracker was refused: {:?}", ps);
                        continue;
                    }
                    Ok(q) => {
                        prop_assert!(!too_many, "a program beyond the limits was accepted");
                        let missing = state.align(&q);
                        prop_assert_eq!(
                            &missing,
                            &vec![q.trackers().len() - 1],
                            "only the new tracker needs a rebuild"
                        );
                        for t in missing {
                            q.rebuild_tracker(&mut state, t, &records, clock);
                            tally.add(6);
                        }
                        p = q;
                        config = next;
                    }
                }
            }
        }
        check_state(&p, &state, redeemed, expired, unrecovered)?;
        check_trackers(&p, &state, &records, clock)?;
    }

    // The state survives its stored form (JSON) with every derived index.
    let text =
        serde_json::to_string(&state).map_err(|e| fail(format!("state not encodable: {e}")))?;
    let back: CustomerState = serde_json::from_str(&text)
        .map_err(|e| fail(format!("the state's own encoding is refused: {e}")))?;
    prop_assert_eq!(&back, &state);
    prop_assert_eq!(p.status(&back, clock), p.status(&state, clock));

    // Returning everything of every order leaves no purchases or points.
    expire_before(&p, &mut state, clock, &mut expired);
    for i in 0..records.len() {
        let others = records.clone();
        let record = &mut records[i];
        if record.remaining() > Decimal::ZERO {
            let ret = Return {
                return_id: format!("final{i}"),
                order_id: record.order_id.clone(),
                customer_id: "c".into(),
                returned_at: clock,
                amount: None,
            };
            let before = state.clone();
            let record_before = record.clone();
            let back = p
                .apply_return(&mut state, record, &ret, &others)
                .map_err(|e| fail(format!("returning the rest of an order was refused: {e}")))?;
            check_return(&p, &before, &state, &record_before, record, &back, None)?;
            if before.current_points == state.current_points {
                unrecovered += back.points_reversed;
            }
        }
        prop_assert_eq!(record.points_reversed, record.points_awarded);
    }
    prop_assert_eq!(
        state.lifetime_purchases,
        Decimal::ZERO,
        "purchases left after returning everything"
    );
    prop_assert_eq!(
        state.lifetime_points,
        Decimal::ZERO,
        "points left after returning everything"
    );
    prop_assert_eq!(state.best_order(), Decimal::ZERO);
    check_state(&p, &state, redeemed, expired, unrecovered)?;
    check_trackers(&p, &state, &records, clock)?;
    Ok(())
}

fn check_return(
    p: &Program,
    before: &CustomerState,
    after: &CustomerState,
    record_before: &OrderRecord,
    record: &OrderRecord,
    back: &AppliedReturn,
    amount: Option<Decimal>,
) -> CaseResult {
    let returned = amount.unwrap_or(record_before.remaining());
    prop_assert_eq!(back.returned, returned);
    prop_assert!(
        back.points_reversed >= Decimal::ZERO,
        "negative reversal {}",
        back.points_reversed
    );
    prop_assert_eq!(
        record.returned_amount,
        record_before.returned_amount + returned
    );
    prop_assert!(record.returned_amount <= record.amount);
    prop_assert_eq!(
        record.points_reversed,
        record_before.points_reversed + back.points_reversed
    );
    prop_assert!(
        record.points_reversed <= record.points_awarded,
        "reversed more than awarded"
    );
    if record.remaining().is_zero() {
        prop_assert_eq!(record.points_reversed, record.points_awarded);
    }
    let counted = if record.counts_for_purchases {
        returned
    } else {
        Decimal::ZERO
    };
    prop_assert_eq!(
        after.lifetime_purchases,
        before.lifetime_purchases - counted
    );
    prop_assert_eq!(
        after.lifetime_points,
        before.lifetime_points - back.points_reversed
    );
    prop_assert_eq!(back.tier_before, before.tier_index(p));
    prop_assert_eq!(back.tier_after, after.tier_index(p));
    match &back.downgrade {
        Some(d) => {
            prop_assert!(d.to < d.from && d.from == back.tier_before && d.to == back.tier_after);
        }
        None => prop_assert_eq!(back.tier_after, back.tier_before),
    }
    Ok(())
}

#[test]
fn fuzz_decision() {
    fuzz(
        "fuzz_decision",
        300,
        DECISION_LABELS,
        decision_input(),
        |input, tally| run_decision(&input, tally),
    );
}

// ---------------------------------------------------------------------------
// Regression tests: minimal inputs the targets found. No engine failure so
// far; this one fixed the test's own oracle.
// ---------------------------------------------------------------------------

/// Found by the first long run of `fuzz_order_decoder` (an oracle bug, not an
/// engine one): random text placed where a number goes can be a JSON string,
/// which the decimal reader rightly accepts.
#[test]
fn oracle_reads_raw_text_that_is_a_json_string() {
    assert_eq!(raw_decimal_expect("\"0\"", Range::Amount, false).0, Good);
    assert_eq!(raw_decimal_expect("\"-1\"", Range::Amount, false).0, Bad);
    assert_eq!(raw_decimal_expect("null", Range::Amount, true).0, Good);
    assert_eq!(raw_decimal_expect("1e3", Range::Amount, false).0, Bad);
    assert_eq!(raw_decimal_expect("1 2", Range::Amount, false).0, Bad);
    assert_eq!(
        raw_decimal_expect("1,\"x\":2", Range::Amount, false).0,
        Unknown
    );
    let order = r#"{"orderId":"A","customerId":"0","placedAt":"1970-01-01T00:00:00Z","status":"completed","amount":"0"}"#;
    let decoded: Order = serde_json::from_str(order).unwrap();
    assert!(decoded.check().is_ok());
}
