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
//! the target image, as the user guide refreshes a pool: through EC2's TerminateInstances
//! (TerminateInstanceInAutoScalingGroup "cannot be called on instances in a warm pool"), a few
//! calls at a time ([`concurrently`]). The pool keeps its size — at least `MinSize`, up to
//! `MaxGroupPreparedCapacity` (or max size) minus desired capacity — by launching new pool
//! instances from the group's launch setting, which is the new one by then. A rollback, once
//! the group launches the previous setting again, refreshes the pool onto the previous image.
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutWarmPool.html>,
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_WarmPoolConfiguration.html>,
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html>
//!
//! With an instance reuse policy (`ReuseOnScaleIn`) "instances in the Auto Scaling group can be
//! returned to the warm pool on scale in": a scale-in while the release runs (an operator's, a
//! scaling policy's) may put an old-image instance back in the refreshed pool. The release's
//! own terminations are not scale-ins — TerminateInstanceInAutoScalingGroup terminates its
//! instance ("You can't connect to or start an instance after you've terminated it") — so the
//! pool is refreshed once more at the end of a release ([`finish`]).
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceReusePolicy.html>
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

use super::group::{concurrently, GroupApi};
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
    // A few at a time, as a batch's: a large pool is not refreshed one round trip after
    // another. Behind `Patient` each throttled call is repeated on its own; after a failed one
    // no further call starts, the error stops the release before any batch, and the next
    // apply reads the pool again and terminates what is left.
    terminate_pooled(group, &terminated).await?;
    // An answer lost after the SDK's retries leaves a termination unknown, and a pool drawn on
    // meanwhile changes: so the pool is read again, and what still waits in it is terminated
    // once more, then refused.
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
        terminate_pooled(group, &left).await?;
    }
    if !terminated.is_empty() {
        tracing::info!(group = %group.name(), %image, instances = ?terminated, "warm pool instances on another image terminated; the pool refills from the launch setting");
    }
    Ok(Refreshed { terminated })
}

/// [`GroupApi::terminate_pooled`] for each of `ids`, a few at a time.
async fn terminate_pooled(group: &dyn GroupApi, ids: &[String]) -> Result<(), AwsError> {
    concurrently(ids, |id| group.terminate_pooled(id)).await
}

/// The refresh at the end of a completed release (one whose launch setting someone else moved
/// is an error before this: the pool would refill from that setting). A failure to refresh is
/// only logged: the group is consistent, and the next plan shows the pool's old instances
/// (`outdated_instances`).
pub async fn finish(group: &dyn GroupApi, had_pool: bool, image: &str) {
    if !had_pool {
        return;
    }
    if let Err(e) = refresh(group, had_pool, image).await {
        tracing::warn!(group = %group.name(), "the warm pool was not refreshed at the end of the release ({e}); the next apply refreshes it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::group::TERMINATIONS_IN_FLIGHT;
    use crate::rollout::patient::Patient;
    use crate::rollout::sim::{SimConfig, SimGroup, TokenBucket};
    use std::collections::BTreeMap;
    use std::time::Duration;

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

    fn large_pool(seed: u64, size: u32) -> SimConfig {
        let mut cloud = SimConfig::new(seed, 4);
        cloud.max = 4 + size;
        cloud.warm_pool = size;
        cloud
    }

    /// The virtual second of each pool termination, as the simulation's events log them.
    fn pool_termination_times(sim: &SimGroup) -> Vec<String> {
        sim.events()
            .iter()
            .filter(|e| e.contains("terminating warm pool instance"))
            .filter_map(|e| e.split_whitespace().next().map(str::to_string))
            .collect()
    }

    /// A group with a pool of 12 whose calls draw from `bucket`: the group, its pool's
    /// instances and its own instances' images.
    fn throttled_pool(
        seed: u64,
        bucket: std::sync::Arc<TokenBucket>,
    ) -> (SimGroup, Vec<String>, BTreeMap<String, String>) {
        let mut cloud = large_pool(seed, 12);
        cloud.throttle = Some(bucket);
        let sim = SimGroup::new(cloud);
        let old = sim.pool_images().into_keys().collect();
        let live = sim.live_images();
        (sim, old, live)
    }

    /// None of the `old` pool instances is left, the group's own instances are the `live` ones,
    /// and Launch runs again with the refresh's tag gone.
    fn assert_refreshed(sim: &SimGroup, old: &[String], live: &BTreeMap<String, String>) {
        let pool = sim.pool_images();
        assert!(old.iter().all(|id| !pool.contains_key(id)), "{pool:?}");
        assert_eq!(&sim.live_images(), live);
        assert!(!sim.suspended_now().contains(LAUNCH));
        assert!(!sim.tag_map().contains_key(REFRESH_TAG));
    }

    /// Ten pool instances go in two rounds of five calls (each call takes a second here), not
    /// ten one after another; each is terminated once.
    #[test]
    fn a_large_pool_is_terminated_five_calls_at_a_time() {
        let mut cloud = large_pool(34, 10);
        cloud.latency = (Duration::from_secs(1), Duration::from_secs(1));
        let sim = SimGroup::new(cloud);
        let old: Vec<String> = sim.pool_images().into_keys().collect();
        let r = rt()
            .block_on(refresh(&sim, true, "ami-new"))
            .expect("refreshed");
        assert_eq!(r.terminated, old);
        let times = pool_termination_times(&sim);
        assert_eq!(times.len(), 10, "{times:?}");
        let rounds: std::collections::BTreeSet<&String> = times.iter().collect();
        assert_eq!(
            rounds.len(),
            10_usize.div_ceil(TERMINATIONS_IN_FLIGHT),
            "{times:?}"
        );
        assert!(!sim.suspended_now().contains(LAUNCH));
    }

    /// Under throttling (a small request bucket shared by every call) the release's patient
    /// client repeats each throttled termination on its own: no pool instance is left behind,
    /// and none in service is touched.
    #[test]
    fn a_throttled_termination_does_not_lose_the_others() {
        let (sim, old, live) = throttled_pool(35, TokenBucket::new(4, 1.0));
        let r = rt()
            .block_on(refresh(&Patient::new(&sim), true, "ami-new"))
            .expect("refreshed through the throttling");
        assert!(sim.bucket_failures() > 0, "the bucket throttled some call");
        assert_eq!(r.terminated, old);
        assert_refreshed(&sim, &old, &live);
    }

    /// Without the patient client a throttled termination fails the refresh; the calls
    /// already out finish, nothing in service is touched, and the next refresh (the next
    /// apply) reads the pool again and terminates what is left.
    #[test]
    fn a_failed_termination_is_finished_by_the_next_refresh() {
        let (sim, old, live) = throttled_pool(36, TokenBucket::new(7, 0.05));
        let first = rt().block_on(refresh(&sim, true, "ami-new"));
        assert!(first.is_err(), "{first:?}");
        let left = sim
            .pool_images()
            .into_keys()
            .filter(|id| old.contains(id))
            .count();
        assert!(left > 0 && left < old.len(), "{left} of {} left", old.len());
        assert_eq!(sim.live_images(), live);
        rt().block_on(async {
            tokio::time::sleep(Duration::from_secs(600)).await;
            refresh(&Patient::new(&sim), true, "ami-new")
                .await
                .expect("the next refresh finishes")
        });
        assert_refreshed(&sim, &old, &live);
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
