//! The workload's multi-key operations: etcd's range, delete-range, transaction and
//! compaction, drawn over the workload's keys (`k0`, `k1`, …) so that they overlap the
//! single-key operations, with compares built on what the client last saw (so that some
//! hold and some fail) and values unique to the request.

use proto::kv::{Op, OpResult};
use proto::store::{Compare, CompareOp, RangeOptions, Target, TxnOp, Write};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What a draw needs besides the random stream.
pub(crate) struct Draw {
    /// Number of keys.
    pub keys: u64,
    /// The request's unique value (a txn's puts suffix it with their position).
    pub value: String,
    /// The highest store revision the client has seen.
    pub revision: u64,
}

fn key(i: u64) -> String {
    format!("k{i}")
}

/// A range `[k{a}, k{b})` or one key or everything from a key on (keys sort as text, so
/// `k10` comes before `k2`).
fn range(rng: &mut ChaCha8Rng, keys: u64) -> (String, String) {
    let a = rng.gen_range(0..keys);
    let end = match rng.gen_range(0..4) {
        0 => String::new(),
        1 => "\0".to_string(),
        _ => key(rng.gen_range(0..keys)),
    };
    (key(a), end)
}

/// Draws operation `kind` (5: range, 6: delete-range, 7: txn, 8: compact); `seen(i)` is
/// what the client last saw of key `i`: its value and modification revision.
pub(crate) fn draw(
    rng: &mut ChaCha8Rng,
    kind: usize,
    d: &Draw,
    seen: impl Fn(u64) -> (Option<String>, u64),
) -> Op {
    match kind {
        5 => {
            let (key, range_end) = range(rng, d.keys);
            let past = d.revision > 2 && rng.gen_bool(0.25);
            let options = RangeOptions {
                // Mostly within the store's retained history, sometimes below it.
                revision: if past {
                    d.revision.saturating_sub(rng.gen_range(1..80)).max(1)
                } else {
                    0
                },
                limit: if rng.gen_bool(0.25) {
                    rng.gen_range(1..4)
                } else {
                    0
                },
                count_only: rng.gen_bool(0.1),
                keys_only: rng.gen_bool(0.1),
            };
            Op::Range {
                key,
                range_end,
                options,
            }
        }
        6 => {
            let (key, range_end) = range(rng, d.keys);
            Op::DeleteRange {
                key,
                range_end,
                prev_kv: rng.gen_bool(0.5),
            }
        }
        7 => txn(rng, d, seen),
        _ => Op::Compact {
            revision: d.revision.saturating_sub(rng.gen_range(0..10)).max(1),
        },
    }
}

/// A transaction: compares on one or two keys as the client last saw them (equal, or
/// sometimes not), then puts to up to three distinct keys and a read of the first; the
/// failure branch reads the compared keys.
fn txn(rng: &mut ChaCha8Rng, d: &Draw, seen: impl Fn(u64) -> (Option<String>, u64)) -> Op {
    let mut compares = Vec::new();
    let mut failure = Vec::new();
    for _ in 0..rng.gen_range(1..=2) {
        let i = rng.gen_range(0..d.keys);
        let (value, mod_revision) = seen(i);
        let target = match rng.gen_range(0..3) {
            0 => Target::Mod(mod_revision),
            1 => Target::Value(value.unwrap_or_default()),
            _ => Target::Version(0),
        };
        let op = if rng.gen_bool(0.8) {
            CompareOp::Equal
        } else {
            CompareOp::NotEqual
        };
        compares.push(Compare {
            key: key(i),
            target,
            op,
        });
        failure.push(TxnOp::Range {
            key: key(i),
            range_end: String::new(),
        });
    }
    let mut written = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        let i = rng.gen_range(0..d.keys);
        if !written.contains(&i) {
            written.push(i);
        }
    }
    let mut success: Vec<TxnOp> = written
        .iter()
        .enumerate()
        .map(|(n, i)| {
            TxnOp::Write(Write::Put {
                key: key(*i),
                value: format!("{}-{n}", d.value),
                lease: 0,
            })
        })
        .collect();
    success.push(TxnOp::Range {
        key: key(written[0]),
        range_end: String::new(),
    });
    Op::Txn {
        compares,
        success,
        failure,
    }
}

/// The store revision an answer reports (0 when it reports none).
pub(crate) fn revision_of(result: &OpResult) -> u64 {
    match result {
        OpResult::Put { revision }
        | OpResult::Delete { revision, .. }
        | OpResult::Cas { revision, .. }
        | OpResult::DeleteRange { revision, .. }
        | OpResult::Compact { revision, .. } => *revision,
        OpResult::Range(r) => r.revision,
        OpResult::Txn(t) => t.revision,
        OpResult::Get { mod_revision, .. } => *mod_revision,
        OpResult::Refused(_) => 0,
    }
}
