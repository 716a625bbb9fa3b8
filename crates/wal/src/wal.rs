//! The log itself: segments, saving, syncing, recovery and release.

use crate::record::{self, Metadata, Record, SnapshotMarker};
use crate::replay::{reconcile_with_snapshot, replay_segment, How, Replay};
use crate::snapshot;
use disk::{Disk, DiskError};
use proto::raft::{Entry, HardState, Snapshot};
use proto::Index;

/// Settings of a write-ahead log.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// A new segment is started once the current one reaches this many bytes.
    pub segment_bytes: u64,
    /// Planted bug (never in production): a new segment's directory entry is not synced,
    /// so a power loss can take the whole segment, with entries already fsynced in it.
    pub skip_dir_sync_of_new_segment: bool,
    /// Planted bug (never in production): recovery takes a torn record at the end of the
    /// log for corruption, so a member that lost power mid-write refuses to start.
    pub torn_tail_is_corruption: bool,
    /// Planted bug (never in production): recovery takes any bad record in the last segment
    /// for a torn tail and cuts the log there, even when valid records follow it (damage
    /// in the middle of the log), so a member comes up with less instead of refusing.
    pub corruption_taken_for_torn_tail: bool,
    /// Planted bug (never in production): recovery replays a record whose checksum does
    /// not match, as long as its payload decodes.
    pub skip_checksum: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 * 1024 * 1024,
            skip_dir_sync_of_new_segment: false,
            torn_tail_is_corruption: false,
            corruption_taken_for_torn_tail: false,
            skip_checksum: false,
        }
    }
}

/// An error from the write-ahead log. A storage error stops the member: it must not limp
/// on with a log it cannot trust.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The disk failed.
    #[error("disk error: {0}")]
    Disk(#[from] DiskError),
    /// A record that is not at the torn tail of the last segment is bad, or the records
    /// contradict each other.
    #[error("corrupt write-ahead log: segment {segment} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        segment: String,
        /// Byte offset of the bad record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl WalError {
    /// Whether this is the typed corruption error (damaged data), not a disk failure.
    pub fn is_corruption(&self) -> bool {
        matches!(self, WalError::Corrupt { .. })
    }
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The last hard state saved.
    pub hard_state: HardState,
    /// The newest valid snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The log after the snapshot, contiguous.
    pub entries: Vec<Entry>,
    /// Set when a torn tail was cut off: (segment, offset, bytes dropped).
    pub repaired: Option<(String, u64, u64)>,
    /// Snapshot files newer than the one used that failed to verify (name, why).
    pub rejected_snapshots: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
struct Segment {
    sequence: u64,
    last_index_before: Index,
    name: String,
}

fn segment_name(sequence: u64, last_index_before: Index) -> String {
    format!("wal-{sequence:016x}-{last_index_before:016x}.wal")
}

fn parse_segment_name(name: &str) -> Option<(u64, Index)> {
    let rest = name.strip_prefix("wal-")?.strip_suffix(".wal")?;
    let (seq, last) = rest.split_once('-')?;
    if seq.len() != 16 || last.len() != 16 {
        return None;
    }
    Some((
        u64::from_str_radix(seq, 16).ok()?,
        u64::from_str_radix(last, 16).ok()?,
    ))
}

/// The write-ahead log of one member, over a [`Disk`].
pub struct Wal<D: Disk> {
    disk: D,
    options: WalOptions,
    segments: Vec<Segment>,
    /// Bytes in the current (last) segment.
    size: u64,
    /// The chained checksum of the last record written.
    crc: u32,
    /// The log's last index as written.
    last_index: Index,
    hard_state: HardState,
    records: u64,
    syncs: u64,
}

/// The segments on `disk` in order; a gap in their sequence is corruption.
fn list_segments<D: Disk>(disk: &mut D) -> Result<Vec<Segment>, WalError> {
    let mut segments: Vec<Segment> = disk
        .list()?
        .into_iter()
        .filter_map(|name| {
            parse_segment_name(&name).map(|(sequence, last_index_before)| Segment {
                sequence,
                last_index_before,
                name,
            })
        })
        .collect();
    segments.sort_by_key(|s| s.sequence);
    for pair in segments.windows(2) {
        if pair[1].sequence != pair[0].sequence + 1 {
            return Err(WalError::Corrupt {
                segment: pair[1].name.clone(),
                offset: 0,
                reason: format!("segment {} is missing", pair[0].sequence + 1),
            });
        }
    }
    Ok(segments)
}

impl<D: Disk> Wal<D> {
    /// Opens the log on `disk`, creating it if the disk holds none, and recovers its
    /// content. A torn tail of the last segment is cut off (and reported in
    /// [`Recovered::repaired`]); a bad record anywhere else is [`WalError::Corrupt`].
    pub fn open(mut disk: D, options: WalOptions) -> Result<(Wal<D>, Recovered), WalError> {
        // What is read here is acted on (a vote, an acknowledgement), so it must be
        // durable first: after a process crash, writes the log never synced may still sit
        // in the OS cache, readable now and lost at a later power loss.
        for name in disk.list()? {
            disk.sync(&name)?;
        }
        disk.sync_dir()?;
        let (snapshot, rejected_snapshots) = snapshot::load_newest(&mut disk)?;
        let segments = list_segments(&mut disk)?;
        let (base, base_term) = snapshot
            .as_ref()
            .map_or((0, 0), |s| (s.meta.index, s.meta.term));
        let mut wal = Wal {
            disk,
            options,
            segments: Vec::new(),
            size: 0,
            crc: 0,
            last_index: base,
            hard_state: HardState::default(),
            records: 0,
            syncs: 0,
        };
        if segments.is_empty() {
            wal.start_segment(0, base)?;
            let recovered = Recovered {
                snapshot,
                rejected_snapshots,
                ..Recovered::default()
            };
            return Ok((wal, recovered));
        }
        let mut replay = Replay {
            snapshot_index: base,
            base,
            base_term,
            entries: Vec::new(),
            hard_state: HardState::default(),
        };
        let repaired = wal.replay_all(&segments, &mut replay)?;
        reconcile_with_snapshot(&mut replay, snapshot.as_ref());
        wal.segments = segments;
        wal.last_index = replay.last_index();
        wal.hard_state = replay.hard_state;
        if wal.size == 0 {
            // The last segment lost even its header: write it again.
            let last = wal.segments.pop().expect("at least one segment");
            wal.disk.remove(&last.name)?;
            // wal.crc is where the previous segment's chain ended: the new header links to it.
            wal.start_segment(last.sequence, wal.last_index)?;
        }
        let recovered = Recovered {
            hard_state: replay.hard_state,
            snapshot,
            entries: replay.entries,
            repaired,
            rejected_snapshots,
        };
        Ok((wal, recovered))
    }

    /// Replays every segment in order into `replay`, cutting off a torn tail of the last
    /// one; returns what was cut (segment, offset, bytes), if anything.
    fn replay_all(
        &mut self,
        segments: &[Segment],
        replay: &mut Replay,
    ) -> Result<Option<(String, u64, u64)>, WalError> {
        let mut repaired = None;
        let count = segments.len();
        let how = How {
            // Look past a bad record in the last segment for valid ones (damage, not a tear).
            strict: !self.options.corruption_taken_for_torn_tail,
            skip_checksum: self.options.skip_checksum,
        };
        for (i, segment) in segments.iter().enumerate() {
            let bytes = self.disk.read_all(&segment.name)?;
            let is_last = i + 1 == count;
            let (end, crc) =
                replay_segment(&segment.name, &bytes, i > 0, self.crc, is_last, replay, how)?;
            if end < bytes.len() as u64 && self.options.torn_tail_is_corruption {
                return Err(WalError::Corrupt {
                    segment: segment.name.clone(),
                    offset: end,
                    reason: "torn record (planted bug: taken for corruption)".into(),
                });
            }
            self.crc = crc;
            if end < bytes.len() as u64 {
                // A torn tail after the last sync: cut it off so appends continue cleanly.
                marks::mark!("wal.recover.torn_tail");
                self.disk.truncate(&segment.name, end)?;
                self.disk.sync(&segment.name)?;
                repaired = Some((segment.name.clone(), end, bytes.len() as u64 - end));
            }
            self.size = end;
        }
        Ok(repaired)
    }

    fn current(&self) -> &Segment {
        self.segments.last().expect("an open log has a segment")
    }

    /// Creates segment `sequence` with its metadata record and the current hard state,
    /// durably (file and directory synced).
    fn start_segment(&mut self, sequence: u64, last_index_before: Index) -> Result<(), WalError> {
        let name = segment_name(sequence, last_index_before);
        let mut buf = Vec::new();
        let meta = Record::Metadata(Metadata {
            sequence,
            last_index_before,
            previous_crc: self.crc,
        });
        let mut crc = record::encode(&mut buf, &meta, 0);
        // Repeat the hard state so that releasing older segments never loses it.
        crc = record::encode(&mut buf, &Record::HardState(self.hard_state), crc);
        self.disk.write(&name, 0, &buf)?;
        self.disk.sync(&name)?;
        if !self.options.skip_dir_sync_of_new_segment {
            self.disk.sync_dir()?;
        }
        self.syncs += 2;
        self.crc = crc;
        self.size = buf.len() as u64;
        self.segments.push(Segment {
            sequence,
            last_index_before,
            name,
        });
        Ok(())
    }

    /// Appends `entries` (replacing the log from the first one's index) and the hard state
    /// in one write. Not durable until [`Wal::sync`].
    pub fn save(
        &mut self,
        hard_state: Option<&HardState>,
        entries: &[Entry],
    ) -> Result<(), WalError> {
        if entries.is_empty() && hard_state.is_none() {
            return Ok(());
        }
        if let Some(first) = entries.first() {
            assert!(
                first.index <= self.last_index + 1,
                "entries start at {} but the log ends at {}",
                first.index,
                self.last_index
            );
        }
        if self.size >= self.options.segment_bytes {
            self.sync()?;
            let sequence = self.current().sequence + 1;
            marks::mark!("wal.segment.rollover");
            self.start_segment(sequence, self.last_index)?;
        }
        let mut buf = Vec::new();
        let mut crc = self.crc;
        if !entries.is_empty() {
            crc = record::encode(&mut buf, &Record::Entries(entries.to_vec()), crc);
            self.records += 1;
            self.last_index = entries.last().expect("non-empty").index;
        }
        if let Some(h) = hard_state {
            crc = record::encode(&mut buf, &Record::HardState(*h), crc);
            self.records += 1;
            self.hard_state = *h;
        }
        let name = self.current().name.clone();
        self.disk.write(&name, self.size, &buf)?;
        self.size += buf.len() as u64;
        self.crc = crc;
        Ok(())
    }

    /// Makes everything saved so far durable (fsync of the current segment).
    pub fn sync(&mut self) -> Result<(), WalError> {
        let name = self.current().name.clone();
        self.disk.sync(&name)?;
        self.syncs += 1;
        Ok(())
    }

    /// Makes a snapshot durable: the snapshot file (written to a temporary name, synced,
    /// renamed, directory synced), then a marker record, synced. `installed` is true for a
    /// snapshot received from the leader, which replaces the whole log.
    pub fn save_snapshot(&mut self, snapshot: &Snapshot, installed: bool) -> Result<(), WalError> {
        snapshot::write(&mut self.disk, snapshot)?;
        let marker = Record::SnapshotMarker(SnapshotMarker {
            index: snapshot.meta.index,
            term: snapshot.meta.term,
            installed,
        });
        let mut buf = Vec::new();
        let crc = record::encode(&mut buf, &marker, self.crc);
        let name = self.current().name.clone();
        self.disk.write(&name, self.size, &buf)?;
        self.size += buf.len() as u64;
        self.crc = crc;
        self.records += 1;
        if installed || snapshot.meta.index > self.last_index {
            self.last_index = snapshot.meta.index;
        }
        self.sync()
    }

    /// Removes the segments and snapshot files wholly covered by the durable snapshot at
    /// `index`: every segment before the last one created when the log ended at or below
    /// `index` (entries above `index` were all written in that segment or later).
    pub fn release_to(&mut self, index: Index) -> Result<(), WalError> {
        let keep_from = self
            .segments
            .iter()
            .rposition(|s| s.last_index_before <= index)
            .unwrap_or(0);
        if keep_from == 0 {
            return Ok(());
        }
        marks::mark!("wal.release.segments");
        let released: Vec<Segment> = self.segments.drain(..keep_from).collect();
        for s in released {
            self.disk.remove(&s.name)?;
        }
        snapshot::remove_older(&mut self.disk, index)?;
        self.disk.sync_dir()?;
        Ok(())
    }

    /// The log's last index as written.
    pub fn last_index(&self) -> Index {
        self.last_index
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Records written and syncs issued since open.
    pub fn counters(&self) -> (u64, u64) {
        (self.records, self.syncs)
    }

    /// The disk (for tests and metrics).
    pub fn disk(&mut self) -> &mut D {
        &mut self.disk
    }
}
