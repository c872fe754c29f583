use std::collections::BTreeMap;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::OnceCell;

use super::settings::{AwsSettings, RetryMode};
use super::AwsError;

/// The provider's AWS access. Cheap to create; the SDK configuration (credential chain, region
/// resolution, role assumption) is built on first use and shared by every client after that.
pub struct Aws {
    settings: AwsSettings,
    sdk: OnceCell<SdkConfig>,
    /// Answers worth reusing for the life of this provider process (one Terraform command),
    /// e.g. which AMI a source filter picks: a plan of 100 images then asks AWS once, not 100 times.
    memo: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Aws {
    pub fn new(settings: AwsSettings) -> Self {
        Aws {
            settings,
            sdk: OnceCell::new(),
            memo: Default::default(),
        }
    }

    /// A value remembered under `key` by [`Aws::remember`] earlier in this process.
    pub fn recall(&self, key: &str) -> Option<String> {
        self.memo.lock().expect("memo").get(key).cloned()
    }

    pub fn remember(&self, key: String, value: String) {
        self.memo.lock().expect("memo").insert(key, value);
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    pub fn default_tags(&self) -> &BTreeMap<String, String> {
        &self.settings.default_tags
    }

    async fn sdk(&self) -> Result<&SdkConfig, AwsError> {
        self.sdk.get_or_try_init(|| load(&self.settings)).await
    }

    /// The region every client talks to, as resolved by the standard chain.
    pub async fn region(&self) -> Result<String, AwsError> {
        Ok(self
            .sdk()
            .await?
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default())
    }

    pub async fn ec2(&self) -> Result<aws_sdk_ec2::Client, AwsError> {
        self.ec2_in(None).await
    }

    /// An EC2 client for another region (image copies) with the same credentials and endpoints.
    pub async fn ec2_in(&self, region: Option<&str>) -> Result<aws_sdk_ec2::Client, AwsError> {
        let sdk = self.sdk().await?;
        let mut b = aws_sdk_ec2::config::Builder::from(sdk);
        if let Some(url) = &self.settings.endpoints.ec2 {
            b = b.endpoint_url(url);
        }
        if let Some(r) = region {
            b = b.region(Region::new(r.to_string()));
        }
        Ok(aws_sdk_ec2::Client::from_conf(b.build()))
    }

    pub async fn autoscaling(&self) -> Result<aws_sdk_autoscaling::Client, AwsError> {
        let sdk = self.sdk().await?;
        let mut b = aws_sdk_autoscaling::config::Builder::from(sdk);
        if let Some(url) = &self.settings.endpoints.autoscaling {
            b = b.endpoint_url(url);
        }
        Ok(aws_sdk_autoscaling::Client::from_conf(b.build()))
    }

    pub async fn elbv2(&self) -> Result<aws_sdk_elasticloadbalancingv2::Client, AwsError> {
        Ok(aws_sdk_elasticloadbalancingv2::Client::new(
            self.sdk().await?,
        ))
    }

    pub async fn elb(&self) -> Result<aws_sdk_elasticloadbalancing::Client, AwsError> {
        Ok(aws_sdk_elasticloadbalancing::Client::new(self.sdk().await?))
    }

    pub async fn ssm(&self) -> Result<aws_sdk_ssm::Client, AwsError> {
        let sdk = self.sdk().await?;
        let mut b = aws_sdk_ssm::config::Builder::from(sdk);
        if let Some(url) = &self.settings.endpoints.ssm {
            b = b.endpoint_url(url);
        }
        Ok(aws_sdk_ssm::Client::from_conf(b.build()))
    }
}

async fn load(s: &AwsSettings) -> Result<SdkConfig, AwsError> {
    let retry = match s.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(s.max_attempts.max(1));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
    if let Some(r) = &s.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
    }
    // Only an explicit setting overrides the loader's own reading of AWS_ENDPOINT_URL and
    // AWS_ENDPOINT_URL_<SERVICE>, which users and CI scripts rely on.
    if let Some(url) = &s.endpoint {
        loader = loader.endpoint_url(url);
    }
    let base = loader.load().await;
    if base.region().is_none() {
        return Err(AwsError::setup(
            "No AWS region: set `region` in the provider block, or AWS_REGION, or a region in the selected profile.",
        ));
    }
    let Some(role) = &s.assume_role else {
        return Ok(base);
    };
    let mut sts_conf = base.clone();
    if let Some(url) = &s.endpoints.sts {
        sts_conf = sts_conf.into_builder().endpoint_url(url).build();
    }
    let mut b = aws_config::sts::AssumeRoleProvider::builder(role.role_arn.clone())
        .session_name(
            role.session_name
                .clone()
                .unwrap_or_else(|| "terraform-provider-immutable".to_string()),
        )
        .configure(&sts_conf);
    if let Some(ext) = &role.external_id {
        b = b.external_id(ext.clone());
    }
    let provider = b.build().await;
    Ok(base
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build())
}
