//! `planner schedule` and `planner snapshot`: a group read from AWS (describe calls only, through
//! `release_planner::aws::snapshot`, the one read-only snapshot function the provider uses too)
//! or from a snapshot file.

use crate::cli::{AwsArgs, ScheduleArgs, Source};
use release_planner::{plan_release, GroupSnapshot, ReleaseSettings, Schedule};
use std::path::Path;

/// Reads the group, from AWS or a file.
pub fn load_snapshot(source: &Source) -> Result<GroupSnapshot, String> {
    match source {
        Source::SnapshotFile(path) => read_snapshot_file(path),
        Source::Group { name, aws } => fetch(name, aws),
    }
}

pub fn read_snapshot_file(path: &Path) -> Result<GroupSnapshot, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read snapshot {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a group snapshot ({e}): write one with `planner snapshot --group NAME --output FILE`",
            path.display()
        )
    })
}

/// The release settings: the resource's defaults (some of them the group's own), overridden by
/// the flags given.
pub fn settings(schedule: &ScheduleArgs, group: &GroupSnapshot) -> ReleaseSettings {
    let args = &schedule.settings;
    let mut s = ReleaseSettings::new(schedule.image.clone());
    if let Some(b) = args.batch_size {
        s.batch_size = b;
    }
    if let Some(st) = args.strategy {
        s.strategy = st;
    }
    s.min_healthy_percentage = args.min_healthy_percentage;
    s.instance_warmup_secs = release_planner::instance_warmup_secs(
        args.warmup,
        group.replacement.default_instance_warmup_secs,
    );
    if let Some(p) = args.pause {
        s.pause_between_batches_secs = p;
    }
    s.checkpoints = args.checkpoint.clone();
    if let Some(l) = args.launch_estimate {
        s.launch_estimate_secs = l;
    }
    if let Some(p) = args.scale_in_protected_instances {
        s.protected_instances = p;
    }
    if let Some(st) = args.standby_instances {
        s.standby_instances = st;
    }
    s
}

pub fn schedule(snapshot: &GroupSnapshot, settings: &ReleaseSettings) -> Result<Schedule, String> {
    plan_release(snapshot, settings)
        .map_err(|e| format!("cannot schedule a release of {}: {e}", snapshot.name))
}

/// One snapshot of a live group. Credentials, region and endpoint come from aws-config's
/// standard chain (as the provider's), overridden by the flags.
pub fn fetch(group: &str, args: &AwsArgs) -> Result<GroupSnapshot, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let config = sdk_config(args).await?;
        let asg = aws_sdk_autoscaling::Client::new(&config);
        let ec2 = aws_sdk_ec2::Client::new(&config);
        release_planner::aws::snapshot(&asg, &ec2, group)
            .await
            .map_err(|e| e.to_string())
    })
}

async fn sdk_config(args: &AwsArgs) -> Result<aws_config::SdkConfig, String> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = &args.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(p) = &args.profile {
        loader = loader.profile_name(p);
    }
    // Without the flag, aws-config reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself.
    if let Some(e) = &args.endpoint {
        loader = loader.endpoint_url(e);
    }
    let config = loader.load().await;
    if config.region().is_none_or(|r| r.as_ref().trim().is_empty()) {
        return Err(
            "no AWS region: pass --region, or set AWS_REGION, or a region in the selected profile"
                .into(),
        );
    }
    Ok(config)
}
