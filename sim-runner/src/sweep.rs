//! Running a scenario: one seed (a story, every verdict, the command that reproduces it)
//! or a sweep of many, with the files asked for (trace, history, report) and, for a
//! failing chaos seed, shrinking.

use crate::args::{shard_len, shard_seeds, Args, MAX_SEEDS};
use crate::artifacts::{self, Build, SeedSummary, SweepReport, FORMAT_VERSION};
use crate::error::InputError;
use crate::judge::{run_checked, Outcome};
use crate::output::{create, write_history, write_report, write_trace};
use crate::report;
use crate::scenarios::{self, Loaded};
use crate::tools::Status;
use sim::Canaries;

/// What a scenario run was asked for, checked before any seed runs.
struct Plan {
    loaded: Loaded,
    canaries: Canaries,
    seeds: Vec<u64>,
    /// ` --canary NAME` for each canary, for the repro commands.
    canary_flags: String,
    trace_file: Option<std::fs::File>,
    history_file: Option<std::fs::File>,
}

/// Runs the scenario `args` names and says how it ended.
pub fn run_scenario(args: &Args) -> Result<Status, InputError> {
    let mut plan = prepare(args)?;
    // Message events are kept only for a trace file: no checker or report reads them.
    sim::trace::keep_messages(args.trace.is_some());
    let results = run_seeds(args, &plan);
    let sweep = SweepReport {
        format: FORMAT_VERSION,
        build: Build::current(),
        range: args.seeds.as_ref().map(|r| (r.start, r.end)),
        shard: args.shard,
        scenario: plan.loaded.scenario.name.clone(),
        source: plan.loaded.source.clone(),
        canaries: canary_names(args),
        seeds: results.iter().map(|(s, _)| s.clone()).collect(),
    };
    let kept: Vec<&Outcome> = results.iter().filter_map(|(_, o)| o.as_ref()).collect();
    write_outputs(args, &mut plan, &sweep, &kept)?;
    if args.shrink {
        shrink(&plan, kept[0])?;
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
    Ok(Status::of_seeds(&sweep.seeds))
}

/// Loads the scenario and checks every flag before anything runs; output files are
/// opened now, so a bad path fails at once.
fn prepare(args: &Args) -> Result<Plan, InputError> {
    let loaded = scenarios::load(&args.scenario)?;
    preflight(args, &loaded)?;
    let s = &loaded.scenario;
    if let Some(why) = config::liveness_unjudgeable(&s.cluster, &s.network) {
        eprintln!(
            "warning: {}: liveness will not be judged: {why}",
            args.scenario
        );
    }
    let mut canaries = Canaries::default();
    for c in &args.canaries {
        c.plant(&mut canaries);
    }
    let seeds: Vec<u64> = match (&args.seeds, args.seed) {
        (Some(range), _) => shard_seeds(range.clone(), args.shard),
        (None, Some(seed)) => vec![seed],
        (None, None) => vec![0],
    };
    let one_seed = |flag: &str, what: &str| {
        if seeds.len() == 1 {
            Ok(())
        } else {
            Err(InputError::Other(format!(
                "{flag} {what}: use it with --seed, not --seeds"
            )))
        }
    };
    if args.trace.is_some() {
        one_seed("--trace", "writes one run's trace")?;
    }
    if args.history.is_some() {
        one_seed("--history", "writes one run's history")?;
    }
    if args.shrink {
        one_seed("--shrink", "works on one failing seed")?;
    }
    Ok(Plan {
        trace_file: args.trace.as_deref().map(create).transpose()?,
        history_file: args.history.as_deref().map(create).transpose()?,
        canary_flags: args
            .canaries
            .iter()
            .map(|c| format!(" --canary {}", c.name()))
            .collect(),
        loaded,
        canaries,
        seeds,
    })
}

/// Checks the flags against each other and the scenario before anything runs, so a bad
/// combination fails at once rather than after the whole sweep.
fn preflight(args: &Args, loaded: &Loaded) -> Result<(), InputError> {
    if args.jobs == 0 {
        return Err(InputError::Other("--jobs must be at least 1".into()));
    }
    if args.shard.is_some() && args.seeds.is_none() {
        return Err(InputError::Other("--shard splits a --seeds range".into()));
    }
    if let Some(range) = &args.seeds {
        let (k, n) = args.shard.unwrap_or((1, 1));
        let count = shard_len(range.clone(), args.shard);
        if count > MAX_SEEDS {
            return Err(InputError::Other(format!(
                "--seeds {}..{} runs {count} seeds here; one sweep runs at most {MAX_SEEDS} (split it with --shard K/N)",
                range.start, range.end
            )));
        }
        if count == 0 {
            return Err(InputError::Other(format!(
                "--shard {k}/{n} of --seeds {}..{} has no seeds",
                range.start, range.end
            )));
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
        std::fs::create_dir_all(dir).map_err(InputError::write(dir))?;
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

/// Runs every seed on `--jobs` workers. Each worker summarises its run at once and keeps
/// the full result (with its trace) only when needed, so a long sweep's memory stays flat.
fn run_seeds(args: &Args, plan: &Plan) -> Vec<(SeedSummary, Option<Outcome>)> {
    let single = plan.seeds.len() == 1;
    let keep_failures = args.report.is_some();
    let progress = (!single).then(|| {
        let bar = indicatif::ProgressBar::new(plan.seeds.len() as u64);
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
    let loaded = &plan.loaded;
    let results = sim::run_many(&plan.seeds, capped_jobs(args.jobs), |seed| {
        let outcome = run_checked(loaded, seed, plan.canaries, args.check_determinism);
        let repro = report::repro(loaded, seed, &plan.canary_flags);
        let summary = artifacts::summarize(&outcome, repro);
        if let Some(bar) = &progress {
            bar.inc(1);
        }
        let keep = single || (keep_failures && !summary.passed);
        (summary, keep.then_some(outcome))
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(previous) = previous_hook {
        std::panic::set_hook(previous);
    }
    results
}

fn canary_names(args: &Args) -> Vec<String> {
    args.canaries.iter().map(|c| c.name().to_string()).collect()
}

/// The trace header: what produced the file.
fn about(args: &Args, plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "trace_format": FORMAT_VERSION,
        "scenario": plan.loaded.scenario.name,
        "source": plan.loaded.source,
        "seed": plan.seeds[0],
        "canaries": canary_names(args),
        "build": Build::current(),
    })
}

/// Prints the run or sweep and writes the files asked for.
fn write_outputs(
    args: &Args,
    plan: &mut Plan,
    sweep: &SweepReport,
    kept: &[&Outcome],
) -> Result<(), InputError> {
    if let (Some(path), Some(file)) = (&args.trace, plan.trace_file.take()) {
        write_trace(path, file, kept[0], about(args, plan))?;
    }
    if let (Some(path), Some(file)) = (&args.history, plan.history_file.take()) {
        write_history(path, file, kept[0])?;
    }
    if plan.seeds.len() == 1 {
        report::single(&plan.loaded, kept[0], &plan.canary_flags);
    } else {
        report::sweep(sweep);
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
        write_report(dir, sweep, kept)?;
    }
    Ok(())
}

fn shrink(plan: &Plan, outcome: &Outcome) -> Result<(), InputError> {
    match outcome {
        Outcome::Ran(run) if !run.passed() => {
            let path = crate::shrink::shrink(&plan.loaded, run, plan.canaries)
                .map_err(InputError::Other)?;
            println!(
                "shrunk schedule written to {path}; reproduce: cargo run --release -- --scenario {path} --seed {}{}",
                run.seed, plan.canary_flags
            );
        }
        Outcome::Ran(_) => println!("--shrink: the seed passed, nothing to shrink"),
        Outcome::Panicked { .. } => {
            println!("--shrink: the seed panicked; shrinking needs a judged failure")
        }
    }
    Ok(())
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
