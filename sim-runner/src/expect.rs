//! A scenario's expectations, judged after the run from the trace and the history.

use crate::engine::{Mark, RunResult};
use proto::history::Outcome;
use proto::trace::{EventKind, Role};
use proto::NodeId;
use scenario::{Expectation, NodeRef, Scenario};
use std::collections::BTreeSet;

/// Each expectation: its label, whether it held, and what was seen.
pub fn evaluate(scenario: &Scenario, run: &RunResult) -> Vec<(String, bool, String)> {
    scenario
        .expectations
        .iter()
        .map(|e| {
            let e = e.get_ref();
            let label = e.label.clone().unwrap_or_else(|| default_label(e));
            let (ok, detail) = match judge(e, run) {
                Ok(r) => r,
                Err(why) => (false, why),
            };
            (label, ok, detail)
        })
        .collect()
}

fn default_label(e: &Expectation) -> String {
    let mut s = e.kind.clone();
    if let Some(m) = &e.mark {
        s += &format!(" {m}");
    }
    if let Some(NodeRef::Name(n)) = &e.node {
        s += &format!(" {n}");
    }
    if let Some(NodeRef::Id(n)) = &e.node {
        s += &format!(" node {n}");
    }
    s
}

fn node(run: &RunResult, r: &NodeRef) -> Result<NodeId, String> {
    match r {
        NodeRef::Id(n) => Ok(*n),
        NodeRef::Name(name) => match name.strip_prefix('$').and_then(|b| run.bindings.get(b)) {
            Some(nodes) if nodes.len() == 1 => Ok(nodes[0]),
            _ => Err(format!("{name:?} was never saved (did its step fire?)")),
        },
    }
}

fn mark<'a>(run: &'a RunResult, e: &Expectation) -> Result<&'a Mark, String> {
    let name = e.mark.as_deref().unwrap_or_default();
    run.marks
        .get(name)
        .ok_or_else(|| format!("mark {name:?} was never sent (did its step fire?)"))
}

fn step_time(run: &RunResult, e: &Expectation) -> Result<u64, String> {
    let label = e.step.as_deref().unwrap_or_default();
    run.steps
        .iter()
        .find(|s| s.label == label)
        .and_then(|s| s.fired_ns)
        .ok_or_else(|| format!("step {label:?} never fired"))
}

fn judge(e: &Expectation, run: &RunResult) -> Result<(bool, String), String> {
    match e.kind.as_str() {
        "acknowledged" | "not-acknowledged" | "read-not-served" => {
            let m = mark(run, e)?;
            let op = run
                .history
                .iter()
                .find(|o| o.client == m.client)
                .ok_or("the request never finished")?;
            let ok = matches!(op.outcome, Outcome::Ok(_));
            let want_ok = e.kind == "acknowledged";
            Ok((ok == want_ok, format!("the client saw {:?}", op.outcome)))
        }
        "applied-once" => {
            let m = mark(run, e)?;
            Ok(applied_once(run, m.client))
        }
        "never-applied" | "never-committed-before" => {
            let m = mark(run, e)?;
            let before = if e.kind == "never-applied" {
                u64::MAX
            } else {
                step_time(run, e)?
            };
            let first = run.events.iter().find(|ev| {
                ev.time_ns < before
                    && matches!(&ev.kind, EventKind::Applied { client, .. } if *client == m.client)
            });
            Ok(match first {
                None => (true, "no member applied it".into()),
                Some(ev) => (
                    false,
                    format!("applied at {:.3}s: {:?}", ev.time_ns as f64 / 1e9, ev.kind),
                ),
            })
        }
        "truncated" => {
            let m = mark(run, e)?;
            let n = node(run, e.node.as_ref().expect("validated"))?;
            // Where that member held the entry, then a truncation covering it.
            let mut held_at = None;
            for ev in &run.events {
                match &ev.kind {
                    EventKind::LogPersisted { node, entries } if *node == n => {
                        if let Some(id) = entries.iter().find(|id| id.digest == m.digest) {
                            held_at = Some(id.index);
                        }
                    }
                    EventKind::LogTruncated { node, from, last } if *node == n => {
                        if let Some(i) = held_at {
                            if *from <= i && i <= *last {
                                return Ok((
                                    true,
                                    format!(
                                        "member {n} dropped {from}..={last}, which held it at {i}"
                                    ),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok((
                false,
                match held_at {
                    Some(i) => format!("member {n} held it at {i} and never truncated it"),
                    None => format!("member {n} never held it"),
                },
            ))
        }
        "first-leader-after" => {
            let since = step_time(run, e)?;
            let want = node(run, e.node.as_ref().expect("validated"))?;
            let first = run.events.iter().find_map(|ev| match ev.kind {
                EventKind::Role {
                    node,
                    role: Role::Leader,
                    term,
                } if ev.time_ns >= since => Some((node, term)),
                _ => None,
            });
            Ok(match first {
                Some((n, term)) => (
                    n == want,
                    format!("member {n} was the first leader after it (term {term})"),
                ),
                None => (false, "no leader was elected after it".into()),
            })
        }
        "stepped-down" => {
            let n = node(run, e.node.as_ref().expect("validated"))?;
            let since = match &e.step {
                Some(_) => step_time(run, e)?,
                None => 0,
            };
            let mut led_in = None;
            for ev in &run.events {
                if let EventKind::Role { node, role, term } = ev.kind {
                    if node != n {
                        continue;
                    }
                    if role == Role::Leader {
                        led_in = Some(term);
                    } else if ev.time_ns >= since && led_in.is_some() {
                        return Ok((
                            true,
                            format!(
                                "member {n} became {role:?} in term {term} at {:.3}s",
                                ev.time_ns as f64 / 1e9
                            ),
                        ));
                    }
                }
            }
            Ok((false, format!("member {n} never stepped down")))
        }
        "logs-converged" if !run.down_at_end.is_empty() => Ok((
            false,
            format!("members {:?} were down at the end", run.down_at_end),
        )),
        "logs-converged" => {
            let mut seen: Vec<(NodeId, u64, u64, u64)> = run
                .members
                .iter()
                .map(|(n, s)| (*n, s.last_index, s.applied, s.store_digest))
                .collect();
            seen.sort();
            let same = seen
                .windows(2)
                .all(|w| (w[0].1, w[0].2, w[0].3) == (w[1].1, w[1].2, w[1].3));
            if same && !seen.is_empty() {
                let (_, last, applied, d) = seen[0];
                return Ok((
                    true,
                    format!(
                        "{} members at last index {last}, applied {applied}, store {d:016x}",
                        seen.len()
                    ),
                ));
            }
            let shown: Vec<String> = seen
                .iter()
                .map(|(n, last, applied, d)| {
                    format!("{n}: last {last}, applied {applied}, store {d:016x}")
                })
                .collect();
            Ok((false, shown.join("; ")))
        }
        "failpoint-fired" => {
            let n = node(run, e.node.as_ref().expect("validated"))?;
            let fired = run.events.iter().find_map(|ev| match &ev.kind {
                EventKind::Failpoint { node, name, action } if *node == n => Some(format!(
                    "{name} ({action}) fired on member {n} at {:.3}s",
                    ev.time_ns as f64 / 1e9
                )),
                _ => None,
            });
            Ok(match fired {
                Some(d) => (true, d),
                None => (false, format!("no failpoint fired on member {n}")),
            })
        }
        "not-persisted-before" => {
            let m = mark(run, e)?;
            let n = node(run, e.node.as_ref().expect("validated"))?;
            let before = step_time(run, e)?;
            let held = run.events.iter().any(|ev| {
                ev.time_ns < before
                    && matches!(&ev.kind, EventKind::LogPersisted { node, entries } if *node == n && entries.iter().any(|id| id.digest == m.digest))
            });
            Ok((
                !held,
                if held {
                    format!("member {n} had it in its log before")
                } else {
                    format!("member {n} never had it in its log before")
                },
            ))
        }
        other => Err(format!("unknown expectation {other:?}")),
    }
}

/// Whether the marked request (sequence 1 of `client`) took effect at exactly one log
/// index, and every member has it: applied it there (fresh or replayed after a restart),
/// or holds a snapshot that covers that index.
fn applied_once(run: &RunResult, client: u64) -> (bool, String) {
    let mut fresh_at: BTreeSet<u64> = BTreeSet::new();
    let mut applied_by: BTreeSet<NodeId> = BTreeSet::new();
    let mut snapshots: Vec<(NodeId, u64)> = Vec::new();
    for ev in &run.events {
        match &ev.kind {
            EventKind::Applied {
                node,
                entry,
                client: c,
                seq: 1,
                fresh,
            } if *c == client => {
                if *fresh {
                    fresh_at.insert(entry.index);
                }
                applied_by.insert(*node);
            }
            EventKind::SnapshotInstalled { node, index, .. } => snapshots.push((*node, *index)),
            _ => {}
        }
    }
    let members = run.members.len();
    let Some(&index) = fresh_at.iter().next() else {
        return (false, "it never took effect".into());
    };
    let by_snapshot: BTreeSet<NodeId> = snapshots
        .iter()
        .filter(|(n, i)| *i >= index && !applied_by.contains(n))
        .map(|(n, _)| *n)
        .collect();
    let has_it = applied_by.len() + by_snapshot.len();
    let detail = if fresh_at.len() > 1 {
        format!("it took effect at {} indexes: {fresh_at:?}", fresh_at.len())
    } else {
        format!(
            "it took effect once, at index {index}; {has_it} of {members} members have it ({} by applying it, {} through a snapshot)",
            applied_by.len(),
            by_snapshot.len()
        )
    };
    (fresh_at.len() == 1 && has_it == members, detail)
}
