//! The rules trace validation judges, each with its name and source.

use serde::{Deserialize, Serialize};

/// One rule of the protocol, as the validator checks it step by step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A member's term never goes back.
    TermMonotonic,
    /// A message of a higher term makes the member adopt that term as a follower
    /// (except a pre-vote, a granted pre-vote answer, or a vote request it ignores
    /// because it heard from a leader within the election timeout).
    HigherTermAdopted,
    /// A message of a lower term changes nothing, and its answer grants and
    /// acknowledges nothing.
    StaleTermIgnored,
    /// Every message sent carries the sender's current term (a pre-vote the term it
    /// would campaign in; a granted pre-vote answer the request's term).
    SentInCurrentTerm,
    /// A pre-vote round changes no one's term.
    PreVoteChangesNoTerm,
    /// A candidate starts its election in the next term, voting for itself.
    CandidateTerm,
    /// Only a voter of the configuration it applied campaigns.
    OnlyVotersCampaign,
    /// At most one vote per term, across restarts once made durable.
    OneVotePerTerm,
    /// A vote (or pre-vote) goes only to a candidate whose log is at least as
    /// up-to-date.
    VoteForUpToDateLog,
    /// A leader won with granted votes of its term from a quorum of the configuration it
    /// applied (a majority of each half while joint); learners and strangers never count.
    ElectionWonByQuorum,
    /// A pre-candidate moves on to a real election only with pre-votes from a quorum.
    PreVoteWonByQuorum,
    /// A candidate that hears from a leader of its term or a later one becomes its
    /// follower.
    CandidateYieldsToLeader,
    /// A leader's log only grows while it leads.
    LeaderAppendOnly,
    /// A leader commits only an entry of its own term, once a quorum of its
    /// configuration acknowledged it.
    LeaderCommitByQuorum,
    /// A follower commits no further than the leader's commit index and the last entry
    /// the leader's message proved to match.
    FollowerCommitBound,
    /// The commit index never goes back.
    CommitMonotonic,
    /// A member's commit index advances only as a leader counting acknowledgements or on
    /// a leader's message.
    CommitNeedsCause,
    /// An append acknowledgement claims no more than the append proved.
    AckOnlyWhatMatched,
    /// A leader's heartbeat tells a follower a commit index no higher than what that
    /// follower acknowledged.
    HeartbeatCommitCapped,
    /// A leader confirms a ReadIndex read only once a quorum of its configuration answered
    /// a heartbeat sent after the read arrived.
    ReadConfirmedByQuorum,
    /// A follower whose entries conflict with an append's deletes them and all that
    /// follow: what it keeps past the append is never of an older term than the append's
    /// last entry.
    ConflictingSuffixTruncated,
    /// A leader appends a membership change only after it has committed an entry of its
    /// own term.
    ChangeAfterOwnCommit,
    /// A leader appends a membership change only when its earlier changes are committed.
    OneChangeAtATime,
    /// A leader hands over leadership (TimeoutNow) only to a follower that acknowledged
    /// its whole log.
    TransferToCaughtUp,
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; 24] = [
        Rule::TermMonotonic,
        Rule::HigherTermAdopted,
        Rule::StaleTermIgnored,
        Rule::SentInCurrentTerm,
        Rule::PreVoteChangesNoTerm,
        Rule::CandidateTerm,
        Rule::OnlyVotersCampaign,
        Rule::OneVotePerTerm,
        Rule::VoteForUpToDateLog,
        Rule::ElectionWonByQuorum,
        Rule::PreVoteWonByQuorum,
        Rule::CandidateYieldsToLeader,
        Rule::LeaderAppendOnly,
        Rule::LeaderCommitByQuorum,
        Rule::FollowerCommitBound,
        Rule::CommitMonotonic,
        Rule::CommitNeedsCause,
        Rule::AckOnlyWhatMatched,
        Rule::HeartbeatCommitCapped,
        Rule::ReadConfirmedByQuorum,
        Rule::ConflictingSuffixTruncated,
        Rule::ChangeAfterOwnCommit,
        Rule::OneChangeAtATime,
        Rule::TransferToCaughtUp,
    ];

    /// Its name in verdicts.
    pub fn name(self) -> &'static str {
        match self {
            Rule::TermMonotonic => "term-monotonic",
            Rule::HigherTermAdopted => "higher-term-adopted",
            Rule::StaleTermIgnored => "stale-term-ignored",
            Rule::SentInCurrentTerm => "sent-in-current-term",
            Rule::PreVoteChangesNoTerm => "pre-vote-changes-no-term",
            Rule::CandidateTerm => "candidate-term",
            Rule::OnlyVotersCampaign => "only-voters-campaign",
            Rule::OneVotePerTerm => "one-vote-per-term",
            Rule::VoteForUpToDateLog => "vote-for-up-to-date-log",
            Rule::ElectionWonByQuorum => "election-won-by-quorum",
            Rule::PreVoteWonByQuorum => "pre-vote-won-by-quorum",
            Rule::CandidateYieldsToLeader => "candidate-yields-to-leader",
            Rule::LeaderAppendOnly => "leader-append-only",
            Rule::LeaderCommitByQuorum => "leader-commit-by-quorum",
            Rule::FollowerCommitBound => "follower-commit-bound",
            Rule::CommitMonotonic => "commit-monotonic",
            Rule::CommitNeedsCause => "commit-needs-cause",
            Rule::AckOnlyWhatMatched => "ack-only-what-matched",
            Rule::HeartbeatCommitCapped => "heartbeat-commit-capped",
            Rule::ReadConfirmedByQuorum => "read-confirmed-by-quorum",
            Rule::ConflictingSuffixTruncated => "conflicting-suffix-truncated",
            Rule::ChangeAfterOwnCommit => "change-after-own-commit",
            Rule::OneChangeAtATime => "one-change-at-a-time",
            Rule::TransferToCaughtUp => "transfer-to-caught-up",
        }
    }

    /// Where the rule comes from.
    pub fn source(self) -> &'static str {
        match self {
            Rule::TermMonotonic | Rule::HigherTermAdopted => "Raft paper Figure 2, all servers",
            Rule::StaleTermIgnored => "Figure 2, receiver rule 1; §5.1",
            Rule::SentInCurrentTerm => "§5.1",
            Rule::PreVoteChangesNoTerm | Rule::PreVoteWonByQuorum => "dissertation §9.6",
            Rule::CandidateTerm => "Figure 2, candidates",
            Rule::OnlyVotersCampaign => "dissertation §4.2.1, etcd's promotable",
            Rule::OneVotePerTerm => "§5.2",
            Rule::VoteForUpToDateLog => "§5.4.1",
            Rule::ElectionWonByQuorum => "§5.2, dissertation §4.3",
            Rule::CandidateYieldsToLeader => "§5.2",
            Rule::LeaderAppendOnly => "Figure 3",
            Rule::LeaderCommitByQuorum => "§5.3, §5.4.2, dissertation §4.3",
            Rule::FollowerCommitBound => "Figure 2, AppendEntries receiver rule 5",
            Rule::CommitMonotonic | Rule::CommitNeedsCause => "Figure 2, §5.3",
            Rule::AckOnlyWhatMatched => "§5.3, Log Matching",
            Rule::HeartbeatCommitCapped => "etcd raft, heartbeats",
            Rule::ReadConfirmedByQuorum => "dissertation §6.4",
            Rule::ConflictingSuffixTruncated => "Figure 2, AppendEntries receiver rule 3",
            Rule::ChangeAfterOwnCommit => "dissertation §4.1 and its erratum",
            Rule::OneChangeAtATime => "dissertation §4.1",
            Rule::TransferToCaughtUp => "dissertation §3.10",
        }
    }

    /// What the rule says, in a sentence (the scenario reference lists it).
    pub fn meaning(self) -> &'static str {
        match self {
            Rule::TermMonotonic => "A member's term never goes back.",
            Rule::HigherTermAdopted => "A message of a higher term makes the member adopt that term as a follower (except a pre-vote, a granted pre-vote answer, or a vote request it ignores because it heard from a leader within the election timeout).",
            Rule::StaleTermIgnored => "A message of a lower term changes nothing, and its answer grants and acknowledges nothing.",
            Rule::SentInCurrentTerm => "Every message sent carries the sender's current term (a pre-vote the term it would campaign in; a granted pre-vote answer the request's term).",
            Rule::PreVoteChangesNoTerm => "A pre-vote round changes no one's term.",
            Rule::CandidateTerm => "A candidate starts its election in the next term, voting for itself.",
            Rule::OnlyVotersCampaign => "Only a voter of the configuration it applied campaigns.",
            Rule::OneVotePerTerm => "At most one vote per term, across restarts once made durable.",
            Rule::VoteForUpToDateLog => "A vote (or pre-vote) goes only to a candidate whose log is at least as up-to-date.",
            Rule::ElectionWonByQuorum => "A leader won with granted votes of its term from a quorum of the configuration it applied (a majority of each half while joint); learners and strangers never count.",
            Rule::PreVoteWonByQuorum => "A pre-candidate moves on to a real election only with pre-votes from a quorum.",
            Rule::CandidateYieldsToLeader => "A candidate that hears from a leader of its term or a later one becomes its follower.",
            Rule::LeaderAppendOnly => "A leader's log only grows while it leads.",
            Rule::LeaderCommitByQuorum => "A leader commits only an entry of its own term, once a quorum of its configuration acknowledged it.",
            Rule::FollowerCommitBound => "A follower commits no further than the leader's commit index and the last entry the leader's message proved to match.",
            Rule::CommitMonotonic => "The commit index never goes back.",
            Rule::CommitNeedsCause => "A member's commit index advances only as a leader counting acknowledgements or on a leader's message.",
            Rule::AckOnlyWhatMatched => "An append acknowledgement claims no more than the append proved.",
            Rule::HeartbeatCommitCapped => "A leader's heartbeat tells a follower a commit index no higher than what that follower acknowledged.",
            Rule::ReadConfirmedByQuorum => "A leader confirms a ReadIndex read only once a quorum of its configuration answered a heartbeat sent after the read arrived.",
            Rule::ConflictingSuffixTruncated => "A follower whose entries conflict with an append's deletes them and all that follow: what it keeps past the append is never of an older term than the append's last entry.",
            Rule::ChangeAfterOwnCommit => "A leader appends a membership change only after it has committed an entry of its own term.",
            Rule::OneChangeAtATime => "A leader appends a membership change only when its earlier changes are committed.",
            Rule::TransferToCaughtUp => "A leader hands over leadership (TimeoutNow) only to a follower that acknowledged its whole log.",
        }
    }

    /// Parses a name produced by [`Rule::name`].
    pub fn from_name(name: &str) -> Option<Rule> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}
