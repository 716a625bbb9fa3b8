//! Making a move and undoing it: the store, the keys' logs, the open revisions, the
//! pools' used writes and the hashes the memo compares, kept in step.

use super::input::Reply;
use super::{
    attributed_key, cell_hash, member_key, mix, open_key, Choice, Entry, Frame, Mend, Move, Placed,
    Search,
};

impl Search<'_, '_> {
    /// Makes a move worked out by [`Search::work_out`].
    pub(super) fn make(&mut self, choice: Choice, step: Move, store_hash: u64) {
        let before = step.key.and_then(|k| self.store[k as usize]);
        let mut frame = Frame {
            choice,
            key: step.key,
            before,
            revision_before: self.revision,
            bound: 0,
            log_index: 0,
            pinned: Vec::new(),
            member: step.member,
            mended: false,
        };
        if let Some(k) = step.key {
            self.store[k as usize] = step.after;
        }
        match choice {
            Choice::Answered(i) => {
                let a = &self.input.answered[i];
                let creates = matches!(a.reply, Reply::Created(_));
                frame.pinned = self.pin(a.call, step.revision, creates);
                self.done[i] = true;
                self.done_count += 1;
                let entry = Entry {
                    level: step.revision,
                    bound: self.min_ret,
                    what: Placed::Answered(i),
                };
                self.log[a.key as usize].push(entry);
                if matches!(a.reply, Reply::Read(None, _)) {
                    self.floating.insert((a.ret, i));
                }
            }
            Choice::Pool(p, r) => {
                frame.pinned = self.pin(self.input.pools[p].calls[step.member], r, true);
                self.taken[p][step.member] = true;
                let key = self.input.pools[p].key as usize;
                self.log[key].push(Entry {
                    level: r,
                    bound: self.min_ret,
                    what: Placed::Unknown(p),
                });
            }
            Choice::Open => {
                self.open.insert(step.revision, self.min_ret);
            }
            Choice::Attribute(p, g) => {
                self.attribute(p, g, step.member, &mut frame);
                if let Some(by) = step.mend {
                    let key = self.input.pools[p].key;
                    self.mends.push(Mend { key, after: g, by });
                    frame.mended = true;
                }
            }
        }
        (self.store_hash, self.hash, self.revision) = (store_hash, step.hash, step.revision);
        self.frames.push(frame);
    }

    /// Gives a deadline to the reads of an absent key that returned before `call`, the
    /// call of a move placed at `level` (`creates`: it makes that revision).
    pub(super) fn pin(&mut self, call: u64, level: u64, creates: bool) -> Vec<(u64, usize)> {
        let pinned: Vec<(u64, usize)> = self.floating.range(..(call, 0)).copied().collect();
        for r in &pinned {
            self.floating.remove(r);
            self.deadline[r.1] = Some((level, creates));
        }
        pinned
    }

    /// Attributes open revision `g` to write `member` of pool `p`.
    pub(super) fn attribute(&mut self, p: usize, g: u64, member: usize, frame: &mut Frame) {
        self.taken[p][member] = true;
        frame.bound = self
            .open
            .remove(&g)
            .expect("an attribution fills an open revision");
        let log = &mut self.log[self.input.pools[p].key as usize];
        frame.log_index = log.partition_point(|e| e.level < g);
        log.insert(
            frame.log_index,
            Entry {
                level: g,
                bound: frame.bound,
                what: Placed::Unknown(p),
            },
        );
    }

    /// Marks answered operation `i` not linearized.
    pub(super) fn unplace(&mut self, i: usize) {
        self.done[i] = false;
        self.done_count -= 1;
        self.first_open = self.first_open.min(i);
        let ret = self.input.answered[i].ret;
        let pos = self
            .by_return
            .partition_point(|j| (self.input.answered[*j].ret, *j) < (ret, i));
        self.min_ret_pos = self.min_ret_pos.min(pos);
    }

    /// Undoes the last move; false when there is none left.
    pub(super) fn backtrack(&mut self) -> bool {
        self.next_try.pop();
        let Some(frame) = self.frames.pop() else {
            return false;
        };
        if let Some(k) = frame.key {
            let after = self.store[k as usize];
            self.store_hash ^= cell_hash(k, after) ^ cell_hash(k, frame.before);
            self.store[k as usize] = frame.before;
        }
        self.hash = match frame.choice {
            Choice::Answered(i) => self.hash ^ mix(i as u64),
            Choice::Pool(p, _) | Choice::Attribute(p, _) => self.hash ^ member_key(p, frame.member),
            Choice::Open => self.hash ^ open_key(self.revision),
        };
        match frame.choice {
            Choice::Answered(i) => {
                let a = &self.input.answered[i];
                self.floating.remove(&(a.ret, i));
                self.log[a.key as usize].pop();
                self.unplace(i);
            }
            Choice::Pool(p, _) => {
                self.taken[p][frame.member] = false;
                self.log[self.input.pools[p].key as usize].pop();
            }
            Choice::Open => {
                self.open.remove(&self.revision);
            }
            Choice::Attribute(p, g) => self.unattribute(p, g, &frame),
        }
        for r in &frame.pinned {
            self.deadline[r.1] = None;
            self.floating.insert(*r);
        }
        self.revision = frame.revision_before;
        true
    }

    /// Undoes [`Search::attribute`].
    pub(super) fn unattribute(&mut self, p: usize, g: u64, frame: &Frame) {
        self.taken[p][frame.member] = false;
        self.hash ^= open_key(g) ^ attributed_key(p, g);
        self.open.insert(g, frame.bound);
        self.log[self.input.pools[p].key as usize].remove(frame.log_index);
        if frame.mended {
            self.mends.pop();
        }
    }
}
