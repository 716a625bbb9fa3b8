//! Bounds and consistency rules for a scenario's settings, checked before any run so that
//! a bad value is an error with its line, never a hang, a panic inside the run or a
//! silent surprise.

use crate::schema::*;

/// The longest simulated run, milliseconds (one hour).
pub const MAX_DURATION_MS: u64 = 3_600_000;
/// The most concurrent clients.
pub const MAX_CLIENTS: u64 = 1_000;
/// The most keys.
pub const MAX_KEYS: u64 = 100_000;
/// The longest one-way latency, microseconds (one minute).
pub const MAX_LATENCY_US: u64 = 60_000_000;
/// The simulator's default heartbeat interval, ticks (kept equal to
/// `sim::ClusterConfig::default()` by a test).
pub const DEFAULT_HEARTBEAT_TICKS: u64 = 1;
/// The simulator's default election timeout, ticks (likewise).
pub const DEFAULT_ELECTION_TICKS: u64 = 10;

/// A rule broken: the key it is about (to find its line) and what is wrong.
pub(crate) type Broken = (&'static str, String);

fn check(ok: bool, key: &'static str, message: impl FnOnce() -> String) -> Result<(), Broken> {
    if ok {
        Ok(())
    } else {
        Err((key, message()))
    }
}

/// Every rule on the sections (not the steps).
pub(crate) fn sections(s: &Scenario) -> Result<(), Broken> {
    check(s.duration_ms <= MAX_DURATION_MS, "duration_ms", || {
        format!(
            "duration_ms = {} is over the maximum of {MAX_DURATION_MS} (one simulated hour)",
            s.duration_ms
        )
    })?;
    cluster(&s.cluster)?;
    network(&s.network)?;
    check(
        s.disk.slow_sync_ppm.unwrap_or(0) <= 1_000_000,
        "slow_sync_ppm",
        || "slow_sync_ppm is a probability in parts per million: at most 1000000".into(),
    )?;
    if let Some(w) = &s.workload {
        workload(w, s.duration_ms)?;
    }
    if let Some(c) = &s.chaos {
        check(
            c.faults_until_ms <= s.duration_ms,
            "faults_until_ms",
            || {
                format!(
                    "faults_until_ms = {} is after the end of the run ({} ms)",
                    c.faults_until_ms, s.duration_ms
                )
            },
        )?;
        check(c.mean_gap_ms != Some(0), "mean_gap_ms", || {
            "mean_gap_ms must be positive".into()
        })?;
    }
    Ok(())
}

fn cluster(c: &ClusterSection) -> Result<(), Broken> {
    let e = c.election_ticks.unwrap_or(DEFAULT_ELECTION_TICKS);
    let h = c.heartbeat_ticks.unwrap_or(DEFAULT_HEARTBEAT_TICKS);
    check(h > 0 && h < e, "election_ticks", || {
        format!(
            "need 0 < heartbeat_ticks ({h}{}) < election_ticks ({e}{})",
            if c.heartbeat_ticks.is_none() {
                ", the default"
            } else {
                ""
            },
            if c.election_ticks.is_none() {
                ", the default"
            } else {
                ""
            }
        )
    })?;
    check(e <= 10_000, "election_ticks", || {
        "election_ticks must be at most 10000".into()
    })?;
    check(c.tick_ms.unwrap_or(10) <= 10_000, "tick_ms", || {
        "tick_ms must be at most 10000".into()
    })?;
    check(
        c.wal_segment_bytes.is_none_or(|b| b >= 1_024),
        "wal_segment_bytes",
        || "wal_segment_bytes must be at least 1024".into(),
    )?;
    check(c.max_append_bytes != Some(0), "max_append_bytes", || {
        "max_append_bytes must be at least 1 (1: one entry per message)".into()
    })
}

fn network(n: &NetworkSection) -> Result<(), Broken> {
    for (key, ppm) in [("loss_ppm", n.loss_ppm), ("duplicate_ppm", n.duplicate_ppm)] {
        check(ppm.unwrap_or(0) <= 1_000_000, key, || {
            format!("{key} is a probability in parts per million: at most 1000000")
        })?;
    }
    let (lo, hi) = (
        n.latency_min_us.unwrap_or(1_000),
        n.latency_max_us.unwrap_or(5_000),
    );
    check(lo <= hi, "latency_min_us", || {
        format!("latency_min_us ({lo}) is above latency_max_us ({hi})")
    })?;
    check(hi <= MAX_LATENCY_US, "latency_max_us", || {
        format!("latency_max_us must be at most {MAX_LATENCY_US} (one minute)")
    })
}

fn workload(w: &WorkloadSection, duration_ms: u64) -> Result<(), Broken> {
    check(w.clients.unwrap_or(0) <= MAX_CLIENTS, "clients", || {
        format!("clients must be at most {MAX_CLIENTS}")
    })?;
    check(w.keys.unwrap_or(1) <= MAX_KEYS, "keys", || {
        format!("keys must be at most {MAX_KEYS}")
    })?;
    for (key, v) in [
        ("request_timeout_ms", w.request_timeout_ms),
        ("op_timeout_ms", w.op_timeout_ms),
    ] {
        check(v != Some(0), key, || format!("{key} must be positive"))?;
    }
    let start = w.start_ms.unwrap_or(500);
    check(start < duration_ms, "start_ms", || {
        format!("start_ms = {start} is not before the end of the run ({duration_ms} ms)")
    })?;
    if let Some(stop) = w.stop_ms {
        check(stop > start, "stop_ms", || {
            format!(
                "stop_ms ({stop}) must be after start_ms ({start}): no operation would be issued"
            )
        })?;
        check(stop <= duration_ms, "stop_ms", || {
            format!("stop_ms = {stop} is after the end of the run ({duration_ms} ms)")
        })?;
    } else if w.clients != Some(0) {
        // The default stop leaves the last 3 s for the cluster to settle.
        let stop = duration_ms.saturating_sub(3_000);
        check(stop > start, "[workload]", || {
            format!(
                "the workload would issue nothing: stop_ms defaults to duration_ms - 3000 = {stop}, not after start_ms ({start}); set stop_ms or a longer duration_ms"
            )
        })?;
    }
    Ok(())
}

/// The rules on one step that need no other step: times within the run, a partition's
/// groups, cuts and transfers between two different members.
pub(crate) fn step(s: &Step, duration_ms: u64) -> Result<(), String> {
    if let Some(t) = s.after_ms {
        if t > duration_ms {
            return Err(format!(
                "after_ms = {t} is longer than the whole run ({duration_ms} ms)"
            ));
        }
    }
    if let Some(groups) = &s.groups {
        if groups.iter().any(|g| g.is_empty()) {
            return Err("a partition group is empty".into());
        }
        let mut seen: Vec<&NodeRef> = Vec::new();
        for r in groups.iter().flatten() {
            if seen.contains(&r) {
                return Err(format!("{} is in two partition groups", describe(r)));
            }
            seen.push(r);
        }
    }
    let same = |a: &Option<NodeRef>, b: &Option<NodeRef>| matches!((a, b), (Some(NodeRef::Id(x)), Some(NodeRef::Id(y))) if x == y);
    if s.action == "cut" && same(&s.from, &s.to) {
        return Err("a cut from a member to itself cuts nothing".into());
    }
    if s.action == "transfer" && same(&s.node, &s.to) {
        return Err("a transfer from a member to itself moves nothing".into());
    }
    Ok(())
}

fn describe(r: &NodeRef) -> String {
    match r {
        NodeRef::Id(id) => format!("member {id}"),
        NodeRef::Name(n) => format!("{n:?}"),
    }
}
