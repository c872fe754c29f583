//! The seam between the release engine and the cloud: everything the engine does to a group goes
//! through [`GroupApi`]. `AwsGroup` implements it with the AWS SDK; a deterministic simulation
//! can implement it too, to run thousands of seeded releases on a virtual clock.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use release_planner::{GroupSnapshot, LaunchSource};
use tokio::time::Instant;

use crate::aws::{Aws, AwsError, ErrorContext};

/// Which health a release waits for: the planner's own type, so the plan's warnings and the
/// engine's waits read one value.
pub use release_planner::HealthCheck as HealthSource;

/// How the group launches instances, before or after the release changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchSetting {
    Template {
        id: String,
        version: String,
    },
    Configuration {
        name: String,
    },
    /// A mixed instances policy: its launch template, and the overrides that have their own
    /// (by position in the policy). Everything else in the policy (instance types, weights, the
    /// Spot/On-Demand distribution) is left as the group holds it.
    Mixed {
        id: String,
        version: String,
        overrides: Vec<OverrideTemplate>,
    },
}

/// The launch template of one override of a mixed instances policy, pinned to a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideTemplate {
    pub index: usize,
    pub id: String,
    pub version: String,
}

impl LaunchSetting {
    /// Compact form stored in the release record: `lt:<id>:<version>`, `lc:<name>`, or
    /// `mip:<id>:<version>` followed by `;<index>=<id>:<version>` for each override's own template.
    pub fn encode(&self) -> String {
        match self {
            LaunchSetting::Template { id, version } => format!("lt:{id}:{version}"),
            LaunchSetting::Configuration { name } => format!("lc:{name}"),
            LaunchSetting::Mixed {
                id,
                version,
                overrides,
            } => {
                let mut s = format!("mip:{id}:{version}");
                for o in overrides {
                    s.push_str(&format!(";{}={}:{}", o.index, o.id, o.version));
                }
                s
            }
        }
    }

    pub fn decode(s: &str) -> Option<LaunchSetting> {
        if let Some(rest) = s.strip_prefix("mip:") {
            let mut parts = rest.split(';');
            let (id, version) = parts.next()?.rsplit_once(':')?;
            let overrides = parts
                .map(|p| {
                    let (index, template) = p.split_once('=')?;
                    let (id, version) = template.rsplit_once(':')?;
                    Some(OverrideTemplate {
                        index: index.parse().ok()?,
                        id: id.into(),
                        version: version.into(),
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            return Some(LaunchSetting::Mixed {
                id: id.into(),
                version: version.into(),
                overrides,
            });
        }
        if let Some(rest) = s.strip_prefix("lt:") {
            let (id, version) = rest.rsplit_once(':')?;
            return Some(LaunchSetting::Template {
                id: id.into(),
                version: version.into(),
            });
        }
        s.strip_prefix("lc:")
            .map(|n| LaunchSetting::Configuration { name: n.into() })
    }

    /// What users read: `lt-0abc version 4`, or the configuration's name.
    pub fn describe(&self) -> String {
        match self {
            LaunchSetting::Template { id, version } => format!("{id} version {version}"),
            LaunchSetting::Configuration { name } => name.clone(),
            LaunchSetting::Mixed {
                id,
                version,
                overrides,
            } => {
                let mut s = format!("{id} version {version} (mixed instances policy");
                for o in overrides {
                    s.push_str(&format!(
                        "; override {}: {} version {}",
                        o.index, o.id, o.version
                    ));
                }
                s.push(')');
                s
            }
        }
    }

    /// Every (template id, version) this setting launches from: the ones a pruning keeps.
    pub fn template_versions(&self) -> Vec<(&str, &str)> {
        match self {
            LaunchSetting::Template { id, version } => vec![(id, version)],
            LaunchSetting::Configuration { .. } => vec![],
            LaunchSetting::Mixed {
                id,
                version,
                overrides,
            } => std::iter::once((id.as_str(), version.as_str()))
                .chain(
                    overrides
                        .iter()
                        .map(|o| (o.id.as_str(), o.version.as_str())),
                )
                .collect(),
        }
    }
}

/// How throttled the calls to a group are (see `rollout::patient`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttle {
    /// Extra pause before a poll: grows with the throttled answers in a row, zero without.
    pub pacing: std::time::Duration,
    /// Time spent waiting on throttling so far.
    pub waited: std::time::Duration,
}

#[async_trait]
pub trait GroupApi: Send + Sync {
    fn name(&self) -> &str;
    /// The throttling the calls have met (none, unless the group is wrapped to wait it out).
    fn throttle(&self) -> Throttle {
        Throttle::default()
    }
    /// The whole group, including the image its launch setting starts.
    async fn snapshot(&self) -> Result<GroupSnapshot, AwsError>;
    /// The group's capacity and instances, as cheaply as possible: what a release polls.
    /// `launch_image_id` may be left out.
    async fn poll(&self) -> Result<GroupSnapshot, AwsError> {
        self.snapshot().await
    }
    /// [`GroupApi::poll`], and when the group's own answer arrived: instance health and
    /// lifecycle are as of that moment, not of the end of the lookups that follow it.
    async fn poll_observed(&self) -> Result<(GroupSnapshot, Instant), AwsError> {
        let snap = self.poll().await?;
        Ok((snap, Instant::now()))
    }
    async fn set_capacity(&self, desired: u32, min: u32, max: u32) -> Result<(), AwsError>;
    async fn terminate(&self, instance_id: &str, decrement_desired: bool) -> Result<(), AwsError>;
    /// Takes a batch of instances out of service, the way the group itself does it: one
    /// TerminateInstanceInAutoScalingGroup each, which deregisters the instance from its target
    /// groups and classic load balancers, waits out their deregistration delay / connection
    /// draining, and runs the group's `EC2_INSTANCE_TERMINATING` lifecycle hooks before the
    /// instance stops. (Detaching and terminating through EC2 — two calls a batch — skips all
    /// three and cuts off requests in flight.) The draining happens while the next batch runs:
    /// an instance on its way out is `Terminating`, which no batch waits for. The calls run
    /// [`TERMINATIONS_IN_FLIGHT`] at a time ([`terminate_concurrently`]).
    async fn remove(
        &self,
        instance_ids: &[String],
        decrement_desired: bool,
    ) -> Result<(), AwsError> {
        terminate_concurrently(self, instance_ids, decrement_desired).await
    }
    /// Whether [`GroupApi::remove`] is [`GroupApi::terminate`] for each instance (as by
    /// default), so that a wrapper may make those calls itself.
    fn removes_by_terminating(&self) -> bool {
        true
    }
    /// Which of `ids` are healthy by `source` (the group's view is already in `snapshot`).
    async fn healthy(
        &self,
        snapshot: &GroupSnapshot,
        ids: &[String],
        source: HealthSource,
    ) -> Result<BTreeSet<String>, AwsError>;
    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError>;
    async fn set_tag(&self, key: &str, value: &str) -> Result<(), AwsError>;
    async fn delete_tag(&self, key: &str) -> Result<(), AwsError>;
    /// Deletes several tags at once (one DeleteTags call takes a list).
    async fn delete_tags(&self, keys: &[&str]) -> Result<(), AwsError> {
        for key in keys {
            self.delete_tag(key).await?;
        }
        Ok(())
    }
    async fn suspended_processes(&self) -> Result<Vec<String>, AwsError>;
    async fn suspend(&self, processes: &[String]) -> Result<(), AwsError>;
    async fn resume(&self, processes: &[String]) -> Result<(), AwsError>;
    /// The group's launch setting now.
    async fn launch(&self) -> Result<Option<LaunchSetting>, AwsError>;
    /// Makes the group launch `image`: a new launch template version (copied from the current
    /// one, only the image changed, the group pinned to it) or a new launch configuration.
    async fn launch_image(
        &self,
        current: &LaunchSetting,
        image: &str,
        release_id: &str,
    ) -> Result<LaunchSetting, AwsError>;
    /// Points the group back at an earlier launch setting (rollback).
    async fn set_launch(&self, setting: &LaunchSetting) -> Result<(), AwsError>;
    /// Whether the group could launch `image` now: it exists and is not deregistered.
    async fn image_launchable(&self, image: &str) -> Result<bool, AwsError>;
    /// An Instance Refresh of the group that has not finished, if there is one: a release
    /// beside it would fight it over the group's instances.
    async fn active_instance_refresh(&self) -> Result<Option<ActiveRefresh>, AwsError>;
    /// The group's health check grace period: until it ends, the group reports a new instance
    /// `Healthy` without having checked it.
    async fn health_check_grace(&self) -> Result<std::time::Duration, AwsError>;
    /// Returns instances in Standby to service (`ExitStandby`): the group adds each one's
    /// capacity units (one without weights) to its desired capacity. One that is no longer in Standby is no error (a repeat).
    async fn exit_standby(&self, instance_ids: &[String]) -> Result<(), AwsError>;
    /// The group's warm pool with its instances and their images (DescribeWarmPool), `None`
    /// when the group has none. A pool instance leaves through [`GroupApi::terminate_pooled`].
    async fn warm_pool(&self) -> Result<Option<release_planner::WarmPool>, AwsError>;
    /// Terminates an instance waiting in the warm pool; the group launches its replacement
    /// into the pool. One already gone is no error. By default [`GroupApi::terminate`] without
    /// decrement (the simulation's pool takes it); on AWS it is EC2's TerminateInstances
    /// (`AwsGroup`).
    async fn terminate_pooled(&self, instance_id: &str) -> Result<(), AwsError> {
        self.terminate(instance_id, false).await
    }
}

/// How many of a batch's TerminateInstanceInAutoScalingGroup calls are out at once. AWS has no
/// batch form of the call; one after another they cost a round trip each (0.2–0.3 s a batch of
/// 10 on moto). A few at a time keeps the burst well inside the account's request bucket, which
/// the release's polls share.
pub const TERMINATIONS_IN_FLIGHT: usize = 5;

/// Terminates `ids` through the group, [`TERMINATIONS_IN_FLIGHT`] at a time, started in the
/// given order ([`concurrently`]). Repeating the whole is safe: an instance already leaving is
/// no error.
pub async fn terminate_concurrently<G: GroupApi + ?Sized>(
    group: &G,
    ids: &[String],
    decrement_desired: bool,
) -> Result<(), AwsError> {
    concurrently(ids, |id| group.terminate(id, decrement_desired)).await
}

/// One call of a [`GroupApi`] method, as `async_trait` returns it.
pub type Call<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), AwsError>> + Send + 'a>>;

/// One `call` per id, [`TERMINATIONS_IN_FLIGHT`] at a time, started in the given order. After
/// an error no further call starts (as when they ran one after another: the instances not yet
/// asked stay as they are); the calls already out finish, and the first error is returned.
pub async fn concurrently<'a, F>(ids: &'a [String], call: F) -> Result<(), AwsError>
where
    F: Fn(&'a str) -> Call<'a>,
{
    use std::task::Poll;
    let mut next = ids.iter();
    let mut out = vec![];
    let mut first_error = None;
    loop {
        while first_error.is_none() && out.len() < TERMINATIONS_IN_FLIGHT {
            match next.next() {
                Some(id) => out.push(call(id)),
                None => break,
            }
        }
        if out.is_empty() {
            return first_error.map_or(Ok(()), Err);
        }
        let (k, result) = std::future::poll_fn(|cx| {
            for (k, c) in out.iter_mut().enumerate() {
                if let Poll::Ready(r) = c.as_mut().poll(cx) {
                    return Poll::Ready((k, r));
                }
            }
            Poll::Pending
        })
        .await;
        drop(out.remove(k));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
}

/// An Instance Refresh that has not finished (`DescribeInstanceRefreshes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRefresh {
    pub id: String,
    pub status: String,
}

/// The statuses of an Instance Refresh that still acts on the group: AWS's API reference lists
/// `Pending`, `InProgress`, `Cancelling`, `RollbackInProgress` and `Baking` (the bake time after
/// the last replacement) besides the finished ones.
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceRefresh.html>
pub const ACTIVE_REFRESH_STATUSES: [&str; 5] = [
    "Pending",
    "InProgress",
    "Cancelling",
    "RollbackInProgress",
    "Baking",
];

/// How a launch template names its image through an SSM parameter.
pub const SSM_IMAGE_PREFIX: &str = "resolve:ssm:";

pub struct AwsGroup {
    name: String,
    asg: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    aws: std::sync::Arc<Aws>,
    recent: std::sync::Mutex<Option<Recent>>,
    versions: std::sync::Mutex<BTreeMap<(String, String), TemplateVersion>>,
}

/// A launch template version this client read or made, by (template id or name, version as
/// asked). A numbered version never changes, so it is kept; `$Latest` / `$Default` stand for
/// another version once someone makes or picks one, so they are kept for [`RECENT`] only. The
/// snapshot's launch image, the pinning of `$Latest` to its number and the copy a release makes
/// read the same version: one call instead of three.
#[derive(Clone)]
struct TemplateVersion {
    version: aws_sdk_ec2::types::LaunchTemplateVersion,
    /// When an alias was read; `None` for a numbered version.
    alias_read: Option<Instant>,
}

/// The group's last DescribeAutoScalingGroups answer. The settings reads a release makes one
/// after the other at its start (the record, the launch setting, suspended processes, the grace
/// period, the snapshot) take it instead of a call of their own while it is younger than
/// [`RECENT`] and nothing was changed through this client since: such an answer is as good as a
/// new one, which would be as old by the time the release acts on it. Polls always read.
struct Recent {
    group: aws_sdk_autoscaling::types::AutoScalingGroup,
    instances: bool,
    at: Instant,
    /// A tag was written since: the tags in `group` may be stale (the lock's check must see
    /// the tag as the group holds it, not as we wrote it).
    tags_written: bool,
}

/// How long a group answer stands in for a new read (see [`Recent`]).
const RECENT: std::time::Duration = std::time::Duration::from_secs(2);

impl AwsGroup {
    pub async fn new(aws: std::sync::Arc<Aws>, name: &str) -> Result<Self, AwsError> {
        Ok(AwsGroup {
            name: name.to_string(),
            asg: aws.autoscaling().await?,
            ec2: aws.ec2().await?,
            aws,
            recent: std::sync::Mutex::new(None),
            versions: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// The group's settings and tags, without its instance list (`IncludeInstances=false`): on a
    /// large group the list is most of the answer, and reading settings does not need it. A
    /// [`Recent`] answer stands in for the call.
    async fn read_settings(
        &self,
    ) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup, AwsError> {
        match self.recent_group(false, false) {
            Some(g) => Ok(g),
            None => self.read_group(false).await,
        }
    }

    /// The group's tags: [`AwsGroup::read_settings`], but never from an answer older than our
    /// last tag write. The read after a tag write is the lock's check, which the release's
    /// snapshot follows at once: it reads the instances too, and the snapshot takes its answer.
    async fn read_tags(&self) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup, AwsError> {
        if let Some(g) = self.recent_group(false, true) {
            return Ok(g);
        }
        let after_write = self
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|r| r.tags_written);
        self.read_group(after_write).await
    }

    /// The [`Recent`] answer when it may stand in for a read.
    fn recent_group(
        &self,
        instances: bool,
        tags: bool,
    ) -> Option<aws_sdk_autoscaling::types::AutoScalingGroup> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .as_ref()
            .filter(|r| {
                r.at.elapsed() < RECENT && (r.instances || !instances) && !(tags && r.tags_written)
            })
            .map(|r| r.group.clone())
    }

    fn remember(&self, group: &aws_sdk_autoscaling::types::AutoScalingGroup, instances: bool) {
        *self.recent.lock().unwrap_or_else(|e| e.into_inner()) = Some(Recent {
            group: group.clone(),
            instances,
            at: Instant::now(),
            tags_written: false,
        });
    }

    /// After a change through this client: a tag write leaves the rest of the answer good.
    fn changed(&self, tags_only: bool) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        match recent.as_mut() {
            Some(r) if tags_only => r.tags_written = true,
            _ => *recent = None,
        }
    }

    /// The group with its instances.
    async fn describe(&self) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup, AwsError> {
        self.read_group(true).await
    }

    async fn read_group(
        &self,
        instances: bool,
    ) -> Result<aws_sdk_autoscaling::types::AutoScalingGroup, AwsError> {
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.name)
            .include_instances(instances)
            .send()
            .await
            .context("DescribeAutoScalingGroups", &self.name)?;
        let g = out.auto_scaling_groups().first().cloned().ok_or_else(|| {
            AwsError::new(
                "DescribeAutoScalingGroups",
                &self.name,
                "the group does not exist",
            )
        })?;
        self.remember(&g, instances);
        Ok(g)
    }
}

fn asg_tag(group: &str, key: &str, value: &str) -> aws_sdk_autoscaling::types::Tag {
    aws_sdk_autoscaling::types::Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(false)
        .build()
}

#[async_trait]
impl GroupApi for AwsGroup {
    fn name(&self) -> &str {
        &self.name
    }

    async fn snapshot(&self) -> Result<GroupSnapshot, AwsError> {
        Ok(self.read(true).await?.0)
    }

    async fn poll(&self) -> Result<GroupSnapshot, AwsError> {
        Ok(self.read(false).await?.0)
    }

    async fn poll_observed(&self) -> Result<(GroupSnapshot, Instant), AwsError> {
        self.read(false).await
    }

    async fn set_capacity(&self, desired: u32, min: u32, max: u32) -> Result<(), AwsError> {
        self.changed(false);
        self.asg
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.name)
            .desired_capacity(desired as i32)
            .min_size(min as i32)
            .max_size(max as i32)
            .send()
            .await
            .context("UpdateAutoScalingGroup", &self.name)?;
        Ok(())
    }

    async fn terminate(&self, instance_id: &str, decrement_desired: bool) -> Result<(), AwsError> {
        self.changed(false);
        match self
            .asg
            .terminate_instance_in_auto_scaling_group()
            .instance_id(instance_id)
            .should_decrement_desired_capacity(decrement_desired)
            .send()
            .await
            .context("TerminateInstanceInAutoScalingGroup", instance_id)
        {
            Ok(_) => Ok(()),
            // Already gone or leaving: what we wanted. Repeating a termination is safe.
            Err(e) if e.message.contains("not found") || e.message.contains("Terminating") => {
                Ok(())
            }
            // Throttled: refused, not executed (the caller repeats it); a read of the whole
            // group to check would draw on the same empty bucket, and on a 1,000-instance
            // group it is a large answer.
            Err(e) if e.is_throttling() => Err(e),
            // The SDK retried a call whose first answer was lost, and the retry failed in
            // another way (an emulator answers 500 for an instance no longer in the group): if
            // the instance has left the group or is leaving it, the termination happened.
            Err(e) => match self.describe().await {
                Ok(g)
                    if !g.instances().iter().any(|i| {
                        i.instance_id() == Some(instance_id)
                            && !i
                                .lifecycle_state()
                                .is_some_and(|s| s.as_str().starts_with("Terminating"))
                    }) =>
                {
                    Ok(())
                }
                _ => Err(e),
            },
        }
    }

    async fn healthy(
        &self,
        snap: &GroupSnapshot,
        ids: &[String],
        source: HealthSource,
    ) -> Result<BTreeSet<String>, AwsError> {
        use release_planner::{Health, LifecycleState};
        let mut ok: BTreeSet<String> = snap
            .instances
            .iter()
            .filter(|i| {
                ids.contains(&i.id)
                    && i.lifecycle_state == LifecycleState::InService
                    && i.health == Health::Healthy
            })
            .map(|i| i.id.clone())
            .collect();
        if source == HealthSource::Ec2 || ok.is_empty() {
            return Ok(ok);
        }
        let candidates: Vec<String> = ok.iter().cloned().collect();
        if !snap.target_group_arns.is_empty() {
            let elb = self.aws.elbv2().await?;
            for tg in &snap.target_group_arns {
                let mut req = elb.describe_target_health().target_group_arn(tg);
                for id in &candidates {
                    req = req.targets(
                        aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                            .id(id)
                            .build(),
                    );
                }
                let out = req.send().await.context("DescribeTargetHealth", tg)?;
                let healthy: BTreeSet<String> = out
                    .target_health_descriptions()
                    .iter()
                    .filter(|d| {
                        d.target_health()
                            .and_then(|h| h.state())
                            .map(|s| s.as_str())
                            == Some("healthy")
                    })
                    .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
                    .collect();
                ok.retain(|id| healthy.contains(id));
            }
        }
        if !snap.load_balancer_names.is_empty() {
            let elb = self.aws.elb().await?;
            for lb in &snap.load_balancer_names {
                let mut req = elb.describe_instance_health().load_balancer_name(lb);
                for id in &candidates {
                    req = req.instances(
                        aws_sdk_elasticloadbalancing::types::Instance::builder()
                            .instance_id(id)
                            .build(),
                    );
                }
                let out = req.send().await.context("DescribeInstanceHealth", lb)?;
                let healthy: BTreeSet<String> = out
                    .instance_states()
                    .iter()
                    .filter(|s| s.state() == Some("InService"))
                    .filter_map(|s| s.instance_id().map(str::to_string))
                    .collect();
                ok.retain(|id| healthy.contains(id));
            }
        }
        Ok(ok)
    }

    async fn tags(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let g = self.read_tags().await?;
        Ok(g.tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }

    async fn set_tag(&self, key: &str, value: &str) -> Result<(), AwsError> {
        self.changed(true);
        self.asg
            .create_or_update_tags()
            .tags(asg_tag(&self.name, key, value))
            .send()
            .await
            .context("CreateOrUpdateTags", &self.name)?;
        Ok(())
    }

    async fn delete_tag(&self, key: &str) -> Result<(), AwsError> {
        self.delete_tags(&[key]).await
    }

    async fn delete_tags(&self, keys: &[&str]) -> Result<(), AwsError> {
        self.changed(true);
        let mut call = self.asg.delete_tags();
        for key in keys {
            call = call.tags(asg_tag(&self.name, key, ""));
        }
        call.send().await.context("DeleteTags", &self.name)?;
        Ok(())
    }

    async fn suspended_processes(&self) -> Result<Vec<String>, AwsError> {
        let g = self.read_settings().await?;
        Ok(g.suspended_processes()
            .iter()
            .filter_map(|p| p.process_name().map(str::to_string))
            .collect())
    }

    async fn suspend(&self, processes: &[String]) -> Result<(), AwsError> {
        self.changed(false);
        if processes.is_empty() {
            return Ok(());
        }
        self.asg
            .suspend_processes()
            .auto_scaling_group_name(&self.name)
            .set_scaling_processes(Some(processes.to_vec()))
            .send()
            .await
            .context("SuspendProcesses", &self.name)?;
        Ok(())
    }

    async fn resume(&self, processes: &[String]) -> Result<(), AwsError> {
        self.changed(false);
        if processes.is_empty() {
            return Ok(());
        }
        self.asg
            .resume_processes()
            .auto_scaling_group_name(&self.name)
            .set_scaling_processes(Some(processes.to_vec()))
            .send()
            .await
            .context("ResumeProcesses", &self.name)?;
        Ok(())
    }

    async fn launch(&self) -> Result<Option<LaunchSetting>, AwsError> {
        let g = self.read_settings().await?;
        // A group has one of the three (CreateAutoScalingGroup); an answer naming a launch
        // template beside the policy (moto does) launches through the policy.
        if let Some(policy) = g.mixed_instances_policy().and_then(|p| p.launch_template()) {
            if let Some(spec) = policy.launch_template_specification() {
                let (id, version) = self.pinned(spec).await?;
                let mut overrides = vec![];
                for (index, o) in policy.overrides().iter().enumerate() {
                    if let Some(spec) = o.launch_template_specification() {
                        let (id, version) = self.pinned(spec).await?;
                        overrides.push(OverrideTemplate { index, id, version });
                    }
                }
                return Ok(Some(LaunchSetting::Mixed {
                    id,
                    version,
                    overrides,
                }));
            }
        }
        if let Some(lt) = g.launch_template() {
            let (id, version) = self.pinned(lt).await?;
            return Ok(Some(LaunchSetting::Template { id, version }));
        }
        Ok(g.launch_configuration_name()
            .map(|n| LaunchSetting::Configuration {
                name: n.to_string(),
            }))
    }

    async fn launch_image(
        &self,
        current: &LaunchSetting,
        image: &str,
        release_id: &str,
    ) -> Result<LaunchSetting, AwsError> {
        let new = match current {
            LaunchSetting::Template { id, version } => LaunchSetting::Template {
                id: id.clone(),
                version: self
                    .new_template_version(id, version, image, release_id)
                    .await?,
            },
            LaunchSetting::Configuration { name } => {
                self.new_launch_configuration(name, image, release_id)
                    .await?
            }
            LaunchSetting::Mixed {
                id,
                version,
                overrides,
            } => {
                let main = self
                    .new_template_version(id, version, image, release_id)
                    .await?;
                let mut moved = vec![];
                for o in overrides {
                    // An override on the policy's own template version moves with it; one
                    // already on the image stays (the plan refused any other).
                    let new_version = if (&o.id, &o.version) == (id, version) {
                        main.clone()
                    } else if self.version_image(&o.id, &o.version).await?.as_deref() == Some(image)
                    {
                        o.version.clone()
                    } else {
                        self.new_template_version(&o.id, &o.version, image, release_id)
                            .await?
                    };
                    moved.push(OverrideTemplate {
                        version: new_version,
                        ..o.clone()
                    });
                }
                LaunchSetting::Mixed {
                    id: id.clone(),
                    version: main,
                    overrides: moved,
                }
            }
        };
        self.set_launch(&new).await?;
        Ok(new)
    }

    async fn set_launch(&self, setting: &LaunchSetting) -> Result<(), AwsError> {
        let policy = match setting {
            LaunchSetting::Mixed { .. } => Some(self.read_settings().await?),
            _ => None,
        };
        self.changed(false);
        let req = self
            .asg
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.name);
        let req = match setting {
            LaunchSetting::Mixed {
                id,
                version,
                overrides,
            } => {
                let group = policy.as_ref().expect("read above");
                let current = group.mixed_instances_policy().ok_or_else(|| {
                    AwsError::new(
                        "UpdateAutoScalingGroup",
                        &self.name,
                        "the group no longer has a mixed instances policy (changed by someone else during the release?)",
                    )
                })?;
                req.mixed_instances_policy(repoint_policy(current, id, version, overrides))
            }
            LaunchSetting::Template { id, version } => req.launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                    .launch_template_id(id)
                    .version(version)
                    .build(),
            ),
            LaunchSetting::Configuration { name } => req.launch_configuration_name(name),
        };
        req.send()
            .await
            .context("UpdateAutoScalingGroup", &self.name)?;
        Ok(())
    }

    async fn image_launchable(&self, image: &str) -> Result<bool, AwsError> {
        Ok(crate::bake::image::describe(&self.ec2, image)
            .await?
            .is_some_and(|i| i.state == "available"))
    }

    /// The SDK's retries are off for this one call and done here instead: an endpoint that
    /// answers it with no AWS error at all (moto 5.2.1 answers an HTML 500: it does not
    /// implement Instance Refresh) has none to report, and three retries of that cost every
    /// release seconds. AWS's own errors (throttling, `InternalFailure`) and lost connections are
    /// retried; what is still failing after that refuses the release, which changed nothing yet.
    async fn active_instance_refresh(&self) -> Result<Option<ActiveRefresh>, AwsError> {
        use aws_sdk_autoscaling::error::SdkError;
        let mut attempt = 0;
        loop {
            let sent = self
                .asg
                .describe_instance_refreshes()
                .auto_scaling_group_name(&self.name)
                .customize()
                .config_override(
                    aws_sdk_autoscaling::config::Builder::default()
                        .retry_config(aws_sdk_autoscaling::config::retry::RetryConfig::disabled()),
                )
                .send()
                .await;
            let e = match sent {
                Ok(out) => {
                    return Ok(out.instance_refreshes().iter().find_map(|r| {
                        let status = r.status()?.as_str();
                        ACTIVE_REFRESH_STATUSES
                            .contains(&status)
                            .then(|| ActiveRefresh {
                                id: r.instance_refresh_id().unwrap_or_default().to_string(),
                                status: status.to_string(),
                            })
                    }))
                }
                Err(e)
                    if matches!(e, SdkError::ServiceError(_) | SdkError::ResponseError(_))
                        && e.raw_response()
                            .is_some_and(|r| r.status().is_server_error())
                        && aws_sdk_autoscaling::error::ProvideErrorMetadata::code(&e).is_none() =>
                {
                    tracing::warn!(group = %self.name, "the endpoint does not implement DescribeInstanceRefreshes (no AWS error in its answer); taking it as no Instance Refresh");
                    return Ok(None);
                }
                Err(e) => e,
            };
            let err = Err::<(), _>(e)
                .context("DescribeInstanceRefreshes", &self.name)
                .unwrap_err();
            let retryable = err.code.as_deref().is_none_or(|c| {
                c.contains("Throttl") || c.contains("Internal") || c.contains("Unavailable")
            });
            if !retryable || attempt == 3 {
                return Err(err);
            }
            tokio::time::sleep(crate::aws::wait::Backoff::SECONDS.delay(attempt + 3)).await;
            attempt += 1;
        }
    }

    async fn health_check_grace(&self) -> Result<std::time::Duration, AwsError> {
        let g = self.read_settings().await?;
        Ok(std::time::Duration::from_secs(
            g.health_check_grace_period().unwrap_or(0).max(0) as u64,
        ))
    }

    async fn warm_pool(&self) -> Result<Option<release_planner::WarmPool>, AwsError> {
        let mut cache = self.aws.known_instance_images();
        let pool =
            release_planner::aws::warm_pool(&self.asg, &self.ec2, &self.name, &mut cache).await;
        self.aws.return_instance_images(cache);
        pool.map_err(|e| match e {
            // The code kept: a throttled read is repeated (`Patient`), never taken for a fault.
            release_planner::aws::SnapshotError::Aws {
                operation,
                target,
                code,
                message,
            } => AwsError {
                operation: operation.to_string(),
                target,
                code,
                message,
            },
            other => AwsError::new("DescribeWarmPool", &self.name, other.to_string()),
        })
    }

    /// EC2's TerminateInstances: TerminateInstanceInAutoScalingGroup "cannot be called on
    /// instances in a warm pool", and the user guide refreshes a pool by terminating its
    /// instances, which the group replaces at once from its current launch setting. One call
    /// per instance (as batches do): an id already gone fails only its own call, and is taken
    /// for done.
    /// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html>,
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html#update-warm-pool>
    async fn terminate_pooled(&self, instance_id: &str) -> Result<(), AwsError> {
        match self
            .ec2
            .terminate_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .context("TerminateInstances", instance_id)
        {
            Ok(_) => Ok(()),
            Err(e) if e.code.as_deref() == Some("InvalidInstanceID.NotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn exit_standby(&self, instance_ids: &[String]) -> Result<(), AwsError> {
        // At most 20 instances a call (the API's limit).
        for chunk in instance_ids.chunks(20) {
            match self
                .asg
                .exit_standby()
                .auto_scaling_group_name(&self.name)
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .context("ExitStandby", &self.name)
            {
                Ok(_) => {}
                // A repeat after a lost answer: the instances left Standby already.
                Err(e) if e.message.contains("not in Standby") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `policy` with its launch template at `id`/`version` and each override in `overrides` at its
/// own; the instance types, weights and Spot/On-Demand distribution exactly as they were. AWS
/// takes a template by id or by name, not both (DescribeAutoScalingGroups may answer both).
fn repoint_policy(
    policy: &aws_sdk_autoscaling::types::MixedInstancesPolicy,
    id: &str,
    version: &str,
    overrides: &[OverrideTemplate],
) -> aws_sdk_autoscaling::types::MixedInstancesPolicy {
    use aws_sdk_autoscaling::types::{LaunchTemplate, LaunchTemplateSpecification};
    let spec = |id: &str, version: &str| {
        LaunchTemplateSpecification::builder()
            .launch_template_id(id)
            .version(version)
            .build()
    };
    let current = policy.launch_template();
    let kept = current.map(|t| t.overrides().to_vec()).unwrap_or_default();
    let moved: Vec<_> = kept
        .into_iter()
        .enumerate()
        .map(|(index, mut o)| {
            if let Some(m) = overrides.iter().find(|m| m.index == index) {
                o.launch_template_specification = Some(spec(&m.id, &m.version));
            }
            o
        })
        .collect();
    let template = LaunchTemplate::builder()
        .launch_template_specification(spec(id, version))
        .set_overrides(Some(moved).filter(|o| !o.is_empty()))
        .build();
    let mut policy = policy.clone();
    policy.launch_template = Some(template);
    policy
}

impl AwsGroup {
    /// The template of `spec` by id, and its version as a number (`$Latest` / `$Default` are
    /// pinned, so a rollback returns to exactly this version).
    async fn pinned(
        &self,
        spec: &aws_sdk_autoscaling::types::LaunchTemplateSpecification,
    ) -> Result<(String, String), AwsError> {
        let id = match spec.launch_template_id() {
            Some(id) => id.to_string(),
            None => {
                self.template_id(spec.launch_template_name().unwrap_or_default())
                    .await?
            }
        };
        let version = self
            .resolve_version(&id, spec.version().unwrap_or("$Default"))
            .await?;
        Ok((id, version))
    }

    /// The image version `version` of template `id` launches.
    async fn version_image(&self, id: &str, version: &str) -> Result<Option<String>, AwsError> {
        let v = self.template_version(Some(id), None, version).await?;
        let image = v.and_then(|v| {
            v.launch_template_data()
                .and_then(|d| d.image_id().map(str::to_string))
        });
        match image {
            Some(i) => Ok(Some(self.resolve_image(&i).await?)),
            None => Ok(None),
        }
    }

    /// The group, and when its own answer arrived (before the image lookups that follow it).
    async fn read(&self, launch: bool) -> Result<(GroupSnapshot, Instant), AwsError> {
        let err = |e: release_planner::aws::SnapshotError| {
            AwsError::new("snapshot", &self.name, e.to_string())
        };
        // A snapshot (not a poll) may take a recent answer with instances.
        let (g, observed) = match self.recent_group(true, false).filter(|_| launch) {
            Some(g) => (g, Instant::now()),
            None => {
                let g = release_planner::aws::describe_group(&self.asg, &self.name)
                    .await
                    .map_err(err)?;
                self.remember(&g, true);
                (g, Instant::now())
            }
        };
        // A template's image comes from this client's version reads (see `TemplateVersion`).
        let template = g.launch_template().is_some() || g.mixed_instances_policy().is_some();
        let mut cache = self.aws.known_instance_images();
        let r = release_planner::aws::snapshot_of(
            &self.asg,
            &self.ec2,
            &self.name,
            &g,
            &mut cache,
            launch && !template,
        )
        .await;
        // snapshot_of reads the pool with the launch image; a template's image is read here.
        let r = match r {
            Ok(mut snap) if launch && template && g.warm_pool_configuration().is_some() => {
                release_planner::aws::warm_pool(&self.asg, &self.ec2, &self.name, &mut cache)
                    .await
                    .map(|pool| {
                        snap.warm_pool = pool;
                        snap
                    })
            }
            r => r,
        };
        self.aws.return_instance_images(cache);
        let mut snap = r.map_err(err)?;
        if launch && template {
            snap.launch_image_id = match &snap.launch {
                LaunchSource::LaunchTemplate { id, name, version }
                | LaunchSource::MixedInstancesPolicy {
                    launch_template_id: id,
                    launch_template_name: name,
                    version,
                    ..
                } => self
                    .template_version(id.as_deref(), name.as_deref(), version)
                    .await?
                    .and_then(|v| {
                        v.launch_template_data()
                            .and_then(|d| d.image_id())
                            .map(str::to_string)
                    }),
                _ => None,
            };
        }
        if let Some(image) = snap.launch_image_id.take() {
            snap.launch_image_id = Some(self.resolve_image(&image).await?);
        }
        if launch && template {
            if let LaunchSource::MixedInstancesPolicy { overrides, .. } = &mut snap.launch {
                for o in overrides.iter_mut() {
                    let Some(t) = &o.launch_template else {
                        continue;
                    };
                    let id = match &t.id {
                        Some(id) => id.clone(),
                        None => {
                            self.template_id(t.name.as_deref().unwrap_or_default())
                                .await?
                        }
                    };
                    o.image_id = self.version_image(&id, &t.version).await?;
                }
            }
        }
        Ok((snap, observed))
    }

    /// A launch template image given as `resolve:ssm:<parameter>` to the AMI the parameter
    /// names now: DescribeLaunchTemplateVersions resolves it with `ResolveAlias`, but not every
    /// endpoint does, and comparing the parameter string with an AMI id would never match.
    /// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/using-systems-manager-parameters.html>
    async fn resolve_image(&self, image: &str) -> Result<String, AwsError> {
        let Some(parameter) = image.strip_prefix(SSM_IMAGE_PREFIX) else {
            return Ok(image.to_string());
        };
        let ssm = self.aws.ssm().await?;
        let out = ssm
            .get_parameter()
            .name(parameter)
            .send()
            .await
            .context("GetParameter", parameter)?;
        out.parameter()
            .and_then(|p| p.value())
            .map(str::to_string)
            .ok_or_else(|| AwsError::new("GetParameter", parameter, "the parameter has no value"))
    }

    async fn template_id(&self, name: &str) -> Result<String, AwsError> {
        let out = self
            .ec2
            .describe_launch_templates()
            .launch_template_names(name)
            .send()
            .await
            .context("DescribeLaunchTemplates", name)?;
        out.launch_templates()
            .first()
            .and_then(|t| t.launch_template_id())
            .map(str::to_string)
            .ok_or_else(|| {
                AwsError::new("DescribeLaunchTemplates", name, "launch template not found")
            })
    }

    /// Version `version` of the template `id` (or, without an id, `name`), with its image
    /// resolved (`ResolveAlias`: a `resolve:ssm:` image comes back as the AMI the parameter
    /// names now), from this client's earlier reads when it may (`TemplateVersion`).
    async fn template_version(
        &self,
        id: Option<&str>,
        name: Option<&str>,
        version: &str,
    ) -> Result<Option<aws_sdk_ec2::types::LaunchTemplateVersion>, AwsError> {
        let template = id.or(name).unwrap_or_default().to_string();
        let key = (template.clone(), version.to_string());
        if let Some(v) = self
            .versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .filter(|v| v.alias_read.is_none_or(|at| at.elapsed() < RECENT))
        {
            return Ok(Some(v.version.clone()));
        }
        let out = self
            .ec2
            .describe_launch_template_versions()
            .set_launch_template_id(id.map(str::to_string))
            .set_launch_template_name(if id.is_some() {
                None
            } else {
                name.map(str::to_string)
            })
            .versions(version)
            .resolve_alias(true)
            .send()
            .await
            .context("DescribeLaunchTemplateVersions", &template)?;
        let found = out.launch_template_versions().first().cloned();
        if let Some(v) = &found {
            let numbered = version.chars().all(|c| c.is_ascii_digit());
            self.remember_version(key, v, (!numbered).then(Instant::now));
        }
        Ok(found)
    }

    /// Keeps `v` under `key`, and under its template id and number for good.
    fn remember_version(
        &self,
        key: (String, String),
        v: &aws_sdk_ec2::types::LaunchTemplateVersion,
        alias_read: Option<Instant>,
    ) {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(id), Some(n)) = (v.launch_template_id(), v.version_number()) {
            versions.insert(
                (id.to_string(), n.to_string()),
                TemplateVersion {
                    version: v.clone(),
                    alias_read: None,
                },
            );
        }
        versions.insert(
            key,
            TemplateVersion {
                version: v.clone(),
                alias_read,
            },
        );
    }

    /// `$Latest` / `$Default` to the number they stand for now, so the release pins a version.
    async fn resolve_version(&self, id: &str, version: &str) -> Result<String, AwsError> {
        if version.chars().all(|c| c.is_ascii_digit()) {
            return Ok(version.to_string());
        }
        self.template_version(Some(id), None, version)
            .await?
            .and_then(|v| v.version_number())
            .map(|n| n.to_string())
            .ok_or_else(|| {
                AwsError::new(
                    "DescribeLaunchTemplateVersions",
                    id,
                    format!("version {version} not found"),
                )
            })
    }

    /// A new version with only the image changed; returns its number. `SourceVersion` makes AWS copy everything else;
    /// the common fields are also sent explicitly because some implementations ignore it.
    async fn new_template_version(
        &self,
        id: &str,
        version: &str,
        image: &str,
        release_id: &str,
    ) -> Result<String, AwsError> {
        use aws_sdk_ec2::types::{
            LaunchTemplateIamInstanceProfileSpecificationRequest, RequestLaunchTemplateData,
        };
        let data = self
            .template_version(Some(id), None, version)
            .await?
            .and_then(|v| v.launch_template_data().cloned());
        let mut req = RequestLaunchTemplateData::builder().image_id(image);
        if let Some(d) = &data {
            req = req
                .set_instance_type(d.instance_type().cloned())
                .set_key_name(d.key_name().map(str::to_string))
                .set_user_data(d.user_data().map(str::to_string))
                .set_security_group_ids(
                    Some(d.security_group_ids().to_vec()).filter(|v| !v.is_empty()),
                )
                .set_iam_instance_profile(d.iam_instance_profile().map(|p| {
                    LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                        .set_arn(p.arn().map(str::to_string))
                        .set_name(p.name().map(str::to_string))
                        .build()
                }));
        }
        let created = self
            .ec2
            .create_launch_template_version()
            .launch_template_id(id)
            .source_version(version)
            .version_description(super::prune::description(release_id, &self.name, image))
            .launch_template_data(req.build())
            .send()
            .await
            .context("CreateLaunchTemplateVersion", id)?;
        if let Some(v) = created.launch_template_version().filter(|v| {
            v.launch_template_data()
                .is_some_and(|d| d.image_id() == Some(image))
        }) {
            // What the group launches from now: the snapshots that follow read its image here.
            if let Some(n) = v.version_number() {
                self.remember_version((id.to_string(), n.to_string()), v, None);
            }
        }
        let number = created
            .launch_template_version()
            .and_then(|v| v.version_number())
            .ok_or_else(|| {
                AwsError::new(
                    "CreateLaunchTemplateVersion",
                    id,
                    "no version number returned",
                )
            })?;
        Ok(number.to_string())
    }

    async fn new_launch_configuration(
        &self,
        current: &str,
        image: &str,
        release_id: &str,
    ) -> Result<LaunchSetting, AwsError> {
        let out = self
            .asg
            .describe_launch_configurations()
            .launch_configuration_names(current)
            .send()
            .await
            .context("DescribeLaunchConfigurations", current)?;
        let lc = out
            .launch_configurations()
            .first()
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    "DescribeLaunchConfigurations",
                    current,
                    "launch configuration not found",
                )
            })?;
        // Names are immutable and unique: derive one from the old name and the release id.
        let base = current.split("--rel-").next().unwrap_or(current);
        let name = format!("{}--{release_id}", &base[..base.len().min(200)]);
        copy_launch_configuration(&self.asg, &lc, &name, image)
            .send()
            .await
            .context("CreateLaunchConfiguration", &name)?;
        Ok(LaunchSetting::Configuration { name })
    }
}

/// CreateLaunchConfiguration for a copy of `lc` launching `image`: every field but the name,
/// the image and `InstanceId` (which would copy from an instance instead). A field left out
/// becomes AWS's default — IMDSv2 required turns optional, a Spot group On-Demand, dedicated
/// tenancy shared.
fn copy_launch_configuration(
    asg: &aws_sdk_autoscaling::Client,
    lc: &aws_sdk_autoscaling::types::LaunchConfiguration,
    name: &str,
    image: &str,
) -> aws_sdk_autoscaling::operation::create_launch_configuration::builders::CreateLaunchConfigurationFluentBuilder{
    let some = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    let list = |v: &[String]| Some(v.to_vec()).filter(|v| !v.is_empty());
    asg.create_launch_configuration()
        .launch_configuration_name(name)
        .image_id(image)
        .set_key_name(some(lc.key_name()))
        .set_security_groups(list(lc.security_groups()))
        .set_classic_link_vpc_id(some(lc.classic_link_vpc_id()))
        .set_classic_link_vpc_security_groups(list(lc.classic_link_vpc_security_groups()))
        .set_user_data(some(lc.user_data()))
        .set_instance_type(some(lc.instance_type()))
        .set_kernel_id(some(lc.kernel_id()))
        .set_ramdisk_id(some(lc.ramdisk_id()))
        .set_block_device_mappings(
            Some(lc.block_device_mappings().to_vec()).filter(|v| !v.is_empty()),
        )
        .set_instance_monitoring(lc.instance_monitoring().cloned())
        .set_spot_price(some(lc.spot_price()))
        .set_iam_instance_profile(some(lc.iam_instance_profile()))
        .set_ebs_optimized(lc.ebs_optimized())
        .set_associate_public_ip_address(lc.associate_public_ip_address())
        .set_placement_tenancy(some(lc.placement_tenancy()))
        .set_metadata_options(lc.metadata_options().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration with every field set comes out of the copy the same, but for its name
    /// and image.
    #[test]
    fn launch_configurations_are_copied_whole() {
        use aws_sdk_autoscaling::types::{
            BlockDeviceMapping, Ebs, InstanceMetadataEndpointState,
            InstanceMetadataHttpTokensState, InstanceMetadataOptions, InstanceMonitoring,
            LaunchConfiguration,
        };
        let metadata = InstanceMetadataOptions::builder()
            .http_tokens(InstanceMetadataHttpTokensState::Required)
            .http_put_response_hop_limit(2)
            .http_endpoint(InstanceMetadataEndpointState::Enabled)
            .build();
        let disk = BlockDeviceMapping::builder()
            .device_name("/dev/xvda")
            .ebs(Ebs::builder().volume_size(30).encrypted(true).build())
            .build();
        let monitoring = InstanceMonitoring::builder().enabled(true).build();
        let lc = LaunchConfiguration::builder()
            .launch_configuration_name("web-lc")
            .launch_configuration_arn("arn:aws:autoscaling:::launchConfiguration:x")
            .image_id("ami-old")
            .key_name("ops")
            .security_groups("sg-1")
            .classic_link_vpc_id("vpc-1")
            .classic_link_vpc_security_groups("sg-2")
            .user_data("IyEvYmluL3No")
            .instance_type("m5.large")
            .kernel_id("aki-1")
            .ramdisk_id("ari-1")
            .block_device_mappings(disk.clone())
            .instance_monitoring(monitoring.clone())
            .spot_price("0.05")
            .iam_instance_profile("web-profile")
            .ebs_optimized(true)
            .associate_public_ip_address(false)
            .placement_tenancy("dedicated")
            .metadata_options(metadata.clone())
            .build();
        let conf = aws_sdk_autoscaling::Config::builder()
            .behavior_version(aws_sdk_autoscaling::config::BehaviorVersion::latest())
            .region(aws_sdk_autoscaling::config::Region::new("us-east-1"))
            .build();
        let client = aws_sdk_autoscaling::Client::from_conf(conf);
        let copy = copy_launch_configuration(&client, &lc, "web-lc--rel-1", "ami-new");
        let i = copy.as_input();
        assert_eq!(
            i.get_launch_configuration_name().as_deref(),
            Some("web-lc--rel-1")
        );
        assert_eq!(i.get_image_id().as_deref(), Some("ami-new"));
        assert_eq!(
            i.get_instance_id(),
            &None,
            "copied field by field, not from an instance"
        );
        assert_eq!(i.get_key_name().as_deref(), Some("ops"));
        assert_eq!(i.get_security_groups(), &Some(vec!["sg-1".to_string()]));
        assert_eq!(i.get_classic_link_vpc_id().as_deref(), Some("vpc-1"));
        assert_eq!(
            i.get_classic_link_vpc_security_groups(),
            &Some(vec!["sg-2".to_string()])
        );
        assert_eq!(i.get_user_data().as_deref(), Some("IyEvYmluL3No"));
        assert_eq!(i.get_instance_type().as_deref(), Some("m5.large"));
        assert_eq!(i.get_kernel_id().as_deref(), Some("aki-1"));
        assert_eq!(i.get_ramdisk_id().as_deref(), Some("ari-1"));
        assert_eq!(i.get_block_device_mappings(), &Some(vec![disk]));
        assert_eq!(i.get_instance_monitoring(), &Some(monitoring));
        assert_eq!(i.get_spot_price().as_deref(), Some("0.05"));
        assert_eq!(i.get_iam_instance_profile().as_deref(), Some("web-profile"));
        assert_eq!(i.get_ebs_optimized(), &Some(true));
        assert_eq!(i.get_associate_public_ip_address(), &Some(false));
        assert_eq!(i.get_placement_tenancy().as_deref(), Some("dedicated"));
        assert_eq!(i.get_metadata_options(), &Some(metadata));
    }

    #[test]
    fn a_policys_template_versions_are_its_own_and_its_overrides() {
        let mixed = LaunchSetting::Mixed {
            id: "lt-main".into(),
            version: "7".into(),
            overrides: vec![OverrideTemplate {
                index: 2,
                id: "lt-arm".into(),
                version: "3".into(),
            }],
        };
        assert_eq!(
            mixed.template_versions(),
            vec![("lt-main", "7"), ("lt-arm", "3")]
        );
        assert!(mixed.describe().contains("override 2: lt-arm version 3"));
        assert!(LaunchSetting::Configuration { name: "lc".into() }
            .template_versions()
            .is_empty());
    }

    #[test]
    fn launch_settings_encode_for_the_record() {
        for s in [
            LaunchSetting::Template {
                id: "lt-0abc".into(),
                version: "7".into(),
            },
            LaunchSetting::Configuration {
                name: "web-lc:v2".into(),
            },
            LaunchSetting::Mixed {
                id: "lt-0abc".into(),
                version: "7".into(),
                overrides: vec![],
            },
            LaunchSetting::Mixed {
                id: "lt-0abc".into(),
                version: "7".into(),
                overrides: vec![
                    OverrideTemplate {
                        index: 1,
                        id: "lt-0def".into(),
                        version: "2".into(),
                    },
                    OverrideTemplate {
                        index: 3,
                        id: "lt-0abc".into(),
                        version: "7".into(),
                    },
                ],
            },
        ] {
            assert_eq!(LaunchSetting::decode(&s.encode()), Some(s));
        }
        assert_eq!(LaunchSetting::decode("x"), None);
    }
}
