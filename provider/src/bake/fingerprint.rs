//! The fingerprint of an image: a digest of everything that determines its content. Two bakes
//! with the same fingerprint produce the same image, so an available image carrying it is adopted
//! instead of baked again.
//!
//! Deliberately left out: where the builder runs (subnet, security groups, run tags), how the
//! image is named and tagged, and timeouts — none of them changes what is on the disk.

use sha2::{Digest, Sha256};

use super::spec::BakeSpec;

/// Bumped if the meaning of the inputs changes, so old fingerprints stop matching.
const FORMAT: &str = "immutable-image-fingerprint/1";

pub fn fingerprint(spec: &BakeSpec, source_ami_id: &str) -> String {
    let doc = serde_json::json!({
        "format": FORMAT,
        "source_ami_id": source_ami_id,
        "code_tag": spec.code_tag,
        "script": spec.script,
        "environment": spec.environment,
        "instance_type": spec.builder.instance_type,
        "iam_instance_profile": spec.builder.iam_instance_profile,
    });
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
        assert_eq!(base, fingerprint(&s, "ami-1"));
    }
}
