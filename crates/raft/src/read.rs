//! Linearizable reads through ReadIndex (Raft thesis §6.4): the leader records its commit
//! index, confirms it is still leader with a heartbeat round, and the application answers
//! once it has applied up to that index.

use crate::raft::{Raft, ReadIndexError, ReadState};
use proto::trace::Role;
use proto::{Index, NodeId};
use std::collections::{BTreeSet, VecDeque};

#[derive(Clone, Debug)]
struct PendingRead {
    sequence: u64,
    context: u64,
    index: Index,
    acks: BTreeSet<NodeId>,
}

/// The leader's pending ReadIndex requests, oldest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadOnly {
    pending: VecDeque<PendingRead>,
    next_sequence: u64,
}

/// Upper bound of pending reads; more are refused as if not leader (the client retries).
const MAX_PENDING_READS: usize = 4096;

impl ReadOnly {
    /// The sequence number the next heartbeat should carry (0 if no read is pending).
    pub(crate) fn last_sequence(&self) -> u64 {
        self.pending.back().map_or(0, |r| r.sequence)
    }
}

impl Raft {
    /// Asks for a linearizable read point for the application's `context`. The answer
    /// arrives as a [`ReadState`] in a later Ready.
    pub fn read_index(&mut self, context: u64) -> Result<(), ReadIndexError> {
        if self.role != Role::Leader || self.read_only.pending.len() >= MAX_PENDING_READS {
            return Err(ReadIndexError::NotLeader {
                leader: self.leader,
            });
        }
        if self.log.term(self.log.committed) != Some(self.term) {
            marks::mark!("raft.read_index.no_commit_in_term");
            return Err(ReadIndexError::NoCommitInTerm);
        }
        let index = self.log.committed;
        let alone = self.counting().has_quorum(&self.conf, |v| v == self.id);
        if alone || self.cfg.canaries.serve_reads_without_quorum {
            self.read_states.push(ReadState { context, index });
            return Ok(());
        }
        self.read_only.next_sequence += 1;
        let sequence = self.read_only.next_sequence;
        let mut acks = BTreeSet::new();
        acks.insert(self.id);
        self.read_only.pending.push_back(PendingRead {
            sequence,
            context,
            index,
            acks,
        });
        self.broadcast_heartbeat(sequence);
        Ok(())
    }

    /// A heartbeat answer carrying `sequence` confirms every read up to it.
    pub(crate) fn ack_reads(&mut self, from: NodeId, sequence: u64) {
        let any = self.cfg.canaries.read_acks_any_heartbeat;
        if sequence == 0 && !any {
            return;
        }
        let counting = self.counting();
        // A quorum needs at least a majority of the (incoming) voters' acks: counting is
        // skipped until then (this runs for every pending read at every answer).
        let at_least = crate::quorum::majority(self.conf.voters.len());
        let mut confirmed = None;
        for (i, read) in self.read_only.pending.iter_mut().enumerate() {
            if read.sequence > sequence && !any {
                break;
            }
            read.acks.insert(from);
            if read.acks.len() >= at_least
                && counting.has_quorum(&self.conf, |v| read.acks.contains(&v))
            {
                confirmed = Some(i);
            }
        }
        if let Some(last) = confirmed {
            marks::mark!("raft.read_index.confirmed");
            // Confirming a later read confirms every earlier one too.
            for read in self.read_only.pending.drain(..=last) {
                self.read_states.push(ReadState {
                    context: read.context,
                    index: read.index,
                });
            }
        }
    }
}
