//! Figures as integers of 10^-12 units, for the hot path of a decision.
//!
//! Every figure the engine stores has at most 12 decimals: amounts, prices
//! and quantities at most 6 each (the API's grammar), a line total their
//! product, points 2, and the share a return takes back is rounded to the
//! figure's own scale. In these units such figures add and compare as plain
//! `i128`s, exactly, without `Decimal`'s rescaling. Only figures below
//! 10^15 are converted: there `Decimal` is exact too (28 digits hold 15
//! integer and 12 decimal digits with room for a few sums), so both
//! representations give the same answers. Anything else is `None`, and the
//! caller takes the `Decimal` path.

use rust_decimal::Decimal;

/// Decimals kept by a fixed-point figure.
pub(crate) const SCALE: u32 = 12;
const ONE: i128 = 1_000_000_000_000;
/// Largest magnitude converted, in units (10^15).
const LIMIT: i128 = 1_000_000_000_000_000 * ONE;

const POW10: [i128; 13] = {
    let mut p = [1i128; 13];
    let mut i = 1;
    while i < 13 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// `a x b`, when it fits. Figures on the hot path fit 64 bits, and a
/// product of two such is one widening multiplication that cannot
/// overflow; only wider ones pay for the overflow check.
#[inline]
fn mul(a: i128, b: i128) -> Option<i128> {
    match (i64::try_from(a), i64::try_from(b)) {
        (Ok(a), Ok(b)) => Some(i128::from(a) * i128::from(b)),
        _ => a.checked_mul(b),
    }
}

/// `value` in 10^-12 units when it has at most 12 decimals and is below
/// 10^15 in magnitude.
#[inline]
pub(crate) fn of(value: Decimal) -> Option<i128> {
    let scale = value.scale();
    if scale > SCALE {
        return None;
    }
    // Checked: a mantissa near 2^96 times 10^12 wraps an i128 (release
    // builds do not check) into a small value that would pass the limit.
    let units = mul(value.mantissa(), POW10[(SCALE - scale) as usize])?;
    (units.abs() < LIMIT).then_some(units)
}

/// `value` in 10^-12 units whatever its magnitude, when it fits: running
/// totals are kept this way and only their window differences are bounded.
#[inline]
pub(crate) fn of_any(value: Decimal) -> Option<i128> {
    let scale = value.scale();
    if scale > SCALE {
        return None;
    }
    mul(value.mantissa(), POW10[(SCALE - scale) as usize])
}

/// `units` when below the converted range, so `Decimal` would agree on it.
#[inline]
pub(crate) fn bounded(units: i128) -> Option<i128> {
    (units.abs() < LIMIT).then_some(units)
}

/// Units back to a decimal (trailing zeros dropped, as the API prints).
pub(crate) fn to_decimal(units: i128) -> Option<Decimal> {
    if let Ok(mut small) = i64::try_from(units) {
        // Trailing zeros off in 64 bits: a constant divisor there is a
        // multiplication, not a 128-bit division per digit.
        let mut scale = SCALE;
        while scale > 0 && small % 10 == 0 {
            small /= 10;
            scale -= 1;
        }
        return Some(small_decimal(small, scale));
    }
    Decimal::try_from_i128_with_scale(units, SCALE)
        .ok()
        .map(|d| d.normalize())
}

/// Units of a whole number.
pub(crate) const fn whole(n: i128) -> i128 {
    n * ONE
}

/// A rate with at most 6 decimals (every earn rate) in 10^-6 units.
pub(crate) fn rate_of(rate: Decimal) -> Option<i128> {
    let scale = rate.scale();
    (scale <= 6).then(|| rate.mantissa() * POW10[(6 - scale) as usize])
}

/// `round_points(amount x rate)` in cents: the product of an amount with at
/// most 6 decimals and a rate in 10^-6 units has at most 12, rounded half
/// away from zero to the points' 2, exactly as
/// [`crate::decimal::round_points`] does. Taken from the amount's own
/// digits, so the division is by a power of ten that usually fits 64 bits.
#[inline]
pub(crate) fn points_cents(amount: Decimal, rate_micro: i128) -> Option<i128> {
    let scale = amount.scale();
    if scale > 6 {
        return None;
    }
    let product = mul(amount.mantissa(), rate_micro)?;
    let step = POW10[(scale + 4) as usize];
    // The half step is added before the 64-bit test: added after, a product
    // just below 2^64 would wrap.
    let rounded = product.unsigned_abs().checked_add(step as u128 / 2)?;
    let cents = match u64::try_from(rounded) {
        Ok(small) => i128::from(div_pow10(small, scale + 4)),
        Err(_) => (rounded / step as u128) as i128,
    };
    let cents = if product < 0 { -cents } else { cents };
    bounded(mul(cents, POW10[10])?).map(|_| cents)
}

/// `n / 10^k` for the steps of `points_cents`, each divisor a constant
/// (a multiplication) rather than a division by a variable.
#[inline]
fn div_pow10(n: u64, k: u32) -> u64 {
    match k {
        4 => n / 10_000,
        5 => n / 100_000,
        6 => n / 1_000_000,
        7 => n / 10_000_000,
        8 => n / 100_000_000,
        9 => n / 1_000_000_000,
        10 => n / 10_000_000_000,
        _ => n / POW10[k as usize] as u64,
    }
}

/// Cents as units.
#[inline]
pub(crate) fn of_cents(cents: i128) -> i128 {
    cents * POW10[10]
}

/// Cents as the decimal `round_points` gives (trailing zeros dropped, in
/// 64 bits rather than by `Decimal::normalize`).
#[inline]
pub(crate) fn cents_to_decimal(cents: i128) -> Option<Decimal> {
    let mut mantissa = i64::try_from(cents).ok()?;
    let mut scale = 2;
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Some(small_decimal(mantissa, scale))
}

/// `Decimal::new(mantissa, scale)` for a scale of at most 12, built in
/// registers: `Decimal::new` is a call that writes the figure's four words
/// one by one, and reading them back as one stalled the decision.
#[inline]
fn small_decimal(mantissa: i64, scale: u32) -> Decimal {
    let magnitude = mantissa.unsigned_abs();
    Decimal::from_parts(
        magnitude as u32,
        (magnitude >> 32) as u32,
        0,
        mantissa < 0,
        scale,
    )
}

/// `price x quantity` in units when the product has at most 12 decimals.
#[inline]
pub(crate) fn product(price: Decimal, quantity: Decimal) -> Option<i128> {
    let scale = price.scale() + quantity.scale();
    if scale > SCALE {
        return None;
    }
    mul(
        mul(price.mantissa(), quantity.mantissa())?,
        POW10[(SCALE - scale) as usize],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn figures_convert_exactly_within_range() {
        assert_eq!(of(Decimal::new(1250, 2)), Some(12_500_000_000_000));
        assert_eq!(of(Decimal::new(-1, 12)), Some(-1));
        assert_eq!(of(Decimal::new(1, 13)), None, "13 decimals");
        assert_eq!(of(Decimal::from(1_000_000_000_000_000i64)), None);
        assert_eq!(
            to_decimal(of(Decimal::new(1250, 2)).unwrap()),
            Some(Decimal::new(125, 1))
        );
    }

    #[test]
    fn a_figure_whose_units_overflow_has_no_fixed_point_form() {
        // 2^88 and a little: times 10^12 it wraps an i128 to about 5.7e11.
        let huge = Decimal::from_i128_with_scale(340_282_366_920_938_463_463_374_608, 0);
        assert_eq!(of(huge), None);
        assert_eq!(of(-huge), None);
        assert_eq!(of(Decimal::MAX), None);
        assert_eq!(
            of(Decimal::new(999_999_999_999_999, 0)),
            Some(999_999_999_999_999 * POW10[12])
        );
    }

    #[test]
    fn small_decimals_are_built_as_decimal_new_builds_them() {
        for mantissa in [0, 1, -1, 10, -10, 12_345, i64::MAX, i64::MIN, i64::MIN + 1] {
            for scale in 0..=SCALE {
                let (got, expected) = (
                    small_decimal(mantissa, scale),
                    Decimal::new(mantissa, scale),
                );
                assert_eq!(
                    got.serialize(),
                    expected.serialize(),
                    "{mantissa} at {scale}"
                );
                assert_eq!(got.to_string(), expected.to_string());
            }
        }
    }

    #[test]
    fn points_near_two_to_the_sixty_fourth_round_without_wrapping() {
        for (amount, rate) in [
            ("18446744073.709", "1"),
            ("1844674407370.95", "0.1"),
            ("1844674407.370955", "0.01"),
        ] {
            let (amount, rate): (Decimal, Decimal) =
                (amount.parse().unwrap(), rate.parse().unwrap());
            let expected = crate::decimal::round_points(amount * rate);
            let got = points_cents(amount, rate_of(rate).unwrap()).and_then(cents_to_decimal);
            assert_eq!(got, Some(expected), "{amount} x {rate}");
        }
    }

    #[test]
    fn products_are_checked_as_checked_mul_checks_them() {
        let edges = [
            0,
            1,
            -1,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
            1 << 100,
            -(1 << 100),
            i128::MAX,
            i128::MIN,
        ];
        for a in edges {
            for b in edges {
                assert_eq!(mul(a, b), a.checked_mul(b), "{a} x {b}");
            }
        }
    }

    proptest! {
        #[test]
        fn points_round_as_decimal_does(
            cents in -10_000_000_000_000i64..10_000_000_000_000,
            amount_scale in 0u32..=6,
            rate_micro in 1i64..=1_000_000_000,
        ) {
            let amount = Decimal::new(cents, amount_scale);
            // Every scale from 0 to 6, as rates are written.
            let rate = Decimal::new(rate_micro, 6).normalize();
            let expected = crate::decimal::round_points(amount * rate);
            let got = points_cents(amount, rate_of(rate).unwrap())
                .and_then(cents_to_decimal);
            if let Some(got) = got {
                prop_assert_eq!(got, expected);
            } else {
                prop_assert!(expected.abs() >= Decimal::from(1_000_000_000_000_000i64));
            }
        }
    }
}
