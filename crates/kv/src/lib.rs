//! The key-value state machine, etcd-like: the Store of the source document in small.
//!
//! - **MVCC** ([`mvcc`]): a global **revision** starts at 1, as on a new etcd cluster,
//!   and grows by one with every request that changes the store, however many keys it
//!   writes. Keys record their create revision, modification revision, version and
//!   lease; reads may ask for a past revision until compaction drops it.
//! - **Operations**: put, get, delete and compare-and-swap on one key; etcd's range,
//!   delete-range and transaction over many; compaction (`execute.rs`).
//! - **Client sessions** make retries exactly-once: each command carries a client id and a
//!   sequence number; a command whose sequence number the session has already seen
//!   returns the original result and changes nothing. The session table is part of the
//!   snapshot, so it survives restarts and snapshot installs.
//! - Snapshots are deterministic (ordered maps, fixed encoding) and validated on restore
//!   (`snapshot.rs`).

mod execute;
pub mod mvcc;
mod snapshot;

use mvcc::{Kv, Mvcc};
use proto::codec::{fnv1a, Writer, FNV_OFFSET};
use proto::kv::{Command, OpResult};
use proto::Index;
use std::collections::BTreeMap;

/// Revisions of history the store keeps: once its revision is twice this far ahead of
/// its compact revision, it compacts to this far behind, as etcd's revision-mode
/// auto-compaction does. Applied after every command, so every member
/// compacts at the same point. It bounds the snapshot, which carries the whole window of
/// history (a member snapshots every few hundred entries, and sends snapshots whole).
pub const HISTORY_RETENTION: u64 = 32;

/// A client's session: the last sequence number applied and its result.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Session {
    last_seq: u64,
    last_result: OpResult,
    /// [`session_hash`] of this session, kept so that replacing it costs one hash.
    hash: u64,
}

impl Session {
    fn new(client: u64, last_seq: u64, last_result: OpResult) -> Session {
        let hash = session_hash(client, last_seq, &last_result);
        Session {
            last_seq,
            last_result,
            hash,
        }
    }
}

/// The hash of one client's session, for the store digest.
fn session_hash(client: u64, last_seq: u64, last_result: &OpResult) -> u64 {
    let mut w = Writer::with_capacity(64);
    w.u64(client);
    w.u64(last_seq);
    snapshot::encode_result(&mut w, last_result);
    fnv1a(FNV_OFFSET, &w.bytes)
}

/// What applying a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The command was applied now.
    Fresh(OpResult),
    /// The command is a retry of the session's last command: it changed nothing and
    /// returns the original result.
    Duplicate(OpResult),
    /// The command is older than the session's last command (a very late duplicate): it
    /// changed nothing and has no result to return.
    Stale,
}

/// Planted bugs in the store, for testing the testbed. All off unless a test or
/// `--canary` turns one on; never in production.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreCanaries {
    /// Apply a retried command again instead of returning its first result.
    pub apply_retries_twice: bool,
    /// A compare-and-swap on a modification revision compares the key's create revision
    /// instead (equal only until the key's second write).
    pub cas_compares_create_revision: bool,
    /// Snapshots leave out the client sessions: after a restart or an install from one, a
    /// retry of a request applied before it is applied again.
    pub snapshot_drops_sessions: bool,
    /// Deleting a key does not advance the store's revision, so the next write takes the
    /// revision the delete reported.
    pub delete_keeps_revision: bool,
    /// A create-if-absent compare-and-swap (expected value: none) succeeds whatever the
    /// key holds.
    pub create_ignores_existing: bool,
}

/// The state machine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Store {
    mvcc: Mvcc,
    sessions: BTreeMap<u64, Session>,
    /// Index of the last log entry applied.
    // Invariant: only grows, except when a snapshot is restored.
    applied_index: Index,
    /// Planted bugs for testing the testbed.
    canaries: StoreCanaries,
    /// XOR of [`session_hash`] over every session.
    sessions_digest: u64,
}

impl Store {
    /// An empty store, at revision 1.
    pub fn new() -> Store {
        Store::default()
    }

    /// Turns planted bugs on or off. Never in production.
    pub fn set_canaries(&mut self, canaries: StoreCanaries) {
        self.canaries = canaries;
    }

    /// The store's revision.
    pub fn revision(&self) -> u64 {
        self.mvcc.revision()
    }

    /// The multi-version store itself, for reads.
    pub fn mvcc(&self) -> &Mvcc {
        &self.mvcc
    }

    /// Index of the last entry applied.
    pub fn applied_index(&self) -> Index {
        self.applied_index
    }

    /// Records that entries up to `index` were applied (for entries that carry no command,
    /// such as a leader's no-op).
    pub fn mark_applied(&mut self, index: Index) {
        assert!(
            index > self.applied_index,
            "applied index went from {} to {index}",
            self.applied_index
        );
        self.applied_index = index;
    }

    /// Reads a key: its value and modification revision (0 when absent).
    pub fn get(&self, key: &str) -> (Option<String>, u64) {
        match self.mvcc.value_of(key) {
            Some((value, _, mod_revision)) => (Some(value.to_string()), mod_revision),
            None => (None, 0),
        }
    }

    /// The full record of a key.
    pub fn key(&self, key: &str) -> Option<Kv> {
        self.mvcc.get(key)
    }

    /// Applies the command of the entry at `index` (which must follow the last applied).
    pub fn apply(&mut self, index: Index, command: &Command) -> Applied {
        self.mark_applied(index);
        if let Some(session) = self.sessions.get(&command.client_id) {
            if !self.canaries.apply_retries_twice {
                if command.seq == session.last_seq {
                    marks::mark!("kv.session.duplicate");
                    return Applied::Duplicate(session.last_result.clone());
                }
                if command.seq < session.last_seq {
                    marks::mark!("kv.session.stale");
                    return Applied::Stale;
                }
            }
        }
        let result = self.execute(&command.op);
        let revision = self.mvcc.revision();
        if revision >= self.mvcc.compact_revision() + 2 * HISTORY_RETENTION {
            self.mvcc
                .compact(revision - HISTORY_RETENTION)
                .expect("a revision below the current one and above the compact one");
        }
        let session = Session::new(command.client_id, command.seq, result.clone());
        self.sessions_digest ^= session.hash;
        if let Some(old) = self.sessions.insert(command.client_id, session) {
            self.sessions_digest ^= old.hash;
        }
        Applied::Fresh(result)
    }

    /// A deterministic digest of the whole state (keys, revisions, leases, sessions,
    /// applied index), to compare replicas. Two stores with the same state have the same
    /// digest however they got there (a restored snapshot computes it afresh).
    pub fn digest(&self) -> u64 {
        let mut h = FNV_OFFSET;
        for n in [
            self.applied_index,
            self.mvcc.digest(),
            self.sessions.len() as u64,
            self.sessions_digest,
        ] {
            h = fnv1a(h, &n.to_le_bytes());
        }
        h
    }
}
