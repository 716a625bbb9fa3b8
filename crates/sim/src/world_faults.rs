//! Faults the world injects on request: into nodes (crash, power loss, damage, wipe,
//! restart, pause), into disks and into the network (partitions, cuts, random faults,
//! filters).

use crate::net::Filter;
use crate::world::{Payload, World};
use config::NetworkFaults;
use disk::{Damage, DiskFaults, FaultMode, SimDisk};
use madsim::runtime::Handle;
use proto::trace::EventKind;
use proto::NodeId;

impl<M: Payload> World<M> {
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
}
