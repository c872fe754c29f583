//! Markdown preview for pull-request comments: summary, warnings, a table of batches, the instance
//! ids (folded), and a Mermaid gantt chart that GitHub draws.
//!
//! GitHub limits a comment to 65,536 characters, so ids and chart rows are capped; the JSON
//! preview always has everything.

use super::{duration, images_in_use, images_line, steps, warm_pool_line, zones};
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
        "- **Strategy** {}, batches of {}{unit}; healthy floor {}{unit} in service at every step",
        schedule.strategy,
        schedule.batch_size,
        schedule.healthy_floor,
        unit = super::unit(snapshot)
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
        c.standby_skipped + c.other_skipped + c.protected_skipped
    );
    if let Some(pool) = &schedule.warm_pool {
        let _ = writeln!(out, "- **Warm pool** {}", escape(&warm_pool_line(pool)));
    }
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
            b.size(),
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
        let size = match b.units {
            Some(_) => format!("{}: ", b.size()),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "- Batch {}: {size}{}{tail}",
            b.index + 1,
            shown.join(", ")
        );
    }
    out.push_str("\n</details>\n");

    gantt(&mut out, schedule);
    out
}

/// The chart of the batches on an axis of elapsed time.
///
/// Mermaid reads and draws gantt times in the viewer's local time zone, and GitHub runs it in the
/// reviewer's browser. Epoch seconds (`dateFormat X`) therefore put the axis at the viewer's UTC
/// offset (19:00 in New York), and Mermaid 11 reads a start of `0` as no date at all (every bar
/// at the origin). Times written as local wall-clock dates without a zone are read and drawn in
/// the same zone, so a release starting at [`EPOCH`] 00:00:00 reads 00:00 everywhere; each bar
/// has its absolute start and end, so batches, pauses and checkpoints fall where the schedule puts
/// them. `planner/tests/browser.rs` renders these charts in Chromium in two time zones.
fn gantt(out: &mut String, schedule: &Schedule) {
    let total = schedule.estimated_duration_secs;
    let axis = Axis::for_duration(total);
    out.push_str("\n```mermaid\ngantt\n");
    let _ = writeln!(
        out,
        "    title {}",
        mermaid_text(&format!(
            "Release {} to {} (elapsed time)",
            schedule.group_name, schedule.target_image_id
        ))
    );
    let _ = writeln!(
        out,
        "    dateFormat YYYY-MM-DD HH:mm:ss\n    axisFormat {}\n    tickInterval {}\n    todayMarker off\n    section Batches",
        axis.format, axis.interval
    );
    let mut previous_end: Option<u64> = None;
    for b in schedule.batches.iter().take(MAX_BARS) {
        let n = b.index + 1;
        if let Some(end) = previous_end.filter(|&end| end < b.starts_at_secs) {
            let _ = writeln!(
                out,
                "    pause :done, p{n}, {}, {}",
                at(end),
                at(b.starts_at_secs)
            );
        }
        let units = match b.units {
            Some(u) => format!("{u} unit{}, ", if u == 1 { "" } else { "s" }),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "    Batch {n} ({units}{} instance{}) :b{n}, {}, {}",
            b.instance_ids.len(),
            if b.instance_ids.len() == 1 { "" } else { "s" },
            at(b.starts_at_secs),
            at(b.ends_at_secs)
        );
        if b.checkpoint_after {
            let _ = writeln!(
                out,
                "    checkpoint :milestone, c{n}, {}, 0s",
                at(b.ends_at_secs)
            );
        }
        previous_end = Some(b.ends_at_secs);
    }
    if let Some(last) = schedule.batches.get(MAX_BARS) {
        let rest = schedule.batches.len() - MAX_BARS;
        let _ = writeln!(
            out,
            "    {rest} more batches :rest, {}, {}",
            at(last.starts_at_secs),
            at(total.max(last.starts_at_secs))
        );
    }
    out.push_str("```\n");
}

/// The release's start on the chart: midnight of a day on which no time zone in use changes its
/// offset, so every viewer's clock reads the elapsed time.
const EPOCH: (i64, u32, u32) = (2000, 1, 1);

/// Ticks and their labels for a release of `total` seconds: about ten ticks at a round interval.
struct Axis {
    interval: &'static str,
    format: &'static str,
}

impl Axis {
    fn for_duration(total: u64) -> Axis {
        const STEPS: [(u64, &str); 17] = [
            (10, "10second"),
            (30, "30second"),
            (60, "1minute"),
            (120, "2minute"),
            (300, "5minute"),
            (600, "10minute"),
            (900, "15minute"),
            (1800, "30minute"),
            (3600, "1hour"),
            (7200, "2hour"),
            (10800, "3hour"),
            (21600, "6hour"),
            (43200, "12hour"),
            (86400, "1day"),
            (172_800, "2day"),
            (604_800, "1week"),
            (2_419_200, "4week"),
        ];
        let (step, interval) = STEPS
            .iter()
            .find(|(secs, _)| total / secs <= 10)
            .copied()
            .unwrap_or(STEPS[STEPS.len() - 1]);
        let format = if step < 60 {
            "%H:%M:%S"
        } else if total < 86_400 {
            "%H:%M"
        } else {
            // Day 1 is the release's first day.
            "day %-j %H:%M"
        };
        Axis { interval, format }
    }
}

/// `secs` after the start as the chart's local date and time.
fn at(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (y, m, d) = civil_from_days(days_from_civil(EPOCH) + days);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil((y, m, d): (i64, u32, u32)) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Escapes what would break a table cell or start Markdown formatting.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        // A line break would end the cell or the list item.
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

/// Inside a code span only a backtick (or a line break, in a heading) can end it.
fn code(s: &str) -> String {
    s.replace('`', "'").replace(['\n', '\r'], " ")
}

/// Mermaid gantt lines split on `:` and treat `#` and `;` specially; a line break would end the
/// line and a backtick could close the code fence.
fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, ':' | '#' | ';' | '\n' | '\r') {
                ' '
            } else if c == '`' {
                '\''
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{at, Axis};

    #[test]
    fn chart_times_are_wall_clock_dates_from_the_start() {
        assert_eq!(at(0), "2000-01-01 00:00:00");
        assert_eq!(at(3_723), "2000-01-01 01:02:03");
        assert_eq!(at(31 * 86_400), "2000-02-01 00:00:00");
        // 2000 is a leap year.
        assert_eq!(at(59 * 86_400), "2000-02-29 00:00:00");
        assert_eq!(at(366 * 86_400 + 5), "2001-01-01 00:00:05");
    }

    #[test]
    fn about_ten_ticks_at_a_round_interval() {
        for (total, interval, format) in [
            (0, "10second", "%H:%M:%S"),
            (45, "10second", "%H:%M:%S"),
            (180, "30second", "%H:%M:%S"),
            (360, "1minute", "%H:%M"),
            (720, "2minute", "%H:%M"),
            (5_400, "10minute", "%H:%M"),
            (86_400 * 3, "12hour", "day %-j %H:%M"),
        ] {
            let a = Axis::for_duration(total);
            assert_eq!((a.interval, a.format), (interval, format), "{total}s");
        }
    }
}
