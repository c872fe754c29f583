//! The resource abstraction: what a resource type implements. Resources see decoded values,
//! typed through `value::from_value`, and answer with values and diagnostics; msgpack, gRPC and
//! TLS stay below this line.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::diag::{AttrPath, Diagnostic, Diagnostics};
use super::schema::Schema;
use super::value::Value;
use crate::aws::Aws;
use crate::cancel::Cancel;

/// Everything a resource operation may use besides its values: AWS access (built lazily on first
/// use, so provider start-up and static validation never touch AWS), cancellation, and a place to
/// leave warnings that do not fail the operation.
pub struct Cx {
    aws: Option<Arc<Aws>>,
    pub cancel: Cancel,
    warnings: Mutex<Diagnostics>,
}

impl Cx {
    pub fn new(aws: Option<Arc<Aws>>, cancel: Cancel) -> Self {
        Cx {
            aws,
            cancel,
            warnings: Mutex::new(Diagnostics::new()),
        }
    }

    pub fn aws(&self) -> Result<&Aws, Diagnostics> {
        self.aws.as_deref().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "Terraform called a resource before ConfigureProvider; this is a bug in the caller.",
            )
            .into()
        })
    }

    /// The shared handle, for engines that keep AWS access beyond one call.
    pub fn aws_arc(&self) -> Result<Arc<Aws>, Diagnostics> {
        self.aws()?;
        Ok(self.aws.clone().expect("checked above"))
    }

    pub fn warn(&self, d: Diagnostic) {
        self.warnings.lock().expect("warnings lock").push(d);
    }

    pub fn take_warnings(&self) -> Diagnostics {
        std::mem::take(&mut *self.warnings.lock().expect("warnings lock"))
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
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Static checks only — no AWS call — so bad input is reported before anything happens.
    /// Values may be unknown here; check only what is known.
    fn validate(&self, config: &Value) -> Diagnostics;

    async fn plan(&self, cx: &Cx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics>;

    /// Returns the new state. On error nothing may be left behind that the state does not name.
    async fn create(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics>;

    async fn update(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics>;

    async fn delete(&self, cx: &Cx, prior: &Value) -> Result<(), Diagnostics>;

    /// `Ok(None)` means the object is gone, and Terraform plans to create it again.
    async fn read(&self, cx: &Cx, state: &Value) -> Result<Option<Value>, Diagnostics>;

    async fn import(&self, _cx: &Cx, _id: &str) -> Result<Value, Diagnostics> {
        Err(Diagnostic::error(
            "Import not supported",
            format!("{} cannot be imported.", self.type_name()),
        )
        .into())
    }
}
