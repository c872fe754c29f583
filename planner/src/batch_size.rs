//! How many instances one batch replaces: a count (`"3"`) or a percentage (`"25%"`).
//!
//! A percentage is of the group's **desired capacity** (as AWS Instance Refresh does), rounded
//! **up**: 25% of 10 is 3. It is not a percentage of the instances left to replace, so batches keep
//! one size as a release progresses and a resumed release cuts the same batches as the plan.
//! Whatever the input, a resolved batch is never 0 and never more than what is left; the old
//! Ansible recipe's `desired % 10` (0 for 10, 20, 30 instances) is the bug this type exists to avoid.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchSize {
    /// A fixed number of instances per batch (at least 1).
    Count(u32),
    /// A percentage of the desired capacity, 1 to 100, rounded up.
    Percent(u32),
}

/// Why a batch size was refused; each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchSizeError {
    #[error("batch size is empty: give a number of instances like \"3\" or a percentage of the desired capacity like \"25%\"")]
    Empty,
    #[error("batch size 0 would never replace anything: use at least 1 instance (\"1\") or a percentage like \"25%\"")]
    ZeroCount,
    #[error("batch size 0% would never replace anything: use a percentage from 1% to 100%, like \"25%\"")]
    ZeroPercent,
    #[error("batch size {0}% is more than the whole group: use a percentage from 1% to 100%")]
    PercentAbove100(u64),
    #[error("batch size \"{0}\" is negative: use a positive number of instances like \"3\" or a percentage like \"25%\"")]
    Negative(String),
    #[error("batch size \"{0}\" is not a whole number: give a number of instances like \"3\" or a percentage of the desired capacity like \"25%\"")]
    NotANumber(String),
    #[error("batch size \"{0}\" is too large: no Auto Scaling group has that many instances")]
    TooLarge(String),
}

impl BatchSize {
    /// Checks a value built in code or deserialized (the variants are public).
    pub fn validate(self) -> Result<Self, BatchSizeError> {
        match self {
            BatchSize::Count(0) => Err(BatchSizeError::ZeroCount),
            BatchSize::Percent(0) => Err(BatchSizeError::ZeroPercent),
            BatchSize::Percent(p) if p > 100 => Err(BatchSizeError::PercentAbove100(p.into())),
            ok => Ok(ok),
        }
    }

    /// Instances per batch for a group of `desired_capacity`: a percentage rounds up, and the
    /// result is at least 1 (so a group at desired 0 that still has old instances makes progress).
    /// The caller caps it by what is left.
    pub fn per_batch(self, desired_capacity: u32) -> u32 {
        match self {
            BatchSize::Count(n) => n.max(1),
            BatchSize::Percent(p) => {
                let n = (u64::from(p) * u64::from(desired_capacity)).div_ceil(100);
                u32::try_from(n).unwrap_or(u32::MAX).max(1)
            }
        }
    }
}

impl FromStr for BatchSize {
    type Err = BatchSizeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        if s.is_empty() {
            return Err(BatchSizeError::Empty);
        }
        let (digits, percent) = match s.strip_suffix('%') {
            Some(rest) => (rest.trim_end(), true),
            None => (s, false),
        };
        if digits.starts_with('-') {
            return Err(BatchSizeError::Negative(s.to_owned()));
        }
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BatchSizeError::NotANumber(s.to_owned()));
        }
        // Parse wide so "150%" and "99999999999%" get the percentage message, not "too large".
        let value: u64 = digits
            .parse()
            .map_err(|_| BatchSizeError::TooLarge(s.to_owned()))?;
        if percent {
            if value > 100 {
                return Err(BatchSizeError::PercentAbove100(value));
            }
            BatchSize::Percent(value as u32).validate()
        } else {
            let n = u32::try_from(value).map_err(|_| BatchSizeError::TooLarge(s.to_owned()))?;
            BatchSize::Count(n).validate()
        }
    }
}

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchSize::Count(n) => write!(f, "{n}"),
            BatchSize::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Serialized as the string a user writes (`"3"`, `"25%"`); a bare JSON number is read as a count.
impl Serialize for BatchSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Number(n) => n.to_string(),
            Raw::Text(s) => s,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_percentages() {
        let table: &[(&str, Result<BatchSize, BatchSizeError>)] = &[
            ("3", Ok(BatchSize::Count(3))),
            ("1", Ok(BatchSize::Count(1))),
            (" 10 ", Ok(BatchSize::Count(10))),
            ("25%", Ok(BatchSize::Percent(25))),
            ("100%", Ok(BatchSize::Percent(100))),
            ("1%", Ok(BatchSize::Percent(1))),
            ("25 %", Ok(BatchSize::Percent(25))),
            ("", Err(BatchSizeError::Empty)),
            ("   ", Err(BatchSizeError::Empty)),
            ("0", Err(BatchSizeError::ZeroCount)),
            ("0%", Err(BatchSizeError::ZeroPercent)),
            ("150%", Err(BatchSizeError::PercentAbove100(150))),
            ("101%", Err(BatchSizeError::PercentAbove100(101))),
            ("-1", Err(BatchSizeError::Negative("-1".into()))),
            ("-5%", Err(BatchSizeError::Negative("-5%".into()))),
            ("abc", Err(BatchSizeError::NotANumber("abc".into()))),
            ("%", Err(BatchSizeError::NotANumber("%".into()))),
            ("2.5", Err(BatchSizeError::NotANumber("2.5".into()))),
            ("+3", Err(BatchSizeError::NotANumber("+3".into()))),
            ("3%%", Err(BatchSizeError::NotANumber("3%%".into()))),
            (
                "5000000000",
                Err(BatchSizeError::TooLarge("5000000000".into())),
            ),
        ];
        for (input, expected) in table {
            assert_eq!(&input.parse::<BatchSize>(), expected, "input {input:?}");
        }
    }

    #[test]
    fn error_messages_say_what_to_write() {
        let msg = |s: &str| s.parse::<BatchSize>().unwrap_err().to_string();
        assert_eq!(
            msg("0"),
            "batch size 0 would never replace anything: use at least 1 instance (\"1\") or a percentage like \"25%\""
        );
        assert_eq!(
            msg("150%"),
            "batch size 150% is more than the whole group: use a percentage from 1% to 100%"
        );
        assert_eq!(
            msg("abc"),
            "batch size \"abc\" is not a whole number: give a number of instances like \"3\" or a percentage of the desired capacity like \"25%\""
        );
        assert_eq!(
            msg("-1"),
            "batch size \"-1\" is negative: use a positive number of instances like \"3\" or a percentage like \"25%\""
        );
    }

    #[test]
    fn percent_rounds_up_and_is_never_zero() {
        assert_eq!(BatchSize::Percent(25).per_batch(12), 3);
        assert_eq!(BatchSize::Percent(25).per_batch(10), 3);
        assert_eq!(BatchSize::Percent(10).per_batch(10), 1);
        assert_eq!(BatchSize::Percent(10).per_batch(20), 2);
        assert_eq!(BatchSize::Percent(1).per_batch(3), 1);
        assert_eq!(BatchSize::Percent(100).per_batch(7), 7);
        assert_eq!(BatchSize::Percent(50).per_batch(0), 1);
        assert_eq!(BatchSize::Count(4).per_batch(0), 4);
    }

    #[test]
    fn serde_uses_the_user_spelling() {
        assert_eq!(
            serde_json::to_string(&BatchSize::Percent(25)).unwrap(),
            "\"25%\""
        );
        assert_eq!(
            serde_json::to_string(&BatchSize::Count(3)).unwrap(),
            "\"3\""
        );
        assert_eq!(
            serde_json::from_str::<BatchSize>("\"25%\"").unwrap(),
            BatchSize::Percent(25)
        );
        assert_eq!(
            serde_json::from_str::<BatchSize>("4").unwrap(),
            BatchSize::Count(4)
        );
        let err = serde_json::from_str::<BatchSize>("0")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("batch size 0 would never replace anything"),
            "{err}"
        );
        assert!(serde_json::from_str::<BatchSize>("-2").is_err());
    }
}
