//! The testbed tests itself: each planted bug is caught by plain `chaos` within 200 seeds,
//! by the checker that should catch it, and the median canary within 20 seeds. (Each is
//! also caught by its natural scenario: `tests/scenarios.rs`.)

use sim_runner::canary::{self, Canary};
use sim_runner::judge::{self, RunResult};
use sim_runner::scenarios;

/// (canary, scenario, what must catch it: a checker's name or "expect: <label part>"); every
/// canary has a line (a test checks it), named by its variant, the one list of canaries.
const CASES: [(Canary, &str, &str); 23] = [
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
    (
        Canary::AcceptStaleTermAppend,
        "chaos",
        "state machine safety",
    ),
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
        let loaded = scenarios::load(scenario).unwrap();
        let mut canaries = sim::Canaries::default();
        canary.plant(&mut canaries);
        let mut caught_at = None;
        // Two seeds at a time; stop at the first catch.
        'seeds: for batch in (0..200u64).collect::<Vec<_>>().chunks(2) {
            let results = sim::run_many(batch, 2, |seed| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    judge::run(&loaded, seed, canaries)
                }))
            });
            for (seed, r) in batch.iter().zip(results) {
                if let Ok(r) = r {
                    if caught_by(&r, checker) {
                        caught_at = Some(*seed);
                        break 'seeds;
                    }
                }
            }
        }
        let seed = caught_at.unwrap_or_else(|| {
            panic!("canary {name} was not caught by {checker} on {scenario} within 200 seeds")
        });
        eprintln!(
            "canary {name}: caught by {checker} on {scenario} at seed {seed} ({} seeds run)",
            seed + 1
        );
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
