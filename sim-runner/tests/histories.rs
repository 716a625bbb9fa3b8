//! Histories in and out: a run's history exported with `--history` and judged again by
//! `check-history` gets the run's own verdict, and the sample histories in `histories/`
//! get theirs (exit 0 linearizable, 1 violation, 3 undecided).

use check::history_file;
use check::linearizability::{check_witnessed, Options, TimeUnit};
use check::{Property, Verdict};
use sim_runner::{judge, scenarios};
use std::process::Command;

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim-runner"))
}

/// The run's own linearizability verdict, and the one check-history gives its exported
/// history, agree (both held or both violated).
fn round_trip(scenario: &str, seed: u64, canaries: sim::Canaries) -> bool {
    let loaded = scenarios::load(scenario).unwrap();
    let run = judge::run(&loaded, seed, canaries);
    let own = run.verdict(Property::Linearizability).cloned().unwrap();
    let applied = check::applied_order(&run.events);
    let start = check::store_model::START_REVISION;
    let text = history_file::write_with(&run.history, true, start, Some(&applied));
    let file = history_file::parse(&text).unwrap();
    assert_eq!(file.ops.len(), run.history.len());
    assert!(file.revisions, "the simulator records revisions");
    let options = Options {
        unit: TimeUnit::AsGiven,
        revisions: file.revisions,
        complete: file.complete,
        start_revision: file.start_revision,
        ..Options::default()
    };
    let again = check_witnessed(&file.ops, file.applied.as_deref(), &options).verdict();
    assert_eq!(
        own.is_violated(),
        again.is_violated(),
        "{scenario} seed {seed}: {own:?} vs {again:?}"
    );
    assert_eq!(own.held(), again.held());
    own.held()
}

#[test]
fn exported_chaos_histories_get_the_runs_own_verdict() {
    for seed in 0..6 {
        assert!(round_trip("chaos", seed, sim::Canaries::default()));
    }
    // And a run with a planted bug: both find the violation.
    let mut c = sim::Canaries::default();
    c.node.cas_compares_create_revision = true;
    assert!(!round_trip("chaos", 0, c));
}

#[test]
fn history_flag_writes_a_file_that_check_history_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("basic.jsonl");
    let out = runner()
        .args(["--scenario", "basic", "--seed", "3", "--history"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = runner().arg("check-history").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("linearizable:"), "{text}");
    // A path that cannot be written fails before the run, as bad input.
    let out = runner()
        .args([
            "--scenario",
            "basic",
            "--history",
            "/nonexistent-dir/h.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_sample_histories_get_their_verdicts() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../histories/");
    for (file, code, says) in [
        ("linearizable.jsonl", 0, "linearizable:"),
        ("revisions.jsonl", 0, "linearizable:"),
        ("stale-read.jsonl", 1, "NOT linearizable"),
        ("revision-went-back.jsonl", 1, "revisions went back"),
        // Complete (its header says so): revision 2 was made by no write that could.
        (
            "revision-gap.jsonl",
            1,
            "must have made revision 2, and none can",
        ),
    ] {
        let out = runner()
            .arg("check-history")
            .arg(format!("{root}{file}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{file}: {text}");
        assert!(text.contains(says), "{file}: {text}");
    }
    // A budget too small to decide: undecided (exit 3), never a violation.
    let out = runner()
        .args(["check-history", "--budget", "1"])
        .arg(format!("{root}undecided.jsonl"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("UNDECIDED") && !text.contains("NOT linearizable"),
        "{text}"
    );
    // With the default budget the same history is decided.
    let out = runner()
        .arg("check-history")
        .arg(format!("{root}undecided.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn verdicts_of_a_short_run_say_what_was_not_judged() {
    // A scenario that ends right after its faults stop cannot judge liveness.
    let text = "name = \"short\"\ndescription = \"too short for liveness\"\nduration_ms = 1500\n\n[workload]\nclients = 2\nstart_ms = 100\nstop_ms = 1000\n\n[liveness]\nleader_within_ms = 4000\n";
    let loaded = scenarios::from_text(text, "short.toml").unwrap();
    let run = judge::run(&loaded, 0, sim::Canaries::default());
    let liveness = run.verdict(Property::Liveness).unwrap();
    assert!(matches!(liveness, Verdict::NotJudged(_)), "{liveness:?}");
    assert!(run.passed(), "not judged is not a failure");
    assert!(run.unjudged()[0].starts_with("liveness: not judged"));
}

/// The standard benchmark's runs (16 clients, 60 simulated s, about 10,000 operations
/// each) are judged whole: seeds 2 and 5 once ended undecided after 12 and 5 s, the
/// whole-store search lost in orders it could have refused at once.
#[test]
fn the_standard_benchmark_runs_are_decided() {
    let loaded = sim_runner::bench::standard_scenario();
    for seed in [2, 5] {
        let run = judge::run(&loaded, seed, sim::Canaries::default());
        let verdict = run.verdict(Property::Linearizability);
        assert_eq!(verdict, Some(&Verdict::Held), "seed {seed}");
    }
}

/// Over links whose round trip is past the election timeout, Raft promises no leader, and
/// liveness says so instead of failing correct code.
#[test]
fn liveness_is_not_judged_over_links_slower_than_the_election_timeout() {
    let text = r#"
name = "slower-than-elections"
description = "round trips up to 1.2 s against a 1 s election timeout"
duration_ms = 12000
[cluster]
tick_ms = 50
election_ticks = 20
heartbeat_ticks = 2
[network]
latency_min_us = 5000
latency_max_us = 600000
[workload]
clients = 2
"#;
    let loaded = scenarios::from_text(text, "slower.toml").unwrap();
    let run = judge::run(&loaded, 1, sim::Canaries::default());
    let verdict = run.verdict(Property::Liveness);
    assert!(
        matches!(&verdict, Some(Verdict::NotJudged(why)) if why.contains("timing requirement is broken")),
        "{verdict:?}"
    );
}

/// A client is one sequential process: a history where one client has two operations in
/// flight at once is bad input (exit 2, with the line), as etcd's robustness tests refuse
/// it. An operation it gave up on (no return) does not hold the client.
#[test]
fn a_client_with_two_operations_in_flight_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overlap.jsonl");
    let overlap = r#"{"client":1,"op":"put","key":"x","value":"a","call":0,"return":50,"status":"ok"}
{"client":1,"op":"put","key":"x","value":"b","call":10,"return":60,"status":"ok"}
"#;
    std::fs::write(&path, overlap).unwrap();
    let out = runner().arg("check-history").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 2") && err.contains("one operation at a time"),
        "{err}"
    );
    let gave_up = r#"{"client":1,"op":"put","key":"x","value":"a","call":0,"return":null,"status":"unknown"}
{"client":1,"op":"put","key":"x","value":"b","call":10,"return":60,"status":"ok"}
"#;
    std::fs::write(&path, gave_up).unwrap();
    let out = runner().arg("check-history").arg(&path).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
