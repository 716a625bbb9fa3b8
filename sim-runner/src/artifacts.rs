//! Files a run leaves for people and tools: a JSON summary of every seed (mergeable
//! across shards), a Markdown summary, and an SVG timeline of single runs.

use crate::judge::Outcome;
use crate::judge::RunResult;
use proto::trace::{EventKind, Role};
use proto::NodeId;
use serde::{Deserialize, Serialize};
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
    pub marks: Vec<String>,
    /// The trace hash (empty if the run panicked).
    pub trace_hash: String,
    /// Simulated seconds.
    pub simulated_secs: f64,
    /// Client operations.
    pub client_ops: usize,
    /// Leader elections.
    pub elections: usize,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, usize>,
    /// One line per failure.
    pub failures: Vec<String>,
    /// The command that reproduces it.
    pub repro: String,
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
                let seeds = self
                    .seeds
                    .iter()
                    .filter(|s| s.marks.iter().any(|m| m == name))
                    .count();
                (*name, seeds)
            })
            .collect()
    }
}

/// Counts a run's injected faults by kind and its elections.
pub fn fault_counts(run: &RunResult) -> (BTreeMap<String, usize>, usize) {
    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
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
        *faults.entry(kind.to_string()).or_default() += 1;
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
                marks: r.marks_hit.keys().map(|m| m.to_string()).collect(),
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
            marks: Vec::new(),
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

/// An SVG timeline of one run: a lane per member showing its role and term over simulated
/// time, crashes, partitions, the commit index, and the first violation highlighted.
pub fn timeline_svg(run: &RunResult) -> String {
    let members: Vec<NodeId> = run.members.keys().copied().collect();
    let end = run.end_ns.max(1) as f64;
    let (left, width, lane, top) = (70.0, 1100.0, 46.0, 48.0);
    let x = |t: u64| left + width * (t as f64 / end);
    let lane_y = |n: NodeId| top + lane * members.iter().position(|m| *m == n).unwrap_or(0) as f64;
    let height = top + lane * members.len() as f64 + 50.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="11">"#,
        left + width + 20.0
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="16" font-size="13">seed {} · trace {:016x}</text><text x="{left}" y="32">grey follower · yellow candidate · green leader (term) · black down · purple paused · blue band partition · line commit index · red first violation</text>"#,
        run.seed, run.trace_hash
    );
    // Partitions and cuts as bands.
    let mut open: Option<(u64, String)> = None;
    let mut bands = Vec::new();
    for e in &run.events {
        match &e.kind {
            EventKind::Partition { groups } => {
                if let Some((t, label)) = open.take() {
                    bands.push((t, e.time_ns, label));
                }
                open = Some((e.time_ns, format!("{groups:?}")));
            }
            EventKind::CutLink { from, to } if open.is_none() => {
                open = Some((e.time_ns, format!("cut {from}->{to}")))
            }
            EventKind::Heal => {
                if let Some((t, label)) = open.take() {
                    bands.push((t, e.time_ns, label));
                }
            }
            _ => {}
        }
    }
    if let Some((t, label)) = open {
        bands.push((t, run.end_ns, label));
    }
    for (a, b, label) in bands {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{}" width="{:.1}" height="{}" fill="#cfe3ff" opacity="0.6"><title>{label}</title></rect>"##,
            x(a),
            top - 6.0,
            (x(b) - x(a)).max(1.0),
            lane * members.len() as f64
        );
    }
    // Per member: role segments and commit index.
    let max_commit = run
        .members
        .values()
        .map(|s| s.committed)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    for &m in &members {
        let y = lane_y(m);
        let _ = writeln!(svg, r#"<text x="8" y="{:.1}">member {m}</text>"#, y + 18.0);
        let mut state: (u64, &str, u64) = (0, "#dddddd", 0);
        let mut segments = Vec::new();
        let mut commit_points = vec![(0u64, 0u64)];
        for e in &run.events {
            let next = match &e.kind {
                EventKind::Role { node, role, term } if *node == m => Some(match role {
                    Role::Leader => ("#6cc070", *term),
                    Role::Candidate | Role::PreCandidate => ("#f2d15c", *term),
                    Role::Follower => ("#dddddd", *term),
                }),
                EventKind::Crash { node } if *node == m => Some(("#222222", state.2)),
                EventKind::Restart { node } if *node == m => Some(("#dddddd", state.2)),
                EventKind::Pause { node } if *node == m => Some(("#b39ddb", state.2)),
                EventKind::Resume { node } if *node == m => Some(("#dddddd", state.2)),
                EventKind::Committed { node, index, .. } if *node == m => {
                    commit_points.push((e.time_ns, *index));
                    None
                }
                _ => None,
            };
            if let Some((color, term)) = next {
                segments.push((state.0, e.time_ns, state.1, state.2));
                state = (e.time_ns, color, term);
            }
        }
        segments.push((state.0, run.end_ns, state.1, state.2));
        for (a, b, color, term) in segments {
            if b <= a {
                continue;
            }
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.2}" height="26" fill="{color}"><title>member {m} term {term}</title></rect>"#,
                x(a),
                (x(b) - x(a)).max(0.5)
            );
            if color == "#6cc070" && x(b) - x(a) > 18.0 {
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}">t{term}</text>"#,
                    x(a) + 2.0,
                    y + 17.0
                );
            }
        }
        let points: Vec<String> = commit_points
            .iter()
            .map(|(t, i)| {
                format!(
                    "{:.1},{:.1}",
                    x(*t),
                    y + 34.0 - 8.0 * (*i as f64 / max_commit)
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#3355aa" stroke-width="1"/>"##,
            points.join(" ")
        );
    }
    // The first violation.
    let first = run
        .verdicts
        .iter()
        .flat_map(|(_, v)| v.violations().iter())
        .filter(|v| v.time_ns != u64::MAX)
        .min_by_key(|v| v.time_ns);
    if let Some(v) = first {
        let vx = x(v.time_ns.min(run.end_ns));
        let _ = writeln!(
            svg,
            r##"<line x1="{vx:.1}" y1="{}" x2="{vx:.1}" y2="{:.1}" stroke="red" stroke-width="2"/><text x="{:.1}" y="{:.1}" fill="red">{}</text>"##,
            top - 8.0,
            top + lane * members.len() as f64,
            (vx + 4.0).min(left + width - 300.0),
            top + lane * members.len() as f64 + 14.0,
            xml_escape(&v.to_string().chars().take(140).collect::<String>())
        );
    }
    // Time axis.
    let axis_y = top + lane * members.len() as f64 + 32.0;
    let secs = (end / 1e9).ceil() as u64;
    let stride = (secs / 10).max(1);
    for s in (0..=secs).step_by(stride as usize) {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{axis_y:.1}">{s}s</text>"#,
            x(s * 1_000_000_000)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
