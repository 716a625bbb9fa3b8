//! The WAL's own speed, for benchmarks: `save` + `sync` of batches of 100-byte entries.

use crate::{Wal, WalError, WalOptions};
use disk::Disk;
use proto::raft::{Entry, EntryKind, HardState};

/// Saves and syncs `syncs` batches of `batch` entries on `disk`; returns (entries per
/// second, fsyncs per second) of wall time.
pub fn save_rate<D: Disk>(disk: D, batch: u64, syncs: u64) -> Result<(f64, f64), WalError> {
    let (mut w, _) = Wal::open(disk, WalOptions::default())?;
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
        w.save(Some(&hs), &entries)?;
        w.sync()?;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(((syncs * batch) as f64 / secs, syncs as f64 / secs))
}
