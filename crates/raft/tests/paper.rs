//! One test per behaviour of the Raft paper's §5.1–5.4, each named and commented with its
//! section ("In Search of an Understandable Consensus Algorithm", Ongaro & Ousterhout).

mod common;

use common::{config, emitted, entry, Cluster};
use proto::raft::{HardState, Message, MessageType};
use proto::trace::Role;
use raft::{Config, RawNode};

fn message(kind: MessageType, from: u64, to: u64, term: u64) -> Message {
    Message::new(kind, from, to, term)
}

/// §5.1: "If one server's current term is smaller than the other's, then it updates its
/// current term to the larger value. If a candidate or leader discovers that its term is
/// out of date, it immediately reverts to follower state."
#[test]
fn s5_1_a_higher_term_updates_the_term_and_demotes_a_leader() {
    let mut c = Cluster::new(3);
    c.campaign(1);
    assert_eq!(c.status(1).role, Role::Leader);
    let term = c.status(1).term;
    c.node(1)
        .step(message(MessageType::AppendResp, 2, 1, term + 3));
    let s = c.status(1);
    assert_eq!((s.role, s.term), (Role::Follower, term + 3));

    // A follower adopts the higher term too, and its vote is reset.
    let mut follower = RawNode::new(
        config(1, 3),
        HardState {
            term: 2,
            vote: 3,
            commit: 0,
        },
        None,
        vec![],
    );
    follower.step(message(MessageType::Heartbeat, 2, 1, 5));
    let s = follower.status();
    assert_eq!((s.term, s.vote, s.leader), (5, 0, 2));
}

/// §5.1: "If a server receives a request with a stale term number, it rejects the
/// request." The answer carries the current term so the stale leader steps down.
#[test]
fn s5_1_a_stale_term_request_is_rejected() {
    let mut n = RawNode::new(
        config(1, 3),
        HardState {
            term: 3,
            vote: 0,
            commit: 0,
        },
        None,
        vec![],
    );
    let mut append = message(MessageType::Append, 2, 1, 2);
    append.entries = vec![entry(1, 2)];
    n.step(append);
    assert_eq!(
        n.status().last_index,
        0,
        "a stale append must not be accepted"
    );
    let out = emitted(&mut n);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].kind, out[0].term), (MessageType::AppendResp, 3));

    // A stale vote request is not granted.
    let mut vote = message(MessageType::Vote, 2, 1, 2);
    vote.index = 10;
    vote.log_term = 2;
    n.step(vote);
    assert_eq!(n.status().vote, 0);
}

/// §5.2: "Raft uses randomized election timeouts ... chosen randomly from a fixed
/// interval". Here [T, 2T), drawn from a seeded stream: different members differ, and the
/// same seed gives the same timeouts.
#[test]
fn s5_2_election_timeouts_are_randomized_within_t_to_2t() {
    fn timeouts(seed: u64) -> Vec<u64> {
        let mut cfg = Config::new(1, vec![1, 2, 3], seed);
        cfg.pre_vote = false;
        cfg.check_quorum = false;
        let t = cfg.election_ticks;
        let mut n = RawNode::new(cfg, HardState::default(), None, vec![]);
        let mut out = vec![];
        let mut since = 0;
        while out.len() < 200 {
            n.tick();
            since += 1;
            if emitted(&mut n).iter().any(|m| m.kind == MessageType::Vote) {
                assert!(
                    (t..2 * t).contains(&since),
                    "timeout {since} outside [{t}, {})",
                    2 * t
                );
                out.push(since);
                since = 0;
            }
        }
        out
    }
    let a = timeouts(1);
    let mut distinct = a.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() >= 8,
        "only {} distinct timeouts: {distinct:?}",
        distinct.len()
    );
    assert_eq!(a, timeouts(1), "same seed, same timeouts");
    assert_ne!(a, timeouts(2), "different seeds, different timeouts");
}

/// §5.2: "Each server will vote for at most one candidate in a given term, on a
/// first-come-first-served basis."
#[test]
fn s5_2_at_most_one_vote_per_term() {
    let mut cfg = config(1, 3);
    cfg.check_quorum = false;
    let mut n = RawNode::new(
        cfg,
        HardState {
            term: 1,
            vote: 0,
            commit: 0,
        },
        None,
        vec![],
    );
    let granted = |n: &mut RawNode, from: u64| {
        n.step(message(MessageType::Vote, from, 1, 2));
        let out = emitted(n);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, MessageType::VoteResp);
        !out[0].reject
    };
    assert!(
        granted(&mut n, 2),
        "first candidate of term 2 gets the vote"
    );
    assert!(!granted(&mut n, 3), "second candidate of term 2 is refused");
    assert!(
        granted(&mut n, 2),
        "the same candidate asking again is granted again"
    );
    assert_eq!(n.status().vote, 2);
}

/// §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
/// candidate": compare the last entries' terms, then the lengths.
#[test]
fn s5_4_1_voter_denies_a_candidate_whose_log_is_less_up_to_date() {
    // The voter's log: terms [1, 1, 2]; last entry (3, 2).
    let cases = [
        ((3, 1), false, "older last term"),
        ((2, 2), false, "same last term, shorter log"),
        ((3, 2), true, "same last entry"),
        ((4, 2), true, "same last term, longer log"),
        ((1, 3), true, "newer last term, even if shorter"),
    ];
    for ((index, log_term), expect, why) in cases {
        let mut cfg = config(1, 3);
        cfg.check_quorum = false;
        let entries = vec![entry(1, 1), entry(2, 1), entry(3, 2)];
        let mut n = RawNode::new(
            cfg,
            HardState {
                term: 2,
                vote: 0,
                commit: 0,
            },
            None,
            entries,
        );
        let mut vote = message(MessageType::Vote, 2, 1, 3);
        vote.index = index;
        vote.log_term = log_term;
        n.step(vote);
        let out = emitted(&mut n);
        assert_eq!(
            !out[0].reject, expect,
            "{why}: candidate last ({index}, {log_term})"
        );
    }
}

/// Figure 7: the leader of term 8 brings each of the six divergent follower logs (a)–(f)
/// into line with its own (§5.3: "the leader handles inconsistencies by forcing the
/// followers' logs to duplicate its own").
#[test]
fn figure_7_leader_brings_every_divergent_follower_log_into_line() {
    let leader = vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let followers: [(&str, Vec<u64>); 6] = [
        ("a", vec![1, 1, 1, 4, 4, 5, 5, 6, 6]),
        ("b", vec![1, 1, 1, 4]),
        ("c", vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]),
        ("d", vec![1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]),
        ("e", vec![1, 1, 1, 4, 4, 4, 4]),
        ("f", vec![1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]),
    ];
    for (name, follower) in followers {
        // Member 3 holds the leader's log too, so member 1 can win term 8 even when the
        // follower (member 2) would refuse its vote.
        let mut c = Cluster::with_logs(
            &[leader.clone(), follower.clone(), leader.clone()],
            &[7, 7, 7],
            config,
        );
        c.campaign(1);
        assert_eq!(c.status(1).role, Role::Leader, "({name})");
        assert_eq!(c.status(1).term, 8, "({name})");
        let mut expected = leader.clone();
        expected.push(8); // the leader's no-op
        assert_eq!(
            c.log_terms(2),
            expected,
            "follower ({name}) not brought in line"
        );
        assert_eq!(c.status(2).committed, 11, "({name})");
        // Entries the follower must drop were reported as a truncation.
        let diverged = follower
            .iter()
            .zip(&leader)
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .or_else(|| (follower.len() > leader.len()).then_some(leader.len() + 1));
        let truncated = c.transcript.iter().any(|l| l.starts_with("2: truncated"));
        assert_eq!(truncated, diverged.is_some(), "({name}) {:?}", c.transcript);
    }
}

/// §5.3: "Once a follower learns that a log entry is committed, it applies the entry ...
/// This also commits all preceding entries in the leader's log, including entries created
/// by previous leaders."
#[test]
fn s5_3_committing_an_entry_commits_every_preceding_entry() {
    let mut c = Cluster::with_logs(&[vec![1, 1, 2], vec![1, 1], vec![1]], &[2, 2, 2], config);
    c.campaign(1);
    // The no-op of term 3 at index 4 commits, and with it indexes 1–3 of earlier terms.
    for id in 1..=3 {
        assert_eq!(c.status(id).committed, 4, "member {id}");
        let applied: Vec<u64> = c.members[&id].applied.iter().map(|e| e.index).collect();
        assert_eq!(applied, vec![1, 2, 3, 4], "member {id}");
    }
}

/// Figure 8 and §5.4.2: "Raft never commits log entries from previous terms by counting
/// replicas." S1, leader of term 4, has its term-2 entry at index 2 on a majority (S1, S2,
/// S3) but must not commit it until an entry of term 4 is on a majority too.
#[test]
fn figure_8_an_earlier_term_entry_is_not_committed_by_counting_replicas() {
    fn run(counting_canary: bool) -> Cluster {
        let make = move |id, n| {
            let mut cfg: Config = config(id, n);
            cfg.max_size_per_msg = 1; // one entry per append, so index 2 travels alone
            cfg.canaries.commit_earlier_term_by_counting = counting_canary;
            cfg
        };
        // Figure 8 (c): S1 [1,2], S2 [1,2], S3 [1], S4 [1], S5 [1,3].
        let mut c = Cluster::with_logs(
            &[vec![1, 2], vec![1, 2], vec![1], vec![1], vec![1, 3]],
            &[3, 3, 3, 3, 3],
            make,
        );
        c.isolate(5);
        // S3 gets S1's old entries but nothing of term 4, and S4 gets nothing at all.
        // The first term-4 append to S3 is a probe that S3 refuses (it lacks index 2);
        // later ones would add the term-4 entry and are dropped.
        let term4_appends_to_s3 = std::cell::Cell::new(0);
        c.drop_if = Some(Box::new(move |m: &Message| {
            if m.kind != MessageType::Append || m.entries.is_empty() {
                return false;
            }
            if m.to == 3 && m.entries.iter().any(|e| e.term == 4) {
                term4_appends_to_s3.set(term4_appends_to_s3.get() + 1);
                return term4_appends_to_s3.get() > 1;
            }
            m.to == 4
        }));
        c.campaign(1);
        assert_eq!((c.status(1).role, c.status(1).term), (Role::Leader, 4));
        assert_eq!(c.log_terms(3), vec![1, 2], "S3 received index 2 (term 2)");
        c
    }
    let c = run(false);
    assert_eq!(
        c.status(1).committed,
        0,
        "index 2 (term 2) is on S1, S2, S3 but must not be committed by counting"
    );
    // The planted bug commits it, which Figure 8 (d) shows can later be overwritten.
    let bad = run(true);
    assert_eq!(bad.status(1).committed, 2);

    // Once the term-4 entry reaches a majority, it commits and index 2 with it.
    let mut c = c;
    c.drop_if = None;
    c.tick(1, 1); // a heartbeat round lets S3 ask for what it lacks
    c.stabilize();
    assert_eq!(c.status(1).committed, 3);
}

/// Found by chaos (seed 110, PreVote off, CheckQuorum on): a member answers an append or
/// heartbeat from an older term so the deposed sender learns the new term. That answer
/// must claim no match: by the time it arrives the sender may lead a newer term, and
/// counting it as "matches up to my last index" let that leader commit a follower's stale
/// entries (two members applied different entries at one index).
#[test]
fn an_answer_to_an_older_terms_message_claims_no_match() {
    let mut follower = RawNode::new(
        config(3, 3),
        HardState {
            term: 16,
            vote: 1,
            commit: 0,
        },
        None,
        vec![entry(1, 7), entry(2, 7)],
    );
    follower.step(message(MessageType::Heartbeat, 1, 3, 9));
    let answers = emitted(&mut follower);
    assert_eq!(answers.len(), 1, "{answers:?}");
    let a = &answers[0];
    assert_eq!((a.kind, a.term), (MessageType::AppendResp, 16));
    assert_eq!(
        a.index, 0,
        "the answer must not claim the follower's log matches"
    );
}
