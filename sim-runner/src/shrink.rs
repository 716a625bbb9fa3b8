//! Shrinking a failing chaos seed: remove faults and shorten them, re-running with
//! everything else drawn from the same seed, and write the smallest schedule that still
//! fails as a scenario file.

use crate::chaos;
use crate::engine::{self, RunResult};
use crate::scenarios::{self, Loaded};
use scenario::{NodeRef, Step};
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
                .find(|(_, ok, _)| !ok)
                .map(|(l, _, _)| l.clone())
        })
        .or_else(|| {
            run.steps
                .iter()
                .find(|s| s.error.is_some())
                .map(|s| s.label.clone())
        })
}

fn node_value(r: &NodeRef) -> toml::Value {
    match r {
        NodeRef::Id(n) => toml::Value::Integer(*n as i64),
        NodeRef::Name(s) => toml::Value::String(s.clone()),
    }
}

fn step_table(s: &Step) -> toml::Table {
    let mut t = toml::Table::new();
    if let Some(l) = &s.label {
        t.insert("label".into(), l.clone().into());
    }
    if let Some(a) = s.at_ms {
        t.insert("at_ms".into(), (a as i64).into());
    }
    t.insert("action".into(), s.action.clone().into());
    if let Some(n) = &s.node {
        t.insert("node".into(), node_value(n));
    }
    if let Some(f) = &s.from {
        t.insert("from".into(), node_value(f));
    }
    if let Some(to) = &s.to {
        t.insert("to".into(), node_value(to));
    }
    if let Some(groups) = &s.groups {
        let groups: Vec<toml::Value> = groups
            .iter()
            .map(|g| toml::Value::Array(g.iter().map(node_value).collect()))
            .collect();
        t.insert("groups".into(), toml::Value::Array(groups));
    }
    if let Some(o) = s.optional {
        t.insert("optional".into(), o.into());
    }
    let texts = [
        ("save", &s.save),
        ("kind", &s.kind),
        ("failpoint", &s.failpoint),
        ("fail_action", &s.fail_action),
    ];
    for (k, v) in texts {
        if let Some(v) = v {
            t.insert(k.into(), v.clone().into());
        }
    }
    let numbers = [
        ("count", s.count),
        ("loss_ppm", s.loss_ppm.map(u64::from)),
        ("duplicate_ppm", s.duplicate_ppm.map(u64::from)),
        ("latency_min_us", s.latency_min_us),
        ("latency_max_us", s.latency_max_us),
        ("slow_sync_ppm", s.slow_sync_ppm.map(u64::from)),
        ("slow_sync_us", s.slow_sync_us),
    ];
    for (k, v) in numbers {
        if let Some(v) = v {
            t.insert(k.into(), (v as i64).into());
        }
    }
    t
}

/// Writes `units` as a scenario: the original file without its `[chaos]` section, with
/// the drawn cluster size and the explicit steps.
fn scenario_text(
    loaded: &Loaded,
    config: &ClusterConfig,
    units: &[Vec<Step>],
    finale: &[Step],
    seed: u64,
) -> Result<String, String> {
    let mut doc: toml::Table = toml::from_str(&loaded.text).map_err(|e| e.to_string())?;
    doc.remove("chaos");
    doc.insert(
        "name".into(),
        format!("{}-seed-{seed}-shrunk", loaded.scenario.name).into(),
    );
    doc.insert(
        "description".into(),
        format!(
            "the smallest fault schedule found that still fails {} seed {seed} (run it with --seed {seed})",
            loaded.scenario.name
        )
        .into(),
    );
    // The swarm drew the operation mix from the seed: keep it.
    if let Some(toml::Value::Table(w)) = doc.get_mut("workload") {
        let mix = chaos::draw_mix(seed);
        let mut t = toml::Table::new();
        t.insert("put".into(), i64::from(mix.put).into());
        t.insert("get".into(), i64::from(mix.get).into());
        t.insert("delete".into(), i64::from(mix.delete).into());
        t.insert("cas".into(), i64::from(mix.cas).into());
        t.insert("cas_revision".into(), i64::from(mix.cas_revision).into());
        w.insert("mix".into(), toml::Value::Table(t));
    }
    let cluster = doc
        .entry("cluster")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(c) = cluster {
        // The swarm drew the size and the knobs from the seed: keep them.
        let numbers = [
            ("nodes", config.nodes),
            ("snapshot_every", config.snapshot_every),
            ("snapshot_keep", config.snapshot_keep),
            ("wal_segment_bytes", config.wal_segment_bytes),
            ("max_append_bytes", config.max_append_bytes),
            ("tick_skew_ppm", u64::from(config.tick_skew_ppm)),
        ];
        for (k, v) in numbers {
            c.insert(k.into(), (v as i64).into());
        }
        c.insert("check_quorum".into(), config.check_quorum.into());
        c.insert("pre_vote".into(), config.pre_vote.into());
    }
    // Labels name steps, so each must be unique: repeated ones get a count.
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let steps: Vec<toml::Value> = chaos::flatten(units, finale)
        .into_iter()
        .map(|mut s| {
            if let Some(label) = &s.label {
                let n = seen.entry(label.clone()).or_default();
                *n += 1;
                if *n > 1 {
                    s.label = Some(format!("{label} ({n})"));
                }
            }
            toml::Value::Table(step_table(&s))
        })
        .collect();
    doc.insert("step".into(), toml::Value::Array(steps));
    toml::to_string(&doc).map_err(|e| e.to_string())
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
    let scenario = scenarios::parse(&text, "shrunk.toml").map_err(|e| e.to_string())?;
    let candidate = Loaded {
        source: "shrunk.toml".into(),
        scenario,
        text,
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine::run(&candidate, seed, canaries)
    }))
    .map_err(|_| "the shrunk run panicked".to_string())
}

/// Shrinks the failing `run` of a chaos scenario; returns the path of the scenario file
/// written under `reports/`.
pub fn shrink(loaded: &Loaded, run: &RunResult, canaries: Canaries) -> Result<String, String> {
    let Some(chaos) = &loaded.scenario.chaos else {
        return Err("--shrink needs a scenario with a [chaos] fault schedule".into());
    };
    let target = failure_kind(run).ok_or("the run did not fail")?;
    let seed = run.seed;
    let (mut config, network, _, _) = engine::configs(&loaded.scenario);
    let (mut units, finale) = chaos::plan_units(seed, chaos, &mut config, &network);
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
    // Remove chunks of units, halving the chunk size down to single units.
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
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    // Shorten each remaining fault: move its undo step halfway towards it.
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
            if still_fails(&candidate) {
                units = candidate;
            } else {
                break;
            }
        }
    }
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
