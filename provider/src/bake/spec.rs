//! What a bake needs to know, resolved from the resource's configuration.

use std::collections::BTreeMap;
use std::fmt;
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
    pub communicator: Communicator,
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
    /// EC2 key pair for the builder (set by the SSH communicator, never by configuration).
    pub key_name: Option<String>,
}

/// How the script reaches the builder.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Communicator {
    /// SSM Run Command: no inbound network, no keys.
    #[default]
    Ssm,
    /// SSH, Packer's classic path.
    Ssh(Box<SshSettings>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SshSettings {
    pub username: String,
    pub port: u16,
    /// Connect here instead of the builder's own address (port forwards, tests).
    pub host: Option<String>,
    /// An existing EC2 key pair and its private key; `None`: a temporary key pair is made.
    pub key_pair: Option<ExistingKeyPair>,
    /// Sources the temporary security group lets in (only made when the builder is given no
    /// security groups).
    pub allowed_cidrs: Vec<String>,
    /// How long to wait for SSH to answer once the builder runs.
    pub timeout: Duration,
    pub bastion: Option<Bastion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExistingKeyPair {
    pub name: String,
    pub private_key: Secret,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bastion {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub private_key: Secret,
    /// The bastion's host key (`ssh-ed25519 AAAA…`); when set, any other key is refused.
    pub host_key: Option<String>,
}

/// A value that must never reach a log line or an error message: `Debug` prints a placeholder
/// and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageSettings {
    pub name_template: String,
    pub description: Option<String>,
    /// User tags plus the provider's default tags; managed tags are added by the engine.
    pub tags: BTreeMap<String, String>,
    /// Regions that get a copy of the image (the home region excluded).
    pub copy_to_regions: Vec<String>,
    pub launch_permission: LaunchPermission,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    /// Earlier images of the same lineage to keep beside the current one; `None`: keep all.
    pub keep_previous: Option<u32>,
}

/// Who besides the owner may launch the image (and its copies).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LaunchPermission {
    pub accounts: Vec<String>,
    pub organization_arns: Vec<String>,
    pub organizational_unit_arns: Vec<String>,
    /// Anyone may launch it (EC2's `all` group).
    pub public: bool,
}

impl LaunchPermission {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.organization_arns.is_empty()
            && self.organizational_unit_arns.is_empty()
            && !self.public
    }

    /// What `self` grants that `other` does not.
    pub fn minus(&self, other: &LaunchPermission) -> LaunchPermission {
        let diff = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|x| !b.contains(x)).cloned().collect()
        };
        LaunchPermission {
            accounts: diff(&self.accounts, &other.accounts),
            organization_arns: diff(&self.organization_arns, &other.organization_arns),
            organizational_unit_arns: diff(
                &self.organizational_unit_arns,
                &other.organizational_unit_arns,
            ),
            public: self.public && !other.public,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let k = ExistingKeyPair {
            name: "k".into(),
            private_key: s,
        };
        assert!(!format!("{k:?}").contains("BEGIN"));
    }

    #[test]
    fn launch_permission_difference() {
        let a = LaunchPermission {
            accounts: vec!["111111111111".into(), "222222222222".into()],
            ..Default::default()
        };
        let b = LaunchPermission {
            accounts: vec!["222222222222".into()],
            organization_arns: vec!["arn:aws:organizations::1:organization/o-1".into()],
            ..Default::default()
        };
        assert_eq!(a.minus(&b).accounts, vec!["111111111111"]);
        assert!(b.minus(&a).accounts.is_empty());
        assert_eq!(b.minus(&a).organization_arns.len(), 1);
        assert!(LaunchPermission::default().is_empty());
    }
}
