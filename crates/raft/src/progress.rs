//! What a leader knows of each follower's log, and its flow control (as etcd's tracker).

use proto::Index;
use std::collections::VecDeque;

/// How the leader is currently replicating to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// The leader does not know where the follower's log matches: it sends one append at a
    /// time and waits for the answer.
    Probe,
    /// The follower's log matches up to `matched`: appends stream optimistically, bounded
    /// by the in-flight window.
    Replicate,
    /// A snapshot at this index is on its way; nothing else is sent until it is acked.
    Snapshot(Index),
}

/// A leader's view of one follower.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    pub matched: Index,
    /// Next index to send.
    // Invariant: matched < next.
    pub next: Index,
    /// Replication mode.
    pub state: ProgressState,
    /// In Probe: an append was sent and no answer has come yet.
    pub probe_sent: bool,
    /// Last indexes of appends in flight (Replicate), oldest first.
    // Invariant: len() <= the configured max_inflight_msgs.
    pub inflight: VecDeque<Index>,
    /// Heard from since the last CheckQuorum round.
    pub recent_active: bool,
    /// In Snapshot: heartbeat answers received while waiting. A snapshot message can be
    /// lost; after an election timeout's worth of answers the leader probes again.
    pub snapshot_wait: u64,
}

impl Progress {
    /// A fresh progress for a new leader whose last index is `last`.
    pub fn new(last: Index) -> Progress {
        Progress {
            matched: 0,
            next: last + 1,
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: false,
            snapshot_wait: 0,
        }
    }

    /// Switches to probing from `next = matched + 1`.
    pub fn become_probe(&mut self) {
        if let ProgressState::Snapshot(index) = self.state {
            self.next = (self.matched + 1).max(index + 1);
        } else {
            self.next = self.matched + 1;
        }
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Switches to streaming.
    pub fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Waits for a snapshot at `index` to be installed.
    pub fn become_snapshot(&mut self, index: Index) {
        self.state = ProgressState::Snapshot(index);
        self.snapshot_wait = 0;
        self.probe_sent = false;
        self.inflight.clear();
    }

    /// Records a successful append up to `index`; returns whether anything changed.
    pub fn maybe_update(&mut self, index: Index) -> bool {
        let updated = index > self.matched;
        if updated {
            self.matched = index;
            self.probe_sent = false;
        }
        self.next = self.next.max(index + 1);
        while self.inflight.front().is_some_and(|i| *i <= index) {
            self.inflight.pop_front();
        }
        updated
    }

    /// Handles a rejection of the append at `rejected`; `retry_at` is the index the
    /// leader computed from the follower's hint. Returns false for a stale rejection.
    pub fn maybe_decrease(&mut self, rejected: Index, retry_at: Index) -> bool {
        if rejected <= self.matched {
            return false; // stale: that index is known to match
        }
        if self.state == ProgressState::Replicate {
            self.next = self.matched + 1;
            self.become_probe();
            return true;
        }
        if self.next == 0 || rejected != self.next - 1 {
            return false; // an answer to an older probe
        }
        self.next = retry_at.clamp(self.matched, rejected - 1) + 1;
        self.probe_sent = false;
        true
    }

    /// Whether the leader must hold further appends to this follower.
    pub fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= max_inflight,
            ProgressState::Snapshot(_) => true,
        }
    }

    /// Records that an append ending at `last` was sent.
    pub fn sent(&mut self, last: Index, entries: usize) {
        match self.state {
            ProgressState::Replicate => {
                if entries > 0 {
                    self.next = last + 1;
                    self.inflight.push_back(last);
                }
            }
            ProgressState::Probe => self.probe_sent = true,
            ProgressState::Snapshot(_) => {}
        }
    }
}
