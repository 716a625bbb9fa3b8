//! What a leader is asked to do from outside: append a proposal, hand leadership to
//! another member, and compact its log behind a snapshot.

use crate::raft::{ProposeError, Raft};
use proto::raft::{Entry, EntryKind, Message, MessageType, Snapshot};
use proto::trace::Role;
use proto::{Index, NodeId, Term};

impl Raft {
    /// Appends a proposal to the leader's log; followers hear of it at the next Ready.
    /// Returns the entry's index and term: the proposal took effect iff the entry later
    /// applied at that index has that term.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(Index, Term), ProposeError> {
        if let Err(e) = self.admit_proposal() {
            marks::mark!("raft.propose.refused");
            return Err(e);
        }
        let index = self.log.last_index() + 1;
        self.log.append(vec![Entry {
            term: self.term,
            index,
            kind: EntryKind::Normal,
            data,
        }]);
        self.broadcast_pending = true;
        Ok((index, self.term))
    }

    /// Whether a proposal may be appended now: only by the leader, not while it hands
    /// leadership over, and not beyond the bound of uncommitted entries.
    pub(crate) fn admit_proposal(&self) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if self.transferee.is_some() {
            return Err(ProposeError::Transferring);
        }
        if self.leaving {
            return Err(ProposeError::Leaving);
        }
        if self.log.last_index() - self.log.committed >= self.cfg.max_uncommitted_entries {
            return Err(ProposeError::Busy);
        }
        Ok(())
    }

    /// Starts moving leadership to `to` (Raft thesis §3.10): once `to`'s log is up to date
    /// it is told to campaign at once. Proposals are refused meanwhile. As in etcd, a
    /// transfer to the leader itself cancels a pending one, and asking again for the
    /// transfer in progress changes nothing (its timeout, and with it the CheckQuorum
    /// window, is not restarted).
    pub fn transfer_leader(&mut self, to: NodeId) {
        if self.role != Role::Leader {
            return;
        }
        if to == self.id {
            self.transferee = None;
            return;
        }
        if self.transferee == Some(to)
            || !self.conf.voters.contains(&to)
            || !self.progress.contains_key(&to)
        {
            return;
        }
        self.transferee = Some(to);
        self.election_elapsed = 0;
        let caught_up = self.progress[&to].matched == self.log.last_index();
        if caught_up {
            marks::mark!("raft.transfer.timeout_now");
            self.send(Message::new(
                MessageType::TimeoutNow,
                self.id,
                to,
                self.term,
            ));
        } else {
            self.maybe_send_append(to, true);
        }
    }

    /// Hands the core a snapshot the application took at `snapshot.meta.index` (at or below
    /// the applied index) and compacts the log up to it, keeping `keep` entries before it
    /// for followers that lag a little.
    pub fn compact(&mut self, snapshot: Snapshot, keep: u64) {
        let index = snapshot.meta.index;
        assert!(
            index <= self.log.applied,
            "snapshot at {index} beyond applied {}",
            self.log.applied
        );
        if self
            .snapshot
            .as_ref()
            .is_some_and(|s| s.meta.index >= index)
        {
            return;
        }
        self.log.compact_to(index.saturating_sub(keep));
        self.snapshot = Some(snapshot);
    }
}
