//! Publishing like any provider (issue 15), on a real release build: `scripts/release` builds
//! linux_amd64 (the flags it makes release builds with: path remaps, locked dependencies, no
//! RUSTFLAGS of the caller) and the checks of tests/publish.rs run on it: the Registry's
//! artifacts, the signature, and `terraform init` from the HTTPS mirror with a committed lock
//! file, with the optimised binary serving Terraform.
//!
//! Cost: the release build goes to the target directory the tests run from (its release profile
//! and `x86_64-unknown-linux-gnu/release`) and is kept there, so a warm target directory rebuilds
//! only the workspace crates (measured: 5 min for a change in the provider crate on the shared
//! 2-core machine; cold: 80 min there under the load of four builds).

use std::sync::OnceLock;

use e2e_tests::publish::*;

const FIXTURE: fn() -> Result<Release, String> = build_release;

fn release() -> &'static Release {
    static RELEASE: OnceLock<Result<Release, String>> = OnceLock::new();
    match RELEASE.get_or_init(FIXTURE) {
        Ok(release) => release,
        Err(e) => panic!("{e}"),
    }
}

/// A real release of linux_amd64, signed with a throwaway key.
fn build_release() -> Result<Release, String> {
    release_of(&[AMD64], target_dir().join("publish-test"))
}

fn release_of(platforms: &[&'static str], work: std::path::PathBuf) -> Result<Release, String> {
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let (gnupg, fingerprint) = throwaway_gpg_key(&work.join("gnupg"))?;
    let dist = fresh_dir(&work.join("dist"));
    let platform_list = platforms.join(",");
    run_release(
        &repo_root(),
        &target_dir(),
        &[
            "--out",
            dist.to_str().unwrap(),
            "--platform",
            &platform_list,
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
        platforms: platforms.to_vec(),
        arm64_missing: Some("tests/release_build.rs builds linux_amd64 only".into()),
    })
}

#[test]
fn release_build_writes_the_registry_artifacts() {
    check_artifacts(release());
}

#[test]
fn the_release_sums_are_signed() {
    check_signatures(release());
}

#[test]
fn terraform_installs_the_release_build_from_the_https_mirror() {
    check_network_mirror_install(release());
}
