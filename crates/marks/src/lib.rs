//! Coverage marks: a name at a rare protocol path (`mark!("raft.append.reject")`), so a
//! sweep can tell which paths its seeds reached and raise an alarm when a fault model
//! silently stops reaching one (FoundationDB's rare-path coverage, TigerBeetle's marks).
//!
//! Counting is per thread and off by default: [`start`] turns it on for the current
//! thread (a simulated run lives on one thread) and [`take`] returns the counts and turns
//! it off. Off, a mark costs one thread-local flag read. Counting never changes what the
//! code does, so it cannot change a run.
//!
//! Every mark's name is listed in [`ALL`] with what it means; a test checks that the code
//! and the list agree.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    /// Keyed by the name's address: comparing addresses is cheaper than comparing names
    /// on every hit (one name may have several addresses; `take` merges them).
    static COUNTS: RefCell<BTreeMap<usize, (&'static str, u64)>> = const { RefCell::new(BTreeMap::new()) };
}

/// Counts one pass through the named path (when counting is on for this thread).
#[macro_export]
macro_rules! mark {
    ($name:literal) => {
        $crate::hit($name)
    };
}

/// Counts one pass through `name` (use [`mark!`]).
#[inline]
pub fn hit(name: &'static str) {
    if ON.with(Cell::get) {
        COUNTS.with(|c| {
            c.borrow_mut()
                .entry(name.as_ptr() as usize)
                .or_insert((name, 0))
                .1 += 1
        });
    }
}

/// Starts counting on this thread, from zero.
pub fn start() {
    COUNTS.with(|c| c.borrow_mut().clear());
    ON.with(|on| on.set(true));
}

/// Stops counting on this thread and returns the counts.
pub fn take() -> BTreeMap<&'static str, u64> {
    ON.with(|on| on.set(false));
    let by_address = COUNTS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let mut out = BTreeMap::new();
    for (name, n) in by_address.into_values() {
        *out.entry(name).or_default() += n;
    }
    out
}

/// Every mark, with the path it names.
pub const ALL: &[(&str, &str)] = &[
    (
        "raft.step.higher_term",
        "a message from a higher term made a member step down or follow",
    ),
    (
        "raft.step.stale_term",
        "a message from an older term was dropped or answered with ours",
    ),
    (
        "raft.step.deposed_leader_told",
        "a deposed leader's append was answered so it learns the new term",
    ),
    (
        "raft.vote.lease_ignored",
        "a vote request was ignored: a leader was heard within the election timeout",
    ),
    ("raft.vote.granted", "a vote (or pre-vote) was granted"),
    (
        "raft.vote.rejected_log",
        "a vote was refused: the candidate's log is behind",
    ),
    (
        "raft.vote.rejected_voted",
        "a vote was refused: this member already voted in the term",
    ),
    ("raft.prevote.rejected", "a pre-vote was refused"),
    ("raft.election.lost", "a candidate saw a majority refuse it"),
    ("raft.election.won", "a candidate won an election"),
    (
        "raft.append.below_commit",
        "an append starting below the follower's commit was answered with the commit",
    ),
    (
        "raft.append.rejected",
        "a follower refused an append whose previous entry does not match",
    ),
    (
        "raft.append.truncated",
        "a follower dropped a conflicting suffix of its log",
    ),
    (
        "raft.append.commit_capped",
        "a follower capped the leader's commit index at the last entry the append proved",
    ),
    (
        "raft.append.resp_rejected",
        "the leader backed up a follower's next index after a refusal",
    ),
    (
        "raft.append.resp_stale",
        "the leader ignored an append response that told it nothing new",
    ),
    (
        "raft.commit.earlier_term_waits",
        "a majority held an entry of an earlier term, which was not committed by counting",
    ),
    (
        "raft.snapshot.sent",
        "the leader sent a snapshot to a follower that needs compacted entries",
    ),
    (
        "raft.snapshot.installed",
        "a follower replaced its log with a snapshot",
    ),
    (
        "raft.snapshot.stale",
        "a follower got a snapshot at or below its commit index",
    ),
    (
        "raft.snapshot.already_held",
        "a follower already held a snapshot's last entry",
    ),
    (
        "raft.check_quorum.step_down",
        "a leader that did not hear from a quorum stepped down",
    ),
    (
        "raft.transfer.aborted",
        "a leadership transfer that did not finish in time was aborted",
    ),
    (
        "raft.transfer.timeout_now",
        "the leader told the transfer target to campaign",
    ),
    (
        "raft.read_index.no_commit_in_term",
        "a read was refused: the leader has no commit in its term yet",
    ),
    (
        "raft.read_index.confirmed",
        "a quorum confirmed the leader for pending reads",
    ),
    (
        "raft.conf.proposed",
        "a leader appended a membership change",
    ),
    (
        "raft.conf.refused",
        "a membership change was refused (one pending, no own-term commit yet, or invalid)",
    ),
    (
        "raft.conf.joint_entered",
        "a member applied a joint configuration",
    ),
    (
        "raft.conf.auto_leave",
        "a leader proposed leaving a joint configuration by itself",
    ),
    (
        "node.removed",
        "a member applied its own removal and stopped serving",
    ),
    (
        "raft.propose.refused",
        "a proposal was refused (not leader, busy or transferring)",
    ),
    (
        "wal.recover.torn_tail",
        "recovery cut a torn record at the end of the log",
    ),
    (
        "wal.recover.corruption",
        "recovery found a bad record with valid ones after it and refused to start",
    ),
    ("wal.segment.rollover", "the WAL started a new segment"),
    (
        "wal.release.segments",
        "the WAL removed segments covered by a snapshot",
    ),
    (
        "wal.recover.truncated_by_replay",
        "recovery replayed a later record that replaced log entries",
    ),
    (
        "kv.session.duplicate",
        "a retried request returned its first result instead of applying again",
    ),
    (
        "kv.session.stale",
        "a request older than the client's latest was ignored",
    ),
    (
        "kv.cas.failed",
        "a compare-and-swap's comparison did not hold",
    ),
    ("kv.delete.missing", "a delete found no key"),
    (
        "node.write.leadership_lost",
        "pending writes were answered unknown when the leader stepped down",
    ),
    (
        "node.request.redirected",
        "a client request reached a member that is not the leader",
    ),
    (
        "node.fsync.slow",
        "the disk work of one member step (writes and fsync) took over 5 ms",
    ),
];

/// Whether `name` is a listed mark.
pub fn is_listed(name: &str) -> bool {
    ALL.iter().any(|(n, _)| *n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_while_started_and_take_resets() {
        mark!("raft.append.rejected");
        start();
        mark!("raft.append.rejected");
        mark!("raft.append.rejected");
        let counts = take();
        assert_eq!(counts.get("raft.append.rejected"), Some(&2));
        mark!("raft.append.rejected");
        start();
        assert!(take().is_empty());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = ALL.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
