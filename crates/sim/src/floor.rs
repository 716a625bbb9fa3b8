//! The simulator's own floor: a bare madsim program, with none of our code on the message
//! path (no Raft, no world, no trace), delivering messages among nodes through madsim's
//! `Endpoint`. Benchmarks quote the testbed's cost per message as a ratio to this.

use madsim::net::Endpoint;
use madsim::runtime::Handle;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn addr(i: u64) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8)), 7000)
}

/// Runs `nodes` bare madsim nodes for `duration_ms` of simulated time, each sending a
/// message to the next node as fast as madsim lets it, and returns the messages delivered.
/// Call inside `sim::run`.
pub async fn bare_madsim(nodes: u64, duration_ms: u64) -> u64 {
    let delivered = Arc::new(AtomicU64::new(0));
    let handle = Handle::current();
    let mut ids = Vec::new();
    for i in 1..=nodes {
        let delivered = delivered.clone();
        let node = handle
            .create_node()
            .name(format!("bare{i}"))
            .ip(addr(i).ip())
            .init(move || {
                let delivered = delivered.clone();
                async move {
                    let ep = Arc::new(Endpoint::bind(addr(i)).await.expect("bind"));
                    let receiver = ep.clone();
                    madsim::task::spawn(async move {
                        while receiver.recv_from_raw(0).await.is_ok() {
                            delivered.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                    let to = addr(i % nodes + 1);
                    loop {
                        if ep.send_to_raw(to, 0, Box::new(i)).await.is_err() {
                            break;
                        }
                    }
                }
            })
            .build();
        ids.push(node.id());
    }
    madsim::time::sleep(Duration::from_millis(duration_ms)).await;
    for id in ids {
        handle.kill(id);
    }
    delivered.load(Ordering::Relaxed)
}
