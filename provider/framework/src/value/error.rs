//! The one error type of the value codecs, carrying where in the value it happened.
//!
//! Terraform shows provider errors to users verbatim, so a bare "string is required" is useless in
//! a resource with twenty attributes; every error carries the path to the offending element.

use std::fmt;

use super::Value;

/// One step from a value into one of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An object attribute, shown as `.name`.
    Attr(String),
    /// A list, set or tuple element, shown as `[2]`.
    Index(usize),
    /// A map element, shown as `["key"]`.
    Key(String),
}

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Attr(name) => write!(f, ".{name}"),
            PathStep::Index(i) => write!(f, "[{i}]"),
            PathStep::Key(key) => write!(f, "[{key:?}]"),
        }
    }
}

/// What went wrong, independent of where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueErrorKind {
    #[error("{expected} is required, found {found}")]
    TypeMismatch { expected: String, found: String },
    #[error("unsupported attribute {0:?}")]
    UnsupportedAttribute(String),
    #[error("a tuple of {expected} elements is required, found {found}")]
    TupleLength { expected: usize, found: usize },
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    #[error("value is not yet known")]
    Unknown,
    #[error("invalid number {:?}", short_number(.0))]
    InvalidNumber(String),
    #[error("number {} does not fit in {target}", short_number(.number))]
    NumberOutOfRange {
        number: String,
        target: &'static str,
    },
    #[error("invalid type description: {0}")]
    InvalidType(String),
    #[error("element types differ: {0}")]
    InconsistentTypes(String),
    #[error("malformed msgpack: {0}")]
    Msgpack(String),
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Custom(String),
}

/// Numbers as written, up to a length a person reads: `1e400` reaches the provider as 401 digits,
/// and a diagnostic that prints them all hides the attribute it is about.
fn short_number(text: &str) -> String {
    const KEEP: usize = 24;
    if text.chars().count() <= KEEP {
        return text.to_string();
    }
    let head: String = text.chars().take(KEEP).collect();
    format!("{head}… ({} characters)", text.chars().count())
}

/// An error from decoding, encoding or converting a value, with the path to where it happened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{kind}", location(.path_rev))]
pub struct ValueError {
    /// Steps from the root, innermost first: errors gain their outer steps while unwinding, so
    /// pushing is cheaper than prepending.
    path_rev: Vec<PathStep>,
    kind: ValueErrorKind,
}

/// Renders the `at .a[1]: ` prefix, or nothing for an error at the root.
fn location(path_rev: &[PathStep]) -> String {
    if path_rev.is_empty() {
        String::new()
    } else {
        format!("at {}: ", render_path(path_rev))
    }
}

fn render_path(path_rev: &[PathStep]) -> String {
    path_rev.iter().rev().map(PathStep::to_string).collect()
}

impl ValueError {
    pub fn new(kind: ValueErrorKind) -> Self {
        ValueError {
            path_rev: Vec::new(),
            kind,
        }
    }

    /// "`expected` is required" for a value of the wrong shape; an unknown value gets its own
    /// error because "found unknown" would hide that the value merely is not decided yet.
    pub fn mismatch(expected: impl fmt::Display, found: &Value) -> Self {
        if found.is_unknown() {
            return ValueError::new(ValueErrorKind::Unknown);
        }
        Self::mismatch_desc(expected, found.kind_name())
    }

    pub(super) fn mismatch_desc(expected: impl fmt::Display, found: impl fmt::Display) -> Self {
        ValueError::new(ValueErrorKind::TypeMismatch {
            expected: expected.to_string(),
            found: found.to_string(),
        })
    }

    pub fn kind(&self) -> &ValueErrorKind {
        &self.kind
    }

    /// The steps from the root to the failing element, outermost first.
    pub fn path(&self) -> Vec<PathStep> {
        self.path_rev.iter().rev().cloned().collect()
    }

    /// The path as Terraform users read it, e.g. `.ingress[2].cidr`; empty at the root.
    pub fn path_string(&self) -> String {
        render_path(&self.path_rev)
    }

    /// Places this error one step deeper: `step` leads from the caller's value to where the
    /// error happened.
    pub fn within(mut self, step: PathStep) -> Self {
        self.path_rev.push(step);
        self
    }

    pub fn at_attr(self, name: &str) -> Self {
        self.within(PathStep::Attr(name.to_owned()))
    }

    pub fn at_index(self, index: usize) -> Self {
        self.within(PathStep::Index(index))
    }

    pub fn at_key(self, key: &str) -> Self {
        self.within(PathStep::Key(key.to_owned()))
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(ValueErrorKind::Custom(msg.to_string()))
    }
}

/// Adds path steps to the error of a `Result`, so recursive codecs stay one-liners.
pub(super) trait AtPath {
    fn at_attr(self, name: &str) -> Self;
    fn at_index(self, index: usize) -> Self;
    fn at_key(self, key: &str) -> Self;
}

impl<T> AtPath for Result<T, ValueError> {
    fn at_attr(self, name: &str) -> Self {
        self.map_err(|e| e.at_attr(name))
    }

    fn at_index(self, index: usize) -> Self {
        self.map_err(|e| e.at_index(index))
    }

    fn at_key(self, key: &str) -> Self {
        self.map_err(|e| e.at_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_the_path_outermost_first() {
        let err = ValueError::new(ValueErrorKind::Unknown)
            .at_key("k")
            .at_attr("b")
            .at_index(2)
            .at_attr("a");
        assert_eq!(err.path_string(), ".a[2].b[\"k\"]");
        assert_eq!(err.to_string(), "at .a[2].b[\"k\"]: value is not yet known");
        assert_eq!(
            err.path(),
            vec![
                PathStep::Attr("a".into()),
                PathStep::Index(2),
                PathStep::Attr("b".into()),
                PathStep::Key("k".into()),
            ]
        );
    }

    #[test]
    fn display_at_root_has_no_prefix() {
        let err = ValueError::mismatch("string", &Value::Bool(true));
        assert_eq!(err.to_string(), "string is required, found bool");
    }

    #[test]
    fn mismatch_on_unknown_says_not_yet_known() {
        let err = ValueError::mismatch("string", &Value::unknown());
        assert_eq!(err.kind(), &ValueErrorKind::Unknown);
    }
}
