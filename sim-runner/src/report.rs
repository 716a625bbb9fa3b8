//! What the runner prints: the scenario list, one run's story and verdicts, a sweep's
//! summary.

use crate::artifacts::{SeedSummary, SweepReport};
use crate::judge::Outcome;
use crate::judge::RunResult;
use crate::scenarios::{self, Loaded};
use crate::story;
use proto::history::Outcome as OpOutcome;
use proto::trace::{EventKind, Role};
use std::collections::BTreeMap;
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// Story rows shown before eliding (the trace file has them all).
const STORY_ROWS_MAX: usize = 120;

/// The story rows to print: all of a short story; of a long one, the beginning and, when
/// the run failed, the rows that lead up to its first violation (what a reader needs),
/// else the beginning only. Returns the rows and how many were left out.
fn story_window(rows: Vec<story::Row>, violation_ns: Option<u64>) -> (Vec<story::Row>, usize) {
    let total = rows.len();
    if total <= STORY_ROWS_MAX {
        return (rows, 0);
    }
    // Rows up to the first violation (all of them when there is none).
    let end = violation_ns.map_or(total, |at| {
        let secs = at as f64 / 1e9 + 0.0005;
        rows.iter()
            .position(|r| r.time.parse::<f64>().is_ok_and(|t| t > secs))
            .unwrap_or(total)
    });
    if violation_ns.is_none() || end <= STORY_ROWS_MAX {
        let shown: Vec<story::Row> = rows.into_iter().take(STORY_ROWS_MAX).collect();
        return (shown, total - STORY_ROWS_MAX);
    }
    // The beginning, a marker, and the rows that lead up to the violation.
    let head = 20;
    let start = end - (STORY_ROWS_MAX - head - 1);
    let mut shown: Vec<story::Row> = rows[..head].to_vec();
    shown.push(story::Row {
        time: "…".into(),
        event: format!("({} events left out)", start - head),
        node: String::new(),
        term: String::new(),
    });
    shown.extend_from_slice(&rows[start..end]);
    (shown, total - head - (end - start))
}

#[derive(Tabled)]
struct NameRow {
    name: String,
    description: String,
}

/// Prints the scenarios and the canaries.
pub fn list() {
    let rows: Vec<NameRow> = scenarios::BUILT_IN
        .iter()
        .map(|b| NameRow {
            name: b.name.to_string(),
            description: scenarios::parse(b.text, b.name)
                .map(|s| s.description)
                .unwrap_or_else(|e| format!("(invalid: {e})")),
        })
        .collect();
    println!("Scenarios (--scenario NAME, or a path to your own .toml):");
    println!("{}", Table::new(rows).with(Style::sharp()));
    let rows: Vec<NameRow> = crate::canary::Canary::all()
        .iter()
        .map(|c| NameRow {
            name: c.name().to_string(),
            description: c.about(),
        })
        .collect();
    println!("Canaries (--canary NAME plants the bug; the checkers should catch it):");
    println!("{}", Table::new(rows).with(Style::sharp()));
}

#[derive(Tabled)]
struct MemberRow {
    member: u64,
    role: String,
    term: u64,
    #[tabled(rename = "last index")]
    last_index: u64,
    commit: u64,
    applied: u64,
    store: String,
}

#[derive(Tabled)]
struct VerdictRow {
    verdict: &'static str,
    check: String,
    detail: String,
}

fn tick(ok: bool) -> &'static str {
    if ok {
        "✓ pass"
    } else {
        "✗ FAIL"
    }
}

/// The repro command for a seed.
pub fn repro(loaded: &Loaded, seed: u64, canaries: &str) -> String {
    format!(
        "cargo run --release -- --scenario {} --seed {seed}{canaries}",
        loaded.source
    )
}

/// Prints one run.
pub fn single(loaded: &Loaded, outcome: &Outcome, canaries: &str) {
    let s = &loaded.scenario;
    println!("Scenario {}: {}", s.name, s.description);
    let run = match outcome {
        Outcome::Ran(r) => r,
        Outcome::Panicked { seed, message } => {
            println!("seed {seed}: the run PANICKED: {message}");
            println!("reproduce: {}", repro(loaded, *seed, canaries));
            return;
        }
    };
    println!(
        "seed {} · {:.1} simulated s · {} messages delivered, {} dropped, {} duplicated",
        run.seed,
        run.end_ns as f64 / 1e9,
        run.network.delivered,
        run.network.dropped,
        run.network.duplicated
    );
    let rows = story::story(run);
    if !rows.is_empty() {
        println!("\nWhat happened:");
        let (shown, left_out) = story_window(rows, run.first_violation().map(|v| v.time_ns));
        println!("{}", Table::new(&shown).with(Style::sharp()));
        if left_out > 0 {
            println!("({left_out} events not shown: write them all with --trace FILE)");
        }
    }
    summary(run);
    let mut verdicts: Vec<VerdictRow> = Vec::new();
    for step in &run.steps {
        if let Some(e) = &step.error {
            verdicts.push(VerdictRow {
                verdict: tick(false),
                check: format!("step: {}", step.label),
                detail: e.clone(),
            });
        }
    }
    for e in &run.expectations {
        verdicts.push(VerdictRow {
            verdict: tick(e.held),
            check: format!("expect: {}", e.label),
            detail: e.detail.clone(),
        });
    }
    for (property, verdict) in &run.verdicts {
        verdicts.push(VerdictRow {
            verdict: verdict.label(),
            check: format!("checker: {}", property.name()),
            detail: verdict.detail(),
        });
    }
    println!("\nVerdicts:");
    println!("{}", Table::new(verdicts).with(Style::sharp()));
    println!(
        "\n{} · trace hash {:016x} · reproduce: {}",
        if run.failed() {
            "FAILED"
        } else if run.undecided() {
            "UNDECIDED"
        } else {
            "PASSED"
        },
        run.trace_hash,
        repro(loaded, run.seed, canaries)
    );
}

fn summary(run: &RunResult) {
    members_table(run);
    let mut leaders: BTreeMap<u64, u64> = BTreeMap::new();
    for e in &run.events {
        if let EventKind::Role {
            node,
            role: Role::Leader,
            term,
        } = e.kind
        {
            leaders.insert(term, node);
        }
    }
    let terms: Vec<String> = leaders.iter().map(|(t, n)| format!("{t}→{n}")).collect();
    println!(
        "Leaders by term: {}",
        if terms.is_empty() {
            "none".into()
        } else {
            terms.join(", ")
        }
    );
    let (mut ok, mut failed, mut unknown) = (0, 0, 0);
    for op in &run.history {
        match op.outcome {
            OpOutcome::Ok(_) => ok += 1,
            OpOutcome::Failed => failed += 1,
            OpOutcome::Unknown => unknown += 1,
        }
    }
    let commits = run.members.values().map(|s| s.committed).max().unwrap_or(0);
    println!(
        "Client operations: {ok} ok, {failed} failed, {unknown} unknown (timed out) · highest commit index {commits}"
    );
    metrics_line(run);
    if let Some(healed) = run.healed_ns {
        println!(
            "Faults stopped at {:.3}s; liveness is judged from there.",
            healed as f64 / 1e9
        );
    }
}

/// The members at the end: role (or why it stopped), term, log, store digest.
fn members_table(run: &RunResult) {
    let members: Vec<MemberRow> = run
        .members
        .iter()
        .map(|(id, s)| MemberRow {
            member: *id,
            role: s
                .stopped
                .clone()
                .unwrap_or_else(|| s.role.map_or("-".into(), |r| r.to_string())),
            term: s.term,
            last_index: s.last_index,
            commit: s.committed,
            applied: s.applied,
            store: format!("{:016x}", s.store_digest),
        })
        .collect();
    println!("\nMembers at the end:");
    println!("{}", Table::new(members).with(Style::sharp()));
}

/// The members' metrics, summed.
fn metrics_line(run: &RunResult) {
    let mut metrics = node::Metrics::default();
    for s in run.members.values() {
        metrics.merge(&s.metrics);
    }
    let p99 = |name: &str| {
        metrics
            .histograms
            .get(name)
            .map_or(0, |h| h.quantile_upper_bound(0.99))
    };
    println!(
        "Metrics summed over members and restarts (each counts what it saw): {} leader changes seen, {} proposals committed, {} failed, {} WAL fsyncs (p99 ≤ {} µs), commit latency p99 ≤ {} µs, {} snapshots taken, {} installed",
        metrics.get("leader_changes_seen_total"),
        metrics.get("proposals_committed_total"),
        metrics.get("proposals_failed_total"),
        metrics.get("wal_fsyncs_total"),
        p99("wal_fsync_duration_us"),
        p99("commit_latency_us"),
        metrics.get("snapshots_total"),
        metrics.get("snapshots_installed_total"),
    );
}

#[derive(Tabled)]
struct SweepRow {
    #[tabled(rename = "seeds run")]
    seeds: usize,
    passed: usize,
    failed: usize,
    #[tabled(rename = "simulated s")]
    simulated: String,
    #[tabled(rename = "client ops")]
    ops: usize,
    #[tabled(rename = "leader elections")]
    elections: usize,
    #[tabled(rename = "faults injected")]
    faults: String,
}

/// Prints a sweep's summary and one line per failing seed with its repro command.
pub fn sweep(report: &SweepReport) {
    let mut faults: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &report.seeds {
        for (k, n) in &s.faults {
            *faults.entry(k.as_ref()).or_default() += n;
        }
    }
    let failed: Vec<&SeedSummary> = report.seeds.iter().filter(|s| s.failed()).collect();
    let passed = report.seeds.iter().filter(|s| s.passed).count();
    let row = SweepRow {
        seeds: report.seeds.len(),
        passed,
        failed: failed.len(),
        simulated: format!(
            "{:.0}",
            report.seeds.iter().map(|s| s.simulated_secs).sum::<f64>()
        ),
        ops: report.seeds.iter().map(|s| s.client_ops).sum(),
        elections: report.seeds.iter().map(|s| s.elections).sum(),
        faults: faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    println!("Scenario {}", report.scenario);
    println!("{}", Table::new([row]).with(Style::sharp()));
    for s in &failed {
        println!(
            "seed {} FAILED: {}\n    reproduce: {}",
            s.seed,
            s.failures.first().cloned().unwrap_or_default(),
            s.repro
        );
    }
    for s in report.seeds.iter().filter(|s| s.undecided) {
        println!(
            "seed {} UNDECIDED: {}\n    reproduce: {}",
            s.seed,
            s.unjudged.first().cloned().unwrap_or_default(),
            s.repro
        );
    }
    not_judged(report);
    coverage(report);
    let undecided = report.seeds.iter().filter(|s| s.undecided).count();
    println!(
        "{} seeds run, {passed} passed, {} failed{}",
        report.seeds.len(),
        failed.len(),
        if undecided > 0 {
            format!(", {undecided} undecided")
        } else {
            String::new()
        }
    );
}

/// One line per checker that was not judged in some seeds, with how many and the first
/// reason: a sweep never lets a check that judged nothing pass as held.
fn not_judged(report: &SweepReport) {
    let mut by_check: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for s in &report.seeds {
        for line in &s.unjudged {
            if let Some((check, why)) = line.split_once(": not judged: ") {
                by_check.entry(check).or_insert((0, why)).0 += 1;
            }
        }
    }
    for (check, (n, why)) in by_check {
        println!(
            "{check}: not judged in {n} of {} seeds (e.g. {why})",
            report.seeds.len()
        );
    }
}

/// One line on the coverage marks: how many were hit, the rarest, and those never hit.
fn coverage(report: &SweepReport) {
    let mut cov = report.mark_coverage();
    let hit = cov.iter().filter(|(_, n)| *n > 0).count();
    cov.sort_by_key(|(_, n)| *n);
    let never: Vec<&str> = cov
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(m, _)| *m)
        .collect();
    let rarest: Vec<String> = cov
        .iter()
        .filter(|(_, n)| *n > 0)
        .take(3)
        .map(|(m, n)| format!("{m} ({n})"))
        .collect();
    println!(
        "coverage marks: {hit} of {} hit; rarest: {}{}",
        cov.len(),
        rarest.join(", "),
        if never.is_empty() {
            String::new()
        } else {
            format!("; never hit: {}", never.join(", "))
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<story::Row> {
        (0..n)
            .map(|i| story::Row {
                time: format!("{:.3}", i as f64 / 100.0),
                event: format!("e{i}"),
                node: String::new(),
                term: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_long_story_is_cut_around_the_first_violation_wherever_it_is() {
        // Short: all of it.
        assert_eq!(story_window(rows(50), Some(10_000_000)).0.len(), 50);
        // A violation among the first rows, in the middle, at the end, or none.
        for at in [
            Some(20_000_000),
            Some(1_500_000_000),
            Some(2_990_000_000),
            None,
        ] {
            let (shown, left_out) = story_window(rows(300), at);
            assert!(shown.len() <= STORY_ROWS_MAX, "{at:?}");
            let real = shown.iter().filter(|r| r.time != "…").count();
            assert_eq!(real + left_out, 300, "{at:?}");
            if let Some(ns) = at {
                let t = format!("{:.3}", ns as f64 / 1e9);
                assert!(
                    shown.iter().any(|r| r.time == t),
                    "{at:?}: the violation's row is shown"
                );
            }
        }
    }
}
