//! The Terraform side of the provider. The protocol, values, schemas, diagnostics and the
//! resource/data source traits live in the `provider-framework` crate (`provider/framework/`);
//! they are re-exported here under their old paths. What is this provider's own stays here.

pub use provider_framework::{
    args, data_source, diag, guard, plan_helpers, provider, resource, schema, server, value,
};
pub mod duration;
