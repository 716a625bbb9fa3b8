//! A standalone history file format, so histories from other systems can be checked:
//! JSON lines, one operation a line.
//!
//! ```text
//! {"client": 1, "op": "put",    "key": "x", "value": "a", "call": 10, "return": 20, "status": "ok"}
//! {"client": 2, "op": "get",    "key": "x", "output": "a", "call": 15, "return": 30, "status": "ok"}
//! {"client": 3, "op": "cas",    "key": "x", "expected": "a", "value": "b", "output": true, "call": 40, "return": null, "status": "unknown"}
//! {"client": 1, "op": "delete", "key": "x", "output": true, "call": 50, "return": 60, "status": "ok"}
//! ```
//!
//! - `op`: `put`, `get`, `delete` or `cas`; `key` a string.
//! - `value`: the value written (put, cas). `expected`: the value cas compares with
//!   (`null`: the key is absent).
//! - `output`: for get the value read (`null`: absent); for delete whether the key
//!   existed; for cas whether it succeeded. Ignored unless `status` is `ok`.
//! - `call`, `return`: times in any one unit, integers; `return` is `null` or missing
//!   when the operation never returned.
//! - `status`: `ok` (it happened, with `output`), `fail` (it certainly did not happen) or
//!   `unknown` (it may have happened at any time after `call`).
//!
//! Unknown fields are errors, so typos do not pass silently. Errors name the line.

use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use serde::Deserialize;
use serde_json::Value;

/// A line that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct HistoryFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
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
    output: Option<Value>,
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
pub fn parse(text: &str) -> Result<Vec<HistoryOp>, HistoryFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let err = |message: String| HistoryFileError { line, message };
        let l: Line = serde_json::from_str(raw).map_err(|e| err(e.to_string()))?;
        let need_value = || {
            l.value
                .clone()
                .ok_or_else(|| err(format!("{} needs \"value\"", l.op)))
        };
        let op = match l.op.as_str() {
            "put" => Op::Put {
                key: l.key.clone(),
                value: need_value()?,
            },
            "get" => Op::Get { key: l.key.clone() },
            "delete" => Op::Delete { key: l.key.clone() },
            "cas" => {
                let expected = match &l.expected {
                    None => return Err(err("cas needs \"expected\" (null for absent)".into())),
                    Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => {
                        return Err(err(format!(
                            "\"expected\" must be a string or null, not {other}"
                        )))
                    }
                };
                Op::Cas {
                    key: l.key.clone(),
                    compare: Compare::Value(expected),
                    value: need_value()?,
                }
            }
            other => return Err(err(format!("unknown op {other:?} (put, get, delete, cas)"))),
        };
        if let Some(r) = l.ret {
            if r < l.call {
                return Err(err(format!(
                    "returns at {r}, before its call at {}",
                    l.call
                )));
            }
        }
        let outcome = match l.status.as_str() {
            "ok" => {
                let output = l.output.clone().unwrap_or(Value::Null);
                let result = match (&op, &output) {
                    (Op::Put { .. }, _) => OpResult::Put { revision: 0 },
                    (Op::Get { .. }, Value::Null) => OpResult::Get {
                        value: None,
                        mod_revision: 0,
                    },
                    (Op::Get { .. }, Value::String(s)) => OpResult::Get {
                        value: Some(s.clone()),
                        mod_revision: 0,
                    },
                    (Op::Delete { .. }, Value::Bool(b)) => OpResult::Delete {
                        deleted: *b,
                        revision: 0,
                    },
                    (Op::Cas { .. }, Value::Bool(b)) => OpResult::Cas {
                        succeeded: *b,
                        revision: 0,
                    },
                    (op, v) => {
                        return Err(err(format!(
                            "\"output\" {v} does not fit a {} (get: string or null; delete, cas: true or false)",
                            op.name()
                        )))
                    }
                };
                if l.ret.is_none() {
                    return Err(err("an ok operation needs \"return\"".into()));
                }
                Outcome::Ok(result)
            }
            "fail" => Outcome::Failed,
            "unknown" => Outcome::Unknown,
            other => return Err(err(format!("unknown status {other:?} (ok, fail, unknown)"))),
        };
        out.push(HistoryOp {
            client: l.client,
            seq: i as u64 + 1,
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
    Ok(out)
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
        let ops = parse(text).unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[2].return_ns, None);
        let bad = "{\"client\": 1, \"op\": \"put\", \"key\": \"x\", \"value\": \"a\", \"call\": 10, \"return\": 20, \"status\": \"ok\"}\n{\"client\": 1, \"op\": \"put\", \"key\": \"x\", \"valu\": \"a\", \"call\": 10, \"status\": \"ok\"}";
        assert_eq!(parse(bad).unwrap_err().line, 2);
        let bad = "{\"client\": 1, \"op\": \"get\", \"key\": \"x\", \"output\": 5, \"call\": 1, \"return\": 2, \"status\": \"ok\"}";
        assert!(parse(bad).unwrap_err().message.contains("does not fit"));
    }
}
