//! Release overhead with draining, on the simulation's virtual clock (`rollout::sim`): what
//! `bench/run drain` prints. moto drains nothing (a terminated instance stops at once), so this
//! row of BENCHMARKS.md cannot come from the emulator; the simulation models AWS's draining
//! (deregistration delay, then the stop) and the engine runs on it unchanged.
//!
//! Each case: a surge release of `n` instances in batches of `b` behind a target group, boot
//! and warm-up fixed, no faults. It ends when the last old instance has stopped (drained): the
//! release is over for the users of the group then, not when the apply returns. The lower
//! bound is what no engine can beat: every batch's new instances booted and warmed up one batch
//! after another, then one deregistration delay (the last batch's old instances draining) and
//! the stop — the draining of the other batches overlapping the next batch.
//!
//! `cargo run -p terraform-provider-immutable --example drain_bench`. Nothing asserts on time.

use std::time::Duration;

use release_planner::{BatchSize, ReleaseSettings, Strategy};
use terraform_provider_immutable::cancel::Cancel;
use terraform_provider_immutable::rollout::sim::{Hook, SimConfig, SimGroup};
use terraform_provider_immutable::rollout::{run, HealthSource, LaunchMode, ReleaseConfig};
use tokio::time::Instant;

struct Case {
    n: u32,
    batch: u32,
    deregistration: u64,
    hook: Option<u64>,
}

const BOOT: u64 = 60;
const WARMUP: u64 = 30;
const STOP: u64 = 5;

fn main() {
    let cases = [
        Case {
            n: 100,
            batch: 10,
            deregistration: 300,
            hook: None,
        },
        Case {
            n: 20,
            batch: 5,
            deregistration: 300,
            hook: None,
        },
        Case {
            n: 12,
            batch: 3,
            deregistration: 120,
            hook: Some(60),
        },
        Case {
            n: 12,
            batch: 12,
            deregistration: 300,
            hook: None,
        },
    ];
    println!("| instances | batch | deregistration delay | termination hook | apply returns | last old instance stopped | lower bound | overhead |");
    println!("|---|---|---|---|---|---|---|---|");
    for c in cases {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a paused runtime");
        let (returned, drained, batches) = rt.block_on(release(&c));
        let hook = c.hook.unwrap_or(0);
        let lower = batches * (BOOT + WARMUP) + c.deregistration + hook + STOP;
        println!(
            "| {} | {} | {} s | {} | {} s | {} s | {} × ({BOOT} s boot + {WARMUP} s warm-up) + {} s + {hook} s + {STOP} s stop = {lower} s | **{:.3}** |",
            c.n,
            c.batch,
            c.deregistration,
            c.hook.map(|h| format!("{h} s")).unwrap_or_else(|| "none".into()),
            returned,
            drained,
            batches,
            c.deregistration,
            drained as f64 / lower as f64
        );
    }
}

async fn release(c: &Case) -> (u64, u64, u64) {
    fastrand::seed(1);
    let mut cloud = SimConfig::new(1, c.n);
    cloud.max = c.n + c.batch;
    cloud.elb = true;
    cloud.boot = (Duration::from_secs(BOOT), Duration::from_secs(BOOT));
    cloud.termination = (Duration::from_secs(STOP), Duration::from_secs(STOP));
    cloud.latency = (Duration::from_millis(50), Duration::from_millis(50));
    cloud.deregistration_delay = Duration::from_secs(c.deregistration);
    cloud.request = Duration::from_secs(10);
    cloud.termination_hook = c.hook.map(|h| Hook {
        action: (Duration::from_secs(h), Duration::from_secs(h)),
        heartbeat: Duration::from_secs(3600),
    });
    let sim = SimGroup::new(cloud);
    let cfg = ReleaseConfig {
        release_id: "rel-bench".into(),
        settings: ReleaseSettings {
            batch_size: BatchSize::Count(c.batch),
            strategy: Strategy::Surge,
            instance_warmup_secs: WARMUP,
            ..ReleaseSettings::new("ami-new")
        },
        mode: LaunchMode::LaunchTemplate,
        health: HealthSource::Ec2,
        batch_timeout: Duration::from_secs(1800),
        total_timeout: Duration::from_secs(24 * 3600),
        auto_rollback: true,
        suspend_processes: vec![],
    };
    let start = Instant::now();
    let out = run(&sim, &cfg, None, &Cancel::new())
        .await
        .expect("a calm release completes");
    let returned = start.elapsed().as_secs();
    while sim.present_on("ami-old") > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sim.dropped_requests(), 0, "drained");
    (
        returned,
        start.elapsed().as_secs(),
        out.batches.len() as u64,
    )
}
