//! `sim-runner bench --guard MAX`: CI's speed guard. The standard chaos run and bare madsim
//! are measured in the same process, in pairs: one standard run, then one bare run, `runs`
//! times. Each pair gives a ratio of costs per delivered message, and the run fails when
//! the median ratio exceeds MAX.
//!
//! The two sides of a pair run seconds apart, so a burst of load on a shared machine
//! slows both and the pair's ratio stays (measuring all of one side, then all of the
//! other, let a load that came or went between the halves move the ratio by 10%); what
//! noise is left is what the margin between the target and MAX is for.

use crate::bench::standard_scenario;
use crate::error::InputError;
use crate::judge;
use crate::measure::{median, timed};
use crate::tools::Status;

/// Runs the guard with `runs` runs per side; fails when the ratio exceeds `max`.
pub fn run(runs: usize, max: f64) -> Result<Status, InputError> {
    sim::trace::keep_messages(false);
    let loaded = standard_scenario();
    let (mut testbed, mut floor, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..runs.max(1) as u64 {
        let (r, wall) = timed(|| judge::run(&loaded, seed, sim::Canaries::default()));
        let ours = wall * 1e6 / r.network.delivered.max(1) as f64;
        let (delivered, wall) = timed(|| sim::run(seed, || sim::floor::bare_madsim(5, 60_000)));
        let bare = wall * 1e6 / delivered.max(1) as f64;
        eprintln!(
            "pair {seed}: {ours:.2} µs per message, bare madsim {bare:.2} µs: {:.2}x",
            ours / bare
        );
        testbed.push(ours);
        floor.push(bare);
        ratios.push(ours / bare);
    }
    let ratio = median(ratios).0;
    println!(
        "speed guard: {:.2} µs per delivered message (median of {runs}), bare madsim {:.2} µs: {ratio:.2}x (limit {max:.2}x, the median of the pairs' ratios)",
        median(testbed).0,
        median(floor).0
    );
    if ratio > max {
        println!(
            "speed guard FAILED: the testbed costs {ratio:.2}x bare madsim per message, over the {max:.2}x limit; profile it (CONTRIBUTING.md, \"Profiling\") before it lands"
        );
        return Ok(Status::Failed);
    }
    Ok(Status::Passed)
}
