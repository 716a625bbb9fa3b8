//! A standalone history file format, so histories from other systems can be checked, and
//! so the simulator's runs can be judged by outside checkers (`--history`): JSON lines,
//! one operation a line.
//!
//! ```text
//! {"client": 1, "op": "put",    "key": "x", "value": "a", "call": 10, "return": 20, "status": "ok"}
//! {"client": 2, "op": "get",    "key": "x", "output": "a", "call": 15, "return": 30, "status": "ok"}
//! {"client": 3, "op": "cas",    "key": "x", "expected": "a", "value": "b", "call": 40, "return": null, "status": "unknown"}
//! {"client": 4, "op": "cas",    "key": "y", "expected": null, "value": "c", "output": true, "call": 41, "return": 45, "status": "ok"}
//! {"client": 1, "op": "delete", "key": "x", "output": true, "call": 50, "return": 60, "status": "ok"}
//! ```
//!
//! - `op`: `put`, `get`, `delete` or `cas`; `key` a string.
//! - `value`: the value written (put, cas). `expected`: the value cas compares with
//!   (`null`: the key is absent, so the cas creates it). Or, instead of `expected`,
//!   `expected_revision`: cas compares the key's modification revision (0: absent).
//! - `output`: for get the value read (`null`: absent); for delete whether the key
//!   existed; for cas whether it succeeded. Ignored unless `status` is `ok`.
//! - Revisions (optional, but all or none): `revision` on every ok put, delete and cas
//!   (the store's revision after it, etcd's header revision) and `mod_revision` on every
//!   ok get (the key's modification revision, 0 when absent). When present they are
//!   judged too (see the linearizability module).
//! - Multi-key operations (`range`, `delete-range`, `txn`, `compact`) carry their request
//!   and, when `ok`, their answer whole, in the shapes of the simulator's JSON: `key` is
//!   the first key the request names (`""` for a compaction), `request` the request's
//!   fields, `response` the answer (see `multi_key.rs` and the reference).
//! - `call`, `return`: times in any one unit, integers up to 2^64-1; `return` is `null`
//!   or missing when the operation never returned.
//! - `status`: `ok` (it happened, with `output`), `fail` (it certainly did not happen and
//!   never will) or `unknown` (it may have happened at any time after `call`).
//!
//! - A header line, first and optional: `{"complete": true}` says the history is
//!   complete: it records every write, and the store started empty at revision
//!   `start_revision` (optional, 0 when not given; etcd and the simulator start at 1). Then
//!   every revision up to the highest one seen must have been made by a recorded write
//!   (a gap is a violation). Without it (a history of some keys of a shared store, say),
//!   revisions may also have been made by writes outside the history, though never to its
//!   keys, which start absent. The simulator's exports carry the header. `applied`
//!   (optional) lists the lines of the writes the log applied, in the order it applied
//!   them: a history with multi-key operations is judged in that order, and is undecided
//!   without it.
//!
//! A client is one sequential process: it calls an operation only after its previous one
//! returned, or after it gave up on it (`return` null); a history where one client has
//! two operations in flight at once is refused, with the line.
//!
//! Unknown fields are errors, so typos do not pass silently. Errors name the line.

mod multi_key;

use crate::linearizability::AppliedCommand;
use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A line that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct HistoryFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed history file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryFile {
    /// The operations, in file order (sequence numbers are line numbers).
    pub ops: Vec<HistoryOp>,
    /// Whether the file records revisions (then every answered operation does).
    pub revisions: bool,
    /// Whether the header line declares the history complete.
    pub complete: bool,
    /// The revision the store started at (0 unless the header says).
    pub start_revision: u64,
    /// The order the log applied the writes in, when the header gives it.
    pub applied: Option<Vec<AppliedCommand>>,
}

/// The optional first line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    complete: bool,
    #[serde(default)]
    start_revision: u64,
    #[serde(default)]
    applied: Option<Vec<usize>>,
}

/// Whether `raw` is a header line (an object with a top-level key "complete").
fn is_header(raw: &str) -> bool {
    raw.contains("\"complete\"")
        && serde_json::from_str::<Value>(raw).is_ok_and(|v| v.get("complete").is_some())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    client: u64,
    op: String,
    key: String,
    #[serde(default)]
    value: Option<String>,
    /// `Some(Value::Null)` when written as `null`, `None` when missing (serde alone
    /// reads both as `None`).
    #[serde(default, deserialize_with = "present")]
    expected: Option<Value>,
    #[serde(default)]
    expected_revision: Option<u64>,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    revision: Option<u64>,
    #[serde(default)]
    mod_revision: Option<u64>,
    /// A multi-key operation's request fields.
    #[serde(default)]
    request: Option<Value>,
    /// A multi-key operation's answer.
    #[serde(default)]
    response: Option<Value>,
    call: u64,
    #[serde(default, rename = "return")]
    ret: Option<u64>,
    status: String,
}

/// Deserializes a field that is present, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Parses a history file.
pub fn parse(text: &str) -> Result<HistoryFile, HistoryFileError> {
    let mut ops = Vec::new();
    // (line, whether it is answered, whether it records its revision)
    let mut recorded: Vec<(usize, bool, bool)> = Vec::new();
    let mut complete = false;
    let mut header_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let err = |message: String| HistoryFileError { line, message };
        if is_header(raw) {
            if !ops.is_empty() || complete {
                return Err(err(
                    "the header line {\"complete\": ...} must come first, once".into(),
                ));
            }
            let header: Header = serde_json::from_str(raw).map_err(|e| err(e.to_string()))?;
            complete = header.complete;
            header_line = Some((line, header));
            continue;
        }
        let l: Line = serde_json::from_str(raw).map_err(|e| err(e.to_string()))?;
        let op = operation(&l).map_err(err)?;
        if let Some(r) = l.ret {
            if r < l.call {
                return Err(err(format!(
                    "returns at {r}, before its call at {}",
                    l.call
                )));
            }
        }
        let outcome = outcome(&l, &op).map_err(err)?;
        let has = l.revision.is_some() || l.mod_revision.is_some() || !op.is_single_key();
        recorded.push((line, matches!(outcome, Outcome::Ok(_)), has));
        ops.push(HistoryOp {
            client: l.client,
            seq: line as u64,
            op,
            call_ns: l.call,
            return_ns: if matches!(outcome, Outcome::Unknown) {
                None
            } else {
                l.ret
            },
            outcome,
        });
    }
    let lines: Vec<usize> = recorded.iter().map(|(line, ..)| *line).collect();
    sequential_clients(&ops, &lines)?;
    let revisions = recorded.iter().any(|(_, _, has)| *has);
    if revisions {
        if let Some((line, ..)) = recorded.iter().find(|(_, ok, has)| *ok && !*has) {
            return Err(HistoryFileError {
                line: *line,
                message: "an ok operation without \"revision\" (\"mod_revision\" for a get), while other lines record revisions: record them on every ok line or on none".into(),
            });
        }
    }
    let (start_revision, applied) = match header_line {
        Some((line, h)) => (h.start_revision, applied_order(&ops, h.applied, line)?),
        None => (0, None),
    };
    Ok(HistoryFile {
        ops,
        revisions,
        complete,
        start_revision,
        applied,
    })
}

/// The header's `applied` lines as commands, each checked to name a write of the file.
fn applied_order(
    ops: &[HistoryOp],
    lines: Option<Vec<usize>>,
    header: usize,
) -> Result<Option<Vec<AppliedCommand>>, HistoryFileError> {
    let Some(lines) = lines else { return Ok(None) };
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let Some(op) = ops.iter().find(|o| o.seq == line as u64 && o.op.is_write()) else {
            return Err(HistoryFileError {
                line: header,
                message: format!(
                    "\"applied\" names line {line}, which holds no write of this file"
                ),
            });
        };
        out.push(AppliedCommand {
            index: i as u64 + 1,
            client: op.client,
            seq: op.seq,
            fresh: true,
        });
    }
    Ok(Some(out))
}

/// Each client is one sequential process: it calls an operation only once its previous
/// one returned, or once it gave up on it (an operation with no return). `lines` gives
/// each operation's line.
fn sequential_clients(ops: &[HistoryOp], lines: &[usize]) -> Result<(), HistoryFileError> {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|i| (ops[*i].client, ops[*i].call_ns, *i));
    for pair in order.windows(2) {
        let (a, b) = (&ops[pair[0]], &ops[pair[1]]);
        if a.client != b.client {
            continue;
        }
        if let Some(ret) = a.return_ns.filter(|r| b.call_ns < *r) {
            return Err(HistoryFileError {
                line: lines[pair[1]],
                message: format!(
                    "client {} calls this at {} while its operation on line {} (returned at {ret}) is still in flight: a client runs one operation at a time",
                    b.client, b.call_ns, lines[pair[0]]
                ),
            });
        }
    }
    Ok(())
}

fn operation(l: &Line) -> Result<Op, String> {
    let need_value = || {
        l.value
            .clone()
            .ok_or_else(|| format!("{} needs \"value\"", l.op))
    };
    if multi_key::is_multi(&l.op) {
        return multi_key::operation(l);
    }
    let key = l.key.clone();
    Ok(match l.op.as_str() {
        "put" => Op::Put {
            key,
            value: need_value()?,
        },
        "get" => Op::Get { key },
        "delete" => Op::Delete { key },
        "cas" => {
            let compare = match (&l.expected, l.expected_revision) {
                (Some(_), Some(_)) => {
                    return Err("cas takes \"expected\" or \"expected_revision\", not both".into())
                }
                (None, Some(r)) => Compare::ModRevision(r),
                (None, None) => {
                    return Err(
                        "cas needs \"expected\" (null for absent) or \"expected_revision\"".into(),
                    )
                }
                (Some(Value::Null), None) => Compare::Value(None),
                (Some(Value::String(s)), None) => Compare::Value(Some(s.clone())),
                (Some(other), None) => {
                    return Err(format!(
                        "\"expected\" must be a string or null, not {other}"
                    ))
                }
            };
            Op::Cas {
                key,
                compare,
                value: need_value()?,
            }
        }
        other => {
            return Err(format!(
                "unknown op {other:?} (put, get, delete, cas, range, delete-range, txn, compact)"
            ))
        }
    })
}

fn outcome(l: &Line, op: &Op) -> Result<Outcome, String> {
    match l.status.as_str() {
        "ok" => {}
        "fail" => return Ok(Outcome::Failed),
        "unknown" => return Ok(Outcome::Unknown),
        other => return Err(format!("unknown status {other:?} (ok, fail, unknown)")),
    }
    if l.ret.is_none() {
        return Err("an ok operation needs \"return\"".into());
    }
    if !op.is_single_key() {
        return multi_key::answer(l, op).map(Outcome::Ok);
    }
    let output = l.output.clone().unwrap_or(Value::Null);
    let revision = l.revision.unwrap_or(0);
    let result = match (op, &output) {
        (Op::Put { .. }, _) => OpResult::Put { revision },
        (Op::Get { .. }, Value::Null) => OpResult::Get {
            value: None,
            mod_revision: l.mod_revision.unwrap_or(0),
        },
        (Op::Get { .. }, Value::String(s)) => OpResult::Get {
            value: Some(s.clone()),
            mod_revision: l.mod_revision.unwrap_or(0),
        },
        (Op::Delete { .. }, Value::Bool(b)) => OpResult::Delete {
            deleted: *b,
            revision,
        },
        (Op::Cas { .. }, Value::Bool(b)) => OpResult::Cas {
            succeeded: *b,
            revision,
        },
        (op, v) => {
            return Err(format!(
            "\"output\" {v} does not fit a {} (get: string or null; delete, cas: true or false)",
            op.name()
        ))
        }
    };
    if matches!(op, Op::Get { .. }) && l.revision.is_some() {
        return Err("a get records \"mod_revision\", not \"revision\"".into());
    }
    if !matches!(op, Op::Get { .. }) && l.mod_revision.is_some() {
        return Err(format!(
            "a {} records \"revision\", not \"mod_revision\"",
            op.name()
        ));
    }
    Ok(Outcome::Ok(result))
}

/// Writes a history in this format, revisions included (one line per operation), after
/// the header line when it is `complete`.
pub fn write(ops: &[HistoryOp], complete: bool) -> String {
    write_with(ops, complete, 0, None)
}

/// [`write`], with the revision the store started at and, when known, the order the log
/// applied the writes in (written as `applied` when the history has multi-key
/// operations: those are judged in it).
pub fn write_with(
    ops: &[HistoryOp],
    complete: bool,
    start_revision: u64,
    applied: Option<&[AppliedCommand]>,
) -> String {
    let mut out = String::new();
    let multi = !ops.iter().all(|o| o.op.is_single_key());
    if complete {
        let mut header = json!({"complete": true, "start_revision": start_revision});
        if let (true, Some(applied)) = (multi, applied) {
            header["applied"] = json!(multi_key::applied_lines(ops, applied));
        }
        out.push_str(&header.to_string());
        out.push('\n');
    }
    for op in ops {
        out.push_str(&line(op).to_string());
        out.push('\n');
    }
    out
}

fn line(op: &HistoryOp) -> Value {
    let mut m = Map::new();
    m.insert("client".into(), json!(op.client));
    m.insert("op".into(), json!(op.op.name()));
    m.insert("key".into(), json!(op.op.key()));
    match &op.op {
        Op::Put { value, .. } => {
            m.insert("value".into(), json!(value));
        }
        Op::Cas { compare, value, .. } => {
            match compare {
                Compare::Value(v) => m.insert("expected".into(), json!(v)),
                Compare::ModRevision(r) => m.insert("expected_revision".into(), json!(r)),
            };
            m.insert("value".into(), json!(value));
        }
        Op::Get { .. } | Op::Delete { .. } => {}
        other => {
            m.insert("request".into(), multi_key::request(other));
        }
    }
    let status = match &op.outcome {
        Outcome::Ok(result) if !op.op.is_single_key() => {
            m.insert("response".into(), json!(result));
            "ok"
        }
        Outcome::Ok(result) => {
            let (output, revision) = match result {
                OpResult::Put { revision } => (None, ("revision", revision)),
                OpResult::Get {
                    value,
                    mod_revision,
                } => (Some(json!(value)), ("mod_revision", mod_revision)),
                OpResult::Delete { deleted, revision } => {
                    (Some(json!(deleted)), ("revision", revision))
                }
                OpResult::Cas {
                    succeeded,
                    revision,
                } => (Some(json!(succeeded)), ("revision", revision)),
                _ => unreachable!("multi-key answers are written whole, above"),
            };
            if let Some(o) = output {
                m.insert("output".into(), o);
            }
            m.insert(revision.0.into(), json!(revision.1));
            "ok"
        }
        Outcome::Failed => "fail",
        Outcome::Unknown => "unknown",
    };
    m.insert("call".into(), json!(op.call_ns));
    m.insert("return".into(), json!(op.return_ns));
    m.insert("status".into(), json!(status));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_operation_and_rejects_mistakes_with_their_line() {
        let text = r#"{"client": 1, "op": "put", "key": "x", "value": "a", "call": 10, "return": 20, "status": "ok"}
{"client": 2, "op": "get", "key": "x", "output": "a", "call": 15, "return": 30, "status": "ok"}

{"client": 3, "op": "cas", "key": "x", "expected": "a", "value": "b", "call": 40, "status": "unknown"}
{"client": 1, "op": "delete", "key": "x", "output": true, "call": 50, "return": 60, "status": "ok"}"#;
        let file = parse(text).unwrap();
        assert_eq!(file.ops.len(), 4);
        assert_eq!(file.ops[2].return_ns, None);
        assert!(!file.revisions);
        let bad = "{\"client\": 1, \"op\": \"put\", \"key\": \"x\", \"value\": \"a\", \"call\": 10, \"return\": 20, \"status\": \"ok\"}\n{\"client\": 1, \"op\": \"put\", \"key\": \"x\", \"valu\": \"a\", \"call\": 10, \"status\": \"ok\"}";
        assert_eq!(parse(bad).unwrap_err().line, 2);
        let bad = "{\"client\": 1, \"op\": \"get\", \"key\": \"x\", \"output\": 5, \"call\": 1, \"return\": 2, \"status\": \"ok\"}";
        assert!(parse(bad).unwrap_err().message.contains("does not fit"));
    }

    #[test]
    fn revisions_are_all_or_none_and_round_trip() {
        let text = r#"{"client": 1, "op": "put", "key": "x", "value": "a", "revision": 1, "call": 10, "return": 20, "status": "ok"}
{"client": 2, "op": "get", "key": "x", "output": "a", "mod_revision": 1, "call": 25, "return": 30, "status": "ok"}
{"client": 3, "op": "cas", "key": "x", "expected_revision": 1, "value": "b", "output": true, "revision": 2, "call": 40, "return": 45, "status": "ok"}
{"client": 4, "op": "cas", "key": "y", "expected": null, "value": "c", "call": 41, "return": null, "status": "unknown"}"#;
        let file = parse(text).unwrap();
        assert!(file.revisions);
        assert_eq!(parse(&write(&file.ops, false)).unwrap().ops, file.ops);
        let declared = parse(&write(&file.ops, true)).unwrap();
        assert!(declared.complete && !file.complete);
        // Sequence numbers are line numbers, one further down after the header.
        let shifted: Vec<u64> = file.ops.iter().map(|o| o.seq + 1).collect();
        assert_eq!(
            declared.ops.iter().map(|o| o.seq).collect::<Vec<_>>(),
            shifted
        );
        let missing = text.replace(r#", "mod_revision": 1"#, "");
        let err = parse(&missing).unwrap_err();
        assert_eq!(err.line, 2, "{}", err.message);
        let both = text.replace(
            r#""expected_revision": 1"#,
            r#""expected": "a", "expected_revision": 1"#,
        );
        assert!(parse(&both).unwrap_err().message.contains("not both"));
    }

    #[test]
    fn the_header_comes_first_once_and_is_checked() {
        let op = r#"{"client": 1, "op": "put", "key": "x", "value": "a", "call": 1, "return": 2, "status": "ok"}"#;
        assert!(
            parse(&format!("{{\"complete\": true}}\n{op}"))
                .unwrap()
                .complete
        );
        assert!(
            !parse(&format!("{{\"complete\": false}}\n{op}"))
                .unwrap()
                .complete
        );
        let late = parse(&format!("{op}\n{{\"complete\": true}}")).unwrap_err();
        assert_eq!(late.line, 2, "{}", late.message);
        let twice = parse("{\"complete\": true}\n{\"complete\": true}").unwrap_err();
        assert_eq!(twice.line, 2, "{}", twice.message);
        let typo = parse("{\"complete\": true, \"x\": 1}").unwrap_err();
        assert_eq!(typo.line, 1, "{}", typo.message);
        let not_bool = parse("{\"complete\": \"yes\"}").unwrap_err();
        assert_eq!(not_bool.line, 1, "{}", not_bool.message);
    }
}
