//! The shapes of the Store's multi-key requests and answers (etcd's `RangeRequest`,
//! `DeleteRangeRequest`, `TxnRequest` and their responses, in small), shared by the store
//! that executes them, the clients that send them and the checkers that judge them, with
//! their fixed binary encoding for log entries and snapshots.
//!
//! Ranges follow etcd's conventions: an empty `range_end` names one key, `"\0"` every key
//! from `key` on, anything else the half-open `[key, range_end)` ([`in_range`]).

pub mod codec;

use serde::{Deserialize, Serialize};

/// One key as a read sees it (etcd's `mvccpb.KeyValue`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// How a range read is asked (etcd's `RangeRequest` fields besides the keys).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// A write inside one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum Write {
    /// Set a key, attached to `lease` (0: none).
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// The lease (0: none).
        #[serde(default)]
        lease: u64,
    },
    /// Delete the keys of a range.
    DeleteRange {
        /// The first key.
        key: String,
        /// The end of the range.
        #[serde(default)]
        range_end: String,
    },
}

/// What a transaction's compare looks at (etcd's `Compare.target`), with the value to
/// compare the key's side with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The key's version (0 if absent).
    Version(u64),
    /// Its create revision (0 if absent).
    Create(u64),
    /// Its modification revision (0 if absent).
    Mod(u64),
    /// Its value (empty if absent).
    Value(String),
    /// Its lease (0 if absent or none).
    Lease(u64),
}

/// How a compare compares (etcd's `Compare.result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    /// Equal.
    Equal,
    /// Not equal.
    NotEqual,
    /// The key's side is greater.
    Greater,
    /// The key's side is less.
    Less,
}

impl CompareOp {
    /// Whether `ours` (the key's side) compares with `theirs` this way.
    pub fn holds<T: Ord>(self, ours: T, theirs: T) -> bool {
        match self {
            CompareOp::Equal => ours == theirs,
            CompareOp::NotEqual => ours != theirs,
            CompareOp::Greater => ours > theirs,
            CompareOp::Less => ours < theirs,
        }
    }
}

/// One condition of a transaction, on one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Compare {
    /// The key.
    pub key: String,
    /// What of it, and the value to compare with.
    pub target: Target,
    /// How.
    pub op: CompareOp,
}

/// One operation of a transaction's branch.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnOp {
    /// A read of a range, at the transaction's revision (no past revisions in a txn).
    Range {
        /// The first key.
        key: String,
        /// The end of the range.
        #[serde(default)]
        range_end: String,
    },
    /// A write.
    Write(Write),
}

impl TxnOp {
    /// The first key it names.
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Range { key, .. }
            | TxnOp::Write(Write::Put { key, .. })
            | TxnOp::Write(Write::DeleteRange { key, .. }) => key,
        }
    }
}

/// What a transaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxnResult {
    /// Whether every compare held (the success branch ran).
    pub succeeded: bool,
    /// The branch's reads, in order (each sees the branch's writes before it).
    pub reads: Vec<RangeResult>,
    /// The previous values of the keys its writes changed, in order.
    pub prevs: Vec<Option<Kv>>,
    /// The store revision after it.
    pub revision: u64,
}

/// Why the store refused a request; a refused request changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreError {
    /// The revision asked for was compacted away.
    Compacted {
        /// The revision history starts at.
        compact_revision: u64,
    },
    /// The revision asked for is not there yet.
    FutureRevision {
        /// The store's current revision.
        current: u64,
    },
    /// Two writes of one transaction touch the same key.
    DuplicateKey(String),
    /// A put names a lease that does not exist.
    LeaseNotFound(u64),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // etcd's own messages, so that a user recognises them.
        match self {
            StoreError::Compacted { compact_revision } => write!(
                f,
                "mvcc: required revision has been compacted (compact revision {compact_revision})"
            ),
            StoreError::FutureRevision { current } => write!(
                f,
                "mvcc: required revision is a future revision (current revision {current})"
            ),
            StoreError::DuplicateKey(k) => {
                write!(f, "etcdserver: duplicate key given in txn request ({k:?})")
            }
            StoreError::LeaseNotFound(id) => {
                write!(f, "etcdserver: requested lease not found ({id})")
            }
        }
    }
}

/// Whether `k` lies in the range `key`..`range_end` (module docs).
pub fn in_range(k: &str, key: &str, range_end: &str) -> bool {
    match range_end {
        "" => k == key,
        "\0" => k >= key,
        end => k >= key && k < end,
    }
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
