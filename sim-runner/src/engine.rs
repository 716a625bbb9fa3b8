//! Runs one seed of a scenario: builds the cluster, plays the timeline (steps fire at a
//! time or when a condition holds), then judges the run with every checker and the
//! scenario's expectations.

use crate::expect;
use crate::scenarios::Loaded;
use disk::{DiskFaults, FaultMode};
use node::{entry_id, FailAction, Failpoint};
use proto::history::HistoryOp;
use proto::kv::{Command, Op};
use proto::raft::{Entry, EntryKind, MessageType};
use proto::trace::{Event, EventKind, Role};
use proto::{Index, NodeId};
use scenario::{Condition, NodeRef, Scenario, Step};
use sim::cluster::OPERATOR;
use sim::{
    Canaries, Cluster, ClusterConfig, Control, Filter, MemberStatus, Mix, NetworkFaults,
    NetworkStats, RetryPolicy, ScriptedRequest, Wire, Workload,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A scenario's marked request.
#[derive(Clone, Debug)]
pub struct Mark {
    /// The scripted client that sent it (its request is sequence number 1).
    pub client: NodeId,
    /// Digest of the log entry it becomes (the same for every retry).
    pub digest: u64,
}

/// How a step went.
#[derive(Clone, Debug)]
pub struct StepOutcome {
    /// The step's label (or its action).
    pub label: String,
    /// When it fired, if it did.
    pub fired_ns: Option<u64>,
    /// Why it did not fire or failed.
    pub error: Option<String>,
}

/// Everything one run produced and how it was judged.
#[derive(Debug)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The trace.
    pub events: Vec<Event>,
    /// The trace hash.
    pub trace_hash: u64,
    /// The client history.
    pub history: Vec<HistoryOp>,
    /// Each member's final status.
    pub members: BTreeMap<NodeId, MemberStatus>,
    /// Network counters.
    pub network: NetworkStats,
    /// Simulated time at the end, nanoseconds.
    pub end_ns: u64,
    /// The steps.
    pub steps: Vec<StepOutcome>,
    /// Marked requests by name.
    pub marks: BTreeMap<String, Mark>,
    /// Saved node bindings.
    pub bindings: BTreeMap<String, Vec<NodeId>>,
    /// Each checker's verdict.
    pub verdicts: check::Verdicts,
    /// Each expectation: label, held, detail.
    pub expectations: Vec<(String, bool, String)>,
    /// When the last fault was healed (liveness is judged from there).
    pub healed_ns: Option<u64>,
    /// Members whose process was down at the end.
    pub down_at_end: Vec<NodeId>,
    /// Coverage marks the run passed through, with counts.
    pub marks_hit: BTreeMap<&'static str, u64>,
}

impl RunResult {
    /// Whether every step fired, every expectation held and every checker either held or
    /// had nothing to judge (an undecided checker is not a pass).
    pub fn passed(&self) -> bool {
        !self.failed() && !self.undecided()
    }

    /// Whether a step did not fire, an expectation failed or a checker found a violation.
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| s.error.is_some())
            || self.verdicts.iter().any(|(_, v)| v.is_violated())
            || self.expectations.iter().any(|(_, ok, _)| !ok)
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
        for (label, ok, detail) in &self.expectations {
            if !ok {
                out.push(format!("expectation {label:?}: {detail}"));
            }
        }
        out
    }
}

/// The simulator's settings for a scenario (its sections over the defaults).
pub fn configs(s: &Scenario) -> (ClusterConfig, NetworkFaults, DiskFaults, Option<Workload>) {
    let mut c = ClusterConfig::default();
    let cs = &s.cluster;
    c.nodes = cs.nodes.unwrap_or(c.nodes);
    c.tick_ms = cs.tick_ms.unwrap_or(c.tick_ms);
    c.election_ticks = cs.election_ticks.unwrap_or(c.election_ticks);
    c.heartbeat_ticks = cs.heartbeat_ticks.unwrap_or(c.heartbeat_ticks);
    c.pre_vote = cs.pre_vote.unwrap_or(c.pre_vote);
    c.check_quorum = cs.check_quorum.unwrap_or(c.check_quorum);
    c.snapshot_every = cs.snapshot_every.unwrap_or(c.snapshot_every);
    c.snapshot_keep = cs.snapshot_keep.unwrap_or(c.snapshot_keep);
    c.wal_segment_bytes = cs.wal_segment_bytes.unwrap_or(c.wal_segment_bytes);
    c.max_append_bytes = cs.max_append_bytes.unwrap_or(c.max_append_bytes);
    c.tick_skew_ppm = cs.tick_skew_ppm.unwrap_or(c.tick_skew_ppm);
    let mut n = NetworkFaults::default();
    n.loss_ppm = s.network.loss_ppm.unwrap_or(n.loss_ppm);
    n.duplicate_ppm = s.network.duplicate_ppm.unwrap_or(n.duplicate_ppm);
    n.latency_min_us = s.network.latency_min_us.unwrap_or(n.latency_min_us);
    n.latency_max_us = s.network.latency_max_us.unwrap_or(n.latency_max_us);
    let mut d = DiskFaults::default();
    d.write_latency_us = s.disk.write_latency_us.unwrap_or(d.write_latency_us);
    d.sync_latency_us = s.disk.sync_latency_us.unwrap_or(d.sync_latency_us);
    d.slow_sync_ppm = s.disk.slow_sync_ppm.unwrap_or(d.slow_sync_ppm);
    d.slow_sync_us = s.disk.slow_sync_us.unwrap_or(d.slow_sync_us);
    let w = s.workload.as_ref().map(|ws| {
        let mut w = Workload::default();
        w.clients = ws.clients.unwrap_or(w.clients);
        w.keys = ws.keys.unwrap_or(w.keys);
        if let Some(m) = &ws.mix {
            w.mix = Mix {
                put: m.put,
                get: m.get,
                delete: m.delete,
                cas: m.cas,
                cas_revision: m.cas_revision,
            };
        }
        w.request_timeout_ms = ws.request_timeout_ms.unwrap_or(w.request_timeout_ms);
        w.op_timeout_ms = ws.op_timeout_ms.unwrap_or(w.op_timeout_ms);
        w.think_ms = ws.think_ms.unwrap_or(w.think_ms);
        w.start_ms = ws.start_ms.unwrap_or(w.start_ms);
        w.stop_ms = ws
            .stop_ms
            .unwrap_or(s.duration_ms.saturating_sub(3_000).max(w.start_ms));
        w
    });
    (c, n, d, w)
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
        let (persisted, committed, applied, roles) = (
            &mut self.persisted,
            &mut self.committed,
            &mut self.applied,
            &mut self.roles,
        );
        let seen = cluster.world.with_events(|events| {
            for e in &events[from.min(events.len())..] {
                match &e.kind {
                    EventKind::LogPersisted { node, entries } => {
                        for id in entries {
                            persisted
                                .entry(id.digest)
                                .or_default()
                                .insert(*node, id.index);
                        }
                    }
                    EventKind::Committed { node, index, .. } => {
                        committed.insert(*node, *index);
                    }
                    EventKind::Recovered { node, commit, .. } => {
                        committed.insert(*node, *commit);
                    }
                    EventKind::Applied { node, entry, .. } => {
                        applied.entry(entry.digest).or_default().insert(*node);
                    }
                    EventKind::Role { node, role, term } => {
                        roles.push((e.time_ns, *node, *role, *term))
                    }
                    _ => {}
                }
            }
            events.len()
        });
        self.next_event = seen;
    }
}

struct Timeline {
    cluster: Cluster,
    /// The scenario's disk settings, which a "disk" step changes from.
    disk: DiskFaults,
    bindings: BTreeMap<String, Vec<NodeId>>,
    marks: BTreeMap<String, Mark>,
    watch: Watch,
}

impl Timeline {
    fn members(&self) -> Vec<NodeId> {
        self.cluster.members()
    }

    fn followers(&self) -> Result<Vec<NodeId>, String> {
        let leader = self.cluster.leader().ok_or("there is no leader")?;
        Ok(self
            .members()
            .into_iter()
            .filter(|m| *m != leader)
            .collect())
    }

    /// Resolves a node reference to members.
    fn resolve(&self, r: &NodeRef) -> Result<Vec<NodeId>, String> {
        match r {
            NodeRef::Id(id) => Ok(vec![*id]),
            NodeRef::Name(name) => match name.as_str() {
                "leader" => Ok(vec![self.cluster.leader().ok_or("there is no leader")?]),
                "followers" => self.followers(),
                "all" => Ok(self.members()),
                other => {
                    if let Some(k) = other.strip_prefix("follower:") {
                        let k: usize = k.parse().map_err(|_| format!("bad reference {other:?}"))?;
                        let followers = self.followers()?;
                        return followers
                            .get(k - 1)
                            .map(|f| vec![*f])
                            .ok_or_else(|| format!("there is no follower {k}"));
                    }
                    if let Some(b) = other.strip_prefix('$') {
                        return self
                            .bindings
                            .get(b)
                            .cloned()
                            .ok_or_else(|| format!("nothing is saved as {b:?}"));
                    }
                    Err(format!("unknown node reference {other:?}"))
                }
            },
        }
    }

    fn one(&self, r: &NodeRef) -> Result<NodeId, String> {
        let nodes = self.resolve(r)?;
        match nodes.as_slice() {
            [n] => Ok(*n),
            _ => Err(format!(
                "{r:?} names {} members where one is needed",
                nodes.len()
            )),
        }
    }

    fn holds(&mut self, c: &Condition, started_ns: u64) -> Result<bool, String> {
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
        if let Some(entry) = &c.entry {
            let digest = self.marks[entry].digest;
            let members = self.members();
            let targets = match &c.on {
                None => match self.cluster.leader() {
                    Some(l) => vec![l],
                    None => return Ok(false),
                },
                Some(NodeRef::Name(n)) if n == "all" || n == "majority" => members.clone(),
                Some(r) => match self.resolve(r) {
                    Ok(t) => t,
                    Err(_) => return Ok(false),
                },
            };
            let state = c.state.as_deref().unwrap_or("persisted");
            let reached = |node: &NodeId| {
                let index = self.watch.persisted.get(&digest).and_then(|m| m.get(node));
                match state {
                    "persisted" => index.is_some(),
                    "committed" => index
                        .is_some_and(|i| self.watch.committed.get(node).is_some_and(|c| c >= i)),
                    _ => self
                        .watch
                        .applied
                        .get(&digest)
                        .is_some_and(|s| s.contains(node)),
                }
            };
            let count = targets.iter().filter(|n| reached(n)).count();
            let enough = match &c.on {
                Some(NodeRef::Name(n)) if n == "majority" => count > members.len() / 2,
                _ => count == targets.len(),
            };
            if !enough {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn act(&mut self, step: &Step) -> Result<(), String> {
        let world = self.cluster.world.clone();
        let node = match &step.node {
            Some(_) if step.action == "recover" => None,
            Some(r) => Some(self.one(r)?),
            None => None,
        };
        let need_node = || node.ok_or_else(|| "no node".to_string());
        match step.action.as_str() {
            "crash" => world.crash(need_node()?, None),
            "power-loss" => world.crash(need_node()?, Some(FaultMode::DropAll)),
            "torn-crash" => world.crash(need_node()?, Some(FaultMode::TornPrefix)),
            "recover" => {
                for n in self.resolve(step.node.as_ref().expect("validated"))? {
                    if !world.is_up(n) {
                        world.restart(n);
                    } else if world.is_paused(n) {
                        world.resume(n);
                    }
                }
            }
            "restart" => world.restart(need_node()?),
            "pause" => world.pause(need_node()?),
            "resume" => world.resume(need_node()?),
            "partition" => {
                let groups = step.groups.as_ref().expect("validated");
                let mut resolved: Vec<Vec<NodeId>> = Vec::new();
                let mut others_at = None;
                for (i, g) in groups.iter().enumerate() {
                    let mut members = Vec::new();
                    for r in g {
                        if r == &NodeRef::Name("others".into()) {
                            others_at = Some(i);
                        } else {
                            members.extend(self.resolve(r)?);
                        }
                    }
                    resolved.push(members);
                }
                if let Some(i) = others_at {
                    let named: BTreeSet<NodeId> = resolved.iter().flatten().copied().collect();
                    resolved[i].extend(self.members().into_iter().filter(|m| !named.contains(m)));
                }
                for g in &mut resolved {
                    g.sort_unstable();
                    g.dedup();
                }
                world.partition(resolved);
            }
            "cut" => {
                for from in self.resolve(step.from.as_ref().expect("validated"))? {
                    for to in self.resolve(step.to.as_ref().expect("validated"))? {
                        world.cut(from, to);
                    }
                }
            }
            "heal" => world.heal(),
            "release" => world.release(),
            "drop" | "hold" => {
                let kind = step.kind.as_deref().and_then(MessageType::from_name);
                let froms: Vec<Option<NodeId>> = match &step.from {
                    Some(r) => self.resolve(r)?.into_iter().map(Some).collect(),
                    None => vec![None],
                };
                let tos: Vec<Option<NodeId>> = match &step.to {
                    Some(r) => self.resolve(r)?.into_iter().map(Some).collect(),
                    None => vec![None],
                };
                for from in &froms {
                    for to in &tos {
                        world.add_filter(Filter {
                            kind,
                            from: *from,
                            to: *to,
                            remaining: step.count,
                            current_term_entries: step.current_term_entries.unwrap_or(false),
                            pass_first: step.pass_first.unwrap_or(0),
                            hold: step.action == "hold",
                        });
                    }
                }
            }
            "clear-drops" => world.clear_filters(),
            "failpoint" => {
                let point = Failpoint::from_name(step.failpoint.as_deref().expect("validated"))
                    .expect("validated");
                let action = match step.fail_action.as_deref().expect("validated") {
                    "crash" => FailAction::Crash,
                    "power-loss" => FailAction::PowerLoss,
                    "torn-crash" => FailAction::TornCrash,
                    "pause" => FailAction::Pause,
                    _ => FailAction::Drop,
                };
                let count = Some(step.count.unwrap_or(1) as u32);
                self.cluster.failpoints.arm(node, point, action, count);
            }
            "disarm" => self.cluster.failpoints.disarm_all(),
            "disk" => {
                let mut d = self.disk.clone();
                d.slow_sync_ppm = step.slow_sync_ppm.unwrap_or(d.slow_sync_ppm);
                d.slow_sync_us = step.slow_sync_us.unwrap_or(d.slow_sync_us);
                d.sync_latency_us = step.sync_latency_us.unwrap_or(d.sync_latency_us);
                world.set_disk_faults(d);
            }
            "network" => {
                let mut n = world.network();
                n.loss_ppm = step.loss_ppm.unwrap_or(n.loss_ppm);
                n.duplicate_ppm = step.duplicate_ppm.unwrap_or(n.duplicate_ppm);
                n.latency_min_us = step.latency_min_us.unwrap_or(n.latency_min_us);
                n.latency_max_us = step.latency_max_us.unwrap_or(n.latency_max_us);
                world.set_network(n);
            }
            "write" | "read" => {
                let mark = step.mark.clone().expect("validated");
                let key = step.key.clone().expect("validated");
                let op = if step.action == "write" {
                    Op::Put {
                        key,
                        value: step.value.clone().unwrap_or_else(|| mark.clone()),
                    }
                } else {
                    Op::Get { key }
                };
                let target = match node {
                    Some(n) => n,
                    None => self.cluster.leader().unwrap_or(1),
                };
                let request = ScriptedRequest {
                    op: op.clone(),
                    target,
                    policy: RetryPolicy {
                        retry: step.retry.unwrap_or(true),
                        request_timeout_ms: step.request_timeout_ms.unwrap_or(500),
                        op_timeout_ms: 8_000,
                    },
                };
                let client = self.cluster.scripted(request);
                let command = Command {
                    client_id: client,
                    seq: 1,
                    op: op.clone(),
                };
                let digest = entry_id(&Entry {
                    index: 0,
                    term: 0,
                    kind: EntryKind::Normal,
                    data: command.encode(),
                })
                .digest;
                self.marks.insert(mark, Mark { client, digest });
            }
            "campaign" => {
                if !world.inject(OPERATOR, need_node()?, Wire::Control(Control::Campaign)) {
                    return Err(format!("node {} is down", need_node()?));
                }
            }
            "transfer" => {
                let to = self.one(step.to.as_ref().expect("validated"))?;
                if !world.inject(
                    OPERATOR,
                    need_node()?,
                    Wire::Control(Control::TransferLeader(to)),
                ) {
                    return Err(format!("node {} is down", need_node()?));
                }
            }
            "note" => {}
            other => return Err(format!("unknown action {other:?}")),
        }
        if let Some(name) = &step.save {
            let saved = match node {
                Some(n) => vec![n],
                None => vec![self
                    .cluster
                    .leader()
                    .ok_or("nothing to save: no node and no leader")?],
            };
            self.bindings.insert(name.clone(), saved);
        }
        Ok(())
    }
}

fn describe(step: &Step) -> String {
    step.label.clone().unwrap_or_else(|| step.action.clone())
}

/// Runs one seed of the scenario.
pub fn run(loaded: &Loaded, seed: u64, canaries: Canaries) -> RunResult {
    // The whole run lives on this thread: count the coverage marks it passes.
    marks::start();
    let mut result = simulate(loaded, seed, canaries);
    result.marks_hit = marks::take();
    result
}

fn simulate(loaded: &Loaded, seed: u64, canaries: Canaries) -> RunResult {
    let scenario = &loaded.scenario;
    sim::run(seed, || async move {
        let (mut config, network, disk, mut workload) = configs(scenario);
        if scenario.chaos.is_some() {
            // Swarm testing draws the operation mix too.
            if let Some(w) = workload.as_mut() {
                w.mix = crate::chaos::draw_mix(seed);
            }
        }
        let mut steps: Vec<Step> = scenario.steps.iter().map(|s| s.get_ref().clone()).collect();
        let mut healed_ns = None;
        if let Some(chaos) = &scenario.chaos {
            steps = crate::chaos::plan(seed, chaos, &mut config, &network);
            healed_ns = Some(chaos.faults_until_ms * 1_000_000);
        }
        let mut cluster = Cluster::start(seed, config.clone(), network, disk.clone(), canaries);
        if let Some(w) = &workload {
            if w.clients > 0 {
                cluster.start_clients(w);
            }
        }
        let mut t = Timeline {
            cluster,
            disk,
            bindings: BTreeMap::new(),
            marks: BTreeMap::new(),
            watch: Watch::default(),
        };
        let end_ns = scenario.duration_ms * 1_000_000;
        let mut outcomes = Vec::new();
        let mut last_fired_ns = 0;
        for step in &steps {
            let label = describe(step);
            let start_ns = match (step.at_ms, step.after_ms) {
                (Some(at), _) => at * 1_000_000,
                (None, after) => last_fired_ns + after.unwrap_or(0) * 1_000_000,
            };
            sleep_until(&t.cluster, start_ns).await;
            if let Some(cond) = &step.when {
                let deadline = step
                    .timeout_ms
                    .map_or(end_ns, |ms| (now(&t.cluster) + ms * 1_000_000).min(end_ns));
                let waiting_since = now(&t.cluster);
                let mut fired = false;
                loop {
                    match t.holds(cond, waiting_since) {
                        Ok(true) => {
                            fired = true;
                            break;
                        }
                        Ok(false) => {}
                        Err(e) => {
                            outcomes.push(StepOutcome {
                                label: label.clone(),
                                fired_ns: None,
                                error: Some(e),
                            });
                            break;
                        }
                    }
                    if now(&t.cluster) >= deadline {
                        break;
                    }
                    madsim::time::sleep(Duration::from_millis(1)).await;
                }
                if !fired {
                    if outcomes
                        .last()
                        .is_none_or(|o: &StepOutcome| o.label != label)
                    {
                        outcomes.push(StepOutcome {
                            label: label.clone(),
                            fired_ns: None,
                            error: Some("its condition never held".into()),
                        });
                    }
                    break;
                }
            }
            let fired_at = now(&t.cluster);
            t.cluster.world.record(EventKind::Step {
                label: label.clone(),
            });
            let mut result = t.act(step);
            if let (Err(why), Some(true)) = (&result, step.optional) {
                t.cluster.world.record(EventKind::Note {
                    node: 0,
                    text: format!("optional step skipped: {why}"),
                });
                result = Ok(());
            }
            last_fired_ns = fired_at;
            let failed = result.is_err();
            outcomes.push(StepOutcome {
                label,
                fired_ns: Some(fired_at),
                error: result.err(),
            });
            if failed {
                break;
            }
            if scenario.chaos.is_none() {
                healed_ns = Some(fired_at);
            }
        }
        // A few ticks before the end, members start publishing their metrics every tick, so
        // the report's figures are at most a tick old.
        let tick_ns = t.cluster.config.tick_ms * 1_000_000;
        sleep_until(&t.cluster, end_ns.saturating_sub(3 * tick_ns)).await;
        t.cluster.publish_metrics_every_tick();
        sleep_until(&t.cluster, end_ns).await;
        let finals: Vec<check::FinalState> = t
            .cluster
            .members()
            .into_iter()
            .filter(|m| t.cluster.world.is_up(*m))
            .map(|m| {
                let s = t.cluster.status(m);
                // The digest is recomputed on ticks, so pair it with the applied index it
                // was computed at, not the latest one (a write applied after the member's
                // last tick would otherwise look like a diverged store).
                check::FinalState {
                    node: m,
                    applied: s.digest_applied.unwrap_or(0),
                    digest: s.store_digest,
                }
            })
            .collect();
        let down_at_end: Vec<NodeId> = t
            .cluster
            .members()
            .into_iter()
            .filter(|m| !t.cluster.world.is_up(*m))
            .collect();
        let bindings = t.bindings.clone();
        let marks = t.marks.clone();
        let run = t.cluster.shutdown();
        let bounds = check::LivenessBounds {
            healed_ns: Some(healed_ns.unwrap_or(0)),
            leader_within_ns: scenario.liveness.leader_within_ms.unwrap_or(5_000) * 1_000_000,
            op_within_ns: scenario.liveness.op_within_ms.unwrap_or(5_000) * 1_000_000,
            end_ns: run.record.end_ns,
        };
        let observation = check::Observation {
            events: &run.record.events,
            history: &run.history,
            finals: &finals,
            liveness: bounds,
        };
        let verdicts = check::check_all(&observation);
        let mut result = RunResult {
            seed,
            trace_hash: run.record.trace_hash,
            end_ns: run.record.end_ns,
            network: run.record.network,
            events: run.record.events,
            history: run.history,
            members: run.members,
            steps: outcomes,
            marks,
            bindings,
            verdicts,
            expectations: Vec::new(),
            healed_ns,
            down_at_end,
            marks_hit: BTreeMap::new(),
        };
        result.expectations = expect::evaluate(scenario, &result);
        result
    })
}

fn now(cluster: &Cluster) -> u64 {
    cluster.world.now_ns()
}

async fn sleep_until(cluster: &Cluster, at_ns: u64) {
    let now = now(cluster);
    if at_ns > now {
        // An alarm, not a madsim sleep: a step due in under 1 ms must not slip to 1 ms.
        sim::Alarm::after(Duration::from_nanos(at_ns - now)).await;
    }
}
