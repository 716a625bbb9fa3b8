//! An in-memory cluster of `RawNode`s for tests: a message queue instead of a network,
//! vectors instead of a disk, and a transcript of what happened.
#![allow(dead_code)]

use proto::raft::{Entry, EntryKind, HardState, Message, MessageType, Snapshot, SnapshotMeta};
use proto::trace::Role;
use proto::{NodeId, Term};
use raft::{Config, RawNode, ReadState};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A predicate over messages: true drops the message.
pub type DropFilter = Box<dyn Fn(&Message) -> bool>;

/// One member with its "durable" state.
pub struct Member {
    pub node: RawNode,
    pub cfg: Config,
    pub hard: HardState,
    pub snapshot: Option<Snapshot>,
    /// Durable log after the snapshot.
    pub log: Vec<Entry>,
    /// Every entry applied, in order.
    pub applied: Vec<Entry>,
    pub read_states: Vec<ReadState>,
}

impl Member {
    fn persist(&mut self, rd: &raft::Ready) {
        if let Some(s) = &rd.snapshot {
            self.snapshot = Some(s.clone());
            self.log.clear();
        }
        if let Some(first) = rd.entries.first() {
            let offset = self.snapshot.as_ref().map_or(0, |s| s.meta.index);
            self.log.truncate((first.index - offset - 1) as usize);
            self.log.extend(rd.entries.iter().cloned());
        }
        if let Some(h) = rd.hard_state {
            self.hard = h;
        }
    }
}

pub struct Cluster {
    pub members: BTreeMap<NodeId, Member>,
    pub queue: VecDeque<Message>,
    /// Links that drop messages (from, to).
    pub cut: BTreeSet<(NodeId, NodeId)>,
    /// Members that are down.
    pub down: BTreeSet<NodeId>,
    /// Message kinds to drop wherever they go.
    pub drop_kinds: BTreeSet<MessageType>,
    pub transcript: Vec<String>,
    /// Drops any message for which this returns true.
    pub drop_if: Option<DropFilter>,
    /// (term, leader) pairs ever observed.
    pub leaders: BTreeSet<(Term, NodeId)>,
}

pub fn entry(index: u64, term: Term) -> Entry {
    Entry {
        index,
        term,
        kind: EntryKind::Normal,
        data: format!("e{index}t{term}").into_bytes(),
    }
}

/// Every message a member emits in its next Ready (advancing it).
pub fn emitted(node: &mut RawNode) -> Vec<Message> {
    if !node.has_ready() {
        return vec![];
    }
    let rd = node.ready();
    let mut out = rd.messages;
    out.extend(rd.persisted_messages);
    node.advance();
    out
}

pub fn config(id: NodeId, n: u64) -> Config {
    let mut c = Config::new(id, (1..=n).collect(), 1000 + id);
    c.max_inflight_msgs = 4;
    c
}

impl Cluster {
    pub fn new(n: u64) -> Cluster {
        Cluster::with_logs(&vec![vec![]; n as usize], &vec![0; n as usize], config)
    }

    /// Members whose durable logs have the given terms (index 1, 2, …) and whose durable
    /// term is `terms[i]`.
    pub fn with_logs(
        logs: &[Vec<Term>],
        terms: &[Term],
        make: impl Fn(NodeId, u64) -> Config,
    ) -> Cluster {
        let n = logs.len() as u64;
        let mut members = BTreeMap::new();
        for (i, log) in logs.iter().enumerate() {
            let id = i as u64 + 1;
            let entries: Vec<Entry> = log
                .iter()
                .enumerate()
                .map(|(j, t)| entry(j as u64 + 1, *t))
                .collect();
            let hard = HardState {
                term: terms[i].max(log.last().copied().unwrap_or(0)),
                vote: 0,
                commit: 0,
            };
            let cfg = make(id, n);
            members.insert(
                id,
                Member {
                    node: RawNode::new(cfg.clone(), hard, None, entries.clone()),
                    cfg,
                    hard,
                    snapshot: None,
                    log: entries,
                    applied: vec![],
                    read_states: vec![],
                },
            );
        }
        Cluster {
            members,
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            down: BTreeSet::new(),
            drop_kinds: BTreeSet::new(),
            transcript: vec![],
            drop_if: None,
            leaders: BTreeSet::new(),
        }
    }

    pub fn node(&mut self, id: NodeId) -> &mut RawNode {
        &mut self.members.get_mut(&id).unwrap().node
    }

    pub fn status(&self, id: NodeId) -> raft::Status {
        self.members[&id].node.status()
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.members
            .iter()
            .filter(|(id, m)| !self.down.contains(id) && m.node.status().role == Role::Leader)
            .map(|(id, _)| *id)
            .max_by_key(|id| self.members[id].node.status().term)
    }

    /// Handles every pending Ready of every live member (persist, queue messages, apply).
    pub fn process_readies(&mut self) -> bool {
        let mut any = false;
        let ids: Vec<NodeId> = self.members.keys().copied().collect();
        for id in ids {
            if self.down.contains(&id) {
                continue;
            }
            let m = self.members.get_mut(&id).unwrap();
            if !m.node.has_ready() {
                continue;
            }
            any = true;
            let rd = m.node.ready();
            m.persist(&rd);
            if let Some(ss) = rd.soft_state {
                self.transcript.push(format!(
                    "{id}: became {:?} in term {} (leader {})",
                    ss.role, ss.term, ss.leader
                ));
                if ss.role == Role::Leader {
                    let fresh = self.leaders.insert((ss.term, id));
                    assert!(fresh);
                }
            }
            for t in &rd.truncations {
                self.transcript
                    .push(format!("{id}: truncated {}..={}", t.from, t.last));
            }
            if let Some(s) = &rd.snapshot {
                self.transcript
                    .push(format!("{id}: installs snapshot at {}", s.meta.index));
                m.applied.retain(|e| e.index <= s.meta.index);
            }
            for e in &rd.committed_entries {
                m.applied.push(e.clone());
            }
            m.read_states.extend(rd.read_states.iter().copied());
            for r in &rd.read_states {
                self.transcript.push(format!(
                    "{id}: read state ctx={} index={}",
                    r.context, r.index
                ));
            }
            self.queue.extend(rd.messages);
            self.queue.extend(rd.persisted_messages);
            m.node.advance();
        }
        any
    }

    fn describe(m: &Message) -> String {
        let mut s = format!("{}->{} {} term={}", m.from, m.to, m.kind.name(), m.term);
        match m.kind {
            MessageType::Append => {
                s += &format!(
                    " index={} log_term={} entries={:?} commit={}",
                    m.index,
                    m.log_term,
                    m.entries
                        .iter()
                        .map(|e| (e.index, e.term))
                        .collect::<Vec<_>>(),
                    m.commit
                )
            }
            MessageType::AppendResp => {
                s += &format!(" index={}", m.index);
                if m.reject {
                    s += &format!(" REJECT hint={} hint_term={}", m.reject_hint, m.log_term);
                }
            }
            MessageType::Vote | MessageType::PreVote => {
                s += &format!(" last=({}, {})", m.index, m.log_term)
            }
            MessageType::VoteResp | MessageType::PreVoteResp => {
                s += if m.reject { " REJECT" } else { " granted" }
            }
            MessageType::Heartbeat => s += &format!(" commit={} ctx={}", m.commit, m.context),
            MessageType::HeartbeatResp => s += &format!(" ctx={}", m.context),
            MessageType::Snapshot => {
                s += &format!(" at={}", m.snapshot.as_ref().unwrap().meta.index)
            }
            MessageType::TimeoutNow => {}
        }
        s
    }

    /// Delivers one queued message (or drops it if cut/down). Returns false if none.
    pub fn deliver_one(&mut self) -> bool {
        let Some(m) = self.queue.pop_front() else {
            return false;
        };
        let blocked = self.cut.contains(&(m.from, m.to))
            || self.down.contains(&m.to)
            || self.down.contains(&m.from)
            || self.drop_kinds.contains(&m.kind)
            || self.drop_if.as_ref().is_some_and(|f| f(&m));
        if blocked {
            self.transcript
                .push(format!("  dropped {}", Self::describe(&m)));
        } else {
            self.transcript.push(format!("  {}", Self::describe(&m)));
            let to = m.to;
            self.node(to).step(m);
        }
        true
    }

    /// Processes readies and delivers messages until nothing is left.
    pub fn stabilize(&mut self) {
        for _ in 0..10_000 {
            let a = self.process_readies();
            let mut b = false;
            while self.deliver_one() {
                b = true;
            }
            if !a && !b {
                return;
            }
        }
        panic!("cluster did not stabilize");
    }

    pub fn tick(&mut self, id: NodeId, times: u64) {
        self.transcript.push(format!("> tick {id} x{times}"));
        for _ in 0..times {
            self.node(id).tick();
        }
    }

    /// `rounds` times: tick `id` once (a heartbeat from a leader) and deliver everything.
    pub fn rounds(&mut self, id: NodeId, rounds: u64) {
        for _ in 0..rounds {
            self.tick(id, 1);
            self.stabilize();
        }
    }

    pub fn campaign(&mut self, id: NodeId) {
        self.transcript.push(format!("> campaign {id}"));
        self.node(id).campaign();
        self.stabilize();
    }

    pub fn propose(&mut self, id: NodeId, data: &[u8]) {
        self.transcript.push(format!(
            "> propose {id} {:?}",
            String::from_utf8_lossy(data)
        ));
        self.node(id)
            .propose(data.to_vec())
            .expect("leader accepts");
        self.stabilize();
    }

    pub fn isolate(&mut self, id: NodeId) {
        self.transcript.push(format!("> isolate {id}"));
        for other in self.members.keys().copied().collect::<Vec<_>>() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    pub fn heal(&mut self) {
        self.transcript.push("> heal".to_string());
        self.cut.clear();
    }

    /// Restarts a member from its durable state.
    pub fn restart(&mut self, id: NodeId) {
        self.down.remove(&id);
        let m = self.members.get_mut(&id).unwrap();
        m.node = RawNode::new(m.cfg.clone(), m.hard, m.snapshot.clone(), m.log.clone());
        m.applied
            .retain(|e| e.index <= m.snapshot.as_ref().map_or(0, |s| s.meta.index));
    }

    /// Starts a new, empty member `id` that knows only the founding voters (it joins once
    /// a change adds it).
    pub fn add_member(&mut self, id: NodeId, founding: u64) {
        self.transcript.push(format!("> start empty member {id}"));
        let cfg = config(id, founding);
        let hard = HardState::default();
        self.members.insert(
            id,
            Member {
                node: RawNode::new(cfg.clone(), hard, None, vec![]),
                cfg,
                hard,
                snapshot: None,
                log: vec![],
                applied: vec![],
                read_states: vec![],
            },
        );
    }

    /// Proposes a configuration change at `id` and delivers everything.
    pub fn change(
        &mut self,
        id: NodeId,
        cc: &proto::conf::ConfChange,
    ) -> Result<(), raft::ProposeError> {
        self.transcript.push(format!("> change at {id}: {cc}"));
        let r = self.node(id).propose_conf_change(cc);
        if let Err(e) = &r {
            self.transcript.push(format!("  refused: {e}"));
        }
        self.stabilize();
        r.map(|_| ())
    }

    /// Terms of a member's durable log.
    pub fn log_terms(&self, id: NodeId) -> Vec<Term> {
        self.members[&id].log.iter().map(|e| e.term).collect()
    }

    /// Takes a snapshot at the member's applied index and compacts.
    pub fn snapshot(&mut self, id: NodeId, keep: u64) {
        self.transcript.push(format!("> snapshot {id} keep {keep}"));
        let m = self.members.get_mut(&id).unwrap();
        let status = m.node.status();
        let index = status.applied;
        let term = m.node.term_at(index).unwrap();
        let snap = Snapshot {
            meta: SnapshotMeta {
                index,
                term,
                conf: m.node.conf_state().clone(),
            },
            data: format!("state@{index}").into_bytes(),
        };
        m.node.compact(snap.clone(), keep);
        // Durable too, as the member's snapshot file: a restart starts from it.
        m.log.retain(|e| e.index > index);
        m.snapshot = Some(snap);
    }
}
