//! Plan-time conventions every resource shares: schema defaults are filled in, and computed
//! attributes nobody knows yet are marked unknown on create.

use std::collections::BTreeMap;

use super::diag::AttrPath;
use super::schema::{Block, Mode, Nesting};
use super::value::{self, Type, UnknownAttrs, Value};

/// Fills attributes left null in the configuration with their schema default, recursively
/// through nested blocks, so the plan and the state show the value that will be used.
pub fn fill_defaults(block: &Block, v: Value) -> Value {
    let Value::Object(mut fields) = v else {
        return v;
    };
    for a in &block.attributes {
        if let (Some(default), Some(slot)) = (&a.default, fields.get_mut(&a.name)) {
            if slot.is_null() {
                *slot = parse_default(default, &a.ty);
            }
        }
    }
    for nb in &block.blocks {
        if let Some(slot) = fields.get_mut(&nb.name) {
            *slot = match std::mem::replace(slot, Value::Null) {
                Value::List(items) => Value::List(
                    items
                        .into_iter()
                        .map(|i| fill_defaults(&nb.block, i))
                        .collect(),
                ),
                Value::Set(items) => Value::Set(
                    items
                        .into_iter()
                        .map(|i| fill_defaults(&nb.block, i))
                        .collect(),
                ),
                other => fill_defaults(&nb.block, other),
            };
        }
    }
    Value::Object(fields)
}

/// A default applies whenever the configuration leaves the attribute null — also when the prior
/// state holds another value. Terraform proposes the prior value for an optional+computed
/// attribute the configuration dropped, so without this, removing `instance_type = "t3.large"`
/// would keep `t3.large` instead of returning to the documented default. Nested list and single
/// blocks are matched to the configuration by position; set blocks have no stable position and
/// keep [`fill_defaults`]'s null-only rule.
pub fn defaults_where_config_is_null(block: &Block, proposed: Value, config: &Value) -> Value {
    let Value::Object(mut fields) = proposed else {
        return proposed;
    };
    for a in &block.attributes {
        if let (Some(default), Some(slot)) = (&a.default, fields.get_mut(&a.name)) {
            if config.get(&a.name).is_null() {
                *slot = parse_default(default, &a.ty);
            }
        }
    }
    for nb in &block.blocks {
        if nb.nesting == Nesting::Set {
            continue;
        }
        let configured = config.get(&nb.name);
        if let Some(slot) = fields.get_mut(&nb.name) {
            *slot = match std::mem::replace(slot, Value::Null) {
                Value::List(items) => Value::List(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| {
                            let c = configured
                                .as_elements()
                                .and_then(|l| l.get(i))
                                .cloned()
                                .unwrap_or(Value::Null);
                            defaults_where_config_is_null(&nb.block, item, &c)
                        })
                        .collect(),
                ),
                other @ Value::Object(_) => {
                    defaults_where_config_is_null(&nb.block, other, configured)
                }
                other => other,
            };
        }
    }
    Value::Object(fields)
}

/// Write-only attributes are null in every plan and state the provider returns, at any depth:
/// Terraform rejects anything else, and the point is that the secret is never stored.
pub fn null_write_only(block: &Block, v: Value) -> Value {
    let Value::Object(mut fields) = v else {
        return v;
    };
    for a in block.attributes.iter().filter(|a| a.write_only) {
        if let Some(slot) = fields.get_mut(&a.name) {
            *slot = Value::Null;
        }
    }
    for nb in &block.blocks {
        if let Some(slot) = fields.get_mut(&nb.name) {
            *slot = match std::mem::replace(slot, Value::Null) {
                Value::List(items) => Value::List(
                    items
                        .into_iter()
                        .map(|i| null_write_only(&nb.block, i))
                        .collect(),
                ),
                Value::Set(items) => Value::Set(
                    items
                        .into_iter()
                        .map(|i| null_write_only(&nb.block, i))
                        .collect(),
                ),
                other => null_write_only(&nb.block, other),
            };
        }
    }
    Value::Object(fields)
}

/// Where the configuration sets a write-only attribute, for refusing it on a Terraform that
/// cannot send write-only values (before 1.11 it would plan them as stored values and then reject
/// the provider's null).
pub fn write_only_set(block: &Block, v: &Value) -> Vec<AttrPath> {
    let mut out = Vec::new();
    for a in block.attributes.iter().filter(|a| a.write_only) {
        if !v.get(&a.name).is_null() {
            out.push(AttrPath::root(&a.name));
        }
    }
    for nb in &block.blocks {
        for (i, item) in v
            .get(&nb.name)
            .as_elements()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            for inner in write_only_set(&nb.block, item) {
                let mut p = AttrPath::root(&nb.name).index(i as i64);
                p.0.extend(inner.0);
                out.push(p);
            }
        }
    }
    out
}

/// Schema defaults are written as they would appear in docs: plain text for strings, JSON for
/// everything else. They are constants of this crate, so a bad one is a programming error.
pub fn parse_default(text: &str, ty: &Type) -> Value {
    match ty {
        Type::String => Value::String(text.to_string()),
        _ => value::decode_json(text.as_bytes(), ty, UnknownAttrs::Error)
            .unwrap_or_else(|e| panic!("schema default {text:?} does not fit {ty:?}: {e}")),
    }
}

/// On create, computed-only attributes are not known until apply.
pub fn unknown_computed(block: &Block, v: Value) -> Value {
    let Value::Object(mut fields) = v else {
        return v;
    };
    for a in &block.attributes {
        if a.mode == Mode::Computed {
            if let Some(slot) = fields.get_mut(&a.name) {
                if slot.is_null() {
                    *slot = Value::Unknown(Default::default());
                }
            }
        }
    }
    Value::Object(fields)
}

/// Builds an object value with every attribute of `block` present (null unless given).
pub fn object(block: &Block, given: BTreeMap<String, Value>) -> Value {
    let mut fields: BTreeMap<String, Value> = BTreeMap::new();
    for a in &block.attributes {
        fields.insert(a.name.clone(), Value::Null);
    }
    for nb in &block.blocks {
        fields.insert(nb.name.clone(), Value::List(vec![]));
    }
    fields.extend(given);
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{string, Attribute, Block, NestedBlock};

    fn block() -> Block {
        Block::new("")
            .attr(Attribute::defaulted("kind", string(), "ssm", ""))
            .attr(Attribute::computed("id", string(), ""))
            .block(NestedBlock::single(
                "filter",
                Block::new("").attr(Attribute::defaulted("most_recent", Type::Bool, "true", "")),
            ))
    }

    #[test]
    fn defaults_fill_nulls_only_and_reach_nested_blocks() {
        let mut f = BTreeMap::new();
        f.insert("kind".to_string(), Value::Null);
        f.insert("id".to_string(), Value::Null);
        let mut inner = BTreeMap::new();
        inner.insert("most_recent".to_string(), Value::Null);
        f.insert(
            "filter".to_string(),
            Value::List(vec![Value::Object(inner)]),
        );
        let v = fill_defaults(&block(), Value::Object(f));
        assert_eq!(v.get("kind"), &Value::String("ssm".into()));
        let Value::List(items) = v.get("filter") else {
            panic!("list")
        };
        assert_eq!(items[0].get("most_recent"), &Value::Bool(true));

        let mut f = BTreeMap::new();
        f.insert("kind".to_string(), Value::String("ssh".into()));
        let v = fill_defaults(&block(), Value::Object(f));
        assert_eq!(v.get("kind"), &Value::String("ssh".into()));
    }

    #[test]
    fn a_default_returns_when_the_configuration_drops_the_attribute() {
        // The prior state had kind = "ssh"; the configuration no longer sets it, so Terraform
        // proposes "ssh" again. The default must win.
        let mut inner = BTreeMap::new();
        inner.insert("most_recent".to_string(), Value::Bool(false));
        let proposed = Value::object([
            ("kind", Value::String("ssh".into())),
            ("id", Value::String("x".into())),
            ("filter", Value::List(vec![Value::Object(inner)])),
        ]);
        let config = Value::object([
            ("kind", Value::Null),
            ("id", Value::Null),
            (
                "filter",
                Value::List(vec![Value::object([("most_recent", Value::Null)])]),
            ),
        ]);
        let v = defaults_where_config_is_null(&block(), proposed.clone(), &config);
        assert_eq!(v.get("kind"), &Value::String("ssm".into()));
        assert_eq!(v.get("id"), &Value::String("x".into()), "no default: kept");
        let Value::List(items) = v.get("filter") else {
            panic!("list")
        };
        assert_eq!(items[0].get("most_recent"), &Value::Bool(true));
        // A configured value stays, an unknown one too.
        let config = Value::object([("kind", Value::unknown())]);
        let v = defaults_where_config_is_null(&block(), proposed, &config);
        assert_eq!(v.get("kind"), &Value::String("ssh".into()));
    }

    #[test]
    fn write_only_attributes_are_nulled_in_nested_blocks_too() {
        let b = Block::new("")
            .attr(Attribute::optional("key", string(), "").write_only())
            .block(NestedBlock::single(
                "jump",
                Block::new("")
                    .attr(Attribute::optional("key", string(), "").write_only())
                    .attr(Attribute::optional("host", string(), "")),
            ));
        let v = Value::object([
            ("key", Value::String("secret".into())),
            (
                "jump",
                Value::List(vec![Value::object([
                    ("key", Value::String("secret".into())),
                    ("host", Value::String("h".into())),
                ])]),
            ),
        ]);
        let v = null_write_only(&b, v);
        assert!(v.get("key").is_null());
        let Value::List(items) = v.get("jump") else {
            panic!("list")
        };
        assert!(items[0].get("key").is_null());
        assert_eq!(items[0].get("host"), &Value::String("h".into()));
    }

    #[test]
    fn computed_only_attributes_become_unknown() {
        let v = unknown_computed(&block(), object(&block(), BTreeMap::new()));
        assert!(v.get("id").is_unknown());
        assert!(v.get("kind").is_null());
    }
}
