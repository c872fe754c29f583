//! Reading `terraform show -json PLANFILE`: only what the preview needs, typed.
//!
//! The format is Terraform's (internal/command/jsonplan): `format_version` "1.x", and
//! `resource_changes[]` with `address`, `module_address`, `mode`, `type`, `name`, `index`,
//! `provider_name`, `deposed`, `change {actions, before, after, after_unknown, replace_paths}` and
//! `action_reason`. Unknown values are left out of `after` and marked `true` in `after_unknown`.
//!
//! A plan can be tens of megabytes of other providers' resources. The file is parsed once;
//! every resource's `change` is kept as an unparsed slice of the input ([`RawValue`]) and only
//! ours are decoded, so the cost is one scan of the bytes.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The resource types this planner previews.
pub const IMAGE_TYPE: &str = "immutable_image";
pub const RELEASE_TYPE: &str = "rolling_asg_release";

/// The plan, borrowed from the input text.
#[derive(Deserialize)]
pub struct Plan<'a> {
    #[serde(default)]
    pub format_version: Option<String>,
    #[serde(default)]
    pub terraform_version: Option<String>,
    #[serde(default, borrow)]
    pub resource_changes: Vec<ResourceChange<'a>>,
    #[serde(default, borrow)]
    pub configuration: Option<Configuration<'a>>,
    /// Present in every plan (and absent from a state), so it tells the two apart.
    #[serde(default)]
    planned_values: Option<IgnoredAny>,
    /// Present in a state (`terraform show -json` without a plan file).
    #[serde(default)]
    values: Option<IgnoredAny>,
    #[serde(default)]
    pub errored: bool,
}

#[derive(Deserialize)]
pub struct ResourceChange<'a> {
    pub address: String,
    #[serde(default)]
    pub module_address: Option<String>,
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub index: Option<Value>,
    #[serde(default)]
    pub provider_name: String,
    #[serde(default)]
    pub deposed: Option<String>,
    #[serde(borrow)]
    pub change: &'a RawValue,
    #[serde(default)]
    pub action_reason: Option<String>,
}

/// The decoded `change` of one of our resources.
#[derive(Debug, Deserialize)]
pub struct Change {
    pub actions: Vec<String>,
    #[serde(default)]
    pub before: Option<Map<String, Value>>,
    #[serde(default)]
    pub after: Option<Map<String, Value>>,
    #[serde(default)]
    pub after_unknown: Option<Value>,
    #[serde(default)]
    pub replace_paths: Option<Vec<Vec<Value>>>,
    #[serde(default)]
    pub before_sensitive: Option<Value>,
    #[serde(default)]
    pub after_sensitive: Option<Value>,
}

#[derive(Deserialize)]
pub struct Configuration<'a> {
    #[serde(default, borrow)]
    pub root_module: Option<ConfigModule<'a>>,
}

#[derive(Deserialize)]
pub struct ConfigModule<'a> {
    #[serde(default, borrow)]
    pub resources: Vec<ConfigResource<'a>>,
    #[serde(default, borrow)]
    pub module_calls: BTreeMap<String, ModuleCall<'a>>,
}

#[derive(Deserialize)]
pub struct ModuleCall<'a> {
    #[serde(default, borrow)]
    pub module: Option<ConfigModule<'a>>,
}

#[derive(Deserialize)]
pub struct ConfigResource<'a> {
    /// Relative to its module: `rolling_asg_release.web`.
    pub address: String,
    #[serde(default, borrow)]
    pub expressions: Option<&'a RawValue>,
}

/// What Terraform will do to one resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    /// Delete then create, or create then delete (`create_before_destroy`).
    Replace,
    Delete,
    /// Removed from the state, the object left alone (`removed { lifecycle { destroy = false } }`).
    Forget,
}

impl Action {
    pub fn from_actions(actions: &[String]) -> Result<Action, String> {
        let a: Vec<&str> = actions.iter().map(String::as_str).collect();
        Ok(match a.as_slice() {
            ["no-op"] => Action::NoOp,
            ["create"] => Action::Create,
            ["read"] => Action::Read,
            ["update"] => Action::Update,
            ["delete", "create"] | ["create", "delete"] | ["create", "forget"] => Action::Replace,
            ["delete"] => Action::Delete,
            ["forget"] => Action::Forget,
            other => return Err(format!("unknown change actions {other:?}")),
        })
    }

    /// Anything but no-op (and reads, which change nothing).
    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp | Action::Read)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Forget => "forget",
        }
    }

    /// Terraform's own marks: `+`, `~`, `-/+`, `-`.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Read => "<=",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Forget => ".",
        }
    }
}

/// Parses and checks the plan. Every error is one line, saying what the input looks like and
/// what was expected.
pub fn parse(text: &str) -> Result<Plan<'_>, String> {
    // A cheap look at the top level first, so a non-plan gets a message about what it is
    // rather than a field-level parse error.
    let plan: Plan<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            format!("the plan JSON ends early ({e}): is the file truncated? Produce it with `terraform show -json PLANFILE > plan.json`")
        } else if e.is_syntax() {
            format!("the input is not valid JSON ({e}): expected the output of `terraform show -json PLANFILE`")
        } else {
            format!("the input is not a Terraform plan in JSON ({e}): expected the output of `terraform show -json PLANFILE`")
        }
    })?;
    let Some(version) = plan.format_version.as_deref() else {
        return Err("the JSON has no \"format_version\": it is not a Terraform plan; produce one with `terraform show -json PLANFILE`".into());
    };
    let major = version.split('.').next().unwrap_or_default();
    if major != "1" || version.split('.').any(|p| p.parse::<u32>().is_err()) {
        return Err(format!("plan format_version {version:?} is not supported: this planner reads Terraform's JSON plan format 1.x"));
    }
    if plan.planned_values.is_none() && plan.resource_changes.is_empty() {
        if plan.values.is_some() {
            return Err("this is a Terraform state, not a plan: run `terraform plan -out=tfplan` and `terraform show -json tfplan`".into());
        }
        return Err("the JSON has no \"planned_values\" or \"resource_changes\": it is not the output of `terraform show -json PLANFILE`".into());
    }
    Ok(plan)
}

impl ResourceChange<'_> {
    pub fn is_ours(&self) -> bool {
        self.mode == "managed" && (self.type_ == IMAGE_TYPE || self.type_ == RELEASE_TYPE)
    }

    pub fn decode(&self) -> Result<Change, String> {
        serde_json::from_str(self.change.get())
            .map_err(|e| format!("{}: the change cannot be read ({e})", self.address))
    }
}

impl Change {
    /// A string attribute before the change (None when null or absent).
    pub fn before_str(&self, attr: &str) -> Option<String> {
        str_of(self.before.as_ref()?.get(attr)?)
    }

    /// A string attribute after the change (None when null, absent or unknown).
    pub fn after_str(&self, attr: &str) -> Option<String> {
        str_of(self.after.as_ref()?.get(attr)?)
    }

    pub fn after_value(&self, attr: &str) -> Option<&Value> {
        self.after.as_ref()?.get(attr).filter(|v| !v.is_null())
    }

    pub fn before_value(&self, attr: &str) -> Option<&Value> {
        self.before.as_ref()?.get(attr).filter(|v| !v.is_null())
    }

    /// True when Terraform hides the attribute (or part of it) as sensitive, before or after.
    pub fn sensitive(&self, attr: &str) -> bool {
        let marked = |v: &Option<Value>| {
            v.as_ref()
                .and_then(|s| s.get(attr))
                .is_some_and(|m| m != &Value::Bool(false) && !is_empty_marks(m))
        };
        marked(&self.before_sensitive) || marked(&self.after_sensitive)
    }

    /// True when the attribute's value is only known after apply.
    pub fn unknown(&self, attr: &str) -> bool {
        matches!(
            self.after_unknown.as_ref().and_then(|u| u.get(attr)),
            Some(Value::Bool(true))
        )
    }
}

/// `{}` / `[]` / `[false, {}]`: a structure with no sensitive leaf.
fn is_empty_marks(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Array(a) => a.iter().all(is_empty_marks),
        Value::Object(o) => o.values().all(is_empty_marks),
        _ => true,
    }
}

/// Strings as they are; numbers and booleans as Terraform would print them.
fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Configuration<'a> {
    /// The configuration of the module a resource instance lives in: `module.a["x"].module.b`
    /// → root_module.module_calls.a.module.module_calls.b.module (instance keys dropped).
    pub fn module(&self, module_address: Option<&str>) -> Option<&ConfigModule<'a>> {
        let mut m = self.root_module.as_ref()?;
        for name in module_names(module_address.unwrap_or_default()) {
            m = m.module_calls.get(name)?.module.as_ref()?;
        }
        Some(m)
    }
}

impl ConfigModule<'_> {
    /// References of one argument of a resource (`expressions.<attr>.references`), e.g.
    /// `["immutable_image.web.id", "immutable_image.web"]`.
    pub fn references(&self, resource: &str, attr: &str) -> Vec<String> {
        #[derive(Deserialize)]
        struct Expr {
            #[serde(default)]
            references: Vec<String>,
        }
        let Some(raw) = self
            .resources
            .iter()
            .find(|r| r.address == resource)
            .and_then(|r| r.expressions)
        else {
            return Vec::new();
        };
        let Ok(Value::Object(exprs)) = serde_json::from_str::<Value>(raw.get()) else {
            return Vec::new();
        };
        exprs
            .get(attr)
            .cloned()
            .and_then(|e| serde_json::from_value::<Expr>(e).ok())
            .map(|e| e.references)
            .unwrap_or_default()
    }
}

/// Module call names of a module instance address, keys dropped:
/// `module.app["eu.west"].module.db[0]` → `["app", "db"]`.
pub fn module_names(address: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = address;
    while let Some(after) = rest.strip_prefix("module.") {
        let end = after.find(['.', '[']).unwrap_or(after.len());
        names.push(&after[..end]);
        rest = &after[end..];
        if rest.starts_with('[') {
            rest = skip_key(rest);
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    names
}

/// Skips an instance key `[0]` or `["a]b"]` (quotes may hold brackets and escaped quotes).
fn skip_key(s: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ']' if !in_string => return &s[i + 1..],
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_drop_keys() {
        assert_eq!(module_names(""), Vec::<&str>::new());
        assert_eq!(module_names("module.app"), ["app"]);
        assert_eq!(
            module_names(r#"module.app["eu.west]"].module.db[0]"#),
            ["app", "db"]
        );
        assert_eq!(module_names(r#"module.a["x\"]"].module.b"#), ["a", "b"]);
    }

    #[test]
    fn actions() {
        let a =
            |v: &[&str]| Action::from_actions(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&["delete", "create"]), Ok(Action::Replace));
        assert_eq!(a(&["create", "delete"]), Ok(Action::Replace));
        assert_eq!(a(&["no-op"]), Ok(Action::NoOp));
        assert!(a(&["explode"]).is_err());
    }

    #[test]
    fn rejects_what_is_not_a_plan() {
        let err = |s: &str| parse(s).err().unwrap();
        assert!(err(r#"{"format_version":"1.2","resource_"#).contains("truncated"));
        assert!(err("[1,2]").contains("not a Terraform plan"));
        assert!(err(r#"{"hello":"world"}"#).contains("no \"format_version\""));
        assert!(err(r#"{"format_version":"2.0","planned_values":{}}"#).contains("not supported"));
        assert!(err(r#"{"format_version":"1.0","values":{}}"#).contains("state, not a plan"));
        assert!(parse(r#"{"format_version":"1.2","planned_values":{}}"#).is_ok());
    }
}
