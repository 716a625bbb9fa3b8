//! Membership changes in the `chaos` schedule, drawn on their own stream (turning them on
//! shifts no other draw): learners added and promoted, voters added one at a time or
//! several through a joint configuration, members removed or replaced (the leader among
//! them), a replaced member's disk wiped, and two patterns aimed at the rare windows: two
//! changes in quick succession (one must wait for the other), and a change right after a
//! leadership transfer (the new leader must first commit an entry of its own term).

use super::{Unit, UnitKind};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use scenario::{Action, NodeRef, Step};
use sim::rng::stream;

/// A membership change the schedule draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipDraw {
    /// A learner added, then promoted.
    LearnerThenPromotion,
    /// A voter added.
    AddVoter,
    /// Two voters added through a joint configuration.
    AddTwoVoters,
    /// A member removed (the leader, sometimes).
    Remove,
    /// A member replaced under a new id.
    Replace,
    /// A member replaced, then its old disk lost and wiped.
    ReplaceThenWipe,
    /// Two changes in quick succession.
    TwoAtOnce,
    /// A change right after a leadership transfer.
    ChangeAfterTransfer,
}

impl MembershipDraw {
    /// Every draw, in the order the stream picks from.
    pub const ALL: [MembershipDraw; 8] = [
        MembershipDraw::LearnerThenPromotion,
        MembershipDraw::AddVoter,
        MembershipDraw::AddTwoVoters,
        MembershipDraw::Remove,
        MembershipDraw::Replace,
        MembershipDraw::ReplaceThenWipe,
        MembershipDraw::TwoAtOnce,
        MembershipDraw::ChangeAfterTransfer,
    ];
}

fn optional(label: String, at: u64, action: Action) -> Step {
    let mut s = Step::at(at, label, action);
    s.optional = true;
    s
}

/// What the schedule knows when it draws membership changes.
pub struct Plan {
    /// Founding members (ids 1..=nodes).
    pub nodes: u64,
    /// Faults (and changes) stop here, milliseconds.
    pub until: u64,
    /// Some member's disk is damaged in this run (it may never start again): then no
    /// member is removed or wiped, or a quorum could be lost for good.
    pub damaged: bool,
}

/// At most one unit per seed takes a voter away for good (a removal, or a wipe before a
/// replacement), and only where the cluster keeps a quorum of healthy voters: a removal
/// in a cluster of five, a wipe when no disk is damaged. Otherwise an operator would have
/// lost the quorum, which no protocol can survive.
fn destructive_allowed(choice: MembershipDraw, plan: &Plan, used: &mut bool) -> bool {
    let allowed = match choice {
        MembershipDraw::Remove => plan.nodes >= 5 && !plan.damaged,
        MembershipDraw::ReplaceThenWipe => !plan.damaged,
        MembershipDraw::LearnerThenPromotion
        | MembershipDraw::AddVoter
        | MembershipDraw::AddTwoVoters
        | MembershipDraw::Replace
        | MembershipDraw::TwoAtOnce
        | MembershipDraw::ChangeAfterTransfer => return true,
    };
    if !allowed || *used {
        return false;
    }
    *used = true;
    true
}

/// The membership units for `seed` (empty for the seeds that draw none), each a list of
/// steps; `percent` of the seeds draw some.
pub fn units(seed: u64, percent: u32, plan: &Plan) -> Vec<Unit> {
    let mut rng = stream(seed, "chaos-membership", 0);
    if rng.gen_range(0..100) >= percent {
        return Vec::new();
    }
    let count = rng.gen_range(1..=4);
    let mut t = rng.gen_range(300..2_000u64);
    let mut out = Vec::new();
    let mut destroyed = false;
    for k in 0..count {
        if t + 50 >= plan.until {
            break;
        }
        let all = MembershipDraw::ALL;
        let mut choice = all[rng.gen_range(0..all.len() as u32) as usize];
        if !destructive_allowed(choice, plan, &mut destroyed) {
            choice = MembershipDraw::Replace; // a replacement instead
        }
        let (steps, new_member) = unit(k, choice, t, &mut rng, plan);
        out.push(Unit {
            kind: UnitKind::Membership(choice),
            steps,
        });
        if let Some(name) = new_member {
            if rng.gen_bool(0.4) {
                out.push(Unit {
                    kind: UnitKind::NewMemberFault,
                    steps: fault_new_member(name, t, &mut rng),
                });
            }
        }
        t += rng.gen_range(800..3_000u64);
    }
    out
}

/// The member saved as `name` loses power (mid-catch-up, often) and comes back (the
/// other fault kinds reach added members through `retarget`).
fn fault_new_member(name: String, t: u64, rng: &mut ChaCha8Rng) -> Vec<Step> {
    let node = NodeRef::Saved(name);
    let down = t + rng.gen_range(5..800u64);
    let up = down + rng.gen_range(100..1_500u64);
    vec![
        optional(
            "chaos: power loss of the new member".into(),
            down,
            Action::PowerLoss { node: node.clone() },
        ),
        optional(
            "chaos: the new member back".into(),
            up,
            Action::Recover { node },
        ),
    ]
}

fn member(rng: &mut ChaCha8Rng, plan: &Plan) -> NodeRef {
    if rng.gen_bool(0.3) {
        NodeRef::Leader
    } else {
        NodeRef::Id(rng.gen_range(1..=plan.nodes))
    }
}

/// The steps of one draw, and the name saved for the member it adds, if any.
fn unit(
    k: u32,
    choice: MembershipDraw,
    t: u64,
    rng: &mut ChaCha8Rng,
    plan: &Plan,
) -> (Vec<Step>, Option<String>) {
    let one = |label: String, action| vec![optional(label, t, action)];
    match choice {
        MembershipDraw::LearnerThenPromotion => {
            learner_then_promotion(format!("learner{k}"), t, rng)
        }
        MembershipDraw::AddVoter => {
            let name = format!("voter{k}");
            let add = Action::AddVoter { node: None };
            (
                vec![saved("chaos: add a voter".into(), t, add, &name)],
                Some(name),
            )
        }
        MembershipDraw::AddTwoVoters => (
            one(
                "chaos: add two voters (joint)".into(),
                Action::AddVoters { count: 2 },
            ),
            None,
        ),
        MembershipDraw::Remove => {
            let node = member(rng, plan);
            (
                one(format!("chaos: remove {node}"), Action::Remove { node }),
                None,
            )
        }
        MembershipDraw::Replace => {
            let node = member(rng, plan);
            (
                one(format!("chaos: replace {node}"), Action::Replace { node }),
                None,
            )
        }
        MembershipDraw::ReplaceThenWipe => (
            replace_then_wipe(format!("replaced{k}"), t, rng, plan),
            None,
        ),
        MembershipDraw::TwoAtOnce => (two_at_once(t, rng), None),
        MembershipDraw::ChangeAfterTransfer => (change_after_transfer(t, rng, plan), None),
    }
}

/// `optional(label, at, action)` that saves its member under `name`.
fn saved(label: String, at: u64, action: Action, name: &str) -> Step {
    let mut step = optional(label, at, action);
    step.save = Some(name.to_string());
    step
}

/// A learner is added, then promoted.
fn learner_then_promotion(
    name: String,
    t: u64,
    rng: &mut ChaCha8Rng,
) -> (Vec<Step>, Option<String>) {
    let add = saved(
        "chaos: add a learner".into(),
        t,
        Action::AddLearner { node: None },
        &name,
    );
    let later = t + rng.gen_range(100..2_000u64);
    let promote = Action::Promote {
        node: NodeRef::Saved(name.clone()),
    };
    let steps = vec![
        add,
        optional("chaos: promote the learner".into(), later, promote),
    ];
    (steps, Some(name))
}

/// A member is replaced under a new id, then loses power and its disk: once the
/// replacement is asked for, and only then (`name` is bound only if the replace step
/// ran), so a wipe never leaves a voter lost for good.
fn replace_then_wipe(name: String, t: u64, rng: &mut ChaCha8Rng, plan: &Plan) -> Vec<Step> {
    let node = NodeRef::Id(rng.gen_range(1..=plan.nodes));
    let gone = NodeRef::Saved(name.clone());
    let replace = Action::Replace { node: node.clone() };
    vec![
        saved(format!("chaos: replace {node}"), t, replace, &name),
        optional(
            format!("chaos: power loss {node}"),
            t + 1,
            Action::PowerLoss { node: gone.clone() },
        ),
        optional(
            format!("chaos: wipe {node}'s disk"),
            t + 2,
            Action::WipeDisk { node: gone },
        ),
    ]
}

/// Two changes in quick succession: the second must wait for the first.
fn two_at_once(t: u64, rng: &mut ChaCha8Rng) -> Vec<Step> {
    let gap = rng.gen_range(0..30u64);
    vec![
        optional(
            "chaos: add a learner".into(),
            t,
            Action::AddLearner { node: None },
        ),
        optional(
            "chaos: add a voter at once".into(),
            t + gap,
            Action::AddVoter { node: None },
        ),
    ]
}

/// A change right after a new leader takes over (it must first commit in its term).
fn change_after_transfer(t: u64, rng: &mut ChaCha8Rng, plan: &Plan) -> Vec<Step> {
    let to = NodeRef::Id(rng.gen_range(1..=plan.nodes));
    let gap = rng.gen_range(1..40u64);
    vec![
        optional(
            format!("chaos: transfer leadership to {to}"),
            t,
            Action::Transfer {
                node: NodeRef::Leader,
                to,
            },
        ),
        optional(
            "chaos: change right after the transfer".into(),
            t + gap,
            Action::AddLearner { node: None },
        ),
    ]
}
