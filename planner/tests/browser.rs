//! The planner's Mermaid charts as a reviewer sees them: every ```mermaid block the built
//! `planner` writes is drawn by Mermaid 11 in headless Chromium (GitHub draws comments' charts in
//! the reviewer's browser), in two time zones, and the drawing is measured: each batch's bar, each
//! pause and checkpoint sits where the JSON preview of the same plan puts it in time, bars follow
//! one another, and every axis tick is labelled with the elapsed time at its position, the same
//! in UTC and in New York.
//!
//! `scripts/ensure-browser` installs Chromium (Debian) and Mermaid (npm, into
//! planner/tests/browser/node_modules); the test runs it first. The page is
//! planner/tests/browser/page.html.
//!
//! `UPDATE_SCREENSHOT=1` also rewrites planner/docs/preview.png, the picture in README.md.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const ZONES: [&str; 2] = ["UTC", "America/New_York"];
/// Pixels a drawn position may differ from the computed one (Mermaid rounds to whole pixels).
const TOLERANCE: f64 = 1.5;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Runs scripts/ensure-browser once per test binary.
fn ensure_browser() -> &'static Path {
    static READY: OnceLock<PathBuf> = OnceLock::new();
    READY.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ensure-browser");
        let status = Command::new(&script)
            .status()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(status.success(), "{} failed", script.display());
        browser_dir().join("node_modules")
    })
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// A fresh directory for one page and one browser profile.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The page with the Markdown in it, written to `dir/page.html`.
fn page(dir: &Path, markdown: &str) -> PathBuf {
    let template = std::fs::read_to_string(browser_dir().join("page.html")).unwrap();
    let node_modules = format!("file://{}", ensure_browser().display());
    let literal = serde_json::to_string(markdown)
        .unwrap()
        .replace("</", "<\\/");
    let html = template
        .replace("NODE_MODULES", &node_modules)
        .replace("PREVIEW_MARKDOWN", &literal);
    let path = dir.join("page.html");
    std::fs::write(&path, html).unwrap();
    path
}

/// Headless Chromium, offline, with a profile of its own; `TZ` decides the viewer's time zone.
fn chromium_command(dir: &Path, tz: &str) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.env("TZ", tz)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--hide-scrollbars",
            "--virtual-time-budget=20000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join(format!("profile-{}", tz.replace('/', "-")))
                .display()
        ));
    cmd
}

/// What the charts of `markdown` look like in `tz`: the page's report (see page.html).
fn draw(name: &str, markdown: &str, tz: &str) -> Value {
    let dir = scratch(&format!("{name}-{}", tz.replace('/', "-")));
    let page = page(&dir, markdown);
    let out = chromium_command(&dir, tz)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", chromium()));
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"result\">").unwrap_or_else(|| {
        panic!(
            "no result in the page ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    }) + "<pre id=\"result\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let report: Value = serde_json::from_str(&dom[start..end]).unwrap_or_else(|e| {
        panic!(
            "{name} in {tz}: the page did not finish drawing ({e}): {}",
            &dom[start..end]
        )
    });
    assert!(report.get("error").is_none(), "{name} in {tz}: {report}");
    assert_eq!(
        report["timezone"], tz,
        "the browser runs in the zone asked for"
    );
    report
}

/// A bar as the schedule times it, in seconds from the release's start.
#[derive(Debug)]
struct Span {
    id: String,
    start: u64,
    end: u64,
    milestone: bool,
}

/// The bars a schedule (library JSON: `{batches, estimated_duration_secs}`) should draw.
fn spans(schedule: &Value) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut previous_end = None;
    for b in schedule["batches"].as_array().unwrap() {
        let n = b["index"].as_u64().unwrap() + 1;
        let (start, end) = (
            b["starts_at_secs"].as_u64().unwrap(),
            b["ends_at_secs"].as_u64().unwrap(),
        );
        if let Some(prev) = previous_end.filter(|&p| p < start) {
            spans.push(Span {
                id: format!("p{n}"),
                start: prev,
                end: start,
                milestone: false,
            });
        }
        spans.push(Span {
            id: format!("b{n}"),
            start,
            end,
            milestone: false,
        });
        if b["checkpoint_after"].as_bool().unwrap() {
            spans.push(Span {
                id: format!("c{n}"),
                start: end,
                end,
                milestone: true,
            });
        }
        previous_end = Some(end);
    }
    spans
}

/// `00:02`, `00:02:30`, `day 2 06:00` as seconds from the start (day 1 is the first day).
fn label_secs(label: &str) -> u64 {
    let (days, clock) = match label.strip_prefix("day ") {
        Some(rest) => {
            let (d, c) = rest.split_once(' ').unwrap();
            (d.parse::<u64>().unwrap() - 1, c)
        }
        None => (0, label),
    };
    let parts: Vec<u64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    let (h, m, s) = match parts[..] {
        [h, m] => (h, m, 0),
        [h, m, s] => (h, m, s),
        _ => panic!("tick label {label:?}"),
    };
    days * 86_400 + h * 3600 + m * 60 + s
}

/// Checks one drawn chart against the schedule it shows.
fn check_chart(what: &str, chart: &Value, schedule: &Value) {
    let expected = spans(schedule);
    let bars = chart["bars"].as_array().unwrap();
    let bar = |id: &str| {
        bars.iter()
            .find(|b| b["id"] == id)
            .unwrap_or_else(|| panic!("{what}: no bar {id} in {chart}"))
    };
    let x = |b: &Value| b["x"].as_f64().unwrap();
    let w = |b: &Value| b["width"].as_f64().unwrap();
    assert_eq!(bars.len(), expected.len(), "{what}: bars {chart}");

    // The scale from the first bar's start and the last batch's end.
    let first = bar("b1");
    let last = expected.iter().rev().find(|s| !s.milestone).unwrap();
    let origin = x(first);
    let per_sec = (x(bar(&last.id)) + w(bar(&last.id)) - origin) / last.end as f64;
    assert!(per_sec > 0.0, "{what}: the chart has no width: {chart}");
    let at = |secs: u64| origin + per_sec * secs as f64;
    for s in &expected {
        let b = bar(&s.id);
        assert_eq!(
            b["milestone"].as_bool().unwrap(),
            s.milestone,
            "{what}: {s:?}"
        );
        if s.milestone {
            let centre = x(b) + w(b) / 2.0;
            assert!(
                (centre - at(s.start)).abs() <= TOLERANCE,
                "{what}: checkpoint {} drawn at x={centre}, expected {} ({}s)",
                s.id,
                at(s.start),
                s.start
            );
        } else {
            assert!(
                (x(b) - at(s.start)).abs() <= TOLERANCE
                    && (x(b) + w(b) - at(s.end)).abs() <= TOLERANCE,
                "{what}: {} drawn over x={}..{}, expected {}..{} ({}s..{}s)",
                s.id,
                x(b),
                x(b) + w(b),
                at(s.start),
                at(s.end),
                s.start,
                s.end
            );
        }
    }
    // Batches one after another, never two at once.
    let batches: Vec<&Span> = expected.iter().filter(|s| s.id.starts_with('b')).collect();
    for pair in batches.windows(2) {
        let (a, b) = (bar(&pair[0].id), bar(&pair[1].id));
        assert!(
            x(b) >= x(a) + w(a) - TOLERANCE,
            "{what}: {} overlaps {}",
            pair[1].id,
            pair[0].id
        );
    }
    for (n, b) in schedule["batches"].as_array().unwrap().iter().enumerate() {
        let count = b["instance_ids"].as_array().unwrap().len();
        let label = format!(
            "Batch {} ({count} instance{}) ",
            n + 1,
            if count == 1 { "" } else { "s" }
        );
        assert!(
            chart["labels"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| *l == *label),
            "{what}: no label {label:?} in {}",
            chart["labels"]
        );
    }

    // The axis: elapsed time from 0, each label at the position of the time it names.
    let ticks = chart["ticks"].as_array().unwrap();
    assert!(ticks.len() >= 3, "{what}: ticks {ticks:?}");
    let grid_x = chart["grid_x"].as_f64().unwrap();
    let first_label = ticks[0]["label"].as_str().unwrap();
    assert_eq!(
        label_secs(first_label),
        0,
        "{what}: the axis starts at {first_label}"
    );
    for t in ticks {
        let label = t["label"].as_str().unwrap();
        let tick_x = grid_x + t["x"].as_f64().unwrap();
        assert!(
            (tick_x - at(label_secs(label))).abs() <= TOLERANCE,
            "{what}: tick {label:?} at x={tick_x}, but that time is at x={}",
            at(label_secs(label))
        );
    }
    let labels: Vec<&str> = ticks.iter().map(|t| t["label"].as_str().unwrap()).collect();
    let mut unique = labels.clone();
    unique.dedup();
    assert_eq!(unique, labels, "{what}: repeated tick labels");
}

/// Draws `markdown` in both zones, checks each chart against its schedule, and checks that the
/// zones drew the same picture.
fn check_drawn(name: &str, markdown: &str, schedules: &[Value]) {
    let blocks = markdown.matches("```mermaid\n").count();
    assert_eq!(blocks, schedules.len(), "{name}: one chart per schedule");
    let mut drawn = Vec::new();
    for tz in ZONES {
        let report = draw(name, markdown, tz);
        let charts = report["charts"].as_array().unwrap().clone();
        assert_eq!(charts.len(), schedules.len(), "{name} in {tz}");
        for (n, (chart, schedule)) in charts.iter().zip(schedules).enumerate() {
            check_chart(&format!("{name} chart {} in {tz}", n + 1), chart, schedule);
        }
        drawn.push(charts);
    }
    assert_eq!(
        drawn[0], drawn[1],
        "{name}: {} and {} differ",
        ZONES[0], ZONES[1]
    );
}

fn preview(plan: &str, format: &str) -> String {
    let path = common::fixture(&format!("plans/{plan}"));
    let run = common::run(
        &["preview", path.to_str().unwrap(), "--format", format],
        None,
        &[],
    );
    assert!(run.code == 0 || run.code == 2, "{plan}: {}", run.stderr);
    run.stdout
}

/// The schedules of a preview's releases, in the order the Markdown shows them.
fn preview_schedules(json: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(json).unwrap();
    doc["releases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["schedule"].get("schedule").cloned())
        .filter(|s| !s["batches"].as_array().unwrap().is_empty())
        .collect()
}

fn schedule(extra: &[&str], format: &str) -> String {
    let snapshot = common::fixture("small-group.json");
    let mut args = vec![
        "schedule",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--image",
        "ami-new",
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    let run = common::run(&args, None, &[]);
    assert!(run.code == 0 || run.code == 2, "schedule: {}", run.stderr);
    run.stdout
}

#[test]
fn single_release_preview_draws_batches_in_sequence() {
    let md = preview("bake-and-release.json", "markdown");
    let schedules = preview_schedules(&preview("bake-and-release.json", "json"));
    assert_eq!(schedules.len(), 1);
    check_drawn("bake-and-release", &md, &schedules);
}

#[test]
fn multi_release_preview_draws_every_release_with_its_checkpoint() {
    let md = preview("modules.json", "markdown");
    let schedules = preview_schedules(&preview("modules.json", "json"));
    assert_eq!(schedules.len(), 2);
    assert!(
        schedules.iter().all(|s| s["batches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["checkpoint_after"] == true)),
        "the fixture has a checkpoint in each release"
    );
    check_drawn("modules", &md, &schedules);
}

#[test]
fn pauses_and_checkpoints_fall_where_the_schedule_puts_them() {
    let args = ["--pause", "1m", "--checkpoint", "50"];
    let md = schedule(&args, "markdown");
    let doc: Value = serde_json::from_str(&schedule(&args, "json")).unwrap();
    let s = doc["schedule"].clone();
    assert!(spans(&s).iter().any(|s| s.id.starts_with('p')), "pauses");
    check_drawn("pauses", &md, &[s]);
}

#[test]
fn a_release_longer_than_a_day_is_labelled_by_day() {
    let args = ["--pause", "14h", "--launch-estimate", "1h"];
    let md = schedule(&args, "markdown");
    let doc: Value = serde_json::from_str(&schedule(&args, "json")).unwrap();
    let s = doc["schedule"].clone();
    assert!(s["estimated_duration_secs"].as_u64().unwrap() > 86_400);
    assert!(md.contains("axisFormat day %-j %H:%M"), "{md}");
    check_drawn("long", &md, &[s]);
}

/// The picture of a rendered preview in planner/README.md, made from the same page.
#[test]
fn screenshot_of_a_rendered_preview() {
    let md = preview("modules.json", "markdown");
    let dir = scratch("screenshot");
    let page = page(&dir, &md);
    let png = dir.join("preview.png");
    let out = chromium_command(&dir, "UTC")
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1040,2300")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(bytes.len() > 20_000, "a picture with something on it");
    if std::env::var("UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&png, docs.join("preview.png")).unwrap();
    }
}
