//! One generic suite, run against both disks: real files and the simulated disk.

use disk::{Disk, DiskFaults, FsDisk, SimDisk};
use proto::raft::{Entry, EntryKind, HardState, Snapshot, SnapshotMeta};
use rand::SeedableRng;
use wal::{Wal, WalError, WalOptions};

fn e(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        kind: EntryKind::Normal,
        data: format!("v{index}.{term}").into_bytes(),
    }
}

fn hs(term: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote: 1,
        commit,
    }
}

fn small() -> WalOptions {
    WalOptions {
        segment_bytes: 300,
        ..WalOptions::default()
    }
}

/// Runs `f` against a fresh disk of each kind; `reopen` gives another handle to the same
/// storage (a restart).
fn on_both_disks(f: impl Fn(&mut dyn FnMut() -> Box<dyn DiskHandle>)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    f(&mut || Box::new(FsDisk::new(&path).unwrap()));
    let sim = SimDisk::new(
        DiskFaults::default(),
        rand_chacha::ChaCha8Rng::seed_from_u64(1),
    );
    f(&mut || Box::new(sim.clone()));
}

/// A boxed disk usable as a `Disk` by value.
trait DiskHandle: Disk {}
impl<T: Disk> DiskHandle for T {}

struct Boxed(Box<dyn DiskHandle>);
impl Disk for Boxed {
    fn write(&mut self, f: &str, o: u64, d: &[u8]) -> Result<(), disk::DiskError> {
        self.0.write(f, o, d)
    }
    fn read(&mut self, f: &str, o: u64, l: u64) -> Result<Vec<u8>, disk::DiskError> {
        self.0.read(f, o, l)
    }
    fn sync(&mut self, f: &str) -> Result<(), disk::DiskError> {
        self.0.sync(f)
    }
    fn sync_dir(&mut self) -> Result<(), disk::DiskError> {
        self.0.sync_dir()
    }
    fn truncate(&mut self, f: &str, l: u64) -> Result<(), disk::DiskError> {
        self.0.truncate(f, l)
    }
    fn size(&mut self, f: &str) -> Result<u64, disk::DiskError> {
        self.0.size(f)
    }
    fn list(&mut self) -> Result<Vec<String>, disk::DiskError> {
        self.0.list()
    }
    fn remove(&mut self, f: &str) -> Result<(), disk::DiskError> {
        self.0.remove(f)
    }
    fn rename(&mut self, a: &str, b: &str) -> Result<(), disk::DiskError> {
        self.0.rename(a, b)
    }
}

fn open(d: Box<dyn DiskHandle>) -> (Wal<Boxed>, wal::Recovered) {
    Wal::open(Boxed(d), small()).unwrap()
}

#[test]
fn saved_and_synced_state_survives_reopen() {
    on_both_disks(|disk| {
        let (mut w, r) = open(disk());
        assert!(r.entries.is_empty() && r.snapshot.is_none());
        w.save(Some(&hs(1, 0)), &[e(1, 1), e(2, 1)]).unwrap();
        w.save(Some(&hs(1, 2)), &[e(3, 1)]).unwrap();
        w.sync().unwrap();
        drop(w);
        let (w, r) = open(disk());
        assert_eq!(r.entries, vec![e(1, 1), e(2, 1), e(3, 1)]);
        assert_eq!(r.hard_state, hs(1, 2));
        assert_eq!(w.last_index(), 3);
    });
}

#[test]
fn a_conflict_is_appended_and_replay_keeps_the_last_word() {
    on_both_disks(|disk| {
        let (mut w, _) = open(disk());
        w.save(Some(&hs(2, 0)), &[e(1, 1), e(2, 1), e(3, 2), e(4, 2)])
            .unwrap();
        // A new leader's log disagrees from index 3: the WAL appends, never rewrites.
        w.save(Some(&hs(3, 0)), &[e(3, 3)]).unwrap();
        w.save(None, &[e(4, 3), e(5, 3)]).unwrap();
        w.sync().unwrap();
        drop(w);
        let (_, r) = open(disk());
        assert_eq!(r.entries, vec![e(1, 1), e(2, 1), e(3, 3), e(4, 3), e(5, 3)]);
        assert_eq!(r.hard_state.term, 3);
    });
}

#[test]
fn segments_roll_over_and_are_released_behind_a_snapshot() {
    on_both_disks(|disk| {
        let (mut w, _) = open(disk());
        for i in 1..=40 {
            w.save(Some(&hs(1, i - 1)), &[e(i, 1)]).unwrap();
        }
        w.sync().unwrap();
        let before = w.segment_count();
        assert!(before > 3, "300-byte segments must roll over ({before})");
        let snap = Snapshot {
            meta: SnapshotMeta {
                index: 30,
                term: 1,
                conf: proto::conf::ConfState::with_voters(&[1, 2, 3]),
            },
            data: b"state at 30".to_vec(),
        };
        w.save_snapshot(&snap, false).unwrap();
        w.release_to(30).unwrap();
        assert!(w.segment_count() < before);
        drop(w);
        let (_, r) = open(disk());
        assert_eq!(r.snapshot, Some(snap));
        let indexes: Vec<u64> = r.entries.iter().map(|x| x.index).collect();
        assert_eq!(indexes, (31..=40).collect::<Vec<_>>());
        assert_eq!(r.hard_state, hs(1, 39));
    });
}

#[test]
fn an_installed_snapshot_replaces_the_log() {
    on_both_disks(|disk| {
        let (mut w, _) = open(disk());
        w.save(Some(&hs(1, 1)), &[e(1, 1), e(2, 1), e(3, 1)])
            .unwrap();
        let snap = Snapshot {
            meta: SnapshotMeta {
                index: 10,
                term: 4,
                conf: proto::conf::ConfState::with_voters(&[1, 2, 3]),
            },
            data: b"leader state".to_vec(),
        };
        w.save_snapshot(&snap, true).unwrap();
        w.save(Some(&hs(4, 10)), &[e(11, 4)]).unwrap();
        w.sync().unwrap();
        drop(w);
        let (w, r) = open(disk());
        assert_eq!(r.snapshot.unwrap().meta.index, 10);
        assert_eq!(r.entries, vec![e(11, 4)]);
        assert_eq!(w.last_index(), 11);
    });
}

#[test]
fn the_newest_valid_snapshot_is_loaded() {
    on_both_disks(|disk| {
        let (mut w, _) = open(disk());
        w.save(
            Some(&hs(1, 5)),
            &(1..=5).map(|i| e(i, 1)).collect::<Vec<_>>(),
        )
        .unwrap();
        let snap = |index| Snapshot {
            meta: SnapshotMeta {
                index,
                term: 1,
                conf: proto::conf::ConfState::with_voters(&[1]),
            },
            data: vec![index as u8; 10],
        };
        w.save_snapshot(&snap(3), false).unwrap();
        w.save_snapshot(&snap(4), false).unwrap();
        drop(w);
        // Damage the newer snapshot file: recovery must fall back to the older one.
        let mut d = disk();
        let name = d
            .list()
            .unwrap()
            .into_iter()
            .find(|n| n.starts_with("snap-00000000000000000004"))
            .unwrap();
        let mut bytes = d.read_all(&name).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        d.write(&name, 0, &bytes).unwrap();
        d.sync(&name).unwrap();
        let (_, r) = open(disk());
        assert_eq!(r.snapshot.unwrap().meta.index, 3);
        assert_eq!(r.rejected_snapshots.len(), 1);
        assert_eq!(r.entries.first().map(|x| x.index), Some(4));
    });
}

fn segment_names(d: &mut dyn Disk) -> Vec<String> {
    d.list()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("wal-"))
        .collect()
}

#[test]
fn corruption_in_the_middle_is_reported_with_segment_and_offset() {
    on_both_disks(|disk| {
        let (mut w, _) = open(disk());
        w.save(Some(&hs(1, 0)), &[e(1, 1)]).unwrap();
        w.save(None, &[e(2, 1)]).unwrap();
        w.save(None, &[e(3, 1)]).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut d = disk();
        let name = segment_names(d.as_mut())[0].clone();
        let mut bytes = d.read_all(&name).unwrap();
        // Find the second entries record by decoding the chain, then flip a payload byte.
        let mut offset = 0;
        let mut crc = 0;
        let mut starts = vec![];
        while let Ok(rec) = wal::decode_at(&bytes, offset, crc) {
            starts.push(offset);
            offset = rec.end;
            crc = rec.crc;
        }
        // records: metadata, hard state (segment start), entries(1), hard state, entries(2), entries(3)
        let victim = starts[4];
        bytes[victim + 12] ^= 0x40;
        d.write(&name, 0, &bytes).unwrap();
        d.sync(&name).unwrap();
        match Wal::open(Boxed(disk()), small()) {
            Err(WalError::Corrupt {
                segment, offset, ..
            }) => {
                assert_eq!(segment, name);
                assert_eq!(offset, victim as u64);
            }
            other => panic!(
                "expected corruption, got {:?}",
                other.map(|(_, r)| r.entries)
            ),
        }
    });
}

#[test]
fn a_torn_tail_is_cut_off_and_appends_continue() {
    on_both_disks(|disk| {
        let (mut w, _) = open(disk());
        w.save(Some(&hs(1, 0)), &[e(1, 1)]).unwrap();
        w.save(None, &[e(2, 1)]).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut d = disk();
        let name = segment_names(d.as_mut())[0].clone();
        let size = d.size(&name).unwrap();
        d.truncate(&name, size - 3).unwrap();
        d.sync(&name).unwrap();
        let (mut w, r) = open(disk());
        assert_eq!(r.entries, vec![e(1, 1)]);
        let (seg, _, dropped) = r.repaired.expect("the tail was repaired");
        assert_eq!(seg, name);
        assert!(dropped > 0);
        w.save(None, &[e(2, 2)]).unwrap();
        w.sync().unwrap();
        drop(w);
        let (_, r) = open(disk());
        assert_eq!(r.entries, vec![e(1, 1), e(2, 2)]);
        assert!(r.repaired.is_none());
    });
}

#[test]
fn a_missing_segment_is_reported() {
    on_both_disks(|disk| {
        let (mut w, _) = open(disk());
        for i in 1..=30 {
            w.save(Some(&hs(1, 0)), &[e(i, 1)]).unwrap();
        }
        w.sync().unwrap();
        drop(w);
        let mut d = disk();
        let names = segment_names(d.as_mut());
        assert!(names.len() >= 3);
        d.remove(&names[1]).unwrap();
        assert!(matches!(
            Wal::open(Boxed(disk()), small()),
            Err(WalError::Corrupt { reason, .. }) if reason.contains("missing")
        ));
    });
}

/// A log of `entries` synced entries in one segment on a fresh simulated disk: the disk,
/// the options to reopen it with, the segment's name and its bytes.
fn one_segment_log(entries: u64, seed: u64) -> (SimDisk, WalOptions, String, Vec<u8>) {
    let sim = SimDisk::new(
        DiskFaults::default(),
        rand_chacha::ChaCha8Rng::seed_from_u64(seed),
    );
    let options = WalOptions {
        segment_bytes: 1 << 20,
        ..WalOptions::default()
    };
    let (mut w, _) = Wal::open(sim.clone(), options.clone()).unwrap();
    for i in 1..=entries {
        w.save(Some(&hs(1, i - 1)), &[e(i, 1)]).unwrap();
    }
    w.sync().unwrap();
    drop(w);
    let mut d = sim.clone();
    let name = segment_names(&mut d)[0].clone();
    let clean = d.read_all(&name).unwrap();
    (sim, options, name, clean)
}

/// Reopens the log: it must report corruption or recover all `entries` (never fewer
/// without an error); `what` names the damage in the message.
fn assert_corrupt_or_whole(sim: &SimDisk, options: &WalOptions, entries: usize, what: &str) {
    match Wal::open(sim.clone(), options.clone()) {
        Err(WalError::Corrupt { .. }) => {}
        Ok((_, r)) => assert_eq!(
            r.entries.len(),
            entries,
            "{what}: recovered fewer entries without an error"
        ),
        Err(other) => panic!("{what}: {other}"),
    }
}

/// Bit rot anywhere before the last record of the log (a header's length, type or
/// checksum, or a payload) is reported as corruption: recovery never comes up silently
/// with fewer entries than were synced.
#[test]
fn damage_before_the_last_record_is_corruption_wherever_it_lands() {
    let (sim, options, name, clean) = one_segment_log(6, 3);
    let mut d = sim.clone();
    let (mut offset, mut crc, mut last_start) = (0, 0, 0);
    while let Ok(rec) = wal::decode_at(&clean, offset, crc) {
        last_start = offset;
        offset = rec.end;
        crc = rec.crc;
    }
    for at in 0..last_start {
        for bit in [0u8, 3, 7] {
            let mut bytes = clean.clone();
            bytes[at] ^= 1 << bit;
            d.write(&name, 0, &bytes).unwrap();
            d.sync(&name).unwrap();
            assert_corrupt_or_whole(&sim, &options, 6, &format!("byte {at} bit {bit}"));
        }
    }
    d.write(&name, 0, &clean).unwrap();
    d.sync(&name).unwrap();
}

/// A sector of the log written over another (a misdirected write) takes several records'
/// checksums with it; the records after it still chain to each other, so recovery reports
/// corruption instead of cutting the log short.
#[test]
fn a_misdirected_sector_in_the_middle_is_corruption() {
    let (sim, options, name, clean) = one_segment_log(80, 5);
    let mut d = sim.clone();
    let sectors = clean.len() / 512;
    assert!(sectors >= 6, "{} bytes", clean.len());
    for (from, to) in [(0, 1), (3, 1), (1, 2), (4, 2), (2, 3), (sectors - 1, 2)] {
        let mut bytes = clean.clone();
        let block: Vec<u8> = bytes[from * 512..(from + 1) * 512].to_vec();
        bytes[to * 512..(to + 1) * 512].copy_from_slice(&block);
        d.write(&name, 0, &bytes).unwrap();
        d.sync(&name).unwrap();
        assert_corrupt_or_whole(&sim, &options, 80, &format!("sector {from} over {to}"));
    }
}
