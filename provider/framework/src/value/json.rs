//! The JSON form of values: what the state file keeps under `attributes`, and so what
//! `UpgradeResourceState` sends as `RawState.json`.
//!
//! Numbers go through `serde_json`'s `f64` unless its `arbitrary_precision` feature is on, so a
//! state number with more than 17 significant digits (or beyond `f64`'s range) is rounded; the
//! shortest text of the float is what gets kept, so common decimals such as `0.1` stay exact.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::conform::{check_tuple_len, conform};
use super::error::{AtPath, ValueError, ValueErrorKind};
use super::{Number, Type, Value};

/// What to do with attributes the object type doesn't declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownAttrs {
    /// Reject them, naming the attribute: the state does not match the schema.
    Error,
    /// Drop them: the state was written by an older schema that had attributes since removed.
    Ignore,
}

/// Decodes JSON text (e.g. `RawState.json`) as a value of `ty`. Missing object attributes become
/// `Null`; a `dynamic` value is `{"value": ..., "type": <type JSON>}`. Primitives convert as
/// Terraform converts them (a number in a string attribute becomes its text), so state written
/// under an older schema still loads.
pub fn decode_json(
    bytes: &[u8],
    ty: &Type,
    unknown_attrs: UnknownAttrs,
) -> Result<Value, ValueError> {
    let tree: Json = serde_json::from_slice(bytes)
        .map_err(|e| ValueError::new(ValueErrorKind::Json(e.to_string())))?;
    from_json_value(&tree, ty, unknown_attrs)
}

/// [`decode_json`] for an already parsed JSON tree.
pub fn from_json_value(
    j: &Json,
    ty: &Type,
    unknown_attrs: UnknownAttrs,
) -> Result<Value, ValueError> {
    if j.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        Type::Dynamic => dynamic_from_json(j, unknown_attrs),
        Type::Bool | Type::Number | Type::String => conform(scalar_from_json(j, ty)?, ty),
        Type::List(element) => elements_from_json(j, element, ty, unknown_attrs).map(Value::List),
        Type::Set(element) => elements_from_json(j, element, ty, unknown_attrs).map(Value::Set),
        Type::Tuple(elements) => tuple_from_json(j, elements, ty, unknown_attrs),
        Type::Map(element) => map_from_json(j, element, ty, unknown_attrs),
        Type::Object(attrs) => object_from_json(j, attrs, ty, unknown_attrs),
    }
}

/// Encodes `v` as the JSON that Terraform's state holds for a value of `ty`: objects carry every
/// attribute (null where absent), a `dynamic` value is wrapped with its inferred type, and
/// decimals that no JSON float holds exactly are written as strings, which Terraform reads back
/// as numbers. Unknown values have no JSON form and are an error.
pub fn encode_json(v: &Value, ty: &Type) -> Result<Json, ValueError> {
    match (ty, v) {
        (_, Value::Unknown(_)) => Err(ValueError::new(ValueErrorKind::Unknown)),
        (_, Value::Null) => Ok(Json::Null),
        (Type::Dynamic, _) => {
            let concrete = Type::infer(v)?;
            Ok(json!({ "value": encode_json(v, &concrete)?, "type": concrete.to_json() }))
        }
        (Type::Bool, Value::Bool(b)) => Ok(Json::Bool(*b)),
        (Type::Number, Value::Number(n)) => number_to_json(n),
        (Type::String, Value::String(s)) => Ok(Json::String(s.clone())),
        (
            Type::List(element) | Type::Set(element),
            Value::List(items) | Value::Set(items) | Value::Tuple(items),
        ) => items
            .iter()
            .enumerate()
            .map(|(i, item)| encode_json(item, element).at_index(i))
            .collect::<Result<_, _>>()
            .map(Json::Array),
        (Type::Tuple(elements), Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
            check_tuple_len(elements.len(), items.len())?;
            items
                .iter()
                .zip(elements)
                .enumerate()
                .map(|(i, (item, element))| encode_json(item, element).at_index(i))
                .collect::<Result<_, _>>()
                .map(Json::Array)
        }
        (Type::Map(element), Value::Map(entries) | Value::Object(entries)) => entries
            .iter()
            .map(|(key, item)| Ok((key.clone(), encode_json(item, element).at_key(key)?)))
            .collect::<Result<_, _>>()
            .map(Json::Object),
        (Type::Object(attrs), Value::Object(entries) | Value::Map(entries)) => {
            super::conform::reject_undeclared(entries, attrs)?;
            attrs
                .iter()
                .map(|(name, attr_ty)| {
                    let item = entries.get(name).unwrap_or(&Value::Null);
                    Ok((name.clone(), encode_json(item, attr_ty).at_attr(name)?))
                })
                .collect::<Result<_, _>>()
                .map(Json::Object)
        }
        (ty, v) => Err(ValueError::mismatch(ty, v)),
    }
}

/// A JSON tree as a value without a type: arrays become lists, objects become objects. The
/// serde bridge builds on this, with [`conform`] supplying the type afterwards.
pub(super) fn untyped_from_json(j: &Json) -> Result<Value, ValueError> {
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(number_from_json(n)?),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| untyped_from_json(item).at_index(i))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, item)| Ok((k.clone(), untyped_from_json(item).at_attr(k)?)))
                .collect::<Result<_, ValueError>>()?,
        ),
    })
}

/// What a JSON element is, for error messages.
fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "JSON null",
        Json::Bool(_) => "JSON bool",
        Json::Number(_) => "JSON number",
        Json::String(_) => "JSON string",
        Json::Array(_) => "JSON array",
        Json::Object(_) => "JSON object",
    }
}

fn json_mismatch(expected: impl std::fmt::Display, found: &Json) -> ValueError {
    ValueError::mismatch_desc(expected, json_kind(found))
}

/// Integers that fit `i64` stay integers, larger ones become decimal text, and floats are
/// re-read from their shortest text so that `0.1` means one tenth, as it did in the state file.
fn number_from_json(n: &serde_json::Number) -> Result<Number, ValueError> {
    if let Some(i) = n.as_i64() {
        return Ok(Number::Int(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Number::from_u64(u));
    }
    let text = n.to_string();
    Number::parse(&text).ok_or(ValueError::new(ValueErrorKind::InvalidNumber(text)))
}

fn number_to_json(n: &Number) -> Result<Json, ValueError> {
    match n {
        Number::Int(i) => Ok(Json::from(*i)),
        Number::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| ValueError::new(ValueErrorKind::InvalidNumber(f.to_string()))),
        Number::Decimal(text) => Ok(Json::String(text.clone())),
    }
}

/// A JSON scalar as a value, left for [`conform`] to convert to the wanted primitive.
fn scalar_from_json(j: &Json, ty: &Type) -> Result<Value, ValueError> {
    match j {
        Json::Bool(_) | Json::Number(_) | Json::String(_) => untyped_from_json(j),
        other => Err(json_mismatch(ty, other)),
    }
}

fn elements_from_json(
    j: &Json,
    element: &Type,
    ty: &Type,
    unknown_attrs: UnknownAttrs,
) -> Result<Vec<Value>, ValueError> {
    let Json::Array(items) = j else {
        return Err(json_mismatch(ty, j));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| from_json_value(item, element, unknown_attrs).at_index(i))
        .collect()
}

fn tuple_from_json(
    j: &Json,
    elements: &[Type],
    ty: &Type,
    unknown_attrs: UnknownAttrs,
) -> Result<Value, ValueError> {
    let Json::Array(items) = j else {
        return Err(json_mismatch(ty, j));
    };
    check_tuple_len(elements.len(), items.len())?;
    items
        .iter()
        .zip(elements)
        .enumerate()
        .map(|(i, (item, element))| from_json_value(item, element, unknown_attrs).at_index(i))
        .collect::<Result<_, _>>()
        .map(Value::Tuple)
}

fn map_from_json(
    j: &Json,
    element: &Type,
    ty: &Type,
    unknown_attrs: UnknownAttrs,
) -> Result<Value, ValueError> {
    let Json::Object(entries) = j else {
        return Err(json_mismatch(ty, j));
    };
    entries
        .iter()
        .map(|(key, item)| {
            let item = from_json_value(item, element, unknown_attrs).at_key(key)?;
            Ok((key.clone(), item))
        })
        .collect::<Result<_, _>>()
        .map(Value::Map)
}

fn object_from_json(
    j: &Json,
    attrs: &BTreeMap<String, Type>,
    ty: &Type,
    unknown_attrs: UnknownAttrs,
) -> Result<Value, ValueError> {
    let Json::Object(entries) = j else {
        return Err(json_mismatch(ty, j));
    };
    if unknown_attrs == UnknownAttrs::Error {
        if let Some(name) = entries.keys().find(|name| !attrs.contains_key(*name)) {
            return Err(ValueError::new(ValueErrorKind::UnsupportedAttribute(
                name.clone(),
            )));
        }
    }
    attrs
        .iter()
        .map(|(name, attr_ty)| {
            let item = match entries.get(name) {
                Some(item) => from_json_value(item, attr_ty, unknown_attrs).at_attr(name)?,
                None => Value::Null,
            };
            Ok((name.clone(), item))
        })
        .collect::<Result<_, _>>()
        .map(Value::Object)
}

/// `{"value": ..., "type": ...}`, nothing more or less (a bare `null` was handled before).
fn dynamic_from_json(j: &Json, unknown_attrs: UnknownAttrs) -> Result<Value, ValueError> {
    let Json::Object(entries) = j else {
        return Err(json_mismatch("a dynamic value {\"value\", \"type\"}", j));
    };
    if let Some(key) = entries.keys().find(|k| *k != "value" && *k != "type") {
        return Err(ValueError::new(ValueErrorKind::UnsupportedAttribute(
            key.clone(),
        )));
    }
    let (Some(type_json), Some(value)) = (entries.get("type"), entries.get("value")) else {
        return Err(json_mismatch(
            "a dynamic value with both \"value\" and \"type\"",
            j,
        ));
    };
    let ty = Type::from_json(type_json).at_attr("type")?;
    from_json_value(value, &ty, unknown_attrs).at_attr("value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_type() -> Type {
        Type::object([
            ("id", Type::String),
            ("count", Type::Number),
            ("ratio", Type::Number),
            ("big", Type::Number),
            ("enabled", Type::Bool),
            ("tags", Type::map(Type::String)),
            ("zones", Type::set(Type::String)),
            (
                "rule",
                Type::list(Type::object([
                    ("port", Type::Number),
                    ("note", Type::String),
                ])),
            ),
            ("extra", Type::Dynamic),
        ])
    }

    const RAW_STATE: &str = r#"{
        "id": "r-1",
        "count": 3,
        "ratio": 0.5,
        "big": 18446744073709551615,
        "enabled": true,
        "tags": {"Name": "web"},
        "zones": ["a", "b"],
        "rule": [{"port": 22}, {"port": 443, "note": null}],
        "extra": {"value": ["x", 1], "type": ["tuple", ["string", "number"]]}
    }"#;

    fn expected_state() -> Value {
        Value::object([
            ("id", Value::from("r-1")),
            ("count", Value::from(3)),
            ("ratio", Value::from(0.5)),
            (
                "big",
                Value::Number(Number::Decimal("18446744073709551615".into())),
            ),
            ("enabled", Value::from(true)),
            ("tags", Value::map([("Name", Value::from("web"))])),
            ("zones", Value::set([Value::from("a"), Value::from("b")])),
            (
                "rule",
                Value::list([
                    Value::object([("port", Value::from(22)), ("note", Value::Null)]),
                    Value::object([("port", Value::from(443)), ("note", Value::Null)]),
                ]),
            ),
            (
                "extra",
                Value::Tuple(vec![Value::from("x"), Value::from(1)]),
            ),
        ])
    }

    #[test]
    fn raw_state_decodes_with_missing_attributes_as_null() {
        let v = decode_json(RAW_STATE.as_bytes(), &state_type(), UnknownAttrs::Error);
        assert_eq!(v, Ok(expected_state()));
    }

    #[test]
    fn undeclared_attributes_fail_in_error_mode_and_vanish_in_ignore_mode() {
        let raw = r#"{"id": "r-1", "rule": [{"port": 1, "legacy": "x"}], "old": 5}"#;
        let err = decode_json(raw.as_bytes(), &state_type(), UnknownAttrs::Error)
            .expect_err("old is undeclared");
        assert_eq!(
            err.kind(),
            &ValueErrorKind::UnsupportedAttribute("old".into())
        );

        let nested = r#"{"rule": [{"port": 1, "legacy": "x"}]}"#;
        let err = decode_json(nested.as_bytes(), &state_type(), UnknownAttrs::Error)
            .expect_err("legacy is undeclared");
        assert_eq!(err.path_string(), ".rule[0]");
        assert_eq!(
            err.to_string(),
            "at .rule[0]: unsupported attribute \"legacy\""
        );

        let v = decode_json(raw.as_bytes(), &state_type(), UnknownAttrs::Ignore).expect("ignored");
        assert_eq!(v.get("id"), &Value::from("r-1"));
        assert_eq!(
            v.get("rule"),
            &Value::list([Value::object([
                ("port", Value::from(1)),
                ("note", Value::Null)
            ])])
        );
        assert!(v.get("old").is_null());
        assert_eq!(v.as_entries().map(BTreeMap::len), Some(9));
    }

    #[test]
    fn numbers_keep_their_meaning() {
        let ty = Type::list(Type::Number);
        let v = decode_json(b"[1, -7, 2.5, 0.1, 1e3]", &ty, UnknownAttrs::Error).expect("decodes");
        let Value::List(items) = v else {
            panic!("not a list");
        };
        assert!(matches!(items[0], Value::Number(Number::Int(1))));
        assert!(matches!(items[1], Value::Number(Number::Int(-7))));
        assert!(matches!(items[2], Value::Number(Number::Float(f)) if f == 2.5));
        assert!(matches!(&items[3], Value::Number(Number::Decimal(t)) if t == "0.1"));
        assert_eq!(items[4], Value::from(1000));
    }

    #[test]
    fn primitives_convert_like_terraform_state_upgrades() {
        let ty = Type::object([("s", Type::String), ("n", Type::Number), ("b", Type::Bool)]);
        let v = decode_json(
            br#"{"s": 12, "n": "7", "b": "true"}"#,
            &ty,
            UnknownAttrs::Error,
        );
        let expected = Value::object([
            ("s", Value::from("12")),
            ("n", Value::from(7)),
            ("b", Value::from(true)),
        ]);
        assert_eq!(v, Ok(expected));
        let err = decode_json(br#"{"n": [1]}"#, &ty, UnknownAttrs::Error).expect_err("array");
        assert_eq!(
            err.to_string(),
            "at .n: number is required, found JSON array"
        );
    }

    #[test]
    fn dynamic_needs_exactly_value_and_type() {
        let ty = Type::Dynamic;
        assert_eq!(
            decode_json(b"null", &ty, UnknownAttrs::Error),
            Ok(Value::Null)
        );
        assert_eq!(
            decode_json(
                br#"{"value": null, "type": "string"}"#,
                &ty,
                UnknownAttrs::Error
            ),
            Ok(Value::Null)
        );
        assert!(decode_json(br#"{"value": 1}"#, &ty, UnknownAttrs::Error).is_err());
        assert!(decode_json(
            br#"{"value": 1, "type": "number", "x": 1}"#,
            &ty,
            UnknownAttrs::Error
        )
        .is_err());
        let err = decode_json(
            br#"{"value": "x", "type": "number"}"#,
            &ty,
            UnknownAttrs::Error,
        )
        .expect_err("x is no number");
        assert_eq!(err.path_string(), ".value");
    }

    #[test]
    fn malformed_json_is_an_error() {
        let err = decode_json(b"{", &Type::String, UnknownAttrs::Error).expect_err("truncated");
        assert!(matches!(err.kind(), ValueErrorKind::Json(_)));
    }

    #[test]
    fn encode_round_trips_through_decode() {
        let ty = state_type();
        let j = encode_json(&expected_state(), &ty).expect("encodes");
        assert_eq!(j["big"], json!("18446744073709551615"));
        assert_eq!(
            j["extra"],
            json!({"value": ["x", 1], "type": ["tuple", ["string", "number"]]})
        );
        let bytes = serde_json::to_vec(&j).expect("serializes");
        assert_eq!(
            decode_json(&bytes, &ty, UnknownAttrs::Error),
            Ok(expected_state())
        );
    }

    #[test]
    fn encode_writes_every_attribute_and_rejects_unknowns() {
        let ty = Type::object([("a", Type::String), ("b", Type::list(Type::String))]);
        let j = encode_json(&Value::object([("a", Value::from("x"))]), &ty);
        assert_eq!(j, Ok(json!({"a": "x", "b": null})));

        let v = Value::object([("b", Value::list([Value::from("x"), Value::unknown()]))]);
        let err = encode_json(&v, &ty).expect_err("unknown");
        assert_eq!(err.to_string(), "at .b[1]: value is not yet known");
    }
}
