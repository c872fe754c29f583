//! Seeded releases on the simulated group, on tokio's paused clock.
//!
//! `cargo test -p terraform-provider-immutable --lib rollout::sim` runs a small sweep
//! (`SIM_RUNS`, default 50 seeds); the full sweep is
//! `SIM_RUNS=1000 cargo test -p terraform-provider-immutable --lib rollout::sim -- --nocapture`,
//! and one seed again is `SIM_SEED=<n>`.

use std::collections::BTreeSet;
use std::time::Duration;

use release_planner::{BatchSize, ReleaseSettings, Strategy};

use super::*;
use crate::cancel::Cancel;
use crate::rollout::execute::{
    run, LaunchMode, ProtectedInstances, ReleaseConfig, ReleaseError, Status,
};
use crate::rollout::record::{LOCK_TAG, RECORD_TAG};

const OLD: &str = "ami-old";
const NEW: &str = "ami-new";

/// How a run was interrupted, if it was.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Interrupt {
    None,
    /// Terraform's StopProvider after this long.
    Cancel(Duration),
    /// SIGKILL after this long: the future is dropped, the lock's owner is dead.
    Kill(Duration),
}

#[derive(Debug, Clone)]
struct Scenario {
    cloud: SimConfig,
    release: ReleaseConfig,
    interrupt: Interrupt,
    broken: bool,
    floor: u32,
}

fn scenario(seed: u64) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x05EE_D0FF_100D);
    let n = rng.u32(1..=60);
    let mut cloud = SimConfig::new(seed, n);
    cloud.zones.truncate(rng.usize(1..=3));
    // Groups with and without headroom above desired, with and without a min below it.
    cloud.min = if rng.bool() { n } else { rng.u32(0..=n) };
    cloud.max = n + if rng.bool() { 0 } else { rng.u32(0..=n) };
    cloud.boot = (
        Duration::from_secs(rng.u64(5..=60)),
        Duration::from_secs(rng.u64(60..=240)),
    );
    cloud.termination = (
        Duration::from_secs(rng.u64(1..=30)),
        Duration::from_secs(rng.u64(30..=120)),
    );
    cloud.elb = rng.bool();
    cloud.never_healthy = if rng.u8(0..10) < 3 {
        rng.f64() * 0.05
    } else {
        0.0
    };
    cloud.retried = rng.f64() * 0.3;
    cloud.exhausted = if rng.bool() { rng.f64() * 0.01 } else { 0.0 };
    // What AWS does that moto does not (see the module docs of `sim`).
    cloud.deregistration_delay = Duration::from_secs(rng.u64(0..=300));
    cloud.request = Duration::from_secs(rng.u64(0..=30)).min(cloud.deregistration_delay);
    if rng.u8(0..10) < 3 {
        cloud.termination_hook = Some(Hook {
            action: (
                Duration::from_secs(5),
                Duration::from_secs(rng.u64(5..=120)),
            ),
            heartbeat: Duration::from_secs(rng.u64(30..=300)),
        });
    }
    if rng.u8(0..10) < 2 {
        cloud.launch_hook = Some(Hook {
            action: (Duration::from_secs(1), Duration::from_secs(rng.u64(1..=60))),
            heartbeat: Duration::from_secs(rng.u64(30..=120)),
        });
    }
    if rng.u8(0..100) < 5 {
        cloud.template_reverted_at = Some(Duration::from_secs(rng.u64(0..=900)));
    }
    if rng.u8(0..100) < 5 {
        cloud.warm_pool = rng.u32(1..=n);
    }
    if rng.u8(0..10) == 0 {
        cloud.read_outage = Some((
            Duration::from_secs(rng.u64(0..=1200)),
            Duration::from_secs(rng.u64(10..=1200)),
        ));
    }
    // The image the group runs was deregistered (its image resource replaced, destroy first).
    if rng.u8(0..100) < 5 {
        cloud.missing_images.insert(OLD.into());
    }
    let broken = rng.u8(0..100) < 15;
    if broken {
        cloud.broken_images.insert(NEW.into());
    }

    let strategy = if rng.bool() {
        Strategy::Surge
    } else {
        Strategy::Replace
    };
    let batch_size = if rng.bool() {
        BatchSize::Count(rng.u32(1..=n))
    } else {
        BatchSize::Percent(rng.u32(1..=100))
    };
    let min_healthy = match strategy {
        Strategy::Surge => None,
        Strategy::Replace if rng.bool() => None,
        Strategy::Replace => Some(rng.u32(0..=95)),
    };
    let mut settings = ReleaseSettings {
        batch_size,
        strategy,
        min_healthy_percentage: min_healthy,
        instance_warmup_secs: rng.u64(0..=120),
        pause_between_batches_secs: if rng.u8(0..4) == 0 {
            rng.u64(1..=120)
        } else {
            0
        },
        ..ReleaseSettings::new(NEW)
    };
    if rng.u8(0..5) == 0 {
        settings.checkpoints = vec![rng.u32(10..=90)];
    }
    let floor = match strategy {
        Strategy::Surge => n,
        Strategy::Replace => {
            (u64::from(settings.effective_min_healthy_percentage()) * u64::from(n)).div_ceil(100)
                as u32
        }
    };
    let settings_clone = settings.clone();
    let release = ReleaseConfig {
        release_id: format!("rel-sim{seed:08x}"),
        settings,
        mode: LaunchMode::LaunchTemplate,
        health: if cloud.elb && rng.bool() {
            HealthSource::Elb
        } else {
            HealthSource::Ec2
        },
        // Long enough for a boot, the warm-up and the SDK's retries: a batch timeout shorter
        // than the boot time fails every release, which the e2e tests cover.
        batch_timeout: cloud.boot.1
            + Duration::from_secs(settings_clone.instance_warmup_secs)
            + Duration::from_secs(rng.u64(3..=15) * 60),
        total_timeout: Duration::from_secs(4 * 3600),
        auto_rollback: rng.u8(0..5) != 0,
        suspend_processes: vec!["AZRebalance".into(), "ScheduledActions".into()],
    };
    let interrupt = match rng.u8(0..10) {
        0 | 1 => Interrupt::Cancel(Duration::from_secs(rng.u64(0..=1800))),
        2 | 3 => Interrupt::Kill(Duration::from_secs(rng.u64(0..=1800))),
        _ => Interrupt::None,
    };
    Scenario {
        cloud,
        release,
        interrupt,
        broken,
        floor,
    }
}

/// What one seed did, for the sweep's summary.
#[derive(Debug, Default)]
struct Summary {
    applies: u32,
    complete: bool,
    rolled_back: bool,
    refused_to_plan: bool,
    virtual_secs: u64,
    dropped: u32,
    launches: u32,
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a paused runtime")
}

/// Runs one seed: the first apply (maybe interrupted), then more applies until the release is
/// complete (or has failed for good), then checks every invariant. Err: what went wrong.
fn run_seed(seed: u64) -> Result<Summary, String> {
    let sc = scenario(seed);
    rt().block_on(async move {
        // The engine's backoff jitter comes from fastrand's thread-local generator.
        fastrand::seed(seed);
        let started = Instant::now();
        let sim = SimGroup::new(sc.cloud.clone());
        let original = sim.capacity();
        let mut summary = Summary::default();
        let mut last: Option<Result<Status, ReleaseError>> = None;
        for apply in 0..8u32 {
            summary.applies += 1;
            // After three applies the weather clears: the next apply converges.
            sim.set_faults(apply < 3);
            let cancel = Cancel::new();
            let interrupt = if apply == 0 { sc.interrupt } else { Interrupt::None };
            let fut = run(&sim, &sc.release, None, &cancel);
            let result = match interrupt {
                Interrupt::None => Some(fut.await),
                Interrupt::Cancel(after) => {
                    let c = cancel.clone();
                    let trip = async move {
                        tokio::time::sleep(after).await;
                        c.trip();
                        std::future::pending::<()>().await
                    };
                    tokio::select! {
                        biased;
                        r = fut => Some(r),
                        _ = trip => None,
                    }
                }
                Interrupt::Kill(after) => {
                    tokio::select! {
                        biased;
                        r = fut => Some(r),
                        _ = tokio::time::sleep(after) => None,
                    }
                }
            };
            let Some(result) = result else {
                sim.kill_lock_owner();
                tokio::time::sleep(Duration::from_secs(300)).await;
                continue;
            };
            // The plugin process ends with the apply: a lock it could not delete is void.
            sim.kill_lock_owner();
            let result = result.map(|o| o.status);
            // A restore that could not finish keeps the record: the next apply finishes it.
            let restore_pending = matches!(&result, Err(e) if {
                let m = e.to_string();
                m.contains("is kept") || m.contains("ROLLBACK FAILED") || m.contains("could not")
            });
            let done = !restore_pending && match &result {
                Ok(Status::Complete) => true,
                Ok(Status::Checkpoint { .. }) => false,
                // The planner refuses to take a healthy instance below the floor: on a group
                // with no room (final, in whichever apply first gets that far — an earlier one
                // may have ended on a lost answer), or while replacements still boot (a later
                // apply goes on).
                Err(e) if e.what.contains("cannot schedule") && e.replaced.is_empty() && sim.live_images().values().all(|i| i == OLD) => {
                    summary.refused_to_plan = true;
                    true
                }
                // No rollback target: refused before any change, for good.
                Err(e) if e.untouched && e.what.contains("rollback target") => {
                    summary.refused_to_plan = true;
                    true
                }
                // A broken image fails for good: rollback (or a stop when it is off).
                Err(e) if sc.broken && is_batch_failure(e) => {
                    summary.rolled_back = sc.release.auto_rollback;
                    true
                }
                Err(_) => false,
            };
            last = Some(result);
            if done {
                break;
            }
            // Someone reads the error and applies again, a few minutes later.
            tokio::time::sleep(Duration::from_secs(300)).await;
        }
        summary.virtual_secs = started.elapsed().as_secs();
        let fail = |what: String| {
            let events = sim.events();
            let keep = if std::env::var("SIM_SEED").is_ok() { events.len() } else { 60 };
            let events = events[events.len().saturating_sub(keep)..].join("\n    ");
            Err(format!(
                "seed {seed}: {what}\n  events (last 60; all with SIM_SEED):\n    {events}\n  scenario: {} instances, min {} max {}, {:?} batch {:?} min_healthy {:?}, warmup {}s, pause {}s, checkpoints {:?}, health {:?}, elb {}, rollback {}, broken {}, never_healthy {:.3}, retried {:.2}, exhausted {:.4}, interrupt {:?}\n  last result: {:?}\n  calls: {:?}",
                sc.cloud.instances, sc.cloud.min, sc.cloud.max, sc.release.settings.strategy,
                sc.release.settings.batch_size, sc.release.settings.min_healthy_percentage,
                sc.release.settings.instance_warmup_secs, sc.release.settings.pause_between_batches_secs,
                sc.release.settings.checkpoints, sc.release.health, sc.cloud.elb,
                sc.release.auto_rollback, sc.broken, sc.cloud.never_healthy, sc.cloud.retried,
                sc.cloud.exhausted, sc.interrupt,
                last.as_ref().map(|r| r.as_ref().map_err(|e| e.to_string())),
                sim.calls()
            ))
        };

        // 0. Traffic: no request dropped, every old instance through its termination hook, and
        //    launches bounded (no release goes round in circles). Instances still draining
        //    finish first.
        let batch = sc.release.settings.batch_size.per_batch(sc.cloud.instances);
        let most = summary.applies * launch_bound(sc.cloud.instances, batch) + sc.cloud.instances;
        if sim.launches() > most {
            return fail(format!("{} launches (at most {most})", sim.launches()));
        }
        if sim.missing_launches() > 0 {
            return fail(format!(
                "{} launch(es) from a deregistered image",
                sim.missing_launches()
            ));
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
        summary.dropped = sim.dropped_requests();
        summary.launches = sim.launches();
        if summary.dropped > 0 {
            return fail(format!("{} instance(s) stopped with requests in flight", summary.dropped));
        }
        if sc.cloud.termination_hook.is_some() && !sim.unhooked().is_empty() {
            return fail(format!("left without the termination hook: {:?}", sim.unhooked()));
        }
        // 1. The floor, at every step of every apply.
        let lowest = sim.lowest_healthy().expect("observed");
        if lowest.healthy < sc.floor {
            return fail(format!(
                "healthy in-service capacity fell to {} (< floor {}) after {} at t={}s",
                lowest.healthy, sc.floor, lowest.after, lowest.at_secs
            ));
        }
        // 2. The group's own settings are back, nothing of the release is left on it.
        if sim.capacity() != original {
            return fail(format!(
                "capacity {:?} after the release, was {:?}",
                sim.capacity(),
                original
            ));
        }
        let tags = sim.tag_map();
        // The lock always goes; the record goes once the release is complete or rolled back
        // (a release that stopped early keeps it, paused, for its previous image).
        let record_ok = match tags.get(RECORD_TAG) {
            None => true,
            Some(r) => r.contains("paused=1") && !matches!(last, Some(Ok(Status::Complete))),
        };
        let lock_ok = match tags.get(LOCK_TAG) {
            None => true,
            Some(l) => crate::rollout::record::Lock::parse(l)
                .is_some_and(|l| crate::owner::is_dead_local(&l.owner)),
        };
        if !record_ok || !lock_ok {
            return fail(format!("release tags left on the group: {tags:?}"));
        }
        if !sim.suspended_now().is_empty() {
            return fail(format!("processes left suspended: {:?}", sim.suspended_now()));
        }
        // 3. Never the same instance terminated twice.
        if let Some((id, n)) = sim.terminations().into_iter().find(|(_, n)| *n > 1) {
            return fail(format!("{id} terminated {n} times"));
        }
        // 4. The outcome: complete on the new image, or (broken image) back on the old one.
        let live = sim.live_images();
        let (desired, _, _) = original;
        match last.as_ref() {
            Some(Ok(Status::Complete)) => {
                summary.complete = true;
                if live.len() as u32 != desired || live.values().any(|i| i != NEW) {
                    return fail(format!("complete, but the group runs {live:?}"));
                }
            }
            Some(Err(_)) if summary.refused_to_plan => {
                if live.values().any(|i| i != OLD) {
                    return fail(format!("refused to plan, but the group changed: {live:?}"));
                }
            }
            Some(Err(e)) if summary.rolled_back => {
                let msg = e.to_string();
                let clean = !msg.contains("ROLLBACK FAILED");
                if clean && live.values().any(|i| i != OLD) {
                    return fail(format!("rolled back, but the group runs {live:?}"));
                }
                if !msg.contains("launches ami-old again") {
                    return fail(format!("the error does not say what was restored: {msg}"));
                }
                if clean && sim.launch_now().encode() != "lt:lt-sim:1" {
                    return fail(format!(
                        "rolled back, but the group launches {:?}",
                        sim.launch_now()
                    ));
                }
            }
            Some(Err(e)) if sc.broken && !sc.release.auto_rollback => {
                if !e.to_string().contains("auto_rollback is off") {
                    return fail(format!("a stop without rollback must say so: {e}"));
                }
            }
            // A warm pool of old instances keeps feeding the group the old image until the
            // pool is refreshed: every apply stops at once, saying so.
            Some(Err(e)) if sc.cloud.warm_pool > 0 && e.to_string().contains("warm pool") => {}
            other => {
                // Only a release whose new instances could never all be healthy may end
                // without completing.
                if sc.cloud.never_healthy == 0.0 {
                    return fail(format!("did not converge in 8 applies: {other:?}"));
                }
            }
        }
        Ok(summary)
    })
}

fn is_batch_failure(e: &ReleaseError) -> bool {
    e.what.contains("became healthy") || e.what.contains("marked Unhealthy")
}

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("SIM_SEED") {
        return vec![one.parse().expect("SIM_SEED is a number")];
    }
    let runs: u64 = std::env::var("SIM_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    (0..runs).collect()
}

#[test]
fn healthy_capacity_never_drops_below_the_floor_over_seeded_releases() {
    let mut failures = vec![];
    let mut complete = 0;
    let mut rolled_back = 0;
    let mut refused = 0;
    let mut applies = 0;
    let mut virtual_secs = 0;
    let mut dropped = 0;
    let mut launches = 0;
    let seeds = seeds();
    for &seed in &seeds {
        match run_seed(seed) {
            Ok(s) => {
                complete += u32::from(s.complete);
                rolled_back += u32::from(s.rolled_back);
                refused += u32::from(s.refused_to_plan);
                applies += s.applies;
                virtual_secs += s.virtual_secs;
                dropped += s.dropped;
                launches += s.launches;
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "rollout::sim: {} seeds, {} failed; {complete} complete, {rolled_back} rolled back, {refused} refused by the planner; {applies} applies, {:.1} virtual hours; {launches} launches, {dropped} instances stopped with requests in flight",
        seeds.len(),
        failures.len(),
        virtual_secs as f64 / 3600.0
    );
    assert!(
        failures.is_empty(),
        "{} of {} seeds broke an invariant:\n{}",
        failures.len(),
        seeds.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_calm_surge_release_replaces_every_instance_once() {
    let mut cloud = SimConfig::new(7, 12);
    cloud.max = 12;
    let sim = SimGroup::new(cloud);
    let cfg = ReleaseConfig {
        release_id: "rel-calm".into(),
        settings: ReleaseSettings {
            batch_size: BatchSize::Count(3),
            instance_warmup_secs: 30,
            ..ReleaseSettings::new(NEW)
        },
        mode: LaunchMode::LaunchTemplate,
        health: HealthSource::Ec2,
        batch_timeout: Duration::from_secs(600),
        total_timeout: Duration::from_secs(3600),
        auto_rollback: true,
        suspend_processes: vec!["AZRebalance".into()],
    };
    let before: BTreeSet<String> = sim.live_images().into_keys().collect();
    let out = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("a calm release completes");
    assert_eq!(out.status, Status::Complete);
    assert_eq!(out.batches.len(), 4);
    let replaced: BTreeSet<String> = out.replaced.iter().cloned().collect();
    assert_eq!(replaced, before, "every old instance, once");
    assert!(sim.live_images().values().all(|i| i == NEW));
    assert_eq!(sim.capacity(), (12, 12, 12));
    assert_eq!(sim.lowest_healthy().unwrap().healthy, 12);
    assert_eq!(sim.launch_now().encode(), "lt:lt-sim:2");
    // The launch switch, one raise by a batch (each removal but the last leaves without lowering
    // the group, which launches the next batch: four equal batches need no other raise), and the
    // final restore.
    let calls = sim.calls();
    assert_eq!(calls.get("UpdateAutoScalingGroup"), Some(&3), "{calls:?}");
    assert_eq!(calls.get("DetachInstances"), None, "{calls:?}");
    assert_eq!(
        calls.get("TerminateInstanceInAutoScalingGroup"),
        Some(&12),
        "each old instance leaves through the group: {calls:?}"
    );
}

#[test]
fn a_broken_image_is_rolled_back_without_losing_capacity() {
    let mut cloud = SimConfig::new(11, 8);
    cloud.broken_images.insert(NEW.into());
    let sim = SimGroup::new(cloud);
    let cfg = ReleaseConfig {
        release_id: "rel-broken".into(),
        settings: ReleaseSettings {
            batch_size: BatchSize::Count(2),
            strategy: Strategy::Replace,
            min_healthy_percentage: Some(75),
            ..ReleaseSettings::new(NEW)
        },
        mode: LaunchMode::LaunchTemplate,
        health: HealthSource::Ec2,
        batch_timeout: Duration::from_secs(300),
        total_timeout: Duration::from_secs(3600),
        auto_rollback: true,
        suspend_processes: vec![],
    };
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("a broken image fails");
    let msg = err.to_string();
    assert!(msg.contains("batch 1 of 4 failed"), "{msg}");
    assert!(msg.contains("the group launches ami-old again"), "{msg}");
    assert!(sim.live_images().values().all(|i| i == OLD));
    assert_eq!(sim.live_images().len(), 8);
    assert!(sim.lowest_healthy().unwrap().healthy >= 6);
    assert_eq!(sim.launch_now().encode(), "lt:lt-sim:1");
}

fn calm_release(id: &str, batch: u32) -> ReleaseConfig {
    ReleaseConfig {
        release_id: id.into(),
        settings: ReleaseSettings {
            batch_size: BatchSize::Count(batch),
            instance_warmup_secs: 30,
            ..ReleaseSettings::new(NEW)
        },
        mode: LaunchMode::LaunchTemplate,
        health: HealthSource::Ec2,
        batch_timeout: Duration::from_secs(600),
        total_timeout: Duration::from_secs(3600),
        auto_rollback: true,
        suspend_processes: vec![],
    }
}

/// Most instances a release of `n` instances in batches of `batch` may launch: its batches,
/// one retry of a batch, and (on a rollback) the same again back.
fn launch_bound(n: u32, batch: u32) -> u32 {
    2 * (n + batch)
}

#[test]
fn a_template_moved_back_by_another_tool_fails_the_batch_naming_the_image() {
    let mut cloud = SimConfig::new(21, 10);
    cloud.max = 20;
    cloud.boot = (Duration::from_secs(5), Duration::from_secs(10));
    // After the first batch's instances launched, before the second's.
    cloud.template_reverted_at = Some(Duration::from_secs(30));
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-revert", 2);
    cfg.settings.instance_warmup_secs = 20;
    cfg.batch_timeout = Duration::from_secs(60);
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("a group that launches the old image cannot make progress");
    let msg = err.to_string();
    // The first batch launched before the move; a later one (which depends on boot times) fails.
    assert!(
        msg.contains(" of 5 failed") && !msg.contains("batch 1 of 5"),
        "{msg}"
    );
    assert!(msg.contains("run ami-old, not ami-new"), "{msg}");
    assert!(msg.contains("changed by someone else"), "{msg}");
    assert!(
        sim.launches() <= launch_bound(10, 2),
        "{} launches for a group of 10: {:?}",
        sim.launches(),
        sim.events()
    );
}

#[test]
fn instances_drawn_from_a_warm_pool_fail_the_batch_naming_the_pool() {
    let mut cloud = SimConfig::new(22, 6);
    cloud.max = 12;
    cloud.warm_pool = 4;
    let sim = SimGroup::new(cloud);
    let cfg = calm_release("rel-warm", 2);
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("old instances from the pool are no progress");
    let msg = err.to_string();
    assert!(msg.contains("run ami-old, not ami-new"), "{msg}");
    assert!(msg.contains("warm pool"), "{msg}");
    assert!(sim.launches() <= launch_bound(6, 2), "{:?}", sim.events());
}

#[test]
fn reads_failing_for_a_while_only_delay_the_batch() {
    let mut cloud = SimConfig::new(23, 6);
    cloud.max = 12;
    cloud.read_outage = Some((Duration::from_secs(40), Duration::from_secs(240)));
    let sim = SimGroup::new(cloud);
    let out = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-outage", 3),
            None,
            &Cancel::new(),
        ))
        .expect("a read outage shorter than the batch timeout is waited out");
    assert_eq!(out.status, Status::Complete);
    assert!(sim.failures() > 0, "the outage happened");
    assert!(sim.live_images().values().all(|i| i == NEW));
}

#[test]
fn reads_failing_until_the_batch_deadline_destroy_nothing() {
    let mut cloud = SimConfig::new(24, 6);
    cloud.max = 12;
    cloud.read_outage = Some((Duration::from_secs(40), Duration::from_secs(3600)));
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-blind", 3);
    cfg.batch_timeout = Duration::from_secs(300);
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("a group that cannot be read cannot be released");
    let msg = err.to_string();
    assert!(msg.contains("could not read"), "{msg}");
    assert!(
        !msg.contains("launches ami-old again"),
        "no rollback: {msg}"
    );
    // Nothing healthy was terminated for a read that failed: no instance on the new image.
    let new_terminated = sim
        .events()
        .iter()
        .filter(|e| e.contains("terminating"))
        .count();
    assert_eq!(new_terminated, 0, "{:?}", sim.events());
}

#[test]
fn the_whole_release_timeout_holds_between_batches() {
    let mut cloud = SimConfig::new(25, 12);
    cloud.max = 12;
    cloud.boot = (Duration::from_secs(100), Duration::from_secs(100));
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-deadline", 2);
    cfg.settings.pause_between_batches_secs = 60;
    cfg.total_timeout = Duration::from_secs(400);
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("six batches of 190 s do not fit in 400 s");
    let msg = err.to_string();
    assert!(msg.contains("timeout"), "{msg}");
    assert!(
        !msg.contains("launches ami-old again"),
        "no rollback: {msg}"
    );
    assert!(
        err.replaced.len() <= 6,
        "at most the batches that started in time: {msg}"
    );
}

fn draining_cloud(seed: u64) -> SimConfig {
    let mut cloud = SimConfig::new(seed, 12);
    cloud.max = 24;
    cloud.elb = true;
    cloud.deregistration_delay = Duration::from_secs(120);
    cloud.request = Duration::from_secs(20);
    cloud.termination_hook = Some(Hook {
        action: (Duration::from_secs(10), Duration::from_secs(60)),
        heartbeat: Duration::from_secs(300),
    });
    cloud
}

#[test]
fn old_instances_drain_and_run_their_termination_hook() {
    let sim = SimGroup::new(draining_cloud(31));
    let mut cfg = calm_release("rel-drain", 3);
    cfg.health = HealthSource::Elb;
    let out = rt().block_on(async {
        let out = run(&sim, &cfg, None, &Cancel::new()).await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        out
    });
    assert_eq!(out.expect("completes").status, Status::Complete);
    assert_eq!(sim.dropped_requests(), 0, "{:?}", sim.events());
    assert!(sim.unhooked().is_empty(), "{:?}", sim.unhooked());
    assert_eq!(sim.lowest_healthy().unwrap().healthy, 12);
}

#[test]
fn detaching_then_terminating_through_ec2_drops_requests_and_skips_the_hook() {
    let mut cloud = draining_cloud(32);
    cloud.detach_then_terminate = true;
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-cut", 3);
    cfg.health = HealthSource::Elb;
    rt().block_on(async {
        run(&sim, &cfg, None, &Cancel::new())
            .await
            .expect("completes");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let unhooked = sim.unhooked();
    assert!(unhooked.len() >= 9, "{unhooked:?}");
    assert!(
        sim.dropped_requests() >= 9,
        "old instances were cut off: {:?}",
        sim.events()
    );
}

#[test]
fn a_release_whose_rollback_target_is_gone_changes_nothing() {
    let mut cloud = SimConfig::new(41, 6);
    cloud.max = 12;
    cloud.missing_images.insert(OLD.into());
    let sim = SimGroup::new(cloud);
    let err = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-orphan", 2),
            None,
            &Cancel::new(),
        ))
        .expect_err("no rollback target");
    assert!(err.untouched, "{err}");
    assert!(err.to_string().contains("image ami-old"), "{err}");
    assert!(err.to_string().contains("auto_rollback = false"), "{err}");
    assert_eq!(sim.launch_now().encode(), "lt:lt-sim:1", "launch unchanged");
    assert_eq!(sim.calls().get("UpdateAutoScalingGroup"), None);
    assert!(sim.tag_map().is_empty(), "{:?}", sim.tag_map());
    assert_eq!(sim.missing_launches(), 0);
}

fn protected_cloud(seed: u64) -> SimConfig {
    let mut cloud = SimConfig::new(seed, 6);
    cloud.max = 12;
    cloud.protected = 2;
    cloud
}

#[test]
fn protected_instances_are_waited_for_then_refused_by_default() {
    let sim = SimGroup::new(protected_cloud(51));
    let err = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-protected", 2),
            None,
            &Cancel::new(),
        ))
        .expect_err("protected old instances stop the release");
    assert!(err.untouched, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("2 old instance(s)") && msg.contains("protected from scale in"),
        "{msg}"
    );
    assert!(msg.contains("scale_in_protected_instances"), "{msg}");
    assert!(sim.terminations().is_empty(), "nothing terminated");
    assert_eq!(sim.launch_now().encode(), "lt:lt-sim:1");
}

#[test]
fn protected_instances_are_left_alone_with_ignore_and_replaced_with_replace() {
    let sim = SimGroup::new(protected_cloud(52));
    let mut cfg = calm_release("rel-ignore", 2);
    cfg.settings.protected_instances = ProtectedInstances::Ignore;
    let out = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("completes without them");
    assert_eq!(out.replaced.len(), 4, "{out:?}");
    let images: Vec<String> = sim.live_images().into_values().collect();
    assert_eq!(images.iter().filter(|i| *i == OLD).count(), 2, "{images:?}");

    let sim = SimGroup::new(protected_cloud(53));
    cfg.settings.protected_instances = ProtectedInstances::Replace;
    let out = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("completes with them");
    assert_eq!(out.replaced.len(), 6);
    assert!(sim.live_images().values().all(|i| i == NEW));
}
