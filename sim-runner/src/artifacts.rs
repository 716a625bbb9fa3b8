//! Files a run leaves for people and tools: a JSON summary of every seed (mergeable
//! across shards), a Markdown summary, and an SVG timeline of single runs.

use crate::judge::Outcome;
use crate::judge::RunResult;
use proto::trace::{EventKind, Role};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What a sweep report says about one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedSummary {
    /// The seed.
    pub seed: u64,
    /// Whether every check held (or had nothing to judge).
    pub passed: bool,
    /// Whether some check was undecided and none failed (then `passed` is false).
    #[serde(default)]
    pub undecided: bool,
    /// Checks that were undecided or not judged, with the reason.
    #[serde(default)]
    pub unjudged: Vec<String>,
    /// Coverage marks the run passed through.
    #[serde(default)]
    pub marks: MarkSet,
    /// The trace hash (empty if the run panicked).
    pub trace_hash: String,
    /// Simulated seconds.
    pub simulated_secs: f64,
    /// Client operations.
    pub client_ops: usize,
    /// Leader elections.
    pub elections: usize,
    /// Faults injected, by kind.
    pub faults: BTreeMap<Cow<'static, str>, usize>,
    /// One line per failure.
    pub failures: Vec<String>,
    /// The command that reproduces it.
    pub repro: String,
}

/// A set of coverage marks (of `marks::ALL`), one bit each: a sweep keeps one per seed,
/// so it must stay small. Written as the list of their names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MarkSet(u64);

// One bit per listed mark.
const _: () = assert!(marks::ALL.len() <= 64);

impl MarkSet {
    /// The set of the listed marks among `names` (others are ignored).
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> MarkSet {
        let mut bits = 0;
        for name in names {
            if let Some(i) = marks::ALL.iter().position(|(n, _)| *n == name) {
                bits |= 1 << i;
            }
        }
        MarkSet(bits)
    }

    /// Whether the mark called `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        marks::ALL
            .iter()
            .position(|(n, _)| *n == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// The names in the set, in `marks::ALL` order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        marks::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, (n, _))| *n)
    }
}

impl Serialize for MarkSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for MarkSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names: Vec<String> = Vec::deserialize(d)?;
        Ok(MarkSet::of(names.iter().map(String::as_str)))
    }
}

impl SeedSummary {
    /// Whether a check failed (or the seed panicked): neither passed nor undecided.
    pub fn failed(&self) -> bool {
        !self.passed && !self.undecided
    }
}

/// The version of the trace header and report.json layouts.
pub const FORMAT_VERSION: u32 = 2;

/// Which build produced a file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// The crate version.
    pub version: String,
    /// The git commit built from ("unknown" outside a checkout).
    pub commit: String,
}

impl Build {
    /// This build.
    pub fn current() -> Build {
        Build {
            version: env!("CARGO_PKG_VERSION").into(),
            commit: env!("SIM_RUNNER_COMMIT").into(),
        }
    }
}

impl std::fmt::Display for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.version, self.commit)
    }
}

/// A sweep's machine-readable report; shards' reports merge by concatenating `seeds`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The layout's version ([`FORMAT_VERSION`]; 0 in reports from before it existed).
    #[serde(default)]
    pub format: u32,
    /// The build that ran it.
    #[serde(default)]
    pub build: Build,
    /// The seed range swept (half-open), when it was a range.
    #[serde(default)]
    pub range: Option<(u64, u64)>,
    /// This part K of N of a sharded sweep.
    #[serde(default)]
    pub shard: Option<(u64, u64)>,
    /// The scenario's name.
    pub scenario: String,
    /// What `--scenario` was given.
    pub source: String,
    /// Canaries that were on.
    pub canaries: Vec<String>,
    /// One entry per seed, in seed order.
    pub seeds: Vec<SeedSummary>,
}

impl SweepReport {
    /// For every listed coverage mark, how many seeds passed through it (0 included).
    pub fn mark_coverage(&self) -> Vec<(&'static str, usize)> {
        marks::ALL
            .iter()
            .map(|(name, _)| {
                let seeds = self.seeds.iter().filter(|s| s.marks.contains(name)).count();
                (*name, seeds)
            })
            .collect()
    }
}

/// Counts a run's injected faults by kind and its elections.
pub fn fault_counts(run: &RunResult) -> (BTreeMap<Cow<'static, str>, usize>, usize) {
    let mut faults: BTreeMap<Cow<'static, str>, usize> = BTreeMap::new();
    let mut elections = 0;
    for e in &run.events {
        let kind = match e.kind {
            EventKind::Role {
                role: Role::Leader, ..
            } => {
                elections += 1;
                continue;
            }
            EventKind::Partition { .. } => "partition",
            EventKind::CutLink { .. } => "one-way cut",
            EventKind::Crash { .. } => "crash",
            EventKind::DiskCrash { .. } => "power loss",
            EventKind::Pause { .. } => "pause",
            EventKind::NetworkConfig { .. } => "network change",
            EventKind::Failpoint { .. } => "failpoint",
            _ => continue,
        };
        *faults.entry(Cow::Borrowed(kind)).or_default() += 1;
    }
    (faults, elections)
}

/// The summary of one seed's outcome.
pub fn summarize(outcome: &Outcome, repro: String) -> SeedSummary {
    match outcome {
        Outcome::Ran(r) => {
            let (faults, elections) = fault_counts(r);
            SeedSummary {
                seed: r.seed,
                passed: r.passed(),
                undecided: r.undecided(),
                unjudged: r.unjudged(),
                marks: MarkSet::of(r.marks_hit.keys().copied()),
                trace_hash: format!("{:016x}", r.trace_hash),
                simulated_secs: r.end_ns as f64 / 1e9,
                client_ops: r.history.len(),
                elections,
                faults,
                failures: r.failures(),
                repro,
            }
        }
        Outcome::Panicked { seed, message } => SeedSummary {
            seed: *seed,
            passed: false,
            undecided: false,
            unjudged: Vec::new(),
            marks: MarkSet::default(),
            trace_hash: String::new(),
            simulated_secs: 0.0,
            client_ops: 0,
            elections: 0,
            faults: BTreeMap::new(),
            failures: vec![format!("panicked: {message}")],
            repro,
        },
    }
}

/// A Markdown summary of a sweep (or of one run).
pub fn markdown(report: &SweepReport, timelines: &[(u64, String)]) -> String {
    let mut out = String::new();
    let failed: Vec<&SeedSummary> = report.seeds.iter().filter(|s| s.failed()).collect();
    let undecided = report.seeds.iter().filter(|s| s.undecided).count();
    let _ = writeln!(out, "# Scenario `{}`\n", report.scenario);
    if !report.canaries.is_empty() {
        let _ = writeln!(out, "Planted bugs: {}\n", report.canaries.join(", "));
    }
    let _ = writeln!(
        out,
        "{} seeds run, {} passed, {} failed, {undecided} undecided; {:.0} simulated seconds; {} client operations.\n",
        report.seeds.len(),
        report.seeds.iter().filter(|s| s.passed).count(),
        failed.len(),
        report.seeds.iter().map(|s| s.simulated_secs).sum::<f64>(),
        report.seeds.iter().map(|s| s.client_ops).sum::<usize>()
    );
    if !failed.is_empty() {
        let _ = writeln!(
            out,
            "## Failures\n\n| seed | first failure | reproduce |\n|---|---|---|"
        );
        for s in &failed {
            let first = s
                .failures
                .first()
                .cloned()
                .unwrap_or_default()
                .replace('|', "\\|")
                .replace('\n', " ");
            let _ = writeln!(out, "| {} | {} | `{}` |", s.seed, first, s.repro);
        }
        out.push('\n');
    }
    if report.seeds.len() <= 20 {
        let _ = writeln!(out, "## Seeds\n\n| seed | verdict | trace hash | simulated s | client ops | elections |\n|---|---|---|---|---|---|");
        for s in &report.seeds {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {:.1} | {} | {} |",
                s.seed,
                if s.passed { "pass" } else { "**FAIL**" },
                s.trace_hash,
                s.simulated_secs,
                s.client_ops,
                s.elections
            );
        }
        out.push('\n');
    }
    coverage_markdown(report, &mut out);
    for (seed, file) in timelines {
        let _ = writeln!(
            out,
            "## Timeline of seed {seed}\n\n![timeline of seed {seed}]({file})\n"
        );
    }
    out
}

/// The coverage marks table: per mark, the seeds that passed through it.
fn coverage_markdown(report: &SweepReport, out: &mut String) {
    let n = report.seeds.len().max(1);
    let _ = writeln!(
        out,
        "## Coverage marks\n\n| mark | seeds | share | path |\n|---|---|---|---|"
    );
    for ((name, seeds), (_, what)) in report.mark_coverage().into_iter().zip(marks::ALL) {
        let share = 100.0 * seeds as f64 / n as f64;
        let name = if seeds == 0 {
            format!("**{name}** (never hit)")
        } else {
            format!("`{name}`")
        };
        let _ = writeln!(out, "| {name} | {seeds} | {share:.1}% | {what} |");
    }
    out.push('\n');
}
