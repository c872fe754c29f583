//! In-place changes to a baked image's results: tags, launch permissions, copies added or
//! removed, `keep_previous`. A copy made here follows the bake's rules: tagged the moment it
//! exists, marked temporary until finished, discarded if anything fails or Terraform asks to stop.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use super::spec::ImageSettings;
use super::{
    copy_all, discard_images, fail, finalize, image, marks, new_bake_id, prune_all, BakeError, Job,
    Temporaries,
};
use crate::aws::Aws;
use crate::cancel::Cancel;

pub struct Reconciled {
    /// Region → AMI id after the change (home region included).
    pub region_image_ids: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// Brings the image and its copies from `old` settings to `new`. `ids` are the regions and
/// images as recorded in the state.
pub async fn reconcile(
    aws: &Aws,
    image_id: &str,
    ids: &BTreeMap<String, String>,
    old: &ImageSettings,
    new: &ImageSettings,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<Reconciled, BakeError> {
    let ec2 = aws.ec2().await.map_err(|e| fail("connecting to EC2", e))?;
    let home = aws
        .region()
        .await
        .map_err(|e| fail("connecting to EC2", e))?;
    let bake_id = new_bake_id();
    let job = Job {
        aws,
        ec2,
        settings: new,
        home: home.clone(),
        marks: marks(
            &bake_id,
            SystemTime::now() + timeout + Duration::from_secs(600),
        ),
        bake_id,
        started: SystemTime::now(),
        deadline: Instant::now() + timeout,
        cancel,
    };
    let source = image::describe(&job.ec2, image_id)
        .await
        .map_err(|e| fail("reading the image", e))?
        .ok_or_else(|| {
            fail(
                "reading the image",
                format!("{image_id} no longer exists; refresh and apply again to bake it anew"),
            )
        })?;

    // Copies no longer wanted.
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    for (region, id) in ids {
        if *region == home {
            continue;
        }
        if new.copy_to_regions.contains(region) {
            kept.insert(region.clone(), id.clone());
            continue;
        }
        let ec2 = job
            .ec2_in(region)
            .await
            .map_err(|e| fail("connecting to EC2 for a copy", e))?;
        let snaps = image::snapshots_of(&ec2, id)
            .await
            .map_err(|e| fail("deleting a copy", e))?;
        image::delete(&ec2, id, &snaps, &Cancel::new())
            .await
            .map_err(|e| fail("deleting a copy", e))?;
        tracing::info!(region, image_id = %id, "copy deleted: its region left copy_to_regions");
    }

    // Tags and launch permissions of what stays.
    let mut existing = vec![(home.clone(), image_id.to_string())];
    existing.extend(kept.iter().map(|(r, i)| (r.clone(), i.clone())));
    let removed_keys: Vec<String> = old
        .tags
        .keys()
        .filter(|k| !new.tags.contains_key(*k))
        .cloned()
        .collect();
    let grant = new.launch_permission.minus(&old.launch_permission);
    let revoke = old.launch_permission.minus(&new.launch_permission);
    for (region, id) in &existing {
        let ec2 = job
            .ec2_in(region)
            .await
            .map_err(|e| fail("connecting to EC2", e))?;
        if old.tags != new.tags {
            let mut targets = vec![id.clone()];
            if let Some(info) = image::describe(&ec2, id)
                .await
                .map_err(|e| fail("updating tags", e))?
            {
                targets.extend(info.snapshot_ids);
            }
            image::untag(&ec2, &targets, &removed_keys)
                .await
                .map_err(|e| fail("updating tags", e))?;
            image::tag(&ec2, &targets, &new.tags)
                .await
                .map_err(|e| fail("updating tags", e))?;
        }
        image::set_launch_permission(&ec2, id, &grant, &revoke)
            .await
            .map_err(|e| fail("updating launch permissions", e))?;
    }

    // Copies newly wanted.
    let mut temps = Temporaries::default();
    let copied = match copy_all(&job, &source, &kept, &mut temps).await {
        Ok(c) => finalize(&job, &mut temps).await.map(|()| c),
        Err(e) => Err(e),
    };
    let mut copies = match copied {
        Ok(c) => c,
        Err(mut e) => {
            let (cleaned, not) = discard_images(&job, &mut temps).await;
            e.cleaned = cleaned;
            e.cleanup_failed = not;
            return Err(e);
        }
    };
    copies.insert(home, image_id.to_string());
    let warnings = prune_all(&job, &copies).await;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok(Reconciled {
        region_image_ids: copies,
        warnings,
    })
}
