//! The fault kinds swarm testing turns on and off, and the unit each draws: a fault and
//! the steps that undo it.

use super::{id, optional, restore_network, Ctx};
use config::NetworkFaults;
use node::Failpoint;
use proto::raft::MessageType;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use scenario::{
    Action, DiskChange, FailAction, MessageFilter, MessageKind, NetworkChange, NodeRef, Step,
};

/// A fault kind swarm testing turns on or off for a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// Some fsyncs take far longer.
    SlowFsync,
    /// The members split in two groups (or the leader cut off from the rest).
    Partition,
    /// One direction of one link cut.
    OneWayCut,
    /// Messages lost at random.
    Loss,
    /// Latency raised, sometimes past an election timeout.
    Delay,
    /// Messages delivered twice.
    Duplication,
    /// A member crashes (its unsynced writes survive).
    Crash,
    /// A member loses power (its unsynced writes are lost).
    PowerLoss,
    /// A member loses power mid-write (a prefix of its unsynced writes survives).
    TornWrite,
    /// A member is paused, then resumed.
    Pause,
    /// One kind of message held back, then delivered late.
    Hold,
    /// A member crashes, loses power or pauses at a protocol point.
    Failpoint,
    /// Links cut one by one.
    Flapping,
    /// Leadership handed to another member.
    Transfer,
}

/// The four process faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProcessFault {
    Crash,
    PowerLoss,
    TornWrite,
    Pause,
}

impl FaultKind {
    /// Every kind, in the order the swarm draws them (a new kind goes at the end).
    pub const ALL: [FaultKind; 14] = [
        FaultKind::SlowFsync,
        FaultKind::Partition,
        FaultKind::OneWayCut,
        FaultKind::Loss,
        FaultKind::Delay,
        FaultKind::Duplication,
        FaultKind::Crash,
        FaultKind::PowerLoss,
        FaultKind::TornWrite,
        FaultKind::Pause,
        FaultKind::Hold,
        FaultKind::Failpoint,
        FaultKind::Flapping,
        FaultKind::Transfer,
    ];

    /// The index of the kind's random stream: fixed for each kind, whatever kinds are
    /// added later (never reuse one).
    pub fn stream(self) -> u64 {
        match self {
            FaultKind::SlowFsync => 1,
            FaultKind::Partition => 2,
            FaultKind::OneWayCut => 3,
            FaultKind::Loss => 4,
            FaultKind::Delay => 5,
            FaultKind::Duplication => 6,
            FaultKind::Crash => 7,
            FaultKind::PowerLoss => 8,
            FaultKind::TornWrite => 9,
            FaultKind::Pause => 10,
            FaultKind::Hold => 11,
            FaultKind::Failpoint => 12,
            FaultKind::Flapping => 13,
            FaultKind::Transfer => 14,
        }
    }

    /// The kind's name, as the run's story tells it.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::SlowFsync => "slow fsync",
            FaultKind::Partition => "partition",
            FaultKind::OneWayCut => "one-way cut",
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Duplication => "duplication",
            FaultKind::Crash => "crash",
            FaultKind::PowerLoss => "power loss",
            FaultKind::TornWrite => "torn write",
            FaultKind::Pause => "pause",
            FaultKind::Hold => "hold",
            FaultKind::Failpoint => "failpoint",
            FaultKind::Flapping => "flapping",
            FaultKind::Transfer => "transfer",
        }
    }
}

/// A unit as drawn, before overlapping faults on one member are dropped.
pub(super) struct Drawn {
    /// The fault and the steps that undo it (none when the draw made no fault).
    pub steps: Vec<Step>,
    /// The member the fault takes down or arms, and until when: two such faults on one
    /// member must not overlap.
    pub occupies: Option<(u64, u64)>,
}

/// One fault of `kind` at time `t` and the steps that undo it.
pub(super) fn fault_unit(kind: FaultKind, t: u64, rng: &mut ChaCha8Rng, ctx: &Ctx) -> Drawn {
    let lasts = rng.gen_range(100..3_000u64);
    let end = (t + lasts).min(ctx.until);
    let node = rng.gen_range(1..=ctx.nodes);
    let heal = |label: &str| Step::at(end, label, Action::Heal {});
    let steps = match kind {
        FaultKind::Partition if rng.gen_bool(0.5) => {
            let groups = vec![vec![NodeRef::Leader], vec![NodeRef::Others]];
            let s = Step::at(t, "chaos: isolate the leader", Action::Partition { groups });
            vec![optional(s), heal("chaos: heal")]
        }
        FaultKind::Partition => partition(t, end, rng, ctx.nodes),
        FaultKind::Transfer => {
            let action = Action::Transfer {
                node: NodeRef::Leader,
                to: id(node),
            };
            let label = format!("chaos: transfer to {node}");
            vec![optional(Step::at(t, label, action))]
        }
        FaultKind::OneWayCut => one_way_cut(t, end, node, rng, ctx.nodes),
        FaultKind::Flapping => flapping(t, end, rng, ctx.nodes),
        FaultKind::Loss => network(NetFault::Loss, t, end, rng, ctx.base),
        FaultKind::Delay => network(NetFault::Delay, t, end, rng, ctx.base),
        FaultKind::Duplication => network(NetFault::Duplication, t, end, rng, ctx.base),
        FaultKind::SlowFsync => slow_fsync(t, end, rng),
        FaultKind::Hold => hold(t, rng, ctx),
        FaultKind::Failpoint => {
            let steps = failpoint(t, end, node, rng);
            return Drawn {
                steps,
                occupies: Some((node, end)),
            };
        }
        FaultKind::Crash => return process(ProcessFault::Crash, t, end, node, rng),
        FaultKind::PowerLoss => return process(ProcessFault::PowerLoss, t, end, node, rng),
        FaultKind::TornWrite => return process(ProcessFault::TornWrite, t, end, node, rng),
        FaultKind::Pause => return process(ProcessFault::Pause, t, end, node, rng),
    };
    Drawn {
        steps,
        occupies: None,
    }
}

/// One direction of the link from `node` to a member drawn (none if that is `node`).
fn one_way_cut(t: u64, end: u64, node: u64, rng: &mut ChaCha8Rng, nodes: u64) -> Vec<Step> {
    let to = rng.gen_range(1..=nodes);
    if to == node {
        return Vec::new();
    }
    let action = Action::Cut {
        from: id(node),
        to: id(to),
    };
    vec![
        Step::at(t, format!("chaos: cut {node} -> {to}"), action),
        Step::at(end, "chaos: heal", Action::Heal {}),
    ]
}

/// Some fsyncs take far longer until `end`.
fn slow_fsync(t: u64, end: u64, rng: &mut ChaCha8Rng) -> Vec<Step> {
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

/// A process fault: aimed at the leader of the moment three times in ten, else at `node`.
fn process(fault: ProcessFault, t: u64, end: u64, node: u64, rng: &mut ChaCha8Rng) -> Drawn {
    if rng.gen_bool(0.3) {
        Drawn {
            steps: leader_fault(fault, t, end),
            occupies: None,
        }
    } else {
        Drawn {
            steps: process_fault(fault, t, end, node),
            occupies: Some((node, end)),
        }
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

/// The three random network faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NetFault {
    Loss,
    Delay,
    Duplication,
}

fn network(
    kind: NetFault,
    t: u64,
    end: u64,
    rng: &mut ChaCha8Rng,
    base: &NetworkFaults,
) -> Vec<Step> {
    let mut change = NetworkChange::default();
    match kind {
        NetFault::Loss => change.loss_ppm = Some(rng.gen_range(10_000..300_000)),
        NetFault::Duplication => change.duplicate_ppm = Some(rng.gen_range(10_000..300_000)),
        NetFault::Delay => {
            // Usually a bounded delay; sometimes a long tail past an election.
            let drawn = if rng.gen_bool(0.7) {
                rng.gen_range(10_000..150_000)
            } else {
                rng.gen_range(300_000..1_500_000)
            };
            change.latency_max_us = Some(drawn.max(base.latency_max_us));
        }
    }
    let kind = match kind {
        NetFault::Loss => "loss",
        NetFault::Delay => "delay",
        NetFault::Duplication => "duplication",
    };
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
fn failpoint(t: u64, end: u64, node: u64, rng: &mut ChaCha8Rng) -> Vec<Step> {
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
fn leader_fault(kind: ProcessFault, t: u64, end: u64) -> Vec<Step> {
    let name = format!("chaos-{t}");
    let mut s = optional(Step::at(
        t,
        format!("chaos: {} the leader", kind.name()),
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

fn process_action(kind: ProcessFault, node: NodeRef) -> Action {
    match kind {
        ProcessFault::Crash => Action::Crash { node },
        ProcessFault::PowerLoss => Action::PowerLoss { node },
        ProcessFault::TornWrite => Action::TornCrash { node },
        ProcessFault::Pause => Action::Pause { node },
    }
}

impl ProcessFault {
    fn name(self) -> &'static str {
        match self {
            ProcessFault::Crash => "crash",
            ProcessFault::PowerLoss => "power loss",
            ProcessFault::TornWrite => "torn write",
            ProcessFault::Pause => "pause",
        }
    }
}

fn process_fault(kind: ProcessFault, t: u64, end: u64, node: u64) -> Vec<Step> {
    let fault = process_action(kind, id(node));
    let undo = match fault {
        Action::Pause { .. } => Action::Resume { node: id(node) },
        _ => Action::Restart { node: id(node) },
    };
    // Optional: a fault aimed at the leader may have taken this member first.
    vec![
        optional(Step::at(t, format!("chaos: {} {node}", kind.name()), fault)),
        optional(Step::at(
            end,
            format!("chaos: {} {node}", undo.name()),
            undo,
        )),
    ]
}
