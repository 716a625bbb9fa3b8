//! Commit throughput of an in-memory 3-member cluster with no I/O: the ceiling the
//! simulated node is measured against. Run with `cargo bench -p raft`.
//! Prints the median (and min, max) over 5 runs of entries committed per wall second,
//! one proposal per round trip ("unbatched") and 256 proposals per round trip ("batched").
#![allow(missing_docs)]

fn report(name: &str, total: u64, batch: u64) {
    let mut rates: Vec<f64> = (0..5)
        .map(|_| total as f64 / raft::bench::commit_seconds(total, batch))
        .collect();
    rates.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    println!(
        "{name:>10}: median {:>10.0} entries/s (min {:.0}, max {:.0}) over 5 runs of {total}",
        rates[2], rates[0], rates[4]
    );
}

fn main() {
    report("unbatched", 20_000, 1);
    report("batched", 200_000, 256);
}
