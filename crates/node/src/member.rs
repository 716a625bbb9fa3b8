//! The member: one Raft + WAL + KV node, driven by the Ready loop.

use crate::failpoint::{FailAction, Failpoint, Failpoints};
use crate::metrics::Metrics;
use disk::Disk;
use kv::{Applied, Store};
use proto::codec::{fnv1a, FNV_OFFSET};
use proto::kv::{ClientError, ClientRequest, Command, Op, OpResult};
use proto::raft::{Entry, EntryKind, HardState, Message, Snapshot, SnapshotMeta};
use proto::trace::{EntryId, EventKind, Role};
use proto::{Index, NodeId, Term, NO_NODE};
use raft::{ProposeError, RawNode, ReadIndexError, Ready};
use wal::{Recovered, Wal, WalError};

pub use crate::types::{Halt, NodeCanaries, NodeConfig, NodeError, Outgoing, Output};

mod membership;
mod requests;

use requests::{Caller, PendingRead, PendingWrite, Requests};

/// The store as the recovered snapshot holds it (empty without one).
fn restore_store(recovered: &Recovered) -> Result<Store, NodeError> {
    match &recovered.snapshot {
        Some(s) => Store::restore(&s.data).map_err(|e| NodeError::Snapshot {
            index: s.meta.index,
            reason: e.to_string(),
        }),
        None => Ok(Store::new()),
    }
}

/// The index and term the recovered snapshot covers (0, 0 without one).
fn snapshot_point(recovered: &Recovered) -> (Index, Term) {
    recovered
        .snapshot
        .as_ref()
        .map_or((0, 0), |s| (s.meta.index, s.meta.term))
}

/// What a start tells the trace: a torn tail cut off, if any, and what was recovered.
fn recovery_events(id: NodeId, recovered: &Recovered, hard_state: HardState) -> Vec<EventKind> {
    let (snapshot_index, snapshot_term) = snapshot_point(recovered);
    let mut events = Vec::new();
    if let Some((segment, offset, bytes)) = &recovered.repaired {
        events.push(EventKind::Note {
            node: id,
            text: format!("wal: cut a torn tail of {bytes} bytes at {segment}:{offset}"),
        });
    }
    events.push(EventKind::Recovered {
        node: id,
        snapshot_index,
        snapshot_term,
        entries: recovered.entries.iter().map(entry_id).collect(),
        term: hard_state.term,
        vote: hard_state.vote,
        commit: hard_state.commit,
    });
    events
}

/// How step 1 of a Ready ended.
enum Persisted {
    /// A failpoint halted the member.
    Halted,
    /// Saved and synced; the term and vote that changed, if any.
    Done { new_vote: Option<HardState> },
}

/// The digest of an entry, as the checkers identify it.
pub fn entry_id(e: &Entry) -> EntryId {
    let kind = match e.kind {
        EntryKind::Normal => 1u8,
        EntryKind::Noop => 2u8,
        EntryKind::ConfChange => 3u8,
    };
    EntryId {
        index: e.index,
        term: e.term,
        digest: fnv1a(fnv1a(FNV_OFFSET, &[kind]), &e.data),
    }
}

/// One member.
pub struct Node<D: Disk> {
    id: NodeId,
    cfg: NodeConfig,
    raw: RawNode,
    wal: Wal<D>,
    store: Store,
    failpoints: Failpoints,
    role: Role,
    /// The term of the last role event recorded.
    role_term: Term,
    leader: NodeId,
    /// The clients waiting for an answer.
    requests: Requests,
    last_snapshot_index: Index,
    /// The last term and vote the core asked to persist: only a change is announced
    /// (VotePersisted) and can fire the after-vote failpoint.
    voted: (Term, NodeId),
    unsynced: bool,
    metrics: Metrics,
    /// Members this one saw removed by a change it applied: their messages are answered
    /// with [`Outgoing::Removed`].
    removed: std::collections::BTreeSet<NodeId>,
    /// This member has been in a configuration it applied (so leaving it is a removal;
    /// a member added later has not joined until it applies its addition).
    joined: bool,
    /// It applied its own removal: it serves no client, but its Raft core still answers
    /// (members that have not applied the removal yet may need its vote) until a member
    /// tells it it was removed.
    left: bool,
    /// The configuration as of the last change noticed (to tell who was removed).
    applied_conf: proto::conf::ConfState,
}

impl<D: Disk> Node<D> {
    /// Starts a member on `disk`: recovers the newest snapshot and the WAL, and rebuilds
    /// the Raft core and the store from them. Returns the events of the recovery.
    pub fn open(
        cfg: NodeConfig,
        disk: D,
        failpoints: Failpoints,
    ) -> Result<(Node<D>, Vec<EventKind>), NodeError> {
        let id = cfg.raft.id;
        let mut disk = disk;
        // Checked before the WAL creates anything: a refusal leaves the disk as it was, so
        // the member refuses again at every later start.
        if cfg.started_before && disk.list().map_err(WalError::from)?.is_empty() {
            return Err(NodeError::Identity { id });
        }
        let (wal, recovered) = Wal::open(disk, cfg.wal.clone())?;
        let mut store = restore_store(&recovered)?;
        store.set_canaries(cfg.canaries.store());
        let (snapshot_index, _) = snapshot_point(&recovered);
        let mut hard_state = recovered.hard_state;
        hard_state.commit = hard_state.commit.max(snapshot_index);
        let events = recovery_events(id, &recovered, hard_state);
        let raw = RawNode::new(
            cfg.raft.clone(),
            hard_state,
            recovered.snapshot,
            recovered.entries,
        );
        // Founding members missing from the configuration it recovered were removed (ids
        // are never reused): their messages are answered "removed" from the start, even
        // though the change that removed them may lie inside the snapshot.
        let conf = raw.conf_state().clone();
        let removed = cfg
            .raft
            .voters
            .iter()
            .copied()
            .filter(|v| !conf.contains(*v))
            .collect();
        let node = Node {
            id,
            raw,
            wal,
            store,
            failpoints,
            role: Role::Follower,
            role_term: hard_state.term,
            leader: NO_NODE,
            requests: Requests::default(),
            last_snapshot_index: snapshot_index,
            voted: (hard_state.term, hard_state.vote),
            unsynced: false,
            metrics: Metrics::default(),
            removed,
            joined: conf.contains(id),
            left: false,
            applied_conf: conf,
            cfg,
        };
        Ok((node, events))
    }

    /// This member's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The Raft core's status.
    pub fn status(&self) -> raft::Status {
        self.raw.status()
    }

    /// The state machine.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metrics so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Records the simulated duration of this call's disk work (the driver measures it).
    pub fn observe_disk_latency(&mut self, us: u64) {
        if us > 0 {
            self.metrics.observe("wal_fsync_duration_us", us);
        }
        if us > 5_000 {
            marks::mark!("node.fsync.slow");
        }
    }

    /// One tick of logical time.
    pub fn tick(&mut self, now_ns: u64, out: &mut Output) -> Result<(), NodeError> {
        self.raw.tick();
        if self.cfg.canaries.ack_before_fsync && self.unsynced {
            // The planted bug syncs lazily, once per tick.
            self.wal.sync()?;
            self.unsynced = false;
        }
        self.run_ready(now_ns, out)
    }

    /// A message from a peer.
    pub fn step(
        &mut self,
        now_ns: u64,
        message: Message,
        out: &mut Output,
    ) -> Result<(), NodeError> {
        if self.removed.contains(&message.from) {
            out.messages.push(Outgoing::Removed { to: message.from });
            return Ok(());
        }
        self.raw.step(message);
        self.run_ready(now_ns, out)
    }

    /// A request from the client at address `from`.
    pub fn request(
        &mut self,
        now_ns: u64,
        from: NodeId,
        request: ClientRequest,
        out: &mut Output,
    ) -> Result<(), NodeError> {
        let caller = Caller::of(from, &request);
        let reply = |result| caller.reply(result);
        let command = request.command;
        if self.left {
            out.messages
                .push(reply(Err(ClientError::NotLeader { leader: NO_NODE })));
            return Ok(());
        }
        if self.role != Role::Leader {
            // Redirect: the client retries at the leader we know of.
            marks::mark!("node.request.redirected");
            out.messages.push(reply(Err(ClientError::NotLeader {
                leader: self.leader,
            })));
            return Ok(());
        }
        if self.requests.full() {
            out.messages.push(reply(Err(ClientError::Unavailable)));
            return Ok(());
        }
        if let Op::Get { key } = &command.op {
            self.read_request(caller, key, out);
        } else {
            let mut drop_request = false;
            if self.failpoint(Failpoint::ProposalReceived, out, &mut drop_request) || drop_request {
                return Ok(());
            }
            self.write_request(now_ns, caller, &command, out);
        }
        self.run_ready(now_ns, out)
    }

    /// A read of `key`: asked of the core, answered once confirmed and applied.
    fn read_request(&mut self, caller: Caller, key: &str, out: &mut Output) {
        let context = self.requests.next_context();
        let refused = match self.raw.read_index(context) {
            Ok(()) => {
                let key = key.to_string();
                self.requests
                    .read_asked(context, PendingRead { caller, key });
                return;
            }
            Err(ReadIndexError::NotLeader { leader }) => ClientError::NotLeader { leader },
            Err(ReadIndexError::NoCommitInTerm) => ClientError::Unavailable,
        };
        out.messages.push(caller.reply(Err(refused)));
    }

    /// A write: proposed, answered once applied at its index.
    fn write_request(&mut self, now_ns: u64, caller: Caller, command: &Command, out: &mut Output) {
        let refused = match self.raw.propose(command.encode()) {
            Ok((index, term)) => {
                self.metrics.add("proposals_pending", 1);
                let proposed_ns = now_ns;
                let write = PendingWrite {
                    term,
                    caller,
                    proposed_ns,
                };
                self.requests.write_proposed(index, write);
                return;
            }
            Err(ProposeError::NotLeader { leader }) => ClientError::NotLeader { leader },
            Err(
                ProposeError::Busy
                | ProposeError::Transferring
                | ProposeError::ConfChangePending
                | ProposeError::Leaving
                | ProposeError::InvalidConfChange(_),
            ) => ClientError::Unavailable,
        };
        out.messages.push(caller.reply(Err(refused)));
    }

    /// Starts an election now (an operator's command).
    pub fn campaign(&mut self, now_ns: u64, out: &mut Output) -> Result<(), NodeError> {
        self.raw.campaign();
        self.run_ready(now_ns, out)
    }

    /// Starts a leadership transfer to `to`.
    pub fn transfer_leader(
        &mut self,
        now_ns: u64,
        to: NodeId,
        out: &mut Output,
    ) -> Result<(), NodeError> {
        self.raw.transfer_leader(to);
        self.run_ready(now_ns, out)
    }

    /// Checks a failpoint; returns true when the Ready must stop here (crash or power
    /// loss), sets `drop` for a drop action.
    /// [`Self::failpoint`] at a point where `drop` has nothing to drop.
    fn halts_at(&self, point: Failpoint, out: &mut Output) -> bool {
        let mut ignored = false;
        self.failpoint(point, out, &mut ignored)
    }

    fn failpoint(&self, point: Failpoint, out: &mut Output, drop: &mut bool) -> bool {
        match self.failpoints.check(self.id, point) {
            None => false,
            Some(FailAction::Drop) => {
                *drop = true;
                out.events.push(EventKind::Failpoint {
                    node: self.id,
                    name: point.name().into(),
                    action: "drop".into(),
                });
                false
            }
            Some(action) => {
                out.events.push(EventKind::Failpoint {
                    node: self.id,
                    name: point.name().into(),
                    action: format!("{action:?}").to_lowercase(),
                });
                let halt = halt_of(action);
                out.halt = Some(halt);
                halt != Halt::Pause
            }
        }
    }

    /// The Ready loop: persist and fsync, then send, then apply and answer, then advance.
    fn run_ready(&mut self, now_ns: u64, out: &mut Output) -> Result<(), NodeError> {
        // Bounded: each round handles what the previous one produced; a core that keeps
        // producing Readies this long is a bug.
        for _ in 0..1000 {
            if !self.raw.has_ready() {
                return Ok(());
            }
            let rd = self.raw.ready();
            if self.handle_ready(now_ns, rd, out)? {
                return Ok(()); // halted: the process dies with the Ready unfinished
            }
            let switches = self.raw.conf_changes();
            self.raw.advance();
            if self.raw.conf_changes() != switches {
                self.after_conf_change(out);
            }
            if self.maybe_snapshot(out)? {
                return Ok(()); // halted right after the snapshot
            }
        }
        panic!("member {}: the Ready loop did not settle", self.id);
    }

    /// Handles one Ready; returns true if a failpoint halted the member.
    fn handle_ready(
        &mut self,
        now_ns: u64,
        mut rd: Ready,
        out: &mut Output,
    ) -> Result<bool, NodeError> {
        if let Some(soft) = rd.soft_state {
            self.on_soft_state(soft, out);
        }
        // 1. Persist, and fsync before anything that depends on it is sent.
        let mut drop_messages = false;
        let new_vote = match self.persist(&mut rd, out, &mut drop_messages)? {
            Persisted::Halted => return Ok(true),
            Persisted::Done { new_vote } => new_vote,
        };
        let voted_for_another = new_vote.is_some_and(|h| h.vote != NO_NODE && h.vote != self.id);
        if self.note_commit(&rd, out, &mut drop_messages) {
            return Ok(true);
        }
        // 2. Send.
        if self.failpoint(Failpoint::BeforeSend, out, &mut drop_messages) {
            return Ok(true);
        }
        if !drop_messages {
            for m in rd.messages.drain(..).chain(rd.persisted_messages.drain(..)) {
                out.messages.push(Outgoing::Raft(m));
            }
        }
        // The vote is durable and its answer on its way: a crash here is the window in
        // which a member that forgot its vote could vote again in the same term.
        if voted_for_another && self.halts_at(Failpoint::AfterVote, out) {
            return Ok(true);
        }
        // 3. Apply, answer clients, serve confirmed reads.
        Ok(self.apply_ready(now_ns, &rd, out))
    }

    /// Step 1 of a Ready: installs its snapshot, saves its entries and hard state, and
    /// fsyncs them. Returns the term and vote that changed, if any.
    fn persist(
        &mut self,
        rd: &mut Ready,
        out: &mut Output,
        drop_messages: &mut bool,
    ) -> Result<Persisted, NodeError> {
        if self.cfg.canaries.send_before_persist {
            out.messages
                .extend(rd.persisted_messages.drain(..).map(Outgoing::Raft));
        }
        if let Some(snapshot) = rd.snapshot.take() {
            self.install_snapshot(snapshot, out)?;
            if self.failpoint(Failpoint::AfterSnapshotInstall, out, drop_messages) {
                return Ok(Persisted::Halted);
            }
        }
        // A term or vote the core asks to persist that differs from the last one.
        let new_vote = rd.hard_state.filter(|h| (h.term, h.vote) != self.voted);
        if let Some(h) = new_vote {
            self.voted = (h.term, h.vote);
        }
        if rd.entries.is_empty() && rd.hard_state.is_none() {
            return Ok(Persisted::Done { new_vote });
        }
        if self.save(rd, out, drop_messages)? {
            return Ok(Persisted::Halted);
        }
        if let Some(h) = new_vote {
            // What the core asked to make durable (a planted bug may not have).
            out.events.push(EventKind::VotePersisted {
                node: self.id,
                term: h.term,
                vote: h.vote,
            });
        }
        if !rd.entries.is_empty() {
            out.events.push(EventKind::LogPersisted {
                node: self.id,
                entries: rd.entries.iter().map(entry_id).collect(),
            });
            self.record_conf_proposals(&rd.entries, out);
            if self.failpoint(Failpoint::AfterSave, out, drop_messages) {
                return Ok(Persisted::Halted);
            }
        }
        Ok(Persisted::Done { new_vote })
    }

    /// Writes the Ready's hard state and entries to the WAL and fsyncs them; returns true
    /// if a failpoint halted the member before the fsync.
    fn save(
        &mut self,
        rd: &Ready,
        out: &mut Output,
        drop_messages: &mut bool,
    ) -> Result<bool, NodeError> {
        let hard_state = rd.hard_state.map(|mut h| {
            if self.cfg.canaries.vote_without_persist {
                h.vote = NO_NODE;
            }
            h
        });
        if let Some(first) = rd.entries.first() {
            if first.index <= self.wal.last_index() {
                out.events.push(EventKind::LogTruncated {
                    node: self.id,
                    from: first.index,
                    last: self.wal.last_index(),
                });
            }
        }
        self.wal.save(hard_state.as_ref(), &rd.entries)?;
        if self.failpoint(Failpoint::BeforeSync, out, drop_messages) {
            return Ok(true);
        }
        if self.cfg.canaries.ack_before_fsync {
            self.unsynced = true;
        } else {
            self.wal.sync()?;
            self.metrics.add("wal_fsyncs_total", 1);
        }
        Ok(false)
    }

    /// Records a commit index the Ready advances; returns true if a failpoint halted the
    /// member there.
    fn note_commit(&mut self, rd: &Ready, out: &mut Output, drop_messages: &mut bool) -> bool {
        let Some(h) = rd.hard_state else {
            return false;
        };
        if h.commit <= self.metrics.get("committed_index") {
            return false;
        }
        self.metrics.set("committed_index", h.commit);
        out.events.push(EventKind::Committed {
            node: self.id,
            index: h.commit,
            term: self.raw.term_at(h.commit).unwrap_or(0),
        });
        self.failpoint(Failpoint::CommitAdvanced, out, drop_messages)
    }

    /// Step 3 of a Ready: applies its committed entries, serves the reads it confirmed
    /// and answers the clients; returns true if a failpoint halted the member.
    fn apply_ready(&mut self, now_ns: u64, rd: &Ready, out: &mut Output) -> bool {
        let mut replies = Vec::new();
        for entry in &rd.committed_entries {
            self.apply(now_ns, entry, &mut replies, out);
        }
        self.requests.confirmed(&rd.read_states);
        if !rd.read_states.is_empty() && self.halts_at(Failpoint::ReadConfirmed, out) {
            return true;
        }
        self.serve_reads(&mut replies);
        self.metrics
            .set("applied_index", self.store.applied_index());
        let mut drop_replies = false;
        if !rd.committed_entries.is_empty()
            && self.failpoint(Failpoint::AfterApply, out, &mut drop_replies)
        {
            return true;
        }
        if !drop_replies {
            out.messages.extend(replies);
        }
        !rd.committed_entries.is_empty() && self.halts_at(Failpoint::AfterReply, out)
    }

    fn on_soft_state(&mut self, soft: raft::SoftState, out: &mut Output) {
        if soft.role != self.role || soft.term != self.role_term {
            self.role_term = soft.term;
            out.events.push(EventKind::Role {
                node: self.id,
                role: soft.role,
                term: soft.term,
            });
        }
        if soft.leader != self.leader && soft.leader != NO_NODE {
            self.metrics.add("leader_changes_seen_total", 1);
        }
        let was_leader = self.role == Role::Leader;
        self.role = soft.role;
        self.leader = soft.leader;
        self.metrics
            .set("has_leader", u64::from(soft.leader != NO_NODE));
        self.metrics
            .set("is_leader", u64::from(soft.role == Role::Leader));
        if was_leader && soft.role != Role::Leader {
            if self.requests.writes_pending() > 0 {
                marks::mark!("node.write.leadership_lost");
            }
            let (failed, replies) = self.requests.leadership_lost(soft.leader);
            self.metrics.add("proposals_failed_total", failed as u64);
            out.messages.extend(replies);
            self.metrics.set("proposals_pending", 0);
        }
    }

    fn install_snapshot(&mut self, snapshot: Snapshot, out: &mut Output) -> Result<(), NodeError> {
        let index = snapshot.meta.index;
        let mut store = Store::restore(&snapshot.data).map_err(|e| NodeError::Snapshot {
            index,
            reason: e.to_string(),
        })?;
        store.set_canaries(self.cfg.canaries.store());
        self.wal.save_snapshot(&snapshot, true)?;
        self.store = store;
        self.last_snapshot_index = index;
        out.messages
            .extend(self.requests.covered_by_snapshot(index));
        out.events.push(EventKind::SnapshotInstalled {
            node: self.id,
            index,
            term: snapshot.meta.term,
        });
        self.metrics.add("snapshots_installed_total", 1);
        Ok(())
    }

    fn apply(&mut self, now_ns: u64, entry: &Entry, replies: &mut Vec<Outgoing>, out: &mut Output) {
        let id = entry_id(entry);
        let (client, seq, fresh, result) = match entry.kind {
            EntryKind::Noop | EntryKind::ConfChange => {
                // A configuration change takes effect in the Raft core (at advance).
                self.store.mark_applied(entry.index);
                (0, 0, true, None)
            }
            EntryKind::Normal => {
                let command = Command::decode(&entry.data).unwrap_or_else(|e| {
                    // Entries are validated when proposed; a bad one here is a bug.
                    panic!(
                        "member {}: entry {} does not decode: {e}",
                        self.id, entry.index
                    )
                });
                let applied = self.store.apply(entry.index, &command);
                let (fresh, result) = match applied {
                    Applied::Fresh(r) => (true, Some(r)),
                    Applied::Duplicate(r) => (false, Some(r)),
                    Applied::Stale => (false, None),
                };
                (command.client_id, command.seq, fresh, result)
            }
        };
        out.events.push(EventKind::Applied {
            node: self.id,
            entry: id,
            client,
            seq,
            fresh,
        });
        if let Some(w) = self.requests.take_write(entry.index) {
            let pending = self.requests.writes_pending() as u64;
            self.metrics.set("proposals_pending", pending);
            let response = if w.term == entry.term {
                self.metrics.add("proposals_committed_total", 1);
                self.metrics.observe(
                    "commit_latency_us",
                    now_ns.saturating_sub(w.proposed_ns) / 1000,
                );
                match result {
                    Some(r) => Ok(r),
                    None => Err(ClientError::Unknown),
                }
            } else {
                // Another leader's entry took this index: ours was lost.
                self.metrics.add("proposals_failed_total", 1);
                Err(ClientError::Unknown)
            };
            replies.push(w.caller.reply(response));
        }
    }

    fn serve_reads(&mut self, replies: &mut Vec<Outgoing>) {
        let applied = self.store.applied_index();
        for r in self.requests.servable(applied) {
            let (value, mod_revision) = self.store.get(&r.key);
            replies.push(r.caller.reply(Ok(OpResult::Get {
                value,
                mod_revision,
            })));
        }
    }

    /// Takes a snapshot when one is due; returns true if a failpoint halted the member.
    fn maybe_snapshot(&mut self, out: &mut Output) -> Result<bool, NodeError> {
        let applied = self.store.applied_index();
        if self.cfg.snapshot_every == 0
            || applied < self.last_snapshot_index + self.cfg.snapshot_every
        {
            return Ok(false);
        }
        let term = self
            .raw
            .term_at(applied)
            .expect("the applied entry is still in the log");
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                index: applied,
                term,
                conf: self.raw.conf_state().clone(),
            },
            data: self.store.snapshot(),
        };
        self.wal.save_snapshot(&snapshot, false)?;
        self.raw.compact(snapshot, self.cfg.snapshot_keep);
        self.wal.release_to(applied)?;
        self.last_snapshot_index = applied;
        self.metrics.add("snapshots_total", 1);
        out.events.push(EventKind::SnapshotTaken {
            node: self.id,
            index: applied,
        });
        Ok(self.halts_at(Failpoint::AfterSnapshot, out))
    }

    /// The hard state as the core holds it (for tests).
    pub fn hard_state(&self) -> HardState {
        let s = self.raw.status();
        HardState {
            term: s.term,
            vote: s.vote,
            commit: s.committed,
        }
    }
}

fn halt_of(action: FailAction) -> Halt {
    match action {
        FailAction::Crash => Halt::Crash,
        FailAction::PowerLoss => Halt::PowerLoss,
        FailAction::TornCrash => Halt::TornCrash,
        FailAction::Pause => Halt::Pause,
        FailAction::Drop => unreachable!("drop is handled where it fires"),
    }
}
