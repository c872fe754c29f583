//! AMIs: create (tagged at birth, so an interrupted bake never leaves an untagged image),
//! wait for `available`, tag snapshots, find by fingerprint, lineage or origin, describe, retag,
//! share, discard and delete.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{
    Filter, Image, ImageAttributeName, ImageState, LaunchPermission as SdkLaunchPermission,
    LaunchPermissionModifications, PermissionGroup, ResourceType, Tag,
};

use super::builder::tag_spec;
use super::spec::LaunchPermission;
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

    /// Marked `immutable:temporary`: a bake has not finished it (or died before it could).
    pub fn is_temporary(&self) -> bool {
        self.tags.contains_key(tags::TEMPORARY)
    }
}

/// Starts CreateImage; the image is tagged in the same call.
/// How many times CreateImage is tried (it is retried here, not by the SDK: see `create`).
const CREATE_ATTEMPTS: u32 = 6;

/// CreateImage, safe to retry. The SDK's own retries are off for this call, because a retry
/// after a lost answer would create a second image (or, on AWS, fail with
/// `InvalidAMIName.Duplicate` although the first one exists). Before each retry, and on a
/// duplicate name, the image this bake already created is looked up by its `immutable:bake-id`
/// tag — set in the same call — and adopted.
pub async fn create(
    ec2: &aws_sdk_ec2::Client,
    instance_id: &str,
    name: &str,
    description: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Result<String, AwsError> {
    let bake_id = tags.get(tags::BAKE_ID).cloned().unwrap_or_default();
    let mut attempt = 0;
    loop {
        if attempt > 0 && !bake_id.is_empty() {
            if let Some(id) = find_by_bake_id(ec2, &bake_id).await? {
                tracing::info!(image_id = %id, "CreateImage had gone through before its answer was lost; adopting the image");
                return Ok(id);
            }
        }
        let sent = ec2
            .create_image()
            .instance_id(instance_id)
            .name(name)
            .set_description(description.map(str::to_string))
            .tag_specifications(tag_spec(ResourceType::Image, tags))
            .customize()
            .config_override(
                aws_sdk_ec2::config::Builder::default()
                    .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .context("CreateImage", instance_id);
        match sent {
            Ok(out) => {
                return out.image_id.ok_or_else(|| {
                    AwsError::new("CreateImage", instance_id, "AWS returned no image id")
                })
            }
            Err(e) if e.is_code("InvalidAMIName.Duplicate") && !bake_id.is_empty() => {
                return find_by_bake_id(ec2, &bake_id).await?.ok_or(e);
            }
            Err(e) if retryable(&e) && attempt + 1 < CREATE_ATTEMPTS => {
                tracing::debug!("CreateImage failed ({e}); retrying");
                tokio::time::sleep(Backoff::SECONDS.delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Throttling, server errors and answers that never arrived (no AWS error code).
fn retryable(e: &AwsError) -> bool {
    if e.is_throttling() {
        return true;
    }
    match e.code.as_deref() {
        None => true,
        Some(code) => matches!(
            code,
            "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable"
        ),
    }
}

async fn find_by_bake_id(
    ec2: &aws_sdk_ec2::Client,
    bake_id: &str,
) -> Result<Option<String>, AwsError> {
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name(format!("tag:{}", tags::BAKE_ID))
                .values(bake_id)
                .build(),
        )
        .send()
        .await
        .context("DescribeImages", bake_id)?;
    Ok(out
        .images()
        .iter()
        .filter(|i| i.state() != Some(&ImageState::Deregistered))
        .find_map(|i| i.image_id().map(str::to_string)))
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

/// [`describe`] for refreshes: concurrent lookups in one region share a DescribeImages call.
pub async fn describe_shared(
    aws: &crate::aws::Aws,
    region: Option<&str>,
    id: &str,
) -> Result<Option<ImageInfo>, AwsError> {
    Ok(aws
        .image(region, id)
        .await?
        .map(|i| ImageInfo::from_sdk(&i))
        .filter(|i| i.state != ImageState::Deregistered.as_str()))
}

/// Finished images this account owns that carry `fingerprint`, newest first. Images still marked
/// temporary are left out: their bake has not finished them (tags, copies, encryption) and may
/// yet discard them.
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
    let mut found: Vec<ImageInfo> = out
        .images()
        .iter()
        .map(ImageInfo::from_sdk)
        .filter(|i| !i.is_temporary())
        .collect();
    newest_first(&mut found);
    Ok(found)
}

pub fn newest_first(images: &mut [ImageInfo]) {
    images.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
}

/// Images this account owns with tag `key` = `value` (any state but deregistered).
pub async fn find_tagged(
    ec2: &aws_sdk_ec2::Client,
    key: &str,
    value: &str,
) -> Result<Vec<ImageInfo>, AwsError> {
    let out = ec2
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build(),
        )
        .send()
        .await
        .context("DescribeImages", value)?;
    let mut found: Vec<ImageInfo> = out
        .images()
        .iter()
        .map(ImageInfo::from_sdk)
        .filter(|i| i.state != ImageState::Deregistered.as_str())
        .collect();
    newest_first(&mut found);
    Ok(found)
}

/// Snapshots that belong to an image, also while it is pending (when AWS may not list them in
/// its block device mappings yet): those it lists, plus those whose description names it
/// (`Created by CreateImage(i-…) for ami-…`, `Copied for DestinationAmi ami-…`).
pub async fn snapshots_of(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<Vec<String>, AwsError> {
    let mut snaps = match describe(ec2, id).await? {
        Some(i) => i.snapshot_ids,
        None => vec![],
    };
    let out = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(
            Filter::builder()
                .name("description")
                .values(format!("*{id}*"))
                .build(),
        )
        .send()
        .await
        .context("DescribeSnapshots", id)?;
    for s in out.snapshots() {
        if let Some(sid) = s.snapshot_id() {
            if !snaps.iter().any(|x| x == sid) {
                snaps.push(sid.to_string());
            }
        }
    }
    Ok(snaps)
}

/// Gets rid of an image a bake made but did not finish: marks it and its snapshots temporary
/// first (so a sweep finds whatever this cannot delete), then deregisters it and deletes the
/// snapshots. Runs during cleanup, so it ignores cancellation.
pub async fn discard(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    temp_marks: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let snaps = snapshots_of(ec2, id).await?;
    let mut all = vec![id.to_string()];
    all.extend(snaps.iter().cloned());
    if let Err(e) = tag(ec2, &all, temp_marks).await {
        // Tagging is the safety net; the deletion below is what matters.
        tracing::debug!("could not mark {id} as temporary before deleting it: {e}");
    }
    delete(ec2, id, &snaps, &Cancel::new()).await
}

/// Grants (`add`) and revokes (`remove`) launch permissions.
pub async fn set_launch_permission(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    add: &LaunchPermission,
    remove: &LaunchPermission,
) -> Result<(), AwsError> {
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let perms = |p: &LaunchPermission| -> Vec<SdkLaunchPermission> {
        let mut v: Vec<SdkLaunchPermission> = p
            .accounts
            .iter()
            .map(|a| SdkLaunchPermission::builder().user_id(a).build())
            .collect();
        v.extend(
            p.organization_arns
                .iter()
                .map(|a| SdkLaunchPermission::builder().organization_arn(a).build()),
        );
        v.extend(p.organizational_unit_arns.iter().map(|a| {
            SdkLaunchPermission::builder()
                .organizational_unit_arn(a)
                .build()
        }));
        if p.public {
            v.push(
                SdkLaunchPermission::builder()
                    .group(PermissionGroup::All)
                    .build(),
            );
        }
        v
    };
    let mut m = LaunchPermissionModifications::builder();
    if !add.is_empty() {
        m = m.set_add(Some(perms(add)));
    }
    if !remove.is_empty() {
        m = m.set_remove(Some(perms(remove)));
    }
    ec2.modify_image_attribute()
        .image_id(id)
        .launch_permission(m.build())
        .send()
        .await
        .context("ModifyImageAttribute", id)?;
    Ok(())
}

/// Who besides the owner may launch the image now, as EC2 says (`DescribeImageAttribute`),
/// sorted like the configuration's sets.
pub async fn launch_permission_of(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
) -> Result<LaunchPermission, AwsError> {
    let out = ec2
        .describe_image_attribute()
        .image_id(id)
        .attribute(ImageAttributeName::LaunchPermission)
        .send()
        .await
        .context("DescribeImageAttribute", id)?;
    let mut found = LaunchPermission::default();
    for p in out.launch_permissions() {
        if let Some(a) = p.user_id() {
            found.accounts.push(a.to_string());
        }
        if let Some(a) = p.organization_arn() {
            found.organization_arns.push(a.to_string());
        }
        if let Some(a) = p.organizational_unit_arn() {
            found.organizational_unit_arns.push(a.to_string());
        }
        if p.group() == Some(&PermissionGroup::All) {
            found.public = true;
        }
    }
    for v in [
        &mut found.accounts,
        &mut found.organization_arns,
        &mut found.organizational_unit_arns,
    ] {
        v.sort();
        v.dedup();
    }
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
