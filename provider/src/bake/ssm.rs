//! Provisioning through SSM Run Command (`AWS-RunShellScript`): no inbound network, no keys.
//! The script runs with the code tag as `$1` and in `CODE_TAG`, as Packer's classic
//! `execute_command` did; its output is streamed to the logs and its exit code checked.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::aws::wait::{Backoff, WaitError};
use crate::aws::{AwsError, ErrorContext};
use crate::cancel::Cancel;

pub use super::communicator::ProvisionError;
use super::communicator::TAIL_LINES;

/// The shell commands SSM runs: environment, the script written to a file, then the script
/// called with the tag. Values are single-quoted so nothing in them is interpreted by the shell.
pub fn commands(
    script: &str,
    code_tag: &str,
    env: &BTreeMap<String, String>,
    bake_id: &str,
) -> Vec<String> {
    let path = format!("/tmp/immutable-provision-{bake_id}.sh");
    let delim = format!(
        "IMMUTABLE_SCRIPT_{}",
        bake_id.replace('-', "_").to_uppercase()
    );
    let mut cmds = vec![
        "set -eu".to_string(),
        format!("export CODE_TAG={}", quote(code_tag)),
    ];
    for (k, v) in env {
        cmds.push(format!("export {k}={}", quote(v)));
    }
    cmds.push(format!("cat > {path} <<'{delim}'\n{script}\n{delim}"));
    cmds.push(format!("chmod 700 {path}"));
    cmds.push(format!("{path} \"$CODE_TAG\""));
    cmds
}

pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub async fn run(
    ssm: &aws_sdk_ssm::Client,
    instance_id: &str,
    commands: Vec<String>,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<(), ProvisionError> {
    let start = Instant::now();
    let command_id = send(ssm, instance_id, commands, timeout, cancel, start).await?;
    tracing::info!(instance_id, command_id, "provisioning script started");
    let mut printed = [0usize; 2];
    let mut attempt = 0u32;
    loop {
        if cancel.is_tripped() {
            let _ = ssm.cancel_command().command_id(&command_id).send().await;
            return Err(WaitError::Cancelled {
                what: "the provisioning script".into(),
            }
            .into());
        }
        let inv = ssm
            .get_command_invocation()
            .command_id(&command_id)
            .instance_id(instance_id)
            .send()
            .await
            .context("GetCommandInvocation", instance_id);
        match inv {
            // Invocations appear shortly after SendCommand returns.
            Err(e) if e.is_code("InvocationDoesNotExist") => {}
            Err(e) => return Err(e.into()),
            Ok(inv) => {
                stream_new(inv.standard_output_content(), &mut printed[0], "stdout");
                stream_new(inv.standard_error_content(), &mut printed[1], "stderr");
                let status = inv
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                match status.as_str() {
                    "Success" => return Ok(()),
                    "Pending" | "InProgress" | "Delayed" | "" => {}
                    _ => {
                        return Err(ProvisionError::ScriptFailed {
                            code: inv.response_code(),
                            status,
                            tail: tail(inv.standard_output_content(), inv.standard_error_content()),
                        })
                    }
                }
            }
        }
        if start.elapsed() >= timeout {
            let _ = ssm.cancel_command().command_id(&command_id).send().await;
            return Err(WaitError::TimedOut {
                what: "the provisioning script".into(),
                after: start.elapsed(),
            }
            .into());
        }
        let delay = Backoff::SECONDS.delay(attempt);
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.tripped() => {}
        }
    }
}

/// SendCommand, retried while the instance is not yet registered with SSM (the agent needs a
/// moment after boot; AWS answers InvalidInstanceId until then).
async fn send(
    ssm: &aws_sdk_ssm::Client,
    instance_id: &str,
    commands: Vec<String>,
    timeout: Duration,
    cancel: &Cancel,
    start: Instant,
) -> Result<String, ProvisionError> {
    let mut attempt = 0u32;
    loop {
        let out = ssm
            .send_command()
            .instance_ids(instance_id)
            .document_name("AWS-RunShellScript")
            .comment("immutable_image provisioning")
            .parameters("commands", commands.clone())
            .parameters(
                "executionTimeout",
                vec![timeout.as_secs().max(30).to_string()],
            )
            .send()
            .await
            .context("SendCommand", instance_id);
        match out {
            Ok(o) => {
                return o
                    .command()
                    .and_then(|c| c.command_id())
                    .map(str::to_string)
                    .ok_or_else(|| AwsError::new("SendCommand", instance_id, "no command id returned").into())
            }
            Err(e) if e.is_code("InvalidInstanceId") && start.elapsed() < timeout => {
                tracing::debug!(instance_id, "waiting for the SSM agent to register");
            }
            Err(e) if e.is_code("InvalidInstanceId") => {
                return Err(AwsError::new(
                    "SendCommand",
                    instance_id,
                    "the builder never registered with SSM: give it an instance profile with the AmazonSSMManagedInstanceCore policy (iam_instance_profile), a route to the SSM endpoints, and an AMI with the SSM agent",
                )
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        let delay = Backoff::SECONDS.delay(attempt);
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.tripped() => return Err(WaitError::Cancelled { what: "SSM registration".into() }.into()),
        }
    }
}

/// Logs the part of cumulative output not logged yet, a line at a time.
fn stream_new(content: Option<&str>, printed: &mut usize, stream: &str) {
    let Some(c) = content else { return };
    if c.len() <= *printed || !c.is_char_boundary(*printed) {
        return;
    }
    for line in c[*printed..].lines() {
        tracing::info!(stream, "script: {line}");
    }
    *printed = c.len();
}

fn tail(stdout: Option<&str>, stderr: Option<&str>) -> String {
    let mut lines: Vec<&str> = stdout.unwrap_or_default().lines().collect();
    lines.extend(stderr.unwrap_or_default().lines());
    let start = lines.len().saturating_sub(TAIL_LINES);
    if lines.is_empty() {
        return "(no output)".to_string();
    }
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn commands_pass_the_tag_as_arg_and_env() {
        let env: BTreeMap<_, _> = [("APP".to_string(), "web 1".to_string())].into();
        let c = commands("#!/bin/sh\necho \"$1\"", "v1.2", &env, "bake-ab12");
        assert_eq!(c[0], "set -eu");
        assert_eq!(c[1], "export CODE_TAG='v1.2'");
        assert_eq!(c[2], "export APP='web 1'");
        assert!(c[3].starts_with("cat > /tmp/immutable-provision-bake-ab12.sh <<'IMMUTABLE_SCRIPT_BAKE_AB12'\n#!/bin/sh\n"));
        assert!(c[3].ends_with("\nIMMUTABLE_SCRIPT_BAKE_AB12"));
        assert_eq!(c[5], "/tmp/immutable-provision-bake-ab12.sh \"$CODE_TAG\"");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let out: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let t = tail(Some(&out), Some("err"));
        assert!(t.starts_with("line 12\n"));
        assert!(t.ends_with("line 30\nerr"));
        assert_eq!(tail(None, None), "(no output)");
    }
}
