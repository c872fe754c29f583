//! What a release writes on its group before changing anything, so that a killed apply can be
//! resumed and the group's own settings restored: the release lock and the release record, both
//! group tags (progress lives in the cloud, not in memory).

use std::collections::BTreeMap;
use std::fmt;

/// Group tag holding the lock: `<release id> <owner> <expires-at>`.
pub const LOCK_TAG: &str = "immutable:release-lock";
/// Group tag holding the record (see [`Record`]).
pub const RECORD_TAG: &str = "immutable:release";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub release_id: String,
    /// `host:pid:start` of the process holding it (see `bake::owner`).
    pub owner: String,
    /// RFC 3339; the lock is void after it.
    pub expires_at: String,
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.release_id, self.owner, self.expires_at)
    }
}

impl Lock {
    pub fn parse(s: &str) -> Option<Lock> {
        let mut it = s.split(' ');
        let (Some(id), Some(owner), Some(exp), None) = (it.next(), it.next(), it.next(), it.next())
        else {
            return None;
        };
        Some(Lock {
            release_id: id.into(),
            owner: owner.into(),
            expires_at: exp.into(),
        })
    }
}

/// The group as it was before the release touched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub release_id: String,
    pub desired: u32,
    pub min: u32,
    pub max: u32,
    /// Processes this release suspended (and so must resume); ones suspended before stay so.
    pub suspended: Vec<String>,
    /// The launch setting before the release, for rollback: `lt:<id>:<version>` or `lc:<name>`.
    pub previous_launch: String,
    pub previous_image: String,
    /// The release stopped before completing (checkpoint, interrupt, failure without rollback)
    /// and restored the group's settings; only `previous_launch`/`previous_image` still matter:
    /// the next apply keeps them (the group launches the NEW image by now, so reading "previous"
    /// from it would make a rollback return to the new image) and reads capacity afresh.
    pub paused: bool,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "id={};desired={};min={};max={};suspended={};prev={};prev_image={}",
            self.release_id,
            self.desired,
            self.min,
            self.max,
            self.suspended.join(","),
            self.previous_launch,
            self.previous_image
        )?;
        if self.paused {
            write!(f, ";paused=1")?;
        }
        Ok(())
    }
}

impl Record {
    pub fn parse(s: &str) -> Option<Record> {
        let fields: BTreeMap<&str, &str> =
            s.split(';').filter_map(|kv| kv.split_once('=')).collect();
        Some(Record {
            release_id: fields.get("id")?.to_string(),
            desired: fields.get("desired")?.parse().ok()?,
            min: fields.get("min")?.parse().ok()?,
            max: fields.get("max")?.parse().ok()?,
            suspended: fields
                .get("suspended")?
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            previous_launch: fields.get("prev").unwrap_or(&"").to_string(),
            previous_image: fields.get("prev_image").unwrap_or(&"").to_string(),
            paused: fields.get("paused") == Some(&"1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_fits_a_tag() {
        let r = Record {
            release_id: "rel-0123456789ab".into(),
            desired: 12,
            min: 12,
            max: 24,
            suspended: vec!["AZRebalance".into(), "ScheduledActions".into()],
            previous_launch: "lt:lt-0123456789abcdef0:3".into(),
            previous_image: "ami-0123456789abcdef0".into(),
            paused: false,
        };
        let s = r.to_string();
        assert!(
            s.len() <= 256,
            "AWS tag values hold 256 characters: {}",
            s.len()
        );
        assert_eq!(Record::parse(&s), Some(r));
        let none = Record {
            suspended: vec![],
            ..Record::parse(&s).unwrap()
        };
        assert_eq!(Record::parse(&none.to_string()), Some(none.clone()));
        let paused = Record {
            paused: true,
            ..none
        };
        assert!(paused.to_string().len() <= 256);
        assert_eq!(Record::parse(&paused.to_string()), Some(paused));
        assert_eq!(Record::parse("garbage"), None);
    }

    #[test]
    fn lock_round_trips() {
        let l = Lock {
            release_id: "rel-1".into(),
            owner: "host:12:34".into(),
            expires_at: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(Lock::parse(&l.to_string()), Some(l));
        assert_eq!(Lock::parse("a b"), None);
    }
}
