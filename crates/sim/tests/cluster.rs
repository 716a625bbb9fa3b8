//! A real cluster (Raft + WAL + KV members) in the simulated world.

use disk::DiskFaults;
use proto::history::Outcome;
use proto::trace::{EventKind, Role};
use sim::{Canaries, Cluster, ClusterConfig, ClusterRun, NetworkFaults, Workload};
use std::collections::BTreeMap;
use std::time::Duration;

fn run(
    seed: u64,
    nodes: u64,
    network: NetworkFaults,
    body: impl FnOnce(&Cluster) + 'static,
) -> ClusterRun {
    sim::run(seed, || async move {
        let config = ClusterConfig {
            nodes,
            snapshot_every: 100,
            ..ClusterConfig::default()
        };
        let mut cluster = Cluster::start(
            seed,
            config,
            network,
            DiskFaults::default(),
            Canaries::default(),
            None,
        );
        cluster.start_clients(&Workload {
            clients: 4,
            stop_ms: Some(8_000),
            ..Workload::default()
        });
        body(&cluster);
        madsim::time::sleep(Duration::from_secs(12)).await;
        cluster.shutdown()
    })
}

/// Each member's applied entries, in order: (index, digest).
fn applied(run: &ClusterRun) -> BTreeMap<u64, Vec<(u64, u64)>> {
    let mut out: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for e in &run.record.events {
        if let EventKind::Applied { node, entry, .. } = &e.kind {
            out.entry(*node)
                .or_default()
                .push((entry.index, entry.digest));
        }
    }
    out
}

fn assert_same_order(run: &ClusterRun, nodes: u64) {
    let applied = applied(run);
    assert_eq!(
        applied.len() as u64,
        nodes,
        "every member applied something"
    );
    // One entry per index, everywhere (a restart re-applies from its snapshot, and a
    // snapshot install skips ahead, so compare by index rather than by sequence).
    let mut at: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (node, seq) in &applied {
        for (index, digest) in seq {
            let first = at.entry(*index).or_insert((*digest, *node));
            assert_eq!(
                first.0, *digest,
                "members {} and {node} applied different entries at {index}",
                first.1
            );
        }
    }
    // After the workload stops and the network is quiet, everyone catches up.
    let last: Vec<u64> = run.members.values().map(|s| s.applied).collect();
    assert!(
        last.iter().all(|a| *a == last[0]),
        "applied indexes differ at the end: {last:?}"
    );
    let digests: Vec<u64> = run.members.values().map(|s| s.store_digest).collect();
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "stores differ at the end"
    );
    let ok = run
        .history
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Ok(_)))
        .count();
    assert!(ok > 100, "only {ok} operations succeeded");
}

#[test]
fn three_and_five_members_apply_the_same_entries_in_the_same_order() {
    for nodes in [3, 5] {
        let r = run(nodes, nodes, NetworkFaults::default(), |_| {});
        assert_same_order(&r, nodes);
        let leaders = r
            .record
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Role {
                        role: Role::Leader,
                        ..
                    }
                )
            })
            .count();
        assert!(leaders >= 1);
    }
}

#[test]
fn same_order_under_loss_duplication_and_reordering() {
    let hostile = NetworkFaults {
        loss_ppm: 50_000,
        duplicate_ppm: 50_000,
        latency_min_us: 1_000,
        latency_max_us: 30_000,
    };
    for nodes in [3, 5] {
        let quiet = hostile.clone();
        let r = run(10 + nodes, nodes, hostile.clone(), move |c| {
            // The faults stop at 8 s so that everyone can converge.
            let world = c.world.clone();
            madsim::task::spawn(async move {
                madsim::time::sleep(Duration::from_secs(8)).await;
                let _ = quiet;
                world.set_network(NetworkFaults::default());
            });
        });
        assert_same_order(&r, nodes);
        assert!(r.record.network.duplicated > 0 && r.record.network.dropped > 0);
    }
}

#[test]
fn a_restarted_member_recovers_from_disk_and_a_far_behind_one_gets_a_snapshot() {
    let r = run(21, 3, NetworkFaults::default(), |c| {
        let world = c.world.clone();
        madsim::task::spawn(async move {
            // Member 3 is down for most of the workload: the others take snapshots every
            // 100 entries and compact, so it must be sent a snapshot when it returns.
            madsim::time::sleep(Duration::from_secs(1)).await;
            world.crash(3, Some(disk::FaultMode::DropAll));
            madsim::time::sleep(Duration::from_secs(6)).await;
            world.restart(3);
            // Member 2 restarts quickly: it recovers from its own WAL.
            madsim::time::sleep(Duration::from_secs(1)).await;
            world.crash(2, None);
            madsim::time::sleep(Duration::from_millis(300)).await;
            world.restart(2);
        });
    });
    assert_same_order(&r, 3);
    let installed = r
        .record
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::SnapshotInstalled { node: 3, .. }));
    assert!(installed, "member 3 was not sent a snapshot");
    let recovered_2 = r.record.events.iter().filter(|e| matches!(&e.kind, EventKind::Recovered { node: 2, entries, snapshot_index, .. } if !entries.is_empty() || *snapshot_index > 0)).count();
    assert!(recovered_2 >= 1, "member 2 recovered nothing from its disk");
}

#[test]
fn losing_every_unsynced_write_never_loses_an_acknowledged_write() {
    // Crash members with power loss again and again; every acknowledged put must be in
    // the final store (its value, or a later write to the key).
    let r = run(31, 3, NetworkFaults::default(), |c| {
        let world = c.world.clone();
        madsim::task::spawn(async move {
            for round in 0..8u64 {
                madsim::time::sleep(Duration::from_millis(700)).await;
                let victim = round % 3 + 1;
                world.crash(victim, Some(disk::FaultMode::DropAll));
                madsim::time::sleep(Duration::from_millis(200)).await;
                world.restart(victim);
            }
        });
    });
    assert_same_order(&r, 3);
    // Every acknowledged write was applied on every member (by entry identity): find each
    // acknowledged (client, seq) among every member's applied commands.
    let mut applied_by: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for e in &r.record.events {
        if let EventKind::Applied {
            node: 1,
            client,
            seq,
            fresh: true,
            ..
        } = e.kind
        {
            *applied_by.entry((client, seq)).or_default() += 1;
        }
    }
    for op in &r.history {
        if op.op.is_write() && matches!(op.outcome, Outcome::Ok(_)) {
            assert!(
                applied_by.contains_key(&(op.client, op.seq)),
                "acknowledged write {}#{} is not in member 1's applied log",
                op.client,
                op.seq
            );
        }
    }
}

#[test]
fn a_retried_request_is_applied_once() {
    // Drop every reply for a while: clients time out and retry the same (client, seq).
    let r = run(41, 3, NetworkFaults::default(), |c| {
        let world = c.world.clone();
        madsim::task::spawn(async move {
            madsim::time::sleep(Duration::from_secs(2)).await;
            for client in 0..4 {
                for member in 1..=3 {
                    world.cut(member, sim::cluster::FIRST_CLIENT + client);
                }
            }
            madsim::time::sleep(Duration::from_secs(1)).await;
            world.heal();
        });
    });
    assert_same_order(&r, 3);
    let mut fresh: BTreeMap<(u64, u64, u64), usize> = BTreeMap::new();
    let mut duplicates = 0;
    for e in &r.record.events {
        if let EventKind::Applied {
            node,
            client,
            seq,
            fresh: is_fresh,
            ..
        } = e.kind
        {
            if client == 0 {
                continue;
            }
            if is_fresh {
                *fresh.entry((node, client, seq)).or_default() += 1;
            } else {
                duplicates += 1;
            }
        }
    }
    assert!(
        duplicates > 0,
        "no retry reached the log: the test did not exercise retries"
    );
    for ((node, client, seq), n) in fresh {
        assert_eq!(n, 1, "member {node} applied {client}#{seq} {n} times");
    }
}
