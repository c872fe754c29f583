//! A framework for Terraform providers written in Rust (plugin protocol 6), in the spirit of
//! terraform-plugin-framework: it serves the plugin the way Terraform's go-plugin host expects
//! (`plugin`), speaks the wire format (`value`, `wire`), and dispatches the protocol's RPCs
//! (`server`) to a [`provider::Provider`] and its [`resource::Resource`]s and
//! [`data_source::DataSource`]s.
//!
//! It knows no cloud and no particular provider: `Provider::configure` returns the provider's own
//! state type, which resources receive through [`resource::Cx`]. Layering, top to bottom:
//! `plugin` (process, TLS, socket) → `server` (RPCs; each one `guard`ed so a panic is a
//! diagnostic) → the traits → `value`/`schema`/`diag`.

pub mod args;
pub mod cancel;
pub mod civil_time;
pub mod data_source;
pub mod diag;
pub mod guard;
pub mod plan_helpers;
pub mod plugin;
pub mod provider;
pub mod resource;
pub mod schema;
pub mod server;
pub mod value;
mod wire;
