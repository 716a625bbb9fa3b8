//! Swarm testing's draws for a seed, each on its own stream: the cluster's knobs and the
//! workload's operation mix.

use config::ClusterConfig;
use rand::Rng;
use sim::rng::stream;

/// The share of seeds, in percent, whose mix draws multi-key operations by default.
pub const STORE_PERCENT: u32 = 35;

/// The workload mix the swarm draws for `seed` (its own stream, so the fault schedule
/// does not depend on it); `store_percent` of the seeds also draw the Store's multi-key
/// operations.
pub fn draw_mix(seed: u64, store_percent: u32) -> sim::Mix {
    let mut rng = stream(seed, "chaos-workload", 0);
    let mut mix = sim::Mix {
        put: rng.gen_range(10..70),
        get: rng.gen_range(10..60),
        delete: rng.gen_range(0..15),
        cas: rng.gen_range(0..30),
        // Drawn last, so the draws above are what they were before it existed.
        cas_revision: rng.gen_range(0..20),
        ..sim::Mix::default()
    };
    // The Store's multi-key operations (drawn after the rest, so the draws above stay
    // what they were).
    if rng.gen_range(0..100) < store_percent {
        mix.range = rng.gen_range(0..25);
        mix.delete_range = rng.gen_range(0..6);
        mix.txn = rng.gen_range(5..30);
        mix.compact = rng.gen_range(0..3);
    }
    mix
}

/// Draws the seed's cluster knobs (its own stream): each is left as the scenario set it
/// or drawn anew, so storage paths (snapshots every few entries, tiny segments, one entry
/// per append), Raft options and clock skew vary from seed to seed. Returns what was
/// drawn, for the run's story.
pub fn draw_knobs(seed: u64, config: &mut ClusterConfig) -> Vec<String> {
    let mut rng = stream(seed, "chaos-knobs", 0);
    let mut drawn = Vec::new();
    if rng.gen_bool(0.5) {
        config.snapshot_every = rng.gen_range(4..=60);
        config.snapshot_keep = rng.gen_range(0..=5);
        drawn.push(format!(
            "snapshot every {} entries, keep {}",
            config.snapshot_every, config.snapshot_keep
        ));
    }
    if rng.gen_bool(0.5) {
        config.wal_segment_bytes = rng.gen_range(4_096..=65_536);
        drawn.push(format!(
            "WAL segments of {} bytes",
            config.wal_segment_bytes
        ));
    }
    if rng.gen_bool(0.5) {
        config.max_append_bytes = if rng.gen_bool(0.5) {
            1
        } else {
            rng.gen_range(200..=4_096)
        };
        drawn.push(format!(
            "appends of at most {} bytes",
            config.max_append_bytes
        ));
    }
    if rng.gen_bool(0.4) {
        config.check_quorum = false;
        drawn.push("CheckQuorum off".into());
    }
    if rng.gen_bool(0.25) {
        config.pre_vote = false;
        drawn.push("PreVote off".into());
    }
    if rng.gen_bool(0.5) {
        config.tick_skew_ppm = rng.gen_range(10_000..=200_000);
        drawn.push(format!("clock skew up to {} ppm", config.tick_skew_ppm));
    }
    drawn
}
