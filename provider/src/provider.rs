//! This provider as the framework serves it: the `provider "immutable"` block (`config`) becomes
//! the shared AWS access ([`Aws`]) every resource and data source call receives.

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::Aws;
use crate::config;
use crate::tf::data_source::DataSource;
use crate::tf::diag::Diagnostics;
use crate::tf::provider::Provider;
use crate::tf::resource::Resource;
use crate::tf::schema::Schema;
use crate::tf::value::Value;
use crate::{data_sources, resources};

/// What resource operations receive: AWS access (built lazily on first use, so provider start-up
/// and static validation never touch AWS), cancellation and warnings.
pub type Cx = crate::tf::resource::Cx<Aws>;

/// `cx.aws()`: the configured AWS access, by the name the resources use.
pub trait AwsCx {
    fn aws(&self) -> Result<&Aws, Diagnostics>;
    /// The shared handle, for engines that keep AWS access beyond one call.
    fn aws_arc(&self) -> Result<Arc<Aws>, Diagnostics>;
}

impl AwsCx for Cx {
    fn aws(&self) -> Result<&Aws, Diagnostics> {
        self.state()
    }

    fn aws_arc(&self) -> Result<Arc<Aws>, Diagnostics> {
        self.state_arc()
    }
}

pub struct ImmutableProvider;

#[async_trait]
impl Provider for ImmutableProvider {
    type State = Aws;

    fn schema(&self) -> Schema {
        config::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        config::validate(config)
    }

    async fn configure(&self, config: &Value) -> Result<Aws, Diagnostics> {
        let mut settings = config::parse(config)?;
        config::expand_home(&mut settings);
        let local = config::LocalFiles::read(&settings)?;
        tracing::debug!(region = ?settings.region, ca_bundle = ?local.ca_bundle, "provider configured");
        let aws = Aws::with_ca_bundle(settings, local.ca_bundle);
        config::check_account(&aws).await?;
        Ok(aws)
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<Aws>>> {
        resources::all()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Aws>>> {
        data_sources::all()
    }
}
