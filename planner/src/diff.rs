//! Did the schedule change between plan and apply? Apply recomputes the schedule from a fresh
//! snapshot and compares: if anything it would do differs from what was reviewed, it says what and
//! recomputes instead of silently doing something else (DESIGN principle 1).

use crate::schedule::{Batch, Capacity, Schedule};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ScheduleChange {
    Same,
    /// What differs, one short sentence per line, most important first.
    Changed {
        summary: Vec<String>,
    },
}

impl ScheduleChange {
    pub fn is_same(&self) -> bool {
        matches!(self, ScheduleChange::Same)
    }
}

impl fmt::Display for ScheduleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleChange::Same => f.write_str("the schedule is the one that was planned"),
            ScheduleChange::Changed { summary } => {
                f.write_str("the group changed since the plan:")?;
                for line in summary {
                    write!(f, "\n  - {line}")?;
                }
                Ok(())
            }
        }
    }
}

/// Lines past this many are folded into one "and N more differences".
const MAX_LINES: usize = 12;

/// Compares what apply would do: target, strategy, the instances and their batches, capacities
/// and checkpoints. Estimated times, counts and warnings are commentary and are not compared.
pub fn diff_schedules(planned: &Schedule, now: &Schedule) -> ScheduleChange {
    let mut lines = Vec::new();
    if planned.target_image_id != now.target_image_id {
        lines.push(format!(
            "target image {} → {}",
            planned.target_image_id, now.target_image_id
        ));
    }
    if planned.strategy != now.strategy {
        lines.push(format!("strategy {} → {}", planned.strategy, now.strategy));
    }
    if planned.batch_size != now.batch_size {
        lines.push(format!(
            "batch size {} → {}",
            planned.batch_size, now.batch_size
        ));
    }
    if planned.healthy_floor != now.healthy_floor {
        lines.push(format!(
            "healthy floor {} → {}",
            planned.healthy_floor, now.healthy_floor
        ));
    }

    let planned_ids: BTreeSet<&str> = planned.instance_ids().collect();
    let now_ids: BTreeSet<&str> = now.instance_ids().collect();
    let gone: Vec<&str> = planned_ids.difference(&now_ids).copied().collect();
    let new: Vec<&str> = now_ids.difference(&planned_ids).copied().collect();
    if !gone.is_empty() {
        lines.push(format!(
            "{} planned no longer need{} replacing: {}",
            instances(gone.len()),
            s_if_one(gone.len()),
            list(&gone)
        ));
    }
    if !new.is_empty() {
        lines.push(format!(
            "{} not in the plan need{} replacing: {}",
            instances(new.len()),
            s_if_one(new.len()),
            list(&new)
        ));
    }
    if planned.batches.len() != now.batches.len() {
        lines.push(format!(
            "{} batches planned, {} now",
            planned.batches.len(),
            now.batches.len()
        ));
    }
    for (p, n) in planned.batches.iter().zip(&now.batches) {
        batch_lines(p, n, &mut lines);
    }

    if lines.is_empty() {
        return ScheduleChange::Same;
    }
    if lines.len() > MAX_LINES {
        let more = lines.len() - (MAX_LINES - 1);
        lines.truncate(MAX_LINES - 1);
        lines.push(format!("and {more} more differences"));
    }
    ScheduleChange::Changed { summary: lines }
}

fn batch_lines(p: &Batch, n: &Batch, lines: &mut Vec<String>) {
    let number = p.index + 1;
    if p.instance_ids != n.instance_ids {
        lines.push(format!(
            "batch {number}: instances {} → {}",
            list_owned(&p.instance_ids),
            list_owned(&n.instance_ids)
        ));
    }
    for (when, a, b) in [
        ("before", &p.capacity_before, &n.capacity_before),
        ("during", &p.capacity_during, &n.capacity_during),
        ("after", &p.capacity_after, &n.capacity_after),
    ] {
        if a != b {
            lines.push(format!(
                "batch {number}: capacity {when} {} → {}",
                capacity(a),
                capacity(b)
            ));
        }
    }
    if p.checkpoint_after != n.checkpoint_after {
        let what = if n.checkpoint_after {
            "now stops"
        } else {
            "no longer stops"
        };
        lines.push(format!("batch {number}: {what} at a checkpoint"));
    }
}

fn capacity(c: &Capacity) -> String {
    format!(
        "desired {} min {} max {} healthy {}",
        c.desired, c.min, c.max, c.healthy_in_service
    )
}

fn instances(n: usize) -> String {
    format!("{n} instance{}", if n == 1 { "" } else { "s" })
}

fn s_if_one(n: usize) -> &'static str {
    if n == 1 {
        "s"
    } else {
        ""
    }
}

fn list(ids: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut out = ids
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        out.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    out
}

fn list_owned(ids: &[String]) -> String {
    list(&ids.iter().map(String::as_str).collect::<Vec<_>>())
}
