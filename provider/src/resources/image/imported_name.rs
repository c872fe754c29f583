//! The `name_template` of an imported image, recovered from what the image carries.
//!
//! An image keeps only a digest of its template (the `immutable:lineage` tag), but its name is
//! the template rendered with values the image also carries: the code tag (`immutable:code-tag`),
//! the fingerprint's first 12 hex digits, and a 14-digit timestamp. Putting placeholders back
//! where those values occur gives candidate templates; the one whose lineage digest matches the
//! image's is the template that baked it, so the first plan after import shows no change to
//! `name_template` and `keep_previous` keeps pruning the same series. No match (a template whose
//! own characters were sanitised, an image baked by something else): nothing is recovered, and
//! the schema's default stands, as before.

use crate::bake::retention::lineage;

/// Candidates tried at most: names are at most 128 characters, so real names give a handful.
const MAX_CANDIDATES: usize = 4096;

/// The template whose lineage digest is `lineage_tag`, rebuilt from `name`.
pub fn recover(name: &str, code_tag: &str, fingerprint: &str, lineage_tag: &str) -> Option<String> {
    let mut spots = occurrences(name, code_tag, fingerprint);
    spots.sort();
    let mut tried = 0;
    let mut chosen = Vec::new();
    search(name, &spots, 0, &mut chosen, lineage_tag, &mut tried)
}

/// Where each placeholder's value occurs in the name: (start, length, placeholder).
fn occurrences(name: &str, code_tag: &str, fingerprint: &str) -> Vec<(usize, usize, &'static str)> {
    let mut out = Vec::new();
    // The renderer replaces characters AMI names cannot hold after substituting the tag: render
    // it between parentheses (which names hold, and which keep it from being padded).
    let bracketed = crate::bake::name::render("({{tag}})", code_tag, "", std::time::UNIX_EPOCH);
    let tag = bracketed
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_default();
    let short_fp = fingerprint
        .trim_start_matches("sha256:")
        .get(..12)
        .unwrap_or_default();
    for (value, placeholder) in [(tag, "{{tag}}"), (short_fp, "{{fingerprint}}")] {
        if value.is_empty() {
            continue;
        }
        out.extend(
            (0..name.len())
                .filter(|&i| name.get(i..).is_some_and(|rest| rest.starts_with(value)))
                .map(|i| (i, value.len(), placeholder)),
        );
    }
    let bytes = name.as_bytes();
    out.extend(
        (0..bytes.len().saturating_sub(13))
            .filter(|&i| bytes[i..i + 14].iter().all(u8::is_ascii_digit))
            .map(|i| (i, 14, "{{timestamp}}")),
    );
    out
}

/// Depth-first over sets of non-overlapping occurrences, in order of position.
fn search(
    name: &str,
    spots: &[(usize, usize, &'static str)],
    from: usize,
    chosen: &mut Vec<(usize, usize, &'static str)>,
    lineage_tag: &str,
    tried: &mut usize,
) -> Option<String> {
    *tried += 1;
    if *tried > MAX_CANDIDATES {
        return None;
    }
    let candidate = template_of(name, chosen);
    if lineage(&candidate) == lineage_tag {
        return Some(candidate);
    }
    let end = chosen.last().map_or(0, |(s, l, _)| s + l);
    for (i, spot) in spots.iter().enumerate().skip(from) {
        if spot.0 < end {
            continue;
        }
        chosen.push(*spot);
        let found = search(name, spots, i + 1, chosen, lineage_tag, tried);
        chosen.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

fn template_of(name: &str, chosen: &[(usize, usize, &'static str)]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (start, len, placeholder) in chosen {
        out.push_str(&name[at..*start]);
        out.push_str(placeholder);
        at = start + len;
    }
    out.push_str(&name[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bake::name::render;
    use std::time::{Duration, UNIX_EPOCH};

    const FP: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn round_trip(template: &str, tag: &str) -> Option<String> {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_735_596);
        let name = render(template, tag, FP, t);
        recover(&name, tag, FP, &lineage(template))
    }

    #[test]
    fn templates_come_back_from_the_names_they_rendered() {
        for template in [
            "immutable-{{tag}}-{{timestamp}}",
            "drift-{{tag}}-{{timestamp}}",
            "web-{{fingerprint}}",
            "{{timestamp}}-{{tag}}-{{fingerprint}}",
            "web-2024",
            "v1-{{tag}}",
        ] {
            assert_eq!(
                round_trip(template, "v1").as_deref(),
                Some(template),
                "{template}"
            );
        }
        // A code tag with characters names cannot hold is found as rendered.
        assert_eq!(
            round_trip("app-{{tag}}-{{timestamp}}", "feat/x:1").as_deref(),
            Some("app-{{tag}}-{{timestamp}}")
        );
    }

    #[test]
    fn nothing_is_guessed_without_a_matching_digest() {
        let name = render("web-{{tag}}", "v1", FP, UNIX_EPOCH);
        assert_eq!(recover(&name, "v1", FP, &lineage("other-{{tag}}")), None);
        // Sanitised literal characters cannot be told apart from a dash: not recovered.
        assert_eq!(round_trip("web:{{tag}}", "v1"), None);
    }
}
