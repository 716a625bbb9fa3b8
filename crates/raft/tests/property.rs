//! Safety under a hostile in-memory network: random loss, reordering, duplication, ticks,
//! proposals, crashes, restarts and compaction on clusters of 3 and 5, and with random
//! membership changes (new members, learners, promotions, removals) mixed in. After every step: at most one
//! leader per term, logs match, committed entries never change. After the faults stop:
//! everyone converges on the same committed log.

mod common;

use common::Cluster;
use proptest::prelude::*;
use proto::conf::{ChangeKind, ConfChange, ConfChangeSingle};
use proto::raft::Entry;
use proto::trace::Role;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

fn check_invariants(c: &Cluster, committed: &mut BTreeMap<u64, Entry>) {
    // Election safety: one leader per term.
    let mut by_term: BTreeMap<u64, u64> = BTreeMap::new();
    for (term, id) in &c.leaders {
        if let Some(other) = by_term.insert(*term, *id) {
            panic!("two leaders in term {term}: {other} and {id}");
        }
    }
    // Log matching on durable logs (each may start after its own snapshot): if two logs
    // hold an entry with the same index and term, they agree on every entry both hold
    // up to it.
    let ids: Vec<u64> = c.members.keys().copied().collect();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let la: BTreeMap<u64, &Entry> = c.members[a].log.iter().map(|e| (e.index, e)).collect();
            let lb: BTreeMap<u64, &Entry> = c.members[b].log.iter().map(|e| (e.index, e)).collect();
            let shared_match = la
                .iter()
                .rev()
                .find(|(index, e)| lb.get(index).is_some_and(|o| o.term == e.term))
                .map(|(index, _)| *index);
            if let Some(upto) = shared_match {
                for (index, e) in la.range(..=upto) {
                    if let Some(o) = lb.get(index) {
                        assert_eq!(
                            *e, *o,
                            "logs of {a} and {b} match at {upto} but differ at {index}"
                        );
                    }
                }
            }
        }
    }
    // State machine safety: an index is applied with one entry only, everywhere.
    for (id, m) in &c.members {
        for e in &m.applied {
            let first = committed.entry(e.index).or_insert_with(|| e.clone());
            assert_eq!(
                first, e,
                "member {id} applied a different entry at {}",
                e.index
            );
        }
    }
}

/// Proposes a random membership change at the leader (refusals are fine: one change at a
/// time). New members get fresh ids and empty logs.
fn random_change(c: &mut Cluster, rng: &mut ChaCha8Rng, next_id: &mut u64, founding: u64) {
    let Some(l) = c.leader() else { return };
    let conf = c.members[&l].node.conf_state().clone();
    let cc = match rng.gen_range(0..4) {
        0 => {
            c.add_member(*next_id, founding);
            *next_id += 1;
            ConfChange::single(ChangeKind::AddLearner, *next_id - 1)
        }
        1 if !conf.learners.is_empty() => {
            let id = conf.learners[rng.gen_range(0..conf.learners.len())];
            ConfChange::single(ChangeKind::AddVoter, id)
        }
        2 if conf.voters.len() > 2 => {
            let id = conf.voters[rng.gen_range(0..conf.voters.len())];
            ConfChange::single(ChangeKind::Remove, id)
        }
        _ => {
            // Replace a voter through a joint configuration.
            c.add_member(*next_id, founding);
            *next_id += 1;
            let old = conf.voters[rng.gen_range(0..conf.voters.len())];
            ConfChange {
                changes: vec![
                    ConfChangeSingle {
                        kind: ChangeKind::Remove,
                        node: old,
                    },
                    ConfChangeSingle {
                        kind: ChangeKind::AddVoter,
                        node: *next_id - 1,
                    },
                ],
                joint: false,
            }
        }
    };
    let _ = c.node(l).propose_conf_change(&cc);
}

/// What a case carries from step to step.
struct Case {
    n: u64,
    changes: bool,
    next_id: u64,
    proposals: u64,
}

/// Runs one case; returns how many configuration changes the final leader applied or
/// holds in its snapshot's configuration history (so a test can check changes happen).
fn run(seed: u64, n: u64, steps: usize, changes: bool) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Cluster::new(n);
    let mut case = Case {
        n,
        changes,
        next_id: n + 1,
        proposals: 0,
    };
    let mut committed = BTreeMap::new();
    for _ in 0..steps {
        random_step(&mut c, &mut rng, &mut case);
        c.process_readies();
        check_invariants(&c, &mut committed);
    }
    settle(&mut c, &mut committed)
}

/// One random step: a tick, a delivery out of order, a loss, a duplicate, a proposal, a
/// member down or back, a snapshot, or (with `changes`) a membership change.
fn random_step(c: &mut Cluster, rng: &mut ChaCha8Rng, case: &mut Case) {
    let (n, changes) = (case.n, case.changes);
    match rng.gen_range(0..100) {
        0..=29 => {
            let ids: Vec<u64> = c.members.keys().copied().collect();
            let id = ids[rng.gen_range(0..ids.len())];
            if !c.down.contains(&id) {
                c.tick(id, 1);
            }
        }
        30..=59 if !c.queue.is_empty() => {
            // Deliver a random message: reordering.
            let i = rng.gen_range(0..c.queue.len());
            let m = c.queue.remove(i).unwrap();
            c.queue.push_front(m);
            c.deliver_one();
        }
        60..=69 if !c.queue.is_empty() => {
            let i = rng.gen_range(0..c.queue.len());
            c.queue.remove(i); // loss
        }
        70..=74 if !c.queue.is_empty() => {
            let i = rng.gen_range(0..c.queue.len());
            let m = c.queue[i].clone();
            c.queue.push_back(m); // duplication
        }
        75..=84 => {
            if let Some(l) = c.leader() {
                case.proposals += 1;
                let _ = c
                    .node(l)
                    .propose(format!("p{}", case.proposals).into_bytes());
            }
        }
        85..=86 => {
            let id = rng.gen_range(1..=n);
            // At most one member down while the membership changes: a removal may
            // shrink the cluster to a size where two down members is a majority.
            let max_down = if changes { 1 } else { ((n - 1) / 2) as usize };
            if c.down.len() < max_down {
                c.down.insert(id);
            }
        }
        92..=95 if changes => random_change(c, rng, &mut case.next_id, n),
        90..=91 => {
            let id = rng.gen_range(1..=n);
            if !c.down.contains(&id) && c.status(id).applied > 0 {
                c.snapshot(id, 2);
            }
        }
        87..=89 => {
            if let Some(&id) = c.down.iter().next() {
                c.restart(id);
            }
        }
        _ => {}
    }
}

/// Faults stop: restarts everyone, delivers everything and ticks until quiet, then
/// checks the final configuration's members converged. Returns how many configuration
/// changes were applied.
fn settle(c: &mut Cluster, committed: &mut BTreeMap<u64, Entry>) -> usize {
    // Faults stop: restart everyone, deliver everything, tick until quiet.
    for id in c.down.clone() {
        c.restart(id);
    }
    let ids: Vec<u64> = c.members.keys().copied().collect();
    for _ in 0..200 {
        for id in &ids {
            c.tick(*id, 1);
        }
        c.stabilize();
    }
    check_invariants(c, committed);
    let leader = c.leader().expect("a leader after faults stop");
    assert_eq!(c.status(leader).role, Role::Leader);
    let target = c.status(leader).committed;
    // Liveness is judged on the final configuration: its members converge.
    let conf = c.members[&leader].node.conf_state().clone();
    assert!(!conf.is_joint(), "still joint after faults stop: {conf}");
    for id in conf.members() {
        let s = c.status(id);
        assert_eq!(s.committed, target, "member {id} did not converge");
        assert_eq!(s.applied, target, "member {id} did not apply everything");
    }
    c.members
        .values()
        .flat_map(|m| &m.applied)
        .filter(|e| e.kind == proto::raft::EntryKind::ConfChange)
        .count()
}

/// The membership property test is not vacuous: in most runs changes take effect.
#[test]
fn membership_changes_take_effect_in_most_runs() {
    let with_changes = (0..16).filter(|seed| run(*seed, 3, 2000, true) > 0).count();
    assert!(
        with_changes >= 12,
        "changes took effect in {with_changes} of 16 runs"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn three_members_stay_safe_under_a_hostile_network(seed in any::<u64>()) {
        run(seed, 3, 1500, false);
    }

    #[test]
    fn five_members_stay_safe_under_a_hostile_network(seed in any::<u64>()) {
        run(seed, 5, 1500, false);
    }

    #[test]
    fn membership_changes_stay_safe_under_a_hostile_network(seed in any::<u64>()) {
        run(seed, 3, 2000, true);
    }
}
