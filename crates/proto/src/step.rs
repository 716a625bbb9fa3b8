//! Step events: what one member's Raft core did in one step, for trace validation.
//!
//! A step is one input to the core (a message, a tick, a local call) together with what
//! the core decided: its state before and after, the messages it sent and the reads it
//! confirmed. The member records one at every Ready it hands out, so a validator can
//! judge each decision against the protocol's rules without sharing code with the core.

use crate::raft::{Message, MessageType};
use crate::trace::Role;
use crate::{Index, NodeId, Term};
use serde::{Deserialize, Serialize};

/// The part of a member's state the protocol's rules speak of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CoreState {
    /// Current term.
    pub term: Term,
    /// Vote in that term ([`crate::NO_NODE`]: none).
    pub vote: NodeId,
    /// The leader it knows of in that term ([`crate::NO_NODE`]: none).
    pub leader: NodeId,
    /// Its role.
    pub role: Role,
    /// Last index of its log (durable or not).
    pub last_index: Index,
    /// Term of that entry.
    pub last_term: Term,
    /// Commit index.
    pub commit: Index,
    /// Term of the entry at the commit index (0 if compacted away or none).
    pub commit_term: Term,
}

/// A Raft message as a step records it: every field a rule reads, no entry data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepMessage {
    /// The kind.
    pub kind: MessageType,
    /// The other side: the sender of a received message, the receiver of a sent one.
    pub peer: NodeId,
    /// The message's term.
    pub term: Term,
    /// Its index (for a snapshot, the snapshot's last index).
    pub index: Index,
    /// Its log term (for a snapshot, the term at its last index).
    pub log_term: Term,
    /// Its commit index.
    pub commit: Index,
    /// Entries carried.
    pub entries: u32,
    /// Term of the last entry carried (0 if none).
    pub last_entry_term: Term,
    /// Whether the answer refuses.
    pub reject: bool,
    /// Its context (a heartbeat's read sequence; a transfer's vote request mark).
    pub context: u64,
}

impl StepMessage {
    /// The step form of `m`, seen from this member: `peer` is the sender if `received`.
    pub fn of(m: &Message, received: bool) -> StepMessage {
        let (index, log_term) = match &m.snapshot {
            Some(s) if m.kind == MessageType::Snapshot => (s.meta.index, s.meta.term),
            _ => (m.index, m.log_term),
        };
        StepMessage {
            kind: m.kind,
            peer: if received { m.from } else { m.to },
            term: m.term,
            index,
            log_term,
            commit: m.commit,
            entries: m.entries.len() as u32,
            last_entry_term: m.entries.last().map_or(0, |e| e.term),
            reject: m.reject,
            context: m.context,
        }
    }
}

/// What drove a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum StepInput {
    /// A message from a peer.
    Receive {
        /// The message.
        msg: StepMessage,
    },
    /// A tick of logical time.
    Tick,
    /// A client write proposed at the leader.
    Propose,
    /// A membership change proposed at the leader.
    ProposeChange,
    /// A ReadIndex request, with the application's context.
    ReadIndex {
        /// The context its confirmation will carry.
        context: u64,
    },
    /// An operator asked it to campaign now.
    Campaign,
    /// An operator asked it to transfer leadership.
    Transfer {
        /// The member to hand it to.
        to: NodeId,
    },
    /// The previous Ready was handled (persisted, sent, applied): what follows comes from
    /// the core's own bookkeeping (a leader counting its own persisted entries, a
    /// configuration taking effect, a snapshot taken).
    Advance,
}

/// One step of a member's Raft core, as the trace records it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RaftStep {
    /// The member.
    pub node: NodeId,
    /// What drove it.
    pub input: StepInput,
    /// Its state before.
    pub before: CoreState,
    /// Its state after.
    pub after: CoreState,
    /// The messages it decided to send, in order.
    pub sent: Vec<StepMessage>,
    /// The contexts of the ReadIndex requests it confirmed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<u64>,
}
