//! Typed, unknown-aware arguments: a resource turns its configuration into Rust values once, in
//! one `parse` that validate, plan and apply all call.
//!
//! Every argument can be unset, not known until apply (a variable at `terraform validate`,
//! another resource's output at plan, a whole `dynamic` block), or known. Reading an unknown as
//! unset is the bug this module exists to prevent — the plan would show a default that the apply
//! then contradicts — so the three cases are one type, [`Arg`], and a resource decides what an
//! unknown means (usually: whatever is computed from it is planned unknown).
//!
//! [`Field`] walks a [`Value`] with the attribute path beside it, so every error a resource's
//! parser reports carries the path Terraform needs to quote the offending line. Errors are
//! collected, not returned one at a time: the user sees every bad argument in one run. A field
//! whose value was refused reads as [`Arg::Null`] after its diagnostic is recorded; the parse as
//! a whole fails ([`Parser::finish`]), so no resource acts on it.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use crate::diag::{AttrPath, Diagnostic, Diagnostics, Step};
use crate::value::{Value, ValueErrorKind};

/// One argument of a configuration, as Terraform knows it right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arg<T> {
    /// Not set (and no schema default filled it).
    #[default]
    Null,
    /// Set, but known only after apply.
    Unknown,
    Known(T),
}

impl<T> Arg<T> {
    pub fn is_unknown(&self) -> bool {
        matches!(self, Arg::Unknown)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Arg::Null)
    }

    pub fn known(&self) -> Option<&T> {
        match self {
            Arg::Known(t) => Some(t),
            _ => None,
        }
    }

    pub fn into_known(self) -> Option<T> {
        match self {
            Arg::Known(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_ref(&self) -> Arg<&T> {
        match self {
            Arg::Null => Arg::Null,
            Arg::Unknown => Arg::Unknown,
            Arg::Known(t) => Arg::Known(t),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Arg<U> {
        match self {
            Arg::Null => Arg::Null,
            Arg::Unknown => Arg::Unknown,
            Arg::Known(t) => Arg::Known(f(t)),
        }
    }

    /// The value where it is needed to act (apply, or a plan whose inputs are known): unset or
    /// unknown is an error at `path`. For an argument with a schema default, `Null` cannot
    /// happen after the framework filled the defaults, so this is where that invariant is
    /// checked instead of hidden behind a second, code-side default.
    pub fn required(self, path: &AttrPath) -> Result<T, Diagnostic> {
        match self {
            Arg::Known(t) => Ok(t),
            Arg::Null => Err(Diagnostic::error(
                "Missing value",
                "This argument has no value where the provider needs one; this is a bug in the provider.",
            )
            .at(path.clone())),
            Arg::Unknown => Err(Diagnostic::error(
                "Value not yet known",
                "This argument is known only after apply, but the provider needs it now.",
            )
            .at(path.clone())),
        }
    }
}

impl<T: std::ops::Deref> Arg<T> {
    /// The known value, dereferenced (`Arg<String>` → `Option<&str>`).
    pub fn as_deref(&self) -> Option<&T::Target> {
        self.known().map(|t| &**t)
    }
}

impl<T: Clone> Arg<Vec<Arg<T>>> {
    /// The known elements, owned: what a check that can look at part of a list needs.
    pub fn known_vec(&self) -> Vec<T> {
        self.known_elements().cloned().collect()
    }
}

impl<T: Clone> Arg<BTreeMap<String, Arg<T>>> {
    /// The entries whose value is known, owned.
    pub fn known_map(&self) -> BTreeMap<String, T> {
        self.known()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.known()?.clone())))
            .collect()
    }
}

impl<T> Arg<Vec<Arg<T>>> {
    /// A list whose every element is known, or `Unknown` when the list or any element is not.
    pub fn wholly(self) -> Arg<Vec<T>> {
        match self {
            Arg::Null => Arg::Null,
            Arg::Unknown => Arg::Unknown,
            Arg::Known(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    match i {
                        Arg::Known(t) => out.push(t),
                        // Elements are never null after a successful parse (`Field::list`).
                        Arg::Null | Arg::Unknown => return Arg::Unknown,
                    }
                }
                Arg::Known(out)
            }
        }
    }

    /// The known elements, for checks that can already be made on part of a list.
    pub fn known_elements(&self) -> impl Iterator<Item = &T> {
        self.known().into_iter().flatten().filter_map(Arg::known)
    }
}

impl<T> Arg<BTreeMap<String, Arg<T>>> {
    /// A map whose every value is known, or `Unknown` when the map or any value is not.
    pub fn wholly(self) -> Arg<BTreeMap<String, T>> {
        match self {
            Arg::Null => Arg::Null,
            Arg::Unknown => Arg::Unknown,
            Arg::Known(entries) => {
                let mut out = BTreeMap::new();
                for (k, v) in entries {
                    match v {
                        Arg::Known(t) => {
                            out.insert(k, t);
                        }
                        Arg::Null | Arg::Unknown => return Arg::Unknown,
                    }
                }
                Arg::Known(out)
            }
        }
    }
}

/// Collects the diagnostics of one parse.
#[derive(Debug, Default)]
pub struct Parser {
    diagnostics: Diagnostics,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// An error found by the resource's own checks (a range, a combination of arguments).
    pub fn error(
        &mut self,
        path: &AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.diagnostics.attr_error(path.clone(), summary, detail);
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub fn extend(&mut self, d: Diagnostics) {
        self.diagnostics.extend(d);
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// `Ok((value, warnings))` when no error was recorded, else every diagnostic.
    pub fn finish<T>(self, value: T) -> Result<(T, Diagnostics), Diagnostics> {
        if self.diagnostics.has_errors() {
            Err(self.diagnostics)
        } else {
            Ok((value, self.diagnostics))
        }
    }
}

/// A position in a configuration value: the value there and the path that leads to it.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    value: &'a Value,
    path: AttrPath,
}

impl<'a> Field<'a> {
    /// The whole configuration (an object); its attributes get paths from the root.
    pub fn root(value: &'a Value) -> Self {
        Field {
            value,
            path: AttrPath::default(),
        }
    }

    pub fn value(&self) -> &'a Value {
        self.value
    }

    pub fn path(&self) -> &AttrPath {
        &self.path
    }

    /// An attribute (or nested block) of this object; null when absent.
    pub fn attr(&self, name: &str) -> Field<'a> {
        Field {
            value: self.value.get(name),
            path: self.path.clone().attr(name),
        }
    }

    /// Unset, unknown, or this field itself (known at the top; parts inside may be unknown).
    pub fn arg(&self) -> Arg<Field<'a>> {
        match self.value {
            Value::Null => Arg::Null,
            Value::Unknown(_) => Arg::Unknown,
            _ => Arg::Known(self.clone()),
        }
    }

    fn wrong_kind(&self, p: &mut Parser, expected: &str) {
        p.error(
            &self.path,
            "Wrong type",
            format!("Expected {expected}, got {}.", self.value.kind_name()),
        );
    }

    pub fn string(&self, p: &mut Parser) -> Arg<String> {
        match self.value {
            Value::Null => Arg::Null,
            Value::Unknown(_) => Arg::Unknown,
            Value::String(s) => Arg::Known(s.clone()),
            _ => {
                self.wrong_kind(p, "a string");
                Arg::Null
            }
        }
    }

    pub fn bool(&self, p: &mut Parser) -> Arg<bool> {
        match self.value {
            Value::Null => Arg::Null,
            Value::Unknown(_) => Arg::Unknown,
            Value::Bool(b) => Arg::Known(*b),
            _ => {
                self.wrong_kind(p, "a bool");
                Arg::Null
            }
        }
    }

    /// A whole number of type `T` (e.g. `u16` for a port): fractions and numbers outside `T`'s
    /// range are errors at the path, the number shortened if it is long (`1e400`).
    pub fn integer<T: TryFrom<i64>>(&self, p: &mut Parser) -> Arg<T> {
        match self.value {
            Value::Null => Arg::Null,
            Value::Unknown(_) => Arg::Unknown,
            Value::Number(n) => match n.as_i64().and_then(|i| T::try_from(i).ok()) {
                Some(t) => Arg::Known(t),
                None => {
                    // The value layer's wording, long numbers shortened (`1e400`).
                    let why = ValueErrorKind::NumberOutOfRange {
                        number: n.to_string(),
                        target: std::any::type_name::<T>(),
                    };
                    p.error(
                        &self.path,
                        "Invalid number",
                        format!(
                            "{why}: a whole number between {} and {} is required.",
                            min_of::<T>(),
                            max_of::<T>()
                        ),
                    );
                    Arg::Null
                }
            },
            _ => {
                self.wrong_kind(p, "a number");
                Arg::Null
            }
        }
    }

    /// A string read through `parse`; its error becomes a diagnostic `summary` at the path.
    pub fn parse_with<T, E: Display>(
        &self,
        p: &mut Parser,
        summary: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Arg<T> {
        match self.string(p) {
            Arg::Known(s) => match parse(&s) {
                Ok(t) => Arg::Known(t),
                Err(e) => {
                    p.error(&self.path, summary, sentence(e.to_string()));
                    Arg::Null
                }
            },
            Arg::Null => Arg::Null,
            Arg::Unknown => Arg::Unknown,
        }
    }

    /// A string read with `T`'s `FromStr` (modes, sizes): see [`Field::parse_with`].
    pub fn parse<T: FromStr>(&self, p: &mut Parser, summary: &str) -> Arg<T>
    where
        T::Err: Display,
    {
        self.parse_with(p, summary, T::from_str)
    }

    /// A list or set, each element read by `element` at its own path (`checkpoints[1]`). A null
    /// element is an error: no argument of a list type gives it a meaning.
    pub fn list<T>(
        &self,
        p: &mut Parser,
        mut element: impl FnMut(&Field<'a>, &mut Parser) -> Arg<T>,
    ) -> Arg<Vec<Arg<T>>> {
        match self.value {
            Value::Null => Arg::Null,
            Value::Unknown(_) => Arg::Unknown,
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => Arg::Known(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let f = Field {
                            value: v,
                            path: self.path.clone().index(i as i64),
                        };
                        if v.is_null() {
                            p.error(
                                &f.path,
                                "Null element",
                                "Elements of this list cannot be null.",
                            );
                            return Arg::Null;
                        }
                        element(&f, p)
                    })
                    .collect(),
            ),
            _ => {
                self.wrong_kind(p, "a list");
                Arg::Null
            }
        }
    }

    /// A map, each value read by `entry` at its own path (`tags["team"]`). A null value is an
    /// error, as for list elements.
    pub fn map<T>(
        &self,
        p: &mut Parser,
        mut entry: impl FnMut(&str, &Field<'a>, &mut Parser) -> Arg<T>,
    ) -> Arg<BTreeMap<String, Arg<T>>> {
        match self.value {
            Value::Null => Arg::Null,
            Value::Unknown(_) => Arg::Unknown,
            Value::Map(entries) | Value::Object(entries) => Arg::Known(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let f = Field {
                            value: v,
                            path: self.path.clone().key(k),
                        };
                        if v.is_null() {
                            p.error(&f.path, "Null value", "Values of this map cannot be null.");
                            return (k.clone(), Arg::Null);
                        }
                        (k.clone(), entry(k, &f, p))
                    })
                    .collect(),
            ),
            _ => {
                self.wrong_kind(p, "a map");
                Arg::Null
            }
        }
    }

    /// A block declared with at most one element (`NestedBlock::single`): `Null` when absent,
    /// `Unknown` when a `dynamic` block's `for_each` is not known yet, else the block, read by
    /// `block` with paths under `name[0]`.
    pub fn single_block<T>(
        &self,
        p: &mut Parser,
        block: impl FnMut(&Field<'a>, &mut Parser) -> T,
    ) -> Arg<T> {
        match self.blocks(p, block) {
            Arg::Known(mut items) => {
                if items.len() > 1 {
                    p.error(
                        &self.path,
                        "Too many blocks",
                        "At most one block of this type is allowed.",
                    );
                }
                if items.is_empty() {
                    Arg::Null
                } else {
                    Arg::Known(items.swap_remove(0))
                }
            }
            Arg::Null => Arg::Null,
            Arg::Unknown => Arg::Unknown,
        }
    }

    /// Repeated blocks (or a single block's list of 0 or 1): each read by `block` at `name[i]`.
    /// A `dynamic` block over an unknown collection arrives as an unknown list: `Unknown`.
    pub fn blocks<T>(
        &self,
        p: &mut Parser,
        mut block: impl FnMut(&Field<'a>, &mut Parser) -> T,
    ) -> Arg<Vec<T>> {
        match self.value {
            Value::Null => Arg::Null,
            Value::Unknown(_) => Arg::Unknown,
            Value::List(items) | Value::Set(items) => Arg::Known(
                items
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(i, v)| {
                        block(
                            &Field {
                                value: v,
                                path: self.path.clone().index(i as i64),
                            },
                            p,
                        )
                    })
                    .collect(),
            ),
            // A block may also arrive as one object (nesting "single" on the wire).
            Value::Object(_) => Arg::Known(vec![block(self, p)]),
            _ => {
                self.wrong_kind(p, "a block");
                Arg::Null
            }
        }
    }
}

/// The attribute name at the end of a path, for messages that name it.
pub fn attr_name(path: &AttrPath) -> &str {
    path.0
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Attr(a) => Some(a.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

/// Error texts from `FromStr` impls are phrases; diagnostics are sentences.
fn sentence(mut s: String) -> String {
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// The smallest i64 `T` accepts (`T`'s range is contiguous), by bisection so any integer type
/// works without a bounds trait.
fn min_of<T: TryFrom<i64>>() -> i64 {
    if T::try_from(i64::MIN).is_ok() {
        return i64::MIN;
    }
    let (mut lo, mut hi) = (i128::from(i64::MIN), 0i128); // lo refused, hi accepted
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if T::try_from(mid as i64).is_ok() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi as i64
}

fn max_of<T: TryFrom<i64>>() -> i64 {
    if T::try_from(i64::MAX).is_ok() {
        return i64::MAX;
    }
    let (mut lo, mut hi) = (0i128, i128::from(i64::MAX)); // lo accepted, hi refused
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if T::try_from(mid as i64).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Number;

    fn paths(d: &Diagnostics) -> Vec<String> {
        d.0.iter()
            .map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default())
            .collect()
    }

    #[derive(Debug, PartialEq)]
    struct Filter {
        owners: Arg<Vec<Arg<String>>>,
        most_recent: Arg<bool>,
    }

    #[derive(Debug, PartialEq)]
    struct Args {
        port: Arg<u16>,
        mode: Arg<Mode>,
        tags: Arg<BTreeMap<String, Arg<String>>>,
        filter: Arg<Filter>,
    }

    #[derive(Debug, PartialEq, Clone, Copy)]
    enum Mode {
        Fast,
        Slow,
    }

    impl FromStr for Mode {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            match s {
                "fast" => Ok(Mode::Fast),
                "slow" => Ok(Mode::Slow),
                _ => Err(format!("{s:?} is not one of \"fast\", \"slow\"")),
            }
        }
    }

    fn parse(v: &Value) -> Result<Args, Diagnostics> {
        let mut p = Parser::new();
        let c = Field::root(v);
        let args = Args {
            port: c.attr("port").integer(&mut p),
            mode: c.attr("mode").parse(&mut p, "Invalid mode"),
            tags: c.attr("tags").map(&mut p, |_, f, p| f.string(p)),
            filter: c.attr("filter").single_block(&mut p, |f, p| Filter {
                owners: f.attr("owners").list(p, |e, p| e.string(p)),
                most_recent: f.attr("most_recent").bool(p),
            }),
        };
        p.finish(args).map(|(a, _)| a)
    }

    fn filter(owners: Value) -> Value {
        Value::list([Value::object([
            ("owners", owners),
            ("most_recent", Value::unknown()),
        ])])
    }

    #[test]
    fn unknowns_stay_unknown_at_every_depth() {
        let v = Value::object([
            ("port", Value::unknown()),
            ("mode", Value::Null),
            (
                "tags",
                Value::map([("team", Value::unknown()), ("app", Value::from("web"))]),
            ),
            (
                "filter",
                filter(Value::list([Value::from("self"), Value::unknown()])),
            ),
        ]);
        let a = parse(&v).unwrap();
        assert_eq!(a.port, Arg::Unknown);
        assert_eq!(a.mode, Arg::Null);
        let tags = a.tags.clone().known().cloned().unwrap();
        assert_eq!(tags["team"], Arg::Unknown);
        assert_eq!(tags["app"], Arg::Known("web".into()));
        assert_eq!(a.tags.wholly(), Arg::Unknown, "one unknown value");
        let f = a.filter.known().unwrap();
        assert_eq!(f.most_recent, Arg::Unknown);
        assert_eq!(
            f.owners.known_elements().collect::<Vec<_>>(),
            [&"self".to_string()]
        );
        assert_eq!(f.owners.clone().wholly(), Arg::Unknown);
    }

    #[test]
    fn a_dynamic_block_over_an_unknown_collection_is_unknown() {
        let v = Value::object([("filter", Value::unknown())]);
        assert_eq!(parse(&v).unwrap().filter, Arg::Unknown);
        let v = Value::object([("filter", Value::list([]))]);
        assert_eq!(parse(&v).unwrap().filter, Arg::Null);
    }

    #[test]
    fn known_values_are_typed() {
        let v = Value::object([
            ("port", Value::from(2222)),
            ("mode", Value::from("slow")),
            ("tags", Value::map([("a", Value::from("b"))])),
            ("filter", filter(Value::list([Value::from("self")]))),
        ]);
        let a = parse(&v).unwrap();
        assert_eq!(a.port, Arg::Known(2222u16));
        assert_eq!(a.mode, Arg::Known(Mode::Slow));
        assert_eq!(
            a.tags.wholly(),
            Arg::Known(BTreeMap::from([("a".to_string(), "b".to_string())]))
        );
        assert_eq!(
            a.filter.into_known().unwrap().owners.wholly(),
            Arg::Known(vec!["self".to_string()])
        );
    }

    #[test]
    fn every_error_is_collected_with_its_path() {
        let huge = format!("1{}", "0".repeat(400));
        let v = Value::object([
            ("port", Value::Number(Number::Decimal(huge))),
            ("mode", Value::from("medium")),
            ("tags", Value::map([("team", Value::Null)])),
            (
                "filter",
                filter(Value::list([Value::from("self"), Value::from(3)])),
            ),
        ]);
        let d = parse(&v).unwrap_err();
        assert_eq!(
            paths(&d),
            ["port", "mode", "tags[\"team\"]", "filter[0].owners[1]"]
        );
        assert!(d.0[0].detail.contains("401 characters"), "{}", d.0[0]);
        assert!(d.0[0].detail.contains("65535"), "{}", d.0[0]);
        assert!(d.0[1].detail.contains("\"medium\""), "{}", d.0[1]);
        assert!(d.0[1].detail.ends_with('.'), "{}", d.0[1]);
    }

    #[test]
    fn fractions_and_out_of_range_numbers_are_refused() {
        for bad in [Value::from(1.5), Value::from(-1), Value::from(70000)] {
            let d = parse(&Value::object([("port", bad.clone())])).unwrap_err();
            assert_eq!(paths(&d), ["port"], "{bad:?}");
        }
    }

    #[test]
    fn required_names_the_path_of_what_is_missing() {
        let p = AttrPath::root("batch_size");
        assert_eq!(Arg::Known(3).required(&p), Ok(3));
        let e = Arg::<u8>::Unknown.required(&p).unwrap_err();
        assert_eq!(e.path, Some(p.clone()));
        assert!(Arg::<u8>::Null.required(&p).is_err());
    }

    #[test]
    fn integer_bounds_are_those_of_the_type() {
        assert_eq!((min_of::<u16>(), max_of::<u16>()), (0, 65535));
        assert_eq!((min_of::<i8>(), max_of::<i8>()), (-128, 127));
        assert_eq!((min_of::<i64>(), max_of::<i64>()), (i64::MIN, i64::MAX));
    }
}
