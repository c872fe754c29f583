//! Publishing like any provider (issue 15): the checks tests/publish.rs runs (on the debug
//! binaries, packaged by `scripts/release --binary`) on what `scripts/release` wrote — the Registry's artifacts and signature, the network
//! mirror and registry tree served over HTTPS with a throwaway CA, `terraform init` and
//! `terraform providers lock` from them, the arm64 build under qemu-user, and two builds from
//! other paths byte for byte.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::terraform::{plugin_dir, PLUGIN_BINARY, PROVIDER_SOURCE};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The workspace version, which every crate shares.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const AMD64: &str = "linux_amd64";
pub const ARM64: &str = "linux_arm64";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// The target directory the tests were built in (`target/debug/..`).
pub fn target_dir() -> PathBuf {
    plugin_dir()
        .parent()
        .expect("the plugin sits in target/<profile>")
        .to_path_buf()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_file(path: &Path) -> String {
    hex(&Sha256::digest(read(path)))
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn fresh_dir(path: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    path.to_path_buf()
}

pub fn provider_zip(platform: &str) -> String {
    format!("terraform-provider-immutable_{VERSION}_{platform}.zip")
}

pub fn planner_zip(platform: &str) -> String {
    format!("release-planner_{VERSION}_{platform}.zip")
}

pub fn provider_sums() -> String {
    format!("terraform-provider-immutable_{VERSION}_SHA256SUMS")
}

pub fn planner_sums() -> String {
    format!("release-planner_{VERSION}_SHA256SUMS")
}

pub fn manifest() -> String {
    format!("terraform-provider-immutable_{VERSION}_manifest.json")
}

pub fn mirror_dir(dist: &Path) -> PathBuf {
    dist.join("mirror/registry.terraform.io")
        .join(PROVIDER_SOURCE)
}

/// A command's combined output, failing the test with it when the command fails.
#[track_caller]
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

// ---------------------------------------------------------------------------------------------
// The shared release: built once per test process.

pub struct Release {
    /// Where this release's tests write (kept between runs, under the target directory).
    pub work: PathBuf,
    pub dist: PathBuf,
    pub gnupg: PathBuf,
    pub fingerprint: String,
    pub platforms: Vec<&'static str>,
    /// Why linux_arm64 was not built, when it was not.
    pub arm64_missing: Option<String>,
}

impl Release {
    pub fn has_arm64(&self) -> bool {
        self.platforms.contains(&ARM64)
    }
}

/// Runs `scripts/release` with `CARGO_TARGET_DIR`, writing its output to `log`; the last lines
/// of the log are the error when it fails.
pub fn run_release(
    checkout: &Path,
    target: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
    log: &Path,
) -> Result<(), String> {
    let started = Instant::now();
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let status = Command::new(checkout.join("scripts/release"))
        .args(args)
        .current_dir(checkout)
        .env("CARGO_TARGET_DIR", target)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .map_err(|e| format!("cannot run scripts/release: {e}"))?;
    eprintln!(
        "scripts/release {} in {}: {status} after {:.0?} (log: {})",
        args.join(" "),
        checkout.display(),
        started.elapsed(),
        log.display()
    );
    if status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&read(log)).into_owned();
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    Err(format!(
        "scripts/release {} failed ({status}); last lines of {}:\n{}",
        args.join(" "),
        log.display(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// A fresh GPG home with one RSA signing key without a passphrase; its fingerprint.
pub fn throwaway_gpg_key(home: &Path) -> Result<(PathBuf, String), String> {
    // An agent an earlier run started for this home outlives the directory fresh_dir removes,
    // and a gpg that finds it (or its lock) half gone fails with "No agent running": stop it.
    if home.exists() {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(home)
            .args(["--kill", "gpg-agent"])
            .output();
    }
    let home = fresh_dir(home);
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--no-tty"])
            .args(args)
            .output()
            .map_err(|e| format!("gpg is needed to sign releases (apt-get install gpg): {e}"))
    };
    let made = gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "immutable release test <release-test@example.invalid>",
        "rsa3072",
        "sign",
        "never",
    ])?;
    if !made.status.success() {
        return Err(format!(
            "gpg --quick-gen-key failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    let listed = gpg(&["--with-colons", "--list-secret-keys"])?;
    let fingerprint = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .ok_or("gpg listed no fingerprint for the new key")?;
    Ok((home, fingerprint))
}

/// The members of a zip: name, Unix mode, modification time and the extracted bytes' path.
#[derive(Debug)]
pub struct Member {
    pub name: String,
    pub mode: u32,
    pub date_time: Vec<u32>,
    pub extracted: PathBuf,
}

/// Lists and extracts a zip with Python's zipfile (an independent reader, not our writer).
pub fn unzip(zip: &Path, into: &Path) -> Vec<Member> {
    let into = fresh_dir(into);
    let script = r#"
import json, os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2])
    # zipfile leaves permissions out; Terraform applies the recorded mode, so do the same.
    for i in z.infolist():
        if i.external_attr >> 16:
            os.chmod(os.path.join(sys.argv[2], i.filename), (i.external_attr >> 16) & 0o777)
    print(json.dumps([[i.filename, i.external_attr >> 16, list(i.date_time)] for i in z.infolist()]))
"#;
    let out = run_ok(
        Command::new("python3")
            .args(["-c", script])
            .arg(zip)
            .arg(&into),
    );
    let listed: Vec<(String, u32, Vec<u32>)> =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    listed
        .into_iter()
        .map(|(name, mode, date_time)| Member {
            extracted: into.join(&name),
            name,
            mode,
            date_time,
        })
        .collect()
}

/// `<hex>  <name>` lines of a SHA256SUMS file, in file order.
pub fn sums(path: &Path) -> Vec<(String, String)> {
    String::from_utf8(read(path))
        .unwrap()
        .lines()
        .map(|line| {
            let (hash, name) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("not `<sha256>  <file>`: {line:?}"));
            (hash.to_string(), name.to_string())
        })
        .collect()
}

/// Go's dirhash "h1:" of a package directory holding one file: the hash Terraform records in
/// `.terraform.lock.hcl` for an unpacked provider package.
pub fn h1_of_single_file(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    let summary = format!("{}  {name}\n", sha256_file(path));
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
    )
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Item 1: the artifacts.

pub fn check_artifacts(release: &Release) {
    let dist = &release.dist;

    let mut expected: Vec<String> = vec![
        provider_sums(),
        format!("{}.sig", provider_sums()),
        planner_sums(),
        format!("{}.sig", planner_sums()),
        manifest(),
        "mirror".into(),
    ];
    for platform in &release.platforms {
        expected.push(provider_zip(platform));
        expected.push(planner_zip(platform));
    }
    expected.sort();
    let mut found: Vec<String> = std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, expected, "the files in {}", dist.display());

    // Each zip holds exactly the executable Terraform (or the planner's users) expect, with a
    // fixed time stamp; the host's binaries report the version.
    let unpacked = release.work.clone().join("unpacked");
    for platform in &release.platforms {
        for (zip, member) in [
            (
                provider_zip(platform),
                format!("{PLUGIN_BINARY}_v{VERSION}"),
            ),
            (planner_zip(platform), "planner".to_string()),
        ] {
            let members = unzip(&dist.join(&zip), &unpacked.join(&zip));
            assert_eq!(members.len(), 1, "{zip}: {members:?}");
            let m = &members[0];
            assert_eq!(m.name, member, "{zip}");
            assert_eq!(m.mode, 0o100755, "{zip}: a regular executable file");
            assert_eq!(m.date_time, [1980, 1, 1, 0, 0, 0], "{zip}: fixed time");
            let elf = read(&m.extracted);
            let machine = u16::from_le_bytes([elf[18], elf[19]]);
            let expected_machine = if *platform == ARM64 { 0xB7 } else { 0x3E };
            assert!(
                elf.starts_with(b"\x7fELF") && machine == expected_machine,
                "{zip}: an ELF executable for {platform} (e_machine {machine:#x})"
            );
            if *platform == AMD64 {
                let out = run_ok(Command::new(&m.extracted).arg("--version"));
                assert!(out.contains(VERSION), "{zip}: --version says {out:?}");
            }
        }
    }

    // The manifest, as the Registry reads it.
    assert_eq!(
        read_json(&dist.join(manifest())),
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );

    // The sums: every zip and the manifest, sorted by name, each hash recomputed here.
    for (sums_file, mut names) in [
        (
            provider_sums(),
            release
                .platforms
                .iter()
                .map(|p| provider_zip(p))
                .chain([manifest()])
                .collect::<Vec<_>>(),
        ),
        (
            planner_sums(),
            release.platforms.iter().map(|p| planner_zip(p)).collect(),
        ),
    ] {
        names.sort();
        let listed = sums(&dist.join(&sums_file));
        assert_eq!(
            listed.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
            names,
            "{sums_file}"
        );
        for (hash, name) in &listed {
            assert_eq!(hash, &sha256_file(&dist.join(name)), "{sums_file}: {name}");
        }
    }

    // The network mirror: index.json lists the version; <version>.json each platform's zip
    // (beside it) with the zip's SHA-256 as a "zh:" hash.
    let mirror = mirror_dir(dist);
    assert_eq!(
        read_json(&mirror.join("index.json")),
        serde_json::json!({"versions": {VERSION: {}}})
    );
    let version_json = read_json(&mirror.join(format!("{VERSION}.json")));
    let archives = version_json["archives"].as_object().expect("archives");
    assert_eq!(
        archives.keys().collect::<Vec<_>>(),
        release.platforms.iter().collect::<Vec<_>>()
    );
    for platform in &release.platforms {
        let zip = provider_zip(platform);
        let entry = &archives[*platform];
        assert_eq!(entry["url"], zip.as_str());
        assert_eq!(
            entry["hashes"],
            serde_json::json!([format!("zh:{}", sha256_file(&dist.join(&zip)))])
        );
        assert_eq!(read(&mirror.join(&zip)), read(&dist.join(&zip)), "{zip}");
    }
}

pub fn check_signatures(release: &Release) {
    let scratch = fresh_dir(&release.work.clone().join("tampered"));
    for sums_file in [provider_sums(), planner_sums()] {
        let sums = release.dist.join(&sums_file);
        let sig = release.dist.join(format!("{sums_file}.sig"));
        assert_ne!(
            read(&sig).first(),
            Some(&b'-'),
            "a binary signature, not ASCII armor (the Registry's form)"
        );
        let verify = |file: &Path| {
            Command::new("gpg")
                .env("GNUPGHOME", &release.gnupg)
                .args(["--batch", "--status-fd", "1", "--verify"])
                .arg(&sig)
                .arg(file)
                .output()
                .unwrap()
        };
        let good = verify(&sums);
        let status = String::from_utf8_lossy(&good.stdout);
        assert!(
            good.status.success() && status.contains(&format!("VALIDSIG {}", release.fingerprint)),
            "{sums_file}: {status}{}",
            String::from_utf8_lossy(&good.stderr)
        );

        // One changed hash digit and the signature no longer verifies.
        let mut bytes = read(&sums);
        bytes[0] = if bytes[0] == b'0' { b'1' } else { b'0' };
        let tampered = scratch.join(&sums_file);
        std::fs::write(&tampered, bytes).unwrap();
        let bad = verify(&tampered);
        assert!(
            !bad.status.success() && String::from_utf8_lossy(&bad.stdout).contains("BADSIG"),
            "{sums_file}: a tampered file must not verify"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The arm64 build under qemu-user, driven by the real terraform.

/// `terraform` with a CLI configuration of this test's own, a private HOME and dead proxies (so
/// nothing but loopback is reachable), and no TF_* settings of the caller.
pub struct Tf {
    home: PathBuf,
    cli_config: PathBuf,
    env: Vec<(String, String)>,
}

pub struct TfOut {
    pub command: String,
    pub success: bool,
    pub text: String,
}

impl TfOut {
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.success, "`{}` failed:\n{}", self.command, self.text);
        self
    }
}

impl Tf {
    pub fn new(home: &Path, cli_config_text: &str) -> Tf {
        let home = fresh_dir(home);
        let cli_config = home.join("cli.tfrc");
        std::fs::write(&cli_config, cli_config_text).unwrap();
        Tf {
            home,
            cli_config,
            env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Tf {
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn run(&self, dir: &Path, args: &[&str]) -> TfOut {
        let dead_proxy = "http://127.0.0.1:9";
        let h = self.home.display().to_string();
        let mut cmd = Command::new("terraform");
        cmd.args(args).arg("-no-color").current_dir(dir);
        for key in [
            "TF_CLI_CONFIG_FILE",
            "TF_PLUGIN_CACHE_DIR",
            "TF_DATA_DIR",
            "TF_LOG",
            "TF_LOG_PATH",
            "NO_PROXY",
            "no_proxy",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
        ] {
            cmd.env_remove(key);
        }
        // Go's HTTP client never proxies loopback addresses, so the dead proxies cut off the
        // internet (any registry) and leave the test's own server reachable.
        cmd.env("HOME", &h)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("XDG_DATA_HOME", format!("{h}/.local/share"))
            .env("XDG_DATA_DIRS", format!("{h}/no-system-data"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("HTTPS_PROXY", dead_proxy)
            .env("HTTP_PROXY", dead_proxy)
            .env("https_proxy", dead_proxy)
            .env("http_proxy", dead_proxy)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        let out = cmd.output().expect("terraform on PATH");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        TfOut {
            command: format!("terraform {}", args.join(" ")),
            success: out.status.success(),
            // Terraform wraps its messages at 78 columns: one space between words makes them
            // searchable.
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// A configuration that needs the provider's schema of every kind (provider, resource, data
/// source) and no AWS call to validate.
pub fn config(with_version: bool) -> String {
    let version = if with_version {
        format!("\n      version = \"{VERSION}\"")
    } else {
        String::new()
    };
    format!(
        r#"terraform {{
  required_providers {{
    immutable = {{
      source  = "{PROVIDER_SOURCE}"{version}
    }}
  }}
}}

provider "immutable" {{
  region = "eu-west-1"
}}

resource "immutable_image" "web" {{
  source_ami = "ami-1e749f67"
  code_tag   = "v1.0.0"
  script     = "echo hello"
}}

data "immutable_image" "current" {{
  code_tag = "v1.0.0"
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "web"
  image_id               = immutable_image.web.id
  launch_mode            = "external"
}}
"#
    )
}

pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let dir = fresh_dir(dir);
    std::fs::write(dir.join("main.tf"), text).unwrap();
    dir
}

pub fn check_arm64_under_qemu(release: &Release) {
    if let Some(why) = &release.arm64_missing {
        eprintln!("SKIPPED (arm64 only): {why}");
        return;
    }
    let Some(qemu) = ["qemu-aarch64", "qemu-aarch64-static"]
        .into_iter()
        .find(|q| Command::new(q).arg("--version").output().is_ok())
    else {
        eprintln!("SKIPPED (arm64 only): qemu-user is not installed (apt-get install qemu-user)");
        return;
    };
    let work = fresh_dir(&release.work.clone().join("arm64"));
    let members = unzip(&release.dist.join(provider_zip(ARM64)), &work.join("zip"));
    let binary = &members[0].extracted;

    // Terraform (amd64) starts the plugin through a wrapper that runs the arm64 binary under
    // qemu-user: the handshake, mTLS and gRPC calls are the arm64 build's own.
    let plugins = fresh_dir(&work.join("plugins"));
    let wrapper = plugins.join(PLUGIN_BINARY);
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {qemu} -L /usr/aarch64-linux-gnu {} \"$@\"\n",
            binary.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tf = Tf::new(
        &work.join("home"),
        &format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugins.display()
        ),
    );

    let version = run_ok(
        Command::new(qemu)
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(binary)
            .arg("--version"),
    );
    assert_eq!(version.trim(), format!("{PLUGIN_BINARY} {VERSION}"));

    let good = write_config(&work.join("good"), &config(false));
    let run = tf.run(&good, &["validate"]);
    run.assert_success();
    assert!(
        run.text.contains("The configuration is valid"),
        "{}",
        run.text
    );

    // The schema Terraform checks against came from the arm64 plugin: a wrong argument is named.
    let bad = write_config(
        &work.join("bad"),
        &config(false).replace("code_tag   = \"v1.0.0\"", "code_tagg  = \"v1.0.0\""),
    );
    let run = tf.run(&bad, &["validate"]);
    assert!(
        !run.success
            && run
                .text
                .contains("An argument named \"code_tagg\" is not expected here"),
        "{}",
        run.text
    );
}

// ---------------------------------------------------------------------------------------------
// Item 3: terraform init from the network mirror over HTTPS.

/// A static HTTPS file server on loopback (Python's http.server, nothing provider-specific)
/// serving a directory with a certificate of a throwaway CA; stopped when dropped.
pub struct StaticHttps {
    child: Child,
    port: u16,
    pub ca_file: PathBuf,
    log: PathBuf,
}

impl StaticHttps {
    pub fn serve(root: &Path, scratch: &Path) -> StaticHttps {
        let scratch = fresh_dir(scratch);
        let tls = crate::http::localhost_tls(&scratch, "immutable publish test CA", "");
        let ca_file = tls.ca_file.clone();
        let script = r#"
import functools, http.server, ssl, sys
root, cert, key = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
        let log = scratch.join("requests.log");
        let mut child = Command::new("python3")
            .args(["-u", "-c", script])
            .arg(root)
            .arg(&tls.cert_file)
            .arg(&tls.key_file)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the HTTPS server did not start: {line:?}"));
        StaticHttps {
            child,
            port,
            ca_file,
            log,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    pub fn requests(&self) -> String {
        String::from_utf8_lossy(&read(&self.log)).into_owned()
    }
}

impl Drop for StaticHttps {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `hashes` of the provider's entry in a lock file.
pub fn lock_hashes(lock: &str) -> Vec<String> {
    let start = lock
        .find(&format!(
            "provider \"registry.terraform.io/{PROVIDER_SOURCE}\""
        ))
        .unwrap_or_else(|| panic!("no entry for the provider:\n{lock}"));
    let entry = &lock[start..];
    let hashes = &entry[entry.find("hashes = [").expect("hashes")..];
    let hashes = &hashes[..hashes.find(']').unwrap()];
    hashes
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The h1: hash of each platform's package, from the zip's contents.
pub fn package_h1(release: &Release, platform: &str) -> String {
    // Tests run in parallel: each call unpacks into a directory of its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let members = unzip(
        &release.dist.join(provider_zip(platform)),
        &release.work.clone().join(format!("h1-{n}")).join(platform),
    );
    h1_of_single_file(&members[0].extracted)
}

pub fn check_network_mirror_install(release: &Release) {
    let work = fresh_dir(&release.work.clone().join("net-mirror"));
    let server = StaticHttps::serve(&release.dist.join("mirror"), &work.join("server"));
    let mirror_url = server.url();
    let cli_config = format!(
        "provider_installation {{\n  network_mirror {{\n    url = \"{mirror_url}\"\n  }}\n}}\n"
    );
    let ca = server.ca_file.display().to_string();
    let tf = Tf::new(&work.join("home"), &cli_config).env("SSL_CERT_FILE", ca.clone());

    // Without the CA, Terraform refuses the mirror: the TLS check is real.
    let untrusting = Tf::new(&work.join("home-no-ca"), &cli_config);
    let dir = write_config(&work.join("no-ca"), &config(true));
    let run = untrusting.run(&dir, &["init", "-input=false"]);
    assert!(
        !run.success && run.text.contains("certificate"),
        "init must fail without the CA:\n{}",
        run.text
    );

    // One machine: init from the mirror, which checks the zip against the mirror's zh: hash.
    let first = write_config(&work.join("first"), &config(true));
    let init = tf.run(&first, &["init", "-input=false"]);
    init.assert_success();
    assert!(
        init.text.contains(&format!(
            "Installed {PROVIDER_SOURCE} v{VERSION} (verified checksum)"
        )),
        "{}",
        init.text
    );
    let amd64_h1 = package_h1(release, AMD64);
    let lock = std::fs::read_to_string(first.join(".terraform.lock.hcl")).unwrap();
    assert_eq!(
        lock_hashes(&lock),
        std::slice::from_ref(&amd64_h1),
        "{lock}"
    );
    let installed = first
        .join(".terraform/providers/registry.terraform.io")
        .join(PROVIDER_SOURCE)
        .join(VERSION)
        .join(AMD64)
        .join(format!("{PLUGIN_BINARY}_v{VERSION}"));
    assert_eq!(
        format!(
            "zh:{}",
            sha256_file(&release.dist.join(provider_zip(AMD64)))
        ),
        read_json(&mirror_dir(&release.dist).join(format!("{VERSION}.json")))["archives"][AMD64]
            ["hashes"][0],
        "the mirror's zh: hash is the zip's SHA-256"
    );
    assert!(installed.is_file(), "{}", installed.display());
    // The installed release binary serves Terraform.
    tf.run(&first, &["validate"]).assert_success();

    // The lock file a team commits: both Linux platforms' hashes, from the mirror.
    let mut lock_args = vec![
        "providers".to_string(),
        "lock".to_string(),
        format!("-net-mirror={mirror_url}"),
    ];
    for platform in &release.platforms {
        lock_args.push(format!("-platform={platform}"));
    }
    let args: Vec<&str> = lock_args.iter().map(String::as_str).collect();
    let locked = tf.run(&first, &args);
    locked.assert_success();
    let lock = std::fs::read_to_string(first.join(".terraform.lock.hcl")).unwrap();
    let mut expected: Vec<String> = release
        .platforms
        .iter()
        .map(|p| package_h1(release, p))
        .collect();
    expected.sort();
    expected.dedup();
    let mut got = lock_hashes(&lock);
    got.sort();
    assert_eq!(got, expected, "one h1: per platform:\n{lock}");
    if release.has_arm64() {
        assert_eq!(expected.len(), 2, "the two platforms' packages differ");
        for platform in &release.platforms {
            assert!(
                locked.text.contains(&format!(
                    "Retrieved {PROVIDER_SOURCE} {VERSION} for {platform} (verified checksum)"
                )),
                "{}",
                locked.text
            );
        }
    } else {
        eprintln!(
            "SKIPPED the linux_arm64 lock entry: {:?}",
            release.arm64_missing
        );
    }

    // Another machine (fresh HOME, nothing installed, no internet) with the committed lock
    // file: init installs from the mirror and leaves the lock file as committed.
    let other = Tf::new(&work.join("home-other"), &cli_config).env("SSL_CERT_FILE", ca.clone());
    let clone = write_config(&work.join("clone"), &config(true));
    std::fs::write(clone.join(".terraform.lock.hcl"), &lock).unwrap();
    other
        .run(&clone, &["init", "-input=false"])
        .assert_success();
    assert_eq!(
        std::fs::read_to_string(clone.join(".terraform.lock.hcl")).unwrap(),
        lock,
        "the committed lock file is already complete"
    );
    other.run(&clone, &["validate"]).assert_success();

    // A lock file recorded from another build: init refuses the mirror's package.
    let stranger = write_config(&work.join("stranger"), &config(true));
    let wrong = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let mut forged = lock.clone();
    for h in &expected {
        forged = forged.replace(h, wrong);
    }
    std::fs::write(stranger.join(".terraform.lock.hcl"), forged).unwrap();
    let run = other.run(&stranger, &["init", "-input=false"]);
    assert!(
        !run.success
            && run
                .text
                .contains("doesn't match any of the checksums previously recorded"),
        "{}",
        run.text
    );

    let requests = server.requests();
    assert!(
        requests.contains(&format!(
            "GET /registry.terraform.io/{PROVIDER_SOURCE}/{VERSION}.json"
        )),
        "{requests}"
    );
}

/// With signed sums the same static tree answers the provider registry protocol: pointed at it
/// by a `host` block, Terraform verifies the GPG signature and records every platform's `zh:`
/// hash (the zip's SHA-256, from the signed sums) in the lock file.
pub fn check_registry_install(release: &Release) {
    let work = fresh_dir(&release.work.clone().join("registry"));
    let server = StaticHttps::serve(&release.dist.join("mirror"), &work.join("server"));
    let registry_config = |url: &str| {
        format!(
            "host \"registry.terraform.io\" {{\n  services = {{\n    \"providers.v1\" = \"{url}v1/providers/\"\n  }}\n}}\n"
        )
    };
    let ca = server.ca_file.display().to_string();
    let tf = Tf::new(&work.join("home"), &registry_config(&server.url()))
        .env("SSL_CERT_FILE", ca.clone());

    let dir = write_config(&work.join("config"), &config(true));
    let init = tf.run(&dir, &["init", "-input=false"]);
    init.assert_success();
    let key_id = &release.fingerprint[release.fingerprint.len() - 16..];
    assert!(
        init.text.contains(&format!(
            "Installed {PROVIDER_SOURCE} v{VERSION} (self-signed, key ID {key_id})"
        )),
        "{}",
        init.text
    );
    let lock = std::fs::read_to_string(dir.join(".terraform.lock.hcl")).unwrap();
    // Terraform trusts the whole signed sums file: every line's hash goes into the lock.
    let mut expected: Vec<String> = sums(&release.dist.join(provider_sums()))
        .into_iter()
        .map(|(hash, _)| format!("zh:{hash}"))
        .chain([package_h1(release, AMD64)])
        .collect();
    expected.sort();
    let mut got = lock_hashes(&lock);
    got.sort();
    assert_eq!(
        got, expected,
        "h1: of this platform, zh: of every file of the sums:\n{lock}"
    );
    for platform in &release.platforms {
        let zh = format!(
            "zh:{}",
            sha256_file(&release.dist.join(provider_zip(platform)))
        );
        assert!(lock.contains(&zh), "{platform}: {zh} in\n{lock}");
    }
    tf.run(&dir, &["validate"]).assert_success();

    // Sums that the key did not sign are refused.
    let forged_root = fresh_dir(&work.join("forged"));
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(release.dist.join("mirror"))
            .arg(forged_root.join("mirror")),
    );
    let sums_path = mirror_dir(&forged_root).join(provider_sums());
    let text = String::from_utf8(read(&sums_path)).unwrap();
    std::fs::remove_file(&sums_path).unwrap();
    std::fs::write(&sums_path, text.replace(".zip", ".zip ")).unwrap();
    let forged = StaticHttps::serve(&forged_root.join("mirror"), &work.join("forged-server"));
    let tf = Tf::new(&work.join("home-forged"), &registry_config(&forged.url()))
        .env("SSL_CERT_FILE", forged.ca_file.display().to_string());
    let dir = write_config(&work.join("forged-config"), &config(true));
    let run = tf.run(&dir, &["init", "-input=false"]);
    assert!(
        !run.success && run.text.to_lowercase().contains("signature"),
        "unsigned sums must be refused:\n{}",
        run.text
    );
}

// ---------------------------------------------------------------------------------------------
// Item 2: reproducible builds.

/// Copies the repository's files (what a clone holds: tracked and new, unignored files) to
/// `dest`, keeping modification times so that a warm build there stays warm.
pub fn copy_checkout(dest: &Path) {
    let dest = fresh_dir(dest);
    let repo = repo_root();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&repo)
        .output()
        .expect("git");
    assert!(listed.status.success(), "git ls-files failed");
    let files: Vec<&[u8]> = listed
        .stdout
        .split(|b| *b == 0)
        .filter(|f| !f.is_empty())
        .filter(|f| repo.join(std::str::from_utf8(f).unwrap()).exists())
        .collect();
    // Arguments in chunks (the list is long): cp -p --parents keeps the tree and the times.
    for chunk in files.chunks(500) {
        let mut cmd = Command::new("cp");
        cmd.args(["-p", "--parents", "-t"]).arg(&dest).arg("--");
        for f in chunk {
            cmd.arg(std::str::from_utf8(f).unwrap());
        }
        run_ok(cmd.current_dir(&repo));
    }
}

/// A CARGO_HOME of its own: a copy of the caller's crate index and downloaded crates (so the
/// build needs no network), whose sources cargo unpacks under its own path.
pub fn other_cargo_home(dest: &Path) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let current = PathBuf::from(std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo")));
    if !dest.join("registry/cache").is_dir() {
        fresh_dir(&dest.join("registry"));
        for part in ["index", "cache"] {
            run_ok(
                Command::new("cp")
                    .arg("-a")
                    .arg(current.join("registry").join(part))
                    .arg(dest.join("registry")),
            );
        }
        for config in ["config.toml", "config"] {
            if current.join(config).is_file() {
                std::fs::copy(current.join(config), dest.join(config)).unwrap();
            }
        }
    }
    dest.to_path_buf()
}

/// The workspace's crates, whose release artifacts a second build removes first so that it
/// compiles them again from its own checkout (the dependencies are reused: what they could carry
/// of a path is checked by [`check_no_build_paths`]).
const WORKSPACE_CRATES: [&str; 4] = [
    "terraform-provider-immutable",
    "release-planner",
    "tfplugin-protos",
    "provider-framework",
];

/// A second linux_amd64 build, from a checkout at another, longer path and with another
/// CARGO_HOME, into the same target directory with the workspace's crates compiled again: its
/// zips, manifest and sums lines must equal the first build's byte for byte.
pub fn check_reproducible(release: &Release) {
    let work = release.work.clone();
    let checkout =
        work.join("elsewhere/a/much/longer/path/checkout-b/terraform-provider-immutable");
    copy_checkout(&checkout);
    let cargo_home = other_cargo_home(&work.join("cargo-home-b"));
    let target = target_dir();
    let dist = fresh_dir(&work.join("dist-b"));
    for krate in WORKSPACE_CRATES {
        run_ok(
            Command::new("cargo")
                .args([
                    "clean",
                    "--release",
                    "--target",
                    "x86_64-unknown-linux-gnu",
                    "-p",
                    krate,
                ])
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(&checkout),
        );
    }
    let log = work.join("release-b.log");
    run_release(
        &checkout,
        &target,
        &["--out", dist.to_str().unwrap(), "--platform", AMD64],
        &[("CARGO_HOME", &cargo_home)],
        &log,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&read(&log)).into_owned();
    for krate in ["terraform-provider-immutable", "release-planner"] {
        assert!(
            text.contains(&format!("Compiling {krate} ")),
            "the second build must compile {krate} again (log: {})",
            log.display()
        );
    }

    // Same bytes for every file both builds wrote, and the same sums lines.
    let mut differ = Vec::new();
    for name in [provider_zip(AMD64), planner_zip(AMD64), manifest()] {
        let (a, b) = (read(&release.dist.join(&name)), read(&dist.join(&name)));
        if a != b {
            differ.push(format!(
                "{name}: {} vs {}",
                hex(&Sha256::digest(&a)),
                hex(&Sha256::digest(&b))
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "the builds differ:\n{}",
        differ.join("\n")
    );
    let b_sums: BTreeMap<String, String> = sums(&dist.join(provider_sums()))
        .into_iter()
        .map(|(h, n)| (n, h))
        .collect();
    let a_sums: BTreeMap<String, String> = sums(&release.dist.join(provider_sums()))
        .into_iter()
        .map(|(h, n)| (n, h))
        .filter(|(n, _)| b_sums.contains_key(n))
        .collect();
    assert_eq!(
        a_sums.len(),
        2,
        "the amd64 zip and the manifest: {a_sums:?}"
    );
    assert_eq!(a_sums, b_sums, "the SHA256SUMS lines of the same files");
    check_no_build_paths(&dist, &work.join("unpacked-b"), &[&checkout, &cargo_home]);
}

/// No path of the machine that built them is in the released binaries: not the checkouts',
/// CARGO_HOME's, the target directory's or the home directory's (panic locations and C
/// `__FILE__` strings carry them unless the build maps them to fixed names).
pub fn check_no_build_paths(dist: &Path, unpack: &Path, more: &[&Path]) {
    let home = std::env::var("HOME").unwrap_or_default();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo"));
    let mut needles: Vec<String> = vec![
        repo_root().display().to_string(),
        target_dir().display().to_string(),
        cargo_home,
        "/.cargo/registry".into(),
        "/.rustup/toolchains".into(),
    ];
    needles.extend(more.iter().map(|p| p.display().to_string()));
    let mut found = Vec::new();
    let mut scanned = 0;
    for entry in std::fs::read_dir(dist).unwrap() {
        let zip = entry.unwrap().path();
        if zip.extension().is_none_or(|e| e != "zip") {
            continue;
        }
        let name = zip.file_name().unwrap().to_string_lossy().into_owned();
        for member in unzip(&zip, &unpack.join(&name)) {
            let bytes = read(&member.extracted);
            scanned += 1;
            for needle in &needles {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(format!("{name} contains {needle}"));
                }
            }
        }
    }
    assert!(
        scanned >= 2,
        "the provider's and the planner's binaries at least"
    );
    assert!(
        found.is_empty(),
        "build paths in the release binaries: {found:#?}"
    );
}
