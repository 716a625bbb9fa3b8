//! Transactions: etcd's compares, then one branch run in order as one revision.

use super::{Compare, Mvcc, RangeOptions, Target, TxnError, TxnOp, TxnResult, Write};

impl Mvcc {
    /// Whether `c` holds now. An absent key compares as version, create and modification
    /// revision 0, lease 0 and an empty value, as in etcd.
    pub fn compare(&self, c: &Compare) -> bool {
        let kv = self.last(&c.key);
        let num = |f: fn((&super::Rec, u64)) -> u64| kv.map_or(0, f);
        match &c.target {
            Target::Version(v) => c.op.holds(num(|(r, _)| r.version), *v),
            Target::Create(v) => c.op.holds(num(|(r, _)| r.create_revision), *v),
            Target::Mod(v) => c.op.holds(num(|(_, m)| m), *v),
            Target::Lease(v) => c.op.holds(num(|(r, _)| r.lease), *v),
            Target::Value(v) => {
                c.op.holds(kv.map_or("", |(r, _)| r.value.as_str()), v.as_str())
            }
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
