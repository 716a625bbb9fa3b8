//! Membership changes in the Raft core. Each test names its source: the Raft dissertation
//! (chapter 4), etcd raft's `confchange` behaviours, the joint-quorum rules.

mod common;

use common::Cluster;
use proto::conf::{ChangeKind, ConfChange, ConfState};
use proto::raft::{EntryKind, MessageType};
use proto::trace::Role;
use raft::ProposeError;

fn add(kind: ChangeKind, node: u64) -> ConfChange {
    ConfChange::single(kind, node)
}

fn many(changes: &[(ChangeKind, u64)]) -> ConfChange {
    ConfChange::of(changes)
}

fn conf(c: &Cluster, id: u64) -> ConfState {
    c.members[&id].node.conf_state().clone()
}

fn transcript(c: &Cluster) -> String {
    c.transcript.join("\n")
}

/// Dissertation §4.2.1: a new server joins as a non-voting member (a learner) and catches
/// up before it is promoted; etcd promotes a learner with AddVoter.
#[test]
fn a_learner_catches_up_then_is_promoted() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.propose(1, b"a");
    c.add_member(4, 3);
    c.change(1, &add(ChangeKind::AddLearner, 4)).unwrap();
    assert_eq!(conf(&c, 1).learners, vec![4]);
    assert_eq!(
        conf(&c, 4).learners,
        vec![4],
        "the learner applied its own addition"
    );
    let leader_last = c.status(1).last_index;
    assert_eq!(c.status(4).last_index, leader_last, "the learner caught up");
    // A learner never campaigns, however long it waits.
    c.tick(4, 100);
    c.stabilize();
    assert_eq!(c.status(4).role, Role::Follower);
    assert_eq!(c.status(1).role, Role::Leader);
    c.change(1, &add(ChangeKind::AddVoter, 4)).unwrap();
    for id in 1..=4 {
        assert_eq!(
            conf(&c, id),
            ConfState::with_voters(&[1, 2, 3, 4]),
            "member {id}"
        );
    }
    insta::assert_snapshot!(transcript(&c));
}

/// Dissertation §4.3: with joint consensus, entries commit only with a majority of the
/// old and of the new configuration; etcd leaves the joint configuration automatically.
#[test]
fn a_joint_change_needs_both_majorities_and_leaves_by_itself() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.add_member(4, 3);
    c.add_member(5, 3);
    // Only 1 and 2 can talk: a majority of the old {1,2,3}, not of the new {1,..,5}.
    for to in [3, 4, 5] {
        c.cut.insert((1, to));
    }
    c.change(
        1,
        &many(&[(ChangeKind::AddVoter, 4), (ChangeKind::AddVoter, 5)]),
    )
    .unwrap();
    let joint = conf(&c, 1);
    assert!(joint.is_joint(), "{joint}");
    assert_eq!(joint.outgoing, vec![1, 2, 3]);
    let committed = c.status(1).committed;
    assert_eq!(
        c.status(1).last_index,
        committed + 1,
        "the leave-joint waits"
    );
    c.propose(1, b"x");
    assert_eq!(
        c.status(1).committed,
        committed,
        "committed while joint with the old majority alone"
    );
    c.cut.clear();
    c.rounds(1, 3);
    for id in 1..=5 {
        assert_eq!(
            conf(&c, id),
            ConfState::with_voters(&[1, 2, 3, 4, 5]),
            "member {id}"
        );
    }
    let last = c.status(1).last_index;
    assert_eq!(c.status(5).committed, last);
    insta::assert_snapshot!(transcript(&c));
}

/// The joint quorum: while joint, a majority of the new half alone commits nothing.
#[test]
fn while_joint_the_old_majority_is_needed_too() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    for id in [4, 5] {
        c.add_member(id, 3);
        c.cut.insert((1, id));
    }
    // Replace 2 and 3 by 4 and 5: old {1,2,3}, new {1,4,5}. The new members cannot hear
    // yet, so the cluster stays joint.
    let replace = many(&[
        (ChangeKind::Remove, 2),
        (ChangeKind::Remove, 3),
        (ChangeKind::AddVoter, 4),
        (ChangeKind::AddVoter, 5),
    ]);
    // The old members never hear of the leave-joint (index 3): they go down first.
    c.drop_if = Some(Box::new(|m| {
        m.kind == MessageType::Append && m.to <= 3 && m.entries.iter().any(|e| e.index >= 3)
    }));
    c.change(1, &replace).unwrap();
    assert!(conf(&c, 1).is_joint());
    let committed = c.status(1).committed;
    // Now only the new half can answer.
    c.drop_if = None;
    c.cut.clear();
    c.down.insert(2);
    c.down.insert(3);
    c.propose(1, b"y");
    c.rounds(1, 3);
    assert_eq!(
        c.status(1).committed,
        committed,
        "committed with the new majority {{1,4,5}} alone while joint"
    );
    c.restart(2);
    c.rounds(1, 3);
    assert!(c.status(1).committed > committed);
    assert_eq!(conf(&c, 1), ConfState::with_voters(&[1, 4, 5]));
}

/// etcd: one change at a time; a second proposal while one is pending is refused.
#[test]
fn a_second_change_waits_for_the_first() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.add_member(4, 3);
    c.add_member(5, 3);
    c.cut.insert((1, 2));
    c.cut.insert((1, 3));
    let first = c
        .node(1)
        .propose_conf_change(&add(ChangeKind::AddLearner, 4));
    assert!(first.is_ok());
    let second = c
        .node(1)
        .propose_conf_change(&add(ChangeKind::AddLearner, 5));
    assert_eq!(second, Err(ProposeError::ConfChangePending));
    c.cut.clear();
    c.stabilize();
    c.rounds(1, 2);
    assert!(c.change(1, &add(ChangeKind::AddLearner, 5)).is_ok());
    assert_eq!(conf(&c, 1).learners, vec![4, 5]);
}

/// The rule fixed after the dissertation's publication: a new leader proposes no change
/// before it has committed (and applied) an entry of its own term.
#[test]
fn a_new_leader_changes_nothing_before_its_own_term_commits() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.add_member(4, 3);
    c.isolate(1);
    c.tick(3, 10); // 3's lease on leader 1 runs out
                   // 2 wins, but no append answer reaches it: its no-op does not commit.
    c.drop_kinds.insert(MessageType::AppendResp);
    c.campaign(2);
    assert_eq!(c.status(2).role, Role::Leader);
    let refused = c
        .node(2)
        .propose_conf_change(&add(ChangeKind::AddLearner, 4));
    assert_eq!(refused, Err(ProposeError::ConfChangePending));
    c.drop_kinds.clear();
    c.tick(2, 1);
    c.stabilize();
    assert!(c.change(2, &add(ChangeKind::AddLearner, 4)).is_ok());
}

/// Dissertation §4.2.2: a leader removed from the configuration steps down once the
/// change is committed; it hands leadership to a voter that holds its whole log (etcd's
/// TODO), so a new leader is elected at once, without waiting out a timeout.
#[test]
fn a_removed_leader_steps_down() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.change(1, &add(ChangeKind::Remove, 1)).unwrap();
    assert_eq!(c.status(1).role, Role::Follower);
    let heir = c.leader().expect("handed over without a timeout");
    assert!(heir == 2 || heir == 3);
    assert_eq!(conf(&c, heir), ConfState::with_voters(&[2, 3]));
    // The removed member never campaigns again.
    c.tick(1, 100);
    c.stabilize();
    assert_eq!(c.status(1).role, Role::Follower);
    for _ in 0..30 {
        c.tick(2, 1);
        c.tick(3, 1);
        c.stabilize();
    }
    let leader = c.leader().expect("the remaining two elect a leader");
    assert!(leader == 2 || leader == 3);
    c.propose(leader, b"after");
    assert_eq!(c.status(2).committed, c.status(3).committed);
    insta::assert_snapshot!(transcript(&c));
}

/// etcd: a member restarts into the configuration of its snapshot plus the changes in
/// its log, re-applied.
#[test]
fn a_restarted_member_recovers_its_configuration() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.add_member(4, 3);
    c.change(1, &add(ChangeKind::AddLearner, 4)).unwrap();
    c.propose(1, b"a");
    c.snapshot(2, 0);
    c.change(1, &add(ChangeKind::AddVoter, 4)).unwrap();
    c.propose(1, b"b");
    let snap = c.members[&2].snapshot.clone().unwrap();
    assert_eq!(
        snap.meta.conf.learners,
        vec![4],
        "the snapshot carries its configuration"
    );
    c.restart(2);
    assert_eq!(conf(&c, 2).learners, vec![4], "from the snapshot first");
    c.stabilize();
    c.tick(1, 1);
    c.stabilize();
    assert_eq!(
        conf(&c, 2),
        ConfState::with_voters(&[1, 2, 3, 4]),
        "then the log"
    );
}

/// A new member behind a compacted log catches up by snapshot, and takes on the
/// snapshot's configuration.
#[test]
fn a_new_member_catches_up_by_snapshot() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    for i in 0..5 {
        c.propose(1, format!("v{i}").as_bytes());
    }
    c.snapshot(1, 0);
    c.add_member(4, 3);
    c.change(1, &add(ChangeKind::AddVoter, 4)).unwrap();
    c.tick(1, 1);
    c.stabilize();
    assert!(c.transcript.iter().any(|l| l.contains("1->4 snapshot")));
    assert_eq!(conf(&c, 4), ConfState::with_voters(&[1, 2, 3, 4]));
    assert_eq!(c.status(4).committed, c.status(1).committed);
    let kinds: Vec<EntryKind> = c.members[&4].applied.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EntryKind::ConfChange), "{kinds:?}");
}

/// etcd: a transfer to the leader itself cancels a pending transfer, and asking again
/// for the transfer in progress does not restart its timeout.
#[test]
fn transfers_are_cancelled_by_the_leader_and_not_restarted() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.cut.insert((1, 2));
    c.node(1).transfer_leader(2);
    assert!(matches!(
        c.node(1).propose(b"x".to_vec()),
        Err(ProposeError::Transferring)
    ));
    c.node(1).transfer_leader(1);
    assert!(c.node(1).propose(b"x".to_vec()).is_ok(), "cancelled");
    c.stabilize();
    // A repeated request does not restart the timeout: after T ticks it is aborted.
    c.node(1).transfer_leader(2);
    c.tick(1, 6);
    c.node(1).transfer_leader(2);
    c.tick(1, 5);
    c.stabilize();
    assert!(
        c.node(1).propose(b"y".to_vec()).is_ok(),
        "the transfer timed out 10 ticks after it began"
    );
}

/// etcd: a follower that already holds a snapshot's last entry acknowledges the
/// snapshot's index, not its own last index (entries after it may not match).
#[test]
fn a_held_snapshot_is_acknowledged_at_its_index() {
    let hard = proto::raft::HardState {
        term: 1,
        vote: 0,
        commit: 0,
    };
    let log = (1..=3).map(|i| common::entry(i, 1)).collect();
    let mut n = raft::RawNode::new(common::config(2, 3), hard, None, log);
    let mut m = proto::raft::Message::new(MessageType::Snapshot, 1, 2, 1);
    m.snapshot = Some(proto::raft::Snapshot {
        meta: proto::raft::SnapshotMeta {
            index: 2,
            term: 1,
            conf: ConfState::with_voters(&[1, 2, 3]),
        },
        data: vec![],
    });
    n.step(m);
    let out = common::emitted(&mut n);
    let resp = out
        .iter()
        .find(|m| m.kind == MessageType::AppendResp)
        .expect("an answer");
    assert!(!resp.reject);
    assert_eq!(resp.index, 2, "claimed beyond what the snapshot proves");
    assert_eq!(n.status().committed, 2);
}

/// A leader that proposed its own removal appends nothing after it: the members that
/// acknowledged the removal then hold its whole log, and one of them can be elected even
/// while the removed leader's vote is still needed (found by the property test: a
/// removed leader with a longer log refused every candidate of a joint configuration).
#[test]
fn a_leader_leaving_the_cluster_accepts_no_more_proposals() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    c.cut.insert((1, 2));
    c.cut.insert((1, 3));
    c.node(1)
        .propose_conf_change(&add(ChangeKind::Remove, 1))
        .unwrap();
    assert_eq!(
        c.node(1).propose(b"late".to_vec()),
        Err(ProposeError::Leaving)
    );
}

/// A leader elected with a change in its log that removes it (inherited from an earlier
/// leader, not yet applied) appends nothing after its no-op either (found by the property
/// test: it kept accepting proposals, and once the change applied its longer log made
/// it refuse every candidate that still needed its vote).
#[test]
fn a_leader_whose_inherited_log_removes_it_accepts_no_more_proposals() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    // 1 proposes removing 2; only 2 gets the entry, then 1 goes away.
    c.cut.insert((1, 3));
    c.node(1)
        .propose_conf_change(&add(ChangeKind::Remove, 2))
        .unwrap();
    c.drop_kinds.insert(MessageType::AppendResp);
    c.stabilize();
    c.drop_kinds.clear();
    c.down.insert(1);
    c.cut.clear();
    c.tick(3, 10);
    // Nothing commits while 2 leads here: it must refuse proposals from the start.
    c.drop_kinds.insert(MessageType::AppendResp);
    c.campaign(2);
    assert_eq!(
        c.status(2).role,
        Role::Leader,
        "2 holds the longer log\n{}",
        c.transcript[c.transcript.len().saturating_sub(30)..].join("\n")
    );
    assert_eq!(
        c.node(2).propose(b"late".to_vec()),
        Err(ProposeError::Leaving)
    );
}
