//! Publishing like any provider (issue 15), on the debug binaries every other end-to-end test
//! drives, packaged by `scripts/release --binary` (a release build of the AWS SDK takes ~15
//! minutes; tests/release_build.rs makes the real ones): the Registry's artifact names and
//! contents, the sums and their GPG signature (a throwaway key), the network mirror and registry
//! tree served by a static HTTPS server of the test's own (a throwaway CA through
//! `SSL_CERT_FILE`), `terraform init` from them offline with the lock file a team commits, and
//! what `scripts/release` says a platform lacks.

use std::process::Command;
use std::sync::OnceLock;

use e2e_tests::publish::*;
use e2e_tests::{plugin_dir, PLUGIN_BINARY};

const FIXTURE: fn() -> Result<Release, String> = package_debug_build;

fn release() -> &'static Release {
    static RELEASE: OnceLock<Result<Release, String>> = OnceLock::new();
    match RELEASE.get_or_init(FIXTURE) {
        Ok(release) => release,
        Err(e) => panic!("{e}"),
    }
}

/// The debug binaries packaged as this machine's platform's release, signed.
fn package_debug_build() -> Result<Release, String> {
    let work = target_dir().join("publish-test/debug");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let (gnupg, fingerprint) = throwaway_gpg_key(&work.join("gnupg"))?;
    let dist = fresh_dir(&work.join("dist"));
    let bin = plugin_dir();
    let provider = format!("{AMD64}={}", bin.join(PLUGIN_BINARY).display());
    let planner = format!("{AMD64}={}", bin.join("planner").display());
    run_release(
        &repo_root(),
        &target_dir(),
        &[
            "--out",
            dist.to_str().unwrap(),
            "--binary",
            &provider,
            "--planner-binary",
            &planner,
            "--sign",
            &fingerprint,
        ],
        &[("GNUPGHOME", &gnupg)],
        &work.join("release.log"),
    )?;
    Ok(Release {
        work,
        dist,
        gnupg,
        fingerprint,
        platforms: vec![AMD64],
        arm64_missing: Some("tests/publish.rs packages this machine's debug build only (no test builds linux_arm64 yet)".into()),
    })
}

#[test]
fn release_writes_the_registry_artifacts_and_a_mirror() {
    check_artifacts(release());
}

#[test]
fn the_sums_carry_a_detached_signature_of_the_given_key() {
    check_signatures(release());
}

#[test]
fn terraform_installs_from_the_https_network_mirror_with_a_committed_lock_file() {
    check_network_mirror_install(release());
}

#[test]
fn terraform_installs_from_the_signed_registry_tree_with_every_zh_hash_locked() {
    check_registry_install(release());
}

#[test]
fn release_says_what_a_platform_needs() {
    let out = Command::new(repo_root().join("scripts/release"))
        .args([
            "--check-only",
            "--platform",
            "darwin_arm64,windows_amd64,plan9_amd64",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("unknown platform plan9_amd64"), "{err}");

    let out = Command::new(repo_root().join("scripts/release"))
        .args(["--check-only", "--platform", "darwin_arm64,windows_amd64"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for needle in [
        "darwin_arm64: build it on a darwin runner",
        "windows_amd64: build it on a windows runner",
        "docs/release-workflow.yml",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn release_refuses_a_binary_of_another_version() {
    let scratch = fresh_dir(&target_dir().join("publish-test/stale"));
    let fake = scratch.join("stale-provider");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho terraform-provider-immutable 0.0.1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(repo_root().join("scripts/release"))
        .arg("--out")
        .arg(scratch.join("dist"))
        .arg("--binary")
        .arg(format!("{AMD64}={}", fake.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(
            "reports 'terraform-provider-immutable 0.0.1', expected terraform-provider-immutable"
        ),
        "{err}"
    );
    assert!(!scratch
        .join(format!("dist/{}", provider_zip(AMD64)))
        .exists());
}
