//! A multi-version key index with etcd's semantics: the heart of the Store (ranges,
//! transactions, reads at a past revision, compaction, leases). [`crate::Store`] runs
//! every command the member applies through it.
//!
//! - **Revisions.** The counter starts at 1, as on a new etcd cluster, so the first write
//!   makes revision 2. Every transaction that changes anything adds exactly 1, however many
//!   keys it writes; a delete that removes nothing adds nothing.
//! - **Keys.** A key's `version` is 1 when it is created and grows with each put; a delete
//!   ends the incarnation, and the next put creates a new one (`create_revision` is the
//!   revision that created the current one).
//! - **Ranges** follow etcd's conventions: an empty `range_end` reads one key, `"\0"` every
//!   key from `key` on, anything else the half-open `[key, range_end)`; [`prefix_end`]
//!   gives the end of a prefix. `limit`, `count_only` and `keys_only` behave as etcd's.
//! - **Compaction** drops history below a revision; a read below it fails with
//!   [`ReadError::Compacted`], which carries the compact revision, and a read above the
//!   current revision with [`ReadError::FutureRevision`].
//! - **Transactions** compare keys as etcd does (an absent key is version, create and
//!   modification revision 0, lease 0 and an empty value), then run one branch in order;
//!   a transaction that writes a key twice is refused whole (`txn.rs`).
//! - **Leases** (`lease.rs`): a grant changes no revision, a revoke deletes the attached
//!   keys in one revision, a put on a lease that does not exist is refused.
//! - **Snapshots** (`snapshot.rs`) carry the whole window of history, the compact
//!   revision and the leases, in a fixed encoding validated on restore.

mod lease;
mod snapshot;
mod txn;

pub use lease::LeaseError;
pub use proto::store::{
    prefix_end, Compare, CompareOp, Kv, RangeOptions, RangeResult, Target, TxnOp, TxnResult, Write,
};

use proto::store::in_range;

use proto::codec::{fnv1a, FNV_OFFSET};
use std::collections::{BTreeMap, VecDeque};

/// One incarnation of a key as one change left it. Its key and modification revision
/// are where it is kept (the map's key, the change's revision), so a change costs one
/// string, its value; a read builds the [`Kv`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    value: String,
    create_revision: u64,
    version: u64,
    lease: u64,
}

impl Rec {
    /// The key as a read sees it.
    fn kv(&self, key: &str, mod_revision: u64) -> Kv {
        Kv {
            key: key.to_string(),
            value: self.value.clone(),
            create_revision: self.create_revision,
            mod_revision,
            version: self.version,
            lease: self.lease,
        }
    }
}

/// One change of a key, kept until compaction drops it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Change {
    revision: u64,
    /// `None`: the key was deleted at `revision`.
    rec: Option<Rec>,
}

impl Change {
    /// The key's value after this change, with its modification revision.
    fn live(&self) -> Option<(&Rec, u64)> {
        self.rec.as_ref().map(|r| (r, self.revision))
    }
}

/// Why a read (or a compaction) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The revision asked for was compacted away.
    #[error("mvcc: required revision has been compacted (compact revision {compact_revision})")]
    Compacted {
        /// The revision history starts at.
        compact_revision: u64,
    },
    /// The revision asked for is not there yet.
    #[error("mvcc: required revision is a future revision (current revision {current})")]
    FutureRevision {
        /// The store's current revision.
        current: u64,
    },
}

/// Why a transaction's writes were refused (nothing was changed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// Two writes of one transaction touch the same key.
    #[error("etcdserver: duplicate key given in txn request ({0:?})")]
    DuplicateKey(String),
    /// A put names a lease that does not exist.
    #[error("etcdserver: requested lease not found ({0})")]
    LeaseNotFound(u64),
}

/// The multi-version store of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mvcc {
    revision: u64,
    compact_revision: u64,
    /// Each key's changes, oldest first.
    keys: BTreeMap<String, VecDeque<Change>>,
    /// Granted leases: id and TTL in seconds.
    leases: BTreeMap<u64, u64>,
    /// XOR of [`kv_hash`] over every live key: kept up to date by every change, so that
    /// [`Mvcc::digest`] costs the same for any size of store (members publish it often).
    live: u64,
}

/// The hash of one live key, for the digest. Lengths are hashed too, so that the
/// key/value boundary cannot shift.
fn kv_hash(key: &str, rec: &Rec, mod_revision: u64) -> u64 {
    let mut h = FNV_OFFSET;
    for n in [key.len() as u64, rec.value.len() as u64] {
        h = fnv1a(h, &n.to_le_bytes());
    }
    h = fnv1a(h, key.as_bytes());
    h = fnv1a(h, rec.value.as_bytes());
    for n in [rec.create_revision, mod_revision, rec.version, rec.lease] {
        h = fnv1a(h, &n.to_le_bytes());
    }
    h
}

impl Default for Mvcc {
    fn default() -> Self {
        Mvcc::new()
    }
}

impl Mvcc {
    /// An empty store at revision 1.
    pub fn new() -> Mvcc {
        Mvcc {
            revision: 1,
            compact_revision: 0,
            keys: BTreeMap::new(),
            leases: BTreeMap::new(),
            live: 0,
        }
    }

    /// A digest of the current state (revisions, live keys, leases; not the history
    /// below it), to compare replicas: equal states give equal digests however they got
    /// there.
    pub fn digest(&self) -> u64 {
        let mut h = FNV_OFFSET;
        for n in [self.revision, self.compact_revision, self.live] {
            h = fnv1a(h, &n.to_le_bytes());
        }
        for (id, ttl) in &self.leases {
            h = fnv1a(h, &id.to_le_bytes());
            h = fnv1a(h, &ttl.to_le_bytes());
        }
        h
    }

    /// The current value of `key`, if it exists.
    pub fn get(&self, key: &str) -> Option<Kv> {
        self.last(key).map(|(rec, m)| rec.kv(key, m))
    }

    /// The current value of `key`, with its create and modification revisions, without
    /// building a [`Kv`] (the single-key operations' path).
    pub fn value_of(&self, key: &str) -> Option<(&str, u64, u64)> {
        self.last(key)
            .map(|(r, m)| (r.value.as_str(), r.create_revision, m))
    }

    /// The current incarnation of `key` and its modification revision.
    fn last(&self, key: &str) -> Option<(&Rec, u64)> {
        self.keys.get(key)?.back()?.live()
    }

    /// Records `change` of `key` (a put when it carries a value, else a delete) and
    /// keeps the digest of live keys up to date. Returns the value it replaced.
    fn push_change(&mut self, key: &str, change: Change) -> Option<Kv> {
        self.push_change_with(key, change, true)
    }

    /// [`Mvcc::push_change`]; the value replaced is built only when `keep_prev`.
    fn push_change_with(&mut self, key: &str, change: Change, keep_prev: bool) -> Option<Kv> {
        let changes = match self.keys.get_mut(key) {
            Some(changes) => changes,
            None => self.keys.entry(key.to_string()).or_default(),
        };
        let last = changes.back().and_then(Change::live);
        if let Some((p, m)) = last {
            self.live ^= kv_hash(key, p, m);
        }
        let prev = last.filter(|_| keep_prev).map(|(p, m)| p.kv(key, m));
        if let Some((rec, m)) = change.live() {
            self.live ^= kv_hash(key, rec, m);
        }
        changes.push_back(change);
        prev
    }

    /// A planted bug's lever (the `delete_keeps_revision` canary): forget that the last
    /// transaction made a revision, so the next one makes it again. Never in production.
    pub fn rewind_revision(&mut self) {
        self.revision -= 1;
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The revision history starts at (0: never compacted).
    pub fn compact_revision(&self) -> u64 {
        self.compact_revision
    }

    /// `key` as it stood at `revision`, if it existed then.
    fn at(changes: &VecDeque<Change>, revision: u64) -> Option<(&Rec, u64)> {
        let i = changes.partition_point(|c| c.revision <= revision);
        changes.get(i.checked_sub(1)?)?.live()
    }

    /// The revision a read at `asked` (0: now) is served at, or why it cannot be.
    fn read_revision(&self, asked: u64) -> Result<u64, ReadError> {
        match asked {
            0 => Ok(self.revision),
            r if r > self.revision => Err(ReadError::FutureRevision {
                current: self.revision,
            }),
            r if r < self.compact_revision => Err(ReadError::Compacted {
                compact_revision: self.compact_revision,
            }),
            r => Ok(r),
        }
    }

    /// Reads the keys of a range (module docs) as they stood at `opts.revision`.
    pub fn range(
        &self,
        key: &str,
        range_end: &str,
        opts: &RangeOptions,
    ) -> Result<RangeResult, ReadError> {
        let at = self.read_revision(opts.revision)?;
        Ok(self.read_at(key, range_end, at, opts))
    }

    /// [`Mvcc::range`] at revision `at`, already checked.
    fn read_at(&self, key: &str, range_end: &str, at: u64, opts: &RangeOptions) -> RangeResult {
        let mut out = RangeResult {
            revision: self.revision,
            ..RangeResult::default()
        };
        for (k, changes) in self.keys.range(key.to_string()..) {
            if !in_range(k, key, range_end) {
                break;
            }
            let Some((rec, m)) = Self::at(changes, at) else {
                continue;
            };
            out.count += 1;
            if opts.count_only {
                continue;
            }
            if opts.limit > 0 && out.kvs.len() as u64 >= opts.limit {
                out.more = true;
                continue;
            }
            let mut kv = rec.kv(k, m);
            if opts.keys_only {
                kv.value.clear();
            }
            out.kvs.push(kv);
        }
        out
    }

    /// The keys a range holds now.
    fn live_keys(&self, key: &str, range_end: &str) -> Vec<String> {
        self.keys
            .range(key.to_string()..)
            .take_while(|(k, _)| in_range(k, key, range_end))
            .filter(|(_, changes)| changes.back().is_some_and(|c| c.rec.is_some()))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Applies `writes` as one transaction: one new revision if anything changed (none
    /// if nothing did). Returns the previous value of every key written or deleted, in
    /// order (etcd's `prev_kv`), or refuses the whole transaction.
    pub fn apply(&mut self, writes: &[Write]) -> Result<Vec<Option<Kv>>, TxnError> {
        self.refuse(writes)?;
        let next = self.revision + 1;
        let mut prevs = Vec::new();
        let mut changed = false;
        for w in writes {
            changed |= self.write_at(w, next, &mut prevs);
        }
        if changed {
            self.revision = next;
        }
        Ok(prevs)
    }

    /// Makes `w` at `revision` (not yet the store's), pushing the previous values it
    /// replaced; returns whether it changed anything.
    fn write_at(&mut self, w: &Write, revision: u64, prevs: &mut Vec<Option<Kv>>) -> bool {
        match w {
            Write::Put { key, value, lease } => {
                prevs.push(self.put(key, value, *lease, revision));
                true
            }
            Write::DeleteRange { key, range_end } => {
                let keys = self.live_keys(key, range_end);
                for k in &keys {
                    prevs.push(self.push_change(
                        k,
                        Change {
                            revision,
                            rec: None,
                        },
                    ));
                }
                !keys.is_empty()
            }
        }
    }

    /// Refuses a transaction whose writes touch one key twice (etcd checks the keys a
    /// delete would remove, as it stands before the transaction), or put a key on a lease
    /// that does not exist.
    fn refuse(&self, writes: &[Write]) -> Result<(), TxnError> {
        let mut seen = std::collections::BTreeSet::new();
        for w in writes {
            let keys = match w {
                Write::Put { lease, .. } if *lease != 0 && !self.leases.contains_key(lease) => {
                    return Err(TxnError::LeaseNotFound(*lease));
                }
                Write::Put { key, .. } => vec![key.clone()],
                Write::DeleteRange { key, range_end } => self.live_keys(key, range_end),
            };
            for k in keys {
                if !seen.insert(k.clone()) {
                    return Err(TxnError::DuplicateKey(k));
                }
            }
        }
        Ok(())
    }

    /// A lone put without a lease, the commonest write: what [`Mvcc::apply`] of that one
    /// put does, without a transaction's bookkeeping (refusal checks, previous values).
    pub fn put_lone(&mut self, key: &str, value: &str) {
        let next = self.revision + 1;
        self.put_with(key, value, 0, next, false);
        self.revision = next;
    }

    /// A lone delete of one key: what [`Mvcc::apply`] of that one delete does, without a
    /// transaction's bookkeeping. Returns whether the key existed (and so a revision was
    /// made).
    pub fn delete_lone(&mut self, key: &str) -> bool {
        if self.last(key).is_none() {
            return false;
        }
        let next = self.revision + 1;
        let gone = Change {
            revision: next,
            rec: None,
        };
        self.push_change_with(key, gone, false);
        self.revision = next;
        true
    }

    /// Puts `key` at `revision`; returns its previous value.
    fn put(&mut self, key: &str, value: &str, lease: u64, revision: u64) -> Option<Kv> {
        self.put_with(key, value, lease, revision, true)
    }

    /// [`Mvcc::put`]; the previous value is returned only when `keep_prev`.
    fn put_with(
        &mut self,
        key: &str,
        value: &str,
        lease: u64,
        revision: u64,
        keep_prev: bool,
    ) -> Option<Kv> {
        let (create_revision, version) = match self.last(key) {
            Some((p, _)) => (p.create_revision, p.version + 1),
            None => (revision, 1),
        };
        self.push_change_with(
            key,
            Change {
                revision,
                rec: Some(Rec {
                    value: value.to_string(),
                    create_revision,
                    version,
                    lease,
                }),
            },
            keep_prev,
        )
    }

    /// Drops the history below `revision`: what every key held at `revision` stays
    /// readable, anything older is gone (a key deleted by then is gone entirely). Refuses
    /// a revision already compacted or not reached yet.
    pub fn compact(&mut self, revision: u64) -> Result<(), ReadError> {
        if revision > self.revision {
            return Err(ReadError::FutureRevision {
                current: self.revision,
            });
        }
        if revision <= self.compact_revision {
            return Err(ReadError::Compacted {
                compact_revision: self.compact_revision,
            });
        }
        self.keys.retain(|_, changes| {
            let keep_from = changes.partition_point(|c| c.revision <= revision);
            // The change in force at `revision` stays, unless it is a deletion.
            let start = keep_from.saturating_sub(1);
            // From the front of a deque: the changes kept do not move.
            changes.drain(..start);
            if changes
                .front()
                .is_some_and(|c| c.revision <= revision && c.rec.is_none())
            {
                changes.pop_front();
            }
            !changes.is_empty()
        });
        self.compact_revision = revision;
        Ok(())
    }
}
