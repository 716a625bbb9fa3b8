//! What a failed revision-ordered search tells a person: where the longest explainable
//! prefix ends, the store revision there, and why each operation that could come next
//! cannot, with the revisions involved.

use super::input::{Answered, Cell, Cmp, Effect, Input, Reply, HIDDEN};
use super::Search;
use crate::linearizability::{KeyFailure, TimeUnit};
use proto::kv::{Compare, Op};

/// At most this many unknown writes are listed when a revision cannot be made.
const LISTED_POOLS: usize = 6;

/// The search's state at a dead end.
pub(super) struct Snapshot {
    /// How many moves deep it was.
    pub depth: usize,
    revision: u64,
    candidates: Vec<usize>,
    /// The latest call an operation could have to come next.
    bound: u64,
    store: Vec<Cell>,
    /// Revisions no answer claims, not yet attributed to an unknown write.
    open: Vec<u64>,
    /// When every answered operation had its place: why no unknown write can have made
    /// the lowest open revision (at most [`LISTED_POOLS`] writes: pool, which write of it,
    /// why not), and how many writes were left.
    unfilled: Option<Unfilled>,
}

/// Writes listed as unable to make an open revision (pool, which write of it, why not),
/// and how many writes were left in all.
type Unfilled = (Vec<(usize, usize, Unfit)>, usize);

/// Why an unknown write cannot have made an open revision.
#[derive(Clone, Copy)]
enum Unfit {
    /// It was called after the revision was made (by this time).
    TooLate(u64),
    /// It could, but then the other open revisions cannot all be made.
    Starves,
    /// Its condition, or what was placed on its key after the revision, does not fit.
    DoesNotFit,
}

impl Search<'_, '_> {
    /// The state now, for the explanation.
    pub(super) fn snapshot(&self, candidates: &[usize], min_ret: u64) -> Snapshot {
        let closing = self.done_count == self.input.answered.len();
        Snapshot {
            depth: self.frames.len(),
            revision: self.revision,
            candidates: candidates.to_vec(),
            bound: min_ret,
            store: self.store.clone(),
            open: self.open.keys().copied().collect(),
            unfilled: closing.then(|| self.unfilled()).flatten(),
        }
    }

    /// Why each unknown write left cannot have made the lowest open revision.
    fn unfilled(&self) -> Option<Unfilled> {
        let (&g, &bound) = self.open.iter().next()?;
        let unused = |p: usize| self.taken[p].iter().position(|t| !t);
        let left: Vec<(usize, usize)> = (0..self.input.pools.len())
            .filter_map(|p| unused(p).map(|m| (p, m)))
            .collect();
        let why = |p: usize| {
            if self.member(p, bound).is_none() {
                Unfit::TooLate(bound)
            } else if self.attributable(p, g).is_some() {
                Unfit::Starves
            } else {
                Unfit::DoesNotFit
            }
        };
        let listed = left.iter().take(LISTED_POOLS).map(|&(p, m)| (p, m, why(p)));
        Some((listed.collect(), left.len()))
    }
}

/// The failure the search ended in (`undecided`: the budget ran out).
pub(super) fn failure(search: &Search, undecided: bool, unit: TimeUnit) -> KeyFailure {
    let input = search.input;
    let snap = search
        .best
        .snapshot
        .as_ref()
        .expect("a failed search recorded its deepest dead end");
    let show = Show { input, snap, unit };
    let mut text = format!(
        "no order of the operations follows the revisions: after the longest linearizable prefix ({} of {} answered operations) the store is at revision {}",
        search.best.prefix,
        input.answered.len(),
        snap.revision
    );
    let mut clients: Vec<u64> = snap
        .candidates
        .iter()
        .map(|i| input.answered[*i].op.client)
        .collect();
    let mut keys: Vec<&str> = snap
        .candidates
        .iter()
        .map(|i| input.keys[input.answered[*i].key as usize])
        .collect();
    text.push_str(&show.open());
    if let Some((lines, count)) = &snap.unfilled {
        text.push_str(&show.unfilled(lines, *count));
    }
    if !snap.candidates.is_empty() {
        text.push_str(", and none of these can come next:");
        for &i in &snap.candidates {
            let a = &input.answered[i];
            text.push_str(&format!(
                "\n    {}: {}",
                show.answered(a),
                show.why_not(a, search.complete)
            ));
        }
    }
    clients.sort_unstable();
    clients.dedup();
    keys.sort_unstable();
    keys.dedup();
    let time_ns = snap
        .candidates
        .iter()
        .map(|i| input.answered[*i].ret)
        .min()
        .unwrap_or(snap.bound);
    KeyFailure {
        key: if keys.is_empty() {
            "(any)".to_string()
        } else {
            keys.join(", ")
        },
        time_ns: time_ns.min(u64::MAX - 1),
        clients,
        explanation: text,
        undecided,
    }
}

struct Show<'s, 'i, 'a> {
    input: &'i Input<'a>,
    snap: &'s Snapshot,
    unit: TimeUnit,
}

impl<'a> Show<'_, '_, 'a> {
    fn value(&self, v: Option<u32>) -> String {
        match v {
            None => "absent".to_string(),
            Some(HIDDEN) => "a value nobody read".to_string(),
            Some(v) => format!("{:?}", self.input.value_name(v)),
        }
    }

    fn cell(&self, key: u32) -> String {
        let name = self.input.keys[key as usize];
        match self.snap.store[key as usize] {
            None => format!("{name} is absent"),
            Some((v, m)) => format!("{name} holds {} (mod_revision {m})", self.value(Some(v))),
        }
    }

    /// What a write does, key included.
    fn effect(&self, effect: Effect, key: u32) -> String {
        let key = self.input.keys[key as usize];
        match effect {
            Effect::Get => format!("get {key}"),
            Effect::Put(v) => format!("put {key} {}", self.value(Some(v))),
            Effect::Delete => format!("delete {key}"),
            Effect::Cas(Cmp::Value(e), v) => {
                format!("cas {key} {} -> {}", self.value(e), self.value(Some(v)))
            }
            Effect::Cas(Cmp::ModRevision(r), v) => {
                format!("cas {key} mod_revision={r} -> {}", self.value(Some(v)))
            }
        }
    }

    /// An answered operation with what it reported.
    fn answered(&self, a: &Answered) -> String {
        let got = match (a.effect, a.reply) {
            (_, Reply::Read(v, m)) => format!("returned {} (mod_revision {m})", self.value(v)),
            (Effect::Put(_), Reply::Created(r)) => format!("ok at revision {r}"),
            (Effect::Delete, Reply::Created(r)) => format!("deleted at revision {r}"),
            (Effect::Delete, Reply::Kept(r)) => format!("deleted nothing at revision {r}"),
            (_, Reply::Created(r)) => format!("succeeded at revision {r}"),
            (_, Reply::Kept(r)) => format!("failed at revision {r}"),
        };
        format!(
            "client {} #{}: {} -> {got} [called {}, returned {}]",
            a.op.client,
            a.op.seq,
            self.effect(a.effect, a.key),
            self.unit.show(a.call),
            self.unit.show(a.ret)
        )
    }

    /// Why answered operation `a` cannot come next.
    fn why_not(&self, a: &Answered, complete: bool) -> String {
        let now = self.snap.revision;
        let cell = self.snap.store[a.key as usize];
        let state = self.cell(a.key);
        match a.reply {
            Reply::Read(..) if !fits_read(a.reply, cell) => state,
            Reply::Created(r) if complete && r != now + 1 => {
                format!("it made revision {r}, but the next revision is {}", now + 1)
            }
            Reply::Created(r) if r <= now => format!("revision {r} is already past"),
            Reply::Created(r) if a.effect.changes(cell, r).is_none() => {
                format!("it could not have changed the store: {state}")
            }
            Reply::Kept(r) if r != now && (complete || r < now) => {
                format!("it saw revision {r}, but the store is at revision {now}")
            }
            Reply::Kept(_) if a.effect.changes(cell, 0).is_some() => {
                format!("it would have changed the store: {state}")
            }
            _ => "it fits here, but no order of what is left after it does".into(),
        }
    }

    /// The revisions still open, if any.
    fn open(&self) -> String {
        match self.snap.open.as_slice() {
            [] => String::new(),
            [g] => format!("; revision {g} was made by no answered write and no unknown write is yet known to have made it"),
            gs => format!(
                "; revisions {} were made by no answered write and no unknown write is yet known to have made them",
                gs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// Why the lowest open revision stays unexplained.
    fn unfilled(&self, listed: &[(usize, usize, Unfit)], count: usize) -> String {
        let g = self.snap.open.first().copied().unwrap_or_default();
        let mut text = format!(". Every answered operation has its place, but some write whose outcome is unknown must have made revision {g}, and ");
        if count == 0 {
            text.push_str("there is none left");
            return text;
        }
        text.push_str("none can:");
        for &(p, used, why) in listed {
            let op = self.input.pools[p].ops[used];
            let why = match why {
                Unfit::TooLate(t) => format!("called too late: revision {g} was made by {}", self.unit.show(t)),
                Unfit::Starves => format!("it could have made revision {g}, but then the other open revisions cannot all be made"),
                Unfit::DoesNotFit => format!("its key around revision {g} does not fit it (its condition, or a later operation on the key)"),
            };
            text.push_str(&format!(
                "\n    client {} #{}: {} [called {}, outcome unknown]: {why}",
                op.client,
                op.seq,
                unknown_write(&op.op),
                self.unit.show(op.call_ns)
            ));
        }
        if count > listed.len() {
            text.push_str(&format!("\n    and {} more", count - listed.len()));
        }
        text
    }
}

/// An unknown write in the user's terms (the pool's effect may hide its value).
fn unknown_write(op: &Op) -> String {
    match op {
        Op::Put { key, value } => format!("put {key} {value:?}"),
        Op::Get { key } => format!("get {key}"),
        Op::Delete { key } => format!("delete {key}"),
        Op::Cas {
            key,
            compare: Compare::Value(e),
            value,
        } => format!(
            "cas {key} {} -> {value:?}",
            e.as_ref().map_or("absent".into(), |e| format!("{e:?}"))
        ),
        Op::Cas {
            key,
            compare: Compare::ModRevision(r),
            value,
        } => format!("cas {key} mod_revision={r} -> {value:?}"),
        other => format!("{} {}", other.name(), other.key()),
    }
}

fn fits_read(reply: Reply, cell: Cell) -> bool {
    match reply {
        Reply::Read(None, m) => cell.is_none() && m == 0,
        Reply::Read(Some(v), m) => cell == Some((v, m)),
        _ => true,
    }
}
