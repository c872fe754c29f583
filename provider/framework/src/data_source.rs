//! The data source abstraction, beside [`super::resource::Resource`]: a data source has a schema,
//! static validation and one verb, `read`, that turns a configuration into a state. It keeps
//! nothing between runs and must not change anything: Terraform calls it on every plan.
//!
//! The server fills schema defaults into the configuration before `read`, and checks that the
//! result keeps every value the configuration set (Terraform rejects a data source that changes
//! them).

use async_trait::async_trait;

use super::diag::Diagnostics;
use super::resource::Cx;
use super::schema::Schema;
use super::value::Value;

#[async_trait]
pub trait DataSource<S>: Send + Sync {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Static checks only — no call to the outside world — so bad input is reported before
    /// anything is read.
    /// Values may be unknown here; check only what is known.
    fn validate(&self, config: &Value) -> Diagnostics;

    /// The state for `config` (defaults filled, every value known): the configured attributes
    /// unchanged, computed ones filled in. Read-only: nothing called here may change anything.
    async fn read(&self, cx: &Cx<S>, config: &Value) -> Result<Value, Diagnostics>;
}
