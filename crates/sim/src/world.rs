//! The cluster harness: nodes on a madsim runtime, our network and our disks.
//!
//! Every node is a madsim node whose init function builds the process from the node's
//! [`SimDisk`] (which belongs to the world and so survives crashes). Messages do not go
//! through madsim's sockets: the world decides each message's fate at send time
//! ([`NetState::decide`]), then a task on the world's router node sleeps for the drawn
//! latency and drops the message into the receiver's mailbox if the receiver is up. A
//! crashed node's mailbox is gone, so messages arriving while it is down are lost.

use crate::net::{Filter, NetState, NetworkFaults, NetworkStats, Verdict};
use crate::rng::stream;
use crate::trace::Trace;
use disk::{DiskFaults, FaultMode, SimDisk};
use madsim::runtime::{Handle, NodeHandle};
use madsim::time::TimeHandle;
use proto::trace::{DropReason, Event, EventKind, MessageSummary};
use proto::NodeId;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A message the world can carry: it must summarize itself for the trace.
pub trait Payload: Clone + Send + Sync + 'static {
    /// What the trace records about the message (and what filters match on).
    fn summary(&self) -> MessageSummary;
}

struct Slot<M> {
    handle: Option<NodeHandle>,
    up: bool,
    paused: bool,
    mailbox: Option<async_channel::Sender<(NodeId, M)>>,
    disk: SimDisk,
}

struct State<M> {
    trace: Trace,
    net: NetState,
    nodes: BTreeMap<NodeId, Slot<M>>,
    /// Messages a hold filter kept back: (from, to, message, summary).
    held: Vec<(NodeId, NodeId, M, MessageSummary)>,
    /// The node whose tasks carry messages in flight. Taken at shutdown: its handle holds
    /// the runtime's task queue, whose tasks hold this world, so keeping it would leak
    /// the world of every run.
    router: Option<NodeHandle>,
}

struct Inner<M> {
    seed: u64,
    disk_faults: DiskFaults,
    state: Mutex<State<M>>,
}

/// One run's simulated world. Cheap to clone (a shared handle).
pub struct World<M> {
    inner: Arc<Inner<M>>,
}

impl<M> Clone for World<M> {
    fn clone(&self) -> Self {
        World {
            inner: self.inner.clone(),
        }
    }
}

/// Everything a run leaves behind once its world is shut down.
#[derive(Debug)]
pub struct RunRecord {
    /// The trace's events.
    pub events: Vec<Event>,
    /// The trace hash.
    pub trace_hash: u64,
    /// Network counters.
    pub network: NetworkStats,
    /// Simulated time at shutdown, nanoseconds.
    pub end_ns: u64,
}

impl<M: Payload> World<M> {
    /// A world for the run `seed`. Must be called inside the madsim runtime.
    pub fn new(seed: u64, network: NetworkFaults, disk_faults: DiskFaults) -> World<M> {
        let handle = Handle::current();
        let router = handle.create_node().name("network").build();
        World {
            inner: Arc::new(Inner {
                seed,
                disk_faults,
                state: Mutex::new(State {
                    trace: Trace::default(),
                    net: NetState::new(network, stream(seed, "network", 0)),
                    nodes: BTreeMap::new(),
                    held: Vec::new(),
                    router: Some(router),
                }),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The run seed.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Simulated nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        // Looked up each time rather than kept: a kept handle would hold the runtime's
        // timers (and through them this world) alive after the run.
        TimeHandle::current().elapsed().as_nanos() as u64
    }

    /// Records an event in the trace at the current simulated time.
    pub fn record(&self, kind: EventKind) {
        let now = self.now_ns();
        self.lock().trace.record(now, kind);
    }

    /// The trace hash so far.
    pub fn trace_hash(&self) -> u64 {
        self.lock().trace.hash()
    }

    /// Runs `f` over the trace's events so far (for conditions that watch the run).
    pub fn with_events<T>(&self, f: impl FnOnce(&[Event]) -> T) -> T {
        f(self.lock().trace.events())
    }

    /// Network counters so far.
    pub fn network_stats(&self) -> NetworkStats {
        self.lock().net.stats.clone()
    }

    /// Adds node `id`, whose process is `actor`. The actor runs now and again at every
    /// restart, each time with a fresh [`Endpoint`] (a new mailbox, the same disk).
    pub fn add_node<F, Fut>(&self, id: NodeId, actor: F)
    where
        F: Fn(Endpoint<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        assert!(id != 0, "node ids start at 1");
        let disk = SimDisk::new(
            self.inner.disk_faults.clone(),
            stream(self.seed(), "disk", id),
        );
        let previous = self.lock().nodes.insert(
            id,
            Slot {
                handle: None,
                up: true,
                paused: false,
                mailbox: None,
                disk,
            },
        );
        assert!(previous.is_none(), "node {id} added twice");
        let world = self.clone();
        // build() runs the init function at once, so the slot must exist before it.
        let handle = Handle::current()
            .create_node()
            .name(format!("n{id}"))
            .init(move || actor(world.attach(id)))
            .build();
        self.lock()
            .nodes
            .get_mut(&id)
            .expect("slot inserted above")
            .handle = Some(handle);
    }

    /// Makes a new mailbox for `id`'s new incarnation.
    fn attach(&self, id: NodeId) -> Endpoint<M> {
        let (tx, rx) = async_channel::unbounded();
        let mut state = self.lock();
        let slot = state
            .nodes
            .get_mut(&id)
            .expect("a node is attached only after its slot exists");
        slot.mailbox = Some(tx);
        Endpoint {
            id,
            world: self.clone(),
            rx,
            disk: slot.disk.clone(),
        }
    }

    fn with_slot<T>(&self, id: NodeId, f: impl FnOnce(&mut Slot<M>) -> T) -> T {
        let mut state = self.lock();
        let slot = state
            .nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id} in this world"));
        f(slot)
    }

    fn madsim_handle(&self, id: NodeId) -> NodeHandle {
        self.with_slot(id, |s| s.handle.clone().expect("node built"))
    }

    /// The ids of every node, in order.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.lock().nodes.keys().copied().collect()
    }

    /// Whether `id`'s process is running (not crashed).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.with_slot(id, |s| s.up)
    }

    /// Whether `id`'s process is paused.
    pub fn is_paused(&self, id: NodeId) -> bool {
        self.with_slot(id, |s| s.paused)
    }

    /// Replaces the latency and read-corruption settings of every node's disk.
    pub fn set_disk_faults(&self, faults: DiskFaults) {
        let disks: Vec<SimDisk> = self.lock().nodes.values().map(|s| s.disk.clone()).collect();
        for d in disks {
            d.set_faults(faults.clone());
        }
        self.record(EventKind::Note {
            node: 0,
            text: format!(
                "disks: write {} us, sync {} us, slow sync {:.1}% (+{} us)",
                faults.write_latency_us,
                faults.sync_latency_us,
                faults.slow_sync_ppm as f64 / 1e4,
                faults.slow_sync_us
            ),
        });
    }

    /// The disk of node `id` (a shared handle).
    pub fn disk(&self, id: NodeId) -> SimDisk {
        self.with_slot(id, |s| s.disk.clone())
    }

    /// Kills `id`'s process. With `Some(mode)` the disk also loses power: its pending
    /// writes are resolved by `mode`. With `None` it is a process crash: the operating
    /// system still holds the pending writes, so they survive.
    pub fn crash(&self, id: NodeId, mode: Option<FaultMode>) {
        let handle = self.madsim_handle(id);
        Handle::current().kill(handle.id());
        let disk = self.with_slot(id, |s| {
            s.up = false;
            s.paused = false;
            s.mailbox = None;
            s.disk.clone()
        });
        self.record(EventKind::Crash { node: id });
        if let Some(mode) = mode {
            let report = disk.crash(mode);
            self.record(EventKind::DiskCrash {
                node: id,
                kept: report.kept,
                dropped: report.dropped,
                torn: report.torn,
            });
        }
    }

    /// Starts `id`'s process again (crashing it first if it is up): its init runs anew and
    /// recovers from its disk.
    pub fn restart(&self, id: NodeId) {
        let handle = self.madsim_handle(id);
        self.with_slot(id, |s| {
            s.up = true;
            s.paused = false;
        });
        self.record(EventKind::Restart { node: id });
        Handle::current().restart(handle.id());
    }

    /// Freezes `id`'s process (it keeps its memory; messages queue up).
    pub fn pause(&self, id: NodeId) {
        let handle = self.madsim_handle(id);
        self.with_slot(id, |s| s.paused = true);
        self.record(EventKind::Pause { node: id });
        Handle::current().pause(handle.id());
    }

    /// Lets a paused process run again.
    pub fn resume(&self, id: NodeId) {
        let handle = self.madsim_handle(id);
        self.with_slot(id, |s| s.paused = false);
        self.record(EventKind::Resume { node: id });
        Handle::current().resume(handle.id());
    }

    /// Splits the listed nodes into groups that cannot reach each other.
    pub fn partition(&self, groups: Vec<Vec<NodeId>>) {
        self.lock().net.partition(&groups);
        self.record(EventKind::Partition { groups });
    }

    /// Cuts the link from `from` to `to` (one way).
    pub fn cut(&self, from: NodeId, to: NodeId) {
        self.lock().net.cut(from, to);
        self.record(EventKind::CutLink { from, to });
    }

    /// Removes every partition and cut.
    pub fn heal(&self) {
        self.lock().net.heal();
        self.record(EventKind::Heal);
    }

    /// Replaces the network's random faults.
    pub fn set_network(&self, faults: NetworkFaults) {
        self.record(EventKind::NetworkConfig {
            loss_ppm: faults.loss_ppm,
            duplicate_ppm: faults.duplicate_ppm,
            latency_min_us: faults.latency_min_us,
            latency_max_us: faults.latency_max_us,
        });
        self.lock().net.set_faults(faults);
    }

    /// The network's random faults in force.
    pub fn network(&self) -> NetworkFaults {
        self.lock().net.faults().clone()
    }

    /// Adds a message filter.
    pub fn add_filter(&self, filter: Filter) {
        self.lock().net.add_filter(filter);
    }

    /// Removes every message filter.
    pub fn clear_filters(&self) {
        self.lock().net.clear_filters();
    }

    fn send(&self, from: NodeId, to: NodeId, msg: M) {
        let summary = msg.summary();
        let now = self.now_ns();
        let mut state = self.lock();
        let state = &mut *state;
        state.trace.record(
            now,
            EventKind::Send {
                from,
                to,
                msg: summary.clone(),
            },
        );
        let copies = match state.net.decide(from, to, &summary) {
            Verdict::Hold => {
                state.trace.record(
                    now,
                    EventKind::Held {
                        from,
                        to,
                        msg: summary.clone(),
                    },
                );
                state.held.push((from, to, msg, summary));
                return;
            }
            Verdict::Drop(reason) => {
                state.trace.record(
                    now,
                    EventKind::Drop {
                        from,
                        to,
                        msg: summary,
                        reason,
                    },
                );
                return;
            }
            Verdict::Deliver(copies) => copies,
        };
        if copies > 1 {
            state.trace.record(
                now,
                EventKind::Duplicate {
                    from,
                    to,
                    msg: summary.clone(),
                },
            );
        }
        let mut msg = Some(msg);
        for copy in 0..copies {
            let payload = if copy + 1 == copies {
                msg.take().expect("the last copy takes the message")
            } else {
                msg.clone().expect("message present until the last copy")
            };
            self.schedule(state, from, to, payload, summary.clone());
        }
    }

    /// Delivers `msg` after a latency drawn from the network stream.
    fn schedule(
        &self,
        state: &mut State<M>,
        from: NodeId,
        to: NodeId,
        msg: M,
        summary: MessageSummary,
    ) {
        let latency = Duration::from_micros(state.net.latency_us());
        let Some(router) = &state.router else {
            return; // the world is shut down
        };
        let world = self.clone();
        router.spawn(async move {
            madsim::time::sleep(latency).await;
            world.deliver(from, to, msg, summary);
        });
    }

    /// Sends every message a hold filter kept back, in the order they were held.
    pub fn release(&self) {
        let now = self.now_ns();
        let mut guard = self.lock();
        let state = &mut *guard;
        let held = std::mem::take(&mut state.held);
        state.trace.record(
            now,
            EventKind::Released {
                count: held.len() as u32,
            },
        );
        for (from, to, msg, summary) in held {
            self.schedule(state, from, to, msg, summary);
        }
    }

    /// Puts `msg` straight into `to`'s mailbox, as from `from`, bypassing the network (an
    /// operator's command, not traffic). Returns false if `to` is down.
    pub fn inject(&self, from: NodeId, to: NodeId, msg: M) -> bool {
        let state = self.lock();
        match state.nodes.get(&to).and_then(|s| s.mailbox.as_ref()) {
            Some(mailbox) => mailbox.try_send((from, msg)).is_ok(),
            None => false,
        }
    }

    fn deliver(&self, from: NodeId, to: NodeId, msg: M, summary: MessageSummary) {
        let now = self.now_ns();
        let mut state = self.lock();
        let state = &mut *state;
        let delivered = match state.nodes.get(&to).and_then(|s| s.mailbox.as_ref()) {
            Some(mailbox) => mailbox.try_send((from, msg)).is_ok(),
            None => false,
        };
        if delivered {
            state.net.stats.delivered += 1;
            state.trace.record(
                now,
                EventKind::Deliver {
                    from,
                    to,
                    msg: summary,
                },
            );
        } else {
            state.net.stats.dropped += 1;
            state.trace.record(
                now,
                EventKind::Drop {
                    from,
                    to,
                    msg: summary,
                    reason: DropReason::Down,
                },
            );
        }
    }

    /// Kills every node and returns the run's record. Call it at the end of every run:
    /// madsim keeps a node's tasks (and their memory) alive until it is killed.
    pub fn shutdown(&self) -> RunRecord {
        let handles: Vec<NodeHandle> = {
            let mut state = self.lock();
            state
                .nodes
                .values_mut()
                .filter_map(|s| {
                    s.mailbox = None;
                    s.up = false;
                    s.handle.clone()
                })
                .collect()
        };
        let runtime = Handle::current();
        for h in &handles {
            runtime.kill(h.id());
        }
        let router = self.lock().router.take();
        if let Some(router) = router {
            runtime.kill(router.id());
        }
        let end_ns = self.now_ns();
        let mut state = self.lock();
        let record = RunRecord {
            trace_hash: state.trace.hash(),
            events: state.trace.take_events(),
            network: state.net.stats.clone(),
            end_ns,
        };
        // Drop the slots and held messages so that nothing keeps the killed nodes'
        // memory alive.
        state.nodes.clear();
        state.held.clear();
        record
    }
}

/// A node process's view of the world: its id, its mailbox, its disk, and the network.
pub struct Endpoint<M> {
    id: NodeId,
    world: World<M>,
    rx: async_channel::Receiver<(NodeId, M)>,
    disk: SimDisk,
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

    /// Sleeps for the simulated time that this node's disk operations since the last call
    /// cost (the disk itself is synchronous; time passes here). madsim sleeps last at least
    /// 1 ms, so small costs are rounded up to that.
    pub async fn pay_disk_latency(&self) {
        let owed_us = self.disk.take_latency_us();
        if owed_us > 0 {
            madsim::time::sleep(Duration::from_micros(owed_us)).await;
        }
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
        match self.rx.recv().await {
            Ok(m) => m,
            // The world dropped our mailbox: this incarnation is over. Wait forever; the
            // kill that follows ends the task.
            Err(_) => std::future::pending().await,
        }
    }

    /// Takes a message if one is waiting.
    pub fn try_recv(&self) -> Option<(NodeId, M)> {
        self.rx.try_recv().ok()
    }
}
