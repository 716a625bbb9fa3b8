//! A cluster of real members (Raft + WAL + KV) in the simulated world, with the clients
//! that load it and the history they record.

use crate::actor::member_actor;
use crate::board::{Board, MemberList, MemberStatus};
use crate::client::{client_actor, scripted_actor, History, ScriptedRequest};
use crate::rng::stream;
use crate::wire::Wire;
use crate::world::{RunRecord, World};
use config::{Canaries, ClusterConfig, NetworkFaults, Workload};
use disk::DiskFaults;
use node::Failpoints;
use proto::history::HistoryOp;
use proto::trace::{EventKind, Role};
use proto::NodeId;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running cluster.
pub struct Cluster {
    /// The simulated world.
    pub world: World<Wire>,
    /// The cluster's settings.
    pub config: ClusterConfig,
    /// The failpoint registry every member checks.
    pub failpoints: Failpoints,
    /// The client history.
    pub history: History,
    board: Board,
    /// Set near the end of a run: members then publish their metrics every tick, so the
    /// final figures are at most a tick old.
    metrics_every_tick: Arc<AtomicBool>,
    clients: Vec<NodeId>,
    scripted_count: u64,
    canaries: Canaries,
    /// Every member ever started (founding and added), in id order.
    started: Vec<NodeId>,
    /// The members clients address.
    addressable: MemberList,
}

/// Everything a cluster run leaves.
#[derive(Debug)]
pub struct ClusterRun {
    /// The world's record (trace, hash, network counters).
    pub record: RunRecord,
    /// The client history, in call order.
    pub history: Vec<HistoryOp>,
    /// Each member's last status.
    pub members: BTreeMap<NodeId, MemberStatus>,
}

/// Client addresses start here, far above member ids.
pub const FIRST_CLIENT: NodeId = 1001;
/// Scripted clients (a scenario's marked requests) start here.
pub const FIRST_SCRIPTED_CLIENT: NodeId = 2001;
/// The address operator commands come from.
pub const OPERATOR: NodeId = 999;

impl Cluster {
    /// Boots `config.nodes` members in the run `seed`'s world; `observer`, if given, reads
    /// every event from the first (see [`crate::trace::Observer`]).
    pub fn start(
        seed: u64,
        config: ClusterConfig,
        network: NetworkFaults,
        disk: DiskFaults,
        canaries: Canaries,
        observer: Option<Box<dyn crate::trace::Observer>>,
    ) -> Cluster {
        let world: World<Wire> = World::new(seed, network, disk);
        if let Some(observer) = observer {
            world.observe(observer);
        }
        let voters: Vec<NodeId> = (1..=config.nodes).collect();
        world.record(EventKind::ClusterFormed {
            voters: voters.clone(),
        });
        let mut cluster = Cluster {
            world,
            config,
            failpoints: Failpoints::new(),
            history: History::default(),
            board: Arc::default(),
            metrics_every_tick: Arc::new(AtomicBool::new(false)),
            clients: Vec::new(),
            scripted_count: 0,
            canaries,
            started: Vec::new(),
            addressable: MemberList::new(voters.clone()),
        };
        for id in voters {
            cluster.spawn_member(id);
        }
        cluster
    }

    /// Starts member `id` with an empty disk: a founding member, or one that joins once
    /// a membership change adds it (it knows only the founding voters until then).
    fn spawn_member(&mut self, id: NodeId) {
        let node_cfg = self.config.member_config(id, self.canaries);
        let failpoints = self.failpoints.clone();
        let board = self.board.clone();
        let every_tick = self.metrics_every_tick.clone();
        let tick = skewed_tick(&self.config, self.world.seed(), id);
        let addressable = self.addressable.clone();
        let boots = Arc::new(Mutex::new(0u64));
        self.world.add_node(id, move |ep| {
            let mut cfg = node_cfg.clone();
            // A fresh jitter stream per incarnation, derived from the seed.
            let mut boot = boots.lock().unwrap_or_else(|p| p.into_inner());
            *boot += 1;
            cfg.raft.seed = stream(ep.seed(), "election-jitter", id * 1_000_000 + *boot).gen();
            cfg.started_before = *boot > 1;
            let out = (board.clone(), every_tick.clone(), addressable.clone());
            member_actor(ep, cfg, failpoints.clone(), out, tick)
        });
        self.started.push(id);
    }

    /// Starts a new member with id `id` and an empty disk, to be added by a membership
    /// change. Returns false if the id was used before (ids are never reused: a member
    /// that lost its disk is replaced under a new id).
    pub fn add_member(&mut self, id: NodeId) -> bool {
        if id == 0 || self.started.contains(&id) || id >= OPERATOR {
            return false;
        }
        self.spawn_member(id);
        self.addressable.add(id);
        true
    }

    /// The next id never used by a member.
    pub fn next_member_id(&self) -> NodeId {
        self.started.iter().max().copied().unwrap_or(0) + 1
    }

    /// Starts the workload's clients.
    pub fn start_clients(&mut self, workload: &Workload) {
        let members = self.addressable.clone();
        for c in 0..workload.clients {
            let id = FIRST_CLIENT + c;
            let workload = workload.clone();
            let members = members.clone();
            let history = self.history.clone();
            self.world.add_node(id, move |ep| {
                client_actor(ep, workload.clone(), members.clone(), history.clone())
            });
            self.clients.push(id);
        }
    }

    /// Sends one scripted request from a new client and returns the client's id (its
    /// request is that client's sequence number 1).
    pub fn scripted(&mut self, request: ScriptedRequest) -> NodeId {
        let id = FIRST_SCRIPTED_CLIENT + self.scripted_count;
        self.scripted_count += 1;
        let members = self.addressable.clone();
        let history = self.history.clone();
        self.world.add_node(id, move |ep| {
            scripted_actor(ep, request.clone(), members.clone(), history.clone())
        });
        id
    }

    /// Every member ever started (founding and added), in id order.
    pub fn members(&self) -> Vec<NodeId> {
        let mut all = self.started.clone();
        all.sort_unstable();
        all
    }

    /// The members still in the cluster as far as anyone knows (removed ones excluded).
    pub fn current_members(&self) -> Vec<NodeId> {
        let mut now = self.addressable.get();
        now.sort_unstable();
        now
    }

    /// A member's last published status.
    pub fn status(&self, id: NodeId) -> MemberStatus {
        self.board
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// The live member that believes it leads, in the highest term.
    pub fn leader(&self) -> Option<NodeId> {
        let board = self.board.lock().unwrap_or_else(|p| p.into_inner());
        board
            .iter()
            .filter(|(id, s)| s.role == Some(Role::Leader) && self.world.is_up(**id))
            .max_by_key(|(_, s)| s.term)
            .map(|(id, _)| *id)
    }

    /// From now on members publish their metrics every tick rather than every 50 ticks
    /// (each time a copy): call it a few ticks before reading the final metrics.
    pub fn publish_metrics_every_tick(&self) {
        self.metrics_every_tick.store(true, Ordering::Relaxed);
    }

    /// Stops everything and collects the run.
    pub fn shutdown(self) -> ClusterRun {
        let record = self.world.shutdown();
        let members = self.board.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ClusterRun {
            record,
            history: self.history.take(),
            members,
        }
    }
}

/// Member `id`'s tick: `tick_ms`, made up to `tick_skew_ppm` faster or slower by a skew
/// drawn from the seed (the same for every incarnation: it is the machine's clock).
pub(crate) fn skewed_tick(config: &ClusterConfig, seed: u64, id: NodeId) -> Duration {
    let base_ns = config.tick_ms * 1_000_000;
    let max = i64::from(config.tick_skew_ppm);
    if max == 0 {
        return Duration::from_nanos(base_ns);
    }
    let skew = stream(seed, "clock-skew", id).gen_range(-max..=max);
    let ns = (i128::from(base_ns) * i128::from(1_000_000 + skew) / 1_000_000).max(1);
    Duration::from_nanos(ns as u64)
}
