//! One moto_server per test binary, shared by all its tests; per-test isolation by region.
//!
//! Lifetime: the server is a child `python3 support/moto_guard.py <our pid> 0`. It lives in a
//! `static` that is never dropped, so nothing kills it from here; the guard polls every 0.5 s
//! and exits (deleting its log and recording) as soon as this test process is gone, whether
//! the binary finished, panicked or was killed.

use std::fmt::Write as _;
use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::{Filter, Image, Instance, KeyPairInfo, SecurityGroup, Snapshot};
use base64::Engine as _;

use crate::aws_request::AwsCall;
use crate::http::{self, HttpResponse};

/// Real AWS region names handed out by [`Moto::unique_region`], one per test. moto 5.2.1 serves
/// EC2 (with its built-in AMIs, a default VPC and subnets), Auto Scaling, SSM and ELB in each.
pub const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "ap-south-2",
    "ap-northeast-3",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-east-1",
    "ca-west-1",
    "me-south-1",
    "me-central-1",
    "af-south-1",
    "il-central-1",
    "mx-central-1",
];

/// The account moto puts everything the tests create in (its default account).
pub const MOTO_ACCOUNT_ID: &str = "123456789012";

/// Static credentials the tests and terraform use against moto (it does not check them).
pub const TEST_ACCESS_KEY_ID: &str = "testing";
pub const TEST_SECRET_ACCESS_KEY: &str = "testing";

/// The Python interpreter used for moto (override with `E2E_PYTHON`).
pub fn python() -> String {
    std::env::var("E2E_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

const GUARD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/support/moto_guard.py");
const START_TIMEOUT: Duration = Duration::from_secs(30);
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(60);
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// One AWS call moto received, as the request recorder saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordedCall {
    /// SigV4 signing name: `ec2`, `autoscaling`, `ssm`, `elasticloadbalancing`, ...
    pub service: String,
    /// Operation name: `DescribeImages`, `SendCommand` (the `X-Amz-Target` prefix is dropped).
    pub action: String,
    pub region: String,
}

/// A running moto_server; see the module documentation for its lifetime.
pub struct Moto {
    addr: SocketAddr,
    child: Mutex<Child>,
    log_path: PathBuf,
    /// Where the AWS behaviour layer writes its steps ([`Moto::behaving`] only).
    behaviour_log: Option<PathBuf>,
    next_region: AtomicUsize,
    rt: tokio::runtime::Runtime,
}

static SHARED: OnceLock<Result<Moto, String>> = OnceLock::new();
static BEHAVING: OnceLock<Result<Moto, String>> = OnceLock::new();

impl Moto {
    /// The moto of this test binary, started on first use (one start at a time; a failed
    /// start fails every test that asks, with the same message, without retrying).
    #[track_caller]
    pub fn shared() -> &'static Moto {
        match SHARED.get_or_init(|| Moto::start(false)) {
            Ok(moto) => moto,
            Err(msg) => panic!("{msg}"),
        }
    }

    /// A moto of this test binary with the AWS behaviours it lacks patched in
    /// (`support/aws_behaviours.py`: draining, lifecycle hooks, deregistered AMIs refused,
    /// `resolve:ssm:` images), started on first use; see [`crate::behaviours`].
    #[track_caller]
    pub fn behaving() -> &'static Moto {
        match BEHAVING.get_or_init(|| Moto::start(true)) {
            Ok(moto) => moto,
            Err(msg) => panic!("{msg}"),
        }
    }

    /// The behaviour layer's log ([`Moto::behaving`] only).
    pub fn behaviour_log(&self) -> Option<&Path> {
        self.behaviour_log.as_deref()
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A region no other test of this binary uses (moto's backends are per region).
    pub fn unique_region(&self) -> &'static str {
        let i = self.next_region.fetch_add(1, Ordering::SeqCst);
        match REGIONS.get(i) {
            Some(region) => region,
            None => panic!(
                "Moto::unique_region: all {} regions are taken in this test binary; split its \
                 tests over more test files (each binary starts its own moto) or add real region \
                 names to e2e_tests::REGIONS",
                REGIONS.len()
            ),
        }
    }

    /// Runs a future on this moto's own tokio runtime and waits for it. Works from plain
    /// `#[test]`s and from inside another runtime alike (it blocks the calling thread only).
    /// A panic inside the future is resumed here.
    pub fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let task = self.rt.spawn(fut);
        self.rt.spawn(async move {
            let _ = tx.send(task.await);
        });
        match rx.recv().expect("moto's runtime dropped a task") {
            Ok(out) => out,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => panic!("task on moto's runtime failed: {err}"),
        }
    }

    // ---- SDK clients -------------------------------------------------------------------------

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        ec2_client(&self.endpoint(), region)
    }

    pub fn autoscaling(&self, region: &str) -> aws_sdk_autoscaling::Client {
        autoscaling_client(&self.endpoint(), region)
    }

    pub fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        ssm_client(&self.endpoint(), region)
    }

    // ---- assertions helpers (blocking; panic on SDK errors) ----------------------------------

    /// Instances that are not terminated nor shutting down.
    pub fn running_instances(&self, region: &str) -> Vec<Instance> {
        let ec2 = self.ec2(region);
        let region = region.to_string();
        self.block_on(async move {
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let resp = ec2
                    .describe_instances()
                    .filters(
                        Filter::builder()
                            .name("instance-state-name")
                            .set_values(Some(
                                ["pending", "running", "stopping", "stopped"]
                                    .map(String::from)
                                    .to_vec(),
                            ))
                            .build(),
                    )
                    .set_next_token(token)
                    .send()
                    .await
                    .unwrap_or_else(|e| sdk_panic("DescribeInstances", &region, e));
                for r in resp.reservations() {
                    out.extend(r.instances().iter().cloned());
                }
                token = resp
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(String::from);
                if token.is_none() {
                    return out;
                }
            }
        })
    }

    /// An image of this account named `name`, made from a new instance of `source` (moto's
    /// built-in AMIs stand for public ones): the image's id and the instance's, left running.
    pub fn image_from_new_instance(
        &self,
        region: &str,
        source: &str,
        name: &str,
    ) -> (String, String) {
        let ec2 = self.ec2(region);
        let (region, source, name) = (region.to_string(), source.to_string(), name.to_string());
        self.block_on(async move {
            let run = ec2
                .run_instances()
                .image_id(&source)
                .min_count(1)
                .max_count(1)
                .send()
                .await
                .unwrap_or_else(|e| sdk_panic("RunInstances", &region, e));
            let instance = run.instances()[0].instance_id().unwrap().to_string();
            let made = ec2
                .create_image()
                .instance_id(&instance)
                .name(&name)
                .send()
                .await
                .unwrap_or_else(|e| sdk_panic("CreateImage", &region, e));
            (made.image_id().unwrap().to_string(), instance)
        })
    }

    /// Images owned by this account (not moto's built-in public AMIs).
    pub fn images(&self, region: &str) -> Vec<Image> {
        let ec2 = self.ec2(region);
        let region = region.to_string();
        self.block_on(async move {
            ec2.describe_images()
                .owners("self")
                .send()
                .await
                .unwrap_or_else(|e| sdk_panic("DescribeImages", &region, e))
                .images()
                .to_vec()
        })
    }

    /// Snapshots owned by this account ([`MOTO_ACCOUNT_ID`]). moto 5.2.1 ignores
    /// `OwnerIds=self` on DescribeSnapshots (it returns the ~1,160 snapshots of its built-in
    /// AMIs too), so this filters on `owner-id`, which it does honour.
    pub fn snapshots(&self, region: &str) -> Vec<Snapshot> {
        let ec2 = self.ec2(region);
        let region = region.to_string();
        self.block_on(async move {
            let mut snapshots = ec2
                .describe_snapshots()
                .owner_ids("self")
                .filters(
                    Filter::builder()
                        .name("owner-id")
                        .values(MOTO_ACCOUNT_ID)
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| sdk_panic("DescribeSnapshots", &region, e))
                .snapshots()
                .to_vec();
            snapshots.retain(|s| s.owner_id() == Some(MOTO_ACCOUNT_ID));
            snapshots
        })
    }

    pub fn key_pairs(&self, region: &str) -> Vec<KeyPairInfo> {
        let ec2 = self.ec2(region);
        let region = region.to_string();
        self.block_on(async move {
            ec2.describe_key_pairs()
                .send()
                .await
                .unwrap_or_else(|e| sdk_panic("DescribeKeyPairs", &region, e))
                .key_pairs()
                .to_vec()
        })
    }

    /// Security groups other than the default VPC's `default` group.
    pub fn security_groups(&self, region: &str) -> Vec<SecurityGroup> {
        let ec2 = self.ec2(region);
        let region = region.to_string();
        self.block_on(async move {
            ec2.describe_security_groups()
                .send()
                .await
                .unwrap_or_else(|e| sdk_panic("DescribeSecurityGroups", &region, e))
                .security_groups()
                .iter()
                .filter(|g| g.group_name() != Some("default"))
                .cloned()
                .collect()
        })
    }

    // ---- request recorder -----------------------------------------------------------------

    /// Every AWS call moto received in `region` since it started, in order (calls answered by
    /// a [`crate::FaultProxy`] rule without forwarding never reach moto and are not here).
    pub fn recorded_calls(&self, region: &str) -> Vec<RecordedCall> {
        self.all_recorded_calls()
            .into_iter()
            .filter(|c| c.region == region)
            .collect()
    }

    /// Every recorded AWS call, all regions (unknown parts are empty strings).
    pub fn all_recorded_calls(&self) -> Vec<RecordedCall> {
        let resp = self.moto_api("GET", "/moto-api/recorder/download-recording", b"");
        assert_eq!(
            resp.status,
            200,
            "download-recording failed: {}",
            resp.text()
        );
        parse_recording(&resp.text())
    }

    /// How many `action` calls moto received in `region` (any service).
    pub fn count(&self, region: &str, action: &str) -> usize {
        self.recorded_calls(region)
            .iter()
            .filter(|c| c.action == action)
            .count()
    }

    // ---- low level ------------------------------------------------------------------------

    /// One request to moto's control API (`/moto-api/...`); panics if moto does not answer.
    pub fn moto_api(&self, method: &str, path: &str, body: &[u8]) -> HttpResponse {
        http::request(self.addr, method, path, &[], body, CONTROL_TIMEOUT).unwrap_or_else(|e| {
            panic!(
                "moto at {} did not answer {method} {path}: {e}\n{}",
                self.addr,
                self.diagnostics()
            )
        })
    }

    /// The server's log file (kept after the run with `KEEP_MOTO_LOGS=1`).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Whether the server is still running, and the end of its log: for failure messages.
    pub fn diagnostics(&self) -> String {
        let state = match self.child.lock().map(|mut c| c.try_wait()) {
            Ok(Ok(Some(status))) => format!("moto has exited ({status})"),
            Ok(Ok(None)) => "moto is running".to_string(),
            _ => "moto's state is unknown".to_string(),
        };
        format!(
            "{state}; end of its log {}:\n{}",
            self.log_path.display(),
            log_tail(&self.log_path)
        )
    }

    // ---- start-up -------------------------------------------------------------------------

    fn start(behaviours: bool) -> Result<Moto, String> {
        ensure_moto_installed()?;
        let tmp = std::env::temp_dir();
        let pid = std::process::id();
        let kind = if behaviours { "-behaving" } else { "" };
        let log_path = tmp.join(format!("immutable-e2e-moto-{pid}{kind}.log"));
        let recording = tmp.join(format!("immutable-e2e-moto-{pid}{kind}.recording.jsonl"));
        let behaviour_log =
            behaviours.then(|| tmp.join(format!("immutable-e2e-moto-{pid}.behaviours.jsonl")));
        let log = File::create(&log_path)
            .map_err(|e| format!("cannot create moto's log {}: {e}", log_path.display()))?;
        let cleanup = std::env::join_paths(
            [&log_path, &recording]
                .into_iter()
                .chain(behaviour_log.as_ref()),
        )
        .map_err(|e| format!("bad temp path: {e}"))?;

        let mut command = Command::new(python());
        if let Some(path) = &behaviour_log {
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            command
                .env("MOTO_AWS_BEHAVIOURS", "1")
                .env("MOTO_BEHAVIOUR_LOG", path);
        }
        let mut child = command
            .arg(GUARD_SCRIPT)
            .arg(pid.to_string())
            .arg("0")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .env("MOTO_GUARD_CLEANUP", cleanup)
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(&tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {} {GUARD_SCRIPT}: {e}", python()))?;

        let fail = |child: &mut Child, what: String| -> String {
            let _ = child.kill();
            let _ = child.wait();
            format!(
                "moto_server did not start: {what}\nits log {}:\n{}",
                log_path.display(),
                log_tail(&log_path)
            )
        };

        // The guard prints `MOTO_PORT=<port>` once the server listens.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => match line
                .trim()
                .strip_prefix("MOTO_PORT=")
                .map(str::parse::<u16>)
            {
                Some(Ok(port)) => port,
                _ => return Err(fail(&mut child, format!("unexpected first line {line:?}"))),
            },
            Err(_) => {
                return Err(fail(
                    &mut child,
                    format!("no port announced within {START_TIMEOUT:?}"),
                ))
            }
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

        // Bounded wait until the control API answers.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match http::request(addr, "GET", "/moto-api/", &[], b"", Duration::from_secs(5)) {
                Ok(resp) if resp.status == 200 => break,
                Ok(resp) if Instant::now() > deadline => {
                    return Err(fail(
                        &mut child,
                        format!("GET /moto-api/ answered {}", resp.status),
                    ))
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(fail(&mut child, format!("GET /moto-api/ failed: {e}")))
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(fail(&mut child, format!("it exited ({status})")));
            }
        }

        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("e2e-moto-rt")
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                return Err(fail(
                    &mut child,
                    format!("cannot build a tokio runtime: {e}"),
                ))
            }
        };
        let moto = Moto {
            addr,
            child: Mutex::new(child),
            log_path: log_path.clone(),
            behaviour_log,
            next_region: AtomicUsize::new(0),
            rt,
        };

        if let Err(what) = moto.warm_up_and_record() {
            // Not dropped in place: this may run inside a test's async context.
            let Moto { child, rt, .. } = moto;
            rt.shutdown_background();
            return Err(fail(
                &mut child.into_inner().unwrap_or_else(|p| p.into_inner()),
                what,
            ));
        }
        Ok(moto)
    }

    fn warm_up_and_record(&self) -> Result<(), String> {
        // Warm-up: the first AWS call loads moto's backends (3-4 s); pay it once, here, before
        // the recorder starts so that no test sees it.
        let ec2 = self.ec2(REGIONS[0]);
        let warm = self.block_on(async move {
            tokio::time::timeout(
                WARM_UP_TIMEOUT,
                ec2.describe_images().image_ids("ami-1e749f67").send(),
            )
            .await
        });
        match warm {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(format!(
                    "warm-up DescribeImages failed: {}",
                    DisplayErrorContext(e)
                ))
            }
            Err(_) => {
                return Err(format!(
                    "warm-up DescribeImages took over {WARM_UP_TIMEOUT:?}"
                ))
            }
        }

        // Record every request from now on, for the whole life of the server: tests run in
        // parallel, so nobody may stop or reset it. reset-recording creates the file.
        for path in [
            "/moto-api/recorder/reset-recording",
            "/moto-api/recorder/start-recording",
        ] {
            match http::request(self.addr, "POST", path, &[], b"", CONTROL_TIMEOUT) {
                Ok(resp) if resp.status == 200 => {}
                Ok(resp) => {
                    return Err(format!(
                        "POST {path} answered {}: {}",
                        resp.status,
                        resp.text()
                    ))
                }
                Err(e) => return Err(format!("POST {path} failed: {e}")),
            }
        }
        Ok(())
    }
}

/// An EC2 client for any endpoint (moto, or a [`crate::FaultProxy`] in front of it), with the
/// static test credentials.
pub fn ec2_client(endpoint: &str, region: &str) -> aws_sdk_ec2::Client {
    use aws_sdk_ec2::config::{BehaviorVersion, Region};
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

/// An Auto Scaling client for any endpoint; see [`ec2_client`].
pub fn autoscaling_client(endpoint: &str, region: &str) -> aws_sdk_autoscaling::Client {
    use aws_sdk_autoscaling::config::{BehaviorVersion, Region};
    let conf = aws_sdk_autoscaling::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .build();
    aws_sdk_autoscaling::Client::from_conf(conf)
}

/// An SSM client for any endpoint; see [`ec2_client`].
pub fn ssm_client(endpoint: &str, region: &str) -> aws_sdk_ssm::Client {
    use aws_sdk_ssm::config::{BehaviorVersion, Region};
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

fn test_credentials() -> aws_sdk_ec2::config::Credentials {
    aws_sdk_ec2::config::Credentials::new(
        TEST_ACCESS_KEY_ID,
        TEST_SECRET_ACCESS_KEY,
        None,
        None,
        "e2e-tests",
    )
}

fn sdk_panic<E: std::error::Error>(action: &str, region: &str, err: E) -> ! {
    panic!("{action} in {region} failed: {}", DisplayErrorContext(err))
}

/// Installs `moto[server]` with pip when `import moto.server` fails.
fn ensure_moto_installed() -> Result<(), String> {
    let importable = || {
        Command::new(python())
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
    };
    match importable() {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(e) => {
            return Err(format!(
                "cannot run {}: {e} (moto needs Python 3)",
                python()
            ))
        }
    }
    // The same default as scripts/ensure-moto: the version the docs' quirks were checked on.
    let requirement =
        std::env::var("MOTO_REQUIREMENT").unwrap_or_else(|_| "moto[server]==5.2.1".to_string());
    eprintln!("e2e-tests: moto is not installed; running pip install '{requirement}'");
    let out = Command::new(python())
        .args(["-m", "pip", "install", "--quiet", &requirement])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !out.status.success() || !importable().unwrap_or(false) {
        return Err(format!(
            "moto is not installed and `{} -m pip install '{requirement}'` failed ({}) \
             (scripts/ensure-moto also handles Pythons without pip or marked externally managed):\n{}\n{}",
            python(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn log_tail(path: &Path) -> String {
    const MAX: u64 = 8 * 1024;
    let Ok(mut f) = File::open(path) else {
        return "(no log)".to_string();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(MAX)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let mut out = String::new();
    if len > MAX {
        let _ = writeln!(out, "[... {} earlier bytes]", len - MAX);
    }
    out.push_str(&String::from_utf8_lossy(&buf));
    out
}

/// Parses moto's recording: one JSON object a line with `headers`, `url`, `body` and
/// `body_encoded` (body base64 when true). Lines that do not parse (a line being written while
/// we read) are skipped.
pub fn parse_recording(text: &str) -> Vec<RecordedCall> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|entry| {
            let headers: Vec<(String, String)> = entry
                .get("headers")?
                .as_object()?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            let url = entry.get("url").and_then(|u| u.as_str()).unwrap_or("");
            let raw = entry.get("body").and_then(|b| b.as_str()).unwrap_or("");
            let body = if entry.get("body_encoded").and_then(|b| b.as_bool()) == Some(true) {
                base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .unwrap_or_default()
            } else {
                raw.as_bytes().to_vec()
            };
            let call = AwsCall::identify(url, &headers, &body);
            Some(RecordedCall {
                service: call.service.unwrap_or_default(),
                action: call.action.unwrap_or_default(),
                region: call.region.unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_recording() {
        // Two lines as moto 5.2.1 writes them (bodies shortened), plus a torn last line.
        let text = concat!(
            r#"{"headers": {"Host": "127.0.0.1:40601", "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-2/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=4d91", "Content-Length": "63"}, "method": "POST", "url": "http://127.0.0.1:40601/", "body": "QWN0aW9uPURlc2NyaWJlSW1hZ2VzJlZlcnNpb249MjAxNi0xMS0xNSZJbWFnZUlkLjE9YW1pLTFlNzQ5ZjY3", "body_encoded": true}"#,
            "\n",
            r#"{"headers": {"X-Amz-Target": "AmazonSSM.SendCommand", "authorization": "AWS4-HMAC-SHA256 Credential=testing/20261126/eu-west-1/ssm/aws4_request, SignedHeaders=host"}, "method": "POST", "url": "http://127.0.0.1:40601/", "body": "{}", "body_encoded": false}"#,
            "\n",
            r#"{"headers": {"Host": "#,
        );
        assert_eq!(
            parse_recording(text),
            vec![
                RecordedCall {
                    service: "ec2".into(),
                    action: "DescribeImages".into(),
                    region: "us-east-2".into()
                },
                RecordedCall {
                    service: "ssm".into(),
                    action: "SendCommand".into(),
                    region: "eu-west-1".into()
                },
            ]
        );
    }

    #[test]
    fn regions_are_distinct() {
        let mut sorted = REGIONS.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), REGIONS.len());
    }
}
