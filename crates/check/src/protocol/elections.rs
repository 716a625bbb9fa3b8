//! The election rules: campaigns, votes granted, and the quorum a win needs.

use super::{Ballot, Finding, Findings, Member, Rule, Step};
use proto::raft::MessageType;
use proto::step::StepMessage;
use proto::trace::Role;
use proto::{NodeId, Term, NO_NODE};
use std::collections::BTreeSet;

/// Judges one step against the election rules, and follows the member's ballot.
pub(crate) fn judge(step: &Step, member: &mut Member, out: &mut Findings) {
    count_grant(step, member);
    campaign(step, member, out);
    votes(step, member, out);
    wins(step, member, out);
    yields(step, out);
    follow_ballot(step, member);
}

fn is_candidate(role: Role) -> bool {
    matches!(role, Role::Candidate | Role::PreCandidate)
}

/// A vote request this step sent, if it campaigned.
fn campaign_request<'a>(step: &'a Step) -> Option<&'a StepMessage> {
    step.sent
        .iter()
        .find(|s| matches!(s.kind, MessageType::Vote | MessageType::PreVote))
}

/// A granted (pre-)vote the step received, counted into the ballot it answers.
fn count_grant(step: &Step, member: &mut Member) {
    let Some(m) = step.received() else { return };
    let pre = match (m.kind, step.before.role) {
        (MessageType::VoteResp, Role::Candidate) => false,
        (MessageType::PreVoteResp, Role::PreCandidate) => true,
        _ => return,
    };
    if m.reject {
        return;
    }
    if let Some(b) = member.ballot.as_mut() {
        if b.pre == pre && b.term == m.term {
            b.grants.insert(m.peer);
        }
    }
}

/// The term a step's campaign starts from: its own, or a transfer's higher one.
fn base_term(step: &Step) -> Term {
    match step.received() {
        Some(m) if m.kind == MessageType::TimeoutNow => m.term.max(step.before.term),
        _ => step.before.term,
    }
}

fn campaign(step: &Step, member: &mut Member, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    let new_round = campaign_request(step).is_some()
        || (is_candidate(a.role) && (a.role != b.role || a.term != b.term))
        || (a.role == Role::Leader && !is_candidate(b.role) && b.role != Role::Leader);
    if !new_round {
        return;
    }
    if !step.conf.is_voter(step.node) {
        out.push(Finding {
            rule: Rule::OnlyVotersCampaign,
            detail: format!(
                "it campaigned ({} in term {}) while not a voter of {}",
                a.role, a.term, step.conf
            ),
        });
    }
    let elected_alone = a.role == Role::Leader && b.role != Role::Candidate;
    if a.role == Role::Candidate || elected_alone {
        let expected = base_term(step) + 1;
        if a.term != expected || a.vote != step.node {
            out.push(Finding {
                rule: Rule::CandidateTerm,
                detail: format!(
                    "it became {} in term {} voting for {} (expected term {expected}, voting for itself)",
                    a.role, a.term, a.vote
                ),
            });
        }
        member.granted = Some((a.term, step.node));
    } else if a.role == Role::PreCandidate && a.term != b.term {
        out.push(Finding {
            rule: Rule::CandidateTerm,
            detail: format!(
                "it became a pre-candidate and moved from term {} to {}",
                b.term, a.term
            ),
        });
    }
}

fn votes(step: &Step, member: &mut Member, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    if a.term == b.term && b.vote != NO_NODE && a.vote != b.vote {
        out.push(Finding {
            rule: Rule::OneVotePerTerm,
            detail: format!(
                "its vote in term {} changed from {} to {}",
                a.term, b.vote, a.vote
            ),
        });
    }
    let Some(m) = step.received() else { return };
    for s in step.sent.iter().filter(|s| s.peer == m.peer && !s.reject) {
        match s.kind {
            MessageType::VoteResp => {
                up_to_date(step, m, out);
                one_vote(s.term, s.peer, member, out);
            }
            MessageType::PreVoteResp => up_to_date(step, m, out),
            _ => {}
        }
    }
}

fn up_to_date(step: &Step, m: &StepMessage, out: &mut Findings) {
    let b = step.before;
    if (m.log_term, m.index) < (b.last_term, b.last_index) {
        out.push(Finding {
            rule: Rule::VoteForUpToDateLog,
            detail: format!(
                "it granted a {} to {} whose last entry ({}, term {}) is behind its own ({}, term {})",
                m.kind.name(),
                m.peer,
                m.index,
                m.log_term,
                b.last_index,
                b.last_term
            ),
        });
    }
}

fn one_vote(term: Term, candidate: NodeId, member: &mut Member, out: &mut Findings) {
    for (source, vote) in [("cast", member.granted), ("made durable", member.durable)] {
        if let Some((t, other)) = vote {
            if t == term && other != candidate && other != NO_NODE {
                out.push(Finding {
                    rule: Rule::OneVotePerTerm,
                    detail: format!(
                        "it granted its vote in term {term} to {candidate}, having {source} a vote for {other} in that term"
                    ),
                });
                break;
            }
        }
    }
    member.granted = Some((term, candidate));
}

/// The grants a round counts: the ballot's if it is this round's, the member itself.
fn grants(member: &Member, node: NodeId, pre: bool, term: Term) -> BTreeSet<NodeId> {
    let mut grants = member
        .ballot
        .as_ref()
        .filter(|b| b.pre == pre && b.term == term)
        .map(|b| b.grants.clone())
        .unwrap_or_default();
    grants.insert(node);
    grants
}

fn wins(step: &Step, member: &Member, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    if b.role == Role::PreCandidate && a.term == b.term + 1 && a.role != Role::Follower {
        let grants = grants(member, step.node, true, a.term);
        if !step.conf.is_quorum(&grants) {
            out.push(Finding {
                rule: Rule::PreVoteWonByQuorum,
                detail: format!(
                    "it left its pre-vote round for term {} with pre-votes from {grants:?} only: not a quorum of {}",
                    a.term, step.conf
                ),
            });
        }
    }
    if a.role == Role::Leader && b.role != Role::Leader {
        let grants = grants(member, step.node, false, a.term);
        if !step.conf.is_quorum(&grants) {
            out.push(Finding {
                rule: Rule::ElectionWonByQuorum,
                detail: format!(
                    "it became leader of term {} with votes of that term from {grants:?} only: not a quorum of {}",
                    a.term, step.conf
                ),
            });
        }
    }
}

fn yields(step: &Step, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    let Some(m) = step.received() else { return };
    let from_leader = matches!(
        m.kind,
        MessageType::Append | MessageType::Heartbeat | MessageType::Snapshot
    );
    if !is_candidate(b.role) || !from_leader || m.term < b.term {
        return;
    }
    if a.role != Role::Follower || a.leader != m.peer || a.term != m.term {
        out.push(Finding {
            rule: Rule::CandidateYieldsToLeader,
            detail: format!(
                "a {} from {}, leader of term {}, left it {} in term {} following {}",
                m.kind.name(),
                m.peer,
                m.term,
                a.role,
                a.term,
                a.leader
            ),
        });
    }
}

/// A campaign opens a new ballot; leaving candidacy closes it.
fn follow_ballot(step: &Step, member: &mut Member) {
    if let Some(request) = campaign_request(step) {
        member.ballot = Some(Ballot {
            pre: request.kind == MessageType::PreVote,
            term: request.term,
            grants: BTreeSet::from([step.node]),
        });
    } else if !is_candidate(step.after.role) {
        member.ballot = None;
    }
}
