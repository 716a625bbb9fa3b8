//! Configuration safety (Raft dissertation chapter 4, etcd's membership rules), judged from
//! the trace with its own model of configurations (it shares no code with the member):
//!
//! - **one change at a time**: a leader appends a configuration change only when every
//!   earlier change in its log is committed;
//! - **the new-leader rule**: a leader appends a change only after it has committed an
//!   entry of its own term (the fix to the single-server change rule: otherwise an earlier
//!   leader's uncommitted change can still be pending);
//! - **only voters lead**: a member becomes leader only while it is a voter of the
//!   configuration it applied (learners, members not yet added and removed ones never do).
//!
//! The quorum half (every commit is held by a quorum of the committing leader's
//! configuration, both halves while joint) is judged by [`crate::commit_rule`] with the
//! same model ([`Configs`]).

use crate::{Property, Violation};
use proto::conf::{ChangeKind, ConfChange};
use proto::trace::{EntryId, Event, EventKind, Role};
use proto::{Index, NodeId, Term};
use std::collections::{BTreeMap, BTreeSet};

/// A configuration as the checker models it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conf {
    /// Voters (the incoming half while joint).
    pub voters: BTreeSet<NodeId>,
    /// The outgoing half while joint; empty otherwise.
    pub outgoing: BTreeSet<NodeId>,
    /// Non-voting members.
    pub learners: BTreeSet<NodeId>,
}

impl Conf {
    /// Whether `id` votes in either half.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.outgoing.contains(&id)
    }

    /// Whether `holders` form a quorum: a majority of the voters, and of the outgoing
    /// voters while joint.
    pub fn is_quorum(&self, holders: &BTreeSet<NodeId>) -> bool {
        let majority = |set: &BTreeSet<NodeId>| {
            set.is_empty() || set.intersection(holders).count() > set.len() / 2
        };
        majority(&self.voters) && majority(&self.outgoing)
    }

    /// The configuration after `cc`, or `None` where a member ignores the change (leaving
    /// a joint configuration when not in one, changing one that is joint, demoting a
    /// voter, leaving no voter).
    pub fn after(&self, cc: &ConfChange) -> Option<Conf> {
        let joint = !self.outgoing.is_empty();
        if cc.changes.is_empty() {
            return joint.then(|| Conf {
                outgoing: BTreeSet::new(),
                ..self.clone()
            });
        }
        if joint {
            return None;
        }
        let mut next = self.clone();
        for c in &cc.changes {
            match c.kind {
                ChangeKind::AddVoter => {
                    next.learners.remove(&c.node);
                    next.voters.insert(c.node);
                }
                ChangeKind::AddLearner if next.voters.contains(&c.node) => return None,
                ChangeKind::AddLearner => {
                    next.learners.insert(c.node);
                }
                ChangeKind::Remove => {
                    next.voters.remove(&c.node);
                    next.learners.remove(&c.node);
                }
            }
        }
        if next.voters.is_empty() {
            return None;
        }
        let moved = next.voters.symmetric_difference(&self.voters).count();
        if cc.joint || moved > 1 {
            next.outgoing = self.voters.clone();
        }
        Some(next)
    }
}

impl std::fmt::Display for Conf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "voters {:?}", self.voters)?;
        if !self.outgoing.is_empty() {
            write!(f, " & outgoing {:?}", self.outgoing)?;
        }
        Ok(())
    }
}

/// Each member's applied configuration, followed event by event.
#[derive(Clone, Default)]
pub struct Configs {
    founding: Conf,
    /// What each configuration entry does, from the leaders' proposals.
    changes: BTreeMap<(Index, Term, u64), ConfChange>,
    /// Committed configuration entries by index (from members' applies).
    committed: BTreeMap<Index, ConfChange>,
    /// Each member's applied configuration.
    pub applied: BTreeMap<NodeId, Conf>,
}

fn key(e: &EntryId) -> (Index, Term, u64) {
    (e.index, e.term, e.digest)
}

impl Configs {
    /// A model for the run whose trace is `events`.
    pub fn new(events: &[Event]) -> Configs {
        let mut founding = Conf::default();
        let mut changes = BTreeMap::new();
        let mut recovered = BTreeSet::new();
        for e in events {
            match &e.kind {
                EventKind::ClusterFormed { voters } => {
                    founding.voters = voters.iter().copied().collect()
                }
                EventKind::ConfChangeProposed { entry, change, .. } => {
                    changes.insert(key(entry), change.clone());
                }
                EventKind::Recovered { node, .. } => {
                    recovered.insert(*node);
                }
                _ => {}
            }
        }
        if founding.voters.is_empty() {
            // A trace from before membership changes: the members are those that started.
            founding.voters = recovered;
        }
        Configs {
            founding,
            changes,
            committed: BTreeMap::new(),
            applied: BTreeMap::new(),
        }
    }

    /// Learns from one event what [`Configs::new`] reads from a whole trace: the founding
    /// voters and what each configuration entry does (for a model fed as the run goes; a
    /// leader records its change before any member can apply it).
    pub fn learn(&mut self, kind: &EventKind) {
        match kind {
            EventKind::ClusterFormed { voters } => {
                self.founding.voters = voters.iter().copied().collect();
            }
            EventKind::ConfChangeProposed { entry, change, .. } => {
                self.changes.insert(key(entry), change.clone());
            }
            _ => {}
        }
    }

    /// The configuration entry `e` is, if it is one.
    pub fn change(&self, e: &EntryId) -> Option<&ConfChange> {
        self.changes.get(&key(e))
    }

    /// The configuration `node` applied last.
    pub fn of(&self, node: NodeId) -> Conf {
        self.applied
            .get(&node)
            .cloned()
            .unwrap_or_else(|| self.founding.clone())
    }

    /// The configuration `node` applied last, borrowed.
    pub fn of_ref(&self, node: NodeId) -> &Conf {
        self.applied.get(&node).unwrap_or(&self.founding)
    }

    /// The configuration at `index` of the committed log.
    fn at(&self, index: Index) -> Conf {
        let mut conf = self.founding.clone();
        for cc in self.committed.range(..=index).map(|(_, cc)| cc) {
            if let Some(next) = conf.after(cc) {
                conf = next;
            }
        }
        conf
    }

    /// Follows one event.
    pub fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Applied { node, entry, .. } => {
                if let Some(cc) = self.change(entry).cloned() {
                    self.committed.insert(entry.index, cc.clone());
                    let conf = self.of(*node);
                    if let Some(next) = conf.after(&cc) {
                        self.applied.insert(*node, next);
                    }
                }
            }
            EventKind::Recovered {
                node,
                snapshot_index,
                ..
            } => {
                let conf = self.at(*snapshot_index);
                self.applied.insert(*node, conf);
            }
            EventKind::SnapshotInstalled { node, index, .. } => {
                let conf = self.at(*index);
                self.applied.insert(*node, conf);
            }
            _ => {}
        }
    }
}

/// What the checker follows for each member.
#[derive(Default)]
struct Member {
    /// The term it leads, if it does.
    leading: Option<Term>,
    /// It committed an entry of the term it leads.
    own_term_committed: bool,
    /// Its known commit index.
    commit: Index,
    /// Configuration entries in its log (index), as persisted.
    conf_entries: BTreeSet<Index>,
}

/// Finds breaches of the membership rules.
pub fn check(events: &[Event]) -> Vec<Violation> {
    check_with(events, Configs::new(events))
}

/// [`check`] with the configuration model already read from the trace.
pub fn check_with(events: &[Event], mut configs: Configs) -> Vec<Violation> {
    let mut members: BTreeMap<NodeId, Member> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        configs.apply(&e.kind);
        let fault = follow(&configs, &mut members, &e.kind);
        if let Some((node, message)) = fault {
            out.push(Violation {
                property: Property::ConfigurationSafety,
                time_ns: e.time_ns,
                nodes: vec![node],
                message,
            });
        }
    }
    out
}

fn follow(
    configs: &Configs,
    members: &mut BTreeMap<NodeId, Member>,
    kind: &EventKind,
) -> Option<(NodeId, String)> {
    match kind {
        EventKind::Role { node, role, term } => {
            let m = members.entry(*node).or_default();
            m.leading = (*role == Role::Leader).then_some(*term);
            m.own_term_committed = false;
            let conf = configs.of(*node);
            if *role == Role::Leader && !conf.is_voter(*node) {
                return Some((*node, format!(
                    "member {node} became leader of term {term} while not a voter of the configuration it applied ({conf})"
                )));
            }
        }
        EventKind::Crash { node }
        | EventKind::Stopped { node, .. }
        | EventKind::MemberRemoved { node } => {
            members.entry(*node).or_default().leading = None;
        }
        EventKind::Recovered {
            node,
            commit,
            entries,
            ..
        } => {
            let m = members.entry(*node).or_default();
            *m = Member::default();
            m.commit = *commit;
            m.conf_entries = conf_indexes(configs, entries).collect();
        }
        EventKind::LogPersisted { node, entries } => {
            let m = members.entry(*node).or_default();
            if let Some(first) = entries.first() {
                m.conf_entries.retain(|i| *i < first.index);
            }
            m.conf_entries.extend(conf_indexes(configs, entries));
        }
        EventKind::LogTruncated { node, from, .. } => {
            let m = members.entry(*node).or_default();
            m.conf_entries.retain(|i| i < from);
        }
        EventKind::SnapshotInstalled { node, index, .. } => {
            let m = members.entry(*node).or_default();
            m.conf_entries.clear();
            m.commit = m.commit.max(*index);
        }
        EventKind::Committed { node, index, term } => {
            let m = members.entry(*node).or_default();
            m.commit = m.commit.max(*index);
            if m.leading == Some(*term) {
                m.own_term_committed = true;
            }
        }
        EventKind::ConfChangeProposed {
            node,
            entry,
            change,
        } => return proposed(members.entry(*node).or_default(), *node, entry, change),
        _ => {}
    }
    None
}

/// The indexes of the configuration changes among `entries`.
fn conf_indexes<'e>(
    configs: &'e Configs,
    entries: &'e [EntryId],
) -> impl Iterator<Item = Index> + 'e {
    entries
        .iter()
        .filter(|e| configs.change(e).is_some())
        .map(|e| e.index)
}

/// Judges a change the leader `node` appended: after its own-term commit, and with no
/// earlier change in its log still uncommitted.
fn proposed(
    m: &Member,
    node: NodeId,
    entry: &EntryId,
    change: &ConfChange,
) -> Option<(NodeId, String)> {
    let term = m.leading?;
    if !m.own_term_committed {
        return Some((node, format!(
            "the leader of term {term} appended the configuration change \"{change}\" at {} before it had committed an entry of its own term (an earlier leader's change may still be pending)",
            entry.index
        )));
    }
    let pending: Vec<Index> = m
        .conf_entries
        .iter()
        .copied()
        .filter(|i| *i < entry.index && *i > m.commit)
        .collect();
    if pending.is_empty() {
        return None;
    }
    Some((node, format!(
        "the leader of term {term} appended the configuration change \"{change}\" at {} while the change at {pending:?} was not yet committed: two changes in flight",
        entry.index
    )))
}
