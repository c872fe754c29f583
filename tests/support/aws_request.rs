//! Which AWS call an HTTP request is: service and region from the SigV4 credential scope of
//! the `Authorization` header, action from the `Action=` form field (EC2, Auto Scaling, ELB:
//! the query protocols) or the `X-Amz-Target` header (SSM: JSON protocol).
//! Shared by the moto recorder parser and the fault proxy so both name calls the same way.

use crate::http::header;

/// Service, region and action of one AWS request. Any part may be unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsCall {
    /// The SigV4 signing name: `ec2`, `autoscaling`, `ssm`, `elasticloadbalancing`, ...
    pub service: Option<String>,
    pub region: Option<String>,
    /// The operation name without any prefix: `DescribeImages`, `SendCommand` (not
    /// `AmazonSSM.SendCommand`).
    pub action: Option<String>,
}

impl AwsCall {
    /// Identifies a request from its target (path and query), headers and body.
    pub fn identify(target: &str, headers: &[(String, String)], body: &[u8]) -> AwsCall {
        let (region, service) = header(headers, "authorization")
            .and_then(credential_scope)
            .map(|(r, s)| (Some(r), Some(s)))
            .unwrap_or((None, None));
        let action = header(headers, "x-amz-target")
            .map(strip_target_prefix)
            .or_else(|| form_field(body, "Action"))
            .or_else(|| {
                target
                    .split_once('?')
                    .and_then(|(_, q)| form_field(q.as_bytes(), "Action"))
            });
        AwsCall {
            service,
            region,
            action,
        }
    }
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/ec2/aws4_request, SignedHeaders=...`
/// gives `("us-east-1", "ec2")`.
pub fn credential_scope(authorization: &str) -> Option<(String, String)> {
    let start = authorization.find("Credential=")? + "Credential=".len();
    let scope = authorization[start..]
        .split([',', ' '])
        .next()
        .unwrap_or_default();
    let parts: Vec<&str> = scope.split('/').collect();
    // AKID / date / region / service / aws4_request
    if parts.len() >= 5 {
        Some((parts[2].to_string(), parts[3].to_string()))
    } else {
        None
    }
}

/// `AmazonSSM.SendCommand` gives `SendCommand`; a name without a dot is kept.
pub fn strip_target_prefix(target: &str) -> String {
    let target = target.trim();
    target
        .rsplit_once('.')
        .map_or(target, |(_, op)| op)
        .to_string()
}

/// The value of one field of an `application/x-www-form-urlencoded` body (percent-decoded).
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_actions() {
        assert_eq!(
            credential_scope("AWS4-HMAC-SHA256 Credential=testing/20261126/eu-west-3/ssm/aws4_request, SignedHeaders=host, Signature=00"),
            Some(("eu-west-3".into(), "ssm".into()))
        );
        assert_eq!(credential_scope("Bearer x"), None);
        assert_eq!(strip_target_prefix("AmazonSSM.SendCommand"), "SendCommand");
        assert_eq!(
            form_field(
                b"Action=DescribeImages&Version=2016-11-15&Owner.1=self",
                "Action"
            ),
            Some("DescribeImages".into())
        );
        assert_eq!(form_field(b"A%63tion=X%2BY", "Action"), Some("X+Y".into()));
        assert_eq!(form_field(b"Version=1", "Action"), None);
        let headers = vec![
            (
                "X-Amz-Target".to_string(),
                "AmazonSSM.GetCommandInvocation".to_string(),
            ),
            (
                "authorization".to_string(),
                "AWS4-HMAC-SHA256 Credential=a/20260101/us-west-2/ssm/aws4_request".to_string(),
            ),
        ];
        let call = AwsCall::identify("/", &headers, b"{}");
        assert_eq!(call.action.as_deref(), Some("GetCommandInvocation"));
        assert_eq!(call.region.as_deref(), Some("us-west-2"));
        assert_eq!(call.service.as_deref(), Some("ssm"));
        let call = AwsCall::identify("/?Action=DescribeTags&Version=1", &[], b"");
        assert_eq!(call.action.as_deref(), Some("DescribeTags"));
    }
}
