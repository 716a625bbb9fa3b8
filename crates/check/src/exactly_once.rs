//! Exactly-once (Raft thesis §6.3): a request retried with the same client id and sequence
//! number is applied once. Each member's state machine is rebuilt at a restart or a
//! snapshot install, so applications are counted per member incarnation.

use crate::{Property, Violation};
use proto::trace::{Event, EventKind};
use proto::NodeId;
use std::collections::BTreeMap;

/// Finds requests a member applied more than once.
pub fn check(events: &[Event]) -> Vec<Violation> {
    // member -> (client, seq) -> index where it was first applied
    let mut applied: BTreeMap<NodeId, BTreeMap<(u64, u64), u64>> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::Recovered { node, .. } | EventKind::SnapshotInstalled { node, .. } => {
                applied.remove(node);
            }
            EventKind::Applied {
                node,
                entry,
                client,
                seq,
                fresh: true,
            } if *client != 0 => {
                let mine = applied.entry(*node).or_default();
                if let Some(first) = mine.insert((*client, *seq), entry.index) {
                    out.push(Violation {
                        property: Property::ExactlyOnce,
                        time_ns: e.time_ns,
                        nodes: vec![*node, *client],
                        message: format!(
                            "member {node} applied request {client}#{seq} twice: at index {first} and again at {}",
                            entry.index
                        ),
                    });
                    if out.len() > 20 {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}
