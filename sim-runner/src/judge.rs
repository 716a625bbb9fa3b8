//! Judges a recording: every checker, then the scenario's expectations. Also the one entry
//! point that simulates and judges a seed, and what a seed gave (a judged run or a panic).

use crate::engine::{self, Recording};
use crate::expect::ExpectationVerdict;
use crate::scenarios::Loaded;
use scenario::Scenario;
use sim::Canaries;
use std::collections::BTreeMap;

/// A recording with its verdicts.
#[derive(Debug)]
pub struct RunResult {
    /// What the run did.
    pub rec: Recording,
    /// Each checker's verdict.
    pub verdicts: check::Verdicts,
    /// Each expectation: label, held, detail.
    pub expectations: Vec<ExpectationVerdict>,
    /// Coverage marks the run passed through, with counts.
    pub marks_hit: BTreeMap<&'static str, u64>,
}

impl std::ops::Deref for RunResult {
    type Target = Recording;

    fn deref(&self) -> &Recording {
        &self.rec
    }
}

impl RunResult {
    /// The verdict of checker `property`.
    pub fn verdict(&self, property: check::Property) -> Option<&check::Verdict> {
        self.verdicts
            .iter()
            .find(|(p, _)| *p == property)
            .map(|(_, v)| v)
    }

    /// Whether every step fired, every expectation held and every checker either held or
    /// had nothing to judge (an undecided checker is not a pass).
    pub fn passed(&self) -> bool {
        !self.failed() && !self.undecided()
    }

    /// Whether a step did not fire, an expectation failed or a checker found a violation.
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| s.error.is_some())
            || self.verdicts.iter().any(|(_, v)| v.is_violated())
            || self.expectations.iter().any(|e| !e.held)
    }

    /// Whether some checker could not decide (and nothing failed outright).
    pub fn undecided(&self) -> bool {
        !self.failed()
            && self
                .verdicts
                .iter()
                .any(|(_, v)| matches!(v, check::Verdict::Undecided(_)))
    }

    /// One line per check that was undecided or not judged, with the reason.
    pub fn unjudged(&self) -> Vec<String> {
        self.verdicts
            .iter()
            .filter_map(|(p, v)| match v {
                check::Verdict::Undecided(why) => Some(format!("{}: undecided: {why}", p.name())),
                check::Verdict::NotJudged(why) => Some(format!("{}: not judged: {why}", p.name())),
                _ => None,
            })
            .collect()
    }

    /// The earliest violation with a time (those judged only at the end have none).
    pub fn first_violation(&self) -> Option<&check::Violation> {
        self.verdicts
            .iter()
            .flat_map(|(_, v)| v.violations().iter())
            .filter(|v| v.time_ns != u64::MAX)
            .min_by_key(|v| v.time_ns)
    }

    /// One line per failure.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.steps {
            if let Some(e) = &s.error {
                out.push(format!("step {:?}: {e}", s.label));
            }
        }
        for (p, v) in &self.verdicts {
            if let Some(first) = v.violations().first() {
                out.push(format!("{}: {}", p.name(), first.message));
            }
        }
        for e in self.expectations.iter().filter(|e| !e.held) {
            out.push(format!("expectation {:?}: {}", e.label, e.detail));
        }
        out
    }
}

/// Judges `rec` with every checker and `scenario`'s expectations.
pub fn judge(scenario: &Scenario, rec: Recording) -> RunResult {
    let bounds = check::LivenessBounds {
        healed_ns: Some(rec.healed_ns.unwrap_or(0)),
        leader_within_ns: scenario.liveness.leader_within_ms * 1_000_000,
        op_within_ns: scenario.liveness.op_within_ms * 1_000_000,
        end_ns: rec.end_ns,
        unjudgeable: config::liveness_unjudgeable(&rec.config, &rec.final_network),
    };
    let observation = check::Observation {
        events: &rec.events,
        history: &rec.history,
        finals: &rec.finals,
        liveness: bounds,
        validated: rec.validated.as_deref(),
    };
    let verdicts = check::check_all(&observation);
    let expectations = crate::expect::evaluate(scenario, &rec);
    RunResult {
        rec,
        verdicts,
        expectations,
        marks_hit: BTreeMap::new(),
    }
}

/// Simulates one seed of the scenario and judges it.
pub fn run(loaded: &Loaded, seed: u64, canaries: Canaries) -> RunResult {
    // The whole run lives on this thread: count the coverage marks it passes.
    marks::start();
    let rec = engine::simulate(loaded, seed, canaries);
    let hit = marks::take();
    let mut result = judge(&loaded.scenario, rec);
    result.marks_hit = hit;
    result
}

/// Runs one seed (twice with `determinism`), turning a panic into a recorded failure.
pub fn run_checked(loaded: &Loaded, seed: u64, canaries: Canaries, determinism: bool) -> Outcome {
    let first = run_catching(loaded, seed, canaries);
    let mismatch = if determinism {
        let second = run_catching(loaded, seed, canaries);
        match (&first, &second) {
            (Outcome::Ran(a), Outcome::Ran(b)) if a.trace_hash != b.trace_hash => Some(format!(
                "determinism: a second run gave trace hash {:016x}, the first {:016x}",
                b.trace_hash, a.trace_hash
            )),
            (Outcome::Panicked { message: a, .. }, Outcome::Panicked { message: b, .. })
                if a != b =>
            {
                Some("determinism: the two runs panicked differently".into())
            }
            (Outcome::Ran(_), Outcome::Panicked { .. })
            | (Outcome::Panicked { .. }, Outcome::Ran(_)) => {
                Some("determinism: one run panicked and the other did not".into())
            }
            _ => None,
        }
    } else {
        None
    };
    match (first, mismatch) {
        (Outcome::Ran(mut r), Some(m)) => {
            r.expectations.push(ExpectationVerdict {
                label: "determinism".into(),
                held: false,
                detail: m,
            });
            Outcome::Ran(r)
        }
        (Outcome::Ran(mut r), None) if determinism => {
            let same = format!("trace hash {:016x} both times", r.trace_hash);
            r.expectations.push(ExpectationVerdict {
                label: "determinism: the seed run twice".into(),
                held: true,
                detail: same,
            });
            Outcome::Ran(r)
        }
        (o, _) => o,
    }
}

fn run_catching(loaded: &Loaded, seed: u64, canaries: Canaries) -> Outcome {
    catch(seed, || run(loaded, seed, canaries))
}

/// What one seed gave.
#[derive(Debug)]
pub enum Outcome {
    /// The run completed (and was judged).
    Ran(Box<RunResult>),
    /// The run panicked: a recorded failure.
    Panicked {
        /// The seed.
        seed: u64,
        /// The panic message.
        message: String,
    },
}

impl Outcome {
    /// Whether the seed passed.
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Ran(r) if r.passed())
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        match self {
            Outcome::Ran(r) => r.seed,
            Outcome::Panicked { seed, .. } => *seed,
        }
    }
}

/// Runs `f` for `seed`; a panic becomes a recorded failure instead of ending the sweep.
pub fn catch(seed: u64, f: impl FnOnce() -> RunResult) -> Outcome {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Outcome::Ran(Box::new(r)),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Panicked { seed, message }
        }
    }
}
