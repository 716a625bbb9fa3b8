// Over 500 lines: one test per rule (24), each with its hand-written trace and the allowed reactions beside it, sharing the builders above them.
//! Trace validation: each rule, on a small hand-written trace that breaks it, and on the
//! allowed reactions beside it (which must pass).

use check::protocol::{check, Rule};
use check::Violation;
use proto::raft::MessageType::{self, *};
use proto::step::{CoreState, RaftStep, StepInput, StepMessage};
use proto::trace::{Event, EventKind, Role};
use proto::NodeId;

/// A member's state: term, vote, role, last index (its term = term), commit.
fn st(term: u64, vote: NodeId, role: Role, last: u64, commit: u64) -> CoreState {
    CoreState {
        term,
        vote,
        leader: if role == Role::Leader { 1 } else { 0 },
        role,
        last_index: last,
        last_term: term,
        commit,
        commit_term: term,
    }
}

fn msg(kind: MessageType, peer: NodeId, term: u64) -> StepMessage {
    StepMessage {
        kind,
        peer,
        term,
        index: 0,
        log_term: 0,
        commit: 0,
        entries: 0,
        last_entry_term: 0,
        reject: false,
        context: 0,
    }
}

fn recv(m: StepMessage) -> StepInput {
    StepInput::Receive { msg: m }
}

fn step(
    node: NodeId,
    input: StepInput,
    before: CoreState,
    after: CoreState,
    sent: Vec<StepMessage>,
) -> EventKind {
    EventKind::RaftStep(Box::new(RaftStep {
        node,
        input,
        before,
        after,
        sent,
        reads: Vec::new(),
    }))
}

/// A trace of three founding voters, then `kinds`, one event a millisecond.
fn judge(kinds: Vec<EventKind>) -> Vec<Violation> {
    let mut events = vec![Event {
        time_ns: 0,
        kind: EventKind::ClusterFormed {
            voters: vec![1, 2, 3],
        },
    }];
    for (i, kind) in kinds.into_iter().enumerate() {
        events.push(Event {
            time_ns: (i as u64 + 1) * 1_000_000,
            kind,
        });
    }
    check(&events)
}

fn breaks(kinds: Vec<EventKind>, rule: Rule) {
    let v = judge(kinds);
    let prefix = format!("rule {} (", rule.name());
    assert!(
        v.iter().any(|v| v.message.starts_with(&prefix)),
        "expected {} broken, got {v:#?}",
        rule.name()
    );
}

fn passes(kinds: Vec<EventKind>) {
    let v = judge(kinds);
    assert!(v.is_empty(), "expected no break, got {v:#?}");
}

const F: Role = Role::Follower;
const C: Role = Role::Candidate;
const P: Role = Role::PreCandidate;
const L: Role = Role::Leader;

#[test]
fn every_rule_has_a_distinct_name_that_parses_back() {
    for r in Rule::ALL {
        assert_eq!(Rule::from_name(r.name()), Some(r));
        assert!(!r.source().is_empty());
    }
}

#[test]
fn term_monotonic() {
    breaks(
        vec![step(
            1,
            StepInput::Tick,
            st(3, 0, F, 5, 5),
            st(2, 0, F, 5, 5),
            vec![],
        )],
        Rule::TermMonotonic,
    );
}

#[test]
fn higher_term_adopted() {
    let m = msg(Append, 2, 5);
    breaks(
        vec![step(
            1,
            recv(m),
            st(3, 0, F, 5, 5),
            st(3, 0, F, 5, 5),
            vec![],
        )],
        Rule::HigherTermAdopted,
    );
    let mut adopted = st(5, 0, F, 5, 5);
    adopted.leader = 2;
    passes(vec![step(1, recv(m), st(3, 0, F, 5, 5), adopted, vec![])]);
    // A vote request ignored inside a known leader's lease changes nothing: allowed.
    let mut vote = msg(Vote, 2, 5);
    vote.index = 9;
    vote.log_term = 3;
    let mut following = st(3, 0, F, 5, 5);
    following.leader = 3;
    passes(vec![step(1, recv(vote), following, following, vec![])]);
}

#[test]
fn stale_term_ignored() {
    let m = msg(Append, 2, 1);
    let mut moved = st(3, 0, F, 5, 5);
    moved.leader = 2;
    breaks(
        vec![step(1, recv(m), st(3, 0, F, 5, 5), moved, vec![])],
        Rule::StaleTermIgnored,
    );
    let mut ack = msg(AppendResp, 2, 3);
    ack.index = 5;
    breaks(
        vec![step(
            1,
            recv(m),
            st(3, 0, F, 5, 5),
            st(3, 0, F, 5, 5),
            vec![ack],
        )],
        Rule::StaleTermIgnored,
    );
    // Telling the stale leader the new term, claiming nothing: allowed.
    let told = msg(AppendResp, 2, 3);
    passes(vec![step(
        1,
        recv(m),
        st(3, 0, F, 5, 5),
        st(3, 0, F, 5, 5),
        vec![told],
    )]);
}

#[test]
fn sent_in_current_term() {
    let hb = msg(Heartbeat, 2, 2);
    breaks(
        vec![step(
            1,
            StepInput::Tick,
            st(3, 1, L, 5, 0),
            st(3, 1, L, 5, 0),
            vec![hb],
        )],
        Rule::SentInCurrentTerm,
    );
}

#[test]
fn pre_vote_changes_no_term() {
    let mut pv = msg(PreVote, 2, 4);
    pv.index = 5;
    pv.log_term = 3;
    breaks(
        vec![step(
            1,
            recv(pv),
            st(3, 0, F, 5, 5),
            st(4, 0, F, 5, 5),
            vec![],
        )],
        Rule::PreVoteChangesNoTerm,
    );
    passes(vec![step(
        1,
        recv(pv),
        st(3, 0, F, 5, 5),
        st(3, 0, F, 5, 5),
        vec![msg(PreVoteResp, 2, 4)],
    )]);
}

#[test]
fn candidate_term() {
    breaks(
        vec![step(
            1,
            StepInput::Tick,
            st(3, 0, F, 5, 5),
            st(5, 1, C, 5, 5),
            vec![],
        )],
        Rule::CandidateTerm,
    );
    breaks(
        vec![step(
            1,
            StepInput::Tick,
            st(3, 0, F, 5, 5),
            st(4, 0, C, 5, 5),
            vec![],
        )],
        Rule::CandidateTerm,
    );
}

#[test]
fn only_voters_campaign() {
    let mut v = msg(Vote, 2, 4);
    v.index = 5;
    v.log_term = 3;
    breaks(
        vec![step(
            4,
            StepInput::Tick,
            st(3, 0, F, 5, 5),
            st(4, 4, C, 5, 5),
            vec![v],
        )],
        Rule::OnlyVotersCampaign,
    );
}

/// A vote request from a candidate whose log is longer than anyone's here.
fn vote_request(from: NodeId, term: u64) -> StepMessage {
    let mut v = msg(Vote, from, term);
    v.index = 5;
    v.log_term = 9;
    v
}

#[test]
fn one_vote_per_term() {
    let grant = |to| msg(VoteResp, to, 4);
    let first = step(
        1,
        recv(vote_request(2, 4)),
        st(3, 0, F, 5, 5),
        st(4, 2, F, 5, 5),
        vec![grant(2)],
    );
    let second = step(
        1,
        recv(vote_request(3, 4)),
        st(4, 2, F, 5, 5),
        st(4, 3, F, 5, 5),
        vec![grant(3)],
    );
    breaks(vec![first.clone(), second], Rule::OneVotePerTerm);
    // Across a restart that lost a vote it had made durable.
    let durable = EventKind::VotePersisted {
        node: 1,
        term: 4,
        vote: 2,
    };
    let restart = EventKind::Recovered {
        node: 1,
        snapshot_index: 0,
        snapshot_term: 0,
        entries: vec![],
        term: 4,
        vote: 0,
        commit: 0,
    };
    let again = step(
        1,
        recv(vote_request(3, 4)),
        st(4, 0, F, 5, 5),
        st(4, 3, F, 5, 5),
        vec![grant(3)],
    );
    breaks(
        vec![first.clone(), durable, restart.clone(), again.clone()],
        Rule::OneVotePerTerm,
    );
    // A grant that never became durable died with the process: allowed.
    passes(vec![first, restart, again]);
}

#[test]
fn vote_for_up_to_date_log() {
    let mut v = vote_request(2, 4);
    v.log_term = 2;
    breaks(
        vec![step(
            1,
            recv(v),
            st(3, 0, F, 5, 5),
            st(4, 2, F, 5, 5),
            vec![msg(VoteResp, 2, 4)],
        )],
        Rule::VoteForUpToDateLog,
    );
}

/// Member 1 campaigns in term 4 (no pre-vote): it asks 2 and 3.
fn campaign() -> EventKind {
    let ask = |to| {
        let mut v = msg(Vote, to, 4);
        v.index = 5;
        v.log_term = 3;
        v
    };
    let mut after = st(4, 1, C, 5, 5);
    after.last_term = 3;
    let mut before = st(3, 0, F, 5, 5);
    before.last_term = 3;
    step(1, StepInput::Tick, before, after, vec![ask(2), ask(3)])
}

fn won_on(grant: StepMessage) -> EventKind {
    let mut before = st(4, 1, C, 5, 5);
    before.last_term = 3;
    let mut after = st(4, 1, L, 6, 5);
    after.commit_term = 3;
    step(1, recv(grant), before, after, vec![])
}

#[test]
fn election_won_by_quorum() {
    passes(vec![campaign(), won_on(msg(VoteResp, 2, 4))]);
    let mut refused = msg(VoteResp, 2, 4);
    refused.reject = true;
    breaks(vec![campaign(), won_on(refused)], Rule::ElectionWonByQuorum);
    // A grant from a stranger (not a voter) does not count.
    breaks(
        vec![campaign(), won_on(msg(VoteResp, 9, 4))],
        Rule::ElectionWonByQuorum,
    );
}

#[test]
fn pre_vote_won_by_quorum() {
    let mut pv = msg(PreVote, 2, 4);
    pv.index = 5;
    pv.log_term = 4;
    let pre = step(
        1,
        StepInput::Tick,
        st(3, 0, F, 5, 5),
        st(3, 0, P, 5, 5),
        vec![pv],
    );
    let mut refused = msg(PreVoteResp, 2, 3);
    refused.reject = true;
    // A grant from an earlier round (it answers term 3, this round asks term 4).
    let stale = msg(PreVoteResp, 2, 3);
    for answer in [refused, stale] {
        breaks(
            vec![
                pre.clone(),
                step(
                    1,
                    recv(answer),
                    st(3, 0, P, 5, 5),
                    st(4, 1, C, 5, 5),
                    vec![],
                ),
            ],
            Rule::PreVoteWonByQuorum,
        );
    }
    passes(vec![
        pre,
        step(
            1,
            recv(msg(PreVoteResp, 2, 4)),
            st(3, 0, P, 5, 5),
            st(4, 1, C, 5, 5),
            vec![],
        ),
    ]);
}

#[test]
fn candidate_yields_to_leader() {
    breaks(
        vec![step(
            1,
            recv(msg(Heartbeat, 2, 4)),
            st(4, 1, C, 5, 5),
            st(4, 1, C, 5, 5),
            vec![],
        )],
        Rule::CandidateYieldsToLeader,
    );
}

/// Member 1 leads term 3 from its first step.
fn leading(last: u64, commit: u64) -> CoreState {
    st(3, 1, L, last, commit)
}

fn acked(peer: NodeId, index: u64) -> EventKind {
    let mut ack = msg(AppendResp, peer, 3);
    ack.index = index;
    step(1, recv(ack), leading(9, 5), leading(9, 5), vec![])
}

#[test]
fn leader_append_only() {
    breaks(
        vec![
            acked(2, 5),
            step(1, StepInput::Tick, leading(9, 5), leading(8, 5), vec![]),
        ],
        Rule::LeaderAppendOnly,
    );
}

#[test]
fn leader_commit_by_quorum() {
    let commit = |before, after| step(1, StepInput::Advance, before, after, vec![]);
    passes(vec![
        acked(2, 5),
        acked(2, 8),
        commit(leading(9, 5), leading(9, 8)),
    ]);
    breaks(
        vec![acked(2, 5), commit(leading(9, 5), leading(9, 8))],
        Rule::LeaderCommitByQuorum,
    );
    let mut earlier = leading(9, 8);
    earlier.commit_term = 2;
    breaks(
        vec![acked(2, 5), acked(2, 8), commit(leading(9, 5), earlier)],
        Rule::LeaderCommitByQuorum,
    );
}

#[test]
fn follower_commit_bound() {
    let mut app = msg(Append, 2, 3);
    app.index = 6;
    app.entries = 1;
    app.commit = 10;
    let mut before = st(3, 0, F, 6, 5);
    before.leader = 2;
    let mut after = st(3, 0, F, 7, 10);
    after.leader = 2;
    breaks(
        vec![step(1, recv(app), before, after, vec![])],
        Rule::FollowerCommitBound,
    );
    after.commit = 7;
    passes(vec![step(1, recv(app), before, after, vec![])]);
}

#[test]
fn commit_monotonic_and_needs_cause() {
    breaks(
        vec![step(
            1,
            StepInput::Tick,
            st(3, 0, F, 5, 5),
            st(3, 0, F, 5, 4),
            vec![],
        )],
        Rule::CommitMonotonic,
    );
    breaks(
        vec![step(
            1,
            StepInput::Tick,
            st(3, 0, F, 5, 4),
            st(3, 0, F, 5, 5),
            vec![],
        )],
        Rule::CommitNeedsCause,
    );
}

#[test]
fn ack_only_what_matched() {
    let mut app = msg(Append, 2, 3);
    app.index = 2;
    app.entries = 1;
    let mut ack = msg(AppendResp, 2, 3);
    ack.index = 7;
    let mut s = st(3, 0, F, 7, 1);
    s.leader = 2;
    breaks(
        vec![step(1, recv(app), s, s, vec![ack])],
        Rule::AckOnlyWhatMatched,
    );
    ack.index = 3;
    passes(vec![step(1, recv(app), s, s, vec![ack])]);
}

#[test]
fn heartbeat_commit_capped() {
    let mut hb = msg(Heartbeat, 2, 3);
    hb.commit = 5;
    let beat = |hb| step(1, StepInput::Tick, leading(9, 5), leading(9, 5), vec![hb]);
    breaks(vec![acked(2, 3), beat(hb)], Rule::HeartbeatCommitCapped);
    passes(vec![acked(2, 6), beat(hb)]);
}

fn read_steps(answer_context: u64) -> Vec<EventKind> {
    let l = leading(9, 5);
    let mut hb = msg(Heartbeat, 2, 3);
    hb.context = 7;
    let mut hb3 = hb;
    hb3.peer = 3;
    let mut answer = msg(HeartbeatResp, 2, 3);
    answer.context = answer_context;
    vec![
        step(1, StepInput::ReadIndex { context: 1 }, l, l, vec![hb, hb3]),
        EventKind::RaftStep(Box::new(RaftStep {
            node: 1,
            input: recv(answer),
            before: l,
            after: l,
            sent: vec![],
            reads: vec![1],
        })),
    ]
}

#[test]
fn read_confirmed_by_quorum() {
    passes(read_steps(7));
    // The answer to a heartbeat sent before the read arrived proves nothing about it.
    breaks(read_steps(6), Rule::ReadConfirmedByQuorum);
    // Confirmed at once, alone.
    let l = leading(9, 5);
    breaks(
        vec![EventKind::RaftStep(Box::new(RaftStep {
            node: 1,
            input: StepInput::ReadIndex { context: 1 },
            before: l,
            after: l,
            sent: vec![],
            reads: vec![1],
        }))],
        Rule::ReadConfirmedByQuorum,
    );
}

#[test]
fn conflicting_suffix_truncated() {
    let mut app = msg(Append, 2, 3);
    app.index = 5;
    app.entries = 1;
    app.last_entry_term = 3;
    let mut before = st(3, 0, F, 10, 2);
    before.last_term = 1;
    before.leader = 2;
    let mut ack = msg(AppendResp, 2, 3);
    ack.index = 6;
    // It kept 7..=10 of term 1 after taking entry 6 of term 3.
    breaks(
        vec![step(1, recv(app), before, before, vec![ack])],
        Rule::ConflictingSuffixTruncated,
    );
    let mut after = before;
    after.last_index = 6;
    after.last_term = 3;
    passes(vec![step(1, recv(app), before, after, vec![ack])]);
    // A refused append keeps the log as it was: allowed.
    let mut refusal = msg(AppendResp, 2, 3);
    refusal.reject = true;
    passes(vec![step(1, recv(app), before, before, vec![refusal])]);
}

/// Member 1, leading term 3 with commit index `commit` (an entry of `commit_term`),
/// appends a membership change at `index`.
fn change_at(index: u64, commit: u64, commit_term: u64) -> Vec<EventKind> {
    let mut before = leading(index - 1, commit);
    before.commit_term = commit_term;
    let mut after = before;
    after.last_index = index;
    vec![
        step(1, StepInput::ProposeChange, before, after, vec![]),
        EventKind::ConfChangeProposed {
            node: 1,
            entry: proto::trace::EntryId {
                index,
                term: 3,
                digest: index,
            },
            change: proto::conf::ConfChange::leave_joint(),
        },
    ]
}

#[test]
fn change_after_own_commit() {
    breaks(change_at(10, 5, 2), Rule::ChangeAfterOwnCommit);
    passes(change_at(10, 5, 3));
}

#[test]
fn one_change_at_a_time() {
    let mut two = change_at(10, 5, 3);
    two.extend(change_at(11, 9, 3));
    breaks(two, Rule::OneChangeAtATime);
    let mut in_turn = change_at(10, 5, 3);
    in_turn.extend(change_at(11, 10, 3));
    passes(in_turn);
}

#[test]
fn transfer_to_caught_up() {
    let hand_over = |acked_up_to| {
        vec![
            acked(2, acked_up_to),
            step(
                1,
                StepInput::Transfer { to: 2 },
                leading(9, 5),
                leading(9, 5),
                vec![msg(TimeoutNow, 2, 3)],
            ),
        ]
    };
    breaks(hand_over(8), Rule::TransferToCaughtUp);
    passes(hand_over(9));
}

#[test]
fn only_a_member_in_a_leader_s_lease_ignores_a_vote_request() {
    // A follower that knows no leader must answer (or adopt the term): ignoring is wrong.
    breaks(
        vec![step(
            1,
            recv(vote_request(2, 5)),
            st(3, 0, F, 5, 5),
            st(3, 0, F, 5, 5),
            vec![],
        )],
        Rule::HigherTermAdopted,
    );
    // One that heard from leader 3 may ignore it, but not a transfer's forced request.
    let mut following = st(3, 0, F, 5, 5);
    following.leader = 3;
    passes(vec![step(
        1,
        recv(vote_request(2, 5)),
        following,
        following,
        vec![],
    )]);
    let mut forced = vote_request(2, 5);
    forced.context = u64::MAX;
    breaks(
        vec![step(1, recv(forced), following, following, vec![])],
        Rule::HigherTermAdopted,
    );
}

#[test]
fn a_trace_without_steps_is_not_judged_never_passed() {
    let events = vec![Event {
        time_ns: 0,
        kind: EventKind::ClusterFormed {
            voters: vec![1, 2, 3],
        },
    }];
    let obs = check::Observation {
        events: &events,
        history: &[],
        finals: &[],
        liveness: check::LivenessBounds {
            healed_ns: None,
            leader_within_ns: 0,
            op_within_ns: 0,
            end_ns: 0,
            unjudgeable: None,
        },
        validated: None,
    };
    let verdicts = check::check_all(&obs);
    let (_, v) = verdicts
        .iter()
        .find(|(p, _)| *p == check::Property::TraceValidation)
        .unwrap();
    assert!(matches!(v, check::Verdict::NotJudged(_)), "{v:?}");
}
