//! Leader election (Raft paper §5.2, §5.4.1) with PreVote (thesis §9.6).

use crate::quorum::VoteResult;
use crate::raft::{Raft, CAMPAIGN_TRANSFER};
use proto::raft::{Message, MessageType};
use proto::trace::Role;
use proto::NO_NODE;

/// What kind of campaign to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Campaign {
    /// Ask whether we would win, without raising any term.
    PreElection,
    /// A real election in term + 1.
    Election,
    /// A real election asked for by the leader (leadership transfer).
    Transfer,
}

impl Raft {
    pub(crate) fn campaign(&mut self, kind: Campaign) {
        if !self.conf.is_voter(self.id) {
            return; // only voters campaign (etcd's "promotable")
        }
        if self.pending_snapshot.is_some() {
            // Not yet installed: our log is not what we would advertise. Try later.
            return;
        }
        let (vote_kind, vote_term) = match kind {
            Campaign::PreElection => {
                // Stay in our term; become a pre-candidate.
                let term = self.term;
                self.become_follower(term, NO_NODE);
                self.role = Role::PreCandidate;
                (MessageType::PreVote, self.term + 1)
            }
            Campaign::Election | Campaign::Transfer => {
                let kept = (self.cfg.canaries.prevote_grants_count_as_votes
                    && self.role == Role::PreCandidate)
                    .then(|| self.votes.clone());
                let term = self.term + 1;
                self.become_follower(term, NO_NODE);
                if let Some(votes) = kept {
                    self.votes = votes;
                }
                self.role = Role::Candidate;
                self.vote = self.id;
                (MessageType::Vote, self.term)
            }
        };
        self.votes.insert(self.id, true);
        if self.counting().tally(&self.conf, &self.votes) == VoteResult::Won {
            // A single-member cluster wins at once.
            match kind {
                Campaign::PreElection => self.campaign(Campaign::Election),
                _ => self.become_leader(),
            }
            return;
        }
        let id = self.id;
        let conf = &self.conf;
        let voters: Vec<_> = conf
            .members()
            .into_iter()
            .filter(|v| conf.is_voter(*v))
            .collect();
        for v in voters.into_iter().filter(|v| *v != id) {
            let mut m = Message::new(vote_kind, self.id, v, vote_term);
            m.index = self.log.last_index();
            m.log_term = self.log.last_term();
            if kind == Campaign::Transfer {
                m.context = CAMPAIGN_TRANSFER;
            }
            self.send(m);
        }
    }

    /// Answers a Vote or PreVote whose term is at least ours (`step` has already moved us
    /// to a higher term for a Vote).
    pub(crate) fn handle_vote_request(&mut self, m: Message) {
        let pre = m.kind == MessageType::PreVote;
        // §5.2: at most one vote per term. A pre-vote for a future term binds nothing.
        let can_vote = self.vote == m.from
            || (self.vote == NO_NODE && self.leader == NO_NODE)
            || (pre && m.term > self.term)
            || (self.cfg.canaries.vote_twice_in_term && self.leader == NO_NODE);
        // §5.4.1: only a candidate whose log is at least as up-to-date as ours.
        let up_to_date = self.cfg.canaries.skip_vote_up_to_date_check
            || self.log.is_up_to_date(m.index, m.log_term);
        let resp_kind = if pre {
            MessageType::PreVoteResp
        } else {
            MessageType::VoteResp
        };
        if can_vote && up_to_date {
            marks::mark!("raft.vote.granted");
            let mut resp = Message::new(resp_kind, self.id, m.from, m.term);
            resp.reject = false;
            self.send(resp);
            if !pre {
                self.election_elapsed = 0;
                self.vote = m.from;
            }
        } else {
            if pre {
                marks::mark!("raft.prevote.rejected");
            }
            if !up_to_date {
                marks::mark!("raft.vote.rejected_log");
            } else if !pre {
                marks::mark!("raft.vote.rejected_voted");
            }
            let mut resp = Message::new(resp_kind, self.id, m.from, self.term);
            resp.reject = true;
            self.send(resp);
        }
    }

    pub(crate) fn handle_vote_response(&mut self, m: Message) {
        let expected = match self.role {
            Role::PreCandidate => MessageType::PreVoteResp,
            Role::Candidate => MessageType::VoteResp,
            _ => return,
        };
        if m.kind != expected {
            return;
        }
        if m.kind == MessageType::PreVoteResp
            && !m.reject
            && m.term != self.term + 1
            && !self.cfg.canaries.stale_prevote_grant_counted
        {
            // A grant from an earlier pre-vote round (it answers the term that round asked
            // about): counting it would win this round without a quorum of this round.
            // (No coverage mark: over slow links chaos reaches it in under 1% of seeds.)
            return;
        }
        self.votes.entry(m.from).or_insert(!m.reject);
        match self.counting().tally(&self.conf, &self.votes) {
            VoteResult::Won => {
                marks::mark!("raft.election.won");
                if self.role == Role::PreCandidate {
                    self.campaign(Campaign::Election);
                } else {
                    self.become_leader();
                }
            }
            VoteResult::Lost => {
                marks::mark!("raft.election.lost");
                let term = self.term;
                self.become_follower(term, NO_NODE);
            }
            VoteResult::Pending => {}
        }
    }
}
