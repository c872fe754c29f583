//! Durations as Terraform users write them (`"40m"`, `"1h30m"`, `"90s"`), the format of
//! `timeouts` blocks in every major provider.

use std::time::Duration;

/// Parses a Go-style duration with units h, m, s, ms. A bare number is rejected: `"30"` is
/// ambiguous, and guessing a unit is how a 30-minute timeout becomes 30 seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration; write e.g. \"40m\", \"1h30m\" or \"90s\"".into());
    }
    if t.starts_with('-') {
        return Err(format!("{text:?} is negative; durations must be positive"));
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?} has a number without a unit (h, m, s or ms)"))?;
        if num_len == 0 {
            return Err(format!(
                "{text:?} is not a duration; write e.g. \"40m\", \"1h30m\" or \"90s\""
            ));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("{text:?} has an invalid number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            u => {
                return Err(format!(
                    "{text:?} has an unknown unit {u:?}; use h, m, s or ms"
                ))
            }
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_forms() {
        assert_eq!(parse("40m"), Ok(Duration::from_secs(2400)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn invalid_forms_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("30", "without a unit"),
            ("-5m", "negative"),
            ("5 minutes", "unknown unit"),
            ("abc", "not a duration"),
            ("5d", "unknown unit"),
            ("1..5m", "invalid number"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
