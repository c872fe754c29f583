//! `planner preview` timings on large plans: `cargo bench -p release-planner --features aws --bench preview`.
//!
//! Two generated plans, each previewed in every format by the built binary (a fresh process per
//! run, reading the file: what CI pays):
//! - 100 `rolling_asg_release` changes over 1,000-instance groups (schedules computed by
//!   `plan_release` and embedded as the provider does), plus their 100 images;
//! - a 50 MB plan: 2 images and 2 releases among thousands of other providers' resources.
//!
//! Prints the median, min and max of several runs. Nothing is asserted: timings vary by machine.

use release_planner::{
    plan_release, render_json, BatchSize, GroupSnapshot, Health, InstanceSnapshot, LaunchSource,
    LifecycleState, ReleaseSettings,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 7;
const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

fn group(g: usize, n: usize) -> GroupSnapshot {
    GroupSnapshot {
        name: format!("web-{g:03}"),
        desired_capacity: n as u32,
        min_size: n as u32 / 2,
        max_size: n as u32 * 2,
        instances: (0..n)
            .map(|i| InstanceSnapshot {
                id: format!("i-{:017x}", (g * 1_000_003 + i * 7919) as u64),
                availability_zone: ZONES[i % 3].to_owned(),
                image_id: "ami-0123456789abcdef0".into(),
                lifecycle_state: LifecycleState::InService,
                health: if i % 97 == 0 {
                    Health::Unhealthy
                } else {
                    Health::Healthy
                },
                protected_from_scale_in: false,
                launch_time: None,
                weighted_capacity: None,
            })
            .collect(),
        availability_zones: ZONES.iter().map(|z| z.to_string()).collect(),
        launch: LaunchSource::LaunchTemplate {
            id: Some(format!("lt-{g:017x}")),
            name: None,
            version: "3".into(),
        },
        target_group_arns: vec![],
        load_balancer_names: vec![],
        launch_image_id: Some("ami-0123456789abcdef0".into()),
        replacement: Default::default(),
        warm_pool: None,
    }
}

fn image_change(address: &str, tag: &str) -> Value {
    json!({
        "address": address, "mode": "managed", "type": "immutable_image", "name": address.rsplit('.').next().unwrap(),
        "provider_name": "registry.terraform.io/immutable-release/immutable",
        "change": {
            "actions": ["delete", "create"],
            "before": {"code_tag": "v1.0.0", "source_ami": "ami-1e749f67", "source_ami_id": "ami-1e749f67", "id": "ami-0123456789abcdef0",
                       "fingerprint": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "web-v1.0.0", "source_ami_filter": [], "reused": false},
            "after": {"code_tag": tag, "source_ami": "ami-1e749f67", "source_ami_id": "ami-1e749f67",
                      "fingerprint": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "source_ami_filter": []},
            "after_unknown": {"id": true, "name": true, "reused": true, "snapshot_ids": true, "created_at": true},
            "before_sensitive": {"environment": true}, "after_sensitive": {"environment": true},
            "replace_paths": [["fingerprint"]]
        },
        "action_reason": "replace_because_cannot_update"
    })
}

fn release_change(address: &str, g: usize, n: usize) -> Value {
    let snapshot = group(g, n);
    let settings = ReleaseSettings {
        batch_size: BatchSize::Percent(10),
        ..ReleaseSettings::new("(image known after apply)")
    };
    let schedule = plan_release(&snapshot, &settings).expect("schedule");
    let batches: Vec<Vec<String>> = schedule
        .batches
        .iter()
        .map(|b| b.instance_ids.clone())
        .collect();
    json!({
        "address": address, "mode": "managed", "type": "rolling_asg_release", "name": address.rsplit('.').next().unwrap(),
        "provider_name": "registry.terraform.io/immutable-release/immutable",
        "change": {
            "actions": ["update"],
            "before": {"autoscaling_group_name": snapshot.name, "image_id": "ami-0123456789abcdef0", "status": "complete", "batch_size": "10%", "strategy": "surge", "launch_mode": "launch_template"},
            "after": {"autoscaling_group_name": snapshot.name, "previous_image_id": "ami-0123456789abcdef0", "batch_size": "10%", "strategy": "surge",
                      "launch_mode": "launch_template", "planned_batches": batches, "schedule": render_json(&snapshot, &settings, &schedule)},
            "after_unknown": {"image_id": true, "replaced_instances": true, "status": true, "launch_version": true, "completed_at": true, "outdated_instances": true}
        }
    })
}

/// A resource of another provider with a realistic amount of attributes.
fn other_change(i: usize) -> Value {
    let attrs = json!({
        "ami": "ami-0abcdef1234567890", "instance_type": "m5.large", "id": format!("i-{i:017x}"),
        "arn": format!("arn:aws:ec2:eu-west-1:123456789012:instance/i-{i:017x}"),
        "tags": {"Name": format!("host-{i}"), "team": "platform", "env": "prod", "cost-center": "1234"},
        "user_data": "x".repeat(1200),
        "root_block_device": [{"volume_size": 50, "volume_type": "gp3", "encrypted": true, "iops": 3000, "throughput": 125, "delete_on_termination": true}],
        "ebs_block_device": (0..4).map(|d| json!({"device_name": format!("/dev/sd{d}"), "volume_size": 100, "tags": {"d": d}})).collect::<Vec<_>>(),
        "vpc_security_group_ids": ["sg-0123456789abcdef0", "sg-0fedcba9876543210"],
        "private_ip": "10.0.0.1", "subnet_id": "subnet-0123456789abcdef0", "monitoring": true, "image_id": 5, "name": {"nested": true}, "schedule": [1, 2]
    });
    json!({
        "address": format!("aws_instance.fleet[{i}]"), "mode": "managed", "type": "aws_instance", "name": "fleet", "index": i,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["update"], "before": attrs, "after": attrs, "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
    })
}

fn plan(changes: Vec<Value>, padding: Vec<Value>) -> Value {
    let mut all = changes;
    all.extend(padding);
    // planned_values and prior_state repeat the resources in real plans; they are skipped by the
    // planner but still read, so they are part of the size.
    let values: Vec<Value> = all
        .iter()
        .map(|c| json!({"address": c["address"], "values": c["change"]["after"]}))
        .collect();
    json!({
        "format_version": "1.2", "terraform_version": "1.11.4",
        "planned_values": {"root_module": {"resources": values}},
        "resource_changes": all,
        "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": values}}},
        "configuration": {"root_module": {"resources": []}},
        "timestamp": "2025-01-01T00:00:00Z", "applyable": true, "complete": true, "errored": false
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> (PathBuf, u64) {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    (path, size)
}

fn time(path: &Path, format: &str) -> (Duration, Duration, Duration, usize) {
    let mut times = Vec::new();
    let mut out_len = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_planner"))
            .args(["preview", path.to_str().unwrap(), "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        times.push(start.elapsed());
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out_len = out.stdout.len();
    }
    times.sort();
    (times[RUNS / 2], times[0], times[RUNS - 1], out_len)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("planner-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let started = Instant::now();
    let mut changes = Vec::new();
    for g in 0..100 {
        changes.push(image_change(
            &format!("module.svc[\"s{g:03}\"].immutable_image.web"),
            "v1.1.0",
        ));
        changes.push(release_change(
            &format!("module.svc[\"s{g:03}\"].rolling_asg_release.web"),
            g,
            1000,
        ));
    }
    let releases = write(&dir, "releases-100x1000.json", &plan(changes, vec![]));

    let mut ours = Vec::new();
    for g in 0..2 {
        ours.push(image_change(&format!("immutable_image.web{g}"), "v2.0.0"));
        ours.push(release_change(
            &format!("rolling_asg_release.web{g}"),
            g,
            1000,
        ));
    }
    // Enough other resources for at least 50 MiB (resource_changes + planned_values + prior_state).
    let target = 50 * 1024 * 1024;
    let mut count = target / (serde_json::to_vec(&other_change(0)).unwrap().len() * 2);
    let big = loop {
        let (path, size) = write(
            &dir,
            "plan-50mb.json",
            &plan(ours.clone(), (0..count).map(other_change).collect()),
        );
        if size >= target as u64 {
            break (path, size);
        }
        count = (count as f64 * target as f64 / size as f64 * 1.01) as usize;
    };
    eprintln!("generated the plans in {:.1?}", started.elapsed());

    println!("planner preview: {RUNS} runs each, a fresh process per run (median / min / max)");
    println!(
        "{:<34} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "plan", "size", "format", "median", "min", "max", "output"
    );
    for (label, (path, size)) in [
        ("100 releases x 1,000 instances", &releases),
        (&*format!("50 MB, {count} other resources"), &big),
    ] {
        for format in ["text", "markdown", "json"] {
            let (median, min, max, out) = time(path, format);
            println!(
                "{label:<34} {:>7.1}MB {format:>9} {:>8.1}ms {:>8.1}ms {:>8.1}ms {:>8.1}KB",
                *size as f64 / 1_048_576.0,
                median.as_secs_f64() * 1e3,
                min.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3,
                out as f64 / 1024.0
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
