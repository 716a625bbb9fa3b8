//! WAL throughput on real files: `save` + `sync` with batches of 1, 16 and 256 entries
//! (100-byte payloads). Prints the median (min, max) of 5 runs of entries per second and
//! fsyncs per second. Run with `cargo bench -p wal`.
#![allow(missing_docs)]

use disk::FsDisk;

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    for batch in [1u64, 16, 256] {
        let runs: Vec<(f64, f64)> = (0..5)
            .map(|_| {
                let dir = tempfile::tempdir().expect("temp dir");
                wal::bench::save_rate(FsDisk::new(dir.path()).expect("dir"), batch, 500)
                    .expect("save")
            })
            .collect();
        let (e, e_min, e_max) = median(runs.iter().map(|r| r.0).collect());
        let (s, s_min, s_max) = median(runs.iter().map(|r| r.1).collect());
        println!(
            "batch {batch:>3}: {e:>9.0} entries/s (min {e_min:.0}, max {e_max:.0}); {s:>7.0} fsyncs/s (min {s_min:.0}, max {s_max:.0})"
        );
    }
}
