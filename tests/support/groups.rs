//! Auto Scaling groups made out of band in moto — what another stack or the console would own —
//! and a compact view of a group for assertions.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::operation::create_auto_scaling_group::builders::CreateAutoScalingGroupFluentBuilder;
use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};

use crate::Moto;

/// A launch template `name` on `image` (t3.micro). Returns its id.
pub fn launch_template(moto: &Moto, region: &str, name: &str, image: &str) -> String {
    let lt = moto
        .block_on(
            moto.ec2(region)
                .create_launch_template()
                .launch_template_name(name)
                .launch_template_data(
                    RequestLaunchTemplateData::builder()
                        .image_id(image)
                        .instance_type(InstanceType::T3Micro)
                        .build(),
                )
                .send(),
        )
        .unwrap_or_else(|e| panic!("create launch template {name}: {e:?}"));
    lt.launch_template()
        .and_then(|t| t.launch_template_id())
        .expect("launch template id")
        .to_string()
}

/// A launch template on `image` and a group of `n` instances over two zones (min = max = n).
/// Returns the launch template id.
pub fn template_group(moto: &Moto, region: &str, name: &str, n: i32, image: &str) -> String {
    let lt_id = launch_template(moto, region, &format!("{name}-lt"), image);
    create_group(moto, region, name, n, |req| {
        req.launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&lt_id)
                .version("$Latest")
                .build(),
        )
    });
    lt_id
}

/// Creates group `name` of `n` instances (min = max = n) over the region's first two zones,
/// launching as `launch` sets it on the request: a launch template, a mixed instances policy.
pub fn create_group(
    moto: &Moto,
    region: &str,
    name: &str,
    n: i32,
    launch: impl FnOnce(CreateAutoScalingGroupFluentBuilder) -> CreateAutoScalingGroupFluentBuilder,
) {
    let req = moto
        .autoscaling(region)
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(n)
        .max_size(n)
        .desired_capacity(n)
        // A release waits out the grace period: moto's default is 300 s (AWS's API: 0), and
        // moto reads 0 as "unset".
        .health_check_grace_period(1)
        .set_availability_zones(Some(first_zones(moto, region, 2)));
    moto.block_on(launch(req).send())
        .unwrap_or_else(|e| panic!("create group {name}: {e:?}"));
}

/// What tests assert about a group.
#[derive(Debug, Clone)]
pub struct GroupState {
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    /// Instance id → EC2 image id (the only reliable old/new signal in moto).
    pub images: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub suspended: Vec<String>,
    pub launch_template_version: Option<String>,
    /// (template id, version) of the group's launch template.
    pub launch: Option<(String, String)>,
    pub launch_configuration: Option<String>,
}

impl GroupState {
    pub fn count_on(&self, image: &str) -> usize {
        self.images.values().filter(|i| *i == image).count()
    }

    /// Panics unless the group has exactly `n` instances, every one on `image`.
    #[track_caller]
    pub fn assert_all_on(&self, image: &str, n: usize) -> &Self {
        assert_eq!(
            (self.images.len(), self.count_on(image)),
            (n, n),
            "{n} instances, all on {image}: {self:?}"
        );
        self
    }

    /// The instances running `image`, in id order.
    pub fn on(&self, image: &str) -> Vec<String> {
        self.images
            .iter()
            .filter(|(_, i)| *i == image)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Gives `group` the replacement settings a production group carries: an instance maintenance
/// policy (Min/MaxHealthyPercentage), and when given a default instance warm-up and a health
/// check grace period (moto keeps them through the group-settings layer, `aws_shapes.py`).
pub fn shape_group(
    moto: &Moto,
    region: &str,
    group: &str,
    policy: (i32, i32),
    warmup: Option<i32>,
    grace: Option<i32>,
) {
    use aws_sdk_autoscaling::types::InstanceMaintenancePolicy;
    moto.block_on(
        moto.autoscaling(region)
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .instance_maintenance_policy(
                InstanceMaintenancePolicy::builder()
                    .min_healthy_percentage(policy.0)
                    .max_healthy_percentage(policy.1)
                    .build(),
            )
            .set_default_instance_warmup(warmup)
            .set_health_check_grace_period(grace)
            .send(),
    )
    .unwrap_or_else(|e| panic!("shape group {group}: {e:?}"));
}

pub fn group_state(moto: &Moto, region: &str, name: &str) -> GroupState {
    let out = moto
        .block_on(
            moto.autoscaling(region)
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send(),
        )
        .unwrap_or_else(|e| panic!("describe group {name}: {e:?}"));
    let g = out
        .auto_scaling_groups()
        .first()
        .cloned()
        .expect("group exists");
    let ids: Vec<String> = g
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(String::from))
        .collect();
    let mut images = BTreeMap::new();
    if !ids.is_empty() {
        let d = moto
            .block_on(
                moto.ec2(region)
                    .describe_instances()
                    .set_instance_ids(Some(ids))
                    .send(),
            )
            .expect("describe instances");
        for i in d.reservations().iter().flat_map(|r| r.instances()) {
            images.insert(
                i.instance_id().unwrap_or_default().to_string(),
                i.image_id().unwrap_or_default().to_string(),
            );
        }
    }
    GroupState {
        desired: g.desired_capacity().unwrap_or_default(),
        min: g.min_size().unwrap_or_default(),
        max: g.max_size().unwrap_or_default(),
        images,
        tags: g
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        suspended: g
            .suspended_processes()
            .iter()
            .filter_map(|p| p.process_name().map(String::from))
            .collect(),
        launch_template_version: g
            .launch_template()
            .and_then(|l| l.version().map(String::from)),
        launch: g.launch_template().map(|l| {
            (
                l.launch_template_id().unwrap_or_default().to_string(),
                l.version().unwrap_or_default().to_string(),
            )
        }),
        launch_configuration: g.launch_configuration_name().map(String::from),
    }
}

/// The region's first `n` zones (not every region has an `…b`: ap-northeast-1 has a, c, d).
fn first_zones(moto: &Moto, region: &str, n: usize) -> Vec<String> {
    let out = moto
        .block_on(moto.ec2(region).describe_availability_zones().send())
        .expect("describe availability zones");
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(String::from))
        .collect();
    zones.sort();
    zones.truncate(n);
    zones
}

/// A load balancer target group in the region's default VPC; returns its ARN.
pub fn target_group(moto: &Moto, region: &str, name: &str) -> String {
    let vpcs = moto
        .block_on(moto.ec2(region).describe_vpcs().send())
        .expect("describe vpcs");
    let vpc = vpcs
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id())
        .expect("a default VPC")
        .to_string();
    let elb = elbv2_client(&moto.endpoint(), region);
    let name = name.to_string();
    let out = moto
        .block_on(async move {
            elb.create_target_group()
                .name(&name)
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(80)
                .vpc_id(vpc)
                .send()
                .await
        })
        .unwrap_or_else(|e| panic!("create target group: {e:?}"));
    out.target_groups()[0]
        .target_group_arn()
        .expect("target group arn")
        .to_string()
}

pub fn elbv2_client(endpoint: &str, region: &str) -> aws_sdk_elasticloadbalancingv2::Client {
    use aws_sdk_elasticloadbalancingv2::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_elasticloadbalancingv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            crate::TEST_ACCESS_KEY_ID,
            crate::TEST_SECRET_ACCESS_KEY,
            None,
            None,
            "e2e-tests",
        ))
        .build();
    aws_sdk_elasticloadbalancingv2::Client::from_conf(conf)
}
