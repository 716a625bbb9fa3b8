//! What travels in the simulated world: members' Raft traffic, clients' requests and
//! answers, and an operator's commands, with the summary the trace records of each.

use crate::world::Payload;
use proto::conf::ConfChange;
use proto::kv::{ClientRequest, ClientResponse};
use proto::raft::Message;
use proto::trace::MessageSummary;
use proto::NodeId;

/// What travels between members and clients.
#[derive(Clone, Debug)]
pub enum Wire {
    /// Raft traffic between members (boxed: a Raft message is the largest payload by far,
    /// and a boxed one moves through the network's queues as a pointer).
    Raft(Box<Message>),
    /// A client's request.
    Request(ClientRequest),
    /// A member's answer.
    Response(ClientResponse),
    /// An operator's command to a member (scenarios use it; it bypasses the network).
    Control(Control),
    /// "You were removed from the cluster": a member's answer to a removed one.
    Removed,
}

/// Operator commands a scenario can give a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Start an election now.
    Campaign,
    /// (Leader) hand leadership to this member.
    TransferLeader(NodeId),
    /// (Leader) change the membership.
    ConfChange(ConfChange),
}

impl Payload for Wire {
    fn may_duplicate(&self) -> bool {
        !matches!(self, Wire::Request(_))
    }

    fn summary(&self) -> MessageSummary {
        match self {
            Wire::Raft(m) => MessageSummary {
                kind: Some(m.kind),
                term: m.term,
                index: m.index,
                entries: m.entries.len() as u32,
                reject: m.reject,
                last_entry_term: m.entries.last().map_or(0, |e| e.term),
            },
            Wire::Request(r) => MessageSummary {
                kind: None,
                term: 0,
                index: r.command.seq,
                entries: 0,
                reject: false,
                last_entry_term: 0,
            },
            Wire::Response(r) => MessageSummary {
                kind: None,
                term: 0,
                index: r.seq,
                entries: 0,
                reject: r.result.is_err(),
                last_entry_term: 0,
            },
            Wire::Control(_) | Wire::Removed => MessageSummary {
                kind: None,
                term: 0,
                index: 0,
                entries: 0,
                reject: false,
                last_entry_term: 0,
            },
        }
    }
}
