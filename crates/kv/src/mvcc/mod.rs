//! A multi-version key index with etcd's semantics: the first step of the Store (ranges,
//! transactions, reads at a past revision, compaction). Not yet wired into the member,
//! whose commands still go through [`crate::Store`]; it is built and tested on its own so
//! that the member, the snapshot and the checkers can move onto it one at a time.
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
pub use txn::{Compare, CompareOp, Target, TxnOp, TxnResult};

use std::collections::BTreeMap;

/// One key as a read sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kv {
    /// The key.
    pub key: String,
    /// Its value (empty with `keys_only`).
    pub value: String,
    /// The revision that created this incarnation of the key.
    pub create_revision: u64,
    /// The revision of its last change.
    pub mod_revision: u64,
    /// Puts since it was created (1 after the first).
    pub version: u64,
    /// The lease it is attached to (0: none).
    pub lease: u64,
}

/// One change of a key, kept until compaction drops it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Change {
    revision: u64,
    /// `None`: the key was deleted at `revision`.
    kv: Option<Kv>,
}

/// How a range read is asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeOptions {
    /// Read at this revision (0: the current one).
    pub revision: u64,
    /// Return at most this many keys (0: no limit); `count` still counts them all.
    pub limit: u64,
    /// Return the count only, no keys.
    pub count_only: bool,
    /// Return keys without their values.
    pub keys_only: bool,
}

/// What a range read answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResult {
    /// The keys, in order.
    pub kvs: Vec<Kv>,
    /// How many keys the range holds (regardless of `limit`).
    pub count: u64,
    /// Whether `limit` left keys out.
    pub more: bool,
    /// The store revision the read was served at: the current one (etcd's header), even
    /// for a read at a past revision.
    pub revision: u64,
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

/// A write inside one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Set a key, attached to `lease` (0: none).
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// The lease (0: none).
        lease: u64,
    },
    /// Delete the keys of a range (see the module docs for `range_end`).
    DeleteRange {
        /// The first key.
        key: String,
        /// The end of the range.
        range_end: String,
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

/// The end of the range of keys that start with `prefix` (etcd's `GetPrefixRangeEnd`):
/// the prefix with its last character that can be raised, raised; `"\0"` (every key) for
/// an empty prefix or one whose characters are all the largest.
pub fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    "\0".to_string()
}

/// Whether `k` lies in the range `key`..`range_end` (module docs).
fn in_range(k: &str, key: &str, range_end: &str) -> bool {
    match range_end {
        "" => k == key,
        "\0" => k >= key,
        end => k >= key && k < end,
    }
}

/// The multi-version store of keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mvcc {
    revision: u64,
    compact_revision: u64,
    /// Each key's changes, oldest first.
    keys: BTreeMap<String, Vec<Change>>,
    /// Granted leases: id and TTL in seconds.
    leases: BTreeMap<u64, u64>,
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
        }
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
    fn at(changes: &[Change], revision: u64) -> Option<&Kv> {
        let i = changes.partition_point(|c| c.revision <= revision);
        changes[..i].last().and_then(|c| c.kv.as_ref())
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
            let Some(kv) = Self::at(changes, at) else {
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
            let mut kv = kv.clone();
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
            .filter(|(_, changes)| changes.last().is_some_and(|c| c.kv.is_some()))
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
                    let changes = self.keys.get_mut(k).expect("a live key has changes");
                    prevs.push(changes.last().and_then(|c| c.kv.clone()));
                    changes.push(Change { revision, kv: None });
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

    /// Puts `key` at `revision`; returns its previous value.
    fn put(&mut self, key: &str, value: &str, lease: u64, revision: u64) -> Option<Kv> {
        let changes = self.keys.entry(key.to_string()).or_default();
        let prev = changes.last().and_then(|c| c.kv.clone());
        let (create_revision, version) = match &prev {
            Some(p) => (p.create_revision, p.version + 1),
            None => (revision, 1),
        };
        changes.push(Change {
            revision,
            kv: Some(Kv {
                key: key.to_string(),
                value: value.to_string(),
                create_revision,
                mod_revision: revision,
                version,
                lease,
            }),
        });
        prev
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
            changes.drain(..start);
            if changes
                .first()
                .is_some_and(|c| c.revision <= revision && c.kv.is_none())
            {
                changes.remove(0);
            }
            !changes.is_empty()
        });
        self.compact_revision = revision;
        Ok(())
    }
}
