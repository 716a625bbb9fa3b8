//! Memory stays flat over many runs in one process. Its own test binary, so that no other
//! test allocates in the same process while it measures.

use sim::ping::{run_ping, PingConfig};
use sim::run;

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("linux");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// Memory stays flat over many runs in one process: every run's world is shut down and
/// its runtime dropped.
#[test]
fn memory_is_flat_over_1000_runs() {
    let config = PingConfig {
        duration_ms: 1_000,
        nodes: 3,
        period_ms: 10,
        faults: true,
    };
    for seed in 0..100 {
        run(seed, || run_ping(seed, config.clone()));
    }
    let after_100 = rss_kib();
    for seed in 100..1_000 {
        run(seed, || run_ping(seed, config.clone()));
    }
    let after_1000 = rss_kib();
    eprintln!("rss after 100 runs: {after_100} KiB, after 1000: {after_1000} KiB");
    assert!(
        after_1000 < after_100 + 16 * 1024,
        "memory grew from {after_100} KiB to {after_1000} KiB over 900 runs"
    );
}
