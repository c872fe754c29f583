use crate::*;

fn fixture() -> (GroupSnapshot, ReleaseSettings, Schedule) {
    let snapshot: GroupSnapshot =
        serde_json::from_str(include_str!("../../tests/fixtures/small-group.json")).unwrap();
    let settings = ReleaseSettings {
        checkpoints: vec![50],
        pause_between_batches_secs: 60,
        ..ReleaseSettings::new("ami-new")
    };
    let schedule = plan_release(&snapshot, &settings).unwrap();
    (snapshot, settings, schedule)
}

#[test]
fn text_preview() {
    let (snapshot, _, schedule) = fixture();
    assert_eq!(render_text(&snapshot, &schedule), EXPECTED_TEXT);
}

#[test]
fn markdown_preview_with_gantt() {
    let (snapshot, _, schedule) = fixture();
    assert_eq!(render_markdown(&snapshot, &schedule), EXPECTED_MARKDOWN);
}

#[test]
fn nothing_to_do_preview() {
    let (mut snapshot, _, _) = fixture();
    for i in &mut snapshot.instances {
        i.image_id = "ami-new".into();
        i.health = Health::Healthy;
    }
    let schedule = plan_release(&snapshot, &ReleaseSettings::new("ami-new")).unwrap();
    let text = render_text(&snapshot, &schedule);
    assert!(
        text.ends_with("\nNo batches: nothing will be replaced.\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  ! nothing to do: every replaceable instance already runs ami-new (4 on it)\n"
        ),
        "{text}"
    );
    let md = render_markdown(&snapshot, &schedule);
    assert!(md.ends_with("\nNothing will be replaced.\n"), "{md}");
    assert!(!md.contains("mermaid"));
}

#[test]
fn the_warm_pool_is_shown_with_its_settings_and_the_instances_refreshed() {
    let (mut snapshot, settings, _) = fixture();
    let pooled = |id: &str, image: &str, state: &str| InstanceSnapshot {
        id: id.into(),
        image_id: image.into(),
        lifecycle_state: LifecycleState::from_aws(state),
        ..snapshot.instances[0].clone()
    };
    snapshot.warm_pool = Some(WarmPool {
        min_size: 2,
        max_group_prepared_capacity: None,
        pool_state: PoolState::Hibernated,
        reuse_on_scale_in: false,
        instances: vec![
            pooled("i-w1", "ami-old", "Warmed:Hibernated"),
            pooled("i-w2", "ami-new", "Warmed:Hibernated"),
            pooled("i-w3", "ami-old", "Warmed:Pending:Wait"),
            pooled("i-w4", "ami-old", "Warmed:Terminated"),
        ],
    });
    let schedule = plan_release(&snapshot, &settings).unwrap();
    let line = "3 instances waiting (Hibernated; min size 2, max prepared capacity max size, reuse on scale-in off): \
                2 on an old image, refreshed right after the launch switch; 1 on the target";
    let text = render_text(&snapshot, &schedule);
    assert!(text.contains(&format!("\nWarm pool: {line}\n")), "{text}");
    assert!(
        text.contains("  ! 2 instances in the warm pool are on an old image (i-w1, i-w3): "),
        "{text}"
    );
    let md = render_markdown(&snapshot, &schedule);
    assert!(md.contains(&format!("\n- **Warm pool** {line}\n")), "{md}");
    // The batches are those of the group without a pool: pool instances are never in one.
    let (_, _, without) = fixture();
    assert_eq!(schedule.batches, without.batches);
    assert!(!render_text(&snapshot, &without).contains("Warm pool"));
}

#[test]
fn markdown_caps_long_batches_and_escapes_cells() {
    let (mut snapshot, _, _) = fixture();
    snapshot.name = "web|prod_1".into();
    snapshot.desired_capacity = 60;
    snapshot.max_size = 200;
    let template = snapshot.instances[0].clone();
    snapshot.instances = (0..60)
        .map(|n| InstanceSnapshot {
            id: format!("i-{n:03}"),
            ..template.clone()
        })
        .collect();
    let settings = ReleaseSettings {
        batch_size: BatchSize::Percent(100),
        ..ReleaseSettings::new("ami-new")
    };
    let schedule = plan_release(&snapshot, &settings).unwrap();
    let md = render_markdown(&snapshot, &schedule);
    assert!(
        md.starts_with("### Release `web|prod_1` → `ami-new`\n"),
        "{md}"
    );
    assert!(md.contains("`i-049` and 10 more\n"), "{md}");
    assert!(!md.contains("`i-050`"));
    assert!(
        md.contains("    title Release web|prod_1 to ami-new (elapsed time)\n"),
        "{md}"
    );
}

const EXPECTED_TEXT: &str = r##"Release of web to ami-new (strategy surge, batches of 1)
Group: desired 4, min 2, max 5; launch template web version 7; zones eu-west-1a, eu-west-1b
Images now: ami-new × 1, ami-old × 3
Instances: 3 to replace (1 unhealthy or pending, 1 protected), 1 already on target, 0 left alone, 0 leaving
Healthy floor: 4 in service at every step
Estimated duration: 11m (3 batches)

Warnings:
  ! the group starts with 3 healthy instances in service, fewer than its desired 4: unhealthy old instances go first, and a surge never lowers healthy capacity
  ! 1 instance protected from scale in (i-0c): the release waits up to the batch timeout for the protection to be removed, then refuses before any change; set scale_in_protected_instances = "replace" to replace it anyway or "ignore" to leave it on the old image

Capacity columns read before → during → after the step.
Batch  Instances  Zones         Desired    Max        Healthy    Starts  Then
-----  ---------  ------------  ---------  ---------  ---------  ------  ----------------
1      1          eu-west-1b 1  4 → 5 → 4  5 → 5 → 5  3 → 3 → 4  +0s     checkpoint: stop
2      1          eu-west-1a 1  4 → 5 → 4  5 → 5 → 5  4 → 4 → 4  +4m
3      1          eu-west-1a 1  4 → 5 → 4  5 → 5 → 5  4 → 4 → 4  +8m

Batch 1: i-0b
Batch 2: i-0a
Batch 3: i-0c
"##;

const EXPECTED_MARKDOWN: &str = r##"### Release `web` → `ami-new`

- **Strategy** surge, batches of 1; healthy floor 4 in service at every step
- **Group** desired 4, min 2, max 5; launch template web version 7
- **Images now** ami-new × 1, ami-old × 3
- **Instances** 3 to replace (1 unhealthy or pending, 1 protected), 1 already on target, 0 left alone
- **Estimated duration** 11m in 3 batches

> [!WARNING]
> - the group starts with 3 healthy instances in service, fewer than its desired 4: unhealthy old instances go first, and a surge never lowers healthy capacity
> - 1 instance protected from scale in (i-0c): the release waits up to the batch timeout for the protection to be removed, then refuses before any change; set scale\_in\_protected\_instances = "replace" to replace it anyway or "ignore" to leave it on the old image

| Batch | Instances | Zones | Desired | Max | Healthy | Starts | Then |
|---:|---:|---|---|---|---|---:|---|
| 1 | 1 | eu-west-1b 1 | 4 → 5 → 4 | 5 → 5 → 5 | 3 → 3 → 4 | +0s | ⏸ checkpoint |
| 2 | 1 | eu-west-1a 1 | 4 → 5 → 4 | 5 → 5 → 5 | 4 → 4 → 4 | +4m |  |
| 3 | 1 | eu-west-1a 1 | 4 → 5 → 4 | 5 → 5 → 5 | 4 → 4 → 4 | +8m |  |

Capacity columns read before → during → after the step.

<details><summary>Instances per batch</summary>

- Batch 1: `i-0b`
- Batch 2: `i-0a`
- Batch 3: `i-0c`

</details>

```mermaid
gantt
    title Release web to ami-new (elapsed time)
    dateFormat YYYY-MM-DD HH:mm:ss
    axisFormat %H:%M
    tickInterval 2minute
    todayMarker off
    section Batches
    Batch 1 (1 instance) :b1, 2000-01-01 00:00:00, 2000-01-01 00:03:00
    checkpoint :milestone, c1, 2000-01-01 00:03:00, 0s
    pause :done, p2, 2000-01-01 00:03:00, 2000-01-01 00:04:00
    Batch 2 (1 instance) :b2, 2000-01-01 00:04:00, 2000-01-01 00:07:00
    pause :done, p3, 2000-01-01 00:07:00, 2000-01-01 00:08:00
    Batch 3 (1 instance) :b3, 2000-01-01 00:08:00, 2000-01-01 00:11:00
```
"##;

#[test]
fn weighted_groups_show_units_and_instances() {
    use crate::model::Override;
    let (mut snapshot, _, _) = fixture();
    let weights = [2u32, 2, 1, 1];
    snapshot.instances.truncate(weights.len());
    for (i, w) in snapshot.instances.iter_mut().zip(weights) {
        i.weighted_capacity = Some(w);
    }
    snapshot.desired_capacity = 6;
    snapshot.launch = LaunchSource::MixedInstancesPolicy {
        launch_template_id: Some("lt-main".into()),
        launch_template_name: None,
        version: "1".into(),
        instance_types: vec![],
        overrides: vec![Override {
            weighted_capacity: Some(2),
            ..Override::default()
        }],
    };
    let settings = ReleaseSettings {
        batch_size: BatchSize::Percent(50),
        ..ReleaseSettings::new("ami-new")
    };
    let schedule = plan_release(&snapshot, &settings).unwrap();
    let text = render_text(&snapshot, &schedule);
    assert!(text.contains("batches of 3 units)"), "{text}");
    assert!(text.contains("Healthy floor: 6 units in service"), "{text}");
    let first = &schedule.batches[0];
    let line = format!(
        "Batch 1: {} units ({} instances): ",
        first.units.unwrap(),
        first.instance_ids.len()
    );
    assert!(text.contains(&line), "{line:?} in {text}");
    let md = render_markdown(&snapshot, &schedule);
    assert!(
        md.contains("batches of 3 units; healthy floor 6 units"),
        "{md}"
    );
    assert!(md.contains(&format!("| 1 | {} |", first.size())), "{md}");
    assert!(md.contains(&format!("- {line}")), "{md}");
}
