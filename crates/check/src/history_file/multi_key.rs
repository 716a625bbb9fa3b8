//! Multi-key operations in history files: the request and the answer carried whole, in
//! the simulator's JSON shapes (`proto::kv::Op` without its `op` tag, and
//! `proto::kv::OpResult`).
//!
//! ```text
//! {"client": 1, "op": "txn", "key": "a", "request": {"compares": [{"key": "a", "target": {"version": 0}, "op": "equal"}], "success": [{"write": {"write": "put", "key": "a", "value": "1"}}]}, "response": {"txn": {"succeeded": true, "reads": [], "prevs": [null], "revision": 2}}, "call": 5, "return": 9, "status": "ok"}
//! {"client": 2, "op": "range", "key": "a", "request": {"range_end": "b"}, "response": {"range": {"kvs": [], "count": 0, "more": false, "revision": 1}}, "call": 1, "return": 3, "status": "ok"}
//! ```

use super::Line;
use crate::linearizability::AppliedCommand;
use proto::history::HistoryOp;
use proto::kv::{Op, OpResult};
use serde_json::{json, Value};

/// Whether `op` names a multi-key operation.
pub(super) fn is_multi(op: &str) -> bool {
    matches!(op, "range" | "delete-range" | "txn" | "compact")
}

/// The serde tag of each multi-key operation (the file uses the names people read).
fn tag(op: &str) -> &str {
    match op {
        "delete-range" => "delete_range",
        other => other,
    }
}

/// Reads a multi-key line's request.
pub(super) fn operation(l: &Line) -> Result<Op, String> {
    let mut request = match &l.request {
        Some(Value::Object(m)) => m.clone(),
        Some(other) => return Err(format!("\"request\" must be an object, not {other}")),
        None => return Err(format!("a {} needs \"request\"", l.op)),
    };
    if request.contains_key("op") {
        return Err("\"request\" takes the operation's fields; \"op\" belongs to the line".into());
    }
    if l.op != "compact" {
        request.insert("key".into(), json!(l.key));
    }
    request.insert("op".into(), json!(tag(&l.op)));
    let op: Op = serde_json::from_value(Value::Object(request))
        .map_err(|e| format!("\"request\" of a {}: {e}", l.op))?;
    if op.key() != l.key {
        return Err(format!(
            "\"key\" must be the first key the request names ({:?})",
            op.key()
        ));
    }
    Ok(op)
}

/// Reads an ok multi-key line's answer, checking that it answers this kind of request.
pub(super) fn answer(l: &Line, op: &Op) -> Result<OpResult, String> {
    let Some(raw) = &l.response else {
        return Err(format!("an ok {} needs \"response\"", l.op));
    };
    let result: OpResult = serde_json::from_value(raw.clone())
        .map_err(|e| format!("\"response\" of a {}: {e}", l.op))?;
    let fits = matches!(
        (op, &result),
        (_, OpResult::Refused(_))
            | (Op::Range { .. }, OpResult::Range(_))
            | (Op::DeleteRange { .. }, OpResult::DeleteRange { .. })
            | (Op::Txn { .. }, OpResult::Txn(_))
            | (Op::Compact { .. }, OpResult::Compact { .. })
    );
    if !fits {
        return Err(format!("\"response\" {raw} does not answer a {}", l.op));
    }
    if l.output.is_some() || l.revision.is_some() || l.mod_revision.is_some() {
        return Err(format!(
            "a {} carries its answer in \"response\", not \"output\" or revisions",
            l.op
        ));
    }
    Ok(result)
}

/// A multi-key request's fields, for a line (its `op` and first key are on the line).
pub(super) fn request(op: &Op) -> Value {
    let mut v = json!(op);
    if let Value::Object(m) = &mut v {
        m.remove("op");
        m.remove("key");
    }
    v
}

/// The file lines (1-based, after the header) of the writes `applied` names, in order.
pub(super) fn applied_lines(ops: &[HistoryOp], applied: &[AppliedCommand]) -> Vec<usize> {
    let line_of: std::collections::BTreeMap<(u64, u64), usize> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| ((o.client, o.seq), i + 2))
        .collect();
    applied
        .iter()
        .filter(|a| a.fresh)
        .filter_map(|a| line_of.get(&(a.client, a.seq)).copied())
        .collect()
}
