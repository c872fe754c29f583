//! Sorting a snapshot's instances into: to replace, already done, left alone, leaving.

use crate::error::PlanError;
use crate::model::{GroupSnapshot, Health, InstanceSnapshot, LifecycleState};
use crate::schedule::InstanceCounts;
use crate::settings::ProtectedInstances;

pub(crate) struct Classified<'a> {
    /// Old instances the release replaces, sorted by id.
    pub to_replace: Vec<&'a InstanceSnapshot>,
    pub counts: InstanceCounts,
    /// The following lists are sorted by id, for stable warnings.
    /// Old instances protected from scale in: in `to_replace` unless the release ignores them.
    pub protected: Vec<String>,
    pub standby: Vec<String>,
    pub other: Vec<&'a InstanceSnapshot>,
    pub unhealthy_on_target: Vec<String>,
    /// Capacity units of the instances already on the target (`counts.on_target` without
    /// weights).
    pub on_target_units: u32,
}

/// Replacing this instance costs no serving capacity (it is unhealthy, or not in service yet).
pub(crate) fn is_free_to_replace(instance: &InstanceSnapshot) -> bool {
    !instance.is_healthy_in_service()
}

pub(crate) fn classify<'a>(
    snapshot: &'a GroupSnapshot,
    target_image_id: &str,
    protected_instances: ProtectedInstances,
) -> Result<Classified<'a>, PlanError> {
    let mut c = Classified {
        to_replace: Vec::with_capacity(snapshot.instances.len()),
        counts: InstanceCounts::default(),
        protected: Vec::new(),
        standby: Vec::new(),
        other: Vec::new(),
        unhealthy_on_target: Vec::new(),
        on_target_units: 0,
    };
    for instance in &snapshot.instances {
        use LifecycleState::*;
        match &instance.lifecycle_state {
            Terminating | Terminated | Detaching | Detached => c.counts.leaving += 1,
            state if instance.image_id == target_image_id => {
                c.counts.on_target += 1;
                c.on_target_units += snapshot.units_of(instance);
                if *state == InService && instance.health == Health::Unhealthy {
                    c.unhealthy_on_target.push(instance.id.clone());
                }
            }
            InService | Pending
                if instance.protected_from_scale_in
                    && protected_instances == ProtectedInstances::Ignore =>
            {
                c.protected.push(instance.id.clone());
            }
            InService | Pending => {
                c.to_replace.push(instance);
                if is_free_to_replace(instance) {
                    c.counts.unhealthy_to_replace += 1;
                }
                if instance.protected_from_scale_in {
                    c.protected.push(instance.id.clone());
                }
            }
            EnteringStandby | Standby => c.standby.push(instance.id.clone()),
            Other(_) => c.other.push(instance),
        }
    }
    sort_by_id(&mut c.to_replace);
    if let Some(pair) = c.to_replace.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(PlanError::DuplicateInstance(pair[0].id.clone()));
    }
    c.protected.sort_unstable();
    c.standby.sort_unstable();
    c.other.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    c.unhealthy_on_target.sort_unstable();
    c.counts.to_replace = c.to_replace.len() as u32;
    if protected_instances == ProtectedInstances::Ignore {
        c.counts.protected_skipped = c.protected.len() as u32;
    } else {
        c.counts.protected_to_replace = c.protected.len() as u32;
    }
    c.counts.standby_skipped = c.standby.len() as u32;
    c.counts.other_skipped = c.other.len() as u32;
    Ok(c)
}

/// Sorts by id, in plain byte order, fast: comparing a 16-byte integer prefix first avoids a
/// `memcmp` call and two pointer hops per comparison, which dominated planning 10,000 instances.
fn sort_by_id(instances: &mut Vec<&InstanceSnapshot>) {
    let mut keyed: Vec<(u128, &InstanceSnapshot)> =
        instances.iter().map(|&i| (id_prefix(&i.id), i)).collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    instances.clear();
    instances.extend(keyed.into_iter().map(|(_, i)| i));
}

/// The first 16 bytes, zero-padded, as a big-endian integer. When two prefixes differ their order
/// is the ids' byte order (a zero pad sorts first, as a shorter string does); when they are equal
/// the full ids decide.
fn id_prefix(id: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = id.len().min(16);
    bytes[..n].copy_from_slice(&id.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Health, LifecycleState};

    #[test]
    fn fast_sort_is_byte_order() {
        let ids = [
            "i-2",
            "i-10",
            "i-1",
            "",
            "a",
            "a\0",
            "a\0\u{1}",
            "i-0123456789abcdef0",
            "i-0123456789abcdef",
            "i-0123456789abcdeg",
            "I-9",
            "i-0123456789abcdef0a",
            "é",
            "i-0123456789abcdee9",
        ];
        let owned: Vec<InstanceSnapshot> = ids
            .iter()
            .map(|id| InstanceSnapshot {
                id: (*id).to_owned(),
                availability_zone: "a".into(),
                image_id: "ami".into(),
                lifecycle_state: LifecycleState::InService,
                health: Health::Healthy,
                protected_from_scale_in: false,
                launch_time: None,
                weighted_capacity: None,
            })
            .collect();
        let mut refs: Vec<&InstanceSnapshot> = owned.iter().collect();
        sort_by_id(&mut refs);
        let mut expected: Vec<&str> = ids.to_vec();
        expected.sort();
        assert_eq!(
            refs.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            expected
        );
    }
}
