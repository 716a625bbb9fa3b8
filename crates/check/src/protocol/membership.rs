//! The membership rules at the moment a leader appends a change (Raft dissertation §4.1,
//! and the erratum to its single-server changes), judged when the change is persisted
//! (`ConfChangeProposed`, recorded right after the step that appended it, whether a
//! client asked for it or the leader left a joint configuration on its own).

use super::{Finding, Findings, Member, Rule};
use proto::trace::{EntryId, Role};

/// A leader appended the change `entry`; `member.before` is its state before that step.
pub(crate) fn proposed(member: &mut Member, entry: &EntryId, out: &mut Findings) {
    let b = member.before;
    let Some(lead) = member.lead.as_mut().filter(|l| l.term == entry.term) else {
        return;
    };
    if b.role != Role::Leader || b.term != entry.term {
        return;
    }
    if b.commit_term != b.term {
        out.push(Finding {
            rule: Rule::ChangeAfterOwnCommit,
            detail: format!(
                "as leader of term {} it appended a change at {} with its commit index {} still at an entry of term {}",
                b.term, entry.index, b.commit, b.commit_term
            ),
        });
    }
    if lead.last_change > b.commit {
        out.push(Finding {
            rule: Rule::OneChangeAtATime,
            detail: format!(
                "as leader of term {} it appended a change at {} while its change at {} was not committed (commit index {})",
                b.term, entry.index, lead.last_change, b.commit
            ),
        });
    }
    lead.last_change = lead.last_change.max(entry.index);
}
