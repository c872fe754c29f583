//! The machine-readable preview: everything a program (the provider, a CI check, a dashboard)
//! needs, under a `schema_version` so consumers can refuse what they do not understand.

use super::images_in_use;
use crate::model::{GroupSnapshot, LaunchSource};
use crate::schedule::Schedule;
use crate::settings::ReleaseSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped on any change that is not purely additive.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub schema_version: u32,
    pub group: GroupSummary,
    pub settings: ReleaseSettings,
    pub schedule: Schedule,
}

/// The group as it was when the schedule was computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub name: String,
    pub desired_capacity: u32,
    pub min_size: u32,
    pub max_size: u32,
    pub availability_zones: Vec<String>,
    pub launch: LaunchSource,
    /// Instances per image, leaving instances excluded: the "from" side of the release.
    pub images: BTreeMap<String, u32>,
    pub target_group_arns: Vec<String>,
    pub load_balancer_names: Vec<String>,
}

impl Preview {
    pub fn new(snapshot: &GroupSnapshot, settings: &ReleaseSettings, schedule: &Schedule) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            group: GroupSummary {
                name: snapshot.name.clone(),
                desired_capacity: snapshot.desired_capacity,
                min_size: snapshot.min_size,
                max_size: snapshot.max_size,
                availability_zones: snapshot.availability_zones.clone(),
                launch: snapshot.launch.clone(),
                images: images_in_use(snapshot),
                target_group_arns: snapshot.target_group_arns.clone(),
                load_balancer_names: snapshot.load_balancer_names.clone(),
            },
            settings: settings.clone(),
            schedule: schedule.clone(),
        }
    }
}

/// Pretty-printed JSON of the [`Preview`].
pub fn render_json(
    snapshot: &GroupSnapshot,
    settings: &ReleaseSettings,
    schedule: &Schedule,
) -> String {
    serde_json::to_string_pretty(&Preview::new(snapshot, settings, schedule))
        .expect("a preview has only string keys and plain values")
}
