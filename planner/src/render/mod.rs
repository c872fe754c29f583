//! Views of a schedule for people (text for terminals, Markdown for pull requests) and programs
//! (versioned JSON). Renderers only format: every number comes from the [`crate::Schedule`].

pub mod json;
pub mod markdown;
pub mod text;

use crate::model::{GroupSnapshot, LifecycleState};
use crate::schedule::{Batch, Capacity, WarmPoolPlan};
use std::collections::BTreeMap;

/// Instances per image among those not leaving the group: the "from" side of the release.
pub fn images_in_use(snapshot: &GroupSnapshot) -> BTreeMap<String, u32> {
    let mut images = BTreeMap::new();
    for i in &snapshot.instances {
        use LifecycleState::*;
        if !matches!(
            i.lifecycle_state,
            Terminating | Terminated | Detaching | Detached
        ) {
            *images.entry(i.image_id.clone()).or_insert(0) += 1;
        }
    }
    images
}

/// `4 instances waiting (Stopped; min size 1, max prepared capacity max size, reuse on scale-in
/// off): 3 on an old image, refreshed right after the launch switch; 1 on the target`.
pub(crate) fn warm_pool_line(pool: &WarmPoolPlan) -> String {
    let prepared = pool
        .max_group_prepared_capacity
        .map_or_else(|| "max size".to_owned(), |n| n.to_string());
    let settings = format!(
        "{}; min size {}, max prepared capacity {prepared}, reuse on scale-in {}",
        pool.pool_state.as_str(),
        pool.min_size,
        if pool.reuse_on_scale_in { "on" } else { "off" }
    );
    let waiting = format!(
        "{} instance{} waiting ({settings})",
        pool.instances,
        if pool.instances == 1 { "" } else { "s" }
    );
    if pool.to_refresh.is_empty() {
        return format!("{waiting}: all on the target");
    }
    format!(
        "{waiting}: {} on an old image, refreshed right after the launch switch; {} on the target",
        pool.to_refresh.len(),
        pool.on_target
    )
}

/// `1h 2m 3s`, `12m`, `45s`, `0s`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// `us-east-1a 2, us-east-1b 1`.
/// After a size in a weighted group's preview: its sizes are capacity units.
pub(crate) fn unit(snapshot: &GroupSnapshot) -> &'static str {
    if snapshot.is_weighted() {
        " units"
    } else {
        ""
    }
}

pub(crate) fn zones(batch: &Batch) -> String {
    batch
        .by_az
        .iter()
        .map(|(az, n)| format!("{az} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `12 → 15 → 12` for one field of before/during/after.
pub(crate) fn steps(batch: &Batch, field: fn(&Capacity) -> u32) -> String {
    format!(
        "{} → {} → {}",
        field(&batch.capacity_before),
        field(&batch.capacity_during),
        field(&batch.capacity_after)
    )
}

pub(crate) fn images_line(images: &BTreeMap<String, u32>) -> String {
    if images.is_empty() {
        return "none".to_owned();
    }
    images
        .iter()
        .map(|(image, n)| format!("{image} × {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod duration_tests {
    use super::duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(720), "12m");
        assert_eq!(duration(3723), "1h 2m 3s");
        assert_eq!(duration(7200), "2h");
    }
}
