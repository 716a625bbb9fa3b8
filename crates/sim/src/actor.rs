//! The process of one member in the simulated world: recover from its disk, then loop
//! over ticks, messages and operator commands, publishing its status as it goes.

use crate::board::{Board, MemberList};
use crate::endpoint::Endpoint;
use crate::wire::{Control, Wire};
use disk::FaultMode;
use madsim::time::TimeHandle;
use node::{Failpoints, Halt, Node, NodeConfig, NodeError, Outgoing, Output};
use proto::trace::EventKind;
use proto::{NodeId, NO_NODE};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often (in ticks) a member republishes its metrics, which cost a copy.
const METRICS_EVERY_TICKS: u64 = 50;

fn publish<D: disk::Disk>(board: &Board, node: &Node<D>, with_digest: bool) {
    let s = node.status();
    let mut board = board.lock().unwrap_or_else(|p| p.into_inner());
    let entry = board.entry(node.id()).or_default();
    entry.role = Some(s.role);
    entry.term = s.term;
    entry.leader = s.leader;
    entry.committed = s.committed;
    entry.applied = s.applied;
    entry.last_index = s.last_index;
    entry.revision = node.store().revision();
    // The digest serializes the whole store: recompute it only when the store changed.
    if with_digest && entry.digest_applied != Some(s.applied) {
        entry.store_digest = node.store().digest();
        entry.digest_applied = Some(s.applied);
    }
}

fn publish_metrics<D: disk::Disk>(board: &Board, node: &Node<D>) {
    let mut board = board.lock().unwrap_or_else(|p| p.into_inner());
    board.entry(node.id()).or_default().metrics = node.metrics().clone();
}

/// Where a member publishes: its status board, the "publish every tick" switch, and the
/// list of members clients address (a removed member takes itself off it).
pub(crate) type Publish = (Board, Arc<AtomicBool>, MemberList);

/// The process of one member: recover, then loop over ticks and messages.
pub(crate) async fn member_actor(
    ep: Endpoint<Wire>,
    cfg: NodeConfig,
    failpoints: Failpoints,
    publish_to: Publish,
    tick: Duration,
) {
    let board = &publish_to.0;
    let mut node = match Node::open(cfg, ep.disk().clone(), failpoints) {
        Ok((node, events)) => {
            ep.record_all(events);
            node
        }
        Err(e) => {
            stop_on_storage_error(&ep, board, &e);
            return;
        }
    };
    ep.pay_disk_latency().await;
    publish(board, &node, true);
    publish_metrics(board, &node);
    let mut ticker = Ticker::new(tick);
    let mut unlisted = false;
    // One output for the whole loop, emptied each round, so that its buffers are reused.
    let mut out = Output::default();
    loop {
        out.halt = None;
        let result = {
            let recv = ep.recv();
            futures_util::pin_mut!(recv);
            match futures_util::future::select(recv, &mut ticker.alarm).await {
                futures_util::future::Either::Left(((from, wire), _)) => {
                    deliver(&mut node, ep.now_ns(), from, wire, &mut out)
                }
                futures_util::future::Either::Right(_) => {
                    let count = ticker.fired();
                    let r = node.tick(ep.now_ns(), &mut out);
                    publish(board, &node, true);
                    if count.is_multiple_of(METRICS_EVERY_TICKS)
                        || publish_to.1.load(Ordering::Relaxed)
                    {
                        publish_metrics(board, &node);
                    }
                    r
                }
            }
        };
        if let Err(e) = result {
            stop_on_storage_error(&ep, board, &e);
            return;
        }
        if !finish_round(&ep, &mut node, &mut out, &publish_to).await {
            return;
        }
        if node.has_left() && !unlisted {
            // Removed: no longer a member clients should address; its core keeps
            // answering until a member tells it it was removed.
            unlisted = true;
            mark_removed(&ep, board, &publish_to.2);
        }
        publish(board, &node, false);
    }
}

/// A member's tick: one alarm for the whole loop, which registers one timer per tick
/// however many messages wake the loop in between.
struct Ticker {
    time: TimeHandle,
    tick: Duration,
    next: madsim::time::Instant,
    alarm: crate::Alarm,
    count: u64,
}

impl Ticker {
    fn new(tick: Duration) -> Ticker {
        let time = TimeHandle::current();
        let next = time.now_instant() + tick;
        Ticker {
            alarm: crate::Alarm::at(next),
            time,
            tick,
            next,
            count: 0,
        }
    }

    /// The alarm fired: sets the next tick and returns how many ticks there have been.
    fn fired(&mut self) -> u64 {
        self.next += self.tick;
        // Ticks missed while the loop was busy (a slow disk) are dropped, as Go's ticker
        // does for etcd, rather than fired in a burst.
        let now = self.time.now_instant();
        if self.next <= now {
            self.next = now + self.tick;
        }
        self.alarm.reset(self.next);
        self.count += 1;
        self.count
    }
}

/// The end of a round: records the member's events, lets the disk's cost pass, then
/// sends its output, or halts as a failpoint asked. False when the process is over.
async fn finish_round<D: disk::Disk>(
    ep: &Endpoint<Wire>,
    node: &mut Node<D>,
    out: &mut Output,
    (board, _, addressable): &Publish,
) -> bool {
    ep.record_all(out.events.drain(..));
    // The fsync cost passes before anything that depended on it is sent.
    let owed_us = ep.pay_disk_latency().await;
    node.observe_disk_latency(owed_us);
    match out.halt {
        Some(Halt::Pause) => {
            ep.pause_self();
            // Frozen here until resumed; the output becomes visible afterwards.
            madsim::time::sleep(Duration::from_millis(1)).await;
            send_all(ep, &mut out.messages);
        }
        Some(halt @ (Halt::Crash | Halt::PowerLoss | Halt::TornCrash)) => {
            send_all(ep, &mut out.messages);
            let mode = match halt {
                Halt::PowerLoss => Some(FaultMode::DropAll),
                Halt::TornCrash => Some(FaultMode::TornPrefix),
                _ => None,
            };
            ep.crash_self(mode);
            std::future::pending::<()>().await;
        }
        Some(Halt::Removed) => {
            send_all(ep, &mut out.messages);
            mark_removed(ep, board, addressable);
            return false;
        }
        None => send_all(ep, &mut out.messages),
    }
    true
}

/// Hands one arrival (from member, client or operator) to the member.
fn deliver<D: disk::Disk>(
    node: &mut Node<D>,
    now: u64,
    from: NodeId,
    wire: Wire,
    out: &mut Output,
) -> Result<(), NodeError> {
    match wire {
        Wire::Raft(m) => node.step(now, *m, out),
        Wire::Request(r) => node.request(now, from, r, out),
        Wire::Response(_) => Ok(()), // members never wait on responses
        Wire::Control(Control::Campaign) => node.campaign(now, out),
        Wire::Control(Control::TransferLeader(to)) => node.transfer_leader(now, to, out),
        // A refused change is noted in the trace by the member.
        Wire::Control(Control::ConfChange(cc)) => node.conf_change(now, &cc, out).map(|_| ()),
        Wire::Removed => {
            node.told_removed(out);
            Ok(())
        }
    }
}

fn send_all(ep: &Endpoint<Wire>, messages: &mut Vec<Outgoing>) {
    for m in messages.drain(..) {
        match m {
            Outgoing::Raft(msg) => ep.send(msg.to, Wire::Raft(Box::new(msg))),
            Outgoing::Reply { to, response } => ep.send(to, Wire::Response(response)),
            Outgoing::Removed { to } => ep.send(to, Wire::Removed),
        }
    }
}

/// A removed member leaves the clients' list and publishes no role.
fn mark_removed(ep: &Endpoint<Wire>, board: &Board, addressable: &MemberList) {
    addressable.remove(ep.id());
    let mut board = board.lock().unwrap_or_else(|p| p.into_inner());
    let entry = board.entry(ep.id()).or_default();
    entry.removed = true;
    entry.role = None;
    entry.leader = NO_NODE;
}

fn stop_on_storage_error(ep: &Endpoint<Wire>, board: &Board, e: &node::NodeError) {
    let text = format!("storage error, the member stops: {e}");
    ep.record(EventKind::Stopped {
        node: ep.id(),
        reason: e.to_string(),
        corrupt: e.is_corruption(),
    });
    let mut board = board.lock().unwrap_or_else(|p| p.into_inner());
    let entry = board.entry(ep.id()).or_default();
    entry.stopped = Some(text);
    entry.role = None;
    entry.leader = NO_NODE;
}
