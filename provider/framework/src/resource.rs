//! The resource abstraction: what a resource type implements. Resources see decoded values,
//! read into typed, unknown-aware arguments with `args` (or `value::from_value` for what they
//! stored themselves), and answer with values and diagnostics; msgpack, gRPC and TLS stay below
//! this line.
//!
//! Resources are generic over `S`, the state the provider's `configure` returned (clients,
//! settings): the framework hands it over and knows nothing about it.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::diag::{AttrPath, Diagnostic, Diagnostics};
use super::schema::Schema;
use super::value::Value;
use crate::cancel::Cancel;

/// Everything a resource operation may use besides its values: the configured provider's state
/// (`None` before ConfigureProvider, e.g. at validate), cancellation, and a place to leave
/// warnings that do not fail the operation.
pub struct Cx<S> {
    state: Option<Arc<S>>,
    pub cancel: Cancel,
    warnings: Mutex<Diagnostics>,
}

impl<S> Cx<S> {
    pub fn new(state: Option<Arc<S>>, cancel: Cancel) -> Self {
        Cx {
            state,
            cancel,
            warnings: Mutex::new(Diagnostics::new()),
        }
    }

    /// The configured provider's state; an error before ConfigureProvider.
    pub fn state(&self) -> Result<&S, Diagnostics> {
        self.state.as_deref().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "Terraform called a resource before ConfigureProvider; this is a bug in the caller.",
            )
            .into()
        })
    }

    /// The shared handle, for engines that keep the state beyond one call.
    pub fn state_arc(&self) -> Result<Arc<S>, Diagnostics> {
        self.state()?;
        Ok(self.state.clone().expect("checked above"))
    }

    pub fn warn(&self, d: Diagnostic) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(d);
    }

    pub fn take_warnings(&self) -> Diagnostics {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

pub struct PlanRequest<'a> {
    /// Null when the resource is being created.
    pub prior: &'a Value,
    /// Terraform's proposal: config values, with prior values kept for computed attributes.
    pub proposed: &'a Value,
    pub config: &'a Value,
}

pub struct Planned {
    pub state: Value,
    pub requires_replace: Vec<AttrPath>,
}

pub struct ApplyRequest<'a> {
    pub prior: &'a Value,
    pub planned: &'a Value,
    pub config: &'a Value,
}

#[async_trait]
pub trait Resource<S>: Send + Sync {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Static checks only — no call to the outside world — so bad input is reported before
    /// anything happens. Values may be unknown here; check only what is known.
    fn validate(&self, config: &Value) -> Diagnostics;

    async fn plan(&self, cx: &Cx<S>, req: PlanRequest<'_>) -> Result<Planned, Diagnostics>;

    /// Returns the new state. On error nothing may be left behind that the state does not name.
    async fn create(&self, cx: &Cx<S>, req: ApplyRequest<'_>) -> Result<Value, Diagnostics>;

    async fn update(&self, cx: &Cx<S>, req: ApplyRequest<'_>) -> Result<Value, Diagnostics>;

    async fn delete(&self, cx: &Cx<S>, prior: &Value) -> Result<(), Diagnostics>;

    /// `Ok(None)` means the object is gone, and Terraform plans to create it again.
    async fn read(&self, cx: &Cx<S>, state: &Value) -> Result<Option<Value>, Diagnostics>;

    async fn import(&self, _cx: &Cx<S>, _id: &str) -> Result<Value, Diagnostics> {
        Err(Diagnostic::error(
            "Import not supported",
            format!("{} cannot be imported.", self.type_name()),
        )
        .into())
    }
}
