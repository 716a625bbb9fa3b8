//! Faults aimed at members added at run time: the crash, pause, failpoint, power-loss and
//! damage units are drawn for the founding ids, then some of those that start after a
//! membership change added a member are aimed at that member instead. Each unit draws on
//! a stream of its own, named by its kind and start, so seeds without membership changes
//! draw exactly as before and taking a fault kind away shifts no other kind's targets.

use super::{Unit, UnitKind};
use rand::Rng;
use scenario::{Action, NodeRef, Step};
use sim::rng::stream;

/// How often an eligible fault moves to a member added earlier.
const SHARE: f64 = 0.35;

/// A new member must have been asked for this long before a fault aims at it.
const SETTLE_MS: u64 = 100;

/// The member a single-member action acts on.
fn member_mut(action: &mut Action) -> Option<&mut NodeRef> {
    match action {
        Action::Crash { node }
        | Action::PowerLoss { node }
        | Action::TornCrash { node }
        | Action::ReorderedCrash { node }
        | Action::BitRot { node }
        | Action::MisdirectedWrite { node }
        | Action::Recover { node }
        | Action::Restart { node }
        | Action::Pause { node }
        | Action::Resume { node } => Some(node),
        Action::Failpoint { node, .. } => node.as_mut(),
        _ => None,
    }
}

/// Whether a step without a member of its own may sit in a retargeted unit.
fn neutral(action: &Action) -> bool {
    matches!(action, Action::Disarm {} | Action::Heal {})
}

/// The one founding member every step of the unit acts on, if the unit is a fault on a
/// single member and nothing else.
fn sole_member(steps: &mut [Step]) -> Option<u64> {
    let mut found = None;
    for s in steps {
        if neutral(&s.action) {
            continue;
        }
        match member_mut(&mut s.action) {
            Some(NodeRef::Id(n)) if found.is_none_or(|f| f == *n) => found = Some(*n),
            _ => return None,
        }
    }
    found
}

/// The members membership changes add (their saved name) and when they are asked for.
pub(super) fn added(units: &[Unit]) -> Vec<(u64, String)> {
    units
        .iter()
        .filter(|u| matches!(u.kind, UnitKind::Membership(_)))
        .flat_map(|u| &u.steps)
        .filter(|s| {
            matches!(
                s.action,
                Action::AddVoter { .. } | Action::AddLearner { .. }
            )
        })
        .filter_map(|s| Some((s.at_ms?, s.save.clone()?)))
        .collect()
}

/// `label` with the founding id `n` named as the new member instead.
fn relabel(label: &str, n: u64, name: &str) -> String {
    let id = n.to_string();
    label
        .split(' ')
        .map(|w| {
            let rest = w.strip_prefix(id.as_str());
            match rest {
                Some(r) if r.is_empty() || r == "," || r.starts_with('\'') => {
                    format!("${name}{r}")
                }
                _ => w.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Aims some single-member faults of `units` at members `added` (see [`added`]) before
/// they start.
pub(super) fn aim_at_new_members(seed: u64, added: &[(u64, String)], units: &mut [Unit]) {
    if added.is_empty() {
        return;
    }
    for unit in units.iter_mut() {
        let code = match unit.kind {
            UnitKind::Fault(k) => k.stream(),
            UnitKind::Damage(d) => 64 + d as u64,
            UnitKind::Membership(_) | UnitKind::NewMemberFault => continue,
        };
        let start = unit.steps.iter().filter_map(|s| s.at_ms).min().unwrap_or(0);
        let mut rng = stream(seed, "chaos-new-targets", start.wrapping_mul(128) + code);
        let Some(n) = sole_member(&mut unit.steps) else {
            continue;
        };
        let candidates: Vec<&String> = added
            .iter()
            .filter(|(at, _)| at + SETTLE_MS <= start)
            .map(|(_, name)| name)
            .collect();
        if candidates.is_empty() || !rng.gen_bool(SHARE) {
            continue;
        }
        let name = candidates[rng.gen_range(0..candidates.len())].clone();
        for s in &mut unit.steps {
            if let Some(node) = member_mut(&mut s.action) {
                *node = NodeRef::Saved(name.clone());
            }
            s.label = s.label.as_deref().map(|l| relabel(l, n, &name));
            // The member may never have been added, or be gone again.
            s.optional = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::relabel;

    #[test]
    fn relabel_names_the_new_member_only_where_the_id_stands_alone() {
        assert_eq!(
            relabel("chaos: crash 3, then 13", 3, "voter0"),
            "chaos: crash $voter0, then 13"
        );
        assert_eq!(
            relabel("chaos: wipe 3's disk", 3, "voter0"),
            "chaos: wipe $voter0's disk"
        );
    }
}
