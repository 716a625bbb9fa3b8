//! Trace validation: every step of every member judged against the protocol's rules.
//!
//! The member records one step event per Ready (see `proto::step`): the input, its state
//! before and after, the messages it decided to send and the reads it confirmed. This
//! validator walks them in trace order with its own small model of each member (votes
//! granted and made durable, the ballot a candidate is collecting, what a leader heard
//! acknowledged, its pending reads) and checks that each step is one the rules allow. It
//! shares no code with the Raft core: the configuration each member applied comes from the
//! checkers' own model ([`crate::configuration::Configs`]).
//!
//! Where the core may legitimately choose among several reactions (ignore a disruptive
//! vote request or answer it, answer a stale leader or not), every allowed one passes.
//! Each rule has a name, used in the verdict line, and a source: see [`Rule`].

mod elections;
mod membership;
mod replication;
mod rules;
mod terms;

pub use rules::Rule;

use crate::configuration::{Conf, Configs};
use crate::{Property, Violation};
use proto::step::{CoreState, RaftStep, StepInput, StepMessage};
use proto::trace::{Event, EventKind};
use proto::{Index, NodeId, Term};
use std::collections::{BTreeMap, BTreeSet};

/// One step as the rules see it: the recorded step and the configuration the member had
/// applied.
pub(crate) struct Step<'a> {
    /// The step.
    raft: &'a RaftStep,
    /// The configuration it had applied.
    pub conf: &'a Conf,
}

impl std::ops::Deref for Step<'_> {
    type Target = RaftStep;

    fn deref(&self) -> &RaftStep {
        self.raft
    }
}

impl Step<'_> {
    /// The message received, if the step was driven by one.
    pub fn received(&self) -> Option<&StepMessage> {
        match &self.input {
            StepInput::Receive { msg } => Some(msg),
            _ => None,
        }
    }
}

/// A candidate's (or pre-candidate's) round of votes, as the validator counts it.
#[derive(Clone, Debug)]
pub(crate) struct Ballot {
    /// A pre-vote round.
    pub pre: bool,
    /// The term the round is for (for a pre-vote, the term the member would campaign in).
    pub term: Term,
    /// Members that granted, itself included.
    pub grants: BTreeSet<NodeId>,
}

/// A ReadIndex request a leader has not confirmed yet.
#[derive(Clone, Debug)]
pub(crate) struct PendingRead {
    /// The application's context.
    pub context: u64,
    /// The read sequence of the first heartbeat sent after it arrived.
    pub sequence: Option<u64>,
    /// Members that answered a heartbeat sent after it arrived.
    pub acks: BTreeSet<NodeId>,
}

/// What the validator knows of a leader's term.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lead {
    /// The term led.
    pub term: Term,
    /// The highest index each member acknowledged to this leader in this term.
    pub acked: BTreeMap<NodeId, Index>,
    /// Pending reads, oldest first.
    pub reads: Vec<PendingRead>,
    /// The index of the last membership change it appended in this term (0: none).
    pub last_change: Index,
}

/// The validator's model of one member.
#[derive(Clone, Debug, Default)]
pub(crate) struct Member {
    /// Steps seen (the step number in verdicts).
    pub steps: u64,
    /// The vote this process cast: (term, candidate), its own included.
    pub granted: Option<(Term, NodeId)>,
    /// The last vote the member asked to make durable.
    pub durable: Option<(Term, NodeId)>,
    /// The round of votes it is collecting.
    pub ballot: Option<Ballot>,
    /// Its leadership.
    pub lead: Option<Lead>,
    /// Its state before its last step.
    pub before: CoreState,
}

impl Member {
    /// A process starts: what it did not make durable is gone.
    fn restart(&mut self, term: Term, vote: NodeId) {
        self.ballot = None;
        self.lead = None;
        self.granted = self.durable.filter(|(t, _)| *t == term);
        if vote != proto::NO_NODE {
            self.granted = Some((term, vote));
        }
    }
}

/// A broken rule found in one step.
pub(crate) struct Finding {
    /// The rule.
    pub rule: Rule,
    /// What happened.
    pub detail: String,
}

/// Where findings of one step go.
pub(crate) type Findings = Vec<Finding>;

/// Finds steps that break a rule.
pub fn check(events: &[Event]) -> Vec<Violation> {
    check_with(events, Configs::new(events))
}

/// [`check`] with the configuration model already read from the trace.
pub fn check_with(events: &[Event], mut configs: Configs) -> Vec<Violation> {
    let mut validator = Validator::default();
    for e in events {
        configs.apply(&e.kind);
        validator.event(e, &configs);
    }
    validator.finish()
}

/// The validator run online: fed every event as the run records it, so a sweep need not
/// keep the step events (they are most of a trace). Gives what [`check`] gives on the
/// whole trace.
#[derive(Default)]
pub struct Online {
    configs: Configs,
    validator: Validator,
}

impl Online {
    /// A validator for a run that has recorded nothing yet.
    pub fn new() -> Online {
        Online::default()
    }

    /// Follows the next event of the run.
    pub fn observe(&mut self, e: &Event) {
        self.configs.learn(&e.kind);
        self.configs.apply(&e.kind);
        self.validator.event(e, &self.configs);
    }

    /// The breaks found.
    pub fn finish(self) -> Vec<Violation> {
        self.validator.finish()
    }
}

/// Walks a trace; see the module docs.
#[derive(Default)]
struct Validator {
    members: BTreeMap<NodeId, Member>,
    /// The first break of each rule, and how many more there were.
    found: BTreeMap<Rule, (Violation, u64)>,
}

impl Validator {
    fn event(&mut self, e: &Event, configs: &Configs) {
        match &e.kind {
            EventKind::RaftStep(raft) => {
                let node = &raft.node;
                let step = Step {
                    raft,
                    conf: configs.of_ref(raft.node),
                };
                let member = self.members.entry(*node).or_default();
                member.steps += 1;
                let number = member.steps;
                let mut findings = Findings::new();
                terms::judge(&step, &mut findings);
                elections::judge(&step, member, &mut findings);
                replication::judge(&step, member, &mut findings);
                member.before = raft.before;
                for f in findings {
                    self.record(f, *node, number, e.time_ns);
                }
            }
            EventKind::ConfChangeProposed { node, entry, .. } => {
                let member = self.members.entry(*node).or_default();
                let mut findings = Findings::new();
                membership::proposed(member, entry, &mut findings);
                let number = member.steps;
                for f in findings {
                    self.record(f, *node, number, e.time_ns);
                }
            }
            EventKind::VotePersisted { node, term, vote } => {
                self.members.entry(*node).or_default().durable = Some((*term, *vote));
            }
            EventKind::Recovered {
                node, term, vote, ..
            } => self.members.entry(*node).or_default().restart(*term, *vote),
            EventKind::Crash { node } | EventKind::Stopped { node, .. } => {
                let m = self.members.entry(*node).or_default();
                m.ballot = None;
                m.lead = None;
            }
            _ => {}
        }
    }

    fn record(&mut self, f: Finding, node: NodeId, step: u64, time_ns: u64) {
        let slot = self.found.entry(f.rule).or_insert_with(|| {
            let violation = Violation {
                property: Property::TraceValidation,
                time_ns,
                nodes: vec![node],
                message: format!(
                    "rule {} ({}), member {node}, step {step}: {}",
                    f.rule.name(),
                    f.rule.source(),
                    f.detail
                ),
            };
            (violation, 0)
        });
        slot.1 += 1;
    }

    fn finish(self) -> Vec<Violation> {
        let mut out: Vec<Violation> = self
            .found
            .into_values()
            .map(|(mut v, count)| {
                if count > 1 {
                    v.message
                        .push_str(&format!(" ({} more steps broke this rule)", count - 1));
                }
                v
            })
            .collect();
        out.sort_by_key(|v| v.time_ns);
        out
    }
}
