//! The scenario file format (`scenarios/*.toml`): a cluster, its network and disks, a
//! client workload, a timeline of steps and the expectations checked after the run.
//!
//! The format is a typed model ([`Scenario`], [`Step`] with its [`Action`],
//! [`Expectation`] with its [`Expect`], [`NodeRef`]): a file is that model deserialised, so
//! an unknown key, action or value is refused by the parser, and a scenario is written
//! back by serialising it. A step fires at a simulated time (`at_ms`, or `after_ms` after
//! the previous step) **or when a condition holds** (`when`), so that a crash lands at
//! the same protocol point whatever a seed's timing. Validation then checks what spans
//! keys and steps: bounds, member references, marks, labels and times. Every error says
//! the file and line.
//!
//! See `CONTRIBUTING.md` for how to write a scenario, and `scenarios/` for examples.

mod bounds;
mod expectation;
mod noderef;
mod schema;
mod step;
mod validate;

pub use bounds::{MAX_CLIENTS, MAX_DURATION_MS, MAX_KEYS, MAX_LATENCY_US};
pub use expectation::{Expect, Expectation};
pub use noderef::{NodeRef, RefText};
pub use schema::*;
pub use step::{
    Action, Condition, DiskChange, EntryState, FailAction, MessageFilter, MessageKind,
    NetworkChange, Request, Step,
};
pub use validate::{parse, ScenarioError};
