//! Copies of an image: to other regions (`copy_to_regions`), and in the home region for
//! encryption (AWS encrypts an AMI by copying it with `Encrypted`). A copy is tagged the moment
//! CopyImage returns its id — temporary marks included — and recorded by the caller, so an
//! interrupt at any point leaves either a finished copy or one that is discarded (or, if the
//! process dies, swept by its marks). Packer #10248 (an interrupted copy left untagged forever)
//! cannot happen here.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::wait::{self, Backoff, WaitError};
use crate::aws::{tags, AwsError, ErrorContext};
use crate::cancel::Cancel;

use super::image::{self, ImageInfo};

/// On copies: the id of the image they were copied from (in the home region).
pub const COPY_OF: &str = "immutable:copy-of";

/// What to copy where.
pub struct CopyRequest<'a> {
    pub source_region: &'a str,
    pub source_id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// Tags of the finished copy.
    pub tags: &'a BTreeMap<String, String>,
    /// Temporary marks (temporary, bake id, expiry, owner) carried until the copy is finished.
    pub marks: &'a BTreeMap<String, String>,
    pub encrypted: bool,
    pub kms_key_id: Option<&'a str>,
    /// Idempotency token: a retried CopyImage returns the same copy.
    pub client_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Wait(#[from] WaitError<AwsError>),
}

/// Starts the copy in `ec2`'s region, hands its id to `made` before anything else can fail, and
/// tags it at once (marks included). Returns the copy's id.
pub async fn start(
    ec2: &aws_sdk_ec2::Client,
    req: &CopyRequest<'_>,
    made: &mut (dyn FnMut(String) + Send),
) -> Result<String, CopyError> {
    let out = ec2
        .copy_image()
        .source_region(req.source_region)
        .source_image_id(req.source_id)
        .name(req.name)
        .set_description(req.description.map(str::to_string))
        .encrypted(req.encrypted)
        .set_kms_key_id(req.kms_key_id.map(str::to_string))
        .client_token(&req.client_token)
        .send()
        .await
        .context("CopyImage", req.source_id)?;
    let id = out
        .image_id()
        .map(str::to_string)
        .ok_or_else(|| AwsError::new("CopyImage", req.source_id, "AWS returned no image id"))?;
    made(id.clone());
    tag_new(ec2, &id, &req.all_tags()).await?;
    tracing::info!(image_id = %id, source = req.source_id, encrypted = req.encrypted, "copy started and tagged");
    Ok(id)
}

/// Waits for a started copy and tags its snapshots like the copy (marks included).
pub async fn finish(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    req: &CopyRequest<'_>,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<ImageInfo, CopyError> {
    let info = image::wait_available(ec2, id, timeout, cancel).await?;
    image::tag(ec2, &info.snapshot_ids, &req.all_tags()).await?;
    Ok(info)
}

impl CopyRequest<'_> {
    fn all_tags(&self) -> BTreeMap<String, String> {
        let mut t = self.tags.clone();
        t.extend(self.marks.clone());
        t
    }
}

/// Tags an image that was just created. AWS may not know the new id for a moment (eventual
/// consistency): `InvalidAMIID.NotFound` is retried. Not cancellable: an untagged image is
/// exactly what must never be left behind.
async fn tag_new(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let r = wait::until(
        &format!("image {id} to accept tags"),
        Duration::from_secs(120),
        Backoff::SECONDS,
        &Cancel::new(),
        || async {
            match image::tag(ec2, &[id.to_string()], tags).await {
                Ok(()) => Ok(Some(())),
                Err(e) if e.code_starts_with("InvalidAMIID") => Ok(None),
                Err(e) => Err(e),
            }
        },
    )
    .await;
    match r {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(e)) => Err(e),
        Err(other) => Err(AwsError::new("CreateTags", id, other.to_string())),
    }
}

/// A finished copy of `source_id` that already exists in `ec2`'s region (made by an earlier
/// apply that was interrupted after finishing it, or for the same image by another resource).
pub async fn find_finished(
    ec2: &aws_sdk_ec2::Client,
    source_id: &str,
) -> Result<Option<ImageInfo>, AwsError> {
    Ok(image::find_tagged(ec2, COPY_OF, source_id)
        .await?
        .into_iter()
        .find(|i| !i.is_temporary() && i.state == "available"))
}

/// The tags of a copy: the source's `immutable:*` provenance (not its temporary marks), the
/// user's tags, its name and where it came from.
pub fn copy_tags(
    source: &ImageInfo,
    user_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut t = user_tags.clone();
    for (k, v) in &source.tags {
        let mark = [tags::TEMPORARY, tags::EXPIRES_AT, tags::OWNER].contains(&k.as_str());
        if k.starts_with("immutable:") && !mark {
            t.insert(k.clone(), v.clone());
        }
    }
    if let Some(n) = source.tags.get("Name") {
        t.entry("Name".into()).or_insert_with(|| n.clone());
    } else {
        t.entry("Name".into())
            .or_insert_with(|| source.name.clone());
    }
    t.insert(COPY_OF.into(), source.id.clone());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_carry_provenance_but_not_temporary_marks() {
        let source = ImageInfo {
            id: "ami-1".into(),
            name: "web-v1".into(),
            state: "available".into(),
            snapshot_ids: vec![],
            created_at: String::new(),
            tags: [
                (tags::FINGERPRINT, "sha256:f"),
                (tags::TEMPORARY, "true"),
                (tags::EXPIRES_AT, "2030-01-01T00:00:00Z"),
                (tags::OWNER, "h:1:2"),
                ("app", "old"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let user: BTreeMap<_, _> = [("app".to_string(), "web".to_string())].into();
        let t = copy_tags(&source, &user);
        assert_eq!(
            t.get(tags::FINGERPRINT).map(String::as_str),
            Some("sha256:f")
        );
        assert_eq!(t.get(COPY_OF).map(String::as_str), Some("ami-1"));
        assert_eq!(t.get("Name").map(String::as_str), Some("web-v1"));
        assert_eq!(t.get("app").map(String::as_str), Some("web"));
        assert!(!t.contains_key(tags::TEMPORARY));
        assert!(!t.contains_key(tags::EXPIRES_AT));
        assert!(!t.contains_key(tags::OWNER));
    }
}
