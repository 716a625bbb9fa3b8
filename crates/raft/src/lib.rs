//! A Raft consensus core with no I/O, in the style of etcd's raft library.
//!
//! The core never touches a disk, a network, a clock or global randomness. The
//! application drives it through [`RawNode`]: it calls [`RawNode::tick`] at a fixed
//! interval, [`RawNode::step`] for every message from a peer, [`RawNode::propose`] and
//! [`RawNode::read_index`] for clients, and then runs the **Ready loop**:
//!
//! ```
//! use raft::{Config, RawNode};
//! use proto::raft::HardState;
//!
//! // A single-member cluster, so the example elects itself and commits alone.
//! let mut node = RawNode::new(Config::new(1, vec![1], 42), HardState::default(), None, vec![]);
//! node.campaign();
//! let mut applied = Vec::new();
//! for round in 0..4 {
//!     if round == 1 {
//!         node.propose(b"x=1".to_vec()).expect("the leader accepts proposals");
//!     }
//!     if !node.has_ready() {
//!         continue;
//!     }
//!     let rd = node.ready();
//!     // 1. persist rd.snapshot, rd.entries and rd.hard_state, then fsync
//!     // 2. send rd.messages and rd.persisted_messages (the latter only after the fsync)
//!     // 3. apply rd.committed_entries; answer rd.read_states once applied up to them
//!     applied.extend(rd.committed_entries.iter().map(|e| e.data.clone()));
//!     // 4. tell the core
//!     node.advance();
//! }
//! assert_eq!(applied, vec![vec![], b"x=1".to_vec()]); // the leader's no-op, then ours
//! ```
//!
//! What is implemented: elections with randomized timeouts in [T, 2T) drawn from a seeded
//! stream, PreVote, CheckQuorum, log replication with fast backtracking and bounded
//! in-flight appends, the commit rule of §5.4.2 (a leader counts replicas only for entries
//! of its own term), ReadIndex, snapshots and compaction, leadership transfer, and
//! membership changes: learners, single changes and joint consensus in the style of
//! etcd's `ConfChangeV2`, applied when their entry is applied (see `confchange`).

#[cfg(feature = "bench")]
pub mod bench;
pub mod confchange;
mod config;
mod election;
mod log;
mod membership;
mod progress;
mod propose;
mod quorum;
mod raft;
mod rawnode;
mod read;
mod replication;

pub use config::{Canaries, Config, ConfigError};
pub use log::RaftLog;
pub use raft::{ProposeError, ReadIndexError, ReadState, Truncation};
pub use rawnode::{RawNode, Ready, SoftState, Status};
