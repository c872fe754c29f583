//! A small SSH client over russh: connect (directly or through a bastion's `direct-tcpip`
//! channel), authenticate with a private key held in memory, run a command with stdin, stream its
//! output, and report its exit status. No `ssh` binary, no agent, no files.
//!
//! Host keys: a builder is a fresh instance whose host key nobody knows in advance, so the first
//! key it shows is accepted and pinned for the rest of the bake (a later connection that shows
//! another key is refused). A bastion's key is checked against `host_key` when one is given.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, Sig};

use super::keys::{fingerprint, SharedKey};
use super::SshError;
use crate::bake::communicator::{OutputLog, Stream};
use crate::cancel::Cancel;

/// Which host key a server may show.
#[derive(Clone)]
pub enum HostKeyPolicy {
    /// The first key seen is accepted and then required (the builder's key is new).
    FirstUse(Arc<Mutex<Option<PublicKey>>>),
    /// Only this key.
    Pinned(PublicKey),
}

impl HostKeyPolicy {
    pub fn first_use() -> Self {
        HostKeyPolicy::FirstUse(Arc::new(Mutex::new(None)))
    }
}

/// Where to connect and as whom.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub key: SharedKey,
    pub host_key: HostKeyPolicy,
    /// For messages: "builder" or "bastion".
    pub role: &'static str,
}

impl Endpoint {
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A failed connection attempt. `fatal` ones are not retried (a host key that changed).
#[derive(Debug)]
pub struct ConnectError {
    pub message: String,
    pub fatal: bool,
}

impl ConnectError {
    fn retry(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            fatal: false,
        }
    }
}

struct Checker {
    policy: HostKeyPolicy,
    role: &'static str,
    /// Set when the server showed a key the policy refuses.
    refused: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key: PublicKey = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => PublicKey::from(c.public_key().clone()),
        };
        let seen = fingerprint(&key);
        let ok = match &self.policy {
            HostKeyPolicy::Pinned(expected) => expected.key_data() == key.key_data(),
            HostKeyPolicy::FirstUse(slot) => {
                let mut slot = slot.lock().expect("host key lock");
                match &*slot {
                    Some(first) => first.key_data() == key.key_data(),
                    None => {
                        tracing::info!(host_key = %seen, "{} host key accepted on first use", self.role);
                        *slot = Some(key.clone());
                        true
                    }
                }
            }
        };
        if !ok {
            *self.refused.lock().expect("refused lock") = Some(seen);
        }
        Ok(ok)
    }
}

/// An authenticated connection (and the bastion connection it runs through, kept alive).
pub struct Session {
    handle: Handle<Checker>,
    via: Option<Handle<Checker>>,
    target: String,
}

fn config() -> Arc<client::Config> {
    Arc::new(client::Config {
        // A builder that disappears (terminated, network cut) is noticed within a minute.
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        nodelay: true,
        ..client::Config::default()
    })
}

/// One attempt to reach `target`, through `bastion` when given.
pub async fn connect(
    target: &Endpoint,
    bastion: Option<&Endpoint>,
) -> Result<Session, ConnectError> {
    let config = config();
    let Some(b) = bastion else {
        let (checker, refused) = checker(target);
        let res = client::connect(config, (target.host.as_str(), target.port), checker).await;
        let mut handle = res.map_err(|e| connect_error(target, e, &refused))?;
        authenticate(&mut handle, target).await?;
        return Ok(Session {
            handle,
            via: None,
            target: target.address(),
        });
    };
    let (checker_b, refused_b) = checker(b);
    let mut via = client::connect(config.clone(), (b.host.as_str(), b.port), checker_b)
        .await
        .map_err(|e| connect_error(b, e, &refused_b))?;
    authenticate(&mut via, b).await?;
    let channel = via
        .channel_open_direct_tcpip(target.host.as_str(), u32::from(target.port), "127.0.0.1", 0)
        .await
        .map_err(|e| {
            ConnectError::retry(format!(
                "the bastion {} could not open a connection to {}: {e}",
                b.address(),
                target.address()
            ))
        })?;
    let (checker_t, refused_t) = checker(target);
    let mut handle = client::connect_stream(config, channel.into_stream(), checker_t)
        .await
        .map_err(|e| connect_error(target, e, &refused_t))?;
    authenticate(&mut handle, target).await?;
    Ok(Session {
        handle,
        via: Some(via),
        target: format!("{} via bastion {}", target.address(), b.address()),
    })
}

fn checker(e: &Endpoint) -> (Checker, Arc<Mutex<Option<String>>>) {
    let refused = Arc::new(Mutex::new(None));
    (
        Checker {
            policy: e.host_key.clone(),
            role: e.role,
            refused: refused.clone(),
        },
        refused,
    )
}

fn connect_error(e: &Endpoint, err: russh::Error, refused: &Mutex<Option<String>>) -> ConnectError {
    if let Some(seen) = refused.lock().expect("refused lock").take() {
        let why = match &e.host_key {
            HostKeyPolicy::Pinned(k) => format!("expected {}", fingerprint(k)),
            HostKeyPolicy::FirstUse(_) => {
                "another key was accepted earlier in this bake: someone may be intercepting the connection".into()
            }
        };
        return ConnectError {
            message: format!(
                "the {} at {} showed host key {seen}, which is refused ({why})",
                e.role,
                e.address()
            ),
            fatal: true,
        };
    }
    ConnectError::retry(format!("{} {}: {err}", e.role, e.address()))
}

async fn authenticate(handle: &mut Handle<Checker>, e: &Endpoint) -> Result<(), ConnectError> {
    let hash = if e.key.algorithm().is_rsa() {
        // Servers that do not announce their signature algorithms get SHA-256, which every
        // OpenSSH since 7.2 accepts (SHA-1 `ssh-rsa` is disabled since 8.8).
        match handle.best_supported_rsa_hash().await {
            Ok(Some(h)) => h,
            _ => Some(HashAlg::Sha256),
        }
    } else {
        None
    };
    let res = handle
        .authenticate_publickey(
            e.username.clone(),
            PrivateKeyWithHashAlg::new(e.key.clone(), hash),
        )
        .await
        .map_err(|err| ConnectError::retry(format!("{} {}: {err}", e.role, e.address())))?;
    if res.success() {
        Ok(())
    } else {
        Err(ConnectError::retry(format!(
            "the {} at {} refused the key for user {:?} (not installed yet, or the wrong user or key)",
            e.role,
            e.address(),
            e.username
        )))
    }
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Status(u32),
    Signal(String),
}

impl Session {
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs `command`, sends `stdin` then end-of-file, and streams the output into `log`.
    /// Returns how the command ended; `Cancelled` when `cancel` trips first (the command is sent
    /// SIGTERM and the channel closed).
    pub async fn exec(
        &self,
        command: &str,
        stdin: &[u8],
        log: &mut OutputLog,
        cancel: &Cancel,
    ) -> Result<Exit, SshError> {
        let session_err = |e: russh::Error| SshError::Session {
            target: self.target.clone(),
            message: e.to_string(),
        };
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(session_err)?;
        channel.exec(true, command).await.map_err(session_err)?;
        if !stdin.is_empty() {
            channel
                .data_bytes(stdin.to_vec())
                .await
                .map_err(session_err)?;
        }
        channel.eof().await.map_err(session_err)?;
        let mut exit = None;
        loop {
            let msg = tokio::select! {
                m = channel.wait() => m,
                _ = cancel.tripped() => {
                    let _ = channel.signal(Sig::TERM).await;
                    let _ = channel.close().await;
                    log.finish();
                    return Err(SshError::Cancelled);
                }
            };
            match msg {
                Some(ChannelMsg::Data { data }) => log.push(Stream::Stdout, &data),
                Some(ChannelMsg::ExtendedData { data, .. }) => log.push(Stream::Stderr, &data),
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    exit = Some(Exit::Status(exit_status))
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    exit = Some(Exit::Signal(format!("{signal_name:?}")))
                }
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            }
        }
        log.finish();
        exit.ok_or_else(|| SshError::Session {
            target: self.target.clone(),
            message: "the connection ended before the command reported how it exited (did the script reboot the builder or stop sshd?)".into(),
        })
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "bake finished", "en")
            .await;
        if let Some(v) = self.via {
            let _ = v
                .disconnect(Disconnect::ByApplication, "bake finished", "en")
                .await;
        }
    }
}
