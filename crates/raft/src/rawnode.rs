//! The application's interface: [`RawNode`] and the [`Ready`] it hands out.

use crate::config::Config;
use crate::raft::{ProposeError, Raft, ReadIndexError, ReadState, Truncation};
use proto::conf::{ConfChange, ConfState};
use proto::raft::{Entry, EntryKind, HardState, Message, MessageType, Snapshot};
use proto::trace::Role;
use proto::{Index, NodeId, Term};

/// Volatile state the application may want to react to (redirect clients, fail pending
/// requests when leadership is lost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftState {
    /// The known leader (0 if none).
    pub leader: NodeId,
    /// This member's role.
    pub role: Role,
    /// This member's term.
    pub term: Term,
}

/// Everything the application must do, in this order (the Ready-loop contract):
///
/// 1. persist `snapshot`, `entries` and `hard_state` to stable storage and **sync**;
/// 2. send `persisted_messages` (and `messages`, which may also go earlier);
/// 3. apply `committed_entries` and answer `read_states` once applied up to their index;
/// 4. call [`RawNode::advance`].
#[derive(Debug, Default)]
pub struct Ready {
    /// Changed role, leader or term, if any. Informational: nothing to persist.
    pub soft_state: Option<SoftState>,
    /// The new term/vote/commit, if changed. Must be durable before any of
    /// `persisted_messages` is sent (a vote or ack must never be forgotten by a crash).
    pub hard_state: Option<HardState>,
    /// A snapshot received from the leader: persist it (before `persisted_messages`) and
    /// install it in the state machine before applying `committed_entries`.
    pub snapshot: Option<Snapshot>,
    /// Entries to append to stable storage, in order. If the first one's index is at or
    /// below entries already stored, those stored from that index on are replaced (the
    /// write-ahead log appends and replay keeps the last word). Durable before
    /// `persisted_messages` are sent.
    pub entries: Vec<Entry>,
    /// Messages that depend on nothing in this Ready being durable (a leader's appends,
    /// heartbeats, snapshots, transfers): they may be sent before or while persisting.
    pub messages: Vec<Message>,
    /// Messages that may be sent only **after** `hard_state`, `entries` and `snapshot` are
    /// durable: votes, vote answers and append answers.
    pub persisted_messages: Vec<Message>,
    /// Committed entries to apply to the state machine, in order. Only entries already
    /// durable locally are handed out.
    pub committed_entries: Vec<Entry>,
    /// Confirmed ReadIndex requests.
    pub read_states: Vec<ReadState>,
    /// Log suffixes dropped since the last Ready because the leader's log disagreed.
    pub truncations: Vec<Truncation>,
}

/// What `advance` must record about the Ready that was handed out.
#[derive(Debug, Default, Clone)]
struct InFlight {
    last_entry: Option<(Index, Term)>,
    last_applied: Option<Index>,
    snapshot_index: Option<Index>,
    /// The configuration of the snapshot handed out, taken on once it is installed.
    snapshot_conf: Option<ConfState>,
    /// The configuration changes among the committed entries handed out, taken on once
    /// they are applied.
    conf_changes: Vec<ConfChange>,
}

/// A Raft member without I/O. See the crate docs for the loop that drives it.
pub struct RawNode {
    raft: Raft,
    prev_hard_state: HardState,
    prev_soft_state: SoftState,
    in_flight: Option<InFlight>,
    max_apply_bytes: usize,
}

impl RawNode {
    /// A member restored from durable state (all empty for a brand-new member).
    pub fn new(
        cfg: Config,
        hard_state: HardState,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
    ) -> RawNode {
        let raft = Raft::new(cfg, hard_state, snapshot, entries);
        let prev_soft_state = soft_state(&raft);
        RawNode {
            prev_hard_state: raft.hard_state(),
            prev_soft_state,
            raft,
            in_flight: None,
            max_apply_bytes: 4 * 1024 * 1024,
        }
    }

    fn assert_no_ready_in_flight(&self, what: &str) {
        assert!(
            self.in_flight.is_none(),
            "member {}: {what} called between ready() and advance()",
            self.raft.id
        );
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.assert_no_ready_in_flight("tick");
        self.raft.tick();
    }

    /// Handles a message from a peer.
    pub fn step(&mut self, m: Message) {
        self.assert_no_ready_in_flight("step");
        self.raft.step(m);
    }

    /// Proposes `data` (leader only): appends it to the leader's log; followers hear of it
    /// at the next Ready. Returns the entry's index and term: the proposal took effect iff
    /// the entry later applied at that index has that term.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(Index, Term), ProposeError> {
        self.assert_no_ready_in_flight("propose");
        self.raft.propose(data)
    }

    /// Proposes a membership change (leader only; one at a time, and not before the leader
    /// has applied an entry of its own term). It takes effect on each member when the
    /// member applies its entry; a joint change is left automatically once applied.
    pub fn propose_conf_change(&mut self, cc: &ConfChange) -> Result<(Index, Term), ProposeError> {
        self.assert_no_ready_in_flight("propose_conf_change");
        self.raft.propose_conf_change(cc)
    }

    /// The configuration this member applied last.
    pub fn conf_state(&self) -> &ConfState {
        self.raft.conf_state()
    }

    /// How many times the configuration changed since this core started (a cheap way
    /// to notice a change).
    pub fn conf_changes(&self) -> u64 {
        self.raft.conf_switches
    }

    /// Asks for a linearizable read point for the application's `context`; the answer
    /// arrives as a [`ReadState`] in a later Ready.
    pub fn read_index(&mut self, context: u64) -> Result<(), ReadIndexError> {
        self.assert_no_ready_in_flight("read_index");
        self.raft.read_index(context)
    }

    /// Starts a campaign now (as if the election timeout had elapsed). A leader ignores it,
    /// as etcd ignores a local MsgHup: campaigning would only disrupt its own term.
    pub fn campaign(&mut self) {
        self.assert_no_ready_in_flight("campaign");
        if self.raft.role == Role::Leader {
            return;
        }
        let kind = if self.raft.cfg.pre_vote {
            crate::election::Campaign::PreElection
        } else {
            crate::election::Campaign::Election
        };
        self.raft.campaign(kind);
    }

    /// Starts a leadership transfer to `to`.
    pub fn transfer_leader(&mut self, to: NodeId) {
        self.assert_no_ready_in_flight("transfer_leader");
        self.raft.transfer_leader(to);
    }

    /// Gives the core a snapshot the application took at `snapshot.meta.index` (at or below
    /// the applied index) and compacts the log up to it, keeping `keep` entries before it
    /// for followers that lag a little.
    pub fn compact(&mut self, snapshot: Snapshot, keep: u64) {
        self.raft.compact(snapshot, keep);
    }

    /// Whether [`RawNode::ready`] has anything to hand out.
    pub fn has_ready(&self) -> bool {
        let r = &self.raft;
        r.broadcast_pending
            || !r.msgs.is_empty()
            || r.pending_snapshot.is_some()
            || r.log.persisted < r.log.last_index()
            || r.log.committed.min(r.log.persisted) > r.log.applied
            || !r.read_states.is_empty()
            || r.hard_state() != self.prev_hard_state
            || soft_state(r) != self.prev_soft_state
    }

    /// Collects what the application must persist, send and apply. Call
    /// [`RawNode::advance`] when done, before any other call.
    pub fn ready(&mut self) -> Ready {
        self.assert_no_ready_in_flight("ready");
        if self.raft.broadcast_pending {
            self.raft.broadcast_pending = false;
            if self.raft.role == Role::Leader {
                self.raft.flush_appends();
            }
        }
        let r = &mut self.raft;
        let mut rd = Ready::default();
        let soft = soft_state(r);
        if soft != self.prev_soft_state {
            rd.soft_state = Some(soft);
            self.prev_soft_state = soft;
        }
        let hard = r.hard_state();
        if hard != self.prev_hard_state {
            rd.hard_state = Some(hard);
            self.prev_hard_state = hard;
        }
        rd.snapshot = r.pending_snapshot.take();
        rd.entries = r.log.unstable_entries().to_vec();
        if rd.snapshot.is_none() {
            rd.committed_entries = r.log.next_committed_entries(self.max_apply_bytes).to_vec();
        }
        let independent = |m: &Message| {
            matches!(
                m.kind,
                MessageType::Append
                    | MessageType::Heartbeat
                    | MessageType::Snapshot
                    | MessageType::TimeoutNow
            )
        };
        let msgs = std::mem::take(&mut r.msgs);
        // Usually every message falls on one side: hand the vector over whole.
        if msgs.iter().all(independent) {
            rd.messages = msgs;
        } else if !msgs.iter().any(independent) {
            rd.persisted_messages = msgs;
        } else {
            (rd.messages, rd.persisted_messages) = msgs.into_iter().partition(independent);
        }
        rd.read_states = std::mem::take(&mut r.read_states);
        rd.truncations = std::mem::take(&mut r.truncations);
        let conf_changes = rd
            .committed_entries
            .iter()
            .filter(|e| e.kind == EntryKind::ConfChange)
            .map(|e| {
                ConfChange::decode(&e.data).unwrap_or_else(|err| {
                    // Proposals are encoded here and the log is checksummed: a bug.
                    panic!(
                        "member {}: conf change {} does not decode: {err}",
                        r.id, e.index
                    )
                })
            })
            .collect();
        self.in_flight = Some(InFlight {
            last_entry: rd.entries.last().map(|e| (e.index, e.term)),
            last_applied: rd.committed_entries.last().map(|e| e.index),
            snapshot_index: rd.snapshot.as_ref().map(|s| s.meta.index),
            snapshot_conf: rd.snapshot.as_ref().map(|s| s.meta.conf.clone()),
            conf_changes,
        });
        rd
    }

    /// Tells the core that the last Ready was handled: its entries and snapshot are
    /// durable and its committed entries applied.
    pub fn advance(&mut self) {
        let in_flight = self
            .in_flight
            .take()
            .expect("advance() called without a ready() before it");
        let r = &mut self.raft;
        if let Some(index) = in_flight.snapshot_index {
            r.log.applied = r.log.applied.max(index);
            r.log.persisted = r.log.persisted.max(index);
        }
        if let Some((index, term)) = in_flight.last_entry {
            // Entries may have been replaced since; only mark what is still ours.
            if r.log.term(index) == Some(term) {
                r.log.persisted = r.log.persisted.max(index);
            }
        }
        if let Some(index) = in_flight.last_applied {
            r.log.applied = r.log.applied.max(index);
        }
        if let Some(conf) = in_flight.snapshot_conf {
            r.switch_to(conf);
        }
        for cc in &in_flight.conf_changes {
            r.apply_conf_change(cc);
        }
        r.maybe_auto_leave();
        if r.role == Role::Leader {
            let persisted = r.log.persisted;
            let id = r.id;
            let own = r
                .progress
                .get_mut(&id)
                .expect("leader has its own progress");
            own.maybe_update(persisted);
            if r.maybe_commit() {
                r.broadcast_append();
            }
        }
    }

    /// Read-only access to the core's state (for tests, metrics and the application).
    pub fn status(&self) -> Status {
        let r = &self.raft;
        Status {
            id: r.id,
            term: r.term,
            vote: r.vote,
            leader: r.leader,
            role: r.role,
            committed: r.log.committed,
            applied: r.log.applied,
            persisted: r.log.persisted,
            last_index: r.log.last_index(),
            last_term: r.log.last_term(),
            first_index: r.log.first_index(),
        }
    }

    /// The term of the entry at `index`, if known.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        self.raft.log.term(index)
    }

    /// The state the protocol's rules speak of, as a step event records it.
    pub fn core_state(&self) -> proto::step::CoreState {
        let r = &self.raft;
        proto::step::CoreState {
            term: r.term,
            vote: r.vote,
            leader: r.leader,
            role: r.role,
            last_index: r.log.last_index(),
            last_term: r.log.last_term(),
            commit: r.log.committed,
            commit_term: r.log.term(r.log.committed).unwrap_or(0),
        }
    }
}

/// A snapshot of a member's consensus state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// The member.
    pub id: NodeId,
    /// Current term.
    pub term: Term,
    /// Vote in the current term.
    pub vote: NodeId,
    /// Known leader.
    pub leader: NodeId,
    /// Role.
    pub role: Role,
    /// Commit index.
    pub committed: Index,
    /// Applied index.
    pub applied: Index,
    /// Durable index.
    pub persisted: Index,
    /// Last index.
    pub last_index: Index,
    /// Term of the last entry.
    pub last_term: Term,
    /// First index still held as an entry.
    pub first_index: Index,
}

fn soft_state(r: &Raft) -> SoftState {
    SoftState {
        leader: r.leader,
        role: r.role,
        term: r.term,
    }
}
