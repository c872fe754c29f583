//! UTC calendar arithmetic for log timestamps, certificate validity, AMI names and lock expiries,
//! without a date crate.
//!
//! The conversion is Howard Hinnant's `civil_from_days` (proleptic Gregorian calendar), exact for
//! every date a `SystemTime` can hold.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant broken into calendar fields, at microsecond precision (what Terraform's log
/// timestamp layout carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// 0..=999_999, truncated (never rounded up into the next second).
    pub micros: u32,
}

impl UtcDateTime {
    /// Breaks `t` into UTC calendar fields; instants before 1970 are handled too.
    pub fn from_system_time(t: SystemTime) -> Self {
        let micros: i128 = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i128,
            Err(e) => -(e.duration().as_micros() as i128),
        };
        let secs = micros.div_euclid(1_000_000) as i64;
        let sub = micros.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
            micros: sub,
        }
    }

    /// RFC 3339 with exactly six fractional digits and `Z`: Go's
    /// `2006-01-02T15:04:05.000000Z07:00` layout for a UTC time, which go-plugin parses.
    pub fn to_rfc3339_micros(self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.micros
        )
    }
}

/// The UTC date `days` days before now, as `(year, month, day)`.
pub fn utc_date_days_ago(days: u64) -> (i32, u8, u8) {
    let then = SystemTime::now()
        .checked_sub(Duration::from_secs(days * 86_400))
        .unwrap_or(UNIX_EPOCH);
    let t = UtcDateTime::from_system_time(then);
    (t.year as i32, t.month, t.day)
}

/// Days since 1970-01-01 → `(year, month 1..=12, day 1..=31)`.
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, year starting in March
    let mp = (5 * doy + 2) / 153; // 0..=11, March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> String {
        UtcDateTime::from_system_time(UNIX_EPOCH + Duration::new(secs, nanos)).to_rfc3339_micros()
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
        assert_eq!(at(951_868_799, 0), "2000-02-29T23:59:59.000000Z");
        assert_eq!(
            at(1_700_000_000, 123_456_000),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(at(1_136_214_245, 0), "2006-01-02T15:04:05.000000Z");
        assert_eq!(at(4_102_444_799, 0), "2099-12-31T23:59:59.000000Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000000Z");
    }

    #[test]
    fn fraction_is_six_digits_truncated() {
        assert_eq!(at(1, 999_999_999), "1970-01-01T00:00:01.999999Z");
        assert_eq!(at(1, 1_000), "1970-01-01T00:00:01.000001Z");
        assert_eq!(at(1, 999), "1970-01-01T00:00:01.000000Z");
    }

    #[test]
    fn before_the_epoch() {
        let t = UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(
            UtcDateTime::from_system_time(t).to_rfc3339_micros(),
            "1969-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn civil_dates_round_trip_over_four_centuries() {
        // Day by day, month and day advance consistently.
        let (mut y, mut m, mut d) = civil_from_days(-146_097);
        assert_eq!((y, m, d), (1570, 1, 1));
        for days in -146_096..=146_097 {
            let next = civil_from_days(days);
            let expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(next, expected, "day {days}");
            (y, m, d) = next;
        }
        assert_eq!((y, m, d), (2370, 1, 1));
    }

    fn days_in_month(y: i64, m: u8) -> u8 {
        match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    #[test]
    fn date_days_ago_is_plausible() {
        let (y, m, d) = utc_date_days_ago(1);
        assert!(y >= 2024 && (1..=12).contains(&m) && (1..=31).contains(&d));
    }
}
