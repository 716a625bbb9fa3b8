//! A quick end-to-end sweep, also the test command of mutation testing's second pass
//! (CONTRIBUTING.md): a mutant of the Raft core, the WAL, the store or the member that
//! its crate's unit tests miss must still not get through chaos and the named scenarios.

use sim_runner::judge;
use sim_runner::scenarios;

#[test]
fn chaos_and_the_named_scenarios_pass_a_quick_sweep() {
    let mut runs: Vec<(&str, Vec<u64>)> = vec![
        ("chaos", (0..24).collect()),
        ("chaos-tiny-storage", (0..8).collect()),
    ];
    for b in scenarios::BUILT_IN {
        if !b.name.starts_with("chaos") {
            runs.push((b.name, vec![0, 1]));
        }
    }
    let mut failed = Vec::new();
    for (name, seeds) in runs {
        let loaded = scenarios::load(name).unwrap();
        let results = sim::run_many(&seeds, 2, |seed| {
            judge::catch(seed, || judge::run(&loaded, seed, sim::Canaries::default()))
        });
        for r in results {
            if !r.passed() {
                failed.push(format!("{name} seed {}", r.seed()));
            }
        }
    }
    assert!(failed.is_empty(), "failed: {failed:?}");
}
