//! One file per data source: schema, static validation, and a read-only `read` (describe calls
//! only). They let another stack find what this provider made without sharing its state.

pub mod image;

use std::sync::Arc;

use crate::aws::Aws;
use crate::tf::data_source::DataSource;

/// Every data source this provider serves.
pub fn all() -> Vec<Arc<dyn DataSource<Aws>>> {
    vec![Arc::new(image::ImageDataSource)]
}
