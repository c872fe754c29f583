//! The SSH communicator, Packer's classic path: a temporary key pair (or an existing one), a
//! temporary security group open on the SSH port to the configured CIDRs only, a wait for SSH,
//! then the script uploaded and run with `sudo -S sh -c` (plain `sh -c` as root), with the code
//! tag as `$1` and in `CODE_TAG`.
//!
//! Secrets: the private key lives in memory only; the environment travels on the encrypted
//! channel's stdin into a file only the SSH user can read, sourced and deleted by the run
//! command. Neither appears in a command line, a log line or an error.

pub mod client;
pub mod keys;
pub mod security_group;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aws::wait::Backoff;
use crate::cancel::Cancel;

use super::builder::Addresses;
use super::communicator::{OutputLog, ProvisionError};
use super::spec::{Builder, SshSettings};
use super::ssm::quote;
use client::{Endpoint, Exit, HostKeyPolicy, Session};
use keys::SharedKey;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("Terraform asked the provider to stop")]
    Cancelled,
    #[error("timed out after {}s waiting for SSH on {target}; last attempt: {last}", after.as_secs())]
    TimedOut {
        target: String,
        after: Duration,
        last: String,
    },
    #[error("SSH to {target} refused: {message}")]
    Refused { target: String, message: String },
    #[error("SSH session to {target} failed: {message}")]
    Session { target: String, message: String },
    #[error("{0}")]
    Key(String),
    #[error("uploading the {what} to {target} failed ({exit:?}): {tail}")]
    Upload {
        what: &'static str,
        target: String,
        exit: Exit,
        tail: String,
    },
}

/// How the builder is reached, decided before it is launched.
pub struct Access {
    pub key_name: String,
    pub key: SharedKey,
    /// Made by this bake (its public half is removed from the image after provisioning).
    pub temporary_key: bool,
    /// The groups the builder is launched with: the configured ones, or the temporary one.
    pub security_group_ids: Vec<String>,
}

/// What an SSH bake created and must delete once the builder is gone.
#[derive(Debug, Default)]
pub struct Made {
    pub key_pair: Option<String>,
    pub security_group: Option<String>,
}

/// Name of the temporary key pair and security group of a bake.
pub fn temporary_name(bake_id: &str) -> String {
    format!("immutable-{bake_id}")
}

/// The key pair and security group, made (and recorded in `made` as soon as they exist) or taken
/// from the configuration.
pub async fn prepare(
    ec2: &aws_sdk_ec2::Client,
    ssh: &SshSettings,
    builder: &Builder,
    temp_tags: &BTreeMap<String, String>,
    bake_id: &str,
    made: &mut Made,
) -> Result<Access, ProvisionError> {
    let name = temporary_name(bake_id);
    let (key_name, key, temporary_key) = match &ssh.key_pair {
        Some(existing) => {
            let key = keys::parse(&existing.private_key).map_err(SshError::Key)?;
            (existing.name.clone(), Arc::new(key), false)
        }
        None => {
            let key = keys::generate(&name).map_err(SshError::Key)?;
            keys::import(ec2, &name, &key, temp_tags).await?;
            made.key_pair = Some(name.clone());
            tracing::info!(key_pair = %name, fingerprint = %keys::fingerprint(key.public_key()), "temporary key pair imported");
            (name.clone(), Arc::new(key), true)
        }
    };
    let security_group_ids = if builder.security_group_ids.is_empty() {
        let vpc = security_group::vpc_of(ec2, builder.subnet_id.as_deref()).await?;
        let id = security_group::create(
            ec2,
            &name,
            vpc.as_deref(),
            temp_tags,
            &mut made.security_group,
        )
        .await?;
        security_group::allow_ssh(ec2, &id, ssh.port, &ssh.allowed_cidrs).await?;
        tracing::info!(security_group = %id, port = ssh.port, cidrs = ?ssh.allowed_cidrs, "temporary security group created");
        vec![id]
    } else {
        builder.security_group_ids.clone()
    };
    Ok(Access {
        key_name,
        key,
        temporary_key,
        security_group_ids,
    })
}

/// Where to connect: `ssh_host`, else the private address behind a bastion, else the public
/// address, else the private one.
pub fn target_host(ssh: &SshSettings, addr: &Addresses) -> Option<String> {
    if let Some(h) = &ssh.host {
        return Some(h.clone());
    }
    if ssh.bastion.is_some() {
        return addr.private_ip.clone().or_else(|| addr.public_ip.clone());
    }
    addr.public_ip.clone().or_else(|| addr.private_ip.clone())
}

pub struct Script<'a> {
    pub content: &'a str,
    pub code_tag: &'a str,
    pub environment: &'a BTreeMap<String, String>,
    pub bake_id: &'a str,
}

/// Waits for SSH, uploads and runs the script, checks its exit status.
pub async fn provision(
    ssh: &SshSettings,
    access: &Access,
    addr: &Addresses,
    script: &Script<'_>,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<(), ProvisionError> {
    let host = target_host(ssh, addr).ok_or_else(|| SshError::Session {
        target: "the builder".into(),
        message: "it has neither a public nor a private IP address; set ssh_host".into(),
    })?;
    let target = Endpoint {
        host,
        port: ssh.port,
        username: ssh.username.clone(),
        key: access.key.clone(),
        host_key: HostKeyPolicy::first_use(),
        role: "builder",
    };
    let bastion = match &ssh.bastion {
        None => None,
        Some(b) => Some(Endpoint {
            host: b.host.clone(),
            port: b.port,
            username: b.username.clone(),
            key: Arc::new(keys::parse(&b.private_key).map_err(SshError::Key)?),
            host_key: match &b.host_key {
                Some(k) => HostKeyPolicy::Pinned(
                    russh::keys::PublicKey::from_openssh(k.trim())
                        .map_err(|e| SshError::Key(format!("ssh_bastion.host_key: {e}")))?,
                ),
                None => HostKeyPolicy::first_use(),
            },
            role: "bastion",
        }),
    };
    let started = Instant::now();
    let session = wait_for_ssh(&target, bastion.as_ref(), ssh.timeout.min(timeout), cancel).await?;
    tracing::info!(target = session.target(), user = %ssh.username, waited_ms = started.elapsed().as_millis() as u64, "SSH is up");
    let result = run_script(&session, ssh, access, script, cancel).await;
    session.close().await;
    result
}

async fn run_script(
    session: &Session,
    ssh: &SshSettings,
    access: &Access,
    script: &Script<'_>,
    cancel: &Cancel,
) -> Result<(), ProvisionError> {
    let paths = Paths::new(script.bake_id);
    upload(
        session,
        "script",
        &paths.script,
        script.content.as_bytes(),
        cancel,
    )
    .await?;
    upload(
        session,
        "environment",
        &paths.env,
        env_file(script.code_tag, script.environment).as_bytes(),
        cancel,
    )
    .await?;
    let command = run_command(&paths, &ssh.username);
    tracing::info!(command = %command, "provisioning script started");
    let mut log = OutputLog::new();
    let exit = session.exec(&command, b"", &mut log, cancel).await?;
    match exit {
        Exit::Status(0) => {}
        Exit::Status(code) => {
            return Err(ProvisionError::ScriptFailed {
                code: code as i32,
                status: "Failed".into(),
                tail: log.tail(),
            })
        }
        Exit::Signal(sig) => {
            return Err(ProvisionError::ScriptFailed {
                code: -1,
                status: format!("killed by signal {sig}"),
                tail: log.tail(),
            })
        }
    }
    tracing::info!(lines = log.line_count(), "provisioning script succeeded");
    if access.temporary_key {
        // The private half is about to be dropped; its public half has no business in the image.
        let mut quiet = OutputLog::new();
        match session
            .exec(
                &forget_key_command(&keys::public_base64(&access.key)),
                b"",
                &mut quiet,
                cancel,
            )
            .await
        {
            Ok(Exit::Status(0)) => {
                tracing::debug!("temporary public key removed from authorized_keys")
            }
            other => {
                tracing::warn!(
                    "could not remove the temporary public key from authorized_keys: {other:?}"
                )
            }
        }
    }
    Ok(())
}

async fn upload(
    session: &Session,
    what: &'static str,
    path: &str,
    content: &[u8],
    cancel: &Cancel,
) -> Result<(), SshError> {
    let mut log = OutputLog::new();
    match session
        .exec(&upload_command(path), content, &mut log, cancel)
        .await?
    {
        Exit::Status(0) => Ok(()),
        exit => Err(SshError::Upload {
            what,
            target: session.target().to_string(),
            exit,
            tail: log.tail(),
        }),
    }
}

/// Connection attempts with backoff until one succeeds, a fatal refusal, the timeout or cancel.
async fn wait_for_ssh(
    target: &Endpoint,
    bastion: Option<&Endpoint>,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<Session, SshError> {
    let describe = match bastion {
        Some(b) => format!("{} via bastion {}", target.address(), b.address()),
        None => target.address(),
    };
    tracing::info!(target = %describe, user = %target.username, "waiting for SSH");
    let start = Instant::now();
    let mut last;
    let mut attempt = 0u32;
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        let per_try = left.clamp(Duration::from_secs(1), Duration::from_secs(20));
        let outcome = tokio::select! {
            r = tokio::time::timeout(per_try, client::connect(target, bastion)) => r,
            _ = cancel.tripped() => return Err(SshError::Cancelled),
        };
        match outcome {
            Ok(Ok(session)) => return Ok(session),
            Ok(Err(e)) if e.fatal => {
                return Err(SshError::Refused {
                    target: describe,
                    message: e.message,
                })
            }
            Ok(Err(e)) => last = e.message,
            Err(_) => last = format!("no SSH answer within {}s", per_try.as_secs()),
        }
        tracing::debug!(attempt, "SSH not ready: {last}");
        if start.elapsed() >= timeout {
            return Err(SshError::TimedOut {
                target: describe,
                after: start.elapsed(),
                last,
            });
        }
        let delay = Backoff::SECONDS
            .delay(attempt)
            .min(timeout.saturating_sub(start.elapsed()));
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.tripped() => return Err(SshError::Cancelled),
        }
    }
}

/// Remote files of one bake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub script: String,
    pub env: String,
}

impl Paths {
    pub fn new(bake_id: &str) -> Self {
        Paths {
            script: format!("/tmp/immutable-provision-{bake_id}.sh"),
            env: format!("/tmp/immutable-env-{bake_id}"),
        }
    }
}

/// Writes stdin to `path`, readable by the SSH user only.
pub fn upload_command(path: &str) -> String {
    format!("umask 077 && cat > {path} && chmod 700 {path}")
}

/// The environment file the run command sources: `CODE_TAG` first, then the configured
/// variables, each value single-quoted so nothing in it is interpreted.
pub fn env_file(code_tag: &str, env: &BTreeMap<String, String>) -> String {
    let mut s = format!("export CODE_TAG={}\n", quote(code_tag));
    for (k, v) in env {
        s.push_str(&format!("export {k}={}\n", quote(v)));
    }
    s
}

/// Packer's `execute_command` with `sudo -S sh -c` (root needs no sudo): source and delete the
/// environment file, run the script with the tag as `$1`, delete the script, keep its exit code.
pub fn run_command(p: &Paths, username: &str) -> String {
    let inner = format!(
        ". {env} && rm -f {env} && {script} \"$CODE_TAG\"; rc=$?; rm -f {script}; exit $rc",
        env = p.env,
        script = p.script
    );
    if username == "root" {
        format!("sh -c '{inner}'")
    } else {
        format!("sudo -S sh -c '{inner}'")
    }
}

/// Removes a public key (its base64 body) from the SSH user's `authorized_keys`; the file is only
/// rewritten when it holds the key.
pub fn forget_key_command(public_base64: &str) -> String {
    format!(
        "f=\"$HOME/.ssh/authorized_keys\"; if [ -f \"$f\" ] && grep -qF '{public_base64}' \"$f\"; then sed -i '\\|{public_base64}|d' \"$f\"; fi"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bake::spec::Bastion;
    use crate::bake::spec::Secret;

    fn settings() -> SshSettings {
        SshSettings {
            username: "ubuntu".into(),
            port: 22,
            host: None,
            key_pair: None,
            allowed_cidrs: vec![],
            timeout: Duration::from_secs(60),
            bastion: None,
        }
    }

    #[test]
    fn run_command_is_packers_sudo_execute_command() {
        let p = Paths::new("bake-ab12");
        assert_eq!(
            run_command(&p, "ubuntu"),
            "sudo -S sh -c '. /tmp/immutable-env-bake-ab12 && rm -f /tmp/immutable-env-bake-ab12 && /tmp/immutable-provision-bake-ab12.sh \"$CODE_TAG\"; rc=$?; rm -f /tmp/immutable-provision-bake-ab12.sh; exit $rc'"
        );
        assert!(run_command(&p, "root").starts_with("sh -c '. /tmp/immutable-env-bake-ab12"));
        assert_eq!(
            upload_command(&p.script),
            "umask 077 && cat > /tmp/immutable-provision-bake-ab12.sh && chmod 700 /tmp/immutable-provision-bake-ab12.sh"
        );
    }

    #[test]
    fn environment_goes_in_a_file_not_on_a_command_line() {
        let env: BTreeMap<_, _> = [("DB_PASSWORD".to_string(), "s3cr'et".to_string())].into();
        let f = env_file("v1.2", &env);
        assert_eq!(
            f,
            "export CODE_TAG='v1.2'\nexport DB_PASSWORD='s3cr'\\''et'\n"
        );
        let p = Paths::new("bake-1");
        assert!(!run_command(&p, "ubuntu").contains("s3cr"));
    }

    #[test]
    fn target_host_prefers_override_then_private_behind_a_bastion() {
        let addr = Addresses {
            public_ip: Some("3.3.3.3".into()),
            private_ip: Some("10.0.0.5".into()),
        };
        let mut s = settings();
        assert_eq!(target_host(&s, &addr).as_deref(), Some("3.3.3.3"));
        s.bastion = Some(Bastion {
            host: "bastion".into(),
            port: 22,
            username: "ec2-user".into(),
            private_key: Secret::new("k"),
            host_key: None,
        });
        assert_eq!(target_host(&s, &addr).as_deref(), Some("10.0.0.5"));
        s.host = Some("127.0.0.1".into());
        assert_eq!(target_host(&s, &addr).as_deref(), Some("127.0.0.1"));
        let none = Addresses::default();
        assert_eq!(target_host(&settings(), &none), None);
        let private_only = Addresses {
            public_ip: None,
            private_ip: Some("10.0.0.5".into()),
        };
        assert_eq!(
            target_host(&settings(), &private_only).as_deref(),
            Some("10.0.0.5")
        );
    }

    #[test]
    fn forgetting_a_key_touches_the_file_only_when_it_holds_it() {
        let c = forget_key_command("AAAAC3NzaC1lZDI1NTE5AAAAI+/x");
        assert!(c.contains("grep -qF 'AAAAC3NzaC1lZDI1NTE5AAAAI+/x'"), "{c}");
        assert!(
            c.contains("sed -i '\\|AAAAC3NzaC1lZDI1NTE5AAAAI+/x|d'"),
            "{c}"
        );
    }
}
