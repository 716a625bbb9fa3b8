//! What members publish about themselves (the board the cluster and the scenarios read)
//! and the list of members clients may address: shared state below the actors.

use node::Metrics;
use proto::trace::Role;
use proto::{Index, NodeId, Term};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What a member last published about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStatus {
    /// Role.
    pub role: Option<Role>,
    /// Term.
    pub term: Term,
    /// Known leader.
    pub leader: NodeId,
    /// Commit index.
    pub committed: Index,
    /// Applied index.
    pub applied: Index,
    /// Last log index.
    pub last_index: Index,
    /// Digest of the store (updated every tick).
    pub store_digest: u64,
    /// Store revision.
    pub revision: u64,
    /// Metrics.
    pub metrics: Metrics,
    /// Set when a storage error stopped the member.
    pub stopped: Option<String>,
    /// The applied index `store_digest` was computed at.
    pub digest_applied: Option<Index>,
    /// The member learned it was removed from the cluster and stopped.
    pub removed: bool,
}

pub(crate) type Board = Arc<Mutex<BTreeMap<NodeId, MemberStatus>>>;

/// The members clients may address, shared: membership changes add new members and
/// removed members leave it.
#[derive(Clone, Debug, Default)]
pub struct MemberList(std::sync::Arc<std::sync::Mutex<Vec<NodeId>>>);

impl MemberList {
    /// A list of `members`.
    pub fn new(members: Vec<NodeId>) -> MemberList {
        MemberList(std::sync::Arc::new(std::sync::Mutex::new(members)))
    }

    /// The members now.
    pub fn get(&self) -> Vec<NodeId> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Adds a member.
    pub fn add(&self, id: NodeId) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !list.contains(&id) {
            list.push(id);
        }
    }

    /// Removes a member (never the last one: clients need somewhere to go).
    pub fn remove(&self, id: NodeId) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if list.len() > 1 {
            list.retain(|m| *m != id);
        }
    }
}
