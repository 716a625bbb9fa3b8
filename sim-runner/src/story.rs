//! The story of a run: the events a reader needs to follow what happened, as table rows.

use crate::judge::RunResult;
use proto::trace::{EventKind, Role};
use proto::NodeId;
use std::collections::BTreeMap;
use tabled::Tabled;

/// One line of the story.
#[derive(Tabled, Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Simulated time.
    #[tabled(rename = "time (s)")]
    pub time: String,
    /// What happened.
    pub event: String,
    /// The member (or client) concerned.
    pub node: String,
    /// The term, where it matters.
    pub term: String,
}

fn row(time_ns: u64, event: String, node: Option<NodeId>, term: Option<u64>) -> Row {
    Row {
        time: format!("{:.3}", time_ns as f64 / 1e9),
        event,
        node: node.map_or(String::new(), |n| n.to_string()),
        term: term.map_or(String::new(), |t| t.to_string()),
    }
}

/// The story rows of a run.
pub fn story(run: &RunResult) -> Vec<Row> {
    let mut teller = Teller {
        mark_of_digest: run
            .marks
            .iter()
            .map(|(n, m)| (m.digest, n.as_str()))
            .collect(),
        mark_of_client: run
            .marks
            .iter()
            .map(|(n, m)| (m.client, n.as_str()))
            .collect(),
        role: BTreeMap::new(),
        held: BTreeMap::new(),
        out: Vec::new(),
    };
    for e in &run.events {
        match plain_line(&e.kind) {
            Some((text, node, term)) => teller.out.push(row(e.time_ns, text, node, term)),
            None => teller.see(e.time_ns, &e.kind),
        }
    }
    teller.out
}

/// A line of the story: what happened, the member it happened to, and its term.
type Line = (String, Option<NodeId>, Option<u64>);

/// A line for the events told the same whatever came before.
fn plain_line(kind: &EventKind) -> Option<Line> {
    let line = match kind {
        EventKind::Step { label } => (format!("▶ {label}"), None, None),
        EventKind::Restart { node } => ("restarted".into(), Some(*node), None),
        EventKind::Pause { node } => ("paused".into(), Some(*node), None),
        EventKind::Resume { node } => ("resumed".into(), Some(*node), None),
        EventKind::SnapshotInstalled { node, index, term } => (
            format!("installed a snapshot at {index}"),
            Some(*node),
            Some(*term),
        ),
        EventKind::Note { node, text } if *node != 0 => (text.clone(), Some(*node), None),
        EventKind::ClusterFormed { voters } => {
            (format!("cluster formed: voters {voters:?}"), None, None)
        }
        EventKind::ConfChangeProposed {
            node,
            entry,
            change,
        } => (
            format!("proposed a membership change at {}: {change}", entry.index),
            Some(*node),
            Some(entry.term),
        ),
        EventKind::MemberRemoved { node } => (
            "removed from the cluster: stops serving".into(),
            Some(*node),
            None,
        ),
        EventKind::Stopped { node, reason, .. } => (
            format!("storage error, the member stops: {reason}"),
            Some(*node),
            None,
        ),
        _ => return fault_line(kind),
    };
    Some(line)
}

/// A line for an injected fault: to the network, a disk, or a failpoint.
fn fault_line(kind: &EventKind) -> Option<Line> {
    let line = match kind {
        EventKind::Partition { groups } => (format!("network partitioned: {groups:?}"), None, None),
        EventKind::CutLink { from, to } => (format!("link {from} -> {to} cut"), None, None),
        EventKind::Heal => ("network healed".into(), None, None),
        EventKind::Released { count } => (format!("{count} held messages released"), None, None),
        EventKind::NetworkConfig {
            loss_ppm,
            duplicate_ppm,
            latency_min_us,
            latency_max_us,
        } => (
            format!(
                "network: loss {:.1}%, duplication {:.1}%, latency {}-{} ms",
                *loss_ppm as f64 / 1e4,
                *duplicate_ppm as f64 / 1e4,
                latency_min_us / 1000,
                latency_max_us / 1000
            ),
            None,
            None,
        ),
        EventKind::DiskCrash {
            node,
            kept,
            dropped,
            torn,
        } => (
            format!("disk lost power: {kept} unsynced writes kept, {dropped} lost, {torn} torn"),
            Some(*node),
            None,
        ),
        EventKind::Failpoint { node, name, action } => {
            (format!("failpoint {name}: {action}"), Some(*node), None)
        }
        EventKind::DiskDamaged { node, what } => {
            (format!("disk damaged: {what}"), Some(*node), None)
        }
        _ => return None,
    };
    Some(line)
}

/// What the story remembers while it reads the trace.
struct Teller<'a> {
    mark_of_digest: BTreeMap<u64, &'a str>,
    mark_of_client: BTreeMap<NodeId, &'a str>,
    role: BTreeMap<NodeId, Role>,
    /// (mark, node) -> (index, term) where that node holds it, until committed there
    held: BTreeMap<(&'a str, NodeId), (u64, u64)>,
    out: Vec<Row>,
}

impl Teller<'_> {
    /// The events whose line depends on what came before (roles, marked entries).
    fn see(&mut self, t: u64, kind: &EventKind) {
        match kind {
            EventKind::Role { node, role, term } => self.role(t, *node, *role, *term),
            EventKind::Crash { node } => {
                self.role.remove(node);
                self.out.push(row(t, "crashed".into(), Some(*node), None))
            }
            EventKind::LogTruncated { node, from, last } => {
                self.held.retain(|(_, n), (i, _)| *n != *node || *i < *from);
                let text =
                    format!("log truncated: entries {from}..={last} overwritten by the leader's");
                self.out.push(row(t, text, Some(*node), None))
            }
            EventKind::LogPersisted { node, entries } => {
                for id in entries {
                    self.persisted(t, *node, id.digest, id.index, id.term);
                }
            }
            EventKind::Committed { node, index, .. } => self.committed(t, *node, *index),
            EventKind::ClientSend { client, to, op, .. } => {
                if let Some(mark) = self.mark_of_client.get(client) {
                    let text = format!("client sends {mark} ({op}) to member {to}");
                    self.out.push(row(t, text, Some(*to), None));
                }
            }
            EventKind::ClientDone { client, status, .. } => {
                if let Some(mark) = self.mark_of_client.get(client) {
                    let text = format!("client: {mark} -> {status}");
                    self.out.push(row(t, text, None, None));
                }
            }
            _ => {}
        }
    }

    fn role(&mut self, t: u64, node: NodeId, role: Role, term: u64) {
        let before = self.role.insert(node, role);
        let text = match role {
            Role::Leader => "became leader",
            Role::Candidate => "campaigns",
            Role::Follower if before == Some(Role::Leader) => "stepped down to follower",
            _ => return,
        };
        self.out.push(row(t, text.into(), Some(node), Some(term)));
    }

    fn persisted(&mut self, t: u64, node: NodeId, digest: u64, index: u64, term: u64) {
        let Some(mark) = self.mark_of_digest.get(&digest).copied() else {
            return;
        };
        self.held.insert((mark, node), (index, term));
        let verb = if self.role.get(&node) == Some(&Role::Leader) {
            "accepted (in its WAL)"
        } else {
            "replicated to this member"
        };
        let text = format!("{mark} at index {index}: {verb}");
        self.out.push(row(t, text, Some(node), Some(term)));
    }

    fn committed(&mut self, t: u64, node: NodeId, index: u64) {
        let done: Vec<(&str, NodeId)> = self
            .held
            .iter()
            .filter(|((_, n), (i, _))| *n == node && *i <= index)
            .map(|(k, _)| *k)
            .collect();
        for key in done {
            let (i, term) = self.held.remove(&key).expect("listed above");
            let text = format!("{} at index {i}: committed", key.0);
            self.out.push(row(t, text, Some(node), Some(term)));
        }
    }
}
