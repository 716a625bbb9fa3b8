//! Command-line parsing and the top-level commands.

use crate::engine::{self, RunResult};
use crate::scenarios::{self, Loaded};
use crate::{canary, report};
use clap::{Parser, Subcommand};
use sim::Canaries;
use std::ops::Range;
use std::path::PathBuf;

/// Deterministic simulation testbed for a Raft + WAL + KV store.
///
/// Runs a scenario for one seed (a story, every check's verdict, and the command that
/// reproduces it) or sweeps many seeds. Exit code 0 when every check holds, 1 when one
/// failed, 2 for bad input.
#[derive(Parser, Debug)]
#[command(
    name = "sim-runner",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Scenario to run: a built-in name (see --list) or a path to a .toml file.
    #[arg(long, default_value = "basic")]
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
    /// Plant a bug (repeatable; see --list for the names).
    #[arg(long = "canary")]
    pub canaries: Vec<String>,
    /// List the scenarios and canaries.
    #[arg(long)]
    pub list: bool,
    /// Other commands.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands other than running a scenario.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a history file (JSON lines, see the check crate's history_file docs) for
    /// linearizability. Exit 0 linearizable, 1 not, 2 bad input.
    CheckHistory {
        /// The file.
        file: PathBuf,
    },
}

/// Bad input: reported with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The scenario name is not known.
    #[error("unknown scenario {0:?} (run with --list to see the scenarios, or give a path to a .toml file)")]
    UnknownScenario(String),
    /// A scenario file is invalid.
    #[error("{0}")]
    Scenario(scenario::ScenarioError),
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Could not write an output file.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A history file is invalid.
    #[error("{path}:{0}", path = .1)]
    History(check::history_file::HistoryFileError, String),
    /// Other bad input.
    #[error("{0}")]
    Other(String),
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

/// Runs the command; `Ok(true)` when every check held.
pub fn execute(args: Args) -> Result<bool, InputError> {
    if let Some(Command::CheckHistory { file }) = &args.command {
        return check_history(file);
    }
    if args.list {
        report::list();
        return Ok(true);
    }
    let loaded = scenarios::load(&args.scenario)?;
    let mut canaries = Canaries::default();
    for name in &args.canaries {
        canary::enable(&mut canaries, name).map_err(InputError::Other)?;
    }
    let seeds: Vec<u64> = match (&args.seeds, args.seed) {
        (Some(range), _) => range.clone().collect(),
        (None, Some(seed)) => vec![seed],
        (None, None) => vec![0],
    };
    if args.trace.is_some() && seeds.len() != 1 {
        return Err(InputError::Other(
            "--trace writes one run's trace: use it with --seed, not --seeds".into(),
        ));
    }
    if args.jobs == 0 {
        return Err(InputError::Other("--jobs must be at least 1".into()));
    }
    let outcomes = sim::run_many(&seeds, args.jobs, |seed| {
        run_checked(&loaded, seed, canaries, args.check_determinism)
    });
    if let Some(path) = &args.trace {
        write_trace(path, &outcomes[0])?;
    }
    let canary_flags: String = args
        .canaries
        .iter()
        .map(|c| format!(" --canary {c}"))
        .collect();
    if outcomes.len() == 1 {
        report::single(&loaded, &outcomes[0], &canary_flags);
    } else {
        report::sweep(&loaded, &outcomes, &canary_flags);
    }
    Ok(outcomes.iter().all(|o| o.passed()))
}

/// Runs one seed (twice with `determinism`), turning a panic into a recorded failure.
pub fn run_checked(loaded: &Loaded, seed: u64, canaries: Canaries, determinism: bool) -> Outcome {
    let first = run_catching(loaded, seed, canaries);
    let mismatch = if determinism {
        let second = run_catching(loaded, seed, canaries);
        match (&first, &second) {
            (Outcome::Ran(a), Outcome::Ran(b)) if a.trace_hash != b.trace_hash => Some(format!(
                "determinism: a second run gave trace hash {:016x}, the first {:016x}",
                b.trace_hash, a.trace_hash
            )),
            (Outcome::Panicked { message: a, .. }, Outcome::Panicked { message: b, .. })
                if a != b =>
            {
                Some("determinism: the two runs panicked differently".into())
            }
            (Outcome::Ran(_), Outcome::Panicked { .. })
            | (Outcome::Panicked { .. }, Outcome::Ran(_)) => {
                Some("determinism: one run panicked and the other did not".into())
            }
            _ => None,
        }
    } else {
        None
    };
    match (first, mismatch) {
        (Outcome::Ran(mut r), Some(m)) => {
            r.expectations.push(("determinism".into(), false, m));
            Outcome::Ran(r)
        }
        (o, _) => o,
    }
}

fn run_catching(loaded: &Loaded, seed: u64, canaries: Canaries) -> Outcome {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engine::run(loaded, seed, canaries)
    })) {
        Ok(r) => Outcome::Ran(Box::new(r)),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Panicked { seed, message }
        }
    }
}

/// What one seed gave.
#[derive(Debug)]
pub enum Outcome {
    /// The run completed (and was judged).
    Ran(Box<RunResult>),
    /// The run panicked: a recorded failure.
    Panicked {
        /// The seed.
        seed: u64,
        /// The panic message.
        message: String,
    },
}

impl Outcome {
    /// Whether the seed passed.
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Ran(r) if r.passed())
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        match self {
            Outcome::Ran(r) => r.seed,
            Outcome::Panicked { seed, .. } => *seed,
        }
    }
}

fn write_trace(path: &PathBuf, outcome: &Outcome) -> Result<(), InputError> {
    let Outcome::Ran(run) = outcome else {
        return Err(InputError::Other(
            "the run panicked: no trace to write".into(),
        ));
    };
    let to_err = |e: std::io::Error| InputError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(to_err)?);
    sim::trace::write_json_lines(&run.events, &mut file).map_err(to_err)?;
    std::io::Write::flush(&mut file).map_err(to_err)
}

fn check_history(file: &PathBuf) -> Result<bool, InputError> {
    let path = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| InputError::Read {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let history =
        check::history_file::parse(&text).map_err(|e| InputError::History(e, path.clone()))?;
    let report = check::linearizability::check(&history);
    if report.linearizable() {
        println!(
            "linearizable: {} operations over {} keys ({} search steps)",
            history.len(),
            report.keys,
            report.steps
        );
        Ok(true)
    } else {
        for f in &report.failures {
            println!("key {}: {}", f.key, f.explanation);
        }
        println!(
            "NOT linearizable ({} of {} keys fail)",
            report.failures.len(),
            report.keys
        );
        Ok(false)
    }
}
