//! The Terraform side of the provider: values, schemas, diagnostics, the resource and data source
//! traits and the gRPC service that dispatches to them.

pub mod data_source;
pub mod diag;
pub mod duration;
pub mod guard;
pub mod plan_helpers;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod server;
pub mod value;
mod wire;
