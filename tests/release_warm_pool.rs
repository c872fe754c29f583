//! `rolling_asg_release` on a group with a warm pool (issue 13): the plan shows the pool and the
//! pool instances on the old image, the release refreshes them right after the launch switch
//! (the pool refills from the new launch template), so neither the release's surges nor a later
//! scale-out bring the old image back; a rollback refreshes the pool back. Real terraform, the
//! plugin, and moto with warm pool instances modelled (`support/aws_warm_pools.py`, loaded with
//! the behaviour layer: `Moto::behaving`). The pool is made through the SDK, as the
//! hashicorp/aws provider's `warm_pool` block would make it.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use e2e_tests::aws_sdk_autoscaling::types::WarmPoolState;
use e2e_tests::serde_json::{self, Value};
use e2e_tests::{group_state, Moto, Terraform};

const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";

fn put_warm_pool(moto: &Moto, region: &str, group: &str, min_size: i32) {
    moto.block_on(
        moto.autoscaling(region)
            .put_warm_pool()
            .auto_scaling_group_name(group)
            .min_size(min_size)
            .pool_state(WarmPoolState::Stopped)
            .send(),
    )
    .unwrap_or_else(|e| panic!("put warm pool on {group}: {e:?}"));
}

/// Pool instance id → its EC2 image, as DescribeWarmPool and DescribeInstances tell.
fn pool_images(moto: &Moto, region: &str, group: &str) -> BTreeMap<String, String> {
    let pool = moto
        .block_on(
            moto.autoscaling(region)
                .describe_warm_pool()
                .auto_scaling_group_name(group)
                .send(),
        )
        .unwrap_or_else(|e| panic!("describe warm pool of {group}: {e:?}"));
    let ids: Vec<String> = pool
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(String::from))
        .collect();
    if ids.is_empty() {
        return BTreeMap::new();
    }
    let out = moto
        .block_on(
            moto.ec2(region)
                .describe_instances()
                .set_instance_ids(Some(ids))
                .send(),
        )
        .unwrap_or_else(|e| panic!("describe pool instances: {e:?}"));
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| Some((i.instance_id()?.to_string(), i.image_id()?.to_string())))
        .collect()
}

fn planned_release(tf: &Terraform, planfile: &str) -> Value {
    tf.plan_out(&[], planfile).assert_success();
    let plan = tf.show_json(planfile);
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "rolling_asg_release")
        .unwrap()["change"]["after"]
        .clone()
}

/// `planner preview --format text` of a saved plan, as a pull-request job runs it.
fn preview_text(tf: &Terraform, planfile: &str) -> String {
    let show = tf.run(&["show", "-json", planfile], &[]);
    show.assert_success();
    let json = tf.dir().join("plan.json");
    std::fs::write(&json, &show.stdout).unwrap();
    let planner = e2e_tests::plugin_dir().join("planner");
    let out = Command::new(&planner)
        .args(["preview", "--format", "text"])
        .arg(&json)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", planner.display()));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn scale(moto: &Moto, region: &str, group: &str, desired: i32) {
    moto.block_on(
        moto.autoscaling(region)
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .max_size(desired)
            .desired_capacity(desired)
            .send(),
    )
    .unwrap_or_else(|e| panic!("scale {group} to {desired}: {e:?}"));
}

#[test]
fn a_release_refreshes_the_warm_pool_and_later_scale_outs_bring_only_the_new_image() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "pooled", 4, OLD);
    put_warm_pool(moto, region, "pooled", 3);
    let before = pool_images(moto, region, "pooled");
    assert_eq!(before.len(), 3, "the pool fills to MinSize: {before:?}");
    assert!(before.values().all(|i| i == OLD), "{before:?}");
    let tf = Terraform::new(
        moto,
        region,
        &e2e_tests::release_config("pooled", NEW, "90s", ""),
    );

    // The plan shows the pool, its settings and the pool instances the release refreshes.
    let after = planned_release(&tf, "pool.tfplan");
    let schedule: Value = serde_json::from_str(after["schedule"].as_str().unwrap()).unwrap();
    let pool = &schedule["schedule"]["warm_pool"];
    let old_ids: Vec<Value> = before.keys().map(|id| Value::from(id.as_str())).collect();
    assert_eq!(pool["to_refresh"], Value::from(old_ids), "{schedule}");
    assert_eq!(
        (&pool["instances"], &pool["on_target"]),
        (&3.into(), &0.into())
    );
    assert_eq!(
        (&pool["min_size"], &pool["pool_state"]),
        (&3.into(), &"Stopped".into())
    );
    assert!(
        schedule["schedule"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "warm_pool_refreshed"),
        "{schedule}"
    );
    let text = preview_text(&tf, "pool.tfplan");
    assert!(
        text.contains(
            "Warm pool: 3 instances waiting (Stopped; min size 3, max prepared capacity max size, reuse on scale-in off): \
             3 on an old image, refreshed right after the launch switch; 0 on the target"
        ),
        "{text}"
    );

    tf.run(&["apply", "-auto-approve", "pool.tfplan"], &[])
        .assert_success();
    let state = group_state(moto, region, "pooled");
    assert_eq!(state.count_on(NEW), 4, "{state:?}");
    assert_eq!(state.images.len(), 4, "{state:?}");
    let refreshed = pool_images(moto, region, "pooled");
    assert_eq!(refreshed.len(), 3, "the pool refilled: {refreshed:?}");
    assert!(refreshed.values().all(|i| i == NEW), "{refreshed:?}");
    assert!(before.keys().all(|id| !refreshed.contains_key(id)));

    // A scale-out after the release draws the pool into service: the new image only.
    scale(moto, region, "pooled", 7);
    let scaled = group_state(moto, region, "pooled");
    assert_eq!(scaled.images.len(), 7, "{scaled:?}");
    assert_eq!(scaled.count_on(NEW), 7, "{scaled:?}");
    assert!(
        refreshed.keys().all(|id| scaled.images.contains_key(id)),
        "the scale-out drew the refreshed pool: {scaled:?} {refreshed:?}"
    );
    assert!(pool_images(moto, region, "pooled")
        .values()
        .all(|i| i == NEW));

    // Nothing is outdated any more: the next plan changes nothing.
    let plan = tf.run(&["plan", "-detailed-exitcode"], &[]);
    assert!(plan.success(), "{}", plan.combined());
}

#[test]
fn a_rollback_refreshes_the_warm_pool_back_onto_the_previous_image() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "pooled-back", 4, OLD);
    put_warm_pool(moto, region, "pooled-back", 2);
    let tf = Terraform::new(
        moto,
        region,
        &e2e_tests::release_config("pooled-back", NEW, "30s", ""),
    );
    let marker = e2e_tests::UnhealthyMarker::start(moto, region, NEW);
    let run = tf.apply(&[]);
    drop(marker);
    assert!(!run.success());
    let out = run
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        out.contains(&format!("the group launches {OLD} again")),
        "{out}"
    );
    assert!(
        out.contains(&format!("warm pool refreshed onto {OLD}")),
        "{out}"
    );
    let state = group_state(moto, region, "pooled-back");
    assert_eq!(state.count_on(OLD), 4, "{state:?}");
    let pool = pool_images(moto, region, "pooled-back");
    assert_eq!(pool.len(), 2, "{pool:?}");
    assert!(pool.values().all(|i| i == OLD), "{pool:?}");
}
