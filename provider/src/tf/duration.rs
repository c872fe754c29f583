//! Durations as Terraform users write them (`"40m"`, `"1h30m"`, `"90s"`), the format of
//! `timeouts` blocks in every major provider.

use std::time::Duration;

/// Parses a duration in Go's `time.ParseDuration` grammar, the one grammar shared with the
/// planner's flags (`release_planner::duration`). A bare number is rejected: `"30"` is ambiguous,
/// and guessing a unit is how a 30-minute timeout becomes 30 seconds. Out-of-range values are an
/// error, never a panic.
pub fn parse(text: &str) -> Result<Duration, String> {
    release_planner::duration::parse(text).map_err(|e| e.to_string())
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
            ("1..5m", "without a unit"),
            ("99999999999999999999999h", "too long"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
