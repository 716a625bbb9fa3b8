//! Majority arithmetic, kept apart from the state machine (as etcd's quorum package).

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
