//! Election safety (Raft paper Figure 3): at most one leader can be elected in a term.

use crate::{Property, Violation};
use proto::trace::{Event, EventKind, Role};
use proto::{NodeId, Term};
use std::collections::BTreeMap;

/// Finds terms with two leaders.
pub fn check(events: &[Event]) -> Vec<Violation> {
    let mut leader_of: BTreeMap<Term, NodeId> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        if let EventKind::Role {
            node,
            role: Role::Leader,
            term,
        } = e.kind
        {
            match leader_of.get(&term) {
                Some(&first) if first != node => out.push(Violation {
                    property: Property::ElectionSafety,
                    time_ns: e.time_ns,
                    nodes: vec![first, node],
                    message: format!("members {first} and {node} were both leader in term {term}"),
                }),
                _ => {
                    leader_of.insert(term, node);
                }
            }
        }
    }
    out
}
