//! How to reach AWS, as the provider block says it. Parsed and validated without any network.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AwsSettings {
    /// None: the standard chain decides (AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Shared config / credentials files replacing the defaults (`~/.aws/config`,
    /// `~/.aws/credentials`, or `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`); empty: the
    /// defaults. Each list replaces only its own kind.
    pub shared_config_files: Vec<PathBuf>,
    pub shared_credentials_files: Vec<PathBuf>,
    /// Credentials from a web identity token (OIDC) instead of the standard chain.
    pub web_identity: Option<WebIdentity>,
    /// A role assumed with the credentials found so far (the chain's, or the web identity's).
    pub assume_role: Option<AssumeRole>,
    /// Which accounts the credentials may belong to; checked once, before any other AWS call.
    pub accounts: AccountPolicy,
    /// One URL for every service (the local emulator). `AWS_ENDPOINT_URL` also works when unset.
    pub endpoint: Option<String>,
    pub endpoints: Endpoints,
    /// A PEM file of extra certificate authorities for the AWS endpoints (`custom_ca_bundle`;
    /// `AWS_CA_BUNDLE` is read at configure when this is unset).
    pub custom_ca_bundle: Option<PathBuf>,
    pub default_tags: BTreeMap<String, String>,
    pub max_attempts: u32,
    pub retry_mode: RetryMode,
}

/// The session name STS records (CloudTrail) when the configuration gives none.
pub const DEFAULT_SESSION_NAME: &str = "terraform-provider-immutable";

/// `assume_role { … }`: the parameters of one `sts:AssumeRole` call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    /// None: STS's default (one hour).
    pub duration: Option<SessionDuration>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
}

/// `assume_role_with_web_identity { … }`: the parameters of `sts:AssumeRoleWithWebIdentity`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebIdentity {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub token: WebIdentityToken,
    pub duration: Option<SessionDuration>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
}

#[derive(Clone, PartialEq)]
pub enum WebIdentityToken {
    /// The token itself (`web_identity_token`).
    Inline(String),
    /// A file holding it, read at every refresh: CI runners and Kubernetes rotate the file.
    File(PathBuf),
}

impl fmt::Debug for WebIdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A token is a credential: never in a log line.
            WebIdentityToken::Inline(_) => f.write_str("Inline(<redacted>)"),
            WebIdentityToken::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// A role session's length, within what STS accepts (15 minutes to 12 hours; the role's own
/// maximum session duration may be lower, and STS says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionDuration(Duration);

impl SessionDuration {
    pub const MIN: Duration = Duration::from_secs(15 * 60);
    pub const MAX: Duration = Duration::from_secs(12 * 60 * 60);

    pub fn new(d: Duration) -> Result<Self, String> {
        if d < Self::MIN || d > Self::MAX {
            return Err(format!(
                "{}s is outside what STS accepts: 15m to 12h.",
                d.as_secs()
            ));
        }
        Ok(SessionDuration(d))
    }

    /// Whole seconds, as STS takes them (a fraction is dropped).
    pub fn seconds(self) -> i32 {
        self.0.as_secs() as i32
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_string()))
        } else {
            Err(format!("{s:?} is not an AWS account id (12 digits)."))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `allowed_account_ids` / `forbidden_account_ids` (at most one of them).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum AccountPolicy {
    #[default]
    Any,
    Allowed(BTreeSet<AccountId>),
    Forbidden(BTreeSet<AccountId>),
}

impl AccountPolicy {
    /// Whether the credentials' account must be looked up before anything else.
    pub fn needs_check(&self) -> bool {
        !matches!(self, AccountPolicy::Any)
    }

    /// Why `account` may not be used, or `Ok` when it may.
    pub fn check(&self, account: &str) -> Result<(), String> {
        let list = |ids: &BTreeSet<AccountId>| {
            ids.iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            AccountPolicy::Any => Ok(()),
            AccountPolicy::Allowed(ids) if ids.iter().any(|a| a.as_str() == account) => Ok(()),
            AccountPolicy::Allowed(ids) => Err(format!(
                "The credentials belong to AWS account {account}, which is not in allowed_account_ids [{}]. Nothing was changed.",
                list(ids)
            )),
            AccountPolicy::Forbidden(ids) if ids.iter().any(|a| a.as_str() == account) => {
                Err(format!(
                    "The credentials belong to AWS account {account}, which is in forbidden_account_ids [{}]. Nothing was changed.",
                    list(ids)
                ))
            }
            AccountPolicy::Forbidden(_) => Ok(()),
        }
    }

    /// The attribute the policy came from, for diagnostics.
    pub fn attribute(&self) -> Option<&'static str> {
        match self {
            AccountPolicy::Any => None,
            AccountPolicy::Allowed(_) => Some("allowed_account_ids"),
            AccountPolicy::Forbidden(_) => Some("forbidden_account_ids"),
        }
    }
}

/// The services the provider calls, by their `endpoints { … }` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ec2,
    Autoscaling,
    Ssm,
    Sts,
    Elb,
    Elbv2,
}

impl Service {
    /// What the provider calls the service for, when that is not obvious from its name.
    pub fn used_for(self) -> &'static str {
        match self {
            Service::Sts => {
                " Used by `assume_role`, `assume_role_with_web_identity` and the account check."
            }
            _ => "",
        }
    }

    pub const ALL: [Service; 6] = [
        Service::Ec2,
        Service::Autoscaling,
        Service::Ssm,
        Service::Sts,
        Service::Elb,
        Service::Elbv2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::Autoscaling => "autoscaling",
            Service::Ssm => "ssm",
            Service::Sts => "sts",
            Service::Elb => "elb",
            Service::Elbv2 => "elbv2",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Autoscaling => "Auto Scaling",
            Service::Ssm => "Systems Manager",
            Service::Sts => "STS",
            Service::Elb => "Classic Load Balancing",
            Service::Elbv2 => "Elastic Load Balancing v2 (target groups)",
        }
    }
}

/// Per-service endpoint overrides; each wins over `endpoint` for its service. `ec2` applies to
/// the provider's own region only: clients for other regions (image copies) keep the regional
/// endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoints {
    pub ec2: Option<String>,
    pub autoscaling: Option<String>,
    pub ssm: Option<String>,
    pub sts: Option<String>,
    pub elb: Option<String>,
    pub elbv2: Option<String>,
}

impl Endpoints {
    pub fn get(&self, s: Service) -> Option<&String> {
        match s {
            Service::Ec2 => self.ec2.as_ref(),
            Service::Autoscaling => self.autoscaling.as_ref(),
            Service::Ssm => self.ssm.as_ref(),
            Service::Sts => self.sts.as_ref(),
            Service::Elb => self.elb.as_ref(),
            Service::Elbv2 => self.elbv2.as_ref(),
        }
    }

    pub fn set(&mut self, s: Service, url: Option<String>) {
        *match s {
            Service::Ec2 => &mut self.ec2,
            Service::Autoscaling => &mut self.autoscaling,
            Service::Ssm => &mut self.ssm,
            Service::Sts => &mut self.sts,
            Service::Elb => &mut self.elb,
            Service::Elbv2 => &mut self.elbv2,
        } = url;
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RetryMode {
    #[default]
    Standard,
    /// Client-side rate limiting on throttling answers: kinder to a shared account-wide bucket.
    Adaptive,
}

/// Region names look like `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`; catching a
/// typo here beats a DNS failure after a long timeout.
pub fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return false;
    }
    let ok_word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase());
    let last = parts[parts.len() - 1];
    parts[0].len() == 2
        && ok_word(parts[0])
        && parts[1..parts.len() - 1].iter().all(|p| ok_word(p))
        && !last.is_empty()
        && last.chars().all(|c| c.is_ascii_digit())
}

/// An endpoint must be an absolute http(s) URL; anything else would only fail at the first call.
pub fn looks_like_endpoint(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > "https://".len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_shapes() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
            "cn-north-1",
        ] {
            assert!(looks_like_region(ok), "{ok}");
        }
        for bad in [
            "us-east",
            "useast1",
            "us_east_1",
            "US-EAST-1",
            "us-east-1a",
            "",
            "u-east-1",
        ] {
            assert!(!looks_like_region(bad), "{bad}");
        }
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
            " 23456789012",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn account_policy_names_the_account_and_the_list() {
        let ids = |v: &[&str]| v.iter().map(|s| AccountId::parse(s).unwrap()).collect();
        let allowed = AccountPolicy::Allowed(ids(&["111111111111", "222222222222"]));
        assert_eq!(allowed.check("111111111111"), Ok(()));
        let e = allowed.check("123456789012").unwrap_err();
        assert!(
            e.contains("123456789012") && e.contains("[111111111111, 222222222222]"),
            "{e}"
        );
        let forbidden = AccountPolicy::Forbidden(ids(&["123456789012"]));
        assert_eq!(forbidden.check("111111111111"), Ok(()));
        assert!(forbidden
            .check("123456789012")
            .unwrap_err()
            .contains("forbidden_account_ids"));
        assert_eq!(AccountPolicy::Any.check("123456789012"), Ok(()));
        assert!(!AccountPolicy::Any.needs_check());
    }

    #[test]
    fn session_durations_within_sts_limits() {
        assert!(SessionDuration::new(Duration::from_secs(899)).is_err());
        assert_eq!(
            SessionDuration::new(Duration::from_secs(900))
                .unwrap()
                .seconds(),
            900
        );
        assert!(SessionDuration::new(Duration::from_secs(43_200)).is_ok());
        assert!(SessionDuration::new(Duration::from_secs(43_201)).is_err());
    }

    #[test]
    fn tokens_stay_out_of_debug_output() {
        let t = WebIdentityToken::Inline("eyJsecret".into());
        assert!(!format!("{t:?}").contains("eyJ"));
    }

    #[test]
    fn endpoint_shapes() {
        assert!(looks_like_endpoint("http://127.0.0.1:5000"));
        assert!(!looks_like_endpoint("127.0.0.1:5000"));
        assert!(!looks_like_endpoint("https://"));
    }
}
