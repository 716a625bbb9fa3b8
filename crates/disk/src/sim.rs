// Over 500 lines only with its unit tests: the simulated disk itself is under 500.
//! The simulated disk: durable content, pending writes, and seeded crash faults.
//!
//! # Fault options and what a correct program can recover from
//!
//! | option | effect | recoverable by a correct program? |
//! |---|---|---|
//! | [`FaultMode::KeepAll`] crash | every pending write survives (a process crash: the OS still had them) | yes, trivially |
//! | [`FaultMode::DropAll`] crash | every write since the file's last sync is lost; creations/renames/removals since the last directory sync are undone | yes: what was synced survives, so a program that syncs before it acknowledges loses nothing it promised |
//! | [`FaultMode::TornPrefix`] crash | pending writes survive in order up to a random point; the write at that point is cut at a sector boundary; later ones are lost (writeback interrupted) | yes, if the program detects a torn tail (checksums) and cuts it off |
//! | [`FaultMode::Independent`] crash | each pending write is independently kept, dropped or torn (writeback out of order) | only what was synced is safe; a log may see a bad record followed by good unsynced ones and must treat the unsynced region with care; a strict log reports it as corruption |
//! | `write_latency_us`, `sync_latency_us` | each write / sync owes that much simulated time ([`SimDisk::take_latency_us`]) | n/a (time only) |
//! | `slow_sync_ppm`, `slow_sync_us` | a sync is slow with this probability (parts per million) | n/a (time only) |
//! | `read_corrupt_ppm` | a read returns one flipped bit with this probability; durable content is unchanged | detectable with checksums; a retry reads good data |
//!
//! | [`SimDisk::damage`] with [`Damage::BitRot`] | one bit of synced data flips | detectable (checksums): a correct program refuses to start rather than come up with less |
//! | [`SimDisk::damage`] with [`Damage::Misdirected`] | a synced sector is written over another one of the same file | likewise |
//!
//! What no program can recover from (and the simulator never does unless asked): loss of
//! synced data. That would break the durability contract of [`Disk`](crate::Disk); the
//! damage above breaks it on purpose, to check that it is detected rather than survived
//! silently with less.

use crate::{check_name, Disk, DiskError};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Sector size: torn writes are cut at a multiple of this many bytes of the file.
pub const SECTOR_BYTES: u64 = 512;

/// How a crash resolves the writes that were not yet synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultMode {
    /// Keep every pending write (a process crash with the OS still up).
    KeepAll,
    /// Drop every pending write (power loss right after the last sync).
    DropAll,
    /// Keep a random prefix of the pending writes, tear the next one, drop the rest.
    TornPrefix,
    /// Keep, drop or tear each pending write independently.
    Independent,
}

/// Damage to synced data (bit rot, a misdirected write), injected on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Damage {
    /// One bit of a synced file flips.
    BitRot,
    /// A synced sector of a file is overwritten with another sector of the same file
    /// (a write that landed at the wrong address).
    Misdirected,
}

/// The disk's fault and latency settings. All probabilities are in parts per million.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DiskFaults {
    /// Simulated cost of one write, microseconds.
    pub write_latency_us: u64,
    /// Simulated cost of one sync, microseconds.
    pub sync_latency_us: u64,
    /// Probability that a sync is slow.
    pub slow_sync_ppm: u32,
    /// Extra cost of a slow sync, microseconds.
    pub slow_sync_us: u64,
    /// Probability that a read returns one flipped bit.
    pub read_corrupt_ppm: u32,
}

impl Default for DiskFaults {
    fn default() -> Self {
        DiskFaults {
            write_latency_us: 10,
            sync_latency_us: 500,
            slow_sync_ppm: 0,
            slow_sync_us: 0,
            read_corrupt_ppm: 0,
        }
    }
}

/// What a crash did to the pending writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Pending writes kept whole.
    pub kept: u32,
    /// Pending writes lost.
    pub dropped: u32,
    /// Pending writes cut at a sector boundary.
    pub torn: u32,
}

#[derive(Clone, Debug)]
enum PendingOp {
    Write { offset: u64, data: Vec<u8> },
    Truncate { len: u64 },
}

impl PendingOp {
    fn apply(&self, content: &mut Vec<u8>) {
        match self {
            PendingOp::Write { offset, data } => write_into(content, *offset, data),
            PendingOp::Truncate { len } => content.resize(*len as usize, 0),
        }
    }
}

fn write_into(content: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = offset as usize;
    if content.len() < start {
        content.resize(start, 0);
    }
    // Overwrite what is there, append the rest (appends, the common case, are not
    // zero-filled first).
    let overlap = (content.len() - start).min(data.len());
    content[start..start + overlap].copy_from_slice(&data[..overlap]);
    content.extend_from_slice(&data[overlap..]);
}

#[derive(Clone, Debug, Default)]
struct Inode {
    /// What survives any crash.
    durable: Vec<u8>,
    /// What reads see: durable plus pending.
    current: Vec<u8>,
    /// Writes and truncations since the last sync, in order.
    // Invariant: applying `pending` to `durable` in order yields `current`.
    pending: Vec<PendingOp>,
    /// Where the writes that reached `durable` began, in order, those cut off by a later
    /// truncation left out: the last one holds a log's last record.
    durable_writes: Vec<u64>,
}

impl Inode {
    /// Makes `op` durable.
    fn persist(&mut self, op: &PendingOp) {
        op.apply(&mut self.durable);
        match op {
            PendingOp::Write { offset, .. } => self.durable_writes.push(*offset),
            PendingOp::Truncate { len } => self.durable_writes.retain(|o| o < len),
        }
    }

    /// Where the last durable write still in the file began (0 when none).
    fn last_write(&self) -> u64 {
        self.durable_writes.last().copied().unwrap_or(0)
    }
}

#[derive(Debug)]
struct State {
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    /// The directory as reads see it.
    names: BTreeMap<String, u64>,
    /// The directory as it survives a crash.
    durable_names: BTreeMap<String, u64>,
    faults: DiskFaults,
    rng: ChaCha8Rng,
    owed_latency_us: u64,
    syncs: u64,
    bytes_written: u64,
}

/// An in-memory disk with fsync semantics and seeded crash faults.
///
/// Cloning gives another handle to the **same** disk: the cluster keeps one handle and the
/// member's process another, so the disk outlives the process across a crash and restart.
#[derive(Clone, Debug)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

impl SimDisk {
    /// An empty disk whose faults draw from `rng` (derive it from the run seed).
    pub fn new(faults: DiskFaults, rng: ChaCha8Rng) -> SimDisk {
        SimDisk {
            state: Arc::new(Mutex::new(State {
                inodes: BTreeMap::new(),
                next_inode: 1,
                names: BTreeMap::new(),
                durable_names: BTreeMap::new(),
                faults,
                rng,
                owed_latency_us: 0,
                syncs: 0,
                bytes_written: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a test panicked mid-operation; the state is still usable
        // for reporting, so take it rather than panic again.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the latency and corruption settings (mid-run changes are allowed).
    pub fn set_faults(&self, faults: DiskFaults) {
        self.lock().faults = faults;
    }

    /// The simulated time owed by operations since the last call, in microseconds; the
    /// caller sleeps that long in simulated time.
    pub fn take_latency_us(&self) -> u64 {
        std::mem::take(&mut self.lock().owed_latency_us)
    }

    /// Number of syncs (file and directory) so far.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.lock().bytes_written
    }

    /// Simulates a crash: every pending write is resolved by `mode` (drawing from the
    /// disk's seeded stream), unsynced directory changes are undone, and what is left
    /// becomes durable.
    pub fn crash(&self, mode: FaultMode) -> CrashReport {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut report = CrashReport::default();
        for inode in state.inodes.values_mut() {
            let pending = std::mem::take(&mut inode.pending);
            let count = pending.len();
            // For TornPrefix: how many ops survive whole; the next one is torn.
            let cut = match mode {
                FaultMode::TornPrefix if count > 0 => state.rng.gen_range(0..=count),
                _ => count,
            };
            for (i, op) in pending.into_iter().enumerate() {
                let fate = match mode {
                    FaultMode::KeepAll => Fate::Keep,
                    FaultMode::DropAll => Fate::Drop,
                    FaultMode::TornPrefix => match i.cmp(&cut) {
                        std::cmp::Ordering::Less => Fate::Keep,
                        std::cmp::Ordering::Equal => Fate::Tear,
                        std::cmp::Ordering::Greater => Fate::Drop,
                    },
                    FaultMode::Independent => match state.rng.gen_range(0..3) {
                        0 => Fate::Keep,
                        1 => Fate::Drop,
                        _ => Fate::Tear,
                    },
                };
                match fate {
                    Fate::Keep => {
                        inode.persist(&op);
                        report.kept += 1;
                    }
                    Fate::Drop => report.dropped += 1,
                    Fate::Tear => match tear(&op, &mut state.rng) {
                        Some(torn) => {
                            inode.persist(&torn);
                            report.torn += 1;
                        }
                        None => report.dropped += 1,
                    },
                }
            }
            inode.current = inode.durable.clone();
        }
        state.names = state.durable_names.clone();
        let live: Vec<u64> = state.names.values().copied().collect();
        state.inodes.retain(|id, _| live.contains(id));
        report
    }

    /// Damages synced data of one file whose name `pick` accepts (drawn from the disk's
    /// seeded stream), before the last write that reached it; says what it did, or `None`
    /// when no such file has data before its last write. Meant for a disk whose process
    /// is down: what it damages is durable.
    ///
    /// Why spare the last write: damage to the last record of a log cannot be told from a
    /// write torn by a crash (both leave a bad record with nothing valid after it), so no
    /// program can be asked to detect it, and a log's last record is in its last write.
    pub fn damage(&self, kind: Damage, pick: impl Fn(&str) -> bool) -> Option<String> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let files: Vec<(String, u64)> = state
            .durable_names
            .iter()
            .filter(|(name, id)| {
                pick(name) && state.inodes.get(id).is_some_and(|i| i.last_write() > 0)
            })
            .map(|(name, id)| (name.clone(), *id))
            .collect();
        if files.is_empty() {
            return None;
        }
        let (name, id) = files[state.rng.gen_range(0..files.len())].clone();
        let inode = state.inodes.get_mut(&id).expect("listed above");
        let len = inode.last_write().min(inode.durable.len() as u64);
        let what = match kind {
            Damage::BitRot => {
                let at = state.rng.gen_range(0..len);
                let bit = state.rng.gen_range(0..8u8);
                inode.durable[at as usize] ^= 1 << bit;
                format!("bit rot: {name} byte {at} bit {bit} flipped")
            }
            Damage::Misdirected => {
                let sectors = len.div_ceil(SECTOR_BYTES);
                if sectors < 2 {
                    return None;
                }
                let from = state.rng.gen_range(0..sectors);
                let to = (from + state.rng.gen_range(1..sectors)) % sectors;
                let block = |s: u64| {
                    (s * SECTOR_BYTES) as usize..((s + 1) * SECTOR_BYTES).min(len) as usize
                };
                let data = inode.durable[block(from)].to_vec();
                let target = block(to);
                let n = data.len().min(target.len());
                inode.durable[target.start..target.start + n].copy_from_slice(&data[..n]);
                format!("misdirected write: {name} sector {from} written over sector {to}")
            }
        };
        inode.pending.clear();
        inode.current = inode.durable.clone();
        Some(what)
    }

    /// Erases every file, durable and pending (an operator wiping a stopped member's data
    /// directory). Returns how many files there were.
    pub fn wipe(&self) -> usize {
        let mut state = self.lock();
        let count = state.durable_names.len().max(state.names.len());
        state.inodes.clear();
        state.names.clear();
        state.durable_names.clear();
        count
    }

    fn inode_mut<'a>(state: &'a mut State, file: &str) -> Result<&'a mut Inode, DiskError> {
        check_name(file)?;
        let id = *state.names.get(file).ok_or_else(|| DiskError::NotFound {
            file: file.to_string(),
        })?;
        Ok(state.inodes.get_mut(&id).expect("a named inode exists"))
    }
}

enum Fate {
    Keep,
    Drop,
    Tear,
}

/// Cuts a pending write at a random sector boundary strictly inside it; `None` when the
/// write lies within one sector (sector writes are atomic, so it is simply lost).
fn tear(op: &PendingOp, rng: &mut ChaCha8Rng) -> Option<PendingOp> {
    let PendingOp::Write { offset, data } = op else {
        return None;
    };
    let end = offset + data.len() as u64;
    let first_boundary = (offset / SECTOR_BYTES + 1) * SECTOR_BYTES;
    if first_boundary >= end {
        return None;
    }
    let boundaries = (end - 1 - first_boundary) / SECTOR_BYTES + 1;
    let boundary = first_boundary + rng.gen_range(0..boundaries) * SECTOR_BYTES;
    let keep = (boundary - offset) as usize;
    Some(PendingOp::Write {
        offset: *offset,
        data: data[..keep].to_vec(),
    })
}

impl Disk for SimDisk {
    fn write(&mut self, file: &str, offset: u64, data: &[u8]) -> Result<(), DiskError> {
        check_name(file)?;
        let mut guard = self.lock();
        let state = &mut *guard;
        let id = match state.names.get(file) {
            Some(id) => *id,
            None => {
                let id = state.next_inode;
                state.next_inode += 1;
                state.inodes.insert(id, Inode::default());
                state.names.insert(file.to_string(), id);
                id
            }
        };
        state.owed_latency_us += state.faults.write_latency_us;
        state.bytes_written += data.len() as u64;
        let inode = state.inodes.get_mut(&id).expect("a named inode exists");
        write_into(&mut inode.current, offset, data);
        inode.pending.push(PendingOp::Write {
            offset,
            data: data.to_vec(),
        });
        Ok(())
    }

    fn read(&mut self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, DiskError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let corrupt_ppm = state.faults.read_corrupt_ppm;
        let inode = SimDisk::inode_mut(state, file)?;
        let size = inode.current.len() as u64;
        let end = offset.checked_add(len).filter(|end| *end <= size);
        let Some(end) = end else {
            return Err(DiskError::ReadPastEnd {
                file: file.to_string(),
                offset,
                len,
                size,
            });
        };
        let mut out = inode.current[offset as usize..end as usize].to_vec();
        if corrupt_ppm > 0 && !out.is_empty() && state.rng.gen_range(0..1_000_000) < corrupt_ppm {
            let bit = state.rng.gen_range(0..out.len() * 8);
            out[bit / 8] ^= 1 << (bit % 8);
        }
        Ok(out)
    }

    fn sync(&mut self, file: &str) -> Result<(), DiskError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut cost = state.faults.sync_latency_us;
        if state.faults.slow_sync_ppm > 0
            && state.rng.gen_range(0..1_000_000) < state.faults.slow_sync_ppm
        {
            cost += state.faults.slow_sync_us;
        }
        state.owed_latency_us += cost;
        state.syncs += 1;
        let inode = SimDisk::inode_mut(state, file)?;
        for op in std::mem::take(&mut inode.pending) {
            inode.persist(&op);
        }
        debug_assert_eq!(
            inode.durable, inode.current,
            "sync must leave durable == current"
        );
        Ok(())
    }

    fn sync_dir(&mut self) -> Result<(), DiskError> {
        let mut state = self.lock();
        state.owed_latency_us += state.faults.sync_latency_us;
        state.syncs += 1;
        // Most directory syncs find nothing new: compare before copying.
        if state.durable_names != state.names {
            state.durable_names = state.names.clone();
        }
        Ok(())
    }

    fn truncate(&mut self, file: &str, len: u64) -> Result<(), DiskError> {
        let mut guard = self.lock();
        let inode = SimDisk::inode_mut(&mut guard, file)?;
        inode.current.resize(len as usize, 0);
        inode.pending.push(PendingOp::Truncate { len });
        Ok(())
    }

    fn size(&mut self, file: &str) -> Result<u64, DiskError> {
        let mut guard = self.lock();
        Ok(SimDisk::inode_mut(&mut guard, file)?.current.len() as u64)
    }

    fn list(&mut self) -> Result<Vec<String>, DiskError> {
        Ok(self.lock().names.keys().cloned().collect())
    }

    fn remove(&mut self, file: &str) -> Result<(), DiskError> {
        check_name(file)?;
        let mut state = self.lock();
        if state.names.remove(file).is_none() {
            return Err(DiskError::NotFound {
                file: file.to_string(),
            });
        }
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), DiskError> {
        check_name(from)?;
        check_name(to)?;
        let mut state = self.lock();
        let id = state
            .names
            .remove(from)
            .ok_or_else(|| DiskError::NotFound {
                file: from.to_string(),
            })?;
        state.names.insert(to.to_string(), id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn disk(seed: u64) -> SimDisk {
        SimDisk::new(DiskFaults::default(), ChaCha8Rng::seed_from_u64(seed))
    }

    const MODES: [FaultMode; 4] = [
        FaultMode::KeepAll,
        FaultMode::DropAll,
        FaultMode::TornPrefix,
        FaultMode::Independent,
    ];

    #[test]
    fn synced_data_survives_every_crash_mode() {
        for mode in MODES {
            for seed in 0..20 {
                let mut d = disk(seed);
                d.write("a", 0, b"durable").unwrap();
                d.sync("a").unwrap();
                d.sync_dir().unwrap();
                d.write("a", 7, &[9u8; 3000]).unwrap();
                d.crash(mode);
                let got = d.read_all("a").unwrap();
                assert_eq!(&got[..7], b"durable", "mode {mode:?} seed {seed}");
            }
        }
    }

    #[test]
    fn drop_all_loses_unsynced_writes_and_unsynced_files() {
        let mut d = disk(1);
        d.write("a", 0, b"x").unwrap();
        d.sync("a").unwrap();
        // The file's bytes are synced but its name is not: it vanishes at a crash.
        assert_eq!(d.crash(FaultMode::DropAll), CrashReport::default());
        assert!(!d.exists("a").unwrap());
        d.write("b", 0, b"hello").unwrap();
        d.sync_dir().unwrap();
        d.write("b", 5, b" world").unwrap();
        let report = d.crash(FaultMode::DropAll);
        assert_eq!(report.dropped, 2);
        assert_eq!(d.read_all("b").unwrap(), b"");
    }

    #[test]
    fn rename_is_durable_only_after_directory_sync() {
        let mut d = disk(2);
        d.write("tmp", 0, b"snap").unwrap();
        d.sync("tmp").unwrap();
        d.sync_dir().unwrap();
        d.rename("tmp", "final").unwrap();
        d.crash(FaultMode::DropAll);
        assert!(d.exists("tmp").unwrap() && !d.exists("final").unwrap());
        d.rename("tmp", "final").unwrap();
        d.sync_dir().unwrap();
        d.crash(FaultMode::DropAll);
        assert_eq!(d.read_all("final").unwrap(), b"snap");
    }

    #[test]
    fn torn_write_is_cut_at_a_sector_boundary() {
        let mut torn_seen = false;
        for seed in 0..50 {
            let mut d = disk(seed);
            d.write("a", 0, b"").unwrap();
            d.sync("a").unwrap();
            d.sync_dir().unwrap();
            let data = vec![7u8; 4 * SECTOR_BYTES as usize];
            d.write("a", 0, &data).unwrap();
            let report = d.crash(FaultMode::TornPrefix);
            let len = d.size("a").unwrap();
            assert_eq!(len % SECTOR_BYTES, 0, "seed {seed}: torn at {len}");
            assert!(len <= 4 * SECTOR_BYTES);
            torn_seen |= report.torn == 1 && len > 0 && len < 4 * SECTOR_BYTES;
        }
        assert!(torn_seen, "50 seeds never tore a 4-sector write");
    }

    #[test]
    fn read_past_end_is_an_error() {
        let mut d = disk(3);
        d.write("a", 0, b"abc").unwrap();
        assert!(matches!(
            d.read("a", 2, 2),
            Err(DiskError::ReadPastEnd { size: 3, .. })
        ));
        assert!(matches!(
            d.read("a", u64::MAX, 2),
            Err(DiskError::ReadPastEnd { .. })
        ));
        assert!(matches!(d.read("b", 0, 0), Err(DiskError::NotFound { .. })));
    }

    #[test]
    fn latency_is_owed_per_write_and_sync() {
        let mut d = disk(4);
        d.write("a", 0, b"x").unwrap();
        d.sync("a").unwrap();
        assert_eq!(d.take_latency_us(), 10 + 500);
        assert_eq!(d.take_latency_us(), 0);
    }

    #[test]
    fn read_corruption_flips_one_bit_and_keeps_the_disk_intact() {
        let mut d = SimDisk::new(
            DiskFaults {
                read_corrupt_ppm: 1_000_000,
                ..DiskFaults::default()
            },
            ChaCha8Rng::seed_from_u64(5),
        );
        d.write("a", 0, &[0u8; 64]).unwrap();
        let got = d.read_all("a").unwrap();
        assert_eq!(got.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        d.set_faults(DiskFaults::default());
        assert_eq!(d.read_all("a").unwrap(), vec![0u8; 64]);
    }

    proptest! {
        /// Whatever the writes and the crash mode: synced bytes survive, and every byte
        /// after the crash was either durable or written by some pending write (nothing is
        /// invented).
        #[test]
        fn crash_never_invents_data(
            writes in proptest::collection::vec((0u64..3000, 1usize..1500, any::<bool>()), 1..12),
            mode_index in 0usize..4,
            seed in any::<u64>(),
        ) {
            let mut d = disk(seed);
            d.write("f", 0, b"").unwrap();
            d.sync_dir().unwrap();
            let mut durable: Vec<u8> = Vec::new();
            let mut candidates: Vec<Vec<u8>> = Vec::new();
            for (n, (offset, len, sync)) in writes.into_iter().enumerate() {
                // Each write uses a distinct byte value so its bytes are recognisable.
                let byte = (n % 250) as u8 + 1;
                d.write("f", offset, &vec![byte; len]).unwrap();
                let mut model = d.read_all("f").unwrap();
                if sync {
                    d.sync("f").unwrap();
                    durable = std::mem::take(&mut model);
                    candidates.clear();
                } else {
                    candidates.push(vec![byte]);
                }
            }
            d.crash(MODES[mode_index]);
            let after = d.read_all("f").unwrap();
            let allowed: Vec<u8> = candidates.concat();
            for (i, b) in after.iter().enumerate() {
                let from_durable = durable.get(i) == Some(b);
                prop_assert!(from_durable || allowed.contains(b) || *b == 0,
                    "byte {} = {} neither durable nor pending", i, b);
            }
            prop_assert!(after.len() >= durable.len(), "synced length {} shrank to {}", durable.len(), after.len());
        }
    }
}
