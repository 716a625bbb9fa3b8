//! A scenario is written back by serialising its model: every built-in scenario, every
//! committed shrunk file and the chaos schedules of many seeds survive a write and a
//! re-parse unchanged (and the written text passes validation).

use scenario::Scenario;
use sim_runner::scenarios::{self, BUILT_IN};

/// Writes `s`, parses it back, and checks nothing changed.
fn round_trip(name: &str, s: &Scenario) {
    let text = toml::to_string(s).unwrap_or_else(|e| panic!("{name}: cannot write: {e}"));
    let back = scenarios::parse(&text, name).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    assert_eq!(&back, s, "{name} changed in a write and re-parse:\n{text}");
}

#[test]
fn every_built_in_scenario_survives_a_write_and_a_reparse() {
    for b in BUILT_IN {
        let s = scenarios::parse(b.text, b.name).unwrap();
        round_trip(b.name, &s);
    }
}

#[test]
fn committed_shrunk_files_survive_a_write_and_a_reparse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports");
    let mut found = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.display().to_string();
        if name.ends_with(".toml") && name.contains("shrunk") {
            let text = std::fs::read_to_string(&path).unwrap();
            round_trip(&name, &scenarios::parse(&text, &name).unwrap());
            found += 1;
        }
    }
    assert!(found > 0, "no shrunk file under reports/");
}

#[test]
fn chaos_schedules_written_as_steps_survive_a_write_and_a_reparse() {
    let loaded = scenarios::load("chaos").unwrap();
    let chaos = loaded.scenario.chaos.clone().unwrap();
    for seed in 0..200 {
        let mut s = loaded.scenario.clone();
        let plan = sim_runner::chaos::plan(seed, &chaos, &s.cluster, &s.network);
        s.steps = plan.steps();
        s.cluster = plan.config;
        s.chaos = None;
        // Labels must be unique once written; the shrinker numbers repeats the same way.
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        for step in &mut s.steps {
            let label = step.describe();
            let n = seen.entry(label.clone()).or_default();
            *n += 1;
            step.label = Some(format!("{label} ({n})"));
        }
        round_trip(&format!("chaos seed {seed}"), &s);
    }
}
