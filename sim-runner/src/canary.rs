//! Planted bugs, selectable with `--canary NAME`: the testbed testing itself. Each one
//! changes a single decision in one place of the member or the Raft core.

use clap::ValueEnum;
use sim::Canaries;

/// A planted bug. The command line takes its kebab-case name (`--canary ack-before-fsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Canary {
    /// The leader commits an earlier term's entry by counting replicas (Raft §5.4.2, Figure 8).
    CommitEarlierTerm,
    /// Members acknowledge entries before the WAL fsync (synced only once per tick).
    AckBeforeFsync,
    /// The vote is not persisted: after a restart a member may vote twice in a term.
    VoteWithoutPersist,
    /// Votes are granted without the candidate-log-up-to-date check (Raft §5.4.1).
    SkipUpToDateCheck,
    /// The leader serves reads from its own state without confirming leadership (ReadIndex).
    LocalReads,
    /// A retried request (same client id and sequence) is applied again.
    ApplyRetriesTwice,
    /// A compare-and-swap on a modification revision compares the key's create revision.
    CasCreateRevision,
    /// A new WAL segment is fsynced but its directory entry is not: a power loss can take the segment, with acknowledged entries.
    SegmentWithoutDirSync,
    /// Snapshots leave out the client sessions: a retry after a restart or a snapshot install is applied again.
    SnapshotDropsSessions,
    /// Votes and append acknowledgements are sent before the WAL write they promise is fsynced.
    SendBeforePersist,
    /// A candidate keeps votes from earlier terms when it campaigns again.
    VotesAcrossTerms,
    /// WAL recovery takes a torn record at the end for corruption and refuses to start.
    TornTailIsCorruption,
    /// A follower overwrites a conflicting entry but keeps the stale entries after it.
    SkipTruncation,
    /// The leader counts a quorum one member short when it advances its commit index.
    QuorumOffByOne,
    /// A follower appends entries from a leader of an older term.
    AcceptStaleTermAppend,
    /// Deleting a key does not advance the store's revision, so the next write reuses it.
    DeleteKeepsRevision,
    /// WAL recovery cuts the log at any bad record of the last segment, even with valid records after it (damage in the middle).
    CorruptionTakenForTornTail,
    /// A member grants its vote to any candidate of its term, even after voting for another.
    VoteTwiceInTerm,
    /// A create-if-absent compare-and-swap succeeds whatever the key holds.
    CreateIgnoresExisting,
    /// WAL recovery replays a record whose checksum does not match, as long as it decodes.
    WalSkipsChecksum,
    /// A new leader proposes a membership change before it has committed an entry of its own term.
    ConfChangeBeforeOwnCommit,
    /// A leader proposes a membership change while another is still pending.
    TwoConfChangesInFlight,
    /// While joint, a quorum is one majority of all voters together instead of a majority of each half.
    JointAsSingleMajority,
    /// A pre-candidate counts its pre-vote grants as votes of the real election (canonical/raft #196).
    PrevoteGrantsCountAsVotes,
    /// Heartbeats carry the leader's whole commit index, not capped at the follower's match (etcd-io/raft #138, #139).
    HeartbeatCommitUncapped,
    /// A pre-vote request of a higher term makes the receiver adopt that term (etcd #8517, #9204).
    PrevoteRaisesTerm,
    /// Any heartbeat answer confirms every pending read, even one that arrived after that heartbeat was sent (etcd-io/raft #397).
    ReadAcksAnyHeartbeat,
    /// A pre-candidate counts a pre-vote grant left over from an earlier round (found in our own core by trace validation).
    StalePrevoteGrantCounted,
    /// A candidate ignores an append or heartbeat from the leader of its own term instead of following it (goraft/raft #53, d-engine #340).
    CandidateIgnoresLeader,
    /// A follower acknowledges its whole log after an append, not just what the append proved (etcd #1367).
    AckBeyondAppend,
}

impl Canary {
    /// Every canary, in the order `--list` shows them.
    pub fn all() -> &'static [Canary] {
        Canary::value_variants()
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Canary::CommitEarlierTerm => "commit-earlier-term",
            Canary::AckBeforeFsync => "ack-before-fsync",
            Canary::VoteWithoutPersist => "vote-without-persist",
            Canary::SkipUpToDateCheck => "skip-up-to-date-check",
            Canary::LocalReads => "local-reads",
            Canary::ApplyRetriesTwice => "apply-retries-twice",
            Canary::CasCreateRevision => "cas-create-revision",
            Canary::SegmentWithoutDirSync => "segment-without-dir-sync",
            Canary::SnapshotDropsSessions => "snapshot-drops-sessions",
            Canary::SendBeforePersist => "send-before-persist",
            Canary::VotesAcrossTerms => "votes-across-terms",
            Canary::TornTailIsCorruption => "torn-tail-is-corruption",
            Canary::SkipTruncation => "skip-truncation",
            Canary::QuorumOffByOne => "quorum-off-by-one",
            Canary::AcceptStaleTermAppend => "accept-stale-term-append",
            Canary::DeleteKeepsRevision => "delete-keeps-revision",
            Canary::CorruptionTakenForTornTail => "corruption-taken-for-torn-tail",
            Canary::VoteTwiceInTerm => "vote-twice-in-term",
            Canary::CreateIgnoresExisting => "create-ignores-existing",
            Canary::WalSkipsChecksum => "wal-skips-checksum",
            Canary::ConfChangeBeforeOwnCommit => "conf-change-before-own-commit",
            Canary::TwoConfChangesInFlight => "two-conf-changes-in-flight",
            Canary::JointAsSingleMajority => "joint-as-single-majority",
            Canary::PrevoteGrantsCountAsVotes => "prevote-grants-count-as-votes",
            Canary::HeartbeatCommitUncapped => "heartbeat-commit-uncapped",
            Canary::PrevoteRaisesTerm => "prevote-raises-term",
            Canary::ReadAcksAnyHeartbeat => "read-acks-any-heartbeat",
            Canary::StalePrevoteGrantCounted => "stale-prevote-grant-counted",
            Canary::CandidateIgnoresLeader => "candidate-ignores-leader",
            Canary::AckBeyondAppend => "ack-beyond-append",
        }
    }

    /// What it breaks: its doc comment, which is also its `--help` line (one text, kept
    /// on the variant).
    pub fn about(self) -> String {
        self.to_possible_value()
            .and_then(|v| v.get_help().map(|h| h.to_string()))
            .unwrap_or_default()
    }

    /// Whether it plants a bug in the Raft core (the others are in the WAL, the store or
    /// the member's use of them): each of those breaks a rule trace validation judges.
    pub fn in_the_core(self) -> bool {
        let mut planted = Canaries::default();
        self.plant(&mut planted);
        planted.raft != raft::Canaries::default()
    }

    /// Turns it on in `c`.
    pub fn plant(self, c: &mut Canaries) {
        match self {
            Canary::CommitEarlierTerm => c.raft.commit_earlier_term_by_counting = true,
            Canary::AckBeforeFsync => c.node.ack_before_fsync = true,
            Canary::VoteWithoutPersist => c.node.vote_without_persist = true,
            Canary::SkipUpToDateCheck => c.raft.skip_vote_up_to_date_check = true,
            Canary::LocalReads => c.raft.serve_reads_without_quorum = true,
            Canary::ApplyRetriesTwice => c.node.apply_retries_twice = true,
            Canary::CasCreateRevision => c.node.cas_compares_create_revision = true,
            Canary::SegmentWithoutDirSync => c.node.segment_without_dir_sync = true,
            Canary::SnapshotDropsSessions => c.node.snapshot_drops_sessions = true,
            Canary::SendBeforePersist => c.node.send_before_persist = true,
            Canary::VotesAcrossTerms => c.raft.keep_votes_across_terms = true,
            Canary::TornTailIsCorruption => c.node.torn_tail_is_corruption = true,
            Canary::SkipTruncation => c.raft.skip_truncation_on_conflict = true,
            Canary::QuorumOffByOne => c.raft.quorum_off_by_one = true,
            Canary::AcceptStaleTermAppend => c.raft.accept_stale_term_append = true,
            Canary::DeleteKeepsRevision => c.node.delete_keeps_revision = true,
            Canary::CorruptionTakenForTornTail => c.node.corruption_taken_for_torn_tail = true,
            Canary::VoteTwiceInTerm => c.raft.vote_twice_in_term = true,
            Canary::CreateIgnoresExisting => c.node.create_ignores_existing = true,
            Canary::WalSkipsChecksum => c.node.wal_skips_checksum = true,
            Canary::ConfChangeBeforeOwnCommit => c.raft.conf_change_before_own_commit = true,
            Canary::TwoConfChangesInFlight => c.raft.two_conf_changes_in_flight = true,
            Canary::JointAsSingleMajority => c.raft.joint_as_single_majority = true,
            Canary::PrevoteGrantsCountAsVotes => c.raft.prevote_grants_count_as_votes = true,
            Canary::HeartbeatCommitUncapped => c.raft.heartbeat_commit_uncapped = true,
            Canary::PrevoteRaisesTerm => c.raft.prevote_raises_term = true,
            Canary::ReadAcksAnyHeartbeat => c.raft.read_acks_any_heartbeat = true,
            Canary::StalePrevoteGrantCounted => c.raft.stale_prevote_grant_counted = true,
            Canary::CandidateIgnoresLeader => c.raft.candidate_ignores_leader = true,
            Canary::AckBeyondAppend => c.raft.ack_beyond_append = true,
        }
    }

    /// The canary called `name`; `Err` names the known ones.
    pub fn from_name(name: &str) -> Result<Canary, String> {
        Canary::all()
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Canary::all().iter().map(|c| c.name()).collect();
                format!("unknown canary {name:?}; one of: {}", names.join(", "))
            })
    }
}

/// Turns the canary called `name` on in `c`; `Err` names the known canaries.
pub fn enable(c: &mut Canaries, name: &str) -> Result<(), String> {
    Canary::from_name(name)?.plant(c);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_clap_s_names_and_every_canary_plants_something() {
        for c in Canary::all() {
            let clap_name = c.to_possible_value().expect("not skipped");
            assert_eq!(clap_name.get_name(), c.name());
            assert!(!c.about().is_empty(), "{} says what it breaks", c.name());
            let mut planted = Canaries::default();
            c.plant(&mut planted);
            assert_ne!(planted, Canaries::default(), "{}", c.name());
        }
    }
}
