// Over 500 lines only with its unit tests: the store itself is under 430.
//! The key-value state machine, etcd-like.
//!
//! - A global **revision** grows by one with every change; each key records its create
//!   revision, modification revision and version (number of changes since creation).
//! - Operations: put, get, delete, compare-and-swap (on the value or on the modification
//!   revision).
//! - **Client sessions** make retries exactly-once: each command carries a client id and a
//!   sequence number; a command whose sequence number the session has already seen
//!   returns the original result and changes nothing. The session table is part of the
//!   snapshot, so it survives restarts and snapshot installs.
//! - Snapshots are deterministic (ordered maps, fixed encoding) and validated on restore.

pub mod mvcc;

use proto::codec::{fnv1a, DecodeError, Reader, Writer, FNV_OFFSET};
use proto::kv::{Command, Compare, Op, OpResult};
use proto::Index;
use std::collections::BTreeMap;

/// One key's value and its history counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The value.
    pub value: String,
    /// Revision at which the key was created.
    pub create_revision: u64,
    /// Revision of the last change.
    pub mod_revision: u64,
    /// Number of changes since creation (1 after the first put).
    pub version: u64,
}

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
    data: BTreeMap<String, KeyValue>,
    revision: u64,
    sessions: BTreeMap<u64, Session>,
    /// Index of the last log entry applied.
    // Invariant: only grows, except when a snapshot is restored.
    applied_index: Index,
    /// Planted bugs for testing the testbed.
    canaries: StoreCanaries,
    /// XOR of [`key_hash`] over every key: kept up to date by every change, so that
    /// [`Store::digest`] costs the same for any size of store (members publish it often).
    data_digest: u64,
    /// XOR of [`session_hash`] over every session.
    sessions_digest: u64,
}

/// The hash of one key's record, for the store digest. Lengths are hashed too, so that
/// the key/value boundary cannot shift.
fn key_hash(key: &str, kv: &KeyValue) -> u64 {
    let mut h = FNV_OFFSET;
    for n in [key.len() as u64, kv.value.len() as u64] {
        h = fnv1a(h, &n.to_le_bytes());
    }
    h = fnv1a(h, key.as_bytes());
    h = fnv1a(h, kv.value.as_bytes());
    for n in [kv.create_revision, kv.mod_revision, kv.version] {
        h = fnv1a(h, &n.to_le_bytes());
    }
    h
}

/// The hash of one client's session, for the store digest.
fn session_hash(client: u64, last_seq: u64, last_result: &OpResult) -> u64 {
    let mut w = Writer::with_capacity(64);
    w.u64(client);
    w.u64(last_seq);
    encode_result(&mut w, last_result);
    fnv1a(FNV_OFFSET, &w.bytes)
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Turns planted bugs on or off. Never in production.
    pub fn set_canaries(&mut self, canaries: StoreCanaries) {
        self.canaries = canaries;
    }

    /// The store's revision.
    pub fn revision(&self) -> u64 {
        self.revision
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
        match self.data.get(key) {
            Some(kv) => (Some(kv.value.clone()), kv.mod_revision),
            None => (None, 0),
        }
    }

    /// The full record of a key.
    pub fn key(&self, key: &str) -> Option<&KeyValue> {
        self.data.get(key)
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
        let session = Session::new(command.client_id, command.seq, result.clone());
        self.sessions_digest ^= session.hash;
        if let Some(old) = self.sessions.insert(command.client_id, session) {
            self.sessions_digest ^= old.hash;
        }
        Applied::Fresh(result)
    }

    fn execute(&mut self, op: &Op) -> OpResult {
        match op {
            Op::Put { key, value } => {
                self.put(key, value);
                OpResult::Put {
                    revision: self.revision,
                }
            }
            Op::Get { key } => {
                let (value, mod_revision) = self.get(key);
                OpResult::Get {
                    value,
                    mod_revision,
                }
            }
            Op::Delete { key } => {
                let deleted = match self.data.remove(key) {
                    Some(old) => {
                        self.data_digest ^= key_hash(key, &old);
                        true
                    }
                    None => false,
                };
                if deleted && !self.canaries.delete_keeps_revision {
                    self.revision += 1;
                } else {
                    marks::mark!("kv.delete.missing");
                }
                OpResult::Delete {
                    deleted,
                    revision: self.revision,
                }
            }
            Op::Cas {
                key,
                compare,
                value,
            } => {
                let current = self.data.get(key);
                let holds = match compare {
                    Compare::Value(None) if self.canaries.create_ignores_existing => true,
                    Compare::Value(expected) => current.map(|kv| &kv.value) == expected.as_ref(),
                    Compare::ModRevision(r) if self.canaries.cas_compares_create_revision => {
                        current.map_or(0, |kv| kv.create_revision) == *r
                    }
                    Compare::ModRevision(r) => current.map_or(0, |kv| kv.mod_revision) == *r,
                };
                if holds {
                    self.put(key, value);
                } else {
                    marks::mark!("kv.cas.failed");
                }
                OpResult::Cas {
                    succeeded: holds,
                    revision: self.revision,
                }
            }
        }
    }

    fn put(&mut self, key: &str, value: &str) {
        self.revision += 1;
        let revision = self.revision;
        let kv = match self.data.get_mut(key) {
            Some(kv) => {
                self.data_digest ^= key_hash(key, kv);
                kv.value = value.to_string();
                kv.mod_revision = revision;
                kv.version += 1;
                kv
            }
            None => self.data.entry(key.to_string()).or_insert(KeyValue {
                value: value.to_string(),
                create_revision: revision,
                mod_revision: revision,
                version: 1,
            }),
        };
        self.data_digest ^= key_hash(key, kv);
    }

    /// A deterministic digest of the whole state (data, revision, sessions, applied index),
    /// to compare replicas. Two stores with the same state have the same digest however
    /// they got there (a restored snapshot computes it afresh).
    pub fn digest(&self) -> u64 {
        let mut h = FNV_OFFSET;
        for n in [
            self.applied_index,
            self.revision,
            self.data.len() as u64,
            self.data_digest,
            self.sessions.len() as u64,
            self.sessions_digest,
        ] {
            h = fnv1a(h, &n.to_le_bytes());
        }
        h
    }

    /// Serializes the state (the same state always gives the same bytes).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.applied_index);
        w.u64(self.revision);
        w.u32(self.data.len() as u32);
        for (k, kv) in &self.data {
            w.str(k);
            w.str(&kv.value);
            w.u64(kv.create_revision);
            w.u64(kv.mod_revision);
            w.u64(kv.version);
        }
        if self.canaries.snapshot_drops_sessions {
            w.u32(0);
            return w.bytes;
        }
        w.u32(self.sessions.len() as u32);
        for (client, s) in &self.sessions {
            w.u64(*client);
            w.u64(s.last_seq);
            encode_result(&mut w, &s.last_result);
        }
        w.bytes
    }

    /// Rebuilds a store from [`Store::snapshot`] bytes, validating everything.
    pub fn restore(bytes: &[u8]) -> Result<Store, DecodeError> {
        let mut r = Reader::new(bytes);
        let applied_index = r.u64("applied index")?;
        let revision = r.u64("revision")?;
        let count = r.u32("key count")? as usize;
        if count > r.remaining() / 32 {
            return Err(r.error("key count"));
        }
        let mut data = BTreeMap::new();
        for _ in 0..count {
            let key = r.str("key")?;
            let kv = KeyValue {
                value: r.str("value")?,
                create_revision: r.u64("create revision")?,
                mod_revision: r.u64("mod revision")?,
                version: r.u64("version")?,
            };
            if kv.mod_revision > revision || kv.create_revision > kv.mod_revision {
                return Err(r.error("key revisions"));
            }
            data.insert(key, kv);
        }
        let sessions_count = r.u32("session count")? as usize;
        if sessions_count > r.remaining() / 17 {
            return Err(r.error("session count"));
        }
        let mut sessions = BTreeMap::new();
        for _ in 0..sessions_count {
            let client = r.u64("client id")?;
            let last_seq = r.u64("last sequence")?;
            let last_result = decode_result(&mut r)?;
            sessions.insert(client, Session::new(client, last_seq, last_result));
        }
        r.finish("end of snapshot")?;
        let data_digest = data.iter().fold(0, |d, (k, kv)| d ^ key_hash(k, kv));
        let sessions_digest = sessions.iter().fold(0, |d, (_, session)| d ^ session.hash);
        Ok(Store {
            data,
            revision,
            sessions,
            applied_index,
            canaries: StoreCanaries::default(),
            data_digest,
            sessions_digest,
        })
    }
}

fn encode_result(w: &mut Writer, result: &OpResult) {
    match result {
        OpResult::Put { revision } => {
            w.u8(1);
            w.u64(*revision);
        }
        OpResult::Get {
            value,
            mod_revision,
        } => {
            w.u8(2);
            w.opt_str(value.as_deref());
            w.u64(*mod_revision);
        }
        OpResult::Delete { deleted, revision } => {
            w.u8(3);
            w.u8(u8::from(*deleted));
            w.u64(*revision);
        }
        OpResult::Cas {
            succeeded,
            revision,
        } => {
            w.u8(4);
            w.u8(u8::from(*succeeded));
            w.u64(*revision);
        }
    }
}

fn decode_bool(r: &mut Reader, what: &'static str) -> Result<bool, DecodeError> {
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(r.error(what)),
    }
}

fn decode_result(r: &mut Reader) -> Result<OpResult, DecodeError> {
    Ok(match r.u8("result tag")? {
        1 => OpResult::Put {
            revision: r.u64("revision")?,
        },
        2 => OpResult::Get {
            value: r.opt_str("value")?,
            mod_revision: r.u64("mod revision")?,
        },
        3 => OpResult::Delete {
            deleted: decode_bool(r, "deleted")?,
            revision: r.u64("revision")?,
        },
        4 => OpResult::Cas {
            succeeded: decode_bool(r, "succeeded")?,
            revision: r.u64("revision")?,
        },
        _ => return Err(r.error("result tag")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cmd(client: u64, seq: u64, op: Op) -> Command {
        Command {
            client_id: client,
            seq,
            op,
        }
    }

    fn put(k: &str, v: &str) -> Op {
        Op::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn revisions_and_versions_follow_etcd() {
        let mut s = Store::new();
        s.apply(1, &cmd(1, 1, put("a", "1")));
        s.apply(2, &cmd(1, 2, put("a", "2")));
        s.apply(3, &cmd(1, 3, put("b", "1")));
        let a = s.key("a").unwrap();
        assert_eq!((a.create_revision, a.mod_revision, a.version), (1, 2, 2));
        assert_eq!(s.revision(), 3);
        let r = s.apply(4, &cmd(1, 4, Op::Delete { key: "a".into() }));
        assert_eq!(
            r,
            Applied::Fresh(OpResult::Delete {
                deleted: true,
                revision: 4
            })
        );
        let r = s.apply(5, &cmd(1, 5, Op::Delete { key: "a".into() }));
        assert_eq!(
            r,
            Applied::Fresh(OpResult::Delete {
                deleted: false,
                revision: 4
            })
        );
    }

    #[test]
    fn compare_and_swap_on_value_and_on_revision() {
        let mut s = Store::new();
        let cas = |compare, v: &str| Op::Cas {
            key: "k".into(),
            compare,
            value: v.into(),
        };
        let ok = |a: Applied| {
            matches!(
                a,
                Applied::Fresh(OpResult::Cas {
                    succeeded: true,
                    ..
                })
            )
        };
        assert!(ok(s.apply(1, &cmd(1, 1, cas(Compare::Value(None), "x")))));
        assert!(!ok(s.apply(2, &cmd(1, 2, cas(Compare::Value(None), "y")))));
        assert!(ok(s.apply(
            3,
            &cmd(1, 3, cas(Compare::Value(Some("x".into())), "y"))
        )));
        assert!(!ok(
            s.apply(4, &cmd(1, 4, cas(Compare::ModRevision(1), "z")))
        ));
        assert!(ok(s.apply(5, &cmd(1, 5, cas(Compare::ModRevision(2), "z")))));
        assert_eq!(s.get("k").0.as_deref(), Some("z"));
    }

    #[test]
    fn a_retried_command_is_applied_once_and_returns_the_original_result() {
        let mut s = Store::new();
        let first = s.apply(1, &cmd(7, 1, put("k", "v")));
        let Applied::Fresh(result) = first else {
            panic!("first application must be fresh")
        };
        assert_eq!(
            s.apply(2, &cmd(7, 1, put("k", "v"))),
            Applied::Duplicate(result)
        );
        assert_eq!(s.revision(), 1, "the retry changed nothing");
        s.apply(3, &cmd(7, 2, put("k", "w")));
        assert_eq!(s.apply(4, &cmd(7, 1, put("k", "v"))), Applied::Stale);
        assert_eq!(s.get("k").0.as_deref(), Some("w"));
    }

    #[test]
    fn the_retry_canary_applies_twice() {
        let mut s = Store::new();
        s.set_canaries(StoreCanaries {
            apply_retries_twice: true,
            ..StoreCanaries::default()
        });
        s.apply(1, &cmd(7, 1, put("k", "v")));
        assert!(matches!(
            s.apply(2, &cmd(7, 1, put("k", "v"))),
            Applied::Fresh(_)
        ));
        assert_eq!(s.revision(), 2);
    }

    #[test]
    fn the_digest_tells_states_apart() {
        let mut a = Store::new();
        let mut b = Store::new();
        a.apply(1, &cmd(1, 1, put("k", "v1")));
        b.apply(1, &cmd(1, 1, put("k", "v2")));
        assert_ne!(a.digest(), b.digest(), "different values");
        let mut c = Store::new();
        c.apply(1, &cmd(2, 1, put("k", "v1")));
        assert_ne!(a.digest(), c.digest(), "different sessions");
        let mut d = Store::new();
        d.apply(1, &cmd(1, 1, put("kv", "1")));
        assert_ne!(a.digest(), d.digest(), "a shifted key/value boundary");
        // Put then delete returns the data part to empty, but the revision moved on.
        a.apply(2, &cmd(1, 2, Op::Delete { key: "k".into() }));
        let e = Store::new();
        assert_ne!(a.digest(), e.digest());
        assert_eq!(a.digest(), Store::restore(&a.snapshot()).unwrap().digest());
    }

    #[test]
    fn sessions_survive_snapshot_and_restore() {
        let mut s = Store::new();
        s.apply(1, &cmd(7, 1, put("k", "v")));
        let mut restored = Store::restore(&s.snapshot()).unwrap();
        assert_eq!(restored, s);
        assert!(matches!(
            restored.apply(2, &cmd(7, 1, put("k", "v"))),
            Applied::Duplicate(_)
        ));
    }

    proptest! {
        #[test]
        fn restore_of_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Store::restore(&bytes);
        }

        #[test]
        fn snapshots_are_deterministic(ops in proptest::collection::vec((0u8..4, 0u8..5, 0u64..3), 0..50)) {
            let mut a = Store::new();
            for (i, (kind, key, client)) in ops.iter().enumerate() {
                let key = format!("k{key}");
                let op = match kind {
                    0 => put(&key, &format!("v{i}")),
                    1 => Op::Get { key },
                    2 => Op::Delete { key },
                    _ => Op::Cas { key, compare: Compare::Value(None), value: format!("c{i}") },
                };
                a.apply(i as u64 + 1, &cmd(*client, i as u64 + 1, op));
            }
            let b = Store::restore(&a.snapshot()).unwrap();
            prop_assert_eq!(a.snapshot(), b.snapshot());
            // `a` kept its digest up to date change by change; `b` computed it afresh.
            prop_assert_eq!(a.digest(), b.digest());
            prop_assert_eq!(&a, &b);
        }
    }
}
