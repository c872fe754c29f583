//! Every HCL example the docs and examples show is valid: `terraform validate` (the real CLI, the
//! freshly built plugin through dev_overrides, no AWS call) on each directory under `examples/`
//! and on each ```hcl block of `docs/`. A docs block is a snippet, so it is validated as a module
//! made of the block plus what a reader supplies around it: the `required_providers` header when
//! the block has none, the variables it uses, empty files for the `${path.module}/…` paths it
//! reads, and for a block of `import {}` blocks only, the page's first example (what it imports
//! into). Examples that need hashicorp/aws cannot be validated here (the aws provider cannot be
//! downloaded); they are listed in [`NEEDS_HASHICORP_AWS`] and a new one fails the test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e_tests::{plugin_dir, PROVIDER_SOURCE};

/// The examples that use hashicorp/aws resources, by `<file>` or `<file> block <n>`.
const NEEDS_HASHICORP_AWS: &[&str] = &[
    "examples/existing-asg",
    "docs/data-sources/image.md block 2",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// One module to validate: its name in messages and its files.
struct Case {
    name: String,
    files: Vec<(String, String)>,
}

fn uses_hashicorp_aws(text: &str) -> bool {
    text.contains("resource \"aws_")
        || text.contains("data \"aws_")
        || text.contains("hashicorp/aws")
}

/// Directories under examples/ that hold .tf files, with all their files.
fn example_dirs(dir: &Path, out: &mut Vec<Case>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut files = Vec::new();
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') {
                example_dirs(path, out);
            }
        } else if let Ok(text) = std::fs::read_to_string(path) {
            files.push((name, text));
        }
    }
    if files.iter().any(|(n, _)| n.ends_with(".tf")) {
        out.push(Case {
            name: dir.strip_prefix(repo_root()).unwrap().display().to_string(),
            files,
        });
    }
}

/// The ```hcl blocks of a Markdown page, in order.
fn hcl_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in page.lines() {
        match &mut current {
            None if line.trim_start() == "```hcl" || line.trim_start() == "```terraform" => {
                current = Some(String::new())
            }
            Some(_) if line.trim_start() == "```" => blocks.push(current.take().unwrap()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Names `var.<name>` uses in a text, minus the ones it declares.
fn undeclared_variables(text: &str) -> BTreeSet<String> {
    let words = |prefix: &str| -> BTreeSet<String> {
        text.match_indices(prefix)
            .map(|(i, _)| {
                text[i + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect::<String>()
            })
            .filter(|w| !w.is_empty())
            .collect()
    };
    let used = words("var.");
    let declared = words("variable \"");
    used.difference(&declared).cloned().collect()
}

/// The files a text reads as `${path.module}/<name>`.
fn module_files(text: &str) -> BTreeSet<String> {
    let prefix = "${path.module}/";
    text.match_indices(prefix)
        .map(|(i, _)| {
            text[i + prefix.len()..]
                .chars()
                .take_while(|c| !matches!(c, '"' | '}' | ')' | ' '))
                .collect()
        })
        .collect()
}

fn doc_cases(dir: &Path, out: &mut Vec<Case>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            doc_cases(&path, out);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let page = std::fs::read_to_string(&path).unwrap();
        let rel = path
            .strip_prefix(repo_root())
            .unwrap()
            .display()
            .to_string();
        let blocks = hcl_blocks(&page);
        for (i, block) in blocks.iter().enumerate() {
            let mut text = block.clone();
            let only_imports = block
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.starts_with('}') && !l.trim().is_empty())
                .all(|l| l.starts_with("import {"));
            if only_imports {
                text = format!("{}\n{text}", blocks[0]);
            }
            if !text.contains("required_providers") {
                text = format!(
                    "terraform {{\n  required_providers {{\n    immutable = {{ source = \"{PROVIDER_SOURCE}\" }}\n  }}\n}}\n\n{text}"
                );
            }
            let mut files = vec![("main.tf".to_string(), text.clone())];
            let vars: String = undeclared_variables(&text)
                .iter()
                .map(|v| format!("variable \"{v}\" {{\n  default = null\n}}\n"))
                .collect();
            if !vars.is_empty() {
                files.push(("variables.tf".into(), vars));
            }
            for f in module_files(&text) {
                files.push((f, "#!/bin/sh\n".into()));
            }
            out.push(Case {
                name: format!("{rel} block {}", i + 1),
                files,
            });
        }
    }
}

fn validate(case: &Case, scratch: &Path) -> Result<(), String> {
    let dir = scratch.join(case.name.replace(['/', ' '], "_"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in &case.files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let cli_config = dir.join(".terraformrc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_SOURCE}\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugin_dir().display()
        ),
    )
    .unwrap();
    let out = Command::new("terraform")
        .args(["validate", "-no-color"])
        .current_dir(&dir)
        .env("TF_CLI_CONFIG_FILE", &cli_config)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env_remove("TF_LOG")
        .env_remove("TF_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("terraform on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("The configuration is valid") {
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    } else {
        Err(format!("{} ({}):\n{text}", case.name, dir.display()))
    }
}

#[test]
fn every_hcl_example_in_docs_and_examples_validates() {
    let mut cases = Vec::new();
    example_dirs(&repo_root().join("examples"), &mut cases);
    doc_cases(&repo_root().join("docs"), &mut cases);
    let scratch =
        std::env::temp_dir().join(format!("immutable-doc-examples-{}", std::process::id()));

    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    let mut validated = 0;
    for case in &cases {
        if case.files.iter().any(|(_, t)| uses_hashicorp_aws(t)) {
            skipped.push(case.name.clone());
            continue;
        }
        match validate(case, &scratch) {
            Ok(()) => validated += 1,
            Err(e) => failures.push(e),
        }
    }
    eprintln!("validated {validated} examples; not validated (need hashicorp/aws): {skipped:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(
        skipped, NEEDS_HASHICORP_AWS,
        "only these examples may need hashicorp/aws (keep the others validatable)"
    );
    for must in [
        "examples/provider",
        "examples/resources/immutable_image",
        "examples/resources/rolling_asg_release",
        "examples/data-sources/immutable_image",
        "docs/index.md block 1",
    ] {
        assert!(
            cases.iter().any(|c| c.name == must),
            "{must} was not found among the examples"
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The validation can fail: an unknown argument in an otherwise valid example is refused.
#[test]
fn a_broken_example_fails_validation() {
    let dir = repo_root().join("examples/resources/immutable_image");
    let mut broken = Vec::new();
    example_dirs(&dir, &mut broken);
    let mut case = broken.pop().expect("the immutable_image example");
    for (name, text) in &mut case.files {
        if name == "resource.tf" {
            *text = text.replace("code_tag ", "code_tagg");
        }
    }
    let scratch = std::env::temp_dir().join(format!("immutable-doc-broken-{}", std::process::id()));
    let err = validate(&case, &scratch).expect_err("a misspelt argument must not validate");
    assert!(err.contains("code_tagg"), "{err}");
    let _ = std::fs::remove_dir_all(&scratch);
}
