use crate::*;
use std::collections::BTreeMap;

const OLD: &str = "ami-old";
const NEW: &str = "ami-new";

fn inst(id: &str, az: &str, image: &str) -> InstanceSnapshot {
    InstanceSnapshot {
        id: id.into(),
        availability_zone: az.into(),
        image_id: image.into(),
        lifecycle_state: LifecycleState::InService,
        health: Health::Healthy,
        protected_from_scale_in: false,
        launch_time: None,
        weighted_capacity: None,
    }
}

fn unhealthy(mut i: InstanceSnapshot) -> InstanceSnapshot {
    i.health = Health::Unhealthy;
    i
}

fn state(mut i: InstanceSnapshot, s: &str) -> InstanceSnapshot {
    i.lifecycle_state = LifecycleState::from_aws(s);
    i
}

fn group(desired: u32, min: u32, max: u32, instances: Vec<InstanceSnapshot>) -> GroupSnapshot {
    let mut azs: Vec<String> = instances
        .iter()
        .map(|i| i.availability_zone.clone())
        .collect();
    azs.sort();
    azs.dedup();
    GroupSnapshot {
        name: "web".into(),
        desired_capacity: desired,
        min_size: min,
        max_size: max,
        instances,
        availability_zones: azs,
        launch: LaunchSource::LaunchTemplate {
            id: Some("lt-1".into()),
            name: Some("web".into()),
            version: "3".into(),
        },
        target_group_arns: vec![],
        load_balancer_names: vec![],
        launch_image_id: None,
        replacement: Default::default(),
        warm_pool: None,
    }
}

/// i-01..i-06 in zone a, i-07..i-12 in zone b, all healthy on the old image.
fn twelve_over_two_zones() -> GroupSnapshot {
    let instances = (1..=12)
        .map(|n| {
            inst(
                &format!("i-{n:02}"),
                if n <= 6 { "eu-west-1a" } else { "eu-west-1b" },
                OLD,
            )
        })
        .collect();
    group(12, 2, 14, instances)
}

fn settings(batch: &str, strategy: Strategy) -> ReleaseSettings {
    ReleaseSettings {
        batch_size: batch.parse().unwrap(),
        strategy,
        ..ReleaseSettings::new(NEW)
    }
}

fn ids(schedule: &Schedule) -> Vec<Vec<&str>> {
    schedule
        .batches
        .iter()
        .map(|b| b.instance_ids.iter().map(String::as_str).collect())
        .collect()
}

fn cap(desired: u32, min: u32, max: u32, healthy: u32) -> Capacity {
    Capacity {
        desired,
        min,
        max,
        healthy_in_service: healthy,
    }
}

fn kinds(schedule: &Schedule) -> Vec<&WarningKind> {
    schedule.warnings.iter().map(|w| &w.kind).collect()
}

#[test]
fn twelve_over_two_zones_in_four_batches_of_three_alternating_zones() {
    let s = plan_release(&twelve_over_two_zones(), &settings("25%", Strategy::Surge)).unwrap();
    assert_eq!(s.batch_size, 3);
    assert_eq!(
        ids(&s),
        vec![
            vec!["i-01", "i-07", "i-02"],
            vec!["i-08", "i-03", "i-09"],
            vec!["i-04", "i-10", "i-05"],
            vec!["i-11", "i-06", "i-12"],
        ]
    );
    let spread: Vec<Vec<(&str, u32)>> = s
        .batches
        .iter()
        .map(|b| b.by_az.iter().map(|(k, v)| (k.as_str(), *v)).collect())
        .collect();
    assert_eq!(
        spread,
        vec![
            vec![("eu-west-1a", 2), ("eu-west-1b", 1)],
            vec![("eu-west-1a", 1), ("eu-west-1b", 2)],
            vec![("eu-west-1a", 2), ("eu-west-1b", 1)],
            vec![("eu-west-1a", 1), ("eu-west-1b", 2)],
        ]
    );
    assert_eq!(
        s.batches.iter().map(|b| b.index).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
}

#[test]
fn surge_raises_desired_by_the_batch_and_max_when_needed() {
    let s = plan_release(&twelve_over_two_zones(), &settings("25%", Strategy::Surge)).unwrap();
    for b in &s.batches {
        assert_eq!(b.capacity_before, cap(12, 2, 14, 12));
        assert_eq!(b.capacity_during, cap(15, 2, 15, 12));
        assert_eq!(b.capacity_after, cap(12, 2, 14, 12));
    }
    assert_eq!(s.healthy_floor, 12);
    assert_eq!(
        kinds(&s),
        vec![&WarningKind::MaxSizeRaised {
            max_size: 14,
            peak_desired: 15
        }]
    );
    assert_eq!(
        s.warnings[0].message,
        "max size 14 is below the 15 instances a surge step needs (desired + batch): the provider raises max size \
         to 15 during each step and restores 14 after it"
    );
}

#[test]
fn surge_replaces_unhealthy_first_and_regains_capacity() {
    let snap = group(
        4,
        1,
        8,
        vec![
            inst("i-1", "a", OLD),
            inst("i-2", "b", OLD),
            unhealthy(inst("i-3", "a", OLD)),
            inst("i-4", "b", OLD),
        ],
    );
    let s = plan_release(&snap, &settings("2", Strategy::Surge)).unwrap();
    assert_eq!(ids(&s), vec![vec!["i-3", "i-2"], vec!["i-1", "i-4"]]);
    assert_eq!(s.counts.unhealthy_to_replace, 1);
    let b = &s.batches;
    assert_eq!(
        (
            b[0].capacity_before,
            b[0].capacity_during,
            b[0].capacity_after
        ),
        (cap(4, 1, 8, 3), cap(6, 1, 8, 3), cap(4, 1, 8, 4))
    );
    assert_eq!(
        (
            b[1].capacity_before,
            b[1].capacity_during,
            b[1].capacity_after
        ),
        (cap(4, 1, 8, 4), cap(6, 1, 8, 4), cap(4, 1, 8, 4))
    );
    assert_eq!(
        kinds(&s),
        vec![&WarningKind::BelowFloorAtStart {
            strategy: Strategy::Surge,
            healthy_in_service: 3,
            healthy_floor: 4
        }]
    );
}

#[test]
fn replace_caps_batches_at_the_floor() {
    let instances = (0..10)
        .map(|n| inst(&format!("i-{n}"), if n % 2 == 0 { "a" } else { "b" }, OLD))
        .collect();
    let snap = group(10, 2, 10, instances);
    let s = plan_release(
        &snap,
        &ReleaseSettings {
            min_healthy_percentage: Some(80),
            ..settings("5", Strategy::Replace)
        },
    )
    .unwrap();
    assert_eq!(s.healthy_floor, 8);
    assert_eq!(s.batch_size, 5);
    assert_eq!(
        ids(&s),
        vec![
            vec!["i-0", "i-1"],
            vec!["i-2", "i-3"],
            vec!["i-4", "i-5"],
            vec!["i-6", "i-7"],
            vec!["i-8", "i-9"]
        ]
    );
    for b in &s.batches {
        assert_eq!(b.capacity_before, cap(10, 2, 10, 10));
        assert_eq!(
            b.capacity_during,
            cap(10, 2, 10, 8),
            "terminate first: healthy dips to the floor"
        );
        assert_eq!(b.capacity_after, cap(10, 2, 10, 10));
    }
    assert_eq!(
        kinds(&s),
        vec![&WarningKind::BatchCappedByFloor {
            batch_size: 5,
            smallest_batch: 2,
            healthy_floor: 8
        }]
    );
}

#[test]
fn replace_takes_unhealthy_for_free_then_healthy_down_to_the_floor() {
    let mut instances: Vec<_> = (0..8).map(|n| inst(&format!("i-{n}"), "a", OLD)).collect();
    instances.push(unhealthy(inst("i-8", "b", OLD)));
    instances.push(state(inst("i-9", "b", OLD), "Pending:Wait"));
    let snap = group(10, 2, 10, instances);
    let s = plan_release(
        &snap,
        &ReleaseSettings {
            min_healthy_percentage: Some(70),
            ..settings("4", Strategy::Replace)
        },
    )
    .unwrap();
    // floor 7, 8 healthy: batch 1 takes the two free ones and one healthy (8 - 7 = 1).
    assert_eq!(
        ids(&s),
        vec![
            vec!["i-8", "i-9", "i-0"],
            vec!["i-1", "i-2", "i-3"],
            vec!["i-4", "i-5", "i-6"],
            vec!["i-7"]
        ]
    );
    let healthy: Vec<(u32, u32, u32)> = s
        .batches
        .iter()
        .map(|b| {
            (
                b.capacity_before.healthy_in_service,
                b.capacity_during.healthy_in_service,
                b.capacity_after.healthy_in_service,
            )
        })
        .collect();
    assert_eq!(
        healthy,
        vec![(8, 7, 10), (10, 7, 10), (10, 7, 10), (10, 9, 10)]
    );
}

#[test]
fn replace_defaults_to_90_percent_and_refuses_100() {
    let instances = (0..20)
        .map(|n| inst(&format!("i-{n:02}"), "a", OLD))
        .collect();
    let snap = group(20, 20, 20, instances);
    let s = plan_release(&snap, &settings("25%", Strategy::Replace)).unwrap();
    assert_eq!(s.healthy_floor, 18);
    assert_eq!(
        s.batches
            .iter()
            .map(|b| b.instance_ids.len())
            .collect::<Vec<_>>(),
        vec![2; 10]
    );

    let err = plan_release(
        &snap,
        &ReleaseSettings {
            min_healthy_percentage: Some(100),
            ..settings("1", Strategy::Replace)
        },
    )
    .unwrap_err();
    assert_eq!(err, PlanError::ReplaceNeedsHeadroom);
    assert_eq!(
        err.to_string(),
        "strategy replace with min_healthy_percentage 100 can never replace a healthy instance: it terminates before \
         it launches, so capacity would drop below 100%. Use strategy surge (launch first, capacity never below \
         desired) or a lower min_healthy_percentage, like 90"
    );
}

#[test]
fn replace_errors_when_the_floor_leaves_no_room() {
    let instances = (0..10).map(|n| inst(&format!("i-{n}"), "a", OLD)).collect();
    let snap = group(10, 1, 10, instances);
    let err = plan_release(
        &snap,
        &ReleaseSettings {
            min_healthy_percentage: Some(95),
            ..settings("1", Strategy::Replace)
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        PlanError::FloorLeavesNoRoom {
            remaining: 10,
            healthy_in_service: 10,
            healthy_floor: 10,
            min_healthy_percentage: 95,
            desired_capacity: 10,
            suggestion: 90
        }
    );
    assert_eq!(
        err.to_string(),
        "strategy replace cannot take out any of the 10 remaining old instances: the group has 10 healthy in service \
         and must keep 10 (95% of desired 10). Use strategy surge, or min_healthy_percentage 90 or lower"
    );
    // A single-instance group cannot be replaced terminate-first without an outage.
    let single = group(1, 1, 1, vec![inst("i-1", "a", OLD)]);
    let err = plan_release(&single, &settings("1", Strategy::Replace)).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::FloorLeavesNoRoom {
                suggestion: 0,
                healthy_floor: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn nothing_to_do() {
    let snap = group(2, 1, 4, vec![inst("i-1", "a", NEW), inst("i-2", "b", NEW)]);
    let s = plan_release(&snap, &settings("1", Strategy::Surge)).unwrap();
    assert!(s.is_empty());
    assert_eq!(s.estimated_duration_secs, 0);
    assert_eq!(s.counts.on_target, 2);
    assert_eq!(
        kinds(&s),
        vec![&WarningKind::NothingToDo {
            target_image_id: NEW.into(),
            on_target: 2
        }]
    );
    assert_eq!(
        s.warnings[0].message,
        "nothing to do: every replaceable instance already runs ami-new (2 on it)"
    );
}

#[test]
fn protected_and_standby_are_waited_for_unknown_are_left_alone_pool_is_refreshed_with_warnings() {
    let mut protected = inst("i-p", "a", OLD);
    protected.protected_from_scale_in = true;
    let mut snap = group(
        5,
        1,
        10,
        vec![
            inst("i-1", "a", OLD),
            protected,
            state(inst("i-s", "b", OLD), "Standby"),
            state(inst("i-q", "b", OLD), "Quarantined"),
            state(inst("i-t", "b", OLD), "Terminating:Wait"),
            inst("i-n", "b", NEW),
            unhealthy(inst("i-u", "b", NEW)),
        ],
    );
    // DescribeAutoScalingGroups does not list a warm pool's instances; DescribeWarmPool does.
    snap.warm_pool = Some(WarmPool {
        min_size: 1,
        max_group_prepared_capacity: Some(8),
        pool_state: PoolState::Running,
        reuse_on_scale_in: true,
        instances: vec![
            state(inst("i-w", "b", OLD), "Warmed:Running"),
            state(inst("i-w2", "a", NEW), "Warmed:Pending"),
            state(inst("i-w3", "a", OLD), "Warmed:Terminating:Wait"),
        ],
    });
    let s = plan_release(&snap, &settings("10", Strategy::Surge)).unwrap();
    assert_eq!(
        s.warm_pool,
        Some(WarmPoolPlan {
            pool_state: PoolState::Running,
            min_size: 1,
            max_group_prepared_capacity: Some(8),
            reuse_on_scale_in: true,
            instances: 2,
            on_target: 1,
            to_refresh: vec!["i-w".into()],
        })
    );
    assert_eq!(ids(&s), vec![vec!["i-1", "i-p"]]);
    assert_eq!(
        s.counts,
        InstanceCounts {
            to_replace: 2,
            unhealthy_to_replace: 0,
            protected_to_replace: 1,
            protected_skipped: 0,
            on_target: 2,
            standby_skipped: 1,
            other_skipped: 1,
            leaving: 1
        }
    );
    assert_eq!(
        kinds(&s),
        vec![
            &WarningKind::BelowFloorAtStart {
                strategy: Strategy::Surge,
                healthy_in_service: 3,
                healthy_floor: 5
            },
            &WarningKind::ProtectedWaited {
                instance_ids: vec!["i-p".into()]
            },
            &WarningKind::StandbyWaited {
                instance_ids: vec!["i-s".into()]
            },
            &WarningKind::UnknownStateSkipped {
                instance_ids: vec!["i-q".into()],
                states: vec!["Quarantined".into()]
            },
            &WarningKind::UnhealthyOnTarget {
                target_image_id: NEW.into(),
                instance_ids: vec!["i-u".into()]
            },
            &WarningKind::WarmPoolRefreshed {
                instance_ids: vec!["i-w".into()]
            },
        ]
    );
    let messages: Vec<&str> = s.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        messages[1..4],
        [
            "1 instance protected from scale in (i-p): the release waits up to the batch timeout for the protection \
             to be removed, then refuses before any change; set scale_in_protected_instances = \"replace\" to replace \
             it anyway or \"ignore\" to leave it on the old image",
            "1 instance in Standby on an old image (i-s): the release waits up to the batch timeout for it to return to \
             service (then replaces it), then refuses before any change; set standby_instances = \"replace\" to return \
             it to service and replace it, or \"ignore\" to leave it in Standby",
            "1 instance in lifecycle state Quarantined is left alone (i-q)",
        ]
    );
    assert_eq!(
        messages[5],
        "1 instance in the warm pool is on an old image (i-w): right after the launch switch the release terminates it \
         in the pool, which refills from the new launch setting, so no later scale-out brings the old image back (as an \
         Instance Refresh replaces warm pool instances)"
    );
    // Without a pool the schedule says nothing about one.
    snap.warm_pool = None;
    let s = plan_release(&snap, &settings("10", Strategy::Surge)).unwrap();
    assert_eq!(s.warm_pool, None);
    assert!(!serde_json::to_string(&s).unwrap().contains("warm_pool"));
}

#[test]
fn standby_instances_follow_the_setting() {
    let snap = group(
        2,
        1,
        10,
        vec![
            inst("i-1", "a", OLD),
            inst("i-2", "a", OLD),
            state(inst("i-s", "b", OLD), "Standby"),
            state(inst("i-e", "b", OLD), "EnteringStandby"),
            state(inst("i-n", "b", NEW), "Standby"),
        ],
    );
    let standby = vec!["i-e".to_string(), "i-s".to_string()];
    // Each warning names the setting that asks for it (the default's names the alternative).
    let expected = [
        (
            StandbyInstances::Wait,
            WarningKind::StandbyWaited {
                instance_ids: standby.clone(),
            },
            "standby_instances = \"replace\"",
        ),
        (
            StandbyInstances::Replace,
            WarningKind::StandbyReplaced {
                instance_ids: standby.clone(),
            },
            "as standby_instances = \"replace\" asks",
        ),
        (
            StandbyInstances::Ignore,
            WarningKind::StandbySkipped {
                instance_ids: standby.clone(),
            },
            "as standby_instances = \"ignore\" asks",
        ),
    ];
    for (setting, warning, names) in expected {
        let mut with = settings("10", Strategy::Surge);
        with.standby_instances = setting;
        let s = plan_release(&snap, &with).unwrap();
        // The schedule holds what is in service now: instances that leave Standby during the
        // apply are in the schedule the apply recomputes.
        assert_eq!(ids(&s), vec![vec!["i-1", "i-2"]], "{setting}");
        assert_eq!(s.counts.standby_skipped, 2, "{setting}");
        assert_eq!(kinds(&s), vec![&warning], "{setting}");
        assert!(s.warnings[0].message.contains(names), "{}", s.warnings[0]);
    }
}

#[test]
fn protected_instances_follow_the_setting() {
    let mut protected = inst("i-p", "a", OLD);
    protected.protected_from_scale_in = true;
    let snap = group(2, 1, 10, vec![inst("i-1", "a", OLD), protected]);
    let mut ignore = settings("10", Strategy::Surge);
    ignore.protected_instances = ProtectedInstances::Ignore;
    let s = plan_release(&snap, &ignore).unwrap();
    assert_eq!(ids(&s), vec![vec!["i-1"]]);
    assert_eq!(
        (s.counts.protected_to_replace, s.counts.protected_skipped),
        (0, 1)
    );
    assert_eq!(
        kinds(&s),
        vec![&WarningKind::ProtectedIgnored {
            instance_ids: vec!["i-p".into()]
        }]
    );
    let mut replace = settings("10", Strategy::Surge);
    replace.protected_instances = ProtectedInstances::Replace;
    let s = plan_release(&snap, &replace).unwrap();
    assert_eq!(ids(&s), vec![vec!["i-1", "i-p"]]);
    assert_eq!(
        (s.counts.protected_to_replace, s.counts.protected_skipped),
        (1, 0)
    );
    assert!(
        s.warnings[0].message.contains("replaced anyway"),
        "{}",
        s.warnings[0]
    );
}

#[test]
fn desired_zero_is_warned_and_a_weighted_policy_is_not() {
    let mut snap = group(0, 0, 2, vec![inst("i-1", "a", OLD)]);
    snap.launch = LaunchSource::MixedInstancesPolicy {
        launch_template_id: None,
        launch_template_name: Some("web".into()),
        version: "$Latest".into(),
        instance_types: vec!["m7g.large".into(), "m6g.large".into()],
        overrides: vec![
            Override {
                instance_type: Some("m7g.large".into()),
                weighted_capacity: Some(2),
                ..Override::default()
            },
            Override {
                instance_type: Some("m6g.large".into()),
                weighted_capacity: Some(1),
                ..Override::default()
            },
        ],
    };
    let s = plan_release(&snap, &settings("50%", Strategy::Surge)).unwrap();
    assert_eq!(
        s.batch_size, 1,
        "a percentage of 0 is still at least one instance"
    );
    assert_eq!(s.batches[0].capacity_during, cap(1, 0, 2, 1));
    assert_eq!(
        kinds(&s),
        vec![&WarningKind::DesiredZero { to_replace: 1 }],
        "capacities are in the group's units: nothing to warn about"
    );
}

#[test]
fn same_input_same_schedule_whatever_the_instance_order() {
    let snap = twelve_over_two_zones();
    let mut shuffled = snap.clone();
    shuffled.instances.reverse();
    shuffled.instances.swap(0, 7);
    let settings = settings("5", Strategy::Surge);
    let a = plan_release(&snap, &settings).unwrap();
    assert_eq!(a, plan_release(&snap, &settings).unwrap());
    assert_eq!(a, plan_release(&shuffled, &settings).unwrap());
}

#[test]
fn estimate_counts_launch_warmup_and_pauses() {
    let settings = ReleaseSettings {
        launch_estimate_secs: 100,
        instance_warmup_secs: 50,
        pause_between_batches_secs: 30,
        ..settings("25%", Strategy::Surge)
    };
    let s = plan_release(&twelve_over_two_zones(), &settings).unwrap();
    let times: Vec<(u64, u64)> = s
        .batches
        .iter()
        .map(|b| (b.starts_at_secs, b.ends_at_secs))
        .collect();
    assert_eq!(times, vec![(0, 150), (180, 330), (360, 510), (540, 690)]);
    assert_eq!(s.estimated_duration_secs, 4 * 150 + 3 * 30);
}

#[test]
fn checkpoints_mark_the_batch_they_fall_in_but_never_the_last() {
    let marks = |checkpoints: Vec<u32>| {
        let settings = ReleaseSettings {
            checkpoints,
            ..settings("25%", Strategy::Surge)
        };
        let s = plan_release(&twelve_over_two_zones(), &settings).unwrap();
        s.batches
            .iter()
            .map(|b| b.checkpoint_after)
            .collect::<Vec<_>>()
    };
    assert_eq!(marks(vec![]), vec![false, false, false, false]);
    assert_eq!(marks(vec![10]), vec![true, false, false, false]);
    assert_eq!(marks(vec![50, 25]), vec![true, true, false, false]);
    assert_eq!(marks(vec![26]), vec![false, true, false, false]);
    assert_eq!(marks(vec![100]), vec![false, false, false, false]);
    let err = plan_release(
        &twelve_over_two_zones(),
        &ReleaseSettings {
            checkpoints: vec![0],
            ..ReleaseSettings::new(NEW)
        },
    );
    assert_eq!(err.unwrap_err(), PlanError::CheckpointOutOfRange(0));
}

/// What the cloud looks like after the first `done` batches went as planned: each old instance
/// replaced by a healthy new one in the same zone.
fn apply(snapshot: &GroupSnapshot, schedule: &Schedule, done: usize) -> GroupSnapshot {
    let mut next = snapshot.clone();
    for b in &schedule.batches[..done] {
        for id in &b.instance_ids {
            let i = next.instances.iter_mut().find(|i| &i.id == id).unwrap();
            *i = inst(&format!("{id}-new"), &i.availability_zone.clone(), NEW);
        }
    }
    next
}

#[test]
fn a_resumed_release_continues_the_plan_and_passed_checkpoints_stay_passed() {
    let snap = twelve_over_two_zones();
    let settings = ReleaseSettings {
        checkpoints: vec![25, 50],
        ..settings("25%", Strategy::Surge)
    };
    let planned = plan_release(&snap, &settings).unwrap();
    assert_eq!(
        planned
            .batches
            .iter()
            .map(|b| b.checkpoint_after)
            .collect::<Vec<_>>(),
        vec![true, true, false, false]
    );
    let after_two = apply(&snap, &planned, 2);
    let now = remaining(&after_two, &settings).unwrap();
    assert_eq!(now.batches, planned.after_batches(2).batches);
    assert_eq!(
        now.batches
            .iter()
            .map(|b| b.checkpoint_after)
            .collect::<Vec<_>>(),
        vec![false, false]
    );
    assert_eq!(
        diff_schedules(&planned.after_batches(2), &now),
        ScheduleChange::Same
    );
    assert_eq!(
        diff_schedules(&planned, &plan_release(&snap, &settings).unwrap()),
        ScheduleChange::Same
    );
}

#[test]
fn diff_says_what_changed_since_the_plan() {
    let snap = twelve_over_two_zones();
    let settings = settings("25%", Strategy::Surge);
    let planned = plan_release(&snap, &settings).unwrap();
    let mut changed = snap.clone();
    changed.instances.retain(|i| i.id != "i-12");
    changed.instances.push(inst("i-13", "eu-west-1b", OLD));
    let now = plan_release(&changed, &settings).unwrap();
    let change = diff_schedules(&planned, &now);
    assert_eq!(
        change,
        ScheduleChange::Changed {
            summary: vec![
                "1 instance planned no longer needs replacing: i-12".into(),
                "1 instance not in the plan needs replacing: i-13".into(),
                "batch 4: instances i-11, i-06, i-12 → i-11, i-06, i-13".into(),
            ]
        }
    );
    assert_eq!(
        change.to_string(),
        "the group changed since the plan:\n  - 1 instance planned no longer needs replacing: i-12\n  \
         - 1 instance not in the plan needs replacing: i-13\n  - batch 4: instances i-11, i-06, i-12 → i-11, i-06, i-13"
    );

    let mut scaled = snap.clone();
    scaled.desired_capacity = 16;
    scaled.max_size = 20;
    let now = plan_release(&scaled, &settings).unwrap();
    let ScheduleChange::Changed { summary } = diff_schedules(&planned, &now) else {
        panic!("scaling changes the plan")
    };
    assert_eq!(
        summary[..3],
        [
            "batch size 3 → 4",
            "healthy floor 12 → 16",
            "4 batches planned, 3 now"
        ]
    );
    assert_eq!(
        summary[3],
        "batch 1: instances i-01, i-07, i-02 → i-01, i-07, i-02, i-08"
    );
}

#[test]
fn duplicate_instances_are_refused() {
    let snap = group(2, 1, 4, vec![inst("i-1", "a", OLD), inst("i-1", "b", OLD)]);
    assert_eq!(
        plan_release(&snap, &settings("1", Strategy::Surge)).unwrap_err(),
        PlanError::DuplicateInstance("i-1".into())
    );
}

#[test]
fn invalid_settings_are_refused() {
    let snap = twelve_over_two_zones();
    let bad = |s: ReleaseSettings| plan_release(&snap, &s).unwrap_err();
    assert_eq!(bad(ReleaseSettings::new(" ")), PlanError::EmptyTargetImage);
    assert_eq!(
        bad(ReleaseSettings {
            batch_size: BatchSize::Count(0),
            ..ReleaseSettings::new(NEW)
        }),
        PlanError::BatchSize(BatchSizeError::ZeroCount)
    );
    assert_eq!(
        bad(ReleaseSettings {
            min_healthy_percentage: Some(101),
            ..ReleaseSettings::new(NEW)
        }),
        PlanError::MinHealthyAbove100(101)
    );
}

#[test]
fn snapshots_and_previews_round_trip_through_json() {
    let snap = twelve_over_two_zones();
    let json = serde_json::to_string(&snap).unwrap();
    assert!(
        json.contains(r#""lifecycle_state":"InService","health":"Healthy""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<GroupSnapshot>(&json).unwrap(), snap);

    let settings = ReleaseSettings {
        checkpoints: vec![50],
        ..settings("25%", Strategy::Surge)
    };
    let schedule = plan_release(&snap, &settings).unwrap();
    let preview_json = render_json(&snap, &settings, &schedule);
    let value: serde_json::Value = serde_json::from_str(&preview_json).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["group"]["images"], serde_json::json!({"ami-old": 12}));
    assert_eq!(value["settings"]["batch_size"], "25%");
    assert_eq!(
        value["schedule"]["batches"][0]["instance_ids"],
        serde_json::json!(["i-01", "i-07", "i-02"])
    );
    assert_eq!(value["schedule"]["warnings"][0]["kind"], "max_size_raised");
    let back: Preview = serde_json::from_str(&preview_json).unwrap();
    assert_eq!(back, Preview::new(&snap, &settings, &schedule));
    let _: BTreeMap<String, u32> = back.group.images;
}

/// The group's own replacement settings: instance maintenance policy, default warm-up, grace.
mod group_replacement {
    use super::*;

    fn with(policy: Option<(u32, u32)>, warmup: Option<u64>, grace: Option<u64>) -> GroupSnapshot {
        let mut g = twelve_over_two_zones();
        g.replacement = Replacement {
            maintenance_policy: policy.map(|(min, max)| MaintenancePolicy {
                min_healthy_percentage: min,
                max_healthy_percentage: max,
            }),
            default_instance_warmup_secs: warmup,
            health_check_grace_period_secs: grace,
        };
        g
    }

    fn kinds(s: &Schedule) -> Vec<&WarningKind> {
        s.warnings.iter().map(|w| &w.kind).collect()
    }

    #[test]
    fn the_policy_minimum_is_the_default_floor_of_replace() {
        // 12 × 75% = 9 kept: batches of at most 3 although 4 were asked.
        let s = plan_release(
            &with(Some((75, 125)), None, None),
            &settings("4", Strategy::Replace),
        )
        .unwrap();
        assert_eq!(s.healthy_floor, 9);
        assert!(s.batches.iter().all(|b| b.instance_ids.len() <= 3), "{s:?}");
        assert!(s
            .batches
            .iter()
            .all(|b| b.capacity_during.healthy_in_service >= 9));
        // Without the policy the strategy's default (90%) holds: 11 kept.
        let plain =
            plan_release(&with(None, None, None), &settings("4", Strategy::Replace)).unwrap();
        assert_eq!(plain.healthy_floor, 11);
        // A configured floor above the policy's is stricter and allowed.
        let stricter = ReleaseSettings {
            min_healthy_percentage: Some(90),
            ..settings("4", Strategy::Replace)
        };
        assert_eq!(
            plan_release(&with(Some((75, 125)), None, None), &stricter)
                .unwrap()
                .healthy_floor,
            11
        );
    }

    #[test]
    fn a_floor_below_the_policy_is_refused_at_min_healthy_percentage() {
        let lower = ReleaseSettings {
            min_healthy_percentage: Some(50),
            ..settings("4", Strategy::Replace)
        };
        let err = plan_release(&with(Some((75, 125)), None, None), &lower).unwrap_err();
        assert_eq!(
            err,
            PlanError::BelowPolicyMinHealthy {
                configured: 50,
                policy: 75
            }
        );
        assert_eq!(err.attribute(), "min_healthy_percentage");
        assert!(err.to_string().contains("MinHealthyPercentage 75"), "{err}");
        // Replace under a 100% policy floor can never start.
        let err = plan_release(
            &with(Some((100, 110)), None, None),
            &settings("1", Strategy::Replace),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PlanError::ReplaceBelowPolicyFloor {
                min_healthy_percentage: 100
            }
        );
        assert_eq!(err.attribute(), "strategy");
    }

    #[test]
    fn the_policy_maximum_caps_the_surge() {
        // 12 × 125% = 15: a surge step adds at most 3, although batches of 6 were asked.
        let s = plan_release(
            &with(Some((90, 125)), None, None),
            &settings("6", Strategy::Surge),
        )
        .unwrap();
        assert_eq!(s.batch_size, 3);
        assert_eq!(s.batches.len(), 4);
        assert!(s.batches.iter().all(|b| b.capacity_during.desired <= 15));
        assert!(kinds(&s).contains(&&WarningKind::BatchCappedByMaxHealthy {
            batch_size: 6,
            capped_to: 3,
            max_healthy_percentage: 125,
            desired_capacity: 12,
        }));
        // Rounded up: the console's "launch before terminating" (100/110) surges one at a time
        // in a small group (4 × 110% = 4.4 → 5).
        let mut small = group(
            4,
            4,
            4,
            (0..4).map(|n| inst(&format!("i-{n}"), "a", OLD)).collect(),
        );
        small.replacement.maintenance_policy = Some(MaintenancePolicy {
            min_healthy_percentage: 100,
            max_healthy_percentage: 110,
        });
        let s = plan_release(&small, &settings("50%", Strategy::Surge)).unwrap();
        assert_eq!(s.batch_size, 1);
        assert_eq!(s.batches.len(), 4);
        assert!(s.batches.iter().all(|b| b.capacity_during.desired == 5));
        // A batch within the bound is not touched, and says nothing.
        let s = plan_release(
            &with(Some((90, 200)), None, None),
            &settings("6", Strategy::Surge),
        )
        .unwrap();
        assert_eq!(s.batch_size, 6);
        assert!(!kinds(&s)
            .iter()
            .any(|k| matches!(k, WarningKind::BatchCappedByMaxHealthy { .. })));
    }

    #[test]
    fn surge_under_a_100_percent_maximum_is_refused_at_strategy() {
        let err = plan_release(
            &with(Some((90, 100)), None, None),
            &settings("1", Strategy::Surge),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PlanError::SurgeAboveMaxHealthy {
                max_healthy_percentage: 100
            }
        );
        assert_eq!(err.attribute(), "strategy");
        // Replace is what such a policy asks for.
        assert!(plan_release(
            &with(Some((90, 100)), None, None),
            &settings("1", Strategy::Replace)
        )
        .is_ok());
    }

    #[test]
    fn the_group_default_warmup_is_the_default() {
        assert_eq!(instance_warmup_secs(None, Some(180)), 180);
        assert_eq!(instance_warmup_secs(Some(30), Some(180)), 30);
        assert_eq!(instance_warmup_secs(None, None), 60);
    }

    #[test]
    fn ec2_health_with_a_warmup_shorter_than_the_grace_period_warns_with_both() {
        let g = with(None, None, Some(300));
        let short = ReleaseSettings {
            instance_warmup_secs: 60,
            launch_estimate_secs: 100,
            ..settings("6", Strategy::Surge)
        };
        let s = plan_release(&g, &short).unwrap();
        let w = s
            .warnings
            .iter()
            .find(|w| matches!(w.kind, WarningKind::WarmupShorterThanGrace { .. }))
            .expect("a warning");
        assert_eq!(
            w.kind,
            WarningKind::WarmupShorterThanGrace {
                instance_warmup_secs: 60,
                health_check_grace_period_secs: 300
            }
        );
        assert!(
            w.message.contains("60s") && w.message.contains("300s"),
            "{}",
            w.message
        );
        // The estimate waits the grace period out, as the engine does.
        assert_eq!(s.batches[0].ends_at_secs, 400);
        // Not with load balancer health, nor with a warm-up that covers the grace period.
        let elb = ReleaseSettings {
            health_check: Some(HealthCheck::Elb),
            ..short.clone()
        };
        let s = plan_release(&g, &elb).unwrap();
        assert!(s
            .warnings
            .iter()
            .all(|w| !matches!(w.kind, WarningKind::WarmupShorterThanGrace { .. })));
        assert_eq!(s.batches[0].ends_at_secs, 160);
        let long = ReleaseSettings {
            instance_warmup_secs: 300,
            ..short
        };
        assert!(plan_release(&g, &long)
            .unwrap()
            .warnings
            .iter()
            .all(|w| !matches!(w.kind, WarningKind::WarmupShorterThanGrace { .. })));
    }

    #[test]
    fn a_group_with_load_balancers_defaults_to_elb_health() {
        let mut g = with(None, None, Some(300));
        g.target_group_arns = vec!["arn:tg".into()];
        let s = plan_release(&g, &settings("6", Strategy::Surge)).unwrap();
        assert!(s
            .warnings
            .iter()
            .all(|w| !matches!(w.kind, WarningKind::WarmupShorterThanGrace { .. })));
    }
}

#[test]
fn overrides_with_their_own_template_move_only_from_the_groups_image() {
    let mut snap = group(2, 2, 2, vec![inst("i-1", "a", OLD), inst("i-2", "b", OLD)]);
    snap.launch_image_id = Some(OLD.into());
    let own = |image: Option<&str>, t: &str| Override {
        instance_type: Some(t.into()),
        launch_template: Some(TemplateRef {
            id: Some(format!("lt-{t}")),
            name: None,
            version: "3".into(),
        }),
        image_id: image.map(String::from),
        ..Override::default()
    };
    let policy = |overrides: Vec<Override>| LaunchSource::MixedInstancesPolicy {
        launch_template_id: Some("lt-main".into()),
        launch_template_name: None,
        version: "$Latest".into(),
        instance_types: vec![],
        overrides,
    };
    snap.launch = policy(vec![
        Override::default(),
        own(Some(OLD), "m5.large"),
        own(Some(NEW), "m6i.large"),
    ]);
    assert_eq!(
        snap.unmovable_override(NEW),
        None,
        "on the group's image or already moved"
    );

    snap.launch = policy(vec![
        own(Some(OLD), "m5.large"),
        own(Some("ami-arm"), "m6g.large"),
    ]);
    let bad = snap.unmovable_override(NEW).expect("another image");
    assert_eq!(
        (bad.index, bad.label.as_str()),
        (1, "override 1 (m6g.large)")
    );
    let msg = bad.to_string();
    assert!(msg.contains("ami-arm") && msg.contains(OLD), "{msg}");
    assert!(
        msg.contains("launch template lt-m6g.large version 3"),
        "{msg}"
    );

    snap.launch = policy(vec![own(None, "c5.large")]);
    let unread = snap.unmovable_override(NEW).expect("unreadable");
    assert!(unread.to_string().contains("could not be read"), "{unread}");

    snap.launch = LaunchSource::None;
    assert_eq!(snap.unmovable_override(NEW), None);
}

/// Ten capacity units: four instances of weight 2 and two of weight 1, over two zones.
fn weighted_ten() -> GroupSnapshot {
    let weights = [2, 2, 2, 2, 1, 1];
    let instances = weights
        .iter()
        .enumerate()
        .map(|(n, w)| InstanceSnapshot {
            weighted_capacity: Some(*w),
            ..inst(&format!("i-{n}"), if n % 2 == 0 { "a" } else { "b" }, OLD)
        })
        .collect();
    let mut snap = group(10, 10, 20, instances);
    snap.launch = LaunchSource::MixedInstancesPolicy {
        launch_template_id: Some("lt-main".into()),
        launch_template_name: None,
        version: "1".into(),
        instance_types: vec!["m5.xlarge".into(), "m5.large".into()],
        overrides: [2, 1]
            .iter()
            .map(|w| Override {
                weighted_capacity: Some(*w),
                ..Override::default()
            })
            .collect(),
    };
    snap
}

fn batch_units(snap: &GroupSnapshot, b: &Batch) -> u32 {
    snap.units_of_ids(&b.instance_ids)
}

#[test]
fn weighted_batches_surge_by_their_units() {
    let snap = weighted_ten();
    let s = plan_release(&snap, &settings("50%", Strategy::Surge)).unwrap();
    assert_eq!(s.batch_size, 5, "50% of 10 units");
    assert_eq!(s.healthy_floor, 10, "surge keeps every unit");
    let all: u32 = s.batches.iter().map(|b| batch_units(&snap, b)).sum();
    assert_eq!(all, 10);
    for (n, b) in s.batches.iter().enumerate() {
        let units = batch_units(&snap, b);
        assert_eq!(b.units, Some(units), "the batch says its units");
        if n + 1 < s.batches.len() {
            assert!(units >= 5, "a batch covers its units: {b:?}");
            assert!(
                units < 5 + 2,
                "and goes past them by less than one instance: {b:?}"
            );
        }
        assert_eq!(b.capacity_during.desired, 10 + units, "surge in units");
        assert_eq!(b.capacity_during.healthy_in_service, 10);
        assert_eq!(b.capacity_after.healthy_in_service, 10);
    }
    assert!(s.batches.len() < snap.instances.len().div_ceil(2) + 1);
}

#[test]
fn a_weighted_floor_holds_in_units() {
    let snap = weighted_ten();
    let mut set = settings("100%", Strategy::Replace);
    set.min_healthy_percentage = Some(70);
    let s = plan_release(&snap, &set).unwrap();
    assert_eq!(s.healthy_floor, 7, "70% of 10 units");
    for b in &s.batches {
        assert!(
            b.capacity_during.healthy_in_service >= 7,
            "never below 7 units: {b:?}"
        );
        let healthy_taken =
            b.capacity_before.healthy_in_service - b.capacity_during.healthy_in_service;
        assert_eq!(healthy_taken, batch_units(&snap, b), "all were healthy");
        assert!(healthy_taken <= 3);
    }
    // Counting instances instead would take three at a time: up to 6 units, down to 4.
    let plain = {
        let mut p = snap.clone();
        p.launch = LaunchSource::None;
        p.desired_capacity = 6;
        p
    };
    let counted = plan_release(&plain, &set).unwrap();
    assert_eq!(
        counted.batches[0].units, None,
        "unweighted batches carry no units"
    );
    assert_eq!(
        counted.batches[0].instance_ids.len(),
        1,
        "70% of 6 instances: one at a time"
    );
}

#[test]
fn unweighted_policies_count_instances() {
    let mut snap = weighted_ten();
    if let LaunchSource::MixedInstancesPolicy { overrides, .. } = &mut snap.launch {
        overrides
            .iter_mut()
            .for_each(|o| o.weighted_capacity = None);
    }
    snap.desired_capacity = 6;
    let s = plan_release(&snap, &settings("50%", Strategy::Surge)).unwrap();
    assert_eq!(s.batch_size, 3);
    assert!(s
        .batches
        .iter()
        .all(|b| b.units.is_none() && b.instance_ids.len() == 3));
}

#[test]
fn a_weighted_replace_whose_floor_leaves_less_than_the_largest_weight_is_refused() {
    let snap = weighted_ten();
    let largest = snap.largest_weight();
    assert!(largest >= 2, "the fixture has a weight above 1");
    let mut set = settings("100%", Strategy::Replace);
    // A floor leaving one unit less than the largest instance.
    let room = largest - 1;
    set.min_healthy_percentage = Some(100 * (10 - room) / 10);
    let err = plan_release(&snap, &set).unwrap_err();
    assert!(
        matches!(err, PlanError::FloorBelowLargestWeight { room: r, largest_weight: l, .. } if r == room && l == largest),
        "{err:?}"
    );
    assert_eq!(err.attribute(), "min_healthy_percentage");
    assert!(err.to_string().contains("Use strategy surge"), "{err}");
    // The suggested percentage plans.
    let PlanError::FloorBelowLargestWeight { suggestion, .. } = err else {
        unreachable!()
    };
    set.min_healthy_percentage = Some(suggestion);
    plan_release(&snap, &set).expect("the suggestion leaves room for the largest weight");
    // A surge never needs that room.
    plan_release(&snap, &settings("100%", Strategy::Surge)).unwrap();
}

/// `weighted_ten` under an instance maintenance policy of MaxHealthyPercentage `max`.
fn weighted_ten_under(max: u32) -> GroupSnapshot {
    let mut snap = weighted_ten();
    snap.replacement.maintenance_policy = Some(MaintenancePolicy {
        min_healthy_percentage: 50,
        max_healthy_percentage: max,
    });
    snap
}

#[test]
fn a_weighted_surge_under_the_policy_stays_within_its_cap_with_the_groups_overage() {
    // Cap 15 units (150% of 10): room 5, less the group's overage of one unit past desired
    // (largest weight 2): steps of at most 4 units, never one past them.
    let snap = weighted_ten_under(150);
    let s = plan_release(&snap, &settings("100%", Strategy::Surge)).unwrap();
    assert_eq!(s.batch_size, 4, "capped to the room less the overage");
    let all: u32 = s.batches.iter().map(|b| batch_units(&snap, b)).sum();
    assert_eq!(all, 10, "every unit replaced");
    for b in &s.batches {
        let units = batch_units(&snap, b);
        assert!(units <= 4, "a step never goes past its limit: {b:?}");
        assert!(
            b.capacity_during.desired + (snap.largest_weight() - 1) <= 15,
            "the raised desired capacity and the group's overage stay within the cap: {b:?}"
        );
    }
    // Without the policy the last instance of a batch may go past the batch size.
    let free = plan_release(&weighted_ten(), &settings("30%", Strategy::Surge)).unwrap();
    assert!(free.batches.iter().any(|b| batch_units(&snap, b) > 3));
    // Under the policy, a limit of 3 (MaxHealthyPercentage 140) is never passed.
    let capped = weighted_ten_under(140);
    let s = plan_release(&capped, &settings("100%", Strategy::Surge)).unwrap();
    assert_eq!(s.batch_size, 3);
    assert!(s.batches.iter().all(|b| batch_units(&capped, b) <= 3));
}

#[test]
fn a_weighted_surge_whose_policy_room_cannot_hold_its_largest_instance_is_refused() {
    // Cap 12 units: room 2, less an overage of 1, cannot take out an instance of weight 2.
    let snap = weighted_ten_under(120);
    let err = plan_release(&snap, &settings("100%", Strategy::Surge)).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::SurgeRoomBelowLargestWeight {
                largest_weight: 2,
                overage: 1,
                needed: 3,
                room: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.attribute(), "strategy");
    let text = err.to_string();
    assert!(text.contains("MaxHealthyPercentage 120"), "{text}");
    assert!(text.contains("to 130 or more"), "{text}");
    // The suggested percentage plans, and so does a replace.
    plan_release(&weighted_ten_under(130), &settings("100%", Strategy::Surge))
        .expect("the suggestion holds the largest instance and the overage");
    plan_release(&snap, &settings("30%", Strategy::Replace)).unwrap();
}

#[test]
fn a_weighted_groups_checkpoints_are_percentages_of_its_units() {
    // Ten units in six instances, picked as two of weight 2, two of weight 2, two of weight 1:
    // batches of 4 units. A checkpoint at 40% is 4 units, reached by the first batch; counted
    // in instances (40% of six, three) it would fall in the second.
    let snap = weighted_ten();
    let mut set = settings("4", Strategy::Surge);
    set.checkpoints = vec![40];
    let s = plan_release(&snap, &set).unwrap();
    let units: Vec<u32> = s.batches.iter().map(|b| batch_units(&snap, b)).collect();
    assert_eq!(units, vec![4, 4, 2], "{s:?}");
    let marked: Vec<bool> = s.batches.iter().map(|b| b.checkpoint_after).collect();
    assert_eq!(marked, vec![true, false, false]);
}
