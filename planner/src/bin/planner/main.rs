//! `planner`: previews of immutable releases, for people and pull requests.
//!
//! - `planner preview PLAN_JSON`: what `terraform show -json tfplan` will bake and release, with
//!   every batch, from the plan alone (no AWS access).
//! - `planner schedule`: the batches a release would run against a live group (describe calls
//!   only) or a snapshot file; `planner snapshot` writes such a file.
//!
//! Exit codes follow `terraform plan -detailed-exitcode`: 0 nothing to do, 2 changes, 1 error
//! (one line on stderr). Read-only by construction: the only AWS code linked in is
//! `release_planner::aws::snapshot` (tests/read_only.rs checks the binary's symbols).

mod cli;
mod live;
mod preview;
mod render;
mod style;
mod tfplan;

use cli::{Command, Format, Output};
use std::io::{Read, Write};
use std::process::ExitCode;
use style::Style;

/// What a successful run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NoChanges,
    Changes,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(Outcome::NoChanges) => ExitCode::from(0),
        Ok(Outcome::Changes) => ExitCode::from(2),
        Err(message) => {
            // One line, whatever the cause said.
            let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("planner: error: {line}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<Outcome, String> {
    match cli::parse(args)? {
        Command::Help => {
            print(cli::USAGE)?;
            Ok(Outcome::NoChanges)
        }
        Command::Version => {
            print(&format!("planner {}\n", env!("CARGO_PKG_VERSION")))?;
            Ok(Outcome::NoChanges)
        }
        Command::Preview { plan, output } => preview(&plan, &output),
        Command::Schedule { args, output } => {
            let snapshot = live::load_snapshot(&args.source)?;
            let settings = live::settings(&args);
            let schedule = live::schedule(&snapshot, &settings)?;
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
            Ok(if schedule.is_empty() {
                Outcome::NoChanges
            } else {
                Outcome::Changes
            })
        }
        Command::Snapshot { group, output, aws } => {
            let snapshot = live::fetch(&group, &aws)?;
            let json = serde_json::to_string_pretty(&snapshot).map_err(|e| e.to_string())? + "\n";
            match output {
                Some(path) => std::fs::write(&path, json)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
                None => print(&json)?,
            }
            Ok(Outcome::NoChanges)
        }
    }
}

fn preview(source: &str, output: &Output) -> Result<Outcome, String> {
    let text = read_plan(source)?;
    let plan = tfplan::parse(&text)?;
    if plan.errored {
        return Err("the plan is marked errored: Terraform could not finish planning; fix the errors and plan again".into());
    }
    let doc = preview::build(&plan)?;
    let rendered = match output.format {
        Format::Text => render::text(&doc, Style::for_output(output)),
        Format::Markdown => render::markdown(&doc),
        Format::Json => serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n",
    };
    print(&rendered)?;
    Ok(if doc.summary.changes {
        Outcome::Changes
    } else {
        Outcome::NoChanges
    })
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
