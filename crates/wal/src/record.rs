//! Records: framing, chained checksums, and the payload of each record type.

use proto::codec::{DecodeError, Reader, Writer};
use proto::raft::{Entry, EntryKind, HardState};
use proto::{Index, Term};

/// Bytes of a record header: length (4), type (1), checksum (4).
pub const HEADER_BYTES: usize = 9;

/// Upper bound of one record's payload; a length field above it is corruption (so a
/// flipped bit never makes recovery allocate gigabytes).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024 * 1024;

/// The record types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordType {
    /// First record of every segment: segment number, the log's last index when the
    /// segment was created, and the checksum that ended the previous segment.
    Metadata = 1,
    /// A batch of log entries; the first one's index truncates everything from it on.
    Entries = 2,
    /// Term, vote and commit index.
    HardState = 3,
    /// A snapshot at (index, term) was made durable; entries up to index are covered.
    /// Kind 1 = taken locally (compaction), 2 = installed from the leader (replaces the log).
    SnapshotMarker = 4,
}

impl RecordType {
    fn from_u8(v: u8) -> Option<RecordType> {
        match v {
            1 => Some(RecordType::Metadata),
            2 => Some(RecordType::Entries),
            3 => Some(RecordType::HardState),
            4 => Some(RecordType::SnapshotMarker),
            _ => None,
        }
    }
}

/// Payload of a metadata record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Segment number (0, 1, 2, … with no gaps).
    pub sequence: u64,
    /// The log's last index when the segment was created: every entry of the final log
    /// above this index was written in this segment or a later one.
    pub last_index_before: Index,
    /// The chained checksum the previous segment ended with (0 for the first).
    pub previous_crc: u32,
}

/// Payload of a snapshot marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotMarker {
    /// Last index the snapshot covers.
    pub index: Index,
    /// Term at that index.
    pub term: Term,
    /// Whether the snapshot came from the leader and replaces the whole log.
    pub installed: bool,
}

/// A decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// See [`RecordType::Metadata`].
    Metadata(Metadata),
    /// See [`RecordType::Entries`].
    Entries(Vec<Entry>),
    /// See [`RecordType::HardState`].
    HardState(HardState),
    /// See [`RecordType::SnapshotMarker`].
    SnapshotMarker(SnapshotMarker),
}

/// Appends one framed record to `out`, chaining its checksum from `previous_crc`, and
/// returns the new chained checksum.
pub fn encode(out: &mut Vec<u8>, record: &Record, previous_crc: u32) -> u32 {
    let capacity = match record {
        Record::Entries(entries) => 4 + entries.iter().map(|e| 21 + e.data.len()).sum::<usize>(),
        _ => 32,
    };
    let mut w = Writer::with_capacity(capacity);
    let kind = match record {
        Record::Metadata(m) => {
            w.u64(m.sequence);
            w.u64(m.last_index_before);
            w.u32(m.previous_crc);
            RecordType::Metadata
        }
        Record::Entries(entries) => {
            w.u32(entries.len() as u32);
            for e in entries {
                w.u64(e.index);
                w.u64(e.term);
                w.u8(match e.kind {
                    EntryKind::Normal => 1,
                    EntryKind::Noop => 2,
                    EntryKind::ConfChange => 3,
                });
                w.bytes(&e.data);
            }
            RecordType::Entries
        }
        Record::HardState(h) => {
            w.u64(h.term);
            w.u64(h.vote);
            w.u64(h.commit);
            RecordType::HardState
        }
        Record::SnapshotMarker(s) => {
            w.u64(s.index);
            w.u64(s.term);
            w.u8(u8::from(s.installed) + 1);
            RecordType::SnapshotMarker
        }
    };
    let payload = w.bytes;
    assert!(
        payload.len() <= MAX_PAYLOAD_BYTES,
        "record of {} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit",
        payload.len()
    );
    let crc = checksum(previous_crc, kind as u8, &payload);
    out.reserve(HEADER_BYTES + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&payload);
    crc
}

/// The chained checksum: CRC32C over the previous checksum, the type and the payload.
fn checksum(previous_crc: u32, kind: u8, payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c_append(0, &previous_crc.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &[kind]);
    crc32c::crc32c_append(crc, payload)
}

/// Why the bytes at some offset are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Fewer bytes than a header or than the header's length field says.
    Incomplete,
    /// The header is readable but the record is wrong (type, checksum or payload);
    /// `next` is where the following record would start.
    Bad {
        /// What is wrong.
        reason: String,
        /// Offset of the following record, if the length field is plausible.
        next: Option<usize>,
        /// The checksum stored in the bad record (the chain seed for the next one).
        stored_crc: u32,
    },
}

/// A record decoded at some offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The record.
    pub record: Record,
    /// Its chained checksum.
    pub crc: u32,
    /// Offset just past it.
    pub end: usize,
}

/// Decodes the record at `offset` of `bytes`, checking its checksum against the chain.
pub fn decode_at(bytes: &[u8], offset: usize, previous_crc: u32) -> Result<Decoded, Invalid> {
    let rest = &bytes[offset.min(bytes.len())..];
    if rest.len() < HEADER_BYTES {
        return Err(Invalid::Incomplete);
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let kind = rest[4];
    let stored_crc = u32::from_le_bytes([rest[5], rest[6], rest[7], rest[8]]);
    if len > MAX_PAYLOAD_BYTES {
        return Err(Invalid::Bad {
            reason: format!("length {len} exceeds the limit"),
            next: None,
            stored_crc,
        });
    }
    if rest.len() < HEADER_BYTES + len {
        return Err(Invalid::Incomplete);
    }
    let next = Some(offset + HEADER_BYTES + len);
    let payload = &rest[HEADER_BYTES..HEADER_BYTES + len];
    let bad = |reason: String| Invalid::Bad {
        reason,
        next,
        stored_crc,
    };
    let Some(record_type) = RecordType::from_u8(kind) else {
        return Err(bad(format!("unknown record type {kind}")));
    };
    let crc = checksum(previous_crc, kind, payload);
    if crc != stored_crc {
        return Err(bad(format!(
            "checksum mismatch (stored {stored_crc:08x}, computed {crc:08x})"
        )));
    }
    let record = decode_payload(record_type, payload)
        .map_err(|e| bad(format!("bad {record_type:?} payload: {e}")))?;
    Ok(Decoded {
        record,
        crc,
        end: offset + HEADER_BYTES + len,
    })
}

/// The record at `offset` decoded without checking its checksum (for a planted bug that
/// skips the check): `None` when it is not even well framed.
pub fn decode_unchecked(bytes: &[u8], offset: usize) -> Option<Decoded> {
    let rest = bytes.get(offset..)?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let kind = RecordType::from_u8(*rest.get(4)?)?;
    let stored = u32::from_le_bytes(rest.get(5..9)?.try_into().ok()?);
    let payload = rest.get(HEADER_BYTES..HEADER_BYTES.checked_add(len)?)?;
    let record = decode_payload(kind, payload).ok()?;
    Some(Decoded {
        record,
        crc: stored,
        end: offset + HEADER_BYTES + len,
    })
}

/// Whether valid records follow the invalid one at `offset`: either a record that chains
/// from one of the invalid record's plausible checksums (the one its header stores, right
/// when its payload or length field is damaged; the one of its payload as its header
/// frames it, right when the stored checksum is), or, anywhere after it, two consecutive
/// records that chain to each other, or a well-framed record that ends the file (what
/// survives damage that spans several records, whose checksums are lost with them). Every offset is tried, since a damaged length field
/// says nothing of where the next record starts. A torn write at the tail has nothing
/// valid after it; damage in the middle of a log does.
pub fn valid_record_after(bytes: &[u8], offset: usize, previous_crc: u32) -> bool {
    let rest = &bytes[offset.min(bytes.len())..];
    if rest.len() < HEADER_BYTES {
        return false;
    }
    let stored = u32::from_le_bytes([rest[5], rest[6], rest[7], rest[8]]);
    let mut seeds = vec![stored];
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if let Some(payload) = rest.get(HEADER_BYTES..HEADER_BYTES.saturating_add(len)) {
        seeds.push(checksum(previous_crc, rest[4], payload));
    }
    (offset + 1..bytes.len().saturating_sub(HEADER_BYTES - 1)).any(|at| {
        seeds.iter().any(|seed| decode_at(bytes, at, *seed).is_ok())
            || chained_pair_at(bytes, at)
            || framed_to_end(bytes, at)
    })
}

/// Whether a record at `at` is well framed, decodes, and ends exactly at the end of the
/// file: the last record of a log whose chain into it was damaged. (A torn write leaves
/// nothing well framed after its bad record; garbage that frames itself to the exact end
/// is a one-in-billions chance.)
fn framed_to_end(bytes: &[u8], at: usize) -> bool {
    decode_unchecked(bytes, at).is_some_and(|d| d.end == bytes.len())
}

/// Whether a well-framed record at `at` is followed by a record that chains from the
/// checksum it stores.
fn chained_pair_at(bytes: &[u8], at: usize) -> bool {
    let rest = &bytes[at..];
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if RecordType::from_u8(rest[4]).is_none() || len > rest.len() - HEADER_BYTES {
        return false;
    }
    let stored = u32::from_le_bytes([rest[5], rest[6], rest[7], rest[8]]);
    decode_at(bytes, at + HEADER_BYTES + len, stored).is_ok()
}

fn decode_payload(kind: RecordType, payload: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader::new(payload);
    let record = match kind {
        RecordType::Metadata => Record::Metadata(Metadata {
            sequence: r.u64("segment sequence")?,
            last_index_before: r.u64("last index before")?,
            previous_crc: r.u32("previous checksum")?,
        }),
        RecordType::Entries => {
            let count = r.u32("entry count")? as usize;
            // Each entry takes at least 21 bytes: never trust a count the payload can't hold.
            if count > r.remaining() / 21 {
                return Err(r.error("entry count"));
            }
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                let index = r.u64("entry index")?;
                let term = r.u64("entry term")?;
                let kind = match r.u8("entry kind")? {
                    1 => EntryKind::Normal,
                    2 => EntryKind::Noop,
                    3 => EntryKind::ConfChange,
                    _ => return Err(r.error("entry kind")),
                };
                let data = r.bytes("entry data")?.to_vec();
                if let Some(prev) = entries.last() {
                    let prev: &Entry = prev;
                    if index != prev.index + 1 || term < prev.term {
                        return Err(r.error("entries out of order"));
                    }
                }
                entries.push(Entry {
                    index,
                    term,
                    kind,
                    data,
                });
            }
            if entries.is_empty() {
                return Err(r.error("empty entries record"));
            }
            Record::Entries(entries)
        }
        RecordType::HardState => Record::HardState(HardState {
            term: r.u64("term")?,
            vote: r.u64("vote")?,
            commit: r.u64("commit")?,
        }),
        RecordType::SnapshotMarker => {
            let index = r.u64("snapshot index")?;
            let term = r.u64("snapshot term")?;
            let installed = match r.u8("snapshot kind")? {
                1 => false,
                2 => true,
                _ => return Err(r.error("snapshot kind")),
            };
            Record::SnapshotMarker(SnapshotMarker {
                index,
                term,
                installed,
            })
        }
    };
    r.finish("end of record")?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Record> {
        vec![
            Record::Metadata(Metadata {
                sequence: 3,
                last_index_before: 9,
                previous_crc: 77,
            }),
            Record::HardState(HardState {
                term: 2,
                vote: 1,
                commit: 5,
            }),
            Record::Entries(vec![
                Entry {
                    index: 10,
                    term: 2,
                    kind: EntryKind::Noop,
                    data: vec![],
                },
                Entry {
                    index: 11,
                    term: 2,
                    kind: EntryKind::Normal,
                    data: b"abc".to_vec(),
                },
            ]),
            Record::SnapshotMarker(SnapshotMarker {
                index: 8,
                term: 1,
                installed: true,
            }),
        ]
    }

    #[test]
    fn records_round_trip_with_a_chained_checksum() {
        let mut bytes = Vec::new();
        let mut crc = 0;
        for r in sample() {
            crc = encode(&mut bytes, &r, crc);
        }
        let mut offset = 0;
        let mut crc = 0;
        for expected in sample() {
            let d = decode_at(&bytes, offset, crc).unwrap();
            assert_eq!(d.record, expected);
            crc = d.crc;
            offset = d.end;
        }
        assert_eq!(offset, bytes.len());
    }

    #[test]
    fn a_record_out_of_its_chain_fails_the_checksum() {
        let mut bytes = Vec::new();
        encode(&mut bytes, &sample()[1], 5);
        assert!(matches!(decode_at(&bytes, 0, 6), Err(Invalid::Bad { .. })));
        assert!(decode_at(&bytes, 0, 5).is_ok());
    }
}
