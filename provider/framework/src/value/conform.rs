//! Making a loosely built value fit a schema type.
//!
//! Values built in Rust (or via serde from structs) don't know whether a `Vec` is a list or a set,
//! nor that an object must carry every attribute; the schema does. Primitive conversions follow
//! Terraform's own (number or bool to string, and back when the text allows), so a value that
//! Terraform would accept for the type is accepted here too.

use std::collections::BTreeMap;

use super::error::{AtPath, ValueError, ValueErrorKind};
use super::{Number, Type, Value};

/// Makes `v` fit `ty`: list, set and tuple values take the collection kind the type names, maps
/// and objects likewise, missing object attributes become `Null`, and primitives convert as
/// Terraform converts them. Null and unknown fit every type; `dynamic` takes any value as is.
/// Attributes the object type doesn't declare are an error, with the path to them.
pub fn conform(v: Value, ty: &Type) -> Result<Value, ValueError> {
    if matches!(v, Value::Null | Value::Unknown(_)) {
        return Ok(v);
    }
    match ty {
        Type::Dynamic => Ok(v),
        Type::Bool => to_bool(v).map(Value::Bool),
        Type::Number => to_number(v).map(Value::Number),
        Type::String => to_string(v).map(Value::String),
        Type::List(element) => conform_elements(v, element, ty).map(Value::List),
        Type::Set(element) => conform_elements(v, element, ty).map(Value::Set),
        Type::Tuple(elements) => conform_tuple(v, elements, ty),
        Type::Map(element) => conform_map(v, element, ty),
        Type::Object(attrs) => conform_object(v, attrs, ty),
    }
}

/// A bool, or the strings `"true"` and `"false"`.
pub(super) fn to_bool(v: Value) -> Result<bool, ValueError> {
    match v {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(ValueError::mismatch("bool", &other)),
    }
}

/// A number, or a string holding a decimal number.
pub(super) fn to_number(v: Value) -> Result<Number, ValueError> {
    match v {
        Value::Number(n) => Ok(n),
        Value::String(s) => {
            Number::parse(&s).ok_or_else(|| ValueError::new(ValueErrorKind::InvalidNumber(s)))
        }
        other => Err(ValueError::mismatch("number", &other)),
    }
}

/// A string, or a number or bool written as text.
pub(super) fn to_string(v: Value) -> Result<String, ValueError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(ValueError::mismatch("string", &other)),
    }
}

fn into_elements(v: Value, ty: &Type) -> Result<Vec<Value>, ValueError> {
    match v {
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => Ok(items),
        other => Err(ValueError::mismatch(ty, &other)),
    }
}

fn into_entries(v: Value, ty: &Type) -> Result<BTreeMap<String, Value>, ValueError> {
    match v {
        Value::Map(entries) | Value::Object(entries) => Ok(entries),
        other => Err(ValueError::mismatch(ty, &other)),
    }
}

fn conform_elements(v: Value, element: &Type, ty: &Type) -> Result<Vec<Value>, ValueError> {
    into_elements(v, ty)?
        .into_iter()
        .enumerate()
        .map(|(i, item)| conform(item, element).at_index(i))
        .collect()
}

fn conform_tuple(v: Value, elements: &[Type], ty: &Type) -> Result<Value, ValueError> {
    let items = into_elements(v, ty)?;
    check_tuple_len(elements.len(), items.len())?;
    items
        .into_iter()
        .zip(elements)
        .enumerate()
        .map(|(i, (item, element))| conform(item, element).at_index(i))
        .collect::<Result<_, _>>()
        .map(Value::Tuple)
}

pub(super) fn check_tuple_len(expected: usize, found: usize) -> Result<(), ValueError> {
    if expected == found {
        Ok(())
    } else {
        Err(ValueError::new(ValueErrorKind::TupleLength {
            expected,
            found,
        }))
    }
}

fn conform_map(v: Value, element: &Type, ty: &Type) -> Result<Value, ValueError> {
    into_entries(v, ty)?
        .into_iter()
        .map(|(key, item)| {
            let item = conform(item, element).at_key(&key)?;
            Ok((key, item))
        })
        .collect::<Result<_, _>>()
        .map(Value::Map)
}

fn conform_object(
    v: Value,
    attrs: &BTreeMap<String, Type>,
    ty: &Type,
) -> Result<Value, ValueError> {
    let mut entries = into_entries(v, ty)?;
    reject_undeclared(&entries, attrs)?;
    attrs
        .iter()
        .map(|(name, attr_ty)| {
            let item = entries.remove(name).unwrap_or(Value::Null);
            Ok((name.clone(), conform(item, attr_ty).at_attr(name)?))
        })
        .collect::<Result<_, _>>()
        .map(Value::Object)
}

/// The first attribute of `entries` that the object type doesn't declare is an error.
pub(super) fn reject_undeclared<V>(
    entries: &BTreeMap<String, V>,
    attrs: &BTreeMap<String, Type>,
) -> Result<(), ValueError> {
    match entries.keys().find(|name| !attrs.contains_key(*name)) {
        Some(name) => Err(ValueError::new(ValueErrorKind::UnsupportedAttribute(
            name.clone(),
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_take_the_kind_the_type_names() {
        let v = Value::list([Value::from("a"), Value::from("b")]);
        assert_eq!(
            conform(v.clone(), &Type::set(Type::String)),
            Ok(Value::set([Value::from("a"), Value::from("b")]))
        );
        assert_eq!(
            conform(Value::set([Value::from(1)]), &Type::list(Type::Number)),
            Ok(Value::list([Value::from(1)]))
        );
        assert_eq!(
            conform(v, &Type::Tuple(vec![Type::String, Type::String])),
            Ok(Value::Tuple(vec![Value::from("a"), Value::from("b")]))
        );
        let obj = Value::object([("k", Value::from("v"))]);
        assert_eq!(
            conform(obj, &Type::map(Type::String)),
            Ok(Value::map([("k", Value::from("v"))]))
        );
    }

    #[test]
    fn objects_gain_missing_attributes_as_null() {
        let ty = Type::object([
            ("a", Type::String),
            (
                "b",
                Type::list(Type::object([("x", Type::Number), ("y", Type::Bool)])),
            ),
        ]);
        let v = Value::map([("b", Value::list([Value::object([("x", Value::from(1))])]))]);
        let expected = Value::object([
            ("a", Value::Null),
            (
                "b",
                Value::list([Value::object([("x", Value::from(1)), ("y", Value::Null)])]),
            ),
        ]);
        assert_eq!(conform(v, &ty), Ok(expected));
    }

    #[test]
    fn undeclared_attributes_are_errors_with_a_path() {
        let ty = Type::object([("outer", Type::list(Type::object([("a", Type::String)])))]);
        let v = Value::object([(
            "outer",
            Value::list([Value::object([
                ("a", Value::from("x")),
                ("zz", Value::Null),
            ])]),
        )]);
        let err = conform(v, &ty).expect_err("zz is undeclared");
        assert_eq!(err.path_string(), ".outer[0]");
        assert_eq!(
            err.kind(),
            &ValueErrorKind::UnsupportedAttribute("zz".into())
        );
    }

    #[test]
    fn primitives_convert_like_terraform() {
        assert_eq!(conform(Value::from(5), &Type::String), Ok(Value::from("5")));
        assert_eq!(
            conform(Value::from(true), &Type::String),
            Ok(Value::from("true"))
        );
        assert_eq!(
            conform(Value::from("12"), &Type::Number),
            Ok(Value::from(12))
        );
        assert_eq!(
            conform(Value::from("false"), &Type::Bool),
            Ok(Value::from(false))
        );
        assert_eq!(
            conform(Value::from(1.5), &Type::Number),
            Ok(Value::from(1.5))
        );
        assert!(conform(Value::from("twelve"), &Type::Number).is_err());
        assert!(conform(Value::from(1), &Type::Bool).is_err());
        assert!(conform(Value::list([]), &Type::String).is_err());
    }

    #[test]
    fn null_unknown_and_dynamic_pass_through() {
        let ty = Type::object([("a", Type::String)]);
        assert_eq!(conform(Value::Null, &ty), Ok(Value::Null));
        assert_eq!(conform(Value::unknown(), &ty), Ok(Value::unknown()));
        let v = Value::list([Value::from(1), Value::from("x")]);
        assert_eq!(conform(v.clone(), &Type::Dynamic), Ok(v));
    }

    #[test]
    fn tuple_length_must_match() {
        let err = conform(
            Value::list([Value::from(1)]),
            &Type::Tuple(vec![Type::Number; 2]),
        )
        .expect_err("one element for two");
        assert_eq!(
            err.kind(),
            &ValueErrorKind::TupleLength {
                expected: 2,
                found: 1
            }
        );
    }
}
