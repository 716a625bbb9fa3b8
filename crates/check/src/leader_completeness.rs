//! Leader completeness (Raft paper §5.4): if an entry is committed in a term, it is in
//! the log of every leader of every later term.
//!
//! An entry counts as committed when a member reports a commit index at or above it; the
//! entry is the one that member's log holds at that index, and it was committed in (at the
//! latest) that member's current term. When a member becomes leader of term T, its log
//! must hold every entry committed in a term before T (except below its snapshot, which
//! only covers committed entries). Leaders are judged by term, not by time: a member that
//! was paused may become leader of an old term after newer terms have begun.

use crate::logs::{Log, Logs};
use crate::{Property, Violation};
use proto::trace::{Event, EventKind, Role};
use proto::{Index, NodeId, Term};
use std::collections::BTreeMap;

/// index -> (entry term, digest, term it was committed in, member that reported it)
type Committed = BTreeMap<Index, (Term, u64, Term, NodeId)>;

/// Finds leaders that miss a committed entry.
pub fn check(events: &[Event]) -> Vec<Violation> {
    let mut logs = Logs::default();
    let mut committed: Committed = BTreeMap::new();
    let mut high: BTreeMap<NodeId, Index> = BTreeMap::new();
    let mut current_term: BTreeMap<NodeId, Term> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        logs.apply(&e.kind);
        match &e.kind {
            EventKind::Committed { node, index, .. } => {
                let Some(log) = logs.logs.get(node) else {
                    continue;
                };
                let in_term = current_term.get(node).copied().unwrap_or(0);
                let from = high.get(node).copied().unwrap_or(0).max(log.base) + 1;
                note_committed(&mut committed, log, from, *index, in_term, *node);
                high.insert(*node, *index);
            }
            EventKind::Recovered { node, term, .. } => {
                high.remove(node);
                current_term.insert(*node, *term);
            }
            EventKind::SnapshotInstalled { node, .. } => {
                high.remove(node);
            }
            EventKind::Role { node, role, term } => {
                current_term.insert(*node, *term);
                let log = logs.logs.get(node).filter(|_| *role == Role::Leader);
                if let Some(v) = log.and_then(|l| missing(&committed, l, *node, *term)) {
                    out.push(Violation {
                        time_ns: e.time_ns,
                        ..v
                    });
                }
            }
            _ => {}
        }
        if out.len() > 20 {
            break;
        }
    }
    out
}

/// Member `node`'s log, in term `in_term`, reports entries `from..=index` committed.
fn note_committed(
    committed: &mut Committed,
    log: &Log,
    from: Index,
    index: Index,
    in_term: Term,
    node: NodeId,
) {
    for i in from..=index.min(log.last_index()) {
        if let Some(entry) = log.get(i) {
            let first = committed
                .entry(i)
                .or_insert((entry.term, entry.digest, in_term, node));
            // The earliest term anyone saw it committed in is the tightest bound.
            if in_term < first.2 && (first.0, first.1) == (entry.term, entry.digest) {
                first.2 = in_term;
                first.3 = node;
            }
        }
    }
}

/// The first entry committed before `term` that leader `node`'s log lacks (above its
/// snapshot), as a violation without its time.
fn missing(committed: &Committed, log: &Log, node: NodeId, term: Term) -> Option<Violation> {
    for (&index, &(entry_term, digest, committed_in, reporter)) in committed.range(log.base + 1..) {
        if committed_in >= term {
            continue;
        }
        let held = log.get(index);
        if held.map(|h| (h.term, h.digest)) != Some((entry_term, digest)) {
            return Some(Violation {
                property: Property::LeaderCompleteness,
                time_ns: 0,
                nodes: vec![node, reporter],
                message: format!(
                    "member {node} became leader of term {term} without committed entry ({index}, term {entry_term}) that member {reporter} committed; it holds {}",
                    held.map_or("nothing".to_string(), |h| format!("term {}", h.term))
                ),
            });
        }
    }
    None
}
