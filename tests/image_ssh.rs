//! `immutable_image` with `communicator = "ssh"`, end to end: the real terraform CLI, the freshly
//! built plugin, a real moto_server, and a real OpenSSH server on loopback standing in for the
//! builder.
//!
//! moto's instances are not machines, so each test starts its own `sshd` (Debian's
//! openssh-server, installed when missing) on a free loopback port and points `ssh_host` at it.
//! The sshd plays the part of cloud-init: its `AuthorizedKeysCommand` prints the public keys of
//! the EC2 key pairs in the test's moto region, so it accepts exactly the keys EC2 would have put
//! on the builder — including the temporary key pair the provider imports. The provisioning
//! script does what the classic Packer one did: clone a git repository (a local bare repository
//! made by the test) and check out the tag.

#[path = "image_support/common.rs"]
mod common;
#[path = "image_support/sshd.rs"]
mod sshd;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{all_instances, folded, recorded_bodies, spawn_terraform, tags_of};
use e2e_tests::serde_json::json;
use e2e_tests::TF_HEADER;
use e2e_tests::{Moto, Terraform};
use sshd::{git, Sshd};

const SOURCE_AMI: &str = "ami-1e749f67"; // moto's built-in Ubuntu 14.04

/// The classic provisioning script: clone, check out the tag, leave a marker with what it saw.
const PROVISION: &str = r#"#!/bin/sh
set -eu
echo "deploying $1 (CODE_TAG=$CODE_TAG) from $APP_REPO"
rm -rf "$APP_DIR"
git clone --quiet "$APP_REPO" "$APP_DIR"
cd "$APP_DIR"
git -c advice.detachedHead=false checkout --quiet "$1"
printf '%s\n%s\n%s\n' "$1" "$CODE_TAG" "$(id -un)" > "$APP_DIR.marker"
echo "checked out $(git rev-parse HEAD)"
"#;

struct Fixture {
    moto: &'static Moto,
    region: &'static str,
    sshd: Sshd,
    repo: git::Repo,
    work: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let moto = Moto::shared();
        let region = moto.unique_region();
        let sshd = Sshd::start(moto, region);
        let work = sshd.dir().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let repo = git::Repo::create(&work.join("repo"));
        Fixture {
            moto,
            region,
            sshd,
            repo,
            work,
        }
    }

    fn app_dir(&self) -> PathBuf {
        self.work.join("app")
    }

    /// The resource with `extra` arguments; the script comes from `provision.sh`.
    fn config(&self, extra: &str) -> String {
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
  script_file   = "${{path.module}}/provision.sh"
  name_template = "web-{{{{tag}}}}-{{{{timestamp}}}}"
  communicator  = "ssh"
  ssh_username  = "root"
  ssh_host      = "127.0.0.1"
  ssh_port      = {port}
  ssh_timeout   = "60s"
  environment = {{
    APP_REPO     = "{repo}"
    APP_DIR      = "{app}"
    SECRET_TOKEN = "{secret}"
  }}
  tags = {{ app = "web" }}
  {extra}
}}

output "id" {{ value = immutable_image.web.id }}
"##,
            port = self.sshd.port(),
            repo = self.repo.url(),
            app = self.app_dir().display(),
            secret = SECRET_TOKEN,
        )
    }

    fn terraform(&self, extra: &str, script: &str) -> Terraform {
        let tf = Terraform::new(self.moto, self.region, &self.config(extra));
        tf.write_file("provision.sh", script);
        tf
    }

    fn assert_no_temporaries_left(&self) {
        let moto = self.moto;
        assert!(
            moto.running_instances(self.region).is_empty(),
            "builder terminated"
        );
        let temp_keys: Vec<String> = moto
            .key_pairs(self.region)
            .iter()
            .filter_map(|k| k.key_name().map(String::from))
            .filter(|n| n.starts_with("immutable-"))
            .collect();
        assert!(
            temp_keys.is_empty(),
            "temporary key pairs left: {temp_keys:?}"
        );
        let temp_groups: Vec<String> = moto
            .security_groups(self.region)
            .iter()
            .filter_map(|g| g.group_name().map(String::from))
            .filter(|n| n.starts_with("immutable-"))
            .collect();
        assert!(
            temp_groups.is_empty(),
            "temporary security groups left: {temp_groups:?}"
        );
    }
}

const SECRET_TOKEN: &str = "e2e-secret-4f1c9a2b77";

#[test]
fn ssh_bake_deploys_the_tag_from_git_and_leaves_no_temporaries() {
    let fx = Fixture::new();
    let (moto, region) = (fx.moto, fx.region);
    let tf = fx.terraform(r#"ssh_allowed_cidrs = ["127.0.0.1/32"]"#, PROVISION);

    let started = Instant::now();
    let run = tf.apply_with_env(&[], &[("TF_LOG_PROVIDER", "trace")]);
    run.assert_success();
    let took = started.elapsed();
    eprintln!("measured: ssh bake (terraform apply, temporary key pair and group) took {took:.1?}");

    // The tag's commit is what the script checked out, not the newest one.
    let app = fx.app_dir();
    assert_eq!(
        std::fs::read_to_string(app.join("VERSION")).unwrap().trim(),
        "1.0.0"
    );
    assert_eq!(
        std::fs::read_to_string(app.join("hello.txt")).unwrap(),
        "hello from v1\n"
    );
    assert!(
        !app.join("only-in-v2.txt").exists(),
        "a file of the later tag is not there"
    );
    assert_eq!(
        git::output(&app, &["rev-parse", "HEAD"]),
        fx.repo.commit_of("v1.0.0")
    );
    assert_eq!(
        git::output(&app, &["describe", "--tags", "--exact-match"]),
        "v1.0.0"
    );
    // `$1` and CODE_TAG both carry the tag; the script ran as root.
    assert_eq!(
        std::fs::read_to_string(fx.work.join("app.marker")).unwrap(),
        "v1.0.0\nv1.0.0\nroot\n"
    );
    let out = folded(&run.combined());
    assert!(
        out.contains("checked out"),
        "script output reaches the provider log: {out}"
    );
    assert!(
        !out.contains(SECRET_TOKEN),
        "an environment value appeared in the provider's TRACE log"
    );

    // The image exists and is finished.
    let images = moto.images(region);
    assert_eq!(images.len(), 1);
    let tags = tags_of(images[0].tags());
    assert_eq!(
        tags.get("immutable:code-tag").map(String::as_str),
        Some("v1.0.0")
    );
    assert!(!tags.contains_key("immutable:temporary"), "{tags:?}");
    assert_eq!(
        tf.output("id"),
        json!(images[0].image_id().unwrap()),
        "state names the image"
    );

    // The builder was launched with the temporary key pair and group, both gone now.
    let builder = &all_instances(moto, region)[0];
    let key_name = builder.key_name().unwrap_or_default().to_string();
    assert!(key_name.starts_with("immutable-bake-"), "{key_name}");
    let groups: Vec<&str> = builder
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(
        groups,
        vec![key_name.as_str()],
        "launched in the temporary group"
    );
    fx.assert_no_temporaries_left();
    for (action, n) in [
        ("ImportKeyPair", 1),
        ("DeleteKeyPair", 1),
        ("CreateSecurityGroup", 1),
        ("AuthorizeSecurityGroupIngress", 1),
        ("DeleteSecurityGroup", 1),
        ("SendCommand", 0),
    ] {
        assert_eq!(moto.count(region, action), n, "{action}");
    }
    // The group opened the SSH port to the configured source only.
    let ingress = recorded_bodies(moto, region, "AuthorizeSecurityGroupIngress");
    assert_eq!(ingress.len(), 1);
    let body = &ingress[0];
    assert!(body.contains("CidrIp=127.0.0.1/32"), "{body}");
    assert!(
        body.contains(&format!("FromPort={}", fx.sshd.port()))
            && body.contains(&format!("ToPort={}", fx.sshd.port())),
        "{body}"
    );
    // The temporary key pair carried the bake's temporary marks.
    let import = &recorded_bodies(moto, region, "ImportKeyPair")[0];
    for mark in [
        "immutable:temporary",
        "immutable:expires-at",
        "immutable:bake-id",
        "immutable:owner",
    ] {
        assert!(import.contains(mark), "{mark} in {import}");
    }

    // Where the script runs is not what the image is: moving SSH elsewhere bakes nothing.
    tf.plan(&[]).assert_status(0);
    tf.write_file(
        "main.tf",
        &fx.config(r#"ssh_allowed_cidrs = ["10.0.0.0/8"]"#),
    );
    let plan = tf.plan(&[]);
    assert!(!plan.stdout.contains("must be replaced"), "{}", plan.stdout);

    // A new tag: a new bake deploys v2.0.0.
    tf.write_file(
        "main.tf",
        &fx.config(r#"ssh_allowed_cidrs = ["127.0.0.1/32"]"#),
    );
    tf.apply(&[("tag", "v2.0.0")]).assert_success();
    assert_eq!(
        std::fs::read_to_string(app.join("VERSION")).unwrap().trim(),
        "2.0.0"
    );
    assert!(app.join("only-in-v2.txt").exists());
    fx.assert_no_temporaries_left();
}

#[test]
fn ssh_failing_script_reports_its_tail_and_cleans_up() {
    let fx = Fixture::new();
    let (moto, region) = (fx.moto, fx.region);
    let script = "#!/bin/sh\nfor i in $(seq 1 30); do echo \"step $i ok\"; done\necho 'fatal: could not read from remote repository' >&2\nexit 7\n";
    let tf = fx.terraform(r#"ssh_allowed_cidrs = ["127.0.0.1/32"]"#, script);
    let run = tf.apply(&[]);
    assert!(!run.success(), "the bake must fail");
    let out = folded(&run.combined());
    assert!(out.contains("exit code 7"), "{out}");
    assert!(out.contains("step 30 ok"), "the tail is quoted: {out}");
    assert!(
        out.contains("fatal: could not read from remote repository"),
        "stderr is in the tail: {out}"
    );
    assert!(
        !out.contains("step 5 ok"),
        "only the tail, not everything: {out}"
    );
    for cleaned in [
        "terminated builder",
        "deleted security group",
        "deleted key pair",
    ] {
        assert!(out.contains(cleaned), "the error says {cleaned:?}: {out}");
    }
    fx.assert_no_temporaries_left();
    assert!(moto.images(region).is_empty(), "no image");
    assert_eq!(moto.count(region, "CreateImage"), 0);
    assert!(moto.key_pairs(region).is_empty(), "no key pair at all");
    assert!(moto.security_groups(region).is_empty(), "no group at all");
}

#[test]
fn ssh_timeout_still_deletes_the_key_pair_and_group() {
    let fx = Fixture::new();
    let (moto, region) = (fx.moto, fx.region);
    // Nothing listens on this port: SSH never comes up.
    let closed = sshd::free_port();
    let cfg = fx
        .config(r#"ssh_allowed_cidrs = ["127.0.0.1/32"]"#)
        .replace(
            &format!("ssh_port      = {}", fx.sshd.port()),
            &format!("ssh_port      = {closed}"),
        )
        .replace("ssh_timeout   = \"60s\"", "ssh_timeout   = \"3s\"");
    let tf = Terraform::new(moto, region, &cfg);
    tf.write_file("provision.sh", PROVISION);
    let started = Instant::now();
    let run = tf.apply(&[]);
    assert!(!run.success());
    let out = folded(&run.combined());
    assert!(out.contains("waiting for SSH"), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{closed}")), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "ssh_timeout bounds the wait"
    );
    fx.assert_no_temporaries_left();
    assert!(moto.key_pairs(region).is_empty());
    assert!(moto.images(region).is_empty());
}

#[test]
fn ssh_existing_key_pair_through_a_bastion_keeps_the_key_secret() {
    let fx = Fixture::new();
    let (moto, region) = (fx.moto, fx.region);
    // The user's own key pair, registered in EC2 beforehand.
    let key = fx.sshd.dir().join("id_ed25519");
    sshd::keygen(&key);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let ec2 = moto.ec2(region);
    let material = public.clone();
    moto.block_on(async move {
        ec2.import_key_pair()
            .key_name("e2e-existing")
            .public_key_material(e2e_tests::aws_sdk_ec2::primitives::Blob::new(
                material.into_bytes(),
            ))
            .send()
            .await
    })
    .unwrap();
    // A group of the user's that already allows SSH: no temporary one is made.
    let ec2 = moto.ec2(region);
    let group = moto
        .block_on(async move {
            ec2.create_security_group()
                .group_name("e2e-ssh")
                .description("ssh")
                .send()
                .await
        })
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let private = std::fs::read_to_string(&key).unwrap();
    let extra = format!(
        r#"ssh_keypair_name   = "e2e-existing"
  ssh_private_key    = file("{key}")
  security_group_ids = ["{group}"]
  ssh_bastion {{
    host     = "127.0.0.1"
    port     = {port}
    username = "root"
    host_key = "{host_key}"
  }}"#,
        key = key.display(),
        port = fx.sshd.port(),
        host_key = fx.sshd.host_public_key(),
    );
    let tf = fx.terraform(&extra, PROVISION);
    let accepted_before = fx.sshd.accepted_logins();
    let run = tf.apply_with_env(&[], &[("TF_LOG_PROVIDER", "trace")]);
    run.assert_success();
    assert_eq!(
        git::output(&fx.app_dir(), &["describe", "--tags", "--exact-match"]),
        "v1.0.0"
    );
    assert!(
        fx.sshd.accepted_logins() >= accepted_before + 2,
        "one login on the bastion, one on the builder through it:\n{}",
        fx.sshd.log()
    );
    // The secret key never reaches a log line or the plan output.
    let out = run.combined();
    for line in private
        .lines()
        .filter(|l| l.len() > 20 && !l.starts_with("-----"))
    {
        assert!(!out.contains(line), "private key material in the output");
    }
    assert!(!out.contains(SECRET_TOKEN));
    // The user's key pair and group stay; nothing temporary was made.
    assert!(moto
        .key_pairs(region)
        .iter()
        .any(|k| k.key_name() == Some("e2e-existing")));
    assert_eq!(moto.count(region, "DeleteKeyPair"), 0);
    assert_eq!(
        moto.count(region, "CreateSecurityGroup"),
        1,
        "only the test's own"
    );
    assert_eq!(moto.count(region, "DeleteSecurityGroup"), 0);
    let builder = &all_instances(moto, region)[0];
    assert_eq!(builder.key_name(), Some("e2e-existing"));
    fx.assert_no_temporaries_left();

    // A bastion showing another host key than the pinned one is refused at once.
    let other = fx.sshd.dir().join("other_host_key");
    sshd::keygen(&other);
    let wrong = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let wrong = wrong
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let tf2 = fx.terraform(
        &extra.replace(&fx.sshd.host_public_key(), &wrong),
        PROVISION,
    );
    let started = Instant::now();
    let run = tf2.apply(&[("tag", "v2.0.0")]);
    assert!(!run.success());
    let out = folded(&run.combined());
    assert!(out.contains("refused"), "{out}");
    assert!(out.contains("host key"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a refused host key is not retried until ssh_timeout"
    );
    fx.assert_no_temporaries_left();
}

#[test]
fn ssh_interrupt_stops_the_script_and_cleans_up() {
    let fx = Fixture::new();
    let (moto, region) = (fx.moto, fx.region);
    let marker = fx.work.join("started");
    let script = format!(
        "#!/bin/sh\necho started\ntouch {}\nsleep 20\necho never\n",
        marker.display()
    );
    let tf = fx.terraform(r#"ssh_allowed_cidrs = ["127.0.0.1/32"]"#, &script);
    let mut child = spawn_terraform(
        &tf,
        &["apply", "-auto-approve", "-no-color", "-input=false"],
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while !marker.exists() {
        assert!(
            Instant::now() < deadline,
            "the script never started:\n{}",
            fx.sshd.log()
        );
        if let Ok(Some(status)) = child.child.try_wait() {
            panic!("terraform exited early ({status}): {}", child.output());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let interrupted = Instant::now();
    let _ = Command::new("kill")
        .args(["-INT", &child.child.id().to_string()])
        .status();
    let status = child.wait(Duration::from_secs(120));
    let stopped_after = interrupted.elapsed();
    eprintln!("measured: Ctrl-C during an SSH script → terraform exited after {stopped_after:.1?}");
    let out = folded(&child.output());
    assert!(!status.success(), "an interrupted apply fails: {out}");
    assert!(out.contains("interrupt"), "{out}");
    assert!(
        stopped_after < Duration::from_secs(15),
        "the script's remaining 20 s were not waited for"
    );
    fx.assert_no_temporaries_left();
    assert!(moto.images(region).is_empty(), "nothing was imaged");
    assert_eq!(moto.count(region, "CreateImage"), 0);
}
