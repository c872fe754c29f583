//! Command-line arguments, parsed by hand: `--flag value` and `--flag=value`, one positional
//! argument for `preview`. Every error is one line that says what to write instead.

use release_planner::{BatchSize, Strategy};
use std::path::PathBuf;

pub const USAGE: &str = "\
planner: preview what a Terraform plan bakes and releases; what-if a release against a group

Usage:
  planner preview PLAN_JSON [--format text|markdown|json] [--color auto|always|never]
      PLAN_JSON is the output of `terraform show -json tfplan`, or - for stdin. No AWS access.
  planner schedule --group NAME --image AMI [release settings] [AWS options] [--format ...]
  planner schedule --snapshot FILE --image AMI [release settings] [--format ...]
      The batches a release of the group onto AMI would run, from the live group (read-only
      Describe calls) or from a snapshot file (no AWS access).
  planner snapshot --group NAME [--output FILE] [AWS options]
      Writes the group's snapshot (JSON) for `schedule --snapshot`.

Release settings (defaults as the rolling_asg_release resource):
  --batch-size N|P%            instances per batch, or a percentage of desired capacity (25%)
  --strategy surge|replace     launch first, or terminate first (surge)
  --min-healthy-percentage P   replace: share of desired kept healthy (90)
  --warmup DURATION            instance warm-up, e.g. 60s, 2m (60s)
  --pause DURATION             pause between batches (0s)
  --checkpoint P               stop after P% of the group; repeat or comma-separate (none)
  --launch-estimate DURATION   launch-to-in-service estimate, for the duration only (120s)
AWS options (otherwise the standard chain: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...):
  --region REGION  --profile NAME  --endpoint URL

Exit codes (as `terraform plan -detailed-exitcode`): 0 nothing to do, 2 changes, 1 error.
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub format: Format,
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsArgs {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Group { name: String, aws: AwsArgs },
    SnapshotFile(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleArgs {
    pub source: Source,
    pub image: String,
    pub batch_size: Option<BatchSize>,
    pub strategy: Option<Strategy>,
    pub min_healthy_percentage: Option<u32>,
    pub warmup_secs: Option<u64>,
    pub pause_secs: Option<u64>,
    pub checkpoints: Vec<u32>,
    pub launch_estimate_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Preview {
        plan: String,
        output: Output,
    },
    Schedule {
        args: Box<ScheduleArgs>,
        output: Output,
    },
    Snapshot {
        group: String,
        output: Option<PathBuf>,
        aws: AwsArgs,
    },
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Err("no command: use `planner preview PLAN_JSON`, `planner schedule` or `planner snapshot` (`planner --help` for details)".into());
    };
    match command.as_str() {
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "-V" | "--version" | "version" => return Ok(Command::Version),
        _ => {}
    }
    let mut flags = Flags::parse(command, rest)?;
    if flags.take_switch("help") {
        return Ok(Command::Help);
    }
    let cmd = match command.as_str() {
        "preview" => {
            let plan = match flags.positional.len() {
                0 => return Err("preview needs the plan: `planner preview plan.json` (from `terraform show -json tfplan`), or `-` for stdin".into()),
                1 => flags.positional.remove(0),
                _ => return Err(format!("preview takes one plan file, got {}: {}", flags.positional.len(), flags.positional.join(" "))),
            };
            Command::Preview {
                plan,
                output: output(&mut flags)?,
            }
        }
        "schedule" => {
            flags.no_positional()?;
            let image = flags
                .take("image")?
                .ok_or("schedule needs --image AMI: the image to release")?;
            let snapshot = flags.take("snapshot")?;
            let group = flags.take("group")?;
            let source = match (group, snapshot) {
                (_, Some(file)) => Source::SnapshotFile(file.into()),
                (Some(name), None) => Source::Group { name, aws: aws(&mut flags)? },
                (None, None) => return Err("schedule needs --group NAME (a live group, read-only) or --snapshot FILE (from `planner snapshot`)".into()),
            };
            let args = ScheduleArgs {
                source,
                image,
                batch_size: flags
                    .take("batch-size")?
                    .map(|v| {
                        v.parse::<BatchSize>()
                            .map_err(|e| format!("--batch-size: {e}"))
                    })
                    .transpose()?,
                strategy: flags
                    .take("strategy")?
                    .map(|v| {
                        v.parse::<Strategy>()
                            .map_err(|e| format!("--strategy: {e}"))
                    })
                    .transpose()?,
                min_healthy_percentage: flags
                    .take("min-healthy-percentage")?
                    .map(|v| percentage("--min-healthy-percentage", &v, 0))
                    .transpose()?,
                warmup_secs: flags
                    .take("warmup")?
                    .map(|v| duration_secs("--warmup", &v))
                    .transpose()?,
                pause_secs: flags
                    .take("pause")?
                    .map(|v| duration_secs("--pause", &v))
                    .transpose()?,
                checkpoints: flags
                    .take_all("checkpoint")
                    .iter()
                    .flat_map(|v| v.split(','))
                    .map(|v| percentage("--checkpoint", v, 1))
                    .collect::<Result<_, _>>()?,
                launch_estimate_secs: flags
                    .take("launch-estimate")?
                    .map(|v| duration_secs("--launch-estimate", &v))
                    .transpose()?,
            };
            // AWS options next to a snapshot file are ignored; say so rather than surprise.
            if matches!(args.source, Source::SnapshotFile(_)) {
                for f in ["group", "region", "profile", "endpoint"] {
                    if flags.take(f)?.is_some() {
                        return Err(format!(
                            "--{f} has no use with --snapshot (the snapshot file is the group)"
                        ));
                    }
                }
            }
            Command::Schedule {
                args: Box::new(args),
                output: output(&mut flags)?,
            }
        }
        "snapshot" => {
            flags.no_positional()?;
            let group = flags.take("group")?.ok_or("snapshot needs --group NAME")?;
            let output = flags.take("output")?.map(PathBuf::from);
            Command::Snapshot {
                group,
                output,
                aws: aws(&mut flags)?,
            }
        }
        other => {
            return Err(format!(
                "unknown command {other:?}: use preview, schedule or snapshot (`planner --help`)"
            ))
        }
    };
    flags.finish(command)?;
    Ok(cmd)
}

fn output(flags: &mut Flags) -> Result<Output, String> {
    let format = match flags.take("format")?.as_deref() {
        None | Some("text") => Format::Text,
        Some("markdown") | Some("md") => Format::Markdown,
        Some("json") => Format::Json,
        Some(other) => {
            return Err(format!(
                "--format {other:?} is not known: use text, markdown or json"
            ))
        }
    };
    let color = match flags.take("color")?.as_deref() {
        None | Some("auto") => ColorChoice::Auto,
        Some("always") => ColorChoice::Always,
        Some("never") => ColorChoice::Never,
        Some(other) => {
            return Err(format!(
                "--color {other:?} is not known: use auto, always or never"
            ))
        }
    };
    let color = if flags.take_switch("no-color") {
        ColorChoice::Never
    } else {
        color
    };
    Ok(Output { format, color })
}

fn aws(flags: &mut Flags) -> Result<AwsArgs, String> {
    let endpoint = flags.take("endpoint")?;
    if let Some(e) = &endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return Err(format!(
                "--endpoint {e:?} is not a URL: use e.g. http://localhost:5000"
            ));
        }
    }
    Ok(AwsArgs {
        region: flags.take("region")?,
        profile: flags.take("profile")?,
        endpoint,
    })
}

fn percentage(flag: &str, v: &str, min: u32) -> Result<u32, String> {
    let v = v.trim().trim_end_matches('%');
    match v.parse::<u32>() {
        Ok(p) if (min..=100).contains(&p) => Ok(p),
        _ => Err(format!(
            "{flag} {v:?} is not a percentage from {min} to 100"
        )),
    }
}

/// `90`, `90s`, `2m`, `1h30m`, `1h 30m 5s`.
pub fn duration_secs(flag: &str, v: &str) -> Result<u64, String> {
    let bad =
        || format!("{flag} {v:?} is not a duration: use seconds or units, e.g. 90, 90s, 2m, 1h30m");
    let s: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Flags of one command: `--name value` or `--name=value`, and positional arguments. A lone
/// `-` is positional (stdin); everything after `--` is positional.
struct Flags {
    values: Vec<(String, Option<String>)>,
    positional: Vec<String>,
}

/// Flags that take no value.
const SWITCHES: [&str; 2] = ["help", "no-color"];

impl Flags {
    fn parse(command: &str, args: &[String]) -> Result<Flags, String> {
        let mut values = Vec::new();
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                positional.extend(it.by_ref().cloned());
                break;
            }
            if arg == "-h" {
                values.push(("help".to_owned(), None));
                continue;
            }
            let Some(flag) = arg.strip_prefix("--") else {
                if arg.starts_with('-') && arg != "-" {
                    return Err(format!(
                        "{command}: unknown option {arg:?} (options are --long; `planner --help`)"
                    ));
                }
                positional.push(arg.clone());
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None if SWITCHES.contains(&flag) => (flag.to_owned(), None),
                None => {
                    let v = it
                        .next()
                        .ok_or_else(|| format!("{command}: --{flag} needs a value"))?;
                    (flag.to_owned(), Some(v.clone()))
                }
            };
            values.push((name, value));
        }
        Ok(Flags { values, positional })
    }

    /// The value of a flag given at most once.
    fn take(&mut self, name: &str) -> Result<Option<String>, String> {
        let mut all = self.take_all(name);
        match all.len() {
            0 => Ok(None),
            1 => Ok(all.pop()),
            _ => Err(format!(
                "--{name} is given {} times; give it once",
                all.len()
            )),
        }
    }

    fn take_all(&mut self, name: &str) -> Vec<String> {
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.values)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.values = kept;
        taken.into_iter().filter_map(|(_, v)| v).collect()
    }

    fn take_switch(&mut self, name: &str) -> bool {
        let before = self.values.len();
        self.values.retain(|(n, _)| n != name);
        self.values.len() != before
    }

    fn no_positional(&self) -> Result<(), String> {
        match self.positional.first() {
            Some(p) => Err(format!("unexpected argument {p:?}")),
            None => Ok(()),
        }
    }

    fn finish(self, command: &str) -> Result<(), String> {
        match self.values.first() {
            Some((name, _)) => Err(format!(
                "{command}: unknown option --{name} (`planner --help` lists them)"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn preview_args() {
        assert_eq!(
            p(&["preview", "plan.json", "--format=markdown"]),
            Ok(Command::Preview {
                plan: "plan.json".into(),
                output: Output {
                    format: Format::Markdown,
                    color: ColorChoice::Auto
                }
            })
        );
        assert_eq!(
            p(&["preview", "-", "--format", "json", "--no-color"]),
            Ok(Command::Preview {
                plan: "-".into(),
                output: Output {
                    format: Format::Json,
                    color: ColorChoice::Never
                }
            })
        );
        assert!(p(&["preview"]).unwrap_err().contains("needs the plan"));
        assert!(p(&["preview", "a", "b"])
            .unwrap_err()
            .contains("one plan file"));
        assert!(p(&["preview", "a", "--format", "html"])
            .unwrap_err()
            .contains("text, markdown or json"));
        assert!(p(&["preview", "a", "--frmat", "json"])
            .unwrap_err()
            .contains("unknown option --frmat"));
        assert!(p(&["preview", "a", "-x"])
            .unwrap_err()
            .contains("unknown option \"-x\""));
        assert_eq!(p(&["preview", "--help"]), Ok(Command::Help));
    }

    #[test]
    fn schedule_args() {
        let Ok(Command::Schedule { args, .. }) = p(&[
            "schedule",
            "--group",
            "web",
            "--image",
            "ami-1",
            "--batch-size",
            "30%",
            "--strategy",
            "replace",
            "--checkpoint",
            "10,50",
            "--checkpoint=75",
            "--warmup",
            "2m",
            "--region",
            "eu-west-1",
        ]) else {
            panic!()
        };
        assert_eq!(
            args.source,
            Source::Group {
                name: "web".into(),
                aws: AwsArgs {
                    region: Some("eu-west-1".into()),
                    ..Default::default()
                }
            }
        );
        assert_eq!(args.batch_size, Some(BatchSize::Percent(30)));
        assert_eq!(args.strategy, Some(Strategy::Replace));
        assert_eq!(args.checkpoints, vec![10, 50, 75]);
        assert_eq!(args.warmup_secs, Some(120));
        assert!(p(&["schedule", "--image", "ami-1"])
            .unwrap_err()
            .contains("--group NAME"));
        assert!(p(&["schedule", "--group", "g"])
            .unwrap_err()
            .contains("--image"));
        assert!(p(&[
            "schedule",
            "--group",
            "g",
            "--image",
            "a",
            "--batch-size",
            "0"
        ])
        .unwrap_err()
        .starts_with("--batch-size: batch size 0"));
        assert!(p(&[
            "schedule",
            "--snapshot",
            "s.json",
            "--image",
            "a",
            "--region",
            "x"
        ])
        .unwrap_err()
        .contains("no use with --snapshot"));
        assert!(
            p(&["schedule", "--group", "g", "--image", "a", "--image", "b"])
                .unwrap_err()
                .contains("2 times")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration_secs("f", "90"), Ok(90));
        assert_eq!(duration_secs("f", "1h30m"), Ok(5400));
        assert_eq!(duration_secs("f", "2m 5s"), Ok(125));
        assert!(duration_secs("f", "5 minutes").is_err());
        assert!(duration_secs("f", "m").is_err());
        assert!(duration_secs("f", "5x").is_err());
    }
}
