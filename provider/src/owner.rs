//! Who is working: host and process, written on temporary objects and release locks so that a
//! later apply on the same machine can tell at once that the process which made them is gone
//! (killed apply, cancelled CI job) and take over, instead of waiting for an expiry.

use std::fs;

/// `host:pid:start-ticks`. The process start time guards against a reused pid.
pub fn current() -> String {
    let pid = std::process::id();
    format!("{}:{}:{}", hostname(), pid, start_ticks(pid).unwrap_or(0))
}

/// True only when the owner ran on this host and that exact process no longer exists.
/// Unknown formats and other hosts are never judged dead: expiry handles them.
pub fn is_dead_local(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(ticks), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(ticks)) = (pid.parse::<u32>(), ticks.parse::<u64>()) else {
        return false;
    };
    if host != hostname() {
        return false;
    }
    match process_stat(pid) {
        None => true,
        // A zombie has exited; only its exit status waits to be collected.
        Some((state, _)) if state == 'Z' || state == 'X' => true,
        Some((_, t)) => t != ticks,
    }
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".to_string())
}

fn start_ticks(pid: u32) -> Option<u64> {
    process_stat(pid).map(|(_, t)| t)
}

/// Fields 3 (state) and 22 (start time in clock ticks since boot) of /proc/<pid>/stat.
fn process_stat(pid: u32) -> Option<(char, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18)?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_pid_is_dead() {
        let me = current();
        assert!(!is_dead_local(&me), "{me}");
        let (rest, _) = me.rsplit_once(':').unwrap();
        // Same pid, different start time: a reused pid, so the original owner is gone.
        assert!(is_dead_local(&format!("{rest}:1")));
        let host = hostname();
        assert!(is_dead_local(&format!("{host}:4000000000:5")));
        assert!(!is_dead_local("other-host:1:1"));
        assert!(!is_dead_local("garbage"));
    }
}
