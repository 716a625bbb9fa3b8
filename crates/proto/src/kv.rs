//! The key-value commands clients send, their results, and their log encoding.

use crate::codec::{DecodeError, Reader, Writer};
use crate::store::codec::Binary;
use crate::store::{
    Compare as TxnCompare, Kv, RangeOptions, RangeResult, StoreError, TxnOp, TxnResult,
};
use crate::NodeId;
use serde::{Deserialize, Serialize};

/// What a compare-and-swap compares.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The key's current value equals this (`None`: the key is absent).
    Value(Option<String>),
    /// The key's modification revision equals this (0: the key is absent).
    ModRevision(u64),
}

/// A client operation on the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Read `key` (linearizable: served through ReadIndex).
    Get {
        /// The key.
        key: String,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: String,
    },
    /// Set `key` to `value` if the comparison holds.
    Cas {
        /// The key.
        key: String,
        /// The condition.
        compare: Compare,
        /// The value written when the condition holds.
        value: String,
    },
    /// Read the keys of a range (linearizable: served through ReadIndex), etcd's `Range`.
    Range {
        /// The first key.
        key: String,
        /// The end of the range ([`crate::store`] conventions).
        #[serde(default)]
        range_end: String,
        /// Revision, limit and what to return.
        #[serde(default)]
        options: RangeOptions,
    },
    /// Delete the keys of a range, etcd's `DeleteRange`.
    DeleteRange {
        /// The first key.
        key: String,
        /// The end of the range.
        #[serde(default)]
        range_end: String,
        /// Return the deleted keys' previous values.
        #[serde(default)]
        prev_kv: bool,
    },
    /// etcd's `Txn`: if every compare holds run `success`, else `failure`, as one
    /// revision.
    Txn {
        /// The conditions.
        #[serde(default)]
        compares: Vec<TxnCompare>,
        /// What runs when they all hold.
        #[serde(default)]
        success: Vec<TxnOp>,
        /// What runs otherwise.
        #[serde(default)]
        failure: Vec<TxnOp>,
    },
    /// Drop the history below `revision` (through the log, so every member compacts at
    /// the same point).
    Compact {
        /// The new compact revision.
        revision: u64,
    },
}

impl Op {
    /// The key the operation touches.
    ///
    /// For a range or a delete-range, its first key; for a transaction, the first key it
    /// names; for a compaction, none (empty).
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. }
            | Op::Get { key }
            | Op::Delete { key }
            | Op::Cas { key, .. }
            | Op::Range { key, .. }
            | Op::DeleteRange { key, .. } => key,
            Op::Txn {
                compares,
                success,
                failure,
            } => compares
                .first()
                .map(|c| c.key.as_str())
                .or_else(|| success.iter().chain(failure).next().map(TxnOp::key))
                .unwrap_or(""),
            Op::Compact { .. } => "",
        }
    }
    /// Whether the operation reads or writes one key only (put, get, delete, cas): what
    /// a key-by-key check can judge.
    pub fn is_single_key(&self) -> bool {
        matches!(
            self,
            Op::Put { .. } | Op::Get { .. } | Op::Delete { .. } | Op::Cas { .. }
        )
    }
    /// Whether the operation goes through the log (it may change the store); reads are
    /// served through ReadIndex.
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Get { .. } | Op::Range { .. })
    }
    /// A short name: put, get, delete, cas.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::Delete { .. } => "delete",
            Op::Cas { .. } => "cas",
            Op::Range { .. } => "range",
            Op::DeleteRange { .. } => "delete-range",
            Op::Txn { .. } => "txn",
            Op::Compact { .. } => "compact",
        }
    }
}

/// The result of an operation that was applied (or, for a get, served).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpResult {
    /// A put was applied at `revision`.
    Put {
        /// The store revision the write created.
        revision: u64,
    },
    /// A get saw `value` (None: absent).
    Get {
        /// The value read.
        value: Option<String>,
        /// The key's modification revision (0 when absent).
        mod_revision: u64,
    },
    /// A delete was applied; `deleted` tells whether the key existed.
    Delete {
        /// Whether the key existed.
        deleted: bool,
        /// The store revision after the delete.
        revision: u64,
    },
    /// A compare-and-swap was evaluated.
    Cas {
        /// Whether the comparison held and the value was written.
        succeeded: bool,
        /// The store revision after the operation.
        revision: u64,
    },
    /// A range was read (boxed, like the other multi-key answers: every client response
    /// carries an `OpResult`, so it stays as small as a get's).
    Range(Box<RangeResult>),
    /// A delete-range was applied.
    DeleteRange {
        /// How many keys it deleted.
        deleted: u64,
        /// Their previous values, when asked for.
        prev_kvs: Vec<Kv>,
        /// The store revision after it.
        revision: u64,
    },
    /// A transaction ran.
    Txn(Box<TxnResult>),
    /// The history below `compact_revision` was dropped.
    Compact {
        /// The new compact revision.
        compact_revision: u64,
        /// The store revision (a compaction does not change it).
        revision: u64,
    },
    /// The store refused the request; it changed nothing.
    Refused(StoreError),
}

impl std::fmt::Display for OpResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpResult::Put { revision } => write!(f, "put at revision {revision}"),
            OpResult::Get {
                value: Some(v),
                mod_revision,
            } => write!(f, "read {v:?} (modified at revision {mod_revision})"),
            OpResult::Get { value: None, .. } => write!(f, "read: absent"),
            OpResult::Delete { deleted, revision } => {
                let what = if *deleted {
                    "deleted"
                } else {
                    "nothing to delete"
                };
                write!(f, "{what} at revision {revision}")
            }
            OpResult::Cas {
                succeeded,
                revision,
            } => {
                let what = if *succeeded {
                    "swapped"
                } else {
                    "compare failed"
                };
                write!(f, "compare-and-swap {what} at revision {revision}")
            }
            OpResult::Range(r) => {
                let keys: Vec<&str> = r.kvs.iter().map(|kv| kv.key.as_str()).collect();
                let more = if r.more { ", more" } else { "" };
                write!(
                    f,
                    "read {} key(s) {keys:?}{more} at revision {}",
                    r.count, r.revision
                )
            }
            OpResult::DeleteRange {
                deleted, revision, ..
            } => write!(f, "deleted {deleted} key(s) at revision {revision}"),
            OpResult::Txn(t) => {
                let branch = if t.succeeded { "success" } else { "failure" };
                write!(f, "txn ran its {branch} branch at revision {}", t.revision)
            }
            OpResult::Compact {
                compact_revision, ..
            } => write!(f, "compacted up to revision {compact_revision}"),
            OpResult::Refused(e) => write!(f, "refused: {e}"),
        }
    }
}

/// A command as stored in the replicated log: the operation plus the client session
/// fields that make retries exactly-once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Command {
    /// The client's session id.
    pub client_id: u64,
    /// The client's sequence number; a retry reuses it.
    pub seq: u64,
    /// The operation.
    pub op: Op,
}

impl Command {
    /// Encodes the command for a log entry.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        w.u64(self.client_id);
        w.u64(self.seq);
        match &self.op {
            Op::Put { key, value } => {
                w.u8(1);
                w.str(key);
                w.str(value);
            }
            Op::Get { key } => {
                w.u8(2);
                w.str(key);
            }
            Op::Delete { key } => {
                w.u8(3);
                w.str(key);
            }
            Op::Cas {
                key,
                compare,
                value,
            } => {
                w.u8(4);
                w.str(key);
                match compare {
                    Compare::Value(v) => {
                        w.u8(1);
                        w.opt_str(v.as_deref());
                    }
                    Compare::ModRevision(r) => {
                        w.u8(2);
                        w.u64(*r);
                    }
                }
                w.str(value);
            }
            Op::Range {
                key,
                range_end,
                options,
            } => {
                w.u8(5);
                w.str(key);
                w.str(range_end);
                options.put(&mut w);
            }
            Op::DeleteRange {
                key,
                range_end,
                prev_kv,
            } => {
                w.u8(6);
                w.str(key);
                w.str(range_end);
                prev_kv.put(&mut w);
            }
            Op::Txn {
                compares,
                success,
                failure,
            } => {
                w.u8(7);
                compares.put(&mut w);
                success.put(&mut w);
                failure.put(&mut w);
            }
            Op::Compact { revision } => {
                w.u8(8);
                w.u64(*revision);
            }
        }
        w.bytes
    }

    /// Decodes a command, validating every field.
    pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
        let mut r = Reader::new(bytes);
        let client_id = r.u64("client id")?;
        let seq = r.u64("sequence number")?;
        let op = match r.u8("operation tag")? {
            1 => Op::Put {
                key: r.str("key")?,
                value: r.str("value")?,
            },
            2 => Op::Get { key: r.str("key")? },
            3 => Op::Delete { key: r.str("key")? },
            4 => {
                let key = r.str("key")?;
                let compare = match r.u8("compare tag")? {
                    1 => Compare::Value(r.opt_str("compare value")?),
                    2 => Compare::ModRevision(r.u64("compare revision")?),
                    _ => return Err(r.error("compare tag")),
                };
                Op::Cas {
                    key,
                    compare,
                    value: r.str("value")?,
                }
            }
            5 => Op::Range {
                key: r.str("key")?,
                range_end: r.str("range end")?,
                options: RangeOptions::take(&mut r)?,
            },
            6 => Op::DeleteRange {
                key: r.str("key")?,
                range_end: r.str("range end")?,
                prev_kv: bool::take(&mut r)?,
            },
            7 => Op::Txn {
                compares: Vec::take(&mut r)?,
                success: Vec::take(&mut r)?,
                failure: Vec::take(&mut r)?,
            },
            8 => Op::Compact {
                revision: r.u64("compact revision")?,
            },
            _ => return Err(r.error("operation tag")),
        };
        r.finish("end of command")?;
        Ok(Command { client_id, seq, op })
    }
}

/// Why a request was not served.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientError {
    /// This member is not the leader; `leader` is its best guess ([`crate::NO_NODE`] if none).
    /// The request was certainly not applied through this member.
    NotLeader {
        /// The member believed to lead.
        leader: NodeId,
    },
    /// The member lost leadership or restarted while the request was in flight: it may or
    /// may not be applied. Retry with the same sequence number.
    Unknown,
    /// The leader cannot serve the request now (no commit in its term yet, too many
    /// pending entries, a leadership transfer). It was certainly not applied; retry.
    Unavailable,
}

/// A client request on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientRequest {
    /// The command (session fields and operation).
    pub command: Command,
    /// Which attempt of the command this is (a retry reuses the sequence number, not the
    /// attempt): an error answer speaks only of the attempt it echoes.
    pub attempt: u32,
}

/// A member's answer to a [`ClientRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientResponse {
    /// Echoes the request's client id.
    pub client_id: u64,
    /// Echoes the request's sequence number.
    pub seq: u64,
    /// Echoes the request's attempt number.
    pub attempt: u32,
    /// The result, or why there is none.
    pub result: Result<OpResult, ClientError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_reject_trailing_bytes() {
        let ops = [
            Op::Put {
                key: "k".into(),
                value: "v".into(),
            },
            Op::Get { key: "k".into() },
            Op::Delete { key: "k".into() },
            Op::Cas {
                key: "k".into(),
                compare: Compare::Value(None),
                value: "w".into(),
            },
            Op::Cas {
                key: "k".into(),
                compare: Compare::ModRevision(9),
                value: "w".into(),
            },
            Op::Range {
                key: "a".into(),
                range_end: "\0".into(),
                options: RangeOptions {
                    revision: 4,
                    limit: 2,
                    count_only: false,
                    keys_only: true,
                },
            },
            Op::DeleteRange {
                key: "a".into(),
                range_end: "b".into(),
                prev_kv: true,
            },
            Op::Txn {
                compares: vec![
                    TxnCompare {
                        key: "a".into(),
                        target: crate::store::Target::Value("x".into()),
                        op: crate::store::CompareOp::NotEqual,
                    },
                    TxnCompare {
                        key: "b".into(),
                        target: crate::store::Target::Mod(7),
                        op: crate::store::CompareOp::Less,
                    },
                ],
                success: vec![
                    TxnOp::Write(crate::store::Write::Put {
                        key: "a".into(),
                        value: "y".into(),
                        lease: 3,
                    }),
                    TxnOp::Range {
                        key: "a".into(),
                        range_end: String::new(),
                    },
                ],
                failure: vec![TxnOp::Write(crate::store::Write::DeleteRange {
                    key: "c".into(),
                    range_end: "d".into(),
                })],
            },
            Op::Compact { revision: 12 },
        ];
        for op in ops {
            let c = Command {
                client_id: 3,
                seq: 4,
                op,
            };
            let mut bytes = c.encode();
            assert_eq!(Command::decode(&bytes).unwrap(), c);
            bytes.push(0);
            assert!(Command::decode(&bytes).is_err());
        }
    }
}

#[cfg(test)]
mod sizes {
    /// Every client response and history entry carries an `OpResult`, and every request
    /// an `Op`: the multi-key answers are boxed so that adding them did not make every
    /// message larger (the simulator moves millions of them).
    #[test]
    fn answers_stay_as_small_as_a_gets() {
        assert!(std::mem::size_of::<super::OpResult>() <= 40);
        assert!(std::mem::size_of::<super::Op>() <= 80);
    }
}
