//! The image bake engine: source AMI + code tag + script → AMI, with every temporary object
//! tagged, cleaned up on success, failure and cancel, and an identical earlier bake reused.

pub mod builder;
pub mod fingerprint;
pub mod image;
pub mod name;
pub mod source;
pub mod spec;
pub mod ssm;
pub mod sweep;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::aws::wait::WaitError;
use crate::aws::{tags, Aws, AwsError};
use crate::cancel::Cancel;

pub use image::ImageInfo;
use spec::BakeSpec;

#[derive(Debug, Clone, PartialEq)]
pub struct Baked {
    pub image: ImageInfo,
    pub reused: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("bake failed while {stage}: {cause}{}", cleanup_note(.cleaned, .cleanup_failed))]
pub struct BakeError {
    pub stage: &'static str,
    pub cause: String,
    pub cancelled: bool,
    pub cleaned: Vec<String>,
    pub cleanup_failed: Vec<String>,
}

fn cleanup_note(cleaned: &[String], failed: &[String]) -> String {
    let mut s = String::new();
    if !cleaned.is_empty() {
        s.push_str(&format!(". Cleaned up: {}", cleaned.join("; ")));
    }
    if !failed.is_empty() {
        s.push_str(&format!(
            ". COULD NOT CLEAN UP (remove by hand, or the next bake sweeps builders once expired): {}",
            failed.join("; ")
        ));
    }
    s
}

/// Objects this bake created and must not outlive it.
#[derive(Default)]
struct Temporaries {
    builder: Option<String>,
    /// An image whose bake did not finish: deregistered on failure.
    unfinished_image: Option<String>,
}

/// Random, and short enough to read in a tag: `bake-` and 12 hex digits.
pub fn new_bake_id() -> String {
    format!("bake-{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff)
}

pub async fn bake(
    aws: &Aws,
    spec: &BakeSpec,
    source_ami_id: &str,
    fingerprint: &str,
    cancel: &Cancel,
) -> Result<Baked, BakeError> {
    let ec2 = aws.ec2().await.map_err(|e| fail("connecting to EC2", e))?;
    let deadline = Instant::now() + spec.create_timeout;
    let remaining = || deadline.saturating_duration_since(Instant::now());

    let existing = image::find_by_fingerprint(&ec2, fingerprint)
        .await
        .map_err(|e| fail("looking for an identical image", e))?;
    if let Some(found) = existing.into_iter().next() {
        tracing::info!(image_id = %found.id, fingerprint, "an identical image exists; reusing it instead of baking");
        let image = if found.state == "available" {
            found
        } else {
            image::wait_available(&ec2, &found.id, remaining(), cancel)
                .await
                .map_err(|e| fail_wait("waiting for the identical image", e))?
        };
        return Ok(Baked {
            image,
            reused: true,
        });
    }

    match sweep::sweep(&ec2).await {
        Ok(swept) if !swept.is_empty() => {
            tracing::info!(count = swept.len(), "swept abandoned builders")
        }
        Ok(_) => {}
        // Sweeping is housekeeping: a failure to sweep must not stop the bake.
        Err(e) => tracing::warn!("could not sweep abandoned builders: {e}"),
    }

    let bake_id = new_bake_id();
    let mut temps = Temporaries::default();
    let result = run(
        aws,
        &ec2,
        spec,
        source_ami_id,
        fingerprint,
        &bake_id,
        &mut temps,
        cancel,
        remaining,
    )
    .await;
    let (cleaned, cleanup_failed) = clean_up(&ec2, &temps, result.is_err()).await;
    match result {
        Ok(image) => {
            if !cleanup_failed.is_empty() {
                tracing::warn!(
                    "bake succeeded but cleanup failed: {}",
                    cleanup_failed.join("; ")
                );
            }
            Ok(Baked {
                image,
                reused: false,
            })
        }
        Err(mut e) => {
            e.cleaned = cleaned;
            e.cleanup_failed = cleanup_failed;
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    aws: &Aws,
    ec2: &aws_sdk_ec2::Client,
    spec: &BakeSpec,
    source_ami_id: &str,
    fingerprint: &str,
    bake_id: &str,
    temps: &mut Temporaries,
    cancel: &Cancel,
    remaining: impl Fn() -> Duration,
) -> Result<ImageInfo, BakeError> {
    let started = SystemTime::now();
    let mut temp_tags: BTreeMap<String, String> = aws.default_tags().clone();
    temp_tags.extend(spec.builder.run_tags.clone());
    temp_tags.insert(
        "Name".into(),
        format!("immutable builder {} ({bake_id})", spec.code_tag),
    );
    temp_tags.insert(tags::BAKE_ID.into(), bake_id.into());
    temp_tags.insert(tags::TEMPORARY.into(), "true".into());
    temp_tags.insert(tags::FINGERPRINT.into(), fingerprint.into());
    temp_tags.insert(tags::OWNER.into(), crate::owner::current());
    // Margin past the timeout so a slow-but-alive bake is never judged abandoned.
    let expires = started + spec.create_timeout + Duration::from_secs(600);
    temp_tags.insert(tags::EXPIRES_AT.into(), name::rfc3339(expires));

    let instance_id = builder::launch(ec2, source_ami_id, &spec.builder, &temp_tags, bake_id)
        .await
        .map_err(|e| fail("launching the builder", e))?;
    temps.builder = Some(instance_id.clone());
    tracing::info!(instance_id, bake_id, source_ami_id, "builder launched");

    builder::wait_running(ec2, &instance_id, remaining(), cancel)
        .await
        .map_err(|e| fail_wait("waiting for the builder to run", e))?;

    let ssm = aws.ssm().await.map_err(|e| fail("connecting to SSM", e))?;
    let cmds = ssm::commands(&spec.script, &spec.code_tag, &spec.environment, bake_id);
    ssm::run(&ssm, &instance_id, cmds, remaining(), cancel)
        .await
        .map_err(|e| match e {
            ssm::ProvisionError::Wait(w) => fail_wait("provisioning", w),
            other => fail("provisioning", other),
        })?;
    if cancel.is_tripped() {
        return Err(cancelled("provisioning"));
    }

    let name = name::render(
        &spec.image.name_template,
        &spec.code_tag,
        fingerprint,
        started,
    );
    let mut image_tags = spec.image.tags.clone();
    image_tags.insert(tags::FINGERPRINT.into(), fingerprint.into());
    image_tags.insert(tags::CODE_TAG.into(), spec.code_tag.clone());
    image_tags.insert(tags::SOURCE_AMI.into(), source_ami_id.into());
    image_tags.insert(tags::BAKE_ID.into(), bake_id.into());
    image_tags
        .entry("Name".into())
        .or_insert_with(|| name.clone());
    let image_id = image::create(
        ec2,
        &instance_id,
        &name,
        spec.image.description.as_deref(),
        &image_tags,
    )
    .await
    .map_err(|e| fail("creating the image", e))?;
    temps.unfinished_image = Some(image_id.clone());
    tracing::info!(image_id, name, "image creation started");

    let info = image::wait_available(ec2, &image_id, remaining(), cancel)
        .await
        .map_err(|e| fail_wait("waiting for the image to become available", e))?;
    image::tag(ec2, &info.snapshot_ids, &image_tags)
        .await
        .map_err(|e| fail("tagging the image's snapshots", e))?;
    temps.unfinished_image = None;
    tracing::info!(
        image_id,
        snapshots = info.snapshot_ids.len(),
        "image available"
    );
    Ok(info)
}

/// Runs whatever the outcome and whether or not Terraform asked to stop: nothing may outlive the
/// bake. Returns (what was cleaned, what could not be).
async fn clean_up(
    ec2: &aws_sdk_ec2::Client,
    temps: &Temporaries,
    failed: bool,
) -> (Vec<String>, Vec<String>) {
    let mut cleaned = Vec::new();
    let mut not = Vec::new();
    if failed {
        if let Some(img) = &temps.unfinished_image {
            let snaps = match image::describe(ec2, img).await {
                Ok(Some(i)) => i.snapshot_ids,
                _ => vec![],
            };
            match image::delete(ec2, img, &snaps, &Cancel::new()).await {
                Ok(()) => cleaned.push(format!("deregistered unfinished image {img}")),
                Err(e) => not.push(format!("image {img}: {e}")),
            }
        }
    }
    if let Some(id) = &temps.builder {
        match builder::terminate(ec2, std::slice::from_ref(id)).await {
            Ok(()) => cleaned.push(format!("terminated builder {id}")),
            Err(e) => not.push(format!("builder {id}: {e}")),
        }
    }
    (cleaned, not)
}

fn fail(stage: &'static str, e: impl std::fmt::Display) -> BakeError {
    BakeError {
        stage,
        cause: e.to_string(),
        cancelled: false,
        cleaned: vec![],
        cleanup_failed: vec![],
    }
}

fn fail_wait(stage: &'static str, e: WaitError<AwsError>) -> BakeError {
    match e {
        WaitError::Cancelled { .. } => cancelled(stage),
        other => fail(stage, other),
    }
}

fn cancelled(stage: &'static str) -> BakeError {
    BakeError {
        stage,
        cause: "Terraform asked the provider to stop (interrupt)".into(),
        cancelled: true,
        cleaned: vec![],
        cleanup_failed: vec![],
    }
}
