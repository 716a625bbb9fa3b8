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

mod damage;
mod kinds;
pub mod membership;
mod retarget;
mod swarm;

pub use damage::DamageKind;
pub use kinds::FaultKind;
pub use membership::MembershipDraw;
pub use swarm::{draw_knobs, draw_mix, STORE_PERCENT};

use config::{ClusterConfig, Mix, NetworkFaults};
use rand::Rng;
use scenario::{Action, ChaosSection, DiskChange, NetworkChange, NodeRef, Step};
use sim::rng::stream;

/// What one unit of the schedule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    /// A fault of a kind swarm testing turned on.
    Fault(FaultKind),
    /// Damage to a stopped member's disk.
    Damage(DamageKind),
    /// A membership change.
    Membership(MembershipDraw),
    /// A power loss of a member a membership change added.
    NewMemberFault,
}

/// A fault (or change) and the steps that undo it: what shrinking removes or shortens.
#[derive(Clone, Debug)]
pub struct Unit {
    /// What it is.
    pub kind: UnitKind,
    /// Its steps, the fault first.
    pub steps: Vec<Step>,
}

/// Everything a seed of a `[chaos]` scenario draws: a pure function of the seed and the
/// scenario ([`plan`]).
#[derive(Clone, Debug)]
pub struct ChaosPlan {
    /// The cluster, with the size and knobs the swarm drew.
    pub config: ClusterConfig,
    /// The knobs drawn, as the story tells them.
    pub knobs: Vec<String>,
    /// The operation mix drawn.
    pub mix: Mix,
    /// The fault kinds turned on.
    pub kinds: Vec<FaultKind>,
    /// The faults and changes, each with its undo.
    pub units: Vec<Unit>,
    /// Faults drawn but not played: another fault held their member down (or armed) then.
    pub dropped: Vec<Unit>,
    /// The note of what was drawn, and the steps that heal everything when faults stop.
    pub finale: Vec<Step>,
}

impl ChaosPlan {
    /// The schedule's steps in time order.
    pub fn steps(&self) -> Vec<Step> {
        let units: Vec<Vec<Step>> = self.units.iter().map(|u| u.steps.clone()).collect();
        flatten(&units, &self.finale)
    }
}

/// `s` skipped with a note when it cannot be carried out (no leader, member down).
fn optional(mut s: Step) -> Step {
    s.optional = true;
    s
}

fn id(n: u64) -> NodeRef {
    NodeRef::Id(n)
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
}

/// Each fault kind draws its own timeline with a mean gap this many times the section's
/// `mean_gap_ms`: about the number of kinds a seed turns on (half of the 14 there were
/// when kinds got their own streams), so faults come about every `mean_gap_ms` overall.
const KIND_SPREAD: u64 = 7;

/// Draws seed `seed` of a scenario with this `[chaos]` section, cluster and `[network]`
/// (`base`: network faults are undone by restoring it).
pub fn plan(
    seed: u64,
    chaos: &ChaosSection,
    cluster: &ClusterConfig,
    base: &NetworkFaults,
) -> ChaosPlan {
    plan_with_kinds(seed, chaos, cluster, base, &FaultKind::ALL)
}

/// [`plan`] with only the fault kinds `available` (the others never turn on). Each kind
/// draws whether it is on, and its faults, on its own stream, so a kind added or taken
/// away shifts no other kind's draws; only two faults that would take down (or arm) the
/// same member at once are settled between kinds, the later one dropped.
pub fn plan_with_kinds(
    seed: u64,
    chaos: &ChaosSection,
    cluster: &ClusterConfig,
    base: &NetworkFaults,
    available: &[FaultKind],
) -> ChaosPlan {
    let mut config = cluster.clone();
    if chaos.random_cluster_size {
        config.nodes = if stream(seed, "chaos", 0).gen_bool(0.5) {
            3
        } else {
            5
        };
    }
    let knobs = draw_knobs(seed, &mut config);
    let ctx = Ctx {
        nodes: config.nodes,
        until: chaos.faults_until_ms,
        election_ms: config.election_ticks * config.tick_ms,
        base,
    };
    let gap = chaos.mean_gap_ms.unwrap_or(400).max(1) * KIND_SPREAD;
    let drawn: Vec<(FaultKind, Vec<(u64, kinds::Drawn)>)> = available
        .iter()
        .filter_map(|&kind| draw_kind(seed, kind, &ctx, gap).map(|d| (kind, d)))
        .collect();
    let kinds: Vec<FaultKind> = drawn.iter().map(|(k, _)| *k).collect();
    let (mut units, mut dropped) = settle(drawn, config.nodes);
    let damage = damage::units(seed, &ctx);
    let membership = membership::units(
        seed,
        chaos.membership_percent.unwrap_or(0),
        &membership::Plan {
            nodes: ctx.nodes,
            until: ctx.until,
            damaged: !damage.is_empty(),
        },
    );
    let mut named: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    if !damage.is_empty() {
        named.push("storage damage");
    }
    if !membership.is_empty() {
        named.push("membership");
    }
    let finale = finale(&ctx, &named, &knobs);
    let added = retarget::added(&membership);
    units.extend(damage);
    units.extend(membership);
    retarget::aim_at_new_members(seed, &added, &mut units);
    retarget::aim_at_new_members(seed, &added, &mut dropped);
    ChaosPlan {
        config,
        knobs,
        mix: draw_mix(seed, chaos.store_percent.unwrap_or(swarm::STORE_PERCENT)),
        kinds,
        units,
        dropped,
        finale,
    }
}

/// Kind `kind`'s faults for `seed`, on the kind's own stream, with mean gap `gap`: `None`
/// when the swarm turns the kind off.
fn draw_kind(seed: u64, kind: FaultKind, ctx: &Ctx, gap: u64) -> Option<Vec<(u64, kinds::Drawn)>> {
    let mut rng = stream(seed, "chaos-kind", kind.stream());
    if !rng.gen_bool(0.5) {
        return None;
    }
    let mut out = Vec::new();
    let mut t = 200 + rng.gen_range(0..2 * gap);
    while t < ctx.until {
        out.push((t, kinds::fault_unit(kind, t, &mut rng, ctx)));
        t += rng.gen_range(1..=2 * gap);
    }
    Some(out)
}

/// Every kind's faults in time order (kinds in `FaultKind::ALL` order at the same time),
/// without empty draws; and apart, the faults on a member another still holds down.
fn settle(drawn: Vec<(FaultKind, Vec<(u64, kinds::Drawn)>)>, nodes: u64) -> (Vec<Unit>, Vec<Unit>) {
    let mut all: Vec<(u64, FaultKind, kinds::Drawn)> = drawn
        .into_iter()
        .flat_map(|(kind, d)| d.into_iter().map(move |(t, u)| (t, kind, u)))
        .collect();
    all.sort_by_key(|(t, kind, _)| (*t, *kind));
    let mut busy_until = vec![0u64; nodes as usize + 1];
    let (mut units, mut dropped) = (Vec::new(), Vec::new());
    for (t, kind, drawn) in all {
        if drawn.steps.is_empty() {
            continue;
        }
        let unit = Unit {
            kind: UnitKind::Fault(kind),
            steps: drawn.steps,
        };
        match drawn.occupies {
            Some((node, _)) if busy_until[node as usize] >= t => dropped.push(unit),
            Some((node, end)) => {
                busy_until[node as usize] = end;
                units.push(unit);
            }
            None => units.push(unit),
        }
    }
    (units, dropped)
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

/// A step's action that puts the network back to `base`.
fn restore_network(base: &NetworkFaults) -> Action {
    Action::Network(NetworkChange {
        loss_ppm: Some(base.loss_ppm),
        duplicate_ppm: Some(base.duplicate_ppm),
        latency_min_us: Some(base.latency_min_us),
        latency_max_us: Some(base.latency_max_us),
    })
}
