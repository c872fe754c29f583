//! One file per resource type: schema, validation, plan and the CRUD verbs, kept thin — the
//! engines under `bake` and `rollout` do the work.

pub mod image;
pub mod limits;
pub mod release;

use std::sync::Arc;

use crate::aws::Aws;
use crate::tf::resource::Resource;

/// Every resource type this provider serves.
pub fn all() -> Vec<Arc<dyn Resource<Aws>>> {
    vec![
        Arc::new(image::ImageResource),
        Arc::new(release::ReleaseResource),
    ]
}
