//! Plain-text preview for terminals and CI logs: a summary, the warnings, a table of batches, and
//! every instance id per batch (the reviewer must see exactly what is replaced).

use super::{duration, images_in_use, images_line, steps, warm_pool_line, zones};
use crate::model::GroupSnapshot;
use crate::schedule::{Capacity, Schedule};
use std::fmt::Write;

pub fn render_text(snapshot: &GroupSnapshot, schedule: &Schedule) -> String {
    let mut out = String::new();
    let c = &schedule.counts;
    let unit = super::unit(snapshot);
    let _ = writeln!(
        out,
        "Release of {} to {} (strategy {}, batches of {}{unit})",
        schedule.group_name, schedule.target_image_id, schedule.strategy, schedule.batch_size
    );
    let _ = writeln!(
        out,
        "Group: desired {}, min {}, max {}; {}; zones {}",
        snapshot.desired_capacity,
        snapshot.min_size,
        snapshot.max_size,
        snapshot.launch,
        if snapshot.availability_zones.is_empty() {
            "unknown".to_owned()
        } else {
            snapshot.availability_zones.join(", ")
        }
    );
    let _ = writeln!(out, "Images now: {}", images_line(&images_in_use(snapshot)));
    let _ = writeln!(
        out,
        "Instances: {} to replace ({} unhealthy or pending, {} protected), {} already on target, {} left alone, {} leaving",
        c.to_replace,
        c.unhealthy_to_replace,
        c.protected_to_replace,
        c.on_target,
        c.standby_skipped + c.other_skipped + c.protected_skipped,
        c.leaving
    );
    if let Some(pool) = &schedule.warm_pool {
        let _ = writeln!(out, "Warm pool: {}", warm_pool_line(pool));
    }
    let _ = writeln!(
        out,
        "Healthy floor: {}{unit} in service at every step",
        schedule.healthy_floor
    );
    let _ = writeln!(
        out,
        "Estimated duration: {} ({} batch{})",
        duration(schedule.estimated_duration_secs),
        schedule.batches.len(),
        if schedule.batches.len() == 1 {
            ""
        } else {
            "es"
        }
    );
    if !schedule.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &schedule.warnings {
            let _ = writeln!(out, "  ! {w}");
        }
    }
    if schedule.batches.is_empty() {
        out.push_str("\nNo batches: nothing will be replaced.\n");
        return out;
    }

    let header = [
        "Batch",
        "Instances",
        "Zones",
        "Desired",
        "Max",
        "Healthy",
        "Starts",
        "Then",
    ];
    let rows: Vec<[String; 8]> = schedule
        .batches
        .iter()
        .map(|b| {
            [
                (b.index + 1).to_string(),
                b.size(),
                zones(b),
                steps(b, |c: &Capacity| c.desired),
                steps(b, |c: &Capacity| c.max),
                steps(b, |c: &Capacity| c.healthy_in_service),
                format!("+{}", duration(b.starts_at_secs)),
                if b.checkpoint_after {
                    "checkpoint: stop".to_owned()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    out.push_str("\nCapacity columns read before → during → after the step.\n");
    table_row(&mut out, &header.map(str::to_owned), &widths);
    table_row(&mut out, &widths.map(|w| "-".repeat(w)), &widths);
    for row in &rows {
        table_row(&mut out, row, &widths);
    }

    out.push('\n');
    for b in &schedule.batches {
        match b.units {
            Some(_) => {
                let _ = writeln!(
                    out,
                    "Batch {}: {}: {}",
                    b.index + 1,
                    b.size(),
                    b.instance_ids.join(", ")
                );
            }
            None => {
                let _ = writeln!(out, "Batch {}: {}", b.index + 1, b.instance_ids.join(", "));
            }
        }
    }
    out
}

fn table_row(out: &mut String, cells: &[String; 8], widths: &[usize; 8]) {
    let mut line = String::new();
    for (cell, &w) in cells.iter().zip(widths) {
        let pad = w - cell.chars().count();
        line.push_str(cell);
        line.push_str(&" ".repeat(pad + 2));
    }
    out.push_str(line.trim_end());
    out.push('\n');
}
