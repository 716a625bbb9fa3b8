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
