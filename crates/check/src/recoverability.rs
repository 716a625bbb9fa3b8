//! Recoverability: a member that restarts comes back with at least what it had made
//! durable, and no member stops on a storage error.
//!
//! What a member made durable is what it announced after its fsyncs: its term and vote in
//! `VotePersisted`, entries in `LogPersisted`, snapshots in `SnapshotTaken` and
//! `SnapshotInstalled` (an installed snapshot replaces the log). The crash faults the simulator injects lose or tear only
//! writes that were not yet synced, so after any of them a correct member recovers every
//! announced entry (or a snapshot covering it) and starts. Coming up with less, or
//! refusing to start, is a violation.
//!
//! After the disk of a stopped member was damaged on purpose (`DiskDamaged`: bit rot or a
//! misdirected write on synced data, or unsynced writes persisted out of order), a correct
//! member has two honest choices: recover all it made durable, or refuse to start with a
//! typed corruption error. Coming up silently with less, or stopping on any other error,
//! is a violation.
//!
//! A member that announces durability it does not have (acknowledging before the fsync)
//! fails here too: the announcement is the promise the rest of the cluster relies on.

use crate::{Property, Violation};
use proto::trace::{EntryId, Event, EventKind};
use proto::{Index, NodeId};
use std::collections::BTreeMap;

/// What one member has announced as durable.
#[derive(Default)]
struct Durable {
    /// Its durable term and vote in it (0: none).
    term: u64,
    vote: NodeId,
    /// Last index covered by its durable snapshot.
    snapshot: Index,
    /// Durable entries after the snapshot.
    entries: BTreeMap<Index, EntryId>,
}

impl Durable {
    fn persisted(&mut self, entries: &[EntryId]) {
        if let Some(first) = entries.first() {
            self.entries.split_off(&first.index);
            self.entries.extend(entries.iter().map(|e| (e.index, *e)));
        }
    }

    fn snapshot_taken(&mut self, index: Index) {
        self.snapshot = self.snapshot.max(index);
        self.entries = self.entries.split_off(&(self.snapshot + 1));
    }

    /// Whether the recovered term and vote keep the durable ones (a later term may have
    /// come back too: a process crash keeps writes that were not yet synced).
    fn vote_lost(&self, term: u64, vote: NodeId) -> Option<String> {
        if term < self.term {
            return Some(format!(
                "its durable term {} came back as {term}",
                self.term
            ));
        }
        if term == self.term && self.vote != 0 && vote != self.vote {
            return Some(format!(
                "its durable vote for {} in term {term} came back as {}",
                self.vote,
                if vote == 0 {
                    "no vote".to_string()
                } else {
                    format!("a vote for {vote}")
                }
            ));
        }
        None
    }

    /// The first durable item the recovered state lacks, described.
    fn missing_from(&self, snapshot_index: Index, entries: &[EntryId]) -> Option<String> {
        let recovered: BTreeMap<Index, &EntryId> = entries.iter().map(|e| (e.index, e)).collect();
        let last = entries.last().map_or(snapshot_index, |e| e.index);
        if self.snapshot > last.max(snapshot_index) {
            return Some(format!(
                "its durable snapshot reached index {}, but it recovered only up to index {}",
                self.snapshot,
                last.max(snapshot_index)
            ));
        }
        for (index, id) in self.entries.range(snapshot_index + 1..) {
            match recovered.get(index) {
                None => {
                    return Some(format!(
                        "durable entry {index} (term {}) is gone: it recovered a snapshot at {snapshot_index} and entries up to {last}",
                        id.term
                    ))
                }
                Some(got) if *got != id => {
                    return Some(format!(
                        "durable entry {index} (term {}) came back as a different entry (term {})",
                        id.term, got.term
                    ))
                }
                Some(_) => {}
            }
        }
        None
    }
}

/// Finds restarts that lost durable state and storage errors that stopped a member.
pub fn check(events: &[Event]) -> Vec<Violation> {
    let mut durable: BTreeMap<NodeId, Durable> = BTreeMap::new();
    // Members whose disk was damaged since they last started.
    let mut damaged: BTreeMap<NodeId, String> = BTreeMap::new();
    let mut out = Vec::new();
    let mut violation = |time_ns: u64, node: NodeId, message: String| {
        out.push(Violation {
            property: Property::Recoverability,
            time_ns,
            nodes: vec![node],
            message,
        })
    };
    for e in events {
        match &e.kind {
            EventKind::Recovered {
                node,
                snapshot_index,
                entries,
                term,
                vote,
                ..
            } => {
                let d = durable.entry(*node).or_default();
                let lost = d
                    .vote_lost(*term, *vote)
                    .or_else(|| d.missing_from(*snapshot_index, entries));
                if let Some(why) = lost {
                    violation(
                        e.time_ns,
                        *node,
                        lost_message(*node, damaged.get(node), &why),
                    );
                }
                damaged.remove(node);
                // What it recovered is on its disk now: the new baseline.
                *d = Durable {
                    term: *term,
                    vote: *vote,
                    snapshot: *snapshot_index,
                    entries: entries.iter().map(|e| (e.index, *e)).collect(),
                };
            }
            EventKind::DiskDamaged { node, what } => {
                damaged.insert(*node, what.clone());
            }
            EventKind::Stopped {
                node,
                reason,
                corrupt,
            } => {
                if let Some(m) = stop_message(*node, damaged.get(node), reason, *corrupt) {
                    violation(e.time_ns, *node, m);
                }
            }
            other => track(&mut durable, other),
        }
    }
    out
}

/// Follows what a member made durable: entries persisted or discarded, snapshots taken
/// or installed, votes persisted.
fn track(durable: &mut BTreeMap<NodeId, Durable>, kind: &EventKind) {
    match kind {
        EventKind::LogPersisted { node, entries } => {
            durable.entry(*node).or_default().persisted(entries)
        }
        EventKind::LogTruncated { node, from, .. } => {
            // The member discards these entries (a leader's log disagreed): from here
            // on either they or their replacements may come back, and neither is less
            // than it promised (the replacements are durable once announced).
            let d = durable.entry(*node).or_default();
            d.entries.split_off(from);
        }
        EventKind::SnapshotTaken { node, index } => {
            durable.entry(*node).or_default().snapshot_taken(*index)
        }
        EventKind::SnapshotInstalled { node, index, .. } => {
            let d = durable.entry(*node).or_default();
            d.entries.clear();
            d.snapshot = *index;
        }
        EventKind::VotePersisted { node, term, vote } => {
            let d = durable.entry(*node).or_default();
            (d.term, d.vote) = (*term, *vote);
        }
        _ => {}
    }
}

/// What to say of member `node` coming back with less than it made durable (`why`),
/// after its disk was damaged (`damage`) or not.
fn lost_message(node: NodeId, damage: Option<&String>, why: &str) -> String {
    match damage {
        Some(what) => format!("after its disk was damaged ({what}), member {node} came up with less than it had made durable instead of refusing to start: {why}"),
        None => format!("member {node} restarted with less than it had made durable: {why}"),
    }
}

/// What is wrong with member `node` stopping on a storage error, if anything: refusing to
/// start on damaged data with a typed corruption error is the right call.
fn stop_message(
    node: NodeId,
    damage: Option<&String>,
    reason: &str,
    corrupt: bool,
) -> Option<String> {
    match damage {
        Some(_) if corrupt => None,
        Some(what) => Some(format!(
            "after its disk was damaged ({what}), member {node} stopped on an error that is not a typed corruption error: {reason}"
        )),
        None => Some(format!(
            "member {node} stopped on a storage error although no injected fault damaged synced data: {reason}"
        )),
    }
}
