//! Reading a group from AWS into a [`GroupSnapshot`] — describe calls only.
//!
//! This is the one snapshot function: the provider's plan and apply and the `planner` binary
//! all read groups through it, so a preview and a release see the group the same way. It holds
//! no mutating call, which is what lets a pull-request job run the planner with a read-only role.

use aws_sdk_autoscaling::types::AutoScalingGroup;

use crate::model::{
    GroupSnapshot, Health, InstanceSnapshot, LaunchSource, LifecycleState, MaintenancePolicy,
    Override, PoolState, Replacement, TemplateRef, WarmPool,
};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("Auto Scaling group {0:?} does not exist in this region")]
    GroupNotFound(String),
    #[error("{operation} ({target}) failed: {message}")]
    Aws {
        operation: &'static str,
        target: String,
        /// AWS's error code, when it sent one (`Throttling`: a caller may repeat the read).
        code: Option<String>,
        message: String,
    },
}

fn aws_err<E>(operation: &'static str, target: &str, e: E) -> SnapshotError
where
    E: std::error::Error + aws_sdk_autoscaling::error::ProvideErrorMetadata,
{
    let code = e.code().map(str::to_string);
    let mut message = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    SnapshotError::Aws {
        operation,
        target: target.to_string(),
        code,
        message,
    }
}

/// DescribeInstances takes many ids per call; chunks keep requests well under URL/body limits.
const INSTANCE_CHUNK: usize = 200;

pub async fn snapshot(
    asg: &aws_sdk_autoscaling::Client,
    ec2: &aws_sdk_ec2::Client,
    group: &str,
) -> Result<GroupSnapshot, SnapshotError> {
    snapshot_cached(asg, ec2, group, &mut ImageCache::new(), true).await
}

/// Instance id → image id. An instance's image never changes, so a caller that reads the same
/// group repeatedly (a release polling for health) asks EC2 only about instances it has not seen.
pub type ImageCache = std::collections::BTreeMap<String, String>;

/// [`snapshot`] with an image cache, and without the launch setting's image when `launch` is
/// false (that costs a call, and does not change while a release polls).
pub async fn snapshot_cached(
    asg: &aws_sdk_autoscaling::Client,
    ec2: &aws_sdk_ec2::Client,
    group: &str,
    cache: &mut ImageCache,
    launch: bool,
) -> Result<GroupSnapshot, SnapshotError> {
    let g = describe_group(asg, group).await?;
    snapshot_of(asg, ec2, group, &g, cache, launch).await
}

/// The group as DescribeAutoScalingGroups tells it: the first half of [`snapshot_cached`], for a
/// caller that needs to know when the group's answer arrived (its health is as of then).
pub async fn describe_group(
    asg: &aws_sdk_autoscaling::Client,
    group: &str,
) -> Result<AutoScalingGroup, SnapshotError> {
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .map_err(|e| aws_err("DescribeAutoScalingGroups", group, e))?;
    out.auto_scaling_groups()
        .first()
        .cloned()
        .ok_or_else(|| SnapshotError::GroupNotFound(group.to_string()))
}

/// The second half of [`snapshot_cached`]: instance images and the launch image for `g`.
pub async fn snapshot_of(
    asg: &aws_sdk_autoscaling::Client,
    ec2: &aws_sdk_ec2::Client,
    group: &str,
    g: &AutoScalingGroup,
    cache: &mut ImageCache,
    launch: bool,
) -> Result<GroupSnapshot, SnapshotError> {
    let launch_image_wanted = launch;
    let ids = g.instances().iter().filter_map(|i| i.instance_id());
    instance_images(ec2, group, ids, cache).await?;
    let images = &*cache;
    let mut launch_setting = launch_source(g);
    let launch_image_id = if launch {
        override_images(ec2, &mut launch_setting).await?;
        launch_image(ec2, asg, &launch_setting).await?
    } else {
        None
    };
    let launch = launch_setting;
    let instances = g
        .instances()
        .iter()
        .map(|i| instance_snapshot(i, images))
        .collect();
    // A poll does not need the pool; a full snapshot reads it only when the group has one.
    let warm_pool = if launch_image_wanted && g.warm_pool_configuration().is_some() {
        warm_pool(asg, ec2, group, cache).await?
    } else {
        None
    };
    Ok(GroupSnapshot {
        name: g.auto_scaling_group_name().unwrap_or(group).to_string(),
        desired_capacity: g.desired_capacity().unwrap_or(0).max(0) as u32,
        min_size: g.min_size().unwrap_or(0).max(0) as u32,
        max_size: g.max_size().unwrap_or(0).max(0) as u32,
        instances,
        availability_zones: g.availability_zones().to_vec(),
        launch,
        target_group_arns: g.target_group_arns().to_vec(),
        load_balancer_names: g.load_balancer_names().to_vec(),
        launch_image_id,
        replacement: replacement(g),
        warm_pool,
    })
}

fn health(status: Option<&str>) -> Health {
    if status.unwrap_or("Healthy").eq_ignore_ascii_case("healthy") {
        Health::Healthy
    } else {
        Health::Unhealthy
    }
}

/// The group's warm pool (DescribeWarmPool, every page), its instances' images from `cache` or
/// DescribeInstances. `None` when the group has no pool: AWS answers without a
/// `WarmPoolConfiguration` then. Pool instances keep the image they were launched with, so the
/// image is read per instance, as for the group's own.
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html>
pub async fn warm_pool(
    asg: &aws_sdk_autoscaling::Client,
    ec2: &aws_sdk_ec2::Client,
    group: &str,
    cache: &mut ImageCache,
) -> Result<Option<WarmPool>, SnapshotError> {
    let mut config = None;
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = asg
            .describe_warm_pool()
            .auto_scaling_group_name(group)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws_err("DescribeWarmPool", group, e))?;
        if config.is_none() {
            config = out.warm_pool_configuration().cloned();
        }
        listed.extend(out.instances().iter().cloned());
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let Some(config) = config else {
        return Ok(None);
    };
    instance_images(
        ec2,
        group,
        listed.iter().filter_map(|i| i.instance_id()),
        cache,
    )
    .await?;
    let mut instances: Vec<InstanceSnapshot> =
        listed.iter().map(|i| instance_snapshot(i, cache)).collect();
    instances.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let set = |v: Option<i32>| v.filter(|v| *v >= 0).map(|v| v as u32);
    Ok(Some(WarmPool {
        min_size: set(config.min_size()).unwrap_or(0),
        max_group_prepared_capacity: set(config.max_group_prepared_capacity()),
        pool_state: PoolState::from_aws(config.pool_state().map_or("", |s| s.as_str())),
        reuse_on_scale_in: config
            .instance_reuse_policy()
            .and_then(|p| p.reuse_on_scale_in())
            .unwrap_or(false),
        instances,
    }))
}

/// The group's own replacement settings. A value of -1 (or below) is AWS's "cleared".
/// <https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AutoScalingGroup.html>
pub fn replacement(g: &AutoScalingGroup) -> Replacement {
    let set = |v: Option<i32>| v.filter(|v| *v >= 0).map(|v| v as u32);
    let maintenance_policy = g.instance_maintenance_policy().and_then(|p| {
        Some(MaintenancePolicy {
            min_healthy_percentage: set(p.min_healthy_percentage())?,
            max_healthy_percentage: set(p.max_healthy_percentage())?,
        })
    });
    Replacement {
        maintenance_policy,
        default_instance_warmup_secs: set(g.default_instance_warmup()).map(u64::from),
        health_check_grace_period_secs: set(g.health_check_grace_period()).map(u64::from),
    }
}

/// Each instance's EC2 image id: the only reliable way to tell old from new (the group's
/// per-instance launch template version is not).
async fn instance_images<'a>(
    ec2: &aws_sdk_ec2::Client,
    group: &str,
    ids: impl Iterator<Item = &'a str>,
    images: &mut ImageCache,
) -> Result<(), SnapshotError> {
    let ids: Vec<String> = ids
        .filter(|id| !images.contains_key(*id))
        .map(str::to_string)
        .collect();
    for chunk in ids.chunks(INSTANCE_CHUNK) {
        let mut token = None;
        loop {
            let out = ec2
                .describe_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_err("DescribeInstances", group, e))?;
            for inst in out.reservations().iter().flat_map(|r| r.instances()) {
                if let (Some(id), Some(img)) = (inst.instance_id(), inst.image_id()) {
                    images.insert(id.to_string(), img.to_string());
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(())
}

fn launch_source(g: &AutoScalingGroup) -> LaunchSource {
    // A group has one of the three (CreateAutoScalingGroup); an answer naming a launch template
    // beside the policy (moto does) launches through the policy.
    if let Some(mip) = g.mixed_instances_policy() {
        let spec = mip
            .launch_template()
            .and_then(|t| t.launch_template_specification());
        return LaunchSource::MixedInstancesPolicy {
            launch_template_id: spec
                .and_then(|s| s.launch_template_id())
                .map(str::to_string),
            launch_template_name: spec
                .and_then(|s| s.launch_template_name())
                .map(str::to_string),
            version: spec
                .and_then(|s| s.version())
                .unwrap_or("$Default")
                .to_string(),
            instance_types: mip
                .launch_template()
                .map(|t| {
                    t.overrides()
                        .iter()
                        .filter_map(|o| o.instance_type().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            overrides: mip
                .launch_template()
                .map(|t| t.overrides().iter().map(override_of).collect())
                .unwrap_or_default(),
        };
    }
    if let Some(lt) = g.launch_template() {
        return LaunchSource::LaunchTemplate {
            id: lt.launch_template_id().map(str::to_string),
            name: lt.launch_template_name().map(str::to_string),
            version: lt.version().unwrap_or("$Default").to_string(),
        };
    }
    if let Some(name) = g.launch_configuration_name() {
        return LaunchSource::LaunchConfiguration {
            name: name.to_string(),
        };
    }
    LaunchSource::None
}

fn override_of(o: &aws_sdk_autoscaling::types::LaunchTemplateOverrides) -> Override {
    Override {
        instance_type: o.instance_type().map(str::to_string),
        weighted_capacity: o
            .weighted_capacity()
            .and_then(|w| w.trim().parse::<u32>().ok())
            .filter(|w| *w > 0),
        launch_template: o.launch_template_specification().map(|s| TemplateRef {
            id: s.launch_template_id().map(str::to_string),
            name: s.launch_template_name().map(str::to_string),
            version: s.version().unwrap_or("$Default").to_string(),
        }),
        image_id: None,
    }
}

/// What a launch template version launches (`ResolveAlias`: a `resolve:ssm:` image comes back as
/// the AMI the parameter names now, what a launch would start).
async fn template_image(
    ec2: &aws_sdk_ec2::Client,
    id: &Option<String>,
    name: &Option<String>,
    version: &str,
) -> Result<Option<String>, SnapshotError> {
    let target = id.clone().or_else(|| name.clone()).unwrap_or_default();
    let out = ec2
        .describe_launch_template_versions()
        .set_launch_template_id(id.clone())
        .set_launch_template_name(if id.is_some() { None } else { name.clone() })
        .versions(version)
        .resolve_alias(true)
        .send()
        .await
        .map_err(|e| aws_err("DescribeLaunchTemplateVersions", &target, e))?;
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .and_then(|d| d.image_id())
        .map(str::to_string))
}

/// The images the overrides' own launch templates launch.
async fn override_images(
    ec2: &aws_sdk_ec2::Client,
    launch: &mut LaunchSource,
) -> Result<(), SnapshotError> {
    if let LaunchSource::MixedInstancesPolicy { overrides, .. } = launch {
        for o in overrides.iter_mut() {
            if let Some(t) = &o.launch_template {
                o.image_id = template_image(ec2, &t.id, &t.name, &t.version).await?;
            }
        }
    }
    Ok(())
}

async fn launch_image(
    ec2: &aws_sdk_ec2::Client,
    asg: &aws_sdk_autoscaling::Client,
    launch: &LaunchSource,
) -> Result<Option<String>, SnapshotError> {
    match launch {
        LaunchSource::LaunchTemplate { id, name, version }
        | LaunchSource::MixedInstancesPolicy {
            launch_template_id: id,
            launch_template_name: name,
            version,
            ..
        } => template_image(ec2, id, name, version).await,
        LaunchSource::LaunchConfiguration { name } => {
            let out = asg
                .describe_launch_configurations()
                .launch_configuration_names(name)
                .send()
                .await
                .map_err(|e| aws_err("DescribeLaunchConfigurations", name, e))?;
            Ok(out
                .launch_configurations()
                .first()
                .and_then(|c| c.image_id())
                .map(str::to_string))
        }
        LaunchSource::None => Ok(None),
    }
}

/// An instance as DescribeAutoScalingGroups and DescribeWarmPool both report it, with its image
/// from `images` (empty when unknown).
fn instance_snapshot(
    i: &aws_sdk_autoscaling::types::Instance,
    images: &ImageCache,
) -> InstanceSnapshot {
    let id = i.instance_id().unwrap_or_default().to_string();
    InstanceSnapshot {
        image_id: images.get(&id).cloned().unwrap_or_default(),
        availability_zone: i.availability_zone().unwrap_or_default().to_string(),
        lifecycle_state: LifecycleState::from_aws(
            i.lifecycle_state().map(|s| s.as_str()).unwrap_or(""),
        ),
        health: health(i.health_status()),
        protected_from_scale_in: i.protected_from_scale_in().unwrap_or(false),
        launch_time: None,
        weighted_capacity: weight(i.weighted_capacity()),
        id,
    }
}

/// An instance's `WeightedCapacity` as AWS reports it (a string); none, zero or unreadable
/// counts as unweighted.
fn weight(reported: Option<&str>) -> Option<u32> {
    reported
        .and_then(|w| w.trim().parse::<u32>().ok())
        .filter(|w| *w > 0)
}
