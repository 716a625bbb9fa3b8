//! Cluster membership: the configuration a member is in ([`ConfState`]) and the changes
//! that move it ([`ConfChange`]), in the style of etcd's `ConfState` and `ConfChangeV2`.
//!
//! A change travels as a log entry of kind [`crate::raft::EntryKind::ConfChange`] whose
//! data is [`ConfChange::encode`]; it takes effect on a member when the member applies
//! the entry. Several changes in one entry (or one change asked to be joint) go through
//! joint consensus (Raft dissertation §4.3): the cluster first enters a joint
//! configuration in which decisions need a majority of the old voters *and* of the new,
//! then leaves it with an empty change. A single change of at most one voter is applied
//! directly (dissertation §4.1).

use crate::codec::{DecodeError, Reader, Writer};
use crate::NodeId;
use serde::{Deserialize, Serialize};

/// A member's configuration: who votes and who only listens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfState {
    /// The voters (the incoming ones while joint), sorted.
    pub voters: Vec<NodeId>,
    /// While joint: the voters of the configuration being left, sorted; empty otherwise.
    pub outgoing: Vec<NodeId>,
    /// Members that receive the log but do not vote, sorted.
    pub learners: Vec<NodeId>,
    /// While joint: the leader leaves the joint configuration by itself once it applies it.
    pub auto_leave: bool,
}

impl ConfState {
    /// A plain configuration of `voters`.
    pub fn with_voters(voters: &[NodeId]) -> ConfState {
        let mut voters = voters.to_vec();
        voters.sort_unstable();
        voters.dedup();
        ConfState {
            voters,
            ..ConfState::default()
        }
    }

    /// Whether this is a joint configuration.
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Whether `id` votes (in either half while joint).
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.outgoing.contains(&id)
    }

    /// Whether `id` is in the configuration at all (voter or learner).
    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.learners.contains(&id)
    }

    /// Every member, sorted and without repeats.
    pub fn members(&self) -> Vec<NodeId> {
        let mut all: Vec<NodeId> = self
            .voters
            .iter()
            .chain(&self.outgoing)
            .chain(&self.learners)
            .copied()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Appends the configuration's bytes.
    pub fn encode_into(&self, w: &mut Writer) {
        for list in [&self.voters, &self.outgoing, &self.learners] {
            w.u32(list.len() as u32);
            for id in list {
                w.u64(*id);
            }
        }
        w.u8(u8::from(self.auto_leave));
    }

    /// Reads what [`ConfState::encode_into`] wrote.
    pub fn decode_from(r: &mut Reader) -> Result<ConfState, DecodeError> {
        let mut lists = [Vec::new(), Vec::new(), Vec::new()];
        for list in lists.iter_mut() {
            let count = r.u32("member count")? as usize;
            if count > r.remaining() / 8 {
                return Err(r.error("member count"));
            }
            for _ in 0..count {
                list.push(r.u64("member id")?);
            }
        }
        let auto_leave = match r.u8("auto leave")? {
            0 => false,
            1 => true,
            _ => return Err(r.error("auto leave")),
        };
        let [voters, outgoing, learners] = lists;
        Ok(ConfState {
            voters,
            outgoing,
            learners,
            auto_leave,
        })
    }
}

impl std::fmt::Display for ConfState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids = |l: &[NodeId]| {
            l.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(f, "voters {{{}}}", ids(&self.voters))?;
        if self.is_joint() {
            write!(f, " & outgoing {{{}}}", ids(&self.outgoing))?;
        }
        if !self.learners.is_empty() {
            write!(f, " learners {{{}}}", ids(&self.learners))?;
        }
        Ok(())
    }
}

/// What one change does to one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// Add a voter, or promote a learner to voter.
    AddVoter,
    /// Add a non-voting member.
    AddLearner,
    /// Remove a member (voter or learner).
    Remove,
}

/// One change to one member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfChangeSingle {
    /// What to do.
    pub kind: ChangeKind,
    /// To whom.
    pub node: NodeId,
}

/// A configuration change as proposed: a list of single changes. No changes at all means
/// "leave the joint configuration". Changes that move more than one voter go through a
/// joint configuration whether asked or not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfChange {
    /// The changes, applied in order.
    pub changes: Vec<ConfChangeSingle>,
    /// Go through a joint configuration even when the change moves at most one voter.
    pub joint: bool,
}

impl ConfChange {
    /// One change, applied directly.
    pub fn single(kind: ChangeKind, node: NodeId) -> ConfChange {
        ConfChange {
            changes: vec![ConfChangeSingle { kind, node }],
            joint: false,
        }
    }

    /// Several changes in one entry (joint when they move more than one voter).
    pub fn of(changes: &[(ChangeKind, NodeId)]) -> ConfChange {
        ConfChange {
            changes: changes
                .iter()
                .map(|&(kind, node)| ConfChangeSingle { kind, node })
                .collect(),
            joint: false,
        }
    }

    /// The change that leaves a joint configuration.
    pub fn leave_joint() -> ConfChange {
        ConfChange::default()
    }

    /// Whether this change leaves a joint configuration.
    pub fn is_leave_joint(&self) -> bool {
        self.changes.is_empty()
    }

    /// The entry data of this change.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(u8::from(self.joint));
        w.u32(self.changes.len() as u32);
        for c in &self.changes {
            w.u8(match c.kind {
                ChangeKind::AddVoter => 1,
                ChangeKind::AddLearner => 2,
                ChangeKind::Remove => 3,
            });
            w.u64(c.node);
        }
        w.bytes
    }

    /// Decodes entry data written by [`ConfChange::encode`].
    pub fn decode(bytes: &[u8]) -> Result<ConfChange, DecodeError> {
        let mut r = Reader::new(bytes);
        let joint = r.u8("joint flag")? == 1;
        let count = r.u32("change count")? as usize;
        if count > r.remaining() / 9 {
            return Err(r.error("change count"));
        }
        let mut changes = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = match r.u8("change kind")? {
                1 => ChangeKind::AddVoter,
                2 => ChangeKind::AddLearner,
                3 => ChangeKind::Remove,
                _ => return Err(r.error("change kind")),
            };
            changes.push(ConfChangeSingle {
                kind,
                node: r.u64("node")?,
            });
        }
        r.finish("end of conf change")?;
        Ok(ConfChange { changes, joint })
    }
}

impl std::fmt::Display for ConfChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_leave_joint() {
            return f.write_str("leave joint");
        }
        let parts: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                let what = match c.kind {
                    ChangeKind::AddVoter => "add voter",
                    ChangeKind::AddLearner => "add learner",
                    ChangeKind::Remove => "remove",
                };
                format!("{what} {}", c.node)
            })
            .collect();
        let joint = if self.joint { " (joint)" } else { "" };
        write!(f, "{}{joint}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_states_round_trip() {
        let cc = ConfChange {
            changes: vec![
                ConfChangeSingle {
                    kind: ChangeKind::Remove,
                    node: 3,
                },
                ConfChangeSingle {
                    kind: ChangeKind::AddVoter,
                    node: 7,
                },
            ],
            joint: false,
        };
        assert_eq!(ConfChange::decode(&cc.encode()), Ok(cc.clone()));
        assert_eq!(cc.to_string(), "remove 3, add voter 7");
        let cs = ConfState {
            voters: vec![1, 2, 7],
            outgoing: vec![1, 2, 3],
            learners: vec![9],
            auto_leave: true,
        };
        let mut w = Writer::new();
        cs.encode_into(&mut w);
        let back = ConfState::decode_from(&mut Reader::new(&w.bytes));
        assert_eq!(back, Ok(cs.clone()));
        assert_eq!(cs.members(), vec![1, 2, 3, 7, 9]);
        assert_eq!(
            cs.to_string(),
            "voters {1,2,7} & outgoing {1,2,3} learners {9}"
        );
    }

    #[test]
    fn truncated_or_bad_bytes_are_refused() {
        let bytes = ConfChange::single(ChangeKind::AddLearner, 4).encode();
        for cut in 0..bytes.len() {
            assert!(ConfChange::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad[5] = 9;
        assert!(ConfChange::decode(&bad).is_err());
    }
}
