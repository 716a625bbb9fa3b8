//! The member's side of membership changes: the operator's change, noticing its own
//! removal and others', and telling the checkers what each configuration entry does.

use super::{entry_id, Node};
use crate::types::{Halt, NodeError, Output};
use disk::Disk;
use proto::raft::{Entry, EntryKind};
use proto::trace::{EventKind, Role};
use raft::ProposeError;

impl<D: Disk> Node<D> {
    /// An administrator's membership change (leader only; one at a time).
    pub fn conf_change(
        &mut self,
        now_ns: u64,
        cc: &proto::conf::ConfChange,
        out: &mut Output,
    ) -> Result<Result<(), ProposeError>, NodeError> {
        self.begin_step(proto::step::StepInput::ProposeChange);
        let proposed = self.raw.propose_conf_change(cc).map(|_| ());
        if let Err(e) = &proposed {
            out.events.push(EventKind::Note {
                node: self.id,
                text: format!("membership change \"{cc}\" refused: {e}"),
            });
        }
        self.run_ready(now_ns, out)?;
        Ok(proposed)
    }

    /// A member told this one it was removed: stop for good.
    pub fn told_removed(&mut self, out: &mut Output) {
        if !self.left {
            self.left = true;
            out.events.push(EventKind::MemberRemoved { node: self.id });
        }
        out.halt = Some(Halt::Removed);
    }

    /// Whether this member applied its own removal (or was told of it).
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// The configuration this member applied last.
    pub fn conf_state(&self) -> &proto::conf::ConfState {
        self.raw.conf_state()
    }

    /// After the core took on a new configuration: note who was removed; if this member
    /// was, it stops serving clients (its core steps down if it led, reported at the next
    /// Ready).
    pub(super) fn after_conf_change(&mut self, out: &mut Output) {
        let now = self.raw.conf_state();
        for id in self.applied_conf.members() {
            if !now.contains(id) {
                self.removed.insert(id);
            }
        }
        self.applied_conf = now.clone();
        if self.applied_conf.contains(self.id) {
            self.joined = true;
            return;
        }
        if !self.joined || self.left {
            return;
        }
        marks::mark!("node.removed");
        self.left = true;
        out.events.push(EventKind::MemberRemoved { node: self.id });
    }

    /// The leader's new configuration entries, with what they do (for the checkers).
    pub(super) fn record_conf_proposals(&self, entries: &[Entry], out: &mut Output) {
        if self.role != Role::Leader {
            return;
        }
        let term = self.raw.status().term;
        for e in entries {
            if e.kind != EntryKind::ConfChange || e.term != term {
                continue;
            }
            if let Ok(change) = proto::conf::ConfChange::decode(&e.data) {
                out.events.push(EventKind::ConfChangeProposed {
                    node: self.id,
                    entry: entry_id(e),
                    change,
                });
            }
        }
    }
}
