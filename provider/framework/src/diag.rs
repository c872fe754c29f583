//! Diagnostics as Terraform shows them: severity, summary, detail, and the attribute path that
//! points the user at the offending line of their configuration.

use std::fmt;

use super::value::{PathStep, ValueError};

/// A path into a resource's configuration, e.g. `source_ami_filter[0].owners`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttrPath(pub Vec<Step>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Attr(String),
    Key(String),
    Index(i64),
}

impl AttrPath {
    pub fn root(attr: &str) -> Self {
        AttrPath(vec![Step::Attr(attr.to_string())])
    }

    pub fn attr(mut self, attr: &str) -> Self {
        self.0.push(Step::Attr(attr.to_string()));
        self
    }

    pub fn index(mut self, i: i64) -> Self {
        self.0.push(Step::Index(i));
        self
    }

    pub fn key(mut self, k: &str) -> Self {
        self.0.push(Step::Key(k.to_string()));
        self
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Attr(a) if i == 0 => write!(f, "{a}")?,
                Step::Attr(a) => write!(f, ".{a}")?,
                Step::Key(k) => write!(f, "[{k:?}]")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl From<Vec<PathStep>> for AttrPath {
    fn from(steps: Vec<PathStep>) -> Self {
        AttrPath(
            steps
                .into_iter()
                .map(|s| match s {
                    PathStep::Attr(a) => Step::Attr(a),
                    PathStep::Index(i) => Step::Index(i64::try_from(i).unwrap_or(i64::MAX)),
                    PathStep::Key(k) => Step::Key(k),
                })
                .collect(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }

    pub fn at(mut self, path: AttrPath) -> Self {
        self.path = Some(path);
        self
    }
}

/// A value that does not fit its attribute's type (a number out of range, a string where a number
/// belongs) is an error about that attribute: the path makes Terraform quote the line.
impl From<ValueError> for Diagnostic {
    fn from(e: ValueError) -> Self {
        let path = e.path();
        let d = Diagnostic::error("Invalid value", e.kind().to_string());
        if path.is_empty() {
            d
        } else {
            d.at(AttrPath::from(path))
        }
    }
}

impl From<ValueError> for Diagnostics {
    fn from(e: ValueError) -> Self {
        Diagnostic::from(e).into()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{p}: ")?;
        }
        write!(f, "{}", self.summary)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// An ordered collection of diagnostics; errors and warnings travel together because Terraform
/// shows warnings even when the operation succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Records an error about the attribute at `path` (the common case for config validation).
    pub fn attr_error(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.0.push(Diagnostic::error(summary, detail).at(path));
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(self)` when any error is present, so validation can be chained with `?`.
    pub fn into_result(self) -> Result<Diagnostics, Diagnostics> {
        if self.has_errors() {
            Err(self)
        } else {
            Ok(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn path_renders_like_terraform_addresses() {
        let p = AttrPath::root("source_ami_filter")
            .index(0)
            .attr("owners")
            .key("x");
        assert_eq!(p.to_string(), "source_ami_filter[0].owners[\"x\"]");
    }

    #[test]
    fn value_errors_become_attribute_errors_with_a_short_message() {
        use crate::value::{from_value, Number};
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct C {
            ssh_port: Option<u16>,
        }
        let huge = format!("1{}", "0".repeat(400));
        let v =
            Value::Object([("ssh_port".to_string(), Value::Number(Number::Decimal(huge)))].into());
        let d = Diagnostic::from(from_value::<C>(&v).unwrap_err());
        assert_eq!(d.path, Some(AttrPath::root("ssh_port")));
        assert!(d.detail.len() < 100, "{}", d.detail);
        assert!(d.detail.contains("401 characters"), "{}", d.detail);
    }

    #[test]
    fn errors_fail_the_result_and_warnings_do_not() {
        let mut d = Diagnostics::new();
        d.push(Diagnostic::warning("w", ""));
        assert!(d.clone().into_result().is_ok());
        d.attr_error(AttrPath::root("a"), "bad", "worse");
        let err = d.into_result().unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert_eq!(err.0[1].to_string(), "a: bad: worse");
    }
}
