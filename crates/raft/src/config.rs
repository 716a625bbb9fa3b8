//! Configuration of a Raft member.

use proto::NodeId;

/// Why a [`Config`] cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The member's own id is 0.
    #[error("id must not be 0")]
    ZeroId,
    /// No founding voters.
    #[error("the founding voters must not be empty")]
    NoVoters,
    /// A voter named twice, or a voter 0.
    #[error("voters {0:?} must be distinct and non-zero")]
    Voters(Vec<NodeId>),
    /// The heartbeat must be shorter than the election timeout, and not zero.
    #[error("need 0 < heartbeat_ticks ({heartbeat_ticks}) < election_ticks ({election_ticks})")]
    Timing {
        /// The heartbeat interval in ticks.
        heartbeat_ticks: u64,
        /// The election timeout in ticks.
        election_ticks: u64,
    },
    /// No append may be in flight.
    #[error("max_inflight_msgs must be at least 1")]
    NoInflight,
}

/// Planted bugs, for testing the testbed itself (the "canaries"). Each one changes a
/// single decision in one place. All are off unless a test or `--canary` turns one on;
/// never turn one on in a real deployment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Canaries {
    /// Commit an earlier term's entry by counting replicas (breaks Raft paper §5.4.2,
    /// Figure 8).
    pub commit_earlier_term_by_counting: bool,
    /// Grant votes without the candidate-log-up-to-date check (breaks §5.4.1).
    pub skip_vote_up_to_date_check: bool,
    /// Answer ReadIndex at once without confirming leadership (stale reads from a deposed
    /// leader).
    pub serve_reads_without_quorum: bool,
    /// On a conflict, a follower replaces the conflicting entry but keeps the entries after
    /// it instead of truncating them (breaks §5.3's "delete the existing entry and all
    /// that follow it").
    pub skip_truncation_on_conflict: bool,
    /// A candidate keeps the votes it counted in earlier terms (and pre-votes) when it
    /// campaigns again, so old grants count towards the new term.
    pub keep_votes_across_terms: bool,
    /// The leader counts a quorum one member short (half of the voters, not a majority)
    /// when it advances its commit index.
    pub quorum_off_by_one: bool,
    /// A follower appends entries from a leader of an older term (breaks Figure 2's
    /// "reply false if term < currentTerm").
    pub accept_stale_term_append: bool,
    /// A member grants its vote to any candidate of the term it is in, even after voting
    /// for another (breaks §5.2's "at most one vote per term").
    pub vote_twice_in_term: bool,
    /// A new leader may propose a configuration change before it has committed an entry
    /// of its own term (the bug in the single-server change rule fixed after publication:
    /// an earlier leader's uncommitted change may still be pending).
    pub conf_change_before_own_commit: bool,
    /// A leader proposes a configuration change while another is still pending.
    pub two_conf_changes_in_flight: bool,
    /// While joint, a quorum is one majority of all the voters together rather than a
    /// majority of the old and a majority of the new.
    pub joint_as_single_majority: bool,
    /// A pre-candidate that wins its pre-vote round counts the pre-vote grants as votes of
    /// the real election (canonical/raft issue #196: a pre-vote result counted as a vote).
    pub prevote_grants_count_as_votes: bool,
    /// A leader's heartbeat carries its whole commit index instead of capping it at what
    /// the follower matched; the follower commits up to its own last index, even when its
    /// log has not yet been shown to match the leader's (etcd-io/raft #138 and #139).
    pub heartbeat_commit_uncapped: bool,
    /// A member that receives a pre-vote request of a higher term adopts that term (etcd
    /// #8517 and #9204: the pre-vote guard on the term check).
    pub prevote_raises_term: bool,
    /// A heartbeat answer confirms every pending read, even one that arrived after the
    /// heartbeat was sent (etcd-io/raft #397: delayed heartbeat answers released later
    /// reads on a stale leader).
    pub read_acks_any_heartbeat: bool,
    /// A pre-candidate counts a pre-vote grant from an earlier round (it answers the term
    /// that round asked about). Trace validation found this in our own core.
    pub stale_prevote_grant_counted: bool,
    /// A (pre-)candidate ignores an append or heartbeat from the leader of its own term
    /// instead of becoming its follower (goraft/raft #53, d-engine #340).
    pub candidate_ignores_leader: bool,
    /// A follower acknowledges its whole log after an append instead of the last entry the
    /// append proved to match (etcd #1367: acknowledge only up to the append's entries).
    pub ack_beyond_append: bool,
}

/// How a member behaves. Time is counted in ticks; the application calls
/// [`crate::RawNode::tick`] at a fixed interval.
#[derive(Clone, Debug)]
pub struct Config {
    /// This member's id (never 0).
    pub id: NodeId,
    /// The founding voters: the configuration at index 0, before any change. A member
    /// that joins later is not among them; it learns the current configuration from the
    /// leader's log or snapshot.
    pub voters: Vec<NodeId>,
    /// The election timeout T: a follower that hears no leader for a randomized timeout in
    /// [T, 2T) ticks campaigns; a CheckQuorum leader checks its quorum every T ticks.
    pub election_ticks: u64,
    /// A leader sends heartbeats every this many ticks (well below `election_ticks`).
    pub heartbeat_ticks: u64,
    /// Campaign with a pre-vote round first (Raft thesis §9.6), so a partitioned member
    /// rejoining does not raise everyone's term.
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a quorum for an election timeout,
    /// and followers that hear from a leader ignore vote requests for that long (thesis §6.2,
    /// §4.2.3). This is what ends split brain on the minority side.
    pub check_quorum: bool,
    /// Upper bound of the entry bytes in one append message (at least one entry is sent).
    pub max_size_per_msg: usize,
    /// Upper bound of append messages in flight to one follower.
    pub max_inflight_msgs: usize,
    /// A leader refuses proposals when this many entries are not yet committed.
    pub max_uncommitted_entries: u64,
    /// Seed of the election-timeout jitter (derive it from the run seed and the id).
    pub seed: u64,
    /// Planted bugs (all off by default).
    pub canaries: Canaries,
}

impl Config {
    /// A configuration with the usual defaults: T = 10 ticks, heartbeat every tick,
    /// PreVote and CheckQuorum on.
    pub fn new(id: NodeId, voters: Vec<NodeId>, seed: u64) -> Config {
        Config {
            id,
            voters,
            election_ticks: 10,
            heartbeat_ticks: 1,
            pre_vote: true,
            check_quorum: true,
            max_size_per_msg: 64 * 1024,
            max_inflight_msgs: 64,
            max_uncommitted_entries: 4096,
            seed,
            canaries: Canaries::default(),
        }
    }

    /// Checks the configuration; the message says what is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 {
            return Err(ConfigError::ZeroId);
        }
        if self.voters.is_empty() {
            return Err(ConfigError::NoVoters);
        }
        let mut sorted = self.voters.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.voters.len() || sorted.contains(&0) {
            return Err(ConfigError::Voters(self.voters.clone()));
        }
        if self.heartbeat_ticks == 0 || self.election_ticks <= self.heartbeat_ticks {
            return Err(ConfigError::Timing {
                heartbeat_ticks: self.heartbeat_ticks,
                election_ticks: self.election_ticks,
            });
        }
        if self.max_inflight_msgs == 0 {
            return Err(ConfigError::NoInflight);
        }
        Ok(())
    }
}
