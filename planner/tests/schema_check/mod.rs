//! A small JSON Schema checker for `planner/preview.schema.json`: the keywords that schema uses
//! (`$ref` to `#/...`, `type`, `const`, `enum`, `required`, `properties`, `additionalProperties`,
//! `items`, `oneOf`, `anyOf`, `minimum`) and nothing else. [`check_keywords`] fails on any other
//! keyword, so the schema cannot grow a rule this checker would silently skip.
//!
//! Shared by the planner's tests and the end-to-end tests (`#[path]`-included there).

#![allow(dead_code)]

use serde_json::Value;

/// The schema file, parsed.
pub fn schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../planner/preview.schema.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Errors of `instance` against the schema at `pointer` (`""` for the whole schema, or e.g.
/// `/$defs/release_preview`), each with the JSON pointer of the offending value.
pub fn validate(root: &Value, pointer: &str, instance: &Value) -> Vec<String> {
    let schema = resolve(root, pointer);
    let mut errors = Vec::new();
    check(root, schema, instance, "", &mut errors);
    errors
}

/// Panics with every error when `instance` does not conform.
#[track_caller]
pub fn assert_valid(root: &Value, pointer: &str, instance: &Value) {
    let errors = validate(root, pointer, instance);
    assert!(
        errors.is_empty(),
        "not valid against preview.schema.json#{pointer}:\n  {}",
        errors.join("\n  ")
    );
}

const KNOWN: [&str; 17] = [
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "oneOf",
    "anyOf",
    "minimum",
    "default",
];

/// Every keyword of every schema object is one this checker implements (or an annotation).
pub fn check_keywords(root: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    walk_keywords(root, "", &mut bad);
    bad
}

fn walk_keywords(schema: &Value, at: &str, bad: &mut Vec<String>) {
    let Value::Object(map) = schema else { return };
    for (k, v) in map {
        let here = format!("{at}/{k}");
        match k.as_str() {
            // Maps of name → schema.
            "$defs" | "properties" => {
                if let Value::Object(children) = v {
                    for (name, child) in children {
                        // `$defs/resource_fields` groups shared property schemas.
                        if name == "resource_fields" {
                            if let Value::Object(fields) = child {
                                for (f, s) in fields {
                                    walk_keywords(s, &format!("{here}/{name}/{f}"), bad);
                                }
                            }
                            continue;
                        }
                        walk_keywords(child, &format!("{here}/{name}"), bad);
                    }
                }
            }
            "items" | "additionalProperties" => walk_keywords(v, &here, bad),
            "oneOf" | "anyOf" => {
                for (i, s) in v.as_array().into_iter().flatten().enumerate() {
                    walk_keywords(s, &format!("{here}/{i}"), bad);
                }
            }
            k if KNOWN.contains(&k) => {}
            _ => bad.push(here),
        }
    }
}

fn resolve<'a>(root: &'a Value, pointer: &str) -> &'a Value {
    root.pointer(pointer)
        .unwrap_or_else(|| panic!("the schema has nothing at #{pointer}"))
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown type {other:?} in the schema"),
    }
}

fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Value::Object(s) = schema else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{at}: not allowed"));
        }
        return;
    };
    if let Some(Value::String(r)) = s.get("$ref") {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $ref is supported: {r}"));
        check(root, resolve(root, pointer), v, at, errors);
    }
    match s.get("type") {
        Some(Value::String(t)) if !type_matches(t, v) => {
            errors.push(format!("{at}: expected {t}, got {v}"))
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .any(|t| type_matches(t.as_str().unwrap_or_default(), v)) =>
        {
            errors.push(format!(
                "{at}: expected one of {}, got {v}",
                Value::Array(ts.clone())
            ))
        }
        _ => {}
    }
    if let Some(c) = s.get("const") {
        if c != v {
            errors.push(format!("{at}: expected {c}, got {v}"));
        }
    }
    if let Some(Value::Array(options)) = s.get("enum") {
        if !options.contains(v) {
            errors.push(format!(
                "{at}: {v} is not one of {}",
                Value::Array(options.clone())
            ));
        }
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} is below the minimum {min}"));
        }
    }
    if let Value::Object(obj) = v {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or_default();
            if !obj.contains_key(r) {
                errors.push(format!("{at}: missing required property {r:?}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, child) in obj {
            let here = format!("{at}/{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, child, &here, errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{here}: property not in the schema"))
                    }
                    Some(extra @ Value::Object(_)) => check(root, extra, child, &here, errors),
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, s.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(root, item_schema, item, &format!("{at}/{i}"), errors);
        }
    }
    if let Some(Value::Array(options)) = s.get("oneOf") {
        let passing: Vec<Vec<String>> = options
            .iter()
            .map(|o| {
                let mut e = Vec::new();
                check(root, o, v, at, &mut e);
                e
            })
            .collect();
        let ok = passing.iter().filter(|e| e.is_empty()).count();
        if ok != 1 {
            errors.push(format!(
                "{at}: matches {ok} of the oneOf options (exactly 1 expected): {passing:?}"
            ));
        }
    }
    if let Some(Value::Array(options)) = s.get("anyOf") {
        let any = options.iter().any(|o| {
            let mut e = Vec::new();
            check(root, o, v, at, &mut e);
            e.is_empty()
        });
        if !any {
            errors.push(format!("{at}: matches none of the anyOf options"));
        }
    }
}
