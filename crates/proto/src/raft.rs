//! The Raft types: log entries, hard state, snapshots and messages.

use crate::{Index, NodeId, Term};
use serde::{Deserialize, Serialize};

/// What an entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// An application command (its bytes are opaque to Raft).
    Normal,
    /// The empty entry a new leader appends so that it can commit in its own term
    /// (Raft paper §5.4.2 and §8).
    Noop,
    /// A membership change: the data is a [`crate::conf::ConfChange`].
    ConfChange,
}

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// The term of the leader that created the entry.
    pub term: Term,
    /// The entry's position in the log.
    pub index: Index,
    /// Normal command or leader no-op.
    pub kind: EntryKind,
    /// The command bytes (empty for a no-op).
    pub data: Vec<u8>,
}

impl Entry {
    /// Approximate size in bytes, used to bound messages.
    pub fn size_bytes(&self) -> usize {
        24 + self.data.len()
    }
}

/// The state that must be durable before a node answers anything that depends on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// Whom this node voted for in `term` ([`crate::NO_NODE`] if nobody).
    pub vote: NodeId,
    /// The highest index known to be committed.
    pub commit: Index,
}

/// Describes the log prefix a snapshot replaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The last index the snapshot covers.
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
    /// The configuration at `index`.
    pub conf: crate::conf::ConfState,
}

/// A snapshot of the state machine at `meta.index`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// Which prefix of the log it replaces.
    pub meta: SnapshotMeta,
    /// The state machine's serialized state (opaque to Raft).
    pub data: Vec<u8>,
}

/// The kinds of Raft messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MessageType {
    /// Pre-vote request (Raft thesis §9.6): asks whether a vote would be granted, without
    /// raising anyone's term.
    PreVote,
    /// Answer to [`MessageType::PreVote`].
    PreVoteResp,
    /// RequestVote (Raft paper §5.2).
    Vote,
    /// Answer to [`MessageType::Vote`].
    VoteResp,
    /// AppendEntries carrying entries (Raft paper §5.3).
    Append,
    /// Answer to [`MessageType::Append`].
    AppendResp,
    /// AppendEntries without entries, carrying the commit index and read contexts.
    Heartbeat,
    /// Answer to [`MessageType::Heartbeat`].
    HeartbeatResp,
    /// InstallSnapshot (Raft paper §7).
    Snapshot,
    /// Leadership transfer: tells the target to campaign at once (Raft thesis §3.10).
    TimeoutNow,
}

impl MessageType {
    /// A short lower-case name, used in traces and scenario files.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::PreVote => "prevote",
            MessageType::PreVoteResp => "prevote-resp",
            MessageType::Vote => "vote",
            MessageType::VoteResp => "vote-resp",
            MessageType::Append => "append",
            MessageType::AppendResp => "append-resp",
            MessageType::Heartbeat => "heartbeat",
            MessageType::HeartbeatResp => "heartbeat-resp",
            MessageType::Snapshot => "snapshot",
            MessageType::TimeoutNow => "timeout-now",
        }
    }

    /// Every message type, in a fixed order.
    pub const ALL: [MessageType; 10] = [
        MessageType::PreVote,
        MessageType::PreVoteResp,
        MessageType::Vote,
        MessageType::VoteResp,
        MessageType::Append,
        MessageType::AppendResp,
        MessageType::Heartbeat,
        MessageType::HeartbeatResp,
        MessageType::Snapshot,
        MessageType::TimeoutNow,
    ];

    /// Parses a name produced by [`MessageType::name`].
    pub fn from_name(name: &str) -> Option<MessageType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// A Raft message. One struct for all kinds, as in etcd's `raftpb.Message`; each field's
/// doc says which kinds use it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// The kind of message.
    pub kind: MessageType,
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// The sender's term (for PreVote: the term it would campaign in).
    pub term: Term,
    /// Append: term of the entry at `index`. Vote/PreVote: term of the candidate's last entry.
    /// AppendResp reject: the term of the follower's entry at `reject_hint` (fast backtracking).
    pub log_term: Term,
    /// Append: index of the entry preceding `entries`. Vote/PreVote: candidate's last index.
    /// AppendResp: on success the last index now matched; on reject the rejected `index`.
    pub index: Index,
    /// Append: the entries to append after `index`.
    pub entries: Vec<Entry>,
    /// Append/Heartbeat: the leader's commit index (for Heartbeat, capped at the match index).
    pub commit: Index,
    /// Responses: whether the request was refused.
    pub reject: bool,
    /// AppendResp reject: the follower's suggestion of where to retry (its last index, or
    /// the first index of its conflicting term's run).
    pub reject_hint: Index,
    /// Snapshot: the snapshot to install.
    pub snapshot: Option<Snapshot>,
    /// Heartbeat/HeartbeatResp: a ReadIndex context the heartbeat round confirms (0 = none).
    pub context: u64,
}

impl Message {
    /// A message of `kind` from `from` to `to` in `term`, every other field empty.
    pub fn new(kind: MessageType, from: NodeId, to: NodeId, term: Term) -> Message {
        Message {
            kind,
            from,
            to,
            term,
            log_term: 0,
            index: 0,
            entries: Vec::new(),
            commit: 0,
            reject: false,
            reject_hint: 0,
            snapshot: None,
            context: 0,
        }
    }
}
