//! The in-memory log: a compacted prefix (index and term only) followed by entries.

use proto::raft::{Entry, SnapshotMeta};
use proto::{Index, Term};

/// The replicated log as one member holds it.
///
/// Entries up to `offset` were compacted into a snapshot; `entries[i]` has index
/// `offset + 1 + i`.
#[derive(Clone, Debug)]
pub struct RaftLog {
    /// Index of the last compacted entry (0 for none).
    offset: Index,
    /// Term of the entry at `offset`.
    offset_term: Term,
    /// Entries after `offset`, contiguous.
    // Invariant: entries[i].index == offset + 1 + i, and terms never decrease.
    entries: Vec<Entry>,
    /// Highest index known committed.
    // Invariant: committed <= last_index() (checked in commit_to).
    pub committed: Index,
    /// Highest index applied by the application.
    // Invariant: applied <= committed.
    pub applied: Index,
    /// Highest index the application has made durable (`Ready::entries` persisted).
    // Invariant: offset <= persisted <= last_index().
    pub persisted: Index,
}

impl RaftLog {
    /// A log that starts after a snapshot at `(index, term)`, with `entries` after it
    /// (already durable) and `committed` as recovered.
    pub fn restore(snapshot: &SnapshotMeta, entries: Vec<Entry>, committed: Index) -> RaftLog {
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(
                e.index,
                snapshot.index + 1 + i as u64,
                "recovered entries must follow the snapshot contiguously"
            );
        }
        let last = snapshot.index + entries.len() as u64;
        // A commit index ahead of the recovered log (its tail was lost) is capped: it can
        // only have been learned from a leader and will be learned again.
        let committed = committed.clamp(snapshot.index, last);
        RaftLog {
            offset: snapshot.index,
            offset_term: snapshot.term,
            entries,
            committed,
            applied: snapshot.index,
            persisted: last,
        }
    }

    /// First index still held as an entry.
    pub fn first_index(&self) -> Index {
        self.offset + 1
    }

    /// Index of the last entry (the compaction point if there is none).
    pub fn last_index(&self) -> Index {
        self.offset + self.entries.len() as u64
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }

    /// Term of the entry at `index`; `None` if compacted away or beyond the end.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == self.offset {
            return Some(self.offset_term);
        }
        if index < self.offset || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index - self.offset - 1) as usize].term)
    }

    /// Whether the log has an entry at `index` with `term`.
    pub fn matches(&self, index: Index, term: Term) -> bool {
        self.term(index) == Some(term)
    }

    /// Whether a candidate whose log ends at `(index, term)` is at least as up-to-date as
    /// this log (Raft paper §5.4.1).
    pub fn is_up_to_date(&self, index: Index, term: Term) -> bool {
        term > self.last_term() || (term == self.last_term() && index >= self.last_index())
    }

    /// Entries in `[lo, hi)`, at most `max_bytes` (but at least one entry).
    pub fn slice(&self, lo: Index, hi: Index, max_bytes: usize) -> &[Entry] {
        assert!(
            lo > self.offset && hi <= self.last_index() + 1 && lo <= hi,
            "slice [{lo}, {hi}) outside the log ({}, {}]",
            self.offset,
            self.last_index()
        );
        let start = (lo - self.offset - 1) as usize;
        let end = (hi - self.offset - 1) as usize;
        let mut size = 0;
        let mut cut = start;
        while cut < end {
            size += self.entries[cut].size_bytes();
            if size > max_bytes && cut > start {
                break;
            }
            cut += 1;
        }
        &self.entries[start..cut]
    }

    /// Appends entries created by this member as leader.
    pub fn append(&mut self, entries: Vec<Entry>) {
        for e in entries {
            assert_eq!(
                e.index,
                self.last_index() + 1,
                "appended entries must be contiguous"
            );
            self.entries.push(e);
        }
    }

    /// Appends a leader's entries that follow `(index, term)`, which the caller checked
    /// matches. Returns the first index truncated because of a conflict (Raft paper §5.3:
    /// "if an existing entry conflicts with a new one, delete it and all that follow").
    pub fn append_after(&mut self, entries: &[Entry]) -> Option<Index> {
        self.append_after_with(entries, false)
    }

    /// As [`RaftLog::append_after`]; with `keep_suffix` (a planted bug) a conflicting
    /// entry is replaced in place and the entries after it are kept.
    pub fn append_after_with(&mut self, entries: &[Entry], keep_suffix: bool) -> Option<Index> {
        let mut truncated = None;
        for e in entries {
            if e.index <= self.offset {
                continue; // already compacted, hence committed, hence identical
            }
            match self.term(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    assert!(
                        e.index > self.committed,
                        "a leader tried to overwrite committed entry {} (committed {})",
                        e.index,
                        self.committed
                    );
                    let at = (e.index - self.offset - 1) as usize;
                    self.persisted = self.persisted.min(e.index - 1);
                    truncated.get_or_insert(e.index);
                    if keep_suffix {
                        self.entries[at] = e.clone();
                    } else {
                        self.entries.truncate(at);
                        self.entries.push(e.clone());
                    }
                }
                None => self.entries.push(e.clone()),
            }
        }
        truncated
    }

    /// The largest index `<= index` whose term is `<= term`: where a leader should retry
    /// after a rejection (fast backtracking, as etcd's findConflictByTerm).
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> (Index, Term) {
        let mut i = index.min(self.last_index());
        while i > self.offset {
            let t = self.term(i).expect("index within the log");
            if t <= term {
                return (i, t);
            }
            i -= 1;
        }
        (self.offset, self.offset_term)
    }

    /// Raises the commit index.
    pub fn commit_to(&mut self, index: Index) {
        if index > self.committed {
            assert!(
                index <= self.last_index(),
                "commit {index} beyond the last index {}",
                self.last_index()
            );
            self.committed = index;
        }
    }

    /// Entries committed, durable locally and not yet handed to the application.
    pub fn next_committed_entries(&self, max_bytes: usize) -> &[Entry] {
        let hi = self.committed.min(self.persisted);
        if hi <= self.applied {
            return &[];
        }
        self.slice(self.applied + 1, hi + 1, max_bytes)
    }

    /// Entries not yet durable.
    pub fn unstable_entries(&self) -> &[Entry] {
        if self.persisted >= self.last_index() {
            return &[];
        }
        self.slice(self.persisted + 1, self.last_index() + 1, usize::MAX)
    }

    /// Replaces the whole log by a snapshot's position.
    pub fn restore_snapshot(&mut self, meta: &SnapshotMeta) {
        self.offset = meta.index;
        self.offset_term = meta.term;
        self.entries.clear();
        self.committed = meta.index;
        // applied and persisted move when the application has installed the snapshot.
    }

    /// Drops entries up to `index` (they are covered by a snapshot the application took).
    pub fn compact_to(&mut self, index: Index) {
        if index <= self.offset {
            return;
        }
        assert!(
            index <= self.applied,
            "cannot compact to {index} beyond applied {}",
            self.applied
        );
        let term = self.term(index).expect("index within the log");
        self.entries.drain(..(index - self.offset) as usize);
        self.offset = index;
        self.offset_term = term;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::raft::EntryKind;

    fn e(index: Index, term: Term) -> Entry {
        Entry {
            index,
            term,
            kind: EntryKind::Normal,
            data: vec![],
        }
    }

    fn log(terms: &[Term]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, t)| e(i as u64 + 1, *t))
            .collect();
        RaftLog::restore(&SnapshotMeta::default(), entries, 0)
    }

    #[test]
    fn append_after_truncates_the_conflicting_suffix() {
        let mut l = log(&[1, 1, 2, 2]);
        assert_eq!(l.append_after(&[e(3, 2), e(4, 3), e(5, 3)]), Some(4));
        assert_eq!(l.last_index(), 5);
        assert_eq!(l.term(4), Some(3));
        assert_eq!(l.persisted, 3);
        // appending entries it already has changes nothing
        assert_eq!(l.append_after(&[e(2, 1), e(3, 2)]), None);
        assert_eq!(l.last_index(), 5);
    }

    #[test]
    fn find_conflict_by_term_skips_a_whole_term() {
        let l = log(&[1, 1, 4, 4, 4]);
        assert_eq!(l.find_conflict_by_term(5, 3), (2, 1));
        assert_eq!(l.find_conflict_by_term(5, 4), (5, 4));
        assert_eq!(l.find_conflict_by_term(9, 0), (0, 0));
    }

    #[test]
    fn compaction_keeps_terms_at_the_offset() {
        let mut l = log(&[1, 2, 3]);
        l.committed = 3;
        l.applied = 2;
        l.compact_to(2);
        assert_eq!(l.first_index(), 3);
        assert_eq!(l.term(2), Some(2));
        assert_eq!(l.term(1), None);
        assert_eq!(l.last_index(), 3);
    }

    #[test]
    fn slice_respects_the_byte_limit_but_returns_one_entry() {
        let l = log(&[1, 1, 1, 1]);
        assert_eq!(l.slice(1, 5, 0).len(), 1);
        assert_eq!(l.slice(1, 5, 48).len(), 2);
        assert_eq!(l.slice(1, 5, usize::MAX).len(), 4);
    }
}
