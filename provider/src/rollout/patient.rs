//! Throttling outlasting the SDK's own retries, waited out.
//!
//! AWS throttles an account's requests per Region with a token bucket, so releases of several
//! groups in one account (a `for_each`, parallel pipelines) drain it together. The SDK retries a
//! throttled call a few times within seconds; a burst that lasts longer fails the call. A
//! throttled call was refused, not executed, so repeating it is safe for every operation —
//! mutations included — and no reason to fail (let alone roll back) a batch. [`Patient`] wraps a
//! group and repeats any call answered with a throttling error, backing off exponentially (1 s
//! doubling to a minute), for up to [`PATIENCE`]; other errors pass through at once.
//!
//! Repeating is not enough when the throttling is sustained: parallel releases that keep polling
//! every few seconds keep the bucket empty for each other, and a mutation waits behind their
//! reads until its patience runs out. So the pressure is shared with the wait loops, as AWS's
//! adaptive retry mode slows a client that is being throttled: every throttled answer in a row
//! makes the release's polling slower ([`Throttle::pacing`], doubling to a minute), the first
//! answer that is not throttled resets it, and the time spent waiting on throttling
//! ([`Throttle::waited`]) does not count against a batch's timeout.
//! <https://docs.aws.amazon.com/AWSEC2/latest/devguide/ec2-api-throttling.html>,
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use release_planner::GroupSnapshot;
use tokio::time::Instant;

use super::group::{
    terminate_concurrently, ActiveRefresh, GroupApi, HealthSource, LaunchSetting, Throttle,
};
use crate::aws::wait::Backoff;
use crate::aws::AwsError;

/// How long one call is repeated while it is throttled.
pub const PATIENCE: Duration = Duration::from_secs(15 * 60);

/// Between repeats of a throttled call, and the extra pause of a poll under throttling.
const THROTTLED: Backoff = Backoff {
    first: Duration::from_secs(1),
    max: Duration::from_secs(60),
    factor: 2.0,
};

pub struct Patient<'a> {
    inner: &'a dyn GroupApi,
    state: Mutex<Pressure>,
}

/// Throttled answers in a row, and the time slept because of throttling so far.
#[derive(Default)]
struct Pressure {
    in_a_row: u32,
    waited: Duration,
}

impl<'a> Patient<'a> {
    pub fn new(inner: &'a dyn GroupApi) -> Self {
        Patient {
            inner,
            state: Mutex::new(Pressure::default()),
        }
    }

    fn pressure(&self) -> std::sync::MutexGuard<'_, Pressure> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn retry<T, F, Fut>(&self, call: F) -> Result<T, AwsError>
    where
        F: Fn() -> Fut + Send,
        Fut: Future<Output = Result<T, AwsError>> + Send,
    {
        let until = Instant::now() + PATIENCE;
        let mut attempt = 0;
        loop {
            let result = call().await;
            let throttled = matches!(&result, Err(e) if e.is_throttling());
            if !throttled {
                self.pressure().in_a_row = 0;
                return result;
            }
            self.pressure().in_a_row += 1;
            if Instant::now() >= until {
                return result;
            }
            if let Err(e) = &result {
                tracing::warn!(group = %self.inner.name(), "throttled after the SDK's retries ({e}); waiting and trying again");
            }
            let delay = THROTTLED
                .delay(attempt)
                .min(until.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(20));
            self.pressure().waited += delay;
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl GroupApi for Patient<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn throttle(&self) -> Throttle {
        let p = self.pressure();
        Throttle {
            pacing: match p.in_a_row {
                0 => Duration::ZERO,
                n => THROTTLED.delay(n - 1),
            },
            waited: p.waited,
        }
    }
    async fn snapshot(&self) -> Result<GroupSnapshot, AwsError> {
        self.retry(|| self.inner.snapshot()).await
    }
    async fn poll(&self) -> Result<GroupSnapshot, AwsError> {
        self.retry(|| self.inner.poll()).await
    }
    async fn poll_observed(&self) -> Result<(GroupSnapshot, Instant), AwsError> {
        self.retry(|| self.inner.poll_observed()).await
    }
    async fn set_capacity(&self, desired: u32, min: u32, max: u32) -> Result<(), AwsError> {
        self.retry(|| self.inner.set_capacity(desired, min, max))
            .await
    }
    async fn terminate(&self, instance_id: &str, decrement_desired: bool) -> Result<(), AwsError> {
        self.retry(|| self.inner.terminate(instance_id, decrement_desired))
            .await
    }
    /// The batch's terminations through [`Patient::terminate`] (a few at a time), so that
    /// each throttled call is repeated on its own. Repeating the whole removal instead (100
    /// calls on a 1,000-instance group) found some call throttled on every pass, until the
    /// patience ran out and the batch failed (`bench/run scale` found it).
    async fn remove(
        &self,
        instance_ids: &[String],
        decrement_desired: bool,
    ) -> Result<(), AwsError> {
        if self.inner.removes_by_terminating() {
            return terminate_concurrently(self, instance_ids, decrement_desired).await;
        }
        self.retry(|| self.inner.remove(instance_ids, decrement_desired))
            .await
    }
    fn removes_by_terminating(&self) -> bool {
        self.inner.removes_by_terminating()
    }
    async fn healthy(
        &self,
        snapshot: &GroupSnapshot,
        ids: &[String],
        source: HealthSource,
    ) -> Result<BTreeSet<String>, AwsError> {
        self.retry(|| self.inner.healthy(snapshot, ids, source))
            .await
    }
    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError> {
        self.retry(|| self.inner.tags()).await
    }
    async fn set_tag(&self, key: &str, value: &str) -> Result<(), AwsError> {
        self.retry(|| self.inner.set_tag(key, value)).await
    }
    async fn delete_tag(&self, key: &str) -> Result<(), AwsError> {
        self.retry(|| self.inner.delete_tag(key)).await
    }
    async fn delete_tags(&self, keys: &[&str]) -> Result<(), AwsError> {
        self.retry(|| self.inner.delete_tags(keys)).await
    }
    async fn suspended_processes(&self) -> Result<Vec<String>, AwsError> {
        self.retry(|| self.inner.suspended_processes()).await
    }
    async fn suspend(&self, processes: &[String]) -> Result<(), AwsError> {
        self.retry(|| self.inner.suspend(processes)).await
    }
    async fn resume(&self, processes: &[String]) -> Result<(), AwsError> {
        self.retry(|| self.inner.resume(processes)).await
    }
    async fn launch(&self) -> Result<Option<LaunchSetting>, AwsError> {
        self.retry(|| self.inner.launch()).await
    }
    async fn launch_image(
        &self,
        current: &LaunchSetting,
        image: &str,
        release_id: &str,
    ) -> Result<LaunchSetting, AwsError> {
        // Two calls on AWS (a new template version, then the group pinned to it): when the
        // second was the throttled one, the repeat leaves one unused template version behind.
        self.retry(|| self.inner.launch_image(current, image, release_id))
            .await
    }
    async fn set_launch(&self, setting: &LaunchSetting) -> Result<(), AwsError> {
        self.retry(|| self.inner.set_launch(setting)).await
    }
    async fn image_launchable(&self, image: &str) -> Result<bool, AwsError> {
        self.retry(|| self.inner.image_launchable(image)).await
    }
    async fn active_instance_refresh(&self) -> Result<Option<ActiveRefresh>, AwsError> {
        self.retry(|| self.inner.active_instance_refresh()).await
    }
    async fn health_check_grace(&self) -> Result<Duration, AwsError> {
        self.retry(|| self.inner.health_check_grace()).await
    }
    async fn exit_standby(&self, instance_ids: &[String]) -> Result<(), AwsError> {
        self.retry(|| self.inner.exit_standby(instance_ids)).await
    }
    async fn warm_pool(&self) -> Result<Option<release_planner::WarmPool>, AwsError> {
        self.retry(|| self.inner.warm_pool()).await
    }
    async fn terminate_pooled(&self, instance_id: &str) -> Result<(), AwsError> {
        self.retry(|| self.inner.terminate_pooled(instance_id))
            .await
    }
}
