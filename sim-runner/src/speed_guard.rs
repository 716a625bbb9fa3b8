//! `sim-runner bench --guard MAX`: CI's speed guard. The standard chaos run and bare madsim
//! are measured in the same process, several times each, and the run fails when the
//! median cost per delivered message exceeds MAX times the bare simulator's.
//!
//! Both sides run on the same machine in the same minute, so a slow or busy machine slows
//! both and the ratio stays; what noise is left (a few percent run to run on a shared
//! 2-core machine) is what the margin between the target and MAX is for.

use crate::bench::{self, BenchOptions};
use crate::error::InputError;
use crate::tools::Status;

/// Runs the guard with `runs` runs per side; fails when the ratio exceeds `max`.
pub fn run(runs: usize, max: f64) -> Result<Status, InputError> {
    let options = BenchOptions {
        runs: runs.max(1),
        sweep_seeds: 0,
        memory_seeds: 0,
        quick: true,
        only: Vec::new(),
    };
    sim::trace::keep_messages(false);
    let (_, testbed, _) = bench::standard(&options)?;
    let (_, floor) = bench::floor(&options);
    let ratio = testbed.0 / floor.0;
    println!(
        "speed guard: {:.2} µs per delivered message (median of {runs}), bare madsim {:.2} µs: {ratio:.2}x (limit {max:.2}x)",
        testbed.0, floor.0
    );
    if ratio > max {
        println!(
            "speed guard FAILED: the testbed costs {ratio:.2}x bare madsim per message, over the {max:.2}x limit; profile it (CONTRIBUTING.md, \"Profiling\") before it lands"
        );
        return Ok(Status::Failed);
    }
    Ok(Status::Passed)
}
