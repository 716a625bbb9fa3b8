// Over 500 lines: every checker's unit tests in one file, sharing the event builders.
//! Every checker rejects hand-built bad inputs and accepts valid ones.

use check::{FinalState, LivenessBounds, Property};
use proto::conf::{ChangeKind, ConfChange};
use proto::history::{HistoryOp, Outcome};
use proto::kv::{Op, OpResult};
use proto::trace::{EntryId, Event, EventKind, Role};

fn ev(time_ns: u64, kind: EventKind) -> Event {
    Event { time_ns, kind }
}

fn id(index: u64, term: u64, digest: u64) -> EntryId {
    EntryId {
        index,
        term,
        digest,
    }
}

fn put(
    client: u64,
    seq: u64,
    value: &str,
    call: u64,
    ret: Option<u64>,
    outcome: Outcome,
) -> HistoryOp {
    HistoryOp {
        client,
        seq,
        op: Op::Put {
            key: "k".into(),
            value: value.into(),
        },
        call_ns: call,
        return_ns: ret,
        outcome,
    }
}

fn put_ok(client: u64, seq: u64, value: &str, call: u64, ret: u64) -> HistoryOp {
    put(
        client,
        seq,
        value,
        call,
        Some(ret),
        Outcome::Ok(OpResult::Put { revision: 0 }),
    )
}

fn get(client: u64, seq: u64, value: Option<&str>, call: u64, ret: u64) -> HistoryOp {
    HistoryOp {
        client,
        seq,
        op: Op::Get { key: "k".into() },
        call_ns: call,
        return_ns: Some(ret),
        outcome: Outcome::Ok(OpResult::Get {
            value: value.map(String::from),
            mod_revision: 0,
        }),
    }
}

/// Linearizability with revisions not judged (these hand-made histories record none).
fn lin(h: &[HistoryOp]) -> check::linearizability::Report {
    let options = check::linearizability::Options {
        revisions: false,
        ..Default::default()
    };
    check::linearizability::check_with(h, &options)
}

#[test]
fn linearizability_rejects_a_stale_read_after_an_acknowledged_write() {
    let h = vec![
        put_ok(1, 1, "a", 0, 10),
        put_ok(1, 2, "b", 20, 30),
        get(2, 1, Some("a"), 40, 50), // "b" was acknowledged before this read began
    ];
    let r = lin(&h);
    assert!(!r.linearizable());
    let text = &r.failures[0].explanation;
    assert!(
        text.contains("client 2 #1: get -> returned Some(\"a\")"),
        "{text}"
    );
}

#[test]
fn linearizability_rejects_a_read_of_a_value_never_written() {
    let h = vec![put_ok(1, 1, "a", 0, 10), get(2, 1, Some("zzz"), 20, 30)];
    assert!(!lin(&h).linearizable());
}

#[test]
fn linearizability_accepts_concurrent_and_timed_out_writes() {
    let h = vec![
        put_ok(1, 1, "a", 0, 100),
        get(2, 1, Some("b"), 10, 20), // b's put is concurrent and may come first
        put(3, 1, "b", 5, None, Outcome::Unknown),
        put(4, 1, "never-seen", 6, None, Outcome::Unknown),
        put(5, 1, "failed", 7, Some(8), Outcome::Failed),
        get(2, 2, Some("a"), 110, 120),
    ];
    let r = lin(&h);
    assert!(r.linearizable(), "{:?}", r.failures);
}

#[test]
fn linearizability_accepts_generated_valid_histories_with_many_timeouts() {
    for seed in 0..20 {
        let h = check::generate::generate(seed, 2_000, 16, 4, 100_000);
        let r = check::linearizability::check(&h);
        assert!(r.linearizable(), "seed {seed}: {:?}", r.failures.first());
    }
}

#[test]
fn linearizability_rejects_a_mutated_generated_history() {
    // Change one read's answer to a value written later: it is seen before it exists.
    let mut h = check::generate::generate(7, 500, 4, 1, 0);
    let (i, later) = h
        .iter()
        .enumerate()
        .find_map(|(i, o)| {
            matches!(o.op, Op::Get { .. }).then(|| {
                let later = h[i + 50..].iter().find_map(|w| match &w.op {
                    Op::Put { value, .. } => Some(value.clone()),
                    _ => None,
                });
                (i, later)
            })
        })
        .unwrap();
    h[i].outcome = Outcome::Ok(OpResult::Get {
        value: later,
        mod_revision: 0,
    });
    assert!(!lin(&h).linearizable());
}

#[test]
fn durability_rejects_a_lost_acknowledged_write() {
    let events = vec![ev(
        5,
        EventKind::Applied {
            node: 1,
            entry: id(1, 1, 9),
            client: 1,
            seq: 1,
            fresh: true,
        },
    )];
    let h = vec![put_ok(1, 1, "a", 0, 10), put_ok(1, 2, "b", 20, 30)];
    let v = check::durability::check(&events, &h, &[]);
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains("#2"));
    // and diverging final stores at one applied index
    let finals = [
        FinalState {
            node: 1,
            applied: 5,
            digest: 1,
        },
        FinalState {
            node: 2,
            applied: 5,
            digest: 2,
        },
    ];
    assert_eq!(check::durability::check(&events, &h[..1], &finals).len(), 1);
}

#[test]
fn election_safety_rejects_two_leaders_in_one_term() {
    let leader = |node, term| EventKind::Role {
        node,
        role: Role::Leader,
        term,
    };
    let ok = vec![
        ev(1, leader(1, 1)),
        ev(2, leader(2, 2)),
        ev(3, leader(1, 1)),
    ];
    assert!(check::election_safety::check(&ok).is_empty());
    let bad = vec![ev(1, leader(1, 1)), ev(2, leader(2, 1))];
    let v = check::election_safety::check(&bad);
    assert_eq!(v[0].property, Property::ElectionSafety);
    assert_eq!(v[0].nodes, vec![1, 2]);
}

#[test]
fn state_machine_safety_rejects_different_entries_at_one_index() {
    let applied = |node, digest| EventKind::Applied {
        node,
        entry: id(3, 2, digest),
        client: 0,
        seq: 0,
        fresh: true,
    };
    assert!(
        check::state_machine_safety::check(&[ev(1, applied(1, 7)), ev(2, applied(2, 7))])
            .is_empty()
    );
    assert_eq!(
        check::state_machine_safety::check(&[ev(1, applied(1, 7)), ev(2, applied(2, 8))]).len(),
        1
    );
}

#[test]
fn log_matching_rejects_a_shared_entry_with_different_prefixes() {
    let persisted = |node, entries| EventKind::LogPersisted { node, entries };
    let good = vec![
        ev(1, persisted(1, vec![id(1, 1, 10), id(2, 2, 20)])),
        ev(2, persisted(2, vec![id(1, 1, 10), id(2, 2, 20)])),
    ];
    assert!(check::log_matching::check(&good).is_empty());
    let bad = vec![
        ev(1, persisted(1, vec![id(1, 1, 10), id(2, 2, 20)])),
        ev(2, persisted(2, vec![id(1, 3, 11), id(2, 2, 20)])),
    ];
    assert_eq!(check::log_matching::check(&bad).len(), 1);
    let bad_digest = vec![
        ev(1, persisted(1, vec![id(1, 1, 10)])),
        ev(2, persisted(2, vec![id(1, 1, 99)])),
    ];
    assert_eq!(check::log_matching::check(&bad_digest).len(), 1);
}

#[test]
fn leader_completeness_rejects_a_leader_missing_a_committed_entry() {
    let events = vec![
        ev(
            1,
            EventKind::LogPersisted {
                node: 1,
                entries: vec![id(1, 1, 10), id(2, 1, 20)],
            },
        ),
        ev(
            2,
            EventKind::Committed {
                node: 1,
                index: 2,
                term: 1,
            },
        ),
        ev(
            3,
            EventKind::LogPersisted {
                node: 2,
                entries: vec![id(1, 1, 10)],
            },
        ),
        ev(
            4,
            EventKind::Role {
                node: 2,
                role: Role::Leader,
                term: 2,
            },
        ),
    ];
    let v = check::leader_completeness::check(&events);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("(2, term 1)"));
    // A leader that holds everything committed is fine.
    let mut good = events.clone();
    good[2] = ev(
        3,
        EventKind::LogPersisted {
            node: 2,
            entries: vec![id(1, 1, 10), id(2, 1, 20)],
        },
    );
    assert!(check::leader_completeness::check(&good).is_empty());
}

#[test]
fn exactly_once_rejects_a_retry_applied_twice() {
    let applied = |index, fresh| EventKind::Applied {
        node: 1,
        entry: id(index, 1, index),
        client: 7,
        seq: 3,
        fresh,
    };
    assert!(
        check::exactly_once::check(&[ev(1, applied(1, true)), ev(2, applied(2, false))]).is_empty()
    );
    assert_eq!(
        check::exactly_once::check(&[ev(1, applied(1, true)), ev(2, applied(2, true))]).len(),
        1
    );
}

#[test]
fn exactly_once_judges_across_restarts_and_snapshot_installs() {
    let applied = |node, index| EventKind::Applied {
        node,
        entry: id(index, 1, index),
        client: 7,
        seq: 3,
        fresh: true,
    };
    let recovered = EventKind::Recovered {
        node: 1,
        snapshot_index: 0,
        snapshot_term: 0,
        entries: vec![],
        term: 1,
        vote: 0,
        commit: 0,
    };
    // Replaying the same index after a restart, or on another member, is one effect.
    let replay = [
        ev(1, applied(1, 5)),
        ev(2, recovered.clone()),
        ev(3, applied(1, 5)),
        ev(4, applied(2, 5)),
    ];
    assert!(check::exactly_once::check(&replay).is_empty());
    // A fresh application at another index after the restart (sessions lost with it), or
    // on another member after a snapshot install, is a second effect.
    let again = [ev(1, applied(1, 5)), ev(2, recovered), ev(3, applied(1, 9))];
    assert_eq!(check::exactly_once::check(&again).len(), 1);
    let installed = [
        ev(1, applied(1, 5)),
        ev(
            2,
            EventKind::SnapshotInstalled {
                node: 2,
                index: 6,
                term: 1,
            },
        ),
        ev(3, applied(2, 9)),
    ];
    assert_eq!(check::exactly_once::check(&installed).len(), 1);
}

#[test]
fn liveness_rejects_no_leader_long_after_healing() {
    let bounds = LivenessBounds {
        healed_ns: Some(1_000),
        leader_within_ns: 500,
        op_within_ns: 500,
        end_ns: 10_000,
        unjudgeable: None,
    };
    let leaderless = vec![ev(
        900,
        EventKind::Role {
            node: 1,
            role: Role::Candidate,
            term: 3,
        },
    )];
    assert_eq!(
        check::liveness::check(&leaderless, &[], &bounds)
            .violations()
            .len(),
        1
    );
    let led = vec![ev(
        1_200,
        EventKind::Role {
            node: 1,
            role: Role::Leader,
            term: 3,
        },
    )];
    assert!(check::liveness::check(&led, &[], &bounds).held());
    // An operation called after the bound that never returns is a violation too.
    let stuck = vec![put(1, 1, "x", 2_000, None, Outcome::Unknown)];
    assert_eq!(
        check::liveness::check(&led, &stuck, &bounds)
            .violations()
            .len(),
        1
    );
}

#[test]
fn liveness_is_not_judged_when_the_run_ends_before_a_leader_is_due() {
    let bounds = LivenessBounds {
        healed_ns: Some(1_000),
        leader_within_ns: 5_000,
        op_within_ns: 500,
        end_ns: 3_000,
        unjudgeable: None,
    };
    // No leader at all, but the run is too short to say that is wrong.
    let verdict = check::liveness::check(&[], &[], &bounds);
    assert!(
        matches!(&verdict, check::Verdict::NotJudged(why) if why.contains("before a leader is due")),
        "{verdict:?}"
    );
}

#[test]
fn liveness_is_not_judged_where_the_timing_requirement_does_not_hold() {
    let bounds = LivenessBounds {
        healed_ns: Some(1_000),
        leader_within_ns: 500,
        op_within_ns: 500,
        end_ns: 10_000,
        unjudgeable: Some("slow links".into()),
    };
    // No leader long after healing: a violation elsewhere, a reason here.
    let verdict = check::liveness::check(&[], &[], &bounds);
    assert_eq!(verdict, check::Verdict::NotJudged("slow links".into()));
}

#[test]
fn recoverability_rejects_a_restart_that_lost_a_durable_entry() {
    let persisted = |index, term| {
        ev(
            index * 10,
            EventKind::LogPersisted {
                node: 1,
                entries: vec![id(index, term, index)],
            },
        )
    };
    let recovered = |snapshot_index, entries: Vec<EntryId>| {
        ev(
            1_000,
            EventKind::Recovered {
                node: 1,
                snapshot_index,
                snapshot_term: 1,
                entries,
                term: 1,
                vote: 0,
                commit: 0,
            },
        )
    };
    let before = vec![persisted(1, 1), persisted(2, 1), persisted(3, 1)];
    // Everything back (and more: unsynced writes a process crash kept): fine.
    let mut ok = before.clone();
    ok.push(recovered(0, (1..=4).map(|i| id(i, 1, i)).collect()));
    assert!(check::recoverability::check(&ok).is_empty());
    // A snapshot covering what is missing from the log: fine.
    let mut snap = before.clone();
    snap.push(recovered(2, vec![id(3, 1, 3)]));
    assert!(check::recoverability::check(&snap).is_empty());
    // Entry 3 lost: a violation.
    let mut lost = before.clone();
    lost.push(recovered(0, vec![id(1, 1, 1), id(2, 1, 2)]));
    let v = check::recoverability::check(&lost);
    assert_eq!(v.len(), 1);
    assert!(v[0].message.contains("durable entry 3"), "{}", v[0].message);
    // A different entry at a durable index: a violation.
    let mut changed = before.clone();
    changed.push(recovered(0, vec![id(1, 1, 1), id(2, 1, 2), id(3, 2, 99)]));
    assert_eq!(check::recoverability::check(&changed).len(), 1);
    // A durable snapshot that did not come back: a violation.
    let mut compacted = before;
    compacted.push(ev(500, EventKind::SnapshotTaken { node: 1, index: 3 }));
    compacted.push(recovered(0, vec![id(1, 1, 1)]));
    assert_eq!(check::recoverability::check(&compacted).len(), 1);
}

#[test]
fn recoverability_rejects_a_member_stopped_by_a_storage_error() {
    let stopped = vec![ev(
        5,
        EventKind::Stopped {
            node: 2,
            reason: "corrupt write-ahead log".into(),
            corrupt: true,
        },
    )];
    let v = check::recoverability::check(&stopped);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].property, Property::Recoverability);
}

#[test]
fn recoverability_after_damage_accepts_a_refusal_and_rejects_less() {
    let damaged = ev(
        4,
        EventKind::DiskDamaged {
            node: 2,
            what: "bit rot".into(),
        },
    );
    let stopped = |corrupt| {
        ev(
            5,
            EventKind::Stopped {
                node: 2,
                reason: "corrupt write-ahead log".into(),
                corrupt,
            },
        )
    };
    // Refusing to start with a typed corruption error is the right call.
    assert!(check::recoverability::check(&[damaged.clone(), stopped(true)]).is_empty());
    // Any other error is not.
    assert_eq!(
        check::recoverability::check(&[damaged.clone(), stopped(false)]).len(),
        1
    );
    // Nor is coming up with less than was durable.
    let persisted = ev(
        1,
        EventKind::LogPersisted {
            node: 2,
            entries: vec![id(1, 1, 1), id(2, 1, 2)],
        },
    );
    let recovered = ev(
        6,
        EventKind::Recovered {
            node: 2,
            snapshot_index: 0,
            snapshot_term: 0,
            entries: vec![id(1, 1, 1)],
            term: 0,
            vote: 0,
            commit: 0,
        },
    );
    let v = check::recoverability::check(&[persisted, damaged, recovered]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message.contains("instead of refusing to start"),
        "{}",
        v[0].message
    );
}

/// Three members start empty; member 1 leads term 2 with entries (1, term 1) and (2, term 2)
/// in its log; `followers` of them hold the same durably.
fn commit_rule_run(followers: &[u64]) -> Vec<Event> {
    let mut events: Vec<Event> = (1..=3)
        .map(|node| {
            ev(
                node,
                EventKind::Recovered {
                    node,
                    snapshot_index: 0,
                    snapshot_term: 0,
                    entries: vec![],
                    term: 0,
                    vote: 0,
                    commit: 0,
                },
            )
        })
        .collect();
    let entries = vec![id(1, 1, 11), id(2, 2, 22)];
    for node in std::iter::once(1).chain(followers.iter().copied()) {
        events.push(ev(
            10,
            EventKind::LogPersisted {
                node,
                entries: entries.clone(),
            },
        ));
    }
    events.push(ev(
        20,
        EventKind::Role {
            node: 1,
            role: Role::Leader,
            term: 2,
        },
    ));
    events
}

#[test]
fn commit_rule_rejects_committing_an_earlier_terms_entry_by_counting_replicas() {
    let mut events = commit_rule_run(&[2]);
    events.push(ev(
        30,
        EventKind::Committed {
            node: 1,
            index: 1,
            term: 1,
        },
    ));
    let v = check::commit_rule::check(&events);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].property, Property::CommitRule);
    assert!(v[0].message.contains("its own term"), "{}", v[0].message);
}

#[test]
fn commit_rule_rejects_a_commit_without_a_durable_majority_and_accepts_one_with_it() {
    let commit = ev(
        30,
        EventKind::Committed {
            node: 1,
            index: 2,
            term: 2,
        },
    );
    let mut alone = commit_rule_run(&[]);
    alone.push(commit.clone());
    let v = check::commit_rule::check(&alone);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("not a quorum"), "{}", v[0].message);
    let mut majority = commit_rule_run(&[3]);
    majority.push(commit.clone());
    assert!(check::commit_rule::check(&majority).is_empty());
    // A follower's commit (learned from its leader) is not judged by this rule.
    let mut follower = commit_rule_run(&[]);
    follower.push(ev(
        30,
        EventKind::Committed {
            node: 2,
            index: 2,
            term: 2,
        },
    ));
    assert!(check::commit_rule::check(&follower).is_empty());
}

#[test]
fn recoverability_accepts_a_restart_with_a_truncated_entry_replaced() {
    // (2, term 1) was durable; a leader's log replaced it with (2, term 2), whose write had
    // not been synced when the process crashed but survived: a newer log, not less.
    let events = vec![
        ev(
            1,
            EventKind::LogPersisted {
                node: 1,
                entries: vec![id(1, 1, 1), id(2, 1, 2)],
            },
        ),
        ev(
            2,
            EventKind::LogTruncated {
                node: 1,
                from: 2,
                last: 2,
            },
        ),
        ev(
            3,
            EventKind::Recovered {
                node: 1,
                snapshot_index: 0,
                snapshot_term: 0,
                entries: vec![id(1, 1, 1), id(2, 2, 9)],
                term: 0,
                vote: 0,
                commit: 0,
            },
        ),
    ];
    assert!(check::recoverability::check(&events).is_empty());
    // Losing the entry before the truncation point is still a violation.
    let mut lost = events.clone();
    lost[2] = ev(
        3,
        EventKind::Recovered {
            node: 1,
            snapshot_index: 0,
            snapshot_term: 0,
            entries: vec![],
            term: 0,
            vote: 0,
            commit: 0,
        },
    );
    assert_eq!(check::recoverability::check(&lost).len(), 1);
}

fn conf_proposed(time: u64, node: u64, index: u64, term: u64, change: ConfChange) -> Event {
    ev(
        time,
        EventKind::ConfChangeProposed {
            node,
            entry: id(index, term, 100 + index),
            change,
        },
    )
}

/// Members 1..=3 founded; 1 leads term 2 with (1, term 1) and (2, term 2), which 2 holds
/// too; nothing committed yet.
fn membership_run() -> Vec<Event> {
    let mut events = vec![ev(
        0,
        EventKind::ClusterFormed {
            voters: vec![1, 2, 3],
        },
    )];
    events.extend(commit_rule_run(&[2]));
    events
}

/// `node` made `entries` durable at `time`.
fn persisted_at(time: u64, node: u64, entries: Vec<EntryId>) -> Event {
    ev(time, EventKind::LogPersisted { node, entries })
}

/// `node` made the configuration entry at (index, term) durable.
fn persisted_conf(time: u64, node: u64, index: u64, term: u64) -> Event {
    persisted_at(time, node, vec![id(index, term, 100 + index)])
}

/// `node` advanced its commit index to (index, term) at `time`.
fn committed_at(time: u64, node: u64, index: u64, term: u64) -> Event {
    ev(time, EventKind::Committed { node, index, term })
}

/// Configuration safety: a change before the leader's own-term commit, and a second
/// change while one is pending, are each reported; the same changes in order are not.
#[test]
fn configuration_safety_judges_the_membership_rules() {
    let add = |n| ConfChange::single(ChangeKind::AddLearner, n);
    // Before the own-term commit.
    let mut early = membership_run();
    early.push(persisted_conf(25, 1, 3, 2));
    early.push(conf_proposed(25, 1, 3, 2, add(4)));
    let v = check::configuration::check(&early);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("own term"), "{}", v[0].message);
    // After it: fine; then a second while the first is uncommitted: two in flight.
    let mut two = membership_run();
    two.push(committed_at(24, 1, 2, 2));
    two.push(persisted_conf(25, 1, 3, 2));
    two.push(conf_proposed(25, 1, 3, 2, add(4)));
    assert!(check::configuration::check(&two).is_empty());
    two.push(persisted_conf(26, 1, 4, 2));
    two.push(conf_proposed(26, 1, 4, 2, add(5)));
    let v = check::configuration::check(&two);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].message.contains("two changes in flight"),
        "{}",
        v[0].message
    );
    // A learner that becomes leader breaks the rule that only voters lead.
    let mut learner = membership_run();
    learner.push(ev(
        24,
        EventKind::Role {
            node: 9,
            role: Role::Leader,
            term: 3,
        },
    ));
    let v = check::configuration::check(&learner);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("not a voter"), "{}", v[0].message);
}

/// The commit rule counts a joint configuration's quorum as a majority of each half.
#[test]
fn commit_rule_needs_both_majorities_while_joint() {
    let mut events = membership_run();
    events.push(committed_at(24, 1, 2, 2));
    let mut grow = ConfChange::of(&[(ChangeKind::AddVoter, 4), (ChangeKind::AddVoter, 5)]);
    grow.joint = true;
    events.push(persisted_conf(25, 1, 3, 2));
    events.push(conf_proposed(25, 1, 3, 2, grow));
    // The leader applies the joint entry: now {1,..,5} & {1,2,3}.
    events.push(ev(
        26,
        EventKind::Applied {
            node: 1,
            entry: id(3, 2, 103),
            client: 0,
            seq: 0,
            fresh: true,
        },
    ));
    // Entry 4 is held by 1, 4 and 5: a majority of the five, not of the old three.
    for node in [1, 4, 5] {
        events.push(persisted_at(27, node, vec![id(4, 2, 44)]));
    }
    let mut bad = events.clone();
    bad.push(committed_at(28, 1, 4, 2));
    let v = check::commit_rule::check(&bad);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].message.contains("outgoing"), "{}", v[0].message);
    events.push(persisted_at(27, 2, vec![id(3, 2, 103), id(4, 2, 44)]));
    events.push(committed_at(28, 1, 4, 2));
    assert!(check::commit_rule::check(&events).is_empty());
}
