//! The scenario schema. Every section's fields are optional: what a file leaves out takes
//! the simulator's default.

use serde::Deserialize;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (for `--scenario NAME` and reports).
    pub name: String,
    /// One line saying what it shows.
    pub description: String,
    /// Simulated run length, milliseconds.
    pub duration_ms: u64,
    /// The cluster.
    #[serde(default)]
    pub cluster: ClusterSection,
    /// Random network faults at the start.
    #[serde(default)]
    pub network: NetworkSection,
    /// Disk latencies and faults.
    #[serde(default)]
    pub disk: DiskSection,
    /// The background client workload (none unless given).
    pub workload: Option<WorkloadSection>,
    /// Random fault schedule drawn from the seed (the `chaos` scenario).
    pub chaos: Option<ChaosSection>,
    /// Liveness bounds once faults stop.
    #[serde(default)]
    pub liveness: LivenessSection,
    /// The timeline.
    #[serde(default, rename = "step")]
    pub steps: Vec<toml::Spanned<Step>>,
    /// What must hold afterwards, beyond the checkers that judge every run.
    #[serde(default, rename = "expect")]
    pub expectations: Vec<toml::Spanned<Expectation>>,
}

/// `[cluster]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// Number of members (1–9).
    pub nodes: Option<u64>,
    /// Milliseconds per Raft tick.
    pub tick_ms: Option<u64>,
    /// Election timeout in ticks.
    pub election_ticks: Option<u64>,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: Option<u64>,
    /// PreVote on.
    pub pre_vote: Option<bool>,
    /// CheckQuorum on.
    pub check_quorum: Option<bool>,
    /// Snapshot every this many applied entries (0: never).
    pub snapshot_every: Option<u64>,
    /// Entries kept behind a snapshot.
    pub snapshot_keep: Option<u64>,
    /// WAL segment size.
    pub wal_segment_bytes: Option<u64>,
    /// Upper bound of entry bytes per append message (1: one entry per message).
    pub max_append_bytes: Option<u64>,
    /// Clock-rate skew bound in parts per million (each member's tick drawn within it).
    pub tick_skew_ppm: Option<u32>,
}

/// `[network]`: probabilities in parts per million, latencies in microseconds.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Message loss probability.
    pub loss_ppm: Option<u32>,
    /// Message duplication probability.
    pub duplicate_ppm: Option<u32>,
    /// Latency lower bound.
    pub latency_min_us: Option<u64>,
    /// Latency upper bound (exclusive).
    pub latency_max_us: Option<u64>,
}

/// `[disk]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskSection {
    /// Cost of a write, microseconds.
    pub write_latency_us: Option<u64>,
    /// Cost of a sync, microseconds.
    pub sync_latency_us: Option<u64>,
    /// Probability of a slow sync, parts per million.
    pub slow_sync_ppm: Option<u32>,
    /// Extra cost of a slow sync, microseconds.
    pub slow_sync_us: Option<u64>,
}

/// `[workload]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    /// Concurrent clients.
    pub clients: Option<u64>,
    /// Keys.
    pub keys: Option<u64>,
    /// Weights of the operations.
    pub mix: Option<MixSection>,
    /// Per-attempt timeout, milliseconds.
    pub request_timeout_ms: Option<u64>,
    /// Give-up time per operation, milliseconds.
    pub op_timeout_ms: Option<u64>,
    /// Pause between operations, milliseconds.
    pub think_ms: Option<u64>,
    /// Start time, milliseconds.
    pub start_ms: Option<u64>,
    /// No new operation after this time, milliseconds.
    pub stop_ms: Option<u64>,
}

/// `mix = { put = .., get = .., delete = .., cas = .., cas_revision = .. }`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixSection {
    /// Weight of puts.
    #[serde(default)]
    pub put: u32,
    /// Weight of gets.
    #[serde(default)]
    pub get: u32,
    /// Weight of deletes.
    #[serde(default)]
    pub delete: u32,
    /// Weight of compare-and-swaps on the modification revision the client last saw.
    #[serde(default)]
    pub cas_revision: u32,
    /// Weight of compare-and-swaps.
    #[serde(default)]
    pub cas: u32,
}

/// `[chaos]`: a random fault schedule drawn from the seed, with swarm testing (each seed
/// also draws which fault kinds are on and how strongly).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosSection {
    /// Faults stop at this time (milliseconds) so liveness can be judged after it.
    pub faults_until_ms: u64,
    /// Mean milliseconds between fault events.
    pub mean_gap_ms: Option<u64>,
    /// Draw the cluster size from {3, 5} instead of `[cluster] nodes`.
    #[serde(default)]
    pub random_cluster_size: bool,
}

/// `[liveness]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSection {
    /// A leader must exist this long after the last fault is healed (milliseconds).
    pub leader_within_ms: Option<u64>,
    /// Operations called after that must complete within this (milliseconds).
    pub op_within_ms: Option<u64>,
}

/// A reference to members: a number, `"leader"`, `"followers"`, `"follower:N"` (the
/// N-th follower of the current leader, by id, from 1), `"others"` (in a partition: every
/// member not named elsewhere), or `"$name"` (a binding saved by an earlier step).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum NodeRef {
    /// A member id.
    Id(u64),
    /// A role or a binding.
    Name(String),
}

/// One step of the timeline.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Shown in the story.
    pub label: Option<String>,
    /// Fire at this simulated time (milliseconds).
    pub at_ms: Option<u64>,
    /// Fire this long after the previous step fired (milliseconds).
    pub after_ms: Option<u64>,
    /// Fire when this holds (checked every simulated millisecond after `at_ms`/`after_ms`).
    pub when: Option<Condition>,
    /// Give up waiting for `when` after this long (milliseconds); the run then fails.
    pub timeout_ms: Option<u64>,
    /// When the action cannot be carried out (there is no leader, the member is down),
    /// skip it with a note instead of failing the run (chaos aims faults at the leader
    /// this way).
    pub optional: Option<bool>,
    /// What to do: crash, power-loss (unsynced writes lost), torn-crash (unsynced writes
    /// torn), recover (restart if down, resume if paused), restart, pause, resume,
    /// partition, cut, heal, drop, hold (like drop, but the messages wait), release (send
    /// the held messages), clear-drops, failpoint, disarm, network, disk (latency
    /// and slow syncs of every member's disk), write, read, campaign, transfer, note.
    pub action: String,
    /// The member acted on.
    pub node: Option<NodeRef>,
    /// Save the resolved `node` (or, if none, the current leader) under this name.
    pub save: Option<String>,
    /// partition: the groups.
    pub groups: Option<Vec<Vec<NodeRef>>>,
    /// cut, drop: sending side.
    pub from: Option<NodeRef>,
    /// cut, drop, transfer: receiving side.
    pub to: Option<NodeRef>,
    /// drop: message kind (append, append-resp, vote, …).
    pub kind: Option<String>,
    /// drop: how many messages (default: all until clear-drops).
    pub count: Option<u64>,
    /// drop: only appends that carry entries of the sender's current term.
    pub current_term_entries: Option<bool>,
    /// drop: let this many matching messages through first.
    pub pass_first: Option<u64>,
    /// failpoint: its name.
    pub failpoint: Option<String>,
    /// failpoint: crash, power-loss, pause or drop.
    pub fail_action: Option<String>,
    /// network: loss.
    pub loss_ppm: Option<u32>,
    /// network: duplication.
    pub duplicate_ppm: Option<u32>,
    /// network: latency lower bound.
    pub latency_min_us: Option<u64>,
    /// network: latency upper bound.
    pub latency_max_us: Option<u64>,
    /// disk: probability of a slow sync, parts per million.
    pub slow_sync_ppm: Option<u32>,
    /// disk: extra cost of a slow sync, microseconds.
    pub slow_sync_us: Option<u64>,
    /// disk: cost of a sync, microseconds.
    pub sync_latency_us: Option<u64>,
    /// write, read: the key.
    pub key: Option<String>,
    /// write: the value (defaults to the mark).
    pub value: Option<String>,
    /// write, read: name the request so conditions and expectations can refer to it.
    pub mark: Option<String>,
    /// write, read: retry at other members after a timeout or redirect (default true).
    pub retry: Option<bool>,
    /// write, read: per-attempt timeout, milliseconds.
    pub request_timeout_ms: Option<u64>,
}

/// A condition for a step.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A leader exists.
    pub leader: Option<bool>,
    /// ... and it is not this member.
    pub leader_not: Option<NodeRef>,
    /// The marked request's entry ...
    pub entry: Option<String>,
    /// ... has reached this state: persisted, committed or applied ...
    pub state: Option<String>,
    /// ... on these members: a reference, "all" or "majority" (default: the leader).
    pub on: Option<NodeRef>,
    /// This member is a follower in a term higher than when the step began waiting.
    pub stepped_down: Option<NodeRef>,
}

/// An expectation checked after the run.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// What must hold (see `CONTRIBUTING.md` for the list): acknowledged,
    /// not-acknowledged, applied-once, never-applied, never-committed-before, truncated,
    /// first-leader-after, stepped-down, logs-converged, read-not-served.
    pub kind: String,
    /// The marked request concerned.
    pub mark: Option<String>,
    /// The member concerned.
    pub node: Option<NodeRef>,
    /// The step (by label) after which it is judged.
    pub step: Option<String>,
    /// Shown in the report.
    pub label: Option<String>,
}
