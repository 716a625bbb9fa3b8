//! Linearizability of the client history against the reference model, key by key.
//!
//! Every operation touches one key, so the history is linearizable iff each key's
//! sub-history is (locality, Herlihy & Wing). For each key:
//!
//! 1. Operations that certainly did not happen (failed) are dropped, and so are reads
//!    without an answer.
//! 2. Every written value is unique, so a read names the write it saw. Writes whose outcome
//!    is unknown and whose value nobody observed are interchangeable: whichever of them
//!    takes effect, the key holds "some value no read returned". They are not searched one
//!    by one; they form pools (unobserved puts; deletes; unobserved compare-and-swaps by
//!    the value they compare with) of which the search only counts how many it has used,
//!    taking the earliest called first (an exchange argument shows that loses nothing),
//!    and only right before an operation that needs the effect. Likewise a completed
//!    write whose value nobody observed writes an anonymous value. This removes most of
//!    the search's width when many requests time out.
//! 3. What remains is searched depth-first in the style of Wing & Gong / Lowe: the next
//!    operation to linearize is one that was called before the earliest pending return;
//!    (set of linearized operations, state) pairs already explored are remembered by
//!    Zobrist hash, so no configuration is explored twice. The search has a step budget;
//!    running out is reported as undecided, never as a pass.
//!
//! On failure the report names the key, the longest linearizable prefix found, the state
//! there, and the operations none of which could come next: the smallest part of the
//! history that shows the problem.

mod ordered;
mod prepare;
mod revisions;

use crate::model::{step, KeyState};
use crate::{Property, Verdict, Violation};
use prepare::{impossible_value, prune, Operation, Prepared, HIDDEN};
use proto::codec::{fnv1a, FNV_OFFSET};
use proto::history::HistoryOp;
use proto::kv::{Compare, Op, OpResult};
use std::collections::{BTreeMap, BTreeSet};

/// Search steps allowed per key before giving up as undecided (the default of
/// [`Options::budget`]).
pub const STEP_BUDGET: u64 = 20_000_000;

/// How the times of a history are shown in explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Nanoseconds, shown as seconds (the simulator's histories).
    Nanoseconds,
    /// Whatever unit the history used, shown as the plain numbers (history files).
    AsGiven,
}

impl TimeUnit {
    /// `t` in this unit, for a person.
    pub fn show(self, t: u64) -> String {
        match self {
            TimeUnit::Nanoseconds => format!("{:.6}s", t as f64 / 1e9),
            TimeUnit::AsGiven => t.to_string(),
        }
    }
}

/// How to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Search steps allowed per key; past it the key is undecided, never failed.
    pub budget: u64,
    /// How times are shown.
    pub unit: TimeUnit,
    /// Whether the history records the revisions the store returned (the simulator's
    /// always do; a history file may not): then the whole store is searched with
    /// revisions as one order (see the `ordered` module) instead of key by key.
    pub revisions: bool,
    /// Whether the history is complete: it records every write, and the store started
    /// empty at revision 0. Then every revision up to the highest seen was made by a
    /// recorded write. The simulator's histories are; one from elsewhere says so itself.
    pub complete: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            budget: STEP_BUDGET,
            unit: TimeUnit::Nanoseconds,
            revisions: true,
            complete: true,
        }
    }
}

/// Why one key's history is not linearizable (or could not be decided).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFailure {
    /// The key.
    pub key: String,
    /// The simulated time around which it fails (the first operation that cannot be
    /// placed returned then).
    pub time_ns: u64,
    /// The clients involved.
    pub clients: Vec<u64>,
    /// A readable account.
    pub explanation: String,
    /// True when the search ran out of budget (not a proof of a violation).
    pub undecided: bool,
}

/// The outcome of checking a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Keys checked.
    pub keys: usize,
    /// Operations considered after pruning.
    pub operations: usize,
    /// Search steps taken over all keys.
    pub steps: u64,
    /// Operations that completed with a known result (what there is to judge).
    pub completed: usize,
    /// Keys that failed or were undecided.
    pub failures: Vec<KeyFailure>,
    /// What was judged less than asked, if anything (see [`check_with`]).
    pub note: Option<String>,
}

impl Report {
    /// Whether every key's history is linearizable (false also when undecided; true
    /// when, past the whole-store search's budget, every key held: see `note`).
    pub fn linearizable(&self) -> bool {
        self.failures.is_empty()
    }

    /// Whether some key certainly has no linearization.
    pub fn violated(&self) -> bool {
        self.failures.iter().any(|f| !f.undecided)
    }

    /// The verdict: a violation only where proven, undecided where the budget ran out,
    /// not judged when no operation completed.
    pub fn verdict(&self) -> Verdict {
        if self.violated() {
            return Verdict::Violated(self.violations());
        }
        // Key by key it held, but the whole store's order was not decided: no pass.
        if let (Some(note), true) = (&self.note, self.failures.is_empty()) {
            return Verdict::Undecided(note.clone());
        }
        if let Some(f) = self.failures.first() {
            return Verdict::Undecided(format!(
                "the search budget ran out on {} key(s), first {} (after the longest linearizable prefix found)",
                self.failures.len(),
                f.key
            ));
        }
        if self.completed == 0 {
            return Verdict::NotJudged("no client operation completed".into());
        }
        Verdict::Held
    }

    /// The proven failures as violations.
    pub fn violations(&self) -> Vec<Violation> {
        self.failures
            .iter()
            .filter(|f| !f.undecided)
            .map(|f| Violation {
                property: Property::Linearizability,
                time_ns: f.time_ns,
                nodes: f.clients.clone(),
                message: format!("key {}: {}", f.key, f.explanation),
            })
            .collect()
    }
}

fn zobrist(i: usize) -> u64 {
    // splitmix64 of the operation's position: a fixed pseudo-random key per operation.
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn state_hash(s: &KeyState) -> u64 {
    match s {
        None => 0,
        Some(v) => fnv1a(FNV_OFFSET, v.as_bytes()) | 1,
    }
}

/// Checks a whole history with the default options (a simulator history).
pub fn check(history: &[HistoryOp]) -> Report {
    check_with(history, &Options::default())
}

/// Checks a whole history.
pub fn check_with(history: &[HistoryOp], options: &Options) -> Report {
    if options.revisions {
        return check_ordered(history, options);
    }
    check_per_key(history, options)
}

/// Key by key, values only (histories without revisions, and the fallback).
fn check_per_key(history: &[HistoryOp], options: &Options) -> Report {
    let mut report = Report::default();
    let lookup = revisions::Lookup::new(history, options.revisions);
    let decided = revisions::decide_compares(history, &lookup);
    let mut by_key: BTreeMap<&str, Vec<&HistoryOp>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        let op = decided.get(&i).unwrap_or(op);
        by_key.entry(op.op.key()).or_default().push(op);
    }
    report.keys = by_key.len();
    for (key, ops) in by_key {
        if let Some(f) = impossible_value(key, &ops, options.unit) {
            report.failures.push(f);
            continue;
        }
        let prepared = prune(&ops);
        report.operations +=
            prepared.ops.len() + prepared.pools.iter().map(|p| p.calls.len()).sum::<usize>();
        report.completed += prepared.ops.iter().filter(|o| o.completed()).count();
        let (steps, failure) = search(key, &prepared, options);
        report.steps += steps;
        if let Some(f) = failure {
            report.failures.push(f);
        }
    }
    report
}

/// A history with revisions: first the rules that name the revisions at fault at once
/// (each holds in every legal execution), then, if none fails, the search over the whole
/// store with revisions as one order, which is exact. When that search runs out of its
/// steps (a wide history with many writes whose outcome is unknown), the history is
/// judged key by key, with the revision rules, and the report says the whole-store order
/// was not decided.
fn check_ordered(history: &[HistoryOp], options: &Options) -> Report {
    let lookup = revisions::Lookup::new(history, true);
    let failures = revisions::check(history, &lookup, options.unit);
    let outcome = ordered::check(history, options, failures.is_empty());
    if outcome.failure.as_ref().is_some_and(|f| f.undecided) {
        let mut report = check_per_key(history, options);
        report.steps += outcome.steps;
        report.note = Some(format!(
            "the order of the whole store by revisions was not decided within {} search steps; judged key by key, with the revision rules",
            outcome.budget
        ));
        return report;
    }
    let mut report = Report {
        keys: outcome.keys,
        operations: outcome.operations,
        steps: outcome.steps,
        completed: outcome.completed,
        failures,
        note: None,
    };
    // The rules name the revisions at fault more plainly; the search runs only when
    // they found nothing.
    report.failures.extend(outcome.failure);
    report
}

/// One step of a linearization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    /// An operation searched one by one.
    Op(usize),
    /// An operation of the given pool takes effect, immediately followed by the operation
    /// that needs it. A pooled operation is only ever useful right before the first
    /// operation that observes its effect (anything else in between would overwrite it),
    /// so pooled operations are never tried on their own.
    Repair(usize, usize),
}

impl Choice {
    fn op(self) -> usize {
        match self {
            Choice::Op(c) | Choice::Repair(_, c) => c,
        }
    }
}

struct Frame {
    choice: Choice,
    /// The state before it.
    before: KeyState,
}

/// How many of the pooled calls happened before `bound`.
fn available(calls: &[u64], bound: u64) -> usize {
    calls.partition_point(|c| *c <= bound)
}

/// Step 3: the search. Returns the steps taken and the failure, if any.
fn search(key: &str, prepared: &Prepared, options: &Options) -> (u64, Option<KeyFailure>) {
    let ops = &prepared.ops;
    let n = ops.len();
    let completed_total = ops.iter().filter(|o| o.completed()).count();
    // Completed operations by return time: the earliest pending return bounds the
    // candidates.
    let mut by_return: Vec<usize> = (0..n).filter(|i| ops[*i].completed()).collect();
    by_return.sort_by_key(|i| (ops[*i].ret, *i));
    let unknown: Vec<usize> = (0..n).filter(|i| !ops[*i].completed()).collect();
    // For each write, the answered operations that saw its (unique) value.
    // This relies on written values being unique (our clients make them so); a history
    // from elsewhere that repeats a value on this key is searched without it.
    let mut writer_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unique_writes = true;
    for (i, o) in ops.iter().enumerate() {
        if let Op::Put { value, .. } | Op::Cas { value, .. } = &o.op.op {
            unique_writes &= writer_of.insert(value.as_str(), i).is_none();
        }
    }
    if !unique_writes {
        writer_of.clear();
    }
    let mut observers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, o) in ops.iter().enumerate() {
        let seen = match (&o.op.op, o.result) {
            (_, Some(OpResult::Get { value: Some(v), .. })) => Some(v.as_str()),
            (
                Op::Cas {
                    compare: Compare::Value(Some(v)),
                    ..
                },
                Some(OpResult::Cas {
                    succeeded: true, ..
                }),
            ) => Some(v.as_str()),
            _ => None,
        };
        if let Some(w) = seen.and_then(|v| writer_of.get(v)) {
            observers[*w].push(i);
        }
    }

    let mut done = vec![false; n];
    let mut done_completed = 0usize;
    // How many of each pool are used, and a hash of those counts for the memo.
    let mut used: Vec<usize> = vec![0; prepared.pools.len()];
    let mut used_hash: u64 = 0;
    let mut state: KeyState = None;
    let mut hash: u64 = 0;
    let mut seen: BTreeSet<(u64, u64, u64)> = BTreeSet::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Per depth: the next candidate position to try.
    let mut next_try: Vec<usize> = vec![0];
    let mut steps = 0u64;
    // The deepest configuration reached, for the report.
    let mut best = Best::default();
    // Position in call order before which every completed operation is done.
    let mut first_open = 0usize;
    let mut min_ret_pos = 0usize;

    loop {
        if done_completed == completed_total {
            return (steps, None);
        }
        steps += 1;
        if steps > options.budget {
            return (steps, Some(failure(key, ops, &best, true, options.unit)));
        }
        while first_open < n && (done[first_open] || !ops[first_open].completed()) {
            first_open += 1;
        }
        while min_ret_pos < by_return.len() && done[by_return[min_ret_pos]] {
            min_ret_pos += 1;
        }
        let min_ret = by_return.get(min_ret_pos).map_or(u64::MAX, |i| ops[*i].ret);
        let found = candidates(ops, first_open, &done, &unknown, min_ret);
        // An answered operation that cannot change the state (a read, a failed cas, a
        // delete of nothing) and fits the state now can be linearized now without loss:
        // moving it earlier changes nothing for the others. Take it as the only choice.
        let forced = found.iter().copied().find(|&c| {
            ops[c].completed()
                && observes_only(&ops[c])
                && step(&state, &ops[c].effective, ops[c].result).is_some()
        });
        let mut choices: Vec<Choice> = match forced {
            Some(c) => vec![Choice::Op(c)],
            None => {
                // Most urgent first: a write whose value a pending read saw must come
                // before that read, so order writes by their earliest pending observer.
                let mut writes = canonical(ops, &found);
                writes.sort_by_key(|&c| (urgency(prepared, &observers, &done, c), ops[c].call));
                writes.into_iter().map(Choice::Op).collect()
            }
        };
        // Written values are unique: once the key leaves a value it never holds it again.
        // So while an answered operation that needs the current value is pending, no
        // choice may change the value (this prunes most wrong orders at once).
        // (A cas that saw the value may itself be the one that leaves it.)
        let pending_needers: Vec<usize> = match state.as_deref() {
            Some(v) if v != HIDDEN => writer_of
                .get(v)
                .map(|w| {
                    observers[*w]
                        .iter()
                        .copied()
                        .filter(|o| !done[*o])
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if done_completed >= best.prefix {
            best = Best {
                prefix: done_completed,
                state: state.clone(),
                candidates: found.clone(),
                needers: pending_needers.clone(),
            };
        }
        if forced.is_none() && pending_needers.is_empty() {
            for (p, pool) in prepared.pools.iter().enumerate() {
                let fits = pool.requires.as_ref().is_none_or(|r| *r == state);
                if !fits || pool.result == state || used[p] >= available(&pool.calls, min_ret) {
                    continue;
                }
                // Whether `c` can take a useful step from `s`: an answered operation must
                // fit, one with an unknown outcome must also change something.
                let useful =
                    |c: usize, s: &KeyState| match step(s, &ops[c].effective, ops[c].result) {
                        Some(after) => ops[c].completed() || after != *s,
                        None => false,
                    };
                for &c in &found {
                    if !useful(c, &state) && useful(c, &pool.result) {
                        choices.push(Choice::Repair(p, c));
                    }
                }
            }
        }
        let depth = stack.len();
        let mut advanced = false;
        let start = next_try[depth];
        for (pos, &choice) in choices.iter().enumerate().skip(start) {
            let c = choice.op();
            let (before_op, new_used_hash) = match choice {
                Choice::Op(_) => (state.clone(), used_hash),
                Choice::Repair(p, _) => (
                    prepared.pools[p].result.clone(),
                    used_hash.wrapping_add(zobrist(usize::MAX - p)),
                ),
            };
            let after = match step(&before_op, &ops[c].effective, ops[c].result) {
                // An operation with an unknown outcome that would change nothing is the
                // same as one that never happened: never worth a step.
                Some(after) if ops[c].completed() || after != before_op => after,
                _ => continue,
            };
            let leaves = after != state;
            let blocked = pending_needers.iter().any(|o| *o != c);
            if leaves && blocked {
                continue;
            }
            let new_hash = hash ^ zobrist(c);
            if !seen.insert((new_hash, state_hash(&after), new_used_hash)) {
                continue;
            }
            // A forced move has no alternative worth trying.
            next_try[depth] = if forced.is_some() {
                usize::MAX
            } else {
                pos + 1
            };
            stack.push(Frame {
                choice,
                before: std::mem::replace(&mut state, after),
            });
            next_try.push(0);
            done[c] = true;
            if ops[c].completed() {
                done_completed += 1;
            }
            if let Choice::Repair(p, _) = choice {
                used[p] += 1;
            }
            used_hash = new_used_hash;
            hash = new_hash;
            advanced = true;
            break;
        }
        if advanced {
            continue;
        }
        // Dead end: undo the last choice.
        next_try.pop();
        let Some(frame) = stack.pop() else {
            return (steps, Some(failure(key, ops, &best, false, options.unit)));
        };
        state = frame.before;
        if let Choice::Repair(p, _) = frame.choice {
            used[p] -= 1;
            used_hash = used_hash.wrapping_sub(zobrist(usize::MAX - p));
        }
        let op = frame.choice.op();
        done[op] = false;
        hash ^= zobrist(op);
        // Move the scan positions back to cover the undone operation.
        first_open = first_open.min(op);
        if ops[op].completed() {
            done_completed -= 1;
            let pos = by_return
                .binary_search_by_key(&(ops[op].ret, op), |i| (ops[*i].ret, *i))
                .unwrap_or_else(|p| p);
            min_ret_pos = min_ret_pos.min(pos);
        }
    }
}

/// The deepest configuration the search reached, for the report.
#[derive(Default)]
struct Best {
    prefix: usize,
    state: KeyState,
    candidates: Vec<usize>,
    needers: Vec<usize>,
}

/// Whether an answered operation can only observe the state, never change it.
fn observes_only(o: &Operation) -> bool {
    matches!(
        (&o.op.op, o.result),
        (Op::Get { .. }, _)
            | (
                Op::Cas { .. },
                Some(OpResult::Cas {
                    succeeded: false,
                    ..
                })
            )
            | (
                Op::Delete { .. },
                Some(OpResult::Delete { deleted: false, .. })
            )
    )
}

/// When a write must take effect at the latest: the earliest return of a pending
/// operation that saw its value, else its own return.
fn urgency(prepared: &Prepared, observers: &[Vec<usize>], done: &[bool], c: usize) -> u64 {
    let ops = &prepared.ops;
    observers[c]
        .iter()
        .filter(|o| !done[**o])
        .map(|o| ops[*o].ret)
        .min()
        .unwrap_or(ops[c].ret)
}

/// Operations that may be linearized next: called before the earliest pending return.
fn candidates(
    ops: &[Operation],
    first_open: usize,
    done: &[bool],
    unknown: &[usize],
    min_ret: u64,
) -> Vec<usize> {
    let mut out = Vec::new();
    // Completed operations, in call order, up to the bound; every completed operation
    // before `first_open` is already linearized.
    for (i, o) in ops.iter().enumerate().skip(first_open) {
        if o.call > min_ret {
            break;
        }
        if !done[i] && o.completed() {
            out.push(i);
        }
    }
    for &i in unknown {
        if !done[i] && ops[i].call <= min_ret {
            out.push(i);
        }
    }
    out
}

/// The candidates worth trying: all of them, except that of the answered writes of a
/// value nobody read only the earliest-returning one is kept. Such writes leave the same
/// state, and if a linearization places another one here, swapping the two keeps it
/// valid (the earlier-returning one is callable now, the other can take its later place
/// since it returns no earlier), so nothing is lost. Without this, n concurrent unread
/// writes are explored in 2^n subsets.
fn canonical(ops: &[Operation], found: &[usize]) -> Vec<usize> {
    let first_blind = found
        .iter()
        .copied()
        .filter(|&c| ops[c].blind_hidden_write())
        .min_by_key(|&c| (ops[c].ret, c));
    found
        .iter()
        .copied()
        .filter(|&c| !ops[c].blind_hidden_write() || Some(c) == first_blind)
        .collect()
}

fn failure(
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
