//! Replaying the log at open: each segment's records in order, the chain of checksums
//! across segments, torn tails told from damage, and the log brought in line with the
//! newest snapshot.

use crate::record::{self, Decoded, Invalid, Record, SnapshotMarker};
use crate::wal::WalError;
use proto::raft::{Entry, HardState, Snapshot};
use proto::{Index, Term};

/// The log as replay rebuilds it.
pub(crate) struct Replay {
    /// Index of the snapshot file recovery loaded (0 if none).
    pub(crate) snapshot_index: Index,
    pub(crate) base: Index,
    pub(crate) base_term: Term,
    pub(crate) entries: Vec<Entry>,
    pub(crate) hard_state: HardState,
}

impl Replay {
    pub(crate) fn last_index(&self) -> Index {
        self.base + self.entries.len() as u64
    }

    fn apply(&mut self, record: Record) -> Result<(), String> {
        match record {
            Record::Metadata(_) => return Err("metadata record after a segment's start".into()),
            Record::HardState(h) => self.hard_state = h,
            Record::Entries(entries) => {
                let fresh: Vec<Entry> = entries
                    .into_iter()
                    .filter(|e| e.index > self.base)
                    .collect();
                let Some(first) = fresh.first() else {
                    return Ok(());
                };
                if first.index > self.last_index() + 1 {
                    return Err(format!(
                        "entries start at {} but the log ends at {}",
                        first.index,
                        self.last_index()
                    ));
                }
                // Append-only conflict handling: an entry at index i replaces the log from i.
                if first.index <= self.last_index() {
                    marks::mark!("wal.recover.truncated_by_replay");
                }
                self.entries
                    .truncate((first.index - self.base - 1) as usize);
                self.entries.extend(fresh);
            }
            Record::SnapshotMarker(SnapshotMarker {
                index,
                term,
                installed,
            }) => {
                if index > self.snapshot_index {
                    // The snapshot this marker names did not survive (or fails to verify).
                    if installed {
                        return Err(format!(
                            "the log was replaced by a snapshot at {index} that cannot be loaded"
                        ));
                    }
                    // A local compaction snapshot is only an optimisation: keep the entries.
                    return Ok(());
                }
                if index < self.base {
                    return Ok(());
                }
                if installed || index > self.last_index() {
                    self.entries.clear();
                } else {
                    self.entries.drain(..(index - self.base) as usize);
                }
                self.base = index;
                self.base_term = term;
            }
        }
        Ok(())
    }
}

/// How recovery treats bad records (planted bugs loosen it).
#[derive(Clone, Copy)]
pub(crate) struct How {
    pub(crate) strict: bool,
    pub(crate) skip_checksum: bool,
}

fn corrupt_at(segment: &str, offset: usize, reason: String) -> WalError {
    WalError::Corrupt {
        segment: segment.to_string(),
        offset: offset as u64,
        reason,
    }
}

/// Reads a segment's metadata record (`previous_crc`: where the previous segment's chain
/// ended, if there is one): the chained checksum and the offset after it, or `None` for
/// a new last segment whose header write was torn (and, when `strict`, nothing valid
/// follows).
fn read_header(
    name: &str,
    bytes: &[u8],
    previous_crc: Option<u32>,
    is_last: bool,
    strict: bool,
) -> Result<Option<(u32, usize)>, WalError> {
    match record::decode_at(bytes, 0, 0) {
        Ok(Decoded {
            record: Record::Metadata(m),
            crc,
            end,
        }) => match previous_crc {
            Some(previous) if m.previous_crc != previous => Err(corrupt_at(
                name,
                0,
                format!(
                    "segment chain broken: it follows checksum {:08x}, the previous segment ended with {previous:08x}",
                    m.previous_crc
                ),
            )),
            _ => Ok(Some((crc, end))),
        },
        Ok(_) => Err(corrupt_at(
            name,
            0,
            "segment does not start with a metadata record".into(),
        )),
        // A new last segment whose header write was torn; but damage if records follow.
        Err(_) if is_last && !(strict && record::valid_record_after(bytes, 0, 0)) => Ok(None),
        Err(e) => Err(corrupt_at(name, 0, format!("unreadable segment header: {e:?}"))),
    }
}

/// Replays one segment's records into `replay`; returns the offset where valid records
/// end and the chained checksum there.
pub(crate) fn replay_segment(
    name: &str,
    bytes: &[u8],
    has_previous: bool,
    previous_crc: u32,
    is_last: bool,
    replay: &mut Replay,
    how: How,
) -> Result<(u64, u32), WalError> {
    let strict = how.strict;
    let corrupt = |offset: usize, reason: String| corrupt_at(name, offset, reason);
    let header = read_header(
        name,
        bytes,
        has_previous.then_some(previous_crc),
        is_last,
        strict,
    )?;
    let Some((mut crc, mut offset)) = header else {
        return Ok((0, previous_crc));
    };
    while offset < bytes.len() {
        let decoded = match record::decode_at(bytes, offset, crc) {
            Err(Invalid::Bad { .. }) if how.skip_checksum => {
                record::decode_unchecked(bytes, offset).ok_or(Invalid::Incomplete)
            }
            other => other,
        };
        match decoded {
            Ok(d) => {
                replay
                    .apply(d.record)
                    .map_err(|reason| corrupt(offset, reason))?;
                crc = d.crc;
                offset = d.end;
            }
            Err(invalid) => {
                let reason = match &invalid {
                    Invalid::Incomplete => "incomplete record".to_string(),
                    Invalid::Bad { reason, .. } => reason.clone(),
                };
                if !is_last {
                    return Err(corrupt(offset, reason));
                }
                // In the last segment a bad record may be a torn write after the last
                // sync, but only if nothing valid follows it.
                if strict && record::valid_record_after(bytes, offset, crc) {
                    marks::mark!("wal.recover.corruption");
                    return Err(corrupt(
                        offset,
                        format!("{reason}, followed by valid records"),
                    ));
                }
                return Ok((offset as u64, crc));
            }
        }
    }
    Ok((offset as u64, crc))
}

/// Brings the replayed log in line with the newest snapshot file, for the case where the
/// snapshot became durable but its marker record did not (a crash in between): entries up
/// to the snapshot are covered, and entries of an older term than the snapshot's cannot
/// follow it, so they and everything after them are dropped.
pub(crate) fn reconcile_with_snapshot(replay: &mut Replay, snapshot: Option<&Snapshot>) {
    let Some(s) = snapshot else {
        return;
    };
    if s.meta.index > replay.base {
        let covered = (s.meta.index - replay.base).min(replay.entries.len() as u64);
        replay.entries.drain(..covered as usize);
        replay.base = s.meta.index;
        replay.base_term = s.meta.term;
    }
    if let Some(stale) = replay
        .entries
        .iter()
        .position(|e| e.term < replay.base_term)
    {
        replay.entries.truncate(stale);
    }
    if replay
        .entries
        .first()
        .is_some_and(|e| e.index != replay.base + 1)
    {
        replay.entries.clear();
    }
}
