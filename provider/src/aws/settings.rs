//! How to reach AWS, as the provider block says it. Parsed and validated without any network.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AwsSettings {
    /// None: the standard chain decides (AWS_REGION, AWS_DEFAULT_REGION, the profile's region).
    pub region: Option<String>,
    pub profile: Option<String>,
    pub assume_role: Option<AssumeRole>,
    /// One URL for every service (the local emulator). `AWS_ENDPOINT_URL` also works when unset.
    pub endpoint: Option<String>,
    pub endpoints: Endpoints,
    pub default_tags: BTreeMap<String, String>,
    pub max_attempts: u32,
    pub retry_mode: RetryMode,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
}

/// Per-service endpoint overrides; each wins over `endpoint` for its service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoints {
    pub ec2: Option<String>,
    pub autoscaling: Option<String>,
    pub ssm: Option<String>,
    pub sts: Option<String>,
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
    fn endpoint_shapes() {
        assert!(looks_like_endpoint("http://127.0.0.1:5000"));
        assert!(!looks_like_endpoint("127.0.0.1:5000"));
        assert!(!looks_like_endpoint("https://"));
    }
}
