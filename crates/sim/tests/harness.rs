//! The harness's own tests, with the ping test actor (no Raft).

use disk::{DiskFaults, FaultMode};
use proto::trace::{DropReason, EventKind};
use sim::ping::{run_ping, Ping, PingConfig};
use sim::{run, run_many, Filter, NetworkFaults, World};
use std::time::Duration;

fn short() -> PingConfig {
    PingConfig {
        nodes: 3,
        duration_ms: 3_000,
        period_ms: 10,
        faults: true,
    }
}

fn hash_of(seed: u64) -> u64 {
    run(seed, || run_ping(seed, short())).trace_hash
}

#[test]
fn same_seed_same_trace_hash_in_one_process_and_across_jobs() {
    let seeds: Vec<u64> = (0..50).collect();
    let first = run_many(&seeds, 1, hash_of);
    let again = run_many(&seeds, 1, hash_of);
    let parallel = run_many(&seeds, 2, hash_of);
    assert_eq!(first, again, "rerunning in one process changed a hash");
    assert_eq!(first, parallel, "--jobs 2 changed a hash");
    let mut distinct = first.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), first.len(), "two seeds gave the same trace");
}

/// A world of `n` ping nodes that never ping on their own (a huge period), so the test
/// controls every message.
fn quiet_world(seed: u64, n: u64, network: NetworkFaults) -> World<Ping> {
    let world = World::new(seed, network, DiskFaults::default());
    for id in 1..=n {
        world.add_node(id, |ep| async move {
            loop {
                let (from, msg) = ep.recv().await;
                ep.record(EventKind::Note {
                    node: ep.id(),
                    text: format!("got {msg:?} from {from}"),
                });
            }
        });
    }
    world
}

fn notes(events: &[proto::trace::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { node, text } => Some(format!("{node}: {text}")),
            _ => None,
        })
        .collect()
}

/// Sends from node `from` by running a one-shot sender node.
fn send(world: &World<Ping>, from_id: u64, to: u64, n: u64) {
    // The world sends on behalf of `from_id`: tests use a sender node's endpoint.
    world.add_node(100 + n, move |ep| async move {
        let _ = from_id;
        ep.send(to, Ping::Ping(n));
    });
}

#[test]
fn partitions_cuts_and_heal_drop_exactly_what_they_should() {
    let record = run(1, || async {
        let world = quiet_world(1, 3, NetworkFaults::default());
        // clients 101.. are unlisted in the partition, so they reach everyone;
        // partition {1} | {2,3} and cut 2->3 only affects node-to-node traffic.
        world.partition(vec![vec![1], vec![2, 3, 101]]);
        send(&world, 0, 1, 1); // 101 -> 1: across the partition: dropped
        send(&world, 0, 2, 2); // 102 -> 2: 102 is unlisted: delivered
        world.cut(103, 3);
        send(&world, 0, 3, 3); // 103 -> 3: cut: dropped
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.heal();
        send(&world, 0, 1, 4); // 104 -> 1 after heal: delivered
        send(&world, 0, 3, 5); // 105 -> 3 after heal: delivered
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.shutdown()
    });
    let dropped: Vec<(u64, u64)> = record
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Drop {
                from,
                to,
                reason: DropReason::Partition,
                ..
            } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    // The two senders start in an order madsim draws from the seed; compare as a set.
    let mut dropped = dropped;
    dropped.sort();
    assert_eq!(dropped, vec![(101, 1), (103, 3)]);
    // Latencies are drawn per message, so arrival order is the seed's; compare as a set.
    let mut got = notes(&record.events);
    got.sort();
    assert_eq!(
        got,
        vec![
            "1: got Ping(4) from 104",
            "2: got Ping(2) from 102",
            "3: got Ping(5) from 105"
        ]
    );
}

#[test]
fn duplication_delivers_two_copies_and_loss_drops() {
    let all_dup = NetworkFaults {
        duplicate_ppm: 1_000_000,
        ..NetworkFaults::default()
    };
    let record = run(2, || async {
        let world = quiet_world(2, 1, all_dup);
        send(&world, 0, 1, 7);
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.shutdown()
    });
    assert_eq!(
        notes(&record.events),
        vec!["1: got Ping(7) from 107", "1: got Ping(7) from 107"]
    );
    assert_eq!(record.network.duplicated, 1);

    let all_lost = NetworkFaults {
        loss_ppm: 1_000_000,
        ..NetworkFaults::default()
    };
    let record = run(3, || async {
        let world = quiet_world(3, 1, all_lost);
        send(&world, 0, 1, 8);
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.shutdown()
    });
    assert!(notes(&record.events).is_empty());
    assert_eq!(record.network.dropped, 1);
}

#[test]
fn filter_drops_matching_messages_only() {
    let record = run(4, || async {
        let world = quiet_world(4, 2, NetworkFaults::default());
        world.add_filter(Filter {
            kind: None,
            from: Some(101),
            to: None,
            remaining: Some(1),
            current_term_entries: false,
            pass_first: 0,
            hold: false,
        });
        send(&world, 0, 1, 1); // from 101: dropped by the filter
        send(&world, 0, 2, 2); // from 102: delivered
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.shutdown()
    });
    assert_eq!(notes(&record.events), vec!["2: got Ping(2) from 102"]);
}

#[test]
fn crashed_node_loses_messages_and_restart_recovers_synced_disk() {
    let record = run(5, || async {
        let world = quiet_world(5, 1, NetworkFaults::default());
        world.crash(1, Some(FaultMode::DropAll));
        send(&world, 0, 1, 1); // to a crashed node: lost
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.restart(1);
        send(&world, 0, 1, 2);
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.shutdown()
    });
    assert_eq!(notes(&record.events), vec!["1: got Ping(2) from 102"]);
    assert!(record.events.iter().any(|e| matches!(
        e.kind,
        EventKind::Drop {
            to: 1,
            reason: DropReason::Down,
            ..
        }
    )));
}

#[test]
fn ping_runs_boot_again_after_every_restart() {
    let record = run(6, || run_ping(6, short()));
    let boots = notes(&record.events)
        .iter()
        .filter(|n| n.contains("boot"))
        .count();
    let restarts = record
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Restart { .. }))
        .count();
    assert_eq!(boots, 3 + restarts);
    assert!(record.network.delivered > 100);
}

#[test]
fn a_hold_filter_keeps_messages_until_released() {
    let record = run(7, || async {
        let world = quiet_world(7, 2, NetworkFaults::default());
        world.add_filter(Filter {
            kind: None,
            from: None,
            to: Some(1),
            remaining: None,
            current_term_entries: false,
            pass_first: 0,
            hold: true,
        });
        send(&world, 0, 1, 1); // held
        send(&world, 0, 2, 2); // delivered
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.record(EventKind::Note {
            node: 0,
            text: "releasing".into(),
        });
        world.clear_filters();
        world.release();
        madsim::time::sleep(Duration::from_millis(100)).await;
        world.shutdown()
    });
    let notes: Vec<String> = record
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Note { node, text } => Some(format!("{node}: {text}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        vec![
            "2: got Ping(2) from 102",
            "0: releasing",
            "1: got Ping(1) from 101"
        ]
    );
}

/// Every message arrives exactly its drawn latency after it was sent, even below madsim's
/// 1 ms sleep floor, and the latencies stay within the configured range.
#[test]
fn messages_arrive_exactly_their_latency_after_sending() {
    for (lo, hi) in [(200, 201), (300, 900), (1_000, 5_000)] {
        let network = NetworkFaults {
            latency_min_us: lo,
            latency_max_us: hi,
            ..NetworkFaults::default()
        };
        let record = run(7, || async {
            let world = quiet_world(7, 2, network);
            for n in 1..=20 {
                send(&world, 0, 1 + n % 2, n);
                madsim::time::sleep(Duration::from_micros(1_300)).await;
            }
            madsim::time::sleep(Duration::from_millis(20)).await;
            world.shutdown()
        });
        let mut sent = std::collections::BTreeMap::new();
        let mut latencies = Vec::new();
        for e in &record.events {
            match &e.kind {
                EventKind::Send { from, .. } => {
                    sent.insert(*from, e.time_ns);
                }
                EventKind::Deliver { from, .. } => latencies.push(e.time_ns - sent[from]),
                _ => {}
            }
        }
        assert_eq!(latencies.len(), 20, "every message arrives");
        for l in &latencies {
            assert!(
                (lo * 1_000..hi * 1_000).contains(l),
                "latency {l} ns outside {lo}..{hi} us"
            );
        }
        if hi > lo + 1 {
            assert!(
                latencies.iter().any(|l| *l != latencies[0]),
                "latencies are drawn per message"
            );
        }
    }
}

/// Messages due at the same instant (a fixed latency, sent together) arrive in the
/// order they were sent.
#[test]
fn messages_due_together_arrive_in_send_order() {
    let network = NetworkFaults {
        latency_min_us: 2_000,
        latency_max_us: 2_001,
        ..NetworkFaults::default()
    };
    let record = run(8, || async {
        let world = quiet_world(8, 1, network);
        world.add_node(50, |ep| async move {
            for n in 0..10 {
                ep.send(1, Ping::Ping(n));
            }
        });
        madsim::time::sleep(Duration::from_millis(20)).await;
        world.shutdown()
    });
    let got = notes(&record.events);
    let want: Vec<String> = (0..10)
        .map(|n| format!("1: got Ping({n}) from 50"))
        .collect();
    assert_eq!(got, want);
}
