//! `immutable_image`: bakes an AMI from a source AMI, a code tag and a provisioning script.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::tags;
use crate::bake::{self, fingerprint, image, name, results, source, spec};
use crate::provider::{AwsCx, Cx};
use crate::resources::limits;
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::duration;
use crate::tf::resource::{ApplyRequest, PlanRequest, Planned, Resource};
use crate::tf::schema::{
    bool, list_of, map_of, number, set_of, string, Attribute, Block, NestedBlock, Schema,
};

mod args;
mod imported_name;
mod settings;
use crate::tf::args::{Arg, Parser};
use crate::tf::value::{from_value, to_value, Value};
use args::{parse, Config};

pub const TYPE_NAME: &str = "immutable_image";
/// The tags the bake writes on an image besides the user's (`bake/mod.rs`): they count toward
/// AWS's 50-tag limit. `Name` is set unless the user sets it.
const OWN_IMAGE_TAGS: [&str; 9] = [
    "Name",
    tags::FINGERPRINT,
    tags::CODE_TAG,
    tags::SOURCE_AMI,
    tags::BAKE_ID,
    crate::bake::retention::LINEAGE,
    tags::TEMPORARY,
    tags::EXPIRES_AT,
    tags::OWNER,
];
const DEFAULT_CREATE_TIMEOUT: &str = "40m";
const DEFAULT_DELETE_TIMEOUT: &str = "20m";

pub struct ImageResource;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("Bakes an AMI: launches a temporary builder from a source AMI, runs a provisioning script that deploys `code_tag` on it, creates the image, and removes every temporary object — on success, failure and interrupt alike. An available image with the same fingerprint (same source, tag, script and build settings) is reused instead of baked again.")
            .attr(Attribute::optional("source_ami", string(), "Id of the AMI to start from. Exactly one of `source_ami` and `source_ami_filter` is required."))
            .attr(Attribute::required("code_tag", string(), "What to deploy, e.g. a git tag `v1.4.2`. The script receives it as `$1` and in the `CODE_TAG` environment variable."))
            .attr(Attribute::optional("script", string(), "The provisioning script, inline. Runs as root (through SSM `AWS-RunShellScript`, or `sudo -S sh -c` over SSH); a `#!` line picks the interpreter (default `sh`). Exactly one of `script` and `script_file` is required."))
            .attr(Attribute::optional("script_file", string(), "Path of a file holding the provisioning script (relative paths are from Terraform's working directory; `${path.module}/provision.sh` is the usual form). Its content, not its path, goes into the fingerprint."))
            .attr(Attribute::optional("environment", map_of(string()), "Extra environment variables for the script. Marked sensitive so Terraform hides them and the provider never logs them. With `ssm` they travel in the SSM command's parameters (visible in the SSM console): fetch real secrets from SSM Parameter Store or Secrets Manager inside the script instead. With `ssh` they travel inside the encrypted session into a file only the SSH user can read, deleted before the script starts.").sensitive())
            .attr(Attribute::defaulted("communicator", string(), "ssm", "How the script reaches the builder: `ssm` (no inbound network, no keys; the builder needs the SSM agent and a route to SSM, and usually an instance profile with `AmazonSSMManagedInstanceCore`) or `ssh` (Packer's classic path: a key pair and a security group made for the bake, see the `ssh_*` arguments)."))
            .attr(Attribute::optional("ssh_username", string(), "With `communicator = \"ssh\"` (required then): the user to log in as, e.g. `ubuntu`, `ec2-user`, `admin`. Unless it is `root`, the script runs through `sudo -S sh -c`, so the user needs password-less sudo, as on official cloud images."))
            .attr(Attribute::defaulted("ssh_port", number(), "22", "SSH port to connect to; the temporary security group opens this port."))
            .attr(Attribute::optional("ssh_host", string(), "Connect here instead of the builder's own address (its public IP; its private IP when it has no public one or a bastion is used): a port forward, a NAT, or `127.0.0.1` in tests."))
            .attr(Attribute::optional("ssh_keypair_name", string(), "An existing EC2 key pair to launch the builder with, instead of a temporary one. Its private key goes in `ssh_private_key_file` or `ssh_private_key`."))
            .attr(Attribute::optional("ssh_private_key", string(), "The private key of `ssh_keypair_name` (unencrypted OpenSSH, PEM RSA or PKCS#8). Write-only (Terraform 1.11+): read from the configuration at apply, never stored in the plan or the state, never logged; it may come from an ephemeral value. Changing it alone plans nothing: the key is used only while baking.").sensitive().write_only())
            .attr(Attribute::optional("ssh_private_key_file", string(), "Path of the private key of `ssh_keypair_name`, read at apply time: only the path is stored in the state."))
            .attr(Attribute::optional("ssh_allowed_cidrs", set_of(string()), "Sources (IPv4 or IPv6 CIDRs) the temporary security group lets in on `ssh_port`, e.g. the runner's `203.0.113.7/32` or the bastion's subnet. Required with `ssh` unless `security_group_ids` is set (then those groups are used and none is made): nothing is opened to the world by default."))
            .attr(Attribute::defaulted("ssh_timeout", string(), settings::DEFAULT_SSH_TIMEOUT, "How long to wait, once the builder runs, for SSH to accept the key (boot, cloud-init installing it)."))
            .attr(Attribute::defaulted("instance_type", string(), settings::DEFAULT_INSTANCE_TYPE, "Builder instance type. Part of the fingerprint."))
            .attr(Attribute::optional("subnet_id", string(), "Subnet to launch the builder in (default: the default VPC). Where the builder runs does not change the image, so this is not part of the fingerprint."))
            .attr(Attribute::optional("security_group_ids", set_of(string()), "Security groups for the builder. SSM needs no inbound rule."))
            .attr(Attribute::optional("iam_instance_profile", string(), "Instance profile name or ARN for the builder. Part of the fingerprint, since it decides what the script may fetch."))
            .attr(Attribute::optional("run_tags", map_of(string()), "Extra tags on the builder instance, its volumes, and the temporary key pair and security group."))
            .attr(Attribute::defaulted("name_template", string(), settings::DEFAULT_NAME_TEMPLATE, "AMI name. `{{tag}}` is the code tag, `{{timestamp}}` the bake start (UTC, `YYYYMMDDhhmmss`), `{{fingerprint}}` the first 12 hex digits of the fingerprint. Characters AMI names cannot hold become `-`."))
            .attr(Attribute::optional("description", string(), "AMI description."))
            .attr(Attribute::optional("tags", map_of(string()), "Tags on the image and its snapshots, merged over the provider's `default_tags`. Changing them updates the image in place."))
            .attr(Attribute::defaulted("retain_on_destroy", bool(), "false", "When true, destroying (or replacing) the resource forgets the image but leaves it, its snapshots and its copies in the account; `keep_previous` then prunes them."))
            .attr(Attribute::optional("copy_to_regions", set_of(string()), "Regions that get a copy of the image, with its tags and launch permissions. Copies are deleted with the image; adding or removing a region updates the resource in place."))
            .attr(Attribute::defaulted("encrypted", bool(), "false", "Encrypt the image's snapshots: the built image is copied with encryption (`kms_key_id`, or the account's default EBS key) and the unencrypted one deleted, as Packer does. Part of the fingerprint."))
            .attr(Attribute::optional("kms_key_id", string(), "KMS key (id, ARN or alias ARN) for `encrypted`; part of the fingerprint. Copies in other regions use their region's default EBS key."))
            .attr(Attribute::optional("keep_previous", number(), "How many images baked earlier by this resource to keep beside the current one: after each successful bake, older ones are deregistered with their snapshots, in every region that has them. \"This resource\" means the same `name_template` (which `keep_previous` therefore requires). Useful with `retain_on_destroy = true`, which keeps replaced images for rollback. Unset: nothing is pruned."))
            .attr(Attribute::computed("id", string(), "The AMI id."))
            .attr(Attribute::computed("name", string(), "The AMI name, as rendered from `name_template`."))
            .attr(Attribute::computed("fingerprint", string(), "Digest of what determines the image's content: resolved source AMI id, code tag, script, environment, instance type, instance profile, and encryption (`encrypted`, `kms_key_id`) when enabled. A change of any of them replaces the image."))
            .attr(Attribute::computed("source_ami_id", string(), "The source AMI actually used (the filter's newest match, or `source_ami`)."))
            .attr(Attribute::computed("snapshot_ids", list_of(string()), "EBS snapshots backing the image."))
            .attr(Attribute::computed("reused", bool(), "True when an existing image with the same fingerprint was adopted instead of baking."))
            .attr(Attribute::computed("created_at", string(), "When AWS created the image (RFC 3339)."))
            .attr(Attribute::computed("region_image_ids", map_of(string()), "Region → AMI id: the image in the provider's region and each copy."))
            .attr(Attribute::computed("tags_all", map_of(string()), "The tags on the image and its snapshots: `tags` merged over the provider's `default_tags`, as refreshed from AWS (without the `immutable:*` tags the provider keeps for itself). A change of either, or of the tags outside Terraform, shows in the plan and is updated in place."))
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
            ))
            .block(NestedBlock::single(
                "ssh_bastion",
                Block::new("Reach the builder through a bastion (jump host), like `ssh -J`: the provider opens a `direct-tcpip` channel on the bastion to the builder's private address.")
                    .attr(Attribute::required("host", string(), "The bastion's address."))
                    .attr(Attribute::defaulted("port", number(), "22", "The bastion's SSH port."))
                    .attr(Attribute::required("username", string(), "User to log in to the bastion as."))
                    .attr(Attribute::optional("private_key", string(), "Private key for the bastion (unencrypted). Default: the builder's key from `ssh_private_key` or `ssh_private_key_file`. Write-only, like `ssh_private_key`: never stored in the plan or the state.").sensitive().write_only())
                    .attr(Attribute::optional("private_key_file", string(), "Path of the private key for the bastion, read at apply time."))
                    .attr(Attribute::optional("host_key", string(), "The bastion's public host key (`ssh-ed25519 AAAA…`, a `known_hosts` line without the host name). When set, any other key is refused; without it, the key shown is accepted and its fingerprint logged.")),
            ))
            .block(NestedBlock::single(
                "launch_permission",
                Block::new("Who besides this account may launch the image and its copies. Changes apply in place.")
                    .attr(Attribute::optional("accounts", set_of(string()), "AWS account ids (12 digits)."))
                    .attr(Attribute::optional("organization_arns", set_of(string()), "AWS Organizations, e.g. `arn:aws:organizations::111122223333:organization/o-exampleorgid`."))
                    .attr(Attribute::optional("organizational_unit_arns", set_of(string()), "Organizational units, e.g. `arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-examplerootid-exampleouid`."))
                    .attr(Attribute::optional("public", bool(), "Anyone may launch the image (EC2's `all` group). Off unless set: an image made public outside Terraform shows in the next plan, and applying it makes the image private again.")),
            )),
    }
}

/// The attributes this resource computes, as stored in state.
#[derive(Serialize, Deserialize, Default, Clone)]
struct Computed {
    tags_all: Option<BTreeMap<String, String>>,
    id: Option<String>,
    name: Option<String>,
    fingerprint: Option<String>,
    source_ami_id: Option<String>,
    snapshot_ids: Option<Vec<String>>,
    reused: Option<bool>,
    created_at: Option<String>,
    region_image_ids: Option<BTreeMap<String, String>>,
}

fn validate_config(raw: &Value) -> Diagnostics {
    let mut p = Parser::new();
    let c = args::read(raw, &mut p);
    let mut d = match p.finish(()) {
        Ok(((), warnings)) => warnings,
        Err(errors) => errors,
    };
    let has_ami = !raw.get("source_ami").is_null();
    // A `dynamic "source_ami_filter"` block is unknown as a whole until its for_each is known.
    let has_filter = match raw.get("source_ami_filter") {
        Value::List(l) => !l.is_empty(),
        v => v.is_unknown(),
    };
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
    if let Some(ami) = c.source_ami.known() {
        limits::check_id(AttrPath::root("source_ami"), ami, "ami-", "AMI", &mut d);
    }
    if let Some(subnet) = c.subnet_id.known() {
        limits::check_id(
            AttrPath::root("subnet_id"),
            subnet,
            "subnet-",
            "subnet",
            &mut d,
        );
    }
    for sg in c.security_group_ids.known_elements() {
        // Sets have no index a diagnostic could name; the attribute is the closest path.
        limits::check_id(
            AttrPath::root("security_group_ids"),
            sg,
            "sg-",
            "security group",
            &mut d,
        );
    }
    for attr in ["tags", "run_tags"] {
        let tags = if attr == "tags" { &c.tags } else { &c.run_tags };
        if tags.known().is_some() {
            let tags = tags.known_map();
            limits::check_tags(&AttrPath::root(attr), &tags, &mut d);
            limits::check_tag_count(
                &AttrPath::root(attr),
                &tags,
                &BTreeMap::new(),
                &OWN_IMAGE_TAGS,
                &mut d,
            );
        }
    }
    if let Some(desc) = c.description.known() {
        limits::check_description(AttrPath::root("description"), desc, &mut d);
    }
    if let Some(f) = c.source_ami_filter.known() {
        let p = AttrPath::root("source_ami_filter").index(0);
        let owners = raw
            .get("source_ami_filter")
            .as_elements()
            .and_then(|l| l.first())
            .map(|f| f.get("owners"));
        if owners
            .and_then(Value::as_elements)
            .is_some_and(<[Value]>::is_empty)
        {
            d.attr_error(p.clone().attr("owners"), "No owners", "List at least one owner (an account id, `self` or `amazon`): an unowned name filter would match anyone's AMIs.");
        }
        if let Some(problem) = f.name.as_deref().filter(|n| !n.is_empty()).and_then(|n| {
            // The pattern's wildcards stand for characters of a name.
            let literal: String = n.chars().filter(|c| !matches!(c, '*' | '?')).collect();
            let bad: String = literal.chars().filter(|c| !limits::ami_name_char(*c)).collect();
            (!bad.is_empty()).then(|| format!("No AMI name holds {bad:?}, so this pattern matches nothing; names hold letters, digits and ( ) [ ] space . / - ' @ _."))
        }) {
            d.attr_error(p.clone().attr("name"), "Invalid name pattern", problem);
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
    for k in c.environment.known().into_iter().flat_map(|e| e.keys()) {
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
    settings::validate_ssh(&c, raw, &mut d);
    settings::validate_results(&c, raw, &mut d);
    if c.instance_type.as_deref() == Some("") {
        d.attr_error(
            AttrPath::root("instance_type"),
            "Empty instance_type",
            "Give an instance type such as \"t3.micro\".",
        );
    }
    if let Some(t) = c.name_template.known() {
        // The rendered name must fit AWS's 128 characters: truncating it would cut the timestamp
        // and make the next bake's name collide with this one's.
        let rendered = t
            .replace("{{tag}}", c.code_tag.as_deref().unwrap_or_default())
            .replace("{{timestamp}}", "YYYYMMDDhhmmss")
            .replace("{{fingerprint}}", "0123456789ab")
            .chars()
            .count();
        if rendered > limits::MAX_AMI_NAME {
            d.attr_error(
                AttrPath::root("name_template"),
                "Image name too long",
                format!("The rendered name would have {rendered} characters (with code_tag and a 14-digit timestamp); AMI names have at most {}.", limits::MAX_AMI_NAME),
            );
        }
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
    d
}

/// Everything the bake needs, from a fully known configuration. Reads `script_file`. The
/// communicator is left at `ssm`: [`settings::communicator`] fills it in at apply time (it reads
/// private keys, which plan has no business touching).
fn bake_spec(
    c: &Config,
    default_tags: &BTreeMap<String, String>,
) -> Result<spec::BakeSpec, Diagnostics> {
    let source = match (c.source_ami.known(), c.source_ami_filter.known()) {
        (Some(id), _) => spec::Source::Ami(id.clone()),
        (None, Some(f)) => spec::Source::Filter {
            owners: f.owners.known_vec(),
            name: f.name.known().cloned().unwrap_or_default(),
            most_recent: f.most_recent.required(
                &AttrPath::root("source_ami_filter")
                    .index(0)
                    .attr("most_recent"),
            )?,
        },
        (None, None) => {
            return Err(
                Diagnostic::error("Missing source", "Set source_ami or source_ami_filter.")
                    .at(AttrPath::root("source_ami"))
                    .into(),
            )
        }
    };
    let script = match (c.script.known(), c.script_file.known()) {
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
    let create_timeout = create_timeout(c)?;
    Ok(spec::BakeSpec {
        source,
        code_tag: c.code_tag.clone().required(&AttrPath::root("code_tag"))?,
        script,
        environment: c.environment.known_map(),
        communicator: spec::Communicator::Ssm,
        builder: spec::Builder {
            instance_type: c
                .instance_type
                .clone()
                .required(&AttrPath::root("instance_type"))?,
            subnet_id: c.subnet_id.known().cloned(),
            security_group_ids: c.security_group_ids.known_vec(),
            iam_instance_profile: c.iam_instance_profile.known().cloned(),
            run_tags: c.run_tags.known_map(),
            key_name: None,
        },
        image: settings::image_settings(c, default_tags),
        create_timeout,
    })
}

fn create_timeout(c: &Config) -> Result<Duration, Diagnostics> {
    let t = c.timeouts.as_ref().known().map_or(Arg::Null, |t| t.create);
    timeout(t, DEFAULT_CREATE_TIMEOUT, "create")
}

/// A `timeouts` value, or its documented default when unset (a block has no schema default
/// when the block itself is absent, so the constant the schema's text shows is the one used).
fn timeout(v: Arg<Duration>, default: &str, attr: &str) -> Result<Duration, Diagnostics> {
    let path = AttrPath::root("timeouts").index(0).attr(attr);
    match v {
        Arg::Null => duration::parse(default)
            .map_err(|e| Diagnostic::error("Invalid duration", e).at(path).into()),
        other => other.required(&path).map_err(Diagnostics::from),
    }
}

/// Whether the regions holding the image will change: `copy_to_regions` differs from the regions
/// in `region_image_ids` (also when a copy vanished and refresh dropped it).
async fn copies_change(cx: &Cx, proposed: &Config, prior: &Value) -> Result<bool, Diagnostics> {
    let mut want = match proposed.copy_to_regions.clone().wholly() {
        Arg::Unknown => return Ok(true),
        Arg::Null => vec![],
        Arg::Known(regions) => regions,
    };
    let home = cx.aws()?.region().await?;
    want.push(home.clone());
    want.sort();
    want.dedup();
    let have: Vec<String> = computed_of(prior)
        .region_image_ids
        .unwrap_or_else(|| BTreeMap::from([(home, String::new())]))
        .into_keys()
        .collect();
    Ok(want != have)
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

/// `tags` (the configuration's part) and `tags_all` (everything but the provider's bookkeeping)
/// from the tags AWS reports. A default tag with its default value is the provider's, unless the
/// configuration sets that key itself.
fn refreshed_tags(
    on_image: &BTreeMap<String, String>,
    configured: Option<&BTreeMap<String, String>>,
    default_tags: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let name_is_ours = !configured.is_some_and(|c| c.contains_key("Name"));
    let all: BTreeMap<String, String> = on_image
        .iter()
        .filter(|(k, _)| {
            let bookkeeping = k.starts_with("immutable:")
                || k.to_ascii_lowercase().starts_with("aws:")
                || (name_is_ours && k.as_str() == "Name");
            !bookkeeping
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let tags = all
        .iter()
        .filter(|(k, v)| {
            configured.is_some_and(|c| c.contains_key(*k)) || default_tags.get(*k) != Some(*v)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (tags, all)
}

fn merged_tags(
    default_tags: &BTreeMap<String, String>,
    tags: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut all = default_tags.clone();
    all.extend(tags.cloned().unwrap_or_default());
    all
}

/// The `launch_permission` block as EC2 reports the grants, written the way the prior value
/// wrote it where they agree (an empty set stays null or empty, `public = false` stays null or
/// false), so a refresh shows only grants changed outside Terraform.
fn refreshed_launch_permission(prior: &Value, actual: &spec::LaunchPermission) -> Value {
    let prior_block = match prior {
        Value::List(items) => items.first().cloned(),
        _ => None,
    };
    if actual.is_empty() && prior_block.is_none() {
        return prior.clone();
    }
    let field = |name: &str| {
        prior_block
            .as_ref()
            .map_or(Value::Null, |b| b.get(name).clone())
    };
    let grants = |name: &str, values: &[String]| {
        let before = field(name);
        let before_empty = match &before {
            Value::Null => true,
            Value::Set(v) => v.is_empty(),
            _ => false,
        };
        if values.is_empty() && before_empty {
            return before;
        }
        Value::Set(values.iter().cloned().map(Value::String).collect())
    };
    let public = match (field("public"), actual.public) {
        (before @ (Value::Null | Value::Bool(false)), false) => before,
        (_, public) => Value::Bool(public),
    };
    let block = BTreeMap::from([
        ("accounts".to_string(), grants("accounts", &actual.accounts)),
        (
            "organization_arns".to_string(),
            grants("organization_arns", &actual.organization_arns),
        ),
        (
            "organizational_unit_arns".to_string(),
            grants("organizational_unit_arns", &actual.organizational_unit_arns),
        ),
        ("public".to_string(), public),
    ]);
    Value::List(vec![Value::Object(block)])
}

fn string_map(m: BTreeMap<String, String>) -> Value {
    Value::Map(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// The planned values with the write-only keys put back from the configuration: only the
/// configuration carries them (the plan holds null), and only apply reads them.
fn with_write_only(planned: &Value, config: &Value) -> Value {
    let mut v = planned.clone();
    set(
        &mut v,
        "ssh_private_key",
        config.get("ssh_private_key").clone(),
    );
    let key = config
        .get("ssh_bastion")
        .as_elements()
        .and_then(|l| l.first())
        .map(|b| b.get("private_key").clone());
    if let (Some(key), Value::Object(fields)) = (key, &mut v) {
        if let Some(Value::List(bastions)) = fields.get_mut("ssh_bastion") {
            if let Some(b) = bastions.first_mut() {
                set(b, "private_key", key);
            }
        }
    }
    v
}

fn computed_of(state: &Value) -> Computed {
    from_value(state).unwrap_or_default()
}

#[async_trait]
impl Resource<crate::aws::Aws> for ImageResource {
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
        let proposed = parse(req.proposed)?;
        if let Ok(aws) = cx.aws() {
            let c = parse(req.config)?;
            let mut d = Diagnostics::new();
            limits::check_tag_count(
                &AttrPath::root("tags"),
                &c.tags.known_map(),
                aws.default_tags(),
                &OWN_IMAGE_TAGS,
                &mut d,
            );
            d.into_result()?;
            let tags = c.tags.clone().wholly();
            let tags_all = if !tags.is_unknown() {
                Value::Map(
                    merged_tags(aws.default_tags(), tags.known())
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                )
            } else {
                unknown()
            };
            set(&mut planned, "tags_all", tags_all);
        }
        let requires_replace = vec![AttrPath::root("fingerprint")];
        if proposed.fingerprint_inputs_unknown() {
            set(&mut planned, "fingerprint", unknown());
            set(&mut planned, "source_ami_id", unknown());
        } else {
            let aws = cx.aws()?;
            let spec = bake_spec(&proposed, aws.default_tags())?;
            let ec2 = aws.ec2().await?;
            let resolved = source::resolve_memo(aws, &ec2, &spec.source)
                .await
                .map_err(|e| {
                    let attr = if matches!(spec.source, spec::Source::Ami(_)) {
                        AttrPath::root("source_ami")
                    } else {
                        AttrPath::root("source_ami_filter")
                    };
                    Diagnostics::from(
                        Diagnostic::error("Source AMI not found", e.to_string()).at(attr),
                    )
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
            for a in [
                "id",
                "name",
                "snapshot_ids",
                "reused",
                "created_at",
                "region_image_ids",
            ] {
                set(&mut planned, a, unknown());
            }
        } else if !req.prior.is_null() && copies_change(cx, &proposed, req.prior).await? {
            set(&mut planned, "region_image_ids", unknown());
        }
        Ok(Planned {
            state: planned,
            requires_replace,
        })
    }

    async fn create(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        let c = parse(req.planned)?;
        let aws = cx.aws()?;
        let mut spec = bake_spec(&c, aws.default_tags())?;
        spec.communicator =
            settings::communicator(&parse(&with_write_only(req.planned, req.config))?)?;
        let ec2 = aws.ec2().await?;
        let resolved = source::resolve_memo(aws, &ec2, &spec.source).await?;
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
        for w in &baked.warnings {
            cx.warn(Diagnostic::warning("Bake housekeeping", w.clone()));
        }
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
                tags_all: Some(spec.image.tags.clone()),
                id: Some(baked.image.id.clone()),
                name: Some(baked.image.name.clone()),
                fingerprint: Some(fp),
                source_ami_id: Some(resolved.image_id),
                snapshot_ids: Some(baked.image.snapshot_ids.clone()),
                reused: Some(baked.reused),
                created_at: Some(baked.image.created_at.clone()),
                region_image_ids: Some(baked.region_image_ids.clone()),
            },
        )
    }

    async fn update(&self, cx: &Cx, req: ApplyRequest<'_>) -> Result<Value, Diagnostics> {
        // Only in-place changes reach here (the fingerprint forces replacement): tags, launch
        // permissions, copies, keep_previous, and settings that apply to the next bake only.
        let aws = cx.aws()?;
        let mut prior = computed_of(req.prior);
        let id = prior.id.clone().unwrap_or_default();
        let mut old = settings::image_settings(&parse(req.prior)?, aws.default_tags());
        // What is on the image now, as last refreshed: a change of default_tags, or a tag
        // changed outside Terraform, is then a difference to apply.
        if let Some(on_image) = prior.tags_all.clone() {
            old.tags = on_image;
        }
        let c = parse(req.planned)?;
        let new = settings::image_settings(&c, aws.default_tags());
        prior.tags_all = Some(new.tags.clone());
        let home = aws.region().await?;
        let ids = prior
            .region_image_ids
            .clone()
            .unwrap_or_else(|| BTreeMap::from([(home, id.clone())]));
        let done = results::reconcile(aws, &id, &ids, &old, &new, create_timeout(&c)?, &cx.cancel)
            .await
            .map_err(|e| {
                let summary = if e.cancelled {
                    "Update interrupted"
                } else {
                    "Update failed"
                };
                Diagnostics::from(Diagnostic::error(summary, e.to_string()))
            })?;
        for w in &done.warnings {
            cx.warn(Diagnostic::warning("Image housekeeping", w.clone()));
        }
        // A state written before copies existed keeps its null map until copies are asked for:
        // the plan promised the prior value.
        if prior.region_image_ids.is_some() || !new.copy_to_regions.is_empty() {
            prior.region_image_ids = Some(done.region_image_ids);
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
        if bake::retention::in_use(&ec2, &id).await? {
            // Its group would launch nothing, and a failed release could not roll back: the
            // release moving the instances off it deletes it.
            bake::retention::defer_delete(&ec2, &id).await?;
            tracing::info!(image_id = %id, "instances still run the image: its deletion waits for the release that replaces them");
            return Ok(());
        }
        // The image may have gained snapshots we did not record (e.g. after import); ask AWS.
        let snaps = match image::describe(&ec2, &id).await? {
            Some(info) => info.snapshot_ids,
            None => c.snapshot_ids.unwrap_or_default(),
        };
        let delete = parse(prior)?
            .timeouts
            .as_ref()
            .known()
            .map_or(Arg::Null, |t| t.delete);
        let limit = timeout(delete, DEFAULT_DELETE_TIMEOUT, "delete")?;
        let aws = cx.aws()?;
        let home = aws.region().await?;
        let copies: Vec<(String, String)> = c
            .region_image_ids
            .unwrap_or_default()
            .into_iter()
            .filter(|(r, _)| *r != home)
            .collect();
        let work = async {
            // Copies first: the image they came from is what identifies them.
            for (region, copy) in &copies {
                let ec2_r = aws.ec2_in(Some(region)).await?;
                let snaps = image::snapshots_of(&ec2_r, copy).await?;
                image::delete(&ec2_r, copy, &snaps, &cx.cancel).await?;
                tracing::info!(region, image_id = %copy, "copy deregistered and snapshots deleted");
            }
            image::delete(&ec2, &id, &snaps, &cx.cancel).await
        };
        tokio::time::timeout(limit, work).await.map_err(|_| {
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
        let Some(info) = image::describe_shared(cx.aws()?, None, &id).await? else {
            tracing::info!(image_id = %id, "image no longer exists; it will be planned again");
            return Ok(None);
        };
        let mut new = state.clone();
        let configured = parse(state)?.tags.wholly().into_known();
        let (tags, tags_all) =
            refreshed_tags(&info.tags, configured.as_ref(), cx.aws()?.default_tags());
        if !(tags.is_empty() && state.get("tags").is_null()) {
            set(&mut new, "tags", string_map(tags));
        }
        set(&mut new, "tags_all", string_map(tags_all));
        let granted = image::launch_permission_of(&cx.aws()?.ec2().await?, &id).await?;
        set(
            &mut new,
            "launch_permission",
            refreshed_launch_permission(state.get("launch_permission"), &granted),
        );
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
        // A copy deregistered outside Terraform is dropped, so the plan makes it again.
        if let Some(ids) = c.region_image_ids {
            let aws = cx.aws()?;
            let home = aws.region().await?;
            let mut still = BTreeMap::new();
            for (region, copy) in ids {
                let exists = if region == home {
                    copy == id
                } else {
                    image::describe_shared(aws, Some(&region), &copy)
                        .await?
                        .is_some()
                };
                if exists {
                    still.insert(region, Value::String(copy));
                } else {
                    tracing::info!(region, image_id = %copy, "copy no longer exists; it will be made again");
                }
            }
            set(&mut new, "region_image_ids", Value::Map(still));
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
        // As a configuration that would produce no diff would write them: without the
        // provider's own tags (a `Name` equal to the image's name is the default one) and
        // without what default_tags adds.
        let mut on_image = info.tags.clone();
        if on_image.get("Name") == Some(&info.name) {
            on_image.remove("Name");
        }
        let (user_tags, tags_all) = refreshed_tags(&on_image, None, cx.aws()?.default_tags());
        let mut fields = BTreeMap::new();
        fields.insert("tags_all".into(), string_map(tags_all));
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
        if let Some(template) = info.tag(crate::bake::retention::LINEAGE).and_then(|l| {
            imported_name::recover(
                &info.name,
                info.tag(tags::CODE_TAG).unwrap_or_default(),
                info.tag(tags::FINGERPRINT).unwrap_or_default(),
                l,
            )
        }) {
            fields.insert("name_template".into(), Value::String(template));
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
        let home = cx.aws()?.region().await?;
        fields.insert(
            "region_image_ids".into(),
            Value::Map(BTreeMap::from([(home, Value::String(info.id.clone()))])),
        );
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
        let granted = image::launch_permission_of(&ec2, id).await?;
        if !granted.is_empty() {
            fields.insert(
                "launch_permission".into(),
                refreshed_launch_permission(&Value::List(Vec::new()), &granted),
            );
        }
        Ok(crate::tf::plan_helpers::object(&schema().block, fields))
    }
}

#[cfg(test)]
mod tests {
    use super::refreshed_launch_permission;
    use crate::bake::spec::LaunchPermission;
    use crate::tf::value::Value;

    fn lp_block(fields: &[(&str, Value)]) -> Value {
        Value::List(vec![Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )])
    }

    fn string_set(v: &[&str]) -> Value {
        Value::Set(v.iter().map(|s| Value::String(s.to_string())).collect())
    }

    #[test]
    fn refreshed_launch_permission_keeps_the_priors_spelling_and_shows_outside_grants() {
        let granted = |accounts: &[&str], public| LaunchPermission {
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            public,
            ..Default::default()
        };
        // Nothing configured, nothing granted: the prior is kept as it is.
        let none = Value::List(vec![]);
        assert_eq!(
            refreshed_launch_permission(&none, &granted(&[], false)),
            none
        );
        // Nothing configured, made public outside: the block appears, so the plan removes it.
        assert_eq!(
            refreshed_launch_permission(&none, &granted(&[], true)),
            lp_block(&[
                ("accounts", Value::Null),
                ("organization_arns", Value::Null),
                ("organizational_unit_arns", Value::Null),
                ("public", Value::Bool(true)),
            ])
        );
        // As configured: nulls stay nulls, so the refresh is no change.
        let prior = lp_block(&[
            ("accounts", string_set(&["111111111111"])),
            ("organization_arns", Value::Null),
            ("organizational_unit_arns", string_set(&[])),
            ("public", Value::Null),
        ]);
        assert_eq!(
            refreshed_launch_permission(&prior, &granted(&["111111111111"], false)),
            prior
        );
        // A grant revoked outside: the set empties, and the plan grants it again.
        let Value::List(revoked) = refreshed_launch_permission(&prior, &granted(&[], false)) else {
            panic!("a list block")
        };
        assert_eq!(revoked[0].get("accounts"), &string_set(&[]));
    }

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
    fn refreshed_tags_leave_out_bookkeeping_and_unchanged_defaults() {
        let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let on_image = m(&[
            ("Name", "web-v1"),
            ("immutable:fingerprint", "sha256:0"),
            ("aws:cloudformation:stack", "x"),
            ("team", "platform"),
            ("app", "web"),
            ("owner", "changed-outside"),
        ]);
        let defaults = m(&[("team", "platform"), ("owner", "ops")]);
        let (tags, all) = refreshed_tags(&on_image, Some(&m(&[("app", "web")])), &defaults);
        // A default changed outside Terraform is drift on tags (and tags_all): it shows.
        assert_eq!(tags, m(&[("app", "web"), ("owner", "changed-outside")]));
        assert_eq!(
            all,
            m(&[
                ("app", "web"),
                ("owner", "changed-outside"),
                ("team", "platform")
            ])
        );
        // A Name the configuration sets is the user's.
        let (tags, _) = refreshed_tags(&on_image, Some(&m(&[("Name", "x")])), &defaults);
        assert_eq!(tags.get("Name").map(String::as_str), Some("web-v1"));
    }

    #[test]
    fn a_good_config_validates() {
        let d = validate_config(&cfg(&[
            ("source_ami", s("ami-11111111")),
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
                    ("source_ami", s("ami-11111111")),
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
                    ("source_ami", s("ami-11111111")),
                    ("code_tag", s("")),
                    ("script", s("x")),
                ]),
                "code_tag",
            ),
            (
                cfg(&[("source_ami", s("ami-11111111")), ("code_tag", s("v1"))]),
                "script",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-11111111")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    ("script_file", s("f")),
                ]),
                "script",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-11111111")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    ("communicator", s("winrm")),
                ]),
                "communicator",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-11111111")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    ("name_template", s("a-{{tags}}")),
                ]),
                "name_template",
            ),
            (
                cfg(&[
                    ("source_ami", s("ami-11111111")),
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
            ("source_ami", s("ami-11111111")),
            ("code_tag", s("v1")),
            ("script", s("x")),
            ("timeouts", t),
        ]));
        assert_eq!(errors_at(&d), vec!["timeouts[0].create"]);
    }

    fn block(name: &str, pairs: &[(&str, Value)]) -> Value {
        let b = schema()
            .block
            .blocks
            .into_iter()
            .find(|b| b.name == name)
            .unwrap()
            .block;
        Value::List(vec![object(
            &b,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )])
    }

    fn strings(v: &[&str]) -> Value {
        Value::Set(v.iter().map(|x| s(x)).collect())
    }

    fn n(v: f64) -> Value {
        Value::Number(crate::tf::value::Number::Float(v))
    }

    /// A valid base plus `extra` attributes.
    fn with(extra: &[(&str, Value)]) -> Value {
        let mut pairs = vec![
            ("source_ami", s("ami-11111111")),
            ("code_tag", s("v1")),
            ("script", s("x")),
            ("name_template", s("web-{{tag}}")),
        ];
        pairs.extend(extra.iter().cloned());
        cfg(&pairs)
    }

    fn ssh(extra: &[(&str, Value)]) -> Value {
        let mut pairs = vec![
            ("communicator", s("ssh")),
            ("ssh_username", s("ubuntu")),
            ("ssh_allowed_cidrs", strings(&["203.0.113.7/32"])),
        ];
        pairs.extend(extra.iter().cloned());
        with(&pairs)
    }

    fn errors(v: &Value) -> Vec<String> {
        let d = validate_config(v);
        d.0.iter()
            .filter(|d| d.severity == crate::tf::diag::Severity::Error)
            .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
            .collect()
    }

    fn valid_key() -> String {
        crate::bake::ssh::keys::generate("t")
            .unwrap()
            .to_openssh(russh::keys::ssh_key::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn good_ssh_and_results_configs_validate() {
        let pem = valid_key();
        let host_key =
            crate::bake::ssh::keys::public_openssh(&crate::bake::ssh::keys::generate("h").unwrap());
        let v = ssh(&[
            ("ssh_port", n(2222.0)),
            ("ssh_host", s("127.0.0.1")),
            ("ssh_keypair_name", s("deploy")),
            ("ssh_private_key", s(&pem)),
            ("ssh_timeout", s("90s")),
            (
                "ssh_bastion",
                block(
                    "ssh_bastion",
                    &[
                        ("host", s("bastion.example.com")),
                        ("port", n(22.0)),
                        ("username", s("ec2-user")),
                        ("host_key", s(&host_key)),
                    ],
                ),
            ),
            ("copy_to_regions", strings(&["eu-west-1", "us-gov-west-1"])),
            ("encrypted", Value::Bool(true)),
            ("kms_key_id", s("alias/images")),
            ("keep_previous", n(3.0)),
            ("retain_on_destroy", Value::Bool(true)),
            (
                "launch_permission",
                block(
                    "launch_permission",
                    &[
                        ("accounts", strings(&["111122223333"])),
                        (
                            "organization_arns",
                            strings(&["arn:aws:organizations::111122223333:organization/o-abc"]),
                        ),
                        (
                            "organizational_unit_arns",
                            strings(&["arn:aws:organizations::111122223333:ou/o-abc/ou-1-2"]),
                        ),
                    ],
                ),
            ),
        ]);
        let d = validate_config(&v);
        assert!(d.is_empty(), "{d}");
        // With existing groups no CIDR is needed.
        let d = validate_config(&with(&[
            ("communicator", s("ssh")),
            ("ssh_username", s("ubuntu")),
            ("security_group_ids", strings(&["sg-11111111"])),
        ]));
        assert!(d.is_empty(), "{d}");
    }

    #[test]
    fn bad_ssh_settings_name_their_attribute() {
        let cases: Vec<(Value, &str)> = vec![
            (
                with(&[
                    ("communicator", s("ssh")),
                    ("ssh_allowed_cidrs", strings(&["10.0.0.0/8"])),
                ]),
                "ssh_username",
            ),
            (
                with(&[("communicator", s("ssh")), ("ssh_username", s("u"))]),
                "ssh_allowed_cidrs",
            ),
            (
                ssh(&[("ssh_allowed_cidrs", strings(&[]))]),
                "ssh_allowed_cidrs",
            ),
            (
                ssh(&[("ssh_allowed_cidrs", strings(&["10.0.0.0/33"]))]),
                "ssh_allowed_cidrs",
            ),
            (
                ssh(&[("ssh_allowed_cidrs", strings(&["10.0.0.1"]))]),
                "ssh_allowed_cidrs",
            ),
            (ssh(&[("ssh_port", n(70000.0))]), "ssh_port"),
            (ssh(&[("ssh_port", n(0.0))]), "ssh_port"),
            (ssh(&[("ssh_port", n(22.5))]), "ssh_port"),
            (ssh(&[("ssh_timeout", s("5 minutes"))]), "ssh_timeout"),
            (ssh(&[("ssh_username", s(""))]), "ssh_username"),
            (ssh(&[("ssh_host", s(""))]), "ssh_host"),
            (ssh(&[("ssh_keypair_name", s("k"))]), "ssh_keypair_name"),
            (
                ssh(&[("ssh_private_key_file", s("k.pem"))]),
                "ssh_private_key_file",
            ),
            (
                ssh(&[
                    ("ssh_keypair_name", s("k")),
                    ("ssh_private_key", s("not a key")),
                ]),
                "ssh_private_key",
            ),
            (
                ssh(&[
                    ("ssh_keypair_name", s("k")),
                    ("ssh_private_key", s(&valid_key())),
                    ("ssh_private_key_file", s("k.pem")),
                ]),
                "ssh_private_key",
            ),
            (
                ssh(&[(
                    "ssh_bastion",
                    block(
                        "ssh_bastion",
                        &[
                            ("host", s("b")),
                            ("username", s("u")),
                            ("port", n(65536.0)),
                            ("private_key_file", s("b.pem")),
                        ],
                    ),
                )]),
                "ssh_bastion[0].port",
            ),
            (
                ssh(&[(
                    "ssh_bastion",
                    block("ssh_bastion", &[("host", s("b")), ("username", s("u"))]),
                )]),
                "ssh_bastion[0].private_key_file",
            ),
            (
                ssh(&[(
                    "ssh_bastion",
                    block(
                        "ssh_bastion",
                        &[
                            ("host", s("b")),
                            ("username", s("u")),
                            ("private_key_file", s("b.pem")),
                            ("host_key", s("bastion.example.com ssh-ed25519")),
                        ],
                    ),
                )]),
                "ssh_bastion[0].host_key",
            ),
            (
                ssh(&[(
                    "ssh_bastion",
                    block(
                        "ssh_bastion",
                        &[
                            ("host", s("")),
                            ("username", s("u")),
                            ("private_key_file", s("b.pem")),
                        ],
                    ),
                )]),
                "ssh_bastion[0].host",
            ),
            (with(&[("communicator", s("winrm"))]), "communicator"),
        ];
        for (i, (c, path)) in cases.iter().enumerate() {
            let got = errors(c);
            assert!(
                got.iter().any(|p| p == path),
                "case {i}: expected an error at {path}, got {got:?}"
            );
        }
    }

    #[test]
    fn bad_results_settings_name_their_attribute() {
        let lp = |k: &str, v: &str| {
            (
                "launch_permission",
                block("launch_permission", &[(k, strings(&[v]))]),
            )
        };
        let cases: Vec<(Value, &str)> = vec![
            (
                with(&[("copy_to_regions", strings(&["eu-west1"]))]),
                "copy_to_regions",
            ),
            (
                with(&[("copy_to_regions", strings(&["EU-WEST-1"]))]),
                "copy_to_regions",
            ),
            (with(&[("keep_previous", n(-1.0))]), "keep_previous"),
            (with(&[("keep_previous", n(1.5))]), "keep_previous"),
            (
                cfg(&[
                    ("source_ami", s("ami-11111111")),
                    ("code_tag", s("v1")),
                    ("script", s("x")),
                    ("keep_previous", n(2.0)),
                ]),
                "keep_previous",
            ),
            (
                with(&[lp("accounts", "12345678901")]),
                "launch_permission[0].accounts",
            ),
            (
                with(&[lp("accounts", "12345678901a")]),
                "launch_permission[0].accounts",
            ),
            (
                with(&[lp("organization_arns", "o-exampleorgid")]),
                "launch_permission[0].organization_arns",
            ),
            (
                with(&[lp(
                    "organizational_unit_arns",
                    "arn:aws:organizations::111122223333:organization/o-abc",
                )]),
                "launch_permission[0].organizational_unit_arns",
            ),
            (with(&[("kms_key_id", s("alias/x"))]), "kms_key_id"),
            (
                with(&[
                    ("kms_key_id", s("alias/x")),
                    ("encrypted", Value::Bool(false)),
                ]),
                "kms_key_id",
            ),
            (
                with(&[("kms_key_id", s("")), ("encrypted", Value::Bool(true))]),
                "kms_key_id",
            ),
        ];
        for (i, (c, path)) in cases.iter().enumerate() {
            let got = errors(c);
            assert!(
                got.iter().any(|p| p == path),
                "case {i}: expected an error at {path}, got {got:?}"
            );
        }
    }

    #[test]
    fn a_bad_private_key_is_reported_without_its_content() {
        let d = validate_config(&ssh(&[
            ("ssh_keypair_name", s("k")),
            (
                "ssh_private_key",
                s("-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1ib2R5\n-----END OPENSSH PRIVATE KEY-----\n"),
            ),
        ]));
        let text = d.to_string();
        assert!(d.has_errors(), "{text}");
        assert!(!text.contains("c2VjcmV0LWtleS1ib2R5"), "{text}");
    }

    #[test]
    fn warnings_for_settings_without_effect() {
        let d = validate_config(&with(&[("ssh_username", s("ubuntu"))]));
        assert!(!d.has_errors(), "{d}");
        assert!(d.to_string().contains("SSH settings are ignored"), "{d}");
        let d = validate_config(&with(&[("keep_previous", n(2.0))]));
        assert!(!d.has_errors(), "{d}");
        assert!(d.to_string().contains("retain_on_destroy"), "{d}");
        let d = validate_config(&with(&[
            ("keep_previous", n(2.0)),
            ("retain_on_destroy", Value::Bool(true)),
        ]));
        assert!(d.is_empty(), "{d}");
    }

    #[test]
    fn unknown_values_inside_collections_are_not_errors_at_validate() {
        // `terraform validate` sees every variable as unknown.
        let d = validate_config(&ssh(&[
            (
                "environment",
                Value::Map([("APP_DIR".to_string(), unknown())].into()),
            ),
            ("ssh_allowed_cidrs", Value::Set(vec![unknown()])),
            ("ssh_port", unknown()),
            (
                "copy_to_regions",
                Value::Set(vec![unknown(), s("eu-west-1")]),
            ),
            ("kms_key_id", s("alias/x")),
            ("encrypted", unknown()),
        ]));
        assert!(!d.has_errors(), "{d}");
    }

    #[test]
    fn unknown_values_are_not_errors_at_validate() {
        let d = validate_config(&cfg(&[
            ("source_ami", s("ami-11111111")),
            ("code_tag", unknown()),
            ("script", s("x")),
        ]));
        assert!(d.is_empty(), "{d}");
    }

    /// A value refused by the parse does not hide the rules' findings: one run reports both.
    #[test]
    fn parse_errors_and_rule_errors_come_together() {
        let d = validate_config(&cfg(&[
            ("ssh_timeout", s("soon")),
            ("description", s(&"d".repeat(256))),
        ]));
        let paths = errors_at(&d);
        assert!(paths.contains(&"ssh_timeout".to_string()), "{paths:?}");
        assert!(paths.contains(&"description".to_string()), "{paths:?}");
    }
}
