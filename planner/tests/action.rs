//! The pull-request Action (planner/actions/preview): its comment script run against a fake `gh`
//! that keeps a pull request's comments in a file, its installer against a fake `gh` that serves
//! release assets from a directory, and the Action's and the example workflow's pins and
//! permissions.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn action_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("actions/preview")
}

/// A fake `gh api` for post-comment.sh: the comments of pull request 42 of acme/infra in
/// $FAKE_GH_STATE, with the jq filters the script uses.
const FAKE_GH: &str = r#"#!/usr/bin/env python3
import json, os, re, sys
state = os.environ["FAKE_GH_STATE"]
data = json.load(open(state))
args = sys.argv[1:]
assert args[0] == "api", args
method, path, jq, fields, i = "GET", None, None, {}, 1
while i < len(args):
    a = args[i]
    if a == "--paginate":
        i += 1
    elif a == "--method":
        method, i = args[i + 1], i + 2
    elif a == "--jq":
        jq, i = args[i + 1], i + 2
    elif a == "-f":
        k, v = args[i + 1].split("=", 1)
        fields[k], i = v, i + 2
    else:
        path, i = a, i + 1
data["calls"].append([method, path])
listing = "repos/acme/infra/issues/42/comments"
one = re.fullmatch(r"repos/acme/infra/issues/comments/(\d+)", path or "")
if method == "GET" and path == listing:
    prefix = re.search(r'startswith\("(.*?)"\)\)', jq).group(1)
    for c in data["comments"]:
        if c["body"].startswith(prefix):
            print(f'{c["id"]} {c["body"].split(chr(10))[0]}')
elif method == "GET" and one:
    assert jq == ".body", jq
    print(next(c["body"] for c in data["comments"] if c["id"] == int(one.group(1))))
elif method == "POST" and path == listing:
    data["next"] = data.get("next", 100) + 1
    data["comments"].append({"id": data["next"], "body": fields["body"]})
elif method == "PATCH" and one:
    c = next(c for c in data["comments"] if c["id"] == int(one.group(1)))
    c["body"] = fields["body"]
elif method == "DELETE" and one:
    data["comments"] = [c for c in data["comments"] if c["id"] != int(one.group(1))]
else:
    sys.exit(f"fake gh: unexpected {method} {path}")
json.dump(data, open(state, "w"))
"#;

struct Pr {
    dir: PathBuf,
    state: PathBuf,
}

impl Pr {
    fn new(name: &str) -> Pr {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("action-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let gh = dir.join("gh");
        std::fs::write(&gh, FAKE_GH).unwrap();
        std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let state = dir.join("comments.json");
        std::fs::write(
            &state,
            r#"{"comments": [{"id": 1, "body": "LGTM"}], "calls": []}"#,
        )
        .unwrap();
        Pr { dir, state }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// Runs post-comment.sh; returns (success, stderr).
    fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(action_dir().join("post-comment.sh"))
            .args(args)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("FAKE_GH_STATE", &self.state)
            .env("GITHUB_REPOSITORY", "acme/infra")
            .env("PR_NUMBER", "42")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) {
        let (ok, stderr) = self.run(args);
        assert!(ok, "post-comment.sh {args:?}: {stderr}");
    }

    fn comments(&self) -> Vec<Value> {
        let s: Value =
            serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap();
        s["comments"].as_array().unwrap().clone()
    }

    fn body(&self, n: usize) -> String {
        self.comments()[n]["body"].as_str().unwrap().to_owned()
    }
}

fn marker(id: &str, part: u32, sha: &str) -> String {
    format!("<!-- immutable-release-preview: {id} | part {part} | commit {sha} -->")
}

#[test]
fn the_preview_comment_is_kept_current() {
    let pr = Pr::new("current");
    let preview = "## Release preview\n\n**Plan: 1 release to run.**\n";
    let a = "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111";
    let b = "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222";
    let p1 = pr.file("preview.md", preview);

    // The first preview: one comment, other comments left alone.
    pr.ok(&["post", "infra", a, &p1]);
    assert_eq!(pr.comments().len(), 2);
    assert_eq!(pr.body(0), "LGTM");
    assert_eq!(
        pr.body(1),
        format!("{}\n{}", marker("infra", 1, a), preview.trim_end())
    );

    // A new commit is pushed: while it is planned, the old preview says it is outdated.
    pr.ok(&["outdated", "infra", b]);
    let outdated = pr.body(1);
    assert!(outdated.starts_with(&format!("{}\n> [!WARNING]\n> **Outdated**: this preview is of commit `aaaa1111aaaa`; the pull request is now at `bbbb2222bbbb`", marker("infra", 1, a))), "{outdated}");
    assert!(outdated.ends_with(preview.trim_end()));
    pr.ok(&["outdated", "infra", b]);
    assert_eq!(pr.body(1), outdated, "marked once");
    pr.ok(&["outdated", "infra", a]);
    pr.ok(&["post", "infra", a, &p1]);
    pr.ok(&["outdated", "infra", a]);
    assert!(
        !pr.body(1).contains("Outdated"),
        "a preview of the commit itself is current"
    );
    pr.ok(&["outdated", "infra", b]);

    // Its plan fails: the error replaces the preview, in place.
    let log = pr.file(
        "plan.log",
        "Initializing...\n\u{1b}[31mError: Invalid value for variable\u{1b}[0m\n\n  on main.tf line 3, in `variable \"tag\"`:\n```\nboom\n",
    );
    pr.ok(&["failed", "infra", b, &log]);
    assert_eq!(pr.comments().len(), 2);
    let failed = pr.body(1);
    assert!(failed.starts_with(&format!("{}\n## Release preview\n\n> [!CAUTION]\n> **The plan of commit `bbbb2222bbbb` failed**", marker("infra", 1, b))), "{failed}");
    assert!(
        failed.contains("Error: Invalid value for variable\n"),
        "colour codes removed: {failed}"
    );
    assert!(
        failed.contains("in 'variable \"tag\"':"),
        "backticks neutralised: {failed}"
    );
    assert_eq!(
        failed.matches("```").count(),
        2,
        "one closed fence: {failed}"
    );
    assert!(!failed.contains("Outdated") && !failed.contains("1 release to run"));

    // A split preview: two parts; then a shorter one deletes the part it no longer has.
    let c = "cccc3333cccc3333cccc3333cccc3333cccc3333";
    let part2 = pr.file("2.md", "## Release preview (2 of 2)\n");
    pr.ok(&["post", "infra", c, &p1, &part2]);
    assert_eq!(pr.comments().len(), 3);
    assert!(pr.body(2).starts_with(&marker("infra", 2, c)));
    pr.ok(&["outdated", "infra", "dddd"]);
    assert!(pr.body(2).contains("**Outdated**"), "every part is marked");
    pr.ok(&["post", "infra", "dddd", &p1]);
    assert_eq!(pr.comments().len(), 2);
    assert_eq!(
        pr.body(1),
        format!("{}\n{}", marker("infra", 1, "dddd"), preview.trim_end())
    );

    // Another Terraform directory has comments of its own.
    pr.ok(&["post", "services/api", "dddd", &p1]);
    assert_eq!(pr.comments().len(), 3);
    assert!(pr.body(1).starts_with(&marker("infra", 1, "dddd")));
    assert!(pr.body(2).starts_with(&marker("services/api", 1, "dddd")));
    assert_eq!(pr.body(0), "LGTM");
}

#[test]
fn bad_arguments_are_refused_before_any_call() {
    let pr = Pr::new("bad");
    let p = pr.file("p.md", "x");
    for (args, needle) in [
        (
            &["post", "in\"fra", "abc", &p][..],
            "the ID must be one line",
        ),
        (&["post", "a-->b", "abc", &p], "the ID must be one line"),
        (
            &["post", "infra", "not-a-sha", &p],
            "SHA must be a commit id",
        ),
        (&["post", "infra", "abc"], "usage"),
        (&["remove", "infra", "abc"], "usage"),
    ] {
        let (ok, stderr) = pr.run(args);
        assert!(!ok, "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&pr.state).unwrap()).unwrap();
    assert_eq!(s["calls"], json!([]));
}

/// Every action the composite Action and the example workflow use is pinned to a commit, and
/// the workflow grants nothing by default and the job only what it uses.
#[test]
fn actions_are_pinned_and_permissions_least() {
    let action = std::fs::read_to_string(action_dir().join("action.yml")).unwrap();
    let workflow = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pr-preview/release-preview.yml"),
    )
    .unwrap();
    let mut pinned = 0;
    for (file, text) in [("action.yml", &action), ("release-preview.yml", &workflow)] {
        for line in text.lines().filter(|l| {
            l.trim_start().starts_with("- uses:") || l.trim_start().starts_with("uses:")
        }) {
            let target = line.split("uses:").nth(1).unwrap().trim();
            if target.starts_with("immutable-release/terraform-provider-immutable/") {
                continue; // this repository's own Action: the user pins it (documented)
            }
            let (_, rev) = target
                .split_once('@')
                .unwrap_or_else(|| panic!("{file}: {line}"));
            let sha = rev.split_whitespace().next().unwrap();
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{file}: not pinned to a commit: {line}"
            );
            assert!(
                rev.contains("# v"),
                "{file}: say which version the commit is: {line}"
            );
            pinned += 1;
        }
    }
    assert!(pinned >= 4, "{pinned}");
    assert!(action.contains("using: composite"));
    assert!(
        action.contains("install-planner.sh\" \"$VERSION\" \"$REPO\""),
        "the planner comes from the release, checked by install-planner.sh"
    );
    assert!(!action.contains("cargo "), "nothing is built from source");
    assert!(
        workflow.contains("\npermissions: {}\n"),
        "nothing granted by default"
    );
    let job_permissions: Vec<&str> = workflow
        .lines()
        .skip_while(|l| l.trim() != "permissions:")
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(
        job_permissions,
        ["contents: read", "pull-requests: write", "id-token: write"]
    );
}

/// A fake `gh release download` serving $FAKE_RELEASES/<tag>/<asset>.
const FAKE_GH_RELEASES: &str = r#"#!/usr/bin/env python3
import os, shutil, sys
args = sys.argv[1:]
assert args[:2] == ["release", "download"], args
tag, rest = args[2], args[3:]
opts, patterns, i = {}, [], 0
while i < len(rest):
    if rest[i] == "--clobber":
        i += 1
    elif rest[i] == "--pattern":
        patterns.append(rest[i + 1]); i += 2
    else:
        opts[rest[i]] = rest[i + 1]; i += 2
assert opts["--repo"] == "acme/planner", opts
src = os.path.join(os.environ["FAKE_RELEASES"], tag)
for p in patterns:
    path = os.path.join(src, p)
    if not os.path.exists(path):
        sys.exit(f"no assets match the file pattern {p}")
    shutil.copy(path, os.path.join(opts["--dir"], p))
"#;

/// The planner's zip name on this machine, as the release names it.
fn zip_name(version: &str) -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("release-planner_{version}_{os}_{arch}.zip")
}

#[test]
fn the_planner_is_installed_from_the_release_only_when_its_checksum_matches() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let release = dir.join("releases/v0.1.0");
    std::fs::create_dir_all(&release).unwrap();
    let gh = dir.join("gh");
    std::fs::write(&gh, FAKE_GH_RELEASES).unwrap();
    std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let zip = zip_name("0.1.0");
    let sums = "release-planner_0.1.0_SHA256SUMS";
    let make_zip = |script: &str| {
        let status = Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\ni = zipfile.ZipInfo('planner')\ni.external_attr = 0o755 << 16\nz.writestr(i, sys.argv[2])\nz.close()",
            ])
            .arg(release.join(&zip))
            .arg(script)
            .status()
            .unwrap();
        assert!(status.success());
    };
    let write_sums = || {
        let out = Command::new("sha256sum")
            .arg(&zip)
            .current_dir(&release)
            .output()
            .unwrap();
        std::fs::write(release.join(sums), out.stdout).unwrap();
    };
    let install = |dest: &str| {
        Command::new(action_dir().join("install-planner.sh"))
            .args(["v0.1.0", "acme/planner"])
            .arg(dir.join(dest))
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("FAKE_RELEASES", dir.join("releases"))
            .output()
            .unwrap()
    };

    make_zip("#!/bin/sh\necho planner 0.1.0\n");
    write_sums();
    let out = install("good");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(Path::new(&bin), dir.join("good/bin"));
    let version = Command::new(Path::new(&bin).join("planner"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout), "planner 0.1.0\n");

    // The zip is swapped after the sums were made: refused, nothing installed.
    make_zip("#!/bin/sh\necho evil\n");
    let out = install("tampered");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("but release-planner_0.1.0_SHA256SUMS says"),
        "{stderr}"
    );
    assert!(!dir.join("tampered/bin/planner").exists());

    // Sums that do not list the zip, and a release without sums: refused.
    std::fs::write(
        release.join(sums),
        "0000  release-planner_0.1.0_other.zip\n",
    )
    .unwrap();
    let out = install("unlisted");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not list"));
    std::fs::remove_file(release.join(sums)).unwrap();
    let out = install("no-sums");
    assert!(!out.status.success());
    assert!(!dir.join("no-sums/bin/planner").exists());
}
