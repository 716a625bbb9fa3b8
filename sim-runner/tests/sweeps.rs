//! Sweeps: a panicking seed is recorded and the sweep goes on; shards cover a range once
//! and merge back; shrinking keeps a failure with no more faults than the original.

use sim_runner::cli;
use sim_runner::judge::Outcome;
use sim_runner::{judge, scenarios};
use std::process::Command;

/// The command exited 0; otherwise fail with what it printed on stderr.
fn assert_success(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_seed_that_panics_is_a_recorded_failure_and_the_sweep_goes_on() {
    let loaded = scenarios::load("leader-crash-1-received").unwrap();
    let seeds: Vec<u64> = (0..6).collect();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcomes = sim::run_many(&seeds, 2, |seed| {
        judge::catch(seed, || {
            if seed == 3 {
                panic!("planted panic in seed {seed}");
            }
            judge::run(&loaded, seed, sim::Canaries::default())
        })
    });
    std::panic::set_hook(previous);
    for o in &outcomes {
        match o {
            Outcome::Panicked { seed, message } => {
                assert_eq!(seed, &3);
                assert!(message.contains("planted panic"));
                assert!(!o.passed());
            }
            Outcome::Ran(r) => assert!(r.passed(), "seed {}", r.seed),
        }
    }
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Panicked { .. }))
            .count(),
        1
    );
}

#[test]
fn shards_cover_the_range_exactly_once() {
    for n in 1..6u64 {
        let mut all: Vec<u64> = (1..=n)
            .flat_map(|k| cli::shard_seeds(10..47, Some((k, n))))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (10..47).collect::<Vec<_>>(), "{n} shards");
    }
    // The count the flags are checked with is the count the shard runs.
    for (start, end) in [(0, 1), (3, 4), (10, 47), (7, 100), (0, 64)] {
        for n in 1..8u64 {
            for k in 1..=n {
                let listed = cli::shard_seeds(start..end, Some((k, n))).len() as u64;
                assert_eq!(
                    cli::shard_len(start..end, Some((k, n))),
                    listed,
                    "{start}..{end} {k}/{n}"
                );
            }
        }
    }
}

#[test]
fn sharded_reports_merge_into_the_whole_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_sim-runner");
    let mut parts = Vec::new();
    for k in 1..=2 {
        let out = dir.path().join(format!("part{k}"));
        let status = Command::new(bin)
            .args([
                "--scenario",
                "split-brain",
                "--seeds",
                "0..6",
                "--shard",
                &format!("{k}/2"),
                "--report",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert_success(&status);
        parts.push(out.join("report.json"));
    }
    let merged = Command::new(bin)
        .arg("merge")
        .args(&parts)
        .output()
        .unwrap();
    assert_eq!(merged.status.code(), Some(0));
    let text = String::from_utf8_lossy(&merged.stdout);
    assert!(text.contains("6 seeds run, 6 passed, 0 failed"), "{text}");
    assert!(
        merged.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    // Each part records its provenance: format, build, range and shard.
    let part: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&parts[0]).unwrap()).unwrap();
    assert_eq!(part["shard"], serde_json::json!([1, 2]));
    assert_eq!(part["range"], serde_json::json!([0, 6]));
    assert!(part["build"]["commit"].is_string() && part["format"].as_u64() > Some(0));
    // One part of two: merged, with a warning that the other is missing.
    let half = Command::new(bin)
        .arg("merge")
        .arg(&parts[0])
        .output()
        .unwrap();
    let warned = String::from_utf8_lossy(&half.stderr);
    assert!(warned.contains("shards 2/2 are missing"), "{warned}");
    // The same part twice is refused: a seed would be counted twice.
    let twice = Command::new(bin)
        .arg("merge")
        .args([&parts[0], &parts[0]])
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
}

#[test]
fn shrinking_a_known_failure_keeps_it_failing_with_no_more_faults() {
    let loaded = scenarios::load("chaos").unwrap();
    let mut canaries = sim::Canaries::default();
    sim_runner::canary::enable(&mut canaries, "ack-before-fsync").unwrap();
    let run = judge::run(&loaded, 7, canaries);
    assert!(
        !run.passed(),
        "seed 7 with ack-before-fsync is the known failure (the README's walkthrough)"
    );
    let original_steps = run.steps.len();
    let path = sim_runner::shrink::shrink(&loaded, &run, canaries).unwrap();
    let shrunk = scenarios::load(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert!(shrunk.scenario.steps.len() <= original_steps);
    let again = judge::run(&shrunk, 7, canaries);
    assert!(!again.passed(), "the shrunk schedule must still fail");
    let wanted = run
        .verdicts
        .iter()
        .find(|(_, v)| v.is_violated())
        .unwrap()
        .0;
    assert!(again
        .verdicts
        .iter()
        .any(|(p, v)| *p == wanted && v.is_violated()));
}

#[test]
fn the_bench_command_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    let status = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .args([
            "bench",
            "--quick",
            "--runs",
            "1",
            "--sweep-seeds",
            "2",
            "--memory-seeds",
            "2",
            "--output",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_success(&status);
    let text = std::fs::read_to_string(&out).unwrap();
    for section in [
        "standard chaos run",
        "bare madsim",
        "seeds per minute",
        "Resident memory each time another tenth",
        "Linearizability checker",
        "Raft core",
        "WAL on real files",
    ] {
        assert!(text.contains(section), "missing {section:?}");
    }
}

#[test]
fn bench_only_runs_the_chosen_parts_and_writes_no_file_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .current_dir(dir.path())
        .args(["bench", "--quick", "--runs", "1", "--only", "floor,raft"])
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bare madsim"), "{text}");
    assert!(text.contains("Raft core"), "{text}");
    for absent in [
        "simulated seconds per wall second",
        "seeds per minute",
        "Linearizability checker",
        "WAL on real files",
    ] {
        assert!(!text.contains(absent), "{absent:?} ran: {text}");
    }
    assert!(
        !dir.path().join("reports/BENCHMARKS.md").exists(),
        "--only must not overwrite the report"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .args(["bench", "--only", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// A shard of one seed of the whole 2^64 range is listed at once (it used to scan the
/// range and never end), for the first shard and the last alike.
#[test]
fn a_shard_of_the_whole_seed_range_is_listed_at_once() {
    let (tx, rx) = std::sync::mpsc::channel();
    // A real thread, outside any simulation: only so that a scan of 2^64 seeds fails the
    // test after 5 s instead of hanging it.
    #[allow(clippy::disallowed_methods)]
    std::thread::spawn(move || {
        let n = u64::MAX;
        let first = cli::shard_seeds(0..u64::MAX, Some((1, n)));
        let last = cli::shard_seeds(0..u64::MAX, Some((n, n)));
        let _ = tx.send((first, last));
    });
    let (first, last) = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("listing one seed per shard must not scan 2^64 seeds");
    assert_eq!(first, vec![0]);
    assert_eq!(last, vec![u64::MAX - 1]);
}
