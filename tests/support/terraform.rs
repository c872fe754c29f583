//! Runs the real `terraform` CLI on a configuration in a fresh temporary directory, with the
//! freshly built plugin installed through `dev_overrides` (never `terraform init`: it fails
//! offline with dev_overrides, and plan/apply do not need it).

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::moto::{Moto, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};

/// The provider's source address, as configurations name it in `required_providers`.
pub const PROVIDER_SOURCE: &str = "immutable-release/immutable";
/// The plugin's executable name.
pub const PLUGIN_BINARY: &str = "terraform-provider-immutable";
/// The lines every test configuration starts with: the provider's source address (which the
/// runner's `dev_overrides` maps to the freshly built plugin) and the emulator's endpoint (which
/// the runner passes as `TF_VAR_aws_endpoint`).
pub const TF_HEADER: &str = r#"terraform {
  required_providers {
    immutable = { source = "immutable-release/immutable" }
  }
}

variable "aws_endpoint" {
  type    = string
  default = null
}"#;

/// A `rolling_asg_release` of `group` onto `var.image` (default `image`), in batches of 25%
/// with no warm-up, as most release tests write it; `extra` adds arguments inside the resource.
pub fn release_config(group: &str, image: &str, batch_timeout: &str, extra: &str) -> String {
    format!(
        r##"
{TF_HEADER}
variable "image" {{
  type    = string
  default = "{image}"
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "rolling_asg_release" "web" {{
  provider               = immutable
  autoscaling_group_name = "{group}"
  image_id               = var.image
  batch_size             = "25%"
  instance_warmup        = "0s"
  batch_timeout          = "{batch_timeout}"
  {extra}
}}
"##
    )
}

/// Default limit for one terraform command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The directory holding the freshly built plugin: `E2E_PLUGIN_DIR` when set (the benchmarks
/// point it at the release build), else the `target/<profile>/` directory of the running test
/// executable (which lives in `target/<profile>/deps/`). Panics if the plugin has not been built.
pub fn plugin_dir() -> PathBuf {
    find_plugin_dir().unwrap_or_else(|| {
        if let Some(dir) = std::env::var_os("E2E_PLUGIN_DIR") {
            panic!(
                "E2E_PLUGIN_DIR is {} but {PLUGIN_BINARY} is not in it",
                PathBuf::from(dir).display()
            );
        }
        panic!(
            "the plugin binary {PLUGIN_BINARY} is not next to this test's target directory ({}); \
             build it first: cargo build -p terraform-provider-immutable (the README's test \
             command does this)",
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    })
}

/// [`plugin_dir`] without the panic: `None` when the plugin is not built.
pub fn find_plugin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("E2E_PLUGIN_DIR") {
        let dir = PathBuf::from(dir);
        return dir.join(PLUGIN_BINARY).is_file().then_some(dir);
    }
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    // target/debug/deps/<test exe>: the plugin is in target/debug; also accept a test exe that
    // sits directly in the profile directory.
    let found = [deps.parent(), Some(deps)]
        .into_iter()
        .flatten()
        .find(|dir| dir.join(PLUGIN_BINARY).is_file())
        .map(Path::to_path_buf);
    found
}

/// The result of one terraform command.
#[derive(Debug, Clone)]
pub struct TfRun {
    /// The command line, for messages (`terraform apply -no-color ...`).
    pub command: String,
    /// Exit code; -1 when terraform was killed (timeout) or died from a signal.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    pub timed_out: bool,
}

impl TfRun {
    pub fn success(&self) -> bool {
        self.status == 0
    }

    /// Panics, showing both streams, unless the command exited 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_status(0)
    }

    /// Panics, showing both streams, unless the command exited with `code`.
    #[track_caller]
    pub fn assert_status(&self, code: i32) -> &Self {
        if self.status != code {
            panic!(
                "`{}` exited {} (expected {code}){} after {:.1?}\n{}",
                self.command,
                self.status,
                if self.timed_out { " [TIMED OUT]" } else { "" },
                self.duration,
                self.report()
            );
        }
        self
    }

    /// Panics unless the command failed (non-zero exit) and its output contains `needle`.
    #[track_caller]
    pub fn assert_failure_contains(&self, needle: &str) -> &Self {
        if self.status == 0 || !self.combined().contains(needle) {
            panic!(
                "`{}` was expected to fail mentioning {needle:?}, it exited {}\n{}",
                self.command,
                self.status,
                self.report()
            );
        }
        self
    }

    /// stdout followed by stderr.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// [`TfRun::combined`] with its white space folded to single spaces: terraform wraps a
    /// diagnostic's lines wherever the terminal width puts them.
    pub fn one_line(&self) -> String {
        self.combined()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn report(&self) -> String {
        format!(
            "----- stdout -----\n{}\n----- stderr -----\n{}\n------------------",
            self.stdout, self.stderr
        )
    }
}

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A terraform working directory bound to a moto region.
pub struct Terraform {
    dir: PathBuf,
    cli_config: PathBuf,
    region: String,
    endpoint: String,
    env: Vec<(String, String)>,
    timeout: Duration,
}

impl Terraform {
    /// A fresh directory holding `main.tf` with this text.
    pub fn new(moto: &Moto, region: &str, main_tf: &str) -> Terraform {
        let tf = Terraform::empty(moto, region);
        tf.write_file("main.tf", main_tf);
        tf
    }

    /// A fresh directory holding a copy of the files of `src` (recursively; `.terraform`,
    /// state files and plan files are left out).
    pub fn from_dir(moto: &Moto, region: &str, src: impl AsRef<Path>) -> Terraform {
        let tf = Terraform::empty(moto, region);
        copy_config(src.as_ref(), &tf.dir).unwrap_or_else(|e| {
            panic!(
                "cannot copy {} to {}: {e}",
                src.as_ref().display(),
                tf.dir.display()
            )
        });
        tf
    }

    fn empty(moto: &Moto, region: &str) -> Terraform {
        let dir = std::env::temp_dir().join(format!(
            "immutable-e2e-tf-{}-{}-{region}",
            std::process::id(),
            DIR_COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let cli_config = dir.join(".terraformrc");
        let plugins = find_plugin_dir().unwrap_or_else(|| {
            // Still write a usable file: `terraform version` works without the plugin.
            std::env::current_exe()
                .ok()
                .and_then(|p| Some(p.parent()?.parent()?.to_path_buf()))
                .unwrap_or_default()
        });
        std::fs::write(&cli_config, cli_config_text(&plugins))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", cli_config.display()));
        Terraform {
            dir,
            cli_config,
            region: region.to_string(),
            endpoint: moto.endpoint(),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Points the provider at another endpoint (a [`crate::FaultProxy`] in front of moto).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Limit for each command (default [`DEFAULT_TIMEOUT`]); terraform is killed past it.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// An environment variable for every later command (e.g. `TF_LOG`).
    pub fn set_env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The CLI configuration file (dev_overrides to the plugin directory).
    pub fn cli_config(&self) -> &Path {
        &self.cli_config
    }

    /// Writes (or overwrites) a file of the configuration, e.g. to change `main.tf` between
    /// two applies.
    pub fn write_file(&self, name: &str, contents: &str) {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// `terraform apply -auto-approve` with `-var k=v` for each pair.
    pub fn apply(&self, vars: &[(&str, &str)]) -> TfRun {
        self.apply_with_env(vars, &[])
    }

    /// [`Terraform::apply`] with extra environment variables for this command only.
    pub fn apply_with_env(&self, vars: &[(&str, &str)], env: &[(&str, &str)]) -> TfRun {
        self.run_with_vars(&["apply", "-auto-approve"], vars, env)
    }

    /// `terraform plan -detailed-exitcode`: status 0 no changes, 2 changes, 1 error.
    pub fn plan(&self, vars: &[(&str, &str)]) -> TfRun {
        self.run_with_vars(&["plan", "-detailed-exitcode"], vars, &[])
    }

    /// `terraform plan -out=<file>` (the file is relative to the working directory).
    pub fn plan_out(&self, vars: &[(&str, &str)], file: &str) -> TfRun {
        let out = format!("-out={file}");
        self.run_with_vars(&["plan", &out], vars, &[])
    }

    /// `terraform show -json <planfile>`, parsed.
    pub fn show_json(&self, planfile: &str) -> serde_json::Value {
        self.json(&["show", "-json", planfile])
    }

    /// `terraform plan -out=<planfile>` (which must succeed) and the planned values
    /// (`change.after`) of every `rolling_asg_release` in it, in the plan's order.
    pub fn planned_releases(
        &self,
        vars: &[(&str, &str)],
        planfile: &str,
    ) -> Vec<serde_json::Value> {
        self.plan_out(vars, planfile).assert_success();
        let plan = self.show_json(planfile);
        plan["resource_changes"]
            .as_array()
            .expect("resource_changes")
            .iter()
            .filter(|r| r["type"] == "rolling_asg_release")
            .map(|r| r["change"]["after"].clone())
            .collect()
    }

    /// [`Terraform::planned_releases`] of a configuration with one release.
    pub fn planned_release(&self, vars: &[(&str, &str)], planfile: &str) -> serde_json::Value {
        self.planned_releases(vars, planfile)
            .into_iter()
            .next()
            .expect("a rolling_asg_release in the plan")
    }

    /// `planner preview --format text` of a saved plan, as a pull-request job runs it (which
    /// must succeed): the text a reviewer reads.
    pub fn preview_text(&self, planfile: &str) -> String {
        let show = self.run(&["show", "-json", planfile], &[]);
        show.assert_success();
        let json = self.dir().join(format!("{planfile}.json"));
        std::fs::write(&json, &show.stdout).expect("write the plan's JSON");
        let planner = plugin_dir().join("planner");
        let out = Command::new(&planner)
            .args(["preview", "--format", "text"])
            .arg(&json)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", planner.display()));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "planner preview exited {}: {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// `terraform show -json` of the current state, parsed.
    pub fn state_json(&self) -> serde_json::Value {
        self.json(&["show", "-json"])
    }

    /// `terraform destroy -auto-approve`.
    pub fn destroy(&self, vars: &[(&str, &str)]) -> TfRun {
        self.run_with_vars(&["destroy", "-auto-approve"], vars, &[])
    }

    /// `terraform import <addr> <id>`.
    pub fn import(&self, addr: &str, id: &str, vars: &[(&str, &str)]) -> TfRun {
        let mut args = vec!["import".to_string()];
        args.extend(var_args(vars));
        args.push(addr.to_string());
        args.push(id.to_string());
        self.run_owned(args, &[])
    }

    /// `terraform validate`.
    pub fn validate(&self) -> TfRun {
        self.run(&["validate"], &[])
    }

    /// `terraform output -json <name>`, parsed.
    pub fn output(&self, name: &str) -> serde_json::Value {
        self.json(&["output", "-json", name])
    }

    /// `terraform <args>` with `-no-color` (and `-input=false` for the commands that take it)
    /// and extra environment variables. Never fails by itself: look at [`TfRun::status`].
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> TfRun {
        self.run_owned(args.iter().map(|s| s.to_string()).collect(), env)
    }

    fn run_with_vars(&self, base: &[&str], vars: &[(&str, &str)], env: &[(&str, &str)]) -> TfRun {
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend(var_args(vars));
        self.run_owned(args, env)
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let run = self.run(args, &[]);
        run.assert_success();
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e})\n{}", run.command, run.report()))
    }

    fn run_owned(&self, args: Vec<String>, env: &[(&str, &str)]) -> TfRun {
        let (cmd, command) = self.command(args, env);
        run_with_timeout(cmd, command, self.timeout)
    }

    /// Starts `terraform <args>` in the background, e.g. to kill it mid-apply.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let (mut cmd, command) = self.command(args.iter().map(|s| s.to_string()).collect(), &[]);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{command}`: {e} (is terraform on PATH?)"));
        Background { child }
    }

    fn command(&self, mut args: Vec<String>, env: &[(&str, &str)]) -> (Command, String) {
        // Flags go right after the subcommand, before any positional argument.
        let mut flags = vec!["-no-color".to_string()];
        if args
            .first()
            .is_some_and(|c| TAKES_INPUT_FLAG.contains(&c.as_str()))
        {
            flags.push("-input=false".to_string());
        }
        let at = usize::from(!args.is_empty());
        args.splice(at..at, flags);

        let mut cmd = Command::new("terraform");
        cmd.args(&args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: on timeout we kill terraform and its provider plugins.
            .process_group(0);
        for key in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_ENDPOINT_URL",
            "TF_DATA_DIR",
            "TF_PLUGIN_CACHE_DIR",
            "TF_LOG",
            "TF_LOG_PATH",
            "TF_WORKSPACE",
        ] {
            cmd.env_remove(key);
        }
        cmd.env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_INPUT", "0")
            .env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
            .env("AWS_REGION", &self.region)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("TF_VAR_aws_endpoint", &self.endpoint);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let command = format!("terraform {}", args.join(" "));
        (cmd, command)
    }
}

/// A terraform command running in the background, in its own process group with its plugins.
pub struct Background {
    child: std::process::Child,
}

impl Background {
    /// SIGKILL to terraform and every plugin it started: what a cancelled CI job does.
    pub fn kill_all(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill_all();
    }
}

impl Drop for Terraform {
    fn drop(&mut self) {
        if std::env::var("KEEP_TF_DIRS").as_deref() == Ok("1") {
            eprintln!("KEEP_TF_DIRS=1: kept {}", self.dir.display());
        } else if std::thread::panicking() {
            eprintln!(
                "test failed: kept terraform directory {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Subcommands that accept `-input=false`.
const TAKES_INPUT_FLAG: &[&str] = &["apply", "plan", "destroy", "import", "refresh", "init"];

fn var_args(vars: &[(&str, &str)]) -> Vec<String> {
    vars.iter()
        .flat_map(|(k, v)| ["-var".to_string(), format!("{k}={v}")])
        .collect()
}

fn cli_config_text(plugin_dir: &Path) -> String {
    let dir = plugin_dir.display().to_string();
    format!(
        "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = {}\n  }}\n  direct {{}}\n}}\n",
        serde_json::Value::String(dir) // a JSON string is a valid HCL string literal here
    )
}

fn run_with_timeout(mut cmd: Command, command: String, timeout: Duration) -> TfRun {
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{command}`: {e} (is terraform on PATH?)"));
    let pid = child.id();
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });

    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                timed_out = true;
                kill_group(pid);
                let _ = child.kill();
                break child.wait().expect("wait for terraform");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for `{command}`: {e}"),
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let mut stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    if timed_out {
        stderr.push_str(&format!(
            "\n[e2e-tests: killed after the {timeout:?} timeout]\n"
        ));
    }
    TfRun {
        command,
        status: status.code().unwrap_or(-1),
        stdout,
        stderr,
        duration: start.elapsed(),
        timed_out,
    }
}

/// SIGKILL to a whole process group (terraform and the plugins it started).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn copy_config(src: &Path, dst: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == ".terraform"
            || name_str.starts_with("terraform.tfstate")
            || name_str.ends_with(".tfplan")
            || name_str == ".terraform.lock.hcl"
        {
            continue;
        }
        let to = dst.join(&name);
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_config(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let mut cmd = Command::new("sh");
        // A grandchild that would keep the pipes open if only `sh` were killed.
        cmd.args(["-c", "sleep 30 & sleep 30; echo never"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let run = run_with_timeout(cmd, "sh sleep".into(), Duration::from_millis(300));
        assert!(run.timed_out);
        assert_eq!(run.status, -1);
        assert!(run.duration < Duration::from_secs(10), "{:?}", run.duration);
        assert!(run.stderr.contains("killed after"));
        assert!(!run.stdout.contains("never"));
    }

    #[test]
    fn flags_and_cli_config() {
        assert_eq!(
            var_args(&[("a", "1"), ("b", "x y")]),
            ["-var", "a=1", "-var", "b=x y"]
        );
        let text = cli_config_text(Path::new("/t/debug"));
        assert!(
            text.contains(r#""immutable-release/immutable" = "/t/debug""#),
            "{text}"
        );
        assert!(text.contains("direct {}"));
    }
}
