//! `planner preview` end to end: plans made by the real terraform CLI with the real plugin
//! against moto, previewed by the built `planner` binary in every format, compared with golden
//! files (ids, regions and timestamps normalised), the JSON checked against
//! planner/preview.schema.json — and the batches a preview shows are the ones apply executes.
//! Also `planner schedule` and `planner snapshot` against a live group (describe calls only).
//!
//! Golden files: tests/golden/preview/; `UPDATE_GOLDEN=1` rewrites them.

#[path = "../planner/tests/schema_check/mod.rs"]
mod schema_check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e_tests::aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use e2e_tests::aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
use e2e_tests::serde_json::{self, json, Value};
use e2e_tests::TF_HEADER;
use e2e_tests::{
    find_plugin_dir, group_state, Moto, Terraform, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY,
};

const SOURCE_AMI: &str = "ami-1e749f67"; // moto's built-in Ubuntu 14.04

// ---------------------------------------------------------------------------------- helpers

/// The `planner` binary, next to the plugin (`<target>/debug/planner`).
fn planner_bin() -> PathBuf {
    let dir = find_plugin_dir()
        .unwrap_or_else(|| panic!("the plugin is not built: cargo build --workspace --bins"));
    let bin = dir.join("planner");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p release-planner --features aws --bin planner` (scripts/test builds every binary)",
        bin.display()
    );
    bin
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn planner(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(planner_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for key in [
        "NO_COLOR",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run planner");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `terraform show -json <planfile>`, written as terraform printed it, to `<dir>/<name>.json`.
fn plan_json_file(tf: &Terraform, planfile: &str, name: &str) -> PathBuf {
    let run = tf.run(&["show", "-json", planfile], &[]);
    run.assert_success();
    let path = tf.dir().join(format!("{name}.json"));
    std::fs::write(&path, &run.stdout).unwrap();
    path
}

/// Previews a plan in the three formats: checks the exit code, compares each rendering with
/// its golden file, checks the JSON against the schema, and returns the JSON document.
#[track_caller]
fn preview_goldens(plan: &Path, region: &str, golden_name: &str, expected_code: i32) -> Value {
    let plan = plan.to_str().unwrap();
    let mut doc = Value::Null;
    for (format, ext) in [("text", "txt"), ("markdown", "md"), ("json", "json")] {
        let r = planner(
            &["preview", plan, "--format", format, "--detailed-exitcode"],
            &[],
        );
        assert_eq!(
            r.code, expected_code,
            "{golden_name} --format {format}: exit {}; stderr: {}",
            r.code, r.stderr
        );
        assert!(r.stderr.is_empty(), "{}", r.stderr);
        if format == "json" {
            doc = serde_json::from_str(&r.stdout).unwrap();
            schema_check::assert_valid(&schema_check::schema(), "", &doc);
        }
        golden(
            &format!("{golden_name}.{ext}"),
            &normalise(&r.stdout, region),
        );
    }
    doc
}

#[track_caller]
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden/preview")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{} differs at line {} (UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            line + 1,
            expected
                .lines()
                .skip(line)
                .take(6)
                .collect::<Vec<_>>()
                .join("\n"),
            actual
                .lines()
                .skip(line)
                .take(6)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// What varies between runs, replaced by stable names numbered in order of appearance:
/// the region, instance/image/launch-template ids (moto's source AMI kept), fingerprints
/// (by their first 12 hex digits), 14-digit timestamps, and the terraform version.
fn normalise(s: &str, region: &str) -> String {
    let s = s.replace(region, "REGION");
    let mut names: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let mut matched = false;
        if boundary {
            for (prefix, min, keep_len) in [
                ("ami-", 8, 0),
                ("i-", 8, 0),
                ("lt-", 8, 0),
                ("sha256:", 12, 12),
            ] {
                if !s[i..].starts_with(prefix) {
                    continue;
                }
                let hex = b[i + prefix.len()..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                    .count();
                if hex < min {
                    continue;
                }
                let token = &s[i..i + prefix.len() + hex];
                if token == SOURCE_AMI {
                    continue;
                }
                let key_hex = if keep_len > 0 {
                    &token[prefix.len()..prefix.len() + keep_len]
                } else {
                    &token[prefix.len()..]
                };
                let n = *names
                    .entry((prefix, key_hex.to_string()))
                    .or_insert_with(|| {
                        let c = counters.entry(prefix).or_insert(0);
                        *c += 1;
                        *c
                    });
                out.push_str(&match prefix {
                    "ami-" => format!("ami-IMAGE{n}"),
                    "i-" => format!("i-{n:03}"),
                    "lt-" => format!("lt-TEMPLATE{n}"),
                    _ => format!("sha256:FINGERPRINT{n}"),
                });
                i += prefix.len() + hex;
                matched = true;
                break;
            }
            if !matched && (i == 0 || !b[i - 1].is_ascii_digit()) {
                let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 14 {
                    out.push_str("YYYYMMDDhhmmss");
                    i += 14;
                    matched = true;
                }
            }
        }
        if !matched {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    // The terraform version only appears in the JSON document.
    out.lines()
        .map(|l| {
            if l.trim_start().starts_with("\"terraform_version\":") {
                "  \"terraform_version\": \"TF_VERSION\",".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if out.ends_with('\n') { "\n" } else { "" }
}

/// A group of `n` instances on the source AMI, in ONE availability zone (moto puts each launch
/// in a random zone of the group's, which would make the golden files vary).
fn group(moto: &Moto, region: &str, name: &str, n: i32) {
    let ec2 = moto.ec2(region);
    moto.block_on(
        ec2.create_launch_template()
            .launch_template_name(format!("{name}-lt"))
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id(SOURCE_AMI)
                    .instance_type(InstanceType::T3Micro)
                    .build(),
            )
            .send(),
    )
    .unwrap();
    moto.block_on(
        moto.autoscaling(region)
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_name(format!("{name}-lt"))
                    .version("$Latest")
                    .build(),
            )
            .min_size(n)
            .max_size(n * 2)
            .desired_capacity(n)
            // A release waits out the grace period: moto's default is 300 s (AWS's API: 0), and
            // moto reads 0 as "unset".
            .health_check_grace_period(1)
            .availability_zones(format!("{region}a"))
            .send(),
    )
    .unwrap();
}

fn config(release: bool) -> String {
    let release = if release {
        r#"
resource "rolling_asg_release" "web" {
  provider               = immutable
  autoscaling_group_name = "web"
  image_id               = immutable_image.web.id
  batch_size             = "2"
  instance_warmup        = "0s"
  batch_timeout          = "60s"
}
"#
    } else {
        ""
    };
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
  source_ami    = "{SOURCE_AMI}"
  code_tag      = var.tag
  script        = "#!/bin/sh\necho deploying $1\n"
  name_template = "web-{{{{tag}}}}-{{{{timestamp}}}}"
  tags          = {{ app = "web" }}
}}
{release}"##
    )
}

fn state_resource(tf: &Terraform, kind: &str) -> Value {
    tf.state_json()["values"]["root_module"]["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == kind).cloned())
        .unwrap_or(Value::Null)
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The batches a preview document shows for its only release.
fn preview_batches(doc: &Value) -> Vec<Vec<String>> {
    let releases = doc["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1);
    releases[0]["schedule"]["schedule"]["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| string_list(&b["instance_ids"]))
        .collect()
}

// ------------------------------------------------------------------------------------ tests

#[test]
fn image_create_no_change_replace_and_destroy() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(moto, region, &config(false));

    tf.plan_out(&[], "create.tfplan").assert_success();
    let plan = plan_json_file(&tf, "create.tfplan", "create");
    let calls = moto.recorded_calls(region).len();
    let doc = preview_goldens(&plan, region, "image-create", 2);
    assert_eq!(
        moto.recorded_calls(region).len(),
        calls,
        "a preview reads the plan file only: no AWS call"
    );
    assert_eq!(doc["summary"]["images_to_bake"], json!(1));
    assert_eq!(doc["images"][0]["outcome"], json!("bake_or_reuse"));

    tf.apply(&[]).assert_success();
    let id = state_resource(&tf, "immutable_image")["values"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    tf.plan_out(&[], "same.tfplan").assert_success();
    let doc = preview_goldens(
        &plan_json_file(&tf, "same.tfplan", "same"),
        region,
        "image-no-change",
        0,
    );
    assert_eq!(doc["summary"]["changes"], json!(false));
    assert_eq!(doc["images"][0]["image_id"]["after"], json!(id));

    tf.plan_out(&[("tag", "v1.1.0")], "replace.tfplan")
        .assert_success();
    let doc = preview_goldens(
        &plan_json_file(&tf, "replace.tfplan", "replace"),
        region,
        "image-replace",
        2,
    );
    let image = &doc["images"][0];
    assert_eq!(image["action"], json!("replace"));
    assert_eq!(
        image["code_tag"],
        json!({"before": "v1.0.0", "after": "v1.1.0", "known_after_apply": false})
    );
    assert_eq!(
        image["image_id"],
        json!({"before": id, "after": null, "known_after_apply": true})
    );
    assert_eq!(image["replace_paths"], json!([["fingerprint"]]));
    assert_eq!(image["reasons"], json!(["code_tag v1.0.0 → v1.1.0"]));

    tf.run(&["plan", "-destroy", "-out=destroy.tfplan"], &[])
        .assert_success();
    let doc = preview_goldens(
        &plan_json_file(&tf, "destroy.tfplan", "destroy"),
        region,
        "image-destroy",
        2,
    );
    assert_eq!(doc["images"][0]["outcome"], json!("deregister"));
}

/// Bake + release in one apply: the batches the preview shows are the ones apply executes,
/// also on the next release (tag v1.1.0) of the unchanged group.
#[test]
fn bake_and_release_preview_matches_what_apply_executes() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    group(moto, region, "web", 5);
    let tf = Terraform::new(moto, region, &config(true));

    tf.plan_out(&[], "create.tfplan").assert_success();
    let doc = preview_goldens(
        &plan_json_file(&tf, "create.tfplan", "create"),
        region,
        "release-create",
        2,
    );
    let planned = preview_batches(&doc);
    assert_eq!(planned.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(
        doc["releases"][0]["image_source"],
        json!("immutable_image.web.id")
    );
    assert_eq!(doc["summary"]["instances_to_replace"], json!(5));

    tf.run(&["apply", "create.tfplan"], &[]).assert_success();
    let release = state_resource(&tf, "rolling_asg_release");
    let image = state_resource(&tf, "immutable_image")["values"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let replaced = string_list(&release["values"]["replaced_instances"]);
    assert_eq!(
        replaced,
        planned.concat(),
        "apply replaced exactly the previewed instances, in the previewed order"
    );
    let after = group_state(moto, region, "web");
    assert!(
        after.images.values().all(|i| *i == image),
        "every instance runs the new image: {:?}",
        after.images
    );

    tf.plan_out(&[], "same.tfplan").assert_success();
    let doc = preview_goldens(
        &plan_json_file(&tf, "same.tfplan", "same"),
        region,
        "release-no-change",
        0,
    );
    assert_eq!(doc["releases"][0]["schedule_state"], json!("not_running"));

    tf.plan_out(&[("tag", "v1.1.0")], "next.tfplan")
        .assert_success();
    let doc = preview_goldens(
        &plan_json_file(&tf, "next.tfplan", "next"),
        region,
        "release-replace",
        2,
    );
    let planned = preview_batches(&doc);
    let mut on_old: Vec<String> = after.images.keys().cloned().collect();
    on_old.sort();
    let mut previewed = planned.concat();
    previewed.sort();
    assert_eq!(
        previewed, on_old,
        "the next release replaces every instance now on the first image"
    );
    assert_eq!(doc["releases"][0]["previous_image_id"], json!(image));
    tf.run(&["apply", "next.tfplan"], &[]).assert_success();
    let release = state_resource(&tf, "rolling_asg_release");
    assert_eq!(
        string_list(&release["values"]["replaced_instances"]),
        planned.concat()
    );
}

/// `planner schedule` against a live group makes describe calls only, and `planner snapshot`
/// + `schedule --snapshot` gives the same schedule offline.
#[test]
fn live_schedule_and_snapshot_are_read_only_and_agree() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    group(moto, region, "web", 4);
    let endpoint = moto.endpoint();
    let creds = [
        ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY),
    ];
    let before = moto.recorded_calls(region).len();

    let live = planner(
        &[
            "schedule",
            "--group",
            "web",
            "--image",
            "ami-12345678",
            "--batch-size",
            "50%",
            "--region",
            region,
            "--endpoint",
            &endpoint,
            "--detailed-exitcode",
        ],
        &creds,
    );
    assert_eq!(live.code, 2, "{}", live.stderr);
    assert!(
        live.stdout
            .contains("Release of web to ami-12345678 (strategy surge, batches of 2)"),
        "{}",
        live.stdout
    );
    assert!(
        live.stdout
            .contains(&format!("Images now: {SOURCE_AMI} × 4")),
        "{}",
        live.stdout
    );

    // The standard AWS_ENDPOINT_URL / AWS_REGION work as well as the flags.
    let mut env = creds.to_vec();
    env.extend([
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", region),
    ]);
    let snap_path = std::env::temp_dir().join(format!(
        "planner-e2e-snapshot-{}-{region}.json",
        std::process::id()
    ));
    let snap = planner(
        &[
            "snapshot",
            "--group",
            "web",
            "--output",
            snap_path.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&snap_path).unwrap()).unwrap();
    assert_eq!(snapshot["instances"].as_array().unwrap().len(), 4);

    let offline = planner(
        &[
            "schedule",
            "--snapshot",
            snap_path.to_str().unwrap(),
            "--image",
            "ami-12345678",
            "--batch-size",
            "50%",
        ],
        &[],
    );
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    assert_eq!(offline.stdout, live.stdout);
    let json_out = planner(
        &[
            "schedule",
            "--snapshot",
            snap_path.to_str().unwrap(),
            "--image",
            "ami-12345678",
            "--format",
            "json",
        ],
        &[],
    );
    schema_check::assert_valid(
        &schema_check::schema(),
        "/$defs/release_preview",
        &serde_json::from_str(&json_out.stdout).unwrap(),
    );
    let _ = std::fs::remove_file(&snap_path);

    let calls = moto.recorded_calls(region);
    let ours = &calls[before..];
    assert!(!ours.is_empty());
    assert!(
        ours.iter().all(|c| c.action.starts_with("Describe")),
        "the planner made a call that is not a describe: {ours:?}"
    );

    // A group that does not exist: one line, exit 1.
    let missing = planner(
        &[
            "schedule",
            "--group",
            "nope",
            "--image",
            "ami-12345678",
            "--region",
            region,
            "--endpoint",
            &endpoint,
        ],
        &creds,
    );
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr.lines().count(), 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("\"nope\" does not exist"),
        "{}",
        missing.stderr
    );
}

/// Real plans that are not something to preview: one line on stderr, exit 1. A real plan of
/// other providers' resources only is an empty preview, exit 0.
#[test]
fn bad_plans_from_real_terraform_are_one_line_errors() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let tf = Terraform::new(
        moto,
        region,
        "resource \"terraform_data\" \"x\" {\n  input = \"hello\"\n}\n",
    );
    tf.plan_out(&[], "other.tfplan").assert_success();
    let other = plan_json_file(&tf, "other.tfplan", "other");
    let text = std::fs::read_to_string(&other).unwrap();
    let truncated = tf.dir().join("truncated.json");
    std::fs::write(&truncated, &text[..text.len() * 2 / 3]).unwrap();
    let mut future: Value = serde_json::from_str(&text).unwrap();
    future["format_version"] = json!("2.0");
    let future_path = tf.dir().join("future.json");
    std::fs::write(&future_path, future.to_string()).unwrap();
    let state = tf.dir().join("state.json");
    tf.apply(&[]).assert_success();
    std::fs::write(&state, tf.run(&["show", "-json"], &[]).stdout).unwrap();

    let empty = planner(
        &["preview", other.to_str().unwrap(), "--detailed-exitcode"],
        &[],
    );
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert!(empty.stdout.starts_with("No changes: the plan has no immutable_image or rolling_asg_release resource (1 resource change belongs to terraform.io/builtin/terraform)."), "{}", empty.stdout);
    for (path, needle) in [
        (&truncated, "is the file truncated?"),
        (&future_path, "format_version \"2.0\" is not supported"),
        (&state, "a Terraform state, not a plan"),
    ] {
        let r = planner(&["preview", path.to_str().unwrap()], &[]);
        assert_eq!(r.code, 1, "{}: {}", path.display(), r.stderr);
        assert!(r.stdout.is_empty());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.starts_with("planner: error: ") && r.stderr.contains(needle),
            "{}: {}",
            path.display(),
            r.stderr
        );
    }
}

/// examples/pr-preview end to end, but for GitHub: its configuration planned against moto and
/// previewed as the comment (the Action's comment script has its own test,
/// planner/tests/action.rs).
#[test]
fn pr_preview_example_previews_as_one_comment() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    group(moto, region, "web", 4);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pr-preview");
    let tf = Terraform::from_dir(moto, region, &example);
    tf.plan_out(&[("tag", "v1.1.0")], "tfplan").assert_success();
    let plan = plan_json_file(&tf, "tfplan", "plan");
    let md = planner(
        &["preview", plan.to_str().unwrap(), "--format", "markdown"],
        &[],
    );
    assert_eq!(md.code, 0, "{}", md.stderr);
    let ids: Vec<String> = group_state(moto, region, "web")
        .images
        .keys()
        .cloned()
        .collect();
    assert_eq!(ids.len(), 4);
    for needle in [
        "**Plan: 1 image to bake, 1 release to run (4 instances in 4 batches",
        "| `immutable_image.web` | 🟢 create |",
        "| `rolling_asg_release.web` | `web` | 🟢 create | 4 | 4 |",
        "`v1.1.0`",
        "```mermaid\ngantt\n",
    ] {
        assert!(
            md.stdout.contains(needle),
            "{needle:?} missing from:\n{}",
            md.stdout
        );
    }
    for id in &ids {
        assert!(
            md.stdout.contains(&format!("`{id}`")),
            "instance {id} missing from:\n{}",
            md.stdout
        );
    }
    assert!(md.stdout.len() <= 64_000);
}

/// A group with a warm pool (pool instances modelled by `support/aws_warm_pools.py`, so on
/// `Moto::behaving`): every format shows the pool's settings and the pool instances on the old
/// image that the release refreshes; the batches are the group's own instances only.
#[test]
fn a_warm_pool_previews_with_the_instances_the_release_refreshes() {
    let moto = Moto::behaving();
    let region = moto.unique_region();
    group(moto, region, "pooled", 3);
    moto.block_on(
        moto.autoscaling(region)
            .put_warm_pool()
            .auto_scaling_group_name("pooled")
            .min_size(2)
            .max_group_prepared_capacity(5)
            .pool_state(e2e_tests::aws_sdk_autoscaling::types::WarmPoolState::Running)
            .send(),
    )
    .unwrap();
    let tf = Terraform::new(
        moto,
        region,
        &format!(
            r#"
{TF_HEADER}
provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "pooled"
  image_id               = "ami-785db401"
  batch_size             = "2"
  instance_warmup        = "0s"
  batch_timeout          = "60s"
}}
"#
        ),
    );
    tf.plan_out(&[], "pool.tfplan").assert_success();
    let doc = preview_goldens(
        &plan_json_file(&tf, "pool.tfplan", "pool"),
        region,
        "release-warm-pool",
        2,
    );
    let schedule = &doc["releases"][0]["schedule"]["schedule"];
    assert_eq!(schedule["warm_pool"]["instances"], json!(2), "{schedule}");
    assert_eq!(
        string_list(&schedule["warm_pool"]["to_refresh"]).len(),
        2,
        "{schedule}"
    );
    let in_batches: Vec<String> = preview_batches(&doc).concat();
    let pool = string_list(&schedule["warm_pool"]["to_refresh"]);
    assert_eq!(in_batches.len(), 3);
    assert!(pool.iter().all(|id| !in_batches.contains(id)));
}
