//! Leases in the store (etcd's lessor, as the store sees it): granting one changes no
//! revision; revoking one deletes every key attached to it in one revision (none if no
//! key is attached); a put must name a lease that exists. When a lease expires is the
//! member's business (the leader decides and proposes the revoke through the log).

use super::{Change, Kv, Mvcc};

/// Why a lease operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// The lease does not exist (never granted, or revoked).
    #[error("etcdserver: requested lease not found ({0})")]
    NotFound(u64),
    /// A lease with this id already exists.
    #[error("etcdserver: lease already exists ({0})")]
    Exists(u64),
}

impl Mvcc {
    /// Grants lease `id` (0: the next free id) for `ttl` seconds; returns its id. The
    /// revision does not change.
    pub fn grant(&mut self, id: u64, ttl: u64) -> Result<u64, LeaseError> {
        let id = match id {
            0 => self.leases.keys().next_back().map_or(1, |last| last + 1),
            id if self.leases.contains_key(&id) => return Err(LeaseError::Exists(id)),
            id => id,
        };
        self.leases.insert(id, ttl);
        Ok(id)
    }

    /// The granted leases and their TTLs, in id order.
    pub fn leases(&self) -> Vec<(u64, u64)> {
        self.leases.iter().map(|(id, ttl)| (*id, *ttl)).collect()
    }

    /// The keys attached to lease `id` now, in order.
    pub fn lease_keys(&self, id: u64) -> Vec<String> {
        self.keys
            .iter()
            .filter(|(_, changes)| {
                changes
                    .back()
                    .and_then(|c| c.rec.as_ref())
                    .is_some_and(|r| r.lease == id)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Revokes lease `id`: its keys are deleted in one new revision (none if it has no
    /// key). Returns what was deleted.
    pub fn revoke(&mut self, id: u64) -> Result<Vec<Kv>, LeaseError> {
        if self.leases.remove(&id).is_none() {
            return Err(LeaseError::NotFound(id));
        }
        let keys = self.lease_keys(id);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let next = self.revision + 1;
        let mut deleted = Vec::new();
        for k in keys {
            let change = Change {
                revision: next,
                rec: None,
            };
            deleted.extend(self.push_change(&k, change));
        }
        self.revision = next;
        Ok(deleted)
    }
}
