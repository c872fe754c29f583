//! `planner preview`: what a Terraform plan will bake and release, from the plan alone.
//!
//! [`build`] turns the plan's `immutable_image` and `rolling_asg_release` changes into a
//! [`PlanPreview`], the document every output format renders (and the JSON format prints as is;
//! its schema is `planner/preview.schema.json`, `schema_version` [`SCHEMA_VERSION`]). A release's
//! batches are not recomputed: they are the provider's plan-time schedule, carried in the
//! release's `schedule` attribute as the library's [`Preview`].

use crate::tfplan::{Action, Change, Plan, ResourceChange, IMAGE_TYPE, RELEASE_TYPE};
use release_planner::render::duration;
use release_planner::Preview;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// Version of the `planner preview --format json` document. Bumped on any change that is not
/// purely additive.
pub const SCHEMA_VERSION: u32 = 1;

/// What the provider writes as a schedule's `target_image_id`: "the value of `image_id`", so the
/// schedule stays the same when the image is only known after apply (provider/src/resources/release.rs).
pub const SCHEDULE_TARGET: &str = "(image_id)";
/// What earlier provider builds wrote there when the image was baked in the same apply.
pub const IMAGE_PLACEHOLDER: &str = "(image known after apply)";

#[derive(Debug, Serialize)]
pub struct PlanPreview {
    pub schema_version: u32,
    /// Always `"plan_preview"`.
    pub kind: &'static str,
    pub terraform_version: Option<String>,
    pub format_version: String,
    pub summary: Summary,
    pub images: Vec<ImageChange>,
    pub releases: Vec<ReleaseChange>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    /// Some image or release changes: the exit code is 2.
    pub changes: bool,
    /// The one-line summary shown at the top of every format.
    pub text: String,
    /// Created or replaced images: each is baked, or an identical image is adopted.
    pub images_to_bake: u32,
    pub images_updated_in_place: u32,
    pub images_to_destroy: u32,
    /// Releases that run (created, updated or replaced).
    pub releases_to_run: u32,
    pub releases_removed: u32,
    /// Over the releases whose schedule is known.
    pub instances_to_replace: u32,
    pub batches: u32,
    /// The longest estimated release (releases of different groups run in parallel).
    pub longest_release_secs: u64,
    /// Releases that run but whose schedule is only known after apply.
    pub schedules_unknown: u32,
}

/// An attribute before and after the change. `after` is null when the value is only known after
/// apply (`known_after_apply` true) or when there is no after (destroy).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    pub before: Option<String>,
    pub after: Option<String>,
    pub known_after_apply: bool,
}

impl Diff {
    fn of(change: &Change, attr: &str) -> Diff {
        Diff {
            before: change.before_str(attr),
            after: change.after_str(attr),
            known_after_apply: change.unknown(attr),
        }
    }

    pub fn changed(&self) -> bool {
        self.known_after_apply || self.before != self.after
    }
}

/// Common to both resource types: where the resource is and what Terraform will do.
#[derive(Debug, Serialize)]
pub struct Resource {
    /// Full instance address, e.g. `module.app["eu"].immutable_image.web[0]`.
    pub address: String,
    pub module_address: Option<String>,
    /// The `count` index (number) or `for_each` key (string), if any.
    pub index: Option<Value>,
    /// Set for a deposed object (a leftover of `create_before_destroy`).
    pub deposed: Option<String>,
    pub action: Action,
    /// Terraform's `action_reason`, e.g. `replace_because_cannot_update`.
    pub action_reason: Option<String>,
    /// Attribute paths that force the replacement, e.g. `[["fingerprint"]]`.
    pub replace_paths: Vec<Vec<Value>>,
}

#[derive(Debug, Serialize)]
pub struct ImageChange {
    #[serde(flatten)]
    pub resource: Resource,
    pub outcome: ImageOutcome,
    /// Why it is replaced (or destroyed), in words: `code_tag v1.0.0 → v1.1.0`, ...
    pub reasons: Vec<String>,
    /// The configured source: an AMI id, or the filter.
    pub source_ami: Option<String>,
    pub source_ami_filter: Option<SourceFilter>,
    /// The resolved source AMI.
    pub source_ami_id: Diff,
    pub code_tag: Diff,
    pub fingerprint: Diff,
    /// The AMI id.
    pub image_id: Diff,
    pub name: Diff,
    /// Arguments whose value changes (for an in-place update: what is updated).
    pub changed_attributes: Vec<AttributeChange>,
}

/// One changed argument. `before`/`after` are null when the value is sensitive, long (over 80
/// characters or several lines), or only known after apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeChange {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub known_after_apply: bool,
    pub sensitive: bool,
}

impl AttributeChange {
    /// `batch_size 2 → 3`, `environment (sensitive)`, `script changed`.
    pub fn describe(&self) -> String {
        if self.sensitive {
            return format!("{} (sensitive) changed", self.name);
        }
        match (&self.before, &self.after, self.known_after_apply) {
            (Some(b), _, true) => format!("{} {b} → known after apply", self.name),
            (_, _, true) => format!("{} known after apply", self.name),
            (Some(b), Some(a), false) => format!("{} {b} → {a}", self.name),
            _ => format!("{} changed", self.name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageOutcome {
    /// Nothing happens to the image.
    None,
    /// A new image is baked, unless an available image with the same fingerprint exists, which
    /// apply then adopts (the plan cannot know which).
    BakeOrReuse,
    /// The plan already knows an identical image is adopted.
    Reuse,
    /// Tags or other in-place settings change; nothing is baked.
    UpdateInPlace,
    /// The image is deregistered and its snapshots deleted.
    Deregister,
    /// `retain_on_destroy`, or `removed` with `destroy = false`: forgotten, left in the account.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceFilter {
    pub owners: Vec<String>,
    pub name: String,
    pub most_recent: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ReleaseChange {
    #[serde(flatten)]
    pub resource: Resource,
    /// Why it runs (or why not), in words.
    pub reasons: Vec<String>,
    /// Configured arguments whose value changes, e.g. `batch_size`.
    pub changed_attributes: Vec<AttributeChange>,
    /// `autoscaling_group_name`.
    pub group: Diff,
    /// The image the group moves to (`image_id`).
    pub image_id: Diff,
    /// The image the group launches from now, read at plan time (`previous_image_id`).
    pub previous_image_id: Option<String>,
    /// When `image_id` is only known after apply: the reference it comes from, e.g.
    /// `immutable_image.web.id` (prefixed with the release's module address).
    pub image_source: Option<String>,
    pub launch_mode: Diff,
    pub strategy: Diff,
    pub batch_size: Diff,
    pub schedule_state: ScheduleState,
    /// The plan-time schedule (the library's preview, its own `schema_version`), when this
    /// release runs and the schedule is known.
    pub schedule: Option<Preview>,
    /// The batches' instance ids (`planned_batches`), when the release runs and they are known;
    /// the same as `schedule`'s batches when both are known.
    pub planned_batches: Option<Vec<Vec<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// The release runs and `schedule` holds its batches.
    Known,
    /// The release runs; its batches are only known after apply (e.g. the group's name is).
    KnownAfterApply,
    /// The release does not run (no change, removal).
    NotRunning,
}

/// Builds the preview. A plan without any of our resources is an empty preview that says so (as
/// `terraform plan` of a configuration without changes is no error). Errors (one line each): a
/// change that cannot be read, a schedule in a format this planner does not know.
pub fn build(plan: &Plan<'_>) -> Result<PlanPreview, String> {
    let ours: Vec<&ResourceChange<'_>> = plan
        .resource_changes
        .iter()
        .filter(|r| r.is_ours())
        .collect();
    let mut images = Vec::new();
    let mut releases = Vec::new();
    for rc in ours {
        let change = rc.decode()?;
        let action =
            Action::from_actions(&change.actions).map_err(|e| format!("{}: {e}", rc.address))?;
        let resource = Resource {
            address: rc.address.clone(),
            module_address: rc.module_address.clone(),
            index: rc.index.clone(),
            deposed: rc.deposed.clone(),
            action,
            action_reason: rc.action_reason.clone(),
            replace_paths: change.replace_paths.clone().unwrap_or_default(),
        };
        if rc.type_ == IMAGE_TYPE {
            images.push(image(resource, &change));
        } else {
            debug_assert_eq!(rc.type_, RELEASE_TYPE);
            releases.push(release(plan, rc, resource, &change)?);
        }
    }
    let mut summary = summary(&images, &releases);
    if images.is_empty() && releases.is_empty() {
        summary.text = no_resources_text(plan);
    }
    Ok(PlanPreview {
        schema_version: SCHEMA_VERSION,
        kind: "plan_preview",
        terraform_version: plan.terraform_version.clone(),
        format_version: plan.format_version.clone().unwrap_or_default(),
        summary,
        images,
        releases,
    })
}

fn no_resources_text(plan: &Plan<'_>) -> String {
    if plan.resource_changes.is_empty() {
        return "No changes: the plan has no resources at all, so nothing to bake or release."
            .into();
    }
    let providers: BTreeSet<&str> = plan
        .resource_changes
        .iter()
        .map(|r| {
            r.provider_name
                .strip_prefix("registry.terraform.io/")
                .unwrap_or(&r.provider_name)
        })
        .collect();
    format!(
        "No changes: the plan has no immutable_image or rolling_asg_release resource ({} belong{} to {}).",
        plural(plan.resource_changes.len() as u32, "resource change"),
        if plan.resource_changes.len() == 1 {
            "s"
        } else {
            ""
        },
        providers.into_iter().collect::<Vec<_>>().join(", ")
    )
}

/// Arguments whose change replaces the image (they make up its fingerprint), in the order a
/// reviewer cares about; sensitive or long ones are named, not quoted.
const FINGERPRINT_INPUTS: [(&str, bool); 8] = [
    ("code_tag", true),
    ("source_ami", true),
    ("source_ami_id", true),
    ("source_ami_filter", false),
    ("script", false),
    ("environment", false),
    ("instance_type", true),
    ("iam_instance_profile", true),
];

fn image(resource: Resource, change: &Change) -> ImageChange {
    let action = resource.action;
    let outcome = match action {
        Action::Create | Action::Replace => {
            if change.after_value("reused") == Some(&Value::Bool(true)) {
                ImageOutcome::Reuse
            } else {
                ImageOutcome::BakeOrReuse
            }
        }
        Action::Update => ImageOutcome::UpdateInPlace,
        Action::Delete => {
            if change.before_value("retain_on_destroy") == Some(&Value::Bool(true)) {
                ImageOutcome::Keep
            } else {
                ImageOutcome::Deregister
            }
        }
        Action::Forget => ImageOutcome::Keep,
        Action::NoOp | Action::Read => ImageOutcome::None,
    };
    let mut reasons = Vec::new();
    if action == Action::Replace {
        for (attr, quote) in FINGERPRINT_INPUTS {
            let (b, a) = (change.before_value(attr), change.after_value(attr));
            if change.unknown(attr) {
                reasons.push(format!("{attr} known after apply"));
            } else if b != a {
                reasons.push(
                    match (quote, change.before_str(attr), change.after_str(attr)) {
                        (true, Some(b), Some(a)) => format!("{attr} {b} → {a}"),
                        _ => format!("{attr} changed"),
                    },
                );
            }
        }
        if reasons.is_empty() && Diff::of(change, "fingerprint").changed() {
            reasons.push(
                "fingerprint changed (the content of script_file, or the newest source AMI)".into(),
            );
        }
    }
    reasons.extend(action_reason_text(resource.action_reason.as_deref()));
    let source_ami_filter = change
        .after_value("source_ami_filter")
        .or_else(|| change.before_value("source_ami_filter"))
        .and_then(|v| v.as_array()?.first().cloned())
        .map(|f| SourceFilter {
            owners: f["owners"]
                .as_array()
                .map(|o| {
                    o.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            name: f["name"].as_str().unwrap_or_default().to_owned(),
            most_recent: f["most_recent"].as_bool(),
        });
    ImageChange {
        outcome,
        reasons,
        source_ami: change
            .after_str("source_ami")
            .or_else(|| change.before_str("source_ami")),
        source_ami_filter,
        source_ami_id: Diff::of(change, "source_ami_id"),
        code_tag: Diff::of(change, "code_tag"),
        fingerprint: Diff::of(change, "fingerprint"),
        image_id: Diff::of(change, "id"),
        name: Diff::of(change, "name"),
        changed_attributes: changed_attributes(change, action, &IMAGE_COMPUTED),
        resource,
    }
}

/// Results the provider computes; a change of them is not something the reviewer asked for.
const IMAGE_COMPUTED: [&str; 8] = [
    "id",
    "name",
    "fingerprint",
    "source_ami_id",
    "snapshot_ids",
    "reused",
    "created_at",
    "timeouts",
];
const RELEASE_COMPUTED: [&str; 10] = [
    "id",
    "previous_image_id",
    "launch_version",
    "planned_batches",
    "schedule",
    "replaced_instances",
    "outdated_instances",
    "status",
    "completed_at",
    "timeouts",
];

/// Configured arguments whose value differs between before and after (or is only known after).
fn changed_attributes(change: &Change, action: Action, computed: &[&str]) -> Vec<AttributeChange> {
    if !matches!(action, Action::Update | Action::Replace) {
        return Vec::new();
    }
    let (Some(before), Some(after)) = (&change.before, &change.after) else {
        return Vec::new();
    };
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| !computed.contains(&k.as_str()))
        .filter(|k| change.unknown(k) || before.get(*k) != after.get(*k))
        .map(|k| {
            let sensitive = change.sensitive(k);
            let shown = |v: Option<&Value>| {
                if sensitive {
                    None
                } else {
                    v.and_then(display_value)
                }
            };
            AttributeChange {
                name: k.clone(),
                before: shown(before.get(k)),
                after: if change.unknown(k) {
                    None
                } else {
                    shown(after.get(k))
                },
                known_after_apply: change.unknown(k),
                sensitive,
            }
        })
        .collect()
}

/// Short values as Terraform would write them; long ones are only named.
fn display_value(v: &Value) -> Option<String> {
    let s = match v {
        Value::Null => "null".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    (s.chars().count() <= 80 && !s.contains('\n')).then_some(s)
}

fn action_reason_text(reason: Option<&str>) -> Option<String> {
    Some(
        match reason? {
            "replace_because_tainted" => "the resource is tainted",
            "replace_by_request" => "replacement requested (-replace)",
            "replace_by_triggers" => "replace_triggered_by",
            "delete_because_no_resource_config" => "removed from the configuration",
            "delete_because_no_module" => "its module was removed from the configuration",
            "delete_because_count_index" => "its count index is no longer in range",
            "delete_because_each_key" => "its for_each key is no longer in the map",
            "delete_because_wrong_repetition" => "count/for_each was added or removed",
            _ => return None,
        }
        .to_owned(),
    )
}

fn release(
    plan: &Plan<'_>,
    rc: &ResourceChange<'_>,
    resource: Resource,
    change: &Change,
) -> Result<ReleaseChange, String> {
    let action = resource.action;
    let runs = matches!(action, Action::Create | Action::Update | Action::Replace);
    let image_id = Diff::of(change, "image_id");
    // An update that plans no release (only settings changed, for the next release) leaves
    // the results of the last one known; a release to run makes them unknown.
    let settings_only = action == Action::Update
        && !change.unknown("replaced_instances")
        && !change.unknown("schedule");
    let (schedule_state, schedule) = if !runs || settings_only {
        (ScheduleState::NotRunning, None)
    } else if change.unknown("schedule") {
        (ScheduleState::KnownAfterApply, None)
    } else {
        match change.after_str("schedule") {
            Some(text) => (
                ScheduleState::Known,
                Some(parse_schedule(&rc.address, &text)?),
            ),
            None => (ScheduleState::KnownAfterApply, None),
        }
    };
    let image_source = if image_id.known_after_apply {
        let module = plan
            .configuration
            .as_ref()
            .and_then(|c| c.module(rc.module_address.as_deref()));
        module
            .and_then(|m| {
                m.references(&format!("{}.{}", rc.type_, rc.name), "image_id")
                    .into_iter()
                    .next()
            })
            .map(|r| match &rc.module_address {
                Some(m) if !m.is_empty() => format!("{m}.{r}"),
                _ => r,
            })
    } else {
        None
    };
    let mut reasons = Vec::new();
    if schedule_state != ScheduleState::NotRunning && action == Action::Update {
        if image_id.changed() {
            reasons.push("image_id changed".to_owned());
        }
        let outdated = change
            .before_value("outdated_instances")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if outdated > 0 {
            reasons.push(format!(
                "{} not yet on the image (a checkpoint, an interrupted release or a scale-out)",
                plural(outdated as u32, "instance")
            ));
        }
        if change.before_str("status").is_some_and(|s| s != "complete") {
            reasons.push(format!(
                "the last release stopped at status {:?}: this apply continues it",
                change.before_str("status").unwrap_or_default()
            ));
        }
    }
    if action == Action::Update && schedule_state == ScheduleState::NotRunning {
        reasons.push(
            "settings only: they apply to the next release; no instance is replaced".to_owned(),
        );
    }
    reasons.extend(action_reason_text(resource.action_reason.as_deref()));
    if action == Action::Replace && !resource.replace_paths.is_empty() {
        reasons.push("autoscaling_group_name changed: a release of the new group".to_owned());
    }
    Ok(ReleaseChange {
        reasons,
        changed_attributes: changed_attributes(change, action, &RELEASE_COMPUTED),
        planned_batches: if schedule_state == ScheduleState::NotRunning
            || change.unknown("planned_batches")
        {
            None
        } else {
            change
                .after_value("planned_batches")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
        },
        group: Diff::of(change, "autoscaling_group_name"),
        previous_image_id: change
            .after_str("previous_image_id")
            .or_else(|| change.before_str("previous_image_id")),
        image_source,
        launch_mode: Diff::of(change, "launch_mode"),
        strategy: Diff::of(change, "strategy"),
        batch_size: Diff::of(change, "batch_size"),
        schedule_state,
        schedule,
        image_id,
        resource,
    })
}

/// The provider's plan-time schedule: the library's [`Preview`] JSON.
fn parse_schedule(address: &str, text: &str) -> Result<Preview, String> {
    let version = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("schema_version")?.as_u64());
    match version {
        Some(v) if v == u64::from(release_planner::SCHEMA_VERSION) => serde_json::from_str(text)
            .map_err(|e| format!("{address}: its schedule cannot be read ({e})")),
        Some(v) => Err(format!(
            "{address}: its schedule has schema_version {v}; this planner reads version {}: use the planner released with the provider",
            release_planner::SCHEMA_VERSION
        )),
        None => Err(format!("{address}: its schedule attribute is not a planner schedule (no schema_version)")),
    }
}

fn summary(images: &[ImageChange], releases: &[ReleaseChange]) -> Summary {
    let count = |f: &dyn Fn(&ImageChange) -> bool| images.iter().filter(|i| f(i)).count() as u32;
    let images_to_bake =
        count(&|i| matches!(i.outcome, ImageOutcome::BakeOrReuse | ImageOutcome::Reuse));
    let images_updated_in_place = count(&|i| i.outcome == ImageOutcome::UpdateInPlace);
    let images_to_destroy =
        count(&|i| matches!(i.outcome, ImageOutcome::Deregister | ImageOutcome::Keep));
    let running: Vec<&ReleaseChange> = releases
        .iter()
        .filter(|r| r.schedule_state != ScheduleState::NotRunning)
        .collect();
    let schedules: Vec<&Preview> = running.iter().filter_map(|r| r.schedule.as_ref()).collect();
    let instances_to_replace: u32 = schedules.iter().map(|p| p.schedule.counts.to_replace).sum();
    let batches = schedules
        .iter()
        .map(|p| p.schedule.batches.len() as u32)
        .sum();
    let longest_release_secs = schedules
        .iter()
        .map(|p| p.schedule.estimated_duration_secs)
        .max()
        .unwrap_or(0);
    let schedules_unknown = running
        .iter()
        .filter(|r| r.schedule_state == ScheduleState::KnownAfterApply)
        .count() as u32;
    let releases_removed = releases
        .iter()
        .filter(|r| matches!(r.resource.action, Action::Delete | Action::Forget))
        .count() as u32;
    let other_release_changes = releases
        .iter()
        .filter(|r| r.resource.action.is_change() && r.schedule_state == ScheduleState::NotRunning)
        .count() as u32
        - releases_removed;
    let changes = images.iter().any(|i| i.resource.action.is_change())
        || releases.iter().any(|r| r.resource.action.is_change());

    let mut parts = Vec::new();
    if images_to_bake > 0 {
        let reuse = images
            .iter()
            .all(|i| i.outcome != ImageOutcome::BakeOrReuse);
        parts.push(format!(
            "{} to {}",
            plural(images_to_bake, "image"),
            if reuse { "reuse" } else { "bake" }
        ));
    }
    if !running.is_empty() {
        let mut s = format!("{} to run", plural(running.len() as u32, "release"));
        if !schedules.is_empty() {
            s.push_str(&format!(
                " ({} in {}, {})",
                plural(instances_to_replace, "instance"),
                plural(batches, "batch"),
                if schedules.len() == 1 {
                    format!("about {}", duration(longest_release_secs))
                } else {
                    format!("longest about {}", duration(longest_release_secs))
                }
            ));
        }
        if schedules_unknown > 0 {
            s.push_str(&format!(
                "; {} known after apply",
                plural(schedules_unknown, "schedule")
            ));
        }
        parts.push(s);
    }
    if images_updated_in_place > 0 {
        parts.push(format!(
            "{} updated in place",
            plural(images_updated_in_place, "image")
        ));
    }
    if other_release_changes > 0 {
        parts.push(format!(
            "{} with new settings",
            plural(other_release_changes, "release")
        ));
    }
    if images_to_destroy > 0 {
        parts.push(format!("{} to destroy", plural(images_to_destroy, "image")));
    }
    if releases_removed > 0 {
        parts.push(format!(
            "{} removed (the group is left as it is)",
            plural(releases_removed, "release")
        ));
    }
    let text = if parts.is_empty() {
        format!(
            "No changes: nothing to bake, nothing to release ({} and {} up to date).",
            plural(images.len() as u32, "image"),
            plural(releases.len() as u32, "release")
        )
    } else {
        format!("Plan: {}.", parts.join(", "))
    };
    Summary {
        changes,
        text,
        images_to_bake,
        images_updated_in_place,
        images_to_destroy,
        releases_to_run: running.len() as u32,
        releases_removed,
        instances_to_replace,
        batches,
        longest_release_secs,
        schedules_unknown,
    }
}

/// `1 image`, `2 images`, `1 batch`, `3 batches`.
pub fn plural(n: u32, word: &str) -> String {
    let suffix = match (n, word.ends_with("ch") || word.ends_with('s')) {
        (1, _) => "",
        (_, true) => "es",
        (_, false) => "s",
    };
    format!("{n} {word}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build_one(kind: &str, change: Value, reason: Option<&str>) -> PlanPreview {
        let plan = json!({
            "format_version": "1.2",
            "planned_values": {},
            "resource_changes": [{
                "address": format!("{kind}.x"), "mode": "managed", "type": kind, "name": "x",
                "provider_name": "registry.terraform.io/immutable-release/immutable",
                "change": change, "action_reason": reason
            }]
        })
        .to_string();
        build(&crate::tfplan::parse(&plan).unwrap()).unwrap()
    }

    #[test]
    fn image_outcomes() {
        let reuse = build_one(
            IMAGE_TYPE,
            json!({"actions": ["create"], "before": null, "after": {"code_tag": "v1", "reused": true}, "after_unknown": {"id": true}}),
            None,
        );
        assert_eq!(reuse.images[0].outcome, ImageOutcome::Reuse);
        assert_eq!(reuse.summary.text, "Plan: 1 image to reuse.");
        let keep = build_one(
            IMAGE_TYPE,
            json!({"actions": ["delete"], "before": {"id": "ami-1", "retain_on_destroy": true}, "after": null}),
            Some("delete_because_no_resource_config"),
        );
        assert_eq!(keep.images[0].outcome, ImageOutcome::Keep);
        assert_eq!(keep.images[0].reasons, ["removed from the configuration"]);
        let forget = build_one(
            IMAGE_TYPE,
            json!({"actions": ["forget"], "before": {"id": "ami-1"}, "after": null}),
            None,
        );
        assert_eq!(forget.images[0].outcome, ImageOutcome::Keep);
        assert!(forget.summary.changes);
    }

    #[test]
    fn replacement_reasons_hide_sensitive_values() {
        let p = build_one(
            IMAGE_TYPE,
            json!({
                "actions": ["delete", "create"],
                "before": {"code_tag": "v1", "environment": {"TOKEN": "old-secret"}, "fingerprint": "sha256:a", "source_ami_filter": [{"owners": ["self"], "name": "a-*"}]},
                "after": {"code_tag": "v1", "environment": {"TOKEN": "new-secret"}, "fingerprint": "sha256:b", "source_ami_filter": [{"owners": ["self"], "name": "b-*"}]},
                "after_unknown": {"id": true, "source_ami_id": true},
                "before_sensitive": {"environment": true}, "after_sensitive": {"environment": true},
                "replace_paths": [["fingerprint"]]
            }),
            Some("replace_because_tainted"),
        );
        let i = &p.images[0];
        assert_eq!(
            i.reasons,
            [
                "source_ami_id known after apply",
                "source_ami_filter changed",
                "environment changed",
                "the resource is tainted"
            ]
        );
        let env = i
            .changed_attributes
            .iter()
            .find(|c| c.name == "environment")
            .unwrap();
        assert!(env.sensitive && env.before.is_none() && env.after.is_none());
        let doc = serde_json::to_string(&p).unwrap();
        assert!(!doc.contains("secret"), "{doc}");
        assert_eq!(i.source_ami_filter.as_ref().unwrap().name, "b-*");
    }

    #[test]
    fn release_states() {
        let unknown = build_one(
            RELEASE_TYPE,
            json!({"actions": ["create"], "before": null, "after": {"image_id": "ami-1"},
                   "after_unknown": {"autoscaling_group_name": true, "schedule": true, "planned_batches": true, "replaced_instances": true}}),
            None,
        );
        let r = &unknown.releases[0];
        assert_eq!(r.schedule_state, ScheduleState::KnownAfterApply);
        assert!(r.schedule.is_none() && r.planned_batches.is_none());
        assert_eq!(
            unknown.summary.text,
            "Plan: 1 release to run; 1 schedule known after apply."
        );

        let settings = build_one(
            RELEASE_TYPE,
            json!({"actions": ["update"], "before": {"image_id": "ami-1", "batch_size": "2", "status": "complete"},
                   "after": {"image_id": "ami-1", "batch_size": "3", "status": "complete"}, "after_unknown": {}}),
            None,
        );
        assert_eq!(
            settings.releases[0].schedule_state,
            ScheduleState::NotRunning
        );
        assert_eq!(
            settings.releases[0].changed_attributes[0].describe(),
            "batch_size 2 → 3"
        );
        assert_eq!(settings.summary.text, "Plan: 1 release with new settings.");

        let resumed = build_one(
            RELEASE_TYPE,
            json!({"actions": ["update"],
                   "before": {"image_id": "ami-1", "status": "checkpoint", "outdated_instances": ["i-1", "i-2"]},
                   "after": {"image_id": "ami-1", "planned_batches": [["i-1"], ["i-2"]]},
                   "after_unknown": {"replaced_instances": true, "schedule": true}}),
            None,
        );
        let r = &resumed.releases[0];
        assert_eq!(r.schedule_state, ScheduleState::KnownAfterApply);
        assert_eq!(
            r.planned_batches,
            Some(vec![vec!["i-1".to_owned()], vec!["i-2".to_owned()]])
        );
        assert_eq!(
            r.reasons,
            [
                "2 instances not yet on the image (a checkpoint, an interrupted release or a scale-out)",
                "the last release stopped at status \"checkpoint\": this apply continues it"
            ]
        );
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "batch"), "1 batch");
        assert_eq!(plural(3, "batch"), "3 batches");
        assert_eq!(plural(0, "image"), "0 images");
    }
}
