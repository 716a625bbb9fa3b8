//! Checker time and peak memory on generated valid histories (16 clients, 5% of requests
//! timing out): 1,000 and 10,000 operations on one key, and 100,000 operations over 1,000
//! keys. Prints the median (min, max) of 5 runs and the process's peak resident memory.
//! Run with `cargo bench -p check`.
#![allow(missing_docs)]

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn case(name: &str, ops: usize, keys: u64) {
    let mut times = Vec::new();
    for seed in 0..5 {
        let history = check::generate::generate(seed, ops, 16, keys, 50_000);
        // Wall-clock timing is the point of a benchmark; it is outside any simulation.
        #[allow(clippy::disallowed_methods)]
        let start = std::time::Instant::now();
        let report = check::linearizability::check(&history);
        times.push(start.elapsed().as_secs_f64());
        assert!(
            report.linearizable(),
            "{name} seed {seed}: {:?}",
            report.failures.first()
        );
    }
    times.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    println!(
        "{name:>32}: median {:>8.4} s (min {:.4}, max {:.4}); peak RSS so far {:.1} MiB",
        times[2],
        times[0],
        times[4],
        peak_rss_mib()
    );
}

fn main() {
    case("1,000 ops on one key", 1_000, 1);
    case("10,000 ops on one key", 10_000, 1);
    case("100,000 ops over 1,000 keys", 100_000, 1_000);
}
