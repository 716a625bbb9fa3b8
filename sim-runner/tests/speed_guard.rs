//! CI's speed guard fails when the testbed's cost per message exceeds its limit: with a
//! slowdown planted in the code (every message spins first), and with a limit no testbed
//! can meet (1x bare madsim: the testbed runs madsim plus a whole member per message).

use std::process::Command;

/// Runs `sim-runner bench` with `args`: its exit code and what it printed.
fn bench(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .arg("bench")
        .args(args)
        .output()
        .expect("sim-runner runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn the_speed_guard_fails_over_its_limit() {
    let (code, text) = bench(&["--guard", "1.0", "--runs", "1"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("speed guard FAILED"), "{text}");
    assert!(text.contains("over the 1.00x limit"), "{text}");
}

/// The ratio the guard printed ("...: 1.84x (limit 50.00x)").
fn ratio(stdout: &str) -> f64 {
    let before = stdout
        .split("x (limit")
        .next()
        .expect("the guard prints its ratio");
    before
        .rsplit(' ')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no ratio in {stdout}"))
}

#[test]
fn the_speed_guard_fails_on_a_planted_slowdown() {
    let guard = |limit: &str, spin: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
            .args([
                "bench",
                "--guard",
                limit,
                "--runs",
                "1",
                "--plant-slowdown",
                spin,
            ])
            .output()
            .expect("sim-runner runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (out.status.code(), text)
    };
    // This build's own ratio, whatever its profile: the limit is twice that.
    let (code, text) = guard("50", "0");
    assert_eq!(code, Some(0), "{text}");
    let limit = format!("{:.2}", 2.0 * ratio(&text));
    // Every message now spins long enough to cost far more than the testbed itself.
    let (code, text) = guard(&limit, "60000");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("speed guard FAILED"), "{text}");
}

#[test]
fn the_speed_guard_refuses_a_report_option() {
    let (code, _) = bench(&["--guard", "2.0", "--only", "checker"]);
    assert_eq!(code, Some(2));
}
