//! What a provider implements to be served: its configuration block and the resources and data
//! sources it offers. `configure` turns the configuration into the provider's own state type
//! (clients, settings), which every later call receives through [`Cx`](super::resource::Cx):
//! the framework carries it without knowing what it is.

use std::sync::Arc;

use async_trait::async_trait;

use super::data_source::DataSource;
use super::diag::Diagnostics;
use super::resource::Resource;
use super::schema::Schema;
use super::value::Value;

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What `configure` produces and resources use.
    type State: Send + Sync + 'static;

    /// The `provider "<name>" { … }` block.
    fn schema(&self) -> Schema;

    /// Static checks of the provider block (ValidateProviderConfig). `terraform validate` sends
    /// variables as unknown: check what is known.
    fn validate(&self, config: &Value) -> Diagnostics;

    /// ConfigureProvider: the state every resource call of this run gets. Called at plan with
    /// values that may still be unknown; refuse those the provider cannot plan without.
    async fn configure(&self, config: &Value) -> Result<Self::State, Diagnostics>;

    fn resources(&self) -> Vec<Arc<dyn Resource<Self::State>>>;

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::State>>>;
}
