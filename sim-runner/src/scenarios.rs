//! The scenarios the runner knows and how one seed of each is run.

use sim::ping::{run_ping, PingConfig};

/// A scenario the runner can run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line saying what it shows.
    pub description: &'static str,
}

/// Every built-in scenario.
pub const BUILT_IN: &[Scenario] = &[Scenario {
    name: "ping",
    description: "harness self-test: 3 test actors ping each other under random partitions, \
                  cuts, loss, duplication and crashes (no Raft; tests the simulator only)",
}];

/// Finds a scenario by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    BUILT_IN.iter().find(|s| s.name == name)
}

/// What one seed of a scenario produced.
#[derive(Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The trace hash.
    pub trace_hash: u64,
    /// The trace.
    pub events: Vec<proto::trace::Event>,
    /// Simulated seconds the run covered.
    pub simulated_secs: f64,
    /// Network counters.
    pub network: sim::NetworkStats,
    /// Each check's name, whether it held, and a detail line.
    pub checks: Vec<(String, bool, String)>,
}

impl Outcome {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|(_, ok, _)| *ok)
    }
}

/// Runs one seed of `scenario`.
pub fn run_seed(scenario: &Scenario, seed: u64) -> Outcome {
    match scenario.name {
        "ping" => {
            let record = sim::run(seed, || run_ping(seed, PingConfig::default()));
            let delivered = record.network.delivered;
            Outcome {
                seed,
                trace_hash: record.trace_hash,
                simulated_secs: record.end_ns as f64 / 1e9,
                checks: vec![(
                    "messages flow".to_string(),
                    delivered > 0,
                    format!("{delivered} messages delivered"),
                )],
                network: record.network,
                events: record.events,
            }
        }
        other => unreachable!("scenario {other} is listed but has no runner"),
    }
}
