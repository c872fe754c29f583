//! Helpers shared by the `immutable_image` end-to-end files: tags as maps, every instance,
//! recorded request bodies, and terraform in the background (to send it Ctrl-C).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::serde_json::{json, Value};
use e2e_tests::{Moto, Terraform};

/// Whitespace folded: Terraform wraps long diagnostics.
pub fn folded(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn tags_of(
    tags: &[e2e_tests::aws_sdk_ec2::types::Tag],
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Every instance moto ever launched in the region (terminated ones included).
pub fn all_instances(moto: &Moto, region: &str) -> Vec<e2e_tests::aws_sdk_ec2::types::Instance> {
    let ec2 = moto.ec2(region);
    moto.block_on(async move { ec2.describe_instances().send().await })
        .unwrap()
        .reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect()
}

/// Form bodies (URL-decoded) of the `action` requests moto recorded in `region`.
pub fn recorded_bodies(moto: &Moto, region: &str, action: &str) -> Vec<String> {
    let text = moto
        .moto_api("GET", "/moto-api/recorder/download-recording", b"")
        .text();
    let want = format!("Action={action}&");
    text.lines()
        .filter_map(|l| e2e_tests::serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let raw = v["body"].as_str()?.to_string();
            let body = if v["body_encoded"] == json!(true) {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&raw)
                    .ok()?;
                String::from_utf8(bytes).ok()?
            } else {
                raw
            };
            let auth = v["headers"]
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_string();
            (body.starts_with(&want) || body.contains(&format!("&{want}")))
                .then_some(())
                .filter(|_| auth.contains(&format!("/{region}/")))
                .map(|_| url_decode(&body))
        })
        .collect()
}

/// A terraform command in the background with the harness's environment, so it can be sent
/// SIGINT (what Ctrl-C does).
pub struct Running {
    pub child: std::process::Child,
    out: PathBuf,
}

impl Running {
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", self.child.id())])
                    .status();
                panic!("terraform did not exit within {limit:?}: {}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.wait();
        }
    }
}

pub fn spawn_terraform(tf: &Terraform, args: &[&str]) -> Running {
    use std::os::unix::process::CommandExt as _;
    let out = tf.dir().join("background.log");
    let file = std::fs::File::create(&out).unwrap();
    let mut cmd = Command::new("terraform");
    cmd.args(args)
        .current_dir(tf.dir())
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .process_group(0);
    for key in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ENDPOINT_URL",
        "TF_DATA_DIR",
        "TF_LOG",
        "TF_LOG_PATH",
        "TF_WORKSPACE",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("TF_CLI_CONFIG_FILE", tf.cli_config())
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_INPUT", "0")
        .env("AWS_ACCESS_KEY_ID", e2e_tests::TEST_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", e2e_tests::TEST_SECRET_ACCESS_KEY)
        .env("AWS_REGION", tf.region())
        .env("AWS_DEFAULT_REGION", tf.region())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TF_VAR_aws_endpoint", tf.endpoint());
    Running {
        child: cmd.spawn().expect("run terraform"),
        out,
    }
}

/// `application/x-www-form-urlencoded` decoding.
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn url_decoding() {
    assert_eq!(url_decode("a%2Fb+c%3D1"), "a/b c=1");
    assert_eq!(url_decode("100%"), "100%");
}
