//! Messages in flight (see the `world` module's docs): flights in reusable slots, a
//! due-time queue, and exact wake-ups of the task that carries them from madsim's timer.

use proto::trace::MessageSummary;
use proto::NodeId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Duration;

/// A message on its way.
#[derive(Clone)]
pub(crate) struct Flight<M> {
    pub(crate) from: NodeId,
    pub(crate) to: NodeId,
    pub(crate) msg: M,
    pub(crate) summary: MessageSummary,
}

/// The messages in flight, earliest due first.
pub(crate) struct InFlight<M> {
    /// Flights in slots that are reused (a message is large; the queue below moves only
    /// small keys).
    flights: Vec<Option<Flight<M>>>,
    /// Free slots of `flights`.
    free_slots: Vec<usize>,
    /// The flights by (due time in ns, sequence number, slot), earliest first: they are
    /// delivered in this order, so messages due at the same instant arrive in the order
    /// they were sent.
    due: BinaryHeap<Reverse<(u64, u64, usize)>>,
    /// The next flight's sequence number.
    next_flight: u64,
    /// Due times (ns) at which the router has asked to be woken and that have not passed,
    /// earliest first.
    wakeups: BinaryHeap<Reverse<u64>>,
    /// The router task's waker, once it has run.
    router_waker: Option<Waker>,
    /// Asks madsim's timer for the router's wake-ups.
    alarm: crate::alarm::WakeUps,
}

impl<M> InFlight<M> {
    pub(crate) fn new() -> InFlight<M> {
        InFlight {
            flights: Vec::new(),
            free_slots: Vec::new(),
            due: BinaryHeap::new(),
            next_flight: 0,
            wakeups: BinaryHeap::new(),
            router_waker: None,
            alarm: crate::alarm::WakeUps::default(),
        }
    }

    /// Puts `flight` in flight, due at `due` (ns), and makes sure the router wakes by then.
    pub(crate) fn push(&mut self, now: u64, due: u64, flight: Flight<M>) {
        let seq = self.next_flight;
        self.next_flight += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.flights[slot] = Some(flight);
                slot
            }
            None => {
                self.flights.push(Some(flight));
                self.flights.len() - 1
            }
        };
        self.due.push(Reverse((due, seq, slot)));
        self.wake_router_by(now, due);
    }

    /// The earliest flight due by `now`, taken out.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<Flight<M>> {
        let &Reverse((due, _, slot)) = self.due.peek()?;
        if due > now {
            return None;
        }
        self.due.pop();
        self.free_slots.push(slot);
        Some(
            self.flights[slot]
                .take()
                .expect("a queued flight's slot is full"),
        )
    }

    /// Asks madsim's timer to wake the router at `due` (ns), unless a wake-up at or before
    /// it is already set. Before the router's first run there is no waker; it sets its own
    /// wake-up when it runs.
    fn wake_router_by(&mut self, now: u64, due: u64) {
        if self.wakeups.peek().is_some_and(|first| first.0 <= due) {
            return;
        }
        let Some(waker) = &self.router_waker else {
            return;
        };
        self.alarm
            .wake_after(Duration::from_nanos(due - now), waker);
        self.wakeups.push(Reverse(due));
    }

    /// The router task woke at `now` with `waker`: keeps the waker, and forgets the
    /// wake-ups that have passed.
    pub(crate) fn woken(&mut self, now: u64, waker: &Waker) {
        if !self
            .router_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            self.router_waker = Some(waker.clone());
        }
        while self.wakeups.peek().is_some_and(|t| t.0 <= now) {
            self.wakeups.pop();
        }
    }

    /// After a delivery round at `now`: makes sure the router wakes when the earliest
    /// flight still in flight falls due.
    pub(crate) fn rearm(&mut self, now: u64) {
        if let Some(&Reverse((due, _, _))) = self.due.peek() {
            self.wake_router_by(now, due);
        }
    }

    /// Drops every flight (at shutdown), so nothing keeps the killed nodes' memory alive.
    pub(crate) fn clear(&mut self) {
        self.flights.clear();
        self.free_slots.clear();
        self.due.clear();
        self.router_waker = None;
        self.alarm = crate::alarm::WakeUps::default();
    }
}
