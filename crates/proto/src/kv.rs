//! The key-value commands clients send, their results, and their log encoding.

use crate::codec::{DecodeError, Reader, Writer};
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
}

impl Op {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Get { key } | Op::Delete { key } | Op::Cas { key, .. } => key,
        }
    }
    /// Whether the operation may change the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, Op::Get { .. })
    }
    /// A short name: put, get, delete, cas.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::Delete { .. } => "delete",
            Op::Cas { .. } => "cas",
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
