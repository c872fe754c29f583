//! Configurations written the way users write them — variables in the provider block and in
//! nested blocks, values known only after another resource applies, `dynamic` blocks, arguments
//! removed again — with the real terraform CLI, the plugin and moto: each one validates, plans
//! and applies, and the second plan is empty (or is refused with the attribute named).

use e2e_tests::TF_HEADER;
use e2e_tests::{group_state, template_group, Moto, Terraform};

const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";

fn release(group: &str, settings: &str) -> String {
    format!(
        r##"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "{group}"
  image_id               = "{NEW}"
  instance_warmup        = "0s"
{settings}
}}
"##
    )
}

#[test]
fn settings_known_only_after_apply_are_planned_unknown_and_applied_as_given() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "late", 2, OLD);
    // Every kind the release reads from another resource: strings, a number, a list, modes.
    let main_tf = release(
        "late",
        r#"  batch_size             = terraform_data.settings.output.batch
  strategy               = terraform_data.settings.output.strategy
  health_check           = terraform_data.settings.output.health
  min_healthy_percentage = terraform_data.settings.output.min_healthy
  suspend_processes      = terraform_data.settings.output.suspend
  launch_mode            = terraform_data.settings.output.mode
  batch_timeout          = "60s"

  scale_in_protected_instances = terraform_data.settings.output.protected
  timeouts {
    create = terraform_data.settings.output.timeout
  }
}

resource "terraform_data" "settings" {
  input = {
    batch       = "1"
    strategy    = "surge"
    health      = "ec2"
    min_healthy = 50
    suspend     = ["AZRebalance"]
    mode        = "launch_template"
    protected   = "replace"
    timeout     = "30m"
  }"#,
    );
    let tf = Terraform::new(moto, region, &main_tf);
    // Before: these were read as unset, planned from defaults ("25%", "elb"...), and the apply
    // failed with "Provider produced inconsistent final plan".
    tf.apply(&[]).assert_success();
    let g = group_state(moto, region, "late");
    assert_eq!(g.count_on(NEW), 2, "both instances replaced");
    let state = tf.state_json();
    let release = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "rolling_asg_release")
        .unwrap()
        .clone();
    assert_eq!(release["values"]["batch_size"], "1");
    assert_eq!(release["values"]["health_check"], "ec2");
    assert_eq!(release["values"]["launch_mode"], "launch_template");
    assert_eq!(release["values"]["scale_in_protected_instances"], "replace");
    assert_eq!(release["values"]["timeouts"][0]["create"], "30m");
    assert_eq!(
        release["values"]["planned_batches"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "batches of one, as the late value said"
    );
    tf.plan(&[]).assert_status(0);
}

#[test]
fn a_removed_argument_returns_to_its_default() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "dflt", 1, OLD);
    let tf = Terraform::new(
        moto,
        region,
        &release(
            "dflt",
            "  batch_timeout = \"20m\"\n  pause_between_batches = \"1s\"",
        ),
    );
    tf.apply(&[]).assert_success();
    tf.write_file("main.tf", &release("dflt", ""));
    // Terraform proposes the old value for an optional+computed attribute the configuration
    // dropped; the documented default must win, and the plan show it.
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    let out = plan.combined();
    assert!(
        out.contains("\"20m\" -> \"15m\""),
        "batch_timeout back to its default:\n{out}"
    );
    assert!(out.contains("\"1s\" -> \"0s\""), "{out}");
    tf.apply(&[]).assert_success();
    tf.plan(&[]).assert_status(0);
}

#[test]
fn variables_in_the_provider_block_and_nested_blocks_validate() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // `terraform validate` sends every variable as unknown.
    let main_tf = format!(
        r##"
{TF_HEADER}

variable "env" {{
  type    = string
  default = "prod"
}}

variable "role" {{
  type    = string
  default = "arn:aws:iam::123456789012:role/deploy"
}}

variable "owner" {{
  type    = string
  default = "self"
}}

variable "filters" {{
  type    = list(string)
  default = ["web-base-*"]
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
  default_tags {{
    tags = {{ env = var.env }}
  }}
  assume_role {{
    role_arn = var.role
  }}
}}

resource "immutable_image" "fixed" {{
  code_tag = "v1"
  script   = "echo hi"
  source_ami_filter {{
    owners = [var.owner]
    name   = "web-base-*"
  }}
  tags = {{ env = var.env }}
}}

resource "immutable_image" "dynamic" {{
  code_tag = "v1"
  script   = "echo hi"
  dynamic "source_ami_filter" {{
    for_each = var.filters
    content {{
      owners = [var.owner]
      name   = source_ami_filter.value
    }}
  }}
}}

data "immutable_image" "by_tag" {{
  owners = [var.owner]
  tags   = {{ env = var.env }}
}}
"##
    );
    let tf = Terraform::new(moto, region, &main_tf);
    tf.validate().assert_success();
}

#[test]
fn a_region_known_only_after_apply_is_refused_with_its_path() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let main_tf = format!(
        r##"
{TF_HEADER}

resource "terraform_data" "where" {{
  input = "{region}"
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
  region   = terraform_data.where.output
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "web"
  image_id               = "{NEW}"
}}
"##
    );
    let tf = Terraform::new(moto, region, &main_tf);
    // Before: ignored at plan (lookups in the environment's region, the apply in another).
    let plan = tf.plan(&[]);
    plan.assert_status(1);
    let out = plan.combined();
    assert!(
        out.contains("Provider configuration not known until apply"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().split_once(':').is_some_and(|(n, rest)| {
                n.chars().all(|c| c.is_ascii_digit()) && rest.trim_start().starts_with("region")
            })),
        "the diagnostic points at region:\n{out}"
    );
}

fn image(default_tags: &str, tags: &str) -> String {
    format!(
        r##"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
  default_tags {{
    tags = {{ {default_tags} }}
  }}
}}

resource "immutable_image" "web" {{
  source_ami    = "{OLD}"
  code_tag      = "v1"
  script        = "echo hi"
  name_template = "drift-{{{{tag}}}}-{{{{timestamp}}}}"
  tags          = {{ {tags} }}
}}

output "id" {{ value = immutable_image.web.id }}
"##
    )
}

fn image_tags(moto: &Moto, region: &str, id: &str) -> std::collections::BTreeMap<String, String> {
    let out = moto
        .block_on(moto.ec2(region).describe_images().image_ids(id).send())
        .unwrap();
    out.images()[0]
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn tags_changed_outside_or_through_default_tags_show_and_are_set_back_and_import_plans_empty() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(
        moto,
        region,
        &image(r#"team = "platform""#, r#"app = "web""#),
    );
    tf.apply(&[]).assert_success();
    let id = tf.output("id").as_str().unwrap().to_string();
    tf.plan(&[]).assert_status(0);

    // Changed outside Terraform: Read refreshes the tags, the plan shows it, apply sets it back.
    moto.block_on(
        moto.ec2(region)
            .create_tags()
            .resources(&id)
            .tags(
                e2e_tests::aws_sdk_ec2::types::Tag::builder()
                    .key("app")
                    .value("hacked")
                    .build(),
            )
            .send(),
    )
    .unwrap();
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(
        plan.stdout.contains("\"hacked\" -> \"web\""),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("updated in-place"), "{}", plan.stdout);
    tf.apply(&[]).assert_success();
    assert_eq!(
        image_tags(moto, region, &id).get("app").map(String::as_str),
        Some("web")
    );
    tf.plan(&[]).assert_status(0);

    // default_tags changed: tags_all changes, the image is retagged in place, not rebaked.
    tf.write_file("main.tf", &image(r#"team = "payments""#, r#"app = "web""#));
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("tags_all"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    tf.apply(&[]).assert_success();
    let on_image = image_tags(moto, region, &id);
    assert_eq!(on_image.get("team").map(String::as_str), Some("payments"));
    assert_eq!(moto.count(region, "RunInstances"), 1, "one bake only");
    tf.plan(&[]).assert_status(0);

    // Another working directory adopts the image. Defaults are filled, the provider's Name,
    // immutable:* tags and the default tags are not taken as the user's, and the name template
    // is rebuilt from the image's name and checked against its lineage digest, so the first plan
    // touches only what an image cannot tell: the inline script (the image keeps only the
    // fingerprint it went into). That update calls nothing, and the next plan is empty.
    let other = Terraform::new(
        moto,
        region,
        &image(r#"team = "payments""#, r#"app = "web""#),
    );
    other
        .import("immutable_image.web", &id, &[])
        .assert_success();
    let plan = other.plan(&[]);
    plan.assert_status(2);
    let changed: Vec<&str> = plan
        .stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("~ ") || l.starts_with("+ ") || l.starts_with("- "))
        .filter(|l| l.contains(" = "))
        .collect();
    assert!(
        !changed.is_empty() && changed.iter().all(|l| l.starts_with("+ script")),
        "only the unrecoverable argument changes after import: {changed:?}\n{}",
        plan.stdout
    );
    other.apply(&[]).assert_success();
    other.plan(&[]).assert_status(0);
    assert_eq!(
        moto.count(region, "RunInstances"),
        1,
        "no bake after import"
    );
}

fn launch_grants(moto: &Moto, region: &str, id: &str) -> (Vec<String>, bool) {
    use e2e_tests::aws_sdk_ec2::types::{ImageAttributeName, PermissionGroup};
    let out = moto
        .block_on(
            moto.ec2(region)
                .describe_image_attribute()
                .image_id(id)
                .attribute(ImageAttributeName::LaunchPermission)
                .send(),
        )
        .unwrap();
    let mut accounts: Vec<String> = out
        .launch_permissions()
        .iter()
        .filter_map(|p| p.user_id().map(str::to_string))
        .collect();
    accounts.sort();
    let public = out
        .launch_permissions()
        .iter()
        .any(|p| p.group() == Some(&PermissionGroup::All));
    (accounts, public)
}

#[test]
fn launch_permissions_changed_outside_show_in_the_plan_and_are_set_back() {
    use e2e_tests::aws_sdk_ec2::types::{
        LaunchPermission, LaunchPermissionModifications, PermissionGroup,
    };
    let moto = Moto::shared();
    let region = moto.unique_region();
    let main_tf = format!(
        r##"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

variable "partner" {{
  default = "111111111111"
}}

resource "immutable_image" "web" {{
  source_ami = "{OLD}"
  code_tag   = "v1"
  script     = "echo hi"
  launch_permission {{
    accounts = [var.partner]
  }}
}}

output "id" {{ value = immutable_image.web.id }}
"##
    );
    let tf = Terraform::new(moto, region, &main_tf);
    tf.apply(&[]).assert_success();
    let id = tf.output("id").as_str().unwrap().to_string();
    assert_eq!(
        launch_grants(moto, region, &id),
        (vec!["111111111111".into()], false)
    );
    tf.plan(&[]).assert_status(0);

    // Made public and shared with one more account outside Terraform: before, "No changes".
    let grant = LaunchPermissionModifications::builder()
        .add(
            LaunchPermission::builder()
                .group(PermissionGroup::All)
                .build(),
        )
        .add(LaunchPermission::builder().user_id("222222222222").build())
        .build();
    moto.block_on(
        moto.ec2(region)
            .modify_image_attribute()
            .image_id(&id)
            .launch_permission(grant)
            .send(),
    )
    .unwrap();
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("222222222222"), "{}", plan.stdout);
    assert!(plan.stdout.contains("public"), "{}", plan.stdout);
    assert!(plan.stdout.contains("updated in-place"), "{}", plan.stdout);
    tf.apply(&[]).assert_success();
    assert_eq!(
        launch_grants(moto, region, &id),
        (vec!["111111111111".into()], false),
        "the apply revokes what was granted outside Terraform"
    );
    tf.plan(&[]).assert_status(0);
    assert_eq!(moto.count(region, "RunInstances"), 1, "one bake only");

    // Another working directory imports it: the grants come with it and the plan touches only
    // what an image cannot tell (the inline script).
    let other = Terraform::new(moto, region, &main_tf);
    other
        .import("immutable_image.web", &id, &[])
        .assert_success();
    let plan = other.plan(&[]);
    assert!(
        !plan.stdout.contains("launch_permission"),
        "{}",
        plan.stdout
    );
}

/// Publishes an AMI named `name` (made from an instance of the old image), carrying the provider's
/// fingerprint tag when `baked` so the `immutable_image` data source finds it.
fn publish_base(moto: &Moto, region: &str, name: &str, baked: bool) -> String {
    use e2e_tests::aws_sdk_ec2::types::Tag;
    let ec2 = moto.ec2(region);
    let (id, instance) = moto.image_from_new_instance(region, OLD, name);
    if baked {
        let fingerprint = format!("sha256:{}", "ab".repeat(32));
        moto.block_on(
            ec2.create_tags()
                .resources(&id)
                .tags(
                    Tag::builder()
                        .key("immutable:fingerprint")
                        .value(fingerprint)
                        .build(),
                )
                .tags(
                    Tag::builder()
                        .key("immutable:code-tag")
                        .value("base")
                        .build(),
                )
                .send(),
        )
        .unwrap();
    }
    moto.block_on(ec2.terminate_instances().instance_ids(&instance).send())
        .unwrap();
    id
}

fn saved_plan_config(source: &str) -> String {
    format!(
        r##"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

{source}

output "source" {{ value = immutable_image.web.source_ami_id }}
"##
    )
}

#[test]
fn a_saved_plan_bakes_the_source_it_reviewed_when_a_newer_one_is_published_before_apply() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let reviewed = publish_base(moto, region, "base-1", true);

    // Resolved by the data source: Terraform keeps its result in the saved plan, so the apply
    // bakes exactly what the plan showed, although a newer base exists by then.
    let tf = Terraform::new(
        moto,
        region,
        &saved_plan_config(
            r#"data "immutable_image" "base" {
  name_prefix = "base-"
}

resource "immutable_image" "web" {
  source_ami = data.immutable_image.base.id
  code_tag   = "v1"
  script     = "echo hi"
}"#,
        ),
    );
    tf.run(&["plan", "-out=reviewed.tfplan"], &[])
        .assert_success();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let newer = publish_base(moto, region, "base-2", true);
    tf.run(&["apply", "reviewed.tfplan"], &[]).assert_success();
    assert_eq!(tf.output("source").as_str(), Some(reviewed.as_str()));
    assert_ne!(reviewed, newer);
    // The next plan sees the newer base and plans a new image from it.
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(plan.stdout.contains(&newer), "{}", plan.stdout);
}

#[test]
fn a_filter_that_resolves_differently_at_apply_stops_before_anything_is_baked() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    publish_base(moto, region, "base-1", false);

    // Resolved by the resource's own filter, at plan and again at apply: a newer match stops
    // the apply before any instance is launched (Terraform's final-plan check).
    let tf = Terraform::new(
        moto,
        region,
        &saved_plan_config(
            r#"resource "immutable_image" "web" {
  code_tag = "v1"
  script   = "echo hi"
  source_ami_filter {
    owners = ["self"]
    name   = "base-*"
  }
}"#,
        ),
    );
    tf.run(&["plan", "-out=reviewed.tfplan"], &[])
        .assert_success();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let launched = moto.count(region, "RunInstances");
    let images = moto.images(region).len();
    publish_base(moto, region, "base-2", false);
    let apply = tf.run(&["apply", "reviewed.tfplan"], &[]);
    // Terraform's own check, which names the attribute that moved (docs/resources/image.md,
    // "Saved plans": resolve with a data source to bake what was reviewed instead).
    assert!(!apply.success(), "{}", apply.combined());
    assert!(
        apply.combined().contains("inconsistent final plan")
            && apply.combined().contains(".source_ami_id"),
        "{}",
        apply.combined()
    );
    assert_eq!(
        moto.count(region, "RunInstances"),
        launched + 1,
        "only the test's own instance for base-2: nothing was baked"
    );
    assert_eq!(moto.images(region).len(), images + 1, "only base-2");
}

#[test]
fn for_each_releases_with_their_own_settings_plan_apply_and_settle() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "fe-a", 2, OLD);
    template_group(moto, region, "fe-b", 3, OLD);
    let main_tf = format!(
        r##"
{TF_HEADER}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

variable "groups" {{
  type = map(object({{ batch = string, health = string }}))
  default = {{
    "fe-a" = {{ batch = "1", health = "ec2" }}
    "fe-b" = {{ batch = "100%", health = "ec2" }}
  }}
}}

resource "rolling_asg_release" "web" {{
  for_each               = var.groups
  provider               = immutable
  autoscaling_group_name = each.key
  image_id               = "{NEW}"
  batch_size             = each.value.batch
  health_check           = each.value.health
  instance_warmup        = "0s"
  batch_timeout          = "60s"
}}
"##
    );
    let tf = Terraform::new(moto, region, &main_tf);
    tf.apply(&[]).assert_success();
    assert_eq!(group_state(moto, region, "fe-a").count_on(NEW), 2);
    assert_eq!(group_state(moto, region, "fe-b").count_on(NEW), 3);
    tf.plan(&[]).assert_status(0);
}

#[test]
fn a_terraform_test_file_plans_and_applies_a_release() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    template_group(moto, region, "tftest", 2, OLD);
    let tf = Terraform::new(
        moto,
        region,
        &release("tftest", "  batch_size = \"1\"\n  batch_timeout = \"60s\""),
    );
    tf.write_file(
        "tests/release.tftest.hcl",
        r#"
run "plan_shows_two_batches_of_one" {
  command = plan
  assert {
    condition     = rolling_asg_release.web.batch_size == "1"
    error_message = "batch_size is planned as configured"
  }
}

run "apply_releases_and_keeps_the_settings" {
  assert {
    condition     = length(rolling_asg_release.web.replaced_instances) == 2
    error_message = "both instances are replaced"
  }
  assert {
    condition     = rolling_asg_release.web.batch_timeout == "60s" && rolling_asg_release.web.pause_between_batches == "0s"
    error_message = "configured values and defaults are in the state"
  }
}
"#,
    );
    let run = tf.run(&["test"], &[]);
    assert!(run.success(), "terraform test:\n{}", run.combined());
    assert!(run.stdout.contains("2 passed, 0 failed"), "{}", run.stdout);
}
