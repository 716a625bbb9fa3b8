//! Bad command lines are refused before anything runs (exit 2, a clear message), and a
//! closed pipe ends the program quietly.

use std::process::{Command, Stdio};

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim-runner"))
}

#[test]
fn bad_flag_combinations_are_refused_before_any_run() {
    for (args, says) in [
        (
            vec!["--scenario", "chaos", "--seeds", "0..18446744073709551615"],
            "at most",
        ),
        (
            vec!["--scenario", "chaos", "--seeds", "0..2", "--shard", "5/5"],
            "has no seeds",
        ),
        (
            vec!["--scenario", "basic", "--shrink"],
            "no [chaos] section",
        ),
        (
            vec!["--scenario", "basic", "--report", "/proc/no/such/dir"],
            "cannot write",
        ),
        (
            vec![
                "--scenario",
                "chaos",
                "--seeds",
                "0..2",
                "--min-mark-share",
                "101",
            ],
            "percentage",
        ),
    ] {
        let out = runner().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} ran something");
    }
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    let mut child = runner()
        .args(["--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the program prints: its first line meets a closed pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// A scenario whose links break Raft's timing requirement runs, with a warning at load
/// that liveness will not be judged (and why), not a failure.
#[test]
fn links_slower_than_the_election_timeout_get_a_warning_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.toml");
    let text = "name = \"slow\"\ndescription = \"round trips past the election timeout\"\nduration_ms = 3000\n[cluster]\ntick_ms = 50\nelection_ticks = 20\nheartbeat_ticks = 2\n[network]\nlatency_min_us = 5000\nlatency_max_us = 600000\n";
    std::fs::write(&path, text).unwrap();
    let out = runner()
        .args(["--scenario", path.to_str().unwrap(), "--seed", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("liveness will not be judged"),
        "{err}"
    );
    assert_ne!(out.status.code(), Some(2), "{err}");
}
