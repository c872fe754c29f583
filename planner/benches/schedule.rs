//! Planner timings for large groups: `cargo bench -p release-planner`.
//!
//! Prints the median (and min/max) of many runs of `plan_release` per group size and strategy,
//! plus the renderers, with µs per 1,000 instances. Target: a 10,000-instance group well under
//! 5 ms. Only `std::time::Instant`: no timing is asserted anywhere, CI machines vary too much.

use release_planner::{
    plan_release, render_json, render_markdown, render_text, BatchSize, GroupSnapshot, Health,
    InstanceSnapshot, LaunchSource, LifecycleState, ReleaseSettings, Schedule, Strategy,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

const RUNS: usize = 101;
const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

/// A realistic large group: three zones, ids in random order, 2% unhealthy, 1% protected,
/// 1% already on the new image (a resumed release), a few in Standby.
fn group(n: u32) -> GroupSnapshot {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let instances = (0..n)
        .map(|_| {
            let r = next();
            InstanceSnapshot {
                id: format!("i-{:017x}", r >> 4),
                availability_zone: ZONES[(r % 3) as usize].to_owned(),
                image_id: if r % 100 == 7 {
                    "ami-new".into()
                } else {
                    "ami-old".into()
                },
                lifecycle_state: if r % 500 == 3 {
                    LifecycleState::Standby
                } else {
                    LifecycleState::InService
                },
                health: if r % 50 == 1 {
                    Health::Unhealthy
                } else {
                    Health::Healthy
                },
                protected_from_scale_in: r % 100 == 42,
                launch_time: Some(1_700_000_000 + (r % 1_000_000)),
                weighted_capacity: None,
            }
        })
        .collect();
    GroupSnapshot {
        name: format!("web-{n}"),
        desired_capacity: n,
        min_size: n / 2,
        max_size: n + n / 20,
        instances,
        availability_zones: ZONES.iter().map(|z| z.to_string()).collect(),
        launch: LaunchSource::LaunchTemplate {
            id: Some("lt-0123".into()),
            name: None,
            version: "7".into(),
        },
        target_group_arns: vec![],
        load_balancer_names: vec![],
        launch_image_id: None,
        replacement: Default::default(),
        warm_pool: None,
    }
}

struct Timing {
    median: Duration,
    min: Duration,
    max: Duration,
}

fn time<T>(mut f: impl FnMut() -> T) -> Timing {
    black_box(f()); // warm-up
    let mut samples: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    samples.sort_unstable();
    Timing {
        median: samples[RUNS / 2],
        min: samples[0],
        max: samples[RUNS - 1],
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn row(what: &str, n: u32, batches: usize, t: &Timing) {
    println!(
        "{what:<26} {n:>7} {batches:>8} {:>11.1} {:>9.1} {:>9.1} {:>13.1}",
        us(t.median),
        us(t.min),
        us(t.max),
        us(t.median) * 1000.0 / f64::from(n)
    );
}

fn main() {
    println!(
        "release-planner benchmark: median of {RUNS} runs (after one warm-up run), times in µs\n"
    );
    println!(
        "{:<26} {:>7} {:>8} {:>11} {:>9} {:>9} {:>13}",
        "operation", "inst.", "batches", "median µs", "min µs", "max µs", "µs / 1k inst."
    );
    for n in [1_000u32, 10_000] {
        let snapshot = group(n);
        let surge = ReleaseSettings {
            batch_size: BatchSize::Percent(10),
            ..ReleaseSettings::new("ami-new")
        };
        let replace = ReleaseSettings {
            batch_size: BatchSize::Percent(10),
            strategy: Strategy::Replace,
            min_healthy_percentage: Some(90),
            ..ReleaseSettings::new("ami-new")
        };
        let one_by_one = ReleaseSettings {
            batch_size: BatchSize::Count(1),
            ..ReleaseSettings::new("ami-new")
        };
        let mut last: Option<Schedule> = None;
        for (label, settings) in [
            ("plan_release surge 10%", &surge),
            ("plan_release replace 10%", &replace),
            ("plan_release surge 1", &one_by_one),
        ] {
            let schedule =
                plan_release(&snapshot, settings).expect("benchmark groups are plannable");
            let t = time(|| plan_release(black_box(&snapshot), black_box(settings)));
            row(label, n, schedule.batches.len(), &t);
            if settings == &surge {
                last = Some(schedule);
            }
        }
        let schedule = last.expect("surge schedule");
        let b = schedule.batches.len();
        row(
            "render_text",
            n,
            b,
            &time(|| render_text(&snapshot, &schedule)),
        );
        row(
            "render_markdown",
            n,
            b,
            &time(|| render_markdown(&snapshot, &schedule)),
        );
        row(
            "render_json",
            n,
            b,
            &time(|| render_json(&snapshot, &surge, &schedule)),
        );
    }
}
