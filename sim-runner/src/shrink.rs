//! Shrinking a failing chaos seed: remove faults and shorten them, re-running with
//! everything else drawn from the same seed, and write the smallest schedule that still
//! fails as a scenario file.

use crate::chaos;
use crate::judge::{self, RunResult};
use crate::scenarios::{self, Loaded};
use scenario::{Scenario, Step};
use sim::{Canaries, ClusterConfig};

/// Upper bound of re-runs one shrink may take.
const RUNS_MAX: usize = 300;

/// The first property (or expectation) a run fails, to keep shrinking on the same failure.
fn failure_kind(run: &RunResult) -> Option<String> {
    run.verdicts
        .iter()
        .find(|(_, v)| v.is_violated())
        .map(|(p, _)| p.name().to_string())
        .or_else(|| {
            run.expectations
                .iter()
                .find(|e| !e.held)
                .map(|e| e.label.clone())
        })
        .or_else(|| {
            run.steps
                .iter()
                .find(|s| s.error.is_some())
                .map(|s| s.label.clone())
        })
}

/// `units` as a scenario: the original without its `[chaos]` section, with what the
/// seed drew (cluster size and knobs, operation mix) and the explicit steps.
fn shrunk_scenario(
    loaded: &Loaded,
    config: &ClusterConfig,
    units: &[Vec<Step>],
    finale: &[Step],
    seed: u64,
) -> Scenario {
    let mut s = loaded.scenario.clone();
    let store_percent = s
        .chaos
        .as_ref()
        .and_then(|c| c.store_percent)
        .unwrap_or(chaos::STORE_PERCENT);
    s.chaos = None;
    s.name = format!("{}-seed-{seed}-shrunk", loaded.scenario.name);
    s.description = format!(
        "the smallest fault schedule found that still fails {} seed {seed} (run it with --seed {seed})",
        loaded.scenario.name
    );
    if let Some(w) = s.workload.as_mut() {
        w.mix = chaos::draw_mix(seed, store_percent);
    }
    s.cluster = config.clone();
    // Labels name steps, so each must be unique: repeated ones get a count.
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    s.steps = chaos::flatten(units, finale)
        .into_iter()
        .map(|mut step| {
            if let Some(label) = &step.label {
                let n = seen.entry(label.clone()).or_default();
                *n += 1;
                if *n > 1 {
                    step.label = Some(format!("{label} ({n})"));
                }
            }
            step
        })
        .collect();
    s
}

fn scenario_text(
    loaded: &Loaded,
    config: &ClusterConfig,
    units: &[Vec<Step>],
    finale: &[Step],
    seed: u64,
) -> Result<String, String> {
    let s = shrunk_scenario(loaded, config, units, finale, seed);
    toml::to_string(&s).map_err(|e| e.to_string())
}

fn run_units(
    loaded: &Loaded,
    config: &ClusterConfig,
    units: &[Vec<Step>],
    finale: &[Step],
    seed: u64,
    canaries: Canaries,
) -> Result<RunResult, String> {
    let text = scenario_text(loaded, config, units, finale, seed)?;
    let candidate = scenarios::from_text(&text, "shrunk.toml").map_err(|e| e.to_string())?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        judge::run(&candidate, seed, canaries)
    }))
    .map_err(|_| "the shrunk run panicked".to_string())
}

/// Removes chunks of units that the failure does not need, halving the chunk size down
/// to single units.
fn remove_units(
    mut units: Vec<Vec<Step>>,
    still_fails: &mut impl FnMut(&[Vec<Step>]) -> bool,
) -> Vec<Vec<Step>> {
    let mut chunk = units.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        while i < units.len() {
            let mut candidate = units.clone();
            candidate.drain(i..(i + chunk).min(units.len()));
            if still_fails(&candidate) {
                units = candidate;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 {
            return units;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// Shortens each remaining fault: moves its undo step halfway towards it, while the
/// failure stays.
fn shorten_units(
    mut units: Vec<Vec<Step>>,
    still_fails: &mut impl FnMut(&[Vec<Step>]) -> bool,
) -> Vec<Vec<Step>> {
    for u in 0..units.len() {
        for _ in 0..4 {
            if units[u].len() != 2 {
                break;
            }
            let (start, end) = (
                units[u][0].at_ms.unwrap_or(0),
                units[u][1].at_ms.unwrap_or(0),
            );
            if end <= start + 20 {
                break;
            }
            let mut candidate = units.clone();
            candidate[u][1].at_ms = Some(start + (end - start) / 2);
            if !still_fails(&candidate) {
                break;
            }
            units = candidate;
        }
    }
    units
}

/// Shrinks the failing `run` of a chaos scenario; returns the path of the scenario file
/// written under `reports/`.
pub fn shrink(loaded: &Loaded, run: &RunResult, canaries: Canaries) -> Result<String, String> {
    let Some(chaos) = &loaded.scenario.chaos else {
        return Err("--shrink needs a scenario with a [chaos] fault schedule".into());
    };
    let target = failure_kind(run).ok_or("the run did not fail")?;
    let seed = run.seed;
    let plan = chaos::plan(
        seed,
        chaos,
        &loaded.scenario.cluster,
        &loaded.scenario.network,
    );
    let config = plan.config;
    let finale = plan.finale;
    let mut units: Vec<Vec<Step>> = plan.units.into_iter().map(|u| u.steps).collect();
    let original = units.len();
    let mut runs = 0;
    let mut still_fails = |units: &[Vec<Step>]| -> bool {
        runs += 1;
        runs <= RUNS_MAX
            && run_units(loaded, &config, units, &finale, seed, canaries)
                .is_ok_and(|r| failure_kind(&r).as_deref() == Some(target.as_str()))
    };
    if !still_fails(&units) {
        return Err("the failure does not reproduce from the explicit schedule".into());
    }
    units = remove_units(units, &mut still_fails);
    units = shorten_units(units, &mut still_fails);
    let text = scenario_text(loaded, &config, &units, &finale, seed)?;
    std::fs::create_dir_all("reports").map_err(|e| e.to_string())?;
    let path = format!("reports/shrunk-{}-seed-{seed}.toml", loaded.scenario.name);
    let header = format!(
        "# Shrunk from {original} faults to {} by `--shrink`; it still fails with: {target}\n",
        units.len()
    );
    std::fs::write(&path, header + &text).map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok(path)
}
