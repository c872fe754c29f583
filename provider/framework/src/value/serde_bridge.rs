//! Typed Rust structs for resources: config, plan and state in and out of [`Value`]s via serde.
//!
//! Reading (`from_value`) is a real `serde::Deserializer` over `&Value`, so it sees unknowns and
//! can say where a field failed. Writing (`to_value`) goes through `serde_json::Value` and then
//! [`conform`]s the tree to the schema type: a struct can't tell whether its `Vec` is a list or a
//! set, but the schema can, and the JSON detour loses nothing a Terraform value can hold.

use std::collections::btree_map;
use std::slice;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::conform::conform;
use super::error::{AtPath, ValueError, ValueErrorKind};
use super::json::untyped_from_json;
use super::{Number, Type, Value};

/// Deserializes a typed struct from a value.
///
/// - Objects and maps feed structs and maps; lists, sets and tuples feed sequences.
/// - Null and absent attributes are both "missing": `Option` fields become `None`,
///   `#[serde(default)]` fields their default, other fields fail with "missing field".
/// - An unknown becomes `None` for an `Option` field (at plan time resources check unknownness on
///   the raw `Value`); anywhere else it fails with "value is not yet known".
/// - Numbers convert to any integer or float type that holds them, else fail.
/// - Enums read unit variants from strings (`#[serde(rename_all = "snake_case")]` works) and
///   other variants from a one-attribute object `{variant: content}`.
///
/// Errors carry the path to the failing field, e.g. `.rule[1].port`.
pub fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T, ValueError> {
    T::deserialize(ValueDeserializer(v))
}

/// Serializes a struct into a value of `ty`: sequences become the list, set or tuple the type
/// names, structs and maps become objects (attributes the struct lacks are `Null`; fields the type
/// lacks are an error) or maps, `None` becomes `Null`, integers beyond `i64` become decimals.
/// Primitives convert as [`conform`] does.
pub fn to_value<T: serde::Serialize>(v: &T, ty: &Type) -> Result<Value, ValueError> {
    let tree = serde_json::to_value(v)
        .map_err(|e| ValueError::new(ValueErrorKind::Custom(e.to_string())))?;
    conform(untyped_from_json(&tree)?, ty)
}

/// A `serde::Deserializer` borrowing the value, so `&str` fields can borrow too.
struct ValueDeserializer<'de>(&'de Value);

impl<'de> ValueDeserializer<'de> {
    fn number(&self, expected: &str) -> Result<&'de Number, ValueError> {
        match self.0 {
            Value::Number(n) => Ok(n),
            other => Err(ValueError::mismatch(expected, other)),
        }
    }

    fn integer<I: TryFrom<i128>>(&self, target: &'static str) -> Result<I, ValueError> {
        let n = self.number(target)?;
        n.as_i128()
            .and_then(|i| I::try_from(i).ok())
            .ok_or_else(|| out_of_range(n, target))
    }

    fn float(&self, target: &'static str) -> Result<f64, ValueError> {
        let n = self.number(target)?;
        n.as_f64().ok_or_else(|| out_of_range(n, target))
    }

    fn str(&self) -> Result<&'de str, ValueError> {
        match self.0 {
            Value::String(s) => Ok(s),
            other => Err(ValueError::mismatch("string", other)),
        }
    }
}

fn out_of_range(n: &Number, target: &'static str) -> ValueError {
    ValueError::new(ValueErrorKind::NumberOutOfRange {
        number: n.to_string(),
        target,
    })
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident($t:ty)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            visitor.$visit(self.integer::<$t>(stringify!($t))?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = ValueError;

    /// Self-describing targets (`serde_json::Value`, untagged enums) get the nearest Rust shape;
    /// a decimal goes as `u64` or `f64` when either holds it, else as its text.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Unknown(_) => Err(ValueError::new(ValueErrorKind::Unknown)),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(Number::Int(i)) => visitor.visit_i64(*i),
            Value::Number(Number::Float(f)) => visitor.visit_f64(*f),
            Value::Number(n @ Number::Decimal(text)) => match (n.as_u64(), n.as_f64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(f)) => visitor.visit_f64(f),
                (None, None) => visitor.visit_borrowed_str(text),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                visit_elements(items, visitor)
            }
            Value::Map(entries) | Value::Object(entries) => {
                visitor.visit_map(Entries::new(entries, self.0, false))
            }
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        // Narrowing to f32 rounds, as any f32 field would.
        visitor.visit_f32(self.float("f32")? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_f64(self.float("f64")?)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            other => Err(ValueError::mismatch("bool", other)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        let s = self.str()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(ValueError::mismatch_desc(
                "a single character",
                "a longer string",
            )),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_str(visitor)
    }

    /// Bytes come from a string's UTF-8, or from a list of small numbers.
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::String(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
            _ => self.deserialize_seq(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_bytes(visitor)
    }

    /// Null and unknown are both "no value yet" to an `Option`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Null | Value::Unknown(_) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            other => Err(ValueError::mismatch("null", other)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                visit_elements(items, visitor)
            }
            other => Err(ValueError::mismatch("list", other)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    /// Maps see every entry, null ones included: a map's null element is still an element.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Map(entries) | Value::Object(entries) => {
                visitor.visit_map(Entries::new(entries, self.0, false))
            }
            other => Err(ValueError::mismatch("map", other)),
        }
    }

    /// Structs don't see null attributes, so serde treats them as missing: `None` for `Option`,
    /// the default for `#[serde(default)]`, "missing field" otherwise — as for absent ones.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Map(entries) | Value::Object(entries) => {
                visitor.visit_map(Entries::new(entries, self.0, true))
            }
            other => Err(ValueError::mismatch("object", other)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(entries) | Value::Object(entries) if entries.len() == 1 => {
                let Some((name, content)) = entries.iter().next() else {
                    return Err(ValueError::mismatch("enum variant", self.0));
                };
                visitor.visit_enum(Variant { name, content }).at_attr(name)
            }
            other => Err(ValueError::mismatch(
                "a string or an object with one attribute (enum variant)",
                other,
            )),
        }
    }

    /// Ignored fields may be anything, unknown included.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_unit()
    }
}

/// Visits a sequence and insists the visitor took every element, so a tuple struct of two
/// fields doesn't silently drop a third value.
fn visit_elements<'de, V: Visitor<'de>>(
    items: &'de [Value],
    visitor: V,
) -> Result<V::Value, ValueError> {
    let mut elements = Elements {
        iter: items.iter().enumerate(),
    };
    let out = visitor.visit_seq(&mut elements)?;
    match elements.iter.len() {
        0 => Ok(out),
        left => Err(de::Error::invalid_length(
            items.len(),
            &format!("{} elements", items.len() - left).as_str(),
        )),
    }
}

struct Elements<'de> {
    iter: std::iter::Enumerate<slice::Iter<'de, Value>>,
}

impl<'de> SeqAccess<'de> for Elements<'de> {
    type Error = ValueError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ValueError> {
        match self.iter.next() {
            Some((i, item)) => seed
                .deserialize(ValueDeserializer(item))
                .map(Some)
                .at_index(i),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Entries of an object or map, optionally hiding nulls (for structs, see `deserialize_struct`).
struct Entries<'de> {
    iter: btree_map::Iter<'de, String, Value>,
    /// The value being read, to tell attribute paths (`.a`) from map-key paths (`["a"]`).
    is_object: bool,
    skip_nulls: bool,
    pending: Option<(&'de str, &'de Value)>,
}

impl<'de> Entries<'de> {
    fn new(
        entries: &'de std::collections::BTreeMap<String, Value>,
        owner: &Value,
        skip_nulls: bool,
    ) -> Self {
        Entries {
            iter: entries.iter(),
            is_object: matches!(owner, Value::Object(_)),
            skip_nulls,
            pending: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        let Some((key, item)) = self
            .iter
            .by_ref()
            .find(|(_, item)| !(self.skip_nulls && item.is_null()))
        else {
            return Ok(None);
        };
        self.pending = Some((key, item));
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        let Some((key, item)) = self.pending.take() else {
            return Err(de::Error::custom(
                "a map value was requested before its key",
            ));
        };
        let result = seed.deserialize(ValueDeserializer(item));
        if self.is_object {
            result.at_attr(key)
        } else {
            result.at_key(key)
        }
    }
}

/// An externally tagged enum variant: `{name: content}`.
struct Variant<'de> {
    name: &'de str,
    content: &'de Value,
}

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = ValueError;
    type Variant = ValueDeserializer<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), ValueError> {
        let tag = seed.deserialize(BorrowedStrDeserializer::new(self.name))?;
        Ok((tag, ValueDeserializer(self.content)))
    }
}

impl<'de> VariantAccess<'de> for ValueDeserializer<'de> {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Communicator {
        Ssm,
        Ssh,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Rule {
        port: u16,
        cidr: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Config<'a> {
        name: String,
        label: &'a str,
        description: Option<String>,
        instance_count: Option<i64>,
        subnet: Option<String>,
        ratio: f64,
        tags: BTreeMap<String, String>,
        zones: Vec<String>,
        rule: Vec<Rule>,
        communicator: Communicator,
        #[serde(default)]
        extra_args: Vec<String>,
        enabled: bool,
    }

    fn config_value() -> Value {
        Value::object([
            ("name", Value::from("web")),
            ("label", Value::from("lbl")),
            ("description", Value::Null),
            ("subnet", Value::unknown()),
            ("ratio", Value::Number(Number::Decimal("0.1".into()))),
            ("tags", Value::map([("Env", Value::from("prod"))])),
            ("zones", Value::set([Value::from("a"), Value::from("b")])),
            (
                "rule",
                Value::list([
                    Value::object([
                        ("port", Value::from(22)),
                        ("cidr", Value::from("10.0.0.0/8")),
                    ]),
                    Value::object([("port", Value::from(443)), ("cidr", Value::Null)]),
                ]),
            ),
            ("communicator", Value::from("ssm")),
            ("extra_args", Value::Null),
            ("enabled", Value::from(true)),
            ("ignored_attr", Value::unknown()),
        ])
    }

    #[test]
    fn from_value_fills_a_typed_struct() {
        let v = config_value();
        let config: Config<'_> = from_value_borrowed(&v).expect("deserializes");
        assert_eq!(
            config,
            Config {
                name: "web".into(),
                label: "lbl",
                description: None,
                instance_count: None,
                subnet: None,
                ratio: 0.1,
                tags: BTreeMap::from([("Env".into(), "prod".into())]),
                zones: vec!["a".into(), "b".into()],
                rule: vec![
                    Rule {
                        port: 22,
                        cidr: Some("10.0.0.0/8".into())
                    },
                    Rule {
                        port: 443,
                        cidr: None
                    },
                ],
                communicator: Communicator::Ssm,
                extra_args: vec![],
                enabled: true,
            }
        );
    }

    /// `from_value` wants owned targets; borrowing works with the deserializer directly.
    fn from_value_borrowed<'de, T: de::Deserialize<'de>>(v: &'de Value) -> Result<T, ValueError> {
        T::deserialize(ValueDeserializer(v))
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Owned {
        name: String,
        count: Option<u8>,
        communicator: Option<Communicator>,
    }

    #[test]
    fn errors_say_where_and_why() {
        let unknown = Value::object([("name", Value::unknown())]);
        let err = from_value::<Owned>(&unknown).expect_err("unknown name");
        assert_eq!(err.to_string(), "at .name: value is not yet known");

        let big = Value::object([("name", Value::from("n")), ("count", Value::from(300))]);
        let err = from_value::<Owned>(&big).expect_err("300 is no u8");
        assert_eq!(err.to_string(), "at .count: number 300 does not fit in u8");

        let fractional = Value::object([("name", Value::from("n")), ("count", Value::from(1.5))]);
        assert!(from_value::<Owned>(&fractional).is_err());

        let missing = Value::object([("name", Value::Null)]);
        let err = from_value::<Owned>(&missing).expect_err("name is required");
        assert_eq!(err.to_string(), "missing field `name`");

        let bad_enum = Value::object([
            ("name", Value::from("n")),
            ("communicator", Value::from("rdp")),
        ]);
        let err = from_value::<Owned>(&bad_enum).expect_err("rdp is no variant");
        assert_eq!(err.path_string(), ".communicator");

        let rules = Value::list([Value::object([("port", Value::from("x"))])]);
        let err = from_value::<Vec<Rule>>(&rules).expect_err("x is no port");
        assert_eq!(
            err.to_string(),
            "at [0].port: u16 is required, found string"
        );
    }

    #[test]
    fn numbers_convert_to_any_type_that_holds_them() {
        assert_eq!(
            from_value::<u64>(&Value::Number(Number::Decimal(
                "18446744073709551615".into()
            ))),
            Ok(u64::MAX)
        );
        assert_eq!(from_value::<i8>(&Value::from(3.0)), Ok(3));
        assert_eq!(from_value::<f32>(&Value::from(2)), Ok(2.0));
        assert!(from_value::<u32>(&Value::from(-1)).is_err());
        assert!(from_value::<f64>(&Value::Number(Number::Decimal("1e400".into()))).is_err());
    }

    #[test]
    fn maps_keep_null_entries_and_any_sees_everything() {
        let v = Value::map([("a", Value::Null), ("b", Value::from("x"))]);
        let m: BTreeMap<String, Option<String>> = from_value(&v).expect("map");
        assert_eq!(
            m,
            BTreeMap::from([("a".into(), None), ("b".into(), Some("x".into()))])
        );

        let v = Value::object([
            ("n", Value::Null),
            (
                "l",
                Value::list([
                    Value::from(1),
                    Value::from(1.5),
                    Value::Number(Number::Decimal("0.1".into())),
                ]),
            ),
        ]);
        let j: serde_json::Value = from_value(&v).expect("any");
        assert_eq!(j, serde_json::json!({"n": null, "l": [1, 1.5, 0.1]}));
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Source {
        Latest,
        Ami(String),
        Filter { name: String },
    }

    #[test]
    fn enums_from_strings_and_single_attribute_objects() {
        assert_eq!(
            from_value::<Source>(&Value::from("latest")),
            Ok(Source::Latest)
        );
        assert_eq!(
            from_value::<Source>(&Value::object([("ami", Value::from("ami-1"))])),
            Ok(Source::Ami("ami-1".into()))
        );
        let filter = Value::object([("filter", Value::object([("name", Value::from("x"))]))]);
        assert_eq!(
            from_value::<Source>(&filter),
            Ok(Source::Filter { name: "x".into() })
        );
        let err = from_value::<Source>(&Value::object([("ami", Value::from(5))])).expect_err("5");
        assert_eq!(err.path_string(), ".ami");
    }

    #[test]
    fn tuples_must_be_consumed_whole() {
        let v = Value::list([Value::from(1), Value::from(2), Value::from(3)]);
        assert!(from_value::<(i64, i64)>(&v).is_err());
        assert_eq!(from_value::<(i64, i64, i64)>(&v), Ok((1, 2, 3)));
    }

    #[derive(Serialize)]
    struct State {
        id: String,
        zones: Vec<String>,
        ports: Vec<u16>,
        note: Option<String>,
        big: u64,
        ratio: f64,
        rule: Vec<OutRule>,
    }

    #[derive(Serialize)]
    struct OutRule {
        port: u16,
    }

    fn state() -> State {
        State {
            id: "i-1".into(),
            zones: vec!["a".into()],
            ports: vec![22],
            note: None,
            big: u64::MAX,
            ratio: 0.5,
            rule: vec![OutRule { port: 80 }],
        }
    }

    fn state_type(zones: Type) -> Type {
        Type::object([
            ("id", Type::String),
            ("zones", zones),
            ("ports", Type::set(Type::Number)),
            ("note", Type::String),
            ("big", Type::Number),
            ("ratio", Type::Number),
            (
                "rule",
                Type::list(Type::object([
                    ("port", Type::Number),
                    ("cidr", Type::String),
                ])),
            ),
            ("computed", Type::String),
        ])
    }

    #[test]
    fn to_value_follows_the_schema_type() {
        let as_list = to_value(&state(), &state_type(Type::list(Type::String))).expect("list");
        assert_eq!(as_list.get("zones"), &Value::list([Value::from("a")]));
        let as_set = to_value(&state(), &state_type(Type::set(Type::String))).expect("set");
        assert_eq!(as_set.get("zones"), &Value::set([Value::from("a")]));
        assert!(matches!(as_set.get("zones"), Value::Set(_)));
        assert!(matches!(as_list.get("zones"), Value::List(_)));

        let expected = Value::object([
            ("id", Value::from("i-1")),
            ("zones", Value::set([Value::from("a")])),
            ("ports", Value::set([Value::from(22)])),
            ("note", Value::Null),
            (
                "big",
                Value::Number(Number::Decimal("18446744073709551615".into())),
            ),
            ("ratio", Value::from(0.5)),
            (
                "rule",
                Value::list([Value::object([
                    ("port", Value::from(80)),
                    ("cidr", Value::Null),
                ])]),
            ),
            ("computed", Value::Null),
        ]);
        assert_eq!(as_set, expected);
        assert!(matches!(
            as_set.get("big"),
            Value::Number(Number::Decimal(_))
        ));
    }

    #[test]
    fn to_value_rejects_fields_the_type_lacks() {
        let ty = Type::object([("id", Type::String)]);
        let err = to_value(&state(), &ty).expect_err("zones is undeclared");
        assert!(matches!(
            err.kind(),
            ValueErrorKind::UnsupportedAttribute(_)
        ));
    }

    #[test]
    fn to_value_then_msgpack_writes_every_attribute() {
        let ty = state_type(Type::set(Type::String));
        let v = to_value(&state(), &ty).expect("value");
        let bytes = super::super::encode_msgpack(&v, &ty).expect("msgpack");
        assert_eq!(bytes[0], 0x88, "fixmap of 8 attributes");
        assert_eq!(super::super::decode_msgpack(&bytes, &ty), Ok(v));
    }
}
