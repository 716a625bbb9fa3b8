//! Liveness once faults stop: within a bound after the last fault is healed a leader
//! exists, and every operation called after that completes, successfully, within a bound.

use crate::{LivenessBounds, Property, Verdict, Violation};
use proto::history::{HistoryOp, Outcome};
use proto::trace::{Event, EventKind, Role};
use proto::NodeId;
use std::collections::BTreeMap;

/// Finds a missing leader or operations left waiting after the faults stopped. A run
/// that ends before a leader is due is not judged (it would pass whatever happened).
pub fn check(events: &[Event], history: &[HistoryOp], bounds: &LivenessBounds) -> Verdict {
    let Some(healed) = bounds.healed_ns else {
        return Verdict::NotJudged("no point after which faults stop".into());
    };
    if let Some(why) = &bounds.unjudgeable {
        return Verdict::NotJudged(why.clone());
    }
    let deadline = healed.saturating_add(bounds.leader_within_ns);
    if deadline > bounds.end_ns {
        return Verdict::NotJudged(format!(
            "the run ends {:.3}s after the faults stop (at {:.3}s), before a leader is due ({:.3}s)",
            bounds.end_ns.saturating_sub(healed) as f64 / 1e9,
            healed as f64 / 1e9,
            bounds.leader_within_ns as f64 / 1e9
        ));
    }
    Verdict::from_violations(violations(events, history, bounds, healed, deadline))
}

fn violations(
    events: &[Event],
    history: &[HistoryOp],
    bounds: &LivenessBounds,
    healed: u64,
    deadline: u64,
) -> Vec<Violation> {
    let mut out = Vec::new();
    {
        // Replay roles up to the deadline.
        let mut role: BTreeMap<NodeId, Role> = BTreeMap::new();
        for e in events.iter().take_while(|e| e.time_ns <= deadline) {
            match e.kind {
                EventKind::Role { node, role: r, .. } => {
                    role.insert(node, r);
                }
                // A removed member is no longer in the configuration liveness is judged on.
                EventKind::Crash { node } | EventKind::MemberRemoved { node } => {
                    role.remove(&node);
                }
                _ => {}
            }
        }
        if !role.values().any(|r| *r == Role::Leader) {
            out.push(Violation {
                property: Property::Liveness,
                time_ns: deadline,
                nodes: role.keys().copied().collect(),
                message: format!(
                    "no leader {:.3}s after the faults stopped (at {:.3}s)",
                    bounds.leader_within_ns as f64 / 1e9,
                    healed as f64 / 1e9
                ),
            });
        }
    }
    for op in history {
        if op.call_ns < deadline || op.call_ns + bounds.op_within_ns > bounds.end_ns {
            continue;
        }
        let took = op.return_ns.map(|r| r - op.call_ns);
        let ok =
            matches!(op.outcome, Outcome::Ok(_)) && took.is_some_and(|t| t <= bounds.op_within_ns);
        if !ok {
            out.push(Violation {
                property: Property::Liveness,
                time_ns: op.call_ns,
                nodes: vec![op.client],
                message: format!(
                    "client {} #{} ({} {}) called {:.3}s after the faults stopped did not succeed within {:.3}s ({:?})",
                    op.client,
                    op.seq,
                    op.op.name(),
                    op.op.key(),
                    (op.call_ns - healed) as f64 / 1e9,
                    bounds.op_within_ns as f64 / 1e9,
                    op.outcome
                ),
            });
            if out.len() > 10 {
                break;
            }
        }
    }
    out
}
