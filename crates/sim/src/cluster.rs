//! A cluster of real members (Raft + WAL + KV) in the simulated world, with the clients
//! that load it and the history they record.

use crate::actor::member_actor;
use crate::board::{Board, MemberList, MemberStatus};
use crate::client::{client_actor, scripted_actor, History, ScriptedRequest, Workload};
use crate::net::NetworkFaults;
use crate::rng::stream;
use crate::wire::Wire;
use crate::world::{RunRecord, World};
use disk::DiskFaults;
use node::{raft, Failpoints, NodeCanaries, NodeConfig, WalOptions};
use proto::history::HistoryOp;
use proto::trace::{EventKind, Role};
use proto::NodeId;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the cluster is built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Number of members (ids 1..=nodes).
    pub nodes: u64,
    /// Milliseconds per Raft tick.
    pub tick_ms: u64,
    /// Election timeout T in ticks (randomized in [T, 2T)).
    pub election_ticks: u64,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u64,
    /// PreVote on.
    pub pre_vote: bool,
    /// CheckQuorum on.
    pub check_quorum: bool,
    /// Snapshot every this many applied entries (0: never).
    pub snapshot_every: u64,
    /// Entries kept behind a snapshot for lagging followers.
    pub snapshot_keep: u64,
    /// WAL segment size in bytes.
    pub wal_segment_bytes: u64,
    /// Upper bound of entry bytes in one append message (1: one entry per message).
    pub max_append_bytes: u64,
    /// Clock-rate skew: each member's tick runs up to this many parts per million fast
    /// or slow (drawn per member from the seed), so timeouts drift apart (0: none).
    pub tick_skew_ppm: u32,
}

impl ClusterConfig {
    /// The most members a cluster may have.
    pub const MAX_NODES: u64 = 9;

    /// Member `id`'s configuration (its Raft core's, its storage's) with `canaries` planted.
    pub fn member_config(&self, id: NodeId, canaries: Canaries) -> NodeConfig {
        let voters: Vec<NodeId> = (1..=self.nodes).collect();
        let mut raft_cfg = raft::Config::new(id, voters, 0);
        raft_cfg.election_ticks = self.election_ticks;
        raft_cfg.heartbeat_ticks = self.heartbeat_ticks;
        raft_cfg.pre_vote = self.pre_vote;
        raft_cfg.check_quorum = self.check_quorum;
        raft_cfg.canaries = canaries.raft;
        raft_cfg.max_size_per_msg = self.max_append_bytes as usize;
        NodeConfig {
            raft: raft_cfg,
            snapshot_every: self.snapshot_every,
            snapshot_keep: self.snapshot_keep,
            wal: WalOptions {
                segment_bytes: self.wal_segment_bytes,
                skip_dir_sync_of_new_segment: canaries.node.segment_without_dir_sync,
                torn_tail_is_corruption: canaries.node.torn_tail_is_corruption,
                corruption_taken_for_torn_tail: canaries.node.corruption_taken_for_torn_tail,
                skip_checksum: canaries.node.wal_skips_checksum,
            },
            canaries: canaries.node,
            started_before: false,
        }
    }

    /// Checks the settings before a run, with the members' own validation (the Raft
    /// core's) and the simulator's bounds. On error: the key at fault and what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let d = ClusterConfig::default();
        let rule = |ok: bool, key: &'static str, why: &dyn Fn() -> String| {
            if ok {
                Ok(())
            } else {
                Err((key, why()))
            }
        };
        rule(
            (1..=Self::MAX_NODES).contains(&self.nodes),
            "nodes",
            &|| {
                format!(
                    "nodes = {}: a cluster has 1 to {} nodes",
                    self.nodes,
                    Self::MAX_NODES
                )
            },
        )?;
        rule((1..=10_000).contains(&self.tick_ms), "tick_ms", &|| {
            "tick_ms must be 1 to 10000".into()
        })?;
        rule(self.election_ticks <= 10_000, "election_ticks", &|| {
            "election_ticks must be at most 10000".into()
        })?;
        rule(
            self.wal_segment_bytes >= 1_024,
            "wal_segment_bytes",
            &|| "wal_segment_bytes must be at least 1024".into(),
        )?;
        rule(self.max_append_bytes >= 1, "max_append_bytes", &|| {
            "max_append_bytes must be at least 1 (1: one entry per message)".into()
        })?;
        rule(self.tick_skew_ppm <= 500_000, "tick_skew_ppm", &|| {
            "tick_skew_ppm must be at most 500000 (a tick at most 50% fast or slow)".into()
        })?;
        // The Raft core's own validation decides; its message is told in the file's terms.
        let note = |v: u64, dv: u64| if v == dv { ", the default" } else { "" };
        self.member_config(1, Canaries::default())
            .raft
            .validate()
            .map_err(|why| {
                let (h, e) = (self.heartbeat_ticks, self.election_ticks);
                if why.contains("heartbeat_ticks") {
                    let (hn, en) = (note(h, d.heartbeat_ticks), note(e, d.election_ticks));
                    let told =
                        format!("need 0 < heartbeat_ticks ({h}{hn}) < election_ticks ({e}{en})");
                    ("election_ticks", told)
                } else {
                    ("nodes", why)
                }
            })
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: 3,
            tick_ms: 10,
            election_ticks: 10,
            heartbeat_ticks: 1,
            pre_vote: true,
            check_quorum: true,
            snapshot_every: 500,
            snapshot_keep: 50,
            wal_segment_bytes: 256 * 1024,
            max_append_bytes: 64 * 1024,
            tick_skew_ppm: 0,
        }
    }
}

/// Planted bugs for the whole cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Canaries {
    /// In the Raft core.
    pub raft: raft::Canaries,
    /// In the member.
    pub node: NodeCanaries,
}



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
    /// Boots `config.nodes` members in the run `seed`'s world.
    pub fn start(
        seed: u64,
        config: ClusterConfig,
        network: NetworkFaults,
        disk: DiskFaults,
        canaries: Canaries,
    ) -> Cluster {
        let world: World<Wire> = World::new(seed, network, disk);
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
