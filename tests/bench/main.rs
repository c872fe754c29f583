//! The performance benchmarks of issue #7, printed as one table:
//!
//!   cargo run -p e2e-tests --bin bench            (or: bench/run, which also runs the planner's)
//!
//! Everything runs against a local moto_server. The plugin is the one in `E2E_PLUGIN_DIR`
//! (bench/run points it at the release build), else the debug build the tests use. Nothing
//! asserts on time: the table is the output, BENCHMARKS.md records it with the targets.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e_tests::{group_state, plugin_dir, template_group, Moto, Terraform, TF_HEADER};

mod fleet;

const OLD: &str = "ami-1e749f67";
const NEW: &str = "ami-785db401";

struct Row {
    what: String,
    measured: String,
    target: String,
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let named = |name: &str| only.iter().any(|o| o == name);
    let wants = |name: &str| only.is_empty() || named(name);
    let moto = Moto::shared();
    // 2,000 instances through moto (3-6 minutes here): only when asked for; its own table.
    if named("fleet") {
        fleet::run(moto);
        if only.len() == 1 {
            return;
        }
    }
    let mut rows = Vec::new();
    if wants("release") {
        for (n, batch) in [(100, 10), (20, 5)] {
            rows.extend(release_overhead(moto, n, batch, 2));
        }
    }
    if wants("unchanged") {
        rows.push(unchanged_reapply(moto));
    }
    if wants("plan") {
        rows.extend(plan_overhead(moto, 100));
    }
    if wants("startup") {
        rows.push(startup());
    }
    if wants("rss") {
        rows.push(release_rss(moto, 1000, 100));
    }
    print_table(&rows);
}

fn release_config(group: &str, batch: u32, warmup: u32) -> String {
    format!(
        r#"
{TF_HEADER}
provider "immutable" {{
  endpoint = var.aws_endpoint
}}
resource "rolling_asg_release" "bench" {{
  provider               = immutable
  autoscaling_group_name = "{group}"
  image_id               = "{NEW}"
  batch_size             = "{batch}"
  instance_warmup        = "{warmup}s"
  suspend_processes      = []
}}
"#
    )
}

/// Rows 1 and 2: wall time of the apply over its lower bound, and AWS calls per replaced instance.
fn release_overhead(moto: &Moto, n: u32, batch: u32, warmup: u32) -> Vec<Row> {
    let region = moto.unique_region();
    let name = format!("bench{n}");
    template_group(moto, region, &name, n as i32, OLD);
    let tf = Terraform::new(moto, region, &release_config(&name, batch, warmup));
    let calls_before = moto.recorded_calls(region).len();
    // BENCH_LOG=<file>: the provider's debug log of the apply, to see where the time goes.
    let log: Vec<(&str, String)> = match std::env::var("BENCH_LOG") {
        Ok(path) => vec![
            ("TF_LOG_PROVIDER", "debug".into()),
            ("TF_LOG_PATH", format!("{path}.{n}")),
        ],
        Err(_) => vec![],
    };
    let log: Vec<(&str, &str)> = log.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let start = Instant::now();
    tf.run(&["apply", "-auto-approve"], &log).assert_success();
    let wall = start.elapsed().as_secs_f64();
    let calls = moto.recorded_calls(region);
    let during: Vec<_> = calls[calls_before..].to_vec();
    let state = group_state(moto, region, &name);
    assert_eq!(state.count_on(NEW), n as usize, "the release completed");
    let batches = n.div_ceil(batch);
    let bound = f64::from(batches * warmup);
    let mut by_action: std::collections::BTreeMap<String, usize> = Default::default();
    for c in &during {
        *by_action.entry(c.action.clone()).or_default() += 1;
    }
    let breakdown: Vec<String> = by_action.iter().map(|(a, c)| format!("{a} {c}")).collect();
    vec![
        Row {
            what: format!("release overhead: {n} instances, batch {batch}, warm-up {warmup}s"),
            measured: format!("{wall:.1}s / {bound:.0}s = {:.2}", wall / bound),
            target: "≤ 1.10".into(),
        },
        Row {
            what: format!(
                "AWS calls per replaced instance ({n}): {}",
                breakdown.join(", ")
            ),
            measured: format!(
                "{} / {n} = {:.2}",
                during.len(),
                during.len() as f64 / f64::from(n)
            ),
            target: "≤ 1.5".into(),
        },
    ]
}

/// Row 5: an unchanged re-apply launches nothing and is quick.
fn unchanged_reapply(moto: &Moto) -> Row {
    let region = moto.unique_region();
    template_group(moto, region, "again", 4, OLD);
    let tf = Terraform::new(moto, region, &release_config("again", 2, 0));
    tf.apply(&[]).assert_success();
    let launched_before =
        moto.count(region, "RunInstances") + moto.count(region, "UpdateAutoScalingGroup");
    let start = Instant::now();
    tf.apply(&[]).assert_success();
    let wall = start.elapsed().as_secs_f64();
    let launched = moto.count(region, "RunInstances")
        + moto.count(region, "UpdateAutoScalingGroup")
        - launched_before;
    Row {
        what: "unchanged re-apply (release of 4, nothing to do)".into(),
        measured: format!("{wall:.2}s, {launched} capacity/launch calls"),
        target: "< 3s, 0 launched".into(),
    }
}

/// Row 3: `terraform plan` of N existing images against N terraform_data (the in-process floor).
fn plan_overhead(moto: &Moto, n: usize) -> Vec<Row> {
    let region = moto.unique_region();
    let images = format!(
        r#"
{TF_HEADER}
provider "immutable" {{
  endpoint = var.aws_endpoint
}}
resource "immutable_image" "img" {{
  count      = {n}
  source_ami = "{OLD}"
  code_tag   = "v${{count.index}}"
  script     = "echo hi"
}}
"#
    );
    let tf = Terraform::new(moto, region, &images);
    tf.run(&["apply", "-auto-approve", "-parallelism=20"], &[])
        .assert_success();
    let floor_cfg = format!(
        "resource \"terraform_data\" \"d\" {{\n  count = {n}\n  input = \"v${{count.index}}\"\n}}\n"
    );
    let floor = Terraform::new(moto, region, &floor_cfg);
    floor.apply(&[]).assert_success();
    let median = |tf: &Terraform, args: &[&str]| {
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                tf.run(args, &[]).assert_status(0);
                start.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        times[2]
    };
    let plan = ["plan", "-detailed-exitcode"];
    let no_refresh = ["plan", "-detailed-exitcode", "-refresh=false"];
    let ours = median(&tf, &plan);
    let base = median(&floor, &plan);
    let ours_local = median(&tf, &no_refresh);
    let base_local = median(&floor, &no_refresh);
    // Who spends the time without refresh: the plugin processes or Terraform itself.
    let runs = 5;
    let cpu_before = children_cpu_secs();
    let watch = PluginWatch::start();
    for _ in 0..runs {
        tf.run(&no_refresh, &[]).assert_status(0);
    }
    let seen = watch.stop();
    let all_cpu = (children_cpu_secs() - cpu_before) / f64::from(runs);
    let plugin_cpu = seen.cpu_secs.values().sum::<f64>() / f64::from(runs);
    // What the emulator itself spends answering for these images, in one call with every id:
    // a lower bound for any refresh of them.
    let ids: Vec<String> = moto
        .images(region)
        .iter()
        .filter_map(|i| i.image_id().map(str::to_string))
        .collect();
    let ec2 = moto.ec2(region);
    let mut emulator: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            moto.block_on(
                ec2.describe_images()
                    .set_image_ids(Some(ids.clone()))
                    .send(),
            )
            .expect("DescribeImages");
            start.elapsed().as_secs_f64()
        })
        .collect();
    emulator.sort_by(|a, b| a.partial_cmp(b).unwrap());
    vec![
        Row {
            what: format!(
                "terraform plan: {n} existing immutable_image vs {n} terraform_data (median of 5)"
            ),
            measured: format!("{ours:.2}s vs {base:.2}s = {:.2}×", ours / base),
            target: "≤ 1.5×".into(),
        },
        Row {
            what: "  same, -refresh=false (the plugin without AWS calls)".into(),
            measured: format!(
                "{ours_local:.2}s vs {base_local:.2}s = {:.2}×",
                ours_local / base_local
            ),
            target: "≤ 1.5×".into(),
        },
        Row {
            what: "  same, CPU per plan: the plugin processes vs Terraform's own".into(),
            measured: format!(
                "{plugin_cpu:.2}s vs {:.2}s",
                (all_cpu - plugin_cpu).max(0.0)
            ),
            target: "—".into(),
        },
        Row {
            what: format!(
                "  moto answering one DescribeImages for the {} images (median of 5)",
                ids.len()
            ),
            measured: format!("{:.2}s", emulator[2]),
            target: "—".into(),
        },
    ]
}

/// Row 4a: plugin start to handshake line, with AutoMTLS as Terraform starts it.
fn startup() -> Row {
    let bin = plugin_dir().join("terraform-provider-immutable");
    let cert = client_cert_pem();
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        let mut child = Command::new(&bin)
            .env(
                "TF_PLUGIN_MAGIC_COOKIE",
                "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
            )
            .env("PLUGIN_PROTOCOL_VERSIONS", "6,5")
            .env("PLUGIN_CLIENT_CERT", &cert)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start plugin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(line.starts_with("1|6|unix|"), "handshake: {line}");
        let _ = child.kill();
        let _ = child.wait();
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Row {
        what: format!(
            "plugin start-up to handshake line (median of 21, {})",
            plugin_dir().display()
        ),
        measured: format!("{:.1} ms", times[10]),
        target: "< 20 ms".into(),
    }
}

/// Row 4b: the plugin's peak resident memory while it releases a large group.
fn release_rss(moto: &Moto, n: u32, batch: u32) -> Row {
    let region = moto.unique_region();
    let name = format!("big{n}");
    template_group(moto, region, &name, n as i32, OLD);
    let tf = Terraform::new(moto, region, &release_config(&name, batch, 0));
    let watch = PluginWatch::start();
    let start = Instant::now();
    tf.apply(&[]).assert_success();
    let wall = start.elapsed().as_secs_f64();
    let seen = watch.stop();
    Row {
        what: format!(
            "plugin peak RSS during a {n}-instance release (batch {batch}; took {wall:.0}s)"
        ),
        measured: format!("{:.1} MB", seen.peak_rss_kb as f64 / 1024.0),
        target: "< 30 MB".into(),
    }
}

/// What the plugin processes used while it ran, sampled from /proc every few milliseconds.
struct PluginWatch {
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Seen>,
}

#[derive(Default)]
struct Seen {
    peak_rss_kb: u64,
    /// CPU seconds per plugin process, as last sampled (a process's last few ms may be missed).
    cpu_secs: std::collections::BTreeMap<u32, f64>,
}

impl PluginWatch {
    fn start() -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Seen::default();
            while !flag.load(Ordering::SeqCst) {
                for (pid, hwm_kb, cpu) in plugin_processes() {
                    seen.peak_rss_kb = seen.peak_rss_kb.max(hwm_kb);
                    seen.cpu_secs.insert(pid, cpu);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            seen
        });
        PluginWatch { done, thread }
    }

    fn stop(self) -> Seen {
        self.done.store(true, Ordering::SeqCst);
        self.thread.join().expect("watcher")
    }
}

/// CPU seconds used by the children this process has waited for (terraform and, through it,
/// its plugins).
fn children_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 3, cutime 16 and cstime 17 (1-based).
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(16) + ticks(17)) / CLOCK_TICKS
}

/// Linux's USER_HZ on every architecture this runs on.
const CLOCK_TICKS: f64 = 100.0;

/// (pid, VmHWM in kB, CPU seconds) of every running plugin process. Processes are picked by
/// the file they execute, not by their command line: `cargo build -p
/// terraform-provider-immutable` has the name in its arguments and a hundred megabytes of its own.
fn plugin_processes() -> Vec<(u32, u64, f64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let p = e.path();
        let Ok(exe) = std::fs::read_link(p.join("exe")) else {
            continue;
        };
        if exe.file_name().and_then(|n| n.to_str()) != Some("terraform-provider-immutable") {
            continue;
        }
        let hwm = std::fs::read_to_string(p.join("status"))
            .ok()
            .and_then(|status| {
                status.lines().find_map(|l| {
                    l.strip_prefix("VmHWM:")
                        .and_then(|v| v.split_whitespace().next())
                        .and_then(|kb| kb.parse().ok())
                })
            })
            .unwrap_or(0);
        let cpu = std::fs::read_to_string(p.join("stat"))
            .ok()
            .and_then(|stat| {
                let rest: Vec<String> = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                // utime and stime are fields 14 and 15 (1-based); `rest` starts at field 3.
                let t = |i: usize| rest.get(i - 3)?.parse::<f64>().ok();
                Some((t(14)? + t(15)?) / CLOCK_TICKS)
            })
            .unwrap_or(0.0);
        out.push((pid, hwm, cpu));
    }
    out
}

/// A self-signed P-521 CA certificate, the kind Terraform sends in PLUGIN_CLIENT_CERT.
fn client_cert_pem() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).expect("cert").pem()
}

fn print_table(rows: &[Row]) {
    let w0 = rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(0)
        .max(9);
    let w1 = rows
        .iter()
        .map(|r| r.measured.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    println!("| {:w0$} | {:w1$} | target |", "benchmark", "measured");
    println!("|{}|{}|--------|", "-".repeat(w0 + 2), "-".repeat(w1 + 2));
    for r in rows {
        println!("| {:w0$} | {:w1$} | {} |", r.what, r.measured, r.target);
    }
}
