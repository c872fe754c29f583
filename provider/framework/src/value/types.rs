//! cty types: what the schema declares, and what a `dynamic` value carries on the wire.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::json;

use super::error::{AtPath, ValueError, ValueErrorKind};
use super::Value;

/// A cty type, as the schema declares it.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Bool,
    Number,
    String,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
    /// Decided per value at run time; the wire then carries the concrete type next to the value.
    Dynamic,
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Type)>) -> Type {
        Type::Object(attrs.into_iter().map(|(k, t)| (k.into(), t)).collect())
    }

    /// The cty JSON form that schemas (`Schema.Attribute.type`) and dynamic values use:
    /// `"string"`, `["list","string"]`, `["object",{"a":"number"}]`, `["tuple",[...]]`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<_, _> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", attrs])
            }
            Type::Tuple(elements) => {
                let elements: Vec<_> = elements.iter().map(Type::to_json).collect();
                json!(["tuple", elements])
            }
        }
    }

    /// The compact JSON text of [`Type::to_json`], as `Schema.Attribute.type` wants it.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Reads the cty JSON form. An object's optional third element (the names of optional
    /// attributes, which only matter for type constraints in Terraform's own language) is
    /// accepted and ignored, since values on the wire always carry every attribute.
    pub fn from_json(v: &serde_json::Value) -> Result<Type, ValueError> {
        match v {
            serde_json::Value::String(name) => primitive_from_name(name),
            serde_json::Value::Array(parts) => match parts.as_slice() {
                [serde_json::Value::String(kind), arg, rest @ ..] => {
                    compound_from_json(kind, arg, rest)
                }
                _ => Err(invalid_type(format!(
                    "expected [kind, argument], found {v}"
                ))),
            },
            other => Err(invalid_type(format!(
                "expected a string or array, found {other}"
            ))),
        }
    }

    /// [`Type::from_json`] from JSON text, as a dynamic value's type arrives.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, ValueError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| invalid_type(e.to_string()))?;
        Type::from_json(&v)
    }

    /// The concrete type a value has, for writing it where the schema says `dynamic`.
    ///
    /// Null and unknown parts infer `dynamic` and yield to any concrete type beside them, so
    /// `[null, "a"]` is a list of strings and an empty list is a list of `dynamic`. Elements of
    /// different types can't form a cty list or map, so a mixed list falls back to a tuple and a
    /// mixed map to an object (what Terraform itself infers for such literals); a mixed set has
    /// no such fallback and is an error.
    pub fn infer(v: &Value) -> Result<Type, ValueError> {
        Ok(match v {
            Value::Null | Value::Unknown(_) => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::Tuple(items) => Type::Tuple(infer_elements(items)?),
            Value::List(items) => {
                let types = infer_elements(items)?;
                match unify_all(&types) {
                    Some(t) => Type::list(t),
                    None => Type::Tuple(types),
                }
            }
            Value::Set(items) => {
                let types = infer_elements(items)?;
                let t = unify_all(&types).ok_or_else(|| {
                    ValueError::new(ValueErrorKind::InconsistentTypes(
                        "a set's elements must all have one type".into(),
                    ))
                })?;
                Type::set(t)
            }
            Value::Map(entries) => {
                let types = infer_attrs(entries)?;
                match unify_all(&types.values().cloned().collect::<Vec<_>>()) {
                    Some(t) => Type::map(t),
                    None => Type::Object(types),
                }
            }
            Value::Object(attrs) => Type::Object(infer_attrs(attrs)?),
        })
    }
}

impl fmt::Display for Type {
    /// Terraform's friendly names, for error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Number => f.write_str("number"),
            Type::String => f.write_str("string"),
            Type::Dynamic => f.write_str("dynamic"),
            Type::List(e) => write!(f, "list of {e}"),
            Type::Set(e) => write!(f, "set of {e}"),
            Type::Map(e) => write!(f, "map of {e}"),
            Type::Object(_) => f.write_str("object"),
            Type::Tuple(_) => f.write_str("tuple"),
        }
    }
}

fn invalid_type(message: String) -> ValueError {
    ValueError::new(ValueErrorKind::InvalidType(message))
}

fn primitive_from_name(name: &str) -> Result<Type, ValueError> {
    match name {
        "bool" => Ok(Type::Bool),
        "number" => Ok(Type::Number),
        "string" => Ok(Type::String),
        "dynamic" => Ok(Type::Dynamic),
        other => Err(invalid_type(format!("unknown type {other:?}"))),
    }
}

fn compound_from_json(
    kind: &str,
    arg: &serde_json::Value,
    rest: &[serde_json::Value],
) -> Result<Type, ValueError> {
    let allowed_extra = usize::from(kind == "object");
    if rest.len() > allowed_extra {
        return Err(invalid_type(format!("too many elements in a {kind} type")));
    }
    match kind {
        "list" => Ok(Type::list(Type::from_json(arg)?)),
        "set" => Ok(Type::set(Type::from_json(arg)?)),
        "map" => Ok(Type::map(Type::from_json(arg)?)),
        "object" => object_from_json(arg),
        "tuple" => tuple_from_json(arg),
        other => Err(invalid_type(format!("unknown type kind {other:?}"))),
    }
}

fn object_from_json(arg: &serde_json::Value) -> Result<Type, ValueError> {
    let serde_json::Value::Object(attrs) = arg else {
        return Err(invalid_type(
            "object attributes must be a JSON object".into(),
        ));
    };
    let attrs = attrs
        .iter()
        .map(|(name, t)| Ok((name.clone(), Type::from_json(t).at_attr(name)?)))
        .collect::<Result<_, ValueError>>()?;
    Ok(Type::Object(attrs))
}

fn tuple_from_json(arg: &serde_json::Value) -> Result<Type, ValueError> {
    let serde_json::Value::Array(elements) = arg else {
        return Err(invalid_type("tuple elements must be a JSON array".into()));
    };
    let elements = elements
        .iter()
        .enumerate()
        .map(|(i, t)| Type::from_json(t).at_index(i))
        .collect::<Result<_, _>>()?;
    Ok(Type::Tuple(elements))
}

fn infer_elements(items: &[Value]) -> Result<Vec<Type>, ValueError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| Type::infer(item).at_index(i))
        .collect()
}

fn infer_attrs(attrs: &BTreeMap<String, Value>) -> Result<BTreeMap<String, Type>, ValueError> {
    attrs
        .iter()
        .map(|(name, v)| Ok((name.clone(), Type::infer(v).at_attr(name)?)))
        .collect()
}

/// The one type all `types` fit, `dynamic` for none; `None` when they conflict.
fn unify_all(types: &[Type]) -> Option<Type> {
    types
        .iter()
        .try_fold(Type::Dynamic, |acc, t| unify(&acc, t))
}

/// The more specific of two types that agree except where one of them is `dynamic`.
fn unify(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Dynamic, t) | (t, Type::Dynamic) => Some(t.clone()),
        (Type::List(x), Type::List(y)) => Some(Type::list(unify(x, y)?)),
        (Type::Set(x), Type::Set(y)) => Some(Type::set(unify(x, y)?)),
        (Type::Map(x), Type::Map(y)) => Some(Type::map(unify(x, y)?)),
        (Type::Object(x), Type::Object(y)) if x.len() == y.len() => {
            let attrs = x
                .iter()
                .map(|(name, xt)| Some((name.clone(), unify(xt, y.get(name)?)?)))
                .collect::<Option<_>>()?;
            Some(Type::Object(attrs))
        }
        (Type::Tuple(x), Type::Tuple(y)) if x.len() == y.len() => {
            let elements = x
                .iter()
                .zip(y)
                .map(|(xt, yt)| unify(xt, yt))
                .collect::<Option<_>>()?;
            Some(Type::Tuple(elements))
        }
        (x, y) => (x == y).then(|| x.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_type() -> Type {
        Type::object([
            ("name", Type::String),
            ("tags", Type::map(Type::String)),
            ("ports", Type::set(Type::Number)),
            ("rules", Type::list(Type::object([("on", Type::Bool)]))),
            ("pair", Type::Tuple(vec![Type::String, Type::Dynamic])),
        ])
    }

    #[test]
    fn json_form_matches_cty() {
        assert_eq!(Type::String.to_json_bytes(), b"\"string\"");
        assert_eq!(
            Type::list(Type::String).to_json_bytes(),
            br#"["list","string"]"#
        );
        assert_eq!(
            String::from_utf8_lossy(&sample_type().to_json_bytes()),
            r#"["object",{"name":"string","pair":["tuple",["string","dynamic"]],"ports":["set","number"],"rules":["list",["object",{"on":"bool"}]],"tags":["map","string"]}]"#
        );
    }

    #[test]
    fn json_form_round_trips() {
        let t = sample_type();
        assert_eq!(Type::from_json(&t.to_json()), Ok(t.clone()));
        assert_eq!(Type::from_json_bytes(&t.to_json_bytes()), Ok(t));
    }

    #[test]
    fn from_json_accepts_optional_attribute_lists() {
        let v = json!(["object", {"a": "string", "b": "number"}, ["b"]]);
        assert_eq!(
            Type::from_json(&v),
            Ok(Type::object([("a", Type::String), ("b", Type::Number)]))
        );
    }

    #[test]
    fn from_json_rejects_malformed_types_with_a_path() {
        assert!(Type::from_json(&json!("integer")).is_err());
        assert!(Type::from_json(&json!(["list"])).is_err());
        assert!(Type::from_json(&json!(["list", "string", "extra"])).is_err());
        assert!(Type::from_json(&json!(["object", ["a"]])).is_err());
        let err = Type::from_json(&json!(["object", {"a": ["tuple", ["bool", "float"]]}]))
            .expect_err("float is no cty type");
        assert_eq!(err.path_string(), ".a[1]");
    }

    #[test]
    fn infer_unifies_nulls_and_falls_back_for_mixed_elements() {
        let list = Value::List(vec![Value::Null, Value::from("a")]);
        assert_eq!(Type::infer(&list), Ok(Type::list(Type::String)));
        assert_eq!(
            Type::infer(&Value::List(vec![])),
            Ok(Type::list(Type::Dynamic))
        );
        let mixed = Value::List(vec![Value::from("a"), Value::from(1)]);
        assert_eq!(
            Type::infer(&mixed),
            Ok(Type::Tuple(vec![Type::String, Type::Number]))
        );
        let map = Value::map([("a", Value::from(true)), ("b", Value::from("x"))]);
        assert_eq!(
            Type::infer(&map),
            Ok(Type::object([("a", Type::Bool), ("b", Type::String)]))
        );
        let objects = Value::List(vec![
            Value::object([("a", Value::Null)]),
            Value::object([("a", Value::from(2))]),
        ]);
        assert_eq!(
            Type::infer(&objects),
            Ok(Type::list(Type::object([("a", Type::Number)])))
        );
        let set = Value::Set(vec![Value::from(1), Value::from("x")]);
        assert!(Type::infer(&set).is_err());
    }
}
