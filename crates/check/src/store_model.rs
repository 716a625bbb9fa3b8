//! The checkers' own model of the whole Store, for histories with multi-key operations:
//! etcd's revisions, key incarnations, ranges, delete-ranges, transactions and
//! compaction, written from etcd's documented rules and sharing no code with the
//! member's store. It keeps every revision (the checker never compacts its own history),
//! so it can answer a read as it stood at any revision.

use proto::kv::{Compare as CasCompare, Op, OpResult};
use proto::store::{
    in_range, Compare, Kv, RangeOptions, RangeResult, StoreError, Target, TxnOp, TxnResult, Write,
};
use std::collections::BTreeMap;

/// The revision a new store starts at (etcd's).
pub const START_REVISION: u64 = 1;

/// The store's documented auto-compaction: once its revision is twice this far ahead of
/// its compact revision, it compacts to this far behind, after the command that
/// got it there (etcd's revision-mode auto-compaction, retention 32).
pub const HISTORY_RETENTION: u64 = 32;

/// The whole store, with all its history.
#[derive(Clone, Debug)]
pub struct StoreModel {
    revision: u64,
    compact: u64,
    /// Key → (revision, value then: `None` deleted), oldest first.
    keys: BTreeMap<String, Vec<(u64, Option<Kv>)>>,
}

impl Default for StoreModel {
    fn default() -> Self {
        StoreModel {
            revision: START_REVISION,
            compact: 0,
            keys: BTreeMap::new(),
        }
    }
}

impl StoreModel {
    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The compact revision (0: never compacted).
    pub fn compact_revision(&self) -> u64 {
        self.compact
    }

    /// `key` as it stood at `revision`.
    pub fn at(&self, key: &str, revision: u64) -> Option<&Kv> {
        let changes = self.keys.get(key)?;
        let i = changes.partition_point(|(r, _)| *r <= revision);
        changes[..i].last().and_then(|(_, kv)| kv.as_ref())
    }

    /// The revisions at which `key` changed, ascending.
    pub fn changes_of(&self, key: &str) -> Vec<u64> {
        self.keys
            .get(key)
            .map_or(Vec::new(), |c| c.iter().map(|(r, _)| *r).collect())
    }

    /// A range read at `at`, answered with header revision `header`.
    pub fn range_at(
        &self,
        key: &str,
        range_end: &str,
        opts: &RangeOptions,
        at: u64,
        header: u64,
    ) -> RangeResult {
        let mut out = RangeResult {
            revision: header,
            ..RangeResult::default()
        };
        let from = self.keys.range(key.to_string()..);
        for (k, _) in from.take_while(|(k, _)| in_range(k, key, range_end)) {
            let Some(kv) = self.at(k, at) else { continue };
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
                kv.value = String::new();
            }
            out.kvs.push(kv);
        }
        out
    }

    /// What a read (get or range) answers when the store stands at `header`.
    pub fn read_at(&self, op: &Op, header: u64) -> Option<OpResult> {
        Some(match op {
            Op::Get { key } => {
                let kv = self.at(key, header);
                OpResult::Get {
                    value: kv.map(|kv| kv.value.clone()),
                    mod_revision: kv.map_or(0, |kv| kv.mod_revision),
                }
            }
            Op::Range {
                key,
                range_end,
                options,
            } => {
                let asked = options.revision;
                if asked > header {
                    return Some(OpResult::Refused(StoreError::FutureRevision {
                        current: header,
                    }));
                }
                let at = if asked == 0 { header } else { asked };
                OpResult::Range(Box::new(self.range_at(key, range_end, options, at, header)))
            }
            _ => return None,
        })
    }

    fn current(&self, key: &str) -> Option<&Kv> {
        self.at(key, self.revision)
    }

    /// Applies an operation that went through the log; returns its answer.
    pub fn apply(&mut self, op: &Op) -> OpResult {
        let answer = self.execute(op);
        if self.revision >= self.compact + 2 * HISTORY_RETENTION {
            self.compact = self.revision - HISTORY_RETENTION;
        }
        answer
    }

    fn execute(&mut self, op: &Op) -> OpResult {
        if let Some(read) = self.read_at(op, self.revision) {
            return read;
        }
        match op {
            Op::Put { key, value } => {
                self.commit(&[put(key, value)]);
                OpResult::Put {
                    revision: self.revision,
                }
            }
            Op::Delete { key } => {
                let changed = self.commit(&[delete(key, "")]);
                OpResult::Delete {
                    deleted: !changed.is_empty(),
                    revision: self.revision,
                }
            }
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
                let prevs = self.commit(&[delete(key, range_end)]);
                OpResult::DeleteRange {
                    deleted: prevs.len() as u64,
                    prev_kvs: if *prev_kv { prevs } else { Vec::new() },
                    revision: self.revision,
                }
            }
            Op::Txn {
                compares,
                success,
                failure,
            } => self.txn(compares, success, failure),
            Op::Compact { revision } => {
                let r = *revision;
                if r > self.revision {
                    return OpResult::Refused(StoreError::FutureRevision {
                        current: self.revision,
                    });
                }
                if r <= self.compact {
                    return OpResult::Refused(StoreError::Compacted {
                        compact_revision: self.compact,
                    });
                }
                self.compact = r;
                OpResult::Compact {
                    compact_revision: r,
                    revision: self.revision,
                }
            }
            Op::Get { .. } | Op::Range { .. } => unreachable!("reads are answered above"),
        }
    }

    fn cas(&mut self, key: &str, compare: &CasCompare, value: &str) -> OpResult {
        let kv = self.current(key);
        let holds = match compare {
            CasCompare::Value(v) => kv.map(|kv| &kv.value) == v.as_ref(),
            CasCompare::ModRevision(r) => kv.map_or(0, |kv| kv.mod_revision) == *r,
        };
        if holds {
            self.commit(&[put(key, value)]);
        }
        OpResult::Cas {
            succeeded: holds,
            revision: self.revision,
        }
    }

    fn holds(&self, c: &Compare) -> bool {
        let kv = self.current(&c.key);
        let n = |f: fn(&Kv) -> u64| kv.map_or(0, f);
        match &c.target {
            Target::Version(v) => c.op.holds(n(|k| k.version), *v),
            Target::Create(v) => c.op.holds(n(|k| k.create_revision), *v),
            Target::Mod(v) => c.op.holds(n(|k| k.mod_revision), *v),
            Target::Lease(v) => c.op.holds(n(|k| k.lease), *v),
            Target::Value(v) => c.op.holds(kv.map_or("", |k| &k.value), v.as_str()),
        }
    }

    /// etcd's transaction: compares, then one branch in order, all its writes at one
    /// revision; a branch that writes one key twice is refused whole.
    fn txn(&mut self, compares: &[Compare], success: &[TxnOp], failure: &[TxnOp]) -> OpResult {
        let succeeded = compares.iter().all(|c| self.holds(c));
        let branch = if succeeded { success } else { failure };
        let mut written = std::collections::BTreeSet::new();
        for op in branch {
            let keys = match op {
                TxnOp::Write(Write::Put { key, .. }) => vec![key.clone()],
                TxnOp::Write(Write::DeleteRange { key, range_end }) => {
                    self.live(key, range_end, self.revision)
                }
                TxnOp::Range { .. } => continue,
            };
            for k in keys {
                if !written.insert(k.clone()) {
                    return OpResult::Refused(StoreError::DuplicateKey(k));
                }
            }
        }
        let next = self.revision + 1;
        let (mut reads, mut prevs, mut changed) = (Vec::new(), Vec::new(), false);
        for op in branch {
            match op {
                TxnOp::Write(w) => {
                    let before = prevs.len();
                    self.write(w, next, &mut prevs);
                    changed |= prevs.len() > before;
                }
                TxnOp::Range { key, range_end } => {
                    let at = if changed { next } else { self.revision };
                    let opts = RangeOptions::default();
                    reads.push(self.range_at(key, range_end, &opts, at, self.revision));
                }
            }
        }
        if changed {
            self.revision = next;
        }
        OpResult::Txn(Box::new(TxnResult {
            succeeded,
            reads,
            prevs,
            revision: self.revision,
        }))
    }

    /// The keys of a range that exist at `revision`.
    fn live(&self, key: &str, range_end: &str, revision: u64) -> Vec<String> {
        self.keys
            .range(key.to_string()..)
            .take_while(|(k, _)| in_range(k, key, range_end))
            .filter(|(k, _)| self.at(k, revision).is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Makes `w` at revision `at`, pushing one previous value per key it changed.
    fn write(&mut self, w: &Write, at: u64, prevs: &mut Vec<Option<Kv>>) {
        match w {
            Write::Put { key, value, lease } => {
                let prev = self.at(key, at).cloned();
                let (create_revision, version) = prev
                    .as_ref()
                    .map_or((at, 1), |p| (p.create_revision, p.version + 1));
                let kv = Kv {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision,
                    mod_revision: at,
                    version,
                    lease: *lease,
                };
                self.keys
                    .entry(key.clone())
                    .or_default()
                    .push((at, Some(kv)));
                prevs.push(prev);
            }
            Write::DeleteRange { key, range_end } => {
                for k in self.live(key, range_end, at) {
                    prevs.push(self.at(&k, at).cloned());
                    self.keys.entry(k).or_default().push((at, None));
                }
            }
        }
    }

    /// Commits lone writes as one revision; returns the previous values they replaced.
    fn commit(&mut self, writes: &[Write]) -> Vec<Kv> {
        let next = self.revision + 1;
        let mut prevs = Vec::new();
        for w in writes {
            self.write(w, next, &mut prevs);
        }
        if !prevs.is_empty() {
            self.revision = next;
        }
        prevs.into_iter().flatten().collect()
    }
}

fn put(key: &str, value: &str) -> Write {
    Write::Put {
        key: key.to_string(),
        value: value.to_string(),
        lease: 0,
    }
}

fn delete(key: &str, range_end: &str) -> Write {
    Write::DeleteRange {
        key: key.to_string(),
        range_end: range_end.to_string(),
    }
}
