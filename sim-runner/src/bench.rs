//! `sim-runner bench`: the testbed's speed, as medians over several runs with min and max,
//! written to `reports/BENCHMARKS.md`. Every figure comes from this run on this machine.

use crate::artifacts;
use crate::error::InputError;
use crate::judge;
use crate::measure::{median, proc_status_kib, timed};
use crate::scenarios::{self, Loaded};
use std::fmt::Write as _;
use std::path::Path;

/// The standard chaos run: 5 members, 16 clients, faults on, 60 simulated seconds.
const STANDARD_CHAOS: &str = r#"
name = "bench-chaos"
description = "the standard chaos run of the benchmarks"
duration_ms = 60000
[cluster]
nodes = 5
snapshot_every = 500
[workload]
clients = 16
keys = 16
stop_ms = 57000
[chaos]
faults_until_ms = 50000
mean_gap_ms = 400
store_percent = 0
[liveness]
leader_within_ms = 5000
op_within_ms = 5000
"#;

/// One part of the benchmark report, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The standard chaos run on one core.
    Standard,
    /// The bare madsim floor, same process.
    Floor,
    /// Seeds per minute of a chaos sweep on all cores.
    Sweep,
    /// Resident memory across a long sweep.
    Memory,
    /// The linearizability checker on generated histories.
    Checker,
    /// The Raft core's in-memory commit rate.
    Raft,
    /// The WAL on real files.
    Wal,
    /// Seeds and wall seconds until plain chaos catches each planted bug.
    Canaries,
}

/// How much to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Runs per median.
    pub runs: usize,
    /// Seeds in the sweep whose rate is measured.
    pub sweep_seeds: u64,
    /// Seeds run in one process to watch memory.
    pub memory_seeds: u64,
    /// Scale down the fixed workloads (checker, Raft, WAL) for a smoke test.
    pub quick: bool,
    /// Only these parts; every part when empty.
    pub only: Vec<Part>,
}

impl BenchOptions {
    fn wants(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

fn fmt3(m: (f64, f64, f64)) -> String {
    format!("{:.0} (min {:.0}, max {:.0})", m.0, m.1, m.2)
}

fn fmt3f(m: (f64, f64, f64)) -> String {
    format!("{:.2} (min {:.2}, max {:.2})", m.0, m.1, m.2)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024 / 1024);
    format!("{cpu}, {cores} cores, {mem} GiB")
}

/// Runs the benchmarks (the parts `options` asks for), prints the report and writes it to
/// `output` if given.
pub fn run(options: &BenchOptions, output: Option<&Path>) -> Result<(), InputError> {
    // As a sweep runs: without the message events that only a trace file needs.
    sim::trace::keep_messages(false);
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Machine: {}. Regenerate with `cargo run --release -- bench --memory-seeds {}` on an otherwise idle machine.\n",
        machine(),
        options.memory_seeds
    );
    let _ = writeln!(md, "Medians over {} runs, with min and max. Wall times are real seconds on this machine; simulated time is what the runs covered.\n", options.runs);
    if options.wants(Part::Standard) || options.wants(Part::Floor) {
        md.push_str(&standard_and_floor(options)?);
    }
    if options.wants(Part::Sweep) {
        md.push_str(&sweep(options)?);
    }
    if options.wants(Part::Memory) {
        md.push_str(&memory(options)?);
    }
    if options.wants(Part::Checker) {
        md.push_str(&crate::bench_checker::checker(options.runs, options.quick));
    }
    if options.wants(Part::Raft) {
        md.push_str(&raft(options));
    }
    if options.wants(Part::Wal) {
        md.push_str(&wal(options)?);
    }
    if options.wants(Part::Canaries) {
        md.push_str(&crate::canary_bench::canaries(options.quick)?);
    }
    print!("{md}");
    if let Some(output) = output {
        std::fs::write(output, &md).map_err(InputError::write(output))?;
        println!("written to {}", output.display());
    }
    Ok(())
}

/// The standard chaos run on one core and the bare madsim floor, measured in the same
/// process so that their ratio is fair.
pub(crate) type Median = (f64, f64, f64);

/// A table row: the figure and its value.
pub(crate) type Row = (&'static str, String);

/// The standard chaos run's scenario.
pub fn standard_scenario() -> Loaded {
    scenarios::from_text(STANDARD_CHAOS, "bench-chaos")
        .expect("the standard chaos run is a valid scenario")
}

/// The standard chaos run, `runs` seeds: its rows and the medians of µs per message and
/// simulated seconds per wall second.
pub(crate) fn standard(options: &BenchOptions) -> Result<(Vec<Row>, Median, f64), InputError> {
    let loaded = standard_scenario();
    let (mut sim_rate, mut ops_rate, mut msg_rate, mut us_per_msg) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut passed = 0;
    for seed in 0..options.runs as u64 {
        let (r, wall) = timed(|| judge::run(&loaded, seed, sim::Canaries::default()));
        eprintln!(
            "standard chaos seed {seed}: {:.2} s wall, passed {}",
            wall,
            r.passed()
        );
        passed += usize::from(r.passed());
        sim_rate.push(r.end_ns as f64 / 1e9 / wall);
        ops_rate.push(r.history.len() as f64 / wall);
        msg_rate.push(r.network.delivered as f64 / wall);
        us_per_msg.push(wall * 1e6 / r.network.delivered.max(1) as f64);
    }
    let peak_mib = proc_status_kib("VmHWM:") as f64 / 1024.0;
    let t = median(us_per_msg);
    let rate = median(sim_rate);
    let rows = vec![
        ("simulated seconds per wall second", fmt3f(rate)),
        ("client operations per wall second", fmt3(median(ops_rate))),
        ("delivered messages per wall second", fmt3(median(msg_rate))),
        (
            "wall µs per delivered message (everything: member, WAL, KV, trace, checkers)",
            fmt3f(t),
        ),
        (
            "peak resident memory of the process",
            format!("{peak_mib:.0} MiB"),
        ),
        (
            "runs that passed every check (a failing or undecided run is timed too)",
            format!("{passed} of {}", options.runs),
        ),
    ];
    Ok((rows, t, rate.0))
}

/// Bare madsim carrying messages between 5 nodes: its rows and median µs per message.
pub(crate) fn floor(options: &BenchOptions) -> (Vec<Row>, Median) {
    let mut floor_us = Vec::new();
    let mut floor_rate = Vec::new();
    for seed in 0..options.runs as u64 {
        let (delivered, wall) = timed(|| sim::run(seed, || sim::floor::bare_madsim(5, 60_000)));
        floor_us.push(wall * 1e6 / delivered.max(1) as f64);
        floor_rate.push(delivered as f64 / wall);
    }
    let f = median(floor_us);
    let rows = vec![
        (
            "bare madsim, 5 nodes, no Raft: wall µs per delivered message",
            fmt3f(f),
        ),
        (
            "bare madsim: delivered messages per wall second",
            fmt3(median(floor_rate)),
        ),
    ];
    (rows, f)
}

fn standard_and_floor(options: &BenchOptions) -> Result<String, InputError> {
    let mut rows: Vec<Row> = Vec::new();
    let (mut testbed, mut sim_rate_median, mut floor_us) = (None, None, None);
    if options.wants(Part::Standard) {
        let (r, t, rate) = standard(options)?;
        rows.extend(r);
        (testbed, sim_rate_median) = (Some(t), Some(rate));
    }
    if options.wants(Part::Floor) {
        let (r, f) = floor(options);
        rows.extend(r);
        floor_us = Some(f);
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## The standard chaos run (5 members, 16 clients, faults on, 60 simulated s, one core)\n"
    );
    let _ = writeln!(md, "| figure | median (min, max) |\n|---|---|");
    for (figure, value) in rows {
        let _ = writeln!(md, "| {figure} | {value} |");
    }
    md.push('\n');
    if let (Some(t), Some(f)) = (testbed, floor_us) {
        let _ = writeln!(
            md,
            "Testbed cost per message: **{:.2}×** the bare simulator's (target ≤ 1.5×; CI's speed guard fails above 2.1×).",
            t.0 / f.0
        );
    }
    if let Some(rate) = sim_rate_median {
        let _ = writeln!(
            md,
            "Simulated seconds per wall second: **{rate:.0}** (target ≥ 150)."
        );
    }
    md.push('\n');
    Ok(md)
}

/// Seeds per minute of a chaos sweep on all cores.
fn sweep(options: &BenchOptions) -> Result<String, InputError> {
    let chaos = scenarios::load("chaos")?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let seeds: Vec<u64> = (0..options.sweep_seeds.max(1)).collect();
    let (passed, wall) = timed(|| {
        sim::run_many(&seeds, jobs, |seed| {
            let o = judge::run_checked(&chaos, seed, sim::Canaries::default(), false);
            artifacts::summarize(&o, String::new()).passed
        })
    });
    Ok(format!(
        "## Sweep rate\n\n`chaos` scenario (20 simulated s, 3 or 5 members, 6 clients), {} seeds on {jobs} cores: **{:.0} seeds per minute** ({} passed).\n\n",
        seeds.len(),
        seeds.len() as f64 * 60.0 / wall,
        passed.iter().filter(|p| **p).count()
    ))
}

/// Resident memory during one long sweep in one process (the worker threads live through
/// the whole sweep, as in `--seeds`), sampled each time another tenth of the seeds has
/// finished: flat means the later samples are no higher than the early ones.
fn memory(options: &BenchOptions) -> Result<String, InputError> {
    let chaos = scenarios::load("chaos")?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = options.memory_seeds.max(1);
    let all: Vec<u64> = (10_000..10_000 + n).collect();
    let tenth = (n as usize).div_ceil(10).max(1);
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let samples = std::sync::Mutex::new(Vec::new());
    sim::run_many(&all, jobs, |seed| {
        let passed = judge::run_checked(&chaos, seed, sim::Canaries::default(), false).passed();
        let done = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if done.is_multiple_of(tenth) || done == all.len() {
            // The other workers are mid-run: this is the process as a sweep sees it.
            let mib = proc_status_kib("VmRSS:") as f64 / 1024.0;
            eprintln!("memory: {done} of {n} seeds run, resident {mib:.0} MiB");
            samples
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((done, mib));
        }
        passed
    });
    let mut samples = samples.into_inner().unwrap_or_else(|p| p.into_inner());
    // Workers push in the order they finish; each count is taken once.
    samples.sort_by_key(|(done, _)| *done);
    let samples_mib: Vec<f64> = samples.into_iter().map(|(_, mib)| mib).collect();
    // At least one sample (the last seed always takes one); with one, both halves are it.
    let half = samples_mib.len().div_ceil(2);
    let second_half = &samples_mib[half.min(samples_mib.len() - 1)..];
    // Medians: one sample can catch the allocator holding a burst of freed memory.
    let middle = |xs: &[f64]| median(xs.to_vec()).0;
    let highest = samples_mib.iter().copied().fold(0.0, f64::max);
    let lowest = samples_mib.iter().copied().fold(f64::MAX, f64::min);
    let series: Vec<String> = samples_mib.iter().map(|m| format!("{m:.0}")).collect();
    Ok(format!(
        "## Memory over a long sweep in one process\n\n{n} `chaos` seeds in one sweep on {jobs} threads. Resident memory each time another tenth of the seeds had finished (MiB): {}.\n\nBetween {lowest:.0} and {highest:.0} MiB throughout; median of the first half {:.0} MiB, of the second half {:.0} MiB. Memory freed by runs stays a while with the allocator's per-thread arenas, so single samples go up and down; a leak would show as a second half above the first. Peak resident memory of the process so far: {:.0} MiB.\n\n",
        series.join(", "),
        middle(&samples_mib[..half]),
        middle(second_half),
        proc_status_kib("VmHWM:") as f64 / 1024.0
    ))
}

/// The Raft core's in-memory commit rate.
fn raft(options: &BenchOptions) -> String {
    let mut md = String::new();
    let scale = if options.quick { 10 } else { 1 };
    let _ = writeln!(md, "## Raft core in memory (3 members, no I/O)\n");
    for (name, total, batch) in [
        ("one proposal per round trip", 20_000u64, 1u64),
        ("256 proposals per round trip", 200_000, 256),
    ] {
        let total = total / scale;
        let rates: Vec<f64> = (0..options.runs)
            .map(|_| total as f64 / raft_commit(total, batch))
            .collect();
        let _ = writeln!(
            md,
            "- {name}: {} entries committed per second",
            fmt3(median(rates))
        );
    }
    md.push('\n');
    md
}

/// The WAL's save + fsync rate on real files.
fn wal(options: &BenchOptions) -> Result<String, InputError> {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## WAL on real files (save + fsync, 100-byte entries)\n"
    );
    for batch in [1u64, 16, 256] {
        let syncs = if options.quick { 50 } else { 500 };
        let mut entries = Vec::new();
        let mut fsyncs = Vec::new();
        for _ in 0..options.runs {
            let (e, f) = wal_rate(batch, syncs).map_err(InputError::Other)?;
            entries.push(e);
            fsyncs.push(f);
        }
        let _ = writeln!(
            md,
            "- batch of {batch}: {} entries/s, {} fsyncs/s",
            fmt3(median(entries)),
            fmt3(median(fsyncs))
        );
    }
    md.push('\n');
    Ok(md)
}

fn raft_commit(total: u64, batch: u64) -> f64 {
    node::raft::bench::commit_seconds(total, batch)
}

fn wal_rate(batch: u64, syncs: u64) -> Result<(f64, f64), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let disk = disk::FsDisk::new(dir.path()).map_err(|e| e.to_string())?;
    wal::bench::save_rate(disk, batch, syncs).map_err(|e| e.to_string())
}
