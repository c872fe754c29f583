//! A real OpenSSH server on loopback standing in for a builder, and the git repository its
//! provisioning script deploys from.
//!
//! - `sshd` is Debian's openssh-server (`/usr/sbin/sshd`), installed with apt-get when missing
//!   (`.ci/run` does that before the tests). It runs as root (only root can log users in) with its
//!   own configuration, host key and log in a private directory, on a free loopback port.
//! - Its `AuthorizedKeysCommand` asks moto for the public keys of the EC2 key pairs in the test's
//!   region (DescribeKeyPairs with IncludePublicKey): the part cloud-init plays on a real
//!   builder. So it accepts the provider's temporary key pair, and a key pair the test imports.
//! - A watchdog shell kills the sshd if the test process dies without dropping it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use e2e_tests::Moto;

const SSHD: &str = "/usr/sbin/sshd";

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Sshd {
    child: Child,
    watchdog: Option<Child>,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
}

impl Sshd {
    /// Starts an sshd that accepts the keys of the EC2 key pairs in `region` of `moto`.
    pub fn start(moto: &Moto, region: &str) -> Sshd {
        assert!(
            is_root(),
            "the SSH communicator's tests run a real sshd, which needs root to log a user in: run \
             them as root (CI does), e.g. `sudo -E scripts/test`, or leave them out with \
             `-- --skip ssh_`"
        );
        ensure_installed();
        let dir = PathBuf::from(format!(
            "/run/immutable-e2e-sshd-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the sshd directory under /run");
        set_mode(&dir, 0o755);
        // The privilege separation directory Debian's sshd expects.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");

        let host_key = dir.join("host_key");
        keygen(&host_key);

        // sshd only runs an AuthorizedKeysCommand that root owns and nobody else may write,
        // in directories likewise: hence /run, not /tmp.
        let keys_cmd = dir.join("authorized-keys");
        std::fs::write(&keys_cmd, authorized_keys_script(&moto.endpoint(), region))
            .expect("write the AuthorizedKeysCommand");
        set_mode(&keys_cmd, 0o755);

        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {hk}\nPidFile none\n\
                 AuthorizedKeysFile none\nAuthorizedKeysCommand {kc} %u\nAuthorizedKeysCommandUser root\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nAllowTcpForwarding yes\n\
                 LoginGraceTime 30\nLogLevel VERBOSE\n",
                hk = host_key.display(),
                kc = keys_cmd.display(),
            ),
        )
        .expect("write sshd_config");
        let check = Command::new(SSHD)
            .args(["-t", "-f"])
            .arg(&config)
            .output()
            .expect("run sshd -t");
        assert!(
            check.status.success(),
            "sshd rejects its configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );

        let log = dir.join("sshd.log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("sshd log"))
            .spawn()
            .expect("start sshd");
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 1; done; kill {} 2>/dev/null",
                std::process::id(),
                child.id()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        let sshd = Sshd {
            child,
            watchdog,
            port,
            dir,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen on 127.0.0.1:{port}:\n{}",
                sshd.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A private directory for the test's files (removed with the sshd).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Successful logins so far.
    pub fn accepted_logins(&self) -> usize {
        self.log().matches("Accepted publickey").count()
    }

    /// `ssh-ed25519 AAAA…` of this server.
    pub fn host_public_key(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("host_key.pub")).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(w) = &mut self.watchdog {
            let _ = w.kill();
            let _ = w.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "test failed: sshd log {}:\n{}",
                self.log.display(),
                self.log()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Prints the public keys of the key pairs moto holds in `region`.
fn authorized_keys_script(endpoint: &str, region: &str) -> String {
    let python = Command::new(e2e_tests::moto::python())
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/bin/python3".to_string());
    format!(
        r#"#!{python}
# AuthorizedKeysCommand of an e2e test: the keys EC2 would install on the builder.
import re, urllib.request
req = urllib.request.Request(
    "{endpoint}/",
    data=b"Action=DescribeKeyPairs&Version=2016-11-15&IncludePublicKey=true",
    headers={{
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=0",
    }},
)
body = urllib.request.urlopen(req, timeout=10).read().decode()
for key in re.findall(r"<publicKey>(.*?)</publicKey>", body, re.S):
    print(key.strip())
"#
    )
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A loopback port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `ssh-keygen -t ed25519` without a passphrase: `path` and `path.pub`.
pub fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f"])
        .arg(path)
        .output()
        .expect("run ssh-keygen (openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs openssh-server when `/usr/sbin/sshd` is missing (root only; once per binary).
fn ensure_installed() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        if Path::new(SSHD).exists() {
            return Ok(());
        }
        if !is_root() {
            return Err(format!(
                "{SSHD} is missing and the tests are not root: install openssh-server (apt-get install openssh-server) and run the SSH tests as root (sshd needs root to log users in)"
            ));
        }
        eprintln!("image_ssh: {SSHD} is missing; installing openssh-server with apt-get");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "openssh-server"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdin(Stdio::null())
                .output()
        };
        let mut out = install().map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !out.status.success() {
            let _ = Command::new("apt-get")
                .arg("update")
                .stdin(Stdio::null())
                .output();
            out = install().map_err(|e| format!("cannot run apt-get: {e}"))?;
        }
        if !out.status.success() || !Path::new(SSHD).exists() {
            return Err(format!(
                "apt-get install openssh-server failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    });
    if let Err(e) = r {
        panic!("{e}");
    }
}

/// A bare repository with two tagged commits, as the provisioning script's source.
pub mod git {
    use super::*;

    pub struct Repo {
        bare: PathBuf,
        commits: BTreeMap<String, String>,
    }

    pub fn run(dir: &Path, args: &[&str]) {
        let out = command(dir, args).output().expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn output(dir: &Path, args: &[&str]) -> String {
        let out = command(dir, args).output().expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn command(dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.args([
            "-c",
            "user.name=e2e",
            "-c",
            "user.email=e2e@example.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
        c
    }

    impl Repo {
        /// `dir/repo.git` with tags v1.0.0 and v2.0.0 (v2 adds `only-in-v2.txt`).
        pub fn create(dir: &Path) -> Repo {
            std::fs::create_dir_all(dir).unwrap();
            let bare = dir.join("repo.git");
            let src = dir.join("src");
            run(dir, &["init", "--quiet", "--bare", "repo.git"]);
            run(dir, &["init", "--quiet", "src"]);
            let mut commits = BTreeMap::new();
            let steps: [(&str, &[(&str, &str)]); 2] = [
                (
                    "v1.0.0",
                    &[("VERSION", "1.0.0\n"), ("hello.txt", "hello from v1\n")],
                ),
                (
                    "v2.0.0",
                    &[
                        ("VERSION", "2.0.0\n"),
                        ("hello.txt", "hello from v2\n"),
                        ("only-in-v2.txt", "new in v2\n"),
                    ],
                ),
            ];
            for (tag, files) in steps {
                for (name, content) in files {
                    std::fs::write(src.join(name), content).unwrap();
                }
                run(&src, &["add", "-A"]);
                run(
                    &src,
                    &["commit", "--quiet", "-m", &format!("release {tag}")],
                );
                run(&src, &["tag", tag]);
                commits.insert(tag.to_string(), output(&src, &["rev-parse", "HEAD"]));
            }
            run(
                &src,
                &["push", "--quiet", "--tags", bare.to_str().unwrap(), "main"],
            );
            Repo { bare, commits }
        }

        pub fn url(&self) -> String {
            format!("file://{}", self.bare.display())
        }

        pub fn commit_of(&self, tag: &str) -> String {
            self.commits[tag].clone()
        }
    }
}
