//! Signals for end-to-end tests: stop a live run once it has written, and check that no
//! process is left behind.

use std::time::{Duration, Instant};

/// Waits until `has_output`, then `linger_ms`, sends SIGTERM to `child` and asserts it
/// exits successfully.
pub fn sigterm_once_output(
    mut child: std::process::Child,
    linger_ms: u64,
    has_output: impl Fn() -> bool,
) {
    let started = Instant::now();
    while !has_output() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no output from the live run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(linger_ms));
    sigterm(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "a signal stops the run cleanly: {status}");
}

pub fn sigterm(child: &std::process::Child) {
    let rc = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(rc.success());
}

/// Processes whose command line mentions `needle` (other than this test's own).
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) && e.file_name() != std::process::id().to_string().as_str() {
            found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
        }
    }
    found
}
