//! Command-line parsing and the top-level commands.

use crate::scenarios::{self, Outcome};
use clap::Parser;
use std::ops::Range;
use std::path::PathBuf;
use tabled::{settings::Style, Table, Tabled};

/// Deterministic simulation testbed for a Raft + WAL + KV store.
#[derive(Parser, Debug)]
#[command(name = "sim-runner", version, about)]
pub struct Args {
    /// Scenario to run: a built-in name (see --list) or a path to a .toml file.
    #[arg(long, default_value = "ping")]
    pub scenario: String,
    /// Run exactly this seed (reproduces a failure).
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Sweep a half-open seed range, e.g. 0..1000.
    #[arg(long, value_parser = parse_range)]
    pub seeds: Option<Range<u64>>,
    /// Worker threads for a sweep (each seed runs alone on its own madsim runtime).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Write the trace of the (single) run as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Run each seed twice and compare the trace hashes.
    #[arg(long)]
    pub check_determinism: bool,
    /// List the scenarios and what each shows.
    #[arg(long)]
    pub list: bool,
}

/// Bad input: reported with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The scenario name is not known.
    #[error("unknown scenario {0:?} (run with --list to see the scenarios)")]
    UnknownScenario(String),
    /// --trace needs a single run.
    #[error("--trace writes one run's trace: use it with --seed, not --seeds")]
    TraceNeedsOneSeed,
    /// Could not write an output file.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("expected a range like 0..100, got {text:?}"))?;
    let start: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("range start {a:?} is not a number"))?;
    let end: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("range end {b:?} is not a number"))?;
    if end <= start {
        return Err(format!("range {text:?} is empty (the end is exclusive)"));
    }
    Ok(start..end)
}

#[derive(Tabled)]
struct ScenarioRow {
    scenario: &'static str,
    description: &'static str,
}

#[derive(Tabled)]
struct SeedRow {
    seed: u64,
    verdict: &'static str,
    #[tabled(rename = "sim s")]
    simulated: String,
    sent: u64,
    delivered: u64,
    dropped: u64,
    duplicated: u64,
    events: usize,
    #[tabled(rename = "trace hash")]
    hash: String,
}

fn row(o: &Outcome) -> SeedRow {
    SeedRow {
        seed: o.seed,
        verdict: if o.passed() { "pass" } else { "FAIL" },
        simulated: format!("{:.1}", o.simulated_secs),
        sent: o.network.sent,
        delivered: o.network.delivered,
        dropped: o.network.dropped,
        duplicated: o.network.duplicated,
        events: o.events.len(),
        hash: format!("{:016x}", o.trace_hash),
    }
}

/// Runs the command; `Ok(true)` when every check held.
pub fn execute(args: Args) -> Result<bool, InputError> {
    if args.list {
        let rows: Vec<ScenarioRow> = scenarios::BUILT_IN
            .iter()
            .map(|s| ScenarioRow {
                scenario: s.name,
                description: s.description,
            })
            .collect();
        println!("{}", Table::new(rows).with(Style::sharp()));
        return Ok(true);
    }
    let scenario = scenarios::find(&args.scenario)
        .ok_or_else(|| InputError::UnknownScenario(args.scenario.clone()))?;
    let seeds: Vec<u64> = match (&args.seeds, args.seed) {
        (Some(range), _) => range.clone().collect(),
        (None, Some(seed)) => vec![seed],
        (None, None) => vec![0],
    };
    if args.trace.is_some() && seeds.len() != 1 {
        return Err(InputError::TraceNeedsOneSeed);
    }
    let outcomes = sim::run_many(&seeds, args.jobs, |seed| {
        let first = scenarios::run_seed(scenario, seed);
        if args.check_determinism {
            let second = scenarios::run_seed(scenario, seed);
            determinism_check(first, second.trace_hash)
        } else {
            first
        }
    });
    if let Some(path) = &args.trace {
        write_trace(path, &outcomes[0])?;
    }
    report(scenario.name, &outcomes);
    Ok(outcomes.iter().all(Outcome::passed))
}

fn determinism_check(mut first: Outcome, second_hash: u64) -> Outcome {
    let same = first.trace_hash == second_hash;
    first.checks.push((
        "determinism".to_string(),
        same,
        if same {
            "a second run gave the same trace hash".to_string()
        } else {
            format!(
                "second run's trace hash {second_hash:016x} differs from {:016x}",
                first.trace_hash
            )
        },
    ));
    first
}

fn write_trace(path: &PathBuf, outcome: &Outcome) -> Result<(), InputError> {
    let to_err = |e: std::io::Error| InputError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(to_err)?);
    sim::trace::write_json_lines(&outcome.events, &mut file).map_err(to_err)?;
    std::io::Write::flush(&mut file).map_err(to_err)
}

fn report(name: &str, outcomes: &[Outcome]) {
    let shown: Vec<SeedRow> = outcomes.iter().take(20).map(row).collect();
    println!("{}", Table::new(shown).with(Style::sharp()));
    if outcomes.len() > 20 {
        println!("({} more seeds not shown)", outcomes.len() - 20);
    }
    if outcomes.len() == 1 {
        for (check, ok, detail) in &outcomes[0].checks {
            println!("{} {check}: {detail}", if *ok { "✓" } else { "✗" });
        }
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed()).collect();
    println!(
        "{} seeds run, {} passed, {} failed",
        outcomes.len(),
        outcomes.len() - failed.len(),
        failed.len()
    );
    for o in failed {
        let what: Vec<String> = o
            .checks
            .iter()
            .filter(|(_, ok, _)| !ok)
            .map(|(c, _, d)| format!("{c}: {d}"))
            .collect();
        println!(
            "seed {} failed ({}); reproduce: cargo run --release -- --scenario {name} --seed {}",
            o.seed,
            what.join("; "),
            o.seed
        );
    }
    if outcomes.len() == 1 {
        println!(
            "trace hash {:016x}; reproduce: cargo run --release -- --scenario {name} --seed {}",
            outcomes[0].trace_hash, outcomes[0].seed
        );
    }
}
