//! Random and mutated bytes into every decoder and into recovery: never a panic, never an
//! unbounded allocation (the test would abort), always a value or a typed error.

use disk::{Disk, DiskFaults, SimDisk};
use proptest::prelude::*;
use proto::raft::{Entry, EntryKind, HardState};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wal::{Wal, WalOptions};

fn valid_segment() -> (SimDisk, String) {
    let disk = SimDisk::new(DiskFaults::default(), ChaCha8Rng::seed_from_u64(0));
    let (mut w, _) = Wal::open(disk.clone(), WalOptions::default()).unwrap();
    for i in 1..=5 {
        w.save(
            Some(&HardState {
                term: 1,
                vote: 1,
                commit: i - 1,
            }),
            &[Entry {
                index: i,
                term: 1,
                kind: EntryKind::Normal,
                data: vec![i as u8; 20],
            }],
        )
        .unwrap();
    }
    w.sync().unwrap();
    let mut d = disk.clone();
    let name = d
        .list()
        .unwrap()
        .into_iter()
        .find(|n| n.starts_with("wal-"))
        .unwrap();
    (disk, name)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..300), crc in any::<u32>()) {
        let _ = wal::decode_at(&bytes, 0, crc);
        let _ = wal::decode_snapshot(&bytes);
        let _ = proto::kv::Command::decode(&bytes);
    }

    #[test]
    fn mutated_segments_recover_or_report_corruption(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (disk, name) = valid_segment();
        let mut d = disk.clone();
        let mut bytes = d.read_all(&name).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        d.truncate(&name, 0).unwrap();
        d.write(&name, 0, &bytes).unwrap();
        d.sync(&name).unwrap();
        // Either a (possibly shorter) log or a typed error; never a panic.
        if let Ok((_, r)) = Wal::open(disk.clone(), WalOptions::default()) {
            for (i, e) in r.entries.iter().enumerate() {
                prop_assert_eq!(e.index, i as u64 + 1);
            }
        }
    }
}
