//! The clients a member keeps waiting: writes proposed and not yet applied, reads asked of
//! the leader and not yet confirmed, and confirmed reads waiting for the store to catch
//! up. The member asks this book what to answer; the Raft core never sees it.

use crate::types::Outgoing;
use proto::kv::{ClientError, ClientRequest, ClientResponse, Op, OpResult};
use proto::{Index, NodeId, Term};
use raft::ReadState;
use std::collections::BTreeMap;

/// Upper bound of client requests waiting for a commit or a read confirmation; beyond it
/// new ones are refused as unavailable.
const MAX_PENDING_REQUESTS: usize = 8192;

/// Who asked, and which attempt: every answer echoes the attempt it answers, so a client
/// never takes a late answer to an earlier attempt for the current one.
#[derive(Clone, Copy, Debug)]
pub(super) struct Caller {
    address: NodeId,
    client_id: u64,
    seq: u64,
    attempt: u32,
}

impl Caller {
    pub(super) fn of(address: NodeId, request: &ClientRequest) -> Caller {
        Caller {
            address,
            client_id: request.command.client_id,
            seq: request.command.seq,
            attempt: request.attempt,
        }
    }

    pub(super) fn reply(self, result: Result<OpResult, ClientError>) -> Outgoing {
        Outgoing::Reply {
            to: self.address,
            response: ClientResponse {
                client_id: self.client_id,
                seq: self.seq,
                attempt: self.attempt,
                result,
            },
        }
    }
}

/// A write proposed at some index, waiting to be applied there.
#[derive(Clone, Debug)]
pub(super) struct PendingWrite {
    /// The term it was proposed in: another term's entry at its index means it was lost.
    pub term: Term,
    pub caller: Caller,
    pub proposed_ns: u64,
}

impl PendingWrite {
    /// The answer when this member can no longer tell the write's fate.
    pub(super) fn unknown(self) -> Outgoing {
        self.caller.reply(Err(ClientError::Unknown))
    }
}

/// A read of `key`, waiting for its confirmation, then for the store.
#[derive(Clone, Debug)]
pub(super) struct PendingRead {
    pub caller: Caller,
    /// The read (a get or a range).
    pub op: Op,
}

/// The waiting clients.
#[derive(Debug, Default)]
pub(super) struct Requests {
    writes: BTreeMap<Index, PendingWrite>,
    /// Reads by the context their ReadIndex request carries.
    reads: BTreeMap<u64, PendingRead>,
    /// Confirmed reads and the index the store must reach first.
    confirmed: Vec<(Index, PendingRead)>,
    next_context: u64,
}

impl Requests {
    /// Whether a new request must be refused as unavailable.
    pub(super) fn full(&self) -> bool {
        self.writes.len() + self.reads.len() >= MAX_PENDING_REQUESTS
    }

    /// The context for the next ReadIndex request.
    pub(super) fn next_context(&mut self) -> u64 {
        self.next_context += 1;
        self.next_context
    }

    /// A read was asked of the core with `context`.
    pub(super) fn read_asked(&mut self, context: u64, read: PendingRead) {
        self.reads.insert(context, read);
    }

    /// A write was proposed at `index`.
    pub(super) fn write_proposed(&mut self, index: Index, write: PendingWrite) {
        self.writes.insert(index, write);
    }

    /// Writes waiting to be applied.
    pub(super) fn writes_pending(&self) -> usize {
        self.writes.len()
    }

    /// The write waiting at `index`, taken out.
    pub(super) fn take_write(&mut self, index: Index) -> Option<PendingWrite> {
        self.writes.remove(&index)
    }

    /// Leadership is gone: every write's fate is unknown (it may commit under another
    /// leader; the client must retry to learn which) and no read was served. The writes
    /// failed, and the answers, writes first.
    pub(super) fn leadership_lost(&mut self, leader: NodeId) -> (usize, Vec<Outgoing>) {
        let writes = std::mem::take(&mut self.writes);
        let failed = writes.len();
        let mut out: Vec<Outgoing> = writes.into_values().map(PendingWrite::unknown).collect();
        let reads = std::mem::take(&mut self.reads).into_values().chain(
            std::mem::take(&mut self.confirmed)
                .into_iter()
                .map(|(_, r)| r),
        );
        for r in reads {
            out.push(r.caller.reply(Err(ClientError::NotLeader { leader })));
        }
        (failed, out)
    }

    /// A snapshot up to `index` was installed: writes proposed at or below it can no
    /// longer be matched to an entry. Their answers.
    pub(super) fn covered_by_snapshot(&mut self, index: Index) -> Vec<Outgoing> {
        let kept = self.writes.split_off(&(index + 1));
        let covered = std::mem::replace(&mut self.writes, kept);
        covered.into_values().map(PendingWrite::unknown).collect()
    }

    /// The core confirmed these reads.
    pub(super) fn confirmed(&mut self, read_states: &[ReadState]) {
        for read in read_states {
            if let Some(pending) = self.reads.remove(&read.context) {
                self.confirmed.push((read.index, pending));
            }
        }
    }

    /// The confirmed reads the store, applied up to `applied`, can serve now, in the
    /// order they were confirmed.
    pub(super) fn servable(&mut self, applied: Index) -> Vec<PendingRead> {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.confirmed)
            .into_iter()
            .partition(|(index, _)| *index <= applied);
        self.confirmed = waiting;
        ready.into_iter().map(|(_, r)| r).collect()
    }
}
