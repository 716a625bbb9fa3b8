//! The search over one key, on values only: for histories without revisions, and as the
//! fallback when the whole-store search runs out of steps.

use super::key_failure::{failure, Best};
use super::prepare::{Operation, Prepared, HIDDEN};
use super::{KeyFailure, Options};
use crate::model::{step, KeyState};
use proto::codec::{fnv1a, FNV_OFFSET};
use proto::kv::{Compare, Op, OpResult};
use std::collections::{BTreeMap, BTreeSet};

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
pub(super) fn search(
    key: &str,
    prepared: &Prepared,
    options: &Options,
) -> (u64, Option<KeyFailure>) {
    let mut search = KeySearch::new(key, prepared, options);
    let failure = search.run();
    (search.steps, failure)
}

/// For each write, the answered operations that saw its (unique) value. This relies on
/// written values being unique (our clients make them so); a history from elsewhere that
/// repeats a value on this key is searched without it.
fn observers_of<'a>(ops: &'a [Operation]) -> (BTreeMap<&'a str, usize>, Vec<Vec<usize>>) {
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
    let mut observers: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
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
    (writer_of, observers)
}

/// The search over one key's operations: Wing & Gong's depth-first search over the
/// orders real time allows, with the state after each prefix remembered.
struct KeySearch<'p, 'a> {
    key: &'p str,
    prepared: &'p Prepared<'a>,
    options: &'p Options,
    ops: &'p [Operation<'a>],
    completed_total: usize,
    /// Completed operations by return time: the earliest pending return bounds the
    /// candidates.
    by_return: Vec<usize>,
    unknown: Vec<usize>,
    writer_of: BTreeMap<&'p str, usize>,
    observers: Vec<Vec<usize>>,
    done: Vec<bool>,
    done_completed: usize,
    /// How many of each pool are used, and a hash of those counts for the memo.
    used: Vec<usize>,
    used_hash: u64,
    state: KeyState,
    hash: u64,
    seen: BTreeSet<(u64, u64, u64)>,
    stack: Vec<Frame>,
    /// Per depth: the next candidate position to try.
    next_try: Vec<usize>,
    steps: u64,
    /// The deepest configuration reached, for the report.
    best: Best,
    /// Position in call order before which every completed operation is done.
    first_open: usize,
    min_ret_pos: usize,
}

impl<'p, 'a> KeySearch<'p, 'a> {
    fn new(key: &'p str, prepared: &'p Prepared<'a>, options: &'p Options) -> Self {
        let ops = &prepared.ops[..];
        let n = ops.len();
        let mut by_return: Vec<usize> = (0..n).filter(|i| ops[*i].completed()).collect();
        by_return.sort_by_key(|i| (ops[*i].ret, *i));
        let (writer_of, observers) = observers_of(ops);
        KeySearch {
            key,
            prepared,
            options,
            ops,
            completed_total: ops.iter().filter(|o| o.completed()).count(),
            by_return,
            unknown: (0..n).filter(|i| !ops[*i].completed()).collect(),
            writer_of,
            observers,
            done: vec![false; n],
            done_completed: 0,
            used: vec![0; prepared.pools.len()],
            used_hash: 0,
            state: None,
            hash: 0,
            seen: BTreeSet::new(),
            stack: Vec::new(),
            next_try: vec![0],
            steps: 0,
            best: Best::default(),
            first_open: 0,
            min_ret_pos: 0,
        }
    }

    /// Runs the search: `None` when every completed operation was linearized.
    fn run(&mut self) -> Option<KeyFailure> {
        loop {
            if self.done_completed == self.completed_total {
                return None;
            }
            self.steps += 1;
            if self.steps > self.options.budget {
                return Some(failure(
                    self.key,
                    self.ops,
                    &self.best,
                    true,
                    self.options.unit,
                ));
            }
            let min_ret = self.min_ret();
            let found = candidates(
                self.ops,
                self.first_open,
                &self.done,
                &self.unknown,
                min_ret,
            );
            let forced = self.forced(&found);
            let needers = self.pending_needers();
            if self.done_completed >= self.best.prefix {
                self.best = Best {
                    prefix: self.done_completed,
                    state: self.state.clone(),
                    candidates: found.clone(),
                    needers: needers.clone(),
                };
            }
            let mut choices = self.choices(&found, forced);
            if forced.is_none() && needers.is_empty() {
                self.repairs(&found, min_ret, &mut choices);
            }
            if self.advance(&choices, forced.is_some(), &needers) {
                continue;
            }
            if !self.backtrack() {
                return Some(failure(
                    self.key,
                    self.ops,
                    &self.best,
                    false,
                    self.options.unit,
                ));
            }
        }
    }

    /// Moves the scan positions past what is done; the earliest pending return.
    fn min_ret(&mut self) -> u64 {
        let (ops, n) = (self.ops, self.ops.len());
        while self.first_open < n
            && (self.done[self.first_open] || !ops[self.first_open].completed())
        {
            self.first_open += 1;
        }
        while self.min_ret_pos < self.by_return.len() && self.done[self.by_return[self.min_ret_pos]]
        {
            self.min_ret_pos += 1;
        }
        self.by_return
            .get(self.min_ret_pos)
            .map_or(u64::MAX, |i| ops[*i].ret)
    }

    /// An answered operation that cannot change the state (a read, a failed cas, a
    /// delete of nothing) and fits the state now can be linearized now without loss:
    /// moving it earlier changes nothing for the others. It is then the only choice.
    fn forced(&self, found: &[usize]) -> Option<usize> {
        let ops = self.ops;
        found.iter().copied().find(|&c| {
            ops[c].completed()
                && observes_only(&ops[c])
                && step(&self.state, &ops[c].effective, ops[c].result).is_some()
        })
    }

    /// The operations worth trying next, most urgent first: a write whose value a
    /// pending read saw must come before that read, so writes go by their earliest
    /// pending observer.
    fn choices(&self, found: &[usize], forced: Option<usize>) -> Vec<Choice> {
        if let Some(c) = forced {
            return vec![Choice::Op(c)];
        }
        let ops = self.ops;
        let mut writes = canonical(ops, found);
        writes.sort_by_key(|&c| {
            let u = urgency(self.prepared, &self.observers, &self.done, c);
            (u, ops[c].call)
        });
        writes.into_iter().map(Choice::Op).collect()
    }

    /// Written values are unique: once the key leaves a value it never holds it again.
    /// So while an answered operation that needs the current value is pending, no choice
    /// may change the value (this prunes most wrong orders at once). (A cas that saw the
    /// value may itself be the one that leaves it.)
    fn pending_needers(&self) -> Vec<usize> {
        match self.state.as_deref() {
            Some(v) if v != HIDDEN => self
                .writer_of
                .get(v)
                .map(|w| {
                    self.observers[*w]
                        .iter()
                        .copied()
                        .filter(|o| !self.done[*o])
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Repairs: a pooled operation takes effect right before a candidate that needs it.
    fn repairs(&self, found: &[usize], min_ret: u64, choices: &mut Vec<Choice>) {
        let ops = self.ops;
        // Whether `c` can take a useful step from `s`: an answered operation must fit,
        // one with an unknown outcome must also change something.
        let useful = |c: usize, s: &KeyState| match step(s, &ops[c].effective, ops[c].result) {
            Some(after) => ops[c].completed() || after != *s,
            None => false,
        };
        for (p, pool) in self.prepared.pools.iter().enumerate() {
            let fits = pool.requires.as_ref().is_none_or(|r| *r == self.state);
            if !fits || pool.result == self.state || self.used[p] >= available(&pool.calls, min_ret)
            {
                continue;
            }
            for &c in found {
                if !useful(c, &self.state) && useful(c, &pool.result) {
                    choices.push(Choice::Repair(p, c));
                }
            }
        }
    }

    /// Takes the first choice from where this depth left off that leads somewhere new.
    fn advance(&mut self, choices: &[Choice], forced: bool, needers: &[usize]) -> bool {
        let depth = self.stack.len();
        let start = self.next_try[depth];
        for (pos, &choice) in choices.iter().enumerate().skip(start) {
            let c = choice.op();
            let (before_op, new_used_hash) = match choice {
                Choice::Op(_) => (self.state.clone(), self.used_hash),
                Choice::Repair(p, _) => (
                    self.prepared.pools[p].result.clone(),
                    self.used_hash.wrapping_add(zobrist(usize::MAX - p)),
                ),
            };
            let o = &self.ops[c];
            let after = match step(&before_op, &o.effective, o.result) {
                // An operation with an unknown outcome that would change nothing is the
                // same as one that never happened: never worth a step.
                Some(after) if o.completed() || after != before_op => after,
                _ => continue,
            };
            let leaves = after != self.state;
            if leaves && needers.iter().any(|o| *o != c) {
                continue;
            }
            let new_hash = self.hash ^ zobrist(c);
            if !self
                .seen
                .insert((new_hash, state_hash(&after), new_used_hash))
            {
                continue;
            }
            // A forced move has no alternative worth trying.
            self.next_try[depth] = if forced { usize::MAX } else { pos + 1 };
            self.make(choice, after, new_used_hash, new_hash);
            return true;
        }
        false
    }

    /// Makes `choice`, which leaves the key at `after`.
    fn make(&mut self, choice: Choice, after: KeyState, used_hash: u64, hash: u64) {
        let c = choice.op();
        self.stack.push(Frame {
            choice,
            before: std::mem::replace(&mut self.state, after),
        });
        self.next_try.push(0);
        self.done[c] = true;
        if self.ops[c].completed() {
            self.done_completed += 1;
        }
        if let Choice::Repair(p, _) = choice {
            self.used[p] += 1;
        }
        self.used_hash = used_hash;
        self.hash = hash;
    }

    /// A dead end: undoes the last choice; false when there is none.
    fn backtrack(&mut self) -> bool {
        self.next_try.pop();
        let Some(frame) = self.stack.pop() else {
            return false;
        };
        self.state = frame.before;
        if let Choice::Repair(p, _) = frame.choice {
            self.used[p] -= 1;
            self.used_hash = self.used_hash.wrapping_sub(zobrist(usize::MAX - p));
        }
        let op = frame.choice.op();
        self.done[op] = false;
        self.hash ^= zobrist(op);
        // Move the scan positions back to cover the undone operation.
        self.first_open = self.first_open.min(op);
        let o = &self.ops[op];
        if o.completed() {
            self.done_completed -= 1;
            let pos = self
                .by_return
                .binary_search_by_key(&(o.ret, op), |i| (self.ops[*i].ret, *i))
                .unwrap_or_else(|p| p);
            self.min_ret_pos = self.min_ret_pos.min(pos);
        }
        true
    }
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
