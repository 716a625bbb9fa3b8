//! Applying a configuration change to a configuration (as etcd's `confchange` package).
//!
//! The rules, from the Raft dissertation chapter 4 and etcd's `ConfChangeV2`:
//! - a change that adds or removes at most one voter is applied directly (unless asked to
//!   be joint): any two majorities of the configurations before and after overlap (§4.1);
//! - anything else enters a *joint* configuration: the old voters become the outgoing half
//!   and decisions need a majority of each half (§4.3); an empty change leaves it;
//! - no change is made from a joint configuration except leaving it, and no change may
//!   leave the cluster without voters;
//! - a learner is promoted by adding it as a voter; demoting a voter to a learner is not
//!   supported.

use proto::conf::{ChangeKind, ConfChange, ConfState};
use proto::NodeId;

/// Why a change cannot be applied to a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfChangeError {
    /// Leaving a joint configuration when not in one.
    #[error("not in a joint configuration: there is nothing to leave")]
    NotJoint,
    /// Changing a joint configuration other than by leaving it.
    #[error("in a joint configuration: leave it before changing again")]
    AlreadyJoint,
    /// A change that leaves no voter.
    #[error("the change would leave no voter")]
    NoVoters,
    /// Turning a voter into a learner.
    #[error("member {0} is a voter: demoting a voter to a learner is not supported")]
    Demotion(NodeId),
    /// Member id 0.
    #[error("member id 0 is reserved")]
    ZeroId,
}

fn insert(list: &mut Vec<NodeId>, id: NodeId) {
    if let Err(at) = list.binary_search(&id) {
        list.insert(at, id);
    }
}

fn remove(list: &mut Vec<NodeId>, id: NodeId) {
    list.retain(|v| *v != id);
}

/// The configuration `cc` makes of `cs`.
pub fn apply(cs: &ConfState, cc: &ConfChange) -> Result<ConfState, ConfChangeError> {
    if cc.is_leave_joint() {
        if !cs.is_joint() {
            return Err(ConfChangeError::NotJoint);
        }
        return Ok(ConfState {
            voters: cs.voters.clone(),
            outgoing: Vec::new(),
            learners: cs.learners.clone(),
            auto_leave: false,
        });
    }
    if cs.is_joint() {
        return Err(ConfChangeError::AlreadyJoint);
    }
    let mut next = cs.clone();
    for c in &cc.changes {
        if c.node == 0 {
            return Err(ConfChangeError::ZeroId);
        }
        match c.kind {
            ChangeKind::AddVoter => {
                remove(&mut next.learners, c.node);
                insert(&mut next.voters, c.node);
            }
            ChangeKind::AddLearner => {
                if next.voters.contains(&c.node) {
                    return Err(ConfChangeError::Demotion(c.node));
                }
                insert(&mut next.learners, c.node);
            }
            ChangeKind::Remove => {
                remove(&mut next.voters, c.node);
                remove(&mut next.learners, c.node);
            }
        }
    }
    if next.voters.is_empty() {
        return Err(ConfChangeError::NoVoters);
    }
    let changed = next
        .voters
        .iter()
        .filter(|v| !cs.voters.contains(v))
        .chain(cs.voters.iter().filter(|v| !next.voters.contains(v)))
        .count();
    if cc.joint || changed > 1 {
        next.outgoing = cs.voters.clone();
        next.auto_leave = true;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(changes: &[(ChangeKind, NodeId)]) -> ConfChange {
        ConfChange::of(changes)
    }

    /// etcd confchange: a learner is added, promoted by AddVoter, removed by Remove.
    #[test]
    fn learners_are_added_promoted_and_removed() {
        let cs = ConfState::with_voters(&[1, 2, 3]);
        let cs = apply(&cs, &ConfChange::single(ChangeKind::AddLearner, 4)).unwrap();
        assert_eq!(
            (cs.voters.clone(), cs.learners.clone()),
            (vec![1, 2, 3], vec![4])
        );
        let cs = apply(&cs, &ConfChange::single(ChangeKind::AddVoter, 4)).unwrap();
        assert_eq!(
            (cs.voters.clone(), cs.learners.clone()),
            (vec![1, 2, 3, 4], vec![])
        );
        let cs = apply(&cs, &ConfChange::single(ChangeKind::Remove, 1)).unwrap();
        assert_eq!(cs.voters, vec![2, 3, 4]);
        assert_eq!(
            apply(&cs, &ConfChange::single(ChangeKind::AddLearner, 2)),
            Err(ConfChangeError::Demotion(2))
        );
    }

    /// Dissertation §4.1 vs §4.3: a simple change moves one voter; more needs joint.
    #[test]
    fn several_voters_go_through_a_joint_configuration() {
        let cs = ConfState::with_voters(&[1, 2, 3]);
        let mut cc = change(&[(ChangeKind::AddVoter, 4), (ChangeKind::AddVoter, 5)]);
        let joint = apply(&cs, &cc).unwrap();
        assert_eq!(joint.voters, vec![1, 2, 3, 4, 5]);
        assert_eq!(joint.outgoing, vec![1, 2, 3]);
        assert!(joint.auto_leave);
        assert_eq!(apply(&joint, &cc), Err(ConfChangeError::AlreadyJoint));
        let left = apply(&joint, &ConfChange::leave_joint()).unwrap();
        assert_eq!(left, ConfState::with_voters(&[1, 2, 3, 4, 5]));
        assert_eq!(
            apply(&left, &ConfChange::leave_joint()),
            Err(ConfChangeError::NotJoint)
        );
        // A learner and a voter together move one voter: applied directly.
        cc = change(&[(ChangeKind::AddLearner, 7), (ChangeKind::AddVoter, 6)]);
        assert!(!apply(&cs, &cc).unwrap().is_joint());
        cc.joint = true;
        assert!(apply(&cs, &cc).unwrap().is_joint());
        // Replacing a voter (remove one, add one) moves two: joint.
        let replace = change(&[(ChangeKind::Remove, 3), (ChangeKind::AddVoter, 6)]);
        let joint = apply(&cs, &replace).unwrap();
        assert_eq!(
            (joint.voters, joint.outgoing),
            (vec![1, 2, 6], vec![1, 2, 3])
        );
    }

    #[test]
    fn no_change_leaves_the_cluster_without_voters() {
        let cs = ConfState::with_voters(&[1]);
        assert_eq!(
            apply(&cs, &ConfChange::single(ChangeKind::Remove, 1)),
            Err(ConfChangeError::NoVoters)
        );
        assert_eq!(
            apply(&cs, &ConfChange::single(ChangeKind::AddVoter, 0)),
            Err(ConfChangeError::ZeroId)
        );
    }
}
