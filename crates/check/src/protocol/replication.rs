//! The replication rules: what a leader may commit and tell, what a follower may conclude
//! from a leader's message, and when a leader may confirm a read.

use super::{Finding, Findings, Lead, Member, PendingRead, Rule, Step};
use proto::raft::MessageType;
use proto::step::StepMessage;
use proto::trace::Role;
use proto::Index;
use std::collections::BTreeSet;

/// Judges one step against the replication and read rules, and follows the member's
/// leadership.
pub(crate) fn judge(step: &Step, member: &mut Member, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    let leading = b.role == Role::Leader && a.role == Role::Leader && a.term == b.term;
    if !leading || member.lead.as_ref().map(|l| l.term) != Some(a.term) {
        member.lead = (a.role == Role::Leader).then(|| Lead {
            term: a.term,
            ..Lead::default()
        });
    }
    if let Some(lead) = member.lead.as_mut().filter(|_| leading) {
        heard(step, lead);
    }
    if a.commit < b.commit {
        out.push(Finding {
            rule: Rule::CommitMonotonic,
            detail: format!(
                "its commit index went back from {} to {}",
                b.commit, a.commit
            ),
        });
    } else if a.commit > b.commit {
        commit(step, member.lead.as_ref().filter(|_| leading), out);
    }
    if leading && a.last_index < b.last_index {
        out.push(Finding {
            rule: Rule::LeaderAppendOnly,
            detail: format!(
                "as leader of term {} its log shrank from {} to {} entries",
                a.term, b.last_index, a.last_index
            ),
        });
    }
    acks(step, out);
    if let Some(lead) = member.lead.as_mut() {
        transfers(step, lead, out);
        heartbeats(step, lead, out);
        reads(step, lead, out);
    }
}

/// What a leader hears in a step: acknowledgements, reads asked, heartbeat answers.
fn heard(step: &Step, lead: &mut Lead) {
    match &step.input {
        proto::step::StepInput::ReadIndex { context } => lead.reads.push(PendingRead {
            context: *context,
            sequence: None,
            acks: BTreeSet::new(),
        }),
        proto::step::StepInput::Receive { msg } if msg.term == lead.term => match msg.kind {
            MessageType::AppendResp if !msg.reject => {
                let acked = lead.acked.entry(msg.peer).or_default();
                *acked = (*acked).max(msg.index);
            }
            MessageType::HeartbeatResp => {
                for read in &mut lead.reads {
                    if read.sequence.is_some_and(|s| s <= msg.context) {
                        read.acks.insert(msg.peer);
                    }
                }
            }
            _ => {}
        },
        _ => {}
    }
}

fn commit(step: &Step, lead: Option<&Lead>, out: &mut Findings) {
    let (b, a) = (step.before, step.after);
    if let Some(lead) = lead {
        let mut holders: BTreeSet<_> = lead
            .acked
            .iter()
            .filter(|(_, i)| **i >= a.commit)
            .map(|(n, _)| *n)
            .collect();
        holders.insert(step.node);
        let fault = if a.commit_term != a.term {
            Some(format!(
                "as leader of term {} it committed index {}, an entry of term {}",
                a.term, a.commit, a.commit_term
            ))
        } else if !step.conf.is_quorum(&holders) {
            Some(format!(
                "as leader of term {} it committed index {} acknowledged by {holders:?} only: not a quorum of {}",
                a.term, a.commit, step.conf
            ))
        } else {
            None
        };
        if let Some(detail) = fault {
            out.push(Finding {
                rule: Rule::LeaderCommitByQuorum,
                detail,
            });
        }
        return;
    }
    let bound = step.received().and_then(|m| match m.kind {
        MessageType::Append => Some(m.commit.min(m.index + u64::from(m.entries))),
        MessageType::Heartbeat => Some(m.commit),
        MessageType::Snapshot => Some(m.index),
        _ => None,
    });
    match bound {
        Some(bound) if a.commit > bound => out.push(Finding {
            rule: Rule::FollowerCommitBound,
            detail: format!(
                "it committed up to {} on a message that proved only {bound}",
                a.commit
            ),
        }),
        Some(_) => {}
        None => out.push(Finding {
            rule: Rule::CommitNeedsCause,
            detail: format!(
                "its commit index rose from {} to {} as {} on {:?}, without a leader's word",
                b.commit, a.commit, a.role, step.input
            ),
        }),
    }
}

/// An append acknowledgement claims only what the append proved (or what was committed).
fn acks(step: &Step, out: &mut Findings) {
    let Some(m) = step.received().filter(|m| m.kind == MessageType::Append) else {
        return;
    };
    let proved = (m.index + u64::from(m.entries)).max(step.before.commit);
    let claim = step.sent.iter().find(|s| {
        s.kind == MessageType::AppendResp && s.peer == m.peer && !s.reject && s.index > proved
    });
    if let Some(s) = claim {
        out.push(Finding {
            rule: Rule::AckOnlyWhatMatched,
            detail: format!(
                "it acknowledged index {} to {} for an append that proved {proved}",
                s.index, m.peer
            ),
        });
    }
    truncated(step, m, out);
}

/// After an append with entries, what the follower keeps past them is of their last term
/// or later (logs' terms never decrease along the log): an older suffix means it kept
/// entries that conflicted.
fn truncated(step: &Step, m: &StepMessage, out: &mut Findings) {
    let a = step.after;
    let end = m.index + u64::from(m.entries);
    let acked = step
        .sent
        .iter()
        .any(|s| s.kind == MessageType::AppendResp && s.peer == m.peer && !s.reject);
    let accepted = acked && a.term == m.term && m.entries > 0 && a.last_index > end;
    if accepted && a.last_term < m.last_entry_term && step.before.commit <= m.index {
        out.push(Finding {
            rule: Rule::ConflictingSuffixTruncated,
            detail: format!(
                "after an append of entries {}..={end} ending in term {}, its log still ends at {} in older term {}",
                m.index + 1,
                m.last_entry_term,
                a.last_index,
                a.last_term
            ),
        });
    }
}

fn heartbeats(step: &Step, lead: &mut Lead, out: &mut Findings) {
    for s in step
        .sent
        .iter()
        .filter(|s| s.kind == MessageType::Heartbeat)
    {
        if s.context > 0 {
            for read in lead.reads.iter_mut().filter(|r| r.sequence.is_none()) {
                read.sequence = Some(s.context);
            }
        }
        let acked = lead.acked.get(&s.peer).copied().unwrap_or(0);
        if s.commit > acked {
            out.push(over_told(s, acked));
        }
    }
}

/// A leader hands over only to a follower that holds its whole log (dissertation §3.10).
fn transfers(step: &Step, lead: &Lead, out: &mut Findings) {
    for s in step
        .sent
        .iter()
        .filter(|s| s.kind == MessageType::TimeoutNow)
    {
        let acked = lead.acked.get(&s.peer).copied().unwrap_or(0);
        if acked < step.after.last_index {
            out.push(Finding {
                rule: Rule::TransferToCaughtUp,
                detail: format!(
                    "it handed leadership to {}, which had acknowledged up to {acked} of its {} entries",
                    s.peer, step.after.last_index
                ),
            });
        }
    }
}

fn over_told(s: &StepMessage, acked: Index) -> Finding {
    Finding {
        rule: Rule::HeartbeatCommitCapped,
        detail: format!(
            "its heartbeat told {} commit index {}, but {} had acknowledged only up to {acked}",
            s.peer, s.commit, s.peer
        ),
    }
}

fn reads(step: &Step, lead: &mut Lead, out: &mut Findings) {
    for context in &step.reads {
        let Some(i) = lead.reads.iter().position(|r| r.context == *context) else {
            continue;
        };
        let read = lead.reads.remove(i);
        let mut acks = read.acks;
        acks.insert(step.node);
        if !step.conf.is_quorum(&acks) {
            out.push(Finding {
                rule: Rule::ReadConfirmedByQuorum,
                detail: format!(
                    "it confirmed read {context} with heartbeat answers from {acks:?} only (sent after the read arrived): not a quorum of {}",
                    step.conf
                ),
            });
        }
    }
}
