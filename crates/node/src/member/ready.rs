//! The Ready loop (the contract between the Raft core and its host): persist and fsync,
//! then send, then apply and answer, then advance; with the failpoints at each step.

use super::{entry_id, Node};
use crate::failpoint::Failpoint;
use crate::types::{NodeError, Outgoing, Output};
use disk::Disk;
use proto::raft::HardState;
use proto::step::{CoreState, RaftStep, StepInput, StepMessage};
use proto::trace::{EventKind, Role};
use proto::NO_NODE;
use raft::Ready;

/// How step 1 of a Ready ended.
enum Persisted {
    /// A failpoint halted the member.
    Halted,
    /// Saved and synced; the term and vote that changed, if any.
    Done { new_vote: Option<HardState> },
}

impl<D: Disk> Node<D> {
    /// The Ready loop: persist and fsync, then send, then apply and answer, then advance.
    pub(super) fn run_ready(&mut self, now_ns: u64, out: &mut Output) -> Result<(), NodeError> {
        // Bounded: each round handles what the previous one produced; a core that keeps
        // producing Readies this long is a bug.
        let mut step = self.step_input.take();
        for _ in 0..1000 {
            if !self.raw.has_ready() {
                // A message that changed nothing visible still counts (a vote or an
                // acknowledgement the core noted): the validator follows them.
                if let Some((input @ StepInput::Receive { .. }, before)) = step {
                    out.events.push(self.step_event(input, before, None));
                }
                return Ok(());
            }
            let rd = self.raw.ready();
            let (input, before) = step
                .take()
                .unwrap_or_else(|| (StepInput::Advance, self.raw.core_state()));
            out.events.push(self.step_event(input, before, Some(&rd)));
            if self.handle_ready(now_ns, rd, out)? {
                return Ok(()); // halted: the process dies with the Ready unfinished
            }
            let switches = self.raw.conf_changes();
            step = Some((StepInput::Advance, self.raw.core_state()));
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

    /// The step event of a Ready (or of an input that produced none): what drove it, the
    /// state before and after, what the core decided to send and the reads it confirmed.
    fn step_event(&self, input: StepInput, before: CoreState, rd: Option<&Ready>) -> EventKind {
        let (sent, reads) = rd.map_or((Vec::new(), Vec::new()), |rd| {
            let sent = rd
                .messages
                .iter()
                .chain(&rd.persisted_messages)
                .map(|m| StepMessage::of(m, false))
                .collect();
            (sent, rd.read_states.iter().map(|r| r.context).collect())
        });
        EventKind::RaftStep(Box::new(RaftStep {
            node: self.id,
            input,
            before,
            after: self.raw.core_state(),
            sent,
            reads,
        }))
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
}
