//! SSH keys: a temporary ed25519 key made in memory (only its public half is imported into EC2;
//! the private half never leaves this process and is dropped with the bake), or an existing
//! private key parsed from the configuration. Neither is ever logged nor quoted in an error.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::ResourceType;
use russh::keys::{Algorithm, HashAlg, PrivateKey};

use crate::aws::{AwsError, ErrorContext};
use crate::bake::builder::tag_spec;
use crate::bake::spec::Secret;

/// A new ed25519 key, made from the system's secure random source.
pub fn generate(comment: &str) -> Result<PrivateKey, String> {
    let mut key = PrivateKey::random(&mut russh::keys::key::safe_rng(), Algorithm::Ed25519)
        .map_err(|e| format!("cannot generate an SSH key: {e}"))?;
    key.set_comment(comment);
    Ok(key)
}

/// Parses an unencrypted private key (OpenSSH, PEM/PKCS#1 RSA as EC2 hands them out, PKCS#8).
/// The error names the problem, never the content.
pub fn parse(secret: &Secret) -> Result<PrivateKey, String> {
    match russh::keys::decode_secret_key(secret.expose(), None) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(
            "the private key is protected by a passphrase; give an unencrypted key (the provider has no way to ask for the passphrase)".into(),
        ),
        Err(_) => Err(
            "the private key could not be read: expected an unencrypted OpenSSH (`-----BEGIN OPENSSH PRIVATE KEY-----`), PEM RSA or PKCS#8 private key".into(),
        ),
    }
}

/// The public half in `authorized_keys` format (`ssh-ed25519 AAAA… comment`).
pub fn public_openssh(key: &PrivateKey) -> String {
    key.public_key()
        .to_openssh()
        .unwrap_or_else(|_| String::new())
}

/// The base64 body of the public key: what identifies it in an `authorized_keys` file.
pub fn public_base64(key: &PrivateKey) -> String {
    public_openssh(key)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

pub fn fingerprint(key: &russh::keys::PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Imports the public half as an EC2 key pair, tagged as temporary at creation.
pub async fn import(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
    key: &PrivateKey,
    tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    ec2.import_key_pair()
        .key_name(name)
        .public_key_material(Blob::new(public_openssh(key).into_bytes()))
        .tag_specifications(tag_spec(ResourceType::KeyPair, tags))
        .send()
        .await
        .context("ImportKeyPair", name)?;
    Ok(())
}

pub async fn delete(ec2: &aws_sdk_ec2::Client, name: &str) -> Result<(), AwsError> {
    match ec2
        .delete_key_pair()
        .key_name(name)
        .send()
        .await
        .context("DeleteKeyPair", name)
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_code("InvalidKeyPair.NotFound") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Keys shared through an `Arc` with the SSH client.
pub type SharedKey = Arc<PrivateKey>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_ed25519_and_distinct() {
        let a = generate("bake-1").unwrap();
        let b = generate("bake-1").unwrap();
        assert_eq!(a.algorithm(), Algorithm::Ed25519);
        assert!(public_openssh(&a).starts_with("ssh-ed25519 AAAA"));
        assert!(public_openssh(&a).ends_with(" bake-1"));
        assert_ne!(public_base64(&a), public_base64(&b));
        assert!(fingerprint(a.public_key()).starts_with("SHA256:"));
    }

    #[test]
    fn a_key_round_trips_and_bad_keys_do_not_echo_their_content() {
        let k = generate("x").unwrap();
        let pem = k.to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap();
        let parsed = parse(&Secret::new(pem.to_string())).unwrap();
        assert_eq!(public_base64(&parsed), public_base64(&k));

        let garbage = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END OPENSSH PRIVATE KEY-----\n";
        let e = parse(&Secret::new(garbage)).unwrap_err();
        assert!(!e.contains("c2VjcmV0"), "{e}");
        assert!(e.contains("could not be read"), "{e}");
    }
}
