//! How the cluster is built: its size, the members' Raft and storage settings, and the
//! bugs planted in them (canaries). Each member's own configuration is derived here.

use node::{raft, NodeCanaries, NodeConfig, WalOptions};
use proto::NodeId;
use serde::{Deserialize, Serialize};

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
        // The Raft core's own validation decides; its refusal is told in the file's terms.
        let note = |v: u64, dv: u64| if v == dv { ", the default" } else { "" };
        self.member_config(1, Canaries::default())
            .raft
            .validate()
            .map_err(|why| match why {
                raft::ConfigError::Timing {
                    heartbeat_ticks: h,
                    election_ticks: e,
                } => {
                    let (hn, en) = (note(h, d.heartbeat_ticks), note(e, d.election_ticks));
                    let told =
                        format!("need 0 < heartbeat_ticks ({h}{hn}) < election_ticks ({e}{en})");
                    ("election_ticks", told)
                }
                other => ("nodes", other.to_string()),
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
