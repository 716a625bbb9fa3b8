//! The term rules: how a step may change a member's term, and the terms its messages carry.

use super::{Finding, Findings, Rule, Step};
use proto::raft::MessageType;
use proto::step::StepMessage;
use proto::trace::Role;

/// The context a vote request forced by a leadership transfer carries (etcd's
/// `campaignTransfer`): voters may not ignore it for a leader's lease.
pub(crate) const TRANSFER_CONTEXT: u64 = u64::MAX;

/// Judges one step against the term rules.
pub(crate) fn judge(step: &Step, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    if a.term < b.term {
        out.push(Finding {
            rule: Rule::TermMonotonic,
            detail: format!("its term went back from {} to {}", b.term, a.term),
        });
    }
    if let Some(m) = step.received() {
        if m.term > b.term {
            higher_term(step, m, out);
        } else if m.term < b.term {
            stale_term(step, m, out);
        }
    }
    sent_terms(step, out);
}

/// Whether a message of this kind from a higher term leaves the receiver's term alone.
fn keeps_term(m: &StepMessage) -> bool {
    m.kind == MessageType::PreVote || (m.kind == MessageType::PreVoteResp && !m.reject)
}

fn higher_term(step: &Step, m: &StepMessage, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    if keeps_term(m) {
        // The pre-vote that completes a round moves the pre-candidate on to its election
        // (whether it had a quorum is judged by the election rules).
        let won = m.kind == MessageType::PreVoteResp
            && b.role == Role::PreCandidate
            && matches!(a.role, Role::Candidate | Role::Leader)
            && a.term == b.term + 1;
        if a.term != b.term && !won {
            out.push(Finding {
                rule: Rule::PreVoteChangesNoTerm,
                detail: format!(
                    "a {} of term {} from {} moved it from term {} to {}",
                    m.kind.name(),
                    m.term,
                    m.peer,
                    b.term,
                    a.term
                ),
            });
        }
        return;
    }
    // A vote request it ignores changes nothing at all, and only a member that knows a
    // leader (it heard from one lately: CheckQuorum's lease) may ignore one, never one a
    // leadership transfer forced (marked by its context).
    let ignored = m.kind == MessageType::Vote
        && a == b
        && step.sent.is_empty()
        && b.leader != proto::NO_NODE
        && m.context != TRANSFER_CONTEXT;
    // A transfer's TimeoutNow makes it campaign at once, in the term after.
    let transfer = m.kind == MessageType::TimeoutNow && a.term == m.term + 1;
    let adopted = transfer || (a.term == m.term && a.role == Role::Follower);
    if !ignored && !adopted {
        out.push(Finding {
            rule: Rule::HigherTermAdopted,
            detail: format!(
                "a {} of term {} from {} left it {} in term {}",
                m.kind.name(),
                m.term,
                m.peer,
                a.role,
                a.term
            ),
        });
    }
}

fn stale_term(step: &Step, m: &StepMessage, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    let changed = a != b;
    let granted = step.sent.iter().find(|s| {
        let grant = matches!(s.kind, MessageType::VoteResp | MessageType::PreVoteResp) && !s.reject;
        let ack = s.kind == MessageType::AppendResp && !s.reject && s.index > 0;
        grant || ack || s.kind == MessageType::HeartbeatResp
    });
    if changed || granted.is_some() {
        let what = match granted {
            Some(s) => format!(
                "answered with a {} claiming index {}",
                s.kind.name(),
                s.index
            ),
            None => format!("changed its state from {b:?} to {a:?}"),
        };
        out.push(Finding {
            rule: Rule::StaleTermIgnored,
            detail: format!(
                "a {} of stale term {} from {} (its term {}) {what}",
                m.kind.name(),
                m.term,
                m.peer,
                b.term
            ),
        });
    }
}

/// The term a message sent in this step must carry.
fn expected_term(step: &Step, s: &StepMessage) -> Option<u64> {
    let term = step.after.term;
    match s.kind {
        MessageType::PreVote => Some(term + 1),
        // A granted pre-vote answers in the term asked about.
        MessageType::PreVoteResp if !s.reject => step.received().map(|m| m.term),
        _ => Some(term),
    }
}

fn sent_terms(step: &Step, out: &mut Findings) {
    for s in &step.sent {
        let Some(expected) = expected_term(step, s) else {
            continue;
        };
        if s.term != expected {
            out.push(Finding {
                rule: Rule::SentInCurrentTerm,
                detail: format!(
                    "it sent a {} of term {} to {} while in term {} (expected term {expected})",
                    s.kind.name(),
                    s.term,
                    s.peer,
                    step.after.term
                ),
            });
            return;
        }
    }
}
