//! `rolling_asg_release` on groups with a mixed instances policy (issue 13): the policy's launch
//! template gets the new version, overrides with their own launch template get one each, the
//! instance types, weights and Spot/On-Demand split stay as they were, a rollback returns to the
//! exact versions, and an override the release cannot move is refused at plan. Real terraform,
//! the plugin, and moto with what it lacks for these groups patched in (`support/aws_shapes.py`,
//! loaded with the behaviour layer: `Moto::behaving`).

use e2e_tests::aws_sdk_autoscaling::types::{
    AutoScalingGroup, InstancesDistribution, LaunchTemplate, LaunchTemplateOverrides,
    LaunchTemplateSpecification, MixedInstancesPolicy,
};
use e2e_tests::aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
use e2e_tests::serde_json::Value;
use e2e_tests::{group_state, Moto, Terraform, TF_HEADER};

const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";
/// Another build (say, for arm64) that one override's own template launches.
const OTHER: &str = "ami-03cf127a";

/// One override of the policy: its instance type, weight, and own template's image if any.
struct Ov {
    instance_type: &'static str,
    weight: Option<u32>,
    own_template_image: Option<&'static str>,
}

fn ov(instance_type: &'static str) -> Ov {
    Ov {
        instance_type,
        weight: None,
        own_template_image: None,
    }
}

fn launch_template(moto: &Moto, region: &str, name: &str, image: &str) -> String {
    let lt = moto
        .block_on(
            moto.ec2(region)
                .create_launch_template()
                .launch_template_name(name)
                .launch_template_data(
                    RequestLaunchTemplateData::builder()
                        .image_id(image)
                        .instance_type(InstanceType::T3Micro)
                        .build(),
                )
                .send(),
        )
        .unwrap_or_else(|e| panic!("create launch template {name}: {e:?}"));
    lt.launch_template()
        .and_then(|t| t.launch_template_id())
        .expect("launch template id")
        .to_string()
}

fn spec(id: &str, version: &str) -> LaunchTemplateSpecification {
    LaunchTemplateSpecification::builder()
        .launch_template_id(id)
        .version(version)
        .build()
}

/// A group of `n` capacity units launching through a mixed instances policy over a template on
/// OLD: two On-Demand units as the base, Spot above them. Returns the policy's template id.
fn mixed_group(moto: &Moto, region: &str, name: &str, n: i32, overrides: &[Ov]) -> String {
    let lt = launch_template(moto, region, &format!("{name}-lt"), OLD);
    let overrides: Vec<LaunchTemplateOverrides> = overrides
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let own = o.own_template_image.map(|image| {
                let id = launch_template(moto, region, &format!("{name}-lt-{i}"), image);
                spec(&id, "1")
            });
            LaunchTemplateOverrides::builder()
                .instance_type(o.instance_type)
                .set_weighted_capacity(o.weight.map(|w| w.to_string()))
                .set_launch_template_specification(own)
                .build()
        })
        .collect();
    let policy = MixedInstancesPolicy::builder()
        .launch_template(
            LaunchTemplate::builder()
                .launch_template_specification(spec(&lt, "$Latest"))
                .set_overrides(Some(overrides))
                .build(),
        )
        .instances_distribution(
            InstancesDistribution::builder()
                .on_demand_base_capacity(2)
                .on_demand_percentage_above_base_capacity(0)
                .spot_allocation_strategy("price-capacity-optimized")
                .build(),
        )
        .build();
    let zones = moto
        .block_on(moto.ec2(region).describe_availability_zones().send())
        .expect("zones");
    let mut zones: Vec<String> = zones
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(String::from))
        .collect();
    zones.sort();
    zones.truncate(2);
    moto.block_on(
        moto.autoscaling(region)
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .mixed_instances_policy(policy)
            .min_size(n)
            .max_size(n)
            .desired_capacity(n)
            .health_check_grace_period(1)
            .set_availability_zones(Some(zones))
            .send(),
    )
    .unwrap_or_else(|e| panic!("create group {name}: {e:?}"));
    lt
}

fn describe(moto: &Moto, region: &str, name: &str) -> AutoScalingGroup {
    moto.block_on(
        moto.autoscaling(region)
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send(),
    )
    .expect("describe group")
    .auto_scaling_groups()[0]
        .clone()
}

fn policy(g: &AutoScalingGroup) -> MixedInstancesPolicy {
    g.mixed_instances_policy()
        .cloned()
        .expect("the group keeps its mixed instances policy")
}

/// (template id, version) of the policy's template and of each override's own.
fn templates(p: &MixedInstancesPolicy) -> Vec<Option<(String, String)>> {
    let t = p.launch_template().expect("launch template");
    let of = |s: Option<&LaunchTemplateSpecification>| {
        s.map(|s| {
            (
                s.launch_template_id().unwrap_or_default().to_string(),
                s.version().unwrap_or_default().to_string(),
            )
        })
    };
    std::iter::once(of(t.launch_template_specification()))
        .chain(
            t.overrides()
                .iter()
                .map(|o| of(o.launch_template_specification())),
        )
        .collect()
}

/// Each override's instance type and weight.
type Overrides = Vec<(Option<String>, Option<String>)>;

/// What a release must leave as it was: instance types, weights and the distribution.
fn shape(p: &MixedInstancesPolicy) -> (Overrides, String) {
    let t = p.launch_template().expect("launch template");
    (
        t.overrides()
            .iter()
            .map(|o| {
                (
                    o.instance_type().map(String::from),
                    o.weighted_capacity().map(String::from),
                )
            })
            .collect(),
        format!("{:?}", p.instances_distribution()),
    )
}

fn version_image(moto: &Moto, region: &str, id: &str, version: &str) -> String {
    moto.block_on(
        moto.ec2(region)
            .describe_launch_template_versions()
            .launch_template_id(id)
            .versions(version)
            .send(),
    )
    .expect("describe versions")
    .launch_template_versions()[0]
        .launch_template_data()
        .and_then(|d| d.image_id())
        .unwrap_or_default()
        .to_string()
}

/// Releases of every group in `var.groups` onto `var.image_id`, as a user writes several.
fn config(extra: &str) -> String {
    format!(
        r#"{TF_HEADER}
variable "image_id" {{
  type = string
}}

variable "groups" {{
  type = set(string)
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "rolling_asg_release" "web" {{
  for_each               = var.groups
  provider               = immutable
  autoscaling_group_name = each.key
  image_id               = var.image_id
  batch_size             = "50%"
  instance_warmup        = "0s"
  batch_timeout          = "2m"
  {extra}
}}
"#
    )
}

fn vars(groups: &str) -> [(&str, &str); 2] {
    [("image_id", NEW), ("groups", groups)]
}

fn planned(tf: &Terraform, groups: &str) -> Vec<Value> {
    tf.plan_out(&vars(groups), "mixed.tfplan").assert_success();
    let plan = tf.show_json("mixed.tfplan");
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "rolling_asg_release")
        .map(|r| r["change"]["after"].clone())
        .collect()
}

#[test]
fn the_policy_template_and_an_override_template_get_new_versions_and_the_split_stays() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    let plain = mixed_group(
        moto,
        region,
        "mixed-a",
        4,
        &[ov("t3.micro"), ov("t3.small")],
    );
    let with_own = mixed_group(
        moto,
        region,
        "mixed-b",
        4,
        &[
            ov("t3.micro"),
            Ov {
                own_template_image: Some(OLD),
                ..ov("m5.large")
            },
        ],
    );
    let before: Vec<MixedInstancesPolicy> = ["mixed-a", "mixed-b"]
        .iter()
        .map(|g| policy(&describe(moto, region, g)))
        .collect();
    let own_id = templates(&before[1])[2]
        .clone()
        .expect("override 1's own template")
        .0;
    let tf = Terraform::new(moto, region, &config(""));
    let groups = r#"["mixed-a","mixed-b"]"#;

    let after = planned(&tf, groups);
    assert_eq!(after.len(), 2);
    for a in &after {
        assert_eq!(
            a["launch_mode"], "launch_template",
            "inferred from the policy: {a}"
        );
        assert_eq!(a["previous_image_id"], OLD, "{a}");
        let schedule: Value = serde_json::from_str(a["schedule"].as_str().unwrap()).unwrap();
        let kinds: Vec<&str> = schedule["schedule"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["kind"].as_str().unwrap())
            .collect();
        assert!(
            !kinds.contains(&"mixed_instances_policy"),
            "no warning about the policy any more: {kinds:?}"
        );
    }
    tf.run(&["apply", "-auto-approve", "mixed.tfplan"], &[])
        .assert_success();

    for (i, (name, lt)) in [("mixed-a", &plain), ("mixed-b", &with_own)]
        .iter()
        .enumerate()
    {
        let g = describe(moto, region, name);
        let now = policy(&g);
        assert_eq!(
            shape(&now),
            shape(&before[i]),
            "{name}: instance types, weights and the Spot/On-Demand split unchanged"
        );
        let t = templates(&now);
        let (id, version) = t[0].clone().unwrap();
        assert_eq!(&id, *lt);
        assert_eq!(version, "2", "{name}: pinned to the release's new version");
        assert_eq!(version_image(moto, region, &id, &version), NEW);
        assert!(
            g.launch_template().is_none(),
            "{name}: still a policy's group, not a launch template's"
        );
        let state = group_state(moto, region, name);
        assert_eq!(state.images.len(), 4, "{name}: {:?}", state.images);
        assert_eq!(state.count_on(NEW), 4, "{name}: {:?}", state.images);
        assert!(!state.tags.contains_key("immutable:release"), "{name}");
        assert!(!state.tags.contains_key("immutable:release-lock"), "{name}");
    }
    let b = templates(&policy(&describe(moto, region, "mixed-b")));
    assert_eq!(b[1], None, "override 0 has no template of its own");
    let (id, version) = b[2]
        .clone()
        .expect("override 1 keeps a template of its own");
    assert_eq!(id, own_id);
    assert_eq!(
        version, "2",
        "override 1's template got a version of its own"
    );
    assert_eq!(version_image(moto, region, &id, &version), NEW);

    tf.plan(&vars(groups)).assert_status(0);
}

#[test]
fn a_failed_release_restores_the_exact_policy_versions() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    mixed_group(
        moto,
        region,
        "mixed-shaky",
        4,
        &[
            ov("t3.micro"),
            Ov {
                own_template_image: Some(OLD),
                ..ov("m5.large")
            },
        ],
    );
    let before = policy(&describe(moto, region, "mixed-shaky"));
    let tf = Terraform::new(
        moto,
        region,
        &config("auto_rollback = true").replace(
            r#"instance_warmup        = "0s""#,
            r#"instance_warmup        = "20s""#,
        ),
    );
    let marker = e2e_tests::UnhealthyMarker::start(moto, region, NEW);
    let run = tf.apply(&vars(r#"["mixed-shaky"]"#));
    drop(marker);
    assert!(!run.success(), "{}", run.combined());
    let out = run
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        out.contains(&format!("the group launches {OLD} again")),
        "{out}"
    );
    let after = policy(&describe(moto, region, "mixed-shaky"));
    let (was, now) = (templates(&before), templates(&after));
    // The policy's `$Latest` was pinned to its number for the release: the rollback returns to
    // that number, and each override's own template to its version.
    assert_eq!(now[0].as_ref().unwrap().1, "1", "{now:?}");
    assert_eq!(now[0].as_ref().unwrap().0, was[0].as_ref().unwrap().0);
    assert_eq!(now[1], was[1]);
    assert_eq!(
        now[2], was[2],
        "override 1 back on its own previous version"
    );
    assert_eq!(shape(&after), shape(&before));
    let state = group_state(moto, region, "mixed-shaky");
    assert!(
        state.images.values().all(|i| i == OLD),
        "{:?}",
        state.images
    );
}

#[test]
fn an_override_on_another_image_is_refused_at_plan_naming_it() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    let lt = mixed_group(
        moto,
        region,
        "mixed-arm",
        2,
        &[
            ov("t3.micro"),
            Ov {
                own_template_image: Some(OTHER),
                ..ov("m6g.large")
            },
        ],
    );
    let tf = Terraform::new(moto, region, &config(""));
    let run = tf.plan(&vars(r#"["mixed-arm"]"#));
    run.assert_failure_contains("Cannot move override 1 (m6g.large) of group mixed-arm");
    let out = run
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        out.contains(OTHER),
        "names what the override launches: {out}"
    );
    assert!(out.contains("image_id"), "at the attribute: {out}");
    // Refused before anything: no lock, no record, no new version.
    let state = group_state(moto, region, "mixed-arm");
    assert!(state.tags.is_empty(), "{:?}", state.tags);
    let versions = moto
        .block_on(
            moto.ec2(region)
                .describe_launch_template_versions()
                .launch_template_id(&lt)
                .send(),
        )
        .unwrap();
    assert_eq!(versions.launch_template_versions().len(), 1);
}

#[test]
fn external_mode_reads_the_policy_template() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    let lt = mixed_group(
        moto,
        region,
        "mixed-ext",
        2,
        &[ov("t3.micro"), ov("t3.small")],
    );
    // The tool that owns the template moves it ($Latest) before the release runs.
    moto.block_on(
        moto.ec2(region)
            .create_launch_template_version()
            .launch_template_id(&lt)
            .source_version("1")
            .launch_template_data(RequestLaunchTemplateData::builder().image_id(NEW).build())
            .send(),
    )
    .unwrap();
    let tf = Terraform::new(moto, region, &config(r#"launch_mode = "external""#));
    tf.apply(&vars(r#"["mixed-ext"]"#)).assert_success();
    let state = group_state(moto, region, "mixed-ext");
    assert_eq!(state.count_on(NEW), 2, "{:?}", state.images);
    let t = templates(&policy(&describe(moto, region, "mixed-ext")));
    assert_eq!(
        t[0].as_ref().unwrap().1,
        "$Latest",
        "external mode leaves the policy as its owner set it"
    );
}

/// The fewest healthy in-service capacity units the group had while it was watched.
struct FloorWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<(u32, usize)>>,
}

impl FloorWatch {
    fn start(moto: &Moto, region: &str, group: &str) -> FloorWatch {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, endpoint, region, group) = (
            stop.clone(),
            moto.endpoint(),
            region.to_string(),
            group.to_string(),
        );
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let asg = e2e_tests::autoscaling_client(&endpoint, &region);
            let (mut lowest, mut reads) = (u32::MAX, 0);
            while !flag.load(Ordering::SeqCst) {
                if let Ok(out) = rt.block_on(
                    asg.describe_auto_scaling_groups()
                        .auto_scaling_group_names(&group)
                        .send(),
                ) {
                    let units: u32 = out.auto_scaling_groups()[0]
                        .instances()
                        .iter()
                        .filter(|i| {
                            i.lifecycle_state().map(|s| s.as_str()) == Some("InService")
                                && i.health_status() == Some("Healthy")
                        })
                        .map(|i| {
                            i.weighted_capacity()
                                .and_then(|w| w.parse::<u32>().ok())
                                .expect("each instance reports its weight")
                        })
                        .sum();
                    lowest = lowest.min(units);
                    reads += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            (lowest, reads)
        });
        FloorWatch {
            stop,
            thread: Some(thread),
        }
    }

    fn lowest(mut self) -> (u32, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

#[test]
fn a_weighted_group_is_released_in_units_with_the_floor_held_in_units() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    // 8 units: moto launches by the first override's weight, so four instances of weight 2.
    mixed_group(
        moto,
        region,
        "weighted",
        8,
        &[
            Ov {
                weight: Some(2),
                ..ov("t3.micro")
            },
            Ov {
                weight: Some(1),
                ..ov("t3.nano")
            },
        ],
    );
    let before = group_state(moto, region, "weighted");
    assert_eq!((before.desired, before.images.len()), (8, 4));
    let tf = Terraform::new(
        moto,
        region,
        &config(
            r#"strategy               = "replace"
  min_healthy_percentage = 50"#,
        ),
    );
    let groups = r#"["weighted"]"#;
    let after = planned(&tf, groups);
    let schedule: Value = serde_json::from_str(after[0]["schedule"].as_str().unwrap()).unwrap();
    let s = &schedule["schedule"];
    assert_eq!(s["batch_size"], 4, "50% of 8 units: {s}");
    assert_eq!(s["healthy_floor"], 4, "50% of 8 units: {s}");
    let batches = s["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2, "{s}");
    for b in batches {
        assert_eq!(b["units"], 4, "{b}");
        assert_eq!(b["instance_ids"].as_array().unwrap().len(), 2, "{b}");
        assert_eq!(
            b["capacity_during"]["healthy_in_service"], 4,
            "in units: {b}"
        );
    }

    // The pull-request preview of that plan reads in units and instances.
    let shown = tf.run(&["show", "-json", "mixed.tfplan"], &[]);
    shown.assert_success();
    let plan_file = tf.dir().join("mixed.json");
    std::fs::write(&plan_file, &shown.stdout).unwrap();
    let planner = e2e_tests::find_plugin_dir()
        .expect("the binaries are built")
        .join("planner");
    let preview = std::process::Command::new(planner)
        .args(["preview", plan_file.to_str().unwrap(), "--format", "text"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run planner");
    let text = String::from_utf8(preview.stdout).unwrap();
    assert!(preview.status.success(), "{text}");
    assert!(text.contains("batches of 4 units"), "{text}");
    assert!(text.contains("Healthy floor: 4 units in service"), "{text}");
    assert!(text.contains("Batch 1: 4 units (2 instances): "), "{text}");
    assert!(text.contains("Batch 2: 4 units (2 instances): "), "{text}");

    let watch = FloorWatch::start(moto, region, "weighted");
    tf.run(&["apply", "-auto-approve", "mixed.tfplan"], &[])
        .assert_success();
    let (lowest, reads) = watch.lowest();
    assert!(reads > 3, "the group was watched ({reads} reads)");
    // moto starts a replacement the moment an instance leaves, so the dip the plan allows
    // (down to 4 units) is rarely seen here; a batch taking more than its units would be.
    assert!(lowest >= 4, "the floor held in units: lowest {lowest}");
    let state = tf.state_json();
    let replaced =
        state["values"]["root_module"]["resources"][0]["values"]["replaced_instances"].clone();
    let planned_ids: Vec<Value> = batches
        .iter()
        .flat_map(|b| b["instance_ids"].as_array().unwrap().clone())
        .collect();
    assert_eq!(
        replaced,
        Value::Array(planned_ids),
        "the planned batches, in order"
    );

    let done = group_state(moto, region, "weighted");
    assert_eq!(done.count_on(NEW), 4, "{:?}", done.images);
    assert_eq!(done.images.len(), 4, "{:?}", done.images);
    assert_eq!((done.desired, done.min, done.max), (8, 8, 8));
    tf.plan(&vars(groups)).assert_status(0);
}
