//! The testbed's configuration types, free of any runtime: the cluster, the network's
//! random faults and the client workload. The scenario model (the file format) and the
//! simulator both use them, so the format compiles and can be checked without madsim.

mod cluster;
mod network;
mod timing;
mod workload;

pub use cluster::{Canaries, ClusterConfig};
pub use network::NetworkFaults;
pub use timing::{liveness_unjudgeable, WELL_BELOW};
pub use workload::{Mix, Workload};
