//! The `chaos` scenario's fault schedule, drawn from the seed, with swarm testing: each
//! seed first draws its cluster knobs (storage, Raft options, clock skew) and which fault
//! kinds are on, then a timeline of faults, each undone within the fault window, which
//! ends with everything healed.
//!
//! Fault kinds reach the rare windows that uniform noise misses: holds keep one kind of
//! message back for one to three election timeouts and then deliver it late; failpoints
//! crash, cut power to or pause a member at a protocol point (so mostly the leader, for
//! the points only a leader reaches); flapping cuts links one by one; delays sometimes
//! have a long tail.

use node::Failpoint;
use proto::raft::MessageType;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use scenario::{ChaosSection, NodeRef, Step};
use sim::rng::stream;
use sim::{ClusterConfig, NetworkFaults};

/// The fault kinds swarm testing turns on and off.
pub const FAULT_KINDS: [&str; 14] = [
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
    "hold",
    "failpoint",
    "flapping",
    "transfer",
];

fn step(at_ms: u64, action: &str, label: String) -> Step {
    Step {
        at_ms: Some(at_ms),
        action: action.to_string(),
        label: Some(label),
        ..Step::default()
    }
}

/// `s` aimed at `node`.
fn on(mut s: Step, node: u64) -> Step {
    s.node = Some(NodeRef::Id(node));
    s
}

/// `s` aimed at whoever leads when it fires; skipped if nobody does.
fn at_leader(mut s: Step) -> Step {
    s.node = Some(NodeRef::Name("leader".into()));
    s.optional = Some(true);
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

/// Draws the fault schedule for `seed`; may also change the cluster (the swarm's knobs
/// and size).
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

/// What a fault unit needs to know of the run.
struct Ctx<'a> {
    nodes: u64,
    until: u64,
    /// One election timeout, milliseconds.
    election_ms: u64,
    base: &'a NetworkFaults,
    /// Per node: busy (crashed or paused) until this time.
    busy_until: Vec<u64>,
}

/// The schedule as units (a fault and the steps that undo it) and the finale that heals
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
    let knobs = draw_knobs(seed, config);
    let kinds: Vec<&str> = FAULT_KINDS
        .iter()
        .copied()
        .filter(|_| rng.gen_bool(0.5))
        .collect();
    let mut ctx = Ctx {
        nodes: config.nodes,
        until: chaos.faults_until_ms,
        election_ms: config.election_ticks * config.tick_ms,
        base,
        busy_until: vec![0u64; config.nodes as usize + 1],
    };
    let gap = chaos.mean_gap_ms.unwrap_or(400).max(1);
    let mut units: Vec<Vec<Step>> = Vec::new();
    let mut t = rng.gen_range(200..1_000);
    while t < ctx.until && !kinds.is_empty() {
        let kind = kinds[rng.gen_range(0..kinds.len())];
        let unit = fault_unit(kind, t, &mut rng, &mut ctx);
        if !unit.is_empty() {
            units.push(unit);
        }
        t += rng.gen_range(1..=2 * gap);
    }
    (units, finale(&ctx, &kinds, &knobs))
}

/// The steps at the start (what the swarm drew, as a note) and at the end of the fault
/// window (heal everything so liveness can be judged).
fn finale(ctx: &Ctx, kinds: &[&str], knobs: &[String]) -> Vec<Step> {
    let until = ctx.until;
    let drawn = format!(
        "chaos swarm: faults [{}]; knobs [{}]",
        kinds.join(", "),
        knobs.join(", ")
    );
    let mut finale = vec![
        step(0, "note", drawn),
        step(until, "heal", "chaos: faults stop, heal".into()),
        step(until, "clear-drops", "chaos: holds lifted".into()),
        step(until, "release", "chaos: held messages delivered".into()),
        step(until, "disarm", "chaos: failpoints disarmed".into()),
    ];
    finale.push(restore_network(
        step(until, "network", "chaos: network restored".into()),
        ctx.base,
    ));
    let mut disk = step(until, "disk", "chaos: disks back to normal".into());
    disk.slow_sync_ppm = Some(0);
    finale.push(disk);
    let mut recover = step(until, "recover", "chaos: every member up".into());
    recover.node = Some(NodeRef::Name("all".into()));
    finale.push(recover);
    finale
}

/// One fault of `kind` at time `t` and the steps that undo it.
fn fault_unit(kind: &str, t: u64, rng: &mut ChaCha8Rng, ctx: &mut Ctx) -> Vec<Step> {
    let lasts = rng.gen_range(100..3_000u64);
    let end = (t + lasts).min(ctx.until);
    let node = rng.gen_range(1..=ctx.nodes);
    match kind {
        "partition" if rng.gen_bool(0.5) => {
            let mut s = step(t, "partition", "chaos: isolate the leader".into());
            s.groups = Some(vec![
                vec![NodeRef::Name("leader".into())],
                vec![NodeRef::Name("others".into())],
            ]);
            s.optional = Some(true);
            vec![s, step(end, "heal", "chaos: heal".into())]
        }
        "partition" => partition(t, end, rng, ctx.nodes),
        "transfer" => {
            let mut s = at_leader(step(t, "transfer", format!("chaos: transfer to {node}")));
            s.to = Some(NodeRef::Id(node));
            vec![s]
        }
        "one-way cut" => {
            let to = rng.gen_range(1..=ctx.nodes);
            if to == node {
                return Vec::new();
            }
            let mut s = step(t, "cut", format!("chaos: cut {node} -> {to}"));
            s.from = Some(NodeRef::Id(node));
            s.to = Some(NodeRef::Id(to));
            vec![s, step(end, "heal", "chaos: heal".into())]
        }
        "flapping" => flapping(t, end, rng, ctx.nodes),
        "loss" | "delay" | "duplication" => network(kind, t, end, rng, ctx.base),
        "slow fsync" => {
            let mut s = step(t, "disk", "chaos: slow fsync".into());
            s.slow_sync_ppm = Some(rng.gen_range(10_000..300_000));
            s.slow_sync_us = Some(rng.gen_range(5_000..100_000));
            let mut restore = step(end, "disk", "chaos: fsync back to normal".into());
            restore.slow_sync_ppm = Some(0);
            vec![s, restore]
        }
        "hold" => hold(t, rng, ctx),
        "failpoint" => failpoint(t, end, node, rng, ctx),
        _ if rng.gen_bool(0.3) => leader_fault(kind, t, end),
        _ => process_fault(kind, t, end, node, ctx),
    }
}

fn partition(t: u64, end: u64, rng: &mut ChaCha8Rng, nodes: u64) -> Vec<Step> {
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
    vec![s, step(end, "heal", "chaos: heal".into())]
}

/// Links cut one by one (FoundationDB's swizzle), all healed at the end.
fn flapping(t: u64, end: u64, rng: &mut ChaCha8Rng, nodes: u64) -> Vec<Step> {
    let mut out = Vec::new();
    let cuts = rng.gen_range(2..=6);
    let spacing = ((end - t) / (cuts + 1)).max(1);
    for i in 0..cuts {
        let from = rng.gen_range(1..=nodes);
        let to = rng.gen_range(1..=nodes);
        if from == to {
            continue;
        }
        let mut s = step(
            t + i * spacing,
            "cut",
            format!("chaos: flap {from} -> {to}"),
        );
        s.from = Some(NodeRef::Id(from));
        s.to = Some(NodeRef::Id(to));
        out.push(s);
    }
    if !out.is_empty() {
        out.push(step(end, "heal", "chaos: flapping ends".into()));
    }
    out
}

fn network(kind: &str, t: u64, end: u64, rng: &mut ChaCha8Rng, base: &NetworkFaults) -> Vec<Step> {
    let mut s = step(t, "network", format!("chaos: {kind}"));
    match kind {
        "loss" => s.loss_ppm = Some(rng.gen_range(10_000..300_000)),
        "duplication" => s.duplicate_ppm = Some(rng.gen_range(10_000..300_000)),
        _ => {
            // Usually a bounded delay; sometimes a long tail past an election.
            let drawn = if rng.gen_bool(0.7) {
                rng.gen_range(10_000..150_000)
            } else {
                rng.gen_range(300_000..1_500_000)
            };
            s.latency_max_us = Some(drawn.max(base.latency_max_us));
        }
    }
    let back = restore_network(step(end, "network", format!("chaos: {kind} ends")), base);
    vec![s, back]
}

/// Holds one kind of message from or to a member for one to three election timeouts,
/// then lifts the hold and delivers what it kept.
fn hold(t: u64, rng: &mut ChaCha8Rng, ctx: &Ctx) -> Vec<Step> {
    // Any Raft message kind but the leader's TimeoutNow (a transfer, not traffic).
    let kinds: Vec<MessageType> = MessageType::ALL
        .into_iter()
        .filter(|k| *k != MessageType::TimeoutNow)
        .collect();
    let kind = kinds[rng.gen_range(0..kinds.len())];
    let node = rng.gen_range(1..=ctx.nodes);
    let end = (t + ctx.election_ms * rng.gen_range(1..=3)).min(ctx.until);
    let outgoing = rng.gen_bool(0.5);
    let dir = if outgoing { "from" } else { "to" };
    let mut s = step(
        t,
        "hold",
        format!("chaos: hold {} {dir} {node}", kind.name()),
    );
    s.kind = Some(kind.name().into());
    if outgoing {
        s.from = Some(NodeRef::Id(node));
    } else {
        s.to = Some(NodeRef::Id(node));
    }
    vec![
        s,
        step(end, "clear-drops", "chaos: hold lifted".into()),
        step(end, "release", "chaos: held messages delivered late".into()),
    ]
}

/// Arms a failpoint on a member: it crashes, loses power or pauses when it next reaches
/// that protocol point (if it does); undone by disarming and bringing it back.
fn failpoint(t: u64, end: u64, node: u64, rng: &mut ChaCha8Rng, ctx: &mut Ctx) -> Vec<Step> {
    if ctx.busy_until[node as usize] >= t {
        return Vec::new();
    }
    ctx.busy_until[node as usize] = end;
    // Nearly half of them lose power between a WAL write and its fsync, the one window where
    // unsynced bytes exist (mostly tearing them, so recovery cuts torn tails).
    let (point, action) = if rng.gen_bool(0.45) {
        let action = ["power-loss", "torn-crash", "torn-crash", "torn-crash"][rng.gen_range(0..4)];
        (Failpoint::BeforeSync, action)
    } else if rng.gen_bool(0.3) {
        // A crash right after a vote went out: the window in which a member that forgot
        // its vote could vote again in the same term.
        (Failpoint::AfterVote, "crash")
    } else {
        let point = Failpoint::ALL[rng.gen_range(0..Failpoint::ALL.len())];
        (
            point,
            ["crash", "power-loss", "torn-crash", "pause"][rng.gen_range(0..4)],
        )
    };
    let mut s = on(
        step(
            t,
            "failpoint",
            format!("chaos: {action} {node} at {}", point.name()),
        ),
        node,
    );
    s.failpoint = Some(point.name().into());
    s.fail_action = Some(action.into());
    s.count = Some(1);
    vec![
        s,
        step(end, "disarm", "chaos: failpoints disarmed".into()),
        on(step(end, "recover", format!("chaos: {node} back")), node),
    ]
}

/// A process fault aimed at the leader of the moment (remembered, to bring it back).
fn leader_fault(kind: &str, t: u64, end: u64) -> Vec<Step> {
    let action = process_action(kind);
    let name = format!("chaos-{t}");
    let mut s = at_leader(step(t, action, format!("chaos: {kind} the leader")));
    s.save = Some(name.clone());
    let mut back = step(end, "recover", "chaos: the old leader back".into());
    back.node = Some(NodeRef::Name(format!("${name}")));
    back.optional = Some(true);
    vec![s, back]
}

fn process_action(kind: &str) -> &'static str {
    match kind {
        "crash" => "crash",
        "power loss" => "power-loss",
        "torn write" => "torn-crash",
        _ => "pause",
    }
}

fn process_fault(kind: &str, t: u64, end: u64, node: u64, ctx: &mut Ctx) -> Vec<Step> {
    if ctx.busy_until[node as usize] >= t {
        return Vec::new();
    }
    ctx.busy_until[node as usize] = end;
    let action = process_action(kind);
    let undo = if action == "pause" {
        "resume"
    } else {
        "restart"
    };
    // Optional: a fault aimed at the leader may have taken this member first.
    let mut fault = on(step(t, action, format!("chaos: {kind} {node}")), node);
    fault.optional = Some(true);
    let mut back = on(step(end, undo, format!("chaos: {undo} {node}")), node);
    back.optional = Some(true);
    vec![fault, back]
}

/// `s` set to put the network back to `base`.
fn restore_network(mut s: Step, base: &NetworkFaults) -> Step {
    s.loss_ppm = Some(base.loss_ppm);
    s.duplicate_ppm = Some(base.duplicate_ppm);
    s.latency_min_us = Some(base.latency_min_us);
    s.latency_max_us = Some(base.latency_max_us);
    s
}
