//! `rolling_asg_release` on a group with a warm pool (issue 13): the plan shows the pool and the
//! pool instances on the old image, the release refreshes them right after the launch switch
//! (the pool refills from the new launch template), so neither the release's surges nor a later
//! scale-out bring the old image back; a rollback refreshes the pool back. Real terraform, the
//! plugin, and moto with warm pool instances modelled (`support/aws_warm_pools.py`, loaded with
//! the behaviour layer: `Moto::behaving`). The pool is made through the SDK, as the
//! hashicorp/aws provider's `warm_pool` block would make it.

use std::collections::BTreeMap;

use e2e_tests::aws_sdk_autoscaling::types::{InstanceReusePolicy, WarmPoolState};
use e2e_tests::serde_json::{self, Value};
use e2e_tests::{group_state, Moto, Terraform, Watching};

const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";

fn put_warm_pool(moto: &Moto, region: &str, group: &str, min_size: i32) {
    put_pool(moto, region, group, min_size, false);
}

/// A pool of at least `min_size` stopped instances; with `reuse_on_scale_in`, the instance reuse
/// policy that returns instances the group scales in to the pool.
fn put_pool(moto: &Moto, region: &str, group: &str, min_size: i32, reuse_on_scale_in: bool) {
    moto.block_on(
        moto.autoscaling(region)
            .put_warm_pool()
            .auto_scaling_group_name(group)
            .min_size(min_size)
            .pool_state(WarmPoolState::Stopped)
            .set_instance_reuse_policy(reuse_on_scale_in.then(|| {
                InstanceReusePolicy::builder()
                    .reuse_on_scale_in(true)
                    .build()
            }))
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

/// Someone else's capacity change: desired capacity, with min or max size moved to it.
fn scale(moto: &Moto, region: &str, group: &str, desired: i32, bound: Bound) {
    let req = moto
        .autoscaling(region)
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .desired_capacity(desired);
    let req = match bound {
        Bound::Max => req.max_size(desired),
        Bound::Min => req.min_size(desired),
    };
    moto.block_on(req.send())
        .unwrap_or_else(|e| panic!("scale {group} to {desired}: {e:?}"));
}

/// Which size bound a [`scale`] moves with desired capacity: max for a scale-out, min for a
/// scale-in.
enum Bound {
    Max,
    Min,
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
    let after = tf.planned_release(&[], "pool.tfplan");
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
    let text = tf.preview_text("pool.tfplan");
    assert!(
        text.contains(
            "Warm pool: 3 instances waiting (Stopped; min size 3, max prepared capacity max size, reuse on scale-in off): \
             3 on an old image, refreshed right after the launch switch; 0 on the target"
        ),
        "{text}"
    );

    tf.run(&["apply", "-auto-approve", "pool.tfplan"], &[])
        .assert_success();
    group_state(moto, region, "pooled").assert_all_on(NEW, 4);
    let refreshed = pool_images(moto, region, "pooled");
    assert_eq!(refreshed.len(), 3, "the pool refilled: {refreshed:?}");
    assert!(refreshed.values().all(|i| i == NEW), "{refreshed:?}");
    assert!(before.keys().all(|id| !refreshed.contains_key(id)));

    // A scale-out after the release draws the pool into service: the new image only.
    scale(moto, region, "pooled", 7, Bound::Max);
    let scaled = group_state(moto, region, "pooled");
    scaled.assert_all_on(NEW, 7);
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
    let marker = Watching::unhealthy(NEW).start(moto, region);
    let run = tf.apply(&[]);
    drop(marker);
    assert!(!run.success());
    let out = run.one_line();
    assert!(
        out.contains(&format!("the group launches {OLD} again")),
        "{out}"
    );
    assert!(
        out.contains(&format!("warm pool refreshed onto {OLD}")),
        "{out}"
    );
    group_state(moto, region, "pooled-back").assert_all_on(OLD, 4);
    let pool = pool_images(moto, region, "pooled-back");
    assert_eq!(pool.len(), 2, "{pool:?}");
    assert!(pool.values().all(|i| i == OLD), "{pool:?}");
}

/// With `InstanceReusePolicy { ReuseOnScaleIn = true }` a scale-in returns instances to the pool
/// instead of terminating them. One while the release waits at its checkpoint (the group's
/// default termination policy takes an instance of the old launch template first) puts an
/// old-image instance back into the pool the release refreshed; the next apply, which finishes
/// the release, leaves only the new image there. The release's own terminations are no
/// scale-in: none of the instances it replaced is in the pool.
#[test]
fn an_old_instance_a_scale_in_returns_to_a_reusing_pool_is_gone_when_the_release_ends() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    e2e_tests::template_group(moto, region, "reusing", 4, OLD);
    put_pool(moto, region, "reusing", 2, true);
    let tf = Terraform::new(
        moto,
        region,
        &e2e_tests::release_config("reusing", NEW, "90s", "checkpoints = [50]"),
    );
    tf.planned_release(&[], "reuse.tfplan");
    let text = tf.preview_text("reuse.tfplan");
    assert!(text.contains("reuse on scale-in on"), "{text}");

    // The first apply stops at the checkpoint: half the group replaced, the pool refreshed.
    tf.run(&["apply", "-auto-approve", "reuse.tfplan"], &[])
        .assert_success();
    let mid = group_state(moto, region, "reusing");
    assert_eq!((mid.count_on(NEW), mid.count_on(OLD)), (2, 2), "{mid:?}");
    let pool = pool_images(moto, region, "reusing");
    assert!(pool.values().all(|i| i == NEW), "{pool:?}");

    scale(moto, region, "reusing", 3, Bound::Min);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let returned = loop {
        let pool = pool_images(moto, region, "reusing");
        if let Some((id, _)) = pool.iter().find(|(_, image)| *image == OLD) {
            break id.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no old instance came back to the pool: {pool:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(mid.on(OLD).contains(&returned), "{returned} {mid:?}");

    // The next apply finishes the release: the returned instance is terminated in the pool.
    tf.apply(&[]).assert_success();
    let end = group_state(moto, region, "reusing");
    end.assert_all_on(NEW, usize::try_from(end.desired).unwrap());
    let pool = pool_images(moto, region, "reusing");
    assert!(
        !pool.is_empty() && pool.values().all(|i| i == NEW),
        "{pool:?}"
    );
    assert!(!pool.contains_key(&returned), "{pool:?}");
    let replaced = tf.state_json()["values"]["root_module"]["resources"][0]["values"]
        ["replaced_instances"]
        .clone();
    let replaced: Vec<String> = serde_json::from_value(replaced).expect("replaced_instances");
    assert!(!replaced.is_empty(), "{replaced:?}");
    assert!(
        replaced.iter().all(|id| !pool.contains_key(id)),
        "the release's terminations return nothing to the pool: {replaced:?} {pool:?}"
    );
}
