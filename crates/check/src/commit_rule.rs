//! The commit rule (Raft paper §5.3 and §5.4.2): a leader advances its commit index only to
//! an entry of its own current term, and only once a quorum of its configuration holds
//! that entry durably: a majority of the voters, and while joint also a majority of the
//! outgoing voters (Raft dissertation §4.3). The configuration is the one the leader
//! applied last, as the checker's own model follows it ([`crate::configuration::Configs`]). Entries of earlier terms are committed indirectly, under an entry of the
//! current term (the paper's Figure 8 shows why counting their replicas is unsafe).
//!
//! Judged directly at each advance, from the trace: the leader's role and term, and every
//! member's durable log rebuilt from what it persisted, truncated, recovered and
//! installed. A bug in how a leader counts its quorum is caught the moment it commits,
//! not only in the rare run where the early commit is later overwritten.

use crate::configuration::Configs;
use crate::logs::Logs;
use crate::{Property, Violation};
use proto::trace::{Event, EventKind, Role};
use proto::{Index, NodeId, Term};
use std::collections::{BTreeMap, BTreeSet};

/// Finds commit advances that break the rule.
pub fn check(events: &[Event]) -> Vec<Violation> {
    check_with(events, Configs::new(events))
}

/// [`check`] with the configuration model already read from the trace (by
/// [`Configs::new`]; it is then followed event by event here).
pub fn check_with(events: &[Event], mut configs: Configs) -> Vec<Violation> {
    let mut logs = Logs::default();
    let mut leading: BTreeMap<NodeId, Option<Term>> = BTreeMap::new();
    let mut known_commit: BTreeMap<NodeId, Index> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        logs.apply(&e.kind);
        configs.apply(&e.kind);
        match &e.kind {
            EventKind::Role { node, role, term } => {
                leading.insert(*node, (*role == Role::Leader).then_some(*term));
            }
            EventKind::Recovered { node, commit, .. } => {
                leading.insert(*node, None);
                known_commit.insert(*node, *commit);
            }
            EventKind::Crash { node } | EventKind::Stopped { node, .. } => {
                leading.insert(*node, None);
            }
            EventKind::SnapshotInstalled { node, index, .. } => {
                let c = known_commit.entry(*node).or_default();
                *c = (*c).max(*index);
            }
            EventKind::Committed { node, index, term } => {
                let before = known_commit.insert(*node, *index).unwrap_or(0);
                let Some(Some(leader_term)) = leading.get(node).copied() else {
                    continue;
                };
                if *index <= before {
                    continue;
                }
                let holders = holders(&logs, *index, *term);
                let conf = configs.of(*node);
                let fault = if *term != leader_term {
                    Some(format!(
                        "the leader of term {leader_term} advanced its commit index to {index}, an entry of term {term}: a leader commits only entries of its own term by counting replicas (earlier ones are committed under them)"
                    ))
                } else if !conf.is_quorum(&holders) {
                    Some(format!(
                        "the leader of term {leader_term} committed ({index}, term {term}) while only members {holders:?} held it durably: not a quorum of its configuration, {conf}"
                    ))
                } else {
                    None
                };
                if let Some(message) = fault {
                    out.push(Violation {
                        property: Property::CommitRule,
                        time_ns: e.time_ns,
                        nodes: vec![*node],
                        message,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The members whose durable log holds the entry (index, term), or a snapshot covering it.
fn holders(logs: &Logs, index: Index, term: Term) -> BTreeSet<NodeId> {
    logs.logs
        .iter()
        .filter(|(_, log)| index <= log.base || log.get(index).is_some_and(|e| e.term == term))
        .map(|(n, _)| *n)
        .collect()
}
