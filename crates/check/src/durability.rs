//! Durability: an acknowledged write is never lost, across crashes and fsync loss, and
//! every member's final state machine agrees with the committed log.
//!
//! - Every write a client saw acknowledged must have been applied by some member (it is
//!   in the committed log). A read that later misses it is a linearizability violation
//!   and is reported there.
//! - Members that end at the same applied index must hold the same state.

use crate::{FinalState, Property, Violation};
use proto::history::{HistoryOp, Outcome};
use proto::trace::{Event, EventKind};
use std::collections::{BTreeMap, BTreeSet};

/// Finds lost acknowledged writes and diverging final states.
pub fn check(events: &[Event], history: &[HistoryOp], finals: &[FinalState]) -> Vec<Violation> {
    let mut applied: BTreeSet<(u64, u64)> = BTreeSet::new();
    for e in events {
        if let EventKind::Applied { client, seq, .. } = e.kind {
            applied.insert((client, seq));
        }
    }
    let mut out = Vec::new();
    for op in history {
        if op.op.is_write()
            && matches!(op.outcome, Outcome::Ok(_))
            && !applied.contains(&(op.client, op.seq))
        {
            out.push(Violation {
                property: Property::Durability,
                time_ns: op.return_ns.unwrap_or(op.call_ns),
                nodes: vec![op.client],
                message: format!(
                    "client {} was told its {} #{} on {} succeeded, but no member ever applied it",
                    op.client,
                    op.op.name(),
                    op.seq,
                    op.op.key()
                ),
            });
            if out.len() > 20 {
                return out;
            }
        }
    }
    let mut by_applied: BTreeMap<u64, Vec<&FinalState>> = BTreeMap::new();
    for f in finals {
        by_applied.entry(f.applied).or_default().push(f);
    }
    for (applied, states) in by_applied {
        if let Some(other) = states.iter().find(|s| s.digest != states[0].digest) {
            out.push(Violation {
                property: Property::Durability,
                time_ns: u64::MAX,
                nodes: vec![states[0].node, other.node],
                message: format!(
                    "members {} and {} both applied up to {applied} but their stores differ",
                    states[0].node, other.node
                ),
            });
        }
    }
    out
}
