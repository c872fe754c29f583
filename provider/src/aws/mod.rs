//! AWS access: one lazily built SDK configuration per provider instance, service clients from it,
//! error context, and waiting with backoff.
//!
//! Nothing here runs at provider start-up: Terraform starts the plugin several times per command,
//! and most of those starts never need AWS.

mod clients;
mod credentials;
mod error;
mod image_reads;
pub mod settings;
pub mod tags;
pub mod tls;
pub mod wait;

pub use clients::Aws;
pub use error::{AwsError, ErrorContext};
pub use settings::{
    AccountId, AccountPolicy, AssumeRole, AwsSettings, Endpoints, RetryMode, Service,
    SessionDuration, WebIdentity, WebIdentityToken,
};
