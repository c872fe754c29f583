//! `immutable_image` end to end: the real terraform CLI, the freshly built plugin, a real
//! moto_server. Each test has its own region, so they run in parallel on one moto.

use e2e_tests::fault_proxy::Rule;
use e2e_tests::serde_json::{json, Value};
use e2e_tests::TF_HEADER;
use e2e_tests::{FaultProxy, Moto, Terraform};

const SOURCE_AMI: &str = "ami-1e749f67"; // moto's built-in Ubuntu 14.04

fn config(extra: &str) -> String {
    format!(
        r##"
{TF_HEADER}
variable "tag" {{
  type    = string
  default = "v1.0.0"
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
  default_tags {{
    tags = {{ team = "platform" }}
  }}
}}

resource "immutable_image" "web" {{
  source_ami    = "{SOURCE_AMI}"
  code_tag      = var.tag
  script        = "#!/bin/sh\necho deploying $1\n"
  name_template = "web-{{{{tag}}}}-{{{{timestamp}}}}"
  environment   = {{ APP = "web" }}
  tags          = {{ app = "web" }}
  {extra}
}}

output "id" {{ value = immutable_image.web.id }}
output "reused" {{ value = immutable_image.web.reused }}
"##
    )
}

fn state_resource(tf: &Terraform) -> Value {
    let state = tf.state_json();
    state["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == "immutable_image").cloned())
        .unwrap_or(Value::Null)
}

fn tags_of(
    tags: &[e2e_tests::aws_sdk_ec2::types::Tag],
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn bake_reuse_replace_and_destroy() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(moto, region, &config(""));

    tf.apply(&[]).assert_success();
    let id = tf.output("id").as_str().unwrap().to_string();
    assert_eq!(tf.output("reused"), json!(false));
    let images = moto.images(region);
    assert_eq!(images.len(), 1, "exactly one image baked");
    let img = &images[0];
    assert_eq!(img.image_id(), Some(id.as_str()));
    assert!(
        img.name().unwrap().starts_with("web-v1.0.0-2"),
        "{:?}",
        img.name()
    );
    let tags = tags_of(img.tags());
    assert_eq!(tags.get("app").map(String::as_str), Some("web"));
    assert_eq!(
        tags.get("team").map(String::as_str),
        Some("platform"),
        "default_tags reach the image"
    );
    assert_eq!(
        tags.get("immutable:code-tag").map(String::as_str),
        Some("v1.0.0")
    );
    assert!(tags
        .get("immutable:fingerprint")
        .unwrap()
        .starts_with("sha256:"));
    // Snapshots carry the same tags.
    let snaps = moto.snapshots(region);
    let img_snaps: Vec<_> = snaps
        .iter()
        .filter(|s| {
            tags_of(s.tags()).get("immutable:fingerprint") == tags.get("immutable:fingerprint")
        })
        .collect();
    assert!(!img_snaps.is_empty(), "the image's snapshots are tagged");
    // The builder is gone, and it was launched with IMDSv2 required.
    assert!(
        moto.running_instances(region).is_empty(),
        "no builder left running"
    );
    let all = moto
        .block_on(moto.ec2(region).describe_instances().send())
        .unwrap();
    let builder = all.reservations()[0].instances()[0].clone();
    assert_eq!(
        builder
            .metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str()),
        Some("required")
    );
    assert_eq!(builder.image_id(), Some(SOURCE_AMI));
    assert_eq!(moto.count(region, "RunInstances"), 1);

    let st = state_resource(&tf);
    assert_eq!(st["values"]["id"], json!(id));
    assert_eq!(st["values"]["source_ami_id"], json!(SOURCE_AMI));
    assert_eq!(
        st["values"]["communicator"],
        json!("ssm"),
        "defaults are recorded in state"
    );
    assert_eq!(st["values"]["instance_type"], json!("t3.micro"));

    // Unchanged: nothing to plan, nothing launched.
    tf.plan(&[]).assert_status(0);
    tf.apply(&[]).assert_success();
    assert_eq!(
        moto.count(region, "RunInstances"),
        1,
        "an unchanged re-apply launches nothing"
    );
    assert_eq!(moto.count(region, "CreateImage"), 1);

    // Tags change in place.
    tf.write_file(
        "main.tf",
        &config("").replace(
            r#"tags          = { app = "web" }"#,
            r#"tags          = { app = "web2" }"#,
        ),
    );
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("update in-place"), "{}", plan.stdout);
    tf.apply(&[]).assert_success();
    let img = moto
        .images(region)
        .into_iter()
        .find(|i| i.image_id() == Some(id.as_str()))
        .unwrap();
    assert_eq!(
        tags_of(img.tags()).get("app").map(String::as_str),
        Some("web2")
    );
    assert_eq!(moto.count(region, "RunInstances"), 1);

    // A new tag replaces the image: a new bake, the old image and snapshots deleted.
    let plan = tf.plan(&[("tag", "v1.1.0")]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    tf.apply(&[("tag", "v1.1.0")]).assert_success();
    let new_id = tf.output("id").as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    let ids: Vec<String> = moto
        .images(region)
        .iter()
        .filter_map(|i| i.image_id().map(String::from))
        .collect();
    assert_eq!(ids, vec![new_id.clone()], "the old image was deregistered");
    assert_eq!(moto.count(region, "RunInstances"), 2);
    assert!(moto.running_instances(region).is_empty());

    // Destroy removes the image and its snapshots.
    tf.destroy(&[("tag", "v1.1.0")]).assert_success();
    assert!(moto.images(region).is_empty(), "image deregistered");
    assert!(moto.snapshots(region).is_empty(), "snapshots deleted");
}

#[test]
fn script_reaches_ssm_with_tag_as_argument_and_environment() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(moto, region, &config(""));
    tf.write_file("provision.sh", "#!/bin/sh\necho from-file\n");
    tf.write_file(
        "main.tf",
        &config("").replace(
            r##"script        = "#!/bin/sh\necho deploying $1\n""##,
            r#"script_file   = "${path.module}/provision.sh""#,
        ),
    );
    tf.apply(&[("tag", "v2.0.0")]).assert_success();
    let cmds = moto
        .block_on(moto.ssm(region).list_commands().send())
        .unwrap();
    let cmd = &cmds.commands()[0];
    assert_eq!(cmd.document_name(), Some("AWS-RunShellScript"));
    let lines = cmd
        .parameters()
        .unwrap()
        .get("commands")
        .unwrap()
        .join("\n");
    assert!(lines.contains("export CODE_TAG='v2.0.0'"), "{lines}");
    assert!(lines.contains("export APP='web'"), "{lines}");
    assert!(lines.contains("#!/bin/sh\necho from-file"), "{lines}");
    assert!(
        lines.contains("\"$CODE_TAG\""),
        "the tag is passed as $1: {lines}"
    );

    // Changing the file's content (not its path) replaces the image.
    tf.write_file("provision.sh", "#!/bin/sh\necho changed\n");
    let plan = tf.plan(&[("tag", "v2.0.0")]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
}

#[test]
fn failing_script_reports_output_and_leaves_nothing() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // moto's SSM always reports success; the proxy makes the script fail as AWS would report it.
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![Rule::rewrite_json("GetCommandInvocation", |mut v| {
            v["Status"] = json!("Failed");
            v["StatusDetails"] = json!("Failed");
            v["ResponseCode"] = json!(3);
            v["StandardOutputContent"] = json!("step 1 ok\nstep 2 ok\nfatal: tag v9 not found\n");
            v["StandardErrorContent"] = json!("error: pathspec 'v9' did not match\n");
            v
        })],
    );
    let tf = Terraform::new(moto, region, &config("")).with_endpoint(proxy.endpoint());
    let run = tf.apply(&[("tag", "v9")]);
    assert!(!run.success(), "the bake must fail");
    // Terraform wraps long diagnostics; compare with whitespace folded.
    let out = run
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(out.contains("exit code 3"), "{out}");
    assert!(out.contains("fatal: tag v9 not found"), "{out}");
    assert!(out.contains("pathspec 'v9' did not match"), "{out}");
    assert!(
        out.contains("terminated builder"),
        "the error says what was cleaned: {out}"
    );
    assert!(
        moto.running_instances(region).is_empty(),
        "builder terminated"
    );
    assert!(moto.images(region).is_empty(), "no image left");
    assert_eq!(moto.count(region, "CreateImage"), 0);
    assert!(state_resource(&tf).is_null(), "nothing in state");
}

#[test]
fn import_then_no_replacement_and_refresh_drops_deleted_image() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(moto, region, &config(""));
    tf.apply(&[]).assert_success();
    let id = tf.output("id").as_str().unwrap().to_string();

    // A second working directory with the same configuration adopts the image by import.
    let other = Terraform::new(moto, region, &config(""));
    other
        .import("immutable_image.web", &id, &[])
        .assert_success();
    let st = state_resource(&other);
    assert_eq!(st["values"]["id"], json!(id));
    assert_eq!(st["values"]["code_tag"], json!("v1.0.0"));
    let plan = other.plan(&[]);
    assert!(
        !plan.stdout.contains("must be replaced"),
        "import of the same bake must not replace: {}",
        plan.stdout
    );
    assert_eq!(moto.count(region, "RunInstances"), 1);

    // Deregistered outside Terraform: refresh forgets it and the plan bakes again.
    moto.block_on(moto.ec2(region).deregister_image().image_id(&id).send())
        .unwrap();
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("will be created"), "{}", plan.stdout);
}

/// Terraform refreshes images in parallel; lookups that meet share one DescribeImages call, and
/// an image deleted outside Terraform is still told apart from the ones that exist.
#[test]
fn parallel_refreshes_share_describe_calls() {
    const N: usize = 12;
    let moto = Moto::shared();
    let region = moto.unique_region();
    let cfg = format!(
        r##"
{TF_HEADER}
provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "immutable_image" "many" {{
  count      = {N}
  source_ami = "{SOURCE_AMI}"
  code_tag   = "v${{count.index}}"
  script     = "echo hi"
}}

output "ids" {{ value = immutable_image.many[*].id }}
"##
    );
    let tf = Terraform::new(moto, region, &cfg);
    tf.run(&["apply", "-auto-approve", "-parallelism=12"], &[])
        .assert_success();
    let ids: Vec<String> = tf
        .output("ids")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), N);

    // Without a refresh, the twelve plans share one lookup of their common source AMI, though
    // Terraform plans them in parallel.
    let before = moto.count(region, "DescribeImages");
    tf.run(
        &[
            "plan",
            "-detailed-exitcode",
            "-refresh=false",
            "-parallelism=12",
        ],
        &[],
    )
    .assert_status(0);
    assert_eq!(
        moto.count(region, "DescribeImages") - before,
        1,
        "one source lookup for {N} parallel plans"
    );

    for gone in [&ids[3], &ids[7]] {
        moto.block_on(moto.ec2(region).deregister_image().image_id(gone).send())
            .unwrap();
    }

    let before = moto.count(region, "DescribeImages");
    let plan = tf.run(&["plan", "-detailed-exitcode", "-parallelism=12"], &[]);
    plan.assert_status(2);
    let calls = moto.count(region, "DescribeImages") - before;
    assert!(
        plan.stdout.contains("2 to add, 0 to change, 0 to destroy"),
        "only the two deleted images are baked again: {}",
        plan.stdout
    );
    for i in [3, 7] {
        assert!(
            plan.stdout
                .contains(&format!("immutable_image.many[{i}] will be created")),
            "{}",
            plan.stdout
        );
    }
    // One source lookup plus the refreshes; without sharing that is N + 1 calls.
    assert!(
        calls < N,
        "{N} parallel refreshes made {calls} DescribeImages calls"
    );
}

#[test]
fn identical_image_is_reused_across_configurations() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let a = Terraform::new(moto, region, &config(""));
    a.apply(&[]).assert_success();
    let b = Terraform::new(moto, region, &config(""));
    b.apply(&[]).assert_success();
    assert_eq!(b.output("reused"), json!(true));
    assert_eq!(b.output("id"), a.output("id"));
    assert_eq!(
        moto.count(region, "RunInstances"),
        1,
        "the second apply baked nothing"
    );
}

#[test]
fn abandoned_builders_are_swept_by_the_next_bake() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let ec2 = moto.ec2(region);
    // What a killed bake leaves: a tagged temporary builder whose expiry has passed.
    let tag = |k: &str, v: &str| {
        e2e_tests::aws_sdk_ec2::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    };
    let run = moto
        .block_on(
            ec2.run_instances()
                .image_id(SOURCE_AMI)
                .min_count(1)
                .max_count(1)
                .tag_specifications(
                    e2e_tests::aws_sdk_ec2::types::TagSpecification::builder()
                        .resource_type(e2e_tests::aws_sdk_ec2::types::ResourceType::Instance)
                        .tags(tag("immutable:temporary", "true"))
                        .tags(tag("immutable:expires-at", "2020-01-01T00:00:00Z"))
                        .tags(tag("immutable:bake-id", "bake-dead"))
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let stale = run.instances()[0].instance_id().unwrap().to_string();
    // And one that belongs to a live bake elsewhere: must survive.
    let live = moto
        .block_on(
            ec2.run_instances()
                .image_id(SOURCE_AMI)
                .min_count(1)
                .max_count(1)
                .tag_specifications(
                    e2e_tests::aws_sdk_ec2::types::TagSpecification::builder()
                        .resource_type(e2e_tests::aws_sdk_ec2::types::ResourceType::Instance)
                        .tags(tag("immutable:temporary", "true"))
                        .tags(tag("immutable:expires-at", "2999-01-01T00:00:00Z"))
                        .tags(tag("immutable:owner", "another-host:1:1"))
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let live = live.instances()[0].instance_id().unwrap().to_string();

    let tf = Terraform::new(moto, region, &config(""));
    tf.apply(&[]).assert_success();
    let running: Vec<String> = moto
        .running_instances(region)
        .iter()
        .filter_map(|i| i.instance_id().map(String::from))
        .collect();
    assert!(!running.contains(&stale), "the expired builder was swept");
    assert!(
        running.contains(&live),
        "a live bake's builder is never touched"
    );
}

#[test]
fn aws_endpoint_url_variable_works_without_provider_endpoint() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    // No `endpoint` in the provider block: the standard AWS_ENDPOINT_URL must be honoured.
    let tf = Terraform::new(
        moto,
        region,
        &config("").replace("endpoint = var.aws_endpoint", ""),
    );
    tf.run(
        &["apply", "-auto-approve"],
        &[("AWS_ENDPOINT_URL", &moto.endpoint())],
    )
    .assert_success();
    assert_eq!(moto.images(region).len(), 1);
}

#[test]
fn bad_configs_fail_before_any_aws_call() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "both sources",
            config(
                r#"source_ami_filter {
    owners = ["self"]
    name   = "x-*"
  }"#,
            ),
            "source_ami",
        ),
        (
            "bad ami id",
            config("").replace(SOURCE_AMI, "img-123"),
            "not an AMI id",
        ),
        (
            "both scripts",
            config(r#"script_file = "x.sh""#),
            "Conflicting scripts",
        ),
        (
            "unknown communicator",
            config(r#"communicator = "winrm""#),
            "Unsupported communicator",
        ),
        (
            "bad timeout",
            config("timeouts {\n    create = \"ten minutes\"\n  }"),
            "Invalid duration",
        ),
        (
            "bad placeholder",
            config("").replace("{{timestamp}}", "{{time}}"),
            "Unknown placeholder",
        ),
        (
            "bad env name",
            config("").replace(r#"{ APP = "web" }"#, r#"{ "1APP" = "web" }"#),
            "environment",
        ),
        (
            "region typo",
            config("").replace(
                "endpoint = var.aws_endpoint",
                "endpoint = var.aws_endpoint\n  region = \"us-east1\"",
            ),
            "Invalid AWS region",
        ),
        (
            "bad endpoint",
            config("").replace(
                "endpoint = var.aws_endpoint",
                "endpoint = \"localhost:4566\"",
            ),
            "Invalid endpoint URL",
        ),
    ];
    for (what, cfg, expect) in cases {
        let tf = Terraform::new(moto, region, &cfg);
        let run = tf.plan(&[]);
        run.assert_status(1);
        assert!(
            run.combined().contains(expect),
            "{what}: expected {expect:?} in:\n{}",
            run.combined()
        );
    }
    assert_eq!(
        moto.recorded_calls(region).len(),
        0,
        "no AWS call was made for any bad config"
    );
    // A source AMI that does not exist is found at plan time, by a read-only call.
    let tf = Terraform::new(
        moto,
        region,
        &config("").replace(SOURCE_AMI, "ami-00000000"),
    );
    let run = tf.plan(&[]);
    run.assert_status(1);
    assert!(
        run.combined().contains("does not exist"),
        "{}",
        run.combined()
    );
    let calls = moto.recorded_calls(region);
    assert!(
        calls.iter().all(|c| c.action.starts_with("Describe")),
        "only describe calls: {calls:?}"
    );
}

#[test]
fn assume_role_credentials_are_used() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let cfg = config("").replace(
        "provider \"immutable\" {\n  endpoint = var.aws_endpoint",
        "provider \"immutable\" {\n  endpoint = var.aws_endpoint\n  assume_role {\n    role_arn     = \"arn:aws:iam::123456789012:role/release\"\n    session_name = \"e2e\"\n  }",
    );
    assert!(cfg.contains("assume_role"), "the config was rewritten");
    let tf = Terraform::new(moto, region, &cfg);
    tf.apply(&[]).assert_success();
    let calls = moto.all_recorded_calls();
    assert!(
        calls
            .iter()
            .any(|c| c.service == "sts" && c.action == "AssumeRole"),
        "STS AssumeRole was called"
    );
    assert_eq!(moto.images(region).len(), 1);
}
