//! Properties of `plan_release` over random groups (up to 500 instances) and settings. Each
//! property is checked against facts recomputed here from the snapshot, not against the planner's
//! own bookkeeping.

use proptest::prelude::*;
use release_planner::{
    diff_schedules, plan_release, remaining, render_json, BatchSize, Capacity, GroupSnapshot,
    Health, InstanceSnapshot, LaunchSource, LifecycleState, MaintenancePolicy, PlanError, Preview,
    ReleaseSettings, Schedule, ScheduleChange, Strategy as Rollout, SCHEMA_VERSION,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const TARGET: &str = "ami-target";

/// One instance's attributes packed in a u32: cheap to generate for 500 instances, and shrinking
/// towards 0 means "healthy, InService, old image, first zone".
fn decode(bits: u32, zones: usize) -> (usize, &'static str, LifecycleState, bool, bool) {
    let zone = (bits % 8) as usize % zones;
    let image = match (bits >> 3) % 6 {
        0..=2 => "ami-old",
        3 => "ami-older",
        _ => TARGET,
    };
    let state = match (bits >> 6) % 20 {
        0..=11 => LifecycleState::InService,
        12 | 13 => LifecycleState::Pending,
        14 => LifecycleState::Standby,
        15 => LifecycleState::EnteringStandby,
        16 => LifecycleState::Terminating,
        17 => LifecycleState::Terminated,
        18 => LifecycleState::Detaching,
        _ => LifecycleState::Other("Warmed:Running".into()),
    };
    let unhealthy = (bits >> 11) % 5 == 4;
    let protected = (bits >> 14) % 10 == 9;
    (zone, image, state, unhealthy, protected)
}

fn snapshot() -> impl Strategy<Value = GroupSnapshot> {
    (1usize..=6, 0usize..=500)
        .prop_flat_map(|(zones, n)| {
            (
                Just(zones),
                prop::collection::vec(any::<u32>(), n),
                0u32..=(n as u32 + 5),
                0u32..=30,
                0u32..=20,
            )
        })
        .prop_map(|(zones, attrs, desired, max_extra, min_below)| {
            let instances = attrs
                .into_iter()
                .enumerate()
                .map(|(n, bits)| {
                    let (zone, image, state, unhealthy, protected) = decode(bits, zones);
                    InstanceSnapshot {
                        // Ids not in zone order, so sorting by id is really exercised.
                        id: format!("i-{:08x}", (n as u32).wrapping_mul(2_654_435_761)),
                        availability_zone: format!("zone-{}", (b'a' + zone as u8) as char),
                        image_id: image.to_owned(),
                        lifecycle_state: state,
                        health: if unhealthy {
                            Health::Unhealthy
                        } else {
                            Health::Healthy
                        },
                        protected_from_scale_in: protected,
                        launch_time: None,
                        weighted_capacity: None,
                    }
                })
                .collect();
            GroupSnapshot {
                name: "group".into(),
                desired_capacity: desired,
                min_size: desired.saturating_sub(min_below),
                max_size: desired + max_extra,
                instances,
                availability_zones: (0..zones)
                    .map(|z| format!("zone-{}", (b'a' + z as u8) as char))
                    .collect(),
                launch: LaunchSource::LaunchConfiguration { name: "lc".into() },
                target_group_arns: vec![],
                load_balancer_names: vec![],
                launch_image_id: None,
                replacement: Default::default(),
                warm_pool: None,
            }
        })
}

fn settings() -> impl Strategy<Value = ReleaseSettings> {
    (
        prop_oneof![
            (1u32..=60).prop_map(BatchSize::Count),
            (1u32..=100).prop_map(BatchSize::Percent)
        ],
        prop_oneof![Just(Rollout::Surge), Just(Rollout::Replace)],
        prop::option::of(0u32..=100),
        prop::collection::vec(1u32..=100, 0..4),
        0u64..=600,
        0u64..=600,
    )
        .prop_map(
            |(batch_size, strategy, min_healthy, checkpoints, warmup, pause)| ReleaseSettings {
                batch_size,
                strategy,
                min_healthy_percentage: min_healthy,
                checkpoints,
                instance_warmup_secs: warmup,
                pause_between_batches_secs: pause,
                ..ReleaseSettings::new(TARGET)
            },
        )
}

fn is_outdated_replaceable(i: &InstanceSnapshot) -> bool {
    i.image_id != TARGET
        && matches!(
            i.lifecycle_state,
            LifecycleState::InService | LifecycleState::Pending
        )
}

fn is_healthy_in_service(i: &InstanceSnapshot) -> bool {
    i.lifecycle_state == LifecycleState::InService && i.health == Health::Healthy
}

fn floor_of(snapshot: &GroupSnapshot, settings: &ReleaseSettings) -> u32 {
    match settings.strategy {
        Rollout::Surge => snapshot.desired_capacity,
        Rollout::Replace => {
            let pct = settings.min_healthy_percentage.unwrap_or(90);
            (pct * snapshot.desired_capacity).div_ceil(100)
        }
    }
}

fn expected_batch_size(snapshot: &GroupSnapshot, settings: &ReleaseSettings) -> u32 {
    match settings.batch_size {
        BatchSize::Count(n) => n,
        BatchSize::Percent(p) => (p * snapshot.desired_capacity).div_ceil(100).max(1),
    }
}

/// The group after the first `done` batches went as planned.
fn apply(snapshot: &GroupSnapshot, schedule: &Schedule, done: usize) -> GroupSnapshot {
    let replaced: BTreeSet<&str> = schedule.batches[..done]
        .iter()
        .flat_map(|b| b.instance_ids.iter().map(String::as_str))
        .collect();
    let mut next = snapshot.clone();
    for i in &mut next.instances {
        if replaced.contains(i.id.as_str()) {
            *i = InstanceSnapshot {
                id: format!("{}-new", i.id),
                availability_zone: i.availability_zone.clone(),
                image_id: TARGET.into(),
                lifecycle_state: LifecycleState::InService,
                health: Health::Healthy,
                protected_from_scale_in: false,
                launch_time: None,
                weighted_capacity: None,
            };
        }
    }
    next
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_old_instance_exactly_once_and_no_other(snapshot in snapshot(), settings in settings()) {
        let Ok(schedule) = plan_release(&snapshot, &settings) else { return Ok(()) };
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for id in schedule.instance_ids() {
            *seen.entry(id).or_default() += 1;
        }
        let expected: BTreeSet<&str> =
            snapshot.instances.iter().filter(|i| is_outdated_replaceable(i)).map(|i| i.id.as_str()).collect();
        prop_assert!(seen.values().all(|&n| n == 1), "an instance is in two batches");
        prop_assert_eq!(seen.keys().copied().collect::<BTreeSet<_>>(), expected);
        prop_assert_eq!(schedule.counts.to_replace as usize, seen.len());
    }

    #[test]
    fn batches_are_never_empty_nor_above_the_batch_size(snapshot in snapshot(), settings in settings()) {
        let Ok(schedule) = plan_release(&snapshot, &settings) else { return Ok(()) };
        let size = expected_batch_size(&snapshot, &settings);
        prop_assert_eq!(schedule.batch_size, size);
        let zone_of: HashMap<&str, &str> =
            snapshot.instances.iter().map(|i| (i.id.as_str(), i.availability_zone.as_str())).collect();
        for (n, b) in schedule.batches.iter().enumerate() {
            prop_assert_eq!(b.index as usize, n);
            prop_assert!(!b.instance_ids.is_empty());
            prop_assert!(b.instance_ids.len() as u32 <= size);
            // Surge is never capped: only the last batch may be short.
            if settings.strategy == Rollout::Surge && n + 1 < schedule.batches.len() {
                prop_assert_eq!(b.instance_ids.len() as u32, size);
            }
            let mut by_az: BTreeMap<String, u32> = BTreeMap::new();
            for id in &b.instance_ids {
                *by_az.entry(zone_of[id.as_str()].to_owned()).or_default() += 1;
            }
            prop_assert_eq!(&by_az, &b.by_az);
        }
        prop_assert!(!schedule.batches.last().is_some_and(|b| b.checkpoint_after), "a checkpoint after the end");
        prop_assert_eq!(schedule.estimated_duration_secs, schedule.batches.last().map_or(0, |b| b.ends_at_secs));
    }

    #[test]
    fn unhealthy_and_pending_go_before_healthy(snapshot in snapshot(), settings in settings()) {
        let Ok(schedule) = plan_release(&snapshot, &settings) else { return Ok(()) };
        let by_id: HashMap<&str, &InstanceSnapshot> = snapshot.instances.iter().map(|i| (i.id.as_str(), i)).collect();
        let costs: Vec<bool> = schedule.instance_ids().map(|id| is_healthy_in_service(by_id[id])).collect();
        let first_costly = costs.iter().position(|&c| c).unwrap_or(costs.len());
        prop_assert!(costs[first_costly..].iter().all(|&c| c));
    }

    #[test]
    fn healthy_capacity_never_drops_below_the_floor(snapshot in snapshot(), settings in settings()) {
        let floor = floor_of(&snapshot, &settings);
        let start: u32 = snapshot.instances.iter().filter(|i| is_healthy_in_service(i)).count() as u32;
        let schedule = match plan_release(&snapshot, &settings) {
            Ok(s) => s,
            Err(PlanError::ReplaceNeedsHeadroom) => {
                prop_assert_eq!(settings.strategy, Rollout::Replace);
                prop_assert_eq!(settings.min_healthy_percentage, Some(100));
                return Ok(());
            }
            Err(PlanError::FloorLeavesNoRoom { healthy_in_service, healthy_floor, .. }) => {
                prop_assert_eq!(settings.strategy, Rollout::Replace);
                prop_assert_eq!(healthy_floor, floor);
                prop_assert!(healthy_in_service <= healthy_floor);
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected error {other}"))),
        };
        prop_assert_eq!(schedule.healthy_floor, floor);
        let by_id: HashMap<&str, &InstanceSnapshot> = snapshot.instances.iter().map(|i| (i.id.as_str(), i)).collect();
        let (desired, min, max) = (snapshot.desired_capacity, snapshot.min_size, snapshot.max_size);
        let mut healthy = start;
        for b in &schedule.batches {
            let n = b.instance_ids.len() as u32;
            let cost = b.instance_ids.iter().filter(|id| is_healthy_in_service(by_id[id.as_str()])).count() as u32;
            prop_assert_eq!(b.capacity_before, Capacity { desired, min, max, healthy_in_service: healthy });
            let during = match settings.strategy {
                Rollout::Surge => Capacity { desired: desired + n, min, max: max.max(desired + n), healthy_in_service: healthy },
                Rollout::Replace => Capacity { desired, min, max, healthy_in_service: healthy - cost },
            };
            prop_assert_eq!(b.capacity_during, during);
            // The floor: never below it, or never lower than an already-too-low start of step.
            prop_assert!(b.capacity_during.healthy_in_service >= floor.min(healthy),
                "healthy {} during a step, floor {}, before {}", b.capacity_during.healthy_in_service, floor, healthy);
            healthy = healthy - cost + n;
            prop_assert_eq!(b.capacity_after, Capacity { desired, min, max, healthy_in_service: healthy });
        }
    }

    #[test]
    fn same_input_same_schedule(snapshot in snapshot(), settings in settings(), seed in any::<u64>()) {
        let first = plan_release(&snapshot, &settings);
        prop_assert_eq!(&first, &plan_release(&snapshot, &settings));
        // The order instances are listed in does not matter either.
        let mut shuffled = snapshot.clone();
        let len = shuffled.instances.len();
        let mut state = seed | 1;
        for i in (1..len).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.instances.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(&first, &plan_release(&shuffled, &settings));
    }

    #[test]
    fn a_resumed_release_is_the_rest_of_the_plan(snapshot in snapshot(), settings in settings(), cut in any::<prop::sample::Index>()) {
        let Ok(planned) = plan_release(&snapshot, &settings) else { return Ok(()) };
        let done = cut.index(planned.batches.len() + 1);
        let now = remaining(&apply(&snapshot, &planned, done), &settings).unwrap();
        prop_assert_eq!(&now.batches, &planned.after_batches(done).batches);
        prop_assert_eq!(diff_schedules(&planned.after_batches(done), &now), ScheduleChange::Same);
    }

    #[test]
    fn json_round_trip(snapshot in snapshot(), settings in settings()) {
        let Ok(schedule) = plan_release(&snapshot, &settings) else { return Ok(()) };
        let snapshot_json = serde_json::to_string(&snapshot).unwrap();
        prop_assert_eq!(&serde_json::from_str::<GroupSnapshot>(&snapshot_json).unwrap(), &snapshot);
        let preview: Preview = serde_json::from_str(&render_json(&snapshot, &settings, &schedule)).unwrap();
        prop_assert_eq!(preview.schema_version, SCHEMA_VERSION);
        prop_assert_eq!(&preview.schedule, &schedule);
        prop_assert_eq!(&preview.settings, &settings);
    }

    /// Under an instance maintenance policy (issue 13): a surge step never holds more than
    /// ceil(MaxHealthyPercentage% × desired) instances (at least desired + 1), replace keeps the
    /// policy's minimum when no floor is configured, and a configured floor below it is refused;
    /// a resumed release is still the rest of the plan.
    #[test]
    fn the_maintenance_policy_bounds_every_step(
        mut snapshot in snapshot(),
        settings in settings(),
        min in 0u32..=100,
        span in 0u32..=100,
        cut in any::<prop::sample::Index>(),
    ) {
        let max = (min + span).clamp(100, 200);
        snapshot.replacement.maintenance_policy =
            Some(MaintenancePolicy { min_healthy_percentage: min, max_healthy_percentage: max });
        let desired = snapshot.desired_capacity;
        let planned = match plan_release(&snapshot, &settings) {
            Ok(s) => s,
            Err(PlanError::SurgeAboveMaxHealthy { .. }) => {
                prop_assert!(settings.strategy == Rollout::Surge && max == 100);
                return Ok(());
            }
            Err(PlanError::BelowPolicyMinHealthy { configured, policy }) => {
                prop_assert!(settings.strategy == Rollout::Replace && configured < policy && policy == min);
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        for b in &planned.batches {
            match settings.strategy {
                Rollout::Surge => {
                    let peak = (max * desired).div_ceil(100).max(desired + 1);
                    prop_assert!(b.capacity_during.desired <= peak, "{} > {peak}", b.capacity_during.desired);
                }
                Rollout::Replace => prop_assert_eq!(b.capacity_during.desired, desired),
            }
        }
        if settings.strategy == Rollout::Replace {
            let pct = settings.min_healthy_percentage.unwrap_or(min);
            prop_assert_eq!(planned.healthy_floor, (pct * desired).div_ceil(100));
        }
        let done = cut.index(planned.batches.len() + 1);
        let now = remaining(&apply(&snapshot, &planned, done), &settings).unwrap();
        prop_assert_eq!(&now.batches, &planned.after_batches(done).batches);
    }
}
