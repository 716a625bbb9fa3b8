//! Shared types of the testbed.
//!
//! Every other crate speaks these types: the Raft core ([`raft`] module types),
//! the KV commands clients send ([`kv`]), the events a run's trace records
//! ([`trace`]) and the client history the checkers judge ([`history`]).
//! The crate is synchronous and deterministic; it has no dependency but `serde`.

pub mod codec;
pub mod conf;
pub mod history;
pub mod kv;
pub mod raft;
pub mod step;
pub mod store;
pub mod trace;

/// Identifies a cluster member. Members are numbered from 1; 0 means "none".
pub type NodeId = u64;
/// A Raft term. Terms only grow.
pub type Term = u64;
/// A position in the replicated log. The first entry has index 1; 0 means "before the log".
pub type Index = u64;
/// The "no node" value (no vote cast, no known leader).
pub const NO_NODE: NodeId = 0;
