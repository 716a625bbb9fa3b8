//! The scenario model. The file is this model serialised: parsing is deserialising it and a
//! shrunk scenario is written by serialising it. The cluster, network, disk and workload
//! sections are the simulator's own configuration types, so their defaults live in one
//! place (their `Default` impls).

use crate::expectation::Expectation;
use crate::step::Step;
use serde::{Deserialize, Serialize};

pub use config::{ClusterConfig, Mix, NetworkFaults, Workload};
pub use disk::DiskFaults;

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (for `--scenario NAME` and reports).
    pub name: String,
    /// One line saying what it shows.
    pub description: String,
    /// Simulated run length, milliseconds (at most one hour).
    pub duration_ms: u64,
    /// The cluster.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Random network faults at the start.
    #[serde(default)]
    pub network: NetworkFaults,
    /// Disk latencies and faults.
    #[serde(default)]
    pub disk: DiskFaults,
    /// The background client workload (none unless given). Its `stop_ms` defaults to
    /// `duration_ms - 3000`, leaving the cluster time to settle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// Random fault schedule drawn from the seed (the `chaos` scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos: Option<ChaosSection>,
    /// Liveness bounds once faults stop.
    #[serde(default)]
    pub liveness: Liveness,
    /// The timeline.
    #[serde(default, rename = "step", skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// What must hold afterwards, beyond the checkers that judge every run.
    #[serde(default, rename = "expect", skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<Expectation>,
}

/// When a workload without `stop_ms` stops issuing: 3 s before the end, so the cluster
/// has time to settle.
pub fn default_stop_ms(duration_ms: u64) -> u64 {
    duration_ms.saturating_sub(3_000)
}

impl Scenario {
    /// The workload as the simulator runs it: `stop_ms` resolved against the duration.
    pub fn resolved_workload(&self) -> Option<Workload> {
        self.workload.clone().map(|mut w| {
            w.stop_ms = Some(
                w.stop_ms
                    .unwrap_or(default_stop_ms(self.duration_ms).max(w.start_ms)),
            );
            w
        })
    }
}

/// `[chaos]`: a random fault schedule drawn from the seed, with swarm testing (each seed
/// also draws which fault kinds are on and how strongly).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChaosSection {
    /// Faults stop at this time (milliseconds) so liveness can be judged after it.
    pub faults_until_ms: u64,
    /// Mean milliseconds between fault events (default 400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_gap_ms: Option<u64>,
    /// Draw the cluster size from {3, 5} instead of `[cluster] nodes`.
    #[serde(default)]
    pub random_cluster_size: bool,
    /// Percentage of seeds (0 to 100) that also draw membership changes: learners added
    /// and promoted, voters added (alone or joint), members removed or replaced, the
    /// leader among them (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_percent: Option<u32>,
    /// Percentage of seeds (0 to 100) whose workload also draws the Store's multi-key
    /// operations: ranges, delete-ranges, transactions and compactions (default 35).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_percent: Option<u32>,
}

/// `[liveness]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Liveness {
    /// A leader must exist this long after the last fault is healed (milliseconds).
    pub leader_within_ms: u64,
    /// Operations called after that must complete within this (milliseconds).
    pub op_within_ms: u64,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            leader_within_ms: 5_000,
            op_within_ms: 5_000,
        }
    }
}
