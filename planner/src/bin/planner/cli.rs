//! Command-line arguments, parsed by clap: one `--help` per command, short flags, suggestions
//! for a mistyped flag or command, and shell completions (`planner completions bash`). Values are
//! parsed into the library's types here (batch sizes, strategies, durations in the provider's
//! grammar), so a bad value is refused with the flag's name before anything runs.

use clap::{Args, Parser, Subcommand, ValueEnum};
use release_planner::{duration, BatchSize, ProtectedInstances, StandbyInstances, Strategy};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes (as `terraform plan`): 0 success, 1 error. With --detailed-exitcode (preview and
schedule): 0 nothing to do, 1 error, 2 changes to bake or release.";

const SCHEDULE_NOTES: &str = "\
Durations are the provider's (Go's time.ParseDuration): 90s, 2m, 1h30m, 1.5h. A bare number such
as 90 has no unit and is refused, as in the provider's arguments.

Exit codes (as `terraform plan`): 0 success, 1 error. With --detailed-exitcode: 0 nothing to do,
1 error, 2 batches to run.";

/// Preview what a Terraform plan bakes and releases; what-if a release against a group.
#[derive(Debug, Parser)]
#[command(name = "planner", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Preview a plan: what `terraform show -json tfplan` bakes and releases (no AWS access).
    #[command(after_help = EXIT_CODES)]
    Preview(PreviewArgs),
    /// The batches a release of a group onto an image would run, from the live group
    /// (read-only Describe calls) or a snapshot file (no AWS access).
    #[command(after_help = SCHEDULE_NOTES)]
    Schedule(Box<ScheduleArgs>),
    /// Write a group's snapshot (JSON) for `schedule --snapshot`.
    Snapshot(SnapshotArgs),
    /// Print a completion script for a shell, e.g. `planner completions bash > /etc/bash_completion.d/planner`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The output of `terraform show -json tfplan`, or - for stdin.
    #[arg(value_name = "PLAN_JSON")]
    pub plan: String,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub comment: CommentArgs,
    #[command(flatten)]
    pub exit: ExitArgs,
}

/// How `--format markdown` fits pull-request comments.
#[derive(Debug, Args)]
#[command(next_help_heading = "Pull-request comments (--format markdown)")]
pub struct CommentArgs {
    /// The most characters one comment may have. The default leaves a workflow room for its
    /// marker within GitHub's 65,536; detail that does not fit is summarised per release.
    #[arg(long, value_name = "N", default_value_t = crate::comment::DEFAULT_LIMIT,
          value_parser = parse_limit)]
    pub comment_limit: usize,
    /// Where reviewers find the JSON preview (e.g. the workflow run that keeps it as an
    /// artifact): linked from the comment when detail is left out.
    #[arg(long, value_name = "URL")]
    pub details_url: Option<String>,
    /// Write numbered comments DIR/1.md, DIR/2.md, ... with every release's detail, instead of
    /// one comment on stdout; prints the files' paths.
    #[arg(long, value_name = "DIR")]
    pub split: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["group", "snapshot"])))]
pub struct ScheduleArgs {
    /// The Auto Scaling group to read (describe calls only).
    #[arg(short, long, value_name = "NAME")]
    pub group: Option<String>,
    /// A snapshot file from `planner snapshot` instead of a live group.
    #[arg(short, long, value_name = "FILE", conflicts_with_all = ["region", "profile", "endpoint"])]
    pub snapshot: Option<PathBuf>,
    /// The image to release.
    #[arg(short, long, value_name = "AMI")]
    pub image: String,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub exit: ExitArgs,
}

/// Release settings; defaults are those of the `rolling_asg_release` resource. Durations are in
/// the provider's grammar (Go's): 90s, 2m, 1h30m; a bare number such as 90 has no unit and is
/// refused.
#[derive(Debug, Args)]
#[command(next_help_heading = "Release settings (defaults as rolling_asg_release)")]
pub struct SettingsArgs {
    /// Instances per batch, or a percentage of desired capacity [default: 25%].
    #[arg(short, long, value_name = "N|P%", value_parser = parse_batch_size)]
    pub batch_size: Option<BatchSize>,
    /// surge: launch first; replace: terminate first [default: surge].
    #[arg(long, value_name = "surge|replace", value_parser = parse_strategy)]
    pub strategy: Option<Strategy>,
    /// replace: share of desired capacity kept healthy [default: the group's instance maintenance policy, else 90].
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub min_healthy_percentage: Option<u32>,
    /// Instance warm-up, e.g. 60s, 2m [default: the group's DefaultInstanceWarmup, else 60s].
    #[arg(short, long, value_name = "DURATION", value_parser = parse_secs)]
    pub warmup: Option<u64>,
    /// Pause between batches, e.g. 5m [default: 0s].
    #[arg(short, long, value_name = "DURATION", value_parser = parse_secs)]
    pub pause: Option<u64>,
    /// Stop after P% of the group; repeat or comma-separate [default: none].
    #[arg(short, long, value_name = "P", value_delimiter = ',', value_parser = parse_checkpoint)]
    pub checkpoint: Vec<u32>,
    /// Launch-to-in-service estimate, for the duration only [default: 120s].
    #[arg(short, long, value_name = "DURATION", value_parser = parse_secs)]
    pub launch_estimate: Option<u64>,
    /// Old instances protected from scale in [default: wait].
    #[arg(long, value_name = "wait|replace|ignore", value_parser = parse_protected)]
    pub scale_in_protected_instances: Option<ProtectedInstances>,
    /// Old instances in Standby [default: wait].
    #[arg(long, value_name = "wait|replace|ignore", value_parser = parse_standby)]
    pub standby_instances: Option<StandbyInstances>,
}

/// AWS options; otherwise the standard chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "AWS options")]
pub struct AwsArgs {
    /// The region, instead of AWS_REGION or the profile's.
    #[arg(short, long, value_name = "REGION")]
    pub region: Option<String>,
    /// A named profile, instead of AWS_PROFILE.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// An endpoint URL, e.g. http://localhost:5000 (a local emulator).
    #[arg(long, value_name = "URL", value_parser = parse_endpoint)]
    pub endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The Auto Scaling group to read (describe calls only).
    #[arg(short, long, value_name = "NAME")]
    pub group: String,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    #[value(alias = "md")]
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// text for terminals, markdown for pull-request comments, json for programs.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Colour in the text format.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// The same as --color never (as does the NO_COLOR environment variable).
    #[arg(long)]
    no_color: bool,
}

impl OutputArgs {
    pub fn output(&self) -> Output {
        Output {
            format: self.format,
            color: if self.no_color {
                ColorChoice::Never
            } else {
                self.color
            },
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ExitArgs {
    /// Exit 2 when there are changes, 0 when there are none, 1 on error (as
    /// `terraform plan -detailed-exitcode`). Without it, success is 0 either way.
    #[arg(long, visible_alias = "detailed-exit-code")]
    pub detailed_exitcode: bool,
}

/// What the renderers need to know of the output flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub format: Format,
    pub color: ColorChoice,
}

/// Where a schedule's group comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Group { name: String, aws: AwsArgs },
    SnapshotFile(PathBuf),
}

impl ScheduleArgs {
    pub fn source(&self) -> Source {
        match (&self.snapshot, &self.group) {
            (Some(file), _) => Source::SnapshotFile(file.clone()),
            (None, Some(name)) => Source::Group {
                name: name.clone(),
                aws: self.aws.clone(),
            },
            // The argument group requires one of them.
            (None, None) => unreachable!("clap requires --group or --snapshot"),
        }
    }
}

/// Parses the arguments (without the program name). Help and version are `Err` with exit 0
/// (clap's `exit_code()`), as is every usage error with its message.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(std::iter::once("planner".into()).chain(args.into_iter().map(Into::into)))
}

/// A usage error on one line: clap's message and its tip, without the usage block.
pub fn one_line(e: &clap::Error) -> String {
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "no command: use preview, schedule, snapshot or completions (`planner --help`)"
            .into();
    }
    let rendered = e.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") {
            break;
        }
        if !line.is_empty() {
            parts.push(line.strip_prefix("error: ").unwrap_or(line).to_owned());
        }
    }
    parts.push("(`planner --help`)".into());
    parts.join(" ")
}

fn parse_limit(v: &str) -> Result<usize, String> {
    use crate::comment::{GITHUB_LIMIT, MIN_LIMIT};
    match v.parse::<usize>() {
        Ok(n) if (MIN_LIMIT..=GITHUB_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "{v:?} is not a size from {MIN_LIMIT} to {GITHUB_LIMIT}"
        )),
    }
}

fn parse_batch_size(v: &str) -> Result<BatchSize, String> {
    v.parse::<BatchSize>().map_err(|e| e.to_string())
}

fn parse_strategy(v: &str) -> Result<Strategy, String> {
    v.parse::<Strategy>().map_err(|e| e.to_string())
}

fn parse_protected(v: &str) -> Result<ProtectedInstances, String> {
    v.parse::<ProtectedInstances>().map_err(|e| e.to_string())
}

fn parse_standby(v: &str) -> Result<StandbyInstances, String> {
    v.parse::<StandbyInstances>().map_err(|e| e.to_string())
}

/// Whole seconds of a duration in the provider's grammar (a fraction of a second is dropped, as
/// the provider does).
pub fn parse_secs(v: &str) -> Result<u64, String> {
    duration::parse(v)
        .map(|d| d.as_secs())
        .map_err(|e| e.to_string())
}

fn parse_checkpoint(v: &str) -> Result<u32, String> {
    let t = v.trim().trim_end_matches('%');
    match t.parse::<u32>() {
        Ok(p) if (1..=100).contains(&p) => Ok(p),
        _ => Err(format!("{v:?} is not a percentage from 1 to 100")),
    }
}

fn parse_endpoint(v: &str) -> Result<String, String> {
    if v.starts_with("http://") || v.starts_with("https://") {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "{v:?} is not a URL: use e.g. http://localhost:5000"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn p(args: &[&str]) -> Result<Cli, String> {
        parse(args).map_err(|e| one_line(&e))
    }

    #[test]
    fn the_command_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn preview_args() {
        let Ok(Cli {
            command: Command::Preview(a),
        }) = p(&["preview", "plan.json", "--format=markdown"])
        else {
            panic!()
        };
        assert_eq!(a.plan, "plan.json");
        assert_eq!(a.output.output().format, Format::Markdown);
        assert!(!a.exit.detailed_exitcode);
        let Ok(Cli {
            command: Command::Preview(a),
        }) = p(&[
            "preview",
            "-",
            "-f",
            "json",
            "--no-color",
            "--detailed-exitcode",
        ])
        else {
            panic!()
        };
        assert_eq!(
            a.output.output(),
            Output {
                format: Format::Json,
                color: ColorChoice::Never
            }
        );
        assert!(a.exit.detailed_exitcode);
        assert!(p(&["preview"]).unwrap_err().contains("<PLAN_JSON>"));
        assert!(p(&["preview", "a", "b"])
            .unwrap_err()
            .contains("unexpected argument 'b'"));
        assert!(p(&["preview", "a", "--format", "html"])
            .unwrap_err()
            .contains("[possible values: text, markdown, json]"));
        let e = p(&["preview", "a", "--frmat", "json"]).unwrap_err();
        assert!(e.contains("similar argument exists: '--format'"), "{e}");
        let e = p(&["previwe", "a"]).unwrap_err();
        assert!(e.contains("similar subcommand exists: 'preview'"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn help_and_version_are_not_errors() {
        for args in [
            &["--help"][..],
            &["preview", "--help"],
            &["schedule", "-h"],
            &["help", "snapshot"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(e.exit_code(), 0);
        }
        let e = parse(["--version"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayVersion);
        let help = parse(["schedule", "--help"])
            .unwrap_err()
            .render()
            .to_string();
        for needle in [
            "--batch-size",
            "--pause <DURATION>",
            "90s, 2m, 1h30m",
            "Exit codes",
        ] {
            assert!(help.contains(needle), "{needle:?} in {help}");
        }
    }

    #[test]
    fn schedule_args() {
        let Ok(Cli {
            command: Command::Schedule(args),
        }) = p(&[
            "schedule",
            "-g",
            "web",
            "--image",
            "ami-1",
            "-b",
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
        ])
        else {
            panic!()
        };
        assert_eq!(
            args.source(),
            Source::Group {
                name: "web".into(),
                aws: AwsArgs {
                    region: Some("eu-west-1".into()),
                    ..Default::default()
                }
            }
        );
        assert_eq!(args.settings.batch_size, Some(BatchSize::Percent(30)));
        assert_eq!(args.settings.strategy, Some(Strategy::Replace));
        assert_eq!(args.settings.checkpoint, vec![10, 50, 75]);
        assert_eq!(args.settings.warmup, Some(120));
        assert!(p(&["schedule", "--image", "ami-1"])
            .unwrap_err()
            .contains("--group <NAME>"));
        assert!(p(&["schedule", "--group", "g"])
            .unwrap_err()
            .contains("--image <AMI>"));
        let e = p(&["schedule", "-g", "g", "-i", "a", "--batch-size", "0"]).unwrap_err();
        assert!(
            e.contains("'--batch-size <N|P%>'") && e.contains("batch size 0"),
            "{e}"
        );
        assert!(p(&["schedule", "-s", "s.json", "-i", "a", "--region", "x"])
            .unwrap_err()
            .contains("cannot be used with"));
        assert!(p(&["schedule", "-g", "g", "-i", "a", "-i", "b"])
            .unwrap_err()
            .contains("cannot be used multiple times"));
        assert!(
            p(&["schedule", "-g", "g", "-i", "a", "--endpoint", "localhost"])
                .unwrap_err()
                .contains("is not a URL")
        );
    }

    #[test]
    fn durations_are_the_providers() {
        assert_eq!(parse_secs("90s"), Ok(90));
        assert_eq!(parse_secs("1h30m"), Ok(5400));
        assert_eq!(parse_secs("1.5m"), Ok(90));
        assert_eq!(parse_secs("0"), Ok(0));
        // A bare number has no unit: refused, as by the provider.
        assert!(parse_secs("90").unwrap_err().contains("without a unit"));
        assert!(parse_secs("5 minutes").is_err());
        assert!(parse_secs("-1s").unwrap_err().contains("negative"));
        assert!(parse_secs("9999999999h").unwrap_err().contains("too long"));
        let e = p(&["schedule", "-g", "g", "-i", "a", "--pause", "90"]).unwrap_err();
        assert!(
            e.contains("--pause <DURATION>") && e.contains("without a unit"),
            "{e}"
        );
    }
}
