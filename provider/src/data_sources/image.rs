//! Data source `immutable_image`: the newest image baked by this provider that matches a code
//! tag, a fingerprint, a name prefix and/or tags — so another stack (the one that owns the
//! `aws_launch_template`, a second region's release) finds the current release without reading
//! this stack's remote state. DescribeImages only: it changes nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, Image};

use crate::aws::{tags, ErrorContext};
use crate::provider::{AwsCx, Cx};
use crate::tf::args::{Arg, Field, Parser};
use crate::tf::data_source::DataSource;
use crate::tf::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tf::plan_helpers::object;
use crate::tf::schema::{bool, list_of, map_of, string, Attribute, Block, Schema};
use crate::tf::value::Value;

pub const TYPE_NAME: &str = "immutable_image";
/// The longest AMI name AWS accepts; a longer prefix can match nothing.
const MAX_NAME: usize = 128;
/// How many matches an "ambiguous" error lists.
const LISTED: usize = 5;

pub struct ImageDataSource;

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block::new("The newest available image baked by `immutable_image` (it carries the provider's `immutable:fingerprint` tag) that matches every filter given. Read-only (DescribeImages): another stack finds the current release by code tag, fingerprint, name prefix or tags, without this stack's state. At least one of `code_tag`, `fingerprint`, `name_prefix` and `tags` is required.")
            .attr(Attribute::optional_computed("code_tag", string(), "Only images baked for this code tag (their `immutable:code-tag` tag), e.g. `v1.4.2`. When not set, the code tag of the image found."))
            .attr(Attribute::optional_computed("fingerprint", string(), "Only the image with this fingerprint (`immutable_image.<name>.fingerprint`, `sha256:` and hex digits). When not set, the fingerprint of the image found."))
            .attr(Attribute::optional("name_prefix", string(), "Only images whose name starts with this text, e.g. `web-` for `name_template = \"web-{{tag}}-{{timestamp}}\"`. A plain prefix: `*` and `?` are not allowed."))
            .attr(Attribute::optional("tags", map_of(string()), "Only images carrying every one of these tags with these values, e.g. the `tags` given to `immutable_image`."))
            .attr(Attribute::defaulted("owners", list_of(string()), "[\"self\"]", "Accounts whose images are searched: `self`, or account ids (an image shared from the account that bakes)."))
            .attr(Attribute::defaulted("most_recent", bool(), "true", "Take the newest match (by creation date). When false, more than one match is an error."))
            .attr(Attribute::computed("id", string(), "The AMI id, e.g. for `aws_launch_template.image_id` or `rolling_asg_release.image_id`."))
            .attr(Attribute::computed("name", string(), "The AMI name."))
            .attr(Attribute::computed("source_ami_id", string(), "The AMI the image was baked from (its `immutable:source-ami` tag)."))
            .attr(Attribute::computed("created_at", string(), "When AWS created the image (RFC 3339)."))
            .attr(Attribute::computed("snapshot_ids", list_of(string()), "EBS snapshots backing the image."))
            .attr(Attribute::computed("root_device_name", string(), "The image's root device, e.g. `/dev/sda1`: the `device_name` an `aws_launch_template` `block_device_mappings` block needs to resize the root volume."))
            .attr(Attribute::computed("tags_all", map_of(string()), "Every tag on the image: those of `immutable_image.tags`, the provider's `default_tags`, and the `immutable:*` provenance tags.")),
    }
}

/// The arguments, parsed once: validate reports the diagnostics, read turns them into a
/// [`Query`].
struct Args {
    code_tag: Arg<String>,
    fingerprint: Arg<String>,
    name_prefix: Arg<String>,
    tags: Arg<BTreeMap<String, Arg<String>>>,
    owners: Arg<Vec<Arg<String>>>,
    most_recent: Arg<bool>,
}

/// What read searches with. Terraform reads a data source only once its configuration is wholly
/// known, with the schema's defaults filled (`owners`, `most_recent`): no default here.
struct Query {
    code_tag: Option<String>,
    fingerprint: Option<String>,
    name_prefix: Option<String>,
    tags: BTreeMap<String, String>,
    owners: Vec<String>,
    most_recent: bool,
}

impl Args {
    fn query(self) -> Result<Query, Diagnostics> {
        let optional = |a: Arg<String>, attr: &str| match a {
            Arg::Null => Ok(None),
            other => other.required(&AttrPath::root(attr)).map(Some),
        };
        Ok(Query {
            code_tag: optional(self.code_tag, "code_tag")?,
            fingerprint: optional(self.fingerprint, "fingerprint")?,
            name_prefix: optional(self.name_prefix, "name_prefix")?,
            tags: match self.tags.wholly() {
                Arg::Null => BTreeMap::new(),
                other => other.required(&AttrPath::root("tags"))?,
            },
            owners: self.owners.wholly().required(&AttrPath::root("owners"))?,
            most_recent: self.most_recent.required(&AttrPath::root("most_recent"))?,
        })
    }
}

fn parse(raw: &Value) -> Result<Args, Diagnostics> {
    let mut p = Parser::new();
    let c = Field::root(raw);
    let code_tag = c.attr("code_tag").string(&mut p);
    if code_tag.known().is_some_and(String::is_empty) {
        p.error(
            &AttrPath::root("code_tag"),
            "Empty code_tag",
            "Give the code tag the image was baked for, e.g. \"v1.4.2\", or leave code_tag out.",
        );
    }
    let fingerprint = c.attr("fingerprint").string(&mut p);
    if let Some(f) = fingerprint.known() {
        let hex = f.strip_prefix("sha256:").unwrap_or_default();
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            p.error(
                &AttrPath::root("fingerprint"),
                "Invalid fingerprint",
                format!("{f:?} is not an image fingerprint: use immutable_image.<name>.fingerprint (\"sha256:\" and hex digits)."),
            );
        }
    }
    let name_prefix = c.attr("name_prefix").string(&mut p);
    if let Some(problem) = name_prefix.known().and_then(|n| name_prefix_problem(n)) {
        let (summary, detail) = problem;
        p.error(&AttrPath::root("name_prefix"), summary, detail);
    }
    let tags = c.attr("tags").map(&mut p, |k, v, p| {
        if k.is_empty() {
            p.error(v.path(), "Empty tag key", "Tag keys cannot be empty.");
        }
        v.string(p)
    });
    let owners_field = c.attr("owners");
    let owners = owners_field.list(&mut p, |o, p| {
        let owner = o.string(p);
        if owner.known().is_some_and(String::is_empty) {
            p.error(
                o.path(),
                "Empty owner",
                "An owner is `self` or an account id.",
            );
        }
        owner
    });
    // Empty as written, not emptied by elements that are not known yet (`[var.owner]`).
    if owners.known().is_some_and(Vec::is_empty) {
        p.error(
            owners_field.path(),
            "No owners",
            "List at least one owner (`self` or an account id), or leave owners out for `self`.",
        );
    }
    // Unknown values (known only after apply) count as filters: they will be set.
    let selects = [
        !code_tag.is_null(),
        !fingerprint.is_null(),
        !name_prefix.is_null(),
        tags.known().is_none_or(|t| !t.is_empty()) && !tags.is_null(),
    ];
    if !selects.contains(&true) {
        p.push(Diagnostic::error(
            "No filter",
            "Set at least one of code_tag, fingerprint, name_prefix and tags: without one, any image this provider baked in the account would match.",
        ));
    }
    let args = Args {
        code_tag,
        fingerprint,
        name_prefix,
        tags,
        owners,
        most_recent: c.attr("most_recent").bool(&mut p),
    };
    p.finish(args).map(|(a, _)| a)
}

/// What is wrong with a `name_prefix`, as a summary and a detail.
fn name_prefix_problem(p: &str) -> Option<(&'static str, String)> {
    let bad: String = p
        .chars()
        .filter(|c| !crate::resources::limits::ami_name_char(*c) && !matches!(c, '*' | '?'))
        .collect();
    if p.is_empty() {
        Some((
            "Empty name_prefix",
            "Give the start of the image names, e.g. \"web-\", or leave name_prefix out.".into(),
        ))
    } else if !bad.is_empty() {
        Some(("Invalid name_prefix", format!("No AMI name holds {bad:?}, so this prefix matches nothing; names hold letters, digits and ( ) [ ] space . / - ' @ _.")))
    } else if p.contains(['*', '?']) {
        Some(("Wildcard in name_prefix", format!("{p:?} contains * or ?: name_prefix is a plain prefix (\"web-\" matches every name starting with web-).")))
    } else if p.chars().count() > MAX_NAME {
        Some((
            "name_prefix too long",
            format!(
                "AMI names have at most {MAX_NAME} characters; this prefix has {}.",
                p.chars().count()
            ),
        ))
    } else {
        None
    }
}

fn validate_config(raw: &Value) -> Diagnostics {
    match parse(raw) {
        Ok(_) => Diagnostics::new(),
        Err(d) => d,
    }
}

/// The filters of a configuration, as DescribeImages takes them and as an error names them.
fn filters(c: &Query) -> (Vec<Filter>, Vec<String>) {
    let filter = |name: String, value: &str| Filter::builder().name(name).values(value).build();
    // Only images this provider baked, and only usable ones.
    let mut f = vec![
        Filter::builder()
            .name("tag-key")
            .values(tags::FINGERPRINT)
            .build(),
        filter("state".into(), "available"),
    ];
    let mut shown = vec![];
    if let Some(t) = &c.code_tag {
        f.push(filter(format!("tag:{}", tags::CODE_TAG), t));
        shown.push(format!("code_tag = {t:?}"));
    }
    if let Some(fp) = &c.fingerprint {
        f.push(filter(format!("tag:{}", tags::FINGERPRINT), fp));
        shown.push(format!("fingerprint = {fp:?}"));
    }
    if let Some(p) = &c.name_prefix {
        f.push(filter("name".into(), &format!("{p}*")));
        shown.push(format!("name_prefix = {p:?}"));
    }
    for (k, v) in &c.tags {
        f.push(filter(format!("tag:{k}"), v));
        shown.push(format!("tags[{k:?}] = {v:?}"));
    }
    shown.push(format!("owners = {:?}", c.owners));
    (f, shown)
}

/// Newest first; equal creation dates in id order, so the choice is stable.
fn newest_first(images: &mut [Image]) {
    images.sort_by(|a, b| {
        b.creation_date()
            .cmp(&a.creation_date())
            .then(a.image_id().cmp(&b.image_id()))
    });
}

fn state(block: &Block, img: &Image) -> Value {
    let tags: BTreeMap<String, String> = img
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let s = |v: Option<&str>| {
        v.map(|v| Value::String(v.to_string()))
            .unwrap_or(Value::Null)
    };
    let fields = BTreeMap::from([
        ("id".to_string(), s(img.image_id())),
        ("name".to_string(), s(img.name())),
        ("created_at".to_string(), s(img.creation_date())),
        ("root_device_name".to_string(), s(img.root_device_name())),
        (
            "code_tag".to_string(),
            s(tags.get(tags::CODE_TAG).map(String::as_str)),
        ),
        (
            "fingerprint".to_string(),
            s(tags.get(tags::FINGERPRINT).map(String::as_str)),
        ),
        (
            "source_ami_id".to_string(),
            s(tags.get(tags::SOURCE_AMI).map(String::as_str)),
        ),
        (
            "snapshot_ids".to_string(),
            Value::List(
                img.block_device_mappings()
                    .iter()
                    .filter_map(|m| m.ebs().and_then(|e| e.snapshot_id()))
                    .map(|id| Value::String(id.to_string()))
                    .collect(),
            ),
        ),
        (
            "tags_all".to_string(),
            Value::Map(
                tags.into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        ),
    ]);
    object(block, fields)
}

#[async_trait]
impl DataSource<crate::aws::Aws> for ImageDataSource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_config(config)
    }

    async fn read(&self, cx: &Cx, raw: &Value) -> Result<Value, Diagnostics> {
        // Terraform validates first, but a read must never search with a bad filter.
        let c = parse(raw)?.query()?;
        let aws = cx.aws()?;
        let ec2 = aws.ec2().await?;
        let (filters, shown) = filters(&c);
        let mut found: Vec<Image> = vec![];
        let mut token = None;
        loop {
            let out = ec2
                .describe_images()
                .set_owners(Some(c.owners.clone()))
                .set_filters(Some(filters.clone()))
                .set_next_token(token)
                .send()
                .await
                .context("DescribeImages", &shown.join(", "))?;
            // An image still tagged temporary belongs to a bake that has not finished (or was
            // killed): not a release anyone should launch.
            found.extend(
                out.images()
                    .iter()
                    .filter(|i| !i.tags().iter().any(|t| t.key() == Some(tags::TEMPORARY)))
                    .cloned(),
            );
            token = out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        newest_first(&mut found);
        let region = aws.region().await.unwrap_or_default();
        let Some(first) = found.first() else {
            return Err(Diagnostic::error(
                "No image matches",
                format!(
                    "No available image baked by immutable_image matches {} in region {region}.",
                    shown.join(", ")
                ),
            )
            .into());
        };
        if found.len() > 1 && !c.most_recent {
            let listed: Vec<String> = found
                .iter()
                .take(LISTED)
                .map(|i| {
                    format!(
                        "{} ({}, {})",
                        i.image_id().unwrap_or_default(),
                        i.name().unwrap_or_default(),
                        i.creation_date().unwrap_or_default()
                    )
                })
                .collect();
            return Err(Diagnostic::error(
                "More than one image matches",
                format!(
                    "{} images match {} in region {region}: {}{}. Narrow the filters, or set most_recent = true to take the newest.",
                    found.len(),
                    shown.join(", "),
                    listed.join(", "),
                    if found.len() > LISTED { ", …" } else { "" }
                ),
            )
            .at(AttrPath::root("most_recent"))
            .into());
        }
        tracing::debug!(image_id = ?first.image_id(), matches = found.len(), "immutable_image data source read");
        let mut state = state(&schema().block, first);
        if let (Value::Object(fields), Value::Object(configured)) = (&mut state, raw) {
            for a in ["name_prefix", "tags", "owners", "most_recent"] {
                if let Some(v) = configured.get(a) {
                    fields.insert(a.to_string(), v.clone());
                }
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::Tag;

    fn cfg(pairs: &[(&str, Value)]) -> Value {
        object(
            &schema().block,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn errors_at(d: &Diagnostics) -> Vec<String> {
        d.0.iter()
            .filter_map(|d| d.path.as_ref().map(|p| p.to_string()))
            .collect()
    }

    #[test]
    fn good_configs_validate() {
        for c in [
            cfg(&[("code_tag", s("v1.4.2"))]),
            cfg(&[("fingerprint", s("sha256:0123abcd"))]),
            cfg(&[("name_prefix", s("web-"))]),
            cfg(&[("tags", Value::map([("app", s("web"))]))]),
            cfg(&[
                ("code_tag", s("v1")),
                ("owners", Value::list([s("self"), s("123456789012")])),
                ("most_recent", Value::Bool(false)),
            ]),
            // Known only after apply: a filter all the same, checked when it is known.
            cfg(&[("fingerprint", Value::unknown())]),
        ] {
            let d = validate_config(&c);
            assert!(d.is_empty(), "{d}");
        }
    }

    #[test]
    fn bad_configs_name_the_attribute() {
        let cases: Vec<(Value, &str)> = vec![
            (cfg(&[("code_tag", s(""))]), "code_tag"),
            (cfg(&[("fingerprint", s("abc"))]), "fingerprint"),
            (cfg(&[("fingerprint", s("sha256:"))]), "fingerprint"),
            (cfg(&[("fingerprint", s("sha256:xyz"))]), "fingerprint"),
            (cfg(&[("name_prefix", s(""))]), "name_prefix"),
            (cfg(&[("name_prefix", s("web-*"))]), "name_prefix"),
            (cfg(&[("name_prefix", s(&"x".repeat(129)))]), "name_prefix"),
            (cfg(&[("tags", Value::map([("", s("x"))]))]), "tags[\"\"]"),
            (
                cfg(&[("code_tag", s("v1")), ("owners", Value::list([]))]),
                "owners",
            ),
            (
                cfg(&[("code_tag", s("v1")), ("owners", Value::list([s("")]))]),
                "owners[0]",
            ),
        ];
        for (i, (c, path)) in cases.iter().enumerate() {
            let d = validate_config(c);
            assert!(
                d.has_errors() && errors_at(&d).iter().any(|p| p == path),
                "case {i}: expected an error at {path}, got {d}"
            );
        }
    }

    #[test]
    fn at_least_one_filter_is_required() {
        let d = validate_config(&cfg(&[]));
        assert!(d.has_errors());
        assert!(d.to_string().contains("Set at least one of"), "{d}");
        // Empty tags select nothing either.
        let d = validate_config(&cfg(&[("tags", Value::map::<&str>([]))]));
        assert!(d.has_errors(), "{d}");
    }

    #[test]
    fn filters_name_what_they_match() {
        let c = parse(&crate::tf::plan_helpers::fill_defaults(
            &schema().block,
            cfg(&[
                ("code_tag", s("v2")),
                ("name_prefix", s("web-")),
                ("tags", Value::map([("app", s("web"))])),
            ]),
        ))
        .and_then(Args::query)
        .unwrap();
        let (f, shown) = filters(&c);
        let pairs: Vec<(String, Vec<String>)> = f
            .iter()
            .map(|f| (f.name().unwrap().to_string(), f.values().to_vec()))
            .collect();
        assert!(pairs.contains(&("tag-key".into(), vec![tags::FINGERPRINT.into()])));
        assert!(pairs.contains(&("state".into(), vec!["available".into()])));
        assert!(pairs.contains(&(format!("tag:{}", tags::CODE_TAG), vec!["v2".into()])));
        assert!(pairs.contains(&("name".into(), vec!["web-*".into()])));
        assert!(pairs.contains(&("tag:app".into(), vec!["web".into()])));
        assert_eq!(
            shown,
            [
                "code_tag = \"v2\"",
                "name_prefix = \"web-\"",
                "tags[\"app\"] = \"web\"",
                "owners = [\"self\"]"
            ]
        );
    }

    #[test]
    fn newest_image_wins_and_state_carries_its_provenance() {
        let img = |id: &str, created: &str, tag: &str| {
            Image::builder()
                .image_id(id)
                .name(format!("web-{tag}"))
                .creation_date(created)
                .root_device_name("/dev/sda1")
                .tags(Tag::builder().key(tags::CODE_TAG).value(tag).build())
                .tags(
                    Tag::builder()
                        .key(tags::FINGERPRINT)
                        .value("sha256:ab")
                        .build(),
                )
                .tags(
                    Tag::builder()
                        .key(tags::SOURCE_AMI)
                        .value("ami-src")
                        .build(),
                )
                .build()
        };
        let mut images = vec![
            img("ami-1", "2024-01-01T00:00:00.000Z", "v1"),
            img("ami-3", "2024-03-01T00:00:00.000Z", "v3"),
            img("ami-2", "2024-02-01T00:00:00.000Z", "v2"),
        ];
        newest_first(&mut images);
        assert_eq!(images[0].image_id(), Some("ami-3"));
        let st = state(&schema().block, &images[0]);
        assert_eq!(st.get("id"), &s("ami-3"));
        assert_eq!(st.get("name"), &s("web-v3"));
        assert_eq!(st.get("code_tag"), &s("v3"));
        assert_eq!(st.get("fingerprint"), &s("sha256:ab"));
        assert_eq!(st.get("source_ami_id"), &s("ami-src"));
        assert_eq!(st.get("root_device_name"), &s("/dev/sda1"));
        assert_eq!(
            st.get("tags_all").as_entries().unwrap().get(tags::CODE_TAG),
            Some(&s("v3"))
        );
        // Every schema attribute is present (the wire format needs them all).
        let Value::Object(fields) = &st else { panic!() };
        assert_eq!(fields.len(), schema().block.attributes.len());
    }
}
