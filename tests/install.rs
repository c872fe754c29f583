//! Installing like any provider: `scripts/install` places the plugin in Terraform's
//! filesystem-mirror layout under `~/.terraform.d/plugins`, and a plain `terraform init` (no
//! CLI configuration, no dev_overrides, no network) finds it there — Terraform's implied local
//! mirror directories — and records its version and hash in `.terraform.lock.hcl`.
//!
//! The test installs the debug binary the other end-to-end tests use (`--binary`): a release build
//! of the AWS SDK takes too long for a test run. Each test has its own temporary HOME.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e_tests::{plugin_dir, PLUGIN_BINARY, PROVIDER_SOURCE};

/// The workspace version: the provider's Cargo version, since every crate shares it.
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

fn platform() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux_amd64",
        ("linux", "aarch64") => "linux_arm64",
        ("macos", "x86_64") => "darwin_amd64",
        ("macos", "aarch64") => "darwin_arm64",
        other => panic!("no Terraform platform name for {other:?}"),
    }
}

/// A fresh, empty HOME, removed when dropped (kept when the test fails).
struct TempHome(PathBuf);

impl TempHome {
    fn new(name: &str) -> TempHome {
        let dir =
            std::env::temp_dir().join(format!("immutable-e2e-home-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempHome(dir)
    }

    fn plugin_path(&self) -> PathBuf {
        self.0.join(format!(
            ".terraform.d/plugins/registry.terraform.io/{PROVIDER_SOURCE}/{VERSION}/{}/{PLUGIN_BINARY}_v{VERSION}",
            platform()
        ))
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The real user's toolchain directories: with HOME pointing elsewhere, rustup and cargo must
/// still find them (scripts/install runs `cargo metadata`).
fn toolchain_env() -> Vec<(&'static str, String)> {
    let home = std::env::var("HOME").unwrap_or_default();
    let or_home = |key: &str, dir: &str| std::env::var(key).unwrap_or(format!("{home}/{dir}"));
    vec![
        ("CARGO_HOME", or_home("CARGO_HOME", ".cargo")),
        ("RUSTUP_HOME", or_home("RUSTUP_HOME", ".rustup")),
    ]
}

fn install(home: &TempHome, args: &[&str]) -> Output {
    let out = Command::new(repo_root().join("scripts/install"))
        .args(args)
        .env("HOME", &home.0)
        .envs(toolchain_env())
        .output()
        .expect("run scripts/install");
    eprintln!(
        "scripts/install {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Go's dirhash "h1:" of a directory holding one file: what Terraform records for an unpacked
/// provider package. `sha256sum` does the hashing, so the test needs no crypto dependency.
fn h1_of_single_file(path: &Path) -> String {
    let sha256 = |input: &[u8]| -> Vec<u8> {
        let mut child = Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sha256sum");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
        let out = child.wait_with_output().unwrap();
        let hex = String::from_utf8(out.stdout).unwrap();
        let hex = hex.split_whitespace().next().unwrap().to_string();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let file = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    let summary = format!("{}  {name}\n", hex(&sha256(&file)));
    use base64::Engine as _;
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(sha256(summary.as_bytes()))
    )
}

/// The result of one terraform command.
struct Run {
    command: String,
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn assert_success(&self) -> &Self {
        assert_eq!(
            self.status, 0,
            "`{}` failed\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.command, self.stdout, self.stderr
        );
        self
    }

    fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// `terraform <args> -no-color` in `dir`, as a user without any CLI configuration runs it: HOME
/// is the temporary one, no `TF_CLI_CONFIG_FILE` (none of the caller's), no XDG data directory
/// of this machine, and every proxy pointing at a closed port, so that any attempt to reach a
/// registry fails.
fn terraform(home: &TempHome, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let h = home.0.display().to_string();
    let dead_proxy = "http://127.0.0.1:9";
    let mut cmd = Command::new("terraform");
    cmd.args(args)
        .arg("-no-color")
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    for key in [
        "TF_CLI_CONFIG_FILE",
        "TERRAFORM_CONFIG",
        "TF_PLUGIN_CACHE_DIR",
        "TF_DATA_DIR",
        "TF_LOG",
        "TF_LOG_PATH",
        "TF_LOG_PROVIDER",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("HOME", &h)
        .env("XDG_DATA_HOME", format!("{h}/.local/share"))
        .env("XDG_DATA_DIRS", format!("{h}/no-system-data"))
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("HTTPS_PROXY", dead_proxy)
        .env("HTTP_PROXY", dead_proxy)
        .env("https_proxy", dead_proxy)
        .env("http_proxy", dead_proxy)
        .envs(env.iter().copied());
    let out = cmd.output().expect("terraform on PATH");
    Run {
        command: format!("terraform {}", args.join(" ")),
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn config() -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    immutable = {{
      source  = "{PROVIDER_SOURCE}"
      version = "{VERSION}"
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

#[test]
fn install_then_init_offline_from_the_implied_mirror() {
    let home = TempHome::new("init");
    let binary = plugin_dir().join(PLUGIN_BINARY);
    let out = install(&home, &["--binary", binary.to_str().unwrap()]);
    assert!(out.status.success(), "scripts/install failed");
    let installed = home.plugin_path();
    assert!(
        installed.is_file(),
        "the mirror layout: {} is missing",
        installed.display()
    );
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&binary).unwrap(),
        "the installed file is the binary given"
    );

    let work = home.0.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("main.tf"), config()).unwrap();
    let tf = |args: &[&str], env: &[(&str, &str)]| terraform(&home, &work, args, env);

    let init = tf(&["init", "-input=false"], &[]);
    init.assert_success();
    let out = init.combined();
    assert!(
        out.contains(&format!("Installing {PROVIDER_SOURCE} v{VERSION}")),
        "{out}"
    );
    assert!(
        !out.contains("Provider development overrides"),
        "no dev_overrides: {out}"
    );

    let lock = std::fs::read_to_string(work.join(".terraform.lock.hcl"))
        .expect("terraform init writes .terraform.lock.hcl");
    assert!(
        lock.contains(&format!(
            "provider \"registry.terraform.io/{PROVIDER_SOURCE}\""
        )),
        "{lock}"
    );
    let squeezed = lock.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        squeezed.contains(&format!("version = \"{VERSION}\"")),
        "{lock}"
    );
    let h1 = h1_of_single_file(&installed);
    assert!(
        lock.contains(&format!("\"{h1}\"")),
        "the lock records the installed binary's hash {h1}:\n{lock}"
    );

    // Initialized like any provider: validate works (the schema comes from the installed
    // binary), and Terraform shows the provider's version.
    tf(&["validate"], &[]).assert_success();
    let version = tf(&["version"], &[]);
    version.assert_success();
    assert!(
        version.stdout.contains(&format!(
            "provider registry.terraform.io/{PROVIDER_SOURCE} v{VERSION}"
        )),
        "{}",
        version.stdout
    );

    // A second init verifies the installed package against the lock file.
    tf(&["init", "-input=false"], &[]).assert_success();

    // The plugin logs its version when Terraform starts it.
    let run = tf(&["validate"], &[("TF_LOG_PROVIDER", "info")]);
    run.assert_success();
    assert!(
        run.stderr.contains("provider plugin serving")
            && run.stderr.contains(&format!("version={VERSION}")),
        "{}",
        run.stderr
    );
}

#[test]
fn the_binary_reports_its_cargo_version() {
    let out = Command::new(plugin_dir().join(PLUGIN_BINARY))
        .arg("--version")
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{PLUGIN_BINARY} {VERSION}")
    );
}

#[test]
fn install_refuses_a_binary_of_another_version() {
    let home = TempHome::new("stale");
    let fake = home.0.join("stale-provider");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho terraform-provider-immutable 0.0.1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = install(&home, &["--binary", fake.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reports terraform-provider-immutable 0.0.1")
            && err.contains(&format!("at {VERSION}")),
        "{err}"
    );
    assert!(!home.0.join(".terraform.d").exists(), "nothing installed");

    let out = install(&home, &["--binary", "/nonexistent/provider"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an executable file"));
}
