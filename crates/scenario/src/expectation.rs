//! What a scenario expects after its run, beyond the checkers that judge every run.

use crate::noderef::NodeRef;
use serde::{Deserialize, Serialize};

/// One `[[expect]]`: what must hold (`kind` and its keys) and how the report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Expectation {
    /// Shown in the report (default: the kind and what it names).
    pub label: Option<String>,
    /// What must hold.
    #[serde(flatten)]
    pub kind: Expect,
}

impl Expectation {
    /// Its label, or a description made from its kind and what it names.
    pub fn describe(&self) -> String {
        if let Some(l) = &self.label {
            return l.clone();
        }
        let mut s = self.kind.name().to_string();
        if let Some(m) = self.kind.mark() {
            s += &format!(" {m}");
        }
        match self.kind.node() {
            Some(NodeRef::Id(n)) => s += &format!(" node {n}"),
            Some(r) => s += &format!(" {r}"),
            None => {}
        }
        s
    }
}

/// The kinds of expectations; the file's `kind` key names the variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Expect {
    /// The marked request was answered OK.
    Acknowledged {
        /// The request.
        mark: String,
    },
    /// The marked request was not answered OK (failed or never answered).
    NotAcknowledged {
        /// The request.
        mark: String,
    },
    /// The marked read was not answered OK.
    ReadNotServed {
        /// The request.
        mark: String,
    },
    /// The marked write took effect at exactly one log index and every member has it.
    AppliedOnce {
        /// The request.
        mark: String,
    },
    /// No member ever applied the marked write.
    NeverApplied {
        /// The request.
        mark: String,
    },
    /// No member applied the marked write before the step fired.
    NeverCommittedBefore {
        /// The request.
        mark: String,
        /// The step's label.
        step: String,
    },
    /// The member held the marked entry and then truncated it from its log.
    Truncated {
        /// The request.
        mark: String,
        /// The member.
        node: NodeRef,
    },
    /// The member was the first leader elected after the step fired.
    FirstLeaderAfter {
        /// The member.
        node: NodeRef,
        /// The step's label.
        step: String,
    },
    /// The member led and then stepped down (after the step, if given).
    SteppedDown {
        /// The member.
        node: NodeRef,
        /// The step's label (default: the start of the run).
        step: Option<String>,
    },
    /// Every member ends with the same last index, applied index and store, none down.
    LogsConverged {},
    /// Every member still in the cluster (not removed, not wiped) ends in this
    /// configuration, as the checkers' own model of configurations follows it from the
    /// trace.
    Configuration {
        /// The voters, by id.
        voters: Vec<u64>,
        /// The learners, by id (default: none).
        #[serde(default)]
        learners: Vec<u64>,
    },
    /// The member learned it was removed and stopped serving.
    Removed {
        /// The member.
        node: NodeRef,
    },
    /// A failpoint fired on the member.
    FailpointFired {
        /// The member.
        node: NodeRef,
    },
    /// The member did not have the marked entry in its log before the step fired.
    NotPersistedBefore {
        /// The request.
        mark: String,
        /// The member.
        node: NodeRef,
        /// The step's label.
        step: String,
    },
}

impl Expect {
    /// The name written in the file's `kind` key.
    pub fn name(&self) -> &'static str {
        match self {
            Expect::Acknowledged { .. } => "acknowledged",
            Expect::NotAcknowledged { .. } => "not-acknowledged",
            Expect::ReadNotServed { .. } => "read-not-served",
            Expect::AppliedOnce { .. } => "applied-once",
            Expect::NeverApplied { .. } => "never-applied",
            Expect::NeverCommittedBefore { .. } => "never-committed-before",
            Expect::Truncated { .. } => "truncated",
            Expect::FirstLeaderAfter { .. } => "first-leader-after",
            Expect::SteppedDown { .. } => "stepped-down",
            Expect::LogsConverged {} => "logs-converged",
            Expect::Configuration { .. } => "configuration",
            Expect::Removed { .. } => "removed",
            Expect::FailpointFired { .. } => "failpoint-fired",
            Expect::NotPersistedBefore { .. } => "not-persisted-before",
        }
    }

    /// The marked request it is about, if any.
    pub fn mark(&self) -> Option<&str> {
        match self {
            Expect::Acknowledged { mark }
            | Expect::NotAcknowledged { mark }
            | Expect::ReadNotServed { mark }
            | Expect::AppliedOnce { mark }
            | Expect::NeverApplied { mark }
            | Expect::NeverCommittedBefore { mark, .. }
            | Expect::Truncated { mark, .. }
            | Expect::NotPersistedBefore { mark, .. } => Some(mark),
            Expect::FirstLeaderAfter { .. }
            | Expect::SteppedDown { .. }
            | Expect::LogsConverged {}
            | Expect::Configuration { .. }
            | Expect::Removed { .. }
            | Expect::FailpointFired { .. } => None,
        }
    }

    /// The member it is about, if any.
    pub fn node(&self) -> Option<&NodeRef> {
        match self {
            Expect::Truncated { node, .. }
            | Expect::FirstLeaderAfter { node, .. }
            | Expect::SteppedDown { node, .. }
            | Expect::FailpointFired { node }
            | Expect::Removed { node }
            | Expect::NotPersistedBefore { node, .. } => Some(node),
            _ => None,
        }
    }

    /// The step (by label) it is judged against, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Expect::NeverCommittedBefore { step, .. }
            | Expect::FirstLeaderAfter { step, .. }
            | Expect::NotPersistedBefore { step, .. } => Some(step),
            Expect::SteppedDown { step, .. } => step.as_deref(),
            _ => None,
        }
    }
}
