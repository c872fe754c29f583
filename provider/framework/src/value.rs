//! Terraform values (cty) and their wire forms.
//!
//! Terraform sends configuration, plans and state as `DynamicValue`s whose bytes only make sense
//! against the schema: the same msgpack array is a list, a set or a tuple depending on the
//! declared type, and an object must carry exactly the attributes the schema declares. So there is
//! one untyped [`Value`] tree, and every codec is directed by a [`Type`]:
//!
//! - [`decode_msgpack`] / [`encode_msgpack`]: `DynamicValue.msgpack`, the form Terraform uses.
//! - [`decode_json`] / [`encode_json`]: the state file's JSON, which `UpgradeResourceState` sends.
//! - [`from_value`] / [`to_value`]: typed Rust structs for resources, via serde.
//! - [`conform`]: makes a loosely built value fit a type.
//!
//! Nulls are untyped ([`Value::Null`]): the type always comes from the schema next to the value.

use std::collections::BTreeMap;

mod conform;
mod error;
mod json;
mod msgpack;
mod number;
mod serde_bridge;
mod types;

pub use conform::conform;
pub use error::{PathStep, ValueError, ValueErrorKind};
pub use json::{decode_json, encode_json, from_json_value, UnknownAttrs};
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use number::Number;
pub use serde_bridge::{from_value, to_value};
pub use types::Type;

/// A Terraform value. Which collection variant a value uses matters only to Rust code reading it;
/// the codecs write whatever the schema type says (a `List` is written fine as a set).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// Not known until apply; [`Refinements::default()`] is a plain unknown.
    Unknown(Refinements),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Elements in the order Terraform sent them; sets have no meaningful order.
    Set(Vec<Value>),
    Tuple(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

/// What Terraform already knows about an unknown value ("refined unknowns"). Decoded so resources
/// can use them, but never sent back: a provider that sends refinements must honour them in the
/// final state, and plain unknowns are always acceptable.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Refinements {
    pub not_null: bool,
    pub string_prefix: Option<String>,
    /// Lower bound and whether it is inclusive.
    pub number_lower: Option<(Number, bool)>,
    /// Upper bound and whether it is inclusive.
    pub number_upper: Option<(Number, bool)>,
    /// Inclusive bounds on a collection's length.
    pub length_lower: Option<u64>,
    pub length_upper: Option<u64>,
}

/// What [`Value::get`] lends out for absent attributes.
static NULL: Value = Value::Null;

impl Value {
    /// A plain unknown, without refinements.
    pub fn unknown() -> Value {
        Value::Unknown(Refinements::default())
    }

    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(items.into_iter().collect())
    }

    pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Set(items.into_iter().collect())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// Known at the top level; parts inside may still be unknown (see [`Value::is_wholly_known`]).
    pub fn is_known(&self) -> bool {
        !self.is_unknown()
    }

    /// No unknown anywhere inside: the value can be acted on at plan time.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                items.iter().all(Value::is_wholly_known)
            }
            Value::Map(entries) | Value::Object(entries) => {
                entries.values().all(Value::is_wholly_known)
            }
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
        }
    }

    /// Where the first unknown inside the value is (attributes and keys in order), if any: for a
    /// diagnostic that points at the value that is not known yet.
    pub fn first_unknown_path(&self) -> Option<Vec<PathStep>> {
        match self {
            Value::Unknown(_) => Some(Vec::new()),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                items.iter().enumerate().find_map(|(i, v)| {
                    let mut p = v.first_unknown_path()?;
                    p.insert(0, PathStep::Index(i));
                    Some(p)
                })
            }
            Value::Map(entries) => entries.iter().find_map(|(k, v)| {
                let mut p = v.first_unknown_path()?;
                p.insert(0, PathStep::Key(k.clone()));
                Some(p)
            }),
            Value::Object(entries) => entries.iter().find_map(|(k, v)| {
                let mut p = v.first_unknown_path()?;
                p.insert(0, PathStep::Attr(k.clone()));
                Some(p)
            }),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => None,
        }
    }

    /// The known part of the value, for checks at validate and plan time: unknown attributes
    /// become null, unknown elements and map entries are dropped. (A config such as
    /// `tags = { app = var.name }` in a `for_each` module is partly unknown at validate.)
    pub fn known_part(&self) -> Value {
        match self {
            Value::Unknown(_) => Value::Null,
            Value::List(items) => Value::List(
                items
                    .iter()
                    .filter(|i| i.is_known())
                    .map(Value::known_part)
                    .collect(),
            ),
            Value::Set(items) => Value::Set(
                items
                    .iter()
                    .filter(|i| i.is_known())
                    .map(Value::known_part)
                    .collect(),
            ),
            Value::Tuple(items) => Value::Tuple(items.iter().map(Value::known_part).collect()),
            Value::Map(entries) => Value::Map(
                entries
                    .iter()
                    .filter(|(_, v)| v.is_known())
                    .map(|(k, v)| (k.clone(), v.known_part()))
                    .collect(),
            ),
            Value::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.known_part()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// An attribute of an object (or element of a map); `Null` when absent or when this is no
    /// object, because resources treat a missing attribute exactly like an unset one.
    pub fn get(&self, attr: &str) -> &Value {
        match self {
            Value::Object(entries) | Value::Map(entries) => entries.get(attr).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as `i64` if it is an integer in range (see [`Number::as_i64`]).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The number as the nearest `f64` (see [`Number::as_f64`]).
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    /// The elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of an object or map.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(entries) | Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn refinements(&self) -> Option<&Refinements> {
        match self {
            Value::Unknown(r) => Some(r),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown(_) => "unknown value",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Tuple(_) => "tuple",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(Number::Int(i))
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Number(Number::Int(i64::from(i)))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Number(Number::Float(f))
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_lends_null_for_absent_attributes_and_non_objects() {
        let v = Value::object([("a", Value::from("x"))]);
        assert_eq!(v.get("a").as_str(), Some("x"));
        assert!(v.get("b").is_null());
        assert!(Value::from(1).get("a").is_null());
        assert!(Value::Null.get("a").is_null());
    }

    #[test]
    fn known_part_keeps_what_is_known() {
        let v = Value::object([
            ("a", Value::unknown()),
            (
                "tags",
                Value::map([("app", Value::unknown()), ("team", Value::from("x"))]),
            ),
            ("ids", Value::list([Value::unknown(), Value::from("i-1")])),
        ]);
        let k = v.known_part();
        assert!(k.is_wholly_known());
        assert!(k.get("a").is_null());
        assert_eq!(k.get("tags"), &Value::map([("team", Value::from("x"))]));
        assert_eq!(k.get("ids"), &Value::list([Value::from("i-1")]));
    }

    #[test]
    fn wholly_known_looks_inside() {
        let v = Value::object([("a", Value::list([Value::from(1), Value::unknown()]))]);
        assert!(v.is_known());
        assert!(!v.is_wholly_known());
        assert!(!v.get("a").is_wholly_known());
        assert!(Value::object([("a", Value::Null)]).is_wholly_known());
        assert!(!Value::unknown().is_known());
    }

    #[test]
    fn accessors_return_only_matching_kinds() {
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert_eq!(Value::from("s").as_bool(), None);
        assert_eq!(Value::from(2.0).as_i64(), Some(2));
        assert_eq!(Value::from(7).as_f64(), Some(7.0));
        assert_eq!(Value::from("7").as_i64(), None);
        assert_eq!(Value::from(None::<String>), Value::Null);
        assert_eq!(
            Value::set([Value::from(1)]).as_elements().map(<[_]>::len),
            Some(1)
        );
        assert!(Value::unknown().refinements().is_some());
    }
}
