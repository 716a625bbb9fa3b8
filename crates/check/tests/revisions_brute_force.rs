//! With revisions, the checker's verdict is exactly a brute-force search's, on thousands
//! of small histories (at most 8 operations over 2 keys) made by a reference model of
//! etcd's store and then changed in one field at random: every order that respects real
//! time is tried, each unknown operation taking effect (at any revision it may take) or
//! not. Both for complete histories and for histories with writes outside them.

use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The whole store: key → (value, modification revision), and the store revision.
#[derive(Clone, Debug)]
struct Store {
    keys: BTreeMap<String, (String, u64)>,
    revision: u64,
}

/// What applying an operation at one point gives: the store after it, and the result it
/// would answer.
fn apply(s: &Store, op: &Op, created: u64) -> (Store, OpResult) {
    let mut after = s.clone();
    let cell = s.keys.get(op.key());
    let mut write = |value: Option<&String>| {
        after.revision = created;
        match value {
            Some(v) => after
                .keys
                .insert(op.key().to_string(), (v.clone(), created)),
            None => after.keys.remove(op.key()),
        };
    };
    let result = match op {
        Op::Put { value, .. } => {
            write(Some(value));
            OpResult::Put { revision: created }
        }
        Op::Get { .. } => OpResult::Get {
            value: cell.map(|c| c.0.clone()),
            mod_revision: cell.map_or(0, |c| c.1),
        },
        Op::Delete { .. } => {
            let deleted = cell.is_some();
            if deleted {
                write(None);
            }
            let revision = if deleted { created } else { s.revision };
            OpResult::Delete { deleted, revision }
        }
        Op::Cas { compare, value, .. } => {
            let holds = match compare {
                Compare::Value(e) => cell.map(|c| &c.0) == e.as_ref(),
                Compare::ModRevision(r) => cell.map_or(0, |c| c.1) == *r,
            };
            if holds {
                write(Some(value));
            }
            let revision = if holds { created } else { s.revision };
            OpResult::Cas {
                succeeded: holds,
                revision,
            }
        }
        other => unreachable!("single-key histories only, not {}", other.name()),
    };
    (after, result)
}

/// The revisions an operation may create at a point: the next one in a complete history;
/// with writes outside the history, any later one (those above every revision the
/// history mentions are all alike, so one more than the highest is enough).
fn revisions(s: &Store, complete: bool, highest: u64) -> std::ops::RangeInclusive<u64> {
    if complete {
        s.revision + 1..=s.revision + 1
    } else {
        s.revision + 1..=highest.max(s.revision) + 1
    }
}

/// Whether some order of `ops` explains every answer.
fn brute(ops: &[HistoryOp], complete: bool) -> bool {
    let ops: Vec<&HistoryOp> = ops
        .iter()
        .filter(|o| !matches!(o.outcome, Outcome::Failed))
        .collect();
    let highest = ops
        .iter()
        .map(|o| reported(o).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let start = Store {
        keys: BTreeMap::new(),
        revision: 0,
    };
    go(&ops, &mut vec![false; ops.len()], &start, complete, highest)
}

fn go(ops: &[&HistoryOp], used: &mut Vec<bool>, s: &Store, complete: bool, highest: u64) -> bool {
    let pending = |used: &[bool], j: usize| !used[j] && matches!(ops[j].outcome, Outcome::Ok(_));
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
        for created in revisions(s, complete, highest) {
            let (mut after, result) = apply(s, &ops[i].op, created);
            let fits = match &ops[i].outcome {
                Outcome::Ok(answer) => answers_match(answer, &result, &mut after, complete),
                _ => true,
            };
            if fits {
                used[i] = true;
                if go(ops, used, &after, complete, highest) {
                    return true;
                }
                used[i] = false;
            }
        }
    }
    false
}

/// Whether the recorded answer is the one the model gives. With writes outside the
/// history, an answer that changed nothing may report a later store revision (the outside
/// writes came first): the store moves up to it.
fn answers_match(answer: &OpResult, model: &OpResult, after: &mut Store, complete: bool) -> bool {
    match (answer, model) {
        (
            OpResult::Delete {
                deleted: false,
                revision: r,
            },
            OpResult::Delete {
                deleted: false,
                revision: m,
            },
        )
        | (
            OpResult::Cas {
                succeeded: false,
                revision: r,
            },
            OpResult::Cas {
                succeeded: false,
                revision: m,
            },
        ) if !complete && r >= m => {
            after.revision = *r;
            true
        }
        _ => answer == model,
    }
}

/// The revision an answer reports or observes (a get's modification revision).
fn revision_mut(result: &mut OpResult) -> &mut u64 {
    match result {
        OpResult::Put { revision }
        | OpResult::Delete { revision, .. }
        | OpResult::Cas { revision, .. }
        | OpResult::Get {
            mod_revision: revision,
            ..
        } => revision,
        other => unreachable!("single-key histories only, not {other}"),
    }
}

/// The revision an answered operation reports or observes.
fn reported(op: &HistoryOp) -> Option<u64> {
    match &op.outcome {
        Outcome::Ok(result) => Some(*revision_mut(&mut result.clone())),
        _ => None,
    }
}

/// Changes one field of one operation a little: a revision, a compare's revision, what a
/// get read, whether a delete or cas reports success, or an answer into an unknown.
fn perturb(rng: &mut ChaCha8Rng, h: &mut [HistoryOp]) {
    let i = rng.gen_range(0..h.len());
    let nudge = |rng: &mut ChaCha8Rng, r: &mut u64| {
        *r = if rng.gen_bool(0.5) {
            r.saturating_sub(1)
        } else {
            *r + 1
        }
    };
    let values: Vec<String> = h
        .iter()
        .filter_map(|o| match &o.op {
            Op::Put { value, .. } | Op::Cas { value, .. } => Some(value.clone()),
            _ => None,
        })
        .collect();
    let op = &mut h[i];
    match (rng.gen_range(0..4), &mut op.op, &mut op.outcome) {
        (
            0,
            Op::Cas {
                compare: Compare::ModRevision(r),
                ..
            },
            _,
        ) => nudge(rng, r),
        (1, _, Outcome::Ok(OpResult::Get { value, .. })) => {
            *value = values.get(rng.gen_range(0..=values.len())).cloned();
        }
        (
            1,
            _,
            Outcome::Ok(OpResult::Delete { deleted: b, .. } | OpResult::Cas { succeeded: b, .. }),
        ) => *b = !*b,
        (2, _, Outcome::Ok(_)) => {
            op.outcome = Outcome::Unknown;
            op.return_ns = None;
        }
        (_, _, Outcome::Ok(result)) => nudge(rng, revision_mut(result)),
        _ => {}
    }
}

fn fast(h: &[HistoryOp], complete: bool) -> bool {
    let options = check::linearizability::Options {
        complete,
        ..Default::default()
    };
    let report = check::linearizability::check_with(h, &options);
    assert!(
        report.violated() || report.linearizable(),
        "undecided on a small history: {h:#?}"
    );
    report.linearizable()
}

/// Runs `cases` histories (half of them changed in one field) and returns how many the
/// exact model accepts and rejects.
fn compare(seed: u64, cases: u64, complete: bool) -> (u32, u32) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut yes, mut no) = (0, 0);
    for case in 0..cases {
        let n = rng.gen_range(2..=8);
        // Three keys, of which the third is left out when the history is not complete:
        // writes outside it that raised the revision.
        let mut h =
            check::generate::generate(case ^ seed, n, 3, if complete { 2 } else { 3 }, 250_000);
        if !complete {
            h.retain(|o| o.op.key() != "k2");
        }
        if h.is_empty() {
            continue;
        }
        if case % 2 == 1 {
            perturb(&mut rng, &mut h);
        }
        let exact = brute(&h, complete);
        assert!(
            case % 2 == 1 || exact,
            "case {case}: the generator made an invalid history: {h:#?}"
        );
        let got = fast(&h, complete);
        assert_eq!(
            got, exact,
            "case {case} (complete: {complete}): checker {got}, brute force {exact}: {h:#?}"
        );
        if exact {
            yes += 1;
        } else {
            no += 1;
        }
    }
    eprintln!("complete: {complete}: {yes} linearizable, {no} not");
    (yes, no)
}

#[test]
fn complete_histories_agree_with_brute_force() {
    let (yes, no) = compare(7, 50_000, true);
    // Both kinds occur, so the comparison means something.
    assert!(yes > 1_000 && no > 1_000, "{yes} linearizable, {no} not");
}

#[test]
fn histories_with_outside_writes_agree_with_brute_force() {
    let (yes, no) = compare(11, 50_000, false);
    assert!(yes > 1_000 && no > 500, "{yes} linearizable, {no} not");
}
