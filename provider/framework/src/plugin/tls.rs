//! AutoMTLS: the server certificate we print in the handshake, and a client verifier that lets in
//! only the one certificate Terraform put in `PLUGIN_CLIENT_CERT`.
//!
//! The provider holds cloud credentials, and its socket is reachable by every local process of the
//! same user; mutual TLS with a pinned client certificate is what keeps them out.
//!
//! Why a verifier of our own: Terraform's client certificate is a self-signed P-521 certificate with
//! `IsCA=true`. rustls' WebPKI client verifier rejects it (`CaUsedAsEndEntity`), so the standard
//! "trust this CA" route does not work; comparing the exact DER and checking the handshake
//! signature with it is both simpler and stricter. The aws-lc-rs provider is used because ring
//! cannot verify P-521 signatures: the client would then silently send no certificate at all.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// `PLUGIN_CLIENT_CERT` holds no parsable certificate.
    #[error("PLUGIN_CLIENT_CERT does not contain a PEM certificate: {0}")]
    ClientCertPem(String),
    /// rcgen failed to produce the server certificate.
    #[error("cannot generate the server certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("cannot build the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The name Terraform checks the server certificate against.
pub(crate) const SERVER_NAME: &str = "localhost";

/// The only application protocol gRPC speaks.
const ALPN_H2: &[u8] = b"h2";

/// A freshly generated, self-signed server certificate and its key.
pub(crate) struct ServerIdentity {
    /// The leaf certificate (printed, base64, in the handshake line).
    pub cert_der: CertificateDer<'static>,
    /// Its PKCS#8 private key; never leaves the process.
    pub key_der: PrivatePkcs8KeyDer<'static>,
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("cert_der_len", &self.cert_der.len())
            .finish_non_exhaustive()
    }
}

/// The crypto provider used for both the server and the verifier.
///
/// Also installed as the process default (if none is yet), so that any other rustls user in the
/// process agrees with us instead of panicking over an ambiguous choice.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let _ = provider.clone().install_default();
    Arc::new(provider)
}

/// Generates the server certificate: ECDSA P-256, SAN `localhost`, serverAuth, valid from
/// yesterday for 30 years (Terraform only pins it for this process's lifetime).
pub(crate) fn generate_server_identity() -> Result<ServerIdentity, TlsError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::OrganizationName,
        "terraform-provider-immutable",
    );
    dn.push(rcgen::DnType::CommonName, SERVER_NAME);
    params.distinguished_name = dn;
    params.is_ca = rcgen::IsCa::NoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let (year, month, day) = crate::civil_time::utc_date_days_ago(1);
    params.not_before = rcgen::date_time_ymd(year, month, day);
    params.not_after = rcgen::date_time_ymd(year + 30, 1, 1);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(
        &fastrand::u64(1..u64::MAX).to_be_bytes(),
    ));
    let cert = params.self_signed(&key)?;
    Ok(ServerIdentity {
        cert_der: cert.der().clone(),
        key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

/// Parses every certificate in the PEM text of `PLUGIN_CLIENT_CERT`.
pub(crate) fn parse_client_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::ClientCertPem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::ClientCertPem("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// The server side of AutoMTLS: our certificate, TLS 1.2 and 1.3, ALPN `h2`, and a mandatory
/// client certificate that must be one of `pinned`.
pub(crate) fn server_config(
    identity: &ServerIdentity,
    pinned: Vec<CertificateDer<'static>>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();
    let verifier =
        PinnedClientCertVerifier::new(pinned, provider.signature_verification_algorithms);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(
            vec![identity.cert_der.clone()],
            PrivateKeyDer::Pkcs8(identity.key_der.clone_key()),
        )?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// Accepts exactly the pinned client certificate(s), byte for byte, and nothing else.
///
/// There is no chain building, no validity-period check and no CA logic on purpose: the host
/// handed us the certificate out of band for this process alone, so equality is the whole trust
/// decision; possession of its key is then proven by the handshake signature.
pub(crate) struct PinnedClientCertVerifier {
    pinned: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCertVerifier {
    /// Verifier for `pinned`, checking signatures with `algorithms` (the crypto provider's).
    pub(crate) fn new(
        pinned: Vec<CertificateDer<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        Self { pinned, algorithms }
    }

    fn is_pinned(&self, cert: &CertificateDer<'_>) -> bool {
        self.pinned.iter().any(|p| p.as_ref() == cert.as_ref())
    }
}

impl fmt::Debug for PinnedClientCertVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedClientCertVerifier")
            .field("pinned", &self.pinned.len())
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for PinnedClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// Empty: a CA list would make the Go client look for a certificate issued by one of them;
    /// an empty list lets it send the one it has.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.is_pinned(end_entity) {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    /// Must include ECDSA P-521/SHA-512, or Terraform's client has no acceptable scheme for its
    /// key and sends no certificate.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate shaped like Terraform's: self-signed, P-521, IsCA=true.
    fn terraform_like_client_cert() -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        params.self_signed(&key).unwrap().der().clone()
    }

    fn verifier_for(cert: &CertificateDer<'static>) -> PinnedClientCertVerifier {
        PinnedClientCertVerifier::new(
            vec![cert.clone()],
            crypto_provider().signature_verification_algorithms,
        )
    }

    #[test]
    fn verifier_accepts_the_pinned_certificate() {
        let cert = terraform_like_client_cert();
        let verifier = verifier_for(&cert);
        assert!(verifier
            .verify_client_cert(&cert, &[], UnixTime::now())
            .is_ok());
    }

    #[test]
    fn verifier_rejects_any_other_certificate() {
        let pinned = terraform_like_client_cert();
        let other = terraform_like_client_cert();
        let verifier = verifier_for(&pinned);
        let err = verifier
            .verify_client_cert(&other, &[], UnixTime::now())
            .unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
        // Not even when the pinned one is offered as an "intermediate".
        assert!(verifier
            .verify_client_cert(&other, std::slice::from_ref(&pinned), UnixTime::now())
            .is_err());
    }

    #[test]
    fn verifier_requires_a_client_certificate_and_sends_no_ca_hints() {
        let verifier = verifier_for(&terraform_like_client_cert());
        assert!(verifier.offer_client_auth());
        assert!(verifier.client_auth_mandatory());
        assert!(verifier.root_hint_subjects().is_empty());
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn client_cert_pem_is_parsed() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let parsed = parse_client_certs(&cert.pem()).unwrap();
        assert_eq!(parsed, vec![cert.der().clone()]);
        assert!(parse_client_certs("not a pem").is_err());
        assert!(parse_client_certs("").is_err());
    }

    #[test]
    fn server_certificate_and_config_build() {
        let identity = generate_server_identity().unwrap();
        assert!(!identity.cert_der.is_empty());
        let config = server_config(&identity, vec![terraform_like_client_cert()]).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }
}
