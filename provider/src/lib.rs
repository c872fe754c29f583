//! `terraform-provider-immutable`: a Terraform provider (plugin protocol 6) that bakes AMIs
//! (`immutable_image`) and rolls Auto Scaling groups onto them (`rolling_asg_release`).
//!
//! The crate is layered so that each layer only knows the one below it:
//! `plugin` (go-plugin serving: handshake, mTLS, socket, logs) → `tf` (wire values, schema,
//! diagnostics, resource dispatch) → `resources` (one file per resource type) → `bake` /
//! `rollout` engines → `aws` (clients, retries, waiters). See ARCHITECTURE.md.

pub mod aws;
pub mod bake;
pub mod cancel;
mod civil_time;
pub mod config;
pub mod data_sources;
pub mod docs;
pub mod owner;
pub mod plugin;
pub mod provider;
pub mod resources;
pub mod rollout;
pub mod tf;

/// The provider's version, from Cargo metadata. Terraform takes the version it shows from where
/// the provider is installed (`scripts/install` names that directory after this same value); the
/// binary prints it with `--version` and logs it at start-up.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
