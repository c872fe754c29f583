//! The `planner` binary is read-only by construction: the only AWS operations linked into it are
//! Describe calls (and the credential calls of aws-config's provider chain, which mint session
//! credentials and change nothing). The linker drops every operation the code cannot reach, so
//! the binary's symbol table lists exactly the reachable ones; this test reads it (ELF parsed
//! here, no binutils needed) and fails if a mutating operation becomes reachable.
//!
//! It also requires the describe operations the planner does use to be found, so a change in
//! symbol naming (mangling scheme, SDK layout, a stripped binary) fails the test instead of
//! making it pass vacuously.

use std::collections::BTreeSet;

/// Operations of these SDK crates may only be describe calls.
const RESOURCE_CRATES: [&str; 2] = ["aws_sdk_ec2", "aws_sdk_autoscaling"];

/// aws-config's credential providers (web identity, assume role, SSO): allowed, nothing else of
/// these crates.
const CREDENTIAL_OPERATIONS: [(&str, &str); 4] = [
    ("aws_sdk_sts", "assume_role"),
    ("aws_sdk_sts", "assume_role_with_web_identity"),
    ("aws_sdk_sso", "get_role_credentials"),
    ("aws_sdk_ssooidc", "create_token"),
];

/// What the release engine (the provider) calls, named here so the intent is explicit.
const MUTATING: [(&str, &str); 20] = [
    ("aws_sdk_ec2", "terminate_instances"),
    ("aws_sdk_ec2", "run_instances"),
    ("aws_sdk_ec2", "stop_instances"),
    ("aws_sdk_ec2", "create_image"),
    ("aws_sdk_ec2", "deregister_image"),
    ("aws_sdk_ec2", "delete_snapshot"),
    ("aws_sdk_ec2", "create_tags"),
    ("aws_sdk_ec2", "delete_tags"),
    ("aws_sdk_ec2", "create_launch_template_version"),
    ("aws_sdk_ec2", "modify_launch_template"),
    ("aws_sdk_ec2", "create_security_group"),
    ("aws_sdk_autoscaling", "update_auto_scaling_group"),
    ("aws_sdk_autoscaling", "set_desired_capacity"),
    (
        "aws_sdk_autoscaling",
        "terminate_instance_in_auto_scaling_group",
    ),
    ("aws_sdk_autoscaling", "suspend_processes"),
    ("aws_sdk_autoscaling", "resume_processes"),
    ("aws_sdk_autoscaling", "create_or_update_tags"),
    ("aws_sdk_autoscaling", "delete_tags"),
    ("aws_sdk_autoscaling", "create_launch_configuration"),
    ("aws_sdk_autoscaling", "set_instance_protection"),
];

#[test]
fn only_describe_operations_are_linked_into_the_planner() {
    let path = env!("CARGO_BIN_EXE_planner");
    let bytes = std::fs::read(path).expect("read the planner binary");
    let symbols = elf_symbols(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        symbols.len() > 1000,
        "{path} has only {} symbols: is it stripped?",
        symbols.len()
    );
    let ops: BTreeSet<(String, String)> = symbols.iter().flat_map(|s| operations(s)).collect();

    for needed in [
        ("aws_sdk_autoscaling", "describe_auto_scaling_groups"),
        ("aws_sdk_ec2", "describe_instances"),
    ] {
        assert!(
            ops.contains(&(needed.0.to_owned(), needed.1.to_owned())),
            "{needed:?} not found among the binary's AWS operations {ops:?}: the symbol scan no longer recognises the SDK's names, fix it before trusting this test"
        );
    }
    for (krate, op) in MUTATING {
        assert!(
            !ops.contains(&(krate.to_owned(), op.to_owned())),
            "the planner binary links the mutating operation {krate}::{op}: it must stay read-only (DESIGN principle 2)"
        );
    }
    let unexpected: Vec<String> = ops
        .iter()
        .filter(|(krate, op)| {
            if RESOURCE_CRATES.contains(&krate.as_str()) {
                !op.starts_with("describe_")
            } else {
                !CREDENTIAL_OPERATIONS.contains(&(krate.as_str(), op.as_str()))
            }
        })
        .map(|(k, o)| format!("{k}::{o}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the planner binary links AWS operations that are not describe calls: {unexpected:?}"
    );
}

/// `(crate, operation)` pairs named by one mangled symbol. Two spellings occur:
/// - path symbols, length-prefixed: `_ZN11aws_sdk_ec29operation18describe_instances...`
///   (also `6client<len><op>` for the fluent builders);
/// - impl symbols, `..`-separated: `_ZN..$LT$aws_sdk_ec2..operation..describe_instances..X$u20$as...`.
fn operations(symbol: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let b = symbol.as_bytes();
    let mut from = 0;
    while let Some(at) = symbol[from..].find("aws_sdk_").map(|i| i + from) {
        from = at + 1;
        // Length-prefixed: digits right before the crate name give its exact length.
        let digits_start = symbol[..at]
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits_start > 0 {
            let len: usize = symbol[at - digits_start..at].parse().unwrap_or(0);
            if at + len <= symbol.len() {
                let krate = &symbol[at..at + len];
                let rest = &symbol[at + len..];
                for module in ["9operation", "6client"] {
                    if let Some(op) = rest.strip_prefix(module).and_then(length_prefixed) {
                        // Operation modules are snake_case; `client::Client` and
                        // `client::customize` are not operations.
                        let snake = op.starts_with(|c: char| c.is_ascii_lowercase())
                            && op
                                .bytes()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
                        if snake && op != "customize" {
                            found.push((krate.to_owned(), op.to_owned()));
                        }
                    }
                }
            }
        }
        // `..`-separated.
        let krate_len = b[at..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let krate = &symbol[at..at + krate_len];
        if let Some(after) = symbol[at + krate_len..].strip_prefix("..operation..") {
            let op_len = after
                .bytes()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
                .count();
            if op_len > 0 {
                found.push((krate.to_owned(), after[..op_len].to_owned()));
            }
        }
    }
    found
}

/// `18describe_instances...` → `describe_instances`.
fn length_prefixed(s: &str) -> Option<&str> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let len: usize = s[..n].parse().ok()?;
    s.get(n..n + len)
}

/// Names of the ELF64 little-endian symbol tables (`.symtab` and `.dynsym`).
fn elf_symbols(b: &[u8]) -> Result<Vec<String>, String> {
    let u16_at = |o: usize| {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
    };
    let u32_at = |o: usize| {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap()) as usize)
    };
    let u64_at = |o: usize| {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap()) as usize)
    };
    if b.get(..4) != Some(b"\x7fELF") || b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let shoff = u64_at(0x28).ok_or("truncated header")?;
    let shentsize = u16_at(0x3A).ok_or("truncated header")?;
    let shnum = u16_at(0x3C).ok_or("truncated header")?;
    let section = |i: usize| {
        let h = shoff + i * shentsize;
        Some((
            u32_at(h + 4)?,
            u64_at(h + 24)?,
            u64_at(h + 32)?,
            u32_at(h + 40)?,
            u64_at(h + 56)?,
        ))
    };
    let mut names = Vec::new();
    for i in 0..shnum {
        let (kind, offset, size, link, entsize) = section(i).ok_or("truncated section header")?;
        const SHT_SYMTAB: usize = 2;
        const SHT_DYNSYM: usize = 11;
        if (kind != SHT_SYMTAB && kind != SHT_DYNSYM) || entsize == 0 {
            continue;
        }
        let (_, str_off, str_size, _, _) = section(link).ok_or("bad string table link")?;
        let strtab = b
            .get(str_off..str_off + str_size)
            .ok_or("string table out of the file")?;
        for s in 0..size / entsize {
            let name_off = u32_at(offset + s * entsize).ok_or("symbol out of the file")?;
            if let Some(rest) = strtab.get(name_off..) {
                let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                if end > 0 {
                    names.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                }
            }
        }
    }
    Ok(names)
}

#[test]
fn the_symbol_scan_reads_both_spellings() {
    assert_eq!(
        operations("_ZN11aws_sdk_ec29operation18describe_instances17DescribeInstances12orchestrate17h0123456789abcdefE"),
        [("aws_sdk_ec2".to_owned(), "describe_instances".to_owned())]
    );
    assert_eq!(
        operations("_ZN120_$LT$aws_sdk_autoscaling..operation..set_desired_capacity..SetDesiredCapacity$u20$as$u20$x$GT$5apply17hE"),
        [("aws_sdk_autoscaling".to_owned(), "set_desired_capacity".to_owned())]
    );
    assert_eq!(
        operations("_ZN11aws_sdk_ec26client6Client3new17h1E"),
        Vec::<(String, String)>::new()
    );
    assert_eq!(
        operations(
            "_ZN19aws_sdk_autoscaling6client40terminate_instance_in_auto_scaling_group17h1E"
        ),
        [(
            "aws_sdk_autoscaling".to_owned(),
            "terminate_instance_in_auto_scaling_group".to_owned()
        )]
    );
}
