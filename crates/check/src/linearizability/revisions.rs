//! Revisions, judged against what they imply (etcd's rules: one global revision, raised by
//! one by every put, successful compare-and-swap and delete of a present key; a key's
//! modification revision is the revision of the write that last set it, 0 when absent).
//!
//! A global revision makes the store one object, so it is not checked key by key. What is
//! checked instead are consequences that hold in every legal execution, each decided
//! exactly:
//!
//! 1. No two writes create the same revision, and none creates revision 0.
//! 2. Real time: an operation called after another returned reports a revision no lower
//!    (strictly higher when it creates one).
//! 3. A read's modification revision is the revision of the write whose value it read
//!    (0 when it read nothing), and never one that another write created, whether or not
//!    the outcome of the write of the value it read is known.
//! 4. A compare-and-swap on a modification revision is turned into the equivalent
//!    compare on a value where the revision names the write (see [`decide_compares`]), so the
//!    per-key search judges it like any other (histories without recorded revisions).
//!
//! These rules give a plain account of the commonest faults; the search over the whole
//! store (the `ordered` module) is the exact judge behind them.

use super::{KeyFailure, TimeUnit};
use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use std::collections::BTreeMap;

/// What a compare on a revision that no version of the key carries is turned into: a
/// value no write produces, so the compare never holds.
const NO_VERSION: &str = "\u{0}(no version of the key has this revision)";

/// The store revision an answered operation reports, and whether the operation created it.
fn reported(op: &HistoryOp) -> Option<(u64, bool)> {
    match &op.outcome {
        Outcome::Ok(OpResult::Put { revision }) => Some((*revision, true)),
        Outcome::Ok(OpResult::Delete { deleted, revision }) => Some((*revision, *deleted)),
        Outcome::Ok(OpResult::Cas {
            succeeded,
            revision,
        }) => Some((*revision, *succeeded)),
        _ => None,
    }
}

fn name(op: &HistoryOp, unit: TimeUnit) -> String {
    let ret = op.return_ns.map_or("never".to_string(), |r| unit.show(r));
    format!(
        "client {} #{} ({} {}, called {}, returned {ret})",
        op.client,
        op.seq,
        op.op.name(),
        op.op.key(),
        unit.show(op.call_ns)
    )
}

fn failure(ops: &[&HistoryOp], explanation: String) -> KeyFailure {
    KeyFailure {
        key: ops[0].op.key().to_string(),
        time_ns: ops.iter().filter_map(|o| o.return_ns).max().unwrap_or(0),
        clients: ops.iter().map(|o| o.client).collect(),
        explanation,
        undecided: false,
    }
}

/// What the rules look up, built once per history.
pub(super) struct Lookup<'a> {
    /// Revision → the first answered operation that created it (empty when the history
    /// records no revisions).
    creators: BTreeMap<u64, &'a HistoryOp>,
    /// (key, value) → the one operation that writes it (`None` when several do, so the
    /// value does not name its write).
    writers: BTreeMap<(&'a str, &'a str), Option<&'a HistoryOp>>,
}

impl<'a> Lookup<'a> {
    /// The lookups for `history`; `recorded`: whether it records revisions.
    pub(super) fn new(history: &'a [HistoryOp], recorded: bool) -> Lookup<'a> {
        let mut creators = BTreeMap::new();
        let mut writers: BTreeMap<(&str, &str), Option<&HistoryOp>> = BTreeMap::new();
        for op in history {
            if let (true, Some((rev, true))) = (recorded, reported(op)) {
                creators.entry(rev).or_insert(op);
            }
            if let Some(v) = written(op) {
                writers
                    .entry((op.op.key(), v))
                    .and_modify(|w| *w = None)
                    .or_insert(Some(op));
            }
        }
        Lookup { creators, writers }
    }
}

/// Rules 1 to 3; the first violation of each rule.
pub(super) fn check(history: &[HistoryOp], lookup: &Lookup, unit: TimeUnit) -> Vec<KeyFailure> {
    let mut out = Vec::new();
    if let Some(f) = zero_revision(history, unit) {
        out.push(f);
    }
    if let Some(f) = duplicate_revision(history, &lookup.creators, unit) {
        out.push(f);
    }
    if let Some(f) = real_time(history, unit) {
        out.push(f);
    }
    if let Some(f) = read_revisions(history, lookup, unit) {
        out.push(f);
    }
    out
}

fn zero_revision(history: &[HistoryOp], unit: TimeUnit) -> Option<KeyFailure> {
    let op = history
        .iter()
        .find(|op| matches!(reported(op), Some((0, true))))?;
    Some(failure(
        &[op],
        format!(
            "{} changed the store but reports revision 0: every change makes a revision of at least 1",
            name(op, unit)
        ),
    ))
}

fn duplicate_revision(
    history: &[HistoryOp],
    creators: &BTreeMap<u64, &HistoryOp>,
    unit: TimeUnit,
) -> Option<KeyFailure> {
    let second = history.iter().find(|op| match reported(op) {
        Some((rev, true)) => creators
            .get(&rev)
            .is_some_and(|first| !std::ptr::eq(*first, *op)),
        _ => false,
    })?;
    let (rev, _) = reported(second)?;
    let first = creators[&rev];
    Some(failure(
        &[first, second],
        format!(
            "two writes report creating revision {rev}: {} and {}",
            name(first, unit),
            name(second, unit)
        ),
    ))
}

fn real_time(history: &[HistoryOp], unit: TimeUnit) -> Option<KeyFailure> {
    let mut answered: Vec<(&HistoryOp, u64, bool, u64)> = history
        .iter()
        .filter_map(|op| {
            let (rev, creates) = reported(op)?;
            Some((op, rev, creates, op.return_ns?))
        })
        .collect();
    let mut by_return: Vec<usize> = (0..answered.len()).collect();
    answered.sort_by_key(|(op, ..)| op.call_ns);
    by_return.sort_by_key(|i| answered[*i].3);
    // The highest revision reported by an operation that returned before the current
    // call, and which operation reported it.
    let mut highest: Option<(u64, usize)> = None;
    let mut next = 0;
    for (op, rev, creates, _) in &answered {
        while next < by_return.len() && answered[by_return[next]].3 < op.call_ns {
            let i = by_return[next];
            if highest.is_none_or(|(h, _)| answered[i].1 > h) {
                highest = Some((answered[i].1, i));
            }
            next += 1;
        }
        let Some((h, i)) = highest else { continue };
        if *rev < h || (*creates && *rev == h) {
            let before = answered[i].0;
            return Some(failure(
                &[before, op],
                format!(
                    "{} reports revision {rev}, but {} had already returned revision {h}: revisions went back in real time",
                    name(op, unit),
                    name(before, unit)
                ),
            ));
        }
    }
    None
}

fn read_revisions(history: &[HistoryOp], lookup: &Lookup, unit: TimeUnit) -> Option<KeyFailure> {
    let (creators, writers) = (&lookup.creators, &lookup.writers);
    for op in history {
        let Outcome::Ok(OpResult::Get {
            value,
            mod_revision,
        }) = &op.outcome
        else {
            continue;
        };
        let key = op.op.key();
        let wrong = match value {
            None => (*mod_revision != 0).then(|| "nothing, so it must be 0".to_string()),
            Some(v) => match writers
                .get(&(key, v.as_str()))
                .and_then(|w| w.map(|w| (w, reported(w))))
            {
                Some((w, Some((rev, true)))) => (rev != *mod_revision)
                    .then(|| format!("the value {}, written at revision {rev}", name(w, unit))),
                // The value's writer has no known revision: the revision it read must
                // still not be one that another write made.
                _ => creators
                    .get(mod_revision)
                    .filter(|c| c.op.key() != key || written(c) != Some(v.as_str()))
                    .map(|c| {
                        format!(
                            "{v:?}, but revision {mod_revision} was created by {}",
                            name(c, unit)
                        )
                    }),
            },
        };
        if let Some(why) = wrong {
            return Some(failure(
                &[op],
                format!(
                    "{} reports modification revision {mod_revision} for {why}",
                    name(op, unit)
                ),
            ));
        }
    }
    None
}

/// The value a write stores.
fn written(op: &HistoryOp) -> Option<&str> {
    match &op.op {
        Op::Put { value, .. } | Op::Cas { value, .. } => Some(value),
        _ => None,
    }
}

/// Rule 4: the history with every compare on a modification revision that can be
/// decided turned into a compare on a value. Revision 0 means absent. A revision that an
/// answered write of this key created names that write's value (when no other write on
/// the key stores the same value). A revision another key's write or a delete created
/// is no version of this key: the compare cannot hold (a compare-and-swap that claims it
/// did is left as it is; the real-time and read rules, or the search, judge it). Any other
/// revision is left undecided, as before.
pub(super) fn decide_compares(
    history: &[HistoryOp],
    lookup: &Lookup,
) -> BTreeMap<usize, HistoryOp> {
    let mut out = BTreeMap::new();
    for (i, original) in history.iter().enumerate() {
        let Op::Cas {
            key,
            compare: Compare::ModRevision(r),
            ..
        } = &original.op
        else {
            continue;
        };
        let Some(decided) = by_revision(*r, key, lookup) else {
            continue;
        };
        let mut op = original.clone();
        if let Op::Cas { compare, .. } = &mut op.op {
            *compare = decided;
        }
        // A claimed success on a foreign revision is left to the other rules.
        if !(claims_success(&op) && op_compares(&op, NO_VERSION)) {
            out.insert(i, op);
        }
    }
    out
}

fn by_revision(r: u64, key: &str, lookup: &Lookup) -> Option<Compare> {
    if r == 0 {
        return Some(Compare::Value(None));
    }
    let creator = lookup.creators.get(&r)?;
    match written(creator) {
        Some(v) if creator.op.key() == key => {
            let unique = matches!(lookup.writers.get(&(key, v)), Some(Some(_)));
            unique.then(|| Compare::Value(Some(v.to_string())))
        }
        _ => Some(Compare::Value(Some(NO_VERSION.to_string()))),
    }
}

fn claims_success(op: &HistoryOp) -> bool {
    matches!(
        op.outcome,
        Outcome::Ok(OpResult::Cas {
            succeeded: true,
            ..
        })
    )
}

fn op_compares(op: &HistoryOp, value: &str) -> bool {
    matches!(&op.op, Op::Cas { compare: Compare::Value(Some(v)), .. } if v == value)
}
