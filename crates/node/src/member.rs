//! The member: one Raft + WAL + KV node, driven by the Ready loop.

use crate::failpoint::{FailAction, Failpoint, Failpoints};
use crate::metrics::Metrics;
use disk::Disk;
use kv::Store;
use proto::codec::{fnv1a, FNV_OFFSET};
use proto::kv::{ClientError, ClientRequest, Command, Op};
use proto::raft::{Entry, EntryKind, HardState, Message};
use proto::step::{StepInput, StepMessage};
use proto::trace::{EntryId, EventKind, Role};
use proto::{Index, NodeId, Term, NO_NODE};
use raft::{ProposeError, RawNode, ReadIndexError};
use wal::{Recovered, Wal, WalError};

pub use crate::types::{Halt, NodeCanaries, NodeConfig, NodeError, Outgoing, Output};

mod apply;
mod membership;
mod ready;
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
    /// The input the core is handling and its state before it, for the step event of
    /// the Ready that follows (see [`proto::step`]).
    step_input: Option<(StepInput, proto::step::CoreState)>,
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
            step_input: None,
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
        self.begin_step(StepInput::Tick);
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
        self.begin_step(StepInput::Receive {
            msg: StepMessage::of(&message, true),
        });
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
        if !command.op.is_write() {
            self.read_request(caller, &command.op, out);
        } else {
            let mut drop_request = false;
            if self.failpoint(Failpoint::ProposalReceived, out, &mut drop_request) || drop_request {
                return Ok(());
            }
            self.write_request(now_ns, caller, &command, out);
        }
        self.run_ready(now_ns, out)
    }

    /// A read (a get or a range): asked of the core, answered once confirmed and applied.
    fn read_request(&mut self, caller: Caller, op: &Op, out: &mut Output) {
        let context = self.requests.next_context();
        self.begin_step(StepInput::ReadIndex { context });
        let refused = match self.raw.read_index(context) {
            Ok(()) => {
                let op = op.clone();
                self.requests
                    .read_asked(context, PendingRead { caller, op });
                return;
            }
            Err(ReadIndexError::NotLeader { leader }) => ClientError::NotLeader { leader },
            Err(ReadIndexError::NoCommitInTerm) => ClientError::Unavailable,
        };
        out.messages.push(caller.reply(Err(refused)));
    }

    /// A write: proposed, answered once applied at its index.
    fn write_request(&mut self, now_ns: u64, caller: Caller, command: &Command, out: &mut Output) {
        self.begin_step(StepInput::Propose);
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
        self.begin_step(StepInput::Campaign);
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
        self.begin_step(StepInput::Transfer { to });
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

    /// Notes the input the core is about to handle, and its state before it.
    fn begin_step(&mut self, input: StepInput) {
        self.step_input = Some((input, self.raw.core_state()));
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
