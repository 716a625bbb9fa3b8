//! The network's random faults: loss, duplication and latency.

use serde::{Deserialize, Serialize};

/// Random network faults. Probabilities are in parts per million.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkFaults {
    /// Probability that a message is lost.
    pub loss_ppm: u32,
    /// Probability that a message is delivered twice (the copies travel independently, so
    /// they may also arrive out of order).
    pub duplicate_ppm: u32,
    /// Lower bound of one-way latency, microseconds.
    pub latency_min_us: u64,
    /// Upper bound (exclusive) of one-way latency, microseconds. A range wider than the
    /// message spacing reorders messages.
    pub latency_max_us: u64,
}

impl Default for NetworkFaults {
    fn default() -> Self {
        NetworkFaults {
            loss_ppm: 0,
            duplicate_ppm: 0,
            latency_min_us: 1_000,
            latency_max_us: 5_000,
        }
    }
}
