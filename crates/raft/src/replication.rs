//! Log replication (Raft paper §5.3), commitment (§5.4.2) and snapshots (§7).

use crate::progress::ProgressState;
use crate::raft::{Raft, Truncation};
use proto::raft::{Message, MessageType};
use proto::NodeId;

impl Raft {
    /// Follower: AppendEntries.
    pub(crate) fn handle_append(&mut self, m: Message) {
        let mut resp = Message::new(MessageType::AppendResp, self.id, m.from, self.term);
        if m.index < self.log.committed {
            marks::mark!("raft.append.below_commit");
            // Everything up to our commit index is known to match the leader (Log Matching).
            resp.index = self.log.committed;
            self.send(resp);
            return;
        }
        if self.log.matches(m.index, m.log_term) {
            let last_before = self.log.last_index();
            let last_new = m.index + m.entries.len() as u64;
            let keep_suffix = self.cfg.canaries.skip_truncation_on_conflict;
            if let Some(from) = self.log.append_after_with(&m.entries, keep_suffix) {
                marks::mark!("raft.append.truncated");
                self.truncations.push(Truncation {
                    from,
                    last: last_before,
                });
            }
            // Only what this message proved to match may be committed.
            if m.commit > last_new && last_new > self.log.committed {
                marks::mark!("raft.append.commit_capped");
            }
            self.log.commit_to(m.commit.min(last_new));
            resp.index = if self.cfg.canaries.ack_beyond_append {
                self.log.last_index()
            } else {
                last_new
            };
        } else {
            // Fast backtracking: point the leader at the last index whose term is not
            // above the one it tried, skipping a whole conflicting term at a time.
            marks::mark!("raft.append.rejected");
            let probe_at = m.index.min(self.log.last_index());
            let (hint, hint_term) = self.log.find_conflict_by_term(probe_at, m.log_term);
            resp.reject = true;
            resp.index = m.index;
            resp.reject_hint = hint;
            resp.log_term = hint_term;
        }
        self.send(resp);
    }

    /// Follower: heartbeat (commit index and a ReadIndex sequence).
    pub(crate) fn handle_heartbeat(&mut self, m: Message) {
        // The leader caps the commit index at what it knows we match.
        let commit = m.commit.min(self.log.last_index());
        self.log.commit_to(commit);
        let mut resp = Message::new(MessageType::HeartbeatResp, self.id, m.from, self.term);
        resp.context = m.context;
        self.send(resp);
    }

    /// Follower: InstallSnapshot.
    pub(crate) fn handle_snapshot(&mut self, m: Message) {
        let snapshot = m.snapshot.expect("a snapshot message carries a snapshot");
        let meta = snapshot.meta.clone();
        let mut resp = Message::new(MessageType::AppendResp, self.id, m.from, self.term);
        if meta.index <= self.log.committed {
            marks::mark!("raft.snapshot.stale");
            resp.index = self.log.committed;
        } else if self.log.matches(meta.index, meta.term) {
            // We already hold the snapshot's last entry: just commit up to it. The answer
            // claims what the snapshot proves, no more (as etcd): entries after it may
            // not match the leader's.
            marks::mark!("raft.snapshot.already_held");
            self.log.commit_to(meta.index);
            resp.index = meta.index;
        } else {
            // The snapshot replaces the whole log (the application records the install).
            marks::mark!("raft.snapshot.installed");
            self.log.restore_snapshot(&meta);
            self.log.persisted = meta.index;
            // It is now also the snapshot this member would send if it came to lead.
            self.snapshot = Some(snapshot.clone());
            self.pending_snapshot = Some(snapshot);
            resp.index = meta.index;
        }
        self.send(resp);
    }

    /// Leader: the answer to an append (or a snapshot).
    pub(crate) fn handle_append_response(&mut self, m: Message) {
        let last = self.log.last_index();
        if m.reject {
            // The follower's hint names its last index whose term is <= the probed term;
            // find where our log could agree with it.
            let retry_at = if m.log_term > 0 {
                self.log.find_conflict_by_term(m.reject_hint, m.log_term).0
            } else {
                m.reject_hint
            };
            let Some(pr) = self.progress.get_mut(&m.from) else {
                return;
            };
            if pr.maybe_decrease(m.index, retry_at) {
                marks::mark!("raft.append.resp_rejected");
                self.maybe_send_append(m.from, true);
            }
            return;
        }
        let max_inflight = self.cfg.max_inflight_msgs;
        let Some(pr) = self.progress.get_mut(&m.from) else {
            return;
        };
        let was_paused = pr.is_paused(max_inflight);
        if !pr.maybe_update(m.index.min(last)) {
            marks::mark!("raft.append.resp_stale");
            return;
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot(index) if pr.matched >= index => pr.become_probe(),
            _ => {}
        }
        if self.maybe_commit() {
            self.broadcast_append();
        } else if was_paused {
            // The follower missed any commit broadcast while it was paused: tell it now,
            // even with nothing new to send.
            self.maybe_send_append(m.from, true);
        }
        // Keep the follower's pipeline full.
        while self.maybe_send_append(m.from, false) {}
        if self.transferee == Some(m.from)
            && self
                .progress
                .get(&m.from)
                .is_some_and(|p| p.matched == last)
        {
            self.send(Message::new(
                MessageType::TimeoutNow,
                self.id,
                m.from,
                self.term,
            ));
        }
    }

    /// Leader: the answer to a heartbeat.
    pub(crate) fn handle_heartbeat_response(&mut self, m: Message) {
        let last = self.log.last_index();
        let max_inflight = self.cfg.max_inflight_msgs;
        let Some(pr) = self.progress.get_mut(&m.from) else {
            return;
        };
        pr.probe_sent = false;
        if pr.state == ProgressState::Replicate && pr.inflight.len() >= max_inflight {
            // The follower is alive but acks stopped: appends were lost. Free one slot so
            // the next append goes out; the follower's rejection then starts a probe.
            pr.inflight.pop_front();
        }
        if let ProgressState::Snapshot(_) = pr.state {
            pr.snapshot_wait += 1;
            if pr.snapshot_wait >= self.cfg.election_ticks {
                pr.become_probe(); // the snapshot was probably lost: find out again
            }
        }
        if pr.matched < last {
            self.maybe_send_append(m.from, true);
        }
        self.ack_reads(m.from, m.context);
    }

    /// Raft paper §5.4.2: commit the largest index a quorum has matched (a majority of
    /// each half while joint), but only if its entry is from the current term; earlier
    /// terms' entries commit with it (Figure 8).
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let progress = &self.progress;
        let mut counting = self.counting();
        counting.off_by_one = self.cfg.canaries.quorum_off_by_one;
        let matched = |v| {
            progress
                .get(&v)
                .map_or(0, |p: &crate::progress::Progress| p.matched)
        };
        let index = counting.committed(&self.conf, matched);
        if index <= self.log.committed {
            return false;
        }
        let own_term = self.log.term(index) == Some(self.term);
        if own_term || self.cfg.canaries.commit_earlier_term_by_counting {
            self.log.commit_to(index);
            return true;
        }
        marks::mark!("raft.commit.earlier_term_waits");
        false
    }

    /// Sends followers whatever they lack, and the commit index.
    pub(crate) fn broadcast_append(&mut self) {
        for v in self.peers() {
            self.maybe_send_append(v, true);
        }
    }

    /// Sends new entries to followers that can take them (used after proposals: one append
    /// carries every proposal since the last Ready).
    pub(crate) fn flush_appends(&mut self) {
        for v in self.peers() {
            while self.maybe_send_append(v, false) {}
        }
    }

    pub(crate) fn broadcast_heartbeat(&mut self, read_sequence: u64) {
        for v in self.peers() {
            let commit = if self.cfg.canaries.heartbeat_commit_uncapped {
                self.log.committed
            } else {
                self.progress[&v].matched.min(self.log.committed)
            };
            let mut m = Message::new(MessageType::Heartbeat, self.id, v, self.term);
            m.commit = commit;
            m.context = read_sequence;
            self.send(m);
        }
    }

    /// Every member the leader replicates to (voters and learners), itself excepted.
    fn peers(&self) -> Vec<NodeId> {
        self.progress
            .keys()
            .copied()
            .filter(|v| *v != self.id)
            .collect()
    }

    /// Sends one append (or a snapshot) to `to` if its flow control allows. With
    /// `send_if_empty` false, an append without entries is not sent. Returns whether a
    /// message was sent.
    pub(crate) fn maybe_send_append(&mut self, to: NodeId, send_if_empty: bool) -> bool {
        let last = self.log.last_index();
        let max_inflight = self.cfg.max_inflight_msgs;
        let pr = &self.progress[&to];
        if pr.is_paused(max_inflight) {
            return false;
        }
        let prev = pr.next - 1;
        let Some(prev_term) = self.log.term(prev) else {
            return self.send_snapshot(to);
        };
        let entries = if pr.next <= last {
            self.log
                .slice(pr.next, last + 1, self.cfg.max_size_per_msg)
                .to_vec()
        } else {
            Vec::new()
        };
        if entries.is_empty() && !send_if_empty {
            return false;
        }
        let count = entries.len();
        let mut m = Message::new(MessageType::Append, self.id, to, self.term);
        m.index = prev;
        m.log_term = prev_term;
        m.commit = self.log.committed;
        m.entries = entries;
        let pr = self.progress.get_mut(&to).expect("peer has progress");
        pr.sent(prev + count as u64, count);
        self.send(m);
        true
    }

    fn send_snapshot(&mut self, to: NodeId) -> bool {
        let Some(snapshot) = self.snapshot.clone() else {
            panic!(
                "member {}: follower {to} needs compacted entries but no snapshot is held",
                self.id
            );
        };
        let index = snapshot.meta.index;
        marks::mark!("raft.snapshot.sent");
        let mut m = Message::new(MessageType::Snapshot, self.id, to, self.term);
        m.snapshot = Some(snapshot);
        self.progress
            .get_mut(&to)
            .expect("peer has progress")
            .become_snapshot(index);
        self.send(m);
        true
    }
}
