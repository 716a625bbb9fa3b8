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
use scenario::{
    Action, ChaosSection, DiskChange, FailAction, MessageFilter, MessageKind, NetworkChange,
    NodeRef, Step,
};
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

/// `s` skipped with a note when it cannot be carried out (no leader, member down).
fn optional(mut s: Step) -> Step {
    s.optional = true;
    s
}

fn id(n: u64) -> NodeRef {
    NodeRef::Id(n)
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
    let mut kinds = kinds;
    let damage = damage_units(seed, &ctx);
    if !damage.is_empty() {
        kinds.push("storage damage");
    }
    let membership = crate::chaos_membership::units(
        seed,
        chaos.membership_percent.unwrap_or(0),
        &crate::chaos_membership::Plan {
            nodes: ctx.nodes,
            until: ctx.until,
            damaged: !damage.is_empty(),
        },
    );
    if !membership.is_empty() {
        kinds.push("membership");
    }
    units.extend(damage);
    units.extend(membership);
    (units, finale(&ctx, &kinds, &knobs))
}

/// Damage to a stopped member's disk, drawn on its own stream (turning it on shifts no
/// other draw): a power loss followed by bit rot or a misdirected write on synced data, or
/// a crash whose unsynced writes land out of order; the member is brought back later and
/// must recover all it made durable or refuse to start with a typed corruption error. At
/// most a minority of the members is damaged, once each: a damaged member may rightly
/// never start again.
fn damage_units(seed: u64, ctx: &Ctx) -> Vec<Vec<Step>> {
    let mut rng = stream(seed, "chaos-damage", 0);
    let mut units: Vec<Vec<Step>> = Vec::new();
    if !rng.gen_bool(0.4) {
        return units;
    }
    let mut damaged: Vec<u64> = Vec::new();
    let mut t = rng.gen_range(300..2_000u64);
    while (damaged.len() as u64) < (ctx.nodes - 1) / 2 && t + 2 < ctx.until {
        let node = rng.gen_range(1..=ctx.nodes);
        let end = (t + rng.gen_range(200..2_000u64)).min(ctx.until).max(t + 2);
        let kind = rng.gen_range(0..3);
        if !damaged.contains(&node) {
            damaged.push(node);
            units.push(damage_unit(kind, t, end, node));
        }
        t += rng.gen_range(1_000..4_000u64);
    }
    units
}

fn damage_unit(kind: u32, t: u64, end: u64, node: u64) -> Vec<Step> {
    let back = Step::at(
        end,
        format!("chaos: {node} back after disk damage"),
        Action::Recover { node: id(node) },
    );
    if kind == 2 {
        let crash = Action::ReorderedCrash { node: id(node) };
        let label = format!("chaos: crash {node}, unsynced writes persisted out of order");
        return vec![optional(Step::at(t, label, crash)), optional(back)];
    }
    let (label, damage) = if kind == 0 {
        ("bit rot", Action::BitRot { node: id(node) })
    } else {
        (
            "misdirected write",
            Action::MisdirectedWrite { node: id(node) },
        )
    };
    vec![
        optional(Step::at(
            t,
            format!("chaos: power loss {node} before disk damage"),
            Action::PowerLoss { node: id(node) },
        )),
        optional(Step::at(t + 1, format!("chaos: {label} on {node}"), damage)),
        optional(back),
    ]
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
    let normal_disk = DiskChange {
        slow_sync_ppm: Some(0),
        ..DiskChange::default()
    };
    vec![
        Step::at(0, drawn, Action::Note { node: None }),
        Step::at(until, "chaos: faults stop, heal", Action::Heal {}),
        Step::at(until, "chaos: holds lifted", Action::ClearDrops {}),
        Step::at(until, "chaos: held messages delivered", Action::Release {}),
        Step::at(until, "chaos: failpoints disarmed", Action::Disarm {}),
        Step::at(until, "chaos: network restored", restore_network(ctx.base)),
        Step::at(
            until,
            "chaos: disks back to normal",
            Action::Disk(normal_disk),
        ),
        Step::at(
            until,
            "chaos: every member up",
            Action::Recover { node: NodeRef::All },
        ),
    ]
}

/// One fault of `kind` at time `t` and the steps that undo it.
fn fault_unit(kind: &str, t: u64, rng: &mut ChaCha8Rng, ctx: &mut Ctx) -> Vec<Step> {
    let lasts = rng.gen_range(100..3_000u64);
    let end = (t + lasts).min(ctx.until);
    let node = rng.gen_range(1..=ctx.nodes);
    let heal = |label: &str| Step::at(end, label, Action::Heal {});
    match kind {
        "partition" if rng.gen_bool(0.5) => {
            let groups = vec![vec![NodeRef::Leader], vec![NodeRef::Others]];
            let s = Step::at(t, "chaos: isolate the leader", Action::Partition { groups });
            vec![optional(s), heal("chaos: heal")]
        }
        "partition" => partition(t, end, rng, ctx.nodes),
        "transfer" => {
            let action = Action::Transfer {
                node: NodeRef::Leader,
                to: id(node),
            };
            vec![optional(Step::at(
                t,
                format!("chaos: transfer to {node}"),
                action,
            ))]
        }
        "one-way cut" => {
            let to = rng.gen_range(1..=ctx.nodes);
            if to == node {
                return Vec::new();
            }
            let action = Action::Cut {
                from: id(node),
                to: id(to),
            };
            let s = Step::at(t, format!("chaos: cut {node} -> {to}"), action);
            vec![s, heal("chaos: heal")]
        }
        "flapping" => flapping(t, end, rng, ctx.nodes),
        "loss" | "delay" | "duplication" => network(kind, t, end, rng, ctx.base),
        "slow fsync" => {
            let slow = DiskChange {
                slow_sync_ppm: Some(rng.gen_range(10_000..300_000)),
                slow_sync_us: Some(rng.gen_range(5_000..100_000)),
                ..DiskChange::default()
            };
            let normal = DiskChange {
                slow_sync_ppm: Some(0),
                ..DiskChange::default()
            };
            vec![
                Step::at(t, "chaos: slow fsync", Action::Disk(slow)),
                Step::at(end, "chaos: fsync back to normal", Action::Disk(normal)),
            ]
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
    let (a, b) = members.split_at(cut);
    let label = format!("chaos: partition {a:?} | {b:?}");
    let groups = vec![
        a.iter().map(|n| id(*n)).collect(),
        b.iter().map(|n| id(*n)).collect(),
    ];
    vec![
        Step::at(t, label, Action::Partition { groups }),
        Step::at(end, "chaos: heal", Action::Heal {}),
    ]
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
        let action = Action::Cut {
            from: id(from),
            to: id(to),
        };
        let label = format!("chaos: flap {from} -> {to}");
        out.push(Step::at(t + i * spacing, label, action));
    }
    if !out.is_empty() {
        out.push(Step::at(end, "chaos: flapping ends", Action::Heal {}));
    }
    out
}

fn network(kind: &str, t: u64, end: u64, rng: &mut ChaCha8Rng, base: &NetworkFaults) -> Vec<Step> {
    let mut change = NetworkChange::default();
    match kind {
        "loss" => change.loss_ppm = Some(rng.gen_range(10_000..300_000)),
        "duplication" => change.duplicate_ppm = Some(rng.gen_range(10_000..300_000)),
        _ => {
            // Usually a bounded delay; sometimes a long tail past an election.
            let drawn = if rng.gen_bool(0.7) {
                rng.gen_range(10_000..150_000)
            } else {
                rng.gen_range(300_000..1_500_000)
            };
            change.latency_max_us = Some(drawn.max(base.latency_max_us));
        }
    }
    vec![
        Step::at(t, format!("chaos: {kind}"), Action::Network(change)),
        Step::at(end, format!("chaos: {kind} ends"), restore_network(base)),
    ]
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
    let mut filter = MessageFilter {
        kind: Some(MessageKind(kind)),
        ..MessageFilter::default()
    };
    if outgoing {
        filter.from = Some(id(node));
    } else {
        filter.to = Some(id(node));
    }
    let label = format!("chaos: hold {} {dir} {node}", kind.name());
    vec![
        Step::at(t, label, Action::Hold(filter)),
        Step::at(end, "chaos: hold lifted", Action::ClearDrops {}),
        Step::at(
            end,
            "chaos: held messages delivered late",
            Action::Release {},
        ),
    ]
}

/// Arms a failpoint on a member: it crashes, loses power or pauses when it next reaches
/// that protocol point (if it does); undone by disarming and bringing it back.
fn failpoint(t: u64, end: u64, node: u64, rng: &mut ChaCha8Rng, ctx: &mut Ctx) -> Vec<Step> {
    if ctx.busy_until[node as usize] >= t {
        return Vec::new();
    }
    ctx.busy_until[node as usize] = end;
    use FailAction::{Crash, Pause, PowerLoss, TornCrash};
    // Nearly half of them lose power between a WAL write and its fsync, the one window where
    // unsynced bytes exist (mostly tearing them, so recovery cuts torn tails).
    let (point, action) = if rng.gen_bool(0.45) {
        let action = [PowerLoss, TornCrash, TornCrash, TornCrash][rng.gen_range(0..4)];
        (Failpoint::BeforeSync, action)
    } else if rng.gen_bool(0.3) {
        // A crash right after a vote went out: the window in which a member that forgot
        // its vote could vote again in the same term.
        (Failpoint::AfterVote, Crash)
    } else {
        let point = Failpoint::ALL[rng.gen_range(0..Failpoint::ALL.len())];
        (
            point,
            [Crash, PowerLoss, TornCrash, Pause][rng.gen_range(0..4)],
        )
    };
    let label = format!("chaos: {} {node} at {}", action.name(), point.name());
    let arm = Action::Failpoint {
        node: Some(id(node)),
        failpoint: point.name().into(),
        fail_action: action,
        count: Some(1),
    };
    vec![
        Step::at(t, label, arm),
        Step::at(end, "chaos: failpoints disarmed", Action::Disarm {}),
        Step::at(
            end,
            format!("chaos: {node} back"),
            Action::Recover { node: id(node) },
        ),
    ]
}

/// A process fault aimed at the leader of the moment (remembered, to bring it back).
fn leader_fault(kind: &str, t: u64, end: u64) -> Vec<Step> {
    let name = format!("chaos-{t}");
    let mut s = optional(Step::at(
        t,
        format!("chaos: {kind} the leader"),
        process_action(kind, NodeRef::Leader),
    ));
    s.save = Some(name.clone());
    let back = Action::Recover {
        node: NodeRef::Saved(name),
    };
    vec![
        s,
        optional(Step::at(end, "chaos: the old leader back", back)),
    ]
}

fn process_action(kind: &str, node: NodeRef) -> Action {
    match kind {
        "crash" => Action::Crash { node },
        "power loss" => Action::PowerLoss { node },
        "torn write" => Action::TornCrash { node },
        _ => Action::Pause { node },
    }
}

fn process_fault(kind: &str, t: u64, end: u64, node: u64, ctx: &mut Ctx) -> Vec<Step> {
    if ctx.busy_until[node as usize] >= t {
        return Vec::new();
    }
    ctx.busy_until[node as usize] = end;
    let fault = process_action(kind, id(node));
    let undo = match fault {
        Action::Pause { .. } => Action::Resume { node: id(node) },
        _ => Action::Restart { node: id(node) },
    };
    // Optional: a fault aimed at the leader may have taken this member first.
    vec![
        optional(Step::at(t, format!("chaos: {kind} {node}"), fault)),
        optional(Step::at(
            end,
            format!("chaos: {} {node}", undo.name()),
            undo,
        )),
    ]
}

/// A step's action that puts the network back to `base`.
fn restore_network(base: &NetworkFaults) -> Action {
    Action::Network(NetworkChange {
        loss_ppm: Some(base.loss_ppm),
        duplicate_ppm: Some(base.duplicate_ppm),
        latency_min_us: Some(base.latency_min_us),
        latency_max_us: Some(base.latency_max_us),
    })
}
