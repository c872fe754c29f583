//! Markdown preview for pull-request comments: summary, warnings, a table of batches, the instance
//! ids (folded), and a Mermaid gantt chart that GitHub draws.
//!
//! GitHub limits a comment to 65,536 characters, so ids and chart rows are capped; the JSON
//! preview always has everything.

use super::{duration, images_in_use, images_line, steps, zones};
use crate::model::GroupSnapshot;
use crate::schedule::{Capacity, Schedule};
use std::fmt::Write;

/// Instance ids listed per batch before "and N more".
const IDS_PER_BATCH: usize = 50;
/// Table rows and chart bars before the rest is summarised.
const MAX_ROWS: usize = 100;
const MAX_BARS: usize = 40;

pub fn render_markdown(snapshot: &GroupSnapshot, schedule: &Schedule) -> String {
    let mut out = String::new();
    let c = &schedule.counts;
    let _ = writeln!(
        out,
        "### Release `{}` → `{}`\n",
        code(&schedule.group_name),
        code(&schedule.target_image_id)
    );
    let _ = writeln!(
        out,
        "- **Strategy** {}, batches of {}; healthy floor {} in service at every step",
        schedule.strategy, schedule.batch_size, schedule.healthy_floor
    );
    let _ = writeln!(
        out,
        "- **Group** desired {}, min {}, max {}; {}",
        snapshot.desired_capacity,
        snapshot.min_size,
        snapshot.max_size,
        escape(&snapshot.launch.to_string())
    );
    let _ = writeln!(
        out,
        "- **Images now** {}",
        escape(&images_line(&images_in_use(snapshot)))
    );
    let _ = writeln!(
        out,
        "- **Instances** {} to replace ({} unhealthy or pending, {} protected), {} already on target, {} left alone",
        c.to_replace,
        c.unhealthy_to_replace,
        c.protected_to_replace,
        c.on_target,
        c.standby_skipped + c.other_skipped
    );
    let _ = writeln!(
        out,
        "- **Estimated duration** {} in {} batch{}",
        duration(schedule.estimated_duration_secs),
        schedule.batches.len(),
        if schedule.batches.len() == 1 {
            ""
        } else {
            "es"
        }
    );
    if !schedule.warnings.is_empty() {
        out.push_str("\n> [!WARNING]\n");
        for w in &schedule.warnings {
            let _ = writeln!(out, "> - {}", escape(&w.message));
        }
    }
    if schedule.batches.is_empty() {
        out.push_str("\nNothing will be replaced.\n");
        return out;
    }

    out.push_str("\n| Batch | Instances | Zones | Desired | Max | Healthy | Starts | Then |\n");
    out.push_str("|---:|---:|---|---|---|---|---:|---|\n");
    for b in schedule.batches.iter().take(MAX_ROWS) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | +{} | {} |",
            b.index + 1,
            b.instance_ids.len(),
            escape(&zones(b)),
            steps(b, |c: &Capacity| c.desired),
            steps(b, |c: &Capacity| c.max),
            steps(b, |c: &Capacity| c.healthy_in_service),
            duration(b.starts_at_secs),
            if b.checkpoint_after {
                "⏸ checkpoint"
            } else {
                ""
            }
        );
    }
    if schedule.batches.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n_… and {} more batches (see the JSON preview)._",
            schedule.batches.len() - MAX_ROWS
        );
    }
    out.push_str("\nCapacity columns read before → during → after the step.\n");

    out.push_str("\n<details><summary>Instances per batch</summary>\n\n");
    for b in schedule.batches.iter().take(MAX_ROWS) {
        let shown: Vec<String> = b
            .instance_ids
            .iter()
            .take(IDS_PER_BATCH)
            .map(|id| format!("`{}`", code(id)))
            .collect();
        let more = b.instance_ids.len().saturating_sub(IDS_PER_BATCH);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = writeln!(out, "- Batch {}: {}{tail}", b.index + 1, shown.join(", "));
    }
    out.push_str("\n</details>\n");

    gantt(&mut out, schedule);
    out
}

/// Times are seconds from the start (`dateFormat X`), so the chart shows elapsed time, not dates
/// (Mermaid draws the axis in the viewer's time zone, so its labels may be offset by it).
fn gantt(out: &mut String, schedule: &Schedule) {
    out.push_str("\n```mermaid\ngantt\n");
    let _ = writeln!(
        out,
        "    title {}",
        mermaid_text(&format!(
            "Release {} to {}",
            schedule.group_name, schedule.target_image_id
        ))
    );
    out.push_str("    dateFormat X\n    axisFormat %H:%M\n    section Batches\n");
    let mut previous_end: Option<u64> = None;
    for b in schedule.batches.iter().take(MAX_BARS) {
        let n = b.index + 1;
        if let Some(end) = previous_end.filter(|&end| end < b.starts_at_secs) {
            let _ = writeln!(out, "    pause :done, p{n}, {end}, {}", b.starts_at_secs);
        }
        let _ = writeln!(
            out,
            "    Batch {n} ({} instance{}) :b{n}, {}, {}",
            b.instance_ids.len(),
            if b.instance_ids.len() == 1 { "" } else { "s" },
            b.starts_at_secs,
            b.ends_at_secs
        );
        if b.checkpoint_after {
            let _ = writeln!(
                out,
                "    checkpoint :milestone, c{n}, {}, {}",
                b.ends_at_secs, b.ends_at_secs
            );
        }
        previous_end = Some(b.ends_at_secs);
    }
    if let Some(last) = schedule.batches.get(MAX_BARS) {
        let rest = schedule.batches.len() - MAX_BARS;
        let _ = writeln!(
            out,
            "    {rest} more batches :rest, {}, {}",
            last.starts_at_secs, schedule.estimated_duration_secs
        );
    }
    out.push_str("```\n");
}

/// Escapes what would break a table cell or start Markdown formatting.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Inside a code span only a backtick can end it.
fn code(s: &str) -> String {
    s.replace('`', "'")
}

/// Mermaid gantt lines split on `:` and treat `#` and `;` specially.
fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| if matches!(c, ':' | '#' | ';') { ' ' } else { c })
        .collect()
}
