//! The `provider "immutable" { … }` block: its schema, static validation and parsing into
//! `AwsSettings`. Nothing here talks to AWS.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::aws::settings::{looks_like_endpoint, looks_like_region};
use crate::aws::{AssumeRole, AwsSettings, Endpoints, RetryMode};
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::schema::{map_of, number, string, Attribute, Block, NestedBlock, Schema};
use crate::tf::value::{from_value, Value};

const DEFAULT_MAX_ATTEMPTS: u32 = 8;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("Bakes AMIs and rolls Auto Scaling groups onto them. Credentials come from the standard AWS chain: environment, shared config/credentials files (`profile`), SSO, web identity, ECS and EC2 instance metadata.")
            .attr(Attribute::optional("region", string(), "AWS region, e.g. `us-east-1`. Defaults to `AWS_REGION` / `AWS_DEFAULT_REGION` or the profile's region."))
            .attr(Attribute::optional("profile", string(), "Named profile from the shared AWS config and credentials files."))
            .attr(Attribute::optional("endpoint", string(), "One endpoint URL for every AWS service, e.g. a local emulator at `http://127.0.0.1:5000`. When unset, the standard `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` variables are honoured."))
            .attr(Attribute::optional("max_retries", number(), &format!("How many times a failed AWS call that is safe to retry (throttling, 5xx, timeouts) is retried, with exponential backoff. Default {}.", DEFAULT_MAX_ATTEMPTS - 1)))
            .attr(Attribute::optional("retry_mode", string(), "`standard` (default) or `adaptive` (client-side rate limiting when AWS throttles; kinder to an account shared with other tools)."))
            .block(NestedBlock::single(
                "assume_role",
                Block::new("Assume this IAM role (through STS) with the credentials found by the standard chain.")
                    .attr(Attribute::required("role_arn", string(), "ARN of the role to assume."))
                    .attr(Attribute::optional("session_name", string(), "Session name recorded in CloudTrail. Default `terraform-provider-immutable`."))
                    .attr(Attribute::optional("external_id", string(), "External id the role's trust policy requires.")),
            ))
            .block(NestedBlock::single(
                "endpoints",
                Block::new("Per-service endpoint URLs; each wins over `endpoint` for its service.")
                    .attr(Attribute::optional("ec2", string(), "EC2 endpoint URL."))
                    .attr(Attribute::optional("autoscaling", string(), "Auto Scaling endpoint URL."))
                    .attr(Attribute::optional("ssm", string(), "Systems Manager endpoint URL."))
                    .attr(Attribute::optional("sts", string(), "STS endpoint URL, used for `assume_role`.")),
            ))
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
    endpoint: Option<String>,
    max_retries: Option<i64>,
    retry_mode: Option<String>,
    #[serde(default)]
    assume_role: Option<Vec<AssumeRoleBlock>>,
    #[serde(default)]
    endpoints: Option<Vec<EndpointsBlock>>,
    #[serde(default)]
    default_tags: Option<Vec<DefaultTagsBlock>>,
}

#[derive(Deserialize)]
struct AssumeRoleBlock {
    role_arn: Option<String>,
    session_name: Option<String>,
    external_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct EndpointsBlock {
    ec2: Option<String>,
    autoscaling: Option<String>,
    ssm: Option<String>,
    sts: Option<String>,
}

#[derive(Deserialize)]
struct DefaultTagsBlock {
    tags: Option<BTreeMap<String, String>>,
}

/// Static checks; unknown values (from other resources) are skipped, they are checked again when
/// the provider is configured.
///
/// `terraform validate` sends every variable as unknown (`default_tags { tags = { env = var.env } }`,
/// `assume_role { role_arn = var.role }`): the known part is checked, the rest waits for configure.
pub fn validate(v: &Value) -> Diagnostics {
    match settings(&v.known_part()) {
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
    settings(v)
}

fn settings(v: &Value) -> Result<AwsSettings, Diagnostics> {
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
    let check_url = |d: &mut Diagnostics, path: AttrPath, u: &Option<String>| {
        if let Some(u) = u {
            if !looks_like_endpoint(u) {
                d.attr_error(
                    path,
                    "Invalid endpoint URL",
                    format!("{u:?} must be an absolute http:// or https:// URL."),
                );
            }
        }
    };
    check_url(&mut d, AttrPath::root("endpoint"), &c.endpoint);
    let ep = c
        .endpoints
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    for (name, u) in [
        ("ec2", &ep.ec2),
        ("autoscaling", &ep.autoscaling),
        ("ssm", &ep.ssm),
        ("sts", &ep.sts),
    ] {
        check_url(&mut d, AttrPath::root("endpoints").index(0).attr(name), u);
    }
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
    let assume_role = match c.assume_role.unwrap_or_default().into_iter().next() {
        None => None,
        Some(AssumeRoleBlock {
            role_arn,
            session_name,
            external_id,
        }) => {
            // Null only when unknown at validate (the attribute is required).
            let role_arn = role_arn.unwrap_or_default();
            if !role_arn.is_empty() && !role_arn.starts_with("arn:") {
                d.attr_error(
                    AttrPath::root("assume_role").index(0).attr("role_arn"),
                    "Invalid role ARN",
                    format!(
                        "{role_arn:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
                    ),
                );
            }
            Some(AssumeRole {
                role_arn,
                session_name,
                external_id,
            })
        }
    };
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
        assume_role,
        endpoint: c.endpoint,
        endpoints: Endpoints {
            ec2: ep.ec2,
            autoscaling: ep.autoscaling,
            ssm: ep.ssm,
            sts: ep.sts,
        },
        default_tags,
        max_attempts,
        retry_mode,
    })
}
