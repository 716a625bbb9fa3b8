//! The testbed tests itself: each planted bug is caught by plain `chaos` within 200 seeds,
//! by the checker that should catch it, and the median canary within 20 seeds. (Each is
//! also caught by its natural scenario: `tests/scenarios.rs`.) Every planted bug of the
//! Raft core breaks a rule of the protocol, and trace validation catches each one no later
//! than any other checker sees its consequence.

use sim_runner::canary::{self, Canary};
use sim_runner::judge::{self, RunResult};
use sim_runner::scenarios;

/// (canary, scenario, what must catch it: a checker's name or "expect: <label part>"); every
/// canary has a line (a test checks it), named by its variant, the one list of canaries.
const CASES: [(Canary, &str, &str); 30] = [
    (Canary::CommitEarlierTerm, "chaos", "commit rule"),
    (Canary::AckBeforeFsync, "chaos", "recoverability"),
    (Canary::VoteWithoutPersist, "chaos", "recoverability"),
    (Canary::SkipUpToDateCheck, "chaos", "leader completeness"),
    (Canary::LocalReads, "chaos", "linearizability"),
    (Canary::ApplyRetriesTwice, "chaos", "exactly-once"),
    (Canary::SkipTruncation, "chaos", "log matching"),
    (Canary::CasCreateRevision, "chaos", "linearizability"),
    (Canary::SegmentWithoutDirSync, "chaos", "recoverability"),
    (Canary::SnapshotDropsSessions, "chaos", "exactly-once"),
    (Canary::VotesAcrossTerms, "chaos", "election safety"),
    (Canary::TornTailIsCorruption, "chaos", "recoverability"),
    (Canary::SendBeforePersist, "chaos", "commit rule"),
    (Canary::QuorumOffByOne, "chaos", "commit rule"),
    // Its consequence (a diverged store) shows in about one seed of 200; the broken rule
    // in nearly every seed.
    (Canary::AcceptStaleTermAppend, "chaos", "trace validation"),
    (Canary::VoteTwiceInTerm, "chaos", "election safety"),
    (Canary::DeleteKeepsRevision, "chaos", "linearizability"),
    (Canary::CreateIgnoresExisting, "chaos", "linearizability"),
    (
        Canary::CorruptionTakenForTornTail,
        "chaos",
        "recoverability",
    ),
    (Canary::WalSkipsChecksum, "chaos", "log matching"),
    (
        Canary::ConfChangeBeforeOwnCommit,
        "chaos",
        "configuration safety",
    ),
    (
        Canary::TwoConfChangesInFlight,
        "chaos",
        "configuration safety",
    ),
    (Canary::JointAsSingleMajority, "chaos", "commit rule"),
    (
        Canary::PrevoteGrantsCountAsVotes,
        "chaos",
        "trace validation",
    ),
    (Canary::HeartbeatCommitUncapped, "chaos", "trace validation"),
    (Canary::PrevoteRaisesTerm, "chaos", "trace validation"),
    (Canary::ReadAcksAnyHeartbeat, "chaos", "trace validation"),
    (
        Canary::StalePrevoteGrantCounted,
        "chaos",
        "trace validation",
    ),
    (Canary::CandidateIgnoresLeader, "chaos", "trace validation"),
    (Canary::AckBeyondAppend, "chaos", "trace validation"),
];

fn caught_by(r: &RunResult, what: &str) -> bool {
    if let Some(part) = what.strip_prefix("expect: ") {
        return r
            .expectations
            .iter()
            .any(|e| !e.held && e.label.contains(part));
    }
    r.verdicts
        .iter()
        .any(|(p, v)| p.name() == what && v.is_violated())
}

/// Whether a check other than trace validation failed (the bug's visible consequence).
fn consequence(r: &RunResult) -> bool {
    r.verdicts
        .iter()
        .any(|(p, v)| *p != check::Property::TraceValidation && v.is_violated())
        || r.expectations.iter().any(|e| !e.held)
}

/// The first seeds, from 0, at which `canary` is caught by `checker`, by trace
/// validation, and by any other check; runs until the ones asked for are found.
#[derive(Default)]
struct Catches {
    named: Option<u64>,
    validator: Option<u64>,
    other: Option<u64>,
}

fn catches(canary: Canary, scenario: &str, checker: &str, want_validator: bool) -> Catches {
    let loaded = scenarios::load(scenario).unwrap();
    let mut canaries = sim::Canaries::default();
    canary.plant(&mut canaries);
    let mut c = Catches::default();
    // Two seeds at a time; stop once what is asked for is found.
    for batch in (0..200u64).collect::<Vec<_>>().chunks(2) {
        let results = sim::run_many(batch, 2, |seed| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                judge::run(&loaded, seed, canaries)
            }))
        });
        for (seed, r) in batch.iter().zip(results) {
            let Ok(r) = r else { continue };
            let first = |slot: &mut Option<u64>, hit: bool| {
                if hit && slot.is_none() {
                    *slot = Some(*seed);
                }
            };
            first(&mut c.named, caught_by(&r, checker));
            first(&mut c.validator, caught_by(&r, "trace validation"));
            first(&mut c.other, consequence(&r));
        }
        if c.named.is_some() && (!want_validator || c.validator.is_some()) {
            break;
        }
    }
    c
}

#[test]
fn every_canary_is_caught_within_200_seeds_by_the_right_checker() {
    let mut seeds_needed = Vec::new();
    let mut covered: Vec<Canary> = CASES.iter().map(|c| c.0).collect();
    covered.sort_unstable();
    let mut all = Canary::all().to_vec();
    all.sort_unstable();
    assert_eq!(covered, all, "one case per canary");
    for (canary, scenario, checker) in CASES {
        let name = canary.name();
        let core = canary.in_the_core();
        let c = catches(canary, scenario, checker, core);
        let seed = c.named.unwrap_or_else(|| {
            panic!("canary {name} was not caught by {checker} on {scenario} within 200 seeds")
        });
        eprintln!(
            "canary {name}: caught by {checker} on {scenario} at seed {seed}; trace validation at {:?}, another check at {:?}",
            c.validator, c.other
        );
        if core {
            let v = c.validator.unwrap_or_else(|| {
                panic!("canary {name} breaks a protocol rule, but trace validation did not catch it within 200 seeds")
            });
            assert!(
                c.other.is_none_or(|o| v <= o),
                "canary {name}: trace validation first caught it at seed {v}, after another check at seed {:?}",
                c.other
            );
        }
        seeds_needed.push(seed + 1);
    }
    seeds_needed.sort_unstable();
    let median = seeds_needed[seeds_needed.len() / 2];
    assert!(
        median <= 20,
        "median seeds to catch a canary: {median} ({seeds_needed:?})"
    );
}

#[test]
fn without_canaries_the_same_runs_pass() {
    for (scenario, seeds) in [
        ("figure-8", 0..3u64),
        ("double-vote", 0..3),
        ("stale-read", 0..3),
        ("chaos", 0..3),
    ] {
        let loaded = scenarios::load(scenario).unwrap();
        for seed in seeds {
            let r = judge::run(&loaded, seed, sim::Canaries::default());
            assert!(r.passed(), "{scenario} seed {seed}: {:?}", r.failures());
        }
    }
}

#[test]
fn an_unknown_canary_is_refused() {
    let mut c = sim::Canaries::default();
    assert!(canary::enable(&mut c, "nope")
        .unwrap_err()
        .contains("commit-earlier-term"));
}
