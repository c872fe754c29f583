//! Things a reviewer should know before approving a release. None of them stops the plan; the
//! conditions that must stop it are [`crate::PlanError`]s.

use crate::settings::Strategy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A warning: structured data for programs plus the sentence shown to people (kept in the JSON so
/// a consumer does not have to re-word it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    #[serde(flatten)]
    pub kind: WarningKind,
    pub message: String,
}

impl From<WarningKind> for Warning {
    fn from(kind: WarningKind) -> Self {
        let message = kind.to_string();
        Self { kind, message }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WarningKind {
    /// No instance needs replacing.
    NothingToDo {
        target_image_id: String,
        on_target: u32,
    },
    /// Desired capacity 0: percentages of it would be 0, so batches fall back to at least 1.
    DesiredZero { to_replace: u32 },
    /// A surge step needs more instances than max size allows.
    MaxSizeRaised { max_size: u32, peak_desired: u32 },
    /// Scale-in protection does not stop an explicit termination: replaced because the release
    /// was told to (`scale_in_protected_instances = "replace"`).
    ProtectedReplaced { instance_ids: Vec<String> },
    /// The default: the release waits for the protection to be removed, then refuses.
    ProtectedWaited { instance_ids: Vec<String> },
    /// Left on their image (`scale_in_protected_instances = "ignore"`).
    ProtectedIgnored { instance_ids: Vec<String> },
    /// Left in Standby on their image (`standby_instances = "ignore"`).
    StandbySkipped { instance_ids: Vec<String> },
    /// The default: the release waits for them to leave Standby, then replaces them, or refuses.
    StandbyWaited { instance_ids: Vec<String> },
    /// Returned to service and replaced (`standby_instances = "replace"`).
    StandbyReplaced { instance_ids: Vec<String> },
    /// Lifecycle states the planner does not know (warm pools, quarantine, ...).
    UnknownStateSkipped {
        instance_ids: Vec<String>,
        states: Vec<String>,
    },
    /// Instances already on the target image failing health checks hint at a bad image.
    UnhealthyOnTarget {
        target_image_id: String,
        instance_ids: Vec<String>,
    },
    /// The group has fewer healthy instances than it should keep.
    BelowFloorAtStart {
        strategy: Strategy,
        healthy_in_service: u32,
        healthy_floor: u32,
    },
    /// Replace: the floor makes some batches smaller than asked.
    BatchCappedByFloor {
        batch_size: u32,
        smallest_batch: u32,
        healthy_floor: u32,
    },
    /// Surge: the group's instance maintenance policy bounds how many instances a step adds.
    BatchCappedByMaxHealthy {
        batch_size: u32,
        capped_to: u32,
        max_healthy_percentage: u32,
        desired_capacity: u32,
    },
    /// Warm pool instances on an old image: replaced in the pool after the launch switch.
    WarmPoolRefreshed { instance_ids: Vec<String> },
    /// `ec2` health: during the grace period the group reports new instances Healthy unchecked,
    /// so the release waits out the grace period, not only the warm-up.
    WarmupShorterThanGrace {
        instance_warmup_secs: u64,
        health_check_grace_period_secs: u64,
    },
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarningKind::WarmPoolRefreshed { instance_ids } => write!(
                f,
                "{} in the warm pool {} on an old image ({}): right after the launch switch the release terminates {} in the pool, \
                 which refills from the new launch setting, so no later scale-out brings the old image back (as an Instance Refresh \
                 replaces warm pool instances)",
                instances(instance_ids),
                are(instance_ids),
                list(instance_ids),
                them(instance_ids)
            ),
            WarningKind::NothingToDo { target_image_id, on_target } => write!(
                f,
                "nothing to do: every replaceable instance already runs {target_image_id} ({on_target} on it)"
            ),
            WarningKind::DesiredZero { to_replace: 0 } => f.write_str(
                "the group's desired capacity is 0: no instance runs; instances launched later will use the new image",
            ),
            WarningKind::DesiredZero { to_replace } => write!(
                f,
                "the group's desired capacity is 0 but {to_replace} instance{} still run an old image: they are replaced anyway, in batches of at least 1",
                plural(*to_replace)
            ),
            WarningKind::MaxSizeRaised { max_size, peak_desired } => write!(
                f,
                "max size {max_size} is below the {peak_desired} instances a surge step needs (desired + batch): \
                 the provider raises max size to {peak_desired} during each step and restores {max_size} after it"
            ),
            WarningKind::ProtectedReplaced { instance_ids } => write!(
                f,
                "{} protected from scale in {} replaced anyway, as scale_in_protected_instances = \"replace\" asks: a release's termination ignores scale-in protection ({}); \
                 put an instance in Standby to keep it out of the release",
                instances(instance_ids),
                are(instance_ids),
                list(instance_ids)
            ),
            WarningKind::ProtectedWaited { instance_ids } => write!(
                f,
                "{} protected from scale in ({}): the release waits up to the batch timeout for the protection to be removed, then refuses before any change; \
                 set scale_in_protected_instances = \"replace\" to replace {} anyway or \"ignore\" to leave {} on the old image",
                instances(instance_ids),
                list(instance_ids),
                them(instance_ids),
                them(instance_ids)
            ),
            WarningKind::ProtectedIgnored { instance_ids } => write!(
                f,
                "{} protected from scale in {} left on the old image, as scale_in_protected_instances = \"ignore\" asks ({}): \
                 a later scale-out still launches the new image",
                instances(instance_ids),
                are(instance_ids),
                list(instance_ids)
            ),
            WarningKind::StandbySkipped { instance_ids } => write!(
                f,
                "{} in Standby still run{} an old image and {} left alone, as standby_instances = \"ignore\" asks ({}): exit standby and apply again to replace {}",
                instances(instance_ids),
                if instance_ids.len() == 1 { "s" } else { "" },
                are(instance_ids),
                list(instance_ids),
                them(instance_ids)
            ),
            WarningKind::StandbyWaited { instance_ids } => write!(
                f,
                "{} in Standby on an old image ({}): the release waits up to the batch timeout for {} to return to service (then replaces {}), then refuses before any change; \
                 set standby_instances = \"replace\" to return {} to service and replace {}, or \"ignore\" to leave {} in Standby",
                instances(instance_ids),
                list(instance_ids),
                them(instance_ids),
                them(instance_ids),
                them(instance_ids),
                them(instance_ids),
                them(instance_ids)
            ),
            WarningKind::StandbyReplaced { instance_ids } => write!(
                f,
                "{} in Standby on an old image {} returned to service and replaced, as standby_instances = \"replace\" asks ({}): \
                 ExitStandby adds one to desired capacity per instance, and the group keeps that capacity",
                instances(instance_ids),
                are(instance_ids),
                list(instance_ids)
            ),
            WarningKind::UnknownStateSkipped { instance_ids, states } => write!(
                f,
                "{} in lifecycle state{} {} {} left alone ({})",
                instances(instance_ids),
                if states.len() == 1 { "" } else { "s" },
                states.join(", "),
                are(instance_ids),
                list(instance_ids)
            ),
            WarningKind::UnhealthyOnTarget { target_image_id, instance_ids } => write!(
                f,
                "{} already on {target_image_id} {} unhealthy ({}): the new image may be bad; look at {} before going on",
                instances(instance_ids),
                are(instance_ids),
                list(instance_ids),
                them(instance_ids)
            ),
            WarningKind::BelowFloorAtStart { strategy: Strategy::Surge, healthy_in_service, healthy_floor } => write!(
                f,
                "the group starts with {healthy_in_service} healthy instance{} in service, fewer than its desired {healthy_floor}: \
                 unhealthy old instances go first, and a surge never lowers healthy capacity",
                plural(*healthy_in_service)
            ),
            WarningKind::BelowFloorAtStart { strategy: Strategy::Replace, healthy_in_service, healthy_floor } => write!(
                f,
                "the group starts with {healthy_in_service} healthy instance{} in service, below the {healthy_floor} it must keep: \
                 unhealthy old instances go first, and no healthy instance is taken while the group is below {healthy_floor}",
                plural(*healthy_in_service)
            ),
            WarningKind::BatchCappedByFloor { batch_size, smallest_batch, healthy_floor } => write!(
                f,
                "some batches are smaller than the batch size {batch_size} (the smallest has {smallest_batch} instance{}): \
                 strategy replace terminates first and must keep {healthy_floor} healthy instances in service",
                plural(*smallest_batch)
            ),
            WarningKind::BatchCappedByMaxHealthy { batch_size, capped_to, max_healthy_percentage, desired_capacity } => write!(
                f,
                "batches hold at most {capped_to} instance{} instead of the batch size {batch_size}: the group's instance maintenance policy \
                 allows {max_healthy_percentage}% of desired capacity {desired_capacity} in service or pending while instances are replaced \
                 (MaxHealthyPercentage), and a surge launches its batch on top of desired",
                plural(*capped_to)
            ),
            WarningKind::WarmupShorterThanGrace { instance_warmup_secs, health_check_grace_period_secs } => write!(
                f,
                "instance_warmup {instance_warmup_secs}s is shorter than the group's health check grace period \
                 ({health_check_grace_period_secs}s): with health_check = \"ec2\" the group reports a new instance Healthy during \
                 the grace period without having checked it, so each new instance is waited for {health_check_grace_period_secs}s. \
                 Set instance_warmup to at least {health_check_grace_period_secs}s to say so, lower the grace period, or use \
                 health_check = \"elb\""
            ),
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn instances(ids: &[String]) -> String {
    format!("{} instance{}", ids.len(), plural(ids.len() as u32))
}

fn them(ids: &[String]) -> &'static str {
    if ids.len() == 1 {
        "it"
    } else {
        "them"
    }
}

fn are(ids: &[String]) -> &'static str {
    if ids.len() == 1 {
        "is"
    } else {
        "are"
    }
}

/// Up to 10 ids, then a count: a warning must stay readable for a 10,000-instance group.
fn list(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut out = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        out.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_with_its_message() {
        let w = Warning::from(WarningKind::StandbySkipped {
            instance_ids: vec!["i-1".into()],
        });
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"standby_skipped","instance_ids":["i-1"],"message":"1 instance in Standby still runs an old image and is left alone, as standby_instances = \"ignore\" asks (i-1): exit standby and apply again to replace it"}"#
        );
        assert_eq!(serde_json::from_str::<Warning>(&json).unwrap(), w);
    }

    #[test]
    fn long_lists_are_shortened() {
        let ids: Vec<String> = (0..12).map(|i| format!("i-{i}")).collect();
        let msg = WarningKind::ProtectedReplaced { instance_ids: ids }.to_string();
        assert_eq!(
            msg,
            "12 instances protected from scale in are replaced anyway, as scale_in_protected_instances = \"replace\" \
             asks: a release's termination ignores scale-in protection (i-0, i-1, i-2, i-3, i-4, i-5, i-6, i-7, i-8, \
             i-9 and 2 more); put an instance in Standby to keep it out of the release"
        );
    }
}
