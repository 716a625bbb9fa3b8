//! Commit throughput of an in-memory 3-member cluster with no I/O: the ceiling the
//! simulated node is measured against. Run with `cargo bench -p raft`.
//! Prints the median (and min, max) over 5 runs of entries committed per wall second,
//! one proposal per round trip ("unbatched") and 256 proposals per round trip ("batched").
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::Cluster;

fn run(total: u64, batch: u64) -> f64 {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.transcript.clear();
    // Wall-clock timing is the point of a benchmark; it is outside any simulation.
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let mut proposed = 0;
    while proposed < total {
        for _ in 0..batch {
            c.node(1).propose(vec![0u8; 64]).expect("leader");
            proposed += 1;
        }
        c.stabilize();
        c.transcript.clear();
        for m in c.members.values_mut() {
            m.applied.clear();
        }
    }
    assert_eq!(c.status(1).committed, proposed + 1);
    proposed as f64 / start.elapsed().as_secs_f64()
}

fn report(name: &str, total: u64, batch: u64) {
    let mut rates: Vec<f64> = (0..5).map(|_| run(total, batch)).collect();
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name:>10}: median {:>10.0} entries/s (min {:.0}, max {:.0}) over 5 runs of {total}",
        rates[2], rates[0], rates[4]
    );
}

fn main() {
    report("unbatched", 20_000, 1);
    report("batched", 200_000, 256);
}
