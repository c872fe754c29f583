//! Colour for terminals: only for the text format, only when stdout is a terminal (or
//! `--color always`), never when `NO_COLOR` is set to anything (https://no-color.org) or the
//! terminal is `dumb`.

use crate::cli::{ColorChoice, Format, Output};
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub enabled: bool,
}

impl Style {
    pub fn for_output(output: &Output) -> Style {
        let env_allows = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let enabled = output.format == Format::Text
            && match output.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => env_allows && std::io::stdout().is_terminal(),
            };
        Style { enabled }
    }

    fn paint(self, code: &str, s: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    pub fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn green(self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn red(self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }

    /// The colours of Terraform's own plan output: create green, update yellow, destroy red.
    pub fn action(self, action: crate::tfplan::Action, s: &str) -> String {
        use crate::tfplan::Action::*;
        match action {
            Create => self.green(s),
            Update | Read => self.yellow(s),
            Replace | Delete | Forget => self.red(s),
            NoOp => self.dim(s),
        }
    }

    /// Colours the library's text preview: warnings yellow, batch lines bold.
    pub fn library_text(self, text: &str) -> String {
        if !self.enabled {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + 256);
        for line in text.lines() {
            if line.starts_with("  ! ") || line == "Warnings:" {
                out.push_str(&self.yellow(line));
            } else if line.starts_with("Release of ") {
                out.push_str(&self.bold(line));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        out
    }
}
