//! Named failpoints on the write path, after etcd's robustness failpoints. A scenario
//! arms one with an action; the member checks it at that exact point. Unarmed, a check is
//! one relaxed atomic load.

use proto::NodeId;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The points of the write path where a failure can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failpoint {
    /// The leader received a client write and has not yet appended it to its log
    /// (leader-crash case 1).
    ProposalReceived,
    /// A Ready's entries and hard state were written and fsynced to the WAL, and none of
    /// its messages was sent yet (leader-crash case 2: the entry is in the leader's WAL
    /// only).
    AfterSave,
    /// About to send a Ready's messages (`drop` discards them).
    BeforeSend,
    /// The commit index advanced in this Ready and its messages (which carry the new
    /// commit index) were not sent yet (leader-crash case 5).
    CommitAdvanced,
    /// Committed entries were applied and the replies to clients not yet sent
    /// (leader-crash case 6; `drop` loses the replies).
    AfterApply,
    /// Replies to clients were sent.
    AfterReply,
    /// A vote for another member was persisted and its answer sent.
    AfterVote,
    /// A Ready's entries and hard state were written to the WAL but not yet fsynced.
    BeforeSync,
    /// A snapshot received from the leader was made durable and installed.
    AfterSnapshotInstall,
    /// The member took a snapshot of its own and released the WAL behind it.
    AfterSnapshot,
    /// The leader confirmed its leadership for reads (ReadIndex) and has not served them.
    ReadConfirmed,
}

impl Failpoint {
    /// Every failpoint.
    pub const ALL: [Failpoint; 11] = [
        Failpoint::ProposalReceived,
        Failpoint::AfterSave,
        Failpoint::BeforeSend,
        Failpoint::CommitAdvanced,
        Failpoint::AfterApply,
        Failpoint::AfterReply,
        Failpoint::AfterVote,
        Failpoint::AfterSnapshotInstall,
        Failpoint::AfterSnapshot,
        Failpoint::ReadConfirmed,
        Failpoint::BeforeSync,
    ];

    /// The failpoint's name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Failpoint::ProposalReceived => "proposal-received",
            Failpoint::AfterSave => "after-save",
            Failpoint::BeforeSend => "before-send",
            Failpoint::CommitAdvanced => "commit-advanced",
            Failpoint::AfterApply => "after-apply",
            Failpoint::AfterReply => "after-reply",
            Failpoint::AfterVote => "after-vote",
            Failpoint::AfterSnapshotInstall => "after-snapshot-install",
            Failpoint::AfterSnapshot => "after-snapshot",
            Failpoint::ReadConfirmed => "read-confirmed",
            Failpoint::BeforeSync => "before-sync",
        }
    }

    /// Parses a name given by [`Failpoint::name`].
    pub fn from_name(name: &str) -> Option<Failpoint> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// What an armed failpoint does when reached (scenario files name it in kebab-case).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FailAction {
    /// The process crashes (the OS keeps unsynced writes).
    Crash,
    /// The machine loses power (unsynced writes are lost).
    PowerLoss,
    /// The machine loses power in the middle of writing (unsynced writes torn).
    TornCrash,
    /// The process freezes until resumed.
    Pause,
    /// The messages (or replies, or request) at this point are dropped; the member goes on.
    Drop,
}

impl FailAction {
    /// As written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            FailAction::Crash => "crash",
            FailAction::PowerLoss => "power-loss",
            FailAction::TornCrash => "torn-crash",
            FailAction::Pause => "pause",
            FailAction::Drop => "drop",
        }
    }
}

#[derive(Clone, Debug)]
struct Armed {
    node: Option<NodeId>,
    point: Failpoint,
    action: FailAction,
    /// Times it may still fire (`None`: every time).
    remaining: Option<u32>,
}

/// The registry of armed failpoints, shared by the scenario and every member (it belongs
/// to the world, so it survives restarts).
#[derive(Clone, Debug, Default)]
pub struct Failpoints {
    any_armed: Arc<AtomicBool>,
    armed: Arc<Mutex<Vec<Armed>>>,
}

impl Failpoints {
    /// A registry with nothing armed.
    pub fn new() -> Failpoints {
        Failpoints::default()
    }

    /// Arms `point` on `node` (every node if `None`) to do `action`, `count` times (every
    /// time if `None`).
    pub fn arm(
        &self,
        node: Option<NodeId>,
        point: Failpoint,
        action: FailAction,
        count: Option<u32>,
    ) {
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        armed.push(Armed {
            node,
            point,
            action,
            remaining: count,
        });
        self.any_armed.store(true, Ordering::Relaxed);
    }

    /// Disarms everything.
    pub fn disarm_all(&self) {
        self.armed.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.any_armed.store(false, Ordering::Relaxed);
    }

    /// Whether `point` fires on `node` now; consumes one use.
    pub fn check(&self, node: NodeId, point: Failpoint) -> Option<FailAction> {
        if !self.any_armed.load(Ordering::Relaxed) {
            return None;
        }
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        let i = armed
            .iter()
            .position(|a| a.point == point && a.node.is_none_or(|n| n == node))?;
        let action = armed[i].action;
        if let Some(left) = armed[i].remaining.as_mut() {
            *left -= 1;
            if *left == 0 {
                armed.remove(i);
            }
        }
        if armed.is_empty() {
            self.any_armed.store(false, Ordering::Relaxed);
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_failpoint_fires_that_many_times_on_its_node_only() {
        let f = Failpoints::new();
        assert_eq!(f.check(1, Failpoint::AfterSave), None);
        f.arm(Some(2), Failpoint::AfterSave, FailAction::Crash, Some(1));
        assert_eq!(f.check(1, Failpoint::AfterSave), None);
        assert_eq!(f.check(2, Failpoint::BeforeSend), None);
        assert_eq!(f.check(2, Failpoint::AfterSave), Some(FailAction::Crash));
        assert_eq!(f.check(2, Failpoint::AfterSave), None);
    }

    #[test]
    fn names_round_trip() {
        for f in Failpoint::ALL {
            assert_eq!(Failpoint::from_name(f.name()), Some(f));
        }
    }
}
