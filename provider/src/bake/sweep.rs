//! Sweeping temporaries that a killed bake left behind. A builder is abandoned when its expiry
//! (bake start + create timeout + margin) has passed, or when it was made on this host by a
//! process that no longer exists. A live bake elsewhere is never touched.

use std::time::SystemTime;

use aws_sdk_ec2::types::Filter;

use super::builder;
use super::name::rfc3339;
use crate::aws::{tags, AwsError, ErrorContext};
use crate::owner;

#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub instance_id: String,
    pub why: &'static str,
}

/// Terminates abandoned builders; returns what it swept.
pub async fn sweep(ec2: &aws_sdk_ec2::Client) -> Result<Vec<Stale>, AwsError> {
    let out = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("tag-key")
                .values(tags::TEMPORARY)
                .build(),
        )
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .values("stopping")
                .values("stopped")
                .build(),
        )
        .send()
        .await
        .context("DescribeInstances", tags::TEMPORARY)?;
    let now = rfc3339(SystemTime::now());
    let mut stale = Vec::new();
    for inst in out.reservations().iter().flat_map(|r| r.instances()) {
        let tag = |k: &str| {
            inst.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
        };
        let why = if tag(tags::EXPIRES_AT).is_some_and(|e| e < now.as_str()) {
            Some("expired")
        } else if tag(tags::OWNER).is_some_and(owner::is_dead_local) {
            Some("its bake process is gone")
        } else {
            None
        };
        if let (Some(why), Some(id)) = (why, inst.instance_id()) {
            stale.push(Stale {
                instance_id: id.to_string(),
                why,
            });
        }
    }
    if !stale.is_empty() {
        let ids: Vec<String> = stale.iter().map(|s| s.instance_id.clone()).collect();
        for s in &stale {
            tracing::info!(instance_id = %s.instance_id, reason = s.why, "sweeping abandoned builder");
        }
        builder::terminate(ec2, &ids).await?;
    }
    Ok(stale)
}
