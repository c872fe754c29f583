//! The framework knows no cloud: nothing it depends on, directly or through others, is an AWS SDK
//! crate (or release-planner, or the provider itself). The check walks the workspace's
//! Cargo.lock from this package, so a dependency added anywhere in its tree fails here — the same
//! answer as `cargo tree -p provider-framework`, without running cargo.
//!
//! aws-lc-rs / aws-lc-sys are allowed: they are rustls's cryptography backend (used by the whole
//! workspace with one feature set), not a client of any AWS API.

use std::collections::{BTreeMap, BTreeSet};

const ALLOWED_AWS_NAMED: [&str; 2] = ["aws-lc-rs", "aws-lc-sys"];

/// package name → names of its dependencies (versions dropped; the lock names one version of a
/// package by name alone, several by "name version").
fn lock_graph(lock: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = BTreeSet::new();
        let mut in_deps = false;
        for line in package.lines() {
            let line = line.trim();
            if let Some(v) = line.strip_prefix("name = ") {
                name = Some(v.trim_matches('"').to_string());
            } else if line.starts_with("dependencies = [") {
                in_deps = !line.ends_with(']');
            } else if in_deps {
                if line == "]" {
                    in_deps = false;
                } else {
                    let dep = line.trim_end_matches(',').trim_matches('"');
                    deps.insert(dep.split(' ').next().unwrap_or(dep).to_string());
                }
            }
        }
        if let Some(name) = name {
            graph.entry(name).or_default().extend(deps);
        }
    }
    graph
}

fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(p) = todo.pop() {
        if seen.insert(p.clone()) {
            todo.extend(graph.get(&p).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn no_aws_sdk_crate_is_reachable_from_the_framework() {
    let lock_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let lock = std::fs::read_to_string(lock_path).expect("the workspace's Cargo.lock");
    let graph = lock_graph(&lock);
    // The walk itself must work: the provider reaches the SDK, the framework reaches tonic.
    let provider = reachable(&graph, "terraform-provider-immutable");
    assert!(
        provider.contains("aws-sdk-ec2"),
        "lock not parsed: {provider:?}"
    );
    let framework = reachable(&graph, env!("CARGO_PKG_NAME"));
    assert!(
        framework.contains("tonic"),
        "lock not parsed: {framework:?}"
    );

    let forbidden: Vec<&String> = framework
        .iter()
        .filter(|p| {
            (p.starts_with("aws-") && !ALLOWED_AWS_NAMED.contains(&p.as_str()))
                || matches!(
                    p.as_str(),
                    "release-planner" | "terraform-provider-immutable"
                )
        })
        .collect();
    assert!(
        forbidden.is_empty(),
        "the framework must not depend on {forbidden:?}"
    );
}
