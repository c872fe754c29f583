//! The SSH communicator and result arguments of `immutable_image`: static validation (no AWS
//! call; every problem names its attribute) and conversion into the bake engine's settings.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::args::{BastionBlock, CommunicatorKind, Config, LaunchPermissionBlock, Strings};
use crate::aws::settings::looks_like_region;
use crate::bake::spec::{
    Bastion, Communicator, ExistingKeyPair, ImageSettings, LaunchPermission, Secret, SshSettings,
};
use crate::bake::ssh::keys;
use crate::tf::args::Arg;
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::value::Value;

/// Defaults the schema declares, one constant each. Apply takes them from the plan, where the
/// framework filled them; only `name_template`'s is also read here, for states written before
/// defaults were filled (`image_settings` of a prior state).
pub(super) const DEFAULT_SSH_TIMEOUT: &str = "5m";
pub(super) const DEFAULT_NAME_TEMPLATE: &str = "immutable-{{tag}}-{{timestamp}}";
pub(super) const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";

const SSH_ONLY: [&str; 8] = [
    "ssh_username",
    "ssh_host",
    "ssh_keypair_name",
    "ssh_private_key",
    "ssh_private_key_file",
    "ssh_allowed_cidrs",
    "ssh_port",
    "ssh_timeout",
];

fn root(a: &str) -> AttrPath {
    AttrPath::root(a)
}

fn block_set(raw: &Value, attr: &str) -> bool {
    matches!(raw.get(attr), Value::List(l) if !l.is_empty())
}

/// `10.0.0.0/8`, `203.0.113.7/32`, `2001:db8::/32`.
pub fn is_cidr(s: &str) -> bool {
    let Some((ip, len)) = s.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(len)) = (ip.parse::<IpAddr>(), len.parse::<u8>()) else {
        return false;
    };
    match ip {
        IpAddr::V4(_) => len <= 32,
        IpAddr::V6(_) => len <= 128,
    }
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:<partition>:organizations::<account>:<kind>/o-…`
fn is_org_arn(s: &str, kind: &str) -> bool {
    let mut parts = s.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("organizations"), Some(""), Some(account), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    partition.starts_with("aws")
        && is_account_id(account)
        && rest
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix("/o-"))
            .is_some_and(|r| !r.is_empty())
}

pub fn validate_ssh(c: &Config, raw: &Value, d: &mut Diagnostics) {
    let communicator = raw.get("communicator");
    let is_ssm = communicator.is_null() || communicator.as_str() == Some("ssm");
    let is_ssh = communicator.as_str() == Some("ssh");

    for cidr in c.ssh_allowed_cidrs.known_elements() {
        if !is_cidr(cidr) {
            d.attr_error(
                root("ssh_allowed_cidrs"),
                "Invalid CIDR",
                format!(
                    "{cidr:?} is not a CIDR block such as \"203.0.113.7/32\" or \"2001:db8::/64\"."
                ),
            );
        }
    }
    if c.ssh_host.as_deref() == Some("") {
        d.attr_error(root("ssh_host"), "Empty ssh_host", "Give a host name or an IP address, or leave ssh_host out to use the builder's address.");
    }
    if c.ssh_username.as_deref() == Some("") {
        d.attr_error(
            root("ssh_username"),
            "Empty ssh_username",
            "Give the user to log in as, e.g. \"ubuntu\".",
        );
    }

    // Keys: an existing key pair comes with exactly one source for its private key.
    let has_name = !raw.get("ssh_keypair_name").is_null();
    let key_inline = !raw.get("ssh_private_key").is_null();
    let key_file = !raw.get("ssh_private_key_file").is_null();
    if key_inline && key_file {
        d.attr_error(
            root("ssh_private_key"),
            "Conflicting private keys",
            "Set either ssh_private_key or ssh_private_key_file, not both.",
        );
    }
    if has_name && !key_inline && !key_file {
        d.attr_error(
            root("ssh_keypair_name"),
            "Missing private key",
            "An existing key pair needs its private key: set ssh_private_key_file (or ssh_private_key). Leave ssh_keypair_name out to have a temporary key pair made for each bake.",
        );
    }
    if (key_inline || key_file) && raw.get("ssh_keypair_name").is_null() {
        d.attr_error(
            root(if key_inline { "ssh_private_key" } else { "ssh_private_key_file" }),
            "Private key without a key pair",
            "Set ssh_keypair_name to the EC2 key pair this private key belongs to (the builder is launched with it), or leave the key out to have a temporary key pair made.",
        );
    }
    if let Some(k) = c.ssh_private_key.known() {
        if let Err(e) = keys::parse(&Secret::new(k.clone())) {
            d.attr_error(root("ssh_private_key"), "Invalid private key", e);
        }
    }

    if let Some(b) = c.ssh_bastion.known() {
        validate_bastion(b, raw, key_inline || key_file, d);
    }

    if is_ssh {
        if raw.get("ssh_username").is_null() {
            d.attr_error(
                root("ssh_username"),
                "Missing ssh_username",
                "communicator = \"ssh\" needs the user to log in as, e.g. \"ubuntu\" (Ubuntu), \"ec2-user\" (Amazon Linux), \"admin\" (Debian).",
            );
        }
        let cidrs_given = !raw.get("ssh_allowed_cidrs").is_null();
        let groups_given = !raw.get("security_group_ids").is_null();
        if cidrs_given && groups_given {
            d.push(
                Diagnostic::warning(
                    "ssh_allowed_cidrs is ignored",
                    "With security_group_ids the builder is launched in those groups and no temporary group is made: they must let SSH in themselves.",
                )
                .at(root("ssh_allowed_cidrs")),
            );
        }
        if !cidrs_given && !groups_given {
            d.attr_error(
                root("ssh_allowed_cidrs"),
                "Missing ssh_allowed_cidrs",
                "With communicator = \"ssh\" the provider makes a security group for the builder and opens the SSH port only to these sources, e.g. [\"203.0.113.7/32\"] (this machine's public address) or the bastion's subnet. Or set security_group_ids to groups that already allow SSH.",
            );
        }
        if matches!(raw.get("ssh_allowed_cidrs"), Value::Set(v) | Value::List(v) if v.is_empty()) {
            d.attr_error(
                root("ssh_allowed_cidrs"),
                "No sources",
                "List at least one CIDR; an empty list would let nobody reach the builder.",
            );
        }
    } else if is_ssm {
        let mut set: Vec<&str> = SSH_ONLY
            .iter()
            .copied()
            .filter(|a| !raw.get(a).is_null())
            .collect();
        if block_set(raw, "ssh_bastion") {
            set.push("ssh_bastion");
        }
        if !set.is_empty() {
            d.push(
                Diagnostic::warning(
                    "SSH settings are ignored",
                    format!(
                        "{} only apply with communicator = \"ssh\"; the communicator is \"ssm\".",
                        set.join(", ")
                    ),
                )
                .at(root(set[0])),
            );
        }
    }
}

fn validate_bastion(b: &BastionBlock, raw: &Value, builder_key: bool, d: &mut Diagnostics) {
    let p = || AttrPath::root("ssh_bastion").index(0);
    if b.host.as_deref() == Some("") {
        d.attr_error(
            p().attr("host"),
            "Empty bastion host",
            "Give the bastion's address.",
        );
    }
    if b.username.as_deref() == Some("") {
        d.attr_error(
            p().attr("username"),
            "Empty bastion username",
            "Give the user to log in to the bastion as.",
        );
    }
    let raw_b = match raw.get("ssh_bastion") {
        Value::List(l) => l.first().cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let inline = !raw_b.get("private_key").is_null();
    let file = !raw_b.get("private_key_file").is_null();
    if inline && file {
        d.attr_error(
            p().attr("private_key"),
            "Conflicting private keys",
            "Set either private_key or private_key_file, not both.",
        );
    }
    if !inline && !file && !builder_key {
        d.attr_error(
            p().attr("private_key_file"),
            "Missing bastion key",
            "The bastion needs a private key: set private_key_file (or private_key), or give the builder an existing key (ssh_keypair_name with ssh_private_key_file) that the bastion accepts too.",
        );
    }
    if let Some(k) = b.private_key.known() {
        if let Err(e) = keys::parse(&Secret::new(k.clone())) {
            d.attr_error(p().attr("private_key"), "Invalid private key", e);
        }
    }
    if let Some(h) = b.host_key.known() {
        if russh::keys::PublicKey::from_openssh(h.trim()).is_err() {
            d.attr_error(
                p().attr("host_key"),
                "Invalid host key",
                "Expected a public key line such as \"ssh-ed25519 AAAAC3Nza…\" (from the bastion's /etc/ssh/ssh_host_ed25519_key.pub, or `ssh-keyscan`, without the host name).",
            );
        }
    }
}

pub fn validate_results(c: &Config, raw: &Value, d: &mut Diagnostics) {
    for region in c.copy_to_regions.known_elements() {
        if !looks_like_region(region) {
            d.attr_error(
                root("copy_to_regions"),
                "Invalid AWS region",
                format!("{region:?} is not a region name; regions look like \"us-east-1\" or \"eu-central-1\"."),
            );
        }
    }
    if let Some(&n) = c.keep_previous.known() {
        if raw.get("name_template").is_null() {
            d.attr_error(
                root("keep_previous"),
                "keep_previous needs a name_template",
                format!("Images belong to this resource when they share its name_template; the default ({DEFAULT_NAME_TEMPLATE:?}) is shared by every resource that leaves it out, so pruning by it could delete another resource's images. Set a name_template of this resource's own, e.g. \"web-{{{{tag}}}}-{{{{timestamp}}}}\"."),
            );
        }
        if n > 0
            && c.retain_on_destroy != Arg::Known(true)
            && !raw.get("retain_on_destroy").is_unknown()
        {
            d.push(
                Diagnostic::warning(
                    "keep_previous keeps nothing without retain_on_destroy",
                    "With retain_on_destroy = false a replaced image is deleted at once, so there are no earlier images to keep; keep_previous only prunes images left by other means. Set retain_on_destroy = true to keep the last releases for rollback.",
                )
                .at(root("keep_previous")),
            );
        }
    }
    if let Some(lp) = c.launch_permission.known() {
        let p = || AttrPath::root("launch_permission").index(0);
        for a in lp.accounts.known_elements() {
            if !is_account_id(a) {
                d.attr_error(
                    p().attr("accounts"),
                    "Invalid account id",
                    format!("{a:?} is not an AWS account id (12 digits)."),
                );
            }
        }
        for a in lp.organization_arns.known_elements() {
            if !is_org_arn(a, "organization") {
                d.attr_error(
                    p().attr("organization_arns"),
                    "Invalid organization ARN",
                    format!("{a:?} is not an organization ARN such as \"arn:aws:organizations::111122223333:organization/o-exampleorgid\"."),
                );
            }
        }
        for a in lp.organizational_unit_arns.known_elements() {
            if !is_org_arn(a, "ou") {
                d.attr_error(
                    p().attr("organizational_unit_arns"),
                    "Invalid organizational unit ARN",
                    format!("{a:?} is not an organizational unit ARN such as \"arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-examplerootid-exampleouid\"."),
                );
            }
        }
    }
    if !raw.get("kms_key_id").is_null() && raw.get("encrypted").as_bool() != Some(true) {
        // Unknown `encrypted` is given the benefit of the doubt.
        if !raw.get("encrypted").is_unknown() {
            d.attr_error(
                root("kms_key_id"),
                "kms_key_id without encryption",
                "kms_key_id only applies to an encrypted image: set encrypted = true as well.",
            );
        }
    }
    if c.kms_key_id.as_deref() == Some("") {
        d.attr_error(root("kms_key_id"), "Empty kms_key_id", "Give a KMS key id, ARN or alias ARN, or leave kms_key_id out to use the account's default EBS key.");
    }
}

fn launch_permission(b: Option<&LaunchPermissionBlock>) -> LaunchPermission {
    let none = LaunchPermissionBlock::default();
    let b = b.unwrap_or(&none);
    let sorted = |v: &Strings| {
        let mut v = v.known_vec();
        v.sort();
        v.dedup();
        v
    };
    LaunchPermission {
        accounts: sorted(&b.accounts),
        organization_arns: sorted(&b.organization_arns),
        organizational_unit_arns: sorted(&b.organizational_unit_arns),
        // Optional without a default: unset grants nothing.
        public: b.public == Arg::Known(true),
    }
}

/// Name, tags and results of the image: all an in-place update needs (no file is read).
pub fn image_settings(c: &Config, default_tags: &BTreeMap<String, String>) -> ImageSettings {
    let mut tags = default_tags.clone();
    tags.extend(c.tags.known_map());
    let mut regions = c.copy_to_regions.known_vec();
    regions.sort();
    regions.dedup();
    ImageSettings {
        // States written before the framework filled defaults hold null here.
        name_template: c
            .name_template
            .known()
            .cloned()
            .unwrap_or_else(|| DEFAULT_NAME_TEMPLATE.into()),
        description: c.description.known().cloned(),
        tags,
        copy_to_regions: regions,
        launch_permission: launch_permission(c.launch_permission.known()),
        encrypted: c.encrypted == Arg::Known(true),
        kms_key_id: c.kms_key_id.known().cloned(),
        keep_previous: c.keep_previous.known().copied(),
    }
}

/// Reads a private key from the configuration or its file. Errors name the attribute and the
/// path, never the content.
fn private_key(
    inline: &Arg<String>,
    file: &Arg<String>,
    file_path: AttrPath,
) -> Result<Option<Secret>, Diagnostics> {
    if let Some(k) = inline.known() {
        return Ok(Some(Secret::new(k.clone())));
    }
    let Some(path) = file.known() else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error("Cannot read the private key file", format!("{path}: {e}"))
                .at(file_path.clone()),
        )
    })?;
    let secret = Secret::new(text);
    keys::parse(&secret).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error("Invalid private key", format!("{path}: {e}")).at(file_path),
        )
    })?;
    Ok(Some(secret))
}

/// The communicator, with its keys read (apply time only).
pub fn communicator(c: &Config) -> Result<Communicator, Diagnostics> {
    if c.communicator != Arg::Known(CommunicatorKind::Ssh) {
        return Ok(Communicator::Ssm);
    }
    let builder_key = private_key(
        &c.ssh_private_key,
        &c.ssh_private_key_file,
        root("ssh_private_key_file"),
    )?;
    let key_pair = match (c.ssh_keypair_name.known(), &builder_key) {
        (Some(name), Some(k)) => Some(ExistingKeyPair {
            name: name.clone(),
            private_key: k.clone(),
        }),
        _ => None,
    };
    let bastion = match c.ssh_bastion.known() {
        None => None,
        Some(b) => {
            let p = AttrPath::root("ssh_bastion").index(0);
            let own = private_key(
                &b.private_key,
                &b.private_key_file,
                p.clone().attr("private_key_file"),
            )?;
            let key = own.or_else(|| builder_key.clone()).ok_or_else(|| {
                Diagnostics::from(
                    Diagnostic::error("Missing bastion key", "Set ssh_bastion.private_key_file.")
                        .at(p.clone().attr("private_key_file")),
                )
            })?;
            Some(Bastion {
                host: b.host.clone().required(&p.clone().attr("host"))?,
                port: b.port.required(&p.clone().attr("port"))?,
                username: b.username.clone().required(&p.clone().attr("username"))?,
                private_key: key,
                host_key: b.host_key.known().cloned(),
            })
        }
    };
    let timeout = c.ssh_timeout.required(&root("ssh_timeout"))?;
    let mut cidrs = c.ssh_allowed_cidrs.known_vec();
    cidrs.sort();
    Ok(Communicator::Ssh(Box::new(SshSettings {
        username: c.ssh_username.clone().required(&root("ssh_username"))?,
        port: c.ssh_port.required(&root("ssh_port"))?,
        host: c.ssh_host.known().cloned(),
        key_pair,
        allowed_cidrs: cidrs,
        timeout,
        bastion,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        for ok in [
            "10.0.0.0/8",
            "203.0.113.7/32",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::/0",
        ] {
            assert!(is_cidr(ok), "{ok}");
        }
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "2001:db8::/129",
            "x/1",
            "",
            "10.0.0.0/-1",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }

    #[test]
    fn accounts_and_organization_arns() {
        assert!(is_account_id("111122223333"));
        assert!(!is_account_id("11112222333"));
        assert!(!is_account_id("11112222333a"));
        assert!(is_org_arn(
            "arn:aws:organizations::111122223333:organization/o-exampleorgid",
            "organization"
        ));
        assert!(is_org_arn(
            "arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-abc-def",
            "ou"
        ));
        assert!(!is_org_arn(
            "arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-abc-def",
            "organization"
        ));
        assert!(!is_org_arn(
            "arn:aws:iam::111122223333:organization/o-x",
            "organization"
        ));
        assert!(!is_org_arn("o-exampleorgid", "organization"));
    }
}
