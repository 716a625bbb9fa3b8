//! The committed scenario reference is what the model generates: change the model (a key,
//! a default, a doc comment) and this fails until `docs/scenario-reference.md` is
//! regenerated with `cargo run --release -- schema > docs/scenario-reference.md`.

#[test]
fn the_committed_scenario_reference_matches_the_model() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-reference.md");
    let committed = std::fs::read_to_string(&path).unwrap();
    let generated = sim_runner::reference::scenario_reference();
    assert!(
        committed == generated,
        "docs/scenario-reference.md is stale: regenerate it with `cargo run --release -- schema > docs/scenario-reference.md`"
    );
}

#[test]
fn the_reference_names_every_action_and_expectation_kind() {
    let text = sim_runner::reference::scenario_reference();
    for action in ["crash", "partition", "hold", "failpoint", "write", "note"] {
        assert!(
            text.contains(&format!("### `action = \"{action}\"`")),
            "{action}"
        );
    }
    for kind in ["acknowledged", "applied-once", "logs-converged"] {
        assert!(text.contains(&format!("### `kind = \"{kind}\"`")), "{kind}");
    }
    assert!(text.contains("| `election_ticks` | integer | `10` |"));
}
