//! The scenarios the runner knows: the files under `scenarios/`, built into the binary so
//! that `--scenario NAME` works from any directory, and any file given by path.

use crate::error::InputError;
use node::Failpoint;
use scenario::Scenario;
use std::path::Path;

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// What `--scenario` was given (a built-in name or a path), for repro commands.
    pub source: String,
    /// The parsed scenario.
    pub scenario: Scenario,
    /// The file's text.
    pub text: String,
}

/// The built-in scenarios: (name, file text).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("basic", include_str!("../../scenarios/basic.toml")),
    (
        "crash-restart",
        include_str!("../../scenarios/crash-restart.toml"),
    ),
    (
        "leader-crash-1-received",
        include_str!("../../scenarios/leader-crash-1-received.toml"),
    ),
    (
        "leader-crash-2-in-wal",
        include_str!("../../scenarios/leader-crash-2-in-wal.toml"),
    ),
    (
        "leader-crash-3-some-followers",
        include_str!("../../scenarios/leader-crash-3-some-followers.toml"),
    ),
    (
        "leader-crash-4-all-followers",
        include_str!("../../scenarios/leader-crash-4-all-followers.toml"),
    ),
    (
        "leader-crash-5-committed",
        include_str!("../../scenarios/leader-crash-5-committed.toml"),
    ),
    (
        "leader-crash-6-applied",
        include_str!("../../scenarios/leader-crash-6-applied.toml"),
    ),
    (
        "split-brain",
        include_str!("../../scenarios/split-brain.toml"),
    ),
    ("figure-8", include_str!("../../scenarios/figure-8.toml")),
    (
        "stale-read",
        include_str!("../../scenarios/stale-read.toml"),
    ),
    (
        "double-vote",
        include_str!("../../scenarios/double-vote.toml"),
    ),
    (
        "retry-after-snapshot-and-restart",
        include_str!("../../scenarios/retry-after-snapshot-and-restart.toml"),
    ),
    (
        "remove-leader",
        include_str!("../../scenarios/remove-leader.toml"),
    ),
    (
        "replace-member",
        include_str!("../../scenarios/replace-member.toml"),
    ),
    (
        "grow-3-to-5-under-partition",
        include_str!("../../scenarios/grow-3-to-5-under-partition.toml"),
    ),
    (
        "learner-catch-up",
        include_str!("../../scenarios/learner-catch-up.toml"),
    ),
    (
        "conf-change-new-leader",
        include_str!("../../scenarios/conf-change-new-leader.toml"),
    ),
    (
        "two-changes-in-flight",
        include_str!("../../scenarios/two-changes-in-flight.toml"),
    ),
    ("chaos", include_str!("../../scenarios/chaos.toml")),
    (
        "chaos-slow-links",
        include_str!("../../scenarios/chaos-slow-links.toml"),
    ),
    (
        "chaos-tiny-storage",
        include_str!("../../scenarios/chaos-tiny-storage.toml"),
    ),
    (
        "chaos-membership",
        include_str!("../../scenarios/chaos-membership.toml"),
    ),
];

fn failpoint_names() -> Vec<&'static str> {
    Failpoint::ALL.iter().map(|f| f.name()).collect()
}

/// Parses scenario text (`file` names it in errors).
pub fn parse(text: &str, file: &str) -> Result<Scenario, InputError> {
    scenario::parse(text, file, &failpoint_names()).map_err(InputError::Scenario)
}

/// Loads a built-in scenario by name, or a file by path (anything with a `/` or ending in
/// `.toml`).
pub fn load(name_or_path: &str) -> Result<Loaded, InputError> {
    let is_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
    let (text, file) = if is_path {
        let text = std::fs::read_to_string(Path::new(name_or_path))
            .map_err(InputError::read(name_or_path))?;
        (text, name_or_path.to_string())
    } else {
        let (_, text) = BUILT_IN
            .iter()
            .find(|(n, _)| *n == name_or_path)
            .ok_or_else(|| InputError::UnknownScenario(name_or_path.to_string()))?;
        (text.to_string(), format!("scenarios/{name_or_path}.toml"))
    };
    Ok(Loaded {
        source: name_or_path.to_string(),
        scenario: parse(&text, &file)?,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_parses_and_is_named_after_its_file() {
        for (name, text) in BUILT_IN {
            let s = parse(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&s.name, name);
        }
    }
}
