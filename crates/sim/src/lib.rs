//! The simulated world on madsim.
//!
//! One seed drives everything: madsim's scheduler and timers, and our own named random
//! streams ([`rng::stream`]) for the network, the disks, the workload and the faults.
//! A run builds a [`World`], adds nodes whose processes are async actors, injects faults
//! (partitions, one-way cuts, loss, duplication, latency, crashes with or without
//! unsynced-write loss, pauses) and shuts the world down, leaving a [`RunRecord`] with
//! the trace and its hash.
//!
//! [`run`] runs one seed on a fresh madsim runtime; [`run_many`] runs many seeds, one
//! runtime per seed, on several threads, each seed's result independent of the thread.

// madsim's simulated runtime exists only under `--cfg madsim`; without it nothing here
// compiles, so say why once, with the fix, instead of a page of unresolved imports.
#[cfg(all(not(madsim), not(doc), not(doctest)))]
compile_error!(
    "the simulator needs `--cfg madsim`: build from the repository root (its .cargo/config.toml sets it) or with RUSTFLAGS=\"--cfg madsim\" (an environment RUSTFLAGS replaces the config's)"
);

mod actor;
pub mod alarm;
mod board;
pub mod client;
mod clock;
pub mod cluster;
mod endpoint;
#[cfg(feature = "bench")]
pub mod floor;
mod inflight;
mod mailbox;
mod multi_ops;
pub mod net;
#[cfg(feature = "bench")]
pub mod ping;
pub mod rng;
pub mod trace;
mod wire;
pub mod world;
mod world_faults;
mod world_post;
pub use world_post::plant_slowdown;

pub use alarm::Alarm;
pub use board::{MemberList, MemberStatus};
pub use client::{History, RetryPolicy, ScriptedRequest};
pub use cluster::{Cluster, ClusterRun};
pub use config::{Canaries, ClusterConfig, Mix, NetworkFaults, Workload};
pub use endpoint::Endpoint;
pub use net::{Filter, NetworkStats};
pub use wire::{Control, Wire};
pub use world::{Payload, RunRecord, World};

use std::future::Future;

/// Runs `body` on a fresh madsim runtime seeded with `seed` and returns its output.
/// Everything the run allocated inside madsim is freed when this returns.
pub fn run<F, Fut, T>(seed: u64, body: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.block_on(async move {
        let _kept = clock::Kept::new();
        body().await
    })
}

/// Runs `job(seed)` for every seed, on `jobs` threads (one madsim runtime per seed), and
/// returns the outputs in seed order. A seed's output does not depend on which thread ran
/// it or on the other seeds.
pub fn run_many<T, J>(seeds: &[u64], jobs: usize, job: J) -> Vec<T>
where
    T: Send,
    J: Fn(u64) -> T + Sync,
{
    let jobs = jobs.clamp(1, seeds.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<T>>> =
        seeds.iter().map(|_| std::sync::Mutex::new(None)).collect();
    // Worker threads live outside the simulation: each runs whole seeds, one runtime at a
    // time, so nothing simulated is shared between threads.
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= seeds.len() {
                    break;
                }
                let out = job(seeds[i]);
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every seed ran")
        })
        .collect()
}
