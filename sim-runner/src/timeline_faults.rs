//! The scenario's faults carried out on the cluster: disk damage, members brought back,
//! operator commands, partitions and filters, failpoints, network and disk settings.

use crate::timeline::Timeline;
use disk::Damage;
use node::{FailAction, Failpoint};
use proto::NodeId;
use scenario::{DiskChange, MessageFilter, NetworkChange, NodeRef};
use sim::cluster::OPERATOR;
use sim::{Control, Filter, Wire};
use std::collections::BTreeSet;

impl Timeline {
    /// Damages synced data on `node`'s disk (any of its files); it must be down.
    pub(crate) fn damage(&self, node: NodeId, kind: Damage) -> Result<(), String> {
        let world = &self.cluster.world;
        if world.is_up(node) {
            return Err(format!(
                "member {node} is up: damage a stopped member's disk (crash it first)"
            ));
        }
        if world.damage(node, kind, |_| true) {
            Ok(())
        } else {
            Err(format!("member {node}'s disk has no data to damage"))
        }
    }

    pub(crate) fn recover(&self, r: &NodeRef) -> Result<(), String> {
        let world = &self.cluster.world;
        for n in self.resolve(r)? {
            if !world.is_up(n) {
                world.restart(n);
            } else if world.is_paused(n) {
                world.resume(n);
            }
        }
        Ok(())
    }

    pub(crate) fn control(&self, node: NodeId, control: Control) -> Result<(), String> {
        if self
            .cluster
            .world
            .inject(OPERATOR, node, Wire::Control(control))
        {
            Ok(())
        } else {
            Err(format!("node {node} is down"))
        }
    }

    /// A partition's groups as members, "others" filled in with every member not named.
    pub(crate) fn groups(&self, groups: &[Vec<NodeRef>]) -> Result<Vec<Vec<NodeId>>, String> {
        let mut resolved: Vec<Vec<NodeId>> = Vec::new();
        let mut others_at = None;
        for (i, g) in groups.iter().enumerate() {
            let mut members = Vec::new();
            for r in g {
                if *r == NodeRef::Others {
                    others_at = Some(i);
                } else {
                    members.extend(self.resolve(r)?);
                }
            }
            resolved.push(members);
        }
        if let Some(i) = others_at {
            let named: BTreeSet<NodeId> = resolved.iter().flatten().copied().collect();
            resolved[i].extend(self.members().into_iter().filter(|m| !named.contains(m)));
        }
        for g in &mut resolved {
            g.sort_unstable();
            g.dedup();
        }
        Ok(resolved)
    }

    pub(crate) fn filter(&self, f: &MessageFilter, hold: bool) -> Result<(), String> {
        let side = |r: &Option<NodeRef>| -> Result<Vec<Option<NodeId>>, String> {
            match r {
                Some(r) => Ok(self.resolve(r)?.into_iter().map(Some).collect()),
                None => Ok(vec![None]),
            }
        };
        for from in side(&f.from)? {
            for to in side(&f.to)? {
                self.cluster.world.add_filter(Filter {
                    kind: f.kind.map(|k| k.0),
                    from,
                    to,
                    remaining: f.count,
                    current_term_entries: f.current_term_entries,
                    pass_first: f.pass_first.unwrap_or(0),
                    hold,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn arm(
        &self,
        node: Option<NodeId>,
        name: &str,
        action: FailAction,
        count: Option<u64>,
    ) -> Result<(), String> {
        let point =
            Failpoint::from_name(name).ok_or_else(|| format!("unknown failpoint {name:?}"))?;
        let count = u32::try_from(count.unwrap_or(1)).unwrap_or(u32::MAX);
        self.cluster
            .failpoints
            .arm(node, point, action, Some(count));
        Ok(())
    }

    pub(crate) fn network(&self, c: &NetworkChange) {
        let world = &self.cluster.world;
        let mut n = world.network();
        n.loss_ppm = c.loss_ppm.unwrap_or(n.loss_ppm);
        n.duplicate_ppm = c.duplicate_ppm.unwrap_or(n.duplicate_ppm);
        n.latency_min_us = c.latency_min_us.unwrap_or(n.latency_min_us);
        n.latency_max_us = c.latency_max_us.unwrap_or(n.latency_max_us);
        world.set_network(n);
    }

    pub(crate) fn disk(&self, c: &DiskChange) {
        let mut d = self.disk.clone();
        d.slow_sync_ppm = c.slow_sync_ppm.unwrap_or(d.slow_sync_ppm);
        d.slow_sync_us = c.slow_sync_us.unwrap_or(d.slow_sync_us);
        d.sync_latency_us = c.sync_latency_us.unwrap_or(d.sync_latency_us);
        self.cluster.world.set_disk_faults(d);
    }
}
