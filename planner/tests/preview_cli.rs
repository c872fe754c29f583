//! `planner preview` on real plans (produced by terraform 1.11 against moto with this provider;
//! see tests/fixtures/plans/README.md): golden renderings in every format, exit codes, the JSON
//! checked against planner/preview.schema.json, and one-line errors for bad input.

mod common;
mod schema_check;

use common::{fixture, golden, run};
use release_planner::{
    plan_release, render_json, render_markdown, render_text, GroupSnapshot, Preview,
    ReleaseSettings,
};
use serde_json::{json, Value};

/// (fixture, expected exit code with `--detailed-exitcode`; without it every success is 0).
const PLANS: [(&str, i32); 6] = [
    ("bake-and-release", 2),
    ("replace", 2),
    ("modules", 2),
    ("settings-only", 2),
    ("destroy", 2),
    ("no-change", 0),
];

fn plan_path(name: &str) -> String {
    fixture(&format!("plans/{name}.json")).display().to_string()
}

#[test]
fn golden_renderings_and_exit_codes() {
    for (name, code) in PLANS {
        for (format, ext) in [("text", "txt"), ("markdown", "md"), ("json", "json")] {
            let path = plan_path(name);
            let r = run(
                &["preview", &path, "--format", format, "--detailed-exitcode"],
                None,
                &[],
            );
            assert_eq!(r.code, code, "{name} {format}: {}", r.stderr);
            let plain = run(&["preview", &path, "--format", format], None, &[]);
            assert_eq!(plain.code, 0, "{name} {format}: {}", plain.stderr);
            assert_eq!(plain.stdout, r.stdout);
            assert!(r.stderr.is_empty(), "{name} {format}: {}", r.stderr);
            assert!(
                !r.stdout.contains('\x1b'),
                "no colour when stdout is not a terminal"
            );
            golden(&format!("preview/{name}.{ext}"), &r.stdout);
        }
    }
}

#[test]
fn json_output_follows_the_schema() {
    let schema = schema_check::schema();
    assert_eq!(schema_check::check_keywords(&schema), Vec::<String>::new());
    for (name, _) in PLANS {
        let r = run(
            &["preview", &plan_path(name), "--format", "json"],
            None,
            &[],
        );
        let doc: Value = serde_json::from_str(&r.stdout).unwrap();
        schema_check::assert_valid(&schema, "", &doc);
    }
    // The checker does reject what the schema forbids.
    let r = run(
        &["preview", &plan_path("replace"), "--format", "json"],
        None,
        &[],
    );
    let mut doc: Value = serde_json::from_str(&r.stdout).unwrap();
    doc["images"][0]["outcome"] = json!("bake_later");
    doc["summary"]["undocumented"] = json!(1);
    doc["releases"][0]["schedule"]["schedule"]["batches"][0]["capacity_before"]
        .as_object_mut()
        .unwrap()
        .remove("desired");
    let errors = schema_check::validate(&schema, "", &doc);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

/// The preview neither recomputes nor alters a release's schedule: it is the provider's
/// plan-time `schedule` attribute, and its batches are the plan's `planned_batches`.
#[test]
fn release_schedules_are_the_plans_own() {
    for name in ["bake-and-release", "replace", "modules"] {
        let plan: Value =
            serde_json::from_str(&std::fs::read_to_string(plan_path(name)).unwrap()).unwrap();
        let r = run(
            &["preview", &plan_path(name), "--format", "json"],
            None,
            &[],
        );
        let doc: Value = serde_json::from_str(&r.stdout).unwrap();
        let releases: Vec<&Value> = plan["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rc| rc["type"] == "rolling_asg_release")
            .collect();
        assert!(!releases.is_empty());
        for rc in releases {
            let ours = doc["releases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["address"] == rc["address"])
                .unwrap();
            let planned: Value =
                serde_json::from_str(rc["change"]["after"]["schedule"].as_str().unwrap()).unwrap();
            assert_eq!(ours["schedule"], planned, "{name} {}", rc["address"]);
            let batches: Vec<Value> = planned["schedule"]["batches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["instance_ids"].clone())
                .collect();
            assert_eq!(
                Value::Array(batches),
                rc["change"]["after"]["planned_batches"]
            );
            assert_eq!(
                ours["planned_batches"],
                rc["change"]["after"]["planned_batches"]
            );
        }
    }
}

#[test]
fn modules_count_and_for_each_addresses() {
    let r = run(
        &["preview", &plan_path("modules"), "--format", "json"],
        None,
        &[],
    );
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let images: Vec<(&str, &Value, &Value)> = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["address"].as_str().unwrap(),
                &i["module_address"],
                &i["index"],
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            ("immutable_image.worker[0]", &Value::Null, &json!(0)),
            ("immutable_image.worker[1]", &Value::Null, &json!(1)),
            (
                r#"module.app["blue"].immutable_image.this"#,
                &json!(r#"module.app["blue"]"#),
                &Value::Null
            ),
            (
                r#"module.app["green"].immutable_image.this"#,
                &json!(r#"module.app["green"]"#),
                &Value::Null
            ),
        ]
    );
    let sources: Vec<&str> = doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image_source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            r#"module.app["blue"].immutable_image.this.id"#,
            r#"module.app["green"].immutable_image.this.id"#
        ]
    );
}

#[test]
fn stdin_is_read_with_a_dash() {
    let plan = std::fs::read(plan_path("replace")).unwrap();
    let from_stdin = run(&["preview", "-", "--detailed-exitcode"], Some(&plan), &[]);
    let from_file = run(&["preview", &plan_path("replace")], None, &[]);
    assert_eq!(from_stdin.code, 2);
    assert_eq!(from_stdin.stdout, from_file.stdout);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_and_never_with_no_color() {
    let p = plan_path("replace");
    let always = run(&["preview", &p, "--color", "always"], None, &[]);
    assert!(always.stdout.contains("\x1b[1m"), "{}", always.stdout);
    let plain = run(&["preview", &p], None, &[]);
    assert!(!plain.stdout.contains('\x1b'));
    // Stripping the escapes gives the plain text back.
    assert_eq!(strip_ansi(&always.stdout), plain.stdout);
    let no_color = run(
        &["preview", &p, "--color", "auto"],
        None,
        &[("NO_COLOR", "1")],
    );
    assert!(!no_color.stdout.contains('\x1b'));
    let never = run(&["preview", &p, "--no-color"], None, &[]);
    assert!(!never.stdout.contains('\x1b'));
    for format in ["markdown", "json"] {
        let r = run(
            &["preview", &p, "--format", format, "--color", "always"],
            None,
            &[],
        );
        assert!(!r.stdout.contains('\x1b'), "{format} is never coloured");
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let dir = std::env::temp_dir().join(format!("planner-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, content: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    };
    let plan = std::fs::read_to_string(plan_path("bake-and-release")).unwrap();
    let mut future: Value = serde_json::from_str(&plan).unwrap();
    future["format_version"] = json!("2.0");
    let mut bad_schedule: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        bad_schedule["resource_changes"][1]["type"],
        "rolling_asg_release"
    );
    let after = &mut bad_schedule["resource_changes"][1]["change"]["after"];
    let mut s: Value = serde_json::from_str(after["schedule"].as_str().unwrap()).unwrap();
    s["schema_version"] = json!(7);
    after["schedule"] = json!(s.to_string());

    let cases: Vec<(String, &str)> = vec![
        (write("truncated.json", &plan.as_bytes()[..plan.len() / 2]), "is the file truncated?"),
        (write("package.json", br#"{"name": "web", "version": "1.0.0", "dependencies": {}}"#), "not a Terraform plan"),
        (write("array.json", b"[1, 2, 3]"), "not a Terraform plan"),
        (write("not-json.txt", b"Plan: 1 to add, 0 to change, 0 to destroy.\n"), "not valid JSON"),
        (write("binary.bin", &[0xff, 0xfe, 0x00, 0x7b]), "not UTF-8"),
        (write("empty.json", b"  \n"), "is empty"),
        (write("future.json", future.to_string().as_bytes()), "format_version \"2.0\" is not supported"),
        (write("state.json", br#"{"format_version": "1.0", "terraform_version": "1.11.4", "values": {"root_module": {}}}"#), "a Terraform state, not a plan"),
        (write("schedule-v7.json", bad_schedule.to_string().as_bytes()), "schema_version 7"),
        (dir.join("missing.json").display().to_string(), "cannot read plan"),
    ];
    for (path, needle) in cases {
        for format in ["text", "json"] {
            run(&["preview", &path, "--format", format], None, &[]).assert_one_line_error(needle);
        }
    }
    run(
        &["preview", "-"],
        Some(b"{\"format_version\": \"1.2\""),
        &[],
    )
    .assert_one_line_error("truncated");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_are_one_line_and_help_is_not_an_error() {
    run(&["preview"], None, &[]).assert_one_line_error("<PLAN_JSON>");
    run(&["preview", "a.json", "--format", "html"], None, &[])
        .assert_one_line_error("[possible values: text, markdown, json]");
    run(&["preveiw", "a.json"], None, &[])
        .assert_one_line_error("similar subcommand exists: 'preview'");
    run(&["preview", "a.json", "--colour", "never"], None, &[])
        .assert_one_line_error("similar argument exists: '--color'");
    run(&[], None, &[]).assert_one_line_error("no command: use preview, schedule");
    let help = run(&["--help"], None, &[]);
    assert_eq!(help.code, 0);
    for needle in [
        "preview",
        "schedule",
        "snapshot",
        "completions",
        "--detailed-exitcode",
    ] {
        assert!(help.stdout.contains(needle), "{needle}: {}", help.stdout);
    }
    // Each command has its own help.
    let preview = run(&["preview", "--help"], None, &[]);
    assert_eq!(preview.code, 0);
    assert!(preview
        .stdout
        .contains("Usage: planner preview [OPTIONS] <PLAN_JSON>"));
    assert!(preview.stdout.contains("-f, --format <FORMAT>"));
    assert!(!preview.stdout.contains("--batch-size"));
    let version = run(&["-V"], None, &[]);
    assert_eq!(version.code, 0);
    assert_eq!(
        version.stdout,
        format!("planner {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// A plan with no image and no release (e.g. a stack of other providers') is an empty preview,
/// not an error: exit 0, and 0 with --detailed-exitcode too (nothing to do).
#[test]
fn a_plan_without_releases_is_an_empty_preview() {
    let path = plan_path("other-provider");
    for format in ["text", "markdown", "json"] {
        let r = run(
            &["preview", &path, "--format", format, "--detailed-exitcode"],
            None,
            &[],
        );
        assert_eq!(r.code, 0, "{format}: {}", r.stderr);
        assert!(r.stderr.is_empty());
        assert!(
            r.stdout.contains("No changes: the plan has no immutable")
                && r.stdout
                    .contains("(1 resource change belongs to terraform.io/builtin/terraform)."),
            "{format}: {}",
            r.stdout
        );
    }
    let json: Value =
        serde_json::from_str(&run(&["preview", &path, "--format", "json"], None, &[]).stdout)
            .unwrap();
    assert_eq!(json["summary"]["changes"], false);
    assert_eq!(json["images"], json!([]));
    assert_eq!(json["releases"], json!([]));
}

/// `planner completions SHELL` prints a script that knows the commands and their flags.
#[test]
fn shell_completions() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = run(&["completions", shell], None, &[]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for needle in ["preview", "schedule", "batch-size", "detailed-exitcode"] {
            assert!(
                r.stdout.contains(needle),
                "{shell} completion lacks {needle}"
            );
        }
    }
    run(&["completions", "tcsh"], None, &[]).assert_one_line_error("invalid value 'tcsh'");
}

/// A release rendered from the plan's `schedule` JSON reads exactly as the library renders it
/// from the snapshot itself (the preview rebuilds the group from the schedule's summary).
#[test]
fn a_schedule_from_the_plan_renders_as_the_library_renders_the_snapshot() {
    let snapshot: GroupSnapshot =
        serde_json::from_str(&std::fs::read_to_string(fixture("small-group.json")).unwrap())
            .unwrap();
    let settings = ReleaseSettings {
        checkpoints: vec![50],
        pause_between_batches_secs: 60,
        ..ReleaseSettings::new("ami-new")
    };
    let schedule = plan_release(&snapshot, &settings).unwrap();
    let preview_json = render_json(&snapshot, &settings, &schedule);
    let _: Preview = serde_json::from_str(&preview_json).unwrap();
    let plan = json!({
        "format_version": "1.2",
        "planned_values": {},
        "resource_changes": [{
            "address": "rolling_asg_release.web", "mode": "managed", "type": "rolling_asg_release", "name": "web",
            "provider_name": "registry.terraform.io/immutable-release/immutable",
            "change": {
                "actions": ["update"],
                "before": {"autoscaling_group_name": "web", "image_id": "ami-old", "status": "complete"},
                "after": {"autoscaling_group_name": "web", "image_id": "ami-new", "previous_image_id": "ami-old",
                          "launch_mode": "launch_template", "strategy": "surge", "batch_size": "25%", "schedule": preview_json},
                "after_unknown": {"replaced_instances": true, "status": true}
            }
        }]
    });
    let text = run(
        &["preview", "-", "--detailed-exitcode"],
        Some(plan.to_string().as_bytes()),
        &[],
    );
    assert_eq!(text.code, 2, "{}", text.stderr);
    let indented: String = render_text(&snapshot, &schedule)
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("      {l}\n")
            }
        })
        .collect();
    assert!(
        text.stdout.contains(&indented),
        "library text not found verbatim in:\n{}",
        text.stdout
    );
    let md = run(
        &["preview", "-", "--format", "markdown"],
        Some(plan.to_string().as_bytes()),
        &[],
    );
    let library_md = render_markdown(&snapshot, &schedule);
    let (_, library_body) = library_md.split_once("\n\n").unwrap();
    assert!(
        md.stdout.contains(library_body),
        "library markdown not found verbatim in:\n{}",
        md.stdout
    );
    assert!(md.stdout.contains("```mermaid\ngantt\n"));
}

/// `--comment-limit` bounds the comment; `--split DIR` writes numbered comments with every
/// release's detail and prints their paths.
#[test]
fn comments_within_a_limit_and_split() {
    let plan = plan_path("modules");
    let one = run(
        &[
            "preview",
            &plan,
            "-f",
            "markdown",
            "--comment-limit",
            "4096",
            "--details-url",
            "https://github.com/acme/infra/actions/runs/7",
        ],
        None,
        &[],
    );
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert!(one.stdout.len() <= 4096, "{}", one.stdout.len());
    assert!(one.stdout.contains("| `module.app[\"green\"].rolling_asg_release.this` | `web-green` | 🟢 create | 3 | 3 | 6m |"));
    assert!(one.stdout.contains(
        "[the JSON preview](https://github.com/acme/infra/actions/runs/7) has all of it"
    ));

    let dir = std::env::temp_dir().join(format!("planner-split-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let split = run(
        &[
            "preview",
            &plan,
            "-f",
            "markdown",
            "--comment-limit",
            "4096",
            "--split",
            dir.to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert_eq!(split.code, 0, "{}", split.stderr);
    let files: Vec<&str> = split.stdout.lines().collect();
    assert!(files.len() >= 2, "{files:?}");
    let mut all = String::new();
    for (n, f) in files.iter().enumerate() {
        assert!(f.ends_with(&format!("/{}.md", n + 1)), "{f}");
        let page = std::fs::read_to_string(f).unwrap();
        assert!(page.len() <= 4096);
        assert!(page.starts_with(&format!(
            "## Release preview ({} of {})",
            n + 1,
            files.len()
        )));
        all.push_str(&page);
    }
    for group in ["web-blue", "web-green"] {
        assert!(
            all.contains(&format!("#### Release `{group}` →")),
            "{group}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);

    run(&["preview", &plan, "--split", "x"], None, &[])
        .assert_one_line_error("--split writes Markdown comments");
    run(&["preview", &plan, "--comment-limit", "100000"], None, &[])
        .assert_one_line_error("not a size from 4096 to 65536");
}
