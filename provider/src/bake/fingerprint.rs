//! The fingerprint of an image: a digest of everything that determines its content. Two bakes
//! with the same fingerprint produce the same image, so an available image carrying it is adopted
//! instead of baked again.
//!
//! Deliberately left out: where the builder runs (subnet, security groups, run tags), how the
//! script reaches it (communicator, SSH host, port, bastion, allowed CIDRs), how the image is
//! named, tagged, shared and copied, and timeouts — none of them changes what is on the disk.
//! Encryption does (the snapshots are encrypted with a given key), so it is in, but only when
//! asked for: images baked before encryption existed keep their fingerprints.

use sha2::{Digest, Sha256};

use super::spec::BakeSpec;

/// Bumped if the meaning of the inputs changes, so old fingerprints stop matching.
const FORMAT: &str = "immutable-image-fingerprint/1";

pub fn fingerprint(spec: &BakeSpec, source_ami_id: &str) -> String {
    let mut doc = serde_json::json!({
        "format": FORMAT,
        "source_ami_id": source_ami_id,
        "code_tag": spec.code_tag,
        "script": spec.script,
        "environment": spec.environment,
        "instance_type": spec.builder.instance_type,
        "iam_instance_profile": spec.builder.iam_instance_profile,
    });
    if spec.image.encrypted {
        doc["encrypted"] = true.into();
        doc["kms_key_id"] = spec.image.kms_key_id.clone().into();
    }
    // serde_json writes object keys sorted (BTreeMap-backed), so the text is canonical.
    let digest = Sha256::digest(doc.to_string().as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bake::spec::{Builder, ImageSettings, Source};
    use std::time::Duration;

    fn spec() -> BakeSpec {
        BakeSpec {
            source: Source::Ami("ami-1".into()),
            code_tag: "v1".into(),
            script: "echo hi".into(),
            environment: [("A".to_string(), "1".to_string())].into(),
            communicator: Default::default(),
            builder: Builder {
                instance_type: "t3.micro".into(),
                ..Builder::default()
            },
            image: ImageSettings::default(),
            create_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn content_inputs_change_it_and_placement_does_not() {
        let base = fingerprint(&spec(), "ami-1");
        assert!(base.starts_with("sha256:") && base.len() == 7 + 32);
        assert_eq!(base, fingerprint(&spec(), "ami-1"), "deterministic");
        assert_ne!(base, fingerprint(&spec(), "ami-2"));
        let mut s = spec();
        s.code_tag = "v2".into();
        assert_ne!(base, fingerprint(&s, "ami-1"));
        let mut s = spec();
        s.script.push(' ');
        assert_ne!(base, fingerprint(&s, "ami-1"));
        let mut s = spec();
        s.environment.insert("B".into(), "2".into());
        assert_ne!(base, fingerprint(&s, "ami-1"));
        let mut s = spec();
        s.builder.subnet_id = Some("subnet-1".into());
        s.builder.run_tags.insert("x".into(), "y".into());
        s.image.name_template = "other".into();
        s.image.copy_to_regions = vec!["eu-west-1".into()];
        s.image.keep_previous = Some(2);
        s.image.launch_permission.accounts = vec!["111111111111".into()];
        s.communicator =
            crate::bake::spec::Communicator::Ssh(Box::new(crate::bake::spec::SshSettings {
                username: "ubuntu".into(),
                port: 2222,
                host: Some("10.0.0.1".into()),
                key_pair: None,
                allowed_cidrs: vec!["10.0.0.0/8".into()],
                timeout: Duration::from_secs(1),
                bastion: None,
            }));
        assert_eq!(base, fingerprint(&s, "ami-1"));
    }

    #[test]
    fn encryption_changes_it_and_its_absence_keeps_old_fingerprints() {
        // The fingerprint of this spec as computed before encryption existed: must not change,
        // or every image baked earlier would be replaced after an upgrade.
        assert_eq!(
            fingerprint(&spec(), "ami-1"),
            "sha256:00ac7438a0911eb3d634f5910398aec2"
        );
        let base = fingerprint(&spec(), "ami-1");
        let mut s = spec();
        s.image.kms_key_id = Some("alias/x".into());
        assert_eq!(
            base,
            fingerprint(&s, "ami-1"),
            "a key without encryption is ignored"
        );
        s.image.encrypted = true;
        let enc = fingerprint(&s, "ami-1");
        assert_ne!(base, enc);
        s.image.kms_key_id = Some("alias/y".into());
        assert_ne!(enc, fingerprint(&s, "ami-1"));
    }
}
