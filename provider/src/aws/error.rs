//! AWS failures with the context a user needs: which operation, on what, and AWS's own words.

use std::fmt;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::tf::diag::{Diagnostic, Diagnostics};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The API operation, e.g. `RunInstances`; empty for set-up problems.
    pub operation: String,
    /// What it acted on (an AMI id, a group name), when there is one.
    pub target: String,
    /// AWS's error code (`InvalidAMIID.NotFound`), when it sent one.
    pub code: Option<String>,
    pub message: String,
}

/// The error codes AWS services throttle with (EC2, Auto Scaling, ELB, SSM): the request was
/// refused, not executed, so repeating it is safe.
const THROTTLING: [&str; 5] = [
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
];

impl AwsError {
    pub fn is_throttling(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| THROTTLING.contains(&c))
    }

    pub fn setup(message: impl Into<String>) -> Self {
        AwsError {
            operation: String::new(),
            target: String::new(),
            code: None,
            message: message.into(),
        }
    }

    pub fn new(operation: &str, target: &str, message: impl Into<String>) -> Self {
        AwsError {
            operation: operation.to_string(),
            target: target.to_string(),
            code: None,
            message: message.into(),
        }
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    pub fn code_starts_with(&self, prefix: &str) -> bool {
        self.code.as_deref().is_some_and(|c| c.starts_with(prefix))
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.operation.is_empty() {
            write!(f, "{}", self.operation)?;
            if !self.target.is_empty() {
                write!(f, " ({})", self.target)?;
            }
            write!(f, " failed: ")?;
        }
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for AwsError {}

impl From<AwsError> for Diagnostics {
    fn from(e: AwsError) -> Self {
        Diagnostic::error("AWS error", e.to_string()).into()
    }
}

/// `.context("RunInstances", ami)` on any SDK result.
pub trait ErrorContext<T> {
    fn context(self, operation: &str, target: &str) -> Result<T, AwsError>;
}

impl<T, E> ErrorContext<T> for Result<T, E>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    fn context(self, operation: &str, target: &str) -> Result<T, AwsError> {
        self.map_err(|e| {
            let message = match e.message() {
                Some(m) => m.to_string(),
                // Transport and timeout failures carry no AWS message; the full chain says why.
                None => with_hint(full_chain(&e)),
            };
            AwsError {
                operation: operation.to_string(),
                target: target.to_string(),
                code: e.code().map(str::to_string),
                message,
            }
        })
    }
}

/// What to do about a failure the chain alone leaves a user puzzled by.
fn with_hint(chain: String) -> String {
    if chain.contains("invalid peer certificate") || chain.contains("UnknownIssuer") {
        return format!("{chain} (the endpoint's TLS certificate is not signed by an authority the provider trusts: give the authority's PEM certificate in custom_ca_bundle or AWS_CA_BUNDLE)");
    }
    chain
}

fn full_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
