//! Why no schedule could be made. Each message names the setting to change.

use crate::batch_size::BatchSizeError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "target image id is empty: set the image to release (e.g. the id of an immutable_image)"
    )]
    EmptyTargetImage,

    #[error(transparent)]
    BatchSize(#[from] BatchSizeError),

    #[error("min_healthy_percentage {0} is above 100: use a percentage from 0 to 100")]
    MinHealthyAbove100(u32),

    #[error(
        "checkpoint {0}% is out of range: checkpoints are percentages of the release from 1 to 100"
    )]
    CheckpointOutOfRange(u32),

    /// Replace terminates before it launches, so it cannot keep 100% healthy: the first healthy
    /// instance it takes out breaks the promise. Refusing beats silently dipping (AWS Instance
    /// Refresh replaces one at a time below the floor in this case) — the plan is the contract.
    #[error(
        "strategy replace with min_healthy_percentage 100 can never replace a healthy instance: it terminates before \
         it launches, so capacity would drop below 100%. Use strategy surge (launch first, capacity never below \
         desired) or a lower min_healthy_percentage, like 90"
    )]
    ReplaceNeedsHeadroom,

    /// The floor leaves no room: every remaining old instance is healthy, and taking one out would
    /// go below the floor.
    #[error(
        "strategy replace cannot take out any of the {remaining} remaining old instance{s}: the group has \
         {healthy_in_service} healthy in service and must keep {healthy_floor} ({min_healthy_percentage}% of desired \
         {desired_capacity}). Use strategy surge, or min_healthy_percentage {suggestion} or lower",
        s = if *remaining == 1 { "" } else { "s" }
    )]
    FloorLeavesNoRoom {
        remaining: u32,
        healthy_in_service: u32,
        healthy_floor: u32,
        min_healthy_percentage: u32,
        desired_capacity: u32,
        /// The highest percentage that would let one healthy instance go at a time.
        suggestion: u32,
    },

    /// Replace in a weighted group: the room the floor leaves (desired minus floor, in units) is
    /// less than one instance of the largest weight, so once the group launches such instances
    /// (its allocation strategy picks the types) no old instance could be taken out without going
    /// below the floor, and the release would stop half way.
    #[error(
        "strategy replace in a weighted group needs room below desired capacity for its largest instance \
         ({largest_weight} units), but the floor keeps {healthy_floor} of desired {desired_capacity} units \
         ({min_healthy_percentage}%), leaving {room}. Use strategy surge, or min_healthy_percentage {suggestion} or lower"
    )]
    FloorBelowLargestWeight {
        largest_weight: u32,
        healthy_floor: u32,
        desired_capacity: u32,
        min_healthy_percentage: u32,
        room: u32,
        suggestion: u32,
    },

    /// Surge under the group's instance maintenance policy in a weighted group: a step takes out
    /// whole instances (up to `largest_weight` units) and the group may launch up to
    /// `largest_weight - 1` units past the raised desired capacity, so the policy's room above
    /// desired (`room` units) must hold both.
    #[error(
        "strategy surge in a weighted group needs room above desired capacity for one step of its largest instance          ({largest_weight} units) and the group's overage of up to {overage} more (it launches until desired capacity          is covered, even past it), {needed} units in all, but the group's instance maintenance policy          (MaxHealthyPercentage {max_healthy_percentage} of desired {desired_capacity} units) leaves {room}. {advice}"
    )]
    SurgeRoomBelowLargestWeight {
        largest_weight: u32,
        overage: u32,
        needed: u32,
        max_healthy_percentage: u32,
        desired_capacity: u32,
        room: u32,
        advice: String,
    },

    #[error("instance {0} appears more than once in the group snapshot")]
    DuplicateInstance(String),

    /// The group's instance maintenance policy keeps at most `max_healthy_percentage` of desired
    /// capacity in service or pending while instances are replaced; at 100 there is no room to
    /// launch first.
    #[error(
        "strategy surge launches before it terminates, but the group's instance maintenance policy allows at most \
         {max_healthy_percentage}% of desired capacity in service or pending while instances are replaced \
         (MaxHealthyPercentage {max_healthy_percentage}). Use strategy replace, or raise the policy's MaxHealthyPercentage"
    )]
    SurgeAboveMaxHealthy { max_healthy_percentage: u32 },

    /// Replace with the policy's 100% floor: the policy leaves no room to terminate first.
    #[error(
        "strategy replace terminates before it launches, but the group's instance maintenance policy keeps \
         {min_healthy_percentage}% of desired capacity healthy (MinHealthyPercentage {min_healthy_percentage}). \
         Use strategy surge, or lower the policy's MinHealthyPercentage"
    )]
    ReplaceBelowPolicyFloor { min_healthy_percentage: u32 },

    /// A configured floor below the policy's: the release would take the group lower than its
    /// own replacements may.
    #[error(
        "min_healthy_percentage {configured} is below the group's instance maintenance policy \
         (MinHealthyPercentage {policy}): the release would take the group lower than its own replacements may go. \
         Use {policy} or more, or leave min_healthy_percentage unset to take the policy's"
    )]
    BelowPolicyMinHealthy { configured: u32, policy: u32 },
}

impl PlanError {
    /// The release setting the error is about, as the resource names it: where a diagnostic
    /// points.
    pub fn attribute(&self) -> &'static str {
        match self {
            PlanError::EmptyTargetImage => "image_id",
            PlanError::BatchSize(_) | PlanError::DuplicateInstance(_) => "batch_size",
            PlanError::MinHealthyAbove100(_)
            | PlanError::ReplaceNeedsHeadroom
            | PlanError::FloorLeavesNoRoom { .. }
            | PlanError::FloorBelowLargestWeight { .. }
            | PlanError::BelowPolicyMinHealthy { .. } => "min_healthy_percentage",
            PlanError::CheckpointOutOfRange(_) => "checkpoints",
            PlanError::SurgeAboveMaxHealthy { .. }
            | PlanError::ReplaceBelowPolicyFloor { .. }
            | PlanError::SurgeRoomBelowLargestWeight { .. } => "strategy",
        }
    }
}
