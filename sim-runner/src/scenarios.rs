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

/// A built-in scenario: its name, its file, and the seed sweeps CI runs on it.
#[derive(Clone, Copy, Debug)]
pub struct BuiltIn {
    /// The name `--scenario` takes (the file's stem).
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
    /// The sweeps `.ci/run` runs (it asks `sim-runner ci-sweeps`).
    pub ci: &'static [CiSweep],
}

/// One seed sweep CI runs: a half-open seed range and extra flags.
#[derive(Clone, Copy, Debug)]
pub struct CiSweep {
    /// First seed.
    pub from: u64,
    /// One past the last seed.
    pub to: u64,
    /// Extra flags (`--min-mark-share 1`, `--check-determinism`), or none.
    pub flags: &'static str,
}

const fn sweep(from: u64, to: u64, flags: &'static str) -> CiSweep {
    CiSweep { from, to, flags }
}

/// The built-in scenarios, in the order `--list` shows them: the one list of them (CI's
/// sweeps and the tests' canonical scenarios come from it).
pub const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        name: "basic",
        text: include_str!("../../scenarios/basic.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "crash-restart",
        text: include_str!("../../scenarios/crash-restart.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "leader-crash-1-received",
        text: include_str!("../../scenarios/leader-crash-1-received.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "leader-crash-2-in-wal",
        text: include_str!("../../scenarios/leader-crash-2-in-wal.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "leader-crash-3-some-followers",
        text: include_str!("../../scenarios/leader-crash-3-some-followers.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "leader-crash-4-all-followers",
        text: include_str!("../../scenarios/leader-crash-4-all-followers.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "leader-crash-5-committed",
        text: include_str!("../../scenarios/leader-crash-5-committed.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "leader-crash-6-applied",
        text: include_str!("../../scenarios/leader-crash-6-applied.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "split-brain",
        text: include_str!("../../scenarios/split-brain.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "figure-8",
        text: include_str!("../../scenarios/figure-8.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "stale-read",
        text: include_str!("../../scenarios/stale-read.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "double-vote",
        text: include_str!("../../scenarios/double-vote.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "retry-after-snapshot-and-restart",
        text: include_str!("../../scenarios/retry-after-snapshot-and-restart.toml"),
        ci: &[sweep(0, 50, "")],
    },
    BuiltIn {
        name: "remove-leader",
        text: include_str!("../../scenarios/remove-leader.toml"),
        ci: &[sweep(0, 100, "")],
    },
    BuiltIn {
        name: "replace-member",
        text: include_str!("../../scenarios/replace-member.toml"),
        ci: &[sweep(0, 100, "")],
    },
    BuiltIn {
        name: "grow-3-to-5-under-partition",
        text: include_str!("../../scenarios/grow-3-to-5-under-partition.toml"),
        ci: &[sweep(0, 100, "")],
    },
    BuiltIn {
        name: "learner-catch-up",
        text: include_str!("../../scenarios/learner-catch-up.toml"),
        ci: &[sweep(0, 100, "")],
    },
    BuiltIn {
        name: "conf-change-new-leader",
        text: include_str!("../../scenarios/conf-change-new-leader.toml"),
        ci: &[sweep(0, 100, "")],
    },
    BuiltIn {
        name: "two-changes-in-flight",
        text: include_str!("../../scenarios/two-changes-in-flight.toml"),
        ci: &[sweep(0, 100, "")],
    },
    BuiltIn {
        name: "chaos",
        text: include_str!("../../scenarios/chaos.toml"),
        ci: &[
            sweep(0, 500, "--min-mark-share 1"),
            sweep(1000, 1100, "--check-determinism"),
        ],
    },
    BuiltIn {
        name: "chaos-slow-links",
        text: include_str!("../../scenarios/chaos-slow-links.toml"),
        ci: &[sweep(0, 500, "--min-mark-share 1")],
    },
    BuiltIn {
        name: "chaos-tiny-storage",
        text: include_str!("../../scenarios/chaos-tiny-storage.toml"),
        ci: &[sweep(0, 300, "")],
    },
    BuiltIn {
        name: "chaos-membership",
        text: include_str!("../../scenarios/chaos-membership.toml"),
        ci: &[sweep(0, 500, ""), sweep(1000, 1100, "--check-determinism")],
    },
];

fn failpoint_names() -> Vec<&'static str> {
    Failpoint::ALL.iter().map(|f| f.name()).collect()
}

/// Parses scenario text (`file` names it in errors).
pub fn parse(text: &str, file: &str) -> Result<Scenario, InputError> {
    scenario::parse(text, file, &failpoint_names()).map_err(InputError::Scenario)
}

/// A scenario given as text (`file` names it in errors and repro commands).
pub fn from_text(text: &str, file: &str) -> Result<Loaded, InputError> {
    Ok(Loaded {
        source: file.to_string(),
        scenario: parse(text, file)?,
        text: text.to_string(),
    })
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
        let built_in = BUILT_IN
            .iter()
            .find(|b| b.name == name_or_path)
            .ok_or_else(|| InputError::UnknownScenario(name_or_path.to_string()))?;
        (
            built_in.text.to_string(),
            format!("scenarios/{name_or_path}.toml"),
        )
    };
    Ok(Loaded {
        source: name_or_path.to_string(),
        scenario: parse(&text, &file)?,
        text,
    })
}

/// CI's seed sweeps, one a line: the scenario, the seed range and extra flags.
pub fn ci_sweeps() -> String {
    let mut out = String::new();
    for b in BUILT_IN {
        for s in b.ci {
            let line = format!("{} {}..{} {}", b.name, s.from, s.to, s.flags);
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_parses_and_is_named_after_its_file() {
        for b in BUILT_IN {
            let s = parse(b.text, b.name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.name, b.name);
            assert!(!b.ci.is_empty(), "{} has no CI sweep", b.name);
        }
    }
}
