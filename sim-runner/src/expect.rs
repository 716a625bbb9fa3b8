//! A scenario's expectations, judged after the run from the trace and the history.

use crate::engine::Recording;

use crate::timeline::Mark;
use proto::history::Outcome;
use proto::trace::{EventKind, Role};
use proto::NodeId;
use scenario::{Expect, NodeRef, Scenario};
use std::collections::BTreeSet;

/// One expectation judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectationVerdict {
    /// The expectation, as the scenario names it.
    pub label: String,
    /// Whether it held.
    pub held: bool,
    /// What was seen.
    pub detail: String,
}

/// Each expectation: its label, whether it held, and what was seen.
pub fn evaluate(scenario: &Scenario, run: &Recording) -> Vec<ExpectationVerdict> {
    scenario
        .expectations
        .iter()
        .map(|e| {
            let (held, detail) = judge(&e.kind, run).unwrap_or_else(|why| (false, why));
            ExpectationVerdict {
                label: e.describe(),
                held,
                detail,
            }
        })
        .collect()
}

fn node(run: &Recording, r: &NodeRef) -> Result<NodeId, String> {
    match r {
        NodeRef::Id(n) => Ok(*n),
        NodeRef::Saved(name) => match run.bindings.get(name) {
            Some(nodes) if nodes.len() == 1 => Ok(nodes[0]),
            _ => Err(format!("\"{r}\" was never saved (did its step fire?)")),
        },
        other => Err(format!(
            "\"{other}\" depends on the moment: an expectation names a member by number or \"$saved\""
        )),
    }
}

fn mark<'a>(run: &'a Recording, name: &str) -> Result<&'a Mark, String> {
    run.marks
        .get(name)
        .ok_or_else(|| format!("mark {name:?} was never sent (did its step fire?)"))
}

fn step_time(run: &Recording, label: &str) -> Result<u64, String> {
    run.steps
        .iter()
        .find(|s| s.label == label)
        .and_then(|s| s.fired_ns)
        .ok_or_else(|| format!("step {label:?} never fired"))
}

fn judge(e: &Expect, run: &Recording) -> Result<(bool, String), String> {
    match e {
        Expect::Acknowledged { mark: m } => answered(run, m, true),
        Expect::NotAcknowledged { mark: m } | Expect::ReadNotServed { mark: m } => {
            answered(run, m, false)
        }
        Expect::AppliedOnce { mark: m } => Ok(applied_once(run, mark(run, m)?.client)),
        Expect::NeverApplied { mark: m } => never_applied(run, mark(run, m)?, u64::MAX),
        Expect::NeverCommittedBefore { mark: m, step } => {
            never_applied(run, mark(run, m)?, step_time(run, step)?)
        }
        Expect::Truncated { mark: m, node: n } => Ok(truncated(run, mark(run, m)?, node(run, n)?)),
        Expect::FirstLeaderAfter { node: n, step } => Ok(first_leader_after(
            run,
            node(run, n)?,
            step_time(run, step)?,
        )),
        Expect::SteppedDown { node: n, step } => {
            let since = match step {
                Some(label) => step_time(run, label)?,
                None => 0,
            };
            Ok(stepped_down(run, node(run, n)?, since))
        }
        Expect::LogsConverged {} => Ok(logs_converged(run)),
        Expect::Configuration { voters, learners } => Ok(configuration(run, voters, learners)),
        Expect::Removed { node: n } => {
            let n = node(run, n)?;
            let removed = run
                .events
                .iter()
                .any(|ev| matches!(ev.kind, EventKind::MemberRemoved { node } if node == n));
            Ok((
                removed,
                format!(
                    "member {n} {}",
                    if removed {
                        "stopped, removed"
                    } else {
                        "was never told it was removed"
                    }
                ),
            ))
        }
        Expect::FailpointFired { node: n } => Ok(failpoint_fired(run, node(run, n)?)),
        Expect::NotPersistedBefore {
            mark: m,
            node: n,
            step,
        } => Ok(not_persisted_before(
            run,
            mark(run, m)?,
            node(run, n)?,
            step_time(run, step)?,
        )),
    }
}

/// Whether the marked request's client saw OK (`want_ok`) or not.
fn answered(run: &Recording, m: &str, want_ok: bool) -> Result<(bool, String), String> {
    let m = mark(run, m)?;
    let op = run
        .history
        .iter()
        .find(|o| o.client == m.client)
        .ok_or("the request never finished")?;
    let ok = matches!(op.outcome, Outcome::Ok(_));
    Ok((ok == want_ok, format!("the client saw {}", op.outcome)))
}

fn never_applied(run: &Recording, m: &Mark, before: u64) -> Result<(bool, String), String> {
    let first = run.events.iter().find_map(|ev| match &ev.kind {
        EventKind::Applied {
            node,
            entry,
            client,
            ..
        } if ev.time_ns < before && *client == m.client => Some((ev.time_ns, *node, entry.index)),
        _ => None,
    });
    Ok(match first {
        None => (true, "no member applied it".into()),
        Some((t, node, index)) => (
            false,
            format!(
                "member {node} applied it at index {index} at {:.3}s",
                t as f64 / 1e9
            ),
        ),
    })
}

/// Where member `n` held the entry, then a truncation covering it.
fn truncated(run: &Recording, m: &Mark, n: NodeId) -> (bool, String) {
    let mut held_at = None;
    for ev in &run.events {
        match &ev.kind {
            EventKind::LogPersisted { node, entries } if *node == n => {
                if let Some(id) = entries.iter().find(|id| id.digest == m.digest) {
                    held_at = Some(id.index);
                }
            }
            EventKind::LogTruncated { node, from, last } if *node == n => {
                if let Some(i) = held_at.filter(|i| from <= i && i <= last) {
                    let seen = format!("member {n} dropped {from}..={last}, which held it at {i}");
                    return (true, seen);
                }
            }
            _ => {}
        }
    }
    let seen = match held_at {
        Some(i) => format!("member {n} held it at {i} and never truncated it"),
        None => format!("member {n} never held it"),
    };
    (false, seen)
}

fn first_leader_after(run: &Recording, want: NodeId, since: u64) -> (bool, String) {
    let first = run.events.iter().find_map(|ev| match ev.kind {
        EventKind::Role {
            node,
            role: Role::Leader,
            term,
        } if ev.time_ns >= since => Some((node, term)),
        _ => None,
    });
    match first {
        Some((n, term)) => (
            n == want,
            format!("member {n} was the first leader after it (term {term})"),
        ),
        None => (false, "no leader was elected after it".into()),
    }
}

fn stepped_down(run: &Recording, n: NodeId, since: u64) -> (bool, String) {
    let mut led = false;
    for ev in &run.events {
        if let EventKind::Role { node, role, term } = ev.kind {
            if node != n {
                continue;
            }
            if role == Role::Leader {
                led = true;
            } else if ev.time_ns >= since && led {
                let at = ev.time_ns as f64 / 1e9;
                return (
                    true,
                    format!("member {n} became {role} in term {term} at {at:.3}s"),
                );
            }
        }
    }
    (false, format!("member {n} never stepped down"))
}

/// Members not in the cluster at the end: removed (they stopped), wiped (they must not
/// come back under their id; a scenario replaces them), or started for a change that was
/// refused (never in a configuration they applied, by the checkers' model).
fn gone(run: &Recording) -> Vec<NodeId> {
    let mut configs = check::configuration::Configs::new(&run.events);
    for ev in &run.events {
        configs.apply(&ev.kind);
    }
    let never_in = run.members.keys().copied().filter(|n| {
        let c = configs.of(*n);
        !c.is_voter(*n) && !c.learners.contains(n)
    });
    let mut gone: Vec<NodeId> = run
        .events
        .iter()
        .filter_map(|ev| match &ev.kind {
            EventKind::MemberRemoved { node } => Some(*node),
            EventKind::DiskDamaged { node, what } if what.starts_with("wiped") => Some(*node),
            _ => None,
        })
        .chain(never_in)
        .collect();
    gone.sort_unstable();
    gone.dedup();
    gone
}

/// Whether every remaining member ends in the configuration given.
fn configuration(run: &Recording, voters: &[u64], learners: &[u64]) -> (bool, String) {
    let mut configs = check::configuration::Configs::new(&run.events);
    for ev in &run.events {
        configs.apply(&ev.kind);
    }
    let gone = gone(run);
    let want = check::configuration::Conf {
        voters: voters.iter().copied().collect(),
        outgoing: Default::default(),
        learners: learners.iter().copied().collect(),
    };
    let wrong: Vec<String> = run
        .members
        .keys()
        .filter(|n| !gone.contains(n))
        .map(|n| (*n, configs.of(*n)))
        .filter(|(_, c)| *c != want)
        .map(|(n, c)| format!("{n}: {c} learners {:?}", c.learners))
        .collect();
    if wrong.is_empty() {
        (
            true,
            format!("every remaining member ends in {want}, learners {learners:?}"),
        )
    } else {
        (false, wrong.join("; "))
    }
}

fn logs_converged(run: &Recording) -> (bool, String) {
    let gone = gone(run);
    let down: Vec<&NodeId> = run
        .down_at_end
        .iter()
        .filter(|n| !gone.contains(n))
        .collect();
    if !down.is_empty() {
        return (false, format!("members {down:?} were down at the end"));
    }
    let mut seen: Vec<(NodeId, u64, u64, u64)> = run
        .members
        .iter()
        .filter(|(n, _)| !gone.contains(n))
        .map(|(n, s)| (*n, s.last_index, s.applied, s.store_digest))
        .collect();
    seen.sort();
    let same = seen
        .windows(2)
        .all(|w| (w[0].1, w[0].2, w[0].3) == (w[1].1, w[1].2, w[1].3));
    if same && !seen.is_empty() {
        let (_, last, applied, d) = seen[0];
        let n = seen.len();
        return (
            true,
            format!("{n} members at last index {last}, applied {applied}, store {d:016x}"),
        );
    }
    let shown: Vec<String> = seen
        .iter()
        .map(|(n, last, applied, d)| format!("{n}: last {last}, applied {applied}, store {d:016x}"))
        .collect();
    (false, shown.join("; "))
}

fn failpoint_fired(run: &Recording, n: NodeId) -> (bool, String) {
    let fired = run.events.iter().find_map(|ev| match &ev.kind {
        EventKind::Failpoint { node, name, action } if *node == n => Some(format!(
            "{name} ({action}) fired on member {n} at {:.3}s",
            ev.time_ns as f64 / 1e9
        )),
        _ => None,
    });
    match fired {
        Some(d) => (true, d),
        None => (false, format!("no failpoint fired on member {n}")),
    }
}

fn not_persisted_before(run: &Recording, m: &Mark, n: NodeId, before: u64) -> (bool, String) {
    let held = run.events.iter().any(|ev| {
        ev.time_ns < before
            && matches!(&ev.kind, EventKind::LogPersisted { node, entries } if *node == n && entries.iter().any(|id| id.digest == m.digest))
    });
    if held {
        (false, format!("member {n} had it in its log before"))
    } else {
        (true, format!("member {n} never had it in its log before"))
    }
}

/// Whether the marked request (sequence 1 of `client`) took effect at exactly one log
/// index, and every member has it: applied it there (fresh or replayed after a restart),
/// or holds a snapshot that covers that index.
fn applied_once(run: &Recording, client: u64) -> (bool, String) {
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
