//! Credentials from STS, as the provider block asks: `assume_role_with_web_identity` (an OIDC
//! token for a role) and `assume_role` (a role assumed with the credentials found so far).
//!
//! aws-config's own providers cover neither fully (its `AssumeRoleProvider` sends no transitive
//! tag keys or source identity; its web identity provider reads only a token file and sends no
//! session policy), so both calls are made here. The SDK's identity cache, shared by every client
//! of one SDK configuration, keeps the answer until shortly before it expires.

use std::time::SystemTime;

use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sdk_sts::types::{PolicyDescriptorType, Tag};

use super::error::ErrorContext;
use super::settings::{AssumeRole, WebIdentity, WebIdentityToken, DEFAULT_SESSION_NAME};
use super::AwsError;

/// `sts:AssumeRole` with every parameter of `assume_role { … }`.
#[derive(Debug)]
pub struct AssumedRole {
    pub sts: aws_sdk_sts::Client,
    pub role: AssumeRole,
}

impl AssumedRole {
    async fn assume(&self) -> Result<Credentials, CredentialsError> {
        let r = &self.role;
        let tags = r
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(CredentialsError::invalid_configuration)?;
        let out = self
            .sts
            .assume_role()
            .role_arn(&r.role_arn)
            .role_session_name(session_name(&r.session_name))
            .set_external_id(r.external_id.clone())
            .set_duration_seconds(r.duration.map(|d| d.seconds()))
            .set_policy(r.policy.clone())
            .set_policy_arns(policy_arns(&r.policy_arns))
            .set_tags((!tags.is_empty()).then_some(tags))
            .set_transitive_tag_keys(
                (!r.transitive_tag_keys.is_empty()).then(|| r.transitive_tag_keys.clone()),
            )
            .set_source_identity(r.source_identity.clone())
            .send()
            .await
            .context("AssumeRole", &r.role_arn)
            .map_err(CredentialsError::provider_error)?;
        credentials(out.credentials, "AssumeRole", &r.role_arn)
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.assume())
    }
}

/// `sts:AssumeRoleWithWebIdentity`. The call is not signed: it needs no other credentials.
#[derive(Debug)]
pub struct WebIdentityRole {
    pub sts: aws_sdk_sts::Client,
    pub web: WebIdentity,
}

impl WebIdentityRole {
    async fn assume(&self) -> Result<Credentials, CredentialsError> {
        let w = &self.web;
        let token = match &w.token {
            WebIdentityToken::Inline(t) => t.clone(),
            // Read at every refresh: the file is rotated under us.
            WebIdentityToken::File(p) => tokio::fs::read_to_string(p)
                .await
                .map_err(|e| {
                    CredentialsError::invalid_configuration(AwsError::setup(format!(
                        "cannot read web_identity_token_file {}: {e}",
                        p.display()
                    )))
                })?
                .trim()
                .to_string(),
        };
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&w.role_arn)
            .role_session_name(session_name(&w.session_name))
            .web_identity_token(token)
            .set_duration_seconds(w.duration.map(|d| d.seconds()))
            .set_policy(w.policy.clone())
            .set_policy_arns(policy_arns(&w.policy_arns))
            .send()
            .await
            .context("AssumeRoleWithWebIdentity", &w.role_arn)
            .map_err(CredentialsError::provider_error)?;
        credentials(out.credentials, "AssumeRoleWithWebIdentity", &w.role_arn)
    }
}

impl ProvideCredentials for WebIdentityRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.assume())
    }
}

fn session_name(given: &Option<String>) -> String {
    given
        .clone()
        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string())
}

fn policy_arns(arns: &[String]) -> Option<Vec<PolicyDescriptorType>> {
    (!arns.is_empty()).then(|| {
        arns.iter()
            .map(|a| PolicyDescriptorType::builder().arn(a).build())
            .collect()
    })
}

fn credentials(
    c: Option<aws_sdk_sts::types::Credentials>,
    operation: &str,
    role: &str,
) -> Result<Credentials, CredentialsError> {
    let c = c.ok_or_else(|| {
        CredentialsError::provider_error(AwsError::new(
            operation,
            role,
            "STS answered without credentials",
        ))
    })?;
    let expiry = SystemTime::try_from(c.expiration).ok();
    Ok(Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        expiry,
        "immutable-provider-sts",
    ))
}
