//! The `planner preview` document in text (terminals, CI logs) and Markdown (pull-request
//! comments). Each release's schedule is drawn by the library's own renderers
//! (`render_text`, `render_markdown`), so `terraform plan`, `planner schedule` and
//! `planner preview` show a schedule the same way.

use crate::preview::{
    Diff, ImageChange, ImageOutcome, PlanPreview, ReleaseChange, ScheduleState, IMAGE_PLACEHOLDER,
    SCHEDULE_TARGET,
};
use crate::style::Style;
use crate::tfplan::Action;
use release_planner::{
    render_markdown, render_text, GroupSnapshot, Health, InstanceSnapshot, LifecycleState, Preview,
};
use std::fmt::Write;

/// The group as the library renderers need it, rebuilt from a [`Preview`]'s summary. The
/// renderers read the group's sizes, launch source and zones, and count instances per image;
/// the summary carries exactly those counts, so one placeholder instance stands for each.
pub fn snapshot_of(preview: &Preview) -> GroupSnapshot {
    let g = &preview.group;
    GroupSnapshot {
        name: g.name.clone(),
        desired_capacity: g.desired_capacity,
        min_size: g.min_size,
        max_size: g.max_size,
        instances: g
            .images
            .iter()
            .flat_map(|(image, &n)| {
                (0..n).map(move |_| InstanceSnapshot {
                    id: String::new(),
                    availability_zone: String::new(),
                    image_id: image.clone(),
                    lifecycle_state: LifecycleState::InService,
                    health: Health::Healthy,
                    protected_from_scale_in: false,
                    launch_time: None,
                    weighted_capacity: None,
                })
            })
            .collect(),
        availability_zones: g.availability_zones.clone(),
        launch: g.launch.clone(),
        target_group_arns: g.target_group_arns.clone(),
        load_balancer_names: g.load_balancer_names.clone(),
        launch_image_id: None,
        replacement: Default::default(),
        warm_pool: None,
    }
}

const UNKNOWN: &str = "known after apply";

/// A release's changed arguments but the image, which has its own line.
fn release_changes(r: &ReleaseChange) -> Vec<crate::preview::AttributeChange> {
    r.changed_attributes
        .iter()
        .filter(|c| c.name != "image_id")
        .cloned()
        .collect()
}

fn describe_all(changes: &[crate::preview::AttributeChange]) -> String {
    changes
        .iter()
        .map(|c| c.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `a`, `a → b`, `a → known after apply`, `known after apply`.
fn diff_text(d: &Diff, action: Action) -> String {
    let after = if d.known_after_apply {
        Some(UNKNOWN.to_owned())
    } else {
        d.after.clone()
    };
    match (action, &d.before, after) {
        (Action::Delete | Action::Forget, Some(b), _) => b.clone(),
        (_, Some(b), Some(a)) if *b == a => a,
        (_, Some(b), Some(a)) => format!("{b} → {a}"),
        (_, None, Some(a)) => a,
        (_, Some(b), None) => format!("{b} → none"),
        (_, None, None) => "none".to_owned(),
    }
}

/// Fingerprints are long; 12 hex digits tell them apart.
fn short_fingerprint(s: &str) -> String {
    match s.split_once(':') {
        Some((alg, hex)) if hex.len() > 12 => format!("{alg}:{}…", &hex[..12]),
        _ => s.to_owned(),
    }
}

fn fingerprint_diff(d: &Diff) -> Diff {
    Diff {
        before: d.before.as_deref().map(short_fingerprint),
        after: d.after.as_deref().map(short_fingerprint),
        known_after_apply: d.known_after_apply,
    }
}

pub fn outcome_text(o: ImageOutcome) -> &'static str {
    match o {
        ImageOutcome::None => "no change",
        ImageOutcome::BakeOrReuse => "bake (or reuse an identical image if one exists)",
        ImageOutcome::Reuse => "reuse an identical image",
        ImageOutcome::UpdateInPlace => "update in place (nothing baked)",
        ImageOutcome::Deregister => "deregister the image and delete its snapshots",
        ImageOutcome::Keep => "forget the image (it stays in the account)",
    }
}

fn source_text(i: &ImageChange) -> String {
    let resolved = diff_text(&i.source_ami_id, i.resource.action);
    match (&i.source_ami, &i.source_ami_filter) {
        (Some(_), _) => resolved,
        (None, Some(f)) => format!(
            "{resolved} (newest of {} owned by {})",
            f.name,
            f.owners.join(", ")
        ),
        (None, None) => resolved,
    }
}

fn release_image_text(r: &ReleaseChange) -> String {
    let new = if r.image_id.known_after_apply {
        match &r.image_source {
            Some(src) => format!("{UNKNOWN} ({src})"),
            None => UNKNOWN.to_owned(),
        }
    } else {
        r.image_id.after.clone().unwrap_or_else(|| "none".into())
    };
    let old = r
        .previous_image_id
        .clone()
        .or_else(|| r.image_id.before.clone());
    if r.schedule_state == ScheduleState::NotRunning && r.resource.action != Action::Replace {
        return match r.resource.action {
            Action::Delete | Action::Forget => {
                r.image_id.before.clone().unwrap_or_else(|| "none".into())
            }
            _ => new,
        };
    }
    match old {
        Some(old) if old == new => new,
        Some(old) => format!("{old} → {new}"),
        None => new,
    }
}

/// [`release_image_text`] with ids in code spans.
fn release_image_md(r: &ReleaseChange) -> String {
    release_image_text(r)
        .split(" → ")
        .map(|part| match part.strip_prefix(UNKNOWN) {
            Some(rest) => format!(
                "_{UNKNOWN}_{}",
                match rest
                    .trim()
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                {
                    Some(src) => format!(" (from {})", code(src)),
                    None => String::new(),
                }
            ),
            None => code(part),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

fn launch_text(r: &ReleaseChange) -> String {
    let now = r
        .schedule
        .as_ref()
        .map(|p| p.group.launch.to_string())
        .unwrap_or_else(|| "the group's launch setting".to_owned());
    let mode = if r.launch_mode.known_after_apply {
        None
    } else {
        r.launch_mode
            .after
            .as_deref()
            .or(r.launch_mode.before.as_deref())
    };
    match mode {
        Some("launch_template") => {
            format!("{now} → a new version with the image, the group pinned to it")
        }
        Some("launch_configuration") => {
            format!("{now} → a new launch configuration with the image")
        }
        Some("external") => format!("{now}, managed elsewhere (it must already launch the image)"),
        Some(other) => format!("{now} (launch_mode {other})"),
        None => format!("{now} (launch_mode {UNKNOWN})"),
    }
}

fn strategy_text(r: &ReleaseChange) -> String {
    let d = |d: &Diff| diff_text(d, r.resource.action);
    format!("{}, batches of {}", d(&r.strategy), d(&r.batch_size))
}

/// The note shown when the schedule's target is the provider's placeholder.
const PLACEHOLDER_NOTE: &str =
    "The image is baked in this apply: the batches assume no instance runs it yet.";

/// The release's schedule as people should read it: the provider names the target by reference
/// (`(image_id)`), so put the image id in, or say it is only known after apply.
fn shown_preview(r: &ReleaseChange, p: &Preview) -> Preview {
    let mut p = p.clone();
    if [SCHEDULE_TARGET, IMAGE_PLACEHOLDER].contains(&p.schedule.target_image_id.as_str()) {
        let target = match (
            &r.image_id.after,
            r.image_id.known_after_apply,
            &r.image_source,
        ) {
            (Some(id), false, _) => id.clone(),
            (_, _, Some(source)) => format!("{source} ({UNKNOWN})"),
            _ => IMAGE_PLACEHOLDER.to_owned(),
        };
        p.schedule.target_image_id = target.clone();
        p.settings.target_image_id = target;
    }
    p
}

/// The image is baked in the same apply.
fn image_unknown(r: &ReleaseChange) -> bool {
    r.image_id.known_after_apply
}

// ---------------------------------------------------------------------------------------- text

pub fn text(p: &PlanPreview, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.bold(&p.summary.text));
    if !p.images.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Images"));
        for i in &p.images {
            image_text(&mut out, i, style);
        }
    }
    if !p.releases.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Releases"));
        for r in &p.releases {
            release_text(&mut out, r, style);
        }
    }
    out
}

fn heading(out: &mut String, address: &str, deposed: Option<&str>, action: Action, style: Style) {
    let deposed = deposed
        .map(|d| format!(" (deposed object {d})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {}{deposed}  {}",
        style.action(action, &format!("{:>3}", action.symbol())),
        style.bold(address),
        style.action(action, action.as_str())
    );
}

fn field(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "      {name:<12} {value}");
}

fn image_text(out: &mut String, i: &ImageChange, style: Style) {
    let action = i.resource.action;
    heading(
        out,
        &i.resource.address,
        i.resource.deposed.as_deref(),
        action,
        style,
    );
    if !action.is_change() {
        field(
            out,
            "image",
            &format!(
                "{} (code tag {})",
                diff_text(&i.image_id, action),
                diff_text(&i.code_tag, action)
            ),
        );
        return;
    }
    field(out, "outcome", outcome_text(i.outcome));
    field(out, "source AMI", &source_text(i));
    field(out, "code tag", &diff_text(&i.code_tag, action));
    field(out, "image", &diff_text(&i.image_id, action));
    if matches!(action, Action::Create | Action::Replace) {
        field(
            out,
            "fingerprint",
            &diff_text(&fingerprint_diff(&i.fingerprint), action),
        );
    }
    if action == Action::Update && !i.changed_attributes.is_empty() {
        field(out, "changes", &describe_all(&i.changed_attributes));
    }
    if !i.reasons.is_empty() {
        field(out, "why", &i.reasons.join("; "));
    }
}

fn release_text(out: &mut String, r: &ReleaseChange, style: Style) {
    let action = r.resource.action;
    heading(
        out,
        &r.resource.address,
        r.resource.deposed.as_deref(),
        action,
        style,
    );
    field(out, "group", &diff_text(&r.group, action));
    field(out, "image", &release_image_text(r));
    let changes = release_changes(r);
    if !changes.is_empty() {
        field(out, "changes", &describe_all(&changes));
    }
    if r.schedule_state == ScheduleState::NotRunning {
        if !r.reasons.is_empty() {
            field(out, "why", &r.reasons.join("; "));
        }
        if matches!(action, Action::Delete | Action::Forget) {
            field(
                out,
                "outcome",
                "removed from the state; the group is left as it is",
            );
        }
        return;
    }
    field(out, "launch", &launch_text(r));
    field(out, "strategy", &strategy_text(r));
    if !r.reasons.is_empty() {
        field(out, "why", &r.reasons.join("; "));
    }
    match &r.schedule {
        Some(p) => {
            let p = &shown_preview(r, p);
            if image_unknown(r) {
                field(out, "note", PLACEHOLDER_NOTE);
            }
            out.push('\n');
            let body = style.library_text(&render_text(&snapshot_of(p), &p.schedule));
            for line in body.lines() {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        None => {
            field(out, "schedule", &format!("{UNKNOWN} (capacity and timing)"));
            match &r.planned_batches {
                Some(batches) => {
                    for (n, ids) in batches.iter().enumerate() {
                        field(out, &format!("batch {}", n + 1), &ids.join(", "));
                    }
                }
                None => field(out, "batches", UNKNOWN),
            }
        }
    }
    out.push('\n');
}

// ------------------------------------------------------------------------------------ markdown

/// Inside a code span only a backtick (or a line break, in a table) can end it.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'").replace(['\n', '\r'], " "))
}

/// [`escape`] for other modules.
pub fn escape_md(s: &str) -> String {
    escape(s)
}

/// Escapes what would break a table cell or start Markdown formatting; a line break (names may
/// have one) would end the cell or the list item, so it becomes a space.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '\n' | '\r') {
            out.push(' ');
            continue;
        }
        if matches!(ch, '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A diff with each value in a code span and "known after apply" in italics.
fn diff_md(d: &Diff, action: Action) -> String {
    let v = |s: &str| {
        if s == UNKNOWN {
            format!("_{UNKNOWN}_")
        } else {
            code(s)
        }
    };
    let after = if d.known_after_apply {
        Some(UNKNOWN.to_owned())
    } else {
        d.after.clone()
    };
    match (action, &d.before, after) {
        (Action::Delete | Action::Forget, Some(b), _) => v(b),
        (_, Some(b), Some(a)) if *b == a => v(&a),
        (_, Some(b), Some(a)) => format!("{} → {}", v(b), v(&a)),
        (_, None, Some(a)) => v(&a),
        (_, Some(b), None) => format!("{} → none", v(b)),
        (_, None, None) => "—".to_owned(),
    }
}

fn action_md(action: Action) -> &'static str {
    match action {
        Action::Create => "🟢 create",
        Action::Update => "🟡 update",
        Action::Replace => "🔴 replace",
        Action::Delete => "🔴 destroy",
        Action::Forget => "⚪ forget",
        Action::Read => "read",
        Action::NoOp => "no change",
    }
}

/// The pieces of a pull-request comment; `crate::comment` puts them together within GitHub's
/// size limit.
pub const HEADING: &str = "## Release preview";

/// The plan's one-line summary, in bold.
pub fn summary_md(p: &PlanPreview) -> String {
    format!("**{}**\n", escape(&p.summary.text))
}

pub const IMAGES_HEAD: &str =
    "| Image | Action | Outcome | Source AMI | Code tag | AMI |\n|---|---|---|---|---|---|\n";

/// One image's row of the images table.
pub fn image_row(i: &ImageChange) -> String {
    let a = i.resource.action;
    let source = match (&i.source_ami, &i.source_ami_filter) {
        (None, Some(f)) => format!(
            "{} (newest of {} by {})",
            diff_md(&i.source_ami_id, a),
            code(&f.name),
            escape(&f.owners.join(", "))
        ),
        _ => diff_md(&i.source_ami_id, a),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} |\n",
        code(&i.resource.address),
        action_md(a),
        if a.is_change() {
            outcome_text(i.outcome)
        } else {
            "—"
        },
        source,
        diff_md(&i.code_tag, a),
        diff_md(&i.image_id, a),
    )
}

/// Why images change, one line each; empty when there is nothing to say.
pub fn image_reasons(images: &[ImageChange]) -> String {
    let mut out = String::new();
    for i in images.iter().filter(|i| {
        !i.reasons.is_empty()
            || (i.resource.action == Action::Update && !i.changed_attributes.is_empty())
    }) {
        let mut why = i.reasons.clone();
        if i.resource.action == Action::Update {
            why.push(format!("changes: {}", describe_all(&i.changed_attributes)));
        }
        let _ = writeln!(
            out,
            "- {}: {}",
            code(&i.resource.address),
            escape(&why.join("; "))
        );
    }
    out
}

/// The fingerprints of the images to bake; empty when none is baked.
pub fn image_fingerprints(images: &[ImageChange]) -> String {
    let mut out = String::new();
    for i in images
        .iter()
        .filter(|i| matches!(i.resource.action, Action::Create | Action::Replace))
    {
        let _ = writeln!(
            out,
            "- {}: {}",
            code(&i.resource.address),
            diff_md(&i.fingerprint, i.resource.action)
        );
    }
    out
}

pub const RELEASES_HEAD: &str =
    "| Release | Group | Action | Instances | Batches | Duration |\n|---|---|---|---:|---:|---:|\n";

/// What a release replaces, when known: (instances, batches, estimated seconds if timed).
pub fn release_counts(r: &ReleaseChange) -> Option<(usize, usize, Option<u64>)> {
    if r.schedule_state == ScheduleState::NotRunning {
        return None;
    }
    if let Some(p) = &r.schedule {
        let s = &p.schedule;
        let instances = s.batches.iter().map(|b| b.instance_ids.len()).sum();
        return Some((instances, s.batches.len(), Some(s.estimated_duration_secs)));
    }
    r.planned_batches
        .as_ref()
        .map(|batches| (batches.iter().map(Vec::len).sum(), batches.len(), None))
}

/// One release's row of the releases table.
pub fn release_row(r: &ReleaseChange) -> String {
    let (instances, batches, secs) = match (release_counts(r), r.schedule_state) {
        (Some((n, b, secs)), _) => (
            n.to_string(),
            b.to_string(),
            secs.map(release_planner::render::duration)
                .unwrap_or_else(|| format!("_{UNKNOWN}_")),
        ),
        (None, ScheduleState::NotRunning) => ("—".into(), "—".into(), "—".into()),
        (None, _) => (
            format!("_{UNKNOWN}_"),
            format!("_{UNKNOWN}_"),
            format!("_{UNKNOWN}_"),
        ),
    };
    format!(
        "| {} | {} | {} | {instances} | {batches} | {secs} |\n",
        code(&r.resource.address),
        diff_md(&r.group, r.resource.action),
        action_md(r.resource.action),
    )
}

/// A release in one line of plain text: `rolling_asg_release.web (group web): 6 instances in 3
/// batches, about 6m`.
pub fn release_line(r: &ReleaseChange) -> String {
    let what = match release_counts(r) {
        Some((n, b, secs)) => format!(
            "{} in {}{}",
            crate::preview::plural(n as u32, "instance"),
            crate::preview::plural(b as u32, "batch"),
            secs.map(|s| format!(", about {}", release_planner::render::duration(s)))
                .unwrap_or_default()
        ),
        None if r.schedule_state == ScheduleState::NotRunning => match r.resource.action {
            Action::NoOp | Action::Read => "no change".to_owned(),
            Action::Delete | Action::Forget => {
                "removed from the state, the group is left as it is".to_owned()
            }
            _ => "new settings, no release runs".to_owned(),
        },
        None => format!("batches {UNKNOWN}"),
    };
    format!(
        "{} (group {}): {what}",
        r.resource.address,
        diff_text(&r.group, r.resource.action)
    )
}

/// A release's full entry: settings, warnings, batches, instance ids (folded) and chart.
pub fn release_detail(r: &ReleaseChange) -> String {
    let mut out = String::new();
    release_md(&mut out, r);
    out
}

fn release_md(out: &mut String, r: &ReleaseChange) {
    let a = r.resource.action;
    let mut bullets = String::new();
    let _ = writeln!(
        bullets,
        "- **Resource** {} ({})",
        code(&r.resource.address),
        action_md(a)
    );
    let _ = writeln!(bullets, "- **Image** {}", release_image_md(r));
    if r.schedule_state != ScheduleState::NotRunning {
        let _ = writeln!(bullets, "- **Launch** {}", escape(&launch_text(r)));
    }
    if !r.changed_attributes.is_empty() {
        let _ = writeln!(
            bullets,
            "- **Changes** {}",
            escape(&describe_all(&r.changed_attributes))
        );
    }
    if !r.reasons.is_empty() {
        let _ = writeln!(bullets, "- **Why** {}", escape(&r.reasons.join("; ")));
    }
    if let Some(p) = &r.schedule {
        let p = &shown_preview(r, p);
        if image_unknown(r) {
            let _ = writeln!(bullets, "- **Note** {PLACEHOLDER_NOTE}");
        }
        // The library's section starts with its own heading; ours nest one level deeper, and
        // our bullets join its list.
        let body = render_markdown(&snapshot_of(p), &p.schedule);
        let body = body
            .strip_prefix("### ")
            .map(|b| format!("#### {b}"))
            .unwrap_or(body);
        match body.split_once("\n\n") {
            Some((title, rest)) => {
                let _ = write!(out, "\n{title}\n\n{bullets}{rest}");
            }
            None => {
                let _ = write!(out, "\n{body}\n{bullets}");
            }
        }
        return;
    }
    let title = match a {
        Action::NoOp => "No change to",
        Action::Delete | Action::Forget => "Removed: release of",
        _ if r.schedule_state == ScheduleState::NotRunning => "New settings for",
        _ => "Release of",
    };
    let _ = writeln!(out, "\n#### {title} {}\n", code(&diff_text(&r.group, a)));
    out.push_str(&bullets);
    if r.schedule_state == ScheduleState::KnownAfterApply {
        let _ = writeln!(out, "- **Schedule** _{UNKNOWN}_ (capacity and timing)");
        match &r.planned_batches {
            Some(batches) => {
                for (n, ids) in batches.iter().enumerate() {
                    let ids: Vec<String> = ids.iter().map(|i| code(i)).collect();
                    let _ = writeln!(out, "  - Batch {}: {}", n + 1, ids.join(", "));
                }
            }
            None => {
                let _ = writeln!(out, "  - Batches _{UNKNOWN}_");
            }
        }
    }
    if matches!(a, Action::Delete | Action::Forget) {
        out.push_str("- **Outcome** removed from the state; the group is left as it is\n");
    }
}
