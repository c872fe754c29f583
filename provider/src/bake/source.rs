//! Resolving the source AMI: an id is checked to exist, a filter picks the newest match.

use aws_sdk_ec2::types::Filter;

use super::spec::Source;
use crate::aws::{AwsError, ErrorContext};

#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSource {
    pub image_id: String,
    pub name: String,
}

/// [`resolve`], remembered for the life of the provider process: every image planned from the
/// same source in one Terraform command gets the same answer from one AWS call.
pub async fn resolve_memo(
    aws: &crate::aws::Aws,
    ec2: &aws_sdk_ec2::Client,
    source: &Source,
) -> Result<ResolvedSource, AwsError> {
    let key = format!("source-ami:{source:?}");
    let found = aws
        .memoize(key, || async {
            let r = resolve(ec2, source).await?;
            Ok(format!("{}\n{}", r.image_id, r.name))
        })
        .await?;
    let (image_id, name) = found.split_once('\n').unwrap_or((found.as_str(), ""));
    Ok(ResolvedSource {
        image_id: image_id.to_string(),
        name: name.to_string(),
    })
}

pub async fn resolve(
    ec2: &aws_sdk_ec2::Client,
    source: &Source,
) -> Result<ResolvedSource, AwsError> {
    match source {
        Source::Ami(id) => {
            let out = ec2
                .describe_images()
                .image_ids(id)
                .send()
                .await
                .context("DescribeImages", id);
            let images = match out {
                Ok(o) => o.images.unwrap_or_default(),
                Err(e) if e.code_starts_with("InvalidAMIID") => vec![],
                Err(e) => return Err(e),
            };
            let img = images.into_iter().next().ok_or_else(|| {
                AwsError::new(
                    "DescribeImages",
                    id,
                    format!("source AMI {id} does not exist in this region, or is not shared with this account"),
                )
            })?;
            Ok(ResolvedSource {
                image_id: id.clone(),
                name: img.name.unwrap_or_default(),
            })
        }
        Source::Filter {
            owners,
            name,
            most_recent,
        } => {
            let out = ec2
                .describe_images()
                .set_owners(Some(owners.clone()))
                .filters(Filter::builder().name("name").values(name).build())
                .filters(Filter::builder().name("state").values("available").build())
                .send()
                .await
                .context("DescribeImages", name)?;
            let mut images = out.images.unwrap_or_default();
            if images.is_empty() {
                return Err(AwsError::new(
                    "DescribeImages",
                    name,
                    format!(
                        "no available AMI named like {name:?} owned by {}",
                        owners.join(", ")
                    ),
                ));
            }
            if images.len() > 1 && !most_recent {
                return Err(AwsError::new(
                    "DescribeImages",
                    name,
                    format!(
                        "{} AMIs match {name:?}; narrow the filter or set most_recent = true",
                        images.len()
                    ),
                ));
            }
            // ISO 8601 creation dates sort as text; the id breaks ties so the choice is stable.
            images.sort_by(|a, b| {
                (a.creation_date(), a.image_id()).cmp(&(b.creation_date(), b.image_id()))
            });
            let newest = images.pop().expect("non-empty");
            Ok(ResolvedSource {
                image_id: newest.image_id.unwrap_or_default(),
                name: newest.name.unwrap_or_default(),
            })
        }
    }
}
