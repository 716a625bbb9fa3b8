//! The Raft state machine: roles, terms, ticks and message dispatch.
//! Elections live in `election.rs`, replication in `replication.rs`, ReadIndex in
//! `read.rs`.

use crate::config::Config;
use crate::log::RaftLog;
use crate::progress::Progress;
use crate::read::ReadOnly;
use proto::conf::ConfState;
use proto::raft::{Entry, EntryKind, HardState, Message, MessageType, Snapshot};
use proto::trace::Role;
use proto::{Index, NodeId, Term, NO_NODE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// `Message::context` of a vote request sent because of a leadership transfer: voters
/// grant it even while they still hear from the old leader.
pub(crate) const CAMPAIGN_TRANSFER: u64 = u64::MAX;

/// A ReadIndex request that was confirmed: the application may answer it once it has
/// applied up to `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    /// The application's context given to [`crate::RawNode::read_index`].
    pub context: u64,
    /// The commit index at the time of the request.
    pub index: Index,
}

/// A suffix of the log removed because the leader's log disagreed with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// First index removed.
    pub from: Index,
    /// Last index held before the removal.
    pub last: Index,
}

/// Why a proposal was refused. The entry was certainly not appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// Only the leader accepts proposals; `leader` is the known leader (0 if none).
    #[error("not the leader (leader is {leader})")]
    NotLeader {
        /// The known leader.
        leader: NodeId,
    },
    /// Leadership is being transferred.
    #[error("leadership transfer in progress")]
    Transferring,
    /// Too many entries are waiting to commit.
    #[error("too many uncommitted entries")]
    Busy,
    /// A configuration change is still pending (proposed and not yet applied), or the
    /// leader has not yet applied an entry of its own term.
    #[error("a configuration change is pending")]
    ConfChangePending,
    /// The leader has proposed its own removal: it appends nothing after it, so that the
    /// members that acknowledged the removal hold the leader's whole log and one of them
    /// can win the next election (a removed leader with a longer log would refuse them
    /// its vote, and a joint configuration may still need it).
    #[error("the leader is leaving the cluster")]
    Leaving,
    /// The change cannot be applied to the current configuration.
    #[error("invalid configuration change: {0}")]
    InvalidConfChange(#[from] crate::confchange::ConfChangeError),
}

/// Why a ReadIndex request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadIndexError {
    /// Only the leader serves ReadIndex; `leader` is the known leader (0 if none).
    #[error("not the leader (leader is {leader})")]
    NotLeader {
        /// The known leader.
        leader: NodeId,
    },
    /// The leader has not yet committed an entry of its term, so its commit index may lag
    /// behind an earlier leader's (Raft thesis §6.4).
    #[error("the leader has not committed an entry in its term yet")]
    NoCommitInTerm,
}

/// The consensus state of one member.
pub struct Raft {
    pub(crate) cfg: Config,
    pub(crate) id: NodeId,
    pub(crate) term: Term,
    pub(crate) vote: NodeId,
    pub(crate) leader: NodeId,
    pub(crate) role: Role,
    pub(crate) log: RaftLog,
    /// The configuration this member is in: the last one it applied (from a snapshot or a
    /// configuration entry), as in etcd. Changes take effect when applied.
    pub(crate) conf: ConfState,
    /// Leader only: no configuration change may be proposed until the entry at this index
    /// is applied (the last change proposed; at election, the leader's no-op, so that a
    /// new leader changes nothing before it has committed an entry of its own term).
    pub(crate) pending_conf_index: Index,
    /// Leader only: it has proposed a change that removes it (see
    /// [`ProposeError::Leaving`]).
    pub(crate) leaving: bool,
    /// How many times `conf` changed (see [`crate::RawNode::conf_changes`]).
    pub(crate) conf_switches: u64,
    /// Leader only: each member's replication state (this member's included).
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    /// (Pre)candidate only: votes received in this round.
    pub(crate) votes: BTreeMap<NodeId, bool>,
    pub(crate) election_elapsed: u64,
    pub(crate) heartbeat_elapsed: u64,
    /// Drawn in [T, 2T) at every reset (Raft paper §5.2).
    pub(crate) randomized_timeout: u64,
    rng: ChaCha8Rng,
    /// Messages to send, in order.
    pub(crate) msgs: Vec<Message>,
    pub(crate) read_only: ReadOnly,
    pub(crate) read_states: Vec<ReadState>,
    pub(crate) transferee: Option<NodeId>,
    /// The latest local snapshot, sent to followers that are too far behind.
    pub(crate) snapshot: Option<Snapshot>,
    /// A snapshot received from the leader, to be persisted and installed.
    pub(crate) pending_snapshot: Option<Snapshot>,
    pub(crate) truncations: Vec<Truncation>,
    /// Set when entries were appended and followers should hear of them at the next Ready
    /// (this is what batches many proposals into one append).
    pub(crate) broadcast_pending: bool,
}

impl Raft {
    /// A member restored from durable state: its hard state, the last snapshot it holds
    /// (if any) and the log entries after it.
    pub fn new(
        cfg: Config,
        hard_state: HardState,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
    ) -> Raft {
        if let Err(e) = cfg.validate() {
            panic!("invalid raft config: {e}");
        }
        let meta = snapshot
            .as_ref()
            .map(|s| s.meta.clone())
            .unwrap_or_default();
        let log = RaftLog::restore(&meta, entries, hard_state.commit);
        // The configuration at index 0 is the founding members'; a snapshot carries its own.
        let conf = if snapshot.is_some() {
            meta.conf.clone()
        } else {
            ConfState::with_voters(&cfg.voters)
        };
        let mut raft = Raft {
            id: cfg.id,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg,
            term: hard_state.term,
            vote: hard_state.vote,
            leader: NO_NODE,
            role: Role::Follower,
            log,
            conf,
            pending_conf_index: 0,
            leaving: false,
            conf_switches: 0,
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: 0,
            msgs: Vec::new(),
            read_only: ReadOnly::default(),
            read_states: Vec::new(),
            transferee: None,
            snapshot,
            pending_snapshot: None,
            truncations: Vec::new(),
            broadcast_pending: false,
        };
        raft.reset_randomized_timeout();
        raft
    }

    pub(crate) fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed,
        }
    }

    pub(crate) fn reset_randomized_timeout(&mut self) {
        let t = self.cfg.election_ticks;
        self.randomized_timeout = self.rng.gen_range(t..2 * t);
    }

    fn reset(&mut self, term: Term) {
        if term != self.term {
            assert!(
                term > self.term,
                "member {}: term went back from {} to {term}",
                self.id,
                self.term
            );
            self.term = term;
            self.vote = NO_NODE;
        }
        self.leader = NO_NODE;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_timeout();
        if !self.cfg.canaries.keep_votes_across_terms {
            self.votes.clear();
        }
        self.progress.clear();
        self.read_only = ReadOnly::default();
        self.transferee = None;
        self.broadcast_pending = false;
        self.leaving = false;
    }

    pub(crate) fn become_follower(&mut self, term: Term, leader: NodeId) {
        self.reset(term);
        self.leader = leader;
        self.role = Role::Follower;
    }

    pub(crate) fn become_leader(&mut self) {
        assert!(
            self.role == Role::Candidate,
            "member {} became leader from {:?}",
            self.id,
            self.role
        );
        let term = self.term;
        self.reset(term);
        self.leader = self.id;
        self.role = Role::Leader;
        let last = self.log.last_index();
        for v in self.conf.members() {
            let mut pr = Progress::new(last);
            pr.recent_active = true;
            self.progress.insert(v, pr);
        }
        let own = self.progress.get_mut(&self.id).expect("leader is a voter");
        own.matched = self.log.persisted;
        own.become_replicate();
        // Raft paper §5.4.2 and §8: an empty entry of the new term lets the leader commit
        // (and so learn the commit index) without waiting for a client.
        self.log.append(vec![Entry {
            term,
            index: last + 1,
            kind: EntryKind::Noop,
            data: Vec::new(),
        }]);
        // etcd's rule (and the fix to the single-server change rule, dissertation §4.1
        // and its 2015 erratum): no configuration change before an entry of this term is
        // committed and applied, so no change of an earlier leader can still be pending.
        self.pending_conf_index = if self.cfg.canaries.conf_change_before_own_commit {
            0
        } else {
            last + 1
        };
        // A change still pending in the inherited log may remove this leader: then it
        // appends nothing after its no-op (see `ProposeError::Leaving`).
        self.leaving = self.pending_changes_remove_self();
        self.broadcast_pending = true;
    }

    pub(crate) fn send(&mut self, mut m: Message) {
        m.from = self.id;
        if m.term == 0 {
            m.term = self.term;
        }
        self.msgs.push(m);
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => self.tick_election(),
        }
    }

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        // A learner, a member not yet added or one removed never campaigns; its clock
        // still runs, or it would stay in the leader's lease forever and ignore the
        // candidates it must vote for once a change makes it a voter.
        if !self.conf.is_voter(self.id) {
            self.election_elapsed = self.election_elapsed.min(self.cfg.election_ticks);
            return;
        }
        if self.election_elapsed >= self.randomized_timeout {
            self.election_elapsed = 0;
            self.campaign(if self.cfg.pre_vote {
                crate::election::Campaign::PreElection
            } else {
                crate::election::Campaign::Election
            });
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_ticks {
            self.election_elapsed = 0;
            if self.cfg.check_quorum && !self.quorum_recently_active() {
                // Thesis §6.2: a leader that cannot reach a quorum steps down, so clients
                // stop waiting on a leader that can no longer commit.
                marks::mark!("raft.check_quorum.step_down");
                let term = self.term;
                self.become_follower(term, NO_NODE);
                return;
            }
            if self.transferee.take().is_some() {
                // A transfer that did not finish in T ticks is aborted.
                marks::mark!("raft.transfer.aborted");
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat(self.read_only.last_sequence());
        }
    }

    fn quorum_recently_active(&mut self) -> bool {
        let id = self.id;
        let progress = &self.progress;
        let active = |v: NodeId| v == id || progress.get(&v).is_some_and(|p| p.recent_active);
        let ok = self.counting().has_quorum(&self.conf, active);
        for pr in self.progress.values_mut() {
            pr.recent_active = false;
        }
        ok
    }

    /// How this member counts quorums (planted bugs may count them wrong).
    pub(crate) fn counting(&self) -> crate::quorum::Counting {
        crate::quorum::Counting {
            off_by_one: false,
            joint_as_single_majority: self.cfg.canaries.joint_as_single_majority,
        }
    }

    /// Handles one message from a peer.
    pub fn step(&mut self, m: Message) {
        if m.to != self.id || m.from == self.id {
            return; // not for us: ignore
        }
        if m.term > self.term {
            if matches!(m.kind, MessageType::Vote | MessageType::PreVote) {
                let forced = m.context == CAMPAIGN_TRANSFER;
                let in_lease = self.cfg.check_quorum
                    && self.leader != NO_NODE
                    && self.election_elapsed < self.cfg.election_ticks;
                if !forced && in_lease {
                    // Thesis §4.2.3: we heard from a leader within the minimum election
                    // timeout, so this candidate is disruptive; ignore it.
                    marks::mark!("raft.vote.lease_ignored");
                    return;
                }
            }
            match m.kind {
                MessageType::PreVote if self.cfg.canaries.prevote_raises_term => {
                    self.become_follower(m.term, NO_NODE);
                }
                MessageType::PreVote => {}
                MessageType::PreVoteResp if !m.reject => {}
                _ => {
                    marks::mark!("raft.step.higher_term");
                    let leader = if matches!(
                        m.kind,
                        MessageType::Append | MessageType::Heartbeat | MessageType::Snapshot
                    ) {
                        m.from
                    } else {
                        NO_NODE
                    };
                    self.become_follower(m.term, leader);
                }
            }
        } else if m.term < self.term
            && !(self.cfg.canaries.accept_stale_term_append
                && m.kind == MessageType::Append
                && self.role == Role::Follower)
        {
            marks::mark!("raft.step.stale_term");
            if (self.cfg.check_quorum || self.cfg.pre_vote)
                && matches!(m.kind, MessageType::Append | MessageType::Heartbeat)
            {
                // A deposed leader (e.g. on the minority side of a healed partition) learns
                // the new term from this answer and steps down. The answer claims no match
                // (index 0): the sender may by now lead a newer term itself, and must not
                // count our log as matching an older leader's (etcd sends no index either).
                marks::mark!("raft.step.deposed_leader_told");
                let resp = Message::new(MessageType::AppendResp, self.id, m.from, self.term);
                self.send(resp);
            } else if m.kind == MessageType::PreVote {
                let mut resp = Message::new(MessageType::PreVoteResp, self.id, m.from, self.term);
                resp.reject = true;
                self.send(resp);
            }
            return;
        }
        match m.kind {
            MessageType::Vote | MessageType::PreVote => self.handle_vote_request(m),
            _ => match self.role {
                Role::Leader => self.step_leader(m),
                Role::Candidate | Role::PreCandidate => self.step_candidate(m),
                Role::Follower => self.step_follower(m),
            },
        }
    }

    fn step_follower(&mut self, m: Message) {
        match m.kind {
            MessageType::Append | MessageType::Heartbeat | MessageType::Snapshot => {
                self.election_elapsed = 0;
                self.leader = m.from;
                self.handle_leader_message(m);
            }
            MessageType::TimeoutNow => self.campaign(crate::election::Campaign::Transfer),
            _ => {}
        }
    }

    fn step_candidate(&mut self, m: Message) {
        match m.kind {
            MessageType::Append | MessageType::Heartbeat | MessageType::Snapshot
                if self.cfg.canaries.candidate_ignores_leader => {}
            MessageType::Append | MessageType::Heartbeat | MessageType::Snapshot => {
                // A leader of our term exists (§5.2): return to follower.
                let term = self.term;
                self.become_follower(term, m.from);
                self.handle_leader_message(m);
            }
            MessageType::PreVoteResp | MessageType::VoteResp => self.handle_vote_response(m),
            _ => {}
        }
    }

    fn handle_leader_message(&mut self, m: Message) {
        match m.kind {
            MessageType::Append => self.handle_append(m),
            MessageType::Heartbeat => self.handle_heartbeat(m),
            MessageType::Snapshot => self.handle_snapshot(m),
            _ => unreachable!("only leader messages are passed here"),
        }
    }

    fn step_leader(&mut self, m: Message) {
        let Some(pr) = self.progress.get_mut(&m.from) else {
            return; // not (or no longer) a member
        };
        pr.recent_active = true;
        match m.kind {
            MessageType::AppendResp => self.handle_append_response(m),
            MessageType::HeartbeatResp => self.handle_heartbeat_response(m),
            _ => {}
        }
    }
}
