//! The client workload: how many clients, over how many keys, with which operation mix
//! and timeouts.

use serde::{Deserialize, Serialize};

/// Relative weights of the operation kinds. In a scenario file a kind left out of `mix`
/// weighs 0; a workload without `mix` takes [`Mix::default`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Weight of puts.
    #[serde(default)]
    pub put: u32,
    /// Weight of gets.
    #[serde(default)]
    pub get: u32,
    /// Weight of deletes.
    #[serde(default)]
    pub delete: u32,
    /// Weight of compare-and-swaps (on the value last read or written by this client;
    /// absent, that is create-if-absent, when it has seen none).
    #[serde(default)]
    pub cas: u32,
    /// Weight of compare-and-swaps on the modification revision this client last saw for
    /// the key (0, that is create-if-absent, when it has seen none).
    #[serde(default)]
    pub cas_revision: u32,
    /// Weight of range reads (etcd's Range over a few keys; some with a limit, some at a
    /// past revision, which compaction may have dropped).
    #[serde(default)]
    pub range: u32,
    /// Weight of delete-ranges (etcd's DeleteRange over a few keys).
    #[serde(default)]
    pub delete_range: u32,
    /// Weight of transactions: compares on what this client last saw of one or two keys,
    /// then puts to up to three keys and a read, or a read of the compared keys.
    #[serde(default)]
    pub txn: u32,
    /// Weight of compactions (to a revision a little below the highest this client saw).
    #[serde(default)]
    pub compact: u32,
}

impl Mix {
    /// The weights in the order the clients draw them.
    pub fn weights(&self) -> [u32; 9] {
        [
            self.put,
            self.get,
            self.delete,
            self.cas,
            self.cas_revision,
            self.range,
            self.delete_range,
            self.txn,
            self.compact,
        ]
    }
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            put: 50,
            get: 30,
            delete: 5,
            cas: 15,
            cas_revision: 0,
            range: 0,
            delete_range: 0,
            txn: 0,
            compact: 0,
        }
    }
}

/// The client workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Workload {
    /// Number of concurrent clients.
    pub clients: u64,
    /// Number of keys (`k0`, `k1`, …).
    pub keys: u64,
    /// Operation mix.
    pub mix: Mix,
    /// Time a client waits for one attempt's answer, milliseconds.
    pub request_timeout_ms: u64,
    /// Time after which a client gives up on an operation, milliseconds.
    pub op_timeout_ms: u64,
    /// Pause between operations, milliseconds (drawn in [0, think_ms]).
    pub think_ms: u64,
    /// Clients start issuing at this simulated time, milliseconds.
    pub start_ms: u64,
    /// Clients issue no new operation after this simulated time, milliseconds (none: they
    /// go on until the run ends; a scenario's default is its duration less 3 s).
    pub stop_ms: Option<u64>,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            clients: 4,
            keys: 8,
            mix: Mix::default(),
            request_timeout_ms: 300,
            op_timeout_ms: 3_000,
            think_ms: 20,
            start_ms: 500,
            stop_ms: None,
        }
    }
}
