//! The member: a Raft + WAL + KV node as etcd runs one, written without any runtime.
//!
//! A [`Node`] is driven by its host (the simulator, or a real server): the host calls
//! [`Node::tick`] at a fixed interval, [`Node::step`] for every Raft message and
//! [`Node::request`] for every client request, and delivers what each call puts in the
//! [`Output`]. Inside each call the member runs the Ready loop of the design:
//!
//! 1. write the hard state and entries (and any snapshot) to the WAL and **fsync**;
//! 2. send the messages;
//! 3. apply committed entries to the store and answer the clients waiting on them;
//! 4. advance the Raft core.
//!
//! Reads go through ReadIndex; followers redirect clients to the leader; a snapshot is
//! taken every N applied entries and the WAL released behind it. Failpoints
//! ([`Failpoints`]) can crash, freeze or drop at named points of the write path.

mod failpoint;
mod member;
mod metrics;
mod types;

pub use failpoint::{FailAction, Failpoint, Failpoints};
pub use member::{entry_id, Halt, Node, NodeCanaries, NodeConfig, NodeError, Outgoing, Output};
pub use metrics::{Histogram, Metrics};
/// The Raft core the member runs (re-exported so that hosts configure it without a
/// dependency of their own).
pub use raft;
pub use wal::WalOptions;
