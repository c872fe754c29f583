//! The release model: a snapshot of an Auto Scaling group + release settings → a schedule of
//! batches. Pure and synchronous (no I/O, no clock, no AWS types), so the schedule `terraform plan`
//! shows is exactly the one apply executes (DESIGN principle 1), and a resumed apply recomputes it
//! from the cloud's state alone (principle 4).
//!
//! ```
//! use release_planner::*;
//! let snapshot: GroupSnapshot = serde_json::from_str(r#"{
//!     "name": "web", "desired_capacity": 2, "min_size": 1, "max_size": 4,
//!     "instances": [
//!         {"id": "i-1", "availability_zone": "eu-west-1a", "image_id": "ami-old",
//!          "lifecycle_state": "InService", "health": "Healthy"},
//!         {"id": "i-2", "availability_zone": "eu-west-1b", "image_id": "ami-old",
//!          "lifecycle_state": "InService", "health": "Healthy"}
//!     ]}"#).unwrap();
//! let settings = ReleaseSettings { batch_size: "1".parse().unwrap(), ..ReleaseSettings::new("ami-new") };
//! let schedule = plan_release(&snapshot, &settings).unwrap();
//! assert_eq!(schedule.batches.len(), 2);
//! assert_eq!(schedule.batches[0].capacity_during.desired, 3); // surge: launch first
//! ```

#[cfg(feature = "aws")]
pub mod aws;
pub mod batch_size;
mod classify;
pub mod diff;
pub mod duration;
pub mod error;
pub mod model;
mod picker;
mod plan;
pub mod render;
pub mod schedule;
pub mod settings;
pub mod units;
pub mod warning;

pub use batch_size::{BatchSize, BatchSizeError};
pub use diff::{diff_schedules, ScheduleChange};
pub use error::PlanError;
pub use model::{
    GroupSnapshot, Health, InstanceSnapshot, LaunchSource, LifecycleState, MaintenancePolicy,
    Override, PoolState, Replacement, TemplateRef, UnmovableOverride, WarmPool,
};
pub use plan::{plan_release, remaining};
pub use render::json::{render_json, GroupSummary, Preview, SCHEMA_VERSION};
pub use render::markdown::render_markdown;
pub use render::text::render_text;
pub use schedule::{Batch, Capacity, InstanceCounts, Schedule, WarmPoolPlan};
pub use settings::{
    instance_warmup_secs, HealthCheck, HealthCheckError, ProtectedInstances,
    ProtectedInstancesError, ReleaseSettings, StandbyInstances, StandbyInstancesError, Strategy,
    StrategyError,
};
pub use units::Units;
pub use warning::{Warning, WarningKind};
