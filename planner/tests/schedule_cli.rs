//! `planner schedule --snapshot FILE`: the what-if is exactly the library's schedule and
//! renderings for the same snapshot and settings. (Against a live group: tests/preview.rs in the
//! end-to-end crate, on moto.)

mod common;
mod schema_check;

use common::{fixture, run};
use release_planner::{
    plan_release, render_json, render_markdown, render_text, BatchSize, GroupSnapshot,
    LifecycleState, ProtectedInstances, ReleaseSettings, StandbyInstances, Strategy,
};
use serde_json::Value;

fn snapshot() -> GroupSnapshot {
    serde_json::from_str(&std::fs::read_to_string(fixture("small-group.json")).unwrap()).unwrap()
}

fn snap_arg() -> String {
    fixture("small-group.json").display().to_string()
}

#[test]
fn defaults_match_the_library_in_every_format() {
    let snapshot = snapshot();
    let settings = ReleaseSettings::new("ami-new");
    let schedule = plan_release(&snapshot, &settings).unwrap();
    let s = snap_arg();
    let text = run(
        &[
            "schedule",
            "--snapshot",
            &s,
            "--image",
            "ami-new",
            "--detailed-exitcode",
        ],
        None,
        &[],
    );
    assert_eq!(text.code, 2, "{}", text.stderr);
    assert_eq!(text.stdout, render_text(&snapshot, &schedule));
    let md = run(
        &[
            "schedule",
            "--snapshot",
            &s,
            "--image",
            "ami-new",
            "--format",
            "markdown",
        ],
        None,
        &[],
    );
    assert_eq!(md.stdout, render_markdown(&snapshot, &schedule));
    let json = run(
        &[
            "schedule",
            "--snapshot",
            &s,
            "--image",
            "ami-new",
            "--format",
            "json",
        ],
        None,
        &[],
    );
    assert_eq!(
        json.stdout,
        render_json(&snapshot, &settings, &schedule) + "\n"
    );
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    schema_check::assert_valid(&schema_check::schema(), "/$defs/release_preview", &doc);
}

#[test]
fn flags_become_the_release_settings() {
    let snapshot = snapshot();
    let settings = ReleaseSettings {
        batch_size: BatchSize::Count(1),
        strategy: Strategy::Replace,
        min_healthy_percentage: Some(50),
        instance_warmup_secs: 30,
        pause_between_batches_secs: 120,
        checkpoints: vec![50],
        launch_estimate_secs: 300,
        ..ReleaseSettings::new("ami-new")
    };
    let schedule = plan_release(&snapshot, &settings).unwrap();
    let r = run(
        &[
            "schedule",
            "--snapshot",
            &snap_arg(),
            "--image",
            "ami-new",
            "--batch-size",
            "1",
            "--strategy",
            "replace",
            "--min-healthy-percentage",
            "50",
            "--warmup",
            "30s",
            "--pause=2m",
            "--checkpoint",
            "50",
            "--launch-estimate",
            "5m",
            "--format",
            "json",
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        render_json(&snapshot, &settings, &schedule) + "\n"
    );
}

#[test]
fn protected_and_standby_settings_are_flags_and_show_in_the_preview() {
    let mut snapshot = snapshot();
    let mut parked = snapshot.instances[0].clone();
    parked.id = "i-parked".into();
    parked.lifecycle_state = LifecycleState::Standby;
    snapshot.instances.push(parked);
    let dir = std::env::temp_dir().join(format!("planner-standby-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("group.json");
    std::fs::write(&file, serde_json::to_string(&snapshot).unwrap()).unwrap();
    let settings = ReleaseSettings {
        protected_instances: ProtectedInstances::Ignore,
        standby_instances: StandbyInstances::Replace,
        ..ReleaseSettings::new("ami-new")
    };
    let schedule = plan_release(&snapshot, &settings).unwrap();
    let args = |format: &'static str| {
        vec![
            "schedule".to_string(),
            "--snapshot".into(),
            file.display().to_string(),
            "--image".into(),
            "ami-new".into(),
            "--scale-in-protected-instances".into(),
            "ignore".into(),
            "--standby-instances".into(),
            "replace".into(),
            "--format".into(),
            format.into(),
        ]
    };
    let json_args = args("json");
    let r = run(
        &json_args.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        render_json(&snapshot, &settings, &schedule) + "\n"
    );
    assert!(
        r.stdout.contains("\"standby_instances\": \"replace\""),
        "{}",
        r.stdout
    );
    let text_args = args("text");
    let t = run(
        &text_args.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
        &[],
    );
    assert!(
        t.stdout
            .contains("1 instance in Standby on an old image is returned to service and replaced"),
        "{}",
        t.stdout
    );
    let bad = run(
        &[
            "schedule",
            "--snapshot",
            &snap_arg(),
            "--image",
            "ami-new",
            "--standby-instances",
            "terminate",
        ],
        None,
        &[],
    );
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr
            .contains("\"terminate\" is not one of \"wait\", \"replace\", \"ignore\""),
        "{}",
        bad.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn nothing_to_do_exits_0() {
    let dir = std::env::temp_dir().join(format!("planner-sched-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut snap = snapshot();
    for i in &mut snap.instances {
        i.image_id = "ami-new".into();
    }
    let path = dir.join("done.json");
    std::fs::write(&path, serde_json::to_string(&snap).unwrap()).unwrap();
    let r = run(
        &[
            "schedule",
            "--snapshot",
            &path.display().to_string(),
            "--image",
            "ami-new",
            "--detailed-exitcode",
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("No batches: nothing will be replaced."),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_are_one_line() {
    let s = snap_arg();
    run(
        &[
            "schedule",
            "--snapshot",
            &s,
            "--image",
            "ami-new",
            "--strategy",
            "replace",
            "--min-healthy-percentage",
            "100",
        ],
        None,
        &[],
    )
    .assert_one_line_error("cannot schedule a release of web");
    run(
        &[
            "schedule",
            "--snapshot",
            "/nonexistent/snap.json",
            "--image",
            "ami-new",
        ],
        None,
        &[],
    )
    .assert_one_line_error("cannot read snapshot");
    let plan = fixture("plans/replace.json").display().to_string();
    run(
        &["schedule", "--snapshot", &plan, "--image", "ami-new"],
        None,
        &[],
    )
    .assert_one_line_error("is not a group snapshot");
    run(
        &[
            "schedule",
            "--snapshot",
            &s,
            "--image",
            "ami-new",
            "--batch-size",
            "0",
        ],
        None,
        &[],
    )
    .assert_one_line_error("for '--batch-size <N|P%>': batch size 0");
    run(&["schedule", "--image", "ami-new"], None, &[]).assert_one_line_error("--group <NAME>");
    run(&["snapshot"], None, &[]).assert_one_line_error("--group <NAME>");
    // Durations are the provider's: a bare number has no unit.
    run(
        &["schedule", "-s", &s, "-i", "ami-new", "--pause", "90"],
        None,
        &[],
    )
    .assert_one_line_error("'--pause <DURATION>': \"90\" has a number without a unit");
    run(
        &["schedule", "-s", &s, "-i", "ami-new", "--warmup", "1y"],
        None,
        &[],
    )
    .assert_one_line_error("unknown unit \"y\"");
    // No region anywhere: said before any network call.
    run(
        &["snapshot", "--group", "web"],
        None,
        &[
            ("AWS_REGION", ""),
            ("AWS_DEFAULT_REGION", ""),
            ("AWS_CONFIG_FILE", "/nonexistent"),
        ],
    )
    .assert_one_line_error("no AWS region");
    // Nothing listens there: the SDK's connection error, on one line.
    run(
        &[
            "schedule",
            "--group",
            "web",
            "--image",
            "ami-new",
            "--region",
            "eu-west-1",
            "--endpoint",
            "http://127.0.0.1:9",
        ],
        None,
        &[
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    )
    .assert_one_line_error("DescribeAutoScalingGroups (web) failed");
}
