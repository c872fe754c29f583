//! Faults end to end: the real terraform CLI, the real plugin, moto behind the project's own
//! fault-injecting proxy (`support/fault_proxy.rs`), or the plugin killed / interrupted.
//!
//! - throttling, 5xx and latency on every call: a bake and a 40-instance release converge;
//! - answers lost after mutating calls went through: nothing launched, imaged or terminated twice;
//! - the plugin SIGKILLed at seeded random points of a bake and of a release: the next apply
//!   converges and sweeps (`FAULT_TRIALS` trials each, 3 by default; the documented full sweep
//!   is `FAULT_TRIALS=10 cargo test -p e2e-tests --test faults -- --nocapture`);
//! - Ctrl-C (SIGINT to terraform → StopProvider) during a bake and during a release;
//! - new instances that never become healthy, with and without rollback.
//!
//! Every test has its own region; orphans are looked for by listing moto's resources.

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::aws_sdk_ec2::types::Instance;
use e2e_tests::serde_json::json;
use e2e_tests::TF_HEADER;
use e2e_tests::{
    group_state, template_group, FaultProxy, Moto, Rule, Terraform, TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
};

const OLD: &str = "ami-1e749f67"; // the group's image, and the bake's source
const TEMPORARY: &str = "immutable:temporary";

fn trials() -> u64 {
    std::env::var("FAULT_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn base_seed() -> u64 {
    std::env::var("FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_127)
}

/// A bake and (when `group` is set) a release of the baked image onto `group`.
fn config(group: Option<&str>, release_extra: &str) -> String {
    let release = group
        .map(|g| {
            format!(
                r#"
resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "{g}"
  image_id               = immutable_image.web.id
  batch_size             = "25%"
  instance_warmup        = "0s"
  batch_timeout          = "120s"
  {release_extra}
}}

output "replaced" {{ value = rolling_asg_release.web.replaced_instances }}
"#
            )
        })
        .unwrap_or_default();
    format!(
        r##"
{TF_HEADER}
variable "tag" {{
  type    = string
  default = "v1.0.0"
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "immutable_image" "web" {{
  source_ami = "{OLD}"
  code_tag   = var.tag
  script     = "#!/bin/sh\necho deploying $1\n"
}}

output "image" {{ value = immutable_image.web.id }}
{release}
"##
    )
}

/// Every instance moto ever had in `region`, terminated ones included.
fn all_instances(moto: &Moto, region: &str) -> Vec<Instance> {
    let ec2 = moto.ec2(region);
    moto.block_on(async move {
        let out = ec2
            .describe_instances()
            .send()
            .await
            .expect("DescribeInstances");
        out.reservations()
            .iter()
            .flat_map(|r| r.instances().to_vec())
            .collect()
    })
}

fn tag<'a>(tags: &'a [e2e_tests::aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Nothing of a bake outlives it: no builder running, no key pair, no security group, every
/// image owned by the account carries its fingerprint tag and is one of `images`, every snapshot
/// is tagged and belongs to one of them.
fn assert_no_orphans(moto: &Moto, region: &str, images: &BTreeSet<String>, context: &str) {
    let builders: Vec<String> = moto
        .running_instances(region)
        .iter()
        .filter(|i| tag(i.tags(), TEMPORARY).is_some())
        .filter_map(|i| i.instance_id().map(String::from))
        .collect();
    assert!(
        builders.is_empty(),
        "{context}: builders left running: {builders:?}"
    );
    let keys: Vec<String> = moto
        .key_pairs(region)
        .iter()
        .filter_map(|k| k.key_name().map(String::from))
        .collect();
    assert!(keys.is_empty(), "{context}: key pairs left: {keys:?}");
    let groups: Vec<String> = moto
        .security_groups(region)
        .iter()
        .filter_map(|g| g.group_name().map(String::from))
        .collect();
    assert!(
        groups.is_empty(),
        "{context}: security groups left: {groups:?}"
    );
    let owned = moto.images(region);
    let ids: BTreeSet<String> = owned
        .iter()
        .filter_map(|i| i.image_id().map(String::from))
        .collect();
    assert_eq!(&ids, images, "{context}: images in the account");
    for i in &owned {
        assert!(
            tag(i.tags(), "immutable:fingerprint").is_some(),
            "{context}: untagged image {:?}",
            i.image_id()
        );
    }
    let snapshots_of_images: BTreeSet<String> = owned
        .iter()
        .flat_map(|i| i.block_device_mappings().to_vec())
        .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()).map(String::from))
        .collect();
    for s in moto.snapshots(region) {
        let id = s.snapshot_id().unwrap_or_default().to_string();
        assert!(
            snapshots_of_images.contains(&id),
            "{context}: snapshot {id} belongs to no image"
        );
        assert!(
            tag(s.tags(), "immutable:fingerprint").is_some(),
            "{context}: untagged snapshot {id}"
        );
    }
}

fn folded(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `terraform <args>` for `tf`'s directory, with the environment `Terraform` itself uses, in
/// its own process group — for tests that signal terraform themselves.
fn terraform_command(tf: &Terraform, args: &[&str]) -> Command {
    let mut cmd = Command::new("terraform");
    let (sub, rest) = args.split_first().expect("a subcommand");
    cmd.arg(sub)
        .args(["-no-color", "-input=false"])
        .args(rest)
        .current_dir(tf.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for key in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "TF_LOG",
        "TF_LOG_PATH",
        "TF_DATA_DIR",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("TF_CLI_CONFIG_FILE", tf.cli_config())
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_INPUT", "0")
        .env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
        .env("AWS_REGION", tf.region())
        .env("AWS_DEFAULT_REGION", tf.region())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TF_VAR_aws_endpoint", tf.endpoint());
    cmd
}

/// Runs `terraform apply`, sends SIGINT to terraform alone (as Ctrl-C in a terminal does to
/// the foreground process) once `when` says so, and returns (exit code, stdout + stderr).
fn apply_interrupted(tf: &Terraform, mut when: impl FnMut() -> bool) -> (i32, String) {
    let child = terraform_command(tf, &["apply", "-auto-approve"])
        .spawn()
        .expect("run terraform");
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    let deadline = Instant::now() + Duration::from_secs(120);
    while !when() && Instant::now() < deadline && !waiter.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let out = waiter.join().expect("waiter").expect("terraform output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

// ---- the proxy itself -------------------------------------------------------------------------

#[test]
fn proxy_faults_are_seeded_bounded_and_absorbed_by_sdk_retries() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // Each fault, twice, then the call goes through: the SDK's standard retry absorbs it.
    for rule in [
        Rule::throttle("DescribeImages").times(2),
        Rule::server_error("DescribeImages", 500).times(2),
        Rule::server_error("DescribeImages", 503).times(2),
        Rule::drop_before("DescribeImages").times(2),
        Rule::drop_after("DescribeImages").times(2),
    ] {
        let what = format!("{rule:?}");
        let proxy = FaultProxy::start(&moto.endpoint(), vec![rule]);
        let ec2 = e2e_tests::ec2_client(&proxy.endpoint(), region);
        let r = moto.block_on(async move {
            ec2.describe_images()
                .image_ids(OLD)
                .send()
                .await
                .map(|o| o.images().len())
        });
        assert_eq!(r.ok(), Some(1), "{what}");
        let statuses: Vec<u16> = proxy.calls().iter().map(|c| c.status).collect();
        assert_eq!(statuses.len(), 3, "{what}: {statuses:?}");
        assert_eq!(statuses[2], 200, "{what}: {statuses:?}");
    }
    // Throttling in each protocol's own shape: the SDKs read it as their service's error.
    let proxy = FaultProxy::start(&moto.endpoint(), vec![Rule::throttle("*").times(3)]);
    let (asg, ssm, ec2) = (
        e2e_tests::autoscaling_client(&proxy.endpoint(), region),
        e2e_tests::ssm_client(&proxy.endpoint(), region),
        e2e_tests::ec2_client(&proxy.endpoint(), region),
    );
    let codes = moto.block_on(async move {
        use e2e_tests::aws_sdk_ec2::config::retry::RetryConfig;
        let asg = asg
            .describe_auto_scaling_groups()
            .customize()
            .config_override(
                e2e_tests::aws_sdk_autoscaling::config::Builder::default()
                    .retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        let ssm = ssm
            .list_commands()
            .customize()
            .config_override(
                e2e_tests::aws_sdk_ssm::config::Builder::default()
                    .retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        let ec2 = ec2
            .describe_images()
            .image_ids(OLD)
            .customize()
            .config_override(
                e2e_tests::aws_sdk_ec2::config::Builder::default()
                    .retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        use e2e_tests::aws_sdk_ec2::error::ProvideErrorMetadata;
        (
            asg.err().and_then(|e| e.code().map(String::from)),
            ssm.err().and_then(|e| e.code().map(String::from)),
            ec2.err().and_then(|e| e.code().map(String::from)),
        )
    });
    assert_eq!(
        codes,
        (
            Some("Throttling".into()),
            Some("ThrottlingException".into()),
            Some("RequestLimitExceeded".into())
        )
    );

    // Seeded: the same seed hits the same requests; a window bounds faults in time.
    let pattern = |seed: u64| {
        let proxy = FaultProxy::start_seeded(
            &moto.endpoint(),
            seed,
            vec![Rule::server_error("DescribeRegions", 503).with_probability(0.5)],
        );
        let ec2 = e2e_tests::ec2_client(&proxy.endpoint(), region);
        moto.block_on(async move {
            use e2e_tests::aws_sdk_ec2::config::retry::RetryConfig;
            for _ in 0..16 {
                let _ = ec2
                    .describe_regions()
                    .customize()
                    .config_override(
                        e2e_tests::aws_sdk_ec2::config::Builder::default()
                            .retry_config(RetryConfig::disabled()),
                    )
                    .send()
                    .await;
            }
        });
        proxy.calls().iter().map(|c| c.status).collect::<Vec<_>>()
    };
    let a = pattern(7);
    assert_eq!(a, pattern(7), "same seed, same faults");
    assert_ne!(a, pattern(8), "another seed, other faults");
    let hits = a.iter().filter(|s| **s == 503).count();
    assert!((3..=13).contains(&hits), "about half: {a:?}");
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![Rule::throttle("*").within(Duration::from_millis(300))],
    );
    std::thread::sleep(Duration::from_millis(400));
    let ec2 = e2e_tests::ec2_client(&proxy.endpoint(), region);
    moto.block_on(async move { ec2.describe_regions().send().await })
        .expect("past the window the proxy forwards");
    assert_eq!(proxy.calls()[0].status, 200);
}

// ---- throttling, 5xx and latency everywhere -----------------------------------------------------

#[test]
fn bake_and_forty_instance_release_converge_under_throttling_5xx_and_latency() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "chaos", 40, OLD);
    let before = group_state(moto, region, "chaos");
    let proxy = FaultProxy::start_seeded(
        &moto.endpoint(),
        base_seed(),
        vec![
            Rule::delay("*", Duration::from_millis(100)),
            Rule::throttle("*").with_probability(0.20),
            Rule::server_error("*", 500).with_probability(0.025),
            Rule::server_error("*", 503).with_probability(0.025),
        ],
    );
    let tf = Terraform::new(moto, region, &config(Some("chaos"), ""))
        .with_endpoint(proxy.endpoint())
        .with_timeout(Duration::from_secs(600));
    let started = Instant::now();
    let run = tf.apply(&[]);
    run.assert_success();
    let took = started.elapsed();
    let image = tf.output("image").as_str().unwrap().to_string();
    let faults = proxy.faults();
    let calls = proxy.calls().len();
    eprintln!(
        "chaos: bake + 40-instance release in {took:.1?}; {calls} requests through the proxy, faults {faults:?}"
    );
    assert!(
        faults.get("Throttle").copied().unwrap_or(0) >= 10,
        "the proxy really throttled: {faults:?}"
    );

    // Final state: every instance on the image, the group's settings back, nothing left.
    let after = group_state(moto, region, "chaos");
    assert_eq!(after.images.len(), 40);
    assert!(
        after.images.values().all(|i| *i == image),
        "{:?}",
        after.images
    );
    assert_eq!(
        (after.desired, after.min, after.max),
        (before.desired, before.min, before.max)
    );
    assert!(after.suspended.is_empty());
    assert!(!after.tags.contains_key("immutable:release"));
    assert!(!after.tags.contains_key("immutable:release-lock"));
    // No instance replaced twice: exactly 40 launched on the image, each old one terminated.
    let all = all_instances(moto, region);
    let on_image = all
        .iter()
        .filter(|i| i.image_id() == Some(image.as_str()))
        .count();
    assert_eq!(on_image, 40, "no extra launches");
    let builders = all
        .iter()
        .filter(|i| tag(i.tags(), TEMPORARY).is_some())
        .count();
    assert_eq!(builders, 1, "one builder");
    for id in before.images.keys() {
        let i = all
            .iter()
            .find(|i| i.instance_id() == Some(id.as_str()))
            .unwrap();
        assert_eq!(
            i.state().and_then(|s| s.name()).map(|n| n.as_str()),
            Some("terminated"),
            "{id}"
        );
    }
    assert_no_orphans(moto, region, &BTreeSet::from([image]), "chaos");
    tf.plan(&[]).assert_status(0);
}

// ---- answers lost after the call went through -----------------------------------------------------

#[test]
fn lost_answers_after_mutating_calls_duplicate_nothing() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "lossy", 12, OLD);
    let before = group_state(moto, region, "lossy");
    let proxy = FaultProxy::start_seeded(
        &moto.endpoint(),
        base_seed(),
        vec![
            Rule::drop_after("RunInstances").times(1),
            Rule::drop_after("UpdateAutoScalingGroup").times(2),
            Rule::drop_after("TerminateInstanceInAutoScalingGroup").times(1),
            Rule::drop_after("TerminateInstances").times(2),
            Rule::drop_after("CreateOrUpdateTags").times(1),
            Rule::drop_after("CreateLaunchTemplateVersion").times(1),
        ],
    );
    let tf =
        Terraform::new(moto, region, &config(Some("lossy"), "")).with_endpoint(proxy.endpoint());
    tf.apply(&[]).assert_success();
    let image = tf.output("image").as_str().unwrap().to_string();
    for (i, what) in [
        "RunInstances",
        "UpdateAutoScalingGroup",
        "TerminateInstanceInAutoScalingGroup",
        "TerminateInstances",
        "CreateOrUpdateTags",
        "CreateLaunchTemplateVersion",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            proxy.applied(i) >= 1,
            "{what}'s answer was lost at least once"
        );
    }
    let all = all_instances(moto, region);
    let builders = all
        .iter()
        .filter(|i| tag(i.tags(), TEMPORARY).is_some())
        .count();
    assert_eq!(
        builders, 1,
        "a retried RunInstances (same ClientToken) launches no second builder"
    );
    let after = group_state(moto, region, "lossy");
    assert_eq!(after.images.len(), 12);
    assert!(
        after.images.values().all(|i| *i == image),
        "{:?}",
        after.images
    );
    assert_eq!(
        (after.desired, after.min, after.max),
        (before.desired, before.min, before.max),
        "a repeated capacity change or termination changes nothing twice"
    );
    let on_image = all
        .iter()
        .filter(|i| i.image_id() == Some(image.as_str()))
        .count();
    assert_eq!(
        on_image, 12,
        "no extra launches, no extra terminations replaced"
    );
    let still_running_old: Vec<String> = moto
        .running_instances(region)
        .iter()
        .filter(|i| i.image_id() == Some(OLD))
        .filter_map(|i| i.instance_id().map(String::from))
        .collect();
    assert!(
        still_running_old.is_empty(),
        "a termination whose answer was lost still terminates its instance: {still_running_old:?}"
    );
    assert_no_orphans(moto, region, &BTreeSet::from([image]), "lossy");
}

#[test]
fn lost_create_image_answer_makes_no_second_image() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![Rule::drop_after("CreateImage").times(1)],
    );
    let tf = Terraform::new(moto, region, &config(None, "")).with_endpoint(proxy.endpoint());
    tf.apply(&[]).assert_success();
    let image = tf.output("image").as_str().unwrap().to_string();
    assert_eq!(proxy.applied(0), 1);
    assert_no_orphans(moto, region, &BTreeSet::from([image]), "lost CreateImage");
}

// ---- the plugin killed at random points -----------------------------------------------------------

/// A kill between CreateImage and the builder's termination: the next apply must neither adopt
/// the unfinished image nor leave the builder running.
#[test]
fn bake_killed_between_create_image_and_cleanup_leaves_nothing() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // Hold the builder's termination (and never let that request through) so the kill lands
    // between CreateImage and cleanup, as a kill at that moment would.
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![
            Rule::delay("TerminateInstances", Duration::from_secs(20)).times(1),
            Rule::drop_before("TerminateInstances").times(1),
        ],
    );
    let tf = Terraform::new(moto, region, &config(None, "")).with_endpoint(proxy.endpoint());
    let mut child = tf.spawn(&["apply", "-auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.count("TerminateInstances") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill_all();
    assert_eq!(
        moto.count(region, "CreateImage"),
        1,
        "killed after the image was made"
    );
    tf.apply(&[]).assert_success();
    let image = image_of(&tf);
    assert_no_orphans(
        moto,
        region,
        &BTreeSet::from([image]),
        "bake killed after CreateImage",
    );
}

/// The bake/image facts of `region` after convergence, per code tag, from terraform's state.
fn image_of(tf: &Terraform) -> String {
    tf.output("image").as_str().unwrap().to_string()
}

#[test]
fn plugin_killed_at_random_points_of_a_bake_then_the_next_apply_converges() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let mut rng = fastrand::Rng::with_seed(base_seed() ^ 0xBA4E);
    let mut images = BTreeSet::new();
    let mut report = vec![];
    for trial in 0..trials() {
        let tag_value = format!("v0.{trial}.0");
        let tf = Terraform::new(moto, region, &config(None, ""));
        // terraform needs ~0.4 s before the plugin works; a bake on moto takes ~0.4 s more.
        let kill_after = Duration::from_millis(rng.u64(250..=900));
        let mut child = tf.spawn(&[
            "apply",
            "-auto-approve",
            "-var",
            &format!("tag={tag_value}"),
        ]);
        std::thread::sleep(kill_after);
        child.kill_all();
        let killed_state = (
            moto.running_instances(region)
                .iter()
                .filter(|i| tag(i.tags(), TEMPORARY).is_some())
                .count(),
            moto.images(region).len(),
        );
        tf.apply(&[("tag", &tag_value)]).assert_success();
        let image = image_of(&tf);
        images.insert(image.clone());
        report.push(format!(
            "trial {trial}: killed after {kill_after:?} with {} builder(s) running, {} image(s)",
            killed_state.0, killed_state.1
        ));
        assert_no_orphans(
            moto,
            region,
            &images,
            &format!("bake trial {trial} (killed after {kill_after:?})"),
        );
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn plugin_killed_at_random_points_of_a_release_then_the_next_apply_converges() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let mut rng = fastrand::Rng::with_seed(base_seed() ^ 0x4E1E);
    let mut report = vec![];
    // One image for every trial, baked first (the release is what gets killed here).
    let bake = Terraform::new(moto, region, &config(None, ""));
    bake.apply(&[]).assert_success();
    let image = image_of(&bake);
    for trial in 0..trials() {
        let name = format!("killed-{trial}");
        template_group(moto, region, &name, 8, OLD);
        let before = group_state(moto, region, &name);
        let tf = Terraform::new(
            moto,
            region,
            &config(Some(&name), "").replace(
                r#"instance_warmup        = "0s""#,
                r#"instance_warmup        = "1s""#,
            ),
        );
        let kill_after = Duration::from_millis(rng.u64(500..=6000));
        let mut child = tf.spawn(&["apply", "-auto-approve"]);
        std::thread::sleep(kill_after);
        child.kill_all();
        let mid = group_state(moto, region, &name);
        tf.apply(&[]).assert_success();
        let after = group_state(moto, region, &name);
        report.push(format!(
            "trial {trial}: killed after {kill_after:?} with {} of 8 on the image, desired {} max {}, record {}",
            mid.count_on(&image),
            mid.desired,
            mid.max,
            mid.tags.contains_key("immutable:release")
        ));
        let context = format!("release trial {trial} (killed after {kill_after:?})");
        assert_eq!(after.images.len(), 8, "{context}");
        assert!(
            after.images.values().all(|i| *i == image),
            "{context}: {:?}",
            after.images
        );
        assert_eq!(
            (after.desired, after.min, after.max),
            (before.desired, before.min, before.max),
            "{context}: capacity restored"
        );
        assert!(after.suspended.is_empty(), "{context}: processes resumed");
        assert!(!after.tags.contains_key("immutable:release"), "{context}");
        assert!(
            !after.tags.contains_key("immutable:release-lock"),
            "{context}"
        );
        // Every old instance is gone, none is left running outside the group.
        let running_old = moto
            .running_instances(region)
            .iter()
            .filter(|i| {
                i.instance_id()
                    .is_some_and(|id| before.images.contains_key(id))
            })
            .count();
        assert_eq!(running_old, 0, "{context}");
    }
    // No launch beyond one per replaced instance, plus at most the killed surges.
    let launched_on_image = all_instances(moto, region)
        .iter()
        .filter(|i| i.image_id() == Some(image.as_str()))
        .count() as u64;
    let n = trials() * 8;
    eprintln!(
        "{}\nlaunched on the image: {launched_on_image} for {n} replacements",
        report.join("\n")
    );
    assert!(
        launched_on_image <= n + trials() * 2,
        "{launched_on_image} launched for {n} replacements"
    );
    assert_no_orphans(moto, region, &BTreeSet::from([image]), "release trials");
}

// ---- Ctrl-C ------------------------------------------------------------------------------------

#[test]
fn ctrl_c_during_a_bake_cleans_up_and_says_so() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // The script "runs" for a while: SSM reports InProgress for the first 60 s.
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![Rule::rewrite_json("GetCommandInvocation", |mut v| {
            v["Status"] = json!("InProgress");
            v["StatusDetails"] = json!("InProgress");
            v
        })
        .within(Duration::from_secs(60))],
    );
    let tf = Terraform::new(moto, region, &config(None, "")).with_endpoint(proxy.endpoint());
    let (code, out) = apply_interrupted(&tf, || proxy.count("GetCommandInvocation") >= 2);
    let out = folded(&out);
    assert_ne!(code, 0, "an interrupted apply fails: {out}");
    assert!(out.contains("Interrupt received"), "{out}");
    assert!(
        out.contains("asked the provider to stop") || out.contains("interrupt"),
        "the error says the bake was interrupted: {out}"
    );
    assert!(
        out.contains("terminated builder"),
        "and what was cleaned: {out}"
    );
    assert_no_orphans(moto, region, &BTreeSet::new(), "interrupted bake");
    assert_eq!(moto.count(region, "CreateImage"), 0);
}

#[test]
fn ctrl_c_during_a_release_stops_between_batches_with_the_group_consistent() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let bake = Terraform::new(moto, region, &config(None, ""));
    bake.apply(&[]).assert_success();
    let image = image_of(&bake);
    template_group(moto, region, "stoppable", 8, OLD);
    let before = group_state(moto, region, "stoppable");
    let tf = Terraform::new(
        moto,
        region,
        &config(Some("stoppable"), "").replace(
            r#"instance_warmup        = "0s""#,
            r#"instance_warmup        = "3s""#,
        ),
    );
    // Interrupt once the first batch is on the image.
    let (code, out) = apply_interrupted(&tf, || {
        group_state(moto, region, "stoppable").count_on(&image) >= 2
    });
    let out = folded(&out);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("stopped between batches"), "{out}");
    assert!(out.contains("the group is consistent"), "{out}");
    let mid = group_state(moto, region, "stoppable");
    let moved = mid.count_on(&image);
    assert!(
        (2..8).contains(&moved),
        "stopped part-way: {moved} of 8 moved"
    );
    assert_eq!(mid.images.len(), 8, "no surplus, no missing instance");
    assert_eq!(
        (mid.desired, mid.min, mid.max),
        (before.desired, before.min, before.max),
        "capacity restored"
    );
    assert!(mid.suspended.is_empty(), "processes resumed");
    assert!(
        !mid.tags.contains_key("immutable:release-lock"),
        "lock released"
    );
    // The record stays, paused, so that a rollback of the continued release still knows the
    // previous image; the next apply continues and completes.
    let record = mid
        .tags
        .get("immutable:release")
        .cloned()
        .unwrap_or_default();
    assert!(
        record.contains("paused=1") && record.contains(OLD),
        "{record}"
    );
    tf.apply(&[]).assert_success();
    let end = group_state(moto, region, "stoppable");
    assert!(end.images.values().all(|i| *i == image));
    assert!(!end.tags.contains_key("immutable:release"));
}

// ---- new instances never healthy ------------------------------------------------------------------

#[test]
fn never_healthy_instances_roll_back_or_stop_and_say_where() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let bake = Terraform::new(moto, region, &config(None, ""));
    bake.apply(&[]).assert_success();
    let image = image_of(&bake);
    let marker = e2e_tests::Watching::unhealthy(&image).start(moto, region);

    // With rollback (the default), and the answers to the failed batch's terminations lost.
    template_group(moto, region, "broken", 8, OLD);
    let before = group_state(moto, region, "broken");
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![Rule::drop_after("TerminateInstanceInAutoScalingGroup").times(2)],
    );
    let slow = |s: String| {
        s.replace(
            r#"instance_warmup        = "0s""#,
            r#"instance_warmup        = "20s""#,
        )
    };
    let tf = Terraform::new(moto, region, &slow(config(Some("broken"), "")))
        .with_endpoint(proxy.endpoint());
    let run = tf.apply(&[]);
    let out = folded(&run.combined());
    assert!(!run.success(), "{out}");
    assert!(
        out.contains("Release failed") && out.contains("batch 1 of"),
        "{out}"
    );
    assert!(out.contains("marked Unhealthy"), "{out}");
    assert!(
        out.contains(&format!("the group launches {OLD} again")),
        "{out}"
    );
    let after = group_state(moto, region, "broken");
    assert_eq!(after.images.len(), 8);
    assert!(
        after.images.values().all(|i| i == OLD),
        "back on the previous image: {:?}",
        after.images
    );
    assert_eq!(
        (after.desired, after.min, after.max),
        (before.desired, before.min, before.max)
    );
    assert_eq!(after.launch_template_version.as_deref(), Some("1"));
    assert!(
        !after.tags.contains_key("immutable:release"),
        "a completed rollback leaves no record"
    );

    // Without rollback: the release stops and says where.
    template_group(moto, region, "broken-norb", 8, OLD);
    let before = group_state(moto, region, "broken-norb");
    let tf = Terraform::new(
        moto,
        region,
        &slow(config(Some("broken-norb"), "auto_rollback = false")),
    );
    let run = tf.apply(&[]);
    drop(marker);
    let out = folded(&run.combined());
    assert!(!run.success(), "{out}");
    assert!(out.contains("batch 1 of 4 failed"), "says where: {out}");
    assert!(out.contains("auto_rollback is off"), "{out}");
    let after = group_state(moto, region, "broken-norb");
    assert_eq!(
        after.images.len(),
        8,
        "the failed batch's new instances are gone"
    );
    assert!(
        after.images.values().all(|i| i == OLD),
        "{:?}",
        after.images
    );
    assert_eq!(
        (after.desired, after.min, after.max),
        (before.desired, before.min, before.max)
    );
    assert!(after.suspended.is_empty());
    let record = after
        .tags
        .get("immutable:release")
        .cloned()
        .unwrap_or_default();
    assert!(
        record.contains("paused=1") && record.contains(&format!("prev_image={OLD}")),
        "the next apply's rollback still knows the previous image: {record}"
    );
}
