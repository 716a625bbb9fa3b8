//! Leader completeness (Raft paper §5.4): if an entry is committed in a term, it is in
//! the log of every leader of every later term.
//!
//! An entry counts as committed when a member reports a commit index at or above it; the
//! entry is the one that member's log holds at that index. When a member becomes leader,
//! its log must hold every entry committed so far (except below its snapshot, which only
//! covers committed entries).

use crate::logs::Logs;
use crate::{Property, Violation};
use proto::trace::{Event, EventKind, Role};
use proto::{Index, NodeId, Term};
use std::collections::BTreeMap;

/// Finds leaders that miss a committed entry.
pub fn check(events: &[Event]) -> Vec<Violation> {
    let mut logs = Logs::default();
    // index -> (term, digest, member that reported it committed)
    let mut committed: BTreeMap<Index, (Term, u64, NodeId)> = BTreeMap::new();
    let mut high: BTreeMap<NodeId, Index> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        logs.apply(&e.kind);
        match &e.kind {
            EventKind::Committed { node, index, .. } => {
                let Some(log) = logs.logs.get(node) else {
                    continue;
                };
                let from = high.get(node).copied().unwrap_or(0).max(log.base) + 1;
                for i in from..=(*index).min(log.last_index()) {
                    if let Some(entry) = log.get(i) {
                        committed
                            .entry(i)
                            .or_insert((entry.term, entry.digest, *node));
                    }
                }
                high.insert(*node, *index);
            }
            EventKind::Recovered { node, .. } | EventKind::SnapshotInstalled { node, .. } => {
                high.remove(node);
            }
            EventKind::Role {
                node,
                role: Role::Leader,
                term,
            } => {
                let Some(log) = logs.logs.get(node) else {
                    continue;
                };
                for (&index, &(entry_term, digest, reporter)) in committed.range(log.base + 1..) {
                    if entry_term >= *term {
                        continue;
                    }
                    let held = log.get(index);
                    if held.map(|h| (h.term, h.digest)) != Some((entry_term, digest)) {
                        out.push(Violation {
                            property: Property::LeaderCompleteness,
                            time_ns: e.time_ns,
                            nodes: vec![*node, reporter],
                            message: format!(
                                "member {node} became leader of term {term} without committed entry ({index}, term {entry_term}) that member {reporter} committed; it holds {}",
                                held.map_or("nothing".to_string(), |h| format!("term {}", h.term))
                            ),
                        });
                        break;
                    }
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
