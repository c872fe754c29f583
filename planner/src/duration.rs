//! The one duration grammar of the project: Go's `time.ParseDuration`, the form Terraform users
//! write in every provider's `timeouts` block (`"40m"`, `"1h30m"`, `"1.5h"`, `"250ms"`). The
//! provider's arguments and the planner's command-line flags both parse with [`parse`], so a value
//! that works in one works in the other.
//!
//! Two deliberate departures from Go: a negative duration is refused (no setting here means
//! anything below zero), and a value beyond Go's limit (about 292 years, `i64::MAX` nanoseconds)
//! is an error instead of an overflow. The arithmetic is exact integer arithmetic, so no input can
//! reach a float conversion that panics.

use std::fmt;
use std::time::Duration;

/// Go's limit: a `time.Duration` is an `i64` of nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Why a text is not a duration. The `Display` form is a whole sentence naming the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    Empty,
    Negative(String),
    MissingUnit(String),
    UnknownUnit { text: String, unit: String },
    Malformed(String),
    TooLarge(String),
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const EXAMPLES: &str = "write e.g. \"40m\", \"1h30m\" or \"90s\"";
        match self {
            Self::Empty => write!(f, "empty duration; {EXAMPLES}"),
            Self::Negative(t) => write!(f, "{t:?} is negative; durations must not be"),
            Self::MissingUnit(t) => write!(
                f,
                "{t:?} has a number without a unit (h, m, s, ms, us or ns); {EXAMPLES}"
            ),
            Self::UnknownUnit { text, unit } => write!(
                f,
                "{text:?} has an unknown unit {unit:?}; use h, m, s, ms, us or ns"
            ),
            Self::Malformed(t) => write!(f, "{t:?} is not a duration; {EXAMPLES}"),
            Self::TooLarge(t) => write!(
                f,
                "{t:?} is too long; the largest duration is about 292 years"
            ),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration in Go's grammar: an optional `+`, then one or more decimal numbers each with
/// a unit (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`). `"0"` alone is zero, as in Go.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = match t.as_bytes()[0] {
        b'-' => return Err(DurationError::Negative(text.to_owned())),
        b'+' => &t[1..],
        _ => t,
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(DurationError::Malformed(text.to_owned()));
    }
    let too_large = || DurationError::TooLarge(text.to_owned());
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, fraction, after) =
            number(rest).ok_or_else(|| DurationError::Malformed(text.to_owned()))?;
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(text.to_owned()));
        }
        let unit = &after[..unit_len];
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    text: text.to_owned(),
                    unit: unit.to_owned(),
                })
            }
        };
        let whole_nanos = whole.checked_mul(nanos_per_unit).ok_or_else(too_large)?;
        let fraction_nanos = fraction.map_or(0, |(digits, scale)| digits * nanos_per_unit / scale);
        total = total
            .checked_add(whole_nanos)
            .and_then(|n| n.checked_add(fraction_nanos))
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(too_large)?;
        rest = &after[unit_len..];
    }
    let nanos = u64::try_from(total).map_err(|_| too_large())?;
    Ok(Duration::from_nanos(nanos))
}

/// Reads `digits[.digits]` or `.digits` from the front of `s`: the whole part (saturated past any
/// valid duration, so the caller reports it as too large), the fraction as (digits, 10^count) with
/// digits beyond what can matter dropped (as Go does), and the rest of the text.
type Number<'a> = (u128, Option<(u128, u128)>, &'a str);

fn number(s: &str) -> Option<Number<'_>> {
    let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let whole = s[..int_len].bytes().fold(0u128, |n, d| {
        (n * 10 + u128::from(d - b'0')).min(MAX_NANOS + 1)
    });
    let mut rest = &s[int_len..];
    let mut fraction = None;
    let mut frac_len = 0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        frac_len = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        let (mut digits, mut scale) = (0u128, 1u128);
        for d in after_dot[..frac_len].bytes().take(30) {
            digits = digits * 10 + u128::from(d - b'0');
            scale *= 10;
        }
        fraction = Some((digits, scale));
        rest = &after_dot[frac_len..];
    }
    if int_len == 0 && frac_len == 0 {
        return None;
    }
    Some((whole, fraction, rest))
}

/// Formats a duration in the same grammar, shortest exact form first: `"1h30m"`, `"90s"`,
/// `"250ms"`, `"0s"`. `parse(&format(d)) == Ok(d)` for whole milliseconds.
pub fn format(d: Duration) -> String {
    let total_ms = d.as_millis();
    if d.is_zero() {
        return "0s".into();
    }
    if !d.as_nanos().is_multiple_of(1_000_000) {
        return format!("{}ns", d.as_nanos());
    }
    let (h, rem) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, ms) = (rem / 1000, rem % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    match (s, ms) {
        (0, 0) => {}
        (s, 0) => out.push_str(&format!("{s}s")),
        (0, ms) if out.is_empty() => out.push_str(&format!("{ms}ms")),
        (s, ms) => out.push_str(&format!("{s}.{ms:03}s")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        for (text, want) in [
            ("40m", Duration::from_secs(2400)),
            ("1h30m", Duration::from_secs(5400)),
            ("90s", Duration::from_secs(90)),
            ("1.5h", Duration::from_secs(5400)),
            ("250ms", Duration::from_millis(250)),
            ("0s", Duration::ZERO),
            ("0", Duration::ZERO),
            ("+5s", Duration::from_secs(5)),
            (".5s", Duration::from_millis(500)),
            ("5.s", Duration::from_secs(5)),
            ("1h1m1s1ms1us1ns", Duration::new(3661, 1_001_001)),
            ("3\u{b5}s", Duration::from_micros(3)),
            ("3\u{3bc}s", Duration::from_micros(3)),
            (
                "2562047h47m16.854775807s",
                Duration::from_nanos(i64::MAX as u64),
            ),
            ("1.0000000000000000000000000001s", Duration::from_secs(1)),
        ] {
            assert_eq!(parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn refusals_say_why_and_never_panic() {
        for (bad, want) in [
            ("", DurationError::Empty),
            ("30", DurationError::MissingUnit("30".into())),
            ("-5m", DurationError::Negative("-5m".into())),
            ("abc", DurationError::Malformed("abc".into())),
            ("+", DurationError::Malformed("+".into())),
            (".s", DurationError::Malformed(".s".into())),
            ("1..5m", DurationError::MissingUnit("1..5m".into())),
            (
                "99999999999999999999999h",
                DurationError::TooLarge("99999999999999999999999h".into()),
            ),
            (
                "2562047h47m16.854775808s",
                DurationError::TooLarge("2562047h47m16.854775808s".into()),
            ),
            ("3000000h", DurationError::TooLarge("3000000h".into())),
        ] {
            assert_eq!(parse(bad), Err(want), "{bad:?}");
        }
        for (bad, unit) in [("5d", "d"), ("5 minutes", " minutes"), ("1hour", "hour")] {
            assert!(
                matches!(parse(bad), Err(DurationError::UnknownUnit { unit: ref u, .. }) if u == unit),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
        let long = format!("{}s", "9".repeat(10_000));
        assert_eq!(parse(&long), Err(DurationError::TooLarge(long.clone())));
    }

    #[test]
    fn format_round_trips() {
        for text in ["1h30m", "90s", "250ms", "0s", "2h", "1m0.5s", "1.25s"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&format(d)), Ok(d), "{text:?} -> {}", format(d));
        }
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_millis(1500)), "1.500s");
    }
}
