//! Step 3 of the Ready loop and what feeds it: installing a snapshot the leader sent,
//! applying committed entries to the store and answering their writers, serving
//! confirmed reads, and taking a snapshot when one is due.

use super::{entry_id, Node};
use crate::failpoint::Failpoint;
use crate::types::{NodeError, Outgoing, Output};
use disk::Disk;
use kv::{Applied, Store};
use proto::kv::{ClientError, Command};
use proto::raft::{Entry, EntryKind, Snapshot, SnapshotMeta};
use proto::trace::EventKind;

impl<D: Disk> Node<D> {
    pub(super) fn install_snapshot(
        &mut self,
        snapshot: Snapshot,
        out: &mut Output,
    ) -> Result<(), NodeError> {
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

    pub(super) fn apply(
        &mut self,
        now_ns: u64,
        entry: &Entry,
        replies: &mut Vec<Outgoing>,
        out: &mut Output,
    ) {
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

    pub(super) fn serve_reads(&mut self, replies: &mut Vec<Outgoing>) {
        let applied = self.store.applied_index();
        for r in self.requests.servable(applied) {
            let result = self
                .store
                .read(&r.op)
                .expect("only reads wait for ReadIndex");
            replies.push(r.caller.reply(Ok(result)));
        }
    }

    /// Takes a snapshot when one is due; returns true if a failpoint halted the member.
    pub(super) fn maybe_snapshot(&mut self, out: &mut Output) -> Result<bool, NodeError> {
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
}
