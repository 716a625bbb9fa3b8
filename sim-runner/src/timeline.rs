//! The timeline as it plays: resolving member references against the live cluster,
//! watching the trace for step conditions, and carrying out each step's action.

use disk::{Damage, DiskFaults, FaultMode};
use node::entry_id;
use proto::kv::{Command, Op};
use proto::raft::{Entry, EntryKind};
use proto::trace::{EventKind, Role};
use proto::{Index, NodeId};
use scenario::{Action, Condition, EntryState, NodeRef, Request, Step};
use sim::{Cluster, Control, RetryPolicy, ScriptedRequest};
use std::collections::{BTreeMap, BTreeSet};

/// A scenario's marked request.
#[derive(Clone, Debug)]
pub struct Mark {
    /// The scripted client that sent it (its request is sequence number 1).
    pub client: NodeId,
    /// Digest of the log entry it becomes (the same for every retry).
    pub digest: u64,
}

/// What the timeline has seen of the trace so far, for conditions.
#[derive(Default)]
struct Watch {
    next_event: usize,
    /// digest -> member -> index where it persisted it
    persisted: BTreeMap<u64, BTreeMap<NodeId, Index>>,
    committed: BTreeMap<NodeId, Index>,
    /// digest -> members that applied it
    applied: BTreeMap<u64, BTreeSet<NodeId>>,
    /// (time, node, role, term), in order
    roles: Vec<(u64, NodeId, Role, u64)>,
}

impl Watch {
    fn update(&mut self, cluster: &Cluster) {
        let from = self.next_event;
        self.next_event = cluster.world.with_events(|events| {
            for e in &events[from.min(events.len())..] {
                self.see(e.time_ns, &e.kind);
            }
            events.len()
        });
    }

    fn see(&mut self, time_ns: u64, kind: &EventKind) {
        match kind {
            EventKind::LogPersisted { node, entries } => {
                for id in entries {
                    let at = self.persisted.entry(id.digest).or_default();
                    at.insert(*node, id.index);
                }
            }
            EventKind::Committed { node, index, .. } => {
                self.committed.insert(*node, *index);
            }
            EventKind::Recovered { node, commit, .. } => {
                self.committed.insert(*node, *commit);
            }
            EventKind::Applied { node, entry, .. } => {
                self.applied.entry(entry.digest).or_default().insert(*node);
            }
            EventKind::Role { node, role, term } => self.roles.push((time_ns, *node, *role, *term)),
            _ => {}
        }
    }

    /// Whether `digest` has reached `state` on `node`.
    fn reached(&self, digest: u64, state: EntryState, node: NodeId) -> bool {
        let index = self.persisted.get(&digest).and_then(|m| m.get(&node));
        match state {
            EntryState::Persisted => index.is_some(),
            EntryState::Committed => {
                index.is_some_and(|i| self.committed.get(&node).is_some_and(|c| c >= i))
            }
            EntryState::Applied => self.applied.get(&digest).is_some_and(|s| s.contains(&node)),
        }
    }
}

/// The live cluster with what the steps so far have named.
pub struct Timeline {
    /// The cluster.
    pub cluster: Cluster,
    /// The scenario's disk settings, which a "disk" step changes from.
    pub(crate) disk: DiskFaults,
    /// Saved node bindings.
    pub bindings: BTreeMap<String, Vec<NodeId>>,
    /// Marked requests by name.
    pub marks: BTreeMap<String, Mark>,
    watch: Watch,
}

impl Timeline {
    /// A timeline over `cluster`, whose disks run with `disk` unless a step changes them.
    pub fn new(cluster: Cluster, disk: DiskFaults) -> Timeline {
        Timeline {
            cluster,
            disk,
            bindings: BTreeMap::new(),
            marks: BTreeMap::new(),
            watch: Watch::default(),
        }
    }

    /// The members now (removed ones excluded, added ones included).
    pub(crate) fn members(&self) -> Vec<NodeId> {
        self.cluster.current_members()
    }

    fn leader(&self) -> Result<NodeId, String> {
        self.cluster
            .leader()
            .ok_or_else(|| "there is no leader".into())
    }

    fn followers(&self) -> Result<Vec<NodeId>, String> {
        let leader = self.leader()?;
        Ok(self
            .members()
            .into_iter()
            .filter(|m| *m != leader)
            .collect())
    }

    /// Resolves a node reference to members.
    pub(crate) fn resolve(&self, r: &NodeRef) -> Result<Vec<NodeId>, String> {
        match r {
            NodeRef::Id(id) => Ok(vec![*id]),
            NodeRef::Leader => Ok(vec![self.leader()?]),
            NodeRef::Followers => self.followers(),
            NodeRef::All | NodeRef::Majority => Ok(self.members()),
            NodeRef::Follower(k) => {
                let followers = self.followers()?;
                let at = usize::try_from(*k).unwrap_or(usize::MAX).saturating_sub(1);
                followers
                    .get(at)
                    .map(|f| vec![*f])
                    .ok_or_else(|| format!("there is no follower {k}"))
            }
            NodeRef::Saved(b) => self
                .bindings
                .get(b)
                .cloned()
                .ok_or_else(|| format!("nothing is saved as {b:?}")),
            // Only partitions name "others", and they resolve it themselves.
            NodeRef::Others => Err("\"others\" outside a partition".into()),
        }
    }

    pub(crate) fn one(&self, r: &NodeRef) -> Result<NodeId, String> {
        let nodes = self.resolve(r)?;
        match nodes.as_slice() {
            [n] => Ok(*n),
            _ => Err(format!(
                "\"{r}\" names {} members where one is needed",
                nodes.len()
            )),
        }
    }

    /// Whether the condition holds now; `started_ns` is when the step began waiting.
    pub fn holds(&mut self, c: &Condition, started_ns: u64) -> Result<bool, String> {
        self.watch.update(&self.cluster);
        if c.leader == Some(true) {
            let Some(leader) = self.cluster.leader() else {
                return Ok(false);
            };
            if let Some(not) = &c.leader_not {
                if self.resolve(not)?.contains(&leader) {
                    return Ok(false);
                }
            }
        }
        if let Some(name) = &c.stepped_down {
            let node = self.one(name)?;
            let down = self
                .watch
                .roles
                .iter()
                .any(|(t, n, role, _)| *t >= started_ns && *n == node && *role != Role::Leader);
            if !down {
                return Ok(false);
            }
        }
        match &c.entry {
            Some(entry) => Ok(self.entry_reached(entry, c)),
            None => Ok(true),
        }
    }

    fn entry_reached(&self, entry: &str, c: &Condition) -> bool {
        let digest = self.marks[entry].digest;
        let state = c.state.unwrap_or_default();
        let targets = match &c.on {
            None => match self.cluster.leader() {
                Some(l) => vec![l],
                None => return false,
            },
            Some(r) => match self.resolve(r) {
                Ok(t) => t,
                Err(_) => return false,
            },
        };
        let count = targets
            .iter()
            .filter(|n| self.watch.reached(digest, state, **n))
            .count();
        match c.on {
            Some(NodeRef::Majority) => count > self.members().len() / 2,
            _ => count == targets.len(),
        }
    }

    /// Carries out the step's action, then saves what it names if asked to.
    pub fn act(&mut self, step: &Step) -> Result<(), String> {
        let node = match (&step.action, step.action.node()) {
            // A new member: its id is the next one never used.
            (Action::AddLearner { .. } | Action::AddVoter { .. }, None) => {
                Some(self.cluster.next_member_id())
            }
            (_, Some(r)) => Some(self.one(r)?),
            (_, None) => None,
        };
        self.perform(&step.action, node)?;
        if let Some(name) = &step.save {
            let saved = match node {
                Some(n) => n,
                None => self
                    .cluster
                    .leader()
                    .ok_or("nothing to save: no node and no leader")?,
            };
            self.bindings.insert(name.clone(), vec![saved]);
        }
        Ok(())
    }

    /// `node` is the action's own member, resolved.
    fn perform(&mut self, action: &Action, node: Option<NodeId>) -> Result<(), String> {
        let world = self.cluster.world.clone();
        let need_node = || node.ok_or_else(|| "no node".to_string());
        match action {
            Action::Crash { .. } => world.crash(need_node()?, None),
            Action::PowerLoss { .. } => world.crash(need_node()?, Some(FaultMode::DropAll)),
            Action::TornCrash { .. } => world.crash(need_node()?, Some(FaultMode::TornPrefix)),
            Action::ReorderedCrash { .. } => {
                world.crash(need_node()?, Some(FaultMode::Independent))
            }
            Action::BitRot { .. } => self.damage(need_node()?, Damage::BitRot)?,
            Action::MisdirectedWrite { .. } => self.damage(need_node()?, Damage::Misdirected)?,
            Action::Recover { node: r } => self.recover(r)?,
            Action::Restart { .. } => world.restart(need_node()?),
            Action::Pause { .. } => world.pause(need_node()?),
            Action::Resume { .. } => world.resume(need_node()?),
            Action::Campaign { .. } => self.control(need_node()?, Control::Campaign)?,
            Action::Transfer { to, .. } => {
                let to = self.one(to)?;
                self.control(need_node()?, Control::TransferLeader(to))?
            }
            Action::Partition { groups } => world.partition(self.groups(groups)?),
            Action::Cut { from, to } => {
                for from in self.resolve(from)? {
                    for to in self.resolve(to)? {
                        world.cut(from, to);
                    }
                }
            }
            Action::Heal {} => world.heal(),
            Action::Drop(f) => self.filter(f, false)?,
            Action::Hold(f) => self.filter(f, true)?,
            Action::Release {} => world.release(),
            Action::ClearDrops {} => world.clear_filters(),
            Action::Failpoint {
                failpoint,
                fail_action,
                count,
                ..
            } => self.arm(node, failpoint, *fail_action, *count)?,
            Action::Disarm {} => self.cluster.failpoints.disarm_all(),
            Action::Network(n) => self.network(n),
            Action::Disk(d) => self.disk(d),
            Action::Write(r) => self.request(r, true, node),
            Action::Read(r) => self.request(r, false, node),
            Action::Note { .. } => {}
            Action::WipeDisk { .. } => {
                if !world.wipe(need_node()?) {
                    return Err("the member is up: wipe a stopped member's disk".into());
                }
            }
            Action::AddLearner { .. }
            | Action::AddVoter { .. }
            | Action::AddVoters { .. }
            | Action::Promote { .. }
            | Action::Remove { .. }
            | Action::Replace { .. } => self.membership(action, node)?,
        }
        Ok(())
    }

    /// Asks the leader for a membership change, first starting the new members it adds
    /// (with new ids and empty disks).
    fn membership(&mut self, action: &Action, node: Option<NodeId>) -> Result<(), String> {
        use proto::conf::{ChangeKind, ConfChange, ConfChangeSingle};
        let leader = self.leader()?;
        let single = |kind, node| ConfChangeSingle { kind, node };
        let node = || node.ok_or_else(|| "no node".to_string());
        let mut fresh = Vec::new();
        let cc = match action {
            Action::AddLearner { .. } => {
                fresh.push(node()?);
                ConfChange::single(ChangeKind::AddLearner, node()?)
            }
            Action::AddVoter { .. } => {
                fresh.push(node()?);
                ConfChange::single(ChangeKind::AddVoter, node()?)
            }
            Action::AddVoters { count } => {
                let first = self.cluster.next_member_id();
                fresh.extend(first..first + count);
                let changes = fresh.iter().map(|id| single(ChangeKind::AddVoter, *id));
                ConfChange {
                    changes: changes.collect(),
                    joint: true,
                }
            }
            Action::Promote { .. } => ConfChange::single(ChangeKind::AddVoter, node()?),
            Action::Remove { .. } => ConfChange::single(ChangeKind::Remove, node()?),
            Action::Replace { .. } => {
                let new = self.cluster.next_member_id();
                fresh.push(new);
                ConfChange {
                    changes: vec![
                        single(ChangeKind::Remove, node()?),
                        single(ChangeKind::AddVoter, new),
                    ],
                    joint: true,
                }
            }
            _ => unreachable!("only membership actions come here"),
        };
        for id in fresh {
            // An id already started (a learner being promoted) is simply not started again.
            self.cluster.add_member(id);
        }
        self.control(leader, Control::ConfChange(cc))
    }

    /// A scripted client sends the request, first to `node` (or the leader, or member 1).
    fn request(&mut self, r: &Request, write: bool, node: Option<NodeId>) {
        let op = if write {
            Op::Put {
                key: r.key.clone(),
                value: r.value.clone().unwrap_or_else(|| r.mark.clone()),
            }
        } else {
            Op::Get { key: r.key.clone() }
        };
        let target = node.unwrap_or_else(|| self.cluster.leader().unwrap_or(1));
        let request = ScriptedRequest {
            op: op.clone(),
            target,
            policy: RetryPolicy {
                retry: r.retry.unwrap_or(true),
                request_timeout_ms: r.request_timeout_ms.unwrap_or(500),
                op_timeout_ms: 8_000,
            },
        };
        let client = self.cluster.scripted(request);
        let command = Command {
            client_id: client,
            seq: 1,
            op,
        };
        let digest = entry_id(&Entry {
            index: 0,
            term: 0,
            kind: EntryKind::Normal,
            data: command.encode(),
        })
        .digest;
        self.marks.insert(r.mark.clone(), Mark { client, digest });
    }
}
