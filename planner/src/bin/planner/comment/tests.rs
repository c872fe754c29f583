//! Comments of generated plans: real plan JSON (as `terraform show -json` writes it, with the
//! provider's plan-time schedules) read by `tfplan::parse` and `preview::build`, then laid out.

use super::*;
use crate::{preview, tfplan};
use proptest::prelude::*;
use release_planner::{
    plan_release, render_json, BatchSize, GroupSnapshot, Health, InstanceSnapshot, LaunchSource,
    LifecycleState, ReleaseSettings,
};
use serde_json::{json, Value};

const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

/// A release to generate: its group's name, size and batch percentage.
#[derive(Debug, Clone)]
struct Release {
    group: String,
    instances: usize,
    percent: u32,
}

fn group(g: usize, r: &Release) -> GroupSnapshot {
    GroupSnapshot {
        name: r.group.clone(),
        desired_capacity: r.instances as u32,
        min_size: 0,
        max_size: r.instances as u32 * 2 + 1,
        instances: (0..r.instances)
            .map(|i| InstanceSnapshot {
                id: format!("i-{:017x}", g * 1_000_003 + i * 7919),
                availability_zone: ZONES[i % 3].to_owned(),
                image_id: "ami-0123456789abcdef0".into(),
                lifecycle_state: LifecycleState::InService,
                health: Health::Healthy,
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

fn release_change(g: usize, r: &Release) -> Value {
    let snapshot = group(g, r);
    let settings = ReleaseSettings {
        batch_size: BatchSize::Percent(r.percent),
        checkpoints: vec![50],
        ..ReleaseSettings::new("(image_id)")
    };
    let schedule = plan_release(&snapshot, &settings).expect("schedule");
    let batches: Vec<Vec<String>> = schedule
        .batches
        .iter()
        .map(|b| b.instance_ids.clone())
        .collect();
    json!({
        "address": format!("module.svc[\"s{g:03}\"].rolling_asg_release.web"),
        "module_address": format!("module.svc[\"s{g:03}\"]"),
        "mode": "managed", "type": "rolling_asg_release", "name": "web",
        "provider_name": "registry.terraform.io/immutable-release/immutable",
        "change": {
            "actions": ["update"],
            "before": {"autoscaling_group_name": r.group, "image_id": "ami-0123456789abcdef0", "status": "complete", "batch_size": format!("{}%", r.percent), "strategy": "surge", "launch_mode": "launch_template"},
            "after": {"autoscaling_group_name": r.group, "image_id": "ami-0fedcba987654321f", "previous_image_id": "ami-0123456789abcdef0", "batch_size": format!("{}%", r.percent), "strategy": "surge",
                      "launch_mode": "launch_template", "planned_batches": batches, "schedule": render_json(&snapshot, &settings, &schedule)},
            "after_unknown": {"replaced_instances": true, "status": true, "launch_version": true, "completed_at": true, "outdated_instances": true}
        }
    })
}

fn image_change(n: usize) -> Value {
    json!({
        "address": format!("immutable_image.app[{n}]"), "index": n,
        "mode": "managed", "type": "immutable_image", "name": "app",
        "provider_name": "registry.terraform.io/immutable-release/immutable",
        "change": {
            "actions": ["delete", "create"],
            "before": {"code_tag": "v1.0.0", "source_ami": "ami-1e749f67", "source_ami_id": "ami-1e749f67", "id": "ami-0123456789abcdef0",
                       "fingerprint": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "web-v1.0.0", "source_ami_filter": [], "reused": false},
            "after": {"code_tag": "v1.1.0", "source_ami": "ami-1e749f67", "source_ami_id": "ami-1e749f67",
                      "fingerprint": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "source_ami_filter": []},
            "after_unknown": {"id": true, "name": true, "reused": true},
            "replace_paths": [["fingerprint"]]
        },
        "action_reason": "replace_because_cannot_update"
    })
}

fn plan_text(images: usize, releases: &[Release]) -> String {
    let mut changes: Vec<Value> = (0..images).map(image_change).collect();
    changes.extend(
        releases
            .iter()
            .enumerate()
            .map(|(g, r)| release_change(g, r)),
    );
    json!({
        "format_version": "1.2", "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
        "resource_changes": changes,
        "applyable": true, "complete": true, "errored": false
    })
    .to_string()
}

fn doc(images: usize, releases: &[Release]) -> PlanPreview {
    let text = plan_text(images, releases);
    let plan = tfplan::parse(&text).expect("plan");
    preview::build(&plan).expect("preview")
}

/// A line as Markdown reads its HTML: without code spans and backslash-escaped characters.
fn markup_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '`' => {
                // A code span runs to the next backtick (the renderers allow no other in one).
                let rest: String = chars.clone().collect();
                match rest.find('`') {
                    Some(end) => {
                        for _ in 0..=rest[..end].chars().count() {
                            chars.next();
                        }
                    }
                    None => out.push(c),
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every fold closed in order, every code fence closed, every summary on one line, reading the
/// Markdown as GitHub does (code spans, escapes and fenced blocks hold no HTML).
#[track_caller]
fn assert_balanced(md: &str) {
    let mut depth = 0i32;
    let mut in_fence = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let line = markup_of(line);
        let line = line.as_str();
        depth += line.matches("<details").count() as i32;
        depth -= line.matches("</details>").count() as i32;
        assert!(depth >= 0, "</details> before its <details>:\n{md}");
        assert!(
            !line.contains("<summary>") || line.contains("</summary>"),
            "{line}"
        );
    }
    assert!(!in_fence, "an open code fence:\n{md}");
    assert_eq!(depth, 0, "unclosed <details>:\n{md}");
}

fn addresses(p: &PlanPreview) -> Vec<String> {
    p.releases
        .iter()
        .map(|r| r.resource.address.clone())
        .collect()
}

/// The issue's case: 30 releases of 300 instances (290,650 characters before) in one comment
/// within the limit that names every release with its instance and batch counts.
#[test]
fn thirty_releases_of_three_hundred_instances_fit_one_comment() {
    let releases: Vec<Release> = (0..30)
        .map(|g| Release {
            group: format!("web-{g:02}"),
            instances: 300,
            percent: 10,
        })
        .collect();
    let p = doc(30, &releases);
    let md = comment(&p, &Options::default());
    println!(
        "30 releases x 300 instances: one comment of {} bytes ({} characters), {} releases in detail",
        md.len(),
        md.chars().count(),
        md.matches("#### Release ").count()
    );
    assert!(md.len() <= DEFAULT_LIMIT, "{} bytes", md.len());
    assert!(md.chars().count() < GITHUB_LIMIT);
    assert_balanced(&md);
    for (g, address) in addresses(&p).iter().enumerate() {
        let row = format!("| `{address}` | `web-{g:02}` | 🟡 update | 300 | 10 | 30m |");
        assert!(md.contains(&row), "no row {row:?} in\n{md}");
    }
    for n in 0..30 {
        assert!(md.contains(&format!("| `immutable_image.app[{n}]` |")));
    }
    // Some detail is shown, the rest summarised with the pointer.
    assert!(md.contains("\n### Details\n"));
    assert!(md.contains("\n### Not shown in detail\n"));
    assert!(md.contains("the JSON preview (`planner preview --format json`) has all of it"));
    let with_url = comment(
        &p,
        &Options {
            details_url: Some("https://github.com/acme/infra/actions/runs/42".into()),
            ..Options::default()
        },
    );
    assert!(with_url.contains("[the JSON preview](https://github.com/acme/infra/actions/runs/42)"));

    // Split: every release's detail inline, each comment within the limit.
    let pages = split(&p, &Options::default());
    println!(
        "--split: {} comments of {:?} bytes",
        pages.len(),
        pages.iter().map(String::len).collect::<Vec<_>>()
    );
    assert!(pages.len() > 1);
    for (n, page) in pages.iter().enumerate() {
        assert!(page.len() <= DEFAULT_LIMIT, "page {n}: {}", page.len());
        assert_balanced(page);
        assert!(page.starts_with(&format!(
            "## Release preview ({} of {})\n",
            n + 1,
            pages.len()
        )));
    }
    let all = pages.concat();
    assert!(!all.contains("Not shown in detail"));
    for g in 0..30 {
        assert_eq!(
            all.matches(&format!(
                "#### Release `web-{g:02}` → `ami-0fedcba987654321f`"
            ))
            .count(),
            1,
            "web-{g:02} in exactly one comment"
        );
    }
}

#[test]
fn a_small_plan_is_one_comment_with_everything() {
    let releases = vec![Release {
        group: "web".into(),
        instances: 6,
        percent: 33,
    }];
    let p = doc(1, &releases);
    let md = comment(&p, &Options::default());
    assert_balanced(&md);
    assert!(!md.contains("Not shown in detail"));
    assert!(md.contains("<details open><summary>module.svc[\"s000\"].rolling&#95;asg&#95;release.web (group web): 6 instances in 3 batches, about 9m</summary>"), "{md}");
    assert!(md.contains("```mermaid\ngantt\n"));
    assert_eq!(split(&p, &Options::default()), vec![md]);
}

fn name() -> impl Strategy<Value = String> {
    // Group names are any text to AWS: include what Markdown, HTML and Mermaid read specially.
    prop::collection::vec(
        prop::sample::select(vec![
            "web",
            "-",
            "|",
            "`",
            "```",
            "<",
            "</details>",
            ">",
            "*",
            "_",
            "#",
            ":",
            ";",
            "\n",
            "[x](y)",
            "&amp;",
            "\\",
            " ",
        ]),
        1..6,
    )
    .prop_map(|parts| parts.concat())
}

fn releases() -> impl Strategy<Value = Vec<Release>> {
    prop::collection::vec(
        (name(), 0usize..400, 1u32..=100).prop_map(|(group, instances, percent)| Release {
            group,
            instances,
            percent,
        }),
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any plan: one comment within the limit, balanced, naming every release; split comments
    /// each within the limit and balanced.
    #[test]
    fn any_plan_fits_and_stays_balanced(
        images in 0usize..12,
        releases in releases(),
        limit in prop::sample::select(vec![MIN_LIMIT, 12_000, DEFAULT_LIMIT]),
    ) {
        let p = doc(images, &releases);
        let opts = Options { limit, details_url: Some("https://example.test/run/1".into()) };
        let md = comment(&p, &opts);
        prop_assert!(md.len() <= limit, "{} > {limit}", md.len());
        assert_balanced(&md);
        if limit == DEFAULT_LIMIT {
            for a in addresses(&p) {
                prop_assert!(md.contains(&format!("`{a}`")), "{a} not named");
            }
        }
        for page in split(&p, &opts) {
            prop_assert!(page.len() <= limit, "{} > {limit}", page.len());
            assert_balanced(&page);
        }
    }
}
