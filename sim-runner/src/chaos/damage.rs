//! Disk damage in the chaos schedule, on its own stream.

use super::{id, optional, Ctx, Unit, UnitKind};
use rand::Rng;
use scenario::{Action, Step};
use sim::rng::stream;

/// How a member's disk is damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DamageKind {
    /// Power loss, then a bit flipped in synced data.
    BitRot,
    /// Power loss, then a synced write that landed in the wrong place.
    MisdirectedWrite,
    /// A crash whose unsynced writes reached the disk out of order.
    ReorderedCrash,
}

impl DamageKind {
    /// Every kind, in the order a draw picks from.
    pub const ALL: [DamageKind; 3] = [
        DamageKind::BitRot,
        DamageKind::MisdirectedWrite,
        DamageKind::ReorderedCrash,
    ];
}

/// Damage to a stopped member's disk, drawn on its own stream (turning it on shifts no
/// other draw): a power loss followed by bit rot or a misdirected write on synced data, or
/// a crash whose unsynced writes land out of order; the member is brought back later and
/// must recover all it made durable or refuse to start with a typed corruption error. At
/// most a minority of the members is damaged, once each: a damaged member may rightly
/// never start again.
pub(super) fn units(seed: u64, ctx: &Ctx) -> Vec<Unit> {
    let mut rng = stream(seed, "chaos-damage", 0);
    let mut units: Vec<Unit> = Vec::new();
    if !rng.gen_bool(0.4) {
        return units;
    }
    let mut damaged: Vec<u64> = Vec::new();
    let mut t = rng.gen_range(300..2_000u64);
    while (damaged.len() as u64) < (ctx.nodes - 1) / 2 && t + 2 < ctx.until {
        let node = rng.gen_range(1..=ctx.nodes);
        let end = (t + rng.gen_range(200..2_000u64)).min(ctx.until).max(t + 2);
        let kind = DamageKind::ALL[rng.gen_range(0..DamageKind::ALL.len() as u32) as usize];
        if !damaged.contains(&node) {
            damaged.push(node);
            units.push(Unit {
                kind: UnitKind::Damage(kind),
                steps: damage_unit(kind, t, end, node),
            });
        }
        t += rng.gen_range(1_000..4_000u64);
    }
    units
}

fn damage_unit(kind: DamageKind, t: u64, end: u64, node: u64) -> Vec<Step> {
    let back = Step::at(
        end,
        format!("chaos: {node} back after disk damage"),
        Action::Recover { node: id(node) },
    );
    if kind == DamageKind::ReorderedCrash {
        let crash = Action::ReorderedCrash { node: id(node) };
        let label = format!("chaos: crash {node}, unsynced writes persisted out of order");
        return vec![optional(Step::at(t, label, crash)), optional(back)];
    }
    let (label, damage) = if kind == DamageKind::BitRot {
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
