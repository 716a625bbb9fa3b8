//! Bounds and consistency rules for a scenario's sections, checked before any run so that
//! a bad value is an error with its line, never a hang, a panic inside the run or a
//! silent surprise. The cluster's own rules are the simulator's
//! ([`config::ClusterConfig::validate`], which runs the Raft core's validation).

use crate::schema::*;

/// The longest simulated run, milliseconds (one hour).
pub const MAX_DURATION_MS: u64 = 3_600_000;
/// The most concurrent clients.
pub const MAX_CLIENTS: u64 = 1_000;
/// The most keys.
pub const MAX_KEYS: u64 = 100_000;
/// The longest one-way latency, microseconds (one minute).
pub const MAX_LATENCY_US: u64 = 60_000_000;
/// A probability in parts per million is at most this.
const CERTAIN_PPM: u32 = 1_000_000;

/// A rule broken: the key it is about (to find its line) and what is wrong.
pub(crate) type Broken = (&'static str, String);

fn check(ok: bool, key: &'static str, message: impl FnOnce() -> String) -> Result<(), Broken> {
    if ok {
        Ok(())
    } else {
        Err((key, message()))
    }
}

fn probability(key: &'static str, ppm: u32) -> Result<(), Broken> {
    check(ppm <= CERTAIN_PPM, key, || {
        format!("{key} is a probability in parts per million: at most {CERTAIN_PPM}")
    })
}

/// Every rule on the sections (not the steps).
pub(crate) fn sections(s: &Scenario) -> Result<(), Broken> {
    check(s.duration_ms > 0, "duration_ms", || {
        "duration_ms must be positive".into()
    })?;
    check(s.duration_ms <= MAX_DURATION_MS, "duration_ms", || {
        format!(
            "duration_ms = {} is over the maximum of {MAX_DURATION_MS} (one simulated hour)",
            s.duration_ms
        )
    })?;
    s.cluster.validate()?;
    network(&s.network)?;
    probability("slow_sync_ppm", s.disk.slow_sync_ppm)?;
    probability("read_corrupt_ppm", s.disk.read_corrupt_ppm)?;
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

fn network(n: &NetworkFaults) -> Result<(), Broken> {
    probability("loss_ppm", n.loss_ppm)?;
    probability("duplicate_ppm", n.duplicate_ppm)?;
    let (lo, hi) = (n.latency_min_us, n.latency_max_us);
    check(lo <= hi, "latency_min_us", || {
        format!("latency_min_us ({lo}) is above latency_max_us ({hi})")
    })?;
    check(hi <= MAX_LATENCY_US, "latency_max_us", || {
        format!("latency_max_us must be at most {MAX_LATENCY_US} (one minute)")
    })
}

fn workload(w: &Workload, duration_ms: u64) -> Result<(), Broken> {
    check(w.clients <= MAX_CLIENTS, "clients", || {
        format!("clients must be at most {MAX_CLIENTS}")
    })?;
    check((1..=MAX_KEYS).contains(&w.keys), "keys", || {
        format!("keys must be 1 to {MAX_KEYS}")
    })?;
    let m = &w.mix;
    let weights = m.weights();
    check(
        weights.iter().map(|w| u64::from(*w)).sum::<u64>() > 0,
        "mix",
        || "the mix gives every operation weight 0".into(),
    )?;
    check(w.request_timeout_ms > 0, "request_timeout_ms", || {
        "request_timeout_ms must be positive".into()
    })?;
    check(w.op_timeout_ms > 0, "op_timeout_ms", || {
        "op_timeout_ms must be positive".into()
    })?;
    let start = w.start_ms;
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
    } else if w.clients > 0 {
        let stop = default_stop_ms(duration_ms);
        check(stop > start, "[workload]", || {
            format!(
                "the workload would issue nothing: stop_ms defaults to duration_ms - 3000 = {stop}, not after start_ms ({start}); set stop_ms or a longer duration_ms"
            )
        })?;
    }
    Ok(())
}
