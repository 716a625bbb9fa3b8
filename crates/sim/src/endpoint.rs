//! A node process's view of the world.

use crate::mailbox::Mailbox;
use crate::world::{Payload, World};
use disk::{FaultMode, SimDisk};
use proto::trace::EventKind;
use proto::NodeId;
use std::time::Duration;

/// A node process's view of the world: its id, its mailbox, its disk, and the network.
pub struct Endpoint<M> {
    pub(crate) id: NodeId,
    pub(crate) world: World<M>,
    pub(crate) mailbox: Mailbox<M>,
    pub(crate) disk: SimDisk,
}

impl<M: Payload> Endpoint<M> {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's disk.
    pub fn disk(&self) -> &SimDisk {
        &self.disk
    }

    /// The run seed (to derive the node's own random streams).
    pub fn seed(&self) -> u64 {
        self.world.seed()
    }

    /// Simulated nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        self.world.now_ns()
    }

    /// Records a trace event.
    pub fn record(&self, kind: EventKind) {
        self.world.record(kind);
    }

    /// Records events in the trace, in order, at the current simulated time.
    pub fn record_all(&self, kinds: impl IntoIterator<Item = EventKind>) {
        self.world.record_all(kinds);
    }

    /// Sleeps for the simulated time that this node's disk operations since the last call
    /// cost (the disk itself is synchronous; time passes here), to the microsecond, and
    /// returns it in microseconds.
    pub async fn pay_disk_latency(&self) -> u64 {
        let owed_us = self.disk.take_latency_us();
        if owed_us > 0 {
            crate::Alarm::after(Duration::from_micros(owed_us)).await;
        }
        owed_us
    }

    /// Crashes this node's own process (a failpoint fired). With `Some(mode)` the disk
    /// loses power too. The caller must not do anything else: the task ends at its next
    /// await.
    pub fn crash_self(&self, mode: Option<FaultMode>) {
        self.world.crash(self.id, mode);
    }

    /// Freezes this node's own process; it runs again when the world resumes it.
    pub fn pause_self(&self) {
        self.world.pause(self.id);
    }

    /// Sends `msg` to `to`; the network decides its fate. Never blocks.
    pub fn send(&self, to: NodeId, msg: M) {
        self.world.send(self.id, to, msg);
    }

    /// Waits for the next message: (sender, message).
    pub async fn recv(&self) -> (NodeId, M) {
        self.mailbox.recv().await
    }
}
