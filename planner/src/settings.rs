//! What the user asked for: the target image and how to roll onto it.

use crate::batch_size::BatchSize;
use crate::model::GroupSnapshot;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Settings of one release. Every field but the target has a default, so a settings JSON file
/// can be as short as `{"target_image_id": "ami-123"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSettings {
    /// The image every replaceable instance must end up on.
    pub target_image_id: String,
    #[serde(default = "defaults::batch_size")]
    pub batch_size: BatchSize,
    #[serde(default)]
    pub strategy: Strategy,
    /// Percentage (0 to 100) of the desired capacity that must stay healthy and in service.
    /// `None` takes the group's instance maintenance policy's minimum, or without one the
    /// strategy's default: 100 for surge, 90 for replace (as AWS Instance Refresh). Surge launches before it terminates, so healthy capacity never drops and this
    /// setting cannot bind; replace with 100 is refused (see [`crate::PlanError::ReplaceNeedsHeadroom`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy_percentage: Option<u32>,
    /// Time a new instance needs after it is in service before it counts as capacity; callers
    /// that leave it to the group resolve it with [`instance_warmup_secs`].
    #[serde(default = "defaults::instance_warmup_secs")]
    pub instance_warmup_secs: u64,
    /// Wait between the end of one batch and the start of the next (bake time).
    #[serde(default)]
    pub pause_between_batches_secs: u64,
    /// Progress percentages (1 to 100) at which apply stops until the next apply promotes.
    /// Measured over the group's replaceable instances including those already on the target,
    /// so a resumed release does not stop again at a checkpoint it already passed.
    #[serde(default)]
    pub checkpoints: Vec<u32>,
    /// Estimate of launch → InService (boot, health check grace) plus termination of the old
    /// instance; it only feeds the duration estimate.
    #[serde(default = "defaults::launch_estimate_secs")]
    pub launch_estimate_secs: u64,
    /// What happens to old instances protected from scale in. Absent from the JSON when it is
    /// the default, so plans made before the setting existed read the same.
    #[serde(default, skip_serializing_if = "ProtectedInstances::is_default")]
    pub protected_instances: ProtectedInstances,
    /// What happens to old instances in Standby. Absent from the JSON when it is the default.
    #[serde(default, skip_serializing_if = "StandbyInstances::is_default")]
    pub standby_instances: StandbyInstances,
    /// Which health the release waits for; `None`: `elb` when the group has target groups or
    /// classic load balancers, else `ec2` (the provider's `health_check` default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

/// The warm-up in force: the configured one, else the group's `DefaultInstanceWarmup` (AWS's
/// own features — Instance Refresh, scaling policies — take it as their default too), else 60 s.
/// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html>
pub fn instance_warmup_secs(configured: Option<u64>, group_default: Option<u64>) -> u64 {
    configured
        .or(group_default)
        .unwrap_or_else(defaults::instance_warmup_secs)
}

/// The health a release waits for before a new instance counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCheck {
    /// The group's own view (in service and healthy).
    Ec2,
    /// Also healthy in every target group and classic load balancer of the group.
    Elb,
}

mod defaults {
    use crate::batch_size::BatchSize;

    pub fn batch_size() -> BatchSize {
        BatchSize::Percent(25)
    }
    pub fn instance_warmup_secs() -> u64 {
        60
    }
    pub fn launch_estimate_secs() -> u64 {
        120
    }
}

impl HealthCheck {
    /// The default for `group`: `elb` when it has target groups or classic load balancers.
    pub fn default_for(group: &GroupSnapshot) -> Self {
        if group.target_group_arns.is_empty() && group.load_balancer_names.is_empty() {
            Self::Ec2
        } else {
            Self::Elb
        }
    }

    /// The name users write (`health_check = "elb"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ec2 => "ec2",
            Self::Elb => "elb",
        }
    }
}

/// A `health_check` that is neither `ec2` nor `elb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckError(String);

impl fmt::Display for HealthCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not one of \"ec2\", \"elb\"", self.0)
    }
}

impl std::error::Error for HealthCheckError {}

impl FromStr for HealthCheck {
    type Err = HealthCheckError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Ec2, Self::Elb]
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| HealthCheckError(s.to_owned()))
    }
}

impl ReleaseSettings {
    /// Defaults: batches of 25% of desired, surge, 60 s warm-up, 120 s launch estimate,
    /// no pause, no checkpoints.
    pub fn new(target_image_id: impl Into<String>) -> Self {
        Self {
            target_image_id: target_image_id.into(),
            batch_size: defaults::batch_size(),
            strategy: Strategy::default(),
            min_healthy_percentage: None,
            instance_warmup_secs: defaults::instance_warmup_secs(),
            pause_between_batches_secs: 0,
            checkpoints: Vec::new(),
            launch_estimate_secs: defaults::launch_estimate_secs(),
            protected_instances: ProtectedInstances::default(),
            standby_instances: StandbyInstances::default(),
            health_check: None,
        }
    }

    /// The percentage in force without a group: the explicit one, or the strategy's default.
    pub fn effective_min_healthy_percentage(&self) -> u32 {
        self.min_healthy_percentage.unwrap_or(match self.strategy {
            Strategy::Surge => 100,
            Strategy::Replace => 90,
        })
    }

    /// The percentage in force for `group`: the explicit one, else the minimum of the group's
    /// instance maintenance policy, else the strategy's default.
    pub fn min_healthy_percentage_for(&self, group: &GroupSnapshot) -> u32 {
        match (
            self.min_healthy_percentage,
            group.replacement.maintenance_policy,
        ) {
            (Some(p), _) => p,
            (None, Some(policy)) => policy.min_healthy_percentage,
            (None, None) => self.effective_min_healthy_percentage(),
        }
    }

    /// Healthy in-service instances a release of `group` must keep while its desired capacity
    /// is `desired`: all of them for surge, the percentage in force (rounded up) for replace.
    /// The planner's schedule and the engine's cleanup of a failed batch share it.
    pub fn healthy_floor(&self, group: &GroupSnapshot, desired: u32) -> u32 {
        match self.strategy {
            Strategy::Surge => desired,
            Strategy::Replace => {
                let pct = u64::from(self.min_healthy_percentage_for(group));
                (pct * u64::from(desired)).div_ceil(100) as u32
            }
        }
    }

    /// The health check in force for `group`.
    pub fn health_check_for(&self, group: &GroupSnapshot) -> HealthCheck {
        self.health_check
            .unwrap_or_else(|| HealthCheck::default_for(group))
    }
}

/// What a release does with old instances protected from scale in (the names of Instance
/// Refresh's `ScaleInProtectedInstances`). A release's own termination ignores the protection,
/// so replacing them is never silent: it is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectedInstances {
    /// Replace them like any other instance.
    Replace,
    /// Leave them on their image; the release completes without them.
    Ignore,
    /// Wait (up to the batch timeout) for someone to remove the protection, then refuse before
    /// any change.
    #[default]
    Wait,
}

impl ProtectedInstances {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for ProtectedInstances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Replace => "replace",
            Self::Ignore => "ignore",
            Self::Wait => "wait",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of \"wait\", \"replace\", \"ignore\"")]
pub struct ProtectedInstancesError(pub String);

impl FromStr for ProtectedInstances {
    type Err = ProtectedInstancesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "wait" => Ok(Self::Wait),
            "replace" => Ok(Self::Replace),
            "ignore" => Ok(Self::Ignore),
            _ => Err(ProtectedInstancesError(s.to_owned())),
        }
    }
}

/// What a release does with old instances in Standby (Instance Refresh's `StandbyInstances`:
/// terminate, ignore or wait). A Standby instance is out of the group's capacity and out of its
/// load balancers, often kept there by someone looking at it, so a release never takes it away
/// silently.
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html>
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandbyInstances {
    /// Return them to service (`ExitStandby`, which adds one to desired capacity per instance,
    /// as AWS does), then replace them like the others.
    Replace,
    /// Leave them in Standby on their image; the release completes without them.
    Ignore,
    /// Wait (up to the batch timeout) for someone to return them to service, then replace them;
    /// still in Standby then: refuse before any change.
    #[default]
    Wait,
}

impl StandbyInstances {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for StandbyInstances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Replace => "replace",
            Self::Ignore => "ignore",
            Self::Wait => "wait",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of \"wait\", \"replace\", \"ignore\"")]
pub struct StandbyInstancesError(pub String);

impl FromStr for StandbyInstances {
    type Err = StandbyInstancesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "wait" => Ok(Self::Wait),
            "replace" => Ok(Self::Replace),
            "ignore" => Ok(Self::Ignore),
            _ => Err(StandbyInstancesError(s.to_owned())),
        }
    }
}

/// Launch first or terminate first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Raise desired by the batch, wait for the new instances, then terminate the old ones:
    /// healthy capacity never drops, at the cost of extra instances (and maybe a raised max).
    #[default]
    Surge,
    /// Terminate a batch first and let the group replace it: no extra instances, healthy capacity
    /// dips by the batch but never below `min_healthy_percentage` of desired.
    Replace,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Surge => "surge",
            Strategy::Replace => "replace",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "strategy \"{0}\" is not known: use \"surge\" (launch first) or \"replace\" (terminate first)"
)]
pub struct StrategyError(pub String);

impl FromStr for Strategy {
    type Err = StrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "surge" => Ok(Strategy::Surge),
            "replace" => Ok(Strategy::Replace),
            _ => Err(StrategyError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_json_takes_defaults() {
        let s: ReleaseSettings = serde_json::from_str(r#"{"target_image_id":"ami-1"}"#).unwrap();
        assert_eq!(s, ReleaseSettings::new("ami-1"));
        assert_eq!(s.effective_min_healthy_percentage(), 100);
        let r = ReleaseSettings {
            strategy: Strategy::Replace,
            ..s
        };
        assert_eq!(r.effective_min_healthy_percentage(), 90);
    }

    #[test]
    fn standby_instances_parse_and_default_to_wait() {
        assert_eq!(StandbyInstances::default(), StandbyInstances::Wait);
        assert_eq!("replace".parse(), Ok(StandbyInstances::Replace));
        assert_eq!("ignore".parse(), Ok(StandbyInstances::Ignore));
        assert_eq!(
            "terminate"
                .parse::<StandbyInstances>()
                .unwrap_err()
                .to_string(),
            "\"terminate\" is not one of \"wait\", \"replace\", \"ignore\""
        );
        let s: ReleaseSettings =
            serde_json::from_str(r#"{"target_image_id":"ami-1","standby_instances":"ignore"}"#)
                .unwrap();
        assert_eq!(s.standby_instances, StandbyInstances::Ignore);
        // The default stays out of the JSON: plans saved before the setting read the same.
        let json = serde_json::to_string(&ReleaseSettings::new("ami-1")).unwrap();
        assert!(!json.contains("standby"), "{json}");
    }

    #[test]
    fn strategy_parses() {
        assert_eq!("Surge".parse::<Strategy>(), Ok(Strategy::Surge));
        assert_eq!("replace".parse::<Strategy>(), Ok(Strategy::Replace));
        assert_eq!(
            "rolling".parse::<Strategy>().unwrap_err().to_string(),
            "strategy \"rolling\" is not known: use \"surge\" (launch first) or \"replace\" (terminate first)"
        );
    }
}
