//! The Auto Scaling request budget at scale, on the simulation's virtual clock (`rollout::sim`):
//! what `bench/run scale` prints. moto throttles nothing, so the budget can only be measured
//! against a model of it.
//!
//! AWS throttles every Amazon EC2 Auto Scaling API call of an account and Region against one
//! shared token bucket (DescribeAutoScalingGroups and the mutations draw from the same tokens;
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/Welcome.html>, "API request rate";
//! <https://repost.aws/knowledge-center/autoscaling-api-calls-throttled>). AWS does not publish
//! the bucket's size or refill rate, so they are parameters here (`BENCH_BUCKET=<burst>/<per
//! second>`, default 20/5, inside the range the seeded parallel sweep draws from); the SDK's
//! standard retry mode (3 attempts) runs in front of it, as in the sweep.
//!
//! Cases: one 1,000-instance group; one 20-instance group; 50 releases of 20-instance groups
//! in one apply at Terraform's default parallelism (10 resources applied at once, the rest
//! waiting for a slot). Every release: surge, warm-up 30 s, boot 60 s, no other faults. Calls
//! are the engine's (what a release apply adds to its plan): every call the simulated AWS
//! received, each repeat of a throttled call counted again, the SDK's own retries apart (the
//! "requests throttled" column counts every attempt that found the bucket empty).
//!
//! `cargo run -p terraform-provider-immutable --example scale_bench`. Nothing asserts on time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use release_planner::{BatchSize, ReleaseSettings, Strategy};
use terraform_provider_immutable::cancel::Cancel;
use terraform_provider_immutable::rollout::sim::{SimConfig, SimGroup, TokenBucket};
use terraform_provider_immutable::rollout::{run, HealthSource, LaunchMode, ReleaseConfig};
use tokio::time::Instant;

struct Case {
    what: &'static str,
    groups: usize,
    instances: u32,
    batch: u32,
    parallelism: usize,
}

/// The Auto Scaling operations among the simulated calls (the rest are EC2's).
const AUTO_SCALING: [&str; 10] = [
    "DescribeAutoScalingGroups",
    "DescribeInstanceRefreshes",
    "UpdateAutoScalingGroup",
    "TerminateInstanceInAutoScalingGroup",
    "CreateOrUpdateTags",
    "DeleteTags",
    "SuspendProcesses",
    "ResumeProcesses",
    "ExitStandby",
    "DetachInstances",
];

fn main() {
    let (burst, rate) = std::env::var("BENCH_BUCKET")
        .ok()
        .and_then(|v| {
            let (b, r) = v.split_once('/')?;
            Some((b.parse::<u32>().ok()?, r.parse::<f64>().ok()?))
        })
        .unwrap_or((20, 5.0));
    let cases = [
        Case {
            what: "one group of 1,000, batch 100",
            groups: 1,
            instances: 1000,
            batch: 100,
            parallelism: 1,
        },
        Case {
            what: "one group of 20, batch 5",
            groups: 1,
            instances: 20,
            batch: 5,
            parallelism: 1,
        },
        Case {
            what: "50 groups of 20, batch 5, parallelism 10",
            groups: 50,
            instances: 20,
            batch: 5,
            parallelism: 10,
        },
    ];
    println!("Auto Scaling bucket: {burst} tokens, refilled at {rate}/s (shared by every release of a case)");
    println!();
    println!("| case | instances | apply (virtual) | calls | calls per instance | Auto Scaling calls | Auto Scaling calls/s (mean, peak) | requests throttled | calls failed after the SDK's retries (waited out) | releases failed |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for c in cases {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a paused runtime");
        let r = rt.block_on(measure(&c, TokenBucket::new(burst, rate)));
        let instances = c.groups as u32 * c.instances;
        println!(
            "| {} | {instances} | {} s | {} | **{:.2}** | {} | {:.2}, {} | {} | {} | {} |",
            c.what,
            r.secs,
            r.calls,
            f64::from(r.calls) / f64::from(instances),
            r.auto_scaling,
            f64::from(r.auto_scaling) / r.secs.max(1) as f64,
            r.peak,
            r.throttled,
            r.exhausted,
            r.failed
        );
        if std::env::var("BENCH_BY_ACTION").is_ok() {
            println!("  {:?}", r.by_action);
        }
    }
}

struct Measured {
    secs: u64,
    calls: u32,
    auto_scaling: u32,
    /// Most Auto Scaling calls in one virtual second.
    peak: u32,
    throttled: u32,
    exhausted: u32,
    failed: usize,
    by_action: BTreeMap<&'static str, u32>,
}

fn auto_scaling_calls(sims: &[Arc<SimGroup>]) -> u32 {
    sims.iter()
        .flat_map(|s| s.calls())
        .filter(|(op, _)| AUTO_SCALING.contains(op))
        .map(|(_, n)| n)
        .sum()
}

async fn measure(c: &Case, bucket: Arc<TokenBucket>) -> Measured {
    fastrand::seed(1);
    let sims: Vec<Arc<SimGroup>> = (0..c.groups)
        .map(|k| {
            let mut cloud = SimConfig::new(k as u64 + 1, c.instances);
            cloud.group_name = format!("group-{k}");
            cloud.max = 2 * c.instances;
            cloud.boot = (Duration::from_secs(60), Duration::from_secs(60));
            cloud.termination = (Duration::from_secs(5), Duration::from_secs(5));
            cloud.throttle = Some(bucket.clone());
            Arc::new(SimGroup::new(cloud))
        })
        .collect();
    let cfg = ReleaseConfig {
        release_id: "rel-scale".into(),
        settings: ReleaseSettings {
            batch_size: BatchSize::Count(c.batch),
            strategy: Strategy::Surge,
            instance_warmup_secs: 30,
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
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    // Terraform's walk: `parallelism` resources at once, each slot taking the next release.
    let slots: Vec<_> = (0..c.parallelism)
        .map(|_| {
            let (sims, cfg, next, failed) =
                (sims.clone(), cfg.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(sim) = sims.get(k) else { break };
                    if let Err(e) = run(&**sim, &cfg, None, &Cancel::new()).await {
                        eprintln!("release {k} failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let done = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (sims, done) = (sims.clone(), done.clone());
        tokio::spawn(async move {
            let (mut last, mut peak) = (0, 0);
            while done.load(Ordering::Relaxed) == 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = auto_scaling_calls(&sims);
                peak = peak.max(now - last);
                last = now;
            }
            peak
        })
    };
    for slot in slots {
        slot.await.expect("a release slot");
    }
    let secs = start.elapsed().as_secs();
    done.store(1, Ordering::Relaxed);
    let peak = sampler.await.expect("the sampler");
    let mut by_action = BTreeMap::new();
    for sim in &sims {
        for (op, n) in sim.calls() {
            *by_action.entry(op).or_insert(0) += n;
        }
    }
    Measured {
        secs,
        calls: by_action.values().sum(),
        auto_scaling: auto_scaling_calls(&sims),
        peak,
        throttled: bucket.throttled(),
        exhausted: sims.iter().map(|s| s.bucket_failures()).sum(),
        failed: failed.load(Ordering::Relaxed),
        by_action,
    }
}
