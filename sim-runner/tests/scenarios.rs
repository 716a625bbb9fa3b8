//! The canonical scenarios: every one passes for seeds 0..20 (0..100 with `TESTBED_LONG`
//! set, as CI runs it) with its condition-triggered steps firing; each one's story at seed 0 is snapshotted; each expectation kind can
//! fail; malformed files are refused with file:line.

use sim::Canaries;
use sim_runner::judge::{self, RunResult};
use sim_runner::scenarios::{self, Loaded};

/// The canonical scenarios: every built-in with a fixed timeline (no `[chaos]` section).
fn canonical() -> Vec<&'static str> {
    let names: Vec<&str> = scenarios::BUILT_IN
        .iter()
        .filter(|b| scenarios::parse(b.text, b.name).unwrap().chaos.is_none())
        .map(|b| b.name)
        .collect();
    assert!(names.len() >= 19, "{names:?}");
    names
}

fn run(loaded: &Loaded, seed: u64) -> RunResult {
    judge::run(loaded, seed, Canaries::default())
}

fn explain(r: &RunResult) -> String {
    r.failures().join("\n")
}

/// Seeds per canonical scenario: a quick default, and CI's long run with `TESTBED_LONG`.
fn seeds() -> Vec<u64> {
    let long = std::env::var_os("TESTBED_LONG").is_some();
    (0..if long { 100 } else { 20 }).collect()
}

#[test]
fn every_canonical_scenario_passes_its_seeds_with_every_step_fired() {
    for name in canonical() {
        let loaded = scenarios::load(name).unwrap();
        let steps = loaded.scenario.steps.len();
        let seeds = seeds();
        let results = sim::run_many(&seeds, 2, |seed| run(&loaded, seed));
        for r in results {
            assert!(r.passed(), "{name} seed {}: {}", r.seed, explain(&r));
            // Every step fired, the condition-triggered ones included.
            assert_eq!(r.steps.len(), steps, "{name} seed {}", r.seed);
            assert!(
                r.steps.iter().all(|s| s.fired_ns.is_some()),
                "{name} seed {}",
                r.seed
            );
            assert!(!r.expectations.is_empty(), "{name} has expectations");
        }
    }
}

/// The members that had persisted mark "w" when the step "the leader crashes…" fired.
fn holders_at_crash(r: &RunResult) -> Vec<u64> {
    use proto::trace::EventKind;
    let crash = r
        .steps
        .iter()
        .find(|s| s.label.starts_with("the leader crashes"))
        .and_then(|s| s.fired_ns)
        .expect("the crash step fired");
    let digest = r.marks["w"].digest;
    let mut holders: Vec<u64> = r
        .events
        .iter()
        .filter(|e| e.time_ns <= crash)
        .filter_map(|e| match &e.kind {
            EventKind::LogPersisted { node, entries }
                if entries.iter().any(|id| id.digest == digest) =>
            {
                Some(*node)
            }
            _ => None,
        })
        .collect();
    holders.sort_unstable();
    holders
}

#[test]
fn condition_steps_fire_at_the_intended_protocol_point() {
    // Case 2: when the leader crashes, the marked entry is in its WAL and nowhere else.
    let loaded = scenarios::load("leader-crash-2-in-wal").unwrap();
    for seed in 0..20 {
        let r = run(&loaded, seed);
        let old = r.bindings["old"][0];
        assert_eq!(holders_at_crash(&r), vec![old], "seed {seed}");
    }
    // Case 3: at the crash the entry is on the leader and on A only.
    let loaded = scenarios::load("leader-crash-3-some-followers").unwrap();
    for seed in 0..20 {
        let r = run(&loaded, seed);
        let mut want = vec![r.bindings["old"][0], r.bindings["A"][0]];
        want.sort_unstable();
        assert_eq!(holders_at_crash(&r), want, "seed {seed}");
    }
}

#[test]
fn story_snapshots_at_seed_0() {
    for name in canonical() {
        let loaded = scenarios::load(name).unwrap();
        let r = run(&loaded, 0);
        let rows = sim_runner::story::story(&r);
        let text: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "{:>8} | {:<4} | {:<4} | {}",
                    row.time, row.node, row.term, row.event
                )
            })
            .collect();
        let verdicts: Vec<String> = r
            .expectations
            .iter()
            .map(|e| format!("{} {}", if e.held { "ok  " } else { "FAIL" }, e.label))
            .collect();
        insta::assert_snapshot!(
            name,
            format!(
                "{}\n--\n{}\n--\ntrace hash {:016x}",
                text.join("\n"),
                verdicts.join("\n"),
                r.trace_hash
            )
        );
    }
}

/// Runs scenario text for seed 0 and returns (label, held) of each expectation.
/// A scenario given as TOML text (it must be valid).
fn loaded(text: &str) -> Loaded {
    scenarios::from_text(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn expectations_of(text: &str) -> Vec<(String, bool)> {
    run(&loaded(text), 0)
        .expectations
        .into_iter()
        .map(|e| (e.label, e.held))
        .collect()
}

/// Every expectation kind, each set up to be false.
const INVERTED: &str = r#"
name = "inverted"
description = "every expectation here is false"
duration_ms = 5000
[cluster]
nodes = 3
[[step]]
label = "a leader is elected"
when = { leader = true }
action = "note"
save = "old"
[[step]]
label = "a follower"
after_ms = 300
action = "note"
node = "follower:1"
save = "f"
[[step]]
label = "write"
action = "write"
node = "$old"
key = "x"
mark = "w"
[[step]]
label = "read"
after_ms = 500
action = "read"
node = "$old"
key = "x"
mark = "r"
[[step]]
label = "a follower crashes for good"
after_ms = 500
action = "crash"
node = "$f"
[[expect]]
kind = "not-acknowledged"
mark = "w"
[[expect]]
kind = "never-applied"
mark = "w"
[[expect]]
kind = "never-committed-before"
mark = "w"
step = "a follower crashes for good"
[[expect]]
kind = "truncated"
mark = "w"
node = "$old"
[[expect]]
kind = "first-leader-after"
step = "a leader is elected"
node = "$f"
[[expect]]
kind = "stepped-down"
node = "$old"
[[expect]]
kind = "logs-converged"
[[expect]]
kind = "read-not-served"
mark = "r"
[[expect]]
kind = "failpoint-fired"
node = "$old"
[[expect]]
kind = "not-persisted-before"
mark = "w"
node = "$old"
step = "read"
[[expect]]
kind = "configuration"
voters = [1, 2]
[[expect]]
kind = "removed"
node = "$old"
"#;

/// A write to a crashed member, never retried: "acknowledged" and "applied-once" fail.
const UNREACHABLE: &str = r#"
name = "unreachable"
description = "a write to a crashed member, no retry"
duration_ms = 3000
[[step]]
when = { leader = true }
action = "crash"
node = "leader"
save = "old"
[[step]]
action = "write"
node = "$old"
key = "x"
mark = "w"
retry = false
[[expect]]
kind = "acknowledged"
mark = "w"
[[expect]]
kind = "applied-once"
mark = "w"
"#;

/// A run where every expectation kind is set up to fail: each must be judged false.
#[test]
fn every_expectation_kind_can_fail() {
    let results = expectations_of(INVERTED);
    assert_eq!(results.len(), 12);
    for (label, ok) in &results {
        assert!(!ok, "expectation {label:?} held but must not");
    }
    // And "acknowledged" / "applied-once" fail when the write cannot succeed.
    for (label, ok) in expectations_of(UNREACHABLE) {
        assert!(!ok, "expectation {label:?} held but must not");
    }
}

#[test]
fn planted_bugs_make_the_natural_scenarios_fail() {
    // Figure 8 with the commit rule broken: the earlier-term entry commits and is lost.
    let loaded = scenarios::load("figure-8").unwrap();
    let mut c = Canaries::default();
    c.raft.commit_earlier_term_by_counting = true;
    let r = judge::run(&loaded, 0, c);
    assert!(!r.passed());
    let broken: Vec<&str> = r
        .verdicts
        .iter()
        .filter(|(_, v)| v.is_violated())
        .map(|(p, _)| p.name())
        .collect();
    assert!(broken.contains(&"state machine safety"), "{broken:?}");
    // Split brain with reads served locally: the cut-off leader answers a read.
    let loaded = scenarios::load("split-brain").unwrap();
    let mut c = Canaries::default();
    c.raft.serve_reads_without_quorum = true;
    let r = judge::run(&loaded, 0, c);
    let served = r
        .expectations
        .iter()
        .find(|e| e.label.contains("served no read"))
        .unwrap();
    assert!(!served.held, "the deposed leader's read must be caught");
    // Case 6 with retries applied twice.
    let loaded = scenarios::load("leader-crash-6-applied").unwrap();
    let mut c = Canaries::default();
    c.node.apply_retries_twice = true;
    let r = judge::run(&loaded, 0, c);
    assert!(r
        .verdicts
        .iter()
        .any(|(p, v)| *p == check::Property::ExactlyOnce && v.is_violated()));
}

/// Each membership canary fails the scenario written for it (seeds 0..5), by the
/// checker that names its rule.
#[test]
fn membership_canaries_fail_their_scenarios() {
    let cases = [
        (
            "two-changes-in-flight",
            "two-conf-changes-in-flight",
            "configuration safety",
        ),
        (
            "conf-change-new-leader",
            "conf-change-before-own-commit",
            "configuration safety",
        ),
        (
            "grow-3-to-5-under-partition",
            "joint-as-single-majority",
            "commit rule",
        ),
    ];
    for (scenario, canary, checker) in cases {
        let loaded = scenarios::load(scenario).unwrap();
        let mut c = Canaries::default();
        sim_runner::canary::enable(&mut c, canary).unwrap();
        for seed in 0..5 {
            let r = judge::run(&loaded, seed, c);
            let caught = r
                .verdicts
                .iter()
                .any(|(p, v)| p.name() == checker && v.is_violated());
            assert!(
                caught,
                "{canary} not caught by {checker} in {scenario} seed {seed}"
            );
        }
    }
}

#[test]
fn malformed_files_are_refused_with_file_and_line() {
    let cases: [(&str, usize, &str); 6] = [
        ("name = \"x\"\ndescription = \"d\"\nduration_ms = 10\nbogus = 1\n", 4, "unknown field"),
        ("name = \"x\"\ndescription = \"d\"\nduration_ms = \"soon\"\n", 3, "invalid type"),
        (
            "name = \"x\"\ndescription = \"d\"\nduration_ms = 100\n[[step]]\naction = \"crash\"\nnode = 7\n",
            4,
            "node 7 does not exist",
        ),
        ("name = \"x\"\ndescription = \"d\"\n[cluster]\nnodes = 3\n", 1, "missing field `duration_ms`"),
        (
            "name = \"x\"\ndescription = \"d\"\nduration_ms = 100\n\n[[step]]\nat_ms = 500\naction = \"heal\"\n",
            5,
            "after the end of the run",
        ),
        (
            "name = \"x\"\ndescription = \"d\"\nduration_ms = 100\n[[expect]]\nkind = \"truncated\"\nmark = \"nope\"\nnode = 1\n",
            4,
            "mark \"nope\" is not defined",
        ),
    ];
    for (text, line, message) in cases {
        let e = scenarios::parse(text, "bad.toml").expect_err(text);
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("bad.toml:{line}:")),
            "{shown:?} should be at line {line}"
        );
        assert!(shown.contains(message), "{shown:?} should say {message:?}");
    }
}

#[test]
fn the_binary_exits_2_with_file_and_line_for_a_bad_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\ndescription = \"d\"\nduration_ms = 100\n[[step]]\naction = \"explode\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .args(["--scenario", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:5: unknown action `explode`"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim-runner"))
        .args(["--scenario", "no-such-scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// With clients writing until the very end, the final metrics count every write that was
/// acknowledged more than two ticks before the end (members publish them every tick at the
/// end of a run; otherwise only every 50 ticks).
#[test]
fn final_metrics_count_writes_acknowledged_up_to_the_end() {
    let text = r#"
name = "busy-to-the-end"
description = "clients write until the run ends"
duration_ms = 3000
[cluster]
nodes = 3
[workload]
clients = 4
keys = 4
stop_ms = 3000
"#;
    let loaded = loaded(text);
    for seed in 0..5 {
        let r = run(&loaded, seed);
        let cutoff = r.end_ns - 20_000_000;
        let acked_writes = r
            .history
            .iter()
            .filter(|h| !matches!(h.op, proto::kv::Op::Get { .. }))
            .filter(|h| matches!(h.outcome, proto::history::Outcome::Ok(_)))
            .filter(|h| h.return_ns.is_some_and(|t| t <= cutoff))
            .count() as u64;
        let committed: u64 = r
            .members
            .values()
            .map(|s| s.metrics.get("proposals_committed_total"))
            .sum();
        assert!(
            acked_writes > 100,
            "seed {seed}: the workload must be busy ({acked_writes} writes)"
        );
        assert!(
            committed >= acked_writes,
            "seed {seed}: metrics count {committed} committed proposals, but {acked_writes} writes were acknowledged by {cutoff} ns"
        );
    }
}
