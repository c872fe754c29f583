//! The image bake engine: source AMI + code tag + script → AMI (encrypted, shared, copied to other
//! regions when asked), with every temporary object tagged, cleaned up on success, failure and
//! cancel, an identical earlier bake reused, and earlier images pruned (`keep_previous`).
//!
//! A bake runs in two phases. **Build**: SSH access (key pair, security group) when the
//! communicator is `ssh`, the builder, provisioning, CreateImage, wait. The builder and its access
//! are removed as soon as the image is available (or the build fails). **Finish**: encryption
//! (a copy with `Encrypted`), launch permissions, copies to other regions, then the temporary marks
//! come off every image at once. Until then every image this bake made carries
//! `immutable:temporary` (and is never adopted by another bake); if anything fails or Terraform
//! asks to stop, each of them is discarded with its snapshots.

pub mod builder;
pub mod communicator;
pub mod copies;
pub mod fingerprint;
pub mod image;
pub mod name;
pub mod results;
pub mod retention;
pub mod source;
pub mod spec;
pub mod ssh;
pub mod ssm;
pub mod sweep;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::aws::wait::WaitError;
use crate::aws::{tags, Aws, AwsError};
use crate::cancel::Cancel;

use communicator::ProvisionError;
pub use image::ImageInfo;
use spec::{BakeSpec, Communicator};

#[derive(Debug, Clone, PartialEq)]
pub struct Baked {
    pub image: ImageInfo,
    pub reused: bool,
    /// Region → AMI id: the home region and every copy.
    pub region_image_ids: BTreeMap<String, String>,
    /// Housekeeping that failed without failing the bake (pruning, removing a builder).
    pub warnings: Vec<String>,
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
            ". COULD NOT CLEAN UP (they are tagged immutable:temporary with an expiry; the next bake sweeps them once expired, or remove them by hand): {}",
            failed.join("; ")
        ));
    }
    s
}

/// Tags whose presence marks an object as temporary; they come off an image once it is finished.
pub const MARK_KEYS: [&str; 3] = [tags::TEMPORARY, tags::EXPIRES_AT, tags::OWNER];

/// The marks every temporary object of one bake carries.
pub fn marks(bake_id: &str, expires: SystemTime) -> BTreeMap<String, String> {
    BTreeMap::from([
        (tags::TEMPORARY.to_string(), "true".to_string()),
        (tags::BAKE_ID.to_string(), bake_id.to_string()),
        (tags::EXPIRES_AT.to_string(), name::rfc3339(expires)),
        (tags::OWNER.to_string(), crate::owner::current()),
    ])
}

/// A finished image, region → id of it and its copies, and housekeeping warnings.
type Finished = (ImageInfo, BTreeMap<String, String>, Vec<String>);

/// An image (home region or a copy) this bake made and has not finished.
#[derive(Debug, Clone)]
struct MadeImage {
    region: String,
    id: String,
    snapshots: Vec<String>,
}

/// Objects this bake created and must not outlive it.
#[derive(Default)]
struct Temporaries {
    builder: Option<String>,
    ssh: ssh::Made,
    images: Vec<MadeImage>,
}

/// Random, and short enough to read in a tag: `bake-` and 12 hex digits.
pub fn new_bake_id() -> String {
    format!("bake-{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff)
}

/// What one bake shares between its steps.
struct Job<'a> {
    aws: &'a Aws,
    ec2: aws_sdk_ec2::Client,
    settings: &'a spec::ImageSettings,
    home: String,
    bake_id: String,
    started: SystemTime,
    marks: BTreeMap<String, String>,
    deadline: Instant,
    cancel: &'a Cancel,
}

impl Job<'_> {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    async fn ec2_in(&self, region: &str) -> Result<aws_sdk_ec2::Client, AwsError> {
        if region == self.home {
            Ok(self.ec2.clone())
        } else {
            self.aws.ec2_in(Some(region)).await
        }
    }
}

pub async fn bake(
    aws: &Aws,
    spec: &BakeSpec,
    source_ami_id: &str,
    fingerprint: &str,
    cancel: &Cancel,
) -> Result<Baked, BakeError> {
    let ec2 = aws.ec2().await.map_err(|e| fail("connecting to EC2", e))?;
    let home = aws
        .region()
        .await
        .map_err(|e| fail("connecting to EC2", e))?;
    let started = SystemTime::now();
    let bake_id = new_bake_id();
    // Margin past the timeout so a slow-but-alive bake is never judged abandoned.
    let expires = started + spec.create_timeout + Duration::from_secs(600);
    let job = Job {
        aws,
        ec2,
        settings: &spec.image,
        home,
        marks: marks(&bake_id, expires),
        bake_id,
        started,
        deadline: Instant::now() + spec.create_timeout,
        cancel,
    };
    let mut temps = Temporaries::default();

    let existing = image::find_by_fingerprint(&job.ec2, fingerprint)
        .await
        .map_err(|e| fail("looking for an identical image", e))?;
    if let Some(found) = existing.into_iter().next() {
        tracing::info!(image_id = %found.id, fingerprint, "an identical image exists; reusing it instead of baking");
        let image = if found.state == "available" {
            found
        } else {
            image::wait_available(&job.ec2, &found.id, job.remaining(), cancel)
                .await
                .map_err(|e| fail_wait("waiting for the identical image", e))?
        };
        let result = finish(&job, image, None, &mut temps).await;
        return conclude(&job, result, temps, true, vec![], vec![]).await;
    }

    let mut regions = vec![job.home.clone()];
    regions.extend(
        spec.image
            .copy_to_regions
            .iter()
            .filter(|r| **r != job.home)
            .cloned(),
    );
    for region in &regions {
        // Sweeping is housekeeping: a failure to sweep must not stop the bake.
        let swept = match job.ec2_in(region).await {
            Ok(ec2) => sweep::sweep(&ec2).await,
            Err(e) => Err(e),
        };
        match swept {
            Ok(s) if !s.is_empty() => {
                tracing::info!(region, count = s.len(), "swept abandoned temporaries")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(region, "could not sweep abandoned temporaries: {e}"),
        }
    }

    let name = name::render(
        &spec.image.name_template,
        &spec.code_tag,
        fingerprint,
        started,
    );
    let final_tags = image_tags(spec, fingerprint, source_ami_id, &job.bake_id, &name);
    let built = build(
        &job,
        spec,
        source_ami_id,
        fingerprint,
        &name,
        &final_tags,
        &mut temps,
    )
    .await;
    // The builder is done with once the image exists (or the build failed): remove it and its
    // access now, not after copies that can take half an hour.
    let (cleaned, not_cleaned) = clean_builder(&job, &mut temps).await;
    let result = match built {
        Ok(img) => finish(&job, img, Some((&name, &final_tags)), &mut temps).await,
        Err(e) => Err(e),
    };
    conclude(&job, result, temps, false, cleaned, not_cleaned).await
}

/// The managed tags of a finished image, over the user's.
fn image_tags(
    spec: &BakeSpec,
    fingerprint: &str,
    source_ami_id: &str,
    bake_id: &str,
    name: &str,
) -> BTreeMap<String, String> {
    let mut t = spec.image.tags.clone();
    t.insert(tags::FINGERPRINT.into(), fingerprint.into());
    t.insert(tags::CODE_TAG.into(), spec.code_tag.clone());
    t.insert(tags::SOURCE_AMI.into(), source_ami_id.into());
    t.insert(tags::BAKE_ID.into(), bake_id.into());
    t.insert(
        retention::LINEAGE.into(),
        retention::lineage(&spec.image.name_template),
    );
    t.entry("Name".into()).or_insert_with(|| name.to_string());
    t
}

/// Build phase: access, builder, provisioning, CreateImage, wait. Returns the home image,
/// available and still marked temporary.
async fn build(
    job: &Job<'_>,
    spec: &BakeSpec,
    source_ami_id: &str,
    fingerprint: &str,
    name: &str,
    final_tags: &BTreeMap<String, String>,
    temps: &mut Temporaries,
) -> Result<ImageInfo, BakeError> {
    let mut temp_tags: BTreeMap<String, String> = job.aws.default_tags().clone();
    temp_tags.extend(spec.builder.run_tags.clone());
    temp_tags.insert(
        "Name".into(),
        format!("immutable builder {} ({})", spec.code_tag, job.bake_id),
    );
    temp_tags.extend(job.marks.clone());
    temp_tags.insert(tags::FINGERPRINT.into(), fingerprint.into());

    let mut builder_spec = spec.builder.clone();
    let access = match &spec.communicator {
        Communicator::Ssm => None,
        Communicator::Ssh(ssh) => {
            let a = ssh::prepare(
                &job.ec2,
                ssh,
                &spec.builder,
                &temp_tags,
                &job.bake_id,
                &mut temps.ssh,
            )
            .await
            .map_err(|e| provision_failed("preparing SSH access", e))?;
            builder_spec.key_name = Some(a.key_name.clone());
            builder_spec.security_group_ids = a.security_group_ids.clone();
            Some(a)
        }
    };

    let instance_id = builder::launch(
        &job.ec2,
        source_ami_id,
        &builder_spec,
        &temp_tags,
        &job.bake_id,
    )
    .await
    .map_err(|e| fail("launching the builder", e))?;
    temps.builder = Some(instance_id.clone());
    tracing::info!(instance_id, bake_id = %job.bake_id, source_ami_id, "builder launched");

    let addresses = builder::wait_running(&job.ec2, &instance_id, job.remaining(), job.cancel)
        .await
        .map_err(|e| fail_wait("waiting for the builder to run", e))?;

    match (&spec.communicator, &access) {
        (Communicator::Ssh(ssh), Some(access)) => {
            let script = ssh::Script {
                content: &spec.script,
                code_tag: &spec.code_tag,
                environment: &spec.environment,
                bake_id: &job.bake_id,
            };
            ssh::provision(
                ssh,
                access,
                &addresses,
                &script,
                job.remaining(),
                job.cancel,
            )
            .await
        }
        _ => {
            let ssm = job
                .aws
                .ssm()
                .await
                .map_err(|e| fail("connecting to SSM", e))?;
            let cmds = ssm::commands(
                &spec.script,
                &spec.code_tag,
                &spec.environment,
                &job.bake_id,
            );
            ssm::run(&ssm, &instance_id, cmds, job.remaining(), job.cancel).await
        }
    }
    .map_err(|e| provision_failed("provisioning", e))?;
    if job.cancel.is_tripped() {
        return Err(cancelled("provisioning"));
    }

    // An image to be encrypted is an intermediate: it must never be adopted as the result, so
    // it gets neither the fingerprint nor the lineage, and a name of its own.
    let (create_name, mut create_tags) = if spec.image.encrypted {
        let mut t = spec.image.tags.clone();
        let n = format!("immutable-unencrypted-{}", job.bake_id);
        t.insert("Name".into(), n.clone());
        t.insert(tags::BAKE_ID.into(), job.bake_id.clone());
        (n, t)
    } else {
        (name.to_string(), final_tags.clone())
    };
    create_tags.extend(job.marks.clone());
    let image_id = image::create(
        &job.ec2,
        &instance_id,
        &create_name,
        spec.image.description.as_deref(),
        &create_tags,
    )
    .await
    .map_err(|e| fail("creating the image", e))?;
    temps.images.push(MadeImage {
        region: job.home.clone(),
        id: image_id.clone(),
        snapshots: vec![],
    });
    tracing::info!(image_id, name = %create_name, "image creation started");

    let info = image::wait_available(&job.ec2, &image_id, job.remaining(), job.cancel)
        .await
        .map_err(|e| fail_wait("waiting for the image to become available", e))?;
    image::tag(&job.ec2, &info.snapshot_ids, &create_tags)
        .await
        .map_err(|e| fail("tagging the image's snapshots", e))?;
    if let Some(m) = temps.images.last_mut() {
        m.snapshots = info.snapshot_ids.clone();
    }
    tracing::info!(
        image_id,
        snapshots = info.snapshot_ids.len(),
        "image available"
    );
    Ok(info)
}

/// Finish phase: encryption (for a freshly built image: `built` carries its final name and
/// tags), launch permissions, copies; then the temporary marks come off everything at once.
async fn finish(
    job: &Job<'_>,
    mut image: ImageInfo,
    built: Option<(&str, &BTreeMap<String, String>)>,
    temps: &mut Temporaries,
) -> Result<Finished, BakeError> {
    let settings = job.settings;
    let mut warnings = Vec::new();
    if let (true, Some((name, final_tags))) = (settings.encrypted, built) {
        if job.cancel.is_tripped() {
            return Err(cancelled("encrypting the image"));
        }
        let intermediate = image.clone();
        let req = copies::CopyRequest {
            source_region: &job.home,
            source_id: &intermediate.id,
            name,
            description: settings.description.as_deref(),
            tags: final_tags,
            marks: &job.marks,
            encrypted: true,
            kms_key_id: settings.kms_key_id.as_deref(),
            client_token: format!("{}-encrypt", job.bake_id),
        };
        let home = job.home.clone();
        let enc = copies::start(&job.ec2, &req, &mut |id| {
            temps.images.push(MadeImage {
                region: home.clone(),
                id,
                snapshots: vec![],
            })
        })
        .await
        .map_err(|e| fail("encrypting the image (CopyImage)", e))?;
        let info = copies::finish(&job.ec2, &enc, &req, job.remaining(), job.cancel)
            .await
            .map_err(|e| fail_copy("waiting for the encrypted copy", e))?;
        set_snapshots(temps, &enc, &info.snapshot_ids);
        // The unencrypted intermediate has served its purpose. It is never finished: if it
        // cannot be deleted now it keeps its temporary marks and a later sweep removes it.
        temps.images.retain(|m| m.id != intermediate.id);
        match image::delete(
            &job.ec2,
            &intermediate.id,
            &intermediate.snapshot_ids,
            &Cancel::new(),
        )
        .await
        {
            Ok(()) => tracing::info!(image_id = %intermediate.id, "unencrypted intermediate image deleted"),
            Err(e) => warnings.push(format!(
                "the unencrypted intermediate image {} could not be deleted ({e}); it stays tagged immutable:temporary and a later bake sweeps it",
                intermediate.id
            )),
        }
        tracing::info!(image_id = %info.id, "image encrypted");
        image = info;
    }

    image::set_launch_permission(
        &job.ec2,
        &image.id,
        &settings.launch_permission,
        &Default::default(),
    )
    .await
    .map_err(|e| fail("setting the image's launch permissions", e))?;
    let mut ids = copy_all(job, &image, &BTreeMap::new(), temps).await?;
    ids.insert(job.home.clone(), image.id.clone());
    finalize(job, temps).await?;
    image.tags.retain(|k, _| !MARK_KEYS.contains(&k.as_str()));
    Ok((image, ids, warnings))
}

/// Makes sure every region of `copy_to_regions` has a finished copy of `image`: those in
/// `existing` are kept as they are, a finished copy found by its `immutable:copy-of` tag is
/// adopted, the others are copied (all started first, then waited for). New copies get the
/// launch permissions. Returns region → copy id.
async fn copy_all(
    job: &Job<'_>,
    image: &ImageInfo,
    existing: &BTreeMap<String, String>,
    temps: &mut Temporaries,
) -> Result<BTreeMap<String, String>, BakeError> {
    let spec = job.settings;
    let mut ids = BTreeMap::new();
    let copy_tags = copies::copy_tags(image, &spec.tags);
    let request = |client_token: String| copies::CopyRequest {
        source_region: &job.home,
        source_id: &image.id,
        name: &image.name,
        description: spec.description.as_deref(),
        tags: &copy_tags,
        marks: &job.marks,
        encrypted: spec.encrypted,
        // A KMS key belongs to one region: copies use each region's default EBS key.
        kms_key_id: None,
        client_token,
    };
    let mut pending = Vec::new();
    for region in &spec.copy_to_regions {
        if *region == job.home {
            continue;
        }
        if let Some(id) = existing.get(region) {
            ids.insert(region.clone(), id.clone());
            continue;
        }
        let ec2 = job
            .ec2_in(region)
            .await
            .map_err(|e| fail("connecting to EC2 for a copy", e))?;
        if let Some(found) = copies::find_finished(&ec2, &image.id)
            .await
            .map_err(|e| fail("looking for an existing copy", e))?
        {
            tracing::info!(region, image_id = %found.id, "a finished copy exists; reusing it");
            image::set_launch_permission(
                &ec2,
                &found.id,
                &spec.launch_permission,
                &Default::default(),
            )
            .await
            .map_err(|e| fail("setting a copy's launch permissions", e))?;
            ids.insert(region.clone(), found.id);
            continue;
        }
        // No new copy once Terraform asked to stop; one already started is discarded.
        if job.cancel.is_tripped() {
            return Err(cancelled("copying the image to another region"));
        }
        let r = region.clone();
        let id = copies::start(
            &ec2,
            &request(format!("{}-{region}", job.bake_id)),
            &mut |id| {
                temps.images.push(MadeImage {
                    region: r.clone(),
                    id,
                    snapshots: vec![],
                })
            },
        )
        .await
        .map_err(|e| fail("copying the image to another region", e))?;
        pending.push((region.clone(), ec2, id));
    }
    // The copies run side by side on AWS's end; waiting for them one after the other costs no
    // more than the slowest.
    for (region, ec2, id) in pending {
        let info = copies::finish(
            &ec2,
            &id,
            &request(String::new()),
            job.remaining(),
            job.cancel,
        )
        .await
        .map_err(|e| fail_copy("waiting for a copy", e))?;
        set_snapshots(temps, &id, &info.snapshot_ids);
        image::set_launch_permission(&ec2, &id, &spec.launch_permission, &Default::default())
            .await
            .map_err(|e| fail("setting a copy's launch permissions", e))?;
        tracing::info!(region, image_id = %id, "copy available");
        ids.insert(region, id);
    }
    Ok(ids)
}

/// Everything is in place: the marks come off every image this bake made (and their
/// snapshots), copies first, the home image last. If that fails, all of them are discarded.
async fn finalize(job: &Job<'_>, temps: &mut Temporaries) -> Result<(), BakeError> {
    let mut made = std::mem::take(&mut temps.images);
    made.sort_by_key(|m| m.region == job.home);
    let keys: Vec<String> = MARK_KEYS.iter().map(|k| k.to_string()).collect();
    for m in &made {
        let r = match job.ec2_in(&m.region).await {
            Ok(ec2) => {
                let mut targets = vec![m.id.clone()];
                targets.extend(m.snapshots.iter().cloned());
                image::untag(&ec2, &targets, &keys).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            temps.images = made;
            return Err(fail("finishing the image", e));
        }
    }
    Ok(())
}

fn set_snapshots(temps: &mut Temporaries, id: &str, snaps: &[String]) {
    if let Some(m) = temps.images.iter_mut().find(|m| m.id == id) {
        m.snapshots = snaps.to_vec();
    }
}

/// Turns the outcome into the answer: on failure everything unfinished is discarded and the
/// error says what was cleaned; on success earlier images are pruned (`keep_previous`).
async fn conclude(
    job: &Job<'_>,
    result: Result<Finished, BakeError>,
    mut temps: Temporaries,
    reused: bool,
    mut cleaned: Vec<String>,
    mut not_cleaned: Vec<String>,
) -> Result<Baked, BakeError> {
    match result {
        Ok((image, ids, mut warnings)) => {
            if !not_cleaned.is_empty() {
                warnings.push(format!(
                    "the image is ready but cleanup failed: {}",
                    not_cleaned.join("; ")
                ));
            }
            warnings.extend(prune_all(job, &ids).await);
            for w in &warnings {
                tracing::warn!("{w}");
            }
            tracing::info!(
                started = %name::rfc3339(job.started),
                image_id = %image.id,
                reused,
                "bake finished"
            );
            Ok(Baked {
                image,
                reused,
                region_image_ids: ids,
                warnings,
            })
        }
        Err(mut e) => {
            let (c, n) = discard_images(job, &mut temps).await;
            cleaned.extend(c);
            not_cleaned.extend(n);
            e.cleaned = cleaned;
            e.cleanup_failed = not_cleaned;
            Err(e)
        }
    }
}

/// `keep_previous` in every region that holds the image; failures are warnings.
async fn prune_all(job: &Job<'_>, ids: &BTreeMap<String, String>) -> Vec<String> {
    let Some(keep) = job.settings.keep_previous else {
        return vec![];
    };
    let lineage = retention::lineage(&job.settings.name_template);
    let mut warnings = Vec::new();
    for (region, id) in ids {
        let pruned = match job.ec2_in(region).await {
            Ok(ec2) => retention::prune(&ec2, &lineage, id, keep).await,
            Err(e) => Err(e),
        };
        if let Err(e) = pruned {
            warnings.push(format!("keep_previous: pruning in {region} failed: {e}"));
        }
    }
    warnings
}

/// Terminates the builder, then deletes its security group (once the builder is gone) and key
/// pair. Runs whatever the outcome and whether or not Terraform asked to stop.
async fn clean_builder(job: &Job<'_>, temps: &mut Temporaries) -> (Vec<String>, Vec<String>) {
    const RELEASE: Duration = Duration::from_secs(600);
    let mut cleaned = Vec::new();
    let mut not = Vec::new();
    let mut builder_gone = true;
    if let Some(id) = temps.builder.take() {
        match builder::terminate(&job.ec2, std::slice::from_ref(&id)).await {
            Ok(()) => cleaned.push(format!("terminated builder {id}")),
            Err(e) => {
                builder_gone = false;
                not.push(format!("builder {id}: {e}"))
            }
        }
        if builder_gone && temps.ssh.security_group.is_some() {
            if let Err(e) =
                builder::wait_terminated(&job.ec2, std::slice::from_ref(&id), RELEASE).await
            {
                tracing::warn!("the builder {id} did not finish terminating: {e}");
            }
        }
    }
    if let Some(sg) = temps.ssh.security_group.take() {
        match ssh::security_group::delete(&job.ec2, &sg, RELEASE).await {
            Ok(()) => cleaned.push(format!("deleted security group {sg}")),
            Err(e) => not.push(format!("security group {sg}: {e}")),
        }
    }
    if let Some(kp) = temps.ssh.key_pair.take() {
        match ssh::keys::delete(&job.ec2, &kp).await {
            Ok(()) => cleaned.push(format!("deleted key pair {kp}")),
            Err(e) => not.push(format!("key pair {kp}: {e}")),
        }
    }
    (cleaned, not)
}

/// Discards every image this bake made and did not finish, newest first.
async fn discard_images(job: &Job<'_>, temps: &mut Temporaries) -> (Vec<String>, Vec<String>) {
    let mut cleaned = Vec::new();
    let mut not = Vec::new();
    for m in temps.images.drain(..).rev() {
        let r = match job.ec2_in(&m.region).await {
            Ok(ec2) => image::discard(&ec2, &m.id, &job.marks).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(()) => cleaned.push(format!(
                "deregistered unfinished image {} in {} and deleted its snapshots",
                m.id, m.region
            )),
            Err(e) => not.push(format!("image {} in {}: {e}", m.id, m.region)),
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

fn fail_copy(stage: &'static str, e: copies::CopyError) -> BakeError {
    match e {
        copies::CopyError::Wait(w) => fail_wait(stage, w),
        other => fail(stage, other),
    }
}

fn provision_failed(stage: &'static str, e: ProvisionError) -> BakeError {
    if e.is_cancelled() {
        cancelled(stage)
    } else {
        fail(stage, e)
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
