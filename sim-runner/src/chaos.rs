//! The `chaos` scenario's fault schedule, drawn from the seed, with swarm testing: each
//! seed first draws which fault kinds are on and how strongly, then a timeline of faults,
//! each undone within the fault window, which ends with everything healed.

use rand::Rng;
use scenario::{ChaosSection, NodeRef, Step};
use sim::rng::stream;
use sim::{ClusterConfig, NetworkFaults};

/// The fault kinds swarm testing turns on and off.
pub const FAULT_KINDS: [&str; 10] = [
    "slow fsync",
    "partition",
    "one-way cut",
    "loss",
    "delay",
    "duplication",
    "crash",
    "power loss",
    "torn write",
    "pause",
];

fn step(at_ms: u64, action: &str, label: String) -> Step {
    Step {
        at_ms: Some(at_ms),
        action: action.to_string(),
        label: Some(label),
        ..Step::default()
    }
}

/// `s` set to put the network back to `base`.
fn restore_network(mut s: Step, base: &NetworkFaults) -> Step {
    s.loss_ppm = Some(base.loss_ppm);
    s.duplicate_ppm = Some(base.duplicate_ppm);
    s.latency_min_us = Some(base.latency_min_us);
    s.latency_max_us = Some(base.latency_max_us);
    s
}

/// The workload mix the swarm draws for `seed` (its own stream, so the fault schedule
/// does not depend on it).
pub fn draw_mix(seed: u64) -> sim::Mix {
    let mut rng = stream(seed, "chaos-workload", 0);
    sim::Mix {
        put: rng.gen_range(10..70),
        get: rng.gen_range(10..60),
        delete: rng.gen_range(0..15),
        cas: rng.gen_range(0..30),
        // Drawn last, so the draws above are what they were before it existed.
        cas_revision: rng.gen_range(0..20),
    }
}

/// Draws the fault schedule for `seed`; may also change the cluster size (part of the
/// swarm draw).
pub fn plan(
    seed: u64,
    chaos: &ChaosSection,
    config: &mut ClusterConfig,
    base: &NetworkFaults,
) -> Vec<Step> {
    let (units, finale) = plan_units(seed, chaos, config, base);
    flatten(&units, &finale)
}

/// The schedule's steps in time order.
pub fn flatten(units: &[Vec<Step>], finale: &[Step]) -> Vec<Step> {
    let mut out: Vec<Step> = units.iter().flatten().cloned().collect();
    out.extend(finale.iter().cloned());
    // Stable sort keeps each fault before its undo when they share a time.
    out.sort_by_key(|s| s.at_ms);
    out
}

/// The schedule as units (a fault and the step that undoes it) and the finale that heals
/// everything when the faults stop; shrinking removes and shortens units. Network faults
/// are undone by restoring `base`, the scenario's own `[network]` settings.
pub fn plan_units(
    seed: u64,
    chaos: &ChaosSection,
    config: &mut ClusterConfig,
    base: &NetworkFaults,
) -> (Vec<Vec<Step>>, Vec<Step>) {
    let mut rng = stream(seed, "chaos", 0);
    if chaos.random_cluster_size {
        config.nodes = if rng.gen_bool(0.5) { 3 } else { 5 };
    }
    let on: Vec<&str> = FAULT_KINDS
        .iter()
        .copied()
        .filter(|_| rng.gen_bool(0.5))
        .collect();
    let nodes = config.nodes;
    let until = chaos.faults_until_ms;
    let gap = chaos.mean_gap_ms.unwrap_or(400).max(1);
    let mut units: Vec<Vec<Step>> = Vec::new();
    // Per node: busy (crashed or paused) until this time.
    let mut busy_until = vec![0u64; nodes as usize + 1];
    let mut t = rng.gen_range(200..1_000);
    while t < until && !on.is_empty() {
        let kind = on[rng.gen_range(0..on.len())];
        let lasts = rng.gen_range(100..3_000u64);
        let end = (t + lasts).min(until);
        let node = rng.gen_range(1..=nodes);
        let mut out: Vec<Step> = Vec::new();
        match kind {
            "partition" => {
                let mut members: Vec<u64> = (1..=nodes).collect();
                for i in (1..members.len()).rev() {
                    members.swap(i, rng.gen_range(0..=i));
                }
                let cut = rng.gen_range(1..members.len());
                let mut s = step(
                    t,
                    "partition",
                    format!(
                        "chaos: partition {:?} | {:?}",
                        &members[..cut],
                        &members[cut..]
                    ),
                );
                s.groups = Some(vec![
                    members[..cut].iter().map(|n| NodeRef::Id(*n)).collect(),
                    members[cut..].iter().map(|n| NodeRef::Id(*n)).collect(),
                ]);
                out.push(s);
                out.push(step(end, "heal", "chaos: heal".into()));
            }
            "one-way cut" => {
                let to = rng.gen_range(1..=nodes);
                if to != node {
                    let mut s = step(t, "cut", format!("chaos: cut {node} -> {to}"));
                    s.from = Some(NodeRef::Id(node));
                    s.to = Some(NodeRef::Id(to));
                    out.push(s);
                    out.push(step(end, "heal", "chaos: heal".into()));
                }
            }
            "loss" | "delay" | "duplication" => {
                let mut s = step(t, "network", format!("chaos: {kind}"));
                match kind {
                    "loss" => s.loss_ppm = Some(rng.gen_range(10_000..300_000)),
                    "duplication" => s.duplicate_ppm = Some(rng.gen_range(10_000..300_000)),
                    _ => {
                        let drawn = rng.gen_range(10_000..150_000);
                        s.latency_max_us = Some(drawn.max(base.latency_max_us));
                    }
                }
                out.push(s);
                out.push(restore_network(
                    step(end, "network", format!("chaos: {kind} ends")),
                    base,
                ));
            }
            "slow fsync" => {
                let mut s = step(t, "disk", "chaos: slow fsync".into());
                s.slow_sync_ppm = Some(rng.gen_range(10_000..300_000));
                s.slow_sync_us = Some(rng.gen_range(5_000..100_000));
                out.push(s);
                let mut restore = step(end, "disk", "chaos: fsync back to normal".into());
                restore.slow_sync_ppm = Some(0);
                out.push(restore);
            }
            "crash" | "power loss" | "torn write" | "pause" => {
                if busy_until[node as usize] < t {
                    busy_until[node as usize] = end;
                    let (action, undo) = match kind {
                        "crash" => ("crash", "restart"),
                        "power loss" => ("power-loss", "restart"),
                        "torn write" => ("torn-crash", "restart"),
                        _ => ("pause", "resume"),
                    };
                    let mut s = step(t, action, format!("chaos: {kind} {node}"));
                    s.node = Some(NodeRef::Id(node));
                    out.push(s);
                    let mut u = step(end, undo, format!("chaos: {undo} {node}"));
                    u.node = Some(NodeRef::Id(node));
                    out.push(u);
                }
            }
            _ => unreachable!("every fault kind is handled"),
        }
        if !out.is_empty() {
            units.push(out);
        }
        t += rng.gen_range(1..=2 * gap);
    }
    // Faults stop: heal everything so liveness can be judged.
    let mut finale = vec![step(until, "heal", "chaos: faults stop, heal".into())];
    finale.push(restore_network(
        step(until, "network", "chaos: network restored".into()),
        base,
    ));
    let mut disk = step(until, "disk", "chaos: disks back to normal".into());
    disk.slow_sync_ppm = Some(0);
    finale.push(disk);
    let mut recover = step(until, "recover", "chaos: every member up".into());
    recover.node = Some(NodeRef::Name("all".into()));
    finale.push(recover);
    (units, finale)
}
