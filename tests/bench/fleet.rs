//! `bench/run fleet`: issue 13's "Large groups" figures on moto. One `terraform apply` at
//! Terraform's default parallelism (10) of 50 `rolling_asg_release`s, `for_each` over a set of
//! group names given as a variable, each on its own 20-instance group, batches of 5, no warm-up
//! (the fixed-cost test's release); and the same configuration with one group as the baseline.
//!
//! Calls are counted from moto's request recorder. The recorder writes no times, so a thread
//! tails its file and stamps each call when it appears (every [`TAIL_EVERY`]): enough for the
//! peak over one-second windows. `BENCH_BY_ACTION=1` prints the calls by action beside it.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e_tests::aws_sdk_autoscaling;
use e2e_tests::moto::parse_recording;
use e2e_tests::{group_state, template_group, Moto, RecordedCall, Terraform, TF_HEADER};

use super::{children_cpu_secs, plugin_processes, CLOCK_TICKS, NEW, OLD};

const GROUPS: usize = 50;
const GROUP_SIZE: i32 = 20;
const BATCH: u32 = 5;
const TAIL_EVERY: Duration = Duration::from_millis(50);
/// 50 releases of 4 batches on a loaded moto; the default 300 s is one release's budget.
const APPLY_TIMEOUT: Duration = Duration::from_secs(3600);

/// The configuration users write for a fleet: one resource, `for_each` over the groups.
fn fleet_config() -> String {
    format!(
        r#"
{TF_HEADER}
variable "groups" {{
  type = set(string)
}}
variable "image" {{
  type = string
}}
variable "batch_size" {{
  type    = string
  default = "{BATCH}"
}}

provider "immutable" {{
  endpoint = var.aws_endpoint
}}

resource "rolling_asg_release" "fleet" {{
  for_each               = var.groups
  provider               = immutable
  autoscaling_group_name = each.key
  image_id               = var.image
  batch_size             = var.batch_size
  instance_warmup        = "0s"
}}
"#
    )
}

struct Case {
    what: String,
    releases: usize,
    wall: f64,
    calls: Vec<(f64, RecordedCall)>,
    moto_cpu: f64,
    plugin_cpu: f64,
    terraform_cpu: f64,
    /// The machine's mean 1-minute load average during the apply (2 cores, shared).
    load: f64,
}

impl Case {
    fn instances(&self) -> usize {
        self.releases * GROUP_SIZE as usize
    }

    fn autoscaling(&self) -> Vec<f64> {
        self.calls
            .iter()
            .filter(|(_, c)| c.service == "autoscaling")
            .map(|(t, _)| *t)
            .collect()
    }

    fn by_action(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for (_, c) in &self.calls {
            *m.entry(c.action.clone()).or_default() += 1;
        }
        m
    }
}

pub fn run(moto: &Moto) {
    let recorder = Recorder::start(moto);
    let one = release_case(moto, &recorder, "one group of 20, batch 5", 1);
    let fleet = release_case(
        moto,
        &recorder,
        "50 groups of 20, batch 5, parallelism 10",
        GROUPS,
    );
    recorder.stop();
    print_cases(&[&one, &fleet]);
    if std::env::var_os("BENCH_BY_ACTION").is_some() {
        print_by_action(&one, &fleet);
    }
}

fn release_case(moto: &Moto, recorder: &Recorder, what: &str, releases: usize) -> Case {
    let region = moto.unique_region();
    let names: Vec<String> = (0..releases).map(|i| format!("fleet-{i:02}")).collect();
    for name in &names {
        template_group(moto, region, name, GROUP_SIZE, OLD);
    }
    let tf = Terraform::new(moto, region, &fleet_config()).with_timeout(APPLY_TIMEOUT);
    tf.write_file(
        "terraform.tfvars.json",
        &serde_json::json!({ "groups": names, "image": NEW }).to_string(),
    );
    // No `terraform init`: dev_overrides need none (see support/terraform.rs).
    let mark = recorder.sync();
    let moto_before = process_cpu_secs(recorder.moto_pid);
    let children_before = children_cpu_secs();
    let plugin_before = recorder.plugin_cpu();
    let start = Instant::now();
    tf.run(&["apply", "-auto-approve", "-input=false"], &[])
        .assert_success();
    let wall = start.elapsed().as_secs_f64();
    let terraform_and_plugin = children_cpu_secs() - children_before;
    let moto_cpu = process_cpu_secs(recorder.moto_pid) - moto_before;
    let end = recorder.sync();
    let plugin_cpu: f64 = recorder
        .plugin_cpu()
        .iter()
        .map(|(pid, cpu)| cpu - plugin_before.get(pid).unwrap_or(&0.0))
        .sum();
    let t0 = recorder.since(start);
    let load = recorder.mean_load(t0..t0 + wall);
    let calls: Vec<(f64, RecordedCall)> = recorder
        .calls(mark..end)
        .into_iter()
        .filter(|(_, c)| c.region == region)
        .map(|(t, c)| (t - t0, c))
        .collect();

    for name in &names {
        assert_eq!(
            group_state(moto, region, name).count_on(NEW),
            GROUP_SIZE as usize,
            "{name} released"
        );
    }
    delete_groups(moto, region, &names);
    Case {
        what: what.to_string(),
        releases,
        wall,
        calls,
        moto_cpu,
        plugin_cpu,
        terraform_cpu: (terraform_and_plugin - plugin_cpu).max(0.0),
        load,
    }
}

/// The next case starts on an emulator without these 1,000 instances.
fn delete_groups(moto: &Moto, region: &str, names: &[String]) {
    let asg: aws_sdk_autoscaling::Client = moto.autoscaling(region);
    for name in names {
        let asg = asg.clone();
        let name = name.clone();
        moto.block_on(async move {
            asg.delete_auto_scaling_group()
                .auto_scaling_group_name(&name)
                .force_delete(true)
                .send()
                .await
                .unwrap_or_else(|e| panic!("delete group {name}: {e:?}"))
        });
    }
}

/// The most calls whose stamps fall within any one second.
fn peak_per_second(times: &[f64]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mut first = 0;
    let mut peak = 0;
    for last in 0..sorted.len() {
        while sorted[last] - sorted[first] >= 1.0 {
            first += 1;
        }
        peak = peak.max(last - first + 1);
    }
    peak
}

fn print_cases(cases: &[&Case]) {
    println!(
        "| case | apply | calls | calls per instance | Auto Scaling calls | Auto Scaling calls/s \
         (mean, peak in 1 s) | CPU: moto, plugin, terraform | load average |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for c in cases {
        let autoscaling = c.autoscaling();
        println!(
            "| {} | {:.1} s | {} | **{:.2}** | {} | {:.1}, {} | {:.0} s ({:.0}%), {:.1} s, {:.1} s | {:.1} |",
            c.what,
            c.wall,
            c.calls.len(),
            c.calls.len() as f64 / c.instances() as f64,
            autoscaling.len(),
            autoscaling.len() as f64 / c.wall,
            peak_per_second(&autoscaling),
            c.moto_cpu,
            100.0 * c.moto_cpu / c.wall,
            c.plugin_cpu,
            c.terraform_cpu,
            c.load,
        );
    }
}

/// Calls by action, per release, so the two cases compare line by line.
fn print_by_action(one: &Case, fleet: &Case) {
    let (a, b) = (one.by_action(), fleet.by_action());
    let mut actions: Vec<&String> = a.keys().chain(b.keys()).collect();
    actions.sort();
    actions.dedup();
    println!();
    println!(
        "| action | one release | {} releases | per release of {} |",
        fleet.releases, fleet.releases
    );
    println!("|---|---|---|---|");
    for action in actions {
        let (x, y) = (
            a.get(action).copied().unwrap_or(0),
            b.get(action).copied().unwrap_or(0),
        );
        println!(
            "| {action} | {x} | {y} | {:.2} |",
            y as f64 / fleet.releases as f64
        );
    }
}

/// moto's request recorder with a time for each call: a thread reads what moto appended to
/// the recording since its last look. On the same tick it samples the plugin processes' CPU
/// (a process's last tick may be missed), and the machine's load average once a second.
struct Recorder {
    moto_pid: u32,
    started: Instant,
    calls: Arc<Mutex<Vec<(f64, RecordedCall)>>>,
    plugin_cpu: Arc<Mutex<BTreeMap<u32, f64>>>,
    load: Arc<Mutex<Vec<(f64, f64)>>>,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Recorder {
    fn start(moto: &Moto) -> Recorder {
        let (moto_pid, path) = moto_process(moto);
        let started = Instant::now();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let plugin_cpu = Arc::new(Mutex::new(BTreeMap::new()));
        let load = Arc::new(Mutex::new(Vec::new()));
        let (sink, flag, plugins, loads) = (
            calls.clone(),
            done.clone(),
            plugin_cpu.clone(),
            load.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut file = std::fs::File::open(&path)
                .unwrap_or_else(|e| panic!("moto's recording {}: {e}", path.display()));
            let mut offset = file.seek(SeekFrom::End(0)).expect("seek the recording");
            let mut pending = Vec::new();
            let mut last_load = f64::NEG_INFINITY;
            while !flag.load(Ordering::SeqCst) {
                let mut fresh = Vec::new();
                file.seek(SeekFrom::Start(offset)).expect("seek");
                offset += file.read_to_end(&mut fresh).expect("read the recording") as u64;
                pending.extend_from_slice(&fresh);
                // Only whole lines: moto may be half way through writing the last one.
                if let Some(end) = pending.iter().rposition(|b| *b == b'\n') {
                    let lines: Vec<u8> = pending.drain(..=end).collect();
                    let at = started.elapsed().as_secs_f64();
                    let parsed = parse_recording(&String::from_utf8_lossy(&lines));
                    sink.lock()
                        .unwrap()
                        .extend(parsed.into_iter().map(|c| (at, c)));
                }
                plugins.lock().unwrap().extend(
                    plugin_processes()
                        .into_iter()
                        .map(|(pid, _, cpu)| (pid, cpu)),
                );
                let now = started.elapsed().as_secs_f64();
                if now - last_load >= 1.0 {
                    last_load = now;
                    if let Some(l) = load_average() {
                        loads.lock().unwrap().push((now, l));
                    }
                }
                std::thread::sleep(TAIL_EVERY);
            }
        });
        Recorder {
            moto_pid,
            started,
            calls,
            plugin_cpu,
            load,
            done,
            thread,
        }
    }

    /// The mean of the load averages sampled within `window` (seconds since the start).
    fn mean_load(&self, window: std::ops::Range<f64>) -> f64 {
        let loads = self.load.lock().unwrap();
        let inside: Vec<f64> = loads
            .iter()
            .filter(|(t, _)| window.contains(t))
            .map(|(_, l)| *l)
            .collect();
        inside.iter().sum::<f64>() / inside.len().max(1) as f64
    }

    /// CPU seconds of every plugin process seen so far, as last sampled.
    fn plugin_cpu(&self) -> BTreeMap<u32, f64> {
        self.plugin_cpu.lock().unwrap().clone()
    }

    /// How many calls are stamped once the recording's current end has been read.
    fn sync(&self) -> usize {
        std::thread::sleep(TAIL_EVERY * 4);
        self.calls.lock().unwrap().len()
    }

    fn since(&self, at: Instant) -> f64 {
        at.duration_since(self.started).as_secs_f64()
    }

    fn calls(&self, range: std::ops::Range<usize>) -> Vec<(f64, RecordedCall)> {
        self.calls.lock().unwrap()[range].to_vec()
    }

    fn stop(self) {
        self.done.store(true, Ordering::SeqCst);
        self.thread.join().expect("recorder thread");
    }
}

/// The pid of this bench's moto_server and the file its recorder appends to. The support
/// library keeps both private; the process's environment is what moto itself reads.
fn moto_process(moto: &Moto) -> (u32, PathBuf) {
    // Starts moto if it is not running yet.
    let _ = moto.endpoint();
    let me = std::process::id();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if parent != Some(me) {
            continue;
        }
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let recording = environ
            .split(|b| *b == 0)
            .find_map(|kv| kv.strip_prefix(b"MOTO_RECORDER_FILEPATH="));
        if let Some(path) = recording {
            return (pid, PathBuf::from(String::from_utf8_lossy(path).as_ref()));
        }
    }
    panic!("no moto_server child of this process with MOTO_RECORDER_FILEPATH")
}

/// utime + stime of a process, in seconds.
fn process_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 (1-based); `rest` starts at field 3.
    let t = |i: usize| {
        rest.get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (t(14) + t(15)) / CLOCK_TICKS
}

/// The 1-minute load average.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
