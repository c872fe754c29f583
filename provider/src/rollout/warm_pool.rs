//! A group's warm pool, refreshed with the group.
//!
//! A warm pool's instances keep the launch template (and so the image) they were launched
//! from: a new launch template version starts new instances from the new image and leaves the
//! pool's existing instances as they are, and a scale-out draws the pool's instances into
//! service before it launches any. Left alone, a pool of old instances brings the old image back with every
//! scale-out after a release (and during one: a surge draws them first). AWS's own answer is an
//! Instance Refresh, which replaces the warm pool's instances as well as the group's (it reports
//! `WarmPoolProgress`, "progress on replacing instances that are in the warm pool", beside
//! `LivePoolProgress`).
//! <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#update-warm-pool>,
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceRefreshProgressDetails.html>
//!
//! So right after the launch switch the release terminates the pool's instances that are not on
//! the target image (TerminateInstanceInAutoScalingGroup, without decrement: pool instances are
//! not desired capacity). The pool keeps its size — at least `MinSize`, up to
//! `MaxGroupPreparedCapacity` (or max size) minus desired capacity — by launching new pool
//! instances from the group's launch setting, which is the new one by then. A rollback, once
//! the group launches the previous setting again, refreshes the pool onto the previous image.
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html>,
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_WarmPoolConfiguration.html>
//!
//! While it terminates, the group's `Launch` process is suspended: a scale-out (an operator's,
//! a scaling policy's, the group replacing an unhealthy instance) would otherwise draw a pool
//! instance into service between the pool's read and its termination, and the termination would
//! then take a serving instance. With `Launch` suspended the group initiates no scale-out for
//! alarms or scheduled actions, and `ReplaceUnhealthy` terminates but launches no replacement
//! until `Launch` resumes; the pool's own launches are assumed to wait too (the simulation
//! models it so; AWS does not say). Launch is resumed on every exit path, and a tag
//! ([`REFRESH_TAG`]) written before the suspension says that the refresh suspended it, so an
//! apply after a crash in between resumes it first.
//! <https://docs.aws.amazon.com/autoscaling/ec2/userguide/understand-how-suspending-processes-affects-other-processes.html>
//!
//! Nothing else is recorded for the pool: what to terminate is read from the pool each time
//! (its instances and their images), so an apply after a crash mid-refresh terminates the rest,
//! and the pool's configuration is never changed. A pool that cannot be read is not touched
//! (the caller stops before any batch); an instance a scale-out drew from the pool before the
//! refresh is an old instance like any other and never counts as a batch's progress.

use super::group::{GroupApi, LaunchSetting};
use crate::aws::AwsError;

/// What a refresh did: the pool instances it terminated, sorted by id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub terminated: Vec<String>,
}

impl Refreshed {
    /// The note for the release's report, `None` when nothing was terminated.
    pub fn note(&self, image: &str) -> Option<String> {
        match self.terminated.len() {
            0 => None,
            n => Some(format!(
                "warm pool refreshed onto {image}: {n} pool instance{} on another image terminated ({}); the pool refills from the launch setting",
                if n == 1 { "" } else { "s" },
                self.terminated.join(", ")
            )),
        }
    }
}

/// Present while a refresh holds the group's `Launch` process suspended.
pub const REFRESH_TAG: &str = "immutable:warm-pool-refresh";

const LAUNCH: &str = "Launch";

/// Terminates the warm pool's instances that are not on `image` and that a scale-out could still
/// draw, with `Launch` suspended meanwhile. Without a pool (or when the group had none at the
/// start: `had_pool` false, which saves every read), nothing.
pub async fn refresh(
    group: &dyn GroupApi,
    had_pool: bool,
    image: &str,
) -> Result<Refreshed, AwsError> {
    if !had_pool {
        return Ok(Refreshed::default());
    }
    let launch = [LAUNCH.to_string()];
    if group.tags().await?.contains_key(REFRESH_TAG) {
        // An earlier refresh stopped before resuming Launch: it suspended it, so resume it.
        group.resume(&launch).await?;
        group.delete_tag(REFRESH_TAG).await?;
    }
    let ours = !group
        .suspended_processes()
        .await?
        .iter()
        .any(|p| p == LAUNCH);
    if ours {
        group.set_tag(REFRESH_TAG, LAUNCH).await?;
        // On a failure the tag stays: the suspension may have happened with its answer lost,
        // and the next refresh resumes Launch.
        group.suspend(&launch).await?;
    }
    let result = terminate_outdated(group, image).await;
    if ours {
        // Resumed whatever happened; the tag goes only once Launch runs again.
        group.resume(&launch).await?;
        group.delete_tag(REFRESH_TAG).await?;
    }
    result
}

async fn terminate_outdated(group: &dyn GroupApi, image: &str) -> Result<Refreshed, AwsError> {
    let Some(pool) = group.warm_pool().await? else {
        return Ok(Refreshed::default());
    };
    let mut terminated: Vec<String> = pool.outdated(image).map(|i| i.id.clone()).collect();
    terminated.sort_unstable();
    for id in &terminated {
        group.terminate(id, false).await?;
    }
    // A termination is judged done when its instance is not among the group's own instances
    // (`AwsGroup::terminate`, after a lost or failed answer), which never list the pool's: so the
    // pool is read again, and what still waits in it is terminated once more, then refused.
    for last in [false, true] {
        if terminated.is_empty() {
            break;
        }
        let Some(pool) = group.warm_pool().await? else {
            break;
        };
        let left: Vec<String> = pool
            .outdated(image)
            .filter(|i| terminated.contains(&i.id))
            .map(|i| i.id.clone())
            .collect();
        if left.is_empty() {
            break;
        }
        if last {
            return Err(AwsError::new(
                "TerminateInstanceInAutoScalingGroup",
                group.name(),
                format!(
                    "the warm pool still holds {} on another image after its termination",
                    left.join(", ")
                ),
            ));
        }
        for id in &left {
            group.terminate(id, false).await?;
        }
    }
    if !terminated.is_empty() {
        tracing::info!(group = %group.name(), %image, instances = ?terminated, "warm pool instances on another image terminated; the pool refills from the launch setting");
    }
    Ok(Refreshed { terminated })
}

/// The refresh at the end of a release that switched the group to `switched_to`. When the
/// group no longer launches that setting (another tool moved it back while the release ran, and
/// the release's surges were served from the refreshed pool, so no batch saw it), the pool would
/// refill from the other setting: that is an error for the release, and the pool is left alone.
/// A failure to refresh is only logged: the group is consistent, and the next plan shows the
/// pool's old instances (`outdated_instances`).
pub async fn finish(
    group: &dyn GroupApi,
    had_pool: bool,
    switched_to: Option<&LaunchSetting>,
    image: &str,
) -> Result<(), String> {
    if !had_pool {
        return Ok(());
    }
    if let (Some(expected), Ok(Some(now))) = (switched_to, group.launch().await) {
        if &now != expected {
            return Err(format!(
                "the group's launch setting was changed by someone else during the release: it is {} now, not {} — its warm pool was not refreshed (it would refill from that setting); stop the other tool or pipeline, then apply again",
                now.describe(),
                expected.describe()
            ));
        }
    }
    if let Err(e) = refresh(group, had_pool, image).await {
        tracing::warn!(group = %group.name(), "the warm pool was not refreshed at the end of the release ({e}); the next apply refreshes it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::sim::{SimConfig, SimGroup};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a paused runtime")
    }

    fn pooled(seed: u64) -> SimGroup {
        let mut cloud = SimConfig::new(seed, 4);
        cloud.max = 8;
        cloud.warm_pool = 3;
        SimGroup::new(cloud)
    }

    #[test]
    fn a_refresh_interrupted_with_launch_suspended_is_resumed_by_the_next() {
        let sim = pooled(31);
        rt().block_on(async {
            // What a crash between the suspension and the resume leaves.
            sim.set_tag(REFRESH_TAG, LAUNCH).await.unwrap();
            sim.suspend(&[LAUNCH.to_string()]).await.unwrap();
            let r = refresh(&sim, true, "ami-new").await.unwrap();
            assert_eq!(r.terminated.len(), 3);
        });
        assert!(!sim.suspended_now().contains(LAUNCH));
        assert!(!sim.tag_map().contains_key(REFRESH_TAG));
        // Refilled once Launch ran again (from the group's setting: still the original here).
        let pool = sim.pool_images();
        assert_eq!(pool.len(), 3);
        assert!(pool.values().all(|i| i == "ami-old"), "{pool:?}");
    }

    #[test]
    fn launch_suspended_by_someone_else_stays_suspended_and_nothing_without_a_pool() {
        let sim = pooled(32);
        rt().block_on(async {
            sim.suspend(&[LAUNCH.to_string()]).await.unwrap();
            refresh(&sim, true, "ami-new").await.unwrap();
        });
        assert!(sim.suspended_now().contains(LAUNCH));
        assert!(!sim.tag_map().contains_key(REFRESH_TAG));
        assert!(
            sim.pool_images().is_empty(),
            "terminated, not refilled while Launch is suspended"
        );

        let plain = SimGroup::new(SimConfig::new(33, 4));
        rt().block_on(async {
            assert_eq!(
                refresh(&plain, false, "ami-new").await.unwrap(),
                Refreshed::default()
            );
        });
        assert!(plain.calls().is_empty(), "{:?}", plain.calls());
    }
}
