//! `rolling_asg_release` on groups shaped for production (issue 13): the group's instance
//! maintenance policy and default instance warm-up as the release's defaults and bounds, the
//! health check grace period against the warm-up. Real terraform, the plugin, and moto with the
//! group settings it drops stored (`support/aws_shapes.py`, loaded with the behaviour
//! layer: `Moto::behaving`).

use std::time::Instant;

use e2e_tests::serde_json::{self, Value};
use e2e_tests::{group_state, Moto, Terraform, TF_HEADER};

const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";

/// A release of `group` onto NEW with only `settings` (no warm-up: the group's default holds).
fn config(group: &str, settings: &str) -> String {
    format!(
        r#"{TF_HEADER}
provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "{group}"
  image_id               = "{NEW}"
  batch_timeout          = "2m"
  {settings}
}}

output "replaced" {{ value = rolling_asg_release.web.replaced_instances }}
"#
    )
}

/// Sets what moto keeps only through the group-settings layer.
fn shape(moto: &Moto, region: &str, group: &str, policy: (i32, i32), warmup: i32, grace: i32) {
    e2e_tests::shape_group(moto, region, group, policy, Some(warmup), Some(grace));
}

fn schedule(after: &Value) -> Value {
    serde_json::from_str(after["schedule"].as_str().expect("a schedule")).unwrap()
}

fn warning_kinds(schedule: &Value) -> Vec<String> {
    schedule["schedule"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_maintenance_policy_caps_the_surge_and_the_default_warmup_is_waited() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "shaped", 8, OLD);
    // 8 × 125% = 10 in service or pending at most: a surge step adds 2, not the 4 of "50%".
    shape(moto, region, "shaped", (90, 125), 2, 1);
    let tf = Terraform::new(moto, region, &config("shaped", r#"batch_size = "50%""#));

    let after = tf.planned_release(&[], "shapes.tfplan");
    let batches = after["planned_batches"].as_array().unwrap();
    assert_eq!(batches.len(), 4, "{batches:?}");
    assert!(batches.iter().all(|b| b.as_array().unwrap().len() == 2));
    let s = schedule(&after);
    assert_eq!(s["schedule"]["batch_size"], 2);
    assert!(s["schedule"]["batches"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["capacity_during"]["desired"] == 10));
    assert!(
        warning_kinds(&s).contains(&"batch_capped_by_max_healthy".to_string()),
        "{s}"
    );
    assert_eq!(
        s["settings"]["instance_warmup_secs"], 2,
        "the group's DefaultInstanceWarmup is the default warm-up"
    );

    let start = Instant::now();
    tf.run(&["apply", "-auto-approve", "shapes.tfplan"], &[])
        .assert_success();
    let took = start.elapsed();
    let replaced: Vec<Value> = tf.output("replaced").as_array().unwrap().clone();
    let planned_ids: Vec<Value> = batches
        .iter()
        .flat_map(|b| b.as_array().unwrap().clone())
        .collect();
    assert_eq!(
        replaced, planned_ids,
        "apply ran the capped batches as planned"
    );
    let state = group_state(moto, region, "shaped");
    assert_eq!(state.count_on(NEW), 8);
    assert_eq!((state.desired, state.min, state.max), (8, 8, 8));
    // Each of the 4 batches waits its new instances' 2 s warm-up (the group's, not 60 s).
    assert!(
        took.as_secs_f64() >= 8.0 && took.as_secs() < 60,
        "4 batches × the 2 s default warm-up: {took:?}"
    );
}

/// With an input known only at apply, the schedule is planned unknown: the apply's own final
/// plan resolves the group's DefaultInstanceWarmup, and the release waits it, not the 60 s
/// fallback.
#[test]
fn the_default_warmup_holds_when_the_schedule_is_known_only_at_apply() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "later", 4, OLD);
    shape(moto, region, "later", (100, 200), 2, 1);
    let tf = Terraform::new(
        moto,
        region,
        &format!(
            "{}\nresource \"terraform_data\" \"size\" {{\n  input = \"2\"\n}}\n",
            config("later", "batch_size = terraform_data.size.output")
        ),
    );
    tf.plan_out(&[], "shapes.tfplan").assert_success();
    let plan = tf.show_json("shapes.tfplan");
    let change = &plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "rolling_asg_release")
        .unwrap()["change"];
    assert_eq!(
        change["after_unknown"]["schedule"], true,
        "batch_size is unknown at plan, so is the schedule: {change}"
    );

    let start = Instant::now();
    tf.run(&["apply", "-auto-approve", "shapes.tfplan"], &[])
        .assert_success();
    let took = start.elapsed();
    assert_eq!(group_state(moto, region, "later").count_on(NEW), 4);
    // 2 batches × the group's 2 s warm-up; the 60 s fallback would take over 2 minutes.
    assert!(
        took.as_secs() < 60,
        "the apply waited the group's DefaultInstanceWarmup: {took:?}"
    );
}

#[test]
fn settings_against_the_maintenance_policy_are_refused_at_plan_with_their_path() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "strict", 4, OLD);
    shape(moto, region, "strict", (90, 100), 0, 1);

    // A floor below the policy's minimum.
    let tf = Terraform::new(
        moto,
        region,
        &config(
            "strict",
            "strategy = \"replace\"\n  min_healthy_percentage = 50",
        ),
    );
    let run = tf.plan(&[]);
    run.assert_failure_contains("MinHealthyPercentage 90");
    let out = run.combined();
    assert!(
        out.contains("min_healthy_percentage = 50"),
        "the diagnostic points at the attribute: {out}"
    );

    // A surge where the policy allows nothing above desired (MaxHealthyPercentage 100).
    let tf = Terraform::new(moto, region, &config("strict", "strategy = \"surge\""));
    let run = tf.plan(&[]);
    run.assert_failure_contains("MaxHealthyPercentage 100");
    assert!(
        run.combined().contains("strategy = \"surge\""),
        "{}",
        run.combined()
    );

    // What such a policy asks for plans: replace, its floor the policy's minimum.
    shape(moto, region, "strict", (50, 100), 0, 1);
    let tf = Terraform::new(
        moto,
        region,
        &config("strict", "strategy = \"replace\"\n  batch_size = \"2\""),
    );
    let after = tf.planned_release(&[], "shapes.tfplan");
    let s = schedule(&after);
    assert_eq!(s["schedule"]["healthy_floor"], 2, "4 × the policy's 50%");
    assert_eq!(after["planned_batches"].as_array().unwrap().len(), 2);
}

#[test]
fn a_warmup_shorter_than_the_grace_period_warns_with_both_values() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "graceful", 2, OLD);
    shape(moto, region, "graceful", (100, 150), 0, 45);
    let messages = |warmup: &str| -> Vec<String> {
        let tf = Terraform::new(
            moto,
            region,
            &config(
                "graceful",
                &format!("health_check = \"ec2\"\n  instance_warmup = \"{warmup}\""),
            ),
        );
        // Terraform folds warnings with the same summary in its output; the plan's schedule
        // keeps each one.
        schedule(&tf.planned_release(&[], "shapes.tfplan"))["schedule"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["message"].as_str().unwrap().to_string())
            .collect()
    };
    let short = messages("5s");
    assert!(
        short.iter().any(|m| m.starts_with(
            "instance_warmup 5s is shorter than the group's health check grace period (45s)"
        )),
        "{short:?}"
    );
    // A warm-up that covers the grace period says nothing.
    let long = messages("45s");
    assert!(!long.iter().any(|m| m.contains("grace period")), "{long:?}");
}

/// Version numbers of a launch template, as DescribeLaunchTemplateVersions lists them.
fn versions(moto: &Moto, region: &str, template: &str) -> Vec<i64> {
    let out = moto
        .block_on(
            moto.ec2(region)
                .describe_launch_template_versions()
                .launch_template_id(template)
                .max_results(200)
                .send(),
        )
        .expect("describe versions");
    let mut v: Vec<i64> = out
        .launch_template_versions()
        .iter()
        .filter_map(|v| v.version_number())
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn releases_prune_the_versions_they_made_beyond_the_newest_kept() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    let template = e2e_tests::template_group(moto, region, "pruned", 2, OLD);
    let tf = Terraform::new(
        moto,
        region,
        // Batches of 25% of two instances: one at a time.
        &e2e_tests::release_config("pruned", OLD, "60s", "keep_launch_template_versions = 2"),
    );
    // Four releases, back and forth: versions 2, 3, 4 and 5 are the releases'; 1 is the
    // template's own (its default).
    let expected: [&[i64]; 4] = [&[1, 2], &[1, 2, 3], &[1, 3, 4], &[1, 4, 5]];
    for (n, (image, left)) in [NEW, OLD, NEW, OLD].iter().zip(expected).enumerate() {
        tf.apply(&[("image", image)]).assert_success();
        let state = group_state(moto, region, "pruned");
        assert_eq!(state.count_on(image), 2, "release {} completed", n + 1);
        let current = (n + 2) as i64;
        assert_eq!(
            state.launch_template_version.as_deref(),
            Some(current.to_string().as_str())
        );
        assert_eq!(
            versions(moto, region, &template),
            left,
            "after release {}: the newest two of the releases' versions (the current one and \
             the rollback target among them) and the template's default stay",
            n + 1
        );
    }
    assert_eq!(
        moto.count(region, "DeleteLaunchTemplateVersions"),
        2,
        "one deletion call per release that had a version to prune"
    );
}

/// The fixed cost of a release (issue 13): the calls that do not grow with the batches — the
/// apply-time plan, the start (Instance Refresh check, lock, record, processes, launch switch)
/// and the end (restore, unlock, the final read) — of a 20-instance release in batches of 5,
/// counted through moto's request recorder. Printed as BENCHMARKS.md shows it.
#[test]
fn the_fixed_cost_of_a_release_is_counted() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "fixed", 20, OLD);
    let tf = Terraform::new(
        moto,
        region,
        &e2e_tests::release_config("fixed", NEW, "60s", ""),
    );
    let mark = moto.recorded_calls(region).len();
    tf.plan(&[]).assert_status(2);
    let plan_calls: Vec<String> = moto.recorded_calls(region)[mark..]
        .iter()
        .map(|c| c.action.clone())
        .collect();
    let plan = plan_calls.len();
    // The target image and the rollback target are looked up in one call.
    assert_eq!(
        plan_calls.iter().filter(|a| *a == "DescribeImages").count(),
        1,
        "{plan_calls:?}"
    );
    let mark = moto.recorded_calls(region).len();
    tf.apply(&[]).assert_success();
    let calls: Vec<String> = moto.recorded_calls(region)[mark..]
        .iter()
        .map(|c| c.action.clone())
        .collect();
    assert_eq!(group_state(moto, region, "fixed").count_on(NEW), 20);
    // `terraform apply` plans twice (its own plan, then the final plan of the apply walk).
    let refresh = calls
        .iter()
        .position(|a| a == "DescribeInstanceRefreshes")
        .expect("the apply checks for an Instance Refresh");
    assert_eq!(refresh, 2 * plan, "{calls:?}");
    let switch = refresh
        + calls[refresh..]
            .iter()
            .position(|a| a == "UpdateAutoScalingGroup")
            .expect("the launch switch");
    let last_leave = calls
        .iter()
        .rposition(|a| a == "TerminateInstanceInAutoScalingGroup")
        .expect("old instances leave");
    let start = &calls[refresh..=switch];
    let end = &calls[last_leave + 1..];
    let fixed = plan + start.len() + end.len();
    let by_action = |part: &[String]| {
        let mut m = std::collections::BTreeMap::<&str, usize>::new();
        for a in part {
            *m.entry(a.as_str()).or_default() += 1;
        }
        m.iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("| part | calls | by action |");
    println!("|---|---|---|");
    println!(
        "| apply-time plan | {plan} | {} |",
        by_action(&calls[refresh - plan..refresh])
    );
    println!(
        "| start: refresh check, lock, record, processes, launch switch | {} | {} |",
        start.len(),
        by_action(start)
    );
    println!(
        "| 4 batches | {} | {} |",
        last_leave - switch,
        by_action(&calls[switch + 1..=last_leave])
    );
    println!(
        "| end: restore, unlock, final read | {} | {} |",
        end.len(),
        by_action(end)
    );
    println!("| fixed (plan + start + end) | **{fixed}** | |");
    println!("| whole apply (with its own plan) | {} | |", calls.len());
    // Issue 13's bound (31 before the group-read and template-version reuse in rollout/group.rs,
    // 21 before the record and the lock left in one DeleteTags).
    assert!(fixed <= 20, "fixed cost {fixed}: {calls:?}");
    assert_eq!(
        end.iter().filter(|a| *a == "DeleteTags").count(),
        1,
        "the record and the lock leave in one call: {end:?}"
    );
}
