//! `plan_release`: one snapshot + settings → the schedule. Pure and deterministic: the same inputs
//! give the same schedule, which is what lets `terraform plan` show what apply will do.

use crate::classify::{classify, Classified};
use crate::error::PlanError;
use crate::model::{count, GroupSnapshot, InstanceSnapshot};
use crate::picker::Picker;
use crate::schedule::{Batch, Capacity, Schedule, WarmPoolPlan};
use crate::settings::{
    HealthCheck, ProtectedInstances, ReleaseSettings, StandbyInstances, Strategy,
};
use crate::warning::{Warning, WarningKind};
use std::collections::BTreeMap;

/// Computes the batches that move `snapshot` onto `settings.target_image_id`.
///
/// Old instances are those not on the target image that are InService or Pending (protected ones
/// included, with a warning); Standby and unknown states are left alone with a warning; leaving
/// instances are ignored. Order: unhealthy and pending old instances first (replacing them costs
/// no healthy capacity); each pick takes from the zone with the most old instances left (ties:
/// zone name), and within a zone by instance id.
pub fn plan_release(
    snapshot: &GroupSnapshot,
    settings: &ReleaseSettings,
) -> Result<Schedule, PlanError> {
    validate(settings, snapshot)?;
    let classified = classify(
        snapshot,
        &settings.target_image_id,
        settings.protected_instances,
    )?;
    let asked = settings.batch_size.per_batch(snapshot.desired_capacity);
    let surge_limit = surge_limit(settings, snapshot)?;
    let facts = Facts {
        batch_size: surge_limit.map_or(asked, |limit| asked.min(limit)),
        healthy_floor: settings.healthy_floor(snapshot, snapshot.desired_capacity),
        // In capacity units, as the group's sizes (`units`); without weights, instances.
        start_healthy: snapshot.healthy_units(),
    };
    refuse_floor_below_largest_weight(settings, snapshot, facts.healthy_floor)?;
    // Percentages of the group's capacity: units in a weighted group, like its batches.
    let to_replace_units = classified
        .to_replace
        .iter()
        .map(|i| snapshot.units_of(i))
        .fold(0u32, u32::saturating_add);
    let checkpoints = Checkpoints::new(
        &settings.checkpoints,
        to_replace_units.saturating_add(classified.on_target_units),
    );
    let per_batch_secs = settings
        .launch_estimate_secs
        .saturating_add(waited_warmup_secs(settings, snapshot));

    let mut picker = Picker::new(&classified.to_replace);
    let mut batches: Vec<Batch> = Vec::new();
    let mut healthy = facts.start_healthy;
    let mut done = classified.on_target_units;
    let mut clock = 0u64;
    let mut smallest_capped: Option<u32> = None;
    while picker.left() > 0 {
        let may_take = match settings.strategy {
            Strategy::Surge => u32::MAX,
            Strategy::Replace => healthy.saturating_sub(facts.healthy_floor),
        };
        let taken = take_batch(
            snapshot,
            &mut picker,
            facts.batch_size,
            may_take,
            surge_limit,
        );
        let count = taken.instance_ids.len() as u32;
        let n = taken.units;
        if count == 0 {
            return Err(no_room(
                settings,
                snapshot,
                picker.left(),
                healthy,
                facts.healthy_floor,
            ));
        }
        if n < facts.batch_size && picker.left() > 0 {
            smallest_capped = Some(smallest_capped.map_or(n, |s| s.min(n)));
        }
        let (before, during, after) =
            capacities(settings.strategy, snapshot, healthy, n, taken.healthy);
        healthy = after.healthy_in_service;
        let ends_at = clock.saturating_add(per_batch_secs);
        batches.push(Batch {
            index: batches.len() as u32,
            instance_ids: taken.instance_ids,
            by_az: taken.by_az,
            capacity_before: before,
            capacity_during: during,
            capacity_after: after,
            checkpoint_after: picker.left() > 0 && checkpoints.falls_within(done, done + n),
            starts_at_secs: clock,
            ends_at_secs: ends_at,
            units: snapshot.is_weighted().then_some(n),
        });
        done += n;
        clock = ends_at.saturating_add(settings.pause_between_batches_secs);
    }

    let mut warnings = warnings(
        snapshot,
        settings,
        &classified,
        &batches,
        &facts,
        smallest_capped,
    );
    warnings.extend(group_warnings(snapshot, settings, asked, &facts));
    let warm_pool = warm_pool_plan(snapshot, &settings.target_image_id);
    if let Some(pool) = warm_pool.as_ref().filter(|p| !p.to_refresh.is_empty()) {
        warnings.push(
            WarningKind::WarmPoolRefreshed {
                instance_ids: pool.to_refresh.clone(),
            }
            .into(),
        );
    }
    Ok(Schedule {
        group_name: snapshot.name.clone(),
        target_image_id: settings.target_image_id.clone(),
        strategy: settings.strategy,
        batch_size: facts.batch_size,
        healthy_floor: facts.healthy_floor,
        counts: classified.counts,
        estimated_duration_secs: batches.last().map_or(0, |b| b.ends_at_secs),
        batches,
        warnings,
        warm_pool,
    })
}

/// The warm pool's settings and the pool instances a release onto `target` refreshes: those not
/// on it that a scale-out could still draw into service.
fn warm_pool_plan(snapshot: &GroupSnapshot, target: &str) -> Option<WarmPoolPlan> {
    let pool = snapshot.warm_pool.as_ref()?;
    let mut to_refresh: Vec<String> = pool.outdated(target).map(|i| i.id.clone()).collect();
    to_refresh.sort_unstable();
    let instances = count(pool.waiting());
    Some(WarmPoolPlan {
        pool_state: pool.pool_state,
        min_size: pool.min_size,
        max_group_prepared_capacity: pool.max_group_prepared_capacity,
        reuse_on_scale_in: pool.reuse_on_scale_in,
        instances,
        on_target: instances - to_refresh.len() as u32,
        to_refresh,
    })
}

/// Numbers fixed for the whole release.
#[derive(Clone, Copy)]
struct Facts {
    batch_size: u32,
    healthy_floor: u32,
    start_healthy: u32,
}

/// Surge under an instance maintenance policy: how many instances a step may add above desired
/// capacity. The policy's MaxHealthyPercentage bounds instances in service or pending; the
/// count is rounded up (as Instance Refresh rounds its percentages), so the console's "launch
/// before terminating" preset (100/110) lets a small group surge one instance at a time.
/// `None`: no policy, no bound (max size is raised for the step instead).
fn surge_room(settings: &ReleaseSettings, snapshot: &GroupSnapshot) -> Option<u32> {
    let policy = snapshot.replacement.maintenance_policy?;
    if settings.strategy != Strategy::Surge {
        return None;
    }
    let desired = u64::from(snapshot.desired_capacity);
    let peak = (u64::from(policy.max_healthy_percentage) * desired).div_ceil(100);
    Some((peak.saturating_sub(desired) as u32).max(1))
}

/// The most units one surge step may add under the policy: its room, less the overage a
/// weighted group may launch past the raised desired capacity (up to its largest weight less
/// one: it launches until desired is covered, even past it,
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchTemplateOverrides.html>).
/// A step takes whole instances, so the limit must hold the largest: otherwise the release is
/// refused here rather than stuck at its first heavy instance.
fn surge_limit(
    settings: &ReleaseSettings,
    snapshot: &GroupSnapshot,
) -> Result<Option<u32>, PlanError> {
    let Some(room) = surge_room(settings, snapshot) else {
        return Ok(None);
    };
    if !snapshot.is_weighted() {
        return Ok(Some(room));
    }
    let largest_weight = snapshot.largest_weight();
    let overage = largest_weight - 1;
    let limit = room.saturating_sub(overage);
    if limit >= largest_weight {
        return Ok(Some(limit));
    }
    let desired = snapshot.desired_capacity;
    let needed = largest_weight + overage;
    // The smallest MaxHealthyPercentage whose room (rounded up, as `surge_room`) holds `needed`.
    let pct = match desired {
        0 => None,
        d => Some((100 * u64::from(d + needed)).div_ceil(u64::from(d))),
    };
    let advice = match pct {
        Some(p) if p <= 200 => format!(
            "Use strategy replace, or raise the policy's MaxHealthyPercentage to {p} or more"
        ),
        _ => {
            "Use strategy replace (no MaxHealthyPercentage up to 200 leaves that room)".to_string()
        }
    };
    let max_healthy_percentage = snapshot
        .replacement
        .maintenance_policy
        .map_or(0, |p| p.max_healthy_percentage);
    Err(PlanError::SurgeRoomBelowLargestWeight {
        largest_weight,
        overage,
        needed,
        max_healthy_percentage,
        desired_capacity: desired,
        room,
        advice,
    })
}

struct Taken {
    instance_ids: Vec<String>,
    by_az: BTreeMap<String, u32>,
    /// Capacity units of the batch (instances without weights).
    units: u32,
    /// Units of those that were healthy and in service.
    healthy: u32,
}

/// Instances until their units reach `batch_size` (the last may go past it, as the group's own
/// launches do, but never past `at_most`: a surge's limit under the policy), taking healthy
/// ones only while their units stay within `may_take`.
fn take_batch(
    snapshot: &GroupSnapshot,
    picker: &mut Picker<'_>,
    batch_size: u32,
    may_take: u32,
    at_most: Option<u32>,
) -> Taken {
    let mut taken = Taken {
        instance_ids: Vec::with_capacity(batch_size.min(picker.left()) as usize),
        by_az: BTreeMap::new(),
        units: 0,
        healthy: 0,
    };
    while taken.units < batch_size {
        let over_limit = |i: &InstanceSnapshot| {
            at_most.is_some_and(|m| taken.units.saturating_add(snapshot.units_of(i)) > m)
        };
        if picker.peek().is_some_and(over_limit) {
            break;
        }
        let costly_fits = picker
            .peek_costly()
            .is_none_or(|i| taken.healthy.saturating_add(snapshot.units_of(i)) <= may_take);
        let Some(pick) = picker.next(costly_fits) else {
            break;
        };
        let units = snapshot.units_of(pick.instance);
        taken.units = taken.units.saturating_add(units);
        if pick.costs_capacity {
            taken.healthy = taken.healthy.saturating_add(units);
        }
        taken.instance_ids.push(pick.instance.id.clone());
        match taken.by_az.get_mut(pick.zone) {
            Some(n) => *n += 1,
            None => {
                taken.by_az.insert(pick.zone.to_owned(), 1);
            }
        }
    }
    taken
}

/// The group before, during and after a step replacing `n` units, `costly` of them healthy in
/// service. Surge: desired (and max if needed) rise by `n` while healthy holds. Replace:
/// desired holds (terminations do not decrement it, so the group launches the replacements)
/// while healthy dips by `costly`. Either way the max is restored after the step, so an
/// interrupted apply leaves the group at its own settings. Afterwards every new instance is
/// assumed healthy.
fn capacities(
    strategy: Strategy,
    snapshot: &GroupSnapshot,
    healthy: u32,
    n: u32,
    costly: u32,
) -> (Capacity, Capacity, Capacity) {
    let before = Capacity {
        desired: snapshot.desired_capacity,
        min: snapshot.min_size,
        max: snapshot.max_size,
        healthy_in_service: healthy,
    };
    let during = match strategy {
        Strategy::Surge => {
            let desired = before.desired.saturating_add(n);
            Capacity {
                desired,
                max: before.max.max(desired),
                ..before
            }
        }
        Strategy::Replace => Capacity {
            healthy_in_service: healthy - costly,
            ..before
        },
    };
    let after = Capacity {
        healthy_in_service: healthy - costly + n,
        ..before
    };
    (before, during, after)
}

/// The schedule still to run. Progress lives in the cloud — an instance is done when it runs the
/// target image — so this is [`plan_release`] on a fresh snapshot: a killed apply is resumed by
/// the next one, and (the picker's order depending only on what is left) when the group behaved
/// as planned it equals `planned.after_batches(done)`.
pub fn remaining(
    snapshot: &GroupSnapshot,
    settings: &ReleaseSettings,
) -> Result<Schedule, PlanError> {
    plan_release(snapshot, settings)
}

fn validate(settings: &ReleaseSettings, snapshot: &GroupSnapshot) -> Result<(), PlanError> {
    if settings.target_image_id.trim().is_empty() {
        return Err(PlanError::EmptyTargetImage);
    }
    settings.batch_size.validate()?;
    if let Some(pct) = settings.min_healthy_percentage {
        if pct > 100 {
            return Err(PlanError::MinHealthyAbove100(pct));
        }
    }
    if let Some(policy) = snapshot.replacement.maintenance_policy {
        match settings.strategy {
            Strategy::Surge if policy.max_healthy_percentage <= 100 => {
                return Err(PlanError::SurgeAboveMaxHealthy {
                    max_healthy_percentage: policy.max_healthy_percentage,
                })
            }
            Strategy::Replace => match settings.min_healthy_percentage {
                Some(configured) if configured < policy.min_healthy_percentage => {
                    return Err(PlanError::BelowPolicyMinHealthy {
                        configured,
                        policy: policy.min_healthy_percentage,
                    })
                }
                None if policy.min_healthy_percentage >= 100 => {
                    return Err(PlanError::ReplaceBelowPolicyFloor {
                        min_healthy_percentage: policy.min_healthy_percentage,
                    })
                }
                _ => {}
            },
            Strategy::Surge => {}
        }
    }
    if settings.strategy == Strategy::Replace && settings.effective_min_healthy_percentage() == 100
    {
        return Err(PlanError::ReplaceNeedsHeadroom);
    }
    if let Some(&bad) = settings.checkpoints.iter().find(|&&p| p == 0 || p > 100) {
        return Err(PlanError::CheckpointOutOfRange(bad));
    }
    Ok(())
}

/// See [`PlanError::FloorBelowLargestWeight`]: checked at plan, before any change, rather than
/// found stuck half way.
fn refuse_floor_below_largest_weight(
    settings: &ReleaseSettings,
    snapshot: &GroupSnapshot,
    healthy_floor: u32,
) -> Result<(), PlanError> {
    let largest_weight = snapshot.largest_weight();
    let desired = snapshot.desired_capacity;
    let room = desired.saturating_sub(healthy_floor);
    if settings.strategy != Strategy::Replace || !snapshot.is_weighted() || room >= largest_weight {
        return Ok(());
    }
    let suggestion = match desired {
        0 => 0,
        d => (100 * u64::from(d.saturating_sub(largest_weight)) / u64::from(d)) as u32,
    };
    Err(PlanError::FloorBelowLargestWeight {
        largest_weight,
        healthy_floor,
        desired_capacity: desired,
        min_healthy_percentage: settings.min_healthy_percentage_for(snapshot),
        room,
        suggestion,
    })
}

fn no_room(
    settings: &ReleaseSettings,
    snapshot: &GroupSnapshot,
    left: u32,
    healthy: u32,
    floor: u32,
) -> PlanError {
    let desired = snapshot.desired_capacity.max(1);
    PlanError::FloorLeavesNoRoom {
        remaining: left,
        healthy_in_service: healthy,
        healthy_floor: floor,
        min_healthy_percentage: settings.min_healthy_percentage_for(snapshot),
        desired_capacity: snapshot.desired_capacity,
        suggestion: (100 * u64::from(healthy.saturating_sub(1)) / u64::from(desired)).min(100)
            as u32,
    }
}

/// Checkpoints as instance counts: percentage p of the release is reached once
/// ceil(p% × (to replace + already on target)) instances run the target image.
struct Checkpoints(Vec<u32>);

impl Checkpoints {
    fn new(percentages: &[u32], total: u32) -> Self {
        let mut thresholds: Vec<u32> = percentages
            .iter()
            .map(|&p| (u64::from(p) * u64::from(total)).div_ceil(100) as u32)
            .collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        Self(thresholds)
    }

    /// Some checkpoint is reached by a batch that takes progress from `before` to `after`.
    fn falls_within(&self, before: u32, after: u32) -> bool {
        self.0.iter().any(|&t| before < t && t <= after)
    }
}

fn warnings(
    snapshot: &GroupSnapshot,
    settings: &ReleaseSettings,
    classified: &Classified<'_>,
    batches: &[Batch],
    facts: &Facts,
    smallest_capped: Option<u32>,
) -> Vec<Warning> {
    let mut out: Vec<WarningKind> = Vec::new();
    let counts = &classified.counts;
    if counts.to_replace == 0 {
        out.push(WarningKind::NothingToDo {
            target_image_id: settings.target_image_id.clone(),
            on_target: counts.on_target,
        });
    }
    if snapshot.desired_capacity == 0 {
        out.push(WarningKind::DesiredZero {
            to_replace: counts.to_replace,
        });
    }
    let Facts {
        batch_size,
        healthy_floor,
        start_healthy,
    } = *facts;
    if counts.to_replace > 0 && start_healthy < healthy_floor {
        out.push(WarningKind::BelowFloorAtStart {
            strategy: settings.strategy,
            healthy_in_service: start_healthy,
            healthy_floor,
        });
    }
    let peak = batches
        .iter()
        .map(|b| b.capacity_during.desired)
        .max()
        .unwrap_or(0);
    if settings.strategy == Strategy::Surge && peak > snapshot.max_size {
        out.push(WarningKind::MaxSizeRaised {
            max_size: snapshot.max_size,
            peak_desired: peak,
        });
    }
    if let Some(smallest_batch) = smallest_capped {
        out.push(WarningKind::BatchCappedByFloor {
            batch_size,
            smallest_batch,
            healthy_floor,
        });
    }
    if !classified.protected.is_empty() {
        let instance_ids = classified.protected.clone();
        out.push(match settings.protected_instances {
            ProtectedInstances::Replace => WarningKind::ProtectedReplaced { instance_ids },
            ProtectedInstances::Wait => WarningKind::ProtectedWaited { instance_ids },
            ProtectedInstances::Ignore => WarningKind::ProtectedIgnored { instance_ids },
        });
    }
    if !classified.standby.is_empty() {
        let instance_ids = classified.standby.clone();
        out.push(match settings.standby_instances {
            StandbyInstances::Replace => WarningKind::StandbyReplaced { instance_ids },
            StandbyInstances::Wait => WarningKind::StandbyWaited { instance_ids },
            StandbyInstances::Ignore => WarningKind::StandbySkipped { instance_ids },
        });
    }
    if !classified.other.is_empty() {
        let mut states: Vec<String> = classified
            .other
            .iter()
            .map(|i| i.lifecycle_state.to_string())
            .collect();
        states.sort_unstable();
        states.dedup();
        out.push(WarningKind::UnknownStateSkipped {
            instance_ids: classified.other.iter().map(|i| i.id.clone()).collect(),
            states,
        });
    }
    if !classified.unhealthy_on_target.is_empty() {
        out.push(WarningKind::UnhealthyOnTarget {
            target_image_id: settings.target_image_id.clone(),
            instance_ids: classified.unhealthy_on_target.clone(),
        });
    }
    out.into_iter().map(Warning::from).collect()
}

/// How long a new instance is waited for once in service: the warm-up, and with the group's
/// own health view at least the health check grace period (the engine waits as long: until
/// then the group reports an instance Healthy without having checked it).
fn waited_warmup_secs(settings: &ReleaseSettings, snapshot: &GroupSnapshot) -> u64 {
    let grace = match settings.health_check_for(snapshot) {
        HealthCheck::Ec2 => snapshot.replacement.health_check_grace_period_secs,
        HealthCheck::Elb => None,
    };
    settings.instance_warmup_secs.max(grace.unwrap_or(0))
}

/// What the group's own replacement settings say about this release.
fn group_warnings(
    snapshot: &GroupSnapshot,
    settings: &ReleaseSettings,
    asked: u32,
    facts: &Facts,
) -> Vec<Warning> {
    let mut out = Vec::new();
    let replacement = &snapshot.replacement;
    if let Some(policy) = replacement.maintenance_policy {
        if settings.strategy == Strategy::Surge && facts.batch_size < asked {
            out.push(WarningKind::BatchCappedByMaxHealthy {
                batch_size: asked,
                capped_to: facts.batch_size,
                max_healthy_percentage: policy.max_healthy_percentage,
                desired_capacity: snapshot.desired_capacity,
            });
        }
    }
    let grace = replacement.health_check_grace_period_secs.unwrap_or(0);
    if settings.health_check_for(snapshot) == HealthCheck::Ec2
        && settings.instance_warmup_secs < grace
    {
        out.push(WarningKind::WarmupShorterThanGrace {
            instance_warmup_secs: settings.instance_warmup_secs,
            health_check_grace_period_secs: grace,
        });
    }
    out.into_iter().map(Warning::from).collect()
}

#[cfg(test)]
mod tests;
