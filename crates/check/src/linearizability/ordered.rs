//! Linearizability with revisions as one global order: the check for histories that
//! record the store revisions each answer reports (the simulator's always do).
//!
//! etcd's store has one revision counter: every write that changes the store (a put, a
//! compare-and-swap that succeeds, a delete of a present key) makes the next revision,
//! and every answer reports the revision the store was at. So revisions order the writes
//! across keys, and a per-key search, which judges values only, cannot see what they
//! prove. This search linearizes the whole store at once, and revisions make that cheap:
//!
//! - an answered write that created revision r can only come when the store is at r - 1;
//! - an answered operation that changed nothing fits at one point only: a failed cas or a
//!   delete of nothing at the store revision it reports, a get where its key holds the
//!   value and modification revision it read;
//! - a write whose outcome is unknown takes effect, if at all, by making a revision that
//!   no answered operation claims.
//!
//! So at each point the only choice among answered operations is the write that makes the
//! next revision; operations that changed nothing are taken as soon as they fit (that
//! loses nothing). Real time is Wing & Gong's rule: the next operation must have been
//! called before the earliest return still pending.
//!
//! Unknown writes are not guessed. When the store reaches a revision no answer claims, the
//! search *opens* it: some unknown write made it, which one is decided later. An open
//! revision is *attributed* to an unknown write when an operation on that write's key
//! needs its effect, or at the end, when every answered operation has its place and only
//! writes whose effect nothing contradicts can fill what is still open. An attribution
//! must fit the time (the write was called before the revision opened) and what was
//! already placed on its key after that revision. This keeps a history with thousands of
//! unclaimed revisions over many keys linear to check instead of exponential. Unknown
//! writes with the same effect on the same key are pooled and used earliest called first.
//! Configurations already explored are remembered, and the search has a step budget:
//! running out is reported as undecided, never as a pass.
//!
//! A history is *complete* when it records every write and the store starts empty at
//! revision 0 (ours are). Then every revision up to the highest one seen was made by some
//! recorded write. A history that is not complete (from another system, or a subset of
//! its keys) keeps every rule but that one: writes outside it may have raised the revision
//! at any time, though never touched its keys, which still start absent. Unknown writes
//! are then placed as they go (a free revision may not come again).

mod apply;
mod explain;
mod input;
mod moves;
mod windows;

use super::{KeyFailure, Options};
use input::{Cell, Input};
use proto::history::HistoryOp;
use std::collections::{BTreeMap, BTreeSet};

/// What the search found.
pub(super) struct Outcome {
    pub keys: usize,
    pub operations: usize,
    pub completed: usize,
    pub steps: u64,
    /// The step budget of each phase.
    pub budget: u64,
    pub failure: Option<KeyFailure>,
}

/// A history this short that the lazy search could not decide goes to the eager search,
/// with [`SHORT_STEPS`] steps.
const SHORT: usize = 5_000;
const SHORT_STEPS: u64 = 2_000_000;

/// Steps the search may take on a history of `n` operations (each phase): enough for a
/// history it judges in one pass, and far from the minutes a wide one could take.
fn steps_for(n: usize, budget: u64) -> u64 {
    budget.min((3 * n as u64 + 1_000).max(100_000))
}

/// Checks `history` with revisions as one order (`options.complete`: see the module docs); with
/// `run` false, only counts what there is to judge. `failure` is `None` when a
/// linearization was found; an undecided failure when the budget ran out.
pub(super) fn check(history: &[HistoryOp], options: &Options, run: bool) -> Outcome {
    let complete = options.complete;
    let start = if complete {
        super::start_writes(options.start_revision)
    } else {
        Vec::new()
    };
    let input = Input::new(&start, history);
    let budget = steps_for(history.len(), options.budget);
    let mut lazy = Search::new(&input, complete, budget, false);
    let mut steps = 0;
    let first = if run { lazy.run() } else { None };
    // The lazy search's pruning is not proven complete (chains of unknown writes nobody
    // observed can defeat it), so a violation it finds is confirmed by the eager search,
    // which places unknown writes as it goes and is exact. The eager search also judges
    // a short history the lazy one ran out of steps on.
    let eager_budget = match first {
        Some(false) => budget,
        Some(true) if history.len() <= SHORT => options.budget.min(SHORT_STEPS),
        _ => 0,
    };
    let failure = match first {
        None => None,
        Some(_) if eager_budget == 0 => Some(explain::failure(&lazy, true, options.unit)),
        Some(lazy_undecided) => {
            let mut eager = Search::new(&input, complete, eager_budget, true);
            let confirmed = eager.run();
            steps = eager.steps;
            match confirmed {
                None => None,
                Some(true) => Some(explain::failure(&eager, true, options.unit)),
                Some(false) if !lazy_undecided => {
                    Some(explain::failure(&lazy, false, options.unit))
                }
                Some(false) => Some(explain::failure(&eager, false, options.unit)),
            }
        }
    };
    Outcome {
        keys: input.keys.len(),
        operations: input.answered.len() + input.pools.iter().map(|p| p.calls.len()).sum::<usize>(),
        completed: input.answered.len(),
        steps: lazy.steps + steps,
        budget,
        failure,
    }
}

/// One step of a linearization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    /// An answered operation.
    Answered(usize),
    /// The next unused write of a pool takes effect now, making this revision.
    Pool(usize, u64),
    /// The store reaches the next revision, which no answer claims: an unknown write
    /// made it, to be attributed later.
    Open,
    /// An open revision is attributed to the next unused write of a pool.
    Attribute(usize, u64),
}

/// What was placed on a key, by the store revision it was placed at (its level), and
/// the earliest return still pending when it was (no operation called later can come
/// before it).
#[derive(Clone, Copy, Debug)]
struct Entry {
    level: u64,
    bound: u64,
    what: Placed,
}

#[derive(Clone, Copy, Debug)]
enum Placed {
    Answered(usize),
    /// An unknown write of this pool (its level is the revision it made).
    Unknown(usize),
}

/// A move, worked out before it is made.
struct Move {
    key: Option<u32>,
    after: Cell,
    revision: u64,
    hash: u64,
    /// The write of the pool used, for an unknown write.
    member: usize,
    /// For an attribution: the level of the first later operation on its key it does
    /// not fit, left for a later open revision to mend.
    mend: Option<u64>,
}

/// What attributing an open revision does: which write of the pool made it, and the
/// key's state afterwards.
struct Attribution {
    member: usize,
    after: Cell,
    /// See [`Move::mend`].
    mend: Option<u64>,
}

/// A conflict an attribution left on `key`: some open revision in `(after, by]` must be
/// attributed to a write of that key, or no order works.
#[derive(Clone, Copy, Debug)]
struct Mend {
    key: u32,
    after: u64,
    by: u64,
}

/// What undoing a move needs.
struct Frame {
    choice: Choice,
    key: Option<u32>,
    before: Cell,
    revision_before: u64,
    /// For an attribution: the bound of the revision it filled, and where the write went
    /// in its key's log.
    bound: u64,
    log_index: usize,
    /// For an unknown write: which write of its pool.
    member: usize,
    /// Reads of an absent key that this move gave a deadline (it was called after they
    /// returned, so they come before it).
    pinned: Vec<(u64, usize)>,
    /// Whether this attribution left a conflict to mend (see [`Search::mends`]).
    mended: bool,
}

/// The deepest configuration reached, for the explanation: how many answered
/// operations it had linearized, and the shallowest dead end found there.
#[derive(Default)]
struct Best {
    prefix: usize,
    snapshot: Option<explain::Snapshot>,
}

struct Search<'i, 'a> {
    input: &'i Input<'a>,
    complete: bool,
    /// Whether unknown writes are placed as the store reaches a revision no answer
    /// claims (exact, but exponential when many could be) instead of attributed later.
    eager: bool,
    budget: u64,
    /// Answered operations by (return, index).
    by_return: Vec<usize>,
    /// Pools by key.
    pools_of_key: Vec<Vec<usize>>,
    done: Vec<bool>,
    done_count: usize,
    /// Per pool, which of its writes were used.
    taken: Vec<Vec<bool>>,
    store: Vec<Cell>,
    revision: u64,
    /// Per key, what was placed on it, by level.
    log: Vec<Vec<Entry>>,
    /// Open revisions, each with the earliest pending return when it opened: the write
    /// that made it was called by then.
    open: BTreeMap<u64, u64>,
    /// Zobrist hash of what is placed and open, and of the store.
    hash: u64,
    store_hash: u64,
    first_open: usize,
    min_ret_pos: usize,
    memo: BTreeSet<(u64, u64, u64)>,
    frames: Vec<Frame>,
    next_try: Vec<usize>,
    steps: u64,
    best: Best,
    /// The earliest pending return in the configuration being expanded.
    min_ret: u64,
    /// Placed reads of an absent key with no deadline yet (no move since was called
    /// after they returned), by (return, index).
    floating: BTreeSet<(u64, usize)>,
    /// Per read of an absent key, the first move placed after it that was called after it
    /// returned: its level, and whether it made that revision itself.
    deadline: Vec<Option<(u64, bool)>>,
    /// The conflicts attributions left to mend, in the order they were made.
    mends: Vec<Mend>,
}

/// splitmix64: a fixed pseudo-random key per input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn cell_hash(key: u32, cell: Cell) -> u64 {
    match cell {
        None => 0,
        Some((v, m)) => mix(u64::from(key) ^ mix(u64::from(v) ^ mix(m))),
    }
}

/// The hash of a revision being open.
fn open_key(revision: u64) -> u64 {
    mix(revision ^ 0x6f70_656e_0000_0000)
}

/// The hash of a revision attributed to a pool.
fn attributed_key(pool: usize, revision: u64) -> u64 {
    mix(revision.rotate_left(29) ^ mix(pool as u64) ^ 0x6174_7472_0000_0000)
}

/// The hash of a pool's write being used.
fn member_key(pool: usize, member: usize) -> u64 {
    mix(((pool as u64) << 32) ^ member as u64 ^ 0x6d65_6d62_0000_0000)
}

impl<'i, 'a> Search<'i, 'a> {
    fn new(input: &'i Input<'a>, complete: bool, budget: u64, eager: bool) -> Self {
        let n = input.answered.len();
        let mut by_return: Vec<usize> = (0..n).collect();
        by_return.sort_by_key(|i| (input.answered[*i].ret, *i));
        let mut pools_of_key = vec![Vec::new(); input.keys.len()];
        for (p, pool) in input.pools.iter().enumerate() {
            pools_of_key[pool.key as usize].push(p);
        }
        Search {
            input,
            complete,
            eager,
            budget,
            by_return,
            pools_of_key,
            done: vec![false; n],
            done_count: 0,
            taken: input
                .pools
                .iter()
                .map(|p| vec![false; p.calls.len()])
                .collect(),
            store: vec![None; input.keys.len()],
            revision: 0,
            log: vec![Vec::new(); input.keys.len()],
            open: BTreeMap::new(),
            hash: 0,
            store_hash: 0,
            first_open: 0,
            min_ret_pos: 0,
            memo: BTreeSet::new(),
            frames: Vec::new(),
            next_try: vec![0],
            steps: 0,
            best: Best::default(),
            min_ret: u64::MAX,
            floating: BTreeSet::new(),
            deadline: vec![None; n],
            mends: Vec::new(),
        }
    }

    /// Runs the search: `None` when a linearization exists, else whether the budget ran
    /// out (`Some(true)`: undecided) or every order failed (`Some(false)`).
    fn run(&mut self) -> Option<bool> {
        let n = self.input.answered.len();
        loop {
            if self.done_count == n && self.open.is_empty() && self.verified() {
                return None;
            }
            self.steps += 1;
            let min_ret = self.min_ret();
            self.min_ret = min_ret;
            let candidates = self.candidates(min_ret);
            if self.steps > self.budget {
                if self.best.snapshot.is_none() {
                    self.best.snapshot = Some(self.snapshot(&candidates, min_ret));
                }
                return Some(true);
            }
            let (choices, forced) = self.choices(&candidates, min_ret);
            if self.done_count > self.best.prefix {
                self.best = Best {
                    prefix: self.done_count,
                    snapshot: None,
                };
            }
            if self.advance(&choices, forced) {
                continue;
            }
            // The shallowest dead end at the deepest prefix is where every alternative
            // had failed: the most telling place to explain.
            let depth = self.frames.len();
            let shallower = self.best.snapshot.as_ref().is_none_or(|s| depth < s.depth);
            if self.done_count == self.best.prefix && shallower {
                self.best.snapshot = Some(self.snapshot(&candidates, min_ret));
            }
            if !self.backtrack() {
                return Some(false);
            }
        }
    }

    /// The earliest return among answered operations not yet linearized.
    fn min_ret(&mut self) -> u64 {
        let answered = &self.input.answered;
        while self.first_open < answered.len() && self.done[self.first_open] {
            self.first_open += 1;
        }
        while self.min_ret_pos < self.by_return.len() && self.done[self.by_return[self.min_ret_pos]]
        {
            self.min_ret_pos += 1;
        }
        self.by_return
            .get(self.min_ret_pos)
            .map_or(u64::MAX, |i| answered[*i].ret)
    }

    /// Answered operations that may come next: called by the earliest pending return.
    fn candidates(&self, min_ret: u64) -> Vec<usize> {
        let answered = &self.input.answered;
        (self.first_open..answered.len())
            .take_while(|i| answered[*i].call <= min_ret)
            .filter(|i| !self.done[*i])
            .collect()
    }

    /// Takes the first choice from where this depth left off that leads somewhere new.
    fn advance(&mut self, choices: &[Choice], forced: bool) -> bool {
        let depth = self.frames.len();
        for (pos, &choice) in choices.iter().enumerate().skip(self.next_try[depth]) {
            let Some(step) = self.work_out(choice) else {
                continue;
            };
            let store_hash = match step.key {
                Some(k) => {
                    self.store_hash
                        ^ cell_hash(k, self.store[k as usize])
                        ^ cell_hash(k, step.after)
                }
                None => self.store_hash,
            };
            if !self.memo.insert((step.hash, store_hash, step.revision)) {
                continue;
            }
            self.next_try[depth] = if forced { usize::MAX } else { pos + 1 };
            self.next_try.push(0);
            self.make(choice, step, store_hash);
            return true;
        }
        false
    }
}
