//! `rolling_asg_release` end to end: real terraform, the plugin, moto. Groups are created out of
//! band through the SDK (as another Terraform stack or the console would), then released.

use std::time::{Duration, Instant};

use e2e_tests::aws_sdk_autoscaling::types::Tag;
use e2e_tests::serde_json::{json, Value};
use e2e_tests::{group_state, GroupState, Moto, Terraform, Watching};

const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";

fn template_group(moto: &Moto, region: &str, name: &str, n: i32) -> String {
    e2e_tests::template_group(moto, region, name, n, OLD)
}

fn config_group(moto: &Moto, region: &str, name: &str, n: i32) {
    let asg = moto.autoscaling(region);
    moto.block_on(
        asg.create_launch_configuration()
            .launch_configuration_name(format!("{name}-lc"))
            .image_id(OLD)
            .instance_type("t3.micro")
            .send(),
    )
    .unwrap();
    moto.block_on(
        asg.create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(format!("{name}-lc"))
            .min_size(n)
            .max_size(n + 2)
            .desired_capacity(n)
            // A release waits out the grace period: moto's default is 300 s (AWS's API: 0), and
            // moto reads 0 as "unset".
            .health_check_grace_period(1)
            .availability_zones(format!("{region}a"))
            .send(),
    )
    .unwrap();
}

fn config(group: &str, extra: &str) -> String {
    let release = e2e_tests::release_config(group, NEW, "60s", extra);
    format!(
        r#"{release}
output "replaced" {{ value = rolling_asg_release.web.replaced_instances }}
output "planned" {{ value = rolling_asg_release.web.planned_batches }}
"#
    )
}

fn group(moto: &Moto, region: &str, name: &str) -> GroupState {
    group_state(moto, region, name)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn batches(v: &Value) -> Vec<Vec<String>> {
    v.as_array().unwrap().iter().map(strings).collect()
}

fn plan_json(tf: &Terraform, vars: &[(&str, &str)]) -> Value {
    tf.plan_out(vars, "release.tfplan").assert_success();
    let plan = tf.show_json("release.tfplan");
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "rolling_asg_release")
        .unwrap()
        .clone()
}

#[test]
fn twelve_instances_in_four_batches_exactly_as_planned() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "web", 12);
    let before = group(moto, region, "web");
    assert_eq!(before.images.len(), 12);
    let tf = Terraform::new(moto, region, &config("web", ""));

    // The plan carries the schedule: 4 batches of 3, every old instance exactly once.
    let change = plan_json(&tf, &[]);
    let planned = batches(&change["change"]["after"]["planned_batches"]);
    assert_eq!(planned.len(), 4, "{planned:?}");
    assert!(planned.iter().all(|b| b.len() == 3));
    let mut all: Vec<String> = planned.iter().flatten().cloned().collect();
    all.sort();
    assert_eq!(all, before.images.keys().cloned().collect::<Vec<_>>());
    let schedule: Value =
        e2e_tests::serde_json::from_str(change["change"]["after"]["schedule"].as_str().unwrap())
            .unwrap();
    assert_eq!(schedule["schema_version"], json!(1));
    assert_eq!(change["change"]["after"]["previous_image_id"], json!(OLD));

    let run = tf.run(
        &["apply", "-auto-approve", "release.tfplan"],
        &[("TF_LOG_PROVIDER", "info")],
    );
    run.assert_success();
    assert!(
        run.stderr.contains("batch 4 of 4"),
        "progress is logged at INFO"
    );
    let replaced = strings(&tf.output("replaced"));
    assert_eq!(
        replaced,
        planned.iter().flatten().cloned().collect::<Vec<_>>(),
        "apply executed exactly the planned batches, in order"
    );

    let after = group(moto, region, "web");
    after.assert_all_on(NEW, 12);
    assert!(
        after
            .images
            .keys()
            .all(|id| !before.images.contains_key(id)),
        "every old instance was replaced"
    );
    assert_eq!(
        (after.desired, after.min, after.max),
        (12, 12, 12),
        "capacity restored"
    );
    assert!(
        after.suspended.is_empty(),
        "processes resumed: {:?}",
        after.suspended
    );
    assert!(
        !after.tags.contains_key("immutable:release-lock")
            && !after.tags.contains_key("immutable:release"),
        "lock and record removed"
    );
    assert_eq!(
        after.launch_template_version.as_deref(),
        Some("2"),
        "pinned to the new version, never $Latest"
    );
    let versions = moto
        .block_on(
            moto.ec2(region)
                .describe_launch_template_versions()
                .launch_template_name("web-lt")
                .versions("2")
                .send(),
        )
        .unwrap();
    assert_eq!(
        versions.launch_template_versions()[0]
            .launch_template_data()
            .unwrap()
            .image_id(),
        Some(NEW)
    );
    // Four equal batches raise the group once: each removal but the last leaves without lowering
    // desired capacity, which launches the next batch. With the launch switch and the restore,
    // three updates in all (one raise per batch would make six).
    assert_eq!(
        moto.count(region, "UpdateAutoScalingGroup"),
        3,
        "switch, one raise, restore"
    );
    // Every old instance leaves through the group, which drains it from its load balancers and
    // runs its termination hooks on AWS: never a detach, never an EC2 termination.
    assert_eq!(
        moto.count(region, "TerminateInstanceInAutoScalingGroup"),
        12,
        "one termination through the group per old instance"
    );
    assert_eq!(moto.count(region, "DetachInstances"), 0, "no detach");
    assert_eq!(
        moto.count(region, "TerminateInstances"),
        0,
        "no termination through EC2"
    );
    let old: Vec<String> = before.images.keys().cloned().collect();
    let d = moto
        .block_on(
            moto.ec2(region)
                .describe_instances()
                .set_instance_ids(Some(old))
                .send(),
        )
        .unwrap();
    for i in d.reservations().iter().flat_map(|r| r.instances()) {
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string());
        assert_eq!(
            state.as_deref(),
            Some("terminated"),
            "{:?}",
            i.instance_id()
        );
    }

    // Nothing left to do: the next plan is empty.
    tf.plan(&[]).assert_status(0);
}

/// Reads of the group's settings (the lock's first) leave out the instance list, which is most of
/// the answer for a large group; the reads that count instances keep it (the lock's check too:
/// the snapshot that follows takes its answer), and the settings reads right after the snapshot
/// (record, suspended processes, launch setting, grace period) take its answer instead of a call
/// (rollout/group.rs, `Recent`). moto ignores the flag, so the request is what is checked.
#[test]
fn settings_reads_leave_the_instance_list_out() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "lean", 4);
    let proxy = e2e_tests::FaultProxy::start(&moto.endpoint(), vec![]);
    let tf = Terraform::new(moto, region, &config("lean", "")).with_endpoint(proxy.endpoint());
    tf.apply(&[]).assert_success();
    group(moto, region, "lean").assert_all_on(NEW, 4);
    let reads: Vec<String> = proxy
        .calls()
        .into_iter()
        .filter(|c| c.call.action.as_deref() == Some("DescribeAutoScalingGroups"))
        .map(|c| c.body)
        .collect();
    let lean = reads
        .iter()
        .filter(|b| b.contains("IncludeInstances=false"))
        .count();
    assert!(
        lean >= 1,
        "the lock's first read is without instances: {lean} of {}",
        reads.len()
    );
    assert!(
        reads.len() > lean,
        "the polls still read the instances: {reads:?}"
    );
}

#[test]
fn legacy_launch_configuration_group_with_replace_strategy() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    config_group(moto, region, "legacy", 4);
    let tf = Terraform::new(
        moto,
        region,
        &config(
            "legacy",
            r#"strategy = "replace"
  min_healthy_percentage = 50"#,
        ),
    );
    tf.apply(&[]).assert_success();
    let after = group(moto, region, "legacy");
    after.assert_all_on(NEW, 4);
    let lc = after.launch_configuration.unwrap();
    assert_ne!(lc, "legacy-lc", "a new launch configuration");
    let d = moto
        .block_on(
            moto.autoscaling(region)
                .describe_launch_configurations()
                .launch_configuration_names(&lc)
                .send(),
        )
        .unwrap();
    assert_eq!(d.launch_configurations()[0].image_id(), Some(NEW));
    assert_eq!((after.desired, after.min, after.max), (4, 4, 6));
    // Replace never adds capacity.
    assert!(
        moto.count(region, "UpdateAutoScalingGroup") <= 3,
        "replace only updates the group for the launch switch and the final restore"
    );
    tf.plan(&[]).assert_status(0);
}

#[test]
fn unhealthy_new_instances_roll_back() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "shaky", 4);
    let before = group(moto, region, "shaky");
    let tf = Terraform::new(
        moto,
        region,
        &config("shaky", "").replace(
            r#"instance_warmup        = "0s""#,
            r#"instance_warmup        = "20s""#,
        ),
    );
    // Mark every new-image instance Unhealthy as soon as it appears (a broken release).
    let marker = Watching::unhealthy(NEW).start(moto, region);
    let run = tf.apply(&[]);
    drop(marker);
    assert!(!run.success());
    let out = run.one_line();
    assert!(out.contains("Release failed"), "{out}");
    assert!(out.contains("marked Unhealthy"), "{out}");
    assert!(
        out.contains(&format!("the group launches {OLD} again")),
        "the error says what was restored: {out}"
    );
    let after = group(moto, region, "shaky");
    after.assert_all_on(OLD, 4);
    assert_eq!(
        (after.desired, after.min, after.max),
        (before.desired, before.min, before.max)
    );
    assert_eq!(
        after.launch_template_version.as_deref(),
        Some("1"),
        "the previous launch version again"
    );
    assert!(after.suspended.is_empty());
    assert!(!after.tags.contains_key("immutable:release-lock"));
}

#[test]
fn a_second_release_is_refused_by_the_lock_and_changes_nothing() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "locked", 2);
    // Another release, alive on another machine, holds the lock.
    moto.block_on(
        moto.autoscaling(region)
            .create_or_update_tags()
            .tags(
                Tag::builder()
                    .resource_id("locked")
                    .resource_type("auto-scaling-group")
                    .key("immutable:release-lock")
                    .value("rel-other another-host:1:1 2999-01-01T00:00:00Z")
                    .propagate_at_launch(false)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let tf = Terraform::new(moto, region, &config("locked", ""));
    let run = tf.apply(&[]);
    assert!(!run.success());
    let out = run.one_line();
    assert!(
        out.contains("Release refused") && out.contains("rel-other"),
        "{out}"
    );
    assert_eq!(
        moto.count(region, "CreateLaunchTemplateVersion"),
        0,
        "nothing changed"
    );
    assert_eq!(moto.count(region, "UpdateAutoScalingGroup"), 0);
    assert_eq!(moto.count(region, "TerminateInstanceInAutoScalingGroup"), 0);
    assert_eq!(moto.count(region, "DetachInstances"), 0);
    let g = group(moto, region, "locked");
    assert_eq!(
        g.tags.get("immutable:release-lock").map(String::as_str),
        Some("rel-other another-host:1:1 2999-01-01T00:00:00Z"),
        "the other release's lock is untouched"
    );
}

#[test]
fn checkpoints_stop_the_apply_and_the_next_apply_continues() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "canary", 4);
    let tf = Terraform::new(moto, region, &config("canary", "checkpoints = [50]"));
    let run = tf.apply(&[]);
    run.assert_success();
    assert!(run.combined().contains("checkpoint"), "{}", run.combined());
    let mid = group(moto, region, "canary");
    assert_eq!(
        mid.images.values().filter(|i| *i == NEW).count(),
        2,
        "half the group: {:?}",
        mid.images
    );
    assert_eq!((mid.desired, mid.min, mid.max), (4, 4, 4));
    // The next plan shows the remaining instances; the next apply promotes.
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    tf.apply(&[]).assert_success();
    let end = group(moto, region, "canary");
    end.assert_all_on(NEW, 4);
    tf.plan(&[]).assert_status(0);
}

#[test]
fn killed_apply_is_resumed_without_replacing_anything_twice() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "killed", 8);
    let before = group(moto, region, "killed");
    // Slow batches (warm-up) so the kill lands mid-release.
    let tf = Terraform::new(
        moto,
        region,
        &config("killed", "").replace(
            r#"instance_warmup        = "0s""#,
            r#"instance_warmup        = "2s""#,
        ),
    );
    let mut child = tf.spawn(&["apply", "-auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let g = group(moto, region, "killed");
        if g.images.values().filter(|i| *i == NEW).count() >= 2 && g.desired > 8 {
            break; // mid-batch: surged, new instances up, old not yet terminated
        }
        if g.images.values().filter(|i| *i == NEW).count() >= 4 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill_all();
    let mid = group(moto, region, "killed");
    assert!(
        mid.tags.contains_key("immutable:release"),
        "the record survives the kill"
    );
    // The next apply resumes: same final state, capacity restored, no instance terminated twice.
    tf.apply(&[]).assert_success();
    let after = group(moto, region, "killed");
    after.assert_all_on(NEW, 8);
    assert_eq!(
        (after.desired, after.min, after.max),
        (before.desired, before.min, before.max)
    );
    assert!(
        !after.tags.contains_key("immutable:release"),
        "record removed"
    );
    assert!(after.suspended.is_empty());
    // Replacing an instance twice would launch more than one replacement per old instance.
    let all = moto
        .block_on(moto.ec2(region).describe_instances().send())
        .unwrap();
    let launched = all
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .count();
    assert!(
        launched <= 8 + 8 + 2,
        "8 old, 8 new, at most the killed batch's surge again: {launched}"
    );
    tf.plan(&[]).assert_status(0);
}

#[test]
fn groups_behind_a_target_group_wait_for_load_balancer_health() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tg = e2e_tests::target_group(moto, region, "web-tg");
    template_group(moto, region, "balanced", 4);
    moto.block_on(
        moto.autoscaling(region)
            .attach_load_balancer_target_groups()
            .auto_scaling_group_name("balanced")
            .target_group_arns(&tg)
            .send(),
    )
    .unwrap();
    let tf = Terraform::new(moto, region, &config("balanced", ""));
    let change = plan_json(&tf, &[]);
    assert_eq!(
        change["change"]["after"]["health_check"],
        json!("elb"),
        "inferred from the group's target groups"
    );
    tf.apply(&[]).assert_success();
    assert!(
        moto.count(region, "DescribeTargetHealth") >= 2,
        "each batch waited for the target group to call its new instances healthy"
    );
    let after = group(moto, region, "balanced");
    after.assert_all_on(NEW, 4);
}

#[test]
fn quickstart_example_bakes_and_rolls_in_one_apply() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "quickstart-web", 6, OLD);
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let tf = Terraform::from_dir(moto, region, &examples);
    let vars = [("tag", "v1.0.0"), ("region", region), ("warmup", "0s")];
    tf.apply(&vars).assert_success();
    let image = tf.output("image_id").as_str().unwrap().to_string();
    assert!(image.starts_with("ami-"));
    let after = group(moto, region, "quickstart-web");
    assert_eq!(after.images.len(), 6);
    assert!(
        after.images.values().all(|i| *i == image),
        "every instance runs the image baked in the same apply: {:?}",
        after.images
    );
    assert_eq!(strings(&tf.output("replaced_instances")).len(), 6);
    // The same tag again: nothing to bake, nothing to roll.
    tf.plan(&vars).assert_status(0);
}

#[test]
fn a_group_changed_since_the_plan_is_not_released_on_a_stale_schedule() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "moving", 4);
    let tf = Terraform::new(moto, region, &config("moving", ""));
    tf.plan_out(&[], "stale.tfplan").assert_success();
    // Someone scales the group out after the plan was reviewed.
    moto.block_on(
        moto.autoscaling(region)
            .update_auto_scaling_group()
            .auto_scaling_group_name("moving")
            .max_size(5)
            .desired_capacity(5)
            .send(),
    )
    .unwrap();
    let run = tf.run(&["apply", "stale.tfplan"], &[]);
    assert!(!run.success(), "a stale schedule must not be executed");
    let out = run.one_line();
    assert!(out.contains("inconsistent final plan"), "{out}");
    assert_eq!(
        moto.count(region, "CreateLaunchTemplateVersion"),
        0,
        "nothing changed"
    );
    assert_eq!(moto.count(region, "DetachInstances"), 0);
    // A new plan shows the current group, and applies.
    tf.apply(&[]).assert_success();
    group(moto, region, "moving").assert_all_on(NEW, 5);
}

/// Behind a target group and with an `EC2_INSTANCE_TERMINATING` hook: every batch's old
/// instances leave through the group (drained, through the hook), none detached or terminated
/// through EC2 (see `e2e_tests::lifecycle` for what AWS does on each route; moto runs neither).
#[test]
fn every_old_instance_leaves_through_the_group_and_its_termination_hook() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tg = e2e_tests::target_group(moto, region, "drain-tg");
    template_group(moto, region, "drained", 8);
    let asg = moto.autoscaling(region);
    moto.block_on(
        asg.attach_load_balancer_target_groups()
            .auto_scaling_group_name("drained")
            .target_group_arns(&tg)
            .send(),
    )
    .unwrap();
    moto.block_on(
        asg.put_lifecycle_hook()
            .auto_scaling_group_name("drained")
            .lifecycle_hook_name("drain-agent")
            .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
            .heartbeat_timeout(300)
            .default_result("CONTINUE")
            .send(),
    )
    .unwrap();
    let before = group(moto, region, "drained");
    let proxy = e2e_tests::FaultProxy::start(&moto.endpoint(), vec![]);
    let tf = Terraform::new(moto, region, &config("drained", "")).with_endpoint(proxy.endpoint());
    let planned = batches(&plan_json(&tf, &[])["change"]["after"]["planned_batches"]);
    assert_eq!(planned.len(), 4, "{planned:?}");
    tf.run(&["apply", "-auto-approve", "release.tfplan"], &[])
        .assert_success();
    let left = e2e_tests::departures(&proxy.calls());
    for (k, batch) in planned.iter().enumerate() {
        for id in batch {
            let d = left.get(id).cloned().unwrap_or_default();
            assert!(
                d.hooked(),
                "batch {}: {id} left {d:?}, not through the group's termination hook",
                k + 1
            );
        }
    }
    assert_eq!(
        left.values().filter(|d| d.hooked()).count(),
        before.images.len(),
        "{left:?}"
    );
    let after = group(moto, region, "drained");
    after.assert_all_on(NEW, 8);
    assert_eq!((after.desired, after.min, after.max), (8, 8, 8));
}

/// The quickstart's shape, no lifecycle settings: a new tag replaces `immutable_image`, which
/// Terraform destroys before it bakes the new one. The image the group runs (its scale-outs'
/// and a rollback's image) stays until the release away from it succeeded, then goes.
#[test]
fn quickstart_keeps_the_running_image_until_the_release_away_from_it_succeeded() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "quickstart-web", 4, OLD);
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let tf = Terraform::from_dir(moto, region, &examples);
    let v1 = [("tag", "v1.0.0"), ("region", region), ("warmup", "0s")];
    tf.apply(&v1).assert_success();
    let first = tf.output("image_id").as_str().unwrap().to_string();
    let v2 = [("tag", "v2.0.0"), ("region", region), ("warmup", "0s")];
    tf.apply(&v2).assert_success();
    let second = tf.output("image_id").as_str().unwrap().to_string();
    assert_ne!(first, second);
    let after = group(moto, region, "quickstart-web");
    assert!(
        after.images.values().all(|i| *i == second),
        "{:?}",
        after.images
    );
    let live: Vec<String> = moto
        .images(region)
        .iter()
        .filter_map(|i| i.image_id().map(String::from))
        .collect();
    assert!(
        !live.contains(&first),
        "the replaced image goes once nothing runs it: {live:?}"
    );
    // In what order: the first image was deregistered only after the last old instance left.
    let calls = moto.recorded_calls(region);
    let last_leave = calls
        .iter()
        .rposition(|c| c.action == "TerminateInstanceInAutoScalingGroup")
        .expect("the release replaced instances");
    let deregistered = calls
        .iter()
        .position(|c| c.action == "DeregisterImage")
        .expect("the first image was deleted");
    assert!(
        deregistered > last_leave,
        "DeregisterImage came before the release had moved the group off the image"
    );
}

#[test]
fn a_release_whose_rollback_image_is_gone_is_refused_at_plan() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "orphaned", 2);
    moto.block_on(moto.ec2(region).deregister_image().image_id(OLD).send())
        .unwrap();
    let tf = Terraform::new(moto, region, &config("orphaned", ""));
    let run = tf.plan(&[]);
    run.assert_status(1);
    assert!(
        run.stderr.contains("Rollback target is gone"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("auto_rollback"), "{}", run.stderr);
    assert_eq!(moto.count(region, "UpdateAutoScalingGroup"), 0);
    // Without a rollback the release may go on.
    let tf = Terraform::new(moto, region, &config("orphaned", "auto_rollback = false"));
    tf.apply(&[]).assert_success();
    group(moto, region, "orphaned").assert_all_on(NEW, 2);
}

/// An Instance Refresh running on the group stops the release before any change. moto 5.2.1
/// implements neither StartInstanceRefresh nor DescribeInstanceRefreshes (it answers an HTML
/// 500, checked below), so the refresh is AWS's answer to DescribeInstanceRefreshes, shaped as
/// its API reference documents it, given by the fault proxy in front of moto
/// (<https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeInstanceRefreshes.html>).
/// Once the refresh is over (the canned answer used up: moto's 500 again, which the provider
/// takes for an endpoint without Instance Refresh), the same apply goes through.
#[test]
fn a_running_instance_refresh_stops_the_release_before_any_change() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "refreshing", 4);
    let started = moto.block_on(
        moto.autoscaling(region)
            .start_instance_refresh()
            .auto_scaling_group_name("refreshing")
            .send(),
    );
    assert!(
        started.is_err(),
        "moto now implements StartInstanceRefresh: start the refresh there instead of the canned answer"
    );
    let refresh = r#"<DescribeInstanceRefreshesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeInstanceRefreshesResult>
    <InstanceRefreshes>
      <member>
        <InstanceRefreshId>08b91cf7-8fa6-48af-b6a6-d227f40f1b9b</InstanceRefreshId>
        <AutoScalingGroupName>refreshing</AutoScalingGroupName>
        <Status>InProgress</Status>
        <StatusReason>Waiting for instances to warm up before continuing.</StatusReason>
        <StartTime>2026-12-01T10:00:00Z</StartTime>
        <PercentageComplete>25</PercentageComplete>
        <InstancesToUpdate>3</InstancesToUpdate>
      </member>
      <member>
        <InstanceRefreshId>dd7728d0-5bc4-4575-96a3-1b2c52bf8bb1</InstanceRefreshId>
        <AutoScalingGroupName>refreshing</AutoScalingGroupName>
        <Status>Successful</Status>
        <StartTime>2026-11-30T10:00:00Z</StartTime>
        <EndTime>2026-11-30T10:20:00Z</EndTime>
        <PercentageComplete>100</PercentageComplete>
        <InstancesToUpdate>0</InstancesToUpdate>
      </member>
    </InstanceRefreshes>
  </DescribeInstanceRefreshesResult>
  <ResponseMetadata><RequestId>7c6e177f-f082-11e1-ac58-3714bEXAMPLE</RequestId></ResponseMetadata>
</DescribeInstanceRefreshesResponse>"#;
    let proxy = e2e_tests::FaultProxy::start(
        &moto.endpoint(),
        vec![
            e2e_tests::Rule::respond("DescribeInstanceRefreshes", 200, "text/xml", refresh)
                .times(1),
        ],
    );
    let tf =
        Terraform::new(moto, region, &config("refreshing", "")).with_endpoint(proxy.endpoint());
    let run = tf.apply(&[]);
    assert!(!run.success());
    let out = run.one_line();
    assert!(
        out.contains("Release refused")
            && out.contains("Instance Refresh")
            && out.contains("08b91cf7-8fa6-48af-b6a6-d227f40f1b9b")
            && out.contains("InProgress")
            && out.contains("cancel-instance-refresh"),
        "{out}"
    );
    for action in [
        "CreateOrUpdateTags",
        "SuspendProcesses",
        "CreateLaunchTemplateVersion",
        "UpdateAutoScalingGroup",
        "TerminateInstanceInAutoScalingGroup",
        "DetachInstances",
        "TerminateInstances",
    ] {
        assert_eq!(proxy.count(action), 0, "{action}: nothing changed");
    }
    let g = group(moto, region, "refreshing");
    assert!(g.images.values().all(|i| i == OLD), "{:?}", g.images);
    assert!(
        g.tags.keys().all(|k| !k.starts_with("immutable:")),
        "{:?}",
        g.tags
    );

    // The refresh is over: the release goes through.
    tf.apply(&[]).assert_success();
    assert_eq!(proxy.count("DescribeInstanceRefreshes"), 2);
    let g = group(moto, region, "refreshing");
    g.assert_all_on(NEW, 4);
}
