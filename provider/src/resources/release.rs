//! `rolling_asg_release`: moves an existing Auto Scaling group onto an image, in batches that are
//! computed at plan time (and shown), executed at apply, waited for, and rolled back on failure.

mod args;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use release_planner::{
    plan_release, render_json, GroupSnapshot, LaunchSource, LifecycleState, Preview,
};

use crate::bake::name::rfc3339;
use crate::provider::{AwsCx, Cx};
use crate::rollout::{self, AwsGroup, GroupApi, HealthSource, LaunchMode, ReleaseConfig, Status};
use crate::tf::args::Arg;
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::resource::{ApplyRequest, PlanRequest, Planned, Resource};
use crate::tf::schema::{bool, list_of, number, string, Attribute, Block, NestedBlock, Schema};
use crate::tf::value::Value;
use args::{launch_mode_name, parse, Args, DEFAULT_TIMEOUT_TEXT};

pub const TYPE_NAME: &str = "rolling_asg_release";
/// Stands for the target image when it is not known at plan time (baked in the same apply).
const IMAGE_PLACEHOLDER: &str = "(image known after apply)";
/// The target written into the `schedule` JSON. Terraform re-plans at apply time once the
/// image id is known, and a value known at plan time must not change then; so the schedule
/// names the target only by reference — the `image_id` attribute holds it.
pub const SCHEDULE_TARGET: &str = "(image_id)";

pub struct ReleaseResource;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("Moves an existing Auto Scaling group onto `image_id`: the group's launch template gets a new version (only the image changed) and is pinned to it — or a new launch configuration for legacy groups — then the instances not on the image are replaced in batches, each waited for until healthy and warmed up. The batches are computed at plan time and shown in the plan (`planned_batches`, `schedule`). Declare it with `provider = immutable`.")
            .attr(Attribute::required("autoscaling_group_name", string(), "Name of the existing group.").forces_new())
            .attr(Attribute::required("image_id", string(), "The AMI to run, typically `immutable_image.<name>.id`."))
            .attr(Attribute::optional_computed("launch_mode", string(), "`launch_template` (new template version, group pinned to it), `launch_configuration` (new launch configuration, legacy groups) or `external` (the template is managed elsewhere, e.g. by `aws_launch_template`, and already points at the image: only instances are replaced). Inferred from the group when not set: `launch_template` or `launch_configuration`."))
            .attr(Attribute::defaulted("batch_size", string(), "25%", "Instances per batch: a count (`\"3\"`) or a percentage of the desired capacity (`\"25%\"`), rounded up; never 0 and never more than what is left."))
            .attr(Attribute::defaulted("strategy", string(), "surge", "`surge`: launch the batch's replacements first (desired capacity + batch; max raised for the step if needed), then terminate the old ones — capacity never drops. `replace`: terminate first, then wait for the replacements — no extra capacity, bounded by `min_healthy_percentage`."))
            .attr(Attribute::optional("min_healthy_percentage", number(), "With `replace`, the share of desired capacity that stays healthy and in service at every step (default: the group's instance maintenance policy's `MinHealthyPercentage`, else 90; 100 is only possible with `surge`). Below the policy's minimum it is refused at plan."))
            .attr(Attribute::optional("instance_warmup", string(), "How long a new instance must stay healthy before it counts, e.g. `90s` (default: the group's `DefaultInstanceWarmup`, else `60s`). With `health_check = \"ec2\"` a new instance is waited for at least the group's health check grace period."))
            .attr(Attribute::optional_computed("health_check", string(), "`ec2`: the group's own health (in service and healthy). `elb`: also healthy in every target group and classic load balancer of the group. Default: `elb` when the group has any, else `ec2`."))
            .attr(Attribute::defaulted("pause_between_batches", string(), "0s", "Wait between batches, e.g. `2m`, to watch dashboards."))
            .attr(Attribute::defaulted("batch_timeout", string(), "15m", "How long one batch may take to become healthy before the release fails (and rolls back)."))
            .attr(Attribute::optional("checkpoints", list_of(number()), "Percentages of the group (of its capacity units, in a weighted group) after which the apply stops, e.g. `[10, 50]`: the release resumes with the next apply, which is the promotion."))
            .attr(Attribute::defaulted("auto_rollback", bool(), "true", "When a batch fails: point the group back at its previous launch setting and replace the new instances back onto the previous image."))
            .attr(Attribute::defaulted("suspend_processes", list_of(string()), "[\"AZRebalance\",\"ScheduledActions\"]", "Auto Scaling processes suspended for the release and resumed after it, also on failure (processes suspended before the release stay suspended). `Launch`, `Terminate` and `AddToLoadBalancer` cannot be suspended: the release needs them. Dynamic scaling keeps working by default (the release keeps the capacity it changes and adds its surge to it); add `AlarmNotification` to stop scaling policies for the release."))
            .attr(Attribute::defaulted("scale_in_protected_instances", string(), "wait", "Old instances protected from scale in (a release's termination ignores the protection, so it never replaces them silently): `wait` for the protection to be removed (up to `batch_timeout`), then refuse before any change; `replace` them like the others; `ignore` them (they keep their image, the release completes without them)."))
            .attr(Attribute::defaulted("standby_instances", string(), "wait", "Old instances in Standby (out of service, often kept there by someone looking at them, so never taken away silently): `wait` for them to return to service (up to `batch_timeout`), then replace them, or refuse before any change; `replace`: return them to service (`ExitStandby`, which adds each to desired capacity, by its weight in a weighted group, kept after the release), then replace them like the others; `ignore` them (they stay in Standby on their image)."))
            .attr(Attribute::defaulted("keep_launch_template_versions", number(), "10", "After a release completes, the launch template versions this group's releases made beyond the newest this many are deleted (each release adds one; AWS keeps at most 10,000 per template). Never the group's current version, the version a rollback returns to, the template's default or latest version, nor versions made by anyone else. `0`: never delete."))
            .attr(Attribute::computed("id", string(), "The group's name."))
            .attr(Attribute::computed("previous_image_id", string(), "The image the group launched when the release was planned. With `launch_mode = \"external\"`: the image most of the instances to replace run (the launch template may already point at `image_id`)."))
            .attr(Attribute::computed("launch_version", string(), "What the group launches from after the release: `<template id> version <n>`, or the launch configuration's name."))
            .attr(Attribute::computed("planned_batches", list_of(list_of(string())), "The batches computed at plan time: instance ids, in order. If the group changes between plan and apply, Terraform stops the apply before any change (the final plan differs); if it changes during the release, each batch is recomputed and the difference logged (see `replaced_instances`)."))
            .attr(Attribute::computed("schedule", string(), "The plan-time schedule as JSON (the `planner` preview format, `schema_version` 1): batches, availability zones, capacity before/during/after each step, estimated duration, warnings. Its target image is written as `(image_id)` — the value of `image_id` — so the schedule stays the same when the image is baked in the same apply."))
            .attr(Attribute::computed("replaced_instances", list_of(string()), "Instances replaced by the last apply, in order."))
            .attr(Attribute::computed("outdated_instances", list_of(string()), "Instances of the group (and of its warm pool) not on `image_id`, as last read: non-empty after an interrupted release, a checkpoint, or a scale-out from an old launch setting — the next plan replaces them."))
            .attr(Attribute::computed("status", string(), "`complete`, or `checkpoint` when the apply stopped at a checkpoint."))
            .attr(Attribute::computed("completed_at", string(), "When the last apply finished (RFC 3339)."))
            .block(NestedBlock::single(
                "timeouts",
                Block::new("How long the whole release may take, as durations like `60m`.")
                    .attr(Attribute::optional("create", string(), &format!("First release. Default `{DEFAULT_TIMEOUT_TEXT}`.")))
                    .attr(Attribute::optional("update", string(), &format!("Later releases. Default `{DEFAULT_TIMEOUT_TEXT}`."))),
            )),
    }
}

/// `launch_mode` as configured, else inferred from how the group launches.
fn infer_mode(a: &Args, snap: &GroupSnapshot) -> Result<LaunchMode, Diagnostics> {
    if let Some(m) = a.launch_mode.known() {
        return Ok(*m);
    }
    match &snap.launch {
        LaunchSource::LaunchTemplate { .. } | LaunchSource::MixedInstancesPolicy { .. } => {
            Ok(LaunchMode::LaunchTemplate)
        }
        LaunchSource::LaunchConfiguration { .. } => Ok(LaunchMode::LaunchConfiguration),
        other => Err(Diagnostic::error(
            "Cannot infer launch_mode",
            format!("Group {} launches from {other}; set launch_mode = \"external\" and point its launch template at the image in the tool that owns it.", snap.name),
        )
        .at(AttrPath::root("launch_mode"))
        .into()),
    }
}

/// What a mixed instances policy allows, refused here rather than after the lock: a launch
/// configuration cannot be written into it, and an override with its own launch template must be
/// movable onto the image (`GroupSnapshot::unmovable_override`).
fn check_mixed(
    mode: LaunchMode,
    snap: &GroupSnapshot,
    target: Option<&str>,
) -> Result<(), Diagnostics> {
    if !matches!(snap.launch, LaunchSource::MixedInstancesPolicy { .. }) {
        return Ok(());
    }
    if mode == LaunchMode::LaunchConfiguration {
        return Err(Diagnostic::error(
            "A mixed instances policy has no launch configuration",
            format!("Group {} launches from a {}; use launch_mode = \"launch_template\" (a new version of the policy's launch template) or \"external\".", snap.name, snap.launch),
        )
        .at(AttrPath::root("launch_mode"))
        .into());
    }
    let Some(target) = target.filter(|_| mode == LaunchMode::LaunchTemplate) else {
        return Ok(());
    };
    match snap.unmovable_override(target) {
        None => Ok(()),
        Some(o) => Err(Diagnostic::error(
            format!("Cannot move {} of group {}", o.label, snap.name),
            o.to_string(),
        )
        .at(AttrPath::root("image_id"))
        .into()),
    }
}

/// `health_check` as configured, else `elb` when the group has load balancers.
fn health(a: &Args, snap: &GroupSnapshot) -> HealthSource {
    a.health_check
        .known()
        .copied()
        .unwrap_or_else(|| HealthSource::default_for(snap))
}

fn outdated(snap: &GroupSnapshot, image: &str) -> Vec<String> {
    let pool = snap.warm_pool.iter().flat_map(|p| p.outdated(image));
    snap.instances
        .iter()
        .filter(|i| {
            matches!(
                i.lifecycle_state,
                LifecycleState::InService | LifecycleState::Pending
            ) && i.image_id != image
        })
        // A warm pool instance on another image would come back with the next scale-out.
        .chain(pool)
        .map(|i| i.id.clone())
        .collect()
}

/// The image the release moves away from, as the plan shows it. Usually what the group launches.
/// In `external` mode the other tool points the launch template at the new image in the same
/// apply — after the plan, before Terraform re-plans at apply time, when a value known at plan
/// time must not change — so there it is the image most of the instances to replace run (none
/// when there is nothing to replace): the template's move leaves the instances as they are.
fn previous_image(a: &Args, snap: &GroupSnapshot, target: Option<&str>) -> Option<String> {
    if a.launch_mode != Arg::Known(LaunchMode::External) {
        return snap.launch_image_id.clone();
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for id in outdated(snap, target.unwrap_or_default()) {
        if let Some(i) = snap.instances.iter().find(|i| i.id == id) {
            *count.entry(i.image_id.as_str()).or_default() += 1;
        }
    }
    // The most common; among equals the first in id order, so the answer is stable.
    count
        .into_iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map(|(image, _)| image.to_string())
        .filter(|image| !image.is_empty())
}

/// In `external` mode a group pinned to a launch template version number is moved by the tool
/// that owns it (`version = aws_launch_template.web.latest_version`), typically in the same apply
/// as the new image. The plan's schedule records the group's launch setting, and Terraform's
/// apply-time re-plan may not change it: say so before that apply fails.
fn pinned_external(a: &Args, snap: &GroupSnapshot) -> Option<Diagnostic> {
    let version = match &snap.launch {
        LaunchSource::LaunchTemplate { version, .. }
        | LaunchSource::MixedInstancesPolicy { version, .. } => version,
        _ => return None,
    };
    let pinned = !version.is_empty() && version.chars().all(|c| c.is_ascii_digit());
    (a.launch_mode == Arg::Known(LaunchMode::External) && pinned).then(|| {
        Diagnostic::warning(
            format!("Group {} is pinned to launch template version {version}", snap.name),
            "With launch_mode = \"external\", run the group on \"$Default\" (with update_default_version = true on the aws_launch_template) or \"$Latest\". A pinned version changed in the same apply as the image (version = aws_launch_template.<name>.latest_version) changes the group under this plan, and Terraform then stops the apply with \"Provider produced inconsistent final plan\". See examples/existing-asg.",
        )
        .at(AttrPath::root("launch_mode"))
    })
}

fn strings(v: Vec<String>) -> Value {
    Value::List(v.into_iter().map(Value::String).collect())
}

fn set(v: &mut Value, attr: &str, new: Value) {
    if let Value::Object(f) = v {
        f.insert(attr.to_string(), new);
    }
}

fn unknown() -> Value {
    Value::Unknown(Default::default())
}

async fn snapshot(
    cx: &Cx,
    name: &str,
) -> Result<(Arc<crate::aws::Aws>, GroupSnapshot), Diagnostics> {
    let aws = cx.aws_arc()?;
    let group = AwsGroup::new(aws.clone(), name).await?;
    let snap = group.snapshot().await.map_err(|e| {
        let d = if e.message.contains("does not exist") {
            Diagnostic::error(
                "Auto Scaling group not found",
                format!("{name:?} does not exist in this region."),
            )
        } else {
            Diagnostic::error("Cannot read the Auto Scaling group", e.to_string())
        };
        Diagnostics::from(d.at(AttrPath::root("autoscaling_group_name")))
    })?;
    Ok((aws, snap))
}

/// The image a failed release rolls back to: the one the group launches now, unless the
/// release cannot roll back (unknown until apply: the engine checks again then), already targets
/// it, or it is an SSM alias (resolved at launch).
fn rollback_target<'s>(a: &Args, snap: &'s GroupSnapshot, target: Option<&str>) -> Option<&'s str> {
    let rolls_back =
        a.auto_rollback == Arg::Known(true) && a.launch_mode != Arg::Known(LaunchMode::External);
    let previous = snap.launch_image_id.as_deref()?;
    (rolls_back
        && Some(previous) != target
        && !previous.starts_with(rollout::group::SSM_IMAGE_PREFIX))
    .then_some(previous)
}

/// The target image must exist; the image the group launches now is what a failed release rolls
/// back to, so when it is gone (deregistered by another stack, or by the replacement of its
/// `immutable_image`) the release is refused here, at `auto_rollback`, and again at apply by the
/// engine. Both are looked up in one DescribeImages call.
async fn check_images(
    aws: &crate::aws::Aws,
    a: &Args,
    snap: &GroupSnapshot,
    target: Option<&str>,
) -> Result<(), Diagnostics> {
    let previous = rollback_target(a, snap, target);
    let ids: Vec<&str> = target.into_iter().chain(previous).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let found = aws.images(None, &ids).await?;
    let state = |i: usize| {
        found[i]
            .as_ref()
            .and_then(|img| img.state())
            .map(|s| s.as_str().to_owned())
    };
    if let Some(image) = target {
        if matches!(state(0).as_deref(), None | Some("deregistered")) {
            return Err(Diagnostic::error(
                "Image not found",
                format!(
                    "{image} does not exist in this region (or is not shared with this account)."
                ),
            )
            .at(AttrPath::root("image_id"))
            .into());
        }
    }
    if let Some(previous) = previous {
        if state(ids.len() - 1).as_deref() != Some("available") {
            return Err(Diagnostic::error(
                "Rollback target is gone",
                format!("Group {} launches {previous}, which no longer exists: a failed release could not roll back onto it (and the group cannot scale out now). Restore the image, or set auto_rollback = false to release without a rollback.", snap.name),
            )
            .at(AttrPath::root("auto_rollback"))
            .into());
        }
    }
    Ok(())
}

/// The image the group ran before, once a release away from it succeeded: deleted now when
/// its `immutable_image` was destroyed while the group still ran it (see
/// `bake::retention::in_use`). A failure here only leaves the image behind.
async fn delete_released_image(aws: &crate::aws::Aws, image: &str) {
    let deleted = match aws.ec2().await {
        Ok(ec2) => crate::bake::retention::delete_released(&ec2, image).await,
        Err(e) => Err(e),
    };
    if let Err(e) = deleted {
        tracing::warn!(image_id = %image, "could not delete the replaced image: {e}");
    }
}

/// The launch template versions this group's releases made, beyond the newest `keep`
/// (`rollout::prune`). A failure here only leaves versions behind.
async fn prune_template_versions(
    aws: &crate::aws::Aws,
    group: &str,
    outcome: &rollout::Outcome,
    keep: u32,
) {
    let Some(launch) = &outcome.launch else {
        return;
    };
    // Each template the group launches from (a mixed instances policy's and its overrides'),
    // keeping every version the group uses now or a rollback returns to, whichever template
    // it belongs to.
    let in_use: Vec<(&str, &str)> = launch
        .template_versions()
        .into_iter()
        .chain(
            outcome
                .previous_launch
                .iter()
                .flat_map(|l| l.template_versions()),
        )
        .collect();
    let mut templates: Vec<(&str, i64)> = vec![];
    for (id, version) in launch.template_versions() {
        if let (Ok(n), false) = (
            version.parse::<i64>(),
            templates.iter().any(|(t, _)| *t == id),
        ) {
            templates.push((id, n));
        }
    }
    for (id, current) in templates {
        let protected: Vec<i64> = in_use
            .iter()
            .filter(|(t, _)| *t == id)
            .filter_map(|(_, v)| v.parse::<i64>().ok())
            .collect();
        let pruned = match aws.ec2().await {
            Ok(ec2) => rollout::prune::prune(&ec2, id, group, keep, current, &protected).await,
            Err(e) => Err(e),
        };
        match pruned {
            Ok(deleted) if !deleted.is_empty() => {
                tracing::info!(template = %id, versions = ?deleted, "deleted launch template versions of earlier releases")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(template = %id, "could not prune the launch template versions of earlier releases: {e}")
            }
        }
    }
}

impl ReleaseResource {
    async fn execute(
        &self,
        cx: &Cx,
        req: ApplyRequest<'_>,
        creating: bool,
    ) -> Result<Value, Diagnostics> {
        let a = parse(req.planned)?;
        let name = a
            .autoscaling_group_name
            .clone()
            .required(&AttrPath::root("autoscaling_group_name"))?;
        let image = a.image_id.clone().required(&AttrPath::root("image_id"))?;
        let aws = cx.aws_arc()?;
        let group = AwsGroup::new(aws.clone(), &name).await?;
        let planned: Option<Preview> = req
            .planned
            .get("schedule")
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok());
        // The warm-up the plan resolved from the group (its DefaultInstanceWarmup) is the one
        // the reviewed schedule was timed with.
        let group_warmup = planned.as_ref().map(|p| p.settings.instance_warmup_secs);
        let mode = a.launch_mode.required(&AttrPath::root("launch_mode"))?;
        let cfg = ReleaseConfig {
            release_id: rollout::execute::new_release_id(),
            settings: a.settings(&image, group_warmup)?,
            mode,
            health: a.health_check.required(&AttrPath::root("health_check"))?,
            batch_timeout: a.batch_timeout.required(&AttrPath::root("batch_timeout"))?,
            total_timeout: a.total_timeout(creating)?,
            auto_rollback: a.auto_rollback.required(&AttrPath::root("auto_rollback"))?,
            suspend_processes: match a.suspend_processes.clone().wholly() {
                Arg::Null => vec![],
                other => other.required(&AttrPath::root("suspend_processes"))?,
            },
        };
        let planned_schedule = planned.map(|p| {
            let mut s = p.schedule;
            s.target_image_id = image.clone();
            s
        });
        tracing::info!(group = %name, image = %image, release_id = %cfg.release_id, "release starting");
        let outcome = rollout::run(&group, &cfg, planned_schedule.as_ref(), &cx.cancel)
            .await
            .map_err(|e| {
                let summary = if e.untouched {
                    "Release refused"
                } else {
                    "Release failed"
                };
                Diagnostics::from(Diagnostic::error(summary, format!("group {name}: {e}")))
            })?;
        let after = match outcome.after.clone() {
            Some(after) => after,
            None => group.snapshot().await?,
        };
        if let (Status::Complete, Some(previous)) = (&outcome.status, &outcome.previous_image) {
            delete_released_image(&aws, previous).await;
        }
        if outcome.status == Status::Complete && mode == LaunchMode::LaunchTemplate {
            let keep = a
                .keep_launch_template_versions
                .required(&AttrPath::root("keep_launch_template_versions"))?;
            prune_template_versions(&aws, &name, &outcome, keep).await;
        }
        let mut state = req.planned.clone();
        set(&mut state, "id", Value::String(name.clone()));
        set(
            &mut state,
            "replaced_instances",
            strings(outcome.replaced.clone()),
        );
        set(
            &mut state,
            "outdated_instances",
            strings(outdated(&after, &image)),
        );
        set(
            &mut state,
            "launch_version",
            outcome
                .launch
                .as_ref()
                .map(|l| Value::String(l.describe()))
                .unwrap_or(Value::Null),
        );
        set(
            &mut state,
            "status",
            Value::String(match outcome.status {
                Status::Complete => "complete".into(),
                Status::Checkpoint { .. } => "checkpoint".into(),
            }),
        );
        set(
            &mut state,
            "completed_at",
            Value::String(rfc3339(SystemTime::now())),
        );
        if req.planned.get("previous_image_id").is_unknown() {
            set(
                &mut state,
                "previous_image_id",
                outcome
                    .previous_image
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            );
        }
        for attr in ["planned_batches", "schedule"] {
            if req.planned.get(attr).is_unknown() {
                set(
                    &mut state,
                    attr,
                    if attr == "schedule" {
                        Value::Null
                    } else {
                        strings(vec![])
                    },
                );
            }
        }
        if let Status::Checkpoint { batches_done } = outcome.status {
            cx.warn(Diagnostic::warning(
                "Release paused at a checkpoint",
                format!("{batches_done} batch(es) done on group {name}; run terraform apply again to continue the release."),
            ));
        }
        Ok(state)
    }
}

#[async_trait]
impl Resource<crate::aws::Aws> for ReleaseResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match parse(config) {
            Ok(_) => Diagnostics::new(),
            Err(d) => d,
        }
    }

    async fn plan(&self, cx: &Cx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        let a = parse(req.proposed)?;
        let mut planned = req.proposed.clone();
        let requires_replace = vec![AttrPath::root("autoscaling_group_name")];
        let prior = req.prior;
        let image_changed =
            prior.is_null() || prior.get("image_id") != req.proposed.get("image_id");
        let pending = matches!(prior.get("outdated_instances"), Value::List(l) if !l.is_empty())
            || (!prior.is_null() && prior.get("status").as_str() != Some("complete"));
        if !image_changed && !pending {
            return Ok(Planned {
                state: planned,
                requires_replace,
            });
        }
        for a in [
            "replaced_instances",
            "launch_version",
            "status",
            "completed_at",
            "outdated_instances",
        ] {
            set(&mut planned, a, unknown());
        }
        let Arg::Known(name) = a.autoscaling_group_name.clone() else {
            for attr in [
                "planned_batches",
                "schedule",
                "previous_image_id",
                "launch_mode",
                "health_check",
                "id",
            ] {
                // A mode the configuration sets is planned as set (Terraform insists); only
                // an inferred one waits for the group.
                let configured = matches!(attr, "launch_mode" | "health_check")
                    && !req.config.get(attr).is_null();
                if !configured {
                    set(&mut planned, attr, unknown());
                }
            }
            return Ok(Planned {
                state: planned,
                requires_replace,
            });
        };
        let (aws, snap) = snapshot(cx, &name).await?;
        let image = a.image_id.known().map(String::as_str);
        check_images(&aws, &a, &snap, image).await?;
        set(&mut planned, "id", Value::String(name.clone()));
        // A mode from a value known only after apply stays unknown: reading it as unset would
        // plan the inferred mode, and the apply would then see another one.
        if !a.launch_mode.is_unknown() {
            let mode = infer_mode(&a, &snap)?;
            check_mixed(mode, &snap, image)?;
            set(
                &mut planned,
                "launch_mode",
                Value::from(launch_mode_name(mode)),
            );
        }
        if !a.health_check.is_unknown() {
            let health = health(&a, &snap).as_str();
            set(&mut planned, "health_check", Value::from(health));
        }
        set(
            &mut planned,
            "previous_image_id",
            previous_image(&a, &snap, image)
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        if let Some(w) = pinned_external(&a, &snap) {
            cx.warn(w);
        }
        let unknown_inputs = a.schedule_inputs_unknown();
        if !unknown_inputs.is_empty() {
            // The batches depend on these; planning them from defaults would be a promise the
            // apply breaks ("Provider produced inconsistent final plan").
            tracing::debug!(?unknown_inputs, "schedule known after apply");
            if a.launch_mode.is_unknown() {
                set(&mut planned, "previous_image_id", unknown());
            }
            set(&mut planned, "planned_batches", unknown());
            set(&mut planned, "schedule", unknown());
            return Ok(Planned {
                state: planned,
                requires_replace,
            });
        }
        let s = a.settings(
            image.unwrap_or(IMAGE_PLACEHOLDER),
            snap.replacement.default_instance_warmup_secs,
        )?;
        let schedule = plan_release(&snap, &s).map_err(|e| {
            Diagnostics::from(
                Diagnostic::error("Cannot schedule this release", e.to_string())
                    .at(AttrPath::root(e.attribute())),
            )
        })?;
        for w in &schedule.warnings {
            cx.warn(Diagnostic::warning(
                format!("Release of {name}"),
                w.message.clone(),
            ));
        }
        set(
            &mut planned,
            "planned_batches",
            Value::List(
                schedule
                    .batches
                    .iter()
                    .map(|b| strings(b.instance_ids.clone()))
                    .collect(),
            ),
        );
        let (mut shown_settings, mut shown) = (s.clone(), schedule.clone());
        shown_settings.target_image_id = SCHEDULE_TARGET.into();
        shown.target_image_id = SCHEDULE_TARGET.into();
        set(
            &mut planned,
            "schedule",
            Value::String(render_json(&snap, &shown_settings, &shown)),
        );
        Ok(Planned {
            state: planned,
            requires_replace,
        })
    }

    async fn create(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        self.execute(cx, req, true).await
    }

    async fn update(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        let nothing_to_do = req.planned.get("status").is_known()
            && !req.planned.get("replaced_instances").is_unknown();
        if nothing_to_do {
            // Only settings changed; they apply to the next release.
            return Ok(req.planned.clone());
        }
        self.execute(cx, req, false).await
    }

    async fn delete(&self, _cx: &Cx, prior: &Value) -> Result<(), Diagnostics> {
        tracing::info!(group = ?prior.get("autoscaling_group_name").as_str(), "rolling_asg_release removed from state; the group is left as it is");
        Ok(())
    }

    async fn read(&self, cx: &Cx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let Some(name) = state
            .get("autoscaling_group_name")
            .as_str()
            .map(str::to_string)
        else {
            return Ok(None);
        };
        let aws = cx.aws_arc()?;
        let group = AwsGroup::new(aws.clone(), &name).await?;
        let snap = match group.snapshot().await {
            Ok(s) => s,
            Err(e) if e.message.contains("does not exist") => {
                tracing::info!(group = %name, "the group no longer exists; dropping the release from state");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let image = state.get("image_id").as_str().unwrap_or_default();
        let mut new = state.clone();
        set(
            &mut new,
            "outdated_instances",
            strings(outdated(&snap, image)),
        );
        Ok(Some(new))
    }

    async fn import(&self, cx: &Cx, id: &str) -> Result<Value, Diagnostics> {
        let (_, snap) = snapshot(cx, id).await?;
        let image = snap.launch_image_id.clone().ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import",
                format!("cannot tell which image group {id} launches"),
            ))
        })?;
        let a = Args {
            autoscaling_group_name: Arg::Known(id.into()),
            image_id: Arg::Known(image.clone()),
            ..Args::default()
        };
        let mut fields = BTreeMap::new();
        fields.insert("id".to_string(), Value::String(id.into()));
        fields.insert("autoscaling_group_name".into(), Value::String(id.into()));
        fields.insert("image_id".into(), Value::String(image.clone()));
        let mode = launch_mode_name(infer_mode(&a, &snap)?);
        fields.insert("launch_mode".into(), Value::from(mode));
        fields.insert(
            "health_check".into(),
            Value::from(health(&a, &snap).as_str()),
        );
        fields.insert(
            "outdated_instances".into(),
            strings(outdated(&snap, &image)),
        );
        fields.insert("status".into(), Value::String("complete".into()));
        let block = schema().block;
        let v = crate::tf::plan_helpers::object(&block, fields);
        Ok(crate::tf::plan_helpers::fill_defaults(&block, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::plan_helpers::{fill_defaults, object};
    use release_planner::{BatchSize, Strategy};

    fn validate_config(raw: &Value) -> Diagnostics {
        ReleaseResource.validate(raw)
    }

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        let mut all: Vec<(&str, Value)> = vec![
            ("autoscaling_group_name", Value::String("web".into())),
            ("image_id", Value::String("ami-11111111".into())),
        ];
        all.extend(pairs.iter().cloned());
        object(
            &schema().block,
            all.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        )
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn n(v: i64) -> Value {
        Value::Number(v.into())
    }

    /// Dynamic scaling keeps working during a release unless the user suspends it: the release
    /// keeps the capacity scaling policies set (rollout::capacity).
    #[test]
    fn dynamic_scaling_is_not_suspended_by_default() {
        let default = schema()
            .block
            .attributes
            .iter()
            .find(|a| a.name == "suspend_processes")
            .and_then(|a| a.default.clone())
            .expect("a default");
        let processes: Vec<String> = serde_json::from_str(&default).expect("a JSON list");
        assert_eq!(processes, ["AZRebalance", "ScheduledActions"]);
        assert!(processes
            .iter()
            .all(|p| args::KNOWN_PROCESSES.contains(&p.as_str())));
    }

    #[test]
    fn good_config_validates() {
        let d = validate_config(&cfg(&[
            ("batch_size", s("25%")),
            ("strategy", s("replace")),
            ("min_healthy_percentage", n(75)),
            ("checkpoints", Value::List(vec![n(10), n(50)])),
        ]));
        assert!(d.is_empty(), "{d}");
    }

    #[test]
    fn bad_configs_name_the_attribute() {
        let cases: Vec<(Vec<(&str, Value)>, &str)> = vec![
            (vec![("batch_size", s("0"))], "batch_size"),
            (vec![("batch_size", s("150%"))], "batch_size"),
            (vec![("batch_size", s("abc"))], "batch_size"),
            (vec![("batch_size", s("-2"))], "batch_size"),
            (vec![("strategy", s("bluegreen"))], "strategy"),
            (
                vec![("min_healthy_percentage", n(101))],
                "min_healthy_percentage",
            ),
            (
                vec![
                    ("strategy", s("replace")),
                    ("min_healthy_percentage", n(100)),
                ],
                "min_healthy_percentage",
            ),
            (vec![("instance_warmup", s("-5s"))], "instance_warmup"),
            (
                vec![("pause_between_batches", s("soon"))],
                "pause_between_batches",
            ),
            (vec![("batch_timeout", s("0s"))], "batch_timeout"),
            (vec![("health_check", s("http"))], "health_check"),
            (vec![("launch_mode", s("template"))], "launch_mode"),
            (
                vec![("scale_in_protected_instances", s("terminate"))],
                "scale_in_protected_instances",
            ),
            (
                vec![("standby_instances", s("terminate"))],
                "standby_instances",
            ),
            (
                vec![("keep_launch_template_versions", n(-1))],
                "keep_launch_template_versions",
            ),
            (
                vec![("keep_launch_template_versions", n(10_001))],
                "keep_launch_template_versions",
            ),
            (
                vec![("checkpoints", Value::List(vec![n(50), n(10)]))],
                "checkpoints[1]",
            ),
            (
                vec![("checkpoints", Value::List(vec![n(100)]))],
                "checkpoints[0]",
            ),
            (
                vec![("suspend_processes", Value::List(vec![s("Launch")]))],
                "suspend_processes[0]",
            ),
            (
                vec![(
                    "suspend_processes",
                    Value::List(vec![s("AZRebalance"), s("Nope")]),
                )],
                "suspend_processes[1]",
            ),
            (vec![("image_id", s("img-1"))], "image_id"),
            (
                vec![("autoscaling_group_name", s(""))],
                "autoscaling_group_name",
            ),
        ];
        for (i, (pairs, path)) in cases.iter().enumerate() {
            let d = validate_config(&cfg(pairs));
            let paths: Vec<String> =
                d.0.iter()
                    .filter_map(|d| d.path.as_ref().map(|p| p.to_string()))
                    .collect();
            assert!(
                d.has_errors() && paths.iter().any(|p| p == path),
                "case {i}: expected an error at {path}, got {paths:?}"
            );
        }
    }

    #[test]
    fn settings_follow_the_config() {
        let c = parse(&fill_defaults(
            &schema().block,
            cfg(&[
                ("batch_size", s("3")),
                ("strategy", s("replace")),
                ("instance_warmup", s("2m")),
                ("checkpoints", Value::List(vec![n(50)])),
            ]),
        ))
        .unwrap();
        let st = c.settings("ami-9", Some(30)).unwrap();
        assert_eq!(st.batch_size, BatchSize::Count(3));
        assert_eq!(st.strategy, Strategy::Replace);
        assert_eq!(st.instance_warmup_secs, 120);
        assert_eq!(st.checkpoints, vec![50]);
        assert_eq!(st.target_image_id, "ami-9");
        // Unset, the warm-up is the group's DefaultInstanceWarmup, else 60 s.
        let unset = parse(&fill_defaults(&schema().block, cfg(&[]))).unwrap();
        assert_eq!(
            unset
                .settings("ami-9", Some(30))
                .unwrap()
                .instance_warmup_secs,
            30
        );
        assert_eq!(
            unset.settings("ami-9", None).unwrap().instance_warmup_secs,
            60
        );
    }

    fn group(version: &str, images: &[&str]) -> GroupSnapshot {
        GroupSnapshot {
            name: "web".into(),
            desired_capacity: images.len() as u32,
            min_size: 0,
            max_size: 10,
            instances: images
                .iter()
                .enumerate()
                .map(|(n, image)| release_planner::InstanceSnapshot {
                    id: format!("i-{n}"),
                    availability_zone: "a".into(),
                    image_id: image.to_string(),
                    lifecycle_state: LifecycleState::InService,
                    health: release_planner::Health::Healthy,
                    protected_from_scale_in: false,
                    launch_time: None,
                    weighted_capacity: None,
                })
                .collect(),
            availability_zones: vec!["a".into()],
            launch: LaunchSource::LaunchTemplate {
                id: Some("lt-1".into()),
                name: None,
                version: version.into(),
            },
            target_group_arns: vec![],
            load_balancer_names: vec![],
            launch_image_id: Some("ami-new".into()),
            replacement: Default::default(),
            warm_pool: None,
        }
    }

    /// A group launching through a mixed instances policy whose override 1 has its own template
    /// on `own_image`; the policy's template launches ami-old.
    fn mixed(own_image: &str) -> GroupSnapshot {
        let mut g = group("$Latest", &["ami-old", "ami-old"]);
        g.launch_image_id = Some("ami-old".into());
        g.launch = LaunchSource::MixedInstancesPolicy {
            launch_template_id: Some("lt-1".into()),
            launch_template_name: None,
            version: "$Latest".into(),
            instance_types: vec!["m5.large".into(), "m6g.large".into()],
            overrides: vec![
                release_planner::Override {
                    instance_type: Some("m5.large".into()),
                    ..Default::default()
                },
                release_planner::Override {
                    instance_type: Some("m6g.large".into()),
                    launch_template: Some(release_planner::TemplateRef {
                        id: Some("lt-arm".into()),
                        name: None,
                        version: "4".into(),
                    }),
                    image_id: Some(own_image.into()),
                    ..Default::default()
                },
            ],
        };
        g
    }

    #[test]
    fn mixed_instances_policies_are_released_as_templates_or_refused_naming_the_override() {
        let inferred = parse(&cfg(&[])).unwrap();
        assert_eq!(
            infer_mode(&inferred, &mixed("ami-old")).unwrap(),
            LaunchMode::LaunchTemplate
        );
        assert!(check_mixed(
            LaunchMode::LaunchTemplate,
            &mixed("ami-old"),
            Some("ami-new")
        )
        .is_ok());
        assert!(
            check_mixed(
                LaunchMode::LaunchTemplate,
                &mixed("ami-new"),
                Some("ami-new")
            )
            .is_ok(),
            "already on the image"
        );
        let refused = check_mixed(
            LaunchMode::LaunchTemplate,
            &mixed("ami-arm"),
            Some("ami-new"),
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("override 1 (m6g.large)"), "{refused}");
        assert!(refused.contains("ami-arm"), "{refused}");
        assert!(
            check_mixed(LaunchMode::External, &mixed("ami-arm"), Some("ami-new")).is_ok(),
            "external: its owner moves the templates"
        );
        let lc = check_mixed(
            LaunchMode::LaunchConfiguration,
            &mixed("ami-old"),
            Some("ami-new"),
        )
        .unwrap_err()
        .to_string();
        assert!(lc.contains("has no launch configuration"), "{lc}");
        assert!(
            check_mixed(
                LaunchMode::LaunchConfiguration,
                &group("1", &["ami-old"]),
                None
            )
            .is_ok(),
            "only policies are checked"
        );
    }

    #[test]
    fn external_mode_previous_image_comes_from_the_instances() {
        let external = parse(&cfg(&[("launch_mode", s("external"))])).unwrap();
        let inferred = parse(&cfg(&[])).unwrap();
        let g = group("$Default", &["ami-old", "ami-new", "ami-old", "ami-older"]);
        // The template already launches the new image (moved by its owner in this apply): the
        // instances still tell what the release replaces, at plan and at apply-time re-plan.
        assert_eq!(
            previous_image(&external, &g, Some("ami-new")).as_deref(),
            Some("ami-old")
        );
        assert_eq!(
            previous_image(&external, &g, None).as_deref(),
            Some("ami-old"),
            "image baked in the same apply"
        );
        assert_eq!(
            previous_image(&external, &group("$Default", &["ami-new"]), Some("ami-new")),
            None
        );
        assert_eq!(
            previous_image(&inferred, &g, Some("ami-new")).as_deref(),
            Some("ami-new"),
            "other modes: what the group launches"
        );
    }

    #[test]
    fn external_mode_warns_about_a_pinned_template_version() {
        let external = parse(&cfg(&[("launch_mode", s("external"))])).unwrap();
        let inferred = parse(&cfg(&[])).unwrap();
        let d = pinned_external(&external, &group("3", &[])).expect("a warning");
        assert_eq!(d.severity, crate::tf::diag::Severity::Warning);
        assert!(d.detail.contains("$Default"), "{d}");
        assert!(pinned_external(&external, &group("$Default", &[])).is_none());
        assert!(pinned_external(&external, &group("$Latest", &[])).is_none());
        assert!(pinned_external(&inferred, &group("3", &[])).is_none());
    }
}
