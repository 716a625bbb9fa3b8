//! The fast linearizability checker agrees with a brute-force one on thousands of small
//! random histories, valid or not: every order of the operations that respects real time
//! is tried, with each unknown operation either included (anywhere after its call) or not.

use check::model::{step, KeyState};
use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn brute(ops: &[HistoryOp]) -> bool {
    let ops: Vec<&HistoryOp> = ops
        .iter()
        .filter(|o| !matches!(o.outcome, Outcome::Failed))
        .collect();
    fn go(ops: &[&HistoryOp], used: &mut Vec<bool>, state: KeyState, last_call_floor: u64) -> bool {
        let _ = last_call_floor;
        if ops
            .iter()
            .zip(used.iter())
            .all(|(o, u)| *u || !matches!(o.outcome, Outcome::Ok(_)))
        {
            return true;
        }
        for i in 0..ops.len() {
            if used[i] {
                continue;
            }
            // Real time: nothing still unplaced may have returned before i was called.
            let blocked = ops.iter().enumerate().any(|(j, o)| {
                !used[j]
                    && j != i
                    && o.return_ns.is_some_and(|r| r < ops[i].call_ns)
                    && matches!(o.outcome, Outcome::Ok(_))
            });
            if blocked {
                continue;
            }
            let result = match &ops[i].outcome {
                Outcome::Ok(r) => Some(r),
                _ => None,
            };
            if let Some(after) = step(&state, &ops[i].op, result) {
                used[i] = true;
                if go(ops, used, after, 0) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    let mut used = vec![false; ops.len()];
    go(&ops, &mut used, None, 0)
}

/// The checker's internal placeholder for "a value nobody read": a history that uses the
/// same string must not confuse it.
const PLACEHOLDER: &str = "\u{0}(a value nobody read)";

/// A random history on one key, with times from `base` on (near `u64::MAX`, returns
/// reach the largest time).
fn random_history(rng: &mut ChaCha8Rng, unique: bool, base: u64) -> Vec<HistoryOp> {
    let n = rng.gen_range(1..7);
    let values = if unique {
        ["a", PLACEHOLDER, "c", "d", "e", "f", "g"]
    } else {
        ["a", "b", "a", "b", "a", "b", "a"]
    };
    let mut out = Vec::new();
    for i in 0..n {
        let call = base.saturating_add(rng.gen_range(0..20u64));
        let ret = call.saturating_add(rng.gen_range(0..10));
        let value = values[i].to_string();
        let seen = |rng: &mut ChaCha8Rng| {
            if rng.gen_bool(0.3) {
                None
            } else {
                Some(values[rng.gen_range(0..n)].to_string())
            }
        };
        let (op, result) = match rng.gen_range(0..4) {
            0 => (
                Op::Put {
                    key: "k".into(),
                    value,
                },
                OpResult::Put { revision: 0 },
            ),
            1 => (
                Op::Get { key: "k".into() },
                OpResult::Get {
                    value: seen(rng),
                    mod_revision: 0,
                },
            ),
            2 => (
                Op::Delete { key: "k".into() },
                OpResult::Delete {
                    deleted: rng.gen_bool(0.5),
                    revision: 0,
                },
            ),
            _ => (
                Op::Cas {
                    key: "k".into(),
                    compare: Compare::Value(seen(rng)),
                    value,
                },
                OpResult::Cas {
                    succeeded: rng.gen_bool(0.5),
                    revision: 0,
                },
            ),
        };
        let (outcome, return_ns) = match rng.gen_range(0..10) {
            0..=6 => (Outcome::Ok(result), Some(ret)),
            7 | 8 => (Outcome::Unknown, None),
            _ => (Outcome::Failed, Some(ret)),
        };
        out.push(HistoryOp {
            client: i as u64 + 1,
            seq: 1,
            op,
            call_ns: call,
            return_ns,
            outcome,
        });
    }
    out
}

#[test]
fn agrees_with_brute_force_on_small_random_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let (mut yes, mut no) = (0, 0);
    for case in 0..40_000 {
        // Half the cases repeat written values, as histories from other systems may.
        let base = if case % 5 == 4 { u64::MAX - 28 } else { 0 };
        let h = random_history(&mut rng, case % 2 == 0, base);
        let expected = brute(&h);
        let options = check::linearizability::Options {
            revisions: false,
            ..Default::default()
        };
        let got = check::linearizability::check_with(&h, &options).linearizable();
        assert_eq!(
            got, expected,
            "case {case}: fast says {got}, brute force {expected}: {h:#?}"
        );
        if expected {
            yes += 1
        } else {
            no += 1
        }
    }
    // Both kinds occur, so the comparison means something.
    assert!(yes > 1_000 && no > 1_000, "{yes} linearizable, {no} not");
}
