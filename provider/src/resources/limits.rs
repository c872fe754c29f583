//! AWS's documented limits on what users write, checked before any AWS call: a value AWS refuses
//! would otherwise pass the plan and fail minutes into a bake, after a builder was launched.
//!
//! Sources (AWS documentation):
//! - Tags: "Tag restrictions" in the Amazon EC2 User Guide
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions>):
//!   at most 50 tags per resource, keys of 1–128 and values of up to 256 Unicode characters, and
//!   the `aws:` prefix (in any case) reserved for AWS.
//! - AMI names and descriptions: `CreateImage` in the Amazon EC2 API Reference
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateImage.html>): a name is
//!   3–128 characters of letters, digits, `()[] ./-'@_`; a description up to 255 characters.
//! - Resource ids: "Resource IDs" in the Amazon EC2 User Guide
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html>): a prefix such as
//!   `ami-`, `sg-` or `subnet-` followed by 8 (older) or 17 hexadecimal characters.
//! - Launch template versions: "Restrictions for Amazon EC2 launch templates" in the Amazon EC2
//!   User Guide (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/launch-template-restrictions.html>):
//!   up to 10,000 versions per launch template.

use std::collections::BTreeMap;

use crate::tf::diag::{AttrPath, Diagnostics};

pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_KEY: usize = 128;
pub const MAX_TAG_VALUE: usize = 256;
pub const MAX_DESCRIPTION: usize = 255;
pub const MIN_AMI_NAME: usize = 3;
pub const MAX_AMI_NAME: usize = 128;
pub const LAUNCH_TEMPLATE_VERSIONS: i64 = 10_000;

/// Keys, values and the reserved prefix of one tag map; `path` is the map's attribute.
pub fn check_tags(path: &AttrPath, tags: &BTreeMap<String, String>, d: &mut Diagnostics) {
    for (k, v) in tags {
        let at = path.clone().key(k);
        let key_len = k.chars().count();
        if key_len == 0 {
            d.attr_error(at.clone(), "Empty tag key", "Tag keys cannot be empty.");
        } else if key_len > MAX_TAG_KEY {
            d.attr_error(
                at.clone(),
                "Tag key too long",
                format!("AWS allows tag keys of at most {MAX_TAG_KEY} characters; this one has {key_len}."),
            );
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            d.attr_error(
                at.clone(),
                "Reserved tag key",
                format!("{k:?}: the aws: prefix is reserved for AWS's own tags and cannot be set."),
            );
        }
        let value_len = v.chars().count();
        if value_len > MAX_TAG_VALUE {
            d.attr_error(
                at,
                "Tag value too long",
                format!("AWS allows tag values of at most {MAX_TAG_VALUE} characters; this one has {value_len}."),
            );
        }
    }
}

/// The 50-tag limit counts every tag on the object: the configuration's, the provider's
/// `default_tags` and the ones this provider writes itself (`own`, whose keys a user may also set).
pub fn check_tag_count(
    path: &AttrPath,
    tags: &BTreeMap<String, String>,
    default_tags: &BTreeMap<String, String>,
    own: &[&str],
    d: &mut Diagnostics,
) {
    let user = tags
        .keys()
        .chain(default_tags.keys())
        .filter(|k| !own.contains(&k.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let total = user + own.len();
    if total > MAX_TAGS {
        d.attr_error(
            path.clone(),
            "Too many tags",
            format!(
                "AWS allows at most {MAX_TAGS} tags per resource. These {user} tags (with the provider's default_tags) and the {} the provider writes itself make {total}; remove {}.",
                own.len(),
                total - MAX_TAGS
            ),
        );
    }
}

pub fn check_description(path: AttrPath, description: &str, d: &mut Diagnostics) {
    let len = description.chars().count();
    if len > MAX_DESCRIPTION {
        d.attr_error(
            path,
            "Description too long",
            format!("AWS allows image descriptions of at most {MAX_DESCRIPTION} characters; this one has {len}."),
        );
    }
}

/// `prefix` then 8 or 17 lowercase hex digits, e.g. `ami-0abcdef1234567890`.
pub fn is_id(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

pub fn check_id(path: AttrPath, value: &str, prefix: &str, what: &str, d: &mut Diagnostics) {
    if !is_id(value, prefix) {
        let article = if what.starts_with(['A', 'E', 'I', 'O', 'U']) {
            "an"
        } else {
            "a"
        };
        d.attr_error(
            path,
            format!("Invalid {what} id"),
            format!("{value:?} is not {article} {what} id: {prefix} followed by 8 or 17 hexadecimal digits, e.g. {prefix}0123456789abcdef0."),
        );
    }
}

/// The characters an AMI name may hold.
pub fn ami_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c)
}

/// Why an AMI name (or a name pattern's literal text) breaks AWS's rules, if it does.
pub fn ami_name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    if !(MIN_AMI_NAME..=MAX_AMI_NAME).contains(&len) {
        return Some(format!(
            "AMI names have {MIN_AMI_NAME} to {MAX_AMI_NAME} characters; this one has {len}."
        ));
    }
    let bad: String = name.chars().filter(|c| !ami_name_char(*c)).collect();
    (!bad.is_empty()).then(|| format!("AMI names cannot hold {bad:?}; they hold letters, digits and ( ) [ ] space . / - ' @ _."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tag_keys_values_and_prefix_are_checked_with_the_key_in_the_path() {
        let mut d = Diagnostics::new();
        let long_key = "k".repeat(129);
        let long_value = "v".repeat(257);
        check_tags(
            &AttrPath::root("tags"),
            &tags(&[
                ("AWS:cloudformation", "x"),
                (&long_key, "x"),
                ("ok", &long_value),
                ("fine", &"v".repeat(256)),
            ]),
            &mut d,
        );
        let paths: Vec<String> =
            d.0.iter()
                .map(|x| x.path.as_ref().unwrap().to_string())
                .collect();
        assert_eq!(d.0.len(), 3, "{d}");
        assert!(paths.contains(&"tags[\"AWS:cloudformation\"]".to_string()));
        assert!(paths.contains(&"tags[\"ok\"]".to_string()));
    }

    #[test]
    fn the_count_includes_default_tags_and_the_providers_own() {
        let own = ["Name", "immutable:fingerprint"];
        let many: BTreeMap<_, _> = (0..30).map(|i| (format!("t{i}"), String::new())).collect();
        let defaults: BTreeMap<_, _> = (0..18).map(|i| (format!("d{i}"), String::new())).collect();
        let mut d = Diagnostics::new();
        check_tag_count(&AttrPath::root("tags"), &many, &defaults, &own, &mut d);
        assert!(d.is_empty(), "48 + 2 is the limit: {d}");
        let mut more = many.clone();
        more.insert("one-more".into(), String::new());
        check_tag_count(&AttrPath::root("tags"), &more, &defaults, &own, &mut d);
        assert_eq!(d.0.len(), 1);
        assert!(d.0[0].detail.contains("make 51"), "{}", d.0[0].detail);
        // A user's own Name is not counted twice.
        let mut d = Diagnostics::new();
        more.remove("one-more");
        more.insert("Name".into(), "web".into());
        check_tag_count(&AttrPath::root("tags"), &more, &defaults, &own, &mut d);
        assert!(d.is_empty(), "{d}");
    }

    #[test]
    fn ids_and_names_follow_the_documented_forms() {
        assert!(is_id("ami-1e749f67", "ami-"));
        assert!(is_id("sg-0123456789abcdef0", "sg-"));
        assert!(!is_id("sg-0123456789abcdef", "sg-"));
        assert!(!is_id("ami-XYZ12345", "ami-"));
        assert!(!is_id("subnet-", "subnet-"));
        assert!(ami_name_problem("web-v1 (2024) [x]/'@_.").is_none());
        assert!(ami_name_problem("ab").unwrap().contains("has 2"));
        assert!(ami_name_problem("web+v1").unwrap().contains("\"+\""));
        assert!(ami_name_problem(&"a".repeat(129)).is_some());
    }
}
