//! The reference docs' generated sections must match the schemas — the provider's, every
//! resource's (`docs/resources/`) and every data source's (`docs/data-sources/`): an attribute
//! the docs do not describe fails here. `UPDATE_DOCS=1` rewrites the sections instead of
//! checking them.

use std::path::PathBuf;

use terraform_provider_immutable::docs;
use terraform_provider_immutable::tf::schema::Schema;
use terraform_provider_immutable::{data_sources, resources};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn pages() -> Vec<(PathBuf, Schema)> {
    let mut out = vec![(
        repo_root().join("docs/index.md"),
        terraform_provider_immutable::config::schema(),
    )];
    for r in resources::all() {
        out.push((
            repo_root().join(format!("docs/resources/{}.md", r.type_name())),
            r.schema(),
        ));
    }
    for d in data_sources::all() {
        out.push((
            repo_root().join(format!("docs/data-sources/{}.md", d.type_name())),
            d.schema(),
        ));
    }
    out
}

#[test]
fn generated_sections_match_the_schema() {
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut stale = vec![];
    for (path, schema) in pages() {
        let page =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = docs::splice(&page, &docs::render(&schema))
            .unwrap_or_else(|| panic!("{} lacks the schema markers", path.display()));
        if want != page {
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
