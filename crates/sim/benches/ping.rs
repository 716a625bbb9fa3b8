//! The simulator's own speed with the ping test actor (no Raft): 3 nodes, each pinging a
//! random peer every 10 ms and answering every ping, 60 simulated seconds, no faults.
//! Prints the median (min, max) of 5 runs: delivered messages per wall second and
//! simulated seconds per wall second. Run with `cargo bench -p sim`.
#![allow(missing_docs)]

use sim::ping::{run_ping, PingConfig};

fn main() {
    let config = PingConfig {
        nodes: 3,
        duration_ms: 60_000,
        period_ms: 10,
        faults: false,
    };
    let mut rates = Vec::new();
    for seed in 0..5 {
        // Wall-clock timing is the point of a benchmark; it is outside the simulation.
        #[allow(clippy::disallowed_methods)]
        let start = std::time::Instant::now();
        let record = sim::run(seed, || run_ping(seed, config.clone()));
        let wall = start.elapsed().as_secs_f64();
        rates.push((
            record.network.delivered as f64 / wall,
            record.end_ns as f64 / 1e9 / wall,
            record.network.delivered,
        ));
    }
    rates.sort_by(|a, b| a.0.partial_cmp(&b.0).expect("no NaN"));
    let sim_rates: Vec<f64> = {
        let mut v: Vec<f64> = rates.iter().map(|r| r.1).collect();
        v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        v
    };
    println!(
        "ping, 3 nodes, 60 simulated s ({} messages): median {:.0} delivered msgs/wall s (min {:.0}, max {:.0}); median {:.0} simulated s/wall s (min {:.0}, max {:.0})",
        rates[2].2, rates[2].0, rates[0].0, rates[4].0, sim_rates[2], sim_rates[0], sim_rates[4]
    );
}
