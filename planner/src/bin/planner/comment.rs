//! The Markdown preview as pull-request comments that GitHub accepts for any plan.
//!
//! GitHub refuses a comment over 65,536 characters. A comment is laid out so that what matters
//! most survives any size: the plan's summary, then one table naming every image and one naming
//! every release with its instance and batch counts, then each release's full detail (folded) as
//! long as it fits; a release whose detail does not fit is summarised in one line pointing at the
//! JSON preview, which has everything. Detail is only ever added or left out whole, so every
//! fold, code fence and table is closed. With [`split`], the detail goes on in numbered further
//! comments instead of being summarised.
//!
//! Sizes are counted in bytes, which is never less than GitHub's count of characters.

use crate::preview::{PlanPreview, ReleaseChange};
use crate::render::{
    image_fingerprints, image_reasons, image_row, release_detail, release_line, release_row,
    summary_md, HEADING, IMAGES_HEAD, RELEASES_HEAD,
};
use std::fmt::Write;

/// GitHub's limit for one comment.
pub const GITHUB_LIMIT: usize = 65_536;
/// Room kept for what a workflow adds around the preview (its marker line, a status note).
pub const WORKFLOW_ROOM: usize = 1_536;
/// The default size of one comment.
pub const DEFAULT_LIMIT: usize = GITHUB_LIMIT - WORKFLOW_ROOM;
/// The smallest limit that always holds the heading, the summary and the notes.
pub const MIN_LIMIT: usize = 4_096;

/// How the comments are made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The most bytes one comment may have.
    pub limit: usize,
    /// Where the JSON preview can be found, e.g. the workflow run with its artifact.
    pub details_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limit: DEFAULT_LIMIT,
            details_url: None,
        }
    }
}

/// One comment: the summary tables first, then as much detail as fits, then one line for each
/// release whose detail did not.
pub fn comment(p: &PlanPreview, opts: &Options) -> String {
    let shown = fit_tables(p, opts.limit, opts);
    let mut out = head(p, shown, None);
    let sections = sections(p, shown);
    let room = tail_room(opts);
    // Reserve, at each step, the one-line summaries of everything after it, so a detail is only
    // taken when the rest can still be named.
    let mut rest: usize = sections.iter().map(|s| s.short.len()).sum();
    let mut shorts = String::new();
    let mut omitted = 0;
    let mut details = String::new();
    for s in &sections {
        rest -= s.short.len();
        if out.len() + DETAILS.len() + details.len() + s.full.len() + shorts.len() + rest + room
            <= opts.limit
        {
            details.push_str(&s.full);
        } else {
            omitted += 1;
            shorts.push_str(&s.short);
        }
    }
    if !details.is_empty() {
        out.push_str(DETAILS);
        out.push_str(&details);
    }
    if !shorts.is_empty() {
        out.push_str(OMITTED);
        out.push_str(&shorts);
    }
    out.push_str(&footer(omitted + hidden(p, shown), opts));
    debug_assert!(out.len() <= opts.limit, "{} > {}", out.len(), opts.limit);
    out
}

/// Several comments, numbered: the first as [`comment`] without summarising, the others with the
/// detail that did not fit before them. A single release too large for a comment of its own is
/// summarised as in [`comment`].
pub fn split(p: &PlanPreview, opts: &Options) -> Vec<String> {
    let shown = fit_tables(p, opts.limit - NUMBER_ROOM, opts);
    let room = tail_room(opts) + CONTINUED_ROOM;
    let later_head = HEADING.len() + NUMBER_ROOM + DETAILS.len();
    let mut pages: Vec<String> = Vec::new();
    let mut page = String::new();
    let mut used = head(p, shown, None).len() + NUMBER_ROOM + DETAILS.len();
    let mut shorts = String::new();
    let mut omitted = 0;
    for s in sections(p, shown) {
        if later_head + s.full.len() + room > opts.limit {
            shorts.push_str(&s.short);
            omitted += 1;
            continue;
        }
        if used + s.full.len() + room > opts.limit {
            pages.push(std::mem::take(&mut page));
            used = later_head;
        }
        used += s.full.len();
        page.push_str(&s.full);
    }
    pages.push(page);
    if !shorts.is_empty() && used + OMITTED.len() + shorts.len() + room > opts.limit {
        pages.push(String::new());
    }
    let total = pages.len();
    pages
        .into_iter()
        .enumerate()
        .map(|(n, body)| {
            let mut out = if n == 0 {
                head(p, shown, Some(total))
            } else {
                format!("{HEADING} ({} of {total})\n", n + 1)
            };
            if !body.is_empty() {
                out.push_str(DETAILS);
                out.push_str(&body);
            }
            if n + 1 == total {
                if !shorts.is_empty() {
                    out.push_str(OMITTED);
                    out.push_str(&shorts);
                }
                out.push_str(&footer(omitted + hidden(p, shown), opts));
            } else {
                let _ = writeln!(out, "\n_Continued in comment {} of {total}._", n + 2);
            }
            debug_assert!(out.len() <= opts.limit, "{} > {}", out.len(), opts.limit);
            out
        })
        .collect()
}

/// Room for " (12 of 34)" after the heading.
const NUMBER_ROOM: usize = 24;
/// Room for "_Continued in comment 12 of 34._".
const CONTINUED_ROOM: usize = 48;

/// What the end of a comment may need besides the summary lines: their heading and the footer.
fn tail_room(opts: &Options) -> usize {
    OMITTED.len() + footer(usize::MAX, opts).len() + 8
}

const DETAILS: &str = "\n### Details\n";
const OMITTED: &str = "\n### Not shown in detail\n\nTo keep this comment within GitHub's limit, these are summarised; the JSON preview has every batch and instance.\n\n";

/// How many images and releases the tables name.
#[derive(Debug, Clone, Copy)]
struct Shown {
    images: usize,
    releases: usize,
}

fn hidden(p: &PlanPreview, shown: Shown) -> usize {
    (p.images.len() - shown.images) + (p.releases.len() - shown.releases)
}

/// Every image and release, unless even their table rows (and one summary line per release)
/// would not fit: then as many as do, halving until they fit.
fn fit_tables(p: &PlanPreview, limit: usize, opts: &Options) -> Shown {
    let mut shown = Shown {
        images: p.images.len(),
        releases: p.releases.len(),
    };
    loop {
        let shorts: usize = p
            .releases
            .iter()
            .take(shown.releases)
            .map(|r| short(r).len())
            .sum();
        let need = head(p, shown, Some(99)).len() + NUMBER_ROOM + shorts + tail_room(opts);
        if need <= limit || (shown.images == 0 && shown.releases == 0) {
            return shown;
        }
        shown.images /= 2;
        shown.releases /= 2;
    }
}

/// The heading, the summary and the tables. `pages` numbers the first comment of several.
fn head(p: &PlanPreview, shown: Shown, pages: Option<usize>) -> String {
    let mut out = String::from(HEADING);
    if let Some(total) = pages.filter(|&t| t > 1) {
        let _ = write!(out, " (1 of {total})");
    }
    out.push_str("\n\n");
    out.push_str(&summary_md(p));
    if !p.images.is_empty() {
        out.push_str("\n### Images\n\n");
        out.push_str(IMAGES_HEAD);
        for i in p.images.iter().take(shown.images) {
            out.push_str(&image_row(i));
        }
        more(&mut out, p.images.len() - shown.images, "image");
        let reasons = image_reasons(&p.images[..shown.images]);
        if !reasons.is_empty() {
            out.push('\n');
            out.push_str(&reasons);
        }
    }
    if !p.releases.is_empty() {
        out.push_str("\n### Releases\n\n");
        out.push_str(RELEASES_HEAD);
        for r in p.releases.iter().take(shown.releases) {
            out.push_str(&release_row(r));
        }
        more(&mut out, p.releases.len() - shown.releases, "release");
    }
    out
}

fn more(out: &mut String, n: usize, what: &str) {
    if n > 0 {
        let _ = writeln!(
            out,
            "\n_… and {} more (too many for one comment: see the JSON preview)._",
            crate::preview::plural(n as u32, what)
        );
    }
}

/// One piece of detail: in full (folded), or in one line.
struct Section {
    full: String,
    short: String,
}

fn sections(p: &PlanPreview, shown: Shown) -> Vec<Section> {
    let mut out = Vec::new();
    let fingerprints = image_fingerprints(&p.images[..shown.images]);
    if !fingerprints.is_empty() {
        out.push(Section {
            full: fold("Fingerprints of the images to bake", &fingerprints, false),
            short: "- The fingerprints of the images to bake\n".into(),
        });
    }
    // A few releases are shown open (GitHub draws a chart in a closed fold only once opened);
    // more are folded so the comment reads as a list.
    let open = p.releases.len() <= 3;
    for r in p.releases.iter().take(shown.releases) {
        out.push(Section {
            full: fold(&release_line(r), &release_detail(r), open),
            short: short(r),
        });
    }
    out
}

fn short(r: &ReleaseChange) -> String {
    format!("- {}\n", crate::render::escape_md(&release_line(r)))
}

/// `<details>` around Markdown: blank lines inside so GitHub renders the Markdown.
fn fold(summary: &str, body: &str, open: bool) -> String {
    format!(
        "\n<details{}><summary>{}</summary>\n\n{}\n\n</details>\n",
        if open { " open" } else { "" },
        html_text(summary),
        body.trim()
    )
}

/// Text for inside an HTML element: no tag, entity or Markdown can start in it.
fn html_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push_str("&#96;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn footer(omitted: usize, opts: &Options) -> String {
    if omitted == 0 {
        return String::new();
    }
    let place = match &opts.details_url {
        Some(url) => format!(
            "[the JSON preview]({})",
            url.chars()
                .filter(|c| !matches!(c, '(' | ')' | '<' | '>') && !c.is_whitespace())
                .take(1_024)
                .collect::<String>()
        ),
        None => "the JSON preview (`planner preview --format json`)".to_owned(),
    };
    let what = if omitted == 1 {
        "1 entry is".to_owned()
    } else {
        format!("{omitted} entries are")
    };
    format!(
        "\n_{what} shown in summary only, to fit GitHub's 65,536-character limit: {place} has all of it._\n"
    )
}

#[cfg(test)]
mod tests;
