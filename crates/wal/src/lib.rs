//! The write-ahead log (WAL) and snapshot files of a member, over the synchronous
//! [`disk::Disk`] trait.
//!
//! The member saves the hard state and new entries with [`Wal::save`] and calls
//! [`Wal::sync`] before sending anything that depends on them (votes, append acks). The
//! log is append-only: after a conflict the correct entries are appended after the wrong
//! ones, and replay keeps the last word (an entry at index i replaces everything from i).
//!
//! # Format
//!
//! A log is a sequence of segment files `wal-SSSSSSSSSSSSSSSS-LLLLLLLLLLLLLLLL.wal` (S: the
//! segment number, L: the log's last index when it was created, both hexadecimal). Each
//! holds records, all little-endian:
//!
//! | bytes | field | meaning |
//! |---|---|---|
//! | 0..4 | length | payload length in bytes (at most 64 MiB) |
//! | 4 | type | 1 metadata, 2 entries, 3 hard state, 4 snapshot marker |
//! | 5..9 | checksum | CRC32C over (previous record's checksum, type, payload) |
//! | 9.. | payload | as below |
//!
//! Checksums are chained, so a lost, repeated or reordered record breaks the chain. The
//! first record of a segment is its metadata and starts a new chain; it stores the
//! checksum the previous segment ended with, which recovery compares.
//!
//! | type | payload |
//! |---|---|
//! | metadata | segment number u64, last index before u64, previous segment's final checksum u32 |
//! | entries | count u32, then per entry: index u64, term u64, kind u8 (1 normal, 2 no-op, 3 configuration change), data length u32, data |
//! | hard state | term u64, vote u64, commit u64 |
//! | snapshot marker | index u64, term u64, kind u8 (1 taken locally, 2 installed from the leader) |
//!
//! A snapshot file `snap-IIII…-TTTT….snap` (decimal index and term) holds: magic `RSNP`,
//! version u8 (2), CRC32C u32 of the rest, index u64, term u64, the configuration at
//! `index` (voters, outgoing voters, learners: each a count u32 and ids u64; auto-leave
//! u8), data length u32, data.
//!
//! # Recovery
//!
//! Recovery loads the newest snapshot file that verifies, then replays every segment.
//! An incomplete record, or a bad one with nothing valid after it, at the tail of the
//! last segment is a torn write after the last sync: it is cut off and the log goes on
//! from there. Any other bad record is [`WalError::Corrupt`], naming the segment and
//! offset; it is never skipped silently. Decoding validates every length before
//! allocating, so no byte string makes it panic or allocate without bound.

#[cfg(feature = "bench")]
pub mod bench;
mod record;
mod replay;
mod snapshot;
mod wal;

pub use record::{decode_at, encode, Invalid, Metadata, Record, RecordType, SnapshotMarker};
pub use snapshot::{decode as decode_snapshot, encode as encode_snapshot};
pub use wal::{Recovered, Wal, WalError, WalOptions};
