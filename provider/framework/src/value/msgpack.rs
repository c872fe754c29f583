//! `DynamicValue.msgpack`: the form Terraform sends and expects values in.
//!
//! Decoding reads the bytes into an `rmpv` tree first and then walks it with the schema type; the
//! tree costs little next to a gRPC round trip and keeps each type's rule a small function.
//! Encoding writes straight to the output with `rmp`.

use std::collections::BTreeMap;
use std::fmt;

use rmpv::Value as Raw;

use super::conform::{check_tuple_len, reject_undeclared};
use super::error::{AtPath, ValueError, ValueErrorKind};
use super::{Number, Refinements, Type, Value};

/// What Terraform writes for a plain unknown: fixext1, extension type 0, one zero byte.
const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

/// The extension type whose payload is a map of refinements.
const REFINED_UNKNOWN_EXT: i8 = 12;

/// Refinement map keys (see go-cty's msgpack unknown encoding).
const REFINE_NULLNESS: i64 = 1;
const REFINE_STRING_PREFIX: i64 = 2;
const REFINE_NUMBER_LOWER: i64 = 3;
const REFINE_NUMBER_UPPER: i64 = 4;
const REFINE_LENGTH_LOWER: i64 = 5;
const REFINE_LENGTH_UPPER: i64 = 6;

/// Decodes msgpack bytes as a value of `ty`, strictly: every element must have the shape the type
/// says, objects may carry only declared attributes (missing ones become `Null`), and nothing may
/// follow the value. Errors carry the path to the offending element.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    let raw = read_raw(bytes)?;
    from_raw(&raw, ty)
}

/// Encodes `v` as msgpack for a value of `ty`. Objects are written with exactly the attributes of
/// the type (nil for absent ones), since Terraform rejects any other count. Unknowns are written
/// plain (`d4 00 00`), dropping refinements. A value under `dynamic` is written with the type
/// inferred by [`Type::infer`].
pub fn encode_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::new();
    write_value(&mut out, v, ty)?;
    Ok(out)
}

fn malformed(message: impl fmt::Display) -> ValueError {
    ValueError::new(ValueErrorKind::Msgpack(message.to_string()))
}

/// Reads exactly one msgpack value from `bytes`.
fn read_raw(bytes: &[u8]) -> Result<Raw, ValueError> {
    let mut rest = bytes;
    let raw = rmpv::decode::read_value(&mut rest).map_err(malformed)?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} unexpected bytes after the value",
            rest.len()
        )));
    }
    Ok(raw)
}

/// What a msgpack element is, for error messages.
fn raw_kind(raw: &Raw) -> &'static str {
    match raw {
        Raw::Nil => "nil",
        Raw::Boolean(_) => "bool",
        Raw::Integer(_) => "integer",
        Raw::F32(_) | Raw::F64(_) => "float",
        Raw::String(_) => "string",
        Raw::Binary(_) => "binary",
        Raw::Array(_) => "array",
        Raw::Map(_) => "map",
        Raw::Ext(..) => "extension",
    }
}

fn raw_mismatch(expected: impl fmt::Display, found: &Raw) -> ValueError {
    ValueError::mismatch_desc(expected, format!("msgpack {}", raw_kind(found)))
}

fn from_raw(raw: &Raw, ty: &Type) -> Result<Value, ValueError> {
    match raw {
        Raw::Ext(code, payload) => return unknown_from_ext(*code, payload),
        Raw::Nil => return Ok(Value::Null),
        _ => {}
    }
    match ty {
        Type::Dynamic => dynamic_from_raw(raw),
        Type::Bool => match raw {
            Raw::Boolean(b) => Ok(Value::Bool(*b)),
            other => Err(raw_mismatch(ty, other)),
        },
        Type::Number => number_from_raw(raw).map(Value::Number),
        Type::String => string_from_raw(raw).map(|s| Value::String(s.to_owned())),
        Type::List(element) => elements_from_raw(raw, element, ty).map(Value::List),
        Type::Set(element) => elements_from_raw(raw, element, ty).map(Value::Set),
        Type::Tuple(elements) => tuple_from_raw(raw, elements, ty),
        Type::Map(element) => map_from_raw(raw, element, ty),
        Type::Object(attrs) => object_from_raw(raw, attrs, ty),
    }
}

/// Any extension is an unknown; only type 12 with a real payload carries refinements.
fn unknown_from_ext(code: i8, payload: &[u8]) -> Result<Value, ValueError> {
    if code != REFINED_UNKNOWN_EXT || payload.len() <= 1 {
        return Ok(Value::unknown());
    }
    refinements_from_payload(payload)
}

/// Reads the refinement map. Unknown keys are skipped (the protocol reserves them for future
/// refinements) and so are bytes after the map. A "definitely null" refinement describes a
/// known null, so that is what it decodes to.
fn refinements_from_payload(payload: &[u8]) -> Result<Value, ValueError> {
    let mut rest = payload;
    let map = rmpv::decode::read_value(&mut rest).map_err(malformed)?;
    let Raw::Map(entries) = map else {
        return Err(malformed("unknown-value refinements must be a map"));
    };
    let mut refinements = Refinements::default();
    for (key, value) in &entries {
        let key = key
            .as_i64()
            .ok_or_else(|| malformed("unknown-value refinement keys must be integers"))?;
        if key == REFINE_NULLNESS && value.as_bool() == Some(true) {
            return Ok(Value::Null);
        }
        apply_refinement(&mut refinements, key, value)?;
    }
    Ok(Value::Unknown(refinements))
}

fn apply_refinement(r: &mut Refinements, key: i64, value: &Raw) -> Result<(), ValueError> {
    match key {
        REFINE_NULLNESS => {
            value
                .as_bool()
                .ok_or_else(|| malformed("the nullness refinement must be a bool"))?;
            r.not_null = true;
        }
        REFINE_STRING_PREFIX => r.string_prefix = Some(string_from_raw(value)?.to_owned()),
        REFINE_NUMBER_LOWER => r.number_lower = Some(bound_from_raw(value)?),
        REFINE_NUMBER_UPPER => r.number_upper = Some(bound_from_raw(value)?),
        REFINE_LENGTH_LOWER => r.length_lower = Some(length_from_raw(value)?),
        REFINE_LENGTH_UPPER => r.length_upper = Some(length_from_raw(value)?),
        _ => {}
    }
    Ok(())
}

/// A number bound: `[number, inclusive]`.
fn bound_from_raw(raw: &Raw) -> Result<(Number, bool), ValueError> {
    match raw.as_array().map(Vec::as_slice) {
        Some([number, Raw::Boolean(inclusive)]) => Ok((number_from_raw(number)?, *inclusive)),
        _ => Err(malformed(
            "a number bound refinement must be [number, bool]",
        )),
    }
}

fn length_from_raw(raw: &Raw) -> Result<u64, ValueError> {
    raw.as_u64()
        .ok_or_else(|| malformed("a length bound refinement must be a non-negative integer"))
}

/// Terraform sends a number as an int or float when either holds it exactly, else as decimal
/// text. Floats stay `Float` even when integral, so re-encoding writes back what was read.
fn number_from_raw(raw: &Raw) -> Result<Number, ValueError> {
    match raw {
        Raw::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(signed), _) => Ok(Number::Int(signed)),
            (None, Some(unsigned)) => Ok(Number::from_u64(unsigned)),
            (None, None) => Err(malformed("integer out of range")),
        },
        Raw::F32(f) => Ok(Number::Float(f64::from(*f))),
        Raw::F64(f) => Ok(Number::Float(*f)),
        Raw::String(_) | Raw::Binary(_) => {
            let text = string_from_raw(raw)?;
            Number::parse(text)
                .ok_or_else(|| ValueError::new(ValueErrorKind::InvalidNumber(text.to_owned())))
        }
        other => Err(raw_mismatch(Type::Number, other)),
    }
}

/// Strings may arrive as msgpack str or bin (Go's msgpack reads both), but must be UTF-8.
fn string_from_raw(raw: &Raw) -> Result<&str, ValueError> {
    match raw {
        Raw::String(s) => s
            .as_str()
            .ok_or_else(|| malformed("string is not valid UTF-8")),
        Raw::Binary(bytes) => {
            std::str::from_utf8(bytes).map_err(|_| malformed("string is not valid UTF-8"))
        }
        other => Err(raw_mismatch(Type::String, other)),
    }
}

fn elements_from_raw(raw: &Raw, element: &Type, ty: &Type) -> Result<Vec<Value>, ValueError> {
    let Raw::Array(items) = raw else {
        return Err(raw_mismatch(ty, raw));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| from_raw(item, element).at_index(i))
        .collect()
}

fn tuple_from_raw(raw: &Raw, elements: &[Type], ty: &Type) -> Result<Value, ValueError> {
    let Raw::Array(items) = raw else {
        return Err(raw_mismatch(ty, raw));
    };
    check_tuple_len(elements.len(), items.len())?;
    items
        .iter()
        .zip(elements)
        .enumerate()
        .map(|(i, (item, element))| from_raw(item, element).at_index(i))
        .collect::<Result<_, _>>()
        .map(Value::Tuple)
}

/// The entries of a msgpack map with string keys, rejecting duplicates: with two values for one
/// key there is no right answer.
fn entries_from_raw<'a>(raw: &'a Raw, ty: &Type) -> Result<BTreeMap<&'a str, &'a Raw>, ValueError> {
    let Raw::Map(pairs) = raw else {
        return Err(raw_mismatch(ty, raw));
    };
    let mut entries = BTreeMap::new();
    for (key, value) in pairs {
        let key = string_from_raw(key).map_err(|_| raw_mismatch("a string key", key))?;
        if entries.insert(key, value).is_some() {
            return Err(ValueError::new(ValueErrorKind::DuplicateKey(
                key.to_owned(),
            )));
        }
    }
    Ok(entries)
}

fn map_from_raw(raw: &Raw, element: &Type, ty: &Type) -> Result<Value, ValueError> {
    entries_from_raw(raw, ty)?
        .into_iter()
        .map(|(key, item)| Ok((key.to_owned(), from_raw(item, element).at_key(key)?)))
        .collect::<Result<_, _>>()
        .map(Value::Map)
}

fn object_from_raw(
    raw: &Raw,
    attrs: &BTreeMap<String, Type>,
    ty: &Type,
) -> Result<Value, ValueError> {
    let entries: BTreeMap<String, &Raw> = entries_from_raw(raw, ty)?
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    reject_undeclared(&entries, attrs)?;
    attrs
        .iter()
        .map(|(name, attr_ty)| {
            let item = match entries.get(name) {
                Some(item) => from_raw(item, attr_ty).at_attr(name)?,
                None => Value::Null,
            };
            Ok((name.clone(), item))
        })
        .collect::<Result<_, _>>()
        .map(Value::Object)
}

/// `[type JSON, value]`: the concrete type travels with the value (as bin, or str from some
/// encoders).
fn dynamic_from_raw(raw: &Raw) -> Result<Value, ValueError> {
    let Some([type_raw, value_raw]) = raw.as_array().map(Vec::as_slice) else {
        return Err(raw_mismatch("a dynamic value [type, value]", raw));
    };
    let type_json = match type_raw {
        Raw::Binary(bytes) => bytes.as_slice(),
        Raw::String(s) => s.as_bytes(),
        other => return Err(raw_mismatch("a dynamic value's type as JSON", other)),
    };
    let ty = Type::from_json_bytes(type_json)?;
    from_raw(value_raw, &ty)
}

/// Turns an `rmp` write error (impossible for a `Vec`, but typed as fallible) into ours.
fn written<T, E: fmt::Display>(result: Result<T, E>) -> Result<(), ValueError> {
    result.map(|_| ()).map_err(malformed)
}

fn wire_len(len: usize) -> Result<u32, ValueError> {
    u32::try_from(len).map_err(|_| malformed(format!("{len} elements are too many for msgpack")))
}

fn write_value(out: &mut Vec<u8>, v: &Value, ty: &Type) -> Result<(), ValueError> {
    match (ty, v) {
        (_, Value::Unknown(_)) => {
            out.extend_from_slice(&UNKNOWN);
            Ok(())
        }
        (_, Value::Null) => written(rmp::encode::write_nil(out)),
        (Type::Dynamic, _) => write_dynamic(out, v),
        (Type::Bool, Value::Bool(b)) => written(rmp::encode::write_bool(out, *b)),
        (Type::Number, Value::Number(n)) => write_number(out, n),
        (Type::String, Value::String(s)) => written(rmp::encode::write_str(out, s)),
        (
            Type::List(element) | Type::Set(element),
            Value::List(items) | Value::Set(items) | Value::Tuple(items),
        ) => write_elements(out, items, element),
        (Type::Tuple(elements), Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
            write_tuple(out, items, elements)
        }
        (Type::Map(element), Value::Map(entries) | Value::Object(entries)) => {
            write_map(out, entries, element)
        }
        (Type::Object(attrs), Value::Object(entries) | Value::Map(entries)) => {
            write_object(out, entries, attrs)
        }
        (ty, v) => Err(ValueError::mismatch(ty, v)),
    }
}

/// Integers in the smallest msgpack int, floats as float64, decimals as text (which Terraform
/// parses at full precision).
fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), ValueError> {
    match n {
        Number::Int(i) => written(rmp::encode::write_sint(out, *i)),
        Number::Float(f) => written(rmp::encode::write_f64(out, *f)),
        Number::Decimal(text) => written(rmp::encode::write_str(out, text)),
    }
}

fn write_elements(out: &mut Vec<u8>, items: &[Value], element: &Type) -> Result<(), ValueError> {
    written(rmp::encode::write_array_len(out, wire_len(items.len())?))?;
    for (i, item) in items.iter().enumerate() {
        write_value(out, item, element).at_index(i)?;
    }
    Ok(())
}

fn write_tuple(out: &mut Vec<u8>, items: &[Value], elements: &[Type]) -> Result<(), ValueError> {
    check_tuple_len(elements.len(), items.len())?;
    written(rmp::encode::write_array_len(out, wire_len(items.len())?))?;
    for (i, (item, element)) in items.iter().zip(elements).enumerate() {
        write_value(out, item, element).at_index(i)?;
    }
    Ok(())
}

fn write_map(
    out: &mut Vec<u8>,
    entries: &BTreeMap<String, Value>,
    element: &Type,
) -> Result<(), ValueError> {
    written(rmp::encode::write_map_len(out, wire_len(entries.len())?))?;
    for (key, item) in entries {
        written(rmp::encode::write_str(out, key))?;
        write_value(out, item, element).at_key(key)?;
    }
    Ok(())
}

fn write_object(
    out: &mut Vec<u8>,
    entries: &BTreeMap<String, Value>,
    attrs: &BTreeMap<String, Type>,
) -> Result<(), ValueError> {
    reject_undeclared(entries, attrs)?;
    written(rmp::encode::write_map_len(out, wire_len(attrs.len())?))?;
    for (name, attr_ty) in attrs {
        written(rmp::encode::write_str(out, name))?;
        let item = entries.get(name).unwrap_or(&Value::Null);
        write_value(out, item, attr_ty).at_attr(name)?;
    }
    Ok(())
}

/// Known non-null values under `dynamic` carry their concrete type: `[type JSON as bin, value]`.
fn write_dynamic(out: &mut Vec<u8>, v: &Value) -> Result<(), ValueError> {
    let ty = Type::infer(v)?;
    written(rmp::encode::write_array_len(out, 2))?;
    written(rmp::encode::write_bin(out, &ty.to_json_bytes()))?;
    write_value(out, v, &ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str_bytes(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        rmp::encode::write_str(&mut out, s).expect("vec write");
        out
    }

    fn obj_type() -> Type {
        Type::object([
            ("ami", Type::String),
            ("count", Type::Number),
            ("enabled", Type::Bool),
        ])
    }

    /// Asserts the number's exact representation, which `Number`'s value equality ignores.
    fn assert_repr(v: &Value, expected: &Number) {
        match (v, expected) {
            (Value::Number(Number::Int(a)), Number::Int(b)) => assert_eq!(a, b),
            (Value::Number(Number::Float(a)), Number::Float(b)) => {
                assert_eq!(a.to_bits(), b.to_bits())
            }
            (Value::Number(Number::Decimal(a)), Number::Decimal(b)) => assert_eq!(a, b),
            _ => panic!("{v:?} is not {expected:?}"),
        }
    }

    #[test]
    fn plain_unknown_decodes_for_any_type() {
        for ty in [
            Type::String,
            obj_type(),
            Type::list(Type::Number),
            Type::Dynamic,
        ] {
            assert_eq!(
                decode_msgpack(&[0xd4, 0x00, 0x00], &ty),
                Ok(Value::unknown())
            );
        }
    }

    #[test]
    fn other_extensions_decode_as_plain_unknown() {
        // fixext4 of type 5, and a zero-length ext8 of type 12.
        let bytes = [0xd6, 0x05, 1, 2, 3, 4];
        assert_eq!(decode_msgpack(&bytes, &Type::String), Ok(Value::unknown()));
        assert_eq!(
            decode_msgpack(&[0xc7, 0x00, 0x0c], &Type::String),
            Ok(Value::unknown())
        );
    }

    #[test]
    fn refined_unknown_with_not_null_and_prefix() {
        // ext8, 9 bytes, type 12: {1: false, 2: "ami-"}
        let bytes = [
            0xc7, 0x09, 0x0c, 0x82, 0x01, 0xc2, 0x02, 0xa4, b'a', b'm', b'i', b'-',
        ];
        let expected = Value::Unknown(Refinements {
            not_null: true,
            string_prefix: Some("ami-".into()),
            ..Refinements::default()
        });
        assert_eq!(decode_msgpack(&bytes, &Type::String), Ok(expected));
    }

    #[test]
    fn refined_unknown_with_number_and_length_bounds() {
        // {3: [0, true], 4: ["1e400", false], 9: "future"} for a number
        let mut payload = vec![0x83, 0x03, 0x92, 0x00, 0xc3, 0x04, 0x92];
        payload.extend(str_bytes("1e400"));
        payload.push(0xc2);
        payload.push(0x09);
        payload.extend(str_bytes("future"));
        let mut bytes = vec![0xc7, u8::try_from(payload.len()).expect("short"), 0x0c];
        bytes.extend(&payload);
        let Ok(Value::Unknown(r)) = decode_msgpack(&bytes, &Type::Number) else {
            panic!("not an unknown");
        };
        assert_eq!(r.number_lower, Some((Number::Int(0), true)));
        assert_eq!(
            r.number_upper,
            Some((Number::Decimal("1e400".into()), false))
        );
        assert!(!r.not_null);

        // ext8, 5 bytes, type 12: {5: 1, 6: 10} for a list
        let bytes = [0xc7, 0x05, 0x0c, 0x82, 0x05, 0x01, 0x06, 0x0a];
        let expected = Value::Unknown(Refinements {
            length_lower: Some(1),
            length_upper: Some(10),
            ..Refinements::default()
        });
        assert_eq!(
            decode_msgpack(&bytes, &Type::list(Type::String)),
            Ok(expected)
        );
    }

    #[test]
    fn refined_as_definitely_null_is_null() {
        // ext8, 3 bytes, type 12: {1: true}
        let bytes = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc3];
        assert_eq!(decode_msgpack(&bytes, &Type::String), Ok(Value::Null));
    }

    #[test]
    fn malformed_refinements_are_errors() {
        // ext8 type 12 whose payload is an array, not a map
        let bytes = [0xc7, 0x02, 0x0c, 0x91, 0x01];
        assert!(decode_msgpack(&bytes, &Type::String).is_err());
        // {2: 5}: a prefix that is not a string
        let bytes = [0xc7, 0x03, 0x0c, 0x81, 0x02, 0x05];
        assert!(decode_msgpack(&bytes, &Type::String).is_err());
    }

    #[test]
    fn unknowns_encode_plain_dropping_refinements() {
        let refined = Value::Unknown(Refinements {
            not_null: true,
            string_prefix: Some("x".into()),
            ..Refinements::default()
        });
        assert_eq!(
            encode_msgpack(&refined, &Type::String),
            Ok(vec![0xd4, 0x00, 0x00])
        );
        assert_eq!(
            encode_msgpack(&Value::unknown(), &obj_type()),
            Ok(vec![0xd4, 0x00, 0x00])
        );
        assert_eq!(
            encode_msgpack(&Value::unknown(), &Type::Dynamic),
            Ok(vec![0xd4, 0x00, 0x00])
        );
    }

    #[test]
    fn nil_is_null_for_every_type() {
        for ty in [
            Type::String,
            Type::Number,
            obj_type(),
            Type::Dynamic,
            Type::set(Type::Bool),
        ] {
            assert_eq!(decode_msgpack(&[0xc0], &ty), Ok(Value::Null));
            assert_eq!(encode_msgpack(&Value::Null, &ty), Ok(vec![0xc0]));
        }
    }

    #[test]
    fn integers_of_every_width_decode() {
        let cases: &[(&[u8], Number)] = &[
            (&[0x05], Number::Int(5)),
            (&[0x7f], Number::Int(127)),
            (&[0xff], Number::Int(-1)),
            (&[0xe0], Number::Int(-32)),
            (&[0xcc, 0xc8], Number::Int(200)),
            (&[0xcd, 0x01, 0x2c], Number::Int(300)),
            (&[0xce, 0x00, 0x01, 0x86, 0xa0], Number::Int(100_000)),
            (&[0xcf, 0, 0, 0, 1, 0, 0, 0, 0], Number::Int(1 << 32)),
            (
                &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Number::Decimal("18446744073709551615".into()),
            ),
            (
                &[0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0],
                Number::Decimal("9223372036854775808".into()),
            ),
            (&[0xd0, 0x9c], Number::Int(-100)),
            (&[0xd1, 0xff, 0x38], Number::Int(-200)),
            (&[0xd2, 0xff, 0xfe, 0x79, 0x60], Number::Int(-100_000)),
            (&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], Number::Int(i64::MIN)),
        ];
        for (bytes, expected) in cases {
            let v = decode_msgpack(bytes, &Type::Number).expect("decodes");
            assert_repr(&v, expected);
        }
    }

    #[test]
    fn floats_decode_as_float() {
        let f32_bytes = [0xca, 0x3f, 0xc0, 0x00, 0x00];
        assert_repr(
            &decode_msgpack(&f32_bytes, &Type::Number).expect("f32"),
            &Number::Float(1.5),
        );
        let f64_bytes = [0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a];
        assert_repr(
            &decode_msgpack(&f64_bytes, &Type::Number).expect("f64"),
            &Number::Float(0.1),
        );
        let integral = [0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0];
        assert_repr(
            &decode_msgpack(&integral, &Type::Number).expect("3.0"),
            &Number::Float(3.0),
        );
    }

    #[test]
    fn numbers_sent_as_strings() {
        let cases = [
            (
                "12345678901234567890123",
                Number::Decimal("12345678901234567890123".into()),
            ),
            ("1e400", Number::Decimal("1e400".into())),
            ("0.1", Number::Decimal("0.1".into())),
            ("42", Number::Int(42)),
            ("-2.5", Number::Float(-2.5)),
        ];
        for (text, expected) in cases {
            let v = decode_msgpack(&str_bytes(text), &Type::Number).expect(text);
            assert_repr(&v, &expected);
        }
        let err = decode_msgpack(&str_bytes("lots"), &Type::Number).expect_err("not a number");
        assert_eq!(err.kind(), &ValueErrorKind::InvalidNumber("lots".into()));
    }

    #[test]
    fn numbers_encode_compactly() {
        let cases: Vec<(Number, Vec<u8>)> = vec![
            (Number::Int(5), vec![0x05]),
            (Number::Int(200), vec![0xcc, 0xc8]),
            (Number::Int(300), vec![0xcd, 0x01, 0x2c]),
            (Number::Int(-1), vec![0xff]),
            (Number::Int(-200), vec![0xd1, 0xff, 0x38]),
            (Number::Int(i64::MIN), vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (Number::Float(1.5), vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
            (Number::Decimal("1e400".into()), str_bytes("1e400")),
        ];
        for (n, bytes) in cases {
            assert_eq!(
                encode_msgpack(&Value::Number(n.clone()), &Type::Number),
                Ok(bytes),
                "{n:?}"
            );
        }
    }

    #[test]
    fn decimal_round_trips_exactly() {
        let v = Value::Number(Number::Decimal("12345678901234567890123".into()));
        let bytes = encode_msgpack(&v, &Type::Number).expect("encodes");
        let back = decode_msgpack(&bytes, &Type::Number).expect("decodes");
        assert_repr(&back, &Number::Decimal("12345678901234567890123".into()));
    }

    #[test]
    fn nested_object_with_a_missing_attribute() {
        let ty = Type::object([
            ("name", Type::String),
            (
                "inner",
                Type::object([("a", Type::String), ("b", Type::Number)]),
            ),
        ]);
        // {"inner": {"a": "x"}, "name": "n"}: inner.b and nothing else missing
        let mut bytes = vec![0x82];
        bytes.extend(str_bytes("inner"));
        bytes.push(0x81);
        bytes.extend(str_bytes("a"));
        bytes.extend(str_bytes("x"));
        bytes.extend(str_bytes("name"));
        bytes.extend(str_bytes("n"));
        let expected = Value::object([
            ("name", Value::from("n")),
            (
                "inner",
                Value::object([("a", Value::from("x")), ("b", Value::Null)]),
            ),
        ]);
        assert_eq!(decode_msgpack(&bytes, &ty), Ok(expected));
    }

    #[test]
    fn set_and_map_of_strings() {
        let mut set_bytes = vec![0x92];
        set_bytes.extend(str_bytes("a"));
        set_bytes.extend(str_bytes("b"));
        let set = Value::set([Value::from("a"), Value::from("b")]);
        assert_eq!(
            decode_msgpack(&set_bytes, &Type::set(Type::String)),
            Ok(set.clone())
        );
        assert_eq!(
            encode_msgpack(&set, &Type::set(Type::String)),
            Ok(set_bytes)
        );

        let mut map_bytes = vec![0x82];
        for s in ["Env", "prod", "Name", "web"] {
            map_bytes.extend(str_bytes(s));
        }
        let map = Value::map([("Env", Value::from("prod")), ("Name", Value::from("web"))]);
        assert_eq!(
            decode_msgpack(&map_bytes, &Type::map(Type::String)),
            Ok(map.clone())
        );
        // Encoding writes keys sorted, so the bytes differ only in order.
        let encoded = encode_msgpack(&map, &Type::map(Type::String)).expect("encodes");
        assert_eq!(decode_msgpack(&encoded, &Type::map(Type::String)), Ok(map));
    }

    #[test]
    fn list_of_objects_as_nested_blocks() {
        let block = Type::object([("from", Type::Number), ("cidr", Type::String)]);
        let ty = Type::object([("rule", Type::list(block))]);
        let v = Value::object([(
            "rule",
            Value::list([
                Value::object([
                    ("from", Value::from(22)),
                    ("cidr", Value::from("10.0.0.0/8")),
                ]),
                Value::object([("from", Value::from(443)), ("cidr", Value::Null)]),
            ]),
        )]);
        let bytes = encode_msgpack(&v, &ty).expect("encodes");
        assert_eq!(decode_msgpack(&bytes, &ty), Ok(v));
    }

    #[test]
    fn object_encoding_writes_exactly_every_attribute() {
        let v = Value::object([("ami", Value::from("ami-1"))]);
        let bytes = encode_msgpack(&v, &obj_type()).expect("encodes");
        let raw = read_raw(&bytes).expect("valid msgpack");
        let Raw::Map(entries) = raw else {
            panic!("not a map");
        };
        let keys: Vec<_> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["ami", "count", "enabled"]);
        assert_eq!(entries[1].1, Raw::Nil);
        assert_eq!(entries[2].1, Raw::Nil);
        assert_eq!(bytes[0], 0x83);

        let extra = Value::object([("ami", Value::from("a")), ("bogus", Value::from(1))]);
        let err = encode_msgpack(&extra, &obj_type()).expect_err("bogus is undeclared");
        assert_eq!(
            err.kind(),
            &ValueErrorKind::UnsupportedAttribute("bogus".into())
        );
    }

    #[test]
    fn dynamic_encodes_with_its_inferred_type() {
        let bytes = encode_msgpack(&Value::from("hi"), &Type::Dynamic).expect("encodes");
        let mut expected = vec![0x92, 0xc4, 0x08];
        expected.extend(b"\"string\"");
        expected.extend([0xa2, b'h', b'i']);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn dynamic_round_trips_an_object() {
        let ty = Type::object([("id", Type::String), ("extra", Type::Dynamic)]);
        let v = Value::object([
            ("id", Value::from("i-1")),
            (
                "extra",
                Value::object([
                    ("ports", Value::list([Value::from(22), Value::from(443)])),
                    ("name", Value::from("x")),
                ]),
            ),
        ]);
        let bytes = encode_msgpack(&v, &ty).expect("encodes");
        assert_eq!(decode_msgpack(&bytes, &ty), Ok(v));
    }

    #[test]
    fn dynamic_from_the_wire_with_bin_or_str_type() {
        let type_json = br#"["list","number"]"#;
        let mut bin = vec![0x92, 0xc4, u8::try_from(type_json.len()).expect("short")];
        bin.extend(type_json);
        bin.extend([0x92, 0x01, 0x02]);
        let expected = Value::list([Value::from(1), Value::from(2)]);
        assert_eq!(decode_msgpack(&bin, &Type::Dynamic), Ok(expected.clone()));

        let mut str_form = vec![0x92];
        str_form.extend(str_bytes(r#"["list","number"]"#));
        str_form.extend([0x92, 0x01, 0x02]);
        assert_eq!(decode_msgpack(&str_form, &Type::Dynamic), Ok(expected));

        assert!(decode_msgpack(&[0x91, 0xc0], &Type::Dynamic).is_err());
    }

    #[test]
    fn decode_errors_carry_a_path() {
        let ty = Type::object([(
            "rule",
            Type::list(Type::object([("tags", Type::map(Type::Number))])),
        )]);
        // {"rule": [{"tags": {}}, {"tags": {"k": true}}]}
        let mut bytes = vec![0x81];
        bytes.extend(str_bytes("rule"));
        bytes.push(0x92);
        bytes.push(0x81);
        bytes.extend(str_bytes("tags"));
        bytes.push(0x80);
        bytes.push(0x81);
        bytes.extend(str_bytes("tags"));
        bytes.push(0x81);
        bytes.extend(str_bytes("k"));
        bytes.push(0xc3);
        let err = decode_msgpack(&bytes, &ty).expect_err("bool is no number");
        assert_eq!(err.path_string(), ".rule[1].tags[\"k\"]");
        assert_eq!(
            err.to_string(),
            "at .rule[1].tags[\"k\"]: number is required, found msgpack bool"
        );
    }

    #[test]
    fn decode_rejects_undeclared_attributes_and_bad_shapes() {
        let mut bytes = vec![0x81];
        bytes.extend(str_bytes("bogus"));
        bytes.push(0x01);
        let err = decode_msgpack(&bytes, &obj_type()).expect_err("undeclared");
        assert_eq!(
            err.kind(),
            &ValueErrorKind::UnsupportedAttribute("bogus".into())
        );

        assert!(decode_msgpack(&[0x01], &Type::String).is_err());
        assert!(decode_msgpack(&[0xa1, b'x'], &Type::Bool).is_err());
        assert!(decode_msgpack(&[0x91, 0x01], &Type::Tuple(vec![Type::Number; 2])).is_err());
        assert!(decode_msgpack(&[0x81, 0x01, 0x01], &Type::map(Type::Number)).is_err());
        assert!(decode_msgpack(&[0xc0, 0xc0], &Type::String).is_err());
        assert!(decode_msgpack(&[0x92, 0x01], &Type::list(Type::Number)).is_err());
        assert!(decode_msgpack(&[], &Type::String).is_err());
    }

    #[test]
    fn encode_rejects_values_of_the_wrong_shape() {
        assert!(encode_msgpack(&Value::from(1), &Type::String).is_err());
        let err = encode_msgpack(
            &Value::list([Value::from("a"), Value::from(2)]),
            &Type::list(Type::String),
        )
        .expect_err("2 is no string");
        assert_eq!(err.path_string(), "[1]");
    }
}
