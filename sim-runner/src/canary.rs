//! Planted bugs, selectable with `--canary NAME`: the testbed testing itself. Each one
//! changes a single decision in one place of the member or the Raft core.

use sim::Canaries;

/// Every canary: (name, what it breaks).
pub const CANARIES: &[(&str, &str)] = &[
    (
        "commit-earlier-term",
        "the leader commits an earlier term's entry by counting replicas (Raft §5.4.2, Figure 8)",
    ),
    (
        "ack-before-fsync",
        "members acknowledge entries before the WAL fsync (synced only once per tick)",
    ),
    (
        "vote-without-persist",
        "the vote is not persisted: after a restart a member may vote twice in a term",
    ),
    (
        "skip-up-to-date-check",
        "votes are granted without the candidate-log-up-to-date check (Raft §5.4.1)",
    ),
    (
        "local-reads",
        "the leader serves reads from its own state without confirming leadership (ReadIndex)",
    ),
    (
        "apply-retries-twice",
        "a retried request (same client id and sequence) is applied again",
    ),
    (
        "cas-create-revision",
        "a compare-and-swap on a modification revision compares the key's create revision",
    ),
    (
        "segment-without-dir-sync",
        "a new WAL segment is fsynced but its directory entry is not: a power loss can take the segment, with acknowledged entries",
    ),
    (
        "snapshot-drops-sessions",
        "snapshots leave out the client sessions: a retry after a restart or a snapshot install is applied again",
    ),
    (
        "send-before-persist",
        "votes and append acknowledgements are sent before the WAL write they promise is fsynced",
    ),
    (
        "votes-across-terms",
        "a candidate keeps votes from earlier terms when it campaigns again",
    ),
    (
        "torn-tail-is-corruption",
        "WAL recovery takes a torn record at the end for corruption and refuses to start",
    ),
    (
        "skip-truncation",
        "a follower overwrites a conflicting entry but keeps the stale entries after it",
    ),
];

/// Turns a canary on in `c`; `Err` names the known canaries.
pub fn enable(c: &mut Canaries, name: &str) -> Result<(), String> {
    match name {
        "commit-earlier-term" => c.raft.commit_earlier_term_by_counting = true,
        "ack-before-fsync" => c.node.ack_before_fsync = true,
        "vote-without-persist" => c.node.vote_without_persist = true,
        "skip-up-to-date-check" => c.raft.skip_vote_up_to_date_check = true,
        "local-reads" => c.raft.serve_reads_without_quorum = true,
        "apply-retries-twice" => c.node.apply_retries_twice = true,
        "skip-truncation" => c.raft.skip_truncation_on_conflict = true,
        "cas-create-revision" => c.node.cas_compares_create_revision = true,
        "segment-without-dir-sync" => c.node.segment_without_dir_sync = true,
        "snapshot-drops-sessions" => c.node.snapshot_drops_sessions = true,
        "send-before-persist" => c.node.send_before_persist = true,
        "votes-across-terms" => c.raft.keep_votes_across_terms = true,
        "torn-tail-is-corruption" => c.node.torn_tail_is_corruption = true,
        other => {
            let names: Vec<&str> = CANARIES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown canary {other:?}; one of: {}",
                names.join(", ")
            ));
        }
    }
    Ok(())
}
