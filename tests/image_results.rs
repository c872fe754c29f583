//! `immutable_image` results end to end: copies to other regions, launch permissions,
//! encryption, `keep_previous`, in-place updates of all of them, and interrupt safety (an image or
//! copy that exists when a bake is cancelled is tagged at once and discarded; what a killed bake
//! leaves is swept). The real terraform CLI, the freshly built plugin, a real moto_server.

#[path = "image_support/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{folded, recorded_bodies, spawn_terraform, tags_of};
use e2e_tests::aws_sdk_ec2::types::{ImageAttributeName, ResourceType, Tag, TagSpecification};
use e2e_tests::fault_proxy::Rule;
use e2e_tests::serde_json::json;
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
}}

resource "immutable_image" "web" {{
  source_ami    = "{SOURCE_AMI}"
  code_tag      = var.tag
  script        = "#!/bin/sh\necho deploying $1\n"
  name_template = "web-{{{{tag}}}}-{{{{timestamp}}}}"
  tags          = {{ app = "web" }}
  {extra}
}}

output "id" {{ value = immutable_image.web.id }}
output "regions" {{ value = immutable_image.web.region_image_ids }}
"##
    )
}

fn image_by_id(
    moto: &Moto,
    region: &str,
    id: &str,
) -> Option<e2e_tests::aws_sdk_ec2::types::Image> {
    moto.images(region)
        .into_iter()
        .find(|i| i.image_id() == Some(id))
}

/// Launch permissions of an image: account ids and organization ARNs.
fn launch_permissions(moto: &Moto, region: &str, id: &str) -> Vec<String> {
    let ec2 = moto.ec2(region);
    let id = id.to_string();
    let out = moto
        .block_on(async move {
            ec2.describe_image_attribute()
                .image_id(id)
                .attribute(ImageAttributeName::LaunchPermission)
                .send()
                .await
        })
        .unwrap();
    let mut v: Vec<String> = out
        .launch_permissions()
        .iter()
        .filter_map(|p| {
            p.user_id()
                .or(p.organization_arn())
                .or(p.organizational_unit_arn())
                .map(String::from)
        })
        .collect();
    v.sort();
    v
}

fn marks_absent(tags: &BTreeMap<String, String>) -> bool {
    [
        "immutable:temporary",
        "immutable:expires-at",
        "immutable:owner",
    ]
    .iter()
    .all(|k| !tags.contains_key(*k))
}

#[test]
fn copies_permissions_and_encryption_then_in_place_updates_and_destroy() {
    let moto = Moto::shared();
    let home = moto.unique_region();
    let r2 = moto.unique_region();
    let r3 = moto.unique_region();
    let org = "arn:aws:organizations::111122223333:organization/o-exampleorgid";
    let extra = |regions: &[&str], accounts: &[&str]| {
        format!(
            r#"copy_to_regions = {regions:?}
  encrypted       = true
  kms_key_id      = "alias/e2e-images"
  launch_permission {{
    accounts          = {accounts:?}
    organization_arns = ["{org}"]
  }}"#
        )
    };
    let tf = Terraform::new(moto, home, &config(&extra(&[r2], &["111122223333"])));
    let started = Instant::now();
    tf.apply(&[]).assert_success();
    eprintln!(
        "measured: bake + encryption copy + 1 region copy took {:.1?}",
        started.elapsed()
    );
    let id = tf.output("id").as_str().unwrap().to_string();
    let regions = tf.output("regions");
    let copy2 = regions[r2].as_str().unwrap().to_string();
    assert_eq!(regions[home], json!(id));
    assert_eq!(regions.as_object().unwrap().len(), 2, "{regions}");

    // Encryption: the built image was copied with Encrypted and the key, then deleted.
    let home_images = moto.images(home);
    assert_eq!(
        home_images.len(),
        1,
        "only the encrypted image remains: {home_images:?}"
    );
    let img = &home_images[0];
    assert_eq!(img.image_id(), Some(id.as_str()));
    assert!(
        img.name().unwrap().starts_with("web-v1.0.0-"),
        "{:?}",
        img.name()
    );
    let tags = tags_of(img.tags());
    assert!(tags["immutable:fingerprint"].starts_with("sha256:"));
    assert_eq!(tags.get("app").map(String::as_str), Some("web"));
    assert!(tags.contains_key("immutable:lineage"));
    assert!(
        marks_absent(&tags),
        "finished images carry no temporary marks: {tags:?}"
    );
    assert_eq!(
        moto.snapshots(home).len(),
        1,
        "the intermediate's snapshot is gone"
    );
    let encrypt = recorded_bodies(moto, home, "CopyImage");
    assert_eq!(encrypt.len(), 1, "{encrypt:?}");
    assert!(encrypt[0].contains("Encrypted=true"), "{}", encrypt[0]);
    assert!(
        encrypt[0].contains("KmsKeyId=alias/e2e-images"),
        "{}",
        encrypt[0]
    );
    assert_eq!(
        moto.count(home, "DeregisterImage"),
        1,
        "the unencrypted intermediate"
    );

    // The copy: tags (provenance, user tags, where it came from), snapshots, permissions.
    let copy = image_by_id(moto, r2, &copy2).expect("the copy exists in its region");
    let ctags = tags_of(copy.tags());
    assert_eq!(ctags.get("immutable:copy-of"), Some(&id));
    assert_eq!(
        ctags.get("immutable:fingerprint"),
        tags.get("immutable:fingerprint")
    );
    assert_eq!(ctags.get("app").map(String::as_str), Some("web"));
    assert!(marks_absent(&ctags), "{ctags:?}");
    let copy_snaps = moto.snapshots(r2);
    assert_eq!(copy_snaps.len(), 1);
    assert_eq!(
        tags_of(copy_snaps[0].tags()).get("immutable:copy-of"),
        Some(&id),
        "the copy's snapshot is tagged"
    );
    let to_r2 = recorded_bodies(moto, r2, "CopyImage");
    assert_eq!(to_r2.len(), 1);
    assert!(
        to_r2[0].contains(&format!("SourceRegion={home}")),
        "{}",
        to_r2[0]
    );
    assert!(to_r2[0].contains("Encrypted=true"), "copies stay encrypted");
    assert!(
        !to_r2[0].contains("KmsKeyId"),
        "a home-region key does not exist elsewhere"
    );
    for (region, image) in [(home, &id), (r2, &copy2)] {
        assert_eq!(
            launch_permissions(moto, region, image),
            vec!["111122223333".to_string(), org.to_string()],
            "{region}"
        );
    }
    tf.plan(&[]).assert_status(0);

    // In place: another region, other accounts, other tags. Nothing is baked.
    let bakes = moto.count(home, "RunInstances");
    tf.write_file(
        "main.tf",
        &config(&extra(&[r2, r3], &["444455556666"]))
            .replace(r#"{ app = "web" }"#, r#"{ app = "web2" }"#),
    );
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("update in-place"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    tf.apply(&[]).assert_success();
    assert_eq!(moto.count(home, "RunInstances"), bakes, "nothing was baked");
    let regions = tf.output("regions");
    assert_eq!(regions[r2], json!(copy2), "the existing copy is kept");
    let copy3 = regions[r3]
        .as_str()
        .expect("a copy in the new region")
        .to_string();
    for (region, image) in [(home, &id), (r2, &copy2), (r3, &copy3)] {
        assert_eq!(
            launch_permissions(moto, region, image),
            vec!["444455556666".to_string(), org.to_string()],
            "{region}: the old account is revoked, the new one granted"
        );
        let t = tags_of(image_by_id(moto, region, image).unwrap().tags());
        assert_eq!(t.get("app").map(String::as_str), Some("web2"), "{region}");
    }

    // A copy deleted outside Terraform (image and snapshot) is made again by the next apply.
    let ec2 = moto.ec2(r3);
    let gone = copy3.clone();
    let snap = moto.snapshots(r3)[0].snapshot_id().unwrap().to_string();
    moto.block_on(async move {
        ec2.deregister_image().image_id(gone).send().await.unwrap();
        ec2.delete_snapshot()
            .snapshot_id(snap)
            .send()
            .await
            .unwrap();
    });
    let plan = tf.plan(&[]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("update in-place"), "{}", plan.stdout);
    tf.apply(&[]).assert_success();
    let copy3b = tf.output("regions")[r3].as_str().unwrap().to_string();
    assert_ne!(copy3b, copy3);
    assert!(image_by_id(moto, r3, &copy3b).is_some());

    // A region leaves the list: its copy and snapshot go.
    tf.write_file(
        "main.tf",
        &config(&extra(&[r3], &["444455556666"]))
            .replace(r#"{ app = "web" }"#, r#"{ app = "web2" }"#),
    );
    tf.apply(&[]).assert_success();
    assert!(moto.images(r2).is_empty(), "the copy in {r2} was deleted");
    assert!(moto.snapshots(r2).is_empty(), "with its snapshot");
    assert_eq!(
        tf.output("regions").as_object().unwrap().len(),
        2,
        "{}",
        tf.output("regions")
    );

    // Destroy removes the image and every copy, with their snapshots.
    tf.destroy(&[]).assert_success();
    for region in [home, r2, r3] {
        assert!(moto.images(region).is_empty(), "{region}");
        assert!(moto.snapshots(region).is_empty(), "{region}");
    }
}

#[test]
fn keep_previous_prunes_earlier_images_of_the_lineage_in_every_region() {
    let moto = Moto::shared();
    let home = moto.unique_region();
    let r2 = moto.unique_region();
    let cfg = |keep: u32| {
        config(&format!(
            r#"copy_to_regions   = ["{r2}"]
  retain_on_destroy = true
  keep_previous     = {keep}"#
        ))
        .replace("web-{{tag}}", "svc-{{tag}}")
    };
    // Another resource's images (another name_template) in the same region: never touched.
    let other = Terraform::new(
        moto,
        home,
        &config("").replace("echo deploying", "echo other"),
    );
    other.apply(&[]).assert_success();
    let other_id = other.output("id").as_str().unwrap().to_string();

    let tf = Terraform::new(moto, home, &cfg(1));
    let mut ids = Vec::new();
    let mut copies = Vec::new();
    for tag in ["v1.0.0", "v2.0.0", "v3.0.0"] {
        tf.apply(&[("tag", tag)]).assert_success();
        ids.push(tf.output("id").as_str().unwrap().to_string());
        copies.push(tf.output("regions")[r2].as_str().unwrap().to_string());
        // creation dates have second precision: keep bakes apart so "newest" is well defined
        std::thread::sleep(Duration::from_millis(1100));
    }
    let in_region = |region: &str| -> Vec<String> {
        let mut v: Vec<String> = moto
            .images(region)
            .iter()
            .filter_map(|i| i.image_id().map(String::from))
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // v3 is current, v2 the one kept; v1 went, in both regions.
    assert_eq!(
        in_region(home),
        sorted(vec![ids[2].clone(), ids[1].clone(), other_id.clone()])
    );
    assert_eq!(
        in_region(r2),
        sorted(vec![copies[2].clone(), copies[1].clone()])
    );
    let snaps_home = moto.snapshots(home).len();
    assert_eq!(snaps_home, 3, "v1's snapshot was deleted with it");

    // keep_previous = 0 in place: only the current image is left.
    tf.write_file("main.tf", &cfg(0));
    let plan = tf.plan(&[("tag", "v3.0.0")]);
    plan.assert_status(2);
    assert!(plan.stdout.contains("update in-place"), "{}", plan.stdout);
    tf.apply(&[("tag", "v3.0.0")]).assert_success();
    assert_eq!(
        in_region(home),
        sorted(vec![ids[2].clone(), other_id.clone()])
    );
    assert_eq!(in_region(r2), vec![copies[2].clone()]);
}

#[test]
fn interrupted_copy_is_tagged_at_once_and_discarded() {
    let moto = Moto::shared();
    let home = moto.unique_region();
    let r2 = moto.unique_region();
    // The copy is slow to answer, so Ctrl-C lands while it is in flight: when CopyImage returns,
    // the copy exists and the provider has already been told to stop.
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        vec![Rule::delay("CopyImage", Duration::from_secs(6))],
    );
    let tf = Terraform::new(
        moto,
        home,
        &config(&format!(r#"copy_to_regions = ["{r2}"]"#)),
    )
    .with_endpoint(proxy.endpoint());
    let mut run = spawn_terraform(
        &tf,
        &["apply", "-auto-approve", "-no-color", "-input=false"],
    );
    // Right before CopyImage the provider looks for an existing copy in r2 (DescribeImages; the
    // sweep at the start of the bake made the first one there): once that is recorded after the
    // home image exists, CopyImage is being held by the proxy.
    let deadline = Instant::now() + Duration::from_secs(90);
    while moto.count(home, "CreateImage") == 0 || moto.count(r2, "DescribeImages") < 2 {
        assert!(
            Instant::now() < deadline,
            "no copy was started: {}",
            run.output()
        );
        if let Ok(Some(s)) = run.child.try_wait() {
            panic!("terraform exited early ({s}): {}", run.output());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1000));
    let _ = Command::new("kill")
        .args(["-INT", &run.child.id().to_string()])
        .status();
    let status = run.wait(Duration::from_secs(120));
    let out = folded(&run.output());
    assert!(!status.success(), "{out}");
    assert!(out.contains("interrupt"), "{out}");
    assert_eq!(proxy.count("CopyImage"), 1, "the copy was made: {out}");

    // In the copy's region: tagged (as temporary) right after CopyImage, then deregistered.
    let calls: Vec<String> = moto
        .recorded_calls(r2)
        .into_iter()
        .map(|c| c.action)
        .collect();
    let copy_at = calls
        .iter()
        .position(|a| a == "CopyImage")
        .expect("CopyImage in r2");
    let tag_at = calls
        .iter()
        .position(|a| a == "CreateTags")
        .expect("the copy was tagged");
    let gone_at = calls
        .iter()
        .position(|a| a == "DeregisterImage")
        .expect("the copy was deregistered");
    assert!(copy_at < tag_at && tag_at < gone_at, "{calls:?}");
    let tagging = recorded_bodies(moto, r2, "CreateTags");
    assert!(
        tagging[0].contains("immutable:temporary") && tagging[0].contains("immutable:expires-at"),
        "{}",
        tagging[0]
    );
    assert!(
        moto.images(r2).is_empty(),
        "no copy left: {:?}",
        moto.images(r2)
    );
    assert!(moto.snapshots(r2).is_empty(), "no copy snapshot left");
    // The home image was not finished either: discarded with its snapshot.
    assert!(moto.images(home).is_empty(), "{:?}", moto.images(home));
    assert!(moto.snapshots(home).is_empty());
    assert!(moto.running_instances(home).is_empty());
    assert!(out.contains("deregistered unfinished image"), "{out}");
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

#[test]
fn what_a_killed_bake_left_is_swept_and_a_live_bakes_is_not() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let ec2 = moto.ec2(region);
    let dead = [
        tag("immutable:temporary", "true"),
        tag("immutable:expires-at", "2020-01-01T00:00:00Z"),
        tag("immutable:bake-id", "bake-dead"),
    ];
    let live = [
        tag("immutable:temporary", "true"),
        tag("immutable:expires-at", "2999-01-01T00:00:00Z"),
        tag("immutable:owner", "another-host:1:1"),
    ];
    let spec = |kind: ResourceType, tags: &[Tag]| {
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags.to_vec()))
            .build()
    };
    // An unfinished image (and its snapshot) of a killed bake, a key pair and two groups.
    let (e, d, l) = (ec2.clone(), dead.clone(), live.clone());
    let (image_id, snapshot_id, dead_group, live_group) = moto.block_on(async move {
        let inst = e
            .run_instances()
            .image_id(SOURCE_AMI)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap();
        let iid = inst.instances()[0].instance_id().unwrap().to_string();
        let img = e
            .create_image()
            .instance_id(&iid)
            .name("killed-bake")
            .tag_specifications(spec(ResourceType::Image, &d))
            .send()
            .await
            .unwrap();
        let image_id = img.image_id().unwrap().to_string();
        e.terminate_instances()
            .instance_ids(&iid)
            .send()
            .await
            .unwrap();
        let desc = e
            .describe_images()
            .image_ids(&image_id)
            .send()
            .await
            .unwrap();
        let snap = desc.images()[0].block_device_mappings()[0]
            .ebs()
            .unwrap()
            .snapshot_id()
            .unwrap()
            .to_string();
        e.create_tags()
            .resources(&snap)
            .set_tags(Some(d.to_vec()))
            .send()
            .await
            .unwrap();
        e.create_key_pair()
            .key_name("immutable-bake-dead")
            .tag_specifications(spec(ResourceType::KeyPair, &d))
            .send()
            .await
            .unwrap();
        let dg = e
            .create_security_group()
            .group_name("immutable-bake-dead")
            .description("x")
            .tag_specifications(spec(ResourceType::SecurityGroup, &d))
            .send()
            .await
            .unwrap();
        let lg = e
            .create_security_group()
            .group_name("immutable-bake-live")
            .description("x")
            .tag_specifications(spec(ResourceType::SecurityGroup, &l))
            .send()
            .await
            .unwrap();
        (
            image_id,
            snap,
            dg.group_id().unwrap().to_string(),
            lg.group_id().unwrap().to_string(),
        )
    });

    let tf = Terraform::new(moto, region, &config(""));
    tf.apply(&[]).assert_success();
    let id = tf.output("id").as_str().unwrap().to_string();
    let images: Vec<String> = moto
        .images(region)
        .iter()
        .filter_map(|i| i.image_id().map(String::from))
        .collect();
    assert_eq!(images, vec![id], "the killed bake's image was swept");
    assert!(
        !moto
            .snapshots(region)
            .iter()
            .any(|s| s.snapshot_id() == Some(snapshot_id.as_str())),
        "its snapshot too"
    );
    assert!(moto.key_pairs(region).is_empty(), "the key pair was swept");
    let groups: Vec<String> = moto
        .security_groups(region)
        .iter()
        .filter_map(|g| g.group_id().map(String::from))
        .collect();
    assert!(!groups.contains(&dead_group), "the dead group was swept");
    assert!(
        groups.contains(&live_group),
        "a live bake's group is never touched"
    );
    let _ = image_id;
}

#[test]
fn bad_result_and_ssh_settings_fail_before_any_aws_call() {
    let moto = Moto::shared();
    let region = moto.unique_region();
    let ssh = |extra: &str| {
        config(&format!(
            "communicator = \"ssh\"\n  ssh_username = \"ubuntu\"\n  ssh_allowed_cidrs = [\"10.0.0.0/8\"]\n  {extra}"
        ))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("ssh without user", config(r#"communicator = "ssh"
  ssh_allowed_cidrs = ["10.0.0.0/8"]"#), "Missing ssh_username"),
        ("ssh without cidrs", config(r#"communicator = "ssh"
  ssh_username = "ubuntu""#), "Missing ssh_allowed_cidrs"),
        ("bad cidr", ssh("").replace("10.0.0.0/8", "10.0.0.0/33"), "Invalid CIDR"),
        ("port", ssh("ssh_port = 70000"), "Invalid port"),
        ("key without pair", ssh(r#"ssh_private_key_file = "k""#), "Private key without a key pair"),
        ("pair without key", ssh(r#"ssh_keypair_name = "k""#), "Missing private key"),
        ("bad region", config(r#"copy_to_regions = ["eu-west1"]"#), "Invalid AWS region"),
        ("negative keep", config("keep_previous = -1"), "Invalid keep_previous"),
        (
            "keep without template",
            config("keep_previous = 1\n  retain_on_destroy = true")
                .replace("  name_template = \"web-{{tag}}-{{timestamp}}\"\n", ""),
            "keep_previous needs a name_template",
        ),
        (
            "account",
            config("launch_permission {\n    accounts = [\"12345\"]\n  }"),
            "Invalid account id",
        ),
        ("kms without encryption", config(r#"kms_key_id = "alias/x""#), "kms_key_id without encryption"),
        ("bastion port", ssh("ssh_bastion {\n    host = \"b\"\n    username = \"u\"\n    port = 0\n    private_key_file = \"k\"\n  }"), "Invalid port"),
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
    // Settings for another communicator are warned about, not fatal.
    let tf = Terraform::new(moto, region, &config(r#"ssh_username = "ubuntu""#));
    let run = tf.run(&["validate"], &[]);
    run.assert_success();
    assert!(
        run.combined().contains("SSH settings are ignored"),
        "{}",
        run.combined()
    );
}
