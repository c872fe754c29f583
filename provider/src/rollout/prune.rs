//! Launch template versions made by releases, pruned after a release succeeded: each release
//! adds one version, and AWS keeps at most 10,000 versions per launch template (a release after
//! that could not create its version).
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/launch-template-restrictions.html>,
//! `resources::limits::LAUNCH_TEMPLATE_VERSIONS`).
//!
//! Only versions a release of this group made are pruned — their description says so, see
//! [`description`] — never the group's current version, the version a rollback returns to, the
//! template's default or its latest version: a version another group or tool launches from is
//! one it made itself, or its default.

use crate::aws::{AwsError, ErrorContext};

/// What every version a release creates is described as; the group's name makes the versions of
/// one group's releases apart from another's on a shared template.
pub fn description(release_id: &str, group: &str, image: &str) -> String {
    let full = format!("{PREFIX}{release_id} of group {group}: image {image}");
    // AWS's limit for a version description; cut, it no longer names the group, and the version
    // is never pruned.
    truncate(full, 255)
}

const PREFIX: &str = "rolling_asg_release ";

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// One version of a launch template, as DescribeLaunchTemplateVersions tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub number: i64,
    pub description: String,
    pub default: bool,
}

/// Made by a release of `group`.
fn made_for(v: &Version, group: &str) -> bool {
    v.description.starts_with(PREFIX) && v.description.contains(&format!(" of group {group}: "))
}

/// The versions to delete, oldest first: the release-made versions of `group` beyond the newest
/// `keep`, less `protected`, the default and the latest version.
pub fn to_delete(versions: &[Version], group: &str, keep: u32, protected: &[i64]) -> Vec<i64> {
    let latest = versions.iter().map(|v| v.number).max();
    let mut made: Vec<&Version> = versions.iter().filter(|v| made_for(v, group)).collect();
    made.sort_by_key(|v| std::cmp::Reverse(v.number));
    let mut out: Vec<i64> = made
        .into_iter()
        .skip(keep as usize)
        .filter(|v| !v.default && Some(v.number) != latest && !protected.contains(&v.number))
        .map(|v| v.number)
        .collect();
    out.sort_unstable();
    out
}

/// DescribeLaunchTemplateVersions and DeleteLaunchTemplateVersions take at most 200 a call.
const PAGE: usize = 200;

/// Deletes what [`to_delete`] picks from template `id`; returns the version numbers deleted.
/// `current`: the version the group launches now, the newest a release made; while it is at
/// most `keep` the template cannot hold more than `keep` versions of releases, and nothing is
/// read. `keep` 0: never prune.
pub async fn prune(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    group: &str,
    keep: u32,
    current: i64,
    protected: &[i64],
) -> Result<Vec<i64>, AwsError> {
    if keep == 0 || current <= i64::from(keep) {
        return Ok(vec![]);
    }
    let mut versions = Vec::new();
    let mut token = None;
    loop {
        let out = ec2
            .describe_launch_template_versions()
            .launch_template_id(id)
            .max_results(PAGE as i32)
            .set_next_token(token)
            .send()
            .await
            .context("DescribeLaunchTemplateVersions", id)?;
        versions.extend(out.launch_template_versions().iter().filter_map(|v| {
            Some(Version {
                number: v.version_number()?,
                description: v.version_description().unwrap_or_default().to_string(),
                default: v.default_version().unwrap_or(false),
            })
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let doomed = to_delete(&versions, group, keep, protected);
    let mut deleted = Vec::new();
    for chunk in doomed.chunks(PAGE) {
        let out = ec2
            .delete_launch_template_versions()
            .launch_template_id(id)
            .set_versions(Some(chunk.iter().map(i64::to_string).collect()))
            .send()
            .await
            .context("DeleteLaunchTemplateVersions", id)?;
        deleted.extend(
            out.successfully_deleted_launch_template_versions()
                .iter()
                .filter_map(|v| v.version_number()),
        );
        for failed in out.unsuccessfully_deleted_launch_template_versions() {
            tracing::warn!(
                template = %id,
                version = ?failed.version_number(),
                error = ?failed.response_error().and_then(|e| e.message()),
                "could not delete a launch template version a release made"
            );
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(n: i64, group: &str) -> Version {
        Version {
            number: n,
            description: description(&format!("rel-{n:012x}"), group, "ami-1"),
            default: false,
        }
    }

    #[test]
    fn keeps_the_newest_and_never_the_protected_default_or_latest() {
        let mut versions = vec![Version {
            number: 1,
            description: "made by hand".into(),
            default: true,
        }];
        versions.extend((2..=9).map(|n| made(n, "web")));
        // Another group's releases on the same template are not this group's to prune.
        versions.push(made(10, "api"));
        // Newest 3 of web's (9, 8, 7) stay; 3 is the rollback target.
        assert_eq!(to_delete(&versions, "web", 3, &[9, 3]), vec![2, 4, 5, 6]);
        // The default version stays even when a release made it.
        versions[2].default = true; // version 3
        assert_eq!(to_delete(&versions, "web", 3, &[]), vec![2, 4, 5, 6]);
        // The latest version stays whoever made it.
        let only_web: Vec<Version> = (1..=5).map(|n| made(n, "web")).collect();
        assert_eq!(to_delete(&only_web, "web", 0, &[]), vec![1, 2, 3, 4]);
        assert_eq!(to_delete(&only_web, "web", 10, &[]), Vec::<i64>::new());
    }

    #[test]
    fn group_names_do_not_match_by_prefix() {
        let versions: Vec<Version> = (1..=4).map(|n| made(n, "web-2")).collect();
        assert!(to_delete(&versions, "web", 0, &[]).is_empty());
    }

    #[test]
    fn a_description_fits_aws_limit() {
        let long = "g".repeat(255);
        let d = description("rel-000000000001", &long, "ami-1");
        assert_eq!(d.len(), 255);
        // Cut, it no longer names the group: never pruned.
        let v = Version {
            number: 1,
            description: d,
            default: false,
        };
        assert!(to_delete(&[v], &long, 0, &[]).is_empty());
    }
}
