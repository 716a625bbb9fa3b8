//! State machine safety (Raft paper §5.4.3): if a member has applied an entry at an
//! index, no other member ever applies a different entry at that index.

use crate::{Property, Violation};
use proto::trace::{Event, EventKind};
use proto::{Index, NodeId, Term};
use std::collections::BTreeMap;

/// Finds indexes where members applied different entries.
pub fn check(events: &[Event]) -> Vec<Violation> {
    let mut first: BTreeMap<Index, (Term, u64, NodeId)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        if let EventKind::Applied { node, entry, .. } = &e.kind {
            match first.get(&entry.index) {
                None => {
                    first.insert(entry.index, (entry.term, entry.digest, *node));
                }
                Some(&(term, digest, other)) if (term, digest) != (entry.term, entry.digest) => {
                    out.push(Violation {
                        property: Property::StateMachineSafety,
                        time_ns: e.time_ns,
                        nodes: vec![other, *node],
                        message: format!(
                            "at index {} member {other} applied an entry of term {term} and member {node} one of term {}",
                            entry.index, entry.term
                        ),
                    });
                    if out.len() > 20 {
                        break;
                    }
                }
                Some(_) => {}
            }
        }
    }
    out
}
