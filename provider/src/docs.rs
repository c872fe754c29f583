//! Reference docs generated from the schemas, so the docs and what Terraform validates come from
//! one source. `docs/index.md` and `docs/resources/<type>.md` hold hand-written prose and
//! examples around a generated section between the markers below; a test fails when that section
//! is stale (`UPDATE_DOCS=1 cargo test -p terraform-provider-immutable --test docs` rewrites it).

use std::fmt::Write;

use crate::tf::schema::{Attribute, Block, Mode, Schema};

pub const BEGIN: &str =
    "<!-- schema:begin (generated from the provider's schema; do not edit by hand) -->";
pub const END: &str = "<!-- schema:end -->";

pub fn render(schema: &Schema) -> String {
    let mut out = String::new();
    let b = &schema.block;
    let args: Vec<&Attribute> = b
        .attributes
        .iter()
        .filter(|a| a.mode != Mode::Computed)
        .collect();
    let computed: Vec<&Attribute> = b
        .attributes
        .iter()
        .filter(|a| a.mode == Mode::Computed)
        .collect();
    if !args.is_empty() || !b.blocks.is_empty() {
        out.push_str("## Argument Reference\n\n");
        for a in args {
            out.push_str(&attribute_line(a));
        }
        for nb in &b.blocks {
            let _ = writeln!(
                out,
                "- `{}` (Block, at most {}) {} See [below](#{}).",
                nb.name,
                nb.max_items,
                first_sentence(&nb.block.description),
                nb.name
            );
        }
        out.push('\n');
    }
    for nb in &b.blocks {
        let _ = writeln!(out, "### {}\n\n{}\n", nb.name, nb.block.description);
        nested(&mut out, &nb.block);
    }
    if !computed.is_empty() {
        out.push_str("## Attribute Reference\n\n");
        for a in computed {
            let _ = writeln!(out, "- `{}` ({}) {}", a.name, type_name(a), a.description);
        }
        out.push('\n');
    }
    out
}

fn nested(out: &mut String, b: &Block) {
    for a in &b.attributes {
        out.push_str(&attribute_line(a));
    }
    out.push('\n');
}

fn attribute_line(a: &Attribute) -> String {
    let mut flags = vec![type_name(a)];
    flags.push(match a.mode {
        Mode::Required => "Required".into(),
        _ => "Optional".into(),
    });
    if a.sensitive {
        flags.push("Sensitive".into());
    }
    let mut s = format!("- `{}` ({}) {}", a.name, flags.join(", "), a.description);
    if let Some(d) = &a.default {
        let _ = write!(s, " Default: `{d}`.");
    }
    if a.forces_new {
        s.push_str(" Changing it replaces the resource.");
    }
    s.push('\n');
    s
}

fn type_name(a: &Attribute) -> String {
    use crate::tf::value::Type;
    fn name(t: &Type) -> String {
        match t {
            Type::Bool => "Boolean".into(),
            Type::Number => "Number".into(),
            Type::String => "String".into(),
            Type::List(e) => format!("List of {}", name(e)),
            Type::Set(e) => format!("Set of {}", name(e)),
            Type::Map(e) => format!("Map of {}", name(e)),
            Type::Object(_) => "Object".into(),
            Type::Tuple(_) => "Tuple".into(),
            Type::Dynamic => "Dynamic".into(),
        }
    }
    name(&a.ty)
}

fn first_sentence(s: &str) -> &str {
    match s.find(". ") {
        Some(i) => &s[..=i],
        None => s,
    }
}

/// Replaces the generated section of a doc page; `None` when the markers are missing.
pub fn splice(page: &str, generated: &str) -> Option<String> {
    let start = page.find(BEGIN)? + BEGIN.len();
    let end = page.find(END)?;
    if end < start {
        return None;
    }
    Some(format!(
        "{}\n\n{}{}",
        &page[..start],
        generated,
        &page[end..]
    ))
}
