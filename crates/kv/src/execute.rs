//! What each operation does to the store, and what it answers.

use crate::mvcc::{ReadError, TxnError, Write};
use crate::Store;
use proto::kv::{Compare, Op, OpResult};
use proto::store::StoreError;

impl From<ReadError> for StoreError {
    fn from(e: ReadError) -> StoreError {
        match e {
            ReadError::Compacted { compact_revision } => StoreError::Compacted { compact_revision },
            ReadError::FutureRevision { current } => StoreError::FutureRevision { current },
        }
    }
}

impl From<TxnError> for StoreError {
    fn from(e: TxnError) -> StoreError {
        match e {
            TxnError::DuplicateKey(k) => StoreError::DuplicateKey(k),
            TxnError::LeaseNotFound(id) => StoreError::LeaseNotFound(id),
        }
    }
}

impl Store {
    /// Serves a read (a get or a range) from the current state; `None` for an operation
    /// that is not a read (those go through the log, [`Store::apply`]).
    pub fn read(&self, op: &Op) -> Option<OpResult> {
        match op {
            Op::Get { key } => {
                let (value, mod_revision) = self.get(key);
                Some(OpResult::Get {
                    value,
                    mod_revision,
                })
            }
            Op::Range {
                key,
                range_end,
                options,
            } => Some(match self.mvcc.range(key, range_end, options) {
                Ok(r) => OpResult::Range(Box::new(r)),
                Err(e) => OpResult::Refused(e.into()),
            }),
            _ => None,
        }
    }

    pub(crate) fn execute(&mut self, op: &Op) -> OpResult {
        match op {
            Op::Put { key, value } => {
                self.put(key, value);
                OpResult::Put {
                    revision: self.revision(),
                }
            }
            Op::Delete { key } => self.delete(key),
            Op::Cas {
                key,
                compare,
                value,
            } => self.cas(key, compare, value),
            Op::DeleteRange {
                key,
                range_end,
                prev_kv,
            } => {
                let del = Write::DeleteRange {
                    key: key.clone(),
                    range_end: range_end.clone(),
                };
                let prevs = self
                    .mvcc
                    .apply(&[del])
                    .expect("a lone delete is never refused");
                let prev_kvs: Vec<_> = prevs.into_iter().flatten().collect();
                OpResult::DeleteRange {
                    deleted: prev_kvs.len() as u64,
                    prev_kvs: if *prev_kv { prev_kvs } else { Vec::new() },
                    revision: self.revision(),
                }
            }
            Op::Txn {
                compares,
                success,
                failure,
            } => match self.mvcc.txn(compares, success, failure) {
                Ok(r) => OpResult::Txn(Box::new(r)),
                Err(e) => OpResult::Refused(e.into()),
            },
            Op::Compact { revision } => match self.mvcc.compact(*revision) {
                Ok(()) => OpResult::Compact {
                    compact_revision: *revision,
                    revision: self.revision(),
                },
                Err(e) => OpResult::Refused(e.into()),
            },
            // A read that reaches the log (members serve reads through ReadIndex, but the
            // log accepts any command) is answered and changes nothing.
            Op::Get { .. } | Op::Range { .. } => self.read(op).expect("a get or a range is a read"),
        }
    }

    fn put(&mut self, key: &str, value: &str) {
        self.mvcc.put_lone(key, value);
    }

    fn delete(&mut self, key: &str) -> OpResult {
        let deleted = self.mvcc.delete_lone(key);
        if deleted && self.canaries.delete_keeps_revision {
            self.mvcc.rewind_revision();
        }
        if !deleted {
            marks::mark!("kv.delete.missing");
        }
        OpResult::Delete {
            deleted,
            revision: self.revision(),
        }
    }

    fn cas(&mut self, key: &str, compare: &Compare, value: &str) -> OpResult {
        let current = self.mvcc.value_of(key);
        let holds = match compare {
            Compare::Value(None) if self.canaries.create_ignores_existing => true,
            Compare::Value(expected) => current.map(|(v, ..)| v) == expected.as_deref(),
            Compare::ModRevision(r) if self.canaries.cas_compares_create_revision => {
                current.map_or(0, |(_, create, _)| create) == *r
            }
            Compare::ModRevision(r) => current.map_or(0, |(.., m)| m) == *r,
        };
        if holds {
            self.put(key, value);
        } else {
            marks::mark!("kv.cas.failed");
        }
        OpResult::Cas {
            succeeded: holds,
            revision: self.revision(),
        }
    }
}
