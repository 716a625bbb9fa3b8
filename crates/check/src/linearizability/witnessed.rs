//! Linearizability of a history with multi-key operations (ranges, delete-ranges,
//! transactions, compactions), given the order in which the log applied the writes.
//!
//! A multi-key history cannot be judged key by key, and searching every order of its
//! writes is out of reach. etcd's robustness tests settle it with what revisions prove:
//! every write that changed the store has a unique revision, and the order of the writes
//! is visible (they read it from a watch; the simulator reads it from the log the members
//! applied, each entry naming the client and sequence number of its command). With that
//! order fixed, the checker replays the writes through its own model of the store
//! ([`crate::store_model`]) and checks, exactly:
//!
//! 1. every answered write got the answer the replay gives at its place in the order;
//! 2. every answered read (a get or a range, served outside the log) fits at one store
//!    revision: a range at the revision its header reports, a get at any revision where
//!    its key held what it read; and it equals the replay's answer there;
//! 3. real time: each operation's revision lies after every write that returned before it
//!    was called, and before every write called after it returned; reads that follow one
//!    another in real time never go back (the earliest fitting revision is taken for a
//!    get, which leaves the most room to the reads after it).
//!
//! If all hold, the order is a linearization, so the verdict is exact in that direction.
//! A failure says the answers cannot be explained in the order the log applied; the
//! report names the operation and what the replay expected.

use super::{KeyFailure, Report, TimeUnit};
use crate::store_model::StoreModel;
use proto::history::{HistoryOp, Outcome};
use proto::kv::{Op, OpResult};
use std::collections::BTreeMap;

/// One command as the log applied it: the first member to apply each index speaks for
/// all (state machine safety judges the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedCommand {
    /// The log index.
    pub index: u64,
    /// The client and sequence number of the command.
    pub client: u64,
    /// Its sequence number.
    pub seq: u64,
    /// False when the member's session table took it for a retry and changed nothing.
    pub fresh: bool,
}

/// What the replay gave one write.
struct Placed {
    /// The store revision right after it.
    revision: u64,
    /// Whether it made that revision.
    created: bool,
    answer: OpResult,
}

fn failure(op: &HistoryOp, unit: TimeUnit, explanation: String) -> KeyFailure {
    let ret = op.return_ns.map_or("never".into(), |r| unit.show(r));
    KeyFailure {
        key: op.op.key().to_string(),
        time_ns: op.return_ns.unwrap_or(op.call_ns),
        clients: vec![op.client],
        explanation: format!(
            "client {} #{} ({}, called {}, returned {ret}): {explanation}",
            op.client,
            op.seq,
            op.op.name(),
            unit.show(op.call_ns)
        ),
        undecided: false,
    }
}

/// Judges `history` in the order `applied` gives its writes (see the module docs).
pub fn check(history: &[HistoryOp], applied: &[AppliedCommand], unit: TimeUnit) -> Report {
    let by_id: BTreeMap<(u64, u64), &HistoryOp> =
        history.iter().map(|o| ((o.client, o.seq), o)).collect();
    let keys: std::collections::BTreeSet<&str> = history.iter().map(|o| o.op.key()).collect();
    let mut report = Report {
        keys: keys.len(),
        operations: history.len(),
        completed: history
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Ok(_)))
            .count(),
        ..Report::default()
    };
    let mut model = StoreModel::default();
    let mut placed: BTreeMap<(u64, u64), Placed> = BTreeMap::new();
    for a in applied.iter().filter(|a| a.client != 0 && a.fresh) {
        let Some(op) = by_id.get(&(a.client, a.seq)) else {
            report.note = Some(format!(
                "the log applied client {} #{} at index {}, which the history does not record: the order of the writes is not known",
                a.client, a.seq, a.index
            ));
            return report;
        };
        if placed.contains_key(&(a.client, a.seq)) {
            continue; // applied twice: the exactly-once checker's business
        }
        let before = model.revision();
        let answer = model.apply(&op.op);
        report.steps += 1;
        let p = Placed {
            revision: model.revision(),
            created: model.revision() > before,
            answer,
        };
        placed.insert((a.client, a.seq), p);
    }
    judge(history, &placed, &model, unit, &mut report);
    report
}

/// The revision each operation stands at, checked against its answer, then real time.
fn judge(
    history: &[HistoryOp],
    placed: &BTreeMap<(u64, u64), Placed>,
    model: &StoreModel,
    unit: TimeUnit,
    report: &mut Report,
) {
    let writes = Writes::new(history, placed);
    let mut order: Vec<&HistoryOp> = history
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Ok(_)))
        .collect();
    order.sort_by_key(|o| (o.call_ns, o.client, o.seq));
    // Answered operations placed so far, by return time, for the read-after-read rule;
    // calls come in order, so those returned before one call stay returned for the next.
    let mut pending = std::collections::BinaryHeap::new();
    let mut done_floor = 0;
    for op in order {
        let Outcome::Ok(result) = &op.outcome else {
            continue;
        };
        while let Some(std::cmp::Reverse((ret, r))) = pending.peek().copied() {
            if ret >= op.call_ns {
                break;
            }
            pending.pop();
            done_floor = done_floor.max(r);
        }
        let floor = writes.floor(op.call_ns).max(done_floor);
        let at = if op.op.is_write() {
            write_place(op, result, placed, floor)
        } else {
            read_place(op, result, model, floor, writes.ceiling(op))
        };
        match at {
            Ok(r) => pending.push(std::cmp::Reverse((op.return_ns.unwrap_or(u64::MAX), r))),
            Err(why) => {
                report.failures.push(failure(op, unit, why));
                return;
            }
        }
    }
}

/// The answered write's revision, if its answer is the replay's and it fits real time.
fn write_place(
    op: &HistoryOp,
    result: &OpResult,
    placed: &BTreeMap<(u64, u64), Placed>,
    floor: u64,
) -> Result<u64, String> {
    let Some(p) = placed.get(&(op.client, op.seq)) else {
        return Err(format!("answered {result}, but the log never applied it"));
    };
    if &p.answer != result {
        return Err(format!(
            "answered {result}, but in the order the log applied it the answer is {}",
            p.answer
        ));
    }
    let lowest = if p.created { floor + 1 } else { floor };
    if p.revision < lowest {
        return Err(format!(
            "it stands at revision {}, but an operation that returned before it was called already stood at revision {floor}",
            p.revision
        ));
    }
    Ok(p.revision)
}

/// The revision an answered read fits at: at least `floor`, below `ceiling`.
fn read_place(
    op: &HistoryOp,
    result: &OpResult,
    model: &StoreModel,
    floor: u64,
    ceiling: u64,
) -> Result<u64, String> {
    let header = match result {
        OpResult::Range(r) => Some(r.revision),
        OpResult::Refused(proto::store::StoreError::FutureRevision { current }) => Some(*current),
        _ => None,
    };
    let candidates: Vec<u64> = match header {
        Some(h) => vec![h],
        None => get_candidates(op, model, floor),
    };
    let fits = |r: &u64| *r >= floor && *r < ceiling && *r <= model.revision();
    for r in candidates.iter().copied().filter(fits) {
        if model.read_at(&op.op, r).as_ref() == Some(result) {
            return Ok(r);
        }
    }
    if let OpResult::Refused(proto::store::StoreError::Compacted { compact_revision }) = result {
        // When a compaction lands between two writes is not in the revisions; it is
        // enough that the log compacted to that point before the read asked below it.
        let asked = match &op.op {
            Op::Range { options, .. } => options.revision,
            _ => 0,
        };
        if asked < *compact_revision && *compact_revision <= model.compact_revision() {
            return Ok(floor);
        }
    }
    let expected = header
        .filter(|h| fits(h))
        .and_then(|h| model.read_at(&op.op, h))
        .map_or(String::new(), |e| {
            format!(" (at revision {} it is: {e})", header.unwrap_or(0))
        });
    Err(format!(
        "answered {result}, which fits no store revision from {floor} up to {}{expected}",
        ceiling.min(model.revision() + 1) - 1
    ))
}

/// The revisions a get may be served at, from `floor` on: `floor` and every change of
/// its key after it.
fn get_candidates(op: &HistoryOp, model: &StoreModel, floor: u64) -> Vec<u64> {
    let mut out = vec![floor];
    out.extend(
        model
            .changes_of(op.op.key())
            .into_iter()
            .filter(|r| *r > floor),
    );
    out
}

/// The writes the log applied, for real-time bounds.
struct Writes {
    /// (return time, highest revision so far) of answered writes that made a revision,
    /// by return time: a running maximum.
    returned: Vec<(u64, u64)>,
    /// (call time, lowest revision from here on) of every applied write that made a
    /// revision, by call time: a running minimum from the end.
    called: Vec<(u64, u64)>,
}

impl Writes {
    fn new(history: &[HistoryOp], placed: &BTreeMap<(u64, u64), Placed>) -> Writes {
        let mut returned = Vec::new();
        let mut called = Vec::new();
        for op in history {
            let Some(p) = placed.get(&(op.client, op.seq)).filter(|p| p.created) else {
                continue;
            };
            called.push((op.call_ns, p.revision));
            if let (Outcome::Ok(_), Some(ret)) = (&op.outcome, op.return_ns) {
                returned.push((ret, p.revision));
            }
        }
        returned.sort_unstable();
        called.sort_unstable();
        for i in 1..returned.len() {
            returned[i].1 = returned[i].1.max(returned[i - 1].1);
        }
        for i in (0..called.len().saturating_sub(1)).rev() {
            called[i].1 = called[i].1.min(called[i + 1].1);
        }
        Writes { returned, called }
    }

    /// The highest revision made by a write that returned before `call`.
    fn floor(&self, call: u64) -> u64 {
        let n = self.returned.partition_point(|(ret, _)| *ret < call);
        n.checked_sub(1).map_or(0, |i| self.returned[i].1)
    }

    /// The lowest revision made by a write called after `op` returned: a read must stand
    /// below it.
    fn ceiling(&self, op: &HistoryOp) -> u64 {
        let ret = op.return_ns.unwrap_or(u64::MAX);
        let n = self.called.partition_point(|(call, _)| *call <= ret);
        self.called.get(n).map_or(u64::MAX, |(_, r)| *r)
    }
}
