//! The network's fault state: partitions, one-way cuts, loss, duplication, latency and
//! message filters. Decisions are drawn from the run's "network" stream at send time: a
//! message sent while a link is cut is dropped; one already in flight still arrives (the
//! same rule as madsim's clogs).

use config::NetworkFaults;
use proto::raft::MessageType;
use proto::trace::{DropReason, MessageSummary};
use proto::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Drops messages that match, a given number of times or until removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Matches only this Raft message kind (`None`: any, including client traffic).
    pub kind: Option<MessageType>,
    /// Matches only messages from this node.
    pub from: Option<NodeId>,
    /// Matches only messages to this node.
    pub to: Option<NodeId>,
    /// How many more messages to drop (`None`: unlimited).
    pub remaining: Option<u64>,
    /// Matches only messages carrying entries of the sender's current term.
    #[serde(default)]
    pub current_term_entries: bool,
    /// Lets this many matching messages through before dropping.
    #[serde(default)]
    pub pass_first: u64,
    /// Hold matching messages (delivered when released) instead of dropping them.
    #[serde(default)]
    pub hold: bool,
}

impl Filter {
    fn matches(&self, from: NodeId, to: NodeId, msg: &MessageSummary) -> bool {
        self.kind.is_none_or(|k| msg.kind == Some(k))
            && self.from.is_none_or(|f| f == from)
            && self.to.is_none_or(|t| t == to)
            && (!self.current_term_entries || (msg.entries > 0 && msg.last_entry_term == msg.term))
    }
}

/// What the network decided for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver this many copies (1 or 2).
    Deliver(u32),
    /// Do not deliver.
    Drop(DropReason),
    /// Keep it until the held messages are released.
    Hold,
}

/// Counters of what the network did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStats {
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages that arrived.
    pub delivered: u64,
    /// Messages dropped, by any reason.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
}

/// The network's fault state for one run.
#[derive(Debug)]
pub struct NetState {
    /// Node → group number while a partition holds.
    group_of: BTreeMap<NodeId, usize>,
    cuts: BTreeSet<(NodeId, NodeId)>,
    faults: NetworkFaults,
    filters: Vec<Filter>,
    rng: ChaCha8Rng,
    /// What happened so far.
    pub stats: NetworkStats,
}

impl NetState {
    /// A healed network with `faults`, drawing from `rng`.
    pub fn new(faults: NetworkFaults, rng: ChaCha8Rng) -> NetState {
        NetState {
            group_of: BTreeMap::new(),
            cuts: BTreeSet::new(),
            faults,
            filters: Vec::new(),
            rng,
            stats: NetworkStats::default(),
        }
    }

    /// Splits the listed nodes into groups that cannot reach each other (replacing any
    /// earlier partition). Unlisted nodes (clients, say) still reach everyone.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.group_of.clear();
        for (g, members) in groups.iter().enumerate() {
            for n in members {
                self.group_of.insert(*n, g);
            }
        }
    }

    /// Drops everything `from` sends to `to` (one way).
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        self.cuts.insert((from, to));
    }

    /// Removes every partition and cut (filters and random faults stay).
    pub fn heal(&mut self) {
        self.group_of.clear();
        self.cuts.clear();
    }

    /// Replaces the random faults.
    pub fn set_faults(&mut self, faults: NetworkFaults) {
        self.faults = faults;
    }

    /// The random faults in force.
    pub fn faults(&self) -> &NetworkFaults {
        &self.faults
    }

    /// Adds a message filter.
    pub fn add_filter(&mut self, filter: Filter) {
        self.filters.push(filter);
    }

    /// Removes every message filter.
    pub fn clear_filters(&mut self) {
        self.filters.clear();
    }

    /// Whether `from` can currently reach `to` (ignoring random loss).
    pub fn connected(&self, from: NodeId, to: NodeId) -> bool {
        if self.cuts.contains(&(from, to)) {
            return false;
        }
        match (self.group_of.get(&from), self.group_of.get(&to)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// Decides the fate of one message and counts it. A message that is not `duplicable`
    /// is delivered at most once (the random draws are the same either way).
    pub fn decide(
        &mut self,
        from: NodeId,
        to: NodeId,
        msg: &MessageSummary,
        duplicable: bool,
    ) -> Verdict {
        self.stats.sent += 1;
        let verdict = self.decide_inner(from, to, msg, duplicable);
        match verdict {
            Verdict::Deliver(copies) => self.stats.duplicated += u64::from(copies - 1),
            Verdict::Drop(_) => self.stats.dropped += 1,
            Verdict::Hold => {}
        }
        verdict
    }

    fn decide_inner(
        &mut self,
        from: NodeId,
        to: NodeId,
        msg: &MessageSummary,
        duplicable: bool,
    ) -> Verdict {
        if !self.connected(from, to) {
            return Verdict::Drop(DropReason::Partition);
        }
        if let Some(i) = self.filters.iter().position(|f| f.matches(from, to, msg)) {
            let filter = &mut self.filters[i];
            if filter.pass_first > 0 {
                filter.pass_first -= 1;
                return self.random_faults(duplicable);
            }
            let hold = filter.hold;
            if let Some(left) = filter.remaining.as_mut() {
                *left -= 1;
                if *left == 0 {
                    self.filters.remove(i);
                }
            }
            return if hold {
                Verdict::Hold
            } else {
                Verdict::Drop(DropReason::Filter)
            };
        }
        self.random_faults(duplicable)
    }

    fn random_faults(&mut self, duplicable: bool) -> Verdict {
        // Draw both numbers every time so that turning one fault on does not shift the
        // other's draws.
        let loss_draw = self.rng.gen_range(0..1_000_000);
        let duplicate_draw = self.rng.gen_range(0..1_000_000);
        if loss_draw < self.faults.loss_ppm {
            return Verdict::Drop(DropReason::Loss);
        }
        if duplicable && duplicate_draw < self.faults.duplicate_ppm {
            Verdict::Deliver(2)
        } else {
            Verdict::Deliver(1)
        }
    }

    /// Draws a one-way latency in microseconds.
    pub fn latency_us(&mut self) -> u64 {
        let lo = self.faults.latency_min_us;
        let hi = self.faults.latency_max_us.max(lo + 1);
        self.rng.gen_range(lo..hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn summary() -> MessageSummary {
        MessageSummary {
            kind: Some(MessageType::Append),
            term: 1,
            index: 1,
            entries: 1,
            reject: false,
            last_entry_term: 1,
        }
    }

    #[test]
    fn partition_drops_exactly_across_groups_and_heal_restores() {
        let mut n = NetState::new(NetworkFaults::default(), stream(0, "network", 0));
        n.partition(&[vec![1, 2], vec![3, 4, 5]]);
        for a in 1..=5u64 {
            for b in 1..=5u64 {
                let same = (a <= 2) == (b <= 2);
                let v = n.decide(a, b, &summary(), true);
                assert_eq!(
                    v == Verdict::Drop(DropReason::Partition),
                    !same,
                    "{a}->{b}: {v:?}"
                );
            }
        }
        // an unlisted node (a client) reaches both sides
        assert!(n.connected(100, 1) && n.connected(3, 100));
        n.heal();
        assert_eq!(n.decide(1, 3, &summary(), true), Verdict::Deliver(1));
    }

    #[test]
    fn one_way_cut_drops_one_direction_only() {
        let mut n = NetState::new(NetworkFaults::default(), stream(0, "network", 0));
        n.cut(1, 2);
        assert_eq!(
            n.decide(1, 2, &summary(), true),
            Verdict::Drop(DropReason::Partition)
        );
        assert_eq!(n.decide(2, 1, &summary(), true), Verdict::Deliver(1));
    }

    #[test]
    fn duplication_and_loss_follow_their_rates() {
        let faults = NetworkFaults {
            loss_ppm: 200_000,
            duplicate_ppm: 300_000,
            ..NetworkFaults::default()
        };
        let mut n = NetState::new(faults, stream(1, "network", 0));
        let (mut lost, mut dup) = (0, 0);
        for _ in 0..10_000 {
            match n.decide(1, 2, &summary(), true) {
                Verdict::Drop(DropReason::Loss) => lost += 1,
                Verdict::Deliver(2) => dup += 1,
                Verdict::Deliver(1) => {}
                v => panic!("unexpected {v:?}"),
            }
        }
        assert!((1_700..2_300).contains(&lost), "lost {lost}");
        // duplication applies to the 80% not lost
        assert!((2_100..2_700).contains(&dup), "duplicated {dup}");
    }

    #[test]
    fn counted_filter_drops_that_many_matching_messages() {
        let mut n = NetState::new(NetworkFaults::default(), stream(0, "network", 0));
        n.add_filter(Filter {
            kind: Some(MessageType::Append),
            from: Some(1),
            to: None,
            remaining: Some(2),
            current_term_entries: false,
            pass_first: 0,
            hold: false,
        });
        let mut other = summary();
        other.kind = Some(MessageType::Heartbeat);
        assert_eq!(n.decide(1, 2, &other, true), Verdict::Deliver(1));
        assert_eq!(n.decide(2, 1, &summary(), true), Verdict::Deliver(1));
        assert_eq!(
            n.decide(1, 2, &summary(), true),
            Verdict::Drop(DropReason::Filter)
        );
        assert_eq!(
            n.decide(1, 3, &summary(), true),
            Verdict::Drop(DropReason::Filter)
        );
        assert_eq!(n.decide(1, 2, &summary(), true), Verdict::Deliver(1));
    }
}
