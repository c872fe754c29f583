use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

// aws-config's loader takes these (deprecated) aliases; the types they name live in aws-runtime,
// which is not a direct dependency.
#[allow(deprecated)]
use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::OnceCell;

use super::credentials::{AssumedRole, WebIdentityRole};
use super::error::ErrorContext;
use super::image_reads::ImageReads;
use super::settings::{AwsSettings, RetryMode, Service};
use super::tls::CaBundle;
use super::AwsError;

/// The provider's AWS access. Cheap to create; the SDK configuration (credential chain, region
/// resolution, role assumption) is built on first use and shared by every client after that.
///
/// Each service client is built once and reused: a client owns its HTTP connection pool, so a
/// client per call would mean a new connection (and, on AWS, a TLS handshake) per call.
pub struct Aws {
    settings: AwsSettings,
    /// `custom_ca_bundle` / `AWS_CA_BUNDLE`, read and checked at configure.
    ca_bundle: Option<CaBundle>,
    sdk: OnceCell<SdkConfig>,
    /// Answers worth reusing for the life of this provider process (one Terraform command),
    /// e.g. which AMI a source filter picks: a plan of 100 images then asks AWS once, not 100 times.
    memo: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
    /// EC2 clients by region (`None`: the provider's own region).
    ec2_by_region: Mutex<HashMap<Option<String>, aws_sdk_ec2::Client>>,
    autoscaling: OnceCell<aws_sdk_autoscaling::Client>,
    elbv2: OnceCell<aws_sdk_elasticloadbalancingv2::Client>,
    elb: OnceCell<aws_sdk_elasticloadbalancing::Client>,
    ssm: OnceCell<aws_sdk_ssm::Client>,
    image_reads: Mutex<HashMap<Option<String>, Arc<ImageReads>>>,
    /// Instance id → image id, in the provider's region. An instance's image never changes, so
    /// every read of a group in this process (the plan's, the apply's, each poll of a release)
    /// asks EC2 only about instances no earlier read has seen.
    instance_images: Mutex<release_planner::aws::ImageCache>,
}

impl Aws {
    pub fn new(settings: AwsSettings) -> Self {
        Self::with_ca_bundle(settings, None)
    }

    pub fn with_ca_bundle(settings: AwsSettings, ca_bundle: Option<CaBundle>) -> Self {
        Aws {
            settings,
            ca_bundle,
            sdk: OnceCell::new(),
            memo: Default::default(),
            ec2_by_region: Default::default(),
            autoscaling: OnceCell::new(),
            elbv2: OnceCell::new(),
            elb: OnceCell::new(),
            ssm: OnceCell::new(),
            image_reads: Default::default(),
            instance_images: Default::default(),
        }
    }

    /// A copy of the instance images known so far, so no lock is held while a read uses them;
    /// hand what it learned back with [`Aws::return_instance_images`]. A copy, not the map
    /// taken out: the releases of one apply (ten at a time) read at the same time, and a read
    /// that found the map taken asked EC2 again about every instance of its group (50 releases
    /// of 20 on moto: 449 DescribeInstances instead of 300).
    pub fn known_instance_images(&self) -> release_planner::aws::ImageCache {
        self.instance_images
            .lock()
            .expect("instance images")
            .clone()
    }

    /// Merges what a read learned back in.
    pub fn return_instance_images(&self, learned: release_planner::aws::ImageCache) {
        self.instance_images
            .lock()
            .expect("instance images")
            .extend(learned);
    }

    /// One image by id, in `region` (`None`: the provider's own), or `None` when it does not
    /// exist. Lookups made at the same time share one DescribeImages call (see [`ImageReads`]).
    pub async fn image(
        &self,
        region: Option<&str>,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Image>, AwsError> {
        self.image_reads_in(region).await?.get(id).await
    }

    /// Several images by id, in order, in one DescribeImages call (shared with lookups made at
    /// the same time).
    pub async fn images(
        &self,
        region: Option<&str>,
        ids: &[&str],
    ) -> Result<Vec<Option<aws_sdk_ec2::types::Image>>, AwsError> {
        self.image_reads_in(region)
            .await?
            .get_all(ids)
            .await
            .into_iter()
            .collect()
    }

    async fn image_reads_in(&self, region: Option<&str>) -> Result<Arc<ImageReads>, AwsError> {
        let key = region.map(str::to_string);
        let existing = self
            .image_reads
            .lock()
            .expect("image reads")
            .get(&key)
            .cloned();
        Ok(match existing {
            Some(r) => r,
            None => {
                let ec2 = self.ec2_in(region).await?;
                self.image_reads
                    .lock()
                    .expect("image reads")
                    .entry(key)
                    .or_insert_with(|| ImageReads::new(ec2))
                    .clone()
            }
        })
    }

    /// The value of `compute` under `key`, computed once per provider process. Callers that ask
    /// while the first computation runs wait for its answer rather than asking AWS themselves
    /// (Terraform plans ten resources at a time); a failure is not remembered.
    pub async fn memoize<F, Fut>(&self, key: String, compute: F) -> Result<String, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<String, AwsError>>,
    {
        let cell = self
            .memo
            .lock()
            .expect("memo")
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_try_init(compute).await.cloned()
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    pub fn default_tags(&self) -> &BTreeMap<String, String> {
        &self.settings.default_tags
    }

    async fn sdk(&self) -> Result<&SdkConfig, AwsError> {
        self.sdk
            .get_or_try_init(|| load(&self.settings, self.ca_bundle.as_ref()))
            .await
    }

    /// The account the final credentials (after any role assumption) belong to, from
    /// `sts:GetCallerIdentity`.
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        let sdk = self.sdk().await?;
        let sts = sts_client(sdk, &self.settings);
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .context("GetCallerIdentity", "")?;
        out.account
            .ok_or_else(|| AwsError::new("GetCallerIdentity", "", "STS named no account"))
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
        let key = region.map(str::to_string);
        if let Some(c) = self.ec2_by_region.lock().expect("ec2 clients").get(&key) {
            return Ok(c.clone());
        }
        let sdk = self.sdk().await?;
        let mut b = aws_sdk_ec2::config::Builder::from(sdk);
        // `endpoints.ec2` names the provider region's endpoint (a VPC endpoint, a FIPS or
        // private one); sent another region's requests it would sign them for a region it does
        // not serve, or act in the wrong region.
        let own_region = region.is_none_or(|r| sdk.region().is_some_and(|o| o.as_ref() == r));
        if let (true, Some(url)) = (own_region, self.settings.endpoints.get(Service::Ec2)) {
            b = b.endpoint_url(url);
        }
        if let Some(r) = region {
            b = b.region(Region::new(r.to_string()));
        }
        let built = aws_sdk_ec2::Client::from_conf(b.build());
        Ok(self
            .ec2_by_region
            .lock()
            .expect("ec2 clients")
            .entry(key)
            .or_insert(built)
            .clone())
    }

    pub async fn autoscaling(&self) -> Result<aws_sdk_autoscaling::Client, AwsError> {
        self.built_once(&self.autoscaling, |sdk| {
            let mut b = aws_sdk_autoscaling::config::Builder::from(sdk);
            if let Some(url) = &self.settings.endpoints.autoscaling {
                b = b.endpoint_url(url);
            }
            aws_sdk_autoscaling::Client::from_conf(b.build())
        })
        .await
    }

    pub async fn elbv2(&self) -> Result<aws_sdk_elasticloadbalancingv2::Client, AwsError> {
        self.built_once(&self.elbv2, |sdk| {
            let mut b = aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk);
            if let Some(url) = self.settings.endpoints.get(Service::Elbv2) {
                b = b.endpoint_url(url);
            }
            aws_sdk_elasticloadbalancingv2::Client::from_conf(b.build())
        })
        .await
    }

    pub async fn elb(&self) -> Result<aws_sdk_elasticloadbalancing::Client, AwsError> {
        self.built_once(&self.elb, |sdk| {
            let mut b = aws_sdk_elasticloadbalancing::config::Builder::from(sdk);
            if let Some(url) = self.settings.endpoints.get(Service::Elb) {
                b = b.endpoint_url(url);
            }
            aws_sdk_elasticloadbalancing::Client::from_conf(b.build())
        })
        .await
    }

    pub async fn ssm(&self) -> Result<aws_sdk_ssm::Client, AwsError> {
        self.built_once(&self.ssm, |sdk| {
            let mut b = aws_sdk_ssm::config::Builder::from(sdk);
            if let Some(url) = &self.settings.endpoints.ssm {
                b = b.endpoint_url(url);
            }
            aws_sdk_ssm::Client::from_conf(b.build())
        })
        .await
    }

    /// The client in `cell`, built from the SDK configuration on first use.
    async fn built_once<C: Clone>(
        &self,
        cell: &OnceCell<C>,
        build: impl FnOnce(&SdkConfig) -> C,
    ) -> Result<C, AwsError> {
        let sdk = self.sdk().await?;
        Ok(cell.get_or_init(|| async { build(sdk) }).await.clone())
    }
}

/// An STS client with `endpoints.sts` applied (else `endpoint`, else the SDK's resolution).
fn sts_client(sdk: &SdkConfig, s: &AwsSettings) -> aws_sdk_sts::Client {
    let mut b = aws_sdk_sts::config::Builder::from(sdk);
    if let Some(url) = s.endpoints.get(Service::Sts) {
        b = b.endpoint_url(url);
    }
    aws_sdk_sts::Client::from_conf(b.build())
}

#[allow(deprecated)]
fn profile_files(s: &AwsSettings) -> Option<ProfileFiles> {
    if s.shared_config_files.is_empty() && s.shared_credentials_files.is_empty() {
        return None;
    }
    let mut b = ProfileFiles::builder();
    // Each list replaces only its own kind of file.
    if s.shared_config_files.is_empty() {
        b = b.include_default_config_file(true);
    }
    if s.shared_credentials_files.is_empty() {
        b = b.include_default_credentials_file(true);
    }
    for f in &s.shared_config_files {
        b = b.with_file(ProfileFileKind::Config, f);
    }
    for f in &s.shared_credentials_files {
        b = b.with_file(ProfileFileKind::Credentials, f);
    }
    Some(b.build())
}

/// The SDK configuration: the standard chain (with the configured profile files, region,
/// profile, endpoint, retries and CA bundle), then the web identity, then the role.
async fn load(s: &AwsSettings, ca_bundle: Option<&CaBundle>) -> Result<SdkConfig, AwsError> {
    let retry = match s.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(s.max_attempts.max(1));
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry);
    if let Some(files) = profile_files(s) {
        loader = loader.profile_files(files);
    }
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
    if let Some(b) = ca_bundle {
        loader = loader.http_client(b.http_client());
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        return Err(AwsError::setup(
            "No AWS region: set `region` in the provider block, or AWS_REGION, or a region in the selected profile.",
        ));
    }
    if let Some(web) = &s.web_identity {
        let provider = WebIdentityRole {
            sts: sts_client(&config, s),
            web: web.clone(),
        };
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    if let Some(role) = &s.assume_role {
        let provider = AssumedRole {
            sts: sts_client(&config, s),
            role: role.clone(),
        };
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_in_flight_does_not_hide_the_known_instance_images_from_another() {
        let aws = Aws::new(AwsSettings::default());
        aws.return_instance_images([("i-1".to_string(), "ami-1".to_string())].into());
        // Two releases of one apply reading their groups at the same time.
        let first = aws.known_instance_images();
        let second = aws.known_instance_images();
        assert_eq!(first.get("i-1").map(String::as_str), Some("ami-1"));
        assert_eq!(second.get("i-1").map(String::as_str), Some("ami-1"));
        let mut learned = first;
        learned.insert("i-2".into(), "ami-2".into());
        aws.return_instance_images(learned);
        aws.return_instance_images(second);
        let known = aws.known_instance_images();
        assert_eq!(known.len(), 2, "{known:?}");
    }
}
