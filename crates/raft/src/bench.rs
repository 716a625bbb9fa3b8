//! The core's own speed, for benchmarks: entries committed per wall second by an in-memory
//! cluster with no I/O (persisting is a no-op, messages go through a queue). It is the
//! ceiling the simulated member is measured against.

use crate::{Config, RawNode};
use proto::raft::{HardState, Message};
use proto::NodeId;
use std::collections::VecDeque;

/// Commits `total` entries of 64 bytes through a 3-member cluster, proposing `batch` at a
/// time, and returns the wall seconds it took.
pub fn commit_seconds(total: u64, batch: u64) -> f64 {
    let voters: Vec<NodeId> = vec![1, 2, 3];
    let mut nodes: Vec<RawNode> = voters
        .iter()
        .map(|id| {
            RawNode::new(
                Config::new(*id, voters.clone(), *id),
                HardState::default(),
                None,
                vec![],
            )
        })
        .collect();
    let mut queue: VecDeque<Message> = VecDeque::new();
    let settle = |nodes: &mut Vec<RawNode>, queue: &mut VecDeque<Message>| loop {
        let mut busy = false;
        for n in nodes.iter_mut() {
            if n.has_ready() {
                busy = true;
                let rd = n.ready();
                queue.extend(rd.messages);
                queue.extend(rd.persisted_messages);
                n.advance();
            }
        }
        while let Some(m) = queue.pop_front() {
            busy = true;
            nodes[(m.to - 1) as usize].step(m);
        }
        if !busy {
            return;
        }
    };
    nodes[0].campaign();
    settle(&mut nodes, &mut queue);
    // Wall-clock timing is the point of a benchmark; it is outside any simulation.
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let mut proposed = 0;
    while proposed < total {
        for _ in 0..batch.min(total - proposed) {
            nodes[0].propose(vec![0u8; 64]).expect("the leader accepts");
            proposed += 1;
        }
        settle(&mut nodes, &mut queue);
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(
        nodes[0].status().committed,
        total + 1,
        "every proposal committed"
    );
    secs
}
