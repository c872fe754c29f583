//! The reference docs' generated sections must match the schemas — the provider's, every
//! resource's (`docs/resources/`) and every data source's (`docs/data-sources/`): an attribute
//! the docs do not describe fails here. `UPDATE_DOCS=1` rewrites the sections instead of
//! checking them.

use std::path::PathBuf;

use terraform_provider_immutable::docs::{self, Kind, Page};
use terraform_provider_immutable::tf::schema::Schema;
use terraform_provider_immutable::{data_sources, resources};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn pages() -> Vec<(PathBuf, Schema)> {
    described()
        .into_iter()
        .map(|(_, path, schema)| (path, schema))
        .collect()
}

/// Every page with what it documents, where the Registry expects it.
fn described() -> Vec<(Page<'static>, PathBuf, Schema)> {
    let page = |kind, type_name: &'static str, schema| {
        let page = Page { kind, type_name };
        let path = repo_root().join("docs").join(page.path());
        (page, path, schema)
    };
    let mut out = vec![page(
        Kind::Provider,
        docs::PROVIDER,
        terraform_provider_immutable::config::schema(),
    )];
    for r in resources::all() {
        out.push(page(Kind::Resource, r.type_name(), r.schema()));
    }
    for d in data_sources::all() {
        out.push(page(Kind::DataSource, d.type_name(), d.schema()));
    }
    out
}

#[test]
fn generated_sections_match_the_schema() {
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut stale = vec![];
    for (page, path, schema) in described() {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = docs::splice(&text, &docs::render(&schema))
            .unwrap_or_else(|| panic!("{} lacks the schema markers", path.display()));
        let want = docs::with_front_matter(&want, &page.front_matter(&want));
        if want != text {
            if update {
                std::fs::write(&path, want).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "docs out of date with the schema (run with UPDATE_DOCS=1): {stale:?}"
    );
}

/// The `## ` headings of a page, in order.
fn headings(page: &str) -> Vec<&str> {
    let mut in_code = false;
    page.lines()
        .filter(|l| {
            if l.starts_with("```") {
                in_code = !in_code;
            }
            !in_code
        })
        .filter_map(|l| l.strip_prefix("## "))
        .collect()
}

/// The text of section `## name`, up to the next `## ` heading.
fn section<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!("\n## {name}\n"))
        .unwrap_or_else(|| panic!("no section {name}"));
    let rest = &page[start + 4 + name.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The first fenced block of `lang` in `text`.
fn first_block<'a>(text: &'a str, lang: &str) -> Option<&'a str> {
    let open = format!("```{lang}\n");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find("\n```")? + 1;
    Some(&text[start..start + len])
}

#[test]
fn pages_have_the_registry_front_matter_and_sections() {
    for (page, path, schema) in described() {
        let text = std::fs::read_to_string(&path).unwrap();
        let body = docs::strip_front_matter(&text);
        assert_ne!(body, text, "{}: no front matter", path.display());
        let front = &text[..text.len() - body.len()];
        for key in ["page_title: \"", "subcategory: \"", "description: |-\n  "] {
            assert!(
                front.contains(key),
                "{}: front matter lacks {key}",
                path.display()
            );
        }
        assert!(
            body.starts_with(&format!("# {} ", page.type_name)),
            "{}: the title names {}",
            path.display(),
            page.type_name
        );
        // The standard sections, in the Registry's order (others may sit between them).
        let found = headings(body);
        let mut at = 0;
        for want in page.sections(&schema) {
            let Some(i) = found[at..].iter().position(|h| *h == want) else {
                panic!(
                    "{}: no `## {want}` after {:?} (has {found:?})",
                    path.display(),
                    &found[..at]
                );
            };
            at += i + 1;
        }
    }
}

#[test]
fn example_usage_shows_the_examples_files() {
    for (page, path, _) in described() {
        let text = std::fs::read_to_string(&path).unwrap();
        let example_path = repo_root().join("examples").join(page.example_path());
        let example = std::fs::read_to_string(&example_path)
            .unwrap_or_else(|e| panic!("{}: {e}", example_path.display()));
        let shown = first_block(section(&text, "Example Usage"), "hcl")
            .unwrap_or_else(|| panic!("{}: Example Usage has no hcl block", path.display()));
        assert_eq!(
            shown,
            example,
            "{}: the first example is {}",
            path.display(),
            example_path.display()
        );

        let Some(import_path) = page.import_path() else {
            continue;
        };
        let import = section(&text, "Import");
        let command = std::fs::read_to_string(repo_root().join("examples").join(&import_path))
            .unwrap_or_else(|e| panic!("{import_path}: {e}"));
        assert_eq!(
            first_block(import, "sh"),
            Some(command.as_str()),
            "{import_path}"
        );
        let block = first_block(import, "hcl").expect("an import {} block");
        let mut words = command.split_whitespace().skip(2);
        let (to, id) = (words.next().unwrap(), words.next().unwrap());
        assert!(
            block.starts_with("import {")
                && block.contains(&format!("to = {to}"))
                && block.contains(&format!("id = \"{id}\"")),
            "{}: the import block imports {to} {id}:\n{block}",
            path.display()
        );
    }
}

#[test]
fn every_attribute_is_described_in_the_docs() {
    for (path, schema) in pages() {
        // The page as it is once its generated section is current: staleness is the other
        // test's finding, and with UPDATE_DOCS that test may be rewriting the file right now.
        let page = std::fs::read_to_string(&path).unwrap();
        let page = docs::splice(&page, &docs::render(&schema)).unwrap_or(page);
        let mut names: Vec<&str> = schema
            .block
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        for b in &schema.block.blocks {
            names.push(&b.name);
            names.extend(b.block.attributes.iter().map(|a| a.name.as_str()));
        }
        for n in names {
            assert!(
                page.contains(&format!("- `{n}` (")),
                "{} does not describe `{n}`",
                path.display()
            );
        }
        for a in &schema.block.attributes {
            assert!(
                !a.description.trim().is_empty(),
                "{}: `{}` has no description",
                path.display(),
                a.name
            );
        }
    }
}

#[test]
fn every_page_is_linked_from_the_index() {
    let index = std::fs::read_to_string(repo_root().join("docs/index.md")).unwrap();
    for (path, _) in pages().into_iter().skip(1) {
        let link = path
            .strip_prefix(repo_root().join("docs"))
            .unwrap()
            .display()
            .to_string();
        assert!(
            index.contains(&format!("({link})")),
            "docs/index.md does not link {link}"
        );
    }
}
