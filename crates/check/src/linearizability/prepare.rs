//! Steps 1 and 2 of the check: reject what no order can explain, keep what can matter,
//! and pool the interchangeable unknowns (see the parent module's docs).

use super::{KeyFailure, TimeUnit};
use crate::model::KeyState;
use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use std::collections::{BTreeMap, BTreeSet};

/// A value no read ever returned: what a write leaves whose value nobody observed. When a
/// history itself uses this string (it cannot collide by accident: it starts with a NUL),
/// the key is checked with every value kept as written.
pub(super) const HIDDEN: &str = "\u{0}(a value nobody read)";

/// One operation as the search sees it.
#[derive(Clone, Debug)]
pub(super) struct Operation<'a> {
    pub op: &'a HistoryOp,
    /// The operation as the search applies it: a write whose value nobody observed writes
    /// [`HIDDEN`] instead, since no other operation can tell such values apart; that lets
    /// the memo merge the orders of such writes.
    pub effective: Op,
    pub call: u64,
    /// The return time; `u64::MAX` also for an operation that never returned (it bounds
    /// nothing), which [`Operation::completed`] tells apart.
    pub ret: u64,
    pub completed: bool,
    pub result: Option<&'a OpResult>,
}

impl Operation<'_> {
    /// Whether the operation returned with a known result.
    pub fn completed(&self) -> bool {
        self.completed
    }

    /// Whether it is an answered write of a value nobody read: such writes are
    /// interchangeable, so the search tries only the earliest-returning one at a time.
    pub fn blind_hidden_write(&self) -> bool {
        self.completed && matches!(&self.effective, Op::Put { value, .. } if value == HIDDEN)
    }

    /// The operation in the user's terms.
    pub fn describe(&self, unit: TimeUnit) -> String {
        let what = match &self.op.op {
            Op::Put { value, .. } => format!("put {value:?}"),
            Op::Get { .. } => "get".to_string(),
            Op::Delete { .. } => "delete".to_string(),
            Op::Cas { compare, value, .. } => match compare {
                Compare::Value(v) => format!("cas {v:?} -> {value:?}"),
                Compare::ModRevision(r) => format!("cas mod_revision={r} -> {value:?}"),
            },
            other => other.name().to_string(),
        };
        let got = match self.result {
            None => "outcome unknown".to_string(),
            Some(OpResult::Get { value, .. }) => format!("returned {value:?}"),
            Some(OpResult::Put { .. }) => "ok".to_string(),
            Some(OpResult::Delete { deleted, .. }) => format!("deleted={deleted}"),
            Some(OpResult::Cas { succeeded, .. }) => format!("succeeded={succeeded}"),
            Some(other) => other.to_string(),
        };
        let ret = if self.completed() {
            unit.show(self.ret)
        } else {
            "never".to_string()
        };
        format!(
            "client {} #{}: {what} -> {got} [called {}, returned {ret}]",
            self.op.client,
            self.op.seq,
            unit.show(self.call)
        )
    }
}

/// Interchangeable operations with unknown outcomes: whichever of them takes effect, the
/// effect is the same (`requires` → `result`), so the search only counts how many it has
/// used, taking the earliest called first (an exchange argument shows that loses nothing).
#[derive(Clone, Debug)]
pub(super) struct PoolSpec {
    /// The state the key must hold for one to take effect (`None`: any).
    pub requires: Option<KeyState>,
    /// The state it leaves.
    pub result: KeyState,
    /// Call times, ascending.
    pub calls: Vec<u64>,
}

/// What the search works on for one key.
pub(super) struct Prepared<'a> {
    /// Operations searched one by one, by call time.
    pub ops: Vec<Operation<'a>>,
    /// Pools of interchangeable unknown operations.
    pub pools: Vec<PoolSpec>,
}

/// A value an answered operation saw: a get's value, or the value a successful
/// compare-and-swap compared with.
fn seen_value(op: &HistoryOp) -> Option<&str> {
    match (&op.op, &op.outcome) {
        (_, Outcome::Ok(OpResult::Get { value: Some(v), .. })) => Some(v),
        (
            Op::Cas {
                compare: Compare::Value(Some(v)),
                ..
            },
            Outcome::Ok(OpResult::Cas {
                succeeded: true, ..
            }),
        ) => Some(v),
        _ => None,
    }
}

/// Step 0: an answered operation that saw a value no write on the key could have
/// produced (none wrote it, or every write of it certainly failed) is impossible in any
/// order. Found at once, before any search.
pub(super) fn impossible_value(
    key: &str,
    ops: &[&HistoryOp],
    unit: TimeUnit,
) -> Option<KeyFailure> {
    let written: BTreeSet<&str> = ops
        .iter()
        .filter(|o| !matches!(o.outcome, Outcome::Failed))
        .filter_map(|o| match &o.op {
            Op::Put { value, .. } | Op::Cas { value, .. } => Some(value.as_str()),
            _ => None,
        })
        .collect();
    let bad = ops
        .iter()
        .find(|o| seen_value(o).is_some_and(|v| !written.contains(v)))?;
    let value = seen_value(bad).unwrap_or_default();
    let what = if matches!(bad.op, Op::Get { .. }) {
        "read"
    } else {
        "compared successfully with"
    };
    let ret = bad.return_ns.map_or("never".to_string(), |r| unit.show(r));
    Some(KeyFailure {
        key: key.to_string(),
        time_ns: bad.return_ns.unwrap_or(bad.call_ns),
        clients: vec![bad.client],
        explanation: format!(
            "client {} #{} (called {}, returned {ret}) {what} {value:?}, a value no write on this key could have produced (nothing that may have taken effect wrote it)",
            bad.client,
            bad.seq,
            unit.show(bad.call_ns)
        ),
        undecided: false,
    })
}

/// Values some operation can tell apart from others: read by a get, or compared by a
/// cas (whatever its outcome: a failed cas also constrains the value). When the history
/// itself uses the placeholder, every value counts as observed.
fn observed_values<'a>(ops: &[&'a HistoryOp]) -> BTreeSet<&'a str> {
    let mut observed: BTreeSet<&str> = BTreeSet::new();
    let mut uses_placeholder = false;
    for op in ops {
        if let Op::Cas {
            compare: Compare::Value(Some(v)),
            ..
        } = &op.op
        {
            observed.insert(v);
            uses_placeholder |= v == HIDDEN;
        }
        if let Outcome::Ok(OpResult::Get { value: Some(v), .. }) = &op.outcome {
            observed.insert(v);
            uses_placeholder |= v == HIDDEN;
        }
        if let Op::Put { value, .. } | Op::Cas { value, .. } = &op.op {
            uses_placeholder |= value == HIDDEN;
        }
    }
    if uses_placeholder {
        for op in ops {
            if let Op::Put { value, .. } | Op::Cas { value, .. } = &op.op {
                observed.insert(value);
            }
        }
    }
    observed
}

/// The pool an unknown-outcome operation joins, if it is interchangeable with others.
fn pool_of(op: &Op, observed: &BTreeSet<&str>) -> Option<(Option<KeyState>, KeyState)> {
    let hidden = Some(HIDDEN.to_string());
    match op {
        Op::Put { value, .. } if !observed.contains(value.as_str()) => Some((None, hidden)),
        Op::Delete { .. } => Some((None, None)),
        Op::Cas {
            compare: Compare::Value(expected),
            value,
            ..
        } if !observed.contains(value.as_str()) => Some((Some(expected.clone()), hidden)),
        Op::Cas {
            compare: Compare::ModRevision(_),
            value,
            ..
        } if !observed.contains(value.as_str()) => Some((None, hidden)),
        _ => None,
    }
}

/// The operation as the search applies it (see [`Operation::effective`]).
fn effective(op: &Op, observed: &BTreeSet<&str>) -> Op {
    match op {
        Op::Put { key, value } if !observed.contains(value.as_str()) => Op::Put {
            key: key.clone(),
            value: HIDDEN.to_string(),
        },
        Op::Cas {
            key,
            compare,
            value,
        } if !observed.contains(value.as_str()) => Op::Cas {
            key: key.clone(),
            compare: compare.clone(),
            value: HIDDEN.to_string(),
        },
        other => other.clone(),
    }
}

/// Steps 1 and 2: keep what can matter, and pool the interchangeable unknowns.
pub(super) fn prune<'a>(ops: &[&'a HistoryOp]) -> Prepared<'a> {
    let observed = observed_values(ops);
    let mut out = Prepared {
        ops: Vec::new(),
        pools: Vec::new(),
    };
    // Pools by (requires, result): unobserved puts, deletes, and unobserved compare-and-
    // swaps grouped by the value they compare with.
    let mut pools: BTreeMap<(Option<KeyState>, KeyState), Vec<u64>> = BTreeMap::new();
    for op in ops {
        let (ret, completed, result) = match &op.outcome {
            Outcome::Failed => continue,
            Outcome::Ok(r) => match op.return_ns {
                Some(ret) => (ret, true, Some(r)),
                // An answer with no return time bounds nothing: treat it as unknown.
                None => (u64::MAX, false, None),
            },
            Outcome::Unknown => {
                if matches!(op.op, Op::Get { .. }) {
                    continue;
                }
                if let Some(key) = pool_of(&op.op, &observed) {
                    pools.entry(key).or_default().push(op.call_ns);
                    continue;
                }
                (u64::MAX, false, None)
            }
        };
        out.ops.push(Operation {
            op,
            effective: effective(&op.op, &observed),
            call: op.call_ns,
            ret,
            completed,
            result,
        });
    }
    out.ops.sort_by_key(|o| (o.call, o.ret, !o.completed));
    out.pools = pools
        .into_iter()
        .map(|((requires, result), mut calls)| {
            calls.sort_unstable();
            PoolSpec {
                requires,
                result,
                calls,
            }
        })
        .collect();
    out
}
