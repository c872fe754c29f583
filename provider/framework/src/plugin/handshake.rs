//! The go-plugin start-up contract: what Terraform puts in our environment, and the one line we
//! answer on stdout.
//!
//! Everything here is pure (the environment is passed in as a lookup function), so the exact
//! wire format is unit-tested without spawning a process.

use std::fmt;
use std::path::Path;

use base64::Engine as _;

/// Environment variable through which go-plugin proves that a plugin host started us.
pub(crate) const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";

/// The value Terraform's handshake config uses; it is not a secret, only a guard against a user
/// running the binary by hand and staring at a line of gibberish.
pub(crate) const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// Comma-separated plugin protocol versions the host can speak, e.g. `6,5`.
pub(crate) const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";

/// PEM of the host's client certificate; absent only when the user set `TF_DISABLE_PLUGIN_TLS`.
pub(crate) const CLIENT_CERT_KEY: &str = "PLUGIN_CLIENT_CERT";

/// go-plugin's own protocol version (the first handshake field); 1 since go-plugin 1.0.
pub(crate) const CORE_PROTOCOL_VERSION: u32 = 1;

/// The Terraform plugin protocol this provider implements (`tfplugin6`).
pub(crate) const APP_PROTOCOL_VERSION: u32 = 6;

/// Printed on stderr when a person runs the binary directly.
pub(crate) const NOT_A_PLUGIN_MESSAGE: &str = "\
This binary is a plugin for Terraform (terraform-provider-immutable). It is not meant to be
executed directly: it is started by terraform when a configuration uses the provider.
See the README for how to install it and use it from a Terraform configuration.";

/// Why the host's request cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// The host did not say which protocol versions it speaks.
    #[error(
        "{PROTOCOL_VERSIONS_KEY} is not set: this provider must be started by Terraform 1.0 or later"
    )]
    NoVersions,
    /// The host speaks only protocol versions we do not implement.
    #[error(
        "Terraform offered plugin protocol version(s) {offered:?} ({PROTOCOL_VERSIONS_KEY}), but this \
         provider implements only protocol {APP_PROTOCOL_VERSION}: use Terraform 1.0 or later"
    )]
    UnsupportedVersions {
        /// The raw value of `PLUGIN_PROTOCOL_VERSIONS`.
        offered: String,
    },
}

/// What the host told us through the environment, already validated.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PluginEnv {
    /// The negotiated application protocol version (always [`APP_PROTOCOL_VERSION`]).
    pub protocol_version: u32,
    /// PEM of the client certificate to pin; `None` means TLS was disabled by the user.
    pub client_cert_pem: Option<String>,
}

impl fmt::Debug for PluginEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginEnv")
            .field("protocol_version", &self.protocol_version)
            .field("tls", &self.client_cert_pem.is_some())
            .finish()
    }
}

/// The outcome of reading the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Startup {
    /// No (or a wrong) magic cookie: a person ran the binary; explain and exit 1.
    NotAPlugin,
    /// Started by a host that we cannot serve.
    Refused(HandshakeError),
    /// Started by Terraform: serve.
    Serve(PluginEnv),
}

/// Reads the start-up environment through `lookup` (e.g. `|k| std::env::var(k).ok()`).
pub(crate) fn read_env(lookup: impl Fn(&str) -> Option<String>) -> Startup {
    if !cookie_matches(lookup(MAGIC_COOKIE_KEY).as_deref()) {
        return Startup::NotAPlugin;
    }
    let protocol_version = match negotiate_version(lookup(PROTOCOL_VERSIONS_KEY).as_deref()) {
        Ok(v) => v,
        Err(e) => return Startup::Refused(e),
    };
    // go-plugin treats an empty value like an absent one: TLS off.
    let client_cert_pem = lookup(CLIENT_CERT_KEY).filter(|pem| !pem.trim().is_empty());
    Startup::Serve(PluginEnv {
        protocol_version,
        client_cert_pem,
    })
}

/// True when the magic cookie is exactly Terraform's.
pub(crate) fn cookie_matches(value: Option<&str>) -> bool {
    value == Some(MAGIC_COOKIE_VALUE)
}

/// Picks protocol 6 from the host's list (`6,5`, `5,6`, `6`, spaces tolerated).
///
/// Unlike go-plugin, which silently falls back to its own version and lets the host fail later
/// with "incompatible API version", we refuse up front with a message that names the fix.
/// Tokens that are not numbers are ignored, as go-plugin does.
pub(crate) fn negotiate_version(value: Option<&str>) -> Result<u32, HandshakeError> {
    let value = match value.map(str::trim) {
        None | Some("") => return Err(HandshakeError::NoVersions),
        Some(v) => v,
    };
    let offers_ours = value
        .split(',')
        .filter_map(|token| token.trim().parse::<u32>().ok())
        .any(|v| v == APP_PROTOCOL_VERSION);
    if offers_ours {
        Ok(APP_PROTOCOL_VERSION)
    } else {
        Err(HandshakeError::UnsupportedVersions {
            offered: value.to_owned(),
        })
    }
}

/// The first stdout line: `1|6|unix|<socket path>|grpc|<cert>\n`.
///
/// `<cert>` is the server certificate's DER in base64 STANDARD alphabet without padding (go-plugin
/// decodes it with `RawStdEncoding`, so padding makes the handshake fail); it is empty when TLS is
/// disabled.
pub(crate) fn handshake_line(
    protocol_version: u32,
    socket_path: &Path,
    server_cert_der: Option<&[u8]>,
) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!(
        "{CORE_PROTOCOL_VERSION}|{protocol_version}|unix|{}|grpc|{cert}\n",
        socket_path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn handshake_line_has_six_fields_and_unpadded_cert() {
        // 4 bytes encode to 8 chars with "==" padding in the padded alphabet.
        let line = handshake_line(
            6,
            Path::new("/tmp/x/plugin.sock"),
            Some(&[0xfb, 0xff, 1, 2]),
        );
        assert_eq!(line, "1|6|unix|/tmp/x/plugin.sock|grpc|+/8BAg\n");
        let fields: Vec<&str> = line.trim_end().split('|').collect();
        assert_eq!(fields.len(), 6);
        assert!(!line.contains('='));
        // The STANDARD alphabet (with + and /), not URL-safe.
        assert!(fields[5].contains('+') && fields[5].contains('/'));
    }

    #[test]
    fn handshake_line_without_tls_has_empty_cert() {
        let line = handshake_line(6, Path::new("/tmp/d/s"), None);
        assert_eq!(line, "1|6|unix|/tmp/d/s|grpc|\n");
    }

    #[test]
    fn cookie_must_match_exactly() {
        assert!(cookie_matches(Some(MAGIC_COOKIE_VALUE)));
        assert!(!cookie_matches(None));
        assert!(!cookie_matches(Some("")));
        assert!(!cookie_matches(Some(&MAGIC_COOKIE_VALUE[1..])));
        assert!(!cookie_matches(Some(&format!("{MAGIC_COOKIE_VALUE} "))));
    }

    #[test]
    fn versions_in_any_order_select_six() {
        for v in ["6", "6,5", "5,6", " 5 , 6 ", "5,x,6", "7,6"] {
            assert_eq!(negotiate_version(Some(v)), Ok(6), "{v}");
        }
    }

    #[test]
    fn versions_without_six_are_refused() {
        assert_eq!(negotiate_version(None), Err(HandshakeError::NoVersions));
        assert_eq!(
            negotiate_version(Some(" ")),
            Err(HandshakeError::NoVersions)
        );
        let err = negotiate_version(Some("5,4")).unwrap_err();
        assert_eq!(
            err,
            HandshakeError::UnsupportedVersions {
                offered: "5,4".into()
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("5,4") && msg.contains("protocol 6"), "{msg}");
        assert!(negotiate_version(Some("16,60")).is_err());
    }

    #[test]
    fn read_env_paths() {
        assert_eq!(read_env(env(&[])), Startup::NotAPlugin);
        assert_eq!(
            read_env(env(&[
                (MAGIC_COOKIE_KEY, "nope"),
                (PROTOCOL_VERSIONS_KEY, "6")
            ])),
            Startup::NotAPlugin
        );
        assert_eq!(
            read_env(env(&[
                (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
                (PROTOCOL_VERSIONS_KEY, "5")
            ])),
            Startup::Refused(HandshakeError::UnsupportedVersions {
                offered: "5".into()
            })
        );
        assert_eq!(
            read_env(env(&[
                (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
                (PROTOCOL_VERSIONS_KEY, "6,5"),
                (CLIENT_CERT_KEY, "PEM"),
            ])),
            Startup::Serve(PluginEnv {
                protocol_version: 6,
                client_cert_pem: Some("PEM".into())
            })
        );
        // An empty client certificate means "TLS disabled", as in go-plugin.
        assert_eq!(
            read_env(env(&[
                (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
                (PROTOCOL_VERSIONS_KEY, "5,6"),
                (CLIENT_CERT_KEY, ""),
            ])),
            Startup::Serve(PluginEnv {
                protocol_version: 6,
                client_cert_pem: None
            })
        );
    }

    #[test]
    fn not_a_plugin_message_is_for_humans() {
        assert!(NOT_A_PLUGIN_MESSAGE.contains("plugin for Terraform"));
        assert!(NOT_A_PLUGIN_MESSAGE.contains("README"));
    }
}
