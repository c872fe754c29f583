//! Terraform numbers: arbitrary-precision decimals that mostly happen to be small integers.
//!
//! Terraform compares numbers exactly (512-bit floats), and it sends any number that is neither an
//! exact `int64` nor an exact `float64` as a decimal string — `0.1` included, because no binary
//! float equals one tenth. Keeping such numbers as text and sending them back as text is what
//! keeps a planned `0.1` equal to the applied one; converting to `f64` would make Terraform report
//! "Provider produced inconsistent result".

use std::fmt;

/// A number as Terraform sends it. The variants are representations, not different values:
/// equality compares the numeric value, so `Int(1) == Float(1.0) == Decimal("1.0")`.
#[derive(Debug, Clone)]
pub enum Number {
    /// An integer that fits in `i64`.
    Int(i64),
    /// A binary float; from Terraform only when it is exactly what the user wrote.
    Float(f64),
    /// Decimal text for anything else: integers beyond `i64`, `0.1`, `1e400`.
    Decimal(String),
}

impl Number {
    /// Parses decimal text (`-12`, `0.5`, `1e400`, `.5`) into the most specific representation
    /// that holds it exactly: `Int`, then `Float`, else the text itself as `Decimal`. `None` for
    /// anything that is not a plain decimal number (hex, `inf`, `NaN`, blanks).
    pub fn parse(text: &str) -> Option<Number> {
        let canonical = Canonical::parse(text)?;
        if let Some(i) = canonical.to_i64() {
            return Some(Number::Int(i));
        }
        if let Some(f) = exact_f64(&canonical, text) {
            return Some(Number::Float(f));
        }
        Some(Number::Decimal(text.to_owned()))
    }

    /// Unsigned integers beyond `i64` stay exact as decimal text.
    pub fn from_u64(u: u64) -> Number {
        match i64::try_from(u) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Decimal(u.to_string()),
        }
    }

    /// The value as `i64` when it is an integer in range, whatever its representation.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) => float_to_i64(*f),
            Number::Decimal(text) => Canonical::parse(text)?.to_i64(),
        }
    }

    /// The value as `u64` when it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i128().and_then(|i| u64::try_from(i).ok())
    }

    /// The nearest `f64` (rounding decimals that have no exact binary form); `None` when the
    /// magnitude is beyond `f64`'s range, since an infinity would not be that number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) => Some(*f),
            Number::Decimal(text) => text.parse::<f64>().ok().filter(|f| f.is_finite()),
        }
    }

    /// The value as `i128` when it is an integer in range; serde's integer targets all fit.
    pub(super) fn as_i128(&self) -> Option<i128> {
        match self {
            Number::Int(i) => Some(i128::from(*i)),
            Number::Float(f) => float_to_i128(*f),
            Number::Decimal(text) => Canonical::parse(text)?.to_i128(),
        }
    }

    /// The exact value in canonical form, `None` for infinities and NaN (which no decimal equals).
    fn canonical(&self) -> Option<Canonical> {
        match self {
            Number::Int(i) => Canonical::parse(&i.to_string()),
            Number::Float(f) => Canonical::of_f64(*f),
            Number::Decimal(text) => Canonical::parse(text),
        }
    }
}

impl PartialEq for Number {
    /// Compares numeric values, like Terraform: a number decoded from an int, a float or a string
    /// is the same number. Fast paths avoid building canonical forms for the common cases.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b,
            (Number::Int(i), Number::Float(f)) | (Number::Float(f), Number::Int(i)) => {
                float_to_i64(*f) == Some(*i)
            }
            _ => match (self.canonical(), other.canonical()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Decimal(text) => f.write_str(text),
        }
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number::Int(i)
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number::Float(f)
    }
}

/// 2^63 as `f64`: the first float above `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
/// 2^127 as `f64`: the first float above `i128::MAX`.
const TWO_POW_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;

fn float_to_i64(f: f64) -> Option<i64> {
    // The range check comes first because `as` saturates rather than failing.
    (f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f)).then_some(f as i64)
}

fn float_to_i128(f: f64) -> Option<i128> {
    (f.fract() == 0.0 && (-TWO_POW_127..TWO_POW_127).contains(&f)).then_some(f as i128)
}

/// `text` parsed as `f64` if the float is exactly the decimal value, not merely the nearest.
fn exact_f64(canonical: &Canonical, text: &str) -> Option<f64> {
    let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    (Canonical::of_f64(f).as_ref() == Some(canonical)).then_some(f)
}

/// A decimal reduced to sign, significant digits and exponent (value = digits × 10^exponent),
/// so that `1.50`, `15e-1` and the float 1.5 compare equal by plain equality.
#[derive(Debug, PartialEq, Eq)]
struct Canonical {
    negative: bool,
    /// No leading or trailing zeros; empty for zero.
    digits: String,
    exponent: i64,
}

impl Canonical {
    /// Accepts `[+-]digits[.digits][(e|E)[+-]digits]` with digits on at least one side of the
    /// point — the grammar of Go's number parsing that Terraform uses, minus hex and infinities.
    fn parse(text: &str) -> Option<Canonical> {
        let (negative, unsigned) = split_sign(text);
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => (&unsigned[..at], parse_exponent(&unsigned[at + 1..])?),
            None => (unsigned, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !digits_ok(int_part)
            || !digits_ok(frac_part)
        {
            return None;
        }
        let all_digits = format!("{int_part}{frac_part}");
        let significant = all_digits.trim_start_matches('0');
        let trimmed = significant.trim_end_matches('0');
        if trimmed.is_empty() {
            return Some(Canonical::zero());
        }
        let exponent = exponent
            .saturating_sub(len_i64(frac_part))
            .saturating_add(len_i64(significant) - len_i64(trimmed));
        Some(Canonical {
            negative,
            digits: trimmed.to_owned(),
            exponent,
        })
    }

    /// The exact decimal expansion of a finite float. Every `f64` has one of at most 767
    /// significant digits, and Rust's fixed-precision formatting prints digits exactly.
    fn of_f64(f: f64) -> Option<Canonical> {
        if !f.is_finite() {
            return None;
        }
        Canonical::parse(&format!("{f:.800e}"))
    }

    fn zero() -> Canonical {
        Canonical {
            negative: false,
            digits: String::new(),
            exponent: 0,
        }
    }

    /// The integer's decimal text when the value is an integer of at most `max_digits` digits.
    fn integer_text(&self, max_digits: usize) -> Option<String> {
        if self.digits.is_empty() {
            return Some("0".to_owned());
        }
        let zeros = usize::try_from(self.exponent).ok()?;
        if self.digits.len().saturating_add(zeros) > max_digits {
            return None;
        }
        let sign = if self.negative { "-" } else { "" };
        Some(format!("{sign}{}{}", self.digits, "0".repeat(zeros)))
    }

    fn to_i64(&self) -> Option<i64> {
        self.integer_text(19)?.parse().ok()
    }

    fn to_i128(&self) -> Option<i128> {
        self.integer_text(39)?.parse().ok()
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    if let Some(rest) = text.strip_prefix('-') {
        (true, rest)
    } else {
        (false, text.strip_prefix('+').unwrap_or(text))
    }
}

/// Exponent digits with an optional sign; absurd exponents saturate instead of failing, since
/// they still denote a (huge or tiny) number that is simply never an `i64` or `f64`.
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = split_sign(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX / 2);
    Some(if negative { -magnitude } else { magnitude })
}

fn len_i64(s: &str) -> i64 {
    i64::try_from(s.len()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Number {
        Number::Decimal(s.to_owned())
    }

    /// The representation, which value equality deliberately ignores.
    fn repr(n: &Number) -> String {
        match n {
            Number::Int(i) => format!("Int({i})"),
            Number::Float(f) => format!("Float({f:?})"),
            Number::Decimal(t) => format!("Decimal({t})"),
        }
    }

    #[test]
    fn parse_picks_the_most_specific_exact_representation() {
        let cases = [
            ("42", "Int(42)"),
            ("-0", "Int(0)"),
            ("1e3", "Int(1000)"),
            ("1.5E+1", "Int(15)"),
            ("-9223372036854775808", "Int(-9223372036854775808)"),
            ("2.50", "Float(2.5)"),
            (".5", "Float(0.5)"),
            ("-0.25", "Float(-0.25)"),
            ("+5.", "Int(5)"),
            ("9223372036854775808", "Float(9.223372036854776e18)"),
        ];
        for (text, expected) in cases {
            let parsed = Number::parse(text).map(|n| repr(&n));
            assert_eq!(parsed.as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn parse_keeps_inexact_numbers_as_text() {
        for text in ["0.1", "12345678901234567890123", "1e400", "1.5e300", "-0.3"] {
            match Number::parse(text) {
                Some(Number::Decimal(kept)) => assert_eq!(kept, text),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn parse_rejects_non_decimal_text() {
        for text in [
            "", "-", ".", "e5", "1e", "0x10", "inf", "NaN", " 1", "1 ", "1..2", "1e+",
        ] {
            assert_eq!(Number::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn equality_compares_numeric_values() {
        assert_eq!(Number::Int(1), Number::Float(1.0));
        assert_eq!(Number::Float(1.0), dec("1.000"));
        assert_eq!(Number::Int(1000), dec("1e3"));
        assert_eq!(Number::Float(0.5), dec("5e-1"));
        assert_ne!(Number::Float(0.1), dec("0.1"));
        assert_ne!(Number::Int(1), Number::Int(2));
        assert_ne!(Number::Float(f64::INFINITY), dec("1e400"));
        assert_eq!(Number::from_u64(u64::MAX), dec("18446744073709551615"));
    }

    #[test]
    fn conversions_accept_any_representation_of_an_integer() {
        assert_eq!(Number::Float(3.0).as_i64(), Some(3));
        assert_eq!(Number::Float(3.5).as_i64(), None);
        assert_eq!(Number::Float(1e19).as_i64(), None);
        assert_eq!(dec("12e2").as_i64(), Some(1200));
        assert_eq!(dec("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(dec("18446744073709551616").as_u64(), None);
        assert_eq!(Number::Int(-1).as_u64(), None);
        assert_eq!(dec("0.1").as_f64(), Some(0.1));
        assert_eq!(dec("1e400").as_f64(), None);
        assert_eq!(Number::Int(7).as_f64(), Some(7.0));
    }
}
