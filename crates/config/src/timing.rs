//! Raft's timing requirement, and what it lets the liveness check promise.
//!
//! Raft elects a leader only if broadcast time is well below the election timeout (the
//! paper: broadcastTime ≪ electionTimeout ≪ MTBF, an order of magnitude apart). When a
//! round trip takes a good part of the timeout, candidates duel; and without PreVote a
//! member whose log is behind, which cannot win, keeps starting elections that reset the
//! others' timers. Then no bound on the time to a leader holds, and a liveness verdict
//! would be a false alarm on correct code: the check says "not judged" and why instead.

use crate::{ClusterConfig, NetworkFaults};

/// How many times the worst round trip the election timeout must be for the timing
/// requirement to hold without PreVote ("an order of magnitude").
pub const WELL_BELOW: u64 = 10;

/// Why the liveness check cannot promise a leader in this cluster over this network
/// (after the faults stop), or `None` when the timing requirement holds.
pub fn liveness_unjudgeable(cluster: &ClusterConfig, network: &NetworkFaults) -> Option<String> {
    let round_trip_us = 2 * network.latency_max_us;
    let timeout_us = cluster.election_ticks * cluster.tick_ms * 1_000;
    let told = format!(
        "a round trip takes up to {} ms and the election timeout is {} ms",
        round_trip_us as f64 / 1e3,
        timeout_us as f64 / 1e3
    );
    if round_trip_us >= timeout_us {
        return Some(format!(
            "Raft's timing requirement is broken ({told}): no election can be promised to end"
        ));
    }
    if !cluster.pre_vote && round_trip_us * WELL_BELOW > timeout_us {
        return Some(format!(
            "broadcast time is not well below the election timeout ({told}) and PreVote is off: a member whose log is behind can disrupt elections without bound"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(pre_vote: bool) -> ClusterConfig {
        ClusterConfig {
            tick_ms: 50,
            election_ticks: 20,
            pre_vote,
            ..ClusterConfig::default()
        }
    }

    fn links(max_ms: u64) -> NetworkFaults {
        NetworkFaults {
            latency_max_us: max_ms * 1_000,
            ..NetworkFaults::default()
        }
    }

    #[test]
    fn fast_links_are_judged_with_or_without_pre_vote() {
        assert_eq!(liveness_unjudgeable(&cluster(false), &links(5)), None);
        assert_eq!(
            liveness_unjudgeable(&ClusterConfig::default(), &NetworkFaults::default()),
            None
        );
    }

    #[test]
    fn slow_links_are_judged_only_with_pre_vote() {
        // A 500 ms round trip against a 1 s election timeout.
        assert_eq!(liveness_unjudgeable(&cluster(true), &links(250)), None);
        let why = liveness_unjudgeable(&cluster(false), &links(250)).unwrap();
        assert!(why.contains("PreVote is off"), "{why}");
    }

    #[test]
    fn a_round_trip_past_the_election_timeout_is_never_judged() {
        let why = liveness_unjudgeable(&cluster(true), &links(600)).unwrap();
        assert!(why.contains("timing requirement is broken"), "{why}");
    }
}
