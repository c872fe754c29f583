//! `immutable_image`: bakes an AMI from a source AMI, a code tag and a provisioning script.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::tags;
use crate::bake::{self, fingerprint, image, name, source, spec};
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::duration;
use crate::tf::resource::{ApplyRequest, Cx, PlanRequest, Planned, Resource};
use crate::tf::schema::{
    bool, list_of, map_of, set_of, string, Attribute, Block, NestedBlock, Schema,
};
use crate::tf::value::{from_value, to_value, Value};

pub const TYPE_NAME: &str = "immutable_image";
const DEFAULT_CREATE_TIMEOUT: &str = "40m";
const DEFAULT_DELETE_TIMEOUT: &str = "20m";

pub struct ImageResource;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("Bakes an AMI: launches a temporary builder from a source AMI, runs a provisioning script that deploys `code_tag` on it, creates the image, and removes every temporary object — on success, failure and interrupt alike. An available image with the same fingerprint (same source, tag, script and build settings) is reused instead of baked again.")
            .attr(Attribute::optional("source_ami", string(), "Id of the AMI to start from. Exactly one of `source_ami` and `source_ami_filter` is required."))
            .attr(Attribute::required("code_tag", string(), "What to deploy, e.g. a git tag `v1.4.2`. The script receives it as `$1` and in the `CODE_TAG` environment variable."))
            .attr(Attribute::optional("script", string(), "The provisioning script, inline. Runs as root through SSM `AWS-RunShellScript`; a `#!` line picks the interpreter (default `sh`). Exactly one of `script` and `script_file` is required."))
            .attr(Attribute::optional("script_file", string(), "Path of a file holding the provisioning script (relative paths are from Terraform's working directory; `${path.module}/provision.sh` is the usual form). Its content, not its path, goes into the fingerprint."))
            .attr(Attribute::optional("environment", map_of(string()), "Extra environment variables for the script. Marked sensitive so Terraform hides them, but they travel in the SSM command's parameters: fetch real secrets from SSM Parameter Store or Secrets Manager inside the script instead.").sensitive())
            .attr(Attribute::defaulted("communicator", string(), "ssm", "How the script reaches the builder: `ssm` (no inbound network, no keys; the builder needs the SSM agent and a route to SSM, and usually an instance profile with `AmazonSSMManagedInstanceCore`)."))
            .attr(Attribute::defaulted("instance_type", string(), "t3.micro", "Builder instance type. Part of the fingerprint."))
            .attr(Attribute::optional("subnet_id", string(), "Subnet to launch the builder in (default: the default VPC). Where the builder runs does not change the image, so this is not part of the fingerprint."))
            .attr(Attribute::optional("security_group_ids", set_of(string()), "Security groups for the builder. SSM needs no inbound rule."))
            .attr(Attribute::optional("iam_instance_profile", string(), "Instance profile name or ARN for the builder. Part of the fingerprint, since it decides what the script may fetch."))
            .attr(Attribute::optional("run_tags", map_of(string()), "Extra tags on the builder instance and its volumes."))
            .attr(Attribute::defaulted("name_template", string(), "immutable-{{tag}}-{{timestamp}}", "AMI name. `{{tag}}` is the code tag, `{{timestamp}}` the bake start (UTC, `YYYYMMDDhhmmss`), `{{fingerprint}}` the first 12 hex digits of the fingerprint. Characters AMI names cannot hold become `-`."))
            .attr(Attribute::optional("description", string(), "AMI description."))
            .attr(Attribute::optional("tags", map_of(string()), "Tags on the image and its snapshots, merged over the provider's `default_tags`. Changing them updates the image in place."))
            .attr(Attribute::defaulted("retain_on_destroy", bool(), "false", "When true, destroying the resource forgets the image but leaves it and its snapshots in the account."))
            .attr(Attribute::computed("id", string(), "The AMI id."))
            .attr(Attribute::computed("name", string(), "The AMI name, as rendered from `name_template`."))
            .attr(Attribute::computed("fingerprint", string(), "Digest of what determines the image's content: resolved source AMI id, code tag, script, environment, instance type and instance profile. A change of any of them replaces the image."))
            .attr(Attribute::computed("source_ami_id", string(), "The source AMI actually used (the filter's newest match, or `source_ami`)."))
            .attr(Attribute::computed("snapshot_ids", list_of(string()), "EBS snapshots backing the image."))
            .attr(Attribute::computed("reused", bool(), "True when an existing image with the same fingerprint was adopted instead of baking."))
            .attr(Attribute::computed("created_at", string(), "When AWS created the image (RFC 3339)."))
            .block(NestedBlock::single(
                "source_ami_filter",
                Block::new("Pick the source AMI by owner and name pattern.")
                    .attr(Attribute::required("owners", list_of(string()), "Account ids or aliases (`self`, `amazon`) that own the AMI."))
                    .attr(Attribute::required("name", string(), "Name pattern; `*` matches any characters, e.g. `ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*`."))
                    .attr(Attribute::defaulted("most_recent", bool(), "true", "Take the newest match. When false, more than one match is an error.")),
            ))
            .block(NestedBlock::single(
                "timeouts",
                Block::new("How long operations may take, as durations like `40m` or `1h30m`.")
                    .attr(Attribute::optional("create", string(), &format!("The whole bake: launch, provisioning, image creation. Default `{DEFAULT_CREATE_TIMEOUT}` (AMI creation alone can take 30 minutes and more)." )))
                    .attr(Attribute::optional("delete", string(), &format!("Deregistering the image and deleting its snapshots. Default `{DEFAULT_DELETE_TIMEOUT}`."))),
            )),
    }
}

#[derive(Deserialize)]
struct Config {
    source_ami: Option<String>,
    source_ami_filter: Option<Vec<FilterBlock>>,
    code_tag: Option<String>,
    script: Option<String>,
    script_file: Option<String>,
    environment: Option<BTreeMap<String, String>>,
    communicator: Option<String>,
    instance_type: Option<String>,
    subnet_id: Option<String>,
    security_group_ids: Option<Vec<String>>,
    iam_instance_profile: Option<String>,
    run_tags: Option<BTreeMap<String, String>>,
    name_template: Option<String>,
    description: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    retain_on_destroy: Option<bool>,
    timeouts: Option<Vec<TimeoutsBlock>>,
}

#[derive(Deserialize)]
struct FilterBlock {
    owners: Option<Vec<String>>,
    name: Option<String>,
    most_recent: Option<bool>,
}

#[derive(Deserialize, Default)]
struct TimeoutsBlock {
    create: Option<String>,
    delete: Option<String>,
}

/// The attributes this resource computes, as stored in state.
#[derive(Serialize, Deserialize, Default, Clone)]
struct Computed {
    id: Option<String>,
    name: Option<String>,
    fingerprint: Option<String>,
    source_ami_id: Option<String>,
    snapshot_ids: Option<Vec<String>>,
    reused: Option<bool>,
    created_at: Option<String>,
}

fn config(v: &Value) -> Result<Config, Diagnostics> {
    from_value(v).map_err(|e| Diagnostic::error("Invalid configuration", e.to_string()).into())
}

fn validate_config(raw: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let c = match config(raw) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let has_ami = !raw.get("source_ami").is_null();
    let has_filter = matches!(raw.get("source_ami_filter"), Value::List(l) if !l.is_empty());
    match (has_ami, has_filter) {
        (true, true) => d.attr_error(
            AttrPath::root("source_ami"),
            "Conflicting source",
            "Set either source_ami or a source_ami_filter block, not both.",
        ),
        (false, false) => d.attr_error(
            AttrPath::root("source_ami"),
            "Missing source",
            "Set source_ami (an AMI id) or a source_ami_filter block.",
        ),
        _ => {}
    }
    if let Some(ami) = &c.source_ami {
        if !ami.starts_with("ami-") {
            d.attr_error(
                AttrPath::root("source_ami"),
                "Invalid AMI id",
                format!("{ami:?} is not an AMI id (ami-…)."),
            );
        }
    }
    if let Some(f) = c.source_ami_filter.as_ref().and_then(|l| l.first()) {
        let p = AttrPath::root("source_ami_filter").index(0);
        if f.owners.as_ref().is_some_and(|o| o.is_empty()) {
            d.attr_error(p.clone().attr("owners"), "No owners", "List at least one owner (an account id, `self` or `amazon`): an unowned name filter would match anyone's AMIs.");
        }
        if f.name.as_deref() == Some("") {
            d.attr_error(
                p.attr("name"),
                "Empty name pattern",
                "Give a name pattern such as `my-base-*`.",
            );
        }
    }
    if c.code_tag.as_deref() == Some("") {
        d.attr_error(
            AttrPath::root("code_tag"),
            "Empty code_tag",
            "code_tag names what to deploy, e.g. \"v1.4.2\".",
        );
    }
    let has_script = !raw.get("script").is_null();
    let has_file = !raw.get("script_file").is_null();
    match (has_script, has_file) {
        (true, true) => d.attr_error(
            AttrPath::root("script"),
            "Conflicting scripts",
            "Set either script or script_file, not both.",
        ),
        (false, false) => d.attr_error(
            AttrPath::root("script"),
            "Missing script",
            "Set script (inline) or script_file (a path).",
        ),
        _ => {}
    }
    if c.script.as_deref().is_some_and(|s| s.trim().is_empty()) {
        d.attr_error(
            AttrPath::root("script"),
            "Empty script",
            "The provisioning script is empty.",
        );
    }
    for k in c.environment.iter().flat_map(|e| e.keys()) {
        let ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            d.attr_error(
                AttrPath::root("environment").key(k),
                "Invalid environment variable name",
                format!("{k:?} is not a shell variable name (letters, digits and _, not starting with a digit)."),
            );
        }
        if k == "CODE_TAG" {
            d.attr_error(
                AttrPath::root("environment").key(k),
                "Reserved variable",
                "CODE_TAG is set from code_tag.",
            );
        }
    }
    if let Some(comm) = &c.communicator {
        if comm != "ssm" {
            d.attr_error(
                AttrPath::root("communicator"),
                "Unsupported communicator",
                format!("{comm:?} is not supported; use \"ssm\"."),
            );
        }
    }
    if c.instance_type.as_deref() == Some("") {
        d.attr_error(
            AttrPath::root("instance_type"),
            "Empty instance_type",
            "Give an instance type such as \"t3.micro\".",
        );
    }
    if let Some(t) = &c.name_template {
        let unknown = name::unknown_placeholders(t);
        if !unknown.is_empty() {
            d.attr_error(
                AttrPath::root("name_template"),
                "Unknown placeholder",
                format!(
                    "{} in name_template; known: {}.",
                    unknown.join(", "),
                    name::PLACEHOLDERS.join(", ")
                ),
            );
        }
    }
    if let Some(t) = c.timeouts.as_ref().and_then(|l| l.first()) {
        for (attr, v) in [("create", &t.create), ("delete", &t.delete)] {
            if let Some(v) = v {
                if let Err(e) = duration::parse(v) {
                    d.attr_error(
                        AttrPath::root("timeouts").index(0).attr(attr),
                        "Invalid duration",
                        e,
                    );
                }
            }
        }
    }
    let _ = c.retain_on_destroy;
    d
}

/// Everything the bake needs, from a fully known configuration. Reads `script_file`.
fn bake_spec(
    c: &Config,
    default_tags: &BTreeMap<String, String>,
) -> Result<spec::BakeSpec, Diagnostics> {
    let source = match (
        &c.source_ami,
        c.source_ami_filter.as_ref().and_then(|l| l.first()),
    ) {
        (Some(id), _) => spec::Source::Ami(id.clone()),
        (None, Some(f)) => spec::Source::Filter {
            owners: f.owners.clone().unwrap_or_default(),
            name: f.name.clone().unwrap_or_default(),
            most_recent: f.most_recent.unwrap_or(true),
        },
        (None, None) => {
            return Err(
                Diagnostic::error("Missing source", "Set source_ami or source_ami_filter.")
                    .at(AttrPath::root("source_ami"))
                    .into(),
            )
        }
    };
    let script = match (&c.script, &c.script_file) {
        (Some(s), _) => s.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            Diagnostics::from(
                Diagnostic::error("Cannot read script_file", format!("{path}: {e}"))
                    .at(AttrPath::root("script_file")),
            )
        })?,
        (None, None) => {
            return Err(
                Diagnostic::error("Missing script", "Set script or script_file.")
                    .at(AttrPath::root("script"))
                    .into(),
            )
        }
    };
    let timeouts = c.timeouts.as_ref().and_then(|l| l.first());
    let create_timeout = timeout(
        timeouts.and_then(|t| t.create.as_deref()),
        DEFAULT_CREATE_TIMEOUT,
        "create",
    )?;
    let mut tags = default_tags.clone();
    tags.extend(c.tags.clone().unwrap_or_default());
    Ok(spec::BakeSpec {
        source,
        code_tag: c.code_tag.clone().unwrap_or_default(),
        script,
        environment: c.environment.clone().unwrap_or_default(),
        builder: spec::Builder {
            instance_type: c.instance_type.clone().unwrap_or_else(|| "t3.micro".into()),
            subnet_id: c.subnet_id.clone(),
            security_group_ids: c.security_group_ids.clone().unwrap_or_default(),
            iam_instance_profile: c.iam_instance_profile.clone(),
            run_tags: c.run_tags.clone().unwrap_or_default(),
        },
        image: spec::ImageSettings {
            name_template: c
                .name_template
                .clone()
                .unwrap_or_else(|| "immutable-{{tag}}-{{timestamp}}".into()),
            description: c.description.clone(),
            tags,
        },
        create_timeout,
    })
}

fn timeout(v: Option<&str>, default: &str, attr: &str) -> Result<Duration, Diagnostics> {
    duration::parse(v.unwrap_or(default)).map_err(|e| {
        Diagnostic::error("Invalid duration", e)
            .at(AttrPath::root("timeouts").index(0).attr(attr))
            .into()
    })
}

/// The inputs of the fingerprint are all known (plan can compute it now).
fn fingerprint_inputs_known(v: &Value) -> bool {
    [
        "source_ami",
        "source_ami_filter",
        "code_tag",
        "script",
        "script_file",
        "environment",
        "instance_type",
        "iam_instance_profile",
    ]
    .iter()
    .all(|a| v.get(a).is_wholly_known())
}

fn set(v: &mut Value, attr: &str, new: Value) {
    if let Value::Object(fields) = v {
        fields.insert(attr.to_string(), new);
    }
}

fn unknown() -> Value {
    Value::Unknown(Default::default())
}

fn state_from(config: &Value, c: Computed) -> Result<Value, Diagnostics> {
    let ty = schema().block.value_type();
    let computed = to_value(&c, &ty)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Internal error", e.to_string())))?;
    let mut state = config.clone();
    if let (Value::Object(s), Value::Object(cv)) = (&mut state, computed) {
        for (k, v) in cv {
            if !v.is_null() {
                s.insert(k, v);
            }
        }
    }
    Ok(state)
}

fn computed_of(state: &Value) -> Computed {
    from_value(state).unwrap_or_default()
}

#[async_trait]
impl Resource for ImageResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_config(config)
    }

    async fn plan(&self, cx: &Cx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
        let mut planned = req.proposed.clone();
        let requires_replace = vec![AttrPath::root("fingerprint")];
        if !fingerprint_inputs_known(req.proposed) {
            set(&mut planned, "fingerprint", unknown());
            set(&mut planned, "source_ami_id", unknown());
        } else {
            let c = config(req.proposed)?;
            let aws = cx.aws()?;
            let spec = bake_spec(&c, aws.default_tags())?;
            let ec2 = aws.ec2().await?;
            let resolved = source::resolve(&ec2, &spec.source).await.map_err(|e| {
                let attr = if matches!(spec.source, spec::Source::Ami(_)) {
                    AttrPath::root("source_ami")
                } else {
                    AttrPath::root("source_ami_filter")
                };
                Diagnostics::from(Diagnostic::error("Source AMI not found", e.to_string()).at(attr))
            })?;
            let fp = fingerprint::fingerprint(&spec, &resolved.image_id);
            set(&mut planned, "fingerprint", Value::String(fp));
            set(
                &mut planned,
                "source_ami_id",
                Value::String(resolved.image_id),
            );
        }
        let replacing =
            !req.prior.is_null() && planned.get("fingerprint") != req.prior.get("fingerprint");
        if replacing {
            for a in ["id", "name", "snapshot_ids", "reused", "created_at"] {
                set(&mut planned, a, unknown());
            }
        }
        Ok(Planned {
            state: planned,
            requires_replace,
        })
    }

    async fn create(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        let c = config(req.planned)?;
        let aws = cx.aws()?;
        let spec = bake_spec(&c, aws.default_tags())?;
        let ec2 = aws.ec2().await?;
        let resolved = source::resolve(&ec2, &spec.source).await?;
        let fp = fingerprint::fingerprint(&spec, &resolved.image_id);
        if let Value::String(planned_fp) = req.planned.get("fingerprint") {
            if *planned_fp != fp {
                return Err(Diagnostic::error(
                    "Inputs changed since the plan",
                    format!("The image's fingerprint was {planned_fp} at plan time and is {fp} now (a new source AMI was published, or script_file changed). Nothing was baked; run terraform plan again."),
                )
                .into());
            }
        }
        let baked = bake::bake(aws, &spec, &resolved.image_id, &fp, &cx.cancel)
            .await
            .map_err(|e| {
                let summary = if e.cancelled {
                    "Bake interrupted"
                } else {
                    "Bake failed"
                };
                Diagnostics::from(Diagnostic::error(summary, e.to_string()))
            })?;
        // A reused image keeps its own tags; make them what this configuration asks for.
        if baked.reused {
            image::tag(
                &ec2,
                &[
                    vec![baked.image.id.clone()],
                    baked.image.snapshot_ids.clone(),
                ]
                .concat(),
                &spec.image.tags,
            )
            .await?;
        }
        state_from(
            req.planned,
            Computed {
                id: Some(baked.image.id.clone()),
                name: Some(baked.image.name.clone()),
                fingerprint: Some(fp),
                source_ami_id: Some(resolved.image_id),
                snapshot_ids: Some(baked.image.snapshot_ids.clone()),
                reused: Some(baked.reused),
                created_at: Some(baked.image.created_at.clone()),
            },
        )
    }

    async fn update(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        // Only in-place changes reach here (the fingerprint forces replacement): tags, and
        // settings that apply to the next bake only.
        let aws = cx.aws()?;
        let prior = computed_of(req.prior);
        let id = prior.id.clone().unwrap_or_default();
        let old: BTreeMap<String, String> = from_value(req.prior.get("tags")).unwrap_or_default();
        let new: BTreeMap<String, String> = from_value(req.planned.get("tags")).unwrap_or_default();
        if old != new {
            let ec2 = aws.ec2().await?;
            let mut targets = vec![id.clone()];
            targets.extend(prior.snapshot_ids.clone().unwrap_or_default());
            let removed: Vec<String> = old
                .keys()
                .filter(|k| !new.contains_key(*k) && !aws.default_tags().contains_key(*k))
                .cloned()
                .collect();
            image::untag(&ec2, &targets, &removed).await?;
            let mut desired = aws.default_tags().clone();
            desired.extend(new);
            image::tag(&ec2, &targets, &desired).await?;
        }
        state_from(req.planned, prior)
    }

    async fn delete(&self, cx: &Cx, prior: &Value) -> Result<(), Diagnostics> {
        let c = computed_of(prior);
        let Some(id) = c.id else { return Ok(()) };
        if prior.get("retain_on_destroy") == &Value::Bool(true) {
            tracing::info!(image_id = %id, "retain_on_destroy: leaving the image and its snapshots in place");
            return Ok(());
        }
        let ec2 = cx.aws()?.ec2().await?;
        // The image may have gained snapshots we did not record (e.g. after import); ask AWS.
        let snaps = match image::describe(&ec2, &id).await? {
            Some(info) => info.snapshot_ids,
            None => c.snapshot_ids.unwrap_or_default(),
        };
        let t: Option<Vec<TimeoutsBlock>> = from_value(prior.get("timeouts")).unwrap_or_default();
        let limit = timeout(
            t.as_ref()
                .and_then(|l| l.first())
                .and_then(|t| t.delete.as_deref()),
            DEFAULT_DELETE_TIMEOUT,
            "delete",
        )?;
        tokio::time::timeout(limit, image::delete(&ec2, &id, &snaps, &cx.cancel))
            .await
            .map_err(|_| {
                Diagnostics::from(Diagnostic::error(
                    "Delete timed out",
                    format!("deleting {id} took longer than {}s", limit.as_secs()),
                ))
            })??;
        tracing::info!(image_id = %id, snapshots = snaps.len(), "image deregistered and snapshots deleted");
        Ok(())
    }

    async fn read(&self, cx: &Cx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let c = computed_of(state);
        let Some(id) = c.id.clone() else {
            return Ok(None);
        };
        let ec2 = cx.aws()?.ec2().await?;
        let Some(info) = image::describe(&ec2, &id).await? else {
            tracing::info!(image_id = %id, "image no longer exists; it will be planned again");
            return Ok(None);
        };
        let mut new = state.clone();
        set(&mut new, "name", Value::String(info.name.clone()));
        set(
            &mut new,
            "snapshot_ids",
            Value::List(
                info.snapshot_ids
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        if !info.created_at.is_empty() {
            set(
                &mut new,
                "created_at",
                Value::String(info.created_at.clone()),
            );
        }
        Ok(Some(new))
    }

    async fn import(&self, cx: &Cx, id: &str) -> Result<Value, Diagnostics> {
        if !id.starts_with("ami-") {
            return Err(Diagnostic::error(
                "Invalid import id",
                format!("{id:?} is not an AMI id; import with `terraform import <address> ami-…`."),
            )
            .into());
        }
        let ec2 = cx.aws()?.ec2().await?;
        let info = image::describe(&ec2, id).await?.ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Image not found",
                format!("{id} does not exist in this region."),
            ))
        })?;
        let user_tags: BTreeMap<String, String> = info
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with("immutable:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut fields = BTreeMap::new();
        fields.insert("id".to_string(), Value::String(info.id.clone()));
        if let Some(t) = info.tag(tags::CODE_TAG) {
            fields.insert("code_tag".into(), Value::String(t.into()));
        }
        if let Some(s) = info.tag(tags::SOURCE_AMI) {
            fields.insert("source_ami".into(), Value::String(s.into()));
            fields.insert("source_ami_id".into(), Value::String(s.into()));
        }
        if let Some(f) = info.tag(tags::FINGERPRINT) {
            fields.insert("fingerprint".into(), Value::String(f.into()));
        }
        fields.insert("name".into(), Value::String(info.name.clone()));
        fields.insert(
            "snapshot_ids".into(),
            Value::List(
                info.snapshot_ids
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
        );
        fields.insert("created_at".into(), Value::String(info.created_at.clone()));
        fields.insert("reused".into(), Value::Bool(false));
        fields.insert("retain_on_destroy".into(), Value::Bool(false));
        if !user_tags.is_empty() {
            fields.insert(
                "tags".into(),
                Value::Map(
                    user_tags
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                ),
            );
        }
        Ok(crate::tf::plan_helpers::object(&schema().block, fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::plan_helpers::object;

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        object(
            &schema().block,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn errors_at(d: &Diagnostics) -> Vec<String> {
        d.0.iter()
            .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_good_config_validates() {
        let d = validate_config(&cfg(&[
            ("source_ami", s("ami-1")),
            ("code_tag", s("v1")),
            ("script", s("echo")),
        ]));
        assert!(d.is_empty(), "{d}");
    }

    #[test]
    fn bad_configs_name_the_attribute() {
        let filter = Value::List(vec![object(
            &schema().block.blocks[0].block,
            [
                ("owners".to_string(), Value::List(vec![])),
                ("name".to_string(), s("")),
            ]
            .into(),
        )]);
        let cases: Vec<(Value, &str)> = vec![
            (
                cfg(&[("code_tag", s("v1")), ("script", s("x"))]),
                "source_ami",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-1")),
                    ("source_ami_filter", filter.clone()),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                ]),
                "source_ami",
            ),
            (
                cfg(&[
                    ("source_ami", s("img-1")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                ]),
                "source_ami",
            ),
            (
                cfg(&[
                    ("source_ami_filter", filter),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                ]),
                "source_ami_filter[0].owners",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-1")),
                    ("code_tag", s("")),
                    ("script", s("x")),
                ]),
                "code_tag",
            ),
            (
                cfg(&[("source_ami", s("ami-1")), ("code_tag", s("v1"))]),
                "script",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-1")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    ("script_file", s("f")),
                ]),
                "script",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-1")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    ("communicator", s("winrm")),
                ]),
                "communicator",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-1")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    ("name_template", s("a-{{tags}}")),
                ]),
                "name_template",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-1")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    (
                        "environment",
                        Value::Map([("1BAD".to_string(), s("x"))].into()),
                    ),
                ]),
                "environment[\"1BAD\"]",
            ),
        ];
        for (i, (c, path)) in cases.iter().enumerate() {
            let d = validate_config(c);
            assert!(d.has_errors(), "case {i} should fail");
            assert!(
                errors_at(&d).iter().any(|p| p.starts_with(path)),
                "case {i}: expected {path}, got {:?}",
                errors_at(&d)
            );
        }
    }

    #[test]
    fn bad_timeouts_are_reported_with_their_path() {
        let t = Value::List(vec![object(
            &schema().block.blocks[1].block,
            [("create".to_string(), s("10 minutes"))].into(),
        )]);
        let d = validate_config(&cfg(&[
            ("source_ami", s("ami-1")),
            ("code_tag", s("v1")),
            ("script", s("x")),
            ("timeouts", t),
        ]));
        assert_eq!(errors_at(&d), vec!["timeouts[0].create"]);
    }

    #[test]
    fn unknown_values_are_not_errors_at_validate() {
        let d = validate_config(&cfg(&[
            ("source_ami", s("ami-1")),
            ("code_tag", unknown()),
            ("script", s("x")),
        ]));
        assert!(d.is_empty(), "{d}");
    }
}
