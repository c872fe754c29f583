//! Weighted capacity. When the overrides of a group's mixed instances policy carry a
//! `WeightedCapacity`, the group's desired, minimum and maximum capacity are in capacity units,
//! not instances, and each instance counts for its type's weight; the group launches until the
//! units cover the desired capacity, even past it.
//! <https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-weighting.html>
//! <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchTemplateOverrides.html>
//!
//! So a release sizes batches, the healthy floor and its surges in units too: the batch size
//! and the floor are percentages of a desired capacity in units, and a batch is done when the
//! units of its new instances cover it. Without weights every instance is one unit, and every
//! number here is the count it was.

use crate::model::{GroupSnapshot, InstanceSnapshot};
use std::fmt;

impl GroupSnapshot {
    /// Capacity is counted in units: an override of the group's policy carries a weight.
    pub fn is_weighted(&self) -> bool {
        self.overrides()
            .iter()
            .any(|o| o.weighted_capacity.is_some())
    }

    /// The units `instance` counts for: its reported weight in a weighted group (1 when it
    /// reports none), else 1.
    pub fn units_of(&self, instance: &InstanceSnapshot) -> u32 {
        if self.is_weighted() {
            instance.weighted_capacity.unwrap_or(1).max(1)
        } else {
            1
        }
    }

    /// The units of the instances with these ids (ids not in the group count nothing).
    pub fn units_of_ids<'a>(&self, ids: impl IntoIterator<Item = &'a String>) -> u32 {
        ids.into_iter()
            .filter_map(|id| self.instances.iter().find(|i| &i.id == id))
            .map(|i| self.units_of(i))
            .fold(0u32, u32::saturating_add)
    }

    /// The largest weight an instance of the group can come with: the overrides' and the
    /// instances' own (a group's allocation strategy picks the types, so any may replace any).
    pub fn largest_weight(&self) -> u32 {
        if !self.is_weighted() {
            return 1;
        }
        let overrides = self.overrides().iter().filter_map(|o| o.weighted_capacity);
        let instances = self.instances.iter().map(|i| self.units_of(i));
        overrides.chain(instances).max().unwrap_or(1).max(1)
    }

    /// Units that serve right now (InService and Healthy), whatever their image: in an
    /// unweighted group, [`GroupSnapshot::healthy_in_service`].
    pub fn healthy_units(&self) -> u32 {
        self.instances
            .iter()
            .filter(|i| i.is_healthy_in_service())
            .map(|i| self.units_of(i))
            .fold(0u32, u32::saturating_add)
    }
}

/// A size as a weighted group's preview shows it: units and the instances they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub units: u32,
    pub instances: u32,
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u32| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} unit{} ({} instance{})",
            self.units,
            plural(self.units),
            self.instances,
            plural(self.instances)
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Health, LaunchSource, LifecycleState, Override};
    use crate::*;

    fn inst(id: &str, weight: Option<u32>, healthy: bool) -> InstanceSnapshot {
        InstanceSnapshot {
            id: id.into(),
            availability_zone: "a".into(),
            image_id: "ami-old".into(),
            lifecycle_state: LifecycleState::InService,
            health: if healthy {
                Health::Healthy
            } else {
                Health::Unhealthy
            },
            protected_from_scale_in: false,
            launch_time: None,
            weighted_capacity: weight,
        }
    }

    fn group(weights: &[Option<u32>], instances: Vec<InstanceSnapshot>) -> GroupSnapshot {
        GroupSnapshot {
            name: "g".into(),
            desired_capacity: 6,
            min_size: 0,
            max_size: 12,
            instances,
            availability_zones: vec![],
            launch: LaunchSource::MixedInstancesPolicy {
                launch_template_id: Some("lt-1".into()),
                launch_template_name: None,
                version: "1".into(),
                instance_types: vec![],
                overrides: weights
                    .iter()
                    .map(|w| Override {
                        weighted_capacity: *w,
                        ..Override::default()
                    })
                    .collect(),
            },
            target_group_arns: vec![],
            load_balancer_names: vec![],
            launch_image_id: None,
            replacement: Replacement::default(),
            warm_pool: None,
        }
    }

    #[test]
    fn instances_count_their_weight_only_in_a_weighted_group() {
        let instances = vec![
            inst("i-1", Some(2), true),
            inst("i-2", Some(1), true),
            inst("i-3", Some(2), false),
            inst("i-4", None, true),
        ];
        let weighted = group(&[Some(1), Some(2)], instances.clone());
        assert!(weighted.is_weighted());
        assert_eq!(
            weighted.healthy_units(),
            2 + 1 + 1,
            "i-4 reports none: one unit"
        );
        assert_eq!(weighted.healthy_in_service(), 3);
        let ids = ["i-1".to_string(), "i-3".into(), "i-9".into()];
        assert_eq!(
            weighted.units_of_ids(&ids),
            4,
            "an id not in the group counts nothing"
        );

        let plain = group(&[None, None], instances);
        assert!(!plain.is_weighted());
        assert_eq!(plain.healthy_units(), plain.healthy_in_service());
        assert_eq!(plain.units_of_ids(&ids), 2);
    }

    #[test]
    fn units_read_with_their_instances() {
        let u = |units, instances| Units { units, instances }.to_string();
        assert_eq!(u(8, 4), "8 units (4 instances)");
        assert_eq!(u(1, 1), "1 unit (1 instance)");
        assert_eq!(u(2, 1), "2 units (1 instance)");
    }
}
