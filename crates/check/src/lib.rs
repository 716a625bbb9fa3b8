//! Checkers that judge a run from what it observed: the trace's events and the clients'
//! history. They depend on the shared types only, never on the Raft core, the store or the
//! simulator, and carry their own reference model of the key-value store, so a bug in the
//! node cannot hide in a shared helper.
//!
//! | property | module | source |
//! |---|---|---|
//! | election safety: at most one leader per term | [`election_safety`] | Raft paper Figure 3, §5.2 |
//! | log matching: same index and term ⇒ same entry and same prefix | [`log_matching`] | §5.3 |
//! | leader completeness: a committed entry is in every later leader's log | [`leader_completeness`] | §5.4 |
//! | commit rule: a leader commits only its own term's entries, held by a quorum of its configuration (both halves while joint) | [`commit_rule`] | §5.3, §5.4.2, dissertation §4.3 |
//! | configuration safety: one change at a time, none before the leader's own-term commit, only voters lead | [`configuration`] | dissertation ch. 4 |
//! | state machine safety: one entry per index applied everywhere | [`state_machine_safety`] | §5.4.3 |
//! | trace validation: every step of every member follows the protocol's rules | [`protocol`] | Figure 2, §5.2–§5.4, dissertation §4.3, §6.4, §9.6 |
//! | linearizability of the client history | [`linearizability`] | Herlihy & Wing |
//! | durability: no acknowledged write is lost; final stores agree | [`durability`] | — |
//! | exactly-once: a retried request is applied once | [`exactly_once`] | Raft thesis §6.3 |
//! | recoverability: a restart recovers what was made durable; no storage error stops a member | [`recoverability`] | — |
//! | liveness after faults stop | [`liveness`] | — |

pub mod commit_rule;
pub mod configuration;
pub mod durability;
pub mod election_safety;
pub mod exactly_once;
#[cfg(feature = "bench")]
pub mod generate;
pub mod history_file;
pub mod leader_completeness;
pub mod linearizability;
pub mod liveness;
pub mod log_matching;
mod logs;
pub mod model;
pub mod protocol;
pub mod recoverability;
pub mod state_machine_safety;
pub mod store_model;
mod verdict;

pub use verdict::Verdict;

use proto::history::HistoryOp;
use proto::trace::Event;
use proto::NodeId;
use serde::{Deserialize, Serialize};

/// The properties the checkers judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Property {
    /// At most one leader per term.
    ElectionSafety,
    /// Two logs with an entry of the same index and term agree up to it.
    LogMatching,
    /// A committed entry is in the log of every later leader.
    LeaderCompleteness,
    /// A leader commits only entries of its own term, once a quorum of its configuration
    /// holds them.
    CommitRule,
    /// Membership changes follow the rules: one at a time, none before the leader's
    /// own-term commit, only voters lead.
    ConfigurationSafety,
    /// No two members apply different entries at one index.
    StateMachineSafety,
    /// Every step of every member follows the protocol's rules ([`protocol::Rule`]).
    TraceValidation,
    /// The client history is linearizable.
    Linearizability,
    /// No acknowledged write is lost; final stores agree with the committed log.
    Durability,
    /// A retried request is applied once.
    ExactlyOnce,
    /// A leader and answers return once faults stop.
    Liveness,
    /// A restarted member recovers what it made durable; no storage error stops one.
    Recoverability,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Property; 12] = [
        Property::ElectionSafety,
        Property::LogMatching,
        Property::LeaderCompleteness,
        Property::CommitRule,
        Property::ConfigurationSafety,
        Property::StateMachineSafety,
        Property::TraceValidation,
        Property::Linearizability,
        Property::Durability,
        Property::ExactlyOnce,
        Property::Recoverability,
        Property::Liveness,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Property::ElectionSafety => "election safety",
            Property::LogMatching => "log matching",
            Property::LeaderCompleteness => "leader completeness",
            Property::CommitRule => "commit rule",
            Property::ConfigurationSafety => "configuration safety",
            Property::StateMachineSafety => "state machine safety",
            Property::TraceValidation => "trace validation",
            Property::Linearizability => "linearizability",
            Property::Durability => "durability",
            Property::ExactlyOnce => "exactly-once",
            Property::Liveness => "liveness",
            Property::Recoverability => "recoverability",
        }
    }
}

/// A broken property: what, when (simulated time) and on which members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The property.
    pub property: Property,
    /// Simulated time of the evidence, nanoseconds.
    pub time_ns: u64,
    /// The members (or clients) involved.
    pub nodes: Vec<NodeId>,
    /// What happened, readably.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = if self.time_ns == u64::MAX {
            "at the end".to_string()
        } else {
            format!("at {:.3}s", self.time_ns as f64 / 1e9)
        };
        write!(
            f,
            "{} violated {when} (nodes {:?}): {}",
            self.property.name(),
            self.nodes,
            self.message
        )
    }
}

/// A member's state at the end of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    /// The member.
    pub node: NodeId,
    /// Its applied index.
    pub applied: u64,
    /// A digest of its store.
    pub digest: u64,
}

/// Liveness bounds, set per scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivenessBounds {
    /// When the last fault was healed (nanoseconds); `None` skips the liveness check.
    pub healed_ns: Option<u64>,
    /// A leader must exist this long after healing.
    pub leader_within_ns: u64,
    /// An operation called after `healed_ns + leader_within_ns` must complete within this.
    pub op_within_ns: u64,
    /// The run's end; operations called after `end_ns - op_within_ns` are not judged.
    pub end_ns: u64,
    /// Why liveness cannot be judged at all in this run (Raft's timing requirement does
    /// not hold), if so.
    pub unjudgeable: Option<String>,
}

/// Everything a run observed.
#[derive(Clone, Debug)]
pub struct Observation<'a> {
    /// The trace.
    pub events: &'a [Event],
    /// The client history.
    pub history: &'a [HistoryOp],
    /// Each member's final state.
    pub finals: &'a [FinalState],
    /// Liveness bounds.
    pub liveness: LivenessBounds,
    /// Trace validation's findings if it ran online as the run recorded its events
    /// ([`protocol::Online`]); `None` to validate `events` here (they must then hold the
    /// step events).
    pub validated: Option<&'a [Violation]>,
}

/// Each property's verdict.
pub type Verdicts = Vec<(Property, Verdict)>;

/// Trace validation's verdict: found online, or judged here over the trace's steps; not
/// judged when the trace holds none (a trace written before steps were recorded, or one
/// that left them out).
fn trace_validation(obs: &Observation, configs: configuration::Configs) -> Verdict {
    if let Some(found) = obs.validated {
        return Verdict::from_violations(found.to_vec());
    }
    let has_steps = obs
        .events
        .iter()
        .any(|e| matches!(e.kind, proto::trace::EventKind::RaftStep(_)));
    if !has_steps {
        return Verdict::NotJudged("the trace holds no Raft steps to validate".into());
    }
    Verdict::from_violations(protocol::check_with(obs.events, configs))
}

/// The commands the log applied, in index order: the first member to apply each index
/// speaks for it (state machine safety judges whether the others agree).
pub fn applied_order(events: &[Event]) -> Vec<linearizability::AppliedCommand> {
    let mut by_index = std::collections::BTreeMap::new();
    for e in events {
        if let proto::trace::EventKind::Applied {
            entry,
            client,
            seq,
            fresh,
            ..
        } = &e.kind
        {
            by_index
                .entry(entry.index)
                .or_insert(linearizability::AppliedCommand {
                    index: entry.index,
                    client: *client,
                    seq: *seq,
                    fresh: *fresh,
                });
        }
    }
    by_index.into_values().collect()
}

/// Runs every checker.
pub fn check_all(obs: &Observation) -> Verdicts {
    let judged = Verdict::from_violations;
    // What each configuration entry does, read once for the two checkers that need it.
    let configs = configuration::Configs::new(obs.events);
    // Only a history with multi-key operations needs the log's order of writes.
    let applied =
        (!obs.history.iter().all(|o| o.op.is_single_key())).then(|| applied_order(obs.events));
    vec![
        (
            Property::ElectionSafety,
            judged(election_safety::check(obs.events)),
        ),
        (
            Property::LogMatching,
            judged(log_matching::check(obs.events)),
        ),
        (
            Property::LeaderCompleteness,
            judged(leader_completeness::check(obs.events)),
        ),
        (
            Property::CommitRule,
            judged(commit_rule::check_with(obs.events, configs.clone())),
        ),
        (
            Property::ConfigurationSafety,
            judged(configuration::check_with(obs.events, configs.clone())),
        ),
        (Property::TraceValidation, trace_validation(obs, configs)),
        (
            Property::StateMachineSafety,
            judged(state_machine_safety::check(obs.events)),
        ),
        (
            Property::Linearizability,
            linearizability::check_witnessed(
                obs.history,
                applied.as_deref(),
                &linearizability::Options {
                    start_revision: store_model::START_REVISION,
                    ..linearizability::Options::default()
                },
            )
            .verdict(),
        ),
        (
            Property::Durability,
            judged(durability::check(obs.events, obs.history, obs.finals)),
        ),
        (
            Property::ExactlyOnce,
            judged(exactly_once::check(obs.events)),
        ),
        (
            Property::Recoverability,
            judged(recoverability::check(obs.events)),
        ),
        (
            Property::Liveness,
            liveness::check(obs.events, obs.history, &obs.liveness),
        ),
    ]
}
