//! The cluster harness: nodes on a madsim runtime, our network and our disks.
//!
//! Every node is a madsim node whose init function builds the process from the node's
//! [`SimDisk`] (which belongs to the world and so survives crashes). Messages do not go
//! through madsim's sockets: the world decides each message's fate at send time
//! ([`NetState::decide`]) and puts it in flight, due after the drawn latency. One task on
//! the world's router node carries every message: at each wake-up it drops the messages
//! that are due into their receivers' mailboxes (if the receiver is up), in the order they
//! fell due, and sets its next wake-up for the earliest message still in flight. A crashed
//! node's mailbox is gone, so messages arriving while it is down are lost.
//!
//! Why one router and not a task per message: a task and a timer per message cost more
//! than the rest of the network together (allocation, scheduling). The router's wake-ups
//! are exact: it asks madsim's timer for the due time itself, not a `sleep`, which would
//! round anything under 1 ms up to 1 ms.

use crate::endpoint::Endpoint;
use crate::mailbox::Mailbox;
use crate::net::{Filter, NetState, NetworkFaults, NetworkStats, Verdict};
use crate::rng::stream;
use crate::router::{Flight, InFlight, Router};
use crate::trace::Trace;
use disk::{Damage, DiskFaults, FaultMode, SimDisk};
use madsim::runtime::{Handle, NodeHandle};
use proto::trace::{DropReason, Event, EventKind, MessageSummary};
use proto::NodeId;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

/// A message the world can carry: it must summarize itself for the trace.
pub trait Payload: Clone + Send + Sync + 'static {
    /// What the trace records about the message (and what filters match on).
    fn summary(&self) -> MessageSummary;

    /// Whether the network may deliver the message twice. Client requests are not
    /// duplicated (a client connection behaves like TCP): a refused attempt must not come
    /// back later through a second copy, or a client could never know it failed.
    fn may_duplicate(&self) -> bool {
        true
    }
}

struct Slot<M> {
    handle: Option<NodeHandle>,
    up: bool,
    paused: bool,
    mailbox: Option<Mailbox<M>>,
    disk: SimDisk,
}

pub(crate) struct State<M> {
    trace: Trace,
    net: NetState,
    nodes: BTreeMap<NodeId, Slot<M>>,
    /// Messages a hold filter kept back, in the order they were held.
    held: Vec<Flight<M>>,
    /// Messages in flight.
    pub(crate) in_flight: InFlight<M>,
    /// The node whose tasks carry messages in flight. Taken at shutdown: its handle holds
    /// the runtime's task queue, whose tasks hold this world, so keeping it would leak
    /// the world of every run.
    pub(crate) router: Option<NodeHandle>,
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
        let world = World {
            inner: Arc::new(Inner {
                seed,
                disk_faults,
                state: Mutex::new(State {
                    trace: Trace::default(),
                    net: NetState::new(network, stream(seed, "network", 0)),
                    nodes: BTreeMap::new(),
                    held: Vec::new(),
                    in_flight: InFlight::new(),
                    router: None,
                }),
            }),
        };
        router.spawn(Router {
            world: world.clone(),
        });
        world.lock().router = Some(router);
        world
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<M>> {
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
        // Not kept in the world: a kept handle would hold the runtime's timers (and
        // through them this world) alive after the run. See `clock`.
        crate::clock::with(|time| time.elapsed().as_nanos() as u64)
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
        let mailbox = Mailbox::new();
        let mut state = self.lock();
        let slot = state
            .nodes
            .get_mut(&id)
            .expect("a node is attached only after its slot exists");
        if let Some(old) = slot.mailbox.replace(mailbox.clone()) {
            old.close();
        }
        Endpoint {
            id,
            world: self.clone(),
            mailbox,
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
            if let Some(mailbox) = s.mailbox.take() {
                mailbox.close();
            }
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
            if mode == FaultMode::Independent {
                // Out-of-order writeback may leave a bad record with good ones after it,
                // which a strict log rightly takes for corruption.
                self.record(EventKind::DiskDamaged {
                    node: id,
                    what: "unsynced writes persisted out of order".into(),
                });
            }
        }
    }

    /// Damages synced data on the disk of `id`, whose process must be down, before each
    /// file's last write (see [`SimDisk::damage`]); false (and nothing done) if it is up or
    /// its disk has no such data.
    pub fn damage(&self, id: NodeId, kind: Damage, pick: impl Fn(&str) -> bool) -> bool {
        let (up, disk) = self.with_slot(id, |s| (s.up, s.disk.clone()));
        if up {
            return false;
        }
        match disk.damage(kind, pick) {
            Some(what) => {
                self.record(EventKind::DiskDamaged { node: id, what });
                true
            }
            None => false,
        }
    }

    /// Erases the disk of `id`, whose process must be down; false (and nothing done) if it
    /// is up.
    pub fn wipe(&self, id: NodeId) -> bool {
        let (up, disk) = self.with_slot(id, |s| (s.up, s.disk.clone()));
        if up {
            return false;
        }
        let files = disk.wipe();
        self.record(EventKind::DiskDamaged {
            node: id,
            what: format!("wiped: {files} files erased"),
        });
        true
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

    pub(crate) fn send(&self, from: NodeId, to: NodeId, msg: M) {
        let summary = msg.summary();
        let duplicable = msg.may_duplicate();
        let now = self.now_ns();
        let mut state = self.lock();
        let state = &mut *state;
        state.trace.record(
            now,
            EventKind::Send {
                from,
                to,
                msg: summary,
            },
        );
        let copies = match state.net.decide(from, to, &summary, duplicable) {
            Verdict::Hold => {
                state.trace.record(
                    now,
                    EventKind::Held {
                        from,
                        to,
                        msg: summary,
                    },
                );
                state.held.push(Flight {
                    from,
                    to,
                    msg,
                    summary,
                });
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
                    msg: summary,
                },
            );
        }
        let flight = Flight {
            from,
            to,
            msg,
            summary,
        };
        for _ in 1..copies {
            state.schedule(now, flight.clone());
        }
        state.schedule(now, flight);
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
        for flight in held {
            state.schedule(now, flight);
        }
    }

    /// Puts `msg` straight into `to`'s mailbox, as from `from`, bypassing the network (an
    /// operator's command, not traffic). Returns false if `to` is down.
    pub fn inject(&self, from: NodeId, to: NodeId, msg: M) -> bool {
        self.lock().put(from, to, msg)
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
                    if let Some(mailbox) = s.mailbox.take() {
                        mailbox.close();
                    }
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
        // Drop the slots and the messages held or in flight so that nothing keeps the
        // killed nodes' memory alive.
        state.nodes.clear();
        state.held.clear();
        state.in_flight.clear();
        record
    }
}

impl<M: Payload> State<M> {
    /// Puts `flight` in flight, due after a latency drawn from the network stream, and
    /// makes sure the router wakes up by then.
    fn schedule(&mut self, now: u64, flight: Flight<M>) {
        if self.router.is_none() {
            return; // the world is shut down
        }
        let due = now + self.net.latency_us() * 1_000;
        self.in_flight.push(now, due, flight);
    }

    /// Puts `msg` into `to`'s mailbox, as from `from`; false if `to` is down.
    fn put(&self, from: NodeId, to: NodeId, msg: M) -> bool {
        match self.nodes.get(&to).and_then(|s| s.mailbox.as_ref()) {
            Some(mailbox) => mailbox.put(from, msg),
            None => false,
        }
    }

    /// Delivers every flight due by `now`, in order.
    pub(crate) fn deliver_due(&mut self, now: u64) {
        while let Some(flight) = self.in_flight.pop_due(now) {
            let Flight {
                from,
                to,
                msg,
                summary,
            } = flight;
            if self.put(from, to, msg) {
                self.net.stats.delivered += 1;
                let kind = EventKind::Deliver {
                    from,
                    to,
                    msg: summary,
                };
                self.trace.record(now, kind);
            } else {
                self.net.stats.dropped += 1;
                let kind = EventKind::Drop {
                    from,
                    to,
                    msg: summary,
                    reason: DropReason::Down,
                };
                self.trace.record(now, kind);
            }
        }
    }
}
