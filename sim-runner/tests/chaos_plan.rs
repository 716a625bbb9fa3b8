//! The chaos planner is a pure function of the seed and the scenario, and each fault kind
//! draws on its own stream: taking a kind away (as adding one would) shifts no other
//! kind's faults. Only faults that take down or arm a member are settled between kinds
//! (two on one member at once: the later is dropped), so with one of those gone the
//! others draw the same faults, though which of them are dropped may change.

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
    let loaded = scenarios::load("chaos").unwrap();
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
