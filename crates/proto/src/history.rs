//! The client history: every call and return a client made, with simulated times.
//! This is what the linearizability, durability and exactly-once checkers judge.

use crate::kv::{Op, OpResult};
use serde::{Deserialize, Serialize};

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", content = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The operation took effect (or, for a read, was served) with this result.
    Ok(OpResult),
    /// The operation certainly did not take effect.
    Failed,
    /// The client gave up (timeout): the operation may or may not have taken effect, at any
    /// time after its call.
    Unknown,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok(result) => write!(f, "OK: {result}"),
            Outcome::Failed => f.write_str("failed (refused: it certainly took no effect)"),
            Outcome::Unknown => f.write_str("no answer (timed out: may or may not have applied)"),
        }
    }
}

/// One operation of the history: one logical request, however many times it was retried.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HistoryOp {
    /// The client (session) id.
    pub client: u64,
    /// The client's sequence number for this request.
    pub seq: u64,
    /// The operation.
    pub op: Op,
    /// Simulated time of the first call, in nanoseconds since the run began.
    pub call_ns: u64,
    /// Simulated time of the return; `None` if the operation never returned.
    pub return_ns: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
}
