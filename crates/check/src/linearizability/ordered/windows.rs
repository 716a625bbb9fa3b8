//! Where reads may stand (windows of a key's log), and the closing phase: attributing the
//! revisions still open once every answered operation has its place, then checking the
//! whole log once more.

use super::input::{Cell, Effect, Reply};
use super::moves::written;
use super::{Choice, Entry, Placed, Search};

/// How many writes the closing phase tries for one open revision (more would only
/// matter for a history the eager search judges anyway).
const CLOSING_TRIES: usize = 8;

impl Search<'_, '_> {
    /// Whether answered read `i` has a place: a read changes nothing, so it may come at
    /// any point since it was called where its key held what it read. That is a window
    /// from the write that left the value to the next write on the key, and the read
    /// must have been called before that next write was placed (Wing & Gong's bound
    /// then); only the latest window for a value can be the one.
    pub(super) fn read_fits(&self, i: usize) -> bool {
        let a = self.answered(i);
        let key = a.key;
        if self.plausible(i, self.store[key as usize]) {
            return true;
        }
        let log = &self.log[key as usize];
        let start = match a.reply {
            Reply::Read(Some(_), m) => {
                let at = log.partition_point(|e| e.level < m);
                let leaves = log
                    .get(at)
                    .is_some_and(|e| self.leaves(e).is_some_and(|c| self.plausible(i, c)));
                if !leaves {
                    return false;
                }
                at + 1
            }
            Reply::Read(None, _) => match log
                .iter()
                .rposition(|e| matches!(self.leaves(e), Some(None)))
            {
                Some(at) => at + 1,
                None => 0,
            },
            _ => return false,
        };
        let next = log[start..].iter().find(|e| self.leaves(e).is_some());
        next.is_none_or(|e| a.call <= e.bound)
    }

    /// What a log entry leaves its key holding, if it is a write.
    pub(super) fn leaves(&self, e: &Entry) -> Option<Cell> {
        match e.what {
            Placed::Answered(i) => match self.answered(i).reply {
                Reply::Created(r) => Some(written(self.answered(i).effect, r)),
                _ => None,
            },
            Placed::Unknown(p) => Some(written(self.input.pools[p].effect, e.level)),
        }
    }

    /// Whether every key's log, replayed in order, has each write's condition and each
    /// operation that changed nothing hold, and each read of an absent key a time the key
    /// was absent (reads of values are checked as they are placed and as writes are
    /// attributed before them).
    pub(super) fn verified(&self) -> bool {
        self.log.iter().all(|log| {
            let mut cell: Cell = None;
            log.iter().all(|e| {
                let ok = match e.what {
                    Placed::Answered(i) => match self.answered(i).reply {
                        Reply::Read(None, _) => self.absence_for(i, log),
                        Reply::Read(..) => true,
                        _ => self.plausible(i, cell),
                    },
                    Placed::Unknown(p) => {
                        self.input.pools[p].effect.changes(cell, e.level).is_some()
                    }
                };
                if let Some(after) = self.leaves(e) {
                    cell = after;
                }
                ok
            })
        })
    }

    /// Whether read `i` of an absent key has a time its key was absent: from the start
    /// or a delete, opened before its deadline, and not closed by a write placed before
    /// it was called.
    pub(super) fn absence_for(&self, i: usize, log: &[Entry]) -> bool {
        self.absence_among(i, log.iter())
    }

    /// [`Self::absence_for`] over any sequence of a key's entries (a log with one more
    /// entry tried in it, say).
    pub(super) fn absence_among<'e>(&self, i: usize, log: impl Iterator<Item = &'e Entry>) -> bool {
        let a = self.answered(i);
        let (deadline, strict) = self.deadline[i].unwrap_or((u64::MAX, false));
        let before_deadline = |level: u64| level < deadline || (!strict && level == deadline);
        let mut open_since: Option<u64> = Some(0);
        for e in log {
            let Some(after) = self.leaves(e) else {
                continue;
            };
            if let Some(start) = open_since {
                // The window [start, this write) closes here.
                if before_deadline(start) && a.call <= e.bound {
                    return true;
                }
            }
            open_since = after.is_none().then_some(e.level);
        }
        open_since.is_some_and(before_deadline)
    }

    /// Whether writing with pool `p` at open revision `g` (bound `bound`), at `index` of
    /// its key's log, takes for good the time of absence of a read of that key placed
    /// after it and before the key's next write. For good: the read has a deadline and no
    /// other open revision at or below it, so no write still to come can give it another
    /// (writes still to come make later revisions, and a window opened after the deadline
    /// does not count).
    pub(super) fn loses_absence(&self, p: usize, g: u64, bound: u64, index: usize) -> bool {
        let log = &self.log[self.input.pools[p].key as usize];
        let tried = Entry {
            level: g,
            bound,
            what: Placed::Unknown(p),
        };
        let with = || log[..index].iter().chain([&tried]).chain(&log[index..]);
        let after = log[index..].iter().take_while(|e| self.leaves(e).is_none());
        after
            .filter_map(|e| match e.what {
                Placed::Answered(i) if matches!(self.answered(i).reply, Reply::Read(None, _)) => {
                    Some(i)
                }
                _ => None,
            })
            .any(|i| {
                let Some((deadline, _)) = self.deadline[i] else {
                    return false;
                };
                let other_open = self.open.range(..=deadline).any(|(r, _)| *r != g);
                !other_open && !self.absence_among(i, with())
            })
    }

    /// Every answered operation and revision has its place, but some read of an absent
    /// key lost its time of absence to a write attributed before it: an unknown delete of
    /// that key placed now gives it a later one.
    pub(super) fn repairs(&self, out: &mut Vec<Choice>) {
        let next = self.revision + 1;
        for (key, log) in self.log.iter().enumerate() {
            let lost = log.iter().any(|e| match e.what {
                Placed::Answered(i) => {
                    matches!(self.answered(i).reply, Reply::Read(None, _))
                        && !self.absence_for(i, log)
                }
                Placed::Unknown(_) => false,
            });
            if !lost {
                continue;
            }
            for &p in &self.pools_of_key[key] {
                let deletes = self.input.pools[p].effect == Effect::Delete;
                if deletes
                    && self.member(p, u64::MAX).is_some()
                    && self.pool_fits(p, next).is_some()
                {
                    out.push(Choice::Pool(p, next));
                }
            }
        }
    }

    /// Every answered operation has its place: the open revisions are attributed, lowest
    /// first, to writes nothing contradicts; writes on keys nothing was placed on after
    /// the revision are tried first, and only the first few (see [`CLOSING_TRIES`]).
    pub(super) fn closing_choices(&self, out: &mut Vec<Choice>) {
        let Some((&g, _)) = self.open.iter().next() else {
            self.repairs(out);
            return;
        };
        let quiet = |p: &usize| {
            let log = &self.log[self.input.pools[*p].key as usize];
            log.last().is_none_or(|e| e.level < g)
        };
        let pools = 0..self.input.pools.len();
        let (first, second): (Vec<usize>, Vec<usize>) = pools.partition(quiet);
        let fits = first
            .into_iter()
            .chain(second)
            .filter(|p| self.attributed_state(*p, g).is_some());
        out.extend(fits.take(CLOSING_TRIES).map(|p| Choice::Attribute(p, g)));
    }
}
