//! The temporary builder instance: launched with IMDSv2 required and tagged as temporary, waited
//! for, and terminated.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{
    HttpTokensState, IamInstanceProfileSpecification, InstanceMetadataEndpointState,
    InstanceMetadataOptionsRequest, InstanceStateName, ResourceType, Tag, TagSpecification,
};

use crate::aws::wait::{self, Backoff, WaitError};
use crate::aws::{AwsError, ErrorContext};
use crate::cancel::Cancel;

use super::spec::Builder;

pub fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

/// Launches the builder. `client_token` makes RunInstances idempotent: if the SDK retries after
/// a lost answer, AWS returns the instance it already started instead of a second one.
pub async fn launch(
    ec2: &aws_sdk_ec2::Client,
    source_ami: &str,
    b: &Builder,
    tags: &BTreeMap<String, String>,
    client_token: &str,
) -> Result<String, AwsError> {
    let mut req = ec2
        .run_instances()
        .image_id(source_ami)
        .instance_type(b.instance_type.as_str().into())
        .min_count(1)
        .max_count(1)
        .client_token(client_token)
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(HttpTokensState::Required)
                .http_endpoint(InstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .instance_initiated_shutdown_behavior(aws_sdk_ec2::types::ShutdownBehavior::Terminate)
        .tag_specifications(tag_spec(ResourceType::Instance, tags))
        .tag_specifications(tag_spec(ResourceType::Volume, tags));
    if let Some(s) = &b.subnet_id {
        req = req.subnet_id(s);
    }
    if let Some(k) = &b.key_name {
        req = req.key_name(k);
    }
    if !b.security_group_ids.is_empty() {
        req = req.set_security_group_ids(Some(b.security_group_ids.clone()));
    }
    if let Some(p) = &b.iam_instance_profile {
        let spec = if p.starts_with("arn:") {
            IamInstanceProfileSpecification::builder().arn(p).build()
        } else {
            IamInstanceProfileSpecification::builder().name(p).build()
        };
        req = req.iam_instance_profile(spec);
    }
    let out = req.send().await.context("RunInstances", source_ami)?;
    out.instances()
        .first()
        .and_then(|i| i.instance_id.clone())
        .ok_or_else(|| AwsError::new("RunInstances", source_ami, "AWS returned no instance"))
}

/// The builder's addresses, as AWS reports them once it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Addresses {
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
}

pub async fn wait_running(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<Addresses, WaitError<AwsError>> {
    wait::until(
        &format!("builder {id} to run"),
        timeout,
        Backoff::SECONDS,
        cancel,
        || async {
            let out = ec2.describe_instances().instance_ids(id).send().await;
            let out = match out.context("DescribeInstances", id) {
                Ok(o) => o,
                // Eventual consistency: a just-launched instance may not be visible yet.
                Err(e) if e.is_code("InvalidInstanceID.NotFound") => return Ok(None),
                Err(e) => return Err(e),
            };
            let inst = out
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .next()
                .cloned();
            let Some(inst) = inst else { return Ok(None) };
            match inst.state().and_then(|s| s.name()) {
                Some(InstanceStateName::Running) => Ok(Some(Addresses {
                    public_ip: inst.public_ip_address().map(str::to_string),
                    private_ip: inst.private_ip_address().map(str::to_string),
                })),
                Some(InstanceStateName::Pending) | None => Ok(None),
                Some(other) => Err(AwsError::new(
                    "RunInstances",
                    id,
                    format!(
                        "builder entered state {} before running: {}",
                        other.as_str(),
                        inst.state_reason()
                            .and_then(|r| r.message())
                            .unwrap_or("no reason given")
                    ),
                )),
            }
        },
    )
    .await
}

pub async fn terminate(ec2: &aws_sdk_ec2::Client, ids: &[String]) -> Result<(), AwsError> {
    if ids.is_empty() {
        return Ok(());
    }
    match ec2
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .context("TerminateInstances", &ids.join(","))
    {
        Ok(_) => Ok(()),
        // Already gone is what we wanted.
        Err(e) if e.is_code("InvalidInstanceID.NotFound") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Waits until the instances are terminated (or gone): a security group they use can only be
/// deleted then. Cleanup calls this after Terraform asked to stop, so it has its own deadline
/// and no cancel.
pub async fn wait_terminated(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
    timeout: Duration,
) -> Result<(), WaitError<AwsError>> {
    if ids.is_empty() {
        return Ok(());
    }
    let what = format!("builder {} to terminate", ids.join(","));
    wait::until(&what, timeout, Backoff::SECONDS, &Cancel::new(), || async {
        let out = ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await;
        let out = match out.context("DescribeInstances", &ids.join(",")) {
            Ok(o) => o,
            Err(e) if e.is_code("InvalidInstanceID.NotFound") => return Ok(Some(())),
            Err(e) => return Err(e),
        };
        let all_gone = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .all(|i| i.state().and_then(|s| s.name()) == Some(&InstanceStateName::Terminated));
        Ok(all_gone.then_some(()))
    })
    .await
}
