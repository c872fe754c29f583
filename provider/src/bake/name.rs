//! AMI names from a template: `{{tag}}`, `{{timestamp}}` and `{{fingerprint}}` are replaced, and
//! the result is made to fit AWS's rules (3-128 characters of letters, digits and `()[] ./-'@_`).

use std::time::SystemTime;

use crate::civil_time::UtcDateTime;

pub const PLACEHOLDERS: [&str; 3] = ["{{tag}}", "{{timestamp}}", "{{fingerprint}}"];

pub fn render(template: &str, tag: &str, fingerprint: &str, now: SystemTime) -> String {
    let short_fp = fingerprint
        .trim_start_matches("sha256:")
        .get(..12)
        .unwrap_or(fingerprint);
    let raw = template
        .replace("{{tag}}", tag)
        .replace("{{timestamp}}", &timestamp(now))
        .replace("{{fingerprint}}", short_fp);
    let mut name: String = raw
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    name.truncate(128);
    while name.len() < 3 {
        name.push('_');
    }
    name
}

/// Placeholders a template uses that this renderer does not know: typos such as `{{tags}}`.
pub fn unknown_placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let p = &rest[start..start + len + 2];
        if !PLACEHOLDERS.contains(&p) {
            out.push(p.to_string());
        }
        rest = &rest[start + len + 2..];
    }
    out
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c)
}

/// `YYYYMMDDhhmmss` in UTC: sorts as text, and is valid in an AMI name.
pub fn timestamp(t: SystemTime) -> String {
    let d = UtcDateTime::from_system_time(t);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        d.year, d.month, d.day, d.hour, d.minute, d.second
    )
}

/// RFC 3339 in UTC, second precision: the format of `created_at`, expiries and locks.
pub fn rfc3339(t: SystemTime) -> String {
    let d = UtcDateTime::from_system_time(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year, d.month, d.day, d.hour, d.minute, d.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn renders_placeholders_and_sanitises() {
        // 2026-11-26T23:26:36Z
        let t = at(1_795_735_596);
        assert_eq!(timestamp(t), "20261126232636");
        assert_eq!(rfc3339(t), "2026-11-26T23:26:36Z");
        assert_eq!(
            render("web-{{tag}}-{{timestamp}}", "v1.4.2", "sha256:abc", t),
            "web-v1.4.2-20261126232636"
        );
        assert_eq!(render("a{{tag}}", "x:y*z", "f", t), "ax-y-z");
        assert_eq!(
            render("{{fingerprint}}", "t", "sha256:0123456789abcdef", t),
            "0123456789ab"
        );
        assert_eq!(render("", "", "", t), "___");
        assert_eq!(render(&"x".repeat(200), "", "", t).len(), 128);
    }

    #[test]
    fn leap_years_and_epoch() {
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn finds_typos_in_placeholders() {
        assert_eq!(
            unknown_placeholders("{{tag}}-{{tags}}-{{timestamp}}"),
            vec!["{{tags}}"]
        );
        assert!(unknown_placeholders("plain").is_empty());
    }
}
