//! One run as a Chrome trace-event file, which Perfetto (ui.perfetto.dev) and
//! chrome://tracing open: a process per member with its roles and terms as spans, its
//! crashes, restarts and pauses as instants, Raft messages as flow arrows from sender to
//! receiver, every client operation as a span on its client's track, and the scenario's
//! steps, network faults and violations as global instants.

use crate::judge::RunResult;
use proto::trace::{EventKind, MessageSummary};
use proto::NodeId;
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// The process that holds every client's track.
const CLIENTS: u64 = 1_000_000;
/// The thread of a member's process that holds its role spans.
const ROLE_TRACK: u64 = 1;
/// The thread that holds its messages and instants.
const EVENT_TRACK: u64 = 2;

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

fn instant(name: &str, ns: u64, pid: u64, scope: &str) -> Value {
    json!({"name": name, "ph": "i", "s": scope, "ts": us(ns), "pid": pid, "tid": EVENT_TRACK})
}

/// The trace of `run`, with `about` (scenario, seed, canaries, build) as metadata.
pub fn chrome_trace(run: &RunResult, about: Value) -> Value {
    let mut out: Vec<Value> = Vec::new();
    names(run, &mut out);
    roles(run, &mut out);
    messages(run, &mut out);
    for e in &run.events {
        let (name, pid, scope) = match &e.kind {
            EventKind::Crash { node } => ("crashed".to_string(), *node, "p"),
            EventKind::Restart { node } => ("restarted".to_string(), *node, "p"),
            EventKind::Pause { node } => ("paused".to_string(), *node, "p"),
            EventKind::Resume { node } => ("resumed".to_string(), *node, "p"),
            EventKind::Stopped { node, reason, .. } => (format!("stopped: {reason}"), *node, "p"),
            EventKind::DiskDamaged { node, what } => (format!("disk damaged: {what}"), *node, "p"),
            EventKind::Step { label } => (format!("step: {label}"), 0, "g"),
            EventKind::Partition { groups } => (format!("partition {groups:?}"), 0, "g"),
            EventKind::CutLink { from, to } => (format!("cut {from} -> {to}"), 0, "g"),
            EventKind::Heal => ("heal".to_string(), 0, "g"),
            EventKind::ConfChangeProposed { node, change, .. } => {
                (format!("membership change proposed: {change}"), *node, "p")
            }
            EventKind::MemberRemoved { node } => ("removed from the cluster".into(), *node, "p"),
            _ => continue,
        };
        out.push(instant(&name, e.time_ns, pid, scope));
    }
    for op in &run.history {
        let end = op.return_ns.unwrap_or(run.end_ns).max(op.call_ns);
        out.push(json!({
            "name": format!("{} {}", op.op.name(), op.op.key()),
            "ph": "X", "ts": us(op.call_ns), "dur": us(end - op.call_ns),
            "pid": CLIENTS, "tid": op.client,
            "args": {"seq": op.seq, "outcome": op.outcome.to_string()},
        }));
    }
    for (p, v) in &run.verdicts {
        for violation in v.violations() {
            let at = violation.time_ns.min(run.end_ns);
            let name = format!("VIOLATION {}: {}", p.name(), violation.message);
            out.push(instant(&name, at, 0, "g"));
        }
    }
    json!({"traceEvents": out, "displayTimeUnit": "ms", "metadata": about})
}

/// Process and thread names.
fn names(run: &RunResult, out: &mut Vec<Value>) {
    let meta = |pid: u64, tid: Option<u64>, what: &str, name: String| {
        let mut v = json!({"name": what, "ph": "M", "pid": pid, "args": {"name": name}});
        if let Some(t) = tid {
            v["tid"] = json!(t);
        }
        v
    };
    out.push(meta(0, None, "process_name", "scenario".into()));
    for m in run.members.keys() {
        out.push(meta(*m, None, "process_name", format!("member {m}")));
        out.push(meta(*m, Some(ROLE_TRACK), "thread_name", "role".into()));
        out.push(meta(
            *m,
            Some(EVENT_TRACK),
            "thread_name",
            "messages".into(),
        ));
    }
    out.push(meta(CLIENTS, None, "process_name", "clients".into()));
}

/// Each member's role and term as back-to-back spans, closed by a crash or the end.
fn roles(run: &RunResult, out: &mut Vec<Value>) {
    let mut open: BTreeMap<NodeId, (u64, String)> = BTreeMap::new();
    let close = |node: NodeId, at: u64, out: &mut Vec<Value>, open: &mut BTreeMap<_, _>| {
        if let Some((start, name)) = open.remove(&node) {
            out.push(json!({"name": name, "ph": "X", "ts": us(start),
                "dur": us(at - start), "pid": node, "tid": ROLE_TRACK}));
        }
    };
    for e in &run.events {
        match &e.kind {
            EventKind::Role { node, role, term } => {
                close(*node, e.time_ns, out, &mut open);
                let name = role.name();
                open.insert(*node, (e.time_ns, format!("{name} (term {term})")));
            }
            EventKind::Crash { node } | EventKind::Stopped { node, .. } => {
                close(*node, e.time_ns, out, &mut open)
            }
            _ => {}
        }
    }
    let nodes: Vec<NodeId> = open.keys().copied().collect();
    for n in nodes {
        close(n, run.end_ns, out, &mut open);
    }
}

/// Raft messages as flow arrows: each delivery is matched to the earliest unmatched
/// send of the same message between the same members.
fn messages(run: &RunResult, out: &mut Vec<Value>) {
    let mut sent: BTreeMap<(NodeId, NodeId, String), VecDeque<u64>> = BTreeMap::new();
    let mut next_id = 0u64;
    let label = |m: &MessageSummary| match m.kind {
        Some(k) => format!("{} t{} i{} n{}", k.name(), m.term, m.index, m.entries),
        None => String::new(),
    };
    for e in &run.events {
        match &e.kind {
            EventKind::Send { from, to, msg } if msg.kind.is_some() => {
                next_id += 1;
                let name = label(msg);
                out.push(
                    json!({"name": name, "cat": "raft", "ph": "s", "id": next_id,
                    "ts": us(e.time_ns), "pid": from, "tid": EVENT_TRACK}),
                );
                sent.entry((*from, *to, name))
                    .or_default()
                    .push_back(next_id);
            }
            EventKind::Deliver { from, to, msg } if msg.kind.is_some() => {
                let name = label(msg);
                if let Some(id) = sent
                    .get_mut(&(*from, *to, name.clone()))
                    .and_then(|q| q.pop_front())
                {
                    out.push(json!({"name": name, "cat": "raft", "ph": "f", "bp": "e",
                        "id": id, "ts": us(e.time_ns), "pid": to, "tid": EVENT_TRACK}));
                }
            }
            _ => {}
        }
    }
}
