//! The `provider "immutable" { … }` block: its schema, static validation and parsing into
//! `AwsSettings`. Nothing here talks to AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::aws::settings::{looks_like_endpoint, looks_like_region, DEFAULT_SESSION_NAME};
use crate::aws::tls::{CaBundle, CA_BUNDLE_ENV};
use crate::aws::{
    AccountId, AccountPolicy, AssumeRole, Aws, AwsSettings, Endpoints, RetryMode, Service,
    SessionDuration, WebIdentity, WebIdentityToken,
};
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::schema::{
    list_of, map_of, number, set_of, string, Attribute, Block, NestedBlock, Schema,
};
use crate::tf::value::{from_value, Value};

const DEFAULT_MAX_ATTEMPTS: u32 = 8;

pub fn schema() -> Schema {
    let endpoints = Service::ALL.iter().fold(
        Block::new("Per-service endpoint URLs; each wins over `endpoint` (and `AWS_ENDPOINT_URL_<SERVICE>`) for its service. `ec2` applies to the provider's own region only: EC2 clients for other regions (image `copies`) keep their regional endpoints."),
        |b, s| b.attr(Attribute::optional(s.name(), string(), &format!("{} endpoint URL.{}", s.title(), s.used_for()))),
    );
    Schema {
        version: 0,
        block: Block::new("Bakes AMIs and rolls Auto Scaling groups onto them. Credentials come from the standard AWS chain: environment, shared config/credentials files (`profile`), SSO, web identity, ECS and EC2 instance metadata.")
            .attr(Attribute::optional("region", string(), "AWS region, e.g. `us-east-1`. Defaults to `AWS_REGION` / `AWS_DEFAULT_REGION` or the profile's region."))
            .attr(Attribute::optional("profile", string(), "Named profile from the shared AWS config and credentials files. Defaults to `AWS_PROFILE`, else `default`."))
            .attr(Attribute::optional("shared_config_files", list_of(string()), "Shared config files to read instead of the default (`AWS_CONFIG_FILE`, else `~/.aws/config`); later files win for a profile both define. The credentials files stay the default unless `shared_credentials_files` is set."))
            .attr(Attribute::optional("shared_credentials_files", list_of(string()), "Shared credentials files to read instead of the default (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`)."))
            .attr(Attribute::optional("allowed_account_ids", set_of(string()), "The only AWS accounts (12-digit ids) the provider may work in. The account of the final credentials (after `assume_role`) is looked up with `sts:GetCallerIdentity` when the provider is configured, before any other AWS call; any other account stops the run. Conflicts with `forbidden_account_ids`."))
            .attr(Attribute::optional("forbidden_account_ids", set_of(string()), "AWS accounts (12-digit ids) the provider must never work in, checked like `allowed_account_ids`. Conflicts with `allowed_account_ids`."))
            .attr(Attribute::optional("endpoint", string(), "One endpoint URL for every AWS service and region, e.g. a local emulator at `http://127.0.0.1:5000`. When unset, the standard `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` variables are honoured."))
            .attr(Attribute::optional("custom_ca_bundle", string(), "A PEM file of certificate authorities to trust for the AWS endpoints, in addition to the system's (a TLS-inspecting corporate proxy, a private endpoint). Defaults to `AWS_CA_BUNDLE`. Read when the provider is configured."))
            .attr(Attribute::optional("max_retries", number(), &format!("How many times a failed AWS call that is safe to retry (throttling, 5xx, timeouts) is retried, with exponential backoff. Default {}.", DEFAULT_MAX_ATTEMPTS - 1)))
            .attr(Attribute::optional("retry_mode", string(), "`standard` (default) or `adaptive` (client-side rate limiting when AWS throttles; kinder to an account shared with other tools)."))
            .block(NestedBlock::single(
                "assume_role",
                Block::new("Assume this IAM role (`sts:AssumeRole`) with the credentials found so far: the standard chain's, or those of `assume_role_with_web_identity`.")
                    .attr(Attribute::required("role_arn", string(), "ARN of the role to assume."))
                    .attr(Attribute::optional("session_name", string(), &format!("Session name recorded in CloudTrail (2 to 64 of `A-Za-z0-9+=,.@_-`). Default `{DEFAULT_SESSION_NAME}`.")))
                    .attr(Attribute::optional("external_id", string(), "External id the role's trust policy requires."))
                    .attr(Attribute::optional("duration", string(), "Session length, e.g. `1h` or `2h30m`: 15 minutes up to the role's maximum session duration (at most 12 hours). Default: STS's, one hour."))
                    .attr(Attribute::optional("policy", string(), "An IAM policy (JSON) that further restricts the session's permissions."))
                    .attr(Attribute::optional("policy_arns", set_of(string()), "ARNs of managed IAM policies that further restrict the session's permissions (at most 10)."))
                    .attr(Attribute::optional("tags", map_of(string()), "Session tags (at most 50), usable in the role's policies as `aws:PrincipalTag`."))
                    .attr(Attribute::optional("transitive_tag_keys", set_of(string()), "Keys of `tags` that stay on the session through later role chaining."))
                    .attr(Attribute::optional("source_identity", string(), "Source identity recorded with the session (CloudTrail; 2 to 64 of `A-Za-z0-9+=,.@_-`); it cannot be changed by later role chaining.")),
            ))
            .block(NestedBlock::single(
                "assume_role_with_web_identity",
                Block::new("Get credentials with `sts:AssumeRoleWithWebIdentity` from an OpenID Connect token (a CI system's, a Kubernetes service account's) instead of the standard chain. `assume_role`, when also set, is assumed with these credentials.")
                    .attr(Attribute::required("role_arn", string(), "ARN of the role to assume."))
                    .attr(Attribute::optional("session_name", string(), &format!("Session name recorded in CloudTrail. Default `{DEFAULT_SESSION_NAME}`.")))
                    .attr(Attribute::optional("web_identity_token", string(), "The token itself. Exactly one of `web_identity_token` and `web_identity_token_file` is required.").sensitive())
                    .attr(Attribute::optional("web_identity_token_file", string(), "A file holding the token; read again at every credential refresh (runners and Kubernetes rotate it)."))
                    .attr(Attribute::optional("duration", string(), "Session length, e.g. `1h`: 15 minutes up to the role's maximum session duration (at most 12 hours). Default: STS's, one hour."))
                    .attr(Attribute::optional("policy", string(), "An IAM policy (JSON) that further restricts the session's permissions."))
                    .attr(Attribute::optional("policy_arns", set_of(string()), "ARNs of managed IAM policies that further restrict the session's permissions (at most 10).")),
            ))
            .block(NestedBlock::single("endpoints", endpoints))
            .block(NestedBlock::single(
                "default_tags",
                Block::new("Tags added to everything this provider creates (images, snapshots, builders, launch template versions). A resource's own tags win on conflicts.")
                    .attr(Attribute::optional("tags", map_of(string()), "The tags.")),
            )),
    }
}

#[derive(Deserialize, Default)]
struct Config {
    region: Option<String>,
    profile: Option<String>,
    shared_config_files: Option<Vec<String>>,
    shared_credentials_files: Option<Vec<String>>,
    allowed_account_ids: Option<Vec<String>>,
    forbidden_account_ids: Option<Vec<String>>,
    endpoint: Option<String>,
    custom_ca_bundle: Option<String>,
    max_retries: Option<i64>,
    retry_mode: Option<String>,
    #[serde(default)]
    assume_role: Option<Vec<AssumeRoleBlock>>,
    #[serde(default)]
    assume_role_with_web_identity: Option<Vec<WebIdentityBlock>>,
    #[serde(default)]
    endpoints: Option<Vec<BTreeMap<String, Option<String>>>>,
    #[serde(default)]
    default_tags: Option<Vec<DefaultTagsBlock>>,
}

#[derive(Deserialize)]
struct AssumeRoleBlock {
    role_arn: Option<String>,
    session_name: Option<String>,
    external_id: Option<String>,
    duration: Option<String>,
    policy: Option<String>,
    policy_arns: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
    transitive_tag_keys: Option<Vec<String>>,
    source_identity: Option<String>,
}

#[derive(Deserialize)]
struct WebIdentityBlock {
    role_arn: Option<String>,
    session_name: Option<String>,
    web_identity_token: Option<String>,
    web_identity_token_file: Option<String>,
    duration: Option<String>,
    policy: Option<String>,
    policy_arns: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct DefaultTagsBlock {
    tags: Option<BTreeMap<String, String>>,
}

/// When the configuration is read. At validate, variables are unknown and only the known part
/// is checked: an argument missing there may be a variable, so "required" and "empty" are
/// judged at configure only.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Validate,
    Configure,
}

/// Static checks; unknown values (from other resources) are skipped, they are checked again when
/// the provider is configured.
///
/// `terraform validate` sends every variable as unknown (`default_tags { tags = { env = var.env } }`,
/// `assume_role { role_arn = var.role }`): the known part is checked, the rest waits for configure.
pub fn validate(v: &Value) -> Diagnostics {
    match settings(&v.known_part(), Stage::Validate) {
        Ok(_) => Diagnostics::new(),
        Err(d) => d,
    }
}

/// The settings the provider is configured with. Every value must be known: a region, role,
/// endpoint or default tag known only after apply would change what plan reads and shows, so it is
/// refused with its path rather than read as unset.
pub fn parse(v: &Value) -> Result<AwsSettings, Diagnostics> {
    if let Some(path) = v.first_unknown_path() {
        return Err(Diagnostic::error(
            "Provider configuration not known until apply",
            format!("{} depends on a value known only after apply, but the provider needs it to plan (to read AMIs and groups in the right account and region, and to show the tags it will write). Use a value known at plan time: a variable, a local, or a data source.", AttrPath::from(path.clone())),
        )
        .at(AttrPath::from(path))
        .into());
    }
    settings(v, Stage::Configure)
}

fn settings(v: &Value, stage: Stage) -> Result<AwsSettings, Diagnostics> {
    let c: Config = from_value(v).map_err(Diagnostics::from)?;
    let mut d = Diagnostics::new();
    if let Some(r) = &c.region {
        if !looks_like_region(r) {
            d.attr_error(
                AttrPath::root("region"),
                "Invalid AWS region",
                format!("{r:?} is not a region name; regions look like \"us-east-1\" or \"eu-central-1\"."),
            );
        }
    }
    check_url(&mut d, AttrPath::root("endpoint"), &c.endpoint);
    let endpoints = endpoints(&mut d, c.endpoints);
    let max_attempts = match c.max_retries {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(n) if (0..=100).contains(&n) => n as u32 + 1,
        Some(n) => {
            d.attr_error(
                AttrPath::root("max_retries"),
                "Invalid max_retries",
                format!("{n} is not between 0 and 100."),
            );
            DEFAULT_MAX_ATTEMPTS
        }
    };
    let retry_mode = match c.retry_mode.as_deref() {
        None | Some("standard") => RetryMode::Standard,
        Some("adaptive") => RetryMode::Adaptive,
        Some(other) => {
            d.attr_error(
                AttrPath::root("retry_mode"),
                "Invalid retry_mode",
                format!("{other:?} is not one of \"standard\", \"adaptive\"."),
            );
            RetryMode::Standard
        }
    };
    let shared_config_files = paths(&mut d, "shared_config_files", c.shared_config_files);
    let shared_credentials_files = paths(
        &mut d,
        "shared_credentials_files",
        c.shared_credentials_files,
    );
    let custom_ca_bundle = match c.custom_ca_bundle {
        Some(p) if p.trim().is_empty() => {
            d.attr_error(
                AttrPath::root("custom_ca_bundle"),
                "Invalid custom_ca_bundle",
                "The path is empty; leave the argument out to use only the system's certificate authorities (or AWS_CA_BUNDLE).",
            );
            None
        }
        other => other.map(PathBuf::from),
    };
    let accounts = accounts(
        &mut d,
        stage,
        c.allowed_account_ids,
        c.forbidden_account_ids,
    );
    let web_identity = c
        .assume_role_with_web_identity
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|b| web_identity(&mut d, stage, b));
    let assume_role = c
        .assume_role
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(|b| assume_role(&mut d, b));
    let default_tags = c
        .default_tags
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|b| b.tags)
        .unwrap_or_default();
    crate::resources::limits::check_tags(
        &AttrPath::root("default_tags").index(0).attr("tags"),
        &default_tags,
        &mut d,
    );
    d.into_result()?;
    Ok(AwsSettings {
        region: c.region,
        profile: c.profile,
        shared_config_files,
        shared_credentials_files,
        web_identity,
        assume_role,
        accounts,
        endpoint: c.endpoint,
        endpoints,
        custom_ca_bundle,
        default_tags,
        max_attempts,
        retry_mode,
    })
}

/// What configure reads from the local disk before any AWS call: the CA bundle (the argument,
/// else `AWS_CA_BUNDLE`) and whether the listed shared files exist (the SDK would otherwise
/// fail later, in the middle of a credential lookup, with less to say).
pub struct LocalFiles {
    pub ca_bundle: Option<CaBundle>,
}

/// `~/…` in the file arguments means the home directory, as in the AWS CLI and
/// terraform-provider-aws (Terraform itself passes the string through unchanged).
pub fn expand_home(s: &mut AwsSettings) {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return;
    };
    let expand = |p: &mut PathBuf| {
        if let Ok(rest) = p.strip_prefix("~") {
            *p = Path::new(&home).join(rest);
        }
    };
    s.shared_config_files.iter_mut().for_each(expand);
    s.shared_credentials_files.iter_mut().for_each(expand);
    s.custom_ca_bundle.iter_mut().for_each(expand);
    if let Some(WebIdentity {
        token: WebIdentityToken::File(p),
        ..
    }) = &mut s.web_identity
    {
        expand(p);
    }
}

impl LocalFiles {
    pub fn read(s: &AwsSettings) -> Result<LocalFiles, Diagnostics> {
        let mut d = Diagnostics::new();
        for (attr, files) in [
            ("shared_config_files", &s.shared_config_files),
            ("shared_credentials_files", &s.shared_credentials_files),
        ] {
            for (i, f) in files.iter().enumerate() {
                if let Err(e) = std::fs::File::open(f) {
                    d.attr_error(
                        AttrPath::root(attr).index(i as i64),
                        "Cannot read shared AWS file",
                        format!("{}: {e}", f.display()),
                    );
                }
            }
        }
        let ca_bundle = match &s.custom_ca_bundle {
            Some(p) => CaBundle::read(p)
                .map_err(|e| {
                    d.attr_error(AttrPath::root("custom_ca_bundle"), "Invalid custom_ca_bundle", e)
                })
                .ok(),
            None => match std::env::var_os(CA_BUNDLE_ENV).filter(|v| !v.is_empty()) {
                Some(p) => CaBundle::read(Path::new(&p))
                    .map_err(|e| {
                        d.push(Diagnostic::error(
                            format!("Invalid {CA_BUNDLE_ENV}"),
                            format!("{e} (from the {CA_BUNDLE_ENV} environment variable; custom_ca_bundle in the provider block wins over it)"),
                        ))
                    })
                    .ok(),
                None => None,
            },
        };
        d.into_result()?;
        Ok(LocalFiles { ca_bundle })
    }
}

/// `allowed_account_ids` / `forbidden_account_ids`: the account of the final credentials, from
/// `sts:GetCallerIdentity`, before any other AWS call. A lookup that fails stops the run too:
/// an unverified account is never taken for an allowed one.
pub async fn check_account(aws: &Aws) -> Result<(), Diagnostics> {
    let policy = &aws.settings().accounts;
    let Some(attr) = policy.attribute() else {
        return Ok(());
    };
    let account = aws.caller_account().await.map_err(|e| {
        Diagnostic::error(
            "Cannot verify the AWS account",
            format!("{attr} is set, so the provider looks up the credentials' account before any other AWS call, and that failed: {e}"),
        )
        .at(AttrPath::root(attr))
    })?;
    policy.check(&account).map_err(|e| {
        Diagnostic::error("Wrong AWS account", e)
            .at(AttrPath::root(attr))
            .into()
    })
}

fn check_url(d: &mut Diagnostics, path: AttrPath, u: &Option<String>) {
    if let Some(u) = u {
        if !looks_like_endpoint(u) {
            d.attr_error(
                path,
                "Invalid endpoint URL",
                format!("{u:?} must be an absolute http:// or https:// URL."),
            );
        }
    }
}

fn endpoints(
    d: &mut Diagnostics,
    block: Option<Vec<BTreeMap<String, Option<String>>>>,
) -> Endpoints {
    let mut block = block
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut out = Endpoints::default();
    for s in Service::ALL {
        let url = block.remove(s.name()).flatten();
        check_url(d, AttrPath::root("endpoints").index(0).attr(s.name()), &url);
        out.set(s, url);
    }
    out
}

fn paths(d: &mut Diagnostics, attr: &str, list: Option<Vec<String>>) -> Vec<PathBuf> {
    let list = list.unwrap_or_default();
    for (i, p) in list.iter().enumerate() {
        if p.trim().is_empty() {
            d.attr_error(
                AttrPath::root(attr).index(i as i64),
                "Empty file path",
                format!("Each entry of {attr} must name a file."),
            );
        }
    }
    list.into_iter().map(PathBuf::from).collect()
}

fn accounts(
    d: &mut Diagnostics,
    stage: Stage,
    allowed: Option<Vec<String>>,
    forbidden: Option<Vec<String>>,
) -> AccountPolicy {
    let mut ids = |attr: &str, list: Vec<String>| -> BTreeSet<AccountId> {
        list.iter()
            .filter_map(|s| match AccountId::parse(s) {
                Ok(id) => Some(id),
                Err(e) => {
                    d.attr_error(AttrPath::root(attr), "Invalid AWS account id", e);
                    None
                }
            })
            .collect()
    };
    // Every id is checked, also when both lists are set: one run reports every mistake.
    let allowed = allowed.map(|l| (l.is_empty(), ids("allowed_account_ids", l)));
    let forbidden = forbidden.map(|l| ids("forbidden_account_ids", l));
    match (allowed, forbidden) {
        (Some(_), Some(_)) => {
            d.attr_error(
                AttrPath::root("forbidden_account_ids"),
                "Conflicting account lists",
                "allowed_account_ids and forbidden_account_ids cannot both be set: use one of them.",
            );
            AccountPolicy::Any
        }
        (Some((empty, ids)), None) => {
            // At validate an empty list may be a list of variables (unknown elements are dropped).
            if empty && stage == Stage::Configure {
                d.attr_error(
                    AttrPath::root("allowed_account_ids"),
                    "No account allowed",
                    "allowed_account_ids is empty, so no account would be allowed. List the accounts, or leave the argument out.",
                );
            }
            AccountPolicy::Allowed(ids)
        }
        (None, Some(ids)) if ids.is_empty() => AccountPolicy::Any,
        (None, Some(ids)) => AccountPolicy::Forbidden(ids),
        (None, None) => AccountPolicy::Any,
    }
}

/// STS's character set for session names and source identities: `[\w+=,.@-]`, 2 to 64 long.
fn check_sts_name(d: &mut Diagnostics, path: AttrPath, what: &str, v: &Option<String>) {
    let Some(v) = v else { return };
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !(2..=64).contains(&v.len()) || !v.chars().all(ok_char) {
        d.attr_error(
            path,
            format!("Invalid {what}"),
            format!("{v:?} must be 2 to 64 characters of letters, digits and _+=,.@-"),
        );
    }
}

fn check_role_arn(d: &mut Diagnostics, path: AttrPath, arn: &str) {
    // arn:<partition>:iam::<account>:role/<path/name>
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && parts[3].is_empty()
        && AccountId::parse(parts[4]).is_ok()
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if !ok {
        d.attr_error(
            path,
            "Invalid role ARN",
            format!("{arn:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)."),
        );
    }
}

fn duration(d: &mut Diagnostics, path: AttrPath, v: &Option<String>) -> Option<SessionDuration> {
    let v = v.as_ref()?;
    match crate::tf::duration::parse(v).and_then(SessionDuration::new) {
        Ok(s) => Some(s),
        Err(e) => {
            d.attr_error(path, "Invalid duration", format!("{v:?}: {e}"));
            None
        }
    }
}

/// Session policies: JSON, at most 2,048 characters (STS's limit for the plaintext).
fn check_policy(d: &mut Diagnostics, path: AttrPath, v: &Option<String>) {
    let Some(v) = v else { return };
    if serde_json::from_str::<serde_json::Value>(v).map_or(true, |j| !j.is_object()) {
        d.attr_error(
            path,
            "Invalid policy",
            "The session policy must be a JSON object (an IAM policy document).",
        );
    } else if v.chars().count() > 2048 {
        d.attr_error(
            path,
            "Policy too long",
            format!(
                "STS accepts session policies of up to 2048 characters; this one has {}.",
                v.chars().count()
            ),
        );
    }
}

fn check_policy_arns(d: &mut Diagnostics, path: AttrPath, arns: &[String]) {
    if arns.len() > 10 {
        d.attr_error(
            path.clone(),
            "Too many policy ARNs",
            format!(
                "STS accepts at most 10 managed session policies; {} are set.",
                arns.len()
            ),
        );
    }
    for a in arns {
        if !a.starts_with("arn:") || !a.contains(":policy/") {
            d.attr_error(
                path.clone(),
                "Invalid policy ARN",
                format!(
                    "{a:?} is not an IAM policy ARN (arn:aws:iam::<account or aws>:policy/<name>)."
                ),
            );
        }
    }
}

fn assume_role(d: &mut Diagnostics, b: AssumeRoleBlock) -> AssumeRole {
    let at = |a: &str| AttrPath::root("assume_role").index(0).attr(a);
    // Null only when unknown at validate (the attribute is required).
    let role_arn = b.role_arn.unwrap_or_default();
    if !role_arn.is_empty() {
        check_role_arn(d, at("role_arn"), &role_arn);
    }
    check_sts_name(d, at("session_name"), "session_name", &b.session_name);
    check_sts_name(
        d,
        at("source_identity"),
        "source_identity",
        &b.source_identity,
    );
    if let Some(e) = &b.external_id {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c);
        if !(2..=1224).contains(&e.len()) || !e.chars().all(ok_char) {
            d.attr_error(
                at("external_id"),
                "Invalid external_id",
                "The external id must be 2 to 1224 characters of letters, digits and _+=,.@:/-",
            );
        }
    }
    let duration = duration(d, at("duration"), &b.duration);
    check_policy(d, at("policy"), &b.policy);
    let policy_arns = b.policy_arns.unwrap_or_default();
    check_policy_arns(d, at("policy_arns"), &policy_arns);
    let tags = b.tags.unwrap_or_default();
    crate::resources::limits::check_tags(&at("tags"), &tags, d);
    if tags.len() > 50 {
        d.attr_error(
            at("tags"),
            "Too many session tags",
            format!(
                "STS accepts at most 50 session tags; {} are set.",
                tags.len()
            ),
        );
    }
    AssumeRole {
        role_arn,
        session_name: b.session_name,
        external_id: b.external_id,
        duration,
        policy: b.policy,
        policy_arns,
        tags,
        transitive_tag_keys: b.transitive_tag_keys.unwrap_or_default(),
        source_identity: b.source_identity,
    }
}

fn web_identity(d: &mut Diagnostics, stage: Stage, b: WebIdentityBlock) -> Option<WebIdentity> {
    let at = |a: &str| {
        AttrPath::root("assume_role_with_web_identity")
            .index(0)
            .attr(a)
    };
    let role_arn = b.role_arn.unwrap_or_default();
    if !role_arn.is_empty() {
        check_role_arn(d, at("role_arn"), &role_arn);
    }
    check_sts_name(d, at("session_name"), "session_name", &b.session_name);
    let duration = duration(d, at("duration"), &b.duration);
    check_policy(d, at("policy"), &b.policy);
    let policy_arns = b.policy_arns.unwrap_or_default();
    check_policy_arns(d, at("policy_arns"), &policy_arns);
    let token = match (b.web_identity_token, b.web_identity_token_file) {
        (Some(_), Some(_)) => {
            d.attr_error(
                at("web_identity_token_file"),
                "Conflicting web identity tokens",
                "Set web_identity_token or web_identity_token_file, not both.",
            );
            None
        }
        (Some(t), None) if t.len() < 4 => {
            // STS's minimum; a shorter value is a mistake (an unset variable, a path).
            d.attr_error(
                at("web_identity_token"),
                "Invalid web identity token",
                "The token is shorter than STS accepts (4 characters).",
            );
            None
        }
        (Some(t), None) => Some(WebIdentityToken::Inline(t)),
        (None, Some(f)) if f.trim().is_empty() => {
            d.attr_error(
                at("web_identity_token_file"),
                "Empty file path",
                "web_identity_token_file must name the file holding the token.",
            );
            None
        }
        (None, Some(f)) => Some(WebIdentityToken::File(PathBuf::from(f))),
        (None, None) => {
            // At validate both may be variables.
            if stage == Stage::Configure {
                d.attr_error(
                    AttrPath::root("assume_role_with_web_identity").index(0),
                    "Missing web identity token",
                    "assume_role_with_web_identity needs web_identity_token or web_identity_token_file.",
                );
            }
            None
        }
    };
    Some(WebIdentity {
        role_arn,
        session_name: b.session_name,
        token: token?,
        duration,
        policy: b.policy,
        policy_arns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::value::conform;

    fn cfg(pairs: Vec<(&str, Value)>) -> Value {
        conform(Value::object(pairs), &schema().block.value_type()).expect("fits the schema")
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn set(v: &[&str]) -> Value {
        Value::Set(v.iter().map(|x| s(x)).collect())
    }

    fn block(pairs: Vec<(&str, Value)>) -> Value {
        Value::List(vec![Value::object(pairs)])
    }

    /// (path, summary) of each error of parsing at configure.
    fn refusals(v: &Value) -> Vec<(String, String)> {
        match parse(v) {
            Ok(_) => vec![],
            Err(d) => {
                d.0.iter()
                    .map(|d| {
                        let p = d.path.as_ref().map(|p| p.to_string()).unwrap_or_default();
                        (p, d.summary.clone())
                    })
                    .collect()
            }
        }
    }

    #[test]
    fn account_lists_parse_into_a_policy() {
        let ok = parse(&cfg(vec![("allowed_account_ids", set(&["123456789012"]))])).unwrap();
        assert_eq!(
            ok.accounts,
            AccountPolicy::Allowed([AccountId::parse("123456789012").unwrap()].into())
        );
        let ok = parse(&cfg(vec![(
            "forbidden_account_ids",
            set(&["111111111111"]),
        )]))
        .unwrap();
        assert!(matches!(ok.accounts, AccountPolicy::Forbidden(_)));
        assert_eq!(parse(&cfg(vec![])).unwrap().accounts, AccountPolicy::Any);
    }

    #[test]
    fn account_lists_are_refused_with_their_paths() {
        let both = cfg(vec![
            ("allowed_account_ids", set(&["123456789012"])),
            ("forbidden_account_ids", set(&["111111111111"])),
        ]);
        assert_eq!(
            refusals(&both),
            [(
                "forbidden_account_ids".into(),
                "Conflicting account lists".into()
            )]
        );
        let bad = cfg(vec![(
            "allowed_account_ids",
            set(&["12345", "123456789012"]),
        )]);
        assert_eq!(
            refusals(&bad),
            [(
                "allowed_account_ids".into(),
                "Invalid AWS account id".into()
            )]
        );
        let empty = cfg(vec![("allowed_account_ids", set(&[]))]);
        assert_eq!(
            refusals(&empty),
            [("allowed_account_ids".into(), "No account allowed".into())]
        );
    }

    #[test]
    fn variables_pass_validate_and_wait_for_configure() {
        // `terraform validate` sends variables as unknown: whole lists, elements, block arguments.
        let v = cfg(vec![
            ("allowed_account_ids", Value::Set(vec![Value::unknown()])),
            ("forbidden_account_ids", Value::unknown()),
            ("custom_ca_bundle", Value::unknown()),
            ("shared_config_files", Value::List(vec![Value::unknown()])),
            (
                "assume_role",
                block(vec![
                    ("role_arn", Value::unknown()),
                    ("duration", Value::unknown()),
                    ("tags", Value::unknown()),
                ]),
            ),
            (
                "assume_role_with_web_identity",
                block(vec![
                    ("role_arn", Value::unknown()),
                    ("web_identity_token_file", Value::unknown()),
                ]),
            ),
            ("endpoints", block(vec![("elbv2", Value::unknown())])),
        ]);
        assert!(validate(&v).is_empty(), "{:?}", validate(&v));
        let r = refusals(&v);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].1, "Provider configuration not known until apply");
    }

    #[test]
    fn assume_role_arguments_become_typed_values() {
        let v = cfg(vec![(
            "assume_role",
            block(vec![
                ("role_arn", s("arn:aws:iam::123456789012:role/deploy")),
                ("session_name", s("ci-run_1")),
                ("external_id", s("ext-1")),
                ("duration", s("1h30m")),
                ("policy", s(r#"{"Version":"2012-10-17","Statement":[]}"#)),
                (
                    "policy_arns",
                    set(&["arn:aws:iam::aws:policy/ReadOnlyAccess"]),
                ),
                ("tags", Value::Map([("team".into(), s("web"))].into())),
                ("transitive_tag_keys", set(&["team"])),
                ("source_identity", s("alice")),
            ]),
        )]);
        let r = parse(&v).unwrap().assume_role.unwrap();
        assert_eq!(r.duration.unwrap().seconds(), 5400);
        assert_eq!(r.policy_arns, ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
        assert_eq!(r.tags["team"], "web");
        assert_eq!(r.transitive_tag_keys, ["team"]);
        assert_eq!(r.source_identity.as_deref(), Some("alice"));
    }

    #[test]
    fn bad_assume_role_arguments_name_their_attribute() {
        let at = |a: &str| format!("assume_role[0].{a}");
        for (attr, value, summary) in [
            ("role_arn", s("arn:aws:iam::123:role/x"), "Invalid role ARN"),
            ("role_arn", s("deploy"), "Invalid role ARN"),
            ("session_name", s("a b"), "Invalid session_name"),
            ("source_identity", s("x"), "Invalid source_identity"),
            ("external_id", s("e"), "Invalid external_id"),
            ("duration", s("10m"), "Invalid duration"),
            ("duration", s("13h"), "Invalid duration"),
            ("duration", s("3600"), "Invalid duration"),
            ("policy", s("not json"), "Invalid policy"),
            (
                "policy_arns",
                set(&["ReadOnlyAccess"]),
                "Invalid policy ARN",
            ),
        ] {
            let mut args = vec![("role_arn", s("arn:aws:iam::123456789012:role/deploy"))];
            args.retain(|(k, _)| *k != attr);
            args.push((attr, value));
            let r = refusals(&cfg(vec![("assume_role", block(args))]));
            assert_eq!(r, [(at(attr), summary.to_string())], "{attr}");
        }
    }

    #[test]
    fn web_identity_needs_exactly_one_token() {
        let web = |extra: Vec<(&'static str, Value)>| {
            let mut args = vec![("role_arn", s("arn:aws:iam::123456789012:role/ci"))];
            args.extend(extra);
            cfg(vec![("assume_role_with_web_identity", block(args))])
        };
        let file = parse(&web(vec![("web_identity_token_file", s("/run/token"))])).unwrap();
        assert_eq!(
            file.web_identity.unwrap().token,
            WebIdentityToken::File("/run/token".into())
        );
        assert_eq!(
            refusals(&web(vec![])),
            [(
                "assume_role_with_web_identity[0]".into(),
                "Missing web identity token".into()
            )]
        );
        assert_eq!(
            refusals(&web(vec![
                ("web_identity_token", s("token-abc")),
                ("web_identity_token_file", s("/run/token")),
            ])),
            [(
                "assume_role_with_web_identity[0].web_identity_token_file".into(),
                "Conflicting web identity tokens".into()
            )]
        );
    }

    #[test]
    fn every_service_endpoint_is_read_and_checked() {
        let v = cfg(vec![(
            "endpoints",
            block(vec![
                ("elb", s("http://127.0.0.1:1")),
                ("elbv2", s("http://127.0.0.1:2")),
                ("sts", s("sts.local")),
            ]),
        )]);
        assert_eq!(
            refusals(&v),
            [("endpoints[0].sts".into(), "Invalid endpoint URL".into())]
        );
        let v = cfg(vec![(
            "endpoints",
            block(vec![
                ("elb", s("http://127.0.0.1:1")),
                ("elbv2", s("http://127.0.0.1:2")),
            ]),
        )]);
        let e = parse(&v).unwrap().endpoints;
        assert_eq!(e.get(Service::Elb).unwrap(), "http://127.0.0.1:1");
        assert_eq!(e.get(Service::Elbv2).unwrap(), "http://127.0.0.1:2");
        assert_eq!(e.get(Service::Ec2), None);
    }

    #[test]
    fn a_leading_tilde_is_the_home_directory() {
        let v = cfg(vec![
            (
                "shared_config_files",
                Value::List(vec![s("~/.aws/team-config"), s("/etc/aws")]),
            ),
            ("custom_ca_bundle", s("~/ca.pem")),
            (
                "assume_role_with_web_identity",
                block(vec![
                    ("role_arn", s("arn:aws:iam::123456789012:role/ci")),
                    ("web_identity_token_file", s("~/token")),
                ]),
            ),
        ]);
        let mut settings = parse(&v).unwrap();
        expand_home(&mut settings);
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        assert_eq!(
            settings.shared_config_files,
            [home.join(".aws/team-config"), "/etc/aws".into()]
        );
        assert_eq!(settings.custom_ca_bundle, Some(home.join("ca.pem")));
        assert_eq!(
            settings.web_identity.unwrap().token,
            WebIdentityToken::File(home.join("token"))
        );
    }

    #[test]
    fn missing_local_files_are_refused_at_configure_with_their_paths() {
        let v = cfg(vec![
            (
                "shared_config_files",
                Value::List(vec![s("/nonexistent/config")]),
            ),
            ("custom_ca_bundle", s("/nonexistent/ca.pem")),
        ]);
        let settings = parse(&v).unwrap();
        let d = match LocalFiles::read(&settings) {
            Ok(_) => panic!("missing files accepted"),
            Err(d) => d,
        };
        let paths: Vec<String> =
            d.0.iter()
                .filter_map(|d| d.path.as_ref().map(|p| p.to_string()))
                .collect();
        assert_eq!(paths, ["shared_config_files[0]", "custom_ca_bundle"]);
    }
}
