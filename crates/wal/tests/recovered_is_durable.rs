//! What a log recovers must be durable before it is used. A process crash leaves unsynced
//! writes in the operating system's cache: the restarted member reads them back and acts
//! on them (it may vote with the term it found). If a power loss then takes them, the
//! member comes back with less than it acted on, and may vote twice in a term. So opening
//! the log makes what it read durable (PostgreSQL fsyncs its data directory on crash
//! recovery for the same reason). Found by chaos-slow-links seed 1353 before the planner
//! gave each fault kind its own stream: a member recovered term 2 from unsynced writes,
//! then lost it to a torn write.

use disk::{DiskFaults, FaultMode, SimDisk};
use proto::raft::{Entry, EntryKind, HardState};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wal::{Wal, WalOptions};

#[test]
fn what_a_restart_recovers_survives_a_later_power_loss() {
    let disk = SimDisk::new(DiskFaults::default(), ChaCha8Rng::seed_from_u64(7));
    let options = WalOptions::default();
    let (mut w, _) = Wal::open(disk.clone(), options.clone()).unwrap();
    let entry = Entry {
        index: 1,
        term: 2,
        kind: EntryKind::Normal,
        data: b"x".to_vec(),
    };
    let hard = HardState {
        term: 2,
        vote: 2,
        commit: 0,
    };
    // Saved, not synced; then the process dies (the disk keeps its pending writes).
    w.save(Some(&hard), std::slice::from_ref(&entry)).unwrap();
    drop(w);
    let (_, first) = Wal::open(disk.clone(), options.clone()).unwrap();
    assert_eq!(
        first.hard_state, hard,
        "the restart reads the cached writes"
    );
    assert_eq!(first.entries, vec![entry]);
    // The restarted member lost power before it synced anything itself.
    disk.crash(FaultMode::DropAll);
    let (_, second) = Wal::open(disk, options).unwrap();
    assert_eq!(second.hard_state, first.hard_state);
    assert_eq!(second.entries, first.entries);
}
