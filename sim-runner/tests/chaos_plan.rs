//! The chaos planner is a pure function of the seed and the scenario, and each fault kind
//! draws on its own stream: taking a kind away (as adding one would) shifts no other
//! kind's faults. Only faults that take down or arm a member are settled between kinds
//! (two on one member at once: the later is dropped), so with one of those gone the
//! others draw the same faults, though which of them are dropped may change.

use scenario::Action;
use sim_runner::chaos::{plan, plan_with_kinds, ChaosPlan, FaultKind, UnitKind};
use sim_runner::scenarios;

/// The kinds whose faults hold a member down or armed for a while.
const OCCUPYING: [FaultKind; 5] = [
    FaultKind::Crash,
    FaultKind::PowerLoss,
    FaultKind::TornWrite,
    FaultKind::Pause,
    FaultKind::Failpoint,
];

/// The units of `kind` in `p` (played, and with `dropped` those drawn but not played),
/// each as the text of its steps, in time order.
fn units_of(p: &ChaosPlan, kind: FaultKind, dropped: bool) -> Vec<String> {
    let extra = if dropped { &p.dropped[..] } else { &[] };
    let mut units: Vec<_> = p
        .units
        .iter()
        .chain(extra)
        .filter(|u| u.kind == UnitKind::Fault(kind))
        .collect();
    units.sort_by_key(|u| u.steps[0].at_ms);
    units.iter().map(|u| format!("{:?}", u.steps)).collect()
}

#[test]
fn a_kind_taken_away_shifts_no_other_kinds_draws() {
    for scenario in ["chaos", "chaos-membership"] {
        kinds_stand_apart(scenario);
    }
}

fn kinds_stand_apart(scenario: &str) {
    let loaded = scenarios::load(scenario).unwrap();
    let s = &loaded.scenario;
    let chaos = s.chaos.as_ref().unwrap();
    for seed in 0..60 {
        let full = plan(seed, chaos, &s.cluster, &s.network);
        let again = plan(seed, chaos, &s.cluster, &s.network);
        assert_eq!(format!("{:?}", full.units), format!("{:?}", again.units));
        for gone in FaultKind::ALL {
            let rest: Vec<FaultKind> = FaultKind::ALL.into_iter().filter(|k| *k != gone).collect();
            let less = plan_with_kinds(seed, chaos, &s.cluster, &s.network, &rest);
            let on: Vec<FaultKind> = full.kinds.iter().copied().filter(|k| *k != gone).collect();
            assert_eq!(less.kinds, on, "seed {seed} without {gone:?}");
            for kind in rest {
                // What is played changes only where members are settled between kinds.
                let settled = OCCUPYING.contains(&kind) && OCCUPYING.contains(&gone);
                let (a, b) = (
                    units_of(&full, kind, settled),
                    units_of(&less, kind, settled),
                );
                assert_eq!(a, b, "seed {seed}: {kind:?} changed when {gone:?} went");
            }
        }
    }
}

#[test]
fn faults_also_aim_at_members_added_at_run_time() {
    let loaded = scenarios::load("chaos-membership").unwrap();
    let s = &loaded.scenario;
    let chaos = s.chaos.as_ref().unwrap();
    let mut aimed = 0;
    for seed in 0..100 {
        let p = plan(seed, chaos, &s.cluster, &s.network);
        // Names saved by the steps that add members, and when.
        let added: Vec<(u64, String)> = p
            .units
            .iter()
            .flat_map(|u| &u.steps)
            .filter(|st| {
                matches!(
                    st.action,
                    Action::AddVoter { .. } | Action::AddLearner { .. }
                )
            })
            .filter_map(|st| Some((st.at_ms?, st.save.clone()?)))
            .collect();
        for u in p
            .units
            .iter()
            .filter(|u| matches!(u.kind, UnitKind::Fault(_) | UnitKind::Damage(_)))
        {
            let text = format!("{:?}", u.steps);
            let Some((at, name)) = added
                .iter()
                .find(|(_, n)| text.contains(&format!("Saved({n:?})")))
            else {
                continue;
            };
            let start = u.steps.iter().filter_map(|st| st.at_ms).min().unwrap();
            assert!(
                *at < start,
                "seed {seed}: a fault on ${name} before it was added"
            );
            assert!(u.steps.iter().all(|st| st.optional), "seed {seed}: {text}");
            aimed += 1;
        }
    }
    assert!(
        aimed >= 10,
        "only {aimed} faults aimed at added members in 100 seeds"
    );
}
