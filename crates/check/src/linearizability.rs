//! Linearizability of the client history against the reference model, key by key.
//!
//! Every operation touches one key, so the history is linearizable iff each key's
//! sub-history is (locality, Herlihy & Wing). For each key:
//!
//! 1. Operations that certainly did not happen (failed) are dropped, and so are reads
//!    without an answer.
//! 2. Every written value is unique, so a read names the write it saw. Writes whose outcome
//!    is unknown and whose value nobody observed are interchangeable: whichever of them
//!    takes effect, the key holds "some value no read returned". They are not searched one
//!    by one; they form pools (unobserved puts; deletes; unobserved compare-and-swaps by
//!    the value they compare with) of which the search only counts how many it has used,
//!    taking the earliest called first (an exchange argument shows that loses nothing),
//!    and only right before an operation that needs the effect. Likewise a completed
//!    write whose value nobody observed writes an anonymous value. This removes most of
//!    the search's width when many requests time out.
//! 3. What remains is searched depth-first in the style of Wing & Gong / Lowe: the next
//!    operation to linearize is one that was called before the earliest pending return;
//!    (set of linearized operations, state) pairs already explored are remembered by
//!    Zobrist hash, so no configuration is explored twice. The search has a step budget;
//!    running out is reported as undecided, never as a pass.
//!
//! On failure the report names the key, the longest linearizable prefix found, the state
//! there, and the operations none of which could come next: the smallest part of the
//! history that shows the problem.

mod key_failure;
mod ordered;
mod per_key;
mod prepare;
mod revisions;
mod witnessed;

pub use witnessed::AppliedCommand;

use crate::{Property, Verdict, Violation};
use prepare::{impossible_value, prune};
use proto::history::HistoryOp;
use std::collections::BTreeMap;

/// Search steps allowed per key before giving up as undecided (the default of
/// [`Options::budget`]).
pub const STEP_BUDGET: u64 = 20_000_000;

/// How the times of a history are shown in explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Nanoseconds, shown as seconds (the simulator's histories).
    Nanoseconds,
    /// Whatever unit the history used, shown as the plain numbers (history files).
    AsGiven,
}

impl TimeUnit {
    /// `t` in this unit, for a person.
    pub fn show(self, t: u64) -> String {
        match self {
            TimeUnit::Nanoseconds => format!("{:.6}s", t as f64 / 1e9),
            TimeUnit::AsGiven => t.to_string(),
        }
    }
}

/// How to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Search steps allowed per key; past it the key is undecided, never failed.
    pub budget: u64,
    /// How times are shown.
    pub unit: TimeUnit,
    /// Whether the history records the revisions the store returned (the simulator's
    /// always do; a history file may not): then the whole store is searched with
    /// revisions as one order (see the `ordered` module) instead of key by key.
    pub revisions: bool,
    /// Whether the history is complete: it records every write, and the store started
    /// empty at revision 0. Then every revision up to the highest seen was made by a
    /// recorded write. The simulator's histories are; one from elsewhere says so itself.
    pub complete: bool,
    /// The revision the store started at: revisions up to it were made before the
    /// history (etcd's store and ours start at 1, [`crate::store_model::START_REVISION`];
    /// the default, 0, is a store that counts its first write as revision 1).
    pub start_revision: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            budget: STEP_BUDGET,
            unit: TimeUnit::Nanoseconds,
            revisions: true,
            complete: true,
            start_revision: 0,
        }
    }
}

/// Why one key's history is not linearizable (or could not be decided).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFailure {
    /// The key.
    pub key: String,
    /// The simulated time around which it fails (the first operation that cannot be
    /// placed returned then).
    pub time_ns: u64,
    /// The clients involved.
    pub clients: Vec<u64>,
    /// A readable account.
    pub explanation: String,
    /// True when the search ran out of budget (not a proof of a violation).
    pub undecided: bool,
}

/// The outcome of checking a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Keys checked.
    pub keys: usize,
    /// Operations considered after pruning.
    pub operations: usize,
    /// Search steps taken over all keys.
    pub steps: u64,
    /// Operations that completed with a known result (what there is to judge).
    pub completed: usize,
    /// Keys that failed or were undecided.
    pub failures: Vec<KeyFailure>,
    /// What was judged less than asked, if anything (see [`check_with`]).
    pub note: Option<String>,
}

impl Report {
    /// Whether every key's history is linearizable (false also when undecided; true
    /// when, past the whole-store search's budget, every key held: see `note`).
    pub fn linearizable(&self) -> bool {
        self.failures.is_empty()
    }

    /// Whether some key certainly has no linearization.
    pub fn violated(&self) -> bool {
        self.failures.iter().any(|f| !f.undecided)
    }

    /// The verdict: a violation only where proven, undecided where the budget ran out,
    /// not judged when no operation completed.
    pub fn verdict(&self) -> Verdict {
        if self.violated() {
            return Verdict::Violated(self.violations());
        }
        // Key by key it held, but the whole store's order was not decided: no pass.
        if let (Some(note), true) = (&self.note, self.failures.is_empty()) {
            return Verdict::Undecided(note.clone());
        }
        if let Some(f) = self.failures.first() {
            return Verdict::Undecided(format!(
                "the search budget ran out on {} key(s), first {} (after the longest linearizable prefix found)",
                self.failures.len(),
                f.key
            ));
        }
        if self.completed == 0 {
            return Verdict::NotJudged("no client operation completed".into());
        }
        Verdict::Held
    }

    /// The proven failures as violations.
    pub fn violations(&self) -> Vec<Violation> {
        self.failures
            .iter()
            .filter(|f| !f.undecided)
            .map(|f| Violation {
                property: Property::Linearizability,
                time_ns: f.time_ns,
                nodes: f.clients.clone(),
                message: format!("key {}: {}", f.key, f.explanation),
            })
            .collect()
    }
}

/// Checks a whole history with the default options (a simulator history).
pub fn check(history: &[HistoryOp]) -> Report {
    check_with(history, &Options::default())
}

/// Checks a whole history, given the order in which the log applied its writes when
/// that is known (the simulator's trace gives it). A history with multi-key operations
/// (ranges, delete-ranges, transactions, compactions) needs that order (see the
/// `witnessed` module); without it, it is undecided. A history of single-key operations
/// is judged without it, by search.
pub fn check_witnessed(
    history: &[HistoryOp],
    applied: Option<&[AppliedCommand]>,
    options: &Options,
) -> Report {
    match applied {
        Some(applied) if !history.iter().all(|o| o.op.is_single_key()) => {
            witnessed::check(history, applied, options.unit)
        }
        _ => check_with(history, options),
    }
}

/// Checks a whole history without the log's order of writes: by search, which judges
/// single-key operations only; a history with multi-key ones is undecided.
pub fn check_with(history: &[HistoryOp], options: &Options) -> Report {
    if !history.iter().all(|o| o.op.is_single_key()) {
        return Report {
            note: Some(
                "the history has multi-key operations (ranges, transactions, delete-ranges or compactions), which are judged in the order the log applied the writes, and that order was not given".into(),
            ),
            ..Report::default()
        };
    }
    if options.revisions {
        return check_ordered(history, options);
    }
    check_per_key(history, options)
}

/// Key by key, values only (histories without revisions, and the fallback).
fn check_per_key(history: &[HistoryOp], options: &Options) -> Report {
    let mut report = Report::default();
    let lookup = revisions::Lookup::new(history, options.revisions);
    let decided = revisions::decide_compares(history, &lookup);
    let mut by_key: BTreeMap<&str, Vec<&HistoryOp>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        let op = decided.get(&i).unwrap_or(op);
        by_key.entry(op.op.key()).or_default().push(op);
    }
    report.keys = by_key.len();
    for (key, ops) in by_key {
        if let Some(f) = impossible_value(key, &ops, options.unit) {
            report.failures.push(f);
            continue;
        }
        let prepared = prune(&ops);
        report.operations +=
            prepared.ops.len() + prepared.pools.iter().map(|p| p.calls.len()).sum::<usize>();
        report.completed += prepared.ops.iter().filter(|o| o.completed()).count();
        let (steps, failure) = per_key::search(key, &prepared, options);
        report.steps += steps;
        if let Some(f) = failure {
            report.failures.push(f);
        }
    }
    report
}

/// A history with revisions: first the rules that name the revisions at fault at once
/// (each holds in every legal execution), then, if none fails, the search over the whole
/// store with revisions as one order, which is exact. When that search runs out of its
/// steps (a wide history with many writes whose outcome is unknown), the history is
/// judged key by key, with the revision rules, and the report says the whole-store order
/// was not decided.
fn check_ordered(history: &[HistoryOp], options: &Options) -> Report {
    let lookup = revisions::Lookup::new(history, true);
    let failures = revisions::check(history, &lookup, options.unit);
    let outcome = ordered::check(history, options, failures.is_empty());
    if outcome.failure.as_ref().is_some_and(|f| f.undecided) {
        let mut report = check_per_key(history, options);
        report.steps += outcome.steps;
        report.note = Some(format!(
            "the order of the whole store by revisions was not decided within {} search steps; judged key by key, with the revision rules",
            outcome.budget
        ));
        return report;
    }
    let mut report = Report {
        keys: outcome.keys,
        operations: outcome.operations,
        steps: outcome.steps,
        completed: outcome.completed,
        failures,
        note: None,
    };
    // The rules name the revisions at fault more plainly; the search runs only when
    // they found nothing.
    report.failures.extend(outcome.failure);
    report
}

/// The store's start as writes a complete history can account for: one answered put per
/// revision up to `start`, each on a key of its own that no client uses, done at time 0.
fn start_writes(start: u64) -> Vec<HistoryOp> {
    (1..=start)
        .map(|r| HistoryOp {
            client: 0,
            seq: r,
            op: proto::kv::Op::Put {
                key: format!("\u{0}(the store started at revision {start})#{r}"),
                value: String::new(),
            },
            call_ns: 0,
            return_ns: Some(0),
            outcome: proto::history::Outcome::Ok(proto::kv::OpResult::Put { revision: r }),
        })
        .collect()
}
