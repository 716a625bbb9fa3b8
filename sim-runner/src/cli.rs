//! Command-line parsing and the top-level commands.

use crate::artifacts::{self, SeedSummary, SweepReport};
use crate::error::InputError;
use crate::judge::{run_checked, Outcome};
use crate::scenarios::{self, Loaded};
use crate::{canary, report};
use clap::{Parser, Subcommand};
use sim::Canaries;
use std::ops::Range;
use std::path::{Path, PathBuf};

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
    /// Write the trace of the (single) run to this file: JSON lines (a header line, then
    /// one event a line), or, for a path ending in `.json`, the Chrome trace-event format
    /// that Perfetto (ui.perfetto.dev) and chrome://tracing open.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Write the client history of the (single) run in the check-history format (JSON
    /// lines, revisions included), so any outside checker can judge the same run.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Run each seed twice and compare the trace hashes.
    #[arg(long)]
    pub check_determinism: bool,
    /// Plant a bug (repeatable; see --list for the names).
    #[arg(long = "canary")]
    pub canaries: Vec<String>,
    /// List the scenarios and canaries.
    #[arg(long)]
    pub list: bool,
    /// Write report.json, summary.md and SVG timelines (of the single run, or of up to 10
    /// failing seeds) into this directory.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Run only part K of N of the seed range (K from 1), for sweeps split across
    /// machines; `sim-runner merge` joins the parts' report.json files.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// On a failing chaos seed, minimise its fault schedule and write the smallest one that
    /// still fails as a scenario file under reports/.
    #[arg(long)]
    pub shrink: bool,
    /// Rare-path alarm: fail the sweep (exit 1) if a coverage mark is reached in fewer
    /// than this percentage of its seeds, so a fault model that silently stops reaching a
    /// path is noticed.
    #[arg(long, value_name = "PERCENT")]
    pub min_mark_share: Option<f64>,
    /// Other commands.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands other than running a scenario.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a history file (JSON lines, see the check crate's history_file docs) for
    /// linearizability. Exit 0 linearizable, 1 not, 2 bad input, 3 undecided (the search
    /// budget ran out: neither a pass nor a violation).
    CheckHistory {
        /// The file.
        file: PathBuf,
        /// Search steps allowed per key before the verdict is undecided.
        #[arg(long, default_value_t = check::linearizability::STEP_BUDGET)]
        budget: u64,
    },
    /// Measure the testbed's speed and write reports/BENCHMARKS.md.
    Bench {
        /// Runs per median.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Seeds in the sweep whose rate is measured.
        #[arg(long, default_value_t = 200)]
        sweep_seeds: u64,
        /// Seeds run in one process to watch memory.
        #[arg(long, default_value_t = 2000)]
        memory_seeds: u64,
        /// Small workloads, for a smoke test of the command itself.
        #[arg(long)]
        quick: bool,
        /// Run only these parts (comma-separated: standard, floor, sweep, memory, checker,
        /// raft, wal). The report then goes to stdout only, unless --output is given.
        #[arg(long, value_delimiter = ',')]
        only: Vec<crate::bench::Part>,
        /// Where to write the report [default: reports/BENCHMARKS.md when every part runs].
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print the scenario file reference (every key, its type, default and meaning),
    /// generated from the scenario model; docs/scenario-reference.md is its output.
    Schema,
    /// Join the report.json files of a sharded sweep and print the whole sweep's summary.
    /// Exit 0 if every seed passed, 1 if any failed.
    Merge {
        /// The parts' report.json files.
        files: Vec<PathBuf>,
        /// Also write the merged report.json and summary.md here.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("expected K/N such as 2/8, got {text:?}"))?;
    let k: u64 = k
        .parse()
        .map_err(|_| format!("shard {k:?} is not a number"))?;
    let n: u64 = n
        .parse()
        .map_err(|_| format!("shard count {n:?} is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {text:?}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

/// The seeds of `range` that shard `k` of `n` runs: every n-th seed, starting at the
/// (k-1)-th. The shards together cover the range exactly once.
pub fn shard_seeds(range: Range<u64>, shard: Option<(u64, u64)>) -> Vec<u64> {
    match shard {
        None => range.collect(),
        Some((k, n)) => range.filter(|s| s % n == k - 1).collect(),
    }
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

/// How a command ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every check held (exit 0).
    Passed,
    /// A check failed (exit 1).
    Failed,
    /// Nothing failed, but a check could not decide (exit 3).
    Undecided,
}

impl Status {
    /// `Passed` or `Failed`.
    pub fn of(passed: bool) -> Status {
        if passed {
            Status::Passed
        } else {
            Status::Failed
        }
    }

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::Failed => 1,
            Status::Undecided => 3,
        }
    }
}

/// The most seeds one sweep runs; split a larger range with `--shard`.
pub const MAX_SEEDS: u64 = 10_000_000;

/// Checks the flags against each other and the scenario before anything runs, so a bad
/// combination fails at once rather than after the whole sweep.
fn preflight(args: &Args, loaded: &Loaded) -> Result<(), InputError> {
    if let Some(range) = &args.seeds {
        if range.end - range.start > MAX_SEEDS {
            return Err(InputError::Other(format!(
                "--seeds {}..{} is {} seeds; one sweep runs at most {MAX_SEEDS} (split it with --shard K/N)",
                range.start,
                range.end,
                range.end - range.start
            )));
        }
        if let Some((k, n)) = args.shard {
            if shard_seeds(range.clone(), Some((k, n))).is_empty() {
                return Err(InputError::Other(format!(
                    "--shard {k}/{n} of --seeds {}..{} has no seeds",
                    range.start, range.end
                )));
            }
        }
    }
    if args
        .min_mark_share
        .is_some_and(|p| !(0.0..=100.0).contains(&p))
    {
        return Err(InputError::Other(
            "--min-mark-share is a percentage from 0 to 100".into(),
        ));
    }
    if args.shrink && loaded.scenario.chaos.is_none() {
        return Err(InputError::Other(format!(
            "--shrink minimises a drawn fault schedule: scenario {} has no [chaos] section",
            loaded.scenario.name
        )));
    }
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).map_err(|e| InputError::Write {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// `--jobs`, at most twice the machine's cores (more only adds contention), with a note
/// when it was lowered.
fn capped_jobs(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if jobs > 2 * cores {
        eprintln!(
            "note: --jobs {jobs} lowered to {} (twice the {cores} cores)",
            2 * cores
        );
        return 2 * cores;
    }
    jobs
}

/// The status of a set of seeds: failed if any failed, else undecided if any was.
fn status_of(seeds: &[SeedSummary]) -> Status {
    if seeds.iter().any(|s| s.failed()) {
        Status::Failed
    } else if seeds.iter().any(|s| s.undecided) {
        Status::Undecided
    } else {
        Status::Passed
    }
}

/// Runs the command and says how it ended.
pub fn execute(args: Args) -> Result<Status, InputError> {
    match &args.command {
        Some(Command::CheckHistory { file, budget }) => return check_history(file, *budget),
        Some(Command::Merge { files, report }) => return merge(files, report.as_ref()),
        Some(Command::Schema) => {
            print!("{}", crate::reference::scenario_reference());
            return Ok(Status::Passed);
        }
        Some(Command::Bench {
            runs,
            sweep_seeds,
            memory_seeds,
            quick,
            only,
            output,
        }) => {
            let options = crate::bench::BenchOptions {
                runs: (*runs).max(1),
                sweep_seeds: *sweep_seeds,
                memory_seeds: *memory_seeds,
                quick: *quick,
                only: only.clone(),
            };
            let output = match (output, only.is_empty()) {
                (Some(path), _) => Some(path.clone()),
                (None, true) => Some(PathBuf::from("reports/BENCHMARKS.md")),
                (None, false) => None,
            };
            crate::bench::run(&options, output.as_deref())?;
            return Ok(Status::Passed);
        }
        None => {}
    }
    if args.list {
        report::list();
        return Ok(Status::Passed);
    }
    let loaded = scenarios::load(&args.scenario)?;
    preflight(&args, &loaded)?;
    let mut canaries = Canaries::default();
    for name in &args.canaries {
        canary::enable(&mut canaries, name).map_err(InputError::Other)?;
    }
    let seeds: Vec<u64> = match (&args.seeds, args.seed) {
        (Some(range), _) => shard_seeds(range.clone(), args.shard),
        (None, Some(seed)) => vec![seed],
        (None, None) => vec![0],
    };
    if args.shard.is_some() && args.seeds.is_none() {
        return Err(InputError::Other("--shard splits a --seeds range".into()));
    }
    if args.trace.is_some() && seeds.len() != 1 {
        return Err(InputError::Other(
            "--trace writes one run's trace: use it with --seed, not --seeds".into(),
        ));
    }
    if args.history.is_some() && seeds.len() != 1 {
        return Err(InputError::Other(
            "--history writes one run's history: use it with --seed, not --seeds".into(),
        ));
    }
    // Output files are opened before the run, so a bad path fails at once.
    let trace_file = args.trace.as_ref().map(create).transpose()?;
    let history_file = args.history.as_ref().map(create).transpose()?;
    if args.shrink && seeds.len() != 1 {
        return Err(InputError::Other(
            "--shrink works on one failing seed: use --seed".into(),
        ));
    }
    if args.jobs == 0 {
        return Err(InputError::Other("--jobs must be at least 1".into()));
    }
    let canary_flags: String = args
        .canaries
        .iter()
        .map(|c| format!(" --canary {c}"))
        .collect();
    let single = seeds.len() == 1;
    let keep_failures = args.report.is_some();
    let jobs = capped_jobs(args.jobs);
    let progress = (!single).then(|| {
        let bar = indicatif::ProgressBar::new(seeds.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} seeds · {per_sec} · eta {eta}",
            )
            .expect("a valid template"),
        );
        bar
    });
    // A panicking seed of a sweep is recorded, not printed with a backtrace in the middle
    // of the progress bar; the hook is put back afterwards.
    let previous_hook = (!single).then(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        previous
    });
    // Each worker summarises its run at once and keeps the full result (with its trace)
    // only when needed, so a long sweep's memory stays flat.
    let results: Vec<(SeedSummary, Option<Outcome>)> = sim::run_many(&seeds, jobs, |seed| {
        let outcome = run_checked(&loaded, seed, canaries, args.check_determinism);
        let summary = artifacts::summarize(&outcome, report::repro(&loaded, seed, &canary_flags));
        if let Some(bar) = &progress {
            bar.inc(1);
        }
        let keep = single || (keep_failures && !summary.passed);
        (summary, keep.then_some(outcome))
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
        if let Some(previous) = previous_hook {
            std::panic::set_hook(previous);
        }
    }
    let sweep = SweepReport {
        scenario: loaded.scenario.name.clone(),
        source: loaded.source.clone(),
        canaries: args.canaries.clone(),
        seeds: results.iter().map(|(s, _)| s.clone()).collect(),
    };
    let kept: Vec<&Outcome> = results.iter().filter_map(|(_, o)| o.as_ref()).collect();
    if let (Some(path), Some(file)) = (&args.trace, trace_file) {
        let about = serde_json::json!({
            "trace_format": 1,
            "scenario": loaded.scenario.name,
            "source": loaded.source,
            "seed": seeds[0],
            "canaries": args.canaries,
            "build": env!("CARGO_PKG_VERSION"),
        });
        write_trace(path, file, kept[0], about)?;
    }
    if let (Some(path), Some(file)) = (&args.history, history_file) {
        write_history(path, file, kept[0])?;
    }
    if single {
        report::single(&loaded, kept[0], &canary_flags);
    } else {
        report::sweep(&sweep);
        if args.check_determinism {
            let differed = sweep
                .seeds
                .iter()
                .filter(|s| s.failures.iter().any(|f| f.contains("determinism")))
                .count();
            println!(
                "determinism: {} seeds run twice, {differed} gave a different trace hash the second time",
                sweep.seeds.len()
            );
        }
    }
    if let Some(dir) = &args.report {
        write_report(dir, &sweep, &kept)?;
    }
    if args.shrink {
        match kept[0] {
            Outcome::Ran(run) if !run.passed() => {
                let path =
                    crate::shrink::shrink(&loaded, run, canaries).map_err(InputError::Other)?;
                println!(
                    "shrunk schedule written to {path}; reproduce: cargo run --release -- --scenario {path} --seed {}{canary_flags}",
                    run.seed
                );
            }
            Outcome::Ran(_) => println!("--shrink: the seed passed, nothing to shrink"),
            Outcome::Panicked { .. } => {
                println!("--shrink: the seed panicked; shrinking needs a judged failure")
            }
        }
    }
    let rare = args
        .min_mark_share
        .map_or(Vec::new(), |p| rare_marks(&sweep, p));
    if !rare.is_empty() {
        println!(
            "RARE-PATH ALARM: marks reached in fewer than {}% of seeds: {}",
            args.min_mark_share.unwrap_or(0.0),
            rare.join(", ")
        );
        return Ok(Status::Failed);
    }
    Ok(status_of(&sweep.seeds))
}

/// The marks reached in fewer than `percent` of the sweep's seeds, with their counts.
fn rare_marks(sweep: &SweepReport, percent: f64) -> Vec<String> {
    let n = sweep.seeds.len() as f64;
    sweep
        .mark_coverage()
        .into_iter()
        .filter(|(_, seeds)| (*seeds as f64) < n * percent / 100.0)
        .map(|(m, seeds)| format!("{m} ({seeds})"))
        .collect()
}

fn write_file(path: &std::path::Path, text: &str) -> Result<(), InputError> {
    std::fs::write(path, text).map_err(|e| InputError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn write_report(dir: &PathBuf, sweep: &SweepReport, kept: &[&Outcome]) -> Result<(), InputError> {
    std::fs::create_dir_all(dir).map_err(|e| InputError::Write {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let json = serde_json::to_string_pretty(sweep).expect("a report serializes");
    write_file(&dir.join("report.json"), &json)?;
    let mut timelines = Vec::new();
    for outcome in kept.iter().take(10) {
        if let Outcome::Ran(run) = outcome {
            let name = format!("timeline-seed-{}.svg", run.seed);
            write_file(&dir.join(&name), &artifacts::timeline_svg(run))?;
            timelines.push((run.seed, name));
        }
    }
    write_file(
        &dir.join("summary.md"),
        &artifacts::markdown(sweep, &timelines),
    )?;
    println!("report written to {}", dir.display());
    Ok(())
}

fn merge(files: &[PathBuf], out: Option<&PathBuf>) -> Result<Status, InputError> {
    if files.is_empty() {
        return Err(InputError::Other(
            "merge needs at least one report.json".into(),
        ));
    }
    let mut merged: Option<SweepReport> = None;
    for f in files {
        let path = f.display().to_string();
        let text = std::fs::read_to_string(f).map_err(|e| InputError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let part: SweepReport = serde_json::from_str(&text)
            .map_err(|e| InputError::Other(format!("{path}: not a sweep report: {e}")))?;
        match &mut merged {
            None => merged = Some(part),
            Some(m) => {
                if m.scenario != part.scenario || m.canaries != part.canaries {
                    return Err(InputError::Other(format!(
                        "{path}: scenario {} {:?} does not match {} {:?}",
                        part.scenario, part.canaries, m.scenario, m.canaries
                    )));
                }
                m.seeds.extend(part.seeds);
            }
        }
    }
    let mut merged = merged.expect("at least one file");
    merged.seeds.sort_by_key(|s| s.seed);
    if let Some(w) = merged.seeds.windows(2).find(|w| w[0].seed == w[1].seed) {
        return Err(InputError::Other(format!(
            "seed {} appears in two parts",
            w[0].seed
        )));
    }
    report::sweep(&merged);
    if let Some(dir) = out {
        write_report(dir, &merged, &[])?;
    }
    Ok(status_of(&merged.seeds))
}

/// Creates (truncates) an output file.
fn create(path: &PathBuf) -> Result<std::fs::File, InputError> {
    std::fs::File::create(path).map_err(|e| InputError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn write_trace(
    path: &Path,
    file: std::fs::File,
    outcome: &Outcome,
    mut about: serde_json::Value,
) -> Result<(), InputError> {
    let Outcome::Ran(run) = outcome else {
        return Err(InputError::Other(
            "the run panicked: no trace to write".into(),
        ));
    };
    let to_err = |e: std::io::Error| InputError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    about["trace_hash"] = format!("{:016x}", run.trace_hash).into();
    let mut file = std::io::BufWriter::new(file);
    if path.extension().is_some_and(|e| e == "json") {
        let trace = crate::perfetto::chrome_trace(run, about);
        serde_json::to_writer(&mut file, &trace).map_err(|e| to_err(e.into()))?;
    } else {
        serde_json::to_writer(&mut file, &about).map_err(|e| to_err(e.into()))?;
        std::io::Write::write_all(&mut file, b"\n").map_err(to_err)?;
        sim::trace::write_json_lines(&run.events, &mut file).map_err(to_err)?;
    }
    std::io::Write::flush(&mut file).map_err(to_err)
}

fn write_history(path: &Path, file: std::fs::File, outcome: &Outcome) -> Result<(), InputError> {
    let Outcome::Ran(run) = outcome else {
        return Err(InputError::Other(
            "the run panicked: no history to write".into(),
        ));
    };
    let text = check::history_file::write(&run.history);
    std::io::Write::write_all(&mut { file }, text.as_bytes()).map_err(|e| InputError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn check_history(file: &PathBuf, budget: u64) -> Result<Status, InputError> {
    let path = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| InputError::Read {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let file =
        check::history_file::parse(&text).map_err(|e| InputError::History(e, path.clone()))?;
    let history = file.ops;
    let options = check::linearizability::Options {
        budget,
        unit: check::linearizability::TimeUnit::AsGiven,
        revisions: file.revisions,
    };
    let report = check::linearizability::check_with(&history, &options);
    for f in &report.failures {
        let what = if f.undecided {
            "undecided"
        } else {
            "violation"
        };
        println!("key {} ({what}): {}", f.key, f.explanation);
    }
    let failed = report.failures.iter().filter(|f| !f.undecided).count();
    let undecided = report.failures.len() - failed;
    if failed > 0 {
        println!("NOT linearizable ({failed} of {} keys fail)", report.keys);
        return Ok(Status::Failed);
    }
    if undecided > 0 {
        println!(
            "UNDECIDED: the search budget ({budget} steps per key) ran out on {undecided} of {} keys; no violation was found, none is claimed (raise --budget)",
            report.keys
        );
        return Ok(Status::Undecided);
    }
    println!(
        "linearizable: {} operations over {} keys ({} search steps)",
        history.len(),
        report.keys,
        report.steps
    );
    Ok(Status::Passed)
}
