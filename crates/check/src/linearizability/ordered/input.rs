//! The history as the revision-ordered search sees it: keys and values interned, answered
//! operations with what they report, and the unknown writes gathered into pools of
//! interchangeable ones.

use proto::history::{HistoryOp, Outcome};
use proto::kv::{Compare, Op, OpResult};
use std::collections::{BTreeMap, BTreeSet};

/// A written value no operation can tell apart from others (no get read it, no cas
/// compares with it): unknown writes of such values on one key are interchangeable.
pub(super) const HIDDEN: u32 = u32::MAX;

/// One key's state in the model: its value and modification revision (`None`: absent).
pub(super) type Cell = Option<(u32, u64)>;

/// What a compare-and-swap compares, with values interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Cmp {
    /// The key's value is this (`None`: absent).
    Value(Option<u32>),
    /// The key's modification revision is this (0: absent).
    ModRevision(u64),
}

impl Cmp {
    /// Whether the comparison holds for `cell`.
    pub(super) fn holds(self, cell: Cell) -> bool {
        match self {
            Cmp::Value(v) => cell.map(|c| c.0) == v,
            Cmp::ModRevision(r) => cell.map_or(0, |c| c.1) == r,
        }
    }
}

/// What a write does to its key, with values interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Effect {
    /// Reads only.
    Get,
    /// Sets the value.
    Put(u32),
    /// Removes the key.
    Delete,
    /// Sets the value when the comparison holds.
    Cas(Cmp, u32),
}

impl Effect {
    /// The key's state after the write takes effect at `revision` (creating it), or
    /// `None` when it would change nothing (a delete of an absent key, a cas whose
    /// comparison fails, a get).
    pub(super) fn changes(self, cell: Cell, revision: u64) -> Option<Cell> {
        match self {
            Effect::Get => None,
            Effect::Put(v) => Some(Some((v, revision))),
            Effect::Delete => cell.is_some().then_some(None),
            Effect::Cas(cmp, v) => cmp.holds(cell).then_some(Some((v, revision))),
        }
    }
}

/// What an answered operation reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reply {
    /// It changed the store and created this revision.
    Created(u64),
    /// It changed nothing (a delete of an absent key, a failed cas); the store was at
    /// this revision.
    Kept(u64),
    /// A get read this value at this modification revision.
    Read(Option<u32>, u64),
}

/// An operation with a known outcome.
pub(super) struct Answered<'a> {
    pub op: &'a HistoryOp,
    pub key: u32,
    pub effect: Effect,
    pub call: u64,
    pub ret: u64,
    pub reply: Reply,
}

/// Unknown writes with the same effect on the same key: whichever of them takes effect,
/// the store changes alike, so the search only counts how many it used, earliest called
/// first (an unknown operation has no return, so the earliest-called one can stand in
/// for any other wherever that one could go).
pub(super) struct Pool<'a> {
    pub key: u32,
    pub effect: Effect,
    /// Call times, ascending, and the operations, in the same order.
    pub calls: Vec<u64>,
    pub ops: Vec<&'a HistoryOp>,
    /// The modification revisions at which answered reads saw the value these writes
    /// store: a pool of one write can only have made one of them, if any.
    pub pins: BTreeSet<u64>,
}

impl<'a> Pool<'a> {
    /// The pool of `ops`, unknown writes with this effect on this key.
    fn of(key: u32, effect: Effect, mut ops: Vec<&'a HistoryOp>) -> Pool<'a> {
        ops.sort_by_key(|o| o.call_ns);
        let calls = ops.iter().map(|o| o.call_ns).collect();
        Pool {
            key,
            effect,
            calls,
            ops,
            pins: BTreeSet::new(),
        }
    }

    /// Whether the pool's write may make `revision`.
    pub(super) fn may_make(&self, revision: u64) -> bool {
        self.calls.len() != 1 || self.pins.is_empty() || self.pins.contains(&revision)
    }
}

/// The whole input of the search.
pub(super) struct Input<'a> {
    /// Answered operations by call time.
    pub answered: Vec<Answered<'a>>,
    pub pools: Vec<Pool<'a>>,
    pub keys: Vec<&'a str>,
    pub values: Vec<&'a str>,
    /// Revision → the answered operation that reports creating it (the first one, when
    /// several claim it: the static rules report that).
    pub claimed: BTreeMap<u64, usize>,
    /// The highest revision any answered operation reports or observes.
    pub max_seen: u64,
    /// (revision, key) pairs an answered operation saw as the key's modification
    /// revision (a get that read a value, a cas on that revision that succeeded): the
    /// write that made the revision was on that key.
    pub observed: BTreeSet<(u64, u32)>,
    /// `observed`, and every (revision, key) a cas on a modification revision names,
    /// whatever its outcome: the revisions at which an unknown write on that key may
    /// matter when the history is not complete.
    pub named: BTreeSet<(u64, u32)>,
    /// `named`, by key.
    pub named_of_key: Vec<Vec<u64>>,
    /// Per key, (position, index) of its answered operations that report a revision, in
    /// that order: one that made revision r stands at r, one that changed nothing at
    /// store revision r at r + 1 (after every write up to r, before r + 1's).
    pub by_revision: Vec<Vec<(u64, usize)>>,
    /// How many revisions up to each one answered operations claim (index: revision).
    claimed_upto: Vec<u32>,
}

/// Interns strings in order of first use.
#[derive(Default)]
struct Interner<'a> {
    ids: BTreeMap<&'a str, u32>,
    names: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct strings");
        assert!(id != HIDDEN, "the last id is the hidden value");
        self.ids.insert(s, id);
        self.names.push(s);
        id
    }
}

/// Values some operation can tell apart from others: read by an answered get, or compared
/// by any cas.
fn observed_values<'a>(
    history: impl Iterator<Item = &'a HistoryOp>,
) -> BTreeSet<(&'a str, &'a str)> {
    let mut out = BTreeSet::new();
    for op in history {
        if let Op::Cas {
            key,
            compare: Compare::Value(Some(v)),
            ..
        } = &op.op
        {
            out.insert((key.as_str(), v.as_str()));
        }
        if let Outcome::Ok(OpResult::Get { value: Some(v), .. }) = &op.outcome {
            out.insert((op.op.key(), v.as_str()));
        }
    }
    out
}

impl<'a> Input<'a> {
    /// Prepares `history`: failed operations and unanswered gets are dropped; an
    /// answer without a return time bounds nothing, so it counts as unknown.
    /// `start`: writes that made the revisions the store started at (answered at time 0,
    /// each on a key of its own), judged with the rest.
    pub(super) fn new(start: &'a [HistoryOp], history: &'a [HistoryOp]) -> Input<'a> {
        let observed_values = observed_values(start.iter().chain(history));
        let (mut keys, mut values) = (Interner::default(), Interner::default());
        let mut answered = Vec::new();
        let mut pools: BTreeMap<(u32, Effect), Vec<&HistoryOp>> = BTreeMap::new();
        for op in start.iter().chain(history) {
            let key = keys.id(op.op.key());
            let hide = |v: &str| !observed_values.contains(&(op.op.key(), v));
            let mut value = |v: &'a str, hidden: bool| if hidden { HIDDEN } else { values.id(v) };
            let (effect, hidden_effect) = match &op.op {
                Op::Get { .. } => (Effect::Get, Effect::Get),
                Op::Delete { .. } => (Effect::Delete, Effect::Delete),
                Op::Put { value: v, .. } => {
                    (Effect::Put(value(v, false)), Effect::Put(value(v, hide(v))))
                }
                Op::Cas {
                    compare, value: v, ..
                } => {
                    let cmp = match compare {
                        Compare::Value(e) => Cmp::Value(e.as_deref().map(|e| value(e, false))),
                        Compare::ModRevision(r) => Cmp::ModRevision(*r),
                    };
                    (
                        Effect::Cas(cmp, value(v, false)),
                        Effect::Cas(cmp, value(v, hide(v))),
                    )
                }
                _ => unreachable!(
                    "multi-key operations never reach the key-by-key search (check_with)"
                ),
            };
            match (&op.outcome, op.return_ns) {
                (Outcome::Failed, _) => {}
                (Outcome::Ok(result), Some(ret)) => {
                    let reply = reply(result, &mut value);
                    answered.push(Answered {
                        op,
                        key,
                        effect,
                        call: op.call_ns,
                        ret,
                        reply,
                    });
                }
                _ if effect == Effect::Get => {}
                _ => pools.entry((key, hidden_effect)).or_default().push(op),
            }
        }
        answered.sort_by_key(|a| (a.call, a.ret));
        let pools = pools
            .into_iter()
            .map(|((key, effect), ops)| Pool::of(key, effect, ops))
            .collect();
        let mut input = Input {
            answered,
            pools,
            keys: keys.names,
            values: values.names,
            claimed: BTreeMap::new(),
            max_seen: 0,
            observed: BTreeSet::new(),
            named: BTreeSet::new(),
            named_of_key: Vec::new(),
            by_revision: Vec::new(),
            claimed_upto: Vec::new(),
        };
        input.index_revisions();
        input
    }

    fn index_revisions(&mut self) {
        for (i, a) in self.answered.iter().enumerate() {
            let seen = match a.reply {
                Reply::Created(r) => {
                    self.claimed.entry(r).or_insert(i);
                    r
                }
                Reply::Kept(r) => r,
                Reply::Read(v, m) => {
                    if v.is_some() && m > 0 {
                        self.observed.insert((m, a.key));
                    }
                    m
                }
            };
            if let (Effect::Cas(Cmp::ModRevision(r), _), Reply::Created(_)) = (a.effect, a.reply) {
                if r > 0 {
                    self.observed.insert((r, a.key));
                }
            }
            self.max_seen = self.max_seen.max(seen);
        }
        self.pin_pools();
        self.index_named();
        self.index_positions();
    }

    /// Each pool's pins: where answered reads saw the value it writes.
    fn pin_pools(&mut self) {
        let mut by_value: BTreeMap<(u32, u32), Vec<usize>> = BTreeMap::new();
        for (p, pool) in self.pools.iter().enumerate() {
            if let Effect::Put(v) | Effect::Cas(_, v) = pool.effect {
                by_value.entry((pool.key, v)).or_default().push(p);
            }
        }
        for a in &self.answered {
            if let Reply::Read(Some(v), m) = a.reply {
                for &p in by_value.get(&(a.key, v)).into_iter().flatten() {
                    self.pools[p].pins.insert(m);
                }
            }
        }
    }

    /// `named` and `named_of_key`.
    fn index_named(&mut self) {
        self.named = self.observed.clone();
        let compares = self.answered.iter().map(|a| (a.key, a.effect));
        let unknown = self.pools.iter().map(|p| (p.key, p.effect));
        for (key, effect) in compares.chain(unknown) {
            if let Effect::Cas(Cmp::ModRevision(r), _) = effect {
                if r > 0 {
                    self.named.insert((r, key));
                }
            }
        }
        self.named_of_key = vec![Vec::new(); self.keys.len()];
        for &(r, k) in &self.named {
            self.named_of_key[k as usize].push(r);
        }
    }

    /// `by_revision` and `claimed_upto`.
    fn index_positions(&mut self) {
        self.by_revision = vec![Vec::new(); self.keys.len()];
        for (i, a) in self.answered.iter().enumerate() {
            match a.reply {
                Reply::Created(r) => self.by_revision[a.key as usize].push((r, i)),
                Reply::Kept(r) => self.by_revision[a.key as usize].push((r + 1, i)),
                Reply::Read(..) => {}
            }
        }
        for list in &mut self.by_revision {
            list.sort_unstable();
        }
        // One entry per revision up to the highest claimed (bounded: a history claiming
        // more than 2^26 revisions is judged without the shortcut past that).
        let top = self
            .claimed
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .min(1 << 26);
        let mut count = 0u32;
        self.claimed_upto = (0..=top)
            .map(|r| {
                count += u32::from(self.claimed.contains_key(&r));
                count
            })
            .collect();
    }

    /// Whether a write on `key` may make `revision`: not when an answer saw that
    /// revision as another key's modification revision.
    pub(super) fn key_may_make(&self, key: u32, revision: u64) -> bool {
        self.observed
            .range((revision, 0)..=(revision, u32::MAX))
            .all(|(_, k)| *k == key)
    }

    /// Whether every revision strictly between `low` and `high` is claimed by an answer
    /// (so no unknown write can come between).
    pub(super) fn all_claimed_between(&self, low: u64, high: u64) -> bool {
        if high <= low + 1 {
            return true;
        }
        let upto = |r: u64| {
            self.claimed_upto
                .get(r as usize)
                .copied()
                .map_or(u64::MAX, u64::from)
        };
        let (a, b) = (upto(low), upto(high - 1));
        a != u64::MAX && b != u64::MAX && b - a == high - 1 - low
    }

    /// The name of an interned value.
    pub(super) fn value_name(&self, v: u32) -> &str {
        if v == HIDDEN {
            "(a value nobody read)"
        } else {
            self.values[v as usize]
        }
    }
}

fn reply<'a>(result: &'a OpResult, value: &mut impl FnMut(&'a str, bool) -> u32) -> Reply {
    match result {
        OpResult::Put { revision } => Reply::Created(*revision),
        OpResult::Get {
            value: v,
            mod_revision,
        } => Reply::Read(v.as_deref().map(|v| value(v, false)), *mod_revision),
        OpResult::Delete {
            deleted: true,
            revision,
        }
        | OpResult::Cas {
            succeeded: true,
            revision,
        } => Reply::Created(*revision),
        OpResult::Delete { revision, .. } | OpResult::Cas { revision, .. } => {
            Reply::Kept(*revision)
        }
        _ => unreachable!("multi-key operations never reach the key-by-key search (check_with)"),
    }
}
