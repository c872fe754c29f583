//! The temporary security group of an SSH bake: made in the builder's VPC, tagged as temporary at
//! creation, open on the SSH port to the configured CIDRs only, and deleted once the builder is
//! gone (AWS refuses while an instance still uses it: `DependencyViolation`, retried).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, ResourceType};

use crate::aws::wait::{self, Backoff, WaitError};
use crate::aws::{AwsError, ErrorContext};
use crate::bake::builder::tag_spec;
use crate::cancel::Cancel;

/// The VPC a subnet belongs to; `None` without a subnet (AWS then uses the default VPC).
pub async fn vpc_of(
    ec2: &aws_sdk_ec2::Client,
    subnet_id: Option<&str>,
) -> Result<Option<String>, AwsError> {
    let Some(subnet) = subnet_id else {
        return Ok(None);
    };
    let out = ec2
        .describe_subnets()
        .subnet_ids(subnet)
        .send()
        .await
        .context("DescribeSubnets", subnet)?;
    out.subnets()
        .first()
        .and_then(|s| s.vpc_id())
        .map(|v| Some(v.to_string()))
        .ok_or_else(|| AwsError::new("DescribeSubnets", subnet, "subnet not found"))
}

/// Creates the group (tagged) and opens `port` to `cidrs`. Returns its id; if the ingress rule
/// fails, the group already exists and the caller's cleanup deletes it.
pub async fn create(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
    vpc_id: Option<&str>,
    tags: &BTreeMap<String, String>,
    created: &mut Option<String>,
) -> Result<String, AwsError> {
    let out = ec2
        .create_security_group()
        .group_name(name)
        .description("Temporary SSH access to an immutable_image builder; deleted with it")
        .set_vpc_id(vpc_id.map(str::to_string))
        .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
        .send()
        .await
        .context("CreateSecurityGroup", name)?;
    let id = out
        .group_id()
        .map(str::to_string)
        .ok_or_else(|| AwsError::new("CreateSecurityGroup", name, "AWS returned no group id"))?;
    *created = Some(id.clone());
    Ok(id)
}

pub async fn allow_ssh(
    ec2: &aws_sdk_ec2::Client,
    group_id: &str,
    port: u16,
    cidrs: &[String],
) -> Result<(), AwsError> {
    let mut perm = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(i32::from(port))
        .to_port(i32::from(port));
    for c in cidrs {
        if c.contains(':') {
            perm = perm.ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(c)
                    .description("immutable_image SSH")
                    .build(),
            );
        } else {
            perm = perm.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .description("immutable_image SSH")
                    .build(),
            );
        }
    }
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(perm.build())
        .send()
        .await
        .context("AuthorizeSecurityGroupIngress", group_id)?;
    Ok(())
}

/// Deletes the group, retrying while AWS still sees it in use (a terminating builder).
pub async fn delete(
    ec2: &aws_sdk_ec2::Client,
    group_id: &str,
    timeout: Duration,
) -> Result<(), AwsError> {
    // Cleanup must run even after Terraform asked to stop: its own cancel never trips.
    let r = wait::until(
        &format!("security group {group_id} to be released"),
        timeout,
        Backoff::SECONDS,
        &Cancel::new(),
        || async {
            match ec2
                .delete_security_group()
                .group_id(group_id)
                .send()
                .await
                .context("DeleteSecurityGroup", group_id)
            {
                Ok(_) => Ok(Some(())),
                Err(e) if e.is_code("InvalidGroup.NotFound") => Ok(Some(())),
                Err(e) if e.is_code("DependencyViolation") => Ok(None),
                Err(e) => Err(e),
            }
        },
    )
    .await;
    match r {
        Ok(()) => Ok(()),
        Err(WaitError::Failed(e)) => Err(e),
        Err(other) => Err(AwsError::new(
            "DeleteSecurityGroup",
            group_id,
            other.to_string(),
        )),
    }
}
