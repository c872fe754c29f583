//! Executing a release. The order of work is what makes it safe to interrupt at any point:
//!
//! 1. take the group's release lock (a tag); a second release fails, it never cancels the first;
//! 2. write the release record (original capacity, processes we suspend, previous launch
//!    setting) BEFORE changing anything — a later apply resumes from it;
//! 3. suspend processes, point the group's launch at the image;
//! 4. batches: each one is recomputed from a fresh snapshot by the same planner function that
//!    made the plan, so a group that behaved as planned gets exactly the planned batches, and one
//!    that changed (scaled, instances lost) gets a correct schedule and a log line saying so;
//! 5. restore capacity and processes, delete the record, release the lock — on success, on
//!    failure (after rollback, when enabled) and when Terraform asks to stop.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

// tokio's clock, not std's: it is the same clock in production, and the one a simulation can
// pause and advance (`rollout::sim`), so warm-ups, batch timeouts and deadlines run on virtual
// time there instead of spinning on a real clock that does not move.
use tokio::time::Instant;

use release_planner::{
    diff_schedules, remaining, Batch, Capacity, GroupSnapshot, LifecycleState, ReleaseSettings,
    Schedule, ScheduleChange, Strategy,
};

use super::capacity::Ledger;
use super::group::{GroupApi, HealthSource, LaunchSetting};
use super::patient::Patient;
use super::record::{Lock, Record, LOCK_TAG, RECORD_TAG};
use super::warm_pool;
use crate::aws::wait::Backoff;
use crate::aws::AwsError;
use crate::bake::name::rfc3339;
use crate::cancel::Cancel;
use crate::owner;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchMode {
    /// A new launch template version, the group pinned to it.
    LaunchTemplate,
    /// A new launch configuration (legacy groups).
    LaunchConfiguration,
    /// The launch template is managed elsewhere (e.g. hashicorp/aws) and already points at the
    /// image; the release only replaces instances.
    External,
}

/// What the release does with old instances protected from scale in: the planner's setting
/// (`ReleaseSettings::protected_instances`), so the planned schedule already leaves ignored
/// instances out and the engine only waits for protection under the default.
pub use release_planner::ProtectedInstances;

/// What the release does with old instances in Standby: the planner's setting
/// (`ReleaseSettings::standby_instances`); the engine returns them to service or waits for it
/// before the release record is written, so the capacity they bring back is the group's own.
pub use release_planner::StandbyInstances;

#[derive(Debug, Clone)]
pub struct ReleaseConfig {
    pub release_id: String,
    pub settings: ReleaseSettings,
    pub mode: LaunchMode,
    pub health: HealthSource,
    pub batch_timeout: Duration,
    pub total_timeout: Duration,
    pub auto_rollback: bool,
    pub suspend_processes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Complete,
    /// Stopped after a checkpoint; the next apply continues.
    Checkpoint {
        batches_done: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub replaced: Vec<String>,
    pub batches: Vec<Vec<String>>,
    pub previous_image: Option<String>,
    pub previous_launch: Option<LaunchSetting>,
    pub launch: Option<LaunchSetting>,
    /// The group as read once the release let go of it (`None` when that read failed).
    pub after: Option<GroupSnapshot>,
}

#[derive(Debug, thiserror::Error)]
#[error("{what}{}", notes(.replaced, .restored))]
pub struct ReleaseError {
    pub what: String,
    pub replaced: Vec<String>,
    pub restored: Vec<String>,
    /// Nothing was changed on the group (e.g. the lock was held by another release).
    pub untouched: bool,
}

fn notes(replaced: &[String], restored: &[String]) -> String {
    let mut s = String::new();
    if !replaced.is_empty() {
        s.push_str(&format!(
            ". Replaced before it stopped: {}",
            replaced.join(", ")
        ));
    }
    if !restored.is_empty() {
        s.push_str(&format!(". Restored: {}", restored.join("; ")));
    }
    s
}

impl ReleaseError {
    fn new(what: impl Into<String>) -> Self {
        ReleaseError {
            what: what.into(),
            replaced: vec![],
            restored: vec![],
            untouched: false,
        }
    }
}

impl From<AwsError> for ReleaseError {
    fn from(e: AwsError) -> Self {
        ReleaseError::new(e.to_string())
    }
}

/// Runs the release. `planned` is the schedule shown at plan time, if any: when the group has
/// changed since, the difference is logged and the fresh schedule is executed.
pub async fn run(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    planned: Option<&Schedule>,
    cancel: &Cancel,
) -> Result<Outcome, ReleaseError> {
    // Throttling that outlasts the SDK's retries is waited out, not taken for a failure.
    let patient = Patient::new(group);
    let group: &dyn GroupApi = &patient;
    refuse_beside_instance_refresh(group).await?;
    acquire_lock(group, cfg).await?;
    let done = RecordDone::default();
    let result = run_locked(group, cfg, planned, cancel, &done).await;
    if !done.get() {
        if let Err(e) = group.delete_tag(LOCK_TAG).await {
            tracing::warn!("could not release the lock on {}: {e}", group.name());
        }
        return read_after(group, &cfg.settings.target_image_id, result).await;
    }
    // The record and the lock go in one call: killed before it, the next apply finds both — a
    // lock whose owner is gone and a record of settings already restored, which it restores
    // again (the same settings) before deleting it.
    let Err(e) = group.delete_tags(&[RECORD_TAG, LOCK_TAG]).await else {
        return read_after(group, &cfg.settings.target_image_id, result).await;
    };
    tracing::warn!("could not release the lock on {}: {e}", group.name());
    // Left behind, the record would make a later release restore these settings again.
    let note = format!("could not delete the release record (group tag {RECORD_TAG}): {e}");
    match result {
        Ok(out) => Err(ReleaseError {
            replaced: out.replaced,
            restored: vec![note],
            ..ReleaseError::new(format!(
                "the release of group {} {}, but the group's own settings could not all be restored; apply again to finish restoring them",
                group.name(),
                if matches!(out.status, Status::Checkpoint { .. }) { "reached its checkpoint" } else { "completed" }
            ))
        }),
        Err(mut err) => {
            err.restored.push(note);
            Err(err)
        }
    }
}

/// The group once a release that went well let go of it: its state for Terraform, and the
/// launch setting, which must still be the release's. Read here, after every change, rather than
/// between the restore's read of the group and its capacity change, where a longer wait would
/// widen the window in which a scaling policy's change is overwritten.
async fn read_after(
    group: &dyn GroupApi,
    image: &str,
    result: Result<Outcome, ReleaseError>,
) -> Result<Outcome, ReleaseError> {
    let Ok(mut out) = result else {
        return result;
    };
    out.after = group.snapshot().await.ok();
    // `AwsGroup` answers this from the snapshot just read.
    let now = group.launch().await.ok().flatten();
    match (&out.launch, now) {
        (Some(ours), Some(now)) if &now != ours => Err(ReleaseError {
            replaced: out.replaced,
            ..ReleaseError::new(launch_moved(&now, ours, image))
        }),
        _ => Ok(out),
    }
}

/// Set by [`restore`] once everything the record promises is back: the record is then deleted
/// with the lock, in one DeleteTags call.
#[derive(Default)]
struct RecordDone(std::sync::atomic::AtomicBool);

impl RecordDone {
    fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// An Instance Refresh replaces the group's instances on its own schedule: a release beside it
/// would take the same instances out twice and fight it over capacity. Checked before the lock,
/// so that nothing (not even a tag) changes.
async fn refuse_beside_instance_refresh(group: &dyn GroupApi) -> Result<(), ReleaseError> {
    let refused = |what: String| ReleaseError {
        untouched: true,
        ..ReleaseError::new(what)
    };
    match group.active_instance_refresh().await {
        Ok(None) => Ok(()),
        Ok(Some(r)) => Err(refused(format!(
            "group {name} has an Instance Refresh that has not finished ({id}, status {status}): a release beside it would replace the same instances at the same time. Wait for it to finish, or cancel it (aws autoscaling cancel-instance-refresh --auto-scaling-group-name {name}), then apply again; this apply changed nothing",
            name = group.name(),
            id = r.id,
            status = r.status
        ))),
        Err(e) => Err(refused(format!(
            "could not check group {} for an Instance Refresh in progress ({e}); this apply changed nothing — apply again (the role needs autoscaling:DescribeInstanceRefreshes)",
            group.name()
        ))),
    }
}

async fn acquire_lock(group: &dyn GroupApi, cfg: &ReleaseConfig) -> Result<(), ReleaseError> {
    let now = rfc3339(SystemTime::now());
    if let Some(held) = group
        .tags()
        .await?
        .get(LOCK_TAG)
        .and_then(|v| Lock::parse(v))
    {
        let ours = held.release_id == cfg.release_id;
        let void = held.expires_at.as_str() < now.as_str() || owner::is_dead_local(&held.owner);
        if !ours && !void {
            return Err(ReleaseError {
                untouched: true,
                ..ReleaseError::new(format!(
                    "another release ({}, by {}) holds the lock on group {} until {}; this apply changed nothing. If that release was killed on another machine, wait for the lock to expire or remove the group tag {LOCK_TAG}",
                    held.release_id, held.owner, group.name(), held.expires_at
                ))
            });
        }
        if !ours {
            tracing::info!(previous = %held.release_id, "taking over the lock of an abandoned release");
        }
    }
    let lock = Lock {
        release_id: cfg.release_id.clone(),
        owner: owner::current(),
        expires_at: rfc3339(SystemTime::now() + cfg.total_timeout + Duration::from_secs(300)),
    };
    group.set_tag(LOCK_TAG, &lock.to_string()).await?;
    // Two releases racing to write the tag: the last write wins; the loser sees it here.
    let check = group.tags().await?;
    if check
        .get(LOCK_TAG)
        .and_then(|v| Lock::parse(v))
        .map(|l| l.release_id)
        != Some(cfg.release_id.clone())
    {
        return Err(ReleaseError { untouched: true, ..ReleaseError::new(format!("another release took the lock on group {} at the same moment; this apply changed nothing", group.name())) });
    }
    Ok(())
}

async fn run_locked(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    planned: Option<&Schedule>,
    cancel: &Cancel,
    record_done: &RecordDone,
) -> Result<Outcome, ReleaseError> {
    let started = Instant::now();
    let snap0 = group.snapshot().await?;
    // Read once: the record keeps it as the previous setting, and the switch starts from it.
    let launch_now = group.launch().await?;
    let found = group
        .tags()
        .await?
        .get(RECORD_TAG)
        .and_then(|v| Record::parse(v));
    check_rollback_target(group, cfg, found.as_ref(), &snap0).await?;
    let (snap0, returned) = wait_before_record(group, cfg, snap0).await?;
    // A release that changed nothing yet (or stopped early, its record paused) and that the
    // planner refuses for this group stops here, before the record and the launch switch: once
    // switched, the failure path would take the refusal for a failed batch and roll back onto a
    // schedule the planner refuses just the same. An interrupted release goes on, to restore.
    if !matches!(&found, Some(r) if !r.paused) {
        if let Err(e) = remaining(&snap0, &cfg.settings) {
            return Err(ReleaseError {
                untouched: returned == 0,
                ..ReleaseError::new(format!(
                    "cannot schedule the release of group {}: {e}; this apply replaced nothing (change the settings or the group, then apply again)",
                    group.name()
                ))
            });
        }
    }
    // What served before this apply changed anything: the capacity a cleanup keeps first.
    let proven: BTreeSet<String> = snap0
        .instances
        .iter()
        .filter(|i| i.is_healthy_in_service())
        .map(|i| i.id.clone())
        .collect();
    let record = match found {
        Some(r) if !r.paused => {
            tracing::info!(
                previous = %r.release_id,
                desired = r.desired, min = r.min, max = r.max,
                "resuming an interrupted release: the group's recorded settings will be restored at the end"
            );
            if returned == 0 {
                r
            } else {
                // Back in service, they are part of the group's own capacity.
                let r = Record {
                    desired: r.desired + returned,
                    ..r
                };
                group.set_tag(RECORD_TAG, &r.to_string()).await?;
                r
            }
        }
        found => {
            let already: BTreeSet<String> =
                group.suspended_processes().await?.into_iter().collect();
            // After a release that stopped early the group launches the new image already:
            // what it launched before comes from the paused record, not from the group.
            let (previous_launch, previous_image) = match &found {
                Some(paused) => {
                    tracing::info!(previous = %paused.release_id, "continuing a release that stopped early: rollback still returns to {}", paused.previous_image);
                    (
                        paused.previous_launch.clone(),
                        paused.previous_image.clone(),
                    )
                }
                None => (
                    launch_now.as_ref().map(|l| l.encode()).unwrap_or_default(),
                    snap0.launch_image_id.clone().unwrap_or_default(),
                ),
            };
            let r = Record {
                release_id: cfg.release_id.clone(),
                desired: snap0.desired_capacity,
                min: snap0.min_size,
                max: snap0.max_size,
                suspended: cfg
                    .suspend_processes
                    .iter()
                    .filter(|p| !already.contains(*p))
                    .cloned()
                    .collect(),
                previous_launch,
                previous_image,
                paused: false,
            };
            group.set_tag(RECORD_TAG, &r.to_string()).await?;
            r
        }
    };
    let previous_launch = LaunchSetting::decode(&record.previous_launch);
    let previous_image = Some(record.previous_image.clone()).filter(|s| !s.is_empty());
    let ledger = Ledger::new(record.desired, snap0.desired_capacity);
    // With the group's own health view, an instance is not checked during the grace period
    // (the group reports it Healthy until then): its warm-up lasts at least that long.
    let grace = match cfg.health {
        HealthSource::Ec2 => group.health_check_grace().await?,
        HealthSource::Elb => Duration::ZERO,
    };
    group.suspend(&record.suspended).await?;

    // The warm pool is refreshed right after the switch, before any batch draws from it.
    let had_pool = snap0.warm_pool.is_some();
    let switched = match switch_launch(group, cfg, &snap0, launch_now).await {
        Ok(l) => warm_pool::refresh(group, had_pool, &cfg.settings.target_image_id)
            .await
            .map(|_| l)
            .map_err(|e| {
                ReleaseError::new(format!(
                    "the warm pool was not refreshed (no batch started; apply again): {e}"
                ))
            }),
        Err(e) => Err(e),
    };
    let launch = match switched {
        Ok(l) => l,
        Err(e) => {
            // The switch may have happened with its answer lost: if the group no longer
            // launches what it did before, the next apply must still know the previous setting.
            let switched = match group.launch().await {
                Ok(now) => now.map(|l| l.encode()) != Some(record.previous_launch.clone()),
                Err(_) => true,
            };
            let restored = restore(
                group,
                &record,
                &ledger,
                (&cfg.settings.target_image_id, &proven),
                switched,
                record_done,
            )
            .await
            .notes;
            return Err(ReleaseError { restored, ..e });
        }
    };

    let deadline = started + cfg.total_timeout;
    let progress = execute_batches(
        group,
        cfg,
        &cfg.settings,
        &record,
        Run {
            planned,
            launch: launch.as_ref(),
            cancel,
            deadline,
            ledger: &ledger,
            grace,
            pass: Pass::Forward,
        },
    )
    .await;
    match progress {
        Ok(done) => {
            let restored = restore(
                group,
                &record,
                &ledger,
                (&cfg.settings.target_image_id, &proven),
                done.checkpoint,
                record_done,
            )
            .await;
            if !restored.complete {
                // Reporting success would leave the group's settings changed without a word.
                return Err(ReleaseError {
                    replaced: done.batches.iter().flatten().cloned().collect(),
                    restored: restored.notes,
                    ..ReleaseError::new(format!(
                        "the release of group {} {}, but the group's own settings could not all be restored; apply again to finish restoring them",
                        group.name(),
                        if done.checkpoint { "reached its checkpoint" } else { "completed" }
                    ))
                });
            }
            let restored = restored.notes;
            tracing::info!(restored = %restored.join("; "), "group settings restored");
            // Again at the end: with ReuseOnScaleIn a scale-in returns instances to the pool.
            warm_pool::finish(group, had_pool, &cfg.settings.target_image_id).await;
            Ok(Outcome {
                status: if done.checkpoint {
                    Status::Checkpoint {
                        batches_done: done.batches.len(),
                    }
                } else {
                    Status::Complete
                },
                replaced: done.batches.iter().flatten().cloned().collect(),
                batches: done.batches,
                previous_image,
                previous_launch,
                launch,
                after: None,
            })
        }
        Err(failure) => {
            let mut err = ReleaseError::new(failure.what.clone());
            err.replaced = failure.batches.iter().flatten().cloned().collect();
            let failed = failure.kind.is_failed_release();
            // The failed batch's new instances must not stay: the group would run above its
            // capacity, or with instances that never became healthy. Not after a read that
            // failed: nothing is known to be wrong with them.
            if failed && !failure.launched.is_empty() {
                err.restored.push(
                    remove_failed_batch(group, &cfg.settings, &ledger, &failure.launched).await,
                );
            }
            let can_roll_back = cfg.auto_rollback && failed && cfg.mode != LaunchMode::External;
            let mut rolled_back = false;
            if let (true, Some(prev), Some(prev_image)) =
                (can_roll_back, &previous_launch, &previous_image)
            {
                let back = RollBack {
                    previous: prev,
                    previous_image: prev_image,
                    ledger: &ledger,
                    grace,
                    had_pool,
                };
                match roll_back(group, cfg, &record, back, cancel).await {
                    Ok(notes) => {
                        rolled_back = true;
                        err.restored.extend(notes)
                    }
                    Err(e) => err.restored.push(format!("ROLLBACK FAILED: {e}")),
                }
            } else if failure.kind == FailKind::Unobserved {
                err.what.push_str(" (nothing was rolled back or terminated: a read that failed says nothing about the instances; apply again to continue)");
            } else if failed {
                err.what.push_str(if cfg.mode == LaunchMode::External && cfg.auto_rollback {
                    " (no automatic rollback: in external launch mode the launch template belongs to another tool; point it back at the previous image there and apply again)"
                } else {
                    " (auto_rollback is off: the group keeps the instances replaced so far; apply again to continue, or point image_id back to roll back)"
                });
            }
            // Unless it is back where it started, the group launches the new image now: keep
            // what it launched before for the next apply's rollback.
            err.restored.extend(
                restore(
                    group,
                    &record,
                    &ledger,
                    (&cfg.settings.target_image_id, &proven),
                    !rolled_back,
                    record_done,
                )
                .await
                .notes,
            );
            Err(err)
        }
    }
}

/// Another tool pointed the group at another launch setting while the release ran, after the
/// last batch's instances launched (or while a refreshed warm pool served every surge): no batch
/// saw it, and the group runs the target image, but a scale-out would launch from that setting
/// (a warm pool would refill from it). Reported as the release's error (see [`read_after`]);
/// the next apply points the group back and replaces what it launched.
fn launch_moved(now: &LaunchSetting, ours: &LaunchSetting, image: &str) -> String {
    format!(
        "the group's launch setting was changed by someone else during the release: it is {} now, not {}; the group's instances run {image}, but a scale-out (or a warm pool's refill) would launch from that setting — stop the other tool or pipeline, then apply again (the next apply points the group back at {image})",
        now.describe(),
        ours.describe(),
    )
}

/// A rollback onto an image that no longer exists cannot launch anything: a release that may
/// need one refuses to start (AWS refuses launches of a deregistered AMI; the group's own
/// scale-outs fail already). `found`: the record of an earlier release, whose previous image is
/// the rollback target.
async fn check_rollback_target(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    found: Option<&Record>,
    snap: &GroupSnapshot,
) -> Result<(), ReleaseError> {
    if !cfg.auto_rollback || cfg.mode == LaunchMode::External {
        return Ok(());
    }
    let previous = match found {
        Some(r) => Some(r.previous_image.clone()),
        None => snap.launch_image_id.clone(),
    };
    let Some(previous) = previous.filter(|p| !p.is_empty() && *p != cfg.settings.target_image_id)
    else {
        return Ok(());
    };
    if group.image_launchable(&previous).await? {
        return Ok(());
    }
    Err(ReleaseError {
        untouched: true,
        ..ReleaseError::new(format!(
            "the rollback target of group {}, image {previous} (what it launches now), no longer exists or is not available: a failed release would have nothing to roll back onto, and the group cannot scale out either. Restore or re-create the image, or set auto_rollback = false to release without a rollback; this apply changed nothing",
            group.name()
        ))
    })
}

/// Old instances protected from scale in, which the release would replace.
fn protected_old(snap: &GroupSnapshot, target: &str) -> Vec<String> {
    snap.instances
        .iter()
        .filter(|i| {
            i.protected_from_scale_in
                && i.image_id != target
                && matches!(
                    i.lifecycle_state,
                    LifecycleState::Pending | LifecycleState::InService
                )
        })
        .map(|i| i.id.clone())
        .collect()
}

/// Old instances in Standby (`.0`) and on their way into it (`.1`).
fn standby_old(snap: &GroupSnapshot, target: &str) -> (Vec<String>, Vec<String>) {
    let old = |state: LifecycleState| -> Vec<String> {
        snap.instances
            .iter()
            .filter(|i| i.lifecycle_state == state && i.image_id != target)
            .map(|i| i.id.clone())
            .collect()
    };
    (
        old(LifecycleState::Standby),
        old(LifecycleState::EnteringStandby),
    )
}

/// What the release waits for before its record, as one group read shows it.
struct Waiting {
    /// Old instances protected from scale in (with [`ProtectedInstances::Wait`]).
    protected: Vec<String>,
    /// Old instances in Standby, and on their way into it (unless [`StandbyInstances::Ignore`]).
    standby: Vec<String>,
    entering: Vec<String>,
}

impl Waiting {
    fn of(snap: &GroupSnapshot, cfg: &ReleaseConfig) -> Waiting {
        let target = &cfg.settings.target_image_id;
        let protected = match cfg.settings.protected_instances {
            ProtectedInstances::Wait => protected_old(snap, target),
            _ => vec![],
        };
        let (standby, entering) = match cfg.settings.standby_instances {
            StandbyInstances::Ignore => (vec![], vec![]),
            _ => standby_old(snap, target),
        };
        Waiting {
            protected,
            standby,
            entering,
        }
    }

    fn is_empty(&self) -> bool {
        self.protected.is_empty() && self.standby.is_empty() && self.entering.is_empty()
    }
}

/// Before the release record, one wait under one deadline (`batch_timeout`) for what a release
/// does not start beside: old instances protected from scale in (with
/// [`ProtectedInstances::Wait`]: a release's termination would ignore the protection) and old
/// instances in Standby (waited for, or with [`StandbyInstances::Replace`] returned to service
/// with `ExitStandby`, once no protection is waited for: a refusal then still changed nothing).
/// Returns the group as its last read showed it — the record takes its capacity from there, so
/// that a change an operator made during the wait is the group's own, not undone by the
/// restore — with the launch setting of `snap` (the one read with it at the start), and the
/// capacity units returned to service (AWS adds each instance's units to desired capacity: one
/// without weights).
async fn wait_before_record(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    snap: GroupSnapshot,
) -> Result<(GroupSnapshot, u32), ReleaseError> {
    let mode = cfg.settings.standby_instances;
    let deadline = Instant::now() + cfg.batch_timeout;
    let mut snap = snap;
    let mut returned: BTreeSet<String> = BTreeSet::new();
    let mut returned_units = 0u32;
    let (mut warned_protected, mut warned_standby) = (false, false);
    let mut attempt = 0;
    let waiting = loop {
        let waiting = Waiting::of(&snap, cfg);
        if waiting.is_empty() {
            return Ok((snap, returned_units));
        }
        let exit: Vec<String> = waiting
            .standby
            .iter()
            .filter(|id| !returned.contains(*id))
            .cloned()
            .collect();
        if !waiting.protected.is_empty() {
            if !warned_protected {
                warned_protected = true;
                tracing::warn!(instances = %waiting.protected.join(","), "waiting for the scale-in protection of old instances to be removed");
            }
        } else if mode == StandbyInstances::Replace && !exit.is_empty() {
            let units = snap.units_of_ids(&exit);
            let after = snap.desired_capacity + units;
            if after > snap.max_size {
                return Err(ReleaseError {
                    untouched: returned.is_empty(),
                    ..ReleaseError::new(format!(
                        "{} old instance(s) of group {} are in Standby ({}): returning them to service (ExitStandby adds each one's capacity units to desired capacity: one without weights) would take desired capacity to {after}, above the group's max size {}. Raise max_size, or set standby_instances = \"ignore\"; this apply changed nothing",
                        exit.len(),
                        group.name(),
                        exit.join(", "),
                        snap.max_size
                    ))
                });
            }
            group.exit_standby(&exit).await.map_err(|e| ReleaseError {
                untouched: returned.is_empty(),
                ..ReleaseError::new(format!(
                    "could not return the old instance(s) in Standby of group {} to service ({}): {e}",
                    group.name(),
                    exit.join(", ")
                ))
            })?;
            tracing::info!(instances = %exit.join(","), "returned old instances in Standby to service, to replace them");
            returned.extend(exit);
            returned_units += units;
        } else if !warned_standby {
            warned_standby = true;
            tracing::warn!(instances = %waiting.standby.iter().chain(&waiting.entering).cloned().collect::<Vec<_>>().join(","), "waiting for old instances to leave Standby");
        }
        let now = Instant::now();
        if now >= deadline {
            break waiting;
        }
        // Instances returned to service are in service within seconds; a person takes minutes.
        let pace = if waiting.protected.is_empty() && !returned.is_empty() {
            0
        } else {
            8
        };
        tokio::time::sleep(
            Backoff::SECONDS
                .delay(attempt + pace)
                .min(deadline.saturating_duration_since(now))
                .max(Duration::from_millis(20)),
        )
        .await;
        attempt += 1;
        if let Ok(now) = group.poll().await {
            snap = GroupSnapshot {
                launch: snap.launch,
                launch_image_id: snap.launch_image_id,
                ..now
            };
        }
    };
    if !waiting.protected.is_empty() {
        return Err(ReleaseError {
            untouched: returned.is_empty(),
            ..ReleaseError::new(format!(
                "{} old instance(s) of group {} are protected from scale in ({}) and stayed so for {}: a release's termination would ignore the protection, so it waits for it to be removed. Remove it, or set scale_in_protected_instances = \"replace\" (replace them anyway) or \"ignore\" (leave them on their image); this apply changed nothing",
                waiting.protected.len(),
                group.name(),
                waiting.protected.join(", "),
                humantime(cfg.batch_timeout)
            ))
        });
    }
    let ids: Vec<String> = waiting
        .standby
        .into_iter()
        .chain(waiting.entering)
        .collect();
    Err(ReleaseError {
        untouched: returned.is_empty(),
        ..ReleaseError::new(match mode {
            StandbyInstances::Replace => format!(
                "{} old instance(s) of group {} returned to service with ExitStandby were still in Standby after {} ({}); apply again",
                ids.len(),
                group.name(),
                humantime(cfg.batch_timeout),
                ids.join(", ")
            ),
            _ => format!(
                "{} old instance(s) of group {} are in Standby ({}) and stayed there for {}: the release waits for them to return to service, then replaces them. Return them (aws autoscaling exit-standby), or set standby_instances = \"replace\" (return them to service and replace them) or \"ignore\" (leave them in Standby on their image); this apply changed nothing",
                ids.len(),
                group.name(),
                ids.join(", "),
                humantime(cfg.batch_timeout)
            ),
        })
    })
}

/// Makes new instances launch from the target image (unless they already do).
/// `current` is the group's launch setting as read at the start of this apply (with `snap`).
async fn switch_launch(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    snap: &GroupSnapshot,
    current: Option<LaunchSetting>,
) -> Result<Option<LaunchSetting>, ReleaseError> {
    let target = &cfg.settings.target_image_id;
    // A mixed instances policy's overrides with their own template launch too.
    let off_target = snap.overrides().iter().enumerate().find(|(_, o)| {
        o.launch_template.is_some() && o.image_id.as_deref() != Some(target.as_str())
    });
    if snap.launch_image_id.as_deref() == Some(target.as_str()) && off_target.is_none() {
        return Ok(current);
    }
    if let (LaunchMode::External, Some((index, o))) = (cfg.mode, off_target) {
        return Err(ReleaseError {
            untouched: false,
            ..ReleaseError::new(format!(
                "group {}: {} of the mixed instances policy launches {} but the release targets {target}; in external launch mode every launch template of the policy must already point at the image",
                group.name(),
                o.label(index),
                o.image_id.as_deref().unwrap_or("an unknown image")
            ))
        });
    }
    if cfg.mode == LaunchMode::External {
        return Err(ReleaseError {
            untouched: false,
            ..ReleaseError::new(format!(
                "group {} launches {} but the release targets {target}; in external launch mode the group's launch template must already point at the image (set it in the tool that owns the template, e.g. aws_launch_template.image_id)",
                group.name(),
                snap.launch_image_id.as_deref().unwrap_or("an unknown image")
            ))
        });
    }
    let current = current.ok_or_else(|| {
        ReleaseError::new(format!(
            "group {} has neither a launch template nor a launch configuration",
            group.name()
        ))
    })?;
    let new = group
        .launch_image(&current, target, &cfg.release_id)
        .await?;
    tracing::info!(from = %current.describe(), to = %new.describe(), image = %target, "group now launches the new image");
    Ok(Some(new))
}

struct Done {
    batches: Vec<Vec<String>>,
    checkpoint: bool,
}

struct Failure {
    what: String,
    batches: Vec<Vec<String>>,
    /// New instances of the batch that failed, to be removed.
    launched: Vec<String>,
    kind: FailKind,
}

/// Why a batch (or the release between batches) stopped: what the failure path may do about it
/// depends on it — only a release observed to fail is rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailKind {
    /// New instances were seen unhealthy, or not healthy and warmed up within the batch timeout.
    Unhealthy,
    /// The group launches something other than the target image (or more instances than the
    /// release can need): waiting longer cannot help.
    NoProgress,
    /// The group could not be read until the batch deadline: nothing is known to be wrong, so
    /// nothing is destroyed; the next apply continues.
    Unobserved,
    /// Terraform asked to stop, or the release's own timeout ran out.
    Stopped,
}

impl FailKind {
    fn is_failed_release(self) -> bool {
        matches!(self, FailKind::Unhealthy | FailKind::NoProgress)
    }
}

/// A batch that did not finish: why, and the new instances launched for it.
struct BatchError {
    what: String,
    launched: Vec<String>,
    kind: FailKind,
}

impl BatchError {
    fn new(what: impl Into<String>, launched: Vec<String>, kind: FailKind) -> Self {
        BatchError {
            what: what.into(),
            launched,
            kind,
        }
    }
}

/// What one pass over the batches runs against.
#[derive(Clone, Copy)]
struct Run<'a> {
    /// The schedule shown at plan time (first pass only).
    planned: Option<&'a Schedule>,
    /// The launch setting the release pointed the group at: seeing another one during the
    /// release means someone else changed it.
    launch: Option<&'a LaunchSetting>,
    cancel: &'a Cancel,
    /// The whole release's deadline: no batch starts after it.
    deadline: Instant,
    /// The release's own share of desired capacity, apart from changes others make.
    ledger: &'a Ledger,
    /// The group's health check grace period, when its own health view is the one waited for.
    grace: Duration,
    /// Whether instances already on the target image are checked before the first batch.
    pass: Pass,
}

impl<'a> Run<'a> {
    /// One batch's step under its own deadline (`batch_timeout` from now), bounded by the
    /// release's; nothing surged or handed over.
    fn step(&self, batch: &'a Batch, own_deadline: Instant) -> BatchStep<'a> {
        BatchStep {
            batch,
            surged_to: None,
            hand_over_to: None,
            cancel: self.cancel,
            deadline: own_deadline.min(self.deadline),
            release_deadline_binds: self.deadline < own_deadline,
            release_deadline: self.deadline,
            launch: self.launch,
            ledger: self.ledger,
            grace: self.grace,
        }
    }
}

/// The forward pass checks the target image's instances that were there before it (see
/// [`check_unverified`]); a rollback's target is the image the group served before, whose
/// instances served already, and a rollback must not wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Forward,
    Rollback,
}

/// Reads the group, waiting out failing reads (each already retried by the SDK) until
/// `deadline` (throttled ones until `release_deadline`): a failed read is no reason to fail,
/// let alone roll back, a batch.
async fn poll_until(
    group: &dyn GroupApi,
    deadline: Instant,
    release_deadline: Instant,
) -> Result<(GroupSnapshot, Instant), BatchError> {
    let mut attempt = 0;
    loop {
        match group.poll_observed().await {
            Ok(x) => return Ok(x),
            Err(e) => {
                wait_after_failed_read(group, &e, (deadline, release_deadline), &mut attempt)
                    .await?
            }
        }
    }
}

/// After a read failed: sleeps before the next try, or (deadline reached) says why we stop.
/// A read refused for throttling (past the patience of [`Patient`]) says the account is busy,
/// not that the group is in trouble: it is tried again until the release's own deadline
/// (`.1`), and then the release stops between batches as its timeout says, never failing the
/// batch; other failed reads end at the batch's deadline (`.0`).
async fn wait_after_failed_read(
    group: &dyn GroupApi,
    e: &AwsError,
    (deadline, release_deadline): (Instant, Instant),
    attempt: &mut u32,
) -> Result<(), BatchError> {
    let now = Instant::now();
    let throttled = e.is_throttling();
    let deadline = if throttled {
        release_deadline.max(deadline)
    } else {
        deadline
    };
    if now >= deadline && throttled {
        return Err(BatchError::new(
            format!(
                "the release's timeout ran out while reading group {} was throttled ({e}) — the group is consistent, apply again to continue (or raise `timeouts`)",
                group.name()
            ),
            vec![],
            FailKind::Stopped,
        ));
    }
    if now >= deadline {
        return Err(BatchError::new(
            format!(
                "could not read group {} until the batch deadline: {e}",
                group.name()
            ),
            vec![],
            FailKind::Unobserved,
        ));
    }
    tracing::warn!(group = %group.name(), "reading the group failed ({e}); trying again");
    let delay = Backoff::SECONDS
        .delay(*attempt + 4)
        .min(deadline.saturating_duration_since(now));
    *attempt += 1;
    tokio::time::sleep(delay.max(Duration::from_millis(20))).await;
    Ok(())
}

async fn execute_batches(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    settings: &ReleaseSettings,
    record: &Record,
    run: Run<'_>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    let mut done: Vec<Vec<String>> = vec![];
    let fail = |e: BatchError, done: &Vec<Vec<String>>| Failure {
        what: e.what,
        batches: done.clone(),
        launched: e.launched,
        kind: e.kind,
    };
    // The group as the previous batch left it, when nothing can have happened since: saves one
    // DescribeAutoScalingGroups per batch.
    let mut carried: Option<GroupSnapshot> = None;
    // The size the previous batch left the group at when it handed over to this one (see
    // `run_batch`): this batch's new instances are already launching.
    let mut handed_over: Option<Capacity> = None;
    // Every instance the group launched during this pass, and how many it may launch: the
    // instances to replace plus one batch's retry. More means the group is going round in
    // circles (instances replaced for failing health checks, or drawn from somewhere else).
    let mut launches = Launches::default();
    let mut checked = run.pass == Pass::Rollback;
    loop {
        let mut snap = match carried.take() {
            Some(s) => s,
            None => {
                let own = run.deadline.min(Instant::now() + cfg.batch_timeout);
                let s = poll_until(group, own, run.deadline)
                    .await
                    .map_err(|e| fail(e, &done))?
                    .0;
                run.ledger.observe(s.desired_capacity);
                s
            }
        };
        // The group's own settings, not the temporary ones of an interrupted surge, with the
        // capacity others changed since the release began: the surge adds to that.
        let base = run.ledger.base();
        snap.desired_capacity = base;
        snap.min_size = record.min.min(base);
        snap.max_size = record.max.max(base);
        let schedule = remaining(&snap, settings).map_err(|e| {
            fail(
                BatchError::new(
                    format!("cannot schedule the release: {e}"),
                    vec![],
                    FailKind::Unhealthy,
                ),
                &done,
            )
        })?;
        if done.is_empty() {
            if let Some(p) = run.planned {
                if let ScheduleChange::Changed { .. } = diff_schedules(p, &schedule) {
                    tracing::warn!(
                        "the group changed since the plan ({}); executing the recomputed schedule",
                        diff_schedules(p, &schedule)
                    );
                }
            }
        }
        let Some(batch) = schedule.batches.first() else {
            return Ok(Done {
                batches: done,
                checkpoint: false,
            });
        };
        launches.budget.get_or_insert_with(|| {
            // In a weighted group a batch's units bound its launches (each instance counts
            // for at least one unit, and lighter ones may replace heavier).
            let sizes = schedule
                .batches
                .iter()
                .map(|b| b.units.map_or(b.instance_ids.len(), |u| u as usize));
            sizes.clone().sum::<usize>() + sizes.max().unwrap_or(0)
        });
        if !checked {
            checked = true;
            let unverified = unverified_on_target(&snap, &settings.target_image_id);
            if !unverified.is_empty() {
                let seen = check_unverified(group, cfg, settings, &snap, &unverified, batch, &run)
                    .await
                    .map_err(|e| fail(e, &done))?;
                // The group may have changed while it was watched: schedule again from it.
                carried = Some(seen);
                continue;
            }
        }
        // A batch that was handed over has begun already; it ends before the apply stops.
        if handed_over.is_none() && run.cancel.is_tripped() {
            return Err(fail(
                BatchError::new(
                    format!("stopped between batches at Terraform's request after {} batch(es); {} batch(es) remain — the group is consistent, apply again to continue", done.len(), schedule.batches.len()),
                    vec![],
                    FailKind::Stopped,
                ),
                &done,
            ));
        }
        if Instant::now() >= run.deadline {
            return Err(fail(
                BatchError::new(
                    format!("the release's timeout ({}) ran out after {} batch(es); {} batch(es) remain — the group is consistent, apply again to continue (or raise `timeouts`)", humantime(cfg.total_timeout), done.len(), schedule.batches.len()),
                    vec![],
                    FailKind::Stopped,
                ),
                &done,
            ));
        }
        let total = done.len() + schedule.batches.len();
        tracing::info!(
            batch = done.len() + 1, of = total,
            instances = %batch.instance_ids.join(","),
            elapsed_secs = start.elapsed().as_secs(),
            "batch {} of {}: replacing {} instance(s)", done.len() + 1, total, batch.instance_ids.len()
        );
        let own_deadline = Instant::now() + cfg.batch_timeout;
        // The next batch can start inside this one's last call when it needs the same size and
        // nothing (a checkpoint, a pause) comes between them.
        let next = schedule
            .batches
            .get(1)
            .filter(|_| !batch.checkpoint_after && settings.pause_between_batches_secs == 0)
            .map(|n| n.capacity_during);
        let step = BatchStep {
            surged_to: handed_over.take(),
            hand_over_to: next,
            ..run.step(batch, own_deadline)
        };
        match run_batch(group, cfg, settings, &snap, step, &mut launches).await {
            Ok((after, over)) => {
                carried = Some(after);
                handed_over = over;
            }
            Err(e) => {
                return Err(fail(
                    BatchError {
                        what: format!("batch {} of {total} failed: {}", done.len() + 1, e.what),
                        ..e
                    },
                    &done,
                ))
            }
        }
        done.push(batch.instance_ids.clone());
        record_outside_capacity(group, record, run.ledger).await;
        tracing::info!(
            batch = done.len(),
            of = total,
            elapsed_secs = start.elapsed().as_secs(),
            "batch {} of {} done",
            done.len(),
            total
        );
        if batch.checkpoint_after && schedule.batches.len() > 1 {
            tracing::info!(
                "checkpoint reached after batch {}; the next apply continues the release",
                done.len()
            );
            return Ok(Done {
                batches: done,
                checkpoint: true,
            });
        }
        if settings.pause_between_batches_secs > 0 && schedule.batches.len() > 1 {
            // The group may change during the pause: read it afresh.
            carried = None;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(settings.pause_between_batches_secs)) => {}
                _ = run.cancel.tripped() => {}
            }
        }
    }
}

/// Instances on the target image that the group counts as serving when this pass begins: an
/// earlier apply's (a release resumed after a kill, a cancel or a checkpoint) or the group's own
/// launches since the switch. None was seen passing a health check by this apply, and the group
/// reports an instance Healthy during its health check grace period without checking it
/// (<https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html>):
/// counted towards the healthy floor unchecked, instances of a broken image would let the first
/// batch take out old instances that serve.
fn unverified_on_target(snap: &GroupSnapshot, target: &str) -> BTreeSet<String> {
    snap.instances
        .iter()
        .filter(|i| i.image_id == target)
        .filter(|i| {
            matches!(
                i.lifecycle_state,
                LifecycleState::Pending | LifecycleState::InService
            )
        })
        .map(|i| i.id.clone())
        .collect()
}

/// Watches [`unverified_on_target`]'s instances as a batch's new ones before the first batch
/// removes anything: healthy (at the load balancer with `elb` health), and in `ec2` health mode
/// for one whole grace period from now, after which the group has checked each of them. No
/// warm-up of their own: what the group reports of them is all that is in doubt. On failure
/// nothing of theirs is terminated here: they are the group's own capacity (the rollback, when
/// on, replaces them).
async fn check_unverified(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    settings: &ReleaseSettings,
    snap: &GroupSnapshot,
    unverified: &BTreeSet<String>,
    first: &Batch,
    run: &Run<'_>,
) -> Result<GroupSnapshot, BatchError> {
    tracing::info!(
        instances = %unverified.iter().cloned().collect::<Vec<_>>().join(","),
        grace_secs = run.grace.as_secs(),
        "{} instance(s) already on {} before this apply: checking they stay healthy before the first batch",
        unverified.len(), settings.target_image_id
    );
    let known: BTreeSet<String> = snap
        .instances
        .iter()
        .map(|i| i.id.clone())
        .filter(|id| !unverified.contains(id))
        .collect();
    let no_warmup = ReleaseSettings {
        instance_warmup_secs: 0,
        ..settings.clone()
    };
    let step = run.step(first, Instant::now() + cfg.batch_timeout);
    // Their own budget: they are not launches of this release.
    let mut launches = Launches::default();
    wait_for_new(group, cfg, &no_warmup, &known, &step, &mut launches)
        .await
        .map_err(|e| BatchError {
            what: format!(
                "before any instance was replaced: the {} instance(s) already on {} ({}) did not all stay healthy: {}",
                unverified.len(),
                settings.target_image_id,
                unverified.iter().cloned().collect::<Vec<_>>().join(", "),
                e.what
            ),
            launched: vec![],
            ..e
        })
}

/// Stores desired capacity set by someone else in the record (best effort): an apply that
/// continues this release (after a kill, or a restore that could not finish) restores that, not
/// the capacity recorded before the change.
async fn record_outside_capacity(group: &dyn GroupApi, record: &Record, ledger: &Ledger) {
    let Some(desired) = ledger.take_unrecorded() else {
        return;
    };
    let updated = Record {
        desired,
        ..record.clone()
    };
    if let Err(e) = group.set_tag(RECORD_TAG, &updated.to_string()).await {
        tracing::warn!("could not store the desired capacity set by someone else ({desired}) in the release record: {e}");
    }
}

/// `90s`, `15m`, `1h30m`: how users wrote it.
fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// The instances the group launched during one pass over the batches, against its budget.
#[derive(Default)]
struct Launches {
    seen: BTreeSet<String>,
    budget: Option<usize>,
}

struct BatchStep<'a> {
    batch: &'a Batch,
    /// The group's size when the previous batch handed over: this batch's surge is under way.
    surged_to: Option<Capacity>,
    /// The next batch's surge size, when it may start inside this batch's removal.
    hand_over_to: Option<Capacity>,
    cancel: &'a Cancel,
    deadline: Instant,
    /// `deadline` is the whole release's, not the batch's own timeout: running into it stops
    /// the release rather than failing the batch.
    release_deadline_binds: bool,
    /// The whole release's deadline, which time spent on throttling does not move.
    release_deadline: Instant,
    launch: Option<&'a LaunchSetting>,
    ledger: &'a Ledger,
    grace: Duration,
}

fn same_size(a: &Capacity, b: &Capacity) -> bool {
    (a.desired, a.min, a.max) == (b.desired, b.min, b.max)
}

/// One batch. Returns the group as it was last seen, without the instances this batch removed,
/// and the size it handed over at when its removal already launched the next batch's instances.
/// Errors carry the new instances launched for it (to be removed).
async fn run_batch(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    settings: &ReleaseSettings,
    snap: &GroupSnapshot,
    step: BatchStep<'_>,
    launches: &mut Launches,
) -> Result<(GroupSnapshot, Option<Capacity>), BatchError> {
    let batch = step.batch;
    let known: BTreeSet<String> = snap.instances.iter().map(|i| i.id.clone()).collect();
    // Throttled past the patience: refused, not run, and nothing known to be wrong with the
    // batch, so nothing is rolled back.
    let err = |e: AwsError| {
        let kind = if e.is_throttling() {
            FailKind::Unobserved
        } else {
            FailKind::Unhealthy
        };
        BatchError::new(e.to_string(), vec![], kind)
    };
    let (mut last, over) = match settings.strategy {
        Strategy::Surge => {
            let during = &batch.capacity_during;
            if !step.surged_to.is_some_and(|c| same_size(&c, during)) {
                let set = group
                    .set_capacity(during.desired, during.min, during.max)
                    .await;
                step.ledger.set(during.desired, set.is_ok());
                set.map_err(err)?;
            }
            let seen = wait_for_new(group, cfg, settings, &known, &step, launches).await?;
            // Leaving without lowering desired capacity makes the group launch replacements at
            // once: when the next batch surges to the same size, that is its surge, one call and
            // one wait earlier. Otherwise desired capacity drops back with the removal. A raised
            // max stays until the release ends (the record restores it).
            let over = step
                .hand_over_to
                .filter(|next| same_size(next, during) && !step.cancel.is_tripped());
            if over.is_none() {
                // The group's desired capacity drops by each instance's units.
                step.ledger
                    .decremented(snap.units_of_ids(&batch.instance_ids));
            }
            group
                .remove(&batch.instance_ids, over.is_none())
                .await
                .map_err(err)?;
            (seen, over)
        }
        Strategy::Replace => {
            group
                .remove(&batch.instance_ids, false)
                .await
                .map_err(err)?;
            let seen = wait_for_new(group, cfg, settings, &known, &step, launches).await?;
            (seen, None)
        }
    };
    last.instances
        .retain(|i| !batch.instance_ids.contains(&i.id));
    Ok((last, over))
}

/// Waits until the group holds its desired capacity (as each read shows it: others may change it)
/// in in-service instances counting the old ones still there:
/// every instance on the target image beyond those must be healthy, and those new to this batch
/// must have stayed healthy for the warm-up time. Counting this way (rather than "k new ones")
/// also finishes a batch that a killed apply had already surged.
///
/// Fails at once when the group launches an instance that does not run the target (it will not
/// get there by waiting) or more instances than the release can need; waits out failing reads.
async fn wait_for_new(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    settings: &ReleaseSettings,
    known: &BTreeSet<String>,
    step: &BatchStep<'_>,
    launches: &mut Launches,
) -> Result<GroupSnapshot, BatchError> {
    // Time spent waiting on throttling (the calls' repeats, the slower polls) is not the
    // batch's: its own deadline moves by as much, up to the release's, which does not move.
    // Returns the deadline and whether it is the release's.
    let throttled_before = group.throttle().waited;
    let mut paced = Duration::ZERO;
    let deadline_now = |paced: Duration| {
        if step.release_deadline_binds {
            return (step.deadline, true);
        }
        let moved =
            step.deadline + group.throttle().waited.saturating_sub(throttled_before) + paced;
        if moved >= step.release_deadline {
            (step.release_deadline, true)
        } else {
            (moved, false)
        }
    };
    // An instance still in its health check grace period has not been checked yet.
    let warmup = Duration::from_secs(settings.instance_warmup_secs).max(step.grace);
    let target = &settings.target_image_id;
    let mut healthy_since: BTreeMap<String, Instant> = BTreeMap::new();
    let mut launched: Vec<String> = vec![];
    let mut attempt = 0;
    let mut failed_reads = 0;
    loop {
        let (snap, observed) = match group.poll_observed().await {
            Ok(x) => x,
            Err(e) => {
                let deadlines = (deadline_now(paced).0, step.release_deadline);
                wait_after_failed_read(group, &e, deadlines, &mut failed_reads)
                    .await
                    .map_err(|b| BatchError {
                        launched: vec![],
                        ..b
                    })?;
                continue;
            }
        };
        step.ledger.observe(snap.desired_capacity);
        let desired = snap.desired_capacity;
        let serving = |i: &&release_planner::InstanceSnapshot| {
            matches!(
                i.lifecycle_state,
                LifecycleState::Pending | LifecycleState::InService
            )
        };
        let on_target: Vec<&release_planner::InstanceSnapshot> = snap
            .instances
            .iter()
            .filter(serving)
            .filter(|i| &i.image_id == target)
            .collect();
        // In capacity units when the group weighs its instances (`release_planner::units`).
        let old_remaining = snap
            .instances
            .iter()
            .filter(serving)
            .filter(|i| &i.image_id != target)
            .map(|i| snap.units_of(i))
            .sum::<u32>();
        let needed = desired.saturating_sub(old_remaining);
        launched = on_target
            .iter()
            .filter(|i| !known.contains(&i.id))
            .map(|i| i.id.clone())
            .collect();
        // Only instances in service or on their way: those a batch removed are leaving, and
        // leaving through the group takes its draining and hooks, well into the next batches.
        launches.seen.extend(
            snap.instances
                .iter()
                .filter(serving)
                .filter(|i| !known.contains(&i.id))
                .map(|i| i.id.clone()),
        );
        let strays: Vec<&release_planner::InstanceSnapshot> = snap
            .instances
            .iter()
            .filter(serving)
            .filter(|i| !known.contains(&i.id) && &i.image_id != target)
            .collect();
        if let Some(first) = strays.first() {
            let ids: Vec<&str> = strays.iter().map(|i| i.id.as_str()).collect();
            let why = why_not_target(group, step.launch, target).await;
            return Err(BatchError::new(
                format!(
                    "the group launched {} instance(s) that run {}, not {target} ({}): {why}",
                    strays.len(),
                    first.image_id,
                    ids.join(", ")
                ),
                launched,
                FailKind::NoProgress,
            ));
        }
        // Capacity others added is launched too, and is no sign of going round in circles.
        let budget = launches.budget.map(|b| b + step.ledger.added() as usize);
        if let Some(budget) = budget.filter(|b| launches.seen.len() > *b) {
            return Err(BatchError::new(
                format!(
                    "the group has launched {} instances during this release, more than it can need ({budget}: the instances to replace plus one batch's retry); it is replacing instances on its own (failing health checks?) — stopping instead of going round in circles",
                    launches.seen.len()
                ),
                launched,
                FailKind::NoProgress,
            ));
        }
        // The group itself declared a new instance unhealthy: it will not recover.
        if let Some(bad) = on_target
            .iter()
            .find(|i| !known.contains(&i.id) && i.health == release_planner::Health::Unhealthy)
        {
            return Err(BatchError::new(
                format!("new instance {} was marked Unhealthy by the group", bad.id),
                launched,
                FailKind::Unhealthy,
            ));
        }
        let ids: Vec<String> = on_target.iter().map(|i| i.id.clone()).collect();
        let healthy = match group.healthy(&snap, &ids, cfg.health).await {
            Ok(h) => h,
            Err(e) => {
                let deadlines = (deadline_now(paced).0, step.release_deadline);
                wait_after_failed_read(group, &e, deadlines, &mut failed_reads)
                    .await
                    .map_err(|b| BatchError {
                        launched: vec![],
                        ..b
                    })?;
                continue;
            }
        };
        failed_reads = 0;
        let (deadline, release_deadline_binds) = deadline_now(paced);
        let now = Instant::now();
        healthy_since.retain(|id, _| healthy.contains(id));
        // Instances from before this batch have served already: no warm-up for them.
        let serving_already = snap.units_of_ids(healthy.iter().filter(|id| known.contains(*id)));
        for id in healthy.iter().filter(|id| !known.contains(*id)) {
            healthy_since.entry(id.clone()).or_insert(observed);
        }
        let ready = serving_already
            + snap.units_of_ids(
                healthy_since
                    .iter()
                    .filter(|(_, t)| now.duration_since(**t) >= warmup)
                    .map(|(id, _)| id),
            );
        if ready >= needed {
            return Ok(snap);
        }
        if now >= deadline {
            if release_deadline_binds {
                return Err(BatchError::new(
                    format!(
                        "the release's timeout ({}) ran out while {ready} of {needed} {} on {target} were healthy and warmed up — the group is consistent, apply again to continue (or raise `timeouts`)",
                        humantime(cfg.total_timeout),
                        counted(&snap)
                    ),
                    vec![],
                    FailKind::Stopped,
                ));
            }
            let source = match cfg.health {
                HealthSource::Ec2 => "group/EC2 health",
                HealthSource::Elb => "load balancer health",
            };
            return Err(BatchError::new(
                format!(
                    "only {ready} of {needed} {} on {target} became healthy ({source}) and warmed up in time (new: {})",
                    counted(&snap),
                    if launched.is_empty() { "none".into() } else { launched.join(", ") }
                ),
                launched,
                FailKind::Unhealthy,
            ));
        }
        // Wake up exactly when the earliest warm-up ends, or poll with backoff.
        let until_warm = healthy_since
            .values()
            .map(|t| (*t + warmup).saturating_duration_since(now))
            .filter(|d| !d.is_zero())
            .min();
        let backoff = Backoff::SECONDS.delay(attempt);
        let delay = match until_warm {
            // A poll just before the warm-up ends learns nothing the one at its end won't.
            Some(w) if w <= backoff + Duration::from_millis(250) => w,
            _ => backoff,
        }
        .min(deadline.saturating_duration_since(now));
        attempt += 1;
        // Throttled: poll less, leaving the account's requests to the calls that change things.
        let pacing = group.throttle().pacing;
        paced += pacing;
        tokio::time::sleep(delay.max(Duration::from_millis(20)) + pacing).await;
    }
}

/// Makes room for a decrementing termination of `units` at the group's minimum size: AWS refuses
/// one that takes desired capacity below it. Only a weighted group gets there (the instances it
/// launched for a surge may weigh more than the surge added). Lowering desired capacity instead
/// would let the group's own scale-in pick other instances, serving ones of older launch settings
/// first. The restore puts the minimum back from the record.
async fn room_at_min(
    group: &dyn GroupApi,
    ledger: &Ledger,
    size: &mut (u32, u32, u32),
    units: u32,
    weighted: bool,
) {
    let (desired, min, max) = *size;
    if !weighted || desired.saturating_sub(units) >= min {
        return;
    }
    let lower = desired.saturating_sub(units);
    let set = group.set_capacity(desired, lower, max).await;
    ledger.set(desired, set.is_ok());
    match set {
        Ok(()) => size.1 = lower,
        Err(e) => {
            tracing::warn!("could not lower the group's minimum size to remove an instance: {e}")
        }
    }
}

/// What a batch's wait counts: capacity units in a group that weighs its instances.
fn counted(snap: &GroupSnapshot) -> &'static str {
    if snap.is_weighted() {
        "capacity unit(s)"
    } else {
        "instance(s)"
    }
}

/// Why the group launches instances that do not run `target`, as far as the group tells.
async fn why_not_target(
    group: &dyn GroupApi,
    expected: Option<&LaunchSetting>,
    target: &str,
) -> String {
    let now = group.launch().await.ok().flatten();
    let resolves_to = group.snapshot().await.ok().and_then(|s| s.launch_image_id);
    match (expected, &now, resolves_to) {
        (Some(e), Some(n), image) if e != n => format!(
            "the group's launch setting was changed by someone else during the release: it is {} now (image {}), not {} — stop the other tool or pipeline, then apply again",
            n.describe(),
            image.as_deref().unwrap_or("unknown"),
            e.describe()
        ),
        (_, Some(n), Some(image)) if image != target => format!(
            "the group's launch setting {} resolves to {image} (a `resolve:ssm:` parameter, or a launch setting naming another image)",
            n.describe()
        ),
        (_, Some(n), Some(_)) => format!(
            "the group's launch setting {} resolves to {target}, so these instances did not come from it: a warm pool holding instances launched earlier (refresh or delete the pool), or instances attached by someone else",
            n.describe()
        ),
        _ => "the group's launch setting could not be read".into(),
    }
}

/// Points the group back at its previous launch setting and replaces the instances already on
/// the new image, batch by batch, with the same health checks.
/// Where a rollback returns to, and the release's state it carries on with.
struct RollBack<'a> {
    previous: &'a LaunchSetting,
    previous_image: &'a str,
    ledger: &'a Ledger,
    grace: Duration,
    /// The group had a warm pool at the start: it is refreshed back too.
    had_pool: bool,
}

async fn roll_back(
    group: &dyn GroupApi,
    cfg: &ReleaseConfig,
    record: &Record,
    back_to: RollBack<'_>,
    cancel: &Cancel,
) -> Result<Vec<String>, String> {
    let RollBack {
        previous,
        previous_image,
        ledger,
        grace,
        had_pool,
    } = back_to;
    // The target was checked before the release began, but it can be deregistered while the
    // release runs (Terraform destroying the old image in the same apply): pointing the group
    // at it then leaves a group that cannot launch anything. A failed read says nothing about
    // the image, so it does not stop the rollback the release was checked for.
    match group.image_launchable(previous_image).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "not rolled back: the previous image {previous_image} no longer exists or is not available (deregistered during the release?), and a group pointed at it could not launch; the group stays on the new launch setting. Restore or re-create {previous_image} and point image_id at it, or fix the new image and apply again"
            ))
        }
        Err(e) => tracing::warn!(image = %previous_image, "could not check the rollback target again ({e}); rolling back onto it as checked before the release"),
    }
    tracing::warn!(to = %previous.describe(), image = %previous_image, "rolling back");
    group
        .set_launch(previous)
        .await
        .map_err(|e| e.to_string())?;
    let mut notes = vec![format!(
        "the group launches {} again ({})",
        previous_image,
        previous.describe()
    )];
    // The pool refilled from the release's image: back onto the previous one before any batch.
    match warm_pool::refresh(group, had_pool, previous_image).await {
        Ok(r) => notes.extend(r.note(previous_image)),
        Err(e) => notes.push(format!(
            "the warm pool was not refreshed back onto {previous_image} ({e}); apply again"
        )),
    }
    let back = ReleaseSettings {
        target_image_id: previous_image.to_string(),
        checkpoints: vec![],
        ..cfg.settings.clone()
    };
    // Rollback gets its own time budget: stopping half-way back would be the worst outcome.
    let run = Run {
        planned: None,
        launch: Some(previous),
        cancel,
        deadline: Instant::now() + cfg.total_timeout,
        ledger,
        grace,
        pass: Pass::Rollback,
    };
    match execute_batches(group, cfg, &back, record, run).await {
        Ok(done) => {
            let n: usize = done.batches.iter().map(Vec::len).sum();
            notes.push(format!(
                "{n} instance(s) replaced back onto {previous_image}"
            ));
            Ok(notes)
        }
        Err(f) => {
            // The rollback's own failed batch leaves the group above its capacity just as a
            // failed batch of the release does; left to the restore's surplus removal, which
            // prefers the release's image, healthy instances would go before these.
            let cleaned = if f.kind.is_failed_release() && !f.launched.is_empty() {
                format!(
                    "; {}",
                    remove_failed_batch(group, &back, ledger, &f.launched).await
                )
            } else {
                String::new()
            };
            Err(format!(
                "the group launches {} again ({}), but replacing the new instances back failed: {} (after replacing back {}){cleaned}",
                previous_image,
                previous.describe(),
                f.what,
                f.batches
                    .iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

/// Terminates the new instances of a batch that failed, those that do not serve first (pending,
/// unhealthy), one at a time; a serving one whose termination would take the group's healthy
/// in-service instances below the release's floor stays (the restore then removes what is left
/// above the group's capacity, again not-serving first). Surge: each termination lowers desired
/// capacity, as the batch raised it; replace: the group launches a replacement. Returns what it
/// did, for the error. A failed read says nothing about the instances: they stay, for the
/// restore (which reads again) or the next apply.
async fn remove_failed_batch(
    group: &dyn GroupApi,
    settings: &ReleaseSettings,
    ledger: &Ledger,
    launched: &[String],
) -> String {
    let snap = match group.snapshot().await {
        Ok(s) => s,
        Err(e) => {
            return format!(
                "the failed batch's new instances ({}) could not be looked at before their removal ({e}); left for the restore",
                launched.join(", ")
            )
        }
    };
    ledger.observe(snap.desired_capacity);
    let floor = settings.healthy_floor(&snap, ledger.base());
    // Capacity units, as the floor (one per instance without weights).
    let mut healthy = snap.healthy_units();
    let mut doomed: Vec<&release_planner::InstanceSnapshot> = snap
        .instances
        .iter()
        .filter(|i| launched.contains(&i.id))
        .filter(|i| {
            matches!(
                i.lifecycle_state,
                LifecycleState::Pending | LifecycleState::InService
            )
        })
        .collect();
    doomed.sort_by_key(|i| (i.is_healthy_in_service(), i.id.clone()));
    let decrement = settings.strategy == Strategy::Surge;
    let (mut terminated, mut kept) = (vec![], vec![]);
    let mut size = (snap.desired_capacity, snap.min_size, snap.max_size);
    for i in doomed {
        let serving = i.is_healthy_in_service();
        let units = snap.units_of(i);
        if serving && healthy.saturating_sub(units) < floor {
            kept.push(i.id.clone());
            continue;
        }
        if decrement {
            // The failed batch's instances go whatever they weigh (the floor kept those it
            // needs above).
            room_at_min(group, ledger, &mut size, units, snap.is_weighted()).await;
            ledger.decremented(units);
        }
        match group.terminate(&i.id, decrement).await {
            Ok(()) => {
                if decrement {
                    size.0 = size.0.saturating_sub(units);
                }
                terminated.push(i.id.clone());
                if serving {
                    healthy -= units;
                }
            }
            Err(e) => {
                tracing::warn!(instance_id = %i.id, "could not terminate a new instance of the failed batch: {e}")
            }
        }
    }
    let mut note = format!(
        "terminated the failed batch's new instances ({})",
        if terminated.is_empty() {
            "none".to_string()
        } else {
            terminated.join(", ")
        }
    );
    if !kept.is_empty() {
        note.push_str(&format!(
            ", kept {} healthy one(s) ({}) so that the group keeps {floor} healthy instances in service",
            kept.len(),
            kept.join(", ")
        ));
    }
    note
}

/// Puts back what the release changed on the group: capacity, suspended processes, record.
/// Runs on every exit path; each step is attempted even if an earlier one failed. The record is
/// deleted (with the lock, by [`run`]: `record_done`) only once everything it promises is
/// restored: otherwise the next apply would record
/// the half-restored group (inflated capacity, processes still suspended) as the group's own
/// settings and never put them back. Kept, it makes the next apply finish the restore.
/// `keep_previous`: the release stopped before completing; the record stays, marked paused,
/// for its previous launch setting (see [`Record::paused`]). `surplus`: what
/// [`remove_surplus`] prefers.
async fn restore(
    group: &dyn GroupApi,
    record: &Record,
    ledger: &Ledger,
    surplus: (&str, &BTreeSet<String>),
    keep_previous: bool,
    record_done: &RecordDone,
) -> Restored {
    let mut notes = vec![];
    let mut complete = true;
    match remove_surplus(group, record, ledger, surplus).await {
        Ok(ids) => {
            if !ids.is_empty() {
                notes.push(format!(
                    "removed {} surplus instance(s) of the interrupted surge ({})",
                    ids.len(),
                    ids.join(", ")
                ));
            }
            // The group's own capacity with what others changed during the release.
            let desired = ledger.restored(record.min, record.max);
            let set = group.set_capacity(desired, record.min, record.max).await;
            ledger.set(desired, set.is_ok());
            let others = if ledger.changed() {
                format!(
                    " (desired {} before the release; set to {} by someone else during it, kept)",
                    record.desired,
                    ledger.base()
                )
            } else {
                String::new()
            };
            match set {
                Ok(()) => notes.push(format!(
                    "capacity desired {desired} / min {} / max {}{others}",
                    record.min, record.max
                )),
                Err(e) => {
                    complete = false;
                    notes.push(format!(
                        "COULD NOT RESTORE CAPACITY (desired {desired}, min {}, max {}){others}: {e}",
                        record.min, record.max
                    ))
                }
            }
        }
        // Lowering desired now would let the group scale in healthy instances.
        Err(e) => {
            complete = false;
            notes.push(format!(
                "COULD NOT RESTORE CAPACITY (desired {}, min {}, max {}): the surge's surplus instances could not be removed first: {e}",
                record.desired, record.min, record.max
            ));
        }
    }
    if !record.suspended.is_empty() {
        match group.resume(&record.suspended).await {
            Ok(()) => notes.push(format!("resumed {}", record.suspended.join(", "))),
            Err(e) => {
                complete = false;
                notes.push(format!(
                    "COULD NOT RESUME {}: {e}",
                    record.suspended.join(", ")
                ))
            }
        }
    }
    if !complete {
        record_outside_capacity(group, record, ledger).await;
        notes.push(format!(
            "the release record (group tag {RECORD_TAG}) is kept: the next apply finishes restoring the group's settings"
        ));
    } else if keep_previous {
        let paused = Record {
            paused: true,
            ..record.clone()
        };
        if let Err(e) = group.set_tag(RECORD_TAG, &paused.to_string()).await {
            complete = false;
            notes.push(format!(
                "could not mark the release record as paused (the next apply's rollback would not know the previous image {}): {e}",
                record.previous_image
            ));
        }
    } else {
        record_done.set();
    }
    Restored { notes, complete }
}

/// What [`restore`] did; `complete` is false when some setting could not be put back (the
/// record then stays for the next apply).
struct Restored {
    notes: Vec<String>,
    complete: bool,
}

/// A surge that failed half-way (its new instances not known to the failure path, e.g. when the
/// answer to the capacity change was lost, or a rollback that could not run) leaves the group
/// above its own desired capacity. Lowering desired would let the group choose what to scale in,
/// and AWS's default termination policy takes the instances of the OLDEST launch setting first:
/// the healthy old ones, while the surplus new ones may not serve yet. So the surplus is removed
/// here, one decrementing termination at a time: instances that do not serve first, then those
/// that did not already serve when this apply began (`proven`: the group reports an instance
/// Healthy during its grace period, unchecked, so only one that served before is known to),
/// then those on the release's target image; lowering desired afterwards then scales nothing in.
/// Every termination is attempted; an error after them means some surplus is left.
async fn remove_surplus(
    group: &dyn GroupApi,
    record: &Record,
    ledger: &Ledger,
    (target, proven): (&str, &BTreeSet<String>),
) -> Result<Vec<String>, AwsError> {
    let snap = group.snapshot().await?;
    ledger.observe(snap.desired_capacity);
    let own = ledger.restored(record.min, record.max);
    let mut live: Vec<&release_planner::InstanceSnapshot> = snap
        .instances
        .iter()
        .filter(|i| {
            matches!(
                i.lifecycle_state,
                LifecycleState::Pending | LifecycleState::InService
            )
        })
        .collect();
    // Only what exists because desired was raised; a group still scaling in on its own is left
    // to finish.
    // In capacity units when the group weighs its instances.
    let live_units: u32 = live.iter().map(|i| snap.units_of(i)).sum();
    let surplus = live_units.min(snap.desired_capacity).saturating_sub(own);
    live.sort_by_key(|i| {
        (
            i.is_healthy_in_service(),
            proven.contains(&i.id),
            i.image_id != target,
            i.id.clone(),
        )
    });
    let mut removed = vec![];
    let mut failed = None;
    let mut removed_units = 0u32;
    let mut size = (snap.desired_capacity, snap.min_size, snap.max_size);
    for i in live {
        if removed_units >= surplus {
            break;
        }
        let units = snap.units_of(i);
        let serving = i.is_healthy_in_service();
        if removed_units + units > surplus {
            // Heavier than what is left (weights): one that serves stays (the group is then
            // above its own capacity by less than it); one that does not goes, or lowering
            // desired capacity would let the group's scale-in take serving instances instead.
            if serving {
                break;
            }
            room_at_min(group, ledger, &mut size, units, snap.is_weighted()).await;
        }
        removed_units += units;
        ledger.decremented(units);
        match group.terminate(&i.id, true).await {
            Ok(()) => {
                size.0 = size.0.saturating_sub(units);
                removed.push(i.id.clone())
            }
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// `rel-` and 12 hex digits.
pub fn new_release_id() -> String {
    format!("rel-{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff)
}
