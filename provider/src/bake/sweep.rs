//! Sweeping temporaries that a killed bake left behind: builders, unfinished images and their
//! snapshots, key pairs and security groups — everything marked `immutable:temporary`. One is
//! abandoned when its expiry (bake start + create timeout + margin) has passed, or when it was
//! made on this host by a process that no longer exists. A live bake elsewhere is never touched.
//!
//! Order matters: builders first (they hold the security groups), images before their
//! snapshots, security groups last; a group whose builder is still shutting down is left for the
//! next sweep (AWS answers `DependencyViolation`).

use std::time::SystemTime;

use aws_sdk_ec2::types::{Filter, Tag};

use super::builder;
use super::image;
use super::name::rfc3339;
use crate::aws::{tags, AwsError, ErrorContext};
use crate::cancel::Cancel;
use crate::owner;

#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    /// `builder`, `image`, `snapshot`, `key pair`, `security group`.
    pub kind: &'static str,
    pub id: String,
    pub why: &'static str,
}

/// Why an object with these tags is abandoned, or `None` while its bake may still be alive.
pub fn abandoned(tags: &[Tag], now: &str) -> Option<&'static str> {
    let tag = |k: &str| {
        tags.iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
    };
    if tag(tags::EXPIRES_AT).is_some_and(|e| e < now) {
        Some("expired")
    } else if tag(tags::OWNER).is_some_and(owner::is_dead_local) {
        Some("its bake process is gone")
    } else {
        None
    }
}

fn temporary() -> Filter {
    Filter::builder()
        .name("tag-key")
        .values(tags::TEMPORARY)
        .build()
}

/// Removes abandoned temporaries in `ec2`'s region; returns what it swept. A describe failure
/// stops the sweep; a single object that cannot be deleted is logged and skipped.
pub async fn sweep(ec2: &aws_sdk_ec2::Client) -> Result<Vec<Stale>, AwsError> {
    let now = rfc3339(SystemTime::now());
    let mut swept = Vec::new();

    // Builders.
    let out = ec2
        .describe_instances()
        .filters(temporary())
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .values("stopping")
                .values("stopped")
                .build(),
        )
        .send()
        .await
        .context("DescribeInstances", tags::TEMPORARY)?;
    let mut builders = Vec::new();
    for inst in out.reservations().iter().flat_map(|r| r.instances()) {
        if let (Some(why), Some(id)) = (abandoned(inst.tags(), &now), inst.instance_id()) {
            builders.push(Stale {
                kind: "builder",
                id: id.to_string(),
                why,
            });
        }
    }
    if !builders.is_empty() {
        let ids: Vec<String> = builders.iter().map(|s| s.id.clone()).collect();
        for s in &builders {
            tracing::info!(instance_id = %s.id, reason = s.why, "sweeping abandoned builder");
        }
        builder::terminate(ec2, &ids).await?;
        swept.extend(builders);
    }

    // Unfinished images, with their snapshots.
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(temporary())
        .send()
        .await
        .context("DescribeImages", tags::TEMPORARY)?;
    for img in out.images() {
        let (Some(why), Some(id)) = (abandoned(img.tags(), &now), img.image_id()) else {
            continue;
        };
        let snaps: Vec<String> = img
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
            .collect();
        match image::delete(ec2, id, &snaps, &Cancel::new()).await {
            Ok(()) => {
                tracing::info!(image_id = %id, reason = why, "swept abandoned unfinished image");
                swept.push(Stale {
                    kind: "image",
                    id: id.to_string(),
                    why,
                });
            }
            Err(e) => tracing::warn!("could not sweep abandoned image {id}: {e}"),
        }
    }

    // Snapshots whose image is already gone (or never finished).
    let out = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(temporary())
        .send()
        .await
        .context("DescribeSnapshots", tags::TEMPORARY)?;
    for snap in out.snapshots() {
        let (Some(why), Some(id)) = (abandoned(snap.tags(), &now), snap.snapshot_id()) else {
            continue;
        };
        match ec2
            .delete_snapshot()
            .snapshot_id(id)
            .send()
            .await
            .context("DeleteSnapshot", id)
        {
            Ok(_) => {
                tracing::info!(snapshot_id = %id, reason = why, "swept abandoned snapshot");
                swept.push(Stale {
                    kind: "snapshot",
                    id: id.to_string(),
                    why,
                });
            }
            Err(e) if e.is_code("InvalidSnapshot.NotFound") => {}
            Err(e) => tracing::warn!("could not sweep abandoned snapshot {id}: {e}"),
        }
    }

    // Key pairs.
    let out = ec2
        .describe_key_pairs()
        .filters(temporary())
        .send()
        .await
        .context("DescribeKeyPairs", tags::TEMPORARY)?;
    for kp in out.key_pairs() {
        let (Some(why), Some(name)) = (abandoned(kp.tags(), &now), kp.key_name()) else {
            continue;
        };
        match super::ssh::keys::delete(ec2, name).await {
            Ok(()) => {
                tracing::info!(key_pair = %name, reason = why, "swept abandoned key pair");
                swept.push(Stale {
                    kind: "key pair",
                    id: name.to_string(),
                    why,
                });
            }
            Err(e) => tracing::warn!("could not sweep abandoned key pair {name}: {e}"),
        }
    }

    // Security groups, last: AWS refuses while an instance (a builder swept above, still
    // shutting down) uses one; the next sweep gets it.
    let out = ec2
        .describe_security_groups()
        .filters(temporary())
        .send()
        .await
        .context("DescribeSecurityGroups", tags::TEMPORARY)?;
    for sg in out.security_groups() {
        let (Some(why), Some(id)) = (abandoned(sg.tags(), &now), sg.group_id()) else {
            continue;
        };
        match ec2
            .delete_security_group()
            .group_id(id)
            .send()
            .await
            .context("DeleteSecurityGroup", id)
        {
            Ok(_) => {
                tracing::info!(security_group = %id, reason = why, "swept abandoned security group");
                swept.push(Stale {
                    kind: "security group",
                    id: id.to_string(),
                    why,
                });
            }
            Err(e) if e.is_code("InvalidGroup.NotFound") => {}
            Err(e) if e.is_code("DependencyViolation") => {
                tracing::debug!(security_group = %id, "abandoned security group still in use; the next sweep removes it")
            }
            Err(e) => tracing::warn!("could not sweep abandoned security group {id}: {e}"),
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(k: &str, v: &str) -> Tag {
        Tag::builder().key(k).value(v).build()
    }

    #[test]
    fn expired_or_dead_local_owner_is_abandoned_and_live_ones_are_not() {
        let now = "2026-06-01T00:00:00Z";
        assert_eq!(
            abandoned(&[t(tags::EXPIRES_AT, "2026-05-01T00:00:00Z")], now),
            Some("expired")
        );
        assert_eq!(
            abandoned(
                &[
                    t(tags::EXPIRES_AT, "2027-01-01T00:00:00Z"),
                    t(tags::OWNER, "other-host:1:1")
                ],
                now
            ),
            None
        );
        assert_eq!(
            abandoned(&[t(tags::OWNER, &crate::owner::current())], now),
            None
        );
        assert_eq!(abandoned(&[], now), None);
    }
}
