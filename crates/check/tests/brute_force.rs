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

/// One key's state with etcd's revisions: (value, modification revision, store revision).
type RevState = (Option<String>, u64, u64);

/// Applies `op` with its observed result (`None`: unknown) under etcd's revision rules;
/// `None` when the result is impossible.
fn rev_step(s: &RevState, op: &Op, result: Option<&OpResult>) -> Option<RevState> {
    let (value, modr, rev) = s.clone();
    let created = rev + 1;
    match (op, result) {
        (Op::Put { value: v, .. }, r) => {
            let ok = r.is_none_or(|r| *r == OpResult::Put { revision: created });
            ok.then(|| (Some(v.clone()), created, created))
        }
        (
            Op::Get { .. },
            Some(OpResult::Get {
                value: v,
                mod_revision,
            }),
        ) => (*v == value && *mod_revision == modr).then_some(s.clone()),
        (Op::Get { .. }, _) => Some(s.clone()),
        (Op::Delete { .. }, r) => {
            let (after, revision) = if value.is_some() {
                ((None, 0, created), created)
            } else {
                (s.clone(), rev)
            };
            let expected = OpResult::Delete {
                deleted: value.is_some(),
                revision,
            };
            r.is_none_or(|r| *r == expected).then_some(after)
        }
        (
            Op::Cas {
                compare, value: v, ..
            },
            r,
        ) => {
            let holds = match compare {
                Compare::Value(e) => *e == value,
                Compare::ModRevision(m) => *m == modr,
            };
            let (after, revision) = if holds {
                ((Some(v.clone()), created, created), created)
            } else {
                (s.clone(), rev)
            };
            let expected = OpResult::Cas {
                succeeded: holds,
                revision,
            };
            r.is_none_or(|r| *r == expected).then_some(after)
        }
    }
}

/// Every real-time order, each unknown operation in or out, under [`rev_step`].
fn brute_with_revisions(ops: &[HistoryOp]) -> bool {
    let ops: Vec<&HistoryOp> = ops
        .iter()
        .filter(|o| !matches!(o.outcome, Outcome::Failed))
        .collect();
    fn go(ops: &[&HistoryOp], used: &mut Vec<bool>, state: RevState) -> bool {
        let pending =
            |used: &[bool], j: usize| !used[j] && matches!(ops[j].outcome, Outcome::Ok(_));
        if !(0..ops.len()).any(|j| pending(used, j)) {
            return true;
        }
        for i in 0..ops.len() {
            let blocked = (0..ops.len()).any(|j| {
                j != i && pending(used, j) && ops[j].return_ns.is_some_and(|r| r < ops[i].call_ns)
            });
            if used[i] || blocked {
                continue;
            }
            let result = match &ops[i].outcome {
                Outcome::Ok(r) => Some(r),
                _ => None,
            };
            if let Some(after) = rev_step(&state, &ops[i].op, result) {
                used[i] = true;
                if go(ops, used, after) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    let mut used = vec![false; ops.len()];
    go(&ops, &mut used, (None, 0, 0))
}

/// Changes one answered operation's revision (or a compare's revision) by a little.
fn perturb(rng: &mut ChaCha8Rng, h: &mut [HistoryOp]) {
    let i = rng.gen_range(0..h.len());
    let delta = |rng: &mut ChaCha8Rng, r: &mut u64| {
        *r = if rng.gen_bool(0.5) {
            r.saturating_sub(1)
        } else {
            *r + 1
        }
    };
    if let Op::Cas {
        compare: Compare::ModRevision(r),
        ..
    } = &mut h[i].op
    {
        if rng.gen_bool(0.5) {
            delta(rng, r);
            return;
        }
    }
    if let Outcome::Ok(
        OpResult::Put { revision }
        | OpResult::Delete { revision, .. }
        | OpResult::Cas { revision, .. }
        | OpResult::Get {
            mod_revision: revision,
            ..
        },
    ) = &mut h[i].outcome
    {
        delta(rng, revision)
    }
}

#[test]
fn revision_verdicts_never_contradict_a_brute_force_model_of_revisions() {
    // The fast checker judges revisions by rules every legal execution obeys, so it must
    // never call a history that the exact model accepts a violation; on histories made
    // valid by construction it must accept; and it must catch most perturbed ones.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut bad, mut caught) = (0, 0);
    for case in 0..20_000u64 {
        let mut h = check::generate::generate(case, 6, 3, 1, 200_000);
        let valid = case % 2 == 0;
        if !valid {
            perturb(&mut rng, &mut h);
        }
        let exact = brute_with_revisions(&h);
        let fast = check::linearizability::check(&h).linearizable();
        assert!(
            fast || !exact,
            "case {case}: a false alarm on a history the exact model accepts: {h:#?}"
        );
        if valid {
            assert!(exact, "case {case}: the generator made an invalid history");
        } else if !exact {
            bad += 1;
            caught += usize::from(!fast);
        }
    }
    eprintln!("revisions: caught {caught} of {bad} invalid perturbed histories");
    assert!(bad > 1_000, "only {bad} perturbed histories were invalid");
    // Gaps in the revisions (a write whose revision skips one) are not caught key by key,
    // so not every one is; most are.
    assert!(caught * 10 >= bad * 6, "caught {caught} of {bad}");
}
