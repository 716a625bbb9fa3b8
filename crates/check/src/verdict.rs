//! What a checker concluded about one property. A verdict never claims more than was
//! judged: a search that ran out of budget is `Undecided`, and a property with nothing
//! to judge in this run (liveness in a run that ends too soon after the faults, say) is
//! `NotJudged`, each with the reason. Neither is a pass.

use crate::Violation;
use serde::{Deserialize, Serialize};

/// One property's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "kebab-case")]
pub enum Verdict {
    /// Judged, and it held.
    Held,
    /// Judged, and it was violated.
    Violated(Vec<Violation>),
    /// The checker could not decide (why): not a violation, not a pass.
    Undecided(String),
    /// Nothing to judge in this run (why).
    NotJudged(String),
}

impl Verdict {
    /// `Held` when `violations` is empty, else `Violated`.
    pub fn from_violations(violations: Vec<Violation>) -> Verdict {
        if violations.is_empty() {
            Verdict::Held
        } else {
            Verdict::Violated(violations)
        }
    }

    /// The violations found (empty unless `Violated`).
    pub fn violations(&self) -> &[Violation] {
        match self {
            Verdict::Violated(v) => v,
            _ => &[],
        }
    }

    /// Whether a violation was found.
    pub fn is_violated(&self) -> bool {
        matches!(self, Verdict::Violated(_))
    }

    /// Whether the property was judged and held.
    pub fn held(&self) -> bool {
        matches!(self, Verdict::Held)
    }

    /// A short label for tables: `pass`, `FAIL`, `undecided`, `not judged`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Held => "✓ pass",
            Verdict::Violated(_) => "✗ FAIL",
            Verdict::Undecided(_) => "? undecided",
            Verdict::NotJudged(_) => "- not judged",
        }
    }

    /// One line of detail: the first violation, or the reason (empty when it held).
    pub fn detail(&self) -> String {
        match self {
            Verdict::Held => String::new(),
            Verdict::Violated(v) if v.len() == 1 => v[0].to_string(),
            Verdict::Violated(v) => format!("{} (and {} more)", v[0], v.len() - 1),
            Verdict::Undecided(why) | Verdict::NotJudged(why) => why.clone(),
        }
    }
}
