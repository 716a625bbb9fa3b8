//! A small test actor that exercises the harness without any Raft: nodes ping random
//! peers and answer pings, keep a restart counter on their disk, and a supervisor injects
//! random partitions, cuts, crashes (with and without unsynced-write loss), pauses and
//! network fault changes drawn from the seed. It tests the simulator, nothing else.

use crate::endpoint::Endpoint;
use crate::rng::stream;
use crate::world::{Payload, RunRecord, World};
use config::NetworkFaults;
use disk::{Disk, DiskFaults, FaultMode};
use proto::trace::{EventKind, MessageSummary};
use proto::NodeId;
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

/// The test actor's messages.
#[derive(Clone, Debug)]
pub enum Ping {
    /// A ping with the sender's counter.
    Ping(u64),
    /// The answer, echoing the counter.
    Pong(u64),
}

impl Payload for Ping {
    fn summary(&self) -> MessageSummary {
        let (index, reject) = match self {
            Ping::Ping(n) => (*n, false),
            Ping::Pong(n) => (*n, true),
        };
        MessageSummary {
            kind: None,
            term: 0,
            index,
            entries: 0,
            reject,
            last_entry_term: 0,
        }
    }
}

/// Settings of a ping run.
#[derive(Clone, Debug)]
pub struct PingConfig {
    /// Number of nodes.
    pub nodes: u64,
    /// Simulated run length, milliseconds.
    pub duration_ms: u64,
    /// Each node pings every this many milliseconds.
    pub period_ms: u64,
    /// Inject random faults.
    pub faults: bool,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            nodes: 3,
            duration_ms: 10_000,
            period_ms: 10,
            faults: true,
        }
    }
}

const BOOTS_FILE: &str = "boots";

async fn actor(ep: Endpoint<Ping>, peers: Vec<NodeId>, period_ms: u64) {
    // Count this incarnation on disk: a restart reads the synced counter back.
    let mut disk = ep.disk().clone();
    let boots = match disk.read_all(BOOTS_FILE) {
        Ok(bytes) if bytes.len() == 8 => u64::from_le_bytes(bytes.try_into().expect("8 bytes")),
        _ => 0,
    } + 1;
    disk.write(BOOTS_FILE, 0, &boots.to_le_bytes())
        .expect("the simulated disk accepts writes");
    disk.sync(BOOTS_FILE).expect("sync");
    disk.sync_dir().expect("sync dir");
    ep.pay_disk_latency().await;
    ep.record(EventKind::Note {
        node: ep.id(),
        text: format!("boot {boots}"),
    });
    let mut rng = stream(ep.seed(), "ping-workload", ep.id() * 1_000_000 + boots);
    let mut counter = 0u64;
    loop {
        let tick = madsim::time::sleep(Duration::from_millis(period_ms));
        futures_util::pin_mut!(tick);
        loop {
            let recv = ep.recv();
            futures_util::pin_mut!(recv);
            match futures_util::future::select(recv, tick.as_mut()).await {
                futures_util::future::Either::Left(((from, Ping::Ping(n)), _)) => {
                    ep.send(from, Ping::Pong(n))
                }
                futures_util::future::Either::Left(((_, Ping::Pong(_)), _)) => {}
                futures_util::future::Either::Right(_) => break,
            }
        }
        counter += 1;
        let to = *peers.choose(&mut rng).expect("at least one peer");
        ep.send(to, Ping::Ping(counter));
    }
}

/// Runs the ping actor on `config.nodes` nodes for the run `seed` and returns the record.
pub async fn run_ping(seed: u64, config: PingConfig) -> RunRecord {
    let world: World<Ping> = World::new(seed, NetworkFaults::default(), DiskFaults::default());
    let ids: Vec<NodeId> = (1..=config.nodes).collect();
    for &id in &ids {
        let peers: Vec<NodeId> = ids.iter().copied().filter(|p| *p != id).collect();
        let period = config.period_ms;
        world.add_node(id, move |ep| actor(ep, peers.clone(), period));
    }
    let mut rng = stream(seed, "faults", 0);
    let steps = config.duration_ms / 100;
    for step in 0..steps {
        madsim::time::sleep(Duration::from_millis(100)).await;
        // Faults stop in the last fifth so the run ends healed.
        let quiet = step >= steps * 4 / 5;
        if quiet {
            if step == steps * 4 / 5 {
                world.heal();
                world.set_network(NetworkFaults::default());
                for &id in &ids {
                    if !world.is_up(id) {
                        world.restart(id);
                    }
                }
            }
            continue;
        }
        if !config.faults {
            continue;
        }
        match rng.gen_range(0..10) {
            0 => {
                let mut shuffled = ids.clone();
                shuffled.shuffle(&mut rng);
                let cut = rng.gen_range(1..shuffled.len().max(2));
                let (a, b) = shuffled.split_at(cut.min(shuffled.len()));
                world.partition(vec![a.to_vec(), b.to_vec()]);
            }
            1 => {
                let from = *ids.choose(&mut rng).expect("nodes");
                let to = *ids.choose(&mut rng).expect("nodes");
                if from != to {
                    world.cut(from, to);
                }
            }
            2 => world.heal(),
            3 => {
                let id = *ids.choose(&mut rng).expect("nodes");
                if world.is_up(id) {
                    let modes = [None, Some(FaultMode::DropAll), Some(FaultMode::TornPrefix)];
                    world.crash(id, *modes.choose(&mut rng).expect("modes"));
                }
            }
            4 => {
                let id = *ids.choose(&mut rng).expect("nodes");
                if !world.is_up(id) {
                    world.restart(id);
                }
            }
            5 => world.set_network(NetworkFaults {
                loss_ppm: rng.gen_range(0..300_000),
                duplicate_ppm: rng.gen_range(0..300_000),
                latency_min_us: 1_000,
                latency_max_us: rng.gen_range(2_000..50_000),
            }),
            _ => {}
        }
    }
    world.shutdown()
}
