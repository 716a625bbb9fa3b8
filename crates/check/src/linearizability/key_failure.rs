//! What the per-key search reports when no order works (or its budget ran out): the
//! deepest prefix it reached, and the operations none of which could come next.

use super::prepare::{Operation, HIDDEN};
use super::{KeyFailure, TimeUnit};
use crate::model::KeyState;

/// The deepest configuration the search reached, for the report.
#[derive(Default)]
pub(super) struct Best {
    pub prefix: usize,
    pub state: KeyState,
    pub candidates: Vec<usize>,
    pub needers: Vec<usize>,
}

/// The failure to report from the deepest configuration `best`.
pub(super) fn failure(
    key: &str,
    ops: &[Operation],
    best: &Best,
    undecided: bool,
    unit: TimeUnit,
) -> KeyFailure {
    let mut involved: Vec<usize> = best.candidates.clone();
    involved.extend(best.needers.iter().copied());
    involved.sort_unstable();
    involved.dedup();
    let mut clients: Vec<u64> = involved.iter().map(|c| ops[*c].op.client).collect();
    clients.sort_unstable();
    clients.dedup();
    let time_ns = involved
        .iter()
        .filter(|c| ops[**c].completed())
        .map(|c| ops[*c].ret)
        .min()
        .unwrap_or(0);
    let shown = match best.state.as_deref() {
        Some(HIDDEN) => {
            "a value nobody read (written by a put or cas whose value no read returned)".to_string()
        }
        other => format!("{other:?}"),
    };
    let mut text = format!(
        "no linearization: after the longest linearizable prefix ({} of {} completed operations) the key holds {shown}, and none of these can come next:",
        best.prefix,
        ops.iter().filter(|o| o.completed()).count()
    );
    for c in &best.candidates {
        text.push_str("\n    ");
        text.push_str(&ops[*c].describe(unit));
    }
    if !best.needers.is_empty() {
        text.push_str("\n  while these still need the key to hold that value:");
        for c in &best.needers {
            text.push_str("\n    ");
            text.push_str(&ops[*c].describe(unit));
        }
    }
    KeyFailure {
        key: key.to_string(),
        time_ns,
        clients,
        explanation: text,
        undecided,
    }
}
