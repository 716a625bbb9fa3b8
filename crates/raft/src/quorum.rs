//! Majority arithmetic, kept apart from the state machine (as etcd's quorum package).

use proto::conf::ConfState;
use proto::{Index, NodeId};
use std::collections::BTreeMap;

/// The result of counting votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    /// A majority granted.
    Won,
    /// A majority refused: the election cannot be won.
    Lost,
    /// Neither yet.
    Pending,
}

/// The number of voters that forms a majority of `voters`.
pub fn majority(voters: usize) -> usize {
    voters / 2 + 1
}

/// How a quorum is counted: a planted bug can make it wrong.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counting {
    /// One voter short of a majority in each half.
    pub off_by_one: bool,
    /// While joint, one majority of all the voters of both halves together instead of a
    /// majority of each.
    pub joint_as_single_majority: bool,
}

impl Counting {
    /// The halves a quorum needs a majority of (the second empty unless joint). No
    /// allocation on the usual path: this runs at every append and heartbeat answer.
    fn halves<'a>(self, conf: &'a ConfState, union: &'a mut Vec<NodeId>) -> [&'a [NodeId]; 2] {
        if conf.is_joint() && self.joint_as_single_majority {
            *union = conf.voters.iter().chain(&conf.outgoing).copied().collect();
            union.sort_unstable();
            union.dedup();
            return [union.as_slice(), &[]];
        }
        [&conf.voters, &conf.outgoing]
    }

    fn needed(self, voters: usize) -> usize {
        let m = majority(voters);
        if self.off_by_one {
            m - 1
        } else {
            m
        }
    }

    /// The largest index a quorum of `conf` has matched: a majority of the voters, and
    /// while joint also a majority of the outgoing voters (Raft dissertation §4.3).
    // The `let` is needed: the iterator borrows `union`, a local, and a tail expression's
    // temporaries outlive the locals.
    #[allow(clippy::let_and_return)]
    pub fn committed(self, conf: &ConfState, matched: impl Fn(NodeId) -> Index) -> Index {
        let mut union = Vec::new();
        let halves = self.halves(conf, &mut union);
        let index = halves
            .into_iter()
            .filter(|h| !h.is_empty())
            .map(|h| matched_by(h, self.needed(h.len()), &matched))
            .min()
            .unwrap_or(0);
        index
    }

    /// Whether the members for which `yes` holds form a quorum of `conf`.
    #[allow(clippy::let_and_return)] // as in `committed`
    pub fn has_quorum(self, conf: &ConfState, yes: impl Fn(NodeId) -> bool) -> bool {
        let mut union = Vec::new();
        let halves = self.halves(conf, &mut union);
        let ok = halves
            .into_iter()
            .all(|h| h.is_empty() || h.iter().filter(|v| yes(**v)).count() >= self.needed(h.len()));
        ok
    }

    /// Tallies votes in `conf`: won when won in every half, lost when lost in any.
    pub fn tally(self, conf: &ConfState, votes: &BTreeMap<NodeId, bool>) -> VoteResult {
        let mut union = Vec::new();
        let mut result = VoteResult::Won;
        for half in self.halves(conf, &mut union) {
            if half.is_empty() {
                continue; // not joint: no outgoing half
            }
            match tally(half, votes) {
                VoteResult::Lost => return VoteResult::Lost,
                VoteResult::Pending => result = VoteResult::Pending,
                VoteResult::Won => {}
            }
        }
        result
    }
}

/// The largest index that at least `needed` of `voters` have matched (with a majority:
/// the index that can be committed, Raft paper §5.3, §5.4).
pub fn matched_by(voters: &[NodeId], needed: usize, matched: impl Fn(NodeId) -> Index) -> Index {
    let mut indexes: Vec<Index> = voters.iter().map(|v| matched(*v)).collect();
    // Sorted descending, the needed-th value is matched by at least that many.
    indexes.sort_unstable_by(|a, b| b.cmp(a));
    indexes[needed.clamp(1, indexes.len()) - 1]
}

/// Tallies the votes recorded so far.
pub fn tally(voters: &[NodeId], votes: &BTreeMap<NodeId, bool>) -> VoteResult {
    let granted = voters
        .iter()
        .filter(|v| votes.get(v) == Some(&true))
        .count();
    let refused = voters
        .iter()
        .filter(|v| votes.get(v) == Some(&false))
        .count();
    let needed = majority(voters.len());
    if granted >= needed {
        VoteResult::Won
    } else if refused > voters.len() - needed {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joint(voters: &[NodeId], outgoing: &[NodeId]) -> ConfState {
        ConfState {
            voters: voters.to_vec(),
            outgoing: outgoing.to_vec(),
            ..ConfState::default()
        }
    }

    /// Dissertation §4.3: while joint, agreement (for elections and entry commitment)
    /// requires separate majorities from both the old and the new configuration.
    #[test]
    fn joint_quorum_needs_both_majorities() {
        let conf = joint(&[1, 4, 5], &[1, 2, 3]);
        let m: BTreeMap<NodeId, Index> = [(1, 9), (2, 9), (3, 9), (4, 2), (5, 1)].into();
        let correct = Counting::default();
        // Old majority {1,2,3} at 9, new majority only at 2.
        assert_eq!(correct.committed(&conf, |v| m[&v]), 2);
        // Counted as one majority of the five, 9 would look committed.
        let wrong = Counting {
            joint_as_single_majority: true,
            ..Counting::default()
        };
        assert_eq!(wrong.committed(&conf, |v| m[&v]), 9);
        assert!(!correct.has_quorum(&conf, |v| v <= 3));
        assert!(correct.has_quorum(&conf, |v| v == 1 || v == 2 || v == 4));
        let mut votes = BTreeMap::new();
        for v in [1, 2, 3] {
            votes.insert(v, true);
        }
        assert_eq!(correct.tally(&conf, &votes), VoteResult::Pending);
        votes.insert(4, false);
        votes.insert(5, false);
        assert_eq!(correct.tally(&conf, &votes), VoteResult::Lost);
        votes.insert(5, true);
        assert_eq!(correct.tally(&conf, &votes), VoteResult::Won);
    }

    #[test]
    fn committed_index_is_the_majority_match() {
        let committed_index = |voters: &[NodeId], matched: &dyn Fn(NodeId) -> Index| {
            matched_by(voters, majority(voters.len()), matched)
        };
        let m = [5u64, 3, 9];
        assert_eq!(committed_index(&[1, 2, 3], &|v| m[v as usize - 1]), 5);
        let m = [5u64, 3, 9, 1, 7];
        assert_eq!(committed_index(&[1, 2, 3, 4, 5], &|v| m[v as usize - 1]), 5);
        assert_eq!(committed_index(&[1], &|_| 4), 4);
    }

    #[test]
    fn tally_wins_loses_or_waits() {
        let voters = [1, 2, 3, 4, 5];
        let mut votes = BTreeMap::new();
        votes.insert(1, true);
        votes.insert(2, true);
        assert_eq!(tally(&voters, &votes), VoteResult::Pending);
        votes.insert(3, true);
        assert_eq!(tally(&voters, &votes), VoteResult::Won);
        let mut votes = BTreeMap::new();
        for v in [2, 3, 4] {
            votes.insert(v, false);
        }
        assert_eq!(tally(&voters, &votes), VoteResult::Lost);
    }
}
