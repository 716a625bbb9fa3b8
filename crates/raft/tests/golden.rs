//! Golden interaction scripts: what the cores emit, step by step, snapshotted with insta.
//! A change in behaviour shows up as a diff of the transcript.

mod common;

use common::{config, Cluster};
use proto::trace::Role;
use raft::ReadIndexError;

fn transcript(c: &Cluster) -> String {
    c.transcript.join("\n")
}

/// PreVote with CheckQuorum: a member cut off from a healthy cluster campaigns in vain
/// without raising anyone's term, and rejoins as a follower of the same leader.
#[test]
fn prevote_with_check_quorum_keeps_a_rejoining_member_from_disrupting() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.isolate(3);
    c.tick(3, 25);
    c.stabilize();
    assert_eq!(
        c.status(3).term,
        1,
        "a pre-candidate does not raise its term"
    );
    c.heal();
    c.tick(3, 25); // its pre-votes now arrive, but 1 and 2 hear from their leader
    c.stabilize();
    c.tick(1, 1);
    c.stabilize();
    assert_eq!(c.status(1).role, Role::Leader);
    assert_eq!(c.status(1).term, 1);
    assert_eq!(c.status(3).leader, 1);
    insta::assert_snapshot!(transcript(&c));
}

/// CheckQuorum: a leader that hears from no quorum for an election timeout steps down
/// (this is what ends split brain on the minority side), within 2T ticks of the cut.
#[test]
fn a_leader_cut_off_from_its_quorum_steps_down() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.isolate(1);
    // The first check after T ticks still counts the acks heard before the cut; the
    // second, T ticks later, finds no quorum.
    c.tick(1, 19);
    c.stabilize();
    assert_eq!(c.status(1).role, Role::Leader, "still within the timeout");
    c.tick(1, 1);
    c.stabilize();
    assert_eq!(c.status(1).role, Role::Follower);
    insta::assert_snapshot!(transcript(&c));
}

/// ReadIndex is refused until the leader has committed an entry of its own term; then a
/// heartbeat round confirms leadership and the read state carries the commit index.
#[test]
fn read_index_is_refused_before_a_current_term_commit() {
    let mut c = Cluster::new(3);
    c.node(1).campaign();
    // Deliver the votes but not yet the no-op's acknowledgements.
    c.drop_if = Some(Box::new(|m| m.kind == proto::raft::MessageType::AppendResp));
    c.stabilize();
    assert_eq!(c.status(1).role, Role::Leader);
    assert_eq!(c.node(1).read_index(7), Err(ReadIndexError::NoCommitInTerm));
    c.transcript
        .push("> read_index 1 ctx=7 refused: NoCommitInTerm".into());
    c.drop_if = None;
    c.tick(1, 1);
    c.stabilize();
    assert_eq!(c.status(1).committed, 1);
    c.node(1).read_index(8).expect("now accepted");
    c.transcript.push("> read_index 1 ctx=8".into());
    c.stabilize();
    assert_eq!(c.members[&1].read_states.len(), 1);
    assert_eq!(c.members[&1].read_states[0].index, 1);
    insta::assert_snapshot!(transcript(&c));
}

/// Snapshots: a follower that was away while the leader compacted its log receives the
/// snapshot, installs it and then catches up with entries.
#[test]
fn a_lagging_follower_is_sent_a_snapshot() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.isolate(3);
    for i in 0..4 {
        c.propose(1, format!("v{i}").as_bytes());
    }
    c.snapshot(1, 0);
    c.propose(1, b"after");
    c.heal();
    c.tick(1, 1);
    c.stabilize();
    assert!(c
        .transcript
        .iter()
        .any(|l| l.contains("3: installs snapshot at 5")));
    assert_eq!(c.status(3).committed, 6);
    assert_eq!(c.members[&3].applied.last().unwrap().data, b"after");
    insta::assert_snapshot!(transcript(&c));
}

/// Leadership transfer (thesis §3.10): the leader catches the target up, then tells it to
/// campaign at once; the old leader becomes its follower.
#[test]
fn leadership_transfer_moves_the_lead_to_an_up_to_date_member() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.propose(1, b"x");
    c.transcript.push("> transfer_leader 1 -> 2".into());
    c.node(1).transfer_leader(2);
    c.stabilize();
    assert_eq!(c.status(2).role, Role::Leader);
    assert_eq!(c.status(1).leader, 2);
    insta::assert_snapshot!(transcript(&c));
}

#[test]
fn config_is_validated() {
    // A member that joins later is not among the founding voters: that is allowed.
    let mut cfg = config(4, 3);
    assert!(cfg.validate().is_ok());
    cfg.voters = vec![];
    assert_eq!(cfg.validate(), Err(raft::ConfigError::NoVoters));
    let mut cfg = config(1, 3);
    cfg.heartbeat_ticks = 20;
    assert!(cfg.validate().is_err());
}
