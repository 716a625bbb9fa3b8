//! The core's guards: what it refuses or ignores, each a rule of the paper or of the API
//! that a mutation test found no other test pinned down (reports/MUTANTS.md).

mod common;

use common::{config, emitted, Cluster};
use proto::raft::{HardState, Message, MessageType};
use proto::trace::Role;
use raft::{ProposeError, RawNode};

/// A configuration names each voter once and never id 0.
#[test]
fn a_config_with_a_repeated_or_zero_voter_is_refused() {
    let mut c = config(1, 3);
    assert!(c.validate().is_ok());
    c.voters = vec![1, 1, 2];
    assert!(c.validate().is_err(), "a voter named twice");
    c.voters = vec![1, 2, 0];
    assert!(c.validate().is_err(), "voter id 0");
}

/// Thesis §9.6: a pre-vote binds nothing, so it may be granted for a later term; but for
/// the member's own term the one-vote rule applies: having voted for another, it refuses.
#[test]
fn a_pre_vote_for_the_members_own_term_is_refused_after_voting_for_another() {
    let voted = HardState {
        term: 2,
        vote: 2,
        commit: 0,
    };
    let mut n = RawNode::new(config(1, 3), voted, None, vec![]);
    n.step(Message::new(MessageType::PreVote, 3, 1, 2));
    let out = emitted(&mut n);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].kind, MessageType::PreVoteResp);
    assert!(
        out[0].reject,
        "pre-vote at the member's own term granted: {:?}",
        out[0]
    );
}

/// Messages not addressed to the member or from itself are ignored. A message from a
/// member this one does not know yet is taken, as in etcd: a member added by a change
/// this one has not applied yet may already lead.
#[test]
fn messages_not_for_the_member_are_ignored_but_newer_members_are_heard() {
    for (from, to) in [(2, 3), (1, 1)] {
        let mut n = RawNode::new(config(1, 3), HardState::default(), None, vec![]);
        n.step(Message::new(MessageType::Heartbeat, from, to, 5));
        assert_eq!(n.status().term, 0, "message {from} -> {to} was taken");
    }
    let mut n = RawNode::new(config(1, 3), HardState::default(), None, vec![]);
    n.step(Message::new(MessageType::Heartbeat, 9, 1, 5));
    assert_eq!((n.status().term, n.status().leader), (5, 9));
}

/// Only the leader accepts proposals and read requests.
#[test]
fn a_follower_refuses_proposals_and_reads() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    assert_eq!(c.status(2).role, Role::Follower);
    assert!(matches!(
        c.node(2).propose(b"x".to_vec()),
        Err(ProposeError::NotLeader { leader: 1 })
    ));
    assert!(c.node(2).read_index(7).is_err());
}

/// A transfer to the leader itself or to a non-member is ignored: proposals go on.
#[test]
fn a_transfer_to_itself_or_a_stranger_is_ignored() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    for to in [1, 9] {
        c.node(1).transfer_leader(to);
        assert!(
            c.node(1).propose(b"x".to_vec()).is_ok(),
            "a transfer to {to} blocked proposals"
        );
        c.stabilize();
    }
}

/// The Ready contract: nothing may be asked of the core between `ready()` and
/// `advance()`; the core refuses loudly rather than lose what the Ready carried.
#[test]
#[should_panic(expected = "propose called between ready() and advance()")]
fn proposing_between_ready_and_advance_is_refused() {
    let mut c = Cluster::new(1);
    c.campaign(1);
    let n = c.node(1);
    let _ = n.propose(b"x".to_vec());
    assert!(n.has_ready());
    let _rd = n.ready();
    let _ = n.propose(b"y".to_vec());
}

/// ReadIndex (thesis §6.4): a read is confirmed only by answers to a heartbeat sent after
/// the read arrived. An answer to an earlier round proves leadership at an earlier time,
/// before a newer leader may have been elected.
#[test]
fn an_answer_to_an_earlier_heartbeat_does_not_confirm_a_later_read() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    let term = c.status(1).term;
    let leader = c.node(1);
    let round = |n: &mut RawNode, context: u64| {
        n.read_index(context).unwrap();
        let sent = emitted(n);
        sent.iter()
            .find(|m| m.kind == MessageType::Heartbeat)
            .map(|m| m.context)
            .unwrap()
    };
    let first = round(leader, 1);
    let second = round(leader, 2);
    assert!(second > first);
    let mut ack = Message::new(MessageType::HeartbeatResp, 2, 1, term);
    ack.context = first;
    leader.step(ack);
    let rd = leader.ready();
    let confirmed: Vec<u64> = rd.read_states.iter().map(|r| r.context).collect();
    leader.advance();
    assert_eq!(
        confirmed,
        vec![1],
        "the earlier round's answer confirmed {confirmed:?}"
    );
}

/// Thesis §9.6: a pre-vote round counts only grants for the term it asks about. A grant
/// left over from an earlier round (it answers the term that round asked for) must not
/// win this one: trace validation found the core counting it.
#[test]
fn a_pre_vote_grant_from_an_earlier_round_is_not_counted() {
    let state = HardState {
        term: 2,
        vote: 0,
        commit: 0,
    };
    let mut n = RawNode::new(config(1, 3), state, None, vec![]);
    n.campaign();
    assert_eq!((n.status().role, n.status().term), (Role::PreCandidate, 2));
    emitted(&mut n);
    // Member 2's grant to the round that asked for term 2, delivered late.
    n.step(Message::new(MessageType::PreVoteResp, 2, 1, 2));
    assert_eq!(
        n.status().role,
        Role::PreCandidate,
        "a stale grant was counted"
    );
    // Its grant for term 3, the term this round asks for, wins it.
    n.step(Message::new(MessageType::PreVoteResp, 2, 1, 3));
    assert_eq!((n.status().role, n.status().term), (Role::Candidate, 3));
    // With the bug planted, the stale grant wins the round.
    let mut buggy = config(1, 3);
    buggy.canaries.stale_prevote_grant_counted = true;
    let mut n = RawNode::new(buggy, state, None, vec![]);
    n.campaign();
    emitted(&mut n);
    n.step(Message::new(MessageType::PreVoteResp, 2, 1, 2));
    assert_eq!((n.status().role, n.status().term), (Role::Candidate, 3));
}
