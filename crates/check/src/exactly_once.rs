//! Exactly-once (Raft thesis §6.3): a request retried with the same client id and sequence
//! number takes effect once. Every member applies the same log, so a request may be
//! applied fresh at one log index only: a member that restarts or installs a snapshot and
//! applies it again at that same index is replaying, but a fresh application at any
//! other index, on any member and in any incarnation, is a second effect. Judging across
//! incarnations is what catches a session table lost in a snapshot or a restart.

use crate::{Property, Violation};
use proto::trace::{Event, EventKind};
use std::collections::BTreeMap;

/// Finds requests applied fresh at two different log indexes.
pub fn check(events: &[Event]) -> Vec<Violation> {
    // (client, seq) -> (index, member) where it was first applied fresh
    let mut first: BTreeMap<(u64, u64), (u64, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        let EventKind::Applied {
            node,
            entry,
            client,
            seq,
            fresh: true,
        } = &e.kind
        else {
            continue;
        };
        if *client == 0 {
            continue;
        }
        let (index, by) = *first.entry((*client, *seq)).or_insert((entry.index, *node));
        if index != entry.index {
            out.push(Violation {
                property: Property::ExactlyOnce,
                time_ns: e.time_ns,
                nodes: vec![*node, *client],
                message: format!(
                    "request {client}#{seq} took effect twice: member {by} applied it at index {index}, member {node} again at index {}",
                    entry.index
                ),
            });
            if out.len() > 20 {
                break;
            }
        }
    }
    out
}
