//! Transactions: etcd's compares, then one branch run in order as one revision.

use super::{Kv, Mvcc, RangeOptions, RangeResult, TxnError, Write};

/// What a transaction's compare looks at (etcd's `Compare.target`).
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// One condition of a transaction, on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compare {
    /// The key.
    pub key: String,
    /// What of it, and the value to compare with.
    pub target: Target,
    /// How.
    pub op: CompareOp,
}

fn holds<T: Ord>(ours: T, theirs: T, op: CompareOp) -> bool {
    match op {
        CompareOp::Equal => ours == theirs,
        CompareOp::NotEqual => ours != theirs,
        CompareOp::Greater => ours > theirs,
        CompareOp::Less => ours < theirs,
    }
}

/// One operation of a transaction's branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    /// A read of a range, at the transaction's revision (no past revisions in a txn).
    Range {
        /// The first key.
        key: String,
        /// The end of the range.
        range_end: String,
    },
    /// A write.
    Write(Write),
}

/// What a transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl Mvcc {
    /// Whether `c` holds now. An absent key compares as version, create and modification
    /// revision 0, lease 0 and an empty value, as in etcd.
    pub fn compare(&self, c: &Compare) -> bool {
        let kv = self
            .keys
            .get(&c.key)
            .and_then(|changes| changes.last())
            .and_then(|ch| ch.kv.as_ref());
        let num = |f: fn(&Kv) -> u64| kv.map_or(0, f);
        match &c.target {
            Target::Version(v) => holds(num(|k| k.version), *v, c.op),
            Target::Create(v) => holds(num(|k| k.create_revision), *v, c.op),
            Target::Mod(v) => holds(num(|k| k.mod_revision), *v, c.op),
            Target::Lease(v) => holds(num(|k| k.lease), *v, c.op),
            Target::Value(v) => holds(kv.map_or("", |k| k.value.as_str()), v.as_str(), c.op),
        }
    }

    /// Runs a transaction: `success` if every compare holds, else `failure`. Its
    /// operations run in order, as in etcd: a read sees the writes before it in the same
    /// transaction; all its writes make one revision.
    pub fn txn(
        &mut self,
        compares: &[Compare],
        success: &[TxnOp],
        failure: &[TxnOp],
    ) -> Result<TxnResult, TxnError> {
        let succeeded = compares.iter().all(|c| self.compare(c));
        let branch = if succeeded { success } else { failure };
        let writes: Vec<Write> = branch
            .iter()
            .filter_map(|op| match op {
                TxnOp::Write(w) => Some(w.clone()),
                TxnOp::Range { .. } => None,
            })
            .collect();
        self.refuse(&writes)?;
        let next = self.revision + 1;
        let (mut reads, mut prevs, mut changed) = (Vec::new(), Vec::new(), false);
        for op in branch {
            match op {
                TxnOp::Write(w) => changed |= self.write_at(w, next, &mut prevs),
                TxnOp::Range { key, range_end } => {
                    let at = if changed { next } else { self.revision };
                    let mut r = self.read_at(key, range_end, at, &RangeOptions::default());
                    r.revision = self.revision;
                    reads.push(r);
                }
            }
        }
        if changed {
            self.revision = next;
        }
        Ok(TxnResult {
            succeeded,
            reads,
            prevs,
            revision: self.revision,
        })
    }
}
