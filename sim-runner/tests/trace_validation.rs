//! Trace validation runs online in every run (fed each event as it is recorded, so a sweep
//! keeps no step events); it must judge exactly as the validator over the whole trace.

use sim_runner::canary::Canary;
use sim_runner::{engine, scenarios};

/// One test: both parts set the process-wide setting of which events traces keep.
#[test]
fn online_validation_matches_the_whole_trace_and_needs_no_kept_steps() {
    online_validation_judges_as_the_whole_trace_does();
    a_sweep_keeps_no_step_events_but_still_validates();
}

fn online_validation_judges_as_the_whole_trace_does() {
    sim::trace::keep_messages(true);
    let loaded = scenarios::load("chaos-membership").unwrap();
    let mut found = 0;
    for canary in [
        None,
        Some(Canary::ReadAcksAnyHeartbeat),
        Some(Canary::CandidateIgnoresLeader),
    ] {
        let mut planted = sim::Canaries::default();
        if let Some(c) = canary {
            c.plant(&mut planted);
        }
        for seed in 0..3 {
            let rec = engine::simulate(&loaded, seed, planted);
            assert!(
                rec.events
                    .iter()
                    .any(|e| matches!(e.kind, proto::trace::EventKind::RaftStep(_))),
                "the trace keeps its steps when asked"
            );
            let whole = check::protocol::check(&rec.events);
            assert_eq!(
                format!("{:?}", Some(&whole)),
                format!("{:?}", rec.validated.as_ref()),
                "{canary:?} seed {seed}"
            );
            found += whole.len();
        }
    }
    assert!(found > 0, "the planted bugs were found");
}

fn a_sweep_keeps_no_step_events_but_still_validates() {
    let loaded = scenarios::load("chaos").unwrap();
    let mut planted = sim::Canaries::default();
    Canary::PrevoteRaisesTerm.plant(&mut planted);
    // A sweep's setting, as the runner sets it (restored at the end).
    sim::trace::keep_messages(false);
    let rec = engine::simulate(&loaded, 2, planted);
    sim::trace::keep_messages(true);
    assert!(!rec
        .events
        .iter()
        .any(|e| matches!(e.kind, proto::trace::EventKind::RaftStep(_))));
    let found = rec.validated.expect("the run was validated online");
    assert!(
        found
            .iter()
            .any(|v| v.message.contains("pre-vote-changes-no-term")),
        "{found:?}"
    );
}
