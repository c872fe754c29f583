//! AMIs: create (tagged at birth, so an interrupted bake never leaves an untagged image),
//! wait for `available`, tag snapshots, find by fingerprint, describe, retag, delete.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, Image, ImageState, ResourceType, Tag};

use super::builder::tag_spec;
use crate::aws::tags;
use crate::aws::wait::{self, Backoff, WaitError};
use crate::aws::{AwsError, ErrorContext};
use crate::cancel::Cancel;

#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    pub state: String,
    pub snapshot_ids: Vec<String>,
    pub created_at: String,
    pub tags: BTreeMap<String, String>,
}

impl ImageInfo {
    fn from_sdk(i: &Image) -> Self {
        ImageInfo {
            id: i.image_id().unwrap_or_default().to_string(),
            name: i.name().unwrap_or_default().to_string(),
            state: i
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            snapshot_ids: i
                .block_device_mappings()
                .iter()
                .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(str::to_string))
                .collect(),
            created_at: i.creation_date().unwrap_or_default().to_string(),
            tags: i
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
        }
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
}

pub async fn create(
    ec2: &aws_sdk_ec2::Client,
    instance_id: &str,
    name: &str,
    description: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Result<String, AwsError> {
    let out = ec2
        .create_image()
        .instance_id(instance_id)
        .name(name)
        .set_description(description.map(str::to_string))
        .tag_specifications(tag_spec(ResourceType::Image, tags))
        .send()
        .await
        .context("CreateImage", instance_id)?;
    out.image_id
        .ok_or_else(|| AwsError::new("CreateImage", instance_id, "AWS returned no image id"))
}

pub async fn describe(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<Option<ImageInfo>, AwsError> {
    match ec2
        .describe_images()
        .image_ids(id)
        .send()
        .await
        .context("DescribeImages", id)
    {
        Ok(out) => Ok(out
            .images()
            .first()
            .map(ImageInfo::from_sdk)
            .filter(|i| i.state != ImageState::Deregistered.as_str())),
        Err(e) if e.code_starts_with("InvalidAMIID") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Images this account owns that carry `fingerprint`, newest first; pending ones included (a bake
/// that reached CreateImage has finished provisioning, so its image is as good as ours).
pub async fn find_by_fingerprint(
    ec2: &aws_sdk_ec2::Client,
    fingerprint: &str,
) -> Result<Vec<ImageInfo>, AwsError> {
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name(format!("tag:{}", tags::FINGERPRINT))
                .values(fingerprint)
                .build(),
        )
        .filters(
            Filter::builder()
                .name("state")
                .values("available")
                .values("pending")
                .build(),
        )
        .send()
        .await
        .context("DescribeImages", fingerprint)?;
    let mut found: Vec<ImageInfo> = out.images().iter().map(ImageInfo::from_sdk).collect();
    found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    Ok(found)
}

pub async fn wait_available(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<ImageInfo, WaitError<AwsError>> {
    wait::until(
        &format!("image {id} to become available"),
        timeout,
        Backoff::MINUTES,
        cancel,
        || async {
            match describe(ec2, id).await? {
                None => Ok(None),
                Some(i) if i.state == ImageState::Available.as_str() => Ok(Some(i)),
                Some(i) if i.state == ImageState::Pending.as_str() => Ok(None),
                Some(i) => Err(AwsError::new(
                    "CreateImage",
                    id,
                    format!("image entered state {}", i.state),
                )),
            }
        },
    )
    .await
}

pub async fn tag(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    if ids.is_empty() || tags.is_empty() {
        return Ok(());
    }
    ec2.create_tags()
        .set_resources(Some(ids.to_vec()))
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .context("CreateTags", &ids.join(","))?;
    Ok(())
}

pub async fn untag(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
    keys: &[String],
) -> Result<(), AwsError> {
    if ids.is_empty() || keys.is_empty() {
        return Ok(());
    }
    ec2.delete_tags()
        .set_resources(Some(ids.to_vec()))
        .set_tags(Some(
            keys.iter().map(|k| Tag::builder().key(k).build()).collect(),
        ))
        .send()
        .await
        .context("DeleteTags", &ids.join(","))?;
    Ok(())
}

/// Deregisters the image and deletes its snapshots. Safe to repeat: what is already gone is
/// skipped. Snapshots can stay "in use" for a moment after deregistration, so that is retried.
pub async fn delete(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    snapshot_ids: &[String],
    cancel: &Cancel,
) -> Result<(), AwsError> {
    match ec2
        .deregister_image()
        .image_id(id)
        .send()
        .await
        .context("DeregisterImage", id)
    {
        Ok(_) => {}
        Err(e) if e.code_starts_with("InvalidAMIID") => {}
        Err(e) => return Err(e),
    }
    for snap in snapshot_ids {
        let r = wait::until(
            &format!("snapshot {snap} to be released"),
            Duration::from_secs(120),
            Backoff::SECONDS,
            cancel,
            || async {
                match ec2
                    .delete_snapshot()
                    .snapshot_id(snap)
                    .send()
                    .await
                    .context("DeleteSnapshot", snap)
                {
                    Ok(_) => Ok(Some(())),
                    Err(e) if e.is_code("InvalidSnapshot.NotFound") => Ok(Some(())),
                    Err(e) if e.is_code("InvalidSnapshot.InUse") => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await;
        match r {
            Ok(()) => {}
            Err(WaitError::Failed(e)) => return Err(e),
            Err(other) => return Err(AwsError::new("DeleteSnapshot", snap, other.to_string())),
        }
    }
    Ok(())
}
