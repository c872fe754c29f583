//! `terraform-provider-immutable`: a Terraform provider (plugin protocol 6) that bakes AMIs
//! (`immutable_image`) and rolls Auto Scaling groups onto them (`rolling_asg_release`).
//!
//! Serving, the protocol, values, schemas and the resource traits come from the
//! `provider-framework` crate (re-exported as `plugin`, `tf`, `cancel`); this crate is the
//! provider on top of it: `provider` (the framework's `Provider`, with AWS access as its state)
//! → `resources` / `data_sources` (one file per type) → `bake` / `rollout` engines → `aws`
//! (clients, retries, waiters). See ARCHITECTURE.md.

pub mod aws;
pub mod bake;
pub use provider_framework::cancel;
use provider_framework::civil_time;
pub mod config;
pub mod data_sources;
pub mod docs;
pub mod owner;
pub use provider_framework::plugin;
pub mod provider;
pub mod resources;
pub mod rollout;
pub mod tf;

/// The provider's version, from Cargo metadata. Terraform takes the version it shows from where
/// the provider is installed (`scripts/install` names that directory after this same value); the
/// binary prints it with `--version` and logs it at start-up.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
