use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::OnceCell;

use super::image_reads::ImageReads;
use super::settings::{AwsSettings, RetryMode};
use super::AwsError;

/// The provider's AWS access. Cheap to create; the SDK configuration (credential chain, region
/// resolution, role assumption) is built on first use and shared by every client after that.
///
/// Each service client is built once and reused: a client owns its HTTP connection pool, so a
/// client per call would mean a new connection (and, on AWS, a TLS handshake) per call.
pub struct Aws {
    settings: AwsSettings,
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
        Aws {
            settings,
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

    /// The instance images known so far, taken out so no lock is held while a read uses them;
    /// hand them back with [`Aws::return_instance_images`].
    pub fn take_instance_images(&self) -> release_planner::aws::ImageCache {
        std::mem::take(&mut *self.instance_images.lock().expect("instance images"))
    }

    /// Merges what a read learned (and the entries it took) back in.
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
        let key = region.map(str::to_string);
        let existing = self
            .image_reads
            .lock()
            .expect("image reads")
            .get(&key)
            .cloned();
        let reads = match existing {
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
        };
        reads.get(id).await
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
        let key = region.map(str::to_string);
        if let Some(c) = self.ec2_by_region.lock().expect("ec2 clients").get(&key) {
            return Ok(c.clone());
        }
        let sdk = self.sdk().await?;
        let mut b = aws_sdk_ec2::config::Builder::from(sdk);
        if let Some(url) = &self.settings.endpoints.ec2 {
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
        self.built_once(&self.elbv2, aws_sdk_elasticloadbalancingv2::Client::new)
            .await
    }

    pub async fn elb(&self) -> Result<aws_sdk_elasticloadbalancing::Client, AwsError> {
        self.built_once(&self.elb, aws_sdk_elasticloadbalancing::Client::new)
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
