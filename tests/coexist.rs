//! Coexisting with the hashicorp/aws provider (`launch_mode = "external"`), end to end: the real
//! terraform CLI, the plugin, moto. hashicorp/aws cannot be downloaded here, so its part is played
//! out of band: the launch template and the group are created through the SDK (as the aws
//! provider would have created them), and the template's default version is moved to the new
//! image by the test (or, in the full pattern, by a `terraform_data` step in the same apply,
//! ordered exactly where `aws_launch_template` would be). The assertions are the contract of the
//! mode: the release replaces exactly the instances not on the image, in batches; it never edits
//! the template nor the group's launch setting; and the next plan is empty.
//!
//! Also here: the `immutable_image` data source read from another stack, and the examples'
//! formatting (`terraform fmt -check`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e_tests::aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use e2e_tests::aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
use e2e_tests::serde_json::{json, Value};
use e2e_tests::TF_HEADER;
use e2e_tests::{launch_template, Moto, Terraform, Watching};

/// Two of moto's built-in AMIs: what the group runs, and what the release moves it to.
const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";

/// Calls that would edit a launch template or a launch configuration. Counted per region: the
/// test's own out-of-band calls are known, so any extra one came from the provider.
const LAUNCH_EDITS: [&str; 4] = [
    "CreateLaunchTemplateVersion",
    "ModifyLaunchTemplate",
    "CreateLaunchConfiguration",
    "DeleteLaunchTemplateVersions",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

// ---- the out-of-band side: what hashicorp/aws would have done -------------------------------

/// A group of `n` instances over two zones on `version` (`$Default`, `$Latest`, a number) of the
/// template (as `aws_autoscaling_group` with a `launch_template` block creates it).
fn group_on(moto: &Moto, region: &str, name: &str, template: &str, version: &str, n: i32) {
    moto.block_on(
        moto.autoscaling(region)
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(template)
                    .version(version)
                    .build(),
            )
            .min_size(n)
            .max_size(n + 4)
            .desired_capacity(n)
            // A release waits out the grace period: moto's default is 300 s (AWS's API: 0), and
            // moto reads 0 as "unset".
            .health_check_grace_period(1)
            .availability_zones(format!("{region}a"))
            .availability_zones(format!("{region}b"))
            .send(),
    )
    .unwrap();
}

/// A new template version on `image` (the full data, as the aws provider sends it); with
/// `make_default`, also the template's default version (`update_default_version = true`).
fn new_version(moto: &Moto, region: &str, template: &str, image: &str, make_default: bool) -> i64 {
    let ec2 = moto.ec2(region);
    let out = moto
        .block_on(
            ec2.create_launch_template_version()
                .launch_template_id(template)
                .launch_template_data(
                    RequestLaunchTemplateData::builder()
                        .image_id(image)
                        .instance_type(InstanceType::T3Micro)
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let n = out
        .launch_template_version()
        .unwrap()
        .version_number()
        .unwrap();
    if make_default {
        moto.block_on(
            ec2.modify_launch_template()
                .launch_template_id(template)
                .default_version(n.to_string())
                .send(),
        )
        .unwrap();
    }
    n
}

/// The template as the aws provider would read it back: (version, image) pairs and the default.
fn template_versions(moto: &Moto, region: &str, template: &str) -> (Vec<(i64, String)>, i64) {
    let ec2 = moto.ec2(region);
    let out = moto
        .block_on(
            ec2.describe_launch_template_versions()
                .launch_template_id(template)
                .send(),
        )
        .unwrap();
    let mut versions: Vec<(i64, String)> = out
        .launch_template_versions()
        .iter()
        .map(|v| {
            (
                v.version_number().unwrap(),
                v.launch_template_data()
                    .and_then(|d| d.image_id())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    versions.sort();
    let default = out
        .launch_template_versions()
        .iter()
        .find(|v| v.default_version() == Some(true))
        .and_then(|v| v.version_number())
        .unwrap();
    (versions, default)
}

fn set_desired(moto: &Moto, region: &str, name: &str, desired: i32) {
    moto.block_on(
        moto.autoscaling(region)
            .set_desired_capacity()
            .auto_scaling_group_name(name)
            .desired_capacity(desired)
            .send(),
    )
    .unwrap();
}

fn launch_edits(moto: &Moto, region: &str) -> BTreeMap<&'static str, usize> {
    let calls = moto.recorded_calls(region);
    LAUNCH_EDITS
        .iter()
        .map(|a| (*a, calls.iter().filter(|c| c.action == *a).count()))
        .collect()
}

/// The group as the aws provider's refresh (and these assertions) see it.
type Group = e2e_tests::GroupState;

fn group(moto: &Moto, region: &str, name: &str) -> Group {
    e2e_tests::group_state(moto, region, name)
}

/// What every finished release must leave behind: the group's own capacity, no suspended
/// process, no lock or record tag, and the launch setting it had.
fn assert_group_restored(after: &Group, before: &Group) {
    assert!(
        !after.tags.keys().any(|k| k.starts_with("immutable:")),
        "lock and record removed: {:?}",
        after.tags
    );
    assert_settings_restored(after, before);
}

/// [`assert_group_restored`] for a release that stopped early: its record may stay (paused, for
/// the next apply), its lock may not.
fn assert_settings_restored(after: &Group, before: &Group) {
    assert_eq!(
        (after.desired, after.min, after.max),
        (before.desired, before.min, before.max),
        "capacity restored"
    );
    assert!(
        after.suspended.is_empty(),
        "processes resumed: {:?}",
        after.suspended
    );
    assert!(
        !after.tags.contains_key("immutable:release-lock"),
        "lock removed: {:?}",
        after.tags
    );
    assert_eq!(
        after.launch, before.launch,
        "the group's launch setting is not the release's to change"
    );
}

// ---- the terraform side ------------------------------------------------------------------

/// The release of `group` onto `var.image` in batches of two, with the launch template owned
/// elsewhere (`launch_mode = "external"`).
fn release_config(group: &str, extra: &str) -> String {
    let release = e2e_tests::release_config(
        group,
        OLD,
        "60s",
        &format!("launch_mode            = \"external\"\n  {extra}"),
    )
    .replace(
        r#"batch_size             = "25%""#,
        r#"batch_size             = "2""#,
    );
    format!(
        r#"{release}
output "replaced" {{ value = rolling_asg_release.web.replaced_instances }}
output "outdated" {{ value = rolling_asg_release.web.outdated_instances }}
"#
    )
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The planned change of the release in a saved plan.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- launch_mode = "external" ------------------------------------------------------------

/// The issue's scenario: the group runs `$Default` of a template; the plan is made while the
/// template still launches the old image; then the template's default version moves to the new
/// image (the aws provider applying `aws_launch_template.image_id = immutable_image.web.id`);
/// then the saved plan is applied.
#[test]
fn default_version_moved_between_plan_and_apply() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let lt = launch_template(moto, region, "web-lt", OLD);
    group_on(moto, region, "web", &lt, "$Default", 4);
    let before = group(moto, region, "web");
    assert_eq!(before.on(OLD).len(), 4);
    let tf = Terraform::new(moto, region, &release_config("web", ""));

    let planned = tf.planned_release(&[("image", NEW)], "release.tfplan");
    let batches: Vec<Vec<String>> = planned["planned_batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    assert_eq!(batches.len(), 2, "4 instances in batches of 2: {batches:?}");
    assert_eq!(
        sorted(batches.concat()),
        sorted(before.on(OLD)),
        "the plan shows every outdated instance exactly once"
    );
    assert_eq!(planned["previous_image_id"], json!(OLD));
    assert_eq!(planned["launch_mode"], json!("external"));

    // hashicorp/aws applies the template change: version 2 on the new image, made the default.
    assert_eq!(new_version(moto, region, &lt, NEW, true), 2);
    let edits = launch_edits(moto, region);

    let run = tf.run(
        &["apply", "-auto-approve", "release.tfplan"],
        &[("TF_LOG_PROVIDER", "info")],
    );
    run.assert_success();
    assert!(run.stderr.contains("batch 2 of 2"), "progress is logged");
    let replaced = strings(&tf.output("replaced"));
    assert_eq!(
        replaced,
        batches.concat(),
        "apply replaced exactly the planned instances, in the planned order"
    );

    let after = group(moto, region, "web");
    after.assert_all_on(NEW, 4);
    assert!(
        after
            .images
            .keys()
            .all(|id| !before.images.contains_key(id)),
        "every old instance was replaced"
    );
    assert_group_restored(&after, &before);
    assert_eq!(
        after.launch,
        Some((lt.clone(), "$Default".to_string())),
        "still on the template's $Default"
    );
    assert_eq!(
        template_versions(moto, region, &lt),
        (vec![(1, OLD.to_string()), (2, NEW.to_string())], 2),
        "the template is exactly as the aws provider left it"
    );
    assert_eq!(
        launch_edits(moto, region),
        edits,
        "the release edited no launch template nor launch configuration"
    );

    // What the aws provider would see on its next refresh is what it wrote; and this provider's
    // side has nothing left to do.
    tf.plan(&[("image", NEW)]).assert_status(0);
}

/// A group on `$Latest` that already runs some instances of the new image (a scale-out after the
/// template moved): only the others are replaced, and the new ones stay untouched.
#[test]
fn latest_version_only_outdated_instances_are_replaced() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let lt = launch_template(moto, region, "api-lt", OLD);
    group_on(moto, region, "api", &lt, "$Latest", 3);
    new_version(moto, region, &lt, NEW, false);
    set_desired(moto, region, "api", 5);
    let before = group(moto, region, "api");
    let (old, already) = (before.on(OLD), before.on(NEW));
    assert_eq!((old.len(), already.len()), (3, 2), "{:?}", before.images);
    let tf = Terraform::new(moto, region, &release_config("api", ""));

    let planned = tf.planned_release(&[("image", NEW)], "release.tfplan");
    let batches: Vec<Vec<String>> = planned["planned_batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    assert_eq!(
        sorted(batches.concat()),
        sorted(old.clone()),
        "only the instances not on the image are scheduled"
    );
    assert_eq!(
        planned["previous_image_id"],
        json!(OLD),
        "the image being replaced"
    );

    let edits = launch_edits(moto, region);
    tf.run(&["apply", "-auto-approve", "release.tfplan"], &[])
        .assert_success();
    assert_eq!(sorted(strings(&tf.output("replaced"))), sorted(old.clone()));

    let after = group(moto, region, "api");
    after.assert_all_on(NEW, 5);
    for id in &already {
        assert!(
            after.images.contains_key(id),
            "{id} was already on the image and stays"
        );
    }
    for id in &old {
        assert!(!after.images.contains_key(id), "{id} was replaced");
    }
    assert_group_restored(&after, &before);
    assert_eq!(launch_edits(moto, region), edits);
    assert_eq!(
        template_versions(moto, region, &lt),
        (vec![(1, OLD.to_string()), (2, NEW.to_string())], 1)
    );
    tf.plan(&[("image", NEW)]).assert_status(0);
}

/// The template was not moved (the aws provider has not applied, or `depends_on` is missing):
/// the release refuses before replacing anything, and says what to fix.
#[test]
fn refuses_while_the_template_still_launches_the_old_image() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let lt = launch_template(moto, region, "early-lt", OLD);
    group_on(moto, region, "early", &lt, "$Default", 2);
    let before = group(moto, region, "early");
    let tf = Terraform::new(moto, region, &release_config("early", ""));

    let run = tf.apply(&[("image", NEW)]);
    let out = run.one_line();
    assert!(!run.success(), "{out}");
    assert!(
        out.contains(&format!("launches {OLD} but the release targets {NEW}")),
        "{out}"
    );
    assert!(out.contains("aws_launch_template.image_id"), "{out}");

    let after = group(moto, region, "early");
    assert_eq!(after.images, before.images, "no instance replaced");
    assert_group_restored(&after, &before);
    assert_eq!(
        launch_edits(moto, region).values().sum::<usize>(),
        0,
        "nothing edited the template"
    );
    assert_eq!(
        template_versions(moto, region, &lt),
        (vec![(1, OLD.to_string())], 1)
    );
}

/// A batch that never becomes healthy: its new instances are removed and the group's capacity
/// restored as in the other modes, but nothing is "rolled back" onto the previous image — that
/// would need a launch setting on that image, and the launch template is the other tool's. The
/// error says so and how to roll back; the replaced-so-far state is what the next plan shows.
#[test]
fn failed_batch_is_cleaned_up_and_the_error_says_how_to_roll_back() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let lt = launch_template(moto, region, "shaky-lt", OLD);
    group_on(moto, region, "shaky", &lt, "$Default", 4);
    new_version(moto, region, &lt, NEW, true);
    let before = group(moto, region, "shaky");
    let edits = launch_edits(moto, region);
    let tf = Terraform::new(
        moto,
        region,
        &release_config("shaky", "").replace(
            r#"instance_warmup        = "0s""#,
            r#"instance_warmup        = "20s""#,
        ),
    );

    // Every instance of the new image is marked Unhealthy as soon as it appears.
    let marker = Watching::unhealthy(NEW).start(moto, region);
    let run = tf.apply(&[("image", NEW)]);
    drop(marker);
    let out = run.one_line();
    assert!(!run.success(), "{out}");
    assert!(out.contains("Release failed"), "{out}");
    assert!(out.contains("marked Unhealthy"), "{out}");
    assert!(
        out.contains("no automatic rollback: in external launch mode"),
        "the error says why nothing was rolled back: {out}"
    );
    assert!(
        out.contains("terminated the failed batch's new instances"),
        "{out}"
    );

    let after = group(moto, region, "shaky");
    assert_eq!(
        after.images, before.images,
        "the old instances serve on; the failed batch's new ones are gone"
    );
    assert_settings_restored(&after, &before);
    assert_eq!(launch_edits(moto, region), edits, "template untouched");
    // The release is still to be done: the next plan shows it again.
    tf.plan(&[("image", NEW)]).assert_status(2);
}

/// The whole pattern of examples/existing-asg in one configuration: a tag change bakes the image,
/// the launch template moves to it (here a `terraform_data` step stands where
/// `aws_launch_template` is, with the same dependencies), and the release rolls the group — all
/// in one apply; the next plan is empty. Then the documented rollback of external mode: the
/// previous tag again, which adopts the previous image (nothing baked) and rolls back to it.
#[test]
fn tag_change_bakes_moves_the_template_and_rolls_the_group_in_one_apply() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let lt = launch_template(moto, region, "app-lt", OLD);
    group_on(moto, region, "app", &lt, "$Default", 3);
    let before = group(moto, region, "app");
    let python = std::env::var("E2E_PYTHON").unwrap_or_else(|_| "python3".into());
    let tf = Terraform::new(
        moto,
        region,
        &format!(
            r##"
{TF_HEADER}
variable "tag" {{
  type = string
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "immutable_image" "web" {{
  source_ami    = "{OLD}"
  code_tag      = var.tag
  script        = "#!/bin/sh\necho deploying $1\n"
  name_template = "app-{{{{tag}}}}-{{{{timestamp}}}}"
  tags          = {{ app = "app" }}

  retain_on_destroy = true
}}

# Stands for aws_launch_template.web with image_id = immutable_image.web.id and
# update_default_version = true: a new version on the image, made the default.
resource "terraform_data" "launch_template" {{
  triggers_replace = immutable_image.web.id

  provisioner "local-exec" {{
    command = "{python} move_template.py ${{var.aws_endpoint}} {lt} ${{immutable_image.web.id}}"
  }}
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "app"
  image_id               = immutable_image.web.id
  launch_mode            = "external"
  batch_size             = "2"
  instance_warmup        = "0s"
  batch_timeout          = "60s"

  depends_on = [terraform_data.launch_template]
}}

output "image" {{ value = immutable_image.web.id }}
output "replaced" {{ value = rolling_asg_release.web.replaced_instances }}
"##
        ),
    );
    tf.write_file(
        "move_template.py",
        r#"import sys
import boto3

endpoint, template, image = sys.argv[1:4]
ec2 = boto3.client("ec2", endpoint_url=endpoint)
version = ec2.create_launch_template_version(
    LaunchTemplateId=template,
    LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
)["LaunchTemplateVersion"]["VersionNumber"]
ec2.modify_launch_template(LaunchTemplateId=template, DefaultVersion=str(version))
print(f"{template}: version {version} launches {image} and is the default")
"#,
    );

    let mut previous: Vec<String> = before.images.keys().cloned().collect();
    let mut baked: Vec<String> = vec![];
    for (i, tag) in ["v1.0.0", "v1.1.0", "v1.0.0"].into_iter().enumerate() {
        let edits_before = launch_edits(moto, region);
        let builders_before = moto.count(region, "RunInstances");
        tf.apply(&[("tag", tag)]).assert_success();
        let image = tf.output("image").as_str().unwrap().to_string();
        let after = group(moto, region, "app");
        assert_eq!(after.on(&image).len(), 3, "{tag}: {:?}", after.images);
        assert_eq!(
            sorted(strings(&tf.output("replaced"))),
            sorted(previous.clone()),
            "{tag}: every instance of the previous image replaced"
        );
        assert_group_restored(&after, &before);
        let (versions, default) = template_versions(moto, region, &lt);
        assert_eq!(
            versions.len(),
            2 + i,
            "one version per release: {versions:?}"
        );
        assert_eq!(
            versions.last(),
            Some(&(default, image.clone())),
            "the default version is the one the aws side wrote"
        );
        let edits = launch_edits(moto, region);
        assert_eq!(
            edits["CreateLaunchTemplateVersion"] - edits_before["CreateLaunchTemplateVersion"],
            1,
            "{tag}: only the aws side created a template version"
        );
        assert_eq!(
            edits["ModifyLaunchTemplate"] - edits_before["ModifyLaunchTemplate"],
            1,
            "{tag}: only the aws side moved the default version"
        );
        assert_eq!(edits["CreateLaunchConfiguration"], 0);
        let builders = moto.count(region, "RunInstances") - builders_before;
        if i < 2 {
            assert_eq!(builders, 1, "{tag}: baked");
            baked.push(image.clone());
        } else {
            assert_eq!(
                (image.as_str(), builders),
                (baked[0].as_str(), 0),
                "rollback: the previous image is adopted again, nothing is baked"
            );
        }
        tf.plan(&[("tag", tag)]).assert_status(0);
        previous = after.images.keys().cloned().collect();
    }
    let mut kept: Vec<String> = moto
        .images(region)
        .iter()
        .map(|i| i.image_id().unwrap().to_string())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        sorted(baked),
        "retain_on_destroy: replaced images stay for a rollback"
    );
}

// ---- the immutable_image data source -----------------------------------------------------

fn baking_config(images: &[(&str, &str, &str)]) -> String {
    let mut s = String::from(
        r#"
terraform {
  required_providers {
    immutable = { source = "immutable-release/immutable" }
  }
}

variable "aws_endpoint" {
  type    = string
  default = null
}

provider "immutable" {
  endpoint = var.aws_endpoint
}
"#,
    );
    for (name, app, tag) in images {
        s.push_str(&format!(
            r#"
resource "immutable_image" "{name}" {{
  source_ami    = "{OLD}"
  code_tag      = "{tag}"
  script        = "echo {name}"
  name_template = "{app}-{{{{tag}}}}-{{{{timestamp}}}}"
  tags          = {{ app = "{app}" }}
}}

output "{name}" {{
  value = {{
    id           = immutable_image.{name}.id
    name         = immutable_image.{name}.name
    fingerprint  = immutable_image.{name}.fingerprint
    created_at   = immutable_image.{name}.created_at
    snapshot_ids = immutable_image.{name}.snapshot_ids
  }}
}}
"#
        ));
    }
    s
}

fn reading_config(data: &str) -> String {
    format!(
        r#"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

data "immutable_image" "found" {{
{data}
}}

output "found" {{ value = data.immutable_image.found }}
"#
    )
}

/// Another stack (no shared state) finds what `immutable_image` baked, by code tag, tags, name
/// prefix and fingerprint; wrong input is refused before any AWS call; no match and an
/// ambiguous match are errors that name the filter.
#[test]
fn data_source_finds_the_current_release_from_another_stack() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // The baking stack: web v1 first, then web v2 and an api image (each a second apart, so
    // "newest" is well defined: AMI creation dates have a resolution of one second).
    let baker = Terraform::new(moto, region, &baking_config(&[("web_v1", "web", "v1")]));
    baker.apply(&[]).assert_success();
    std::thread::sleep(Duration::from_millis(1100));
    baker.write_file(
        "main.tf",
        &baking_config(&[("web_v1", "web", "v1"), ("web_v2", "web", "v2")]),
    );
    baker.apply(&[]).assert_success();
    std::thread::sleep(Duration::from_millis(1100));
    baker.write_file(
        "main.tf",
        &baking_config(&[
            ("web_v1", "web", "v1"),
            ("web_v2", "web", "v2"),
            ("api", "api", "v2"),
        ]),
    );
    baker.apply(&[]).assert_success();
    let v1 = baker.output("web_v1");
    let v2 = baker.output("web_v2");
    let api = baker.output("api");

    let reader = Terraform::new(moto, region, &reading_config(r#"  code_tag = "v1""#));
    let read = |data: &str| {
        reader.write_file("main.tf", &reading_config(data));
        reader.apply(&[]).assert_success();
        reader.output("found")
    };

    // By code tag: the image baked for it, with everything a launch template needs.
    let found = read(r#"  code_tag = "v1""#);
    assert_eq!(found["id"], v1["id"]);
    assert_eq!(found["name"], v1["name"]);
    assert_eq!(found["fingerprint"], v1["fingerprint"]);
    assert_eq!(found["created_at"], v1["created_at"]);
    assert_eq!(found["snapshot_ids"], v1["snapshot_ids"]);
    assert_eq!(found["source_ami_id"], json!(OLD));
    assert!(
        found["root_device_name"]
            .as_str()
            .is_some_and(|d| d.starts_with("/dev/")),
        "{found}"
    );
    assert_eq!(found["owners"], json!(["self"]));
    assert_eq!(found["most_recent"], json!(true));
    assert_eq!(found["tags_all"]["app"], json!("web"));
    assert_eq!(found["tags_all"]["immutable:code-tag"], json!("v1"));

    // By tags: the newest web image; the api image is newer but not web.
    let found = read(r#"  tags = { app = "web" }"#);
    assert_eq!(found["id"], v2["id"]);
    assert_eq!(found["code_tag"], json!("v2"), "the code tag is filled in");
    // By name prefix, and by code tag shared by two apps narrowed by tags.
    assert_eq!(read(r#"  name_prefix = "api-""#)["id"], api["id"]);
    assert_eq!(
        read("  code_tag = \"v2\"\n  tags = { app = \"api\" }")["id"],
        api["id"]
    );
    // By fingerprint: exactly that image.
    let fp = v1["fingerprint"].as_str().unwrap();
    assert_eq!(read(&format!("  fingerprint = \"{fp}\""))["id"], v1["id"]);

    // Ambiguous with most_recent = false, and no match at all: errors naming the filter.
    reader.write_file(
        "main.tf",
        &reading_config("  tags        = { app = \"web\" }\n  most_recent = false"),
    );
    let out = one_line(&reader.plan(&[]).assert_status(1).combined());
    assert!(out.contains("More than one image matches"), "{out}");
    assert!(out.contains(r#"tags["app"] = "web""#), "{out}");
    assert!(
        out.contains(v1["id"].as_str().unwrap()) && out.contains(v2["id"].as_str().unwrap()),
        "{out}"
    );
    reader.write_file("main.tf", &reading_config(r#"  code_tag = "v9""#));
    let out = one_line(&reader.plan(&[]).assert_status(1).combined());
    assert!(out.contains("No image matches"), "{out}");
    assert!(out.contains(r#"code_tag = "v9""#), "{out}");
    assert!(out.contains(region), "the region is named: {out}");

    // Bad input: reported with its attribute, before any AWS call.
    let describes = moto.count(region, "DescribeImages");
    for (data, attr, summary) in [
        (
            r#"  name_prefix = "web-*""#,
            "name_prefix",
            "Wildcard in name_prefix",
        ),
        (
            r#"  fingerprint = "abc""#,
            "fingerprint",
            "Invalid fingerprint",
        ),
        (r#"  owners = []"#, "owners", "No owners"),
        ("", "", "No filter"),
    ] {
        reader.write_file("main.tf", &reading_config(data));
        let out = one_line(&reader.plan(&[]).assert_status(1).combined());
        assert!(out.contains(summary), "{data}: {out}");
        if !attr.is_empty() {
            assert!(
                out.contains(&format!("{attr} =")),
                "{data}: Terraform points at the attribute: {out}"
            );
        }
    }
    assert_eq!(
        moto.count(region, "DescribeImages"),
        describes,
        "bad input is refused before any AWS call"
    );
}

// ---- examples ------------------------------------------------------------------------------

/// Every example is formatted as `terraform fmt` writes it.
#[test]
fn examples_pass_terraform_fmt_check() {
    let examples = repo_root().join("examples");
    let out = Command::new("terraform")
        .args(["fmt", "-check", "-recursive", "-diff", "-no-color"])
        .arg(&examples)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform on PATH");
    assert!(
        out.status.success(),
        "terraform fmt -check found unformatted files under {}:\n{}{}",
        examples.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// examples/existing-asg cannot be applied here (it needs hashicorp/aws); check the wiring its
/// README promises instead, so the two cannot drift apart.
#[test]
fn existing_asg_example_is_wired_for_coexistence() {
    let dir = repo_root().join("examples/existing-asg");
    let main = std::fs::read_to_string(dir.join("main.tf")).unwrap();
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    // Configuration lines only, comments dropped.
    let code: String = main
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let squeezed = one_line(&code);
    for needle in [
        r#"resource "aws_launch_template" "web""#,
        r#"resource "aws_autoscaling_group" "web""#,
        r#"resource "immutable_image" "web""#,
        r#"resource "rolling_asg_release" "web""#,
        "image_id = immutable_image.web.id",
        r#"launch_mode = "external""#,
        "provider = immutable",
        "update_default_version = true",
        r#"version = "$Default""#,
        "depends_on = [aws_launch_template.web]",
        "retain_on_destroy = true",
        "ignore_changes = [desired_capacity]",
        r#"key_prefixes = ["immutable:"]"#,
    ] {
        assert!(squeezed.contains(needle), "main.tf lacks `{needle}`");
    }
    assert!(
        !code.contains("instance_refresh"),
        "the group must not have an instance_refresh block"
    );
    for needle in [
        "depends_on",
        "retain_on_destroy",
        "ignore_changes",
        "ignore_tags",
        "instance_refresh",
        "launch_mode",
        "$Default",
        "scripts/install",
    ] {
        assert!(
            readme.contains(needle),
            "README.md does not explain {needle}"
        );
    }
}
