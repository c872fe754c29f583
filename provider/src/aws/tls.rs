//! `custom_ca_bundle` / `AWS_CA_BUNDLE`: extra certificate authorities for the AWS endpoints.
//!
//! The SDK's default HTTPS client trusts the system's roots only. With a bundle, the provider
//! builds the same client (rustls on aws-lc, proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`
//! as the SDK's default does since behaviour version 2025-08-07) with the bundle's
//! certificates added to the system's roots.

use std::path::{Path, PathBuf};

use aws_sdk_sts::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The environment variable the AWS CLI and SDKs read for the same setting.
pub const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";

/// A PEM bundle that was read and checked: every certificate in it parses as a trust anchor.
#[derive(Clone, PartialEq)]
pub struct CaBundle {
    pub path: PathBuf,
    pem: Vec<u8>,
    pub certificates: usize,
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaBundle")
            .field("path", &self.path)
            .field("certificates", &self.certificates)
            .finish()
    }
}

impl CaBundle {
    /// Reads and checks the bundle. The SDK's client panics on a certificate it cannot parse,
    /// so every one is parsed here first, by the same functions it uses.
    pub fn read(path: &Path) -> Result<CaBundle, String> {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_pem(path, pem)
    }

    fn from_pem(path: &Path, pem: Vec<u8>) -> Result<CaBundle, String> {
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{} is not a PEM file of certificates: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----).",
                path.display()
            ));
        }
        let mut roots = rustls::RootCertStore::empty();
        for (i, c) in certs.iter().enumerate() {
            roots.add(c.clone()).map_err(|e| {
                format!(
                    "certificate {} of {} cannot be a trust anchor: {e}",
                    i + 1,
                    path.display()
                )
            })?;
        }
        Ok(CaBundle {
            path: path.to_path_buf(),
            certificates: certs.len(),
            pem,
        })
    }

    /// The SDK's default HTTPS client with this bundle added to the system's roots.
    pub fn http_client(&self) -> SharedHttpClient {
        let ctx = TlsContext::builder()
            .with_trust_store(TrustStore::default().with_pem_certificate(self.pem.clone()))
            .build()
            .expect("a TLS context without server names always builds");
        // The connector function is the one the SDK's own default client is built with
        // (aws-smithy-runtime `default_https_client`), so timeouts, sleep and proxies behave alike.
        Builder::new().build_with_connector_fn(move |settings, components| {
            let mut b = ConnectorBuilder::default()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(ctx.clone());
            b.set_connector_settings(settings.cloned());
            if let Some(c) = components {
                b.set_sleep_impl(c.sleep_impl());
            }
            b.set_proxy_config(Some(ProxyConfig::from_env()));
            b.build()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_bundle_of_certificates_is_accepted() {
        let pem = format!("{}{}", ca_pem(), ca_pem());
        let b = CaBundle::from_pem(Path::new("b.pem"), pem.into_bytes()).unwrap();
        assert_eq!(b.certificates, 2);
    }

    #[test]
    fn anything_else_is_refused_with_the_path() {
        for (pem, why) in [
            ("", "no PEM certificate"),
            ("hello", "no PEM certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "trust anchor",
            ),
            (
                "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
                "not a PEM file",
            ),
        ] {
            let e = CaBundle::from_pem(Path::new("/x/b.pem"), pem.as_bytes().to_vec()).unwrap_err();
            assert!(e.contains("/x/b.pem") && e.contains(why), "{pem:?}: {e}");
        }
        let e = CaBundle::read(Path::new("/nonexistent/b.pem")).unwrap_err();
        assert!(e.contains("cannot read /nonexistent/b.pem"), "{e}");
    }
}
