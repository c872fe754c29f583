//! What a bake needs to know, resolved from the resource's configuration.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Ami(String),
    Filter {
        owners: Vec<String>,
        name: String,
        most_recent: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BakeSpec {
    pub source: Source,
    pub code_tag: String,
    /// The provisioning script's content (inline, or read from `script_file`).
    pub script: String,
    pub environment: BTreeMap<String, String>,
    pub builder: Builder,
    pub image: ImageSettings,
    pub create_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Builder {
    pub instance_type: String,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub iam_instance_profile: Option<String>,
    pub run_tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageSettings {
    pub name_template: String,
    pub description: Option<String>,
    /// User tags plus the provider's default tags; managed tags are added by the engine.
    pub tags: BTreeMap<String, String>,
}
