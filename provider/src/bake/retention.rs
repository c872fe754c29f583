//! `keep_previous`: images baked earlier by the same resource, beyond the newest N, are
//! deregistered with their snapshots. "The same resource" is the image's lineage, a tag written
//! at bake time: a digest of the `name_template`, which names the series (`web-{{tag}}-…`) and
//! survives new code tags, scripts and source AMIs. It lives in the cloud, so pruning works
//! across applies, workspaces and machines.

use sha2::{Digest, Sha256};

use crate::aws::{AwsError, ErrorContext};
use crate::cancel::Cancel;

use super::image::{self, ImageInfo};

/// On images, snapshots and copies: which series of images they belong to.
pub const LINEAGE: &str = "immutable:lineage";

pub fn lineage(name_template: &str) -> String {
    let digest = Sha256::digest(format!("immutable-image-lineage/1\n{name_template}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Of `images` (one lineage, one region), those to delete so that `keep` remain beside
/// `current`: never `current`, never one still being baked (temporary), oldest first to go.
pub fn to_prune<'a>(images: &'a [ImageInfo], current: &str, keep: u32) -> Vec<&'a ImageInfo> {
    let mut previous: Vec<&ImageInfo> = images
        .iter()
        .filter(|i| i.id != current && !i.is_temporary())
        .collect();
    previous.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    previous.into_iter().skip(keep as usize).collect()
}

/// On an image whose deletion waits for the instances still running it (see [`in_use`]).
pub const DELETE_AFTER_RELEASE: &str = "immutable:delete-after-release";

/// Whether any instance that is not terminated runs `image`. The image a group runs is what
/// its scale-outs launch and what a failed release rolls back to: AWS cannot launch a
/// deregistered AMI, so such an image is never deleted under its instances — neither by
/// replacing its `immutable_image` (Terraform destroys the old image before it bakes the new
/// one, unless `create_before_destroy`) nor by `keep_previous`.
/// <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/deregister-ami.html>
pub async fn in_use(ec2: &aws_sdk_ec2::Client, image: &str) -> Result<bool, AwsError> {
    use aws_sdk_ec2::types::Filter;
    let out = ec2
        .describe_instances()
        .filters(Filter::builder().name("image-id").values(image).build())
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
        .context("DescribeInstances", image)?;
    Ok(out.reservations().iter().any(|r| !r.instances().is_empty()))
}

/// Instead of deleting an image still in use: marks it, so that the release moving its
/// instances away deletes it ([`delete_released`]).
pub async fn defer_delete(ec2: &aws_sdk_ec2::Client, image: &str) -> Result<(), AwsError> {
    let tags = [(DELETE_AFTER_RELEASE.to_string(), "true".to_string())].into();
    image::tag(ec2, &[image.to_string()], &tags).await
}

/// After a release away from `image` succeeded: deletes it (with its snapshots) when its
/// deletion was deferred and nothing runs it any more. Returns whether it was deleted.
pub async fn delete_released(ec2: &aws_sdk_ec2::Client, image: &str) -> Result<bool, AwsError> {
    let Some(info) = image::describe(ec2, image).await? else {
        return Ok(false);
    };
    if info.tags.get(DELETE_AFTER_RELEASE).map(String::as_str) != Some("true")
        || in_use(ec2, image).await?
    {
        return Ok(false);
    }
    image::delete(ec2, &info.id, &info.snapshot_ids, &Cancel::new()).await?;
    tracing::info!(image_id = %image, "deleted the replaced image now that no instance runs it");
    Ok(true)
}

/// Prunes the lineage in `ec2`'s region; returns the images deleted. Images still in use are
/// skipped (see [`in_use`]).
pub async fn prune(
    ec2: &aws_sdk_ec2::Client,
    lineage: &str,
    current: &str,
    keep: u32,
) -> Result<Vec<String>, AwsError> {
    let images = image::find_tagged(ec2, LINEAGE, lineage).await?;
    let mut deleted = Vec::new();
    for old in to_prune(&images, current, keep) {
        if in_use(ec2, &old.id).await? {
            tracing::info!(image_id = %old.id, "keep_previous: kept an earlier image that instances still run");
            continue;
        }
        image::delete(ec2, &old.id, &old.snapshot_ids, &Cancel::new()).await?;
        tracing::info!(image_id = %old.id, name = %old.name, created_at = %old.created_at, "keep_previous: deregistered an earlier image and its snapshots");
        deleted.push(old.id.clone());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::tags;

    fn img(id: &str, created: &str, temporary: bool) -> ImageInfo {
        let mut t = std::collections::BTreeMap::new();
        if temporary {
            t.insert(tags::TEMPORARY.to_string(), "true".to_string());
        }
        ImageInfo {
            id: id.into(),
            name: id.into(),
            state: "available".into(),
            snapshot_ids: vec![],
            created_at: created.into(),
            tags: t,
        }
    }

    #[test]
    fn keeps_the_newest_previous_and_never_the_current_or_unfinished() {
        let images = vec![
            img("ami-1", "2026-01-01T00:00:00Z", false),
            img("ami-4", "2026-04-01T00:00:00Z", false),
            img("ami-2", "2026-02-01T00:00:00Z", false),
            img("ami-5", "2026-05-01T00:00:00Z", true),
            img("ami-3", "2026-03-01T00:00:00Z", false),
        ];
        let ids = |v: Vec<&ImageInfo>| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(to_prune(&images, "ami-4", 1)), vec!["ami-2", "ami-1"]);
        assert_eq!(
            ids(to_prune(&images, "ami-4", 0)),
            vec!["ami-3", "ami-2", "ami-1"]
        );
        assert!(to_prune(&images, "ami-4", 10).is_empty());
        // The current image is never pruned, even when it is not the newest.
        assert_eq!(ids(to_prune(&images, "ami-1", 2)), vec!["ami-2"]);
    }

    #[test]
    fn lineage_follows_the_name_template_only() {
        assert_eq!(lineage("web-{{tag}}"), lineage("web-{{tag}}"));
        assert_ne!(lineage("web-{{tag}}"), lineage("api-{{tag}}"));
        assert!(lineage("x").starts_with("sha256:") && lineage("x").len() == 39);
    }
}
