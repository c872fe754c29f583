//! Publishing like any provider (issue 15), on real release builds. `scripts/release` builds
//! linux_amd64 and the cross-built linux_arm64 from a copy of the checkout, and the checks of
//! tests/publish.rs run on them: the Registry's artifacts, the signature, `terraform init` from
//! the HTTPS mirror with a committed lock file holding both platforms' hashes, and the arm64
//! binary serving the real terraform under qemu-user. A second amd64 build, from a checkout at
//! another path with another CARGO_HOME, must give byte-identical zips and sums, and no build
//! path may be found in any released binary.
//!
//! linux_arm64 needs the aarch64 standard library (`rustup target add
//! aarch64-unknown-linux-gnu`), Debian's `gcc-aarch64-linux-gnu libc6-dev-arm64-cross` and
//! `qemu-user`; scripts/test installs them. Where one cannot be had, the arm64 parts say
//! SKIPPED and why (what `scripts/release --check-only` reports), and everything else runs.
//!
//! Cost: the builds go to the target directory the tests run from (`release-build/`, the
//! release profile under `<triple>/release`) and are kept there. The compiler sees the same
//! paths from any checkout, so a kept target directory stays warm: a cold one compiles the AWS
//! SDK once per platform, a warm one the workspace crates only (numbers in BENCHMARKS.md).

use std::process::Command;
use std::sync::OnceLock;

use e2e_tests::publish::*;

fn release() -> &'static Release {
    static RELEASE: OnceLock<Result<Release, String>> = OnceLock::new();
    match RELEASE.get_or_init(build_release) {
        Ok(release) => release,
        Err(e) => panic!("{e}"),
    }
}

/// A real, signed release of both Linux platforms (amd64 alone where arm64 cannot be built),
/// from a copy of the checkout under the test's work directory.
fn build_release() -> Result<Release, String> {
    let work = target_dir().join("publish-test");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let checkout = work.join("checkout-a");
    copy_checkout(&checkout);
    let (gnupg, fingerprint) = throwaway_gpg_key(&work.join("gnupg"))?;

    let check = Command::new(checkout.join("scripts/release"))
        .args(["--check-only", "--platform", ARM64])
        .output()
        .map_err(|e| format!("scripts/release --check-only: {e}"))?;
    let arm64_missing = (!check.status.success())
        .then(|| String::from_utf8_lossy(&check.stderr).trim().to_string());
    let platforms = match &arm64_missing {
        None => vec![AMD64, ARM64],
        Some(why) => {
            eprintln!("SKIPPED the linux_arm64 build and its checks: {why}");
            vec![AMD64]
        }
    };

    let dist = fresh_dir(&work.join("dist"));
    let platform_list = platforms.join(",");
    run_release(
        &checkout,
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
        platforms,
        arm64_missing,
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
fn terraform_installs_the_release_build_from_the_https_mirror_and_locks_both_platforms() {
    check_network_mirror_install(release());
}

#[test]
fn the_arm64_build_serves_terraform_under_qemu_user() {
    check_arm64_under_qemu(release());
}

#[test]
fn no_build_path_is_in_the_released_binaries() {
    let release = release();
    check_no_build_paths(
        &release.dist,
        &release.work.join("unpacked-a"),
        &[&release.work.join("checkout-a")],
    );
}

#[test]
fn two_builds_from_other_paths_and_cargo_homes_are_byte_identical() {
    check_reproducible(release());
}
