//! The `canaries` part of `bench`: how fast plain `chaos` catches each planted bug, in
//! seeds and wall seconds on all cores (the figure a user feels when hunting a new bug).

use crate::canary::Canary;
use crate::error::InputError;
use crate::judge::{run_checked, Outcome};
use crate::scenarios;
use std::fmt::Write as _;

/// Seeds tried per canary before giving up.
const BUDGET: u64 = 200;

/// Seeds tried per canary in a quick (smoke-test) bench.
const QUICK_BUDGET: u64 = 10;

/// The first seeds at which a run with `canary` fails: by trace validation, and by any
/// other check (the bug's visible consequence), with that check's line.
#[derive(Default)]
struct Catch {
    /// First seed failed by trace validation.
    validator: Option<u64>,
    /// First seed failed by another check, and its failure line.
    consequence: Option<(u64, String)>,
    /// Seeds run.
    run: u64,
}

/// Runs `chaos` seeds from 0 with `canary`, `jobs` at a time, until its consequence (and,
/// for a bug of the core, trace validation's catch) is found or `budget` seeds ran.
fn first_catch(canary: Canary, jobs: usize, budget: u64) -> Result<Catch, InputError> {
    let core = canary.in_the_core();
    let chaos = scenarios::load("chaos")?;
    let mut planted = sim::Canaries::default();
    canary.plant(&mut planted);
    let mut c = Catch::default();
    for start in (0..budget).step_by(jobs) {
        let batch: Vec<u64> = (start..(start + jobs as u64).min(budget)).collect();
        let outcomes = sim::run_many(&batch, jobs, |seed| {
            match run_checked(&chaos, seed, planted, false) {
                Outcome::Ran(r) => r.failures(),
                Outcome::Panicked { message, .. } => vec![format!("panicked: {message}")],
            }
        });
        c.run += batch.len() as u64;
        for (seed, failures) in batch.iter().zip(outcomes) {
            let (by_validator, others): (Vec<_>, Vec<_>) = failures
                .into_iter()
                .partition(|f| f.starts_with(check::Property::TraceValidation.name()));
            if c.validator.is_none() && !by_validator.is_empty() {
                c.validator = Some(*seed);
            }
            if c.consequence.is_none() {
                c.consequence = others.into_iter().next().map(|f| (*seed, f));
            }
        }
        if (c.validator.is_some() || !core) && c.consequence.is_some() {
            break;
        }
    }
    Ok(c)
}

/// The table of every canary: the first seed caught by trace validation and the first
/// caught by another check (what the bug visibly broke), the seeds run and wall seconds.
pub fn canaries(quick: bool) -> Result<String, InputError> {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let budget = if quick { QUICK_BUDGET } else { BUDGET };
    let mut md = format!(
        "## Planted bugs caught by plain chaos\n\nEach canary alone, `chaos` seeds from 0 on {jobs} cores (at most {budget} seeds): the first seed that trace validation fails (looked for only for the bugs of the Raft core, which break a rule it judges; \"—\" for the others), the first seed another check fails (the bug's visible consequence) and which, the seeds run and the wall seconds.\n\n| canary | trace validation | consequence | caught by | seeds run | wall s |\n|---|---|---|---|---|---|\n"
    );
    let mut needed = Vec::new();
    for c in Canary::all() {
        // Wall time of the benchmark itself, outside any simulation.
        #[allow(clippy::disallowed_methods)]
        let started = std::time::Instant::now();
        let catch = first_catch(*c, jobs, budget)?;
        let wall = started.elapsed().as_secs_f64();
        eprintln!("canary {}: {} seeds, {wall:.1} s", c.name(), catch.run);
        let seed = |s: Option<u64>| s.map_or("not caught".to_string(), |s| s.to_string());
        let validator = if c.in_the_core() {
            seed(catch.validator)
        } else {
            "—".to_string()
        };
        let (consequence, by) = match &catch.consequence {
            Some((s, why)) => (
                s.to_string(),
                why.split(':').next().unwrap_or("").to_string(),
            ),
            None => ("not caught".into(), String::new()),
        };
        let first = [catch.validator, catch.consequence.as_ref().map(|c| c.0)]
            .into_iter()
            .flatten()
            .min();
        needed.push(first.map_or(budget, |s| s + 1));
        let _ = writeln!(
            md,
            "| `{}` | {validator} | {consequence} | {by} | {} | {wall:.1} |",
            c.name(),
            catch.run
        );
    }
    needed.sort_unstable();
    let median = needed.get(needed.len() / 2).copied().unwrap_or(0);
    let _ = writeln!(
        md,
        "\nMedian seeds to the first catch by any check: **{median}** (target ≤ 20).\n"
    );
    Ok(md)
}
