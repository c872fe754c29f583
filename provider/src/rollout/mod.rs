//! The release engine: executes a `release-planner` schedule on a group through [`GroupApi`],
//! batch by batch, with health waits, a lock, a resumable record, rollback and cleanup.

pub mod capacity;
pub mod execute;
pub mod group;
pub mod patient;
pub mod prune;
pub mod record;
pub mod sim;
pub mod warm_pool;

pub use execute::{
    run, LaunchMode, Outcome, ProtectedInstances, ReleaseConfig, ReleaseError, StandbyInstances,
    Status,
};
pub use group::{AwsGroup, GroupApi, HealthSource, LaunchSetting};
