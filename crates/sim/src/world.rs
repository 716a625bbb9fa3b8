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
use crate::inflight::{Flight, InFlight};
use crate::mailbox::Mailbox;
use crate::net::{NetState, NetworkStats};
use crate::rng::stream;
use crate::trace::Trace;
use config::NetworkFaults;
use disk::{DiskFaults, SimDisk};
use madsim::runtime::{Handle, NodeHandle};
use proto::trace::{Event, EventKind, MessageSummary};
use proto::NodeId;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

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

pub(crate) struct Slot<M> {
    pub(crate) handle: Option<NodeHandle>,
    pub(crate) up: bool,
    pub(crate) paused: bool,
    pub(crate) mailbox: Option<Mailbox<M>>,
    pub(crate) disk: SimDisk,
}

pub(crate) struct State<M> {
    pub(crate) trace: Trace,
    pub(crate) net: NetState,
    pub(crate) nodes: BTreeMap<NodeId, Slot<M>>,
    /// Messages a hold filter kept back, in the order they were held.
    pub(crate) held: Vec<Flight<M>>,
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
pub struct RunRecord {
    /// The trace's events.
    pub events: Vec<Event>,
    /// The trace's observer, if one was set (see [`crate::trace::Observer`]).
    pub observer: Option<Box<dyn crate::trace::Observer>>,
    /// The trace hash.
    pub trace_hash: u64,
    /// Network counters.
    pub network: NetworkStats,
    /// Simulated time at shutdown, nanoseconds.
    pub end_ns: u64,
}

impl std::fmt::Debug for RunRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRecord")
            .field("events", &self.events.len())
            .field("trace_hash", &self.trace_hash)
            .field("observed", &self.observer.is_some())
            .field("end_ns", &self.end_ns)
            .finish()
    }
}

impl<M: Payload> World<M> {
    /// Has `observer` read every event recorded from now on (see [`Trace::observe`]).
    pub fn observe(&self, observer: Box<dyn crate::trace::Observer>) {
        self.lock().trace.observe(observer);
    }

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

    /// Records events in the trace at the current simulated time, in order, under one
    /// lock (a member's round records several at once).
    pub fn record_all(&self, kinds: impl IntoIterator<Item = EventKind>) {
        let now = self.now_ns();
        let mut state = self.lock();
        for kind in kinds {
            state.trace.record(now, kind);
        }
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
    pub(crate) fn attach(&self, id: NodeId) -> Endpoint<M> {
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

    pub(crate) fn with_slot<T>(&self, id: NodeId, f: impl FnOnce(&mut Slot<M>) -> T) -> T {
        let mut state = self.lock();
        let slot = state
            .nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id} in this world"));
        f(slot)
    }

    pub(crate) fn madsim_handle(&self, id: NodeId) -> NodeHandle {
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
            observer: state.trace.take_observer(),
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

/// The task that carries every message in flight.
struct Router<M> {
    world: World<M>,
}

impl<M: Payload> Future for Router<M> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = self.world.now_ns();
        let mut guard = self.world.lock();
        let state = &mut *guard;
        if state.router.is_none() {
            return Poll::Ready(()); // shut down
        }
        state.in_flight.woken(now, cx.waker());
        state.deliver_due(now);
        state.in_flight.rearm(now);
        Poll::Pending
    }
}
