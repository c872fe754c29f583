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
use e2e_tests::aws_sdk_ec2::types::RequestLaunchTemplateData;
use e2e_tests::serde_json::Value;
use e2e_tests::{
    create_group, group_state, launch_template, Moto, Terraform, Watched, Watching, TF_HEADER,
};

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
    create_group(moto, region, name, n, |req| {
        req.mixed_instances_policy(policy)
    });
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

    let after = tf.planned_releases(&vars(groups), "mixed.tfplan");
    assert_eq!(after.len(), 2);
    for a in &after {
        assert_eq!(
            a["launch_mode"], "launch_template",
            "inferred from the policy: {a}"
        );
        assert_eq!(a["previous_image_id"], OLD, "{a}");
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
        state.assert_all_on(NEW, 4);
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
    let marker = Watching::unhealthy(NEW).start(moto, region);
    let run = tf.apply(&vars(r#"["mixed-shaky"]"#));
    drop(marker);
    assert!(!run.success(), "{}", run.combined());
    let out = run.one_line();
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
    group_state(moto, region, "mixed-shaky").assert_all_on(OLD, 4);
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
    let out = run.one_line();
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
    group_state(moto, region, "mixed-ext").assert_all_on(NEW, 2);
    let t = templates(&policy(&describe(moto, region, "mixed-ext")));
    assert_eq!(
        t[0].as_ref().unwrap().1,
        "$Latest",
        "external mode leaves the policy as its owner set it"
    );
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
    let after = tf.planned_releases(&vars(groups), "mixed.tfplan");
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
    let text = tf.preview_text("mixed.tfplan");
    assert!(text.contains("batches of 4 units"), "{text}");
    assert!(text.contains("Healthy floor: 4 units in service"), "{text}");
    assert!(text.contains("Batch 1: 4 units (2 instances): "), "{text}");
    assert!(text.contains("Batch 2: 4 units (2 instances): "), "{text}");

    let watch = Watching::floor("weighted").start(moto, region);
    tf.run(&["apply", "-auto-approve", "mixed.tfplan"], &[])
        .assert_success();
    let Watched {
        lowest_healthy_units: lowest,
        reads,
    } = watch.stop();
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
    done.assert_all_on(NEW, 4);
    assert_eq!((done.desired, done.min, done.max), (8, 8, 8));
    tf.plan(&vars(groups)).assert_status(0);
}

#[test]
fn a_weighted_surge_under_the_maintenance_policy_holds_the_groups_overage_or_is_refused() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    // 8 units in four instances of weight 2; the group may launch one unit past desired.
    mixed_group(
        moto,
        region,
        "capped",
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
    let groups = r#"["capped"]"#;
    let tf = Terraform::new(moto, region, &config(r#"strategy = "surge""#));

    // MaxHealthyPercentage 120: 10 units at most, room 2, less the overage of 1: no instance
    // of weight 2 fits in a step. Refused at plan, at `strategy`, with what would plan.
    e2e_tests::shape_group(moto, region, "capped", (50, 120), None, None);
    let run = tf.plan(&vars(groups));
    run.assert_failure_contains("MaxHealthyPercentage 120");
    let out = run.combined();
    assert!(out.contains("to 138 or more"), "{out}");
    assert!(
        out.contains(r#"strategy = "surge""#),
        "at the attribute: {out}"
    );
    assert_eq!(
        group_state(moto, region, "capped").count_on(OLD),
        4,
        "nothing changed"
    );

    // 150: 12 units at most, room 4, steps of at most 3 units: one instance at a time, and the
    // raised desired capacity with the overage stays within the cap.
    e2e_tests::shape_group(moto, region, "capped", (50, 150), None, None);
    let after = tf.planned_releases(&vars(groups), "capped.tfplan");
    let schedule: Value = serde_json::from_str(after[0]["schedule"].as_str().unwrap()).unwrap();
    let s = &schedule["schedule"];
    assert_eq!(s["batch_size"], 3, "capped below 50% of 8 units: {s}");
    let batches = s["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 4, "{s}");
    for b in batches {
        assert_eq!(b["units"], 2, "{b}");
        let (desired, overage) = (b["capacity_during"]["desired"].as_u64().unwrap(), 1);
        assert!(
            desired + overage <= 12,
            "within the cap with the overage: {b}"
        );
    }
    tf.run(&["apply", "-auto-approve", "capped.tfplan"], &[])
        .assert_success();
    group_state(moto, region, "capped").assert_all_on(NEW, 4);
}
