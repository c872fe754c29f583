//! `planner`: previews of immutable releases, for people and pull requests.
//!
//! - `planner preview PLAN_JSON`: what `terraform show -json tfplan` will bake and release, with
//!   every batch, from the plan alone (no AWS access).
//! - `planner schedule`: the batches a release would run against a live group (describe calls
//!   only) or a snapshot file; `planner snapshot` writes such a file.
//!
//! Exit codes follow `terraform plan`: 0 success, 1 error (one line on stderr); with
//! `--detailed-exitcode`, 0 nothing to do, 2 changes, 1 error. Read-only by construction: the
//! only AWS code linked in is `release_planner::aws::snapshot` (tests/read_only.rs checks the
//! binary's symbols).

mod cli;
mod comment;
mod live;
mod preview;
mod render;
mod style;
mod tfplan;

use clap::CommandFactory;
use cli::{Cli, Command, CommentArgs, ExitArgs, Format, Output};
use std::io::{Read, Write};
use std::process::ExitCode;
use style::Style;

/// What a successful run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NoChanges,
    Changes,
}

/// A successful run's outcome and whether it should show in the exit code.
struct Done {
    outcome: Outcome,
    detailed: bool,
}

impl Done {
    fn plain() -> Done {
        Done {
            outcome: Outcome::NoChanges,
            detailed: false,
        }
    }

    fn of(changes: bool, exit: &ExitArgs) -> Done {
        Done {
            outcome: if changes {
                Outcome::Changes
            } else {
                Outcome::NoChanges
            },
            detailed: exit.detailed_exitcode,
        }
    }
}

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli) => cli,
        // --help, --version: clap's text on stdout, exit 0.
        Err(e) if e.exit_code() == 0 => {
            let _ = print(&e.render().to_string());
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&cli::one_line(&e)),
    };
    match run(cli.command) {
        Ok(Done {
            outcome: Outcome::Changes,
            detailed: true,
        }) => ExitCode::from(2),
        Ok(_) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// One line on stderr, whatever the cause said, and exit 1.
fn fail(message: &str) -> ExitCode {
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("planner: error: {line}");
    ExitCode::from(1)
}

fn run(command: Command) -> Result<Done, String> {
    match command {
        Command::Preview(args) => {
            preview(&args.plan, &args.output.output(), &args.comment, &args.exit)
        }
        Command::Schedule(args) => {
            let snapshot = live::load_snapshot(&args.source())?;
            let settings = live::settings(&args, &snapshot);
            let schedule = live::schedule(&snapshot, &settings)?;
            let output = args.output.output();
            let style = Style::for_output(&output);
            let text = match output.format {
                Format::Text => {
                    style.library_text(&release_planner::render_text(&snapshot, &schedule))
                }
                Format::Markdown => release_planner::render_markdown(&snapshot, &schedule),
                Format::Json => {
                    release_planner::render_json(&snapshot, &settings, &schedule) + "\n"
                }
            };
            print(&text)?;
            Ok(Done::of(!schedule.is_empty(), &args.exit))
        }
        Command::Snapshot(args) => {
            let snapshot = live::fetch(&args.group, &args.aws)?;
            let json = serde_json::to_string_pretty(&snapshot).map_err(|e| e.to_string())? + "\n";
            match args.output {
                Some(path) => std::fs::write(&path, json)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
                None => print(&json)?,
            }
            Ok(Done::plain())
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "planner", &mut script);
            print(&String::from_utf8_lossy(&script))?;
            Ok(Done::plain())
        }
    }
}

fn preview(
    source: &str,
    output: &Output,
    comments: &CommentArgs,
    exit: &ExitArgs,
) -> Result<Done, String> {
    if comments.split.is_some() && output.format != Format::Markdown {
        return Err("--split writes Markdown comments: use it with --format markdown".into());
    }
    let text = read_plan(source)?;
    let plan = tfplan::parse(&text)?;
    if plan.errored {
        return Err("the plan is marked errored: Terraform could not finish planning; fix the errors and plan again".into());
    }
    let doc = preview::build(&plan)?;
    let rendered = match output.format {
        Format::Text => render::text(&doc, Style::for_output(output)),
        Format::Markdown => {
            let opts = comment::Options {
                limit: comments.comment_limit,
                details_url: comments.details_url.clone(),
            };
            match &comments.split {
                Some(dir) => write_split(dir, &comment::split(&doc, &opts))?,
                None => comment::comment(&doc, &opts),
            }
        }
        Format::Json => serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n",
    };
    print(&rendered)?;
    Ok(Done::of(doc.summary.changes, exit))
}

/// Writes `DIR/1.md`, `DIR/2.md`, ...; returns their paths, one a line, for stdout.
fn write_split(dir: &std::path::Path, pages: &[String]) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut listing = String::new();
    for (n, page) in pages.iter().enumerate() {
        let path = dir.join(format!("{}.md", n + 1));
        std::fs::write(&path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        listing.push_str(&format!("{}\n", path.display()));
    }
    Ok(listing)
}

/// The whole plan in memory, read once: a file, or stdin for `-`.
fn read_plan(source: &str) -> Result<String, String> {
    let bytes = if source == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read the plan from stdin: {e}"))?;
        buf
    } else {
        std::fs::read(source).map_err(|e| format!("cannot read plan {source}: {e}"))?
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "the plan {} is empty: produce it with `terraform show -json tfplan`",
            if source == "-" { "on stdin" } else { source }
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("the plan is not UTF-8 text ({e}): expected the output of `terraform show -json tfplan`"))
}

/// Writes to stdout; a closed pipe (`planner … | head`) is not an error worth a message.
fn print(s: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the output: {e}"))
        }
        _ => Ok(()),
    }
}
