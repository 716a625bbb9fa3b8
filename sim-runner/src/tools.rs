//! The commands that judge files rather than run scenarios: `check-history` and `merge`.

use crate::artifacts::{SeedSummary, SweepReport};
use crate::error::InputError;
use crate::output::write_report;
use crate::report;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How a command ended, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every check held (exit 0).
    Passed,
    /// A check failed (exit 1).
    Failed,
    /// Nothing failed, but a check could not decide (exit 3).
    Undecided,
}

impl Status {
    /// `Passed` or `Failed`.
    pub fn of(passed: bool) -> Status {
        if passed {
            Status::Passed
        } else {
            Status::Failed
        }
    }

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::Failed => 1,
            Status::Undecided => 3,
        }
    }

    /// The status of a set of seeds: failed if any failed, else undecided if any was.
    pub fn of_seeds(seeds: &[SeedSummary]) -> Status {
        if seeds.iter().any(|s| s.failed()) {
            Status::Failed
        } else if seeds.iter().any(|s| s.undecided) {
            Status::Undecided
        } else {
            Status::Passed
        }
    }
}

/// `check-history FILE`: judges a history file for linearizability; `complete`: the
/// history is complete even without its header line saying so.
pub fn check_history(file: &Path, budget: u64, complete: bool) -> Result<Status, InputError> {
    let path = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(InputError::read(file))?;
    let file =
        check::history_file::parse(&text).map_err(|e| InputError::History(e, path.clone()))?;
    let history = file.ops;
    let options = check::linearizability::Options {
        budget,
        unit: check::linearizability::TimeUnit::AsGiven,
        revisions: file.revisions,
        complete: complete || file.complete,
        start_revision: file.start_revision,
    };
    let report =
        check::linearizability::check_witnessed(&history, file.applied.as_deref(), &options);
    if let Some(note) = &report.note {
        println!("note: {note}");
    }
    if file.revisions && !options.complete {
        println!("note: revision completeness not judged: the history does not say it records every write from an empty store (add the header line {{\"complete\": true}} or pass --complete), so revisions may have been made by writes outside it");
    }
    for f in &report.failures {
        let what = if f.undecided {
            "undecided"
        } else {
            "violation"
        };
        let keys = if f.key.contains(", ") { "keys" } else { "key" };
        println!("{keys} {} ({what}): {}", f.key, f.explanation);
    }
    let failed = report.failures.iter().filter(|f| !f.undecided).count();
    let undecided = report.failures.len() - failed;
    if failed > 0 {
        if file.revisions {
            println!(
                "NOT linearizable (revisions order the whole store: {} key(s) judged as one)",
                report.keys
            );
        } else {
            println!("NOT linearizable ({failed} of {} keys fail)", report.keys);
        }
        return Ok(Status::Failed);
    }
    if undecided > 0 {
        println!(
            "UNDECIDED: the search budget ({budget} steps{}) ran out; no violation was found, none is claimed (raise --budget)",
            if file.revisions { "" } else { " per key" }
        );
        return Ok(Status::Undecided);
    }
    if report.note.is_some() {
        println!("UNDECIDED: every key held, but the whole store was not judged as one; no violation was found, none is claimed");
        return Ok(Status::Undecided);
    }
    println!(
        "linearizable: {} operations over {} key(s) ({} search steps)",
        history.len(),
        report.keys,
        report.steps
    );
    Ok(Status::Passed)
}

fn read_part(f: &Path) -> Result<SweepReport, InputError> {
    let text = std::fs::read_to_string(f).map_err(InputError::read(f))?;
    serde_json::from_str(&text)
        .map_err(|e| InputError::Other(format!("{}: not a sweep report: {e}", f.display())))
}

/// `merge FILES`: joins the report.json files of a sharded sweep, warning of missing
/// shards and of parts run by different builds.
pub fn merge(files: &[PathBuf], out: Option<&PathBuf>) -> Result<Status, InputError> {
    let parts: Vec<SweepReport> = files
        .iter()
        .map(|f| read_part(f))
        .collect::<Result<_, _>>()?;
    let Some(first) = parts.first().cloned() else {
        return Err(InputError::Other(
            "merge needs at least one report.json".into(),
        ));
    };
    for (part, f) in parts.iter().zip(files) {
        if part.scenario != first.scenario || part.canaries != first.canaries {
            return Err(InputError::Other(format!(
                "{}: scenario {} {:?} does not match {} {:?}",
                f.display(),
                part.scenario,
                part.canaries,
                first.scenario,
                first.canaries
            )));
        }
    }
    for warning in merge_warnings(&parts) {
        eprintln!("warning: {warning}");
    }
    let mut merged = first;
    merged.shard = None;
    merged.seeds = parts.into_iter().flat_map(|p| p.seeds).collect();
    merged.seeds.sort_by_key(|s| s.seed);
    if let Some(w) = merged.seeds.windows(2).find(|w| w[0].seed == w[1].seed) {
        return Err(InputError::Other(format!(
            "seed {} appears in two parts",
            w[0].seed
        )));
    }
    report::sweep(&merged);
    if let Some(dir) = out {
        write_report(dir, &merged, &[])?;
    }
    Ok(Status::of_seeds(&merged.seeds))
}

/// What a merge should say about its parts: shards missing from their set, different
/// ranges, different builds.
pub fn merge_warnings(parts: &[SweepReport]) -> Vec<String> {
    let mut out = Vec::new();
    let builds: BTreeSet<String> = parts.iter().map(|p| p.build.to_string()).collect();
    if builds.len() > 1 {
        let list: Vec<String> = builds.into_iter().collect();
        out.push(format!(
            "the parts were run by different builds: {}",
            list.join(", ")
        ));
    }
    let ranges: BTreeSet<Option<(u64, u64)>> = parts.iter().map(|p| p.range).collect();
    if ranges.len() > 1 {
        out.push(format!("the parts swept different seed ranges: {ranges:?}"));
    }
    let counts: BTreeSet<u64> = parts.iter().filter_map(|p| p.shard.map(|s| s.1)).collect();
    for n in counts {
        let have: BTreeSet<u64> = parts
            .iter()
            .filter_map(|p| p.shard.filter(|s| s.1 == n).map(|s| s.0))
            .collect();
        let missing: Vec<String> = (1..=n)
            .filter(|k| !have.contains(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "shards {} are missing: the merged summary covers {} of {n} parts",
                missing.join(", "),
                have.len()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::Build;

    fn part(shard: Option<(u64, u64)>, commit: &str) -> SweepReport {
        SweepReport {
            format: crate::artifacts::FORMAT_VERSION,
            build: Build {
                version: "0.1.0".into(),
                commit: commit.into(),
            },
            range: Some((0, 9)),
            shard,
            scenario: "chaos".into(),
            source: "chaos".into(),
            canaries: Vec::new(),
            seeds: Vec::new(),
        }
    }

    #[test]
    fn merge_warns_of_missing_shards_and_mixed_builds() {
        let whole = [
            part(Some((1, 3)), "a"),
            part(Some((2, 3)), "a"),
            part(Some((3, 3)), "a"),
        ];
        assert!(merge_warnings(&whole).is_empty());
        let gap = [part(Some((1, 3)), "a"), part(Some((3, 3)), "a")];
        let w = merge_warnings(&gap);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("shards 2/3 are missing"), "{w:?}");
        let mixed = [part(Some((1, 2)), "a"), part(Some((2, 2)), "b")];
        let w = merge_warnings(&mixed);
        assert!(w.iter().any(|l| l.contains("different builds")), "{w:?}");
    }
}
