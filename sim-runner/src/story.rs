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
    let mark_of_digest: BTreeMap<u64, &str> = run
        .marks
        .iter()
        .map(|(n, m)| (m.digest, n.as_str()))
        .collect();
    let mark_of_client: BTreeMap<NodeId, &str> = run
        .marks
        .iter()
        .map(|(n, m)| (m.client, n.as_str()))
        .collect();
    let mut role: BTreeMap<NodeId, Role> = BTreeMap::new();
    // (mark, node) -> index where that node holds it, until committed there
    let mut held: BTreeMap<(&str, NodeId), (u64, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &run.events {
        let t = e.time_ns;
        match &e.kind {
            EventKind::Step { label } => out.push(row(t, format!("▶ {label}"), None, None)),
            EventKind::Role {
                node,
                role: r,
                term,
            } => {
                let before = role.insert(*node, *r);
                let text = match r {
                    Role::Leader => Some("became leader".to_string()),
                    Role::Candidate => Some("campaigns".to_string()),
                    Role::Follower if before == Some(Role::Leader) => {
                        Some("stepped down to follower".to_string())
                    }
                    _ => None,
                };
                if let Some(text) = text {
                    out.push(row(t, text, Some(*node), Some(*term)));
                }
            }
            EventKind::Crash { node } => {
                role.remove(node);
                out.push(row(t, "crashed".into(), Some(*node), None))
            }
            EventKind::Restart { node } => out.push(row(t, "restarted".into(), Some(*node), None)),
            EventKind::Pause { node } => out.push(row(t, "paused".into(), Some(*node), None)),
            EventKind::Resume { node } => out.push(row(t, "resumed".into(), Some(*node), None)),
            EventKind::Partition { groups } => out.push(row(
                t,
                format!("network partitioned: {groups:?}"),
                None,
                None,
            )),
            EventKind::CutLink { from, to } => {
                out.push(row(t, format!("link {from} -> {to} cut"), None, None))
            }
            EventKind::Heal => out.push(row(t, "network healed".into(), None, None)),
            EventKind::Released { count } => out.push(row(
                t,
                format!("{count} held messages released"),
                None,
                None,
            )),
            EventKind::NetworkConfig {
                loss_ppm,
                duplicate_ppm,
                latency_min_us,
                latency_max_us,
            } => out.push(row(
                t,
                format!(
                    "network: loss {:.1}%, duplication {:.1}%, latency {}-{} ms",
                    *loss_ppm as f64 / 1e4,
                    *duplicate_ppm as f64 / 1e4,
                    latency_min_us / 1000,
                    latency_max_us / 1000
                ),
                None,
                None,
            )),
            EventKind::DiskCrash {
                node,
                kept,
                dropped,
                torn,
            } => out.push(row(
                t,
                format!(
                    "disk lost power: {kept} unsynced writes kept, {dropped} lost, {torn} torn"
                ),
                Some(*node),
                None,
            )),
            EventKind::Failpoint { node, name, action } => out.push(row(
                t,
                format!("failpoint {name}: {action}"),
                Some(*node),
                None,
            )),
            EventKind::LogTruncated { node, from, last } => {
                held.retain(|(_, n), (i, _)| *n != *node || *i < *from);
                out.push(row(
                    t,
                    format!("log truncated: entries {from}..={last} overwritten by the leader's"),
                    Some(*node),
                    None,
                ))
            }
            EventKind::SnapshotInstalled { node, index, term } => out.push(row(
                t,
                format!("installed a snapshot at {index}"),
                Some(*node),
                Some(*term),
            )),
            EventKind::LogPersisted { node, entries } => {
                for id in entries {
                    if let Some(mark) = mark_of_digest.get(&id.digest) {
                        held.insert((mark, *node), (id.index, id.term));
                        let verb = if role.get(node) == Some(&Role::Leader) {
                            "accepted (in its WAL)"
                        } else {
                            "replicated to this member"
                        };
                        out.push(row(
                            t,
                            format!("{mark} at index {}: {verb}", id.index),
                            Some(*node),
                            Some(id.term),
                        ));
                    }
                }
            }
            EventKind::Committed { node, index, .. } => {
                let done: Vec<(&str, NodeId)> = held
                    .iter()
                    .filter(|((_, n), (i, _))| n == node && i <= index)
                    .map(|(k, _)| *k)
                    .collect();
                for key in done {
                    let (i, term) = held.remove(&key).expect("listed above");
                    out.push(row(
                        t,
                        format!("{} at index {i}: committed", key.0),
                        Some(*node),
                        Some(term),
                    ));
                }
            }
            EventKind::ClientSend { client, to, op, .. } => {
                if let Some(mark) = mark_of_client.get(client) {
                    out.push(row(
                        t,
                        format!("client sends {mark} ({op}) to member {to}"),
                        Some(*to),
                        None,
                    ));
                }
            }
            EventKind::ClientDone { client, status, .. } => {
                if let Some(mark) = mark_of_client.get(client) {
                    out.push(row(t, format!("client: {mark} -> {status}"), None, None));
                }
            }
            EventKind::Note { node, text } if *node != 0 => {
                out.push(row(t, text.clone(), Some(*node), None))
            }
            EventKind::Stopped { node, reason } => out.push(row(
                t,
                format!("storage error, the member stops: {reason}"),
                Some(*node),
                None,
            )),
            _ => {}
        }
    }
    out
}
