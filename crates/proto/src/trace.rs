//! Trace events: everything that happens in a run, with its simulated time.
//!
//! The simulator records network and fault events, the node records Raft events, clients
//! record calls and returns. The checkers judge Raft safety from these events alone.

use crate::raft::MessageType;
use crate::{Index, NodeId, Term};
use serde::{Deserialize, Serialize};

/// A member's Raft role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Follows a leader (or waits for one).
    #[default]
    Follower,
    /// Asking for pre-votes (no term raised yet).
    PreCandidate,
    /// Asking for votes in a new term.
    Candidate,
    /// Leads its term.
    Leader,
}

impl Role {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A compact summary of a message for the trace (the full message is not recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageSummary {
    /// The message kind, or `None` for a client request/response.
    pub kind: Option<MessageType>,
    /// The sender's term (0 for client traffic).
    pub term: Term,
    /// The message's index field, or the client sequence number for client traffic.
    pub index: Index,
    /// Number of entries carried.
    pub entries: u32,
    /// Whether the response rejects.
    pub reject: bool,
    /// Term of the last entry carried (0 if none).
    pub last_entry_term: Term,
}

/// The identity of a log entry as the checkers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryId {
    /// Position in the log.
    pub index: Index,
    /// Term of the leader that created it.
    pub term: Term,
    /// FNV-1a digest of the entry's kind and data, so two different entries at the same
    /// index and term are told apart.
    pub digest: u64,
}

/// Why the network did not deliver a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A partition or one-way cut between the two nodes.
    Partition,
    /// Random loss.
    Loss,
    /// A scenario's message filter matched it.
    Filter,
    /// The receiver was down.
    Down,
}

/// One event in a run's trace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A message was handed to the network.
    Send {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// What was sent.
        msg: MessageSummary,
    },
    /// A message arrived.
    Deliver {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// What arrived.
        msg: MessageSummary,
    },
    /// A message was not delivered.
    Drop {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// What was dropped.
        msg: MessageSummary,
        /// Why.
        reason: DropReason,
    },
    /// The network sent a second copy of a message.
    Duplicate {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// What was duplicated.
        msg: MessageSummary,
    },
    /// The cluster was split into groups that cannot reach each other.
    Partition {
        /// The groups (nodes not listed form no group and are unaffected).
        groups: Vec<Vec<NodeId>>,
    },
    /// Messages from `from` to `to` are dropped (the other direction is untouched).
    CutLink {
        /// Sending side.
        from: NodeId,
        /// Receiving side.
        to: NodeId,
    },
    /// Every partition and cut was removed.
    Heal,
    /// The network's random faults changed.
    NetworkConfig {
        /// Loss probability, parts per million.
        loss_ppm: u32,
        /// Duplication probability, parts per million.
        duplicate_ppm: u32,
        /// Latency lower bound, microseconds.
        latency_min_us: u64,
        /// Latency upper bound (exclusive), microseconds.
        latency_max_us: u64,
    },
    /// A node's process was killed.
    Crash {
        /// The node.
        node: NodeId,
    },
    /// A node's process was started again (its init runs anew, recovering from disk).
    Restart {
        /// The node.
        node: NodeId,
    },
    /// A node's process was paused (it keeps its memory, runs nothing).
    Pause {
        /// The node.
        node: NodeId,
    },
    /// A paused node runs again.
    Resume {
        /// The node.
        node: NodeId,
    },
    /// A crash resolved the disk's pending (unsynced) writes.
    DiskCrash {
        /// The node whose disk it is.
        node: NodeId,
        /// Pending writes kept whole.
        kept: u32,
        /// Pending writes lost.
        dropped: u32,
        /// Pending writes cut short at a sector boundary.
        torn: u32,
    },
    /// An fsync made pending writes durable.
    DiskSync {
        /// The node.
        node: NodeId,
        /// Bytes made durable.
        bytes: u64,
    },
    /// A member changed role.
    Role {
        /// The member.
        node: NodeId,
        /// Its new role.
        role: Role,
        /// Its term.
        term: Term,
    },
    /// A member made entries durable in its log (after a WAL sync), replacing anything it
    /// had from `entries[0].index` on.
    LogPersisted {
        /// The member.
        node: NodeId,
        /// The entries, in index order.
        entries: Vec<EntryId>,
    },
    /// A member dropped its log suffix from `from` on because a leader's log disagreed
    /// (the source document's "overwritten" stale entries).
    LogTruncated {
        /// The member.
        node: NodeId,
        /// First index removed.
        from: Index,
        /// Last index it had before.
        last: Index,
    },
    /// A member's log after recovery from its disk at start.
    Recovered {
        /// The member.
        node: NodeId,
        /// The snapshot it started from (index, term).
        snapshot_index: Index,
        /// The snapshot's term.
        snapshot_term: Term,
        /// The log after the snapshot.
        entries: Vec<EntryId>,
        /// Its durable term.
        term: Term,
        /// Its durable vote in that term ([`crate::NO_NODE`]: none).
        vote: NodeId,
        /// Its durable commit index.
        commit: Index,
    },
    /// A member made a new term or vote durable (after a WAL sync), as the Raft core asked.
    VotePersisted {
        /// The member.
        node: NodeId,
        /// The term.
        term: Term,
        /// The vote in that term ([`crate::NO_NODE`]: none).
        vote: NodeId,
    },
    /// A member's commit index advanced.
    Committed {
        /// The member.
        node: NodeId,
        /// The new commit index.
        index: Index,
        /// Term of the entry at `index`.
        term: Term,
    },
    /// A member applied an entry to its state machine.
    Applied {
        /// The member.
        node: NodeId,
        /// The entry.
        entry: EntryId,
        /// The command's client id and sequence (0, 0 for a no-op).
        client: u64,
        /// The command's sequence number.
        seq: u64,
        /// False when the session table recognised a retry and changed nothing.
        fresh: bool,
    },
    /// A member took a snapshot and compacted its log.
    SnapshotTaken {
        /// The member.
        node: NodeId,
        /// Last index covered.
        index: Index,
    },
    /// A member installed a snapshot received from the leader.
    SnapshotInstalled {
        /// The member.
        node: NodeId,
        /// Last index covered.
        index: Index,
        /// Term at that index.
        term: Term,
    },
    /// A client sent a request (first attempt or retry).
    ClientSend {
        /// The client id.
        client: u64,
        /// The sequence number.
        seq: u64,
        /// The member it was sent to.
        to: NodeId,
        /// Operation name.
        op: String,
        /// The key.
        key: String,
    },
    /// A client's request finished (ok, failed or unknown).
    ClientDone {
        /// The client id.
        client: u64,
        /// The sequence number.
        seq: u64,
        /// "ok", "failed" or "unknown".
        status: String,
    },
    /// A failpoint fired.
    Failpoint {
        /// The member.
        node: NodeId,
        /// The failpoint's name.
        name: String,
        /// What it did.
        action: String,
    },
    /// A scenario step fired.
    Step {
        /// The step's label.
        label: String,
    },
    /// A free-form note from a test actor or scenario.
    Note {
        /// The node concerned (0: none).
        node: NodeId,
        /// The text.
        text: String,
    },
    /// A message was held back by a filter, to be delivered when released.
    Held {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// What was held.
        msg: MessageSummary,
    },
    /// Held messages were released into the network.
    Released {
        /// How many.
        count: u32,
    },
    /// A storage error stopped a member (at start, recovering, or while running): it
    /// stays down rather than go on with state it cannot trust.
    Stopped {
        /// The member.
        node: NodeId,
        /// The error.
        reason: String,
        /// The error is a typed corruption error: the member found its stored data damaged
        /// (a checksum that does not match, a record that does not decode) and refuses to
        /// go on with it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        corrupt: bool,
    },
    /// The cluster was formed: its founding voters (the configuration at index 0).
    ClusterFormed {
        /// The founding voters.
        voters: Vec<NodeId>,
    },
    /// A leader appended a configuration change to its log (the checkers learn from it
    /// what each configuration entry does).
    ConfChangeProposed {
        /// The leader.
        node: NodeId,
        /// The entry.
        entry: EntryId,
        /// The change.
        change: crate::conf::ConfChange,
    },
    /// A member learned it was removed from the cluster (it applied its removal, or a
    /// member told it) and stopped serving.
    MemberRemoved {
        /// The member.
        node: NodeId,
    },
    /// A member's disk was damaged on purpose while its process was down: synced data
    /// changed (bit rot, a misdirected write), or unsynced writes were persisted out of
    /// order at a crash. A correct member then either recovers all it made durable or
    /// refuses to start with a typed corruption error.
    DiskDamaged {
        /// The member.
        node: NodeId,
        /// What was done.
        what: String,
    },
    /// One step of a member's Raft core (see [`crate::step`]): recorded at every Ready,
    /// before the Ready is persisted or sent. Boxed: it is the largest event, and the
    /// rest should not grow to its size.
    RaftStep(Box<crate::step::RaftStep>),
}

/// One trace event with its simulated time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// Simulated nanoseconds since the run began.
    pub time_ns: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}
