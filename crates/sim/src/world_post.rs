//! The world's post: a message's fate decided at send time, the flights scheduled after
//! their drawn latency, and the delivery of those that fell due (the router task calls
//! [`State::deliver_due`] at each wake-up).

use crate::inflight::Flight;
use crate::net::Verdict;
use crate::world::{Payload, State, World};
use proto::trace::{DropReason, EventKind};
use proto::NodeId;
use std::sync::atomic::{AtomicU64, Ordering};

/// Busy work per message sent, for testing the speed guard (see [`plant_slowdown`]).
static PLANTED_SPIN: AtomicU64 = AtomicU64::new(0);

/// Plants a slowdown: every message sent first spins `iterations` times (0: none). It
/// changes wall time only, never what a run does; the speed guard's test uses it to
/// show that the guard fails on a slower testbed.
pub fn plant_slowdown(iterations: u64) {
    PLANTED_SPIN.store(iterations, Ordering::Relaxed);
}

fn planted_slowdown() {
    let n = PLANTED_SPIN.load(Ordering::Relaxed);
    let mut x = 0u64;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    std::hint::black_box(x);
}

impl<M: Payload> World<M> {
    pub(crate) fn send(&self, from: NodeId, to: NodeId, msg: M) {
        planted_slowdown();
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
