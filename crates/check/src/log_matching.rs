//! Log matching (Raft paper §5.3): if two logs contain an entry with the same index and
//! term, the logs are identical in all entries up through that index.
//!
//! Checked inductively: every entry ever written, on any member, is recorded with the
//! term of the entry before it in that member's log. Two entries with the same index and
//! term must have the same digest and the same predecessor term; applied from the top
//! down, that makes the whole prefixes equal.

use crate::logs::Logs;
use crate::{Property, Violation};
use proto::trace::Event;
use proto::{Index, NodeId, Term};
use std::collections::BTreeMap;

/// Finds entries that break log matching.
pub fn check(events: &[Event]) -> Vec<Violation> {
    let mut logs = Logs::default();
    // (index, term) -> (digest, term before it, first member that had it)
    let mut seen: BTreeMap<(Index, Term), (u64, Option<Term>, NodeId)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        let Some((node, written)) = logs.apply(&e.kind) else {
            continue;
        };
        let log = &logs.logs[&node];
        for entry in written {
            let before = log.term_before(entry.index);
            match seen.get(&(entry.index, entry.term)) {
                None => {
                    seen.insert((entry.index, entry.term), (entry.digest, before, node));
                }
                Some(&(digest, first_before, first)) => {
                    if digest != entry.digest {
                        out.push(Violation {
                            property: Property::LogMatching,
                            time_ns: e.time_ns,
                            nodes: vec![first, node],
                            message: format!(
                                "members {first} and {node} hold different entries at index {} term {}",
                                entry.index, entry.term
                            ),
                        });
                    } else if let (Some(a), Some(b)) = (first_before, before) {
                        // Term 0 before a recovered base means "unknown": skip it.
                        if a != b && a != 0 && b != 0 {
                            out.push(Violation {
                                property: Property::LogMatching,
                                time_ns: e.time_ns,
                                nodes: vec![first, node],
                                message: format!(
                                    "members {first} and {node} share entry ({}, {}) but their logs differ before it (terms {a} and {b} at index {})",
                                    entry.index, entry.term, entry.index - 1
                                ),
                            });
                        }
                    }
                }
            }
        }
        if out.len() > 20 {
            break; // enough evidence
        }
    }
    out
}
