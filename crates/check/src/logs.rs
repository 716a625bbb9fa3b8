//! Rebuilds each member's durable log from the trace, event by event, for the checkers of
//! log matching and leader completeness. Independent of the node's own log code.

use proto::trace::{EntryId, EventKind};
use proto::{Index, NodeId, Term};
use std::collections::BTreeMap;

/// One member's log as the trace shows it: a base (snapshot) and the entries after it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Log {
    /// Last index covered by a snapshot (entries up to it are unknown but committed).
    pub base: Index,
    /// Term at `base`.
    pub base_term: Term,
    /// Entries after `base`, contiguous.
    pub entries: Vec<EntryId>,
}

impl Log {
    pub fn last_index(&self) -> Index {
        self.base + self.entries.len() as u64
    }

    pub fn get(&self, index: Index) -> Option<&EntryId> {
        if index <= self.base {
            return None;
        }
        self.entries.get((index - self.base - 1) as usize)
    }

    /// The term of the entry before `index` (the base's term at the boundary).
    pub fn term_before(&self, index: Index) -> Option<Term> {
        if index == self.base + 1 {
            return Some(self.base_term);
        }
        self.get(index - 1).map(|e| e.term)
    }

    fn put(&mut self, entries: &[EntryId]) {
        for e in entries {
            if e.index <= self.base {
                continue;
            }
            let at = (e.index - self.base - 1) as usize;
            if at > self.entries.len() {
                // A gap means the trace missed something (e.g. a log persisted before the
                // recorded recovery); restart the view from here.
                self.base = e.index - 1;
                self.base_term = 0;
                self.entries.clear();
                self.entries.push(*e);
                continue;
            }
            self.entries.truncate(at);
            self.entries.push(*e);
        }
    }
}

/// The logs of every member, updated by [`Logs::apply`].
#[derive(Default)]
pub(crate) struct Logs {
    pub logs: BTreeMap<NodeId, Log>,
}

impl Logs {
    /// Updates the logs with one event. Returns the member whose log changed and the
    /// entries that were written, if any.
    pub fn apply<'k>(&mut self, kind: &'k EventKind) -> Option<(NodeId, &'k [EntryId])> {
        match kind {
            EventKind::LogPersisted { node, entries } => {
                self.logs.entry(*node).or_default().put(entries);
                Some((*node, entries))
            }
            EventKind::LogTruncated { node, from, .. } => {
                let log = self.logs.entry(*node).or_default();
                if *from > log.base {
                    log.entries.truncate((*from - log.base - 1) as usize);
                }
                None
            }
            EventKind::Recovered {
                node,
                snapshot_index,
                snapshot_term,
                entries,
                ..
            } => {
                let log = Log {
                    base: *snapshot_index,
                    base_term: *snapshot_term,
                    entries: entries.clone(),
                };
                self.logs.insert(*node, log);
                Some((*node, entries))
            }
            EventKind::SnapshotInstalled { node, index, term } => {
                self.logs.insert(
                    *node,
                    Log {
                        base: *index,
                        base_term: *term,
                        entries: Vec::new(),
                    },
                );
                None
            }
            _ => None,
        }
    }
}
