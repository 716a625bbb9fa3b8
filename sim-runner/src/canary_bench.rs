//! The `canaries` part of `bench`: how fast plain `chaos` catches each planted bug, in
//! seeds and wall seconds on all cores (the figure a user feels when hunting a new bug).

use crate::canary::Canary;
use crate::error::InputError;
use crate::judge::{run_checked, Outcome};
use crate::scenarios;
use std::fmt::Write as _;

/// Seeds tried per canary before giving up.
const BUDGET: u64 = 200;

/// The first seed at which `canary` fails and the failing checker, or `None` within
/// [`BUDGET`]; runs `jobs` seeds at a time.
fn first_catch(canary: Canary, jobs: usize) -> Result<(Option<(u64, String)>, u64), InputError> {
    let chaos = scenarios::load("chaos")?;
    let mut planted = sim::Canaries::default();
    canary.plant(&mut planted);
    let mut run = 0;
    for start in (0..BUDGET).step_by(jobs) {
        let batch: Vec<u64> = (start..(start + jobs as u64).min(BUDGET)).collect();
        let outcomes = sim::run_many(&batch, jobs, |seed| {
            let o = run_checked(&chaos, seed, planted, false);
            match o {
                Outcome::Ran(r) if r.failed() => r.failures().first().cloned(),
                Outcome::Panicked { message, .. } => Some(format!("panicked: {message}")),
                Outcome::Ran(_) => None,
            }
        });
        run += batch.len() as u64;
        let caught = batch
            .iter()
            .zip(outcomes)
            .find_map(|(s, f)| f.map(|f| (*s, f)));
        if caught.is_some() {
            return Ok((caught, run));
        }
    }
    Ok((None, run))
}

/// The table of every canary: first catching seed, seeds run, wall seconds, and what
/// caught it.
pub fn canaries() -> Result<String, InputError> {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut md = format!(
        "## Planted bugs caught by plain chaos\n\nEach canary alone, `chaos` seeds from 0 on {jobs} cores until the first failure (at most {BUDGET} seeds): the seed, the seeds run, the wall seconds, and the check that caught it.\n\n| canary | first failing seed | seeds run | wall s | caught by |\n|---|---|---|---|---|\n"
    );
    let mut needed = Vec::new();
    for c in Canary::all() {
        // Wall time of the benchmark itself, outside any simulation.
        #[allow(clippy::disallowed_methods)]
        let started = std::time::Instant::now();
        let (caught, run) = first_catch(*c, jobs)?;
        let wall = started.elapsed().as_secs_f64();
        eprintln!("canary {}: {run} seeds, {wall:.1} s", c.name());
        let (seed, by) = match caught {
            Some((seed, why)) => (
                seed.to_string(),
                why.split(':').next().unwrap_or("").to_string(),
            ),
            None => ("not caught".into(), String::new()),
        };
        needed.push(run);
        let _ = writeln!(md, "| `{}` | {seed} | {run} | {wall:.1} | {by} |", c.name());
    }
    needed.sort_unstable();
    let median = needed.get(needed.len() / 2).copied().unwrap_or(0);
    let _ = writeln!(
        md,
        "\nMedian seeds to the first catch: **{median}** (target ≤ 20).\n"
    );
    Ok(md)
}
