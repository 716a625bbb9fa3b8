//! The scenario file format (`scenarios/*.toml`): a cluster, its network and disks, a
//! client workload, a timeline of steps and the expectations checked after the run.
//!
//! A step fires at a simulated time (`at_ms`, or `after_ms` after the previous step) **or
//! when a condition holds** (`when`), so that a crash lands at the same protocol point
//! whatever a seed's timing. Parsing checks everything it can before a run: unknown keys,
//! bad values, steps that name nodes the cluster does not have, conditions or
//! expectations that name marks or bindings no step defines. Every error says the file
//! and line.
//!
//! See `CONTRIBUTING.md` for how to write a scenario, and `scenarios/` for examples.

mod bounds;
mod schema;
mod validate;

pub use bounds::{
    DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS, MAX_CLIENTS, MAX_DURATION_MS, MAX_KEYS,
    MAX_LATENCY_US,
};
pub use schema::*;
pub use validate::{parse, ScenarioError};
