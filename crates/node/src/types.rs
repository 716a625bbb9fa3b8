//! The member's public types: its configuration and planted bugs, what one call
//! produces, and why it stops.

use proto::kv::ClientResponse;
use proto::raft::Message;
use proto::trace::EventKind;
use proto::{Index, NodeId};
use wal::{WalError, WalOptions};

/// Planted bugs at the member level (the Raft core has its own, in [`raft::Canaries`]).
/// All off unless a test or `--canary` turns one on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCanaries {
    /// Send acknowledgements without waiting for the WAL fsync (the WAL is synced only
    /// on ticks): a power loss can lose entries a majority acknowledged.
    pub ack_before_fsync: bool,
    /// Persist the hard state without the vote: after a restart the member may vote twice
    /// in one term.
    pub vote_without_persist: bool,
    /// Apply a retried request again instead of returning its first result.
    pub apply_retries_twice: bool,
    /// A compare-and-swap on a modification revision compares the create revision.
    pub cas_compares_create_revision: bool,
    /// A new WAL segment's directory entry is not synced (see `WalOptions`).
    pub segment_without_dir_sync: bool,
    /// Snapshots leave out the client sessions.
    pub snapshot_drops_sessions: bool,
    /// WAL recovery takes a torn tail for corruption (see `WalOptions`).
    pub torn_tail_is_corruption: bool,
    /// Send the messages that must wait for the fsync (votes, append acknowledgements)
    /// before persisting (breaks the Ready contract).
    pub send_before_persist: bool,
    /// The store does not advance its revision on a delete (see `kv::StoreCanaries`).
    pub delete_keeps_revision: bool,
    /// The store's create-if-absent compare-and-swap ignores an existing key (see
    /// `kv::StoreCanaries`).
    pub create_ignores_existing: bool,
    /// WAL recovery takes any bad record in the last segment for a torn tail, even with
    /// valid records after it (see `WalOptions`).
    pub corruption_taken_for_torn_tail: bool,
    /// WAL recovery replays records whose checksum does not match (see `WalOptions`).
    pub wal_skips_checksum: bool,
}

impl NodeCanaries {
    /// The store's share of the planted bugs.
    pub(crate) fn store(&self) -> kv::StoreCanaries {
        kv::StoreCanaries {
            apply_retries_twice: self.apply_retries_twice,
            cas_compares_create_revision: self.cas_compares_create_revision,
            snapshot_drops_sessions: self.snapshot_drops_sessions,
            delete_keeps_revision: self.delete_keeps_revision,
            create_ignores_existing: self.create_ignores_existing,
        }
    }
}

/// How a member is set up.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The Raft core's configuration (id, voters, timeouts, seed, core canaries).
    pub raft: raft::Config,
    /// Take a snapshot every this many applied entries (0: never).
    pub snapshot_every: u64,
    /// Entries kept in memory before a snapshot, for followers that lag a little.
    pub snapshot_keep: u64,
    /// WAL settings.
    pub wal: WalOptions,
    /// Member-level planted bugs.
    pub canaries: NodeCanaries,
    /// This member has started before (it joined the cluster then): an empty disk now
    /// means its identity was lost, and it refuses to start.
    pub started_before: bool,
}

/// A message the member wants delivered.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// A Raft message to a peer (the destination is `message.to`).
    Raft(Message),
    /// Tells `to` it was removed from the cluster (a removed member that missed its
    /// removal keeps sending; as etcd's peers answer it, it is told to stop).
    Removed {
        /// The removed member.
        to: NodeId,
    },
    /// An answer to a client.
    Reply {
        /// The client's address.
        to: NodeId,
        /// The answer.
        response: ClientResponse,
    },
}

/// A failpoint stopped the member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    /// Crash the process now (unsynced writes survive in the OS).
    Crash,
    /// Lose power now (unsynced writes are lost).
    PowerLoss,
    /// Lose power in the middle of writing (unsynced writes torn).
    TornCrash,
    /// Freeze the process before anything in this output becomes visible.
    Pause,
    /// The member was removed from the cluster: it stops serving for good.
    Removed,
}

/// What one call to the member produced, in the order it happened.
#[derive(Debug, Default)]
pub struct Output {
    /// Messages to deliver. With [`Halt::Crash`] or [`Halt::PowerLoss`] these were all
    /// produced before the failpoint and must still be sent; with [`Halt::Pause`] they are
    /// sent once the member resumes.
    pub messages: Vec<Outgoing>,
    /// Events for the trace.
    pub events: Vec<EventKind>,
    /// Set when a failpoint halted the member.
    pub halt: Option<Halt>,
}

/// A storage error stops the member: it must not go on with state it cannot trust.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The WAL failed or is corrupt.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// The member has lost its identity: it already belonged to the cluster (this is not
    /// its first start) but its disk holds nothing, as after a wipe. It must not rejoin
    /// under its old id (it may have voted and acknowledged entries it no longer holds);
    /// it is replaced by a new member with a new id.
    #[error("member {id} starts with an empty disk after it had joined: it must not rejoin under its old identity (replace it with a new member)")]
    Identity {
        /// The member.
        id: NodeId,
    },
    /// A snapshot's state machine bytes do not decode.
    #[error("snapshot at index {index} does not decode: {reason}")]
    Snapshot {
        /// The snapshot's index.
        index: Index,
        /// Why.
        reason: String,
    },
}

impl NodeError {
    /// Whether the member found its stored data damaged or gone (a typed corruption or
    /// identity error), as opposed to failing to read or write it.
    pub fn is_corruption(&self) -> bool {
        match self {
            NodeError::Wal(e) => e.is_corruption(),
            NodeError::Snapshot { .. } => true,
            // Its data is gone (a wiped disk): refusing to start is the typed answer.
            NodeError::Identity { .. } => true,
        }
    }
}
