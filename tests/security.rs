//! Security, end to end and by inspection:
//!
//! - planted secrets (the AWS secret key, a provisioning secret in `environment`, an SSH private
//!   key) never show up in the state, the plan JSON or terraform's TRACE log, except where
//!   Terraform itself keeps every argument (`environment` in the state and plan, marked sensitive);
//! - a builder requires IMDSv2, and a temporary security group opens the SSH port to the allowed
//!   CIDRs and nothing else;
//! - the IAM policies in docs/iam/ cover every AWS action the provider's and the planner's code
//!   can call, and no more; the planner's is read-only.
//!
//! The plugin's own transport security (mTLS pinned to Terraform's certificate, refusal without
//! the magic cookie, a private socket directory) is tested on the real socket by
//! provider/tests/plugin_serving.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use e2e_tests::serde_json::Value;
use e2e_tests::{FaultProxy, Moto, Terraform};

const AMI: &str = "ami-1e749f67";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn secret(kind: &str) -> String {
    format!(
        "s3cr3t-{kind}-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

fn header() -> &'static str {
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
"#
}

/// Where `needle` occurs in `haystack`, as (line number, line) pairs, for failure messages.
fn occurrences(haystack: &str, needle: &str) -> Vec<String> {
    haystack
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .take(3)
        .map(|(i, l)| format!("line {}: {}", i + 1, &l[..l.len().min(300)]))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

// ---- secrets ---------------------------------------------------------------------------------------

#[test]
fn planted_secrets_stay_out_of_state_plan_json_and_trace_logs() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let aws_secret = secret("aws");
    let env_secret = secret("env");
    // An SSH private key, referenced by path (only the path may be stored).
    let key_dir = std::env::temp_dir().join(format!("immutable-e2e-key-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&key_dir);
    std::fs::create_dir_all(&key_dir).unwrap();
    let key_path = key_dir.join("deploy.pem");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "planted", "-f"])
        .arg(&key_path)
        .status();
    let key_body = match keygen {
        Ok(s) if s.success() => read(&key_path)
            .lines()
            .nth(2)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(), // no ssh-keygen: the key part is skipped
    };

    let main_tf = format!(
        r##"{}
resource "immutable_image" "web" {{
  source_ami  = "{AMI}"
  code_tag    = "v1.0.0"
  script      = "#!/bin/sh\necho deploying $1\n"
  environment = {{ TOKEN = "{env_secret}" }}
}}
{}
"##,
        header(),
        if key_body.is_empty() {
            String::new()
        } else {
            format!(
                r#"
resource "immutable_image" "ssh" {{
  source_ami           = "{AMI}"
  code_tag             = "v1.0.0"
  script               = "echo hi"
  communicator         = "ssh"
  ssh_username         = "ubuntu"
  ssh_keypair_name     = "deploy"
  ssh_private_key_file = "{}"
  ssh_allowed_cidrs    = ["203.0.113.7/32"]
}}
"#,
                key_path.display()
            )
        }
    );
    let mut tf = Terraform::new(moto, region, &main_tf);
    let log = tf.dir().join("trace.log");
    tf.set_env("TF_LOG", "trace")
        .set_env("TF_LOG_PATH", log.display().to_string())
        .set_env("AWS_SECRET_ACCESS_KEY", &aws_secret);

    // The plan, saved and shown as JSON (the SSH image is planned only: moto's builders run no
    // sshd; provider tests with a real sshd cover SSH applies).
    tf.plan_out(&[], "all.tfplan").assert_success();
    let plan_json = tf.run(&["show", "-json", "all.tfplan"], &[]);
    plan_json.assert_success();
    let plan_text = plan_json.stdout.clone();
    // Apply the bake alone, then look at the state file itself.
    tf.run(
        &["apply", "-auto-approve", "-target=immutable_image.web"],
        &[],
    )
    .assert_success();
    let state_text = read(&tf.dir().join("terraform.tfstate"));
    let log_text = read(&log);
    assert!(
        log_text.contains("[TRACE]") && log_text.len() > 10_000,
        "a TRACE log was written ({} bytes)",
        log_text.len()
    );
    assert!(
        log_text.contains("provider.terraform-provider-immutable"),
        "the provider's own log lines are in it"
    );

    let mut leaks = vec![];
    let mut check = |what: &str, text: &str, needle: &str| {
        let found = occurrences(text, needle);
        if !found.is_empty() {
            leaks.push(format!("{what} contains {needle:?}: {found:?}"));
        }
    };
    for (what, text) in [
        ("the state", &state_text),
        ("the plan JSON", &plan_text),
        ("the TRACE log", &log_text),
    ] {
        check(what, text, &aws_secret);
        check(what, text, "PRIVATE KEY");
        if !key_body.is_empty() {
            check(what, text, &key_body);
        }
    }
    // The provisioning secret: never logged, by the provider or by terraform.
    check("the TRACE log", &log_text, &env_secret);
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));

    // Positive control: the same search finds what Terraform does keep.
    assert!(
        state_text.contains(&env_secret) && plan_text.contains(&env_secret),
        "terraform stores arguments in the state and the plan: the search works"
    );
    // Terraform keeps every argument in the state and the plan; `environment` is marked
    // sensitive there (hidden from the CLI's output and flagged for tools reading the JSON).
    let state: Value = e2e_tests::serde_json::from_str(&state_text).unwrap();
    let web = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web")
        .unwrap();
    let sensitive = web["instances"][0]["sensitive_attributes"].to_string();
    assert!(
        sensitive.contains("environment"),
        "environment is marked sensitive in the state: {sensitive}"
    );
    let plan: Value = e2e_tests::serde_json::from_str(&plan_text).unwrap();
    let change = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "immutable_image.web")
        .unwrap();
    assert_ne!(
        change["change"]["after_sensitive"]["environment"],
        Value::Bool(false),
        "environment is marked sensitive in the plan"
    );
    let shown = tf.run(&["show", "-no-color"], &[]);
    assert!(
        !shown.stdout.contains(&env_secret),
        "the CLI hides the sensitive value"
    );
    let _ = std::fs::remove_dir_all(&key_dir);
}

// ---- the builder's exposure ------------------------------------------------------------------------

/// The values of a query-protocol body (`Key=value&...`), percent-decoded.
fn form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let dec = |s: &str| {
                let b = s.replace('+', " ");
                let mut out = Vec::new();
                let bytes = b.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' && i + 2 < bytes.len() {
                        if let Ok(v) = u8::from_str_radix(&b[i + 1..i + 3], 16) {
                            out.push(v);
                            i += 3;
                            continue;
                        }
                    }
                    out.push(bytes[i]);
                    i += 1;
                }
                String::from_utf8_lossy(&out).into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

#[test]
fn builders_require_imdsv2_and_temporary_security_groups_open_only_ssh_to_allowed_cidrs() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let proxy = FaultProxy::start(&moto.endpoint(), vec![]);
    // A port nothing listens on: the SSH bake gets as far as waiting for SSH, times out and
    // cleans up — after the security group and the builder were made.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let main_tf = format!(
        r##"{}
resource "immutable_image" "web" {{
  source_ami        = "{AMI}"
  code_tag          = "v1.0.0"
  script            = "echo hi"
  communicator      = "ssh"
  ssh_username      = "ubuntu"
  ssh_host          = "127.0.0.1"
  ssh_port          = {closed}
  ssh_allowed_cidrs = ["203.0.113.7/32"]
  ssh_timeout       = "2s"
}}
"##,
        header()
    );
    let tf = Terraform::new(moto, region, &main_tf).with_endpoint(proxy.endpoint());
    let run = tf.apply(&[]);
    assert!(
        !run.success(),
        "no sshd: the bake fails\n{}",
        run.combined()
    );

    let calls = proxy.calls();
    let bodies = |action: &str| -> Vec<BTreeMap<String, String>> {
        calls
            .iter()
            .filter(|c| c.call.action.as_deref() == Some(action))
            .map(|c| form(&c.body))
            .collect()
    };
    let runs = bodies("RunInstances");
    assert!(!runs.is_empty(), "a builder was launched");
    for r in &runs {
        assert_eq!(
            r.get("MetadataOptions.HttpTokens").map(String::as_str),
            Some("required"),
            "IMDSv2 required: {r:?}"
        );
    }
    let ingress = bodies("AuthorizeSecurityGroupIngress");
    assert_eq!(ingress.len(), 1, "one ingress rule set: {ingress:?}");
    let rule = &ingress[0];
    let permissions: BTreeSet<&str> = rule
        .keys()
        .filter_map(|k| k.strip_prefix("IpPermissions."))
        .filter_map(|k| k.split('.').next())
        .collect();
    assert_eq!(permissions.len(), 1, "a single permission: {rule:?}");
    assert_eq!(
        rule.get("IpPermissions.1.IpProtocol").map(String::as_str),
        Some("tcp")
    );
    assert_eq!(
        rule.get("IpPermissions.1.FromPort"),
        Some(&closed.to_string()),
        "{rule:?}"
    );
    assert_eq!(
        rule.get("IpPermissions.1.ToPort"),
        Some(&closed.to_string())
    );
    let sources: Vec<&String> = rule
        .iter()
        .filter(|(k, _)| k.ends_with(".CidrIp") || k.ends_with(".CidrIpv6"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        sources,
        vec!["203.0.113.7/32"],
        "only the allowed CIDR: {rule:?}"
    );
    assert!(
        rule.keys()
            .all(|k| !k.contains("Groups.") && !k.contains("PrefixListIds")),
        "no other source: {rule:?}"
    );
    assert!(
        bodies("AuthorizeSecurityGroupEgress").is_empty(),
        "egress is left as AWS makes it"
    );
    // And nothing outlives the failed bake.
    assert!(
        moto.security_groups(region).is_empty(),
        "security group deleted"
    );
    assert!(
        moto.key_pairs(region).is_empty(),
        "temporary key pair deleted"
    );
    assert!(
        moto.running_instances(region).is_empty(),
        "builder terminated"
    );
}

// ---- IAM ----------------------------------------------------------------------------------------

/// Receiver names of the SDK clients in the sources, and the IAM service of each.
const CLIENTS: &[(&str, &str)] = &[
    ("ec2", "ec2"),
    ("asg", "autoscaling"),
    ("autoscaling", "autoscaling"),
    ("ssm", "ssm"),
    ("elb", "elasticloadbalancing"),
    ("elbv2", "elasticloadbalancing"),
    ("sts", "sts"),
];

/// Method-name prefixes that only AWS operations have in these sources: such a call on an
/// unknown receiver fails the test (name the client variable after its service).
const OPERATION_PREFIXES: &[&str] = &[
    "describe_",
    "create_",
    "delete_",
    "run_instances",
    "terminate_",
    "update_auto",
    "suspend_processes",
    "resume_processes",
    "send_command",
    "get_command_invocation",
    "cancel_command",
    "deregister_",
    "register_",
    "modify_",
    "import_key",
    "copy_image",
    "authorize_",
    "revoke_",
    "detach_instances",
    "attach_",
    "set_desired_capacity",
    "set_instance_",
    "start_instance_refresh",
];

/// IAM action names that are not the PascalCase of the SDK's method name.
const EXCEPTIONS: &[(&str, &str)] = &[];

fn pascal(snake: &str) -> String {
    if let Some((_, iam)) = EXCEPTIONS.iter().find(|(s, _)| *s == snake) {
        return iam.to_string();
    }
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `service:Action` the code under `dirs` calls on an SDK client, with where.
fn sdk_actions(dirs: &[&str]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut files = vec![];
    for d in dirs {
        rust_files(&workspace().join(d), &mut files);
    }
    let mut actions = BTreeMap::new();
    let mut unattributed = vec![];
    for file in files {
        let text = read(&file);
        // Comments out, whitespace around dots out: `self\n    .asg\n    .describe_x()`
        // becomes `self.asg.describe_x()`.
        let mut code = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        while code.contains(" .") || code.contains(". ") {
            code = code.replace(" .", ".").replace(". ", ".");
        }
        let bytes = code.as_bytes();
        let mut i = 0;
        while let Some(pos) = code[i..].find("()") {
            let end = i + pos;
            i = end + 2;
            // The method name before `()`, and a dot before it.
            let mut start = end;
            while start > 0
                && (bytes[start - 1].is_ascii_lowercase()
                    || bytes[start - 1].is_ascii_digit()
                    || bytes[start - 1] == b'_')
            {
                start -= 1;
            }
            if start == end || start == 0 || bytes[start - 1] != b'.' {
                continue;
            }
            let method = &code[start..end];
            // The receiver: the identifier before that dot.
            let dot = start - 1;
            let mut r = dot;
            while r > 0 && (bytes[r - 1].is_ascii_alphanumeric() || bytes[r - 1] == b'_') {
                r -= 1;
            }
            let receiver = &code[r..dot];
            let rel = file
                .strip_prefix(workspace())
                .unwrap_or(&file)
                .display()
                .to_string();
            match CLIENTS.iter().find(|(name, _)| *name == receiver) {
                // Rust's own methods on a client value.
                Some(_) if ["clone", "to_owned", "as_ref", "config"].contains(&method) => {}
                Some((_, service)) => {
                    actions
                        .entry(format!("{service}:{}", pascal(method)))
                        .or_insert(rel);
                }
                None if OPERATION_PREFIXES.iter().any(|p| method.starts_with(p)) => {
                    unattributed.push(format!("{rel}: `{receiver}.{method}()`"));
                }
                None => {}
            }
        }
    }
    (actions, unattributed)
}

fn policy_actions(file: &str) -> BTreeSet<String> {
    let v: Value = e2e_tests::serde_json::from_str(&read(&workspace().join(file)))
        .unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
    assert_eq!(
        v["Version"], "2012-10-17",
        "{file}: policy language version"
    );
    let mut out = BTreeSet::new();
    for st in v["Statement"].as_array().expect("Statement list") {
        assert_eq!(st["Effect"], "Allow", "{file}: {st}");
        match &st["Action"] {
            Value::String(a) => {
                out.insert(a.clone());
            }
            Value::Array(list) => {
                out.extend(list.iter().filter_map(|a| a.as_str().map(String::from)))
            }
            other => panic!("{file}: Action {other}"),
        }
    }
    out
}

/// Permissions AWS checks that no SDK call of ours names: passing the builder's / template's
/// instance profile role, and the KMS grants of an encrypted image copy.
fn implied(action: &str) -> bool {
    action == "iam:PassRole" || action.starts_with("kms:")
}

#[test]
fn iam_policies_cover_every_aws_call_in_the_code_and_no_more() {
    let (provider, unattributed) = sdk_actions(&["provider/src", "planner/src"]);
    assert!(
        unattributed.is_empty(),
        "AWS-looking calls whose client this test cannot tell (name the variable ec2/asg/ssm/elb/sts):\n{}",
        unattributed.join("\n")
    );
    assert!(
        provider.contains_key("ec2:RunInstances")
            && provider.contains_key("autoscaling:UpdateAutoScalingGroup"),
        "the scan finds the code's calls: {provider:?}"
    );
    let policy = policy_actions("docs/iam/provider-policy.json");
    let missing: Vec<String> = provider
        .iter()
        .filter(|(a, _)| !policy.contains(*a))
        .map(|(a, f)| format!("{a} (called in {f})"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/iam/provider-policy.json lacks actions the code calls:\n{}",
        missing.join("\n")
    );
    let unused: Vec<&String> = policy
        .iter()
        .filter(|a| !implied(a) && !provider.contains_key(*a))
        .collect();
    assert!(
        unused.is_empty(),
        "docs/iam/provider-policy.json grants actions no code calls (keep it minimal): {unused:?}"
    );

    // The planner: read-only by construction, and its policy says so.
    let (planner, _) = sdk_actions(&["planner/src"]);
    let read_only = |a: &str| {
        let action = a.split_once(':').map(|(_, x)| x).unwrap_or(a);
        ["Describe", "Get", "List"]
            .iter()
            .any(|p| action.starts_with(p))
    };
    let mutating: Vec<&String> = planner.keys().filter(|a| !read_only(a)).collect();
    assert!(
        mutating.is_empty(),
        "the planner calls mutating actions: {mutating:?}"
    );
    let planner_policy = policy_actions("docs/iam/planner-policy.json");
    assert!(
        planner_policy.iter().all(|a| read_only(a)),
        "docs/iam/planner-policy.json is read-only: {planner_policy:?}"
    );
    let missing: Vec<&String> = planner
        .keys()
        .filter(|a| !planner_policy.contains(*a))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/iam/planner-policy.json lacks {missing:?}"
    );
    let unused: Vec<&String> = planner_policy
        .iter()
        .filter(|a| !planner.contains_key(*a))
        .collect();
    assert!(
        unused.is_empty(),
        "docs/iam/planner-policy.json grants unused {unused:?}"
    );

    // The README shows the same policies.
    let readme = read(&workspace().join("README.md"));
    for a in policy.iter().chain(&planner_policy) {
        assert!(
            readme.contains(&format!("\"{a}\"")),
            "README's Permissions section lacks {a}"
        );
    }
}
