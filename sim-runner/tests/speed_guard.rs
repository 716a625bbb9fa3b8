//! CI's speed guard fails when the testbed's cost per message exceeds its limit. A limit of
//! 1x bare madsim is a slowdown planted in the limit instead of the code: the testbed
//! runs madsim plus a whole member for every message, so it cannot be as cheap, and the
//! guard must say so with exit code 1.

use std::process::Command;

#[test]
fn the_speed_guard_fails_over_its_limit() {
    let out = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .args(["bench", "--guard", "1.0", "--runs", "1"])
        .output()
        .expect("sim-runner runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("speed guard FAILED"), "{text}");
    assert!(text.contains("over the 1.00x limit"), "{text}");
}

#[test]
fn the_speed_guard_refuses_a_report_option() {
    let out = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .args(["bench", "--guard", "2.0", "--only", "checker"])
        .output()
        .expect("sim-runner runs");
    assert_eq!(out.status.code(), Some(2));
}
