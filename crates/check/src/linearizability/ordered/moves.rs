//! Which moves the search may make from a configuration, and what each one does.

use super::input::{Answered, Cell, Effect, Reply};
use super::{attributed_key, member_key, mix, open_key, Attribution, Choice, Move, Placed, Search};
use std::collections::BTreeMap;

/// The key's value after a write that made `revision`, whatever it held before (a write's
/// result never depends on it once its condition held).
pub(super) fn written(effect: Effect, revision: u64) -> Cell {
    match effect {
        Effect::Put(v) | Effect::Cas(_, v) => Some((v, revision)),
        Effect::Delete | Effect::Get => None,
    }
}

impl<'a> Search<'_, 'a> {
    pub(super) fn answered(&self, i: usize) -> &Answered<'a> {
        &self.input.answered[i]
    }

    /// The store revision and key state after answered operation `i`, if it fits now.
    pub(super) fn fits(&self, i: usize) -> Option<(Cell, u64)> {
        let a = self.answered(i);
        let cell = self.store[a.key as usize];
        let now = self.revision;
        let claimed = &self.input.claimed;
        match a.reply {
            Reply::Read(..) => self.read_fits(i).then_some((cell, now)),
            Reply::Created(r) => {
                let in_order = if self.complete {
                    r == now + 1
                } else {
                    r > now && claimed.range(now + 1..r).next().is_none()
                };
                let after = a.effect.changes(cell, r).filter(|_| in_order)?;
                Some((after, r))
            }
            Reply::Kept(r) => {
                let in_order = if self.complete {
                    r == now
                } else {
                    r == now || (r > now && claimed.range(now + 1..=r).next().is_none())
                };
                (in_order && self.plausible(i, cell)).then_some((cell, r))
            }
        }
    }

    /// Whether answered operation `i` fits its key holding `cell`, revisions aside.
    pub(super) fn plausible(&self, i: usize, cell: Cell) -> bool {
        let a = self.answered(i);
        match a.reply {
            Reply::Read(None, m) => cell.is_none() && m == 0,
            Reply::Read(Some(v), m) => cell == Some((v, m)),
            Reply::Created(r) => a.effect.changes(cell, r).is_some(),
            Reply::Kept(_) => a.effect.changes(cell, 0).is_none(),
        }
    }

    /// The key state after the next write of pool `p` makes `revision` now, if it can.
    pub(super) fn pool_fits(&self, p: usize, revision: u64) -> Option<Cell> {
        let pool = &self.input.pools[p];
        let claimed = &self.input.claimed;
        let free = revision > self.revision
            && claimed.range(self.revision + 1..=revision).next().is_none();
        let allowed = pool.may_make(revision) && self.input.key_may_make(pool.key, revision);
        let in_order = free && (!self.complete || revision == self.revision + 1) && allowed;
        let in_order =
            in_order && self.future_allows(pool.key, revision, written(pool.effect, revision));
        pool.effect
            .changes(self.store[pool.key as usize], revision)
            .filter(|_| in_order)
    }

    /// Whether a write on `key` that makes `revision` and leaves `cell` fits the next
    /// answered operation the revisions place on the key after it, when every revision
    /// between is claimed by answers (no other write on the key can come between, so
    /// that operation sees the key as this write leaves it). In a complete history only.
    pub(super) fn future_allows(&self, key: u32, revision: u64, cell: Cell) -> bool {
        if !self.complete {
            return true;
        }
        let list = &self.input.by_revision[key as usize];
        let at = list.partition_point(|(pos, _)| *pos <= revision);
        let Some(&(pos, i)) = list.get(at) else {
            return true;
        };
        !self.input.all_claimed_between(revision, pos) || self.plausible(i, cell)
    }

    /// The key's value right before level `index` of its log: what the last write placed
    /// before it left (absent when none).
    pub(super) fn prior(&self, key: u32, index: usize) -> Cell {
        let log = &self.log[key as usize];
        log[..index]
            .iter()
            .rev()
            .find_map(|e| self.leaves(e))
            .unwrap_or(None)
    }

    /// Whether the open revision `g` can be attributed to the next write of pool `p`:
    /// the write was called by the time `g` opened, its condition holds on what its key
    /// held then, and what was placed on the key after `g` still fits. A read placed
    /// after `g` saw the key without the write, which changes it; a read has no revision,
    /// so it may as well have come before `g` if it was called by then (a read of an
    /// absent key may also wait for a later absence: it is judged at the end). The writes
    /// and the operations that changed nothing must still fit, or be past another open
    /// revision whose write may mend them (then judged again at the end). The key's
    /// state afterwards, if so.
    pub(super) fn attributable(&self, p: usize, g: u64) -> Option<Attribution> {
        let pool = &self.input.pools[p];
        let bound = *self.open.get(&g)?;
        let allowed = pool.may_make(g) && self.input.key_may_make(pool.key, g);
        let member = self.member(p, bound).filter(|_| allowed)?;
        if !self.future_allows(pool.key, g, written(pool.effect, g)) {
            return None;
        }
        let log = &self.log[pool.key as usize];
        let index = log.partition_point(|e| e.level < g);
        let after = pool.effect.changes(self.prior(pool.key, index), g)?;
        if written(pool.effect, g).is_some() && self.loses_absence(p, g, bound, index) {
            return None;
        }
        if self.mend_lost(pool.key, g) {
            return None;
        }
        let current = self.store[pool.key as usize];
        let mut mend = None;
        for e in &log[index..] {
            // A conflict past another open revision may be mended by the write that
            // revision gets; it is checked again once every revision has its write.
            let mendable = e.level > g && self.open.range(g + 1..=e.level).next().is_some();
            let fits = match e.what {
                Placed::Answered(i) => {
                    let a = self.answered(i);
                    match a.reply {
                        // Reads of an absent key are judged once every revision has its
                        // write (see `verified`): they may wait for a later absence.
                        Reply::Read(None, _) => continue,
                        Reply::Read(..) if a.call <= bound => continue,
                        Reply::Read(..) => return None,
                        Reply::Kept(_) | Reply::Created(_) => self.plausible(i, after),
                    }
                }
                Placed::Unknown(q) => self.input.pools[q].effect.changes(after, e.level).is_some(),
            };
            if !fits && !mendable {
                return None;
            }
            if !fits {
                mend = mend.or(Some(e.level));
            }
            if self.leaves(e).is_some() {
                return Some(Attribution {
                    member,
                    after: current,
                    mend,
                });
            }
        }
        Some(Attribution {
            member,
            after,
            mend,
        })
    }

    /// Whether attributing open revision `g` to a write of `key` takes away the last
    /// revision that could mend a conflict an earlier attribution left on another key.
    fn mend_lost(&self, key: u32, g: u64) -> bool {
        self.mends.iter().any(|m| {
            m.key != key
                && m.after < g
                && g <= m.by
                && self.open.range(m.after + 1..=m.by).all(|(r, _)| *r == g)
        })
    }

    /// The write of pool `p` to use where it must have been called by `bound`: the
    /// latest called one not yet used, since every place an earlier one suits, a later
    /// one does not always (the writes of a pool differ in nothing else).
    pub(super) fn member(&self, p: usize, bound: u64) -> Option<usize> {
        let calls = &self.input.pools[p].calls;
        let taken = &self.taken[p];
        (0..calls.partition_point(|c| *c <= bound))
            .rev()
            .find(|m| !taken[*m])
    }

    /// The key's state after attributing `g` to pool `p`, if it can be.
    pub(super) fn attributed_state(&self, p: usize, g: u64) -> Option<Cell> {
        self.attributable(p, g).map(|a| a.after)
    }

    /// Works out a move, or `None` when it cannot be made now.
    pub(super) fn work_out(&self, choice: Choice) -> Option<Move> {
        let pools = &self.input.pools;
        Some(match choice {
            Choice::Answered(i) => {
                let (after, revision) = self.fits(i)?;
                let (key, hash) = (Some(self.answered(i).key), self.hash ^ mix(i as u64));
                Move {
                    key,
                    after,
                    revision,
                    hash,
                    member: 0,
                    mend: None,
                }
            }
            Choice::Pool(p, r) => {
                let member = self.member(p, self.min_ret)?;
                Move {
                    key: Some(pools[p].key),
                    after: self.pool_fits(p, r)?,
                    revision: r,
                    hash: self.hash ^ member_key(p, member),
                    member,
                    mend: None,
                }
            }
            Choice::Open => Move {
                key: None,
                after: None,
                revision: self.revision + 1,
                hash: self.hash ^ open_key(self.revision + 1),
                member: 0,
                mend: None,
            },
            Choice::Attribute(p, g) => {
                let Attribution {
                    member,
                    after,
                    mend,
                } = self.attributable(p, g)?;
                let hash = self.hash ^ member_key(p, member) ^ open_key(g) ^ attributed_key(p, g);
                let key = Some(pools[p].key);
                Move {
                    key,
                    after,
                    revision: self.revision,
                    hash,
                    member,
                    mend,
                }
            }
        })
    }

    /// The moves worth trying now, and whether the first is forced (an answered
    /// operation that changes nothing and fits: taking it at once loses nothing).
    pub(super) fn choices(&self, candidates: &[usize], min_ret: u64) -> (Vec<Choice>, bool) {
        let mut answered = Vec::new();
        let mut needy: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &i in candidates {
            let a = self.answered(i);
            match self.fits(i) {
                Some((_, r)) if r == self.revision && !matches!(a.reply, Reply::Created(_)) => {
                    return (vec![Choice::Answered(i)], true);
                }
                Some(_) => answered.push(Choice::Answered(i)),
                // Only a key whose value stands in the way needs an unknown write; an
                // operation whose revision is still ahead waits for the store.
                None if !self.waits_ahead(i) && !self.plausible(i, self.store[a.key as usize]) => {
                    needy.entry(a.key).or_default().push(i);
                }
                None => {}
            }
        }
        let mut out = Vec::new();
        if candidates.is_empty() && self.done_count == self.input.answered.len() {
            self.closing_choices(&mut out);
            return (out, false);
        }
        if let Some(forced) = self.pinned_attribution(&needy) {
            return (vec![forced], true);
        }
        // Attributions first: a waiting operation placed sooner lets more come after it.
        self.attributions(&needy, &mut out);
        out.extend(answered);
        let ahead = !needy.is_empty() || candidates.iter().any(|i| self.waits_ahead(*i));
        self.unknown_writes(&needy, ahead, min_ret, &mut out);
        (out, false)
    }

    /// Whether answered operation `i` can only come once the store is past the next
    /// revision.
    pub(super) fn waits_ahead(&self, i: usize) -> bool {
        let next = self.revision + 1;
        match self.answered(i).reply {
            Reply::Created(r) => r > next,
            Reply::Kept(r) | Reply::Read(Some(_), r) => r >= next,
            Reply::Read(None, _) => false,
        }
    }

    /// A read waiting for the write of what it read, at the open revision it names: when
    /// one pool alone can have made it there, that attribution is the only way the read
    /// can ever take its place, and making it now loses nothing (what is placed on the key
    /// later only narrows it).
    pub(super) fn pinned_attribution(&self, needy: &BTreeMap<u32, Vec<usize>>) -> Option<Choice> {
        for (&key, waiting) in needy {
            for &i in waiting {
                let Reply::Read(Some(_), m) = self.answered(i).reply else {
                    continue;
                };
                if !self.open.contains_key(&m) {
                    continue;
                }
                let helps = |p: &&usize| {
                    self.attributed_state(**p, m)
                        .is_some_and(|c| self.helps(i, **p, m, c))
                };
                let mut able = self.pools_of_key[key as usize].iter().filter(helps);
                if let (Some(&p), None) = (able.next(), able.next()) {
                    return Some(Choice::Attribute(p, m));
                }
            }
        }
        None
    }

    /// Open revisions attributed to writes on keys that a waiting operation needs
    /// changed: for each pool on such a key, the first and the last open revision after
    /// the key's last write that it can fill, and those an answer names as the key's
    /// modification revision. Those after which a waiting operation fits come first; the
    /// others may still be needed, since a compare-and-swap's condition may need another
    /// write before it. (Fewer than every possibility: a violation this search reports is
    /// confirmed by the eager one.)
    pub(super) fn attributions(&self, needy: &BTreeMap<u32, Vec<usize>>, out: &mut Vec<Choice>) {
        if self.open.is_empty() {
            return;
        }
        let mut enabling = Vec::new();
        for (&key, waiting) in needy {
            let log = &self.log[key as usize];
            let last_write = log
                .iter()
                .rev()
                .find(|e| self.leaves(e).is_some())
                .map_or(0, |e| e.level);
            let named = self.input.named_of_key[key as usize]
                .iter()
                .copied()
                .filter(|g| self.open.contains_key(g));
            let named: Vec<u64> = named.collect();
            for &p in &self.pools_of_key[key as usize] {
                let Some(call) = self.taken[p]
                    .iter()
                    .position(|t| !t)
                    .map(|m| self.input.pools[p].calls[m])
                else {
                    continue;
                };
                let mut after = self
                    .open
                    .range(last_write + 1..)
                    .filter(|(_, b)| **b >= call);
                let first = after.clone().next().map(|(g, _)| *g);
                let last = after.next_back().map(|(g, _)| *g);
                for g in first.into_iter().chain(last).chain(named.iter().copied()) {
                    let Some(state) = self.attributed_state(p, g) else {
                        continue;
                    };
                    let choice = Choice::Attribute(p, g);
                    if out.contains(&choice) || enabling.contains(&choice) {
                        continue;
                    }
                    if waiting.iter().any(|i| self.helps(*i, p, g, state)) {
                        out.push(choice);
                    } else {
                        enabling.push(choice);
                    }
                }
            }
        }
        out.extend(enabling);
    }

    /// Whether attributing open revision `g` to pool `p`, after which its key holds
    /// `current`, lets waiting operation `i` take its place: a read needs the window the
    /// write opens, anything else the key's state now.
    pub(super) fn helps(&self, i: usize, p: usize, g: u64, current: Cell) -> bool {
        let a = self.answered(i);
        if !matches!(a.reply, Reply::Read(..)) {
            return self.plausible(i, current);
        }
        let pool = &self.input.pools[p];
        let log = &self.log[pool.key as usize];
        let at = log.partition_point(|e| e.level < g);
        let next = log[at..].iter().find(|e| self.leaves(e).is_some());
        self.plausible(i, written(pool.effect, g)) && next.is_none_or(|e| a.call <= e.bound)
    }

    /// Unknown writes placed now. In a complete history, a revision up to the highest
    /// seen that no answer claims is opened (`ahead`: something waits past it); past that an unknown write only matters by
    /// changing its key, so only keys that a waiting operation needs changed are tried.
    /// In a history that is not complete, any unknown write may take the next free
    /// revision, or one that an operation on its key names.
    pub(super) fn unknown_writes(
        &self,
        needy: &BTreeMap<u32, Vec<usize>>,
        ahead: bool,
        min_ret: u64,
        out: &mut Vec<Choice>,
    ) {
        let next = self.revision + 1;
        let input = self.input;
        let claimed = input.claimed.contains_key(&next);
        if self.complete && next <= input.max_seen {
            if claimed {
                return;
            }
            if self.eager {
                let fit = |p: &usize| {
                    self.member(*p, min_ret).is_some() && self.pool_fits(*p, next).is_some()
                };
                out.extend(
                    (0..input.pools.len())
                        .filter(fit)
                        .map(|p| Choice::Pool(p, next)),
                );
            } else if ahead {
                // Opened as late as possible, when something waits past it: the later it
                // opens, the more writes were called by then.
                out.push(Choice::Open);
            }
            return;
        }
        let open = |p: &usize| self.member(*p, min_ret).is_some();
        let pools = 0..input.pools.len();
        if !claimed {
            let wanted = |p: &usize| !self.complete || needy.contains_key(&input.pools[*p].key);
            let fit = |p: &usize| self.pool_fits(*p, next).is_some();
            out.extend(
                pools
                    .filter(open)
                    .filter(wanted)
                    .filter(fit)
                    .map(|p| Choice::Pool(p, next)),
            );
        }
        let until = input
            .claimed
            .range(next..)
            .next()
            .map_or(u64::MAX, |(r, _)| *r);
        if !self.complete && until > next {
            for &(r, key) in input.named.range((next, 0)..(until, 0)) {
                let on_key = self.pools_of_key[key as usize].iter().filter(|p| open(p));
                out.extend(
                    on_key
                        .filter(|p| self.pool_fits(**p, r).is_some())
                        .map(|p| Choice::Pool(*p, r)),
                );
            }
        }
    }
}
