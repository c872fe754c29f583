//! What the planner knows about an Auto Scaling group: one read-only snapshot.
//!
//! These types mirror what `DescribeAutoScalingGroups` + `DescribeInstances` return, reduced to the
//! fields a release decision depends on, and free of AWS SDK types so the planner stays pure and a
//! snapshot can be saved as a JSON file (a what-if input, or a test fixture).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An Auto Scaling group as observed at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub name: String,
    pub desired_capacity: u32,
    pub min_size: u32,
    pub max_size: u32,
    #[serde(default)]
    pub instances: Vec<InstanceSnapshot>,
    #[serde(default)]
    pub availability_zones: Vec<String>,
    #[serde(default)]
    pub launch: LaunchSource,
    #[serde(default)]
    pub target_group_arns: Vec<String>,
    #[serde(default)]
    pub load_balancer_names: Vec<String>,
    /// The image the group's launch template version or launch configuration starts new
    /// instances from, when known: the "before" of a release, and what rollback returns to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_image_id: Option<String>,
    /// How the group itself replaces instances: the release's defaults and bounds.
    #[serde(default, skip_serializing_if = "Replacement::is_unset")]
    pub replacement: Replacement,
    /// The group's warm pool, when it has one (DescribeWarmPool). Its instances are not among
    /// `instances`: DescribeAutoScalingGroups does not list them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_pool: Option<WarmPool>,
}

/// A warm pool: pre-initialised instances beside the group that a scale-out draws into service
/// before it launches new ones. Each pool instance keeps the launch template (and so the image)
/// it was launched from: a new launch template version does not touch it, which is why a
/// release refreshes the pool, as an Instance Refresh does (it replaces the warm pool's instances
/// too, and reports their progress apart from the group's).
/// <https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-warm-pools.html>,
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_WarmPoolConfiguration.html>,
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceRefreshWarmPoolProgress.html>
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmPool {
    /// `MinSize`: instances the pool keeps at least (AWS's default 0).
    #[serde(default)]
    pub min_size: u32,
    /// `MaxGroupPreparedCapacity`: instances in the pool or in the group together; `None` when
    /// unset (-1), and then the pool holds max size minus desired capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_group_prepared_capacity: Option<u32>,
    /// `PoolState`: what a pool instance is once warmed (Stopped, Running or Hibernated).
    pub pool_state: PoolState,
    /// `InstanceReusePolicy.ReuseOnScaleIn`: a scale-in returns instances to the pool instead
    /// of terminating them.
    #[serde(default)]
    pub reuse_on_scale_in: bool,
    /// The pool's instances (`Warmed:*` lifecycle states), sorted by id.
    #[serde(default)]
    pub instances: Vec<InstanceSnapshot>,
}

/// The state a warm pool instance waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PoolState {
    #[default]
    Stopped,
    Running,
    Hibernated,
}

impl PoolState {
    /// AWS's string; anything unknown is the default, `Stopped`.
    pub fn from_aws(s: &str) -> Self {
        match s {
            "Running" => Self::Running,
            "Hibernated" => Self::Hibernated,
            _ => Self::Stopped,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopped => "Stopped",
            Self::Running => "Running",
            Self::Hibernated => "Hibernated",
        }
    }
}

impl WarmPool {
    /// Pool instances a scale-out could still draw into service: not on their way out
    /// (`Warmed:Terminating`, `Warmed:Terminated`, ...).
    pub fn waiting(&self) -> impl Iterator<Item = &InstanceSnapshot> {
        self.instances
            .iter()
            .filter(|i| !is_leaving_pool(&i.lifecycle_state))
    }

    /// Pool instances not on `image` that a scale-out could still draw: what a release onto
    /// `image` refreshes. Sorted by id.
    pub fn outdated<'a>(&'a self, image: &'a str) -> impl Iterator<Item = &'a InstanceSnapshot> {
        self.waiting().filter(move |i| i.image_id != image)
    }
}

/// `Warmed:Terminating`, `Warmed:Terminating:Wait`, `Warmed:Terminated` (and the group's own
/// leaving states): no scale-out draws such an instance any more.
pub fn is_leaving_pool(state: &LifecycleState) -> bool {
    match state {
        LifecycleState::Terminating | LifecycleState::Terminated => true,
        LifecycleState::Other(s) => s.starts_with("Warmed:Terminat"),
        _ => false,
    }
}

/// What the group says about replacing its instances (DescribeAutoScalingGroups'
/// `InstanceMaintenancePolicy`, `DefaultInstanceWarmup`, `HealthCheckGracePeriod`). Each is
/// `None` when the group does not set it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    /// The group's instance maintenance policy: the default floor and the ceiling of a release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_policy: Option<MaintenancePolicy>,
    /// The group's default instance warm-up: the default of the release's warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_instance_warmup_secs: Option<u64>,
    /// Until it ends the group reports a new instance Healthy without having checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_secs: Option<u64>,
}

impl Replacement {
    pub fn is_unset(&self) -> bool {
        *self == Self::default()
    }
}

/// An instance maintenance policy: while instances are replaced, the group keeps between
/// `min_healthy_percentage` (0 to 100) and `max_healthy_percentage` (100 to 200) of its desired
/// capacity healthy in service (the maximum also counts pending instances).
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_InstanceMaintenancePolicy.html>
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenancePolicy {
    pub min_healthy_percentage: u32,
    pub max_healthy_percentage: u32,
}

/// One instance of the group. Old and new are told apart by `image_id` only: launch template
/// versions reported per instance are unreliable (moto reports the current default for all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSnapshot {
    pub id: String,
    pub availability_zone: String,
    pub image_id: String,
    pub lifecycle_state: LifecycleState,
    pub health: Health,
    #[serde(default)]
    pub protected_from_scale_in: bool,
    /// Launch time in seconds since the Unix epoch, when known. Informational only: ordering
    /// never depends on it, so a schedule does not change when clocks or formats do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<u64>,
    /// Capacity units the instance counts for in a group with weighted overrides
    /// (DescribeAutoScalingGroups' `WeightedCapacity`); `None` counts one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_capacity: Option<u32>,
}

/// How the group launches new instances; the release changes this to the target image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LaunchSource {
    LaunchTemplate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// `$Latest`, `$Default` or a version number, as the group references it.
        version: String,
    },
    LaunchConfiguration {
        name: String,
    },
    MixedInstancesPolicy {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        launch_template_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        launch_template_name: Option<String>,
        version: String,
        /// Instance types of the overrides, in priority order.
        #[serde(default)]
        instance_types: Vec<String>,
        /// The overrides, in the policy's order: their weights and own launch templates.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        overrides: Vec<Override>,
    },
    /// Unknown or not reported (e.g. a hand-written snapshot).
    #[default]
    None,
}

/// One override of a mixed instances policy (`LaunchTemplateOverrides`).
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchTemplateOverrides.html>
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Override {
    /// `None` for an override by instance requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Capacity units an instance of this override counts for (`WeightedCapacity`, 1 to 999).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_capacity: Option<u32>,
    /// The override's own launch template, when it has one (else the policy's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<TemplateRef>,
    /// The image that template's version launches, when read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

impl Override {
    /// How users name the override: its position from 0 (as in the policy) and instance type.
    pub fn label(&self, index: usize) -> String {
        match &self.instance_type {
            Some(t) => format!("override {index} ({t})"),
            None => format!("override {index} (instance requirements)"),
        }
    }
}

/// A launch template as a group references it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `$Latest`, `$Default` or a version number.
    pub version: String,
}

impl fmt::Display for TemplateRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.name.as_deref().or(self.id.as_deref()).unwrap_or("?");
        write!(f, "launch template {t} version {}", self.version)
    }
}

/// Why a release cannot move an override of a mixed instances policy onto its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmovableOverride {
    pub index: usize,
    pub label: String,
    pub template: String,
    /// What the override's template launches now (`None`: it could not be read).
    pub image_id: Option<String>,
    pub group_image_id: Option<String>,
}

impl fmt::Display for UnmovableOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.image_id {
            None => write!(
                f,
                "{} of the mixed instances policy uses {}, which could not be read: a release cannot give it a new version",
                self.label, self.template
            ),
            Some(image) => write!(
                f,
                "{} of the mixed instances policy uses {}, which launches {image}, not the group's image {}: a release moves one image, so it cannot tell what this override should launch (another architecture or build?). Point that override at the policy's launch template, or release it separately",
                self.label,
                self.template,
                self.group_image_id.as_deref().unwrap_or("(unknown)")
            ),
        }
    }
}

impl GroupSnapshot {
    /// The overrides of the group's mixed instances policy (none for other launch sources).
    pub fn overrides(&self) -> &[Override] {
        match &self.launch {
            LaunchSource::MixedInstancesPolicy { overrides, .. } => overrides,
            _ => &[],
        }
    }

    /// The first override with a launch template of its own that a release onto `target` cannot
    /// give a new version: one launching neither the group's image (it moves with the policy's
    /// template) nor `target` (already there).
    pub fn unmovable_override(&self, target: &str) -> Option<UnmovableOverride> {
        self.overrides().iter().enumerate().find_map(|(index, o)| {
            let template = o.launch_template.as_ref()?;
            let image = o.image_id.as_deref();
            let moves = image.is_some()
                && (image == Some(target) || image == self.launch_image_id.as_deref());
            (!moves).then(|| UnmovableOverride {
                index,
                label: o.label(index),
                template: template.to_string(),
                image_id: o.image_id.clone(),
                group_image_id: self.launch_image_id.clone(),
            })
        })
    }
}

impl fmt::Display for LaunchSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let template = |id: &Option<String>, name: &Option<String>| {
            name.clone()
                .or_else(|| id.clone())
                .unwrap_or_else(|| "?".to_owned())
        };
        match self {
            LaunchSource::LaunchTemplate { id, name, version } => {
                write!(
                    f,
                    "launch template {} version {version}",
                    template(id, name)
                )
            }
            LaunchSource::LaunchConfiguration { name } => write!(f, "launch configuration {name}"),
            LaunchSource::MixedInstancesPolicy {
                launch_template_id,
                launch_template_name,
                version,
                ..
            } => write!(
                f,
                "mixed instances policy over launch template {} version {version}",
                template(launch_template_id, launch_template_name)
            ),
            LaunchSource::None => f.write_str("unknown launch source"),
        }
    }
}

/// Auto Scaling lifecycle state. The `:Wait`/`:Proceed` sub-states of lifecycle hooks fold into
/// their main state; anything else is kept verbatim in `Other` (and never touched by a release).
/// Serialized as the AWS string (`"InService"`, `"Pending:Wait"` → `"Pending"`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum LifecycleState {
    Pending,
    InService,
    EnteringStandby,
    Standby,
    Terminating,
    Terminated,
    Detaching,
    Detached,
    Other(String),
}

impl LifecycleState {
    /// Parses the state string AWS reports.
    pub fn from_aws(s: &str) -> Self {
        match s.split(':').next().unwrap_or(s) {
            "Pending" => Self::Pending,
            "InService" => Self::InService,
            "EnteringStandby" => Self::EnteringStandby,
            "Standby" => Self::Standby,
            "Terminating" => Self::Terminating,
            "Terminated" => Self::Terminated,
            "Detaching" => Self::Detaching,
            "Detached" => Self::Detached,
            _ => Self::Other(s.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::InService => "InService",
            Self::EnteringStandby => "EnteringStandby",
            Self::Standby => "Standby",
            Self::Terminating => "Terminating",
            Self::Terminated => "Terminated",
            Self::Detaching => "Detaching",
            Self::Detached => "Detached",
            Self::Other(s) => s,
        }
    }
}

impl From<String> for LifecycleState {
    fn from(s: String) -> Self {
        Self::from_aws(&s)
    }
}

impl From<LifecycleState> for String {
    fn from(s: LifecycleState) -> Self {
        match s {
            LifecycleState::Other(s) => s,
            other => other.as_str().to_owned(),
        }
    }
}

impl fmt::Display for LifecycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Health as the group sees it (EC2 status checks, or load balancer health when the group uses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Unhealthy,
}

impl InstanceSnapshot {
    /// Counts toward the group's serving capacity right now.
    pub fn is_healthy_in_service(&self) -> bool {
        self.lifecycle_state == LifecycleState::InService && self.health == Health::Healthy
    }
}

impl GroupSnapshot {
    /// Number of instances that serve right now (InService and Healthy), whatever their image.
    pub fn healthy_in_service(&self) -> u32 {
        count(self.instances.iter().filter(|i| i.is_healthy_in_service()))
    }
}

/// Instance counts never exceed u32 (a group's max size is an i32 in the AWS API).
pub(crate) fn count<I: Iterator>(iter: I) -> u32 {
    u32::try_from(iter.count()).unwrap_or(u32::MAX)
}
