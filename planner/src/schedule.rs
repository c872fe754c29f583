//! The output of planning: ordered batches with the group's capacity around each step.
//!
//! This is what `terraform plan` shows and what apply executes, so every number a reviewer needs
//! is explicit rather than implied: the capacity before, during and after each step.

use crate::model::PoolState;
use crate::settings::Strategy;
use crate::warning::Warning;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub group_name: String,
    pub target_image_id: String,
    pub strategy: Strategy,
    /// The resolved batch size (instances); the last batch, or a batch capped by the floor,
    /// may be smaller.
    pub batch_size: u32,
    /// Healthy in-service instances the release keeps at every moment: the desired capacity for
    /// surge, ceil(min_healthy_percentage% × desired) for replace. When the group starts below it,
    /// the release never takes a healthy instance while it is below.
    pub healthy_floor: u32,
    pub counts: InstanceCounts,
    pub batches: Vec<Batch>,
    pub warnings: Vec<Warning>,
    /// Sum of the batches' estimated durations plus the pauses between them; checkpoints (which
    /// wait for a person) are not counted.
    pub estimated_duration_secs: u64,
    /// The group's warm pool and what the release does to it; absent when the group has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_pool: Option<WarmPoolPlan>,
}

/// A warm pool in the plan: its settings, and the pool instances the release refreshes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmPoolPlan {
    pub pool_state: PoolState,
    pub min_size: u32,
    /// Unset: the pool holds max size minus desired capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_group_prepared_capacity: Option<u32>,
    pub reuse_on_scale_in: bool,
    /// Pool instances a scale-out could draw into service (those leaving the pool excluded).
    pub instances: u32,
    /// Of those, already on the target image.
    pub on_target: u32,
    /// Not on the target image: terminated in the pool right after the launch switch (the pool
    /// refills from the new launch setting), sorted by id. Never counted as a batch's progress.
    pub to_refresh: Vec<String>,
}

/// How the planner classified the snapshot's instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCounts {
    /// Not on the target image, InService or Pending: these are in the batches.
    pub to_replace: u32,
    /// Of `to_replace`: unhealthy or pending, so replacing them costs no healthy capacity.
    pub unhealthy_to_replace: u32,
    /// Of `to_replace`: protected from scale in (the release waits for the protection to go, or
    /// replaces them when told to; a warning either way).
    pub protected_to_replace: u32,
    /// Not on the target image, protected from scale in, and left alone because the release
    /// ignores protected instances. Absent from the JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub protected_skipped: u32,
    /// Already on the target image (any state but leaving); never in a batch.
    pub on_target: u32,
    /// Not on the target image but in Standby (or entering it): left alone, with a warning.
    pub standby_skipped: u32,
    /// Not on the target image, in a lifecycle state the planner does not handle: left alone.
    pub other_skipped: u32,
    /// Terminating, terminated, detaching or detached: leaving the group, ignored.
    pub leaving: u32,
}

/// One step of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Position in the schedule, from 0 (shown to people as `index + 1`).
    pub index: u32,
    /// The old instances this step replaces, in the order they were picked.
    pub instance_ids: Vec<String>,
    /// Instances of this batch per availability zone.
    pub by_az: BTreeMap<String, u32>,
    pub capacity_before: Capacity,
    /// Surge: desired raised by the batch (and max, if it was too small). Replace: desired
    /// unchanged, healthy capacity dipped by the healthy instances of the batch.
    pub capacity_during: Capacity,
    /// Expected once the step is done, assuming every new instance comes up healthy.
    pub capacity_after: Capacity,
    /// Apply stops after this batch until the next apply promotes the release.
    pub checkpoint_after: bool,
    /// Estimated start and end, in seconds from the start of the release.
    pub starts_at_secs: u64,
    pub ends_at_secs: u64,
    /// In a group with weighted capacity: the batch's capacity units (its capacities are in
    /// units too). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
}

impl Batch {
    /// The batch's size as people read it: its instances, and its units when weighted.
    pub fn size(&self) -> String {
        let instances = self.instance_ids.len() as u32;
        match self.units {
            Some(units) => crate::Units { units, instances }.to_string(),
            None => instances.to_string(),
        }
    }
}

/// The group's size settings and its serving capacity at one point of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    pub desired: u32,
    pub min: u32,
    pub max: u32,
    /// Healthy InService instances; in `capacity_during`, the lowest count during the step.
    pub healthy_in_service: u32,
}

impl Schedule {
    /// True when there is nothing to replace.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Every instance the schedule replaces, in order.
    pub fn instance_ids(&self) -> impl Iterator<Item = &str> {
        self.batches
            .iter()
            .flat_map(|b| b.instance_ids.iter().map(String::as_str))
    }

    /// What should be left of this schedule once its first `done` batches are applied: the
    /// remaining batches, renumbered from 0 and re-timed from 0. Apply compares this with
    /// [`crate::remaining`] on a fresh snapshot (via [`crate::diff_schedules`]) to notice that the
    /// group changed under it. `counts` and `warnings` still describe the original snapshot.
    pub fn after_batches(&self, done: usize) -> Schedule {
        let rest = &self.batches[done.min(self.batches.len())..];
        let shift = rest.first().map_or(0, |b| b.starts_at_secs);
        let batches: Vec<Batch> = rest
            .iter()
            .enumerate()
            .map(|(i, b)| Batch {
                index: i as u32,
                starts_at_secs: b.starts_at_secs - shift,
                ends_at_secs: b.ends_at_secs - shift,
                ..b.clone()
            })
            .collect();
        Schedule {
            estimated_duration_secs: batches.last().map_or(0, |b| b.ends_at_secs),
            batches,
            ..self.clone()
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
