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
    run, LaunchMode, ProtectedInstances, ReleaseConfig, ReleaseError, StandbyInstances, Status,
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
    let mut release = release;
    // Drawn last, so that the draws above (and the seeds of earlier sweeps) stay as they were.
    // Capacity changed by others: an operator's SetDesiredCapacity or a scaling policy.
    if rng.u8(0..100) < 15 {
        for _ in 0..rng.u32(1..=3) {
            let at = Duration::from_secs(rng.u64(0..=1800));
            cloud.outside.push(if rng.bool() {
                Outside::SetDesired {
                    at,
                    desired: rng.u32(n / 2..=n + n / 2),
                }
            } else {
                Outside::Policy {
                    at,
                    change: rng.i32(1..=3) * if rng.bool() { 1 } else { -1 },
                }
            });
        }
    }
    // Users who suspend dynamic scaling for the release.
    if rng.u8(0..5) == 0 {
        release.suspend_processes.push("AlarmNotification".into());
    }
    // A health check grace period (the console's default is 300 s).
    if rng.u8(0..5) == 0 {
        cloud.grace = Duration::from_secs(rng.u64(0..=300));
        release.batch_timeout += cloud.grace;
    }
    // Old instances in Standby beside the group, each setting; an operator may return them (the
    // capacity they add is someone else's). Not beside other outside changes: both add to
    // desired capacity, and the check at the end keeps one of them apart.
    if rng.u8(0..100) < 8 && cloud.outside.is_empty() {
        cloud.standby = rng.u32(1..=3);
        release.settings.standby_instances = match rng.u8(0..3) {
            0 => StandbyInstances::Wait,
            1 => StandbyInstances::Replace,
            _ => StandbyInstances::Ignore,
        };
        if rng.bool() {
            cloud.standby_exit_at = Some(Duration::from_secs(rng.u64(0..=900)));
        }
    }
    // The group's instance maintenance policy (Min/MaxHealthyPercentage) on a fifth of the
    // seeds without outside changes or Standby (the surge cap below is checked against the
    // original desired capacity): the floor of a replace release without its own
    // min_healthy_percentage, and the bound of every surge. Some settings contradict it (a
    // surge under MaxHealthyPercentage 100, a floor below the policy's, a replace under
    // MinHealthyPercentage 100): refused before any instance changes.
    let floor = match own_maintenance_policy(&mut rng, &mut cloud, &release.settings) {
        Some(policy_floor) => policy_floor,
        None => floor,
    };
    // Weighted capacity (issue 13): the group's sizes, the batch size and the floor are
    // capacity units; each launch draws a weight. Beside Standby, ExitStandby adds the
    // instances' weights. Beside a maintenance policy, a surge's cap holds the group's overage
    // too (the planner's `surge_limit`), or the release is refused at plan.
    if rng.u8(0..100) < 20 {
        let weights = [vec![1, 2], vec![2, 4], vec![1, 3], vec![2]];
        cloud.weights = weights[rng.usize(0..weights.len())].clone();
    }
    Scenario {
        cloud,
        release,
        interrupt,
        broken,
        floor,
    }
}

/// Draws the instance maintenance policy of a seed (see `scenario`); returns the release's
/// floor under it, when it has one.
fn own_maintenance_policy(
    rng: &mut fastrand::Rng,
    cloud: &mut SimConfig,
    settings: &ReleaseSettings,
) -> Option<u32> {
    if !(rng.u8(0..5) == 0 && cloud.outside.is_empty() && cloud.standby == 0) {
        return None;
    }
    let policy = release_planner::MaintenancePolicy {
        min_healthy_percentage: if rng.u8(0..4) == 0 {
            0
        } else {
            rng.u32(50..=100)
        },
        max_healthy_percentage: if rng.u8(0..10) == 0 {
            100
        } else {
            rng.u32(101..=200)
        },
    };
    cloud.maintenance_policy = Some(policy);
    let n = u64::from(cloud.instances);
    Some(match settings.strategy {
        Strategy::Surge => cloud.instances,
        Strategy::Replace => {
            let pct = settings
                .min_healthy_percentage
                .unwrap_or(policy.min_healthy_percentage);
            (u64::from(pct) * n).div_ceil(100) as u32
        }
    })
}

/// What one seed did, for the sweep's summary.
#[derive(Debug, Default)]
struct Summary {
    applies: u32,
    complete: bool,
    rolled_back: bool,
    refused_to_plan: bool,
    /// Refused at a later apply for settings others' capacity changes made impossible: the
    /// group is on the old and the new image, and nothing changed in that apply.
    refused_midway: bool,
    virtual_secs: u64,
    dropped: u32,
    launches: u32,
    /// Capacity others set during the run (seen by a read) that the release kept.
    outside_kept: bool,
    /// Outside changes that raced an engine capacity call (not the engine's to keep).
    outside_raced: u32,
    /// Outside changes made during an apply that was killed: not checked (see below).
    outside_unchecked: bool,
    /// Calls that failed because the shared request bucket stayed empty through the SDK's
    /// retries (each then waited out by the engine).
    bucket_failures: u32,
    /// The group had old instances in Standby.
    standby: bool,
    /// The group had an instance maintenance policy, and the most instances in service or
    /// pending at once against the policy's cap.
    policy_peak: Option<(u32, u32)>,
    /// The group's capacity was weighted (units, not instances).
    weighted: bool,
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
        run_scenario(seed, sc).await
    })
}

/// One scenario on the current (paused) runtime: its applies, then its invariants.
async fn run_scenario(seed: u64, sc: Scenario) -> Result<Summary, String> {
    {
        let started = Instant::now();
        let sim = SimGroup::new(sc.cloud.clone());
        let original = sim.capacity();
        let mut summary = Summary::default();
        let mut last: Option<Result<Status, ReleaseError>> = None;
        // An apply left the record behind for the next one to continue (killed, or its restore
        // could not finish): what others set between the two is indistinguishable from the
        // surge the record's release left in the group.
        let mut continued = false;
        for apply in 0..8u32 {
            summary.applies += 1;
            // After three applies the weather clears: the next apply converges.
            sim.set_faults(apply < 3);
            let cancel = Cancel::new();
            let interrupt = if apply == 0 {
                sc.interrupt
            } else {
                Interrupt::None
            };
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
                continued = true;
                sim.kill_lock_owner();
                tokio::time::sleep(Duration::from_secs(300)).await;
                continue;
            };
            // The plugin process ends with the apply: a lock it could not delete is void.
            sim.kill_lock_owner();
            let result = result.map(|o| o.status);
            if let Err(e) = &result {
                // Throttling by the shared bucket alone (the random faults above stand for
                // longer trouble, and may fail an apply).
                if sim.bucket_failures() > 0
                    && e.what.contains("Rate exceeded")
                    && sc.cloud.exhausted == 0.0
                    && sc.cloud.read_outage.is_none()
                {
                    return Err(format!(
                        "seed {seed}: apply {apply} failed on throttling the engine should have waited out: {e}"
                    ));
                }
            }
            // A restore that could not finish keeps the record: the next apply finishes it.
            let restore_pending = matches!(&result, Err(e) if {
                let m = e.to_string();
                m.contains("is kept") || m.contains("ROLLBACK FAILED") || m.contains("could not")
            });
            continued |= restore_pending;
            let done = !restore_pending
                && match &result {
                    Ok(Status::Complete) => true,
                    Ok(Status::Checkpoint { .. }) => false,
                    // The planner refuses to take a healthy instance below the floor: on a group
                    // with no room (final, in whichever apply first gets that far — an earlier one
                    // may have ended on a lost answer), or while replacements still boot (a later
                    // apply goes on).
                    Err(e)
                        if e.what.contains("cannot schedule")
                            && e.replaced.is_empty()
                            && sim.live_images().values().all(|i| i == OLD) =>
                    {
                        summary.refused_to_plan = true;
                        true
                    }
                    // A weighted group whose desired capacity others lowered until the floor
                    // leaves less room than its largest instance: refused before any change,
                    // naming the settings to change (PlanError::FloorBelowLargestWeight).
                    Err(e)
                        if e.untouched
                            && e.what.contains("needs room below desired capacity")
                            && !sc.cloud.outside.is_empty() =>
                    {
                        summary.refused_midway = true;
                        true
                    }
                    // No rollback target: refused before any change, for good.
                    Err(e) if e.untouched && e.what.contains("rollback target") => {
                        summary.refused_to_plan = true;
                        true
                    }
                    // Old instances kept in Standby: refused before any change, until someone
                    // returns them (an operator's ExitStandby past max size is refused too).
                    Err(e)
                        if e.untouched
                            && e.what.contains("in Standby")
                            && sc
                                .cloud
                                .standby_exit_at
                                .is_none_or(|at| started.elapsed() >= at)
                            && sim.standby_now() > 0 =>
                    {
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
        summary.standby = sc.cloud.standby > 0;
        summary.weighted = !sc.cloud.weights.is_empty();
        let fail = |what: String| {
            let events = sim.events();
            let keep = if std::env::var("SIM_SEED").is_ok() {
                events.len()
            } else {
                60
            };
            let events = events[events.len().saturating_sub(keep)..].join("\n    ");
            Err(format!(
                "seed {seed}: {what}\n  events (last 60; all with SIM_SEED):\n    {events}\n  scenario: {} instances, min {} max {}, {:?} batch {:?} min_healthy {:?}, warmup {}s, pause {}s, checkpoints {:?}, health {:?}, elb {}, rollback {}, broken {}, never_healthy {:.3}, retried {:.2}, exhausted {:.4}, interrupt {:?}, weights {:?}\n  last result: {:?}\n  calls: {:?}",
                sc.cloud.instances, sc.cloud.min, sc.cloud.max, sc.release.settings.strategy,
                sc.release.settings.batch_size, sc.release.settings.min_healthy_percentage,
                sc.release.settings.instance_warmup_secs, sc.release.settings.pause_between_batches_secs,
                sc.release.settings.checkpoints, sc.release.health, sc.cloud.elb,
                sc.release.auto_rollback, sc.broken, sc.cloud.never_healthy, sc.cloud.retried,
                sc.cloud.exhausted, sc.interrupt, sc.cloud.weights,
                last.as_ref().map(|r| r.as_ref().map_err(|e| e.to_string())),
                sim.calls()
            ))
        };

        // 0. Traffic: no request dropped, every old instance through its termination hook, and
        //    launches bounded (no release goes round in circles). Instances still draining
        //    finish first.
        let batch = sc.release.settings.batch_size.per_batch(sc.cloud.instances);
        let most = summary.applies * launch_bound(sc.cloud.instances, batch)
            + sc.cloud.instances
            + sim.outside_added()
            + sim.standby_returned();
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
            return fail(format!(
                "{} instance(s) stopped with requests in flight",
                summary.dropped
            ));
        }
        if sc.cloud.termination_hook.is_some() && !sim.unhooked().is_empty() {
            return fail(format!(
                "left without the termination hook: {:?}",
                sim.unhooked()
            ));
        }
        // 1. The floor, at every step of every apply.
        // Capacity others took away lowers it by as much.
        let floor = sc.floor.saturating_sub(sim.outside_taken());
        let lowest = sim.lowest_healthy().expect("observed");
        if lowest.healthy < floor {
            return fail(format!(
                "healthy in-service capacity fell to {} (< floor {floor}) after {} at t={}s",
                lowest.healthy, lowest.after, lowest.at_secs
            ));
        }
        // 1b. The surge cap of the group's instance maintenance policy: instances in service or
        //     pending never above MaxHealthyPercentage of desired capacity (rounded up, and at
        //     least one above it, as the planner's surge room allows), in units. A weighted
        //     group launches until desired capacity is covered, even past it by up to its
        //     largest weight less one: a surge's cap holds that overage too; a replace release
        //     leaves desired as it is, so the overage is the group's own.
        if let Some(policy) = sc.cloud.maintenance_policy {
            let n = u64::from(original.0);
            let cap = ((u64::from(policy.max_healthy_percentage) * n).div_ceil(100) as u32)
                .max(original.0 + 1);
            let overage = sc.cloud.weights.iter().max().map_or(0, |w| w - 1);
            let cap = match sc.release.settings.strategy {
                Strategy::Surge => cap,
                Strategy::Replace => cap.max(original.0 + overage),
            };
            summary.policy_peak = Some((sim.peak_live(), cap));
            if sim.peak_live() > cap {
                return fail(format!(
                    "{} instances in service or pending at once, above the maintenance policy's cap {cap} (MaxHealthyPercentage {} of desired {})",
                    sim.peak_live(),
                    policy.max_healthy_percentage,
                    original.0
                ));
            }
        }
        // 2. The group's own settings are back, with the desired capacity others set during
        //    the release kept; nothing of the release is left on it. When an apply left the
        //    record for the next to continue, a change others made in between cannot be told
        //    from the record's own surge (counted, not checked).
        summary.outside_raced = sim.outside_raced();
        summary.bucket_failures = sim.bucket_failures();
        let expected_desired = match sim.outside_desired() {
            Some(d) if continued => {
                let _ = d;
                summary.outside_unchecked = true;
                sim.capacity().0
            }
            Some(d) => {
                summary.outside_kept = true;
                d.clamp(original.1, original.2)
            }
            // Returned from Standby by the release: the group's own capacity from then on.
            None => original.0 + sim.standby_returned(),
        };
        let expected = (expected_desired, original.1, original.2);
        if sim.capacity() != expected {
            return fail(format!(
                "capacity {:?} after the release, expected {expected:?} (before it: {original:?}, set by others: {:?})",
                sim.capacity(),
                sim.outside_desired()
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
            return fail(format!(
                "processes left suspended: {:?}",
                sim.suspended_now()
            ));
        }
        // 3. Never the same instance terminated twice.
        if let Some((id, n)) = sim.terminations().into_iter().find(|(_, n)| *n > 1) {
            return fail(format!("{id} terminated {n} times"));
        }
        // 4. The outcome: complete on the new image, or (broken image) back on the old one.
        let live = sim.live_images();
        let (desired, _, _) = expected;
        match last.as_ref() {
            Some(Ok(Status::Complete)) if sc.broken => {
                return fail(
                    "a release onto a broken image completed (instances passed unchecked?)".into(),
                );
            }
            Some(Ok(Status::Complete)) => {
                summary.complete = true;
                // With weights the group launches until its units cover desired capacity,
                // past it by less than one instance at most.
                let units = sim.live_units();
                let overage = sc.cloud.weights.iter().max().map_or(1, |w| *w);
                let sized = match sc.cloud.weights.is_empty() {
                    true => live.len() as u32 == desired,
                    false => units >= desired && units < desired + overage,
                };
                if !sized || live.values().any(|i| i != NEW) {
                    return fail(format!(
                        "complete, but the group runs {live:?} ({units} units, desired {desired})"
                    ));
                }
                // Its warm pool too: no later scale-out may bring the old image back.
                let pool = sim.pool_images();
                if pool.values().any(|i| i != NEW) {
                    return fail(format!("complete, but the warm pool holds {pool:?}"));
                }
            }
            Some(Err(_)) if summary.refused_midway => {
                if live.values().any(|i| i != OLD && i != NEW) {
                    return fail(format!("refused half way, on a third image: {live:?}"));
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
            other => {
                // Only a release whose new instances could never all be healthy may end
                // without completing.
                if sc.cloud.never_healthy == 0.0 {
                    return fail(format!("did not converge in 8 applies: {other:?}"));
                }
            }
        }
        Ok(summary)
    }
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
    let (mut kept, mut raced, mut unchecked) = (0, 0, 0);
    let mut standby = 0;
    // Seeds with a maintenance policy; of them, how many surged right up to its cap.
    let (mut policy, mut at_cap) = (0, 0);
    let (mut weighted, mut weighted_policy, mut weighted_standby) = (0, 0, 0);
    let seeds = seeds();
    for &seed in &seeds {
        match run_seed(seed) {
            Ok(s) => {
                complete += u32::from(s.complete);
                rolled_back += u32::from(s.rolled_back);
                refused += u32::from(s.refused_to_plan || s.refused_midway);
                applies += s.applies;
                virtual_secs += s.virtual_secs;
                dropped += s.dropped;
                launches += s.launches;
                kept += u32::from(s.outside_kept);
                raced += s.outside_raced;
                unchecked += u32::from(s.outside_unchecked);
                standby += u32::from(s.standby);
                if let Some((peak, cap)) = s.policy_peak {
                    policy += 1;
                    at_cap += u32::from(peak == cap);
                }
                weighted += u32::from(s.weighted);
                weighted_policy += u32::from(s.weighted && s.policy_peak.is_some());
                weighted_standby += u32::from(s.weighted && s.standby);
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "rollout::sim: {} seeds, {} failed; {complete} complete, {rolled_back} rolled back, {refused} refused by the planner; {applies} applies, {:.1} virtual hours; {launches} launches, {dropped} instances stopped with requests in flight; outside capacity kept in {kept} seeds ({unchecked} more not checked: a killed or unfinished apply in between, {raced} changes raced an engine call); {standby} seeds with old instances in Standby; {policy} seeds with an instance maintenance policy ({at_cap} of them surged up to its cap); {weighted} weighted groups ({weighted_policy} beside a maintenance policy, {weighted_standby} beside Standby)",
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

/// A group of 12 capacity units whose instances weigh 1 or 2 (drawn per launch).
fn weighted_cloud(seed: u64) -> SimConfig {
    let mut cloud = SimConfig::new(seed, 12);
    cloud.max = 24;
    cloud.weights = vec![1, 2];
    cloud
}

#[test]
fn a_weighted_surge_release_counts_units_and_keeps_every_unit_serving() {
    for seed in 0..20 {
        let sim = SimGroup::new(weighted_cloud(seed));
        let cfg = calm_release("rel-weighted", 4);
        let out = rt()
            .block_on(run(&sim, &cfg, None, &Cancel::new()))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", sim.events().join("\n")));
        assert_eq!(out.status, Status::Complete, "seed {seed}");
        assert!(sim.live_images().values().all(|i| i == NEW), "seed {seed}");
        let units = sim.live_units();
        assert!(
            (12..14).contains(&units),
            "seed {seed}: {units} units for 12"
        );
        assert_eq!(sim.capacity(), (12, 12, 24), "seed {seed}");
        let lowest = sim.lowest_healthy().unwrap();
        assert!(lowest.healthy >= 12, "seed {seed}: {lowest:?}");
    }
}

#[test]
fn a_weighted_replace_release_holds_its_floor_in_units() {
    for seed in 0..20 {
        let sim = SimGroup::new(weighted_cloud(seed));
        let mut cfg = calm_release("rel-weighted", 12);
        cfg.settings.strategy = Strategy::Replace;
        cfg.settings.min_healthy_percentage = Some(75);
        let out = rt()
            .block_on(run(&sim, &cfg, None, &Cancel::new()))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", sim.events().join("\n")));
        assert_eq!(out.status, Status::Complete, "seed {seed}");
        assert!(sim.live_images().values().all(|i| i == NEW), "seed {seed}");
        let lowest = sim.lowest_healthy().unwrap();
        assert!(
            lowest.healthy >= 9,
            "seed {seed}: 75% of 12 units: {lowest:?}"
        );
        assert!(
            lowest.healthy < 12,
            "seed {seed}: the release used its room: {lowest:?}"
        );
    }
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
fn a_template_moved_back_after_the_last_launch_fails_the_release_at_its_end() {
    // One batch of all ten: its instances launch within seconds, then another tool points the
    // group back at the old template while they warm up. No batch sees it; the release ends
    // with every instance on the new image, but a scale-out would launch the old one.
    let mut cloud = SimConfig::new(22, 10);
    cloud.max = 20;
    cloud.boot = (Duration::from_secs(5), Duration::from_secs(10));
    cloud.template_reverted_at = Some(Duration::from_secs(30));
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-revert-late", 10);
    cfg.settings.instance_warmup_secs = 60;
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("the group no longer launches the release's setting");
    let msg = err.to_string();
    assert!(msg.contains("changed by someone else"), "{msg}");
    assert!(msg.contains("would launch from that setting"), "{msg}");
    assert!(
        sim.live_images().values().all(|i| i == NEW),
        "{:?}",
        sim.events()
    );
    assert_eq!(sim.launch_now().encode(), "lt:lt-sim:1", "moved back");
    // The next apply points the group back at the new image.
    rt().block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("nothing left to replace; the launch setting is the release's again");
    assert_ne!(sim.launch_now().encode(), "lt:lt-sim:1");
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
fn a_warm_pool_is_refreshed_after_the_switch_and_later_scale_outs_bring_only_the_new_image() {
    let mut cloud = SimConfig::new(22, 6);
    cloud.max = 12;
    cloud.warm_pool = 4;
    let sim = SimGroup::new(cloud);
    let before = sim.pool_images();
    assert_eq!(before.len(), 4);
    assert!(before.values().all(|i| i == OLD));
    let cfg = calm_release("rel-warm", 2);
    let out = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("the pool's old instances are refreshed, not drawn");
    assert_eq!(out.status, Status::Complete);
    assert!(
        sim.live_images().values().all(|i| i == NEW),
        "{:?}",
        sim.events()
    );
    assert_eq!(sim.live_images().len(), 6);
    // Every old pool instance was terminated in the pool, which refilled from the new setting.
    let after = sim.pool_images();
    assert_eq!(after.len(), 4);
    assert!(after.values().all(|i| i == NEW), "{after:?}");
    assert!(before.keys().all(|id| !after.contains_key(id)));
    // No batch counted a pool instance of the old image as progress; none was drawn.
    assert!(
        !sim.events()
            .iter()
            .any(|e| e.contains("drawn from the warm pool") && e.contains(OLD)),
        "{:?}",
        sim.events()
    );
    assert!(sim.launches() <= launch_bound(6, 2), "{:?}", sim.events());
    // A scale-out after the release draws from the pool: the new image only.
    rt().block_on(async {
        tokio::time::sleep(Duration::from_secs(600)).await;
        sim.set_capacity(10, 1, 12).await.unwrap();
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
    let live = sim.live_images();
    assert_eq!(live.len(), 10);
    assert!(live.values().all(|i| i == NEW), "{live:?}");
    assert!(sim
        .events()
        .iter()
        .any(|e| e.contains("drawn from the warm pool")));
}

#[test]
fn a_rollback_refreshes_the_warm_pool_back_onto_the_previous_image() {
    let mut cloud = SimConfig::new(24, 6);
    cloud.max = 12;
    cloud.warm_pool = 3;
    cloud.broken_images.insert(NEW.into());
    let sim = SimGroup::new(cloud);
    let cfg = calm_release("rel-warm-back", 2);
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("a broken image fails");
    let msg = err.to_string();
    assert!(msg.contains("the group launches ami-old again"), "{msg}");
    assert!(msg.contains("warm pool refreshed onto ami-old"), "{msg}");
    assert!(
        sim.live_images().values().all(|i| i == OLD),
        "{:?}",
        sim.events()
    );
    let pool = sim.pool_images();
    assert_eq!(pool.len(), 3);
    assert!(pool.values().all(|i| i == OLD), "{pool:?}");
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

/// The record is written from the group as the wait for protection left it: desired capacity an
/// operator set during the wait is the group's own (a killed apply's successor restores what the
/// record says), and min and max are as they are then.
#[test]
fn capacity_set_during_the_protection_wait_is_what_the_record_keeps() {
    let mut cloud = protected_cloud(59);
    cloud.min = 2;
    cloud.protection_removed_at = Some(Duration::from_secs(240));
    cloud.outside = vec![Outside::SetDesired {
        at: Duration::from_secs(60),
        desired: 8,
    }];
    let sim = SimGroup::new(cloud);
    let out = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-wait-desired", 2),
            None,
            &Cancel::new(),
        ))
        .expect("completes once the protection is gone");
    assert_eq!(out.status, Status::Complete);
    let first = sim
        .tag_writes()
        .into_iter()
        .find(|(k, _)| k == RECORD_TAG)
        .map(|(_, v)| crate::rollout::record::Record::parse(&v).expect("a record"))
        .expect("a record was written");
    assert_eq!(
        (first.desired, first.min, first.max),
        (8, 2, 12),
        "{:?}",
        sim.events()
    );
    assert_eq!(sim.capacity(), (8, 2, 12), "{:?}", sim.events());
    let live = sim.live_images();
    assert_eq!(live.len(), 8, "{live:?}");
    assert!(live.values().all(|i| i == NEW), "{live:?}");
}

/// Protected and Standby instances are waited for together, under one `batch_timeout`: the
/// refusal comes when it runs out, not after one wait and then another.
#[test]
fn protection_and_standby_are_waited_for_under_one_deadline() {
    let mut cloud = protected_cloud(60);
    cloud.standby = 2;
    cloud.protection_removed_at = Some(Duration::from_secs(480));
    let sim = SimGroup::new(cloud);
    let cfg = calm_release("rel-one-wait", 2);
    let (err, waited) = rt().block_on(async {
        let started = tokio::time::Instant::now();
        let err = run(&sim, &cfg, None, &Cancel::new()).await;
        (err, started.elapsed())
    });
    let err = err.expect_err("the Standby instances stay");
    assert!(err.untouched, "{err}");
    assert!(err.to_string().contains("in Standby"), "{err}");
    assert!(
        waited <= cfg.batch_timeout + Duration::from_secs(30),
        "refused after {waited:?}, batch_timeout {:?}",
        cfg.batch_timeout
    );
    assert!(sim.terminations().is_empty(), "nothing terminated");
    assert!(
        !sim.tag_writes().iter().any(|(k, _)| k == RECORD_TAG),
        "no record: {:?}",
        sim.tag_writes()
    );
}

/// A read at a batch's start throttled for longer than the batch timeout (and longer than one
/// call's patience) is waited out: the release completes, no batch fails.
#[test]
fn a_read_throttled_past_the_batch_timeout_does_not_fail_the_batch() {
    let mut cloud = SimConfig::new(62, 10);
    cloud.max = 20;
    cloud.boot = (Duration::from_secs(30), Duration::from_secs(30));
    // During the pause after the first batch, until well after its end.
    cloud.throttled_reads = Some((Duration::from_secs(300), Duration::from_secs(1500)));
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-throttled-read", 5);
    cfg.settings.pause_between_batches_secs = 600;
    let out = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("the throttled reads are waited out");
    assert_eq!(out.status, Status::Complete);
    assert_eq!(out.batches.len(), 2, "{out:?}");
    assert!(sim.live_images().values().all(|i| i == NEW));
    assert!(
        sim.failures() > 10,
        "reads were throttled: {}",
        sim.failures()
    );
}

/// A release the planner refuses for the group (here a surge under the group's instance
/// maintenance policy MaxHealthyPercentage 100) stops before the record and the launch switch:
/// switched, the failure path took the refusal for a failed batch and rolled back onto a
/// schedule refused just the same ("ROLLBACK FAILED", found by the sweep).
#[test]
fn a_release_the_policy_refuses_changes_nothing() {
    let mut cloud = SimConfig::new(63, 6);
    cloud.max = 12;
    cloud.maintenance_policy = Some(release_planner::MaintenancePolicy {
        min_healthy_percentage: 90,
        max_healthy_percentage: 100,
    });
    let sim = SimGroup::new(cloud);
    let err = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-policy", 2),
            None,
            &Cancel::new(),
        ))
        .expect_err("refused");
    assert!(err.untouched, "{err}");
    assert!(
        err.to_string().contains("MaxHealthyPercentage 100"),
        "{err}"
    );
    assert!(!err.to_string().contains("ROLLBACK"), "{err}");
    assert_eq!(sim.launch_now().encode(), "lt:lt-sim:1");
    assert_eq!(sim.calls().get("CreateLaunchTemplateVersion"), None);
    assert!(sim.tag_map().is_empty(), "{:?}", sim.tag_map());
    assert_eq!(sim.capacity(), (6, 6, 12));
}

/// A batch's terminations overlap, five calls at a time: ten calls of a second each take two
/// rounds, and each instance is terminated once.
#[test]
fn a_batch_is_terminated_five_calls_at_a_time() {
    let mut cloud = SimConfig::new(64, 12);
    cloud.max = 24;
    cloud.latency = (Duration::from_secs(1), Duration::from_secs(1));
    let sim = SimGroup::new(cloud);
    let elapsed = rt().block_on(async {
        let snap = sim.snapshot().await.expect("a calm read");
        let ids: Vec<String> = snap
            .instances
            .iter()
            .take(10)
            .map(|i| i.id.clone())
            .collect();
        let started = tokio::time::Instant::now();
        sim.remove(&ids, false).await.expect("removed");
        started.elapsed()
    });
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert_eq!(sim.terminations().len(), 10);
    assert!(sim.terminations().values().all(|n| *n == 1));
    assert_eq!(
        sim.calls().get("TerminateInstanceInAutoScalingGroup"),
        Some(&10)
    );
}

/// Under sustained throttling a large batch's removal gets through: each throttled termination
/// is repeated on its own. (Repeated whole, some call of the 60 was throttled on every pass,
/// until the patience ran out.)
#[test]
fn a_large_batch_is_removed_under_sustained_throttling() {
    use crate::rollout::patient::Patient;
    let mut cloud = SimConfig::new(65, 60);
    cloud.max = 120;
    cloud.throttle = Some(TokenBucket::new(5, 1.0));
    let sim = SimGroup::new(cloud);
    let result = rt().block_on(async {
        let snap = sim.snapshot().await.expect("a read");
        let ids: Vec<String> = snap.instances.iter().map(|i| i.id.clone()).collect();
        Patient::new(&sim).remove(&ids, false).await
    });
    result.expect("every instance terminated");
    assert_eq!(sim.terminations().len(), 60);
    assert!(sim.terminations().values().all(|n| *n == 1));
}

/// 6 instances in service and 2 old ones in Standby beside them.
fn standby_cloud(seed: u64) -> SimConfig {
    let mut cloud = SimConfig::new(seed, 6);
    cloud.max = 12;
    cloud.standby = 2;
    cloud
}

fn in_standby(sim: &SimGroup) -> Vec<String> {
    let snap = rt().block_on(sim.snapshot()).expect("a calm read");
    snap.instances
        .iter()
        .filter(|i| i.lifecycle_state == LifecycleState::Standby)
        .map(|i| i.image_id.clone())
        .collect()
}

#[test]
fn standby_instances_are_waited_for_then_refused_by_default() {
    let sim = SimGroup::new(standby_cloud(54));
    let err = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-standby", 2),
            None,
            &Cancel::new(),
        ))
        .expect_err("old instances in Standby stop the release");
    assert!(err.untouched, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("2 old instance(s)") && msg.contains("in Standby") && msg.contains("10m"),
        "{msg}"
    );
    assert!(msg.contains("standby_instances = \"replace\""), "{msg}");
    assert!(sim.terminations().is_empty(), "nothing terminated");
    assert_eq!(sim.calls().get("ExitStandby"), None);
    assert_eq!(sim.launch_now().encode(), "lt:lt-sim:1");
    assert_eq!(in_standby(&sim), vec![OLD, OLD]);
}

#[test]
fn standby_instances_returned_by_an_operator_while_waiting_are_replaced() {
    let mut cloud = standby_cloud(55);
    cloud.standby_exit_at = Some(Duration::from_secs(90));
    let sim = SimGroup::new(cloud);
    let out = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-standby-back", 2),
            None,
            &Cancel::new(),
        ))
        .expect("completes once they are back");
    assert_eq!(out.replaced.len(), 8, "{out:?}");
    assert!(sim.live_images().values().all(|i| i == NEW));
    // ExitStandby added them to desired capacity: the group's own capacity from then on.
    assert_eq!(sim.capacity(), (8, 6, 12));
}

#[test]
fn standby_instances_are_returned_and_replaced_with_replace_and_left_with_ignore() {
    let sim = SimGroup::new(standby_cloud(56));
    let mut cfg = calm_release("rel-standby-replace", 2);
    cfg.settings.standby_instances = StandbyInstances::Replace;
    let out = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("completes with them");
    assert_eq!(sim.calls().get("ExitStandby"), Some(&1));
    assert_eq!(out.replaced.len(), 8, "{out:?}");
    let live = sim.live_images();
    assert_eq!(live.len(), 8, "{live:?}");
    assert!(live.values().all(|i| i == NEW), "{live:?}");
    assert_eq!(sim.capacity(), (8, 6, 12));
    assert!(in_standby(&sim).is_empty());
    assert_eq!(sim.lowest_healthy().unwrap().healthy, 6);

    let sim = SimGroup::new(standby_cloud(57));
    cfg.settings.standby_instances = StandbyInstances::Ignore;
    let out = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("completes without them");
    assert_eq!(out.replaced.len(), 6, "{out:?}");
    assert_eq!(sim.calls().get("ExitStandby"), None);
    assert_eq!(in_standby(&sim), vec![OLD, OLD]);
    assert_eq!(sim.capacity(), (6, 6, 12));
}

#[test]
fn standby_instances_that_would_take_desired_above_max_are_not_returned() {
    let mut cloud = standby_cloud(58);
    cloud.max = 7;
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-standby-max", 2);
    cfg.settings.standby_instances = StandbyInstances::Replace;
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("no room for them");
    assert!(err.untouched, "{err}");
    assert!(
        err.to_string()
            .contains("to 8, above the group's max size 7"),
        "{err}"
    );
    assert_eq!(sim.calls().get("ExitStandby"), None);
    assert_eq!(sim.capacity(), (6, 6, 7));
}

#[test]
fn standby_instances_of_a_weighted_group_are_counted_in_units_against_max_size() {
    // Six units of weight-2 instances and two more (four units) in Standby, max 9: returning
    // them would take desired capacity to 10 units, though they are only two instances.
    let mut cloud = standby_cloud(59);
    cloud.weights = vec![2];
    cloud.max = 9;
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-standby-units", 2);
    cfg.settings.standby_instances = StandbyInstances::Replace;
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("no room for their units");
    assert!(err.untouched, "{err}");
    assert!(
        err.to_string()
            .contains("to 10, above the group's max size 9"),
        "{err}"
    );
    assert_eq!(sim.calls().get("ExitStandby"), None);
    // With room for their units they are returned, and desired capacity rises by as much.
    let mut cloud = standby_cloud(59);
    cloud.weights = vec![2];
    cloud.max = 14;
    let sim = SimGroup::new(cloud);
    rt().block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("returned and replaced");
    assert_eq!(sim.calls().get("ExitStandby"), Some(&1));
    assert_eq!(sim.capacity().0, 10, "6 units and the 4 returned");
    assert!(sim.live_images().values().all(|i| i == NEW));
}

/// A group of 10 with room to surge, released in batches of 2 (calm otherwise).
fn outside_cloud(seed: u64, outside: Vec<Outside>) -> SimConfig {
    let mut cloud = SimConfig::new(seed, 10);
    cloud.min = 2;
    cloud.max = 20;
    cloud.boot = (Duration::from_secs(20), Duration::from_secs(40));
    cloud.outside = outside;
    cloud
}

#[test]
fn an_operators_capacity_change_mid_release_is_kept() {
    let sim = SimGroup::new(outside_cloud(
        61,
        vec![Outside::SetDesired {
            at: Duration::from_secs(100),
            desired: 14,
        }],
    ));
    let out = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-operator", 2),
            None,
            &Cancel::new(),
        ))
        .expect("completes");
    assert_eq!(out.status, Status::Complete);
    assert_eq!(sim.outside_raced(), 0, "{:?}", sim.events());
    assert_eq!(sim.outside_desired(), Some(14), "{:?}", sim.events());
    assert_eq!(sim.capacity(), (14, 2, 20), "{:?}", sim.events());
    let live = sim.live_images();
    assert_eq!(live.len(), 14, "{live:?}");
    assert!(live.values().all(|i| i == NEW), "{live:?}");
}

#[test]
fn a_scaling_policy_mid_release_is_kept_unless_alarm_notification_is_suspended() {
    let policy = || {
        vec![Outside::Policy {
            at: Duration::from_secs(100),
            change: 3,
        }]
    };
    let sim = SimGroup::new(outside_cloud(62, policy()));
    rt().block_on(run(
        &sim,
        &calm_release("rel-policy", 2),
        None,
        &Cancel::new(),
    ))
    .expect("completes");
    // The policy added 3 to the 12 of the surge: 15 is what it set, and what is kept (the
    // policy itself scales in again when its alarm says so).
    assert_eq!(sim.capacity().0, 15, "{:?}", sim.events());
    assert_eq!(sim.outside_desired(), Some(15));
    assert!(sim.live_images().values().all(|i| i == NEW));

    let sim = SimGroup::new(outside_cloud(63, policy()));
    let mut cfg = calm_release("rel-policy-off", 2);
    cfg.suspend_processes = vec!["AlarmNotification".into()];
    rt().block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect("completes");
    assert_eq!(sim.capacity().0, 10, "the policy was not invoked");
    assert!(sim.events().iter().any(|e| e.contains("not invoked")));
}

#[test]
fn outside_capacity_is_kept_through_a_rollback() {
    let mut cloud = outside_cloud(
        64,
        vec![
            Outside::SetDesired {
                at: Duration::from_secs(10),
                desired: 12,
            },
            Outside::Policy {
                at: Duration::from_secs(15),
                change: -1,
            },
        ],
    );
    cloud.broken_images.insert(NEW.into());
    let sim = SimGroup::new(cloud);
    let err = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-outside-back", 2),
            None,
            &Cancel::new(),
        ))
        .expect_err("a broken image fails");
    assert!(err.to_string().contains("launches ami-old again"), "{err}");
    assert_eq!(sim.outside_raced(), 0, "{:?}", sim.events());
    assert_eq!(sim.capacity().0, 11, "{err}\n{:?}", sim.events());
    assert!(
        err.to_string()
            .contains("set to 11 by someone else during it, kept"),
        "the restore says it kept them: {err}"
    );
}

#[test]
fn a_running_instance_refresh_stops_the_release_before_any_change() {
    let mut cloud = SimConfig::new(65, 6);
    cloud.max = 12;
    cloud.refresh = Some((
        "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b".into(),
        "InProgress".into(),
    ));
    let sim = SimGroup::new(cloud);
    let err = rt()
        .block_on(run(
            &sim,
            &calm_release("rel-refresh", 2),
            None,
            &Cancel::new(),
        ))
        .expect_err("refused");
    assert!(err.untouched, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("Instance Refresh")
            && msg.contains("08b91cf7-8fa6-48af-b6a6-d227f40f1b9b")
            && msg.contains("InProgress")
            && msg.contains("cancel-instance-refresh"),
        "{msg}"
    );
    let calls = sim.calls();
    let mutating = [
        "CreateOrUpdateTags",
        "UpdateAutoScalingGroup",
        "SuspendProcesses",
        "CreateLaunchTemplateVersion",
        "TerminateInstanceInAutoScalingGroup",
    ];
    assert!(
        mutating.iter().all(|op| !calls.contains_key(op)),
        "{calls:?}"
    );
    assert!(sim.tag_map().is_empty());
}

#[test]
fn an_instance_unchecked_in_its_grace_period_does_not_pass_its_batch() {
    let mut cloud = SimConfig::new(66, 6);
    cloud.max = 12;
    cloud.boot = (Duration::from_secs(20), Duration::from_secs(30));
    // Every new instance fails its checks, which the group runs only after 300 s in service.
    cloud.broken_images.insert(NEW.into());
    cloud.grace = Duration::from_secs(300);
    cloud.stuck_share = 0.0;
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-grace", 2);
    cfg.batch_timeout = Duration::from_secs(900);
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("instances the group never checked are no proof of health");
    let msg = err.to_string();
    assert!(msg.contains("batch 1 of 3 failed"), "{msg}");
    assert!(msg.contains("launches ami-old again"), "{msg}");
    assert!(sim.live_images().values().all(|i| i == OLD));
}

#[test]
fn instances_left_on_a_broken_image_by_a_killed_apply_are_checked_before_the_next_batch() {
    // Every new instance fails its checks, which the group runs only 300 s after it entered
    // service. The first apply is killed while batch 1's four new instances are still in their
    // grace period, reported Healthy unchecked. Counted as healthy, they would let the next
    // apply's first batch take out four more old instances that serve (10 - 4 - 4 = 2 < 6).
    let mut cloud = SimConfig::new(505, 10);
    cloud.max = 20;
    cloud.boot = (Duration::from_secs(20), Duration::from_secs(30));
    cloud.broken_images.insert(NEW.into());
    cloud.grace = Duration::from_secs(300);
    cloud.stuck_share = 0.0;
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-unchecked", 4);
    cfg.settings.strategy = Strategy::Replace;
    cfg.settings.min_healthy_percentage = Some(60);
    cfg.settings.instance_warmup_secs = 0;
    cfg.batch_timeout = Duration::from_secs(900);
    let err = rt().block_on(async {
        let cancel = Cancel::new();
        tokio::select! {
            biased;
            r = run(&sim, &cfg, None, &cancel) => panic!("the first apply was to be killed: {r:?}"),
            _ = tokio::time::sleep(Duration::from_secs(120)) => {}
        }
        assert_eq!(
            sim.present_on(NEW),
            4,
            "batch 1 was under way: {:?}",
            sim.events()
        );
        sim.kill_lock_owner();
        run(&sim, &cfg, None, &Cancel::new())
            .await
            .expect_err("the instances left on the broken image fail their checks")
    });
    let msg = err.to_string();
    assert!(
        msg.contains("before any instance was replaced: the 4 instance(s) already on ami-new"),
        "{msg}"
    );
    assert!(msg.contains("launches ami-old again"), "{msg}");
    assert!(sim.live_images().values().all(|i| i == OLD));
    let lowest = sim.lowest_healthy().expect("a lowest point");
    assert!(lowest.healthy >= 6, "the floor held: {lowest:?}");
}

#[test]
fn a_failed_rollback_batch_is_cleaned_up_before_healthy_instances() {
    // Batch 1 onto the new image succeeds; from then on every launch fails its health checks,
    // unchecked for the 300 s grace period (the group reports an instance Healthy until then,
    // if it gets in service at all): batch 2 fails, and so does the rollback's first batch. Its
    // instances look as healthy as the proven ones on the new image; they are the ones to go.
    // Seed 70: without the rollback's cleanup, the restore's surplus removal took a proven
    // instance on the new image before an unproven one of the rollback (healthy 7 < 8).
    let mut cloud = SimConfig::new(70, 8);
    cloud.max = 16;
    cloud.boot = (Duration::from_secs(10), Duration::from_secs(60));
    cloud.grace = Duration::from_secs(300);
    cloud.broken_from = Some(Duration::from_secs(100));
    let sim = SimGroup::new(cloud);
    let mut cfg = calm_release("rel-rollback-fails", 2);
    cfg.settings.instance_warmup_secs = 0;
    cfg.batch_timeout = Duration::from_secs(340);
    let err = rt()
        .block_on(run(&sim, &cfg, None, &Cancel::new()))
        .expect_err("both the release and its rollback fail");
    let msg = err.to_string();
    let lowest = sim.lowest_healthy().unwrap();
    assert!(msg.contains("ROLLBACK FAILED"), "{msg}");
    assert!(
        msg.matches("terminated the failed batch's new instances")
            .count()
            == 2,
        "the release's and the rollback's failed batch: {msg}"
    );
    assert!(
        lowest.healthy >= 8,
        "healthy capacity fell to {lowest:?}: {msg}\n{:#?}",
        sim.events()
    );
}

#[test]
fn parallel_releases_sharing_a_throttled_account_complete_without_a_failed_batch() {
    let bucket = TokenBucket::new(4, 2.0);
    let sims: Vec<SimGroup> = (0..6u64)
        .map(|k| {
            let mut cloud = SimConfig::new(70 + k, 8);
            cloud.group_name = format!("sim-{k}");
            cloud.max = 16;
            cloud.latency = (Duration::from_millis(5), Duration::from_millis(20));
            cloud.throttle = Some(bucket.clone());
            SimGroup::new(cloud)
        })
        .collect();
    let results = rt().block_on(async {
        let runs = sims.iter().enumerate().map(|(k, sim)| async move {
            let mut cfg = calm_release(&format!("rel-par{k}"), 2);
            cfg.settings.instance_warmup_secs = 0;
            run(sim, &cfg, None, &Cancel::new()).await
        });
        futures_join_all(runs).await
    });
    assert!(bucket.throttled() > 0, "the account was throttled");
    for (k, r) in results.into_iter().enumerate() {
        let out = r.unwrap_or_else(|e| panic!("release {k}: {e}"));
        assert_eq!(out.status, Status::Complete);
        assert!(sims[k].live_images().values().all(|i| i == NEW));
        assert_eq!(sims[k].capacity(), (8, 8, 16));
    }
}

#[test]
fn throttling_slows_the_polls_until_an_answer_is_not_throttled() {
    use crate::rollout::patient::{Patient, PATIENCE};
    // One token, refilled once an hour: the second call stays throttled past its patience.
    let mut cloud = SimConfig::new(71, 2);
    cloud.throttle = Some(TokenBucket::new(1, 1.0 / 3600.0));
    let sim = SimGroup::new(cloud);
    let patient = Patient::new(&sim);
    rt().block_on(async {
        assert_eq!(patient.throttle().pacing, Duration::ZERO);
        patient.poll().await.expect("the bucket's one token");
        let started = Instant::now();
        let e = patient
            .poll()
            .await
            .expect_err("throttled past the patience");
        assert!(e.is_throttling(), "{e}");
        assert!(started.elapsed() >= PATIENCE, "{:?}", started.elapsed());
        let t = patient.throttle();
        // A minute (±20% jitter, so that parallel releases spread out).
        assert!(
            (48..=72).contains(&t.pacing.as_secs()),
            "{t:?}: capped at a minute"
        );
        assert!(t.waited >= PATIENCE - Duration::from_secs(60), "{t:?}");
        // The repeats back off to a minute: a handful of calls in 15 minutes, not hundreds.
        let calls = sim.calls()["DescribeAutoScalingGroups"];
        assert!(calls <= 25, "{calls} calls");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        patient.poll().await.expect("refilled");
        assert_eq!(patient.throttle().pacing, Duration::ZERO, "reset");
    });
}

/// Runs the futures concurrently on the current task, in order of their results.
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("ready")).collect()
}

/// Several releases at once in one account (a `for_each` over groups, parallel pipelines): each
/// seed runs 2–4 seeded scenarios concurrently, their calls drawing from one request bucket, and
/// checks every scenario's invariants; an apply failed by the bucket's throttling alone (which
/// the engine waits out) is a failure too. `SIM_RUNS / 10` seeds (at least 5).
#[test]
fn parallel_releases_in_one_throttled_account_over_seeded_runs() {
    let runs = (seeds().len() as u64 / 10).max(5);
    // Refill rates per second, drawn from `lo..hi`: bursts by default; `SIM_BUCKET_RATE=0.5-5`
    // for sustained overload.
    let (lo, hi) = std::env::var("SIM_BUCKET_RATE")
        .ok()
        .and_then(|v| {
            let (lo, hi) = v.split_once('-')?;
            Some((lo.parse::<f64>().ok()?, hi.parse::<f64>().ok()?))
        })
        .unwrap_or((2.0, 10.0));
    // One account again: `SIM_ACCOUNT=<n>` (with `SIM_SEED` set too, every event is printed).
    let accounts: Vec<u64> = match std::env::var("SIM_ACCOUNT") {
        Ok(one) => vec![one.parse().expect("SIM_ACCOUNT is a number")],
        Err(_) => (0..runs).collect(),
    };
    let (mut failures, mut releases, mut throttled, mut exhausted) = (vec![], 0, 0, 0);
    let runs = accounts.len();
    for seed in accounts {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x7A11_BEEF);
        let bucket = TokenBucket::new(rng.u32(3..=20), lo + rng.f64() * (hi - lo));
        let scenarios: Vec<(u64, Scenario)> = (0..rng.u64(2..=4))
            .map(|j| {
                let s = 1_000_000 + seed * 8 + j;
                let mut sc = scenario(s);
                sc.cloud.group_name = format!("sim-{j}");
                sc.cloud.throttle = Some(bucket.clone());
                (s, sc)
            })
            .collect();
        releases += scenarios.len();
        let results = rt().block_on(async {
            fastrand::seed(seed);
            futures_join_all(scenarios.into_iter().map(|(s, sc)| run_scenario(s, sc))).await
        });
        throttled += bucket.throttled();
        for r in results {
            match r {
                Ok(s) => exhausted += s.bucket_failures,
                Err(e) => failures.push(e),
            }
        }
    }
    eprintln!(
        "rollout::sim parallel: {runs} accounts, {releases} releases, {} failed; {throttled} requests found the shared bucket empty, {exhausted} calls failed after the SDK's retries (waited out)",
        failures.len()
    );
    // One account (SIM_ACCOUNT) may be one its bucket never throttled.
    assert!(
        throttled > 0 || std::env::var("SIM_ACCOUNT").is_ok(),
        "the bucket throttled nothing: the test tests nothing"
    );
    assert!(
        failures.is_empty(),
        "{} of {releases} releases broke an invariant:\n{}",
        failures.len(),
        failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
