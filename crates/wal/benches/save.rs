//! WAL throughput on real files: `save` + `sync` with batches of 1, 16 and 256 entries
//! (100-byte payloads). Prints the median (min, max) of 5 runs of entries per second and
//! fsyncs per second. Run with `cargo bench -p wal`.
#![allow(missing_docs)]

use disk::FsDisk;
use proto::raft::{Entry, EntryKind, HardState};
use wal::{Wal, WalOptions};

fn run(batch: u64, syncs: u64) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut w, _) =
        Wal::open(FsDisk::new(dir.path()).expect("dir"), WalOptions::default()).expect("open");
    let mut index = 0;
    // Wall-clock timing is the point of a benchmark; it is outside any simulation.
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    for _ in 0..syncs {
        let entries: Vec<Entry> = (0..batch)
            .map(|_| {
                index += 1;
                Entry {
                    index,
                    term: 1,
                    kind: EntryKind::Normal,
                    data: vec![7u8; 100],
                }
            })
            .collect();
        let hs = HardState {
            term: 1,
            vote: 1,
            commit: index,
        };
        w.save(Some(&hs), &entries).expect("save");
        w.sync().expect("sync");
    }
    let secs = start.elapsed().as_secs_f64();
    (index as f64 / secs, syncs as f64 / secs)
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    for batch in [1u64, 16, 256] {
        let runs: Vec<(f64, f64)> = (0..5).map(|_| run(batch, 500)).collect();
        let (e, e_min, e_max) = median(runs.iter().map(|r| r.0).collect());
        let (s, s_min, s_max) = median(runs.iter().map(|r| r.1).collect());
        println!(
            "batch {batch:>3}: {e:>9.0} entries/s (min {e_min:.0}, max {e_max:.0}); {s:>7.0} fsyncs/s (min {s_min:.0}, max {s_max:.0})"
        );
    }
}
